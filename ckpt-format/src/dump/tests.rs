//! Tests of the dump writer and encoder.

use serde_json::json;

use super::*;
use crate::build::{BuildOptions, build};
use crate::read::Reader;
use crate::value::Value;

/// A dump of `image` as `ckpt dump --payloads` writes it, with streamed bodies in
/// chunks of `chunk` bytes.
fn dump(image: &[u8], format: Format, chunk: usize) -> String {
    let mut w = DumpWriter::new(Vec::new(), format.schema, format.arch, true)
        .unwrap()
        .with_chunk_size(chunk);
    let mut r = Reader::new(image, format);
    while let Some(rec) = r.next_record().unwrap() {
        w.record(&mut r, &rec).unwrap();
    }
    String::from_utf8(w.finish().unwrap()).unwrap()
}

/// Encodes a whole dump; the error names its line (1-based).
fn encode(dump: &str) -> Result<Vec<u8>, (usize, DumpError)> {
    let mut lines = dump.lines();
    let mut enc =
        DumpEncoder::from_header(lines.next().unwrap_or(""), Vec::new()).map_err(|e| (1, e))?;
    for (n, line) in (2..).zip(lines) {
        enc.line(line).map_err(|e| (n, e))?;
    }
    enc.finish().map_err(|e| (0, e))
}

fn format(rev: &str, arch: Arch) -> Format {
    Format::new(Registry::get().find(rev).unwrap(), arch)
}

fn image(rev: &str, arch: Arch, memory: u64) -> Vec<u8> {
    let opts = BuildOptions {
        tasks: 2,
        memory,
        ..BuildOptions::default()
    };
    let mut img = Vec::new();
    build(&format(rev, arch), &opts, &mut img).unwrap();
    img
}

#[test]
fn dump_of_a_builder_image_encodes_back_byte_for_byte() {
    let mut headerless = false;
    for (rev, arch) in [
        ("v23-rc2", Arch::X86_64),
        ("pre-v19.a", Arch::X86_32),
        ("v21-rc.netns", Arch::S390x),
        ("samsung-3.0", Arch::Arm),
        ("v21-rc", Arch::Ppc64),
    ] {
        let img = image(rev, arch, 3 * 4096);
        let text = dump(&img, format(rev, arch), 5000);
        assert!(
            text.contains("\"chunked\":true"),
            "{rev}: no streamed record"
        );
        headerless |= text.contains("\"headerless\":true");
        let back = encode(&text).unwrap_or_else(|(n, e)| panic!("{rev}: line {n}: {e}"));
        assert!(back == img, "{rev} {arch}: encode(dump) differs");
    }
    assert!(headerless, "no raw socket page in any image");
}

#[test]
fn fields_are_applied_over_raw() {
    let (rev, arch) = ("v23-rc2", Arch::X86_64);
    let img = image(rev, arch, 0);
    let text = dump(&img, format(rev, arch), 4096);
    let mut at = None;
    let edited: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let mut v: Json = serde_json::from_str(l).unwrap();
            if at.is_none() && v["name"] == "FILE_DESC" {
                v["fields"]["fd_descriptor"] = json!(42);
                at = Some(i);
            }
            v.to_string()
        })
        .collect();
    assert!(at.is_some());
    let back = encode(&edited.join("\n")).unwrap();
    assert_eq!(back.len(), img.len());
    let diff = (0..img.len()).filter(|&i| img[i] != back[i]).count();
    assert_eq!(diff, 1, "one byte of fd_descriptor changes");
}

