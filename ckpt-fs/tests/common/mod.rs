//! What the tests share: the builder image the tests take files for and a tree with
//! every file it needs; the components the ignored tests need (a btrfs filesystem on a
//! loop device, rsync), started by the test and removed also when it fails.

#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use ckpt_format::build::{BuildOptions, build};
use ckpt_format::{Arch, Format, Reader, Registry};
use ckpt_fs::paths::{PathList, collect};

/// The builder's default image of v23-rc2, x86_64.
pub fn image() -> Vec<u8> {
    let s = Registry::get().find("v23-rc2").unwrap();
    let mut img = Vec::new();
    build(
        &Format::new(s, Arch::X86_64),
        &BuildOptions::default(),
        &mut img,
    )
    .unwrap();
    img
}

/// Its paths.
pub fn list(img: &[u8]) -> PathList {
    let s = Registry::get().find("v23-rc2").unwrap();
    collect(Reader::new(img, Format::new(s, Arch::X86_64))).unwrap()
}

/// A file of `len` bytes at `path` under `root`, its directories made.
pub fn file(root: &Path, path: &str, len: usize) {
    let p = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, vec![b'x'; len]).unwrap();
}

/// A fifo at `path` under `root`.
pub fn fifo(root: &Path, path: &str) {
    let p = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    let (fifo, mode) = (
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
    );
    rustix::fs::mknodat(rustix::fs::CWD, &p, fifo, mode, 0).unwrap();
}

/// A tree with every path the builder image needs; /usr/bin reached through a link.
pub fn tree(r: &Path) {
    file(r, "/usr/lib/bin/task0", 100);
    file(r, "/usr/lib/bin/task1", 100);
    symlink("lib/bin", r.join("usr/bin")).unwrap();
    file(r, "/var/log/task0.log", 600_000);
    file(r, "/var/log/task1.log", 200_000);
    fs::create_dir_all(r.join("srv/app")).unwrap();
    fifo(r, "/run/fifo0");
    fifo(r, "/run/fifo1");
}

/// The builder image written to `dir/image.ckpt`.
pub fn image_file(dir: &Path) -> PathBuf {
    let p = dir.join("image.ckpt");
    fs::write(&p, image()).unwrap();
    p
}

/// Says that a test cannot run here, and why; fails the test instead when
/// `CKPT_REQUIRE_COMPONENTS=1` (CI: every component must be there).
pub fn missing(test: &str, why: &str) {
    if std::env::var("CKPT_REQUIRE_COMPONENTS").is_ok_and(|v| v == "1") {
        panic!("{test}: {why} (CKPT_REQUIRE_COMPONENTS=1: a missing component fails)");
    }
    eprintln!("{test}: NOT RUN: {why}");
}

/// Whether `binary` runs (`binary --version`), else reports it [`missing`].
pub fn have(test: &str, binary: &str, package: &str) -> bool {
    match Command::new(binary).arg("--version").output() {
        Ok(_) => true,
        Err(e) => {
            missing(
                test,
                &format!("{binary} cannot run ({e}); install Debian's {package}"),
            );
            false
        }
    }
}

/// Runs a command that must succeed, with its stderr in the panic message.
pub fn sh(program: &str, args: &[&str]) {
    let o = Command::new(program).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A btrfs filesystem made by the test in a file under target/, mounted through a loop
/// device; unmounted and removed when dropped, also when the test fails.
pub struct LoopBtrfs {
    /// Holds the image file and the mount point.
    dir: tempfile::TempDir,
    mount: PathBuf,
}

impl LoopBtrfs {
    /// A fresh 256 MiB btrfs, or `None` (reported [`missing`]) where this machine
    /// cannot give one: not root, no mkfs.btrfs, no loop device.
    pub fn new(test: &str) -> Option<LoopBtrfs> {
        if !fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
            missing(test, "mounting a loop device needs root");
            return None;
        }
        if !have(test, "mkfs.btrfs", "btrfs-progs") || !have(test, "btrfs", "btrfs-progs") {
            return None;
        }
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let image = dir.path().join("btrfs.img");
        fs::File::create(&image)
            .unwrap()
            .set_len(256 << 20)
            .unwrap();
        let mount = dir.path().join("mnt");
        fs::create_dir(&mount).unwrap();
        let mkfs = Command::new("mkfs.btrfs")
            .args(["-q", image.to_str().unwrap()])
            .output()
            .unwrap();
        if !mkfs.status.success() {
            missing(
                test,
                &format!(
                    "mkfs.btrfs failed: {}",
                    String::from_utf8_lossy(&mkfs.stderr).trim()
                ),
            );
            return None;
        }
        let o = Command::new("mount")
            .args([
                "-o",
                "loop",
                image.to_str().unwrap(),
                mount.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        if !o.status.success() {
            missing(
                test,
                &format!(
                    "mount -o loop failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
            );
            return None;
        }
        Some(LoopBtrfs { dir, mount })
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.mount
    }

    /// Creates the subvolume `name` at its top.
    pub fn subvolume(&self, name: &str) -> PathBuf {
        let p = self.mount.join(name);
        sh("btrfs", &["subvolume", "create", p.to_str().unwrap()]);
        p
    }
}

impl Drop for LoopBtrfs {
    fn drop(&mut self) {
        let o = Command::new("umount").arg(&self.mount).output();
        if !o.is_ok_and(|o| o.status.success()) {
            let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
        }
        // The TempDir removes the image file and the mount point.
        let _ = &self.dir;
    }
}
