//! `ckpt info`: what an image is (revision, arch, kernel, constants), its records and its
//! process tree.

use std::io::Write;

use anyhow::{Context, Result};
use ckpt_convert::config::provenance::{Contradiction, contradictions};
use ckpt_format::container::ContainerInfo;
use ckpt_format::detect::Detection;
use ckpt_format::summary::{ImageInfo, InfoOptions, summarise_until_error};

use crate::io::open_image;

const AFTER: &str = "Examples:
  ckpt info image.ckpt
  ckpt info -v image.ckpt            # every record: offset, index, type, name, length
  ckpt info -p --json image.ckpt     # the process tree, as JSON
  ckpt info -t --pid 1 image.ckpt    # one process and its threads
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
    /// Only the task with this pid (its records with -v, its registers; with -t the
    /// thread group it leads too).
    #[arg(long, value_name = "PID")]
    pid: Option<i64>,
    /// Output JSON.
    #[arg(long)]
    json: bool,
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        // A sealed image is described, not verified: the seal says so (`ckpt verify`).
        let sealed = match self.image.as_str() {
            "-" => None,
            p => crate::io::container_of(p)?.filter(ContainerInfo::is_sealed),
        };
        if let Some(c) = &sealed {
            let f = std::fs::File::open(&self.image)
                .context("cannot open")
                .context(crate::io::InFile::new(&self.image))?;
            let s = ckpt_seal::read_seal(&mut std::io::BufReader::new(f), None)
                .map_err(crate::sealing::seal_error)
                .context(crate::io::InFile::new(&self.image))?;
            if s.encrypted() {
                return self.encrypted(c, &s);
            }
        }
        let (mut r, det, seal) = match &sealed {
            Some(_) => {
                let (r, d, s) =
                    crate::io::open_sealed(&self.image, self.rev.as_deref(), None, None)?;
                (r, d, Some(s))
            }
            None => {
                let (r, d) = open_image(&self.image, self.rev.as_deref())?;
                (r, d, None)
            }
        };
        let options = InfoOptions {
            records: self.verbose,
            tree: self.pids,
            tasks: self.tasks,
            arch_regs: self.show_arch_regs,
            stats: self.stats,
            pid: self.pid,
        };
        let (info, failure) = summarise_until_error(&mut r, &det, &self.image, &options);
        let failed = |e: ckpt_format::Error| crate::io::with_detection(e.into(), &det, &self.image);
        let info = match (info, failure) {
            (Some(info), None) => info,
            // A corrupt or truncated image: what was read before the error, then the error.
            (Some(info), Some(e)) if !self.json && !self.error => {
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                let status = format!(
                    "incomplete: read {} records up to offset {:#x}; then the error below",
                    info.records,
                    e.position().offset
                );
                print_text(&mut out, &info, &det, Some(&status))?;
                out.flush()?;
                return Err(failed(e));
            }
            (_, Some(e)) => return Err(failed(e)),
            (None, None) => unreachable!("a summary without a HEADER comes with an error"),
        };
        if let Some(p) = self.pid
            && !info.pids.contains(&p)
        {
            let pids: Vec<String> = info.pids.iter().map(i64::to_string).collect();
            anyhow::bail!(
                "{}: no task with pid {p} in the image (its pids: {})",
                self.image,
                pids.join(", ")
            );
        }
        // Standard output is line-buffered: a long listing is written in blocks instead.
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        if self.error && !self.json {
            match &info.error_message {
                Some(m) => writeln!(out, "{m}")?,
                None => writeln!(out, "no error record: the checkpoint completed")?,
            }
        } else if self.json {
            let mut v = serde_json::to_value(&info)?;
            if let (Some(c), Some(o)) = (crate::io::container_of(&self.image)?, v.as_object_mut()) {
                let against = match &seal {
                    Some(_) => None,
                    None => self.contradictions(&c, &det)?,
                };
                let mut cj = container_json(&c, against.as_deref());
                if let (Some(s), Some(co)) = (&seal, cj.as_object_mut()) {
                    let mut sj = crate::sealing::seal_json(s);
                    if let Some(so) = sj.as_object_mut() {
                        so.insert("verified".into(), false.into());
                    }
                    co.insert("seal".into(), sj);
                }
                o.insert("container".into(), cj);
            }
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        } else {
            print_text(&mut out, &info, &det, None)?;
            if let Some(c) = crate::io::container_of(&self.image)? {
                match &seal {
                    Some(s) => print_seal(&mut out, &c, s)?,
                    None => {
                        let against = self.contradictions(&c, &det)?;
                        print_container(&mut out, &c, against.as_deref())?;
                    }
                }
            }
        }
        out.flush()?;
        Ok(0)
    }
}

