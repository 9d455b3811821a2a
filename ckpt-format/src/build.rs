//! The image builder: realistic images of any revision and architecture, deterministic
//! from a seed.
//!
//! Records are made from the schema like everything else: a record is its struct, laid
//! out for the architecture, with named fields set (a field that the revision does not
//! have is left out), and the records that follow it as payload are the ones the schema's
//! `payload` rule names, checked here. The record order follows the schema's grammar
//! (grammar.md and `schemas/grammar-research.md`).

use std::collections::BTreeMap;
use std::io::Write;

use crate::arch::Arch;
use crate::error::{Error, ErrorKind, Position, Result};
use crate::format::{Format, MAGIC_HEAD, MAGIC_TAIL};
use crate::limits::PAGE_SIZE;
use crate::model::places::{PlaceKind, PlaceValue};
use crate::prng::SplitMix64;
use crate::schema::RecordBody;
use crate::value::{Value, apply_fields, decode_struct, put_uint};
use crate::write::Writer;

/// Kinds of objects the builder can leave out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Omit {
    /// Files other than the executable (fds, pipes, sockets, ...).
    pub files: bool,
    /// Sockets.
    pub sockets: bool,
    /// SysV IPC objects.
    pub ipc: bool,
    /// Pending signals and signal handlers' non-default actions.
    pub signals: bool,
    /// Zombie tasks.
    pub zombies: bool,
    /// Threads (tasks sharing a thread group).
    pub threads: bool,
    /// The terminal.
    pub tty: bool,
    /// Nested pid namespaces.
    pub pid_namespaces: bool,
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Number of tasks (at least 1).
    pub tasks: u32,
    /// Total bytes of page contents (rounded up to whole pages).
    pub memory: u64,
    /// Seed of the generator.
    pub seed: u64,
    /// Kinds of objects to leave out.
    pub omit: Omit,
    /// End the image with an ERROR record (a failed checkpoint) after this many tasks.
    pub error_after_tasks: Option<u32>,
    /// Checkpoint the net namespace (revisions with NET_NS, from 78d18cf): the header's
    /// uflags ask for it (bit 0x2 is CHECKPOINT_NONETNS, "do not dump", at 78d18cf and
    /// b0d8304, and CHECKPOINT_NETNS, "dump", from 82822cf), and a NET_NS object with a
    /// loopback and a veth device is written inside the NS object. No kernel code of
    /// this is public: the record order is inferred (grammar-research.md §1f).
    pub with_netns: bool,
    /// One hugetlb VMA with its HPAGE records in the first task's memory (revisions with
    /// HPAGE: 1fd8e6e, 5c3471a). No kernel code is public: the order is inferred
    /// (grammar-research.md §1g).
    pub with_hugetlb: bool,
    /// One SysV semaphore undo list (a SEM_UNDO object) shared by the first thread group
    /// (revisions with TASK_SEM_UNDO_LIST, from f0fdd38), undoing on the image's
    /// semaphore set. No kernel code is public: the order is inferred
    /// (grammar-research.md §1g). Needs the SysV IPC objects (not `omit.ipc`).
    pub with_sem_undo: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            tasks: 3,
            memory: 64 * 1024,
            seed: 1,
            omit: Omit::default(),
            error_after_tasks: None,
            with_netns: false,
            with_hugetlb: false,
            with_sem_undo: false,
        }
    }
}

/// What the builder made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildSummary {
    /// Records written.
    pub records: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Pages of memory written.
    pub pages: u64,
    /// Records whose content no source describes (opaque arch records, written with a
    /// declared placeholder length).
    pub synthetic: Vec<String>,
    /// Where the builder wrote every path, pid, uid, gid, host name and domain name, in
    /// the order it wrote them: the index that [`crate::model::places`] is tested against.
    pub placed: Vec<Placed>,
}

/// A value the builder placed in one member of one record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Placed {
    /// What the value is.
    pub kind: PlaceKind,
    /// Index of the record that holds it.
    pub record_index: u64,
    /// The member, named as [`crate::model::places::Place::member`] names it.
    pub member: String,
    /// The value.
    pub value: PlaceValue,
}

/// A payload the builder supplies for a record's `payload` rule.
enum Payload {
    Bytes(Vec<u8>),
    Pages { addrs: Vec<u64>, seed: u64 },
}

fn u(v: u64) -> Value {
    Value::Uint(v)
}
fn i(v: i64) -> Value {
    Value::Int(v)
}

/// Fields to set, by path.
type Fields = Vec<(&'static str, Value)>;

struct Emitter<'f, W: Write> {
    f: &'f Format,
    w: Writer<W>,
    next_tag: i64,
    summary: BuildSummary,
    /// The tag of the image's one LSM label pointer (SECURITY_PTR), once written.
    label: Option<i64>,
    /// True until a FILE record has referred to the label.
    label_file_pending: bool,
    /// The tag of the slave tty of the terminal, once written: the controlling terminal
    /// of the first task's session.
    controlling_tty: Option<i64>,
}

