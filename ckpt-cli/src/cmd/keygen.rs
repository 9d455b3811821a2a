//! `ckpt keygen`: a key pair for sealing images (issue 14): an Ed25519 signing key or an
//! X25519 recipient key, as PKCS#8 and SPKI PEM files.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ckpt_seal::{KeyKind, PrivateKey};
use zeroize::Zeroizing;

const AFTER: &str =
    "Writes KEY, the private key (PKCS#8 PEM, mode 0600; encrypted with PBES2, scrypt and
AES-256-CBC when --passphrase-file is given), and KEY.pub, the public key (SPKI PEM), and
prints the public key's fingerprint. OpenSSL reads both (openssl pkey -in KEY). An existing
KEY or KEY.pub is never overwritten. The passphrase file's first line is the passphrase.

Kinds: ed25519 signs images (ckpt seal --key); x25519 is the recipient of an encrypted
image (ckpt seal --encrypt --recipient KEY.pub).

Examples:
  ckpt keygen -o seal.key
  ckpt keygen --kind x25519 -o restart-host.key --passphrase-file pass.txt

Exit status: 0 written, 2 usage error (an existing file, a bad kind or passphrase file),
3 I/O error";

/// Make a key pair for sealing images.
#[derive(clap::Args)]
#[command(after_help = AFTER)]
pub struct Opts {
    /// The kind of key: ed25519 (signing) or x25519 (a recipient of encrypted images).
    #[arg(long, default_value = "ed25519", value_parser = ["ed25519", "x25519"])]
    kind: String,
    /// The private key file to write (the public key goes to FILE.pub).
    #[arg(short, long, value_name = "KEY")]
    output: PathBuf,
    /// Encrypt the private key with the passphrase in this file (its first line).
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
}

/// The passphrase in `path`: its first line, which must not be empty.
pub fn read_passphrase(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    let text = Zeroizing::new(
        std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?,
    );
    let line = text.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Err(super::usage(format!(
            "{}: the passphrase file's first line is empty",
            path.display()
        )));
    }
    Ok(Zeroizing::new(line.to_vec()))
}

/// Writes `bytes` to `path` with `mode`, through a temporary file beside it, never over
/// an existing file.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".ckpt-keygen")
        .tempfile_in(dir)
        .with_context(|| {
            format!(
                "{}: cannot create a file in {}",
                path.display(),
                dir.display()
            )
        })?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("{}: cannot set its mode", path.display()))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("{}: cannot write", path.display()))?;
    tmp.persist_noclobber(path).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            super::usage(format!(
                "{}: exists, and keygen overwrites no key",
                path.display()
            ))
        } else {
            anyhow::Error::new(e.error).context(format!("{}: cannot write", path.display()))
        }
    })?;
    Ok(())
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        let kind = KeyKind::from_name(&self.kind)
            .ok_or_else(|| super::usage(format!("--kind {}: ed25519 or x25519", self.kind)))?;
        let public_path = PathBuf::from(format!("{}.pub", self.output.display()));
        for p in [&self.output, &public_path] {
            if p.symlink_metadata().is_ok() {
                return Err(super::usage(format!(
                    "{}: exists, and keygen overwrites no key",
                    p.display()
                )));
            }
        }
        let passphrase = match &self.passphrase_file {
            Some(p) => Some(read_passphrase(p)?),
            None => None,
        };
        let key = PrivateKey::generate(kind)?;
        let private = key.to_pem(passphrase.as_deref().map(|p| p.as_slice()))?;
        let public = key.public().to_pem()?;
        write_new(&self.output, private.as_bytes(), 0o600)?;
        if let Err(e) = write_new(&public_path, public.as_bytes(), 0o644) {
            // No half of a pair: the private key goes again.
            let _ = std::fs::remove_file(&self.output);
            return Err(e);
        }
        writeln!(
            std::io::stdout().lock(),
            "{} {} ({}: {}, {})",
            kind,
            key.public().fingerprint(),
            if passphrase.is_some() {
                "private key encrypted"
            } else {
                "private key not encrypted"
            },
            self.output.display(),
            public_path.display()
        )?;
        Ok(0)
    }
}
