//! The rsync method: the captured files copied with `rsync -aHAX --files-from` to a
//! directory or an rsync remote, the manifest beside it.
//!
//! The files are hashed from the root before rsync runs, and looked at again after it:
//! a file whose size or modification time changed meanwhile fails the snapshot, naming
//! it (the copy may hold either version). A copy to a local directory is then compared
//! with the manifest, content included.

use std::path::{Path, PathBuf};

use super::{MANIFEST_SUFFIX, Request, Summary, hashed_manifest, manifest_beside, write_beside};
use crate::lookup::Root;
use crate::manifest::{Entry, Method};
use crate::rsync::{self, Destination, RsyncOptions, RsyncReport};
use crate::verify::Outcome;
use crate::{Error, Result};

/// What an rsync snapshot did.
#[derive(Debug, Clone)]
pub struct RsyncSnapshot {
    /// The manifest and what was captured; `dest` is where the manifest was written.
    pub summary: Summary,
    /// What rsync said it did.
    pub report: RsyncReport,
    /// Where the files went.
    pub dest: Destination,
    /// Where a copy of the manifest went beside a remote destination.
    pub remote_manifest: Option<String>,
}

/// Snapshots `req` to `dest` with rsync: the files, then the manifest at `manifest`
/// (default: [`manifest_beside`] a local `dest`; a remote `dest` gets a copy beside it
/// too, sent by rsync).
pub fn snapshot(
    req: &Request,
    dest: &Destination,
    manifest: Option<&Path>,
    opts: &RsyncOptions,
) -> Result<RsyncSnapshot> {
    let manifest_at = match (manifest, dest) {
        (Some(m), _) => m.to_path_buf(),
        (None, Destination::Local(d)) => manifest_beside(d),
        (None, Destination::Remote(r)) => {
            return Err(Error::Io {
                path: r.into(),
                reason: "a remote destination needs --manifest FILE: where to keep the manifest here (a copy goes beside the remote)".into(),
            });
        }
    };
    let capture = req.capture()?;
    let (mut m, bytes) = hashed_manifest(req.root, &capture, req.image, Method::Rsync)?;
    let files: Vec<PathBuf> = m
        .files
        .iter()
        .map(|e| PathBuf::from(e.path.trim_start_matches('/')))
        .collect();
    let report = rsync::copy(req.root.dir(), &files, dest, opts)?;
    for e in &m.files {
        unchanged(req.root, e)?;
    }
    if let Destination::Local(d) = dest {
        copied_as_listed(&m.files, d)?;
    }
    m.skipped.extend(capture.skipped.iter().cloned());
    let ((), written) = write_beside(&manifest_at, |out| {
        m.to_writer(out).map_err(|e| Error::io(&manifest_at, &e))
    })?;
    let remote_manifest = match dest {
        Destination::Remote(r) => {
            let to = format!("{}{MANIFEST_SUFFIX}", r.trim_end_matches('/'));
            rsync::send_file(&manifest_at, &to)?;
            Some(to)
        }
        Destination::Local(_) => None,
    };
    Ok(RsyncSnapshot {
        summary: Summary {
            manifest: m,
            bytes,
            written,
            dest: manifest_at,
        },
        report,
        dest: dest.clone(),
        remote_manifest,
    })
}

/// Fails when `e`'s file under `root` is not as it was when hashed (size, mtime, type).
fn unchanged(root: &Root, e: &Entry) -> Result<()> {
    let now = Entry::of(root, &e.path, false).map_err(|x| Error::Changed {
        path: e.path.clone(),
        what: format!("it was hashed, then rsync ran and now: {x}"),
    })?;
    let what = if now.kind != e.kind {
        Some(format!(
            "it was a {} and is now a {}",
            e.kind.name(),
            now.kind.name()
        ))
    } else if now.size != e.size {
        Some(format!(
            "its size went from {} to {} bytes",
            e.size, now.size
        ))
    } else if (now.mtime, now.mtime_nsec) != (e.mtime, e.mtime_nsec) {
        Some("its modification time changed".into())
    } else {
        None
    };
    match what {
        Some(what) => Err(Error::Changed {
            path: e.path.clone(),
            what: format!("{what} while rsync copied it"),
        }),
        None => Ok(()),
    }
}

/// Compares the copy under `dest` with the entries: type, size, content and link
/// target (modes and owners are rsync's to keep, and need root for owners).
fn copied_as_listed(files: &[Entry], dest: &Path) -> Result<()> {
    let v = crate::manifest::verify_files(files, &Root::open(dest)?);
    let wrong = v.paths.iter().find(|c| {
        !matches!(
            c.outcome,
            Outcome::Ok | Outcome::DifferentMode { .. } | Outcome::DifferentOwner { .. }
        )
    });
    match wrong {
        Some(c) => Err(Error::Io {
            path: dest.join(c.path.path.trim_start_matches('/')),
            reason: format!(
                "rsync's copy is not the file it was given: {}",
                c.why().unwrap_or_else(|| c.outcome.name().into())
            ),
        }),
        None => Ok(()),
    }
}
