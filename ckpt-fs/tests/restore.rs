//! Tar snapshots restored: round trips of builder trees (modes, mtimes, links, fifos,
//! xattrs), and hostile archives refused with nothing written outside the root and
//! nothing left inside it.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::time::{Duration, SystemTime};

use ckpt_fs::lookup::Root;
use ckpt_fs::manifest::{Entry, ImageIdentity, Manifest, Method};
use ckpt_fs::restore::{RestoreOptions, restore};
use ckpt_fs::snapshot::tar::{TarOptions, snapshot};
use ckpt_fs::snapshot::{MANIFEST_NAME, Request, Summary};
use proptest::prelude::*;
use tar::{Builder, EntryType, Header};

mod common;
use common::{file, image, image_file, list, tree};

/// Snapshots `src` (the builder image's tree, `includes` too) into `dest`.
fn take(dir: &Path, src: &Path, includes: &[String], dest: &Path, zstd: bool) -> Summary {
    let img = image();
    let id = ImageIdentity::of_file(&image_file(dir)).unwrap();
    let l = list(&img);
    let root = Root::open(src).unwrap();
    let req = Request {
        image: &id,
        list: &l,
        root: &root,
        includes,
    };
    snapshot(&req, dest, TarOptions { zstd }).unwrap()
}

/// Every entry of `m` is the same under `a` and `b` (content hashed).
fn same_trees(m: &Manifest, a: &Path, b: &Path) {
    let (ra, rb) = (Root::open(a).unwrap(), Root::open(b).unwrap());
    for e in &m.files {
        let x = Entry::of(&ra, &e.path, true).unwrap();
        let y = Entry::of(&rb, &e.path, true).unwrap();
        if e.kind == ckpt_fs::lookup::FileType::Directory {
            // A directory's mtime changes as its files are written: compared apart.
            assert_eq!((x.mode, x.uid, x.gid), (y.mode, y.uid, y.gid), "{}", e.path);
        } else {
            assert_eq!(x, y, "{}", e.path);
        }
    }
}

