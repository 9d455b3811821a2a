//! What a snapshot captures of a builder image's paths under a root: parents first,
//! symbolic links and where they lead, include trees, what is skipped and why, a needed
//! path that is missing named with its tasks; the manifest read back and verified.

use std::fs;
use std::os::unix::fs::symlink;

use ckpt_fs::lookup::{FileType, Root};
use ckpt_fs::manifest::{Entry, ImageIdentity, Manifest, Method, capture, capture_set};

mod common;
use common::{file, image, list, tree};

#[test]
fn the_capture_set_has_parents_first_links_and_where_they_lead() {
    let img = image();
    let l = list(&img);
    let d = tempfile::tempdir().unwrap();
    tree(d.path());
    file(d.path(), "/etc/extra/a", 3);
    file(d.path(), "/etc/extra/sub/b", 4);
    symlink("/nowhere", d.path().join("etc/extra/dangling")).unwrap();
    let root = Root::open(d.path()).unwrap();
    let c = capture(&l, &root, &["/etc/extra".into()]).unwrap();
    for want in [
        "/usr",
        "/usr/bin",
        "/usr/lib",
        "/usr/lib/bin",
        "/usr/lib/bin/task0",
        "/run/fifo0",
        "/srv/app",
        "/etc",
        "/etc/extra/dangling",
        "/etc/extra/sub/b",
    ] {
        assert!(c.paths.iter().any(|p| p == want), "{want}: {:?}", c.paths);
    }
    let mut sorted = c.paths.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, c.paths);
    // Every parent comes before its children.
    for (k, p) in c.paths.iter().enumerate() {
        let parent = &p[..p.rfind('/').unwrap()];
        if !parent.is_empty() {
            let at = c.paths.iter().position(|q| q == parent).unwrap();
            assert!(at < k, "{parent} after {p}");
        }
    }
    assert!(c.needed.contains("/usr/lib/bin/task0"));
    assert!(!c.needed.contains("/usr/bin") && !c.needed.contains("/etc/extra/a"));
    let skipped = |p: &str| c.skipped.iter().find(|s| s.path == p).map(|s| &s.reason);
    assert_eq!(
        skipped("/dev/null").map(String::as_str),
        Some("under /dev: the restart host's own")
    );
    assert!(skipped("app1.sock").is_some());
    let (paths, skipped) = capture_set(&l, &root, &["/etc/extra".into()]).unwrap();
    assert_eq!((paths, skipped), (c.paths, c.skipped));
}

#[test]
fn a_needed_path_that_is_missing_is_named_with_its_tasks() {
    let img = image();
    let l = list(&img);
    let d = tempfile::tempdir().unwrap();
    tree(d.path());
    fs::remove_file(d.path().join("usr/lib/bin/task1")).unwrap();
    let e = capture(&l, &Root::open(d.path()).unwrap(), &[])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "/usr/bin/task1 is needed by pid 2 \"sshd\" (executable), pid 2 \"sshd\" (mapped file) \
         and is not under the root: /usr/lib/bin/task1 does not exist"
    );
    let e = capture(&l, &Root::open(d.path()).unwrap(), &["/none".into()]);
    assert!(e.is_err());
}

#[test]
fn a_manifest_of_the_capture_verifies_and_names_the_image() {
    let img = image();
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("image.ckpt");
    fs::write(&path, &img).unwrap();
    let id = ImageIdentity::of_file(&path).unwrap();
    assert_eq!(
        (id.size, id.revision.as_str()),
        (img.len() as u64, "v23-rc2")
    );
    let r = d.path().join("root");
    tree(&r);
    let root = Root::open(&r).unwrap();
    let l = list(&img);
    let c = capture(&l, &root, &[]).unwrap();
    let mut m = Manifest::new(id, Method::Tar, &r);
    for p in &c.paths {
        let mut e = Entry::of(&root, p, true).unwrap();
        e.needed = c.needed.contains(p);
        m.files.push(e);
    }
    let link = m.files.iter().find(|e| e.path == "/usr/bin").unwrap();
    assert_eq!(
        (link.kind, link.target.as_deref()),
        (FileType::Symlink, Some("lib/bin"))
    );
    let v = m.verify_uses(&root, &l);
    assert!(v.complete(), "{:?}", v.failures().collect::<Vec<_>>());
    let task0 = v
        .paths
        .iter()
        .find(|c| c.path.path == "/usr/lib/bin/task0")
        .unwrap();
    assert!(task0.path.uses.iter().any(|u| u.how.name() == "executable"));
    fs::write(r.join("usr/lib/bin/task0"), vec![b'y'; 100]).unwrap();
    let v = m.verify_uses(&root, &l);
    let bad: Vec<_> = v.failures().map(|c| c.path.path.as_str()).collect();
    assert_eq!(bad, ["/usr/lib/bin/task0"]);
}
