//! The hand-written rewrites of the migration steps: what names cannot carry between
//! revisions (records inserted, removed or reordered, values whose meaning changed, and
//! refusals). Which rewrites a conversion applies, and in which direction, comes from the
//! steps it crosses ([`crate::steps::between`]); each rewrite's doc and data live in the
//! step that introduces it ([`crate::steps::Rewrite`]).

use std::collections::BTreeMap;

use ckpt_format::value::{Value, decode_field, encode_field, get_uint, put_uint};
use ckpt_format::{Format, RecordInfo, Schema};

use crate::error::ConvertError;
use crate::ledger::Action;
use crate::mechanical::{Conv, fields_of};
use crate::plan::{Change, Plan};
use crate::steps::{self, Direction, Rewrite};
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
struct TreeSection {
    /// Pid objects: (numbers, outermost first) of a PIDS section, with the first tag.
    pid_objects: Vec<Vec<i64>>,
    first_tag: i64,
    /// The tree entries as decoded, and the sum of their depths.
    entries: Vec<BTreeMap<String, i64>>,
    depth_sum: i64,
    /// Source index of the TREE record.
    tree_index: u64,
}

/// Where a task's records stand in a reordering (TaskOrder).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Order {
    #[default]
    Idle,
    /// Upgrade: the task's objects go to the spill until THREAD.
    Spilling,
    /// Upgrade: THREAD..CPU_FPU go out while the objects wait in the spill.
    CpuOut,
    /// Downgrade: THREAD..CPU_FPU are held.
    Holding,
    /// Downgrade: the objects go out; the held records wait for SIGPENDING private.
    Objects,
}

/// How object tags move when pid objects are added or removed: tags from `from` on move
/// by `delta`.
#[derive(Debug, Default, Clone, Copy)]
struct TagMap {
    from: i64,
    delta: i64,
}

impl TagMap {
    fn map(&self, tag: i64) -> i64 {
        if self.delta != 0 && tag >= self.from {
            tag + self.delta
        } else {
            tag
        }
    }
}

/// Per-image state of the rewrites.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Records still to drop (payloads of a removed record).
    drop_payloads: u32,
    /// Tags of the FS objects inserted, per thread group leader's pid.
    fs_tags: BTreeMap<i64, i64>,
    /// Whether the source dumps the net namespace.
    netns_dumped: bool,
    /// The source's tree, once read.
    pub tasks: Vec<TreeTask>,
    /// TASK records seen so far.
    task_count: usize,
    /// The tree section while it is rewritten (PidsObjects).
    tree: Option<TreeSection>,
    /// Object tags of the output: pid objects take (or leave) the first tags.
    tags: TagMap,
    order: Order,
    held: Vec<Vec<u8>>,
    /// Name of the last record that is not a payload.
    last_owner: &'static str,
    /// Tags of CRED objects whose OBJREF came and whose CRED record has not.
    cred_stack: Vec<i64>,
    /// uid and gid of every CRED object of the source, by tag.
    creds: BTreeMap<i64, (i64, i64)>,
}

