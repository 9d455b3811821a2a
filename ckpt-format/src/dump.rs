//! Dumps: an image as JSON Lines (`schemas/json/dump.schema.json`), written record by
//! record by [`DumpWriter`] (`ckpt dump`), and rebuilt from the lines of
//! `ckpt dump --payloads` by [`DumpEncoder`] (`ckpt encode`) into a [`Writer`].
//!
//! A dump is a header line
//! (`{"kind":"header","format_version":"1.x","revision":..,"arch":..}`) that names the
//! format, then one line per record (`{"kind":"record","name":..,"len":..}` with the body
//! as `"raw"` or `"body"` hex, or `"chunked":true` and the body on the `"chunk"` lines
//! that follow, each `{"kind":"chunk","hex":..}`). The `"fields"` of a struct record are
//! applied over its bytes, so a dump can be edited field by field; bytes that no field
//! names (padding, tails) are kept from `"raw"`, and so are those of a field whose value
//! is `null` (what `serde_json` makes of a NaN or infinite float).
//!
//! A dump is untrusted input: no length it states is allocated unchecked (a record given
//! by its fields alone is bounded by [`limits::MAX_INLINE_BODY`]; hex is bounded by the
//! line that holds it), and a bad line is a [`DumpError`], never a panic.
//!
//! ```
//! use ckpt_format::dump::DumpEncoder;
//!
//! let dump = r#"{"kind":"header","format_version":"1.0.0","revision":"v23-rc2","arch":"x86_64"}
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

use std::io::Write;

use serde::Deserialize;
use serde_json::{Map, Value as Json, json};
use sha2::{Digest, Sha256};

