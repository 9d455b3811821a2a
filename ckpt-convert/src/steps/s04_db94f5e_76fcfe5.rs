//! v19-rc2 (db94f5e, 2009-12-01) ↔ v19-rc2.x86_64 (76fcfe5, 2009-12-06), both v4.
//!
//! From the headers (high): CKPT_ARCH_X86_64 = 5 and the segment encodings USER64_CS and
//! USER64_DS are added; every other record is byte-identical. x86_64 images exist only
//! from here on, so a downgrade of an x86_64 image has no target. Mechanical.

use super::Step;

/// The step.
pub static STEP: Step = Step {
    older: "db94f5e",
    newer: "76fcfe5",
    changes: &[],
    defaults: &[],
    renames: &[],
};
