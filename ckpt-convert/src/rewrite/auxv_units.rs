//! AuxvUnits, step c97c03d -> 67cfee9: the units of the saved auxv (MM's BUFFER
//! `saved_auxv`), and its length on every conversion.
//!
//! Up to c97c03d the saved auxv is stored as native longs; from 67cfee9 as u64 entries.
//! On 32-bit arches, upgrading widens every entry, downgrading narrows it (an entry that
//! does not fit in 32 bits is dropped, a loss). Whatever the step, restart reads exactly
//! the target kernel's AT_VECTOR_SIZE entries: the record is padded with zero entries
//! (defaulted) or its trailing entries cut (a loss unless they are 0).

use ckpt_format::RecordInfo;
use ckpt_format::value::{Value, get_uint, put_uint};

use crate::error::ConvertError;
use crate::ledger::Action;
use crate::mechanical::Conv;
use crate::plan::{Change, Plan};
use crate::steps::Rewrite;

/// saved_auxv: native longs (c97c03d and before) <-> u64 entries (67cfee9 on).
pub(super) fn auxv(
    conv: &mut Conv<'_>,
    idx: u64,
    rec: &[u8],
    dir: Change,
) -> Result<Vec<u8>, ConvertError> {
    let word = conv.from.arch.word_size() as usize;
    if word == 8 {
        return Ok(rec.to_vec());
    }
    let (e_in, e_out) = (conv.from.endian(), conv.to.endian());
    let body = &rec[8..];
    let (from_w, to_w) = if dir == Change::Add { (4, 8) } else { (8, 4) };
    let mut out = rec[..8].to_vec();
    for (k, c) in body.chunks_exact(from_w).enumerate() {
        let v = get_uint(c, e_in);
        if to_w == 4 && v > u32::MAX as u64 {
            conv.note_step(
                Rewrite::AuxvUnits,
                idx,
                "BUFFER",
                &format!("saved_auxv[{k}]"),
                Action::Dropped,
                Some(Value::Uint(v)),
                None,
            );
        }
        let mut b = vec![0u8; to_w];
        put_uint(&mut b, v, e_out);
        out.extend_from_slice(&b);
    }
    let len = out.len() as u64;
    put_uint(&mut out[4..8], len, e_out);
    conv.note_step(
        Rewrite::AuxvUnits,
        idx,
        "BUFFER",
        "saved_auxv",
        Action::Rewritten,
        Some(Value::Uint(from_w as u64)),
        Some(Value::Uint(to_w as u64)),
    );
    Ok(out)
}

/// saved_auxv holds exactly the target kernel's AT_VECTOR_SIZE entries (restart reads
/// that many): pad with zero entries, or drop trailing ones (a loss unless they are 0).
pub(super) fn auxv_length(
    conv: &mut Conv<'_>,
    idx: u64,
    mut rec: Vec<u8>,
    plan: &Plan,
) -> Result<Vec<u8>, ConvertError> {
    let get = |n: &str| plan.constants.iter().find(|(x, _)| x == n).map(|(_, v)| *v);
    let (want, entry) = match (get("at_vector_size"), get("mm_saved_auxv_len")) {
        (Some(entries), _) => (entries as usize * 8, 8),
        (None, Some(bytes)) => (bytes as usize, conv.to.arch.word_size() as usize),
        _ => return Ok(rec),
    };
    let have = rec.len() - 8;
    if have == want {
        return Ok(rec);
    }
    // The entries added or cut, by index (the units change is the record's own entry).
    let field = format!(
        "saved_auxv[{}..{}]",
        have.min(want) / entry,
        have.max(want).div_ceil(entry)
    );
    let why = match &plan.constants_variant {
        Some((v, by)) => {
            format!("restart reads exactly the target kernel's AT_VECTOR_SIZE entries ({v}, {by})")
        }
        None => "restart reads exactly the target kernel's AT_VECTOR_SIZE entries".to_string(),
    };
    if have > want {
        let cut = &rec[8 + want..];
        let action = if cut.iter().all(|&b| b == 0) {
            Action::Removed
        } else {
            Action::Dropped
        };
        conv.note(
            idx,
            "BUFFER",
            &field,
            action,
            Some(Value::Uint(have as u64)),
            Some(Value::Uint(want as u64)),
        );
        conv.because(&why);
        rec.truncate(8 + want);
    } else {
        conv.note(
            idx,
            "BUFFER",
            &field,
            Action::Defaulted,
            Some(Value::Uint(have as u64)),
            Some(Value::Uint(want as u64)),
        );
        conv.because(&why);
        rec.resize(8 + want, 0);
    }
    let len = rec.len() as u64;
    put_uint(&mut rec[4..8], len, conv.to.endian());
    Ok(rec)
}

/// MM's saved_auxv in the target's units and length.
pub(super) fn rewrite(
    conv: &mut Conv<'_>,
    info: &RecordInfo,
    mut out: Vec<u8>,
) -> Result<Vec<u8>, ConvertError> {
    let (name, idx) = (info.name, info.index);
    let plan = std::rc::Rc::clone(&conv.plan);
    if name == "BUFFER" && info.payload_of == Some(("MM", "saved_auxv")) {
        // An arch change writes the target's units itself (compat_task::saved_auxv).
        if plan.auxv_units != Change::Same && plan.arch_change.is_none() {
            out = auxv(conv, idx, &out, plan.auxv_units)?;
        }
        out = auxv_length(conv, idx, out, &plan)?;
    }
    Ok(out)
}
