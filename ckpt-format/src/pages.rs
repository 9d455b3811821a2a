//! The page index: where the page contents of every address space (MM object) and SysV
//! shm segment lie in an image, from one pass over it, for positioned reads afterwards.
//!
//! Page contents come in chunks (grammar.md: `PGARR n`, then one BUFFER holding `n` page
//! addresses, native words, then the `n` pages; shm segments give page indices instead
//! of addresses; a hugetlb page is an `HPAGE {vaddr, shift}` record and a BUFFER of
//! `1 << shift` bytes). The index keeps one [`PageChunk`] per chunk: where its address
//! array and its pages lie, how many, the lowest and highest address and whether the
//! addresses run contiguously. Memory grows with the number of chunks, never with pages:
//!
//! * a contiguous chunk (what the kernel writes for a run of present pages, and nearly
//!   every chunk of a real image) is served from its first address alone;
//! * a chunk whose addresses skip or repeat is served by reading its address array
//!   again (one positioned read of `8 n` bytes at most, ascending arrays searched by
//!   halves). Keeping every address would make the index grow with pages, and a
//!   compressed form is only smaller than this for the contiguous case it already has.
//!
//! Addresses of an address space that no chunk holds read as zeros (the kernel does not
//! save pages that were never touched); addresses outside every VMA are an error. Where
//! two chunks hold the same page, the later one in the image wins, as at restart, which
//! writes pages in image order.
//!
//! [`PageWalker`] recognises the chunks of a stream for both the index
//! ([`PageIndex::build`]) and readers of a pipe, which cannot seek back and serve what
//! they meet ([`PageWalker::read_chunk`]).

use std::collections::BTreeMap;
use std::io;
use std::ops::Range;

use crate::error::{Error, ErrorKind, Position};
use crate::format::HDR_SIZE;
use crate::input::Input;
use crate::limits::PAGE_SIZE;
use crate::model::{ImageModel, ModelBuilder, PageOwner};
use crate::value::get_uint;
use crate::{Endian, Format, Reader, RecordInfo, Result};

/// Positioned reads of an image: a file (`pread`) or bytes in memory.
pub trait ReadAt {
    /// Fills `buf` from byte `offset` of the image; fails with `UnexpectedEof` past its
    /// end.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl ReadAt for std::fs::File {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, offset)
    }
}

impl ReadAt for [u8] {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let at = usize::try_from(offset).unwrap_or(usize::MAX);
        let src = at
            .checked_add(buf.len())
            .and_then(|end| self.get(at..end))
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "past the image's end"))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

impl ReadAt for Vec<u8> {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.as_slice().read_exact_at(buf, offset)
    }
}

/// An error of reading pages through the index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PageError {
    /// An address that no VMA of the address space covers.
    #[error("address {addr:#x} is outside every VMA")]
    Unmapped {
        /// The first such address of the read.
        addr: u64,
    },
    /// An offset past the end of a shm segment.
    #[error("offset {offset:#x} is past the end of the segment ({size} bytes)")]
    PastSegment {
        /// The first such offset.
        offset: u64,
        /// The segment's size.
        size: u64,
    },
    /// The image could not be read where the index says a chunk lies.
    #[error("cannot read page contents of record #{record} at offset {offset:#x}")]
    Io {
        /// Index of the chunk's BUFFER record.
        record: u64,
        /// Offset read.
        offset: u64,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Where one chunk of pages lies in the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageChunk {
    /// Index of the record holding the pages (the BUFFER).
    pub record: u64,
    /// Offset of the address array (that of the pages for a huge page, whose address is
    /// in its HPAGE record).
    pub addrs_offset: u64,
    /// Offset of the first page.
    pub data_offset: u64,
    /// Pages in the chunk.
    pub count: u32,
    /// log2 of the page size (12; a huge page's shift).
    pub page_shift: u8,
    /// True when the addresses are `first`, `first + page`, ... in order.
    pub contiguous: bool,
    /// True when the addresses only grow (a chunk may hold non-contiguous pages).
    pub ascending: bool,
    /// Lowest address.
    pub first: u64,
    /// Highest address (of the last page's first byte).
    pub last: u64,
}

impl PageChunk {
    fn page_size(&self) -> u64 {
        1 << self.page_shift
    }

    /// One past the last byte of its highest page.
    pub fn end(&self) -> u64 {
        self.last.saturating_add(self.page_size())
    }
}

/// How a chunk's address array is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AddrCodec {
    word: u8,
    endian: Endian,
    /// Page indices (shm segments) rather than addresses.
    indices: bool,
}

