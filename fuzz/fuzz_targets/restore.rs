//! `ckpt fs restore` on arbitrary bytes: `ckpt_fs::restore::restore` of the bytes as an
//! archive (plain tar, or zstd when they start with its magic) into a temporary root,
//! with devices allowed and a small size limit. Errors are fine; a panic is not, and
//! neither is anything written outside the root: beside the root lie the archive and a
//! sentinel directory, which must be exactly as they were afterwards. A refused
//! archive must leave the root empty.
//!
//! Input: the archive's bytes.

#![no_main]

use std::fs;

use ckpt_fs::lookup::Root;
use ckpt_fs::restore::{RestoreOptions, restore};
use libfuzzer_sys::fuzz_target;

use ckpt_tests::{RestoreScene, sorted_names as names};

fuzz_target!(|data: &[u8]| {
    let s = RestoreScene::new();
    fs::write(&s.archive, data).unwrap();
    let opts = RestoreOptions {
        overwrite: data.first().is_some_and(|b| b & 1 == 1),
        allow_devices: false,
        max_bytes: 1 << 20,
    };
    let res = restore(&s.archive, &Root::open(&s.root).unwrap(), opts);
    s.assert_untouched_outside();
    assert_eq!(fs::read(&s.archive).unwrap(), data);
    if res.is_err() {
        assert!(names(&s.root).is_empty(), "a refused archive left files: {res:?}");
    }
});
