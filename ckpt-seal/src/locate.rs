//! The record of a plain image that holds a byte, found by ckpt-format's reader over a
//! verified prefix of the image (never over bytes that were not verified).

use std::io::Read;

use ckpt_format::detect;
use ckpt_format::input::Input;

use crate::error::RecordAt;

/// A prefix of a plain image as a reader's source.
struct Prefix<R>(R);

impl<R: Read> Read for Prefix<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> Input for Prefix<R> {}

/// The record holding plain byte `offset`, reading `prefix` (the verified bytes before
/// it, and no more) from its start: the last record that begins at or before `offset`.
/// None when the prefix is too short to tell the image's revision, or holds no record.
pub fn record_at<R: Read>(prefix: R, offset: u64) -> Option<RecordAt> {
    let (mut reader, _) = detect::open(Prefix(prefix), None, None).ok()?;
    let mut last = None;
    // A record cut by the prefix's end is reported, as the one the offset falls in.
    while let Ok(Some(rec)) = reader.next_record() {
        if rec.offset > offset {
            break;
        }
        last = Some(RecordAt {
            index: rec.index,
            name: rec.name.to_string(),
            offset: rec.offset,
        });
    }
    last
}
