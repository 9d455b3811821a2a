//! ckpt's container (schemas/container.md) on arbitrary bytes: `container::read_info`,
//! `container::strip`, and the image inside read as a file
//! (`container::ImageInContainer`'s bounds, here over a slice) and as a stream
//! (`container::StreamedImage`, then its tail). Errors are fine, panics are not; and
//! where the bytes are a container:
//! - strip gives the bytes at the image's offset, and the stream the same image and the
//!   same `ContainerInfo` as the file;
//! - the image inside reads with `Reader` under the revision detected from it;
//! - written back (`container::write_in`, its envelope and annotations), it reads back
//!   to the same annotations and strips to the same image (the same bytes are the
//!   promise of `dump | encode`, which `encode_dump` checks for containers ckpt wrote).
//!
//! Input: the container's bytes.

#![no_main]

use std::io::{Cursor, Read};

use ckpt_format::container::{Envelope, StreamedImage, read_info, strip, write_in};
use ckpt_format::detect::{Evidence, detect};
use ckpt_format::{Format, Reader};
use ckpt_tests::fuzz_input::read_all;
use libfuzzer_sys::fuzz_target;

fn read_image(image: &[u8]) {
    let Ok(ev) = Evidence::from_window(image) else {
        return;
    };
    let Ok(det) = detect(&ev, None) else {
        return;
    };
    read_all(&mut Reader::new(image, Format::new(det.schema, det.arch)));
}

fuzz_target!(|data: &[u8]| {
    let file = read_info(&mut Cursor::new(data));
    let mut plain = Vec::new();
    let stripped = strip(&mut Cursor::new(data), &mut plain);
    assert_eq!(
        file.is_ok(),
        stripped.is_ok(),
        "read_info and strip disagree"
    );

    // As a stream: the prefix, the image, then the tail.
    let mut streamed = Vec::new();
    let stream = StreamedImage::open(data).map(|(mut img, tail)| {
        let read = img.read_to_end(&mut streamed);
        (read.is_ok().then(|| tail.finish()), tail)
    });

    let Ok(info) = file else {
        return;
    };
    let at = info.image_offset as usize;
    assert!(
        plain[..] == data[at..at + info.image_len as usize],
        "strip is not the image"
    );
    let Ok((Some(Ok(from_stream)), _)) = stream else {
        panic!("the file reads as a container, the stream does not");
    };
    assert_eq!(from_stream, info, "the stream and the file disagree");
    assert!(streamed == plain, "the streamed image is not the image");
    read_image(&plain);

    let env = Envelope {
        endian: info.endian,
        version: info.version,
        flags: info.flags,
    };
    let mut again = Vec::new();
    if write_in(
        &mut again,
        &env,
        &mut &plain[..],
        plain.len() as u64,
        &info.annotations,
    )
    .is_err()
    {
        // An annotation this ckpt reads but does not write (a note with an empty key).
        return;
    }
    let back = read_info(&mut Cursor::new(&again)).expect("a container written reads back");
    assert_eq!(
        back.annotations, info.annotations,
        "written back, other annotations"
    );
    let mut inside = Vec::new();
    strip(&mut Cursor::new(&again), &mut inside).expect("a container written strips");
    assert!(inside == plain, "written back, another image");
});
