//! `ckpt fs list` and `ckpt fs verify` from the command line: the JSON of every revision
//! × arch against its schema, a tree with paths present, missing, of the wrong type and
//! size and a symbolic link out of it, exit codes, containers and standard input.

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use ckpt_format::build::BuildOptions;
use common::{ckpt, run, s, validate};

fn json(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out).unwrap()
}

fn sample() -> Vec<u8> {
    fs::read(common::root().join("samples/v23-rc2.x86_64.ckpt")).unwrap()
}

/// The entry of `path` in a `--json` output's paths.
fn entry<'v>(v: &'v serde_json::Value, path: &str) -> &'v serde_json::Value {
    v["paths"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == path)
        .unwrap_or_else(|| panic!("no {path} in {v}"))
}

/// Requires exit status `code`, showing standard error otherwise.
fn exits(o: &std::process::Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The sample image, written in `dir`.
fn sample_in(dir: &Path) -> std::path::PathBuf {
    let img = dir.join("img.ckpt");
    fs::write(&img, sample()).unwrap();
    img
}

fn file(root: &Path, path: &str, len: usize) {
    let p = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, vec![b'x'; len]).unwrap();
}

#[test]
fn list_json_of_every_revision_and_arch_validates_and_names_the_builder_paths() {
    for (schema, arch) in ckpt_tests::all_pairs() {
        let img = ckpt_tests::image(schema, arch, &BuildOptions::default());
        let o = run(&["fs", "list", "-", "--json"], Some(&img));
        assert!(
            o.status.success(),
            "{} {arch}: {}",
            schema.id,
            String::from_utf8_lossy(&o.stderr)
        );
        let v = json(&o.stdout);
        validate("fs-list.schema.json", &v);
        // Detection may name a revision that reads the image identically.
        assert!(v["revision"].as_str().is_some_and(|r| !r.is_empty()));
        let paths: Vec<&str> = v["paths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["path"].as_str().unwrap())
            .collect();
        for want in [
            "/usr/bin/task0",
            "/var/log/task1.log",
            "/run/fifo0",
            "/run/app0.sock",
        ] {
            assert!(paths.contains(&want), "{} {arch}: {paths:?}", schema.id);
        }
        assert!(v["root"].is_null() && v["paths"][0].get("state").is_none());
    }
}

#[test]
fn list_shows_each_task_with_its_uses_and_with_root_their_state() {
    let d = tempfile::tempdir().unwrap();
    file(d.path(), "/usr/bin/task0", 7);
    let o = run(&["fs", "list", "-", "--root", s(d.path())], Some(&sample()));
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("pid 1 \"init\""), "{text}");
    assert!(text.contains("open file      /var/log/task0.log  fd 3 read-write pos 540561 cloexec  (missing: /var does not exist)"), "{text}");
    assert!(
        text.contains("executable     /usr/bin/task0  (regular file, 7 bytes, 0644"),
        "{text}"
    );
    assert!(
        text.contains("mapped file    /usr/bin/task0  00400000-00404000 private at 0"),
        "{text}"
    );
    assert!(text.contains("cwd            /srv/app"), "{text}");
    let o = run(
        &["fs", "list", "-", "--root", s(d.path()), "--json"],
        Some(&sample()),
    );
    let v = json(&o.stdout);
    validate("fs-list.schema.json", &v);
    let exe = entry(&v, "/usr/bin/task0");
    assert_eq!(exe["state"]["presence"], "present");
    assert_eq!(exe["state"]["size"], 7);
    assert_eq!(exe["expects"], "regular");
    assert_eq!(exe["uses"][0]["use"], "executable");
    assert_eq!(exe["uses"][0]["tasks"][0]["comm"], "init");
}

/// A tree with the executable right, the log too short, the cwd a file, and the other
/// executable a link to /etc/passwd, which the host has and the tree has not.
fn partial_tree(r: &Path) {
    file(r, "/usr/bin/task0", 100);
    file(r, "/var/log/task0.log", 10);
    file(r, "/srv/app", 1);
    symlink("/etc/passwd", r.join("usr/bin/task1")).unwrap();
}

