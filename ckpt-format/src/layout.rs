//! The layout engine: sizes, alignments and member offsets of schema structs, computed
//! per architecture with the rules of that architecture's C ABI (see `schemas/README.md`).
//!
//! The results are checked against the real C compilers by the workspace tests
//! (`tests/facts/gcc/`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::arch::{Arch, Endian};
use crate::schema::{CType, Expr, Member, Schema, StructDef};

/// A struct that cannot be laid out (unknown type or constant, bad array size).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("revision {revision} on {arch}: {message}")]
pub struct LayoutError {
    /// Revision id.
    pub revision: String,
    /// Architecture.
    pub arch: Arch,
    /// What is wrong.
    pub message: String,
}

/// How the bytes of a primitive are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PrimKind {
    /// Unsigned integer in the image's byte order.
    Unsigned,
    /// Signed integer in the image's byte order.
    Signed,
    /// Unsigned integer that is big-endian on every architecture (`__be32`).
    BigEndian,
    /// Unsigned integer that is little-endian on every architecture (`__le16`: what the
    /// kernel writes with `cpu_to_le16`).
    LittleEndian,
    /// IEEE float in the image's byte order.
    Float,
    /// A C `char` (arrays of it are text).
    Char,
}

impl PrimKind {
    /// The byte order of this kind in an image of byte order `image`: the fixed order of
    /// `__be*` and `__le*` types, the image's for every other.
    pub fn byte_order(self, image: Endian) -> Endian {
        match self {
            PrimKind::BigEndian => Endian::Big,
            PrimKind::LittleEndian => Endian::Little,
            _ => image,
        }
    }
}

/// A primitive C type on one architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prim {
    /// How to read it.
    pub kind: PrimKind,
    /// Size in bytes.
    pub size: u32,
    /// Alignment inside structs.
    pub align: u32,
}

impl Prim {
    /// The primitive named `name` (as spelled in C) on `arch`.
    pub fn from_c(name: &str, arch: Arch) -> Option<Prim> {
        use PrimKind::*;
        let (kind, size) = match name {
            "char" | "signed char" => (Char, 1),
            "__u8" | "u8" | "unsigned char" => (Unsigned, 1),
            "__s8" | "s8" => (Signed, 1),
            "__u16" | "u16" | "unsigned short" => (Unsigned, 2),
            "__le16" => (LittleEndian, 2),
            "__s16" | "s16" | "short" => (Signed, 2),
            "__be16" => (BigEndian, 2),
            "__u32" | "u32" | "unsigned int" | "unsigned" => (Unsigned, 4),
            "__le32" => (LittleEndian, 4),
            "__s32" | "s32" | "int" => (Signed, 4),
            "__be32" => (BigEndian, 4),
            "float" => (Float, 4),
            "__u64" | "u64" | "unsigned long long" => (Unsigned, 8),
            "__le64" => (LittleEndian, 8),
            "__s64" | "s64" | "long long" => (Signed, 8),
            "__be64" => (BigEndian, 8),
            "double" => (Float, 8),
            "long" | "signed long" => (Signed, arch.word_size()),
            "unsigned long" => (Unsigned, arch.word_size()),
            _ => return None,
        };
        let align = if size == 8 { arch.align_u64() } else { size };
        Some(Prim { kind, size, align })
    }
}

/// The type of a laid-out member.
#[derive(Debug, Clone)]
pub enum TypeLayout {
    /// A primitive.
    Prim(Prim),
    /// A struct or union.
    Struct(Arc<StructLayout>),
}

impl TypeLayout {
    fn size_align(&self) -> (u32, u32) {
        match self {
            TypeLayout::Prim(p) => (p.size, p.align),
            TypeLayout::Struct(s) => (s.size, s.align),
        }
    }
}

/// One member of a laid-out struct.
#[derive(Debug, Clone)]
pub struct MemberLayout {
    /// Name; `None` for an anonymous struct or union.
    pub name: Option<String>,
    /// The C type as written (`__u32`, `struct ckpt_hdr`, `struct {...}`).
    pub c_type: String,
    /// Byte offset from the start of the enclosing struct.
    pub offset: u32,
    /// Size in bytes (all array elements).
    pub size: u32,
    /// Array dimensions (empty for a scalar).
    pub dims: Vec<u32>,
    /// Element type.
    pub ty: TypeLayout,
}

