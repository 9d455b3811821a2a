//! `ckpt encode` end to end: a dump, line by line into `ckpt_format::dump::DumpEncoder`
//! writing into a `Vec`; when that succeeds, the image is read back with `Reader` to the
//! end (errors are fine, panics are not). When it reads back cleanly, it is dumped again
//! by the `DumpWriter` of `ckpt dump --payloads` and encoded again: that must give the same bytes
//! (`ckpt dump --payloads | ckpt encode` is byte-exact for every image that dumps), and
//! `ckpt encode`'s read-back (`ckpt_format::readback::ReadBack`) must agree with the
//! reader on whether the image reads. Then the container: the image is put in one (with
//! annotations made from the input), and the dump's header (its `container` member) must
//! give that container back byte for byte around the image encoded; a header that
//! brought its own `container` must write one that reads back to its annotations.
//!
//! Input: `[revision selector, arch selector, dump lines...]`. The header line is made
//! from the selectors (`revision` mod the number of revisions, `arch` mod that
//! revision's arches), so that the fuzzer spends its time on records; with a revision
//! selector of 0xff the lines begin with their own header line instead. Lines are split
//! as `BufRead::lines` splits them (`\n`, `\r\n`); a line that is not UTF-8 ends the
//! input, as it ends `ckpt encode` with an I/O error.

#![no_main]

use std::io::{Cursor, Write};

use ckpt_format::container::{Annotations, Envelope, read_info, write_in};
use ckpt_format::dump::{DumpEncoder, DumpWriter};
use ckpt_format::readback::ReadBack;
use ckpt_format::{Format, Reader};
use ckpt_tests::fuzz_input::pick;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

/// The lines of `text` as `BufRead::lines` gives them; `None` for one that is not UTF-8.
fn lines(text: &[u8]) -> impl Iterator<Item = Option<&str>> {
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    body.split(|&b| b == b'\n')
        .take(if text.is_empty() { 0 } else { usize::MAX })
        .map(|l| std::str::from_utf8(l.strip_suffix(b"\r").unwrap_or(l)).ok())
}

/// The record lines of `image` as `ckpt dump --payloads` writes them
/// (`ckpt_format::dump::DumpWriter`, header line left out), or `None` when the image
/// does not read cleanly to its end.
fn dump(image: &[u8], format: &Format) -> Option<Vec<String>> {
    let mut r = Reader::new(image, Format::new(format.schema, format.arch));
    let mut w = DumpWriter::new(Vec::new(), format.schema, format.arch, true).ok()?;
    while let Some(rec) = r.next_record().ok()? {
        w.record(&mut r, &rec).ok()?;
    }
    let text = String::from_utf8(w.finish().ok()?).ok()?;
    Some(text.lines().skip(1).map(str::to_string).collect())
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let mut lines = lines(&data[2..]);
    let made;
    let head = if data[0] == 0xff {
        match lines.next() {
            Some(Some(l)) => l,
            _ => return,
        }
    } else {
        let (schema, arch) = pick(data[0], data[1]);
        made = json!({
            "kind": "header",
            "format_version": "2.0.0",
            "revision": schema.id,
            "arch": arch.name(),
        })
        .to_string();
        &made
    };
    let Ok(header) = DumpEncoder::<Vec<u8>>::header(head) else {
        return;
    };
    let mut enc = DumpEncoder::new(header.format, Vec::new());
    for line in lines {
        let Some(line) = line else {
            return;
        };
        if enc.line(line).is_err() {
            return;
        }
    }
    let format = enc.format();
    let Ok(image) = enc.finish() else {
        return;
    };

    // `ckpt encode`'s read-back (a reader on a thread, fed as the image is written)
    // agrees with reading the image whole.
    let mut tee = ReadBack::new(std::io::sink(), format);
    let _ = tee.write_all(&image);
    let read_back = tee.finish().is_ok();
    let again = dump(&image, format);
    assert_eq!(
        read_back,
        again.is_some(),
        "the read-back and the reader disagree"
    );
    let Some(again) = again else {
        return;
    };
    let mut enc = DumpEncoder::new(format, Vec::new());
    for (i, line) in again.iter().enumerate() {
        if let Err(e) = enc.line(line) {
            let mut why = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                why += &format!(": {s}");
                src = s.source();
            }
            panic!(
                "the image reads back, but its dump does not encode: line {}: {why}\n{line}",
                i + 2
            );
        }
    }
    let back = enc.finish().expect("a dump that encodes finishes");
    assert!(
        back == image,
        "dump then encode of the image is not byte-exact"
    );

    // A header that brought a container: written around the image, it reads back as
    // the header said (or is refused, as a note with an empty key is).
    if let Some(dc) = &header.container
        && let Some(c) = wrap(&dc.envelope, &image, &dc.annotations)
    {
        let info = read_info(&mut Cursor::new(&c)).expect("a container written reads back");
        assert_eq!(
            info.annotations, dc.annotations,
            "the header's annotations do not read back"
        );
    }

    // The image in a container (annotations made from the input): its dump's header
    // describes the container, and encode writes it back byte for byte.
    let c = wrap(&Envelope::new(format.endian()), &image, &annotations(data))
        .expect("a container of made-up annotations is written");
    let info = read_info(&mut Cursor::new(&c)).expect("a container written reads back");
    let w = DumpWriter::in_container(Vec::new(), format.schema, format.arch, true, Some(&info))
        .expect("a header is written to memory");
    let text = String::from_utf8(w.finish().expect("to memory")).expect("a header is UTF-8");
    let head = DumpEncoder::<Vec<u8>>::header(text.lines().next().unwrap_or(""))
        .expect("the header of a container's dump reads");
    let dc = head
        .container
        .expect("a container's dump describes the container");
    let again = wrap(&dc.envelope, &back, &dc.annotations)
        .expect("the container the dump describes is written");
    assert!(
        again == c,
        "dump then encode of a container is not byte-exact"
    );
});

/// The container of `image` in `env` with annotations `a`; None when they cannot be
/// written.
fn wrap(env: &Envelope, image: &[u8], a: &Annotations) -> Option<Vec<u8>> {
    let mut c = Vec::new();
    write_in(&mut c, env, &mut &image[..], image.len() as u64, a).ok()?;
    Some(c)
}

/// Annotations made from the fuzz input, every kind of entry (notes with `=` in their
/// values, an entry of a key a later ckpt would write).
fn annotations(data: &[u8]) -> Annotations {
    let some = &data[..data.len().min(40)];
    Annotations {
        kernel_config_gz: (data[1] & 1 != 0).then(|| some.to_vec()),
        linux_cr_tag: Some(String::from_utf8_lossy(&some[..some.len().min(12)]).into_owned()),
        ckpt_version: (data[1] & 2 != 0).then(|| "0.1.0".to_string()),
        annotated_at: Some(u64::from(data[0]) << 56 | data.len() as u64),
        notes: vec![(
            format!("k{}", data.len()),
            String::from_utf8_lossy(some).into_owned(),
        )],
        unknown: vec![(6 + u16::from(data[1]), some.to_vec())],
    }
}
