//! The plain image of a sealed container read **without** verifying it, for describing
//! it only (`ckpt info`, which never hands an image to a restart): the frames with their
//! links dropped. [`crate::Unsealer`] is the reader that verifies.

use std::io::{self, Read};

use crate::error::SealError;
use crate::format::{CHUNK_SIZE, HASH_LEN, chunk_len};
use crate::unseal::{SealInfo, read_seal};

/// The sealed image's chunks, unverified. See the module documentation.
pub struct Unframed<R> {
    r: R,
    image_len: u64,
    chunk_size: u64,
    chunks: u64,
    /// The chunk being read (1-based; 0 before the first).
    at: u64,
    /// Bytes of it not read yet.
    left: u64,
}

impl<R: Read> Unframed<R> {
    /// Reads the seal from `r` (at the container's start), not checking its signature.
    pub fn open(mut r: R) -> Result<(Unframed<R>, SealInfo), SealError> {
        let seal = read_seal(&mut r, None)?;
        let h = &seal.header;
        if let Some(e) = &seal.encryption {
            return Err(SealError::NeedsIdentity(e.recipient()));
        }
        if h.chunk_size == 0 || h.chunk_size > CHUNK_SIZE {
            return Err(SealError::Damaged {
                offset: 80,
                what: format!("a chunk size of {} (1 to {CHUNK_SIZE})", h.chunk_size),
            });
        }
        let u = Unframed {
            r,
            image_len: h.image_len,
            chunk_size: h.chunk_size,
            chunks: h.chunk_count,
            at: 0,
            left: 0,
        };
        Ok((u, seal))
    }
}

impl<R: Read> Read for Unframed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.left == 0 {
            if self.at > 0 {
                let skipped = io::copy(&mut (&mut self.r).take(HASH_LEN), &mut io::sink())?;
                if skipped != HASH_LEN {
                    return Ok(0);
                }
            }
            if self.at >= self.chunks {
                return Ok(0);
            }
            self.at += 1;
            self.left = chunk_len(self.at, self.chunks, self.image_len, self.chunk_size);
        }
        let n = (buf.len() as u64).min(self.left) as usize;
        let k = self.r.read(&mut buf[..n])?;
        self.left -= k as u64;
        Ok(k)
    }
}

impl<R: Read> ckpt_format::input::Input for Unframed<R> {}
