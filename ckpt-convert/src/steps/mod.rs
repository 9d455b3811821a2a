//! The migration steps: one module per adjacent pair of revisions, each usable in both
//! directions, with its changes as data.
//!
//! A step has two parts:
//!
//! * the **mechanical** part, derived from the two schemas by [`crate::diff::diff`]:
//!   record, object, arch and other enum values renumbered (matched by name), struct
//!   members added, removed, moved, resized or retyped, constants changed. [`classify`]
//!   says how the converter carries each of them (lossless, defaulted, lossy);
//! * the **hand-written** part, [`Step::changes`]: what names cannot carry (records
//!   inserted or removed, values whose meaning changed, records reordered, refusals), each
//!   with how it is carried in each direction, its confidence and why, and the defaults of
//!   members the newer revision adds when 0 is not the right value ([`Step::defaults`]).
//!
//! A conversion between two revisions is the chain of steps between them
//! ([`between`]): the converter applies every crossed step's rewrites, in the order of the
//! chain, in one streaming pass. Steps are arch-generic: an arch that an intermediate
//! revision lacks (ARM exists only at f678773 and 5c3471a) is carried through it, because
//! every change is defined by names, not by the arch's presence.
//!
//! `ckpt schema diff` and the conversion ledger are built on this data: the diff marks
//! every change with its [`Carry`], and ledger entries of hand-written rewrites name
//! their step.

use ckpt_format::{Arch, Registry, Schema};
use serde::Serialize;

use crate::diff::{MemberChange, SchemaDiff};

mod s01_0abe2fe_a53775e;
mod s02_a53775e_d55d4c8;
mod s03_d55d4c8_db94f5e;
mod s04_db94f5e_76fcfe5;
mod s05_76fcfe5_c97c03d;
mod s06_c97c03d_67cfee9;
mod s07_67cfee9_c83f38b;
mod s08_c83f38b_78d18cf;
mod s09_78d18cf_b0d8304;
mod s10_b0d8304_82822cf;
mod s11_82822cf_f678773;
mod s12_f678773_f0fdd38;
mod s13_f0fdd38_a272e68;
mod s14_a272e68_b6cdf01;
mod s15_b6cdf01_1fd8e6e;
mod s16_1fd8e6e_5c3471a;
mod x86_compat;

pub use x86_compat::X86_COMPAT;

/// Every step, oldest first: `STEPS[k]` goes from ordinal k + 1 to k + 2.
pub static STEPS: [&Step; 16] = [
    &s01_0abe2fe_a53775e::STEP,
    &s02_a53775e_d55d4c8::STEP,
    &s03_d55d4c8_db94f5e::STEP,
    &s04_db94f5e_76fcfe5::STEP,
    &s05_76fcfe5_c97c03d::STEP,
    &s06_c97c03d_67cfee9::STEP,
    &s07_67cfee9_c83f38b::STEP,
    &s08_c83f38b_78d18cf::STEP,
    &s09_78d18cf_b0d8304::STEP,
    &s10_b0d8304_82822cf::STEP,
    &s11_82822cf_f678773::STEP,
    &s12_f678773_f0fdd38::STEP,
    &s13_f0fdd38_a272e68::STEP,
    &s14_a272e68_b6cdf01::STEP,
    &s15_b6cdf01_1fd8e6e::STEP,
    &s16_1fd8e6e_5c3471a::STEP,
];

/// How a conversion carries one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Carry {
    /// Nothing is lost or made up (renumbering, moves, widening, records that only one
    /// side can hold and the image cannot contain).
    Lossless,
    /// The target needs a value the source does not hold; the documented default is
    /// written and the ledger says so.
    Defaulted,
    /// The target needs a value only the user can give (`--cwd`, `--root`); without it
    /// the conversion stops and names the option.
    Supplied,
    /// Values the target cannot hold are dropped: refused unless `--allow-lossy` when any
    /// of them is not the default.
    Lossy,
    /// Refused when the image holds such records (the reason says which).
    Refused,
}

/// How sure we are of a change or of a default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Read in the headers or kernel code.
    High,
    /// Inferred from userspace code, list patches or commit messages.
    Medium,
    /// Inferred from indirect evidence; no source states it.
    Low,
}