impl AddrCodec {
    /// The addresses of a raw array (indices scaled to byte offsets); `None` for one
    /// that no address fits (an index too large).
    fn decode(&self, raw: &[u8], out: &mut Vec<u64>) -> Option<()> {
        out.clear();
        for w in raw.chunks_exact(self.word as usize) {
            let v = get_uint(w, self.endian);
            out.push(if self.indices {
                v.checked_mul(PAGE_SIZE as u64)?
            } else {
                v
            });
        }
        Some(())
    }
}

/// The chunks of one address space or shm segment, with what finds the chunk of an
/// address.
#[derive(Debug, Clone)]
pub struct PageMap {
    codec: AddrCodec,
    chunks: Vec<PageChunk>,
    /// Chunk indices by `first`.
    by_first: Vec<u32>,
    /// `reach[i]`: the largest `end()` of the chunks `by_first[..=i]`.
    reach: Vec<u64>,
}

/// The decoded address array of one non-contiguous chunk, kept during one read.
#[derive(Default)]
struct AddrCache {
    chunk: Option<usize>,
    addrs: Vec<u64>,
    raw: Vec<u8>,
}

impl PageMap {
    fn new(codec: AddrCodec) -> PageMap {
        PageMap {
            codec,
            chunks: Vec::new(),
            by_first: Vec::new(),
            reach: Vec::new(),
        }
    }

    fn finish(&mut self) {
        let mut order: Vec<u32> = (0..self.chunks.len() as u32).collect();
        order.sort_by_key(|&k| (self.chunks[k as usize].first, k));
        let mut reach = 0;
        self.reach = order
            .iter()
            .map(|&k| {
                reach = reach.max(self.chunks[k as usize].end());
                reach
            })
            .collect();
        self.by_first = order;
    }

    /// The chunks, in image order.
    pub fn chunks(&self) -> &[PageChunk] {
        &self.chunks
    }

    /// Pages held (a page held twice counts twice).
    pub fn pages(&self) -> u64 {
        self.chunks.iter().map(|c| c.count as u64).sum()
    }

    fn addrs<'c, S: ReadAt + ?Sized>(
        &self,
        src: &S,
        k: usize,
        cache: &'c mut AddrCache,
    ) -> std::result::Result<&'c [u64], PageError> {
        if cache.chunk != Some(k) {
            let c = &self.chunks[k];
            cache
                .raw
                .resize(c.count as usize * self.codec.word as usize, 0);
            src.read_exact_at(&mut cache.raw, c.addrs_offset)
                .map_err(|source| PageError::Io {
                    record: c.record,
                    offset: c.addrs_offset,
                    source,
                })?;
            if self.codec.decode(&cache.raw, &mut cache.addrs).is_none() {
                cache.addrs.clear();
            }
            cache.chunk = Some(k);
        }
        Ok(&cache.addrs)
    }

    /// The chunk and page in it that hold `addr` (the latest such chunk), if any.
    fn locate<S: ReadAt + ?Sized>(
        &self,
        src: &S,
        addr: u64,
        cache: &mut AddrCache,
    ) -> std::result::Result<Option<(usize, u64)>, PageError> {
        let mut best: Option<(usize, u64)> = None;
        let mut i = self
            .by_first
            .partition_point(|&k| self.chunks[k as usize].first <= addr);
        while i > 0 && self.reach[i - 1] > addr {
            i -= 1;
            let k = self.by_first[i] as usize;
            let c = self.chunks[k];
            if best.is_some_and(|(b, _)| b > k) || c.end() <= addr {
                continue;
            }
            let page = if c.contiguous {
                Some((addr - c.first) >> c.page_shift)
            } else {
                let at = addr & !(c.page_size() - 1);
                let addrs = self.addrs(src, k, cache)?;
                if c.ascending {
                    addrs.binary_search(&at).ok()
                } else {
                    addrs.iter().rposition(|&a| a == at)
                }
                .map(|p| p as u64)
            };
            if let Some(p) = page {
                best = Some((k, p));
            }
        }
        Ok(best)
    }

    /// Fills `buf` with the contents at `addr`: zeros where no chunk holds a page.
    pub fn read_at<S: ReadAt + ?Sized>(
        &self,
        src: &S,
        addr: u64,
        buf: &mut [u8],
    ) -> std::result::Result<(), PageError> {
        let mut cache = AddrCache::default();
        let mut done = 0usize;
        while done < buf.len() {
            let at = addr + done as u64;
            let left = buf.len() - done;
            match self.locate(src, at, &mut cache)? {
                None => {
                    let n = (PAGE_SIZE as u64 - at % PAGE_SIZE as u64).min(left as u64) as usize;
                    buf[done..done + n].fill(0);
                    done += n;
                }
                Some((k, page)) => {
                    let c = self.chunks[k];
                    let within = at & (c.page_size() - 1);
                    // A contiguous chunk serves the rest of its pages in one read, unless
                    // a later chunk holds one of them again.
                    let mut n = (c.page_size() - within).min(left as u64);
                    if c.contiguous {
                        while (n as usize) < left
                            && page + ((within + n) >> c.page_shift) < c.count as u64
                            && self.locate(src, at + n, &mut cache)?.map(|(b, _)| b) == Some(k)
                        {
                            n = (n + c.page_size()).min(left as u64);
                        }
                    }
                    let off = c.data_offset + (page << c.page_shift) + within;
                    src.read_exact_at(&mut buf[done..done + n as usize], off)
                        .map_err(|source| PageError::Io {
                            record: c.record,
                            offset: off,
                            source,
                        })?;
                    done += n as usize;
                }
            }
        }
        Ok(())
    }

    /// The byte ranges some chunk holds, in address order, adjacent ones merged.
    pub fn present<S: ReadAt + ?Sized>(
        &self,
        src: &S,
    ) -> std::result::Result<Vec<Range<u64>>, PageError> {
        let mut ranges: Vec<Range<u64>> = Vec::new();
        let mut cache = AddrCache::default();
        for (k, c) in self.chunks.iter().enumerate() {
            if c.contiguous {
                ranges.push(c.first..c.end());
            } else {
                let size = c.page_size();
                ranges.extend(
                    self.addrs(src, k, &mut cache)?
                        .iter()
                        .map(|&a| a..a.saturating_add(size)),
                );
            }
        }
        ranges.sort_by_key(|r| r.start);
        let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
        for r in ranges {
            match merged.last_mut() {
                Some(m) if r.start <= m.end => m.end = m.end.max(r.end),
                _ => merged.push(r),
            }
        }
        Ok(merged)
    }
}

