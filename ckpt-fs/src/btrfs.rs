//! btrfs subvolumes through btrfs-progs: the subvolume that holds a path, read-only
//! snapshots, `btrfs send` streams (incremental with a parent) and `btrfs receive`.
//!
//! A snapshot cannot take single files: it takes the whole subvolume that holds ROOT,
//! and must be made on the same filesystem. Each of those conditions is checked first and
//! refused with what the path is on, before btrfs is run.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::external::{BTRFS, RunError};
use crate::mounts::{Mount, MountError, mount_of};

/// The inode number of every btrfs subvolume's top directory
/// (`BTRFS_FIRST_FREE_OBJECTID`).
pub const SUBVOLUME_ROOT_INODE: u64 = 256;

/// A btrfs subvolume, as `btrfs subvolume show` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subvolume {
    /// Its top directory.
    pub path: PathBuf,
    /// Its UUID.
    pub uuid: String,
    /// The UUID of the subvolume it is a snapshot of.
    pub parent_uuid: Option<String>,
    /// The UUID of the subvolume it was received from (`btrfs receive`).
    pub received_uuid: Option<String>,
    /// Its generation (transaction id) when shown.
    pub generation: u64,
    /// Whether it is read-only.
    pub readonly: bool,
}

/// What can go wrong with a btrfs operation.
#[derive(Debug, thiserror::Error)]
pub enum BtrfsError {
    /// The path is on another filesystem.
    #[error(
        "{} is not on btrfs: it is on {} ({} mounted at {}); a btrfs snapshot needs ROOT on a btrfs subvolume",
        path.display(), on.fstype, on.source, on.mount_point.display()
    )]
    NotBtrfs {
        /// The path.
        path: PathBuf,
        /// The mount that holds it.
        on: Box<Mount>,
    },
    /// Two paths that must be on one btrfs filesystem are not.
    #[error(
        "{} is not on the filesystem of {} ({} at {}, but {} at {}): a snapshot is made on the filesystem it is taken of",
        dest.display(), of.display(), of_mount.source, of_mount.mount_point.display(),
        dest_mount.source, dest_mount.mount_point.display()
    )]
    OtherFilesystem {
        /// The snapshot's destination.
        dest: PathBuf,
        /// Where the destination is.
        dest_mount: Box<Mount>,
        /// The subvolume it was to be a snapshot of.
        of: PathBuf,
        /// Where that is.
        of_mount: Box<Mount>,
    },
    /// The destination exists already.
    #[error("{} exists already: a snapshot is never made over anything", .0.display())]
    Exists(PathBuf),
    /// The filesystem of a path cannot be told.
    #[error(transparent)]
    Mount(#[from] MountError),
    /// A path cannot be read.
    #[error("{}: {reason}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// btrfs failed, or is not installed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// btrfs said something ckpt does not understand.
    #[error("btrfs {command}: {what}")]
    Unexpected {
        /// The subcommand.
        command: &'static str,
        /// What was missing from its output.
        what: String,
    },
}

fn io_error(path: &Path, e: &io::Error) -> BtrfsError {
    BtrfsError::Io {
        path: path.to_path_buf(),
        reason: match e.kind() {
            io::ErrorKind::NotFound => "does not exist".to_string(),
            _ => e.to_string(),
        },
    }
}

/// The btrfs mount holding `path`, or [`BtrfsError::NotBtrfs`] naming what it is on.
pub fn btrfs_mount(path: &Path) -> Result<Mount, BtrfsError> {
    let on = mount_of(path)?;
    if on.fstype != "btrfs" {
        return Err(BtrfsError::NotBtrfs {
            path: path.to_path_buf(),
            on: Box::new(on),
        });
    }
    Ok(on)
}

