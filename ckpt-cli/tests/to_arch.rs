//! `convert --to-arch` from the command line: an x86_32 image onto x86_64 and back, the
//! summary and the report naming the rules, `check` of the result, and what is refused
//! (exit 1 with the reason, 2 for usage), never with a partial output.

mod common;
use common::{ok, run, s};

fn sample32(dir: &std::path::Path, with: &str) -> std::path::PathBuf {
    let p = dir.join("s32.ckpt");
    let mut args = vec![
        "sample",
        "--rev",
        "v23-rc2",
        "--arch",
        "x86_32",
        "-o",
        s(&p),
    ];
    if !with.is_empty() {
        args.extend(["--with", with]);
    }
    ok(&args, None);
    p
}

#[test]
fn an_x86_32_image_converts_to_x86_64_and_back_to_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let src = sample32(dir.path(), "compat-vdso,robust-futex");
    let up = dir.path().join("s64.ckpt");
    let report = dir.path().join("report.json");
    let o = run(
        &[
            "convert",
            s(&src),
            "--to-arch",
            "x86_64",
            "--to-rev",
            "v23-rc2",
            "-o",
            s(&up),
            "--report",
            s(&report),
        ],
        None,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("on x86_32 -> x86_64"), "{err}");
    let info = String::from_utf8(ok(&["info", s(&up)], None)).unwrap();
    assert!(info.contains("x86_64"), "{info}");
    // check says what the image cannot: the restart binary must be a 32-bit one.
    let check = String::from_utf8(ok(&["check", s(&up)], None)).unwrap();
    assert!(check.contains("32-bit (i386) build"), "{check}");
    let tasks = String::from_utf8(ok(&["info", "-t", s(&up)], None)).unwrap();
    assert!(tasks.contains(", a 32-bit task"), "{tasks}");
    // Every rule's ledger entries name the arch change.
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let fields: Vec<String> = r["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["step"] == "x86_32 -> x86_64")
        .map(|e| {
            format!(
                "{} {}",
                e["record"].as_str().unwrap(),
                e["field"].as_str().unwrap()
            )
        })
        .collect();
    for f in [
        "THREAD thread_info_flags",
        "BUFFER saved_auxv",
        "PGARR pages",
        "MM map_count",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} not in {fields:?}");
    }
    // The diff names only what the rules change.
    let d = run(&["diff", s(&src), s(&up)], None);
    let text = String::from_utf8_lossy(&d.stdout);
    assert_eq!(d.status.code(), Some(1), "{text}");
    assert!(
        text.contains("THREAD.thread_info_flags: 0 -> 131072"),
        "{text}"
    );
    assert!(
        text.contains("page addresses: 4 bytes -> 8 bytes"),
        "{text}"
    );
    // Back: the original bytes.
    let back = dir.path().join("back.ckpt");
    ok(
        &[
            "convert",
            s(&up),
            "--to-arch",
            "x86_32",
            "--to-rev",
            "v23-rc2",
            "-o",
            s(&back),
        ],
        None,
    );
    assert!(std::fs::read(&back).unwrap() == std::fs::read(&src).unwrap());
}

#[test]
fn what_makes_no_sense_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let src = sample32(dir.path(), "");
    let out = dir.path().join("out.ckpt");
    for (args, code, says) in [
        (
            vec!["--to-arch", "s390x", "--to-rev", "v23-rc2"],
            1,
            "x86_32 <-> x86_64",
        ),
        (vec!["--to-arch", "vax", "--to-rev", "v23-rc2"], 2, "vax"),
        (
            vec!["--vdso", "0xf7ffd000", "--to-rev", "v23-rc2"],
            2,
            "--to-arch",
        ),
        (
            vec![
                "--to-arch",
                "x86_64",
                "--vdso",
                "0xf7ffd001",
                "--to-rev",
                "v23-rc2",
            ],
            1,
            "page boundary",
        ),
        (
            vec![
                "--to-arch",
                "x86_64",
                "--vdso",
                "banana",
                "--to-rev",
                "v23-rc2",
            ],
            2,
            "not an address",
        ),
        (
            vec!["--to-arch", "x86_64", "--to-rev", "v19-rc2.x86_64"],
            1,
            "c97c03d",
        ),
    ] {
        let mut a = vec!["convert", s(&src), "-o", s(&out)];
        a.extend(args.iter());
        let o = run(&a, None);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?}: an output was left");
        common::assert_no_debug_text(&a, &o.stderr);
    }
}

#[test]
fn schema_arch_lists_the_rules_with_their_carry_source_and_confidence() {
    for (from, to, refused) in [("x86_32", "x86_64", false), ("x86_64", "x86_32", true)] {
        let out = ok(&["schema", "arch", from, to, "--json"], None);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        common::validate("schema-arch.schema.json", &v);
        let rules = v["rules"].as_array().unwrap();
        assert!(rules.len() >= 12, "{v}");
        assert_eq!(
            rules.iter().any(|r| r["carry"] == "refused"),
            refused,
            "{from} -> {to}: only going back are tasks refused"
        );
        let text = String::from_utf8(ok(&["schema", "arch", from, to], None)).unwrap();
        assert!(
            text.contains("ia32-flag") && text.contains("source:"),
            "{text}"
        );
    }
    let o = run(&["schema", "arch", "x86_32", "s390x"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("x86_32 <-> x86_64"));
}

#[test]
fn the_arch_change_streams_through_pipes_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let src = sample32(dir.path(), "robust-futex");
    let img = std::fs::read(&src).unwrap();
    let up = ok(
        &[
            "convert",
            "-",
            "--to-arch",
            "x86_64",
            "--to-rev",
            "v23-rc2",
            "-o",
            "-",
        ],
        Some(&img),
    );
    let back = ok(
        &[
            "convert",
            "-",
            "--to-arch",
            "x86_32",
            "--to-rev",
            "v23-rc2",
            "-o",
            "-",
        ],
        Some(&up),
    );
    assert!(back == img, "a pipe there and back changes the image");
}
