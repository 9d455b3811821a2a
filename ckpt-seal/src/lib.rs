//! Sealing of Linux-CR checkpoint images (issue 14): a signature (Ed25519) or a MAC
//! (HMAC-SHA256) over the image, carried in ckpt's container (schemas/container.md,
//! section 2) and verified forward, in constant memory, without ever giving out a byte
//! that has not been verified. `schemas/seal.md` is the specification: the backward hash
//! chain over frames of at most 1 MiB, and why it has those properties.
//!
//! * [`keys`]: the key files (`ckpt keygen`);
//! * [`seal()`]: seal a seekable plain image, to a file or a pipe;
//! * [`Unsealer`] and [`verify`]: the plain image, verified as it streams from any `Read`;
//! * [`record_at`]: the record of the plain image holding a byte, read from a verified
//!   prefix (to name where a tampered chunk starts).
//!
//! * [`encrypt`]: the payload encrypted for an X25519 recipient (`SealOptions::recipient`),
//!   decrypted as it is verified (`VerifyOptions::identity`).
//!
//! TPM keys are reserved in the format for a later increment.
//!
//! ```
//! use ckpt_seal::{SealOptions, SealOutput, SealingKey, VerifyOptions, VerifyingKey};
//! use ckpt_seal::keys::{KeyKind, PrivateKey};
//! use std::io::{Cursor, Read};
//!
//! let format = ckpt_format::Format::new(ckpt_format::Registry::get().newest(), ckpt_format::Arch::X86_64);
//! let mut image = Vec::new();
//! ckpt_format::build::build(&format, &Default::default(), &mut image).unwrap();
//! let key = PrivateKey::from_secret(KeyKind::Ed25519, [7; 32]);
//! let mut sealed = Cursor::new(Vec::new());
//! ckpt_seal::seal(&mut Cursor::new(&image), SealOutput::Seekable(&mut sealed),
//!     &SealingKey::Ed25519(&key), &SealOptions::default()).unwrap();
//! let public = key.public();
//! let mut u = ckpt_seal::Unsealer::new(&sealed.get_ref()[..], &VerifyingKey::Ed25519(&public),
//!     VerifyOptions::default()).unwrap();
//! let mut plain = Vec::new();
//! u.read_to_end(&mut plain).unwrap();
//! assert_eq!(plain, image);
//! u.finish().unwrap();
//! ```
//!
//! The crate knows no terminal: errors are typed, and no secret is ever in one.

pub mod chain;
pub mod encrypt;
pub mod error;
pub mod format;
pub mod keys;
pub mod locate;
pub mod seal;
pub mod signing;
pub mod unframed;
pub mod unseal;

pub use error::{RecordAt, SealError};
pub use keys::{KeyError, KeyKind, PrivateKey, PublicKey};
pub use locate::record_at;
pub use seal::{SealOptions, SealOutput, SealSummary, seal};
pub use signing::{SealingKey, Secret, VerifyingKey};
pub use unframed::Unframed;
pub use unseal::{SealInfo, SealReport, Unsealer, VerifyOptions, read_seal, verify};