#[test]
fn verify_names_each_file_that_is_not_there_with_its_tasks_and_uses() {
    let d = tempfile::tempdir().unwrap();
    partial_tree(d.path());
    let o = run(
        &["fs", "verify", "-", "--root", s(d.path())],
        Some(&sample()),
    );
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8(o.stdout).unwrap();
    for want in [
        "/var/log/task0.log: 10 bytes, shorter than the position 540561 of its descriptor\n  used by pid 1 \"init\" (open file fd 3 read-write pos 540561 cloexec)",
        "/srv/app: a regular file, not a directory\n  used by pid 1 \"init\" (cwd)\n  used by pid 2 \"sshd\" (cwd)",
        "/usr/bin/task1: missing: /etc does not exist\n  used by pid 2 \"sshd\" (executable)",
        "/run/app0.sock: missing: /run does not exist (not needed)",
        "paths the restart needs are not as the image records",
    ] {
        assert!(text.contains(want), "{want}\n---\n{text}");
    }
    assert!(!text.contains("/usr/bin/task0:"), "{text}");
    let o = run(
        &["fs", "verify", "-", "--root", s(d.path()), "--json"],
        Some(&sample()),
    );
    exits(&o, 1);
    let v = json(&o.stdout);
    validate("fs-verify.schema.json", &v);
    assert_eq!(v["complete"], false);
    let outcome = |p: &str| entry(&v, p)["outcome"].clone();
    assert_eq!(outcome("/usr/bin/task0"), "ok");
    assert_eq!(outcome("/var/log/task0.log"), "different-size");
    assert_eq!(outcome("/srv/app"), "different-type");
    assert_eq!(outcome("/usr/bin/task1"), "missing");
}

/// A tree at `r` with every path `img` needs, as it records them.
fn complete_tree(img: &Path, r: &Path) {
    let o = run(&["fs", "list", s(img), "--json"], None);
    for p in json(&o.stdout)["paths"].as_array().unwrap() {
        if p["needed"] != true {
            continue;
        }
        let path = p["path"].as_str().unwrap();
        match p["expects"].as_str() {
            Some("directory") => fs::create_dir_all(r.join(path.trim_start_matches('/'))).unwrap(),
            Some("fifo") => {
                let at = r.join(path.trim_start_matches('/'));
                fs::create_dir_all(at.parent().unwrap()).unwrap();
                assert!(
                    std::process::Command::new("mkfifo")
                        .arg(&at)
                        .status()
                        .unwrap()
                        .success()
                );
            }
            _ => file(
                r,
                path,
                p["recorded"]["min_size"].as_u64().unwrap_or(0) as usize,
            ),
        }
    }
}

#[test]
fn verify_of_a_complete_tree_exits_0_also_for_a_container() {
    let d = tempfile::tempdir().unwrap();
    let img = sample_in(d.path());
    let r = d.path().join("root");
    complete_tree(&img, &r);
    let o = run(&["fs", "verify", s(&img), "--root", s(&r)], None);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("everything the restart needs is there"));
    let boxed = d.path().join("boxed.ckpt");
    common::ckpt_ok(&["annotate", s(&img), "-o", s(&boxed), "--note", "a=b"]);
    let o = run(
        &["fs", "verify", s(&boxed), "--root", s(&r), "--json"],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
    let v = json(&o.stdout);
    validate("fs-verify.schema.json", &v);
    assert_eq!(v["complete"], true);
    // The container on standard input too.
    let o = run(
        &["fs", "verify", "-", "--root", s(&r)],
        Some(&fs::read(&boxed).unwrap()),
    );
    exits(&o, 0);
}

