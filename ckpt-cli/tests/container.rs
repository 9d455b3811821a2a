//! `ckpt annotate` and `ckpt strip`, and every reader taking ckpt's container: the image
//! comes back byte for byte, readers read the image inside, writers write a plain image,
//! `check` fails naming `ckpt strip`.

mod common;
use common::{names, ok, root, run, s};

#[test]
fn annotate_then_strip_gives_the_image_back_and_readers_read_inside() {
    let dir = tempfile::tempdir().unwrap();
    let sample = root().join("samples/v23-rc2.x86_64.ckpt");
    let plain = std::fs::read(&sample).unwrap();
    let cfg = dir.path().join("config");
    std::fs::write(&cfg, "CONFIG_EPOLL=y\n# CONFIG_INET is not set\n").unwrap();
    let a = dir.path().join("a.ckpt");
    ok(
        &[
            "annotate",
            s(&sample),
            "-o",
            s(&a),
            "--config",
            s(&cfg),
            "--note",
            "site=lab2",
        ],
        None,
    );
    let c = std::fs::read(&a).unwrap();
    assert!(c.starts_with(b"CKPT+ANN") && c.len() > plain.len());
    let info = String::from_utf8(ok(&["info", s(&a)], None)).unwrap();
    for says in [
        "container:  ckpt container 1.0.0",
        "kernel config:",
        "note: site=lab2",
        "linux-cr tag: ckpt-v23-rc2",
    ] {
        assert!(info.contains(says), "{says}: {info}");
    }
    let j: serde_json::Value =
        serde_json::from_slice(&ok(&["info", "--json", s(&a)], None)).unwrap();
    common::validate("info.schema.json", &j);
    common::validate("container.schema.json", &j["container"]);
    assert_eq!(j["container"]["annotations"]["notes"][0]["key"], "site");
    assert_eq!(j["container"]["image_len"], plain.len() as u64);
    let j: serde_json::Value =
        serde_json::from_slice(&ok(&["info", "--json", s(&sample)], None)).unwrap();
    assert!(j.get("container").is_none());
    // Strip: byte for byte.
    let back = dir.path().join("back.ckpt");
    ok(&["strip", s(&a), "-o", s(&back)], None);
    assert!(std::fs::read(&back).unwrap() == plain);
    // A writer writes the plain image: an edit of the container is the edit of the image.
    let (e1, e2) = (dir.path().join("e1.ckpt"), dir.path().join("e2.ckpt"));
    ok(&["edit", s(&a), "-o", s(&e1), "--hostname", "box2"], None);
    ok(
        &["edit", s(&sample), "-o", s(&e2), "--hostname", "box2"],
        None,
    );
    assert!(std::fs::read(&e1).unwrap() == std::fs::read(&e2).unwrap());
    // check: the container fails, naming strip; the image inside passes.
    let o = run(&["check", s(&a)], None);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("FAIL container") && out.contains("ckpt strip"),
        "{out}"
    );
    ok(&["check", s(&back)], None);
    // Annotating again keeps what it does not replace.
    let a2 = dir.path().join("a2.ckpt");
    ok(&["annotate", s(&a), "-o", s(&a2), "--note", "x=1"], None);
    let info = String::from_utf8(ok(&["info", s(&a2)], None)).unwrap();
    assert!(
        info.contains("note: site=lab2")
            && info.contains("note: x=1")
            && info.contains("kernel config:"),
        "{info}"
    );
    ok(&["strip", s(&a2), "-o", s(&back)], None);
    assert!(std::fs::read(&back).unwrap() == plain);
}

