//! `ckpt fs snapshot`: the files an image needs, captured with a manifest.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use ckpt_fs::snapshot::tar::{TarOptions, snapshot};
use ckpt_fs::snapshot::{MANIFEST_NAME, Request, Summary};

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
complete: a failure leaves no DEST. (The rsync and btrfs methods are not built yet.)

Examples:
  ckpt fs snapshot image.ckpt --root /srv/rootfs --method tar -o files.tar
  ckpt fs snapshot image.ckpt --root / --method tar --zstd --include /etc/app -o files.tar.zst

Output (--json, see schemas/json/fs-snapshot.schema.json): format_version, image, method,
root, dest, compressed, files, bytes, written, skipped.

Exit status:
  0  the snapshot is written
  1  a path the restart needs is not under DIR, or a file changed while it was read
     (each named), or an invalid image
  2  usage error (a DIR that does not exist, IMAGE as standard input)
  3  I/O error";

/// How to capture the files.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodArg {
    /// A tar archive with the manifest as its last member.
    Tar,
}

/// Capture the files an image needs with a manifest.
#[derive(clap::Args)]
pub struct Opts {
    #[command(flatten)]
    image: ImageArgs,
    /// The tree the files are taken from: the root the processes had.
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
    /// How to capture them (tar; rsync and btrfs are not built yet).
    #[arg(long, value_enum)]
    method: MethodArg,
    /// Where to write the snapshot.
    #[arg(short = 'o', long = "output", value_name = "DEST")]
    output: PathBuf,
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
        let root = open_root(&self.root)?;
        let image = image_identity(&self.image, "fs snapshot")?;
        let listed = read_paths(&self.image)?;
        let req = Request {
            image: &image,
            list: &listed.list,
            root: &root,
            includes: &self.include,
        };
        let summary = match self.method {
            MethodArg::Tar => snapshot(&req, &self.output, TarOptions { zstd: self.zstd }),
        }
        .map_err(fs_error)?;
        if self.json {
            print_json(&serde_json::json!({
                "format_version": SNAPSHOT_FORMAT_VERSION,
                "image": summary.manifest.image,
                "method": summary.manifest.method,
                "root": summary.manifest.root,
                "dest": summary.dest.display().to_string(),
                "compressed": self.zstd,
                "manifest_member": MANIFEST_NAME,
                "files": summary.files(),
                "bytes": summary.bytes,
                "written": summary.written,
                "skipped": summary.manifest.skipped,
            }))?;
        } else {
            let mut out = std::io::stdout().lock();
            print(&mut out, &summary, self.zstd)?;
            out.flush()?;
        }
        Ok(0)
    }
}

fn print(out: &mut impl Write, s: &Summary, zstd: bool) -> Result<()> {
    let needed = s.manifest.files.iter().filter(|e| e.needed).count();
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
    for k in &s.manifest.skipped {
        writeln!(out, "  skipped {}: {}", k.path, k.reason)?;
    }
    Ok(())
}
