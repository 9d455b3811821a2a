//! `ckpt schema`: the revisions ckpt knows, and the layout of each.

use std::io::Write;

use anyhow::Result;
use ckpt_format::layout::Layouts;
use ckpt_format::schema::{Claim, RecordBody};
use ckpt_format::{Arch, Registry};
use serde::Serialize;

/// Version of the `--json` outputs of `schema list`, `schema show`, `schema diff` and
/// `schema arch`.
pub const FORMAT_VERSION: &str = "1.2.0";

const AFTER_LIST: &str = "Examples:
  ckpt schema list
  ckpt schema list --json | jq '.revisions[].id'

Exit status: 0 success, 2 usage error, 3 I/O error";

const AFTER_DIFF: &str = "Examples:
  ckpt schema diff b6cdf01 1fd8e6e
  ckpt schema diff v19-rc2.x86_64 v19-rc3 --arch x86_64 --json

Shows record, object, arch and other enum values renumbered, records whose binding or
payloads changed, structs whose members were added, removed, moved, resized or retyped,
and constants that changed. (Whether conversion carries each change losslessly comes with
the migration steps.)

Exit status: 0 no differences, 1 differences, 2 usage error";

const AFTER_ARCH: &str = "Examples:
  ckpt schema arch x86_32 x86_64
  ckpt schema arch x86_64 x86_32 --json | jq '.rules[] | select(.carry == \"refused\")'

The rules `ckpt convert --to-arch` applies, as data: for each, what it concerns, how this
direction carries it (lossless, defaulted, supplied, lossy, refused), how sure it is and
where the fact comes from (schemas/x86-32-on-64.md has them all).

Exit status: 0 success, 2 usage error (no conversion between the two arches)";

const AFTER_SHOW: &str = "Examples:
  ckpt schema show v23-rc2
  ckpt schema show 0abe2fe --arch x86_32 --json

Exit status: 0 success, 2 usage error (unknown revision or arch), 3 I/O error";

