//! `ckpt info`: what an image is (revision, arch, kernel, constants), its records and its
//! process tree.

use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Result;
use ckpt_format::detect::Detection;
use ckpt_format::read::Decoded;
use ckpt_format::{Reader, RecordInfo};
use serde::Serialize;

use crate::io::{Source, open_image};

/// Version of the `--json` output of `info` (grows only by addition).
pub const FORMAT_VERSION: &str = "1.1.0";

const AFTER: &str = "Examples:
  ckpt info image.ckpt
  ckpt info -v image.ckpt            # every record: offset, index, type, name, length
  ckpt info -p --json image.ckpt     # the process tree, as JSON
  cat image.ckpt | ckpt info --rev v23-rc2 -

Exit status:
  0  the image was read to its end
  1  the image is invalid (the error names the offset and the record)
  2  usage error
  3  I/O error";

/// Summarize an image: revision detected and why, arch, kernel, time, uts, flags, constants.
#[derive(clap::Args)]
#[command(after_help = AFTER)]
pub struct Opts {
    /// The image, or - for standard input.
    image: String,
    /// Revision of the image (id, user-cr commit or alias) instead of detecting it.
    #[arg(long, value_parser = crate::values::Revision, hide_possible_values = true)]
    rev: Option<String>,
    /// List every record: offset, index, type number, name, length.
    #[arg(short, long)]
    verbose: bool,
    /// Show the process tree.
    #[arg(short = 'p', long = "pids")]
    pids: bool,
    /// Show every task: pids at every namespace level, comm, state, threads,
    /// credentials, open files with their paths, memory areas and pages.
    #[arg(short = 't', long = "tasks")]
    tasks: bool,
    /// Show only the message of the error record of a failed checkpoint.
    #[arg(short = 'e', long = "error")]
    error: bool,
    /// Show the registers of every task, named as the cpu record's members.
    #[arg(long)]
    show_arch_regs: bool,
    /// Statistics: records and objects by kind, pages per task, shared objects, the
    /// largest records, metadata against page contents.
    #[arg(long)]
    stats: bool,
    /// Output JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct RecordLine {
    index: u64,
    offset: u64,
    r#type: u32,
    name: &'static str,
    len: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_of: Option<String>,
}

#[derive(Serialize, Clone)]
struct TaskLine {
    index: usize,
    pid: i64,
    ppid: i64,
    tgid: i64,
    pgid: i64,
    sid: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    comm: Option<String>,
    zombie: bool,
}

#[derive(Serialize)]
struct TaskRegs {
    /// Index of the task in the tree.
    task: usize,
    /// Offset of its CPU record.
    offset: u64,
    /// The registers, by member name (empty for an opaque record).
    regs: Vec<(String, ckpt_format::value::Value)>,
    /// For an arch whose cpu record no source describes: its length.
    #[serde(skip_serializing_if = "Option::is_none")]
    opaque_len: Option<u32>,
}

#[derive(Serialize)]
struct Revision {
    id: String,
    commit: String,
    checkpoint_version: u16,
    reasons: Vec<String>,
    also_fits: Vec<String>,
    forced: bool,
}

#[derive(Serialize)]
struct Info {
    format_version: &'static str,
    image: String,
    size: u64,
    revision: Revision,
    arch: String,
    arch_id: u16,
    endian: ckpt_format::Endian,
    kernel: String,
    time: u64,
    time_utc: String,
    uts_release: String,
    uts_version: String,
    uts_machine: String,
    uflags: u64,
    uflags_names: Vec<String>,
    constants: Vec<(String, u64)>,
    records: u64,
    tasks: usize,
    pages: u64,
    page_bytes: u64,
    complete: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    record_list: Option<Vec<RecordLine>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tree: Option<Vec<TaskLine>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    arch_regs: Option<Vec<TaskRegs>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stats: Option<super::stats::Stats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_details: Option<Vec<super::tasks::TaskSummary>>,
}

