//! A model of an image: its tasks, in tree order, and the objects they refer to, with
//! tags resolved. `ckpt info --tasks` prints it and `ckpt diff` compares two of them.
//!
//! The model is built record by record ([`ModelBuilder::add`]) so that it can ride along
//! another walk of the same stream; page contents are hashed per VMA (SHA-256) when asked,
//! never kept. Memory grows with the number of tasks, objects and VMAs only.

pub mod places;

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::input::Input;
use crate::read::Decoded;
use crate::value::{Value, get_uint};
use crate::{Format, Reader, RecordInfo, Result};

/// Fields of a record, without the pre-header.
pub type Fields = Vec<(String, Value)>;

/// A task of the tree, with its own records and the tags of the objects it uses.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TaskModel {
    /// Position in the tree (the order of the TASK records).
    pub index: usize,
    /// Pid in the root task's pid namespace (0: not visible there).
    pub pid: i64,
    /// Parent's pid (0: outside the image).
    pub ppid: i64,
    /// Thread group id.
    pub tgid: i64,
    /// Process group id.
    pub pgid: i64,
    /// Session id.
    pub sid: i64,
    /// The pid in nested pid namespaces, outermost first (as the revision records them).
    pub nested: Vec<i64>,
    /// `comm`.
    pub comm: String,
    /// True when the task is a zombie (exit_state set; no records follow its TASK).
    pub zombie: bool,
    /// The TASK record's members.
    pub fields: Fields,
    /// The CPU record's members (registers; empty when the record is opaque).
    pub cpu: Fields,
    /// The THREAD record's members (thread_info flags, TLS, sysenter_return), where the
    /// arch has one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub thread: Fields,
    /// The RESTART_BLOCK record's members (how an interrupted system call resumes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restart_block: Fields,
    /// Object references of TASK_CREDS, TASK_NS and TASK_OBJS, by member name (0s left
    /// out).
    pub refs: BTreeMap<String, i64>,
    /// Its signal records, in image order: `SIGNAL` and the shared `SIGPENDING` (first
    /// task of a thread group), its private `SIGPENDING` and `SIGNAL_TASK` (blocked mask).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<(String, Fields)>,
}

/// An open file descriptor of a file table.
#[derive(Debug, Clone, Serialize)]
pub struct FdModel {
    /// The descriptor number.
    pub fd: i64,
    /// Close-on-exec flag.
    pub close_on_exec: bool,
    /// Tag of the file object.
    pub file: i64,
}

/// A memory area of an address space.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VmaModel {
    /// First address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// The VMA record's members.
    pub fields: Fields,
    /// Pages saved for it.
    pub pages: u64,
    /// Page chunks (PGARR with pages) they were saved in.
    pub chunks: u64,
    /// SHA-256 of its pages, when hashing was asked for: each page's address (as a
    /// little-endian u64) and its contents, in order, whatever the chunks and the width
    /// of the image's page addresses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    #[serde(skip)]
    hasher: Option<Sha256>,
}

/// A SysV IPC object of an IPC namespace: a shared memory segment, a message queue or a
/// semaphore set (IPC_SHM, IPC_MSG, IPC_SEM), in image order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IpcModel {
    /// Its record: `IPC_SHM`, `IPC_MSG` or `IPC_SEM`.
    pub record: String,
    /// The record's members (`perms.id`, `perms.key`, `shm_segsz`, ...).
    pub fields: Fields,
    /// Pages saved for a shared memory segment.
    pub pages: u64,
    /// Page chunks they were saved in.
    pub chunks: u64,
    /// Messages of a queue (IPC_MSG_MSG records).
    pub messages: u64,
    /// SHA-256 of its contents, when hashing was asked for: a segment's pages (each
    /// page's index as a little-endian u64 and its contents), a queue's messages (each IPC_MSG_MSG body and its text
    /// chunks), a semaphore set's array.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    #[serde(skip)]
    hasher: Option<Sha256>,
}

