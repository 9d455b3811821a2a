//! Builder → read → write round trips over every revision and architecture.

use ckpt_format::build::BuildOptions;
use ckpt_format::{Format, Reader, Writer};
use ckpt_tests::{all_pairs, image};

#[test]
fn every_pair_reads_back_and_rewrites_byte_for_byte() {
    for (schema, arch) in all_pairs() {
        let opts = BuildOptions {
            tasks: 4,
            memory: 5 * 4096,
            seed: 7,
            ..Default::default()
        };
        let img = image(schema, arch, &opts);
        let mut r = Reader::new(&img[..], Format::new(schema, arch));
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out, arch.endian());
        let mut n = 0;
        loop {
            let rec = match r.next_record() {
                Ok(Some(rec)) => rec,
                Ok(None) => break,
                Err(e) => panic!("{} {arch}: {e}", schema.id),
            };
            n += 1;
            if rec.inline {
                r.decode()
                    .unwrap_or_else(|e| panic!("{} {arch}: decode: {e}", schema.id));
                w.write_record_bytes(r.record_bytes()).unwrap();
            } else {
                w.begin_record(rec.rtype, rec.body_len() as u64).unwrap();
                let mut buf = Vec::new();
                r.copy_payload(&mut buf).unwrap();
                w.write_payload(&buf).unwrap();
            }
        }
        assert!(r.finished(), "{} {arch}: no TAIL", schema.id);
        assert!(n > 50, "{} {arch}: only {n} records", schema.id);
        w.finish().unwrap();
        assert_eq!(out, img, "{} {arch}: rewrite differs", schema.id);
    }
}

/// Splices records of an image: returns the records as byte ranges.
fn records(
    img: &[u8],
    schema: &'static ckpt_format::Schema,
    arch: ckpt_format::Arch,
) -> Vec<(usize, usize)> {
    let mut r = Reader::new(img, Format::new(schema, arch));
    let mut v = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        v.push((rec.offset as usize, rec.offset as usize + rec.len as usize));
    }
    v
}

fn read_all(
    img: &[u8],
    schema: &'static ckpt_format::Schema,
    arch: ckpt_format::Arch,
) -> Result<(), String> {
    let mut r = Reader::new(img, Format::new(schema, arch));
    loop {
        match r.next_record() {
            Ok(Some(_)) => {}
            Ok(None) => return Ok(()),
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[test]
fn the_top_level_structure_is_checked() {
    let schema = ckpt_format::Registry::get().find("v23-rc2").unwrap();
    let arch = ckpt_format::Arch::X86_64;
    let img = image(schema, arch, &BuildOptions::default());
    let recs = records(&img, schema, arch);
    // Records 4 and 5 are HEADER_ARCH and CONTAINER: swap them.
    let (a, b) = (recs[4], recs[5]);
    let mut swapped = img[..a.0].to_vec();
    swapped.extend_from_slice(&img[b.0..b.1]);
    swapped.extend_from_slice(&img[a.0..a.1]);
    swapped.extend_from_slice(&img[b.1..]);
    let e = read_all(&swapped, schema, arch).unwrap_err();
    assert!(
        e.contains("expected HEADER_ARCH after the header, found CONTAINER"),
        "{e}"
    );
    // Dropping the last task's records makes the task count disagree with the tree.
    let last_task = {
        let mut r = Reader::new(&img[..], Format::new(schema, arch));
        let mut at = 0;
        while let Some(rec) = r.next_record().unwrap() {
            if rec.name == "TASK" {
                at = rec.offset as usize;
            }
        }
        at
    };
    let tail = recs.last().unwrap();
    let mut cut = img[..last_task].to_vec();
    cut.extend_from_slice(&img[tail.0..tail.1]);
    let e = read_all(&cut, schema, arch).unwrap_err();
    assert!(e.contains("TASK records before TAIL"), "{e}");
}
