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
