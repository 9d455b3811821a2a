//! Per-task summaries for `ckpt info --tasks`: pids at every level the revision records,
//! comm, state, threads, credentials, open files with their paths, memory.

use std::io::Write;

use anyhow::Result;
use ckpt_format::Format;
use ckpt_format::model::{ImageModel, TaskModel};
use serde::Serialize;

/// A task, summarised.
#[derive(Debug, Serialize)]
pub struct TaskSummary {
    index: usize,
    pid: i64,
    ppid: i64,
    tgid: i64,
    pgid: i64,
    sid: i64,
    /// The pid in nested pid namespaces, outermost first.
    nested_pids: Vec<i64>,
    comm: String,
    state: i64,
    exit_state: i64,
    zombie: bool,
    /// Tasks of its thread group, itself included.
    threads: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    creds: Option<Creds>,
    files: Vec<OpenFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<Memory>,
}

#[derive(Debug, Serialize)]
struct Creds {
    uid: i64,
    euid: i64,
    suid: i64,
    fsuid: i64,
    gid: i64,
    egid: i64,
    sgid: i64,
    fsgid: i64,
}

#[derive(Debug, Serialize)]
struct OpenFile {
    fd: i64,
    r#type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    close_on_exec: bool,
    /// Tag of the file object (shared when several descriptors or tasks hold it).
    objref: i64,
}

#[derive(Debug, Serialize)]
struct Vma {
    start: u64,
    end: u64,
    r#type: String,
    pages: u64,
}

#[derive(Debug, Serialize)]
struct Memory {
    objref: i64,
    vmas: Vec<Vma>,
    pages: u64,
}

/// Summaries of every task of `m`.
pub fn summarise(m: &ImageModel, f: &Format) -> Vec<TaskSummary> {
    m.tasks.iter().map(|t| task(m, f, t)).collect()
}

fn task(m: &ImageModel, f: &Format, t: &TaskModel) -> TaskSummary {
    let field = |name: &str| {
        t.fields
            .iter()
            .find(|(p, _)| p == name)
            .and_then(|(_, v)| v.as_int())
            .unwrap_or(0) as i64
    };
    let creds = t.refs.get("cred_ref").and_then(|r| m.object(*r)).map(|c| {
        let g = |n: &str| c.int(n).unwrap_or(0) as i64;
        Creds {
            uid: g("uid"),
            euid: g("euid"),
            suid: g("suid"),
            fsuid: g("fsuid"),
            gid: g("gid"),
            egid: g("egid"),
            sgid: g("sgid"),
            fsgid: g("fsgid"),
        }
    });
    let files = t
        .refs
        .get("files_objref")
        .and_then(|r| m.object(*r))
        .map(|table| {
            table
                .fds
                .iter()
                .map(|fd| {
                    let file = m.object(fd.file);
                    let ty = file
                        .and_then(|o| o.int("f_type").or(o.int("common.f_type")))
                        .and_then(|v| f.schema.enum_name("file", v as i64, f.arch))
                        .unwrap_or("?");
                    OpenFile {
                        fd: fd.fd,
                        r#type: ty.to_string(),
                        path: file.and_then(|o| o.path()).map(str::to_string),
                        close_on_exec: fd.close_on_exec,
                        objref: fd.file,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let memory = t
        .refs
        .get("mm_objref")
        .and_then(|r| m.object(*r))
        .map(|mm| {
            let vmas: Vec<Vma> = mm
                .vmas
                .iter()
                .map(|v| {
                    let ty = v
                        .fields
                        .iter()
                        .find(|(p, _)| p == "vma_type")
                        .and_then(|(_, x)| x.as_int())
                        .and_then(|x| f.schema.enum_name("vma", x as i64, f.arch))
                        .unwrap_or("?");
                    Vma {
                        start: v.start,
                        end: v.end,
                        r#type: ty.to_string(),
                        pages: v.pages,
                    }
                })
                .collect();
            Memory {
                objref: mm.tag,
                pages: vmas.iter().map(|v| v.pages).sum(),
                vmas,
            }
        });
    TaskSummary {
        index: t.index,
        pid: t.pid,
        ppid: t.ppid,
        tgid: t.tgid,
        pgid: t.pgid,
        sid: t.sid,
        nested_pids: t.nested.clone(),
        comm: t.comm.clone(),
        state: field("state"),
        exit_state: field("exit_state"),
        zombie: t.zombie,
        threads: m.threads(t),
        creds,
        files,
        memory,
    }
}

/// Prints the summaries as text.
pub fn print(out: &mut impl Write, tasks: &[TaskSummary]) -> Result<()> {
    for t in tasks {
        writeln!(out)?;
        writeln!(
            out,
            "task {}: pid {} \"{}\" (ppid {}, tgid {}, pgid {}, sid {}){}",
            t.index,
            t.pid,
            t.comm,
            t.ppid,
            t.tgid,
            t.pgid,
            t.sid,
            if t.zombie { " zombie" } else { "" }
        )?;
        if !t.nested_pids.is_empty() {
            let n: Vec<String> = t.nested_pids.iter().map(i64::to_string).collect();
            writeln!(out, "  nested pids:  {}", n.join(", "))?;
        }
        writeln!(
            out,
            "  state:        {} (exit_state {}), {} thread{} in its group",
            t.state,
            t.exit_state,
            t.threads,
            if t.threads == 1 { "" } else { "s" }
        )?;
        if let Some(c) = &t.creds {
            writeln!(
                out,
                "  creds:        uid {} euid {} suid {} fsuid {}, gid {} egid {} sgid {} fsgid {}",
                c.uid, c.euid, c.suid, c.fsuid, c.gid, c.egid, c.sgid, c.fsgid
            )?;
        }
        if !t.files.is_empty() {
            writeln!(out, "  files:        {} open", t.files.len())?;
            for f in &t.files {
                writeln!(
                    out,
                    "    fd {:<3} {:<8} {}{}",
                    f.fd,
                    f.r#type,
                    f.path.as_deref().unwrap_or("-"),
                    if f.close_on_exec { " (cloexec)" } else { "" }
                )?;
            }
        }
        if let Some(m) = &t.memory {
            writeln!(
                out,
                "  memory:       {} vmas, {} pages ({} KiB)",
                m.vmas.len(),
                m.pages,
                m.pages * 4
            )?;
            for v in &m.vmas {
                writeln!(
                    out,
                    "    {:#014x}-{:#014x} {:<12} {} pages",
                    v.start, v.end, v.r#type, v.pages
                )?;
            }
        }
    }
    Ok(())
}
