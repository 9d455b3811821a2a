//! `ckpt fs receive`: a `btrfs send` stream made by `ckpt fs snapshot --method btrfs
//! --send` received with `btrfs receive`, and checked against its manifest.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use ckpt_fs::lookup::Root;
use ckpt_fs::snapshot::btrfs::receive;

use super::verify::{counts_json, print};
use super::{RECEIVE_FORMAT_VERSION, fs_error, print_json};

/// `--help` after the options.
pub const AFTER: &str =
    "Runs `btrfs receive -f STREAM DIR`: the snapshot the stream holds becomes a
read-only subvolume inside DIR (on btrfs; an incremental stream needs its parent received
there before). With --manifest (the DEST.manifest.json `ckpt fs snapshot --method btrfs`
wrote), the subvolume must be the snapshot the manifest names (its received UUID; else it
is deleted again), and the files under the root inside it are compared with the manifest,
as `ckpt fs verify --manifest` does.

Examples:
  ckpt fs snapshot image.ckpt --root /srv/ct --method btrfs -o /srv/.snap/ct-1 --send ct-1.stream
  ckpt fs receive ct-1.stream --into /mnt/target --manifest /srv/.snap/ct-1.manifest.json

Output (--json, see schemas/json/fs-receive.schema.json): format_version, subvolume
(path, uuid, received_uuid, generation), root, and with --manifest complete, counts.

Exit status:
  0  received (and, with --manifest, every file is as the manifest lists it)
  1  a file is not as the manifest lists it
  2  usage error (a --into that is not a directory, a manifest that cannot be read, is
     not of a btrfs snapshot, or names another snapshot than the stream's)
  3  btrfs failed or is not installed, DIR is not on btrfs, I/O error";

/// Receive a btrfs send stream of a snapshot.
#[derive(clap::Args)]
pub struct Opts {
    /// The stream (`ckpt fs snapshot --method btrfs --send FILE`).
    stream: PathBuf,
    /// The directory to receive into: on btrfs.
    #[arg(long, value_name = "DIR")]
    into: PathBuf,
    /// The snapshot's manifest: check the received files against it.
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// Output JSON.
    #[arg(long)]
    json: bool,
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        super::open_root(&self.into)?;
        let manifest = match &self.manifest {
            Some(m) => Some(
                ckpt_fs::restore::manifest_of(m)
                    .map_err(|e| super::super::usage(format!("--manifest {}: {e}", m.display())))?,
            ),
            None => None,
        };
        let got = receive(&self.stream, &self.into, manifest.as_ref()).map_err(fs_error)?;
        let verified = match &manifest {
            Some(m) => Some(m.verify(&Root::open(&got.root).map_err(fs_error)?)),
            None => None,
        };
        let s = &got.subvolume;
        if self.json {
            let mut doc = serde_json::json!({
                "format_version": RECEIVE_FORMAT_VERSION,
                "subvolume": {
                    "path": s.path.display().to_string(),
                    "uuid": s.uuid,
                    "received_uuid": s.received_uuid,
                    "generation": s.generation,
                },
                "root": got.root.display().to_string(),
            });
            if let Some(v) = &verified {
                doc["complete"] = v.complete().into();
                doc["counts"] = counts_json(v);
                doc["paths"] = serde_json::to_value(v.failures().collect::<Vec<_>>())?;
            }
            print_json(&doc)?;
        } else {
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "received {} (uuid {}, received from {})",
                s.path.display(),
                s.uuid,
                s.received_uuid.as_deref().unwrap_or("-")
            )?;
            if let Some(v) = &verified {
                print(&mut out, v, true)?;
            }
            out.flush()?;
        }
        Ok(match verified {
            Some(v) if !v.complete() => crate::EXIT_NO,
            _ => 0,
        })
    }
}
