//! `ckpt fs restore`: a tar snapshot extracted safely under a root, then verified.
//!
//! The archive is read twice (plain or zstd, told by its magic), and its members are
//! checked here, not by the tar crate's unpack:
//!
//! 1. **Check, writing nothing.** Every member's name must be relative, without `..`
//!    (nor empty components), in UTF-8; its type a directory, regular file, symbolic
//!    link or fifo (a device only with `allow_devices`; hard links, sparse files and
//!    the others refused); a symbolic link with a relative target must not climb out
//!    of the root from where it is (an absolute target is taken relative to the root,
//!    as a restart inside it resolves it, and is never followed here); no member may
//!    lie under a symbolic link of the archive or of the tree, nor under something
//!    that is not a directory; its directory must come before it in the archive or be
//!    there already. Sizes are checked against `max_bytes` (all regular files
//!    together) before anything is read, PAX and long-name records against 1 MiB. The
//!    last member must be the manifest ([`crate::snapshot::MANIFEST_NAME`]), and every
//!    member must be in it, of its type and size, and every file of it in the archive.
//!    A path that exists under the root is refused unless `overwrite` (a directory
//!    that exists is kept as it is).
//! 2. **Extract to temporary names.** Each file is written to a temporary name in its
//!    directory, opened relative to directories opened one component at a time with
//!    `O_NOFOLLOW` (never through a symbolic link, even one that appears meanwhile),
//!    its content hashed as it is written and compared with the manifest's sha256;
//!    mode, owner (when running as root), mtime and extended attributes set.
//!    Directories are created as they come.
//! 3. **Rename into place** only when the whole archive is good; with `overwrite` an
//!    existing file is first renamed aside and removed only at the end. Directories
//!    get their mode, owner and mtime last, deepest first.
//!
//! A failure at any step removes every file and directory the restore created and puts
//! replaced files back: the tree is left as it was. Then the tree is verified against
//! the manifest.

mod tree;

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

use crate::lookup::{FileType, Root};
use crate::manifest::Manifest;
use crate::snapshot::{MANIFEST_NAME, PAX_XATTR};
use crate::verify::Verification;
use crate::{Error, Result};

/// The default limit of the bytes of all regular files of an archive (64 GiB).
pub const DEFAULT_MAX_BYTES: u64 = 64 << 30;

/// The limit of one PAX or long-name record.
pub const MAX_RECORD_BYTES: u64 = 1 << 20;

/// The limit of the manifest member.
pub const MAX_MANIFEST_BYTES: u64 = 256 << 20;

/// zstd's frame magic.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// How to restore.
#[derive(Debug, Clone, Copy)]
pub struct RestoreOptions {
    /// Replace files that exist under the root.
    pub overwrite: bool,
    /// Create character and block devices.
    pub allow_devices: bool,
    /// The most bytes of regular files the archive may hold.
    pub max_bytes: u64,
}

