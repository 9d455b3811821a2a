//! `convert`, `edit` and `annotate` of a sealed image: the image is read through its
//! seal (verified whole with `--pubkey`/`--secret`, into a temporary file, before the
//! command reads it; refused without them, naming the options), and the output is a
//! plain image unless `--sign KEY` seals it again.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ckpt_seal::{PrivateKey, SealOptions, SealOutput, SealingKey, Unsealer, VerifyOptions};

use crate::cmd::usage;
use crate::io::{InFile, Output, container_of};
use crate::sealing::{VerifyKey, VerifyKeyArgs, name_record, now, open_sealed_input, seal_error};

/// The options of a command that reads a sealed image through its seal and may seal its
/// output.
#[derive(clap::Args, Debug, Clone)]
pub struct ThroughSealArgs {
    /// A sealed IMAGE is read through its seal, verified with this public key.
    #[arg(long, value_name = "PUB", conflicts_with = "secret")]
    pub pubkey: Option<PathBuf>,
    /// A sealed IMAGE is read through its seal, verified with this HMAC secret.
    #[arg(long, value_name = "FILE")]
    pub secret: Option<PathBuf>,
    /// Seal the output with this Ed25519 private key (the output is a plain image otherwise).
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// The passphrase of an encrypted --sign key (the file's first line).
    #[arg(long, value_name = "F", requires = "sign")]
    pub sign_passphrase_file: Option<PathBuf>,
    #[command(flatten)]
    pub identity: crate::sealing::IdentityArgs,
}

/// The Ed25519 private key in `path`, decrypted with the passphrase in `passphrase_file`
/// (exit 2 when it is not one, or the passphrase is wrong).
pub fn read_private(
    path: &Path,
    passphrase_file: Option<&Path>,
    option: &str,
) -> Result<PrivateKey> {
    read_private_of(path, passphrase_file, option, ckpt_seal::KeyKind::Ed25519)
}

/// [`read_private`] for a key of `kind`.
pub fn read_private_of(
    path: &Path,
    passphrase_file: Option<&Path>,
    option: &str,
    kind: ckpt_seal::KeyKind,
) -> Result<PrivateKey> {
    let pass = match passphrase_file {
        Some(p) => Some(crate::cmd::keygen::read_passphrase(p)?),
        None => None,
    };
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("{option} {}: cannot read", path.display()))?,
    );
    PrivateKey::from_pem(&text, pass.as_deref().map(|p| p.as_slice()))
        .and_then(|p| p.public().expect(kind).map(|()| p))
        .map_err(|e| usage(format!("{option} {}: {e}", path.display())))
}

/// Seals the plain image file `input` (a range of it, with annotations, per `opts`) with
/// `key` to `output` (a file at fixed frame offsets, or standard output as a stream).
pub fn seal_to(
    input: &mut std::fs::File,
    output: &Path,
    force: bool,
    key: &SealingKey<'_>,
    opts: &SealOptions,
) -> Result<ckpt_seal::SealSummary> {
    use std::io::{Seek, SeekFrom};
    let mut out = Output::create_image(output, force)?;
    let summary = match out.seekable()? {
        Some(f) => ckpt_seal::seal(input, SealOutput::Seekable(f), key, opts),
        None => ckpt_seal::seal(input, SealOutput::Stream(&mut out), key, opts),
    }
    .map_err(seal_error)?;
    if let Some(f) = out.seekable()? {
        f.seek(SeekFrom::End(0)).context("seeking the output")?;
    }
    out.commit()?;
    Ok(summary)
}

/// What a command reads and writes instead of its IMAGE and OUT.
pub struct Through {
    /// The verified plain image, when IMAGE is sealed.
    plain: Option<(tempfile::TempPath, crate::interrupt::Registered)>,
    /// The plain output, sealed into the real output by [`Through::finish`].
    signed: Option<(PathBuf, tempfile::TempPath, crate::interrupt::Registered)>,
    args: ThroughSealArgs,
}

fn temporary(dir: &Path, name: &str) -> Result<(tempfile::TempPath, crate::interrupt::Registered)> {
    crate::interrupt::register(|| {
        let f = tempfile::Builder::new().prefix(name).tempfile_in(dir)?;
        let p = f.into_temp_path();
        let q = p.to_path_buf();
        Ok((p, q))
    })
    .with_context(|| format!("cannot create a temporary file in {}", dir.display()))
}

