//! The report of an image (`ckpt report`): one self-contained HTML page ([`html`]) built
//! from one JSON document ([`Report`], `schemas/json/report.schema.json`), which holds
//! what `ckpt info` says of the image (summary, tasks, statistics: the same
//! [`ckpt_format::summary`] calls), its graph ([`crate::graph`]), and what `ckpt check`
//! and a dry run of `ckpt convert` say for a target (the same [`ckpt_convert`] calls).
//!
//! [`read_report`] reads the image once (page contents skipped); [`check_section`] and
//! [`convert_section`] each read it once more, so the caller opens it three times.

pub mod html;

use std::collections::BTreeMap;

use ckpt_convert::check::{CpuFacts, KernelConfig, Report as CheckReport, check};
use ckpt_convert::{Action, LedgerEntry, Options, convert_with_report};
use ckpt_format::detect::Detection;
use ckpt_format::input::Input;
use ckpt_format::model::{ImageModel, TaskModel};
use ckpt_format::summary::names::signal_or_number;
use ckpt_format::summary::tasks::{Creds, Memory, PidLevel, Signals};
use ckpt_format::summary::tree::TaskIds;
use ckpt_format::summary::{ImageInfo, InfoOptions, Stats, TaskSummary, summarise_with_model};
use ckpt_format::value::Value;
use ckpt_format::{Format, Reader, Schema};
use serde::Serialize;

use crate::graph::{Graph, GraphOptions};

/// Version of the report's JSON document (grows only by addition).
pub const REPORT_FORMAT_VERSION: &str = "1.0.0";

/// Entries of each convert action the report keeps (the counts are of all of them).
pub const ENTRIES_KEPT: usize = 200;

/// Everything the page shows, as the page's JS reads it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Version of this document's shape ([`REPORT_FORMAT_VERSION`]).
    pub format_version: &'static str,
    /// One line: the image, its revision and arch, `INCOMPLETE` first for an image
    /// cut short.
    pub title: String,
    /// False when the image could not be read to its end: the report is of what was
    /// read.
    pub complete: bool,
    /// Why the image could not be read to its end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_error: Option<String>,
    /// What `ckpt info --json` says (without its task and statistics lists, which are
    /// [`Report::tasks`] and [`Report::stats`]).
    pub summary: ImageInfo,
    /// Every task, in tree order.
    pub tasks: Vec<TaskReport>,
    /// Statistics, as `ckpt info --stats` gives them.
    pub stats: Stats,
    /// The graph of tasks and what they share, in brief (the page draws it from
    /// [`Report::drawn`]).
    pub graph: GraphBrief,
    /// The graph drawn inline.
    #[serde(skip)]
    pub drawn: Graph,
    /// What `ckpt check` says for the target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckSection>,
    /// What `ckpt convert` would do to reach the target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub convert: Option<ConvertSection>,
}

/// A task: what `ckpt info --tasks` says of it (the fields the page shows), its signal
/// handlers and its registers.
#[derive(Debug, Clone, Serialize)]
pub struct TaskReport {
    /// Its position and pids in the image's root pid namespace.
    #[serde(flatten)]
    pub ids: TaskIds,
    /// The pid at every namespace level: level 0 is the image's root pid namespace.
    pub pid_levels: Vec<PidLevel>,
    /// `comm`.
    pub comm: String,
    /// `state` by name.
    pub state_name: String,
    /// `exit_state` by name, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_state_name: Option<String>,
    /// The signal its parent gets when it exits, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_signal: Option<String>,
    /// Tasks of its thread group, itself included.
    pub threads: usize,
    /// Tags of the tables it uses, by kind.
    pub tables: BTreeMap<String, i64>,
    /// Credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creds: Option<Creds>,
    /// Blocked and pending signals, by name.
    pub signals: Signals,
    /// Open files, by descriptor.
    pub files: Vec<FileReport>,
    /// Its address space.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// Its signal handlers that are not the default (SIG_DFL).
    pub handlers: Vec<Handler>,
    /// Its registers (the CPU record's members; empty when the record is opaque).
    pub registers: Vec<(String, Value)>,
}

/// An open file descriptor ([`ckpt_format::summary::tasks::OpenFile`] in brief).
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// The descriptor.
    pub fd: i64,
    /// The file type (`GENERIC`, `PIPE`, `SOCKET`, ...).
    pub r#type: String,
    /// Its path, for files that have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What the file is, in words (as `ckpt info -t` shows it).
    pub what: String,
    /// Close-on-exec flag, when set.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub close_on_exec: bool,
    /// Tag of the file object.
    pub objref: i64,
}

