//! The schema of one format revision, as written in `schemas/NN-<id>.schema`.
//!
//! [`parse`] turns the text into a [`Schema`]; [`registry`] holds the 17 revisions that are
//! embedded in the crate, each parsed the first time it is needed; the layout engine ([`crate::layout`]) computes sizes and offsets
//! from the struct declarations for each architecture.

mod display;
mod parse;
pub mod registry;

pub use parse::{ParseError, parse};
pub use registry::{Embedded, Registry, RevisionRef, UnknownRevision};

use crate::arch::Arch;

/// Version of the schema language that this crate reads (`ckpt-schema MAJOR.MINOR`).
pub const LANGUAGE_VERSION: semver::Version = semver::Version::new(1, 1, 0);

/// How sure the sources are of a claim (a tag, a kernel version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Read in code or in a commit's own text.
    High,
    /// Read in a neighbouring version and assumed to hold.
    Medium,
    /// Inferred.
    Low,
}

/// A claim with its confidence and evidence: a linux-cr tag or a kernel version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Claim {
    /// The claimed value (`ckpt-v23-rc2`, `2.6.37`).
    pub value: String,
    /// How sure the sources are.
    pub confidence: Confidence,
    /// Why, in a few words.
    pub evidence: String,
}

impl Claim {
    /// Whether this claim (a kernel version such as `2.6.37` or `3.0.8`) names the kernel
    /// an image header records as `major.minor.patch`; numbers the claim leaves out are 0,
    /// and a fourth number or `-rcN` (which the header cannot hold) is not compared.
    pub fn names_kernel(&self, kernel: (u16, u16, u16)) -> bool {
        let release = self.value.split('-').next().unwrap_or_default();
        let mut numbers = release.split('.').map(|p| p.parse::<u16>().ok());
        let mut next = || numbers.next().unwrap_or(Some(0));
        next() == Some(kernel.0) && next() == Some(kernel.1) && next() == Some(kernel.2)
    }
}

/// The set of architectures an item holds on (`None`: every architecture of the revision).
pub type ArchSet = Option<Vec<Arch>>;

/// Whether an item restricted to `set` applies to `arch`.
pub fn applies(set: &ArchSet, arch: Arch) -> bool {
    set.as_ref().is_none_or(|s| s.contains(&arch))
}

/// A named integer constant of the headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConstDef {
    /// C name.
    pub name: String,
    /// Architectures it holds on.
    pub arches: ArchSet,
    /// Value.
    pub value: i128,
}

/// An enum of the headers with every value written out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumDef {
    /// Kind (`hdr`, `obj`, `file`, `vma`, `arch`, ...).
    pub kind: String,
    /// Architectures it holds on.
    pub arches: ArchSet,
    /// C prefix of the enumerators (`CKPT_HDR_`).
    pub prefix: String,
    /// Enumerators without the prefix, with their values, in declaration order.
    pub values: Vec<(String, i64)>,
}

/// An integer expression in an array size or a payload length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A literal.
    Int(i128),
    /// A constant (or, in payload lengths, a member of the header's `ckpt_const`).
    Name(String),
    /// A binary operation.
    Binary(Box<Expr>, char, Box<Expr>),
}

/// A C type as written in a member declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CType {
    /// A primitive type, spelled as in C (`__u32`, `unsigned long`, `char`, `double`).
    Prim(String),
    /// `struct NAME`, defined elsewhere in the file.
    Named(String),
    /// A struct or union declared in place.
    Inline(Box<StructDef>),
}

/// One member of a struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its type.
    pub ty: CType,
    /// Its name; `None` for an anonymous struct or union, whose members are reached
    /// by their own names.
    pub name: Option<String>,
    /// Array dimensions, outermost first (`[0]` is a flexible array member).
    pub dims: Vec<Expr>,
    /// `__attribute__((aligned(N)))` on the member itself: raises its alignment without
    /// changing the size of its type.
    pub align: Option<u32>,
}

/// A struct or union declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructDef {
    /// Its C tag (`ckpt_hdr_task`); empty for a type declared in place.
    pub name: String,
    /// Architectures it holds on.
    pub arches: ArchSet,
    /// True for a union.
    pub is_union: bool,
    /// `__attribute__((aligned(N)))`.
    pub aligned: Option<u32>,
    /// `__attribute__((packed))`.
    pub packed: bool,
    /// Members in C order.
    pub members: Vec<Member>,
}

