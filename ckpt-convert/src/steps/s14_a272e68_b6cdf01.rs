//! v23-rc1.tty (a272e68, 2011-01-10) ↔ v23-rc1.pids (b6cdf01, 2011-01-25), both v6:
//! "support for pids objects".
//!
//! From the headers (high): PIDS = 101 takes the first 1xx slot (TREE..TASK_CREDS move
//! +1); OBJ_PID = 1 is inserted (every other object type moves +1); CKPT_PID_NULL goes
//! −1 → −4096 and CKPT_PID_ROOT = −4097 is new.
//!
//! Structural, the largest change of the series:
//! * b6cdf01 writes a PIDS section before the tree: PIDS {nr_pids, nr_vpids, offset} and a
//!   BUFFER of {depth, numbers[depth + 1]} entries, one per pid object; pid objects are
//!   registered per task in the order pid, tgid, pgid, sid and take the first tags
//!   (grammar.md; user-cr 4dfdb7e). The tree BUFFER then holds `ckpt_task_pids` whose pid
//!   members are tags (0: outside the namespace), and the nested-numbers BUFFER is gone.
//! * Upgrade: the pid objects are built from the tree (numbers in the root namespace,
//!   nested numbers from the vpids BUFFER), tags 1..n with offset 0 as a subtree
//!   checkpoint writes them, and every other object's tag moves up by n (restart only
//!   needs tags to be consistent). A parent pid outside the tree becomes 0 (dropped:
//!   lossy when not 0); a pgid or sid that is no task's pid gets depth 0 (defaulted).
//! * Downgrade: tags become pid numbers again and the nested numbers of each task's pid
//!   return to the vpids BUFFER; nested numbers of a pid that is no task's pid are
//!   dropped (lossy).

use super::{Carry, Change, Confidence, Rewrite, Step};

/// The step.
pub static STEP: Step = Step {
    older: "a272e68",
    newer: "b6cdf01",
    changes: &[Change {
        rewrite: Rewrite::PidsObjects,
        subject: "PIDS + BUFFER before TREE; TREE entries as tags; every object tag",
        up: Carry::Lossy,
        down: Carry::Lossy,
        confidence: Confidence::Medium,
        why: "b6cdf01 makes pids shared objects; their tags and the offset are inferred from \
              the kernel headers and user-cr 4dfdb7e",
    }],
    defaults: &[],
    renames: &[],
};
