//! `ckpt graph`: the graph of an image's tasks and what they hold and share, as DOT,
//! SVG or JSON (ckpt-view).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use ckpt_view::graph::{GraphOptions, Kind, read_graph};
use clap::builder::PossibleValuesParser;

use crate::io::{Output, open_image};

const AFTER: &str = "Examples:
  ckpt graph image.ckpt | dot -Tpng > tree.png      # DOT (Graphviz reads it)
  ckpt graph --format svg -o tree.svg image.ckpt    # laid out by ckpt, no Graphviz needed
  ckpt graph --format json --pid 42 --depth 1 image.ckpt
  ckpt graph --kinds pipes,sockets image.ckpt

Nodes: tasks (threads inside their thread group), open files, pipes (one node for both
ends), unix socket pairs (one node), other sockets, address spaces, file tables and fs
shared by several tasks, SysV IPC objects, namespaces (pid, uts, ipc, net), credentials
shared by several tasks. Edges: parent -> child, holder -> object (labelled with the fd
numbers), pipe writer -> pipe -> reader, socket <-> peer. A task's files, pipes and
sockets that nothing else holds are one node when there are more than --group-over.

An image cut short gives the graph of what was read, marked INCOMPLETE (DOT comment and
label, SVG title, JSON \"complete\": false), and exits 1.

Exit status:
  0  the graph was written
  1  the image could not be read to its end (the graph of what was read was written)
  2  usage error (unknown kind, no task with that pid)
  3  I/O error";

/// The kinds `--kinds` takes.
const KINDS: [&str; 7] = ["files", "pipes", "sockets", "mm", "ipc", "ns", "creds"];

/// Draw the graph of an image: tasks and the files, pipes, sockets, memory, IPC
/// objects, namespaces and credentials they hold and share.
#[derive(clap::Args)]
#[command(after_help = AFTER)]
pub struct Opts {
    /// The image, or - for standard input.
    image: String,
    /// Revision of the image (id, user-cr commit or alias) instead of detecting it.
    #[arg(long, value_parser = crate::values::Revision, hide_possible_values = true)]
    rev: Option<String>,
    /// Output format.
    #[arg(long, default_value = "dot", value_parser = PossibleValuesParser::new(["dot", "svg", "json"]))]
    format: String,
    /// Output file (written whole, then renamed into place), or - for standard output.
    #[arg(short, long, default_value = "-")]
    output: PathBuf,
    /// Only the task with this pid and its descendants.
    #[arg(long, value_name = "PID")]
    pid: Option<i64>,
    /// Only this many generations of children (0: the first tasks alone).
    #[arg(long, value_name = "N")]
    depth: Option<usize>,
    /// Kinds of objects to draw (comma-separated: files, pipes, sockets, mm, ipc, ns,
    /// creds; default all). Tasks are always drawn.
    #[arg(long, value_delimiter = ',', value_parser = PossibleValuesParser::new(KINDS), hide_possible_values = true)]
    kinds: Vec<String>,
    /// Draw a holder's files, pipes and sockets that nothing else holds as one node
    /// above this many (default: 16 up to 32 tasks drawn, 3 beyond).
    #[arg(long, value_name = "N")]
    group_over: Option<usize>,
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        let mut options = GraphOptions {
            pid: self.pid,
            depth: self.depth,
            group_over: self.group_over,
            ..GraphOptions::default()
        };
        if !self.kinds.is_empty() {
            options.kinds = self
                .kinds
                .iter()
                .map(|k| Kind::parse(k))
                .collect::<Result<_, _>>()
                .map_err(|e| super::usage(format!("--kinds: {e}")))?;
        }
        crate::io::refuse_same_file(&self.image, &self.output)?;
        let (r, det) = open_image(&self.image, self.rev.as_deref())?;
        let (graph, failure) = read_graph(r, &options).map_err(|e| match e {
            ckpt_view::Error::NoSuchPid { .. } => super::usage(format!("--pid: {e}")),
            e => anyhow::Error::new(e).context(crate::io::InFile::new(&self.image)),
        })?;
        let mut out = Output::create(&self.output)?;
        match self.format.as_str() {
            "svg" => ckpt_view::svg::write(&graph, &mut out),
            "json" => ckpt_view::json::write(&graph, &mut out),
            _ => ckpt_view::dot::write(&graph, &mut out),
        }
        .with_context(|| format!("writing the graph of {}", self.image))?;
        out.flush()?;
        out.commit()?;
        match failure {
            None => Ok(0),
            Some(e) => Err(crate::io::with_detection(e.into(), &det, &self.image)),
        }
    }
}
