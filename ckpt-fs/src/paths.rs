//! Every path an image depends on, with the tasks that use it and how.
//!
//! The paths are the [`PlaceKind::Path`] places of [`ckpt_format::model::places`] (the
//! enumeration `ckpt edit --path` rewrites); each is tied to the object that holds it
//! (a FILE, a FS, a unix socket) through [`ModelBuilder::current_object`], and its uses
//! come from the model: the descriptors of the file tables that hold the file, the
//! address spaces that run it or map it, the tasks that share the FS object. One walk,
//! the model built without page hashes: memory grows with the tasks and objects of the
//! image, never with its page contents.

use std::collections::BTreeMap;

use ckpt_format::input::Input;
use ckpt_format::limits::PAGE_SIZE;
use ckpt_format::model::places::{PlaceKind, PlaceTracker, PlaceValue};
use ckpt_format::model::{
    FdModel, ImageModel, ModelBuilder, ObjectModel, TaskModel, VmaModel, field_int,
};
use ckpt_format::summary::names::VM_SHARED;
use ckpt_format::{Format, Reader};
use serde::Serialize;

use crate::lookup::FileType;

/// The suffix the kernel's `d_path` gives a file that was unlinked while open.
pub const DELETED_SUFFIX: &str = " (deleted)";

/// A task, as the uses of a path name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskRef {
    /// Its pid in the image's root pid namespace.
    pub pid: i64,
    /// Its `comm`.
    pub comm: String,
}

/// How the file is opened, from its `f_flags`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// O_RDONLY.
    Read,
    /// O_WRONLY.
    Write,
    /// O_RDWR.
    ReadWrite,
}

impl Access {
    /// The access mode of `f_flags` (the same two low bits on every arch).
    pub fn of(flags: u64) -> Access {
        match flags & 3 {
            0 => Access::Read,
            1 => Access::Write,
            _ => Access::ReadWrite,
        }
    }

    /// Its name: `read`, `write`, `read-write`.
    pub fn name(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::ReadWrite => "read-write",
        }
    }
}

/// An open file descriptor that refers to the path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Descriptor {
    /// The descriptor number.
    pub fd: i64,
    /// The file's `f_flags` as the image records them.
    pub flags: u64,
    /// The access mode of the flags.
    pub access: Access,
    /// The file position (`f_pos`).
    pub pos: u64,
    /// The close-on-exec flag.
    pub close_on_exec: bool,
}

/// One way the image uses a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "use", rename_all = "snake_case")]
pub enum Use {
    /// A file open on a descriptor (a regular file or a device).
    OpenFile(Descriptor),
    /// A fifo open on a descriptor.
    Fifo(Descriptor),
    /// A tty open on a descriptor.
    Tty(Descriptor),
    /// The executable of an address space.
    Executable,
    /// A file mapped into an address space.
    MappedFile {
        /// First address.
        start: u64,
        /// End address (exclusive).
        end: u64,
        /// Offset in the file (`vm_pgoff` pages).
        offset: u64,
        /// A shared mapping (`VM_SHARED`), else private.
        shared: bool,
    },
    /// The working directory.
    Cwd,
    /// The root directory.
    Root,
    /// The address a unix socket is bound to.
    BoundSocket,
    /// The address of a unix socket's peer.
    PeerSocket,
    /// The directory a unix socket was bound relative to.
    BindDirectory,
    /// A use the image names but this list has no kind for (the place's own words).
    Other {
        /// What the place enumeration calls it.
        what: String,
    },
}

impl Use {
    /// Its name, as the human table shows it (`open file`, `bound socket`, `bind
    /// directory`: the directory a socket was bound relative to).
    pub fn name(&self) -> &str {
        match self {
            Use::OpenFile(_) => "open file",
            Use::Fifo(_) => "fifo",
            Use::Tty(_) => "tty",
            Use::Executable => "executable",
            Use::MappedFile { .. } => "mapped file",
            Use::Cwd => "cwd",
            Use::Root => "root",
            Use::BoundSocket => "bound socket",
            Use::PeerSocket => "peer socket",
            Use::BindDirectory => "bind directory",
            Use::Other { what } => what,
        }
    }

