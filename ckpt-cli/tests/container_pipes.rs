//! ckpt's container (schemas/container.md) through `dump` / `encode`, `diff`, and on
//! standard input (real pipes): dump then encode gives the container back byte for byte,
//! diff compares the annotations after the records, and every reader takes a container
//! on a pipe, in memory that does not grow with the image's pages.

mod common;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ckpt_format::build::BuildOptions;
use ckpt_format::container::{Annotations, write};
use common::{CKPT, names, ok, run, s, validate};

fn gz(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

fn annotations(config: &str, site: &str) -> Annotations {
    Annotations {
        kernel_config_gz: Some(gz(config)),
        linux_cr_tag: Some("ckpt-v23-rc2".into()),
        ckpt_version: Some("0.1.0".into()),
        annotated_at: Some(1_800_000_000),
        notes: vec![("site".into(), site.into())],
        unknown: vec![(40, b"later".to_vec())],
    }
}

type Pair = (&'static ckpt_format::Schema, ckpt_format::Arch);

/// Writes a builder image of `pair` and a container of it with annotations `a`: the
/// plain file and the container's.
fn files(dir: &Path, name: &str, pair: Pair, a: &Annotations) -> (PathBuf, PathBuf) {
    let (schema, arch) = pair;
    let img = ckpt_tests::image(schema, arch, &BuildOptions::default());
    let plain = dir.join(format!("{name}.plain.ckpt"));
    std::fs::write(&plain, &img).unwrap();
    let mut c = Vec::new();
    write(&mut c, arch.endian(), &mut &img[..], img.len() as u64, a).unwrap();
    let cont = dir.join(format!("{name}.ckpt"));
    std::fs::write(&cont, &c).unwrap();
    (plain, cont)
}

/// One revision of each architecture (the library test loops over every pair).
fn one_per_arch() -> Vec<Pair> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for (schema, arch) in ckpt_tests::all_pairs() {
        if !seen.contains(&arch) {
            seen.push(arch);
            out.push((schema, arch));
        }
    }
    out
}

#[test]
fn dump_then_encode_gives_the_container_back_from_a_file_and_from_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    for (k, (schema, arch)) in one_per_arch().into_iter().enumerate() {
        let (plain, cont) = files(
            dir.path(),
            &format!("i{k}"),
            (schema, arch),
            &annotations(
                "CONFIG_A=y
",
                "lab=1",
            ),
        );
        let img = std::fs::read(&plain).unwrap();
        let c = std::fs::read(&cont).unwrap();
        let what = format!("{} {arch}", schema.id);
        // From the file.
        let dump = ok(&["dump", "--payloads", s(&cont)], None);
        let head: serde_json::Value =
            serde_json::from_slice(dump.split(|b| *b == b'\n').next().unwrap()).unwrap();
        validate("dump.schema.json", &head);
        assert_eq!(head["format_version"], "2.1.0");
        assert_eq!(
            head["container"]["annotations"]["notes"][0]["value"], "lab=1",
            "{what}"
        );
        let out = dir.path().join("again.ckpt");
        ok(
            &["encode", "--keep-annotations", "-", "-o", s(&out)],
            Some(&dump),
        );
        assert!(
            std::fs::read(&out).unwrap() == c,
            "{what}: encode --keep-annotations is not the container"
        );
        ok(&["encode", "-", "-o", s(&out)], Some(&dump));
        assert!(
            std::fs::read(&out).unwrap() == img,
            "{what}: encode is not the plain image"
        );
        // From a pipe: the same dump.
        let piped = ok(&["dump", "--payloads", "-"], Some(&c));
        assert!(
            piped == dump,
            "{what}: the dump of a piped container differs"
        );
        // A plain image: no container member, a plain image back.
        let dump = ok(&["dump", "--payloads", s(&plain)], None);
        let head: serde_json::Value =
            serde_json::from_slice(dump.split(|b| *b == b'\n').next().unwrap()).unwrap();
        assert!(head.get("container").is_none(), "{what}");
        ok(&["encode", "-", "-o", s(&out)], Some(&dump));
        assert!(std::fs::read(&out).unwrap() == img, "{what}");
        std::fs::remove_file(&out).unwrap();
    }
}