use crate::arch::{Arch, UnknownArch};
use crate::error::{Error, ErrorKind, Position};
use crate::format::{Format, HDR_SIZE};
use crate::input::Input;
use crate::layout::LayoutError;
use crate::limits;
use crate::read::{Reader, RecordInfo};
use crate::schema::{RecordBody, Registry, Schema, UnknownRevision};
use crate::value::{Value, apply_fields, put_uint};
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
    /// The header's `format_version` is not 1.x.
    #[error("dump format {0} is not supported (this build reads 1.x)")]
    Version(String),
    /// The header's revision is unknown.
    #[error(transparent)]
    Revision(#[from] UnknownRevision),
    /// The header's architecture is unknown.
    #[error(transparent)]
    Arch(#[from] UnknownArch),
    /// A line whose `kind` is neither `record` nor `chunk` (nor a string).
    #[error("unknown line kind {0:?}")]
    Kind(Option<String>),
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
    /// A field value that is not a [`Value`].
    #[error("field {path}")]
    FieldValue {
        /// The field's path.
        path: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A field value that does not fit its field.
    #[error("record {name}: {message}")]
    Field {
        /// The record's name.
        name: String,
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
        let head: Json = serde_json::from_str(line).map_err(DumpError::NotJson)?;
        if head["kind"] != "header" {
            return Err(DumpError::NotHeader);
        }
        let version = head["format_version"].as_str().unwrap_or("");
        if !version.starts_with("1.") {
            return Err(DumpError::Version(version.to_string()));
        }
        let schema = Registry::get().find(head["revision"].as_str().unwrap_or(""))?;
        let arch: Arch = head["arch"].as_str().unwrap_or("").parse()?;
        Ok(Self::new(Format::shared(schema, arch), out))
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
        let w = &mut self.writer;
        match v["kind"].as_str() {
            Some("chunk") => {
                w.write_payload(&hexdecode(&v["hex"], "hex")?)?;
                return Ok(());
            }
            Some("record") => {}
            other => return Err(DumpError::Kind(other.map(str::to_string))),
        }
        let name = v["name"].as_str().ok_or(DumpError::NoName)?;
        let len = v["len"].as_u64().ok_or(DumpError::NoLen)?;
        if v["headerless"] == true {
            let b = hexdecode(&v["body"], "body")?;
            w.write_record_bytes(&b)?;
            return Ok(());
        }
        let rtype = format
            .record_type(name)
            .ok_or_else(|| DumpError::UnknownRecord {
                name: name.to_string(),
                revision: format.schema.id.clone(),
            })?;
        if v["chunked"] == true {
            // No allocation: the writer counts the bytes that the chunk lines bring.
            w.begin_record(rtype, len.saturating_sub(HDR_SIZE as u64))?;
            return Ok(());
        }
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
        if let Some(fields) = v["fields"].as_object()
            && v["payload_of"].is_null()
        {
            let st = match format.schema.record_def(name, format.arch).map(|d| &d.body) {
                Some(RecordBody::Struct { .. } | RecordBody::Select { .. }) => v["struct"].as_str(),
                _ => None,
            };
            if let Some(st) = st {
                let layout = format.layout(st)?;
                let known: Vec<String> = layout.fields().iter().map(|f| f.path.clone()).collect();
                let mut values = Vec::new();
                for (p, x) in fields {
                    // `null` is a float that JSON cannot hold (NaN, an infinity: `ckpt dump`
                    // writes them so); the field keeps its bytes.
                    if !x.is_null() && known.contains(p) {
                        let val =
                            Value::deserialize(x).map_err(|source| DumpError::FieldValue {
                                path: p.clone(),
                                source,
                            })?;
                        values.push((p.clone(), val));
                    }
                }
                let size = (layout.size as usize).min(bytes.len());
                apply_fields(&layout, &mut bytes[..size], format.endian(), &values).map_err(
                    |message| DumpError::Field {
                        name: name.to_string(),
                        message,
                    },
                )?;
            }
        }
        w.write_record_bytes(&bytes)?;
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

/// Version of the dump format (JSON Lines; grows only by addition).
pub const FORMAT_VERSION: &str = "1.0.0";
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
    pub fn new(mut out: W, schema: &Schema, arch: Arch, payloads: bool) -> std::io::Result<Self> {
        let head = json!({
            "kind": "header",
            "format_version": FORMAT_VERSION,
            "revision": schema.id,
            "commit": schema.commit,
            "arch": arch.name(),
            "payloads": payloads,
        });
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
            let d = r.decode()?;
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
                // A NaN or infinite float becomes null (JSON has nothing else).
                let f: Map<String, Json> = d
                    .fields
                    .iter()
                    .map(|(p, v)| (p.clone(), serde_json::to_value(v).unwrap_or(Json::Null)))
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::build::{BuildOptions, build};
    use crate::read::Reader;

    /// A dump of `image` as `ckpt dump --payloads` writes it, with streamed bodies in
    /// chunks of `chunk` bytes.
    fn dump(image: &[u8], format: Format, chunk: usize) -> String {
        let mut w = DumpWriter::new(Vec::new(), format.schema, format.arch, true)
            .unwrap()
            .with_chunk_size(chunk);
        let mut r = Reader::new(image, format);
        while let Some(rec) = r.next_record().unwrap() {
            w.record(&mut r, &rec).unwrap();
        }
        String::from_utf8(w.finish().unwrap()).unwrap()
    }

    /// Encodes a whole dump; the error names its line (1-based).
    fn encode(dump: &str) -> Result<Vec<u8>, (usize, DumpError)> {
        let mut lines = dump.lines();
        let mut enc =
            DumpEncoder::from_header(lines.next().unwrap_or(""), Vec::new()).map_err(|e| (1, e))?;
        for (n, line) in (2..).zip(lines) {
            enc.line(line).map_err(|e| (n, e))?;
        }
        enc.finish().map_err(|e| (0, e))
    }

    fn format(rev: &str, arch: Arch) -> Format {
        Format::new(Registry::get().find(rev).unwrap(), arch)
    }

    fn image(rev: &str, arch: Arch, memory: u64) -> Vec<u8> {
        let opts = BuildOptions {
            tasks: 2,
            memory,
            ..BuildOptions::default()
        };
        let mut img = Vec::new();
        build(&format(rev, arch), &opts, &mut img).unwrap();
        img
    }

    #[test]
    fn dump_of_a_builder_image_encodes_back_byte_for_byte() {
        let mut headerless = false;
        for (rev, arch) in [
            ("v23-rc2", Arch::X86_64),
            ("pre-v19.a", Arch::X86_32),
            ("v21-rc.netns", Arch::S390x),
            ("samsung-3.0", Arch::Arm),
            ("v21-rc", Arch::Ppc64),
        ] {
            let img = image(rev, arch, 3 * 4096);
            let text = dump(&img, format(rev, arch), 5000);
            assert!(
                text.contains("\"chunked\":true"),
                "{rev}: no streamed record"
            );
            headerless |= text.contains("\"headerless\":true");
            let back = encode(&text).unwrap_or_else(|(n, e)| panic!("{rev}: line {n}: {e}"));
            assert!(back == img, "{rev} {arch}: encode(dump) differs");
        }
        assert!(headerless, "no raw socket page in any image");
    }

    #[test]
    fn fields_are_applied_over_raw() {
        let (rev, arch) = ("v23-rc2", Arch::X86_64);
        let img = image(rev, arch, 0);
        let text = dump(&img, format(rev, arch), 4096);
        let mut at = None;
        let edited: Vec<String> = text
            .lines()
            .enumerate()
            .map(|(i, l)| {
                let mut v: Json = serde_json::from_str(l).unwrap();
                if at.is_none() && v["name"] == "FILE_DESC" {
                    v["fields"]["fd_descriptor"] = json!(42);
                    at = Some(i);
                }
                v.to_string()
            })
            .collect();
        assert!(at.is_some());
        let back = encode(&edited.join("\n")).unwrap();
        assert_eq!(back.len(), img.len());
        let diff = (0..img.len()).filter(|&i| img[i] != back[i]).count();
        assert_eq!(diff, 1, "one byte of fd_descriptor changes");
    }

    #[test]
    fn a_record_by_its_fields_alone_is_zeros_under_its_fields() {
        let head =
            r#"{"kind":"header","format_version":"1.2","revision":"v23-rc2","arch":"x86_64"}"#;
        let f = format("v23-rc2", Arch::X86_64);
        let layout = f.layout("ckpt_hdr_file_desc").unwrap();
        let len = layout.size;
        let text = format!(
            "{head}\n{}",
            json!({"kind": "record", "name": "FILE_DESC", "len": len,
                   "struct": "ckpt_hdr_file_desc", "fields": {"fd_descriptor": 7}})
        );
        let img = encode(&text).unwrap();
        assert_eq!(img.len(), len as usize);
        let rtype = f.record_type("FILE_DESC").unwrap();
        assert_eq!(crate::value::get_uint(&img[..4], f.endian()), rtype as u64);
        assert_eq!(crate::value::get_uint(&img[4..8], f.endian()), len as u64);
        let field = layout
            .fields()
            .iter()
            .find(|x| x.path == "fd_descriptor")
            .unwrap();
        let v = crate::value::decode_field(field, &img, f.endian());
        assert_eq!(v, Some(Value::Int(7)));
        let at = field.offset as usize..(field.offset + field.prim.size) as usize;
        let nonzero: Vec<usize> = (8..img.len()).filter(|&i| img[i] != 0).collect();
        assert!(nonzero.iter().all(|i| at.contains(i)), "{nonzero:?}");
    }

    /// Fuzz finding (fuzz/regressions/encode-dump-nan-float.bin, input of the
    /// `encode_dump` target: revision and arch selectors, then the lines after the
    /// header): an s390x CPU record whose `fprs[0]` holds a NaN. It encodes, but its dump
    /// writes `fprs[0].d` and `fprs[0].f` as `null`, which encode refused ("field
    /// fprs[0].d: data did not match any variant of untagged enum Value"), so
    /// `ckpt dump --payloads | ckpt encode` failed on such an image.
    #[test]
    fn regression_a_nan_float_survives_dump_and_encode() {
        let data = include_bytes!("../../fuzz/regressions/encode-dump-nan-float.bin");
        let all = Registry::get().all();
        let schema = &all[data[0] as usize % all.len()];
        let arch = schema.arches[data[1] as usize % schema.arches.len()].0;
        let head = json!({"kind": "header", "format_version": "1.0.0",
                          "revision": schema.id, "arch": arch.name()});
        let text = format!("{head}\n{}", std::str::from_utf8(&data[2..]).unwrap());
        let img = encode(&text).unwrap_or_else(|(n, e)| panic!("line {n}: {e}"));
        let nan = 0x7ff8_0000_0000_0001u64.to_be_bytes();
        assert!(img.windows(8).any(|w| w == nan));
        let again = dump(&img, Format::new(schema, arch), 4096);
        assert!(again.contains("\"fprs[0].d\":null"));
        let back = encode(&again).unwrap_or_else(|(n, e)| panic!("line {n}: {e}"));
        assert!(back == img, "dump then encode is not byte-exact");
    }

    #[test]
    fn a_null_field_keeps_its_raw_bytes() {
        let raw = "0300000002000000000000000000000000";
        let line = |fields: Json| {
            json!({"kind": "record", "name": "FILE_DESC", "len": 8 + raw.len() / 2,
                   "struct": "ckpt_hdr_file_desc", "raw": raw, "fields": fields})
            .to_string()
        };
        let mut enc = DumpEncoder::from_header(HEAD, Vec::new()).unwrap();
        enc.line(&line(json!({"fd_objref": null, "fd_descriptor": null})))
            .unwrap();
        let img = enc.finish().unwrap();
        assert_eq!(hex::encode(&img[8..]), raw);
    }

    const HEAD: &str =
        r#"{"kind":"header","format_version":"1.0.0","revision":"v23-rc2","arch":"x86_64"}"#;

    fn line_error(line: &str) -> String {
        let mut enc = DumpEncoder::from_header(HEAD, Vec::new()).unwrap();
        enc.line(line).unwrap_err().to_string()
    }

    #[test]
    fn bad_headers_are_errors() {
        for (head, want) in [
            ("", "not JSON"),
            ("{", "not JSON"),
            ("[1,2]", "expected the dump header"),
            (r#"{"kind":"record"}"#, "expected the dump header"),
            (
                r#"{"kind":"header","format_version":"2.0.0"}"#,
                "dump format 2.0.0 is not supported (this build reads 1.x)",
            ),
            (
                r#"{"kind":"header","format_version":1}"#,
                "dump format  is not supported (this build reads 1.x)",
            ),
            (
                r#"{"kind":"header","format_version":"1.0","revision":"v99"}"#,
                "unknown revision `v99`",
            ),
            (
                r#"{"kind":"header","format_version":"1.0","revision":"v23-rc2","arch":"mips"}"#,
                "unknown architecture `mips`",
            ),
        ] {
            let e = DumpEncoder::from_header(head, Vec::new()).err().unwrap();
            assert!(e.to_string().starts_with(want), "{head}: {e}");
        }
    }

    #[test]
    fn bad_lines_are_errors() {
        let huge = 1u64 << 60;
        for (line, want) in [
            ("", "not JSON".to_string()),
            ("42", "unknown line kind None".into()),
            (
                r#"{"kind":"page"}"#,
                "unknown line kind Some(\"page\")".into(),
            ),
            (r#"{"kind":"record"}"#, "record without a name".into()),
            (
                r#"{"kind":"record","name":"TAIL"}"#,
                "record without a len".into(),
            ),
            (
                r#"{"kind":"record","name":"TAIL","len":-1}"#,
                "record without a len".into(),
            ),
            (
                r#"{"kind":"record","name":"NOPE","len":8}"#,
                "record NOPE does not exist in revision v23-rc2".into(),
            ),
            (r#"{"kind":"chunk","hex":7}"#, "hex is not a string".into()),
            (r#"{"kind":"chunk","hex":"abc"}"#, "hex is not hex".into()),
            (
                r#"{"kind":"chunk","hex":"00"}"#,
                "1 bytes given where the record has 0 left".into(),
            ),
            (
                r#"{"kind":"record","name":"TAIL","len":8,"raw":"zz"}"#,
                "raw is not hex".into(),
            ),
            (
                r#"{"kind":"record","name":"TAIL","len":8,"body":[1]}"#,
                "body is not a string".into(),
            ),
            (
                r#"{"kind":"record","name":"TAIL","len":8,"headerless":true}"#,
                "body is not a string".into(),
            ),
            (
                r#"{"kind":"record","name":"STRING","len":9000,"body_sha256":"00"}"#,
                "record STRING: its payload is not in the dump (dump with --payloads)".into(),
            ),
            (
                &format!(r#"{{"kind":"record","name":"TAIL","len":{huge}}}"#),
                format!(
                    "record TAIL: len {huge} without raw or body bytes exceeds the limit of {} bytes",
                    limits::MAX_INLINE_BODY
                ),
            ),
            (
                r#"{"kind":"record","name":"TAIL","len":4}"#,
                "record TAIL: len 4 but 0 bytes of body".into(),
            ),
            (
                r#"{"kind":"record","name":"TAIL","len":8,"body":"00"}"#,
                "record TAIL: len 8 but 1 bytes of body".into(),
            ),
            (
                r#"{"kind":"record","name":"FILE_DESC","len":24,"struct":"ckpt_hdr_file_desc","fields":{"fd_descriptor":"x"}}"#,
                "record FILE_DESC: expected an integer, found Text(\"x\")".into(),
            ),
            (
                r#"{"kind":"record","name":"FILE_DESC","len":24,"struct":"ckpt_hdr_file_desc","fields":{"fd_descriptor":{}}}"#,
                "field fd_descriptor".into(),
            ),
            (
                r#"{"kind":"record","name":"FILE_DESC","len":24,"struct":"no_such_struct","fields":{}}"#,
                "revision v23-rc2 on x86_64:".into(),
            ),
            (
                &format!(r#"{{"kind":"record","name":"PGARR","len":{huge},"chunked":true}}"#),
                "record length".into(),
            ),
        ] {
            let e = line_error(line);
            assert!(e.starts_with(&want), "{line}: {e}");
        }
    }

    #[test]
    fn an_unfinished_chunked_record_fails_at_finish() {
        let mut enc = DumpEncoder::from_header(HEAD, Vec::new()).unwrap();
        enc.line(r#"{"kind":"record","name":"PGARR","len":24,"chunked":true}"#)
            .unwrap();
        enc.line(r#"{"kind":"chunk","hex":"0102"}"#).unwrap();
        let e = enc.finish().err().unwrap();
        assert!(
            e.to_string()
                .starts_with("14 bytes of the previous record were not written"),
            "{e}"
        );
        assert!(!e.is_io());
    }

    #[test]
    fn output_errors_are_io() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "full"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut enc = DumpEncoder::from_header(HEAD, Full).unwrap();
        let e = enc
            .line(r#"{"kind":"record","name":"TAIL","len":8,"raw":""}"#)
            .unwrap_err();
        assert!(e.is_io(), "{e}");
        // The io::Error is the source (said once: not in the message too).
        let src = std::error::Error::source(&e).unwrap();
        assert!(src.downcast_ref::<std::io::Error>().is_some());
        assert!(!e.to_string().contains("full"), "{e}");
    }
}
