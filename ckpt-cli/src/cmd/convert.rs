//! `ckpt convert`: an image of one revision and kernel into another.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ckpt_convert::{Action, ConvertError, LedgerEntry, Options, TaskPaths, convert_with_report};
use ckpt_format::Registry;
use ckpt_format::write::Sink;

use crate::io::{
    Output, Spool, kept_annotations, open_image_as, refuse_colliding_outputs, refuse_same_file,
    with_detection,
};

const AFTER: &str = "Examples:
  ckpt convert old.ckpt --to-rev v23-rc2 -o new.ckpt
  ckpt convert img32.ckpt --to-arch x86_64 --target-kernel 2.6.37 -o img64.ckpt
  ckpt convert old.ckpt --target-kernel 2.6.37 -o new.ckpt --report ledger.json
  ckpt convert v19rc2.ckpt --to-rev v19 --cwd /srv/app --root / -o out.ckpt
  ckpt convert v19rc2.ckpt --to-rev v19 --cwd / --cwd 1042=/srv/db --root / -o out.ckpt
  cat img.ckpt | ckpt convert - --to-rev 67cfee9 -o - | ckpt info -
  ckpt convert old.ckpt --to-rev v23-rc2 -o new.ckpt --report - | jq .result

The output appears only when the conversion succeeded (a file is written beside OUT and
renamed); to standard output, a failure stops before the TAIL record, so the partial
stream is invalid; a terminal is refused unless --force. A summary of what changed goes
to standard error (with a progress bar when it is a terminal and no output goes to a
terminal); --report streams every change (renumbered, defaulted,
supplied, dropped, rewritten, inserted, removed, moved) as one JSON document
(schemas/json/convert-report.schema.json) that appears when the conversion ends, also
when it was refused.

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
    #[arg(long, value_parser = crate::values::Revision, hide_possible_values = true)]
    rev: Option<String>,
    /// Target revision (its layouts).
    #[arg(long, value_parser = crate::values::Revision, hide_possible_values = true)]
    to_rev: Option<String>,
    /// Target kernel version (x.y.z), written into the header with its constants.
    #[arg(long)]
    target_kernel: Option<String>,
    /// Target architecture, when it is not the image's: x86_64 for an x86_32 image (its
    /// tasks restart as 32-bit tasks, on a kernel with CONFIG_IA32_EMULATION, by a 32-bit
    /// `restart`), or x86_32 for an x86_64 image whose every task is a 32-bit task.
    #[arg(long, value_parser = crate::values::ArchName, value_name = "ARCH")]
    to_arch: Option<ckpt_format::Arch>,
    /// With --to-arch: where the target maps the tasks' vDSO (0x... or decimal, a page
    /// boundary). MM_CONTEXT, the vDSO's VMA, THREAD.sysenter_return, the auxv entries
    /// AT_SYSINFO and AT_SYSINFO_EHDR and an ip inside it move together. Without it the
    /// vDSO stays where the image has it, when it fits the target.
    #[arg(long, value_name = "ADDR", value_parser = parse_address)]
    vdso: Option<u64>,
    /// The target kernel's .config (plain or gzip): it chooses the constants (x86_64's
    /// AT_VECTOR_SIZE depends on CONFIG_IA32_EMULATION; without it the common default,
    /// y, is used), and records whose option it lacks are refused, or dropped where the
    /// kernel ignores them (as `ckpt check --target-config` says).
    #[arg(long, value_name = "FILE")]
    target_config: Option<PathBuf>,
    /// The source kernel's .config (plain or gzip), when the image carries none (`ckpt
    /// annotate --config`): compared with what the image says; the image wins.
    #[arg(long, value_name = "FILE")]
    source_config: Option<PathBuf>,
    /// The target CPU: fxsr=0|1,xsave=0|1,xstate-size=N, or host. HEADER_ARCH becomes the
    /// target's and every task's FPU state is put in its save format and size (FXSAVE or
    /// XSAVE; AVX state a smaller area cannot hold is a loss). Without it both are copied.
    #[arg(long)]
    target_cpu: Option<String>,
    /// Working directory for the FS objects a newer revision needs and an older image
    /// lacks: PATH for every task, or PID=PATH for one task (repeatable).
    #[arg(long, value_name = "[PID=]PATH")]
    cwd: Vec<String>,
    /// Root directory for those FS objects: PATH, or PID=PATH (repeatable).
    #[arg(long, value_name = "[PID=]PATH")]
    root: Vec<String>,
    /// Convert even when non-default data would be dropped.
    #[arg(long)]
    allow_lossy: bool,
    /// Convert a failed checkpoint (an image that ends in an ERROR record); no kernel
    /// restarts one, so the output is for inspection only.
    #[arg(long)]
    allow_incomplete: bool,
    /// Stream every change as JSON to this file, or - for standard output (then -o names
    /// a file).
    #[arg(long)]
    report: Option<PathBuf>,
    /// When the image is in ckpt's container (`ckpt annotate`), write the output in one
    /// too, with its annotations: the notes kept, the linux-cr tag the target's, and the
    /// kernel config the --target-config (without it the source's config is left out:
    /// it no longer describes the kernel the output is for). A plain image otherwise.
    #[arg(long)]
    keep_annotations: bool,
    /// Write the image to a terminal too (refused otherwise).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    seal: crate::through_seal::ThroughSealArgs,
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(mut self) -> Result<u8> {
        // A sealed image is read through its seal; --sign seals the output.
        let seal = self.seal.clone();
        let through = crate::through_seal::Through::around(
            &mut self.image,
            Some(&mut self.output),
            &seal,
            "convert",
        )?;
        let code = self.run_plain()?;
        through.finish(code)
    }

    fn run_plain(self) -> Result<u8> {
        refuse_same_file(&self.image, &self.output)?;
        if let Some(report) = &self.report {
            refuse_same_file(&self.image, report)?;
            refuse_colliding_outputs(&[("-o", &self.output), ("--report", report)])?;
        }
        if self.vdso.is_some() && self.to_arch.is_none() {
            return Err(super::usage(
                "--vdso moves the vDSO in an architecture change: give --to-arch too".into(),
            ));
        }
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
        let target_config = match &self.target_config {
            Some(p) => Some(crate::kconfig::given(p, "--target-config")?),
            None => None,
        };
        // The source's config: named, or carried by the image's container.
        let source_config = match &self.source_config {
            Some(p) => Some(crate::kconfig::given(p, "--source-config")?),
            None => match crate::io::container_of(&self.image)?
                .and_then(|c| c.annotations.kernel_config_gz)
            {
                Some(gz) => Some(crate::kconfig::from_annotation(&gz, &self.image)?),
                None => None,
            },
        };
        let cpu = super::target_cpu(self.target_cpu.as_deref())?;
        let paths = |args: &[String], what: &str| -> Result<TaskPaths> {
            let mut p = TaskPaths::default();
            for a in args {
                p.add(a)
                    .map_err(|e| super::usage(format!("--{what} {a}: {e}")))?;
            }
            Ok(p)
        };
        // An image that the target reads identically is of the target's revision already.
        let (reader, det) = open_image_as(&self.image, self.rev.as_deref(), Some(to))?;
        let spill_dir = (self.output != Path::new("-"))
            .then(|| self.output.parent().map(Path::to_path_buf))
            .flatten()
            .filter(|p| !p.as_os_str().is_empty());
        let opts = Options {
            allow_lossy: self.allow_lossy,
            kernel: kernel.clone(),
            target_config,
            source_config,
            cwd: paths(&self.cwd, "cwd")?,
            root: paths(&self.root, "root")?,
            target_cpu: cpu,
            spill_dir,
            best_effort: false,
            allow_incomplete: self.allow_incomplete,
            target_arch: self.to_arch.filter(|a| *a != det.arch),
            vdso: self.vdso,
        };
        // The target's config goes into a kept container (read before converting, so that
        // a bad file stops the conversion before it starts).
        let target_gz = match (&self.target_config, self.keep_annotations) {
            (Some(p), true) => Some(crate::kconfig::read(p, "--target-config")?.gzipped()?),
            _ => None,
        };
        let mut spool = match kept_annotations(self.keep_annotations, &self.image, &self.image)? {
            Some(kept) => Some(Spool::new(&self.output, kept, det.arch.endian())?),
            None => None,
        };
        let mut out = Output::create_image(&self.output, self.force)?;
        let mut report = match &self.report {
            Some(p) => Some(Report::begin(p, &det.schema.id, &to.id)?),
            None => None,
        };
        let on_screen =
            out.shares_the_screen() || report.as_ref().is_some_and(|r| r.out.shares_the_screen());
        let bar = progress_bar(
            &self.image,
            show_progress(std::io::stderr().is_terminal(), on_screen),
        );
        let mut on_entry = |e: &LedgerEntry| -> std::io::Result<()> {
            match report.as_mut() {
                Some(r) => r.entry(e),
                None => Ok(()),
            }
        };
        let sink: &mut dyn Sink = match spool.as_mut() {
            Some(s) => s.sink(),
            None => &mut out,
        };
        let result =
            convert_with_report(reader, to, &opts, Progress::new(sink, &bar), &mut on_entry);
        bar.finish_and_clear();
        if let Some(r) = report.take() {
            r.end(&result)?;
        }
        let summary = match result {
            Ok(s) => s,
            Err(ConvertError::Format(e)) => {
                return Err(with_detection(anyhow::Error::new(e), &det, &self.image));
            }
            Err(e) => return Err(e.into()),
        };
        if self.image == "-" && self.source_config.is_none() {
            // On a pipe the container's annotations follow the image: its kernel config
            // could not be the source's config (the output is not written).
            let c = crate::io::container_of("-")?;
            if c.is_some_and(|c| c.annotations.kernel_config_gz.is_some()) {
                return Err(crate::io::UsageError(
                    "standard input: the container carries the source kernel's config, which \
                     on a pipe comes after the image, too late for the conversion; give the \
                     container as a file path, or its config with --source-config FILE \
                     (nothing written)"
                        .into(),
                )
                .into());
            }
        }
        if let Some(s) = spool {
            s.finish_with(&mut out, |a| {
                a.linux_cr_tag = to.tags.first().map(|t| t.value.clone());
                if target_gz.is_none() && a.kernel_config_gz.is_some() {
                    writeln!(
                        std::io::stderr().lock(),
                        "note: --keep-annotations: the source kernel's config is not kept (it does not describe the target kernel; --target-config gives the target's)"
                    )?;
                }
                a.kernel_config_gz = target_gz;
                Ok(())
            })?;
        }
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
        if let Some(m) = &summary.checkpoint_failed {
            writeln!(
                err,
                "the source is a failed checkpoint (\"{m}\"), converted because of --allow-incomplete: no kernel restarts the output"
            )?;
        }
        if self.to_rev.is_none()
            && let Some(k) = &kernel
        {
            let others: Vec<String> = ckpt_convert::kernel::revisions_claiming(k)
                .into_iter()
                .filter(|s| s.id != to.id)
                .map(|s| format!("{} ({})", s.id, s.short_commit()))
                .collect();
            if !others.is_empty() {
                writeln!(
                    err,
                    "kernel {k}: {} is the most likely revision (a released linux-cr tag, or the most confident claim); others that may have run on it: {} (--to-rev picks one)",
                    to.id,
                    others.join(", ")
                )?;
            }
        }
        let arch = match opts.target_arch {
            Some(a) => format!("{} -> {a}", det.arch),
            None => det.arch.to_string(),
        };
        writeln!(
            err,
            "converted {} -> {} on {arch} (kernel {}; steps: {})",
            summary.from,
            summary.to,
            summary.kernel,
            summary.path.join(" -> ")
        )?;
        for d in &summary.config_decisions {
            writeln!(err, "config: {}: {} ({})", d.fact, d.decision, d.config)?;
        }
        writeln!(
            err,
            "records: {} in, {} out, {} changed; renumbered {}, defaulted {}, supplied {}, rewritten {}, inserted {}, removed {}, moved {}, dropped {}",
            summary.records_in,
            summary.records_out,
            summary.records_changed,
            l.count(Action::Renumbered),
            l.count(Action::Defaulted),
            l.count(Action::Supplied),
            l.count(Action::Rewritten),
            l.count(Action::Inserted),
            l.count(Action::Removed),
            l.count(Action::Moved),
            l.count(Action::Dropped),
        )?;
        Ok(0)
    }
}

