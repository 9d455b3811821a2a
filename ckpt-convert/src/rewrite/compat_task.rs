//! The per-task rules of the arch change x86_32 ↔ x86_64 ([`crate::steps::X86_COMPAT`]):
//! a task of a 32-bit kernel becomes a 32-bit (compat) task of a 64-bit kernel, and back.
//! The facts and their sources: `schemas/x86-32-on-64.md`.
//!
//! Up (x86_32 → x86_64): THREAD gains TIF_IA32; the robust futex list moves to the compat
//! fields of TASK; a nanosleep restart block becomes the compat one; the saved auxv
//! becomes 32-bit words two to an entry; the FPU state's instruction and operand pointers
//! take the 64-bit FXSAVE form; the COMPAT_VDSO page (0xffffe000, which an x86_32 kernel
//! maps without a VMA) gets the VMA an x86_64 kernel needs for it; the vDSO stays, or
//! moves with `--vdso` (MM_CONTEXT, its VMA, THREAD.sysenter_return, AT_SYSINFO and
//! AT_SYSINFO_EHDR, an ip inside it). Down: the reverse, and the data segments the
//! x86_64 kernel writes as USER64_DS become USER32_DS; refused for a 64-bit task (no
//! TIF_IA32, USER64_CS) and for memory at or above the x86_32 TASK_SIZE.
//!
//! Segment codes and registers need nothing going up: the codes mean the same on both
//! kernels and the CPU record holds every register as `__u64` on both (the mechanical
//! mapping carries them).

use ckpt_format::RecordInfo;
use ckpt_format::read::Decoded;
use ckpt_format::value::{Value, get_uint, put_uint};

use crate::error::ConvertError;
use crate::ledger::{Action, LedgerEntry};
use crate::mechanical::Conv;
use crate::steps::{ArchRewrite, ArchStep, Direction};
use crate::transform::Out;

use super::{Flow, State, put_member, struct_record};

/// auxv entry types that hold vDSO addresses (include/linux/auxvec.h, asm/auxvec.h).
const AT_SYSINFO: u64 = 32;
const AT_SYSINFO_EHDR: u64 = 33;

/// FXSAVE bytes 8..24: FIP, FCS, FDP, FDS in the 32-bit form; FIP, FDP in the 64-bit one.
const FX_POINTERS: std::ops::Range<usize> = 8..24;

/// Segment codes (asm/checkpoint_hdr.h).
const SEG_USER32_CS: i128 = 1;
const SEG_USER32_DS: u64 = 2;
const SEG_USER64_CS: i128 = 3;
const SEG_USER64_DS: i128 = 4;

/// VDSO_HIGH_BASE (asm/fixmap.h on x86_32, asm/vdso.h on x86_64): the COMPAT_VDSO page.
const VDSO_HIGH_BASE: u64 = 0xffff_e000;
/// The vDSO of a 32-bit task is one page (arch/x86/vdso/vdso32).
const VDSO_LEN: u64 = 0x1000;
/// The flags install_special_mapping gives the vDSO's VMA: VM_READ | VM_EXEC |
/// VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ALWAYSDUMP, and VM_DONTEXPAND
/// (arch/x86/vdso/vdso32-setup.c, mm/mmap.c, 2.6.33).
const VDSO_VM_FLAGS: u64 = 0x0404_0075;