/// The first address of `addr..addr + len` that none of `vmas` covers.
pub fn first_unmapped(vmas: &[Range<u64>], addr: u64, len: u64) -> Option<u64> {
    let end = addr.saturating_add(len);
    let mut at = addr;
    while at < end {
        match vmas.iter().find(|v| v.contains(&at)) {
            Some(v) => at = v.end,
            None => return Some(at),
        }
    }
    None
}

/// The pages of one address space (an MM object).
#[derive(Debug, Clone)]
pub struct AddressSpace {
    /// Tag of the MM object.
    pub tag: i64,
    vmas: Vec<Range<u64>>,
    pages: PageMap,
}

impl AddressSpace {
    /// The VMAs' address ranges, in image order (the VMA records themselves are the MM
    /// object's in [`PageIndex::model`]).
    pub fn vmas(&self) -> &[Range<u64>] {
        &self.vmas
    }

    /// The index of the VMA that holds `addr`.
    pub fn vma_of(&self, addr: u64) -> Option<usize> {
        self.vmas.iter().position(|v| v.contains(&addr))
    }

    /// The chunks.
    pub fn pages(&self) -> &PageMap {
        &self.pages
    }

    /// The first address of `addr..addr + len` that no VMA covers.
    pub fn first_unmapped(&self, addr: u64, len: u64) -> Option<u64> {
        first_unmapped(&self.vmas, addr, len)
    }

    /// Fills `buf` with the memory at `addr`: zeros for pages of a VMA that the image
    /// does not hold, an error when a byte lies outside every VMA.
    pub fn read_at<S: ReadAt + ?Sized>(
        &self,
        src: &S,
        addr: u64,
        buf: &mut [u8],
    ) -> std::result::Result<(), PageError> {
        if addr.checked_add(buf.len() as u64).is_none() {
            return Err(PageError::Unmapped { addr: u64::MAX });
        }
        if let Some(a) = self.first_unmapped(addr, buf.len() as u64) {
            return Err(PageError::Unmapped { addr: a });
        }
        self.pages.read_at(src, addr, buf)
    }
}