impl<W: Write> Emitter<'_, W> {
    fn err(&self, msg: String) -> Error {
        Error::new(
            ErrorKind::Encode(format!(
                "builder ({} on {}): {msg}",
                self.f.schema.id, self.f.arch
            )),
            Position {
                offset: self.w.offset(),
                record: Some(self.w.records()),
                rtype: None,
            },
        )
    }

    fn has(&self, record: &str) -> bool {
        self.f.record_type(record).is_some()
    }

    fn tag(&mut self) -> i64 {
        let t = self.next_tag;
        self.next_tag += 1;
        t
    }

    fn objref(&mut self, obj: &str) -> Result<i64> {
        let t = self.tag();
        let objtype = self
            .f
            .schema
            .enum_value("obj", obj, self.f.arch)
            .ok_or_else(|| self.err(format!("no object type {obj}")))?;
        self.rec(
            "OBJREF",
            vec![("objtype", u(objtype as u64)), ("objref", i(t))],
            &[],
            vec![],
        )?;
        Ok(t)
    }

    /// Makes the bytes of record `name` with `fields` set (those the revision has).
    fn make(&self, name: &str, fields: &[(&str, Value)], tail: &[u8]) -> Result<Vec<u8>> {
        let rtype = self
            .f
            .record_type(name)
            .ok_or_else(|| self.err(format!("no record type {name}")))?;
        let def = self
            .f
            .schema
            .record_def(name, self.f.arch)
            .ok_or_else(|| self.err(format!("no layout for {name}")))?;
        let endian = self.f.endian();
        let (layout, at) = match &def.body {
            RecordBody::Bytes | RecordBody::String => (None, None),
            RecordBody::Struct { name: st, tail: t } => {
                let l = self.f.layout(st).map_err(|e| self.err(e.to_string()))?;
                let at = t
                    .as_ref()
                    .and_then(|t| t.at.as_ref())
                    .and_then(|m| l.offset_of(m));
                (Some(l), at)
            }
            RecordBody::Select {
                common,
                selector,
                cases,
            } => {
                let sel = fields
                    .iter()
                    .find(|(p, _)| p == selector)
                    .and_then(|(_, v)| v.as_int())
                    .unwrap_or(0);
                let case = self
                    .f
                    .schema
                    .enum_name("file", sel as i64, self.f.arch)
                    .unwrap_or("");
                let st = cases
                    .iter()
                    .find(|(c, _)| c == case)
                    .map_or(common, |(_, s)| s);
                (
                    Some(self.f.layout(st).map_err(|e| self.err(e.to_string()))?),
                    None,
                )
            }
        };
        let mut bytes = match &layout {
            Some(l) => {
                let mut b = vec![0u8; l.size as usize + tail.len()];
                let start = at.unwrap_or(l.size) as usize;
                b[start..start + tail.len()].copy_from_slice(tail);
                b
            }
            None => {
                let mut b = vec![0u8; 8 + tail.len()];
                b[8..].copy_from_slice(tail);
                b
            }
        };
        let len = bytes.len() as u64;
        put_uint(&mut bytes[..4], rtype as u64, endian);
        put_uint(&mut bytes[4..8], len, endian);
        if let Some(l) = &layout {
            let paths: Vec<String> = l.fields().iter().map(|f| f.path.clone()).collect();
            let known: Vec<(String, Value)> = fields
                .iter()
                .filter(|(p, _)| paths.iter().any(|x| x == p))
                .map(|(p, v)| (p.to_string(), v.clone()))
                .collect();
            apply_fields(l, &mut bytes, endian, &known)
                .map_err(|e| self.err(format!("{name}: {e}")))?;
        }
        Ok(bytes)
    }

    /// Writes record `name` and the payload records its schema rule calls for.
    fn rec(
        &mut self,
        name: &str,
        fields: Fields,
        tail: &[u8],
        payloads: Vec<Payload>,
    ) -> Result<()> {
        let bytes = self.make(name, &fields, tail)?;
        self.w.write_record_bytes(&bytes)?;
        let Some(def) = self.f.schema.payload_def(name, self.f.arch) else {
            if !payloads.is_empty() {
                return Err(self.err(format!(
                    "{name} has no payload rule, {} payloads given",
                    payloads.len()
                )));
            }
            return Ok(());
        };
        let decoded = match self.f.schema.record_def(name, self.f.arch).map(|d| &d.body) {
            Some(RecordBody::Struct { name: st, .. }) => {
                let l = self.f.layout(st).map_err(|e| self.err(e.to_string()))?;
                decode_struct(&l, &bytes, self.f.endian())
            }
            _ => vec![],
        };
        let mut payloads = payloads.into_iter();
        for item in &def.items {
            if let Some(c) = &item.condition {
                let lookup = |n: &str| {
                    decoded
                        .iter()
                        .find(|(p, _)| p == n)
                        .and_then(|(_, v)| v.as_int())
                };
                match self.f.layouts.eval_with(c, &lookup) {
                    Ok(0) => continue,
                    Ok(_) => {}
                    // A condition on earlier payloads (`sum(...)`): the builder's own list
                    // of payloads says whether it holds.
                    Err(_) if payloads.len() == 0 => continue,
                    Err(_) => {}
                }
            }
            let p = payloads
                .next()
                .ok_or_else(|| self.err(format!("{name}: no payload given for {}", item.name)))?;
            if item.kind == "RAW" {
                match p {
                    Payload::Bytes(b) => self.w.write_record_bytes(&b)?,
                    Payload::Pages { .. } => {
                        return Err(self.err(format!("{name}: pages as a raw payload")));
                    }
                }
                continue;
            }
            let kind = self
                .f
                .record_type(&item.kind)
                .ok_or_else(|| self.err(format!("no record {}", item.kind)))?;
            match p {
                Payload::Bytes(b) => self.w.write_record(kind, &b)?,
                Payload::Pages { addrs, seed } => {
                    let word = self.f.arch.word_size() as usize;
                    let n = addrs.len() as u64;
                    self.w
                        .begin_record(kind, n * (word as u64 + PAGE_SIZE as u64))?;
                    let mut abuf = vec![0u8; addrs.len() * word];
                    for (k, a) in addrs.iter().enumerate() {
                        put_uint(&mut abuf[k * word..(k + 1) * word], *a, self.f.endian());
                    }
                    self.w.write_payload(&abuf)?;
                    let mut rng = SplitMix64::new(seed);
                    let mut page = vec![0u8; PAGE_SIZE as usize];
                    for k in 0..n {
                        fill_page(&mut page, &mut rng, k);
                        self.w.write_payload(&page)?;
                    }
                    self.summary.pages += n;
                }
            }
        }
        if payloads.next().is_some() {
            return Err(self.err(format!("{name}: more payloads given than its rule has")));
        }
        Ok(())
    }

    /// Records that the record `ahead` records after the next one written (0: the next
    /// one; 1: its first payload) holds `value` in `member`.
    fn placed(
        &mut self,
        ahead: u64,
        kind: PlaceKind,
        member: impl Into<String>,
        value: PlaceValue,
    ) {
        self.summary.placed.push(Placed {
            kind,
            record_index: self.w.records() + ahead,
            member: member.into(),
            value,
        });
    }

    /// True when struct `st` of the revision has member `member`.
    fn struct_has(&self, st: &str, member: &str) -> bool {
        self.f
            .layout(st)
            .is_ok_and(|l| l.fields().iter().any(|f| f.path == member))
    }

    /// True when record `name` of the revision has member `member`.
    fn record_has(&self, name: &str, member: &str) -> bool {
        match self.f.schema.record_def(name, self.f.arch).map(|d| &d.body) {
            Some(RecordBody::Struct { name: st, .. }) => self.struct_has(st, member),
            _ => false,
        }
    }

    /// [`Emitter::placed`] for the members `which` of `fields`, the fields of the next
    /// record, `name`, that its revision has; pids of 0 (no process) are not places.
    fn placed_fields(&mut self, name: &str, fields: &Fields, which: &[(&str, PlaceKind)]) {
        for (m, kind) in which {
            let Some(v) = fields
                .iter()
                .find(|(p, _)| p == m)
                .and_then(|(_, v)| v.as_int())
            else {
                continue;
            };
            if self.record_has(name, m) && (*kind != PlaceKind::Pid || v > 0) {
                self.placed(0, *kind, *m, PlaceValue::Int(v as i64));
            }
        }
    }

    /// Bytes of one element struct `ty` with `fields` set.
    fn element(&self, ty: &str, fields: &[(&'static str, Value)]) -> Result<Vec<u8>> {
        let l = self.f.layout(ty).map_err(|e| self.err(e.to_string()))?;
        let mut b = vec![0u8; l.size as usize];
        let paths: Vec<String> = l.fields().iter().map(|f| f.path.clone()).collect();
        let known: Vec<(String, Value)> = fields
            .iter()
            .filter(|(p, _)| paths.iter().any(|x| x == p))
            .map(|(p, v)| (p.to_string(), v.clone()))
            .collect();
        apply_fields(&l, &mut b, self.f.endian(), &known).map_err(|e| self.err(e))?;
        Ok(b)
    }
}

/// Page contents: mostly zero words with random words, like real memory (and cheap).
fn fill_page(page: &mut [u8], rng: &mut SplitMix64, k: u64) {
    page.fill(0);
    let words = 16 + (k % 32) as usize;
    for _ in 0..words {
        let at = (rng.below(PAGE_SIZE as u64 / 8) * 8) as usize;
        page[at..at + 8].copy_from_slice(&rng.next_u64().to_le_bytes());
    }
}

/// One task of the tree being built.
#[derive(Debug, Clone)]
struct Task {
    pid: i64,
    ppid: i64,
    tgid: i64,
    pgid: i64,
    sid: i64,
    comm: String,
    zombie: bool,
    leader: usize,
    uid: u64,
    /// Pid numbers in the nested pid namespaces the task is in (innermost last); empty in
    /// the root namespace of the checkpoint.
    nested: Vec<i64>,
}

fn plan_tree(opts: &BuildOptions, rng: &mut SplitMix64) -> Vec<Task> {
    let n = opts.tasks.max(1) as usize;
    let names = [
        "init", "sshd", "bash", "worker", "cron", "python3", "nginx", "db",
    ];
    let mut tasks: Vec<Task> = Vec::with_capacity(n);
    tasks.push(Task {
        pid: 1,
        ppid: 0,
        tgid: 1,
        pgid: 1,
        sid: 1,
        comm: "init".into(),
        zombie: false,
        leader: 0,
        uid: 0,
        nested: vec![],
    });
    for k in 1..n {
        let pid = k as i64 + 1;
        let live: Vec<usize> = (0..k)
            .filter(|&j| !tasks[j].zombie && tasks[j].leader == j)
            .collect();
        let parent = live[rng.below(live.len() as u64) as usize];
        let p = tasks[parent].clone();
        let thread = !opts.omit.threads && k >= 2 && rng.chance(25);
        let zombie = !thread && !opts.omit.zombies && k + 1 == n && n >= 3;
        let new_session = !thread && rng.chance(30);
        let new_group = !thread && !new_session && rng.chance(30);
        tasks.push(Task {
            pid,
            ppid: if thread { p.ppid } else { p.pid },
            tgid: if thread { p.tgid } else { pid },
            pgid: if new_session || new_group {
                pid
            } else {
                p.pgid
            },
            sid: if new_session { pid } else { p.sid },
            comm: if thread {
                p.comm.clone()
            } else {
                names[k % names.len()].to_string()
            },
            zombie,
            leader: if thread { parent } else { k },
            uid: if rng.chance(50) { 0 } else { 1000 },
            nested: vec![],
        });
    }
    tasks
}

/// Puts the subtree of the third live process into a nested pid namespace (depth 1), as
/// revisions with a `depth` in their tree entries can record.
fn nest_pid_namespace(tasks: &mut [Task]) {
    let Some(root) = (2..tasks.len()).find(|&k| tasks[k].leader == k && !tasks[k].zombie) else {
        return;
    };
    let mut inside = vec![false; tasks.len()];
    inside[root] = true;
    for k in root + 1..tasks.len() {
        let parent = tasks[..k].iter().position(|t| t.pid == tasks[k].ppid);
        inside[k] = inside[tasks[k].leader] || parent.is_some_and(|p| inside[p]);
    }
    let mut next = 1;
    for (k, t) in tasks.iter_mut().enumerate() {
        if inside[k] {
            t.nested = vec![next];
            next += 1;
        }
    }
}

/// The schema's `ckpt_const` values for the revision's most likely kernel on the format's
/// arch (the default config variant).
fn kernel_constants(format: &Format) -> Result<&'static crate::schema::KernelConstants> {
    let kernel = format
        .schema
        .kernels
        .first()
        .map(|k| k.value.as_str())
        .unwrap_or("");
    format
        .schema
        .kernel_constants(kernel, format.arch, None)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Encode(format!(
                    "revision {} has no kernel-constants for kernel {kernel} on {}",
                    format.schema.id, format.arch
                )),
                Position::default(),
            )
        })
}

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

