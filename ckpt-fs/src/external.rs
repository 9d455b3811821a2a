//! External programs (rsync, btrfs), run with their failures told clearly: the binary
//! missing (named, with the Debian package that has it), the exit status, what the
//! program said on standard error.

use std::ffi::OsStr;
use std::io;
use std::process::{Command, Stdio};

/// An external program and the Debian package that installs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    /// The binary, as looked up in `PATH`.
    pub binary: &'static str,
    /// The Debian package that has it.
    pub package: &'static str,
}

/// rsync.
pub const RSYNC: Program = Program {
    binary: "rsync",
    package: "rsync",
};

/// btrfs (subvolume snapshot, send, receive).
pub const BTRFS: Program = Program {
    binary: "btrfs",
    package: "btrfs-progs",
};

/// What a program printed, when it succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error, trimmed.
    pub stderr: String,
}

/// How running a program failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The binary is not installed.
    #[error("{binary} is not installed (Debian package {package})")]
    Missing {
        /// The binary.
        binary: &'static str,
        /// The package that has it.
        package: &'static str,
    },
    /// It could not be started for another reason.
    #[error("cannot run {binary}: {reason}")]
    Spawn {
        /// The binary.
        binary: &'static str,
        /// Why.
        reason: String,
    },
    /// It ran and failed.
    #[error("{binary} failed with {status}{}", if stderr.is_empty() { String::new() } else { format!(": {stderr}") })]
    Failed {
        /// The binary.
        binary: &'static str,
        /// "exit status 3", "signal 9".
        status: String,
        /// Its exit code, when it exited.
        code: Option<i32>,
        /// Its standard error, trimmed.
        stderr: String,
    },
}

/// Standard error as text, trimmed, at most this many bytes kept (the end, where the
/// reason is).
pub const STDERR_KEPT: usize = 4096;

fn trimmed(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let s = s.trim();
    if s.len() <= STDERR_KEPT {
        return s.to_string();
    }
    let mut at = s.len() - STDERR_KEPT;
    while !s.is_char_boundary(at) {
        at += 1;
    }
    format!("...{}", &s[at..])
}

impl Program {
    /// Runs it with `args`, standard input closed; its output is returned when it exits
    /// 0.
    pub fn run<I, S>(&self, args: I) -> Result<Output, RunError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = Command::new(self.binary)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => RunError::Missing {
                    binary: self.binary,
                    package: self.package,
                },
                _ => RunError::Spawn {
                    binary: self.binary,
                    reason: e.to_string(),
                },
            })?;
        let stderr = trimmed(&out.stderr);
        if out.status.success() {
            return Ok(Output {
                stdout: out.stdout,
                stderr,
            });
        }
        use std::os::unix::process::ExitStatusExt;
        let status = match (out.status.code(), out.status.signal()) {
            (Some(c), _) => format!("exit status {c}"),
            (None, Some(s)) => format!("signal {s}"),
            (None, None) => "an unknown status".into(),
        };
        Err(RunError::Failed {
            binary: self.binary,
            status,
            code: out.status.code(),
            stderr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `binary` run with `args`, as it fails, in words.
    fn failure(binary: &'static str, package: &'static str, args: &[&str]) -> RunError {
        Program { binary, package }.run(args).unwrap_err()
    }

    #[test]
    fn true_succeeds() {
        let o = Program {
            binary: "true",
            package: "coreutils",
        }
        .run::<[&str; 0], &str>([])
        .unwrap();
        assert!(o.stdout.is_empty() && o.stderr.is_empty());
    }

    #[test]
    fn false_fails_with_its_exit_status() {
        let e = failure("false", "coreutils", &[]);
        assert!(matches!(e, RunError::Failed { code: Some(1), .. }), "{e}");
        assert_eq!(e.to_string(), "false failed with exit status 1");
    }

    #[test]
    fn stderr_is_reported_trimmed_with_the_status() {
        let e = failure("sh", "dash", &["-c", "echo x >&2; exit 3"]);
        assert_eq!(e.to_string(), "sh failed with exit status 3: x");
    }

    #[test]
    fn a_missing_binary_is_named_with_its_package() {
        let e = failure("ckpt-no-such-program", "ckpt-no-such-package", &["x"]);
        assert_eq!(
            e.to_string(),
            "ckpt-no-such-program is not installed (Debian package ckpt-no-such-package)"
        );
        assert_eq!(RSYNC.package, "rsync");
        assert_eq!(BTRFS.package, "btrfs-progs");
    }

    #[test]
    fn long_stderr_keeps_its_end() {
        let long = "a".repeat(STDERR_KEPT + 10) + "reason";
        let t = trimmed(long.as_bytes());
        assert!(t.starts_with("...") && t.ends_with("reason"));
        assert!(t.len() <= STDERR_KEPT + 3);
    }
}
