//! `ckpt report`: one self-contained HTML page of an image (ckpt-view's report): the
//! summary, the graph, every task, statistics, and what `check` and `convert` say for
//! a target.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use ckpt_view::report::{CheckSection, CheckTarget, check_section, convert_section, read_report};

use crate::io::{Output, open_image, open_image_as, with_detection};

const AFTER: &str = "Examples:
  ckpt report image.ckpt -o report.html
  ckpt report image.ckpt -o report.html --target-kernel 2.6.37 --target-config /boot/config-2.6.37
  ckpt report image.ckpt -o report.html --to-rev v23-rc1 --json-data report.json

The page holds its CSS, script, graph (SVG) and data (one JSON document, the one
--json-data writes: schemas/json/report.schema.json) inline: it opens offline in any
current browser and fetches nothing. Sections: summary (revision and why, arch, kernel,
time, uts, sizes), the graph (drag to pan, wheel to zoom, click a task), the task chosen
(pids at every level, credentials, open files, memory map to scale, signals, registers
on request), statistics as charts, what `ckpt check` says for the target (without one:
the kernel the image names) and what `ckpt convert` would do (steps, defaulted,
supplied, dropped, refused; a dry run, nothing written).

The image is read once for the report, and once more each for check and convert (on
standard input, read once, these two are left out). An image cut short gives the report
of what was read, marked INCOMPLETE on its first line and in a banner, and exits 1; an
image whose header does not read gives the error and no report.

Exit status:
  0  the report was written
  1  the image could not be read to its end (the report of what was read was written)
  2  usage error
  3  I/O error";

/// Write a self-contained HTML report of an image: summary, graph, tasks, statistics,
/// check and convert for a target.
#[derive(clap::Args)]
#[command(after_help = AFTER)]
pub struct Opts {
    /// The image, or - for standard input.
    image: String,
    /// Revision of the image (id, user-cr commit or alias) instead of detecting it.
    #[arg(long, value_parser = crate::values::Revision, hide_possible_values = true)]
    rev: Option<String>,
    /// The HTML file to write (written whole, then renamed into place), or -.
    #[arg(short, long)]
    output: PathBuf,
    /// Target kernel version x.y.z for check and convert.
    #[arg(long, conflicts_with = "to_rev")]
    target_kernel: Option<String>,
    /// Target revision for check and convert (default: from --target-kernel).
    #[arg(long, value_parser = crate::values::Revision, hide_possible_values = true)]
    to_rev: Option<String>,
    /// The target kernel's .config, for check and convert.
    #[arg(long, value_name = "FILE")]
    target_config: Option<PathBuf>,
    /// Also write the page's data, one JSON document, to FILE.
    #[arg(long, value_name = "FILE")]
    json_data: Option<PathBuf>,
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        crate::io::refuse_same_file(&self.image, &self.output)?;
        if let Some(j) = &self.json_data {
            crate::io::refuse_same_file(&self.image, j)?;
            if j == &self.output {
                return Err(super::usage(
                    "--json-data and -o name the same file".to_string(),
                ));
            }
        }
        let kernel = super::target_kernel(self.target_kernel.as_deref())?;
        let named = super::target_revision(self.to_rev.as_deref(), kernel.as_ref())?;
        let check_config = match &self.target_config {
            Some(p) => Some(crate::kconfig::read(p, "--target-config")?.config),
            None => None,
        };
        let convert_config = match &self.target_config {
            Some(p) => Some(crate::kconfig::given(p, "--target-config")?),
            None => None,
        };
        let (mut r, det) = open_image(&self.image, self.rev.as_deref())?;
        let (mut report, failure) = read_report(&mut r, &det, &self.image)
            .map_err(|e| with_detection(e.into(), &det, &self.image))?;
        drop(r);
        if self.image == "-" {
            report.check = Some(CheckSection {
                ok: false,
                report: None,
                error: Some(
                    "standard input is read once: check and convert need the image as a file"
                        .to_string(),
                ),
            });
        } else {
            let (reader, cdet) = open_image_as(&self.image, self.rev.as_deref(), named)?;
            let target = CheckTarget {
                kernel: kernel
                    .as_ref()
                    .and_then(ckpt_convert::KernelVersion::header_triple),
                config: check_config.as_ref(),
                cpu: None,
            };
            report.check = Some(check_section(
                reader,
                &cdet,
                named.unwrap_or(cdet.schema),
                &target,
            ));
            if let Some(to) = named {
                let (reader, _) = open_image_as(&self.image, self.rev.as_deref(), Some(to))?;
                let opts = ckpt_convert::Options {
                    kernel: kernel.clone(),
                    target_config: convert_config,
                    ..ckpt_convert::Options::default()
                };
                report.convert = Some(convert_section(reader, to, &opts));
            }
        }
        let mut svg = Vec::new();
        ckpt_view::svg::write(&report.drawn, &mut svg)?;
        let svg = String::from_utf8_lossy(&svg);
        let mut json_out = match &self.json_data {
            Some(p) => {
                let mut o = Output::create(p)?;
                o.write_all(ckpt_view::report::html::json(&report).as_bytes())?;
                o.write_all(b"\n")?;
                Some(o)
            }
            None => None,
        };
        let mut out = Output::create(&self.output)?;
        ckpt_view::report::html::write(&report, &svg, &mut out)
            .with_context(|| format!("writing the report of {}", self.image))?;
        out.flush()?;
        if let Some(o) = json_out.as_mut() {
            o.flush()?;
        }
        out.commit()?;
        if let Some(o) = json_out {
            o.commit()?;
        }
        match failure {
            None => Ok(0),
            Some(e) => Err(with_detection(e.into(), &det, &self.image)),
        }
    }
}