/// What the arch change keeps between records.
///
/// A task's THREAD and CPU come before its address space in the stream, so their vDSO
/// is known from THREAD.sysenter_return (which points into it, v23-rc1 on), else from
/// the address space written last (a thread, or a fork that did not exec, shares it),
/// else it is the fixed VDSO_HIGH_BASE page when the address lies there. When the task's
/// own address space then shows another vDSO than the one assumed for an ip that was
/// inside it, the conversion is refused rather than guessed.
#[derive(Debug, Default)]
pub(crate) struct Compat {
    /// The vDSO of the address space being written (AT_SYSINFO_EHDR, its VMA,
    /// MM_CONTEXT), once seen.
    current: Option<u64>,
    /// The vDSO of the address space written last.
    last: Option<u64>,
    /// The vDSO the current task's THREAD and CPU were converted with.
    task: Option<u64>,
    /// The current task's CPU ip, once read.
    ip: Option<u64>,
    /// The MM record (converted), held until its saved auxv shows whether its VMA count
    /// changes.
    held_mm: Option<Vec<u8>>,
    /// Up: the address space's vDSO is the COMPAT_VDSO page without a VMA; one is added
    /// before MM_CONTEXT.
    add_vma: bool,
    /// Down: its vDSO is the COMPAT_VDSO page, whose VMA x86_32 has not; it is left out.
    drop_vma: bool,
    /// Down: the VMA was left out, and the PGARR 0 that ends it is next.
    dropping: bool,
}

fn inside(base: Option<u64>, a: u64) -> Option<u64> {
    let b = base?;
    (a >= b && a < b + VDSO_LEN).then_some(b)
}

/// The new value of `a` if it lies in the vDSO at `base` and `--vdso` moves it.
fn moved(to: Option<u64>, base: Option<u64>, a: u64) -> Option<u64> {
    let (b, to) = (inside(base, a)?, to?);
    (b != to).then(|| a - b + to)
}

fn change(conv: &Conv<'_>) -> Option<(&'static ArchStep, Direction)> {
    conv.plan.arch_change
}

/// Notes a change made by arch rule `r`.
#[allow(clippy::too_many_arguments)]
fn note(
    conv: &mut Conv<'_>,
    r: ArchRewrite,
    idx: u64,
    record: &str,
    field: &str,
    action: Action,
    old: Option<Value>,
    new: Option<Value>,
) {
    let Some((step, _)) = change(conv) else {
        return;
    };
    let mut e = LedgerEntry::new(idx, record, field, action, old, new);
    e.step = Some(format!("{} -> {}", conv.from.arch, conv.to.arch));
    e.reason = Some(format!("{} ({})", step.rule(r).why, step.rule(r).source));
    conv.pending.push(e);
}

/// "task 2 (pid 3)" for messages.
fn task_label(st: &State) -> String {
    let k = st.task_count.saturating_sub(1);
    match st.tasks.get(k) {
        Some(t) if t.pid != 0 => format!("task {k} (pid {})", t.pid),
        _ => format!("task {k}"),
    }
}

fn refuse(conv: &Conv<'_>, r: ArchRewrite, info: &RecordInfo, what: String) -> ConvertError {
    let why = change(conv).map_or("", |(s, _)| s.rule(r).why);
    ConvertError::Refused(format!(
        "record #{} ({} at offset {:#x}): {what}; converting to {} is refused ({why})",
        info.index, info.name, info.offset, conv.to.arch
    ))
}

fn vma_is_vdso(conv: &Conv<'_>, decoded: &Decoded) -> bool {
    let t = decoded.int("vma_type").unwrap_or(-1);
    conv.from.schema.enum_name("vma", t as i64, conv.from.arch) == Some("VDSO")
}

