//! The process tree: which tasks, their pids, groups, sessions and threads, and the
//! tree records (TREE, PIDS, VPIDS) of every revision.

use std::collections::BTreeMap;
use std::io::Write;

use crate::error::Result;
use crate::model::places::{PlaceKind, PlaceValue};
use crate::prng::SplitMix64;
use crate::value::put_uint;

use super::emit::{Emitter, Payload, i, u};
use super::options::BuildOptions;

/// One task of the tree being built.
#[derive(Debug, Clone)]
pub(super) struct Task {
    pub(super) pid: i64,
    pub(super) ppid: i64,
    pub(super) tgid: i64,
    pub(super) pgid: i64,
    pub(super) sid: i64,
    pub(super) comm: String,
    pub(super) zombie: bool,
    pub(super) leader: usize,
    pub(super) uid: u64,
    /// Pid numbers in the nested pid namespaces the task is in (innermost last); empty in
    /// the root namespace of the checkpoint.
    pub(super) nested: Vec<i64>,
}

pub(super) fn plan_tree(opts: &BuildOptions, rng: &mut SplitMix64) -> Vec<Task> {
    let n = opts.tasks.max(1) as usize;
    let names = [
        "init", "sshd", "bash", "worker", "cron", "python3", "nginx", "db",
    ];
    let mut tasks: Vec<Task> = Vec::with_capacity(n);
    tasks.push(Task {
        pid: 1,
        ppid: 0,
        tgid: 1,
        pgid: 1,
        sid: 1,
        comm: "init".into(),
        zombie: false,
        leader: 0,
        uid: 0,
        nested: vec![],
    });
    for k in 1..n {
        let pid = k as i64 + 1;
        let live: Vec<usize> = (0..k)
            .filter(|&j| !tasks[j].zombie && tasks[j].leader == j)
            .collect();
        let parent = live[rng.below(live.len() as u64) as usize];
        let p = tasks[parent].clone();
        let thread = !opts.omit.threads && k >= 2 && rng.chance(25);
        let zombie = !thread && !opts.omit.zombies && k + 1 == n && n >= 3;
        let new_session = !thread && rng.chance(30);
        let new_group = !thread && !new_session && rng.chance(30);
        tasks.push(Task {
            pid,
            ppid: if thread { p.ppid } else { p.pid },
            tgid: if thread { p.tgid } else { pid },
            pgid: if new_session || new_group {
                pid
            } else {
                p.pgid
            },
            sid: if new_session { pid } else { p.sid },
            comm: if thread {
                p.comm.clone()
            } else {
                names[k % names.len()].to_string()
            },
            zombie,
            leader: if thread { parent } else { k },
            uid: if rng.chance(50) { 0 } else { 1000 },
            nested: vec![],
        });
    }
    tasks
}

/// Puts the subtree of the third live process into a nested pid namespace (depth 1), as
/// revisions with a `depth` in their tree entries can record.
pub(super) fn nest_pid_namespace(tasks: &mut [Task]) {
    let Some(root) = (2..tasks.len()).find(|&k| tasks[k].leader == k && !tasks[k].zombie) else {
        return;
    };
    let mut inside = vec![false; tasks.len()];
    inside[root] = true;
    for k in root + 1..tasks.len() {
        let parent = tasks[..k].iter().position(|t| t.pid == tasks[k].ppid);
        inside[k] = inside[tasks[k].leader] || parent.is_some_and(|p| inside[p]);
    }
    let mut next = 1;
    for (k, t) in tasks.iter_mut().enumerate() {
        if inside[k] {
            t.nested = vec![next];
            next += 1;
        }
    }
}

