//! `ckpt fs snapshot`: the files an image needs, captured with a manifest.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use ckpt_fs::rsync::{Destination, RsyncOptions};
use ckpt_fs::snapshot::btrfs::Send;
use ckpt_fs::snapshot::tar::TarOptions;
use ckpt_fs::snapshot::{MANIFEST_NAME, Request, Summary, btrfs, rsync, tar};

use super::{
    ImageArgs, SNAPSHOT_FORMAT_VERSION, fs_error, image_identity, open_root, print_json, read_paths,
};

/// `--help` after the options.
pub const AFTER: &str = "Captures every path the image needs, looked up under DIR (each directory
and symbolic link on the way too, so that a restore makes them first, with their
modes), and the --include trees (paths under DIR; links inside them kept as links,
mount points not crossed). Not captured, and listed with the reason: files deleted
while open, pipes and sockets, anything under /proc, /sys and /dev (the restart host's
own). A path the restart needs that is missing under DIR fails the snapshot, naming
the tasks that use it.

--method tar: one archive, streaming (memory independent of file sizes), each file
hashed as it is read; a file that changes while it is read fails the snapshot, naming
it. Extended attributes go in as PAX records (SCHILY.xattr.*). The manifest (JSON,
schemas/json/fs-manifest.schema.json: the image's sha256 and revision, per file type,
size, mode, owner, mtime, sha256, link target, xattrs) is the archive's last member,
.ckpt-manifest.json. DEST is written beside itself and renamed into place when
complete: a failure leaves no DEST.

--method rsync: runs `rsync -aHAX --from0 --files-from=LIST DIR/ DEST/` (--checksum on
request), DEST a directory or an rsync remote (HOST:PATH, rsync://...). The files are
hashed from DIR first and looked at again after rsync: one that changed meanwhile fails
the snapshot, naming it; a local DEST is then compared with the manifest. The manifest
goes beside DEST as DEST.manifest.json (--manifest FILE elsewhere; a remote DEST needs
--manifest, and gets a copy beside it). rsync's own exit status is reported, in words.

--method btrfs: a read-only snapshot (`btrfs subvolume snapshot -r`) of the whole
subvolume that holds DIR (a snapshot cannot take single files), at DEST, which must be on
the same filesystem. The manifest (beside DEST, DEST.manifest.json) names the snapshot by
UUID and generation and lists the files the image needs inside it, hashed from the
snapshot; a needed file that is not in it (a nested subvolume, another mount under DIR)
fails the snapshot, and the snapshot is deleted again. --send FILE also writes a
`btrfs send` stream of it, incremental with --parent SNAPSHOT (an earlier one);
`ckpt fs receive FILE --into DIR` takes it in on the other side. A DIR not on btrfs is
refused, naming what it is on.

Examples:
  ckpt fs snapshot image.ckpt --root /srv/rootfs --method tar -o files.tar
  ckpt fs snapshot image.ckpt --root / --method tar --zstd --include /etc/app -o files.tar.zst
  ckpt fs snapshot image.ckpt --root /srv/rootfs --method rsync -o backup:/srv/rootfs --manifest m.json
  ckpt fs snapshot image.ckpt --root /srv/ct/rootfs --method btrfs -o /srv/.snap/ct-2 \
      --send ct-2.stream --parent /srv/.snap/ct-1

Output (--json, see schemas/json/fs-snapshot.schema.json): format_version, image, method,
root, dest, manifest, compressed, files, bytes, written, skipped; rsync (the command, what
it transferred) or btrfs (the snapshot, its UUID and generation, the stream).

Exit status:
  0  the snapshot is written
  1  a path the restart needs is not under DIR, or a file changed while it was read
     (each named), or an invalid image
  2  usage error (a DIR that does not exist, IMAGE as standard input, an option of
     another method)
  3  I/O error; rsync or btrfs failed or is not installed; DIR not on btrfs";

/// How to capture the files.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodArg {
    /// A tar archive with the manifest as its last member.
    Tar,
    /// rsync to a directory or an rsync remote, the manifest beside it.
    Rsync,
    /// A read-only btrfs snapshot of the subvolume holding DIR, the manifest beside it.
    Btrfs,
}