/// Before the mechanical mapping: the refusals (down: 64-bit tasks, memory above
/// TASK_SIZE; the vDSO's place), the vDSO facts later records need, the VMA added
/// before MM_CONTEXT (up) and the one left out (down).
pub(super) fn take(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
    decoded: &Decoded,
    outs: &mut Vec<Out>,
) -> Result<Flow, ConvertError> {
    let Some((step, dir)) = change(conv) else {
        return Ok(Flow::Pass);
    };
    if info.payload_of.is_some() {
        return Ok(Flow::Pass);
    }
    let int = |p: &str| decoded.int(p).unwrap_or(0);
    let c = &mut st.compat;
    match info.name {
        "TASK" => {
            c.task = c.last;
            c.ip = None;
        }
        "THREAD" => {
            if dir == Direction::Down && int("thread_info_flags") & (1 << step.tif_ia32_bit) == 0 {
                return Err(refuse(
                    conv,
                    ArchRewrite::Ia32Flag,
                    info,
                    format!(
                        "{} is a 64-bit task (its thread_info_flags {:#x} lack TIF_IA32)",
                        task_label(st),
                        int("thread_info_flags")
                    ),
                ));
            }
            let sr = int("sysenter_return") as u64;
            if sr != 0 {
                c.task = Some(sr & !(VDSO_LEN - 1));
            }
        }
        "CPU" => {
            if dir == Direction::Down && int("cs") != SEG_USER32_CS {
                let what = if int("cs") == SEG_USER64_CS {
                    "runs 64-bit code (CPU cs is USER64_CS)".to_string()
                } else {
                    format!("has CPU cs {:#x}, not USER32_CS", int("cs"))
                };
                return Err(refuse(
                    conv,
                    ArchRewrite::Segments,
                    info,
                    format!("{} {what}", task_label(st)),
                ));
            }
            let ip = int("ip") as u64;
            if c.task.is_none() && inside(Some(VDSO_HIGH_BASE), ip).is_some() {
                c.task = Some(VDSO_HIGH_BASE);
            }
            c.ip = Some(ip);
        }
        "MM" => {
            c.current = None;
            c.add_vma = false;
            c.drop_vma = false;
        }
        "VMA" => {
            let (start, end) = (int("vm_start") as u64, int("vm_end") as u64);
            if vma_is_vdso(conv, decoded) {
                c.current = Some(start);
                if c.drop_vma && start == VDSO_HIGH_BASE {
                    c.dropping = true;
                    c.drop_vma = false;
                    note(
                        conv,
                        ArchRewrite::Vdso,
                        info.index,
                        "VMA",
                        "",
                        Action::Removed,
                        Some(Value::Text(format!("VDSO {start:#x}-{end:#x}"))),
                        None,
                    );
                    return Ok(Flow::Done);
                }
                vdso_fits(conv, step, dir, info, start, end)?;
            } else if dir == Direction::Down && end > step.narrow_task_size {
                return Err(refuse(
                    conv,
                    ArchRewrite::TaskSize,
                    info,
                    format!(
                        "{} maps {start:#x}-{end:#x}, above the {} TASK_SIZE {:#x}",
                        task_label(st),
                        conv.to.arch,
                        step.narrow_task_size
                    ),
                ));
            }
        }
        "PGARR" if c.dropping => {
            c.dropping = false;
            return Ok(Flow::Done);
        }
        "MM_CONTEXT" => {
            let v = int("vdso") as u64;
            c.current = Some(v);
            if std::mem::take(&mut c.add_vma) {
                let at = moved(conv.opts.vdso, Some(v), v).unwrap_or(v);
                outs.push(Out::Record(vdso_vma(conv, at)?));
                outs.push(Out::Record(struct_record(
                    conv,
                    "PGARR",
                    "ckpt_hdr_pgarr",
                    &[("nr_pages", Value::Uint(0))],
                )?));
                note(
                    conv,
                    ArchRewrite::Vdso,
                    info.index,
                    "VMA",
                    "",
                    Action::Inserted,
                    None,
                    Some(Value::Text(format!("VDSO {at:#x}-{:#x}", at + VDSO_LEN))),
                );
            }
            if std::mem::take(&mut c.drop_vma) {
                return Err(refuse(
                    conv,
                    ArchRewrite::Vdso,
                    info,
                    format!(
                        "{}'s auxv puts its vDSO at the COMPAT_VDSO page {VDSO_HIGH_BASE:#x}, \
                         but its address space has no VMA there",
                        task_label(st)
                    ),
                ));
            }
            // The task's registers were converted before its address space was read.
            if let Some(ip) = c.ip
                && conv.opts.vdso.is_some()
                && inside(Some(v), ip).is_some()
                && c.task != Some(v)
            {
                return Err(refuse(
                    conv,
                    ArchRewrite::Vdso,
                    info,
                    format!(
                        "{}'s ip {ip:#x} lies in its vDSO at {v:#x}, which this revision's \
                         THREAD record does not name and which ckpt could not know when it \
                         converted the task's CPU record; moving the vDSO (--vdso) would \
                         leave the ip behind",
                        task_label(st)
                    ),
                ));
            }
            st.compat.last = Some(v);
        }
        _ => {}
    }
    Ok(Flow::Pass)
}