/// A struct laid out for one architecture.
#[derive(Debug, Clone)]
pub struct StructLayout {
    /// C tag (empty for a type declared in place).
    pub name: String,
    /// True for a union.
    pub is_union: bool,
    /// `sizeof`.
    pub size: u32,
    /// `_Alignof`.
    pub align: u32,
    /// Members in C order.
    pub members: Vec<MemberLayout>,
    /// [`StructLayout::fields`], made on first use (a layout is shared for the process,
    /// and converting or decoding a record asks for them every time).
    leaves: std::sync::OnceLock<Vec<Field>>,
}

impl StructLayout {
    /// The offset of a member reached by `path` (`h.len`, `socket.flags`, `veth.this_ref`).
    pub fn offset_of(&self, path: &str) -> Option<u32> {
        self.find(path).map(|(o, _)| o)
    }

    /// Offset and layout of the member reached by `path`.
    pub fn find(&self, path: &str) -> Option<(u32, &MemberLayout)> {
        let (head, rest) = match path.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (path, None),
        };
        for m in &self.members {
            match &m.name {
                Some(n) if n == head => {
                    return match (rest, &m.ty) {
                        (None, _) => Some((m.offset, m)),
                        (Some(r), TypeLayout::Struct(s)) if m.dims.is_empty() => {
                            s.find(r).map(|(o, x)| (m.offset + o, x))
                        }
                        _ => None,
                    };
                }
                None => {
                    if let TypeLayout::Struct(s) = &m.ty
                        && let Some((o, x)) = s.find(path)
                    {
                        return Some((m.offset + o, x));
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// Every primitive leaf of the struct, with dotted paths, in offset order of
    /// declaration (unions list every alternative).
    pub fn fields(&self) -> &[Field] {
        self.leaves.get_or_init(|| {
            let mut out = Vec::new();
            flatten(self, 0, "", &mut out);
            out
        })
    }
}

/// A primitive leaf of a struct: what the generic record model decodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Dotted path (`h.type`, `socket.flags`, `rlim[3].rlim_cur`).
    pub path: String,
    /// Byte offset from the start of the outermost struct.
    pub offset: u32,
    /// The primitive.
    pub prim: Prim,
    /// Number of elements (1 for a scalar; arrays of primitives stay one field).
    pub count: u32,
}

fn flatten(s: &StructLayout, base: u32, prefix: &str, out: &mut Vec<Field>) {
    for m in &s.members {
        let name = match &m.name {
            Some(n) if prefix.is_empty() => n.clone(),
            Some(n) => format!("{prefix}.{n}"),
            None => prefix.to_string(),
        };
        let count: u32 = m.dims.iter().product();
        match &m.ty {
            TypeLayout::Prim(p) => {
                if m.dims.is_empty() || count > 0 {
                    out.push(Field {
                        path: name,
                        offset: base + m.offset,
                        prim: *p,
                        count: if m.dims.is_empty() { 1 } else { count },
                    })
                }
            }
            TypeLayout::Struct(inner) => {
                if m.dims.is_empty() {
                    flatten(inner, base + m.offset, &name, out);
                } else {
                    for i in 0..count {
                        flatten(
                            inner,
                            base + m.offset + i * inner.size,
                            &format!("{name}[{i}]"),
                            out,
                        );
                    }
                }
            }
        }
    }
}

/// Lays out the structs of one revision for one architecture, caching the results.
#[derive(Debug)]
pub struct Layouts {
    schema: &'static Schema,
    arch: Arch,
    /// Shared by every `Layouts` of the same schema and arch in the process: layouts
    /// depend only on those two, and readers are made often (one per image).
    cache: Arc<Mutex<HashMap<String, Arc<StructLayout>>>>,
}

type LayoutCache = Arc<Mutex<HashMap<String, Arc<StructLayout>>>>;

/// The process-wide layout cache of `schema` on `arch` (keyed by the schema's address:
/// schemas are `'static`).
fn shared_cache(schema: &'static Schema, arch: Arch) -> LayoutCache {
    static CACHES: std::sync::OnceLock<Mutex<HashMap<(usize, Arch), LayoutCache>>> =
        std::sync::OnceLock::new();
    let mut map = CACHES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry((schema as *const Schema as usize, arch))
        .or_default()
        .clone()
}

impl Layouts {
    /// The layout engine for `schema` on `arch`.
    pub fn new(schema: &'static Schema, arch: Arch) -> Layouts {
        Layouts {
            schema,
            arch,
            cache: shared_cache(schema, arch),
        }
    }

    /// The revision.
    pub fn schema(&self) -> &'static Schema {
        self.schema
    }

    /// The architecture.
    pub fn arch(&self) -> Arch {
        self.arch
    }

    fn err(&self, message: String) -> LayoutError {
        LayoutError {
            revision: self.schema.id.clone(),
            arch: self.arch,
            message,
        }
    }

    /// Evaluates a constant expression (constants of the schema on this arch).
    pub fn eval(&self, e: &Expr) -> Result<i128, LayoutError> {
        self.eval_with(e, &|_| None)
    }

    /// Evaluates an expression, looking names up in `lookup` first, then in the constants.
    pub fn eval_with(
        &self,
        e: &Expr,
        lookup: &dyn Fn(&str) -> Option<i128>,
    ) -> Result<i128, LayoutError> {
        Ok(match e {
            Expr::Int(v) => *v,
            Expr::Name(n) => lookup(n)
                .or_else(|| self.schema.constant(n, self.arch))
                .ok_or_else(|| self.err(format!("unknown name `{n}`")))?,
            Expr::Binary(a, op, b) => {
                let (a, b) = (self.eval_with(a, lookup)?, self.eval_with(b, lookup)?);
                match op {
                    '+' => a.checked_add(b),
                    '-' => a.checked_sub(b),
                    '*' => a.checked_mul(b),
                    _ => a.checked_div(b),
                }
                .ok_or_else(|| self.err(format!("arithmetic overflow in `{a} {op} {b}`")))?
            }
        })
    }

    /// The layout of struct `name`.
    pub fn get(&self, name: &str) -> Result<Arc<StructLayout>, LayoutError> {
        if let Some(l) = self.cache.lock().unwrap().get(name) {
            return Ok(l.clone());
        }
        let def = self
            .schema
            .struct_def(name, self.arch)
            .ok_or_else(|| self.err(format!("no struct `{name}`")))?;
        let l = Arc::new(self.lay_out(def, 0)?);
        self.cache
            .lock()
            .unwrap()
            .insert(name.to_string(), l.clone());
        Ok(l)
    }

    /// The layout of a member type (for tails and payload elements).
    pub fn type_layout(&self, ty: &CType) -> Result<TypeLayout, LayoutError> {
        self.member_type(ty, 0)
    }

    /// The layout of a type given by name: a primitive or a struct.
    pub fn named_type(&self, name: &str) -> Result<TypeLayout, LayoutError> {
        match Prim::from_c(name, self.arch) {
            Some(p) => Ok(TypeLayout::Prim(p)),
            None => Ok(TypeLayout::Struct(self.get(name)?)),
        }
    }

    fn member_type(&self, ty: &CType, depth: u32) -> Result<TypeLayout, LayoutError> {
        if depth > 32 {
            return Err(self.err("types nested too deeply".into()));
        }
        Ok(match ty {
            CType::Prim(p) => TypeLayout::Prim(
                Prim::from_c(p, self.arch)
                    .ok_or_else(|| self.err(format!("unknown C type `{p}`")))?,
            ),
            CType::Named(n) => TypeLayout::Struct(self.get(n)?),
            CType::Inline(def) => TypeLayout::Struct(Arc::new(self.lay_out(def, depth + 1)?)),
        })
    }

    fn lay_out(&self, def: &StructDef, depth: u32) -> Result<StructLayout, LayoutError> {
        let mut members = Vec::with_capacity(def.members.len());
        let mut offset: u32 = 0;
        let mut size: u32 = 0;
        let mut align: u32 = def.aligned.unwrap_or(1);
        for m in &def.members {
            let ty = self.member_type(&m.ty, depth)?;
            let (esize, ealign) = ty.size_align();
            let ealign = if def.packed { 1 } else { ealign };
            let ealign = ealign.max(m.align.unwrap_or(1));
            let dims = self.dims(m)?;
            let count: u64 = dims.iter().map(|&d| d as u64).product();
            let msize = u32::try_from(esize as u64 * count).map_err(|_| {
                self.err(format!(
                    "member `{}` is too large",
                    m.name.as_deref().unwrap_or("?")
                ))
            })?;
            let moff = if def.is_union {
                0
            } else {
                offset.next_multiple_of(ealign)
            };
            align = align.max(ealign);
            if def.is_union {
                size = size.max(msize);
            } else {
                offset = moff + msize;
                size = offset;
            }
            members.push(MemberLayout {
                name: m.name.clone(),
                c_type: c_type_name(&m.ty),
                offset: moff,
                size: msize,
                dims,
                ty,
            });
        }
        Ok(StructLayout {
            name: def.name.clone(),
            is_union: def.is_union,
            size: size.next_multiple_of(align),
            align,
            members,
            leaves: Default::default(),
        })
    }

    fn dims(&self, m: &Member) -> Result<Vec<u32>, LayoutError> {
        m.dims
            .iter()
            .map(|d| {
                let v = self.eval(d)?;
                u32::try_from(v).map_err(|_| self.err(format!("bad array size {v}")))
            })
            .collect()
    }
}

fn c_type_name(ty: &CType) -> String {
    match ty {
        CType::Prim(p) => p.clone(),
        CType::Named(n) => format!("struct {n}"),
        CType::Inline(d) if d.is_union => "union {...}".into(),
        CType::Inline(_) => "struct {...}".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::parse;

    fn schema(text: &str) -> &'static Schema {
        Box::leak(Box::new(parse("t", text).unwrap()))
    }

    const S: &str = r#"
ckpt-schema 1.0
revision t
ordinal 1
commit 0123456789abcdef0123456789abcdef01234567
checkpoint-version 1
arch x86_32 1
arch x86_64 2
arch arm 4
struct ckpt_hdr aligned(8) {
  __u32 type
  __u32 len
}
struct mixed {
  __u32 a
  unsigned long b
  __u64 c
}
struct task aligned(8) {
  struct ckpt_hdr h
  __u32 x
  __u32 y
  __u32 z
  __u64 w
}
struct u {
  __u16 k
  union {
    __u32 p
    char q[6]
  } un
}
"#;

    #[test]
    fn per_arch_rules() {
        let s = schema(S);
        // struct {u32; unsigned long; u64}: 16 on i386 (u64 aligned 4), 24 on x86_64.
        let m32 = Layouts::new(s, Arch::X86_32).get("mixed").unwrap();
        assert_eq!((m32.size, m32.members[2].offset), (16, 8));
        let m64 = Layouts::new(s, Arch::X86_64).get("mixed").unwrap();
        assert_eq!(
            (m64.size, m64.members[1].offset, m64.members[2].offset),
            (24, 8, 16)
        );
        let arm = Layouts::new(s, Arch::Arm).get("mixed").unwrap();
        assert_eq!((arm.size, arm.members[2].offset), (16, 8));
        // The ckpt_hdr_task effect: three u32 after the header then a u64.
        assert_eq!(Layouts::new(s, Arch::X86_32).get("task").unwrap().size, 32);
        assert_eq!(Layouts::new(s, Arch::X86_64).get("task").unwrap().size, 32);
        assert_eq!(
            Layouts::new(s, Arch::X86_32)
                .get("task")
                .unwrap()
                .offset_of("w"),
            Some(20)
        );
        assert_eq!(
            Layouts::new(s, Arch::X86_64)
                .get("task")
                .unwrap()
                .offset_of("w"),
            Some(24)
        );
    }

    #[test]
    fn unions_and_paths() {
        let s = schema(S);
        let u = Layouts::new(s, Arch::X86_64).get("u").unwrap();
        assert_eq!((u.size, u.align), (12, 4));
        assert_eq!(u.offset_of("un.q"), Some(4));
        let f = u.fields();
        assert_eq!(
            f.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
            ["k", "un.p", "un.q"]
        );
        assert_eq!(f[2].count, 6);
        let t = Layouts::new(s, Arch::X86_64).get("task").unwrap();
        assert_eq!(t.offset_of("h.len"), Some(4));
    }
}