/// The format revisions and their layouts.
#[derive(clap::Subcommand)]
pub enum Command {
    /// List every known revision: id, aliases, user-cr commit, CHECKPOINT_VERSION, kernels, arches.
    #[command(after_help = AFTER_LIST)]
    List {
        /// Output JSON.
        #[arg(long)]
        json: bool,
    },
    /// What changed between two revisions, computed from their schemas.
    #[command(after_help = AFTER_DIFF)]
    Diff {
        /// The older revision.
        #[arg(value_parser = crate::values::Revision, hide_possible_values = true)]
        a: String,
        /// The newer revision.
        #[arg(value_parser = crate::values::Revision, hide_possible_values = true)]
        b: String,
        /// Architecture (default: the first both have).
        #[arg(long, value_parser = crate::values::ArchName, hide_possible_values = true)]
        arch: Option<Arch>,
        /// Output JSON.
        #[arg(long)]
        json: bool,
    },
    /// The rules of an architecture change (`convert --to-arch`): x86_32 <-> x86_64.
    #[command(after_help = AFTER_ARCH)]
    Arch {
        /// The image's architecture.
        #[arg(value_parser = crate::values::ArchName, hide_possible_values = true)]
        from: Arch,
        /// The target's.
        #[arg(value_parser = crate::values::ArchName, hide_possible_values = true)]
        to: Arch,
        /// Output JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one revision: every record type and every struct with its members.
    #[command(after_help = AFTER_SHOW)]
    Show {
        /// Revision: id, user-cr commit or alias.
        #[arg(value_parser = crate::values::Revision, hide_possible_values = true)]
        rev: String,
        /// Architecture whose layouts to show (default: the revision's first).
        #[arg(long, value_parser = crate::values::ArchName, hide_possible_values = true)]
        arch: Option<Arch>,
        /// Output JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Serialize)]
struct RevLine {
    ordinal: u32,
    id: String,
    commit: String,
    aliases: Vec<String>,
    date: String,
    checkpoint_version: u16,
    tags: Vec<Claim>,
    kernels: Vec<Claim>,
    arches: Vec<(String, u16)>,
    opaque_arch_records: Vec<String>,
}

#[derive(Serialize)]
struct Field {
    name: String,
    offset: u32,
    size: u32,
    r#type: String,
}

#[derive(Serialize)]
struct StructOut {
    name: String,
    size: u32,
    align: u32,
    fields: Vec<Field>,
}

#[derive(Serialize)]
struct RecordOut {
    name: String,
    number: i64,
    body: String,
}

#[derive(Serialize)]
struct Show {
    format_version: &'static str,
    revision: RevLine,
    arch: String,
    records: Vec<RecordOut>,
    structs: Vec<StructOut>,
    enums: Vec<(String, Vec<(String, i64)>)>,
    constants: Vec<(String, i128)>,
}

fn rev_line(s: &ckpt_format::Schema) -> RevLine {
    let mut aliases = vec![s.short_commit().to_string()];
    aliases.extend(s.aliases.iter().cloned());
    RevLine {
        ordinal: s.ordinal,
        id: s.id.clone(),
        commit: s.commit.clone(),
        aliases,
        date: s.date.clone(),
        checkpoint_version: s.checkpoint_version,
        tags: s.tags.clone(),
        kernels: s.kernels.clone(),
        arches: s
            .arches
            .iter()
            .map(|(a, i)| (a.name().to_string(), *i))
            .collect(),
        opaque_arch_records: s
            .opaque_arches
            .iter()
            .map(|a| a.name().to_string())
            .collect(),
    }
}

impl Command {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        let mut out = std::io::stdout().lock();
        match self {
            Command::List { json } => {
                let revs: Vec<RevLine> =
                    Registry::get().all().iter().map(|s| rev_line(s)).collect();
                if json {
                    serde_json::to_writer_pretty(
                        &mut out,
                        &serde_json::json!({"format_version": FORMAT_VERSION, "revisions": revs}),
                    )?;
                    writeln!(out)?;
                } else {
                    writeln!(
                        out,
                        "{:>2}  {:<16} {:<8} {:<10} {:>3}  {:<22} ARCHES",
                        "#", "REVISION", "COMMIT", "DATE", "REV", "KERNEL"
                    )?;
                    for r in revs {
                        let kernels: Vec<&str> =
                            r.kernels.iter().map(|k| k.value.as_str()).collect();
                        let arches: Vec<String> =
                            r.arches.iter().map(|(a, i)| format!("{a}={i}")).collect();
                        writeln!(
                            out,
                            "{:>2}  {:<16} {:<8} {:<10} {:>3}  {:<22} {}",
                            r.ordinal,
                            r.id,
                            &r.commit[..7],
                            r.date,
                            r.checkpoint_version,
                            kernels.join(" or "),
                            arches.join(" ")
                        )?;
                    }
                }
            }
            Command::Diff { a, b, arch, json } => {
                let reg = Registry::get();
                let sa = reg.find(&a).map_err(|e| super::usage(e.to_string()))?;
                let sb = reg.find(&b).map_err(|e| super::usage(e.to_string()))?;
                let arch = match arch {
                    Some(x) if !(sa.has_arch(x) && sb.has_arch(x)) => {
                        return Err(super::usage(format!(
                            "{} and {} do not both have {x}",
                            sa.id, sb.id
                        )));
                    }
                    Some(x) => x,
                    None => sa
                        .arches
                        .iter()
                        .map(|(x, _)| *x)
                        .find(|x| sb.has_arch(*x))
                        .ok_or_else(|| {
                            super::usage(format!("{} and {} share no architecture", sa.id, sb.id))
                        })?,
                };
                let d = ckpt_convert::diff(sa, sb, arch);
                let carry = ckpt_convert::steps::classify(&d);
                let rewrites = ckpt_convert::steps::crossed(sa, sb);
                if json {
                    serde_json::to_writer_pretty(
                        &mut out,
                        &serde_json::json!({"format_version": FORMAT_VERSION, "diff": d,
                            "carry": carry, "rewrites": rewrites}),
                    )?;
                    writeln!(out)?;
                } else {
                    print_diff(&mut out, &d, &carry, &rewrites)?;
                }
                let same = d.is_empty() && rewrites.is_empty();
                return Ok(if same { 0 } else { crate::EXIT_NO });
            }
            Command::Arch { from, to, json } => {
                let (step, dir) = ckpt_convert::steps::arch_step(from, to).ok_or_else(|| {
                    super::usage(format!(
                        "no conversion from {from} to {to}: the one architecture change is \
                         x86_32 <-> x86_64"
                    ))
                })?;
                let rules: Vec<serde_json::Value> = step
                    .rules
                    .iter()
                    .map(|r| {
                        let mut v = serde_json::to_value(r).unwrap_or_default();
                        v["carry"] =
                            serde_json::to_value(ckpt_convert::steps::ArchStep::carry(r, dir))
                                .unwrap_or_default();
                        v
                    })
                    .collect();
                if json {
                    let (n, w) = step.chunk_pages;
                    serde_json::to_writer_pretty(
                        &mut out,
                        &serde_json::json!({
                            "format_version": FORMAT_VERSION,
                            "from": from.name(), "to": to.name(),
                            "tif_ia32_bit": step.tif_ia32_bit,
                            "chunk_pages": {step.narrow.name(): n, step.wide.name(): w},
                            "task_size": {
                                step.narrow.name(): step.narrow_task_size,
                                format!("{} 32-bit task", step.wide.name()): step.wide_compat_task_size,
                            },
                            "rules": rules,
                        }),
                    )?;
                    writeln!(out)?;
                } else {
                    writeln!(out, "{from} -> {to}: {} rules", step.rules.len())?;
                    for (r, v) in step.rules.iter().zip(&rules) {
                        writeln!(
                            out,
                            "\n{} ({}, confidence {}): {}",
                            v["rule"].as_str().unwrap_or(""),
                            v["carry"].as_str().unwrap_or(""),
                            v["confidence"].as_str().unwrap_or(""),
                            r.subject
                        )?;
                        writeln!(out, "  {}", r.why)?;
                        writeln!(out, "  source: {}", r.source)?;
                    }
                }
            }
            Command::Show { rev, arch, json } => {
                let s = Registry::get()
                    .find(&rev)
                    .map_err(|e| super::usage(e.to_string()))?;
                let arch = match arch {
                    Some(a) if !s.has_arch(a) => {
                        return Err(super::usage(format!("revision {} has no {a}", s.id)));
                    }
                    Some(a) => a,
                    None => s.arches[0].0,
                };
                let layouts = Layouts::new(s, arch);
                let mut records: Vec<RecordOut> = s
                    .enum_values("hdr", arch)
                    .map(|(n, v)| RecordOut {
                        name: n.to_string(),
                        number: v,
                        body: match s.record_def(n, arch).map(|d| &d.body) {
                            Some(RecordBody::Bytes) => "bytes".into(),
                            Some(RecordBody::String) => "string".into(),
                            Some(RecordBody::Struct { name, tail: None }) => name.clone(),
                            Some(RecordBody::Struct {
                                name,
                                tail: Some(_),
                            }) => format!("{name} + tail"),
                            Some(RecordBody::Select {
                                common, selector, ..
                            }) => format!("{common} by {selector}"),
                            None => "-".into(),
                        },
                    })
                    .collect();
                records.sort_by_key(|r| r.number);
                let mut structs = Vec::new();
                for d in s
                    .structs
                    .iter()
                    .filter(|d| ckpt_format::schema::applies(&d.arches, arch))
                {
                    let l = layouts.get(&d.name)?;
                    structs.push(StructOut {
                        name: d.name.clone(),
                        size: l.size,
                        align: l.align,
                        fields: l
                            .members
                            .iter()
                            .map(|m| Field {
                                name: m.name.clone().unwrap_or_else(|| "(anonymous)".into()),
                                offset: m.offset,
                                size: m.size,
                                r#type: if m.dims.is_empty() {
                                    m.c_type.clone()
                                } else {
                                    format!(
                                        "{}{}",
                                        m.c_type,
                                        m.dims.iter().map(|d| format!("[{d}]")).collect::<String>()
                                    )
                                },
                            })
                            .collect(),
                    });
                }
                let mut kinds: Vec<String> = s.enums.iter().map(|e| e.kind.clone()).collect();
                kinds.dedup();
                let enums = kinds
                    .iter()
                    .map(|k| {
                        (
                            k.clone(),
                            s.enum_values(k, arch)
                                .map(|(n, v)| (n.to_string(), v))
                                .collect(),
                        )
                    })
                    .collect();
                let constants = s
                    .consts
                    .iter()
                    .filter(|c| ckpt_format::schema::applies(&c.arches, arch))
                    .map(|c| (c.name.clone(), c.value))
                    .collect();
                let show = Show {
                    format_version: FORMAT_VERSION,
                    revision: rev_line(s),
                    arch: arch.name().to_string(),
                    records,
                    structs,
                    enums,
                    constants,
                };
                if json {
                    serde_json::to_writer_pretty(&mut out, &show)?;
                    writeln!(out)?;
                } else {
                    let r = &show.revision;
                    writeln!(
                        out,
                        "revision {} (user-cr {}, {}), CHECKPOINT_VERSION {}, on {}",
                        r.id,
                        &r.commit[..7],
                        r.date,
                        r.checkpoint_version,
                        show.arch
                    )?;
                    for k in &r.kernels {
                        writeln!(
                            out,
                            "kernel   {} ({}: {})",
                            k.value, k.confidence, k.evidence
                        )?;
                    }
                    writeln!(out, "\nrecords:")?;
                    for rec in &show.records {
                        writeln!(out, "  {:>5}  {:<20} {}", rec.number, rec.name, rec.body)?;
                    }
                    writeln!(out, "\nstructs:")?;
                    for st in &show.structs {
                        writeln!(
                            out,
                            "  struct {} (size {}, align {})",
                            st.name, st.size, st.align
                        )?;
                        for f in &st.fields {
                            writeln!(
                                out,
                                "    {:>5} {:>5}  {} {}",
                                f.offset, f.size, f.r#type, f.name
                            )?;
                        }
                    }
                }
            }
        }
        Ok(0)
    }
}

fn print_diff(
    out: &mut impl Write,
    d: &ckpt_convert::SchemaDiff,
    carry: &[ckpt_convert::steps::Classified],
    rewrites: &[ckpt_convert::steps::Crossed],
) -> Result<()> {
    use ckpt_convert::diff::MemberChange;
    let class = |subject: String| {
        carry
            .iter()
            .find(|c| c.subject == subject)
            .map_or(String::new(), |c| {
                format!(
                    "  [{}]",
                    serde_json::to_value(c.carry)
                        .unwrap_or_default()
                        .as_str()
                        .unwrap_or("")
                )
            })
    };
    writeln!(
        out,
        "{} -> {} on {} (CHECKPOINT_VERSION {} -> {})",
        d.from, d.to, d.arch, d.checkpoint_version.0, d.checkpoint_version.1
    )?;
    if d.is_empty() && rewrites.is_empty() {
        writeln!(out, "no differences")?;
        return Ok(());
    }
    writeln!(
        out,
        "[lossless], [defaulted], [lossy], [supplied], [refused]: how `ckpt convert {} -> {}` carries each change",
        d.from, d.to
    )?;
    let v = |x: Option<i64>| x.map_or("-".to_string(), |v| v.to_string());
    if !d.enums.is_empty() {
        writeln!(out, "\nenum values:")?;
        for e in &d.enums {
            let what = match (e.old, e.new) {
                (None, _) => "added",
                (_, None) => "removed",
                _ => "renumbered",
            };
            writeln!(
                out,
                "  {:<7} {:<24} {:>6} -> {:<6} {what:<10}{}",
                e.kind,
                e.name,
                v(e.old),
                v(e.new),
                class(format!("enum {} {}", e.kind, e.name))
            )?;
        }
    }
    if !d.records.is_empty() {
        writeln!(out, "\nrecord bindings and payloads:")?;
        for r in &d.records {
            writeln!(out, "  {}", r.name)?;
            writeln!(out, "    - {}", r.old.as_deref().unwrap_or("(none)"))?;
            writeln!(out, "    + {}", r.new.as_deref().unwrap_or("(none)"))?;
        }
    }
    if !d.structs.is_empty() {
        writeln!(out, "\nstructs:")?;
        for st in &d.structs {
            let sz = |x: Option<u32>| x.map_or("-".to_string(), |v| v.to_string());
            writeln!(
                out,
                "  struct {} (size {} -> {})",
                st.name,
                sz(st.old_size),
                sz(st.new_size)
            )?;
            for m in &st.members {
                match m {
                    MemberChange::Added {
                        name,
                        offset,
                        size,
                        r#type,
                    } => writeln!(
                        out,
                        "    + {name} @{offset} ({size} bytes, {type}){}",
                        class(format!("{}.{name}", st.name))
                    )?,
                    MemberChange::Removed {
                        name,
                        offset,
                        size,
                        r#type,
                    } => writeln!(
                        out,
                        "    - {name} @{offset} ({size} bytes, {type}){}",
                        class(format!("{}.{name}", st.name))
                    )?,
                    MemberChange::Changed { name, old, new } => writeln!(
                        out,
                        "    ~ {name} @{} ({} bytes, {}) -> @{} ({} bytes, {}){}",
                        old.0,
                        old.1,
                        old.2,
                        new.0,
                        new.1,
                        new.2,
                        class(format!("{}.{name}", st.name))
                    )?,
                }
            }
        }
    }
    if !d.constants.is_empty() {
        writeln!(out, "\nconstants:")?;
        let c = |x: Option<i128>| x.map_or("-".to_string(), |v| v.to_string());
        for k in &d.constants {
            writeln!(
                out,
                "  {:<28} {} -> {}{}",
                k.name,
                c(k.old),
                c(k.new),
                class(format!("constant {}", k.name))
            )?;
        }
    }
    if !rewrites.is_empty() {
        writeln!(out, "\nhand-written rewrites of the steps crossed:")?;
        for r in rewrites {
            let carry = serde_json::to_value(r.carry)?;
            let conf = serde_json::to_value(r.change.confidence)?;
            writeln!(
                out,
                "  [{}] {} ({}, confidence {}): {}\n      {}",
                carry.as_str().unwrap_or(""),
                r.step,
                serde_json::to_value(r.direction)?.as_str().unwrap_or(""),
                conf.as_str().unwrap_or(""),
                r.change.subject,
                r.change.why
            )?;
        }
    }
    Ok(())
}