    /// The type of file this use needs the path to be, where it says.
    pub fn expects(&self) -> Option<FileType> {
        match self {
            Use::Fifo(_) => Some(FileType::Fifo),
            Use::Tty(_) => Some(FileType::CharDevice),
            Use::Executable | Use::MappedFile { .. } => Some(FileType::Regular),
            Use::Cwd | Use::Root | Use::BindDirectory => Some(FileType::Directory),
            Use::BoundSocket | Use::PeerSocket => Some(FileType::Socket),
            Use::OpenFile(_) | Use::Other { .. } => None,
        }
    }

    /// Whether a restart needs the path to be there for this use. A unix socket's
    /// address is bound again by the restart (the node need not exist; the peer's is
    /// the peer's), the others are opened, executed or entered.
    pub fn needed(&self) -> bool {
        !matches!(self, Use::BoundSocket | Use::PeerSocket)
    }
}

/// A use of a path, by the tasks that have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathUse {
    /// The tasks (several when they share the file table, the address space or the FS
    /// object; none known when the image's tasks do not reach it).
    pub tasks: Vec<TaskRef>,
    /// How they use it.
    #[serde(flatten)]
    pub how: Use,
}

/// What the image records about a path's file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Recorded {
    /// Its size, where a record holds it (`ino_size` of a mapping of the file).
    pub size: Option<u64>,
    /// The least size the image implies: the largest position of a descriptor open on
    /// it (a file shorter than that is not the one the processes had).
    pub min_size: Option<u64>,
    /// The file had been unlinked (its name ends with ` (deleted)`, as `d_path` puts it).
    pub deleted: bool,
}

/// A path the image depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImagePath {
    /// The path as the image holds it.
    pub path: String,
    /// What the image records about it.
    pub recorded: Recorded,
    /// Its uses, in image order.
    pub uses: Vec<PathUse>,
    /// Offset of the first record that holds it.
    pub offset: u64,
    /// Index of that record.
    pub record_index: u64,
}

impl ImagePath {
    /// The type of file its uses need (the first use that says).
    pub fn expects(&self) -> Option<FileType> {
        self.uses.iter().find_map(|u| u.how.expects())
    }

    /// Whether a restart needs it: a use needs it, it is absolute and not deleted.
    pub fn needed(&self) -> bool {
        !self.recorded.deleted && self.is_absolute() && self.uses.iter().any(|u| u.how.needed())
    }

    /// Whether the path is absolute (a unix socket may be bound to a relative one).
    pub fn is_absolute(&self) -> bool {
        self.path.starts_with('/')
    }

    /// The pids of every task that uses it, in order, once each.
    pub fn pids(&self) -> Vec<i64> {
        let mut out: Vec<i64> = Vec::new();
        for t in self.uses.iter().flat_map(|u| &u.tasks) {
            if !out.contains(&t.pid) {
                out.push(t.pid);
            }
        }
        out
    }
}

/// The paths of an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PathList {
    /// Every path, once, in the order the image first names it.
    pub paths: Vec<ImagePath>,
    /// The tasks of the image, in tree order.
    pub tasks: Vec<TaskRef>,
}

/// A path place of a walk, tied to its object.
struct Seen {
    path: String,
    use_: &'static str,
    task: Option<i64>,
    object: Option<i64>,
    offset: u64,
    record_index: u64,
}

