//! Dumps edited with JSON tools: values survive a double-based round trip (as jq 1.6 and
//! JavaScript make one), and fixed-order fields (the header's `arch_id`, `__le16`) read
//! and write the same on every architecture.

use ckpt_convert::{Action, Options, convert};
use ckpt_format::build::BuildOptions;
use ckpt_format::dump::{DumpEncoder, DumpWriter};
use ckpt_format::read::HeaderPeek;
use ckpt_format::readback::ReadBack;
use ckpt_format::{Arch, Endian, Format, Reader, Registry, Schema};
use ckpt_tests::{all_pairs, image, json_through_doubles};
use serde_json::Value as Json;

/// `ckpt dump --payloads` of `img`, as lines.
fn dump(img: &[u8], schema: &'static Schema, arch: Arch) -> Vec<String> {
    let mut r = Reader::new(img, Format::new(schema, arch));
    let mut w = DumpWriter::new(Vec::new(), schema, arch, true).unwrap();
    while let Some(rec) = r.next_record().unwrap() {
        w.record(&mut r, &rec).unwrap();
    }
    let text = String::from_utf8(w.finish().unwrap()).unwrap();
    text.lines().map(str::to_string).collect()
}

/// `ckpt encode` of `lines`, read back while written; the error names its line.
fn encode(lines: &[String]) -> Result<Vec<u8>, String> {
    let format = DumpEncoder::<Vec<u8>>::header_format(&lines[0]).map_err(|e| e.to_string())?;
    let mut tee = ReadBack::new(Vec::new(), format);
    let mut enc = DumpEncoder::new(format, &mut tee);
    for (n, l) in (2..).zip(&lines[1..]) {
        enc.line(l).map_err(|e| format!("line {n}: {e}"))?;
    }
    enc.finish().map_err(|e| e.to_string())?;
    let (out, _) = tee.finish().map_err(|e| {
        format!(
            "{e}: {:?}",
            std::error::Error::source(&e).map(|s| s.to_string())
        )
    })?;
    Ok(out)
}

#[test]
fn every_revision_and_arch_survives_a_double_based_json_round_trip() {
    let variants = [
        BuildOptions {
            tasks: 3,
            memory: 2 * 4096,
            ..BuildOptions::default()
        },
        BuildOptions {
            tasks: 4,
            memory: 4096,
            seed: 7,
            with_netns: true,
            with_hugetlb: true,
            with_sem_undo: true,
            with_robust_futex: true,
            ..BuildOptions::default()
        },
    ];
    let mut wide = 0;
    let mut pairs = 0;
    for (schema, arch) in all_pairs() {
        for opts in &variants {
            let img = image(schema, arch, opts);
            let lines = dump(&img, schema, arch);
            // The header's magic is above 2^53: a number would have been rounded.
            let head: Json = serde_json::from_str(&lines[1]).unwrap();
            let magic = head["fields"]["magic"]
                .as_str()
                .expect("the magic is a string");
            assert!(magic.parse::<u64>().unwrap() > 1 << 53, "{magic}");
            wide += lines.iter().filter(|l| l.contains(r#"":""#)).count();
            let edited: Vec<String> = lines
                .iter()
                .map(|l| json_through_doubles(serde_json::from_str(l).unwrap()).to_string())
                .collect();
            assert_ne!(
                edited, lines,
                "{} {arch}: the round trip changed nothing",
                schema.id
            );
            let back = encode(&edited).unwrap_or_else(|e| panic!("{} {arch}: {e}", schema.id));
            assert!(
                back == img,
                "{} {arch}: encode after the round trip differs",
                schema.id
            );
            pairs += 1;
        }
    }
    assert!(
        pairs >= 100 && wide > pairs,
        "{pairs} images, {wide} lines with strings"
    );
}

#[test]
fn the_header_struct_is_one_for_every_revision_and_arch() {
    // HeaderPeek reads it before the revision is known.
    let key = |s: &'static Schema, a: Arch| {
        let l = Format::new(s, a).layout("ckpt_hdr_header").unwrap();
        let f: Vec<String> = l
            .fields()
            .iter()
            // The constants' names change between revisions, not their places.
            .map(|f| {
                let path = if f.path.starts_with("constants.") {
                    "constants.*"
                } else {
                    &f.path
                };
                format!("{path} {} {:?} {}", f.offset, f.prim.kind, f.prim.size)
            })
            .collect();
        (l.size, f)
    };
    let first = key(Registry::get().newest(), Arch::X86_64);
    assert!(
        first.1.contains(&"arch_id 16 LittleEndian 2".to_string()),
        "{:?}",
        first.1
    );
    for (s, a) in all_pairs() {
        assert_eq!(key(s, a), first, "{} {a}", s.id);
    }
}

#[test]
fn big_endian_arch_ids_are_little_endian_in_dump_encode_and_convert() {
    let mut seen = 0;
    for (schema, arch) in all_pairs() {
        if arch.endian() != Endian::Big {
            continue;
        }
        let id = schema.arch_id(arch).unwrap();
        let img = image(schema, arch, &BuildOptions::default());
        assert_eq!(img[16..18], id.to_le_bytes(), "{} {arch}", schema.id);
        let peek = HeaderPeek::parse(&img[..72]).unwrap();
        assert_eq!((peek.endian, peek.arch_id), (Endian::Big, id));
        // The dump shows the id, not its bytes read big-endian (768 for 3).
        let mut lines = dump(&img, schema, arch);
        let head: Json = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(
            head["fields"]["arch_id"],
            Json::from(id),
            "{} {arch}",
            schema.id
        );
        assert_eq!(encode(&lines).unwrap(), img, "{} {arch}", schema.id);
        // An edited arch_id is written little-endian.
        let mut h = head.clone();
        h["fields"]["arch_id"] = Json::from(0x0102);
        lines[1] = h.to_string();
        let mut tee = Vec::new();
        let format = DumpEncoder::<Vec<u8>>::header_format(&lines[0]).unwrap();
        let mut enc = DumpEncoder::new(format, &mut tee);
        enc.line(&lines[1]).unwrap();
        assert_eq!(tee[16..18], [0x02, 0x01]);
        seen += 1;
    }
    assert!(seen >= 20, "{seen} big-endian images");

    // Converting renumbers the arch id (s390x: 2 before v19-rc3, 3 from it) in its
    // little-endian bytes, and the ledger says so.
    let reg = Registry::get();
    let (from, to) = (reg.find("v19-rc2").unwrap(), reg.find("v19-rc3").unwrap());
    let (a, b) = (
        from.arch_id(Arch::S390x).unwrap(),
        to.arch_id(Arch::S390x).unwrap(),
    );
    assert_ne!(a, b);
    let img = image(from, Arch::S390x, &BuildOptions::default());
    let mut out = Vec::new();
    let o = Options {
        cwd: ckpt_convert::TaskPaths::all("/srv"),
        root: ckpt_convert::TaskPaths::all("/"),
        ..Options::default()
    };
    let s = convert(
        Reader::new(&img[..], Format::new(from, Arch::S390x)),
        to,
        &o,
        &mut out,
    )
    .unwrap();
    assert_eq!(out[16..18], b.to_le_bytes());
    let e = s
        .ledger
        .entries
        .iter()
        .find(|e| e.field == "arch_id")
        .expect("a ledger entry");
    assert_eq!(e.action, Action::Renumbered);
    assert_eq!(
        (
            e.old.as_ref().and_then(|v| v.as_int()),
            e.new.as_ref().and_then(|v| v.as_int())
        ),
        (Some(a as i128), Some(b as i128))
    );
}