pub(super) fn write_tree<W: Write>(e: &mut Emitter<'_, W>, tasks: &[Task]) -> Result<()> {
    let n = tasks.len() as u64;
    if e.has("PIDS") {
        // Pid objects, registered per task in the order pid, tgid, pgid, sid.
        let mut tags: BTreeMap<i64, i64> = BTreeMap::new();
        let mut order = Vec::new();
        for t in tasks {
            for p in [t.pid, t.tgid, t.pgid, t.sid] {
                if let std::collections::btree_map::Entry::Vacant(v) = tags.entry(p) {
                    v.insert(e.tag());
                    order.push(p);
                }
            }
        }
        // Each pid object: {depth, numbers[depth + 1]}, numbers outermost first.
        let mut buf = Vec::new();
        let mut nr_vpids = 0u64;
        for p in &order {
            let nested: &[i64] = tasks
                .iter()
                .find(|t| t.pid == *p)
                .map_or(&[], |t| &t.nested);
            let mut entry = vec![0u8; 8 + 4 * nested.len()];
            put_uint(&mut entry[..4], nested.len() as u64, e.f.endian());
            put_uint(&mut entry[4..8], *p as u64, e.f.endian());
            for (j, nr) in nested.iter().enumerate() {
                put_uint(&mut entry[8 + 4 * j..12 + 4 * j], *nr as u64, e.f.endian());
            }
            nr_vpids += nested.len() as u64;
            buf.extend_from_slice(&entry);
        }
        // offset: the tag of the first pid (v23-rc2) or one less (v23-rc1.pids).
        let first = tags[&order[0]];
        let offset = if e.f.schema.ordinal >= 16 {
            first
        } else {
            first - 1
        };
        for (k, p) in order.iter().enumerate() {
            e.placed(
                1,
                PlaceKind::Pid,
                format!("entries[{k}].numbers[0]"),
                PlaceValue::Int(*p),
            );
        }
        e.rec(
            "PIDS",
            vec![
                ("nr_pids", u(order.len() as u64)),
                ("nr_vpids", u(nr_vpids)),
                ("offset", u(offset as u64)),
            ],
            &[],
            vec![Payload::Bytes(buf)],
        )?;
        let mut arr = Vec::new();
        for t in tasks {
            let tag = |p: i64| i(tags[&p]);
            let vppid = if t.ppid == 0 { i(0) } else { tag(t.ppid) };
            arr.extend(e.element(
                "ckpt_task_pids",
                &[
                    ("vpid", tag(t.pid)),
                    ("vppid", vppid),
                    ("vtgid", tag(t.tgid)),
                    ("vpgid", tag(t.pgid)),
                    ("vsid", tag(t.sid)),
                    ("depth", u(t.nested.len() as u64)),
                ],
            )?);
        }
        return e.rec(
            "TREE",
            vec![("nr_tasks", u(n))],
            &[],
            vec![Payload::Bytes(arr)],
        );
    }
    let mut arr = Vec::new();
    for (k, t) in tasks.iter().enumerate() {
        for (m, v) in [
            ("vpid", t.pid),
            ("vppid", t.ppid),
            ("vtgid", t.tgid),
            ("vpgid", t.pgid),
            ("vsid", t.sid),
        ] {
            if v > 0 && e.struct_has("ckpt_pids", m) {
                e.placed(
                    1,
                    PlaceKind::Pid,
                    format!("pids[{k}].{m}"),
                    PlaceValue::Int(v),
                );
            }
        }
        arr.extend(e.element(
            "ckpt_pids",
            &[
                ("vpid", i(t.pid)),
                ("vppid", i(t.ppid)),
                ("vtgid", i(t.tgid)),
                ("vpgid", i(t.pgid)),
                ("vsid", i(t.sid)),
                ("rsid", i(t.sid)),
                ("depth", u(t.nested.len() as u64)),
            ],
        )?);
    }
    // The pid numbers in nested namespaces, task by task.
    let mut vpids = Vec::new();
    for t in tasks {
        for nr in &t.nested {
            let mut b = [0u8; 4];
            put_uint(&mut b, *nr as u64, e.f.endian());
            vpids.extend_from_slice(&b);
        }
    }
    let mut payloads = vec![Payload::Bytes(arr)];
    if e.has("VPIDS") {
        // c83f38b, 78d18cf: the tree's VPIDS record, then the numbers in a BUFFER.
        let nr = vpids.len() as u64 / 4;
        let vrec = e.make("VPIDS", &[("nr_vpids", u(nr))], &[])?;
        payloads.push(Payload::Bytes(vrec[8..].to_vec()));
        e.rec("TREE", vec![("nr_tasks", u(n))], &[], payloads)?;
        if nr > 0 {
            let buffer = e.f.record_type("BUFFER").unwrap();
            e.w.write_record(buffer, &vpids)?;
        }
        return Ok(());
    }
    if !vpids.is_empty() {
        payloads.push(Payload::Bytes(vpids));
    }
    e.rec("TREE", vec![("nr_tasks", u(n))], &[], payloads)
}