impl Default for RestoreOptions {
    fn default() -> RestoreOptions {
        RestoreOptions {
            overwrite: false,
            allow_devices: false,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The archive's manifest.
    pub manifest: Manifest,
    /// Members written (directories that were there not counted).
    pub written: usize,
    /// Files that existed and were replaced (`overwrite`).
    pub replaced: usize,
    /// Bytes of regular files written.
    pub bytes: u64,
    /// The tree compared with the manifest afterwards.
    pub verification: Verification,
}

/// A member of the archive, checked.
#[derive(Debug, Clone)]
struct Member {
    /// Absolute, relative to the root: `/usr/bin/x`.
    path: String,
    /// Its components.
    comps: Vec<String>,
    kind: FileType,
    size: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    mtime_nsec: u32,
    target: Option<String>,
    device: (u32, u32),
    xattrs: Vec<(String, Vec<u8>)>,
}

/// Restores the snapshot `archive` under `root` ([`RestoreOptions`]), then verifies
/// the tree against its manifest.
pub fn restore(archive: &Path, root: &Root, opts: RestoreOptions) -> Result<Restored> {
    let name = archive.display().to_string();
    let refused = |reason: String| Error::Refused {
        archive: name.clone(),
        reason,
    };
    let manifest = check(open(archive)?, root, opts).map_err(refused)?;
    let done = tree::extract(open(archive)?, root, opts, &manifest).map_err(refused)?;
    let verification = manifest.verify(root);
    Ok(Restored {
        manifest,
        written: done.written,
        replaced: done.replaced,
        bytes: done.bytes,
        verification,
    })
}

/// The manifest in the file `path`: a manifest (JSON) or a tar snapshot, plain or zstd,
/// whose last member it is.
pub fn manifest_of(path: &Path) -> Result<Manifest> {
    let mut f = File::open(path).map_err(|e| Error::io(path, &e))?;
    let mut head = [0u8; 512];
    let n = crate::manifest::read_full(&mut f, &mut head).map_err(|e| Error::io(path, &e))?;
    if head[..n].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        let f = File::open(path).map_err(|e| Error::io(path, &e))?;
        return Manifest::from_reader(io::BufReader::new(f));
    }
    let opts = RestoreOptions {
        allow_devices: true,
        max_bytes: u64::MAX,
        ..RestoreOptions::default()
    };
    let mut manifest = None;
    for_each_member(open(path)?, opts, |m, data| {
        if manifest.is_some() {
            return Err(format!("{}: a member after the manifest", m.path));
        }
        if m.path == format!("/{MANIFEST_NAME}") && m.size <= MAX_MANIFEST_BYTES {
            manifest = Some(Manifest::from_reader(data.take(m.size)).map_err(|e| e.to_string())?);
        }
        Ok(())
    })
    .map_err(|reason| Error::Refused {
        archive: path.display().to_string(),
        reason,
    })?;
    manifest.ok_or_else(|| Error::Refused {
        archive: path.display().to_string(),
        reason: format!(
            "neither a manifest nor a ckpt snapshot (no {MANIFEST_NAME} as its last member)"
        ),
    })
}

/// The archive's bytes, decompressed when they are zstd.
fn open(archive: &Path) -> Result<Box<dyn Read>> {
    let mut f = File::open(archive).map_err(|e| Error::io(archive, &e))?;
    let mut head = [0u8; 4];
    let n = f.read(&mut head).map_err(|e| Error::io(archive, &e))?;
    let f = File::open(archive).map_err(|e| Error::io(archive, &e))?;
    if n == 4 && head == ZSTD_MAGIC {
        let z = zstd::Decoder::new(f).map_err(|e| Error::io(archive, &e))?;
        return Ok(Box::new(z));
    }
    Ok(Box::new(f))
}

/// Step 1: every member checked, nothing written; the manifest. An error is the reason
/// in words, naming the member.
fn check(
    r: Box<dyn Read>,
    root: &Root,
    opts: RestoreOptions,
) -> std::result::Result<Manifest, String> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    let mut links: BTreeSet<String> = BTreeSet::new();
    let mut members: Vec<(String, FileType, u64)> = Vec::new();
    let mut manifest: Option<Manifest> = None;
    let mut total = 0u64;
    for_each_member(r, opts, |m, data| {
        if manifest.is_some() {
            return Err(format!("{}: a member after the manifest", m.path));
        }
        if m.path == format!("/{MANIFEST_NAME}") {
            if m.kind != FileType::Regular || m.size > MAX_MANIFEST_BYTES {
                return Err(format!(
                    "{MANIFEST_NAME}: not a manifest (a {} of {} bytes)",
                    m.kind, m.size
                ));
            }
            let got = Manifest::from_reader(data.take(m.size)).map_err(|e| e.to_string())?;
            manifest = Some(got);
            return Ok(());
        }
        if !seen.insert(m.path.clone()) {
            return Err(format!("{}: in the archive twice", m.path));
        }
        total = total.saturating_add(m.size);
        if total > opts.max_bytes {
            return Err(format!(
                "{}: declares {} bytes, the archive's files {total} together, over the limit of {} (--max-bytes)",
                m.path, m.size, opts.max_bytes
            ));
        }
        check_place(&m, root, &dirs, &links, opts.overwrite)?;
        match m.kind {
            FileType::Directory => {
                dirs.insert(m.path.clone());
            }
            FileType::Symlink => {
                links.insert(m.path.clone());
            }
            _ => {}
        }
        members.push((m.path, m.kind, m.size));
        Ok(())
    })?;
    let manifest = manifest.ok_or_else(|| {
        format!("not a ckpt snapshot: no manifest ({MANIFEST_NAME}) as its last member")
    })?;
    let by_path: std::collections::BTreeMap<&str, &crate::manifest::Entry> = manifest
        .files
        .iter()
        .map(|e| (e.path.as_str(), e))
        .collect();
    for (path, kind, size) in &members {
        let Some(e) = by_path.get(path.as_str()) else {
            return Err(format!("{path}: not in the manifest"));
        };
        if e.kind != *kind {
            return Err(format!(
                "{path}: a {kind} in the archive, a {} in the manifest",
                e.kind
            ));
        }
        if *kind == FileType::Regular && e.size != *size {
            return Err(format!(
                "{path}: {size} bytes in the archive, {} in the manifest",
                e.size
            ));
        }
    }
    if let Some(e) = manifest.files.iter().find(|e| !seen.contains(&e.path)) {
        return Err(format!("{}: in the manifest, not in the archive", e.path));
    }
    Ok(manifest)
}

