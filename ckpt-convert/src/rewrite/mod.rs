//! The hand-written rewrites of the migration steps: what names cannot carry between
//! revisions (records inserted, removed or reordered, values whose meaning changed, and
//! refusals). Which rewrites a conversion applies, and in which direction, comes from the
//! steps it crosses ([`crate::steps::between`]); each rewrite's doc and data live in the
//! step that introduces it ([`crate::steps::Rewrite`]).
//!
//! One module per [`crate::steps::Rewrite`], each saying what its rewrite does in both
//! directions; this module is the dispatcher (`record`, `around_stream`): it calls
//! the rewrites in turn around the mechanical mapping, each either taking the record or
//! letting it pass, and holds the helpers they share. The rewrite modules import this
//! module and never each other.

use ckpt_format::RecordInfo;
use ckpt_format::value::{Value, encode_field, put_uint};

use crate::error::ConvertError;
use crate::ledger::Action;
use crate::mechanical::{Conv, fields_of};
use crate::steps::Rewrite;
use crate::transform::Out;

mod auxv_units;
mod compat_task;
mod cpu_state;
mod fs_object;
mod lsm_container;
mod netns;
mod page_words;
mod pids_objects;
mod pids_offset;
mod s390_thread;
mod socket_buffers;
mod socket_has_buffers;
mod task_order;
mod unix_peer_credentials;
mod vpids_record;

use fs_object::FsObjects;
pub use pids_objects::TreeTask;
use pids_objects::{TagMap, TreeSection};
use task_order::Reorder;
use unix_peer_credentials::Creds;

/// Per-image state of the rewrites.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Records still to drop (payloads of a removed record).
    drop_payloads: u32,
    /// The FS objects inserted (FsObject).
    fs_objects: FsObjects,
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
    /// The reordering of the current task's records (TaskOrder).
    reorder: Reorder,
    /// Name of the last record that is not a payload.
    last_owner: &'static str,
    /// The source's CRED objects (UnixPeerCredentials).
    creds: Creds,
    /// What the arch change keeps between records (the vDSO, a held MM).
    compat: compat_task::Compat,
    /// The source CPU's FPU facts (HEADER_ARCH).
    fpu: cpu_state::FpuFacts,
    /// The page chunks being rewritten (arch change).
    pages: page_words::PageChunks,
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

/// Whether the converter rewrites this streamed record (a page chunk whose addresses
/// change width).
pub(crate) fn rewrites_stream(conv: &Conv<'_>, info: &RecordInfo) -> bool {
    page_words::rewrites(conv, info)
}

/// Writes what replaces a streamed record [`rewrites_stream`] said the converter
/// rewrites.
pub(crate) fn rewrite_stream(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
    body: &mut crate::transform::StreamedBody<'_>,
) -> Result<(), ConvertError> {
    page_words::rewrite(conv, &mut st.pages, info, body)
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

/// Converts one inline record: each rewrite in turn, around the mechanical mapping.
fn convert_record(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
    bytes: &[u8],
) -> Result<Vec<Out>, ConvertError> {
    if drop_payload(conv, st, info, bytes) == Flow::Done {
        return Ok(vec![]);
    }
    if let Some(outs) = pids_objects::tree_section(conv, st, info, bytes)? {
        return Ok(outs);
    }
    if info.name == "TASK" && info.payload_of.is_none() {
        st.task_count += 1;
    }
    socket_buffers::refusal(conv, info)?;
    unix_peer_credentials::collect(conv, st, info, bytes);
    let decoded = ckpt_format::read::decode_record(conv.from, info, bytes)
        .map_err(|k| ConvertError::Format(ckpt_format::Error::new(k, Default::default())))?;
    let mut outs = Vec::new();
    page_words::summary(conv, &st.pages, info);
    // Rewrites that take the record (or insert before it) ahead of the mechanical mapping.
    if compat_task::take(conv, st, info, &decoded, &mut outs)? == Flow::Done
        || netns::header(conv, st, info, bytes, &decoded, &mut outs)? == Flow::Done
        || page_words::pgarr_record(conv, &mut st.pages, info, bytes, &mut outs)? == Flow::Done
        || lsm_container::remove(conv, st, info, bytes)? == Flow::Done
        || s390_thread::record(conv, info, &decoded, &mut outs)? == Flow::Done
        || fs_object::remove(conv, st, info, bytes)? == Flow::Done
        || vpids_record::remove(conv, st, info, &decoded)? == Flow::Done
    {
        return Ok(outs);
    }
    // Members the rewrites below set and note themselves.
    socket_has_buffers::claim(conv, info);
    unix_peer_credentials::claim(conv, info);
    fs_object::claim(conv, info);
    let mut out = conv.mechanical(info, bytes, &decoded)?;
    if st.tags.delta != 0 && !info.headerless {
        pids_objects::shift_tags(conv, info, &mut out, st.tags);
    }
    socket_has_buffers::rewrite(conv, info, &decoded, &mut out)?;
    unix_peer_credentials::rewrite(conv, st, info, &decoded, &mut out)?;
    cpu_state::header_arch(conv, &mut st.fpu, info, &decoded, &mut out)?;
    cpu_state::fpu_state(conv, &st.fpu, info, &mut out)?;
    compat_task::after(conv, st, info, &decoded, &mut out)?;
    if let Some(words) = compat_task::saved_auxv(conv, st, info, bytes)? {
        out = words;
    }
    // Values whose meaning changed.
    let mut out = auxv_units::rewrite(conv, info, out)?;
    pids_offset::rewrite(conv, info, &mut out)?;
    fs_object::insert(conv, st, info, &mut out, &mut outs)?;
    if compat_task::hold_mm(conv, st, info, &out, &mut outs)? == Flow::Done {
        return Ok(outs);
    }
    outs.push(Out::Record(out));
    // Records after this one.
    vpids_record::insert_after(conv, info, &decoded, &mut outs)?;
    lsm_container::insert_after(conv, info, &mut outs)?;
    Ok(outs)
}

/// Payloads of a removed record go with it.
fn drop_payload(conv: &mut Conv<'_>, st: &mut State, info: &RecordInfo, bytes: &[u8]) -> Flow {
    let (name, idx) = (info.name, info.index);
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
        return Flow::Done;
    }
    Flow::Pass
}

/// Whether a rewrite took a record (nothing more is written for it) or let it pass on to
/// the next rewrite and the mechanical mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    /// Not taken: the next rewrite, finally the mechanical mapping, handles it.
    Pass,
    /// Taken: what the rewrite wrote (if anything) replaces the record.
    Done,
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
