//! The streaming converter: records of one revision in, records of another out.
//!
//! The mechanical part is derived from the two schemas, by name: record types,
//! object/arch/file/vma/restart-block types and every struct member are matched by their
//! names, values are carried into the target layout, members the target adds get their
//! default (0) and members it drops must be 0 unless lossy conversion is allowed. The
//! header is rewritten for the target kernel (`rev`, version, arch id, every
//! `ckpt_const`). What names cannot carry is handled by the rewrites of the crossed
//! [`crate::steps`] ([`crate::rewrite`]): records inserted, removed or reordered, values
//! whose meaning changed, and refusals where the old image lacks information the new
//! format needs.
//!
//! Everything that changes is written to the [`Ledger`], or streamed to a report
//! ([`convert_with_report`]).

use std::collections::BTreeMap;
use std::io::{self, Read, Seek};
use std::path::PathBuf;

use ckpt_format::format::{HDR_SIZE, MAGIC_HEAD};
use ckpt_format::input::Input;
use ckpt_format::layout::{Field, PrimKind, StructLayout};
use ckpt_format::read::Decoded;
use ckpt_format::schema::RecordBody;
use ckpt_format::value::{Value, decode_field, decode_struct, encode_field, put_uint};
use ckpt_format::write::Sink;
use ckpt_format::{Format, Reader, RecordInfo, Writer};
use serde::Serialize;

use crate::KernelVersion;
use crate::rewrite::{self, Plan};
use crate::steps::Rewrite;

/// What a conversion did to one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// A number that means the same thing got another value (record, object, arch ids).
    Renumbered,
    /// A member the source does not have got its default.
    Defaulted,
    /// The user supplied the value (`--cwd`, `--root`).
    Supplied,
    /// A non-default value the target cannot hold was dropped.
    Dropped,
    /// A value was rewritten because its meaning changed (header constants, units).
    Rewritten,
    /// A record was added.
    Inserted,
    /// A record was removed.
    Removed,
    /// A record moved to where the target's grammar puts it.
    Moved,
}

/// One entry of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerEntry {
    /// Index of the source record the change belongs to (an inserted record goes next
    /// to it: before it, or after it for what follows a record, like VPIDS).
    pub record_index: u64,
    /// Record type name.
    pub record: String,
    /// Member path (empty for whole records).
    pub field: String,
    /// What happened.
    pub action: Action,
    /// Old value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// New value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
    /// The migration step whose hand-written rewrite made the change
    /// (`"a272e68 -> b6cdf01"`); none for the mechanical mapping and the header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Why the value is what it is, when the action alone does not say
    /// ("v23 images record only that the parent is outside the tree").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Every change a conversion made, with counts per action.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ledger {
    /// The entries, in stream order (empty when they were streamed to a report).
    pub entries: Vec<LedgerEntry>,
    /// Number of entries per action.
    pub counts: BTreeMap<Action, u64>,
    /// The entries that lose data (kept even when streamed: a refusal lists them).
    #[serde(skip)]
    losses: Vec<LedgerEntry>,
}

impl Ledger {
    /// Adds an entry; `keep` false counts it without keeping it (it was streamed).
    pub fn add(&mut self, e: LedgerEntry, keep: bool) {
        *self.counts.entry(e.action).or_default() += 1;
        if e.action == Action::Dropped && self.losses.len() < MAX_LOSSES_KEPT {
            self.losses.push(e.clone());
        }
        if keep {
            self.entries.push(e);
        }
    }
    /// Number of entries with `action`.
    pub fn count(&self, action: Action) -> usize {
        self.counts.get(&action).copied().unwrap_or(0) as usize
    }
    /// The entries that lose data (the first [`MAX_LOSSES_KEPT`]).
    pub fn losses(&self) -> impl Iterator<Item = &LedgerEntry> {
        self.losses.iter()
    }
}

/// How many lossy entries a ledger keeps for the refusal message when entries are streamed.
pub const MAX_LOSSES_KEPT: usize = 1000;

/// Directories for the FS objects a conversion inserts: one for every task, and
/// per-task ones by pid (`--cwd PATH`, `--cwd PID=PATH`).
#[derive(Debug, Clone, Default)]
pub struct TaskPaths {
    /// For every task without its own.
    pub all: Option<String>,
    /// Per task, by pid in the root pid namespace of the image.
    pub by_pid: Vec<(i64, String)>,
}

impl TaskPaths {
    /// The same path for every task.
    pub fn all(path: &str) -> TaskPaths {
        TaskPaths {
            all: Some(path.to_string()),
            by_pid: vec![],
        }
    }

    /// Adds `PATH` (every task) or `PID=PATH` (one task).
    pub fn add(&mut self, arg: &str) -> Result<(), String> {
        match arg.split_once('=') {
            Some((pid, path)) if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) => {
                let pid: i64 = pid.parse().map_err(|_| format!("bad pid in {arg}"))?;
                if path.is_empty() {
                    return Err(format!("{arg}: no path after ="));
                }
                self.by_pid.push((pid, path.to_string()));
            }
            _ => {
                if arg.is_empty() {
                    return Err("an empty path".into());
                }
                self.all = Some(arg.to_string());
            }
        }
        Ok(())
    }

    /// The path for the task with `pid`.
    pub fn for_pid(&self, pid: i64) -> Option<&str> {
        self.by_pid
            .iter()
            .rev()
            .find(|(p, _)| *p == pid)
            .map(|(_, s)| s.as_str())
            .or(self.all.as_deref())
    }
}