fn padded(s: &str, n: usize) -> Vec<u8> {
    let mut b = s.as_bytes().to_vec();
    b.resize(n, 0);
    b
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

fn write_tree<W: Write>(e: &mut Emitter<'_, W>, tasks: &[Task]) -> Result<()> {
    let n = tasks.len() as u64;
    if e.has("PIDS") {
        // Pid objects, registered per task in the order pid, tgid, pgid, sid.
        let mut tags: BTreeMap<i64, i64> = BTreeMap::new();
        let mut order = Vec::new();
        for t in tasks {
            for p in [t.pid, t.tgid, t.pgid, t.sid] {
                if let std::collections::btree_map::Entry::Vacant(v) = tags.entry(p) {
                    v.insert(e.tag());
                    order.push(p);
                }
            }
        }
        // Each pid object: {depth, numbers[depth + 1]}, numbers outermost first.
        let mut buf = Vec::new();
        let mut nr_vpids = 0u64;
        for p in &order {
            let nested: &[i64] = tasks
                .iter()
                .find(|t| t.pid == *p)
                .map_or(&[], |t| &t.nested);
            let mut entry = vec![0u8; 8 + 4 * nested.len()];
            put_uint(&mut entry[..4], nested.len() as u64, e.f.endian());
            put_uint(&mut entry[4..8], *p as u64, e.f.endian());
            for (j, nr) in nested.iter().enumerate() {
                put_uint(&mut entry[8 + 4 * j..12 + 4 * j], *nr as u64, e.f.endian());
            }
            nr_vpids += nested.len() as u64;
            buf.extend_from_slice(&entry);
        }
        // offset: the tag of the first pid (v23-rc2) or one less (v23-rc1.pids).
        let first = tags[&order[0]];
        let offset = if e.f.schema.ordinal >= 16 {
            first
        } else {
            first - 1
        };
        for (k, p) in order.iter().enumerate() {
            e.placed(
                1,
                PlaceKind::Pid,
                format!("entries[{k}].numbers[0]"),
                PlaceValue::Int(*p),
            );
        }
        e.rec(
            "PIDS",
            vec![
                ("nr_pids", u(order.len() as u64)),
                ("nr_vpids", u(nr_vpids)),
                ("offset", u(offset as u64)),
            ],
            &[],
            vec![Payload::Bytes(buf)],
        )?;
        let mut arr = Vec::new();
        for t in tasks {
            let tag = |p: i64| i(tags[&p]);
            let vppid = if t.ppid == 0 { i(0) } else { tag(t.ppid) };
            arr.extend(e.element(
                "ckpt_task_pids",
                &[
                    ("vpid", tag(t.pid)),
                    ("vppid", vppid),
                    ("vtgid", tag(t.tgid)),
                    ("vpgid", tag(t.pgid)),
                    ("vsid", tag(t.sid)),
                    ("depth", u(t.nested.len() as u64)),
                ],
            )?);
        }
        return e.rec(
            "TREE",
            vec![("nr_tasks", u(n))],
            &[],
            vec![Payload::Bytes(arr)],
        );
    }
    let mut arr = Vec::new();
    for (k, t) in tasks.iter().enumerate() {
        for (m, v) in [
            ("vpid", t.pid),
            ("vppid", t.ppid),
            ("vtgid", t.tgid),
            ("vpgid", t.pgid),
            ("vsid", t.sid),
        ] {
            if v > 0 && e.struct_has("ckpt_pids", m) {
                e.placed(
                    1,
                    PlaceKind::Pid,
                    format!("pids[{k}].{m}"),
                    PlaceValue::Int(v),
                );
            }
        }
        arr.extend(e.element(
            "ckpt_pids",
            &[
                ("vpid", i(t.pid)),
                ("vppid", i(t.ppid)),
                ("vtgid", i(t.tgid)),
                ("vpgid", i(t.pgid)),
                ("vsid", i(t.sid)),
                ("rsid", i(t.sid)),
                ("depth", u(t.nested.len() as u64)),
            ],
        )?);
    }
    // The pid numbers in nested namespaces, task by task.
    let mut vpids = Vec::new();
    for t in tasks {
        for nr in &t.nested {
            let mut b = [0u8; 4];
            put_uint(&mut b, *nr as u64, e.f.endian());
            vpids.extend_from_slice(&b);
        }
    }
    let mut payloads = vec![Payload::Bytes(arr)];
    if e.has("VPIDS") {
        // c83f38b, 78d18cf: the tree's VPIDS record, then the numbers in a BUFFER.
        let nr = vpids.len() as u64 / 4;
        let vrec = e.make("VPIDS", &[("nr_vpids", u(nr))], &[])?;
        payloads.push(Payload::Bytes(vrec[8..].to_vec()));
        e.rec("TREE", vec![("nr_tasks", u(n))], &[], payloads)?;
        if nr > 0 {
            let buffer = e.f.record_type("BUFFER").unwrap();
            e.w.write_record(buffer, &vpids)?;
        }
        return Ok(());
    }
    if !vpids.is_empty() {
        payloads.push(Payload::Bytes(vpids));
    }
    e.rec("TREE", vec![("nr_tasks", u(n))], &[], payloads)
}

/// Tags of objects that several tasks share.
#[derive(Debug, Default)]
struct Shared {
    user_ns: Option<i64>,
    users: BTreeMap<u64, i64>,
    groupinfo: Option<i64>,
    creds: BTreeMap<u64, i64>,
    ns: Option<i64>,
    /// Per thread-group leader: (files, mm, fs, sem_undo, sighand, signal).
    groups: BTreeMap<usize, [i64; 6]>,
}

/// The primary group of the builder's user `uid`: never equal to a uid the builder writes
/// (0 and 1000), so that a gid found where a uid belongs, or the other way round, shows.
fn gid_of(uid: u64) -> u64 {
    uid + 500
}

/// The supplementary groups of every cred (one GROUPINFO): none of them a uid or a
/// primary gid.
const GROUPS: [u64; 4] = [4, 24, 27, 100];

fn write_creds<W: Write>(e: &mut Emitter<'_, W>, sh: &mut Shared, uid: u64) -> Result<i64> {
    if let Some(&c) = sh.creds.get(&uid) {
        return Ok(c);
    }
    let cred = e.objref("CRED")?;
    let gi = match sh.groupinfo {
        Some(g) => g,
        None => {
            let g = e.objref("GROUPINFO")?;
            let groups: Vec<u8> = GROUPS
                .iter()
                .flat_map(|v| {
                    let mut b = [0u8; 4];
                    put_uint(&mut b, *v, e.f.endian());
                    b
                })
                .collect();
            for (k, g) in GROUPS.iter().enumerate() {
                e.placed(
                    0,
                    PlaceKind::Gid,
                    format!("groups[{k}]"),
                    PlaceValue::Int(*g as i64),
                );
            }
            e.rec("GROUPINFO", vec![("ngroups", u(4))], &groups, vec![])?;
            sh.groupinfo = Some(g);
            g
        }
    };
    let user = match sh.users.get(&uid) {
        Some(&x) => x,
        None => {
            let x = e.objref("USER")?;
            let ns = match sh.user_ns {
                Some(n) => n,
                None => {
                    let n = e.objref("USER_NS")?;
                    e.rec("USER_NS", vec![("creator_ref", i(0))], &[], vec![])?;
                    sh.user_ns = Some(n);
                    n
                }
            };
            let f = vec![("uid", u(uid)), ("userns_ref", i(ns))];
            e.placed_fields("USER", &f, &[("uid", PlaceKind::Uid)]);
            e.rec("USER", f, &[], vec![])?;
            sh.users.insert(uid, x);
            x
        }
    };
    // do_checkpoint_cred (v20 93/96) takes the groupinfo, then the user, then the label:
    // the label object comes right before the CRED record.
    let sec = write_label(e)?;
    let caps = if uid == 0 { 0xffff_ffff } else { 0 };
    let f = vec![
        ("uid", u(uid)),
        ("suid", u(uid)),
        ("euid", u(uid)),
        ("fsuid", u(uid)),
        ("gid", u(gid_of(uid))),
        ("sgid", u(gid_of(uid))),
        ("egid", u(gid_of(uid))),
        ("fsgid", u(gid_of(uid))),
        ("user_ref", i(user)),
        ("groupinfo_ref", i(gi)),
        ("sec_ref", i(sec)),
        ("cap_s.cap_p_0", u(caps)),
        ("cap_s.cap_e_0", u(caps)),
        ("cap_s.cap_b_0", u(0xffff_ffff)),
        ("cap_s.cap_b_1", u(0xffff_ffff)),
    ];
    e.placed_fields(
        "CRED",
        &f,
        &[
            ("uid", PlaceKind::Uid),
            ("suid", PlaceKind::Uid),
            ("euid", PlaceKind::Uid),
            ("fsuid", PlaceKind::Uid),
            ("gid", PlaceKind::Gid),
            ("sgid", PlaceKind::Gid),
            ("egid", PlaceKind::Gid),
            ("fsgid", PlaceKind::Gid),
        ],
    );
    e.rec("CRED", f, &[], vec![])?;
    sh.creds.insert(uid, cred);
    Ok(cred)
}

/// The SELinux context of the image's one label.
const LABEL_CONTEXT: &str = "system_u:system_r:unconfined_t:s0";

/// At the first CRED of an image whose revision has LSM labels (from d55d4c8): the label
/// of the cred, and its tag (the `sec_ref`); 0 (SECURITY_CTX_NONE) for every other cred.
///
/// `security_checkpoint_obj` (v20 93/96, grammar-research.md §1f) registers the label
/// *pointer* as a SECURITY_PTR object, which takes a tag and writes no record; that tag is
/// what `sec_ref` and `f_secref` hold. At first sight it then writes the context string as
/// a SECURITY object: OBJREF SECURITY (a second tag), SECURITY {ptrref = the pointer's
/// tag, sectype}, STRING context (NUL included). The same label is referred to later by
/// the image's first FILE (`file_common`); sharing one pointer between a cred and a file
/// is what Smack does (one `void *security` for all object types, v20 93/96); sectype is
/// that of the first referrer, CKPT_SECURITY_CRED = 4.
fn write_label<W: Write>(e: &mut Emitter<'_, W>) -> Result<i64> {
    if e.label.is_some() || !e.has("SECURITY") {
        return Ok(0);
    }
    let ptr = e.tag(); // CKPT_OBJ_SECURITY_PTR: a tag, no OBJREF
    e.objref("SECURITY")?;
    e.rec(
        "SECURITY",
        vec![("ptrref", i(ptr)), ("sectype", u(4))],
        &[],
        vec![Payload::Bytes(file_name(LABEL_CONTEXT))],
    )?;
    e.label = Some(ptr);
    e.label_file_pending = true;
    Ok(ptr)
}

fn write_ns<W: Write>(
    e: &mut Emitter<'_, W>,
    sh: &mut Shared,
    opts: &BuildOptions,
    rng: &mut SplitMix64,
) -> Result<i64> {
    if let Some(n) = sh.ns {
        return Ok(n);
    }
    let ns = e.objref("NS")?;
    let uts = e.objref("UTS_NS")?;
    e.placed(
        0,
        PlaceKind::Hostname,
        "nodename",
        PlaceValue::Text("ckpt-sample".into()),
    );
    e.placed(
        0,
        PlaceKind::Domainname,
        "domainname",
        PlaceValue::Text("(none)".into()),
    );
    e.rec(
        "UTS_NS",
        vec![
            ("sysname", Value::Text("Linux".into())),
            ("nodename", Value::Text("ckpt-sample".into())),
            ("release", Value::Text("2.6-ckpt".into())),
            ("version", Value::Text("#1 SMP".into())),
            ("machine", Value::Text(e.f.arch.name().into())),
            ("domainname", Value::Text("(none)".into())),
        ],
        &[],
        vec![],
    )?;
    let ipc = e.objref("IPC_NS")?;
    e.rec(
        "IPC_NS",
        vec![
            ("shm_ctlmax", u(33_554_432)),
            ("shm_ctlall", u(2_097_152)),
            ("shm_ctlmni", i(4096)),
            ("msg_ctlmax", i(8192)),
            ("msg_ctlmnb", i(16384)),
            ("msg_ctlmni", i(16)),
            ("sem_ctl_msl", i(250)),
            ("sem_ctl_mns", i(32000)),
            ("sem_ctl_opm", i(32)),
            ("sem_ctl_mni", i(128)),
        ],
        &[],
        vec![],
    )?;
    write_ipc(e, opts, rng)?;
    let net = if opts.with_netns && e.has("NET_NS") {
        write_netns(e)?
    } else {
        0
    };
    e.rec(
        "NS",
        vec![
            ("uts_objref", i(uts)),
            ("ipc_objref", i(ipc)),
            ("net_objref", i(net)),
        ],
        &[],
        vec![],
    )?;
    sh.ns = Some(ns);
    Ok(ns)
}

/// The net namespace object, written by `do_checkpoint_ns` after the UTS and IPC
/// namespaces, before the NS record that refers to it ("along with the others"). No kernel
/// code of it is public; the shape is inferred [L] from the user-cr headers and the patch
/// description (grammar-research.md §1f; the schemas' `net ns object` line):
///
/// ```text
/// OBJREF NET_NS, NET_NS {this_ref}
/// per device: OBJREF NETDEV, [peer device object] NETDEV {netns_ref, type, inet_addrs, ...},
///             [NETDEV_ADDR: inet_addrs x ckpt_netdev_addr, if inet_addrs > 0]
/// ```
///
/// Devices: `lo` (127.0.0.1/8) and one end of a veth pair (10.0.3.2/24). The veth peer
/// lives outside the checkpointed namespaces (netns_ref 0, no addresses); it is written
/// nested inside the device that first refers to it, as objects referred to before their
/// record are (the AF_UNIX peer does the same). The address array is the body of the
/// buffer-like NETDEV_ADDR record (the schemas' reading of that record); whether a
/// device-name record exists is unknown, none is written. The list of devices has no
/// terminator or count: the NS record ends it.
fn write_netns<W: Write>(e: &mut Emitter<'_, W>) -> Result<i64> {
    e.summary.synthetic.push(
        "NET_NS, NETDEV, NETDEV_ADDR: no kernel code is public; their order is inferred".into(),
    );
    let ns = e.objref("NET_NS")?;
    e.rec("NET_NS", vec![("this_ref", i(ns))], &[], vec![])?;
    let dev_type = |e: &Emitter<'_, W>, n: &str| e.f.schema.enum_value("netdev", n, e.f.arch);
    let lo_t = dev_type(e, "LO").unwrap_or(0) as u64;
    let veth_t = dev_type(e, "VETH").unwrap_or(1) as u64;
    let ipv4 =
        e.f.schema
            .enum_value("netdev_addr", "IPV4", e.f.arch)
            .unwrap_or(0) as u64;
    let ip = |a: [u8; 4]| u(u32::from_be_bytes(a) as u64);
    let addr = |e: &Emitter<'_, W>, a: [u8; 4], mask: [u8; 4], bcast: [u8; 4]| {
        e.element(
            "ckpt_netdev_addr",
            &[
                ("type", u(ipv4)),
                ("inet4_local", ip(a)),
                ("inet4_address", ip(a)),
                ("inet4_mask", ip(mask)),
                ("inet4_broadcast", ip(bcast)),
            ],
        )
    };
    let mac = |m: [u8; 6]| Value::List(m.iter().map(|b| u(*b as u64)).collect());
    // lo: IFF_UP | IFF_LOOPBACK | IFF_RUNNING.
    e.objref("NETDEV")?;
    e.rec(
        "NETDEV",
        vec![
            ("netns_ref", i(ns)),
            ("inet_addrs", u(1)),
            ("type", u(lo_t)),
            ("flags", u(0x49)),
            ("hwaddr", mac([0; 6])),
        ],
        &[],
        vec![],
    )?;
    let a = addr(e, [127, 0, 0, 1], [255, 0, 0, 0], [0, 0, 0, 0])?;
    let rt = e.f.record_type("NETDEV_ADDR").unwrap();
    e.w.write_record(rt, &a)?;
    // veth0 and its peer: IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST.
    let veth = e.objref("NETDEV")?;
    let peer = e.objref("NETDEV")?;
    e.rec(
        "NETDEV",
        vec![
            ("netns_ref", i(0)),
            ("veth.this_ref", i(peer)),
            ("veth.peer_ref", i(veth)),
            ("inet_addrs", u(0)),
            ("type", u(veth_t)),
            ("flags", u(0x1043)),
            ("hwaddr", mac([0x02, 0x42, 0x0a, 0x00, 0x03, 0x01])),
        ],
        &[],
        vec![],
    )?;
    e.rec(
        "NETDEV",
        vec![
            ("netns_ref", i(ns)),
            ("veth.this_ref", i(veth)),
            ("veth.peer_ref", i(peer)),
            ("inet_addrs", u(1)),
            ("type", u(veth_t)),
            ("flags", u(0x1043)),
            ("hwaddr", mac([0x02, 0x42, 0x0a, 0x00, 0x03, 0x02])),
        ],
        &[],
        vec![],
    )?;
    let a = addr(e, [10, 0, 3, 2], [255, 255, 255, 0], [10, 0, 3, 255])?;
    e.w.write_record(rt, &a)?;
    Ok(ns)
}

