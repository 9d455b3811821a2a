//! The manifest of a snapshot: which image it is for, and per captured file its path,
//! type, size, mode, owner, mtime, sha256, symbolic link target and extended attributes
//! (schemas/json/fs-manifest.schema.json). What a snapshot captures, and what it skips,
//! is [`capture`]'s answer ([`crate::capture`]).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::lookup::{FileType, Presence, Root, State};
use crate::paths::{ImagePath, PathList, Recorded};
use crate::verify::{Checked, Outcome, Owner, Verification};
use crate::{Error, Result};

use crate::capture::not_captured;
pub use crate::capture::{Capture, Skipped, capture, capture_set};

/// Version of the manifest's format: a reader takes any manifest of the same major.
pub const FORMAT_VERSION: &str = "1.0.0";

/// How a snapshot was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// A tar archive (the manifest is its last member).
    Tar,
    /// A copy made by rsync (the manifest beside it).
    Rsync,
    /// A read-only btrfs snapshot of the subvolume that holds the root.
    Btrfs,
}

impl Method {
    /// Its name: `tar`, `rsync`, `btrfs`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Tar => "tar",
            Method::Rsync => "rsync",
            Method::Btrfs => "btrfs",
        }
    }
}

/// Which image a manifest is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageIdentity {
    /// The sha256 of the plain image, in hex (inside a container: of the image's bytes,
    /// not of the envelope).
    pub sha256: String,
    /// The plain image's size in bytes.
    pub size: u64,
    /// The revision it was read as.
    pub revision: String,
    /// Its architecture.
    pub arch: String,
}

impl ImageIdentity {
    /// The identity of the image in the file `path` (a plain image or ckpt's container),
    /// its revision detected: one streaming pass for the hash, one scan of the records.
    pub fn of_file(path: &Path) -> Result<ImageIdentity> {
        ImageIdentity::of_file_as(path, None)
    }

    /// [`ImageIdentity::of_file`], read as revision `rev` when given.
    pub fn of_file_as(path: &Path, rev: Option<&str>) -> Result<ImageIdentity> {
        let (sha256, size) = sha256_of(&mut open_plain(path)?).map_err(|e| Error::io(path, &e))?;
        let ev = ckpt_format::detect::Evidence::scan(&mut open_plain(path)?)?;
        let det = ckpt_format::detect::detect(&ev, rev)
            .map_err(|k| ckpt_format::Error::new(k, ckpt_format::error::Position::default()))?;
        Ok(ImageIdentity {
            sha256,
            size,
            revision: det.schema.id.to_string(),
            arch: det.arch.to_string(),
        })
    }
}

/// The plain image of the file `path`: the file, or the image inside its container.
fn open_plain(path: &Path) -> Result<Box<dyn ckpt_format::input::Input>> {
    let mut f = File::open(path).map_err(|e| Error::io(path, &e))?;
    let mut head = [0u8; ckpt_format::container::MAGIC.len()];
    let n = read_full(&mut f, &mut head).map_err(|e| Error::io(path, &e))?;
    if ckpt_format::container::is_container(&head[..n]) {
        let (inner, _) =
            ckpt_format::container::ImageInContainer::open(f).map_err(|e| Error::Io {
                path: path.to_path_buf(),
                reason: format!("cannot read the container: {e}"),
            })?;
        return Ok(Box::new(inner));
    }
    let f = File::open(path).map_err(|e| Error::io(path, &e))?;
    Ok(Box::new(f))
}

/// Reads until `buf` is full or the end: how many bytes were read.
pub(crate) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A reader that hashes (sha256) and counts what is read through it.
#[derive(Debug)]
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
}

impl<R: Read> HashingReader<R> {
    /// Hashes what is read from `inner`.
    pub fn new(inner: R) -> HashingReader<R> {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            read: 0,
        }
    }

    /// The bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// The sha256 (hex) of what was read, and how many bytes that was.
    pub fn finish(self) -> (String, u64) {
        (hex::encode(self.hasher.finalize()), self.read)
    }

    /// The reader inside.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// The sha256 (hex) of everything `r` gives, and its length, streaming.
pub fn sha256_of(r: &mut impl Read) -> io::Result<(String, u64)> {
    let mut h = HashingReader::new(r);
    io::copy(&mut h, &mut io::sink())?;
    Ok(h.finish())
}

/// The read-only btrfs snapshot a manifest names (method `btrfs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BtrfsSnapshot {
    /// Where the snapshot is.
    pub path: String,
    /// Its subvolume UUID.
    pub uuid: String,
    /// Its generation.
    pub generation: u64,
    /// The UUID of the subvolume it is a snapshot of.
    pub parent_uuid: Option<String>,
    /// The subvolume that holds the root.
    pub subvolume: String,
    /// Where the root is inside the snapshot (absolute, relative to the snapshot).
    pub root_in_snapshot: String,
}