/// An object: the record that follows its OBJREF, and what belongs to it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ObjectModel {
    /// Its tag.
    pub tag: i64,
    /// Object type name from the OBJREF (`FILE`, `MM`, `CRED`).
    pub kind: String,
    /// The record that defines it (`FILE`, `MM`, `CRED`, ...).
    pub record: String,
    /// Offset of that record.
    pub offset: u64,
    /// Its members.
    pub fields: Fields,
    /// Texts of its payload records (file names, labels, strings).
    pub texts: Vec<String>,
    /// For a file table: its descriptors.
    pub fds: Vec<FdModel>,
    /// For an address space: its VMAs.
    pub vmas: Vec<VmaModel>,
    /// For an address space: the saved auxv as the image stores it, one value per slot
    /// (native longs before v19, u64 entries from v19), up to the last non-zero one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub saved_auxv: Vec<u64>,
    /// For an IPC namespace: its SysV IPC objects.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ipc: Vec<IpcModel>,
    /// Records that describe the object further, with their members: a socket's
    /// `SOCKET_UNIX` or `SOCKET_INET`, a tty's `TTY_LDISC`, an epoll file's `EPOLL_ITEMS`
    /// (with its items' members, `items[k].fd`, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<(String, Fields)>,
    /// For a pipe or fifo file that carries the pipe's contents: bytes buffered (its
    /// `PIPE_BUF`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipe_buffered: Option<u64>,
}

impl ObjectModel {
    /// The first text of the object (a file's path).
    pub fn path(&self) -> Option<&str> {
        self.texts.first().map(String::as_str)
    }

    /// The integer member `name`.
    pub fn int(&self, name: &str) -> Option<i128> {
        field_int(&self.fields, name)
    }

    /// The members of its part record `record` (`SOCKET_UNIX`, ...), if it has one.
    pub fn part(&self, record: &str) -> Option<&Fields> {
        self.parts.iter().find(|(r, _)| r == record).map(|(_, f)| f)
    }
}

/// The integer member `name` of `fields`.
pub fn field_int(fields: &Fields, name: &str) -> Option<i128> {
    fields
        .iter()
        .find(|(p, _)| p == name)
        .and_then(|(_, v)| v.as_int())
}

/// The model of one image.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImageModel {
    /// The HEADER's members.
    pub header: Fields,
    /// The uts strings after the header (release, version, machine).
    pub uts: Vec<String>,
    /// The tasks, in tree order.
    pub tasks: Vec<TaskModel>,
    /// Every object with an OBJREF, by tag.
    pub objects: BTreeMap<i64, ObjectModel>,
    /// Records by type name.
    pub record_counts: BTreeMap<String, u64>,
    /// The message of an error record (a failed checkpoint).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ImageModel {
    /// The object with `tag`.
    pub fn object(&self, tag: i64) -> Option<&ObjectModel> {
        self.objects.get(&tag)
    }

    /// The tasks of the thread group of `t` (its threads, itself included).
    pub fn threads(&self, t: &TaskModel) -> usize {
        self.tasks.iter().filter(|x| x.tgid == t.tgid).count()
    }
}

/// The pid objects of a PIDS section's BUFFER (b6cdf01 on): `{u32 depth; s32
/// numbers[depth + 1]}` back to back, each as its numbers, outermost first.
pub fn pid_entries(body: &[u8], endian: crate::Endian) -> Vec<Vec<i64>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= body.len() {
        let depth = get_uint(&body[at..at + 4], endian) as usize;
        let end = (at + 8)
            .saturating_add(depth.saturating_mul(4))
            .min(body.len());
        out.push(
            body[at + 4..end]
                .chunks_exact(4)
                .map(|c| get_uint(c, endian) as u32 as i32 as i64)
                .collect(),
        );
        at = end;
    }
    out
}

/// The tag of the first pid object, from `pids.offset`: one more at b6cdf01, the offset
/// itself from 1fd8e6e on (user-cr 65d2dff).
pub fn first_pid_tag(schema: &crate::Schema, offset: i64) -> i64 {
    if schema.ordinal <= 15 {
        offset + 1
    } else {
        offset
    }
}

/// The number of pid `tag`: the outermost number of its pid object where the revision
/// has pid objects (`objs` not empty, the first of them tagged `first`), else the tag
/// itself.
fn pid_number(objs: &[Vec<i64>], first: i64, tag: i64) -> i64 {
    if objs.is_empty() || tag <= 0 {
        return tag;
    }
    objs.get((tag - first) as usize)
        .and_then(|n| n.first().copied())
        .unwrap_or(0)
}

