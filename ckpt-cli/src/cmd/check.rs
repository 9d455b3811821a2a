//! `ckpt check`: would this image restart on that kernel?

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use ckpt_convert::KernelVersion;
use ckpt_convert::check::{KernelConfig, check};
use ckpt_format::Registry;

use crate::io::{open_image_as, with_detection};

const AFTER: &str = "Checks what a linux-cr restart checks: the header (magic, arch id, rev, kernel
version, every ckpt_const), every record (known type, exact length, structure, TAIL),
the kernel config options the records need, and the x86 FPU facts of HEADER_ARCH.
Without --target-kernel the target is the kernel the image names, with its revision.

Examples:
  ckpt check image.ckpt
  ckpt check image.ckpt --target-kernel 2.6.33 --target-config /boot/config-2.6.33 --target-cpu host
  ckpt check image.ckpt --to-rev v23-rc2 --target-kernel 2.6.37 --target-cpu fxsr=1,xsave=1,xstate-size=832 --json

Exit status:
  0  the image would restart on the target (checks not made are listed as not verified)
  1  it would not: every reason is listed
  2  usage error
  3  I/O error";

/// Check an image against a target kernel, its config and CPU.
#[derive(clap::Args)]
#[command(after_help = AFTER)]
pub struct Opts {
    /// The image, or - for standard input.
    image: String,
    /// Revision of the image instead of detecting it.
    #[arg(long, value_parser = crate::values::Revision, hide_possible_values = true)]
    rev: Option<String>,
    /// Target revision (default: from --target-kernel, else the image's).
    #[arg(long, value_parser = crate::values::Revision, hide_possible_values = true)]
    to_rev: Option<String>,
    /// Target kernel version x.y.z (default: the one the image names).
    #[arg(long)]
    target_kernel: Option<String>,
    /// The target kernel's .config.
    #[arg(long)]
    target_config: Option<PathBuf>,
    /// The target CPU: fxsr=0|1,xsave=0|1,xstate-size=N, or host.
    #[arg(long)]
    target_cpu: Option<String>,
    /// Output JSON.
    #[arg(long)]
    json: bool,
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        let kernel = super::target_kernel(self.target_kernel.as_deref())?;
        let named = match (&self.to_rev, &kernel) {
            (Some(r), _) => Some(
                Registry::get()
                    .find(r)
                    .map_err(|e| super::usage(format!("--to-rev: {e}")))?,
            ),
            (None, Some(k)) => Some(ckpt_convert::kernel::revision_for(k).map_err(super::usage)?),
            (None, None) => None,
        };
        // A target that reads the image identically is the image's own revision.
        let (reader, det) = open_image_as(&self.image, self.rev.as_deref(), named)?;
        let target = named.unwrap_or(det.schema);
        let config = match &self.target_config {
            Some(p) => Some(crate::kconfig::read(p, "--target-config")?.config),
            None => None,
        };
        let variant = config.as_ref().and_then(KernelConfig::constants_variant);
        let cpu = super::target_cpu(self.target_cpu.as_deref())?;
        // The kernel: given, or the one the image's header names.
        let kernel_triple = kernel.as_ref().and_then(KernelVersion::header_triple);
        let report = check(
            reader,
            Some(&det.evidence),
            target,
            kernel_triple,
            variant,
            config.as_ref(),
            cpu,
        )
        .map_err(|e| with_detection(anyhow::Error::new(e), &det, &self.image))?;
        let mut report = report;
        if let Some(c) = crate::io::container_of(&self.image)? {
            // No kernel reads past the container's prefix (schemas/container.md).
            report.problems.insert(
                0,
                ckpt_convert::check::Finding {
                    check: "container".into(),
                    image: format!(
                        "ckpt container {}.{}.{} around the image",
                        c.version.0, c.version.1, c.version.2
                    ),
                    target: "a plain image".into(),
                    consequence: "restart fails at the first record header; `ckpt strip` gives \
                                  the plain image back"
                        .into(),
                    records: Vec::new(),
                },
            );
        }
        let mut out = std::io::stdout().lock();
        if self.json {
            serde_json::to_writer_pretty(
                &mut out,
                &serde_json::json!({
                    "format_version": "1.1.0",
                    "ok": report.ok(),
                    "report": report,
                    "needs": report.needs.iter().map(|(option, records)| {
                        serde_json::json!({"option": option, "records": records})
                    }).collect::<Vec<_>>(),
                }),
            )?;
            writeln!(out)?;
        } else {
            writeln!(
                out,
                "image {} checked against {} on kernel {}: {}",
                report.revision,
                report.target_revision,
                report.target_kernel,
                match (&report.checkpoint_failed, report.ok()) {
                    (Some(m), _) => format!("would not restart: the checkpoint failed: {m}"),
                    (None, true) => "would restart".into(),
                    (None, false) => "would NOT restart".into(),
                }
            )?;
            for p in &report.problems {
                writeln!(
                    out,
                    "  FAIL {}: image {}, target {} -- {}",
                    p.check, p.image, p.target, p.consequence
                )?;
                let joined = p.records.join(", ");
                if joined.len() <= 80 {
                    if !joined.is_empty() {
                        writeln!(out, "       records: {joined}")?;
                    }
                } else {
                    for r in &p.records {
                        writeln!(out, "       - {r}")?;
                    }
                }
            }
            for p in &report.warnings {
                writeln!(
                    out,
                    "  warn {}: image {}, target {} -- {}",
                    p.check, p.image, p.target, p.consequence
                )?;
            }
            for (opt, recs) in &report.needs {
                writeln!(out, "  needs {opt} ({})", recs.join(", "))?;
            }
            for n in &report.not_verified {
                writeln!(out, "  not verified: {n}")?;
            }
        }
        Ok(if report.ok() { 0 } else { crate::EXIT_NO })
    }
}
