//! Sealing and unsealing, end to end: tampering of every kind is detected with its own
//! error, unseal gives out only verified bytes, and seal → unseal is the identity on
//! every revision and arch.

use std::io::{Cursor, Read};

use ckpt_format::build::{BuildOptions, build};
use ckpt_format::container::Annotations;
use ckpt_format::{Format, Registry};
use ckpt_seal::keys::{KeyKind, PrivateKey};
use ckpt_seal::{
    SealError, SealOptions, SealOutput, SealingKey, Secret, Unsealer, VerifyOptions, VerifyingKey,
    seal, verify,
};

fn image(tasks: u32, memory: u64, seed: u64) -> Vec<u8> {
    let f = Format::new(Registry::get().newest(), ckpt_format::Arch::X86_64);
    let opts = BuildOptions {
        tasks,
        memory,
        seed,
        ..BuildOptions::default()
    };
    let mut v = Vec::new();
    build(&f, &opts, &mut v).unwrap();
    v
}

fn ed_key() -> PrivateKey {
    PrivateKey::from_secret(KeyKind::Ed25519, [7; 32])
}

fn x_key() -> PrivateKey {
    PrivateKey::from_secret(KeyKind::X25519, [9; 32])
}

/// Options that decrypt with `id`.
fn identity(id: &std::sync::Arc<PrivateKey>) -> VerifyOptions {
    VerifyOptions {
        identity: Some(id.clone()),
        ..VerifyOptions::default()
    }
}

fn secret() -> Secret {
    Secret::new(vec![0x5a; 32]).unwrap()
}

fn sealed_with(plain: &[u8], key: &SealingKey<'_>, opts: &SealOptions) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    seal(
        &mut Cursor::new(plain),
        SealOutput::Seekable(&mut out),
        key,
        opts,
    )
    .unwrap();
    out.into_inner()
}

fn small_chunks() -> SealOptions {
    SealOptions {
        created_at: 1_800_000_000,
        chunk_size: Some(4096),
        annotations: Some(Annotations {
            notes: vec![("site".into(), "lab".into())],
            ..Annotations::default()
        }),
        ..SealOptions::default()
    }
}

/// Unseals `sealed`, collecting what is given out before any error.
fn unseal_all(sealed: &[u8], key: &VerifyingKey<'_>) -> (Vec<u8>, Result<(), SealError>) {
    unseal_with(sealed, key, VerifyOptions::default())
}

/// [`unseal_all`] with `opts` (an identity, for an encrypted seal).
fn unseal_with(
    sealed: &[u8],
    key: &VerifyingKey<'_>,
    opts: VerifyOptions,
) -> (Vec<u8>, Result<(), SealError>) {
    let mut out = Vec::new();
    let mut u = match Unsealer::new(sealed, key, opts) {
        Ok(u) => u,
        Err(e) => return (out, Err(e)),
    };
    loop {
        match u.next_chunk() {
            Ok(Some(c)) => out.extend_from_slice(c),
            Ok(None) => break,
            Err(e) => return (out, Err(e)),
        }
    }
    (out, u.finish().map(|_| ()))
}

/// A deterministic stream of positions (SplitMix64).
fn positions(seed: u64, count: usize, below: usize) -> Vec<usize> {
    let mut rng = ckpt_format::prng::SplitMix64::new(seed);
    (0..count)
        .map(|_| (rng.next_u64() % below as u64) as usize)
        .collect()
}

fn both_forms<'a>(
    ed: &'a PrivateKey,
    public: &'a ckpt_seal::PublicKey,
    s: &'a Secret,
) -> [(SealingKey<'a>, VerifyingKey<'a>); 2] {
    [
        (SealingKey::Ed25519(ed), VerifyingKey::Ed25519(public)),
        (SealingKey::Hmac(s), VerifyingKey::Hmac(s)),
    ]
}

#[test]
fn every_bit_flip_and_every_truncation_is_detected_signed_macd_and_encrypted() {
    let plain = image(1, 16 << 10, 3);
    let (ed, s) = (ed_key(), secret());
    let public = ed.public();
    let id = std::sync::Arc::new(x_key());
    let forms = both_forms(&ed, &public, &s)
        .into_iter()
        .map(|f| (f, None))
        .chain([(
            (SealingKey::Ed25519(&ed), VerifyingKey::Ed25519(&public)),
            Some(id.public()),
        )]);
    for ((sk, vk), recipient) in forms {
        let opts = SealOptions {
            recipient,
            ..small_chunks()
        };
        let sealed = sealed_with(&plain, &sk, &opts);
        let (out, r) = unseal_with(&sealed, &vk, identity(&id));
        r.unwrap();
        assert_eq!(out, plain);
        for (k, pos) in positions(14, 2000, sealed.len() * 8)
            .into_iter()
            .enumerate()
        {
            let mut t = sealed.clone();
            t[pos / 8] ^= 1 << (pos % 8);
            let (out, r) = unseal_with(&t, &vk, identity(&id));
            assert!(r.is_err(), "flip {k} of bit {pos} not detected");
            assert!(
                plain.starts_with(&out),
                "flip {k}: emitted bytes not a prefix"
            );
        }
        for cut in 0..sealed.len() {
            let r = verify(&sealed[..cut], &vk, identity(&id));
            assert!(
                r.is_err(),
                "a cut at {cut} of {} not detected",
                sealed.len()
            );
        }
    }
}

