//! The record emitter every part of the builder writes through: records made from the
//! schema (struct, fields, payloads), object tags, the index of placed values.

use std::io::Write;

use crate::error::{Error, ErrorKind, Position, Result};
use crate::format::Format;
use crate::limits::PAGE_SIZE;
use crate::model::places::{PlaceKind, PlaceValue};
use crate::prng::SplitMix64;
use crate::schema::RecordBody;
use crate::value::{Value, apply_fields, decode_struct, put_uint};
use crate::write::Writer;

use super::summary::{BuildSummary, Placed};

/// A payload the builder supplies for a record's `payload` rule.
pub(super) enum Payload {
    Bytes(Vec<u8>),
    Pages { addrs: Vec<u64>, seed: u64 },
}

pub(super) fn u(v: u64) -> Value {
    Value::Uint(v)
}

pub(super) fn i(v: i64) -> Value {
    Value::Int(v)
}

/// Fields to set, by path.
pub(super) type Fields = Vec<(&'static str, Value)>;

pub(super) struct Emitter<'f, W: Write> {
    pub(super) f: &'f Format,
    pub(super) w: Writer<W>,
    pub(super) next_tag: i64,
    pub(super) summary: BuildSummary,
    /// The tag of the image's one LSM label pointer (SECURITY_PTR), once written.
    pub(super) label: Option<i64>,
    /// True until a FILE record has referred to the label.
    pub(super) label_file_pending: bool,
    /// The tag of the slave tty of the terminal, once written: the controlling terminal
    /// of the first task's session.
    pub(super) controlling_tty: Option<i64>,
    /// Where the tasks' vDSO is ([`super::mm::vdso_base`]), and whether it is the x86_32
    /// COMPAT_VDSO page, which has no VMA.
    pub(super) vdso: (u64, bool),
}