fn text(v: Option<&str>) -> String {
    v.unwrap_or("").to_string()
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        let (mut r, det) = open_image(&self.image, self.rev.as_deref())?;
        let info = walk(&mut r, &det, &self)
            .map_err(|e| crate::io::with_detection(e, &det, &self.image))?;
        // Standard output is line-buffered: a long listing is written in blocks instead.
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        if self.error && !self.json {
            match &info.error_message {
                Some(m) => writeln!(out, "{m}")?,
                None => writeln!(out, "no error record: the checkpoint completed")?,
            }
        } else if self.json {
            serde_json::to_writer_pretty(&mut out, &info)?;
            writeln!(out)?;
        } else {
            print_text(&mut out, &info, &det)?;
        }
        out.flush()?;
        Ok(0)
    }
}

fn walk(r: &mut Reader<Source>, det: &Detection, o: &Opts) -> Result<Info> {
    let schema = det.schema;
    let mut records = Vec::new();
    let mut header: Option<Decoded> = None;
    let mut uts: Vec<String> = Vec::new();
    let mut count = 0u64;
    let mut pages = 0u64;
    let mut tasks: Vec<TaskLine> = Vec::new();
    let mut comms: Vec<(String, bool)> = Vec::new();
    let mut pid_numbers: Vec<i64> = Vec::new();
    let mut pids_offset = 0i64;
    let mut error_message = None;
    let mut last_task_zombie = false;
    let mut regs: Vec<TaskRegs> = Vec::new();
    let mut stats = super::stats::Stats::default();
    let format = ckpt_format::Format::shared(det.schema, det.arch);
    let mut task_index = 0usize;
    let endian = r.format().endian();
    let mut model = o
        .tasks
        .then(|| ckpt_format::model::ModelBuilder::new(format, false));
    while let Some(rec) = r.next_record()? {
        count += 1;
        if let Some(m) = model.as_mut() {
            m.add(r, &rec)?;
        }
        if o.verbose {
            records.push(line(&rec));
        }
        if !rec.inline {
            if o.stats {
                stats.add(format, &rec, None);
            }
            continue;
        }
        if o.stats {
            let d = r.decode()?;
            stats.add(format, &rec, Some(&d));
        }
        match (rec.name, rec.payload_of) {
            ("HEADER", _) => header = Some(r.decode()?),
            ("BUFFER", Some(("HEADER", _))) => uts.push(r.decode()?.text.unwrap_or_else(|| {
                let b = &r.record_bytes()[8..];
                String::from_utf8_lossy(b.split(|&c| c == 0).next().unwrap_or(&[])).into_owned()
            })),
            ("PGARR", _) => pages += r.decode()?.int("nr_pages").unwrap_or(0) as u64,
            ("PIDS", _) => pids_offset = r.decode()?.int("offset").unwrap_or(0) as i64,
            ("BUFFER", Some(("PIDS", _))) => {
                pid_numbers = ckpt_format::model::pid_entries(&r.record_bytes()[8..], endian)
                    .iter()
                    .map(|n| n.first().copied().unwrap_or(0))
                    .collect();
            }
            ("BUFFER", Some(("TREE", _))) => {
                let d = r.decode()?;
                let mut k = 0;
                while let Some(pid) = d.int(&format!("pids[{k}].vpid")) {
                    let f = |n: &str| d.int(&format!("pids[{k}].{n}")).unwrap_or(0) as i64;
                    tasks.push(TaskLine {
                        index: k,
                        pid: pid as i64,
                        ppid: f("vppid"),
                        tgid: f("vtgid"),
                        pgid: f("vpgid"),
                        sid: f("vsid"),
                        comm: None,
                        zombie: false,
                    });
                    k += 1;
                }
            }
            ("CPU", None) if o.show_arch_regs => {
                let d = r.decode()?;
                let opaque = d.struct_name.is_none();
                regs.push(TaskRegs {
                    task: task_index.saturating_sub(1),
                    offset: rec.offset,
                    regs: d
                        .fields
                        .into_iter()
                        .filter(|(p, _)| !p.starts_with("h."))
                        .collect(),
                    opaque_len: opaque.then_some(rec.len),
                });
            }
            ("TASK", _) => {
                task_index += 1;
                let d = r.decode()?;
                last_task_zombie = d.int("exit_state").unwrap_or(0) != 0;
            }
            ("STRING", Some(("TASK", _))) => {
                let b = &r.record_bytes()[8..];
                comms.push((
                    String::from_utf8_lossy(b.split(|&c| c == 0).next().unwrap_or(&[]))
                        .into_owned(),
                    last_task_zombie,
                ));
            }
            ("STRING", Some(("ERROR", _))) => error_message = r.decode()?.text,
            _ => {}
        }
    }
    // Pid objects (from v23-rc1.pids): the tree holds tags; show the pid numbers.
    if !pid_numbers.is_empty() {
        let first = ckpt_format::model::first_pid_tag(schema, pids_offset);
        let num = |tag: i64| -> i64 {
            if tag <= 0 {
                return tag;
            }
            pid_numbers
                .get((tag - first) as usize)
                .copied()
                .unwrap_or(tag)
        };
        for t in &mut tasks {
            t.pid = num(t.pid);
            t.ppid = num(t.ppid);
            t.tgid = num(t.tgid);
            t.pgid = num(t.pgid);
            t.sid = num(t.sid);
        }
    }
    for (t, (c, z)) in tasks.iter_mut().zip(comms) {
        t.comm = Some(c);
        t.zombie = z;
    }
    let h = header.expect("the reader starts with HEADER");
    let get = |n: &str| h.int(n).unwrap_or(0) as u64;
    let constants: Vec<(String, u64)> = h
        .fields
        .iter()
        .filter_map(|(p, v)| {
            Some((
                p.strip_prefix("constants.")?.to_string(),
                v.as_int()? as u64,
            ))
        })
        .collect();
    let uflags = get("uflags");
    let mut uflags_names = Vec::new();
    for c in &schema.consts {
        if c.name.starts_with("CHECKPOINT_")
            && c.name != "CHECKPOINT_VERSION"
            && c.name != "CHECKPOINT_LSM_NAME_MAX"
            && c.value > 0
            && (uflags as i128) & c.value == c.value
        {
            uflags_names.push(c.name.clone());
        }
    }
    let time = get("time");
    let size = r.offset();
    Ok(Info {
        format_version: FORMAT_VERSION,
        image: o.image.clone(),
        size,
        revision: Revision {
            id: schema.id.clone(),
            commit: schema.commit.clone(),
            checkpoint_version: schema.checkpoint_version,
            reasons: det.reasons.clone(),
            also_fits: det.also.iter().map(|s| s.id.clone()).collect(),
            forced: det.forced,
        },
        arch: det.arch.name().to_string(),
        arch_id: schema.arch_id(det.arch).unwrap_or(0),
        endian: det.arch.endian(),
        kernel: format!("{}.{}.{}", get("major"), get("minor"), get("patch")),
        time,
        time_utc: humantime::format_rfc3339_seconds(
            UNIX_EPOCH + Duration::from_secs(time.min(1 << 40)),
        )
        .to_string(),
        uts_release: text(uts.first().map(String::as_str)),
        uts_version: text(uts.get(1).map(String::as_str)),
        uts_machine: text(uts.get(2).map(String::as_str)),
        uflags,
        uflags_names,
        constants,
        records: count,
        tasks: tasks.len(),
        pages,
        page_bytes: pages * ckpt_format::limits::PAGE_SIZE as u64,
        complete: error_message.is_none(),
        error_message,
        record_list: o.verbose.then_some(records),
        tree: o.pids.then_some(tasks),
        arch_regs: o.show_arch_regs.then_some(regs),
        stats: o.stats.then(|| {
            stats.finish();
            stats
        }),
        task_details: model.map(|m| super::tasks::summarise(&m.finish(), format)),
    })
}