/// The graph in brief: the page draws it inline (SVG); `ckpt graph --format json`
/// gives it whole.
#[derive(Debug, Clone, Serialize)]
pub struct GraphBrief {
    /// Its title.
    pub title: String,
    /// Nodes drawn.
    pub nodes: usize,
    /// Task nodes drawn (one per task).
    pub tasks: usize,
    /// Edges drawn.
    pub edges: usize,
    /// Thread groups drawn.
    pub thread_groups: usize,
}

impl TaskReport {
    fn of(s: TaskSummary, handlers: Vec<Handler>, registers: Vec<(String, Value)>) -> Self {
        TaskReport {
            ids: s.ids,
            pid_levels: s.pid_levels,
            comm: s.comm,
            state_name: s.state_name,
            exit_state_name: s.exit_state_name,
            exit_signal: s.exit_signal,
            threads: s.threads,
            tables: s.tables,
            creds: s.creds,
            signals: s.signals,
            files: s
                .files
                .into_iter()
                .map(|f| FileReport {
                    fd: f.fd,
                    r#type: f.r#type,
                    path: f.path,
                    what: f.what,
                    close_on_exec: f.close_on_exec,
                    objref: f.objref,
                })
                .collect(),
            memory: s.memory,
            handlers,
            registers,
        }
    }
}

/// A signal's handler.
#[derive(Debug, Clone, Serialize)]
pub struct Handler {
    /// The signal (`SIGTERM`).
    pub signal: String,
    /// `SIG_IGN`, or the handler's address in hex.
    pub handler: String,
    /// `sa_flags`, in hex.
    pub flags: String,
}

