//! Steps 2 and 3 of a restore: members written to temporary names through directories
//! opened without following links, renamed into place when all are good, everything
//! undone on a failure.

use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{
    AtFlags, Gid, Mode, OFlags, RenameFlags, Timespec, Timestamps, Uid, XattrFlags, makedev,
};
use sha2::{Digest, Sha256};

use super::{Member, RestoreOptions, for_each_member};
use crate::lookup::{FileType, Root};
use crate::manifest::{Manifest, unsupported};
use crate::snapshot::MANIFEST_NAME;

/// What was written.
pub(super) struct Done {
    pub written: usize,
    pub replaced: usize,
    pub bytes: u64,
}

/// A member written under a temporary name, to be renamed into place.
struct Pending {
    comps: Vec<String>,
    temp: String,
}

/// A directory this restore created, with the attributes it gets last.
struct CreatedDir {
    comps: Vec<String>,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: (i64, u32),
}

/// Everything done so far, to undo on a failure.
#[derive(Default)]
struct Journal {
    dirs: Vec<CreatedDir>,
    pending: Vec<Pending>,
    /// Renamed into place: the member, and the temporary name of what it replaced.
    placed: Vec<(Vec<String>, Option<String>)>,
    counter: u64,
}

/// Steps 2 and 3 for the archive `r` (already checked against `manifest`).
pub(super) fn extract(
    r: Box<dyn Read>,
    root: &Root,
    opts: RestoreOptions,
    manifest: &Manifest,
) -> std::result::Result<Done, String> {
    let top = rustix::fs::open(
        root.dir(),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("the root: {e}"))?;
    let sha: std::collections::BTreeMap<&str, &str> = manifest
        .files
        .iter()
        .filter_map(|e| Some((e.path.as_str(), e.sha256.as_deref()?)))
        .collect();
    let mut j = Journal::default();
    let mut bytes = 0u64;
    let manifest_path = format!("/{MANIFEST_NAME}");
    let res = for_each_member(r, opts, |m, data| {
        if m.path == manifest_path {
            return Ok(());
        }
        let dir = open_dir(&top, &m.comps[..m.comps.len() - 1])
            .map_err(|e| format!("{}: its directory: {e}", m.path))?;
        let r = write_member(&dir, &m, data, sha.get(m.path.as_str()).copied(), &mut j);
        r.map_err(|e| format!("{}: {e}", m.path))?;
        if m.kind == FileType::Regular {
            bytes += m.size;
        }
        Ok(())
    })
    .and_then(|()| commit(&top, &mut j, opts.overwrite));
    match res {
        Ok(()) => {
            let replaced = j.placed.iter().filter(|(_, b)| b.is_some()).count();
            // The replaced files, kept aside until now.
            for (comps, backup) in &j.placed {
                if let Some(b) = backup
                    && let Ok(dir) = open_dir(&top, &comps[..comps.len() - 1])
                {
                    let _ = rustix::fs::unlinkat(&dir, b.as_str(), AtFlags::empty());
                }
            }
            Ok(Done {
                written: j.placed.len() + j.dirs.len(),
                replaced,
                bytes,
            })
        }
        Err(e) => {
            undo(&top, &j);
            Err(e)
        }
    }
}

/// Opens the directory at `comps` under `top`, one component at a time, never
/// following a symbolic link.
fn open_dir(top: &OwnedFd, comps: &[String]) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut cur = rustix::fs::openat(top, ".", flags, Mode::empty())?;
    for c in comps {
        cur = rustix::fs::openat(&cur, c.as_str(), flags, Mode::empty()).map_err(|e| {
            if e == rustix::io::Errno::LOOP || e == rustix::io::Errno::NOTDIR {
                io::Error::other(format!("{c} is a symbolic link or not a directory"))
            } else {
                e.into()
            }
        })?;
    }
    Ok(cur)
}

