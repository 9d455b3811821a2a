//! `--close PID:FD`: a descriptor goes, and with it everything that only it kept alive.
//!
//! The survey ([`Graph`]) learns, for every record, which object it belongs to and which
//! object tags it refers to. An object's records run from its OBJREF to its own record
//! (FILE, SOCKET, TTY, ...) and the records that follow it (a file's FILE_NAME and its
//! pipe's PIPE_BUF, a socket's SOCKET_UNIX or SOCKET_INET, a tty's TTY_LDISC), with the
//! objects written inside it (a file's socket, a socket's not yet seen peer, credentials)
//! being their own. What the kernel defers to the end of a file table belongs to its
//! owner too: EPOLL_ITEMS to the epoll file it names, and the socket queues (receive,
//! then write: SOCKET_QUEUE and its buffers) to the sockets that defer them, in the
//! order those sockets were first written.
//!
//! Closing removes the FILE_DESC and lowers its table's `fdt_nfds`. The closed file, and
//! every object it refers to, goes when nothing that stays refers to it any more (a
//! mark and sweep, so a connected unix socket pair goes when both its files are closed).
//! One case moves a record instead: a pipe's contents (PIPE_BUF) come with the first end
//! of the pipe the kernel wrote; when that end goes and the other stays, PIPE_BUF moves
//! to just after the other end's records, where restart then reads it.

use std::collections::{BTreeMap, BTreeSet};

use ckpt_format::Format;
use ckpt_format::RecordInfo;
use ckpt_format::read::Decoded;
use ckpt_format::value::Value;

use crate::error::ConvertError;
use crate::ledger::Action;
use crate::transform::{Cx, Out};

use super::tag_fields;

/// `sock.state` of a listening socket (`TCP_LISTEN`): it defers no queues.
const TCP_LISTEN: i128 = 10;
/// The `SOCK_DEAD` bit of `sock.flags`: a dead socket defers no queues.
const SOCK_DEAD: i128 = 1;

/// One record of the image, as closing sees it.
#[derive(Debug, Clone)]
struct Node {
    index: u64,
    name: &'static str,
    /// The object the record belongs to (None: the task's, the tree's, ...).
    owner: Option<i64>,
    /// The object tags the record refers to.
    refs: Vec<i64>,
    /// A FILE_DESC's descriptor.
    fd: Option<i64>,
    /// The record a payload belongs to (its own name for a record with a header).
    part: &'static str,
}

/// An object whose records are being read.
#[derive(Debug, Clone)]
struct Open {
    tag: i64,
    kind: String,
    /// Its own record (FILE, SOCKET, ...) came.
    main: bool,
    /// Which records that follow the object's own came (FILE_NAME, PIPE_BUF,
    /// SOCKET_UNIX or SOCKET_INET, TTY_LDISC): each comes once.
    after: Vec<&'static str>,
    /// For a pipe or fifo end: its pipe's tag (`pipe_objref`).
    pipe: Option<i64>,
}

/// A file table's socket queues, as they come after its last FILE_DESC.
#[derive(Debug, Clone, Default)]
struct Deferred {
    /// The sockets that defer their queues, in the order they were written.
    sockets: Vec<i64>,
    /// Queues seen so far.
    queues: usize,
}

/// A pipe or fifo end, and where its records are.
#[derive(Debug, Clone)]
struct PipeEnd {
    file: i64,
    pipe: i64,
    /// Its FILE and FILE_NAME records, and the PIPE_BUF written with it (at the pipe's
    /// first sight).
    record: u64,
    name: Option<u64>,
    contents: Option<u64>,
}

/// Who owns each record and who refers to whom, learnt in the survey.
#[derive(Debug, Default)]
pub(super) struct Graph {
    nodes: Vec<Node>,
    open: Vec<Open>,
    /// The owner and name of the last record with a header (its payloads share them).
    last_owner: Option<i64>,
    last_part: &'static str,
    /// The kind of each object (`FILE`, `SOCK`, ...; `pipe` for a pipe).
    kinds: BTreeMap<i64, String>,
    /// The owner of the socket queue records coming now.
    queue_owner: Option<i64>,
    deferred: Deferred,
    /// Queues found per socket.
    queues: BTreeMap<i64, usize>,
    /// Sockets given a queue holding a buffer that names neither it nor its peer as
    /// owner: the queues are not in the order assumed.
    misplaced: BTreeSet<i64>,
    /// The FILE_TABLE record of each table, and its `fdt_nfds`.
    table_record: BTreeMap<i64, (u64, i64)>,
    /// Pipe and fifo ends, in stream order.
    pipe_ends: Vec<PipeEnd>,
}