/// Whom a page chunk belongs to (see [`ModelBuilder::current_page_owner`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PageOwner {
    /// A VMA: the tag of its address space (MM object) and its index among the VMAs.
    Vma {
        /// Tag of the MM object.
        mm: i64,
        /// Index of the VMA in [`ObjectModel::vmas`].
        vma: usize,
    },
    /// A SysV shm segment: the tag of its IPC namespace and its index among the
    /// namespace's IPC objects ([`ObjectModel::ipc`]).
    Shm {
        /// Tag of the IPC_NS object.
        ipc_ns: i64,
        /// Index in [`ObjectModel::ipc`].
        ipc: usize,
    },
}

/// Builds an [`ImageModel`] from the records of a walk.
pub struct ModelBuilder {
    format: &'static Format,
    hash_pages: bool,
    model: ImageModel,
    /// OBJREFs whose object record has not come yet (objects nest: a FILE's socket or
    /// tty comes between its OBJREF and its FILE record).
    pending: Vec<(i64, String)>,
    current_object: Option<i64>,
    current_table: Option<i64>,
    current_mm: Option<i64>,
    /// Pages go to this VMA of the current address space.
    current_vma: Option<usize>,
    /// The IPC namespace whose IPC objects are being read, and the current one of them
    /// (pages, messages and arrays go to it).
    current_ipc_ns: Option<i64>,
    current_ipc: Option<usize>,
    /// Pid objects (b6cdf01 on): numbers per object, and the tag of the first.
    pid_objects: Vec<Vec<i64>>,
    pids_offset: i64,
    tree: Vec<BTreeMap<String, i64>>,
    /// The last SOCKET object (its SOCKET_INET follows it) and the epoll file whose
    /// EPOLL_ITEMS was read last (its items follow).
    current_socket: Option<i64>,
    current_epoll: Option<i64>,
    /// The task whose records are being read (the tasks may exist before their TASK
    /// records: a VPIDS section fills in their nested pids first).
    current_task: Option<usize>,
}

fn strip(fields: Vec<(String, Value)>) -> Fields {
    fields
        .into_iter()
        .filter(|(p, _)| !p.starts_with("h."))
        .collect()
}

fn int(d: &Decoded, name: &str) -> i64 {
    d.int(name).unwrap_or(0) as i64
}

impl ModelBuilder {
    /// A builder for images of `format`; `hash_pages` hashes page contents per VMA.
    pub fn new(format: &'static Format, hash_pages: bool) -> ModelBuilder {
        ModelBuilder {
            format,
            hash_pages,
            model: ImageModel::default(),
            pending: Vec::new(),
            current_object: None,
            current_table: None,
            current_mm: None,
            current_vma: None,
            current_ipc_ns: None,
            current_ipc: None,
            pid_objects: Vec::new(),
            pids_offset: 0,
            tree: Vec::new(),
            current_socket: None,
            current_epoll: None,
            current_task: None,
        }
    }

