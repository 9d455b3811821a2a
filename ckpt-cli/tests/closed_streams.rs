//! A closed standard output or standard error never makes ckpt panic (exit 101): every
//! subcommand, 50 runs each way. A closed standard output (a pipe whose reader is gone,
//! as with `| head -1`) ends a run that succeeds with 0, quietly; a closed standard error
//! (a pipe whose reader is gone, or no fd 2 at all) leaves the exit status what it is
//! otherwise.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

const CKPT: &str = env!("CARGO_BIN_EXE_ckpt");

/// Runs of each command with a closed standard output, and as many with a closed
/// standard error.
const RUNS: usize = 50;

/// How a standard stream is closed.
#[derive(Clone, Copy, Debug)]
enum Closed {
    /// A pipe whose read end is closed before the run starts: the first write fails.
    PipeBefore,
    /// A pipe whose read end is closed right after the run starts (`| head -1`).
    PipeAfter,
    /// No file open on the descriptor at all.
    Descriptor,
}

/// Which standard stream is closed.
#[derive(Clone, Copy, Debug)]
enum Stream {
    Stdout,
    Stderr,
}

fn run(args: &[String], stream: Stream, closed: Closed) -> ExitStatus {
    let mut cmd = Command::new(CKPT);
    cmd.args(args).stdin(Stdio::null());
    let quiet = || Stdio::null();
    let (reader, writer) = std::io::pipe().unwrap();
    let mut reader = Some(reader);
    if matches!(closed, Closed::PipeBefore) {
        reader = None;
    }
    let closed_stream = match closed {
        Closed::PipeBefore | Closed::PipeAfter => Stdio::from(writer),
        Closed::Descriptor => {
            let fd = match stream {
                Stream::Stdout => 1,
                Stream::Stderr => 2,
            };
            // SAFETY: close(2) in the child between fork and exec, on a descriptor number
            // only; it allocates nothing and touches no lock.
            unsafe {
                cmd.pre_exec(move || {
                    libc::close(fd);
                    Ok(())
                });
            }
            quiet()
        }
    };
    match stream {
        Stream::Stdout => cmd.stdout(closed_stream).stderr(quiet()),
        Stream::Stderr => cmd.stderr(closed_stream).stdout(quiet()),
    };
    let mut child = cmd.spawn().unwrap();
    // The command's copy of the write end is the only one left; the reader goes now.
    drop(cmd);
    drop(reader.take());
    child.wait().unwrap()
}

/// The exit code of `args` with both streams open (read to the end).
fn normal_code(args: &[String]) -> i32 {
    let o = Command::new(CKPT)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    o.status
        .code()
        .unwrap_or_else(|| panic!("ckpt {args:?}: {}", o.status))
}

/// The command lines: every subcommand, its success paths and some of its failures.
fn commands(dir: &Path) -> Vec<Vec<String>> {
    let image = dir.join("img.ckpt");
    let other = dir.join("other.ckpt");
    let dump = dir.join("img.jsonl");
    let bad = dir.join("bad.ckpt");
    let p = |p: &Path| p.to_str().unwrap().to_string();
    let sample = |rev: &str, arch: &str, out: &Path| {
        let st = Command::new(CKPT)
            .args(["sample", "--rev", rev, "--arch", arch, "-o"])
            .arg(out)
            .status()
            .unwrap();
        assert!(st.success());
    };
    sample("v23-rc2", "x86_64", &image);
    sample("v21-rc", "s390x", &other);
    let st = Command::new(CKPT)
        .args(["dump", "--payloads", "-o"])
        .arg(&dump)
        .arg(&image)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::write(&bad, &std::fs::read(&image).unwrap()[..100]).unwrap();
    let (img, oth, dmp, bad) = (p(&image), p(&other), p(&dump), p(&bad));
    let pages = p(&dir.join("man"));
    let line = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let mut v = vec![
        line(&["--help"]),
        line(&["--version"]),
        line(&["help", "convert"]),
        line(&["convert", "--help"]),
        line(&["schema", "show", "--help"]),
        line(&["man"]),
        line(&["man", "--dir", &pages]),
        line(&["info", &img]),
        line(&[
            "info",
            "-v",
            "-p",
            "-t",
            "-e",
            "--stats",
            "--show-arch-regs",
            &img,
        ]),
        line(&["info", "--json", &img]),
        line(&["dump", &img]),
        line(&["dump", "--payloads", &img]),
        line(&["encode", &dmp, "-o", "-"]),
        line(&["sample", "--rev", "v19", "--arch", "x86_32", "-o", "-"]),
        line(&["convert", &img, "--to-rev", "v23-rc1.pids", "-o", "-"]),
        line(&[
            "convert",
            &img,
            "--to-rev",
            "v23-rc1.pids",
            "-o",
            "/dev/null",
        ]),
        line(&["diff", &img, &img]),
        line(&["diff", &img, &oth, "--json"]),
        line(&["check", &img]),
        line(&["check", &img, "--json"]),
        line(&["schema", "list"]),
        line(&["schema", "list", "--json"]),
        line(&["schema", "show", "v23-rc2"]),
        line(&["schema", "diff", "v21-rc", "v23-rc2", "--json"]),
        // Failures: a truncated image, a missing file, usage errors.
        line(&["info", &bad]),
        line(&["info", "--json", &bad]),
        line(&["dump", "/nonexistent/img.ckpt"]),
        line(&["convert", &img, "-o", "-"]),
        line(&["no-such-command"]),
    ];
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        v.push(line(&["completions", shell]));
    }
    v
}

#[test]
fn closed_standard_streams_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let commands = commands(dir.path());
    let mut failures = Vec::new();
    for args in &commands {
        let normal = normal_code(args);
        for i in 0..2 * RUNS {
            let stream = if i < RUNS {
                Stream::Stdout
            } else {
                Stream::Stderr
            };
            let closed = [Closed::PipeBefore, Closed::PipeAfter, Closed::Descriptor][i % 3];
            let st = run(args, stream, closed);
            let code = st.code();
            let fine = match stream {
                // A closed output ends a run quietly; one that fails still fails.
                Stream::Stdout if normal == 0 => code == Some(0),
                Stream::Stdout => code == Some(0) || code == Some(normal),
                Stream::Stderr => code == Some(normal),
            };
            if !fine {
                failures.push(format!(
                    "ckpt {} with {stream:?} closed ({closed:?}): {st} (signal {:?}), normally {normal}",
                    args.join(" "),
                    st.signal()
                ));
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
