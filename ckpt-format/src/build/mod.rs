//! The image builder: realistic images of any revision and architecture, deterministic
//! from a seed.
//!
//! Records are made from the schema like everything else: a record is its struct, laid
//! out for the architecture, with named fields set (a field that the revision does not
//! have is left out), and the records that follow it as payload are the ones the schema's
//! `payload` rule names, checked here. The record order follows the schema's grammar
//! (grammar.md and `schemas/grammar-research.md`).
//!
//! [`build`] writes the header, the tree and then every task; the parts are one module
//! per kind of object: `tree` (tasks, pids and the tree records), `task` (one task's
//! records in its revision's order, CPU state and signals), `creds`, `ns` (namespaces
//! and SysV IPC), `files` (file tables, pipes, the terminal, sockets, epoll) and `mm`
//! (address spaces and pages), all writing through the record emitter of `emit`.
//! `options` and `summary` are what the builder is asked for and what it made. `task`
//! calls the object modules; no two modules import each other.

use std::io::Write;

use crate::arch::Arch;
use crate::error::Result;
use crate::format::{Format, MAGIC_HEAD, MAGIC_TAIL};
use crate::limits::PAGE_SIZE;
use crate::prng::SplitMix64;
use crate::value::Value;
use crate::write::Writer;

mod creds;
mod emit;
mod files;
mod mm;
mod ns;
mod options;
mod summary;
mod task;
#[cfg(test)]
mod tests;
mod tree;

use creds::Shared;
use emit::{Emitter, Payload, kernel_constants, padded, u};
pub use options::{BuildOptions, Omit};
pub use summary::{BuildSummary, Placed};
use task::write_task;
use tree::{nest_pid_namespace, plan_tree, write_tree};

/// The kernel version a revision's images carry by default: its most likely kernel.
pub fn default_kernel(format: &Format) -> (u16, u16, u16) {
    let v = format
        .schema
        .kernels
        .first()
        .map(|k| k.value.as_str())
        .unwrap_or("2.6.32");
    let mut it = v
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u16>().unwrap_or(0));
    (
        it.next().unwrap_or(2),
        it.next().unwrap_or(6),
        it.next().unwrap_or(0),
    )
}

