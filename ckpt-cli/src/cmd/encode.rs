//! `ckpt encode`: rebuilds an image from a `ckpt dump`, streaming.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use ckpt_format::format::HDR_SIZE;
use ckpt_format::schema::RecordBody;
use ckpt_format::value::{Value, apply_fields, put_uint};
use ckpt_format::{Arch, Format, Registry, Writer};
use serde_json::Value as Json;

use crate::io::Output;

const AFTER: &str =
    "Fields in a record's \"fields\" are applied over its \"raw\" bytes, so a dump can be
edited field by field; bytes that no field names (padding, tails) are kept from \"raw\".

Examples:
  ckpt dump --payloads image.ckpt | ckpt encode - -o copy.ckpt && cmp image.ckpt copy.ckpt

Exit status: 0 success, 1 invalid dump (the error names the line), 2 usage error, 3 I/O error";

/// Rebuild an image from a dump made with `ckpt dump --payloads`.
#[derive(clap::Args)]
#[command(after_help = AFTER)]
pub struct Opts {
    /// The dump (JSON Lines), or - for standard input.
    dump: String,
    /// Output image, or - for standard output.
    #[arg(short, long)]
    output: PathBuf,
}

fn hexdecode(v: &Json, what: &str) -> Result<Vec<u8>> {
    let s = v
        .as_str()
        .ok_or_else(|| anyhow!("{what} is not a string"))?;
    hex::decode(s).with_context(|| format!("{what} is not hex"))
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        crate::io::refuse_same_file(&self.dump, &self.output)?;
        let input: Box<dyn Read> = if self.dump == "-" {
            Box::new(std::io::stdin())
        } else {
            Box::new(File::open(&self.dump).with_context(|| format!("cannot open {}", self.dump))?)
        };
        let mut lines = BufReader::with_capacity(1 << 16, input).lines();
        let mut out = Output::create(&self.output)?;
        let first = lines
            .next()
            .ok_or_else(|| anyhow!("{}: empty dump", self.dump))??;
        let head: Json = serde_json::from_str(&first).context("line 1: not JSON")?;
        if head["kind"] != "header" {
            bail!("line 1: expected the dump header");
        }
        let version = head["format_version"].as_str().unwrap_or("");
        if !version.starts_with("1.") {
            bail!("line 1: dump format {version} is not supported (this build reads 1.x)");
        }
        let schema = Registry::get()
            .find(head["revision"].as_str().unwrap_or(""))
            .map_err(|e| anyhow!("line 1: {e}"))?;
        let arch: Arch = head["arch"]
            .as_str()
            .unwrap_or("")
            .parse()
            .map_err(|e| anyhow!("line 1: {e}"))?;
        let format = Format::new(schema, arch);
        let mut w = Writer::new(&mut out, arch.endian());
        for (lineno, line) in (2..).zip(lines) {
            let line = line?;
            let v: Json =
                serde_json::from_str(&line).with_context(|| format!("line {lineno}: not JSON"))?;
            encode_line(&format, &mut w, &v).with_context(|| format!("line {lineno}"))?;
        }
        w.finish()?;
        out.commit()?;
        Ok(0)
    }
}

fn encode_line<W: std::io::Write>(format: &Format, w: &mut Writer<W>, v: &Json) -> Result<()> {
    match v["kind"].as_str() {
        Some("chunk") => {
            w.write_payload(&hexdecode(&v["hex"], "hex")?)?;
            return Ok(());
        }
        Some("record") => {}
        other => bail!("unknown line kind {other:?}"),
    }
    let name = v["name"]
        .as_str()
        .ok_or_else(|| anyhow!("record without a name"))?;
    let len = v["len"]
        .as_u64()
        .ok_or_else(|| anyhow!("record without a len"))?;
    if v["headerless"] == true {
        let b = hexdecode(&v["body"], "body")?;
        w.write_record_bytes(&b)?;
        return Ok(());
    }
    let rtype = format.record_type(name).ok_or_else(|| {
        anyhow!(
            "record {name} does not exist in revision {}",
            format.schema.id
        )
    })?;
    if v["chunked"] == true {
        w.begin_record(rtype, len.saturating_sub(HDR_SIZE as u64))?;
        return Ok(());
    }
    let body = if !v["raw"].is_null() {
        hexdecode(&v["raw"], "raw")?
    } else if !v["body"].is_null() {
        hexdecode(&v["body"], "body")?
    } else if !v["body_sha256"].is_null() {
        bail!("record {name}: its payload is not in the dump (dump with --payloads)");
    } else {
        // A record given by its fields alone: bounded like any inline record.
        let body = len.saturating_sub(HDR_SIZE as u64);
        if body > ckpt_format::limits::MAX_INLINE_BODY as u64 {
            bail!(
                "record {name}: len {len} without raw or body bytes exceeds the limit of {} bytes",
                ckpt_format::limits::MAX_INLINE_BODY
            );
        }
        vec![0u8; body as usize]
    };
    if body.len() as u64 + HDR_SIZE as u64 != len {
        bail!("record {name}: len {len} but {} bytes of body", body.len());
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
            let known: Vec<String> = layout.fields().into_iter().map(|f| f.path).collect();
            let mut values = Vec::new();
            for (p, x) in fields {
                if known.contains(p) {
                    let val: Value =
                        serde_json::from_value(x.clone()).with_context(|| format!("field {p}"))?;
                    values.push((p.clone(), val));
                }
            }
            let size = (layout.size as usize).min(bytes.len());
            apply_fields(&layout, &mut bytes[..size], format.endian(), &values)
                .map_err(|e| anyhow!("record {name}: {e}"))?;
        }
    }
    w.write_record_bytes(&bytes)?;
    Ok(())
}
