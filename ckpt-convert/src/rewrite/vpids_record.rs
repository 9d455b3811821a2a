//! VpidsRecord: 67cfee9 -> c83f38b adds a VPIDS record after the tree entries (the number of nested
//! pid numbers), 78d18cf -> b0d8304 removes it again.
//!
//! Where a conversion gains it, VPIDS is inserted after the TREE's entries, counting the
//! depths of the entries. Where it loses it, VPIDS is removed, with its BUFFER of nested
//! numbers when the target's tree entries have no depth to keep them.

use ckpt_format::RecordInfo;
use ckpt_format::read::Decoded;
use ckpt_format::value::Value;

use super::{Flow, State, struct_record};
use crate::error::ConvertError;
use crate::ledger::Action;
use crate::mechanical::Conv;
use crate::plan::Change;
use crate::steps::Rewrite;
use crate::transform::Out;

/// Downgrading across c83f38b (or upgrading across b0d8304): VPIDS is removed, with its
/// BUFFER when the target has no depths.
pub(super) fn remove(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
    decoded: &Decoded,
) -> Result<Flow, ConvertError> {
    let (name, idx) = (info.name, info.index);
    let plan = std::rc::Rc::clone(&conv.plan);
    match name {
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
            return Ok(Flow::Done);
        }
        _ => {}
    }
    Ok(Flow::Pass)
}

/// Upgrading across c83f38b (or downgrading across b0d8304): VPIDS after the tree entries.
pub(super) fn insert_after(
    conv: &mut Conv<'_>,
    info: &RecordInfo,
    decoded: &Decoded,
    outs: &mut Vec<Out>,
) -> Result<(), ConvertError> {
    let idx = info.index;
    let plan = std::rc::Rc::clone(&conv.plan);
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
    Ok(())
}