/// A hand-written rewrite the converter implements (see [`crate::rewrite`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rewrite {
    /// The container section gains (or loses) the LSM name BUFFER and LSM_INFO.
    LsmContainer,
    /// Socket buffers and INET sockets are rewritten (TCP state): refused when present.
    SocketBuffers,
    /// A task's THREAD, RESTART_BLOCK and CPU records move before (or after) its objects.
    TaskOrder,
    /// Every task gets (or loses) an FS object with its working and root directories.
    FsObject,
    /// The saved auxv is stored as native longs (or as u64 entries).
    AuxvUnits,
    /// s390x tasks gain (or lose) a THREAD record with `thread_info_flags`.
    S390Thread,
    /// The VPIDS record after the tree appears (or disappears).
    VpidsRecord,
    /// The header's uflags bit 0x2 changes meaning ("do not dump the net namespace").
    NetnsFlagMeaning,
    /// The meaning of uflags 0x2 flips again ("dump the net namespace").
    NetnsFlagFlip,
    /// Unix peer credentials: uid and gid, or a reference to a CRED object.
    UnixPeerCredentials,
    /// Sockets say whether their queues follow.
    SocketHasBuffers,
    /// Pids become objects, with a PIDS section before the tree and tags in the tree.
    PidsObjects,
    /// `pids.offset` is the first pid's tag instead of one less.
    PidsOffset,
}

/// One hand-written change of a step.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// The rewrite that implements it.
    pub rewrite: Rewrite,
    /// The records or members it concerns.
    pub subject: &'static str,
    /// How an upgrade (older to newer) carries it.
    pub up: Carry,
    /// How a downgrade carries it.
    pub down: Carry,
    /// How sure we are of the change itself.
    pub confidence: Confidence,
    /// Why, from the headers and the linux-cr patches.
    pub why: &'static str,
}

/// A member the newer revision adds whose default is not 0, or whose 0 needs saying.
#[derive(Debug, Clone, Serialize)]
pub struct Default {
    /// C struct tag.
    pub struct_name: &'static str,
    /// Member path.
    pub member: &'static str,
    /// The value written when the source lacks the member.
    pub value: u64,
    /// The value as C would write it (`022` for a umask).
    pub shown: &'static str,
    /// How sure we are that a kernel of the newer revision would have written it.
    pub confidence: Confidence,
    /// Why this value.
    pub why: &'static str,
}

/// A migration step between two adjacent revisions.
#[derive(Debug, Serialize)]
pub struct Step {
    /// The older revision's commit (abbreviated, as in the schema file names).
    pub older: &'static str,
    /// The newer revision's commit.
    pub newer: &'static str,
    /// What the step changes beyond names.
    pub changes: &'static [Change],
    /// Defaults of members the newer revision adds.
    pub defaults: &'static [Default],
    /// Members renamed with the same meaning.
    pub renames: &'static [Rename],
}

/// A member renamed between the two revisions of a step, with the same meaning.
#[derive(Debug, Clone, Serialize)]
pub struct Rename {
    /// C struct tag.
    pub struct_name: &'static str,
    /// Name in the older revision.
    pub older: &'static str,
    /// Name in the newer revision.
    pub newer: &'static str,
}

/// A hand-written rule of an architecture change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArchRewrite {
    /// The header's arch id and constants are the target kernel's.
    Header,
    /// Every record laid out in the target's ABI.
    Layouts,
    /// Page-address arrays in the target's word size.
    PageWords,
    /// Page chunks split (or joined) to the target's chunk size.
    PageChunks,
    /// Every task marked as a 32-bit task (TIF_IA32), or the mark taken off.
    Ia32Flag,
    /// Segment codes kept (USER32), refused where they have no meaning on the target.
    Segments,
    /// Registers carried value for value.
    Registers,
    /// The robust futex list moved to (or from) the compat fields.
    RobustFutex,
    /// The saved auxv in the words the target kernel stores it in.
    SavedAuxv,
    /// The vDSO, kept or moved (`--vdso`).
    Vdso,
    /// The memory of every task below the target's TASK_SIZE.
    TaskSize,
    /// A nanosleep restart block in its native or compat form.
    RestartBlock,
    /// The CPU's FPU facts and state.
    CpuFeatures,
}

