//! What a snapshot captures: every path the image needs, looked up under the root
//! (each directory and symbolic link on the way too, so that an archive restores them
//! first, with their modes), and the `--include` trees. What it does not capture is
//! listed as [`Skipped`], with the reason:
//!
//! * a file deleted while open (` (deleted)`): it has no name left to capture;
//! * a name that is not a path of the filesystem (`pipe:[..]`, `socket:[..]`,
//!   `anon_inode:..`) or a relative one (a unix socket bound relative to a directory);
//! * anything under `/proc`, `/sys` and `/dev` (pseudo-filesystems and device nodes,
//!   `/dev/pts/N` among them: the restart host's own);
//! * unix sockets (the restart binds them again) and the addresses of bound or peer
//!   sockets that are not there;
//! * in an `--include` tree: sockets, and directories of another filesystem (mount
//!   points are not crossed).
//!
//! A path the restart needs that is not under the root is an error naming it and the
//! tasks that use it.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;

use serde::{Deserialize, Serialize};

use crate::lookup::{FileType, Root};
use crate::paths::{ImagePath, PathList};
use crate::{Error, Result};

/// A path of the image that the snapshot does not capture, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The path, as the image names it.
    pub path: String,
    /// Why, in words.
    pub reason: String,
}

/// What a snapshot captures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capture {
    /// The paths to capture, absolute under the root, sorted, once each: a directory
    /// before what it holds.
    pub paths: Vec<String>,
    /// The paths among them that the image needs (where its paths lead under the root).
    pub needed: BTreeSet<String>,
    /// The image's paths not captured.
    pub skipped: Vec<Skipped>,
}

/// The pseudo-filesystems and device directory whose files are the restart host's own.
const HOST_DIRS: [&str; 3] = ["/proc", "/sys", "/dev"];

/// Why the image's path `p` is not captured, when it is not.
pub(crate) fn not_captured(p: &ImagePath) -> Option<String> {
    if p.recorded.deleted {
        return Some("deleted when the image was taken".into());
    }
    if !p.is_absolute() {
        return Some(
            if p.path.contains(":[") || p.path.starts_with("anon_inode:") {
                "not a file of the filesystem (a pipe, socket or anonymous inode)".into()
            } else {
                "a relative path".into()
            },
        );
    }
    for d in HOST_DIRS {
        if p.path == d || p.path.starts_with(&format!("{d}/")) {
            return Some(format!("under {d}: the restart host's own"));
        }
    }
    None
}

/// Who uses `p` how, in words: `pid 1 "init" (executable)`, joined with commas.
fn users_in_words(p: &ImagePath) -> String {
    let mut out = Vec::new();
    for u in &p.uses {
        if u.tasks.is_empty() {
            out.push(format!("no task ({})", u.how.name()));
        }
        for t in &u.tasks {
            out.push(format!("pid {} \"{}\" ({})", t.pid, t.comm, u.how.name()));
        }
    }
    if out.is_empty() {
        "the image".into()
    } else {
        out.join(", ")
    }
}

/// What to capture of `list`'s paths under `root`, and of the trees `includes` (paths
/// under the root; symbolic links inside them are captured as links, not followed, and
/// mount points are not crossed). A path the restart needs that is not there is an
/// error naming it and its tasks and uses; an include that is not there is an error.
pub fn capture(list: &PathList, root: &Root, includes: &[String]) -> Result<Capture> {
    let mut set = BTreeSet::new();
    let mut c = Capture::default();
    for p in &list.paths {
        if let Some(reason) = not_captured(p) {
            c.skipped.push(Skipped {
                path: p.path.clone(),
                reason,
            });
            continue;
        }
        let state = root.lookup(&p.path);
        let trail = match root.trail(&p.path) {
            Ok(t) => t,
            Err(s) if p.needed() => {
                return Err(Error::NeededMissing {
                    path: p.path.clone(),
                    users: users_in_words(p),
                    reason: s.reason.unwrap_or_else(|| "missing".into()),
                });
            }
            Err(s) => {
                c.skipped.push(Skipped {
                    path: p.path.clone(),
                    reason: format!(
                        "not under the root ({}), and the restart does not need it",
                        s.reason.unwrap_or_else(|| "missing".into())
                    ),
                });
                continue;
            }
        };
        if state.kind == Some(FileType::Socket) {
            c.skipped.push(Skipped {
                path: p.path.clone(),
                reason: "a unix socket: the restart binds it again".into(),
            });
            continue;
        }
        if let Some(last) = trail.last()
            && p.needed()
        {
            c.needed.insert(last.clone());
        }
        set.extend(trail);
    }
    for inc in includes {
        let trail = root.trail(inc).map_err(|s| Error::Io {
            path: inc.into(),
            reason: format!(
                "--include: {}",
                s.reason.unwrap_or_else(|| "missing".into())
            ),
        })?;
        let Some(top) = trail.last().cloned() else {
            return Err(Error::Io {
                path: inc.into(),
                reason: "--include: the root itself (name a tree under it)".into(),
            });
        };
        set.extend(trail);
        walk(root, &top, &mut set, &mut c.skipped)?;
    }
    c.paths = set.into_iter().collect();
    Ok(c)
}

/// [`capture`]'s paths and skipped paths.
pub fn capture_set(
    list: &PathList,
    root: &Root,
    includes: &[String],
) -> Result<(Vec<String>, Vec<Skipped>)> {
    let c = capture(list, root, includes)?;
    Ok((c.paths, c.skipped))
}

/// Adds the tree under `top` (a path under the root) to `set`: not following symbolic
/// links, not crossing into another filesystem, sockets skipped.
fn walk(
    root: &Root,
    top: &str,
    set: &mut BTreeSet<String>,
    skipped: &mut Vec<Skipped>,
) -> Result<()> {
    let (real, md) = root.locate(top).map_err(|s| Error::Io {
        path: top.into(),
        reason: s.reason.unwrap_or_default(),
    })?;
    if !md.is_dir() {
        return Ok(());
    }
    let dev = md.dev();
    let mut todo = vec![(top.to_string(), real)];
    while let Some((at, dir)) = todo.pop() {
        let mut names: Vec<_> = fs::read_dir(&dir)
            .map_err(|e| Error::io(&dir, &e))?
            .map(|d| d.map(|d| d.file_name()))
            .collect::<io::Result<_>>()
            .map_err(|e| Error::io(&dir, &e))?;
        names.sort();
        for name in names {
            let Some(n) = name.to_str() else {
                skipped.push(Skipped {
                    path: format!("{at}/{}", name.to_string_lossy()),
                    reason: "a name that is not UTF-8".into(),
                });
                continue;
            };
            let path = if at == "/" {
                format!("/{n}")
            } else {
                format!("{at}/{n}")
            };
            let host = dir.join(&name);
            let m = fs::symlink_metadata(&host).map_err(|e| Error::io(&host, &e))?;
            match FileType::of(&m) {
                FileType::Socket => skipped.push(Skipped {
                    path,
                    reason: "a unix socket".into(),
                }),
                FileType::Directory if m.dev() != dev => skipped.push(Skipped {
                    path,
                    reason: "another filesystem (a mount point is not crossed)".into(),
                }),
                FileType::Directory => {
                    set.insert(path.clone());
                    todo.push((path, host));
                }
                _ => {
                    set.insert(path);
                }
            }
        }
    }
    Ok(())
}