/// Builds an image of `format` into `out`.
pub fn build<W: Write>(format: &Format, opts: &BuildOptions, out: W) -> Result<BuildSummary> {
    let mut rng = SplitMix64::new(opts.seed);
    let mut e = Emitter {
        f: format,
        w: Writer::new(out, format.endian()),
        next_tag: 1,
        summary: BuildSummary::default(),
        label: None,
        label_file_pending: false,
        controlling_tty: None,
        vdso: mm::vdso_base(format.arch, opts.with_compat_vdso),
    };
    let arch = format.arch;
    let mut tasks = plan_tree(opts, &mut rng);
    let entry = if format.schema.struct_def("ckpt_task_pids", arch).is_some() {
        "ckpt_task_pids"
    } else {
        "ckpt_pids"
    };
    let has_depth = format
        .layout(entry)
        .is_ok_and(|l| l.offset_of("depth").is_some());
    if has_depth && !opts.omit.pid_namespaces && tasks.len() >= 4 {
        nest_pid_namespace(&mut tasks);
    }
    let kernel = default_kernel(format);
    // ckpt_const as the revision's most likely kernel fills it (the schema's
    // kernel-constants; x86_64 with its default config).
    let kc = kernel_constants(format)?;
    let names: Vec<String> = kc
        .values
        .iter()
        .map(|(n, _)| format!("constants.{n}"))
        .collect();
    let consts: Vec<(&str, Value)> = names
        .iter()
        .zip(&kc.values)
        .map(|(n, (_, v))| (n.as_str(), u(*v)))
        .collect();
    // uflags bit 0x2: CHECKPOINT_NONETNS ("do not dump the net namespace") at 78d18cf and
    // b0d8304, CHECKPOINT_NETNS ("dump it") from 82822cf (grammar.md). By default the net
    // namespace is not dumped; `with_netns` dumps it where the revision has NET_NS.
    let netns = opts.with_netns && format.record_type("NET_NS").is_some();
    let uflags = match (
        format.schema.constant("CHECKPOINT_NONETNS", arch),
        format.schema.constant("CHECKPOINT_NETNS", arch),
    ) {
        (Some(no), _) if !netns => no as u64,
        (_, Some(yes)) if netns => yes as u64,
        _ => 0,
    };
    let mut hf: Vec<(&str, Value)> = vec![
        ("magic", u(MAGIC_HEAD)),
        ("major", u(kernel.0 as u64)),
        ("minor", u(kernel.1 as u64)),
        ("patch", u(kernel.2 as u64)),
        ("rev", u(format.schema.checkpoint_version as u64)),
        ("time", u(1_300_000_000 + opts.seed % 100_000_000)),
        ("uflags", u(uflags)),
    ];
    hf.extend(consts);
    let arch_id = format
        .schema
        .arch_id(arch)
        .ok_or_else(|| e.err("arch not in revision".into()))?;
    // Little-endian on every arch (cpu_to_le16): its schema type is `__le16`.
    hf.push(("arch_id", u(arch_id as u64)));
    let header = e.make("HEADER", &hf, &[])?;
    e.w.write_record_bytes(&header)?;
    let machine = match arch {
        Arch::X86_32 => "i686",
        Arch::X86_64 => "x86_64",
        Arch::S390x => "s390x",
        Arch::Arm => "armv7l",
        Arch::Ppc => "ppc",
        Arch::Ppc64 => "ppc64",
    };
    let buffer = e.f.record_type("BUFFER").unwrap();
    e.w.write_record(
        buffer,
        &padded(&format!("{}.{}.{}-ckpt", kernel.0, kernel.1, kernel.2), 65),
    )?;
    e.w.write_record(buffer, &padded("#1 SMP ckpt sample", 65))?;
    e.w.write_record(buffer, &padded(machine, 65))?;
    // Arch header.
    let synthetic_cpu = format.schema.opaque_arches.contains(&arch);
    match arch {
        Arch::X86_32 | Arch::X86_64 => e.rec(
            "HEADER_ARCH",
            vec![
                ("has_fxsr", u(1)),
                ("has_xsave", u(0)),
                ("xstate_size", u(512)),
            ],
            &[],
            vec![],
        )?,
        Arch::Arm => e.rec(
            "HEADER_ARCH",
            vec![
                ("cpu_architecture", u(7)),
                ("mmu", u(1)),
                ("aeabi", u(1)),
                ("oabi_compat", u(0)),
            ],
            &[],
            vec![],
        )?,
        Arch::Ppc | Arch::Ppc64 => {
            e.rec("HEADER_ARCH", vec![("what", u(0xdeadbeef))], &[], vec![])?
        }
        Arch::S390x => e.rec("HEADER_ARCH", vec![], &[], vec![])?,
    }
    // Container section. Revisions with a container payload (from d55d4c8) also have
    // SECURITY records, and the image carries an SELinux label (see `write_label`), so the
    // LSM is SELinux: the capability module ("default") never writes labels, its
    // *_checkpoint hooks return -ENOSYS (v20 93/96). The LSM_INFO text of SELinux is not
    // sourced; "dummy" (ckpt_write_dummy_lsm_info, for LSMs without policy info) [L].
    let container_payloads = if e.f.schema.payload_def("CONTAINER", arch).is_some() {
        let lsm = if e.has("SECURITY") {
            "selinux"
        } else {
            "default"
        };
        vec![
            Payload::Bytes(padded(lsm, 11)),
            Payload::Bytes(b"dummy".to_vec()),
        ]
    } else {
        vec![]
    };
    e.rec("CONTAINER", vec![], &[], container_payloads)?;
    // Process tree.
    write_tree(&mut e, &tasks)?;
    // Objects shared by every task.
    let mut shared = Shared::default();
    let ntasks = tasks.len();
    let pages_total = opts.memory.div_ceil(PAGE_SIZE as u64);
    let leaders = tasks
        .iter()
        .enumerate()
        .filter(|(k, t)| t.leader == *k && !t.zombie)
        .count() as u64;
    for (k, t) in tasks.iter().enumerate() {
        if let Some(n) = opts.error_after_tasks
            && k as u32 == n
        {
            let error = e.f.record_type("ERROR").unwrap();
            let string = e.f.record_type("STRING").unwrap();
            e.w.write_record(error, &[])?;
            e.w.write_record(string, b"\0checkpoint failed: task is not frozen (-16)\0")?;
            let w = e.w.finish()?;
            drop(w);
            return Ok(BuildSummary {
                records: 0,
                ..e.summary
            });
        }
        let leader_share = if t.leader == k && !t.zombie {
            pages_total / leaders.max(1)
                + if (k as u64) < pages_total % leaders.max(1) {
                    1
                } else {
                    0
                }
        } else {
            0
        };
        write_task(
            &mut e,
            &tasks,
            k,
            opts,
            &mut rng,
            &mut shared,
            leader_share,
            synthetic_cpu,
        )?;
    }
    let _ = ntasks;
    e.rec("TAIL", vec![("magic", u(MAGIC_TAIL))], &[], vec![])?;
    let records = e.w.records();
    let bytes = e.w.offset();
    e.w.finish()?;
    let mut s = e.summary;
    s.records = records;
    s.bytes = bytes;
    if synthetic_cpu {
        s.synthetic.push(format!(
            "CPU on {arch}: no source describes it; written as a 256-byte placeholder"
        ));
    }
    Ok(s)
}