/// What a record's body holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordBody {
    /// Raw bytes (BUFFER, CPU_FPU, ...).
    Bytes,
    /// NUL-terminated text (STRING, FILE_NAME).
    String,
    /// A struct, optionally followed by a tail of elements in the same record.
    Struct {
        /// The struct.
        name: String,
        /// The tail, if any.
        tail: Option<Tail>,
    },
    /// A common struct whose member `selector` chooses the full struct.
    Select {
        /// The common struct.
        common: String,
        /// The member of the common struct that selects.
        selector: String,
        /// Enumerator names (of the `file` enum for FILE) and the struct of each.
        cases: Vec<(String, String)>,
    },
}

/// Elements that follow a struct inside the same record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    /// Element type.
    pub elem: CType,
    /// How many: `None` = as many as fit in the record.
    pub count: Option<Expr>,
    /// Start at this member's offset instead of at the end of the struct.
    pub at: Option<String>,
}

/// Binding of a record type to what its body holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordDef {
    /// The `hdr` enumerator (`TASK`).
    pub record: String,
    /// Architectures it holds on.
    pub arches: ArchSet,
    /// The body.
    pub body: RecordBody,
}

/// One record that follows another as its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadItem {
    /// Record kind (`BUFFER`, `STRING`, `FILE_NAME`, `LSM_INFO`).
    pub kind: String,
    /// Name of the payload (`uts_release`, `comm`, `pages`).
    pub name: String,
    /// Element type and count, for arrays.
    pub elements: Option<(String, Expr)>,
    /// Exact length in bytes, from constants or the header's `ckpt_const`.
    pub length: Option<Expr>,
    /// Present only when this expression is non-zero: members of the owning record,
    /// header constants, and `sum(PAYLOAD.MEMBER)`, the sum of MEMBER over the elements of
    /// an earlier payload of the same record.
    pub condition: Option<Expr>,
}

/// The records that follow a record as its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadDef {
    /// The owning record type.
    pub record: String,
    /// Architectures it holds on.
    pub arches: ArchSet,
    /// The payload records, in order.
    pub items: Vec<PayloadItem>,
}

/// The `ckpt_const` values one kernel fills in on one architecture (and config variant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelConstants {
    /// Kernel version (`2.6.37`).
    pub kernel: String,
    /// Architecture.
    pub arch: Arch,
    /// The kernel config option the values depend on, and its value (`CONFIG_IA32_EMULATION`, `y`).
    pub config: Option<(String, String)>,
    /// True for the common default among the config variants.
    pub default: bool,
    /// `ckpt_const` member names of this revision with their values, in struct order.
    pub values: Vec<(String, u64)>,
}

/// Everything one schema file says about one format revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    /// Language version of the file.
    pub language: semver::Version,
    /// Revision id (`v23-rc2`).
    pub id: String,
    /// Position in user-cr commit order, from 1.
    pub ordinal: u32,
    /// Full user-cr commit hash.
    pub commit: String,
    /// Commit date (`YYYY-MM-DD`).
    pub date: String,
    /// Commit subject.
    pub subject: String,
    /// CHECKPOINT_VERSION, the header's `rev`.
    pub checkpoint_version: u16,
    /// linux-cr tags this revision corresponds to.
    pub tags: Vec<Claim>,
    /// Kernel versions that wrote it, most likely first.
    pub kernels: Vec<Claim>,
    /// Other names.
    pub aliases: Vec<String>,
    /// Architectures with their CKPT_ARCH_* ids.
    pub arches: Vec<(Arch, u16)>,
    /// Architectures whose arch records no source describes.
    pub opaque_arches: Vec<Arch>,
    /// Constants.
    pub consts: Vec<ConstDef>,
    /// Enums.
    pub enums: Vec<EnumDef>,
    /// Structs, in file order.
    pub structs: Vec<StructDef>,
    /// Record bindings.
    pub records: Vec<RecordDef>,
    /// Payload rules.
    pub payloads: Vec<PayloadDef>,
    /// `ckpt_const` per plausible kernel and architecture.
    pub kernel_constants: Vec<KernelConstants>,
    /// The stream grammar, as text.
    pub grammar: String,
}