fn member(d: &Decoded, leaf: &str) -> Option<i128> {
    d.fields
        .iter()
        .find(|(p, _)| p == leaf || p.ends_with(&format!(".{leaf}")))
        .and_then(|(_, v)| v.as_int())
}

impl Graph {
    /// Whether `rec` follows the own record of object `o` as part of it.
    fn follows(o: &Open, rec: &RecordInfo, d: Option<&Decoded>) -> bool {
        let once = |name: &str| !o.after.contains(&name);
        match (o.kind.as_str(), rec.name) {
            ("FILE", "FILE_NAME") => once("FILE_NAME") && once("PIPE_BUF"),
            ("FILE", "PIPE_BUF") => o.pipe.is_some() && once("PIPE_BUF"),
            ("SOCK", "SOCKET_UNIX") => {
                once("SOCKET_UNIX")
                    && once("SOCKET_INET")
                    && d.and_then(|d| member(d, "this")) == Some(o.tag as i128)
            }
            ("SOCK", "SOCKET_INET") => once("SOCKET_UNIX") && once("SOCKET_INET"),
            // The directory of a unix socket bound to a relative path, right after its
            // SOCKET_UNIX.
            ("SOCK", "STRING") => o.after.last() == Some(&"SOCKET_UNIX"),
            // A socket's peer, written inside it before its SOCKET_UNIX.
            ("SOCK", "OBJREF") => once("SOCKET_UNIX") && once("SOCKET_INET"),
            ("TTY", "TTY_LDISC") => once("TTY_LDISC"),
            _ => false,
        }
    }

    /// Takes in record `rec` (`d`: its decoded contents, for a record read into memory).
    pub(super) fn add(&mut self, f: &Format, rec: &RecordInfo, d: Option<&Decoded>) {
        if rec.payload_of.is_some() || rec.headerless {
            let refs = d.map(|d| tag_fields(rec, d)).unwrap_or_default();
            self.push(rec, self.last_owner, refs, None, self.last_part);
            return;
        }
        // Objects whose records are complete.
        while let Some(top) = self.open.last() {
            if !top.main || Self::follows(top, rec, d) {
                break;
            }
            self.open.pop();
        }
        let refs = d.map(|d| tag_fields(rec, d)).unwrap_or_default();
        let int = |leaf: &str| d.and_then(|d| member(d, leaf));
        let owner = match rec.name {
            "OBJREF" => {
                let tag = int("objref").unwrap_or(0) as i64;
                let kind = int("objtype")
                    .and_then(|t| f.schema.enum_name("obj", t as i64, f.arch))
                    .unwrap_or("?")
                    .to_string();
                if kind == "FILE_TABLE" {
                    self.deferred = Deferred::default();
                }
                if let Some(top) = self.open.last_mut()
                    && top.main
                {
                    top.after.push("OBJREF");
                }
                self.kinds.insert(tag, kind.clone());
                self.open.push(Open {
                    tag,
                    kind,
                    main: false,
                    after: Vec::new(),
                    pipe: None,
                });
                Some(tag)
            }
            name => {
                let own = self.open.iter().rposition(|o| {
                    !o.main && (o.kind == name || (o.kind == "SOCK" && name == "SOCKET"))
                });
                if let Some(k) = own {
                    // Objects above it whose own record never came are not objects.
                    self.open.truncate(k + 1);
                    let o = &mut self.open[k];
                    o.main = true;
                    let tag = o.tag;
                    match name {
                        "FILE" => o.pipe = int("pipe_objref").map(|p| p as i64).filter(|p| *p > 0),
                        "SOCKET" => {
                            let defers = int("sock.state") != Some(TCP_LISTEN)
                                && int("sock.flags").unwrap_or(0) & SOCK_DEAD == 0
                                && int("has_buffers") != Some(0);
                            if defers && self.queue_owner.is_none() {
                                self.deferred.sockets.push(tag);
                            }
                        }
                        "FILE_TABLE" => {
                            let nfds = int("fdt_nfds").unwrap_or(0) as i64;
                            self.table_record.insert(tag, (rec.index, nfds));
                        }
                        _ => {}
                    }
                    if name == "FILE"
                        && let Some(p) = self.open[k].pipe
                    {
                        self.pipe_ends.push(PipeEnd {
                            file: tag,
                            pipe: p,
                            record: rec.index,
                            name: None,
                            contents: None,
                        });
                        self.kinds.insert(p, "pipe".into());
                    }
                    Some(tag)
                } else if let Some(top) = self.open.last_mut()
                    && top.main
                    && Self::follows(top, rec, d)
                {
                    top.after.push(name);
                    let tag = top.tag;
                    match name {
                        // A pipe's contents belong to the pipe, not to this end.
                        "PIPE_BUF" => {
                            if let Some(e) = self.pipe_ends.last_mut().filter(|e| e.file == tag) {
                                e.contents = Some(rec.index);
                            }
                            top.pipe
                        }
                        "FILE_NAME" => {
                            if let Some(e) = self.pipe_ends.last_mut().filter(|e| e.file == tag) {
                                e.name = Some(rec.index);
                            }
                            Some(tag)
                        }
                        _ => Some(tag),
                    }
                } else {
                    match name {
                        "SOCKET_QUEUE" => {
                            let k = self.deferred.queues;
                            self.deferred.queues += 1;
                            self.queue_owner = self.deferred.sockets.get(k / 2).copied();
                            if let Some(s) = self.queue_owner {
                                *self.queues.entry(s).or_default() += 1;
                            }
                            self.queue_owner
                        }
                        "SOCKET_BUFFER" => {
                            // The buffer names its owner and its sender (sk_objref,
                            // pr_objref): one of them must be the socket of the queue.
                            if let Some(s) = self.queue_owner
                                && !refs.contains(&s)
                            {
                                self.misplaced.insert(s);
                            }
                            self.queue_owner
                        }
                        "SOCKET_FRAG" => self.queue_owner,
                        "EPOLL_ITEMS" => {
                            self.queue_owner = None;
                            int("epfile_objref").map(|t| t as i64)
                        }
                        _ => {
                            self.queue_owner = None;
                            None
                        }
                    }
                }
            }
        };
        let refs = match rec.name {
            // Its own tag is not a reference.
            "EPOLL_ITEMS" => refs.into_iter().filter(|t| Some(*t) != owner).collect(),
            _ => refs,
        };
        self.last_owner = owner;
        self.last_part = rec.name;
        let fd = (rec.name == "FILE_DESC")
            .then(|| int("fd_descriptor").map(|v| v as i64))
            .flatten();
        self.push(rec, owner, refs, fd, rec.name);
    }