#[test]
fn each_tamper_fails_with_its_own_error() {
    let plain = image(2, 64 << 10, 5);
    let (ed, s) = (ed_key(), secret());
    let public = ed.public();
    let vk = VerifyingKey::Ed25519(&public);
    let opts = small_chunks();
    let sealed = sealed_with(&plain, &SealingKey::Ed25519(&ed), &opts);
    let report = verify(&sealed[..], &vk, VerifyOptions::default()).unwrap();
    assert_eq!(
        report.container.annotations.notes,
        vec![("site".into(), "lab".into())]
    );
    let n = report.seal.header.chunk_count;
    assert!(n > 10, "{n} chunks");
    let err = |b: &[u8], vk: &VerifyingKey<'_>, o: VerifyOptions| verify(b, vk, o).unwrap_err();

    // Wrong key.
    let other = PrivateKey::from_secret(KeyKind::Ed25519, [8; 32]).public();
    let e = err(
        &sealed,
        &VerifyingKey::Ed25519(&other),
        VerifyOptions::default(),
    );
    assert!(matches!(e, SealError::WrongKey { .. }), "{e}");
    assert!(e.to_string().starts_with("wrong key"), "{e}");
    // A secret for an Ed25519 seal.
    let e = err(&sealed, &VerifyingKey::Hmac(&s), VerifyOptions::default());
    assert!(matches!(e, SealError::KeyMismatch { .. }), "{e}");
    // A changed seal header (its creation time).
    let mut t = sealed.clone();
    let created_at = 64 + 16 + 48;
    t[created_at] ^= 1;
    let e = err(&t, &vk, VerifyOptions::default());
    assert!(matches!(e, SealError::BadSignature(_)), "{e}");
    // Truncated and extended.
    let e = err(&sealed[..sealed.len() / 2], &vk, VerifyOptions::default());
    assert!(matches!(e, SealError::Truncated { .. }), "{e}");
    assert!(e.to_string().contains("inside chunk"), "{e}");
    let mut t = sealed.clone();
    t.extend_from_slice(b"more");
    let e = err(&t, &vk, VerifyOptions::default());
    assert!(matches!(e, SealError::Extended { .. }), "{e}");
    // A chunk replaced; two chunks swapped.
    let io = report.seal.prefix.image_offset as usize;
    let frame = 4096 + 32;
    let mut t = sealed.clone();
    t[io + 3 * frame + 100] ^= 0x40;
    let e = err(&t, &vk, VerifyOptions::default());
    match &e {
        SealError::ChunkMismatch {
            chunk,
            plain_offset,
            ..
        } => assert_eq!((*chunk, *plain_offset), (4, 3 * 4096)),
        e => panic!("{e}"),
    }
    let mut t = sealed.clone();
    let (a, b) = (io + 2 * frame, io + 5 * frame);
    let fa = sealed[a..a + frame].to_vec();
    t[a..a + frame].copy_from_slice(&sealed[b..b + frame]);
    t[b..b + frame].copy_from_slice(&fa);
    let e = err(&t, &vk, VerifyOptions::default());
    assert!(
        matches!(e, SealError::ChunkMismatch { chunk: 3, .. }),
        "{e}"
    );
    // The annotations changed after the frames.
    let mut t = sealed.clone();
    let at = t.len() - 16 - 2;
    t[at] ^= 1;
    let e = err(&t, &vk, VerifyOptions::default());
    assert!(matches!(e, SealError::TailChanged(_)), "{e}");
    // A seal of another image; too old.
    let e = err(
        &sealed,
        &vk,
        VerifyOptions {
            expect_sha256: Some([1; 32]),
            ..VerifyOptions::default()
        },
    );
    assert!(matches!(e, SealError::OtherImage(_)), "{e}");
    let ok = VerifyOptions {
        expect_sha256: report.plain_sha256,
        max_age: Some(std::time::Duration::from_secs(3600)),
        now: 1_800_000_000 + 60,
        ..VerifyOptions::default()
    };
    verify(&sealed[..], &vk, ok.clone()).unwrap();
    let e = err(
        &sealed,
        &vk,
        VerifyOptions {
            now: 1_800_000_000 + 7200,
            ..ok
        },
    );
    assert!(matches!(e, SealError::TooOld { .. }), "{e}");
    // An unknown seal version: its signature is not even looked at.
    let mut t = sealed.clone();
    t[80] = 9;
    let e = err(&t, &vk, VerifyOptions::default());
    assert!(matches!(e, SealError::UnknownVersion(9, 1, 0)), "{e}");
    // A plain image.
    let e = err(&plain, &vk, VerifyOptions::default());
    assert!(matches!(e, SealError::NotSealed(_)), "{e}");
}

