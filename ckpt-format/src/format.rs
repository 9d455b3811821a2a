//! A revision on one architecture: what the reader and writer need to know.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::arch::{Arch, Endian};
use crate::layout::{Layouts, StructLayout, TypeLayout};
use crate::schema::{RecordBody, Schema};

/// Magic of the HEADER record (kernel `CHECKPOINT_MAGIC_HEAD`).
pub const MAGIC_HEAD: u64 = 0x00fe_ed0c_c0a2_d200;
/// Magic of the TAIL record (kernel `CHECKPOINT_MAGIC_TAIL`).
pub const MAGIC_TAIL: u64 = 0x002d_2a0c_c0de_ef00;
/// Size of the record pre-header `struct ckpt_hdr`.
pub const HDR_SIZE: u32 = 8;

/// One format revision on one architecture, with its layouts.
#[derive(Debug)]
pub struct Format {
    /// The revision.
    pub schema: &'static Schema,
    /// The architecture.
    pub arch: Arch,
    /// The layout engine for this pair.
    pub layouts: Layouts,
    by_number: HashMap<u32, &'static str>,
}

/// What a record's length must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LengthRule {
    /// Exactly this many bytes.
    Exact(u32),
    /// At least `min`, and `min + k * step` for some k (`step` 1 = any).
    Multiple {
        /// Smallest length.
        min: u32,
        /// Granularity above it.
        step: u32,
    },
}

impl LengthRule {
    /// Whether a record of `len` bytes (pre-header included) obeys the rule.
    pub fn fits(&self, len: u32) -> bool {
        match *self {
            LengthRule::Exact(n) => len == n,
            LengthRule::Multiple { min, step } => len >= min && (len - min).is_multiple_of(step),
        }
    }
}

impl std::fmt::Display for LengthRule {
    /// `exactly 80 bytes`, `at least 16 bytes`, `24 bytes plus a multiple of 8`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            LengthRule::Exact(n) => write!(f, "exactly {n} bytes"),
            LengthRule::Multiple { min, step: 1 } => write!(f, "at least {min} bytes"),
            LengthRule::Multiple { min, step } => {
                write!(f, "{min} bytes plus a multiple of {step}")
            }
        }
    }
}

impl Format {
    /// The format of `schema` on `arch`.
    pub fn new(schema: &'static Schema, arch: Arch) -> Format {
        let by_number = schema
            .enum_values("hdr", arch)
            .filter(|(n, _)| !n.ends_with("_MAX"))
            .map(|(n, v)| (v as u32, n))
            .collect();
        Format {
            schema,
            arch,
            layouts: Layouts::new(schema, arch),
            by_number,
        }
    }

    /// The shared, cached format of `schema` on `arch` (layouts computed once per
    /// process), for schemas of the [`crate::Registry`].
    pub fn shared(schema: &'static Schema, arch: Arch) -> &'static Format {
        static CACHE: OnceLock<Mutex<HashMap<(u32, Arch), &'static Format>>> = OnceLock::new();
        let mut map = CACHE
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.entry((schema.ordinal, arch))
            .or_insert_with(|| Box::leak(Box::new(Format::new(schema, arch))))
    }

    /// Byte order.
    pub fn endian(&self) -> Endian {
        self.arch.endian()
    }

    /// Bytes of one slot of MM's saved auxv: 8 from v19 (u64 entries, the header's
    /// `at_vector_size` counts them), a native long before (`mm_saved_auxv_len` bytes).
    pub fn saved_auxv_slot(&self) -> usize {
        let entries = self.layout("ckpt_hdr_header").is_ok_and(|l| {
            l.fields()
                .iter()
                .any(|f| f.path == "constants.at_vector_size")
        });
        if entries {
            8
        } else {
            self.arch.word_size() as usize
        }
    }

    /// Name of record type `t` (`TASK`).
    pub fn record_name(&self, t: u32) -> Option<&'static str> {
        self.by_number.get(&t).copied()
    }

    /// Number of record type `name`.
    pub fn record_type(&self, name: &str) -> Option<u32> {
        self.schema
            .enum_value("hdr", name, self.arch)
            .map(|v| v as u32)
    }

    /// Layout of struct `name`.
    pub fn layout(&self, name: &str) -> Result<Arc<StructLayout>, crate::layout::LayoutError> {
        self.layouts.get(name)
    }

    /// The length rule of record `name`, and the struct of its fixed part if any.
    /// For FILE-like records (selected by a member) the rule covers every case.
    pub fn length_rule(&self, name: &str) -> Option<LengthRule> {
        let def = self.schema.record_def(name, self.arch)?;
        Some(match &def.body {
            RecordBody::Bytes | RecordBody::String => LengthRule::Multiple {
                min: HDR_SIZE,
                step: 1,
            },
            RecordBody::Struct { name, tail: None } => {
                LengthRule::Exact(self.layout(name).ok()?.size)
            }
            RecordBody::Struct {
                name,
                tail: Some(t),
            } => {
                let size = self.layout(name).ok()?.size;
                let step = match self.layouts.type_layout(&t.elem).ok()? {
                    TypeLayout::Prim(p) => p.size,
                    TypeLayout::Struct(s) => s.size,
                };
                LengthRule::Multiple {
                    min: size,
                    step: step.max(1),
                }
            }
            RecordBody::Select { common, .. } => LengthRule::Multiple {
                min: self.layout(common).ok()?.size,
                step: 1,
            },
        })
    }
}
