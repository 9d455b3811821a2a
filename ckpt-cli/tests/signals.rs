//! SIGINT, SIGTERM and SIGHUP in the middle of a run that writes files: the run exits
//! with 128 + the signal's number, no temporary file is left (`*.ckpt-tmp`, the
//! `--report` temporary, the conversion's spill file) and the destination is as it was
//! (absent, or its previous contents).
//!
//! Each run reads its input from a pipe this test feeds: the test writes part of the
//! input, waits until the run's temporary output holds data, sends the signal while the
//! pipe is still open (the run is blocked reading it), and only then closes the pipe.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{CKPT, ckpt_ok, names, s};

/// The signals a run handles, with the exit status they give.
const SIGNALS: [(i32, &str, i32); 3] = [
    (libc::SIGINT, "SIGINT", 130),
    (libc::SIGTERM, "SIGTERM", 143),
    (libc::SIGHUP, "SIGHUP", 129),
];

/// Whether a run is midway: a process and the directory it writes in.
type Midway = fn(u32, &Path) -> bool;

/// Midway when a temporary output in `dir` holds data.
fn writing_output(_pid: u32, dir: &Path) -> bool {
    fs::read_dir(dir).unwrap().any(|e| {
        let e = e.unwrap();
        e.file_name().to_string_lossy().ends_with(".ckpt-tmp")
            && e.metadata().is_ok_and(|m| m.len() > 0)
    })
}

/// Midway when the process has a temporary output in `dir` and an anonymous (already
/// unlinked) file there open: the conversion's spill file.
fn spilling(pid: u32, dir: &Path) -> bool {
    let has_output = fs::read_dir(dir).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".ckpt-tmp")
    });
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    let spill_open = fds.flatten().any(|fd| {
        fs::read_link(fd.path()).is_ok_and(|target| {
            target.starts_with(dir) && target.to_string_lossy().ends_with(" (deleted)")
        })
    });
    has_output && spill_open
}

/// A run of ckpt whose standard input this test feeds.
struct Fed {
    child: Child,
    what: String,
}

impl Fed {
    fn spawn(args: &[&str], what: String) -> Fed {
        let child = Command::new(CKPT)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Fed { child, what }
    }

    /// Writes `part` to the run's input, then waits until the run is `midway` in `dir`, at
    /// most a minute (a run that never gets there fails).
    fn feed_until(&mut self, part: &[u8], dir: &Path, midway: Midway) {
        self.child
            .stdin
            .as_mut()
            .unwrap()
            .write_all(part)
            .unwrap_or_else(|e| panic!("{}: feeding the input: {e}", self.what));
        let started = Instant::now();
        while !midway(self.child.id(), dir) {
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!("{}: the run ended before writing ({st})", self.what);
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{}: the run is not midway after a minute; in {dir:?}: {:?}",
                self.what,
                names(dir)
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends `signal` with the input still open, then closes it; gives the exit code and
    /// standard error.
    fn interrupt(mut self, signal: i32) -> (Option<i32>, String) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on the pid of a child this test spawned and has not reaped.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "{}", self.what);
        let started = Instant::now();
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{}: the run does not end after the signal",
                self.what
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        drop(self.child.stdin.take());
        let mut err = String::new();
        std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut err).unwrap();
        (status.code(), err)
    }
}

/// A directory holding an input image made by `sample ARGS`.
fn with_image(sample: &[&str]) -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["sample", "-o", "-"];
    args.extend(sample);
    let image = ckpt_ok(&args).stdout;
    (dir, image)
}

/// Interrupts `ckpt ARGS` (which reads `input` from standard input and writes `outputs`
/// in `dir`) with each signal, without and with previous outputs, and checks what is
/// left.
fn interrupt_each_way(
    (dir, input, midway): (&Path, &[u8], Midway),
    args: &[&str],
    outputs: &[&str],
    what: &str,
) {
    let before = names(dir);
    for (signal, name, code) in SIGNALS {
        for previous in [false, true] {
            let what = format!("{what}, {name}, previous outputs: {previous}");
            for o in outputs {
                let p = dir.join(o);
                if previous {
                    fs::write(&p, format!("previous {o}")).unwrap();
                } else if p.exists() {
                    fs::remove_file(&p).unwrap();
                }
            }
            let mut run = Fed::spawn(args, what.clone());
            run.feed_until(&input[..input.len() / 2], dir, midway);
            let (status, err) = run.interrupt(signal);
            assert_eq!(status, Some(code), "{what}: exit status; stderr: {err}");
            assert!(
                err.contains(name),
                "{what}: stderr does not name {name}: {err}"
            );
            let mut expected = before.clone();
            for o in outputs {
                let now = fs::read(dir.join(o)).ok();
                if previous {
                    assert_eq!(
                        now.as_deref(),
                        Some(format!("previous {o}").as_bytes()),
                        "{what}: {o} changed"
                    );
                    expected.push(o.to_string());
                } else {
                    assert_eq!(now, None, "{what}: {o} appeared");
                }
            }
            expected.sort();
            assert_eq!(names(dir), expected, "{what}: files left");
        }
    }
}

#[test]
fn an_interrupted_conversion_leaves_no_temporary_and_the_destination_as_it_was() {
    let (dir, image) = with_image(&["--rev", "v23-rc2", "--arch", "x86_64", "--memory", "8M"]);
    let d = dir.path();
    let (out, report) = (d.join("out.ckpt"), d.join("report.json"));
    let args = [
        "convert",
        "-",
        "--to-rev",
        "v23-rc1.pids",
        "-o",
        s(&out),
        "--report",
        s(&report),
    ];
    interrupt_each_way(
        (d, &image, writing_output),
        &args,
        &["out.ckpt", "report.json"],
        "convert --report",
    );
}

/// Across pre-v19.c → v19-rc2 a task's objects are moved through a spill file beside the
/// output: it is anonymous, and nothing of it remains either.
#[test]
fn an_interrupted_conversion_through_a_spill_file_leaves_nothing() {
    let (dir, image) = with_image(&[
        "--rev",
        "pre-v19.c",
        "--arch",
        "x86_32",
        "--omit",
        "sockets",
        "--memory",
        "8M",
    ]);
    let d = dir.path();
    let out = d.join("out.ckpt");
    let args = ["convert", "-", "--to-rev", "v19-rc2", "-o", s(&out)];
    interrupt_each_way(
        (d, &image, spilling),
        &args,
        &["out.ckpt"],
        "convert (spilled)",
    );
}

#[test]
fn interrupted_dump_and_encode_leave_no_temporary_and_the_destination_as_it_was() {
    let (dir, image) = with_image(&["--rev", "v21-rc", "--arch", "s390x", "--memory", "4M"]);
    let d = dir.path();
    let out = d.join("dump.jsonl");
    interrupt_each_way(
        (d, &image, writing_output),
        &["dump", "--payloads", "--rev", "v21-rc", "-", "-o", s(&out)],
        &["dump.jsonl"],
        "dump",
    );
    let source = tempfile::tempdir().unwrap();
    let image_file = source.path().join("in.ckpt");
    fs::write(&image_file, &image).unwrap();
    let dump = ckpt_ok(&["dump", "--payloads", s(&image_file)]).stdout;
    let out = d.join("copy.ckpt");
    interrupt_each_way(
        (d, &dump, writing_output),
        &["encode", "-", "-o", s(&out)],
        &["copy.ckpt"],
        "encode",
    );
}
