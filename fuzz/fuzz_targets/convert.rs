//! Converts an arbitrary image that reads cleanly under a revision × arch chosen by the
//! first two bytes into a revision chosen by the third, and reads the output back: a
//! conversion that succeeds must give an image that reads under the target format.
//!
//! Input: `[revision selector, arch selector, target selector, image...]`; the target is
//! picked among the revisions that have the arch. An x86 image whose target selector has
//! its high bit set is converted to the other x86 arch (`--to-arch`) where the target
//! revision has it.

#![no_main]

use ckpt_convert::{Options, convert};
use ckpt_format::{Arch, Format, Reader, Schema};
use ckpt_tests::fuzz_input::{pick, pick_target};
use libfuzzer_sys::fuzz_target;

/// Reads `image` to its end; the first error, if any.
fn read_all(image: &[u8], schema: &'static Schema, arch: Arch) -> Result<u64, ckpt_format::Error> {
    let mut reader = Reader::new(image, Format::new(schema, arch));
    let mut buf = vec![0u8; 64 * 1024];
    let mut records = 0;
    while let Some(info) = reader.next_record()? {
        records += 1;
        if info.inline {
            reader.decode()?;
        } else {
            while reader.read_payload(&mut buf)? > 0 {}
        }
    }
    Ok(records)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (schema, arch) = pick(data[0], data[1]);
    let to = pick_target(arch, data[2]);
    let image = &data[3..];

    if read_all(image, schema, arch).is_err() {
        return;
    }
    let other = match arch {
        Arch::X86_32 => Some(Arch::X86_64),
        Arch::X86_64 => Some(Arch::X86_32),
        _ => None,
    };
    let target_arch = other.filter(|a| data[2] & 0x80 != 0 && to.has_arch(*a));
    let opts = Options {
        allow_lossy: true,
        cwd: ckpt_convert::TaskPaths::all("/"),
        root: ckpt_convert::TaskPaths::all("/"),
        target_arch,
        ..Default::default()
    };
    let out_arch = target_arch.unwrap_or(arch);
    let reader = Reader::new(image, Format::new(schema, arch));
    let mut out = Vec::new();
    if convert(reader, to, &opts, &mut out).is_ok()
        && let Err(e) = read_all(&out, to, out_arch)
    {
        panic!(
            "{} {arch} -> {} {out_arch}: the converted image does not read back: {e}",
            schema.id, to.id
        );
    }
});
