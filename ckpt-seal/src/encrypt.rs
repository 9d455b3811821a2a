//! Encryption of a seal's payload (`schemas/seal.md`, "Encryption"): a fresh 32-byte data
//! key, wrapped for an X25519 recipient (an ephemeral X25519 key, HKDF-SHA256, the data
//! key sealed under ChaCha20-Poly1305), and the plain image encrypted chunk by chunk in
//! the STREAM construction (`aead-stream`'s `StreamBE32`: a 7-byte random nonce prefix,
//! the chunk's 32-bit big-endian position and a last-chunk byte in each 12-byte nonce)
//! over ChaCha20-Poly1305. The encryption section (container section kind 3) holds
//! everything but the key; the seal signs its SHA-256.

use std::io::Cursor;

use aead::{Aead, KeyInit, Payload};
use aead_stream::{NewStream, StreamBE32, StreamPrimitive};
use binrw::{BinRead, BinWrite, binrw};
use chacha20poly1305::ChaCha20Poly1305;
use ckpt_format::Endian;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::SealError;
use crate::format::binrw_endian;
use crate::keys::{KeyError, KeyKind, PrivateKey, PublicKey};

/// Bytes an AEAD adds to every chunk (the Poly1305 tag).
pub const TAG_LEN: u64 = 16;
/// AEAD id of ChaCha20-Poly1305 (id 1 is reserved for AES-256-GCM).
pub const AEAD_CHACHA20_POLY1305: u16 = 2;
/// Wrap id: the data key wrapped for an X25519 recipient (id 2 is reserved for a TPM).
pub const WRAP_X25519: u16 = 1;
/// Bytes of the X25519-wrapped data key: 32 and its tag.
pub const WRAPPED_LEN: u16 = 48;
/// The longest wrapped key a reader accepts (checked before it is allocated).
pub const MAX_WRAPPED: u16 = 1024;
/// The most chunks STREAM's 32-bit counter numbers (4 PiB in 1 MiB chunks).
pub const MAX_CHUNKS: u64 = u32::MAX as u64;

/// HKDF's info string for the key-wrapping key.
const WRAP_INFO: &[u8] = b"ckpt-seal-wrap-v1";
/// The domain string of every chunk's associated data.
const CHUNK_AAD: &[u8] = b"ckpt-seal-stream-v1\0";

/// The body of the encryption section (container section kind 3), after the seal.
#[binrw]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionHeader {
    /// The AEAD: [`AEAD_CHACHA20_POLY1305`].
    pub aead: u16,
    /// How the data key is wrapped: [`WRAP_X25519`].
    pub wrap: u16,
    /// Zero.
    pub reserved: u32,
    /// The STREAM nonce prefix (7 random bytes) and a zero byte.
    pub nonce_prefix: [u8; 8],
    /// SHA-256 of the recipient's SPKI DER (as `ckpt keygen` prints it).
    pub recipient_fingerprint: [u8; 32],
    /// The ephemeral X25519 public key of the wrap.
    pub ephemeral: [u8; 32],
    /// Bytes of the wrapped key.
    #[br(assert(wrapped_len <= MAX_WRAPPED, "a wrapped key of {} bytes (at most {})", wrapped_len, MAX_WRAPPED))]
    #[bw(calc = wrapped.len() as u16)]
    pub wrapped_len: u16,
    /// Zero.
    pub reserved2: u16,
    /// Zero.
    pub reserved3: u32,
    /// The data key under the key-wrapping key (ChaCha20-Poly1305, nonce zero: the
    /// wrapping key is used once).
    #[br(count = wrapped_len)]
    pub wrapped: Vec<u8>,
}

/// The fixed part of [`EncryptionHeader`], before the wrapped key.
pub const ENCRYPTION_FIXED_LEN: u64 = 88;

impl EncryptionHeader {
    /// The body as bytes in byte order `endian`.
    pub fn to_bytes(&self, endian: Endian) -> Vec<u8> {
        let mut c = Cursor::new(Vec::new());
        self.write_options(&mut c, binrw_endian(endian), ())
            .expect("writing to memory does not fail");
        c.into_inner()
    }