fn timestamps((secs, nsec): (i64, u32)) -> Timestamps {
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: nsec.into(),
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

fn owner(uid: u32, gid: u32) -> (Option<Uid>, Option<Gid>) {
    if rustix::process::geteuid().is_root() {
        (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
    } else {
        (None, None)
    }
}

/// Writes member `m` in `dir`: a directory created in place, anything else under a
/// temporary name.
fn write_member(
    dir: &OwnedFd,
    m: &Member,
    data: &mut dyn Read,
    sha256: Option<&str>,
    j: &mut Journal,
) -> std::result::Result<(), String> {
    let name = m.comps.last().map(String::as_str).unwrap_or(".");
    let mode = Mode::from_raw_mode(m.mode);
    let (uid, gid) = owner(m.uid, m.gid);
    if m.kind == FileType::Directory {
        match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700)) {
            Ok(()) => j.dirs.push(CreatedDir {
                comps: m.comps.clone(),
                mode: m.mode,
                uid: m.uid,
                gid: m.gid,
                mtime: (m.mtime, m.mtime_nsec),
            }),
            Err(rustix::io::Errno::EXIST) => {
                let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| e.to_string())?;
                if rustix::fs::FileType::from_raw_mode(st.st_mode)
                    != rustix::fs::FileType::Directory
                {
                    return Err("something that is not a directory is there".into());
                }
            }
            Err(e) => return Err(e.to_string()),
        }
        return Ok(());
    }
    let temp = loop {
        j.counter += 1;
        let temp = format!(".ckpt-restore-{}-{}", std::process::id(), j.counter);
        let made = match m.kind {
            FileType::Regular => rustix::fs::openat(
                dir,
                temp.as_str(),
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )
            .map(Some),
            FileType::Symlink => {
                rustix::fs::symlinkat(m.target.as_deref().unwrap_or(""), dir, temp.as_str())
                    .map(|()| None)
            }
            FileType::Fifo => {
                rustix::fs::mknodat(dir, temp.as_str(), rustix::fs::FileType::Fifo, mode, 0)
                    .map(|()| None)
            }
            FileType::CharDevice | FileType::BlockDevice => {
                let t = if m.kind == FileType::CharDevice {
                    rustix::fs::FileType::CharacterDevice
                } else {
                    rustix::fs::FileType::BlockDevice
                };
                rustix::fs::mknodat(dir, temp.as_str(), t, mode, makedev(m.device.0, m.device.1))
                    .map(|()| None)
            }
            FileType::Directory | FileType::Socket => {
                return Err(format!("cannot create a {}", m.kind));
            }
        };
        match made {
            Err(rustix::io::Errno::EXIST) if j.counter < u64::MAX => continue,
            Err(e) => return Err(e.to_string()),
            Ok(fd) => {
                j.pending.push(Pending {
                    comps: m.comps.clone(),
                    temp: temp.clone(),
                });
                if let Some(fd) = fd {
                    write_file(&fd, m, data, sha256)?;
                    rustix::fs::fchown(&fd, uid, gid).map_err(|e| format!("chown: {e}"))?;
                    rustix::fs::fchmod(&fd, mode).map_err(|e| format!("chmod: {e}"))?;
                    for (k, v) in &m.xattrs {
                        match rustix::fs::fsetxattr(&fd, k.as_str(), v, XattrFlags::empty()) {
                            Ok(()) => {}
                            Err(e) if unsupported(&e.into()) => {}
                            Err(e) => return Err(format!("extended attribute {k}: {e}")),
                        }
                    }
                    rustix::fs::futimens(&fd, &timestamps((m.mtime, m.mtime_nsec)))
                        .map_err(|e| format!("mtime: {e}"))?;
                    return Ok(());
                }
                break temp;
            }
        }
    };
    rustix::fs::chownat(dir, temp.as_str(), uid, gid, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| format!("chown: {e}"))?;
    if m.kind != FileType::Symlink {
        rustix::fs::chmodat(dir, temp.as_str(), mode, AtFlags::empty())
            .map_err(|e| format!("chmod: {e}"))?;
    }
    rustix::fs::utimensat(
        dir,
        temp.as_str(),
        &timestamps((m.mtime, m.mtime_nsec)),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| format!("mtime: {e}"))?;
    Ok(())
}

/// Copies exactly `m.size` bytes of `data` to `fd`, hashing them; compared with the
/// manifest's sha256.
fn write_file(
    fd: &OwnedFd,
    m: &Member,
    data: &mut dyn Read,
    sha256: Option<&str>,
) -> std::result::Result<(), String> {
    let mut out = std::fs::File::from(fd.as_fd().try_clone_to_owned().map_err(|e| e.to_string())?);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = m.size;
    let mut src = data.take(m.size);
    while left > 0 {
        let n = match src.read(&mut buf) {
            Ok(0) => return Err(format!("the archive ends {left} bytes before its end")),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("reading the archive: {e}")),
        };
        h.update(&buf[..n]);
        io::Write::write_all(&mut out, &buf[..n]).map_err(|e| format!("writing: {e}"))?;
        left -= n as u64;
    }
    let got = hex::encode(h.finalize());
    if let Some(want) = sha256
        && want != got
    {
        return Err(format!(
            "its content has sha256 {got}, the manifest records {want}"
        ));
    }
    Ok(())
}

