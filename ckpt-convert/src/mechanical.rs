//! The mechanical part of a conversion, derived from the two schemas by name: record
//! types, object/arch/file/vma/restart-block types and every struct member are matched by
//! their names, values are carried into the target layout, members the target adds get
//! their default (0) and members it drops must be 0 unless lossy conversion is allowed.
//! The header is rewritten for the target kernel (`rev`, version, arch id, every
//! `ckpt_const`).

use ckpt_format::format::{HDR_SIZE, MAGIC_HEAD};
use ckpt_format::layout::{Field, PrimKind, StructLayout};
use ckpt_format::read::Decoded;
use ckpt_format::schema::RecordBody;
use ckpt_format::value::{Value, decode_field, decode_struct, encode_field, put_uint};
use ckpt_format::{Format, RecordInfo};

use crate::error::ConvertError;
use crate::ledger::{Action, LedgerEntry};
use crate::options::Options;
use crate::plan::Plan;
use crate::steps::Rewrite;

/// State of one conversion.
pub(crate) struct Conv<'a> {
    pub from: &'static Format,
    pub to: &'static Format,
    pub opts: &'a Options,
    /// Entries of the record being converted (moved to the run's ledger after it).
    pub pending: Vec<LedgerEntry>,
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
        self.pending
            .push(LedgerEntry::new(index, record, field, action, old, new));
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

/// Decodes a record's struct (used by steps).
pub(crate) fn fields_of(f: &Format, name: &str, bytes: &[u8]) -> Vec<(String, Value)> {
    match Conv::struct_of(f, name, bytes).and_then(|s| f.layout(&s).ok()) {
        Some(l) => decode_struct(&l, bytes, f.endian()),
        None => vec![],
    }
}
