//! Outputs that collide, and terminals: `-o -` with `--report -` (or one file named twice)
//! is a usage error; an image is not written to a terminal unless `--force`; the progress
//! bar is drawn on a terminal standard error only, and never over data.
//!
//! The terminal cases run ckpt inside a pseudo-terminal made by `script(1)` (util-linux),
//! whose output is what the terminal showed.

use std::process::{Command, Output, Stdio};

mod common;
use common::{CKPT, ckpt, names, s};

/// A directory with `src.ckpt`, a sample image of 1 MiB of pages.
fn with_source() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.ckpt");
    let o = ckpt(&[
        "sample",
        "--rev",
        "v23-rc2",
        "--arch",
        "x86_64",
        "--memory",
        "1M",
        "-o",
        s(&src),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let src = s(&src).to_string();
    (dir, src)
}

fn usage_error(o: &Output, says: &str, what: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{what}: {err}");
    assert!(err.contains(says), "{what}: {err}");
    assert!(
        o.stdout.is_empty(),
        "{what}: wrote {} bytes",
        o.stdout.len()
    );
}

#[test]
fn two_outputs_in_one_place_are_a_usage_error() {
    let (dir, src) = with_source();
    let d = dir.path();
    let convert = |out: &str, report: &str| {
        ckpt(&[
            "convert",
            &src,
            "--to-rev",
            "v23-rc1.pids",
            "-o",
            out,
            "--report",
            report,
        ])
    };
    usage_error(
        &convert("-", "-"),
        "-o - and --report - both write to standard output",
        "-o - --report -",
    );
    let out = d.join("out.ckpt");
    usage_error(&convert(s(&out), s(&out)), "both name", "one file twice");
    let dotted = d.join(".").join("out.ckpt");
    usage_error(
        &convert(s(&out), s(&dotted)),
        "both name",
        "one file by two names",
    );
    usage_error(
        &convert(s(&out), &src),
        "is the input",
        "the report over the input",
    );
    assert_eq!(names(d), ["src.ckpt"], "nothing written");
    // Either to standard output, the other to a file, is fine.
    let report = d.join("report.json");
    let o = convert("-", s(&report));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = convert(s(&out), "-");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["result"]["converted"], true);
}

/// What a terminal shows of `command` (a shell command line) run in a pseudo-terminal,
/// and its exit code.
fn in_terminal(command: &str) -> (Option<i32>, Vec<u8>) {
    let o = Command::new("script")
        .args(["--quiet", "--return", "--command", command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("script(1) (util-linux) is needed: {e}"));
    (o.status.code(), o.stdout)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn an_image_is_not_written_to_a_terminal_unless_forced() {
    let (dir, src) = with_source();
    let dump = dir.path().join("src.jsonl");
    let o = ckpt(&["dump", "--payloads", &src, "-o", s(&dump)]);
    assert!(o.status.success());
    let commands = [
        format!("{CKPT} convert {src} --to-rev v23-rc1.pids -o -"),
        format!("{CKPT} encode {} -o -", s(&dump)),
        format!("{CKPT} sample --rev v19 --arch x86_32 -o -"),
        format!("{CKPT} sample --rev v19 --arch x86_32 -o /dev/tty"),
    ];
    for c in &commands {
        let (code, shown) = in_terminal(c);
        assert_eq!(code, Some(2), "{c}: {}", String::from_utf8_lossy(&shown));
        let text = String::from_utf8_lossy(&shown);
        assert!(
            text.contains("refusing to write a binary image to a terminal")
                && text.contains("--force"),
            "{c}: {text}"
        );
        // Forced, the image is written (the terminal shows it, with its header magic).
        let (code, shown) = in_terminal(&format!("{c} --force 2>/dev/null"));
        assert_eq!(code, Some(0), "{c} --force");
        assert!(
            shown.len() > 1000,
            "{c} --force: {} bytes shown",
            shown.len()
        );
    }
    assert_eq!(names(dir.path()), ["src.ckpt", "src.jsonl"]);
}

/// The progress bar's text (its template shows the rate and `eta`).
const BAR: &str = "eta ";

#[test]
fn the_progress_bar_is_drawn_only_on_a_terminal_with_no_data_on_it() {
    let (dir, src) = with_source();
    let out = dir.path().join("out.ckpt");
    let convert = format!("{CKPT} convert {src} --to-rev v23-rc1.pids -o {}", s(&out));
    // Standard error a terminal, the image a file: the bar is drawn.
    let (code, shown) = in_terminal(&convert);
    assert_eq!(code, Some(0));
    assert!(
        contains(&shown, BAR),
        "no bar: {}",
        String::from_utf8_lossy(&shown)
    );
    // Standard error not a terminal: no bar (the summary only).
    let o = Command::new("script")
        .args(["--quiet", "--return", "--command"])
        .arg(format!("{convert} 2>&1 | cat"))
        .arg("/dev/null")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(contains(&o.stdout, "converted "), "no summary");
    assert!(!contains(&o.stdout, BAR), "a bar on a pipe");
    // The image on the terminal (forced), or the report: no bar over them.
    for c in [
        format!("{CKPT} convert {src} --to-rev v23-rc1.pids -o - --force"),
        format!("{convert} --report /dev/tty"),
        format!("{CKPT} convert {src} --to-rev v23-rc1.pids -o /dev/stderr --force"),
    ] {
        let (code, shown) = in_terminal(&c);
        assert_eq!(code, Some(0), "{c}");
        assert!(!contains(&shown, BAR), "{c}: a bar over the data");
    }
}
