//! Reading an image back while it is written: [`ReadBack`] is a `Write` adapter that
//! passes every byte to its output and, through a bounded channel, to a [`Reader`] on
//! a thread of its own, which reads every record to the TAIL. No second pass over the
//! output and no copy of the image in memory: at most [`QUEUED`] blocks of [`BLOCK`]
//! bytes are in flight.
//!
//! ```
//! use ckpt_format::build::{build, BuildOptions};
//! use ckpt_format::readback::ReadBack;
//! use ckpt_format::{Arch, Format, Registry};
//!
//! let format = Format::shared(Registry::get().find("v23-rc2")?, Arch::X86_64);
//! let mut tee = ReadBack::new(Vec::new(), format);
//! build(format, &BuildOptions::default(), &mut tee)?;
//! let (image, records) = tee.finish()?;
//! assert!(records > 10 && !image.is_empty());
//!
//! // An image cut short does not read back.
//! let mut tee = ReadBack::new(Vec::new(), format);
//! std::io::Write::write_all(&mut tee, &image[..image.len() - 1])?;
//! assert!(tee.finish().is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::error::Error;
use crate::format::Format;
use crate::input::Input;
use crate::read::Reader;

/// Bytes collected before they go to the reading thread.
pub const BLOCK: usize = 64 * 1024;
/// Blocks that may wait for the reading thread.
pub const QUEUED: usize = 8;

/// Why the written bytes do not read back as an image.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadBackError {
    /// The reader refused the image (the error names the record and offset).
    #[error("the output does not read back as an image")]
    Image(#[source] Error),
    /// The reading thread died.
    #[error("the output could not be read back: the reading thread failed")]
    Thread,
    /// The output itself failed.
    #[error("writing the output")]
    Output(#[source] io::Error),
}

/// The error a write returns once the reading thread has stopped at an error: the
/// reason is [`ReadBack::finish`]'s.
#[derive(Debug, thiserror::Error)]
#[error("the output stopped reading back as an image")]
pub struct Stopped;

/// A `Write` that reads what it writes back through a [`Reader`] (see the module).
pub struct ReadBack<W: Write> {
    out: W,
    pending: Vec<u8>,
    tx: Option<SyncSender<Vec<u8>>>,
    thread: Option<JoinHandle<Result<u64, ReadBackError>>>,
}

impl<W: Write> ReadBack<W> {
    /// A tee to `out` whose bytes are read back as an image of `format`.
    pub fn new(out: W, format: &'static Format) -> Self {
        let (tx, rx) = sync_channel::<Vec<u8>>(QUEUED);
        let thread = std::thread::spawn(move || read_all(rx, format));
        ReadBack {
            out,
            pending: Vec::with_capacity(BLOCK),
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    /// True once the reading thread has stopped before the end of the output (at an
    /// error; [`ReadBack::finish`] says which).
    pub fn stopped(&self) -> bool {
        self.tx.is_none() || self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    fn send(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let block = std::mem::replace(&mut self.pending, Vec::with_capacity(BLOCK));
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(block).is_ok());
        if !sent {
            self.tx = None;
            return Err(io::Error::other(Stopped));
        }
        Ok(())
    }

    /// Ends the output: waits for the reader to read everything, and returns the output
    /// (flushed) and the number of records read; an error when the bytes are not an
    /// image that reads to its end.
    pub fn finish(mut self) -> Result<(W, u64), ReadBackError> {
        let flushed = self.send().and_then(|()| self.out.flush());
        self.tx = None;
        let result = match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err(ReadBackError::Thread),
        };
        let records = result?;
        flushed.map_err(ReadBackError::Output)?;
        Ok((self.out, records))
    }
}

impl<W: Write> Write for ReadBack<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.pending.extend_from_slice(&buf[..n]);
        if self.pending.len() >= BLOCK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The bytes of the channel, as a [`Read`].
struct Blocks {
    rx: Receiver<Vec<u8>>,
    block: Vec<u8>,
    at: usize,
}

impl Read for Blocks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.block.len() {
            match self.rx.recv() {
                Ok(b) => {
                    self.block = b;
                    self.at = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.block.len() - self.at);
        buf[..n].copy_from_slice(&self.block[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Input for Blocks {}

/// Reads the image that comes through `rx` to its end, payloads included.
fn read_all(rx: Receiver<Vec<u8>>, format: &'static Format) -> Result<u64, ReadBackError> {
    let blocks = Blocks {
        rx,
        block: Vec::new(),
        at: 0,
    };
    let mut r = Reader::new(blocks, Format::new(format.schema, format.arch));
    // The reader reads to the end of its input: bytes after the TAIL are an error.
    let mut records = 0;
    while r.next_record().map_err(ReadBackError::Image)?.is_some() {
        records += 1;
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{BuildOptions, build};
    use crate::{Arch, Registry};

    fn image(format: &Format) -> Vec<u8> {
        let opts = BuildOptions {
            tasks: 2,
            memory: 200 * 1024,
            ..BuildOptions::default()
        };
        let mut img = Vec::new();
        build(format, &opts, &mut img).unwrap();
        img
    }

    #[test]
    fn a_whole_image_reads_back_in_writes_of_any_size() {
        let format = Format::shared(Registry::get().find("v21-rc").unwrap(), Arch::Ppc64);
        let img = image(format);
        for step in [1usize, 7, 4096, 1 << 20] {
            let mut tee = ReadBack::new(Vec::new(), format);
            for c in img.chunks(step.min(img.len())) {
                tee.write_all(c).unwrap();
            }
            let (out, records) = tee.finish().unwrap();
            assert!(out == img && records > 10, "step {step}");
        }
    }

    #[test]
    fn what_does_not_read_back_is_an_error_naming_the_record() {
        let format = Format::shared(Registry::get().find("v23-rc2").unwrap(), Arch::S390x);
        let img = image(format);
        // A record's type number made unknown (the second record's pre-header).
        let mut bad = img.clone();
        bad[72..76].copy_from_slice(&0x7777u32.to_be_bytes());
        let mut tee = ReadBack::new(Vec::new(), format);
        let _ = tee.write_all(&bad);
        let e = tee.finish().unwrap_err();
        assert!(matches!(e, ReadBackError::Image(_)), "{e}");
        let source = std::error::Error::source(&e).unwrap().to_string();
        assert!(
            source.contains("record #1") && source.contains("unknown record type 30583"),
            "{source}"
        );
        // Bytes after the TAIL.
        let mut tee = ReadBack::new(Vec::new(), format);
        tee.write_all(&img).unwrap();
        tee.write_all(&[0]).unwrap();
        let e = tee.finish().unwrap_err();
        let source = std::error::Error::source(&e).unwrap().to_string();
        assert!(source.starts_with("data after the TAIL record"), "{source}");
    }

    #[test]
    fn a_write_after_the_reader_stopped_fails_and_finish_says_why() {
        let format = Format::shared(Registry::get().find("v23-rc2").unwrap(), Arch::X86_64);
        let mut tee = ReadBack::new(io::sink(), format);
        let junk = vec![0xffu8; BLOCK];
        let mut failed = false;
        for _ in 0..(QUEUED + 64) {
            if let Err(e) = tee.write_all(&junk) {
                assert!(e.get_ref().is_some_and(|x| x.is::<Stopped>()), "{e}");
                failed = true;
                break;
            }
        }
        assert!(failed && tee.stopped());
        let e = tee.finish().unwrap_err();
        assert!(
            e.to_string().starts_with("the output does not read back"),
            "{e}"
        );
    }
}
