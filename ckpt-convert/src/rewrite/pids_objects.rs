//! PidsObjects, step a272e68 -> b6cdf01: pids become objects.
//!
//! The tree section of the source (PIDS and its BUFFER, TREE and its entries, VPIDS and
//! its nested numbers) is always read into [`State::tasks`] (the FS objects need the
//! pids). When the step is crossed the section is rewritten whole. Upgrading, every pid,
//! tgid, pgid and sid becomes a pid object of a PIDS section, written before the tree,
//! and the tree entries hold tags; the pid objects take the first tags, so every other
//! object reference moves up by their number ([`shift_tags`]). Downgrading, the tree
//! entries get the pid numbers back (nested numbers in a VPIDS BUFFER where the target
//! has depths), numbers that have no place are dropped, and the tags after the pid
//! objects move down again. Every change, tag moves included, is noted in the ledger.

use std::collections::BTreeMap;

use ckpt_format::value::{Value, decode_field, encode_field, get_uint, put_uint};
use ckpt_format::{Format, RecordInfo, Schema};

use super::{State, raw_record, struct_record};
use crate::error::ConvertError;
use crate::ledger::Action;
use crate::mechanical::{Conv, fields_of};
use crate::plan::Change;
use crate::steps::Rewrite;
use crate::transform::Out;

/// One task of a process tree, in the numbers of the root task's pid namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeTask {
    /// Pid (0: not visible).
    pub pid: i64,
    /// Parent's pid (0: outside the tree).
    pub ppid: i64,
    /// Thread group id.
    pub tgid: i64,
    /// Process group id (0: outside; negative: the revision's "null").
    pub pgid: i64,
    /// Session id.
    pub sid: i64,
    /// The pid's numbers in nested pid namespaces, outermost first.
    pub nested: Vec<i64>,
}

/// What the source's tree section held, while it is being rewritten.
#[derive(Debug, Default)]
pub(super) struct TreeSection {
    /// Pid objects: (numbers, outermost first) of a PIDS section, with the first tag.
    pid_objects: Vec<Vec<i64>>,
    first_tag: i64,
    /// The tree entries as decoded, and the sum of their depths.
    entries: Vec<BTreeMap<String, i64>>,
    depth_sum: i64,
    /// Source index of the TREE record.
    tree_index: u64,
}

/// How object tags move when pid objects are added or removed: tags from `from` on move
/// by `delta`.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct TagMap {
    pub(super) from: i64,
    pub(super) delta: i64,
}

impl TagMap {
    pub(super) fn map(&self, tag: i64) -> i64 {
        if self.delta != 0 && tag >= self.from {
            tag + self.delta
        } else {
            tag
        }
    }
}

/// Moves every object reference of a converted record (members whose name ends in `ref`:
/// `objref`, `*_objref`, `*_ref`, `f_credref`, `ptrref`, ...), in the struct and in typed
/// payload elements, with a `moved` entry for each. Pid objects take the first tags from
/// b6cdf01 on.
pub(super) fn shift_tags(conv: &mut Conv<'_>, info: &RecordInfo, out: &mut [u8], tags: TagMap) {
    let f = conv.to;
    let mut moved: Vec<(String, i64, i64)> = Vec::new();
    let mut shift_in = |l: &ckpt_format::layout::StructLayout, buf: &mut [u8], prefix: &str| {
        for fl in l.fields() {
            let leaf = fl.path.rsplit('.').next().unwrap_or(&fl.path);
            if !leaf.ends_with("ref") || fl.count != 1 {
                continue;
            }
            if let Some(v) = decode_field(fl, buf, f.endian()).and_then(|v| v.as_int())
                && v > 0
            {
                let new = tags.map(v as i64);
                if new != v as i64 && encode_field(fl, &Value::Int(new), buf, f.endian()).is_ok() {
                    moved.push((format!("{prefix}{}", fl.path), v as i64, new));
                }
            }
        }
    };
    if let Some((owner, pname)) = info.payload_of {
        let el = f
            .schema
            .payload_def(owner, f.arch)
            .and_then(|p| p.items.iter().find(|i| i.name == pname))
            .and_then(|i| i.elements.as_ref())
            .and_then(|(t, _)| f.layout(t).ok());
        if let Some(l) = el
            && l.size > 0
        {
            for (k, chunk) in out[8..].chunks_exact_mut(l.size as usize).enumerate() {
                shift_in(&l, chunk, &format!("{pname}[{k}]."));
            }
        }
    } else if let Some(l) = Conv::struct_of(f, info.name, out).and_then(|s| f.layout(&s).ok()) {
        let n = (l.size as usize).min(out.len());
        shift_in(&l, &mut out[..n], "");
    }
    let why = if tags.delta > 0 {
        format!("the {} pid objects take the first tags", tags.delta)
    } else {
        format!("the tags of the {} pid objects are free again", -tags.delta)
    };
    for (path, old, new) in moved {
        conv.note_step(
            Rewrite::PidsObjects,
            info.index,
            info.name,
            &path,
            Action::Moved,
            Some(Value::Int(old)),
            Some(Value::Int(new)),
        );
        conv.because(why.clone());
    }
}

