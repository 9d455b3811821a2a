//! Views of a Linux-CR checkpoint image, built on [`ckpt_format::model`].
//!
//! * [`graph`]: the graph of an image's tasks and what they hold and share (files,
//!   pipes, sockets, address spaces, file tables, SysV IPC objects, namespaces,
//!   credentials), read in one pass ([`graph::read_graph`]) or from a model
//!   ([`graph::Graph::of_model`]), with filters ([`graph::GraphOptions`]);
//! * [`dot`], [`json`] and [`svg`]: its renderings, as DOT (Graphviz), as JSON
//!   (`schemas/json/graph.schema.json`) and as SVG laid out here (no external program:
//!   the layered layout of the `dagre` crate, see `schemas/graph.md`);
//! * [`report`]: the report of an image as one self-contained HTML page (summary,
//!   graph, tasks, statistics, check and convert for a target), built from one JSON
//!   document (`schemas/json/report.schema.json`).
//! * [`fuse`] (feature `fuse`, on by default): the image as a read-only FUSE file system
//!   (`ckpt mount`).
//!
//! ```
//! use ckpt_format::build::{BuildOptions, build};
//! use ckpt_format::{Arch, Format, Reader, Registry};
//! use ckpt_view::graph::{GraphOptions, read_graph};
//!
//! let schema = Registry::get().find("v23-rc2").unwrap();
//! let mut image = Vec::new();
//! build(&Format::new(schema, Arch::X86_64), &BuildOptions::default(), &mut image).unwrap();
//! let reader = Reader::new(&image[..], Format::new(schema, Arch::X86_64));
//! let (graph, error) = read_graph(reader, &GraphOptions::default()).unwrap();
//! assert!(error.is_none() && graph.complete);
//! let mut dot = Vec::new();
//! ckpt_view::dot::write(&graph, &mut dot).unwrap();
//! assert!(dot.starts_with(b"digraph"));
//! ```

pub mod dot;
#[cfg(feature = "fuse")]
pub mod fuse;
pub mod graph;
pub mod json;
pub mod report;
pub mod svg;

mod text;

/// What can go wrong building a view.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--pid` names no task of the image.
    #[error("no task with pid {pid} in the image (its pids: {pids})")]
    NoSuchPid {
        /// The pid asked for.
        pid: i64,
        /// The pids of the image, comma-separated.
        pids: String,
    },
    /// An object kind that is not one of [`graph::Kind::ALL`].
    #[error("unknown kind `{0}` (kinds: files, pipes, sockets, mm, ipc, ns, creds)")]
    UnknownKind(String),
    /// Writing the output failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
