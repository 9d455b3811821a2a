//! The graph of an image: its tasks and the objects they hold and share.
//!
//! Nodes are the tasks (threads inside their thread group, [`Graph::thread_groups`])
//! and the objects: open files, pipes (one node for both ends), unix socket pairs (one
//! node), other sockets, address spaces, file tables and fs shared by several tasks,
//! SysV IPC objects, namespaces and credentials shared by several tasks. Edges go from
//! a parent to its child, from a holder to what it holds (labelled with the fd
//! numbers), from a pipe's writer to the pipe and from the pipe to its reader, and
//! between connected sockets. `schemas/graph.md` gives the rules (grouping, what an
//! inherited namespace draws).
//!
//! The graph is built from an [`ImageModel`], which [`read_graph`] reads in one pass
//! without page contents: memory grows with the tasks and objects only.

mod build;

use std::collections::BTreeSet;

use ckpt_format::input::Input;
use ckpt_format::model::{ImageModel, ModelBuilder};
use ckpt_format::{Format, Reader};
use serde::Serialize;

use crate::Error;

/// Kinds of objects a graph can show (`--kinds`); tasks are always shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Open files (regular files, ttys, eventfds, epoll files), shared file tables and fs.
    Files,
    /// Pipes and fifos.
    Pipes,
    /// Sockets.
    Sockets,
    /// Address spaces shared by several tasks.
    Mm,
    /// SysV IPC objects (with the IPC namespace that holds them).
    Ipc,
    /// Namespaces: pid, uts, ipc, net (no revision records a mount namespace).
    Ns,
    /// Credentials shared by several tasks.
    Creds,
}

impl Kind {
    /// Every kind, in the order `--kinds` lists them.
    pub const ALL: [Kind; 7] = [
        Kind::Files,
        Kind::Pipes,
        Kind::Sockets,
        Kind::Mm,
        Kind::Ipc,
        Kind::Ns,
        Kind::Creds,
    ];

    /// Its name as the user writes it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Files => "files",
            Kind::Pipes => "pipes",
            Kind::Sockets => "sockets",
            Kind::Mm => "mm",
            Kind::Ipc => "ipc",
            Kind::Ns => "ns",
            Kind::Creds => "creds",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Result<Kind, Error> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == name.trim())
            .ok_or_else(|| Error::UnknownKind(name.to_string()))
    }
}

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// A task (a process or a thread).
    Task,
    /// An open file (one file object, however many descriptors hold it).
    File,
    /// Objects of one holder that nothing else holds, grouped (see
    /// [`GraphOptions::group_over`]).
    Group,
    /// A pipe or a fifo: both its ends.
    Pipe,
    /// A socket.
    Socket,
    /// Two unix sockets connected to each other.
    SocketPair,
    /// An address space shared by several tasks.
    AddressSpace,
    /// A file table shared by several tasks.
    FileTable,
    /// An fs (root and cwd) shared by several tasks.
    Fs,
    /// A SysV IPC object (shared memory segment, message queue, semaphore set).
    Ipc,
    /// A namespace.
    Namespace,
    /// Credentials shared by several tasks.
    Creds,
}

/// What an edge stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// From a parent to its child.
    Parent,
    /// From a holder (a task or a shared file table) to what it holds or uses.
    Holds,
    /// From a holder of a pipe's write end to the pipe.
    PipeWrite,
    /// From a pipe to a holder of its read end.
    PipeRead,
    /// Between two sockets connected to each other (no direction).
    Peer,
    /// From a namespace to an object it holds (an IPC namespace's objects).
    Contains,
}

/// A node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    /// Its id, unique in the graph (`t3`: the task at index 3; `o17`: the object with
    /// tag 17; other prefixes for derived nodes).
    pub id: String,
    /// What it stands for.
    pub kind: NodeKind,
    /// Its label, lines separated by `\n`.
    pub label: String,
    /// For a task: its pid (root pid namespace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i64>,
    /// For a task of a thread group drawn as one ([`Graph::thread_groups`]): its id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_group: Option<String>,
    /// The tag of the object it stands for, where one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<i64>,
    /// For a group: how many objects it stands for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
}

/// An edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edge {
    /// Id of the node it starts at.
    pub from: String,
    /// Id of the node it ends at.
    pub to: String,
    /// What it stands for.
    pub kind: EdgeKind,
    /// Its label (`fd 0-2`), empty for none.
    pub label: String,
}