#[test]
fn encode_refuses_a_container_it_cannot_write_back_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cont) = files(
        dir.path(),
        "c",
        one_per_arch()[0],
        &annotations("CONFIG_A=y\n", "x"),
    );
    let dump = String::from_utf8(ok(&["dump", "--payloads", s(&cont)], None)).unwrap();
    let (head, rest) = dump.split_once('\n').unwrap();
    let out = dir.path().join("out.ckpt");
    for (from, to, says) in [
        ("\"flags\":1", "\"flags\":4", "bits this ckpt does not know"),
        (
            "\"format_version\":\"1.0.0\"",
            "\"format_version\":\"2.0.0\"",
            "container format 2.0.0",
        ),
        (
            "\"flags\":1",
            "\"flags\":1,\"unknown_sections\":[7]",
            "without --keep-annotations",
        ),
        ("\"notes\":[", "\"colour\":1,\"notes\":[", "colour"),
    ] {
        assert!(head.contains(from), "{head}");
        let bad = format!("{}\n{rest}", head.replacen(from, to, 1));
        let o = run(
            &["encode", "--keep-annotations", "-", "-o", s(&out)],
            Some(bad.as_bytes()),
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{to}: {err}");
        assert!(err.contains("line 1") && err.contains(says), "{to}: {err}");
    }
    let mut left = names(dir.path());
    left.sort();
    assert_eq!(
        left,
        vec!["c.ckpt", "c.plain.ckpt"],
        "nothing written, no spool left"
    );
}