    /// Takes in the record `rec` that `r` has just returned. It may read the record's
    /// streamed payload (page contents) when hashing.
    pub fn add<R: Input>(&mut self, r: &mut Reader<R>, rec: &RecordInfo) -> Result<()> {
        *self
            .model
            .record_counts
            .entry(rec.name.to_string())
            .or_default() += 1;
        if !rec.inline {
            if rec.payload_of.is_some_and(|p| p.0 == "PGARR") {
                self.pages(r, rec)?;
            }
            if rec.name == "PIPE_BUF" {
                self.pipe_buffer(rec);
            }
            return Ok(());
        }
        if self.hash_pages && self.current_ipc.is_some() && !rec.headerless {
            // A queue's messages and text chunks, a semaphore set's array: their bodies.
            if matches!(rec.name, "IPC_MSG_MSG" | "BUFFER")
                && let Some(h) = self.ipc().and_then(|i| i.hasher.as_mut())
            {
                h.update(&r.record_bytes()[crate::format::HDR_SIZE as usize..]);
            }
        }
        if rec.headerless {
            return Ok(());
        }
        let d = r.decode()?;
        let endian = self.format.endian();
        match (rec.name, rec.payload_of) {
            ("HEADER", None) => self.model.header = strip(d.fields),
            ("BUFFER", Some(("HEADER", _))) => self.model.uts.push(d.text.unwrap_or_else(|| {
                let b = &r.record_bytes()[8..];
                String::from_utf8_lossy(b.split(|&c| c == 0).next().unwrap_or(&[])).into_owned()
            })),
            ("PIDS", None) => self.pids_offset = int(&d, "offset"),
            ("BUFFER", Some(("PIDS", _))) => {
                self.pid_objects = pid_entries(&r.record_bytes()[8..], endian);
            }
            ("BUFFER", Some(("TREE", "pids"))) => {
                let mut k = 0;
                while d.int(&format!("pids[{k}].vpid")).is_some() {
                    let prefix = format!("pids[{k}].");
                    self.tree.push(
                        d.fields
                            .iter()
                            .filter_map(|(p, v)| {
                                Some((p.strip_prefix(&prefix)?.to_string(), v.as_int()? as i64))
                            })
                            .collect(),
                    );
                    k += 1;
                }
            }
            ("BUFFER", Some((_, "vpids"))) => {
                let nums: Vec<i64> = r.record_bytes()[8..]
                    .chunks_exact(4)
                    .map(|c| get_uint(c, endian) as u32 as i32 as i64)
                    .collect();
                let mut at = 0;
                for (k, e) in self.tree.iter().enumerate() {
                    let depth = e.get("depth").copied().unwrap_or(0).max(0) as usize;
                    let end = (at + depth).min(nums.len());
                    if k >= self.model.tasks.len() {
                        self.model.tasks.push(TaskModel::default());
                    }
                    self.model.tasks[k].nested = nums[at.min(end)..end].to_vec();
                    at = end;
                }
            }
            ("TASK", None) => {
                let k = self.model.record_counts["TASK"] as usize - 1;
                if k >= self.model.tasks.len() {
                    self.model.tasks.resize(k + 1, TaskModel::default());
                }
                self.current_task = Some(k);
                let t = &mut self.model.tasks[k];
                t.index = k;
                t.zombie = int(&d, "exit_state") != 0;
                t.fields = strip(d.fields);
                self.current_vma = None;
            }
            ("STRING", Some(("TASK", _))) => {
                if let Some(t) = self.task_mut() {
                    t.comm = d.text.unwrap_or_default();
                }
            }
            ("CPU", None) => {
                if let Some(t) = self.task_mut() {
                    t.cpu = strip(d.fields);
                }
            }
            ("THREAD", None) => {
                if let Some(t) = self.task_mut() {
                    t.thread = strip(d.fields);
                }
            }
            ("RESTART_BLOCK", None) => {
                if let Some(t) = self.task_mut() {
                    t.restart_block = strip(d.fields);
                }
            }
            ("BUFFER", Some(("MM", "saved_auxv"))) => {
                let body = &r.record_bytes()[8..];
                let slot = self.format.saved_auxv_slot();
                let endian = self.format.endian();
                let mut v: Vec<u64> = body
                    .chunks_exact(slot)
                    .map(|c| crate::value::get_uint(c, endian))
                    .collect();
                while v.last() == Some(&0) {
                    v.pop();
                }
                if let Some(o) = self.current_mm.and_then(|t| self.model.objects.get_mut(&t)) {
                    o.saved_auxv = v;
                }
            }
            ("TASK_CREDS" | "TASK_NS" | "TASK_OBJS", None) => {
                if let Some(t) = self.task_mut() {
                    for (p, v) in d.fields {
                        if p.ends_with("ref")
                            && let Some(x) = v.as_int()
                            && x != 0
                        {
                            t.refs.insert(p, x as i64);
                        }
                    }
                }
            }
            ("OBJREF", None) => {
                let kind = d
                    .int("objtype")
                    .and_then(|t| {
                        self.format
                            .schema
                            .enum_name("obj", t as i64, self.format.arch)
                    })
                    .unwrap_or("?")
                    .to_string();
                self.pending.push((int(&d, "objref"), kind));
            }
            ("FILE_DESC", None) => {
                if let Some(o) = self
                    .current_table
                    .and_then(|t| self.model.objects.get_mut(&t))
                {
                    o.fds.push(FdModel {
                        fd: int(&d, "fd_descriptor"),
                        close_on_exec: int(&d, "fd_close_on_exec") != 0,
                        file: int(&d, "fd_objref"),
                    });
                }
            }
            ("VMA", None) => {
                let start = d.int("vm_start").unwrap_or(0) as u64;
                let end = d.int("vm_end").unwrap_or(0) as u64;
                let hash = self.hash_pages;
                if let Some(o) = self.current_mm.and_then(|t| self.model.objects.get_mut(&t)) {
                    o.vmas.push(VmaModel {
                        start,
                        end,
                        fields: strip(d.fields),
                        hasher: hash.then(Sha256::new),
                        ..VmaModel::default()
                    });
                    self.current_vma = Some(o.vmas.len() - 1);
                }
            }
            ("PGARR", None) => {
                let n = d.int("nr_pages").unwrap_or(0) as u64;
                if let Some((pages, chunks, _)) = self.page_owner() {
                    *pages += n;
                    *chunks += u64::from(n > 0);
                }
            }
            ("IPC_SHM" | "IPC_MSG" | "IPC_SEM", None) => {
                self.current_vma = None;
                let hasher = self.hash_pages.then(Sha256::new);
                if let Some(o) = self
                    .current_ipc_ns
                    .and_then(|t| self.model.objects.get_mut(&t))
                {
                    o.ipc.push(IpcModel {
                        record: rec.name.to_string(),
                        fields: strip(d.fields),
                        hasher,
                        ..IpcModel::default()
                    });
                    self.current_ipc = Some(o.ipc.len() - 1);
                }
            }
            ("IPC_MSG_MSG", None) => {
                if let Some(i) = self.ipc() {
                    i.messages += 1;
                }
            }
            ("STRING", Some(("ERROR", _))) => self.model.error = d.text,
            ("SIGNAL" | "SIGPENDING" | "SIGNAL_TASK", None) => {
                if let Some(t) = self.task_mut() {
                    t.signals.push((rec.name.to_string(), strip(d.fields)));
                }
            }
            ("SOCKET_UNIX" | "SOCKET_INET", None) => {
                // A unix socket names itself (`this`); a peer's record may come second.
                let this = d.int("this").map(|t| t as i64);
                let tag = this
                    .filter(|t| self.model.objects.contains_key(t))
                    .or(self.current_socket);
                if let Some(o) = tag.and_then(|t| self.model.objects.get_mut(&t)) {
                    o.parts.push((rec.name.to_string(), strip(d.fields)));
                }
            }
            ("TTY_LDISC", None) => {
                if let Some(o) = self
                    .current_object
                    .and_then(|t| self.model.objects.get_mut(&t))
                    .filter(|o| o.record == "TTY")
                {
                    o.parts.push((rec.name.to_string(), strip(d.fields)));
                }
            }
            ("EPOLL_ITEMS", None) => {
                let tag = int(&d, "epfile_objref");
                self.current_epoll = None;
                if let Some(o) = self.model.objects.get_mut(&tag) {
                    o.parts.push((rec.name.to_string(), strip(d.fields)));
                    self.current_epoll = Some(tag);
                }
            }
            ("BUFFER", Some(("EPOLL_ITEMS", _))) => {
                if let Some(o) = self
                    .current_epoll
                    .and_then(|t| self.model.objects.get_mut(&t))
                    && let Some((_, f)) = o.parts.last_mut()
                {
                    f.extend(strip(d.fields));
                }
            }
            ("PIPE_BUF", None) => self.pipe_buffer(rec),
            (name, Some((owner, _))) => {
                // A payload of the current object's record: keep its text.
                if let Some(o) = self
                    .current_object
                    .and_then(|t| self.model.objects.get_mut(&t))
                    && o.record == owner
                    && matches!(name, "FILE_NAME" | "STRING")
                {
                    o.texts.push(d.text.unwrap_or_else(|| {
                        let b = &r.record_bytes()[8..];
                        String::from_utf8_lossy(b.split(|&c| c == 0).next().unwrap_or(&[]))
                            .into_owned()
                    }));
                }
            }
            // A file's name follows its FILE record (not a declared payload).
            ("FILE_NAME", None) => {
                if let Some(o) = self
                    .current_object
                    .and_then(|t| self.model.objects.get_mut(&t))
                {
                    o.texts.push(d.text.unwrap_or_default());
                }
            }
            (name, None) => {
                if matches!(name, "MM_CONTEXT" | "IPC") {
                    self.current_vma = None;
                }
                if !matches!(name, "OBJREF" | "SECURITY" | "BUFFER") {
                    // Anything else ends the current IPC object's contents.
                    self.current_ipc = None;
                }
                // The object record of the innermost pending OBJREF of its kind.
                let at = self
                    .pending
                    .iter()
                    .rposition(|(_, k)| k == name || (k == "SOCK" && name == "SOCKET"));
                if let Some((tag, kind)) = at.map(|k| self.pending.remove(k)) {
                    match name {
                        "FILE_TABLE" => self.current_table = Some(tag),
                        "IPC_NS" => self.current_ipc_ns = Some(tag),
                        "MM" => {
                            self.current_mm = Some(tag);
                            self.current_vma = None;
                        }
                        "SOCKET" => self.current_socket = Some(tag),
                        _ => {}
                    }
                    self.current_object = Some(tag);
                    self.model.objects.insert(
                        tag,
                        ObjectModel {
                            tag,
                            kind,
                            record: name.to_string(),
                            offset: rec.offset,
                            fields: strip(d.fields),
                            ..ObjectModel::default()
                        },
                    );
                }
            }
        }
        Ok(())
    }