/// The tasks of a thread group of more than one task, drawn together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThreadGroup {
    /// Its id (`tg` and the thread group id).
    pub id: String,
    /// Its label.
    pub label: String,
    /// Ids of its task nodes, leader first.
    pub members: Vec<String>,
}

/// The graph of an image.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Graph {
    /// The image's revision id.
    pub revision: String,
    /// The image's architecture.
    pub arch: String,
    /// False when the image could not be read to its end: the graph is of what was read.
    pub complete: bool,
    /// Why the image could not be read to its end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_error: Option<String>,
    /// The message of the image's error record (a failed checkpoint).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_error: Option<String>,
    /// The nodes: tasks in tree order, then objects in the order tasks reach them.
    pub nodes: Vec<Node>,
    /// The edges, in the order they were found.
    pub edges: Vec<Edge>,
    /// Thread groups of more than one task.
    pub thread_groups: Vec<ThreadGroup>,
}

/// What to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphOptions {
    /// Only this task and its descendants.
    pub pid: Option<i64>,
    /// Only this many generations below the first tasks drawn (0: those alone).
    pub depth: Option<usize>,
    /// The kinds of objects to draw.
    pub kinds: BTreeSet<Kind>,
    /// A holder's files, pipes and sockets that nothing else holds are drawn as one
    /// node when there are more of them than this; `None`: 16 when the graph draws up
    /// to 32 tasks, 3 beyond (see `schemas/graph.md`).
    pub group_over: Option<usize>,
}

/// Up to this many tasks drawn, a holder's private objects are grouped above
/// [`GROUP_OVER_FEW_TASKS`]; beyond, above [`GROUP_OVER_MANY_TASKS`].
pub const AUTO_GROUP_TASKS: usize = 32;
/// See [`AUTO_GROUP_TASKS`].
pub const GROUP_OVER_FEW_TASKS: usize = 16;
/// See [`AUTO_GROUP_TASKS`].
pub const GROUP_OVER_MANY_TASKS: usize = 3;

impl Default for GraphOptions {
    fn default() -> Self {
        GraphOptions {
            pid: None,
            depth: None,
            kinds: Kind::ALL.into_iter().collect(),
            group_over: None,
        }
    }
}

impl Graph {
    /// The graph of `model`, an image of `format`.
    pub fn of_model(
        model: &ImageModel,
        format: &Format,
        options: &GraphOptions,
    ) -> Result<Graph, Error> {
        build::graph(model, format, options)
    }

    /// The node with `id`.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Its nodes of `kind`.
    pub fn count(&self, kind: NodeKind) -> usize {
        self.nodes.iter().filter(|n| n.kind == kind).count()
    }

    /// A one-line description: revision, arch, counts, and whether it is complete.
    pub fn title(&self) -> String {
        let tasks = self.count(NodeKind::Task);
        let mut t = format!(
            "image of {} on {}: {}, {}",
            self.revision,
            self.arch,
            crate::text::plural(tasks, "task"),
            crate::text::plural(self.nodes.len() - tasks, "object")
        );
        if let Some(e) = &self.checkpoint_error {
            t.push_str(&format!("; failed checkpoint: {e}"));
        }
        if !self.complete {
            t = format!("INCOMPLETE {t}");
            if let Some(e) = &self.read_error {
                t.push_str(&format!(" (read up to: {e})"));
            }
        }
        t
    }
}

/// Reads the image `reader` is at in one pass (page contents skipped) and makes its
/// graph. An image cut short or corrupt gives the graph of what was read, not
/// [`Graph::complete`], with the error that stopped the reading.
pub fn read_graph<R: Input>(
    mut reader: Reader<R>,
    options: &GraphOptions,
) -> Result<(Graph, Option<ckpt_format::Error>), Error> {
    let format = Format::shared(reader.format().schema, reader.format().arch);
    let mut builder = ModelBuilder::new(format, false);
    let mut failure = None;
    loop {
        match reader.next_record() {
            Ok(Some(rec)) => {
                if let Err(e) = builder.add(&mut reader, &rec) {
                    failure = Some(e);
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let model = builder.finish();
    let mut graph = Graph::of_model(&model, format, options)?;
    if let Some(e) = &failure {
        graph.complete = false;
        graph.read_error = Some(e.to_string());
    }
    Ok((graph, failure))
}
