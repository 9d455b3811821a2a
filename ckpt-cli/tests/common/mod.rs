//! Helpers the CLI's integration tests share: running ckpt, and looking at what a run
//! left in a directory.

// Each test file is its own crate and uses some of these.
#![allow(dead_code)]

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The ckpt binary under test.
pub const CKPT: &str = env!("CARGO_BIN_EXE_ckpt");

/// Runs `ckpt ARGS` with no input.
pub fn ckpt(args: &[&str]) -> Output {
    Command::new(CKPT)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Runs `ckpt ARGS`, which must succeed.
pub fn ok(args: &[&str]) -> Output {
    let o = ckpt(args);
    assert!(
        o.status.success(),
        "ckpt {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// A path as an argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The names in `dir`, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}