/// The top directory of the subvolume that holds `path` (resolved), and `path`
/// relative to it: the nearest ancestor (or `path` itself) whose inode is
/// [`SUBVOLUME_ROOT_INODE`] on the same device.
pub fn subvolume_holding(path: &Path) -> Result<(PathBuf, PathBuf), BtrfsError> {
    btrfs_mount(path)?;
    let real = fs::canonicalize(path).map_err(|e| io_error(path, &e))?;
    let dev = fs::metadata(&real).map_err(|e| io_error(&real, &e))?.dev();
    let mut at = real.as_path();
    loop {
        let md = fs::metadata(at).map_err(|e| io_error(at, &e))?;
        if md.dev() == dev && md.ino() == SUBVOLUME_ROOT_INODE {
            let rel = real.strip_prefix(at).unwrap_or(Path::new("")).to_path_buf();
            return Ok((at.to_path_buf(), rel));
        }
        match at.parent() {
            Some(p) => at = p,
            None => {
                return Err(BtrfsError::Unexpected {
                    command: "subvolume show",
                    what: format!("no subvolume top directory above {}", real.display()),
                });
            }
        }
    }
}

/// The value of `key:` in `btrfs subvolume show` output, `None` for `-`.
fn field<'t>(text: &'t str, key: &str) -> Option<&'t str> {
    text.lines()
        .filter_map(|l| l.trim().split_once(':'))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
        .filter(|v| *v != "-" && !v.is_empty())
}

/// Parses `btrfs subvolume show` output for the subvolume at `path`.
pub fn parse_show(path: &Path, text: &str) -> Result<Subvolume, BtrfsError> {
    let missing = |what: &str| BtrfsError::Unexpected {
        command: "subvolume show",
        what: format!("no {what} in its description of {}", path.display()),
    };
    let uuid = field(text, "UUID").ok_or_else(|| missing("UUID"))?;
    let generation = field(text, "Generation")
        .and_then(|g| g.parse().ok())
        .ok_or_else(|| missing("Generation"))?;
    Ok(Subvolume {
        path: path.to_path_buf(),
        uuid: uuid.to_string(),
        parent_uuid: field(text, "Parent UUID").map(str::to_string),
        received_uuid: field(text, "Received UUID").map(str::to_string),
        generation,
        readonly: field(text, "Flags")
            .is_some_and(|f| f.split(',').any(|f| f.trim() == "readonly")),
    })
}

/// `btrfs subvolume show PATH`.
pub fn show(path: &Path) -> Result<Subvolume, BtrfsError> {
    let out = BTRFS.run([
        OsStr::new("subvolume"),
        OsStr::new("show"),
        path.as_os_str(),
    ])?;
    parse_show(path, &String::from_utf8_lossy(&out.stdout))
}

/// Makes a read-only snapshot of the subvolume `of` at `dest` (which must not exist, and
/// must be on `of`'s filesystem), and describes it.
pub fn snapshot_readonly(of: &Path, dest: &Path) -> Result<Subvolume, BtrfsError> {
    let of_mount = btrfs_mount(of)?;
    if fs::symlink_metadata(dest).is_ok() {
        return Err(BtrfsError::Exists(dest.to_path_buf()));
    }
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dest_mount = mount_of(parent)?;
    if dest_mount.fstype != "btrfs" || dest_mount.device != of_mount.device {
        return Err(BtrfsError::OtherFilesystem {
            dest: dest.to_path_buf(),
            dest_mount: Box::new(dest_mount),
            of: of.to_path_buf(),
            of_mount: Box::new(of_mount),
        });
    }
    BTRFS.run([
        OsStr::new("subvolume"),
        OsStr::new("snapshot"),
        OsStr::new("-r"),
        of.as_os_str(),
        dest.as_os_str(),
    ])?;
    show(dest)
}

/// Deletes the subvolume at `path` (`btrfs subvolume delete`): how a snapshot that
/// failed its checks is taken back.
pub fn delete(path: &Path) -> Result<(), BtrfsError> {
    BTRFS.run([
        OsStr::new("subvolume"),
        OsStr::new("delete"),
        path.as_os_str(),
    ])?;
    Ok(())
}