/// The pages of one SysV shm segment, addressed by offset in the segment.
#[derive(Debug, Clone)]
pub struct ShmSegment {
    /// Tag of its IPC namespace.
    pub ipc_ns: i64,
    /// Its index among the namespace's IPC objects.
    pub ipc: usize,
    /// `perms.id`.
    pub id: i64,
    /// `perms.key`.
    pub key: i64,
    /// `shm_segsz`.
    pub size: u64,
    /// `objref`: the tag of its inode, which SHM_IPC VMAs refer to.
    pub objref: i64,
    pages: PageMap,
}

impl ShmSegment {
    /// The chunks (addresses are byte offsets in the segment).
    pub fn pages(&self) -> &PageMap {
        &self.pages
    }

    /// Fills `buf` from byte `offset` of the segment (zeros for pages not held).
    pub fn read_at<S: ReadAt + ?Sized>(
        &self,
        src: &S,
        offset: u64,
        buf: &mut [u8],
    ) -> std::result::Result<(), PageError> {
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|e| e > self.size) {
            return Err(PageError::PastSegment {
                offset: offset.max(self.size),
                size: self.size,
            });
        }
        self.pages.read_at(src, offset, buf)
    }
}

/// A page chunk met by a [`PageWalker`], before its pages are read.
#[derive(Debug, Clone)]
pub struct ChunkInfo {
    /// Whom it belongs to.
    pub owner: PageOwner,
    /// Where it lies.
    pub chunk: PageChunk,
}

/// Recognises the page chunks of a walk over an image, and the model of its tasks and
/// objects that tells whom they belong to.
pub struct PageWalker {
    format: &'static Format,
    model: ModelBuilder,
    /// The HPAGE just read: its address and shift.
    hpage: Option<(u64, u8)>,
    /// Addresses of the current chunk.
    addrs: Vec<u64>,
    raw: Vec<u8>,
}

fn position(rec: &RecordInfo) -> Position {
    Position {
        offset: rec.offset,
        record: Some(rec.index),
        rtype: Some((rec.rtype, Some(rec.name))),
    }
}

impl PageWalker {
    /// A walker of images of `format`.
    pub fn new(format: &Format) -> PageWalker {
        let format = Format::shared(format.schema, format.arch);
        PageWalker {
            format,
            model: ModelBuilder::new(format, false),
            hpage: None,
            addrs: Vec::new(),
            raw: Vec::new(),
        }
    }

    /// The model being built.
    pub fn model(&self) -> &ModelBuilder {
        &self.model
    }

    /// The model of the whole image, once the walk is over.
    pub fn finish(self) -> ImageModel {
        self.model.finish()
    }

    /// The addresses of the chunk last returned by [`PageWalker::add`], in array order.
    pub fn addrs(&self) -> &[u64] {
        &self.addrs
    }

