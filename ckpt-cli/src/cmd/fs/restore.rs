//! `ckpt fs restore`: a tar snapshot extracted safely under a root, then verified.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use ckpt_fs::restore::{DEFAULT_MAX_BYTES, RestoreOptions, Restored, restore};

use super::{SNAPSHOT_FORMAT_VERSION, fs_error, open_root, print_json};

/// `--help` after the options.
pub const AFTER: &str =
    "Extracts a snapshot of `ckpt fs snapshot --method tar` (plain or zstd) under DIR,
checking every member before anything is written: no absolute names, no `..`, no
symbolic link whose relative target leaves DIR, nothing written under a symbolic link
(of the archive or already in DIR), no hard links, no devices unless --allow-devices,
sizes against --max-bytes and the manifest, the manifest as the last member (an
archive without one is refused). Files that exist are not replaced unless
--overwrite. Everything is written under temporary names and renamed into place only
when the whole archive is good (a replaced file is kept aside until then): a failure
removes every file and directory it created and leaves existing ones as they were.
Then the tree is verified against the manifest.

Examples:
  ckpt fs restore files.tar --root /srv/rootfs
  ckpt fs restore files.tar.zst --root /srv/rootfs --overwrite --json

Output (--json, see schemas/json/fs-restore.schema.json): format_version, archive,
root, written, replaced, bytes, complete, failures.

Exit status:
  0  restored, and the tree has everything the manifest needs
  1  the archive is refused (the reason names the member), or the tree does not verify
  2  usage error (a DIR that does not exist)
  3  I/O error";

/// Extract a tar snapshot under a root, safely, then verify it.
#[derive(clap::Args)]
pub struct Opts {
    /// The snapshot (a tar archive, plain or zstd).
    archive: PathBuf,
    /// Where to extract it.
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
    /// Replace files that exist under DIR.
    #[arg(long)]
    overwrite: bool,
    /// Create the character and block devices the archive has.
    #[arg(long)]
    allow_devices: bool,
    /// The most bytes of file content the archive may hold.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_BYTES)]
    max_bytes: u64,
    /// Output JSON.
    #[arg(long)]
    json: bool,
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        let root = open_root(&self.root)?;
        let opts = RestoreOptions {
            overwrite: self.overwrite,
            allow_devices: self.allow_devices,
            max_bytes: self.max_bytes,
        };
        let r = restore(&self.archive, &root, opts).map_err(fs_error)?;
        let complete = r.verification.complete();
        if self.json {
            let failures: Vec<_> = r.verification.failures().collect();
            print_json(&serde_json::json!({
                "format_version": SNAPSHOT_FORMAT_VERSION,
                "archive": self.archive.display().to_string(),
                "root": r.verification.root,
                "image": r.manifest.image,
                "written": r.written,
                "replaced": r.replaced,
                "bytes": r.bytes,
                "complete": complete,
                "failures": failures,
            }))?;
        } else {
            let mut out = std::io::stdout().lock();
            print(&mut out, &r, &self.archive)?;
            out.flush()?;
        }
        Ok(if complete { 0 } else { crate::EXIT_NO })
    }
}

fn print(out: &mut impl Write, r: &Restored, archive: &std::path::Path) -> Result<()> {
    writeln!(
        out,
        "{} written under {} from {} ({} bytes of content, {} replaced)",
        r.written,
        r.verification.root,
        archive.display(),
        r.bytes,
        r.replaced
    )?;
    let failing: Vec<_> = r.verification.failures().collect();
    for c in &failing {
        writeln!(out, "{}: {}", c.path.path, c.why().unwrap_or_default())?;
    }
    if failing.is_empty() {
        writeln!(
            out,
            "the tree has every file of the manifest, as it records them"
        )?;
    } else {
        writeln!(
            out,
            "{} files are not as the manifest records",
            failing.len()
        )?;
    }
    Ok(())
}
