//! pre-v19.c (d55d4c8, 2009-11-11) ↔ v19-rc2 (db94f5e, 2009-12-01), both v4.
//!
//! From the headers (high): SOCKET_FRAG = 704 is inserted, so SOCKET_UNIX 704→705 and
//! SOCKET_INET 705→706 (renumbered without a version bump). `ckpt_hdr_socket_buffer`
//! goes 16→104 bytes and `ckpt_hdr_socket_inet` 48→328 (TCP state, addresses, icsk).
//!
//! Structural:
//! * Socket buffers and INET sockets cannot be field-mapped: TCP sequence numbers,
//!   windows and timers would have to be made up, and the socket queue payload changed
//!   shape (fragments). Refused when the image has any (it never invents data).
//! * The per-task order changed in v19-rc1 ("Restore thread/cpu state early"): v18 writes
//!   a task's objects before THREAD, RESTART_BLOCK and CPU, v19 after (medium:
//!   grammar-research.md section 2; whether d55d4c8 already had the reorder is unresolved,
//!   and ckpt reads pre-v19 snapshots in v18 order). The converter moves the records:
//!   upgrading spills the task's objects (pages included) to a temporary file until its
//!   CPU records are written, so memory does not grow with page contents; downgrading
//!   holds the few THREAD/CPU records until the objects are out. Lossless both ways.

use super::{Carry, Change, Confidence, Rewrite, Step};

/// The step.
pub static STEP: Step = Step {
    older: "d55d4c8",
    newer: "db94f5e",
    changes: &[
        Change {
            rewrite: Rewrite::SocketBuffers,
            subject: "SOCKET_BUFFER, SOCKET_INET",
            up: Carry::Refused,
            down: Carry::Refused,
            confidence: Confidence::High,
            why: "db94f5e rewrites the socket buffer (16 -> 104 bytes, fragments) and the INET \
                  socket (48 -> 328 bytes, TCP state); TCP state cannot be made up or dropped",
        },
        Change {
            rewrite: Rewrite::TaskOrder,
            subject: "THREAD, RESTART_BLOCK, CPU, CPU_FPU of every task",
            up: Carry::Lossless,
            down: Carry::Lossless,
            confidence: Confidence::Medium,
            why: "v19-rc1 restores thread and CPU state before the task's objects; v18 after",
        },
    ],
    defaults: &[],
    renames: &[],
};
