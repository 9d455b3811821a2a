//! Kernel config files as the commands take them: `--config`, `--target-config`,
//! `--source-config` (plain or gzip-compressed, as /proc/config.gz), and the config a
//! container's annotation carries.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result};
use ckpt_convert::config::{ConfigOrigin, GivenConfig, KernelConfig};

use crate::io::UsageError;

/// A kernel config file, read and checked.
pub struct ConfigFile {
    /// Its options.
    pub config: KernelConfig,
    /// The file's bytes as read (gzip-compressed or not).
    pub raw: Vec<u8>,
    /// Its text.
    pub text: String,
}

impl ConfigFile {
    /// The config gzip-compressed, as an annotation carries it.
    pub fn gzipped(&self) -> Result<Vec<u8>> {
        if self.raw.starts_with(&[0x1f, 0x8b]) {
            return Ok(self.raw.clone());
        }
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(self.text.as_bytes())?;
        Ok(e.finish()?)
    }
}

/// Reads the kernel config at `path` for option `what` (`--target-config`); a file that
/// is not a kernel config is a usage error naming the file and the line.
pub fn read(path: &Path, what: &str) -> Result<ConfigFile> {
    let raw = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let not = |why: String| {
        UsageError(format!(
            "{what} {}: not a kernel config: {why}",
            path.display()
        ))
    };
    let text = if raw.starts_with(&[0x1f, 0x8b]) {
        gunzip(&raw).map_err(|e| not(format!("gzip-compressed, but {e}")))?
    } else {
        String::from_utf8(raw.clone()).map_err(|e| {
            not(format!(
                "not text (invalid UTF-8 at byte {:#x})",
                e.utf8_error().valid_up_to()
            ))
        })?
    };
    let config = KernelConfig::parse_checked(&text).map_err(|e| not(e.to_string()))?;
    Ok(ConfigFile { config, raw, text })
}

/// Reads `--NAME FILE` as the config of one side of a conversion.
pub fn given(path: &Path, what: &str) -> Result<GivenConfig> {
    let f = read(path, what)?;
    Ok(GivenConfig::new(
        f.config,
        ConfigOrigin::File(path.display().to_string()),
    ))
}

/// The config a container annotation carries (gzip-compressed), for `image`.
pub fn from_annotation(gz: &[u8], image: &str) -> Result<GivenConfig> {
    let text = gunzip(gz).map_err(|e| {
        anyhow::anyhow!("{image}: the kernel config annotation cannot be read: {e}")
    })?;
    let config = KernelConfig::parse_checked(&text).map_err(|e| {
        anyhow::anyhow!("{image}: the kernel config annotation is not a kernel config: {e}")
    })?;
    Ok(GivenConfig::new(config, ConfigOrigin::Annotation))
}

/// The text of gzip-compressed bytes, read to the end (a config is at most a few
/// hundred KiB; more than 64 MiB is refused).
pub fn gunzip(gz: &[u8]) -> Result<String, String> {
    const MAX: u64 = 64 << 20;
    let mut s = String::new();
    flate2::read::GzDecoder::new(gz)
        .take(MAX + 1)
        .read_to_string(&mut s)
        .map_err(|e| format!("its contents are not UTF-8 text ({e})"))?;
    if s.len() as u64 > MAX {
        return Err("it holds more than 64 MiB".into());
    }
    Ok(s)
}