/// Options of a conversion.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Convert even when non-default data is dropped.
    pub allow_lossy: bool,
    /// The kernel the target header names (default: the target revision's most likely one).
    pub kernel: Option<KernelVersion>,
    /// A kernel config option and value that selects a `ckpt_const` variant
    /// (`CONFIG_IA32_EMULATION`, `n`).
    pub config: Option<(String, String)>,
    /// The working directories for the FS objects a target needs and the source lacks.
    pub cwd: TaskPaths,
    /// The root directories for those FS objects.
    pub root: TaskPaths,
    /// The xstate size of the target CPU, when stated: HEADER_ARCH and CPU_FPU are copied
    /// unchanged, so an image with another size is refused.
    pub cpu_xstate_size: Option<u16>,
    /// Where to spill a task's objects while its records are reordered (pre-v19 <->
    /// v19); the system's temporary directory when not given.
    pub spill_dir: Option<PathBuf>,
    /// Convert past record-level refusals (sockets, pending signals): such a record is
    /// mapped by names and reported as a loss ("(refused)"). For comparing images (`ckpt
    /// diff`), never for images to restart.
    pub best_effort: bool,
    /// Convert a failed checkpoint (an image that ends in an ERROR record and its
    /// message); refused otherwise, since no kernel restarts it.
    pub allow_incomplete: bool,
}

/// Why a conversion did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// Reading or writing failed.
    #[error(transparent)]
    Format(#[from] ckpt_format::Error),
    /// The conversion cannot be made (the reason names the records and what would supply
    /// the missing information).
    #[error("conversion refused: {0}")]
    Refused(String),
    /// The report could not be written.
    #[error("writing the report: {0}")]
    Report(String),
    /// The conversion would drop non-default data (listed); allowed with `allow_lossy`.
    #[error("conversion would lose data ({} values); allow it with --allow-lossy:\n{}", .0.len(), lossy_list(.0))]
    Lossy(Vec<LedgerEntry>),
}

fn lossy_list(v: &[LedgerEntry]) -> String {
    let mut s: Vec<String> = v
        .iter()
        .take(20)
        .map(|e| match &e.old {
            Some(v) => format!(
                "  record #{} {} {} = {v} dropped",
                e.record_index, e.record, e.field
            ),
            None => format!(
                "  record #{} {} {} dropped",
                e.record_index, e.record, e.field
            ),
        })
        .collect();
    if v.len() > 20 {
        s.push(format!("  ... and {} more", v.len() - 20));
    }
    s.join("\n")
}

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
}

/// An output record, or a change of where output records go.
pub(crate) enum Out {
    /// A whole record, pre-header included (or headerless bytes).
    Bytes(Vec<u8>),
    /// From now on, records go to the spill file.
    SpillOn,
    /// Records go to the output again; the spill keeps what it holds.
    SpillPause,
    /// The spill's records are appended to the output, which records go to again.
    SpillFlush,
}

/// Receives each ledger entry as the conversion makes it.
pub type ReportFn<'r> = dyn FnMut(&LedgerEntry) -> io::Result<()> + 'r;

/// State of one conversion.
pub(crate) struct Conv<'a> {
    pub from: &'static Format,
    pub to: &'static Format,
    pub opts: &'a Options,
    pub ledger: Ledger,
    /// Entries of the record being converted (a rewrite may still take some back).
    pub pending: Vec<LedgerEntry>,
    pub report: Option<&'a mut ReportFn<'a>>,
    pub kernel: (u16, u16, u16),
    /// Shared with the per-record rewrites, which read it while `Conv` is borrowed.
    pub plan: std::rc::Rc<Plan>,
    /// Members renamed on the way: (struct, target member, source member).
    pub renames: Vec<(&'static str, String, String)>,
    /// Members of the record being converted that a rewrite sets and notes itself: the
    /// mechanical pass carries nothing into the ledger for them (a path, or a prefix
    /// ending in `.`).
    pub claimed: Vec<&'static str>,
}

/// Why the header's constants change.
const KERNEL_CONSTANTS: &str = "the header's constants are the target kernel's";

/// Enumerated members: (struct, member, enum kind).
const ENUM_FIELDS: &[(&str, &str, &str)] = &[
    ("ckpt_hdr_objref", "objtype", "obj"),
    ("ckpt_hdr_vma", "vma_type", "vma"),
    ("ckpt_hdr_file", "f_type", "file"),
    ("ckpt_hdr_ipc", "ipc_type", "hdr"),
    ("ckpt_hdr_restart_block", "function_type", "restart_block"),
    ("ckpt_hdr_netdev", "type", "netdev"),
];

fn enum_kind(struct_name: &str, path: &str) -> Option<&'static str> {
    let leaf = path.rsplit('.').next().unwrap_or(path);
    ENUM_FIELDS
        .iter()
        .find(|(s, m, _)| {
            (*s == struct_name || path.starts_with("common.") && *s == "ckpt_hdr_file")
                && *m == leaf
        })
        .map(|(_, _, k)| *k)
}

