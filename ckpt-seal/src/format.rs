//! The seal's bytes (`schemas/seal.md`): the seal section's body, declared with binrw
//! derives, and the arithmetic of the frames (chunk counts, lengths, offsets).
//!
//! Every integer is in the container's byte order. The body's length is checked against
//! [`MAX_SEAL_BODY`] and the signature's against [`MAX_SIGNATURE`] before anything is
//! allocated for them.

use std::io::Cursor;

use binrw::{BinRead, BinWrite, binrw};
use ckpt_format::Endian;

use crate::error::SealError;

/// The seal format this code reads and writes: (major, minor, patch).
pub const SEAL_VERSION: (u16, u16, u16) = (1, 1, 0);
/// The chunk size ckpt seals with, and the largest a verifier accepts (1 MiB): a
/// verifier's memory is one frame of at most this much and its 32-byte hash.
pub const CHUNK_SIZE: u64 = 1 << 20;
/// Bytes of a chunk hash (SHA-256).
pub const HASH_LEN: u64 = 32;
/// The longest signature of any algorithm (Ed25519 and ECDSA P-256 r‖s: 64 bytes).
pub const MAX_SIGNATURE: u16 = 64;
/// Bytes of the body before its signature: what the signature covers (with the
/// container's prefix, the section header and a domain string).
pub const SIGNED_LEN: usize = 192;
/// The longest seal body a reader accepts.
pub const MAX_SEAL_BODY: u64 = SIGNED_LEN as u64 + MAX_SIGNATURE as u64;
/// Seal flag (1.1): the payload is encrypted (the encryption section, kind 3, follows
/// the seal section).
pub const SEAL_FLAG_ENCRYPTED: u32 = 1;
/// Seal flag, reserved for a later ckpt: the key is held in a TPM.
pub const SEAL_FLAG_TPM: u32 = 2;

/// What signs a seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Ed25519 (RFC 8032), a public key verifies it.
    Ed25519,
    /// HMAC-SHA256 under a shared secret.
    HmacSha256,
    /// ECDSA P-256 with SHA-256, signed in a TPM (reserved for a later ckpt).
    EcdsaP256Sha256,
}

impl Algorithm {
    /// Its id in the seal header.
    pub fn id(self) -> u16 {
        match self {
            Algorithm::Ed25519 => 1,
            Algorithm::HmacSha256 => 2,
            Algorithm::EcdsaP256Sha256 => 3,
        }
    }

    /// The algorithm of id `id`.
    pub fn of_id(id: u16) -> Option<Algorithm> {
        [
            Algorithm::Ed25519,
            Algorithm::HmacSha256,
            Algorithm::EcdsaP256Sha256,
        ]
        .into_iter()
        .find(|a| a.id() == id)
    }

    /// Its name, as `info` and messages give it.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "Ed25519",
            Algorithm::HmacSha256 => "HMAC-SHA256",
            Algorithm::EcdsaP256Sha256 => "ECDSA-P256-SHA256",
        }
    }

    /// The length of its signatures.
    pub fn signature_len(self) -> u16 {
        match self {
            Algorithm::HmacSha256 => 32,
            Algorithm::Ed25519 | Algorithm::EcdsaP256Sha256 => 64,
        }
    }
}