/// Step 3: each pending member renamed into place (what it replaces renamed aside
/// first), then the created directories' attributes, deepest first.
fn commit(top: &OwnedFd, j: &mut Journal, overwrite: bool) -> std::result::Result<(), String> {
    for p in std::mem::take(&mut j.pending) {
        let path = format!("/{}", p.comps.join("/"));
        let name = p.comps.last().map(String::as_str).unwrap_or(".");
        let dir = match open_dir(top, &p.comps[..p.comps.len() - 1]) {
            Ok(d) => d,
            Err(e) => {
                j.pending.push(p);
                return Err(format!("{path}: its directory: {e}"));
            }
        };
        let mut backup = None;
        if overwrite && rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok() {
            j.counter += 1;
            let b = format!(".ckpt-replaced-{}-{}", std::process::id(), j.counter);
            if let Err(e) = rename_noreplace(&dir, name, b.as_str()) {
                j.pending.push(p);
                return Err(format!("{path}: setting the old file aside: {e}"));
            }
            backup = Some(b);
        }
        match rename_noreplace(&dir, p.temp.as_str(), name) {
            Ok(()) => j.placed.push((p.comps.clone(), backup)),
            Err(e) => {
                if let Some(b) = &backup {
                    let _ = rustix::fs::renameat(&dir, b.as_str(), &dir, name);
                }
                j.pending.push(p);
                return Err(format!("{path}: {e}"));
            }
        }
    }
    for d in j.dirs.iter().rev() {
        let path = format!("/{}", d.comps.join("/"));
        let fd = open_dir(top, &d.comps).map_err(|e| format!("{path}: {e}"))?;
        let (uid, gid) = owner(d.uid, d.gid);
        rustix::fs::fchown(&fd, uid, gid).map_err(|e| format!("{path}: chown: {e}"))?;
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(d.mode))
            .map_err(|e| format!("{path}: chmod: {e}"))?;
        rustix::fs::futimens(&fd, &timestamps(d.mtime))
            .map_err(|e| format!("{path}: mtime: {e}"))?;
    }
    Ok(())
}

/// Renames `from` to `to` in `dir`, never over something there (`RENAME_NOREPLACE`;
/// where the filesystem has no such flag, a check that `to` is not there, then a rename).
fn rename_noreplace(dir: &OwnedFd, from: &str, to: &str) -> rustix::io::Result<()> {
    match rustix::fs::renameat_with(dir, from, dir, to, RenameFlags::NOREPLACE) {
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
            match rustix::fs::statat(dir, to, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(_) => Err(rustix::io::Errno::EXIST),
                Err(_) => rustix::fs::renameat(dir, from, dir, to),
            }
        }
        other => other,
    }
}

/// Undoes `j`: placed members removed and what they replaced put back, temporary
/// files removed, created directories removed, deepest first.
fn undo(top: &OwnedFd, j: &Journal) {
    for (comps, backup) in j.placed.iter().rev() {
        let name = comps.last().map(String::as_str).unwrap_or(".");
        if let Ok(dir) = open_dir(top, &comps[..comps.len() - 1]) {
            let _ = rustix::fs::unlinkat(&dir, name, AtFlags::empty());
            if let Some(b) = backup {
                let _ = rustix::fs::renameat(&dir, b.as_str(), &dir, name);
            }
        }
    }
    for p in &j.pending {
        if let Ok(dir) = open_dir(top, &p.comps[..p.comps.len() - 1]) {
            let _ = rustix::fs::unlinkat(&dir, p.temp.as_str(), AtFlags::empty());
        }
    }
    for d in j.dirs.iter().rev() {
        let name = d.comps.last().map(String::as_str).unwrap_or(".");
        if let Ok(dir) = open_dir(top, &d.comps[..d.comps.len() - 1]) {
            // A directory made writable again in case its mode was set.
            if let Ok(fd) = open_dir(&dir, &[name.to_string()]) {
                let _ = rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o700));
            }
            let _ = rustix::fs::unlinkat(&dir, name, AtFlags::REMOVEDIR);
        }
    }
}
