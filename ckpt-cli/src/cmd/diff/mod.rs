//! `ckpt diff`: field-level differences between two images, then between the additions
//! of ckpt's container around either ([`annotations`]).

mod annotations;

use std::io::{Seek, Write};

use anyhow::{Context, Result};
use ckpt_convert::imagediff::{Difference, compare};
use ckpt_convert::{Action, ConvertError, LedgerEntry, Options, TaskPaths, convert_with_report};
use ckpt_format::model::{ImageModel, read_model};
use ckpt_format::{Format, Reader};
use serde::Serialize;

use crate::io::{open_image, with_detection};
use annotations::AnnotationDifference;

/// Version of the `--json` output.
/// 1.2.0: `annotations`, `images_equal` and each side's `container`.
pub const FORMAT_VERSION: &str = "1.2.0";

const AFTER: &str = "Examples:
  ckpt diff before.ckpt after.ckpt
  ckpt diff v19.ckpt v23.ckpt --json | jq '.differences[].path'

Tasks are matched by their place in the tree, and the objects they use by what refers
to them (the task's file table and descriptor N, its address space and the VMA at an
address), not by tag numbers; page contents are compared by SHA-256 per VMA. Images of
different revisions are compared by converting the older one toward the newer one (in a
temporary file); what that conversion would default, need from the user or drop is
listed as a difference, and a conversion that would be refused is reported and the
images are compared member by member as they are.

When either file is ckpt's container (schemas/container.md), what it adds is compared
too, after the records, one line each (`annotation note site: site=lab=1 -> site=lab=2`;
for kernel configs, the CONFIG_ options that differ), and counts as a difference: the
files differ in what ckpt says about them. --images-only compares the plain images alone.

Exit status:
  0  the images are equal (and so are their annotations, unless --images-only)
  1  they differ
  2  usage error
  3  I/O error";

/// Compare two images field by field.
#[derive(clap::Args)]
#[command(after_help = AFTER)]
pub struct Opts {
    /// The first image (- for standard input).
    image1: String,
    /// The second image.
    image2: String,
    /// Revision of the first image instead of detecting it.
    #[arg(long, value_parser = crate::values::Revision, hide_possible_values = true)]
    rev1: Option<String>,
    /// Revision of the second image instead of detecting it.
    #[arg(long, value_parser = crate::values::Revision, hide_possible_values = true)]
    rev2: Option<String>,
    /// Output JSON (schemas/json/diff.schema.json).
    #[arg(long)]
    json: bool,
    /// Compare the plain images only, not the annotations of a container around them.
    #[arg(long)]
    images_only: bool,
}

#[derive(Serialize)]
struct Side {
    image: String,
    revision: String,
    arch: String,
    /// Whether the file is ckpt's container around the image.
    container: bool,
}

#[derive(Serialize)]
struct Conversion {
    from: String,
    to: String,
    /// Which image was converted (1 or 2).
    converted: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    refused: Option<String>,
    /// What the conversion defaulted, needs from the user, dropped, inserted or removed.
    entries: Vec<LedgerEntry>,
}

#[derive(Serialize)]
struct Report {
    format_version: &'static str,
    first: Side,
    second: Side,
    #[serde(skip_serializing_if = "Option::is_none")]
    conversion: Option<Conversion>,
    differences: Vec<Difference>,
    /// The containers' additions that differ; absent with --images-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<Vec<AnnotationDifference>>,
    /// Whether the plain images are equal.
    images_equal: bool,
    equal: bool,
}

fn model_of(path: &str, rev: Option<&str>) -> Result<(ImageModel, &'static Format, Side)> {
    let (r, det) = open_image(path, rev)?;
    let f = Format::shared(det.schema, det.arch);
    let m = read_model(r, true)
        .map_err(|e| with_detection(anyhow::Error::new(e), &det, path))
        .with_context(|| path.to_string())?;
    let side = Side {
        image: path.to_string(),
        revision: det.schema.id.clone(),
        arch: det.arch.name().to_string(),
        container: false,
    };
    Ok((m, f, side))
}

