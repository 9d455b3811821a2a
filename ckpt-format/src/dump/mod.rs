//! Dumps: an image as JSON Lines (`schemas/json/dump.schema.json`), written record by
//! record by [`DumpWriter`] (`ckpt dump`), and rebuilt from the lines of
//! `ckpt dump --payloads` by [`DumpEncoder`] (`ckpt encode`) into a [`Writer`].
//!
//! A dump is a header line
//! (`{"kind":"header","format_version":"2.x","revision":..,"arch":..}`) that names the
//! format, then one line per record (`{"kind":"record","name":..,"len":..}` with the body
//! as `"raw"` or `"body"` hex, or `"chunked":true` and the body on the `"chunk"` lines
//! that follow, each `{"kind":"chunk","hex":..}`). The `"fields"` of a struct record are
//! applied over its bytes, so a dump can be edited field by field; bytes that no field
//! names (padding, tails) are kept from `"raw"`, and so are those of a field whose value
//! is `null`. Values follow the proto3 JSON mapping ([`mod@json`]): 64-bit integers are
//! decimal strings, so that double-based JSON tools cannot round them.
//!
//! Encoding is strict: a member or field that the line's record does not have, a value
//! that does not fit its field, and an edit of what encode cannot write (the fields of a
//! record's tail or of a payload, a record's `text`: edit `raw` or `body` instead) are
//! errors naming the record and the field. `index` and `offset` say where the record
//! was; encode writes records where they fall.
//!
//! A dump is untrusted input: no length it states is allocated unchecked (a record given
//! by its fields alone is bounded by [`limits::MAX_INLINE_BODY`]; hex is bounded by the
//! line that holds it), and a bad line is a [`DumpError`], never a panic.
//!
//! ```
//! use ckpt_format::dump::DumpEncoder;
//!
//! let dump = r#"{"kind":"header","format_version":"2.0.0","revision":"v23-rc2","arch":"x86_64"}
//! {"kind":"record","name":"STRING","len":12,"body":"6869210a"}"#;
//! let mut lines = dump.lines();
//! let mut enc = DumpEncoder::from_header(lines.next().unwrap(), Vec::new())?;
//! for line in lines {
//!     enc.line(line)?;
//! }
//! let image = enc.finish()?;
//! assert_eq!(&image[8..], b"hi!\n");
//! # Ok::<(), ckpt_format::dump::DumpError>(())
//! ```

pub mod container;
mod edit;
pub mod json;
#[cfg(test)]
mod tests;

use std::io::Write;

use serde_json::{Map, Value as Json, json};
use sha2::{Digest, Sha256};

use crate::arch::{Arch, UnknownArch};
use crate::error::{Error, ErrorKind, Position};
use crate::format::{Format, HDR_SIZE};
use crate::input::Input;
use crate::layout::LayoutError;
use crate::limits;
use crate::read::{Reader, RecordInfo, decode_record_typed};
use crate::schema::{RecordBody, Registry, Schema, UnknownRevision};
use crate::value::put_uint;
use crate::write::Writer;

