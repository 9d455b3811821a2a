//! FsObject, step 76fcfe5 -> c97c03d: every task refers to an FS object holding its
//! umask, working directory and root directory.
//!
//! Upgrading, the source holds no FS object: one is inserted per thread group (threads
//! share their fs_struct) before the group leader's TASK_OBJS, with the paths the user
//! supplies (`--cwd`, `--root`; refused, naming the options, without them) and the
//! documented umask, and TASK_OBJS gets `fs_objref`. Downgrading, the FS objects (OBJREF,
//! FS and its two FILE_NAME payloads) are removed.

use std::collections::BTreeMap;

use ckpt_format::RecordInfo;
use ckpt_format::value::Value;

use super::{Flow, State, objtype_name, put_member, raw_record, struct_record};
use crate::error::ConvertError;
use crate::ledger::Action;
use crate::mechanical::Conv;
use crate::plan::Change;
use crate::steps::{self, Rewrite};
use crate::transform::Out;

/// The FS objects inserted, one per thread group.
#[derive(Debug, Default)]
pub(super) struct FsObjects {
    /// Their tags, by thread group id.
    tags: BTreeMap<i64, i64>,
}

/// The umask given to FS objects that the source lacks: the default of the member.
pub(super) fn fs_umask() -> u64 {
    steps::default_of("ckpt_hdr_fs", "umask").map_or(0, |d| d.value)
}

/// Downgrading: the FS objects (OBJREF, FS and its payloads) are removed.
pub(super) fn remove(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
    bytes: &[u8],
) -> Result<Flow, ConvertError> {
    let (name, idx) = (info.name, info.index);
    let plan = std::rc::Rc::clone(&conv.plan);
    match name {
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
            return Ok(Flow::Done);
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
            return Ok(Flow::Done);
        }
        _ => {}
    }
    Ok(Flow::Pass)
}

/// Claims `fs_objref`, which [`insert`] sets and notes.
pub(super) fn claim(conv: &mut Conv<'_>, info: &RecordInfo) {
    if info.name == "TASK_OBJS" && conv.plan.fs_object == Change::Add {
        conv.claimed.push("fs_objref");
    }
}

/// Upgrading: TASK_OBJS refers to its thread group's FS object, which is inserted
/// (into `outs`, before the record) for the group's first task.
pub(super) fn insert(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
    out: &mut [u8],
    outs: &mut Vec<Out>,
) -> Result<(), ConvertError> {
    let (name, idx) = (info.name, info.index);
    let plan = std::rc::Rc::clone(&conv.plan);
    if name == "TASK_OBJS" && plan.fs_object == Change::Add {
        // One FS object per thread group (threads share their fs_struct).
        let task = st
            .tasks
            .get(st.task_count.saturating_sub(1))
            .cloned()
            .unwrap_or_default();
        let tag = match st.fs_objects.tags.get(&task.tgid) {
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
                let t = st
                    .tags
                    .map((1i64 << 30) + 1 + st.fs_objects.tags.len() as i64);
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
                st.fs_objects.tags.insert(task.tgid, t);
                t
            }
        };
        put_member(
            conv,
            "ckpt_hdr_task_objs",
            "fs_objref",
            &Value::Int(tag),
            out,
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
    Ok(())
}