/// One hand-written rule of an architecture change, as [`Change`] is of a step.
#[derive(Debug, Clone, Serialize)]
pub struct ArchRule {
    /// What the converter does.
    pub rule: ArchRewrite,
    /// The records or members it concerns.
    pub subject: &'static str,
    /// How narrow → wide (x86_32 → x86_64) carries it.
    pub up: Carry,
    /// How wide → narrow carries it.
    pub down: Carry,
    /// How sure we are of the rule.
    pub confidence: Confidence,
    /// Where the fact comes from (kernel file, patch, header).
    pub source: &'static str,
    /// Why.
    pub why: &'static str,
}

/// A change of architecture between a 32-bit and a 64-bit kernel of one family, whose
/// 64-bit kernel runs the 32-bit tasks.
#[derive(Debug)]
pub struct ArchStep {
    /// The 32-bit architecture.
    pub narrow: Arch,
    /// The 64-bit one.
    pub wide: Arch,
    /// The bit of thread_info flags that marks a 32-bit task on the 64-bit kernel.
    pub tif_ia32_bit: u32,
    /// The most pages a page chunk holds: (narrow, wide).
    pub chunk_pages: (u64, u64),
    /// The narrow kernel's TASK_SIZE: no task memory at or above it.
    pub narrow_task_size: u64,
    /// The wide kernel's TASK_SIZE for a 32-bit task.
    pub wide_compat_task_size: u64,
    /// The rules.
    pub rules: &'static [ArchRule],
}

impl ArchStep {
    /// How this change carries `rule` in `dir` (up: narrow → wide).
    pub fn carry(rule: &ArchRule, dir: Direction) -> Carry {
        match dir {
            Direction::Up => rule.up,
            Direction::Down => rule.down,
        }
    }

    /// The rule `r`.
    pub fn rule(&self, r: ArchRewrite) -> &'static ArchRule {
        self.rules
            .iter()
            .find(|x| x.rule == r)
            .expect("every arch rewrite has its rule")
    }
}

/// The architecture change from `from` to `to`, and its direction (up: 32 → 64 bit);
/// none when no conversion between them exists.
pub fn arch_step(from: Arch, to: Arch) -> Option<(&'static ArchStep, Direction)> {
    let s = &X86_COMPAT;
    if (from, to) == (s.narrow, s.wide) {
        Some((s, Direction::Up))
    } else if (from, to) == (s.wide, s.narrow) {
        Some((s, Direction::Down))
    } else {
        None
    }
}

/// The direction in which a step is crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Older to newer.
    Up,
    /// Newer to older.
    Down,
}

impl Step {
    /// The older revision.
    pub fn older_schema(&self) -> &'static Schema {
        Registry::get()
            .find(self.older)
            .expect("step names a known revision")
    }

    /// The newer revision.
    pub fn newer_schema(&self) -> &'static Schema {
        Registry::get()
            .find(self.newer)
            .expect("step names a known revision")
    }

    /// "older -> newer", for messages and the ledger.
    pub fn label(&self) -> String {
        format!("{} -> {}", self.older, self.newer)
    }

    /// The mechanical part on `arch`: what the schemas say changed.
    pub fn mechanical(&self, arch: Arch) -> SchemaDiff {
        crate::diff::diff(self.older_schema(), self.newer_schema(), arch)
    }

    /// How this step carries `change` in `dir`.
    pub fn carry(change: &Change, dir: Direction) -> Carry {
        match dir {
            Direction::Up => change.up,
            Direction::Down => change.down,
        }
    }
}

/// The steps crossed going from `from` to `to`, in the order they are applied.
pub fn between(from: &Schema, to: &Schema) -> Vec<(&'static Step, Direction)> {
    let (a, b) = (from.ordinal as usize, to.ordinal as usize);
    if a <= b {
        STEPS[a - 1..b - 1]
            .iter()
            .map(|s| (*s, Direction::Up))
            .collect()
    } else {
        STEPS[b - 1..a - 1]
            .iter()
            .rev()
            .map(|s| (*s, Direction::Down))
            .collect()
    }
}

