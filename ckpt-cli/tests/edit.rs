//! `ckpt edit`: the operations through the CLI, their inverse, dry runs, JSON, pipes, and
//! every refusal with its exit code and nothing written.

use std::path::Path;

use ckpt_format::build::{BuildOptions, build};
use ckpt_format::model::places::{PlaceKind, PlaceValue, find_places};
use ckpt_format::{Arch, Format, Reader, Registry, Schema};

mod common;
use common::{names, ok, run, s, validate};

fn image(dir: &Path, schema: &'static Schema, arch: Arch) -> (String, Vec<u8>) {
    let mut img = Vec::new();
    let opts = BuildOptions {
        tasks: 3,
        memory: 2 * 4096,
        ..BuildOptions::default()
    };
    build(&Format::new(schema, arch), &opts, &mut img).unwrap();
    let path = dir.join("in.ckpt");
    std::fs::write(&path, &img).unwrap();
    (path.to_string_lossy().into_owned(), img)
}

fn newest() -> &'static Schema {
    Registry::get().newest()
}

/// The smallest uid of the image's places (0, root, is one).
fn some_uid(schema: &'static Schema, img: &[u8]) -> i64 {
    find_places(
        Reader::new(img, Format::new(schema, Arch::X86_64)),
        &[PlaceKind::Uid],
    )
    .unwrap()
    .into_iter()
    .filter_map(|f| match f.place.value {
        PlaceValue::Int(n) => Some(n),
        _ => None,
    })
    .min()
    .expect("the builder gives tasks uids")
}

#[test]
fn an_edit_and_its_inverse_give_the_original_file() {
    let dir = tempfile::tempdir().unwrap();
    let (input, img) = image(dir.path(), newest(), Arch::X86_64);
    let uid = some_uid(newest(), &img);
    let (a, b) = (dir.path().join("a.ckpt"), dir.path().join("b.ckpt"));
    let there = format!("{uid}=4000000");
    let back = format!("4000000={uid}");
    let o = run(&["edit", &input, "-o", s(&a), "--uid", &there], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("edited") && err.contains(&format!("--uid {there}: ")),
        "{err}"
    );
    assert_ne!(std::fs::read(&a).unwrap(), img);
    ok(&["check", s(&a), "--to-rev", &newest().id], None);
    ok(&["edit", s(&a), "-o", s(&b), "--uid", &back], None);
    assert!(std::fs::read(&b).unwrap() == img);
}

#[test]
fn a_pipe_in_and_out_edits_like_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let (input, img) = image(dir.path(), newest(), Arch::X86_64);
    let a = dir.path().join("a.ckpt");
    ok(&["edit", &input, "-o", s(&a), "--hostname", "box2"], None);
    let piped = ok(&["edit", "-", "-o", "-", "--hostname", "box2"], Some(&img));
    assert!(piped == std::fs::read(&a).unwrap());
    let dump = String::from_utf8(ok(&["dump", s(&a), "--type", "UTS_NS"], None)).unwrap();
    assert!(dump.contains("\"nodename\":\"box2\""), "{dump}");
}

#[test]
fn a_dry_run_lists_the_changes_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (input, img) = image(dir.path(), newest(), Arch::X86_64);
    let uid = some_uid(newest(), &img);
    let op = format!("{uid}=4000001");
    let out = String::from_utf8(ok(&["edit", &input, "--uid", &op, "--dry-run"], None)).unwrap();
    assert!(out.lines().count() > 1, "{out}");
    for line in out.lines() {
        assert!(
            line.starts_with("record #") && line.contains(&format!("{uid} -> 4000001")),
            "{line}"
        );
        assert!(line.contains(&format!("(--uid {op})")), "{line}");
    }
    assert_eq!(names(dir.path()), vec!["in.ckpt"]);
    let j: serde_json::Value = serde_json::from_slice(&ok(
        &["edit", &input, "--uid", &op, "--dry-run", "--json"],
        None,
    ))
    .unwrap();
    validate("edit.schema.json", &j);
    assert_eq!(j["changes"].as_array().unwrap().len(), out.lines().count());
    assert_eq!(j["dry_run"], true);
    assert_eq!(names(dir.path()), vec!["in.ckpt"]);
}

