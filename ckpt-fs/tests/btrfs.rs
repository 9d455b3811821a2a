//! btrfs snapshots, send and receive for real: a btrfs made by the test on a loop device
//! (root, btrfs-progs), unmounted and removed also when the test fails.

mod common;

use std::fs;
use std::path::Path;

use ckpt_fs::btrfs::{self, BtrfsError};
use common::LoopBtrfs;

/// Where the tests' btrfs images go: under target/.
const TMP: &str = env!("CARGO_TARGET_TMPDIR");

#[test]
#[ignore = "needs root, a loop device and btrfs-progs; run with -- --ignored (CKPT_REQUIRE_COMPONENTS=1 to fail without)"]
fn the_subvolume_holding_a_root_is_found_with_the_root_inside_it() {
    let Some(fs_) = LoopBtrfs::new_in("subvolume holding", TMP) else {
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
    let Some(fs_) = LoopBtrfs::new_in("snapshot", TMP) else {
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
    let (Some(a), Some(b)) = (
        LoopBtrfs::new_in("other fs a", TMP),
        LoopBtrfs::new_in("other fs b", TMP),
    ) else {
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
    let (Some(src), Some(dst)) = (
        LoopBtrfs::new_in("send a", TMP),
        LoopBtrfs::new_in("send b", TMP),
    ) else {
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
    let Some(empty) = LoopBtrfs::new_in("send c", TMP) else {
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
    let Some(src) = LoopBtrfs::new_in("receive not btrfs", TMP) else {
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

/// What the btrfs snapshot tests share: a btrfs with the subvolume `ct` holding the
/// builder image's tree under `ct/rootfs`, and the image.
struct Scene {
    fs: LoopBtrfs,
    dir: tempfile::TempDir,
    image: ckpt_fs::manifest::ImageIdentity,
    list: ckpt_fs::paths::PathList,
}

impl Scene {
    fn new(test: &str) -> Option<Scene> {
        let fs_ = LoopBtrfs::new_in(test, TMP)?;
        let ct = fs_.subvolume("ct");
        fs::create_dir(ct.join("rootfs")).unwrap();
        common::tree(&ct.join("rootfs"));
        let dir = tempfile::tempdir().unwrap();
        let img = common::image_file(dir.path());
        Some(Scene {
            image: ckpt_fs::manifest::ImageIdentity::of_file(&img).unwrap(),
            list: common::list(&fs::read(&img).unwrap()),
            fs: fs_,
            dir,
        })
    }

    fn rootfs(&self) -> std::path::PathBuf {
        self.fs.path().join("ct/rootfs")
    }

    fn snapshot(
        &self,
        dest: &Path,
        send: Option<&ckpt_fs::snapshot::btrfs::Send>,
    ) -> ckpt_fs::Result<ckpt_fs::snapshot::btrfs::BtrfsSnapshotDone> {
        let root = ckpt_fs::lookup::Root::open(&self.rootfs()).unwrap();
        let req = ckpt_fs::snapshot::Request {
            image: &self.image,
            list: &self.list,
            root: &root,
            includes: &[],
        };
        ckpt_fs::snapshot::btrfs::snapshot(&req, dest, None, send)
    }
}

#[test]
#[ignore = "needs root, a loop device and btrfs-progs; run with -- --ignored (CKPT_REQUIRE_COMPONENTS=1 to fail without)"]
fn a_btrfs_snapshot_names_itself_in_its_manifest_and_is_sent_and_received_with_it() {
    use ckpt_fs::lookup::Root;
    use ckpt_fs::manifest::{Manifest, Method};
    use ckpt_fs::snapshot::btrfs::{Send, receive};

    let Some(sc) = Scene::new("btrfs snapshot") else {
        return;
    };
    let Some(target) = LoopBtrfs::new_in("btrfs snapshot target", TMP) else {
        return;
    };
    let snap1 = sc.fs.path().join("ct-1");
    let stream1 = sc.dir.path().join("ct-1.stream");
    let done = sc
        .snapshot(
            &snap1,
            Some(&Send {
                to: stream1.clone(),
                parent: None,
            }),
        )
        .unwrap();
    assert!(done.snapshot.readonly);
    assert_eq!(done.of, fs::canonicalize(sc.fs.path().join("ct")).unwrap());
    let beside = sc.fs.path().join("ct-1.manifest.json");
    let m = Manifest::from_reader(fs::File::open(&beside).unwrap()).unwrap();
    assert_eq!(m.method, Method::Btrfs);
    let b = m.btrfs.as_ref().unwrap();
    assert_eq!(b.uuid, done.snapshot.uuid);
    assert_eq!(b.generation, done.snapshot.generation);
    assert_eq!(b.root_in_snapshot, "rootfs");
    assert_eq!(m.root, sc.rootfs().display().to_string());
    assert!(
        m.files
            .iter()
            .any(|e| e.path == "/usr/lib/bin/task0" && e.needed && e.sha256.is_some())
    );
    // The snapshot holds the files as they were; the tree goes on changing.
    fs::write(sc.rootfs().join("var/log/task0.log"), b"later").unwrap();
    let v = m.verify(&Root::open(&snap1.join("rootfs")).unwrap());
    assert!(v.complete(), "{:?}", v.failures().collect::<Vec<_>>());
    assert!(!m.verify(&Root::open(&sc.rootfs()).unwrap()).complete());

    // An incremental snapshot against the first.
    let snap2 = sc.fs.path().join("ct-2");
    let stream2 = sc.dir.path().join("ct-2.stream");
    let done2 = sc
        .snapshot(
            &snap2,
            Some(&Send {
                to: stream2.clone(),
                parent: Some(snap1.clone()),
            }),
        )
        .unwrap();
    assert!(done2.sent.as_ref().unwrap().1 < done.sent.as_ref().unwrap().1);
    let m2 =
        Manifest::from_reader(fs::File::open(sc.fs.path().join("ct-2.manifest.json")).unwrap())
            .unwrap();

    // Received on another filesystem, checked against the manifests.
    let r1 = receive(&stream1, target.path(), Some(&m)).unwrap();
    assert_eq!(r1.root, target.path().join("ct-1/rootfs"));
    assert!(m.verify(&Root::open(&r1.root).unwrap()).complete());
    // The second manifest does not name the first stream's snapshot: refused, and what
    // was received is taken back.
    let other = LoopBtrfs::new_in("btrfs snapshot other", TMP).unwrap();
    let e = receive(&stream1, other.path(), Some(&m2)).unwrap_err();
    assert!(
        e.to_string().contains("the stream is of another snapshot"),
        "{e}"
    );
    assert!(!other.path().join("ct-1").exists());
    let r2 = receive(&stream2, target.path(), Some(&m2)).unwrap();
    let v = m2.verify(&Root::open(&r2.root).unwrap());
    assert!(v.complete(), "{:?}", v.failures().collect::<Vec<_>>());
    assert_eq!(
        fs::read(r2.root.join("var/log/task0.log")).unwrap(),
        b"later"
    );
}

#[test]
#[ignore = "needs root, a loop device and btrfs-progs; run with -- --ignored (CKPT_REQUIRE_COMPONENTS=1 to fail without)"]
fn a_needed_file_in_a_nested_subvolume_fails_the_snapshot_and_takes_it_back() {
    let Some(sc) = Scene::new("btrfs nested") else {
        return;
    };
    // /var/log becomes a subvolume of its own: not in a snapshot of ct.
    let log = sc.rootfs().join("var/log");
    fs::rename(&log, sc.rootfs().join("var/log.old")).unwrap();
    common::sh("btrfs", &["subvolume", "create", log.to_str().unwrap()]);
    for f in ["task0.log", "task1.log"] {
        fs::copy(sc.rootfs().join("var/log.old").join(f), log.join(f)).unwrap();
    }
    let dest = sc.fs.path().join("ct-1");
    let e = sc.snapshot(&dest, None).unwrap_err();
    let t = e.to_string();
    assert!(t.contains("/var/log/task"), "{t}");
    assert!(
        t.contains("a nested subvolume or another mount under ROOT"),
        "{t}"
    );
    assert!(!dest.exists(), "the failed snapshot was left");
    assert!(!sc.fs.path().join("ct-1.manifest.json").exists());
}

#[test]
#[ignore = "needs root, a loop device and btrfs-progs; run with -- --ignored (CKPT_REQUIRE_COMPONENTS=1 to fail without)"]
fn a_root_not_on_btrfs_is_refused_naming_what_it_is_on() {
    let Some(sc) = Scene::new("btrfs not btrfs") else {
        return;
    };
    let plain = tempfile::tempdir().unwrap();
    common::tree(plain.path());
    let root = ckpt_fs::lookup::Root::open(plain.path()).unwrap();
    let req = ckpt_fs::snapshot::Request {
        image: &sc.image,
        list: &sc.list,
        root: &root,
        includes: &[],
    };
    let dest = sc.fs.path().join("x");
    let e = ckpt_fs::snapshot::btrfs::snapshot(&req, &dest, None, None).unwrap_err();
    assert!(e.to_string().contains("is not on btrfs: it is on"), "{e}");
    assert!(!dest.exists());
}
