//! v21-arm (f678773, 2010-06-17) ↔ v23-rc1 (f0fdd38, 2011-01-05), both v6.
//!
//! From the headers (high): TASK_SEM_UNDO_LIST = 506, TASK_SEM_UNDO = 507 and object
//! SEM_UNDO are appended; `task_objs` gains `sem_undo_objref` (0: no undo list, high);
//! `task` gains `sas_ss_sp`/`sas_ss_size` (0: no alternate signal stack, which is what the
//! older kernel restores: medium); x86 `thread` gains `sysenter_return` (0: the kernel
//! sets it from the vdso on return, medium); `fs` gains `umask` (no older image records
//! it: default 022, low); `socket` gains `has_buffers`.
//!
//! Structural: `ckpt_siginfo` is redefined (48→88 bytes, 17 `csi_*` members) and unix
//! sockets replace `peercred_uid`/`peercred_gid` by a credentials reference, which the
//! names cannot map. Pending signals with a siginfo and sockets are refused both ways.

use super::{Carry, Change, Confidence, Default, Rewrite, Step};

/// The step.
pub static STEP: Step = Step {
    older: "f678773",
    newer: "f0fdd38",
    changes: &[Change {
        rewrite: Rewrite::SiginfoAndUnixPeer,
        subject: "SIGPENDING with pending signals; SOCKET (unix peer credentials)",
        up: Carry::Refused,
        down: Carry::Refused,
        confidence: Confidence::High,
        why: "f0fdd38 redefines ckpt_siginfo and makes unix peer credentials a CRED reference",
    }],
    defaults: &[Default {
        struct_name: "ckpt_hdr_fs",
        member: "umask",
        value: 0o022,
        shown: "022",
        confidence: Confidence::Low,
        why: "the usual umask; images before v23-rc1 (f0fdd38) do not record it",
    }],
};