/// An error's message followed by those of its sources (an I/O error's cause).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// An output that counts what is written to it (copied in the kernel included) on a
/// progress bar.
struct Progress<'a, W> {
    out: W,
    bar: &'a indicatif::ProgressBar,
}

impl<'a, W> Progress<'a, W> {
    fn new(out: W, bar: &'a indicatif::ProgressBar) -> Self {
        Progress { out, bar }
    }
}

impl<W: std::io::Write> std::io::Write for Progress<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl<W: Sink> Sink for Progress<'_, W> {
    fn copy_from_file(
        &mut self,
        src: std::os::fd::BorrowedFd<'_>,
        len: u64,
    ) -> std::io::Result<u64> {
        let n = self.out.copy_from_file(src, len)?;
        self.bar.inc(n);
        Ok(n)
    }
}

/// Whether a progress bar is drawn on standard error: only on a terminal, and never
/// over data (when an output goes to a terminal, or to standard error itself).
fn show_progress(stderr_is_terminal: bool, an_output_on_screen: bool) -> bool {
    stderr_is_terminal && !an_output_on_screen
}

/// A progress bar over the input's size when `show`, hidden otherwise.
fn progress_bar(image: &str, show: bool) -> indicatif::ProgressBar {
    let len = (image != "-")
        .then(|| std::fs::metadata(image).ok())
        .flatten()
        .map(|m| m.len());
    match len {
        Some(n) if show => {
            let bar = indicatif::ProgressBar::new(n);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            ) {
                bar.set_style(style);
            }
            bar
        }
        _ => indicatif::ProgressBar::hidden(),
    }
}