impl Opts {
    /// Where the container's annotations contradict the image (a second pass over its
    /// records, not its pages).
    /// None for standard input, which is read once.
    fn contradictions(
        &self,
        c: &ContainerInfo,
        det: &Detection,
    ) -> Result<Option<Vec<Contradiction>>> {
        if self.image == "-" {
            return Ok(None);
        }
        let config = match &c.annotations.kernel_config_gz {
            Some(gz) => Some(crate::kconfig::from_annotation(gz, &self.image)?.config),
            None => None,
        };
        let (r, _) = open_image(&self.image, Some(det.schema.id.as_str()))?;
        contradictions(r, &c.annotations.notes, config.as_ref())
            .map(Some)
            .map_err(|e| crate::io::with_detection(e.into(), det, &self.image))
    }
}

/// The version of the `container` part of `info --json` (schemas/json/container.schema.json).
const CONTAINER_JSON_VERSION: &str = "1.2.0";

/// What ckpt's container around the image carries, as `info --json` gives it.
fn container_json(c: &ContainerInfo, against: Option<&[Contradiction]>) -> serde_json::Value {
    let a = &c.annotations;
    let (ma, mi, pa) = c.version;
    let mut v = serde_json::json!({
        "format_version": CONTAINER_JSON_VERSION,
        "container_version": format!("{ma}.{mi}.{pa}"),
        "flags": c.flags,
        "image_offset": c.image_offset,
        "image_len": c.image_len,
        "total_len": c.total_len,
        "annotations": {
            "kernel_config_gz_bytes": a.kernel_config_gz.as_ref().map(Vec::len),
            "linux_cr_tag": a.linux_cr_tag,
            "ckpt_version": a.ckpt_version,
            "annotated_at": a.annotated_at,
            "annotated_at_utc": a.annotated_at.map(|t| {
                humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t)).to_string()
            }),
            "notes": a.notes.iter().map(|(k, v)| serde_json::json!({"key": k, "value": v})).collect::<Vec<_>>(),
            "unknown_keys": a.unknown_keys(),
        },
        "unknown_sections": c.unknown_sections,
    });
    // Not known for standard input, which is read once.
    if let (Some(x), Some(o)) = (against, v.as_object_mut()) {
        o.insert("contradictions".into(), serde_json::json!(x));
    }
    v
}

impl Opts {
    /// Describes an encrypted sealed image: its container and seal only (the image is
    /// ciphertext; `ckpt unseal --identity` gives it).
    fn encrypted(&self, c: &ContainerInfo, s: &ckpt_seal::SealInfo) -> Result<u8> {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        if self.json {
            let mut cj = container_json(c, None);
            if let Some(co) = cj.as_object_mut() {
                let mut sj = crate::sealing::seal_json(s);
                if let Some(so) = sj.as_object_mut() {
                    so.insert("verified".into(), false.into());
                }
                co.insert("seal".into(), sj);
            }
            serde_json::to_writer_pretty(&mut out, &serde_json::json!({ "container": cj }))?;
            writeln!(out)?;
        } else {
            writeln!(
                out,
                "image:      encrypted: nothing of it is readable without the recipient's key \
                 (`ckpt unseal --identity KEY` verifies, decrypts and gives it)"
            )?;
            print_seal(out.by_ref(), c, s)?;
        }
        out.flush()?;
        Ok(0)
    }
}

