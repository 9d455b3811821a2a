//! One task: its records in the revision's order, CPU state, signal handlers, pending
//! signals and SysV semaphore undo lists, and the objects it refers to.

use std::io::Write;

use crate::arch::Arch;
use crate::error::Result;
use crate::model::places::{PlaceKind, PlaceValue};
use crate::prng::SplitMix64;
use crate::value::{Value, put_uint};

use super::creds::{Shared, write_creds};
use super::emit::{Emitter, Fields, Payload, file_name, i, padded, u};
use super::files::write_files;
use super::mm::{X86_32_SYSENTER_RETURN, mask, write_mm};
use super::ns::write_ns;
use super::options::BuildOptions;
use super::tree::Task;

pub(super) fn write_cpu<W: Write>(
    e: &mut Emitter<'_, W>,
    rng: &mut SplitMix64,
    synthetic: bool,
) -> Result<()> {
    let arch = e.f.arch;
    // THREAD (absent on powerpc and on s390x before v19).
    let has_thread_struct = e.f.schema.struct_def("ckpt_hdr_thread", arch).is_some();
    if has_thread_struct {
        match arch {
            Arch::X86_32 | Arch::X86_64 => {
                let mut tls = vec![0u8; 24];
                rng.fill(&mut tls[..8]);
                e.rec(
                    "THREAD",
                    vec![
                        ("thread_info_flags", u(0)),
                        ("gdt_entry_tls_entries", u(3)),
                        ("sizeof_tls_array", u(24)),
                        // A 32-bit task's return address from SYSENTER, inside its vDSO
                        // (vdso base + VDSO32_SYSENTER_RETURN).
                        (
                            "sysenter_return",
                            u(if arch == Arch::X86_32 {
                                e.vdso.0 + X86_32_SYSENTER_RETURN
                            } else {
                                0
                            }),
                        ),
                    ],
                    &tls,
                    vec![],
                )?
            }
            Arch::Arm => e.rec(
                "THREAD",
                vec![("syscall", u(162)), ("tp_value", u(0x4001_0000))],
                &[],
                vec![],
            )?,
            _ => e.rec("THREAD", vec![("thread_info_flags", u(0))], &[], vec![])?,
        }
    }
    e.rec("RESTART_BLOCK", vec![("function_type", u(1))], &[], vec![])?;
    if synthetic {
        let cpu = e.f.record_type("CPU").unwrap();
        e.w.write_record(cpu, &vec![0u8; 256])?;
        return Ok(());
    }
    match arch {
        Arch::X86_32 | Arch::X86_64 => {
            let x64 = arch == Arch::X86_64;
            let mut f: Fields = [
                "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx",
                "si", "di",
            ]
            .into_iter()
            .map(|r| {
                (
                    r,
                    u(if x64 {
                        rng.next_u64()
                    } else if r.starts_with("r1") || r.starts_with("r8") || r.starts_with("r9") {
                        // An x86_32 kernel has no r8..r15 and leaves them 0.
                        let _ = rng.next_u64();
                        0
                    } else {
                        rng.next_u64() & 0xffff_ffff
                    }),
                )
            })
            .collect();
            f.extend([
                ("orig_ax", u(if x64 { 0 } else { 162 })),
                // A 32-bit task stopped in nanosleep entered through SYSENTER: its ip is
                // the vDSO's return point.
                (
                    "ip",
                    u(if x64 {
                        0x0040_1234
                    } else {
                        e.vdso.0 + X86_32_SYSENTER_RETURN
                    }),
                ),
                ("sp", u(if x64 { 0x7fff_efff_ff00 } else { 0xbf7f_ff00 })),
                ("flags", u(0x246)),
                ("cs", u(if x64 { 3 } else { 1 })),
                ("ss", u(if x64 { 4 } else { 2 })),
                ("ds", u(if x64 { 0 } else { 2 })),
                ("es", u(if x64 { 0 } else { 2 })),
                ("used_math", u(1)),
            ]);
            let mut fpu = vec![0u8; 512];
            fpu[0] = 0x7f;
            fpu[1] = 0x03; // fcw
            fpu[24] = 0x80;
            fpu[25] = 0x1f; // mxcsr
            e.rec("CPU", f, &[], vec![Payload::Bytes(fpu)])
        }
        Arch::S390x => {
            let mut f: Fields = vec![
                ("psw_t_mask", u(0x0705_0001_8000_0000)),
                ("psw_t_addr", u(0x8000_1234)),
            ];
            f.push((
                "gprs",
                Value::List((0..16).map(|_| u(rng.next_u64())).collect()),
            ));
            e.rec("CPU", f, &[], vec![])
        }
        Arch::Arm => {
            let regs = Value::List(
                (0..18)
                    .map(|k| {
                        u(if k == 16 {
                            0x10
                        } else {
                            rng.next_u64() & 0xffff_ffff
                        })
                    })
                    .collect(),
            );
            e.rec("CPU", vec![("uregs", regs)], &[], vec![])
        }
        Arch::Ppc | Arch::Ppc64 => Ok(()),
    }
}