    /// Takes in the record `rec` that `r` has just returned. For a record that holds
    /// pages, returns the chunk, with `r` positioned at its first page (read them with
    /// [`PageWalker::read_chunk`], or go on to the next record to skip them).
    pub fn add<R: Input>(
        &mut self,
        r: &mut Reader<R>,
        rec: &RecordInfo,
    ) -> Result<Option<ChunkInfo>> {
        self.model.add(r, rec)?;
        let hpage = self.hpage.take();
        let fail = |msg: String| Error::new(ErrorKind::Grammar(msg), position(rec));
        if rec.name == "HPAGE" && rec.inline && rec.payload_of.is_none() {
            let d = r.decode()?;
            let shift = d.int("shift").unwrap_or(0);
            if !(12..=40).contains(&shift) {
                return Err(fail(format!(
                    "HPAGE: huge page shift {shift} (expected 12 to 40)"
                )));
            }
            self.hpage = Some((d.int("vaddr").unwrap_or(0) as u64, shift as u8));
            return Ok(None);
        }
        let word = self.format.arch.word_size() as u64;
        let page = PAGE_SIZE as u64;
        let body = rec.body_len() as u64;
        let data = rec.offset + HDR_SIZE as u64;
        let (chunk, indices) = if rec.payload_of.is_some_and(|(o, _)| o == "PGARR") {
            let n = body / (word + page);
            let Some(owner) = self.model.current_page_owner() else {
                return Err(fail(
                    "page chunk that follows no VMA and no shm segment".to_string(),
                ));
            };
            let indices = matches!(owner, PageOwner::Shm { .. });
            self.raw.resize((n * word) as usize, 0);
            let mut got = 0;
            while got < self.raw.len() {
                let k = r.read_payload(&mut self.raw[got..])?;
                if k == 0 {
                    return Err(fail("page chunk: its address array is cut short".into()));
                }
                got += k;
            }
            let codec = AddrCodec {
                word: word as u8,
                endian: self.format.endian(),
                indices,
            };
            if codec.decode(&self.raw, &mut self.addrs).is_none() {
                return Err(fail("page chunk: a page index past every address".into()));
            }
            if let Some(a) = self.addrs.iter().find(|&&a| a % page != 0) {
                return Err(fail(format!(
                    "page chunk: page address {a:#x} is not a multiple of the page size"
                )));
            }
            let (first, last) = match (self.addrs.iter().min(), self.addrs.iter().max()) {
                (Some(&f), Some(&l)) => (f, l),
                _ => return Ok(None),
            };
            let contiguous = self.addrs.iter().enumerate().all(|(k, &a)| {
                Some(a)
                    == (k as u64)
                        .checked_mul(page)
                        .and_then(|d| first.checked_add(d))
            });
            let ascending = self.addrs.windows(2).all(|w| w[0] < w[1]);
            let chunk = PageChunk {
                record: rec.index,
                addrs_offset: data,
                data_offset: data + n * word,
                count: n as u32,
                page_shift: 12,
                contiguous,
                ascending,
                first,
                last,
            };
            (chunk, indices)
        } else if let Some((vaddr, shift)) = hpage
            && rec.name == "BUFFER"
            && rec.payload_of.is_none()
            && body == 1 << shift
        {
            let Some(owner @ PageOwner::Vma { .. }) = self.model.current_page_owner() else {
                return Err(fail("huge page that follows no VMA".into()));
            };
            if vaddr % (1 << shift) != 0 {
                return Err(fail(format!(
                    "huge page address {vaddr:#x} is not a multiple of its size"
                )));
            }
            self.addrs.clear();
            self.addrs.push(vaddr);
            let chunk = PageChunk {
                record: rec.index,
                addrs_offset: data,
                data_offset: data,
                count: 1,
                page_shift: shift,
                contiguous: true,
                ascending: true,
                first: vaddr,
                last: vaddr,
            };
            return Ok(Some(ChunkInfo { owner, chunk }));
        } else {
            return Ok(None);
        };
        let owner = self
            .model
            .current_page_owner()
            .expect("checked above for page chunks");
        debug_assert_eq!(indices, matches!(owner, PageOwner::Shm { .. }));
        Ok(Some(ChunkInfo { owner, chunk }))
    }

    /// Reads the pages of the chunk that [`PageWalker::add`] just returned, in array
    /// order, calling `page(address, contents)` for each (a huge page in pieces of at
    /// most 64 KiB, with their own addresses).
    pub fn read_chunk<R: Input, E: From<Error>>(
        &self,
        r: &mut Reader<R>,
        info: &ChunkInfo,
        mut page: impl FnMut(u64, &[u8]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let size = 1usize << info.chunk.page_shift;
        let piece = size.min(crate::limits::READ_BUFFER);
        if r.payload_left() == 0 && info.chunk.page_shift > 12 {
            // A huge page small enough to be read inline.
            let body = &r.record_bytes()[HDR_SIZE as usize..];
            for (k, p) in body.chunks(piece).enumerate() {
                page(info.chunk.first + (k * piece) as u64, p)?;
            }
            return Ok(());
        }
        let mut buf = vec![0u8; piece];
        for &a in &self.addrs {
            for k in 0..size / piece {
                let mut got = 0;
                while got < piece {
                    let n = r.read_payload(&mut buf[got..])?;
                    if n == 0 {
                        return Err(Error::new(
                            ErrorKind::Truncated("the page chunk is cut short".into()),
                            Position {
                                offset: r.offset(),
                                ..Position::default()
                            },
                        )
                        .into());
                    }
                    got += n;
                }
                page(a + (k * piece) as u64, &buf)?;
            }
        }
        Ok(())
    }
}

/// Where the pages of every address space and shm segment of an image lie.
#[derive(Debug, Clone)]
pub struct PageIndex {
    model: ImageModel,
    spaces: BTreeMap<i64, AddressSpace>,
    shm: Vec<ShmSegment>,
}

impl PageIndex {
    /// Reads the whole image from `r` (at its start) once: the model of its tasks and
    /// objects, and where each page chunk lies. Page contents are skipped (seeked over
    /// on a file); only address arrays are read.
    pub fn build<R: Input>(r: &mut Reader<R>) -> Result<PageIndex> {
        match PageIndex::build_until_error(r) {
            (index, None) => Ok(index),
            (_, Some(e)) => Err(e),
        }
    }

