//! `--fd PID:FD=PATH`: one descriptor of one task opens another path. A file object that
//! only this descriptor uses is changed in place (its FILE_NAME, and `f_pos` with
//! `--pos`); a shared one is split: a new file object (a fresh tag, its OBJREF, FILE and
//! FILE_NAME records) is written just before the descriptor's FILE_DESC, where the kernel
//! writes a file at its first sight, and the descriptor refers to it; the other users
//! keep the original.

use std::collections::BTreeMap;

use ckpt_format::model::ImageModel;
use ckpt_format::read::decode_record;
use ckpt_format::value::{Value, encode_field};
use ckpt_format::{Format, RecordInfo};

use crate::error::ConvertError;
use crate::ledger::{Action, LedgerEntry};
use crate::transform::{Cx, Out};

/// What the survey found for one `--fd`.
#[derive(Debug, Clone)]
pub(super) struct Redirect {
    /// Index of the operation in the edit.
    pub op: usize,
    pub fd: i64,
    pub path: String,
    pub pos: Option<u64>,
    /// Tag of the task's file table and of the descriptor's file object.
    pub table: i64,
    pub file: i64,
    /// Whether anything else refers to the file object (then it is split).
    pub shared: bool,
    /// The tag of the new file object when split.
    pub new_tag: i64,
}

/// Files that are opened by path, and can therefore be opened at another one.
const BY_PATH: &[&str] = &["GENERIC", "FIFO"];

/// Resolves `PID:FD` against the model of the image: the task's file table, the
/// descriptor's file object and whether it is shared (`refs`: how many members of the
/// image refer to each tag).
#[allow(clippy::too_many_arguments)]
pub(super) fn resolve(
    f: &Format,
    model: &ImageModel,
    refs: &BTreeMap<i64, u32>,
    next_tag: &mut i64,
    op: usize,
    what: &str,
    (pid, fd): (i64, i64),
    (path, pos): (&str, Option<u64>),
) -> Result<Redirect, ConvertError> {
    let refuse = |why: String| ConvertError::Refused(format!("{what}: {why}"));
    let found = super::target::descriptor(f, model, what, pid, fd)?;
    let ftype = found.file_type;
    if !BY_PATH.contains(&ftype) {
        let kind = match ftype {
            "PIPE" => "a pipe",
            "SOCKET" => "a socket",
            "TTY" => "a terminal",
            "EPOLL" => "an epoll instance",
            "EVENTFD" => "an eventfd",
            _ => "a file of an unknown kind",
        };
        return Err(refuse(format!(
            "descriptor {fd} of task {pid} is {kind}, which is not opened by path; only files \
             opened by path (regular files, directories, devices, fifos) can be redirected"
        )));
    }
    let shared = refs.get(&found.file).copied().unwrap_or(0) > 1;
    let new_tag = if shared {
        *next_tag += 1;
        *next_tag
    } else {
        0
    };
    Ok(Redirect {
        op,
        fd,
        path: path.to_string(),
        pos,
        table: found.table,
        file: found.file,
        shared,
        new_tag,
    })
}

/// A file object's OBJREF, FILE and FILE_NAME records.
type FileRecords = (Vec<u8>, Vec<u8>, Vec<u8>);

/// The records of the file objects being redirected, kept as they pass (a split copies
/// them), and where the stream is.
#[derive(Debug, Default)]
pub(super) struct Stream {
    /// The file table whose descriptors come now, and the one whose OBJREF came and
    /// whose FILE_TABLE record has not.
    table: Option<i64>,
    pending_table: Option<i64>,
    /// Whether file objects came between the pending table's OBJREF and its record:
    /// revisions before v19 write a table's files before its FILE_TABLE record, later
    /// ones before each FILE_DESC.
    files_first: bool,
    /// The split objects of the current table were written before its FILE_TABLE.
    split_written: bool,
    /// The redirected file whose records come now.
    capturing: Option<i64>,
    /// By file tag: its OBJREF, FILE and FILE_NAME records.
    kept: BTreeMap<i64, FileRecords>,
}

