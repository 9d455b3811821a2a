//! Sealing of Linux-CR checkpoint images (issue 14): signatures and encryption carried
//! in ckpt's container (schemas/container.md, sections 2 and 3), with keys in files or in
//! a TPM. This first part holds the keys (`ckpt keygen`); the seal itself follows
//! (schemas/seal-research.md has the facts and the proposed construction).
//!
//! The crate knows no terminal: errors are typed, and no secret is ever in one.

pub mod keys;

pub use keys::{KeyError, KeyKind, PrivateKey, PublicKey};