    fn push(
        &mut self,
        rec: &RecordInfo,
        owner: Option<i64>,
        refs: Vec<i64>,
        fd: Option<i64>,
        part: &'static str,
    ) {
        if owner.is_some() || !refs.is_empty() || fd.is_some() {
            self.nodes.push(Node {
                index: rec.index,
                name: rec.name,
                owner,
                refs,
                fd,
                part,
            });
        }
    }

    /// What the records of object `tag` of part `part` are, in a user's words.
    fn describe(&self, tag: i64, part: &str) -> String {
        let kind = self.kinds.get(&tag).map(String::as_str).unwrap_or("?");
        match (part, kind) {
            ("SOCKET_QUEUE" | "SOCKET_BUFFER" | "SOCKET_FRAG" | "RAW_PAGE", _) => {
                format!("a queue of socket {tag}")
            }
            ("EPOLL_ITEMS", _) => format!("the items of epoll file {tag}"),
            ("PIPE_BUF", _) => format!("the contents of pipe {tag}"),
            (_, "FILE") => format!("file {tag}"),
            (_, "SOCK") => format!("socket {tag}"),
            (_, "TTY") => format!("terminal {tag}"),
            (_, "CRED") => format!("credentials {tag}"),
            (_, k) => format!("object {tag} ({k})"),
        }
    }
}

/// One `--close`, resolved.
#[derive(Debug, Clone)]
pub(super) struct Closed {
    /// Index of the operation in the edit.
    pub op: usize,
    pub pid: i64,
    pub fd: i64,
    pub table: i64,
    pub file: i64,
}