impl<W: Write> Emitter<'_, W> {
    pub(super) fn err(&self, msg: String) -> Error {
        Error::new(
            ErrorKind::Encode(format!(
                "builder ({} on {}): {msg}",
                self.f.schema.id, self.f.arch
            )),
            Position {
                offset: self.w.offset(),
                record: Some(self.w.records()),
                rtype: None,
            },
        )
    }

    pub(super) fn has(&self, record: &str) -> bool {
        self.f.record_type(record).is_some()
    }

    pub(super) fn tag(&mut self) -> i64 {
        let t = self.next_tag;
        self.next_tag += 1;
        t
    }

    pub(super) fn objref(&mut self, obj: &str) -> Result<i64> {
        let t = self.tag();
        let objtype = self
            .f
            .schema
            .enum_value("obj", obj, self.f.arch)
            .ok_or_else(|| self.err(format!("no object type {obj}")))?;
        self.rec(
            "OBJREF",
            vec![("objtype", u(objtype as u64)), ("objref", i(t))],
            &[],
            vec![],
        )?;
        Ok(t)
    }

    /// Makes the bytes of record `name` with `fields` set (those the revision has).
    pub(super) fn make(
        &self,
        name: &str,
        fields: &[(&str, Value)],
        tail: &[u8],
    ) -> Result<Vec<u8>> {
        let rtype = self
            .f
            .record_type(name)
            .ok_or_else(|| self.err(format!("no record type {name}")))?;
        let def = self
            .f
            .schema
            .record_def(name, self.f.arch)
            .ok_or_else(|| self.err(format!("no layout for {name}")))?;
        let endian = self.f.endian();
        let (layout, at) = match &def.body {
            RecordBody::Bytes | RecordBody::String => (None, None),
            RecordBody::Struct { name: st, tail: t } => {
                let l = self.f.layout(st).map_err(|e| self.err(e.to_string()))?;
                let at = t
                    .as_ref()
                    .and_then(|t| t.at.as_ref())
                    .and_then(|m| l.offset_of(m));
                (Some(l), at)
            }
            RecordBody::Select {
                common,
                selector,
                cases,
            } => {
                let sel = fields
                    .iter()
                    .find(|(p, _)| p == selector)
                    .and_then(|(_, v)| v.as_int())
                    .unwrap_or(0);
                let case = self
                    .f
                    .schema
                    .enum_name("file", sel as i64, self.f.arch)
                    .unwrap_or("");
                let st = cases
                    .iter()
                    .find(|(c, _)| c == case)
                    .map_or(common, |(_, s)| s);
                (
                    Some(self.f.layout(st).map_err(|e| self.err(e.to_string()))?),
                    None,
                )
            }
        };
        let mut bytes = match &layout {
            Some(l) => {
                let mut b = vec![0u8; l.size as usize + tail.len()];
                let start = at.unwrap_or(l.size) as usize;
                b[start..start + tail.len()].copy_from_slice(tail);
                b
            }
            None => {
                let mut b = vec![0u8; 8 + tail.len()];
                b[8..].copy_from_slice(tail);
                b
            }
        };
        let len = bytes.len() as u64;
        put_uint(&mut bytes[..4], rtype as u64, endian);
        put_uint(&mut bytes[4..8], len, endian);
        if let Some(l) = &layout {
            let paths: Vec<String> = l.fields().iter().map(|f| f.path.clone()).collect();
            let known: Vec<(String, Value)> = fields
                .iter()
                .filter(|(p, _)| paths.iter().any(|x| x == p))
                .map(|(p, v)| (p.to_string(), v.clone()))
                .collect();
            apply_fields(l, &mut bytes, endian, &known)
                .map_err(|e| self.err(format!("{name}: {e}")))?;
        }
        Ok(bytes)
    }

    /// Writes record `name` and the payload records its schema rule calls for.
    pub(super) fn rec(
        &mut self,
        name: &str,
        fields: Fields,
        tail: &[u8],
        payloads: Vec<Payload>,
    ) -> Result<()> {
        let bytes = self.make(name, &fields, tail)?;
        self.w.write_record_bytes(&bytes)?;
        let Some(def) = self.f.schema.payload_def(name, self.f.arch) else {
            if !payloads.is_empty() {
                return Err(self.err(format!(
                    "{name} has no payload rule, {} payloads given",
                    payloads.len()
                )));
            }
            return Ok(());
        };
        let decoded = match self.f.schema.record_def(name, self.f.arch).map(|d| &d.body) {
            Some(RecordBody::Struct { name: st, .. }) => {
                let l = self.f.layout(st).map_err(|e| self.err(e.to_string()))?;
                decode_struct(&l, &bytes, self.f.endian())
            }
            _ => vec![],
        };
        let mut payloads = payloads.into_iter();
        for item in &def.items {
            if let Some(c) = &item.condition {
                let lookup = |n: &str| {
                    decoded
                        .iter()
                        .find(|(p, _)| p == n)
                        .and_then(|(_, v)| v.as_int())
                };
                match self.f.layouts.eval_with(c, &lookup) {
                    Ok(0) => continue,
                    Ok(_) => {}
                    // A condition on earlier payloads (`sum(...)`): the builder's own list
                    // of payloads says whether it holds.
                    Err(_) if payloads.len() == 0 => continue,
                    Err(_) => {}
                }
            }
            let p = payloads
                .next()
                .ok_or_else(|| self.err(format!("{name}: no payload given for {}", item.name)))?;
            if item.kind == "RAW" {
                match p {
                    Payload::Bytes(b) => self.w.write_record_bytes(&b)?,
                    Payload::Pages { .. } => {
                        return Err(self.err(format!("{name}: pages as a raw payload")));
                    }
                }
                continue;
            }
            let kind = self
                .f
                .record_type(&item.kind)
                .ok_or_else(|| self.err(format!("no record {}", item.kind)))?;
            match p {
                Payload::Bytes(b) => self.w.write_record(kind, &b)?,
                Payload::Pages { addrs, seed } => {
                    let word = self.f.arch.word_size() as usize;
                    let n = addrs.len() as u64;
                    self.w
                        .begin_record(kind, n * (word as u64 + PAGE_SIZE as u64))?;
                    let mut abuf = vec![0u8; addrs.len() * word];
                    for (k, a) in addrs.iter().enumerate() {
                        put_uint(&mut abuf[k * word..(k + 1) * word], *a, self.f.endian());
                    }
                    self.w.write_payload(&abuf)?;
                    let mut rng = SplitMix64::new(seed);
                    let mut page = vec![0u8; PAGE_SIZE as usize];
                    for k in 0..n {
                        fill_page(&mut page, &mut rng, k);
                        self.w.write_payload(&page)?;
                    }
                    self.summary.pages += n;
                }
            }
        }
        if payloads.next().is_some() {
            return Err(self.err(format!("{name}: more payloads given than its rule has")));
        }
        Ok(())
    }

    /// Records that the record `ahead` records after the next one written (0: the next
    /// one; 1: its first payload) holds `value` in `member`.
    pub(super) fn placed(
        &mut self,
        ahead: u64,
        kind: PlaceKind,
        member: impl Into<String>,
        value: PlaceValue,
    ) {
        self.summary.placed.push(Placed {
            kind,
            record_index: self.w.records() + ahead,
            member: member.into(),
            value,
        });
    }

    /// True when struct `st` of the revision has member `member`.
    pub(super) fn struct_has(&self, st: &str, member: &str) -> bool {
        self.f
            .layout(st)
            .is_ok_and(|l| l.fields().iter().any(|f| f.path == member))
    }

    /// True when record `name` of the revision has member `member`.
    pub(super) fn record_has(&self, name: &str, member: &str) -> bool {
        match self.f.schema.record_def(name, self.f.arch).map(|d| &d.body) {
            Some(RecordBody::Struct { name: st, .. }) => self.struct_has(st, member),
            _ => false,
        }
    }

    /// [`Emitter::placed`] for the members `which` of `fields`, the fields of the next
    /// record, `name`, that its revision has; pids of 0 (no process) are not places.
    pub(super) fn placed_fields(
        &mut self,
        name: &str,
        fields: &Fields,
        which: &[(&str, PlaceKind)],
    ) {
        for (m, kind) in which {
            let Some(v) = fields
                .iter()
                .find(|(p, _)| p == m)
                .and_then(|(_, v)| v.as_int())
            else {
                continue;
            };
            if self.record_has(name, m) && (*kind != PlaceKind::Pid || v > 0) {
                self.placed(0, *kind, *m, PlaceValue::Int(v as i64));
            }
        }
    }

    /// Bytes of one element struct `ty` with `fields` set.
    pub(super) fn element(&self, ty: &str, fields: &[(&'static str, Value)]) -> Result<Vec<u8>> {
        let l = self.f.layout(ty).map_err(|e| self.err(e.to_string()))?;
        let mut b = vec![0u8; l.size as usize];
        let paths: Vec<String> = l.fields().iter().map(|f| f.path.clone()).collect();
        let known: Vec<(String, Value)> = fields
            .iter()
            .filter(|(p, _)| paths.iter().any(|x| x == p))
            .map(|(p, v)| (p.to_string(), v.clone()))
            .collect();
        apply_fields(&l, &mut b, self.f.endian(), &known).map_err(|e| self.err(e))?;
        Ok(b)
    }
}

/// Page contents: mostly zero words with random words, like real memory (and cheap).
pub(super) fn fill_page(page: &mut [u8], rng: &mut SplitMix64, k: u64) {
    page.fill(0);
    let words = 16 + (k % 32) as usize;
    for _ in 0..words {
        let at = (rng.below(PAGE_SIZE as u64 / 8) * 8) as usize;
        page[at..at + 8].copy_from_slice(&rng.next_u64().to_le_bytes());
    }
}

pub(super) fn padded(s: &str, n: usize) -> Vec<u8> {
    let mut b = s.as_bytes().to_vec();
    b.resize(n, 0);
    b
}

/// A string with its terminating NUL, as FILE_NAME and the other string payloads hold it.
pub(super) fn file_name(s: &str) -> Vec<u8> {
    let mut b = s.as_bytes().to_vec();
    b.push(0);
    b
}

/// The schema's `ckpt_const` values for the revision's most likely kernel on the format's
/// arch (the default config variant).
pub(super) fn kernel_constants(format: &Format) -> Result<&'static crate::schema::KernelConstants> {
    let kernel = format
        .schema
        .kernels
        .first()
        .map(|k| k.value.as_str())
        .unwrap_or("");
    format
        .schema
        .kernel_constants(kernel, format.arch, None)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Encode(format!(
                    "revision {} has no kernel-constants for kernel {kernel} on {}",
                    format.schema.id, format.arch
                )),
                Position::default(),
            )
        })
}