/// The VMA an x86_64 kernel has for a 32-bit task's COMPAT_VDSO page.
fn vdso_vma(conv: &Conv<'_>, at: u64) -> Result<Vec<u8>, ConvertError> {
    let vt = conv
        .to
        .schema
        .enum_value("vma", "VDSO", conv.to.arch)
        .unwrap_or(1);
    struct_record(
        conv,
        "VMA",
        "ckpt_hdr_vma",
        &[
            ("vma_type", Value::Uint(vt as u64)),
            ("vm_start", Value::Uint(at)),
            ("vm_end", Value::Uint(at + VDSO_LEN)),
            ("vm_page_prot", Value::Uint(0x25)),
            ("vm_flags", Value::Uint(VDSO_VM_FLAGS)),
        ],
    )
}

/// The vDSO is restored where its VMA says (special_mapping_restore maps it at
/// vm_start): without `--vdso` it must lie inside the target task's address space, or be
/// the COMPAT_VDSO page.
fn vdso_fits(
    conv: &Conv<'_>,
    step: &ArchStep,
    dir: Direction,
    info: &RecordInfo,
    start: u64,
    end: u64,
) -> Result<(), ConvertError> {
    let (start, end) = match conv.opts.vdso {
        Some(to) => (to, to + (end - start)),
        None => (start, end),
    };
    let limit = match dir {
        Direction::Up => step.wide_compat_task_size,
        Direction::Down => step.narrow_task_size,
    };
    if end > limit && start != VDSO_HIGH_BASE {
        let hint = if conv.opts.vdso.is_some() {
            "give a --vdso address below it"
        } else {
            "give --vdso ADDR to move it (every reference to it moves with it)"
        };
        return Err(ConvertError::Refused(format!(
            "record #{} (VMA at offset {:#x}): the vDSO at {start:#x}-{end:#x} does not fit \
             below the {} kernel's TASK_SIZE {limit:#x} for 32-bit tasks, and restart maps \
             it where the image says; {hint}",
            info.index, info.offset, conv.to.arch
        )));
    }
    Ok(())
}

/// The MM record is held until its saved auxv (its first payload) shows whether a vDSO
/// VMA is added or left out; the saved auxv lets it go, its VMA count adjusted.
pub(super) fn hold_mm(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
    out: &[u8],
    outs: &mut Vec<Out>,
) -> Result<Flow, ConvertError> {
    if change(conv).is_none() {
        return Ok(Flow::Pass);
    }
    if info.name == "MM" && info.payload_of.is_none() {
        st.compat.held_mm = Some(out.to_vec());
        return Ok(Flow::Done);
    }
    if let Some(mut mm) = st.compat.held_mm.take() {
        let c = &st.compat;
        let delta: i64 = if c.add_vma {
            1
        } else if c.drop_vma {
            -1
        } else {
            0
        };
        if delta != 0 {
            let f = super::fields_of(conv.to, "MM", &mm);
            let n = f
                .iter()
                .find(|(p, _)| p == "map_count")
                .and_then(|(_, v)| v.as_int())
                .unwrap_or(0) as i64;
            let new = (n + delta).max(0) as u64;
            put_member(conv, "ckpt_hdr_mm", "map_count", &Value::Uint(new), &mut mm)?;
            note(
                conv,
                ArchRewrite::Vdso,
                info.index.saturating_sub(1),
                "MM",
                "map_count",
                Action::Rewritten,
                Some(Value::Uint(n as u64)),
                Some(Value::Uint(new)),
            );
        }
        outs.push(Out::Record(mm));
    }
    Ok(Flow::Pass)
}