/// The semaphore undo list of a thread group, inferred [L] (grammar-research.md §1g and the
/// schemas' `sem_undo` line; no kernel code is public): written among the task objects
/// after FS and before SIGHAND (the order of TASK_OBJS's fields) as OBJREF SEM_UNDO,
/// TASK_SEM_UNDO_LIST {count}, then per semaphore set TASK_SEM_UNDO {semid,
/// semadj_count} and a BUFFER of semadj_count `short` adjustments. One entry here: the
/// image's semaphore set (id 3, 3 semaphores).
pub(super) fn write_sem_undo<W: Write>(e: &mut Emitter<'_, W>) -> Result<i64> {
    e.summary.synthetic.push(
        "SEM_UNDO, TASK_SEM_UNDO_LIST, TASK_SEM_UNDO: no kernel code is public; their order \
         and the semadj BUFFER are inferred"
            .into(),
    );
    let tag = e.objref("SEM_UNDO")?;
    e.rec("TASK_SEM_UNDO_LIST", vec![("count", u(1))], &[], vec![])?;
    let adj: [i16; 3] = [-1, 0, 2];
    e.rec(
        "TASK_SEM_UNDO",
        vec![("semid", u(3)), ("semadj_count", u(adj.len() as u64))],
        &[],
        vec![],
    )?;
    let mut buf = vec![0u8; 2 * adj.len()];
    for (k, a) in adj.iter().enumerate() {
        put_uint(&mut buf[2 * k..2 * k + 2], *a as u16 as u64, e.f.endian());
    }
    let buffer = e.f.record_type("BUFFER").unwrap();
    e.w.write_record(buffer, &buf)?;
    Ok(tag)
}

/// A `struct ckpt_sigset` as the kernel fills it: the `sigset_t` of `arch` (an array of
/// `unsigned long`, each in the arch's byte order), bit `n - 1` for signal `n`.
pub(super) fn sigset(arch: crate::Arch, bits: u64) -> Value {
    let word = arch.word_size() as usize;
    let mut bytes = Vec::with_capacity(8);
    for w in 0..8 / word {
        let v = bits >> (8 * word * w);
        for k in 0..word {
            let shift = match arch.endian() {
                crate::Endian::Little => k,
                crate::Endian::Big => word - 1 - k,
            };
            bytes.push(u((v >> (8 * shift)) & 0xff));
        }
    }
    Value::List(bytes)
}

pub(super) fn write_sighand<W: Write>(e: &mut Emitter<'_, W>, opts: &BuildOptions) -> Result<i64> {
    let sh = e.objref("SIGHAND")?;
    let nsig =
        e.f.schema
            .constant("CKPT_ARCH_NSIG", e.f.arch)
            .unwrap_or(64) as usize;
    let mut tail = Vec::new();
    for s in 0..nsig {
        let handler = if opts.omit.signals {
            0
        } else {
            match s + 1 {
                1 | 15 => 0x0040_2000 + s as u64 * 16,
                13 => 1, // SIG_IGN
                _ => 0,
            }
        };
        tail.extend(e.element(
            "ckpt_sigaction",
            &[
                ("_sa_handler", u(handler)),
                ("sa_flags", u(if handler > 1 { 0x0400_0000 } else { 0 })),
            ],
        )?);
    }
    e.rec("SIGHAND", vec![], &tail, vec![])?;
    Ok(sh)
}

