//! What changed between two revisions on one architecture, computed from their schemas:
//! renumbered record, object, arch and other enum values, records added or removed,
//! struct members added, removed, moved, resized or retyped, constants changed.
//!
//! The migration steps are derived from this data (the mechanical part of a step), and
//! `ckpt schema diff` prints it.

use std::collections::BTreeSet;

use ckpt_format::layout::{Layouts, StructLayout};
use ckpt_format::schema::applies;
use ckpt_format::{Arch, Schema};
use serde::Serialize;

/// A value of an enum that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnumChange {
    /// Enum kind (`hdr`, `obj`, `arch`, `file`, `vma`, ...).
    pub kind: String,
    /// Enumerator without its prefix.
    pub name: String,
    /// Value in the older revision (`None`: absent there).
    pub old: Option<i64>,
    /// Value in the newer revision (`None`: absent there).
    pub new: Option<i64>,
}

/// How one member differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "lowercase")]
pub enum MemberChange {
    /// Only in the newer revision.
    Added {
        /// Member path.
        name: String,
        /// Offset there.
        offset: u32,
        /// Size there.
        size: u32,
        /// C type there.
        r#type: String,
    },
    /// Only in the older revision.
    Removed {
        /// Member path.
        name: String,
        /// Offset there.
        offset: u32,
        /// Size there.
        size: u32,
        /// C type there.
        r#type: String,
    },
    /// In both, with a different offset, size or type.
    Changed {
        /// Member path.
        name: String,
        /// Offset, size and C type in the older revision.
        old: (u32, u32, String),
        /// Offset, size and C type in the newer revision.
        new: (u32, u32, String),
    },
}

/// A struct that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StructChange {
    /// C tag.
    pub name: String,
    /// Size in the older revision (`None`: absent there).
    pub old_size: Option<u32>,
    /// Size in the newer revision (`None`: absent there).
    pub new_size: Option<u32>,
    /// Member differences (empty when the struct was added or removed).
    pub members: Vec<MemberChange>,
}

/// A constant that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConstChange {
    /// C name.
    pub name: String,
    /// Old value.
    pub old: Option<i128>,
    /// New value.
    pub new: Option<i128>,
}

/// A record binding that differs (the struct a record holds, its tail, its payloads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordChange {
    /// Record type name.
    pub name: String,
    /// Old binding and payload rule, as text.
    pub old: Option<String>,
    /// New binding and payload rule, as text.
    pub new: Option<String>,
}

/// Everything that differs between two revisions on one architecture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaDiff {
    /// Older revision id.
    pub from: String,
    /// Newer revision id.
    pub to: String,
    /// Architecture.
    pub arch: String,
    /// CHECKPOINT_VERSION old and new.
    pub checkpoint_version: (u16, u16),
    /// Enum values renumbered, added or removed.
    pub enums: Vec<EnumChange>,
    /// Structs added, removed or changed.
    pub structs: Vec<StructChange>,
    /// Record bindings and payload rules changed.
    pub records: Vec<RecordChange>,
    /// Constants changed.
    pub constants: Vec<ConstChange>,
}

impl SchemaDiff {
    /// True when nothing differs.
    pub fn is_empty(&self) -> bool {
        self.enums.is_empty()
            && self.structs.is_empty()
            && self.records.is_empty()
            && self.constants.is_empty()
    }
}