fn write_ipc<W: Write>(
    e: &mut Emitter<'_, W>,
    opts: &BuildOptions,
    rng: &mut SplitMix64,
) -> Result<()> {
    let with = !opts.omit.ipc;
    let n = if with { 1 } else { 0 };
    let t = |e: &Emitter<'_, W>, r: &str| e.f.record_type(r).unwrap_or(0) as u64;
    // shm: one segment, its pages as page indices.
    e.rec(
        "IPC",
        vec![("ipc_type", u(t(e, "IPC_SHM"))), ("ipc_count", u(n))],
        &[],
        vec![],
    )?;
    if with {
        let perms = ipc_perms(0x1234, 1, 0o600);
        let inode = e.tag();
        let mut f = vec![
            ("shm_segsz", u(2 * PAGE_SIZE as u64)),
            ("shm_atim", u(1_300_000_000)),
            ("shm_cprid", i(1)),
            ("shm_lprid", i(1)),
            ("mlock_uid", u(0)),
            ("objref", u(inode as u64)),
        ];
        f.extend(perms);
        e.placed_fields("IPC_SHM", &f, IPC_PLACES);
        e.rec("IPC_SHM", f, &[], vec![])?;
        let seed = rng.next_u64();
        e.rec(
            "PGARR",
            vec![("nr_pages", u(2))],
            &[],
            vec![Payload::Pages {
                addrs: vec![0, 1],
                seed,
            }],
        )?;
        e.rec("PGARR", vec![("nr_pages", u(0))], &[], vec![])?;
    }
    // msg: one queue holding one message (grammar-research.md §1e, v20 msg patch).
    e.rec(
        "IPC",
        vec![("ipc_type", u(t(e, "IPC_MSG"))), ("ipc_count", u(n))],
        &[],
        vec![],
    )?;
    if with {
        let text = b"job 42: rotate /var/log/task0.log\n".to_vec();
        let mut f = vec![
            ("q_stime", u(1_300_000_100)),
            ("q_ctime", u(1_300_000_000)),
            ("q_cbytes", u(text.len() as u64)),
            ("q_qnum", u(1)),
            ("q_qbytes", u(16384)),
            ("q_lspid", i(1)),
        ];
        f.extend(ipc_perms(0x2345, 2, 0o644));
        e.placed_fields("IPC_MSG", &f, IPC_PLACES);
        e.rec("IPC_MSG", f, &[], vec![])?;
        write_msg(e, 1, &text)?;
    }
    // sem: one set of 3 semaphores, {semval, sempid} pairs.
    e.rec(
        "IPC",
        vec![("ipc_type", u(t(e, "IPC_SEM"))), ("ipc_count", u(n))],
        &[],
        vec![],
    )?;
    if with {
        let mut f = vec![("sem_ctime", u(1_300_000_000)), ("sem_nsems", u(3))];
        f.extend(ipc_perms(0x3456, 3, 0o666));
        let mut sems = Vec::new();
        for k in 0..3u64 {
            let mut b = [0u8; 8];
            put_uint(&mut b[..4], k + 1, e.f.endian());
            put_uint(&mut b[4..], 1, e.f.endian());
            sems.extend_from_slice(&b);
            e.placed(
                1,
                PlaceKind::Pid,
                format!("sem_base[{k}].sempid"),
                PlaceValue::Int(1),
            );
        }
        e.placed_fields("IPC_SEM", &f, IPC_PLACES);
        e.rec("IPC_SEM", f, &[], vec![Payload::Bytes(sems)])?;
    }
    Ok(())
}