pub(super) fn write_sigpending<W: Write>(
    e: &mut Emitter<'_, W>,
    pending: &[(u64, i64)],
) -> Result<()> {
    let mut tail = Vec::new();
    let mut bits = 0u64;
    for (k, &(sig, pid)) in pending.iter().enumerate() {
        bits |= 1 << (sig - 1);
        for (m, kind, v) in [
            ("csi_pid", PlaceKind::Pid, pid),
            ("pid", PlaceKind::Pid, pid),
            ("csi_uid", PlaceKind::Uid, 0),
            ("uid", PlaceKind::Uid, 0),
        ] {
            if e.struct_has("ckpt_siginfo", m) && (kind != PlaceKind::Pid || v > 0) {
                e.placed(0, kind, format!("tail[{k}].{m}"), PlaceValue::Int(v));
            }
        }
        tail.extend(e.element(
            "ckpt_siginfo",
            &[
                ("csi_signo", u(sig)),
                ("csi_code", i(0)),
                ("csi_pid", u(pid as u64)),
                ("csi_uid", u(0)),
                ("signo", u(sig)),
                ("code", i(0)),
                ("pid", u(pid as u64)),
            ],
        )?);
    }
    e.rec(
        "SIGPENDING",
        vec![
            ("nr_pending", u(pending.len() as u64)),
            ("signal.sigset", sigset(e.f.arch, bits)),
        ],
        &tail,
        vec![],
    )
}

