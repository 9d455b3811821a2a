//! `ckpt encode`: rebuilds an image from a `ckpt dump`, streaming, and reads it back
//! while it writes it.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Lines, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use ckpt_format::dump::DumpEncoder;
use ckpt_format::readback::ReadBack;

use crate::io::{Kept, Output, Spool};

const AFTER: &str =
    "Fields in a record's \"fields\" are applied over its \"raw\" bytes, so a dump can be
edited field by field; bytes that no field names (padding, tails) are kept from \"raw\",
and so are those of a field whose value is null. Integers may be numbers or decimal
strings (64-bit ones are strings in a dump, so that jq and JavaScript cannot round them).
A member or field the record does not have, a value that does not fit its field, and an
edit of what encode does not write (fields of a tail or payload, \"text\": edit \"raw\" or
\"body\") are errors naming the line, the record and the field.

A dump of an image that was in ckpt's container (schemas/container.md) has a \"container\"
member in its header (annotations, format version, flags). As every ckpt writer, encode
writes the plain image unless --keep-annotations, which writes the container again around
it (the image spooled in a temporary file beside the output, then wrapped), so that dump
--payloads then encode --keep-annotations gives back the container byte for byte.
Records' offsets in the dump are counted from the image's start.

The image is read back while it is written (a reader on a second thread, no second pass):
an image that does not read is not written (exit 1, naming the record and the reason),
unless --unchecked.

Examples:
  ckpt dump --payloads image.ckpt | ckpt encode - -o copy.ckpt && cmp image.ckpt copy.ckpt
  ckpt dump --payloads image.ckpt | jq -c 'if .name == \"TASK\" then .fields.exit_code = 1 else . end' | ckpt encode - -o edited.ckpt
  ckpt dump --payloads annotated.ckpt | ckpt encode --keep-annotations - -o copy.ckpt && cmp annotated.ckpt copy.ckpt
  ckpt dump --payloads annotated.ckpt | ckpt encode - -o plain.ckpt   # the plain image, as ckpt strip

Exit status: 0 success, 1 invalid dump or an image that does not read back (the error names
the line or record), 2 usage error, 3 I/O error";

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
    /// Write the image even when it does not read back as an image.
    #[arg(long)]
    unchecked: bool,
    /// For a dump of a container (its header's "container": annotations, ...): write the
    /// container again, around the image. Without it the plain image is written.
    #[arg(long)]
    keep_annotations: bool,
}

impl Opts {
    /// Runs the subcommand: the lines go to [`DumpEncoder`], errors name their line; the
    /// output goes through [`ReadBack`] unless `--unchecked`. A dump of an image that was
    /// in a container (its header's `container`) gives a container again with
    /// `--keep-annotations` (the image is spooled beside the output, then wrapped), the
    /// plain image otherwise.
    pub fn run(self) -> Result<u8> {
        crate::io::refuse_same_file(&self.dump, &self.output)?;
        let input: Box<dyn Read> = if self.dump == "-" {
            Box::new(std::io::stdin())
        } else {
            Box::new(File::open(&self.dump).with_context(|| format!("cannot open {}", self.dump))?)
        };
        let mut lines = BufReader::with_capacity(1 << 16, input).lines();
        let first = lines
            .next()
            .ok_or_else(|| anyhow!("{}: empty dump", self.dump))??;
        // The plain image: the container member is not read (nor checked).
        let first = if self.keep_annotations {
            first
        } else {
            match serde_json::from_str::<serde_json::Value>(&first) {
                Ok(serde_json::Value::Object(mut o)) if o.contains_key("container") => {
                    o.remove("container");
                    writeln!(
                        std::io::stderr().lock(),
                        "note: {}: the dump is of an image in ckpt's container; writing the plain image (--keep-annotations writes the container)",
                        self.dump
                    )?;
                    serde_json::Value::Object(o).to_string()
                }
                _ => first,
            }
        };
        let header = DumpEncoder::<Output>::header(&first)
            .with_context(|| format!("{}: line 1", self.dump))?;
        let mut out = Output::create_image(&self.output, self.force)?;
        match header.container {
            None => self.image(header.format, lines, &mut out)?,
            Some(c) => {
                let mut spool =
                    Spool::in_envelope(&self.output, Kept::Known(c.annotations), c.envelope)?;
                let mut w = BufWriter::with_capacity(1 << 16, spool.sink());
                self.image(header.format, lines, &mut w)?;
                w.flush().context("writing the spool file")?;
                drop(w);
                spool.finish(&mut out)?;
            }
        }
        out.commit()?;
        Ok(0)
    }

    /// Encodes the image of `format` from `lines` into `out`, read back unless
    /// `--unchecked`.
    fn image<R: BufRead>(
        &self,
        format: &'static ckpt_format::Format,
        lines: Lines<R>,
        out: &mut dyn Write,
    ) -> Result<()> {
        if self.unchecked {
            encode(DumpEncoder::new(format, out), lines, &self.dump)?;
            return Ok(());
        }
        let mut tee = ReadBack::new(out, format);
        let encoded = encode(DumpEncoder::new(format, &mut tee), lines, &self.dump);
        let not_read = |e: ckpt_format::readback::ReadBackError| {
            anyhow::Error::new(e).context(if self.output == Path::new("-") {
                "standard output: the image written is not valid (--unchecked does not check)"
                    .to_string()
            } else {
                format!(
                    "{}: not written (--unchecked writes it anyway)",
                    self.output.display()
                )
            })
        };
        if let Err(e) = encoded {
            // A write refused because the reader stopped: the reader's reason.
            if tee.stopped() {
                return Err(match tee.finish() {
                    Err(r) => not_read(r),
                    Ok(_) => e,
                });
            }
            return Err(e);
        }
        tee.finish().map_err(not_read)?;
        Ok(())
    }
}

/// Encodes every line after the header into `enc`; returns its output. Errors name the
/// dump (`-`: standard input) and the line.
fn encode<W: Write, R: BufRead>(mut enc: DumpEncoder<W>, lines: Lines<R>, dump: &str) -> Result<W> {
    let dump = if dump == "-" { "standard input" } else { dump };
    for (lineno, line) in (2..).zip(lines) {
        enc.line(&line?)
            .with_context(|| format!("{dump}: line {lineno}"))?;
    }
    enc.finish()
        .with_context(|| format!("{dump}: at the end of the dump"))
}