#[test]
fn diff_compares_the_annotations_after_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let pair = one_per_arch()[0];
    let (plain, a) = files(
        dir.path(),
        "a",
        pair,
        &annotations("CONFIG_A=y\nCONFIG_B=m\n", "lab=1"),
    );
    let (_, b) = files(
        dir.path(),
        "b",
        pair,
        &annotations("CONFIG_A=y\nCONFIG_B=y\n", "lab=2"),
    );
    let text = |args: &[&str], stdin: Option<&[u8]>, code: i32| {
        let o = run(args, stdin);
        assert_eq!(
            o.status.code(),
            Some(code),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    // Once "equal": the images are.
    let t = text(&["diff", s(&a), s(&plain)], None, 1);
    for says in [
        "annotation container: first has ckpt container 1.0.0, flags 0x1, second none",
        "annotation kernel config: first has one (sha256 ",
        ", 2 lines), second none",
        "annotation note site: first has site=lab=1, second none",
        "annotation unknown key 40: first has 5 bytes",
    ] {
        assert!(t.contains(says), "{says}:\n{t}");
    }
    assert!(!t.contains("\nequal"), "{t}");
    let t = text(&["diff", s(&a), s(&b)], None, 1);
    for says in [
        "annotation kernel config CONFIG_B: m -> y",
        "annotation note site: site=lab=1 -> site=lab=2",
        "2 differences (2 in the annotations)",
    ] {
        assert!(t.contains(says), "{says}:\n{t}");
    }
    let t = text(&["diff", "--images-only", s(&a), s(&b)], None, 0);
    assert!(t.ends_with("equal\n"), "{t}");
    assert!(text(&["diff", s(&a), s(&a)], None, 0).ends_with("equal\n"));
    // JSON, and a container on standard input read to its end first.
    let c = std::fs::read(&a).unwrap();
    let j: serde_json::Value =
        serde_json::from_str(&text(&["diff", "--json", "-", s(&b)], Some(&c), 1)).unwrap();
    validate("diff.schema.json", &j);
    assert_eq!(j["format_version"], "1.2.0");
    assert_eq!(
        (j["images_equal"].as_bool(), j["equal"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(
        (
            j["first"]["container"].as_bool(),
            j["second"]["container"].as_bool()
        ),
        (Some(true), Some(true))
    );
    let ann = j["annotations"].as_array().unwrap();
    assert_eq!(ann[0]["what"], "kernel config");
    assert_eq!(
        ann[0]["options"][0],
        serde_json::json!({"option": "CONFIG_B", "first": "m", "second": "y"})
    );
    assert_eq!(
        ann[1],
        serde_json::json!({"what": "note site", "first": "site=lab=1", "second": "site=lab=2"})
    );
    let j: serde_json::Value = serde_json::from_str(&text(
        &["diff", "--json", "--images-only", s(&a), s(&plain)],
        None,
        0,
    ))
    .unwrap();
    validate("diff.schema.json", &j);
    assert!(j.get("annotations").is_none());
}

#[test]
fn readers_take_a_container_on_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let (schema, arch) = one_per_arch()[0];
    let (plain, cont) = files(
        dir.path(),
        "c",
        (schema, arch),
        &annotations("CONFIG_EPOLL=y\n", "lab"),
    );
    let c = std::fs::read(&cont).unwrap();
    let info = String::from_utf8(ok(&["info", "-"], Some(&c))).unwrap();
    for says in [
        "container:  ckpt container 1.0.0",
        "note: site=lab",
        "not checked on standard input",
    ] {
        assert!(info.contains(says), "{says}: {info}");
    }
    let j: serde_json::Value =
        serde_json::from_slice(&ok(&["info", "--json", "-"], Some(&c))).unwrap();
    validate("container.schema.json", &j["container"]);
    assert_eq!(
        j["container"]["annotations"]["unknown_keys"],
        serde_json::json!([40])
    );
    // check names `ckpt strip`, as for the file.
    let o = run(&["check", "-"], Some(&c));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("ckpt strip"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // convert: the config annotation comes too late on a pipe: refused, nothing written.
    let out = dir.path().join("out.ckpt");
    let rev = schema.id.as_str();
    let o = run(&["convert", "-", "--to-rev", rev, "-o", s(&out)], Some(&c));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--source-config FILE") && err.contains("file path"),
        "{err}"
    );
    assert!(!out.exists());
    // With --source-config it converts, and keeps the annotations when asked.
    let cfg = dir.path().join("cfg");
    std::fs::write(&cfg, "CONFIG_EPOLL=y\n").unwrap();
    ok(
        &[
            "convert",
            "-",
            "--to-rev",
            rev,
            "--source-config",
            s(&cfg),
            "--keep-annotations",
            "-o",
            s(&out),
        ],
        Some(&c),
    );
    let kept = ckpt_format::container::read_info(&mut std::fs::File::open(&out).unwrap()).unwrap();
    assert_eq!(
        kept.annotations.notes,
        vec![("site".to_string(), "lab".to_string())]
    );
    // edit --keep-annotations from a pipe.
    ok(
        &[
            "edit",
            "-",
            "--hostname",
            "h2",
            "--keep-annotations",
            "-o",
            s(&out),
        ],
        Some(&c),
    );
    let kept = ckpt_format::container::read_info(&mut std::fs::File::open(&out).unwrap()).unwrap();
    assert_eq!(kept.annotations, annotations("CONFIG_EPOLL=y\n", "lab"));
    // A piped container cut short: an error naming standard input, nothing written.
    let o = run(&["dump", "-", "-o", s(&out)], Some(&c[..c.len() - 3]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        err.contains("standard input") && err.contains("cut short"),
        "{err}"
    );
    let o = run(&["info", "-"], Some(&c[..100]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cut short inside its image"));
    // A plain image on a pipe reads as ever.
    ok(&["info", "-"], Some(&std::fs::read(&plain).unwrap()));
}

/// Runs `ckpt ARGS` with its data segment limited to `limit` bytes, `input` copied into
/// its standard input (a pipe) from a thread.
fn limited(args: &[&str], input: &Path, limit: u64) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(CKPT);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let r = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_DATA, &r) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let mut w = child.stdin.take().unwrap();
    let path = input.to_path_buf();
    let feeder = std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::fs::File::open(path).unwrap(), &mut w);
    });
    let o = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    o
}

#[test]
fn a_piped_container_is_read_in_memory_that_does_not_grow_with_its_pages() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("big.plain.ckpt");
    let cont = dir.path().join("big.ckpt");
    common::sample_to(&plain, "160M");
    ok(
        &["annotate", s(&plain), "--note", "size=big", "-o", s(&cont)],
        None,
    );
    // 64 MiB of data segment for 160 MiB of pages.
    const LIMIT: u64 = 64 << 20;
    for args in [
        &["info", "-"][..],
        &["diff", "-", s(&plain)],
        &["mem", "--pid", "1", "--search", "0xdeadbeefcafe0123", "-"],
    ] {
        let o = limited(args, &cont, LIMIT);
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        if args[0] == "diff" {
            let t = String::from_utf8_lossy(&o.stdout);
            assert!(
                t.contains("annotation note size: first has size=big, second none"),
                "{t}"
            );
        }
    }
    let o = limited(&["dump", "-", "-o", "/dev/null"], &cont, LIMIT);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
