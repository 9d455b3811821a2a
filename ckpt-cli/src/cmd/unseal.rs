//! `ckpt unseal`: the plain image out of a sealed one, verified as it streams.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use ckpt_seal::{SealError, Unsealer};

use crate::io::{InFile, Output, refuse_same_file};
use crate::sealing::{VerifyKey, name_record, seal_error};

const AFTER: &str = "Verifies SEALED as it reads it (a pipe too), front to back, and writes only
verified bytes: the signature first, then each 1 MiB chunk once it holds. The annotations
a sealed image carries are verified and never written. On a seal that fails after a
verified prefix, unseal exits 1: to a file, no output remains; to standard output, the
verified prefix has been written, and nothing after it, so that a restart fed by

  ckpt unseal app.sealed --pubkey seal.key.pub -o - | restart

either gets the authentic plain image or sees its input end early, with exit status 1
from unseal.

An encrypted seal (`ckpt seal --encrypt`) needs --identity KEY, the X25519 private key it
was encrypted for: each chunk is verified, then decrypted, and only then written. Another
key fails with `wrong identity` before any byte is read.

Exit status: 0 unsealed, 1 invalid seal, 2 usage error, 3 I/O error";

/// Verify a sealed image and give its plain image.
#[derive(clap::Args)]
#[command(after_help = AFTER)]
pub struct Opts {
    #[command(flatten)]
    input: crate::sealing::SealedArgs,
    #[command(flatten)]
    identity: crate::sealing::IdentityArgs,
    /// The plain image to write, or - for standard output.
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    /// Write to a terminal anyway.
    #[arg(long)]
    force: bool,
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        refuse_same_file(&self.input.sealed, &self.output)?;
        let key = VerifyKey::read(&self.input.key)?;
        let named = || InFile::new(&self.input.sealed);
        let input = crate::sealing::open_sealed_input(&self.input.sealed)?;
        let opts = ckpt_seal::VerifyOptions {
            now: crate::sealing::now(),
            identity: self.identity.read()?,
            ..ckpt_seal::VerifyOptions::default()
        };
        let failed = |e: SealError| {
            seal_error(name_record(e, &self.input.sealed, &key.as_key(), &opts)).context(named())
        };
        let mut u = Unsealer::new(input, &key.as_key(), opts.clone()).map_err(failed)?;
        if !u.gives_plain() {
            return Err(seal_error(SealError::NeedsIdentity(
                u.seal()
                    .encryption
                    .as_ref()
                    .map(|e| e.recipient())
                    .unwrap_or_default(),
            ))
            .context(named()));
        }
        let mut out = Output::create_image(&self.output, self.force)?;
        loop {
            match u.next_chunk() {
                Ok(Some(chunk)) => out.write_all(chunk)?,
                Ok(None) => break,
                Err(e) => {
                    // What was verified is out (to standard output); a file is dropped.
                    if self.output == std::path::Path::new("-") {
                        out.flush()?;
                    }
                    return Err(failed(e));
                }
            }
        }
        if let Err(e) = u.finish() {
            if self.output == std::path::Path::new("-") {
                out.flush()?;
            }
            return Err(failed(e));
        }
        out.commit()?;
        Ok(0)
    }
}