#[test]
fn the_report_is_the_json_of_the_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (input, img) = image(dir.path(), newest(), Arch::X86_64);
    let uid = some_uid(newest(), &img);
    let (a, rep) = (dir.path().join("a.ckpt"), dir.path().join("r.json"));
    let op = format!("{uid}=4000002");
    ok(
        &[
            "edit",
            &input,
            "-o",
            s(&a),
            "--uid",
            &op,
            "--report",
            s(&rep),
        ],
        None,
    );
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&rep).unwrap()).unwrap();
    validate("edit.schema.json", &j);
    assert_eq!(j["operations"][0]["operation"], format!("--uid {op}"));
    assert!(j["operations"][0]["places_changed"].as_u64().unwrap() > 0);
}

#[test]
fn malformed_operations_are_usage_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (input, _) = image(dir.path(), newest(), Arch::X86_64);
    let out = dir.path().join("o.ckpt");
    for (op, arg, says) in [
        ("--uid", "1000", "--uid 1000: expected OLD=NEW"),
        ("--gid", "x=1", "is not a number"),
        ("--pid", "5=0", "a pid is a number from 1"),
        ("--path", "rel=/x", "two absolute paths"),
        ("--path", "/a/=/b", "end both or neither with /"),
    ] {
        let o = run(&["edit", &input, "-o", s(&out), op, arg], None);
        assert_eq!(o.status.code(), Some(2), "{op} {arg}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{op} {arg}: {err}");
        assert_eq!(names(dir.path()), vec!["in.ckpt"]);
    }
    let o = run(&["edit", &input, "-o", s(&out)], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("give at least one operation"));
}

#[test]
fn a_collision_is_refused_with_exit_1_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let (input, img) = image(dir.path(), newest(), Arch::X86_64);
    let pids: std::collections::BTreeSet<i64> = find_places(
        Reader::new(&img[..], Format::new(newest(), Arch::X86_64)),
        &[PlaceKind::Pid],
    )
    .unwrap()
    .into_iter()
    .filter_map(|f| match f.place.value {
        PlaceValue::Int(n) if n > 0 => Some(n),
        _ => None,
    })
    .collect();
    let mut v = pids.iter();
    let (a, b) = (v.next().unwrap(), v.next().expect("two pids"));
    let out = dir.path().join("o.ckpt");
    let o = run(
        &["edit", &input, "-o", s(&out), "--pid", &format!("{a}={b}")],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("already uses pid {b}")) && err.contains("record #"),
        "{err}"
    );
    assert_eq!(names(dir.path()), vec!["in.ckpt"]);
}

#[test]
fn an_old_value_found_nowhere_warns_or_with_strict_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (input, img) = image(dir.path(), newest(), Arch::X86_64);
    let out = dir.path().join("o.ckpt");
    let o = run(
        &["edit", &input, "-o", s(&out), "--uid", "3999999=3999998"],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: --uid 3999999=3999998: the image holds the old value nowhere"),
        "{err}"
    );
    assert!(std::fs::read(&out).unwrap() == img);
    std::fs::remove_file(&out).unwrap();
    let o = run(
        &[
            "edit",
            &input,
            "-o",
            s(&out),
            "--uid",
            "3999999=3999998",
            "--strict",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("error: --uid 3999999=3999998"));
    assert_eq!(names(dir.path()), vec!["in.ckpt"]);
}

#[test]
fn a_descriptor_is_redirected_and_what_cannot_be_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (input, _) = image(dir.path(), newest(), Arch::X86_64);
    let out = dir.path().join("o.ckpt");
    // Task 2's standard output shares /dev/null with its fds 0 and 2: split.
    let o = run(
        &[
            "edit",
            &input,
            "-o",
            s(&out),
            "--fd",
            "2:1=/srv/out.log",
            "--pos",
            "7",
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--fd 2:1=/srv/out.log --pos 7: 1 places"));
    ok(&["check", s(&out), "--to-rev", &newest().id], None);
    let tasks = String::from_utf8(ok(&["info", "-t", s(&out)], None)).unwrap();
    assert!(tasks.contains("/srv/out.log"), "{tasks}");
    assert!(tasks.contains("/dev/null"), "{tasks}");
    std::fs::remove_file(&out).unwrap();
    for (arg, says) in [
        ("99:1=/x", "the image has no task 99"),
        ("1:99=/x", "task 1 has no descriptor 99"),
        ("1:1=relative", "an absolute PATH"),
    ] {
        let o = run(&["edit", &input, "-o", s(&out), "--fd", arg], None);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "--fd {arg}: {err}");
        assert_eq!(
            o.status.code(),
            Some(if arg.ends_with("relative") { 2 } else { 1 })
        );
        assert_eq!(names(dir.path()), vec!["in.ckpt"]);
    }
}

