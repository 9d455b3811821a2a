//! PidsOffset, step b6cdf01 -> 1fd8e6e: PIDS `offset` becomes the first pid object's tag
//! instead of one less: upgrading adds 1, downgrading subtracts 1.

use ckpt_format::RecordInfo;
use ckpt_format::value::{Value, decode_field, encode_field};

use crate::error::ConvertError;
use crate::ledger::Action;
use crate::mechanical::Conv;
use crate::steps::Rewrite;

/// PIDS `offset` moved by one.
pub(super) fn rewrite(
    conv: &mut Conv<'_>,
    info: &RecordInfo,
    out: &mut [u8],
) -> Result<(), ConvertError> {
    let (name, idx) = (info.name, info.index);
    let plan = std::rc::Rc::clone(&conv.plan);
    if name == "PIDS" && plan.pids_offset != 0 {
        let l = conv
            .to
            .layout("ckpt_hdr_pids")
            .map_err(|e| ConvertError::Refused(e.to_string()))?;
        let f = l.fields().iter().find(|f| f.path == "offset").unwrap();
        let old = decode_field(f, out, conv.to.endian())
            .and_then(|v| v.as_int())
            .unwrap_or(0);
        let new = Value::Int((old + plan.pids_offset as i128) as i64);
        encode_field(f, &new, out, conv.to.endian()).map_err(ConvertError::Refused)?;
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
    Ok(())
}
