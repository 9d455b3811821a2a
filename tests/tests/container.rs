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