/// One captured file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its path under the root, absolute, as the image names it (`/etc/hosts`; a path
    /// reached through a symbolic link is captured where the link leads, the link as
    /// its own entry).
    pub path: String,
    /// Its type (not followed: a symbolic link is one).
    #[serde(rename = "type")]
    pub kind: FileType,
    /// Its size in bytes (regular files; 0 for the others).
    pub size: u64,
    /// Its permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Its owner.
    pub uid: u32,
    /// Its group.
    pub gid: u32,
    /// Its modification time, seconds since the epoch.
    pub mtime: i64,
    /// The nanoseconds of its modification time.
    pub mtime_nsec: u32,
    /// The sha256 of its content, in hex (regular files).
    pub sha256: Option<String>,
    /// Its target (symbolic links).
    pub target: Option<String>,
    /// Its extended attributes: name to value, the value in base64 (standard alphabet,
    /// padded).
    pub xattrs: BTreeMap<String, String>,
    /// Whether the image needs it (false for `--include` trees and for the directories
    /// and symbolic links on the way to a needed file).
    pub needed: bool,
}

impl Entry {
    /// The entry of `path` under `root`: its directories resolved inside the root, the
    /// file itself not followed (`lstat`); with `hash`, a regular file's content hashed,
    /// streaming. `needed` is false: the caller knows better.
    pub fn of(root: &Root, path: &str, hash: bool) -> Result<Entry> {
        let (real, md) = root.locate(path).map_err(|s| Error::Io {
            path: path.into(),
            reason: s.reason.unwrap_or_else(|| "cannot be looked up".into()),
        })?;
        let kind = FileType::of(&md);
        let sha256 = if hash && kind == FileType::Regular {
            let mut f = open_nofollow(&real).map_err(|e| Error::io(path, &e))?;
            Some(sha256_of(&mut f).map_err(|e| Error::io(path, &e))?.0)
        } else {
            None
        };
        let target = if kind == FileType::Symlink {
            let t = fs::read_link(&real).map_err(|e| Error::io(path, &e))?;
            Some(t.to_string_lossy().into_owned())
        } else {
            None
        };
        Ok(Entry {
            path: path.into(),
            kind,
            size: if kind == FileType::Regular {
                md.len()
            } else {
                0
            },
            mode: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
            mtime: md.mtime(),
            mtime_nsec: md.mtime_nsec().clamp(0, 999_999_999) as u32,
            sha256,
            target,
            xattrs: xattrs_of(&real).map_err(|e| Error::io(path, &e))?,
            needed: false,
        })
    }
}

