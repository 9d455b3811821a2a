//! The pieces `ckpt encode` applies to every record of a dump: a JSON object of field
//! values (`serde_json` into `ckpt_format::value::Value`) applied with
//! `ckpt_format::value::apply_fields` over the layout of a struct.
//!
//! Input: `[revision selector, arch selector, struct selector (2 bytes, LE), cut, json...]`.
//! The struct is one of the revision's structs that hold on the arch; the buffer is the
//! struct's size, shortened by `cut` when its top bit is set (a record shorter than the
//! struct, as a dump may claim). Keys of the JSON object are field paths (`h.len`); a key
//! `#N` names the N-th field (mod the number of fields), so that the fuzzer reaches
//! every field without guessing its path.

#![no_main]

use ckpt_format::Format;
use ckpt_format::schema::applies;
use ckpt_format::value::{Value, apply_fields, decode_struct};
use ckpt_tests::fuzz_input::pick;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let json = &data[5..];
    // The whole rest as one value, as `serde_json::from_value` sees each field.
    let _ = serde_json::from_slice::<Value>(json);

    let (schema, arch) = pick(data[0], data[1]);
    let structs: Vec<&str> = schema
        .structs
        .iter()
        .filter(|s| !s.name.is_empty() && applies(&s.arches, arch))
        .map(|s| s.name.as_str())
        .collect();
    if structs.is_empty() {
        return;
    }
    let name = structs[u16::from_le_bytes([data[2], data[3]]) as usize % structs.len()];
    let format = Format::new(schema, arch);
    let Ok(layout) = format.layout(name) else {
        return;
    };
    let fields = layout.fields();

    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(json)
    else {
        return;
    };
    let mut values = Vec::new();
    for (key, x) in map {
        let path = match key.strip_prefix('#').map(str::parse::<usize>) {
            Some(Ok(n)) if !fields.is_empty() => fields[n % fields.len()].path.clone(),
            _ => key,
        };
        // As `ckpt encode`: fields whose value is not a `Value` are an error.
        let Ok(v) = serde_json::from_value::<Value>(x) else {
            return;
        };
        values.push((path, v));
    }

    let size = layout.size as usize;
    let len = if data[4] & 0x80 != 0 {
        size - (data[4] & 0x7f) as usize % (size + 1)
    } else {
        size
    };
    let mut bytes = vec![0u8; len];
    if apply_fields(&layout, &mut bytes, format.endian(), &values).is_ok() {
        let _ = decode_struct(&layout, &bytes, format.endian());
    }
});
