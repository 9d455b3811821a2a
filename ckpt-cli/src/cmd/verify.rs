//! `ckpt verify`: does a sealed image hold its seal, under this key?

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use ckpt_seal::{SealError, VerifyOptions};

use crate::io::InFile;
use crate::sealing::{VerifyKey, name_record, now, seal_error, seal_json, sealed_by, utc};

/// The version of `verify --json` (schemas/json/verify.schema.json).
pub const FORMAT_VERSION: &str = "1.1.0";

const AFTER: &str =
    "Reads SEALED once, front to back (a pipe too), in constant memory: the signature
over the seal header first, then every chunk against the hash chain, then the annotations
and the end. A seal is valid forever unless asked more: --expect-sha256 (the plain image
it must be: a seal of another image fails) and --max-age (an old authentic image, e.g. a
rollback, fails). Each way an image can fail says so: wrong key, bad signature,
truncated, extended, a chunk replaced or swapped (with its plain offset and the record
holding it), a seal of another image, too old, an unknown seal version.

An encrypted seal is verified without its recipient's key (the signature and the chain
cover the ciphertext), and says so; --identity KEY also decrypts it as it is verified
(needed for --expect-sha256, and to report the plain image's SHA-256).

Examples:
  ckpt verify app.sealed --pubkey seal.key.pub
  ckpt verify app.sealed --secret seal.secret --max-age 1d --json
  ckpt verify app.sealed --pubkey seal.key.pub --expect-sha256 $(sha256sum app.ckpt | cut -d' ' -f1)

Exit status: 0 valid, 1 invalid seal, 2 usage error, 3 I/O error";

/// Verify a sealed image's seal.
#[derive(clap::Args)]
#[command(after_help = AFTER)]
pub struct Opts {
    #[command(flatten)]
    input: crate::sealing::SealedArgs,
    #[command(flatten)]
    identity: crate::sealing::IdentityArgs,
    /// A detached seal (`ckpt seal --detached`) to verify against instead of the one inside.
    #[arg(long, value_name = "SIG")]
    sig: Option<PathBuf>,
    /// The SHA-256 (hex) the plain image must have.
    #[arg(long, value_name = "HEX")]
    expect_sha256: Option<String>,
    /// The oldest seal accepted, e.g. 12h, 7d.
    #[arg(long, value_name = "DURATION")]
    max_age: Option<String>,
    /// Output JSON.
    #[arg(long)]
    json: bool,
}

/// `--expect-sha256` and `--max-age` and `--sig`, as the library takes them.
pub fn verify_options(
    expect: Option<&str>,
    max_age: Option<&str>,
    sig: Option<&std::path::Path>,
) -> Result<VerifyOptions> {
    let expect_sha256 = match expect {
        Some(h) => Some(
            hex::decode(h.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| {
                    super::usage(format!("--expect-sha256 {h}: 64 hex digits were expected"))
                })?,
        ),
        None => None,
    };
    let max_age = match max_age {
        Some(d) => Some(
            humantime::parse_duration(d)
                .map_err(|e| super::usage(format!("--max-age {d}: {e} (e.g. 90s, 12h, 7d)")))?,
        ),
        None => None,
    };
    let detached = match sig {
        Some(p) => {
            Some(std::fs::read(p).with_context(|| format!("--sig {}: cannot read", p.display()))?)
        }
        None => None,
    };
    Ok(VerifyOptions {
        expect_sha256,
        max_age,
        now: now(),
        detached,
        identity: None,
    })
}

/// The kind of a seal error, as `verify --json` names it.
fn kind(e: &SealError) -> &'static str {
    match e {
        SealError::NotSealed(_) => "not_sealed",
        SealError::NotAnImage(_) | SealError::OtherImage(_) => "other_image",
        SealError::Container(_) | SealError::Damaged { .. } => "damaged",
        SealError::UnknownVersion(..) => "unknown_version",
        SealError::UnknownAlgorithm(_) | SealError::Unsupported(_) => "unsupported",
        SealError::KeyMismatch { .. } | SealError::WrongKey { .. } => "wrong_key",
        SealError::WrongIdentity { .. } => "wrong_identity",
        SealError::Undecryptable { .. } => "undecryptable",
        SealError::BadSignature(_) => "bad_signature",
        SealError::Truncated { .. } => "truncated",
        SealError::Extended { .. } => "extended",
        SealError::ChunkMismatch { .. } => "chunk_mismatch",
        SealError::TooOld { .. } => "too_old",
        SealError::TailChanged(_) => "annotations_changed",
        _ => "other",
    }
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        let key = VerifyKey::read(&self.input.key)?;
        let mut opts = verify_options(
            self.expect_sha256.as_deref(),
            self.max_age.as_deref(),
            self.sig.as_deref(),
        )?;
        opts.identity = self.identity.read()?;
        let named = || InFile::new(&self.input.sealed);
        let input = crate::sealing::open_sealed_input(&self.input.sealed)?;
        let result = ckpt_seal::verify(input, &key.as_key(), opts.clone())
            .map_err(|e| name_record(e, &self.input.sealed, &key.as_key(), &opts));
        let mut out = std::io::stdout().lock();
        match result {
            Ok(r) => {
                if self.json {
                    let mut v = serde_json::json!({
                        "format_version": FORMAT_VERSION,
                        "file": named().0,
                        "valid": true,
                        "seal": seal_json(&r.seal),
                        "image_sha256": r.plain_sha256.map(hex::encode),
                        "annotated": r.container.flags & ckpt_format::container::FLAG_ANNOTATED != 0,
                    });
                    if let Some(o) = v.as_object_mut() {
                        o.insert("error".into(), serde_json::Value::Null);
                    }
                    serde_json::to_writer_pretty(&mut out, &v)?;
                    writeln!(out)?;
                } else {
                    let h = &r.seal.header;
                    if let Some(e) = &r.seal.encryption {
                        writeln!(
                            out,
                            "{}: valid seal by {}, sealed at {}: encrypted ({}) for X25519 key {}; {}",
                            named(),
                            sealed_by(&r.seal),
                            utc(h.created_at),
                            e.aead_name(),
                            e.recipient(),
                            match r.plain_sha256 {
                                Some(s) => format!(
                                    "decrypted, a plain image of {} bytes (sha256 {})",
                                    h.image_len,
                                    hex::encode(s)
                                ),
                                None => format!(
                                    "its ciphertext verified; the plain image of {} bytes not \
                                     read (--identity decrypts it)",
                                    h.image_len
                                ),
                            }
                        )?;
                        return Ok(0);
                    }
                    writeln!(
                        out,
                        "{}: valid seal by {}, sealed at {}: a plain image of {} bytes (sha256 {}), rev {} arch id {}",
                        named(),
                        sealed_by(&r.seal),
                        utc(h.created_at),
                        h.image_len,
                        r.plain_sha256.map(hex::encode).unwrap_or_default(),
                        h.revision,
                        h.arch
                    )?;
                }
                Ok(0)
            }
            Err(SealError::Io(e)) => Err(anyhow::Error::new(e).context(named())),
            Err(e) if !e.is_invalid_seal() => Err(seal_error(e).context(named())),
            Err(e) if self.json => {
                let mut err = serde_json::json!({"kind": kind(&e), "message": e.to_string()});
                if let (
                    SealError::ChunkMismatch {
                        chunk,
                        plain_offset,
                        record,
                        ..
                    },
                    Some(o),
                ) = (&e, err.as_object_mut())
                {
                    o.insert("chunk".into(), (*chunk).into());
                    o.insert("plain_offset".into(), (*plain_offset).into());
                    if let Some(r) = record {
                        o.insert(
                            "record".into(),
                            serde_json::json!({"index": r.index, "type": r.name, "offset": r.offset}),
                        );
                    }
                }
                let v = serde_json::json!({
                    "format_version": FORMAT_VERSION,
                    "file": named().0,
                    "valid": false,
                    "error": err,
                });
                serde_json::to_writer_pretty(&mut out, &v)?;
                writeln!(out)?;
                Ok(crate::EXIT_NO)
            }
            Err(e) => Err(anyhow::Error::new(e).context(named())),
        }
    }
}
