//! The container's framing: both byte orders, damage, versions, unknown entries.

use super::*;

fn sample() -> Annotations {
    Annotations {
        kernel_config_gz: Some(vec![0x1f, 0x8b, 8, 0, 1, 2, 3]),
        linux_cr_tag: Some("ckpt-v23-rc2".into()),
        ckpt_version: Some("0.1.0".into()),
        annotated_at: Some(1_800_000_000),
        notes: vec![("site".into(), "lab=2".into())],
        unknown: vec![],
    }
}

fn container(endian: Endian, image: &[u8]) -> Vec<u8> {
    let mut c = Vec::new();
    let n = write(
        &mut c,
        endian,
        &mut &image[..],
        image.len() as u64,
        &sample(),
    )
    .unwrap();
    assert_eq!(n, c.len() as u64);
    c
}

#[test]
fn both_byte_orders_read_back_and_strip_to_the_image() {
    let image: Vec<u8> = (0..5000u32).map(|k| k as u8).collect();
    for endian in [Endian::Little, Endian::Big] {
        let c = container(endian, &image);
        assert!(is_container(&c));
        let info = read_info(&mut Cursor::new(&c)).unwrap();
        assert_eq!(info.endian, endian);
        assert_eq!(info.annotations, sample());
        assert_eq!((info.image_offset, info.image_len), (64, 5000));
        assert_eq!(&c[64..5064], &image[..]);
        let mut plain = Vec::new();
        strip(&mut Cursor::new(&c), &mut plain).unwrap();
        assert_eq!(plain, image);
    }
}

#[test]
fn a_restart_stops_at_the_first_record_header() {
    // The kernel reads {type, len} first and wants CKPT_HDR_HEADER (1) there.
    let c = container(Endian::Little, b"image");
    let t = u32::from_le_bytes(c[0..4].try_into().unwrap());
    assert_ne!(t, 1);
    assert_ne!(u32::from_be_bytes(c[0..4].try_into().unwrap()), 1);
}