    /// Reads a body of exactly `body.len()` bytes (at `offset` in the container).
    pub fn parse(body: &[u8], endian: Endian, offset: u64) -> Result<EncryptionHeader, SealError> {
        let damaged = |what: String| SealError::Damaged { offset, what };
        if (body.len() as u64) < ENCRYPTION_FIXED_LEN
            || body.len() as u64 > ENCRYPTION_FIXED_LEN + MAX_WRAPPED as u64
        {
            return Err(damaged(format!(
                "an encryption section of {} bytes ({ENCRYPTION_FIXED_LEN} to {} were expected)",
                body.len(),
                ENCRYPTION_FIXED_LEN + MAX_WRAPPED as u64
            )));
        }
        let mut c = Cursor::new(body);
        let h = EncryptionHeader::read_options(&mut c, binrw_endian(endian), ())
            .map_err(|_| damaged("an encryption section that does not read".into()))?;
        if c.position() != body.len() as u64 {
            return Err(damaged(format!(
                "an encryption section of {} bytes, whose fields take {}",
                body.len(),
                c.position()
            )));
        }
        Ok(h)
    }

    /// The AEAD's name, as `info` gives it.
    pub fn aead_name(&self) -> &'static str {
        match self.aead {
            AEAD_CHACHA20_POLY1305 => "ChaCha20-Poly1305 STREAM",
            _ => "an unknown AEAD",
        }
    }

    /// The recipient's fingerprint, `SHA256:` and hex.
    pub fn recipient(&self) -> String {
        format!("SHA256:{}", hex::encode(self.recipient_fingerprint))
    }

    /// Refuses what this ckpt does not decrypt.
    pub fn check_known(&self, offset: u64) -> Result<(), SealError> {
        if self.aead != AEAD_CHACHA20_POLY1305 {
            return Err(SealError::Unsupported(
                "is encrypted with an AEAD of a later ckpt",
            ));
        }
        if self.wrap != WRAP_X25519 {
            return Err(SealError::Unsupported(
                "has its key wrapped by a later ckpt",
            ));
        }
        if self.nonce_prefix[7] != 0
            || self.reserved != 0
            || self.reserved2 != 0
            || self.reserved3 != 0
            || self.wrapped.len() != WRAPPED_LEN as usize
        {
            return Err(SealError::Damaged {
                offset,
                what: "an encryption section with reserved bytes set, or a wrapped key not of \
                       48 bytes"
                    .into(),
            });
        }
        Ok(())
    }
}

/// A 32-byte data key, zeroed when dropped.
pub struct DataKey(Zeroizing<[u8; 32]>);

fn random<const N: usize>() -> Result<Zeroizing<[u8; N]>, SealError> {
    let mut b = Zeroizing::new([0u8; N]);
    getrandom::fill(b.as_mut()).map_err(|e| SealError::Key(KeyError::Random(e.to_string())))?;
    Ok(b)
}

/// The key-wrapping key: HKDF-SHA256(salt = ephemeral ‖ recipient, ikm = the shared
/// secret, info = "ckpt-seal-wrap-v1"). None when the shared secret is all zero (a
/// recipient key of low order).
fn wrapping_key(
    shared: &x25519_dalek::SharedSecret,
    ephemeral: &[u8; 32],
    recipient: &[u8; 32],
) -> Option<Zeroizing<[u8; 32]>> {
    if !shared.was_contributory() {
        return None;
    }
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(ephemeral);
    salt[32..].copy_from_slice(recipient);
    let hk = hkdf::Hkdf::<Sha256>::new(Some(&salt), shared.as_bytes());
    let mut okm = Zeroizing::new([0u8; 32]);
    hk.expand(WRAP_INFO, okm.as_mut()).ok()?;
    Some(okm)
}

/// What the wrap's AEAD binds besides the key: the section's fixed fields that say how
/// the payload is encrypted.
fn wrap_aad(h: &EncryptionHeader) -> Vec<u8> {
    let mut a = b"ckpt-seal-wrap-v1\0".to_vec();
    a.extend(h.aead.to_le_bytes());
    a.extend(h.wrap.to_le_bytes());
    a.extend(h.nonce_prefix);
    a.extend(h.recipient_fingerprint);
    a
}

