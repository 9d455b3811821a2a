//! Field values in a dump, after the proto3 JSON mapping, so that they survive every
//! JSON tool, double-based ones (jq 1.6, JavaScript) included:
//!
//! - integers of 8 bytes (`__u64`, `__s64`, `__be64`, and `long`, `unsigned long` on
//!   64-bit arches) are decimal strings (`"18446744073709551615"`); narrower ones are
//!   numbers;
//! - floats are numbers, in the shortest form that reads back to the same double, or
//!   `"NaN"`, `"Infinity"`, `"-Infinity"`;
//! - `char` arrays are text, other arrays are arrays of their elements.
//!
//! Read back, an integer may be a number or a string (decimal, `-` for negatives, or
//! `0x` hex); a number with a fraction of zero (`72.0`, what a double-based tool may
//! write) is that integer up to 2^53, and refused above, where a double may already have
//! rounded it. A float may be a number or a string of one.

use serde_json::{Number, Value as Json};

use crate::layout::{Prim, PrimKind};
use crate::value::Value;

/// 2^53: every integer up to it is exact in a double.
const EXACT_IN_A_DOUBLE: f64 = 9_007_199_254_740_992.0;

/// True for primitives whose values a dump writes as decimal strings: integers of 8
/// bytes.
pub fn is_wide(prim: Prim) -> bool {
    prim.kind != PrimKind::Float && prim.size == 8
}

/// The JSON of `value`, a field whose elements are of primitive `prim`.
pub fn to_json(value: &Value, prim: Prim) -> Json {
    match value {
        Value::Uint(v) if is_wide(prim) => Json::String(v.to_string()),
        Value::Int(v) if is_wide(prim) => Json::String(v.to_string()),
        Value::Uint(v) => Json::from(*v),
        Value::Int(v) => Json::from(*v),
        Value::Float(f) => match Number::from_f64(*f) {
            Some(n) => Json::Number(n),
            None if f.is_nan() => Json::from("NaN"),
            None if *f > 0.0 => Json::from("Infinity"),
            None => Json::from("-Infinity"),
        },
        Value::Text(t) => Json::from(t.as_str()),
        Value::List(items) => Json::Array(items.iter().map(|v| to_json(v, prim)).collect()),
    }
}

/// The value that `json` gives a field of `count` elements of primitive `prim` (`count`
/// above 1 for an array; a `char` array is text). The error says what was expected and
/// what was found, as it was written.
pub fn from_json(json: &Json, prim: Prim, count: usize) -> Result<Value, String> {
    if prim.kind == PrimKind::Char && count > 1 {
        return match json {
            Json::String(t) => Ok(Value::Text(t.clone())),
            other => Err(format!("expected text, found {other}")),
        };
    }
    if count == 1 {
        return scalar(json, prim);
    }
    match json {
        Json::Array(items) if items.len() == count => items
            .iter()
            .enumerate()
            .map(|(i, x)| scalar(x, prim).map_err(|e| format!("element {i}: {e}")))
            .collect::<Result<_, _>>()
            .map(Value::List),
        Json::Array(items) => Err(format!(
            "expected an array of {count} elements, found {}",
            items.len()
        )),
        other => Err(format!(
            "expected an array of {count} elements, found {other}"
        )),
    }
}

/// An integer member of a dump line (`len`, `type`): a number or a decimal string.
pub fn integer(json: &Json) -> Result<i128, String> {
    match json {
        Json::Number(n) => number_as_integer(n),
        Json::String(s) => string_as_integer(s),
        other => Err(format!("expected an integer, found {other}")),
    }
}

fn scalar(json: &Json, prim: Prim) -> Result<Value, String> {
    if prim.kind == PrimKind::Float {
        return match json {
            Json::Number(n) => n
                .as_f64()
                .map(Value::Float)
                .ok_or_else(|| format!("expected a number, found {n}")),
            Json::String(s) => match s.as_str() {
                "NaN" => Ok(Value::Float(f64::NAN)),
                "Infinity" => Ok(Value::Float(f64::INFINITY)),
                "-Infinity" => Ok(Value::Float(f64::NEG_INFINITY)),
                t => t
                    .parse::<f64>()
                    .map(Value::Float)
                    .map_err(|_| format!("expected a number, found {json}")),
            },
            other => Err(format!("expected a number, found {other}")),
        };
    }
    let i = integer(json)?;
    // The variant decode gives the kind, so that an unchanged value compares equal.
    Ok(if prim.kind == PrimKind::Signed {
        match i64::try_from(i) {
            Ok(v) => Value::Int(v),
            Err(_) => Value::Uint(u64::try_from(i).map_err(|_| too_large(i))?),
        }
    } else {
        match u64::try_from(i) {
            Ok(v) => Value::Uint(v),
            Err(_) => Value::Int(i64::try_from(i).map_err(|_| too_large(i))?),
        }
    })
}

fn too_large(i: i128) -> String {
    format!("{i} does not fit in 8 bytes")
}

