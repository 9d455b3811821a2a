//! rsync of a list of files under a root to a destination directory or an rsync remote:
//! `rsync -aHAX --from0 --files-from=LIST ROOT/ DEST`, with rsync's own exit status told
//! in its words when it fails.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::external::{RSYNC, RunError};

/// Where rsync copies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A directory on this machine.
    Local(PathBuf),
    /// An rsync remote: `HOST:PATH`, `USER@HOST:PATH` or `rsync://...`.
    Remote(String),
}

impl Destination {
    /// `dest` as rsync reads it: a colon before the first slash makes it a remote, as
    /// it does for rsync (write `./a:b` for a local name with a colon).
    pub fn parse(dest: &str) -> Destination {
        let before_slash = dest.split('/').next().unwrap_or("");
        if dest.starts_with("rsync://") || before_slash.contains(':') {
            Destination::Remote(dest.to_string())
        } else {
            Destination::Local(PathBuf::from(dest))
        }
    }

    /// The destination as rsync's last argument, ending in `/` so that the files go
    /// inside it.
    fn argument(&self) -> OsString {
        let mut s: OsString = match self {
            Destination::Local(p) => p.clone().into_os_string(),
            Destination::Remote(r) => r.into(),
        };
        if !s.to_string_lossy().ends_with('/') {
            s.push("/");
        }
        s
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Local(p) => write!(f, "{}", p.display()),
            Destination::Remote(r) => f.write_str(r),
        }
    }
}

/// How to run rsync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RsyncOptions {
    /// `--checksum`: compare files by content, not by size and time.
    pub checksum: bool,
}

/// What rsync did, from its `--stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RsyncReport {
    /// The rsync command line, as run.
    pub command: Vec<String>,
    /// "Number of files": everything it considered.
    pub files: Option<u64>,
    /// "Number of regular files transferred".
    pub transferred: Option<u64>,
    /// "Total transferred file size", in bytes.
    pub transferred_bytes: Option<u64>,
}

/// How an rsync run failed.
#[derive(Debug, thiserror::Error)]
pub enum RsyncError {
    /// rsync ran and failed: its exit status, what it means, what it said.
    #[error("rsync failed with exit status {code} ({meaning}){}", if stderr.is_empty() { String::new() } else { format!(": {stderr}") })]
    Failed {
        /// Its exit status.
        code: i32,
        /// What rsync's manual says the status means.
        meaning: &'static str,
        /// Its standard error, trimmed.
        stderr: String,
    },
    /// rsync is missing, could not be started, or was killed.
    #[error(transparent)]
    Run(RunError),
    /// The list of files could not be written for rsync.
    #[error("cannot write the list of files for rsync: {0}")]
    List(String),
}

/// What an rsync exit status means (rsync(1), EXIT VALUES).
pub fn exit_meaning(code: i32) -> &'static str {
    match code {
        1 => "syntax or usage error",
        2 => "protocol incompatibility",
        3 => "errors selecting input/output files or directories",
        4 => "requested action not supported",
        5 => "error starting the client-server protocol",
        6 => "daemon unable to append to its log file",
        10 => "error in socket I/O",
        11 => "error in file I/O",
        12 => "error in the rsync protocol data stream",
        13 => "errors with program diagnostics",
        14 => "error in IPC code",
        20 => "received SIGUSR1 or SIGINT",
        21 => "some error returned by waitpid()",
        22 => "error allocating core memory buffers",
        23 => "partial transfer due to error",
        24 => "partial transfer due to vanished source files",
        25 => "the --max-delete limit stopped deletions",
        30 => "timeout in data send/receive",
        35 => "timeout waiting for daemon connection",
        _ => "an exit status rsync does not document",
    }
}

/// A number in rsync's `--stats` after `label:` ("1,234" or "1234", maybe followed by
/// "bytes" or a parenthesis).
fn stat(stats: &str, label: &str) -> Option<u64> {
    let line = stats.lines().find_map(|l| l.trim().strip_prefix(label))?;
    let value = line.trim_start_matches(':').trim();
    let digits: String = value
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '.')
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The report rsync's `--stats` output gives.
pub fn parse_stats(command: Vec<String>, stdout: &str) -> RsyncReport {
    RsyncReport {
        command,
        files: stat(stdout, "Number of files"),
        transferred: stat(stdout, "Number of regular files transferred"),
        transferred_bytes: stat(stdout, "Total transferred file size"),
    }
}

