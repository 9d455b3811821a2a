//! btrfs snapshots, send and receive for real: a btrfs made by the test on a loop device
//! (root, btrfs-progs), unmounted and removed also when the test fails.

mod common;

use std::fs;
use std::path::Path;

use ckpt_fs::btrfs::{self, BtrfsError};
use common::LoopBtrfs;

#[test]
#[ignore = "needs root, a loop device and btrfs-progs; run with -- --ignored (CKPT_REQUIRE_COMPONENTS=1 to fail without)"]
fn the_subvolume_holding_a_root_is_found_with_the_root_inside_it() {
    let Some(fs_) = LoopBtrfs::new("subvolume holding") else {
        return;
    };
    let sv = fs_.subvolume("sv");
    fs::create_dir_all(sv.join("srv/root/etc")).unwrap();
    let (top, rel) = btrfs::subvolume_holding(&sv.join("srv/root")).unwrap();
    assert_eq!(top, fs::canonicalize(&sv).unwrap());
    assert_eq!(rel, Path::new("srv/root"));
    // A directory of the top-level subvolume is held by it.
    fs::create_dir(fs_.path().join("plain")).unwrap();
    let (top, rel) = btrfs::subvolume_holding(&fs_.path().join("plain")).unwrap();
    assert_eq!(top, fs::canonicalize(fs_.path()).unwrap());
    assert_eq!(rel, Path::new("plain"));
}

#[test]
#[ignore = "needs root, a loop device and btrfs-progs; run with -- --ignored (CKPT_REQUIRE_COMPONENTS=1 to fail without)"]
fn snapshots_are_read_only_and_do_not_follow_later_changes() {
    let Some(fs_) = LoopBtrfs::new("snapshot") else {
        return;
    };
    let sv = fs_.subvolume("sv");
    fs::write(sv.join("f"), b"before").unwrap();
    let origin = btrfs::show(&sv).unwrap();
    assert!(!origin.readonly);
    let snap = btrfs::snapshot_readonly(&sv, &fs_.path().join("snap")).unwrap();
    assert!(snap.readonly);
    assert_eq!(snap.parent_uuid.as_deref(), Some(origin.uuid.as_str()));
    assert_ne!(snap.uuid, origin.uuid);
    fs::write(sv.join("f"), b"after").unwrap();
    assert_eq!(fs::read(fs_.path().join("snap/f")).unwrap(), b"before");
    assert!(
        fs::write(fs_.path().join("snap/g"), b"x").is_err(),
        "a read-only snapshot took a write"
    );
    // Never over anything.
    let e = btrfs::snapshot_readonly(&sv, &fs_.path().join("snap")).unwrap_err();
    assert!(matches!(e, BtrfsError::Exists(_)), "{e}");
    // Taken back.
    btrfs::delete(&snap.path).unwrap();
    assert!(!fs_.path().join("snap").exists());
    assert!(btrfs::delete(&snap.path).is_err());
}

#[test]
#[ignore = "needs root, a loop device and btrfs-progs; run with -- --ignored (CKPT_REQUIRE_COMPONENTS=1 to fail without)"]
fn a_snapshot_on_another_filesystem_is_refused_naming_both() {
    let (Some(a), Some(b)) = (LoopBtrfs::new("other fs a"), LoopBtrfs::new("other fs b")) else {
        return;
    };
    let sv = a.subvolume("sv");
    let e = btrfs::snapshot_readonly(&sv, &b.path().join("snap")).unwrap_err();
    let t = e.to_string();
    assert!(matches!(e, BtrfsError::OtherFilesystem { .. }), "{t}");
    assert!(t.contains("is not on the filesystem of"), "{t}");
    assert!(!b.path().join("snap").exists());
    // A destination that is not on btrfs at all.
    let tmp = tempfile::tempdir().unwrap();
    let e = btrfs::snapshot_readonly(&sv, &tmp.path().join("snap")).unwrap_err();
    assert!(matches!(e, BtrfsError::OtherFilesystem { .. }), "{e}");
}

#[test]
#[ignore = "needs root, a loop device and btrfs-progs; run with -- --ignored (CKPT_REQUIRE_COMPONENTS=1 to fail without)"]
fn send_and_incremental_send_are_received_on_another_filesystem() {
    let (Some(src), Some(dst)) = (LoopBtrfs::new("send a"), LoopBtrfs::new("send b")) else {
        return;
    };
    let sv = src.subvolume("sv");
    fs::create_dir(sv.join("etc")).unwrap();
    fs::write(sv.join("etc/hosts"), b"127.0.0.1 localhost\n").unwrap();
    let s1 = btrfs::snapshot_readonly(&sv, &src.path().join("s1")).unwrap();
    fs::write(sv.join("etc/new"), b"second").unwrap();
    fs::write(sv.join("etc/hosts"), b"10.0.0.1 changed\n").unwrap();
    let s2 = btrfs::snapshot_readonly(&sv, &src.path().join("s2")).unwrap();
    let streams = tempfile::tempdir().unwrap();
    let full = streams.path().join("s1.stream");
    let incr = streams.path().join("s2.stream");
    btrfs::send(&s1.path, None, &full).unwrap();
    btrfs::send(&s2.path, Some(&s1.path), &incr).unwrap();
    assert!(fs::metadata(&incr).unwrap().len() < fs::metadata(&full).unwrap().len() + 4096);

    let r1 = btrfs::receive(&full, dst.path()).unwrap();
    assert_eq!(r1.path, dst.path().join("s1"));
    assert_eq!(r1.received_uuid.as_deref(), Some(s1.uuid.as_str()));
    let r2 = btrfs::receive(&incr, dst.path()).unwrap();
    assert_eq!(r2.received_uuid.as_deref(), Some(s2.uuid.as_str()));
    assert_eq!(
        fs::read(r1.path.join("etc/hosts")).unwrap(),
        b"127.0.0.1 localhost\n"
    );
    assert!(!r1.path.join("etc/new").exists());
    assert_eq!(
        fs::read(r2.path.join("etc/hosts")).unwrap(),
        b"10.0.0.1 changed\n"
    );
    assert_eq!(fs::read(r2.path.join("etc/new")).unwrap(), b"second");

    // An incremental stream whose parent the receiver lacks fails with btrfs's words.
    let Some(empty) = LoopBtrfs::new("send c") else {
        return;
    };
    let e = btrfs::receive(&incr, empty.path()).unwrap_err();
    assert!(
        e.to_string().starts_with("btrfs failed with exit status 1"),
        "{e}"
    );
}

#[test]
#[ignore = "needs root, a loop device and btrfs-progs; run with -- --ignored (CKPT_REQUIRE_COMPONENTS=1 to fail without)"]
fn receive_into_a_directory_not_on_btrfs_says_what_it_is_on() {
    let Some(src) = LoopBtrfs::new("receive not btrfs") else {
        return;
    };
    let sv = src.subvolume("sv");
    let s1 = btrfs::snapshot_readonly(&sv, &src.path().join("s1")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let stream = tmp.path().join("s.stream");
    btrfs::send(&s1.path, None, &stream).unwrap();
    let e = btrfs::receive(&stream, tmp.path()).unwrap_err();
    assert!(matches!(e, BtrfsError::NotBtrfs { .. }), "{e}");
    assert!(e.to_string().contains("is not on btrfs: it is on"), "{e}");
}
