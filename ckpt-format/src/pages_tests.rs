//! Unit tests of the page index: chunk bookkeeping on hand-made chunks (non-contiguous,
//! unordered, repeated pages), reads across chunks and VMAs, holes as zeros.

use super::*;

const P: u64 = PAGE_SIZE as u64;

/// An "image" of chunks laid out back to back, each `addrs` (u64 little-endian) then
/// pages whose bytes are `fill(addr, k)`, and the page map of them.
fn image(chunks: &[&[u64]], fill: impl Fn(u64, usize) -> u8) -> (Vec<u8>, PageMap) {
    let codec = AddrCodec {
        word: 8,
        endian: Endian::Little,
        indices: false,
    };
    let mut img = vec![0xEEu8; 8];
    let mut map = PageMap::new(codec);
    for (k, addrs) in chunks.iter().enumerate() {
        let addrs_offset = img.len() as u64;
        for a in *addrs {
            img.extend_from_slice(&a.to_le_bytes());
        }
        let data_offset = img.len() as u64;
        for &a in *addrs {
            img.extend((0..P as usize).map(|i| fill(a, k).wrapping_add(i as u8)));
        }
        let first = *addrs.iter().min().unwrap();
        map.chunks.push(PageChunk {
            record: k as u64,
            addrs_offset,
            data_offset,
            count: addrs.len() as u32,
            page_shift: 12,
            contiguous: addrs
                .iter()
                .enumerate()
                .all(|(i, &a)| a == first + i as u64 * P),
            ascending: addrs.windows(2).all(|w| w[0] < w[1]),
            first,
            last: *addrs.iter().max().unwrap(),
        });
    }
    map.finish();
    (img, map)
}

/// Asserts `a == b` naming the first byte that differs (not printing pages).
#[track_caller]
fn same(a: &[u8], b: &[u8]) {
    let at = a.iter().zip(b).position(|(x, y)| x != y);
    assert!(
        at.is_none() && a.len() == b.len(),
        "differ at byte {at:?} (lengths {} and {})",
        a.len(),
        b.len()
    );
}

/// The page byte pattern of `image`: the page's number plus the chunk's index.
fn pattern(a: u64, k: usize) -> u8 {
    (a / P) as u8 ^ (k as u8).wrapping_mul(0x40)
}

/// What a page of `image` holds at `addr`, from chunk `k`.
fn expected(addr: u64, k: usize) -> Vec<u8> {
    (0..P as usize)
        .map(|i| pattern(addr, k).wrapping_add(i as u8))
        .collect()
}

#[test]
fn contiguous_and_scattered_chunks_are_found_and_holes_read_as_zeros() {
    let base = 0x40_0000;
    let scattered = [base + 10 * P, base + 12 * P, base + 20 * P];
    let unordered = [base + 31 * P, base + 30 * P];
    let (img, map) = image(
        &[
            &[base, base + P, base + 2 * P],
            &scattered,
            &unordered,
            &[base + 3 * P],
        ],
        pattern,
    );
    assert!(map.chunks[0].contiguous && map.chunks[0].ascending);
    assert!(!map.chunks[1].contiguous && map.chunks[1].ascending);
    assert!(!map.chunks[2].contiguous && !map.chunks[2].ascending);
    assert_eq!(map.pages(), 9);
    let page = |a: u64| {
        let mut b = vec![0u8; P as usize];
        map.read_at(&img, a, &mut b).unwrap();
        b
    };
    same(&page(base + P), &expected(base + P, 0));
    same(&page(base + 3 * P), &expected(base + 3 * P, 3));
    same(&page(base + 12 * P), &expected(base + 12 * P, 1));
    same(&page(base + 20 * P), &expected(base + 20 * P, 1));
    same(&page(base + 30 * P), &expected(base + 30 * P, 2));
    same(&page(base + 31 * P), &expected(base + 31 * P, 2));
    // Pages inside a chunk's range that it does not hold, and beyond every chunk.
    same(&page(base + 11 * P), &vec![0; P as usize]);
    same(&page(base + 40 * P), &vec![0; P as usize]);
    // A read across two chunks and a hole, not page-aligned at either end.
    let mut b = vec![0u8; 3 * P as usize];
    map.read_at(&img, base + 2 * P + 100, &mut b).unwrap();
    let mut want = expected(base + 2 * P, 0)[100..].to_vec();
    want.extend(expected(base + 3 * P, 3));
    want.extend(vec![0; 2 * P as usize]);
    want.truncate(3 * P as usize);
    same(&b, &want);
    // The present ranges, merged.
    let ranges = map.present(&img).unwrap();
    assert_eq!(
        ranges,
        vec![
            base..base + 4 * P,
            base + 10 * P..base + 11 * P,
            base + 12 * P..base + 13 * P,
            base + 20 * P..base + 21 * P,
            base + 30 * P..base + 32 * P,
        ]
    );
}

