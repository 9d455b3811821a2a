//! Corruption harness: truncations, bit flips and length mutations give a clean error or a
//! valid parse, never a panic or a hang.

use std::io::Cursor;

use ckpt_format::build::{BuildOptions, Omit};
use ckpt_format::detect::{Evidence, detect};
use ckpt_format::prng::SplitMix64;
use ckpt_format::{Format, Reader, Schema};
use ckpt_tests::{all_pairs, image};

/// Reads the whole image; Ok(records) or Err(message). Never panics.
fn walk(schema: &'static Schema, arch: ckpt_format::Arch, img: &[u8]) -> Result<u64, String> {
    let mut r = Reader::new(img, Format::new(schema, arch));
    let mut n = 0;
    loop {
        match r.next_record() {
            Ok(Some(rec)) => {
                n += 1;
                if rec.inline {
                    let _ = r.decode();
                }
                assert!(n <= img.len() as u64, "more records than bytes: a hang");
            }
            Ok(None) => return Ok(n),
            Err(e) => {
                let s = e.to_string();
                assert!(
                    s.contains("offset 0x") || s.contains("offset"),
                    "error without offset: {s}"
                );
                return Err(s);
            }
        }
    }
}

fn tiny() -> BuildOptions {
    BuildOptions {
        tasks: 1,
        memory: 4096,
        seed: 3,
        omit: Omit {
            sockets: true,
            ipc: true,
            tty: true,
            ..Omit::default()
        },
        ..BuildOptions::default()
    }
}

#[test]
fn every_truncation_of_small_images_is_a_clean_error() {
    // A sample of pairs in CI; every pair with CKPT_EXHAUSTIVE=1.
    let exhaustive = std::env::var_os("CKPT_EXHAUSTIVE").is_some();
    for (k, (schema, arch)) in all_pairs().into_iter().enumerate() {
        if !exhaustive && k % 9 != 0 {
            continue;
        }
        let img = image(schema, arch, &tiny());
        assert!(walk(schema, arch, &img).is_ok());
        for cut in 0..img.len() {
            let r = walk(schema, arch, &img[..cut]);
            assert!(
                r.is_err(),
                "{} {arch}: cut at {cut} of {} parsed",
                schema.id,
                img.len()
            );
            if cut % 17 == 0 || cut < 200 {
                let _ = Evidence::from_window(&img[..cut]).map(|ev| detect(&ev, None));
                let _ = Evidence::scan(&mut Cursor::new(&img[..cut])).map(|ev| detect(&ev, None));
            }
        }
    }
}

#[test]
fn bit_flips_and_length_mutations_never_panic() {
    let exhaustive = std::env::var_os("CKPT_EXHAUSTIVE").is_some();
    let per_pair = if exhaustive { 4000 } else { 300 };
    for (k, (schema, arch)) in all_pairs().into_iter().enumerate() {
        if !exhaustive && k % 5 != 0 {
            continue;
        }
        let img = image(schema, arch, &tiny());
        // Record starts, to aim length mutations at.
        let mut starts = Vec::new();
        let mut r = Reader::new(&img[..], Format::new(schema, arch));
        while let Some(rec) = r.next_record().unwrap() {
            if !rec.headerless {
                starts.push(rec.offset as usize);
            }
        }
        let mut rng = SplitMix64::new(k as u64);
        let endian = arch.endian();
        for case in 0..per_pair {
            let mut m = img.clone();
            if case % 2 == 0 {
                let flips = 1 + rng.below(4);
                for _ in 0..flips {
                    let at = rng.below(m.len() as u64) as usize;
                    m[at] ^= 1 << rng.below(8);
                }
            } else {
                let at = starts[rng.below(starts.len() as u64) as usize] + 4;
                let old = ckpt_format::value::get_uint(&m[at..at + 4], endian);
                let new = match rng.below(6) {
                    0 => 0,
                    1 => 7,
                    2 => old + 1,
                    3 => old.saturating_sub(1),
                    4 => u32::MAX as u64,
                    _ => rng.below(1 << 31),
                };
                ckpt_format::value::put_uint(&mut m[at..at + 4], new, endian);
            }
            let _ = walk(schema, arch, &m);
            let _ = Evidence::from_window(&m).map(|ev| detect(&ev, None));
        }
    }
}
