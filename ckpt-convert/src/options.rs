//! Options of a conversion.

use std::path::PathBuf;

use crate::KernelVersion;
use crate::config::GivenConfig;

/// Directories for the FS objects a conversion inserts: one for every task, and
/// per-task ones by pid (`--cwd PATH`, `--cwd PID=PATH`).
#[derive(Debug, Clone, Default)]
pub struct TaskPaths {
    /// For every task without its own.
    pub all: Option<String>,
    /// Per task, by pid in the root pid namespace of the image.
    pub by_pid: Vec<(i64, String)>,
}

impl TaskPaths {
    /// The same path for every task.
    pub fn all(path: &str) -> TaskPaths {
        TaskPaths {
            all: Some(path.to_string()),
            by_pid: vec![],
        }
    }

    /// Adds `PATH` (every task) or `PID=PATH` (one task).
    pub fn add(&mut self, arg: &str) -> Result<(), String> {
        match arg.split_once('=') {
            Some((pid, path)) if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) => {
                let pid: i64 = pid.parse().map_err(|_| format!("bad pid in {arg}"))?;
                if path.is_empty() {
                    return Err(format!("{arg}: no path after ="));
                }
                self.by_pid.push((pid, path.to_string()));
            }
            _ => {
                if arg.is_empty() {
                    return Err("an empty path".into());
                }
                self.all = Some(arg.to_string());
            }
        }
        Ok(())
    }

    /// The path for the task with `pid`.
    pub fn for_pid(&self, pid: i64) -> Option<&str> {
        self.by_pid
            .iter()
            .rev()
            .find(|(p, _)| *p == pid)
            .map(|(_, s)| s.as_str())
            .or(self.all.as_deref())
    }
}

/// Options of a conversion.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Convert even when non-default data is dropped.
    pub allow_lossy: bool,
    /// The kernel the target header names (default: the target revision's most likely one).
    pub kernel: Option<KernelVersion>,
    /// The target kernel's config: it selects the `ckpt_const` variant (x86_64's
    /// AT_VECTOR_SIZE with or without CONFIG_IA32_EMULATION) and decides, by the rules of
    /// [`crate::config::rules`], the records whose kernel option the target lacks.
    /// Without it the common variant (IA32_EMULATION=y) is assumed and no option is
    /// checked.
    pub target_config: Option<GivenConfig>,
    /// The source kernel's config (`--source-config`, or the image's annotation): what
    /// the source's config-dependent facts are said to be; where it contradicts the
    /// image, the image wins and the summary says so.
    pub source_config: Option<GivenConfig>,
    /// The working directories for the FS objects a target needs and the source lacks.
    pub cwd: TaskPaths,
    /// The root directories for those FS objects.
    pub root: TaskPaths,
    /// The target CPU's FPU facts (`--target-cpu`), when stated: x86's HEADER_ARCH
    /// becomes the target's and every task's FPU state is put in its save format and
    /// size ([`crate::rewrite`]'s cpu_state). Without it both are copied unchanged.
    pub target_cpu: Option<crate::check::CpuFacts>,
    /// Where to spill a task's objects while its records are reordered (pre-v19 <->
    /// v19); the system's temporary directory when not given.
    pub spill_dir: Option<PathBuf>,
    /// Convert past record-level refusals (sockets, pending signals): such a record is
    /// mapped by names and reported as a loss ("(refused)"). For comparing images (`ckpt
    /// diff`), never for images to restart.
    pub best_effort: bool,
    /// Convert a failed checkpoint (an image that ends in an ERROR record and its
    /// message); refused otherwise, since no kernel restarts it.
    pub allow_incomplete: bool,
    /// The target's architecture when it is not the source's (`--to-arch`): x86_32
    /// images onto x86_64 kernels as 32-bit tasks, and back ([`crate::steps::X86_COMPAT`]).
    pub target_arch: Option<ckpt_format::Arch>,
    /// Where the target kernel maps the tasks' vDSO (`--vdso ADDR`) in an architecture
    /// change: MM_CONTEXT, the vDSO's VMA, THREAD.sysenter_return, the auxv entries and
    /// registers pointing into it move together.
    pub vdso: Option<u64>,
}