/// Prints the seal of a sealed container (schemas/seal.md), not verified, and its
/// annotations.
fn print_seal(out: &mut impl Write, c: &ContainerInfo, s: &ckpt_seal::SealInfo) -> Result<()> {
    let (ma, mi, pa) = c.version;
    let h = &s.header;
    writeln!(
        out,
        "container:  ckpt container {ma}.{mi}.{pa}, sealed: {} chunks of the plain image in {} bytes at offset {}; no kernel restarts it (`ckpt unseal` verifies it and gives the plain image)",
        h.chunk_count, c.image_len, c.image_offset
    )?;
    writeln!(
        out,
        "seal:       {} (seal format {}.{}.{}), by {}, created {}; TPM: {}; encrypted: {}",
        s.algorithm().name(),
        h.major,
        h.minor,
        h.patch,
        crate::sealing::sealed_by(s),
        crate::sealing::utc(h.created_at),
        if s.tpm() { "yes" } else { "no" },
        if s.encrypted() { "yes" } else { "no" },
    )?;
    if let Some(e) = &s.encryption {
        writeln!(
            out,
            "encryption: {}, the data key wrapped for X25519 key {}",
            e.aead_name(),
            e.recipient()
        )?;
    }
    writeln!(
        out,
        "            not verified here: the image above was read without checking the seal (`ckpt verify` checks it)"
    )?;
    let a = &c.annotations;
    for (k, v) in &a.notes {
        writeln!(out, "            note: {k}={v}")?;
    }
    if a.kernel_config_gz.is_some() {
        writeln!(out, "            kernel config: annotated")?;
    }
    Ok(())
}

/// Prints what ckpt's container around the image carries (schemas/container.md).
fn print_container(
    out: &mut impl Write,
    c: &ContainerInfo,
    against: Option<&[Contradiction]>,
) -> Result<()> {
    let (ma, mi, pa) = c.version;
    writeln!(
        out,
        "container:  ckpt container {ma}.{mi}.{pa}: the image is {} bytes at offset {}; no kernel restarts it (`ckpt strip` gives the plain image)",
        c.image_len, c.image_offset
    )?;
    let a = &c.annotations;
    if let Some(z) = &a.kernel_config_gz {
        writeln!(out, "            kernel config: {} bytes (gzip)", z.len())?;
    }
    if let Some(t) = &a.linux_cr_tag {
        writeln!(out, "            linux-cr tag: {t}")?;
    }
    if let Some(v) = &a.ckpt_version {
        writeln!(out, "            annotated by: ckpt {v}")?;
    }
    if let Some(t) = a.annotated_at {
        let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(t);
        writeln!(
            out,
            "            annotated at: {}",
            humantime::format_rfc3339_seconds(when)
        )?;
    }
    for (k, v) in &a.notes {
        writeln!(out, "            note: {k}={v}")?;
    }
    for k in a.unknown_keys() {
        writeln!(
            out,
            "            annotation of unknown key {k} (from a later ckpt)"
        )?;
    }
    let Some(against) = against else {
        writeln!(
            out,
            "            (whether the image contradicts them is not checked on standard input, \
             which is read once: give the file)"
        )?;
        return Ok(());
    };
    for x in against {
        writeln!(
            out,
            "            the image wins: {} says {}, but {}",
            x.annotation, x.says, x.image
        )?;
    }
    Ok(())
}

/// Prints the summary; `unread` says why the image was not read to its end.
pub(crate) fn print_text(
    out: &mut impl Write,
    i: &ImageInfo,
    det: &Detection,
    unread: Option<&str>,
) -> Result<()> {
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
    if let Some(n) = &i.kernel_note {
        writeln!(out, "note:       {n}")?;
    }
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
    match (unread, &i.error_message) {
        (Some(why), _) => writeln!(out, "status:     {why}")?,
        (None, Some(m)) => writeln!(out, "status:     failed checkpoint: {m}")?,
        (None, None) => writeln!(out, "status:     complete")?,
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
        super::stats::print(st, out)?;
    }
    if let Some(regs) = &i.arch_regs {
        writeln!(out)?;
        for t in regs {
            match t.opaque_len {
                Some(n) => writeln!(
                    out,
                    "pid {} cpu at {:#x}: opaque ({n} bytes; no source describes this arch's cpu record)",
                    t.pid, t.offset
                )?,
                None => {
                    writeln!(out, "pid {} cpu at {:#x}:", t.pid, t.offset)?;
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
        super::tasks::print_tree(out, tree, i.pid_filter)?;
    }
    Ok(())
}