/// The rules on the converted record `out` (target layout).
pub(super) fn after(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
    decoded: &Decoded,
    out: &mut [u8],
) -> Result<(), ConvertError> {
    let Some((step, dir)) = change(conv) else {
        return Ok(());
    };
    let idx = info.index;
    let int = |p: &str| decoded.int(p).unwrap_or(0);
    let to = conv.opts.vdso;
    match (info.name, info.payload_of) {
        ("THREAD", None) => {
            let flags = int("thread_info_flags") as u64;
            let bit = 1u64 << step.tif_ia32_bit;
            let new = match dir {
                Direction::Up => flags | bit,
                Direction::Down => flags & !bit,
            };
            put_member(
                conv,
                "ckpt_hdr_thread",
                "thread_info_flags",
                &Value::Uint(new),
                out,
            )?;
            note(
                conv,
                ArchRewrite::Ia32Flag,
                idx,
                "THREAD",
                "thread_info_flags",
                Action::Rewritten,
                Some(Value::Uint(flags)),
                Some(Value::Uint(new)),
            );
            let base = st.compat.task;
            move_member(
                conv,
                info,
                base,
                "ckpt_hdr_thread",
                "sysenter_return",
                decoded,
                out,
            )?;
        }
        ("TASK", None) => robust_futex(conv, info, decoded, dir, out)?,
        ("RESTART_BLOCK", None) => restart_block(conv, info, decoded, dir, out)?,
        ("CPU", None) => {
            let base = st.compat.task;
            move_member(conv, info, base, "ckpt_hdr_cpu", "ip", decoded, out)?;
            if dir == Direction::Down {
                cpu_down(conv, info, decoded, out)?;
            }
        }
        ("MM_CONTEXT", None) => {
            let base = st.compat.current;
            move_member(
                conv,
                info,
                base,
                "ckpt_hdr_mm_context",
                "vdso",
                decoded,
                out,
            )?;
        }
        ("VMA", None) if vma_is_vdso(conv, decoded) => {
            let (start, end) = (int("vm_start") as u64, int("vm_end") as u64);
            if let Some(new) = moved(to, st.compat.current, start) {
                let new_end = new + (end - start);
                put_member(conv, "ckpt_hdr_vma", "vm_start", &Value::Uint(new), out)?;
                put_member(conv, "ckpt_hdr_vma", "vm_end", &Value::Uint(new_end), out)?;
                note(
                    conv,
                    ArchRewrite::Vdso,
                    idx,
                    "VMA",
                    "vm_start..vm_end",
                    Action::Supplied,
                    Some(Value::Text(format!("{start:#x}-{end:#x}"))),
                    Some(Value::Text(format!("{new:#x}-{new_end:#x}"))),
                );
            }
        }
        ("CPU_FPU", Some(("CPU", _))) => fpu_pointers(conv, info, dir, out),
        _ => {}
    }
    Ok(())
}

/// Moves member `path` when it points into the vDSO at `base` that `--vdso` moves.
fn move_member(
    conv: &mut Conv<'_>,
    info: &RecordInfo,
    base: Option<u64>,
    struct_name: &str,
    path: &str,
    decoded: &Decoded,
    out: &mut [u8],
) -> Result<(), ConvertError> {
    let Some(old) = decoded.int(path) else {
        return Ok(());
    };
    let old = old as u64;
    if let Some(new) = moved(conv.opts.vdso, base, old) {
        put_member(conv, struct_name, path, &Value::Uint(new), out)?;
        note(
            conv,
            ArchRewrite::Vdso,
            info.index,
            info.name,
            path,
            Action::Supplied,
            Some(Value::Uint(old)),
            Some(Value::Uint(new)),
        );
    }
    Ok(())
}