fn number_as_integer(n: &Number) -> Result<i128, String> {
    if let Some(v) = n.as_u64() {
        return Ok(v as i128);
    }
    if let Some(v) = n.as_i64() {
        return Ok(v as i128);
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    if f.fract() != 0.0 || !f.is_finite() {
        return Err(format!("expected an integer, found {n}"));
    }
    if f.abs() > EXACT_IN_A_DOUBLE {
        return Err(format!(
            "expected an integer, found {n}: above 2^53 a number may have been rounded by a \
             tool that reads JSON numbers as doubles; write the value as a decimal string"
        ));
    }
    Ok(f as i128)
}

fn string_as_integer(s: &str) -> Result<i128, String> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let parsed = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            i128::from_str_radix(hex, 16).ok()
        }
        Some(_) => None,
        None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse::<i128>().ok()
        }
        None => None,
    };
    match parsed {
        Some(v) if v <= u64::MAX as i128 => Ok(if neg { -v } else { v }),
        Some(_) => Err(format!("{s} does not fit in 8 bytes")),
        None => Err(format!("expected an integer, found {}", Json::from(s))),
    }
}

/// True when `a` and `b` are the same value as a field holds it: integers by value
/// whatever their sign variant, floats by value with every NaN the same, lists element
/// by element.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Text(x), Value::Text(y)) => x == y,
        _ => matches!((a.as_int(), b.as_int()), (Some(x), Some(y)) if x == y),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn prim(kind: PrimKind, size: u32) -> Prim {
        Prim {
            kind,
            size,
            align: size,
        }
    }

    #[test]
    fn wide_integers_are_strings_and_read_back() {
        let u64p = prim(PrimKind::Unsigned, 8);
        let max = Value::Uint(u64::MAX);
        assert_eq!(to_json(&max, u64p), json!("18446744073709551615"));
        assert_eq!(from_json(&to_json(&max, u64p), u64p, 1).unwrap(), max);
        let s64 = prim(PrimKind::Signed, 8);
        assert_eq!(to_json(&Value::Int(-5), s64), json!("-5"));
        assert_eq!(from_json(&json!("-5"), s64, 1).unwrap(), Value::Int(-5));
        let u32p = prim(PrimKind::Unsigned, 4);
        assert_eq!(to_json(&Value::Uint(7), u32p), json!(7));
        assert_eq!(from_json(&json!("7"), u32p, 1).unwrap(), Value::Uint(7));
        assert_eq!(from_json(&json!(7.0), u32p, 1).unwrap(), Value::Uint(7));
        assert_eq!(
            from_json(&json!("0xff"), u32p, 1).unwrap(),
            Value::Uint(255)
        );
        let l = Value::List(vec![Value::Uint(1), Value::Uint(1 << 60)]);
        assert_eq!(to_json(&l, u64p), json!(["1", "1152921504606846976"]));
        assert_eq!(from_json(&to_json(&l, u64p), u64p, 2).unwrap(), l);
    }

    #[test]
    fn rounded_and_wrong_values_are_refused_in_a_users_words() {
        let u64p = prim(PrimKind::Unsigned, 8);
        let e = from_json(&json!(1.8446744073709552e19), u64p, 1).unwrap_err();
        assert!(e.starts_with("expected an integer, found 1"), "{e}");
        assert!(
            e.contains(": above 2^53 a number may have been rounded"),
            "{e}"
        );
        assert_eq!(
            from_json(&json!("hello"), u64p, 1).unwrap_err(),
            r#"expected an integer, found "hello""#
        );
        assert_eq!(
            from_json(&json!(1.5), u64p, 1).unwrap_err(),
            "expected an integer, found 1.5"
        );
        assert_eq!(
            from_json(&json!([1]), u64p, 2).unwrap_err(),
            "expected an array of 2 elements, found 1"
        );
        assert_eq!(
            from_json(&json!(["1", "x"]), u64p, 2).unwrap_err(),
            r#"element 1: expected an integer, found "x""#
        );
        assert_eq!(
            from_json(&json!(3), prim(PrimKind::Char, 1), 16).unwrap_err(),
            "expected text, found 3"
        );
        assert_eq!(
            from_json(&json!("99999999999999999999"), u64p, 1).unwrap_err(),
            "99999999999999999999 does not fit in 8 bytes"
        );
    }

    #[test]
    fn floats_round_trip_exactly() {
        let f64p = prim(PrimKind::Float, 8);
        for f in [0.1, -0.0, 1e300, f64::MIN_POSITIVE, 5e-324, f32::MAX as f64] {
            let j = to_json(&Value::Float(f), f64p);
            // Through text, as a double-based tool reads and writes it.
            let back: Json = serde_json::from_str(&j.to_string()).unwrap();
            let v = from_json(&back, f64p, 1).unwrap();
            assert!(
                matches!(v, Value::Float(g) if g.to_bits() == f.to_bits()),
                "{f}"
            );
        }
        for (f, text) in [
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(to_json(&Value::Float(f), f64p), json!(text));
            assert!(same(
                &from_json(&json!(text), f64p, 1).unwrap(),
                &Value::Float(f)
            ));
        }
        assert_eq!(
            from_json(&json!("1.5"), f64p, 1).unwrap(),
            Value::Float(1.5)
        );
        assert!(same(&Value::Int(3), &Value::Uint(3)));
        assert!(!same(&Value::Float(1.0), &Value::Float(2.0)));
    }
}
