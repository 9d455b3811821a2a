//! NetnsFlagMeaning (c83f38b -> 78d18cf) and NetnsFlagFlip (b0d8304 -> 82822cf): the
//! header's uflags bit 0x2.
//!
//! From 78d18cf the bit means "do not dump the net namespace"; from 82822cf it means
//! "dump it"; before, it has no meaning. In both directions the source's bit is read as
//! its revision means it, and written as the target's revision means it (0 where it has
//! no meaning), with a `rewritten` entry when it changes.

use ckpt_format::RecordInfo;
use ckpt_format::read::Decoded;
use ckpt_format::value::Value;

use super::{Flow, State, put_member};
use crate::error::ConvertError;
use crate::ledger::Action;
use crate::mechanical::Conv;
use crate::plan::Plan;
use crate::steps::Rewrite;
use crate::transform::Out;

/// The HEADER: the mechanical header conversion, with uflags 0x2 rewritten where its
/// meaning changes.
pub(super) fn header(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
    bytes: &[u8],
    decoded: &Decoded,
    outs: &mut Vec<Out>,
) -> Result<Flow, ConvertError> {
    if info.name != "HEADER" {
        return Ok(Flow::Pass);
    }
    let idx = info.index;
    let plan = std::rc::Rc::clone(&conv.plan);
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
    Ok(Flow::Done)
}

/// The step that changed the meaning of uflags 0x2 on this path.
fn netns_rewrite(plan: &Plan) -> Rewrite {
    if plan.crossed(Rewrite::NetnsFlagFlip).is_some() {
        Rewrite::NetnsFlagFlip
    } else {
        Rewrite::NetnsFlagMeaning
    }
}
