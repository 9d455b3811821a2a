//! The files a Linux-CR checkpoint image needs (issue 13): list them, verify a tree,
//! snapshot them with their manifest (tar, rsync, btrfs), restore a tar snapshot
//! safely.
//!
//! Linux-CR checkpoints processes, not files: an image refers to files by path. This
//! crate says which paths an image depends on and how, and whether a tree has them:
//!
//! * [`paths`]: every path of an image, by task, with its uses (open file with its
//!   descriptor, flags and position, executable, mapped file with its range, cwd, root,
//!   bound unix socket, fifo, tty) and what the image records about it. It is built on
//!   the place enumeration of [`ckpt_format::model::places`] (the one `ckpt edit
//!   --path` rewrites) and the image model: one list, not two.
//! * [`lookup`]: each path looked up under a root directory, never following a symbolic
//!   link out of it.
//! * [`verify`]: a tree compared with what the image records (existence, type, size).
//! * [`capture`]: what a snapshot captures of an image's paths, and what it skips.
//! * [`manifest`]: the manifest that says which image it is
//!   for and what each file was (type, size, mode, owner, mtime, sha256, link target,
//!   xattrs), and a tree compared with it.
//! * [`snapshot`]: the files captured with their manifest ([`snapshot::tar`]: one
//!   archive, the manifest its last member; [`snapshot::rsync`]: copied by rsync, the
//!   manifest beside; [`snapshot::btrfs`]: a read-only snapshot of the subvolume, the
//!   manifest naming it, a send stream and its receive).
//! * [`restore`]: a tar snapshot extracted safely under a root, then verified.
//! * [`rsync`], [`btrfs`]: those programs run for a snapshot, and [`mounts`]: which
//!   filesystem a path is on.
//! * [`external`]: running external programs (rsync, btrfs) with clear reports.
//!
//! The crate knows no terminal: it prints nothing and returns typed errors.
//!
//! ```
//! use ckpt_format::build::{BuildOptions, build};
//! use ckpt_format::{Arch, Format, Reader, Registry};
//!
//! let schema = Registry::get().find("v23-rc2").unwrap();
//! let mut image = Vec::new();
//! build(&Format::new(schema, Arch::X86_64), &BuildOptions::default(), &mut image).unwrap();
//! let list = ckpt_fs::paths::collect(Reader::new(&image[..], Format::new(schema, Arch::X86_64)))
//!     .unwrap();
//! assert!(list.paths.iter().any(|p| p.path == "/usr/bin/task0"));
//! ```

#![deny(missing_docs)]

pub mod btrfs;
pub mod capture;
pub mod external;
pub mod lookup;
pub mod manifest;
pub mod mounts;
pub mod paths;
pub mod restore;
pub mod rsync;
pub mod snapshot;
pub mod verify;

use std::path::PathBuf;

/// What can go wrong listing or verifying the paths of an image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The image cannot be read (the error names the record and its offset).
    #[error(transparent)]
    Image(#[from] ckpt_format::Error),
    /// The root directory cannot be used.
    #[error("root directory {}: {reason}", path.display())]
    Root {
        /// The directory as given.
        path: PathBuf,
        /// Why: it does not exist, is not a directory, cannot be read.
        reason: String,
    },
    /// A file cannot be read or written.
    #[error("{}: {reason}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why, in words.
        reason: String,
    },
    /// A path the restart needs is not under the root (or cannot be looked up there).
    #[error("{path} is needed by {users} and is not under the root: {reason}")]
    NeededMissing {
        /// The path, as the image names it.
        path: String,
        /// Who uses it how: `pid 1 "init" (executable)`, joined.
        users: String,
        /// Why: `/etc does not exist`, ...
        reason: String,
    },
    /// A manifest that cannot be read: not JSON, not of a manifest's shape, or of a
    /// major version this build does not read.
    #[error("manifest: {reason}")]
    Manifest {
        /// What is wrong, with the line and column of the JSON where it has them.
        reason: String,
    },
    /// The manifest is of another image.
    #[error(
        "the manifest is of another image: it names sha256 {manifest}, the image has sha256 {image}"
    )]
    OtherImage {
        /// The sha256 the manifest names.
        manifest: String,
        /// The image's.
        image: String,
    },
    /// A file changed while the snapshot read it.
    #[error("{path} changed while it was read: {what}")]
    Changed {
        /// The path, as the image names it.
        path: String,
        /// What changed (`its size was 10 bytes, 12 were read`, ...).
        what: String,
    },
    /// The archive is refused (not a ckpt snapshot, or an entry that would leave the
    /// root, a device, a size over the limit, ...).
    #[error("{archive}: {reason}")]
    Refused {
        /// The archive, as given.
        archive: String,
        /// Why, naming the entry.
        reason: String,
    },
    /// rsync failed (its exit status in words) or is not installed.
    #[error(transparent)]
    Rsync(Box<rsync::RsyncError>),
    /// btrfs failed or is not installed, or a path is not where a btrfs operation
    /// needs it.
    #[error(transparent)]
    Btrfs(Box<btrfs::BtrfsError>),
}

impl From<rsync::RsyncError> for Error {
    fn from(e: rsync::RsyncError) -> Error {
        Error::Rsync(Box::new(e))
    }
}

impl From<btrfs::BtrfsError> for Error {
    fn from(e: btrfs::BtrfsError) -> Error {
        Error::Btrfs(Box::new(e))
    }
}

impl Error {
    /// An I/O error on `path`, in words.
    pub fn io(path: impl Into<PathBuf>, e: &std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            reason: lookup::io_words(e),
        }
    }
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, Error>;