/// CPU, down: the data segments an x86_64 kernel writes as USER64_DS (its __USER32_DS
/// is __USER_DS) become USER32_DS, which x86_32 accepts; r8..r15 and the fs/gs bases,
/// which 32-bit code cannot see and an x86_32 kernel leaves 0, become 0.
fn cpu_down(
    conv: &mut Conv<'_>,
    info: &RecordInfo,
    decoded: &Decoded,
    out: &mut [u8],
) -> Result<(), ConvertError> {
    for seg in ["ss", "ds", "es", "fsindex", "gsindex"] {
        if decoded.int(seg) == Some(SEG_USER64_DS) {
            put_member(conv, "ckpt_hdr_cpu", seg, &Value::Uint(SEG_USER32_DS), out)?;
            note(
                conv,
                ArchRewrite::Segments,
                info.index,
                "CPU",
                seg,
                Action::Rewritten,
                Some(Value::Text("USER64_DS".into())),
                Some(Value::Text("USER32_DS".into())),
            );
        }
    }
    for r in [
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "fs", "gs",
    ] {
        let v = decoded.int(r).unwrap_or(0);
        if v != 0 {
            put_member(conv, "ckpt_hdr_cpu", r, &Value::Uint(0), out)?;
            note(
                conv,
                ArchRewrite::Registers,
                info.index,
                "CPU",
                r,
                Action::Rewritten,
                Some(Value::Uint(v as u64)),
                Some(Value::Uint(0)),
            );
        }
    }
    Ok(())
}

/// TASK: a 32-bit task's robust futex list is the native one on x86_32 (head 12 bytes),
/// the compat one on x86_64, whose native head length is that of a 64-bit head (24).
fn robust_futex(
    conv: &mut Conv<'_>,
    info: &RecordInfo,
    decoded: &Decoded,
    dir: Direction,
    out: &mut [u8],
) -> Result<(), ConvertError> {
    let get = |p: &str| decoded.int(p);
    let (Some(list), Some(len), Some(clist), Some(clen)) = (
        get("robust_futex_list"),
        get("robust_futex_head_len"),
        get("compat_robust_futex_list"),
        get("compat_robust_futex_head_len"),
    ) else {
        return Ok(());
    };
    // (native list, native len, compat list, compat len) of the target.
    let new = match dir {
        // Without CONFIG_FUTEX the kernel wrote nothing: nothing to move.
        Direction::Up if len == 0 && list == 0 => return Ok(()),
        Direction::Up => (0, 24, list, len),
        Direction::Down if list != 0 => {
            return Err(refuse(
                conv,
                ArchRewrite::RobustFutex,
                info,
                format!("the task has a native (64-bit) robust futex list at {list:#x}"),
            ));
        }
        Direction::Down if clen == 0 && clist == 0 => return Ok(()),
        Direction::Down => (clist, clen, 0, 0),
    };
    let paths = [
        "robust_futex_list",
        "robust_futex_head_len",
        "compat_robust_futex_list",
        "compat_robust_futex_head_len",
    ];
    let vals = [new.0, new.1, new.2, new.3];
    for (p, v) in paths.iter().zip(vals) {
        put_member(conv, "ckpt_hdr_task", p, &Value::Uint(v as u64), out)?;
    }
    note(
        conv,
        ArchRewrite::RobustFutex,
        info.index,
        "TASK",
        "robust_futex_list, compat_robust_futex_list",
        Action::Moved,
        Some(Value::Text(format!(
            "native {list:#x} ({len} bytes), compat {clist:#x} ({clen} bytes)"
        ))),
        Some(Value::Text(format!(
            "native {:#x} ({} bytes), compat {:#x} ({} bytes)",
            new.0, new.1, new.2, new.3
        ))),
    );
    Ok(())
}