fn members(l: &StructLayout) -> Vec<(String, u32, u32, String)> {
    // Top-level members and the members of nested structs, by dotted path.
    fn walk(l: &StructLayout, base: u32, prefix: &str, out: &mut Vec<(String, u32, u32, String)>) {
        for m in &l.members {
            let name = match (&m.name, prefix.is_empty()) {
                (Some(n), true) => n.clone(),
                (Some(n), false) => format!("{prefix}.{n}"),
                (None, _) => prefix.to_string(),
            };
            let ty = if m.dims.is_empty() {
                m.c_type.clone()
            } else {
                format!(
                    "{}{}",
                    m.c_type,
                    m.dims.iter().map(|d| format!("[{d}]")).collect::<String>()
                )
            };
            if m.name.is_some() {
                out.push((name.clone(), base + m.offset, m.size, ty));
            }
            if let ckpt_format::layout::TypeLayout::Struct(s) = &m.ty
                && m.dims.is_empty()
            {
                walk(s, base + m.offset, &name, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(l, 0, "", &mut out);
    out
}

fn record_text(s: &Schema, arch: Arch, name: &str) -> Option<String> {
    let def = s.record_def(name, arch)?;
    let body = def.body.to_string();
    let payload = s
        .payload_def(name, arch)
        .map(|p| {
            let items: Vec<String> = p.items.iter().map(|i| i.to_string()).collect();
            format!("; payloads {}", items.join(", "))
        })
        .unwrap_or_default();
    Some(body + &payload)
}

/// The differences from `old` to `new` on `arch` (both must have the arch, or the
/// arch-specific parts of the one lacking it count as absent).
pub fn diff(old: &'static Schema, new: &'static Schema, arch: Arch) -> SchemaDiff {
    let lo = Layouts::new(old, arch);
    let ln = Layouts::new(new, arch);
    // Enums: by kind and name.
    let mut enums = Vec::new();
    let kinds: BTreeSet<&str> = old
        .enums
        .iter()
        .chain(&new.enums)
        .map(|e| e.kind.as_str())
        .collect();
    for kind in kinds {
        let names: BTreeSet<&str> = old
            .enum_values(kind, arch)
            .chain(new.enum_values(kind, arch))
            .map(|(n, _)| n)
            .collect();
        for n in names {
            let (a, b) = (old.enum_value(kind, n, arch), new.enum_value(kind, n, arch));
            if a != b {
                enums.push(EnumChange {
                    kind: kind.to_string(),
                    name: n.to_string(),
                    old: a,
                    new: b,
                });
            }
        }
    }
    // Structs: by name.
    let mut structs = Vec::new();
    let snames: Vec<&str> = {
        let mut seen = BTreeSet::new();
        old.structs
            .iter()
            .chain(&new.structs)
            .filter(|d| applies(&d.arches, arch))
            .map(|d| d.name.as_str())
            .filter(|n| seen.insert(*n))
            .collect()
    };
    for n in snames {
        let (a, b) = (lo.get(n).ok(), ln.get(n).ok());
        let mut ms = Vec::new();
        if let (Some(a), Some(b)) = (&a, &b) {
            let (ma, mb) = (members(a), members(b));
            for (name, off, size, ty) in &ma {
                match mb.iter().find(|m| &m.0 == name) {
                    None => ms.push(MemberChange::Removed {
                        name: name.clone(),
                        offset: *off,
                        size: *size,
                        r#type: ty.clone(),
                    }),
                    Some(m) if (m.1, m.2, &m.3) != (*off, *size, ty) => {
                        ms.push(MemberChange::Changed {
                            name: name.clone(),
                            old: (*off, *size, ty.clone()),
                            new: (m.1, m.2, m.3.clone()),
                        })
                    }
                    Some(_) => {}
                }
            }
            for (name, off, size, ty) in &mb {
                if !ma.iter().any(|m| &m.0 == name) {
                    ms.push(MemberChange::Added {
                        name: name.clone(),
                        offset: *off,
                        size: *size,
                        r#type: ty.clone(),
                    });
                }
            }
        }
        let (sa, sb) = (a.as_ref().map(|l| l.size), b.as_ref().map(|l| l.size));
        if sa != sb || !ms.is_empty() {
            structs.push(StructChange {
                name: n.to_string(),
                old_size: sa,
                new_size: sb,
                members: ms,
            });
        }
    }
    // Record bindings.
    let mut records = Vec::new();
    let rnames: BTreeSet<&str> = old
        .enum_values("hdr", arch)
        .chain(new.enum_values("hdr", arch))
        .map(|(n, _)| n)
        .collect();
    for n in rnames {
        let (a, b) = (record_text(old, arch, n), record_text(new, arch, n));
        if a != b {
            records.push(RecordChange {
                name: n.to_string(),
                old: a,
                new: b,
            });
        }
    }
    // Constants.
    let mut constants = Vec::new();
    let cnames: BTreeSet<&str> = old
        .consts
        .iter()
        .chain(&new.consts)
        .map(|c| c.name.as_str())
        .collect();
    for n in cnames {
        let (a, b) = (old.constant(n, arch), new.constant(n, arch));
        if a != b {
            constants.push(ConstChange {
                name: n.to_string(),
                old: a,
                new: b,
            });
        }
    }
    SchemaDiff {
        from: old.id.clone(),
        to: new.id.clone(),
        arch: arch.name().to_string(),
        checkpoint_version: (old.checkpoint_version, new.checkpoint_version),
        enums,
        structs,
        records,
        constants,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ckpt_format::Registry;

    fn rev(id: &str) -> &'static Schema {
        Registry::get().find(id).unwrap()
    }

    #[test]
    fn identical_revisions_have_no_diff() {
        // b0d8304 and 82822cf differ only in the meaning of uflags bit 0x2.
        let d = diff(rev("b0d8304"), rev("82822cf"), Arch::X86_64);
        assert!(
            d.enums.is_empty() && d.structs.is_empty() && d.records.is_empty(),
            "{d:?}"
        );
        assert_eq!(
            d.constants
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            ["CHECKPOINT_NETNS", "CHECKPOINT_NONETNS"]
        );
    }

    #[test]
    fn known_renumberings_and_resizes() {
        let d = diff(rev("b6cdf01"), rev("1fd8e6e"), Arch::X86_64);
        assert!(d.enums.contains(&EnumChange {
            kind: "hdr".into(),
            name: "MM_CONTEXT".into(),
            old: Some(404),
            new: Some(405)
        }));
        let vma = d.structs.iter().find(|s| s.name == "ckpt_hdr_vma").unwrap();
        assert_eq!((vma.old_size, vma.new_size), (Some(72), Some(80)));
        assert!(
            vma.members
                .iter()
                .any(|m| matches!(m, MemberChange::Added { name, .. } if name == "hugetlb_shift"))
        );
        let d = diff(rev("76fcfe5"), rev("c97c03d"), Arch::X86_64);
        let arch = d
            .enums
            .iter()
            .find(|e| e.kind == "arch" && e.name == "X86_64")
            .unwrap();
        assert_eq!((arch.old, arch.new), (Some(5), Some(2)));
        let d = diff(rev("0abe2fe"), rev("67cfee9"), Arch::X86_32);
        let task = d
            .structs
            .iter()
            .find(|s| s.name == "ckpt_hdr_task")
            .unwrap();
        assert_eq!((task.old_size, task.new_size), (Some(64), Some(64)));
        assert!(!task.members.is_empty(), "moved members");
    }
}
