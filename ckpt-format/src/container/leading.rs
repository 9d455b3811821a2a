//! The sections before the image (format 1.1): a sealed container's seal, in the gap
//! between the prefix and `image_offset`, so that a verifier on a pipe reads the seal
//! before the image. Read and checked here; decoded by ckpt-seal.

use std::io::{self, Read};

use super::{
    ContainerError, MAX_LEADING, PREFIX_LEN, Prefix, SECTION_SEAL, SectionHeader, bad, read_part_at,
};
use crate::arch::Endian;

/// A section before the image, as [`super::ContainerInfo::leading`] lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeadingSection {
    /// Its kind ([`SECTION_SEAL`]).
    pub kind: u32,
    /// The offset of its body in the container.
    pub body_offset: u64,
    /// Bytes of its body.
    pub len: u64,
}

/// Reads the sections before the image of a sealed container, from `r` positioned just
/// after the prefix `p`, up to `image_offset`: section headers, their bodies skipped, then
/// zero padding (fewer than 8 bytes). The first must be the seal. Needs no seek.
pub fn read_leading<R: Read>(
    r: &mut R,
    p: &Prefix,
    endian: Endian,
) -> Result<Vec<LeadingSection>, ContainerError> {
    let end = p.image_offset;
    if end - PREFIX_LEN > MAX_LEADING {
        return Err(bad(
            24,
            format!(
                "{} bytes of sections before the image (at most {MAX_LEADING})",
                end - PREFIX_LEN
            ),
        ));
    }
    let mut found = Vec::new();
    let mut pos = PREFIX_LEN;
    while end - pos >= 16 {
        let h: SectionHeader = read_part_at(r, pos, 16, endian, "section header")?;
        let body_offset = pos + 16;
        if h.kind == 0 && h.len == 0 && found.is_empty() {
            return Err(bad(pos, "a sealed container without a seal section"));
        }
        if h.len > end - body_offset {
            return Err(bad(
                pos,
                format!(
                    "a section of {} bytes, past the image's start at {end:#x}",
                    h.len
                ),
            ));
        }
        if found.is_empty() && h.kind != SECTION_SEAL {
            return Err(bad(
                pos,
                format!(
                    "a section of kind {} where the seal (kind 2) was expected",
                    h.kind
                ),
            ));
        }
        let n = io::copy(&mut r.take(h.len), &mut io::sink())?;
        if n != h.len {
            return Err(bad(
                body_offset + n,
                "the container is cut short inside a section",
            ));
        }
        found.push(LeadingSection {
            kind: h.kind,
            body_offset,
            len: h.len,
        });
        pos = body_offset + h.len;
        if end - pos < 8 {
            break;
        }
    }
    if found.is_empty() {
        return Err(bad(pos, "a sealed container without a seal section"));
    }
    let mut pad = [0u8; 8];
    let left = (end - pos) as usize;
    if left >= 8 {
        return Err(bad(
            pos,
            format!("{left} bytes of padding before the image (at most 7)"),
        ));
    }
    r.read_exact(&mut pad[..left]).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => bad(pos, "the container is cut short before its image"),
        _ => ContainerError::Io(e),
    })?;
    if pad[..left].iter().any(|&b| b != 0) {
        return Err(bad(pos, "padding before the image that is not zero"));
    }
    Ok(found)
}