/// RESTART_BLOCK: a 32-bit task interrupted in nanosleep has an HRTIMER_NANOSLEEP block
/// on x86_32 and a COMPAT_NANOSLEEP one on x86_64, whose user pointer is in arg_2 (the
/// kernel-side one, in arg_1, is replaced at restart).
fn restart_block(
    conv: &mut Conv<'_>,
    info: &RecordInfo,
    decoded: &Decoded,
    dir: Direction,
    out: &mut [u8],
) -> Result<(), ConvertError> {
    let t = decoded.int("function_type").unwrap_or(0);
    let name = conv
        .from
        .schema
        .enum_name("restart_block", t as i64, conv.from.arch);
    let (a1, a2) = (
        decoded.int("arg_1").unwrap_or(0) as u64,
        decoded.int("arg_2").unwrap_or(0) as u64,
    );
    let (to, n1, n2) = match (dir, name) {
        (Direction::Up, Some("HRTIMER_NANOSLEEP")) => ("COMPAT_NANOSLEEP", 0, a1),
        (Direction::Down, Some("COMPAT_NANOSLEEP" | "COMPAT_CLOCK_NANOSLEEP")) => {
            ("HRTIMER_NANOSLEEP", a2, 0)
        }
        _ => return Ok(()),
    };
    let v = conv
        .to
        .schema
        .enum_value("restart_block", to, conv.to.arch)
        .ok_or_else(|| {
            ConvertError::Refused(format!(
                "record #{}: {} has no restart block {to}",
                info.index, conv.to.schema.id
            ))
        })?;
    let st = "ckpt_hdr_restart_block";
    put_member(conv, st, "function_type", &Value::Uint(v as u64), out)?;
    put_member(conv, st, "arg_1", &Value::Uint(n1), out)?;
    put_member(conv, st, "arg_2", &Value::Uint(n2), out)?;
    note(
        conv,
        ArchRewrite::RestartBlock,
        info.index,
        "RESTART_BLOCK",
        "function_type, arg_1, arg_2",
        Action::Rewritten,
        Some(Value::Text(format!(
            "{} (arg_1 {a1:#x}, arg_2 {a2:#x})",
            name.unwrap_or("?")
        ))),
        Some(Value::Text(format!("{to} (arg_1 {n1:#x}, arg_2 {n2:#x})"))),
    );
    Ok(())
}