/// For a conversion from `from` to `to`: (struct, member in the target, member in the
/// source) for every member renamed along the way.
pub fn renames_between(from: &Schema, to: &Schema) -> Vec<(&'static str, String, String)> {
    // (struct, current name) -> name in the source, carried step by step.
    let mut map: Vec<(&'static str, String, String)> = Vec::new();
    for (step, dir) in between(from, to) {
        for r in step.renames {
            let (was, now) = match dir {
                Direction::Up => (r.older, r.newer),
                Direction::Down => (r.newer, r.older),
            };
            match map.iter_mut().find(|m| m.0 == r.struct_name && m.1 == was) {
                Some(m) => m.1 = now.to_string(),
                None => map.push((r.struct_name, now.to_string(), was.to_string())),
            }
        }
    }
    map.retain(|m| m.1 != m.2);
    map
}

/// The default of a member the target adds: (value, confidence, why), from the steps.
pub fn default_of(struct_name: &str, member: &str) -> Option<&'static Default> {
    STEPS
        .iter()
        .flat_map(|s| s.defaults.iter())
        .find(|d| d.struct_name == struct_name && d.member == member)
}

/// A change of a schema diff, with how a conversion in `dir` carries it.
#[derive(Debug, Clone, Serialize)]
pub struct Classified {
    /// What changed (`enum obj SIGHAND`, `ckpt_hdr_fs.umask`, `constant X`).
    pub subject: String,
    /// Short description (`renumbered 5 -> 6`, `added (default 0)`).
    pub change: String,
    /// How it is carried.
    pub carry: Carry,
}

/// A hand-written change of a step crossed by a conversion, with how it is carried in
/// that direction.
#[derive(Debug, Clone, Serialize)]
pub struct Crossed {
    /// The step ("older -> newer").
    pub step: String,
    /// The direction in which it is crossed.
    pub direction: Direction,
    /// How the conversion carries it.
    pub carry: Carry,
    /// The change.
    #[serde(flatten)]
    pub change: &'static Change,
}

/// The hand-written changes a conversion from `from` to `to` crosses, in chain order.
pub fn crossed(from: &Schema, to: &Schema) -> Vec<Crossed> {
    between(from, to)
        .into_iter()
        .flat_map(|(s, d)| {
            s.changes.iter().map(move |c| Crossed {
                step: s.label(),
                direction: d,
                carry: Step::carry(c, d),
                change: c,
            })
        })
        .collect()
}