/// What `ckpt check` says.
#[derive(Debug, Clone, Serialize)]
pub struct CheckSection {
    /// True when the image would restart on the target.
    pub ok: bool,
    /// The check's findings; none when the check could not read the image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<CheckReport>,
    /// Why the check could not be made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a conversion to the target would do (a dry run: nothing written).
#[derive(Debug, Clone, Serialize)]
pub struct ConvertSection {
    /// Source revision.
    pub from: String,
    /// Target revision.
    pub to: String,
    /// Revisions crossed, source first (empty when refused).
    pub path: Vec<String>,
    /// Kernel version the output's header would carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// Records read, written and changed.
    pub records: [u64; 3],
    /// Changes per action (`defaulted`, `supplied`, `dropped`, ...).
    pub counts: BTreeMap<Action, u64>,
    /// The first [`ENTRIES_KEPT`] changes of each action.
    pub entries: BTreeMap<Action, Vec<LedgerEntry>>,
    /// Why the conversion would be refused (it writes nothing then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// Reads the image `r` is at (detected as `det`, named `image`) in one pass, page
/// contents skipped, and makes its report (without the check and convert sections).
/// An image cut short gives the report of what was read, not [`Report::complete`],
/// with the error; an image whose header cannot be read gives the error alone.
pub fn read_report<R: Input>(
    r: &mut Reader<R>,
    det: &Detection,
    image: &str,
) -> Result<(Report, Option<ckpt_format::Error>), ckpt_format::Error> {
    let o = InfoOptions {
        tasks: true,
        stats: true,
        ..InfoOptions::default()
    };
    let (info, model, failure) = summarise_with_model(r, det, image, &o);
    let (Some(mut info), Some(model)) = (info, model) else {
        return Err(failure.unwrap_or_else(|| unreachable!("no summary comes with an error")));
    };
    let format = Format::shared(det.schema, det.arch);
    // The default options name no pid: no error.
    let graph = Graph::of_model(&model, format, &GraphOptions::default()).unwrap_or_default();
    let summaries = info.task_details.take().unwrap_or_default();
    let stats = info.stats.take().unwrap_or_default();
    let tasks = summaries
        .into_iter()
        .map(|s| {
            let t = model.tasks.get(s.ids.index);
            TaskReport::of(
                s,
                t.map(|t| handlers(&model, format, t)).unwrap_or_default(),
                t.map(|t| t.cpu.clone()).unwrap_or_default(),
            )
        })
        .collect();
    let mut graph = graph;
    if let Some(e) = &failure {
        graph.complete = false;
        graph.read_error = Some(e.to_string());
    }
    let brief = GraphBrief {
        title: graph.title(),
        nodes: graph.nodes.len(),
        tasks: graph.count(crate::graph::NodeKind::Task),
        edges: graph.edges.len(),
        thread_groups: graph.thread_groups.len(),
    };
    let mut report = Report {
        format_version: REPORT_FORMAT_VERSION,
        title: String::new(),
        complete: failure.is_none(),
        read_error: failure.as_ref().map(ToString::to_string),
        summary: info,
        tasks,
        stats,
        graph: brief,
        drawn: graph,
        check: None,
        convert: None,
    };
    report.title = report.make_title();
    Ok((report, failure))
}

impl Report {
    fn make_title(&self) -> String {
        let s = &self.summary;
        let mut t = format!(
            "{}: {} on {}, {}, kernel {}",
            s.image,
            s.revision.id,
            s.arch,
            crate::text::plural(self.tasks.len(), "task"),
            s.kernel
        );
        if let Some(m) = &s.error_message {
            t.push_str(&format!("; failed checkpoint: {m}"));
        }
        if let Some(e) = &self.read_error {
            t = format!("INCOMPLETE {t} (read up to: {e})");
        }
        t
    }
}

/// The handlers of `t`'s SIGHAND object that are not SIG_DFL.
fn handlers(m: &ImageModel, f: &Format, t: &TaskModel) -> Vec<Handler> {
    let Some(sh) = t.refs.get("sighand_objref").and_then(|&tag| m.object(tag)) else {
        return Vec::new();
    };
    let nsig = ckpt_format::model::field_int(&m.header, "constants.signal_nsig").unwrap_or(64);
    let mut out = Vec::new();
    for (path, v) in &sh.fields {
        let Some(k) = path
            .strip_prefix("tail[")
            .and_then(|p| p.strip_suffix("]._sa_handler"))
            .and_then(|k| k.parse::<u64>().ok())
        else {
            continue;
        };
        let handler = v.as_int().unwrap_or(0);
        if handler == 0 {
            continue;
        }
        let flags = ckpt_format::model::field_int(&sh.fields, &format!("tail[{k}].sa_flags"));
        out.push((
            k,
            Handler {
                signal: signal_or_number(f.arch, k + 1, nsig as u64),
                handler: if handler == 1 {
                    "SIG_IGN".to_string()
                } else {
                    format!("{handler:#x}")
                },
                flags: format!("{:#x}", flags.unwrap_or(0)),
            },
        ));
    }
    out.sort_by_key(|(k, _)| *k);
    out.into_iter().map(|(_, h)| h).collect()
}

/// The target's facts for [`check_section`] (those of `ckpt check`).
#[derive(Debug, Clone, Default)]
pub struct CheckTarget<'a> {
    /// The kernel version to check the header against; `None`: the image's own.
    pub kernel: Option<(u16, u16, u16)>,
    /// The target's config.
    pub config: Option<&'a KernelConfig>,
    /// The target's CPU.
    pub cpu: Option<CpuFacts>,
}

/// What `ckpt check` says of the image `reader` is at (read as the target revision's
/// reading of it, as `ckpt check` opens it) against `target`, for `revision`.
pub fn check_section<R: Input>(
    reader: Reader<R>,
    det: &Detection,
    revision: &'static Schema,
    target: &CheckTarget<'_>,
) -> CheckSection {
    let variant = target.config.and_then(KernelConfig::constants_variant);
    match check(
        reader,
        Some(&det.evidence),
        revision,
        target.kernel,
        variant,
        target.config,
        target.cpu,
    ) {
        Ok(r) => CheckSection {
            ok: r.ok(),
            report: Some(r),
            error: None,
        },
        Err(e) => CheckSection {
            ok: false,
            report: None,
            error: Some(e.to_string()),
        },
    }
}

/// What `ckpt convert` would do to the image `reader` is at to reach `to` with `opts`:
/// the conversion runs into nothing, its changes kept ([`ENTRIES_KEPT`] of each action).
pub fn convert_section<R: Input>(
    reader: Reader<R>,
    to: &'static Schema,
    opts: &Options,
) -> ConvertSection {
    let from = reader.format().schema.id.to_string();
    let mut entries: BTreeMap<Action, Vec<LedgerEntry>> = BTreeMap::new();
    let mut keep = |e: &LedgerEntry| -> std::io::Result<()> {
        let list = entries.entry(e.action).or_default();
        if list.len() < ENTRIES_KEPT {
            list.push(e.clone());
        }
        Ok(())
    };
    let result = convert_with_report(reader, to, opts, std::io::sink(), &mut keep);
    let mut s = ConvertSection {
        from,
        to: to.id.to_string(),
        path: Vec::new(),
        kernel: None,
        records: [0; 3],
        counts: BTreeMap::new(),
        entries,
        refused: None,
    };
    match result {
        Ok(summary) => {
            s.path = summary.path;
            s.kernel = Some(summary.kernel);
            s.records = [
                summary.records_in,
                summary.records_out,
                summary.records_changed,
            ];
            s.counts = summary.ledger.counts;
        }
        Err(e) => s.refused = Some(e.to_string()),
    }
    s
}
