//! `ckpt dump`: every record with every field, as JSON Lines that stream.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use ckpt_format::RecordInfo;
use ckpt_format::format::HDR_SIZE;
use ckpt_format::schema::RecordBody;
use serde_json::{Map, Value as Json, json};
use sha2::{Digest, Sha256};

use crate::io::{Output, open_image};

/// Version of the dump format (JSON Lines; grows only by addition).
pub const FORMAT_VERSION: &str = "1.0.0";
/// Payloads up to this many bytes are always inline as hex.
pub const INLINE_PAYLOAD: u32 = 256;
/// Bytes of payload per continuation line with `--payloads`.
pub const CHUNK: usize = 32 * 1024;

const AFTER: &str = "Output (JSON Lines, see schemas/json/dump.schema.json):
  line 1: {\"kind\":\"header\", \"format_version\", \"revision\", \"commit\", \"arch\", \"payloads\"}
  then one line per record: {\"kind\":\"record\", \"index\", \"offset\", \"type\", \"name\", \"len\",
    \"payload_of\", \"struct\", \"fields\", \"raw\" (struct records: the body as hex),
    \"text\", \"body\" (payloads up to 256 bytes, or all with --payloads),
    \"body_len\" and \"body_sha256\" (larger payloads without --payloads)}
  with --payloads, a large payload continues on {\"kind\":\"chunk\", \"hex\"} lines.
  `ckpt encode` reads it back; dump --payloads then encode is byte-exact.

Examples:
  ckpt dump image.ckpt | head
  ckpt dump --payloads image.ckpt -o image.jsonl && ckpt encode image.jsonl -o copy.ckpt

Exit status: 0 success, 1 invalid image, 2 usage error, 3 I/O error";

/// Dump every record of an image, with every field, as JSON Lines.
#[derive(clap::Args)]
#[command(after_help = AFTER)]
pub struct Opts {
    /// The image, or - for standard input.
    image: String,
    /// Revision of the image instead of detecting it.
    #[arg(long)]
    rev: Option<String>,
    /// Output file (default: standard output).
    #[arg(short, long, default_value = "-")]
    output: PathBuf,
    /// Include every payload in full (hex), so that `ckpt encode` can rebuild the image.
    #[arg(long)]
    payloads: bool,
}

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

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        crate::io::refuse_same_file(&self.image, &self.output)?;
        let (mut r, det) = open_image(&self.image, self.rev.as_deref())?;
        let mut out = Output::create(&self.output)?;
        let head = json!({
            "kind": "header",
            "format_version": FORMAT_VERSION,
            "revision": det.schema.id,
            "commit": det.schema.commit,
            "arch": det.arch.name(),
            "payloads": self.payloads,
        });
        writeln!(out, "{head}")?;
        let mut chunk = vec![0u8; CHUNK];
        self.records(&mut r, &det, &mut out, &mut chunk)
            .map_err(|e| crate::io::with_detection(e, &det))?;
        out.commit().context("writing the dump")?;
        Ok(0)
    }

    fn records(
        &self,
        r: &mut ckpt_format::Reader<crate::io::Source>,
        det: &ckpt_format::detect::Detection,
        out: &mut Output,
        chunk: &mut [u8],
    ) -> Result<()> {
        let schema = det.schema;
        while let Some(rec) = r.next_record()? {
            let mut m = record_line(&rec);
            if rec.inline {
                let d = r.decode()?;
                let bytes = r.record_bytes();
                let body = if rec.headerless {
                    bytes
                } else {
                    &bytes[HDR_SIZE as usize..]
                };
                let is_struct = matches!(
                    schema.record_def(rec.name, det.arch).map(|d| &d.body),
                    Some(RecordBody::Struct { .. } | RecordBody::Select { .. })
                ) && rec.payload_of.is_none_or(|_| d.fields.is_empty());
                if let Some(s) = &d.struct_name {
                    m.insert("struct".into(), json!(s));
                }
                if !d.fields.is_empty() {
                    let mut f = Map::new();
                    for (p, v) in &d.fields {
                        f.insert(p.clone(), serde_json::to_value(v)?);
                    }
                    m.insert("fields".into(), Json::Object(f));
                }
                if let Some(t) = &d.text {
                    m.insert("text".into(), json!(t));
                }
                if is_struct || self.payloads || body.len() as u32 <= INLINE_PAYLOAD {
                    m.insert(
                        if is_struct { "raw" } else { "body" }.into(),
                        json!(hex::encode(body)),
                    );
                } else {
                    m.insert("body_len".into(), json!(body.len()));
                    m.insert(
                        "body_sha256".into(),
                        json!(hex::encode(Sha256::digest(body))),
                    );
                }
                writeln!(out, "{}", Json::Object(m))?;
            } else if self.payloads {
                m.insert("body_len".into(), json!(rec.body_len()));
                m.insert("chunked".into(), json!(true));
                writeln!(out, "{}", Json::Object(m))?;
                loop {
                    let k = r.read_payload(chunk)?;
                    if k == 0 {
                        break;
                    }
                    writeln!(
                        out,
                        "{}",
                        json!({"kind": "chunk", "hex": hex::encode(&chunk[..k])})
                    )?;
                }
            } else {
                let mut h = Sha256::new();
                let mut first = Vec::new();
                loop {
                    let k = r.read_payload(chunk)?;
                    if k == 0 {
                        break;
                    }
                    if first.is_empty() && rec.payload_of.is_some_and(|(o, _)| o == "PGARR") {
                        first = chunk[..k].to_vec();
                    }
                    h.update(&chunk[..k]);
                }
                if let Some(addrs) = page_addresses(r, &rec, &first) {
                    m.insert("page_addresses".into(), json!(addrs));
                }
                m.insert("body_len".into(), json!(rec.body_len()));
                m.insert("body_sha256".into(), json!(hex::encode(h.finalize())));
                writeln!(out, "{}", Json::Object(m))?;
            }
        }
        Ok(())
    }
}

/// The page addresses at the start of a page chunk (as far as `first` holds them).
fn page_addresses(
    r: &ckpt_format::Reader<crate::io::Source>,
    rec: &RecordInfo,
    first: &[u8],
) -> Option<Vec<String>> {
    if first.is_empty() {
        return None;
    }
    let word = r.format().arch.word_size() as usize;
    let n = rec.body_len() as usize / (word + ckpt_format::limits::PAGE_SIZE as usize);
    Some(
        first
            .chunks_exact(word)
            .take(n)
            .map(|c| {
                format!(
                    "{:#x}",
                    ckpt_format::value::get_uint(c, r.format().endian())
                )
            })
            .collect(),
    )
}
