//! Applying a record line's `fields` over its bytes, and checking what else the line
//! says (tail and payload fields, `text`, `struct`) against them.

use serde_json::{Map, Value as Json};

use super::{DumpError, json};
use crate::format::Format;
use crate::layout::StructLayout;
use crate::read::{RecordInfo, TypedDecoded};
use crate::schema::{RecordBody, Schema};
use crate::value::{Value, decode_field, encode_field};

/// The owner record and payload name of `payload_of` (`"HEADER uts_release"`), with the
/// schema's lifetime.
pub(super) fn payload_of(format: &Format, p: &Json) -> Option<(&'static str, &'static str)> {
    let (owner, pname) = p.as_str()?.split_once(' ')?;
    let schema: &'static Schema = format.schema;
    let def = schema.payload_def(owner, format.arch)?;
    let item = def.items.iter().find(|i| i.name == pname)?;
    Some((def.record.as_str(), item.name.as_str()))
}

/// Applies the `fields` of a record line over its `bytes` and checks the rest of what the
/// line says against them: a field of the record's struct is written, any other field
/// (of the tail, of a payload) and the `text` must be what the bytes hold.
pub(super) fn edit(
    format: &Format,
    name: &str,
    obj: &Map<String, Json>,
    info: &RecordInfo,
    given: bool,
    decoded: &TypedDecoded,
    bytes: &mut [u8],
) -> Result<(), DumpError> {
    let field_err = |path: &str, message: String| DumpError::Field {
        name: name.to_string(),
        path: path.to_string(),
        message,
    };
    let rec_err = |message: String| DumpError::Record {
        name: name.to_string(),
        message,
    };
    let def = format.schema.record_def(name, format.arch).map(|d| &d.body);
    let line_struct = match obj.get("struct") {
        None => None,
        Some(Json::String(s)) => Some(s.as_str()),
        Some(other) => return Err(rec_err(format!("struct: expected a name, found {other}"))),
    };
    // The struct whose fields are written: a struct record's own (for a FILE, the one
    // its f_type selects).
    let writable: Option<&str> = match def {
        Some(RecordBody::Struct { .. } | RecordBody::Select { .. })
            if info.payload_of.is_none() =>
        {
            let held = decoded.struct_name.as_deref();
            match (line_struct, def) {
                (None, _) => held,
                // By its fields alone: any struct the record can hold.
                (Some(s), Some(RecordBody::Select { common, cases, .. }))
                    if !given && (s == common || cases.iter().any(|(_, c)| c == s)) =>
                {
                    Some(s)
                }
                (Some(s), _) if Some(s) == held => held,
                (Some(s), _) => {
                    return Err(rec_err(format!(
                        "struct is {s}, but the record holds {}",
                        held.unwrap_or("no struct")
                    )));
                }
            }
        }
        _ => {
            if let Some(s) = line_struct
                && decoded.struct_name.as_deref() != Some(s)
            {
                return Err(rec_err(format!(
                    "struct is {s}, but the record holds {}",
                    decoded.struct_name.as_deref().unwrap_or("no struct")
                )));
            }
            None
        }
    };
    let layout: Option<std::sync::Arc<StructLayout>> =
        writable.map(|s| format.layout(s)).transpose()?;
    let endian = format.endian();
    match obj.get("fields") {
        None | Some(Json::Null) => {}
        Some(Json::Object(fields)) => {
            for (path, x) in fields {
                // `null`: the field keeps its bytes (what 1.x dumps wrote for a NaN).
                if x.is_null() {
                    continue;
                }
                if let Some(f) = layout
                    .as_ref()
                    .and_then(|l| l.fields().iter().find(|f| &f.path == path))
                {
                    let want = json::from_json(x, f.prim, f.count as usize)
                        .map_err(|e| field_err(path, e))?;
                    let size = layout
                        .as_ref()
                        .map_or(0, |l| l.size as usize)
                        .min(bytes.len());
                    let st = &mut bytes[..size];
                    if !decode_field(f, st, endian).is_some_and(|have| json::same(&have, &want)) {
                        encode_field(f, &want, st, endian).map_err(|e| field_err(path, e))?;
                    }
                } else if let Some(d) = decoded.fields.iter().find(|d| &d.path == path) {
                    let count = match &d.value {
                        Value::List(items) => items.len(),
                        Value::Text(_) => 2,
                        _ => 1,
                    };
                    let want = json::from_json(x, d.prim, count).map_err(|e| field_err(path, e))?;
                    if !json::same(&d.value, &want) {
                        let from = if info.payload_of.is_some() {
                            "body"
                        } else {
                            "raw"
                        };
                        return Err(field_err(
                            path,
                            format!(
                                "is {}, the dump says {want}: this field is decoded from the \
                                 record's {}, which encode does not write field by field; \
                                 edit \"{from}\" instead",
                                d.value,
                                if info.payload_of.is_some() {
                                    "payload"
                                } else {
                                    "tail"
                                }
                            ),
                        ));
                    }
                } else {
                    let of = writable
                        .or(decoded.struct_name.as_deref())
                        .map_or_else(|| "the record".to_string(), |s| format!("struct {s}"));
                    return Err(field_err(path, format!("no such field in {of}")));
                }
            }
        }
        Some(other) => {
            return Err(rec_err(format!(
                "fields: expected an object, found {other}"
            )));
        }
    }
    if let Some(t) = obj.get("text") {
        let want = t
            .as_str()
            .ok_or_else(|| field_err("text", format!("expected text, found {t}")))?;
        match &decoded.text {
            Some(have) if have == want => {}
            Some(have) => {
                return Err(field_err(
                    "text",
                    format!(
                        "is {}, the dump says {}: the text is shown from \"body\", which \
                         is what encode writes; edit \"body\" (hex) instead",
                        Json::from(have.as_str()),
                        t
                    ),
                ));
            }
            None => return Err(field_err("text", "the record has no text".into())),
        }
    }
    Ok(())
}
