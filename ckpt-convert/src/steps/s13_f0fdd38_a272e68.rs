//! v23-rc1 (f0fdd38, 2011-01-05) ↔ v23-rc1.tty (a272e68, 2011-01-10), both v6.
//!
//! From the headers (high): PPC32 and PPC64 are removed (powerpc images have no target
//! here or later); `tty.termios` is widened (flag words u16→u32, `c_ispeed`/`c_ospeed`
//! added, `c_cc` [8]→[NCCS]) and the header constant `tty_termios_ncc` becomes
//! `tty_termios_nccs` (the target kernel's value is written). An upgrade pads `c_cc` with
//! zeros and gives the speeds 0 (the kernel derives them from `c_cflag`: medium); a
//! downgrade drops control characters past the eighth (lossy when not 0). Mechanical.

use super::Step;

/// The step.
pub static STEP: Step = Step {
    older: "f0fdd38",
    newer: "a272e68",
    changes: &[],
    defaults: &[],
    renames: &[],
};
