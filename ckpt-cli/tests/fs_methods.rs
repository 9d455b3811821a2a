//! `ckpt fs snapshot --method rsync|btrfs` and `ckpt fs receive` from the command line,
//! with the real programs: rsync to a local directory; btrfs on loop devices made by the
//! test (root), snapshot, send, receive on another filesystem, verify there. Ignored
//! without them (CKPT_REQUIRE_COMPONENTS=1 fails instead), as CI runs them.

mod common;
/// The builder image and a tree with every file it needs (ckpt-fs's test fixtures).
#[path = "../../ckpt-fs/tests/common/mod.rs"]
mod fs_fixtures;

use std::fs;
use std::path::Path;

use common::{run, s, validate};
use fs_fixtures::{LoopBtrfs, have};

const TMP: &str = env!("CARGO_TARGET_TMPDIR");

fn json(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out).unwrap()
}

/// Requires exit status `code`, showing standard error otherwise.
fn exits(o: &std::process::Output, code: i32) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(code), "{err}");
    common::assert_no_debug_text(&[], &o.stderr);
    err
}

#[test]
#[ignore = "needs rsync; run with -- --ignored (CKPT_REQUIRE_COMPONENTS=1 to fail without)"]
fn rsync_snapshot_then_verify_with_its_manifest() {
    if !have("fs snapshot rsync", "rsync", "rsync") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let img = fs_fixtures::image_file(d.path());
    let src = d.path().join("src");
    fs::create_dir(&src).unwrap();
    fs_fixtures::tree(&src);
    let dest = d.path().join("copy");
    let o = run(
        &[
            "fs",
            "snapshot",
            s(&img),
            "--root",
            s(&src),
            "--method",
            "rsync",
            "-o",
            s(&dest),
            "--checksum",
            "--json",
        ],
        None,
    );
    exits(&o, 0);
    let v = json(&o.stdout);
    validate("fs-snapshot.schema.json", &v);
    assert_eq!(v["method"], "rsync");
    let manifest = d.path().join("copy.manifest.json");
    assert_eq!(v["manifest"], s(&manifest));
    assert!(
        v["rsync"]["command"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "--checksum")
    );
    assert!(v["rsync"]["transferred"].as_u64().unwrap() >= 4, "{v}");
    validate(
        "fs-manifest.schema.json",
        &json(&fs::read(&manifest).unwrap()),
    );
    let o = run(
        &[
            "fs",
            "verify",
            s(&img),
            "--root",
            s(&dest),
            "--manifest",
            s(&manifest),
        ],
        None,
    );
    exits(&o, 0);
    // Changed after the copy: verify names it and exits 1.
    fs::write(dest.join("var/log/task0.log"), b"changed").unwrap();
    let o = run(
        &[
            "fs",
            "verify",
            s(&img),
            "--root",
            s(&dest),
            "--manifest",
            s(&manifest),
        ],
        None,
    );
    exits(&o, 1);
    assert!(String::from_utf8_lossy(&o.stdout).contains("/var/log/task0.log"));

    // Options of another method are usage errors, before anything is written.
    for (extra, opt) in [("--zstd", "--zstd"), ("--send=x", "--send")] {
        let o = run(
            &[
                "fs",
                "snapshot",
                s(&img),
                "--root",
                s(&src),
                "--method",
                "rsync",
                "-o",
                s(&d.path().join("c2")),
                extra,
            ],
            None,
        );
        let err = exits(&o, 2);
        assert!(err.contains(opt), "{err}");
        assert!(!d.path().join("c2").exists());
    }
    // A remote destination needs --manifest.
    let o = run(
        &[
            "fs",
            "snapshot",
            s(&img),
            "--root",
            s(&src),
            "--method",
            "rsync",
            "-o",
            "host:/x",
        ],
        None,
    );
    let err = exits(&o, 3);
    assert!(err.contains("--manifest FILE"), "{err}");
}

#[test]
#[ignore = "needs root, a loop device and btrfs-progs; run with -- --ignored (CKPT_REQUIRE_COMPONENTS=1 to fail without)"]
fn btrfs_snapshot_send_receive_and_verify_on_another_filesystem() {
    let (Some(a), Some(b)) = (
        LoopBtrfs::new_in("fs snapshot btrfs a", TMP),
        LoopBtrfs::new_in("fs snapshot btrfs b", TMP),
    ) else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let img = fs_fixtures::image_file(d.path());
    let ct = a.subvolume("ct");
    let rootfs = ct.join("rootfs");
    fs::create_dir(&rootfs).unwrap();
    fs_fixtures::tree(&rootfs);
    let snap1 = a.path().join("ct-1");
    let stream1 = d.path().join("ct-1.stream");
    let o = run(
        &[
            "fs",
            "snapshot",
            s(&img),
            "--root",
            s(&rootfs),
            "--method",
            "btrfs",
            "-o",
            s(&snap1),
            "--send",
            s(&stream1),
            "--json",
        ],
        None,
    );
    exits(&o, 0);
    let v = json(&o.stdout);
    validate("fs-snapshot.schema.json", &v);
    assert_eq!(v["btrfs"]["snapshot"], s(&snap1));
    assert_eq!(v["btrfs"]["stream"]["file"], s(&stream1));
    let m1 = a.path().join("ct-1.manifest.json");
    let manifest = json(&fs::read(&m1).unwrap());
    validate("fs-manifest.schema.json", &manifest);
    assert_eq!(manifest["btrfs"]["uuid"], v["btrfs"]["uuid"]);

    // An incremental one, in words this time.
    fs::write(rootfs.join("var/log/task1.log"), b"later").unwrap();
    let snap2 = a.path().join("ct-2");
    let stream2 = d.path().join("ct-2.stream");
    let o = run(
        &[
            "fs",
            "snapshot",
            s(&img),
            "--root",
            s(&rootfs),
            "--method",
            "btrfs",
            "-o",
            s(&snap2),
            "--send",
            s(&stream2),
            "--parent",
            s(&snap1),
        ],
        None,
    );
    exits(&o, 0);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("read-only snapshot") && out.contains("incremental from"),
        "{out}"
    );

    // Received on the other filesystem, checked against the manifests.
    let m2 = a.path().join("ct-2.manifest.json");
    for (stream, m) in [(&stream1, &m1), (&stream2, &m2)] {
        let o = run(
            &[
                "fs",
                "receive",
                s(stream),
                "--into",
                s(b.path()),
                "--manifest",
                s(m),
                "--json",
            ],
            None,
        );
        exits(&o, 0);
        let v = json(&o.stdout);
        validate("fs-receive.schema.json", &v);
        assert_eq!(v["complete"], true, "{v}");
    }
    let got = b.path().join("ct-2/rootfs");
    assert_eq!(fs::read(got.join("var/log/task1.log")).unwrap(), b"later");
    let o = run(
        &[
            "fs",
            "verify",
            s(&img),
            "--root",
            s(&got),
            "--manifest",
            s(&m2),
        ],
        None,
    );
    exits(&o, 0);

    // A root that is not on btrfs: named with what it is on, exit 3, nothing made.
    let plain = d.path().join("plain");
    fs::create_dir(&plain).unwrap();
    fs_fixtures::tree(&plain);
    let o = run(
        &[
            "fs",
            "snapshot",
            s(&img),
            "--root",
            s(&plain),
            "--method",
            "btrfs",
            "-o",
            s(&a.path().join("ct-3")),
        ],
        None,
    );
    let err = exits(&o, 3);
    assert!(err.contains("is not on btrfs: it is on"), "{err}");
    assert!(!Path::new(&a.path().join("ct-3")).exists());
}
