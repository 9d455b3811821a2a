//! Crash-safe outputs of `ckpt convert` (issue 5): a run killed at any moment leaves the
//! output path absent or holding the previous file untouched (or, killed after its
//! rename, the complete new file), at most one recognisably named temporary file
//! (`.OUT.PID.XXXXXX.ckpt-tmp`) that the next run removes, and the input unchanged; a full
//! filesystem and write errors are reported with the path (exit 3) and leave nothing
//! half-written.
//!
//! The full and read-only filesystems are small tmpfs mounts: those tests need root and
//! `mount`, and are `#[ignore]`d (CI runs them as root with `-- --ignored`). Run where
//! they cannot mount, they say so and end; with `CKPT_REQUIRE_COMPONENTS=1` (as CI sets
//! it) they fail instead.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::Instant;

use ckpt_format::prng::SplitMix64;
use ckpt_tests::components::missing;
use sha2::{Digest, Sha256};

mod common;
use common::{CKPT, ckpt, ckpt_ok, names, s};

/// Revision and architecture of the source images, and the conversion made.
const FROM: [&str; 4] = ["--rev", "v23-rc2", "--arch", "x86_64"];
const TO: [&str; 2] = ["--to-rev", "v23-rc1.pids"];

/// A sample image of `memory` bytes of pages at `path`.
fn sample(path: &Path, memory: &str, tasks: &str) {
    let mut args = vec![
        "sample",
        "--memory",
        memory,
        "--tasks",
        tasks,
        "-o",
        s(path),
    ];
    args.extend(FROM);
    ckpt_ok(&args);
}

/// A new directory holding `src.ckpt`, a sample image of `memory` bytes of pages.
fn with_source(memory: &str, tasks: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.ckpt");
    sample(&src, memory, tasks);
    (dir, src)
}

/// `ckpt convert SRC --to-rev ... -o OUT`.
fn convert_args<'a>(src: &'a Path, out: &'a str) -> Vec<&'a str> {
    let mut args = vec!["convert", s(src), "-o", out];
    args.extend(TO);
    args
}

fn sha(path: &Path) -> Vec<u8> {
    Sha256::digest(fs::read(path).unwrap()).to_vec()
}

/// The temporary files in `dir` named for output `name`, with the pid in their name.
fn temps(dir: &Path, name: &str) -> Vec<(String, u32)> {
    names(dir)
        .into_iter()
        .filter_map(|n| {
            let mid = n
                .strip_prefix(&format!(".{name}."))?
                .strip_suffix(".ckpt-tmp")?;
            let (pid, random) = mid.split_once('.')?;
            assert_eq!(random.len(), 6, "{n}");
            Some((n.clone(), pid.parse().ok()?))
        })
        .collect()
}

/// How a killed run ended.
#[derive(Debug, Default)]
struct Kills {
    /// Killed before its temporary file existed (or after it was removed).
    early: u32,
    /// Killed while writing: its temporary file was left.
    writing: u32,
    /// Killed after the rename, or finished before the kill.
    done: u32,
}