/// CPU_FPU: an x86_64 kernel saves every task's FPU state with the 64-bit FXSAVE, whose
/// bytes 8..24 hold the instruction and operand pointers as 64-bit values; the 32-bit
/// form holds FIP, FCS, FDP, FDS (32, 16 (+16), 32, 16 (+16) bits). FCS and FDS, which
/// only x87 exception handlers read, are not kept.
fn fpu_pointers(conv: &mut Conv<'_>, info: &RecordInfo, dir: Direction, out: &mut [u8]) {
    let body = 8;
    let Some(b) = out.get_mut(body + FX_POINTERS.start..body + FX_POINTERS.end) else {
        return;
    };
    let old = b.to_vec();
    let le = ckpt_format::Endian::Little;
    let mut new = [0u8; 16];
    let (fip, fdp) = (get_uint(&old[0..4], le), get_uint(&old[8..12], le));
    match dir {
        Direction::Up => {
            put_uint(&mut new[0..8], fip, le);
            put_uint(&mut new[8..16], fdp, le);
        }
        Direction::Down => {
            put_uint(&mut new[0..4], fip, le);
            put_uint(&mut new[8..12], fdp, le);
        }
    }
    if new[..] != old[..] {
        b.copy_from_slice(&new);
        note(
            conv,
            ArchRewrite::CpuFeatures,
            info.index,
            "CPU_FPU",
            "fxsave pointers (bytes 8..24)",
            Action::Rewritten,
            Some(Value::Text(hex(&old))),
            Some(Value::Text(hex(&new))),
        );
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// MM's saved_auxv, in the words the target kernel stores a 32-bit task's auxv in: one
/// 32-bit word to each native long or u64 entry on x86_32; packed, two words to each
/// 64-bit unsigned long (the bytes are the words in order), on x86_64. The vDSO entries
/// move with `--vdso`; a COMPAT_VDSO page (AT_SYSINFO_EHDR 0xffffe000) decides whether
/// the address space gains or loses its vDSO VMA. Returns the record in the target's
/// units; its length is the caller's ([`super::auxv_units`] pads or cuts it to
/// AT_VECTOR_SIZE).
pub(super) fn saved_auxv(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
    bytes: &[u8],
) -> Result<Option<Vec<u8>>, ConvertError> {
    let Some((_, dir)) = change(conv) else {
        return Ok(None);
    };
    if info.payload_of != Some(("MM", "saved_auxv")) {
        return Ok(None);
    }
    let body = &bytes[8.min(bytes.len())..];
    let (e_in, e_out) = (conv.from.endian(), conv.to.endian());
    // A 32-bit kernel's slots hold one word each; a 64-bit kernel packs a 32-bit task's
    // words, so its slots are read and written as 32-bit words whatever their size.
    let unit_of = |f: &ckpt_format::Format| {
        if f.arch.word_size() == 4 {
            f.saved_auxv_slot()
        } else {
            4
        }
    };
    let (unit_in, unit_out) = (unit_of(conv.from), unit_of(conv.to));
    // The 32-bit words of the auxv.
    let mut words: Vec<u64> = body
        .chunks_exact(unit_in)
        .map(|c| get_uint(c, e_in))
        .collect();
    if let Some(k) = words.iter().position(|&w| w > u32::MAX as u64) {
        return Err(ConvertError::Refused(format!(
            "record #{} (BUFFER saved_auxv at offset {:#x}): word {k} is {:#x}, more than a \
             32-bit task's auxv holds",
            info.index, info.offset, words[k]
        )));
    }
    // The (type, value) pairs up to AT_NULL: AT_SYSINFO_EHDR is the vDSO.
    let n = (0..words.len() / 2)
        .take_while(|&k| words[2 * k] != 0)
        .count();
    if let Some(k) = (0..n).find(|&k| words[2 * k] == AT_SYSINFO_EHDR) {
        let base = words[2 * k + 1];
        st.compat.current = Some(base);
        if base == VDSO_HIGH_BASE {
            match dir {
                // x86_32's COMPAT_VDSO page has no VMA; x86_64 maps it with one.
                Direction::Up => st.compat.add_vma = true,
                Direction::Down => st.compat.drop_vma = true,
            }
        }
    }
    let base = st.compat.current;
    for k in 0..n {
        let t = words[2 * k];
        if (t == AT_SYSINFO || t == AT_SYSINFO_EHDR)
            && let Some(new) = moved(conv.opts.vdso, base, words[2 * k + 1])
        {
            let name = if t == AT_SYSINFO {
                "AT_SYSINFO"
            } else {
                "AT_SYSINFO_EHDR"
            };
            note(
                conv,
                ArchRewrite::Vdso,
                info.index,
                "BUFFER",
                &format!("saved_auxv {name}"),
                Action::Supplied,
                Some(Value::Uint(words[2 * k + 1])),
                Some(Value::Uint(new)),
            );
            words[2 * k + 1] = new;
        }
    }
    let mut out = bytes[..8].to_vec();
    for w in &words {
        let mut b = vec![0u8; unit_out];
        put_uint(&mut b, *w, e_out);
        out.extend_from_slice(&b);
    }
    let len = out.len() as u64;
    put_uint(&mut out[4..8], len, e_out);
    if unit_in != unit_out || conv.from.arch.word_size() != conv.to.arch.word_size() {
        note(
            conv,
            ArchRewrite::SavedAuxv,
            info.index,
            "BUFFER",
            "saved_auxv",
            Action::Rewritten,
            Some(Value::Text(format!(
                "{} 32-bit words in {} {unit_in}-byte slots",
                n * 2,
                words.len()
            ))),
            Some(Value::Text(format!(
                "{} 32-bit words, {}",
                n * 2,
                if unit_out == 4 {
                    "packed two to a 64-bit entry".to_string()
                } else {
                    "one to each u64 entry".to_string()
                }
            ))),
        );
    }
    Ok(Some(out))
}
