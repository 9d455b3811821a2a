//! `ckpt check`: would this image restart on that kernel?

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use ckpt_convert::KernelVersion;
use ckpt_convert::check::{KernelConfig, check};

use crate::io::{open_image_as, with_detection};

const AFTER: &str = "Checks what a linux-cr restart checks: the header (magic, arch id, rev, kernel
version, every ckpt_const), every record (known type, exact length, structure, TAIL),
the kernel config options the records need, and the x86 FPU facts of HEADER_ARCH.
Without --target-kernel the target is the kernel the image names, with its revision.

Examples:
  ckpt check image.ckpt
  ckpt check image.ckpt --target-kernel 2.6.33 --target-config /boot/config-2.6.33 --target-cpu host
  ckpt check image.ckpt --to-rev v23-rc2 --target-kernel 2.6.37 --target-cpu fxsr=1,xsave=1,xstate-size=832 --json

A sealed image fails naming `ckpt unseal`; with --require-seal PUB the seal is verified
first (the whole image), then the plain image inside it is checked, read through the seal.

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
    /// Verify the image's seal under this public key first, then check the plain image
    /// inside it (exit 0 only when both hold).
    #[arg(long, value_name = "PUB")]
    require_seal: Option<PathBuf>,
    /// Output JSON.
    #[arg(long)]
    json: bool,
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        let kernel = super::target_kernel(self.target_kernel.as_deref())?;
        let named = super::target_revision(self.to_rev.as_deref(), kernel.as_ref())?;
        let container = match self.image.as_str() {
            "-" => None,
            p => crate::io::container_of(p)?,
        };
        let sealed = container.as_ref().is_some_and(|c| c.is_sealed());
        let key = match &self.require_seal {
            Some(p) => Some(crate::sealing::read_public(p, "--require-seal")?),
            None => None,
        };
        if key.is_some() && self.image == "-" {
            return Err(super::usage(
                "--require-seal reads a file (it is read twice: the seal verified, then the image checked)"
                    .into(),
            ));
        }
        let vk = key.as_ref().map(ckpt_seal::VerifyingKey::Ed25519);
        if sealed
            && let Ok(s) = ckpt_seal::read_seal(&mut std::fs::File::open(&self.image)?, None)
            && let Some(e) = &s.encryption
        {
            return Err(super::usage(format!(
                "{}: an encrypted sealed image (for the key {}): `ckpt unseal --identity KEY` \
                 it, then check the plain image",
                self.image,
                e.recipient()
            )));
        }
        if let Some(k) = &vk {
            let input = crate::sealing::open_sealed_input(&self.image)?;
            let opts = ckpt_seal::VerifyOptions::default();
            ckpt_seal::verify(input, k, opts.clone())
                .map_err(|e| crate::sealing::name_record(e, &self.image, k, &opts))
                .map_err(crate::sealing::seal_error)
                .context("--require-seal")
                .context(crate::io::InFile::new(&self.image))?;
        }
        // A target that reads the image identically is the image's own revision.
        let (reader, det) = if sealed {
            let (r, d, _) =
                crate::io::open_sealed(&self.image, self.rev.as_deref(), named, vk.as_ref())?;
            (r, d)
        } else {
            open_image_as(&self.image, self.rev.as_deref(), named)?
        };
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
        if sealed && vk.is_none() {
            // No kernel reads past the container's prefix, and the seal is not verified.
            report.problems.insert(
                0,
                ckpt_convert::check::Finding {
                    check: "seal".into(),
                    image: "a sealed image (ckpt container 1.1), its seal not verified".into(),
                    target: "a plain image".into(),
                    consequence: "restart fails at the first record header; `ckpt unseal \
                                  --pubkey PUB -o -` verifies the seal and gives the plain image \
                                  (`check --require-seal PUB` verifies it, then checks it)"
                        .into(),
                    records: Vec::new(),
                },
            );
        } else if let Some(c) = match container {
            // On standard input the container's tail is read once the image has been.
            None if self.image == "-" => crate::io::container_of("-")?,
            c => c,
        }
        .filter(|c| !c.is_sealed())
        {
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
