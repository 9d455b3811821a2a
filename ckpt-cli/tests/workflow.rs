//! The everyday workflow: detection that reads the header's kernel, check and convert of
//! an image's own revision, failed checkpoints, and errors that name the file (as text
//! and as `--json`).

mod common;
use common::{ok, root, run, validate};

fn sample_path() -> String {
    root()
        .join("samples/v23-rc2.x86_64.ckpt")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn the_sample_is_read_as_the_revision_of_its_kernel() {
    let text = String::from_utf8(ok(&["info", &sample_path()], None)).unwrap();
    assert!(text.contains("revision:   v23-rc2 "), "{text}");
    assert!(
        text.contains("kernel 2.6.37 is claimed by v23-rc2, not by samsung-3.0 (3.0.8)"),
        "{text}"
    );
    // Either member of the set is the image's own revision for check.
    for rev in ["v23-rc2", "samsung-3.0", "1fd8e6e"] {
        let o = run(
            &[
                "check",
                &sample_path(),
                "--to-rev",
                rev,
                "--target-kernel",
                "2.6.37",
            ],
            None,
        );
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(0), "--to-rev {rev}: {out}");
        assert!(out.contains("would restart"), "{out}");
    }
    // ... and converting to another member with the same kernel copies the image.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("same.ckpt");
    ok(
        &[
            "convert",
            &sample_path(),
            "--to-rev",
            "samsung-3.0",
            "--target-kernel",
            "2.6.37",
            "-o",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(sample_path()).unwrap()
    );
}

#[test]
fn a_check_against_another_layout_lists_only_the_records_that_differ() {
    // v23-rc1 and v23-rc1.tty differ in the header's last constant and the TTY record
    // (termios widened): exactly those are listed, and without ttys only the header.
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("v23-rc1.ckpt");
    let img = img.to_str().unwrap();
    for (omit, want) in [(None, vec!["HEADER", "TTY"]), (Some("tty"), vec!["HEADER"])] {
        let mut args = vec!["sample", "--rev", "v23-rc1", "--arch", "x86_64", "-o", img];
        if let Some(o) = omit {
            args.extend(["--omit", o]);
        }
        ok(&args, None);
        let o = run(
            &[
                "check",
                img,
                "--to-rev",
                "v23-rc1.tty",
                "--target-kernel",
                "2.6.37",
                "--json",
            ],
            None,
        );
        assert_eq!(o.status.code(), Some(1));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        validate("check.schema.json", &j);
        let layout = j["report"]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["check"] == "layout")
            .expect("a layout problem");
        let records: Vec<String> = layout["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().split(' ').next().unwrap().to_string())
            .collect();
        assert_eq!(records, want, "{layout}");
    }
}

#[test]
fn diff_of_an_image_and_its_conversion_shows_the_header_change() {
    // README's first command, then `ckpt diff`: the kernel moved 2.6.37 -> 2.6.38.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("converted.ckpt");
    ok(
        &[
            "convert",
            &sample_path(),
            "--to-rev",
            "v23-rc1.pids",
            "--target-kernel",
            "2.6.38",
            "-o",
            out.to_str().unwrap(),
        ],
        None,
    );
    let o = run(&["diff", &sample_path(), out.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("header.patch: 37 -> 38"), "{text}");
    assert!(!text.contains("header.major"), "{text}");
}

#[test]
fn a_failed_checkpoint_does_not_pass_check_and_is_not_converted_silently() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("failed.ckpt");
    let img = img.to_str().unwrap();
    for (rev, arch) in [
        ("v23-rc2", "x86_64"),
        ("v19", "s390x"),
        ("v19-rc3", "x86_32"),
    ] {
        ok(
            &[
                "sample",
                "--rev",
                rev,
                "--arch",
                arch,
                "--error-after",
                "1",
                "-o",
                img,
            ],
            None,
        );
        let o = run(&["check", img], None);
        assert_eq!(o.status.code(), Some(1), "{rev} {arch}");
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains("would not restart: the checkpoint failed: "),
            "{text}"
        );
        let o = run(&["check", img, "--json"], None);
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        validate("check.schema.json", &j);
        assert_eq!(j["ok"], false);
        assert!(j["report"]["checkpoint_failed"].is_string());

        let out = dir.path().join("out.ckpt");
        let out = out.to_str().unwrap();
        let o = run(&["convert", img, "--to-rev", "v23-rc1", "-o", out], None);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("failed checkpoint") && err.contains("--allow-incomplete"),
            "{err}"
        );
        assert!(!std::path::Path::new(out).exists());
        let o = run(
            &[
                "convert",
                img,
                "--to-rev",
                "v23-rc1",
                "--allow-incomplete",
                "-o",
                out,
            ],
            None,
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{err}");
        assert!(err.contains("the source is a failed checkpoint"), "{err}");
        let text = String::from_utf8(ok(&["info", "-e", out], None)).unwrap();
        assert!(text.contains("checkpoint failed"), "{text}");
        std::fs::remove_file(out).unwrap();
    }
}

