//! x86_32 ↔ x86_64: an image of a 32-bit kernel restarted by a 64-bit kernel with
//! CONFIG_IA32_EMULATION as 32-bit (compat) tasks, and back. Every revision that has both
//! arches (76fcfe5 on) crosses it the same way; the facts and their sources are in
//! `schemas/x86-32-on-64.md`.
//!
//! "Up" is x86_32 → x86_64, "down" the reverse. Down is possible only for images whose
//! every task is a 32-bit task whose memory lies below the x86_32 kernel's TASK_SIZE.

use ckpt_format::Arch;

use super::{ArchRewrite, ArchRule, ArchStep, Carry, Confidence};

/// The architecture change.
pub static X86_COMPAT: ArchStep = ArchStep {
    narrow: Arch::X86_32,
    wide: Arch::X86_64,
    // arch/x86/include/asm/thread_info.h, 2.6.28 .. 3.0: one header for both kernels.
    tif_ia32_bit: ckpt_format::summary::names::X86_TIF_IA32,
    // CKPT_PGARR_BATCH = 16 page arrays of CKPT_PGARR_TOTAL = PAGE_SIZE / sizeof(void *)
    // addresses: the most pages checkpoint puts in one chunk (mm/checkpoint.c
    // vma_fill_pgarr, v20 42/96). Restore has no limit of its own.
    chunk_pages: (16384, 8192),
    // VMSPLIT_3G, the default PAGE_OFFSET of x86_32 kernels.
    narrow_task_size: 0xC000_0000,
    // IA32_PAGE_OFFSET (arch/x86/include/asm/processor.h): TASK_SIZE of a TIF_IA32 task.
    wide_compat_task_size: 0xFFFF_E000,
    rules: &[
        ArchRule {
            rule: ArchRewrite::Header,
            subject: "HEADER arch_id and ckpt_const",
            up: Carry::Lossless,
            down: Carry::Lossless,
            confidence: Confidence::High,
            source: "kernel-side.md §1.2; kernel-consts.md §3",
            why: "restart compares arch_id with the kernel's CKPT_ARCH_ID and every ckpt_const \
                  field exactly: they become the target kernel's (x86_64 with \
                  IA32_EMULATION=y: AT_VECTOR_SIZE 44 from 2.6.33)",
        },
        ArchRule {
            rule: ArchRewrite::Layouts,
            subject: "every record",
            up: Carry::Lossless,
            down: Carry::Lossless,
            confidence: Confidence::High,
            source: "tests/facts/gcc/*-x86_32.json, *-x86_64.json",
            why: "the structs are the same; x86_32 aligns __u64 to 4 bytes, which moves the \
                  members of ckpt_hdr_task in 76fcfe5 and c97c03d: every record is laid out \
                  again by member names",
        },
        ArchRule {
            rule: ArchRewrite::PageWords,
            subject: "BUFFER of page addresses (payload of PGARR)",
            up: Carry::Lossless,
            down: Carry::Lossless,
            confidence: Confidence::High,
            source: "format-history.md §6; v20 42/96 vma_dump_pages, 43/96 \
                     restore_memory_contents (the BUFFER's exact length)",
            why: "the addresses before a chunk's pages are native longs: 4 bytes on x86_32, 8 on \
                  x86_64; every chunk is rewritten with the target's width",
        },
        ArchRule {
            rule: ArchRewrite::PageChunks,
            subject: "PGARR nr_pages",
            up: Carry::Lossless,
            down: Carry::Lossless,
            confidence: Confidence::Medium,
            source: "v20 42/96 vma_fill_pgarr (CKPT_PGARR_BATCH), 43/96 read_pages_vaddrs",
            why: "checkpoint puts at most 16 x PAGE_SIZE / sizeof(long) pages in a chunk (16384 \
                  on x86_32, 8192 on x86_64); restore takes any count, so chunks are split \
                  only to look as the target kernel writes them, and joined again going back",
        },
        ArchRule {
            rule: ArchRewrite::Ia32Flag,
            subject: "THREAD thread_info_flags TIF_IA32",
            up: Carry::Lossless,
            down: Carry::Refused,
            confidence: Confidence::High,
            source: "v20 25/96 <1268842164-5590-26-…> restore_thread; asm/thread_info.h TIF_IA32 \
                     (bit 17 in 2.6.31 .. 3.0, one header for both arches)",
            why: "an x86_64 kernel restarts a task only when TIF_IA32 in the image matches the \
                  restarting task (\"%d-bit restarting %d-bit\"): every task is marked 32-bit; \
                  going back, a 64-bit task has no x86_32 form",
        },
        ArchRule {
            rule: ArchRewrite::Segments,
            subject: "CPU cs, ss, ds, es, fsindex, gsindex",
            up: Carry::Lossless,
            down: Carry::Refused,
            confidence: Confidence::High,
            source: "v20 24/96 and 25/96 encode_segment, check_segment; asm/segment.h",
            why: "segments are stored as codes (USER32_CS/DS, TLS|n, LDT|n, TLS relative to \
                  GDT_ENTRY_TLS_MIN) that mean the same on both kernels, and x86_64 accepts \
                  USER32 codes with CONFIG_COMPAT: kept; an x86_64 kernel writes a 32-bit \
                  task's data segments as USER64_DS (its __USER32_DS is __USER_DS), which \
                  x86_32 refuses: they become USER32_DS going back; USER64_CS is 64-bit code",
        },
        ArchRule {
            rule: ArchRewrite::Registers,
            subject: "CPU registers",
            up: Carry::Lossless,
            down: Carry::Lossless,
            confidence: Confidence::High,
            source: "asm/checkpoint_hdr.h ckpt_hdr_cpu; v20 24/96 and 25/96 save_cpu_regs",
            why: "the record holds every register as __u64 on both kernels: carried value for \
                  value; an x86_32 kernel leaves r8..r15 and the fs/gs bases 0 and ignores \
                  them, so going back they become 0",
        },
        ArchRule {
            rule: ArchRewrite::RobustFutex,
            subject: "TASK robust_futex_list, compat_robust_futex_list (and head lengths)",
            up: Carry::Lossless,
            down: Carry::Lossless,
            confidence: Confidence::Medium,
            source: "v20 33/96 save/restore_task_robust_futex_list; kernel/futex_compat.c",
            why: "a 32-bit task's list is the native one on x86_32 (head 12 bytes) and the \
                  compat one on x86_64, whose native head length is a 64-bit head's (24); \
                  restore ignores a failed set_robust_list, so an unmoved list is lost \
                  silently",
        },
        ArchRule {
            rule: ArchRewrite::SavedAuxv,
            subject: "BUFFER saved_auxv (payload of MM)",
            up: Carry::Lossless,
            down: Carry::Lossless,
            confidence: Confidence::High,
            source: "fs/compat_binfmt_elf.c (elf_addr_t is Elf32_Addr), fs/binfmt_elf.c \
                     create_elf_tables (2.6.33); v20 42/96 ckpt_write_auxv",
            why: "a 64-bit kernel stores a compat task's auxv as 32-bit words, two to an \
                  unsigned long of mm->saved_auxv; an x86_32 kernel one word to each",
        },
        ArchRule {
            rule: ArchRewrite::Vdso,
            subject: "MM_CONTEXT vdso, the VDSO VMA, THREAD sysenter_return, auxv AT_SYSINFO \
                      and AT_SYSINFO_EHDR, CPU ip",
            up: Carry::Lossless,
            down: Carry::Lossless,
            confidence: Confidence::Medium,
            source: "v20 12/96 and 43/96 special_mapping_restore, restore_mm_context; \
                     arch/x86/vdso/vdso32-setup.c (2.6.33)",
            why: "restart maps the vDSO at its VMA's vm_start and requires MM_CONTEXT.vdso to \
                  equal it: it stays where the image has it when that fits the target, \
                  --vdso ADDR moves every reference to it together; the COMPAT_VDSO page \
                  0xffffe000 has no VMA on x86_32 and one on x86_64, added or left out",
        },
        ArchRule {
            rule: ArchRewrite::TaskSize,
            subject: "VMA vm_start, vm_end",
            up: Carry::Lossless,
            down: Carry::Refused,
            confidence: Confidence::High,
            source: "arch/x86/Kconfig VMSPLIT_3G (PAGE_OFFSET 0xC0000000); asm/processor.h \
                     IA32_PAGE_OFFSET (0xFFFFe000)",
            why: "a compat task on x86_64 may map memory up to 4 GiB; an x86_32 kernel's tasks \
                  end at TASK_SIZE (3 GiB with the default split)",
        },
        ArchRule {
            rule: ArchRewrite::RestartBlock,
            subject: "RESTART_BLOCK function_type, arg_1, arg_2",
            up: Carry::Lossless,
            down: Carry::Lossless,
            confidence: Confidence::Medium,
            source: "v20 28/96 restore_restart_block; kernel/compat.c compat_sys_nanosleep",
            why: "a 32-bit task interrupted in nanosleep has an HRTIMER_NANOSLEEP block on \
                  x86_32 (user rmtp in arg_1) and a COMPAT_NANOSLEEP one on x86_64 (user \
                  compat_rmtp in arg_2; arg_1 is replaced at restart); a native block would \
                  write a 64-bit timespec into the task's 32-bit one",
        },
        ArchRule {
            rule: ArchRewrite::CpuFeatures,
            subject: "HEADER_ARCH, CPU_FPU",
            up: Carry::Lossless,
            down: Carry::Lossless,
            confidence: Confidence::High,
            source: "kernel-side.md §1.3",
            why: "has_fxsr, has_xsave and xstate_size are the CPU's, compared exactly: copied, \
                  or the target CPU's with --target-cpu, every task's FPU state then in its \
                  save format and size; the x87 instruction and operand pointers take the \
                  64-bit FXSAVE form an x86_64 kernel saves (FCS, FDS not kept)",
        },
    ],
};