/// `btrfs send` of the read-only `snapshot` into the file `out` (written by btrfs;
/// the caller gives a temporary name and renames it when this succeeds), incremental
/// against `parent` when given.
pub fn send(snapshot: &Path, parent: Option<&Path>, out: &Path) -> Result<(), BtrfsError> {
    let mut args: Vec<&OsStr> = vec![OsStr::new("send")];
    if let Some(p) = parent {
        args.extend([OsStr::new("-p"), p.as_os_str()]);
    }
    args.extend([OsStr::new("-f"), out.as_os_str(), snapshot.as_os_str()]);
    BTRFS.run(args)?;
    Ok(())
}

/// The subvolume `btrfs receive` says it made: its "At subvol NAME" or "At snapshot
/// NAME" line.
pub fn received_name(stderr: &str) -> Option<&str> {
    stderr.lines().rev().find_map(|l| {
        l.strip_prefix("At subvol ")
            .or_else(|| l.strip_prefix("At snapshot "))
            .map(str::trim)
    })
}

/// `btrfs receive -f STREAM INTO`: makes the subvolume the stream holds inside the
/// directory `into` (on btrfs), and describes it.
pub fn receive(stream: &Path, into: &Path) -> Result<Subvolume, BtrfsError> {
    fs::metadata(stream).map_err(|e| io_error(stream, &e))?;
    btrfs_mount(into)?;
    let out = BTRFS.run([
        OsStr::new("receive"),
        OsStr::new("-f"),
        stream.as_os_str(),
        into.as_os_str(),
    ])?;
    // btrfs-progs 6.2 says "At subvol" on standard error and "At snapshot" on standard
    // output.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let said = received_name(&out.stderr).or_else(|| received_name(&stdout));
    let name = said.ok_or_else(|| BtrfsError::Unexpected {
        command: "receive",
        what: format!(
            "it did not say which subvolume it made in {} (it said: {} {})",
            into.display(),
            stdout.trim(),
            out.stderr
        ),
    })?;
    let name = Path::new(name)
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(name));
    show(&into.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOW: &str = "s2
\tName: \t\t\ts2
\tUUID: \t\t\t38a62a55-d506-8548-84b7-0c3e284e7d03
\tParent UUID: \t\t6d4eb3bf-c64c-bf4a-b725-a7ec93623dba
\tReceived UUID: \t\t-
\tCreation time: \t\t2026-12-04 04:19:48 +0000
\tSubvolume ID: \t\t258
\tGeneration: \t\t8
\tGen at creation: \t8
\tFlags: \t\t\treadonly
\tSnapshot(s):
";

    #[test]
    fn show_output_parses() {
        let s = parse_show(Path::new("/m/s2"), SHOW).unwrap();
        assert_eq!(s.uuid, "38a62a55-d506-8548-84b7-0c3e284e7d03");
        assert_eq!(
            s.parent_uuid.as_deref(),
            Some("6d4eb3bf-c64c-bf4a-b725-a7ec93623dba")
        );
        assert_eq!(s.received_uuid, None);
        assert_eq!(s.generation, 8);
        assert!(s.readonly);
    }

    #[test]
    fn show_output_without_a_uuid_is_named() {
        let e = parse_show(Path::new("/m/x"), "x\n\tName: x\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "btrfs subvolume show: no UUID in its description of /m/x"
        );
    }

    #[test]
    fn receive_names_what_it_made() {
        assert_eq!(received_name("At subvol s1\n"), Some("s1"));
        assert_eq!(received_name("At snapshot s2"), Some("s2"));
        assert_eq!(received_name("ERROR: x"), None);
    }

    #[test]
    fn a_path_not_on_btrfs_says_what_it_is_on() {
        // /proc is never btrfs.
        let e = subvolume_holding(Path::new("/proc/self")).unwrap_err();
        let t = e.to_string();
        assert!(
            t.starts_with("/proc/self is not on btrfs: it is on proc (proc mounted at /proc)"),
            "{t}"
        );
    }
}
