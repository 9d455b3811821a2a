//! Keys: Ed25519 (signing) and X25519 (a recipient of encrypted images), written as the
//! files `ckpt keygen` makes and every OpenSSL reads: the private key as PKCS#8 v1 PEM
//! (RFC 8410; encrypted with PBES2, scrypt and AES-256-CBC when a passphrase is given),
//! the public key as SPKI PEM.
//!
//! Version 1 of PKCS#8, without the optional public key, because Debian 12's OpenSSL 3.0
//! cannot read the v2 documents ed25519-dalek writes by default (schemas/seal-research.md
//! §1).

use std::fmt;

use pkcs8::der::pem::LineEnding;
use pkcs8::der::{Decode, Encode};
use pkcs8::{EncryptedPrivateKeyInfoRef, ObjectIdentifier, PrivateKeyInfoRef};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The kinds of key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Ed25519 signatures (RFC 8032).
    Ed25519,
    /// X25519 key agreement (RFC 7748): the recipient of an encrypted image.
    X25519,
}

impl KeyKind {
    /// The kind by its name (`ed25519`, `x25519`).
    pub fn from_name(name: &str) -> Option<KeyKind> {
        match name {
            "ed25519" => Some(KeyKind::Ed25519),
            "x25519" => Some(KeyKind::X25519),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Ed25519 => "ed25519",
            KeyKind::X25519 => "x25519",
        }
    }

    /// The algorithm's object identifier (RFC 8410: id-Ed25519 1.3.101.112, id-X25519
    /// 1.3.101.110).
    fn oid(self) -> ObjectIdentifier {
        match self {
            KeyKind::Ed25519 => ObjectIdentifier::new_unwrap("1.3.101.112"),
            KeyKind::X25519 => ObjectIdentifier::new_unwrap("1.3.101.110"),
        }
    }

    fn of_oid(oid: ObjectIdentifier) -> Option<KeyKind> {
        [KeyKind::Ed25519, KeyKind::X25519]
            .into_iter()
            .find(|k| k.oid() == oid)
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a key could not be made, written or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The system's random source failed.
    #[error("no random bytes from the system: {0}")]
    Random(String),
    /// Not a PEM file, or a PEM of something else than what was asked for.
    #[error("not {expected}: {found}")]
    NotAKey {
        /// What was expected ("a private key (PKCS#8 PEM)").
        expected: &'static str,
        /// What was found.
        found: String,
    },
    /// A key of an algorithm ckpt does not use.
    #[error("a key of algorithm {0}, where ckpt uses ed25519 and x25519 keys")]
    Algorithm(String),
    /// A key of the wrong kind for its use.
    #[error("an {found} key, where an {wanted} key is needed")]
    WrongKind {
        /// The kind needed.
        wanted: KeyKind,
        /// The kind given.
        found: KeyKind,
    },
    /// The key is encrypted and no passphrase was given.
    #[error("the private key is encrypted: give its passphrase")]
    NeedsPassphrase,
    /// Decrypting the key failed: a wrong passphrase, or a damaged file (CBC padding
    /// cannot tell them apart).
    #[error("wrong passphrase (or a damaged key file)")]
    WrongPassphrase,
    /// Encoding failed (should not happen for well-formed keys).
    #[error("cannot encode the key: {0}")]
    Encode(String),
}

/// A private key with its public half.
pub struct PrivateKey {
    kind: KeyKind,
    secret: Zeroizing<[u8; 32]>,
    public: [u8; 32],
}

impl fmt::Debug for PrivateKey {
    // The secret is never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("kind", &self.kind)
            .field("public", &hex::encode(self.public))
            .finish_non_exhaustive()
    }
}

/// A public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// Its kind.
    pub kind: KeyKind,
    /// Its 32 bytes.
    pub bytes: [u8; 32],
}

fn public_of(kind: KeyKind, secret: &[u8; 32]) -> [u8; 32] {
    match kind {
        KeyKind::Ed25519 => ed25519_dalek::SigningKey::from_bytes(secret)
            .verifying_key()
            .to_bytes(),
        KeyKind::X25519 => {
            x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*secret)).to_bytes()
        }
    }
}

const PRIVATE: &str = "a private key (PKCS#8 PEM)";
const PUBLIC: &str = "a public key (SPKI PEM)";

impl PrivateKey {
    /// A new key of `kind` from the system's random source.
    pub fn generate(kind: KeyKind) -> Result<PrivateKey, KeyError> {
        let mut secret = Zeroizing::new([0u8; 32]);
        getrandom::fill(secret.as_mut()).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(PrivateKey::from_secret(kind, *secret))
    }

    /// The key whose secret is `secret` (an Ed25519 seed, an X25519 scalar).
    pub fn from_secret(kind: KeyKind, secret: [u8; 32]) -> PrivateKey {
        let public = public_of(kind, &secret);
        PrivateKey {
            kind,
            secret: Zeroizing::new(secret),
            public,
        }
    }

    /// Its kind.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// Its public half.
    pub fn public(&self) -> PublicKey {
        PublicKey {
            kind: self.kind,
            bytes: self.public,
        }
    }