#[test]
fn closing_a_socket_pair_lists_what_goes_and_the_json_follows_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    let (input, _) = image(dir.path(), newest(), Arch::X86_64);
    let out = dir.path().join("o.ckpt");
    // Task 1's fds 7 and 8 are the two ends of a connected unix socket pair.
    let args = ["edit", &input, "--close", "1:7", "--close", "1:8"];
    let dry = String::from_utf8(ok(&[&args[..], &["--dry-run"]].concat(), None)).unwrap();
    for says in [
        "FILE_DESC removed; descriptor 7 of task 1 closed (--close 1:7)",
        "FILE_DESC removed; descriptor 8 of task 1 closed (--close 1:8)",
        "FILE_TABLE fdt_nfds: 13 -> 11",
        "SOCKET_QUEUE removed; a queue of socket",
        "SOCKET_BUFFER removed",
    ] {
        assert!(dry.contains(says), "{says}: {dry}");
    }
    let j: serde_json::Value =
        serde_json::from_slice(&ok(&[&args[..], &["-o", s(&out), "--json"]].concat(), None))
            .unwrap();
    validate("edit.schema.json", &j);
    let actions: std::collections::BTreeSet<&str> = j["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["removed", "supplied"].into());
    ok(&["check", s(&out)], None);
    let unix = |image: &str| {
        let dump = ok(&["dump", image, "--type", "SOCKET_UNIX"], None);
        String::from_utf8(dump).unwrap().lines().count() - 1 // the header line
    };
    assert_eq!(unix(s(&out)) + 2, unix(&input));
    // A descriptor the task lacks: refused, exit 1, nothing written.
    std::fs::remove_file(&out).unwrap();
    let o = run(&["edit", &input, "-o", s(&out), "--close", "1:99"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("task 1 has no descriptor 99"));
    let o = run(&["edit", &input, "-o", s(&out), "--close", "1"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--close 1: expected PID:FD"));
    assert_eq!(names(dir.path()), vec!["in.ckpt"]);
}

/// The cases of `tests/golden/edit/`: each file's first line is a command
/// (`ckpt edit IMAGE ...`, IMAGE the 3-task builder image of the newest revision on
/// x86_64, OUT a file beside it), the rest what it gives: its exit status, standard
/// output and standard error, and for an output image `ckpt check OUT`. `BLESS=1`
/// rewrites them from what the commands now give.
#[test]
fn edit_cases_match_their_golden_files() {
    let bless = std::env::var_os("BLESS").is_some();
    let cases = common::root().join("tests/golden/edit");
    let mut files: Vec<_> = std::fs::read_dir(&cases)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{} edit cases", files.len());
    let mut failures = Vec::new();
    for file in files {
        let dir = tempfile::tempdir().unwrap();
        let (input, _) = image(dir.path(), newest(), Arch::X86_64);
        let out = dir.path().join("out.ckpt");
        let text = std::fs::read_to_string(&file).unwrap();
        let command = text.lines().next().unwrap().to_string();
        let args: Vec<String> = command
            .strip_prefix("ckpt ")
            .unwrap_or_else(|| panic!("{}: the first line is not a ckpt command", file.display()))
            .split_whitespace()
            .map(|a| match a {
                "IMAGE" => input.clone(),
                "OUT" => s(&out).to_string(),
                a => a.to_string(),
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(&args, None);
        let show = |b: &[u8]| {
            String::from_utf8_lossy(b)
                .replace(&input, "IMAGE")
                .replace(s(&out), "OUT")
        };
        let mut got = format!(
            "{command}\nexit {}\n--- stdout\n{}--- stderr\n{}",
            o.status.code().unwrap_or(-1),
            show(&o.stdout),
            show(&o.stderr)
        );
        if out.exists() {
            let c = run(&["check", s(&out)], None);
            got += &format!(
                "--- ckpt check OUT: exit {}\n",
                c.status.code().unwrap_or(-1)
            );
        }
        common::golden(&file, got.as_bytes(), bless, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
