//! `ckpt info --tasks` and `ckpt info -p`, as text: every process with its threads
//! under it, each table (files, memory, ...) shown once; the process tree as pstree
//! draws it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use anyhow::Result;
use ckpt_format::summary::TaskLine;
use ckpt_format::summary::tasks::{Creds, PendingSignal, TaskSummary};

/// Prints the summaries: thread groups together, a table shared with a task printed
/// before as a reference to it.
pub fn print(out: &mut impl Write, tasks: &[TaskSummary]) -> Result<()> {
    let pids: BTreeSet<i64> = tasks.iter().map(|t| t.ids.pid).collect();
    let mut shown: BTreeMap<(String, i64), i64> = BTreeMap::new();
    for t in tasks {
        if t.ids.is_thread_of_another(&pids) {
            continue;
        }
        writeln!(out)?;
        process(out, t, &mut shown)?;
        for th in tasks
            .iter()
            .filter(|x| x.ids.tgid == t.ids.pid && x.ids.pid != t.ids.pid)
        {
            thread(out, th, t, &mut shown)?;
        }
    }
    Ok(())
}

fn plural(n: u64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn process(
    out: &mut impl Write,
    t: &TaskSummary,
    shown: &mut BTreeMap<(String, i64), i64>,
) -> Result<()> {
    writeln!(
        out,
        "pid {} \"{}\" (ppid {}, tgid {}, pgid {}, sid {}){}",
        t.ids.pid,
        t.comm,
        t.ids.ppid,
        t.ids.tgid,
        t.ids.pgid,
        t.ids.sid,
        if t.zombie { " zombie" } else { "" }
    )?;
    state(out, t)?;
    if let Some(c) = &t.creds {
        creds(out, c)?;
    }
    signals(out, t)?;
    if t.threads > 1 {
        let others: Vec<String> = t.thread_pids.iter().map(|p| format!("pid {p}")).collect();
        writeln!(
            out,
            "  threads:      {} in its group: pid {} (leader), {}",
            t.threads,
            t.ids.pid,
            others.join(", ")
        )?;
    }
    tables(out, t, shown)
}

fn creds(out: &mut impl Write, c: &Creds) -> Result<()> {
    writeln!(
        out,
        "  creds:        uid {} euid {} suid {} fsuid {}, gid {} egid {} sgid {} fsgid {}",
        c.uid, c.euid, c.suid, c.fsuid, c.gid, c.egid, c.sgid, c.fsgid
    )?;
    Ok(())
}

fn state(out: &mut impl Write, t: &TaskSummary) -> Result<()> {
    let exit = t
        .exit_state_name
        .as_deref()
        .map_or(String::new(), |e| format!(", exit state {e}"));
    let signal = t
        .exit_signal
        .as_deref()
        .map_or(String::new(), |s| format!(", exit signal {s}"));
    let bits = if t.compat_32bit {
        ", a 32-bit task"
    } else {
        ""
    };
    writeln!(out, "  state:        {}{exit}{signal}{bits}", t.state_name)?;
    if !t.nested_pids.is_empty() {
        let levels: Vec<String> = t
            .pid_levels
            .iter()
            .map(|l| format!("level {}: {}", l.level, l.pid))
            .collect();
        writeln!(
            out,
            "  pid levels:   {} (level 0 is the image's root pid namespace)",
            levels.join(", ")
        )?;
    }
    Ok(())
}

fn pending(list: &[PendingSignal]) -> String {
    list.iter()
        .map(|p| match p.from_pid {
            0 => p.signal.clone(),
            from => format!("{} (from pid {from})", p.signal),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn signals(out: &mut impl Write, t: &TaskSummary) -> Result<()> {
    let s = &t.signals;
    let mut parts = Vec::new();
    if !s.blocked.is_empty() {
        parts.push(format!("blocked {}", s.blocked.join(" ")));
    }
    if !s.pending.is_empty() {
        parts.push(format!("pending {}", pending(&s.pending)));
    }
    if !s.shared_pending.is_empty() {
        parts.push(format!(
            "pending for the group {}",
            pending(&s.shared_pending)
        ));
    }
    if !parts.is_empty() {
        writeln!(out, "  signals:      {}", parts.join("; "))?;
    }
    Ok(())
}

/// The tables a thread shares with its leader, and what it has of its own.
fn thread(
    out: &mut impl Write,
    th: &TaskSummary,
    leader: &TaskSummary,
    shown: &mut BTreeMap<(String, i64), i64>,
) -> Result<()> {
    writeln!(
        out,
        "  thread pid {} \"{}\"{}",
        th.ids.pid,
        th.comm,
        if th.zombie { " zombie" } else { "" }
    )?;
    let mut w = Vec::new();
    state(&mut w, th)?;
    signals(&mut w, th)?;
    let same: Vec<String> = th
        .tables
        .iter()
        .filter(|(k, v)| leader.tables.get(*k) == Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    if !same.iter().any(|k| k == "cred")
        && let Some(c) = &th.creds
    {
        creds(&mut w, c)?;
    }
    if !same.is_empty() {
        writeln!(
            w,
            "  shares:       {} with pid {}",
            same.join(", "),
            leader.ids.pid
        )?;
    }
    let mut own = th.clone();
    own.tables.retain(|k, v| leader.tables.get(k) != Some(v));
    tables(&mut w, &own, shown)?;
    for l in String::from_utf8_lossy(&w).lines() {
        writeln!(out, "  {l}")?;
    }
    Ok(())
}

/// Files and memory, or a reference to the task that showed the same table first.
fn tables(
    out: &mut impl Write,
    t: &TaskSummary,
    shown: &mut BTreeMap<(String, i64), i64>,
) -> Result<()> {
    let mut first = |kind: &str| -> Option<Option<i64>> {
        let tag = *t.tables.get(kind)?;
        Some(match shown.get(&(kind.to_string(), tag)) {
            Some(p) => Some(*p),
            None => {
                shown.insert((kind.to_string(), tag), t.ids.pid);
                None
            }
        })
    };
    match first("files") {
        Some(Some(p)) => writeln!(out, "  files:        the table of pid {p}")?,
        Some(None) if !t.files.is_empty() => {
            writeln!(out, "  files:        {} open", t.files.len())?;
            for f in &t.files {
                writeln!(
                    out,
                    "    fd {:<3} {:<8} {}{}",
                    f.fd,
                    f.r#type,
                    f.what,
                    if f.close_on_exec { " (cloexec)" } else { "" }
                )?;
            }
        }
        _ => {}
    }
    match (first("mm"), &t.memory) {
        (Some(Some(p)), _) => writeln!(out, "  memory:       the address space of pid {p}")?,
        (Some(None), Some(m)) => {
            writeln!(
                out,
                "  memory:       {}, {} ({} KiB)",
                plural(m.vmas.len() as u64, "vma"),
                plural(m.pages, "page"),
                m.pages * 4
            )?;
            for v in &m.vmas {
                writeln!(
                    out,
                    "    {:08x}-{:08x} {} {:08x} {:<8} {:>5} {}",
                    v.start,
                    v.end,
                    v.perms,
                    v.offset,
                    v.r#type,
                    plural(v.pages, "page"),
                    v.path.as_deref().unwrap_or("")
                )?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Prints the process tree as pstree draws it: children under their parent, threads
/// as `{comm}` under their group's leader.
pub fn print_tree(out: &mut impl Write, tree: &[TaskLine], root: Option<i64>) -> Result<()> {
    let pids: BTreeSet<i64> = tree.iter().map(|t| t.ids.pid).collect();
    let parent = |t: &TaskLine| -> Option<i64> {
        if t.ids.is_thread_of_another(&pids) {
            Some(t.ids.tgid)
        } else {
            Some(t.ids.ppid).filter(|p| *p != t.ids.pid && pids.contains(p))
        }
    };
    let mut children: BTreeMap<i64, Vec<&TaskLine>> = BTreeMap::new();
    let mut roots = Vec::new();
    for t in tree {
        match parent(t) {
            Some(p) => children.entry(p).or_default().push(t),
            None => roots.push(t),
        }
    }
    // With a pid, the subtree of that task (its threads and descendants).
    if let Some(p) = root {
        roots = tree.iter().filter(|t| t.ids.pid == p).collect();
    }
    writeln!(out)?;
    let mut seen = BTreeSet::new();
    for r in roots {
        node(out, r, "", None, &children, &mut seen)?;
    }
    Ok(())
}

fn node(
    out: &mut impl Write,
    t: &TaskLine,
    prefix: &str,
    last: Option<bool>,
    children: &BTreeMap<i64, Vec<&TaskLine>>,
    seen: &mut BTreeSet<usize>,
) -> Result<()> {
    if !seen.insert(t.ids.index) {
        return Ok(());
    }
    let comm = t.comm.as_deref().unwrap_or("?");
    let thread = t.ids.tgid != t.ids.pid && t.ids.tgid > 0;
    let name = if thread {
        format!("{{{comm}}}({}) thread", t.ids.pid)
    } else {
        format!("{comm}({})", t.ids.pid)
    };
    let branch = match last {
        None => "",
        Some(true) => "└─",
        Some(false) => "├─",
    };
    let zombie = if t.zombie { " <zombie>" } else { "" };
    writeln!(
        out,
        "{prefix}{branch}{name}{zombie}  pgid {} sid {}",
        t.ids.pgid, t.ids.sid
    )?;
    let kids = children.get(&t.ids.pid).map(Vec::as_slice).unwrap_or(&[]);
    let below = match last {
        None => prefix.to_string(),
        Some(true) => format!("{prefix}  "),
        Some(false) => format!("{prefix}│ "),
    };
    for (k, c) in kids.iter().enumerate() {
        node(out, c, &below, Some(k + 1 == kids.len()), children, seen)?;
    }
    Ok(())
}
