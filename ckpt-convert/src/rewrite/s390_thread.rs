//! S390Thread, step c97c03d -> 67cfee9, s390x only: a task's THREAD record with
//! `thread_info_flags`.
//!
//! Upgrading, a THREAD with flags 0 is inserted before every RESTART_BLOCK (s390x has no
//! THREAD before 67cfee9). Downgrading, THREAD is removed (dropped, a loss, when its
//! flags are not 0).

use ckpt_format::RecordInfo;
use ckpt_format::read::Decoded;
use ckpt_format::value::Value;

use super::{Flow, struct_record};
use crate::error::ConvertError;
use crate::ledger::Action;
use crate::mechanical::Conv;
use crate::plan::Change;
use crate::steps::Rewrite;
use crate::transform::Out;

/// Downgrading: THREAD is removed; upgrading: THREAD is inserted before RESTART_BLOCK.
pub(super) fn record(
    conv: &mut Conv<'_>,
    info: &RecordInfo,
    decoded: &Decoded,
    outs: &mut Vec<Out>,
) -> Result<Flow, ConvertError> {
    let (name, idx) = (info.name, info.index);
    let plan = std::rc::Rc::clone(&conv.plan);
    match name {
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
            return Ok(Flow::Done);
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
        _ => {}
    }
    Ok(Flow::Pass)
}