fn int(f: &Format, info: &RecordInfo, rec: &[u8], path: &str) -> Option<i64> {
    decode_record(f, info, rec)
        .ok()?
        .int(path)
        .map(|v| v as i64)
}

/// Sets member `path` of record `rec` (`info`) to `v`.
pub(super) fn set(
    f: &Format,
    info: &RecordInfo,
    rec: &mut [u8],
    path: &str,
    v: i64,
) -> Result<(), ConvertError> {
    let d = ckpt_format::read::decode_record_typed(f, info, rec)
        .map_err(|e| ConvertError::Refused(e.to_string()))?;
    let field = d
        .fields
        .iter()
        .find(|x| x.path == path || x.path.ends_with(&format!(".{path}")))
        .ok_or_else(|| ConvertError::Refused(format!("{}: no member {path}", info.name)))?
        .field();
    encode_field(&field, &Value::Int(v), rec, f.endian()).map_err(ConvertError::Refused)
}

/// The value of member `path` of record `rec` (`info`).
pub(super) fn old_value(f: &Format, info: &RecordInfo, rec: &[u8], path: &str) -> Option<Value> {
    let d = decode_record(f, info, rec).ok()?;
    d.fields
        .iter()
        .find(|(p, _)| p == path || p.ends_with(&format!(".{path}")))
        .map(|(_, v)| v.clone())
}