/// The integer members of each element of a typed payload.
fn elements(f: &Format, owner: &str, pname: &str, body: &[u8]) -> Vec<BTreeMap<String, i64>> {
    let Some(l) = f
        .schema
        .payload_def(owner, f.arch)
        .and_then(|p| p.items.iter().find(|i| i.name == pname))
        .and_then(|i| i.elements.as_ref())
        .and_then(|(t, _)| f.layout(t).ok())
    else {
        return vec![];
    };
    if l.size == 0 {
        return vec![];
    }
    body.chunks_exact(l.size as usize)
        .map(|c| {
            ckpt_format::value::decode_struct(&l, c, f.endian())
                .into_iter()
                .filter_map(|(p, v)| Some((p, v.as_int()? as i64)))
                .collect()
        })
        .collect()
}

/// Why the root task's parent pid is 0 on one side of b6cdf01.
const PARENT_OUTSIDE: &str = "v23 images record only that the parent is outside the tree";

/// The "null pid" of a revision (-1 before b6cdf01, -4096 from it).
fn pid_null(s: &Schema, arch: ckpt_format::Arch) -> i64 {
    s.constant("CKPT_PID_NULL", arch).map_or(-1, |v| v as i64)
}

/// Reads the tree section of the source into `st.tasks` as its records arrive. Returns
/// true when the section is complete and `st.tasks` final.
pub(super) fn read_tree(conv: &Conv<'_>, st: &mut State, info: &RecordInfo, bytes: &[u8]) -> bool {
    let f = conv.from;
    let e = f.endian();
    let body = &bytes[8.min(bytes.len())..];
    match (info.name, info.payload_of) {
        ("PIDS", None) => {
            let d = fields_of(f, "PIDS", bytes);
            let offset = d
                .iter()
                .find(|(p, _)| p == "offset")
                .and_then(|(_, v)| v.as_int())
                .unwrap_or(0) as i64;
            let first_tag = ckpt_format::model::first_pid_tag(f.schema, offset);
            st.tree = Some(TreeSection {
                first_tag,
                ..TreeSection::default()
            });
            false
        }
        (_, Some(("PIDS", _))) => {
            st.tree.get_or_insert_with(TreeSection::default).pid_objects =
                ckpt_format::model::pid_entries(body, e);
            false
        }
        ("TREE", None) => {
            st.tree.get_or_insert_with(TreeSection::default).tree_index = info.index;
            false
        }
        (_, Some(("TREE", "pids"))) => {
            let entries = elements(f, "TREE", "pids", body);
            let t = st.tree.get_or_insert_with(TreeSection::default);
            t.depth_sum = entries
                .iter()
                .map(|m| m.get("depth").copied().unwrap_or(0).max(0))
                .sum();
            t.entries = entries;
            let tags = !t.pid_objects.is_empty() || f.record_type("PIDS").is_some();
            let get = |m: &BTreeMap<String, i64>, k: &str| m.get(k).copied().unwrap_or(0);
            if tags {
                let (objs, first) = (&t.pid_objects, t.first_tag);
                let num = |tag: i64| -> i64 {
                    if tag > 0 {
                        objs.get((tag - first) as usize)
                            .and_then(|n| n.first().copied())
                            .unwrap_or(0)
                    } else if tag == -4097 {
                        0 // CKPT_PID_ROOT: inherited from above the root task
                    } else {
                        tag
                    }
                };
                st.tasks = t
                    .entries
                    .iter()
                    .map(|m| {
                        let tag = get(m, "vpid");
                        let nested = if tag > 0 {
                            objs.get((tag - first) as usize)
                                .map(|n| n[1.min(n.len())..].to_vec())
                                .unwrap_or_default()
                        } else {
                            vec![]
                        };
                        TreeTask {
                            pid: num(tag),
                            ppid: num(get(m, "vppid")),
                            tgid: num(get(m, "vtgid")),
                            pgid: num(get(m, "vpgid")),
                            sid: num(get(m, "vsid")),
                            nested,
                        }
                    })
                    .collect();
                return true;
            }
            st.tasks = t
                .entries
                .iter()
                .map(|m| TreeTask {
                    pid: get(m, "vpid"),
                    ppid: get(m, "vppid"),
                    tgid: get(m, "vtgid"),
                    pgid: get(m, "vpgid"),
                    sid: get(m, "vsid"),
                    nested: vec![],
                })
                .collect();
            t.depth_sum == 0
        }
        ("BUFFER", Some((_, "vpids"))) => {
            let nums: Vec<i64> = body
                .chunks_exact(4)
                .map(|c| get_uint(c, e) as u32 as i32 as i64)
                .collect();
            if let Some(t) = &st.tree {
                let mut k = 0;
                for (task, m) in st.tasks.iter_mut().zip(&t.entries) {
                    let d = m.get("depth").copied().unwrap_or(0).max(0) as usize;
                    task.nested = nums[k.min(nums.len())..(k + d).min(nums.len())].to_vec();
                    k += d;
                }
            }
            true
        }
        _ => false,
    }
}

