//! `ckpt fs snapshot`: the files an image needs captured with their manifest.
//!
//! What is captured is [`crate::manifest::capture`]'s answer; this module holds what
//! every method shares (the request, the summary, writing DEST through a temporary file
//! beside it), each method its own module ([`tar`]).

pub mod tar;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::lookup::Root;
use crate::manifest::{Capture, ImageIdentity, Manifest, capture};
use crate::paths::PathList;
use crate::{Error, Result};

/// The name of the manifest member, the last of a tar snapshot (a name no image path
/// has: a path is absolute, the members are relative, this one at the top).
pub const MANIFEST_NAME: &str = ".ckpt-manifest.json";

/// The prefix of the PAX records of extended attributes (as GNU tar writes them).
pub const PAX_XATTR: &str = "SCHILY.xattr.";

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
