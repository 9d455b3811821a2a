//! The `container` member of a dump's header line (dump format 2.1.0): what ckpt's
//! container around the image carries ([`crate::container`]), so that `ckpt encode`
//! can write the container back around the image it rebuilds, byte for byte.
//!
//! ```json
//! "container": {"format_version": "1.0.0", "byte_order": "little", "flags": 1,
//!   "annotations": {"kernel_config_gz": "1f8b...", "linux_cr_tag": "ckpt-v23-rc2",
//!     "ckpt_version": "0.1.0", "annotated_at": "1800000000",
//!     "notes": [{"key": "site", "value": "lab"}], "unknown": [{"key": 99, "hex": "78"}]}}
//! ```
//!
//! Records' offsets stay counted from the image's start, not the container's.

use serde_json::{Map, Value as Json, json};

use super::DumpError;
use super::json::integer;
use crate::arch::Endian;
use crate::container::{Annotations, ContainerInfo, Envelope};

/// A container as a dump's header describes it: its envelope and its annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpContainer {
    /// Byte order, format version and flags.
    pub envelope: Envelope,
    /// What it says about the image.
    pub annotations: Annotations,
}

const MEMBERS: &[&str] = &[
    "format_version",
    "byte_order",
    "flags",
    "annotations",
    "unknown_sections",
];
const ANNOTATION_MEMBERS: &[&str] = &[
    "kernel_config_gz",
    "linux_cr_tag",
    "ckpt_version",
    "annotated_at",
    "notes",
    "unknown",
];

fn order_name(e: Endian) -> &'static str {
    match e {
        Endian::Little => "little",
        Endian::Big => "big",
    }
}

/// The header's `container` member for the container `c`.
pub fn to_json(c: &ContainerInfo) -> Json {
    let a = &c.annotations;
    let mut ann = Map::new();
    if let Some(gz) = &a.kernel_config_gz {
        ann.insert("kernel_config_gz".into(), json!(hex::encode(gz)));
    }
    if let Some(t) = &a.linux_cr_tag {
        ann.insert("linux_cr_tag".into(), json!(t));
    }
    if let Some(v) = &a.ckpt_version {
        ann.insert("ckpt_version".into(), json!(v));
    }
    if let Some(t) = a.annotated_at {
        // proto3 JSON: a 64-bit integer as a decimal string.
        ann.insert("annotated_at".into(), json!(t.to_string()));
    }
    let notes: Vec<Json> = a
        .notes
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    ann.insert("notes".into(), Json::Array(notes));
    let unknown: Vec<Json> = a
        .unknown
        .iter()
        .map(|(k, v)| json!({"key": k, "hex": hex::encode(v)}))
        .collect();
    ann.insert("unknown".into(), Json::Array(unknown));
    let (ma, mi, pa) = c.version;
    let mut m = Map::new();
    m.insert("format_version".into(), json!(format!("{ma}.{mi}.{pa}")));
    m.insert("byte_order".into(), json!(order_name(c.endian)));
    m.insert("flags".into(), json!(c.flags));
    m.insert("annotations".into(), Json::Object(ann));
    if !c.unknown_sections.is_empty() {
        m.insert("unknown_sections".into(), json!(c.unknown_sections));
    }
    Json::Object(m)
}

fn err(what: impl Into<String>) -> DumpError {
    DumpError::Header(format!("container: {}", what.into()))
}

fn object<'a>(
    v: &'a Json,
    what: &str,
    members: &[&str],
) -> Result<&'a Map<String, Json>, DumpError> {
    let o = v
        .as_object()
        .ok_or_else(|| err(format!("{what} is not an object")))?;
    if let Some(m) = o.keys().find(|k| !members.contains(&k.as_str())) {
        return Err(DumpError::Member {
            line: format!("header {what}"),
            member: m.clone(),
        });
    }
    Ok(o)
}

fn text(o: &Map<String, Json>, key: &str) -> Result<Option<String>, DumpError> {
    match o.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(err(format!("{key} {v} is not a string"))),
    }
}

fn bytes(v: &Json, what: &str) -> Result<Vec<u8>, DumpError> {
    let s = v
        .as_str()
        .ok_or_else(|| err(format!("{what} is not a hex string")))?;
    hex::decode(s).map_err(|e| err(format!("{what} is not hex: {e}")))
}

fn number<T: TryFrom<i128>>(v: &Json, what: &str) -> Result<T, DumpError> {
    let n = integer(v).map_err(|e| err(format!("{what}: {e}")))?;
    T::try_from(n).map_err(|_| err(format!("{what} {n} is out of range")))
}