/// What closing does to the stream, by source record index.
#[derive(Debug, Default)]
pub(super) struct Plan {
    /// Records removed, with why.
    drop: BTreeMap<u64, String>,
    /// FILE_TABLE records and their new `fdt_nfds`.
    nfds: BTreeMap<u64, (i64, String)>,
    /// PIPE_BUF records that move to after another record.
    moves: BTreeMap<u64, u64>,
    anchors: BTreeSet<u64>,
    /// A moved PIPE_BUF went to the spill; the next record goes to the output again.
    pause: bool,
    /// Records removed, per operation of the edit.
    pub removed: Vec<u64>,
}

/// Works out what closing `closes` removes and moves (`what`: each operation's text).
pub(super) fn plan(
    graph: &Graph,
    closes: &[Closed],
    what: &[String],
) -> Result<Plan, ConvertError> {
    let mut plan = Plan::default();
    // The closed descriptors' FILE_DESC records: the k-th FILE_DESC after a table's.
    let mut closed_desc: BTreeMap<u64, usize> = BTreeMap::new();
    for c in closes {
        let index = desc_record(graph, c).ok_or_else(|| {
            ConvertError::Refused(format!(
                "{}: the FILE_DESC of descriptor {} is not where the file table puts it",
                what[c.op], c.fd
            ))
        })?;
        closed_desc.insert(index, c.op);
    }
    let by_owner = |tag: i64| graph.nodes.iter().filter(move |n| n.owner == Some(tag));
    // What each closed file refers to, transitively: what may go.
    let reach: Vec<BTreeSet<i64>> = closes
        .iter()
        .map(|c| {
            let mut seen = BTreeSet::from([c.file]);
            let mut work = vec![c.file];
            while let Some(t) = work.pop() {
                for n in by_owner(t) {
                    for r in &n.refs {
                        if seen.insert(*r) {
                            work.push(*r);
                        }
                    }
                }
            }
            seen
        })
        .collect();
    let candidates: BTreeSet<i64> = reach.iter().flatten().copied().collect();
    // What stays refers to: the records of objects that are not candidates, but the
    // closed descriptors.
    let mut live: BTreeSet<i64> = BTreeSet::new();
    let mut work: Vec<i64> = Vec::new();
    for n in &graph.nodes {
        if closed_desc.contains_key(&n.index) || n.owner.is_some_and(|o| candidates.contains(&o)) {
            continue;
        }
        for r in &n.refs {
            if candidates.contains(r) && live.insert(*r) {
                work.push(*r);
            }
        }
    }
    while let Some(t) = work.pop() {
        for n in by_owner(t) {
            for r in &n.refs {
                if candidates.contains(r) && live.insert(*r) {
                    work.push(*r);
                }
            }
        }
    }
    let gone: BTreeSet<i64> = candidates.difference(&live).copied().collect();
    // The operation that takes an object with it: the first whose file refers to it.
    let first_op = |tag: i64| {
        closes
            .iter()
            .zip(&reach)
            .find(|(_, r)| r.contains(&tag))
            .map_or(closes[0].op, |(c, _)| c.op)
    };
    let mut count = vec![0u64; what.len()];
    for (&index, &op) in &closed_desc {
        let c = closes
            .iter()
            .find(|c| c.op == op)
            .expect("a closed descriptor");
        plan.drop.insert(
            index,
            format!(
                "descriptor {} of task {} closed ({})",
                c.fd, c.pid, what[op]
            ),
        );
        count[op] += 1;
    }
    for n in &graph.nodes {
        let Some(o) = n.owner.filter(|o| gone.contains(o)) else {
            continue;
        };
        if graph.misplaced.contains(&o) {
            return Err(ConvertError::Refused(format!(
                "{}: socket {o} would go, but the queue records after its file table are not \
                 in the order of the sockets that write them (a buffer names other \
                 sockets): which records are its own cannot be told",
                what[first_op(o)]
            )));
        }
        if graph.queues.get(&o).is_some_and(|q| *q != 2) {
            return Err(ConvertError::Refused(format!(
                "{}: socket {o} would go, but the image has {} queue records for it where \
                 the kernel writes two (receive and write): which records are its own \
                 cannot be told",
                what[first_op(o)],
                graph.queues[&o]
            )));
        }
        let op = first_op(o);
        plan.drop.entry(n.index).or_insert_with(|| {
            format!(
                "{}, which nothing kept but the closed descriptor ({})",
                graph.describe(o, n.part),
                what[op]
            )
        });
        count[op] += 1;
    }
    // File tables: one descriptor fewer per closed one.
    for c in closes {
        let (index, nfds) = *graph.table_record.get(&c.table).ok_or_else(|| {
            ConvertError::Refused(format!(
                "{}: the file table {} has no FILE_TABLE record",
                what[c.op], c.table
            ))
        })?;
        let e = plan.nfds.entry(index).or_insert((nfds, what[c.op].clone()));
        e.0 -= 1;
    }
    // A pipe that stays, whose contents came with an end that goes.
    for end in &graph.pipe_ends {
        let Some(buf) = end.contents else {
            continue;
        };
        if !gone.contains(&end.file) || gone.contains(&end.pipe) {
            continue;
        }
        let Some(other) = graph
            .pipe_ends
            .iter()
            .find(|e| e.pipe == end.pipe && !gone.contains(&e.file) && e.record > buf)
        else {
            return Err(ConvertError::Refused(format!(
                "{}: pipe {} stays open, but no end of it that stays comes after its \
                 contents (record #{buf})",
                what[first_op(end.file)],
                end.pipe
            )));
        };
        let anchor = other.name.unwrap_or(other.record);
        plan.moves.insert(buf, anchor);
        plan.anchors.insert(anchor);
    }
    // One spill at a time: the moves must not overlap.
    let mut end = 0;
    for (from, to) in &plan.moves {
        if *from < end {
            return Err(ConvertError::Refused(format!(
                "{}: the contents of two pipes would have to move past each other (records \
                 #{from} and before); close these descriptors in two edits",
                what[closes[0].op]
            )));
        }
        end = *to;
    }
    plan.removed = count;
    Ok(plan)
}

