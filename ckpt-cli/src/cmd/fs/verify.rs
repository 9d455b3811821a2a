//! `ckpt fs verify`: does a tree have what the image needs?

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use ckpt_fs::verify::{Verification, verify};

use super::{
    ImageArgs, VERIFY_FORMAT_VERSION, fs_error, image_identity, open_root, print_json, read_paths,
    users,
};

/// `--help` after the options.
pub const AFTER: &str =
    "Looks each path of the image up under DIR (symbolic links followed inside DIR
only) and compares it with what the image records: there or missing, of the type its
uses need (a directory for a cwd, a regular file for an executable, a fifo, ...), of the
size the image records, no shorter than the position of a descriptor open on it. A
bound unix socket's node is not needed (restart binds it again); deleted files and
relative paths are not checked. Without a manifest content, mode and owner cannot be
compared: the image records none of them.

With --manifest M (a manifest, or a snapshot of `ckpt fs snapshot --method tar` whose
last member it is), the manifest must be of this image (same sha256), and each of its
files is compared: there or missing, its type, size, content (sha256), symbolic link
target, mode and owner; a failing file is shown with the tasks and uses of the image's
paths that lead to it.

Examples:
  ckpt fs verify image.ckpt --root /srv/rootfs
  ckpt fs verify image.ckpt --root /srv/rootfs --json | jq '.paths[] | select(.outcome != \"ok\")'
  ckpt fs verify image.ckpt --root /srv/rootfs --manifest files.tar

Output (--json, see schemas/json/fs-verify.schema.json): format_version, revision, arch,
root, manifest, complete, counts, paths (each with its outcome, state, uses by task).

Exit status:
  0  everything the restart needs is there
  1  something is not (each one named, with the tasks and uses), or an invalid image
  2  usage error (a --root that does not exist or is not a directory, a manifest that
     cannot be read, a manifest of another image: both sha256 named)
  3  I/O error";

/// Compare a tree with what the image records of its paths.
#[derive(clap::Args)]
pub struct Opts {
    #[command(flatten)]
    image: ImageArgs,
    /// The tree to check: the root the restart will see.
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
    /// Compare with this manifest (a JSON file, or a tar snapshot whose last member it is).
    #[arg(long, value_name = "M")]
    manifest: Option<PathBuf>,
    /// Output JSON.
    #[arg(long)]
    json: bool,
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        let root = open_root(&self.root)?;
        let manifest = match &self.manifest {
            Some(m) => {
                let image = image_identity(&self.image, "fs verify --manifest")?;
                let manifest = ckpt_fs::restore::manifest_of(m)
                    .map_err(|e| super::super::usage(format!("--manifest {}: {e}", m.display())))?;
                manifest.check_image(&image).map_err(fs_error)?;
                Some(manifest)
            }
            None => None,
        };
        let listed = read_paths(&self.image)?;
        let v = match &manifest {
            Some(m) => m.verify_uses(&root, &listed.list),
            None => verify(&listed.list, &root),
        };
        if self.json {
            let counts = counts_json(&v);
            print_json(&serde_json::json!({
                "format_version": VERIFY_FORMAT_VERSION,
                "revision": listed.revision,
                "arch": listed.arch,
                "root": v.root,
                "manifest": self.manifest.as_ref().map(|m| m.display().to_string()),
                "complete": v.complete(),
                "counts": counts,
                "paths": v.paths,
            }))?;
        } else {
            let mut out = std::io::stdout().lock();
            print(&mut out, &v, manifest.is_some())?;
            out.flush()?;
        }
        Ok(if v.complete() { 0 } else { crate::EXIT_NO })
    }
}

/// Prints `v`: the counts, each path that is not as recorded with its uses, the answer.
pub fn print(out: &mut impl Write, v: &Verification, with_manifest: bool) -> Result<()> {
    let counts: Vec<String> = v
        .counts()
        .into_iter()
        .filter(|(_, k)| *k > 0)
        .map(|(n, k)| format!("{k} {n}"))
        .collect();
    writeln!(
        out,
        "{} paths under {}: {}",
        v.paths.len(),
        v.root,
        counts.join(", ")
    )?;
    for c in v.paths.iter().filter(|c| c.why().is_some()) {
        let note = if c.fails() { "" } else { " (not needed)" };
        writeln!(
            out,
            "\n{}: {}{note}",
            c.path.path,
            c.why().unwrap_or_default()
        )?;
        for u in users(&c.path.uses) {
            writeln!(out, "  used by {u}")?;
        }
    }
    let failing = v.failures().count();
    if failing == 0 {
        writeln!(out, "\neverything the restart needs is there")?;
    } else {
        writeln!(
            out,
            "\n{failing} path{} the restart needs {} not as the {} records",
            if failing == 1 { "" } else { "s" },
            if failing == 1 { "is" } else { "are" },
            if with_manifest { "manifest" } else { "image" }
        )?;
    }
    Ok(())
}

/// The counts of `v` by outcome, as the JSON outputs give them (`different-size`: 2).
pub fn counts_json(v: &Verification) -> serde_json::Value {
    let counts: serde_json::Map<String, serde_json::Value> = v
        .counts()
        .into_iter()
        .map(|(n, k)| (n.replace(' ', "-"), k.into()))
        .collect();
    counts.into()
}
