//! Components the ignored tests need, started by the test and stopped and removed also
//! when it fails: a btrfs filesystem on a loop device; and how a test says that one is
//! missing (skipped, or failed under `CKPT_REQUIRE_COMPONENTS=1`, as CI runs them).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

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
    /// A fresh 256 MiB btrfs in a file under the directory `under` (the test's
    /// `CARGO_TARGET_TMPDIR`), or `None` (reported [`missing`]) where this machine
    /// cannot give one: not root, no mkfs.btrfs, no loop device.
    pub fn new_in(test: &str, under: impl AsRef<Path>) -> Option<LoopBtrfs> {
        if !fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
            missing(test, "mounting a loop device needs root");
            return None;
        }
        if !have(test, "mkfs.btrfs", "btrfs-progs") || !have(test, "btrfs", "btrfs-progs") {
            return None;
        }
        let dir = tempfile::tempdir_in(under.as_ref()).unwrap();
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