/// A fresh data key and its encryption section, the key wrapped for `recipient` (an
/// X25519 public key).
pub fn wrap_for(recipient: &PublicKey) -> Result<(EncryptionHeader, DataKey), SealError> {
    recipient.expect(KeyKind::X25519)?;
    let key = DataKey(random::<32>()?);
    let eph_secret = x25519_dalek::StaticSecret::from(*random::<32>()?);
    let eph = x25519_dalek::PublicKey::from(&eph_secret).to_bytes();
    let shared = eph_secret.diffie_hellman(&x25519_dalek::PublicKey::from(recipient.bytes));
    let kek = wrapping_key(&shared, &eph, &recipient.bytes).ok_or(SealError::Key(
        KeyError::Encode("an X25519 recipient key of low order (not a usable key)".into()),
    ))?;
    let mut nonce_prefix = [0u8; 8];
    nonce_prefix[..7].copy_from_slice(&random::<7>()?[..]);
    let mut h = EncryptionHeader {
        aead: AEAD_CHACHA20_POLY1305,
        wrap: WRAP_X25519,
        reserved: 0,
        nonce_prefix,
        recipient_fingerprint: recipient.fingerprint_bytes(),
        ephemeral: eph,
        reserved2: 0,
        reserved3: 0,
        wrapped: Vec::new(),
    };
    let aad = wrap_aad(&h);
    h.wrapped = ChaCha20Poly1305::new((&*kek).into())
        .encrypt(
            &Default::default(),
            Payload {
                msg: key.0.as_ref(),
                aad: &aad,
            },
        )
        .map_err(|_| SealError::Key(KeyError::Encode("wrapping the data key failed".into())))?;
    Ok((h, key))
}

/// The data key of `h`, unwrapped with the X25519 private key `identity`.
pub fn unwrap_with(h: &EncryptionHeader, identity: &PrivateKey) -> Result<DataKey, SealError> {
    identity.public().expect(KeyKind::X25519)?;
    let public = identity.public();
    let wrong = || SealError::WrongIdentity {
        sealed_for: h.recipient(),
        given: public.fingerprint(),
    };
    if public.fingerprint_bytes() != h.recipient_fingerprint {
        return Err(wrong());
    }
    let secret = x25519_dalek::StaticSecret::from(*identity.secret());
    let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(h.ephemeral));
    let kek = wrapping_key(&shared, &h.ephemeral, &public.bytes).ok_or_else(wrong)?;
    let key = Zeroizing::new(
        ChaCha20Poly1305::new((&*kek).into())
            .decrypt(
                &Default::default(),
                Payload {
                    msg: &h.wrapped,
                    aad: &wrap_aad(h),
                },
            )
            .map_err(|_| wrong())?,
    );
    let key: [u8; 32] = key.as_slice().try_into().map_err(|_| wrong())?;
    Ok(DataKey(Zeroizing::new(key)))
}

/// The payload's cipher: STREAM (big-endian 32-bit position, last-chunk flag) over
/// ChaCha20-Poly1305 under a data key, each chunk's associated data binding the
/// encryption section.
pub struct Cipher {
    stream: StreamBE32<ChaCha20Poly1305>,
    aad: Vec<u8>,
}

impl Cipher {
    /// The cipher of `key` for the section `h` (as `body`, its bytes on disk).
    pub fn new(key: &DataKey, h: &EncryptionHeader, body: &[u8]) -> Cipher {
        let aead = ChaCha20Poly1305::new((&*key.0).into());
        let nonce = aead_stream::Nonce::<ChaCha20Poly1305, StreamBE32<ChaCha20Poly1305>>::try_from(
            &h.nonce_prefix[..7],
        )
        .expect("7 bytes");
        let mut aad = CHUNK_AAD.to_vec();
        aad.extend(Sha256::digest(body));
        Cipher {
            stream: StreamBE32::from_aead(aead, &nonce),
            aad,
        }
    }

