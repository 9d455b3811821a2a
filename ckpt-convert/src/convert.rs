//! The converter: records of one revision in, records of another out, written on the
//! [transform API](crate::transform).
//!
//! The mechanical part ([`crate::mechanical`]) is derived from the two schemas, by name.
//! What names cannot carry is handled by the rewrites of the crossed [`crate::steps`]
//! ([`crate::rewrite`]): records inserted, removed or reordered, values whose meaning
//! changed, and refusals where the old image lacks information the new format needs.
//!
//! Everything that changes is written to the [`Ledger`], or streamed to a report
//! ([`convert_with_report`]).

use ckpt_format::input::Input;
use ckpt_format::write::Sink;
use ckpt_format::{Format, Reader};
use serde::Serialize;

use crate::config::gate::ConfigGate;
use crate::config::{ConfigDecision, Side, config_label};
use crate::error::ConvertError;
use crate::ledger::{Ledger, LedgerEntry, ReportFn};
use crate::mechanical::Conv;
use crate::options::Options;
use crate::rewrite;
use crate::transform::{Cx, Flow, Out, Payload, RunOptions, StreamedBody, Transform, run};

/// What a conversion did.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Source revision id.
    pub from: String,
    /// Target revision id.
    pub to: String,
    /// Revisions traversed, source first.
    pub path: Vec<String>,
    /// Kernel version written into the header.
    pub kernel: String,
    /// Records read.
    pub records_in: u64,
    /// Records written.
    pub records_out: u64,
    /// Records whose bytes changed.
    pub records_changed: u64,
    /// Every change.
    pub ledger: Ledger,
    /// The message of a failed checkpoint converted with
    /// [`Options::allow_incomplete`].
    pub checkpoint_failed: Option<String>,
    /// Every config-dependent decision, with the config it came from: the `ckpt_const`
    /// variant, options the target lacks, and the source config against the image.
    pub config_decisions: Vec<ConfigDecision>,
}

/// The conversion as a [`Transform`]: takes every record and writes it in the target
/// format (the mechanical mapping plus every rewrite of the crossed steps). It ends a
/// chain: transforms before it see the source's records.
pub struct Converter<'a> {
    conv: Conv<'a>,
    state: rewrite::State,
}

impl<'a> Converter<'a> {
    /// The converter of images of `from` into revision `to` (on [`Options::target_arch`],
    /// the source's architecture by default), or why the conversion is refused before
    /// any record is read.
    pub fn new(
        from: &'static Format,
        to: &'static ckpt_format::Schema,
        opts: &'a Options,
    ) -> Result<Converter<'a>, ConvertError> {
        let arch = opts.target_arch.unwrap_or(from.arch);
        if arch != from.arch && crate::steps::arch_step(from.arch, arch).is_none() {
            return Err(ConvertError::Refused(format!(
                "converting {} images to {arch} is not supported: the one architecture change \
                 ckpt makes is x86_32 <-> x86_64 (32-bit tasks on a 64-bit kernel with \
                 CONFIG_IA32_EMULATION)",
                from.arch
            )));
        }
        if !to.has_arch(arch) {
            let has = to
                .arches
                .iter()
                .map(|(a, _)| a.name())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ConvertError::Refused(if arch == from.arch {
                format!(
                    "revision {} has no {arch} (it has {has}); converting between architectures \
                     is supported only for x86_32 <-> x86_64 (--to-arch)",
                    to.id
                )
            } else {
                format!("revision {} has no {arch} (it has {has})", to.id)
            }));
        }
        if arch != from.arch && opts.vdso.is_some_and(|v| v & 0xfff != 0) {
            return Err(ConvertError::Refused(format!(
                "--vdso {:#x}: the vDSO is mapped at a page boundary (a multiple of 0x1000)",
                opts.vdso.unwrap_or(0)
            )));
        }
        let to_f = Format::shared(to, arch);
        let plan = crate::plan::plan(from, to_f, opts)?;
        Ok(Converter {
            conv: Conv {
                from,
                to: to_f,
                opts,
                pending: Vec::new(),
                kernel: plan.kernel,
                plan: std::rc::Rc::new(plan),
                renames: crate::steps::renames_between(from.schema, to),
                claimed: Vec::new(),
            },
            state: rewrite::State::default(),
        })
    }

    /// The format written.
    pub fn target(&self) -> &'static Format {
        self.conv.to
    }

    /// The kernel version written into the header.
    pub fn kernel(&self) -> (u16, u16, u16) {
        self.conv.kernel
    }

    /// The config variant of the target's constants (`CONFIG_IA32_EMULATION=y`), and
    /// which config chose it.
    pub fn constants_variant(&self) -> Option<&(String, String)> {
        self.conv.plan.constants_variant.as_ref()
    }

    /// The target kernel's `ckpt_const` values.
    pub fn constants(&self) -> &[(String, u64)] {
        &self.conv.plan.constants
    }

    /// Moves the entries the conversion made for the current record to the run's ledger.
    fn hand_over(&mut self, cx: &mut Cx<'_>) {
        self.conv.claimed.clear();
        for e in self.conv.pending.drain(..) {
            cx.note_entry(e);
        }
    }
}

