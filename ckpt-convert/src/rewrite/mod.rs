//! The hand-written rewrites of the migration steps: what names cannot carry between
//! revisions (records inserted, removed or reordered, values whose meaning changed, and
//! refusals). Which rewrites a conversion applies, and in which direction, comes from the
//! steps it crosses ([`crate::steps::between`]); each rewrite's doc and data live in the
//! step that introduces it ([`crate::steps::Rewrite`]).

use std::collections::BTreeMap;

use ckpt_format::RecordInfo;
use ckpt_format::value::{Value, decode_field, encode_field, put_uint};

use crate::error::ConvertError;
use crate::ledger::Action;
use crate::mechanical::{Conv, fields_of};
use crate::plan::{Change, Plan};
use crate::steps::{self, Direction, Rewrite};
use crate::transform::Out;

mod auxv_units;
mod fs_object;
mod pids_objects;
mod task_order;
mod unix_peer_credentials;

pub use pids_objects::TreeTask;
use pids_objects::{TagMap, TreeSection};
use task_order::Order;

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

pub(super) fn objtype_name(conv: &Conv<'_>, bytes: &[u8]) -> Option<&'static str> {
    let f = fields_of(conv.from, "OBJREF", bytes);
    let t = f.iter().find(|(p, _)| p == "objtype")?.1.as_int()?;
    conv.from.schema.enum_name("obj", t as i64, conv.from.arch)
}

pub(super) fn raw_record(
    conv: &Conv<'_>,
    name: &str,
    body: &[u8],
) -> Result<Vec<u8>, ConvertError> {
    let rtype = conv.target_type(name)?;
    let mut out = vec![0u8; 8];
    put_uint(&mut out[..4], rtype as u64, conv.to.endian());
    put_uint(&mut out[4..8], 8 + body.len() as u64, conv.to.endian());
    out.extend_from_slice(body);
    Ok(out)
}

pub(super) fn struct_record(
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
    task_order::reorder(conv, st, info, vec![])
}

/// Converts one inline record: the mechanical mapping plus every rewrite it crosses.
pub(crate) fn record(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
    bytes: &[u8],
) -> Result<Vec<Out>, ConvertError> {
    let outs = convert_record(conv, st, info, bytes)?;
    let outs = task_order::reorder(conv, st, info, outs)?;
    if info.payload_of.is_none() {
        st.last_owner = info.name;
    }
    Ok(outs)
}

/// Refuses the conversion, or (best effort, for `ckpt diff`) notes the record as lost and
/// lets the mechanical mapping carry what names can.
pub(super) fn refuse(
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
    let complete = pids_objects::read_tree(conv, st, info, bytes);
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
            return pids_objects::write_tree(conv, st);
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
        pids_objects::shift_tags(conv, info, &mut out, st.tags);
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
        unix_peer_credentials::peer_credentials(conv, st, info, &decoded, &mut out, dir)?;
    }
    // Values whose meaning changed.
    if name == "BUFFER" && info.payload_of == Some(("MM", "saved_auxv")) {
        if plan.auxv_units != Change::Same {
            out = auxv_units::auxv(conv, idx, &out, plan.auxv_units)?;
        }
        out = auxv_units::auxv_length(conv, idx, out, &plan)?;
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
                    &[("umask", Value::Uint(fs_object::fs_umask()))],
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
pub(super) fn put_member(
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

/// The step that changed the meaning of uflags 0x2 on this path.
fn netns_rewrite(plan: &Plan) -> Rewrite {
    if plan.crossed(Rewrite::NetnsFlagFlip).is_some() {
        Rewrite::NetnsFlagFlip
    } else {
        Rewrite::NetnsFlagMeaning
    }
}