/// Converts the image at `path` (of format `from`) to `to`, in a temporary file, and
/// models the result. Returns the ledger entries that are differences, and the refusal.
fn converted(
    path: &str,
    rev: Option<&str>,
    to: &'static Format,
) -> Result<(Option<ImageModel>, Vec<LedgerEntry>, Option<String>)> {
    let (r, det) = open_image(path, rev)?;
    // The header keeps its kernel version: the comparison is of the images' own headers,
    // not of the converted revision's default kernel.
    let opts = Options {
        kernel: Some(ckpt_convert::KernelVersion::from_header(
            det.evidence.header.kernel,
        )),
        allow_lossy: true,
        cwd: TaskPaths::all("(unknown)"),
        root: TaskPaths::all("(unknown)"),
        best_effort: true,
        ..Options::default()
    };
    let mut tmp = tempfile::tempfile().context("cannot create a temporary file")?;
    let mut entries = Vec::new();
    let mut keep = |e: &LedgerEntry| -> std::io::Result<()> {
        if matches!(
            e.action,
            Action::Defaulted
                | Action::Supplied
                | Action::Dropped
                | Action::Inserted
                | Action::Removed
        ) {
            entries.push(e.clone());
        }
        Ok(())
    };
    let result = convert_with_report(
        r,
        to.schema,
        &opts,
        std::io::BufWriter::new(&mut tmp),
        &mut keep,
    );
    match result {
        Ok(_) => {}
        Err(ConvertError::Refused(why)) => return Ok((None, entries, Some(why))),
        Err(ConvertError::Format(e)) => {
            return Err(with_detection(anyhow::Error::new(e), &det, path))
                .with_context(|| path.to_string());
        }
        Err(e) => return Err(e.into()),
    }
    tmp.rewind()?;
    let m = read_model(Reader::new(tmp, Format::new(to.schema, to.arch)), true)
        .context("reading the converted image")?;
    Ok((Some(m), entries, None))
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        if self.image1 == "-" && self.image2 == "-" {
            return Err(super::usage(
                "only one image can come from standard input".into(),
            ));
        }
        let (m1, f1, s1) = model_of(&self.image1, self.rev1.as_deref())?;
        let (m2, f2, s2) = model_of(&self.image2, self.rev2.as_deref())?;
        let mut conversion = None;
        let mut differences = Vec::new();
        let (mut a, mut b) = (m1, m2);
        if f1.arch != f2.arch {
            differences.push(Difference {
                path: "arch".into(),
                first: Some(s1.arch.clone()),
                second: Some(s2.arch.clone()),
            });
            let width = |f: &Format| format!("{} bytes", f.arch.word_size());
            if f1.arch.word_size() != f2.arch.word_size() {
                differences.push(Difference {
                    path: "page addresses".into(),
                    first: Some(width(f1)),
                    second: Some(width(f2)),
                });
            }
        } else if f1.schema.id != f2.schema.id {
            // The older one toward the newer one (a pipe cannot be read twice: then the
            // file is the one converted).
            let first_older = f1.schema.ordinal < f2.schema.ordinal;
            let convert_first = if self.image1 == "-" {
                false
            } else if self.image2 == "-" {
                true
            } else {
                first_older
            };
            let (path, rev, to, from) = if convert_first {
                (&self.image1, self.rev1.as_deref(), f2, f1)
            } else {
                (&self.image2, self.rev2.as_deref(), f1, f2)
            };
            let (m, entries, refused) = converted(path, rev, to)?;
            if let Some(m) = m {
                if convert_first {
                    a = m;
                } else {
                    b = m;
                }
            }
            for e in &entries {
                let val = |v: &Option<ckpt_format::value::Value>| {
                    v.as_ref()
                        .map(|v| serde_json::to_string(v).unwrap_or_default())
                };
                let what = format!(
                    "conversion {} -> {}: record #{} {} {}: {}",
                    from.schema.id,
                    to.schema.id,
                    e.record_index,
                    e.record,
                    e.field,
                    serde_json::to_value(e.action)?.as_str().unwrap_or("")
                );
                let (x, y) = (val(&e.old), val(&e.new));
                let (first, second) = if convert_first { (x, y) } else { (y, x) };
                differences.push(Difference {
                    path: what,
                    first: first.or(Some("-".into())),
                    second: second.or(Some("-".into())),
                });
            }
            if let Some(r) = &refused {
                differences.push(Difference {
                    path: format!("conversion {} -> {}", from.schema.id, to.schema.id),
                    first: Some("refused".into()),
                    second: Some(r.clone()),
                });
            }
            conversion = Some(Conversion {
                from: from.schema.id.clone(),
                to: to.schema.id.clone(),
                converted: if convert_first { 1 } else { 2 },
                refused,
                entries,
            });
        }
        differences.extend(compare(&a, &b));
        let (mut s1, mut s2) = (s1, s2);
        // Standard input's container is read to its end by now (its sections follow the
        // image).
        let c1 = crate::io::container_of(&self.image1)?;
        let c2 = crate::io::container_of(&self.image2)?;
        (s1.container, s2.container) = (c1.is_some(), c2.is_some());
        let annotations =
            (!self.images_only).then(|| annotations::compare(c1.as_ref(), c2.as_ref()));
        let images_equal = differences.is_empty();
        let equal = images_equal && annotations.as_ref().is_none_or(Vec::is_empty);
        let report = Report {
            format_version: FORMAT_VERSION,
            first: s1,
            second: s2,
            conversion,
            differences,
            annotations,
            images_equal,
            equal,
        };
        let mut out = std::io::stdout().lock();
        if self.json {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        } else {
            print(&mut out, &report)?;
        }
        Ok(if equal { 0 } else { crate::EXIT_NO })
    }
}

