//! Reads an arbitrary image under a revision × arch chosen by the first two bytes:
//! every record to the end (inline records decoded, streamed payloads drained), plus
//! revision detection over the same bytes.
//!
//! Input: `[revision selector, arch selector, image...]`.

#![no_main]

use ckpt_format::detect::{Evidence, detect};
use ckpt_format::{Format, Reader};
use ckpt_tests::fuzz_input::{pick, read_all};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (schema, arch) = pick(data[0], data[1]);
    let image = &data[2..];

    let mut reader = Reader::new(image, Format::new(schema, arch));
    read_all(&mut reader);

    if let Ok(ev) = Evidence::from_window(image) {
        let _ = detect(&ev, None);
    }
});