#[test]
fn a_root_that_is_not_a_directory_is_a_usage_error_with_the_reason() {
    let d = tempfile::tempdir().unwrap();
    let img = sample_in(d.path());
    let none = d.path().join("none");
    for (cmd, root, why) in [
        ("verify", &none, "does not exist"),
        ("list", &none, "does not exist"),
        ("verify", &img, "not a directory (a regular file)"),
    ] {
        let o = ckpt(&["fs", cmd, s(&img), "--root", s(root)]);
        assert_eq!(o.status.code(), Some(2), "{cmd}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&format!("--root {}: {why}", s(root))), "{err}");
        assert!(o.stdout.is_empty());
    }
    let o = ckpt(&["fs", "verify", s(&img)]);
    assert_eq!(o.status.code(), Some(2), "--root is required");
}

#[test]
fn a_bad_image_is_refused_naming_it_and_the_record() {
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("cut.ckpt");
    let full = sample();
    fs::write(&img, &full[..full.len() / 3]).unwrap();
    let o = ckpt(&["fs", "list", s(&img)]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cut.ckpt"), "{err}");
    let missing = d.path().join("absent.ckpt");
    let o = ckpt(&["fs", "list", s(&missing)]);
    exits(&o, 3);
}

#[test]
fn a_file_deleted_while_open_is_listed_as_deleted_and_not_looked_for() {
    let d = tempfile::tempdir().unwrap();
    let img = sample_in(d.path());
    let del = d.path().join("deleted.ckpt");
    let rename = "/var/log/task0.log=/var/log/task0.log (deleted)";
    common::ckpt_ok(&["edit", s(&img), "-o", s(&del), "--path", rename]);
    let o = run(&["fs", "list", s(&del), "--json"], None);
    let v = json(&o.stdout);
    validate("fs-list.schema.json", &v);
    let p = entry(&v, "/var/log/task0.log (deleted)");
    assert_eq!(p["recorded"]["deleted"], true);
    assert_eq!(p["needed"], false);
    let o = run(&["fs", "verify", s(&del), "--root", s(d.path())], None);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("/var/log/task0.log (deleted): not checked: deleted when the image was taken (not needed)"),
        "{text}"
    );
}

/// The manifest member of the tar snapshot `archive` (plain), as JSON.
fn manifest_in(archive: &Path) -> serde_json::Value {
    let mut ar = tar::Archive::new(fs::File::open(archive).unwrap());
    let mut last = None;
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut v).unwrap();
        last = Some((e.path().unwrap().display().to_string(), v));
    }
    let (name, bytes) = last.unwrap();
    assert_eq!(name, ".ckpt-manifest.json");
    serde_json::from_slice(&bytes).unwrap()
}

/// `ckpt fs snapshot IMG --root ROOT --method tar -o OUT`.
fn snapshot_args<'a>(img: &'a Path, root: &'a Path, out: &'a Path) -> [&'a str; 9] {
    let (img, root, out) = (s(img), s(root), s(out));
    [
        "fs", "snapshot", img, "--root", root, "--method", "tar", "-o", out,
    ]
}

/// `ckpt fs verify IMG --root ROOT --manifest M [--json]`.
fn verify_manifest(img: &Path, root: &Path, m: &Path, json: bool) -> std::process::Output {
    let mut args = vec![
        "fs",
        "verify",
        s(img),
        "--root",
        s(root),
        "--manifest",
        s(m),
    ];
    if json {
        args.push("--json");
    }
    run(&args, None)
}

#[test]
fn snapshot_verify_manifest_and_restore_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let img = sample_in(d.path());
    let r = d.path().join("root");
    complete_tree(&img, &r);
    file(&r, "/etc/app/conf", 5);
    for zstd in [false, true] {
        let dest = d.path().join(if zstd { "s.tar.zst" } else { "s.tar" });
        let mut args = snapshot_args(&img, &r, &dest).to_vec();
        args.extend(["--include", "/etc/app", "--json"]);
        if zstd {
            args.push("--zstd");
        }
        let o = run(&args, None);
        exits(&o, 0);
        let v = json(&o.stdout);
        validate("fs-snapshot.schema.json", &v);
        assert_eq!(
            (v["method"].clone(), v["compressed"].clone()),
            ("tar".into(), zstd.into())
        );
        assert!(v["files"].as_u64().unwrap() > 10);
        let skipped: Vec<&str> = v["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["path"].as_str().unwrap())
            .collect();
        assert!(skipped.contains(&"/dev/null"), "{skipped:?}");
        let o = verify_manifest(&img, &r, &dest, true);
        exits(&o, 0);
        let v = json(&o.stdout);
        validate("fs-verify.schema.json", &v);
        assert_eq!(v["manifest"], s(&dest));
        assert_eq!(v["format_version"], "1.1.0");
    }
    let dest = d.path().join("s.tar");
    let m = manifest_in(&dest);
    validate("fs-manifest.schema.json", &m);
    let files = m["files"].as_array().unwrap();
    let conf = files.iter().find(|f| f["path"] == "/etc/app/conf").unwrap();
    assert_eq!(
        (conf["needed"].clone(), conf["size"].clone()),
        (false.into(), 5.into())
    );
    let json_manifest = d.path().join("m.json");
    fs::write(&json_manifest, serde_json::to_vec(&m).unwrap()).unwrap();
    // Same size, other content: the manifest says so, with the tasks.
    let log = r.join("var/log/task0.log");
    fs::write(&log, vec![b'y'; fs::metadata(&log).unwrap().len() as usize]).unwrap();
    let o = verify_manifest(&img, &r, &json_manifest, false);
    exits(&o, 1);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("/var/log/task0.log: content of sha256 "),
        "{text}"
    );
    assert!(
        text.contains("used by pid 1 \"init\" (open file fd 3"),
        "{text}"
    );
    // Restored into an empty tree: everything as the manifest records it.
    let out = d.path().join("out");
    fs::create_dir(&out).unwrap();
    let o = run(
        &["fs", "restore", s(&dest), "--root", s(&out), "--json"],
        None,
    );
    exits(&o, 0);
    let v = json(&o.stdout);
    validate("fs-restore.schema.json", &v);
    assert_eq!(v["complete"], true);
    assert_eq!(fs::read(out.join("etc/app/conf")).unwrap(), b"xxxxx");
    let o = verify_manifest(&img, &out, &dest, false);
    exits(&o, 0);
    let args = ["fs", "restore", s(&dest), "--root", s(&out)];
    let o = ckpt(&args);
    exits(&o, 1);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("exists there under the root (--overwrite replaces it)"),
        "{err}"
    );
    common::assert_no_debug_text(&args, &o.stderr);
    let o = run(
        &["fs", "restore", s(&dest), "--root", s(&out), "--overwrite"],
        None,
    );
    exits(&o, 0);
    assert!(String::from_utf8_lossy(&o.stdout).contains("replaced"));
}

