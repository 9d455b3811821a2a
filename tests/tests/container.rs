//! The container (schemas/container.md) on every revision × architecture: adding
//! annotations and stripping them gives the image back byte for byte, in the image's
//! byte order, and the annotations read back as written.

use std::io::Cursor;

use ckpt_format::build::BuildOptions;
use ckpt_format::container::{Annotations, is_container, read_info, strip, write};
use ckpt_tests::{all_pairs, image};
use proptest::prelude::*;

fn add_then_strip(
    pair: usize,
    opts: &BuildOptions,
    notes: Vec<(String, String)>,
    config: Option<Vec<u8>>,
) {
    let pairs = all_pairs();
    let (schema, arch) = pairs[pair % pairs.len()];
    let img = image(schema, arch, opts);
    let a = Annotations {
        kernel_config_gz: config,
        linux_cr_tag: schema.tags.first().map(|t| t.value.clone()),
        ckpt_version: Some(env!("CARGO_PKG_VERSION").into()),
        annotated_at: Some(1_800_000_000),
        notes,
        unknown: vec![],
    };
    let endian = arch.endian();
    let mut c = Vec::new();
    write(&mut c, endian, &mut &img[..], img.len() as u64, &a).unwrap();
    assert!(is_container(&c));
    let info = read_info(&mut Cursor::new(&c)).unwrap();
    assert_eq!(info.endian, endian, "{} {arch}", schema.id);
    assert_eq!(info.annotations, a, "{} {arch}", schema.id);
    let mut plain = Vec::new();
    strip(&mut Cursor::new(&c), &mut plain).unwrap();
    assert!(plain == img, "{} {arch}: strip is not the image", schema.id);
}

/// The dump of the container of a builder image, with its payloads, encoded back: the
/// container again, byte for byte (the header's `container` member carries it), and the
/// plain image alone when the member is dropped.
fn dump_then_encode(pair: usize, a: &Annotations) {
    use ckpt_format::container::{Envelope, StreamedImage, write_in};
    use ckpt_format::dump::{DumpEncoder, DumpWriter};
    use ckpt_format::{Format, Reader};
    let pairs = all_pairs();
    let (schema, arch) = pairs[pair % pairs.len()];
    let img = image(schema, arch, &BuildOptions::default());
    let mut c = Vec::new();
    write(&mut c, arch.endian(), &mut &img[..], img.len() as u64, a).unwrap();
    // Read as a pipe would give it: the image streamed, the sections after it.
    let (stream, tail) = StreamedImage::open(&c[..]).unwrap();
    let mut r = Reader::new(stream, Format::new(schema, arch));
    let mut records = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        records.push(rec.offset);
    }
    let info = tail.finish().unwrap();
    assert_eq!(&info, &read_info(&mut Cursor::new(&c)).unwrap());
    let mut reader = Reader::new(&img[..], Format::new(schema, arch));
    let mut dump = DumpWriter::in_container(Vec::new(), schema, arch, true, Some(&info)).unwrap();
    while let Some(rec) = reader.next_record().unwrap() {
        dump.record(&mut reader, &rec).unwrap();
    }
    let text = String::from_utf8(dump.finish().unwrap()).unwrap();
    let mut lines = text.lines();
    let head = DumpEncoder::<Vec<u8>>::header(lines.next().unwrap()).unwrap();
    let mut enc = DumpEncoder::new(head.format, Vec::new());
    for line in lines {
        enc.line(line).unwrap();
    }
    let plain = enc.finish().unwrap();
    assert!(plain == img, "{} {arch}: the image inside", schema.id);
    let dc = head.container.expect("a container's dump describes it");
    assert_eq!(dc.envelope, Envelope::new(arch.endian()));
    let mut again = Vec::new();
    write_in(
        &mut again,
        &dc.envelope,
        &mut &plain[..],
        plain.len() as u64,
        &dc.annotations,
    )
    .unwrap();
    assert!(
        again == c,
        "{} {arch}: dump then encode is not the container",
        schema.id
    );
    // Offsets are the image's: the first record, HEADER, at 0.
    assert_eq!(records.first(), Some(&0));
}

#[test]
fn dump_then_encode_gives_the_container_back_on_every_revision_and_arch() {
    let a = Annotations {
        kernel_config_gz: Some(vec![0x1f, 0x8b, 8, 0, 9]),
        linux_cr_tag: Some("ckpt-v23-rc2".into()),
        ckpt_version: Some("0.1.0".into()),
        annotated_at: Some(u64::MAX),
        notes: vec![("site".into(), "lab=2".into()), ("x".into(), String::new())],
        unknown: vec![(42, b"from a later ckpt".to_vec())],
    };
    for k in 0..all_pairs().len() {
        dump_then_encode(k, &a);
    }
}

#[test]
fn add_then_strip_is_the_identity_on_every_revision_and_arch() {
    for k in 0..all_pairs().len() {
        add_then_strip(
            k,
            &BuildOptions::default(),
            vec![("site".into(), "lab".into())],
            Some(vec![0x1f, 0x8b, 8]),
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn add_then_strip_is_the_identity(
        pair in 0usize..64,
        seed in 1u64..1000,
        tasks in 1u32..4,
        notes in proptest::collection::vec(("[a-z]{1,8}", "[ -~]{0,40}"), 0..5),
        config in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..2000)),
    ) {
        let opts = BuildOptions { tasks, seed, memory: 4096, ..BuildOptions::default() };
        add_then_strip(pair, &opts, notes, config);
    }
}
