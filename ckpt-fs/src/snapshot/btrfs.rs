//! The btrfs method: a read-only snapshot of the whole subvolume that holds ROOT (a
//! snapshot cannot take single files), on the same filesystem; the manifest beside it
//! names it by UUID and generation and lists the files the image needs inside it,
//! hashed from the snapshot itself (which no longer changes). Optionally a `btrfs send`
//! stream of it, incremental against a parent snapshot.
//!
//! When anything fails after the snapshot is made (a needed file is not in it, because
//! it lives in a nested subvolume or another mount under ROOT; the send fails), the
//! snapshot is deleted again: a failure leaves nothing.

use std::path::{Path, PathBuf};

use super::{Request, Summary, hashed_manifest, manifest_beside, write_beside};
use crate::btrfs::{self, Subvolume};
use crate::lookup::Root;
use crate::manifest::{BtrfsSnapshot, Manifest, Method};
use crate::{Error, Result};

/// A `btrfs send` stream to write with the snapshot.
#[derive(Debug, Clone)]
pub struct Send {
    /// The stream file.
    pub to: PathBuf,
    /// The parent snapshot, for an incremental stream.
    pub parent: Option<PathBuf>,
}

/// What a btrfs snapshot did.
#[derive(Debug, Clone)]
pub struct BtrfsSnapshotDone {
    /// The manifest and what was captured; `dest` is where the manifest was written.
    pub summary: Summary,
    /// The snapshot made.
    pub snapshot: Subvolume,
    /// The subvolume it is a snapshot of.
    pub of: PathBuf,
    /// The stream written, and its size.
    pub sent: Option<(PathBuf, u64)>,
}

/// Snapshots the subvolume holding `req.root` at `dest`, captures the image's files
/// inside it into a manifest written at `manifest` (default [`manifest_beside`]), and
/// writes `send`'s stream when asked.
pub fn snapshot(
    req: &Request,
    dest: &Path,
    manifest: Option<&Path>,
    send: Option<&Send>,
) -> Result<BtrfsSnapshotDone> {
    let (of, inside) = btrfs::subvolume_holding(req.root.dir())?;
    let manifest_at = manifest.map_or_else(|| manifest_beside(dest), Path::to_path_buf);
    if let Some(s) = send
        && let Some(p) = &s.parent
    {
        // Checked before the snapshot is made: btrfs send says it only after.
        let parent = btrfs::show(p)?;
        if !parent.readonly {
            return Err(Error::Io {
                path: p.clone(),
                reason: "--parent must be a read-only snapshot (one ckpt fs snapshot made)".into(),
            });
        }
    }
    let snap = btrfs::snapshot_readonly(&of, dest)?;
    match finish(req, &snap, &of, &inside, &manifest_at, send) {
        Ok(done) => Ok(done),
        Err(e) => {
            // Take the snapshot back; its own failure would hide the first.
            let _ = btrfs::delete(&snap.path);
            Err(e)
        }
    }
}

/// The part of [`snapshot`] after the snapshot exists.
fn finish(
    req: &Request,
    snap: &Subvolume,
    of: &Path,
    inside: &Path,
    manifest_at: &Path,
    send: Option<&Send>,
) -> Result<BtrfsSnapshotDone> {
    let root = Root::open(&snap.path.join(inside))?;
    let in_snapshot = Request {
        root: &root,
        ..*req
    };
    let capture = in_snapshot.capture().map_err(|e| match e {
        Error::NeededMissing {
            path,
            users,
            reason,
        } => Error::NeededMissing {
            path,
            users,
            reason: format!(
                "{reason} in the snapshot of {} (a nested subvolume or another mount under ROOT is not in a snapshot)",
                of.display()
            ),
        },
        e => e,
    })?;
    let (mut m, bytes): (Manifest, u64) =
        hashed_manifest(&root, &capture, req.image, Method::Btrfs)?;
    m.root = std::path::absolute(req.root.dir())
        .unwrap_or_else(|_| req.root.dir().to_path_buf())
        .display()
        .to_string();
    m.skipped.extend(capture.skipped.iter().cloned());
    m.btrfs = Some(BtrfsSnapshot {
        path: snap.path.display().to_string(),
        uuid: snap.uuid.clone(),
        generation: snap.generation,
        parent_uuid: snap.parent_uuid.clone(),
        subvolume: of.display().to_string(),
        root_in_snapshot: inside.display().to_string(),
    });
    let sent = match send {
        Some(s) => {
            let ((), n) = write_stream(&snap.path, s)?;
            Some((s.to.clone(), n))
        }
        None => None,
    };
    let ((), written) = write_beside(manifest_at, |out| {
        m.to_writer(out).map_err(|e| Error::io(manifest_at, &e))
    })?;
    Ok(BtrfsSnapshotDone {
        summary: Summary {
            manifest: m,
            bytes,
            written,
            dest: manifest_at.to_path_buf(),
        },
        snapshot: snap.clone(),
        of: of.to_path_buf(),
        sent,
    })
}

/// `btrfs send` of `snapshot` into a temporary file beside `s.to`, renamed into place
/// when btrfs succeeds; its size.
fn write_stream(snapshot: &Path, s: &Send) -> Result<((), u64)> {
    let dir = match s.to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".ckpt-send-")
        // 0666 less the umask, like any new file (not tempfile's 0600).
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, &e))?;
    btrfs::send(snapshot, s.parent.as_deref(), tmp.path())?;
    let n = std::fs::metadata(tmp.path())
        .map_err(|e| Error::io(&s.to, &e))?
        .len();
    tmp.persist(&s.to).map_err(|e| Error::io(&s.to, &e.error))?;
    Ok(((), n))
}

/// What `ckpt fs receive` did: the subvolume made and, with a manifest, the tree in
/// it compared with the manifest.
#[derive(Debug, Clone)]
pub struct Received {
    /// The subvolume `btrfs receive` made.
    pub subvolume: Subvolume,
    /// Where ROOT is inside it (the manifest's `root_in_snapshot`), when a manifest
    /// says.
    pub root: PathBuf,
}

/// Receives the stream `stream` into the directory `into`, and says where the root of
/// `manifest` (if given: a btrfs snapshot's manifest) is inside what it made.
pub fn receive(stream: &Path, into: &Path, manifest: Option<&Manifest>) -> Result<Received> {
    let named = match manifest {
        Some(m) => match &m.btrfs {
            Some(b) => Some(b),
            None => {
                return Err(Error::Manifest {
                    reason: format!(
                        "it is the manifest of a {} snapshot, not of a btrfs one",
                        m.method.name()
                    ),
                });
            }
        },
        None => None,
    };
    let subvolume = btrfs::receive(stream, into)?;
    let Some(b) = named else {
        let root = subvolume.path.clone();
        return Ok(Received { subvolume, root });
    };
    if subvolume.received_uuid.as_deref() != Some(b.uuid.as_str()) {
        // Not the snapshot the manifest names: taken back, so nothing is left that a
        // restart could take for it.
        let _ = btrfs::delete(&subvolume.path);
        return Err(Error::Manifest {
            reason: format!(
                "the stream is of another snapshot: it made a subvolume received from {}, the manifest names snapshot {} ({})",
                subvolume.received_uuid.as_deref().unwrap_or("no UUID"),
                b.uuid,
                b.path
            ),
        });
    }
    let root = subvolume.path.join(&b.root_in_snapshot);
    Ok(Received { subvolume, root })
}