#[test]
fn a_record_by_its_fields_alone_is_zeros_under_its_fields() {
    let head = r#"{"kind":"header","format_version":"1.2","revision":"v23-rc2","arch":"x86_64"}"#;
    let f = format("v23-rc2", Arch::X86_64);
    let layout = f.layout("ckpt_hdr_file_desc").unwrap();
    let len = layout.size;
    let text = format!(
        "{head}\n{}",
        json!({"kind": "record", "name": "FILE_DESC", "len": len,
               "struct": "ckpt_hdr_file_desc", "fields": {"fd_descriptor": 7}})
    );
    let img = encode(&text).unwrap();
    assert_eq!(img.len(), len as usize);
    let rtype = f.record_type("FILE_DESC").unwrap();
    assert_eq!(crate::value::get_uint(&img[..4], f.endian()), rtype as u64);
    assert_eq!(crate::value::get_uint(&img[4..8], f.endian()), len as u64);
    let field = layout
        .fields()
        .iter()
        .find(|x| x.path == "fd_descriptor")
        .unwrap();
    let v = crate::value::decode_field(field, &img, f.endian());
    assert_eq!(v, Some(Value::Int(7)));
    let at = field.offset as usize..(field.offset + field.prim.size) as usize;
    let nonzero: Vec<usize> = (8..img.len()).filter(|&i| img[i] != 0).collect();
    assert!(nonzero.iter().all(|i| at.contains(i)), "{nonzero:?}");
}

/// Fuzz finding (fuzz/regressions/encode-dump-nan-float.bin, input of the
/// `encode_dump` target: revision and arch selectors, then the lines after the
/// header): an s390x CPU record whose `fprs[0]` holds a NaN. It encodes, but its dump
/// writes `fprs[0].d` and `fprs[0].f` as `null`, which encode refused ("field
/// fprs[0].d: data did not match any variant of untagged enum Value"), so
/// `ckpt dump --payloads | ckpt encode` failed on such an image.
#[test]
fn regression_a_nan_float_survives_dump_and_encode() {
    let data = include_bytes!("../../../fuzz/regressions/encode-dump-nan-float.bin");
    let all = Registry::get().all();
    let schema = &all[data[0] as usize % all.len()];
    let arch = schema.arches[data[1] as usize % schema.arches.len()].0;
    let head = json!({"kind": "header", "format_version": "1.0.0",
                      "revision": schema.id, "arch": arch.name()});
    let text = format!("{head}\n{}", std::str::from_utf8(&data[2..]).unwrap());
    let img = encode(&text).unwrap_or_else(|(n, e)| panic!("line {n}: {e}"));
    let nan = 0x7ff8_0000_0000_0001u64.to_be_bytes();
    assert!(img.windows(8).any(|w| w == nan));
    let again = dump(&img, Format::new(schema, arch), 4096);
    // proto3 JSON names it; encode keeps the bytes of a NaN that stays a NaN.
    assert!(again.contains("\"fprs[0].d\":\"NaN\""));
    let back = encode(&again).unwrap_or_else(|(n, e)| panic!("line {n}: {e}"));
    assert!(back == img, "dump then encode is not byte-exact");
}

#[test]
fn a_null_field_keeps_its_raw_bytes() {
    let raw = "0300000002000000000000000000000000";
    let line = |fields: Json| {
        json!({"kind": "record", "name": "FILE_DESC", "len": 8 + raw.len() / 2,
               "struct": "ckpt_hdr_file_desc", "raw": raw, "fields": fields})
        .to_string()
    };
    let mut enc = DumpEncoder::from_header(HEAD, Vec::new()).unwrap();
    enc.line(&line(json!({"fd_objref": null, "fd_descriptor": null})))
        .unwrap();
    let img = enc.finish().unwrap();
    assert_eq!(hex::encode(&img[8..]), raw);
}

const HEAD: &str =
    r#"{"kind":"header","format_version":"1.0.0","revision":"v23-rc2","arch":"x86_64"}"#;