/// One message of a queue (`checkpoint_msg_contents`, v20 msg patch; grammar-research.md
/// §1e): IPC_MSG_MSG {m_type, m_ts, sec_ref = 0}, then the text in BUFFER records split as
/// the kernel's msg_msg segments are: first min(m_ts, DATALEN_MSG) bytes, then chunks of
/// DATALEN_SEG. DATALEN_MSG = PAGE_SIZE - sizeof(struct msg_msg) (six words: m_list,
/// m_type, m_ts, next, security) and DATALEN_SEG = PAGE_SIZE - sizeof(struct msg_msgseg)
/// (one word) are the figures of grammar-research.md [L]; restore recomputes them and
/// reads each chunk at its exact length. The builder's messages fit in one chunk.
fn write_msg<W: Write>(e: &mut Emitter<'_, W>, m_type: i64, text: &[u8]) -> Result<()> {
    e.rec(
        "IPC_MSG_MSG",
        vec![
            ("m_type", i(m_type)),
            ("m_ts", u(text.len() as u64)),
            ("sec_ref", i(0)),
        ],
        &[],
        vec![],
    )?;
    let word = e.f.arch.word_size() as usize;
    let page = PAGE_SIZE as usize;
    let (first, seg) = (page - 6 * word, page - word);
    let buffer = e.f.record_type("BUFFER").unwrap();
    let (head, mut rest) = text.split_at(text.len().min(first));
    e.w.write_record(buffer, head)?;
    while !rest.is_empty() {
        let (chunk, r) = rest.split_at(rest.len().min(seg));
        e.w.write_record(buffer, chunk)?;
        rest = r;
    }
    Ok(())
}

/// The members of SysV IPC records that hold pids, uids and gids.
const IPC_PLACES: &[(&str, PlaceKind)] = &[
    ("perms.uid", PlaceKind::Uid),
    ("perms.gid", PlaceKind::Gid),
    ("perms.cuid", PlaceKind::Uid),
    ("perms.cgid", PlaceKind::Gid),
    ("mlock_uid", PlaceKind::Uid),
    ("shm_cprid", PlaceKind::Pid),
    ("shm_lprid", PlaceKind::Pid),
    ("q_lspid", PlaceKind::Pid),
    ("q_lrpid", PlaceKind::Pid),
];

fn ipc_perms(key: u64, id: i64, mode: u64) -> Fields {
    vec![
        ("perms.id", i(id)),
        ("perms.key", u(key)),
        ("perms.uid", u(0)),
        ("perms.gid", u(gid_of(0))),
        ("perms.cuid", u(0)),
        ("perms.cgid", u(gid_of(0))),
        ("perms.mode", u(mode)),
        ("perms.seq", u(id as u64)),
    ]
}

fn file_name(s: &str) -> Vec<u8> {
    let mut b = s.as_bytes().to_vec();
    b.push(0);
    b
}

/// The fields of the common part of a FILE record. The image's first FILE refers to the
/// LSM label (`f_secref`; checkpoint_file_common, v20 93/96), written before it with the
/// first cred.
fn file_common(
    cred: i64,
    f_type: &str,
    e: &mut Emitter<'_, impl Write>,
    mode: u64,
    flags: u64,
) -> Fields {
    let t = e.f.schema.enum_value("file", f_type, e.f.arch).unwrap_or(1);
    let sec = match e.label {
        Some(l) if e.label_file_pending => {
            e.label_file_pending = false;
            l
        }
        _ => 0,
    };
    vec![
        ("common.f_type", u(t as u64)),
        ("f_type", u(t as u64)),
        ("common.f_mode", u(mode)),
        ("f_mode", u(mode)),
        ("common.f_flags", u(flags)),
        ("f_flags", u(flags)),
        ("common.f_credref", i(cred)),
        ("f_credref", i(cred)),
        ("common.f_pos", u(0)),
        ("common.f_secref", i(sec)),
        ("f_secref", i(sec)),
    ]
}

/// A FILE_NAME record (not a declared payload: it follows its FILE record).
fn write_file_name<W: Write>(e: &mut Emitter<'_, W>, path: &str) -> Result<()> {
    e.placed(0, PlaceKind::Path, "text", PlaceValue::Text(path.into()));
    let fname = e.f.record_type("FILE_NAME").unwrap();
    e.w.write_record(fname, &file_name(path))?;
    Ok(())
}

fn generic_file<W: Write>(e: &mut Emitter<'_, W>, cred: i64, path: &str, pos: u64) -> Result<i64> {
    let tag = e.objref("FILE")?;
    let mut f = file_common(cred, "GENERIC", e, 0x1d, 0o100002);
    f.push(("common.f_pos", u(pos)));
    f.push(("f_pos", u(pos)));
    e.rec("FILE", f, &[], vec![])?;
    write_file_name(e, path)?;
    Ok(tag)
}

