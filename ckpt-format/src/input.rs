//! Byte sources the reader accepts: anything `Read`, with a fast skip where the source
//! can seek.

use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::os::fd::{AsFd, BorrowedFd};

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

    /// The file read from, when the source is an unbuffered file whose offset is the
    /// next byte `read` returns: payloads may then be copied from it in the kernel
    /// ([`crate::write::Writer::copy_payload_from`]). `None` (the default) for anything
    /// else, such as standard input, which `std` buffers.
    fn as_file_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
}

impl Input for File {
    fn as_file_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.as_fd())
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        // One seek and one stat: a regular file may be seeked past its end, which is
        // then reported (and the position left at the end) as for any other source.
        let n = i64::try_from(n).map_err(|_| io::Error::other("skip too large"))?;
        let pos = self.seek(SeekFrom::Current(n))?;
        let meta = self.metadata()?;
        if meta.is_file() && pos > meta.len() {
            self.seek(SeekFrom::End(0))?;
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file ended while skipping",
            ));
        }
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
    fn as_file_fd(&self) -> Option<BorrowedFd<'_>> {
        (**self).as_file_fd()
    }
}
impl<I: Input + ?Sized> Input for &mut I {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        (**self).skip(n)
    }
    fn as_file_fd(&self) -> Option<BorrowedFd<'_>> {
        (**self).as_file_fd()
    }
}
