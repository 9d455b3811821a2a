//! The tar method: one archive, streaming, each file hashed as it is archived, the
//! manifest its last member ([`super::MANIFEST_NAME`]).
//!
//! Members are named relative (`usr/bin/x` for `/usr/bin/x`), in capture order (a
//! directory before what it holds), with their mode, owner and mtime; long names as GNU
//! long-name records; extended attributes as PAX records `SCHILY.xattr.NAME` (as GNU
//! tar writes them) and a modification time with nanoseconds as a PAX `mtime`. A file
//! whose size or modification time changes while it is read, or that ends before or
//! goes on after its size, fails the snapshot, naming it. Hard links are archived as
//! separate files.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use tar::{Builder, EntryType, Header};

use super::{MANIFEST_NAME, Request, Summary, write_beside};
use crate::lookup::FileType;
use crate::manifest::{Capture, Entry, HashingReader, Manifest, Method, open_nofollow};
use crate::{Error, Result};

/// The zstd level of `--zstd` (zstd's own default).
pub const ZSTD_LEVEL: i32 = 3;

/// How to write the archive.
#[derive(Debug, Clone, Copy, Default)]
pub struct TarOptions {
    /// Compress it with zstd.
    pub zstd: bool,
}

/// Snapshots `req` into the archive `dest` (written beside it and renamed into place
/// when complete: a failure leaves no `dest`).
pub fn snapshot(req: &Request, dest: &Path, opts: TarOptions) -> Result<Summary> {
    let capture = req.capture()?;
    let ((manifest, bytes), written) = write_beside(dest, |out| {
        if opts.zstd {
            let mut z = zstd::Encoder::new(out, ZSTD_LEVEL).map_err(|e| Error::io(dest, &e))?;
            let got = write_archive(&mut z, req, &capture, dest)?;
            z.finish().map_err(|e| Error::io(dest, &e))?;
            Ok(got)
        } else {
            write_archive(out, req, &capture, dest)
        }
    })?;
    Ok(Summary {
        manifest,
        bytes,
        written,
        dest: dest.to_path_buf(),
    })
}

/// Writes the archive of `capture` to `out` (named `dest` in errors): its manifest and
/// the bytes of file content archived.
pub fn write_archive(
    out: &mut dyn Write,
    req: &Request,
    capture: &Capture,
    dest: &Path,
) -> Result<(Manifest, u64)> {
    let mut b = Builder::new(out);
    let to_dest = |e: io::Error| Error::io(dest, &e);
    let mut manifest = Manifest::new(req.image.clone(), Method::Tar, req.root.dir());
    let mut bytes = 0u64;
    for path in &capture.paths {
        let (real, md) = req.root.locate(path).map_err(|s| Error::Changed {
            path: path.clone(),
            what: format!(
                "it was there when listed, now {}",
                s.reason.unwrap_or_else(|| "it is not".into())
            ),
        })?;
        let mut e = Entry::of(req.root, path, false)?;
        e.needed = capture.needed.contains(path);
        let name = path.trim_start_matches('/');
        let pax = pax_records(&e);
        b.append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
            .map_err(to_dest)?;
        let mut h = Header::new_gnu();
        h.set_mode(e.mode);
        h.set_uid(e.uid.into());
        h.set_gid(e.gid.into());
        h.set_mtime(e.mtime.max(0) as u64);
        h.set_size(0);
        match e.kind {
            FileType::Regular => {
                let (sha, n) = append_file(&mut b, &mut h, name, &real, &e, dest)?;
                e.sha256 = Some(sha);
                bytes += n;
            }
            FileType::Directory => {
                h.set_entry_type(EntryType::Directory);
                b.append_data(&mut h, format!("{name}/"), io::empty())
                    .map_err(to_dest)?;
            }
            FileType::Symlink => {
                h.set_entry_type(EntryType::Symlink);
                let target = e.target.clone().unwrap_or_default();
                b.append_link(&mut h, name, target).map_err(to_dest)?;
            }
            FileType::Fifo | FileType::CharDevice | FileType::BlockDevice => {
                h.set_entry_type(match e.kind {
                    FileType::Fifo => EntryType::Fifo,
                    FileType::CharDevice => EntryType::Char,
                    _ => EntryType::Block,
                });
                if e.kind != FileType::Fifo {
                    let rdev = md.rdev();
                    h.set_device_major(libc::major(rdev)).map_err(to_dest)?;
                    h.set_device_minor(libc::minor(rdev)).map_err(to_dest)?;
                }
                b.append_data(&mut h, name, io::empty()).map_err(to_dest)?;
            }
            FileType::Socket => {
                manifest.skipped.push(crate::manifest::Skipped {
                    path: path.clone(),
                    reason: "a unix socket".into(),
                });
                continue;
            }
        }
        manifest.files.push(e);
    }
    manifest.skipped.extend(capture.skipped.iter().cloned());
    let mut json = Vec::new();
    manifest.to_writer(&mut json).map_err(to_dest)?;
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::Regular);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(manifest.created_at);
    h.set_size(json.len() as u64);
    b.append_data(&mut h, MANIFEST_NAME, &json[..])
        .map_err(to_dest)?;
    b.finish().map_err(to_dest)?;
    Ok((manifest, bytes))
}

