//! `ckpt info --stats`, as text: counts and bytes per record type and object kind, pages
//! per task, shared objects, the largest records, metadata against page contents.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Result;
use ckpt_format::summary::Stats;

/// Prints the statistics as text; tasks are named by pid.
pub fn print(st: &Stats, out: &mut impl Write) -> Result<()> {
    writeln!(out, "\nrecords by type (count, bytes):")?;
    for (n, (c, b)) in &st.records {
        writeln!(out, "  {n:<20} {c:>8} {b:>14}")?;
    }
    let line = |out: &mut dyn Write, title: &str, m: &BTreeMap<String, u64>| -> Result<()> {
        if !m.is_empty() {
            let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            writeln!(out, "{title:<10} {}", parts.join(", "))?;
        }
        Ok(())
    };
    writeln!(out)?;
    line(out, "files", &st.files)?;
    line(out, "sockets", &st.sockets_by_name)?;
    line(out, "vmas", &st.vmas)?;
    line(out, "ipc", &st.ipc)?;
    let total: u64 = st.pages_per_task.iter().sum();
    let mut per: Vec<(i64, u64)> = st
        .pages_by_pid
        .iter()
        .map(|(p, n)| (p.parse().unwrap_or(0), *n))
        .collect();
    per.sort();
    let per: Vec<String> = per.iter().map(|(p, n)| format!("{p}:{n}")).collect();
    writeln!(out, "pages      {total} in all; per pid {}", per.join(" "))?;
    if !st.shared_by_pid.is_empty() {
        writeln!(out, "shared objects (tag: pids):")?;
        for (k, v) in &st.shared_by_pid {
            let t: Vec<String> = v.iter().map(i64::to_string).collect();
            writeln!(out, "  {k:<24} {}", t.join(" "))?;
        }
    }
    writeln!(out, "largest records:")?;
    for l in &st.largest {
        writeln!(
            out,
            "  #{:<8} {:<16} {:>12} bytes at {:#x}",
            l.index, l.name, l.len, l.offset
        )?;
    }
    let all = (st.page_bytes + st.metadata_bytes).max(1);
    writeln!(
        out,
        "size       {} bytes of page contents ({:.1}%), {} bytes of metadata",
        st.page_bytes,
        100.0 * st.page_bytes as f64 / all as f64,
        st.metadata_bytes
    )?;
    Ok(())
}