#[test]
fn a_chunk_tampered_in_the_second_half_leaves_a_verified_prefix_and_names_its_record() {
    let plain = image(2, 256 << 10, 9);
    let ed = ed_key();
    let public = ed.public();
    let vk = VerifyingKey::Ed25519(&public);
    let sealed = sealed_with(&plain, &SealingKey::Ed25519(&ed), &small_chunks());
    let mut t = sealed.clone();
    let at = t.len() * 3 / 4;
    t[at] ^= 0xff;
    let (out, r) = unseal_all(&t, &vk);
    let e = r.unwrap_err();
    assert!(
        plain.starts_with(&out),
        "the output is not a prefix of the image"
    );
    assert!(out.len() < plain.len() && !out.is_empty());
    let SealError::ChunkMismatch { plain_offset, .. } = e else {
        panic!("{e}")
    };
    assert_eq!(plain_offset, out.len() as u64);
    // The record holding it, read from the verified prefix only.
    let rec = ckpt_seal::record_at(&out[..], plain_offset).expect("a record");
    assert!(rec.offset <= plain_offset);
    assert!(!rec.name.is_empty());
}

#[test]
fn a_pipe_output_and_a_pipe_input_give_the_same_sealed_bytes() {
    let plain = image(1, 32 << 10, 4);
    let s = secret();
    let opts = small_chunks();
    let key = SealingKey::Hmac(&s);
    let file = sealed_with(&plain, &key, &opts);
    let mut piped = Vec::new();
    seal(
        &mut Cursor::new(&plain),
        SealOutput::Stream(&mut piped),
        &key,
        &opts,
    )
    .unwrap();
    assert_eq!(piped, file);
    // Unsealing from a non-seekable reader that trickles.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(777).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let mut u = Unsealer::new(
        Trickle(&file),
        &VerifyingKey::Hmac(&s),
        VerifyOptions::default(),
    )
    .unwrap();
    let mut out = Vec::new();
    u.read_to_end(&mut out).unwrap();
    assert_eq!(out, plain);
    u.finish().unwrap();
}

#[test]
fn a_detached_seal_verifies_its_own_image_only() {
    let plain = image(1, 16 << 10, 1);
    let other = image(1, 16 << 10, 2);
    let ed = ed_key();
    let public = ed.public();
    let vk = VerifyingKey::Ed25519(&public);
    let mut out = Cursor::new(Vec::new());
    let summary = seal(
        &mut Cursor::new(&plain),
        SealOutput::Seekable(&mut out),
        &SealingKey::Ed25519(&ed),
        &SealOptions::default(),
    )
    .unwrap();
    let sealed = out.into_inner();
    let with = |d: &[u8]| VerifyOptions {
        detached: Some(d.to_vec()),
        ..VerifyOptions::default()
    };
    verify(&sealed[..], &vk, with(&summary.section)).unwrap();
    let other_sealed = sealed_with(&other, &SealingKey::Ed25519(&ed), &SealOptions::default());
    let e = verify(&other_sealed[..], &vk, with(&summary.section)).unwrap_err();
    assert!(e.is_invalid_seal(), "{e}");
}

mod identity {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn seal_then_unseal_is_the_identity_on_every_revision_and_arch(
            pick in any::<u64>(), seed in any::<u64>(), chunk in 1u64..20_000, hmac in any::<bool>(),
            encrypt in any::<bool>()
        ) {
            let all: Vec<(&'static ckpt_format::Schema, ckpt_format::Arch)> = Registry::get()
                .all()
                .iter()
                .flat_map(|s| s.arches.iter().map(move |(a, _)| (*s, *a)))
                .collect();
            let (schema, arch) = all[(pick % all.len() as u64) as usize];
            let f = Format::new(schema, arch);
            let mut plain = Vec::new();
            build(&f, &BuildOptions { tasks: 1, memory: 8 << 10, seed, ..BuildOptions::default() }, &mut plain).unwrap();
            let (ed, s) = (ed_key(), secret());
            let public = ed.public();
            let [a, b] = both_forms(&ed, &public, &s);
            let (sk, vk) = if hmac { b } else { a };
            let id = std::sync::Arc::new(x_key());
            let opts = SealOptions {
                chunk_size: Some(chunk),
                recipient: encrypt.then(|| id.public()),
                ..SealOptions::default()
            };
            let sealed = sealed_with(&plain, &sk, &opts);
            let (out, r) = unseal_with(&sealed, &vk, identity(&id));
            prop_assert!(r.is_ok(), "{}", r.unwrap_err());
            prop_assert_eq!(out, plain);
        }
    }