/// The PAX records of an entry: its extended attributes, its mtime when it has
/// nanoseconds.
fn pax_records(e: &Entry) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    if e.mtime_nsec != 0 {
        out.push((
            "mtime".to_string(),
            format!("{}.{:09}", e.mtime, e.mtime_nsec).into_bytes(),
        ));
    }
    for (k, v) in &e.xattrs {
        if let Ok(bytes) = BASE64.decode(v) {
            out.push((format!("{}{k}", super::PAX_XATTR), bytes));
        }
    }
    out
}

/// Archives the regular file at `real` as `name`, hashing it as it is read: its sha256
/// and size, or [`Error::Changed`] when it is not the file `e` listed while it is read.
fn append_file<W: Write>(
    b: &mut Builder<W>,
    h: &mut Header,
    name: &str,
    real: &Path,
    e: &Entry,
    dest: &Path,
) -> Result<(String, u64)> {
    let changed = |what: String| Error::Changed {
        path: e.path.clone(),
        what,
    };
    let f = open_nofollow(real).map_err(|x| Error::io(real, &x))?;
    let same = |f: &File| -> Result<bool> {
        let md = f.metadata().map_err(|x| Error::io(real, &x))?;
        Ok(md.is_file()
            && md.len() == e.size
            && md.mtime() == e.mtime
            && md.mtime_nsec() as u32 == e.mtime_nsec)
    };
    if !same(&f)? {
        return Err(changed(
            "its size or modification time changed between listing and reading".into(),
        ));
    }
    h.set_entry_type(EntryType::Regular);
    h.set_size(e.size);
    let mut rd = Exact {
        inner: HashingReader::new(&f),
        left: e.size,
        short: false,
    };
    let res = b.append_data(h, name, &mut rd);
    if rd.short {
        return Err(changed(format!(
            "it was {} bytes when listed and ended after {}",
            e.size,
            rd.inner.bytes_read()
        )));
    }
    res.map_err(|x| Error::io(dest, &x))?;
    let mut one = [0u8; 1];
    if (&f).read(&mut one).map_err(|x| Error::io(real, &x))? > 0 {
        return Err(changed(format!(
            "it was {} bytes when listed and went on after them",
            e.size
        )));
    }
    if !same(&f)? {
        return Err(changed(
            "its size or modification time changed while it was read".into(),
        ));
    }
    Ok(rd.inner.finish())
}

/// Gives exactly `left` bytes of `inner`; an end before them is an error (and `short`).
struct Exact<R> {
    inner: R,
    left: u64,
    short: bool,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            self.short = true;
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file ended before its size",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup::Root;

    #[test]
    fn a_file_not_as_listed_fails_naming_it() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("f"), b"abcdef").unwrap();
        let root = Root::open(d.path()).unwrap();
        let listed = Entry::of(&root, "/f", false).unwrap();
        let mut b = Builder::new(Vec::new());
        let real = d.path().join("f");
        let dest = d.path().join("x.tar");
        let (sha, n) =
            append_file(&mut b, &mut Header::new_gnu(), "f", &real, &listed, &dest).unwrap();
        assert_eq!((sha.len(), n), (64, 6));
        for (size, mtime) in [(5, listed.mtime), (6, listed.mtime - 1)] {
            let e = Entry {
                size,
                mtime,
                ..listed.clone()
            };
            let err = append_file(&mut b, &mut Header::new_gnu(), "f", &real, &e, &dest)
                .unwrap_err()
                .to_string();
            assert_eq!(
                err,
                "/f changed while it was read: its size or modification time changed between listing and reading"
            );
        }
        // A file that ends before the size it had when listed.
        let mut short = Exact {
            inner: HashingReader::new(&b"abc"[..]),
            left: 6,
            short: false,
        };
        assert!(io::copy(&mut short, &mut io::sink()).is_err() && short.short);
    }
}