/// Opens `path` for reading without following a symbolic link as its last component.
pub fn open_nofollow(path: &Path) -> io::Result<File> {
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// The extended attributes of `path` (not followed), values in base64; none where the
/// filesystem has no support for them. Names that are not UTF-8 are left out.
pub fn xattrs_of(path: &Path) -> io::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let names = match xattr::list(path) {
        Ok(n) => n,
        Err(e) if unsupported(&e) => return Ok(out),
        Err(e) => return Err(e),
    };
    for name in names {
        let Some(n) = name.to_str() else { continue };
        match xattr::get(path, &name) {
            Ok(Some(v)) => {
                out.insert(n.to_string(), BASE64.encode(v));
            }
            Ok(None) => {}
            Err(e) if unsupported(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Whether `e` says the filesystem has no extended attributes.
pub fn unsupported(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENOTSUP) || e.kind() == io::ErrorKind::Unsupported
}

/// The manifest of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Version of this format ([`FORMAT_VERSION`]).
    pub format_version: String,
    /// The image the snapshot is for.
    pub image: ImageIdentity,
    /// When the snapshot was taken, seconds since the epoch.
    pub created_at: u64,
    /// How.
    pub method: Method,
    /// The root the files were captured under (absolute).
    pub root: String,
    /// The btrfs snapshot (method `btrfs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub btrfs: Option<BtrfsSnapshot>,
    /// The captured files, in capture order (a directory before what it holds).
    pub files: Vec<Entry>,
    /// The image's paths not captured.
    pub skipped: Vec<Skipped>,
}

/// Just the version, read first.
#[derive(Deserialize)]
struct VersionOnly {
    format_version: String,
}

impl Manifest {
    /// An empty manifest of `image`, taken now by `method` under `root`.
    pub fn new(image: ImageIdentity, method: Method, root: &Path) -> Manifest {
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        Manifest {
            format_version: FORMAT_VERSION.into(),
            image,
            created_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            method,
            root: root.display().to_string(),
            btrfs: None,
            files: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// Writes it as JSON (pretty, a final newline).
    pub fn to_writer(&self, mut w: impl Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut w, self)?;
        w.write_all(b"\n")?;
        w.flush()
    }

    /// Reads a manifest: JSON of this shape and of this major version (an error with the
    /// line and column where the JSON is wrong).
    pub fn from_reader(mut r: impl Read) -> Result<Manifest> {
        let mut bytes = Vec::new();
        r.read_to_end(&mut bytes).map_err(|e| Error::Manifest {
            reason: crate::lookup::io_words(&e),
        })?;
        let json_err = |e: serde_json::Error| Error::Manifest {
            reason: if e.line() > 0 {
                format!(
                    "line {} column {}: {}",
                    e.line(),
                    e.column(),
                    json_words(&e)
                )
            } else {
                json_words(&e)
            },
        };
        let v: VersionOnly = serde_json::from_slice(&bytes).map_err(json_err)?;
        let major = |s: &str| s.split('.').next().map(str::to_string);
        if major(&v.format_version) != major(FORMAT_VERSION)
            || v.format_version.split('.').count() != 3
        {
            return Err(Error::Manifest {
                reason: format!(
                    "format_version {} is not one this build reads ({FORMAT_VERSION} and its minor versions)",
                    v.format_version
                ),
            });
        }
        serde_json::from_slice(&bytes).map_err(json_err)
    }

    /// Checks that `image` is the image of this manifest (same sha256).
    pub fn check_image(&self, image: &ImageIdentity) -> Result<()> {
        if self.image.sha256 != image.sha256 {
            return Err(Error::OtherImage {
                manifest: self.image.sha256.clone(),
                image: image.sha256.clone(),
            });
        }
        Ok(())
    }

    /// Compares the tree under `root` with the manifest: per file there or missing, its
    /// type, size, content (sha256), symbolic link target, mode and owner. The uses are
    /// empty ([`Manifest::verify_uses`] adds the image's).
    pub fn verify(&self, root: &Root) -> Verification {
        verify_files(&self.files, root)
    }

    /// [`Manifest::verify`], each file with the uses of the image's paths that lead to
    /// it under `root`.
    pub fn verify_uses(&self, root: &Root, list: &PathList) -> Verification {
        let mut v = self.verify(root);
        let mut at: BTreeMap<&str, usize> = BTreeMap::new();
        for (k, c) in v.paths.iter().enumerate() {
            at.insert(self.files[k].path.as_str(), k);
            debug_assert_eq!(c.path.path, self.files[k].path);
        }
        let mut uses = vec![Vec::new(); v.paths.len()];
        for p in &list.paths {
            if not_captured(p).is_some() {
                continue;
            }
            let s = root.lookup(&p.path);
            let leads = s.resolved.as_deref().unwrap_or(&p.path);
            if let Some(&k) = at.get(leads).or_else(|| at.get(p.path.as_str())) {
                uses[k].extend(p.uses.iter().cloned());
            }
        }
        for (c, u) in v.paths.iter_mut().zip(uses) {
            c.path.uses = u;
        }
        v
    }
}

/// Compares the tree under `root` with `files` (a manifest's): see
/// [`Manifest::verify`].
pub fn verify_files(files: &[Entry], root: &Root) -> Verification {
    Verification {
        root: root.dir().display().to_string(),
        paths: files.iter().map(|e| check_entry(e, root)).collect(),
    }
}

/// serde_json's message without its own " at line L column C".
fn json_words(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(k) => s[..k].to_string(),
        None => s,
    }
}

/// One entry against the tree.
fn check_entry(e: &Entry, root: &Root) -> Checked {
    let (state, outcome) = match root.locate(&e.path) {
        Err(s) => {
            let o = if s.presence == Presence::Missing {
                Outcome::Missing
            } else {
                Outcome::Unreadable
            };
            (s, o)
        }
        Ok((real, md)) => {
            let s = State::present(&md, None);
            let o = compare_entry(e, &real, &md);
            (s, o)
        }
    };
    Checked {
        path: ImagePath {
            path: e.path.clone(),
            recorded: Recorded {
                size: (e.kind == FileType::Regular).then_some(e.size),
                ..Recorded::default()
            },
            uses: Vec::new(),
            offset: 0,
            record_index: 0,
        },
        needed: e.needed,
        expects: Some(e.kind),
        state: Some(state),
        outcome,
    }
}

/// How the file at `real` (`md` its lstat) differs from `e`: the first difference.
fn compare_entry(e: &Entry, real: &Path, md: &fs::Metadata) -> Outcome {
    let found = FileType::of(md);
    if found != e.kind {
        return Outcome::DifferentType {
            expected: e.kind,
            found,
        };
    }
    if found == FileType::Regular && md.len() != e.size {
        return Outcome::DifferentSize {
            expected: Some(e.size),
            at_least: None,
            found: md.len(),
        };
    }
    if let (FileType::Regular, Some(want)) = (found, &e.sha256) {
        match open_nofollow(real).and_then(|mut f| sha256_of(&mut f)) {
            Ok((got, _)) if &got != want => {
                return Outcome::DifferentContent {
                    expected: want.clone(),
                    found: got,
                };
            }
            Ok(_) => {}
            Err(_) => return Outcome::Unreadable,
        }
    }
    if found == FileType::Symlink {
        let got = fs::read_link(real).map(|t| t.to_string_lossy().into_owned());
        match got {
            Ok(t) if Some(&t) != e.target.as_ref() => {
                return Outcome::DifferentTarget {
                    expected: e.target.clone().unwrap_or_default(),
                    found: t,
                };
            }
            Ok(_) => {}
            Err(_) => return Outcome::Unreadable,
        }
    } else if md.mode() & 0o7777 != e.mode {
        // A symbolic link's own mode means nothing on Linux.
        return Outcome::DifferentMode {
            expected: e.mode,
            found: md.mode() & 0o7777,
        };
    }
    if (md.uid(), md.gid()) != (e.uid, e.gid) {
        return Outcome::DifferentOwner {
            expected: Owner {
                uid: e.uid,
                gid: e.gid,
            },
            found: Owner {
                uid: md.uid(),
                gid: md.gid(),
            },
        };
    }
    Outcome::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> ImageIdentity {
        ImageIdentity {
            sha256: "ab".repeat(32),
            size: 10,
            revision: "v23-rc2".into(),
            arch: "x86_64".into(),
        }
    }

    #[test]
    fn a_manifest_reads_back_and_names_where_json_is_wrong() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("f"), b"abc").unwrap();
        let root = Root::open(d.path()).unwrap();
        let mut m = Manifest::new(identity(), Method::Tar, d.path());
        m.files.push(Entry::of(&root, "/f", true).unwrap());
        let mut out = Vec::new();
        m.to_writer(&mut out).unwrap();
        let back = Manifest::from_reader(&out[..]).unwrap();
        assert_eq!(back, m);
        assert_eq!(
            back.files[0].sha256.as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("btrfs"), "{text}");
        let e = Manifest::from_reader(&b"{\n  \"format_version\": \"1.0.0\",\n  x"[..])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("manifest: line 3 column 3: "), "{e}");
        let e = Manifest::from_reader(&br#"{"format_version": "2.0.0"}"#[..])
            .unwrap_err()
            .to_string();
        assert!(e.contains("format_version 2.0.0 is not one"), "{e}");
        let other = ImageIdentity {
            sha256: "cd".repeat(32),
            ..identity()
        };
        let e = m.check_image(&other).unwrap_err().to_string();
        assert!(
            e.contains(&"ab".repeat(32)) && e.contains(&"cd".repeat(32)),
            "{e}"
        );
    }

    #[test]
    fn verify_names_content_mode_owner_and_target_differences() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("f"), b"abc").unwrap();
        std::os::unix::fs::symlink("f", d.path().join("l")).unwrap();
        let root = Root::open(d.path()).unwrap();
        let mut m = Manifest::new(identity(), Method::Tar, d.path());
        m.files.push(Entry::of(&root, "/f", true).unwrap());
        m.files.push(Entry::of(&root, "/l", true).unwrap());
        assert_eq!(m.files[1].target.as_deref(), Some("f"));
        assert!(m.verify(&root).complete());
        fs::write(d.path().join("f"), b"abd").unwrap();
        let v = m.verify(&root);
        assert_eq!(v.paths[0].outcome.name(), "different content");
        m.files[0] = Entry::of(&root, "/f", true).unwrap();
        m.files[0].mode ^= 0o001;
        assert_eq!(m.verify(&root).paths[0].outcome.name(), "different mode");
        m.files[0] = Entry::of(&root, "/f", true).unwrap();
        m.files[0].uid += 1;
        assert_eq!(m.verify(&root).paths[0].outcome.name(), "different owner");
        m.files[1].target = Some("g".into());
        assert_eq!(m.verify(&root).paths[1].outcome.name(), "different target");
        m.files[1].needed = true;
        assert!(!m.verify(&root).complete());
        fs::remove_file(d.path().join("l")).unwrap();
        assert_eq!(m.verify(&root).paths[1].outcome, Outcome::Missing);
    }
}
