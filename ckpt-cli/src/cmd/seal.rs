//! `ckpt seal`: sign (or MAC) an image in ckpt's container, so that `ckpt verify` and
//! `ckpt unseal` can tell it is the image that was sealed (schemas/seal.md).

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use ckpt_seal::{SealOptions, SealingKey};

use crate::io::{InFile, Output, container_of, refuse_colliding_outputs, refuse_same_file};
use crate::sealing::{now, read_secret};

const AFTER: &str =
    "Writes SEALED: ckpt's container (schemas/container.md, 1.1) holding the image in
chunks of 1 MiB, each followed by a link of a hash chain whose head the seal signs
(schemas/seal.md). The seal binds the image's length, revision, arch, annotations and the
time of sealing. An annotated image keeps its annotations (bound by the seal; `unseal`
never outputs them). No kernel restarts SEALED: `ckpt unseal` verifies it and gives the
plain image.

--key signs with an Ed25519 private key (`ckpt keygen`; --passphrase-file when it is
encrypted); --secret MACs with HMAC-SHA256 under a secret shared with the verifier (a file
of at least 32 random bytes, e.g. `head -c 32 /dev/urandom > seal.secret`). --detached
SIG also writes the seal section alone (`ckpt verify --sig SIG`).

--encrypt --recipient PUB also encrypts the image for an X25519 public key (`ckpt keygen
--kind x25519`'s KEY.pub): a fresh data key, wrapped for PUB, encrypts the image chunk by
chunk (ChaCha20-Poly1305 in the STREAM construction), and the seal signs the ciphertext,
so nothing of the plain image (not even its revision or arch) can be confirmed without
the recipient's private key. `ckpt verify` checks it without that key; `ckpt unseal
--identity KEY` verifies and decrypts it.

Examples:
  ckpt seal app.ckpt -o app.sealed --key seal.key
  ckpt seal app.ckpt -o app.sealed --secret seal.secret
  ckpt sample | ckpt seal - -o - --key seal.key > app.sealed
  ckpt seal app.ckpt -o app.sealed --key seal.key --encrypt --recipient host.key.pub

Exit status: 0 sealed, 1 not an image (or an image that is already sealed), 2 usage
error (a key of the wrong kind, a short secret, a wrong passphrase), 3 I/O error";

/// Seal an image: sign or MAC it, so that it is verified before it restarts.
#[derive(clap::Args)]
#[command(after_help = AFTER)]
#[command(group(clap::ArgGroup::new("sealing_key").required(true).args(["key", "secret"])))]
pub struct Opts {
    /// The image (a file, or - for standard input, which is spooled to a temporary file).
    image: String,
    /// The sealed output, or - for standard output.
    #[arg(short, long, value_name = "SEALED")]
    output: PathBuf,
    /// The Ed25519 private key to sign with (PKCS#8 PEM).
    #[arg(long, value_name = "KEY")]
    key: Option<PathBuf>,
    /// The HMAC-SHA256 secret (a file of raw bytes, at least 32).
    #[arg(long, value_name = "FILE")]
    secret: Option<PathBuf>,
    /// The passphrase of an encrypted --key (the file's first line).
    #[arg(long, value_name = "F", requires = "key")]
    passphrase_file: Option<PathBuf>,
    /// Encrypt the image (for --recipient), then sign the ciphertext.
    #[arg(long, requires = "recipient")]
    encrypt: bool,
    /// The X25519 public key (SPKI PEM) of the one who may decrypt it.
    #[arg(long, value_name = "PUB", requires = "encrypt")]
    recipient: Option<PathBuf>,
    /// Also write the seal section alone to this file.
    #[arg(long, value_name = "SIG")]
    detached: Option<PathBuf>,
    /// Write to a terminal anyway.
    #[arg(long)]
    force: bool,
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        refuse_same_file(&self.image, &self.output)?;
        if let Some(d) = &self.detached {
            refuse_same_file(&self.image, d)?;
            refuse_colliding_outputs(&[("-o", &self.output), ("--detached", d)])?;
        }
        let private;
        let secret;
        let key = match (&self.key, &self.secret) {
            (Some(k), _) => {
                private =
                    crate::through_seal::read_private(k, self.passphrase_file.as_deref(), "--key")?;
                SealingKey::Ed25519(&private)
            }
            (None, Some(s)) => {
                secret = read_secret(s)?;
                SealingKey::Hmac(&secret)
            }
            (None, None) => return Err(super::usage("give --key KEY or --secret FILE".into())),
        };
        let named = || InFile::new(&self.image);
        let (mut input, spooled) = open_seekable(&self.image)?;
        let mut opts = SealOptions {
            created_at: now(),
            recipient: match &self.recipient {
                Some(p) => Some(crate::sealing::read_public_of(
                    p,
                    "--recipient",
                    ckpt_seal::KeyKind::X25519,
                )?),
                None => None,
            },
            ..SealOptions::default()
        };
        let container = match &spooled {
            Some(_) => container_in(&mut input).context(named())?,
            None => container_of(&self.image)?,
        };
        if let Some(c) = container {
            if c.is_sealed() {
                anyhow::bail!(
                    "{}: the image is sealed already; `ckpt unseal` gives the plain image to seal again",
                    named()
                );
            }
            opts.range = Some((c.image_offset, c.image_len));
            opts.annotations = Some(c.annotations);
        }
        let summary =
            crate::through_seal::seal_to(&mut input, &self.output, self.force, &key, &opts)
                .context(named())?;
        if let Some(d) = &self.detached {
            let mut sig = Output::create(d)?;
            sig.write_all(&summary.section)?;
            sig.commit()?;
        }
        let h = &summary.header;
        // A closed standard error changes nothing.
        let _ = writeln!(
            std::io::stderr().lock(),
            "sealed {}: {} bytes in {} chunks, {}, at {}{}",
            named(),
            h.image_len,
            h.chunk_count,
            match &key {
                SealingKey::Ed25519(k) => format!("Ed25519 key {}", k.public().fingerprint()),
                SealingKey::Hmac(_) => "HMAC secret".into(),
            },
            crate::sealing::utc(h.created_at),
            match &opts.recipient {
                Some(r) => format!(
                    "; encrypted (ChaCha20-Poly1305 STREAM) for X25519 key {}",
                    r.fingerprint()
                ),
                None => String::new(),
            }
        );
        Ok(0)
    }
}

/// The image as a seekable file: the file itself, or standard input spooled to a
/// temporary file (removed on an interrupt), which is returned to keep it alive.
fn open_seekable(
    path: &str,
) -> Result<(
    File,
    Option<(tempfile::NamedTempFile, crate::interrupt::Registered)>,
)> {
    let named = || InFile::new(path);
    if path != "-" {
        let f = File::open(path).context("cannot open").context(named())?;
        return Ok((f, None));
    }
    let (mut tmp, registered) = crate::interrupt::register(|| {
        let f = tempfile::NamedTempFile::new()?;
        let p = f.path().to_path_buf();
        Ok((f, p))
    })
    .context("cannot create a temporary file for standard input")?;
    std::io::copy(&mut std::io::stdin().lock(), tmp.as_file_mut())
        .context("cannot copy the image to a temporary file")
        .context(named())?;
    let f = tmp.reopen().context("cannot read the spooled image")?;
    Ok((f, Some((tmp, registered))))
}

/// The container a spooled file is, if it is one.
fn container_in(f: &mut File) -> Result<Option<ckpt_format::container::ContainerInfo>> {
    let mut head = [0u8; 8];
    let n = std::io::Read::read(f, &mut head)?;
    f.seek(SeekFrom::Start(0))?;
    if !ckpt_format::container::is_container(&head[..n]) {
        return Ok(None);
    }
    let info = ckpt_format::container::read_info(f).context("cannot read the container")?;
    Ok(Some(info))
}