/// The target's tree section for `st.tasks` (PidsObjects): pid objects and tags from
/// b6cdf01 on, pid numbers and nested numbers before.
pub(super) fn write_tree(conv: &mut Conv<'_>, st: &mut State) -> Result<Vec<Out>, ConvertError> {
    let to = conv.to;
    let e = to.endian();
    let idx = st.tree.as_ref().map_or(0, |t| t.tree_index);
    let tasks = st.tasks.clone();
    let mut outs = Vec::new();
    let elem = |conv: &Conv<'_>| -> Result<std::sync::Arc<ckpt_format::layout::StructLayout>, ConvertError> {
        let t = conv
            .to
            .schema
            .payload_def("TREE", conv.to.arch)
            .and_then(|p| p.items.iter().find(|i| i.name == "pids"))
            .and_then(|i| i.elements.as_ref())
            .map(|(t, _)| t.clone())
            .ok_or_else(|| ConvertError::Refused("the target has no tree elements".into()))?;
        conv.to
            .layout(&t)
            .map_err(|e| ConvertError::Refused(e.to_string()))
    };
    let put = |l: &ckpt_format::layout::StructLayout, vals: &[(&str, i64)]| {
        let mut b = vec![0u8; l.size as usize];
        for f in l.fields() {
            if let Some((_, v)) = vals.iter().find(|(p, _)| *p == f.path) {
                let _ = encode_field(f, &Value::Int(*v), &mut b, e);
            }
        }
        b
    };
    let null_from = pid_null(conv.from.schema, conv.from.arch);
    let null_to = pid_null(to.schema, to.arch);
    if to.record_type("PIDS").is_some() {
        // Pid objects, registered per task in the order pid, tgid, pgid, sid.
        let mut tags: BTreeMap<i64, i64> = BTreeMap::new();
        let mut objs: Vec<(i64, Vec<i64>)> = Vec::new();
        for t in &tasks {
            for p in [t.pid, t.tgid, t.pgid, t.sid] {
                if p > 0 && !tags.contains_key(&p) {
                    tags.insert(p, objs.len() as i64 + 1);
                    let nested = tasks.iter().find(|x| x.pid == p).map(|x| x.nested.clone());
                    if nested.is_none() && tasks.iter().any(|x| !x.nested.is_empty()) {
                        conv.note_step(
                            Rewrite::PidsObjects,
                            idx,
                            "PIDS",
                            &format!("pid {p}.depth"),
                            Action::Defaulted,
                            None,
                            Some(Value::Int(0)),
                        );
                    }
                    objs.push((p, nested.unwrap_or_default()));
                }
            }
        }
        let mut buf = Vec::new();
        let mut nr_vpids = 0u64;
        for (p, nested) in &objs {
            let mut b = [0u8; 4];
            put_uint(&mut b, nested.len() as u64, e);
            buf.extend_from_slice(&b);
            for n in std::iter::once(p).chain(nested) {
                put_uint(&mut b, *n as u32 as u64, e);
                buf.extend_from_slice(&b);
            }
            nr_vpids += nested.len() as u64;
        }
        // Tags 1..n as a subtree checkpoint numbers them: offset 0 at b6cdf01, the first
        // tag (1) from 1fd8e6e.
        let offset = if to.schema.ordinal <= 15 { 0 } else { 1 };
        outs.push(Out::Record(struct_record(
            conv,
            "PIDS",
            "ckpt_hdr_pids",
            &[
                ("nr_pids", Value::Uint(objs.len() as u64)),
                ("nr_vpids", Value::Uint(nr_vpids)),
                ("offset", Value::Uint(offset)),
            ],
        )?));
        outs.push(Out::Record(raw_record(conv, "BUFFER", &buf)?));
        conv.note_step(
            Rewrite::PidsObjects,
            idx,
            "PIDS",
            "",
            Action::Inserted,
            None,
            Some(Value::Uint(objs.len() as u64)),
        );
        let l = elem(conv)?;
        let mut arr = Vec::new();
        for (k, t) in tasks.iter().enumerate() {
            let tag = |p: i64| -> i64 {
                if p > 0 {
                    tags[&p]
                } else if p < 0 && p == null_from {
                    null_to
                } else {
                    0
                }
            };
            let ppid = match tags.get(&t.ppid) {
                Some(&x) => x,
                None => {
                    if t.ppid != 0 {
                        // The root's parent lies outside the image: v23 writes 0.
                        conv.note_step(
                            Rewrite::PidsObjects,
                            idx,
                            "TREE",
                            &format!("pids[{k}].vppid"),
                            Action::Removed,
                            Some(Value::Int(t.ppid)),
                            Some(Value::Int(0)),
                        );
                        conv.because(PARENT_OUTSIDE);
                    }
                    0
                }
            };
            arr.extend(put(
                &l,
                &[
                    ("vpid", tag(t.pid)),
                    ("vppid", ppid),
                    ("vtgid", tag(t.tgid)),
                    ("vpgid", tag(t.pgid)),
                    ("vsid", tag(t.sid)),
                    ("depth", t.nested.len() as i64),
                ],
            ));
        }
        push_tree(
            conv,
            &mut outs,
            idx,
            tasks.len(),
            &arr,
            ["pid numbers", "pid object tags"],
        )?;
        st.tags = TagMap {
            from: 1,
            delta: objs.len() as i64,
        };
        return Ok(outs);
    }
    // The pid objects' tags are free again: the tags after them move down.
    if let Some(t) = &st.tree {
        let n = t.pid_objects.len() as i64;
        st.tags = TagMap {
            from: t.first_tag + n,
            delta: -n,
        };
    }
    // Pid numbers, then the nested numbers where the target keeps them.
    let l = elem(conv)?;
    let has_depth = l.offset_of("depth").is_some();
    let mut arr = Vec::new();
    let mut vpids = Vec::new();
    for (k, t) in tasks.iter().enumerate() {
        let num = |p: i64| if p < 0 && p == null_from { null_to } else { p };
        arr.extend(put(
            &l,
            &[
                ("vpid", t.pid),
                ("vppid", t.ppid),
                ("vtgid", t.tgid),
                ("vpgid", num(t.pgid)),
                ("vsid", num(t.sid)),
                ("rsid", num(t.sid)),
                ("depth", if has_depth { t.nested.len() as i64 } else { 0 }),
            ],
        ));
        if t.ppid == 0 {
            // A numeric tree has the parent's number here (a subtree checkpoint of v21
            // writes the real one); the source says only "outside the tree".
            conv.note_step(
                Rewrite::PidsObjects,
                idx,
                "TREE",
                &format!("pids[{k}].vppid"),
                Action::Defaulted,
                None,
                Some(Value::Int(0)),
            );
            conv.because(PARENT_OUTSIDE);
        }
        if has_depth {
            for n in &t.nested {
                let mut b = [0u8; 4];
                put_uint(&mut b, *n as u32 as u64, e);
                vpids.extend_from_slice(&b);
            }
        } else if !t.nested.is_empty() {
            conv.note_step(
                Rewrite::PidsObjects,
                idx,
                "TREE",
                &format!("pids[{k}].nested"),
                Action::Dropped,
                Some(Value::List(
                    t.nested.iter().map(|n| Value::Int(*n)).collect(),
                )),
                None,
            );
        }
    }
    // Nested numbers of pids that are no task's pid have no place in a numeric tree.
    if let Some(t) = &st.tree {
        for nums in &t.pid_objects {
            if nums.len() > 1 && !tasks.iter().any(|x| Some(&x.pid) == nums.first()) {
                conv.note_step(
                    Rewrite::PidsObjects,
                    idx,
                    "PIDS",
                    &format!("pid {}.numbers", nums[0]),
                    Action::Dropped,
                    Some(Value::List(
                        nums[1..].iter().map(|n| Value::Int(*n)).collect(),
                    )),
                    None,
                );
            }
        }
    }
    push_tree(
        conv,
        &mut outs,
        idx,
        tasks.len(),
        &arr,
        ["pid object tags", "pid numbers"],
    )?;
    if to.record_type("VPIDS").is_some() {
        let nr_vpids = Value::Int(vpids.len() as i64 / 4);
        outs.push(Out::Record(struct_record(
            conv,
            "VPIDS",
            "ckpt_hdr_vpids",
            &[("nr_vpids", nr_vpids.clone())],
        )?));
        conv.note_step(
            Rewrite::PidsObjects,
            idx,
            "VPIDS",
            "",
            Action::Inserted,
            None,
            Some(nr_vpids),
        );
        conv.because("the nested pid numbers of the pid objects");
    }
    if !vpids.is_empty() {
        outs.push(Out::Record(raw_record(conv, "BUFFER", &vpids)?));
    }
    Ok(outs)
}

