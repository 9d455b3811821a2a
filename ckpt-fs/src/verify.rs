//! A tree compared with what an image records of its paths, before a restart: each
//! path there or not, of the type its uses need, of the size the image records.
//!
//! [`verify`] is the check without a manifest: an image records no content hashes,
//! modes or owners, so only existence, type and size are compared.
//! [`crate::manifest::Manifest::verify`] compares with a snapshot's manifest and adds
//! content (sha256), symbolic link target, mode and owner.

use serde::Serialize;

use crate::lookup::{FileType, Presence, Root, State};
use crate::paths::{ImagePath, PathList};

/// A file's owner and group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Owner {
    /// The owner.
    pub uid: u32,
    /// The group.
    pub gid: u32,
}

/// The result for one path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// There, as the image needs it.
    Ok,
    /// Not there.
    Missing,
    /// There, but not of the type its uses need.
    DifferentType {
        /// What the uses need.
        expected: FileType,
        /// What it is.
        found: FileType,
    },
    /// There, but not of the size the image records or implies.
    DifferentSize {
        /// The size the image records (`ino_size`), if it does.
        expected: Option<u64>,
        /// The least size the image implies (a descriptor's position), if it does.
        at_least: Option<u64>,
        /// Its size.
        found: u64,
    },
    /// There, but its content is not the manifest's (sha256).
    DifferentContent {
        /// The manifest's sha256.
        expected: String,
        /// Its sha256.
        found: String,
    },
    /// A symbolic link, but to another target than the manifest's.
    DifferentTarget {
        /// The manifest's target.
        expected: String,
        /// Its target.
        found: String,
    },
    /// There, but with other permission bits than the manifest's.
    DifferentMode {
        /// The manifest's mode.
        expected: u32,
        /// Its mode.
        found: u32,
    },
    /// There, but of another owner or group than the manifest's.
    DifferentOwner {
        /// The manifest's owner and group.
        expected: Owner,
        /// Its owner and group.
        found: Owner,
    },
    /// It cannot be looked up.
    Unreadable,
    /// Not looked for: the file had been deleted, or the path is relative.
    NotChecked,
}

impl Outcome {
    /// Its name: `ok`, `missing`, `different type`, ...
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Missing => "missing",
            Outcome::DifferentType { .. } => "different type",
            Outcome::DifferentSize { .. } => "different size",
            Outcome::DifferentContent { .. } => "different content",
            Outcome::DifferentTarget { .. } => "different target",
            Outcome::DifferentMode { .. } => "different mode",
            Outcome::DifferentOwner { .. } => "different owner",
            Outcome::Unreadable => "unreadable",
            Outcome::NotChecked => "not checked",
        }
    }
}

/// One path of the image, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checked {
    /// The path, its uses and what the image records.
    #[serde(flatten)]
    pub path: ImagePath,
    /// Whether the restart needs it (see [`ImagePath::needed`]).
    pub needed: bool,
    /// The type its uses need, where they say.
    pub expects: Option<FileType>,
    /// Its state under the root (none when not looked up).
    pub state: Option<State>,
    /// How it compares.
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl Checked {
    /// Whether it keeps a restart from finding what it needs.
    pub fn fails(&self) -> bool {
        self.needed && !matches!(self.outcome, Outcome::Ok | Outcome::NotChecked)
    }

    /// Why, in words, when it is not ok ("missing: /etc does not exist", "a directory,
    /// not a regular file", ...).
    pub fn why(&self) -> Option<String> {
        let reason = self.state.as_ref().and_then(|s| s.reason.as_deref());
        Some(match &self.outcome {
            Outcome::Ok => return None,
            Outcome::Missing | Outcome::Unreadable => match reason {
                Some(r) => format!("{}: {r}", self.outcome.name()),
                None => self.outcome.name().to_string(),
            },
            Outcome::DifferentType { expected, found } => {
                format!("a {found}, not a {expected}")
            }
            Outcome::DifferentSize {
                expected,
                at_least,
                found,
            } => match (expected, at_least) {
                (Some(e), _) => format!("{found} bytes, the image records {e}"),
                (None, Some(l)) => {
                    format!("{found} bytes, shorter than the position {l} of its descriptor")
                }
                (None, None) => format!("{found} bytes"),
            },
            Outcome::DifferentContent { expected, found } => {
                format!("content of sha256 {found}, the manifest records {expected}")
            }
            Outcome::DifferentTarget { expected, found } => {
                format!("a link to {found}, the manifest records {expected}")
            }
            Outcome::DifferentMode { expected, found } => {
                format!("mode {found:04o}, the manifest records {expected:04o}")
            }
            Outcome::DifferentOwner { expected, found } => format!(
                "owner {}:{}, the manifest records {}:{}",
                found.uid, found.gid, expected.uid, expected.gid
            ),
            Outcome::NotChecked if self.path.recorded.deleted => {
                "not checked: deleted when the image was taken".into()
            }
            Outcome::NotChecked => "not checked: a relative path".into(),
        })
    }
}

/// Every path of an image, checked under a root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// The root, as given.
    pub root: String,
    /// Each path, in the order of the list.
    pub paths: Vec<Checked>,
}

impl Verification {
    /// Whether everything the restart needs is there, as the image records it.
    pub fn complete(&self) -> bool {
        !self.paths.iter().any(Checked::fails)
    }

    /// The paths that keep the restart from finding what it needs.
    pub fn failures(&self) -> impl Iterator<Item = &Checked> {
        self.paths.iter().filter(|c| c.fails())
    }

    /// How many paths have each outcome, by its name, in a fixed order.
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        let names = [
            "ok",
            "missing",
            "different type",
            "different size",
            "different content",
            "different target",
            "different mode",
            "different owner",
            "unreadable",
            "not checked",
        ];
        names
            .iter()
            .map(|n| {
                let k = self.paths.iter().filter(|c| c.outcome.name() == *n).count();
                (*n, k)
            })
            .collect()
    }
}

/// Compares the tree under `root` with what the image records of `list`'s paths.
pub fn verify(list: &PathList, root: &Root) -> Verification {
    let paths = list.paths.iter().map(|p| check(p, root)).collect();
    Verification {
        root: root.dir().display().to_string(),
        paths,
    }
}

/// One path against the tree.
pub fn check(p: &ImagePath, root: &Root) -> Checked {
    let expects = p.expects();
    let (state, outcome) = if p.recorded.deleted || !p.is_absolute() {
        (None, Outcome::NotChecked)
    } else {
        let s = root.lookup(&p.path);
        let o = compare(p, expects, &s);
        (Some(s), o)
    };
    Checked {
        needed: p.needed(),
        expects,
        state,
        outcome,
        path: p.clone(),
    }
}

fn compare(p: &ImagePath, expects: Option<FileType>, s: &State) -> Outcome {
    match s.presence {
        Presence::Missing => return Outcome::Missing,
        Presence::Unreadable => return Outcome::Unreadable,
        Presence::Present => {}
    }
    let found = s.kind.unwrap_or(FileType::Regular);
    if let Some(expected) = expects
        && expected != found
    {
        return Outcome::DifferentType { expected, found };
    }
    if found != FileType::Regular {
        return Outcome::Ok;
    }
    let size = s.size.unwrap_or(0);
    let (expected, at_least) = (p.recorded.size, p.recorded.min_size);
    if expected.is_some_and(|e| e != size) || at_least.is_some_and(|l| size < l) {
        return Outcome::DifferentSize {
            expected,
            at_least,
            found: size,
        };
    }
    Outcome::Ok
}
