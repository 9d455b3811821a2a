//! What an image is (`ckpt info`): revision detected and why, arch, kernel, time, uts
//! strings, flags, constants; with options its records, process tree, registers,
//! statistics and tasks. One streaming walk; memory grows with tasks and objects only.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;

use super::stats::Stats;
use super::tasks::{TaskSummary, summarise};
use super::tree::{TaskLine, TreeTracker};
use crate::detect::Detection;
use crate::input::Input;
use crate::model::{ImageModel, ModelBuilder};
use crate::read::Decoded;
use crate::value::Value;
use crate::{Format, Reader, RecordInfo, Result};

/// What the walk collects beyond the header summary.
#[derive(Debug, Clone, Default)]
pub struct InfoOptions {
    /// Every record.
    pub records: bool,
    /// The process tree.
    pub tree: bool,
    /// Every task in detail.
    pub tasks: bool,
    /// Every task's registers.
    pub arch_regs: bool,
    /// Statistics.
    pub stats: bool,
    /// Only the records and tasks of the task with this pid (and, for tasks, of the
    /// thread group it leads).
    pub pid: Option<i64>,
}

/// A record of the listing.
#[derive(Debug, Clone, Serialize)]
pub struct RecordLine {
    /// Index in the stream.
    pub index: u64,
    /// Offset of its header.
    pub offset: u64,
    /// Type number.
    pub r#type: u32,
    /// Type name.
    pub name: &'static str,
    /// Length, header included.
    pub len: u32,
    /// Owner record and payload name, for payloads (`TASK comm`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_of: Option<String>,
}

/// A task's registers.
#[derive(Debug, Clone, Serialize)]
pub struct TaskRegs {
    /// Position of the task in the tree.
    pub task: usize,
    /// Its pid.
    pub pid: i64,
    /// Offset of its CPU record.
    pub offset: u64,
    /// The registers, by member name (empty for an opaque record).
    pub regs: Vec<(String, Value)>,
    /// For an arch whose cpu record no source describes: its length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opaque_len: Option<u32>,
}

/// The revision an image was read as.
#[derive(Debug, Clone, Serialize)]
pub struct Revision {
    /// Its id.
    pub id: String,
    /// Its user-cr commit.
    pub commit: String,
    /// Its `CHECKPOINT_VERSION`.
    pub checkpoint_version: u16,
    /// How it was detected.
    pub reasons: Vec<String>,
    /// Other revisions that read the image identically.
    pub also_fits: Vec<String>,
    /// True when given by the user.
    pub forced: bool,
}

/// The summary of an image; `ckpt info --json` prints it as it is.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInfo {
    /// Version of this JSON shape.
    pub format_version: &'static str,
    /// The image as named by the user.
    pub image: String,
    /// Bytes read.
    pub size: u64,
    /// Its revision.
    pub revision: Revision,
    /// Architecture name.
    pub arch: String,
    /// Architecture id of the header.
    pub arch_id: u16,
    /// Byte order.
    pub endian: crate::Endian,
    /// The header's kernel version.
    pub kernel: String,
    /// Time of the checkpoint, seconds since the epoch.
    pub time: u64,
    /// The same in RFC 3339.
    pub time_utc: String,
    /// uts release of the checkpointing host.
    pub uts_release: String,
    /// uts version.
    pub uts_version: String,
    /// uts machine.
    pub uts_machine: String,
    /// When the kernel version is not the uts release's (a converted image): that the
    /// uts strings and time are the checkpointing host's and the kernel version the
    /// target's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_note: Option<String>,
    /// The header's user flags.
    pub uflags: u64,
    /// Their names.
    pub uflags_names: Vec<String>,
    /// The header's constants, in header order.
    pub constants: Vec<(String, u64)>,
    /// The same, by name.
    pub constants_by_name: BTreeMap<String, u64>,
    /// Records read.
    pub records: u64,
    /// Tasks of the tree.
    pub tasks: usize,
    /// Pages of the image.
    pub pages: u64,
    /// Their bytes.
    pub page_bytes: u64,
    /// False for a failed checkpoint.
    pub complete: bool,
    /// The message of a failed checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// The pids of every task of the tree, in tree order.
    #[serde(skip)]
    pub pids: Vec<i64>,
    /// The pid the lists are filtered by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid_filter: Option<i64>,
    /// Every record (or those of the task filtered by).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_list: Option<Vec<RecordLine>>,
    /// The process tree.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree: Option<Vec<TaskLine>>,
    /// Registers of every task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch_regs: Option<Vec<TaskRegs>>,
    /// Statistics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
    /// Every task (or those filtered by).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_details: Option<Vec<TaskSummary>>,
}

