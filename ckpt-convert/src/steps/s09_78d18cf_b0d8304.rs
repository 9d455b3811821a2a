//! v21-rc.netns (78d18cf, 2010-03-30) ↔ v21-rc.novpids (b0d8304, 2010-03-30), both v6:
//! "get rid of ckpt_hdr_vpids".
//!
//! From the headers (high): the VPIDS record (118) and its struct are removed; the nested
//! pid numbers BUFFER follows the tree BUFFER directly, present only when the depths add
//! up to more than 0.
//!
//! Structural: a downgrade inserts VPIDS {nr_vpids = sum of depths}; an upgrade removes
//! it. Lossless both ways: the count is implied by the tree.

use super::{Carry, Change, Confidence, Rewrite, Step};

/// The step.
pub static STEP: Step = Step {
    older: "78d18cf",
    newer: "b0d8304",
    changes: &[Change {
        rewrite: Rewrite::VpidsRecord,
        subject: "VPIDS after the tree BUFFER",
        up: Carry::Lossless,
        down: Carry::Lossless,
        confidence: Confidence::High,
        why: "b0d8304 removes VPIDS; nr_vpids is the sum of the tree's depths",
    }],
    defaults: &[],
    renames: &[],
};
