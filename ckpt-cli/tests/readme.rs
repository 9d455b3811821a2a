//! README's command examples run: every `ckpt ...` line (and the first command, run
//! through the built binary) of its `sh` blocks, in order, with `/tmp/` replaced by a
//! fresh directory. Lines that build, install or test (`cargo test`, `cargo install`,
//! `bash .ci/run`) and the library examples (`cargo run ... --example NAME`, which
//! `.ci/run` runs) are what CI itself runs, and are skipped here.

mod common;
use common::{CKPT, root};

/// The command lines of README's `sh` blocks, comments removed.
fn readme_commands() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_sh = line.trim() == "```sh";
            continue;
        }
        if in_sh {
            let cmd = line.split(" #").next().unwrap().trim();
            if !cmd.is_empty() {
                out.push(cmd.to_string());
            }
        }
    }
    out
}

#[test]
fn readme_examples_run() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = format!("{}/", dir.path().display());
    let mut ran = 0;
    for cmd in readme_commands() {
        let args = if let Some(rest) = cmd.strip_prefix("cargo run --release -p ckpt-cli -- ") {
            rest.to_string()
        } else if let Some(rest) = cmd.strip_prefix("ckpt ") {
            rest.to_string()
        } else if cmd == "ckpt" {
            String::new()
        } else {
            let example = cmd.starts_with("cargo run") && cmd.contains(" --example ");
            assert!(
                example
                    || ["cargo test", "cargo install", "bash .ci/run"]
                        .iter()
                        .any(|p| cmd.starts_with(p)),
                "README command not run by this test: {cmd}"
            );
            continue;
        };
        let args: Vec<String> = args
            .split_whitespace()
            .map(|a| a.replace("/tmp/", &tmp))
            .collect();
        let o = std::process::Command::new(CKPT)
            .args(&args)
            .current_dir(root())
            .output()
            .unwrap();
        // diff answers "different" with 1; everything else must succeed.
        let want: &[i32] = if args.first().map(String::as_str) == Some("diff") {
            &[1]
        } else {
            &[0]
        };
        assert!(
            o.status.code().is_some_and(|c| want.contains(&c)),
            "README: {cmd}: exit {:?}\n{}",
            o.status.code(),
            String::from_utf8_lossy(&o.stderr)
        );
        common::assert_no_debug_text(&[&cmd], &o.stderr);
        ran += 1;
    }
    assert!(ran >= 5, "only {ran} README commands found");
}
