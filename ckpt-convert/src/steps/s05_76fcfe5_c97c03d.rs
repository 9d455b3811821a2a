//! v19-rc2.x86_64 (76fcfe5, 2009-12-06, v4) ↔ v19-rc3 (c97c03d, 2010-02-05, v5).
//!
//! From the headers (high): MNT_NS = 111 is inserted (CAPABILITIES..TASK_CREDS move +1),
//! FS = 451 is new; objects FS = 5 and MNT_NS = 11 are inserted (SIGHAND..SECURITY move);
//! arch ids are renumbered (X86_64 5→2, S390X 2→3, PPC32 3→4, PPC64 4→5);
//! `task_objs` gains `fs_objref` @16; the x86 CPU record drops six debug registers
//! (240→192: a downgrade writes them as 0, an upgrade drops them, lossy when not 0);
//! `msg_msg.m_type` s32→s64. All mechanical.
//!
//! Structural: every task needs an FS object (OBJREF FS, FS, FILE_NAME cwd, FILE_NAME
//! root) before its TASK_OBJS, which older images do not hold. An upgrade takes the paths
//! from `--cwd`/`--root` (for all tasks, or `PID=PATH` per task; one FS object per thread
//! group) and refuses without them; a downgrade removes the FS objects (lossy: the paths
//! are dropped).

use super::{Carry, Change, Confidence, Rewrite, Step};

/// The step.
pub static STEP: Step = Step {
    older: "76fcfe5",
    newer: "c97c03d",
    changes: &[Change {
        rewrite: Rewrite::FsObject,
        subject: "OBJREF FS, FS, FILE_NAME cwd, FILE_NAME root; TASK_OBJS.fs_objref",
        up: Carry::Supplied,
        down: Carry::Lossy,
        confidence: Confidence::High,
        why: "c97c03d checkpoints each task's fs_struct (working and root directory); an \
              older image has no record of them",
    }],
    defaults: &[],
    renames: &[],
};
