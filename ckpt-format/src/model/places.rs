//! Everywhere an image holds a path, a pid, a uid, a gid, the host name or the domain
//! name: one enumeration of the *places* of every revision.
//!
//! A [`Place`] is one member of one record that holds one such value: the name of an
//! open file (`FILE_NAME`), the cwd of an FS object, the `laddr.sun_path` of a bound
//! unix socket (with `laddr_len`, the member that holds its length), `pids[3].vpgid` of
//! the tree, the numbers of a pid object (v23 on), `euid` of a CRED, `perms.cuid` of a
//! SysV IPC object, the sender of a pending signal, `nodename` of a UTS namespace.
//! Each place says what its value is used for ([`Place::use_`]: "open file", "cwd",
//! "effective uid", "sender of a pending signal").
//!
//! [`PlaceTracker`] follows a walk of the records, in order, and tells which places each
//! one holds; it works from a record's bytes too ([`PlaceTracker::places_in`]), for a
//! transform that holds the bytes and not the reader. [`find_places`] lists every place
//! of an image with its task. `ckpt edit` (`--path`, `--pid`, `--uid`, `--gid`,
//! `--hostname`, `--domainname`) rewrites the places it finds, and `ckpt fs list` lists
//! the paths.
//!
//! Only inline records are decoded: page contents and other streamed payloads are never
//! read, so memory grows with the tasks and objects of the image only.
//!
//! ```
//! use ckpt_format::build::{BuildOptions, build};
//! use ckpt_format::model::places::{PlaceKind, find_places};
//! use ckpt_format::{Format, Reader, Registry};
//!
//! let schema = Registry::get().find("v23-rc2").unwrap();
//! let format = Format::new(schema, ckpt_format::Arch::X86_64);
//! let mut image = Vec::new();
//! build(&format, &BuildOptions::default(), &mut image).unwrap();
//! let found = find_places(Reader::new(&image[..], format), &[PlaceKind::Path]).unwrap();
//! assert!(found.iter().any(|f| f.place.use_ == "cwd"));
//! ```

use std::fmt;

use serde::Serialize;

use crate::error::Position;
use crate::format::HDR_SIZE;
use crate::input::Input;
use crate::model::{first_pid_tag, pid_entries};
use crate::read::decode_record;
use crate::schema::RecordBody;
use crate::value::{Value, get_uint};
use crate::{Error, ErrorKind, Format, Reader, RecordInfo, Result};

/// What a place holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlaceKind {
    /// A file system path.
    Path,
    /// A pid of the image's root pid namespace.
    Pid,
    /// A user id.
    Uid,
    /// A group id.
    Gid,
    /// The host name of a UTS namespace.
    Hostname,
    /// The NIS domain name of a UTS namespace.
    Domainname,
}

impl PlaceKind {
    /// Every kind.
    pub const ALL: [PlaceKind; 6] = [
        PlaceKind::Path,
        PlaceKind::Pid,
        PlaceKind::Uid,
        PlaceKind::Gid,
        PlaceKind::Hostname,
        PlaceKind::Domainname,
    ];

    /// Its name as the user writes it (`path`, `pid`, ...).
    pub fn name(self) -> &'static str {
        match self {
            PlaceKind::Path => "path",
            PlaceKind::Pid => "pid",
            PlaceKind::Uid => "uid",
            PlaceKind::Gid => "gid",
            PlaceKind::Hostname => "hostname",
            PlaceKind::Domainname => "domainname",
        }
    }
}

impl fmt::Display for PlaceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The value a place holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(untagged)]
pub enum PlaceValue {
    /// A number (pid, uid, gid).
    Int(i64),
    /// A text (path, host name, domain name).
    Text(String),
}

/// A number as decimal, a text as it is.
impl fmt::Display for PlaceValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlaceValue::Int(v) => write!(f, "{v}"),
            PlaceValue::Text(s) => f.write_str(s),
        }
    }
}