    fn task_mut(&mut self) -> Option<&mut TaskModel> {
        self.model.tasks.get_mut(self.current_task?)
    }

    /// A PIPE_BUF: the contents of the pipe of the file just read.
    fn pipe_buffer(&mut self, rec: &RecordInfo) {
        if let Some(o) = self
            .current_object
            .and_then(|t| self.model.objects.get_mut(&t))
            .filter(|o| o.record == "FILE")
        {
            o.pipe_buffered = Some(rec.len.saturating_sub(crate::format::HDR_SIZE) as u64);
        }
    }

    fn ipc(&mut self) -> Option<&mut IpcModel> {
        let (ns, k) = (self.current_ipc_ns?, self.current_ipc?);
        self.model.objects.get_mut(&ns)?.ipc.get_mut(k)
    }

    fn vma(&mut self) -> Option<&mut VmaModel> {
        let (mm, k) = (self.current_mm?, self.current_vma?);
        self.model.objects.get_mut(&mm)?.vmas.get_mut(k)
    }

    /// Where the current page chunks go: the pages count and page hasher of the current
    /// VMA, or of the current IPC object (a shm segment) when no VMA is current.
    fn page_owner(&mut self) -> Option<(&mut u64, &mut u64, &mut Option<Sha256>)> {
        if self.current_vma.is_some() {
            self.vma()
                .map(|v| (&mut v.pages, &mut v.chunks, &mut v.hasher))
        } else {
            self.ipc()
                .map(|i| (&mut i.pages, &mut i.chunks, &mut i.hasher))
        }
    }