/// A line of a dump that cannot be encoded. The messages name no line: the caller knows
/// which line it gave (`ckpt encode` says "line N: ...").
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DumpError {
    /// The line is not JSON.
    #[error("not JSON")]
    NotJson(#[source] serde_json::Error),
    /// The first line is not a header.
    #[error("expected the dump header")]
    NotHeader,
    /// The header's `format_version` is not one this build reads.
    #[error("dump format {0} is not supported (this build reads 1.x and 2.x)")]
    Version(String),
    /// A header member that contradicts another.
    #[error("header: {0}")]
    Header(String),
    /// The header's revision is unknown.
    #[error(transparent)]
    Revision(#[from] UnknownRevision),
    /// The header's architecture is unknown.
    #[error(transparent)]
    Arch(#[from] UnknownArch),
    /// A line that is not an object whose `kind` is `record` or `chunk`; what was found,
    /// as JSON.
    #[error("expected a line of kind \"record\" or \"chunk\", found {0}")]
    Kind(String),
    /// A member that lines of this kind do not have.
    #[error("{line}: unknown member \"{member}\"")]
    Member {
        /// The record's name, or `chunk`.
        line: String,
        /// The member.
        member: String,
    },
    /// A record line without a `name`.
    #[error("record without a name")]
    NoName,
    /// A record line without a `len`.
    #[error("record without a len")]
    NoLen,
    /// Hex bytes (`hex`, `raw`, `body`) that are not a string.
    #[error("{0} is not a string")]
    NotString(&'static str),
    /// Hex bytes that are not hex.
    #[error("{what} is not hex")]
    NotHex {
        /// Which member (`hex`, `raw`, `body`).
        what: &'static str,
        /// Why.
        #[source]
        source: hex::FromHexError,
    },
    /// A record name that the revision does not define.
    #[error("record {name} does not exist in revision {revision}")]
    UnknownRecord {
        /// The record's name.
        name: String,
        /// The revision id.
        revision: String,
    },
    /// A record whose body the dump gives only as a digest (a dump without `--payloads`).
    #[error("record {0}: its payload is not in the dump (dump with --payloads)")]
    NoPayload(String),
    /// A record given by its fields alone whose `len` is above
    /// [`limits::MAX_INLINE_BODY`].
    #[error(
        "record {name}: len {len} without raw or body bytes exceeds the limit of {limit} bytes"
    )]
    TooLong {
        /// The record's name.
        name: String,
        /// Its `len`.
        len: u64,
        /// The limit of its body.
        limit: u32,
    },
    /// A record whose `len` is not its body's length plus the pre-header.
    #[error("record {name}: len {len} but {body} bytes of body")]
    Length {
        /// The record's name.
        name: String,
        /// Its `len`.
        len: u64,
        /// Bytes of body given.
        body: usize,
    },
    /// A member of a record line (`len`, `type`, `struct`, ...) that is wrong.
    #[error("record {name}: {message}")]
    Record {
        /// The record's name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A field (or the `text`) that cannot be placed: unknown, of the wrong kind, out of
    /// range, or not editable.
    #[error("{name}.{path}: {message}")]
    Field {
        /// The record's name.
        name: String,
        /// The field's path (`state`, `fprs[0].d`), or `text`.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The record's struct cannot be laid out.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The writer refused the record, or the output failed ([`crate::Error::is_io`]).
    #[error(transparent)]
    Image(#[from] crate::Error),
}

impl DumpError {
    /// True for errors of the output, not of the dump.
    pub fn is_io(&self) -> bool {
        matches!(self, DumpError::Image(e) if e.is_io())
    }
}

/// Members of a record line (see `schemas/json/dump.schema.json`).
const RECORD_MEMBERS: &[&str] = &[
    "kind",
    "index",
    "offset",
    "type",
    "name",
    "len",
    "payload_of",
    "headerless",
    "struct",
    "fields",
    "text",
    "raw",
    "body",
    "body_len",
    "body_sha256",
    "chunked",
    "page_addresses",
];

/// What a dump's header line says ([`DumpEncoder::header`]).
#[derive(Debug, Clone)]
pub struct DumpHeader {
    /// The image's format.
    pub format: &'static Format,
    /// The container the image was in, when it was in one.
    pub container: Option<container::DumpContainer>,
}

/// Encodes the lines of a dump into an image, streaming: each record line is written as
/// it comes (a chunked record's body as its chunk lines come).
///
/// After an error the output is incomplete; stop there.
pub struct DumpEncoder<W: Write> {
    format: &'static Format,
    writer: Writer<W>,
}

impl<W: Write> DumpEncoder<W> {
    /// An encoder of the records of a dump whose header line is `line`, writing to `out`.
    pub fn from_header(line: &str, out: W) -> Result<Self, DumpError> {
        let format = Self::header_format(line)?;
        Ok(Self::new(format, out))
    }

    /// The format of the image that a dump whose header line is `line` describes.
    pub fn header_format(line: &str) -> Result<&'static Format, DumpError> {
        Ok(Self::header(line)?.format)
    }

    /// What a dump whose header line is `line` describes: the image's format, and the
    /// container around it, if the image was in one (dump format 2.1.0).
    pub fn header(line: &str) -> Result<DumpHeader, DumpError> {
        let head: Json = serde_json::from_str(line).map_err(DumpError::NotJson)?;
        if head["kind"] != "header" {
            return Err(DumpError::NotHeader);
        }
        let version = head["format_version"].as_str().unwrap_or("");
        // 1.x wrote 64-bit integers as numbers; encode reads numbers and strings alike.
        if !version.starts_with("1.") && !version.starts_with("2.") {
            return Err(DumpError::Version(version.to_string()));
        }
        let schema = Registry::get().find(head["revision"].as_str().unwrap_or(""))?;
        let arch: Arch = head["arch"].as_str().unwrap_or("").parse()?;
        let members = [
            "kind",
            "format_version",
            "revision",
            "commit",
            "arch",
            "payloads",
            "container",
        ];
        if let Some(m) = head
            .as_object()
            .and_then(|o| o.keys().find(|k| !members.contains(&k.as_str())))
        {
            return Err(DumpError::Member {
                line: "header".into(),
                member: m.clone(),
            });
        }
        if let Some(c) = head.get("commit")
            && c.as_str() != Some(schema.commit.as_str())
        {
            return Err(DumpError::Header(format!(
                "commit {c} is not the user-cr commit of revision {} ({}); the revision decides",
                schema.id, schema.commit
            )));
        }
        let container = match head.get("container") {
            None | Some(Json::Null) => None,
            Some(c) => Some(container::from_json(c, arch.endian())?),
        };
        Ok(DumpHeader {
            format: Format::shared(schema, arch),
            container,
        })
    }

    /// An encoder of records of `format` (a dump's lines after its header), writing to
    /// `out`.
    pub fn new(format: &'static Format, out: W) -> Self {
        DumpEncoder {
            format,
            writer: Writer::new(out, format.endian()),
        }
    }

    /// The format of the image.
    pub fn format(&self) -> &'static Format {
        self.format
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.writer.records()
    }

    /// Encodes one line after the header (a record or a chunk).
    pub fn line(&mut self, line: &str) -> Result<(), DumpError> {
        let v: Json = serde_json::from_str(line).map_err(DumpError::NotJson)?;
        self.encode(&v)
    }

    fn encode(&mut self, v: &Json) -> Result<(), DumpError> {
        let format = self.format;
        let Some(obj) = v.as_object() else {
            return Err(DumpError::Kind(v.to_string()));
        };
        match obj.get("kind").and_then(Json::as_str) {
            Some("chunk") => {
                if let Some(m) = obj.keys().find(|k| *k != "kind" && *k != "hex") {
                    return Err(DumpError::Member {
                        line: "chunk".into(),
                        member: m.clone(),
                    });
                }
                self.writer.write_payload(&hexdecode(&v["hex"], "hex")?)?;
                return Ok(());
            }
            Some("record") => {}
            _ => return Err(DumpError::Kind(v["kind"].to_string())),
        }
        let name = v["name"].as_str().ok_or(DumpError::NoName)?;
        let rec_err = |message: String| DumpError::Record {
            name: name.to_string(),
            message,
        };
        if let Some(m) = obj.keys().find(|k| !RECORD_MEMBERS.contains(&k.as_str())) {
            return Err(DumpError::Member {
                line: name.to_string(),
                member: m.clone(),
            });
        }
        let len = match obj.get("len") {
            None => return Err(DumpError::NoLen),
            Some(x) => {
                let l = json::integer(x).map_err(|e| rec_err(format!("len: {e}")))?;
                u64::try_from(l).map_err(|_| rec_err(format!("len: {l} is not a length")))?
            }
        };
        if v["headerless"] == true {
            let b = hexdecode(&v["body"], "body")?;
            if len != b.len() as u64 {
                return Err(DumpError::Length {
                    name: name.to_string(),
                    len,
                    body: b.len(),
                });
            }
            self.writer.write_record_bytes(&b)?;
            return Ok(());
        }
        let rtype = format
            .record_type(name)
            .ok_or_else(|| DumpError::UnknownRecord {
                name: name.to_string(),
                revision: format.schema.id.clone(),
            })?;
        if let Some(t) = obj.get("type") {
            let t = json::integer(t).map_err(|e| rec_err(format!("type: {e}")))?;
            if t != rtype as i128 {
                return Err(rec_err(format!(
                    "type {t} is not the number of {name} in {} ({rtype}); the name decides",
                    format.schema.id
                )));
            }
        }
        if let Some(bl) = obj.get("body_len") {
            let bl = json::integer(bl).map_err(|e| rec_err(format!("body_len: {e}")))?;
            if bl + HDR_SIZE as i128 != len as i128 {
                return Err(rec_err(format!(
                    "body_len {bl} does not match len {len} (the body is len - {HDR_SIZE})"
                )));
            }
        }
        if v["chunked"] == true {
            if let Some(m) = ["fields", "text", "raw", "body", "struct"]
                .into_iter()
                .find(|m| obj.contains_key(*m))
            {
                return Err(rec_err(format!(
                    "a chunked record's body is on the chunk lines that follow; \"{m}\" cannot \
                     be applied to it"
                )));
            }
            // No allocation: the writer counts the bytes that the chunk lines bring.
            self.writer
                .begin_record(rtype, len.saturating_sub(HDR_SIZE as u64))?;
            return Ok(());
        }
        let given = !v["raw"].is_null() || !v["body"].is_null();
        let body = if !v["raw"].is_null() {
            hexdecode(&v["raw"], "raw")?
        } else if !v["body"].is_null() {
            hexdecode(&v["body"], "body")?
        } else if !v["body_sha256"].is_null() {
            return Err(DumpError::NoPayload(name.to_string()));
        } else {
            // A record given by its fields alone: bounded like any inline record.
            let body = len.saturating_sub(HDR_SIZE as u64);
            if body > limits::MAX_INLINE_BODY as u64 {
                return Err(DumpError::TooLong {
                    name: name.to_string(),
                    len,
                    limit: limits::MAX_INLINE_BODY,
                });
            }
            vec![0u8; body as usize]
        };
        if body.len() as u64 + HDR_SIZE as u64 != len {
            return Err(DumpError::Length {
                name: name.to_string(),
                len,
                body: body.len(),
            });
        }
        let mut bytes = vec![0u8; HDR_SIZE as usize];
        put_uint(&mut bytes[..4], rtype as u64, format.endian());
        put_uint(&mut bytes[4..], len, format.endian());
        bytes.extend_from_slice(&body);
        let payload_of = match obj.get("payload_of") {
            None => None,
            Some(p) => Some(edit::payload_of(format, p).ok_or_else(|| {
                rec_err(format!(
                    "payload_of {p} names no payload of {}",
                    format.schema.id
                ))
            })?),
        };
        if obj.contains_key("fields") || obj.contains_key("text") || obj.contains_key("struct") {
            let static_name = format.record_name(rtype).unwrap_or("");
            let info = RecordInfo {
                index: 0,
                offset: 0,
                rtype,
                len: u32::try_from(len).map_err(|_| rec_err(format!("len {len} is too large")))?,
                name: static_name,
                payload_of,
                inline: true,
                headerless: false,
            };
            let decoded =
                decode_record_typed(format, &info, &bytes).map_err(|k| rec_err(k.to_string()))?;
            edit::edit(format, name, obj, &info, given, &decoded, &mut bytes)?;
        }
        self.writer.write_record_bytes(&bytes)?;
        Ok(())
    }

    /// Ends the image (every chunked record complete), flushes and returns the output.
    pub fn finish(self) -> Result<W, DumpError> {
        Ok(self.writer.finish()?)
    }
}

/// The bytes of `v`, a hex string (named `what` in errors).
fn hexdecode(v: &Json, what: &'static str) -> Result<Vec<u8>, DumpError> {
    let s = v.as_str().ok_or(DumpError::NotString(what))?;
    hex::decode(s).map_err(|source| DumpError::NotHex { what, source })
}

/// Version of the dump format (JSON Lines; grows only by addition). 2.0.0: values
/// follow the proto3 JSON mapping (64-bit integers are strings, NaN and infinities are
/// `"NaN"`, `"Infinity"`, `"-Infinity"`). 2.1.0: the header of an image in ckpt's
/// container has a `container` member ([`mod@container`]).
pub const FORMAT_VERSION: &str = "2.1.0";
/// Payloads up to this many bytes are always inline as hex.
pub const INLINE_PAYLOAD: u32 = 256;
/// Bytes of payload per `chunk` line with payloads.
pub const CHUNK: usize = 32 * 1024;

/// Writes an image as a dump, streaming: a header line, then one line per record with
/// its fields and (struct records) its body as `raw` hex. Payloads up to
/// [`INLINE_PAYLOAD`] bytes are inline as `body`; larger ones are summarised by length
/// and SHA-256 (with the page addresses of a page chunk), or, with `payloads`, written
/// in full on `chunk` lines of [`CHUNK`] bytes, which [`DumpEncoder`] reads back byte for
/// byte. Memory does not grow with a payload's size.
///
/// ```
/// use ckpt_format::build::{build, BuildOptions};
/// use ckpt_format::dump::{DumpEncoder, DumpWriter};
/// use ckpt_format::{Arch, Format, Reader, Registry};
///
/// let format = Format::new(Registry::get().find("v23-rc2")?, Arch::X86_64);
/// let mut image = Vec::new();
/// build(&format, &BuildOptions::default(), &mut image)?;
///
/// let mut reader = Reader::new(&image[..], Format::new(format.schema, format.arch));
/// let mut dump = DumpWriter::new(Vec::new(), format.schema, format.arch, true)?;
/// while let Some(rec) = reader.next_record()? {
///     dump.record(&mut reader, &rec)?;
/// }
/// let text = String::from_utf8(dump.finish()?)?;
///
/// // With the payloads, the dump encodes back to the same bytes.
/// let mut lines = text.lines();
/// let mut enc = DumpEncoder::from_header(lines.next().unwrap(), Vec::new())?;
/// for line in lines {
///     enc.line(line)?;
/// }
/// assert!(enc.finish()? == image);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DumpWriter<W: Write> {
    out: W,
    payloads: bool,
    chunk: Vec<u8>,
}

impl<W: Write> DumpWriter<W> {
    /// A writer to `out` that writes the header line of an image of `schema` on `arch`.
    pub fn new(out: W, schema: &Schema, arch: Arch, payloads: bool) -> std::io::Result<Self> {
        Self::in_container(out, schema, arch, payloads, None)
    }

    /// [`DumpWriter::new`] for an image inside the container `c`, described in the
    /// header's `container` member (records' offsets stay counted from the image's start).
    pub fn in_container(
        mut out: W,
        schema: &Schema,
        arch: Arch,
        payloads: bool,
        c: Option<&crate::container::ContainerInfo>,
    ) -> std::io::Result<Self> {
        let mut head = json!({
            "kind": "header",
            "format_version": FORMAT_VERSION,
            "revision": schema.id,
            "commit": schema.commit,
            "arch": arch.name(),
            "payloads": payloads,
        });
        if let (Some(c), Some(h)) = (c, head.as_object_mut()) {
            h.insert("container".into(), container::to_json(c));
        }
        writeln!(out, "{head}")?;
        Ok(DumpWriter {
            out,
            payloads,
            chunk: vec![0; CHUNK],
        })
    }

    /// Writes payloads in chunk lines of `bytes` bytes (at least 1) instead of [`CHUNK`].
    pub fn with_chunk_size(mut self, bytes: usize) -> Self {
        self.chunk = vec![0; bytes.max(1)];
        self
    }

    /// Writes the line (and chunk lines) of the record `rec` that `r` has just returned,
    /// reading its streamed payload. A failed write is an I/O error at the record.
    pub fn record<R: Input>(&mut self, r: &mut Reader<R>, rec: &RecordInfo) -> crate::Result<()> {
        let at = |e: std::io::Error| {
            Error::new(
                ErrorKind::Io(e),
                Position {
                    offset: rec.offset,
                    record: Some(rec.index),
                    rtype: Some((rec.rtype, Some(rec.name))),
                },
            )
        };
        let mut m = record_line(rec);
        if rec.inline {
            let d = r.decode_typed()?;
            let bytes = r.record_bytes();
            let body = if rec.headerless {
                bytes
            } else {
                &bytes[HDR_SIZE as usize..]
            };
            let format = r.format();
            let is_struct = matches!(
                format
                    .schema
                    .record_def(rec.name, format.arch)
                    .map(|d| &d.body),
                Some(RecordBody::Struct { .. } | RecordBody::Select { .. })
            ) && rec.payload_of.is_none_or(|_| d.fields.is_empty());
            if let Some(s) = &d.struct_name {
                m.insert("struct".into(), json!(s));
            }
            if !d.fields.is_empty() {
                // proto3 JSON: 64-bit integers as strings, NaN and infinities by name.
                let f: Map<String, Json> = d
                    .fields
                    .iter()
                    .map(|f| (f.path.clone(), json::to_json(&f.value, f.prim)))
                    .collect();
                m.insert("fields".into(), Json::Object(f));
            }
            if let Some(t) = &d.text {
                m.insert("text".into(), json!(t));
            }
            if is_struct || self.payloads || body.len() as u32 <= INLINE_PAYLOAD {
                let key = if is_struct { "raw" } else { "body" };
                m.insert(key.into(), json!(hex::encode(body)));
            } else {
                m.insert("body_len".into(), json!(body.len()));
                m.insert(
                    "body_sha256".into(),
                    json!(hex::encode(Sha256::digest(body))),
                );
            }
            writeln!(self.out, "{}", Json::Object(m)).map_err(at)?;
        } else if self.payloads {
            m.insert("body_len".into(), json!(rec.body_len()));
            m.insert("chunked".into(), json!(true));
            writeln!(self.out, "{}", Json::Object(m)).map_err(at)?;
            loop {
                let k = r.read_payload(&mut self.chunk)?;
                if k == 0 {
                    break;
                }
                let line = json!({"kind": "chunk", "hex": hex::encode(&self.chunk[..k])});
                writeln!(self.out, "{line}").map_err(at)?;
            }
        } else {
            let mut h = Sha256::new();
            let mut addresses = None;
            loop {
                let k = r.read_payload(&mut self.chunk)?;
                if k == 0 {
                    break;
                }
                if addresses.is_none() && rec.payload_of.is_some_and(|(o, _)| o == "PGARR") {
                    addresses = Some(page_addresses(r.format(), rec, &self.chunk[..k]));
                }
                h.update(&self.chunk[..k]);
            }
            if let Some(a) = addresses {
                m.insert("page_addresses".into(), json!(a));
            }
            m.insert("body_len".into(), json!(rec.body_len()));
            m.insert("body_sha256".into(), json!(hex::encode(h.finalize())));
            writeln!(self.out, "{}", Json::Object(m)).map_err(at)?;
        }
        Ok(())
    }

    /// Flushes and returns the output.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// The members every record line has.
fn record_line(rec: &RecordInfo) -> Map<String, Json> {
    let mut m = Map::new();
    m.insert("kind".into(), json!("record"));
    m.insert("index".into(), json!(rec.index));
    m.insert("offset".into(), json!(rec.offset));
    m.insert("type".into(), json!(rec.rtype));
    m.insert("name".into(), json!(rec.name));
    m.insert("len".into(), json!(rec.len));
    if let Some((o, n)) = rec.payload_of {
        m.insert("payload_of".into(), json!(format!("{o} {n}")));
    }
    if rec.headerless {
        m.insert("headerless".into(), json!(true));
    }
    m
}

/// The page addresses at the start of a page chunk (as far as `first` holds them).
fn page_addresses(format: &Format, rec: &RecordInfo, first: &[u8]) -> Vec<String> {
    let word = format.arch.word_size() as usize;
    let n = rec.body_len() as usize / (word + limits::PAGE_SIZE as usize);
    first
        .chunks_exact(word)
        .take(n)
        .map(|c| format!("{:#x}", crate::value::get_uint(c, format.endian())))
        .collect()
}

/// The line [`DumpWriter::record`] writes (without payloads) for a streamed record
/// (`rec.inline` false: page contents, large payloads), from positioned reads of the
/// image `src` instead of a pass: for views that render one record when asked
/// (`ckpt mount`'s `records/`). Its `page_addresses` are those of the payload's first
/// [`CHUNK`] bytes, where the dump lists those of its first read, which its buffering
/// may make shorter.
pub fn streamed_record_line<S: crate::pages::ReadAt + ?Sized>(
    format: &Format,
    rec: &RecordInfo,
    src: &S,
) -> std::io::Result<String> {
    let mut m = record_line(rec);
    let start = rec.offset + if rec.headerless { 0 } else { HDR_SIZE as u64 };
    let len = rec.body_len() as u64;
    let mut buf = vec![0u8; CHUNK];
    let mut h = Sha256::new();
    let mut done = 0u64;
    while done < len {
        let k = (len - done).min(CHUNK as u64) as usize;
        src.read_exact_at(&mut buf[..k], start + done)?;
        if done == 0 && rec.payload_of.is_some_and(|(o, _)| o == "PGARR") {
            let a = page_addresses(format, rec, &buf[..k]);
            m.insert("page_addresses".into(), json!(a));
        }
        h.update(&buf[..k]);
        done += k as u64;
    }
    m.insert("body_len".into(), json!(rec.body_len()));
    m.insert("body_sha256".into(), json!(hex::encode(h.finalize())));
    Ok(format!("{}\n", Json::Object(m)))
}