    /// Encrypts chunk `index` (1-based) of `n` in place: `buf` grows by [`TAG_LEN`].
    pub fn encrypt(&self, index: u64, n: u64, buf: &mut Vec<u8>) -> Result<(), SealError> {
        self.stream
            .encrypt_in_place(position(index)?, index == n, &self.aad, buf)
            .map_err(|_| SealError::NotAnImage("a chunk that does not encrypt".into()))
    }

    /// Decrypts chunk `index` (1-based) of `n` in place: `buf` shrinks by [`TAG_LEN`].
    /// False when it does not open (another key, position or last flag).
    pub fn decrypt(&self, index: u64, n: u64, buf: &mut Vec<u8>) -> bool {
        position(index).is_ok_and(|p| {
            self.stream
                .decrypt_in_place(p, index == n, &self.aad, buf)
                .is_ok()
        })
    }
}

/// STREAM's position of chunk `index` (1-based).
fn position(index: u64) -> Result<u32, SealError> {
    u32::try_from(index - 1)
        .map_err(|_| SealError::NotAnImage(format!("more than {MAX_CHUNKS} chunks to encrypt")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_key_opens_for_its_recipient_only() {
        let alice = PrivateKey::from_secret(KeyKind::X25519, [3; 32]);
        let bob = PrivateKey::from_secret(KeyKind::X25519, [4; 32]);
        let (h, key) = wrap_for(&alice.public()).unwrap();
        assert_eq!(*unwrap_with(&h, &alice).unwrap().0, *key.0);
        let e = unwrap_with(&h, &bob).err().unwrap();
        assert!(e.to_string().contains("not for the key"), "{e}");
        // The fingerprint matches but the wrapped key was changed.
        let mut bad = h.clone();
        bad.wrapped[0] ^= 1;
        assert!(matches!(
            unwrap_with(&bad, &alice),
            Err(SealError::WrongIdentity { .. })
        ));
        let signing = PrivateKey::from_secret(KeyKind::Ed25519, [5; 32]);
        assert!(matches!(unwrap_with(&h, &signing), Err(SealError::Key(_))));
        assert!(wrap_for(&signing.public()).is_err());
    }

    #[test]
    fn the_section_reads_back_in_both_byte_orders() {
        let alice = PrivateKey::from_secret(KeyKind::X25519, [3; 32]);
        let (h, _) = wrap_for(&alice.public()).unwrap();
        for e in [Endian::Little, Endian::Big] {
            let b = h.to_bytes(e);
            assert_eq!(b.len() as u64, ENCRYPTION_FIXED_LEN + 48);
            assert_eq!(EncryptionHeader::parse(&b, e, 0).unwrap(), h);
        }
        assert!(EncryptionHeader::parse(&[0; 10], Endian::Little, 0).is_err());
        let mut b = h.to_bytes(Endian::Little);
        b[80..82].copy_from_slice(&60000u16.to_le_bytes());
        assert!(EncryptionHeader::parse(&b, Endian::Little, 0).is_err());
    }

    #[test]
    fn stream_chunks_open_only_at_their_position_and_last_flag() {
        let alice = PrivateKey::from_secret(KeyKind::X25519, [3; 32]);
        let (h, key) = wrap_for(&alice.public()).unwrap();
        let body = h.to_bytes(Endian::Little);
        let c = Cipher::new(&key, &h, &body);
        let mut b = b"chunk one".to_vec();
        c.encrypt(1, 2, &mut b).unwrap();
        assert_eq!(b.len(), 9 + TAG_LEN as usize);
        let ct = b.clone();
        // As chunk 2 (reordered) or as the last (truncated after it): refused.
        assert!(!c.decrypt(2, 2, &mut b.clone()));
        assert!(!c.decrypt(1, 1, &mut b.clone()));
        // Another section (another AAD): refused.
        let other = Cipher::new(&key, &h, b"other");
        assert!(!other.decrypt(1, 2, &mut b.clone()));
        assert!(c.decrypt(1, 2, &mut b));
        assert_eq!(b, b"chunk one");
        assert_ne!(ct[..9], b[..]);
    }
}
