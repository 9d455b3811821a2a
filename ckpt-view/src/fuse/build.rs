//! What the tree of a mounted image is made of: one pass over the records (their dump
//! lines, and which pipe, socket or message each buffer belongs to), the page index
//! of `ckpt mem`, and the texts of `ckpt info`, laid out as files.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::rc::Rc;
use std::sync::OnceLock;

use ckpt_format::dump::DumpWriter;
use ckpt_format::format::HDR_SIZE;
use ckpt_format::input::Input;
use ckpt_format::model::{Fields, ModelBuilder};
use ckpt_format::pages::PageIndex;
use ckpt_format::summary::info::TaskRegs;
use ckpt_format::summary::tasks::{OpenFile, TaskSummary, summarise};
use ckpt_format::{Format, Reader, RecordInfo};

use super::tree::{Content, Ino, ROOT, Tree};

/// A record of the image, with its dump line when the pass rendered it (records read
/// into memory; streamed ones are rendered when asked for).
#[derive(Debug, Clone)]
pub struct RecordEntry {
    /// The record.
    pub rec: RecordInfo,
    /// Its line of `ckpt dump`, newline included.
    pub line: Option<Vec<u8>>,
}

/// A buffer of queued bytes (a pipe's, a socket buffer's, a message's): ranges of the
/// image, in order.
#[derive(Debug, Clone, Default)]
pub struct Queued {
    /// `(offset, len)` ranges of the image.
    pub ranges: Vec<(u64, u64)>,
}

/// What one pass over the records finds.
#[derive(Debug, Default)]
pub struct RecordPass {
    /// Every record, in image order.
    pub records: Vec<RecordEntry>,
    /// Bytes buffered in each pipe, by the pipe's tag.
    pub pipes: BTreeMap<i64, Queued>,
    /// Buffers queued on each socket, by the socket object's tag.
    pub sockets: BTreeMap<i64, Vec<Queued>>,
    /// Messages of each SysV message queue, by `perms.id`.
    pub messages: BTreeMap<i64, Vec<Queued>>,
}