    /// [`PageIndex::build`] that keeps what was read before an error: the index of the
    /// records up to it (of a cut-short or corrupt image), and the error.
    pub fn build_until_error<R: Input>(r: &mut Reader<R>) -> (PageIndex, Option<Error>) {
        let mut walker = PageWalker::new(r.format());
        let codec = |indices| AddrCodec {
            word: r.format().arch.word_size() as u8,
            endian: r.format().endian(),
            indices,
        };
        let (vma_codec, shm_codec) = (codec(false), codec(true));
        let mut by_owner: BTreeMap<PageOwner, Vec<PageChunk>> = BTreeMap::new();
        let mut failure = None;
        loop {
            let rec = match r.next_record() {
                Ok(Some(rec)) => rec,
                Ok(None) => break,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
            match walker.add(r, &rec) {
                Ok(Some(info)) => by_owner.entry(info.owner).or_default().push(info.chunk),
                Ok(None) => {}
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let model = walker.finish();
        let mut spaces = BTreeMap::new();
        let mut shm = Vec::new();
        for (&tag, o) in &model.objects {
            if o.record == "MM" {
                let mut pages = PageMap::new(vma_codec);
                for k in 0..o.vmas.len() {
                    let key = PageOwner::Vma { mm: tag, vma: k };
                    pages
                        .chunks
                        .extend(by_owner.remove(&key).unwrap_or_default());
                }
                pages.finish();
                let vmas = o.vmas.iter().map(|v| v.start..v.end).collect();
                spaces.insert(tag, AddressSpace { tag, vmas, pages });
            }
            for (k, i) in o.ipc.iter().enumerate() {
                if i.record != "IPC_SHM" {
                    continue;
                }
                let key = PageOwner::Shm {
                    ipc_ns: tag,
                    ipc: k,
                };
                let mut pages = PageMap::new(shm_codec);
                pages.chunks = by_owner.remove(&key).unwrap_or_default();
                pages.finish();
                let int = |n: &str| {
                    i.fields
                        .iter()
                        .find(|(p, _)| p == n)
                        .and_then(|(_, v)| v.as_int())
                        .unwrap_or(0)
                };
                shm.push(ShmSegment {
                    ipc_ns: tag,
                    ipc: k,
                    id: int("perms.id") as i64,
                    key: int("perms.key") as i64,
                    size: int("shm_segsz").max(0) as u64,
                    objref: int("objref") as i64,
                    pages,
                });
            }
        }
        if let Some((owner, chunks)) = by_owner.into_iter().next()
            && failure.is_none()
        {
            let what = match owner {
                PageOwner::Vma { .. } => "a VMA of no address space",
                PageOwner::Shm { .. } => "an IPC object that is not a shm segment",
            };
            failure = Some(Error::new(
                ErrorKind::Grammar(format!("page chunk of {what}")),
                Position {
                    offset: chunks[0].addrs_offset - HDR_SIZE as u64,
                    record: Some(chunks[0].record),
                    rtype: None,
                },
            ));
        }
        (PageIndex { model, spaces, shm }, failure)
    }

    /// The model of the image's tasks and objects.
    pub fn model(&self) -> &ImageModel {
        &self.model
    }

    /// The address space of MM object `tag`.
    pub fn address_space(&self, tag: i64) -> Option<&AddressSpace> {
        self.spaces.get(&tag)
    }

    /// Every address space, by tag.
    pub fn address_spaces(&self) -> impl Iterator<Item = &AddressSpace> {
        self.spaces.values()
    }

    /// The address space of the task with `pid` (in the root pid namespace).
    pub fn address_space_of(&self, pid: i64) -> Option<&AddressSpace> {
        let t = self.model.tasks.iter().find(|t| t.pid == pid)?;
        self.address_space(*t.refs.get("mm_objref")?)
    }

    /// Every SysV shm segment, in image order.
    pub fn shm_segments(&self) -> &[ShmSegment] {
        &self.shm
    }

    /// Chunks recorded, over every address space and segment: what the index's memory
    /// grows with.
    pub fn chunk_count(&self) -> usize {
        let spaces: usize = self.spaces.values().map(|s| s.pages.chunks.len()).sum();
        spaces + self.shm.iter().map(|s| s.pages.chunks.len()).sum::<usize>()
    }
}

#[cfg(test)]
#[path = "pages_tests.rs"]
mod tests;