/// Lists every path of the image `r` reads, with its uses.
pub fn collect<R: Input>(mut r: Reader<R>) -> crate::Result<PathList> {
    let format = Format::shared(r.format().schema, r.format().arch);
    let mut model = ModelBuilder::new(format, false);
    let mut places = PlaceTracker::new(format);
    let mut seen = Vec::new();
    while let Some(rec) = r.next_record()? {
        model.add(&mut r, &rec)?;
        let found = places.places(&r, &rec)?;
        if found.is_empty() {
            continue;
        }
        // A unix socket's record names its socket (`this`); the pair's first record
        // comes while the second socket is current.
        let object = if rec.name == "SOCKET_UNIX" {
            r.decode()?.int("this").map(|t| t as i64)
        } else {
            model.current_object()
        };
        for p in found {
            if let (PlaceKind::Path, PlaceValue::Text(path)) = (p.kind, p.value) {
                seen.push(Seen {
                    path,
                    use_: p.use_,
                    task: places.current_task(),
                    object,
                    offset: rec.offset,
                    record_index: rec.index,
                });
            }
        }
    }
    Ok(resolve(&model.finish(), format, seen))
}

fn task_ref(t: &TaskModel) -> TaskRef {
    TaskRef {
        pid: t.pid,
        comm: t.comm.clone(),
    }
}

/// An unsigned member of a FILE record (`f_flags` or `common.f_flags`).
fn file_member(o: &ObjectModel, name: &str) -> u64 {
    o.int(name)
        .or_else(|| o.int(&format!("common.{name}")))
        .unwrap_or(0) as u64
}

