//! Decoded field values and the codec between them and record bytes.

use crate::arch::Endian;
use crate::layout::{Field, Prim, PrimKind, StructLayout};

/// The value of one field of a record.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// An unsigned integer.
    Uint(u64),
    /// A signed integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A `char` array as text, up to its first NUL (bytes that are not UTF-8 shown as U+FFFD).
    Text(String),
    /// An array of numbers.
    List(Vec<Value>),
}

impl Value {
    /// The value as an i128, for integers.
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Value::Uint(v) => Some(*v as i128),
            Value::Int(v) => Some(*v as i128),
            _ => None,
        }
    }
}

/// As a user writes the value: `42`, `-1`, `1.5`, `"selinux"`, `[1, 2]`.
impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Uint(v) => write!(f, "{v}"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Text(t) => write!(f, "{}", serde_json::Value::from(t.as_str())),
            Value::List(items) => {
                write!(f, "[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{v}")?;
                }
                write!(f, "]")
            }
        }
    }
}

fn read_uint(bytes: &[u8], endian: Endian) -> u64 {
    let mut v: u64 = 0;
    match endian {
        Endian::Big => {
            for b in bytes {
                v = (v << 8) | *b as u64;
            }
        }
        Endian::Little => {
            for b in bytes.iter().rev() {
                v = (v << 8) | *b as u64;
            }
        }
    }
    v
}

fn write_uint(out: &mut [u8], v: u64, endian: Endian) {
    let n = out.len();
    for (i, b) in out.iter_mut().enumerate() {
        let shift = match endian {
            Endian::Little => 8 * i,
            Endian::Big => 8 * (n - 1 - i),
        };
        *b = (v >> shift) as u8;
    }
}

/// Reads an unsigned integer of `bytes.len()` bytes (1..=8) in `endian`.
pub fn get_uint(bytes: &[u8], endian: Endian) -> u64 {
    read_uint(bytes, endian)
}

/// Writes `v` into `out` (1..=8 bytes) in `endian`.
pub fn put_uint(out: &mut [u8], v: u64, endian: Endian) {
    write_uint(out, v, endian)
}

fn scalar(kind: PrimKind, bytes: &[u8], endian: Endian) -> Value {
    let size = bytes.len();
    let endian = kind.byte_order(endian);
    match kind {
        PrimKind::Unsigned | PrimKind::Char | PrimKind::BigEndian | PrimKind::LittleEndian => {
            Value::Uint(read_uint(bytes, endian))
        }
        PrimKind::Signed => {
            let v = read_uint(bytes, endian);
            let shift = 64 - 8 * size as u32;
            Value::Int(((v << shift) as i64) >> shift)
        }
        PrimKind::Float => {
            let v = read_uint(bytes, endian);
            Value::Float(if size == 4 {
                f32::from_bits(v as u32) as f64
            } else {
                f64::from_bits(v)
            })
        }
    }
}

/// Decodes `field` from the bytes of its struct; `None` if the bytes are too short.
pub fn decode_field(field: &Field, bytes: &[u8], endian: Endian) -> Option<Value> {
    let size = field.prim.size as usize;
    let start = field.offset as usize;
    let end = start.checked_add(size.checked_mul(field.count as usize)?)?;
    let raw = bytes.get(start..end)?;
    if field.prim.kind == PrimKind::Char && field.count > 1 {
        let text = raw.split(|&b| b == 0).next().unwrap_or(&[]);
        return Some(Value::Text(String::from_utf8_lossy(text).into_owned()));
    }
    if field.count == 1 {
        Some(scalar(field.prim.kind, raw, endian))
    } else {
        Some(Value::List(
            raw.chunks_exact(size)
                .map(|c| scalar(field.prim.kind, c, endian))
                .collect(),
        ))
    }
}

/// Every field of `layout` that lies within `bytes`, with its value.
pub fn decode_struct(layout: &StructLayout, bytes: &[u8], endian: Endian) -> Vec<(String, Value)> {
    decode_struct_typed(layout, bytes, endian)
        .into_iter()
        .map(|f| (f.path, f.value))
        .collect()
}

