//! Page payloads copied without passing through memory (`Writer::copy_payload_from`):
//! file to file at every relative page alignment (the kernel's copy where the offsets
//! agree, a mapping where they do not), to a pipe and to memory (the read and write
//! fallback), and from a file cut short. Every output is read back and compared with
//! the input byte for byte, for every revision and architecture.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};

use ckpt_format::build::BuildOptions;
use ckpt_format::input::Input;
use ckpt_format::write::{Sink, copy_between_files};
use ckpt_format::{ErrorKind, Format, Reader, Schema, Writer};
use ckpt_tests::{all_pairs, image};

/// Page contents large enough that a PGARR chunk's pages exceed the reader's buffer
/// (the size from which payloads are copied directly) on every architecture.
const MEMORY: u64 = 600 * 1024;

fn opts() -> BuildOptions {
    BuildOptions {
        tasks: 2,
        memory: MEMORY,
        seed: 7,
        ..BuildOptions::default()
    }
}

/// Copies every record of `src` to `out` as a converter does: inline records as bytes,
/// streamed bodies with `copy_payload_from`. Returns the streamed bytes copied.
fn copy_image<R: Input, W: Sink>(
    schema: &'static Schema,
    arch: ckpt_format::Arch,
    src: R,
    out: W,
) -> ckpt_format::Result<u64> {
    let format = Format::new(schema, arch);
    let endian = format.endian();
    let mut reader = Reader::new(src, format);
    let mut writer = Writer::new(out, endian);
    let mut streamed = 0;
    while let Some(info) = reader.next_record()? {
        if info.inline {
            writer.write_record_bytes(reader.record_bytes())?;
        } else {
            writer.begin_record(info.rtype, info.body_len() as u64)?;
            streamed += writer.copy_payload_from(&mut reader)?;
        }
    }
    writer.finish()?;
    Ok(streamed)
}

fn file_with(bytes: &[u8]) -> File {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(bytes).unwrap();
    f.rewind().unwrap();
    f
}

fn contents(mut f: File) -> Vec<u8> {
    let mut v = Vec::new();
    f.rewind().unwrap();
    f.read_to_end(&mut v).unwrap();
    v
}

#[test]
fn file_to_file_at_every_alignment() {
    for (schema, arch) in all_pairs() {
        let img = image(schema, arch, &opts());
        // 0: the offsets agree (copy_file_range); the others shift the output against
        // the input by part of a page (mapped writes).
        for shift in [0usize, 1, 100, 4095] {
            let mut out = tempfile::tempfile().unwrap();
            out.write_all(&vec![0xa5; shift]).unwrap();
            let streamed = copy_image(schema, arch, file_with(&img), &mut out)
                .unwrap_or_else(|e| panic!("{} {arch} shift {shift}: {e}", schema.id));
            assert!(
                streamed >= MEMORY,
                "{} {arch}: only {streamed} bytes streamed",
                schema.id
            );
            let got = contents(out);
            assert_eq!(
                got.len(),
                shift + img.len(),
                "{} {arch} shift {shift}",
                schema.id
            );
            assert!(
                got[shift..] == img[..],
                "{} {arch} shift {shift}: output differs from input",
                schema.id
            );
        }
    }
}

#[test]
fn through_a_buffered_file_and_from_memory() {
    for (schema, arch) in all_pairs().into_iter().step_by(7) {
        let img = image(schema, arch, &opts());
        // A BufWriter flushes before the kernel appends.
        let mut out = std::io::BufWriter::new(tempfile::tempfile().unwrap());
        copy_image(schema, arch, file_with(&img), &mut out).unwrap();
        let f = out.into_inner().unwrap();
        assert!(contents(f) == img, "{} {arch}: via BufWriter", schema.id);
        // A source without a file descriptor, and a sink without one.
        let mut v = Vec::new();
        copy_image(schema, arch, std::io::Cursor::new(&img), &mut v).unwrap();
        assert!(v == img, "{} {arch}: memory to memory", schema.id);
        let mut v = Vec::new();
        copy_image(schema, arch, file_with(&img), &mut v).unwrap();
        assert!(v == img, "{} {arch}: file to memory", schema.id);
    }
}

#[test]
fn file_to_pipe_falls_back_to_read_and_write() {
    let (schema, arch) = all_pairs()
        .into_iter()
        .find(|(s, a)| s.id == "v23-rc2" && *a == ckpt_format::Arch::X86_64)
        .unwrap();
    let img = image(schema, arch, &opts());
    let (mut rx, tx) = std::io::pipe().unwrap();
    let drain = std::thread::spawn(move || {
        let mut v = Vec::new();
        rx.read_to_end(&mut v).unwrap();
        v
    });
    let tx = File::from(std::os::fd::OwnedFd::from(tx));
    copy_image(schema, arch, file_with(&img), tx).unwrap();
    assert!(drain.join().unwrap() == img);
}

#[test]
fn a_source_cut_inside_pages_is_reported_not_copied() {
    for (schema, arch) in all_pairs().into_iter().step_by(5) {
        let img = image(schema, arch, &opts());
        let cut = &img[..img.len() - MEMORY as usize / 2];
        for shift in [0usize, 100] {
            let mut out = tempfile::tempfile().unwrap();
            out.write_all(&vec![0; shift]).unwrap();
            let e =
                copy_image(schema, arch, file_with(cut), &mut out).expect_err("a cut image copies");
            assert!(
                matches!(e.kind(), ErrorKind::Truncated(_)),
                "{} {arch} shift {shift}: {e}",
                schema.id
            );
            assert!(e.to_string().contains("offset 0x"), "{e}");
        }
    }
}

#[test]
fn copy_between_files_moves_both_offsets() {
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    for (from, shift) in [(0u64, 0usize), (4096, 0), (10, 3), (5000, 4000)] {
        let mut src = file_with(&data);
        src.seek(SeekFrom::Start(from)).unwrap();
        let mut dst = tempfile::tempfile().unwrap();
        dst.write_all(&vec![1; shift]).unwrap();
        let len = 200_000;
        let n = copy_between_files(
            std::os::fd::AsFd::as_fd(&src),
            std::os::fd::AsFd::as_fd(&dst),
            len,
        )
        .unwrap();
        assert_eq!(n, len, "from {from} shift {shift}");
        assert_eq!(src.stream_position().unwrap(), from + len);
        assert_eq!(dst.stream_position().unwrap(), shift as u64 + len);
        let got = contents(dst);
        assert!(got[shift..] == data[from as usize..(from + len) as usize]);
        // Past the source's end: what is there, and no more.
        let mut src = file_with(&data);
        src.seek(SeekFrom::Start(290_000 + from % 7)).unwrap();
        let dst = tempfile::tempfile().unwrap();
        let n = copy_between_files(
            std::os::fd::AsFd::as_fd(&src),
            std::os::fd::AsFd::as_fd(&dst),
            len,
        )
        .unwrap();
        assert_eq!(n, 10_000 - from % 7);
    }
}
