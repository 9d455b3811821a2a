//! `ckpt dump`: every record with every field, as JSON Lines that stream.

use std::path::PathBuf;

use anyhow::{Context, Result};
use ckpt_format::dump::DumpWriter;

use crate::io::{Output, open_image};

const AFTER: &str = "Output (JSON Lines, see schemas/json/dump.schema.json):
  line 1: {\"kind\":\"header\", \"format_version\", \"revision\", \"commit\", \"arch\", \"payloads\"},
    and for an image in ckpt's container (schemas/container.md) \"container\": its
    \"format_version\", \"byte_order\", \"flags\" and \"annotations\" (kernel config as gzip hex,
    linux-cr tag, ckpt version, annotated_at, notes as key/value, unknown entries as hex)
  then one line per record: {\"kind\":\"record\", \"index\", \"offset\", \"type\", \"name\", \"len\",
    \"payload_of\", \"struct\", \"fields\", \"raw\" (struct records: the body as hex),
    \"text\", \"body\" (payloads up to 256 bytes, or all with --payloads),
    \"body_len\" and \"body_sha256\" (larger payloads without --payloads)}
  with --payloads, a large payload continues on {\"kind\":\"chunk\", \"hex\"} lines.
  Values follow the proto3 JSON mapping: 64-bit integers are decimal strings (\"18446744073709551615\"),
  so that jq and JavaScript, which read numbers as doubles, cannot round them; NaN and infinite
  floats are \"NaN\", \"Infinity\", \"-Infinity\".
  Record offsets are counted from the image's start, also in a container.
  `ckpt encode` reads it back; dump --payloads then encode is byte-exact, also after jq (of
  a container: the plain image, or the container with encode --keep-annotations). A container
  on standard input is kept in a temporary file first (its annotations follow the image).

Examples:
  ckpt dump image.ckpt | head
  ckpt dump --pid 2 --type TASK,FILE image.ckpt   # only these records of pid 2's section
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
    /// Only the records of the section of the task with this pid (a view: `encode`
    /// cannot rebuild an image from it).
    #[arg(long, value_name = "PID")]
    pid: Option<i64>,
    /// Only records of these types (names as `ckpt info -v` shows them, comma-separated).
    #[arg(long = "type", value_name = "NAME[,NAME]", value_delimiter = ',')]
    types: Vec<String>,
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        crate::io::refuse_same_file(&self.image, &self.output)?;
        // The header line describes the container, whose annotations follow the image:
        // a container on standard input is kept in a temporary file first.
        let spooled = if self.image == "-" {
            crate::io::spool_stdin_container()?
        } else {
            None
        };
        let (mut r, det, container) = match &spooled {
            Some((f, _, info)) => {
                let path = f.path().to_string_lossy().into_owned();
                let (r, det) = open_image(&path, self.rev.as_deref())?;
                (r, det, Some(info.clone()))
            }
            None => {
                let (r, det) = open_image(&self.image, self.rev.as_deref())?;
                (r, det, crate::io::container_of(&self.image)?)
            }
        };
        for t in &self.types {
            if r.format().record_type(t).is_none() && t != ckpt_format::read::RAW_PAGE {
                return Err(crate::io::UsageError(format!(
                    "--type {t}: revision {} has no record type {t}",
                    det.schema.id
                ))
                .into());
            }
        }
        let mut tree = ckpt_format::summary::TreeTracker::new();
        let out = Output::create(&self.output)?;
        let mut dump =
            DumpWriter::in_container(out, det.schema, det.arch, self.payloads, container.as_ref())
                .context("writing the dump")?;
        while let Some(rec) = r
            .next_record()
            .map_err(|e| crate::io::with_detection(e.into(), &det, &self.image))?
        {
            tree.add(&mut r, &rec)
                .map_err(|e| crate::io::with_detection(e.into(), &det, &self.image))?;
            if let Some(p) = self.pid
                && rec.name == "TASK"
                && !tree.tasks().iter().any(|t| t.ids.pid == p)
            {
                let pids: Vec<String> =
                    tree.tasks().iter().map(|t| t.ids.pid.to_string()).collect();
                anyhow::bail!(
                    "{}: no task with pid {p} in the image (its pids: {})",
                    self.image,
                    pids.join(", ")
                );
            }
            if self.pid.is_some_and(|p| !tree.belongs_to(&rec, p))
                || !(self.types.is_empty() || self.types.iter().any(|t| t == rec.name))
            {
                continue;
            }
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