/// The body of the seal section (container section kind 2), before the image.
#[binrw]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealHeader {
    /// Seal format version, major.
    pub major: u16,
    /// Seal format version, minor.
    pub minor: u16,
    /// Seal format version, patch.
    pub patch: u16,
    /// [`Algorithm::id`].
    pub algorithm: u16,
    /// [`SEAL_FLAG_ENCRYPTED`], [`SEAL_FLAG_TPM`]; zero in what this ckpt writes.
    pub flags: u32,
    /// Zero.
    pub reserved: u32,
    /// SHA-256 of the signing key's SPKI DER; zero for HMAC (a secret has no public
    /// fingerprint that would not let a guess be tested).
    pub key_fingerprint: [u8; 32],
    /// When the image was sealed, in seconds since 1970-01-01 UTC.
    pub created_at: u64,
    /// Bytes of the plain image.
    pub image_len: u64,
    /// Bytes of every chunk but the last (at most [`CHUNK_SIZE`]).
    pub chunk_size: u64,
    /// Number of chunks (one for an empty image).
    pub chunk_count: u64,
    /// The image's `rev` (CHECKPOINT_VERSION), as its HEADER gives it (zero when
    /// encrypted, in a later ckpt).
    pub revision: u32,
    /// The image's `arch_id`, as its HEADER gives it (zero when encrypted).
    pub arch: u32,
    /// SHA-256 of the encryption section's body; zero when not encrypted.
    pub encryption_sha256: [u8; 32],
    /// SHA-256 of the container's bytes after the frames: its sections (annotations) and
    /// its footer.
    pub tail_sha256: [u8; 32],
    /// h_1, the first link of the hash chain.
    pub first_hash: [u8; 32],
    /// Bytes of the signature.
    #[br(assert(signature_len <= MAX_SIGNATURE, "a signature of {} bytes (at most {})", signature_len, MAX_SIGNATURE))]
    #[bw(calc = signature.len() as u16)]
    pub signature_len: u16,
    /// Zero.
    pub reserved2: u16,
    /// Zero.
    pub reserved3: u32,
    /// The signature (Ed25519 64 bytes, HMAC 32, ECDSA r‖s 64).
    #[br(count = signature_len)]
    pub signature: Vec<u8>,
}

/// binrw's name of a byte order.
pub(crate) fn binrw_endian(e: Endian) -> binrw::Endian {
    match e {
        Endian::Little => binrw::Endian::Little,
        Endian::Big => binrw::Endian::Big,
    }
}

impl SealHeader {
    /// The body as bytes in byte order `endian`.
    pub fn to_bytes(&self, endian: Endian) -> Vec<u8> {
        let mut c = Cursor::new(Vec::new());
        self.write_options(&mut c, binrw_endian(endian), ())
            .expect("writing to memory does not fail");
        c.into_inner()
    }

    /// Reads a body of exactly `body.len()` bytes (at `offset` in the container).
    pub fn parse(body: &[u8], endian: Endian, offset: u64) -> Result<SealHeader, SealError> {
        if body.len() as u64 > MAX_SEAL_BODY || body.len() < SIGNED_LEN {
            return Err(SealError::Damaged {
                offset,
                what: format!(
                    "a seal section of {} bytes ({SIGNED_LEN} to {MAX_SEAL_BODY} were expected)",
                    body.len()
                ),
            });
        }
        let mut c = Cursor::new(body);
        let h = SealHeader::read_options(&mut c, binrw_endian(endian), ()).map_err(|e| {
            SealError::Damaged {
                offset,
                what: format!("a seal section that does not read: {}", plain_binrw(&e)),
            }
        })?;
        if c.position() != body.len() as u64 {
            return Err(SealError::Damaged {
                offset,
                what: format!(
                    "a seal section of {} bytes, whose fields take {}",
                    body.len(),
                    c.position()
                ),
            });
        }
        Ok(h)
    }

    /// The algorithm, when this ckpt knows it.
    pub fn algorithm(&self) -> Option<Algorithm> {
        Algorithm::of_id(self.algorithm)
    }
}

/// A binrw error without its backtrace frames: the first line.
fn plain_binrw(e: &binrw::Error) -> String {
    match e {
        binrw::Error::AssertFail { message, .. } => message.clone(),
        e => e.to_string().lines().next().unwrap_or("").to_string(),
    }
}

/// The number of chunks of an image of `image_len` bytes: at least one.
pub fn chunk_count(image_len: u64, chunk_size: u64) -> u64 {
    image_len.div_ceil(chunk_size).max(1)
}