#[test]
fn damaged_containers_are_refused_with_where_and_what() {
    let c = container(Endian::Little, &[7u8; 100]);
    let err = |b: &[u8]| read_info(&mut Cursor::new(b)).unwrap_err().to_string();
    assert!(
        err(&c[..c.len() - 1]).contains("cut short"),
        "{}",
        err(&c[..c.len() - 1])
    );
    assert!(err(&c[..40]).contains("cut short"));
    assert!(err(b"CKPT+AN").contains("shorter than its prefix"));
    assert!(err(&c[64..]).contains("no CKPT+ANN magic"));
    let mut v = c.clone();
    v[10] = 2; // major 2
    assert!(err(&v).contains("container format 2.0.0"), "{}", err(&v));
    let mut v = c.clone();
    v[16] = 0x4; // encrypted
    assert!(err(&v).contains("bits this ckpt does not know"));
    let mut v = c.clone();
    v[8] = 0x03;
    assert!(
        err(&v).contains("byte order mark 03 01, expected 02 01 or 01 02 (at offset 0x8)"),
        "{}",
        err(&v)
    );
    // A section longer than the sections.
    let mut v = c.clone();
    let at = 64 + 100 + 8;
    v[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(
        err(&v).contains("past the end of the sections"),
        "{}",
        err(&v)
    );
    // An entry longer than its section.
    let mut v = c.clone();
    let at = 64 + 100 + 16 + 4;
    v[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(err(&v).contains("past its section"), "{}", err(&v));
    // The footer's total.
    let mut v = c.clone();
    let n = v.len();
    v[n - 8] ^= 1;
    assert!(err(&v).contains("a footer of CKPT-END"), "{}", err(&v));
}

#[test]
fn a_note_key_with_an_equals_sign_is_refused() {
    let a = Annotations {
        notes: vec![("a=b".into(), "c".into())],
        ..Annotations::default()
    };
    let e = write(Vec::new(), Endian::Little, &mut &b""[..], 0, &a).unwrap_err();
    assert!(e.to_string().contains("holds no ="), "{e}");
}

#[test]
fn an_image_shorter_than_it_was_said_to_be_is_an_error() {
    let mut c = Vec::new();
    let e = write(&mut c, Endian::Little, &mut &b"abc"[..], 10, &sample()).unwrap_err();
    assert!(
        e.to_string().contains("ended after 3 of its 10 bytes"),
        "{e}"
    );
}

#[test]
fn unknown_entries_and_sections_are_skipped() {
    let c = container(Endian::Big, b"img");
    let mut v = c[..c.len() - 16].to_vec();
    // An entry of key 99 appended to the annotation section, and a section of kind 7.
    v.extend_from_slice(&[0, 99, 0, 0, 0, 0, 0, 1, b'x']);
    let sec_at = 64 + 3;
    let old = u64::from_be_bytes(v[sec_at + 8..sec_at + 16].try_into().unwrap());
    v[sec_at + 8..sec_at + 16].copy_from_slice(&(old + 9).to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, b'a', b'b']);
    let sections_len = (v.len() - sec_at) as u64;
    v[40..48].copy_from_slice(&sections_len.to_be_bytes());
    v[20..24].copy_from_slice(&2u32.to_be_bytes());
    let total = v.len() as u64 + 16;
    v.extend_from_slice(&FOOTER_MAGIC);
    v.extend_from_slice(&total.to_be_bytes());
    let info = read_info(&mut Cursor::new(&v)).unwrap();
    assert_eq!(info.annotations.unknown, vec![(99, b"x".to_vec())]);
    assert_eq!(info.unknown_sections, vec![7]);
    assert_eq!(info.annotations.notes, sample().notes);
}

#[test]
fn unknown_entries_and_the_envelope_are_written_back_as_read() {
    let mut a = sample();
    a.unknown = vec![(99, b"later".to_vec())];
    let env = Envelope {
        endian: Endian::Big,
        version: (1, 3, 0),
        flags: FLAG_ANNOTATED,
    };
    let mut c = Vec::new();
    write_in(&mut c, &env, &mut &b"img"[..], 3, &a).unwrap();
    let info = read_info(&mut Cursor::new(&c)).unwrap();
    assert_eq!((info.version, info.flags), ((1, 3, 0), FLAG_ANNOTATED));
    assert_eq!(info.annotations, a);
    let mut again = Vec::new();
    let env2 = Envelope {
        endian: info.endian,
        version: info.version,
        flags: info.flags,
    };
    write_in(&mut again, &env2, &mut &b"img"[..], 3, &info.annotations).unwrap();
    assert_eq!(again, c, "read then written back: the same bytes");
    // What this ckpt could not read back is refused.
    let bad_env = Envelope {
        version: (2, 0, 0),
        ..env
    };
    let e = write_in(Vec::new(), &bad_env, &mut &b""[..], 0, &a).unwrap_err();
    assert!(e.to_string().contains("container format 2.0.0"), "{e}");
    a.unknown = vec![(5, b"x".to_vec())];
    let e = write_in(Vec::new(), &env, &mut &b""[..], 0, &a).unwrap_err();
    assert!(e.to_string().contains("a key this ckpt knows"), "{e}");
}

/// A sealed container as format 1.1 frames it: a seal section (8 bytes of body here)
/// before the image region, and no sections after it.
fn sealed_frame(endian: Endian, region: &[u8]) -> Vec<u8> {
    let image_offset = PREFIX_LEN + 16 + 8;
    let prefix = Prefix {
        magic: MAGIC,
        order: 0x0102,
        major: 1,
        minor: 1,
        patch: 0,
        flags: FLAG_SEALED,
        sections: 0,
        image_offset,
        image_len: region.len() as u64,
        sections_len: 0,
        reserved: [0; 16],
    };
    let mut c = encode_part(&prefix, endian);
    c.extend(encode_part(
        &SectionHeader {
            kind: SECTION_SEAL,
            flags: 0,
            len: 8,
        },
        endian,
    ));
    c.extend([9u8; 8]);
    c.extend(region);
    let total = c.len() as u64 + FOOTER_LEN;
    c.extend(encode_part(
        &Footer {
            magic: FOOTER_MAGIC,
            total,
        },
        endian,
    ));
    c
}

#[test]
fn a_sealed_container_is_recognised_and_never_read_as_a_plain_image() {
    for endian in [Endian::Little, Endian::Big] {
        let c = sealed_frame(endian, b"sealed frames");
        let info = read_info(&mut Cursor::new(&c)).unwrap();
        assert!(info.is_sealed());
        assert_eq!(info.version, (1, 1, 0));
        assert_eq!(
            info.leading,
            vec![LeadingSection {
                kind: SECTION_SEAL,
                body_offset: 80,
                len: 8
            }]
        );
        let e = strip(&mut Cursor::new(&c), Vec::new()).unwrap_err();
        assert!(matches!(e, ContainerError::Sealed), "{e}");
        assert!(e.to_string().contains("ckpt unseal"), "{e}");
        assert!(matches!(
            StreamedImage::open(&c[..]).err().unwrap(),
            ContainerError::Sealed
        ));
        let (p, e2, total) = read_prefix(&mut &c[..]).unwrap();
        assert_eq!((e2, total), (endian, c.len() as u64));
        assert_eq!(p.image_len, 13);
    }
    // A seal section of another kind, or padding that is not zero, is refused.
    let mut c = sealed_frame(Endian::Little, b"x");
    c[64] = 7;
    let e = read_info(&mut Cursor::new(&c)).unwrap_err().to_string();
    assert!(e.contains("where the seal (kind 2) was expected"), "{e}");
    // Encrypted images are for a later ckpt.
    let mut c = sealed_frame(Endian::Little, b"x");
    c[16] |= FLAG_ENCRYPTED as u8;
    let e = read_info(&mut Cursor::new(&c)).unwrap_err().to_string();
    assert!(e.contains("encrypted images need a later ckpt"), "{e}");
}

#[test]
fn plain_containers_are_still_written_as_1_0() {
    let c = container(Endian::Little, b"image");
    assert_eq!(read_info(&mut Cursor::new(&c)).unwrap().version, (1, 0, 0));
}