#[test]
fn a_page_held_twice_reads_from_the_later_chunk() {
    let (img, map) = image(&[&[0, P, 2 * P], &[P]], pattern);
    let mut b = vec![0u8; 3 * P as usize];
    map.read_at(&img, 0, &mut b).unwrap();
    let mut want = expected(0, 0);
    want.extend(expected(P, 1));
    want.extend(expected(2 * P, 0));
    same(&b, &want);
}

#[test]
fn address_spaces_refuse_bytes_outside_every_vma_and_read_across_adjacent_vmas() {
    let (img, pages) = image(&[&[0x1000, 0x2000], &[0x3000]], pattern);
    let space = AddressSpace {
        tag: 1,
        vmas: vec![0x1000..0x3000, 0x3000..0x5000, 0x8000..0x9000],
        pages,
    };
    let mut b = vec![0u8; 0x3000];
    space.read_at(&img, 0x1800, &mut b).unwrap();
    same(&b[..0x800], &expected(0x1000, 0)[0x800..]);
    same(&b[0x1800..0x2800], &expected(0x3000, 1)[..]);
    same(&b[0x2800..], &[0u8; 0x800][..]);
    assert_eq!(space.vma_of(0x3000), Some(1));
    assert_eq!(space.first_unmapped(0x1000, 0x4000), None);
    let mut b = vec![0u8; 0x10];
    match space.read_at(&img, 0x4ff8, &mut b) {
        Err(PageError::Unmapped { addr }) => assert_eq!(addr, 0x5000),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        space.read_at(&img, u64::MAX - 4, &mut b),
        Err(PageError::Unmapped { .. })
    ));
    assert!(matches!(
        space.read_at(&img, 0x6000, &mut b),
        Err(PageError::Unmapped { addr: 0x6000 })
    ));
}

#[test]
fn a_chunk_whose_array_cannot_be_read_again_is_an_error_naming_its_record() {
    let (img, map) = image(&[&[0, 5 * P]], pattern);
    let short = img[..img.len() - (2 * P as usize + 16)].to_vec();
    let mut b = vec![0u8; 16];
    match map.read_at(&short, 5 * P, &mut b) {
        Err(PageError::Io { record, .. }) => assert_eq!(record, 0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn shm_indices_scale_to_offsets_and_reads_stop_at_the_segment_end() {
    let codec = AddrCodec {
        word: 4,
        endian: Endian::Big,
        indices: true,
    };
    let mut out = Vec::new();
    codec
        .decode(&[0, 0, 0, 1, 0, 0, 0, 3], &mut out)
        .expect("indices fit");
    assert_eq!(out, vec![P, 3 * P]);
    let wide = AddrCodec { word: 8, ..codec };
    assert!(wide.decode(&[0xff; 8], &mut out).is_none());
    let seg = ShmSegment {
        ipc_ns: 1,
        ipc: 0,
        id: 0,
        key: 0,
        size: 2 * P,
        objref: 0,
        pages: PageMap::new(codec),
    };
    let mut b = vec![1u8; 16];
    seg.read_at(&[][..], P, &mut b).unwrap();
    same(&b, &[0; 16]);
    assert!(matches!(
        seg.read_at(&[][..], 2 * P - 8, &mut b),
        Err(PageError::PastSegment { .. })
    ));
}
