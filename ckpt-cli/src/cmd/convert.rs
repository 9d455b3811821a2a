//! `ckpt convert`: an image of one revision and kernel into another.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use ckpt_convert::{Action, ConvertError, Options, convert};
use ckpt_format::Registry;

use crate::io::{Output, open_image, refuse_same_file, with_detection};

const AFTER: &str = "Examples:
  ckpt convert old.ckpt --to-rev v23-rc2 -o new.ckpt
  ckpt convert old.ckpt --target-kernel 2.6.37 -o new.ckpt --report ledger.json
  ckpt convert v19rc2.ckpt --to-rev v19 --cwd /srv/app --root / -o out.ckpt
  cat img.ckpt | ckpt convert - --to-rev 67cfee9 -o - | ckpt info -

The output appears only when the conversion succeeded (a file is written beside OUT and
renamed); to standard output, a failure stops before the TAIL record, so the partial
stream is invalid. A summary of what changed goes to standard error; --report writes
every change (renumbered, defaulted, supplied, dropped, rewritten) as JSON.

Exit status:
  0  converted
  1  refused (the reason names the records and the option that would supply what is
     missing), or data would be lost without --allow-lossy
  2  usage error
  3  I/O error";

/// Convert an image to another format revision and kernel.
#[derive(clap::Args)]
#[command(after_help = AFTER)]
pub struct Opts {
    /// The image, or - for standard input.
    image: String,
    /// Output image, or - for standard output.
    #[arg(short, long)]
    output: PathBuf,
    /// Revision of the input instead of detecting it.
    #[arg(long)]
    rev: Option<String>,
    /// Target revision (its layouts).
    #[arg(long)]
    to_rev: Option<String>,
    /// Target kernel version (x.y.z), written into the header with its constants.
    #[arg(long)]
    target_kernel: Option<String>,
    /// The target kernel's .config (x86_64's AT_VECTOR_SIZE depends on
    /// CONFIG_IA32_EMULATION; without it the common default, y, is used).
    #[arg(long)]
    target_config: Option<PathBuf>,
    /// The target CPU: fxsr=0|1,xsave=0|1,xstate-size=N, or host. HEADER_ARCH and CPU_FPU
    /// are copied unchanged, so a different xstate size is refused.
    #[arg(long)]
    target_cpu: Option<String>,
    /// Working directory for the FS objects a newer revision needs and an older image lacks.
    #[arg(long)]
    cwd: Option<String>,
    /// Root directory for those FS objects.
    #[arg(long)]
    root: Option<String>,
    /// Convert even when non-default data would be dropped.
    #[arg(long)]
    allow_lossy: bool,
    /// Write every change as JSON to this file.
    #[arg(long)]
    report: Option<PathBuf>,
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        refuse_same_file(&self.image, &self.output)?;
        let kernel = super::target_kernel(self.target_kernel.as_deref())?;
        let to = match (&self.to_rev, &kernel) {
            (Some(r), _) => Registry::get()
                .find(r)
                .map_err(|e| super::usage(e.to_string()))?,
            (None, Some(k)) => ckpt_convert::kernel::revision_for(k).map_err(super::usage)?,
            (None, None) => {
                return Err(super::usage(
                    "give --to-rev REV or --target-kernel VERSION".into(),
                ));
            }
        };
        let config = match &self.target_config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read {}", p.display()))?;
                let cfg = ckpt_convert::check::KernelConfig::parse(&text);
                cfg.value("CONFIG_IA32_EMULATION").map(|v| {
                    (
                        "CONFIG_IA32_EMULATION".to_string(),
                        if v == "y" { "y" } else { "n" }.to_string(),
                    )
                })
            }
            None => None,
        };
        let cpu = super::target_cpu(self.target_cpu.as_deref())?;
        let (reader, det) = open_image(&self.image, self.rev.as_deref())?;
        let opts = Options {
            allow_lossy: self.allow_lossy,
            kernel,
            config,
            cwd: self.cwd.clone(),
            root: self.root.clone(),
            cpu_xstate_size: cpu.map(|c| c.xstate_size),
        };
        let mut out = Output::create(&self.output)?;
        let summary = match convert(reader, to, &opts, &mut out) {
            Ok(s) => s,
            Err(ConvertError::Format(e)) => {
                return Err(with_detection(anyhow::Error::new(e), &det));
            }
            Err(e) => return Err(e.into()),
        };
        out.commit()?;
        let l = &summary.ledger;
        let mut err = std::io::stderr().lock();
        if !det.also.is_empty() {
            let also: Vec<&str> = det.also.iter().map(|s| s.id.as_str()).collect();
            writeln!(
                err,
                "source read as {} (identical for this image to {}; --rev names another)",
                det.schema.id,
                also.join(", ")
            )?;
        }
        writeln!(
            err,
            "converted {} -> {} on {} (kernel {}; steps: {})",
            summary.from,
            summary.to,
            det.arch,
            summary.kernel,
            summary.path.join(" -> ")
        )?;
        writeln!(
            err,
            "records: {} in, {} out, {} changed; renumbered {}, defaulted {}, supplied {}, rewritten {}, inserted {}, removed {}, dropped {}",
            summary.records_in,
            summary.records_out,
            summary.records_changed,
            l.count(Action::Renumbered),
            l.count(Action::Defaulted),
            l.count(Action::Supplied),
            l.count(Action::Rewritten),
            l.count(Action::Inserted),
            l.count(Action::Removed),
            l.count(Action::Dropped),
        )?;
        if let Some(path) = &self.report {
            let mut rep = Output::create(path)?;
            serde_json::to_writer_pretty(
                &mut rep,
                &serde_json::json!({"format_version": "1.0.0", "summary": summary}),
            )?;
            writeln!(rep)?;
            rep.commit()
                .with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(0)
    }
}