/// The FILE_DESC record of closed descriptor `c`: among the FILE_DESCs after its
/// table's FILE_TABLE record, the one for its fd.
fn desc_record(graph: &Graph, c: &Closed) -> Option<u64> {
    let (table_at, nfds) = *graph.table_record.get(&c.table)?;
    graph
        .nodes
        .iter()
        .filter(|n| n.name == "FILE_DESC" && n.index > table_at)
        .take(nfds.max(0) as usize)
        .find(|n| n.fd == Some(c.fd))
        .map(|n| n.index)
}

impl Plan {
    /// Applies the plan to inline record `rec`, pushing to `out` what goes before it.
    /// Returns true when the record is taken: removed, or (in `out`) held back.
    pub(super) fn record(
        &mut self,
        cx: &mut Cx<'_>,
        rec: &mut [u8],
        out: &mut Vec<Out>,
    ) -> Result<bool, ConvertError> {
        if std::mem::take(&mut self.pause) {
            out.push(Out::SpillPause);
        }
        let index = cx.rec.index;
        if let Some(why) = self.drop.get(&index) {
            cx.note("", Action::Removed, None, None).reason = Some(why.clone());
            return Ok(true);
        }
        if let Some(to) = self.moves.get(&index) {
            cx.note("", Action::Moved, None, None).reason = Some(moved(*to));
            out.extend([Out::SpillOn, Out::Record(rec.to_vec()), Out::SpillPause]);
            return Ok(true);
        }
        if let Some((nfds, why)) = self.nfds.get(&index) {
            let old = super::redirect::old_value(cx.from, cx.rec, rec, "fdt_nfds");
            super::redirect::set(cx.from, cx.rec, rec, "fdt_nfds", *nfds)?;
            cx.note("fdt_nfds", Action::Supplied, old, Some(Value::Int(*nfds)))
                .reason = Some(format!("descriptors in the table ({why})"));
        }
        Ok(false)
    }

    /// Whether the spilled pipe contents go out after record `index`.
    pub(super) fn flush_after(&self, index: u64) -> bool {
        self.anchors.contains(&index)
    }

    /// Applies the plan to streamed record `rec`: Some(false) to drop its contents.
    pub(super) fn streamed(&mut self, cx: &mut Cx<'_>, out: &mut Vec<Out>) -> bool {
        if std::mem::take(&mut self.pause) {
            out.push(Out::SpillPause);
        }
        let index = cx.rec.index;
        if let Some(why) = self.drop.get(&index) {
            cx.note("", Action::Removed, None, None).reason = Some(why.clone());
            return false;
        }
        if let Some(to) = self.moves.get(&index) {
            out.push(Out::SpillOn);
            self.pause = true;
            cx.note("", Action::Moved, None, None).reason = Some(moved(*to));
        }
        true
    }
}

fn moved(to: u64) -> String {
    format!("the pipe's contents go with the end that stays open, after record #{to}")
}
