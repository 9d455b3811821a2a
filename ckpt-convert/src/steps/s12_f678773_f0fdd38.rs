//! v21-arm (f678773, 2010-06-17) ↔ v23-rc1 (f0fdd38, 2011-01-05), both v6.
//!
//! From the headers (high): TASK_SEM_UNDO_LIST = 506, TASK_SEM_UNDO = 507 and object
//! SEM_UNDO are appended; `task_objs` gains `sem_undo_objref` (0: no undo list, high);
//! `task` gains `sas_ss_sp`/`sas_ss_size` (0: no alternate signal stack, which is what the
//! older kernel restores: medium); x86 `thread` gains `sysenter_return` (0: the kernel
//! sets it from the vdso on return, medium); `fs` gains `umask` (no older image records
//! it: default 022, low); `socket` gains `has_buffers`.
//!
//! `ckpt_siginfo`, the element of the SIGPENDING array, is redefined (48→88 bytes, 17
//! `csi_*` members). The nine members the old struct had are renamed with the same
//! meaning (data below: high, from the two headers); the eight new ones (`csi_fd`,
//! `csi_tid`, `csi_band`, `csi_overrun`, `csi_trapno`, `csi_status`, `csi_addr`,
//! `csi_sys_private`) get 0 going up, which is what the older kernel restored, and are
//! dropped going down (lossy when not 0).
//!
//! `socket.has_buffers` is new: the queues follow only when it is set (inferred,
//! grammar-research.md section 1a, low). Older kernels wrote the queues of every socket
//! but a listening one, so an upgrade sets it to 1 unless `sock.state` is TCP_LISTEN
//! (10), and a downgrade drops it without loss when it agrees with that rule.
//!
//! Structural: unix sockets replace `peercred_uid`/`peercred_gid` by `peercred`, a
//! reference to a CRED object. An upgrade points it at the image's CRED object with that
//! uid and gid (the peer's credentials are a task's, written before its files); a
//! downgrade writes the uid and gid of the CRED it refers to. When no such CRED precedes
//! the socket, the conversion is refused (ckpt does not make up a credentials object).

use super::{Carry, Change, Confidence, Default, Rename, Rewrite, Step};

/// The step.
pub static STEP: Step = Step {
    older: "f678773",
    newer: "f0fdd38",
    changes: &[
        Change {
            rewrite: Rewrite::SocketHasBuffers,
            subject: "SOCKET.has_buffers",
            up: Carry::Defaulted,
            down: Carry::Lossless,
            confidence: Confidence::Low,
            why: "f0fdd38 writes the queues only when has_buffers is set; older kernels wrote \
                  them for every socket that is not listening",
        },
        Change {
            rewrite: Rewrite::UnixPeerCredentials,
            subject: "SOCKET_UNIX.peercred <-> peercred_uid, peercred_gid",
            up: Carry::Lossless,
            down: Carry::Lossless,
            confidence: Confidence::Medium,
            why: "f0fdd38 makes unix peer credentials a CRED reference; refused when no CRED of \
              that uid and gid precedes the socket",
        },
    ],
    defaults: &[Default {
        struct_name: "ckpt_hdr_fs",
        member: "umask",
        value: 0o022,
        shown: "022",
        confidence: Confidence::Low,
        why: "the usual umask; images before v23-rc1 (f0fdd38) do not record it",
    }],
    renames: &[
        Rename {
            struct_name: "ckpt_siginfo",
            older: "signo",
            newer: "csi_signo",
        },
        Rename {
            struct_name: "ckpt_siginfo",
            older: "_errno",
            newer: "csi_errno",
        },
        Rename {
            struct_name: "ckpt_siginfo",
            older: "code",
            newer: "csi_code",
        },
        Rename {
            struct_name: "ckpt_siginfo",
            older: "pid",
            newer: "csi_pid",
        },
        Rename {
            struct_name: "ckpt_siginfo",
            older: "uid",
            newer: "csi_uid",
        },
        Rename {
            struct_name: "ckpt_siginfo",
            older: "sigval_int",
            newer: "csi_int",
        },
        Rename {
            struct_name: "ckpt_siginfo",
            older: "sigval_ptr",
            newer: "csi_ptr",
        },
        Rename {
            struct_name: "ckpt_siginfo",
            older: "utime",
            newer: "csi_utime",
        },
        Rename {
            struct_name: "ckpt_siginfo",
            older: "stime",
            newer: "csi_stime",
        },
    ],
};
