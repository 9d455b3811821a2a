//! v21-rc (82822cf, 2010-04-25) ↔ v21-arm (f678773, 2010-06-17), both v6 (Christoffer
//! Dall).
//!
//! From the headers (high): CKPT_ARCH_ARM = 6 and the ARM arch header are added; generic
//! layouts are unchanged. ARM images exist here and at 5c3471a only; they are carried
//! through the revisions between, whose generic layouts apply to ARM as to any arch.
//! Mechanical.

use super::Step;

/// The step.
pub static STEP: Step = Step {
    older: "82822cf",
    newer: "f678773",
    changes: &[],
    defaults: &[],
    renames: &[],
};