#[allow(clippy::too_many_arguments)]
fn write_files<W: Write>(
    e: &mut Emitter<'_, W>,
    k: usize,
    cred: i64,
    uid: u64,
    opts: &BuildOptions,
    rng: &mut SplitMix64,
) -> Result<i64> {
    let table = e.objref("FILE_TABLE")?;
    let mut fds: Vec<(i64, i64)> = Vec::new(); // (fd, file tag)
    let mut deferred: Vec<Deferred> = Vec::new();
    if !opts.omit.files {
        let tty = !opts.omit.tty && k == 0 && e.has("TTY");
        if tty {
            let (t, slave) = write_tty_file(e, cred)?;
            e.controlling_tty = Some(slave);
            for fd in 0..3 {
                fds.push((fd, t));
            }
        } else {
            let t = generic_file(e, cred, "/dev/null", 0)?;
            for fd in 0..3 {
                fds.push((fd, t));
            }
        }
        let log = generic_file(
            e,
            cred,
            &format!("/var/log/task{k}.log"),
            rng.below(1 << 20),
        )?;
        fds.push((3, log));
        // A pipe with data buffered in it: both ends.
        let inode = e.tag();
        let data: Vec<u8> = format!("pipe data of task {k}\n").into_bytes();
        for (fd, mode) in [(4, 0x1d), (5, 0x1e)] {
            let tag = e.objref("FILE")?;
            let mut f = file_common(cred, "PIPE", e, mode, 0);
            f.push(("pipe_objref", i(inode)));
            e.rec("FILE", f, &[], vec![])?;
            if fd == 4 {
                let pb = e.f.record_type("PIPE_BUF").unwrap();
                e.w.write_record(pb, &data)?;
            }
            fds.push((fd, tag));
        }
        // A fifo.
        let fifo_inode = e.tag();
        let tag = e.objref("FILE")?;
        let mut f = file_common(cred, "FIFO", e, 0x1d, 0o4000);
        f.push(("pipe_objref", i(fifo_inode)));
        e.rec("FILE", f, &[], vec![])?;
        write_file_name(e, &format!("/run/fifo{k}"))?;
        let pb = e.f.record_type("PIPE_BUF").unwrap();
        e.w.write_record(pb, &[])?;
        fds.push((6, tag));
        let mut next_fd = 7;
        if !opts.omit.sockets {
            // A connected unix socket pair, and an inet listener.
            let (a, b, sa, sb) = write_unix_pair(e, cred, uid)?;
            fds.push((next_fd, a));
            fds.push((next_fd + 1, b));
            next_fd += 2;
            let msg = format!("hello from task {k} over a unix socket\n").into_bytes();
            deferred.push(Deferred::Queues {
                sk: sa,
                peer: sb,
                data: Some(msg),
            });
            deferred.push(Deferred::Queues {
                sk: sb,
                peer: sa,
                data: None,
            });
            let l = write_inet_listener(e, cred, 8000 + k as u64)?;
            fds.push((next_fd, l));
            next_fd += 1;
        }
        if e.f.schema.enum_value("file", "EVENTFD", e.f.arch).is_some() {
            let tag = e.objref("FILE")?;
            let mut f = file_common(cred, "EVENTFD", e, 0x1f, 0o2000);
            f.push(("count", u(rng.below(10))));
            f.push(("flags", u(0o2000)));
            e.rec("FILE", f, &[], vec![])?;
            fds.push((next_fd, tag));
            let efd = next_fd;
            next_fd += 1;
            let tag = e.objref("FILE")?;
            let f = file_common(cred, "EPOLL", e, 0x1f, 0);
            e.rec("FILE", f, &[], vec![])?;
            fds.push((next_fd, tag));
            deferred.push(Deferred::Epoll {
                ep: tag,
                fd: efd,
                file: fds[fds.len() - 2].1,
            });
            next_fd += 1;
        }
        if !opts.omit.sockets {
            // A listening unix socket bound to a path, last so that the descriptors
            // before it keep their numbers whatever the revision has: an absolute path
            // in even tasks, one relative to the cwd (/srv/app) in odd ones.
            let l = if k.is_multiple_of(2) {
                write_unix_listener(e, cred, uid, &format!("/run/app{k}.sock"), None)?
            } else {
                write_unix_listener(e, cred, uid, &format!("app{k}.sock"), Some("/srv/app/"))?
            };
            fds.push((next_fd, l));
        }
    }
    e.rec(
        "FILE_TABLE",
        vec![("fdt_nfds", i(fds.len() as i64))],
        &[],
        vec![],
    )?;
    for (fd, tag) in &fds {
        e.rec(
            "FILE_DESC",
            vec![
                ("fd_objref", i(*tag)),
                ("fd_descriptor", i(*fd)),
                ("fd_close_on_exec", u((*fd > 2) as u64)),
            ],
            &[],
            vec![],
        )?;
    }
    for d in deferred {
        match d {
            Deferred::Queues { sk, peer, data } => {
                // Receive queue, then write queue.
                write_queue(e, sk, peer, data)?;
                write_queue(e, sk, peer, None)?;
            }
            Deferred::Epoll { ep, fd, file } => {
                if e.has("EPOLL_ITEMS") {
                    let item = e.element(
                        "ckpt_eventpoll_item",
                        &[
                            ("data", u(fd as u64)),
                            ("fd", u(fd as u64)),
                            ("file_objref", i(file)),
                            ("events", u(1)),
                        ],
                    )?;
                    e.rec(
                        "EPOLL_ITEMS",
                        vec![("epfile_objref", i(ep)), ("num_items", u(1))],
                        &[],
                        vec![Payload::Bytes(item)],
                    )?;
                }
            }
        }
    }
    Ok(table)
}

/// A socket queue with at most one buffer: its linear part, and from v19-rc2 one page
/// fragment (SOCKET_FRAG and its raw page).
fn write_queue<W: Write>(
    e: &mut Emitter<'_, W>,
    sk: i64,
    peer: i64,
    data: Option<Vec<u8>>,
) -> Result<()> {
    let Some(data) = data else {
        return e.rec(
            "SOCKET_QUEUE",
            vec![("skb_count", u(0)), ("total_bytes", u(0))],
            &[],
            vec![],
        );
    };
    let frag = e.has("SOCKET_FRAG");
    let frag_len: u64 = if frag { 100 } else { 0 };
    let lin = data.len() as u64;
    e.rec(
        "SOCKET_QUEUE",
        vec![("skb_count", u(1)), ("total_bytes", u(lin + frag_len))],
        &[],
        vec![],
    )?;
    e.rec(
        "SOCKET_BUFFER",
        vec![
            ("lin_len", u(lin)),
            ("frg_len", u(frag_len)),
            ("skb_len", u(lin + frag_len)),
            ("data_offset", u(0)),
            ("sk_objref", i(sk)),
            ("pr_objref", i(peer)),
            ("nr_frags", u(frag as u64)),
        ],
        &[],
        vec![Payload::Bytes(data)],
    )?;
    if frag {
        let mut page = vec![0u8; PAGE_SIZE as usize];
        page[..frag_len as usize].fill(b'f');
        e.rec(
            "SOCKET_FRAG",
            vec![("size", u(frag_len)), ("offset", u(0))],
            &[],
            vec![Payload::Bytes(page)],
        )?;
    }
    Ok(())
}

enum Deferred {
    Queues {
        sk: i64,
        peer: i64,
        data: Option<Vec<u8>>,
    },
    Epoll {
        ep: i64,
        fd: i64,
        file: i64,
    },
}

/// The terminal's file object; returns its tag and the slave tty's (the controlling
/// terminal of the session).
fn write_tty_file<W: Write>(e: &mut Emitter<'_, W>, cred: i64) -> Result<(i64, i64)> {
    let file = e.objref("FILE")?;
    // The pty master is written before the slave; a hung-up tty has no ldisc record.
    let master = e.objref("TTY")?;
    let slave_tag = master + 1;
    let tty = |driver_sub: u64, link: i64, idx: u64| -> Fields {
        vec![
            ("driver_type", u(4)),
            ("driver_subtype", u(driver_sub)),
            ("link_objref", i(link)),
            ("file_objref", i(0)),
            ("index", u(idx)),
            ("ldisc", u(0)),
            ("flags", u(0)),
            ("termios.c_iflag", u(0o2400)),
            ("termios.c_oflag", u(0o5)),
            ("termios.c_cflag", u(0o277)),
            ("termios.c_lflag", u(0o105073)),
            ("winsize.ws_row", u(24)),
            ("winsize.ws_col", u(80)),
        ]
    };
    e.rec("TTY", tty(1, slave_tag, 0), &[], vec![])?;
    // What the slave side printed, not yet read through the master: a prompt.
    write_ldisc(e, b"bash-4.1$ ")?;
    let slave = e.objref("TTY")?;
    debug_assert_eq!(slave, slave_tag);
    e.rec("TTY", tty(2, master, 0), &[], vec![])?;
    // Input typed on the terminal, a line not yet ended.
    write_ldisc(e, b"ls -l")?;
    let mut f = file_common(cred, "TTY", e, 0x1f, 0o2);
    f.push(("tty_objref", i(slave)));
    e.rec("FILE", f, &[], vec![])?;
    Ok((file, slave))
}

/// The n_tty line discipline of a tty that is not hung up: TTY_LDISC, and a BUFFER with
/// the `datalen` bytes of its read buffer (linearised from read_tail) if there are any
/// (`checkpoint_tty_ldisc`, v18 72/80; grammar-research.md §1c). The data is an unended
/// canonical line: no line is complete, so `canon_data`, `canon_datalen` and the
/// end-of-line bits of `read_flags` are all 0.
fn write_ldisc<W: Write>(e: &mut Emitter<'_, W>, data: &[u8]) -> Result<()> {
    let payloads = if data.is_empty() {
        vec![]
    } else {
        vec![Payload::Bytes(data.to_vec())]
    };
    e.rec(
        "TTY_LDISC",
        vec![
            ("column", u(data.len() as u64)),
            ("datalen", u(data.len() as u64)),
            ("canon_column", u(0)),
            ("canon_datalen", u(0)),
            ("canon_data", u(0)),
            ("minimum_to_wake", u(1)),
            ("icanon", u(1)),
        ],
        &[],
        payloads,
    )
}

/// A connected unix socket pair (socketpair(2)): both ends' peer credentials are the
/// creator's, `uid` and its group.
fn write_unix_pair<W: Write>(
    e: &mut Emitter<'_, W>,
    cred: i64,
    uid: u64,
) -> Result<(i64, i64, i64, i64)> {
    let sock = |state: u64| -> Fields {
        vec![
            ("has_buffers", u(1)),
            ("socket.flags", u(0)),
            ("socket.state", u(3)),
            ("sock_common.family", u(1)),
            ("sock_common.state", u(state)),
            ("sock.type", u(1)),
            ("sock.state", u(state)),
            ("sock.rcvbuf", i(212_992)),
            ("sock.sndbuf", i(212_992)),
            ("sock.rcvtimeo", i(i64::MAX)),
            ("sock.sndtimeo", i(i64::MAX)),
        ]
    };
    let unix = |this: i64, peer: i64| -> Fields {
        vec![
            ("this", i(this)),
            ("peer", i(peer)),
            ("peercred", i(cred)),
            ("peercred_uid", u(uid)),
            ("peercred_gid", u(gid_of(uid))),
            ("flags", u(0)),
            ("laddr_len", u(2)),
            ("raddr_len", u(2)),
            ("laddr.sun_family", u(1)),
            ("raddr.sun_family", u(1)),
        ]
    };
    let fa = e.objref("FILE")?;
    let sa = e.objref("SOCK")?;
    e.rec("SOCKET", sock(1), &[], vec![])?;
    // The peer is written inside this socket's object, before SOCKET_UNIX.
    let sb = e.objref("SOCK")?;
    e.rec("SOCKET", sock(1), &[], vec![])?;
    let creds = &[
        ("peercred_uid", PlaceKind::Uid),
        ("peercred_gid", PlaceKind::Gid),
    ];
    for (this, peer) in [(sb, sa), (sa, sb)] {
        let f = unix(this, peer);
        e.placed_fields("SOCKET_UNIX", &f, creds);
        e.rec("SOCKET_UNIX", f, &[], vec![])?;
    }
    let mut f = file_common(cred, "SOCKET", e, 0x1f, 0o2);
    f.push(("sock_objref", i(sa)));
    e.rec("FILE", f, &[], vec![])?;
    let fb = e.objref("FILE")?;
    let mut f = file_common(cred, "SOCKET", e, 0x1f, 0o2);
    f.push(("sock_objref", i(sb)));
    e.rec("FILE", f, &[], vec![])?;
    Ok((fa, fb, sa, sb))
}