    #[test]
    fn every_revision_and_arch_seals_and_unseals_signed_and_encrypted() {
        let (ed, public) = (ed_key(), ed_key().public());
        for schema in Registry::get().all() {
            for (arch, _) in &schema.arches {
                let f = Format::new(schema, *arch);
                let mut plain = Vec::new();
                build(
                    &f,
                    &BuildOptions {
                        tasks: 1,
                        memory: 4 << 10,
                        ..BuildOptions::default()
                    },
                    &mut plain,
                )
                .unwrap();
                let id = std::sync::Arc::new(x_key());
                for recipient in [None, Some(id.public())] {
                    let opts = SealOptions {
                        recipient,
                        ..SealOptions::default()
                    };
                    let sealed = sealed_with(&plain, &SealingKey::Ed25519(&ed), &opts);
                    let (out, r) =
                        unseal_with(&sealed, &VerifyingKey::Ed25519(&public), identity(&id));
                    r.unwrap_or_else(|e| panic!("{} {arch}: {e}", schema.id));
                    assert_eq!(out, plain, "{} {arch}", schema.id);
                }
            }
        }
    }
}

#[test]
fn an_encrypted_seal_hides_the_image_and_opens_for_its_identity_only() {
    let plain = image(2, 64 << 10, 8);
    let ed = ed_key();
    let public = ed.public();
    let vk = VerifyingKey::Ed25519(&public);
    let id = std::sync::Arc::new(x_key());
    let opts = SealOptions {
        recipient: Some(id.public()),
        ..small_chunks()
    };
    let sealed = sealed_with(&plain, &SealingKey::Ed25519(&ed), &opts);
    // Nothing of the plain image is in clear: no 16-byte window of its first chunk, and
    // the clear seal header names no revision or arch.
    let head = &plain[..4096];
    let varied = |w: &&[u8]| w.iter().collect::<std::collections::BTreeSet<_>>().len() >= 8;
    for w in head.windows(16).step_by(16).filter(varied) {
        assert!(
            !sealed.windows(16).any(|s| s == w),
            "plain bytes in clear: {w:02x?}"
        );
    }
    let info = ckpt_seal::read_seal(&mut &sealed[..], None).unwrap();
    assert!(info.encrypted());
    assert_eq!((info.header.revision, info.header.arch), (0, 0));
    // Without the identity: the ciphertext verifies, no plain byte is given out.
    let report = verify(&sealed[..], &vk, VerifyOptions::default()).unwrap();
    assert_eq!(report.plain_sha256, None);
    let mut u = Unsealer::new(&sealed[..], &vk, VerifyOptions::default()).unwrap();
    assert!(matches!(u.next_chunk(), Err(SealError::NeedsIdentity(_))));
    let e = Unsealer::new(
        &sealed[..],
        &vk,
        VerifyOptions {
            expect_sha256: Some([0; 32]),
            ..VerifyOptions::default()
        },
    )
    .err()
    .unwrap();
    assert!(matches!(e, SealError::NeedsIdentity(_)), "{e}");
    assert!(ckpt_seal::Unframed::open(&sealed[..]).is_err());
    // With it: the plain image, and its SHA-256 checked.
    let report = verify(&sealed[..], &vk, identity(&id)).unwrap();
    let sha: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&plain).into();
    assert_eq!(report.plain_sha256, Some(sha));
    // Another identity (an X25519 key that is not the recipient): its own error.
    let other = std::sync::Arc::new(PrivateKey::from_secret(KeyKind::X25519, [10; 32]));
    let e = Unsealer::new(&sealed[..], &vk, identity(&other))
        .err()
        .unwrap();
    assert!(matches!(e, SealError::WrongIdentity { .. }), "{e}");
    assert!(e.to_string().starts_with("wrong identity"), "{e}");
    // Tampered in its second half: a verified, decrypted prefix, then an error.
    let mut t = sealed.clone();
    let at = sealed.len() * 3 / 4;
    t[at] ^= 0x40;
    let (out, r) = unseal_with(&t, &vk, identity(&id));
    assert!(r.is_err());
    assert!(!out.is_empty() && out.len() < plain.len() && plain.starts_with(&out));
    // The encryption section changed (its wrapped key): refused before any chunk.
    let enc_at = 64 + 16 + 256 + 16 + 88;
    let mut t = sealed.clone();
    t[enc_at] ^= 1;
    let (out, r) = unseal_with(&t, &vk, identity(&id));
    assert!(out.is_empty());
    assert!(matches!(r, Err(SealError::BadSignature(_))), "{r:?}");
}