impl Schema {
    /// Short (7-character) commit id.
    pub fn short_commit(&self) -> &str {
        &self.commit[..7.min(self.commit.len())]
    }

    /// Whether one of the kernels this revision claims is `kernel` (`major.minor.patch`).
    pub fn claims_kernel(&self, kernel: (u16, u16, u16)) -> bool {
        self.kernels.iter().any(|c| c.names_kernel(kernel))
    }

    /// The kernel versions this revision claims, most likely first, joined by `, `.
    pub fn claimed_kernels(&self) -> String {
        let v: Vec<&str> = self.kernels.iter().map(|c| c.value.as_str()).collect();
        v.join(", ")
    }

    /// The CKPT_ARCH_* id this revision gives `arch`, if it has that architecture.
    pub fn arch_id(&self, arch: Arch) -> Option<u16> {
        self.arches
            .iter()
            .find(|(a, _)| *a == arch)
            .map(|(_, id)| *id)
    }

    /// The architecture this revision numbers `id`.
    pub fn arch_by_id(&self, id: u16) -> Option<Arch> {
        self.arches.iter().find(|(_, i)| *i == id).map(|(a, _)| *a)
    }

    /// Whether the revision supports `arch`.
    pub fn has_arch(&self, arch: Arch) -> bool {
        self.arch_id(arch).is_some()
    }

    /// Value of a constant on `arch`.
    pub fn constant(&self, name: &str, arch: Arch) -> Option<i128> {
        self.consts
            .iter()
            .find(|c| c.name == name && applies(&c.arches, arch))
            .map(|c| c.value)
    }

    /// Enumerators of one enum kind on `arch` (all blocks of that kind merged).
    pub fn enum_values(&self, kind: &str, arch: Arch) -> impl Iterator<Item = (&str, i64)> {
        self.enums
            .iter()
            .filter(move |e| e.kind == kind && applies(&e.arches, arch))
            .flat_map(|e| e.values.iter().map(|(n, v)| (n.as_str(), *v)))
    }

    /// Value of enumerator `name` of kind `kind` on `arch`.
    pub fn enum_value(&self, kind: &str, name: &str, arch: Arch) -> Option<i64> {
        self.enum_values(kind, arch)
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// Name of the enumerator of kind `kind` with value `value` on `arch`.
    pub fn enum_name(&self, kind: &str, value: i64, arch: Arch) -> Option<&str> {
        self.enum_values(kind, arch)
            .find(|(n, v)| *v == value && !n.ends_with("MAX"))
            .map(|(n, _)| n)
    }

    /// The struct named `name` on `arch`.
    pub fn struct_def(&self, name: &str, arch: Arch) -> Option<&StructDef> {
        self.structs
            .iter()
            .find(|s| s.name == name && applies(&s.arches, arch))
    }

    /// The binding of record `record` on `arch`.
    pub fn record_def(&self, record: &str, arch: Arch) -> Option<&RecordDef> {
        self.records
            .iter()
            .find(|r| r.record == record && applies(&r.arches, arch))
    }

    /// The `ckpt_const` values of `kernel` on `arch`: the variant whose config matches
    /// `config` (an option name and value), else the default variant.
    pub fn kernel_constants(
        &self,
        kernel: &str,
        arch: Arch,
        config: Option<(&str, &str)>,
    ) -> Option<&KernelConstants> {
        let of_kernel = || {
            self.kernel_constants
                .iter()
                .filter(|k| k.kernel == kernel && k.arch == arch)
        };
        if let Some((opt, val)) = config
            && let Some(k) =
                of_kernel().find(|k| k.config.as_ref().is_some_and(|(o, v)| o == opt && v == val))
        {
            return Some(k);
        }
        of_kernel().find(|k| k.config.is_none() || k.default)
    }

    /// The payload rule of record `record` on `arch`.
    pub fn payload_def(&self, record: &str, arch: Arch) -> Option<&PayloadDef> {
        self.payloads
            .iter()
            .find(|p| p.record == record && applies(&p.arches, arch))
    }
}
