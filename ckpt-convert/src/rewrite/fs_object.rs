//! FsObject, step 76fcfe5 -> c97c03d: every task refers to an FS object holding its
//! umask, working directory and root directory.
//!
//! Upgrading, the source holds no FS object: one is inserted per thread group (threads
//! share their fs_struct) before the group leader's TASK_OBJS, with the paths the user
//! supplies (`--cwd`, `--root`; refused, naming the options, without them) and the
//! documented umask, and TASK_OBJS gets `fs_objref`. Downgrading, the FS objects (OBJREF,
//! FS and its two FILE_NAME payloads) are removed.

use crate::steps;

/// The umask given to FS objects that the source lacks: the default of the member.
pub(super) fn fs_umask() -> u64 {
    steps::default_of("ckpt_hdr_fs", "umask").map_or(0, |d| d.value)
}