/// Whether `m` may be written where it goes: its directories before it in the archive
/// or real directories under the root, none a symbolic link; and what is there already.
fn check_place(
    m: &Member,
    root: &Root,
    dirs: &BTreeSet<String>,
    links: &BTreeSet<String>,
    overwrite: bool,
) -> std::result::Result<(), String> {
    let mut host = root.dir().to_path_buf();
    let mut at = String::new();
    let (last, parents) = m.comps.split_last().ok_or("an empty name")?;
    let mut on_disk = true;
    for c in parents {
        at.push('/');
        at.push_str(c);
        if links.contains(&at) {
            return Err(format!(
                "{}: under {at}, a symbolic link of the archive (restore never writes through one)",
                m.path
            ));
        }
        host.push(c);
        if on_disk {
            match fs::symlink_metadata(&host) {
                Ok(md) if md.file_type().is_symlink() => {
                    return Err(format!(
                        "{}: under {at}, a symbolic link under the root (restore never writes through one)",
                        m.path
                    ));
                }
                Ok(md) if !md.is_dir() => {
                    return Err(format!(
                        "{}: under {at}, which is not a directory under the root",
                        m.path
                    ));
                }
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => on_disk = false,
                Err(e) => return Err(format!("{}: {at}: {e}", m.path)),
            }
        }
        if !dirs.contains(&at) {
            return Err(format!(
                "{}: its directory {at} is neither before it in the archive nor under the root",
                m.path
            ));
        }
    }
    if !on_disk {
        return Ok(());
    }
    host.push(last);
    match fs::symlink_metadata(&host) {
        Ok(md) if md.is_dir() && m.kind == FileType::Directory => Ok(()),
        Ok(md) if md.is_dir() => Err(format!(
            "{}: a directory under the root, a {} in the archive (not replaced)",
            m.path, m.kind
        )),
        Ok(md) if !overwrite => Err(format!(
            "{}: a {} exists there under the root (--overwrite replaces it)",
            m.path,
            FileType::of(&md)
        )),
        Ok(_) if m.kind == FileType::Directory => Err(format!(
            "{}: a directory in the archive, something else under the root (not replaced)",
            m.path
        )),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("{}: {e}", m.path)),
    }
}

