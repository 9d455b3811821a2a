//! pre-v19.a (0abe2fe, 2009-10-03) ↔ pre-v19.b (a53775e, 2009-11-04), both
//! CHECKPOINT_VERSION 3.
//!
//! Additive only (headers, high confidence): EPOLL_ITEMS = 308 is appended to the 3xx
//! block, FILE_EPOLL = 6 and FILE_EVENTFD = 7 are appended to the file types, with
//! `ckpt_hdr_file_eventfd`, `ckpt_hdr_eventpoll_items` and `ckpt_eventpoll_item`. No value
//! that can appear in an older image changes, so an upgrade is lossless; a downgrade
//! refuses an image with epoll or eventfd files (the older kernel has no such records).
//! Everything is mechanical.

use super::Step;

/// The step.
pub static STEP: Step = Step {
    older: "0abe2fe",
    newer: "a53775e",
    changes: &[],
    defaults: &[],
    renames: &[],
};
