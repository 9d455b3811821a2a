//! v19 (67cfee9, 2010-02-22, v5) ↔ v21-rc.pidns (c83f38b, 2010-03-23, v6): nested pid
//! namespaces (Serge Hallyn).
//!
//! From the headers (high): VPIDS = 118 is appended with `ckpt_hdr_vpids {nr_vpids}`;
//! `ckpt_pids` gains `rsid` @20 and `depth` @24 (24→32 bytes). The tree members are
//! matched by name: an upgrade gives `rsid` and `depth` 0 (no nested namespaces, which is
//! all an older kernel could checkpoint: high).
//!
//! Structural: the tree section gains a VPIDS record after the tree BUFFER (with the sum
//! of the depths), then the nested pid numbers; an upgrade inserts it, a downgrade
//! removes it (and refuses nested pid numbers, which v19 cannot hold: lossy).

use super::{Carry, Change, Confidence, Rewrite, Step};

/// The step.
pub static STEP: Step = Step {
    older: "67cfee9",
    newer: "c83f38b",
    changes: &[Change {
        rewrite: Rewrite::VpidsRecord,
        subject: "VPIDS after the tree BUFFER",
        up: Carry::Lossless,
        down: Carry::Lossy,
        confidence: Confidence::High,
        why: "c83f38b writes VPIDS {nr_vpids} then the nested pid numbers; v19 has neither",
    }],
    defaults: &[],
    renames: &[],
};
