//! Address spaces: MM, its VMAs and page chunks, saved auxv, hugetlb pages.

use std::io::Write;

use crate::arch::Arch;
use crate::error::Result;
use crate::limits::PAGE_SIZE;
use crate::prng::SplitMix64;
use crate::value::put_uint;

use super::emit::{Emitter, Payload, fill_page, i, kernel_constants, u};
use super::files::generic_file;

/// Where the builder's tasks have their vDSO, and whether it is the x86_32 COMPAT_VDSO
/// page (VDSO_HIGH_BASE, no VMA).
pub(super) fn vdso_base(arch: Arch, compat_vdso: bool) -> (u64, bool) {
    match arch {
        Arch::X86_32 if compat_vdso => (0xffff_e000, true),
        _ if arch.word_size() == 4 => (0xb7ff_f000, false),
        _ => (0x7fff_ffff_e000, false),
    }
}

/// The offsets of __kernel_vsyscall (AT_SYSINFO) and of the return from SYSENTER in a
/// 32-bit x86 vDSO (the sysenter flavour of arch/x86/vdso/vdso32 in 2.6.3x).
pub(super) const X86_32_VSYSCALL: u64 = 0x414;
pub(super) const X86_32_SYSENTER_RETURN: u64 = 0x424;

#[allow(clippy::too_many_arguments)]
pub(super) fn write_mm<W: Write>(
    e: &mut Emitter<'_, W>,
    k: usize,
    cred: i64,
    pages: u64,
    hugetlb: bool,
    rng: &mut SplitMix64,
) -> Result<i64> {
    let arch = e.f.arch;
    let word = arch.word_size() as u64;
    let mm = e.objref("MM")?;
    let exe = generic_file(e, cred, &format!("/usr/bin/task{k}"), 0)?;
    let base: u64 = if word == 4 { 0x0804_8000 } else { 0x0040_0000 };
    let heap = base + 0x0100_0000;
    let stack_top: u64 = if word == 4 {
        0xbf80_0000
    } else {
        0x7fff_f000_0000
    };
    let heap_pages = pages / 2;
    let stack_pages = pages - heap_pages;
    let (vdso, no_vdso_vma) = e.vdso;
    let vmas: Vec<(&str, i64, u64, u64, u64, u64)> = vec![
        ("FILE", exe, base, base + 0x1000 * 4, 0x5, 1),
        (
            "ANON",
            0,
            heap,
            heap + 0x1000 * heap_pages.max(1),
            0x3,
            heap_pages,
        ),
        (
            "ANON",
            0,
            stack_top - 0x1000 * stack_pages.max(1),
            stack_top,
            0x3,
            stack_pages,
        ),
        ("VDSO", 0, vdso, vdso + 0x1000, 0x5, 0),
    ];
    let vmas: Vec<_> = vmas
        .into_iter()
        .filter(|v| !(no_vdso_vma && v.0 == "VDSO"))
        .collect();
    // A private anonymous hugetlb mapping (MAP_HUGETLB) of one huge page, after the heap.
    let hshift = hugetlb_shift(arch);
    let mut vmas = vmas;
    if hugetlb {
        let at: u64 = if word == 4 {
            0x4000_0000
        } else {
            0x7f00_0000_0000
        };
        vmas.insert(2, ("HUGETLB", 0, at, at + (1 << hshift), 0x3, 1));
    }
    e.rec(
        "MM",
        vec![
            ("map_count", u(vmas.len() as u64)),
            ("exe_objref", i(exe)),
            ("start_code", u(base)),
            ("end_code", u(base + 0x4000)),
            ("start_data", u(base + 0x4000)),
            ("end_data", u(base + 0x5000)),
            ("start_brk", u(heap)),
            ("brk", u(heap + 0x1000 * heap_pages.max(1))),
            ("start_stack", u(stack_top - 0x100)),
            ("arg_start", u(stack_top - 0x80)),
            ("arg_end", u(stack_top - 0x40)),
            ("env_start", u(stack_top - 0x40)),
            ("env_end", u(stack_top - 0x8)),
        ],
        &[],
        vec![Payload::Bytes(saved_auxv(e)?)],
    )?;
    // As the kernel writes them: at most CKPT_PGARR_BATCH = 16 page arrays of
    // PAGE_SIZE / sizeof(void *) addresses each to a chunk (16384 pages on 32-bit
    // arches, 8192 on 64-bit; mm/checkpoint.c vma_fill_pgarr).
    let chunk = 16 * (PAGE_SIZE as u64 / word).max(1);
    for (ty, objref, start, end, prot, npages) in vmas {
        let vt = e.f.schema.enum_value("vma", ty, arch).unwrap_or(2) as u64;
        let huge = ty == "HUGETLB";
        e.rec(
            "VMA",
            vec![
                ("vma_type", u(vt)),
                ("vma_objref", i(objref)),
                ("vm_start", u(start)),
                ("vm_end", u(end)),
                (
                    "vm_page_prot",
                    u(if prot & 2 != 0 {
                        0x8000_0000_0000_0067 & mask(word)
                    } else {
                        0x25
                    }),
                ),
                // VM_HUGETLB | VM_RESERVED for the hugetlb mapping, VM_ACCOUNT otherwise.
                (
                    "vm_flags",
                    u(if huge { 0x0048_0070 } else { 0x0010_0070 } | prot),
                ),
                ("vm_pgoff", u(if ty == "FILE" { 0 } else { start >> 12 })),
                ("hugetlb_shift", u(if huge { hshift } else { 0 })),
            ],
            &[],
            vec![],
        )?;
        if huge {
            write_hpages(e, start, npages, hshift, rng)?;
            continue;
        }
        let mut left = npages;
        let mut addr = start;
        while left > 0 {
            let n = left.min(chunk);
            let addrs: Vec<u64> = (0..n).map(|j| addr + j * PAGE_SIZE as u64).collect();
            let seed = rng.next_u64();
            e.rec(
                "PGARR",
                vec![("nr_pages", u(n))],
                &[],
                vec![Payload::Pages { addrs, seed }],
            )?;
            addr += n * PAGE_SIZE as u64;
            left -= n;
        }
        e.rec("PGARR", vec![("nr_pages", u(0))], &[], vec![])?;
    }
    match arch {
        Arch::X86_32 | Arch::X86_64 => e.rec(
            "MM_CONTEXT",
            vec![("vdso", u(vdso)), ("ldt_entry_size", u(8)), ("nldt", u(0))],
            &[],
            vec![Payload::Bytes(vec![])],
        )?,
        Arch::S390x => e.rec(
            "MM_CONTEXT",
            vec![
                ("vdso_base", u(0)),
                ("asce_bits", u(0xc)),
                ("asce_limit", u(1 << 42)),
            ],
            &[],
            vec![],
        )?,
        Arch::Arm => e.rec(
            "MM_CONTEXT",
            vec![("end_brk", u(heap + 0x1000 * heap_pages.max(1)))],
            &[],
            vec![],
        )?,
        // powerpc has no MM_CONTEXT record (v20 powerpc patch).
        Arch::Ppc | Arch::Ppc64 => {}
    }
    Ok(mm)
}