/// Version of the `ckpt info --json` output (grows only by addition).
pub const INFO_FORMAT_VERSION: &str = "1.3.0";

/// Walks the image `r` (detected as `det`, named `image`) to its end.
pub fn summarise_image<R: Input>(
    r: &mut Reader<R>,
    det: &Detection,
    image: &str,
    o: &InfoOptions,
) -> Result<ImageInfo> {
    match summarise_until_error(r, det, image, o) {
        (Some(info), None) => Ok(info),
        (_, Some(e)) => Err(e),
        (None, None) => unreachable!("a summary without a HEADER comes with an error"),
    }
}

/// [`summarise_image`] of a corrupt or truncated image: the summary of what was read
/// before the error (none when not even the HEADER was), and the error.
pub fn summarise_until_error<R: Input>(
    r: &mut Reader<R>,
    det: &Detection,
    image: &str,
    o: &InfoOptions,
) -> (Option<ImageInfo>, Option<crate::Error>) {
    let (info, _, e) = summarise_with_model(r, det, image, o);
    (info, e)
}

/// [`summarise_until_error`], also giving the model of what was read when `o.tasks`
/// asks for one (the report of `ckpt report` draws its graph from it: one walk).
pub fn summarise_with_model<R: Input>(
    r: &mut Reader<R>,
    det: &Detection,
    image: &str,
    o: &InfoOptions,
) -> (Option<ImageInfo>, Option<ImageModel>, Option<crate::Error>) {
    let schema = det.schema;
    let format = Format::shared(det.schema, det.arch);
    let mut records = Vec::new();
    let mut header: Option<Decoded> = None;
    let mut uts: Vec<String> = Vec::new();
    let mut count = 0u64;
    let mut pages = 0u64;
    let mut tree = TreeTracker::new();
    let mut error_message = None;
    let mut regs: Vec<TaskRegs> = Vec::new();
    let mut stats = Stats::default();
    let mut model = o.tasks.then(|| ModelBuilder::new(format, false));
    let mut read = || -> Result<()> {
        while let Some(rec) = r.next_record()? {
            count += 1;
            tree.add(r, &rec)?;
            if let Some(m) = model.as_mut() {
                m.add(r, &rec)?;
            }
            // With a pid, the record list and the statistics are of that task's records.
            let mine = o.pid.is_none_or(|p| tree.belongs_to(&rec, p));
            if o.records && mine {
                records.push(line(&rec));
            }
            if !rec.inline {
                if o.stats && mine {
                    stats.add(format, &rec, None);
                }
                continue;
            }
            if o.stats && mine {
                let d = r.decode()?;
                stats.add(format, &rec, Some(&d));
            }
            match (rec.name, rec.payload_of) {
                ("HEADER", _) => header = Some(r.decode()?),
                ("BUFFER", Some(("HEADER", _))) => {
                    uts.push(r.decode()?.text.unwrap_or_else(|| {
                        let b = &r.record_bytes()[8..];
                        String::from_utf8_lossy(b.split(|&c| c == 0).next().unwrap_or(&[]))
                            .into_owned()
                    }))
                }
                ("PGARR", _) => pages += r.decode()?.int("nr_pages").unwrap_or(0) as u64,
                ("CPU", None) if o.arch_regs => {
                    let d = r.decode()?;
                    let opaque = d.struct_name.is_none();
                    let task = tree.current(&rec);
                    regs.push(TaskRegs {
                        task: task.map_or(0, |t| t.ids.index),
                        pid: task.map_or(0, |t| t.ids.pid),
                        offset: rec.offset,
                        regs: d
                            .fields
                            .into_iter()
                            .filter(|(p, _)| !p.starts_with("h."))
                            .collect(),
                        opaque_len: opaque.then_some(rec.len),
                    });
                }
                ("STRING", Some(("ERROR", _))) => error_message = r.decode()?.text,
                _ => {}
            }
        }
        Ok(())
    };
    let failure = read().err();
    let tasks = tree.into_tasks();
    let Some(h) = header else {
        return (
            None,
            None,
            Some(failure.unwrap_or_else(|| {
                crate::Error::new(
                    crate::ErrorKind::Grammar("the image has no HEADER record".to_string()),
                    crate::error::Position {
                        offset: 0,
                        record: Some(0),
                        rtype: None,
                    },
                )
            })),
        );
    };
    let model = model.map(ModelBuilder::finish);
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
    let uflags_names = schema
        .consts
        .iter()
        .filter(|c| {
            c.name.starts_with("CHECKPOINT_")
                && c.name != "CHECKPOINT_VERSION"
                && c.name != "CHECKPOINT_LSM_NAME_MAX"
                && c.value > 0
                && (uflags as i128) & c.value == c.value
        })
        .map(|c| c.name.clone())
        .collect();
    let time = get("time");
    let kernel = format!("{}.{}.{}", get("major"), get("minor"), get("patch"));
    let uts_release = uts.first().cloned().unwrap_or_default();
    let shown = |keep: &dyn Fn(&TaskLine) -> bool| -> Vec<i64> {
        tasks
            .iter()
            .filter(|t| keep(t))
            .map(|t| t.ids.pid)
            .collect()
    };
    let wanted = o
        .pid
        .map(|p| shown(&|t: &TaskLine| t.ids.pid == p || t.ids.tgid == p));
    let info = ImageInfo {
        format_version: INFO_FORMAT_VERSION,
        image: image.to_string(),
        size: r.offset(),
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
        kernel_note: kernel_note(&kernel, &uts_release),
        kernel,
        time,
        time_utc: humantime::format_rfc3339_seconds(
            UNIX_EPOCH + Duration::from_secs(time.min(1 << 40)),
        )
        .to_string(),
        uts_release,
        uts_version: uts.get(1).cloned().unwrap_or_default(),
        uts_machine: uts.get(2).cloned().unwrap_or_default(),
        uflags,
        uflags_names,
        constants_by_name: constants.iter().cloned().collect(),
        constants,
        records: count,
        tasks: tasks.len(),
        pages,
        page_bytes: pages * crate::limits::PAGE_SIZE as u64,
        complete: error_message.is_none(),
        error_message,
        pids: tasks.iter().map(|t| t.ids.pid).collect(),
        pid_filter: o.pid,
        record_list: o.records.then_some(records),
        arch_regs: o.arch_regs.then(|| {
            regs.into_iter()
                .filter(|t| o.pid.is_none_or(|p| t.pid == p))
                .collect()
        }),
        stats: o.stats.then(|| {
            stats.finish(&tasks.iter().map(|t| t.ids.pid).collect::<Vec<_>>());
            stats
        }),
        task_details: model.as_ref().map(|m| {
            summarise(m, format)
                .into_iter()
                .filter(|t| wanted.as_ref().is_none_or(|w| w.contains(&t.ids.pid)))
                .collect()
        }),
        tree: o.tree.then_some(tasks),
    };
    (Some(info), model, failure)
}

