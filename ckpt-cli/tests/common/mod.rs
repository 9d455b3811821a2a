//! Helpers shared by the CLI integration tests: the binary, the workspace root, a run
//! with optional standard input.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `ckpt` binary under test.
pub const CKPT: &str = env!("CARGO_BIN_EXE_ckpt");

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `ckpt ARGS`, feeding `stdin` from a thread (so that a large input cannot block
/// against a full output pipe).
pub fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut c = Command::new(CKPT)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(data) = stdin {
        let mut w = c.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = w.write_all(&data);
        });
    }
    c.wait_with_output().unwrap()
}
