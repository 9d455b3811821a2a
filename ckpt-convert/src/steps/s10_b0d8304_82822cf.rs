//! v21-rc.novpids (b0d8304, 2010-03-30) ↔ v21-rc (82822cf, 2010-04-25), both v6.
//!
//! Every record is byte-identical (headers, high). The user flag 0x2 is renamed
//! CHECKPOINT_NONETNS → CHECKPOINT_NETNS: the net namespace dump went from opt-out to
//! opt-in, so the meaning of the bit in `header.uflags` inverts. The converter keeps the
//! meaning ("was the net namespace dumped") and flips the bit. Lossless.

use super::{Carry, Change, Confidence, Rewrite, Step};

/// The step.
pub static STEP: Step = Step {
    older: "b0d8304",
    newer: "82822cf",
    changes: &[Change {
        rewrite: Rewrite::NetnsFlagFlip,
        subject: "HEADER.uflags bit 0x2 (CHECKPOINT_NONETNS -> CHECKPOINT_NETNS)",
        up: Carry::Lossless,
        down: Carry::Lossless,
        confidence: Confidence::High,
        why: "82822cf renames the flag: set now means \"dump the net namespace\"",
    }],
    defaults: &[],
    renames: &[],
};