/// The length of chunk `i` (1-based) of `n`.
pub fn chunk_len(i: u64, n: u64, image_len: u64, chunk_size: u64) -> u64 {
    if i < n {
        chunk_size
    } else {
        image_len - (n - 1) * chunk_size
    }
}

/// Bytes of the frames of an image of `image_len` bytes: the chunks, each grown by
/// `tag` bytes (an AEAD's tag when encrypted, else 0), and a hash after each. None when
/// it overflows.
pub fn framed_len(image_len: u64, chunk_size: u64, tag: u64) -> Option<u64> {
    chunk_count(image_len, chunk_size)
        .checked_mul(HASH_LEN + tag)?
        .checked_add(image_len)
}

/// Where frame `i` (1-based) starts, counted from the start of the frames, when each
/// chunk is grown by `tag` bytes.
pub fn frame_offset(i: u64, chunk_size: u64, tag: u64) -> u64 {
    (i - 1) * (chunk_size + tag + HASH_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> SealHeader {
        SealHeader {
            major: 1,
            minor: 1,
            patch: 0,
            algorithm: 1,
            flags: 0,
            reserved: 0,
            key_fingerprint: [7; 32],
            created_at: 1_800_000_000,
            image_len: 3 << 20,
            chunk_size: CHUNK_SIZE,
            chunk_count: 3,
            revision: 5,
            arch: 3,
            encryption_sha256: [0; 32],
            tail_sha256: [1; 32],
            first_hash: [2; 32],
            reserved2: 0,
            reserved3: 0,
            signature: vec![9; 64],
        }
    }

    #[test]
    fn the_body_reads_back_in_both_byte_orders_and_its_size_is_fixed() {
        for endian in [Endian::Little, Endian::Big] {
            let b = header().to_bytes(endian);
            assert_eq!(b.len(), SIGNED_LEN + 64);
            assert_eq!(SealHeader::parse(&b, endian, 80).unwrap(), header());
        }
    }

    #[test]
    fn lengths_are_checked_before_allocation() {
        let mut b = header().to_bytes(Endian::Little);
        // signature_len at SIGNED_LEN - 8.
        b[SIGNED_LEN - 8..SIGNED_LEN - 6].copy_from_slice(&65535u16.to_le_bytes());
        let e = SealHeader::parse(&b, Endian::Little, 80).unwrap_err();
        assert!(e.to_string().contains("a signature of 65535 bytes"), "{e}");
        let e = SealHeader::parse(&[0; 10], Endian::Little, 80).unwrap_err();
        assert!(e.to_string().contains("a seal section of 10 bytes"), "{e}");
        let long = vec![0u8; 100_000];
        assert!(SealHeader::parse(&long, Endian::Little, 80).is_err());
    }

    #[test]
    fn frames_add_a_hash_to_every_chunk() {
        assert_eq!(chunk_count(0, CHUNK_SIZE), 1);
        assert_eq!(chunk_count(CHUNK_SIZE, CHUNK_SIZE), 1);
        assert_eq!(chunk_count(CHUNK_SIZE + 1, CHUNK_SIZE), 2);
        assert_eq!(chunk_len(2, 2, CHUNK_SIZE + 1, CHUNK_SIZE), 1);
        assert_eq!(chunk_len(1, 1, 0, CHUNK_SIZE), 0);
        assert_eq!(
            framed_len(CHUNK_SIZE + 1, CHUNK_SIZE, 0),
            Some(CHUNK_SIZE + 1 + 64)
        );
        assert_eq!(
            framed_len(CHUNK_SIZE + 1, CHUNK_SIZE, 16),
            Some(CHUNK_SIZE + 1 + 96)
        );
        assert_eq!(frame_offset(3, 100, 0), 264);
        assert_eq!(frame_offset(3, 100, 16), 296);
        assert_eq!(framed_len(u64::MAX, 1, 0), None);
    }
}
