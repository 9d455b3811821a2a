//! `ckpt umount DIR`: unmounts what `ckpt mount` mounted, through fusermount3 (as
//! `fusermount3 -u DIR` does), or umount(8) where fusermount3 is missing.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Result, bail};

const AFTER: &str = "The server of the mount ends once it is unmounted.

Examples:
  ckpt umount /mnt/img

Exit status: 0 unmounted, 2 usage error, 3 not unmounted (not a mount, busy, no
fusermount3 or umount)";

/// Unmount an image mounted by `ckpt mount`.
#[derive(clap::Args)]
#[command(after_help = AFTER)]
pub struct Opts {
    /// The directory the image is mounted on.
    dir: PathBuf,
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        let tries: [(&str, &[&str]); 2] = [("fusermount3", &["-u"]), ("umount", &[])];
        let mut why = Vec::new();
        for (tool, args) in tries {
            match Command::new(tool).args(args).arg(&self.dir).output() {
                Ok(o) if o.status.success() => return Ok(0),
                Ok(o) => why.push(format!(
                    "{tool}: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                )),
                Err(e) => why.push(format!("{tool}: {e}")),
            }
        }
        let e = std::io::Error::other(why.join("; "));
        bail!(anyhow::Error::new(e).context(format!("cannot unmount {}", self.dir.display())))
    }
}
