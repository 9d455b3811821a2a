//! What `seal`, `verify`, `unseal` and `check --require-seal` share: the key options, the
//! seal errors mapped to exit codes, and the record named in a tampered chunk's error.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ckpt_seal::{PublicKey, SealError, Secret, Unsealer, VerifyOptions, VerifyingKey};

use crate::cmd::usage;

/// `--pubkey PUB | --secret FILE`: what verifies a seal.
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
pub struct VerifyKeyArgs {
    /// The public key that sealed (SPKI PEM, `ckpt keygen`'s KEY.pub).
    #[arg(long, value_name = "PUB")]
    pub pubkey: Option<PathBuf>,
    /// The HMAC secret it was sealed with (a file of raw bytes, at least 32).
    #[arg(long, value_name = "FILE")]
    pub secret: Option<PathBuf>,
}

/// `SEALED (--pubkey PUB | --secret FILE)`: a sealed image and what verifies it.
#[derive(clap::Args, Debug)]
pub struct SealedArgs {
    /// The sealed image, or - for standard input.
    pub sealed: String,
    #[command(flatten)]
    pub key: VerifyKeyArgs,
}

/// A verifying key as read from its file.
pub enum VerifyKey {
    /// An Ed25519 public key.
    Public(PublicKey),
    /// An HMAC secret.
    Secret(Secret),
}

impl VerifyKey {
    /// The key of `--pubkey` or `--secret`.
    pub fn read(args: &VerifyKeyArgs) -> Result<VerifyKey> {
        match (&args.pubkey, &args.secret) {
            (Some(p), _) => Ok(VerifyKey::Public(read_public(p, "--pubkey")?)),
            (None, Some(s)) => Ok(VerifyKey::Secret(read_secret(s)?)),
            (None, None) => Err(usage("give --pubkey PUB or --secret FILE".into())),
        }
    }

    /// As the library takes it.
    pub fn as_key(&self) -> VerifyingKey<'_> {
        match self {
            VerifyKey::Public(p) => VerifyingKey::Ed25519(p),
            VerifyKey::Secret(s) => VerifyingKey::Hmac(s),
        }
    }
}

/// The Ed25519 public key in `path` (exit 2 when it is not one).
pub fn read_public(path: &Path, option: &str) -> Result<PublicKey> {
    read_public_of(path, option, ckpt_seal::KeyKind::Ed25519)
}

/// The public key of `kind` in `path` (exit 2 when it is not one).
pub fn read_public_of(path: &Path, option: &str, kind: ckpt_seal::KeyKind) -> Result<PublicKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{option} {}: cannot read", path.display()))?;
    let k = PublicKey::from_pem(&text)
        .and_then(|k| k.expect(kind).map(|()| k))
        .map_err(|e| usage(format!("{option} {}: {e}", path.display())))?;
    Ok(k)
}

/// `--identity KEY`: what decrypts an encrypted seal.
#[derive(clap::Args, Debug, Clone)]
pub struct IdentityArgs {
    /// Decrypt an encrypted sealed image with this X25519 private key (`ckpt keygen
    /// --kind x25519`'s KEY, the recipient it was sealed for).
    #[arg(long, value_name = "KEY")]
    pub identity: Option<PathBuf>,
    /// The passphrase of an encrypted --identity key (the file's first line).
    #[arg(long, value_name = "F", requires = "identity")]
    pub identity_passphrase_file: Option<PathBuf>,
}

impl IdentityArgs {
    /// The X25519 private key of `--identity`, when given (exit 2 when it is not one).
    pub fn read(&self) -> Result<Option<std::sync::Arc<ckpt_seal::PrivateKey>>> {
        let Some(p) = &self.identity else {
            return Ok(None);
        };
        let k = crate::through_seal::read_private_of(
            p,
            self.identity_passphrase_file.as_deref(),
            "--identity",
            ckpt_seal::KeyKind::X25519,
        )?;
        Ok(Some(std::sync::Arc::new(k)))
    }
}

/// The HMAC secret in `path`: its raw bytes, at least 32 (exit 2 when shorter).
pub fn read_secret(path: &Path) -> Result<Secret> {
    let bytes =
        std::fs::read(path).with_context(|| format!("--secret {}: cannot read", path.display()))?;
    Secret::new(bytes).map_err(|e| usage(format!("--secret {}: {e}", path.display())))
}

/// A seal error as the command line reports it: I/O errors keep their kind (exit 3, a
/// closed pipe quiet), key errors are usage errors (exit 2), the rest are "no" (exit 1).
pub fn seal_error(e: SealError) -> anyhow::Error {
    match e {
        SealError::Io(io) => anyhow::Error::new(io),
        e @ (SealError::Key(_) | SealError::ShortSecret { .. } | SealError::NeedsIdentity(_)) => {
            usage(e.to_string())
        }
        e => anyhow::Error::new(e),
    }
}

/// Adds to a tampered chunk's error the record holding its first byte, read again from
/// the sealed file `path` through its seal (only the verified prefix before the chunk).
/// A pipe cannot be read again: its error names the offsets only.
pub fn name_record(
    e: SealError,
    path: &str,
    key: &VerifyingKey<'_>,
    opts: &VerifyOptions,
) -> SealError {
    let SealError::ChunkMismatch {
        chunk,
        chunks,
        plain_offset,
        plain_end,
        file_offset,
        record: None,
    } = e
    else {
        return e;
    };
    let record = (path != "-" && plain_offset > 0)
        .then(|| File::open(path).ok())
        .flatten()
        .and_then(|f| Unsealer::new(std::io::BufReader::new(f), key, opts.clone()).ok())
        .and_then(|u| ckpt_seal::record_at(std::io::Read::take(u, plain_offset), plain_offset));
    SealError::ChunkMismatch {
        chunk,
        chunks,
        plain_offset,
        plain_end,
        file_offset,
        record,
    }
}

/// The sealed image `path` (`-`: standard input) as a reader, buffered by the MiB.
pub fn open_sealed_input(path: &str) -> Result<Box<dyn std::io::Read>> {
    if path == "-" {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let f = File::open(path)
        .context("cannot open")
        .context(crate::io::InFile::new(path))?;
    Ok(Box::new(std::io::BufReader::with_capacity(1 << 20, f)))
}

/// Seconds since 1970-01-01 UTC, now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A time as RFC 3339, UTC.
pub fn utc(secs: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}

/// What `info` and `verify` say of a seal, as JSON (`schemas/json/container.schema.json`'s
/// `seal`, `schemas/json/verify.schema.json`).
pub fn seal_json(s: &ckpt_seal::SealInfo) -> serde_json::Value {
    let h = &s.header;
    serde_json::json!({
        "seal_version": format!("{}.{}.{}", h.major, h.minor, h.patch),
        "algorithm": s.algorithm().name(),
        "key_fingerprint": s.fingerprint(),
        "created_at": h.created_at,
        "created_at_utc": utc(h.created_at),
        "image_len": h.image_len,
        "chunk_size": h.chunk_size,
        "chunks": h.chunk_count,
        "revision": h.revision,
        "arch_id": h.arch,
        "tpm": s.tpm(),
        "encrypted": s.encrypted(),
        "aead": s.encryption.as_ref().map(|e| e.aead_name()),
        "recipient_fingerprint": s.encryption.as_ref().map(|e| e.recipient()),
    })
}

/// The key that made a seal, in words: its fingerprint, or "HMAC secret".
pub fn sealed_by(s: &ckpt_seal::SealInfo) -> String {
    match s.fingerprint() {
        Some(f) => format!("{} key {f}", s.algorithm().name()),
        None => "HMAC secret".into(),
    }
}