    /// The secret bytes (an Ed25519 seed, an X25519 scalar), for the signing and key
    /// agreement code of this crate.
    pub fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    /// PKCS#8 v1 DER: the algorithm and `OCTET STRING { OCTET STRING (32 bytes) }`.
    fn der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let inner = Zeroizing::new(
            pkcs8::der::asn1::OctetStringRef::new(self.secret.as_ref())
                .and_then(|o| o.to_der())
                .map_err(|e| KeyError::Encode(e.to_string()))?,
        );
        let info = PrivateKeyInfoRef::new(
            pkcs8::AlgorithmIdentifierRef {
                oid: self.kind.oid(),
                parameters: None,
            },
            pkcs8::der::asn1::OctetStringRef::new(&inner)
                .map_err(|e| KeyError::Encode(e.to_string()))?,
        );
        Ok(Zeroizing::new(
            info.to_der().map_err(|e| KeyError::Encode(e.to_string()))?,
        ))
    }

    /// The private key as PEM: `PRIVATE KEY`, or `ENCRYPTED PRIVATE KEY` (PBES2 with
    /// scrypt and AES-256-CBC) under `passphrase`.
    pub fn to_pem(&self, passphrase: Option<&[u8]>) -> Result<Zeroizing<String>, KeyError> {
        let der = self.der()?;
        let enc = |e: &dyn fmt::Display| KeyError::Encode(e.to_string());
        match passphrase {
            None => Ok(Zeroizing::new(
                pkcs8::der::pem::encode_string("PRIVATE KEY", LineEnding::LF, &der)
                    .map_err(|e| enc(&e))?,
            )),
            Some(pw) => {
                let info = PrivateKeyInfoRef::try_from(der.as_slice()).map_err(|e| enc(&e))?;
                let doc = info.encrypt(pw).map_err(|e| enc(&e))?;
                Ok(Zeroizing::new(
                    doc.to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
                        .map_err(|e| enc(&e))?
                        .to_string(),
                ))
            }
        }
    }

    /// Reads a private key from PEM text, decrypting it with `passphrase` when it is
    /// encrypted.
    pub fn from_pem(text: &str, passphrase: Option<&[u8]>) -> Result<PrivateKey, KeyError> {
        let (label, der) =
            pkcs8::der::pem::decode_vec(text.as_bytes()).map_err(|e| KeyError::NotAKey {
                expected: PRIVATE,
                found: format!("no PEM block ({e})"),
            })?;
        let der = Zeroizing::new(der);
        let plain: Zeroizing<Vec<u8>> = match label {
            "PRIVATE KEY" => der.clone(),
            "ENCRYPTED PRIVATE KEY" => {
                let pw = passphrase.ok_or(KeyError::NeedsPassphrase)?;
                let info = EncryptedPrivateKeyInfoRef::try_from(der.as_slice()).map_err(|e| {
                    KeyError::NotAKey {
                        expected: PRIVATE,
                        found: format!("a damaged encrypted key ({e})"),
                    }
                })?;
                let doc = info.decrypt(pw).map_err(|_| KeyError::WrongPassphrase)?;
                Zeroizing::new(doc.as_bytes().to_vec())
            }
            other => {
                return Err(KeyError::NotAKey {
                    expected: PRIVATE,
                    found: format!("a PEM \"{other}\""),
                });
            }
        };
        let encrypted = label == "ENCRYPTED PRIVATE KEY";
        let bad = |what: String| {
            if encrypted {
                KeyError::WrongPassphrase
            } else {
                KeyError::NotAKey {
                    expected: PRIVATE,
                    found: what,
                }
            }
        };
        let info = PrivateKeyInfoRef::try_from(plain.as_slice())
            .map_err(|e| bad(format!("a damaged PKCS#8 document ({e})")))?;
        let kind = KeyKind::of_oid(info.algorithm.oid)
            .ok_or_else(|| KeyError::Algorithm(info.algorithm.oid.to_string()))?;
        let inner = <&pkcs8::der::asn1::OctetStringRef>::from_der(info.private_key.as_bytes())
            .map_err(|e| bad(format!("a damaged {kind} key ({e})")))?;
        let secret: [u8; 32] = inner
            .as_bytes()
            .try_into()
            .map_err(|_| bad(format!("an {kind} key of {} bytes, not 32", inner.len())))?;
        Ok(PrivateKey::from_secret(kind, secret))
    }
}

impl PublicKey {
    /// SPKI DER.
    fn der(&self) -> Result<Vec<u8>, KeyError> {
        let spki = pkcs8::spki::SubjectPublicKeyInfoRef {
            algorithm: pkcs8::AlgorithmIdentifierRef {
                oid: self.kind.oid(),
                parameters: None,
            },
            subject_public_key: pkcs8::der::asn1::BitStringRef::from_bytes(&self.bytes)
                .map_err(|e| KeyError::Encode(e.to_string()))?,
        };
        spki.to_der().map_err(|e| KeyError::Encode(e.to_string()))
    }

