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
use std::path::Path;

use ckpt_fs::lookup::Root;
use ckpt_fs::restore::{RestoreOptions, restore};
use libfuzzer_sys::fuzz_target;

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fuzz_target!(|data: &[u8]| {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    let sentinel = d.path().join("sentinel");
    fs::create_dir(&root).unwrap();
    fs::create_dir(&sentinel).unwrap();
    fs::write(sentinel.join("keep"), b"keep").unwrap();
    let archive = d.path().join("a.tar");
    fs::write(&archive, data).unwrap();
    let opts = RestoreOptions {
        overwrite: data.first().is_some_and(|b| b & 1 == 1),
        allow_devices: false,
        max_bytes: 1 << 20,
    };
    let res = restore(&archive, &Root::open(&root).unwrap(), opts);
    assert_eq!(names(d.path()), ["a.tar", "root", "sentinel"]);
    assert_eq!(names(&sentinel), ["keep"]);
    assert_eq!(fs::read(sentinel.join("keep")).unwrap(), b"keep");
    assert_eq!(fs::read(&archive).unwrap(), data);
    if res.is_err() {
        assert!(names(&root).is_empty(), "a refused archive left files: {res:?}");
    }
});
