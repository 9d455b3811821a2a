//! Byte sources the reader accepts: anything `Read`, with a fast skip where the source
//! can seek.

use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom};

/// A byte source for [`crate::read::Reader`]: `Read` plus a way to skip bytes.
///
/// The default `skip` reads and discards (pipes, stdin); files seek.
pub trait Input: Read {
    /// Skips `n` bytes; fails with `UnexpectedEof` if the source has fewer.
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let copied = io::copy(&mut self.take(n), &mut io::sink())?;
        if copied < n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "source ended while skipping",
            ));
        }
        Ok(())
    }
}

impl Input for File {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let len = self.metadata()?.len();
        let pos = self.stream_position()?;
        if pos.saturating_add(n) > len && self.metadata()?.is_file() {
            self.seek(SeekFrom::End(0))?;
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file ended while skipping",
            ));
        }
        let n = i64::try_from(n).map_err(|_| io::Error::other("skip too large"))?;
        self.seek(SeekFrom::Current(n))?;
        Ok(())
    }
}

impl Input for io::Stdin {}
impl Input for io::StdinLock<'_> {}
impl Input for &[u8] {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        if (self.len() as u64) < n {
            *self = &self[self.len()..];
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "slice ended while skipping",
            ));
        }
        *self = &self[n as usize..];
        Ok(())
    }
}
impl<T: AsRef<[u8]>> Input for Cursor<T> {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let len = self.get_ref().as_ref().len() as u64;
        let pos = self.position();
        if pos.saturating_add(n) > len {
            self.set_position(len);
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "buffer ended while skipping",
            ));
        }
        self.set_position(pos + n);
        Ok(())
    }
}
impl<I: Input + ?Sized> Input for Box<I> {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        (**self).skip(n)
    }
}
impl<I: Input + ?Sized> Input for &mut I {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        (**self).skip(n)
    }
}
