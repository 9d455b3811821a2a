//! The backward hash chain and the signed message (`schemas/seal.md`, Construction).
//!
//! `h_{n+1}` is 32 zero bytes; `h_i = SHA-256("ckpt-seal-chunk\0" ‖ u64le i ‖ u64le len_i ‖
//! chunk_i ‖ h_{i+1})`; frame i on disk is `chunk_i ‖ h_{i+1}`. The signature is over
//! `SHA-256("ckpt-seal-v1\0" ‖ prefix ‖ seal section header ‖ seal body up to the
//! signature)`, and the body holds `h_1`.

use sha2::{Digest, Sha256};

/// The domain string of a chunk hash.
const CHUNK_DOMAIN: &[u8] = b"ckpt-seal-chunk\0";
/// The domain string of the signed message.
const SEAL_DOMAIN: &[u8] = b"ckpt-seal-v1\0";

/// A link of the chain: 32 bytes of SHA-256.
pub type Link = [u8; 32];

/// The link after the last chunk.
pub const END: Link = [0; 32];

/// `h_i` of chunk `index` (1-based) whose next link is `next`.
pub fn chunk_hash(index: u64, chunk: &[u8], next: &Link) -> Link {
    let mut h = Sha256::new();
    h.update(CHUNK_DOMAIN);
    h.update(index.to_le_bytes());
    h.update((chunk.len() as u64).to_le_bytes());
    h.update(chunk);
    h.update(next);
    h.finalize().into()
}

/// The digest the key signs: the container's prefix, the seal section's header and the
/// seal body up to its signature, as they are on disk.
pub fn signed_digest(prefix: &[u8], section_header: &[u8], signed_body: &[u8]) -> Link {
    let mut h = Sha256::new();
    h.update(SEAL_DOMAIN);
    h.update(prefix);
    h.update(section_header);
    h.update(signed_body);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_depends_on_the_index_the_bytes_and_the_next_link() {
        let a = chunk_hash(1, b"abc", &END);
        assert_ne!(a, chunk_hash(2, b"abc", &END));
        assert_ne!(a, chunk_hash(1, b"abd", &END));
        assert_ne!(a, chunk_hash(1, b"abc", &[1; 32]));
        assert_eq!(a, chunk_hash(1, b"abc", &END));
        // The length is hashed: a chunk and the next link cannot trade bytes.
        assert_ne!(chunk_hash(1, b"", &END), chunk_hash(1, &[0; 32], &[0; 32]));
    }
}