    /// A chunk's BUFFER: n page addresses (native longs), then n pages. Each page is
    /// hashed after its address as a u64, so that the hash does not depend on how the
    /// pages were chunked nor on the width of the addresses.
    fn pages<R: Input>(&mut self, r: &mut Reader<R>, _rec: &RecordInfo) -> Result<()> {
        if !self.hash_pages {
            return Ok(());
        }
        let word = self.format.arch.word_size() as u64;
        let per = word + crate::limits::PAGE_SIZE as u64;
        let n = r.payload_left() / per;
        let mut addrs = vec![0u8; (n * word) as usize];
        let mut got = 0;
        while got < addrs.len() {
            let k = r.read_payload(&mut addrs[got..])?;
            if k == 0 {
                break;
            }
            got += k;
        }
        let mut hasher = self.page_owner().and_then(|(_, _, h)| h.take());
        let mut page = vec![0u8; crate::limits::PAGE_SIZE as usize];
        let endian = self.format.endian();
        for a in addrs.chunks_exact(word as usize) {
            let mut have = 0;
            while have < page.len() {
                let k = r.read_payload(&mut page[have..])?;
                if k == 0 {
                    break;
                }
                have += k;
            }
            if let Some(h) = hasher.as_mut() {
                h.update(crate::value::get_uint(a, endian).to_le_bytes());
                h.update(&page[..have]);
            }
        }
        // Anything after the pages (a malformed chunk) is hashed as it is.
        loop {
            let k = r.read_payload(&mut page)?;
            if k == 0 {
                break;
            }
            if let Some(h) = hasher.as_mut() {
                h.update(&page[..k]);
            }
        }
        if let (Some((_, _, slot)), Some(h)) = (self.page_owner(), hasher) {
            *slot = Some(h);
        }
        Ok(())
    }

    /// Whom the page chunk that comes now belongs to: the current VMA of the current
    /// address space, or (no VMA current) the current SysV shm segment.
    pub fn current_page_owner(&self) -> Option<PageOwner> {
        match (
            self.current_mm,
            self.current_vma,
            self.current_ipc_ns,
            self.current_ipc,
        ) {
            (Some(mm), Some(vma), _, _) => Some(PageOwner::Vma { mm, vma }),
            (_, None, Some(ipc_ns), Some(ipc)) => Some(PageOwner::Shm { ipc_ns, ipc }),
            _ => None,
        }
    }

