//! PageWords and PageChunks, arch change x86_32 ↔ x86_64 ([`crate::steps::X86_COMPAT`]):
//! the page chunks (`PGARR n`, then a BUFFER of n page addresses and n pages) in the
//! target's word size and chunk size.
//!
//! The addresses are native longs: every chunk is rewritten with the target's width (4
//! or 8 bytes), the pages after them copied unchanged (in the kernel from a file to a
//! file). Going to the wider arch, a chunk larger than the target kernel's chunk limit is
//! split; going back, consecutive chunks are joined again up to the narrow kernel's limit
//! (the kernel fills a chunk before it starts the next one), so that a conversion there
//! and back gives the original bytes. Joining holds one chunk's pages in memory (at most
//! the narrow limit, 1024 pages): memory stays independent of the image's page bytes.
//!
//! A PGARR with pages is held back until its BUFFER shows the addresses: the chunks that
//! replace it are written then, each with its own PGARR.

use ckpt_format::RecordInfo;
use ckpt_format::limits::PAGE_SIZE;
use ckpt_format::value::{Value, get_uint, put_uint};

use crate::error::ConvertError;
use crate::ledger::{Action, LedgerEntry};
use crate::mechanical::Conv;
use crate::steps::{ArchRewrite, Direction};
use crate::transform::StreamedBody;

use super::{fields_of, struct_record};

/// The chunks being rewritten.
#[derive(Debug, Default)]
pub(crate) struct PageChunks {
    /// The pages of the PGARR held back, until its BUFFER comes.
    held: Option<u64>,
    /// A chunk being joined with the next (down): its addresses and pages.
    joining: Option<(Vec<u64>, Vec<u8>)>,
    /// Chunks read, and chunks written.
    chunks_in: u64,
    chunks_out: u64,
}

fn is_pages(info: &RecordInfo) -> bool {
    info.payload_of == Some(("PGARR", "pages"))
}

/// The chunk limits of the change: (source's, target's).
fn limits(conv: &Conv<'_>) -> Option<(u64, u64, Direction)> {
    let (step, dir) = conv.plan.arch_change?;
    let (n, w) = step.chunk_pages;
    Some(match dir {
        Direction::Up => (n, w, dir),
        Direction::Down => (w, n, dir),
    })
}

fn pgarr(conv: &Conv<'_>, n: u64) -> Result<Vec<u8>, ConvertError> {
    struct_record(
        conv,
        "PGARR",
        "ckpt_hdr_pgarr",
        &[("nr_pages", Value::Uint(n))],
    )
}

/// A PGARR record of the source, in an arch change: the end marker (0) goes out after
/// any chunk being joined; one with pages is held until its BUFFER.
pub(super) fn pgarr_record(
    conv: &mut Conv<'_>,
    st: &mut PageChunks,
    info: &RecordInfo,
    bytes: &[u8],
    outs: &mut Vec<crate::transform::Out>,
) -> Result<super::Flow, ConvertError> {
    if info.name != "PGARR" || info.payload_of.is_some() || limits(conv).is_none() {
        return Ok(super::Flow::Pass);
    }
    let n = fields_of(conv.from, "PGARR", bytes)
        .iter()
        .find(|(p, _)| p == "nr_pages")
        .and_then(|(_, v)| v.as_int())
        .unwrap_or(0) as u64;
    if n == 0 {
        flush(conv, st, outs)?;
        outs.push(crate::transform::Out::Record(pgarr(conv, 0)?));
        return Ok(super::Flow::Done);
    }
    st.held = Some(n);
    Ok(super::Flow::Done)
}

/// Whether the converter rewrites this streamed record (a chunk in an arch change).
pub(super) fn rewrites(conv: &Conv<'_>, info: &RecordInfo) -> bool {
    is_pages(info) && limits(conv).is_some()
}

/// The chunk being joined goes out (before a record that is not one of its chunks).
pub(super) fn flush(
    conv: &mut Conv<'_>,
    st: &mut PageChunks,
    outs: &mut Vec<crate::transform::Out>,
) -> Result<(), ConvertError> {
    if let Some((addrs, pages)) = st.joining.take() {
        outs.push(crate::transform::Out::Record(pgarr(
            conv,
            addrs.len() as u64,
        )?));
        let (rtype, body_len) = buffer_header(conv, addrs.len() as u64)?;
        let mut rec = vec![0u8; 8];
        put_uint(&mut rec[..4], rtype as u64, conv.to.endian());
        put_uint(&mut rec[4..], 8 + body_len, conv.to.endian());
        rec.extend_from_slice(&words(conv, &addrs));
        rec.extend_from_slice(&pages);
        outs.push(crate::transform::Out::Record(rec));
        st.chunks_out += 1;
    }
    Ok(())
}