#[test]
fn bad_input_to_snapshot_verify_and_restore_is_refused_with_the_reason() {
    let d = tempfile::tempdir().unwrap();
    let img = sample_in(d.path());
    let r = d.path().join("root");
    complete_tree(&img, &r);
    let dest = d.path().join("s.tar");
    let none = d.path().join("none");
    common::ckpt_ok(&snapshot_args(&img, &r, &dest));
    let check = |args: &[&str], code: i32, want: &str| {
        let o = ckpt(args);
        exits(&o, code);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{args:?}: {want}\n{err}");
        common::assert_no_debug_text(args, &o.stderr);
    };
    let x = d.path().join("x.tar");
    check(&snapshot_args(&img, &none, &x), 2, "does not exist");
    check(
        &["fs", "restore", s(&dest), "--root", s(&none)],
        2,
        "does not exist",
    );
    check(
        &[
            "fs",
            "verify",
            s(&img),
            "--root",
            s(&none),
            "--manifest",
            s(&dest),
        ],
        2,
        "does not exist",
    );
    check(
        &[
            "fs",
            "snapshot",
            "-",
            "--root",
            s(&r),
            "--method",
            "tar",
            "-o",
            s(&none),
        ],
        2,
        "give IMAGE as a file",
    );
    // A needed file missing: named with its tasks, and no DEST.
    fs::remove_file(r.join("usr/bin/task1")).unwrap();
    check(
        &snapshot_args(&img, &r, &x),
        1,
        "/usr/bin/task1 is needed by pid 2 \"sshd\" (executable)",
    );
    assert!(!x.exists());
    // The manifest of another image: exit 2, both sha256 named.
    let other = d.path().join("other.ckpt");
    common::ckpt_ok(&[
        "edit",
        s(&img),
        "-o",
        s(&other),
        "--path",
        "/srv/app=/srv/other",
    ]);
    let o = ckpt(&[
        "fs",
        "verify",
        s(&other),
        "--root",
        s(&r),
        "--manifest",
        s(&dest),
    ]);
    exits(&o, 2);
    let err = String::from_utf8_lossy(&o.stderr);
    let m = manifest_in(&dest);
    let theirs = m["image"]["sha256"].as_str().unwrap();
    assert!(
        err.contains(&format!("it names sha256 {theirs}, the image has sha256 ")),
        "{err}"
    );
    // A tar that is not a snapshot.
    let plain = d.path().join("plain.tar");
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    b.append_data(&mut h, "a", &b"a"[..]).unwrap();
    fs::write(&plain, b.into_inner().unwrap()).unwrap();
    let out = d.path().join("out");
    fs::create_dir(&out).unwrap();
    check(
        &["fs", "restore", s(&plain), "--root", s(&out)],
        1,
        "not a ckpt snapshot: no manifest",
    );
    assert_eq!(fs::read_dir(&out).unwrap().count(), 0);
    check(
        &[
            "fs",
            "verify",
            s(&img),
            "--root",
            s(&r),
            "--manifest",
            s(&plain),
        ],
        2,
        "neither a manifest nor a ckpt snapshot",
    );
    check(
        &["fs", "restore", s(&img), "--root", s(&out)],
        1,
        "not a tar archive",
    );
}
