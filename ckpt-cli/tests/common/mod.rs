//! What the CLI test files share: running `ckpt`, JSON Schema validation, and the check
//! that no message a user reads carries Rust Debug text.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub const CKPT: &str = env!("CARGO_BIN_EXE_ckpt");

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `ckpt ARGS`, feeding `stdin` from a thread; requires that what it printed on
/// standard error speaks the user's terms (see [`assert_no_debug_text`]).
pub fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let o = ckpt_tests::run_with_stdin(CKPT, args, stdin);
    assert_no_debug_text(args, &o.stderr);
    o
}

/// Runs `ckpt ARGS` and requires success; its standard output.
pub fn ok(args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let o = run(args, stdin);
    assert!(
        o.status.success(),
        "ckpt {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// Rust Debug renderings that must never reach a user: `Some("x")`, `Text("x")`,
/// `Uint(3)`, `Exact(80)`, `Float(1.5)`, `Little`/`Big` byte orders, struct literals.
const DEBUG_PATTERNS: &[&str] = &[
    "Some(",
    "None,",
    "Text(",
    "Uint(",
    "Int(",
    "Exact(",
    "Float(",
    "List(",
    "Multiple {",
    "Name(\"",
    "Binary(",
    "PayloadItem {",
    "order Little",
    "order Big",
    "Little-endian",
    "Big-endian",
    "Os {",
    "kind: ",
];

/// Fails when `stderr` of `ckpt ARGS` holds Rust Debug text.
pub fn assert_no_debug_text(args: &[&str], stderr: &[u8]) {
    let text = String::from_utf8_lossy(stderr);
    for p in DEBUG_PATTERNS {
        assert!(
            !text.contains(p),
            "ckpt {}: standard error shows Debug text `{p}`:\n{text}",
            args.join(" ")
        );
    }
}

/// Validates `value` against `schemas/json/SCHEMA_FILE`.
pub fn validate(schema_file: &str, value: &serde_json::Value) {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/json").join(schema_file)).unwrap(),
    )
    .unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = v.iter_errors(value).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{schema_file}: {errors:?}");
}

/// Runs `ckpt ARGS` with no input (standard error checked for Debug text).
pub fn ckpt(args: &[&str]) -> Output {
    let o = Command::new(CKPT)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_no_debug_text(args, &o.stderr);
    o
}

/// Runs `ckpt ARGS` with no input, which must succeed.
pub fn ckpt_ok(args: &[&str]) -> Output {
    let o = ckpt(args);
    assert!(
        o.status.success(),
        "ckpt {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Writes `ckpt sample` of v23-rc2 on x86_64 with `memory` bytes of pages (`1M`) to `out`.
pub fn sample_to(out: &Path, memory: &str) {
    let args = [
        "sample", "--rev", "v23-rc2", "--arch", "x86_64", "--memory", memory,
    ];
    ckpt_ok(&[&args[..], &["-o", s(out)]].concat());
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

/// Compares `out` with the golden file at `path` (or writes it when blessing).
pub fn golden(path: &std::path::Path, out: &[u8], bless: bool, failures: &mut Vec<String>) {
    assert_no_debug_text(&[&path.display().to_string()], out);
    if bless {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, out).unwrap();
        return;
    }
    match std::fs::read(path) {
        Ok(want) if want == out => {}
        Ok(_) => failures.push(format!("{} differs (BLESS=1 to accept)", path.display())),
        Err(_) => failures.push(format!("{} is missing (BLESS=1 to create)", path.display())),
    }
}
