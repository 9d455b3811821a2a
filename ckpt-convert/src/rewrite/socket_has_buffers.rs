//! SocketHasBuffers, step f678773 -> f0fdd38: SOCKET's `has_buffers`, whether the
//! socket's queues follow.
//!
//! Upgrading, it is set to what the socket's state implies (queues follow unless the
//! socket listens), a default. Downgrading, it is removed: no loss when equal to what the
//! state implies, dropped otherwise.

use ckpt_format::RecordInfo;
use ckpt_format::read::Decoded;
use ckpt_format::value::Value;

use super::put_member;
use crate::error::ConvertError;
use crate::ledger::Action;
use crate::mechanical::Conv;
use crate::steps::{Direction, Rewrite};

/// Claims `has_buffers`, which [`rewrite`] sets and notes.
pub(super) fn claim(conv: &mut Conv<'_>, info: &RecordInfo) {
    if info.name == "SOCKET" && conv.plan.crossed(Rewrite::SocketHasBuffers).is_some() {
        conv.claimed.push("has_buffers");
    }
}

/// Sets (upgrading) or notes the removal of (downgrading) SOCKET's `has_buffers`.
pub(super) fn rewrite(
    conv: &mut Conv<'_>,
    info: &RecordInfo,
    decoded: &Decoded,
    out: &mut [u8],
) -> Result<(), ConvertError> {
    let (name, idx) = (info.name, info.index);
    let plan = std::rc::Rc::clone(&conv.plan);
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
                    out,
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
    Ok(())
}