impl Through {
    /// For the command `command` reading `image` and writing `output` (None: nothing is
    /// written): verifies a sealed `image` into a temporary file, and gives the output a
    /// temporary file when `--sign` seals it.
    pub fn open(
        image: &str,
        output: Option<&Path>,
        args: &ThroughSealArgs,
        command: &str,
    ) -> Result<Through> {
        let sealed = image != "-" && container_of(image)?.is_some_and(|c| c.is_sealed());
        let given = args.pubkey.is_some() || args.secret.is_some();
        if !sealed && given {
            return Err(usage(format!(
                "{image}: not a sealed image; --pubkey and --secret read a sealed one"
            )));
        }
        let plain = if sealed {
            if !given {
                return Err(usage(format!(
                    "{image}: a sealed image; give --pubkey PUB or --secret FILE and {command} \
                     reads it through its seal, verified (or `ckpt unseal` it first)"
                )));
            }
            let key = VerifyKey::read(&VerifyKeyArgs {
                pubkey: args.pubkey.clone(),
                secret: args.secret.clone(),
            })?;
            let opts = VerifyOptions {
                now: now(),
                identity: args.identity.read()?,
                ..VerifyOptions::default()
            };
            let failed = |e| {
                seal_error(name_record(e, image, &key.as_key(), &opts)).context(InFile::new(image))
            };
            let (tmp, registered) = temporary(&std::env::temp_dir(), ".ckpt-verified.")?;
            let mut out = std::io::BufWriter::new(
                std::fs::File::create(&tmp).context("cannot write the verified image")?,
            );
            let mut u = Unsealer::new(open_sealed_input(image)?, &key.as_key(), opts.clone())
                .map_err(failed)?;
            if !u.gives_plain() {
                return Err(usage(format!(
                    "{image}: an encrypted sealed image; give --identity KEY (the X25519 key it \
                     was encrypted for) and {command} reads it through its seal, decrypted"
                )));
            }
            while let Some(chunk) = u.next_chunk().map_err(failed)? {
                std::io::Write::write_all(&mut out, chunk)
                    .context("cannot write the verified image")?;
            }
            u.finish().map_err(failed)?;
            std::io::Write::flush(&mut out).context("cannot write the verified image")?;
            Some((tmp, registered))
        } else {
            None
        };
        let signed = match (&args.sign, output) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(usage("--sign seals an output: give -o OUT".into()));
            }
            (Some(_), Some(out)) => {
                let dir = out
                    .parent()
                    .filter(|d| out != Path::new("-") && !d.as_os_str().is_empty())
                    .map(Path::to_path_buf)
                    .unwrap_or_else(std::env::temp_dir);
                let (tmp, registered) = temporary(&dir, ".ckpt-to-seal.")?;
                Some((out.to_path_buf(), tmp, registered))
            }
        };
        Ok(Through {
            plain,
            signed,
            args: args.clone(),
        })
    }

    /// [`Through::open`] for a command whose options are `image` and `output` (None:
    /// nothing written), which it points at the verified image and the output to seal.
    pub fn around(
        image: &mut String,
        output: Option<&mut PathBuf>,
        args: &ThroughSealArgs,
        command: &str,
    ) -> Result<Through> {
        let through = Through::open(
            image,
            output.as_deref().map(PathBuf::as_path),
            args,
            command,
        )?;
        *image = through.image(image);
        if let Some(o) = output {
            *o = through.output(o);
        }
        Ok(through)
    }

    /// The image the command reads: the verified plain image, or IMAGE itself.
    pub fn image(&self, image: &str) -> String {
        match &self.plain {
            Some((p, _)) => p.to_string_lossy().into_owned(),
            None => image.to_string(),
        }
    }

    /// The output the command writes: a temporary file to seal, or OUT itself.
    pub fn output(&self, output: &Path) -> PathBuf {
        match &self.signed {
            Some((_, tmp, _)) => tmp.to_path_buf(),
            None => output.to_path_buf(),
        }
    }

    /// After the command succeeded (`code` 0): seals its output into OUT with `--sign`
    /// (annotations the output carries are kept, bound by the seal).
    pub fn finish(self, code: u8) -> Result<u8> {
        let (Some((out, tmp, _registered)), 0) = (&self.signed, code) else {
            return Ok(code);
        };
        let key_path = self.args.sign.as_deref().expect("--sign");
        let key = read_private(
            key_path,
            self.args.sign_passphrase_file.as_deref(),
            "--sign",
        )?;
        let mut f = std::fs::File::open(tmp).context("cannot read the output to seal")?;
        let mut opts = SealOptions {
            created_at: now(),
            ..SealOptions::default()
        };
        let tmp_str = tmp.to_string_lossy().into_owned();
        if let Some(c) = container_of(&tmp_str)? {
            opts.range = Some((c.image_offset, c.image_len));
            opts.annotations = Some(c.annotations);
        }
        seal_to(&mut f, out, true, &SealingKey::Ed25519(&key), &opts)
            .context(format!("--sign: sealing {}", out.display()))?;
        Ok(code)
    }
}