/// The kernel version `X.Y.Z` at the start of a uts release string (`2.6.37-ckpt`).
fn release_version(release: &str) -> Option<String> {
    let end = release
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(release.len());
    let v = release[..end].trim_end_matches('.');
    (v.split('.').count() >= 2).then(|| v.to_string())
}

/// When the header's kernel version is not the one the uts release names: a converted
/// image, whose header was retargeted while the uts strings and time stayed.
fn kernel_note(kernel: &str, uts_release: &str) -> Option<String> {
    let host = release_version(uts_release)?;
    let same = host == kernel || format!("{host}.0") == kernel || host == format!("{kernel}.0");
    (!same).then(|| {
        format!(
            "the kernel version {kernel} is the target's (a converted image); the uts strings \
             ({uts_release}) and the time are those of the host that checkpointed it ({host})"
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kernel_version_other_than_the_uts_release_is_explained() {
        assert_eq!(kernel_note("2.6.37", "2.6.37-ckpt"), None);
        assert_eq!(kernel_note("3.0.0", "3.0-rc1"), None);
        let n = kernel_note("2.6.38", "2.6.37-ckpt").unwrap();
        assert!(n.contains("2.6.38 is the target's"), "{n}");
        assert!(n.contains("(2.6.37-ckpt)"), "{n}");
        // No version in the release: nothing to compare.
        assert_eq!(kernel_note("2.6.38", "ckpt"), None);
    }
}
