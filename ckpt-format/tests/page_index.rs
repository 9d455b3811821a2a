//! The page index over builder images of every revision × arch: every byte read through
//! it equals what a streaming read of the page records gives, holes read as zeros, and
//! the index grows with chunks, not pages.

use std::collections::BTreeMap;
use std::io::Write;

use ckpt_format::build::{BuildOptions, build};
use ckpt_format::model::PageOwner;
use ckpt_format::pages::{PageChunk, PageError, PageIndex, PageWalker, ReadAt};
use ckpt_format::{Arch, Format, Reader, Registry, Schema};

fn image(s: &'static Schema, arch: Arch, opts: &BuildOptions) -> Vec<u8> {
    let mut img = Vec::new();
    build(&Format::new(s, arch), opts, &mut img).unwrap();
    img
}

/// Every page the stream holds, by address space tag (or, for a shm segment, by
/// (namespace tag, index) as a negative key pair) and address, read once in image order.
#[derive(Default)]
struct Streamed {
    vma_pages: BTreeMap<(i64, u64), Vec<u8>>,
    shm_pages: BTreeMap<(i64, usize, u64), Vec<u8>>,
    chunks: usize,
}

fn stream(img: &[u8], s: &'static Schema, arch: Arch) -> Streamed {
    let mut r = Reader::new(img, Format::new(s, arch));
    let mut w = PageWalker::new(r.format());
    let mut out = Streamed::default();
    while let Some(rec) = r.next_record().unwrap() {
        let Some(info) = w.add(&mut r, &rec).unwrap() else {
            continue;
        };
        out.chunks += 1;
        let page = 1u64 << info.chunk.page_shift;
        let mut pages: Vec<(u64, Vec<u8>)> = Vec::new();
        w.read_chunk(&mut r, &info, |a, b| -> Result<(), ckpt_format::Error> {
            pages.push((a, b.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            pages.iter().map(|(_, b)| b.len() as u64).sum::<u64>(),
            info.chunk.count as u64 * page
        );
        for (a, b) in pages {
            match info.owner {
                PageOwner::Vma { mm, .. } => out.vma_pages.insert((mm, a), b),
                PageOwner::Shm { ipc_ns, ipc } => out.shm_pages.insert((ipc_ns, ipc, a), b),
            };
        }
    }
    out
}

/// What `len` bytes at `addr` of address space `mm` hold by the streamed pages.
fn expected(st: &Streamed, mm: i64, addr: u64, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let end = addr + len as u64;
    for ((_, a), b) in st.vma_pages.range((mm, 0)..=(mm, u64::MAX)) {
        let (pa, pe) = (*a, *a + b.len() as u64);
        if pe <= addr || pa >= end {
            continue;
        }
        let from = pa.max(addr);
        let to = pe.min(end);
        out[(from - addr) as usize..(to - addr) as usize]
            .copy_from_slice(&b[(from - pa) as usize..(to - pa) as usize]);
    }
    out
}

#[track_caller]
fn same(a: &[u8], b: &[u8], what: &str) {
    let at = a.iter().zip(b).position(|(x, y)| x != y);
    assert!(
        at.is_none() && a.len() == b.len(),
        "{what}: differ at byte {at:?} (lengths {} and {})",
        a.len(),
        b.len()
    );
}

/// Checks every VMA and shm segment of `img` read through the index against the stream.
fn check(img: &[u8], s: &'static Schema, arch: Arch, src: &dyn ReadAt) -> PageIndex {
    let st = stream(img, s, arch);
    let index = PageIndex::build(&mut Reader::new(img, Format::new(s, arch))).unwrap();
    let what = format!("{} {arch}", s.id);
    assert_eq!(index.chunk_count(), st.chunks, "{what}");
    let mut vmas_seen = 0;
    for space in index.address_spaces() {
        let o = index.model().object(space.tag).unwrap();
        assert_eq!(space.vmas().len(), o.vmas.len(), "{what}");
        for v in &o.vmas {
            let len = (v.end - v.start) as usize;
            let mut got = vec![0xAAu8; len];
            space.read_at(src, v.start, &mut got).unwrap();
            same(
                &got,
                &expected(&st, space.tag, v.start, len),
                &format!("{what} mm {} vma {:#x}", space.tag, v.start),
            );
            vmas_seen += 1;
        }
        // A read that starts inside the last VMA and runs past its end is refused.
        let last = space.vmas().iter().max_by_key(|v| v.end).unwrap().clone();
        let mut b = vec![0u8; 16];
        match space.read_at(src, last.end - 8, &mut b) {
            Err(PageError::Unmapped { addr }) => assert_eq!(addr, last.end, "{what}"),
            other => panic!("{what}: {other:?}"),
        }
    }
    assert!(vmas_seen > 0, "{what}");
    // Every live task reaches its address space.
    for t in index.model().tasks.iter().filter(|t| !t.zombie) {
        assert!(
            index.address_space_of(t.pid).is_some(),
            "{what} pid {}",
            t.pid
        );
    }
    for seg in index.shm_segments() {
        let mut got = vec![0xAAu8; seg.size as usize];
        seg.read_at(src, 0, &mut got).unwrap();
        let mut want = vec![0u8; seg.size as usize];
        for ((ns, k, a), b) in &st.shm_pages {
            if (*ns, *k) == (seg.ipc_ns, seg.ipc) {
                want[*a as usize..*a as usize + b.len()].copy_from_slice(b);
            }
        }
        same(&got, &want, &format!("{what} shm {}", seg.id));
        assert!(seg.pages().pages() > 0, "{what}");
    }
    let shm_records = index.model().record_counts.get("IPC_SHM").copied();
    assert_eq!(
        index.shm_segments().len() as u64,
        shm_records.unwrap_or(0),
        "{what}"
    );
    index
}

#[test]
fn reads_through_the_index_equal_the_streamed_pages_on_every_revision_and_arch() {
    let opts = BuildOptions {
        tasks: 4,
        memory: 96 * 1024,
        seed: 5,
        ..BuildOptions::default()
    };
    let mut pairs = 0;
    for s in Registry::get().all() {
        for &(arch, _) in &s.arches {
            let img = image(s, arch, &opts);
            check(&img, s, arch, &img);
            pairs += 1;
        }
    }
    assert!(pairs > 40, "{pairs}");
}

#[test]
fn reads_from_a_file_cross_chunks_and_vmas_and_give_zeros_for_holes() {
    // One task whose heap and stack (half the memory each) span two chunks (8192 pages
    // each on x86_64, 16384 on x86_32, as the kernel writes them).
    for (rev, arch, mib) in [("v23-rc2", Arch::X86_64, 72), ("v21-rc", Arch::X86_32, 136)] {
        let opts = BuildOptions {
            tasks: 1,
            memory: mib << 20,
            seed: 9,
            ..BuildOptions::default()
        };
        let s = Registry::get().find(rev).unwrap();
        let img = image(s, arch, &opts);
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&img).unwrap();
        let index = check(&img, s, arch, &f);
        let st = stream(&img, s, arch);
        let root = &index.model().tasks[0];
        let space = index.address_space_of(root.pid).unwrap();
        // A heap read across a chunk boundary, not aligned at either end.
        let heap = &space.vmas()[1];
        let c = space.pages().chunks();
        let second = c
            .iter()
            .find(|c| c.first > heap.start && c.first < heap.end);
        let boundary = second.expect("the heap spans two chunks").first;
        let mut b = vec![0u8; 3 * 4096 + 7];
        space.read_at(&f, boundary - 4096 - 3, &mut b).unwrap();
        same(
            &b,
            &expected(&st, space.tag, boundary - 4096 - 3, b.len()),
            rev,
        );
        // The executable's VMA holds 1 of its 4 pages: the other 3 read as zeros.
        let exe = &space.vmas()[0];
        let mut b = vec![0xAAu8; (exe.end - exe.start) as usize];
        space.read_at(&f, exe.start, &mut b).unwrap();
        assert!(b[4096..].iter().all(|&x| x == 0), "{rev}");
        assert!(b[..4096].iter().any(|&x| x != 0), "{rev}");
    }
}

#[test]
fn the_index_grows_with_chunks_not_pages() {
    let s = Registry::get().find("v23-rc2").unwrap();
    let count = |memory: u64| {
        let img = image(
            s,
            Arch::X86_64,
            &BuildOptions {
                tasks: 2,
                memory,
                ..BuildOptions::default()
            },
        );
        let index =
            PageIndex::build(&mut Reader::new(&img[..], Format::new(s, Arch::X86_64))).unwrap();
        let pages: u64 = index.address_spaces().map(|a| a.pages().pages()).sum();
        (index.chunk_count(), pages)
    };
    let (small_chunks, small_pages) = count(1 << 20);
    let (big_chunks, big_pages) = count(32 << 20);
    assert_eq!(big_pages, small_pages + (31 << 20) / 4096);
    // 32 times the pages, a few more chunks: one entry per 512 pages on x86_64.
    assert!(big_chunks <= small_chunks + (big_pages / 512) as usize + 4);
    assert!(big_pages / big_chunks as u64 > 100);
    // An entry is a few words, whatever the chunk holds.
    assert!(std::mem::size_of::<PageChunk>() <= 64);
}

#[test]
fn huge_pages_are_indexed_streamed_and_inline() {
    let opts = BuildOptions {
        tasks: 1,
        memory: 64 * 1024,
        with_hugetlb: true,
        ..BuildOptions::default()
    };
    // 2 MiB pages on x86_64 are streamed by the reader; 1 MiB pages on s390x are inline.
    for arch in [Arch::X86_64, Arch::S390x] {
        let s = Registry::get().find("1fd8e6e").unwrap();
        let img = image(s, arch, &opts);
        let index = check(&img, s, arch, &img);
        let huge: Vec<&PageChunk> = index
            .address_spaces()
            .flat_map(|a| a.pages().chunks())
            .filter(|c| c.page_shift > 12)
            .collect();
        assert_eq!(huge.len(), 1, "{arch}");
    }
}