fn is_padding(path: &str) -> bool {
    let leaf = path.rsplit('.').next().unwrap_or(path);
    leaf.starts_with('_') && leaf.contains("pad")
        || leaf == "padding"
        || leaf.starts_with("h.")
        || path.starts_with("h.")
}

fn is_default(v: &Value) -> bool {
    match v {
        Value::Uint(0) | Value::Int(0) => true,
        Value::Float(f) => *f == 0.0,
        Value::Text(t) => t.is_empty(),
        Value::List(l) => l.iter().all(is_default),
        _ => false,
    }
}

impl Conv<'_> {
    pub(crate) fn note(
        &mut self,
        index: u64,
        record: &str,
        field: &str,
        action: Action,
        old: Option<Value>,
        new: Option<Value>,
    ) {
        self.pending.push(LedgerEntry {
            record_index: index,
            record: record.to_string(),
            field: field.to_string(),
            action,
            old,
            new,
            step: None,
            reason: None,
        });
    }

    /// Notes a change of the mechanical mapping, unless a rewrite claimed the member.
    fn note_mechanical(
        &mut self,
        index: u64,
        record: &str,
        field: &str,
        action: Action,
        old: Option<Value>,
        new: Option<Value>,
    ) {
        if !self.is_claimed(field) {
            self.note(index, record, field, action, old, new);
        }
    }

    /// Gives the entry just noted its reason.
    pub(crate) fn because(&mut self, reason: impl Into<String>) {
        if let Some(e) = self.pending.last_mut() {
            e.reason = Some(reason.into());
        }
    }

    /// Whether a rewrite sets member `path` of the current record itself.
    fn is_claimed(&self, path: &str) -> bool {
        self.claimed
            .iter()
            .any(|c| *c == path || c.ends_with('.') && path.starts_with(c))
    }

    /// Notes a change made by the hand-written rewrite `rw` (the entry names its step).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn note_step(
        &mut self,
        rw: Rewrite,
        index: u64,
        record: &str,
        field: &str,
        action: Action,
        old: Option<Value>,
        new: Option<Value>,
    ) {
        self.note(index, record, field, action, old, new);
        let step = self.plan.step_of(rw);
        if let Some(e) = self.pending.last_mut() {
            e.step = Some(step);
        }
    }

    /// Moves the entries of the record just converted to the ledger (or the report).
    fn commit_pending(&mut self) -> Result<(), ConvertError> {
        self.claimed.clear();
        for e in std::mem::take(&mut self.pending) {
            if let Some(r) = self.report.as_mut() {
                r(&e).map_err(|err| ConvertError::Report(err.to_string()))?;
                self.ledger.add(e, false);
            } else {
                self.ledger.add(e, true);
            }
        }
        Ok(())
    }

    /// The source member that target member `path` of struct `st` was renamed from.
    fn renamed_from(&self, st: &str, path: &str) -> Option<&str> {
        self.renames
            .iter()
            .find(|(s, now, _)| *s == st && now == path)
            .map(|(_, _, was)| was.as_str())
    }

    /// The target record type number of `name`.
    pub(crate) fn target_type(&self, name: &str) -> Result<u32, ConvertError> {
        self.to.record_type(name).ok_or_else(|| {
            ConvertError::Refused(format!(
                "the image has {name} records, which revision {} does not have",
                self.to.schema.id
            ))
        })
    }

    /// Renumbers an enumerated value by name.
    fn remap_enum(&self, kind: &str, v: i128, what: &str) -> Result<i128, ConvertError> {
        let name = self
            .from
            .schema
            .enum_name(kind, v as i64, self.from.arch)
            .ok_or_else(|| {
                ConvertError::Refused(format!(
                    "{what}: value {v} is not a {kind} value of {}",
                    self.from.schema.id
                ))
            })?;
        self.to
            .schema
            .enum_value(kind, name, self.to.arch)
            .map(|x| x as i128)
            .ok_or_else(|| {
                ConvertError::Refused(format!(
                    "{what}: {name} does not exist in {}",
                    self.to.schema.id
                ))
            })
    }

    /// Carries the fields of `src` (laid out as `sl` in the source) into `dst` (laid out as
    /// `dl` in the target), by name.
    // The record's index and name travel with the layouts for the ledger.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn map_struct(
        &mut self,
        index: u64,
        record: &str,
        sl: &StructLayout,
        src: &[u8],
        dl: &StructLayout,
        dst: &mut [u8],
        prefix: &str,
    ) -> Result<(), ConvertError> {
        let (se, de) = (self.from.endian(), self.to.endian());
        let sfields = sl.fields();
        let dfields = dl.fields();
        // Source members that some target member takes (by name or by a rename): the
        // others are checked for a loss below.
        let mut carried = vec![false; sfields.len()];
        for df in dfields {
            let path: std::borrow::Cow<'_, str> = if prefix.is_empty() {
                df.path.as_str().into()
            } else {
                format!("{prefix}{}", df.path).into()
            };
            let renamed = self.renamed_from(&dl.name, &df.path);
            let takes = |f: &Field| f.path == df.path || Some(f.path.as_str()) == renamed;
            for (c, f) in carried.iter_mut().zip(sfields) {
                *c |= takes(f);
            }
            match sfields.iter().find(|f| takes(f)) {
                // Character arrays are bytes (names may not be UTF-8): copied as they
                // are, cut or padded with NULs.
                Some(sf) if sf.prim.kind == PrimKind::Char && df.prim.kind == PrimKind::Char => {
                    let (so, n) = (sf.offset as usize, sf.count as usize);
                    let (d0, m) = (df.offset as usize, df.count as usize);
                    let Some(from) = src.get(so..so + n) else {
                        continue;
                    };
                    let keep = n.min(m);
                    if let Some(to) = dst.get_mut(d0..d0 + m) {
                        to[..keep].copy_from_slice(&from[..keep]);
                        to[keep..].fill(0);
                    }
                    if from[keep..].iter().any(|&b| b != 0) {
                        let cut = String::from_utf8_lossy(&from[keep..]).into_owned();
                        self.note_mechanical(
                            index,
                            record,
                            &path,
                            Action::Dropped,
                            Some(Value::Text(cut)),
                            None,
                        );
                    }
                }
                Some(sf) => {
                    let Some(v) = decode_field(sf, src, se) else {
                        continue;
                    };
                    let v = match enum_kind(&sl.name, &sf.path) {
                        Some(kind) => {
                            let old = v.as_int().unwrap_or(0);
                            let new = self.remap_enum(kind, old, &format!("{record} {path}"))?;
                            if new != old {
                                self.note_mechanical(
                                    index,
                                    record,
                                    &path,
                                    Action::Renumbered,
                                    Some(v.clone()),
                                    Some(Value::Int(new as i64)),
                                );
                            }
                            Value::Int(new as i64)
                        }
                        None => v,
                    };
                    self.put(index, record, &path, df, &v, dst, de)?;
                }
                None => {
                    if !is_padding(&df.path) {
                        let documented = crate::steps::default_of(&dl.name, &df.path);
                        let default = documented.map_or(0, |d| d.value);
                        if default != 0 {
                            encode_field(df, &Value::Uint(default), dst, de)
                                .map_err(ConvertError::Refused)?;
                        }
                        self.note_mechanical(
                            index,
                            record,
                            &path,
                            Action::Defaulted,
                            None,
                            Some(Value::Uint(default)),
                        );
                        if let Some(d) = documented
                            && !self.is_claimed(&path)
                        {
                            self.because(d.why);
                        }
                    }
                }
            }
        }
        for (sf, &carried) in sfields.iter().zip(&carried) {
            if carried || is_padding(&sf.path) {
                continue;
            }
            // A value equal to the member's documented default (what the target's kernel
            // assumes without the member) is no loss.
            let documented = crate::steps::default_of(&sl.name, &sf.path);
            let Some(v) = decode_field(sf, src, se) else {
                continue;
            };
            if is_default(&v) {
                continue;
            }
            let path = format!("{prefix}{}", sf.path);
            match documented {
                Some(d) if v.as_int() == Some(i128::from(d.value)) => {
                    self.note_mechanical(index, record, &path, Action::Removed, Some(v), None);
                    if !self.is_claimed(&path) {
                        self.because(format!(
                            "{} is the member's documented default, which {} assumes without it",
                            d.shown, self.to.schema.id
                        ));
                    }
                }
                _ => self.note_mechanical(index, record, &path, Action::Dropped, Some(v), None),
            }
        }
        Ok(())
    }

    /// Writes `v` into target field `df`, narrowing arrays and integers with a ledger entry
    /// when values do not fit.
    #[allow(clippy::too_many_arguments)]
    fn put(
        &mut self,
        index: u64,
        record: &str,
        path: &str,
        df: &Field,
        v: &Value,
        dst: &mut [u8],
        de: ckpt_format::Endian,
    ) -> Result<(), ConvertError> {
        let fitted = match v {
            Value::List(items) if items.len() != df.count as usize => {
                let n = df.count as usize;
                if items.len() > n && !items[n..].iter().all(is_default) {
                    self.note_mechanical(
                        index,
                        record,
                        path,
                        Action::Dropped,
                        Some(Value::List(items[n..].to_vec())),
                        None,
                    );
                }
                if items.len() < n {
                    self.note_mechanical(
                        index,
                        record,
                        path,
                        Action::Defaulted,
                        None,
                        Some(Value::Uint(0)),
                    );
                }
                let mut l: Vec<Value> = items.iter().take(n).cloned().collect();
                l.resize(n, Value::Uint(0));
                if n == 1 { l.remove(0) } else { Value::List(l) }
            }
            Value::Text(t) if t.len() > df.count as usize => {
                self.note_mechanical(index, record, path, Action::Dropped, Some(v.clone()), None);
                let mut end = df.count as usize;
                while !t.is_char_boundary(end) {
                    end -= 1;
                }
                Value::Text(t[..end].to_string())
            }
            other => other.clone(),
        };
        if let Err(e) = encode_field(df, &fitted, dst, de) {
            // A value wider than the target member: keep the low bits, say so.
            let bits = 8 * df.prim.size;
            let i = fitted.as_int().unwrap_or(0);
            let masked = (i as u128 & ((1u128 << bits) - 1)) as u64;
            let kept = if df.prim.kind == PrimKind::Signed {
                Value::Int(((masked << (64 - bits)) as i64) >> (64 - bits))
            } else {
                Value::Uint(masked)
            };
            encode_field(df, &kept, dst, de)
                .map_err(|_| ConvertError::Refused(format!("{record} {path}: {e}")))?;
            self.note_mechanical(
                index,
                record,
                path,
                Action::Dropped,
                Some(fitted),
                Some(kept),
            );
        }
        Ok(())
    }

    /// The struct a record holds in a format (FILE: by its type).
    pub(crate) fn struct_of(f: &Format, name: &str, bytes: &[u8]) -> Option<String> {
        match &f.schema.record_def(name, f.arch)?.body {
            RecordBody::Struct { name, .. } => Some(name.clone()),
            RecordBody::Select {
                common,
                selector,
                cases,
            } => {
                let cl = f.layout(common).ok()?;
                let sf = cl.fields().iter().find(|x| x.path == *selector)?;
                let v = decode_field(sf, bytes, f.endian())?.as_int()?;
                // An unknown type reads as the common part, as the reader does.
                let case = f.schema.enum_name("file", v as i64, f.arch).unwrap_or("");
                Some(
                    cases
                        .iter()
                        .find(|(c, _)| c == case)
                        .map_or(common.clone(), |(_, s)| s.clone()),
                )
            }
            _ => None,
        }
    }

    /// Converts one inline record of the source to the target, mechanically.
    pub(crate) fn mechanical(
        &mut self,
        info: &RecordInfo,
        bytes: &[u8],
        decoded: &Decoded,
    ) -> Result<Vec<u8>, ConvertError> {
        let name = info.name;
        if info.headerless {
            return Ok(bytes.to_vec());
        }
        let rtype = self.target_type(name)?;
        if rtype != info.rtype {
            self.note(
                info.index,
                name,
                "h.type",
                Action::Renumbered,
                Some(Value::Uint(info.rtype as u64)),
                Some(Value::Uint(rtype as u64)),
            );
        }
        let de = self.to.endian();
        // Payload buffers with typed elements: map element by element.
        if let Some((owner, pname)) = info.payload_of
            && let Some((sty, dty)) = self.element_types(owner, pname)
            && sty != "pgarr_chunk"
            && sty != "pids_entry"
            && let (Ok(sl), Ok(dl)) = (self.from.layout(&sty), self.to.layout(&dty))
        {
            let body = &bytes[HDR_SIZE as usize..];
            let mut out = vec![0u8; HDR_SIZE as usize];
            for (k, chunk) in body.chunks_exact(sl.size.max(1) as usize).enumerate() {
                let mut d = vec![0u8; dl.size as usize];
                self.map_struct(
                    info.index,
                    name,
                    &sl,
                    chunk,
                    &dl,
                    &mut d,
                    &format!("{pname}[{k}]."),
                )?;
                out.extend_from_slice(&d);
            }
            put_uint(&mut out[..4], rtype as u64, de);
            let len = out.len() as u64;
            put_uint(&mut out[4..8], len, de);
            return Ok(out);
        }
        let sst = Self::struct_of(self.from, name, bytes);
        let Some(sst) = sst else {
            // Bytes, strings: the body as it is.
            let mut out = bytes.to_vec();
            put_uint(&mut out[..4], rtype as u64, de);
            return Ok(out);
        };
        let sl = self.from.layout(&sst).map_err(|e| {
            ConvertError::Format(ckpt_format::Error::new(e.into(), Default::default()))
        })?;
        // The target struct: FILE-like records by their (renumbered) type; others by name.
        let dst_name = match &self
            .to
            .schema
            .record_def(name, self.to.arch)
            .map(|d| &d.body)
        {
            Some(RecordBody::Select { cases, common, .. }) => {
                let f_type = decoded
                    .int("common.f_type")
                    .or(decoded.int("f_type"))
                    .unwrap_or(0);
                let case = self
                    .from
                    .schema
                    .enum_name("file", f_type as i64, self.from.arch)
                    .unwrap_or("");
                cases
                    .iter()
                    .find(|(c, _)| c == case)
                    .map_or(common.clone(), |(_, s)| s.clone())
            }
            Some(RecordBody::Struct { name: n, .. }) => n.clone(),
            _ => {
                return Err(ConvertError::Refused(format!(
                    "{name} holds {sst} in {} but no struct in {}",
                    self.from.schema.id, self.to.schema.id
                )));
            }
        };
        let dl = self.to.layout(&dst_name).map_err(|e| {
            ConvertError::Format(ckpt_format::Error::new(e.into(), Default::default()))
        })?;
        // The tail (elements after the struct, in the same record).
        let tail = self.tail(info, bytes, &sl)?;
        let mut out = vec![0u8; dl.size as usize];
        self.map_struct(
            info.index,
            name,
            &sl,
            &bytes[..(sl.size as usize).min(bytes.len())],
            &dl,
            &mut out,
            "",
        )?;
        let at = self.tail_start(name, &dl);
        out.truncate(at.max(dl.size as usize).min(out.len()));
        if at < dl.size as usize {
            // GROUPINFO: the tail starts inside the struct's padding; the record is
            // sizeof + the elements.
            let len = dl.size as usize + tail.len();
            out.resize(len, 0);
            out[at..at + tail.len()].copy_from_slice(&tail);
        } else {
            out.extend_from_slice(&tail);
        }
        put_uint(&mut out[..4], rtype as u64, de);
        let len = out.len() as u64;
        put_uint(&mut out[4..8], len, de);
        Ok(out)
    }

    fn tail_start(&self, name: &str, dl: &StructLayout) -> usize {
        match self
            .to
            .schema
            .record_def(name, self.to.arch)
            .map(|d| &d.body)
        {
            Some(RecordBody::Struct { tail: Some(t), .. }) => {
                t.at.as_ref()
                    .and_then(|m| dl.offset_of(m))
                    .unwrap_or(dl.size) as usize
            }
            _ => dl.size as usize,
        }
    }

    /// The tail elements of a record, carried into the target element layout.
    fn tail(
        &mut self,
        info: &RecordInfo,
        bytes: &[u8],
        sl: &StructLayout,
    ) -> Result<Vec<u8>, ConvertError> {
        let name = info.name;
        let st = |f: &Format| match f.schema.record_def(name, f.arch).map(|d| &d.body) {
            Some(RecordBody::Struct { tail: Some(t), .. }) => Some(t.clone()),
            _ => None,
        };
        let (Some(ts), td) = (st(self.from), st(self.to)) else {
            return Ok(vec![]);
        };
        let start = ts
            .at
            .as_ref()
            .and_then(|m| sl.offset_of(m))
            .unwrap_or(sl.size) as usize;
        let end = match ts.at {
            // GROUPINFO: sizeof + n elements, starting inside the padding.
            Some(_) => bytes.len() - (sl.size as usize - start),
            None => bytes.len(),
        };
        let src = &bytes[start.min(bytes.len())..end.max(start).min(bytes.len())];
        let Some(td) = td else {
            if !src.iter().all(|&b| b == 0) {
                self.note(info.index, name, "tail", Action::Dropped, None, None);
            }
            return Ok(vec![]);
        };
        let se = self.from.layouts.type_layout(&ts.elem);
        let de_ = self.to.layouts.type_layout(&td.elem);
        match (se, de_) {
            (
                Ok(ckpt_format::layout::TypeLayout::Struct(a)),
                Ok(ckpt_format::layout::TypeLayout::Struct(b)),
            ) => {
                let mut out = Vec::new();
                for (k, chunk) in src.chunks_exact(a.size.max(1) as usize).enumerate() {
                    let mut d = vec![0u8; b.size as usize];
                    self.map_struct(
                        info.index,
                        name,
                        &a,
                        chunk,
                        &b,
                        &mut d,
                        &format!("tail[{k}]."),
                    )?;
                    out.extend_from_slice(&d);
                }
                Ok(out)
            }
            (
                Ok(ckpt_format::layout::TypeLayout::Prim(a)),
                Ok(ckpt_format::layout::TypeLayout::Prim(b)),
            ) if a.size == b.size => {
                if self.from.endian() == self.to.endian() {
                    Ok(src.to_vec())
                } else {
                    Err(ConvertError::Refused("byte order differs".into()))
                }
            }
            _ => Err(ConvertError::Refused(format!(
                "the tail of {name} changed its element type"
            ))),
        }
    }

    /// Element types of a payload in the source and the target.
    fn element_types(&self, owner: &str, pname: &str) -> Option<(String, String)> {
        let el = |f: &Format| {
            f.schema
                .payload_def(owner, f.arch)?
                .items
                .iter()
                .find(|i| i.name == pname)?
                .elements
                .as_ref()
                .map(|(t, _)| t.clone())
        };
        let (a, b) = (el(self.from)?, el(self.to)?);
        // Primitive elements need no mapping.
        if ckpt_format::layout::Prim::from_c(&a, self.from.arch).is_some() {
            return None;
        }
        Some((a, b))
    }

    /// The target HEADER: rev, kernel version, arch id and constants of the target kernel.
    pub(crate) fn header(
        &mut self,
        info: &RecordInfo,
        bytes: &[u8],
    ) -> Result<Vec<u8>, ConvertError> {
        let decoded = ckpt_format::read::decode_record(self.from, info, bytes)
            .map_err(|k| ConvertError::Format(ckpt_format::Error::new(k, Default::default())))?;
        // The constants are the target kernel's, whatever the source said: a renamed
        // slot (mm_saved_auxv_len -> at_vector_size) is rewritten, not dropped. They are
        // noted here, not by the mechanical pass.
        self.claimed.push("constants.");
        let mut out = self.mechanical(info, bytes, &decoded)?;
        let source_path = |conv: &Self, path: &str| {
            conv.renamed_from("ckpt_hdr_header", path)
                .unwrap_or(path)
                .to_string()
        };
        let dl = self
            .to
            .layout("ckpt_hdr_header")
            .map_err(|e| ConvertError::Refused(e.to_string()))?;
        let de = self.to.endian();
        let kc = self.plan.constants.clone();
        let mut set =
            |path: &str, v: u64, action: Action, conv: &mut Self| -> Result<(), ConvertError> {
                let f = dl
                    .fields()
                    .iter()
                    .find(|f| f.path == path)
                    .ok_or_else(|| ConvertError::Refused(format!("no header field {path}")))?;
                // A member the source lacks has no old value: it is made up either way.
                let old = decoded
                    .get(&source_path(conv, path))
                    .and_then(|_| decode_field(f, &out, de));
                let new = Value::Uint(v);
                if old.as_ref().and_then(Value::as_int) != Some(v as i128) {
                    conv.note(info.index, "HEADER", path, action, old, Some(new.clone()));
                    if path.starts_with("constants.") {
                        conv.because(KERNEL_CONSTANTS);
                    }
                }
                encode_field(f, &new, &mut out, de).map_err(ConvertError::Refused)
            };
        set(
            "rev",
            self.to.schema.checkpoint_version as u64,
            Action::Rewritten,
            self,
        )?;
        set("major", self.kernel.0 as u64, Action::Rewritten, self)?;
        set("minor", self.kernel.1 as u64, Action::Rewritten, self)?;
        set("patch", self.kernel.2 as u64, Action::Rewritten, self)?;
        for (n, v) in &kc {
            set(&format!("constants.{n}"), *v, Action::Rewritten, self)?;
        }
        // arch_id: the target's number (little-endian on every arch: `__le16`).
        let id = self.to.schema.arch_id(self.to.arch).ok_or_else(|| {
            ConvertError::Refused(format!("{} has no {}", self.to.schema.id, self.to.arch))
        })?;
        set("arch_id", id as u64, Action::Renumbered, self)?;
        // Constants of the target that the target kernel's list does not name keep the
        // source's value, or their default when the source has none.
        let target_constants: Vec<String> = dl
            .fields()
            .iter()
            .map(|f| f.path.clone())
            .filter(|p| p.starts_with("constants."))
            .collect();
        for path in &target_constants {
            let set_above = kc.iter().any(|(n, _)| path[10..] == **n);
            if !set_above && decoded.get(&source_path(self, path)).is_none() {
                let f = dl.fields().iter().find(|f| f.path == *path);
                let new = f.and_then(|f| decode_field(f, &out, de));
                self.note(info.index, "HEADER", path, Action::Defaulted, None, new);
            }
        }
        // Constants of the source kernel that the target does not have.
        for (path, v) in &decoded.fields {
            let carried = target_constants
                .iter()
                .any(|t| source_path(self, t) == *path);
            if path.starts_with("constants.") && !carried && !is_default(v) {
                self.note(
                    info.index,
                    "HEADER",
                    path,
                    Action::Removed,
                    Some(v.clone()),
                    None,
                );
                self.because(KERNEL_CONSTANTS);
            }
        }
        let magic = dl.fields().iter().find(|f| f.path == "magic").unwrap();
        encode_field(magic, &Value::Uint(MAGIC_HEAD), &mut out, de)
            .map_err(ConvertError::Refused)?;
        Ok(out)
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

/// Where converted records go: the output, or (while a task's records are reordered) a
/// spill file that is appended to the output later.
struct Sinks<W: Sink> {
    main: Writer<W>,
    spill: Option<Writer<io::BufWriter<std::fs::File>>>,
    spilling: bool,
    spill_dir: Option<PathBuf>,
}

impl<W: Sink> Sinks<W> {
    fn control(&mut self, o: &Out, endian: ckpt_format::Endian) -> Result<(), ConvertError> {
        match o {
            Out::Bytes(_) => {}
            Out::SpillOn => {
                if self.spill.is_none() {
                    let f = match &self.spill_dir {
                        Some(d) => tempfile::tempfile_in(d),
                        None => tempfile::tempfile(),
                    }
                    .map_err(|e| spill_error("create", e))?;
                    self.spill = Some(Writer::new(io::BufWriter::new(f), endian));
                }
                self.spilling = true;
            }
            Out::SpillPause => self.spilling = false,
            Out::SpillFlush => {
                self.spilling = false;
                if let Some(w) = self.spill.take() {
                    let (bytes, records) = (w.offset(), w.records());
                    let mut f = w
                        .finish()?
                        .into_inner()
                        .map_err(|e| spill_error("write", e.into_error()))?;
                    f.rewind().map_err(|e| spill_error("read", e))?;
                    self.main
                        .append_records(&mut f.take(bytes), bytes, records)?;
                }
            }
        }
        Ok(())
    }

    fn record_bytes(&mut self, b: &[u8]) -> Result<(), ConvertError> {
        match (&mut self.spill, self.spilling) {
            (Some(w), true) => w.write_record_bytes(b)?,
            _ => self.main.write_record_bytes(b)?,
        }
        Ok(())
    }

    fn begin(&mut self, rtype: u32, len: u64) -> Result<(), ConvertError> {
        match (&mut self.spill, self.spilling) {
            (Some(w), true) => w.begin_record(rtype, len)?,
            _ => self.main.begin_record(rtype, len)?,
        }
        Ok(())
    }

    /// Copies the rest of the reader's streamed body (in the kernel, file to file).
    fn copy_payload<R: Input>(&mut self, reader: &mut Reader<R>) -> Result<(), ConvertError> {
        match (&mut self.spill, self.spilling) {
            (Some(w), true) => w.copy_payload_from(reader)?,
            _ => self.main.copy_payload_from(reader)?,
        };
        Ok(())
    }
}

fn spill_error(what: &str, e: io::Error) -> ConvertError {
    ConvertError::Format(ckpt_format::Error::new(
        ckpt_format::ErrorKind::Io(io::Error::new(
            e.kind(),
            format!("cannot {what} the spill file (records being reordered): {e}"),
        )),
        Default::default(),
    ))
}

fn convert_inner<'a, R: Input, W: Sink>(
    mut reader: Reader<R>,
    to: &'static ckpt_format::Schema,
    opts: &'a Options,
    out: W,
    report: Option<&'a mut ReportFn<'a>>,
) -> Result<Summary, ConvertError> {
    let from = Format::shared(reader.format().schema, reader.format().arch);
    let arch = from.arch;
    if !to.has_arch(arch) {
        return Err(ConvertError::Refused(format!(
            "revision {} has no {arch} (it has {}); converting between architectures is not supported",
            to.id,
            to.arches
                .iter()
                .map(|(a, _)| a.name())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let to_f = Format::shared(to, arch);
    let plan = rewrite::plan(from, to_f, opts)?;
    let mut conv = Conv {
        from,
        to: to_f,
        opts,
        ledger: Ledger::default(),
        pending: Vec::new(),
        report,
        kernel: plan.kernel,
        plan: std::rc::Rc::new(plan),
        renames: crate::steps::renames_between(from.schema, to),
        claimed: Vec::new(),
    };
    let mut sinks = Sinks {
        main: Writer::new(out, to_f.endian()),
        spill: None,
        spilling: false,
        spill_dir: opts.spill_dir.clone(),
    };
    let mut state = rewrite::State::default();
    let (mut records_in, mut changed) = (0u64, 0u64);
    let mut checkpoint_failed = None;
    while let Some(info) = reader.next_record()? {
        records_in += 1;
        if info.payload_of.is_some_and(|(owner, _)| owner == "ERROR") {
            let message = reader.decode()?.text.unwrap_or_default();
            if !(opts.allow_incomplete || opts.best_effort) {
                return Err(ConvertError::Refused(format!(
                    "the image is a failed checkpoint: its ERROR record says \"{message}\" \
                     (record #{} at offset {:#x}); no kernel restarts it; convert it anyway \
                     with --allow-incomplete",
                    info.index, info.offset
                )));
            }
            checkpoint_failed = Some(message);
        }
        if !info.inline {
            // Streamed bodies (pages): re-framed, copied through.
            let rtype = conv.target_type(info.name)?;
            let outs = rewrite::around_stream(&mut conv, &mut state, &info)?;
            for o in outs {
                emit(&mut sinks, o, to_f.endian())?;
            }
            sinks.begin(rtype, info.body_len() as u64)?;
            sinks.copy_payload(&mut reader)?;
            conv.commit_pending()?;
            continue;
        }
        let bytes = reader.record_bytes().to_vec();
        let outs = rewrite::record(&mut conv, &mut state, &info, &bytes)?;
        let data: Vec<&Vec<u8>> = outs
            .iter()
            .filter_map(|o| match o {
                Out::Bytes(b) => Some(b),
                _ => None,
            })
            .collect();
        if !(data.len() == 1 && *data[0] == bytes) {
            changed += 1;
        }
        conv.commit_pending()?;
        if info.name == "TAIL" {
            let losses: Vec<LedgerEntry> = conv.ledger.losses().cloned().collect();
            if !losses.is_empty() && !opts.allow_lossy {
                return Err(ConvertError::Lossy(losses));
            }
        }
        for o in outs {
            emit(&mut sinks, o, to_f.endian())?;
        }
    }
    let records_out = sinks.main.records();
    sinks.main.finish()?;
    let k = conv.kernel;
    Ok(Summary {
        from: from.schema.id.clone(),
        to: to.id.clone(),
        path: rewrite::path(from.schema, to),
        kernel: format!("{}.{}.{}", k.0, k.1, k.2),
        records_in,
        records_out,
        records_changed: changed,
        ledger: conv.ledger,
        checkpoint_failed,
    })
}

fn emit<W: Sink>(
    sinks: &mut Sinks<W>,
    o: Out,
    endian: ckpt_format::Endian,
) -> Result<(), ConvertError> {
    match o {
        Out::Bytes(b) => sinks.record_bytes(&b),
        other => sinks.control(&other, endian),
    }
}

/// Decodes a record's struct (used by steps).
pub(crate) fn fields_of(f: &Format, name: &str, bytes: &[u8]) -> Vec<(String, Value)> {
    match Conv::struct_of(f, name, bytes).and_then(|s| f.layout(&s).ok()) {
        Some(l) => decode_struct(&l, bytes, f.endian()),
        None => vec![],
    }
}