/// A listening SOCK_STREAM unix socket bound to `path` (grammar-research.md §1a,
/// `unix_checkpoint`): OBJREF SOCK, SOCKET {sk_state TCP_LISTEN}, SOCKET_UNIX {this,
/// peer 0, laddr = path, laddr_len = sizeof(sa_family_t) + strlen + 1 as unix_mkname
/// counts it, CKPT_UNIX_LINKED: the socket file exists}, then, for a relative path only
/// (`unix_need_cwd`), a STRING with the directory it was bound in, `dir`: the bound
/// file's path minus `path`, its slash kept, NUL-terminated (`unix_write_cwd`); then the
/// FILE. A listener defers no queues and has no buffers; listen(2) set its peer
/// credentials to the task's.
fn write_unix_listener<W: Write>(
    e: &mut Emitter<'_, W>,
    cred: i64,
    uid: u64,
    path: &str,
    dir: Option<&str>,
) -> Result<i64> {
    let file = e.objref("FILE")?;
    let s = e.objref("SOCK")?;
    e.rec(
        "SOCKET",
        vec![
            ("has_buffers", u(0)),
            ("socket.flags", u(0)),
            ("socket.state", u(1)),
            ("sock_common.family", u(1)),
            ("sock_common.state", u(10)),
            ("sock.type", u(1)),
            ("sock.state", u(10)),
            ("sock.backlog", i(128)),
            ("sock.rcvbuf", i(212_992)),
            ("sock.sndbuf", i(212_992)),
            ("sock.rcvtimeo", i(i64::MAX)),
            ("sock.sndtimeo", i(i64::MAX)),
        ],
        &[],
        vec![],
    )?;
    let f = vec![
        ("this", i(s)),
        ("peer", i(0)),
        ("peercred", i(cred)),
        ("peercred_uid", u(uid)),
        ("peercred_gid", u(gid_of(uid))),
        ("flags", u(1)),
        ("laddr_len", u(2 + path.len() as u64 + 1)),
        ("raddr_len", u(0)),
        ("laddr.sun_family", u(1)),
        ("laddr.sun_path", Value::Text(path.into())),
    ];
    e.placed_fields(
        "SOCKET_UNIX",
        &f,
        &[
            ("peercred_uid", PlaceKind::Uid),
            ("peercred_gid", PlaceKind::Gid),
        ],
    );
    e.placed(
        0,
        PlaceKind::Path,
        "laddr.sun_path",
        PlaceValue::Text(path.into()),
    );
    e.rec("SOCKET_UNIX", f, &[], vec![])?;
    if let Some(dir) = dir {
        debug_assert!(!path.starts_with('/'));
        e.placed(0, PlaceKind::Path, "text", PlaceValue::Text(dir.into()));
        let string = e.f.record_type("STRING").unwrap();
        e.w.write_record(string, &file_name(dir))?;
    }
    let mut f = file_common(cred, "SOCKET", e, 0x1f, 0o2);
    f.push(("sock_objref", i(s)));
    e.rec("FILE", f, &[], vec![])?;
    Ok(file)
}

fn write_inet_listener<W: Write>(e: &mut Emitter<'_, W>, cred: i64, port: u64) -> Result<i64> {
    let file = e.objref("FILE")?;
    let s = e.objref("SOCK")?;
    e.rec(
        "SOCKET",
        vec![
            ("socket.state", u(1)),
            ("sock_common.family", u(2)),
            ("sock_common.state", u(10)),
            ("sock.type", u(1)),
            ("sock.state", u(10)),
            ("sock.backlog", i(128)),
            ("sock.rcvbuf", i(87380)),
            ("sock.sndbuf", i(16384)),
        ],
        &[],
        vec![],
    )?;
    // sport and sin_port are in network order (__be16): their bytes are big-endian
    // whatever the arch.
    let network = match e.f.arch.endian() {
        crate::Endian::Little => (port as u16).swap_bytes() as u64,
        crate::Endian::Big => port,
    };
    e.rec(
        "SOCKET_INET",
        vec![
            ("num", u(port)),
            ("sport", u(network)),
            ("laddr_len", u(16)),
            ("laddr.sin_family", u(2)),
            ("laddr.sin_port", u(network)),
        ],
        &[],
        vec![],
    )?;
    let mut f = file_common(cred, "SOCKET", e, 0x1f, 0o2);
    f.push(("sock_objref", i(s)));
    e.rec("FILE", f, &[], vec![])?;
    Ok(file)
}

