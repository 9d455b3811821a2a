//! `ckpt sample`: writes a builder image of any revision and architecture.

use std::path::PathBuf;

use anyhow::{Context, Result};
use ckpt_format::build::{BuildOptions, Omit, build};
use ckpt_format::{Arch, Format, Registry};
use clap::builder::PossibleValuesParser;

use crate::io::Output;

const AFTER: &str = "Examples:
  ckpt sample --rev v23-rc2 --arch x86_64 -o sample.ckpt
  ckpt sample --rev 1fd8e6e --arch s390x --tasks 8 --memory 1M --seed 42 -o - | ckpt info -

The image is deterministic: the same options give the same bytes in every version of ckpt.

Exit status:
  0  the image was written
  2  usage error (unknown revision, architecture not in that revision)
  3  I/O error";

/// The kinds `--omit` takes.
const OMIT_KINDS: [&str; 8] = [
    "files", "sockets", "ipc", "signals", "zombies", "threads", "tty", "pidns",
];

/// The kinds `--with` takes.
const WITH_KINDS: [&str; 5] = [
    "netns",
    "hugetlb",
    "sem-undo",
    "robust-futex",
    "compat-vdso",
];

/// Build a realistic sample image (process tree, files, sockets, memory, signals, IPC).
#[derive(clap::Args)]
#[command(after_help = AFTER)]
pub struct Opts {
    /// Revision: id (v23-rc2), user-cr commit (1fd8e6e) or alias.
    #[arg(long, value_parser = crate::values::Revision, hide_possible_values = true)]
    rev: String,
    /// Architecture: x86_32, x86_64, s390x, arm, ppc, ppc64.
    #[arg(long, value_parser = crate::values::ArchName, hide_possible_values = true)]
    arch: Arch,
    /// Number of tasks.
    #[arg(long, default_value_t = 3)]
    tasks: u32,
    /// Total size of page contents (binary units: 64K, 1M, 4G).
    #[arg(long, default_value = "64K", value_parser = super::parse_size)]
    memory: u64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Leave out kinds of objects (comma-separated: files, sockets, ipc, signals, zombies, threads, tty, pidns).
    #[arg(long, value_delimiter = ',', value_parser = PossibleValuesParser::new(OMIT_KINDS), hide_possible_values = true)]
    omit: Vec<String>,
    /// Add objects whose record order is inferred (comma-separated: netns, hugetlb,
    /// sem-undo) and state (robust-futex: every task's robust futex list; compat-vdso:
    /// x86_32 tasks with the vDSO at the fixed COMPAT_VDSO page 0xffffe000, which has no
    /// VMA), where the revision has them.
    #[arg(long, value_delimiter = ',', value_parser = PossibleValuesParser::new(WITH_KINDS), hide_possible_values = true)]
    with: Vec<String>,
    /// Make a failed checkpoint: an ERROR record after this many tasks, no TAIL.
    #[arg(long)]
    error_after: Option<u32>,
    /// Output file, or - for standard output.
    #[arg(short, long)]
    output: PathBuf,
    /// Write the image to a terminal too (refused otherwise).
    #[arg(long)]
    force: bool,
}

impl Opts {
    /// Runs the subcommand.
    pub fn run(self) -> Result<u8> {
        let schema = Registry::get()
            .find(&self.rev)
            .map_err(|e| super::usage(e.to_string()))?;
        if !schema.has_arch(self.arch) {
            return Err(super::usage(format!(
                "revision {} has no {} (it has {})",
                schema.id,
                self.arch,
                schema
                    .arches
                    .iter()
                    .map(|(a, _)| a.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if self.tasks == 0 {
            return Err(super::usage("--tasks must be at least 1".into()));
        }
        let mut omit = Omit::default();
        for o in &self.omit {
            match o.as_str() {
                "files" => omit.files = true,
                "sockets" => omit.sockets = true,
                "ipc" => omit.ipc = true,
                "signals" => omit.signals = true,
                "zombies" => omit.zombies = true,
                "threads" => omit.threads = true,
                "tty" => omit.tty = true,
                "pidns" => omit.pid_namespaces = true,
                other => return Err(super::usage(format!("--omit: unknown kind `{other}`"))),
            }
        }
        let (mut netns, mut hugetlb, mut sem_undo, mut futex) = (false, false, false, false);
        let mut compat_vdso = false;
        for w in &self.with {
            match w.as_str() {
                "netns" => netns = true,
                "hugetlb" => hugetlb = true,
                "sem-undo" => sem_undo = true,
                "robust-futex" => futex = true,
                "compat-vdso" => compat_vdso = true,
                other => return Err(super::usage(format!("--with: unknown kind `{other}`"))),
            }
        }
        let opts = BuildOptions {
            with_netns: netns,
            with_hugetlb: hugetlb,
            with_sem_undo: sem_undo,
            with_robust_futex: futex,
            with_compat_vdso: compat_vdso,
            tasks: self.tasks,
            memory: self.memory,
            seed: self.seed,
            omit,
            error_after_tasks: self.error_after,
        };
        let mut out = Output::create_image(&self.output, self.force)?;
        build(&Format::new(schema, self.arch), &opts, &mut out)
            .with_context(|| format!("building {}", self.output.display()))?;
        out.commit()?;
        Ok(0)
    }
}
