//! `ckpt encode`: rebuilds an image from a `ckpt dump`, streaming.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use ckpt_format::dump::DumpEncoder;

use crate::io::Output;

const AFTER: &str =
    "Fields in a record's \"fields\" are applied over its \"raw\" bytes, so a dump can be
edited field by field; bytes that no field names (padding, tails) are kept from \"raw\",
and so are those of a field whose value is null (a NaN or infinite float).

Examples:
  ckpt dump --payloads image.ckpt | ckpt encode - -o copy.ckpt && cmp image.ckpt copy.ckpt

Exit status: 0 success, 1 invalid dump (the error names the line), 2 usage error, 3 I/O error";

/// Rebuild an image from a dump made with `ckpt dump --payloads`.
#[derive(clap::Args)]
#[command(after_help = AFTER)]
pub struct Opts {
    /// The dump (JSON Lines), or - for standard input.
    dump: String,
    /// Output image, or - for standard output.
    #[arg(short, long)]
    output: PathBuf,
    /// Write the image to a terminal too (refused otherwise).
    #[arg(long)]
    force: bool,
}

impl Opts {
    /// Runs the subcommand: the lines go to [`DumpEncoder`], errors name their line.
    pub fn run(self) -> Result<u8> {
        crate::io::refuse_same_file(&self.dump, &self.output)?;
        let input: Box<dyn Read> = if self.dump == "-" {
            Box::new(std::io::stdin())
        } else {
            Box::new(File::open(&self.dump).with_context(|| format!("cannot open {}", self.dump))?)
        };
        let mut lines = BufReader::with_capacity(1 << 16, input).lines();
        let mut out = Output::create_image(&self.output, self.force)?;
        let first = lines
            .next()
            .ok_or_else(|| anyhow!("{}: empty dump", self.dump))??;
        let mut enc = DumpEncoder::from_header(&first, &mut out).context("line 1")?;
        for (lineno, line) in (2..).zip(lines) {
            enc.line(&line?).with_context(|| format!("line {lineno}"))?;
        }
        enc.finish()?;
        out.commit()?;
        Ok(0)
    }
}
