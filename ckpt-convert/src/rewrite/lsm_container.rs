//! LsmContainer, step a53775e -> d55d4c8: the container section's LSM name and info,
//! and the security labels of LSM c/r.
//!
//! Upgrading, CONTAINER is followed by a BUFFER with the LSM name "default" and an
//! LSM_INFO "dummy". Downgrading, both are removed
//! (dropped, a loss, unless they hold those defaults), and every SECURITY object (its
//! OBJREF, the SECURITY record and its payload) is dropped.

use ckpt_format::RecordInfo;
use ckpt_format::value::Value;

use super::{Flow, State, objtype_name, raw_record};
use crate::error::ConvertError;
use crate::ledger::Action;
use crate::mechanical::Conv;
use crate::plan::Change;
use crate::steps::Rewrite;
use crate::transform::Out;

/// Downgrading: the LSM name and info of the container and every label are dropped.
pub(super) fn remove(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
    bytes: &[u8],
) -> Result<Flow, ConvertError> {
    let (name, idx) = (info.name, info.index);
    let plan = std::rc::Rc::clone(&conv.plan);
    match name {
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
            return Ok(Flow::Done);
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
            return Ok(Flow::Done);
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
            return Ok(Flow::Done);
        }
        // s390x has a THREAD record (thread_info_flags) from 67cfee9 only.
        _ => {}
    }
    Ok(Flow::Pass)
}

/// Upgrading: the LSM name BUFFER and LSM_INFO after CONTAINER.
pub(super) fn insert_after(
    conv: &mut Conv<'_>,
    info: &RecordInfo,
    outs: &mut Vec<Out>,
) -> Result<(), ConvertError> {
    let (name, idx) = (info.name, info.index);
    let plan = std::rc::Rc::clone(&conv.plan);
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
    Ok(())
}