fn line_error(line: &str) -> String {
    let mut enc = DumpEncoder::from_header(HEAD, Vec::new()).unwrap();
    match enc.line(line) {
        Ok(()) => panic!("{line}: encodes"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_headers_are_errors() {
    for (head, want) in [
        ("", "not JSON"),
        ("{", "not JSON"),
        ("[1,2]", "expected the dump header"),
        (r#"{"kind":"record"}"#, "expected the dump header"),
        (
            r#"{"kind":"header","format_version":"3.0.0"}"#,
            "dump format 3.0.0 is not supported (this build reads 1.x and 2.x)",
        ),
        (
            r#"{"kind":"header","format_version":1}"#,
            "dump format  is not supported (this build reads 1.x and 2.x)",
        ),
        (
            r#"{"kind":"header","format_version":"2.0.0","revision":"v23-rc2","arch":"x86_64","rev":1}"#,
            r#"header: unknown member "rev""#,
        ),
        (
            r#"{"kind":"header","format_version":"2.0.0","revision":"v23-rc2","arch":"x86_64","commit":"0abe2fe"}"#,
            r#"header: commit "0abe2fe" is not the user-cr commit of revision v23-rc2 (1fd8e6e"#,
        ),
        (
            r#"{"kind":"header","format_version":"1.0","revision":"v99"}"#,
            "unknown revision `v99`",
        ),
        (
            r#"{"kind":"header","format_version":"1.0","revision":"v23-rc2","arch":"mips"}"#,
            "unknown architecture `mips`",
        ),
    ] {
        let e = DumpEncoder::from_header(head, Vec::new()).err().unwrap();
        assert!(e.to_string().starts_with(want), "{head}: {e}");
    }
}

#[test]
fn bad_lines_are_errors() {
    let huge = 1u64 << 60;
    for (line, want) in [
        ("", "not JSON".to_string()),
        (
            "42",
            r#"expected a line of kind "record" or "chunk", found 42"#.into(),
        ),
        (
            r#"{"kind":"page"}"#,
            r#"expected a line of kind "record" or "chunk", found "page""#.into(),
        ),
        (
            r#"{"hex":"00"}"#,
            r#"expected a line of kind "record" or "chunk", found null"#.into(),
        ),
        (
            r#"{"kind":"chunk","hex":"00","extra":1}"#,
            r#"chunk: unknown member "extra""#.into(),
        ),
        (
            r#"{"kind":"record","name":"TAIL","len":16,"feilds":{}}"#,
            r#"TAIL: unknown member "feilds""#.into(),
        ),
        (
            r#"{"kind":"record","name":"TAIL","len":16,"type":3,"raw":"00efdec00c2a2d00"}"#,
            "record TAIL: type 3 is not the number of TAIL in v23-rc2".into(),
        ),
        (
            r#"{"kind":"record","name":"TAIL","len":16,"body_len":9,"raw":"00efdec00c2a2d00"}"#,
            "record TAIL: body_len 9 does not match len 16".into(),
        ),
        (
            r#"{"kind":"record","name":"TAIL","len":16,"struct":"ckpt_hdr_task","raw":"00efdec00c2a2d00"}"#,
            "record TAIL: struct is ckpt_hdr_task, but the record holds ckpt_hdr_tail".into(),
        ),
        (
            r#"{"kind":"record","name":"TAIL","len":16,"struct":"ckpt_hdr_tail","fields":{"magik":"1"},"raw":"00efdec00c2a2d00"}"#,
            "TAIL.magik: no such field in struct ckpt_hdr_tail".into(),
        ),
        (
            r#"{"kind":"record","name":"TAIL","len":16,"fields":{"magic":1.8446744073709552e19},"raw":"00efdec00c2a2d00"}"#,
            "TAIL.magic: expected an integer, found 1".into(),
        ),
        (
            r#"{"kind":"record","name":"STRING","len":12,"body":"6869210a","text":"ho!\n"}"#,
            r#"STRING.text: is "hi!\n", the dump says "ho!\n": the text is shown from "body""#
                .into(),
        ),
        (
            r#"{"kind":"record","name":"STRING","len":12,"body":"6869210a","payload_of":"TASK nope"}"#,
            r#"record STRING: payload_of "TASK nope" names no payload of v23-rc2"#.into(),
        ),
        (r#"{"kind":"record"}"#, "record without a name".into()),
        (
            r#"{"kind":"record","name":"TAIL"}"#,
            "record without a len".into(),
        ),
        (
            r#"{"kind":"record","name":"TAIL","len":-1}"#,
            "record TAIL: len: -1 is not a length".into(),
        ),
        (
            r#"{"kind":"record","name":"TAIL","len":"x"}"#,
            r#"record TAIL: len: expected an integer, found "x""#.into(),
        ),
        (
            r#"{"kind":"record","name":"PGARR","len":24,"chunked":true,"fields":{}}"#,
            r#"record PGARR: a chunked record's body is on the chunk lines that follow; "fields" cannot be applied to it"#.into(),
        ),
        (
            r#"{"kind":"record","name":"NOPE","len":8}"#,
            "record NOPE does not exist in revision v23-rc2".into(),
        ),
        (r#"{"kind":"chunk","hex":7}"#, "hex is not a string".into()),
        (r#"{"kind":"chunk","hex":"abc"}"#, "hex is not hex".into()),
        (
            r#"{"kind":"chunk","hex":"00"}"#,
            "1 bytes given where the record has 0 left".into(),
        ),
        (
            r#"{"kind":"record","name":"TAIL","len":8,"raw":"zz"}"#,
            "raw is not hex".into(),
        ),
        (
            r#"{"kind":"record","name":"TAIL","len":8,"body":[1]}"#,
            "body is not a string".into(),
        ),
        (
            r#"{"kind":"record","name":"TAIL","len":8,"headerless":true}"#,
            "body is not a string".into(),
        ),
        (
            r#"{"kind":"record","name":"STRING","len":9000,"body_sha256":"00"}"#,
            "record STRING: its payload is not in the dump (dump with --payloads)".into(),
        ),
        (
            &format!(r#"{{"kind":"record","name":"TAIL","len":{huge}}}"#),
            format!(
                "record TAIL: len {huge} without raw or body bytes exceeds the limit of {} bytes",
                limits::MAX_INLINE_BODY
            ),
        ),
        (
            r#"{"kind":"record","name":"TAIL","len":4}"#,
            "record TAIL: len 4 but 0 bytes of body".into(),
        ),
        (
            r#"{"kind":"record","name":"TAIL","len":8,"body":"00"}"#,
            "record TAIL: len 8 but 1 bytes of body".into(),
        ),
        (
            r#"{"kind":"record","name":"FILE_DESC","len":24,"struct":"ckpt_hdr_file_desc","fields":{"fd_descriptor":"x"}}"#,
            r#"FILE_DESC.fd_descriptor: expected an integer, found "x""#.into(),
        ),
        (
            r#"{"kind":"record","name":"FILE_DESC","len":24,"struct":"ckpt_hdr_file_desc","fields":{"fd_descriptor":{}}}"#,
            "FILE_DESC.fd_descriptor: expected an integer, found {}".into(),
        ),
        (
            r#"{"kind":"record","name":"FILE_DESC","len":24,"struct":"ckpt_hdr_file_desc","fields":{"fd_descriptor":4294967296}}"#,
            "FILE_DESC.fd_descriptor: 4294967296 does not fit in 4 byte(s)".into(),
        ),
        (
            r#"{"kind":"record","name":"FILE_DESC","len":24,"struct":"no_such_struct","fields":{}}"#,
            "record FILE_DESC: struct is no_such_struct, but the record holds ckpt_hdr_file_desc"
                .into(),
        ),
        (
            &format!(r#"{{"kind":"record","name":"PGARR","len":{huge},"chunked":true}}"#),
            "record length".into(),
        ),
    ] {
        let e = line_error(line);
        assert!(e.starts_with(&want), "{line}: {e}");
    }
}

#[test]
fn an_unfinished_chunked_record_fails_at_finish() {
    let mut enc = DumpEncoder::from_header(HEAD, Vec::new()).unwrap();
    enc.line(r#"{"kind":"record","name":"PGARR","len":24,"chunked":true}"#)
        .unwrap();
    enc.line(r#"{"kind":"chunk","hex":"0102"}"#).unwrap();
    let e = enc.finish().err().unwrap();
    assert!(
        e.to_string()
            .starts_with("14 bytes of the previous record were not written"),
        "{e}"
    );
    assert!(!e.is_io());
}

#[test]
fn output_errors_are_io() {
    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut enc = DumpEncoder::from_header(HEAD, Full).unwrap();
    let e = enc
        .line(r#"{"kind":"record","name":"TAIL","len":8,"raw":""}"#)
        .unwrap_err();
    assert!(e.is_io(), "{e}");
    // The io::Error is the source (said once: not in the message too).
    let src = std::error::Error::source(&e).unwrap();
    assert!(src.downcast_ref::<std::io::Error>().is_some());
    assert!(!e.to_string().contains("full"), "{e}");
}
