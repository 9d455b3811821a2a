//! Building a [`Graph`] from an image model: the tasks chosen by the filters, then what
//! they hold, kind by kind.

use std::collections::{BTreeMap, BTreeSet};

use ckpt_format::Format;
use ckpt_format::model::{ImageModel, ObjectModel};
use ckpt_format::summary::tasks::{OpenFile, TaskSummary, summarise};

use super::{
    AUTO_GROUP_TASKS, Edge, EdgeKind, GROUP_OVER_FEW_TASKS, GROUP_OVER_MANY_TASKS, Graph,
    GraphOptions, Kind, Node, NodeKind, ThreadGroup,
};
use crate::Error;
use crate::text::plural;

/// The graph of `m` with `o`.
pub fn graph(m: &ImageModel, f: &Format, o: &GraphOptions) -> Result<Graph, Error> {
    let tasks = summarise(m, f);
    let chosen = choose(&tasks, o)?;
    let mut b = Builder {
        m,
        o,
        tasks: &tasks,
        chosen: &chosen,
        graph: Graph {
            revision: f.schema.id.to_string(),
            arch: f.arch.name().to_string(),
            complete: true,
            checkpoint_error: m.error.clone(),
            ..Graph::default()
        },
        ids: BTreeMap::new(),
        edges: BTreeSet::new(),
    };
    b.tasks();
    if [Kind::Files, Kind::Pipes, Kind::Sockets]
        .iter()
        .any(|k| o.kinds.contains(k))
    {
        b.files();
    }
    if o.kinds.contains(&Kind::Files) {
        b.shared_table("fs", NodeKind::Fs);
    }
    if o.kinds.contains(&Kind::Mm) {
        b.shared_table("mm", NodeKind::AddressSpace);
    }
    if o.kinds.contains(&Kind::Creds) {
        b.creds();
    }
    if o.kinds.contains(&Kind::Ns) || o.kinds.contains(&Kind::Ipc) {
        b.namespaces();
    }
    Ok(b.graph)
}

/// Indices of the tasks to draw, in tree order: `--pid` and its descendants (every
/// task without `--pid`), down to `--depth` generations. A thread goes with its leader.
fn choose(tasks: &[TaskSummary], o: &GraphOptions) -> Result<Vec<usize>, Error> {
    let pids: BTreeSet<i64> = tasks.iter().map(|t| t.ids.pid).collect();
    let mut level: Vec<usize> = match o.pid {
        Some(p) => {
            let Some(t) = tasks.iter().find(|t| t.ids.pid == p) else {
                let list: Vec<String> = pids.iter().map(i64::to_string).collect();
                return Err(Error::NoSuchPid {
                    pid: p,
                    pids: list.join(", "),
                });
            };
            vec![t.ids.index]
        }
        // The roots: tasks whose parent is not in the image.
        None => tasks
            .iter()
            .filter(|t| !pids.contains(&t.ids.ppid) || t.ids.ppid == t.ids.pid)
            .map(|t| t.ids.index)
            .collect(),
    };
    let mut chosen = BTreeSet::new();
    let mut depth = 0;
    while !level.is_empty() {
        // Threads of the tasks of this level.
        let groups: BTreeSet<i64> = level.iter().map(|&k| tasks[k].ids.tgid).collect();
        let mut this: BTreeSet<usize> = level.into_iter().collect();
        this.extend(
            tasks
                .iter()
                .filter(|t| groups.contains(&t.ids.tgid))
                .map(|t| t.ids.index),
        );
        this.retain(|k| !chosen.contains(k));
        chosen.extend(this.iter().copied());
        if o.depth.is_some_and(|d| depth >= d) {
            break;
        }
        let parents: BTreeSet<i64> = this.iter().map(|&k| tasks[k].ids.pid).collect();
        level = tasks
            .iter()
            .filter(|t| parents.contains(&t.ids.ppid) && !chosen.contains(&t.ids.index))
            .map(|t| t.ids.index)
            .collect();
        depth += 1;
    }
    Ok(chosen.into_iter().collect())
}

struct Builder<'a> {
    m: &'a ImageModel,
    o: &'a GraphOptions,
    tasks: &'a [TaskSummary],
    chosen: &'a [usize],
    graph: Graph,
    /// Index of each node in the graph's nodes.
    ids: BTreeMap<String, usize>,
    edges: BTreeSet<(String, String, EdgeKind, String)>,
}