fn objtype_name(conv: &Conv<'_>, bytes: &[u8]) -> Option<&'static str> {
    let f = fields_of(conv.from, "OBJREF", bytes);
    let t = f.iter().find(|(p, _)| p == "objtype")?.1.as_int()?;
    conv.from.schema.enum_name("obj", t as i64, conv.from.arch)
}

fn raw_record(conv: &Conv<'_>, name: &str, body: &[u8]) -> Result<Vec<u8>, ConvertError> {
    let rtype = conv.target_type(name)?;
    let mut out = vec![0u8; 8];
    put_uint(&mut out[..4], rtype as u64, conv.to.endian());
    put_uint(&mut out[4..8], 8 + body.len() as u64, conv.to.endian());
    out.extend_from_slice(body);
    Ok(out)
}

fn struct_record(
    conv: &Conv<'_>,
    name: &str,
    st: &str,
    values: &[(&str, Value)],
) -> Result<Vec<u8>, ConvertError> {
    let l = conv
        .to
        .layout(st)
        .map_err(|e| ConvertError::Refused(e.to_string()))?;
    let mut b = vec![0u8; l.size as usize];
    for f in l.fields() {
        if let Some((_, v)) = values.iter().find(|(p, _)| *p == f.path) {
            encode_field(f, v, &mut b, conv.to.endian()).map_err(ConvertError::Refused)?;
        }
    }
    let rtype = conv.target_type(name)?;
    put_uint(&mut b[..4], rtype as u64, conv.to.endian());
    let len = b.len() as u64;
    put_uint(&mut b[4..8], len, conv.to.endian());
    Ok(b)
}

/// Records to write before a streamed record (page contents): the reordering may have
/// to move the output to or from the spill first.
pub(crate) fn around_stream(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
) -> Result<Vec<Out>, ConvertError> {
    if st.drop_payloads > 0 {
        return Err(ConvertError::Refused(format!(
            "record #{}: a large payload of a removed record",
            info.index
        )));
    }
    reorder(conv, st, info, vec![])
}

/// Converts one inline record: the mechanical mapping plus every rewrite it crosses.
pub(crate) fn record(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
    bytes: &[u8],
) -> Result<Vec<Out>, ConvertError> {
    let outs = convert_record(conv, st, info, bytes)?;
    let outs = reorder(conv, st, info, outs)?;
    if info.payload_of.is_none() {
        st.last_owner = info.name;
    }
    Ok(outs)
}

/// TaskOrder (d55d4c8 <-> db94f5e): v18 writes a task's objects before THREAD,
/// RESTART_BLOCK and CPU; v19 after. `outs` are the converted records of `info`.
fn reorder(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
    outs: Vec<Out>,
) -> Result<Vec<Out>, ConvertError> {
    let name = info.name;
    let owner = info.payload_of.map_or(name, |p| p.0);
    let cpu_part = matches!(owner, "THREAD" | "RESTART_BLOCK" | "CPU" | "CPU_FPU");
    let ends_task = matches!(name, "TASK" | "TAIL" | "ERROR") && info.payload_of.is_none();
    let comm = info.payload_of == Some(("TASK", "comm"));
    let mut pre = Vec::new();
    let mut outs = outs;
    match (conv.plan.task_order, st.order) {
        (Change::Same, _) => return Ok(outs),
        // Upgrade: objects to the spill, THREAD..CPU_FPU straight out, then the objects.
        (Change::Add, Order::Idle) if comm => {
            outs.push(Out::SpillOn);
            st.order = Order::Spilling;
        }
        // THREAD comes first; s390x before 67cfee9 has none and starts with RESTART_BLOCK.
        (Change::Add, Order::Spilling) if cpu_part => {
            pre.push(Out::SpillPause);
            note_moved(conv, info, "before the task's objects");
            st.order = Order::CpuOut;
        }
        (Change::Add, Order::CpuOut) if cpu_part => {
            note_moved(conv, info, "before the task's objects");
        }
        (Change::Add, Order::Spilling) if ends_task => {
            pre.push(Out::SpillFlush);
            st.order = Order::Idle;
        }
        (Change::Add, Order::CpuOut) if !cpu_part => {
            pre.push(Out::SpillFlush);
            st.order = Order::Idle;
        }
        // Downgrade: hold THREAD..CPU_FPU until the objects are out.
        (Change::Remove, Order::Idle) if comm => st.order = Order::Holding,
        (Change::Remove, Order::Holding) if cpu_part => {
            if outs.iter().any(|o| matches!(o, Out::Record(_))) {
                note_moved(conv, info, "after the task's objects");
            }
            for o in outs.drain(..) {
                if let Out::Record(b) = o {
                    st.held.push(b);
                }
            }
        }
        (Change::Remove, Order::Holding | Order::Objects) if ends_task => {
            pre.extend(st.held.drain(..).map(Out::Record));
            st.order = Order::Idle;
        }
        (Change::Remove, Order::Holding) => st.order = Order::Objects,
        (Change::Remove, Order::Objects)
            if name == "SIGPENDING" && info.payload_of.is_none() && st.last_owner != "SIGNAL" =>
        {
            // The private SIGPENDING: the shared one follows SIGNAL directly.
            pre.extend(st.held.drain(..).map(Out::Record));
            st.order = Order::Idle;
        }
        _ => {}
    }
    pre.extend(outs);
    Ok(pre)
}

/// Notes that record `info` (one of a task's THREAD..CPU_FPU records) moves `to` where
/// the target's grammar puts it.
fn note_moved(conv: &mut Conv<'_>, info: &RecordInfo, to: &str) {
    conv.note_step(
        Rewrite::TaskOrder,
        info.index,
        info.name,
        "",
        Action::Moved,
        None,
        Some(Value::Text(to.into())),
    );
    conv.because(
        "v18 (before v19-rc2) writes a task's objects before its THREAD, RESTART_BLOCK and CPU \
         records; v19 after them",
    );
}

/// Moves every object reference of a converted record (members whose name ends in `ref`:
/// `objref`, `*_objref`, `*_ref`, `f_credref`, `ptrref`, ...), in the struct and in typed
/// payload elements, with a `moved` entry for each. Pid objects take the first tags from
/// b6cdf01 on.
fn shift_tags(conv: &mut Conv<'_>, info: &RecordInfo, out: &mut [u8], tags: TagMap) {
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
fn read_tree(conv: &Conv<'_>, st: &mut State, info: &RecordInfo, bytes: &[u8]) -> bool {
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
fn write_tree(conv: &mut Conv<'_>, st: &mut State) -> Result<Vec<Out>, ConvertError> {
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

/// Refuses the conversion, or (best effort, for `ckpt diff`) notes the record as lost and
/// lets the mechanical mapping carry what names can.
fn refuse(
    conv: &mut Conv<'_>,
    rw: Rewrite,
    info: &RecordInfo,
    why: String,
) -> Result<(), ConvertError> {
    if !conv.opts.best_effort {
        return Err(ConvertError::Refused(why));
    }
    conv.note_step(
        rw,
        info.index,
        info.name,
        "(refused)",
        Action::Dropped,
        Some(Value::Text(why)),
        None,
    );
    Ok(())
}

fn convert_record(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
    bytes: &[u8],
) -> Result<Vec<Out>, ConvertError> {
    let name = info.name;
    let plan = std::rc::Rc::clone(&conv.plan);
    let idx = info.index;
    // Payloads of a removed record go with it.
    if st.drop_payloads > 0 && info.payload_of.is_some() {
        st.drop_payloads -= 1;
        let text = String::from_utf8_lossy(&bytes[8..])
            .trim_end_matches('\0')
            .to_string();
        conv.note(
            idx,
            name,
            info.payload_of.map_or("", |p| p.1),
            Action::Dropped,
            Some(Value::Text(text)),
            None,
        );
        return Ok(vec![]);
    }
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
            return write_tree(conv, st);
        }
        return Ok(vec![]);
    }
    if name == "TASK" && info.payload_of.is_none() {
        st.task_count += 1;
    }
    // Refusals that depend on what the image holds.
    if plan.crossed(Rewrite::SocketBuffers).is_some()
        && matches!(name, "SOCKET_BUFFER" | "SOCKET_INET")
    {
        refuse(
            conv,
            Rewrite::SocketBuffers,
            info,
            format!(
                "record #{idx} {name}: socket buffers and INET sockets were rewritten in v19-rc2 (db94f5e) \
             and TCP state cannot be made up; images with them do not convert across that revision"
            ),
        )?;
    }
    // Credentials objects of the source, for unix peer credentials (f0fdd38).
    if name == "OBJREF" && objtype_name(conv, bytes) == Some("CRED") {
        let f = fields_of(conv.from, name, bytes);
        if let Some(t) = f
            .iter()
            .find(|(p, _)| p == "objref")
            .and_then(|(_, v)| v.as_int())
        {
            st.cred_stack.push(t as i64);
        }
    }
    if name == "CRED"
        && info.payload_of.is_none()
        && let Some(tag) = st.cred_stack.pop()
    {
        let f = fields_of(conv.from, name, bytes);
        let get = |p: &str| {
            f.iter()
                .find(|(x, _)| x == p)
                .and_then(|(_, v)| v.as_int())
                .unwrap_or(0) as i64
        };
        st.creds.insert(tag, (get("uid"), get("gid")));
    }
    if name == "HEADER_ARCH"
        && let Some(want) = conv.opts.cpu_xstate_size
    {
        let f = fields_of(conv.from, name, bytes);
        let have = f
            .iter()
            .find(|(p, _)| p == "xstate_size")
            .and_then(|(_, v)| v.as_int());
        if let Some(have) = have
            && have != want as i128
        {
            return Err(ConvertError::Refused(format!(
                "record #{idx} HEADER_ARCH: the image's FPU state is {have} bytes (xstate_size) and the target \
                 CPU's is {want}; restart requires them equal and ckpt copies the FPU state unchanged"
            )));
        }
    }
    let decoded = ckpt_format::read::decode_record(conv.from, info, bytes)
        .map_err(|k| ConvertError::Format(ckpt_format::Error::new(k, Default::default())))?;
    let mut outs = Vec::new();
    match name {
        "HEADER" => {
            let mut h = conv.header(info, bytes)?;
            // uflags bit 0x2: "do not dump" (78d18cf, b0d8304) or "dump" (82822cf on).
            let uf = decoded.int("uflags").unwrap_or(0) as u64;
            let bit = uf & 2 != 0;
            st.netns_dumped = match plan.netns_bit.0 {
                Some(true) => bit,
                Some(false) => !bit,
                None => false,
            };
            let new_bit = match plan.netns_bit.1 {
                Some(true) => st.netns_dumped,
                Some(false) => !st.netns_dumped,
                None => false,
            };
            if new_bit != bit {
                let nv = if new_bit { uf | 2 } else { uf & !2 };
                put_member(conv, "ckpt_hdr_header", "uflags", &Value::Uint(nv), &mut h)?;
                conv.note_step(
                    netns_rewrite(&plan),
                    idx,
                    "HEADER",
                    "uflags",
                    Action::Rewritten,
                    Some(Value::Uint(uf)),
                    Some(Value::Uint(nv)),
                );
            }
            outs.push(Out::Record(h));
            return Ok(outs);
        }
        "BUFFER" | "LSM_INFO"
            if info.payload_of.is_some_and(|p| p.0 == "CONTAINER")
                && plan.lsm_container == Change::Remove =>
        {
            let text = String::from_utf8_lossy(&bytes[8..])
                .trim_end_matches('\0')
                .to_string();
            let default = matches!(text.as_str(), "default" | "dummy" | "lsm_none");
            conv.note_step(
                Rewrite::LsmContainer,
                idx,
                name,
                info.payload_of.unwrap().1,
                if default {
                    Action::Removed
                } else {
                    Action::Dropped
                },
                Some(Value::Text(text)),
                None,
            );
            return Ok(outs);
        }
        // Labels (LSM c/r, d55d4c8) have no place in an older image: dropped.
        "OBJREF"
            if plan.lsm_container == Change::Remove
                && objtype_name(conv, bytes) == Some("SECURITY") =>
        {
            conv.note_step(
                Rewrite::LsmContainer,
                idx,
                "OBJREF",
                "SECURITY",
                Action::Removed,
                None,
                None,
            );
            return Ok(outs);
        }
        "SECURITY" if plan.lsm_container == Change::Remove => {
            let text = String::from_utf8_lossy(&bytes[8..]).to_string();
            conv.note_step(
                Rewrite::LsmContainer,
                idx,
                "SECURITY",
                "",
                Action::Dropped,
                Some(Value::Text(text)),
                None,
            );
            st.drop_payloads = 1;
            return Ok(outs);
        }
        // s390x has a THREAD record (thread_info_flags) from 67cfee9 only.
        "THREAD" if plan.s390_thread == Change::Remove => {
            let flags = decoded.int("thread_info_flags").unwrap_or(0);
            conv.note_step(
                Rewrite::S390Thread,
                idx,
                "THREAD",
                "thread_info_flags",
                if flags == 0 {
                    Action::Removed
                } else {
                    Action::Dropped
                },
                Some(Value::Int(flags as i64)),
                None,
            );
            return Ok(outs);
        }
        "RESTART_BLOCK" if plan.s390_thread == Change::Add => {
            outs.push(Out::Record(struct_record(
                conv,
                "THREAD",
                "ckpt_hdr_thread",
                &[("thread_info_flags", Value::Uint(0))],
            )?));
            conv.note_step(
                Rewrite::S390Thread,
                idx,
                "THREAD",
                "thread_info_flags",
                Action::Inserted,
                None,
                Some(Value::Uint(0)),
            );
        }
        "OBJREF" if plan.fs_object == Change::Remove && objtype_name(conv, bytes) == Some("FS") => {
            conv.note_step(
                Rewrite::FsObject,
                idx,
                "OBJREF",
                "FS",
                Action::Removed,
                None,
                None,
            );
            return Ok(outs);
        }
        "FS" if plan.fs_object == Change::Remove => {
            conv.note_step(
                Rewrite::FsObject,
                idx,
                "FS",
                "",
                Action::Removed,
                None,
                None,
            );
            st.drop_payloads = 2;
            return Ok(outs);
        }
        "VPIDS" if plan.vpids_record == Change::Remove => {
            let n = decoded.int("nr_vpids").unwrap_or(0);
            conv.note_step(
                Rewrite::VpidsRecord,
                idx,
                "VPIDS",
                "",
                Action::Removed,
                Some(Value::Int(n as i64)),
                None,
            );
            let target_has_depth = conv
                .to
                .layout("ckpt_pids")
                .is_ok_and(|l| l.offset_of("depth").is_some());
            if n > 0 && !target_has_depth {
                st.drop_payloads = 1;
            }
            return Ok(outs);
        }
        _ => {}
    }
    // Members the rewrites below set and note themselves.
    match name {
        "SOCKET" if plan.crossed(Rewrite::SocketHasBuffers).is_some() => {
            conv.claimed.push("has_buffers")
        }
        "SOCKET_UNIX" if plan.crossed(Rewrite::UnixPeerCredentials).is_some() => conv
            .claimed
            .extend(["peercred", "peercred_uid", "peercred_gid"]),
        "TASK_OBJS" if plan.fs_object == Change::Add => conv.claimed.push("fs_objref"),
        _ => {}
    }
    let mut out = conv.mechanical(info, bytes, &decoded)?;
    if st.tags.delta != 0 && !info.headerless {
        shift_tags(conv, info, &mut out, st.tags);
    }
    if name == "SOCKET"
        && info.payload_of.is_none()
        && let Some(dir) = plan.crossed(Rewrite::SocketHasBuffers)
    {
        // Queues follow unless the socket listens (TCP_LISTEN = 10).
        let implied = u64::from(decoded.int("sock.state") != Some(10));
        match dir {
            Direction::Up => {
                put_member(
                    conv,
                    "ckpt_hdr_socket",
                    "has_buffers",
                    &Value::Uint(implied),
                    &mut out,
                )?;
                conv.note_step(
                    Rewrite::SocketHasBuffers,
                    idx,
                    "SOCKET",
                    "has_buffers",
                    Action::Defaulted,
                    None,
                    Some(Value::Uint(implied)),
                );
            }
            Direction::Down => {
                let had = decoded.int("has_buffers").unwrap_or(0) as u64;
                // Equal to what the socket's state implies, it is no loss.
                conv.note_step(
                    Rewrite::SocketHasBuffers,
                    idx,
                    "SOCKET",
                    "has_buffers",
                    if had == implied {
                        Action::Removed
                    } else {
                        Action::Dropped
                    },
                    Some(Value::Uint(had)),
                    None,
                );
                if had == implied {
                    conv.because("implied by the socket's state");
                }
            }
        }
    }
    if name == "SOCKET_UNIX"
        && let Some(dir) = plan.crossed(Rewrite::UnixPeerCredentials)
    {
        peer_credentials(conv, st, info, &decoded, &mut out, dir)?;
    }
    // Values whose meaning changed.
    if name == "BUFFER" && info.payload_of == Some(("MM", "saved_auxv")) {
        if plan.auxv_units != Change::Same {
            out = auxv(conv, idx, &out, plan.auxv_units)?;
        }
        out = auxv_length(conv, idx, out, &plan)?;
    }
    if name == "PIDS" && plan.pids_offset != 0 {
        let l = conv
            .to
            .layout("ckpt_hdr_pids")
            .map_err(|e| ConvertError::Refused(e.to_string()))?;
        let f = l.fields().iter().find(|f| f.path == "offset").unwrap();
        let old = decode_field(f, &out, conv.to.endian())
            .and_then(|v| v.as_int())
            .unwrap_or(0);
        let new = Value::Int((old + plan.pids_offset as i128) as i64);
        encode_field(f, &new, &mut out, conv.to.endian()).map_err(ConvertError::Refused)?;
        conv.note_step(
            Rewrite::PidsOffset,
            idx,
            "PIDS",
            "offset",
            Action::Rewritten,
            Some(Value::Int(old as i64)),
            Some(new),
        );
    }
    if name == "TASK_OBJS" && plan.fs_object == Change::Add {
        // One FS object per thread group (threads share their fs_struct).
        let task = st
            .tasks
            .get(st.task_count.saturating_sub(1))
            .cloned()
            .unwrap_or_default();
        let tag = match st.fs_tags.get(&task.tgid) {
            Some(&t) => t,
            None => {
                let (a, b) = (conv.from.schema, conv.to.schema);
                let pid = task.pid;
                let (Some(cwd), Some(root)) = (
                    conv.opts.cwd.for_pid(pid).map(str::to_string),
                    conv.opts.root.for_pid(pid).map(str::to_string),
                ) else {
                    return Err(ConvertError::Refused(format!(
                        "record #{idx} TASK_OBJS (task with pid {pid}): revision {} needs a file-system object \
                         (working and root directory) for every task, which {} images do not hold; give \
                         --cwd PATH and --root PATH (for all tasks) or --cwd {pid}=PATH and --root {pid}=PATH",
                        b.id, a.id
                    )));
                };
                let (cwd, root) = (&cwd, &root);
                // Tags no object of the image uses: tags only need to be consistent.
                // (Moved like the image's tags, so that A -> C equals A -> B -> C.)
                let t = st.tags.map((1i64 << 30) + 1 + st.fs_tags.len() as i64);
                let fs_obj = conv
                    .to
                    .schema
                    .enum_value("obj", "FS", conv.to.arch)
                    .unwrap_or(0);
                outs.push(Out::Record(struct_record(
                    conv,
                    "OBJREF",
                    "ckpt_hdr_objref",
                    &[
                        ("objtype", Value::Uint(fs_obj as u64)),
                        ("objref", Value::Int(t)),
                    ],
                )?));
                outs.push(Out::Record(struct_record(
                    conv,
                    "FS",
                    "ckpt_hdr_fs",
                    &[("umask", Value::Uint(fs_umask()))],
                )?));
                for p in [cwd, root] {
                    let mut b = p.as_bytes().to_vec();
                    b.push(0);
                    outs.push(Out::Record(raw_record(conv, "FILE_NAME", &b)?));
                }
                conv.note_step(
                    Rewrite::FsObject,
                    idx,
                    "FS",
                    "",
                    Action::Inserted,
                    None,
                    None,
                );
                if let Some(d) = steps::default_of("ckpt_hdr_fs", "umask")
                    && conv
                        .to
                        .layout("ckpt_hdr_fs")
                        .is_ok_and(|l| l.offset_of("umask").is_some())
                {
                    conv.note_step(
                        Rewrite::FsObject,
                        idx,
                        "FS",
                        "umask",
                        Action::Defaulted,
                        None,
                        Some(Value::Uint(d.value)),
                    );
                    conv.because(d.why);
                }
                conv.note_step(
                    Rewrite::FsObject,
                    idx,
                    "FS",
                    "cwd",
                    Action::Supplied,
                    None,
                    Some(Value::Text(cwd.clone())),
                );
                conv.note_step(
                    Rewrite::FsObject,
                    idx,
                    "FS",
                    "root",
                    Action::Supplied,
                    None,
                    Some(Value::Text(root.clone())),
                );
                conv.note_step(
                    Rewrite::FsObject,
                    idx,
                    "OBJREF",
                    "FS",
                    Action::Inserted,
                    None,
                    Some(Value::Int(t)),
                );
                st.fs_tags.insert(task.tgid, t);
                t
            }
        };
        put_member(
            conv,
            "ckpt_hdr_task_objs",
            "fs_objref",
            &Value::Int(tag),
            &mut out,
        )?;
        conv.note_step(
            Rewrite::FsObject,
            idx,
            "TASK_OBJS",
            "fs_objref",
            Action::Supplied,
            None,
            Some(Value::Int(tag)),
        );
    }
    outs.push(Out::Record(out));
    // Records after this one.
    if info.payload_of == Some(("TREE", "pids")) && plan.vpids_record == Change::Add {
        let sum: i128 = decoded
            .fields
            .iter()
            .filter(|(p, _)| p.ends_with(".depth"))
            .filter_map(|(_, v)| v.as_int())
            .sum();
        outs.push(Out::Record(struct_record(
            conv,
            "VPIDS",
            "ckpt_hdr_vpids",
            &[("nr_vpids", Value::Int(sum as i64))],
        )?));
        conv.note_step(
            Rewrite::VpidsRecord,
            idx,
            "VPIDS",
            "",
            Action::Inserted,
            None,
            Some(Value::Int(sum as i64)),
        );
    }
    if name == "CONTAINER" && plan.lsm_container == Change::Add {
        let mut lsm = b"default".to_vec();
        lsm.resize(11, 0);
        outs.push(Out::Record(raw_record(conv, "BUFFER", &lsm)?));
        outs.push(Out::Record(raw_record(conv, "LSM_INFO", b"dummy")?));
        conv.note_step(
            Rewrite::LsmContainer,
            idx,
            "CONTAINER",
            "lsm_name",
            Action::Inserted,
            None,
            Some(Value::Text("default".into())),
        );
        conv.note_step(
            Rewrite::LsmContainer,
            idx,
            "CONTAINER",
            "lsm_info",
            Action::Inserted,
            None,
            Some(Value::Text("dummy".into())),
        );
    }
    Ok(outs)
}

/// Writes `v` into member `path` of a converted record laid out as `st_name` in the target.
fn put_member(
    conv: &Conv<'_>,
    st_name: &str,
    path: &str,
    v: &Value,
    out: &mut [u8],
) -> Result<(), ConvertError> {
    let l = conv
        .to
        .layout(st_name)
        .map_err(|e| ConvertError::Refused(e.to_string()))?;
    let f = l
        .fields()
        .iter()
        .find(|f| f.path == path)
        .ok_or_else(|| ConvertError::Refused(format!("{st_name} has no member {path}")))?;
    encode_field(f, v, out, conv.to.endian()).map_err(ConvertError::Refused)
}

/// UnixPeerCredentials (f0fdd38): `peercred_uid`/`peercred_gid` <-> `peercred`, a
/// reference to a CRED object of the image with that uid and gid.
fn peer_credentials(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
    decoded: &ckpt_format::read::Decoded,
    out: &mut [u8],
    dir: Direction,
) -> Result<(), ConvertError> {
    let idx = info.index;
    // The numbers on the side that has them: removed going up, made from the CRED going
    // down.
    let numbers: Vec<(&str, i64)>;
    let (old, new) = match dir {
        Direction::Up => {
            let uid = decoded.int("peercred_uid").unwrap_or(0) as i64;
            let gid = decoded.int("peercred_gid").unwrap_or(0) as i64;
            let Some((&tag, _)) = st.creds.iter().find(|(_, c)| **c == (uid, gid)) else {
                return refuse(
                    conv,
                    Rewrite::UnixPeerCredentials,
                    info,
                    format!(
                        "record #{idx} SOCKET_UNIX: {} refers to the peer's credentials by a CRED object, and no \
                         CRED with uid {uid} and gid {gid} precedes the socket in this image; ckpt does not make \
                         one up",
                        conv.to.schema.id
                    ),
                );
            };
            let tag = st.tags.map(tag);
            put_member(
                conv,
                "ckpt_hdr_socket_unix",
                "peercred",
                &Value::Int(tag),
                out,
            )?;
            numbers = vec![("peercred_uid", uid), ("peercred_gid", gid)];
            (Value::Text(format!("uid {uid} gid {gid}")), Value::Int(tag))
        }
        Direction::Down => {
            let tag = decoded.int("peercred").unwrap_or(0) as i64;
            let Some(&(uid, gid)) = st.creds.get(&tag) else {
                return refuse(
                    conv,
                    Rewrite::UnixPeerCredentials,
                    info,
                    format!(
                        "record #{idx} SOCKET_UNIX: peercred refers to object {tag}, which is no CRED written \
                         before the socket; {} needs the peer's uid and gid",
                        conv.to.schema.id
                    ),
                );
            };
            put_member(
                conv,
                "ckpt_hdr_socket_unix",
                "peercred_uid",
                &Value::Int(uid),
                out,
            )?;
            put_member(
                conv,
                "ckpt_hdr_socket_unix",
                "peercred_gid",
                &Value::Int(gid),
                out,
            )?;
            numbers = vec![("peercred_uid", uid), ("peercred_gid", gid)];
            (Value::Int(tag), Value::Text(format!("uid {uid} gid {gid}")))
        }
    };
    conv.note_step(
        Rewrite::UnixPeerCredentials,
        idx,
        "SOCKET_UNIX",
        "peercred",
        Action::Rewritten,
        Some(old),
        Some(new),
    );
    // A number 0 that goes away is no change (as the mechanical pass has it).
    let numbers = numbers
        .into_iter()
        .filter(|(_, n)| dir == Direction::Down || *n != 0);
    for (member, n) in numbers {
        let (action, old, new, why) = match dir {
            Direction::Up => (
                Action::Removed,
                Some(Value::Int(n)),
                None,
                "carried by the CRED object that peercred refers to",
            ),
            Direction::Down => (
                Action::Rewritten,
                None,
                Some(Value::Int(n)),
                "from the CRED object that peercred referred to",
            ),
        };
        conv.note_step(
            Rewrite::UnixPeerCredentials,
            idx,
            "SOCKET_UNIX",
            member,
            action,
            old,
            new,
        );
        conv.because(why);
    }
    Ok(())
}

/// The step that changed the meaning of uflags 0x2 on this path.
fn netns_rewrite(plan: &Plan) -> Rewrite {
    if plan.crossed(Rewrite::NetnsFlagFlip).is_some() {
        Rewrite::NetnsFlagFlip
    } else {
        Rewrite::NetnsFlagMeaning
    }
}

/// saved_auxv: native longs (c97c03d and before) <-> u64 entries (67cfee9 on).
fn auxv(conv: &mut Conv<'_>, idx: u64, rec: &[u8], dir: Change) -> Result<Vec<u8>, ConvertError> {
    let word = conv.from.arch.word_size() as usize;
    if word == 8 {
        return Ok(rec.to_vec());
    }
    let (e_in, e_out) = (conv.from.endian(), conv.to.endian());
    let body = &rec[8..];
    let (from_w, to_w) = if dir == Change::Add { (4, 8) } else { (8, 4) };
    let mut out = rec[..8].to_vec();
    for (k, c) in body.chunks_exact(from_w).enumerate() {
        let v = get_uint(c, e_in);
        if to_w == 4 && v > u32::MAX as u64 {
            conv.note_step(
                Rewrite::AuxvUnits,
                idx,
                "BUFFER",
                &format!("saved_auxv[{k}]"),
                Action::Dropped,
                Some(Value::Uint(v)),
                None,
            );
        }
        let mut b = vec![0u8; to_w];
        put_uint(&mut b, v, e_out);
        out.extend_from_slice(&b);
    }
    let len = out.len() as u64;
    put_uint(&mut out[4..8], len, e_out);
    conv.note_step(
        Rewrite::AuxvUnits,
        idx,
        "BUFFER",
        "saved_auxv",
        Action::Rewritten,
        Some(Value::Uint(from_w as u64)),
        Some(Value::Uint(to_w as u64)),
    );
    Ok(out)
}

/// The umask given to FS objects that the source lacks: the default of the member.
fn fs_umask() -> u64 {
    steps::default_of("ckpt_hdr_fs", "umask").map_or(0, |d| d.value)
}

/// saved_auxv holds exactly the target kernel's AT_VECTOR_SIZE entries (restart reads
/// that many): pad with zero entries, or drop trailing ones (a loss unless they are 0).
fn auxv_length(
    conv: &mut Conv<'_>,
    idx: u64,
    mut rec: Vec<u8>,
    plan: &Plan,
) -> Result<Vec<u8>, ConvertError> {
    let get = |n: &str| plan.constants.iter().find(|(x, _)| x == n).map(|(_, v)| *v);
    let (want, entry) = match (get("at_vector_size"), get("mm_saved_auxv_len")) {
        (Some(entries), _) => (entries as usize * 8, 8),
        (None, Some(bytes)) => (bytes as usize, conv.to.arch.word_size() as usize),
        _ => return Ok(rec),
    };
    let have = rec.len() - 8;
    if have == want {
        return Ok(rec);
    }
    // The entries added or cut, by index (the units change is the record's own entry).
    let field = format!(
        "saved_auxv[{}..{}]",
        have.min(want) / entry,
        have.max(want).div_ceil(entry)
    );
    if have > want {
        let cut = &rec[8 + want..];
        let action = if cut.iter().all(|&b| b == 0) {
            Action::Removed
        } else {
            Action::Dropped
        };
        conv.note(
            idx,
            "BUFFER",
            &field,
            action,
            Some(Value::Uint(have as u64)),
            Some(Value::Uint(want as u64)),
        );
        rec.truncate(8 + want);
    } else {
        conv.note(
            idx,
            "BUFFER",
            &field,
            Action::Defaulted,
            Some(Value::Uint(have as u64)),
            Some(Value::Uint(want as u64)),
        );
        conv.because("restart reads exactly the target kernel's AT_VECTOR_SIZE entries");
        rec.resize(8 + want, 0);
    }
    let len = rec.len() as u64;
    put_uint(&mut rec[4..8], len, conv.to.endian());
    Ok(rec)
}