/// Classifies every change of the mechanical diff for a conversion from `diff.from` to
/// `diff.to` (either may be the older).
pub fn classify(diff: &SchemaDiff) -> Vec<Classified> {
    let mut out = Vec::new();
    let (added, removed) = (Carry::Defaulted, Carry::Lossy);
    let reg = Registry::get();
    let renames = match (reg.find(&diff.from), reg.find(&diff.to)) {
        (Ok(a), Ok(b)) => renames_between(a, b),
        _ => vec![],
    };
    for e in &diff.enums {
        let (carry, what) = match (e.old, e.new) {
            (Some(a), Some(b)) => (Carry::Lossless, format!("renumbered {a} -> {b}")),
            // A value only the target has cannot be in the source; a value only the source
            // has is refused when the image uses it.
            (None, Some(b)) => (Carry::Lossless, format!("added ({b})")),
            (Some(a), None) => (Carry::Refused, format!("removed (was {a})")),
            (None, None) => continue,
        };
        out.push(Classified {
            subject: format!("enum {} {}", e.kind, e.name),
            change: what,
            carry,
        });
    }
    for s in &diff.structs {
        for m in &s.members {
            let (name, change, carry) = match m {
                MemberChange::Added { name, .. } => {
                    match renames.iter().find(|r| r.0 == s.name && &r.1 == name) {
                        Some(r) => (name, format!("renamed from {}", r.2), Carry::Lossless),
                        None => {
                            let d = default_of(&s.name, name).map_or("0", |d| d.shown);
                            (name, format!("added (default {d})"), added)
                        }
                    }
                }
                MemberChange::Removed { name, .. } => {
                    match renames.iter().find(|r| r.0 == s.name && &r.2 == name) {
                        Some(r) => (name, format!("renamed to {}", r.1), Carry::Lossless),
                        None => (name, "removed (dropped when not 0)".to_string(), removed),
                    }
                }
                MemberChange::Changed { name, old, new } => {
                    let carry = if new.1 >= old.1 {
                        Carry::Lossless
                    } else {
                        Carry::Lossy
                    };
                    let mut what = Vec::new();
                    if old.0 != new.0 {
                        what.push(format!("moved {} -> {}", old.0, new.0));
                    }
                    if old.1 != new.1 {
                        what.push(format!("resized {} -> {}", old.1, new.1));
                    }
                    if old.2 != new.2 {
                        what.push(format!("retyped {} -> {}", old.2, new.2));
                    }
                    (name, what.join(", "), carry)
                }
            };
            out.push(Classified {
                subject: format!("{}.{}", s.name, name),
                change,
                carry,
            });
        }
    }
    for c in &diff.constants {
        out.push(Classified {
            subject: format!("constant {}", c.name),
            change: {
                let show = |v: Option<i128>| v.map_or("absent".to_string(), |v| v.to_string());
                format!("{} -> {}", show(c.old), show(c.new))
            },
            // The header is rewritten with the target kernel's values.
            carry: Carry::Lossless,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_chain_every_revision_in_order() {
        let all = Registry::get().all();
        assert_eq!(all.len(), STEPS.len() + 1);
        for (k, s) in STEPS.iter().enumerate() {
            assert_eq!(s.older_schema().ordinal as usize, k + 1, "{}", s.label());
            assert_eq!(s.newer_schema().ordinal as usize, k + 2, "{}", s.label());
        }
    }

    #[test]
    fn between_lists_crossed_steps_in_order() {
        let reg = Registry::get();
        let (a, b) = (reg.find("c97c03d").unwrap(), reg.find("b0d8304").unwrap());
        let up: Vec<String> = between(a, b).iter().map(|s| s.0.newer.into()).collect();
        assert_eq!(up, ["67cfee9", "c83f38b", "78d18cf", "b0d8304"]);
        let down = between(b, a);
        assert_eq!(down.len(), 4);
        assert!(down.iter().all(|s| s.1 == Direction::Down));
        assert_eq!(down[0].0.newer, "b0d8304");
        assert!(between(a, a).is_empty());
    }

    #[test]
    fn every_rewrite_is_named_by_exactly_one_step() {
        use Rewrite::*;
        for r in [
            LsmContainer,
            SocketBuffers,
            TaskOrder,
            FsObject,
            AuxvUnits,
            S390Thread,
            VpidsRecord,
            NetnsFlagMeaning,
            NetnsFlagFlip,
            UnixPeerCredentials,
            SocketHasBuffers,
            PidsObjects,
            PidsOffset,
        ] {
            let n = STEPS
                .iter()
                .filter(|s| s.changes.iter().any(|c| c.rewrite == r))
                .count();
            // The VPIDS record appears in one step and disappears in another.
            let want = if r == VpidsRecord { 2 } else { 1 };
            assert_eq!(n, want, "{r:?}");
        }
    }

    #[test]
    fn defaults_name_members_that_the_newer_revision_adds() {
        for s in STEPS {
            for d in s.defaults {
                let diff = s.mechanical(Arch::X86_32);
                let added = diff.structs.iter().any(|c| {
                    c.name == d.struct_name
                        && c.members.iter().any(
                            |m| matches!(m, MemberChange::Added { name, .. } if name == d.member),
                        )
                });
                assert!(added, "{}: {}.{}", s.label(), d.struct_name, d.member);
            }
        }
    }

    #[test]
    fn classify_marks_added_members_defaulted_up_and_lossy_down() {
        // (A member only the older revision has reads as "removed" going up.)
        let s = STEPS[11]; // f678773 -> f0fdd38: fs.umask added
        let d = s.mechanical(Arch::X86_64);
        let up = classify(&d);
        let umask = up
            .iter()
            .find(|c| c.subject == "ckpt_hdr_fs.umask")
            .unwrap();
        assert_eq!(umask.carry, Carry::Defaulted);
        assert!(umask.change.contains("022"), "{}", umask.change);
        let down = classify(&crate::diff::diff(
            s.newer_schema(),
            s.older_schema(),
            Arch::X86_64,
        ));
        let umask = down
            .iter()
            .find(|c| c.subject == "ckpt_hdr_fs.umask")
            .unwrap();
        assert_eq!(umask.carry, Carry::Lossy);
    }
}