/// Copies `files` (paths relative to `root`, which the caller has checked stay inside
/// it) from `root` to `dest`, keeping their relative paths, with permissions, owners,
/// times, hard links, ACLs and xattrs (`-aHAX`). Directories in the list are created,
/// not copied whole (rsync's `--files-from` rule).
pub fn copy(
    root: &Path,
    files: &[PathBuf],
    dest: &Destination,
    options: &RsyncOptions,
) -> Result<RsyncReport, RsyncError> {
    let mut list = tempfile::NamedTempFile::new().map_err(|e| RsyncError::List(e.to_string()))?;
    for f in files {
        use std::os::unix::ffi::OsStrExt;
        list.write_all(f.as_os_str().as_bytes())
            .and_then(|()| list.write_all(b"\0"))
            .map_err(|e| RsyncError::List(e.to_string()))?;
    }
    list.flush().map_err(|e| RsyncError::List(e.to_string()))?;
    let mut src: OsString = root.as_os_str().to_os_string();
    if !src.to_string_lossy().ends_with('/') {
        src.push("/");
    }
    let mut files_from = OsString::from("--files-from=");
    files_from.push(list.path());
    let mut args: Vec<OsString> = ["-aHAX", "--from0", "--stats"]
        .iter()
        .map(OsString::from)
        .collect();
    if options.checksum {
        args.push("--checksum".into());
    }
    args.extend([files_from, src, dest.argument()]);
    let command: Vec<String> = std::iter::once(RSYNC.binary.to_string())
        .chain(args.iter().map(|a| a.to_string_lossy().into_owned()))
        .collect();
    match RSYNC.run(&args) {
        Ok(out) => Ok(parse_stats(command, &String::from_utf8_lossy(&out.stdout))),
        Err(e) => Err(failure(e)),
    }
}

/// Copies the one file `file` to `to` (a local path or an rsync remote), keeping its
/// times and mode: how a manifest goes beside a remote snapshot.
pub fn send_file(file: &Path, to: &str) -> Result<(), RsyncError> {
    let args = [OsString::from("-t"), file.as_os_str().into(), to.into()];
    match RSYNC.run(&args) {
        Ok(_) => Ok(()),
        Err(e) => Err(failure(e)),
    }
}

/// rsync's failure with its exit status in words.
fn failure(e: RunError) -> RsyncError {
    match e {
        RunError::Failed {
            code: Some(code),
            stderr,
            ..
        } => RsyncError::Failed {
            code,
            meaning: exit_meaning(code),
            stderr,
        },
        e => RsyncError::Run(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse_as_rsync_reads_them() {
        assert_eq!(
            Destination::parse("/srv/dest"),
            Destination::Local("/srv/dest".into())
        );
        assert_eq!(
            Destination::parse("./a:b"),
            Destination::Local("./a:b".into())
        );
        assert_eq!(
            Destination::parse("host:/srv/x"),
            Destination::Remote("host:/srv/x".into())
        );
        assert_eq!(
            Destination::parse("u@h:x"),
            Destination::Remote("u@h:x".into())
        );
        assert_eq!(
            Destination::parse("rsync://h/mod/p"),
            Destination::Remote("rsync://h/mod/p".into())
        );
        assert_eq!(Destination::parse("d").argument(), OsString::from("d/"));
        assert_eq!(Destination::parse("d/").argument(), OsString::from("d/"));
    }

    #[test]
    fn stats_parse_with_and_without_thousands_separators() {
        let out = "\nNumber of files: 1,204 (reg: 1,100, dir: 104)\n\
                   Number of regular files transferred: 3\n\
                   Total transferred file size: 12,345,678 bytes\n";
        let r = parse_stats(vec![], out);
        assert_eq!(r.files, Some(1204));
        assert_eq!(r.transferred, Some(3));
        assert_eq!(r.transferred_bytes, Some(12_345_678));
        assert_eq!(parse_stats(vec![], "nothing").files, None);
    }

    #[test]
    fn exit_statuses_are_told_in_words() {
        assert_eq!(exit_meaning(23), "partial transfer due to error");
        assert_eq!(exit_meaning(99), "an exit status rsync does not document");
        let e = RsyncError::Failed {
            code: 23,
            meaning: exit_meaning(23),
            stderr: "x: Permission denied".into(),
        };
        assert_eq!(
            e.to_string(),
            "rsync failed with exit status 23 (partial transfer due to error): x: Permission denied"
        );
    }
}
