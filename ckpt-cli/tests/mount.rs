//! `ckpt mount` on a real FUSE mount (ignored: needs /dev/fuse and fusermount3, Debian's
//! `fuse3`): builder images of every arch and a 64 MiB one, read through the mount with
//! ordinary file I/O and compared with `ckpt info`, `ckpt dump` and the pages the image
//! holds (walked as a stream, not through the page index the mount uses). The guard
//! unmounts and removes the directory also when a test fails. The refusals that come
//! before any mount run everywhere.

#![cfg(feature = "fuse")]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use ckpt_format::build::BuildOptions;
use ckpt_format::model::PageOwner;
use ckpt_format::pages::PageWalker;
use ckpt_format::{Arch, Format, Reader, Schema};
use ckpt_tests::components::{have, missing};
use sha2::{Digest, Sha256};

mod common;
use common::{CKPT, ok, run};

/// A mounted image: unmounted (fusermount3 -u, then umount -l), its server stopped and
/// its directory removed when dropped.
struct Mounted {
    dir: PathBuf,
    /// The server in the foreground (none for a mount that `ckpt mount` left in the
    /// background).
    server: Option<Child>,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let d = self.dir.as_os_str();
        let unmounted = Command::new("fusermount3")
            .arg("-u")
            .arg(d)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            let _ = Command::new("umount").arg("-l").arg(d).status();
        }
        if let Some(s) = self.server.as_mut() {
            let _ = s.kill();
            let _ = s.wait();
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

impl Mounted {
    fn path(&self, p: &str) -> PathBuf {
        self.dir.join(p)
    }
}

/// Mounts `image` on a new directory under `under`, or says why this machine cannot.
fn mount(test: &str, image: &Path, under: &Path) -> Option<Mounted> {
    if !Path::new("/dev/fuse").exists() {
        missing(test, "/dev/fuse is missing: no FUSE on this machine");
        return None;
    }
    if !have(test, "fusermount3", "fuse3") {
        return None;
    }
    let dir = under.join(format!("mnt-{}", image.file_stem()?.to_string_lossy()));
    std::fs::create_dir(&dir).unwrap();
    let mut server = Command::new(CKPT)
        .arg("mount")
        .arg(image)
        .arg(&dir)
        .args(["--foreground", "--notify-ready"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if line.trim() == "ckpt-mount-ready" {
        return Some(Mounted {
            dir,
            server: Some(server),
        });
    }
    let mut err = String::new();
    server
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let _ = server.wait();
    let _ = std::fs::remove_dir(&dir);
    if err.contains("Operation not permitted") || err.contains("Permission denied") {
        missing(test, &format!("this machine does not let us mount: {err}"));
        return None;
    }
    panic!("ckpt mount {}: {err}", image.display());
}

fn write_image(dir: &Path, s: &'static Schema, arch: Arch, opts: &BuildOptions) -> PathBuf {
    let img = ckpt_tests::image(s, arch, opts);
    let path = dir.join(format!("{}-{arch}.ckpt", s.id));
    std::fs::write(&path, img).unwrap();
    path
}

/// SHA-256 of every page the image holds, by address space and address, walked as a
/// stream (the later copy of a page wins, as at restart).
fn page_hashes(path: &Path, s: &'static Schema, arch: Arch) -> BTreeMap<(i64, u64), [u8; 32]> {
    let img = std::fs::read(path).unwrap();
    let mut r = Reader::new(&img[..], Format::new(s, arch));
    let mut w = PageWalker::new(r.format());
    let mut out = BTreeMap::new();
    while let Some(rec) = r.next_record().unwrap() {
        if let Some(info) = w.add(&mut r, &rec).unwrap()
            && let PageOwner::Vma { mm, .. } = info.owner
        {
            // A huge page comes in pieces: hash it per 4 KiB page.
            w.read_chunk(&mut r, &info, |a, b| -> Result<(), ckpt_format::Error> {
                for (k, p) in b.chunks(4096).enumerate() {
                    out.insert((mm, a + 4096 * k as u64), Sha256::digest(p).into());
                }
                Ok(())
            })
            .unwrap();
        }
    }
    out
}

fn v23_x86_64() -> (&'static Schema, Arch) {
    (
        ckpt_format::Registry::get().find("v23-rc2").unwrap(),
        Arch::X86_64,
    )
}

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_slice(&ok(args, None)).unwrap()
}

/// maps, fd targets, memory at every VMA's start and every page held, records' count.
fn check_image(m: &Mounted, path: &Path, s: &'static Schema, arch: Arch) {
    let p = path.to_str().unwrap();
    let what = format!("{} {arch}", s.id);
    let info = json(&["info", "-t", "-v", "--json", p]);
    let hashes = page_hashes(path, s, arch);
    let zero: [u8; 32] = Sha256::digest([0u8; 4096]).into();
    for t in info["task_details"].as_array().unwrap() {
        let pid = t["pid"].as_i64().unwrap();
        let dir = m.path(&format!("tasks/{pid}"));
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap();
        assert_eq!(comm.trim_end(), t["comm"].as_str().unwrap(), "{what}");
        let maps = std::fs::read_to_string(dir.join("maps")).unwrap();
        let vmas = t["memory"]["vmas"].as_array().cloned().unwrap_or_default();
        assert_eq!(maps.lines().count(), vmas.len(), "{what} pid {pid}");
        for (line, v) in maps.lines().zip(&vmas) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (start, end) = (v["start"].as_u64().unwrap(), v["end"].as_u64().unwrap());
            assert_eq!(f[0], format!("{start:08x}-{end:08x}"), "{what} pid {pid}");
            assert_eq!(f[1], v["perms"].as_str().unwrap(), "{what}");
            assert_eq!(
                u64::from_str_radix(f[2], 16).unwrap(),
                v["offset"].as_u64().unwrap()
            );
            assert_eq!(f.get(5).copied(), v["path"].as_str(), "{what} pid {pid}");
        }
        if let Some(mm) = t["memory"]["objref"].as_i64() {
            let mem = std::fs::File::open(dir.join("mem")).unwrap();
            let mut page = vec![0u8; 4096];
            for v in &vmas {
                let start = v["start"].as_u64().unwrap();
                mem.read_exact_at(&mut page, start).unwrap();
                let want = hashes.get(&(mm, start)).unwrap_or(&zero);
                assert_eq!(
                    &<[u8; 32]>::from(Sha256::digest(&page)),
                    want,
                    "{what} {start:#x}"
                );
            }
            for (&(tag, addr), want) in hashes.range((mm, 0)..=(mm, u64::MAX)) {
                assert_eq!(tag, mm);
                mem.read_exact_at(&mut page, addr).unwrap();
                assert_eq!(
                    &<[u8; 32]>::from(Sha256::digest(&page)),
                    want,
                    "{what} {addr:#x}"
                );
            }
            // Below every VMA: EIO, as /proc/PID/mem.
            let low = vmas
                .iter()
                .map(|v| v["start"].as_u64().unwrap())
                .min()
                .unwrap();
            if low >= 4096 {
                let e = mem.read_at(&mut page, low - 4096).unwrap_err();
                assert_eq!(e.raw_os_error(), Some(libc::EIO), "{what}");
            }
        }
        for f in t["files"].as_array().unwrap() {
            let fd = f["fd"].as_i64().unwrap();
            let at = dir.join(format!("fd/{fd}"));
            let sock_or_pipe = !f["socket"].is_null() || !f["pipe"].is_null();
            match f["path"].as_str() {
                Some(path) if !sock_or_pipe => {
                    assert_eq!(std::fs::read_link(&at).unwrap(), Path::new(path), "{what}")
                }
                _ => assert_eq!(
                    std::fs::read_to_string(&at).unwrap().trim_end(),
                    f["what"].as_str().unwrap(),
                    "{what}"
                ),
            }
            assert!(dir.join(format!("fdinfo/{fd}")).is_file());
        }
    }
    let records = info["record_list"].as_array().unwrap().len();
    let names = common::names(&m.path("records"));
    let lines = names.iter().filter(|n| n.ends_with(".json")).count();
    assert_eq!(lines, records, "{what}");
    // The dump lines of the records, as `ckpt dump` prints them (its header aside).
    let dump = String::from_utf8(ok(&["dump", p], None)).unwrap();
    let mut mounted = String::new();
    for n in names.iter().filter(|n| n.ends_with(".json")) {
        mounted.push_str(&std::fs::read_to_string(m.path("records").join(n)).unwrap());
    }
    let want = dump.split_once('\n').unwrap().1;
    for (k, (a, b)) in mounted.lines().zip(want.lines()).enumerate() {
        if a == b {
            continue;
        }
        // A page chunk's addresses: the dump lists those of its first read, which its
        // buffering may make shorter than the mount's first 32 KiB of the array.
        let (mut a, mut b): (serde_json::Value, serde_json::Value) = (
            serde_json::from_str(a).unwrap(),
            serde_json::from_str(b).unwrap(),
        );
        let (pa, pb) = (a["page_addresses"].take(), b["page_addresses"].take());
        let (pa, pb) = (pa.as_array().unwrap(), pb.as_array().unwrap());
        assert!(pa.starts_with(pb), "{what}: record {k}");
        assert_eq!(a, b, "{what}: record {k}");
    }
    assert_eq!(mounted.lines().count(), want.lines().count(), "{what}");
    let txt = String::from_utf8(ok(&["info", p], None)).unwrap();
    assert_eq!(std::fs::read_to_string(m.path("info.txt")).unwrap(), txt);
    let js = String::from_utf8(ok(&["info", "--json", p], None)).unwrap();
    assert_eq!(std::fs::read_to_string(m.path("info.json")).unwrap(), js);
}

#[test]
#[ignore = "needs fuse"]
fn every_arch_reads_through_the_mount_as_info_dump_and_the_pages_say() {
    let test = "every_arch_reads_through_the_mount_as_info_dump_and_the_pages_say";
    let dir = tempfile::tempdir().unwrap();
    let mut arches = Vec::new();
    for (s, arch) in ckpt_tests::all_pairs() {
        if arches.contains(&arch) {
            continue;
        }
        arches.push(arch);
        let opts = BuildOptions {
            tasks: 6,
            memory: 256 * 1024,
            seed: 5,
            ..BuildOptions::default()
        };
        let path = write_image(dir.path(), s, arch, &opts);
        let Some(m) = mount(test, &path, dir.path()) else {
            return;
        };
        check_image(&m, &path, s, arch);
    }
}

#[test]
#[ignore = "needs fuse"]
fn a_64_mib_image_serves_concurrent_readers() {
    let test = "a_64_mib_image_serves_concurrent_readers";
    let dir = tempfile::tempdir().unwrap();
    let (s, arch) = v23_x86_64();
    let opts = BuildOptions {
        tasks: 2,
        memory: 64 << 20,
        seed: 9,
        ..BuildOptions::default()
    };
    let path = write_image(dir.path(), s, arch, &opts);
    let Some(m) = mount(test, &path, dir.path()) else {
        return;
    };
    check_image(&m, &path, s, arch);
    // Four threads read every page held, each its own quarter, at once.
    let hashes: Vec<((i64, u64), [u8; 32])> = page_hashes(&path, s, arch).into_iter().collect();
    let info = json(&["info", "-t", "--json", path.to_str().unwrap()]);
    let mem_of: BTreeMap<i64, i64> = info["task_details"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| Some((t["memory"]["objref"].as_i64()?, t["pid"].as_i64()?)))
        .collect();
    let quarter = hashes.len().div_ceil(4);
    std::thread::scope(|sc| {
        for part in hashes.chunks(quarter) {
            let (m, mem_of) = (&m, &mem_of);
            sc.spawn(move || {
                let mut page = vec![0u8; 4096];
                for ((mm, addr), want) in part {
                    let f =
                        std::fs::File::open(m.path(&format!("tasks/{}/mem", mem_of[mm]))).unwrap();
                    f.read_exact_at(&mut page, *addr).unwrap();
                    assert_eq!(&<[u8; 32]>::from(Sha256::digest(&page)), want);
                }
            });
        }
    });
}

#[test]
#[ignore = "needs fuse"]
fn writes_are_refused_and_bad_images_are_refused_or_mounted_as_far_as_they_read() {
    let test = "writes_are_refused_and_bad_images_are_refused_or_mounted_as_far_as_they_read";
    let dir = tempfile::tempdir().unwrap();
    // A revision that a prefix of its image is enough to detect.
    let (s, arch) = v23_x86_64();
    let path = write_image(dir.path(), s, arch, &BuildOptions::default());
    let img = std::fs::read(&path).unwrap();
    {
        let Some(m) = mount(test, &path, dir.path()) else {
            return;
        };
        let e = std::fs::write(m.path("info.txt"), b"x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EROFS));
        let e = std::fs::create_dir(m.path("new")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EROFS));
        // Every entry has the image's time.
        let info = json(&["info", "--json", path.to_str().unwrap()]);
        let t = info["time"].as_u64().unwrap();
        let meta = std::fs::metadata(m.path("tasks")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(meta.mtime() as u64, t);
    }
    // Cut short: mounted as far as it reads, and info.txt says where it ends.
    let cut = dir.path().join("cut.ckpt");
    std::fs::write(&cut, &img[..img.len() * 2 / 3]).unwrap();
    {
        let Some(m) = mount(test, &cut, dir.path()) else {
            return;
        };
        let txt = std::fs::read_to_string(m.path("info.txt")).unwrap();
        assert!(txt.contains("incomplete: read"), "{txt}");
        assert!(txt.contains("error:"), "{txt}");
        assert!(m.path("tasks").is_dir());
    }
    // Not an image: refused before mounting, exit 1, the directory left empty.
    let junk = dir.path().join("junk.ckpt");
    std::fs::write(&junk, vec![0x5a; 4096]).unwrap();
    let d = dir.path().join("mnt-junk");
    std::fs::create_dir(&d).unwrap();
    let o = run(
        &["mount", junk.to_str().unwrap(), d.to_str().unwrap()],
        None,
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(common::names(&d).is_empty());
}

/// True when `dir` is a mount point (/proc/self/mountinfo names it).
fn is_mounted(dir: &Path) -> bool {
    let dir = std::fs::canonicalize(dir).unwrap();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .any(|l| l.split(' ').nth(4) == Some(dir.to_str().unwrap()))
}

#[test]
#[ignore = "needs fuse"]
fn sigterm_unmounts_and_the_background_server_ends_with_umount() {
    let test = "sigterm_unmounts_and_the_background_server_ends_with_umount";
    let dir = tempfile::tempdir().unwrap();
    let (s, arch) = v23_x86_64();
    let path = write_image(dir.path(), s, arch, &BuildOptions::default());
    let Some(mut m) = mount(test, &path, dir.path()) else {
        return;
    };
    assert!(is_mounted(&m.dir));
    let server = m.server.take().unwrap();
    // SAFETY: a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(server.id() as i32, libc::SIGTERM) }, 0);
    let mut server = server;
    let status = server.wait().unwrap();
    assert!(!is_mounted(&m.dir), "{status}");
    assert!(common::names(&m.dir).is_empty());
    // In the background: `ckpt mount` returns once mounted, `ckpt umount` ends it.
    let d = m.dir.to_str().unwrap().to_string();
    let d = d.as_str();
    ok(&["mount", path.to_str().unwrap(), d], None);
    assert!(is_mounted(&m.dir));
    assert!(m.path("info.txt").is_file());
    ok(&["umount", d], None);
    assert!(!is_mounted(&m.dir));
    let o = run(&["umount", d], None);
    assert_eq!(o.status.code(), Some(3));
}

#[test]
fn standard_input_and_unusable_directories_are_refused_before_mounting() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o = run(&["mount", "-", d], Some(b""));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot mount standard input"));
    std::fs::write(dir.path().join("f"), b"").unwrap();
    let o = run(&["mount", "image.ckpt", d], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not empty"));
    let gone = dir.path().join("gone");
    let o = run(&["mount", "image.ckpt", gone.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such directory"));
    let o = run(&["umount", gone.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(3));
}