/// A decoded field with the primitive of its elements: what a renderer needs that
/// depends on the width or kind (64-bit integers are strings in a dump).
#[derive(Debug, Clone, PartialEq)]
pub struct TypedField {
    /// Dotted path.
    pub path: String,
    /// The value.
    pub value: Value,
    /// The primitive of the value (of each element, for an array).
    pub prim: Prim,
    /// Byte offset in the record (pre-header included) or in the bytes decoded.
    pub offset: u32,
    /// Number of elements (1 for a scalar).
    pub count: u32,
}

impl TypedField {
    /// The field as a layout [`Field`] at its offset, to write a new value with
    /// [`encode_field`].
    pub fn field(&self) -> Field {
        Field {
            path: self.path.clone(),
            offset: self.offset,
            prim: self.prim,
            count: self.count,
        }
    }
}

/// [`decode_struct`] with each field's primitive.
pub fn decode_struct_typed(layout: &StructLayout, bytes: &[u8], endian: Endian) -> Vec<TypedField> {
    layout
        .fields()
        .iter()
        .filter_map(|f| {
            decode_field(f, bytes, endian).map(|value| TypedField {
                path: f.path.clone(),
                value,
                prim: f.prim,
                offset: f.offset,
                count: f.count,
            })
        })
        .collect()
}

fn encode_scalar(kind: PrimKind, v: &Value, out: &mut [u8], endian: Endian) -> Result<(), String> {
    let size = out.len();
    let bits = 8 * size as u32;
    match (kind, v) {
        (PrimKind::Float, Value::Float(f)) => {
            let raw = if size == 4 {
                (*f as f32).to_bits() as u64
            } else {
                f.to_bits()
            };
            write_uint(out, raw, endian);
        }
        (PrimKind::Float, _) => return Err(format!("expected a float, found {v}")),
        (_, _) => {
            let i = v
                .as_int()
                .ok_or_else(|| format!("expected an integer, found {v}"))?;
            // As C stores it: any value of the signed or unsigned type of that width
            // (-1 in a __u32 is 0xffffffff).
            let (min, max) = (-(1i128 << (bits - 1)), (1i128 << bits) - 1);
            if i < min || i > max {
                return Err(format!("{i} does not fit in {size} byte(s)"));
            }
            write_uint(out, i as u64, kind.byte_order(endian));
        }
    }
    Ok(())
}

/// Writes `value` into the bytes of `field` inside `bytes`.
pub fn encode_field(
    field: &Field,
    value: &Value,
    bytes: &mut [u8],
    endian: Endian,
) -> Result<(), String> {
    let size = field.prim.size as usize;
    let start = field.offset as usize;
    let len = size * field.count as usize;
    let out = bytes
        .get_mut(start..start + len)
        .ok_or_else(|| format!("field {} lies outside the record", field.path))?;
    match value {
        Value::Text(t) if field.prim.kind == PrimKind::Char && field.count > 1 => {
            let t = t.as_bytes();
            if t.len() > len {
                return Err(format!(
                    "text of {} bytes does not fit in {} ({len} bytes)",
                    t.len(),
                    field.path
                ));
            }
            out.fill(0);
            out[..t.len()].copy_from_slice(t);
            Ok(())
        }
        Value::List(items) if field.count > 1 || items.len() == field.count as usize => {
            if items.len() != field.count as usize {
                return Err(format!(
                    "{} has {} elements, found {}",
                    field.path,
                    field.count,
                    items.len()
                ));
            }
            for (i, item) in items.iter().enumerate() {
                encode_scalar(
                    field.prim.kind,
                    item,
                    &mut out[i * size..(i + 1) * size],
                    endian,
                )?;
            }
            Ok(())
        }
        _ if field.count == 1 => encode_scalar(field.prim.kind, value, out, endian),
        _ => Err(format!("{} is an array of {}", field.path, field.count)),
    }
}