/// Kills `ckpt convert` with SIGKILL at seeded moments spread over a whole run, with and
/// without a previous output, and checks what is left after each kill; then a normal run
/// removes the leftover and writes the output.
#[test]
fn a_killed_convert_leaves_the_previous_output_and_one_temporary_at_most() {
    let (dir, src) = with_source("64M", "3");
    let d = dir.path();
    let src_sha = sha(&src);
    let previous = d.join("previous.ckpt");
    sample(&previous, "4K", "1");
    let previous = fs::read(&previous).unwrap();
    fs::remove_file(d.join("previous.ckpt")).unwrap();
    // The reference output, and how long a run takes (the faster of two: the first
    // reads the input from disk).
    let out = d.join("out.ckpt");
    let full = (0..2)
        .map(|_| {
            let started = Instant::now();
            ckpt_ok(&convert_args(&src, s(&out)));
            started.elapsed()
        })
        .min()
        .unwrap();
    let reference = fs::read(&out).unwrap();
    assert_ne!(reference, previous);

    let rounds = 12;
    let mut rng = SplitMix64::new(5);
    let mut killed_pids = Vec::new();
    let mut kills = Kills::default();
    for round in 0..rounds {
        let with_previous = round % 2 == 1;
        if with_previous {
            fs::write(&out, &previous).unwrap();
        } else if out.exists() {
            fs::remove_file(&out).unwrap();
        }
        // Stratified over 0..1.2 times a whole run, so that every phase is hit: start,
        // write, rename, the summary after it.
        let at =
            full.mul_f64(1.2 * (round as f64 + rng.below(1000) as f64 / 1000.0) / rounds as f64);
        let mut child = Command::new(CKPT)
            .args(convert_args(&src, s(&out)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        killed_pids.push(child.id());
        std::thread::sleep(at);
        let _ = child.kill();
        let status: ExitStatus = child.wait().unwrap();
        let what = format!(
            "round {round} (killed after {at:?}, previous output: {with_previous}, {status})"
        );
        assert!(
            status.code().is_none() || status.success(),
            "{what}: the run failed"
        );

        assert_eq!(sha(&src), src_sha, "{what}: the input changed");
        let now = fs::read(&out).ok();
        let finished = now.as_deref() == Some(&reference[..]);
        match &now {
            None => assert!(!with_previous, "{what}: the previous output is gone"),
            Some(_) if finished => {}
            Some(b) => assert!(
                with_previous && *b == previous,
                "{what}: the output is neither absent, the previous file nor the new one ({} bytes)",
                b.len()
            ),
        }
        let left = temps(d, "out.ckpt");
        assert!(left.len() <= 1, "{what}: temporaries {left:?}");
        let mut expected = vec!["out.ckpt".to_string(), "src.ckpt".to_string()];
        if now.is_none() {
            expected.remove(0);
        }
        if let Some((name, pid)) = left.first() {
            assert!(
                killed_pids.contains(pid),
                "{what}: {name} is not of a killed run"
            );
            let partial = fs::read(d.join(name)).unwrap();
            assert!(
                reference.starts_with(&partial),
                "{what}: {name} is not a beginning of the output"
            );
            expected.insert(0, name.clone());
        }
        assert_eq!(names(d), expected, "{what}: other files");
        match left.first() {
            Some((_, pid)) if *pid == child.id() => kills.writing += 1,
            _ if finished => kills.done += 1,
            _ => kills.early += 1,
        }
    }
    eprintln!("a run takes {full:?}; {rounds} kills: {kills:?}");

    // The next run removes the leftover and writes the output.
    ckpt_ok(&convert_args(&src, s(&out)));
    assert_eq!(fs::read(&out).unwrap(), reference);
    assert_eq!(names(d), ["out.ckpt", "src.ckpt"]);
    assert_eq!(sha(&src), src_sha);
}

/// A run removes the temporaries that dead runs writing the same output left, and no
/// other file: not those of another output, of a process still running, or of another
/// name.
#[test]
fn the_next_run_removes_what_dead_runs_left_for_its_output_only() {
    let (dir, src) = with_source("4K", "1");
    let d = dir.path();
    // A process that is gone, and one that runs (this test).
    let mut gone = Command::new(CKPT)
        .arg("--version")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    gone.wait().unwrap();
    let (dead, live) = (gone.id(), std::process::id());
    let removed = format!(".out.ckpt.{dead}.aB3xYz.ckpt-tmp");
    let kept = [
        format!(".out.ckpt.{live}.aB3xYz.ckpt-tmp"),
        format!(".other.ckpt.{dead}.aB3xYz.ckpt-tmp"),
        format!(".out.ckpt.{dead}.aB3xYz.ckpt-tmp.keep"),
        format!(".out.ckpt.{dead}.toolong1.ckpt-tmp"),
        ".out.ckpt.aB3xYz.ckpt-tmp".to_string(),
        "out.ckpt.ckpt-tmp".to_string(),
    ];
    for n in kept.iter().chain([&removed]) {
        fs::write(d.join(n), b"partial").unwrap();
    }
    ckpt_ok(&convert_args(&src, s(&d.join("out.ckpt"))));
    let mut expected: Vec<String> = kept.to_vec();
    expected.extend(["out.ckpt".into(), "src.ckpt".into()]);
    expected.sort();
    assert_eq!(names(d), expected);
}

/// A tmpfs mounted on a directory, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    /// Mounts a tmpfs with `options` on `dir`, or reports it [`missing`] and gives `None`.
    fn tmpfs(dir: &Path, options: &str, test: &str) -> Option<Mount> {
        let root = fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        if !root {
            missing(test, "mounting a tmpfs needs root");
            return None;
        }
        fs::create_dir_all(dir).unwrap();
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs", s(dir)])
            .output();
        match o {
            Ok(o) if o.status.success() => Some(Mount(dir.to_path_buf())),
            Ok(o) => {
                let err = String::from_utf8_lossy(&o.stderr);
                missing(test, &format!("mount failed: {}", err.trim()));
                None
            }
            Err(e) => {
                missing(test, &format!("cannot run mount: {e}"));
                None
            }
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let o = Command::new("umount").arg(&self.0).output();
        if !o.is_ok_and(|o| o.status.success()) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// Asserts that `o` is an I/O error (exit 3) whose message names `what`.
fn io_error(o: &Output, what: &str, context: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{context}: {err}");
    assert!(
        err.contains(what),
        "{context}: the error does not name {what}: {err}"
    );
}

/// A full filesystem: exit 3 naming the output, no file left beside it, a previous
/// output untouched.
#[test]
#[ignore = "needs root to mount a tmpfs; run with -- --ignored (CKPT_REQUIRE_COMPONENTS=1 to fail without)"]
fn a_full_filesystem_is_reported_with_the_path_and_leaves_nothing() {
    let (dir, src) = with_source("1M", "1");
    let full = dir.path().join("full");
    let Some(_mount) = Mount::tmpfs(&full, "size=256k", "full filesystem") else {
        return;
    };
    let out = full.join("out.ckpt");
    let o = ckpt(&convert_args(&src, s(&out)));
    io_error(&o, s(&out), "full filesystem");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("No space left"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        names(&full),
        Vec::<String>::new(),
        "nothing half-written remains"
    );
    // With a previous output: it stays as it was.
    fs::write(&out, b"previous").unwrap();
    let o = ckpt(&convert_args(&src, s(&out)));
    io_error(&o, s(&out), "full filesystem, previous output");
    assert_eq!(fs::read(&out).unwrap(), b"previous");
    assert_eq!(names(&full), ["out.ckpt"]);
}

/// Write errors name what could not be written: standard output on a full device, a
/// device given with -o (written in place, not replaced), a directory that does not
/// exist.
#[test]
fn write_errors_name_the_output() {
    let (dir, src) = with_source("1M", "1");
    let d = dir.path();
    // Standard output on /dev/full.
    let o = Command::new(CKPT)
        .args(convert_args(&src, "-"))
        .stdout(fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    io_error(&o, "writing standard output", "-o - > /dev/full");
    // -o /dev/full: written in place; the device stays a device.
    let o = ckpt(&convert_args(&src, "/dev/full"));
    io_error(&o, "/dev/full", "-o /dev/full");
    assert!(
        fs::metadata("/dev/full")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert!(
        temps(Path::new("/dev"), "full").is_empty(),
        "a temporary file in /dev"
    );
    // A directory that does not exist.
    let out = d.join("missing/out.ckpt");
    let o = ckpt(&convert_args(&src, s(&out)));
    io_error(&o, s(&out), "a missing directory");
}

/// A read-only directory (a read-only mount: root writes in any directory whatever its
/// permissions): exit 3 naming the output, nothing written.
#[test]
#[ignore = "needs root to mount a read-only tmpfs; run with -- --ignored (CKPT_REQUIRE_COMPONENTS=1 to fail without)"]
fn a_read_only_directory_is_reported_with_the_path() {
    let (dir, src) = with_source("1M", "1");
    let ro = dir.path().join("ro");
    let Some(mount) = Mount::tmpfs(&ro, "ro,size=64k", "read-only directory") else {
        return;
    };
    let out = ro.join("out.ckpt");
    let o = ckpt(&convert_args(&src, s(&out)));
    io_error(&o, s(&out), "a read-only directory");
    assert_eq!(names(&ro), Vec::<String>::new());
    drop(mount);
}

/// What is not a regular file is written through: a FIFO gets the output (it cannot be
/// replaced by a rename), and a symbolic link keeps pointing to the file it names, which
/// gets the output.
#[test]
fn fifos_and_symbolic_links_are_written_through() {
    let (dir, src) = with_source("64K", "2");
    let d = dir.path();
    let plain = d.join("plain.ckpt");
    ckpt_ok(&convert_args(&src, s(&plain)));
    let expected = fs::read(&plain).unwrap();
    // A symbolic link.
    let real = d.join("real.ckpt");
    fs::write(&real, b"previous").unwrap();
    let link = d.join("link.ckpt");
    std::os::unix::fs::symlink("real.ckpt", &link).unwrap();
    ckpt_ok(&convert_args(&src, s(&link)));
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read(&real).unwrap(), expected);
    assert_eq!(
        names(d),
        ["link.ckpt", "plain.ckpt", "real.ckpt", "src.ckpt"]
    );
    // A FIFO.
    let fifo = d.join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status();
    assert!(
        made.as_ref().is_ok_and(|st| st.success()),
        "mkfifo (coreutils): {made:?}"
    );
    let f = fifo.clone();
    let reader = std::thread::spawn(move || fs::read(f).unwrap());
    ckpt_ok(&convert_args(&src, s(&fifo)));
    assert_eq!(reader.join().unwrap(), expected);
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
    assert!(temps(d, "fifo").is_empty());
}