/// The target's BUFFER of a chunk of `n` pages: its record type and body length (n
/// addresses, n pages), which must fit a record's u32 length.
fn buffer_header(conv: &Conv<'_>, n: u64) -> Result<(u32, u64), ConvertError> {
    let word = conv.to.arch.word_size() as u64;
    let body_len = n * (word + PAGE_SIZE as u64);
    if u32::try_from(8 + body_len).is_err() {
        return Err(ConvertError::Refused(format!(
            "a chunk of {n} pages does not fit a record"
        )));
    }
    Ok((conv.target_type("BUFFER")?, body_len))
}

fn words(conv: &Conv<'_>, addrs: &[u64]) -> Vec<u8> {
    let word = conv.to.arch.word_size() as usize;
    let mut out = vec![0u8; addrs.len() * word];
    for (a, slot) in addrs.iter().zip(out.chunks_exact_mut(word)) {
        put_uint(slot, *a, conv.to.endian());
    }
    out
}

/// Rewrites the BUFFER of a chunk: its addresses in the target's width, split into
/// chunks of the target's size (up) or joined with the chunks around it (down).
pub(super) fn rewrite(
    conv: &mut Conv<'_>,
    st: &mut PageChunks,
    info: &RecordInfo,
    body: &mut StreamedBody<'_>,
) -> Result<(), ConvertError> {
    let (_, target_limit, dir) = limits(conv).expect("rewrites() said so");
    let n = st.held.take().ok_or_else(|| {
        ConvertError::Refused(format!(
            "record #{} (BUFFER of pages at offset {:#x}): no PGARR before it",
            info.index, info.offset
        ))
    })?;
    let sword = conv.from.arch.word_size() as u64;
    let page = PAGE_SIZE as u64;
    if body.left() != n * (sword + page) {
        return Err(ConvertError::Refused(format!(
            "record #{} (BUFFER of pages at offset {:#x}): {} bytes where PGARR's {n} pages \
             need {}",
            info.index,
            info.offset,
            body.left(),
            n * (sword + page)
        )));
    }
    let raw = body.read((n * sword) as usize)?;
    let addrs: Vec<u64> = raw
        .chunks_exact(sword as usize)
        .map(|c| get_uint(c, conv.from.endian()))
        .collect();
    st.chunks_in += 1;
    if dir == Direction::Down
        && let Some(a) = addrs.iter().find(|&&a| a > u32::MAX as u64)
    {
        return Err(ConvertError::Refused(format!(
            "record #{} (BUFFER of pages at offset {:#x}): page address {a:#x} does not fit \
             the {} kernel's 32-bit longs",
            info.index, info.offset, conv.to.arch
        )));
    }
    match dir {
        Direction::Up => {
            for part in addrs.chunks(target_limit as usize) {
                body.record(pgarr(conv, part.len() as u64)?)?;
                let (rtype, body_len) = buffer_header(conv, part.len() as u64)?;
                body.begin_record(rtype, body_len)?;
                body.write(&words(conv, part))?;
                body.copy(part.len() as u64 * page)?;
                st.chunks_out += 1;
            }
        }
        Direction::Down => {
            let pages = body.read((n * page) as usize)?;
            let mut outs = Vec::new();
            let fits = st
                .joining
                .as_ref()
                .is_some_and(|(a, _)| a.len() as u64 + n <= target_limit);
            if !fits {
                flush(conv, st, &mut outs)?;
            }
            match st.joining.as_mut() {
                Some((a, p)) => {
                    a.extend_from_slice(&addrs);
                    p.extend_from_slice(&pages);
                }
                None => st.joining = Some((addrs, pages)),
            }
            if st
                .joining
                .as_ref()
                .is_some_and(|(a, _)| a.len() as u64 >= target_limit)
            {
                flush(conv, st, &mut outs)?;
            }
            for o in outs {
                if let crate::transform::Out::Record(b) = o {
                    body.record(b)?;
                }
            }
        }
    }
    Ok(())
}

/// At TAIL: one ledger entry for all the chunks (not one per chunk: the ledger grows
/// with records, not with page bytes).
pub(super) fn summary(conv: &mut Conv<'_>, st: &PageChunks, info: &RecordInfo) {
    if info.name != "TAIL" || st.chunks_in == 0 {
        return;
    }
    let (Some((step, _)), Some((a, b, _))) = (conv.plan.arch_change, limits(conv)) else {
        return;
    };
    let (sw, tw) = (conv.from.arch.word_size(), conv.to.arch.word_size());
    let mut e = LedgerEntry::new(
        info.index,
        "PGARR",
        "pages",
        Action::Rewritten,
        Some(Value::Text(format!(
            "{} chunks, {sw}-byte page addresses",
            st.chunks_in
        ))),
        Some(Value::Text(format!(
            "{} chunks, {tw}-byte page addresses",
            st.chunks_out
        ))),
    );
    e.reason = Some(format!(
        "{}; {} (at most {a} pages a chunk on {}, {b} on {})",
        step.rule(ArchRewrite::PageWords).why,
        step.rule(ArchRewrite::PageChunks).why,
        conv.from.arch,
        conv.to.arch
    ));
    e.step = Some(format!("{} -> {}", conv.from.arch, conv.to.arch));
    conv.pending.push(e);
}