    /// The tag of the object the records being read belong to: the last object record
    /// (FILE, FS, SOCKET, ...) after its OBJREF, so that a FILE_NAME or a FS's cwd can be
    /// tied to the object that holds it (`ckpt fs list`).
    pub fn current_object(&self) -> Option<i64> {
        self.current_object
    }

    /// The model read so far (pids of the tree not resolved yet: see
    /// [`ModelBuilder::tree_pids`]).
    pub fn partial(&self) -> &ImageModel {
        &self.model
    }

    /// The pid and thread group id of every task of the tree, in tree order, as far as
    /// the tree has been read (resolved through the pid objects where the revision has
    /// them).
    pub fn tree_pids(&self) -> Vec<(i64, i64)> {
        let first = first_pid_tag(self.format.schema, self.pids_offset);
        let num = |tag: i64| pid_number(&self.pid_objects, first, tag);
        self.tree
            .iter()
            .map(|e| {
                let g = |n: &str| e.get(n).copied().unwrap_or(0);
                (num(g("vpid")), num(g("vtgid")))
            })
            .collect()
    }

    /// The model: pid tags resolved to numbers, page hashes final.
    pub fn finish(mut self) -> ImageModel {
        let first = first_pid_tag(self.format.schema, self.pids_offset);
        let objs = &self.pid_objects;
        let num = |tag: i64| pid_number(objs, first, tag);
        for (k, e) in self.tree.iter().enumerate() {
            if k >= self.model.tasks.len() {
                self.model.tasks.push(TaskModel::default());
            }
            let g = |n: &str| e.get(n).copied().unwrap_or(0);
            let t = &mut self.model.tasks[k];
            t.index = k;
            t.pid = num(g("vpid"));
            t.ppid = num(g("vppid"));
            t.tgid = num(g("vtgid"));
            t.pgid = num(g("vpgid"));
            t.sid = num(g("vsid"));
            if !objs.is_empty() && g("vpid") > 0 {
                t.nested = objs
                    .get((g("vpid") - first) as usize)
                    .map(|n| n[1.min(n.len())..].to_vec())
                    .unwrap_or_default();
            }
        }
        let hex =
            |h: Sha256| -> String { h.finalize().iter().map(|b| format!("{b:02x}")).collect() };
        for o in self.model.objects.values_mut() {
            for v in &mut o.vmas {
                v.hash = v.hasher.take().map(hex);
            }
            for i in &mut o.ipc {
                i.hash = i.hasher.take().map(hex);
            }
        }
        self.model
    }
}

