//! `ckpt dump`: every record with every field, as JSON Lines that stream.

use std::path::PathBuf;

use anyhow::{Context, Result};
use ckpt_format::dump::DumpWriter;

use crate::io::{Output, open_image};

const AFTER: &str = "Output (JSON Lines, see schemas/json/dump.schema.json):
  line 1: {\"kind\":\"header\", \"format_version\", \"revision\", \"commit\", \"arch\", \"payloads\"}
  then one line per record: {\"kind\":\"record\", \"index\", \"offset\", \"type\", \"name\", \"len\",
    \"payload_of\", \"struct\", \"fields\", \"raw\" (struct records: the body as hex),
    \"text\", \"body\" (payloads up to 256 bytes, or all with --payloads),
    \"body_len\" and \"body_sha256\" (larger payloads without --payloads)}
  with --payloads, a large payload continues on {\"kind\":\"chunk\", \"hex\"} lines.
  Values follow the proto3 JSON mapping: 64-bit integers are decimal strings (\"18446744073709551615\"),
  so that jq and JavaScript, which read numbers as doubles, cannot round them; NaN and infinite
  floats are \"NaN\", \"Infinity\", \"-Infinity\".
  `ckpt encode` reads it back; dump --payloads then encode is byte-exact, also after jq.

Examples:
  ckpt dump image.ckpt | head
  ckpt dump --payloads image.ckpt -o image.jsonl && ckpt encode image.jsonl -o copy.ckpt

Exit status: 0 success, 1 invalid image, 2 usage error, 3 I/O error";

/// Dump every record of an image, with every field, as JSON Lines.
#[derive(clap::Args)]
#[command(after_help = AFTER)]
pub struct Opts {
    /// The image, or - for standard input.
    image: String,
    /// Revision of the image instead of detecting it.
    #[arg(long, value_parser = crate::values::Revision, hide_possible_values = true)]
    rev: Option<String>,
    /// Output file (default: standard output).
    #[arg(short, long, default_value = "-")]
    output: PathBuf,
    /// Include every payload in full (hex), so that `ckpt encode` can rebuild the image.
    #[arg(long)]
    payloads: bool,
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        crate::io::refuse_same_file(&self.image, &self.output)?;
        let (mut r, det) = open_image(&self.image, self.rev.as_deref())?;
        let out = Output::create(&self.output)?;
        let mut dump = DumpWriter::new(out, det.schema, det.arch, self.payloads)
            .context("writing the dump")?;
        while let Some(rec) = r
            .next_record()
            .map_err(|e| crate::io::with_detection(e.into(), &det, &self.image))?
        {
            dump.record(&mut r, &rec)
                .map_err(|e| crate::io::with_detection(e.into(), &det, &self.image))?;
        }
        dump.finish()
            .context("writing the dump")?
            .commit()
            .context("writing the dump")?;
        Ok(0)
    }
}