impl Stream {
    /// The OBJREF, FILE and FILE_NAME of the new file object of split `r`, made from
    /// the original's, with their ledger entries.
    fn split_objects(
        &self,
        cx: &mut Cx<'_>,
        r: &Redirect,
        ops: &[super::Operation],
        changed: &mut [u64],
    ) -> Result<Vec<Out>, ConvertError> {
        let (f, info) = (cx.from, cx.rec);
        let (objref, file, name) = self.kept.get(&r.file).cloned().ok_or_else(|| {
            ConvertError::Refused(format!(
                "{}: the file object {} comes after its descriptor (record #{})",
                ops[r.op], r.file, info.index
            ))
        })?;
        let at = |name: &'static str| RecordInfo {
            name,
            payload_of: None,
            ..info.clone()
        };
        let mut objref = objref;
        set(f, &at("OBJREF"), &mut objref, "objref", r.new_tag)?;
        let mut file = file;
        if let Some(pos) = r.pos {
            set(f, &at("FILE"), &mut file, "f_pos", pos as i64)?;
        }
        let name = super::write::with_text(f, &name, &r.path).map_err(ConvertError::Refused)?;
        let why = format!(
            "a file object of its own for the descriptor ({})",
            ops[r.op]
        );
        for rname in ["OBJREF", "FILE", "FILE_NAME"] {
            let new = (rname == "FILE_NAME").then(|| Value::Text(r.path.clone()));
            cx.note_entry(LedgerEntry::new(
                info.index,
                rname,
                "",
                Action::Inserted,
                None,
                new,
            ))
            .reason = Some(why.clone());
        }
        changed[r.op] += 1;
        Ok(vec![
            Out::Record(objref),
            Out::Record(file),
            Out::Record(name),
        ])
    }

    /// Follows record `rec` and applies the redirects to it. Returns the records that
    /// replace it, when it is replaced (a split descriptor).
    pub(super) fn record(
        &mut self,
        cx: &mut Cx<'_>,
        redirects: &[Redirect],
        ops: &[super::Operation],
        changed: &mut [u64],
        rec: &mut Vec<u8>,
    ) -> Result<Option<Vec<Out>>, ConvertError> {
        let (f, info) = (cx.from, cx.rec);
        if info.payload_of.is_some() && info.name != "FILE_NAME" {
            return Ok(None);
        }
        match info.name {
            "OBJREF" => {
                let d = decode_record(f, info, rec).ok();
                let member = |p: &str| d.as_ref().and_then(|d| d.int(p)).map(|v| v as i64);
                let tag = member("objref").unwrap_or(0);
                let kind = member("objtype")
                    .and_then(|t| f.schema.enum_name("obj", t, f.arch))
                    .unwrap_or("?");
                if kind == "FILE" {
                    // A file's own objects (its credentials, a label) may come between
                    // its OBJREF and its FILE record; another file ends the capture.
                    self.capturing = None;
                }
                if kind == "FILE_TABLE" {
                    self.pending_table = Some(tag);
                    self.files_first = false;
                } else if kind == "FILE" && self.pending_table.is_some() {
                    self.files_first = true;
                }
                if kind == "FILE" && redirects.iter().any(|r| r.file == tag) {
                    self.capturing = Some(tag);
                    self.kept.insert(tag, (rec.clone(), Vec::new(), Vec::new()));
                }
            }
            "FILE_TABLE" => {
                self.table = self.pending_table.take();
                self.split_written = false;
                let splits: Vec<&Redirect> = redirects
                    .iter()
                    .filter(|r| r.shared && Some(r.table) == self.table)
                    .collect();
                if self.files_first && !splits.is_empty() {
                    // Where this revision writes a table's files: before its record.
                    let mut outs = Vec::new();
                    for r in splits {
                        outs.extend(self.split_objects(cx, r, ops, changed)?);
                    }
                    self.split_written = true;
                    outs.push(Out::Record(rec.clone()));
                    return Ok(Some(outs));
                }
            }
            "FILE" => {
                if let Some(tag) = self.capturing {
                    if let Some(r) = redirects.iter().find(|r| r.file == tag && !r.shared)
                        && let Some(pos) = r.pos
                    {
                        let old = old_value(f, info, rec, "f_pos");
                        set(f, info, rec, "f_pos", pos as i64)?;
                        cx.note(
                            "common.f_pos",
                            Action::Supplied,
                            old,
                            Some(Value::Uint(pos)),
                        )
                        .reason = Some(format!("file position ({})", ops[r.op]));
                    }
                    if let Some(k) = self.kept.get_mut(&tag) {
                        k.1 = rec.clone();
                    }
                }
            }
            "FILE_NAME" => {
                if let Some(tag) = self.capturing.take() {
                    if let Some(k) = self.kept.get_mut(&tag) {
                        k.2 = rec.clone();
                    }
                    if let Some(r) = redirects.iter().find(|r| r.file == tag && !r.shared) {
                        let old = String::from_utf8_lossy(
                            rec[8..].split(|&c| c == 0).next().unwrap_or(&[]),
                        )
                        .into_owned();
                        *rec = super::write::with_text(f, rec, &r.path)
                            .map_err(ConvertError::Refused)?;
                        changed[r.op] += 1;
                        cx.note(
                            "text",
                            Action::Supplied,
                            Some(Value::Text(old)),
                            Some(Value::Text(r.path.clone())),
                        )
                        .reason = Some(format!("open file ({})", ops[r.op]));
                    }
                }
            }
            "FILE_DESC" => {
                let fd = int(f, info, rec, "fd_descriptor");
                let Some(r) = redirects
                    .iter()
                    .find(|r| r.shared && Some(r.table) == self.table && Some(r.fd) == fd)
                else {
                    return Ok(None);
                };
                let mut outs = Vec::new();
                if !self.split_written {
                    outs = self.split_objects(cx, r, ops, changed)?;
                }
                let old = old_value(f, info, rec, "fd_objref");
                set(f, info, rec, "fd_objref", r.new_tag)?;
                cx.note(
                    "fd_objref",
                    Action::Supplied,
                    old,
                    Some(Value::Int(r.new_tag)),
                )
                .reason = Some(format!(
                    "descriptor {} of the split file ({})",
                    r.fd, ops[r.op]
                ));
                outs.push(Out::Record(rec.clone()));
                return Ok(Some(outs));
            }
            _ => {}
        }
        Ok(None)
    }
}
