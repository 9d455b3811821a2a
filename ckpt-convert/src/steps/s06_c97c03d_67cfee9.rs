//! v19-rc3 (c97c03d, 2010-02-05) ↔ v19 (67cfee9, 2010-02-22), both v5.
//!
//! From the headers (high): `ckpt_hdr_task` is reordered for 32/64-bit parity (moves,
//! mechanical); the s390 arch header gains `ckpt_hdr_thread`; the header constant
//! `mm_saved_auxv_len` (bytes) becomes `at_vector_size` (entries). The header constants
//! are always the target kernel's.
//!
//! Structural ("Checkpoint saved_auxv as u64s"): the MM's saved_auxv BUFFER holds native
//! longs before and u64 entries after. On 64-bit arches the bytes are the same; on 32-bit
//! an upgrade widens each entry (lossless) and a downgrade narrows it (lossy for values
//! above 2^32, which auxv entries on a 32-bit task cannot hold anyway).
//!
//! Structural (s390x): the arch header gains `ckpt_hdr_thread {thread_info_flags}` and
//! every live task a THREAD record before RESTART_BLOCK. An upgrade inserts it with
//! flags 0 (no pending TIF work, which is what the older kernel restored: medium); a
//! downgrade removes it (lossy when the flags are not 0).

use super::{Carry, Change, Confidence, Rewrite, Step};

/// The step.
pub static STEP: Step = Step {
    older: "c97c03d",
    newer: "67cfee9",
    changes: &[
        Change {
            rewrite: Rewrite::S390Thread,
            subject: "THREAD of every s390x task",
            up: Carry::Defaulted,
            down: Carry::Lossy,
            confidence: Confidence::Medium,
            why: "67cfee9's s390 header adds ckpt_hdr_thread (thread_info_flags); c97c03d \
                  writes no THREAD on s390x",
        },
        Change {
            rewrite: Rewrite::AuxvUnits,
            subject: "BUFFER saved_auxv (payload of MM)",
            up: Carry::Lossless,
            down: Carry::Lossy,
            confidence: Confidence::High,
            why: "67cfee9 stores saved_auxv as u64 entries and the header's at_vector_size counts \
              entries; c97c03d stores native longs and their size in bytes",
        },
    ],
    defaults: &[],
    renames: &[],
};