/// Calls `f` with each member of the tar stream `r` and a reader of its data, the
/// extension records (PAX, GNU long names) read here within [`MAX_RECORD_BYTES`].
fn for_each_member(
    r: Box<dyn Read>,
    opts: RestoreOptions,
    mut f: impl FnMut(Member, &mut dyn Read) -> std::result::Result<(), String>,
) -> std::result::Result<(), String> {
    let mut ar = tar::Archive::new(r);
    let damaged =
        |k: usize, e: io::Error| format!("not a tar archive, or a damaged one (member {k}): {e}");
    let entries = ar.entries().map_err(|e| damaged(0, e))?.raw(true);
    let mut pax: Option<Vec<u8>> = None;
    let mut long_name: Option<Vec<u8>> = None;
    let mut long_link: Option<Vec<u8>> = None;
    for (k, entry) in entries.enumerate() {
        let mut e = entry.map_err(|e| damaged(k, e))?;
        let t = e.header().entry_type();
        let size = e.header().entry_size().map_err(|x| damaged(k, x))?;
        let slot = if t.is_pax_local_extensions() {
            Some(&mut pax)
        } else if t.is_gnu_longname() {
            Some(&mut long_name)
        } else if t.is_gnu_longlink() {
            Some(&mut long_link)
        } else {
            None
        };
        if let Some(slot) = slot {
            if size > MAX_RECORD_BYTES || slot.is_some() {
                return Err(format!(
                    "member {k}: an extension record of {size} bytes, or two for one member"
                ));
            }
            let mut v = Vec::new();
            (&mut e)
                .take(size)
                .read_to_end(&mut v)
                .map_err(|x| damaged(k, x))?;
            *slot = Some(v);
            continue;
        }
        if t.is_pax_global_extensions() {
            return Err(format!(
                "member {k}: a PAX global header (not in a ckpt snapshot)"
            ));
        }
        let m = member(
            &e,
            pax.take().as_deref(),
            long_name.take(),
            long_link.take(),
            opts,
        )
        .map_err(|why| format!("member {k}: {why}"))?;
        f(m, &mut e)?;
    }
    if pax.is_some() || long_name.is_some() || long_link.is_some() {
        return Err("an extension record at the end, of no member".into());
    }
    Ok(())
}

/// The member of entry `e` and its extension records, checked (name, type, target).
fn member(
    e: &tar::Entry<'_, Box<dyn Read>>,
    pax: Option<&[u8]>,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    opts: RestoreOptions,
) -> std::result::Result<Member, String> {
    let h = e.header();
    let mut name = long_name
        .map(trim_nul)
        .unwrap_or_else(|| h.path_bytes().into_owned());
    let mut link = long_link
        .map(trim_nul)
        .or_else(|| h.link_name_bytes().map(|c| c.into_owned()));
    let mut mtime = (h.mtime().map_err(|x| x.to_string())? as i64, 0u32);
    let mut xattrs = Vec::new();
    for rec in pax.map(tar::PaxExtensions::new).into_iter().flatten() {
        let rec = rec.map_err(|x| format!("a bad PAX record: {x}"))?;
        let key = rec
            .key()
            .map_err(|_| "a PAX key that is not UTF-8".to_string())?;
        match key {
            "path" => name = rec.value_bytes().to_vec(),
            "linkpath" => link = Some(rec.value_bytes().to_vec()),
            "mtime" => mtime = pax_time(rec.value_bytes()).ok_or("a bad PAX mtime")?,
            k if k.starts_with(PAX_XATTR) => {
                xattrs.push((k[PAX_XATTR.len()..].to_string(), rec.value_bytes().to_vec()))
            }
            "size" => return Err("a PAX size record (not in a ckpt snapshot)".into()),
            k if k.starts_with("GNU.sparse") => return Err("a sparse file".into()),
            _ => {}
        }
    }
    let (path, comps) = member_path(&name)?;
    let size = h.entry_size().map_err(|x| x.to_string())?;
    let et = h.entry_type();
    let kind = match et {
        tar::EntryType::Regular | tar::EntryType::Continuous => FileType::Regular,
        tar::EntryType::Directory => FileType::Directory,
        tar::EntryType::Symlink => FileType::Symlink,
        tar::EntryType::Fifo => FileType::Fifo,
        tar::EntryType::Char => FileType::CharDevice,
        tar::EntryType::Block => FileType::BlockDevice,
        tar::EntryType::Link => {
            return Err(format!(
                "{path}: a hard link (a ckpt snapshot has none; refused, wherever it points)"
            ));
        }
        other => {
            return Err(format!(
                "{path}: a member of tar type {:?}",
                other.as_byte() as char
            ));
        }
    };
    if matches!(kind, FileType::CharDevice | FileType::BlockDevice) && !opts.allow_devices {
        return Err(format!("{path}: a {kind} (--allow-devices creates them)"));
    }
    if kind != FileType::Regular && size > 0 {
        return Err(format!("{path}: a {kind} with {size} bytes of data"));
    }
    if kind == FileType::Regular && size > opts.max_bytes {
        return Err(format!(
            "{path}: declares {size} bytes, over the limit of {} (--max-bytes)",
            opts.max_bytes
        ));
    }
    let target = if kind == FileType::Symlink {
        let t = link.ok_or_else(|| format!("{path}: a symbolic link without a target"))?;
        let t = String::from_utf8(t).map_err(|_| format!("{path}: a target that is not UTF-8"))?;
        check_target(&comps, &t).map_err(|why| format!("{path}: {why}"))?;
        Some(t)
    } else {
        None
    };
    let num = |r: io::Result<u64>, what: &str| -> std::result::Result<u32, String> {
        r.ok()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| format!("{path}: a bad {what}"))
    };
    let device = if matches!(kind, FileType::CharDevice | FileType::BlockDevice) {
        let maj = h.device_major().ok().flatten().unwrap_or(0);
        let min = h.device_minor().ok().flatten().unwrap_or(0);
        (maj, min)
    } else {
        (0, 0)
    };
    Ok(Member {
        mode: num(h.mode().map(u64::from), "mode")? & 0o7777,
        uid: num(h.uid(), "uid")?,
        gid: num(h.gid(), "gid")?,
        mtime: mtime.0,
        mtime_nsec: mtime.1,
        path,
        comps,
        kind,
        size,
        target,
        device,
        xattrs,
    })
}