/// Reads the header's `container` member, for an image in byte order `endian`.
pub fn from_json(v: &Json, endian: Endian) -> Result<DumpContainer, DumpError> {
    let o = object(v, "container", MEMBERS)?;
    let version = o
        .get("format_version")
        .and_then(Json::as_str)
        .ok_or_else(|| err("no format_version"))?;
    let parts: Vec<Option<u16>> = version.split('.').map(|p| p.parse().ok()).collect();
    let version = match parts[..] {
        [Some(a), Some(b), Some(c)] => (a, b, c),
        _ => {
            return Err(err(format!(
                "format_version {version:?} is not MAJOR.MINOR.PATCH"
            )));
        }
    };
    let order = o.get("byte_order").and_then(Json::as_str);
    if order != Some(order_name(endian)) {
        return Err(err(format!(
            "byte_order {} is not the image's ({}): a container is in its image's byte order",
            o.get("byte_order").unwrap_or(&Json::Null),
            order_name(endian)
        )));
    }
    let flags: u32 = number(o.get("flags").unwrap_or(&Json::Null), "flags")?;
    if let Some(s) = o.get("unknown_sections")
        && s.as_array().is_none_or(|a| !a.is_empty())
    {
        return Err(err(format!(
            "sections of kinds {s}, from a later ckpt, are not in the dump, and the \
             container cannot be written without them (encode without --keep-annotations writes the plain image)"
        )));
    }
    let envelope = Envelope {
        endian,
        version,
        flags,
    };
    envelope.check().map_err(|e| err(e.to_string()))?;
    let a = object(
        o.get("annotations").unwrap_or(&Json::Null),
        "annotations",
        ANNOTATION_MEMBERS,
    )?;
    let mut ann = Annotations {
        kernel_config_gz: match a.get("kernel_config_gz") {
            None | Some(Json::Null) => None,
            Some(v) => Some(bytes(v, "kernel_config_gz")?),
        },
        linux_cr_tag: text(a, "linux_cr_tag")?,
        ckpt_version: text(a, "ckpt_version")?,
        annotated_at: match a.get("annotated_at") {
            None | Some(Json::Null) => None,
            Some(v) => Some(number(v, "annotated_at")?),
        },
        ..Annotations::default()
    };
    let list = |key: &str| -> Result<Vec<Json>, DumpError> {
        match a.get(key) {
            None | Some(Json::Null) => Ok(Vec::new()),
            Some(Json::Array(v)) => Ok(v.clone()),
            Some(v) => Err(err(format!("{key} {v} is not an array"))),
        }
    };
    for n in list("notes")? {
        let n = object(&n, "note", &["key", "value"])?;
        let (Some(k), Some(v)) = (text(n, "key")?, text(n, "value")?) else {
            return Err(err("a note without a key and a value"));
        };
        ann.notes.push((k, v));
    }
    for u in list("unknown")? {
        let u = object(&u, "unknown annotation", &["key", "hex"])?;
        let key: u16 = number(
            u.get("key").unwrap_or(&Json::Null),
            "unknown annotation key",
        )?;
        ann.unknown.push((
            key,
            bytes(
                u.get("hex").unwrap_or(&Json::Null),
                "unknown annotation hex",
            )?,
        ));
    }
    Ok(DumpContainer {
        envelope,
        annotations: ann,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn info(endian: Endian) -> ContainerInfo {
        let a = Annotations {
            kernel_config_gz: Some(vec![0x1f, 0x8b, 8, 0]),
            linux_cr_tag: Some("ckpt-v23-rc2".into()),
            ckpt_version: Some("0.1.0".into()),
            annotated_at: Some(u64::MAX),
            notes: vec![("site".into(), "lab=2".into())],
            unknown: vec![(99, b"x".to_vec())],
        };
        let mut c = Vec::new();
        crate::container::write(&mut c, endian, &mut &b"img"[..], 3, &a).unwrap();
        crate::container::read_info(&mut Cursor::new(&c)).unwrap()
    }

    #[test]
    fn the_member_reads_back_as_written_in_both_byte_orders() {
        for endian in [Endian::Little, Endian::Big] {
            let i = info(endian);
            let v = to_json(&i);
            assert_eq!(v["annotations"]["annotated_at"], "18446744073709551615");
            let back = from_json(&v, endian).unwrap();
            assert_eq!(back.annotations, i.annotations);
            assert_eq!(back.envelope, Envelope::new(endian));
        }
    }

    #[test]
    fn what_cannot_be_written_back_is_refused_naming_it() {
        let i = info(Endian::Little);
        let e = |f: &dyn Fn(&mut Json)| {
            let mut v = to_json(&i);
            f(&mut v);
            from_json(&v, Endian::Little).unwrap_err().to_string()
        };
        assert!(e(&|v| v["byte_order"] = json!("big")).contains("not the image's"));
        assert!(e(&|v| v["format_version"] = json!("2.0.0")).contains("container format 2.0.0"));
        assert!(e(&|v| v["flags"] = json!(4)).contains("bits this ckpt does not know"));
        assert!(e(&|v| v["unknown_sections"] = json!([7])).contains("without --keep-annotations"));
        assert!(e(&|v| v["annotations"]["colour"] = json!(1)).contains("colour"));
        assert!(e(&|v| v["annotations"]["kernel_config_gz"] = json!("zz")).contains("not hex"));
        assert!(e(&|v| v["annotations"]["annotated_at"] = json!("-1")).contains("out of range"));
        assert!(e(&|v| v["annotations"]["notes"] = json!([{"key": "k"}])).contains("a note"));
    }
}
