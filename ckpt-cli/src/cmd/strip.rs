//! `ckpt strip`: the plain image out of ckpt's container, byte for byte.

use std::fs::File;
use std::path::PathBuf;

use anyhow::{Context, Result};
use ckpt_format::container;

use crate::io::{InFile, Output, refuse_same_file};

const AFTER: &str = "The container (schemas/container.md) holds a plain image and ckpt's additions
(annotations). No kernel restarts a container: strip it first. A plain image is refused:
there is nothing to strip.

Examples:
  ckpt strip app.annotated.ckpt -o app.ckpt
  ckpt strip app.annotated.ckpt -o - | restart

Exit status:
  0  stripped
  1  not a container, or a damaged one
  2  usage error
  3  I/O error";

/// Give back the plain image inside a ckpt container.
#[derive(clap::Args)]
#[command(after_help = AFTER)]
pub struct Opts {
    /// The container (a file).
    image: String,
    /// Output image, or - for standard output.
    #[arg(short, long)]
    output: PathBuf,
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        if self.image == "-" {
            return Err(super::usage(
                "strip reads a file (a container is read from its end too), not standard input"
                    .into(),
            ));
        }
        refuse_same_file(&self.image, &self.output)?;
        let named = || InFile::new(&self.image);
        let mut f = File::open(&self.image)
            .context("cannot open")
            .context(named())?;
        // Checked before the output exists, so a plain image leaves nothing behind.
        container::read_info(&mut f).context(named())?;
        let mut out = Output::create(&self.output)?;
        container::strip(&mut f, &mut out).context(named())?;
        out.commit()?;
        Ok(0)
    }
}