/// TREE {nr_tasks} and its BUFFER of entries, with the ledger entry of the rewrite.
fn push_tree(
    conv: &mut Conv<'_>,
    outs: &mut Vec<Out>,
    idx: u64,
    nr_tasks: usize,
    entries: &[u8],
    [old, new]: [&str; 2],
) -> Result<(), ConvertError> {
    outs.push(Out::Record(struct_record(
        conv,
        "TREE",
        "ckpt_hdr_tree",
        &[("nr_tasks", Value::Int(nr_tasks as i64))],
    )?));
    outs.push(Out::Record(raw_record(conv, "BUFFER", entries)?));
    conv.note_step(
        Rewrite::PidsObjects,
        idx,
        "TREE",
        "pids",
        Action::Rewritten,
        Some(Value::Text(old.into())),
        Some(Value::Text(new.into())),
    );
    Ok(())
}

/// The tree section of the source: always read; rewritten whole when the step is crossed.
/// `Some` holds what replaces the record.
pub(super) fn tree_section(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
    bytes: &[u8],
) -> Result<Option<Vec<Out>>, ConvertError> {
    let (name, idx) = (info.name, info.index);
    let plan = std::rc::Rc::clone(&conv.plan);
    // The tree section: always read (the FS objects need the pids); rewritten whole
    // when pids become objects or stop being objects.
    let complete = read_tree(conv, st, info, bytes);
    let in_tree = matches!(
        (name, info.payload_of),
        ("PIDS" | "TREE", None) | (_, Some(("PIDS" | "TREE" | "VPIDS", _)))
    ) || (name == "VPIDS" && info.payload_of.is_none());
    if plan.pids_objects != Change::Same && in_tree {
        // The records of the source's section that have no counterpart: the pid objects
        // going down, the nested numbers (VPIDS) going up. Their payloads go with them.
        let gone = match (name, info.payload_of.is_none(), plan.pids_objects) {
            ("PIDS", true, Change::Remove) => Some("the pid numbers go into the tree entries"),
            ("VPIDS", _, Change::Add) => Some("the nested pid numbers go into the pid objects"),
            _ => None,
        };
        if let Some(why) = gone {
            let n = fields_of(conv.from, name, bytes)
                .into_iter()
                .find(|(p, _)| p.starts_with("nr_"))
                .map(|(_, v)| v);
            conv.note_step(
                Rewrite::PidsObjects,
                idx,
                name,
                "",
                Action::Removed,
                n,
                None,
            );
            conv.because(why);
        }
        if complete {
            return write_tree(conv, st).map(Some);
        }
        return Ok(Some(vec![]));
    }
    Ok(None)
}