/// Capture the files an image needs with a manifest.
#[derive(clap::Args)]
pub struct Opts {
    #[command(flatten)]
    image: ImageArgs,
    /// The tree the files are taken from: the root the processes had.
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
    /// How to capture them.
    #[arg(long, value_enum)]
    method: MethodArg,
    /// Where to write the snapshot: the archive (tar), a directory or rsync remote
    /// (rsync), the snapshot's path on DIR's filesystem (btrfs).
    #[arg(short = 'o', long = "output", value_name = "DEST")]
    output: PathBuf,
    /// Where to write the manifest (rsync, btrfs; default DEST.manifest.json).
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// Compare by content, not size and time (rsync --checksum).
    #[arg(long)]
    checksum: bool,
    /// Also write a btrfs send stream of the snapshot (btrfs).
    #[arg(long, value_name = "FILE")]
    send: Option<PathBuf>,
    /// Make the stream incremental against this earlier snapshot (btrfs, with --send).
    #[arg(long, value_name = "SNAPSHOT", requires = "send")]
    parent: Option<PathBuf>,
    /// Capture this tree under DIR as well (repeatable).
    #[arg(long = "include", value_name = "PATH")]
    include: Vec<String>,
    /// Compress the archive with zstd.
    #[arg(long)]
    zstd: bool,
    /// Output JSON.
    #[arg(long)]
    json: bool,
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        self.refuse_other_methods_options()?;
        let root = open_root(&self.root)?;
        let image = image_identity(&self.image, "fs snapshot")?;
        let listed = read_paths(&self.image)?;
        let req = Request {
            image: &image,
            list: &listed.list,
            root: &root,
            includes: &self.include,
        };
        let (summary, method, words) = match self.method {
            MethodArg::Tar => {
                let s = tar::snapshot(&req, &self.output, TarOptions { zstd: self.zstd })
                    .map_err(fs_error)?;
                (s, serde_json::Value::Null, Vec::new())
            }
            MethodArg::Rsync => {
                let dest = Destination::parse(&self.output.to_string_lossy());
                let opts = RsyncOptions {
                    checksum: self.checksum,
                };
                let done = rsync::snapshot(&req, &dest, self.manifest.as_deref(), &opts)
                    .map_err(fs_error)?;
                let r = &done.report;
                let mut words = vec![format!(
                    "rsync to {}: {} regular files transferred, {} bytes",
                    done.dest,
                    r.transferred.map_or("?".into(), |n| n.to_string()),
                    r.transferred_bytes.map_or("?".into(), |n| n.to_string()),
                )];
                if let Some(m) = &done.remote_manifest {
                    words.push(format!("a copy of the manifest at {m}"));
                }
                let json = serde_json::json!({
                    "dest": done.dest.to_string(),
                    "command": r.command,
                    "transferred": r.transferred,
                    "transferred_bytes": r.transferred_bytes,
                    "remote_manifest": done.remote_manifest,
                });
                (done.summary, json, words)
            }
            MethodArg::Btrfs => {
                let send = self.send.as_ref().map(|to| Send {
                    to: to.clone(),
                    parent: self.parent.clone(),
                });
                let done =
                    btrfs::snapshot(&req, &self.output, self.manifest.as_deref(), send.as_ref())
                        .map_err(fs_error)?;
                let snap = &done.snapshot;
                let mut words = vec![format!(
                    "read-only snapshot {} of the subvolume {} (uuid {}, generation {})",
                    snap.path.display(),
                    done.of.display(),
                    snap.uuid,
                    snap.generation
                )];
                if let Some((file, n)) = &done.sent {
                    words.push(format!(
                        "btrfs send stream {} ({n} bytes{})",
                        file.display(),
                        self.parent.as_ref().map_or(String::new(), |p| format!(
                            ", incremental from {}",
                            p.display()
                        ))
                    ));
                }
                let json = serde_json::json!({
                    "snapshot": snap.path.display().to_string(),
                    "uuid": snap.uuid,
                    "generation": snap.generation,
                    "parent_uuid": snap.parent_uuid,
                    "subvolume": done.of.display().to_string(),
                    "stream": done.sent.as_ref().map(|(f, n)| serde_json::json!({
                        "file": f.display().to_string(),
                        "bytes": n,
                        "parent": self.parent.as_ref().map(|p| p.display().to_string()),
                    })),
                });
                (done.summary, json, words)
            }
        };
        let tar = self.method == MethodArg::Tar;
        if self.json {
            let mut doc = serde_json::json!({
                "format_version": SNAPSHOT_FORMAT_VERSION,
                "image": summary.manifest.image,
                "method": summary.manifest.method,
                "root": summary.manifest.root,
                "dest": if tar { summary.dest.display().to_string() } else { self.output.display().to_string() },
                "manifest": if tar { serde_json::Value::Null } else { summary.dest.display().to_string().into() },
                "compressed": self.zstd,
                "manifest_member": if tar { Some(MANIFEST_NAME) } else { None },
                "files": summary.files(),
                "bytes": summary.bytes,
                "written": summary.written,
                "skipped": summary.manifest.skipped,
            });
            match self.method {
                MethodArg::Rsync => doc["rsync"] = method,
                MethodArg::Btrfs => doc["btrfs"] = method,
                MethodArg::Tar => {}
            }
            print_json(&doc)?;
        } else {
            let mut out = std::io::stdout().lock();
            print(&mut out, &summary, self.zstd, tar)?;
            for w in words {
                writeln!(out, "{w}")?;
            }
            out.flush()?;
        }
        Ok(0)
    }

    /// Options of one method given to another are usage errors, before anything is
    /// read.
    fn refuse_other_methods_options(&self) -> Result<()> {
        let m = self.method;
        let wrong = [
            ("--zstd", self.zstd, m == MethodArg::Tar, "tar"),
            ("--checksum", self.checksum, m == MethodArg::Rsync, "rsync"),
            (
                "--send",
                self.send.is_some(),
                m == MethodArg::Btrfs,
                "btrfs",
            ),
            (
                "--manifest",
                self.manifest.is_some(),
                m != MethodArg::Tar,
                "rsync and btrfs (a tar snapshot holds its manifest)",
            ),
        ];
        for (opt, given, fits, of) in wrong {
            if given && !fits {
                return Err(super::super::usage(format!(
                    "{opt} is an option of --method {of}"
                )));
            }
        }
        Ok(())
    }
}

fn print(out: &mut impl Write, s: &Summary, zstd: bool, tar: bool) -> Result<()> {
    let needed = s.manifest.files.iter().filter(|e| e.needed).count();
    if tar {
        writeln!(
            out,
            "{} files ({needed} the image needs, {} bytes of content) from {} into {} ({} bytes, tar{})",
            s.files(),
            s.bytes,
            s.manifest.root,
            s.dest.display(),
            s.written,
            if zstd { " + zstd" } else { "" }
        )?;
    } else {
        writeln!(
            out,
            "{} files ({needed} the image needs, {} bytes of content) from {}; manifest {}",
            s.files(),
            s.bytes,
            s.manifest.root,
            s.dest.display(),
        )?;
    }
    for k in &s.manifest.skipped {
        writeln!(out, "  skipped {}: {}", k.path, k.reason)?;
    }
    Ok(())
}
