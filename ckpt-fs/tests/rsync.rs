//! rsync for real (Debian's rsync): a list of files under a root copied to a local
//! directory with their modes, times and links; failures told with rsync's exit status.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

use ckpt_fs::rsync::{self, Destination, RsyncError, RsyncOptions};

#[test]
#[ignore = "needs rsync; run with -- --ignored (CKPT_REQUIRE_COMPONENTS=1 to fail without)"]
fn listed_files_are_copied_with_their_paths_modes_times_and_links() {
    if !common::have("rsync copy", "rsync", "rsync") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    fs::create_dir_all(r.join("etc/ssl")).unwrap();
    fs::create_dir_all(r.join("usr/bin")).unwrap();
    fs::write(r.join("etc/hosts"), b"127.0.0.1 localhost\n").unwrap();
    fs::write(r.join("usr/bin/tool"), b"#!/bin/sh\n").unwrap();
    fs::set_permissions(r.join("usr/bin/tool"), fs::Permissions::from_mode(0o751)).unwrap();
    std::os::unix::fs::symlink("../hosts", r.join("etc/ssl/link")).unwrap();
    fs::write(r.join("etc/not-listed"), b"x").unwrap();
    let dest = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = [
        "etc",
        "etc/hosts",
        "etc/ssl",
        "etc/ssl/link",
        "usr/bin/tool",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    let to = Destination::parse(dest.path().join("copy").to_str().unwrap());
    let report = rsync::copy(r, &files, &to, &RsyncOptions::default()).unwrap();
    assert_eq!(report.command[0], "rsync");
    assert!(report.command.iter().any(|a| a == "-aHAX"));
    assert_eq!(report.transferred, Some(2), "{report:?}"); // hosts and tool; the link is not a regular file
    let c = dest.path().join("copy");
    assert_eq!(
        fs::read(c.join("etc/hosts")).unwrap(),
        b"127.0.0.1 localhost\n"
    );
    assert_eq!(
        fs::read_link(c.join("etc/ssl/link")).unwrap(),
        PathBuf::from("../hosts")
    );
    let tool = fs::metadata(c.join("usr/bin/tool")).unwrap();
    assert_eq!(tool.mode() & 0o7777, 0o751);
    assert_eq!(
        tool.mtime(),
        fs::metadata(r.join("usr/bin/tool")).unwrap().mtime()
    );
    assert!(
        !c.join("etc/not-listed").exists(),
        "a file not listed was copied"
    );

    // Again with --checksum: nothing to transfer.
    let again = rsync::copy(r, &files, &to, &RsyncOptions { checksum: true }).unwrap();
    assert!(again.command.iter().any(|a| a == "--checksum"));
    assert_eq!(again.transferred, Some(0), "{again:?}");
}

#[test]
#[ignore = "needs rsync; run with -- --ignored (CKPT_REQUIRE_COMPONENTS=1 to fail without)"]
fn a_listed_file_that_is_gone_fails_with_rsyncs_status_in_words() {
    if !common::have("rsync failure", "rsync", "rsync") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    fs::write(root.path().join("here"), b"x").unwrap();
    let dest = tempfile::tempdir().unwrap();
    let files = vec![PathBuf::from("here"), PathBuf::from("gone")];
    let to = Destination::Local(dest.path().to_path_buf());
    let e = rsync::copy(root.path(), &files, &to, &RsyncOptions::default()).unwrap_err();
    let t = e.to_string();
    assert!(matches!(e, RsyncError::Failed { code: 23, .. }), "{t}");
    assert!(
        t.starts_with("rsync failed with exit status 23 (partial transfer due to error)"),
        "{t}"
    );
    assert!(t.contains("gone"), "{t}");
}

/// The builder image's files snapshot with rsync to a local directory: the manifest
/// beside it, read back, and the copy verified against it.
#[test]
#[ignore = "needs rsync; run with -- --ignored (CKPT_REQUIRE_COMPONENTS=1 to fail without)"]
fn an_rsync_snapshot_copies_what_the_image_needs_and_its_manifest_verifies_the_copy() {
    use ckpt_fs::lookup::Root;
    use ckpt_fs::manifest::{ImageIdentity, Manifest, Method};
    use ckpt_fs::snapshot::{Request, rsync as method};

    if !common::have("rsync snapshot", "rsync", "rsync") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fs::create_dir(&src).unwrap();
    common::tree(&src);
    let img = common::image_file(d.path());
    let image = ImageIdentity::of_file(&img).unwrap();
    let list = common::list(&fs::read(&img).unwrap());
    let root = Root::open(&src).unwrap();
    let req = Request {
        image: &image,
        list: &list,
        root: &root,
        includes: &[],
    };
    let dest = d.path().join("copy");
    let done = method::snapshot(
        &req,
        &Destination::Local(dest.clone()),
        None,
        &RsyncOptions::default(),
    )
    .unwrap();
    let beside = d.path().join("copy.manifest.json");
    assert_eq!(done.summary.dest, beside);
    let m = Manifest::from_reader(fs::File::open(&beside).unwrap()).unwrap();
    assert_eq!(m.method, Method::Rsync);
    assert_eq!(m.image, image);
    assert!(
        m.files
            .iter()
            .any(|e| e.path == "/usr/lib/bin/task0" && e.needed)
    );
    assert!(
        m.files
            .iter()
            .any(|e| e.path == "/usr/bin" && e.target.as_deref() == Some("lib/bin"))
    );
    assert!(m.skipped.iter().any(|s| s.path == "/dev/null"));
    assert_eq!(
        done.summary.bytes,
        m.files.iter().map(|e| e.size).sum::<u64>()
    );
    let v = m.verify(&Root::open(&dest).unwrap());
    assert!(v.complete(), "{:?}", v.failures().collect::<Vec<_>>());
    assert_eq!(
        fs::read(dest.join("var/log/task0.log")).unwrap(),
        fs::read(src.join("var/log/task0.log")).unwrap()
    );
    // Changed afterwards: the manifest says which file and how.
    fs::write(dest.join("var/log/task1.log"), b"other").unwrap();
    let v = m.verify(&Root::open(&dest).unwrap());
    let bad: Vec<_> = v.failures().map(|c| c.path.path.as_str()).collect();
    assert_eq!(bad, ["/var/log/task1.log"]);

    // A remote destination needs to be told where the manifest stays here.
    let e = method::snapshot(
        &req,
        &Destination::parse("host:/srv/x"),
        None,
        &RsyncOptions::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("needs --manifest FILE"), "{e}");
}