/// The ledger streamed as one JSON document: `{"format_version", "from", "to",
/// "entries": [...], "result": {...}}`, written beside its path and renamed at the end.
struct Report {
    out: Output,
    path: PathBuf,
    first: bool,
}

impl Report {
    fn begin(path: &Path, from: &str, to: &str) -> Result<Report> {
        let mut out = Output::create(path)?;
        write!(
            out,
            "{{\"format_version\": \"2.2.0\", \"from\": {}, \"to\": {}, \"entries\": [",
            serde_json::to_string(from)?,
            serde_json::to_string(to)?
        )
        .with_context(|| format!("writing {}", path.display()))?;
        Ok(Report {
            out,
            path: path.to_path_buf(),
            first: true,
        })
    }

    fn entry(&mut self, e: &LedgerEntry) -> std::io::Result<()> {
        self.out
            .write_all(if self.first { b"\n  " } else { b",\n  " })?;
        self.first = false;
        serde_json::to_writer(&mut self.out, e)?;
        Ok(())
    }

    /// Ends the document with the summary, or the reason the conversion stopped.
    fn end(mut self, result: &Result<ckpt_convert::Summary, ConvertError>) -> Result<()> {
        let tail = match result {
            Ok(s) => serde_json::json!({"converted": true, "summary": {
                "from": s.from, "to": s.to, "path": s.path, "kernel": s.kernel,
                "records_in": s.records_in, "records_out": s.records_out,
                "records_changed": s.records_changed, "counts": s.ledger.counts,
                "config_decisions": s.config_decisions,
            }}),
            Err(e) => serde_json::json!({"converted": false, "error": with_causes(e)}),
        };
        write!(self.out, "\n], \"result\": {tail}}}\n")
            .with_context(|| format!("writing {}", self.path.display()))?;
        self.out
            .commit()
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

/// An address: 0x-prefixed hex or decimal.
fn parse_address(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("{s:?} is not an address (0x... or decimal)"))
}

#[cfg(test)]
mod tests {
    use super::show_progress;

    #[test]
    fn the_progress_bar_is_drawn_only_on_a_terminal_free_of_data() {
        assert!(show_progress(true, false));
        assert!(!show_progress(true, true), "an output on the screen");
        assert!(
            !show_progress(false, false),
            "standard error is no terminal"
        );
        assert!(!show_progress(false, true));
    }
}
