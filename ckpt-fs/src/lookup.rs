//! Paths looked up under a root directory, as a restart inside it would see them.
//!
//! Each component is resolved here, with `symlink_metadata`: a symbolic link is followed
//! by hand, an absolute target taken relative to the root and `..` never going above
//! it, so that no lookup leaves the root (the host's `/etc/passwd` is never what
//! `/etc/passwd` under a root names).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Symbolic links followed in one lookup before it gives up (the kernel's limit).
pub const MAX_LINKS: usize = 40;

/// The type of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileType {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// A unix socket.
    Socket,
    /// A fifo.
    Fifo,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
}

impl FileType {
    /// The type of `md`.
    pub fn of(md: &Metadata) -> FileType {
        let t = md.file_type();
        if t.is_dir() {
            FileType::Directory
        } else if t.is_symlink() {
            FileType::Symlink
        } else if t.is_socket() {
            FileType::Socket
        } else if t.is_fifo() {
            FileType::Fifo
        } else if t.is_char_device() {
            FileType::CharDevice
        } else if t.is_block_device() {
            FileType::BlockDevice
        } else {
            FileType::Regular
        }
    }

    /// Its name: `regular file`, `directory`, ...
    pub fn name(self) -> &'static str {
        match self {
            FileType::Regular => "regular file",
            FileType::Directory => "directory",
            FileType::Symlink => "symbolic link",
            FileType::Socket => "socket",
            FileType::Fifo => "fifo",
            FileType::CharDevice => "character device",
            FileType::BlockDevice => "block device",
        }
    }
}

impl std::fmt::Display for FileType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether the path is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    /// It is.
    Present,
    /// It is not (or a directory on the way is not one).
    Missing,
    /// It cannot be looked up: no permission, a loop of symbolic links, an I/O error.
    Unreadable,
}

/// A path's state under the root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct State {
    /// Whether it is there.
    pub presence: Presence,
    /// Its type (symbolic links followed).
    #[serde(rename = "type")]
    pub kind: Option<FileType>,
    /// Its size in bytes.
    pub size: Option<u64>,
    /// Its permission bits (with setuid, setgid, sticky).
    pub mode: Option<u32>,
    /// Its owner.
    pub uid: Option<u32>,
    /// Its group.
    pub gid: Option<u32>,
    /// Where under the root it resolves to, when a symbolic link on the way took it
    /// elsewhere (always absolute, relative to the root).
    pub resolved: Option<String>,
    /// Why it is missing or unreadable, in words.
    pub reason: Option<String>,
}

impl State {
    /// The state of a file that is there, of metadata `md`; `resolved`: where a symbolic
    /// link on the way took it.
    pub fn present(md: &Metadata, resolved: Option<String>) -> State {
        State {
            presence: Presence::Present,
            kind: Some(FileType::of(md)),
            size: Some(md.len()),
            mode: Some(md.mode() & 0o7777),
            uid: Some(md.uid()),
            gid: Some(md.gid()),
            resolved,
            reason: None,
        }
    }

    fn absent(presence: Presence, reason: String) -> State {
        State {
            presence,
            kind: None,
            size: None,
            mode: None,
            uid: None,
            gid: None,
            resolved: None,
            reason: Some(reason),
        }
    }
}

/// A root directory to look paths up in.
#[derive(Debug, Clone)]
pub struct Root {
    dir: PathBuf,
}