/// Applies `values` to `bytes` laid out as `layout`: only the fields whose value differs
/// from what the bytes already hold are written, so padding, union alternatives and any
/// byte not named by a field are kept.
pub fn apply_fields(
    layout: &StructLayout,
    bytes: &mut [u8],
    endian: Endian,
    values: &[(String, Value)],
) -> Result<(), String> {
    let fields = layout.fields();
    for (path, v) in values {
        let f = fields
            .iter()
            .find(|f| &f.path == path)
            .ok_or_else(|| format!("no field `{path}` in {}", layout.name))?;
        if decode_field(f, bytes, endian).as_ref() != Some(v) {
            encode_field(f, v, bytes, endian)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(kind: PrimKind, size: u32, count: u32) -> Field {
        Field {
            path: "f".into(),
            offset: 2,
            prim: Prim {
                kind,
                size,
                align: size,
            },
            count,
        }
    }

    #[test]
    fn scalars_in_both_byte_orders() {
        for endian in [Endian::Little, Endian::Big] {
            for (kind, size, v) in [
                (PrimKind::Unsigned, 4, Value::Uint(0xdead_beef)),
                (PrimKind::Signed, 2, Value::Int(-2)),
                (PrimKind::Signed, 8, Value::Int(i64::MIN)),
                (PrimKind::BigEndian, 4, Value::Uint(0x0a00_0001)),
                (PrimKind::Float, 8, Value::Float(1.5)),
            ] {
                let f = field(kind, size, 1);
                let mut b = vec![0u8; 16];
                encode_field(&f, &v, &mut b, endian).unwrap();
                assert_eq!(decode_field(&f, &b, endian), Some(v));
            }
        }
        let mut b = [0u8; 8];
        put_uint(&mut b[..4], 1, Endian::Big);
        assert_eq!(b[..4], [0, 0, 0, 1]);
        let f = field(PrimKind::BigEndian, 4, 1);
        encode_field(&f, &Value::Uint(0x01020304), &mut b, Endian::Little).unwrap();
        assert_eq!(b[2..6], [1, 2, 3, 4]);
    }

    #[test]
    fn values_display_as_a_user_writes_them() {
        let v = Value::List(vec![Value::Uint(1), Value::Int(-2), Value::Float(0.5)]);
        assert_eq!(v.to_string(), "[1, -2, 0.5]");
        assert_eq!(Value::Text("se\"x".into()).to_string(), r#""se\"x""#);
        let f = field(PrimKind::Float, 8, 1);
        let e = encode_field(&f, &Value::Text("x".into()), &mut [0; 16], Endian::Big);
        assert_eq!(e.unwrap_err(), r#"expected a float, found "x""#);
    }

    #[test]
    fn out_of_range_is_refused() {
        let f = field(PrimKind::Unsigned, 1, 1);
        let mut b = vec![0u8; 4];
        assert!(encode_field(&f, &Value::Uint(256), &mut b, Endian::Little).is_err());
        assert!(encode_field(&f, &Value::Int(-129), &mut b, Endian::Little).is_err());
        encode_field(&f, &Value::Int(-1), &mut b, Endian::Little).unwrap();
        assert_eq!(decode_field(&f, &b, Endian::Little), Some(Value::Uint(255)));
    }

    #[test]
    fn text_and_lists() {
        let f = field(PrimKind::Char, 1, 6);
        let mut b = vec![0xffu8; 10];
        encode_field(&f, &Value::Text("abc".into()), &mut b, Endian::Little).unwrap();
        assert_eq!(
            decode_field(&f, &b, Endian::Little),
            Some(Value::Text("abc".into()))
        );
        assert!(encode_field(&f, &Value::Text("abcdefg".into()), &mut b, Endian::Little).is_err());
        let f = field(PrimKind::Unsigned, 2, 2);
        let v = Value::List(vec![Value::Uint(1), Value::Uint(2)]);
        encode_field(&f, &v, &mut b, Endian::Big).unwrap();
        assert_eq!(decode_field(&f, &b, Endian::Big), Some(v));
    }
}
