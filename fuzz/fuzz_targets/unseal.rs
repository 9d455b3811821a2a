//! `ckpt_seal::verify` and `ckpt_seal::Unsealer` on sealed bytes an attacker changed:
//! never a panic, and never a byte given out that was not verified.
//!
//! A known image is sealed once with a fixed key (HMAC or Ed25519, or Ed25519 and
//! encrypted for a fixed X25519 identity, by the input's first byte modulo 3, in 4 KiB
//! chunks so that a small image has several); the encrypted form is unsealed with its
//! identity (decrypted bytes must be a prefix of the plain image too). The rest of the input edits
//! that sealed container: 6-byte records of (position u32le, xor byte, action), where
//! action bit 0 truncates at the position instead, bit 1 inserts the byte there. With a
//! first byte of 0xff the rest is read as sealed bytes of its own. Whatever the bytes,
//! everything `Unsealer` gives out must be a prefix of the plain image, and a successful
//! verification must give all of it.
//!
//! Input: selector byte, then edits (or raw sealed bytes).

#![no_main]

use std::io::Cursor;
use std::sync::OnceLock;

use ckpt_format::build::{BuildOptions, build};
use ckpt_format::{Arch, Format, Registry};
use ckpt_seal::keys::{KeyKind, PrivateKey};
use ckpt_seal::{SealOptions, SealOutput, SealingKey, Secret, Unsealer, VerifyOptions, VerifyingKey};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    plain: Vec<u8>,
    key: PrivateKey,
    secret: Secret,
    signed: Vec<u8>,
    macd: Vec<u8>,
    identity: std::sync::Arc<PrivateKey>,
    encrypted: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let format = Format::new(Registry::get().newest(), Arch::X86_64);
        let opts = BuildOptions {
            tasks: 1,
            memory: 8 << 10,
            ..BuildOptions::default()
        };
        let mut plain = Vec::new();
        build(&format, &opts, &mut plain).expect("the builder builds");
        let key = PrivateKey::from_secret(KeyKind::Ed25519, [7; 32]);
        let secret = Secret::new(vec![0x5a; 32]).expect("32 bytes");
        let seal_opts = SealOptions {
            chunk_size: Some(4096),
            ..SealOptions::default()
        };
        let identity = std::sync::Arc::new(PrivateKey::from_secret(KeyKind::X25519, [9; 32]));
        let sealed = |k: &SealingKey<'_>, o: &SealOptions| {
            let mut out = Cursor::new(Vec::new());
            ckpt_seal::seal(&mut Cursor::new(&plain), SealOutput::Seekable(&mut out), k, o)
                .expect("sealing a built image");
            out.into_inner()
        };
        let signed = sealed(&SealingKey::Ed25519(&key), &seal_opts);
        let macd = sealed(&SealingKey::Hmac(&secret), &seal_opts);
        let enc_opts = SealOptions { recipient: Some(identity.public()), ..seal_opts.clone() };
        let encrypted = sealed(&SealingKey::Ed25519(&key), &enc_opts);
        Fixture { plain, key, secret, signed, macd, identity, encrypted }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let public = f.key.public();
    let (base, key, opts) = match selector % 3 {
        0 => (&f.signed, VerifyingKey::Ed25519(&public), VerifyOptions::default()),
        1 => (&f.macd, VerifyingKey::Hmac(&f.secret), VerifyOptions::default()),
        _ => (
            &f.encrypted,
            VerifyingKey::Ed25519(&public),
            VerifyOptions { identity: Some(f.identity.clone()), ..VerifyOptions::default() },
        ),
    };
    let mut bytes = base.clone();
    if selector == 0xff {
        bytes = rest.to_vec();
    } else {
        for e in rest.chunks_exact(6) {
            let pos = u32::from_le_bytes([e[0], e[1], e[2], e[3]]) as usize % (bytes.len() + 1);
            match e[5] & 3 {
                0 if pos < bytes.len() => bytes[pos] ^= e[4].max(1),
                1 => bytes.truncate(pos),
                2 => bytes.insert(pos, e[4]),
                _ => {}
            }
        }
    }
    let unchanged = bytes == *base;
    let mut given = Vec::new();
    let verified = match Unsealer::new(&bytes[..], &key, opts.clone()) {
        Err(_) => false,
        Ok(mut u) => loop {
            match u.next_chunk() {
                Ok(Some(c)) => given.extend_from_slice(c),
                Ok(None) => break u.finish().is_ok(),
                Err(_) => break false,
            }
        },
    };
    assert!(f.plain.starts_with(&given), "a byte was given out that was not verified");
    if verified {
        assert_eq!(given, f.plain, "a valid seal gives the whole image");
    }
    if unchanged {
        assert!(verified, "the sealed image as written verifies");
    }
    assert_eq!(
        ckpt_seal::verify(&bytes[..], &key, opts).is_ok(),
        verified
    );
    // Without the identity an encrypted seal verifies (its ciphertext) as well or not.
    if selector % 3 == 2 {
        assert_eq!(
            ckpt_seal::verify(&bytes[..], &key, VerifyOptions::default()).is_ok(),
            verified
        );
    }
});
