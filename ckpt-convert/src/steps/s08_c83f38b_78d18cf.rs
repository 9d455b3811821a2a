//! v21-rc.pidns (c83f38b, 2010-03-23) ↔ v21-rc.netns (78d18cf, 2010-03-30), both v6.
//!
//! From the headers (high): NET_NS = 707, NETDEV = 708, NETDEV_ADDR = 709 and objects
//! NET_NS, NETDEV are appended; `ns` gains `net_objref` @16 (0: the net namespace is not
//! checkpointed); `ckpt_pids` loses `rsid`, so `depth` moves 24→20 and the entry is 24
//! bytes again (mechanical; a non-zero rsid is dropped, lossy).
//!
//! Structural: the header flag CHECKPOINT_NONETNS = 0x2 appears in uflags ("do not dump
//! the net namespace"). An image from before had no net namespace records, so an upgrade
//! sets the bit (the meaning of "not dumped"); a downgrade clears it (high).

use super::{Carry, Change, Confidence, Rewrite, Step};

/// The step.
pub static STEP: Step = Step {
    older: "c83f38b",
    newer: "78d18cf",
    changes: &[Change {
        rewrite: Rewrite::NetnsFlagMeaning,
        subject: "HEADER.uflags bit 0x2 (CHECKPOINT_NONETNS)",
        up: Carry::Lossless,
        down: Carry::Lossless,
        confidence: Confidence::High,
        why: "78d18cf defines uflags 0x2 as CHECKPOINT_NONETNS; older kernels never dump the \
              net namespace",
    }],
    defaults: &[],
    renames: &[],
};