fn line(rec: &RecordInfo) -> RecordLine {
    RecordLine {
        index: rec.index,
        offset: rec.offset,
        r#type: rec.rtype,
        name: rec.name,
        len: rec.len,
        payload_of: rec.payload_of.map(|(o, n)| format!("{o} {n}")),
    }
}

fn print_text(out: &mut impl Write, i: &Info, det: &Detection) -> Result<()> {
    writeln!(out, "image:      {} ({} bytes)", i.image, i.size)?;
    writeln!(
        out,
        "revision:   {} (user-cr {}, CHECKPOINT_VERSION {})",
        i.revision.id,
        &i.revision.commit[..7],
        i.revision.checkpoint_version
    )?;
    for r in &det.reasons {
        writeln!(out, "            {r}")?;
    }
    if !i.revision.also_fits.is_empty() {
        writeln!(
            out,
            "            also fits: {}",
            i.revision.also_fits.join(", ")
        )?;
    }
    writeln!(
        out,
        "arch:       {} (id {}, {})",
        i.arch, i.arch_id, i.endian
    )?;
    writeln!(out, "kernel:     {}", i.kernel)?;
    writeln!(out, "time:       {} ({})", i.time_utc, i.time)?;
    writeln!(
        out,
        "uts:        {} {} {}",
        i.uts_release, i.uts_version, i.uts_machine
    )?;
    writeln!(
        out,
        "uflags:     {:#x}{}",
        i.uflags,
        if i.uflags_names.is_empty() {
            String::new()
        } else {
            format!(" ({})", i.uflags_names.join(" | "))
        }
    )?;
    let consts: Vec<String> = i
        .constants
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    writeln!(out, "constants:  {}", consts.join(" "))?;
    writeln!(out, "records:    {}", i.records)?;
    writeln!(out, "tasks:      {}", i.tasks)?;
    writeln!(out, "pages:      {} ({} bytes)", i.pages, i.page_bytes)?;
    match &i.error_message {
        Some(m) => writeln!(out, "status:     failed checkpoint: {m}")?,
        None => writeln!(out, "status:     complete")?,
    }
    if let Some(recs) = &i.record_list {
        writeln!(out)?;
        writeln!(
            out,
            "{:>12} {:>7} {:>5}  {:<20} {:>10}  PAYLOAD OF",
            "OFFSET", "INDEX", "TYPE", "NAME", "LENGTH"
        )?;
        for r in recs {
            writeln!(
                out,
                "{:>#12x} {:>7} {:>5}  {:<20} {:>10}  {}",
                r.offset,
                r.index,
                r.r#type,
                r.name,
                r.len,
                r.payload_of.as_deref().unwrap_or("")
            )?;
        }
    }
    if let Some(st) = &i.stats {
        st.print(out)?;
    }
    if let Some(regs) = &i.arch_regs {
        writeln!(out)?;
        for t in regs {
            match t.opaque_len {
                Some(n) => writeln!(
                    out,
                    "task {} cpu at {:#x}: opaque ({n} bytes; no source describes this arch's cpu record)",
                    t.task, t.offset
                )?,
                None => {
                    writeln!(out, "task {} cpu at {:#x}:", t.task, t.offset)?;
                    for (name, v) in &t.regs {
                        let shown = match v {
                            ckpt_format::value::Value::Uint(x) => format!("{x:#x}"),
                            ckpt_format::value::Value::Int(x) => format!("{x}"),
                            ckpt_format::value::Value::List(items) => items
                                .iter()
                                .map(|x| match x {
                                    ckpt_format::value::Value::Uint(u) => format!("{u:#x}"),
                                    other => serde_json::to_string(other).unwrap_or_default(),
                                })
                                .collect::<Vec<_>>()
                                .join(" "),
                            other => serde_json::to_string(other).unwrap_or_default(),
                        };
                        writeln!(out, "  {name:<28} {shown}")?;
                    }
                }
            }
        }
    }
    if let Some(t) = &i.task_details {
        super::tasks::print(out, t)?;
    }
    if let Some(tree) = &i.tree {
        writeln!(out)?;
        writeln!(
            out,
            "{:>6} {:>6} {:>6} {:>6} {:>6}  COMM",
            "PID", "PPID", "TGID", "PGID", "SID"
        )?;
        for t in tree {
            writeln!(
                out,
                "{:>6} {:>6} {:>6} {:>6} {:>6}  {}{}",
                t.pid,
                t.ppid,
                t.tgid,
                t.pgid,
                t.sid,
                t.comm.as_deref().unwrap_or("?"),
                if t.zombie { " <zombie>" } else { "" }
            )?;
        }
    }
    Ok(())
}
