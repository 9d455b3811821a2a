//! The x86 FPU state for the target CPU (`--target-cpu`): HEADER_ARCH says what the CPU
//! has (has_fxsr, has_xsave, xstate_size), restart compares all three with the
//! restarting kernel's exactly, and every task's CPU_FPU is a raw copy of the kernel's
//! xstate area of exactly xstate_size bytes (kernel-side.md §1.3).
//!
//! The area is FXSAVE's 512 bytes, followed with XSAVE by a 64-byte header (XSTATE_BV,
//! the components saved, at 512) and the extended components in the standard format:
//! AVX's upper halves of the YMM registers at 576 (256 bytes), which is all the
//! 2.6.3x kernels save (XCNTXT_MASK = FP | SSE | YMM). So:
//!
//! * FXSAVE → XSAVE: the legacy area as it is, XSTATE_BV = FP | SSE (the legacy area
//!   holds both), every other component in its initial state (zeros);
//! * XSAVE → FXSAVE: the legacy area, where a component XSTATE_BV marks as initial is
//!   written in its initial state (XSAVE need not have written it); AVX state in use is
//!   lost (a loss, `--allow-lossy`);
//! * XSAVE → a smaller XSAVE area: the components beyond it are cut, a loss when in use.
//!
//! An FSAVE area (a CPU without FXSR, 112 bytes, x86_32 only) has another layout: refused.

use ckpt_format::RecordInfo;
use ckpt_format::read::Decoded;
use ckpt_format::value::{Value, get_uint, put_uint};

use crate::check::CpuFacts;
use crate::error::ConvertError;
use crate::ledger::Action;
use crate::mechanical::Conv;

use super::put_member;

/// The FXSAVE (legacy) area, and where the XSAVE header's XSTATE_BV is.
const LEGACY: usize = 512;
const XSTATE_BV: usize = 512;
/// The XSAVE header's size: the smallest XSAVE area.
const XSAVE_MIN: usize = 576;
/// XSTATE_BV bits: x87, SSE, AVX (YMM upper halves at 576, 256 bytes).
const FP: u64 = 1;
const SSE: u64 = 2;
const YMM: u64 = 4;
const YMM_AT: usize = 576;
/// The FXSAVE fields of the x87 state (FCW ... FDS, ST0-7), and of the SSE state (XMM0-15).
const X87_CONTROL: std::ops::Range<usize> = 0..24;
const X87_REGS: std::ops::Range<usize> = 32..160;
const XMM_REGS: std::ops::Range<usize> = 160..416;
/// FINIT's control word.
const FCW_INIT: u64 = 0x037f;

/// The source CPU's FPU facts (from its HEADER_ARCH), once read.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FpuFacts {
    source: Option<CpuFacts>,
}

fn cpu_of(d: &Decoded) -> CpuFacts {
    CpuFacts {
        fxsr: d.int("has_fxsr").unwrap_or(0) != 0,
        xsave: d.int("has_xsave").unwrap_or(0) != 0,
        xstate_size: d.int("xstate_size").unwrap_or(0) as u16,
    }
}

fn is_x86(conv: &Conv<'_>) -> bool {
    matches!(
        conv.to.arch,
        ckpt_format::Arch::X86_32 | ckpt_format::Arch::X86_64
    )
}

/// HEADER_ARCH: the target CPU's facts (when `--target-cpu` is given).
pub(super) fn header_arch(
    conv: &mut Conv<'_>,
    st: &mut FpuFacts,
    info: &RecordInfo,
    decoded: &Decoded,
    out: &mut [u8],
) -> Result<(), ConvertError> {
    if info.name != "HEADER_ARCH" || info.payload_of.is_some() || !is_x86(conv) {
        return Ok(());
    }
    let src = cpu_of(decoded);
    st.source = Some(src);
    let Some(tgt) = conv.opts.target_cpu else {
        return Ok(());
    };
    if src.xstate_size == tgt.xstate_size && src.fxsr == tgt.fxsr && src.xsave == tgt.xsave {
        return Ok(());
    }
    for (cpu, whose) in [(src, "image's"), (tgt, "target")] {
        if !cpu.fxsr {
            return Err(ConvertError::Refused(format!(
                "record #{} HEADER_ARCH: the {whose} CPU has no FXSR, and its FSAVE state \
                 ({} bytes) has another layout than FXSAVE/XSAVE: ckpt converts the FPU state \
                 only between FXSR CPUs",
                info.index, cpu.xstate_size
            )));
        }
        let size = cpu.xstate_size as usize;
        if size < LEGACY || cpu.xsave && size < XSAVE_MIN || !cpu.xsave && size != LEGACY {
            return Err(ConvertError::Refused(format!(
                "record #{} HEADER_ARCH: the {whose} CPU's xstate_size {size} does not fit \
                 its FPU save format ({})",
                info.index,
                if cpu.xsave {
                    "XSAVE, at least 576 bytes"
                } else {
                    "FXSAVE, 512 bytes"
                }
            )));
        }
    }
    for (m, old, new) in [
        ("has_fxsr", src.fxsr as u64, tgt.fxsr as u64),
        ("has_xsave", src.xsave as u64, tgt.xsave as u64),
        (
            "xstate_size",
            src.xstate_size as u64,
            tgt.xstate_size as u64,
        ),
    ] {
        if old != new {
            put_member(conv, "ckpt_hdr_header_arch", m, &Value::Uint(new), out)?;
            conv.note(
                info.index,
                "HEADER_ARCH",
                m,
                Action::Rewritten,
                Some(Value::Uint(old)),
                Some(Value::Uint(new)),
            );
            conv.because(
                "restart compares the CPU's FPU facts exactly: the target CPU's (--target-cpu)",
            );
        }
    }
    Ok(())
}