#[test]
fn errors_name_the_file_and_say_json_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let whole = std::fs::read(sample_path()).unwrap();
    let cut = dir.path().join("cut.ckpt");
    std::fs::write(&cut, &whole[..60000]).unwrap();
    let cut = cut.to_str().unwrap();
    for args in [
        vec!["info", cut],
        vec!["info", "-v", cut],
        vec!["check", cut],
        vec!["dump", cut, "-o", "/dev/null"],
    ] {
        let o = run(&args, None);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.starts_with(&format!("ckpt: error: {cut}: ")), "{err}");
        assert!(err.contains("offset 0x"), "{err}");
        // The end of the image is no revision's fault: no --rev hint.
        assert!(!err.contains("--rev"), "{err}");
    }
    for args in [vec!["info", "--json", cut], vec!["check", "--json", cut]] {
        let o = run(&args, None);
        assert_eq!(o.status.code(), Some(1));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        validate("error.schema.json", &j);
        assert_eq!(j["error"]["file"], cut);
        assert_eq!(j["error"]["offset"], 59767);
        assert!(j["error"]["record_index"].is_u64());
    }
    // A missing file: exit 3, named, JSON too.
    let o = run(&["info", "--json", "/nonexistent/image.ckpt"], None);
    assert_eq!(o.status.code(), Some(3));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    validate("error.schema.json", &j);
    assert!(
        j["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/image.ckpt")
    );
}

#[test]
fn the_rev_hint_comes_only_when_a_guess_from_a_pipe_could_explain_the_error() {
    // An image longer than detection's window (1 MiB) whose TAIL has a wrong length: read
    // from a pipe, the revision was guessed from the start only, and the hint says so on
    // a line of its own; read from a file, detection saw the whole image: no hint.
    let mut img = ok(
        &[
            "sample", "--rev", "v23-rc2", "--arch", "x86_64", "--memory", "2M", "-o", "-",
        ],
        None,
    );
    let tail = img.len() - 16;
    assert_eq!(&img[tail..tail + 4], &9001u32.to_le_bytes());
    img[tail + 4..tail + 8].copy_from_slice(&24u32.to_le_bytes());
    img.extend_from_slice(&[0; 8]);
    let o = run(&["info", "-v", "-"], Some(&img));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines[0].starts_with("ckpt: error: standard input: "),
        "{err}"
    );
    assert!(lines[0].contains("TAIL"), "{err}");
    assert!(
        lines[1].starts_with("ckpt: hint: the revision was guessed as v23-rc2 from the start"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad-tail.ckpt");
    std::fs::write(&f, &img).unwrap();
    let o = run(&["info", "-v", f.to_str().unwrap()], None);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("hint"), "{err}");
    assert!(err.contains("TAIL"), "{err}");
}

#[test]
fn info_on_a_truncated_image_shows_what_it_read_before_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let whole = std::fs::read(sample_path()).unwrap();
    let cut = dir.path().join("cut.ckpt");
    std::fs::write(&cut, &whole[..60000]).unwrap();
    let cut = cut.to_str().unwrap();
    let full = String::from_utf8(ok(&["info", "-v", &sample_path()], None)).unwrap();
    for input in [Some(cut), None] {
        let o = match input {
            Some(f) => run(&["info", "-v", f], None),
            None => run(&["info", "-v", "-"], Some(&whole[..60000])),
        };
        assert_eq!(o.status.code(), Some(1));
        let text = String::from_utf8(o.stdout).unwrap();
        assert!(text.contains("revision:   v23-rc2 "), "{text}");
        assert!(text.contains("kernel:     2.6.37"), "{text}");
        assert!(
            text.contains("status:     incomplete: read 149 records up to offset 0xe977"),
            "{text}"
        );
        // The records read are those of the whole image's listing, up to the cut.
        let listed: Vec<&str> = text
            .lines()
            .filter(|l| l.trim_start().starts_with("0x"))
            .collect();
        assert_eq!(listed.len(), 149, "{text}");
        for l in &listed {
            assert!(full.contains(l), "{l}");
        }
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("offset 0xe977"), "{err}");
    }
}
