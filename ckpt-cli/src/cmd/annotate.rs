//! `ckpt annotate`: carry what an image lacks (its kernel's config, notes) in ckpt's
//! container beside the plain image.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ckpt_format::container;

use crate::io::{InFile, Output, container_of, open_image, refuse_same_file};

const AFTER: &str =
    "The output is ckpt's container (schemas/container.md): a prefix no kernel accepts,
the plain image byte for byte, then the annotations. ckpt's readers (info, check,
convert, edit, diff, dump, mem) read the image inside it; `ckpt strip` gives the plain
image back. Annotating a container replaces the annotations it names and keeps the rest.

What is carried: the source kernel's .config (gzip-compressed; --config takes a plain or
a gzip-compressed file, --from-host reads /proc/config.gz or /boot/config-RELEASE), the
linux-cr tag of the image's revision when it is known, the ckpt version, the time, and
free notes. Facts the image holds itself (uts strings, host name, the FPU facts of
HEADER_ARCH) are not copied.

Examples:
  ckpt annotate app.ckpt -o app.annotated.ckpt --from-host --note site=lab2
  ckpt annotate app.ckpt -o app.annotated.ckpt --config /boot/config-2.6.37-ckpt

Exit status:
  0  annotated
  1  the image does not read, or the config is not a kernel config
  2  usage error
  3  I/O error";

/// Carry the kernel config and notes with an image, in ckpt's container.
#[derive(clap::Args)]
#[command(after_help = AFTER)]
pub struct Opts {
    /// The image (a file: plain, or a container to annotate again).
    image: String,
    /// Output container.
    #[arg(short, long)]
    output: PathBuf,
    /// Revision of the image instead of detecting it.
    #[arg(long, value_parser = crate::values::Revision, hide_possible_values = true)]
    rev: Option<String>,
    /// The source kernel's .config (plain or gzip-compressed).
    #[arg(long, value_name = "FILE", conflicts_with = "from_host")]
    config: Option<PathBuf>,
    /// The config of the kernel running here: /proc/config.gz, else
    /// /boot/config-$(uname -r).
    #[arg(long)]
    from_host: bool,
    /// A free note (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    note: Vec<String>,
    #[command(flatten)]
    seal: crate::through_seal::ThroughSealArgs,
}

/// Reads a kernel config (plain or gzip), checks that it is one, and returns it gzipped.
fn kernel_config(path: &Path, what: &str) -> Result<Vec<u8>> {
    crate::kconfig::read(path, what)?.gzipped()
}

fn host_config() -> Result<PathBuf> {
    let proc = PathBuf::from("/proc/config.gz");
    if proc.exists() {
        return Ok(proc);
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .context("cannot read /proc/sys/kernel/osrelease")?;
    let boot = PathBuf::from(format!("/boot/config-{}", release.trim()));
    if boot.exists() {
        return Ok(boot);
    }
    anyhow::bail!(
        "--from-host: this kernel's config is in neither /proc/config.gz nor {}; name it with --config",
        boot.display()
    )
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(mut self) -> Result<u8> {
        // A sealed image is read through its seal; --sign seals the output.
        let seal = self.seal.clone();
        let through = crate::through_seal::Through::around(
            &mut self.image,
            Some(&mut self.output),
            &seal,
            "annotate",
        )?;
        let code = self.run_plain()?;
        through.finish(code)
    }

    fn run_plain(self) -> Result<u8> {
        if self.image == "-" {
            return Err(super::usage(
                "annotate reads a file, not standard input".into(),
            ));
        }
        refuse_same_file(&self.image, &self.output)?;
        let mut notes = Vec::new();
        for n in &self.note {
            match n.split_once('=') {
                Some((k, v)) if !k.is_empty() => notes.push((k.to_string(), v.to_string())),
                _ => {
                    return Err(super::usage(format!(
                        "--note {n}: expected KEY=VALUE with a non-empty KEY"
                    )));
                }
            }
        }
        let config = match (&self.config, self.from_host) {
            (Some(p), _) => Some(kernel_config(p, "--config")?),
            (None, true) => Some(kernel_config(&host_config()?, "--from-host")?),
            (None, false) => None,
        };
        // The image must read: its revision gives the byte order and the linux-cr tag.
        let (_, det) = open_image(&self.image, self.rev.as_deref())?;
        let named = || InFile::new(&self.image);
        let before = container_of(&self.image)?;
        let mut a = before
            .as_ref()
            .map(|c| c.annotations.clone())
            .unwrap_or_default();
        if config.is_some() {
            a.kernel_config_gz = config;
        }
        a.linux_cr_tag = det.schema.tags.first().map(|t| t.value.clone());
        a.ckpt_version = Some(env!("CARGO_PKG_VERSION").to_string());
        a.annotated_at = Some(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        );
        for (k, v) in notes {
            a.notes.retain(|(x, _)| *x != k);
            a.notes.push((k, v));
        }
        a.unknown.clear();
        let mut f = File::open(&self.image)
            .context("cannot open")
            .context(named())?;
        let (offset, len) = match &before {
            Some(c) => (c.image_offset, c.image_len),
            None => (0, f.metadata().context(named())?.len()),
        };
        std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(offset)).context(named())?;
        let mut out = Output::create(&self.output)?;
        container::write(&mut out, det.arch.endian(), &mut f, len, &a).context(named())?;
        out.commit()?;
        Ok(0)
    }
}
