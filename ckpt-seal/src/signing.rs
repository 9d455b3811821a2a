//! What seals and what verifies: an Ed25519 key pair, or an HMAC-SHA256 secret.

use ed25519_dalek::{Signer, Verifier};
use hmac::{KeyInit, Mac};
use zeroize::Zeroizing;

use crate::error::SealError;
use crate::format::Algorithm;
use crate::keys::{KeyKind, PrivateKey, PublicKey};

/// The shortest HMAC secret ckpt accepts (bytes): as many as the hash gives.
pub const MIN_SECRET: usize = 32;

/// A shared secret for HMAC-SHA256 seals: raw bytes, at least [`MIN_SECRET`].
pub struct Secret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for Secret {
    // The secret is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

impl Secret {
    /// The secret `bytes`; fewer than [`MIN_SECRET`] are refused.
    pub fn new(bytes: Vec<u8>) -> Result<Secret, SealError> {
        let bytes = Zeroizing::new(bytes);
        if bytes.len() < MIN_SECRET {
            return Err(SealError::ShortSecret { len: bytes.len() });
        }
        Ok(Secret(bytes))
    }

    fn mac(&self, digest: &[u8]) -> hmac::Hmac<sha2::Sha256> {
        let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any length");
        m.update(digest);
        m
    }
}

/// What seals an image.
#[derive(Debug)]
pub enum SealingKey<'a> {
    /// An Ed25519 private key.
    Ed25519(&'a PrivateKey),
    /// An HMAC-SHA256 secret.
    Hmac(&'a Secret),
}

/// What verifies a seal.
#[derive(Debug)]
pub enum VerifyingKey<'a> {
    /// An Ed25519 public key.
    Ed25519(&'a PublicKey),
    /// The HMAC-SHA256 secret it was sealed with.
    Hmac(&'a Secret),
}

impl SealingKey<'_> {
    /// Its algorithm.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            SealingKey::Ed25519(_) => Algorithm::Ed25519,
            SealingKey::Hmac(_) => Algorithm::HmacSha256,
        }
    }

    /// The fingerprint a seal header stores (zero for HMAC).
    pub fn fingerprint(&self) -> Result<[u8; 32], SealError> {
        match self {
            SealingKey::Ed25519(k) => {
                k.public().expect(KeyKind::Ed25519)?;
                Ok(k.public().fingerprint_bytes())
            }
            SealingKey::Hmac(_) => Ok([0; 32]),
        }
    }

    /// Signs (or MACs) the seal's digest.
    pub fn sign(&self, digest: &[u8; 32]) -> Result<Vec<u8>, SealError> {
        match self {
            SealingKey::Ed25519(k) => {
                k.public().expect(KeyKind::Ed25519)?;
                let sk = ed25519_dalek::SigningKey::from_bytes(k.secret());
                Ok(sk.sign(digest).to_bytes().to_vec())
            }
            SealingKey::Hmac(s) => Ok(s.mac(digest).finalize().into_bytes().to_vec()),
        }
    }
}

impl VerifyingKey<'_> {
    /// Its algorithm.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            VerifyingKey::Ed25519(_) => Algorithm::Ed25519,
            VerifyingKey::Hmac(_) => Algorithm::HmacSha256,
        }
    }

    /// The fingerprint a seal header stores for it (zero for HMAC).
    pub fn fingerprint(&self) -> [u8; 32] {
        match self {
            VerifyingKey::Ed25519(k) => k.fingerprint_bytes(),
            VerifyingKey::Hmac(_) => [0; 32],
        }
    }

    /// Whether `signature` is this key's over `digest` (in constant time for HMAC).
    pub fn verifies(&self, digest: &[u8; 32], signature: &[u8]) -> Result<bool, SealError> {
        match self {
            VerifyingKey::Ed25519(k) => {
                k.expect(KeyKind::Ed25519)?;
                let Ok(vk) = ed25519_dalek::VerifyingKey::from_bytes(&k.bytes) else {
                    return Ok(false);
                };
                let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
                    return Ok(false);
                };
                Ok(vk.verify(digest, &sig).is_ok() && vk.verify_strict(digest, &sig).is_ok())
            }
            VerifyingKey::Hmac(s) => Ok(s.mac(digest).verify_slice(signature).is_ok()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_under_its_key_only() {
        let k = PrivateKey::from_secret(KeyKind::Ed25519, [3; 32]);
        let other = PrivateKey::from_secret(KeyKind::Ed25519, [4; 32]);
        let d = [9u8; 32];
        let sig = SealingKey::Ed25519(&k).sign(&d).unwrap();
        assert!(
            VerifyingKey::Ed25519(&k.public())
                .verifies(&d, &sig)
                .unwrap()
        );
        assert!(
            !VerifyingKey::Ed25519(&other.public())
                .verifies(&d, &sig)
                .unwrap()
        );
        assert!(
            !VerifyingKey::Ed25519(&k.public())
                .verifies(&[8; 32], &sig)
                .unwrap()
        );
        let s = Secret::new(vec![1; 32]).unwrap();
        let mac = SealingKey::Hmac(&s).sign(&d).unwrap();
        assert_eq!(mac.len(), 32);
        assert!(VerifyingKey::Hmac(&s).verifies(&d, &mac).unwrap());
        let s2 = Secret::new(vec![2; 40]).unwrap();
        assert!(!VerifyingKey::Hmac(&s2).verifies(&d, &mac).unwrap());
    }

    #[test]
    fn short_secrets_and_x25519_keys_are_refused() {
        let e = Secret::new(vec![1; 31]).unwrap_err();
        assert!(e.to_string().contains("31 bytes"), "{e}");
        let x = PrivateKey::from_secret(KeyKind::X25519, [3; 32]);
        let e = SealingKey::Ed25519(&x).sign(&[0; 32]).unwrap_err();
        assert!(e.to_string().contains("an x25519 key"), "{e}");
        assert!(format!("{:?}", Secret::new(vec![7; 32]).unwrap()) == "Secret(32 bytes)");
    }
}