impl Root {
    /// The directory `dir`, which must exist and be a directory.
    pub fn open(dir: &Path) -> crate::Result<Root> {
        let err = |reason: String| crate::Error::Root {
            path: dir.to_path_buf(),
            reason,
        };
        match fs::metadata(dir) {
            Ok(md) if md.is_dir() => Ok(Root {
                dir: dir.to_path_buf(),
            }),
            Ok(md) => Err(err(format!(
                "not a directory (a {})",
                FileType::of(&md).name()
            ))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(err("does not exist".into())),
            Err(e) => Err(err(io_words(&e))),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The state of `path` (absolute, or relative to the root) under the root.
    pub fn lookup(&self, path: &str) -> State {
        let (at, md) = match self.resolve(path, true, None) {
            Ok(r) => r,
            Err(s) => return s,
        };
        let resolved = shown(&at);
        let asked = shown(&components(Path::new(path)).into_iter().collect::<Vec<_>>());
        State::present(&md, (resolved != asked).then_some(resolved))
    }

    /// Where `path` is on the host, its directories resolved inside the root but its last
    /// component not followed (an `lstat` under the root), with its metadata; the state
    /// that says why when it is not there.
    pub fn locate(&self, path: &str) -> std::result::Result<(PathBuf, Metadata), State> {
        let (at, md) = self.resolve(path, false, None)?;
        Ok((self.real(&at), md))
    }

    /// Every path under the root (absolute, relative to the root) that looking `path` up
    /// goes through, in order: each directory, each symbolic link on the way and what it
    /// leads to, the path's own file last (symbolic links followed). A parent is always
    /// named before its children. The state that says why when it is not there.
    pub fn trail(&self, path: &str) -> std::result::Result<Vec<String>, State> {
        let mut trail = Vec::new();
        self.resolve(path, true, Some(&mut trail))?;
        Ok(trail)
    }

    /// Resolves `path` component by component inside the root: the components of where it
    /// leads and their metadata. `follow_last`: a symbolic link as the last component is
    /// followed. `trail` collects each path gone through.
    fn resolve(
        &self,
        path: &str,
        follow_last: bool,
        mut trail: Option<&mut Vec<String>>,
    ) -> std::result::Result<(Vec<OsString>, Metadata), State> {
        let mut todo: VecDeque<OsString> = components(Path::new(path));
        let mut at: Vec<OsString> = Vec::new();
        let mut links = 0;
        let unreadable = |e: io::Error| State::absent(Presence::Unreadable, io_words(&e));
        let mut md = fs::metadata(&self.dir).map_err(unreadable)?;
        while let Some(c) = todo.pop_front() {
            if c == ".." {
                at.pop();
                md = fs::metadata(self.real(&at)).map_err(unreadable)?;
                continue;
            }
            if !md.is_dir() {
                return Err(State::absent(
                    Presence::Missing,
                    format!("{} is not a directory", shown(&at)),
                ));
            }
            at.push(c);
            let here = self.real(&at);
            match fs::symlink_metadata(&here) {
                Ok(m) if m.file_type().is_symlink() && (follow_last || !todo.is_empty()) => {
                    if let Some(t) = trail.as_deref_mut() {
                        t.push(shown(&at));
                    }
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(State::absent(
                            Presence::Unreadable,
                            format!("more than {MAX_LINKS} symbolic links on the way"),
                        ));
                    }
                    let target = fs::read_link(&here).map_err(unreadable)?;
                    at.pop();
                    if target.is_absolute() {
                        at.clear();
                    }
                    for (k, t) in components(&target).into_iter().enumerate() {
                        todo.insert(k, t);
                    }
                    md = fs::metadata(self.real(&at)).map_err(unreadable)?;
                }
                Ok(m) => {
                    if let Some(t) = trail.as_deref_mut() {
                        t.push(shown(&at));
                    }
                    md = m
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(State::absent(
                        Presence::Missing,
                        format!("{} does not exist", shown(&at)),
                    ));
                }
                Err(e) => return Err(unreadable(e)),
            }
        }
        Ok((at, md))
    }

    fn real(&self, at: &[OsString]) -> PathBuf {
        let mut p = self.dir.clone();
        p.extend(at);
        p
    }
}

/// The components of `p` that name something: `.` and the root left out, `..` kept.
fn components(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

/// Components below the root as an absolute path.
fn shown(at: &[OsString]) -> String {
    let mut s = String::from("/");
    s.push_str(
        &at.iter()
            .map(|c| c.to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
    );
    s
}

/// An I/O error in words (no error code in Debug form).
pub(crate) fn io_words(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::NotFound => "does not exist".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn components_are_resolved_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = Root::open(d.path()).unwrap();
        fs::create_dir_all(d.path().join("usr/bin")).unwrap();
        fs::write(d.path().join("usr/bin/x"), b"abc").unwrap();
        symlink("/usr/bin/x", d.path().join("abs")).unwrap();
        symlink("usr/bin", d.path().join("rel")).unwrap();
        symlink("../../../../../../etc/passwd", d.path().join("up")).unwrap();
        symlink("loop", d.path().join("loop")).unwrap();
        let s = root.lookup("/usr/bin/x");
        assert_eq!(s.presence, Presence::Present);
        assert_eq!(
            (s.kind, s.size, s.resolved),
            (Some(FileType::Regular), Some(3), None)
        );
        let s = root.lookup("/abs");
        assert_eq!(s.presence, Presence::Present);
        assert_eq!(s.resolved.as_deref(), Some("/usr/bin/x"));
        assert_eq!(root.lookup("/rel/x").size, Some(3));
        assert_eq!(root.lookup("/usr/../usr/./bin/x").size, Some(3));
        assert_eq!(root.lookup("/../../usr/bin/x").size, Some(3));
        // Out of the root: /etc/passwd of the root, which it has not.
        let s = root.lookup("/up");
        assert_eq!(s.presence, Presence::Missing, "{s:?}");
        assert_eq!(s.reason.as_deref(), Some("/etc does not exist"));
        let s = root.lookup("/usr/bin/x/y");
        assert_eq!(s.presence, Presence::Missing);
        assert_eq!(s.reason.as_deref(), Some("/usr/bin/x is not a directory"));
        assert_eq!(root.lookup("/loop").presence, Presence::Unreadable);
        assert_eq!(root.lookup("/").kind, Some(FileType::Directory));
    }

    #[test]
    fn a_root_that_is_not_a_directory_is_refused_in_words() {
        let d = tempfile::tempdir().unwrap();
        let e = Root::open(&d.path().join("none")).unwrap_err().to_string();
        assert!(e.ends_with("none: does not exist"), "{e}");
        fs::write(d.path().join("f"), b"").unwrap();
        let e = Root::open(&d.path().join("f")).unwrap_err().to_string();
        assert!(e.ends_with("f: not a directory (a regular file)"), "{e}");
    }
}
