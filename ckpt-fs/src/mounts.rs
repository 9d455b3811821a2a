//! Which filesystem a path is on, from `/proc/self/mountinfo`: its type, its mount
//! point and its device, so that a btrfs snapshot can say what ROOT is on when it is not
//! btrfs, and whether two paths are on the same filesystem.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// One line of `/proc/self/mountinfo`, the parts ckpt uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// The filesystem's device, `major:minor`: the same for every mount of one
    /// filesystem (bind mounts and btrfs subvolume mounts included).
    pub device: String,
    /// The filesystem type: `btrfs`, `ext4`, `overlay`, `tmpfs`, ...
    pub fstype: String,
    /// What is mounted: a block device such as `/dev/loop0`, or a name.
    pub source: String,
}

/// Why the filesystem of a path cannot be told.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// The path cannot be resolved.
    #[error("{}: {reason}", path.display())]
    Path {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The mount table cannot be read.
    #[error("cannot read the mount table /proc/self/mountinfo: {0}")]
    Table(String),
    /// No mount holds the path (a mount table without `/`).
    #[error("no mount in /proc/self/mountinfo holds {}", .0.display())]
    NotMounted(PathBuf),
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\011`, `\012`, `\134`).
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = b[i + 1..i + 4]
                .iter()
                .fold(0u32, |v, c| v * 8 + u32::from(c - b'0'));
            if let Ok(byte) = u8::try_from(v) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mounts of a mountinfo text, in its order (later mounts over earlier ones). Lines
/// that are not mountinfo lines are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            // id parent major:minor root mount_point options [optional...] - fstype source super
            let (before, after) = line.split_once(" - ")?;
            let f: Vec<&str> = before.split(' ').collect();
            let a: Vec<&str> = after.split(' ').collect();
            if f.len() < 6 || a.len() < 2 {
                return None;
            }
            Some(Mount {
                mount_point: PathBuf::from(unescape(f[4])),
                device: f[2].to_string(),
                fstype: a[0].to_string(),
                source: unescape(a[1]),
            })
        })
        .collect()
}

/// The mount that holds `path` (absolute, resolved) among `mounts`: the last one whose
/// mount point is `path` or one of its ancestors, the longest first.
pub fn holding<'m>(mounts: &'m [Mount], path: &Path) -> Option<&'m Mount> {
    mounts
        .iter()
        .enumerate()
        .filter(|(_, m)| path.starts_with(&m.mount_point))
        .max_by_key(|(i, m)| (m.mount_point.components().count(), *i))
        .map(|(_, m)| m)
}

/// The mount that holds `path` on this machine (the path is resolved first, following
/// symbolic links, as the kernel would).
pub fn mount_of(path: &Path) -> Result<Mount, MountError> {
    let real = fs::canonicalize(path).map_err(|e| MountError::Path {
        path: path.to_path_buf(),
        reason: match e.kind() {
            io::ErrorKind::NotFound => "does not exist".to_string(),
            _ => e.to_string(),
        },
    })?;
    let text =
        fs::read_to_string("/proc/self/mountinfo").map_err(|e| MountError::Table(e.to_string()))?;
    let mounts = parse_mountinfo(&text);
    holding(&mounts, &real)
        .cloned()
        .ok_or(MountError::NotMounted(real))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
22 1 252:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
25 22 0:21 / /proc rw,nosuid - proc proc rw
40 22 0:45 / /mnt/my\\040disk rw,relatime shared:20 - btrfs /dev/loop0 rw,space_cache=v2,subvolid=5,subvol=/
41 40 0:45 /sv /mnt/my\\040disk/sv rw,relatime - btrfs /dev/loop0 rw,subvolid=256,subvol=/sv
not a mountinfo line
";

    #[test]
    fn lines_parse_with_their_escapes() {
        let m = parse_mountinfo(TABLE);
        assert_eq!(m.len(), 4);
        assert_eq!(m[2].mount_point, Path::new("/mnt/my disk"));
        assert_eq!(
            (
                m[2].fstype.as_str(),
                m[2].source.as_str(),
                m[2].device.as_str()
            ),
            ("btrfs", "/dev/loop0", "0:45")
        );
    }

    #[test]
    fn the_longest_mount_point_holds_a_path() {
        let m = parse_mountinfo(TABLE);
        let at = |p: &str| holding(&m, Path::new(p)).unwrap().mount_point.clone();
        assert_eq!(at("/etc/hosts"), Path::new("/"));
        assert_eq!(at("/proc/self"), Path::new("/proc"));
        assert_eq!(at("/mnt/my disk/x"), Path::new("/mnt/my disk"));
        assert_eq!(at("/mnt/my disk/sv/y"), Path::new("/mnt/my disk/sv"));
        // A prefix of a name is not an ancestor.
        assert_eq!(at("/procfoo"), Path::new("/"));
    }

    #[test]
    fn a_later_mount_over_the_same_point_wins() {
        let t = format!("{TABLE}50 22 0:50 / /proc rw - tmpfs tmpfs rw\n");
        let m = parse_mountinfo(&t);
        assert_eq!(holding(&m, Path::new("/proc/1")).unwrap().fstype, "tmpfs");
    }

    #[test]
    fn this_machine_has_a_root_mount() {
        let m = mount_of(Path::new("/")).unwrap();
        assert_eq!(m.mount_point, Path::new("/"));
        assert!(!m.fstype.is_empty());
        let e = mount_of(Path::new("/no/such/path/here")).unwrap_err();
        assert_eq!(e.to_string(), "/no/such/path/here: does not exist");
    }

    #[test]
    fn escapes_that_are_not_octal_stay() {
        assert_eq!(unescape("a\\b\\0401"), "a\\b 1");
        assert_eq!(unescape("end\\04"), "end\\04");
    }
}