fn trim_nul(mut v: Vec<u8>) -> Vec<u8> {
    while v.last() == Some(&0) {
        v.pop();
    }
    v
}

/// A PAX time `SECONDS[.FRACTION]`.
fn pax_time(v: &[u8]) -> Option<(i64, u32)> {
    let s = std::str::from_utf8(v).ok()?;
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut digits: String = frac.chars().take(9).collect();
    while digits.len() < 9 {
        digits.push('0');
    }
    Some((secs, digits.parse().ok()?))
}

/// A member's name as a path under the root: relative, no `..`, no empty or `.`
/// component (a final `/` of a directory and leading `./` allowed), UTF-8, no NUL.
fn member_path(name: &[u8]) -> std::result::Result<(String, Vec<String>), String> {
    let s = std::str::from_utf8(name).map_err(|_| "a name that is not UTF-8".to_string())?;
    if s.starts_with('/') {
        return Err(format!("{s}: an absolute path"));
    }
    if s.contains('\0') {
        return Err(format!("{:?}: a name with a NUL byte", s));
    }
    let mut t = s.strip_suffix('/').unwrap_or(s);
    while let Some(rest) = t.strip_prefix("./") {
        t = rest;
    }
    let mut comps = Vec::new();
    for c in t.split('/') {
        match c {
            ".." => return Err(format!("{s}: a .. component")),
            "" | "." => return Err(format!("{s}: an empty or . component")),
            c => comps.push(c.to_string()),
        }
    }
    Ok((format!("/{}", comps.join("/")), comps))
}

/// Whether a symbolic link at `comps` to `target` stays under the root: a relative
/// target must not climb above it; an absolute one is the root's (as a restart inside
/// the root resolves it).
fn check_target(comps: &[String], target: &str) -> std::result::Result<(), String> {
    if target.is_empty() || target.contains('\0') {
        return Err("a symbolic link with an empty target or a NUL byte".into());
    }
    if target.starts_with('/') {
        return Ok(());
    }
    let mut depth = comps.len().saturating_sub(1);
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if depth == 0 {
                    return Err(format!(
                        "a symbolic link to {target}, which leaves the root"
                    ));
                }
                depth -= 1;
            }
            _ => depth += 1,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_targets_stay_under_the_root() {
        assert_eq!(member_path(b"usr/bin/").unwrap().0, "/usr/bin");
        assert_eq!(member_path(b"./etc/x").unwrap().0, "/etc/x");
        for bad in [&b"/etc/x"[..], b"../x", b"a/../../x", b"a//b", b"", b"\xff"] {
            assert!(member_path(bad).is_err(), "{bad:?}");
        }
        let c = |p: &str| p.split('/').map(String::from).collect::<Vec<_>>();
        assert!(check_target(&c("usr/lib/x"), "../../etc/y").is_ok());
        assert!(check_target(&c("usr/lib/x"), "../../../etc").is_err());
        assert!(check_target(&c("x"), "..").is_err());
        assert!(check_target(&c("x"), "/etc").is_ok());
        assert_eq!(pax_time(b"12.5"), Some((12, 500_000_000)));
        assert_eq!(pax_time(b"12"), Some((12, 0)));
        assert_eq!(pax_time(b"x"), None);
    }
}