/// log2 of the huge page size: 2 MiB on x86 (and ARM LPAE), 1 MiB on s390x [L for ARM].
pub(super) fn hugetlb_shift(arch: Arch) -> u64 {
    match arch {
        Arch::S390x => 20,
        _ => 21,
    }
}

/// The huge pages of a HUGETLB VMA, inferred [L] (grammar-research.md §1g; no kernel code
/// of it is public): per huge page an HPAGE {vaddr, shift} record, then its contents,
/// `1 << shift` bytes. The contents are written as one BUFFER record per huge page, the
/// buffer-like form the VMA page chunks use (a headerless copy, as the socket fragment
/// pages have, is equally possible; the schemas claim no payload for HPAGE). The end
/// marker is unknown (a count in the VMA, an HPAGE with shift 0, or PGARR 0 are
/// candidates); none is written: every huge page of the VMA is written, so the VMA's size
/// gives their number.
pub(super) fn write_hpages<W: Write>(
    e: &mut Emitter<'_, W>,
    start: u64,
    n: u64,
    shift: u64,
    rng: &mut SplitMix64,
) -> Result<()> {
    e.summary.synthetic.push(
        "HPAGE: no kernel code is public; contents as a BUFFER and no end marker are inferred"
            .into(),
    );
    let buffer = e.f.record_type("BUFFER").unwrap();
    let size = 1u64 << shift;
    let mut page = vec![0u8; PAGE_SIZE as usize];
    for h in 0..n {
        e.rec(
            "HPAGE",
            vec![("vaddr", u(start + h * size)), ("shift", u(shift))],
            &[],
            vec![],
        )?;
        e.w.begin_record(buffer, size)?;
        let mut prng = SplitMix64::new(rng.next_u64());
        for k in 0..size / PAGE_SIZE as u64 {
            fill_page(&mut page, &mut prng, k);
            e.w.write_payload(&page)?;
        }
    }
    Ok(())
}

pub(super) fn mask(word: u64) -> u64 {
    if word == 4 { 0xffff_ffff } else { u64::MAX }
}

pub(super) fn saved_auxv<W: Write>(e: &Emitter<'_, W>) -> Result<Vec<u8>> {
    let arch = e.f.arch;
    let kc = kernel_constants(e.f)?;
    let value = |n: &str| kc.values.iter().find(|(x, _)| x == n).map(|(_, v)| *v);
    // Up to c97c03d the kernel saved native longs and the header gives bytes; from v19
    // it saves u64s and the header gives entries.
    let (entries, word) = match (value("mm_saved_auxv_len"), value("at_vector_size")) {
        (Some(bytes), _) => (
            (bytes / arch.word_size() as u64) as usize,
            arch.word_size() as usize,
        ),
        (None, Some(n)) => (n as usize, 8),
        (None, None) => return Err(e.err("ckpt_const has no saved_auxv size".into())),
    };
    let mut pairs: Vec<(u64, u64)> = vec![(6, 4096), (17, 100), (3, 0x400040), (4, 56), (5, 9)];
    if arch == Arch::X86_32 {
        // AT_SYSINFO (__kernel_vsyscall) and AT_SYSINFO_EHDR (the vDSO), as
        // ARCH_DLINFO_IA32 adds them.
        let vdso = e.vdso.0;
        pairs.extend([(32, vdso + X86_32_VSYSCALL), (33, vdso)]);
    }
    pairs.push((0, 0));
    let mut out = vec![0u8; entries * word];
    for (k, (t, v)) in pairs.iter().enumerate() {
        if (2 * k + 1) * word < out.len() {
            put_uint(&mut out[2 * k * word..(2 * k + 1) * word], *t, e.f.endian());
            put_uint(
                &mut out[(2 * k + 1) * word..(2 * k + 2) * word],
                *v,
                e.f.endian(),
            );
        }
    }
    Ok(out)
}
