//! Property tests: builder → read → write is the identity for random images of every
//! revision × architecture; reading in any chunking gives the same records; field values
//! survive encoding.

use std::io::Read;

use ckpt_format::build::BuildOptions;
use ckpt_format::value::{Value, apply_fields, decode_struct};
use ckpt_format::{Format, Reader, Writer};
use ckpt_tests::{all_pairs, image};
use proptest::prelude::*;

/// A source that hands out at most `step` bytes per read.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}
impl ckpt_format::input::Input for Trickle<'_> {}

fn rewrite<R: ckpt_format::input::Input>(
    r: &mut Reader<R>,
    endian: ckpt_format::Endian,
) -> (Vec<u8>, Vec<(u64, u32, u32)>) {
    let mut out = Vec::new();
    let mut recs = Vec::new();
    let mut w = Writer::new(&mut out, endian);
    while let Some(rec) = r.next_record().unwrap() {
        recs.push((rec.offset, rec.rtype, rec.len));
        if rec.inline {
            w.write_record_bytes(r.record_bytes()).unwrap();
        } else {
            w.begin_record(rec.rtype, rec.body_len() as u64).unwrap();
            let mut buf = Vec::new();
            r.copy_payload(&mut buf).unwrap();
            w.write_payload(&buf).unwrap();
        }
    }
    w.finish().unwrap();
    (out, recs)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn read_then_write_is_identity(pair in 0usize..1000, seed: u64, tasks in 1u32..7, pages in 0u64..40, step in 1usize..9000) {
        let pairs = all_pairs();
        let (schema, arch) = pairs[pair % pairs.len()];
        let opts = BuildOptions { tasks, memory: pages * 4096, seed, ..Default::default() };
        let img = image(schema, arch, &opts);
        let mut r = Reader::new(&img[..], Format::new(schema, arch));
        let (out, recs) = rewrite(&mut r, arch.endian());
        prop_assert!(out == img, "{} {}: rewrite differs", schema.id, arch);
        // Any chunking of the source gives the same records.
        let mut r = Reader::new(Trickle { data: &img, step }, Format::new(schema, arch));
        let (out2, recs2) = rewrite(&mut r, arch.endian());
        prop_assert_eq!(recs, recs2);
        prop_assert!(out2 == img);
    }

    #[test]
    fn field_values_survive(pair in 0usize..1000, values in proptest::collection::vec(any::<u64>(), 64)) {
        let pairs = all_pairs();
        let (schema, arch) = pairs[pair % pairs.len()];
        let f = Format::new(schema, arch);
        for st in ["ckpt_hdr_task", "ckpt_hdr_vma", "ckpt_hdr_cred", "ckpt_hdr_socket", "ckpt_hdr_tty"] {
            let l = f.layout(st).unwrap();
            let fields = l.fields();
            let mut bytes = vec![0u8; l.size as usize];
            // One value per field, masked to its width (arrays: every element).
            let mut want = Vec::new();
            for (k, fld) in fields.iter().enumerate() {
                let v = values[k % values.len()];
                let bits = 8 * fld.prim.size;
                let m = if bits >= 64 { v } else { v & ((1u64 << bits) - 1) };
                let one = match fld.prim.kind {
                    ckpt_format::layout::PrimKind::Signed => {
                        let shift = 64 - bits;
                        Value::Int(((m << shift) as i64) >> shift)
                    }
                    ckpt_format::layout::PrimKind::Float => continue,
                    ckpt_format::layout::PrimKind::Char if fld.count > 1 => continue,
                    _ => Value::Uint(m),
                };
                let v = if fld.count > 1 { Value::List(vec![one; fld.count as usize]) } else { one };
                want.push((fld.path.clone(), v));
            }
            // Union alternatives share bytes: keep the last writer of each offset.
            let mut seen_offsets = std::collections::HashSet::new();
            want.reverse();
            want.retain(|(p, _)| {
                let fl = fields.iter().find(|x| &x.path == p).unwrap();
                seen_offsets.insert(fl.offset)
            });
            apply_fields(&l, &mut bytes, arch.endian(), &want).unwrap();
            let got = decode_struct(&l, &bytes, arch.endian());
            for (p, v) in &want {
                let g = &got.iter().find(|(x, _)| x == p).unwrap().1;
                prop_assert_eq!(g, v, "{} {} {}.{}", schema.id, arch, st, p);
            }
        }
    }
}