/// One place in one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    /// What it holds.
    pub kind: PlaceKind,
    /// The member, as [`crate::read::Decoded`] names it (`uid`, `pids[2].vpid`,
    /// `laddr.sun_path`, `tail[0].csi_pid`); `text` for the text of a string record
    /// (FILE_NAME, STRING); `entries[K].numbers[0]` for the outermost number of the
    /// K-th pid object of a PIDS section's BUFFER.
    pub member: String,
    /// What the value is used for: "open file", "cwd", "effective uid", ...
    pub use_: &'static str,
    /// The value.
    pub value: PlaceValue,
    /// The member that holds the length of the value, when another one does
    /// (`laddr_len` for `laddr.sun_path`: it counts the address family too).
    pub length_member: Option<String>,
}

/// A place of an image, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    /// The pid (root namespace) of the task whose section holds the record; `None` for
    /// the records before the first task (tree, container objects).
    pub task: Option<i64>,
    /// Index of the record.
    pub record_index: u64,
    /// Offset of the record.
    pub offset: u64,
    /// The record's type name.
    pub record: &'static str,
    /// The place.
    pub place: Place,
}

/// Members that hold a uid or a gid, by record, with their use.
const ID_MEMBERS: &[(&str, &str, PlaceKind, &str)] = &[
    ("CRED", "uid", PlaceKind::Uid, "real uid"),
    ("CRED", "euid", PlaceKind::Uid, "effective uid"),
    ("CRED", "suid", PlaceKind::Uid, "saved uid"),
    ("CRED", "fsuid", PlaceKind::Uid, "file system uid"),
    ("CRED", "gid", PlaceKind::Gid, "real gid"),
    ("CRED", "egid", PlaceKind::Gid, "effective gid"),
    ("CRED", "sgid", PlaceKind::Gid, "saved gid"),
    ("CRED", "fsgid", PlaceKind::Gid, "file system gid"),
    ("USER", "uid", PlaceKind::Uid, "user"),
    (
        "SOCKET_UNIX",
        "peercred_uid",
        PlaceKind::Uid,
        "peer credentials",
    ),
    (
        "SOCKET_UNIX",
        "peercred_gid",
        PlaceKind::Gid,
        "peer credentials",
    ),
    (
        "SOCKET_UNIX",
        "peercred_pid",
        PlaceKind::Pid,
        "peer credentials",
    ),
    ("SIGNAL", "tty_pgrp", PlaceKind::Pid, "tty process group"),
    (
        "SIGNAL",
        "tty_old_pgrp",
        PlaceKind::Pid,
        "previous tty process group",
    ),
    ("TTY", "pgrp", PlaceKind::Pid, "tty process group"),
    ("TTY", "session", PlaceKind::Pid, "tty session"),
    ("FILE", "f_owner_pid", PlaceKind::Pid, "file owner"),
    ("FILE", "f_owner_uid", PlaceKind::Uid, "file owner"),
    ("FILE", "f_owner_euid", PlaceKind::Uid, "file owner"),
];

/// Members of SysV IPC records (IPC_SHM, IPC_MSG, IPC_SEM).
const IPC_MEMBERS: &[(&str, PlaceKind, &str)] = &[
    ("perms.uid", PlaceKind::Uid, "IPC owner"),
    ("perms.gid", PlaceKind::Gid, "IPC owner"),
    ("perms.cuid", PlaceKind::Uid, "IPC creator"),
    ("perms.cgid", PlaceKind::Gid, "IPC creator"),
    ("mlock_uid", PlaceKind::Uid, "shm locker"),
    ("shm_cprid", PlaceKind::Pid, "shm creator"),
    ("shm_lprid", PlaceKind::Pid, "shm last user"),
    ("q_lspid", PlaceKind::Pid, "last sender to a message queue"),
    (
        "q_lrpid",
        PlaceKind::Pid,
        "last receiver from a message queue",
    ),
];

/// Members of a tree entry that hold pids (or, with pid objects, their tags).
const TREE_MEMBERS: &[(&str, &str)] = &[
    ("vpid", "pid"),
    ("vtgid", "thread group"),
    ("vppid", "parent"),
    ("vpgid", "process group"),
    ("vsid", "session"),
];