#[allow(clippy::too_many_arguments)]
fn write_mm<W: Write>(
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
    let vdso: u64 = if word == 4 {
        0xb7ff_f000
    } else {
        0x7fff_ffff_e000
    };
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
    let chunk = (PAGE_SIZE as u64 / word).max(1);
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
fn hugetlb_shift(arch: Arch) -> u64 {
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
fn write_hpages<W: Write>(
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

fn mask(word: u64) -> u64 {
    if word == 4 { 0xffff_ffff } else { u64::MAX }
}

fn saved_auxv<W: Write>(e: &Emitter<'_, W>) -> Result<Vec<u8>> {
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
    let pairs: [(u64, u64); 6] = [(6, 4096), (17, 100), (3, 0x400040), (4, 56), (5, 9), (0, 0)];
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

fn write_cpu<W: Write>(
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
                        ("sysenter_return", u(0)),
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
                    } else {
                        rng.next_u64() & 0xffff_ffff
                    }),
                )
            })
            .collect();
            f.extend([
                ("orig_ax", u(if x64 { 0 } else { 162 })),
                ("ip", u(if x64 { 0x0040_1234 } else { 0x0804_9234 })),
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
fn write_sem_undo<W: Write>(e: &mut Emitter<'_, W>) -> Result<i64> {
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
fn sigset(arch: crate::Arch, bits: u64) -> Value {
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

fn write_sighand<W: Write>(e: &mut Emitter<'_, W>, opts: &BuildOptions) -> Result<i64> {
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

fn write_sigpending<W: Write>(e: &mut Emitter<'_, W>, pending: &[(u64, i64)]) -> Result<()> {
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
fn write_task<W: Write>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::Reader;
    use crate::schema::{Registry, Schema};

    /// One record read back: its name, length, decoded fields and text (inline records).
    struct Rec {
        name: &'static str,
        len: u32,
        fields: Vec<(String, Value)>,
        text: Option<String>,
    }

    impl Rec {
        fn int(&self, path: &str) -> i128 {
            self.fields
                .iter()
                .find(|(p, _)| p == path)
                .and_then(|(_, v)| v.as_int())
                .unwrap_or_else(|| panic!("{}: no field {path}", self.name))
        }
    }

    fn pairs() -> Vec<(&'static Schema, Arch)> {
        Registry::get()
            .all()
            .iter()
            .flat_map(|&s| s.arches.iter().map(move |(a, _)| (s, *a)))
            .collect()
    }

    fn all_on() -> BuildOptions {
        BuildOptions {
            tasks: 5,
            memory: 6 * 4096,
            seed: 7,
            with_netns: true,
            with_hugetlb: true,
            with_sem_undo: true,
            ..Default::default()
        }
    }

    /// Builds, reads back every record and rewrites the image; the rewrite must be the
    /// image byte for byte.
    fn build_and_read(schema: &'static Schema, arch: Arch, opts: &BuildOptions) -> Vec<Rec> {
        let f = Format::new(schema, arch);
        let mut img = Vec::new();
        build(&f, opts, &mut img).unwrap_or_else(|e| panic!("build {} {arch}: {e}", schema.id));
        let mut r = Reader::new(&img[..], Format::new(schema, arch));
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out, arch.endian());
        let mut recs = Vec::new();
        loop {
            let rec = match r.next_record() {
                Ok(Some(rec)) => rec,
                Ok(None) => break,
                Err(e) => panic!("{} {arch}: read: {e}", schema.id),
            };
            let (fields, text) = if rec.inline {
                let d = r
                    .decode()
                    .unwrap_or_else(|e| panic!("{} {arch}: decode: {e}", schema.id));
                w.write_record_bytes(r.record_bytes()).unwrap();
                (d.fields, d.text)
            } else {
                w.begin_record(rec.rtype, rec.body_len() as u64).unwrap();
                let mut buf = Vec::new();
                r.copy_payload(&mut buf).unwrap();
                w.write_payload(&buf).unwrap();
                (vec![], None)
            };
            recs.push(Rec {
                name: rec.name,
                len: rec.len,
                fields,
                text,
            });
        }
        assert!(r.finished(), "{} {arch}: no TAIL", schema.id);
        w.finish().unwrap();
        assert!(out == img, "{} {arch}: the rewrite differs", schema.id);
        recs
    }

    fn objrefs(f: &Format, recs: &[Rec], obj: &str) -> Vec<(usize, i128)> {
        let t = f.schema.enum_value("obj", obj, f.arch).unwrap() as i128;
        recs.iter()
            .enumerate()
            .filter(|(_, r)| r.name == "OBJREF" && r.int("objtype") == t)
            .map(|(k, r)| (k, r.int("objref")))
            .collect()
    }

    fn count(recs: &[Rec], name: &str) -> usize {
        recs.iter().filter(|r| r.name == name).count()
    }

    /// The `f_secref` of a FILE record, whichever struct it holds.
    fn f_secref(r: &Rec) -> i128 {
        r.fields
            .iter()
            .find(|(p, _)| p == "common.f_secref" || p == "f_secref")
            .and_then(|(_, v)| v.as_int())
            .unwrap()
    }

    fn check_label(f: &Format, recs: &[Rec]) {
        let id = &f.schema.id;
        if f.record_type("SECURITY").is_none() {
            assert_eq!(count(recs, "SECURITY"), 0);
            return;
        }
        let labels = objrefs(f, recs, "SECURITY");
        assert_eq!(labels.len(), 1, "{id}: one label object");
        let (at, tag) = labels[0];
        let sec = &recs[at + 1];
        assert_eq!(sec.name, "SECURITY");
        assert_eq!(sec.int("sectype"), 4);
        let ptr = sec.int("ptrref");
        // The label pointer took the tag just before the OBJREF's, with no record.
        assert_eq!(ptr + 1, tag, "{id}");
        assert!(
            recs.iter()
                .all(|r| r.name != "OBJREF" || r.int("objref") != ptr)
        );
        assert_eq!(recs[at + 2].name, "STRING");
        assert_eq!(recs[at + 2].text.as_deref(), Some(LABEL_CONTEXT));
        // One CRED (right after the label) and one FILE refer to it, after it.
        let creds: Vec<usize> = (0..recs.len())
            .filter(|&k| recs[k].name == "CRED" && recs[k].int("sec_ref") != 0)
            .collect();
        assert_eq!(creds, vec![at + 3], "{id}");
        assert_eq!(recs[at + 3].int("sec_ref"), ptr);
        let files: Vec<usize> = (0..recs.len())
            .filter(|&k| recs[k].name == "FILE" && f_secref(&recs[k]) != 0)
            .collect();
        assert_eq!(files.len(), 1, "{id}");
        assert!(files[0] > at);
        assert_eq!(f_secref(&recs[files[0]]), ptr);
    }

    fn check_ldisc(f: &Format, recs: &[Rec]) {
        let ttys: Vec<usize> = (0..recs.len()).filter(|&k| recs[k].name == "TTY").collect();
        if f.schema.enum_value("file", "TTY", f.arch).is_some() {
            assert_eq!(ttys.len(), 2, "{}: master and slave", f.schema.id);
        }
        for k in ttys {
            assert_eq!(recs[k + 1].name, "TTY_LDISC");
            let n = recs[k + 1].int("datalen");
            assert!(n > 0);
            assert_eq!(recs[k + 2].name, "BUFFER");
            assert_eq!(recs[k + 2].len as i128, 8 + n);
        }
    }

    fn check_msg(recs: &[Rec]) {
        let k = recs.iter().position(|r| r.name == "IPC_MSG").unwrap();
        let q = &recs[k];
        assert_eq!(q.int("q_qnum"), 1);
        let m = &recs[k + 1];
        assert_eq!(m.name, "IPC_MSG_MSG");
        assert_eq!(m.int("m_ts"), q.int("q_cbytes"));
        assert_eq!(recs[k + 2].name, "BUFFER");
        assert_eq!(recs[k + 2].len as i128, 8 + m.int("m_ts"));
        assert_eq!(recs[k + 3].name, "IPC");
    }

    fn uflags(recs: &[Rec]) -> i128 {
        recs[0].int("uflags")
    }

    #[test]
    fn every_pair_with_every_option_reads_back_and_rewrites_byte_for_byte() {
        for (schema, arch) in pairs() {
            let f = Format::new(schema, arch);
            let id = &schema.id;
            let recs = build_and_read(schema, arch, &all_on());
            check_label(&f, &recs);
            check_ldisc(&f, &recs);
            check_msg(&recs);
            // Net namespace.
            let ns = recs.iter().find(|r| r.name == "NS").unwrap();
            if f.record_type("NET_NS").is_some() {
                let nets = objrefs(&f, &recs, "NET_NS");
                assert_eq!(nets.len(), 1, "{id} {arch}");
                let (at, tag) = nets[0];
                assert_eq!(recs[at + 1].name, "NET_NS");
                assert_eq!(recs[at + 1].int("this_ref"), tag);
                assert_eq!(ns.int("net_objref"), tag);
                assert_eq!(count(&recs, "NETDEV"), 3);
                assert_eq!(count(&recs, "NETDEV_ADDR"), 2);
                let dump = if schema.constant("CHECKPOINT_NETNS", arch).is_some() {
                    2
                } else {
                    0
                };
                assert_eq!(uflags(&recs), dump, "{id} {arch}");
            } else {
                assert_eq!(count(&recs, "NET_NS"), 0);
            }
            // Hugetlb.
            if f.record_type("HPAGE").is_some() {
                let huge = f.schema.enum_value("vma", "HUGETLB", arch).unwrap() as i128;
                let k = recs
                    .iter()
                    .position(|r| r.name == "VMA" && r.int("vma_type") == huge)
                    .unwrap_or_else(|| panic!("{id} {arch}: no hugetlb vma"));
                let shift = recs[k].int("hugetlb_shift");
                assert_eq!(recs[k + 1].name, "HPAGE");
                assert_eq!(recs[k + 1].int("shift"), shift);
                assert_eq!(recs[k + 1].int("vaddr"), recs[k].int("vm_start"));
                assert_eq!(recs[k + 2].name, "BUFFER");
                assert_eq!(recs[k + 2].len as i128, 8 + (1 << shift));
                assert_eq!(recs[k + 3].name, "VMA");
                assert_eq!(count(&recs, "HPAGE"), 1);
            } else {
                assert_eq!(count(&recs, "HPAGE"), 0);
            }
            // Semaphore undo.
            if f.record_type("TASK_SEM_UNDO_LIST").is_some() {
                let undo = objrefs(&f, &recs, "SEM_UNDO");
                assert_eq!(undo.len(), 1, "{id} {arch}");
                let (at, tag) = undo[0];
                assert_eq!(recs[at + 1].name, "TASK_SEM_UNDO_LIST");
                assert_eq!(recs[at + 1].int("count"), 1);
                assert_eq!(recs[at + 2].name, "TASK_SEM_UNDO");
                let n = recs[at + 2].int("semadj_count");
                assert_eq!(recs[at + 3].name, "BUFFER");
                assert_eq!(recs[at + 3].len as i128, 8 + 2 * n);
                // Between FS and SIGHAND.
                assert_eq!(recs[at - 1].name, "FILE_NAME");
                assert_eq!(recs[at + 4].name, "OBJREF");
                assert_eq!(recs[at + 5].name, "SIGHAND");
                let objs = recs.iter().find(|r| r.name == "TASK_OBJS").unwrap();
                assert_eq!(objs.int("sem_undo_objref"), tag);
            } else {
                assert_eq!(count(&recs, "TASK_SEM_UNDO_LIST"), 0);
            }
        }
    }

    #[test]
    fn the_default_image_has_labels_ldiscs_and_messages_but_no_netns_hugetlb_or_sem_undo() {
        for (schema, arch) in pairs() {
            let f = Format::new(schema, arch);
            let opts = BuildOptions {
                tasks: 5,
                ..Default::default()
            };
            let recs = build_and_read(schema, arch, &opts);
            check_label(&f, &recs);
            check_ldisc(&f, &recs);
            check_msg(&recs);
            for name in [
                "NET_NS",
                "NETDEV",
                "NETDEV_ADDR",
                "HPAGE",
                "TASK_SEM_UNDO_LIST",
            ] {
                assert_eq!(count(&recs, name), 0, "{} {arch}: {name}", schema.id);
            }
            let no_dump = schema.constant("CHECKPOINT_NONETNS", arch).map_or(0, |v| v);
            assert_eq!(uflags(&recs), no_dump);
            let ns = recs.iter().find(|r| r.name == "NS").unwrap();
            if let Some((_, v)) = ns.fields.iter().find(|(p, _)| p == "net_objref") {
                assert_eq!(v.as_int(), Some(0));
            }
            assert!(recs.iter().filter(|r| r.name == "TASK_OBJS").all(|r| {
                r.fields
                    .iter()
                    .all(|(p, v)| p != "sem_undo_objref" || v.as_int() == Some(0))
            }));
        }
    }

    #[test]
    fn the_same_seed_makes_the_same_image() {
        let schema = Registry::get().find("v23-rc2").unwrap();
        let f = Format::new(schema, Arch::X86_64);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        build(&f, &all_on(), &mut a).unwrap();
        build(&f, &all_on(), &mut b).unwrap();
        assert!(a == b);
    }
}
