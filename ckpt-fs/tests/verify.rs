//! A tree under a root checked against a builder image: present, missing, of another
//! type, of another size, a symbolic link that would leave the root.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use ckpt_format::build::{BuildOptions, build};
use ckpt_format::{Arch, Format, Reader, Registry};
use ckpt_fs::lookup::{FileType, Presence, Root};
use ckpt_fs::paths::{PathList, collect};
use ckpt_fs::verify::{Outcome, verify};

fn list(rev: &str, arch: Arch) -> PathList {
    let s = Registry::get().find(rev).unwrap();
    let mut img = Vec::new();
    build(&Format::new(s, arch), &BuildOptions::default(), &mut img).unwrap();
    collect(Reader::new(&img[..], Format::new(s, arch))).unwrap()
}

fn file(root: &Path, path: &str, len: usize) {
    let p = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, vec![b'x'; len]).unwrap();
}

fn outcome<'v>(v: &'v ckpt_fs::verify::Verification, path: &str) -> &'v Outcome {
    &v.paths
        .iter()
        .find(|c| c.path.path == path)
        .unwrap()
        .outcome
}

#[test]
fn each_path_is_ok_missing_of_another_type_or_size_and_links_stay_inside() {
    let l = list("v23-rc2", Arch::X86_64);
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    file(r, "/usr/bin/task0", 100);
    file(r, "/var/log/task0.log", 10);
    file(r, "/srv/app", 1);
    fs::create_dir_all(r.join("var/log")).unwrap();
    fs::create_dir_all(r.join("usr/bin")).unwrap();
    // Out of the root, both ways: the host's /etc/passwd exists, the root's does not.
    symlink("/etc/passwd", r.join("usr/bin/task1")).unwrap();
    symlink(
        "../../../../../../../../etc/passwd",
        r.join("var/log/task1.log"),
    )
    .unwrap();
    assert!(Path::new("/etc/passwd").exists());
    let v = verify(&l, &Root::open(r).unwrap());
    assert_eq!(outcome(&v, "/usr/bin/task0"), &Outcome::Ok);
    assert_eq!(outcome(&v, "/"), &Outcome::Ok);
    let min = l
        .paths
        .iter()
        .find(|p| p.path == "/var/log/task0.log")
        .unwrap()
        .recorded
        .min_size;
    assert!(min.is_some_and(|m| m > 10));
    assert_eq!(
        outcome(&v, "/var/log/task0.log"),
        &Outcome::DifferentSize {
            expected: None,
            at_least: min,
            found: 10
        }
    );
    assert_eq!(
        outcome(&v, "/srv/app"),
        &Outcome::DifferentType {
            expected: FileType::Directory,
            found: FileType::Regular
        }
    );
    for escaped in ["/usr/bin/task1", "/var/log/task1.log"] {
        assert_eq!(outcome(&v, escaped), &Outcome::Missing, "{escaped}");
        let c = v.paths.iter().find(|c| c.path.path == escaped).unwrap();
        assert_eq!(c.why().as_deref(), Some("missing: /etc does not exist"));
    }
    assert_eq!(outcome(&v, "/dev/null"), &Outcome::Missing);
    assert!(!v.complete());
    // What fails names its tasks and uses; a bound socket's node is not needed.
    let failed: Vec<&str> = v.failures().map(|c| c.path.path.as_str()).collect();
    assert!(
        failed.contains(&"/srv/app") && !failed.contains(&"/run/app0.sock"),
        "{failed:?}"
    );
    assert!(
        v.failures()
            .all(|c| !c.path.uses.is_empty() && !c.path.pids().is_empty())
    );
    let relative = v.paths.iter().find(|c| c.path.path == "app1.sock").unwrap();
    assert_eq!(relative.outcome, Outcome::NotChecked);
    assert!(!relative.fails());
}

#[test]
fn a_tree_with_everything_the_image_needs_is_complete_on_every_revision() {
    for s in Registry::get().all() {
        let arch = s.arches[0].0;
        let l = list(&s.id, arch);
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for p in l.paths.iter().filter(|p| p.needed()) {
            let at = r.join(p.path.trim_start_matches('/'));
            match p.expects() {
                Some(FileType::Directory) => fs::create_dir_all(&at).unwrap(),
                Some(FileType::Fifo) => {
                    fs::create_dir_all(at.parent().unwrap()).unwrap();
                    let ok = std::process::Command::new("mkfifo")
                        .arg(&at)
                        .status()
                        .unwrap();
                    assert!(ok.success());
                }
                _ => file(r, &p.path, p.recorded.min_size.unwrap_or(0) as usize),
            }
        }
        let v = verify(&l, &Root::open(r).unwrap());
        let failed: Vec<_> = v.failures().map(|c| (&c.path.path, c.why())).collect();
        assert!(v.complete(), "{}: {failed:?}", s.id);
        assert!(
            v.paths
                .iter()
                .filter(|c| c.needed)
                .all(|c| c.state.as_ref().unwrap().presence == Presence::Present)
        );
    }
}