/// Reads the whole image into a model.
pub fn read_model<R: Input>(mut r: Reader<R>, hash_pages: bool) -> Result<ImageModel> {
    let format = Format::shared(r.format().schema, r.format().arch);
    let mut b = ModelBuilder::new(format, hash_pages);
    while let Some(rec) = r.next_record()? {
        b.add(&mut r, &rec)?;
    }
    Ok(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{BuildOptions, build};
    use crate::{Arch, Registry};

    /// A builder image of `s` on `arch`.
    fn image(s: &'static crate::Schema, arch: Arch, tasks: u32, memory: u64, seed: u64) -> Vec<u8> {
        let mut img = Vec::new();
        let o = BuildOptions {
            tasks,
            memory,
            seed,
            ..BuildOptions::default()
        };
        build(&Format::new(s, arch), &o, &mut img).unwrap();
        img
    }

    fn model(rev: &str, arch: Arch) -> ImageModel {
        let s = Registry::get().find(rev).unwrap();
        let img = image(s, arch, 3, 16384, 2);
        read_model(Reader::new(&img[..], Format::new(s, arch)), true).unwrap()
    }

    #[test]
    fn tasks_files_and_memory_resolve_through_tags_on_every_tree_encoding() {
        for (rev, arch) in [
            ("d55d4c8", Arch::X86_32),
            ("c83f38b", Arch::X86_64),
            ("a272e68", Arch::S390x),
            ("1fd8e6e", Arch::X86_64),
        ] {
            let m = model(rev, arch);
            assert!(m.tasks.len() >= 3, "{rev}");
            let root = &m.tasks[0];
            assert!(root.pid > 0 && !root.comm.is_empty(), "{rev}: {root:?}");
            // Each task's records go to it, also where a VPIDS section made the tasks
            // before their TASK records (c83f38b).
            for t in &m.tasks {
                assert!(!t.comm.is_empty(), "{rev}: task {} has no comm", t.index);
                assert!(!t.fields.is_empty(), "{rev}: task {}", t.index);
            }
            let tables: std::collections::BTreeSet<i64> = m
                .tasks
                .iter()
                .filter_map(|t| t.refs.get("files_objref").copied())
                .collect();
            assert!(
                tables.len() > 1,
                "{rev}: every task got the same file table"
            );
            // Every live task reaches a file table with descriptors whose files have a kind.
            let live = m.tasks.iter().find(|t| !t.zombie).unwrap();
            let table = m.object(live.refs["files_objref"]).unwrap();
            assert_eq!(table.record, "FILE_TABLE", "{rev}");
            assert!(!table.fds.is_empty(), "{rev}");
            for fd in &table.fds {
                assert_eq!(
                    m.object(fd.file).unwrap().record,
                    "FILE",
                    "{rev} fd {}",
                    fd.fd
                );
            }
            let mm = m.object(live.refs["mm_objref"]).unwrap();
            assert!(!mm.vmas.is_empty(), "{rev}");
            let pages: u64 = mm.vmas.iter().map(|v| v.pages).sum();
            assert!(pages > 0, "{rev}");
            assert!(mm.vmas.iter().all(|v| v.hash.is_some()), "{rev}");
        }
    }

    #[test]
    fn sysv_ipc_objects_are_kept_with_their_contents_hashed_on_every_pair() {
        for s in Registry::get().all() {
            for &(arch, _) in &s.arches {
                let img = image(s, arch, 2, 4096, 3);
                let m = read_model(Reader::new(&img[..], Format::new(s, arch)), true).unwrap();
                let ipc: Vec<&IpcModel> = m.objects.values().flat_map(|o| &o.ipc).collect();
                let count = |r: &str| m.record_counts.get(r).copied().unwrap_or(0);
                let kinds = ["IPC_SHM", "IPC_MSG", "IPC_SEM"];
                let expected: u64 = kinds.iter().map(|k| count(k)).sum();
                assert_eq!(ipc.len() as u64, expected, "{} {arch}", s.id);
                for i in &ipc {
                    assert!(i.hash.is_some(), "{} {arch}: {}", s.id, i.record);
                    assert!(
                        i.fields.iter().any(|(n, _)| n == "perms.id"),
                        "{} {arch}",
                        s.id
                    );
                }
                let shm_pages: u64 = ipc
                    .iter()
                    .filter(|i| i.record == "IPC_SHM")
                    .map(|i| i.pages)
                    .sum();
                let msgs: u64 = ipc.iter().map(|i| i.messages).sum();
                assert_eq!(msgs, count("IPC_MSG_MSG"), "{} {arch}", s.id);
                if count("IPC_SHM") > 0 {
                    assert!(shm_pages > 0, "{} {arch}: no shm pages", s.id);
                }
                // Pages of a segment are not counted as a VMA's.
                let vma_pages: u64 = m
                    .objects
                    .values()
                    .flat_map(|o| &o.vmas)
                    .map(|v| v.pages)
                    .sum();
                assert_eq!(
                    vma_pages + shm_pages,
                    pgarr_pages(&img, s, arch),
                    "{} {arch}",
                    s.id
                );
            }
        }
    }

    /// Pages announced by every PGARR of an image.
    fn pgarr_pages(img: &[u8], s: &'static crate::Schema, arch: Arch) -> u64 {
        let mut r = Reader::new(img, Format::new(s, arch));
        let mut n = 0;
        while let Some(rec) = r.next_record().unwrap() {
            if rec.name == "PGARR" && rec.inline {
                n += r.decode().unwrap().int("nr_pages").unwrap_or(0) as u64;
            }
        }
        n
    }

    #[test]
    fn the_same_image_in_two_tree_encodings_gives_the_same_pids() {
        let (a, b) = (
            model("a272e68", Arch::X86_64),
            model("b6cdf01", Arch::X86_64),
        );
        let pids = |m: &ImageModel| -> Vec<(i64, i64, i64, i64, i64)> {
            m.tasks
                .iter()
                .map(|t| (t.pid, t.ppid, t.tgid, t.pgid, t.sid))
                .collect()
        };
        assert_eq!(pids(&a), pids(&b));
    }
}