    /// The public key as PEM (`PUBLIC KEY`, SPKI).
    pub fn to_pem(&self) -> Result<String, KeyError> {
        pkcs8::der::pem::encode_string("PUBLIC KEY", LineEnding::LF, &self.der()?)
            .map_err(|e| KeyError::Encode(e.to_string()))
    }

    /// Reads a public key from PEM text.
    pub fn from_pem(text: &str) -> Result<PublicKey, KeyError> {
        let (label, der) =
            pkcs8::der::pem::decode_vec(text.as_bytes()).map_err(|e| KeyError::NotAKey {
                expected: PUBLIC,
                found: format!("no PEM block ({e})"),
            })?;
        if label != "PUBLIC KEY" {
            return Err(KeyError::NotAKey {
                expected: PUBLIC,
                found: format!("a PEM \"{label}\""),
            });
        }
        let spki = pkcs8::spki::SubjectPublicKeyInfoRef::from_der(&der).map_err(|e| {
            KeyError::NotAKey {
                expected: PUBLIC,
                found: format!("a damaged SPKI document ({e})"),
            }
        })?;
        let kind = KeyKind::of_oid(spki.algorithm.oid)
            .ok_or_else(|| KeyError::Algorithm(spki.algorithm.oid.to_string()))?;
        let bytes: [u8; 32] = spki
            .subject_public_key
            .as_bytes()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| KeyError::NotAKey {
                expected: PUBLIC,
                found: format!("an {kind} public key that is not 32 bytes"),
            })?;
        Ok(PublicKey { kind, bytes })
    }

    /// The key's fingerprint: `SHA256:` and the hex of the SHA-256 of its SPKI DER, as
    /// `info` and error messages name keys.
    pub fn fingerprint(&self) -> String {
        format!("SHA256:{}", hex::encode(self.fingerprint_bytes()))
    }

    /// The SHA-256 of its SPKI DER: the fingerprint as a seal header stores it.
    pub fn fingerprint_bytes(&self) -> [u8; 32] {
        let der = self.der().unwrap_or_default();
        Sha256::digest(&der).into()
    }

    /// Checks that the key is of `kind`.
    pub fn expect(&self, kind: KeyKind) -> Result<(), KeyError> {
        if self.kind == kind {
            Ok(())
        } else {
            Err(KeyError::WrongKind {
                wanted: kind,
                found: self.kind,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_both_kinds_read_back_plain_and_encrypted() {
        for kind in [KeyKind::Ed25519, KeyKind::X25519] {
            let k = PrivateKey::generate(kind).unwrap();
            let plain = k.to_pem(None).unwrap();
            assert!(plain.starts_with("-----BEGIN PRIVATE KEY-----"));
            let back = PrivateKey::from_pem(&plain, None).unwrap();
            assert_eq!(back.public(), k.public());
            let enc = k.to_pem(Some(b"correct horse")).unwrap();
            assert!(enc.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
            assert!(matches!(
                PrivateKey::from_pem(&enc, None),
                Err(KeyError::NeedsPassphrase)
            ));
            assert!(matches!(
                PrivateKey::from_pem(&enc, Some(b"wrong")),
                Err(KeyError::WrongPassphrase)
            ));
            let back = PrivateKey::from_pem(&enc, Some(b"correct horse")).unwrap();
            assert_eq!(back.public(), k.public());
            let p = PublicKey::from_pem(&k.public().to_pem().unwrap()).unwrap();
            assert_eq!(p, k.public());
            assert!(p.fingerprint().starts_with("SHA256:"));
        }
    }

    #[test]
    fn the_der_is_the_rfc_8410_v1_form_openssl_reads() {
        // RFC 8410 §10.3's example key.
        let seed: [u8; 32] =
            hex::decode("d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842")
                .unwrap()
                .try_into()
                .unwrap();
        let k = PrivateKey::from_secret(KeyKind::Ed25519, seed);
        assert_eq!(
            hex::encode(&*k.der().unwrap()),
            format!("302e020100300506032b657004220420{}", hex::encode(seed))
        );
        assert_eq!(
            hex::encode(k.public().der().unwrap()),
            format!("302a300506032b6570032100{}", hex::encode(k.public().bytes))
        );
        // RFC 8410 §10.1: the public key of that seed.
        assert_eq!(
            hex::encode(k.public().bytes),
            "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1"
        );
    }

    #[test]
    fn what_is_not_a_key_of_the_kind_is_refused_in_words() {
        assert!(matches!(
            PrivateKey::from_pem("hello", None),
            Err(KeyError::NotAKey { .. })
        ));
        let k = PrivateKey::generate(KeyKind::X25519).unwrap();
        let public = k.public().to_pem().unwrap();
        let e = PrivateKey::from_pem(&public, None).unwrap_err();
        assert!(e.to_string().contains("PUBLIC KEY"), "{e}");
        let e = PublicKey::from_pem(&k.to_pem(None).unwrap()).unwrap_err();
        assert!(e.to_string().contains("PRIVATE KEY"), "{e}");
        let e = k.public().expect(KeyKind::Ed25519).unwrap_err();
        assert_eq!(
            e.to_string(),
            "an x25519 key, where an ed25519 key is needed"
        );
    }
}
