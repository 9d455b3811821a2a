//! SocketBuffers, step d55d4c8 -> db94f5e (v18 -> v19-rc2): socket buffers and INET
//! sockets were rewritten (TCP state), which cannot be made up or carried back: in both
//! directions an image holding SOCKET_BUFFER or SOCKET_INET records is refused (noted as
//! lost in a best-effort conversion for `ckpt diff`).

use ckpt_format::RecordInfo;

use super::refuse;
use crate::error::ConvertError;
use crate::mechanical::Conv;
use crate::steps::Rewrite;

/// Refuses (or, best effort, notes) SOCKET_BUFFER and SOCKET_INET across db94f5e.
pub(super) fn refusal(conv: &mut Conv<'_>, info: &RecordInfo) -> Result<(), ConvertError> {
    let (name, idx) = (info.name, info.index);
    let plan = std::rc::Rc::clone(&conv.plan);
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
             and TCP state cannot be made up; images with them do not convert across that revision \
             (`ckpt edit --close PID:FD` removes a socket, with its buffers, from the image)"
            ),
        )?;
    }
    Ok(())
}