/// The model's references the other way round, built once: who holds each file, each
/// address space, each FS object, each socket (a lookup per path, not a scan).
struct Index<'m> {
    m: &'m ImageModel,
    format: &'m Format,
    /// Tasks by the member (`files_objref`, `mm_objref`, `fs_objref`) and tag they refer to.
    tasks: BTreeMap<(&'static str, i64), Vec<&'m TaskModel>>,
    /// Descriptors by the tag of their file: the table's tag and the descriptor.
    fds: BTreeMap<i64, Vec<(i64, &'m FdModel)>>,
    /// Address spaces by the tag of their executable.
    exes: BTreeMap<i64, Vec<i64>>,
    /// Mappings by the tag of their file: the address space's tag and the VMA.
    maps: BTreeMap<i64, Vec<(i64, &'m VmaModel)>>,
    /// FILE objects by the tag of their socket.
    socket_files: BTreeMap<i64, Vec<i64>>,
}

/// The task references [`Index`] follows.
const TASK_REFS: [&str; 3] = ["files_objref", "mm_objref", "fs_objref"];

impl<'m> Index<'m> {
    fn new(m: &'m ImageModel, format: &'m Format) -> Index<'m> {
        let mut ix = Index {
            m,
            format,
            tasks: BTreeMap::new(),
            fds: BTreeMap::new(),
            exes: BTreeMap::new(),
            maps: BTreeMap::new(),
            socket_files: BTreeMap::new(),
        };
        for t in &m.tasks {
            for member in TASK_REFS {
                if let Some(tag) = t.refs.get(member) {
                    ix.tasks.entry((member, *tag)).or_default().push(t);
                }
            }
        }
        for o in m.objects.values() {
            for d in &o.fds {
                ix.fds.entry(d.file).or_default().push((o.tag, d));
            }
            if o.record == "MM" {
                if let Some(exe) = o.int("exe_objref") {
                    ix.exes.entry(exe as i64).or_default().push(o.tag);
                }
                for v in &o.vmas {
                    let file = field_int(&v.fields, "vma_objref").unwrap_or(0) as i64;
                    if file != 0 {
                        ix.maps.entry(file).or_default().push((o.tag, v));
                    }
                }
            }
            if o.record == "FILE"
                && let Some(sock) = o.int("sock_objref")
            {
                ix.socket_files.entry(sock as i64).or_default().push(o.tag);
            }
        }
        ix
    }

    /// The tasks whose `member` refers to `tag`.
    fn tasks(&self, member: &'static str, tag: i64) -> Vec<TaskRef> {
        self.tasks
            .get(&(member, tag))
            .map(|ts| ts.iter().map(|t| task_ref(t)).collect())
            .unwrap_or_default()
    }

    /// The uses of the object a place belongs to.
    fn uses_of(&self, s: &Seen) -> Vec<PathUse> {
        let Some(o) = s.object.and_then(|t| self.m.object(t)) else {
            return Vec::new();
        };
        let how = match (o.record.as_str(), s.use_) {
            ("FILE", _) => return self.file_uses(o),
            ("FS", "cwd") => Use::Cwd,
            ("FS", "root") => Use::Root,
            ("SOCKET", "bound unix socket") => Use::BoundSocket,
            ("SOCKET", "peer unix socket") => Use::PeerSocket,
            ("SOCKET", "directory of a relative bind") => Use::BindDirectory,
            _ => return Vec::new(),
        };
        let tasks = if o.record == "FS" {
            self.tasks("fs_objref", o.tag)
        } else {
            self.socket_tasks(o.tag)
        };
        if tasks.is_empty() {
            return Vec::new();
        }
        vec![PathUse { tasks, how }]
    }

    /// A socket's tasks: those with a descriptor on a FILE of the socket.
    fn socket_tasks(&self, sock: i64) -> Vec<TaskRef> {
        let mut out: Vec<TaskRef> = Vec::new();
        let files = self
            .socket_files
            .get(&sock)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for file in files {
            for (table, _) in self.fds.get(file).map(Vec::as_slice).unwrap_or(&[]) {
                for t in self.tasks("files_objref", *table) {
                    if !out.contains(&t) {
                        out.push(t);
                    }
                }
            }
        }
        out
    }

    /// A FILE's uses: its descriptors, the address spaces that run it and those that
    /// map it.
    fn file_uses(&self, o: &ObjectModel) -> Vec<PathUse> {
        let mut out = Vec::new();
        let f_type = file_member(o, "f_type") as i64;
        let kind = self
            .format
            .schema
            .enum_name("file", f_type, self.format.arch);
        let flags = file_member(o, "f_flags");
        for (table, d) in self.fds.get(&o.tag).map(Vec::as_slice).unwrap_or(&[]) {
            let desc = Descriptor {
                fd: d.fd,
                flags,
                access: Access::of(flags),
                pos: file_member(o, "f_pos"),
                close_on_exec: d.close_on_exec,
            };
            out.push(PathUse {
                tasks: self.tasks("files_objref", *table),
                how: match kind {
                    Some("FIFO") => Use::Fifo(desc),
                    Some("TTY") => Use::Tty(desc),
                    _ => Use::OpenFile(desc),
                },
            });
        }
        for mm in self.exes.get(&o.tag).map(Vec::as_slice).unwrap_or(&[]) {
            out.push(PathUse {
                tasks: self.tasks("mm_objref", *mm),
                how: Use::Executable,
            });
        }
        for (mm, v) in self.maps.get(&o.tag).map(Vec::as_slice).unwrap_or(&[]) {
            let vint = |n: &str| field_int(&v.fields, n).unwrap_or(0);
            out.push(PathUse {
                tasks: self.tasks("mm_objref", *mm),
                how: Use::MappedFile {
                    start: v.start,
                    end: v.end,
                    offset: (vint("vm_pgoff") as u64).saturating_mul(PAGE_SIZE as u64),
                    shared: vint("vm_flags") as u64 & VM_SHARED != 0,
                },
            });
        }
        out
    }

    /// What the records say of the size of the file `o`: the `ino_size` of a mapping
    /// of it, the largest position of a descriptor open on it.
    fn record_sizes(&self, o: &ObjectModel, rec: &mut Recorded) {
        if o.record != "FILE" {
            return;
        }
        for (_, v) in self.maps.get(&o.tag).map(Vec::as_slice).unwrap_or(&[]) {
            let size = field_int(&v.fields, "ino_size").unwrap_or(0);
            if size > 0 {
                rec.size = Some(size as u64);
            }
        }
        let pos = file_member(o, "f_pos");
        if pos > 0 && self.fds.contains_key(&o.tag) {
            rec.min_size = Some(rec.min_size.unwrap_or(0).max(pos));
        }
    }
}

fn resolve(m: &ImageModel, format: &Format, seen: Vec<Seen>) -> PathList {
    let ix = Index::new(m, format);
    let mut paths: Vec<ImagePath> = Vec::new();
    let mut at: BTreeMap<String, usize> = BTreeMap::new();
    let by_pid: BTreeMap<i64, &TaskModel> = m.tasks.iter().map(|t| (t.pid, t)).collect();
    for s in seen {
        let mut uses = ix.uses_of(&s);
        if uses.is_empty() {
            // No task reaches the object: the place's own task and words.
            uses.push(PathUse {
                tasks: s
                    .task
                    .and_then(|p| by_pid.get(&p))
                    .map(|t| vec![task_ref(t)])
                    .unwrap_or_default(),
                how: use_of_words(s.use_),
            });
        }
        let k = *at.entry(s.path.clone()).or_insert_with(|| {
            paths.push(ImagePath {
                recorded: Recorded {
                    deleted: s.path.ends_with(DELETED_SUFFIX),
                    ..Recorded::default()
                },
                path: s.path.clone(),
                uses: Vec::new(),
                offset: s.offset,
                record_index: s.record_index,
            });
            paths.len() - 1
        });
        let p = &mut paths[k];
        for u in uses {
            // The same use by other tasks (another FS object with the same cwd): one
            // use, with every task.
            match p.uses.iter_mut().find(|x| x.how == u.how) {
                Some(x) => {
                    for t in u.tasks {
                        if !x.tasks.contains(&t) {
                            x.tasks.push(t);
                        }
                    }
                }
                None => p.uses.push(u),
            }
        }
        if let Some(o) = s.object.and_then(|t| m.object(t)) {
            ix.record_sizes(o, &mut p.recorded);
        }
    }
    PathList {
        paths,
        tasks: m.tasks.iter().map(task_ref).collect(),
    }
}

/// A use from the place enumeration's words, for a path no object of the model ties to
/// tasks.
fn use_of_words(words: &str) -> Use {
    match words {
        "executable" => Use::Executable,
        "cwd" => Use::Cwd,
        "root" => Use::Root,
        "bound unix socket" => Use::BoundSocket,
        "peer unix socket" => Use::PeerSocket,
        "directory of a relative bind" => Use::BindDirectory,
        w => Use::Other { what: w.into() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_modes_and_use_names() {
        assert_eq!(Access::of(0o100000), Access::Read);
        assert_eq!(Access::of(0o100001), Access::Write);
        assert_eq!(Access::of(0o100002).name(), "read-write");
        assert_eq!(use_of_words("cwd"), Use::Cwd);
        assert_eq!(use_of_words("file").name(), "file");
        assert!(!Use::BoundSocket.needed() && Use::Executable.needed());
        assert_eq!(Use::Cwd.expects(), Some(FileType::Directory));
    }

    #[test]
    fn a_path_is_needed_when_absolute_not_deleted_and_used_so() {
        let p = |path: &str, deleted: bool, how: Use| ImagePath {
            path: path.into(),
            recorded: Recorded {
                deleted,
                ..Recorded::default()
            },
            uses: vec![PathUse { tasks: vec![], how }],
            offset: 0,
            record_index: 0,
        };
        assert!(p("/bin/x", false, Use::Executable).needed());
        assert!(!p("/bin/x (deleted)", true, Use::Executable).needed());
        assert!(!p("app.sock", false, Use::Executable).needed());
        assert!(!p("/run/a.sock", false, Use::BoundSocket).needed());
    }
}
