//! Why a seal could not be made or does not hold: one variant, and one message, per
//! way an image can fail its seal.

use std::io;

use ckpt_format::container::ContainerError;

use crate::keys::KeyError;

/// The record of the plain image that holds a byte, found by reading the verified prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordAt {
    /// Its index (0 = HEADER).
    pub index: u64,
    /// Its type name in the image's revision.
    pub name: String,
    /// Where it starts in the plain image.
    pub offset: u64,
}

impl std::fmt::Display for RecordAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "record {} ({}, at plain offset {:#x})",
            self.index, self.name, self.offset
        )
    }
}

/// Why a seal could not be made, or why an image does not hold its seal.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The input is not a sealed image.
    #[error("not a sealed image: {0}")]
    NotSealed(String),
    /// The input of `seal` is not a Linux-CR image.
    #[error("not a Linux-CR image: {0}")]
    NotAnImage(String),
    /// The container around the seal is damaged (before any chunk).
    #[error("a damaged sealed container: {0}")]
    Container(ContainerError),
    /// The seal section does not read.
    #[error("a damaged seal: {what} (at offset {offset:#x})")]
    Damaged {
        /// Where, in the sealed file.
        offset: u64,
        /// What was expected.
        what: String,
    },
    /// A seal format whose major version this ckpt does not read.
    #[error("a seal of format {0}.{1}.{2}, which this ckpt (seal format 1.x) does not read")]
    UnknownVersion(u16, u16, u16),
    /// An algorithm id this ckpt does not know.
    #[error("a seal of algorithm {0}, which this ckpt does not know")]
    UnknownAlgorithm(u16),
    /// A seal with features of a later ckpt (encryption, a TPM key).
    #[error("a seal that {0}, which this ckpt does not verify yet")]
    Unsupported(&'static str),
    /// The key given is of another algorithm than the seal's.
    #[error("the image is sealed with {sealed}, and the key given is for {given}")]
    KeyMismatch {
        /// The seal's algorithm.
        sealed: &'static str,
        /// The key's.
        given: &'static str,
    },
    /// An Ed25519 seal made by another key than the one given.
    #[error("wrong key: the image was sealed by the key {sealed_by}, not by {given}")]
    WrongKey {
        /// The sealing key's fingerprint.
        sealed_by: String,
        /// The given key's fingerprint.
        given: String,
    },
    /// The signature does not verify: the seal header or the container's prefix changed
    /// (or, for HMAC, the secret is not the one it was sealed with).
    #[error("bad signature: {0}; no byte of the image was read")]
    BadSignature(&'static str),
    /// The sealed image ends early.
    #[error(
        "the sealed image is truncated: it ends {at} (at offset {offset:#x} of the sealed file)"
    )]
    Truncated {
        /// Where, in words (`inside chunk 3 of 10`).
        at: String,
        /// Where, in the sealed file.
        offset: u64,
    },
    /// Bytes after the sealed container's end.
    #[error("the sealed image is extended: bytes follow its end at offset {offset:#x}")]
    Extended {
        /// Where the container ends.
        offset: u64,
    },
    /// A chunk does not hash to its link of the chain.
    #[error(
        "chunk {chunk} of {chunks} (plain bytes {plain_offset:#x} to {plain_end:#x}, at offset \
         {file_offset:#x} of the sealed file) was replaced, changed or swapped: it does not \
         hash to the link the seal signs{}{}",
        if *chunk == 1 { " (or the seal is of another image)" } else { "" },
        match record { Some(r) => format!("; it begins inside {r}"), None => String::new() }
    )]
    ChunkMismatch {
        /// The chunk, 1-based.
        chunk: u64,
        /// How many there are.
        chunks: u64,
        /// Where it starts in the plain image.
        plain_offset: u64,
        /// Where it ends in the plain image.
        plain_end: u64,
        /// Where its frame starts in the sealed file.
        file_offset: u64,
        /// The record holding its first byte, when it could be named (from the verified
        /// prefix).
        record: Option<RecordAt>,
    },
    /// The seal holds, but is of another image than the one expected.
    #[error("a seal of another image: {0}")]
    OtherImage(String),
    /// The seal is older than the verifier accepts.
    #[error("the seal is too old: made {age} ago ({created}), and at most {max} is accepted")]
    TooOld {
        /// When it was made (RFC 3339).
        created: String,
        /// How long ago.
        age: String,
        /// What is accepted.
        max: String,
    },
    /// What follows the frames (annotations, the footer) changed since the image was sealed.
    #[error("the annotations after the image changed since it was sealed: {0}")]
    TailChanged(String),
    /// The input changed while it was sealed (its second pass read other bytes).
    #[error("the image changed while it was sealed (chunk {0} read differently the second time)")]
    InputChanged(u64),
    /// An encrypted seal's key is wrapped for another recipient than the identity given
    /// (or its wrapped key does not open with it).
    #[error(
        "wrong identity: the image is encrypted for the key {sealed_for}, not for the key \
         {given} (or its wrapped key does not open with it); no byte of the image was read"
    )]
    WrongIdentity {
        /// The recipient's fingerprint.
        sealed_for: String,
        /// The given identity's fingerprint.
        given: String,
    },
    /// The seal is encrypted and no identity was given to decrypt it.
    #[error(
        "the image is encrypted (for the key {0}): give the recipient's private key \
         (--identity KEY) to read it"
    )]
    NeedsIdentity(String),
    /// A chunk that holds its link of the chain but does not decrypt: the sealer encrypted
    /// it under another key (only a faulty or hostile holder of the signing key makes it).
    #[error("chunk {chunk} of {chunks} holds its seal but does not decrypt with the data key")]
    Undecryptable {
        /// The chunk, 1-based.
        chunk: u64,
        /// How many there are.
        chunks: u64,
    },
    /// A secret shorter than [`crate::signing::MIN_SECRET`].
    #[error("an HMAC secret of {len} bytes: at least 32 random bytes are needed")]
    ShortSecret {
        /// Its length.
        len: usize,
    },
    /// A key of the wrong kind or file.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl SealError {
    /// Whether the error says the seal does not hold (the image, the seal or the key is
    /// to blame), not that reading or writing failed or that the call was wrong.
    pub fn is_invalid_seal(&self) -> bool {
        !matches!(
            self,
            SealError::Io(_)
                | SealError::ShortSecret { .. }
                | SealError::Key(_)
                | SealError::NeedsIdentity(_)
        )
    }
}

impl From<ContainerError> for SealError {
    fn from(e: ContainerError) -> SealError {
        match e {
            ContainerError::Io(io) => SealError::Io(io),
            ContainerError::Bad { offset, what }
                if what.contains("cut short") || what.contains("shorter than its prefix") =>
            {
                SealError::Truncated {
                    at: "before its first chunk".into(),
                    offset,
                }
            }
            ContainerError::Bad { what, .. } if what.contains("no CKPT+ANN magic") => {
                SealError::NotSealed("no ckpt container (a plain image?)".into())
            }
            e => SealError::Container(e),
        }
    }
}