fn print(out: &mut impl Write, r: &Report) -> Result<()> {
    writeln!(
        out,
        "--- {} ({}, {})",
        r.first.image, r.first.revision, r.first.arch
    )?;
    writeln!(
        out,
        "+++ {} ({}, {})",
        r.second.image, r.second.revision, r.second.arch
    )?;
    if let Some(c) = &r.conversion {
        writeln!(
            out,
            "compared after converting image {} from {} to {}{}",
            c.converted,
            c.from,
            c.to,
            if c.refused.is_some() {
                " (refused: compared as they are)"
            } else {
                ""
            }
        )?;
    }
    for d in &r.differences {
        writeln!(
            out,
            "{}: {} -> {}",
            d.path,
            d.first.as_deref().unwrap_or("(absent)"),
            d.second.as_deref().unwrap_or("(absent)")
        )?;
    }
    let annotations = r.annotations.as_deref().unwrap_or_default();
    for a in annotations {
        print_annotation(out, a)?;
    }
    match (r.differences.len() + annotations.len(), annotations.len()) {
        (0, _) => writeln!(out, "equal")?,
        (n, 0) => writeln!(out, "{n} difference{}", if n == 1 { "" } else { "s" })?,
        (n, k) => writeln!(
            out,
            "{n} difference{} ({k} in the annotations)",
            if n == 1 { "" } else { "s" }
        )?,
    }
    Ok(())
}

/// `annotation WHAT: FIRST -> SECOND`, or `first has X, second none` where one file has
/// none; then the kernel config options that differ.
fn print_annotation(out: &mut impl Write, a: &AnnotationDifference) -> Result<()> {
    let shown = |v: &str| {
        if a.what == "kernel config" {
            format!("one ({v})")
        } else {
            v.to_string()
        }
    };
    match (&a.first, &a.second) {
        (Some(x), Some(y)) => writeln!(out, "annotation {}: {x} -> {y}", a.what)?,
        (Some(x), None) => writeln!(
            out,
            "annotation {}: first has {}, second none",
            a.what,
            shown(x)
        )?,
        (None, Some(y)) => writeln!(
            out,
            "annotation {}: first none, second has {}",
            a.what,
            shown(y)
        )?,
        (None, None) => {}
    }
    let v = |x: &Option<String>| x.clone().unwrap_or_else(|| "(not mentioned)".into());
    for o in &a.options {
        writeln!(
            out,
            "annotation {} {}: {} -> {}",
            a.what,
            o.option,
            v(&o.first),
            v(&o.second)
        )?;
    }
    Ok(())
}
