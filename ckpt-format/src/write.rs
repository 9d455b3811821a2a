//! The streaming writer: records out as they come, large payloads streamed through.

use std::io::{self, Read, Write};

use crate::arch::Endian;
use crate::error::{Error, ErrorKind, Position, Result};
use crate::format::HDR_SIZE;
use crate::value::put_uint;

/// Writes records to any `Write`, keeping count of the offset.
///
/// Every record is written exactly as given: a reader's [`crate::read::Reader::record_bytes`]
/// fed back through [`Writer::write_record_bytes`] reproduces the input byte for byte.
pub struct Writer<W> {
    out: W,
    endian: Endian,
    offset: u64,
    index: u64,
    /// Bytes still owed by the record begun with [`Writer::begin_record`].
    owed: u64,
}

impl<W: Write> Writer<W> {
    /// A writer of an image in byte order `endian`.
    pub fn new(out: W, endian: Endian) -> Writer<W> {
        Writer {
            out,
            endian,
            offset: 0,
            index: 0,
            owed: 0,
        }
    }

    /// Bytes written so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.index
    }

    fn err(&self, e: io::Error) -> Error {
        Error::new(
            ErrorKind::Io(e),
            Position {
                offset: self.offset,
                record: Some(self.index),
                rtype: None,
            },
        )
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).map_err(|e| self.err(e))?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    fn check_idle(&self) -> Result<()> {
        if self.owed > 0 {
            return Err(Error::new(
                ErrorKind::Encode(format!(
                    "{} bytes of the previous record were not written",
                    self.owed
                )),
                Position {
                    offset: self.offset,
                    record: Some(self.index),
                    rtype: None,
                },
            ));
        }
        Ok(())
    }

    /// Writes a whole record given as its bytes, pre-header included (or a headerless
    /// raw page).
    pub fn write_record_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.check_idle()?;
        self.raw(bytes)?;
        self.index += 1;
        Ok(())
    }

    /// Writes a record of type `rtype` whose body is `body` (the pre-header is made here).
    pub fn write_record(&mut self, rtype: u32, body: &[u8]) -> Result<()> {
        self.begin_record(rtype, body.len() as u64)?;
        self.write_payload(body)
    }

    /// Begins a record of type `rtype` with a body of `body_len` bytes, to be written
    /// with [`Writer::write_payload`] or [`Writer::copy_payload`].
    pub fn begin_record(&mut self, rtype: u32, body_len: u64) -> Result<()> {
        self.check_idle()?;
        let len = u32::try_from(body_len + HDR_SIZE as u64).map_err(|_| {
            Error::new(
                ErrorKind::Limit {
                    what: "record length",
                    value: body_len + 8,
                    limit: u32::MAX as u64,
                },
                Position {
                    offset: self.offset,
                    record: Some(self.index),
                    rtype: Some((rtype, None)),
                },
            )
        })?;
        let mut hdr = [0u8; 8];
        put_uint(&mut hdr[..4], rtype as u64, self.endian);
        put_uint(&mut hdr[4..], len as u64, self.endian);
        self.raw(&hdr)?;
        self.index += 1;
        self.owed = body_len;
        Ok(())
    }

    /// Writes part of the body of the record begun last.
    pub fn write_payload(&mut self, bytes: &[u8]) -> Result<()> {
        if bytes.len() as u64 > self.owed {
            return Err(Error::new(
                ErrorKind::Encode(format!(
                    "{} bytes given where the record has {} left",
                    bytes.len(),
                    self.owed
                )),
                Position {
                    offset: self.offset,
                    record: Some(self.index.saturating_sub(1)),
                    rtype: None,
                },
            ));
        }
        self.raw(bytes)?;
        self.owed -= bytes.len() as u64;
        Ok(())
    }

    /// Copies exactly the rest of the current body from `src`.
    pub fn copy_payload<R: Read>(&mut self, src: &mut R) -> Result<u64> {
        let want = self.owed;
        let mut chunk = vec![0u8; crate::limits::READ_BUFFER];
        let mut done = 0;
        while done < want {
            let n = ((want - done) as usize).min(chunk.len());
            src.read_exact(&mut chunk[..n]).map_err(|e| self.err(e))?;
            self.write_payload(&chunk[..n])?;
            done += n as u64;
        }
        Ok(done)
    }

    /// Appends `bytes` bytes holding `records` whole records that another writer of the
    /// same byte order wrote (a spill file), copied from `src`.
    pub fn append_records<R: Read>(&mut self, src: &mut R, bytes: u64, records: u64) -> Result<()> {
        self.check_idle()?;
        let mut chunk = vec![0u8; crate::limits::READ_BUFFER];
        let mut done = 0;
        while done < bytes {
            let n = ((bytes - done) as usize).min(chunk.len());
            src.read_exact(&mut chunk[..n]).map_err(|e| self.err(e))?;
            self.raw(&chunk[..n])?;
            done += n as u64;
        }
        self.index += records;
        Ok(())
    }

    /// Flushes and returns the sink.
    pub fn finish(mut self) -> Result<W> {
        self.check_idle()?;
        self.out.flush().map_err(|e| self.err(e))?;
        Ok(self.out)
    }
}