#[test]
fn what_is_not_a_container_or_not_a_config_is_refused_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let sample = root().join("samples/v23-rc2.x86_64.ckpt");
    let input = dir.path().join("in.ckpt");
    std::fs::copy(&sample, &input).unwrap();
    let out = dir.path().join("o.ckpt");
    let o = run(&["strip", s(&input), "-o", s(&out)], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("not a ckpt container: no CKPT+ANN magic (at offset 0x0)")
    );
    let bad = dir.path().join("bad");
    std::fs::write(&bad, "hello\n").unwrap();
    let o = run(
        &["annotate", s(&input), "-o", s(&out), "--config", s(&bad)],
        None,
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "a usage error: the file given is no config"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a kernel config"));
    let o = run(
        &["annotate", s(&input), "-o", s(&out), "--note", "novalue"],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--note novalue: expected KEY=VALUE"));
    // On standard input: read (tests/container_pipes.rs has more).
    let a = dir.path().join("a.ckpt");
    ok(&["annotate", s(&input), "-o", s(&a), "--note", "k=v"], None);
    let info = ok(&["info", "-"], Some(&std::fs::read(&a).unwrap()));
    assert!(String::from_utf8_lossy(&info).contains("note: k=v"));
    std::fs::remove_file(&a).unwrap();
    // A container cut short.
    let a = dir.path().join("a.ckpt");
    ok(&["annotate", s(&input), "-o", s(&a), "--note", "k=v"], None);
    let c = std::fs::read(&a).unwrap();
    std::fs::write(&a, &c[..c.len() - 5]).unwrap();
    let o = run(&["info", s(&a)], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cut short"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::remove_file(&a).unwrap();
    let mut left = names(dir.path());
    left.sort();
    assert_eq!(left, vec!["bad", "in.ckpt"]);
}

#[test]
fn writers_keep_the_annotations_when_asked() {
    use ckpt_format::container::read_info;
    let dir = tempfile::tempdir().unwrap();
    let sample = root().join("samples/v23-rc2.x86_64.ckpt");
    let cfg = dir.path().join("src.config");
    std::fs::write(&cfg, "CONFIG_CHECKPOINT=y\nCONFIG_EPOLL=y\n").unwrap();
    let a = dir.path().join("a.ckpt");
    ok(
        &[
            "annotate",
            s(&sample),
            "-o",
            s(&a),
            "--config",
            s(&cfg),
            "--note",
            "site=lab2",
        ],
        None,
    );
    let before = read_info(&mut std::fs::File::open(&a).unwrap()).unwrap();
    // edit: the same annotations around the edited image.
    let (e1, e2) = (dir.path().join("e1.ckpt"), dir.path().join("e2.ckpt"));
    ok(
        &[
            "edit",
            s(&a),
            "-o",
            s(&e1),
            "--hostname",
            "box2",
            "--keep-annotations",
        ],
        None,
    );
    ok(
        &["edit", s(&sample), "-o", s(&e2), "--hostname", "box2"],
        None,
    );
    let after = read_info(&mut std::fs::File::open(&e1).unwrap()).unwrap();
    assert_eq!(after.annotations, before.annotations);
    let back = dir.path().join("back.ckpt");
    ok(&["strip", s(&e1), "-o", s(&back)], None);
    assert!(std::fs::read(&back).unwrap() == std::fs::read(&e2).unwrap());
    // convert, to standard output: the target's tag and config, the notes kept.
    let tcfg = dir.path().join("target.config");
    std::fs::write(&tcfg, "CONFIG_CHECKPOINT=y\nCONFIG_EPOLL=y\nCONFIG_EVENTFD=y\nCONFIG_INET=y\nCONFIG_UNIX=y\nCONFIG_SYSVIPC=y\nCONFIG_SECURITY=y\nCONFIG_PID_NS=y\n").unwrap();
    let piped = ok(
        &[
            "convert",
            s(&a),
            "--to-rev",
            "v23-rc1",
            "-o",
            "-",
            "--target-config",
            s(&tcfg),
            "--keep-annotations",
        ],
        None,
    );
    let c = read_info(&mut std::io::Cursor::new(&piped)).unwrap();
    assert_eq!(c.annotations.notes, before.annotations.notes);
    assert_eq!(c.annotations.linux_cr_tag.as_deref(), Some("ckpt-v23-rc1"));
    let gz = c.annotations.kernel_config_gz.unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
    assert!(text.contains("CONFIG_INET=y"), "{text}");
    let inner = dir.path().join("inner.ckpt");
    std::fs::write(dir.path().join("c.ckpt"), &piped).unwrap();
    ok(
        &["strip", s(&dir.path().join("c.ckpt")), "-o", s(&inner)],
        None,
    );
    let plain = ok(
        &[
            "convert",
            s(&a),
            "--to-rev",
            "v23-rc1",
            "-o",
            "-",
            "--target-config",
            s(&tcfg),
        ],
        None,
    );
    assert!(
        std::fs::read(&inner).unwrap() == plain,
        "the image inside is the plain conversion"
    );
    // Without --target-config the source's config is left out, saying so.
    let o = run(
        &[
            "convert",
            s(&a),
            "--to-rev",
            "v23-rc1",
            "-o",
            s(&e2),
            "--keep-annotations",
        ],
        None,
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("the source kernel's config is not kept"));
    let c = read_info(&mut std::fs::File::open(&e2).unwrap()).unwrap();
    assert!(
        c.annotations.kernel_config_gz.is_none() && c.annotations.notes == before.annotations.notes
    );
    // A plain input: a plain output, with a warning.
    let o = run(
        &[
            "edit",
            s(&sample),
            "-o",
            s(&e2),
            "--hostname",
            "b",
            "--keep-annotations",
        ],
        None,
    );
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("carries no annotations"));
    assert!(!std::fs::read(&e2).unwrap().starts_with(b"CKPT+ANN"));
}

#[test]
fn where_an_annotation_contradicts_the_image_the_image_wins_and_info_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let sample = root().join("samples/v23-rc2.x86_64.ckpt");
    let cfg = dir.path().join("src.config");
    std::fs::write(
        &cfg,
        "# CONFIG_INET is not set\n# CONFIG_IA32_EMULATION is not set\nCONFIG_EPOLL=y\n",
    )
    .unwrap();
    let a = dir.path().join("a.ckpt");
    ok(
        &[
            "annotate",
            s(&sample),
            "-o",
            s(&a),
            "--config",
            s(&cfg),
            "--note",
            "hostname=web9",
            "--note",
            "kernel=2.6.37",
            "--note",
            "Arch=x86_32",
            "--note",
            "site=lab",
        ],
        None,
    );
    let info = String::from_utf8(ok(&["info", s(&a)], None)).unwrap();
    for says in [
        "the image wins: note hostname=web9 says web9, but the UTS namespace's nodename is \"ckpt-sample\"",
        "the image wins: note Arch=x86_32 says x86_32, but the header's arch is \"x86_64\"",
        "the image wins: kernel config says CONFIG_IA32_EMULATION=n, but the header's ckpt_const is that of CONFIG_IA32_EMULATION=y",
        "the image wins: kernel config says CONFIG_INET is not set, but #85 SOCKET_INET",
    ] {
        assert!(info.contains(says), "{says}: {info}");
    }
    // The notes that agree (kernel) or name nothing the image holds (site) are quiet.
    assert!(
        !info.contains("note kernel=") && !info.contains("note site="),
        "{info}"
    );
    let j: serde_json::Value =
        serde_json::from_slice(&ok(&["info", "--json", s(&a)], None)).unwrap();
    common::validate("container.schema.json", &j["container"]);
    assert_eq!(
        j["container"]["contradictions"].as_array().unwrap().len(),
        4
    );
    // An image annotated with what it says has none.
    let b = dir.path().join("b.ckpt");
    ok(
        &[
            "annotate",
            s(&sample),
            "-o",
            s(&b),
            "--note",
            "hostname=ckpt-sample",
        ],
        None,
    );
    let j: serde_json::Value =
        serde_json::from_slice(&ok(&["info", "--json", s(&b)], None)).unwrap();
    assert_eq!(j["container"]["contradictions"], serde_json::json!([]));
}