/// CPU_FPU: the task's FPU state in the target CPU's save format and size.
pub(super) fn fpu_state(
    conv: &mut Conv<'_>,
    st: &FpuFacts,
    info: &RecordInfo,
    out: &mut Vec<u8>,
) -> Result<(), ConvertError> {
    if info.payload_of.is_none_or(|p| p.0 != "CPU") || info.name != "CPU_FPU" {
        return Ok(());
    }
    let (Some(src), Some(tgt)) = (st.source, conv.opts.target_cpu) else {
        return Ok(());
    };
    let body = out.get(8..).unwrap_or(&[]).to_vec();
    let (have, want) = (body.len(), tgt.xstate_size as usize);
    if have == want && src.xsave == tgt.xsave {
        return Ok(());
    }
    if have != src.xstate_size as usize || have < LEGACY {
        return Err(ConvertError::Refused(format!(
            "record #{} CPU_FPU at offset {:#x}: {have} bytes where HEADER_ARCH says \
             xstate_size {}",
            info.index, info.offset, src.xstate_size
        )));
    }
    let le = ckpt_format::Endian::Little;
    let mut new = vec![0u8; want];
    new[..LEGACY].copy_from_slice(&body[..LEGACY]);
    let src_bv = if src.xsave {
        get_uint(&body[XSTATE_BV..XSTATE_BV + 8], le)
    } else {
        FP | SSE
    };
    let mut lost = Vec::new();
    if tgt.xsave {
        // The components the target area holds: those of the source that fit.
        let keep = if want >= YMM_AT + 256 {
            FP | SSE | YMM
        } else {
            FP | SSE
        };
        let bv = src_bv & keep;
        if src_bv & YMM != 0 && bv & YMM == 0 && body[YMM_AT.min(have)..].iter().any(|&b| b != 0) {
            lost.push("AVX (YMM upper halves)");
        }
        let n = have.min(want);
        if n > XSAVE_MIN && src.xsave {
            new[XSAVE_MIN..n].copy_from_slice(&body[XSAVE_MIN..n]);
        }
        if bv & YMM == 0 {
            new[YMM_AT.min(want)..].fill(0);
        }
        put_uint(&mut new[XSTATE_BV..XSTATE_BV + 8], bv, le);
    } else {
        // FXSAVE has no XSTATE_BV: a component XSAVE left in its initial state is
        // written in it.
        if src_bv & FP == 0 {
            new[X87_CONTROL].fill(0);
            put_uint(&mut new[0..2], FCW_INIT, le);
            new[X87_REGS].fill(0);
        }
        if src_bv & SSE == 0 {
            new[XMM_REGS].fill(0);
        }
        if src_bv & YMM != 0 && body[YMM_AT.min(have)..].iter().any(|&b| b != 0) {
            lost.push("AVX (YMM upper halves)");
        }
    }
    let len = (8 + want) as u64;
    out.truncate(8);
    out.extend_from_slice(&new);
    put_uint(&mut out[4..8], len, conv.to.endian());
    let format = |c: &CpuFacts| {
        format!(
            "{} bytes ({})",
            c.xstate_size,
            if c.xsave { "XSAVE" } else { "FXSAVE" }
        )
    };
    conv.note(
        info.index,
        "CPU_FPU",
        "xstate",
        if lost.is_empty() {
            Action::Rewritten
        } else {
            Action::Dropped
        },
        Some(Value::Text(format(&src))),
        Some(Value::Text(format(&tgt))),
    );
    conv.because(if lost.is_empty() {
        "the target CPU's save format (--target-cpu): the same registers, unused components \
         in their initial state"
            .to_string()
    } else {
        format!(
            "the target CPU's save format (--target-cpu) cannot hold the task's {} state, \
             which it uses",
            lost.join(", ")
        )
    });
    Ok(())
}
