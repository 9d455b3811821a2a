//! v23-rc2 (1fd8e6e, 2011-04-16) ↔ samsung-3.0 (5c3471a, 2012-03-17), both v6
//! (Christoffer Dall, Linux 3.0 with ARM patches).
//!
//! From the headers (high): CKPT_ARCH_ARM = 4 (it was 6 at f678773) and the ARM arch
//! header return; x86 and s390 layouts are identical to v23-rc2. The header's kernel
//! version and constants are the target kernel's (3.0.x). Mechanical.

use super::Step;

/// The step.
pub static STEP: Step = Step {
    older: "1fd8e6e",
    newer: "5c3471a",
    changes: &[],
    defaults: &[],
    renames: &[],
};
