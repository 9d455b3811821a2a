//! The plan of a conversion: which rewrites of the crossed steps it applies, in which
//! direction, and the target kernel's version and constants.

use ckpt_format::{Format, Schema};

use crate::error::ConvertError;
use crate::options::Options;
use crate::steps::{self, Direction, Rewrite, Step};

/// Which way a feature changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Both sides have it, or neither.
    Same,
    /// The target has it, the source not.
    Add,
    /// The source has it, the target not.
    Remove,
}

impl Change {
    pub(crate) fn of(d: Option<Direction>) -> Change {
        match d {
            Some(Direction::Up) => Change::Add,
            Some(Direction::Down) => Change::Remove,
            None => Change::Same,
        }
    }
}

/// What a conversion from one format to another has to do beyond names.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Kernel version for the target header.
    pub kernel: (u16, u16, u16),
    /// The target kernel's `ckpt_const` values.
    pub constants: Vec<(String, u64)>,
    /// The config variant the constants are those of (`CONFIG_IA32_EMULATION=n`), and
    /// which config chose it (`target config F`); none where the constants do
    /// not depend on the config.
    pub constants_variant: Option<(String, String)>,
    /// The rewrites of the crossed steps, in chain order.
    pub rewrites: Vec<(Rewrite, Direction, &'static Step)>,
    pub(crate) lsm_container: Change,
    pub(crate) vpids_record: Change,
    pub(crate) fs_object: Change,
    pub(crate) auxv_units: Change,
    pub(crate) pids_objects: Change,
    pub(crate) task_order: Change,
    pub(crate) s390_thread: Change,
    pub(crate) pids_offset: i64,
    /// The architecture change, and its direction (up: 32 → 64 bit).
    pub(crate) arch_change: Option<(&'static steps::ArchStep, Direction)>,
    pub(crate) netns_bit: (Option<bool>, Option<bool>),
}

impl Plan {
    /// The direction in which `r` is crossed, if it is.
    pub fn crossed(&self, r: Rewrite) -> Option<Direction> {
        self.rewrites.iter().find(|x| x.0 == r).map(|x| x.1)
    }

    /// The label of the step that holds `r` ("c97c03d -> 67cfee9").
    pub fn step_of(&self, r: Rewrite) -> String {
        self.rewrites
            .iter()
            .find(|x| x.0 == r)
            .map_or_else(String::new, |x| x.2.label())
    }
}

/// Revisions from `from` to `to`, in order.
pub fn path(from: &Schema, to: &Schema) -> Vec<String> {
    let mut v = vec![from.id.clone()];
    for (s, d) in steps::between(from, to) {
        let next = match d {
            Direction::Up => s.newer,
            Direction::Down => s.older,
        };
        // By name: the revisions in between are not parsed.
        let entry = ckpt_format::Registry::get()
            .find_entry(next)
            .expect("step names a known revision");
        v.push(entry.id().to_string());
    }
    v
}

/// The plan of a conversion, or why it is refused.
pub(crate) fn plan(
    from: &'static Format,
    to: &'static Format,
    opts: &Options,
) -> Result<Plan, ConvertError> {
    let (a, b) = (from.schema, to.schema);
    let mut rewrites = Vec::new();
    let mut vpids = 0i32;
    for (step, dir) in steps::between(a, b) {
        for c in step.changes {
            rewrites.push((c.rewrite, dir, step));
            if c.rewrite == Rewrite::VpidsRecord {
                // c83f38b adds the record, b0d8304 removes it.
                let adds = step.newer == "c83f38b";
                vpids += if adds == (dir == Direction::Up) {
                    1
                } else {
                    -1
                };
            }
        }
    }
    let kernel = match &opts.kernel {
        Some(k) => {
            if !k.is_full() {
                return Err(ConvertError::Refused(format!(
                    "--target-kernel {k}: the header holds x.y.z and restart compares it exactly; give all three numbers"
                )));
            }
            k.header_triple().ok_or_else(|| {
                ConvertError::Refused(format!("kernel {k} does not fit the header"))
            })?
        }
        None => {
            let k = b
                .kernels
                .first()
                .map(|k| k.value.clone())
                .unwrap_or_default();
            crate::KernelVersion::from_str_lossy(&k)
        }
    };
    let kname = format!("{}.{}.{}", kernel.0, kernel.1, kernel.2);
    let config = opts
        .target_config
        .as_ref()
        .and_then(|g| g.config.constants_variant());
    let arch_change = if from.arch == to.arch {
        None
    } else {
        steps::arch_step(from.arch, to.arch)
    };
    if let Some((_, Direction::Up)) = arch_change {
        // v20 25/96: 32-bit tasks on x86_64 came with v19-rc3.
        if b.ordinal < 6 {
            return Err(ConvertError::Refused(format!(
                "revision {}'s {} kernel restarts no 32-bit tasks (their support came with \
                 v19-rc3, c97c03d): give --to-rev v19-rc3 or later",
                b.id, to.arch
            )));
        }
        if let Some(g) = &opts.target_config
            && !g.config.enabled("CONFIG_IA32_EMULATION")
        {
            return Err(ConvertError::Refused(format!(
                "the target config {} has CONFIG_IA32_EMULATION {}: such a kernel restarts \
                 no 32-bit task (it refuses USER32 segments and TIF_IA32 needs a 32-bit \
                 restart), and every task of an {} image is one",
                g.origin,
                g.config.shown("CONFIG_IA32_EMULATION"),
                from.arch
            )));
        }
    }
    let kc = crate::kernel::constants_for(b, kernel, to.arch, config).ok_or_else(|| {
            let known: Vec<&str> = b.kernels.iter().map(|k| k.value.as_str()).collect();
            ConvertError::Refused(format!(
                "no ckpt_const values are known for kernel {kname} on {} with revision {} (it is known for {})",
                to.arch,
                b.id,
                known.join(", ")
            ))
        })?;
    let constants_variant = kc.config.as_ref().map(|(o, v)| {
        let by = match &opts.target_config {
            Some(g) if config == Some((o.as_str(), v.as_str())) => {
                format!("target config {}", g.origin)
            }
            Some(g) => format!(
                "target config {}, which does not set {o}: the default",
                g.origin
            ),
            None => "target config not given: the default".to_string(),
        };
        (format!("{o}={v}"), by)
    });
    let netns = |s: &Schema| {
        if s.constant("CHECKPOINT_NETNS", from.arch).is_some() {
            Some(true)
        } else if s.constant("CHECKPOINT_NONETNS", from.arch).is_some() {
            Some(false)
        } else {
            None
        }
    };
    let find = |r: Rewrite| rewrites.iter().find(|x| x.0 == r).map(|x| x.1);
    Ok(Plan {
        kernel,
        constants: kc.values.clone(),
        constants_variant,
        lsm_container: Change::of(find(Rewrite::LsmContainer)),
        vpids_record: match vpids {
            1 => Change::Add,
            -1 => Change::Remove,
            _ => Change::Same,
        },
        fs_object: Change::of(find(Rewrite::FsObject)),
        auxv_units: Change::of(find(Rewrite::AuxvUnits)),
        pids_objects: Change::of(find(Rewrite::PidsObjects)),
        task_order: Change::of(find(Rewrite::TaskOrder)),
        s390_thread: if from.arch == ckpt_format::Arch::S390x {
            Change::of(find(Rewrite::S390Thread))
        } else {
            Change::Same
        },
        pids_offset: match find(Rewrite::PidsOffset) {
            Some(Direction::Up) => 1,
            Some(Direction::Down) => -1,
            None => 0,
        },
        netns_bit: (netns(a), netns(b)),
        arch_change,
        rewrites,
    })
}