/// A `Write` whose bytes the pass takes after each record.
#[derive(Clone, Default)]
struct Sink(Rc<RefCell<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn body(rec: &RecordInfo) -> (u64, u64) {
    let at = rec.offset + if rec.headerless { 0 } else { HDR_SIZE as u64 };
    (at, rec.body_len() as u64)
}

/// Reads every record of `r` (at its start) once, without reading page contents: the
/// dump line of each record read into memory, and where the queued bytes of pipes,
/// sockets and message queues lie. On an error, what was read before it, and the error.
pub fn read_records<R: Input>(r: &mut Reader<R>) -> (RecordPass, Option<ckpt_format::Error>) {
    let format = Format::shared(r.format().schema, r.format().arch);
    let mut pass = RecordPass::default();
    let sink = Sink::default();
    let mut dump = match DumpWriter::new(sink.clone(), format.schema, format.arch, false) {
        Ok(d) => d,
        Err(_) => unreachable!("writing to memory does not fail"),
    };
    sink.0.borrow_mut().clear();
    let mut model = ModelBuilder::new(format, false);
    let mut msg_queue: Option<i64> = None;
    // The socket whose buffer is being read (the tag of its last SOCKET_BUFFER), and the
    // fragment's offset and size in its page.
    let mut socket: Option<i64> = None;
    let mut frag: Option<(u64, u64)> = None;
    let mut step = |r: &mut Reader<R>, rec: &RecordInfo| -> ckpt_format::Result<()> {
        model.add(r, rec)?;
        let line = if rec.inline {
            dump.record(r, rec)?;
            Some(std::mem::take(&mut *sink.0.borrow_mut()))
        } else {
            None
        };
        let current = model.current_object();
        let int = |d: &ckpt_format::read::Decoded, n: &str| d.int(n).unwrap_or(0);
        match (rec.name, rec.payload_of) {
            ("PIPE_BUF", None) => {
                let pipe = current
                    .and_then(|o| model.partial().object(o))
                    .and_then(|o| o.int("pipe_objref"))
                    .unwrap_or(0) as i64;
                let (at, len) = body(rec);
                pass.pipes.entry(pipe).or_default().ranges.push((at, len));
            }
            ("SOCKET_BUFFER", None) => {
                let sk = r.decode().map(|d| int(&d, "sk_objref")).unwrap_or(0) as i64;
                let sk = if sk != 0 { sk } else { current.unwrap_or(0) };
                pass.sockets.entry(sk).or_default().push(Queued::default());
                socket = Some(sk);
                frag = None;
            }
            ("BUFFER", Some(("SOCKET_BUFFER", _))) => {
                if let Some(q) = queued_on(&mut pass.sockets, socket) {
                    q.ranges.push(body(rec));
                }
            }
            ("SOCKET_FRAG", None) => {
                frag = r
                    .decode()
                    .ok()
                    .map(|d| (int(&d, "offset") as u64, int(&d, "size") as u64));
            }
            (_, Some(("SOCKET_FRAG", _))) => {
                let (at, len) = body(rec);
                let (off, size) = frag.take().unwrap_or((0, len));
                if let Some(q) = queued_on(&mut pass.sockets, socket) {
                    let off = off.min(len);
                    q.ranges.push((at + off, size.min(len - off)));
                }
            }
            ("IPC_MSG", None) => {
                msg_queue = r.decode().ok().map(|d| int(&d, "perms.id") as i64);
            }
            ("IPC_MSG_MSG", None) => {
                if let Some(q) = msg_queue {
                    pass.messages.entry(q).or_default().push(Queued::default());
                }
            }
            ("BUFFER", None) if msg_queue.is_some() => {
                if let Some(m) = msg_queue
                    .and_then(|q| pass.messages.get_mut(&q))
                    .and_then(|v| v.last_mut())
                {
                    m.ranges.push(body(rec));
                }
            }
            ("IPC_SHM" | "IPC_SEM" | "IPC_NS" | "OBJREF", _) => msg_queue = None,
            _ => {}
        }
        pass.records.push(RecordEntry {
            rec: rec.clone(),
            line,
        });
        Ok(())
    };
    loop {
        match r.next_record() {
            Ok(Some(rec)) => {
                if let Err(e) = step(r, &rec) {
                    return (pass, Some(e));
                }
            }
            Ok(None) => return (pass, None),
            Err(e) => return (pass, Some(e)),
        }
    }
}

/// The texts the command line renders as its commands print them.
#[derive(Debug, Clone, Default)]
pub struct Texts {
    /// What `ckpt info IMAGE` prints.
    pub info_txt: Vec<u8>,
    /// What `ckpt info --json IMAGE` prints.
    pub info_json: Vec<u8>,
    /// Every task's registers (`ckpt info --show-arch-regs`), for `tasks/PID/regs`.
    pub regs: Vec<TaskRegs>,
}

/// Name of a record's files: `NNNNNN-TYPE`.
pub fn record_name(rec: &RecordInfo) -> String {
    format!("{:06}-{}", rec.index, rec.name)
}

/// The tree of an image: `info.txt`, `info.json`, `tasks/`, `records/`, `ipc/`,
/// `pipes/` and `sockets/` (README, "Mounting an image").
pub fn build_tree(index: &PageIndex, pass: RecordPass, format: &Format, texts: Texts) -> Tree {
    let mut t = Tree::new();
    t.text(ROOT, "info.txt", texts.info_txt);
    t.text(ROOT, "info.json", texts.info_json);
    let tasks_dir = t.dir(ROOT, "tasks");
    let summaries = summarise(index.model(), format);
    for s in &summaries {
        let regs = texts.regs.iter().find(|r| r.task == s.ids.index);
        task_dir(&mut t, tasks_dir, index, s, regs);
    }
    let records = t.dir(ROOT, "records");
    for e in pass.records {
        let name = record_name(&e.rec);
        if e.rec.payload_of.is_some() || !e.rec.inline {
            let (offset, len) = body(&e.rec);
            t.file(
                records,
                &format!("{name}.payload"),
                Content::Image { offset, len },
            );
        }
        let content = match e.line {
            Some(l) => Content::Bytes(l),
            None => Content::Streamed {
                rec: e.rec,
                line: OnceLock::new(),
            },
        };
        t.file(records, &format!("{name}.json"), content);
    }
    ipc_dir(&mut t, index, &pass.messages);
    let pipes = t.dir(ROOT, "pipes");
    for (tag, q) in &pass.pipes {
        t.file(pipes, &tag.to_string(), queued(q));
    }
    let sockets = t.dir(ROOT, "sockets");
    // Keyed by the socket object's tag, as the buffers are (a file object names its
    // socket in `sock_objref`).
    let mut described: BTreeMap<i64, &OpenFile> = BTreeMap::new();
    for f in summaries.iter().flat_map(|s| &s.files) {
        if f.socket.is_some() {
            let sock = index
                .model()
                .object(f.objref)
                .and_then(|o| file_member(o, "sock_objref"))
                .map_or(f.objref, |t| t as i64);
            described.entry(sock).or_insert(f);
        }
    }
    let mut socket_tags: Vec<i64> = described.keys().copied().collect();
    socket_tags.extend(pass.sockets.keys());
    socket_tags.sort_unstable();
    socket_tags.dedup();
    for tag in socket_tags {
        let d = t.dir(sockets, &tag.to_string());
        if let Some(f) = described.get(&tag) {
            t.text(d, "info", format!("{}\n", f.what));
        }
        for (k, q) in pass.sockets.get(&tag).into_iter().flatten().enumerate() {
            t.file(d, &format!("buffer-{k}"), queued(q));
        }
    }
    t
}

/// The buffer being read of `socket`: the last one its SOCKET_BUFFER opened.
fn queued_on(sockets: &mut BTreeMap<i64, Vec<Queued>>, socket: Option<i64>) -> Option<&mut Queued> {
    sockets.get_mut(&socket?)?.last_mut()
}

fn queued(q: &Queued) -> Content {
    match q.ranges[..] {
        [] => Content::Bytes(Vec::new()),
        [(offset, len)] => Content::Image { offset, len },
        _ => Content::Ranges(q.ranges.clone()),
    }
}

fn task_dir(
    t: &mut Tree,
    parent: Ino,
    index: &PageIndex,
    s: &TaskSummary,
    regs: Option<&TaskRegs>,
) {
    let d = t.dir(parent, &s.ids.pid.to_string());
    t.text(d, "comm", format!("{}\n", s.comm));
    t.text(d, "status", status(s));
    let mut maps = String::new();
    if let Some(m) = &s.memory {
        for v in &m.vmas {
            maps.push_str(&maps_line(
                v.start,
                v.end,
                &v.perms,
                v.offset,
                v.path.as_deref(),
            ));
        }
        let size = m.vmas.iter().map(|v| v.end).max().unwrap_or(0);
        if index.address_space(m.objref).is_some() {
            t.file(d, "mem", Content::Mem { mm: m.objref, size });
        }
    }
    t.text(d, "maps", maps);
    let fd = t.dir(d, "fd");
    let fdinfo = t.dir(d, "fdinfo");
    for f in &s.files {
        let n = f.fd.to_string();
        match &f.path {
            Some(p) if f.socket.is_none() && f.pipe.is_none() => {
                t.link(fd, &n, p);
            }
            _ => {
                t.text(fd, &n, format!("{}\n", f.what));
            }
        }
        let file = index.model().object(f.objref);
        let int = |n: &str| file.and_then(|o| file_member(o, n)).unwrap_or(0);
        t.text(
            fdinfo,
            &n,
            format!(
                "pos:\t{}\nflags:\t0{:o}\ntype:\t{}\ncloexec:\t{}\n",
                int("f_pos"),
                int("f_flags"),
                f.r#type,
                u8::from(f.close_on_exec)
            ),
        );
    }
    t.text(d, "regs", regs_text(regs));
    t.text(d, "signals", signals_text(s));
}

/// The integer member `name` of a file object: `common.NAME` in later revisions.
fn file_member(file: &ckpt_format::model::ObjectModel, name: &str) -> Option<i128> {
    file.int(name)
        .or_else(|| file.int(&format!("common.{name}")))
}

/// A line of `/proc/PID/maps`: the path starts at column 74 as the kernel pads it.
pub fn maps_line(start: u64, end: u64, perms: &str, offset: u64, path: Option<&str>) -> String {
    let mut l = format!("{start:08x}-{end:08x} {perms} {offset:08x} 00:00 0");
    if let Some(p) = path {
        while l.len() < 73 {
            l.push(' ');
        }
        l.push(' ');
        l.push_str(p);
    }
    l.push('\n');
    l
}

/// `/proc/PID/status`-like: ids at every pid namespace level, state, credentials.
pub fn status(s: &TaskSummary) -> String {
    let mut o = String::new();
    let levels: Vec<String> = s.pid_levels.iter().map(|l| l.pid.to_string()).collect();
    let _ = writeln!(o, "Name:\t{}", s.comm);
    let state = match &s.exit_state_name {
        Some(e) => format!("{} ({e})", s.state_name),
        None => s.state_name.clone(),
    };
    let _ = writeln!(o, "State:\t{state}");
    let _ = writeln!(o, "Tgid:\t{}", s.ids.tgid);
    let _ = writeln!(o, "Pid:\t{}", s.ids.pid);
    let _ = writeln!(o, "PPid:\t{}", s.ids.ppid);
    let _ = writeln!(o, "Pgid:\t{}", s.ids.pgid);
    let _ = writeln!(o, "Sid:\t{}", s.ids.sid);
    let _ = writeln!(o, "NSpid:\t{}", levels.join("\t"));
    if let Some(c) = &s.creds {
        let _ = writeln!(o, "Uid:\t{}\t{}\t{}\t{}", c.uid, c.euid, c.suid, c.fsuid);
        let _ = writeln!(o, "Gid:\t{}\t{}\t{}\t{}", c.gid, c.egid, c.sgid, c.fsgid);
    }
    let _ = writeln!(o, "Threads:\t{}", s.threads);
    if let Some(e) = &s.exit_signal {
        let _ = writeln!(o, "ExitSignal:\t{e}");
    }
    if s.compat_32bit {
        let _ = writeln!(o, "Compat32:\tyes");
    }
    o
}

fn signals_text(s: &TaskSummary) -> String {
    let list = |v: &[ckpt_format::summary::tasks::PendingSignal]| {
        v.iter()
            .map(|p| match p.from_pid {
                0 => p.signal.clone(),
                from => format!("{} (from pid {from})", p.signal),
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        "blocked:\t{}\npending:\t{}\nshared pending:\t{}\n",
        s.signals.blocked.join(" "),
        list(&s.signals.pending),
        list(&s.signals.shared_pending)
    )
}

fn regs_text(regs: Option<&TaskRegs>) -> String {
    let Some(r) = regs else {
        return String::new();
    };
    if let Some(n) = r.opaque_len {
        return format!("opaque ({n} bytes; no source describes this arch's cpu record)\n");
    }
    let mut o = String::new();
    for (name, v) in &r.regs {
        let shown = match v {
            ckpt_format::value::Value::Uint(x) => format!("{x:#x}"),
            other => other.to_string(),
        };
        let _ = writeln!(o, "{name:<28} {shown}");
    }
    o
}

fn fields_text(fields: &Fields) -> String {
    fields.iter().fold(String::new(), |mut o, (k, v)| {
        let _ = writeln!(o, "{k}\t{v}");
        o
    })
}

fn ipc_dir(t: &mut Tree, index: &PageIndex, messages: &BTreeMap<i64, Vec<Queued>>) {
    let ipc = t.dir(ROOT, "ipc");
    for (k, seg) in index.shm_segments().iter().enumerate() {
        let d = t.dir(ipc, &format!("shm-{}", seg.id));
        t.file(
            d,
            "pages",
            Content::Shm {
                index: k,
                size: seg.size,
            },
        );
        if let Some(i) = index
            .model()
            .object(seg.ipc_ns)
            .and_then(|o| o.ipc.get(seg.ipc))
        {
            t.text(d, "fields", fields_text(&i.fields));
        }
    }
    for o in index.model().objects.values() {
        for i in &o.ipc {
            let id = ckpt_format::model::field_int(&i.fields, "perms.id").unwrap_or(0) as i64;
            let kind = match i.record.as_str() {
                "IPC_MSG" => "msg",
                "IPC_SEM" => "sem",
                _ => continue,
            };
            let d = t.dir(ipc, &format!("{kind}-{id}"));
            t.text(d, "fields", fields_text(&i.fields));
            if kind == "msg" {
                for (k, m) in messages.get(&id).into_iter().flatten().enumerate() {
                    t.file(d, &format!("message-{k}"), queued(m));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_maps_lines() {
        let rec = RecordInfo {
            index: 42,
            offset: 0,
            rtype: 1,
            len: 8,
            name: "TASK",
            payload_of: None,
            inline: true,
            headerless: false,
        };
        assert_eq!(record_name(&rec), "000042-TASK");
        assert_eq!(
            maps_line(0x1000, 0x3000, "r-xp", 0, None),
            "00001000-00003000 r-xp 00000000 00:00 0\n"
        );
        let l = maps_line(0x400000, 0x401000, "r--p", 0x2000, Some("/bin/sh"));
        assert_eq!(l.find("/bin/sh"), Some(74));
        assert!(l.starts_with("00400000-00401000 r--p 00002000 00:00 0 "));
    }
    /// A socket's `info` and its queued buffers are in one directory, named by the
    /// socket object's tag (the shipped sample queues bytes on a unix socket pair).
    #[test]
    fn socket_info_and_buffers_share_a_directory() {
        let image = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../samples/v23-rc2.x86_64.ckpt"
        ))
        .unwrap();
        let schema = ckpt_format::Registry::get().find("v23-rc2").unwrap();
        let format = Format::new(schema, ckpt_format::Arch::X86_64);
        let reader = || {
            ckpt_format::Reader::new(
                std::io::Cursor::new(image.clone()),
                Format::new(schema, ckpt_format::Arch::X86_64),
            )
        };
        let index = PageIndex::build(&mut reader()).unwrap();
        let (pass, err) = read_records(&mut reader());
        assert!(err.is_none());
        let queued: Vec<i64> = pass.sockets.keys().copied().collect();
        assert!(!queued.is_empty(), "the sample queues socket buffers");
        let tree = build_tree(&index, pass, &format, Texts::default());
        for tag in queued {
            let dir = format!("sockets/{tag}");
            assert!(
                tree.resolve(&format!("{dir}/buffer-0")).is_some(),
                "{dir}/buffer-0"
            );
            assert!(tree.resolve(&format!("{dir}/info")).is_some(), "{dir}/info");
        }
    }
}