/// Members of a pending signal (SIGPENDING tail entry): before and from f0fdd38.
const SIGINFO_MEMBERS: &[(&str, PlaceKind)] = &[
    ("pid", PlaceKind::Pid),
    ("csi_pid", PlaceKind::Pid),
    ("uid", PlaceKind::Uid),
    ("csi_uid", PlaceKind::Uid),
];

/// The bytes of `sockaddr_un.sun_path` that make a path: a bound address whose first
/// byte is not NUL (NUL: an abstract name, not a file).
fn unix_path(d: &crate::read::Decoded, addr: &str) -> Option<String> {
    let len = d.int(&format!("{addr}_len"))?;
    if len <= 2 {
        return None;
    }
    match d.get(&format!("{addr}.sun_path"))? {
        Value::Text(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// Follows a walk of an image and tells which places each record holds.
#[derive(Debug)]
pub struct PlaceTracker {
    format: &'static Format,
    /// Pid objects (b6cdf01 on): the outermost number of each.
    pid_numbers: Vec<i64>,
    pids_offset: i64,
    /// The pid (tag, with pid objects) of each tree entry.
    tree_pids: Vec<i64>,
    task_records: usize,
    /// What a FILE_NAME after the last FILE names: "executable", "mapped file", ...
    file_use: &'static str,
    /// Inside an address space's records: "executable" until its first VMA.
    in_mm: Option<&'static str>,
    /// The previous record was a SOCKET_UNIX (its directory STRING may follow).
    after_unix: bool,
}

impl PlaceTracker {
    /// A tracker at the start of an image of `format`.
    pub fn new(format: &'static Format) -> PlaceTracker {
        PlaceTracker {
            format,
            pid_numbers: Vec::new(),
            pids_offset: 0,
            tree_pids: Vec::new(),
            task_records: 0,
            file_use: "file",
            in_mm: None,
            after_unix: false,
        }
    }

    /// The places of the record `r` has just returned. Call it on every record, in
    /// order: it follows the tree and the tasks.
    pub fn places<R: Input>(&mut self, r: &Reader<R>, rec: &RecordInfo) -> Result<Vec<Place>> {
        if !rec.inline {
            self.places_in(rec, &[])
        } else {
            self.places_in(rec, r.record_bytes())
        }
    }

    /// The pid (root namespace) of the task whose section the last record belongs to.
    pub fn current_task(&self) -> Option<i64> {
        let tag = *self.tree_pids.get(self.task_records.checked_sub(1)?)?;
        Some(self.number(tag))
    }

    /// The number of pid `tag` (itself where the revision has no pid objects).
    fn number(&self, tag: i64) -> i64 {
        if self.pid_numbers.is_empty() || tag <= 0 {
            return tag;
        }
        let first = first_pid_tag(self.format.schema, self.pids_offset);
        self.pid_numbers
            .get((tag - first) as usize)
            .copied()
            .unwrap_or(0)
    }

    /// [`PlaceTracker::places`] from a record's bytes (pre-header included; empty for a
    /// record that is not inline, whose places are none).
    pub fn places_in(&mut self, rec: &RecordInfo, bytes: &[u8]) -> Result<Vec<Place>> {
        let mut out = Vec::new();
        let after_unix = std::mem::replace(&mut self.after_unix, false);
        if !rec.inline || rec.headerless {
            return Ok(out);
        }
        if matches!(rec.name, "TAIL" | "ERROR") {
            self.task_records = self.tree_pids.len() + 1;
        }
        let f = self.format;
        let endian = f.endian();
        let at = || Position {
            offset: rec.offset,
            record: Some(rec.index),
            rtype: Some((rec.rtype, Some(rec.name))),
        };
        if bytes.len() != rec.len as usize || bytes.len() < HDR_SIZE as usize {
            let expected = rec.len.max(HDR_SIZE).to_string();
            let found = bytes.len() as u32;
            return Err(Error::new(ErrorKind::BadLength { expected, found }, at()));
        }
        let decode = || {
            if let Some(RecordBody::Struct { name, .. }) =
                f.schema.record_def(rec.name, f.arch).map(|d| &d.body)
                && let Ok(l) = f.layout(name)
                && (l.size as usize) > bytes.len()
            {
                // The struct begins with the pre-header.
                let expected = format!(">= {}", l.size);
                let found = bytes.len() as u32;
                return Err(Error::new(ErrorKind::BadLength { expected, found }, at()));
            }
            decode_record(f, rec, bytes).map_err(|k| Error::new(k, at()))
        };
        let int = |v: &Value| v.as_int().map(|x| x as i64);
        match (rec.name, rec.payload_of) {
            ("PIDS", None) => self.pids_offset = decode()?.int("offset").unwrap_or(0) as i64,
            ("BUFFER", Some(("PIDS", _))) => {
                let entries = pid_entries(&bytes[HDR_SIZE as usize..], endian);
                self.pid_numbers = entries
                    .iter()
                    .map(|n| n.first().copied().unwrap_or(0))
                    .collect();
                for (k, n) in self.pid_numbers.iter().enumerate() {
                    if *n > 0 {
                        out.push(place(
                            PlaceKind::Pid,
                            format!("entries[{k}].numbers[0]"),
                            "pid object",
                            PlaceValue::Int(*n),
                        ));
                    }
                }
            }
            ("BUFFER", Some(("TREE", "pids"))) => {
                let d = decode()?;
                let objects = f.record_type("PIDS").is_some();
                let mut k = 0;
                while let Some(pid) = d.int(&format!("pids[{k}].vpid")) {
                    self.tree_pids.push(pid as i64);
                    if !objects {
                        for (m, use_) in TREE_MEMBERS {
                            let member = format!("pids[{k}].{m}");
                            if let Some(v) = d.get(&member).and_then(int).filter(|v| *v > 0) {
                                out.push(place(PlaceKind::Pid, member, use_, PlaceValue::Int(v)));
                            }
                        }
                    }
                    k += 1;
                }
            }
            ("TASK", None) => {
                self.task_records += 1;
                self.in_mm = None;
            }
            // An address space: OBJREF MM, its executable's FILE object, the MM record,
            // then its VMAs with the FILE objects of mapped files.
            ("OBJREF", None) => {
                let d = decode()?;
                let ty = d
                    .int("objtype")
                    .and_then(|t| f.schema.enum_name("obj", t as i64, f.arch));
                match ty {
                    Some("MM") => self.in_mm = Some("executable"),
                    Some("FILE") => {}
                    _ => self.in_mm = None,
                }
            }
            ("MM", None) => self.in_mm = Some("mapped file"),
            ("FILE", None) => {
                let d = decode()?;
                self.file_use = match self.in_mm {
                    Some(u) => u,
                    None => {
                        let ty = d
                            .int("f_type")
                            .or(d.int("common.f_type"))
                            .and_then(|t| f.schema.enum_name("file", t as i64, f.arch));
                        match ty {
                            Some("FIFO") => "fifo",
                            Some("GENERIC") => "open file",
                            Some("TTY") => "tty device",
                            _ => "file",
                        }
                    }
                };
                id_places(&d, rec.name, &mut out);
            }
            ("FILE_NAME", owner) => {
                let use_ = match owner {
                    Some(("FS", "cwd")) => "cwd",
                    Some(("FS", "root")) => "root",
                    Some((_, p)) if p.contains("cwd") => "cwd",
                    Some((_, p)) if p.contains("root") => "root",
                    _ => self.file_use,
                };
                if let Some(t) = decode()?.text.filter(|t| !t.is_empty()) {
                    out.push(place(
                        PlaceKind::Path,
                        "text".into(),
                        use_,
                        PlaceValue::Text(t),
                    ));
                }
            }
            ("STRING", owner)
                if owner.is_some_and(|o| o.0 == "SOCKET_UNIX")
                    || (owner.is_none() && after_unix) =>
            {
                if let Some(t) = decode()?.text.filter(|t| !t.is_empty()) {
                    out.push(place(
                        PlaceKind::Path,
                        "text".into(),
                        "directory of a relative bind",
                        PlaceValue::Text(t),
                    ));
                }
            }
            ("SOCKET_UNIX", None) => {
                self.after_unix = true;
                let d = decode()?;
                for (addr, use_) in [
                    ("laddr", "bound unix socket"),
                    ("raddr", "peer unix socket"),
                ] {
                    if let Some(p) = unix_path(&d, addr) {
                        let mut pl = place(
                            PlaceKind::Path,
                            format!("{addr}.sun_path"),
                            use_,
                            PlaceValue::Text(p),
                        );
                        pl.length_member = Some(format!("{addr}_len"));
                        out.push(pl);
                    }
                }
                id_places(&d, rec.name, &mut out);
            }
            ("UTS_NS", None) => {
                let d = decode()?;
                for (m, kind) in [
                    ("nodename", PlaceKind::Hostname),
                    ("domainname", PlaceKind::Domainname),
                ] {
                    if let Some(Value::Text(t)) = d.get(m) {
                        out.push(place(
                            kind,
                            m.into(),
                            "UTS namespace",
                            PlaceValue::Text(t.clone()),
                        ));
                    }
                }
            }
            ("IPC_SHM" | "IPC_MSG" | "IPC_SEM", None) => {
                let d = decode()?;
                for (m, kind, use_) in IPC_MEMBERS {
                    if let Some(v) = d.get(m).and_then(int) {
                        if *kind == PlaceKind::Pid && v <= 0 {
                            continue;
                        }
                        out.push(place(*kind, m.to_string(), use_, PlaceValue::Int(v)));
                    }
                }
            }
            // A semaphore set's array: `{int semval; int sempid;}` per semaphore.
            ("BUFFER", Some(("IPC_SEM", _))) => {
                let body = &bytes[HDR_SIZE as usize..];
                for (k, sem) in body.chunks_exact(8).enumerate() {
                    let pid = get_uint(&sem[4..], endian) as u32 as i32 as i64;
                    if pid > 0 {
                        out.push(place(
                            PlaceKind::Pid,
                            format!("sem_base[{k}].sempid"),
                            "last semaphore operation",
                            PlaceValue::Int(pid),
                        ));
                    }
                }
            }
            ("GROUPINFO", None) => {
                let d = decode()?;
                if let Some(Value::List(groups)) = d.get("groups") {
                    for (k, g) in groups.iter().enumerate() {
                        if let Some(v) = int(g) {
                            out.push(place(
                                PlaceKind::Gid,
                                format!("groups[{k}]"),
                                "supplementary group",
                                PlaceValue::Int(v),
                            ));
                        }
                    }
                }
            }
            ("SIGPENDING", None) => {
                let d = decode()?;
                let mut k = 0;
                while d
                    .fields
                    .iter()
                    .any(|(p, _)| p.starts_with(&format!("tail[{k}].")))
                {
                    for (m, kind) in SIGINFO_MEMBERS {
                        let member = format!("tail[{k}].{m}");
                        if let Some(v) = d.get(&member).and_then(int) {
                            if *kind == PlaceKind::Pid && v <= 0 {
                                continue;
                            }
                            out.push(place(
                                *kind,
                                member,
                                "sender of a pending signal",
                                PlaceValue::Int(v),
                            ));
                        }
                    }
                    k += 1;
                }
            }
            (name @ ("CRED" | "USER" | "SIGNAL" | "TTY"), None) => {
                id_places(&decode()?, name, &mut out)
            }
            _ => {}
        }
        Ok(out)
    }
}

fn place(kind: PlaceKind, member: String, use_: &'static str, value: PlaceValue) -> Place {
    Place {
        kind,
        member,
        use_,
        value,
        length_member: None,
    }
}

/// The places of [`ID_MEMBERS`] in a decoded record `name`: pids that are 0 name no
/// process and are left out; uids and gids of 0 are root's.
fn id_places(d: &crate::read::Decoded, name: &str, out: &mut Vec<Place>) {
    for (rec, m, kind, use_) in ID_MEMBERS {
        if *rec != name {
            continue;
        }
        if let Some(v) = d.get(m).and_then(Value::as_int).map(|v| v as i64) {
            if *kind == PlaceKind::Pid && v <= 0 {
                continue;
            }
            out.push(place(*kind, m.to_string(), use_, PlaceValue::Int(v)));
        }
    }
}

/// Every place of kinds `kinds` (every kind when empty) of the image `r` reads, in
/// image order.
pub fn find_places<R: Input>(mut r: Reader<R>, kinds: &[PlaceKind]) -> Result<Vec<Found>> {
    let format = Format::shared(r.format().schema, r.format().arch);
    let mut t = PlaceTracker::new(format);
    let mut found = Vec::new();
    while let Some(rec) = r.next_record()? {
        let places = t.places(&r, &rec)?;
        let task = t.current_task();
        for place in places {
            if kinds.is_empty() || kinds.contains(&place.kind) {
                found.push(Found {
                    task,
                    record_index: rec.index,
                    offset: rec.offset,
                    record: rec.name,
                    place,
                });
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{BuildOptions, build};
    use crate::schema::RecordBody;
    use crate::summary::tree::TreeTracker;
    use crate::value::apply_fields;
    use crate::{Arch, Registry};

    fn image(format: &Format, tasks: u32) -> Vec<u8> {
        let mut img = Vec::new();
        let o = BuildOptions {
            tasks,
            memory: 4096,
            seed: 5,
            ..BuildOptions::default()
        };
        build(format, &o, &mut img).unwrap();
        img
    }

    #[test]
    fn each_place_has_the_task_the_tree_tracker_gives_its_record() {
        for s in Registry::get().all() {
            let format = Format::shared(s, s.arches[0].0);
            let img = image(format, 5);
            let mut r = Reader::new(&img[..], Format::new(format.schema, format.arch));
            let (mut places, mut tree) = (PlaceTracker::new(format), TreeTracker::new());
            while let Some(rec) = r.next_record().unwrap() {
                places.places(&r, &rec).unwrap();
                tree.add(&mut r, &rec).unwrap();
                let want = tree.current(&rec).map(|t| t.ids.pid);
                assert_eq!(places.current_task(), want, "{} record {}", s.id, rec.index);
            }
        }
    }

    #[test]
    fn file_names_say_what_the_file_is_used_for() {
        for s in Registry::get().all() {
            let format = Format::shared(s, s.arches[0].0);
            let img = image(format, 2);
            let found = find_places(
                Reader::new(&img[..], Format::new(format.schema, format.arch)),
                &[PlaceKind::Path],
            )
            .unwrap();
            let uses = |path: &str| -> Vec<&str> {
                found
                    .iter()
                    .filter(|f| f.place.value == PlaceValue::Text(path.into()))
                    .map(|f| f.place.use_)
                    .collect()
            };
            assert_eq!(uses("/usr/bin/task0"), ["executable"], "{}", s.id);
            assert_eq!(uses("/var/log/task1.log"), ["open file"], "{}", s.id);
            assert_eq!(uses("/run/fifo0"), ["fifo"], "{}", s.id);
            assert_eq!(uses("/run/app0.sock"), ["bound unix socket"], "{}", s.id);
            assert_eq!(uses("app1.sock"), ["bound unix socket"], "{}", s.id);
            assert_eq!(
                uses("/srv/app/"),
                ["directory of a relative bind"],
                "{}",
                s.id
            );
            if s.record_def("FS", format.arch).is_some() {
                assert_eq!(uses("/srv/app"), ["cwd", "cwd"], "{}", s.id);
                assert_eq!(uses("/"), ["root", "root"], "{}", s.id);
            }
            assert!(found.iter().all(|f| f.place.kind == PlaceKind::Path));
            assert!(found.iter().all(|f| f.task.is_some()), "{}", s.id);
        }
    }

    /// A bound unix socket whose peer has an abstract name: bind each of the builder's
    /// in the bytes (its socket pair is not bound, its listener is).
    #[test]
    fn a_bound_unix_socket_address_is_a_path_with_its_length_member() {
        for s in Registry::get().all() {
            let format = Format::shared(s, Arch::X86_32);
            let img = image(format, 1);
            let mut r = Reader::new(&img[..], Format::new(format.schema, format.arch));
            let mut t = PlaceTracker::new(format);
            let mut seen = 0;
            while let Some(rec) = r.next_record().unwrap() {
                if rec.name != "SOCKET_UNIX" {
                    t.places(&r, &rec).unwrap();
                    continue;
                }
                let Some(RecordBody::Struct { name: st, .. }) =
                    s.record_def("SOCKET_UNIX", format.arch).map(|d| &d.body)
                else {
                    panic!("{}: SOCKET_UNIX is a struct", s.id);
                };
                let layout = format.layout(st).unwrap();
                let mut bytes = r.record_bytes().to_vec();
                let path = "/run/app.sock";
                let set = vec![
                    (
                        "laddr_len".to_string(),
                        Value::Uint(2 + path.len() as u64 + 1),
                    ),
                    ("laddr.sun_path".to_string(), Value::Text(path.into())),
                    (
                        "raddr.sun_path".to_string(),
                        Value::Text("\0abstract".into()),
                    ),
                    ("raddr_len".to_string(), Value::Uint(12)),
                ];
                apply_fields(&layout, &mut bytes, format.endian(), &set).unwrap();
                let paths: Vec<Place> = t
                    .places_in(&rec, &bytes)
                    .unwrap()
                    .into_iter()
                    .filter(|p| p.kind == PlaceKind::Path)
                    .collect();
                assert_eq!(paths.len(), 1, "{}: {paths:?}", s.id);
                assert_eq!(paths[0].member, "laddr.sun_path");
                assert_eq!(paths[0].value, PlaceValue::Text(path.into()));
                assert_eq!(paths[0].length_member.as_deref(), Some("laddr_len"));
                assert_eq!(paths[0].use_, "bound unix socket");
                seen += 1;
            }
            assert_eq!(seen, 3, "{}: the pair and the listener", s.id);
        }
    }

    #[test]
    fn only_the_kinds_asked_for_are_found_and_records_not_read_hold_none() {
        let s = Registry::get().find("v23-rc2").unwrap();
        let format = Format::shared(s, Arch::X86_64);
        let img = image(format, 3);
        let all = find_places(
            Reader::new(&img[..], Format::new(format.schema, format.arch)),
            &[],
        )
        .unwrap();
        let uids = find_places(
            Reader::new(&img[..], Format::new(format.schema, format.arch)),
            &[PlaceKind::Uid],
        )
        .unwrap();
        let want: Vec<&Found> = all
            .iter()
            .filter(|f| f.place.kind == PlaceKind::Uid)
            .collect();
        assert_eq!(uids.iter().collect::<Vec<_>>(), want);
        assert!(all.iter().any(|f| f.place.kind == PlaceKind::Hostname
            && f.place.value == PlaceValue::Text("ckpt-sample".into())));
        let streamed = RecordInfo {
            index: 9,
            offset: 0,
            rtype: 0,
            len: 1 << 20,
            name: "PGARR",
            payload_of: None,
            inline: false,
            headerless: false,
        };
        assert!(
            PlaceTracker::new(format)
                .places_in(&streamed, &[])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn values_and_kinds_print_as_the_user_writes_them() {
        assert_eq!(PlaceValue::Int(-1).to_string(), "-1");
        assert_eq!(PlaceValue::Text("/tmp/x".into()).to_string(), "/tmp/x");
        let names: Vec<String> = PlaceKind::ALL.iter().map(|k| k.to_string()).collect();
        assert_eq!(
            names,
            ["path", "pid", "uid", "gid", "hostname", "domainname"]
        );
    }

    #[test]
    fn a_truncated_record_is_an_error_naming_it() {
        let s = Registry::get().find("v23-rc2").unwrap();
        let format = Format::shared(s, Arch::X86_64);
        let rec = RecordInfo {
            index: 7,
            offset: 0x100,
            rtype: format.record_type("CRED").unwrap(),
            len: 12,
            name: "CRED",
            payload_of: None,
            inline: true,
            headerless: false,
        };
        let e = PlaceTracker::new(format)
            .places_in(&rec, &[0u8; 12])
            .unwrap_err()
            .to_string();
        assert!(e.contains("record #7") && e.contains("CRED"), "{e}");
    }
}