#[test]
fn a_snapshot_restores_to_the_same_tree_and_verifies() {
    for zstd in [false, true] {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        tree(&src);
        file(&src, "/etc/app/conf", 10);
        file(&src, "/etc/app/sub/deep", 3);
        symlink("../conf", src.join("etc/app/sub/link")).unwrap();
        fs::set_permissions(src.join("etc/app/conf"), fs::Permissions::from_mode(0o640)).unwrap();
        fs::set_permissions(src.join("etc/app/sub"), fs::Permissions::from_mode(0o750)).unwrap();
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_600_000_000, 123_456_789);
        fs::File::options()
            .write(true)
            .open(src.join("etc/app/conf"))
            .unwrap()
            .set_modified(t)
            .unwrap();
        let xattr_set = match xattr::set(src.join("etc/app/conf"), "user.ckpt", b"value") {
            Ok(()) => true,
            Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => false,
            Err(e) => panic!("setting user.ckpt: {e}"),
        };
        let dest = d.path().join(if zstd { "s.tar.zst" } else { "s.tar" });
        let s = take(d.path(), &src, &["/etc/app".into()], &dest, zstd);
        assert_eq!(s.dest, dest);
        assert!(s.bytes >= 800_000 && s.files() > 10, "{s:?}");
        let names = |dir: &Path| -> Vec<_> {
            fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect()
        };
        assert_eq!(names(d.path()).len(), 3, "no temporary file left");
        let out = d.path().join("out");
        fs::create_dir(&out).unwrap();
        let r = restore(&dest, &Root::open(&out).unwrap(), RestoreOptions::default()).unwrap();
        assert!(r.verification.complete());
        assert!(
            r.verification
                .paths
                .iter()
                .all(|c| c.outcome.name() == "ok"),
            "{:?}",
            r.verification.paths
        );
        assert_eq!(r.manifest, s.manifest);
        assert_eq!(r.bytes, s.bytes);
        same_trees(&s.manifest, &src, &out);
        let conf = Entry::of(&Root::open(&out).unwrap(), "/etc/app/conf", false).unwrap();
        assert_eq!(
            (conf.mode, conf.mtime, conf.mtime_nsec),
            (0o640, 1_600_000_000, 123_456_789)
        );
        if xattr_set {
            assert_eq!(
                xattr::get(out.join("etc/app/conf"), "user.ckpt")
                    .unwrap()
                    .as_deref(),
                Some(&b"value"[..])
            );
        }
        // Again: every file is there, refused without --overwrite, left as it was.
        fs::write(out.join("etc/app/conf"), b"changed!!!").unwrap();
        let e = restore(&dest, &Root::open(&out).unwrap(), RestoreOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("exists there under the root (--overwrite replaces it)"),
            "{e}"
        );
        assert_eq!(fs::read(out.join("etc/app/conf")).unwrap(), b"changed!!!");
        let opts = RestoreOptions {
            overwrite: true,
            ..RestoreOptions::default()
        };
        let r = restore(&dest, &Root::open(&out).unwrap(), opts).unwrap();
        assert!(r.verification.complete() && r.replaced > 5);
        assert_eq!(fs::read(out.join("etc/app/conf")).unwrap(), vec![b'x'; 10]);
        let left: Vec<_> = names(&out.join("etc/app"))
            .into_iter()
            .filter(|n| n.to_string_lossy().starts_with(".ckpt"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}

type Scene = RestoreScene;

fn scene() -> Scene {
    RestoreScene::new()
}

/// A header of `kind` and `size` named `name` as bytes (no check of the name).
fn raw_header(name: &[u8], kind: EntryType, size: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_cksum();
    h
}

fn link_header(name: &str, kind: EntryType, target: &str) -> Header {
    let mut h = raw_header(name.as_bytes(), kind, 0);
    h.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
    h.set_cksum();
    h
}

/// The manifest member of entries for `paths` (all regular files of `content`).
fn manifest_member(b: &mut Builder<Vec<u8>>, files: Vec<Entry>) {
    let mut m = Manifest::new(
        ImageIdentity {
            sha256: "00".repeat(32),
            size: 0,
            revision: "v23-rc2".into(),
            arch: "x86_64".into(),
        },
        Method::Tar,
        Path::new("/"),
    );
    m.files = files;
    let mut json = Vec::new();
    m.to_writer(&mut json).unwrap();
    b.append(
        &raw_header(
            MANIFEST_NAME.as_bytes(),
            EntryType::Regular,
            json.len() as u64,
        ),
        &json[..],
    )
    .unwrap();
}

fn regular(path: &str, content: &[u8]) -> Entry {
    use sha2::Digest;
    Entry {
        path: path.into(),
        kind: ckpt_fs::lookup::FileType::Regular,
        size: content.len() as u64,
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: 0,
        mtime_nsec: 0,
        sha256: Some(hex::encode(sha2::Sha256::digest(content))),
        target: None,
        xattrs: Default::default(),
        needed: true,
    }
}

/// Restores the archive `build` makes: refused with `expect` in the message, nothing
/// outside the root touched, the root as it was (`before` its entries).
fn refused(build: impl FnOnce(&mut Builder<Vec<u8>>), prepare: impl FnOnce(&Scene), expect: &str) {
    let s = scene();
    prepare(&s);
    let before = names(&s.root);
    let mut b = Builder::new(Vec::new());
    build(&mut b);
    fs::write(&s.archive, b.into_inner().unwrap()).unwrap();
    let opts = RestoreOptions {
        max_bytes: 1 << 30,
        ..RestoreOptions::default()
    };
    let e = restore(&s.archive, &Root::open(&s.root).unwrap(), opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains(expect), "{expect}: {e}");
    assert_eq!(names(&s.sentinel), ["keep"]);
    assert_eq!(fs::read(s.sentinel.join("keep")).unwrap(), b"keep");
    assert_eq!(names(&s.root), before, "{e}");
    assert_eq!(
        names(s.root.parent().unwrap()),
        ["a.tar", "root", "sentinel"]
    );
}

use ckpt_tests::{RestoreScene, sorted_names as names};

#[test]
fn hostile_archives_are_refused_and_nothing_is_written() {
    let none = |_: &Scene| {};
    refused(
        |b| {
            b.append(
                &raw_header(b"../sentinel/x", EntryType::Regular, 1),
                &b"x"[..],
            )
            .unwrap()
        },
        none,
        "a .. component",
    );
    refused(
        |b| {
            b.append(&raw_header(b"/etc/x", EntryType::Regular, 1), &b"x"[..])
                .unwrap()
        },
        none,
        "an absolute path",
    );
    refused(
        |b| {
            b.append(
                &link_header("evil", EntryType::Symlink, "../sentinel"),
                &[][..],
            )
            .unwrap();
            b.append(&raw_header(b"evil/x", EntryType::Regular, 1), &b"x"[..])
                .unwrap();
        },
        none,
        "leaves the root",
    );
    let sentinel_abs = |b: &mut Builder<Vec<u8>>, target: &str| {
        b.append(&link_header("evil", EntryType::Symlink, target), &[][..])
            .unwrap();
        b.append(&raw_header(b"evil/x", EntryType::Regular, 1), &b"x"[..])
            .unwrap();
    };
    let s = scene();
    let target = s.sentinel.display().to_string();
    refused(
        |b| sentinel_abs(b, &target),
        none,
        "a symbolic link of the archive",
    );
    refused(
        |b| {
            b.append(
                &link_header("h", EntryType::Link, "../sentinel/keep"),
                &[][..],
            )
            .unwrap()
        },
        none,
        "a hard link",
    );
    refused(
        |b| {
            b.append(&raw_header(b"huge", EntryType::Regular, 1 << 50), &[][..])
                .unwrap()
        },
        none,
        "over the limit",
    );
    refused(
        |b| {
            let mut h = raw_header(b"null", EntryType::Char, 0);
            h.set_device_major(1).unwrap();
            h.set_device_minor(3).unwrap();
            h.set_cksum();
            b.append(&h, &[][..]).unwrap();
        },
        none,
        "a character device (--allow-devices creates them)",
    );
    let link_out = |s: &Scene| symlink(&s.sentinel, s.root.join("out")).unwrap();
    refused(
        |b| {
            b.append(&raw_header(b"out/x", EntryType::Regular, 1), &b"x"[..])
                .unwrap()
        },
        link_out,
        "a symbolic link under the root",
    );
    refused(
        |b| {
            b.append(&raw_header(b"plain", EntryType::Regular, 1), &b"x"[..])
                .unwrap()
        },
        none,
        "not a ckpt snapshot",
    );
    refused(
        |b| {
            b.append(&raw_header(b"x", EntryType::Regular, 9), &b"abc"[..])
                .unwrap()
        },
        none,
        "",
    );
    // Checked and extracted, then the last file's content is not the manifest's: the
    // directory and the first file are removed again.
    refused(
        |b| {
            let mut dir = raw_header(b"d/", EntryType::Directory, 0);
            dir.set_mode(0o755);
            dir.set_cksum();
            b.append(&dir, &[][..]).unwrap();
            b.append(&raw_header(b"d/a", EntryType::Regular, 1), &b"a"[..])
                .unwrap();
            b.append(&raw_header(b"d/b", EntryType::Regular, 1), &b"b"[..])
                .unwrap();
            let mut d = regular("/d", b"");
            (d.kind, d.size, d.sha256, d.mode) =
                (ckpt_fs::lookup::FileType::Directory, 0, None, 0o755);
            manifest_member(b, vec![d, regular("/d/a", b"a"), regular("/d/b", b"c")]);
        },
        none,
        "its content has sha256",
    );
    // An existing file is left as it was when the restore fails after replacing it.
    refused(
        |b| {
            b.append(&raw_header(b"a", EntryType::Regular, 1), &b"a"[..])
                .unwrap();
            b.append(&raw_header(b"b", EntryType::Regular, 1), &b"b"[..])
                .unwrap();
            manifest_member(b, vec![regular("/a", b"a"), regular("/b", b"c")]);
        },
        |s| fs::write(s.root.join("a"), b"old").unwrap(),
        "a regular file exists there",
    );
}

#[test]
fn with_overwrite_a_failed_restore_puts_the_replaced_file_back() {
    let s = scene();
    fs::write(s.root.join("a"), b"old").unwrap();
    let mut b = Builder::new(Vec::new());
    b.append(&raw_header(b"a", EntryType::Regular, 1), &b"a"[..])
        .unwrap();
    b.append(&raw_header(b"b", EntryType::Regular, 1), &b"b"[..])
        .unwrap();
    manifest_member(&mut b, vec![regular("/a", b"a"), regular("/b", b"c")]);
    fs::write(&s.archive, b.into_inner().unwrap()).unwrap();
    let opts = RestoreOptions {
        overwrite: true,
        ..RestoreOptions::default()
    };
    let root = Root::open(&s.root).unwrap();
    let e = restore(&s.archive, &root, opts).unwrap_err().to_string();
    assert!(e.contains("/b: its content has sha256"), "{e}");
    assert_eq!(names(&s.root), ["a"]);
    assert_eq!(fs::read(s.root.join("a")).unwrap(), b"old");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn random_small_trees_round_trip(
        files in proptest::collection::vec(
            (0usize..4, 0usize..3, proptest::collection::vec(any::<u8>(), 0..300), 0u32..0o777, any::<bool>()),
            1..12,
        ),
    ) {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        tree(&src);
        fs::create_dir_all(src.join("inc")).unwrap();
        for (k, (name, depth, content, mode, link)) in files.iter().enumerate() {
            let mut p = src.join("inc");
            for level in 0..*depth {
                p.push(format!("d{level}"));
            }
            fs::create_dir_all(&p).unwrap();
            let f = p.join(format!("f{name}-{k}"));
            if *link {
                symlink(format!("f{k}-target"), &f).unwrap();
            } else {
                fs::write(&f, content).unwrap();
                fs::set_permissions(&f, fs::Permissions::from_mode(0o400 | mode)).unwrap();
            }
        }
        let dest = d.path().join("s.tar");
        let s = take(d.path(), &src, &["/inc".into()], &dest, false);
        let out = d.path().join("out");
        fs::create_dir(&out).unwrap();
        let r = restore(&dest, &Root::open(&out).unwrap(), RestoreOptions::default()).unwrap();
        prop_assert!(r.verification.complete());
        prop_assert!(r.verification.paths.iter().all(|c| c.outcome.name() == "ok"));
        same_trees(&s.manifest, &src, &out);
    }
}

/// A snapshot of the builder tree, its bytes.
fn snapshot_bytes() -> Vec<u8> {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    tree(&src);
    file(&src, "/etc/a/b", 3);
    let dest = d.path().join("s.tar");
    take(d.path(), &src, &["/etc/a".into()], &dest, false);
    fs::read(dest).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// What the fuzz target checks, on damaged snapshots: refused or restored, never a
    /// panic, never a file outside the root, nothing left when refused.
    #[test]
    fn damaged_snapshots_never_write_outside_the_root(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<Option<prop::sample::Index>>(),
    ) {
        let mut bytes = snapshot_bytes();
        for (at, v) in &flips {
            let k = at.index(bytes.len());
            bytes[k] = *v;
        }
        if let Some(c) = cut {
            bytes.truncate(c.index(bytes.len()));
        }
        let s = scene();
        fs::write(&s.archive, &bytes).unwrap();
        let res = restore(&s.archive, &Root::open(&s.root).unwrap(), RestoreOptions::default());
        s.assert_untouched_outside();
        if res.is_err() {
            prop_assert!(names(&s.root).is_empty());
        }
    }
}