#[allow(clippy::too_many_arguments)]
pub(super) fn write_task<W: Write>(
    e: &mut Emitter<'_, W>,
    tasks: &[Task],
    k: usize,
    opts: &BuildOptions,
    rng: &mut SplitMix64,
    sh: &mut Shared,
    pages: u64,
    synthetic_cpu: bool,
) -> Result<()> {
    let t = &tasks[k];
    let zombie_state = if t.zombie { 16 } else { 0 };
    // A registered robust futex list (set_robust_list): the head in the task's data,
    // sizeof(struct robust_list_head) = 3 longs.
    let word = e.f.arch.word_size() as u64;
    let robust = if opts.with_robust_futex && !t.zombie {
        0x7f00_0000_0a00 & mask(word)
    } else {
        0
    };
    e.rec(
        "TASK",
        vec![
            ("flags", u(0)),
            ("state", u(if t.zombie { 0x40 } else { 1 })),
            ("exit_state", u(zombie_state)),
            ("exit_code", u(0)),
            ("exit_signal", i(if t.leader == k { 17 } else { -1 })),
            ("pdeath_signal", u(0)),
            ("set_child_tid", u(0)),
            (
                "clear_child_tid",
                u(if t.leader == k {
                    0
                } else {
                    0x7f00_0000_09d0 & mask(e.f.arch.word_size() as u64)
                }),
            ),
            ("robust_futex_list", u(robust)),
            (
                "robust_futex_head_len",
                u(if robust != 0 { 3 * word } else { 0 }),
            ),
        ],
        &[],
        vec![Payload::Bytes(padded(&t.comm, 16))],
    )?;
    if t.zombie {
        return Ok(());
    }
    // Before v19-rc1 (ordinals 1-3) the task objects come before THREAD/CPU (v18 order).
    let v18_order = e.f.schema.ordinal <= 3;
    if !v18_order {
        write_cpu(e, rng, synthetic_cpu)?;
    }
    let cred = write_creds(e, sh, t.uid)?;
    e.rec(
        "TASK_CREDS",
        vec![("cred_ref", i(cred)), ("ecred_ref", i(cred))],
        &[],
        vec![],
    )?;
    let ns = write_ns(e, sh, opts, rng)?;
    e.rec("TASK_NS", vec![("ns_objref", i(ns))], &[], vec![])?;
    let first_of_group = !sh.groups.contains_key(&t.leader);
    let objs = if first_of_group {
        let files = write_files(e, k, cred, t.uid, opts, rng)?;
        let hugetlb = opts.with_hugetlb && k == 0 && e.has("HPAGE");
        let mm = write_mm(e, k, cred, pages, hugetlb, rng)?;
        let fs = if e.has("FS") {
            let fs = e.objref("FS")?;
            let fname = |s: &str| Payload::Bytes(file_name(s));
            e.placed(
                1,
                PlaceKind::Path,
                "text",
                PlaceValue::Text("/srv/app".into()),
            );
            e.placed(2, PlaceKind::Path, "text", PlaceValue::Text("/".into()));
            e.rec(
                "FS",
                vec![("umask", u(0o022))],
                &[],
                vec![fname("/srv/app"), fname("/")],
            )?;
            fs
        } else {
            0
        };
        let sem_undo =
            if opts.with_sem_undo && !opts.omit.ipc && t.leader == 0 && e.has("TASK_SEM_UNDO_LIST")
            {
                write_sem_undo(e)?
            } else {
                0
            };
        let sighand = write_sighand(e, opts)?;
        let signal = e.tag(); // the signal struct takes a tag but has no OBJREF
        let o = [files, mm, fs, sem_undo, sighand, signal];
        sh.groups.insert(t.leader, o);
        o
    } else {
        sh.groups[&t.leader]
    };
    e.rec(
        "TASK_OBJS",
        vec![
            ("files_objref", i(objs[0])),
            ("mm_objref", i(objs[1])),
            ("fs_objref", i(objs[2])),
            ("sem_undo_objref", i(objs[3])),
            ("sighand_objref", i(objs[4])),
            ("signal_objref", i(objs[5])),
        ],
        &[],
        vec![],
    )?;
    if first_of_group {
        let inf = u(u64::MAX);
        let mut f: Fields = Vec::new();
        let rl: [(&str, &str); 16] = [
            ("rlim[0].rlim_cur", "rlim[0].rlim_max"),
            ("rlim[1].rlim_cur", "rlim[1].rlim_max"),
            ("rlim[2].rlim_cur", "rlim[2].rlim_max"),
            ("rlim[3].rlim_cur", "rlim[3].rlim_max"),
            ("rlim[4].rlim_cur", "rlim[4].rlim_max"),
            ("rlim[5].rlim_cur", "rlim[5].rlim_max"),
            ("rlim[6].rlim_cur", "rlim[6].rlim_max"),
            ("rlim[7].rlim_cur", "rlim[7].rlim_max"),
            ("rlim[8].rlim_cur", "rlim[8].rlim_max"),
            ("rlim[9].rlim_cur", "rlim[9].rlim_max"),
            ("rlim[10].rlim_cur", "rlim[10].rlim_max"),
            ("rlim[11].rlim_cur", "rlim[11].rlim_max"),
            ("rlim[12].rlim_cur", "rlim[12].rlim_max"),
            ("rlim[13].rlim_cur", "rlim[13].rlim_max"),
            ("rlim[14].rlim_cur", "rlim[14].rlim_max"),
            ("rlim[15].rlim_cur", "rlim[15].rlim_max"),
        ];
        for (n, (c, m)) in rl.iter().enumerate() {
            let cur = match n {
                3 => u(8 << 20),
                7 => u(1024),
                _ => inf.clone(),
            };
            f.push((c, cur));
            f.push((m, if n == 7 { u(4096) } else { inf.clone() }));
        }
        // The first task leads its session and has the terminal as its controlling tty:
        // checkpoint_signal writes the tty (already written with the file table) and its
        // foreground process group, the leader's own, for a session leader only.
        let tty = e.controlling_tty.filter(|_| k == 0 && t.sid == t.pid);
        f.extend([
            ("tty_objref", i(tty.unwrap_or(0))),
            ("tty_pgrp", i(if tty.is_some() { t.pgid } else { 0 })),
            ("tty_old_pgrp", i(0)),
        ]);
        e.placed_fields(
            "SIGNAL",
            &f,
            &[
                ("tty_pgrp", PlaceKind::Pid),
                ("tty_old_pgrp", PlaceKind::Pid),
            ],
        );
        e.rec("SIGNAL", f, &[], vec![])?;
        let shared_pending: Vec<(u64, i64)> = if opts.omit.signals {
            vec![]
        } else {
            vec![(10, 1)]
        };
        write_sigpending(e, &shared_pending)?;
    }
    if v18_order {
        write_cpu(e, rng, synthetic_cpu)?;
    }
    let private: Vec<(u64, i64)> = if opts.omit.signals || k % 2 == 1 {
        vec![]
    } else {
        vec![(12, t.ppid.max(1))]
    };
    write_sigpending(e, &private)?;
    e.rec(
        "SIGNAL_TASK",
        vec![(
            "blocked.sigset",
            sigset(e.f.arch, if opts.omit.signals { 0 } else { 1 << 12 }),
        )],
        &[],
        vec![],
    )?;
    Ok(())
}