impl Transform for Converter<'_> {
    fn record(
        &mut self,
        cx: &mut Cx<'_>,
        rec: &mut Vec<u8>,
        out: &mut Vec<Out>,
    ) -> Result<Flow, ConvertError> {
        let outs = rewrite::record(&mut self.conv, &mut self.state, cx.rec, rec);
        self.hand_over(cx);
        out.extend(outs?);
        if cx.rec.name == "TAIL" && !self.conv.opts.allow_lossy {
            let losses: Vec<LedgerEntry> = cx.losses().cloned().collect();
            if !losses.is_empty() {
                return Err(ConvertError::Lossy(losses));
            }
        }
        Ok(Flow::Done)
    }

    fn streamed(&mut self, cx: &mut Cx<'_>, out: &mut Vec<Out>) -> Result<Payload, ConvertError> {
        let outs = rewrite::around_stream(&mut self.conv, &mut self.state, cx.rec);
        self.hand_over(cx);
        out.extend(outs?);
        Ok(if rewrite::rewrites_stream(&self.conv, cx.rec) {
            Payload::Rewrite
        } else {
            Payload::Copy
        })
    }

    fn rewrite_streamed(
        &mut self,
        cx: &mut Cx<'_>,
        body: &mut StreamedBody<'_>,
    ) -> Result<(), ConvertError> {
        let r = rewrite::rewrite_stream(&mut self.conv, &mut self.state, cx.rec, body);
        self.hand_over(cx);
        r
    }
}

/// Converts the image read by `reader` into revision `to` (same architecture), writing
/// it to `out`. On error nothing after the failing record is written, and never a TAIL.
///
/// Page payloads pass through unchanged; from a file to a file (any [`Sink`] that can)
/// they are copied in the kernel, not through memory.
pub fn convert<R: Input, W: Sink>(
    reader: Reader<R>,
    to: &'static ckpt_format::Schema,
    opts: &Options,
    out: W,
) -> Result<Summary, ConvertError> {
    convert_inner(reader, to, opts, out, None)
}

/// [`convert`], streaming every ledger entry to `report` as it is made instead of keeping
/// it (the summary's ledger then holds the counts and no entries).
pub fn convert_with_report<R: Input, W: Sink>(
    reader: Reader<R>,
    to: &'static ckpt_format::Schema,
    opts: &Options,
    out: W,
    report: &mut ReportFn<'_>,
) -> Result<Summary, ConvertError> {
    convert_inner(reader, to, opts, out, Some(report))
}

fn convert_inner<R: Input, W: Sink>(
    reader: Reader<R>,
    to: &'static ckpt_format::Schema,
    opts: &Options,
    out: W,
    report: Option<&mut ReportFn<'_>>,
) -> Result<Summary, ConvertError> {
    let from = Format::shared(reader.format().schema, reader.format().arch);
    let mut converter = Converter::new(from, to, opts)?;
    let target = converter.target();
    let run_opts = RunOptions {
        spill_dir: opts.spill_dir.clone(),
        allow_incomplete: opts.allow_incomplete || opts.best_effort,
    };
    let mut gate = ConfigGate::new(opts.target_config.as_ref(), opts.source_config.as_ref());
    let s = run(
        reader,
        target,
        &mut [&mut gate, &mut converter],
        out,
        &run_opts,
        report,
    )?;
    let k = converter.kernel();
    let mut config_decisions = Vec::new();
    if let Some((variant, by)) = converter.constants_variant() {
        let values: Vec<String> = converter
            .constants()
            .iter()
            .filter(|(n, _)| n == "at_vector_size" || n == "mm_saved_auxv_len")
            .map(|(n, v)| format!("{n} {v}"))
            .collect();
        config_decisions.push(ConfigDecision {
            fact: "ckpt_const variant".into(),
            decision: format!("{variant} ({})", values.join(", ")),
            config: by.clone(),
            source: "kernel-consts.md §3",
            confidence: crate::steps::Confidence::High,
        });
    }
    if opts.target_config.is_none() {
        config_decisions.push(ConfigDecision {
            fact: "kernel options".into(),
            decision: "not checked: give --target-config to refuse records whose option the \
                       target lacks"
                .into(),
            config: config_label(Side::Target, None, ""),
            source: "kernel-side.md §2",
            confidence: crate::steps::Confidence::High,
        });
    }
    config_decisions.extend(gate.decisions().iter().cloned());
    Ok(Summary {
        from: from.schema.id.clone(),
        to: to.id.clone(),
        path: crate::plan::path(from.schema, to),
        kernel: format!("{}.{}.{}", k.0, k.1, k.2),
        records_in: s.records_in,
        records_out: s.records_out,
        records_changed: s.records_changed,
        ledger: s.ledger,
        checkpoint_failed: s.checkpoint_failed,
        config_decisions,
    })
}
