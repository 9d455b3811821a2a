//! `ckpt fs snapshot`: the files an image needs captured with their manifest.
//!
//! What is captured is [`crate::manifest::capture`]'s answer; this module holds what
//! every method shares (the request, the summary, writing DEST through a temporary file
//! beside it), each method its own module ([`tar`]).

pub mod btrfs;
pub mod rsync;
pub mod tar;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::lookup::FileType;
use crate::lookup::Root;
use crate::manifest::{Capture, Entry, ImageIdentity, Manifest, Method, Skipped, capture};
use crate::paths::PathList;
use crate::{Error, Result};

/// The name of the manifest member, the last of a tar snapshot (a name no image path
/// has: a path is absolute, the members are relative, this one at the top).
pub const MANIFEST_NAME: &str = ".ckpt-manifest.json";

/// The prefix of the PAX records of extended attributes (as GNU tar writes them).
pub const PAX_XATTR: &str = "SCHILY.xattr.";

/// What a manifest written beside a destination adds to its name
/// (`DEST.manifest.json`): the rsync and btrfs methods, whose DEST is a tree.
pub const MANIFEST_SUFFIX: &str = ".manifest.json";

/// Where the manifest of a snapshot at `dest` goes by default (rsync to a local
/// directory, btrfs): beside it, named `DEST.manifest.json`.
pub fn manifest_beside(dest: &Path) -> PathBuf {
    let mut s = dest
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches('/')
        .to_string();
    s.push_str(MANIFEST_SUFFIX);
    PathBuf::from(s)
}

/// What to snapshot.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The image the files are for.
    pub image: &'a ImageIdentity,
    /// Its paths.
    pub list: &'a PathList,
    /// The tree the files are taken from.
    pub root: &'a Root,
    /// Trees under the root to capture as well (`--include`).
    pub includes: &'a [String],
}

impl Request<'_> {
    /// The paths to capture ([`capture`]).
    pub fn capture(&self) -> Result<Capture> {
        capture(self.list, self.root, self.includes)
    }
}

/// What a snapshot wrote.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Its manifest.
    pub manifest: Manifest,
    /// Bytes of regular-file content captured.
    pub bytes: u64,
    /// Bytes written to DEST (the archive, compressed where it is).
    pub written: u64,
    /// Where.
    pub dest: PathBuf,
}

impl Summary {
    /// How many files (every entry: directories and links too).
    pub fn files(&self) -> usize {
        self.manifest.files.len()
    }
}

/// Writes `dest` through a temporary file beside it, renamed into place only when
/// `write` succeeds: a failure leaves no `dest` (and an existing one as it was).
/// Returns `write`'s answer and the bytes written.
pub fn write_beside<T>(
    dest: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<T>,
) -> Result<(T, u64)> {
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".ckpt-snapshot-")
        // 0666 less the umask, like any new file (not tempfile's 0600).
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, &e))?;
    let mut out = Counting {
        inner: std::io::BufWriter::new(tmp.as_file()),
        written: 0,
    };
    let got = write(&mut out)?;
    out.flush().map_err(|e| Error::io(dest, &e))?;
    let written = out.written;
    drop(out);
    tmp.as_file().sync_all().map_err(|e| Error::io(dest, &e))?;
    tmp.persist(dest).map_err(|e| Error::io(dest, &e.error))?;
    Ok((got, written))
}

/// A writer that counts what goes through it.
struct Counting<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The manifest of `capture` under `root` for `image`, taken by `method`: each file's
/// entry with its content hashed (streaming), whether the image needs it, sockets left
/// out (the restart binds them again); and the bytes of file content hashed. The
/// methods that copy with another program (rsync) or snapshot the filesystem (btrfs)
/// build their manifest here; tar hashes as it archives.
pub fn hashed_manifest(
    root: &Root,
    capture: &Capture,
    image: &ImageIdentity,
    method: Method,
) -> Result<(Manifest, u64)> {
    let mut m = Manifest::new(image.clone(), method, root.dir());
    let mut bytes = 0;
    for path in &capture.paths {
        let mut e = Entry::of(root, path, true)?;
        if e.kind == FileType::Socket {
            m.skipped.push(Skipped {
                path: path.clone(),
                reason: "a unix socket: the restart binds it again".into(),
            });
            continue;
        }
        e.needed = capture.needed.contains(path);
        bytes += e.size;
        m.files.push(e);
    }
    Ok((m, bytes))
}
