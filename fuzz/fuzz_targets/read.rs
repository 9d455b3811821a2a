//! Reads an arbitrary image under a revision × arch chosen by the first two bytes:
//! every record to the end (inline records decoded, streamed payloads drained), plus
//! revision detection over the same bytes.
//!
//! Input: `[revision selector, arch selector, image...]`.

#![no_main]

use ckpt_format::detect::{Evidence, detect};
use ckpt_format::{Arch, Format, Reader, Registry, Schema};
use libfuzzer_sys::fuzz_target;

/// The revision (`a` mod the number of revisions) and one of its arches (`b` mod theirs).
fn pick(a: u8, b: u8) -> (&'static Schema, Arch) {
    let all = Registry::get().all();
    let schema = &all[a as usize % all.len()];
    let arch = schema.arches[b as usize % schema.arches.len()].0;
    (schema, arch)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (schema, arch) = pick(data[0], data[1]);
    let image = &data[2..];

    let mut reader = Reader::new(image, Format::new(schema, arch));
    let mut buf = [0u8; 4096];
    loop {
        match reader.next_record() {
            Ok(Some(info)) => {
                if info.inline {
                    let _ = reader.decode();
                } else {
                    while let Ok(k) = reader.read_payload(&mut buf) {
                        if k == 0 {
                            break;
                        }
                    }
                }
            }
            Ok(None) | Err(_) => break,
        }
    }

    if let Ok(ev) = Evidence::from_window(image) {
        let _ = detect(&ev, None);
    }
});