fn task_id(index: usize) -> String {
    format!("t{index}")
}

fn object_id(tag: i64) -> String {
    format!("o{tag}")
}

/// Descriptor numbers as ranges: `fd 0-2,5`.
pub(crate) fn fd_label(fds: &[i64]) -> String {
    let mut fds = fds.to_vec();
    fds.sort_unstable();
    fds.dedup();
    let mut parts = Vec::new();
    let mut k = 0;
    while k < fds.len() {
        let mut j = k;
        while j + 1 < fds.len() && fds[j + 1] == fds[j] + 1 {
            j += 1;
        }
        parts.push(match j - k {
            0 => fds[k].to_string(),
            1 => format!("{},{}", fds[k], fds[j]),
            _ => format!("{}-{}", fds[k], fds[j]),
        });
        k = j + 1;
    }
    format!("fd {}", parts.join(","))
}

/// One descriptor set of a holder on one file object.
struct Held<'a> {
    file: &'a OpenFile,
    fds: Vec<i64>,
}

impl Builder<'_> {
    fn node(&mut self, id: String, kind: NodeKind, label: String) -> &mut Node {
        let at = match self.ids.get(&id) {
            Some(&at) => at,
            None => {
                self.ids.insert(id.clone(), self.graph.nodes.len());
                self.graph.nodes.push(Node {
                    id: id.clone(),
                    kind,
                    label,
                    pid: None,
                    thread_group: None,
                    tag: None,
                    count: None,
                });
                self.graph.nodes.len() - 1
            }
        };
        &mut self.graph.nodes[at]
    }

    fn object_node(&mut self, tag: i64, kind: NodeKind, label: String) -> String {
        let id = object_id(tag);
        self.node(id.clone(), kind, label).tag = Some(tag);
        id
    }

    fn edge(&mut self, from: &str, to: &str, kind: EdgeKind, label: String) {
        let key = (from.to_string(), to.to_string(), kind, label.clone());
        if self.edges.insert(key) {
            self.graph.edges.push(Edge {
                from: from.to_string(),
                to: to.to_string(),
                kind,
                label,
            });
        }
    }

    fn chosen_tasks(&self) -> impl Iterator<Item = &TaskSummary> + '_ {
        self.chosen.iter().map(|&k| &self.tasks[k])
    }

    /// The task a task inherits from in the graph: a thread's leader, else its parent.
    fn anchor(&self, t: &TaskSummary) -> Option<&TaskSummary> {
        let find = |pid: i64| {
            self.chosen_tasks()
                .find(|x| x.ids.pid == pid && x.ids.index != t.ids.index)
        };
        if t.ids.tgid != t.ids.pid
            && let Some(leader) = find(t.ids.tgid)
        {
            return Some(leader);
        }
        find(t.ids.ppid)
    }

    fn tasks(&mut self) {
        let mut groups: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for &k in self.chosen {
            groups.entry(self.tasks[k].ids.tgid).or_default().push(k);
        }
        for &k in self.chosen {
            let t = &self.tasks[k];
            let leader = t.ids.tgid == t.ids.pid;
            let state = t.exit_state_name.as_deref().unwrap_or(&t.state_name);
            let what = if leader || groups[&t.ids.tgid].len() == 1 {
                "pid"
            } else {
                "thread"
            };
            let label = format!("{what} {} {}\n{state}", t.ids.pid, t.comm);
            let group = (groups[&t.ids.tgid].len() > 1).then(|| format!("tg{}", t.ids.tgid));
            let n = self.node(task_id(k), NodeKind::Task, label);
            n.pid = Some(t.ids.pid);
            n.thread_group = group;
        }
        for (tgid, members) in &groups {
            if members.len() > 1 {
                let mut ids: Vec<usize> = members.clone();
                // Leader first.
                ids.sort_by_key(|&k| (self.tasks[k].ids.pid != *tgid, k));
                self.graph.thread_groups.push(ThreadGroup {
                    id: format!("tg{tgid}"),
                    label: format!("thread group {tgid}: {}", plural(ids.len(), "task")),
                    members: ids.into_iter().map(task_id).collect(),
                });
            }
        }
        for &k in self.chosen {
            let t = &self.tasks[k];
            // A thread hangs in its group, not from the parent.
            let in_group = t.ids.tgid != t.ids.pid && groups[&t.ids.tgid].len() > 1;
            if in_group {
                continue;
            }
            let parent = self
                .chosen_tasks()
                .find(|x| x.ids.pid == t.ids.ppid && x.ids.index != k)
                .map(|p| task_id(p.ids.index));
            if let Some(from) = parent {
                self.edge(&from, &task_id(k), EdgeKind::Parent, String::new());
            }
        }
    }

    /// Tasks using each object of kind `table` (`files`, `fs`, `mm`, `cred`, `ns`).
    fn users(&self, table: &str) -> BTreeMap<i64, Vec<usize>> {
        let mut users: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for t in self.chosen_tasks() {
            if let Some(&tag) = t.tables.get(table) {
                users.entry(tag).or_default().push(t.ids.index);
            }
        }
        users
    }

    /// A table (fs, mm) shared by several tasks: one node, an edge from each user.
    fn shared_table(&mut self, table: &str, kind: NodeKind) {
        for (tag, users) in self.users(table) {
            if users.len() < 2 {
                continue;
            }
            let Some(o) = self.m.object(tag) else {
                continue;
            };
            let label = match kind {
                NodeKind::AddressSpace => {
                    let pages: u64 = o.vmas.iter().map(|v| v.pages).sum();
                    format!(
                        "address space\n{}, {}",
                        plural(o.vmas.len(), "VMA"),
                        plural(pages as usize, "page")
                    )
                }
                _ => match o.texts.as_slice() {
                    [] => "fs".to_string(),
                    [one] => format!("fs\n{one}"),
                    [root, cwd, ..] => format!("fs\nroot {root}\ncwd {cwd}"),
                },
            };
            let id = self.object_node(tag, kind, label);
            for k in users {
                self.edge(&task_id(k), &id, EdgeKind::Holds, table.to_string());
            }
        }
    }

    /// Files, pipes and sockets, from each holder: a file table shared by several tasks,
    /// else the task.
    fn files(&mut self) {
        let tables = self.users("files");
        // Holders (node id) with their descriptors by file object, in order.
        let mut holders: Vec<(String, Vec<Held>)> = Vec::new();
        let mut drawn_tables = BTreeSet::new();
        for &k in self.chosen {
            let t = &self.tasks[k];
            let Some(&table) = t.tables.get("files") else {
                continue;
            };
            let holder = if tables[&table].len() > 1 {
                let label = format!("file table\n{}", plural(t.files.len(), "descriptor"));
                let id = self.object_node(table, NodeKind::FileTable, label);
                self.edge(&task_id(k), &id, EdgeKind::Holds, "files".into());
                if !drawn_tables.insert(table) {
                    continue;
                }
                id
            } else {
                task_id(k)
            };
            let mut held: Vec<Held> = Vec::new();
            for f in &t.files {
                match held.iter_mut().find(|h| h.file.objref == f.objref) {
                    Some(h) => h.fds.push(f.fd),
                    None => held.push(Held {
                        file: f,
                        fds: vec![f.fd],
                    }),
                }
            }
            holders.push((holder, held));
        }
        let mut planned: Vec<Planned> = Vec::new();
        for (at, (_, held)) in holders.iter().enumerate() {
            for h in held {
                if let Some(p) = self.plan(h) {
                    planned.push(Planned { holder: at, ..p });
                }
            }
        }
        // The holders of each object node.
        let mut holders_of: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
        for p in &planned {
            holders_of
                .entry(p.id.as_str())
                .or_default()
                .insert(p.holder);
        }
        let over = self
            .o
            .group_over
            .unwrap_or(if self.chosen.len() <= AUTO_GROUP_TASKS {
                GROUP_OVER_FEW_TASKS
            } else {
                GROUP_OVER_MANY_TASKS
            });
        let mut sockets: Vec<(String, &OpenFile)> = Vec::new();
        for (at, (holder, _)) in holders.iter().enumerate() {
            let mine: Vec<&Planned> = planned.iter().filter(|p| p.holder == at).collect();
            let private: BTreeSet<&str> = mine
                .iter()
                .filter(|p| holders_of[p.id.as_str()].len() == 1)
                .map(|p| p.id.as_str())
                .collect();
            let grouped = private.len() > over;
            let mut in_group: Vec<&Planned> = Vec::new();
            for p in mine {
                if grouped && private.contains(p.id.as_str()) {
                    in_group.push(p);
                    continue;
                }
                self.node(p.id.clone(), p.kind, p.label.clone()).tag = p.tag;
                match p.edge {
                    EdgeKind::PipeRead => self.edge(&p.id, holder, p.edge, p.edge_label.clone()),
                    _ => self.edge(holder, &p.id, p.edge, p.edge_label.clone()),
                }
                if let Some(f) = p.socket {
                    sockets.push((p.id.clone(), f));
                }
            }
            if grouped {
                self.group(holder, &in_group);
            }
        }
        self.inet_peers(&sockets);
    }

    /// The node a holder's descriptors on one file object lead to, and the edge, where
    /// the kinds asked for draw it.
    fn plan<'f>(&self, h: &Held<'f>) -> Option<Planned<'f>> {
        let f = h.file;
        let kinds = &self.o.kinds;
        let edge_label = fd_label(&h.fds);
        let (id, kind, label, tag, edge) = if let Some(p) = &f.pipe {
            if !kinds.contains(&Kind::Pipes) {
                return None;
            }
            let edge = match p.end.as_str() {
                "read" => EdgeKind::PipeRead,
                "write" => EdgeKind::PipeWrite,
                _ => EdgeKind::Holds,
            };
            let (id, label) = pipe_node(p.pipe, f);
            (id, NodeKind::Pipe, label, Some(p.pipe), edge)
        } else if f.socket.is_some() {
            if !kinds.contains(&Kind::Sockets) {
                return None;
            }
            let (id, kind, label, tag) = self.socket_node(f);
            (id, kind, label, Some(tag), EdgeKind::Holds)
        } else {
            if !kinds.contains(&Kind::Files) {
                return None;
            }
            let id = object_id(f.objref);
            (
                id,
                NodeKind::File,
                file_label(f),
                Some(f.objref),
                EdgeKind::Holds,
            )
        };
        Some(Planned {
            holder: 0,
            category: match kind {
                NodeKind::Pipe => "pipe".to_string(),
                NodeKind::Socket | NodeKind::SocketPair => "socket".to_string(),
                _ => f.r#type.clone(),
            },
            id,
            kind,
            label,
            tag,
            edge,
            edge_label,
            fds: h.fds.clone(),
            socket: f.socket.is_some().then_some(f),
        })
    }

    /// Objects of `holder` that nothing else holds, as one node.
    fn group(&mut self, holder: &str, members: &[&Planned]) {
        let mut seen = BTreeSet::new();
        let mut categories: BTreeMap<&str, usize> = BTreeMap::new();
        for p in members {
            if seen.insert(p.id.as_str()) {
                *categories.entry(p.category.as_str()).or_default() += 1;
            }
        }
        let summary: Vec<String> = categories.iter().map(|(c, n)| format!("{n} {c}")).collect();
        let label = format!("{}\n{}", plural(seen.len(), "object"), summary.join(", "));
        let id = format!("g{holder}");
        self.node(id.clone(), NodeKind::Group, label).count = Some(seen.len());
        let fds: Vec<i64> = members.iter().flat_map(|p| p.fds.iter().copied()).collect();
        self.edge(holder, &id, EdgeKind::Holds, fd_label(&fds));
    }

    /// The node of the socket of file `f` (id, kind, label, tag): a unix pair's node
    /// when its peer is in the image and names it back.
    fn socket_node(&self, f: &OpenFile) -> (String, NodeKind, String, i64) {
        let s = f.socket.as_ref().expect("a socket file");
        let own = self
            .m
            .object(f.objref)
            .and_then(|o| o.int("sock_objref"))
            .map(|t| t as i64);
        let peer_of = |tag: i64| -> Option<i64> {
            let o: &ObjectModel = self.m.object(tag)?;
            let u = o.part("SOCKET_UNIX")?;
            ckpt_format::model::field_int(u, "peer").map(|p| p as i64)
        };
        let mut addr = String::new();
        if let Some(l) = &s.local {
            addr.push_str(&format!("\n{l}"));
        }
        if let Some(r) = &s.remote {
            addr.push_str(&format!(" -> {r}"));
        }
        let label = format!("{} {} {}{addr}", s.family, s.r#type, s.state);
        match (own, s.peer) {
            (Some(own), Some(peer)) if peer_of(peer) == Some(own) => {
                let (a, b) = (own.min(peer), own.max(peer));
                let label = format!("{} {} pair\nsockets {a} and {b}", s.family, s.r#type);
                (format!("u{a}-{b}"), NodeKind::SocketPair, label, a)
            }
            (Some(own), _) => (format!("s{own}"), NodeKind::Socket, label, own),
            (None, _) => (object_id(f.objref), NodeKind::Socket, label, f.objref),
        }
    }

    /// Inet sockets of the image connected to each other (one's local address is the
    /// other's remote one, both ways): a peer edge.
    fn inet_peers(&mut self, sockets: &[(String, &OpenFile)]) {
        let ends: Vec<(&str, &str, &str)> = sockets
            .iter()
            .filter_map(|(id, f)| {
                let s = f.socket.as_ref()?;
                if !s.family.starts_with("AF_INET") {
                    return None;
                }
                Some((id.as_str(), s.local.as_deref()?, s.remote.as_deref()?))
            })
            .collect();
        let mut pairs = Vec::new();
        for (k, a) in ends.iter().enumerate() {
            for b in &ends[k + 1..] {
                if a.1 == b.2 && a.2 == b.1 && a.0 != b.0 {
                    pairs.push((a.0.to_string(), b.0.to_string()));
                }
            }
        }
        for (a, b) in pairs {
            self.edge(&a, &b, EdgeKind::Peer, String::new());
        }
    }

    /// Tasks whose `table` differs from their anchor's (or that have no anchor drawn).
    fn not_inherited(&self, table: &str) -> Vec<(usize, i64)> {
        self.chosen_tasks()
            .filter_map(|t| {
                let tag = *t.tables.get(table)?;
                let inherited = self
                    .anchor(t)
                    .is_some_and(|a| a.tables.get(table) == Some(&tag));
                (!inherited).then_some((t.ids.index, tag))
            })
            .collect()
    }

    /// Credentials shared by several tasks; a task that has its anchor's draws no edge.
    fn creds(&mut self) {
        let users = self.users("cred");
        for (k, tag) in self.not_inherited("cred") {
            if users[&tag].len() < 2 {
                continue;
            }
            let Some(c) = self.tasks[k].creds.as_ref() else {
                continue;
            };
            let label = format!(
                "credentials\nuid {} euid {}\ngid {} egid {}",
                c.uid, c.euid, c.gid, c.egid
            );
            let id = self.object_node(tag, NodeKind::Creds, label);
            let users = plural(users[&tag].len(), "task");
            self.edge(&task_id(k), &id, EdgeKind::Holds, format!("cred ({users})"));
        }
    }

    /// The uts, ipc and net namespaces of each task's NS object, its pid namespace, and
    /// the SysV IPC objects of IPC namespaces.
    fn namespaces(&mut self) {
        let ns_kind = self.o.kinds.contains(&Kind::Ns);
        let ipc_kind = self.o.kinds.contains(&Kind::Ipc);
        // Per task: (kind, tag) of each namespace its NS object names.
        for &k in self.chosen {
            let t = &self.tasks[k];
            let anchor_ns = self.anchor(t).map(|a| self.spaces(a));
            for (what, tag) in self.spaces(t) {
                let is_ipc = what == "ipc";
                if !(ns_kind || (ipc_kind && is_ipc)) {
                    continue;
                }
                if anchor_ns.as_ref().is_some_and(|a| a.contains(&(what, tag))) {
                    continue;
                }
                let id = self.namespace_node(what, tag);
                self.edge(&task_id(k), &id, EdgeKind::Holds, format!("{what} ns"));
            }
        }
        if ns_kind {
            self.pid_namespaces();
        }
        if ipc_kind {
            let spaces: Vec<i64> = self
                .m
                .objects
                .values()
                .filter(|o| !o.ipc.is_empty())
                .map(|o| o.tag)
                .collect();
            for tag in spaces {
                let id = self.namespace_node("ipc", tag);
                let objects = &self.m.objects[&tag].ipc;
                for (k, i) in objects.iter().enumerate() {
                    let g = |n: &str| ckpt_format::model::field_int(&i.fields, n).unwrap_or(0);
                    let what = match i.record.as_str() {
                        "IPC_SHM" => format!("shm segment\n{} bytes", g("shm_segsz")),
                        "IPC_MSG" => {
                            format!("message queue\n{}", plural(i.messages as usize, "message"))
                        }
                        _ => format!(
                            "semaphore set\n{}",
                            plural(g("sem_nsems") as usize, "semaphore")
                        ),
                    };
                    let label = format!(
                        "{what}\nid {} key {:#x}",
                        g("perms.id"),
                        g("perms.key") as u32
                    );
                    let obj = format!("i{tag}-{k}");
                    self.node(obj.clone(), NodeKind::Ipc, label);
                    self.edge(&id, &obj, EdgeKind::Contains, String::new());
                }
            }
        }
    }

    /// The namespaces the NS object of `t` names: (`uts`, tag), (`ipc`, tag), ...
    fn spaces(&self, t: &TaskSummary) -> Vec<(&'static str, i64)> {
        let Some(ns) = t.tables.get("ns").and_then(|&tag| self.m.object(tag)) else {
            return Vec::new();
        };
        [
            ("uts", "uts_objref"),
            ("ipc", "ipc_objref"),
            ("net", "net_objref"),
        ]
        .into_iter()
        .filter_map(|(what, member)| {
            let tag = ns.int(member)? as i64;
            (tag > 0).then_some((what, tag))
        })
        .collect()
    }

    fn namespace_node(&mut self, what: &str, tag: i64) -> String {
        let mut label = format!("{what} namespace");
        if let Some(o) = self.m.object(tag)
            && let Some((_, ckpt_format::value::Value::Text(host))) =
                o.fields.iter().find(|(n, _)| n == "nodename")
        {
            label.push_str(&format!("\n{host}"));
        }
        self.object_node(tag, NodeKind::Namespace, label)
    }

    /// Pid namespaces, from the tasks' pids at nested levels: a task with more levels
    /// than its anchor starts one (it is its init).
    fn pid_namespaces(&mut self) {
        let levels = |t: &TaskSummary| t.nested_pids.len();
        let mut space_of: BTreeMap<usize, String> = BTreeMap::new();
        for &k in self.chosen {
            let t = &self.tasks[k];
            let anchor = self.anchor(t);
            let inherited = anchor
                .filter(|a| levels(a) == levels(t))
                .and_then(|a| space_of.get(&a.ids.index).cloned());
            if let Some(id) = inherited {
                space_of.insert(k, id);
                continue;
            }
            let (id, label) = if levels(t) == 0 {
                (
                    "pidns".to_string(),
                    "pid namespace\nof the image".to_string(),
                )
            } else {
                (
                    format!("pidns{k}"),
                    format!("pid namespace\nlevel {}, init pid {}", levels(t), t.ids.pid),
                )
            };
            self.node(id.clone(), NodeKind::Namespace, label);
            self.edge(&task_id(k), &id, EdgeKind::Holds, "pid ns".into());
            space_of.insert(k, id);
        }
    }
}

/// An object node a holder leads to, before grouping.
struct Planned<'f> {
    /// Index of the holder.
    holder: usize,
    id: String,
    kind: NodeKind,
    label: String,
    tag: Option<i64>,
    edge: EdgeKind,
    edge_label: String,
    fds: Vec<i64>,
    /// What a group's label counts it as: the file type, `pipe` or `socket`.
    category: String,
    socket: Option<&'f OpenFile>,
}

/// A pipe's node: its id and label.
fn pipe_node(tag: i64, f: &OpenFile) -> (String, String) {
    let what = if f.r#type == "FIFO" { "fifo" } else { "pipe" };
    let mut label = match &f.path {
        Some(p) if what == "fifo" => format!("{what} {p}"),
        _ => what.to_string(),
    };
    if let Some(p) = &f.pipe
        && p.buffered > 0
    {
        label.push_str(&format!(
            "\n{} buffered",
            plural(p.buffered as usize, "byte")
        ));
    }
    (format!("p{tag}"), label)
}

/// A file's label: its type and path, or what it is.
fn file_label(f: &OpenFile) -> String {
    match (&f.path, f.r#type.as_str()) {
        (Some(p), t) => format!("{t}\n{p}"),
        (None, t) if !f.what.is_empty() && f.what != t => format!("{t}\n{}", f.what),
        (None, t) => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_read_as_ranges() {
        assert_eq!(fd_label(&[0]), "fd 0");
        assert_eq!(fd_label(&[2, 0, 1, 5, 7, 8]), "fd 0-2,5,7,8");
        assert_eq!(fd_label(&[3, 3, 4]), "fd 3,4");
    }
}
