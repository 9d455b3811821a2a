//! v23-rc1.pids (b6cdf01, 2011-01-25) ↔ v23-rc2 (1fd8e6e, 2011-04-16), both v6.
//!
//! From the headers (high): HPAGE = 404 is inserted (MM_CONTEXT 404→405); vma types
//! HUGETLB and HUGETLB_SKIP appended; `vma.hugetlb_shift` (0: not a hugetlb vma) and
//! `ipc_shm.shift` (0: normal pages) added; `task` reordered with `flags` @8 (0: neither
//! FORKNOEXEC nor SUPERPRIV, medium). Mechanical.
//!
//! Structural: `pids.offset` is now the tag of the first pid, where b6cdf01 stored one
//! less (user-cr 65d2dff "Adjust offset of (first) pid tags to match kernel update":
//! medium, inferred from userspace only). The converter adds or subtracts 1. Lossless.

use super::{Carry, Change, Confidence, Default, Rewrite, Step};

/// The step.
pub static STEP: Step = Step {
    older: "b6cdf01",
    newer: "1fd8e6e",
    changes: &[Change {
        rewrite: Rewrite::PidsOffset,
        subject: "PIDS.offset",
        up: Carry::Lossless,
        down: Carry::Lossless,
        confidence: Confidence::Medium,
        why: "1fd8e6e's offset is the first pid's tag; b6cdf01's is one less",
    }],
    defaults: &[Default {
        struct_name: "ckpt_hdr_task",
        member: "flags",
        value: 0,
        shown: "0",
        confidence: Confidence::Medium,
        why: "CKPT_PF_FORKNOEXEC and CKPT_PF_SUPERPRIV are unknown to older images; 0 \
              restores neither accounting flag",
    }],
    renames: &[],
};
