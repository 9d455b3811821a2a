//! Writing a place's new value into its record: a member in place, or a string record
//! rebuilt with its length recomputed.

use ckpt_format::format::HDR_SIZE;
use ckpt_format::model::places::{Place, PlaceValue};
use ckpt_format::read::decode_record_typed;
use ckpt_format::schema::RecordBody;
use ckpt_format::value::{Value, encode_field, put_uint};
use ckpt_format::{Format, RecordInfo};

use crate::error::ConvertError;

/// Writes `new` into `place` of record `rec` (pre-header included).
pub(super) fn put(
    f: &Format,
    info: &RecordInfo,
    rec: &mut Vec<u8>,
    place: &Place,
    new: &PlaceValue,
) -> Result<(), ConvertError> {
    let refuse = |why: String| {
        ConvertError::Refused(format!(
            "record #{} {} {} ({}): {why}",
            info.index, info.name, place.member, place.use_
        ))
    };
    let decoded = decode_record_typed(f, info, rec).map_err(|e| refuse(e.to_string()))?;
    let endian = f.endian();
    if let Some(field) = decoded.fields.iter().find(|x| x.path == place.member) {
        let field = field.field();
        match new {
            PlaceValue::Int(n) => {
                encode_field(&field, &Value::Int(*n), rec, endian).map_err(refuse)?;
            }
            PlaceValue::Text(t) => {
                let old_len = match &place.value {
                    PlaceValue::Text(o) => o.len(),
                    PlaceValue::Int(_) => 0,
                };
                encode_field(&field, &Value::Text(t.clone()), rec, endian).map_err(refuse)?;
                if let Some(lm) = &place.length_member {
                    let lf = decoded
                        .fields
                        .iter()
                        .find(|x| &x.path == lm)
                        .ok_or_else(|| refuse(format!("no length member {lm}")))?;
                    let was = lf.value.as_int().unwrap_or(0);
                    let now = was - old_len as i128 + t.len() as i128;
                    encode_field(&lf.field(), &Value::Int(now as i64), rec, endian)
                        .map_err(refuse)?;
                }
            }
        }
        return Ok(());
    }
    let PlaceValue::Text(t) = new else {
        let PlaceValue::Int(n) = new else {
            return Err(refuse("a text for a number".to_string()));
        };
        // An element of a list member (`groups[2]` of GROUPINFO's `groups`).
        if let Some((name, k)) = list_element(&place.member)
            && let Some(list) = decoded.fields.iter().find(|x| x.path == name)
            && k < list.count as usize
        {
            let mut field = list.field();
            field.offset += k as u32 * field.prim.size;
            field.count = 1;
            encode_field(&field, &Value::Int(*n), rec, endian).map_err(refuse)?;
            return Ok(());
        }
        // Untyped buffers: the outermost number of a pid object (`entries[K].numbers[0]`
        // of the PIDS section's BUFFER of `{u32 depth; s32 numbers[depth + 1]}`), the
        // last pid of a semaphore (`sem_base[K].sempid` of `{int semval; int sempid}`).
        let at = match (
            pid_entry(&place.member),
            sem_pid(&place.member),
            info.payload_of,
        ) {
            (Some(k), _, Some(("PIDS", _))) => pid_entry_offset(rec, k, endian),
            (_, Some(k), Some(("IPC_SEM", _))) => {
                let at = HDR_SIZE as usize + 8 * k + 4;
                (at + 4 <= rec.len()).then_some(at)
            }
            _ => None,
        };
        if let Some(at) = at {
            let field = ckpt_format::layout::Field {
                path: place.member.clone(),
                offset: at as u32,
                prim: ckpt_format::layout::Prim {
                    kind: ckpt_format::layout::PrimKind::Signed,
                    size: 4,
                    align: 4,
                },
                count: 1,
            };
            encode_field(&field, &Value::Int(*n), rec, endian).map_err(refuse)?;
            return Ok(());
        }
        return Err(refuse("the member is not in the record".to_string()));
    };
    // A string record (a FILE_NAME, a STRING): the text and its NUL, the length anew.
    let is_text = matches!(
        f.schema.record_def(info.name, f.arch).map(|d| &d.body),
        Some(RecordBody::String | RecordBody::Bytes)
    );
    if !is_text || info.headerless {
        return Err(refuse("the member is not in the record".to_string()));
    }
    *rec = with_text(f, rec, t).map_err(refuse)?;
    Ok(())
}

/// String record `rec` (pre-header included) holding `text` instead of its own, with
/// its length anew; what the writer put after the text (its NUL, any padding the length
/// covered) is kept.
pub(super) fn with_text(f: &Format, rec: &[u8], text: &str) -> Result<Vec<u8>, String> {
    let hdr = HDR_SIZE as usize;
    let body = &rec[hdr..];
    let after = match body.iter().position(|&c| c == 0) {
        Some(k) => &body[k..],
        None => &[],
    };
    let mut out = rec[..hdr].to_vec();
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(after);
    let len = out.len() as u64;
    if len > u32::MAX as u64 / 2 {
        return Err("the new text is too long for a record".to_string());
    }
    put_uint(&mut out[4..8], len, f.endian());
    Ok(out)
}

/// `groups` and 2 of `groups[2]`.
fn list_element(member: &str) -> Option<(&str, usize)> {
    let (name, rest) = member.split_once('[')?;
    let k = rest.strip_suffix(']')?.parse().ok()?;
    Some((name, k))
}

/// K of `sem_base[K].sempid`.
fn sem_pid(member: &str) -> Option<usize> {
    member
        .strip_prefix("sem_base[")?
        .strip_suffix("].sempid")?
        .parse()
        .ok()
}

/// K of `entries[K].numbers[0]`.
fn pid_entry(member: &str) -> Option<usize> {
    member
        .strip_prefix("entries[")?
        .strip_suffix("].numbers[0]")?
        .parse()
        .ok()
}

/// The offset in the record of the outermost number of pid entry `k`.
fn pid_entry_offset(rec: &[u8], k: usize, endian: ckpt_format::Endian) -> Option<usize> {
    let hdr = HDR_SIZE as usize;
    let mut at = hdr;
    for _ in 0..k {
        let depth = ckpt_format::value::get_uint(rec.get(at..at + 4)?, endian) as usize;
        at = at.checked_add(8)?.checked_add(depth.checked_mul(4)?)?;
    }
    (at + 8 <= rec.len()).then_some(at + 4)
}
