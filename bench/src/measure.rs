//! Running one command as a child process: wall time, CPU time and peak RSS (`wait4`).

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where a child's standard output goes.
#[derive(Clone, Debug)]
pub enum Sink {
    /// `/dev/null`.
    Null,
    /// A file, created fresh (any old one is removed first, outside the timing), as
    /// `cmd > FILE` does in a shell.
    File(PathBuf),
    /// `/dev/null`, for a command that writes this file itself: it is removed before
    /// each run (outside the timing).
    Removed(PathBuf),
}

/// What one run cost.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// From just before the spawn to the return of `wait4`.
    pub wall: Duration,
    /// User CPU time of the child.
    pub user: Duration,
    /// System CPU time of the child.
    pub sys: Duration,
    /// Peak resident set size of the child, bytes (`ru_maxrss`).
    pub maxrss: u64,
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
}

fn duration(tv: libc::timeval) -> Duration {
    Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
}

/// Runs `argv` with standard output to `out` and standard error to `err` (`/dev/null`
/// when `None`), and measures it.
///
/// The child is started with `posix_spawn` (vfork), so before its `exec` it shares this
/// process's memory; Linux counts that in the child's `ru_maxrss` (`exec_mmap` keeps the
/// old mm's high-water mark). This process stays small (see [`self_maxrss`]), which is
/// the floor of every RSS measured.
pub fn run(argv: &[String], out: &Sink, err: Option<&PathBuf>) -> io::Result<Sample> {
    let stdout = match out {
        Sink::Null => Stdio::null(),
        Sink::Removed(p) => {
            remove_if_exists(p)?;
            Stdio::null()
        }
        Sink::File(p) => {
            remove_if_exists(p)?;
            Stdio::from(File::create(p)?)
        }
    };
    let stderr = match err {
        Some(p) => Stdio::from(File::create(p)?),
        None => Stdio::null(),
    };
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    let start = Instant::now();
    let child = cmd
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run {}: {e}", argv[0])))?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `ru` are valid for writes; `pid` is our own child, which
        // nothing else waits for (`child` is dropped without `wait`).
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    let wall = start.elapsed();
    drop(child);
    let code = if libc::WIFEXITED(status) {
        Some(libc::WEXITSTATUS(status))
    } else {
        None
    };
    Ok(Sample {
        wall,
        user: duration(ru.ru_utime),
        sys: duration(ru.ru_stime),
        maxrss: ru.ru_maxrss as u64 * 1024,
        code,
    })
}

/// Peak RSS of this process so far, bytes: the floor of the children's `ru_maxrss`.
pub fn self_maxrss() -> u64 {
    // SAFETY: as in `run`.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is valid for writes.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru.ru_maxrss as u64 * 1024
}

/// Removes a file; a missing one is fine.
pub fn remove_if_exists(p: &PathBuf) -> io::Result<()> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The smallest and the median of `v` (the mean of the two middle ones when even).
pub fn best_median(v: &[Duration]) -> (Duration, Duration) {
    let mut s = v.to_vec();
    s.sort();
    let n = s.len();
    assert!(n > 0, "no samples");
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2
    };
    (s[0], median)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_and_median() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&x| Duration::from_millis(x))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            best_median(&ms(&[30, 10, 20])),
            (Duration::from_millis(10), Duration::from_millis(20))
        );
        assert_eq!(
            best_median(&ms(&[40, 10, 20, 30])),
            (Duration::from_millis(10), Duration::from_millis(25))
        );
    }

    #[test]
    fn measures_a_child() {
        let argv: Vec<String> = ["sh", "-c", "exit 3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let s = run(&argv, &Sink::Null, None).unwrap();
        assert_eq!(s.code, Some(3));
        assert!(s.maxrss > 0);
    }
}
