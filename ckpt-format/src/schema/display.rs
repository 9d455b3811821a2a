//! The schema's items printed as the schema language writes them (`schemas/README.md`),
//! for messages and `ckpt schema` output.

use std::fmt;

use super::{CType, Confidence, Expr, PayloadItem, RecordBody, Tail};

impl fmt::Display for Confidence {
    /// `high`, `medium`, `low`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Confidence::High => "high",
            Confidence::Medium => "medium",
            Confidence::Low => "low",
        })
    }
}

impl fmt::Display for Expr {
    /// `nr_tasks`, `CHECKPOINT_LSM_NAME_MAX + 1`, `(a + b) * 8`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Int(v) => write!(f, "{v}"),
            Expr::Name(n) => f.write_str(n),
            Expr::Binary(l, op, r) => {
                let side = |e: &Expr| match e {
                    Expr::Binary(..) => format!("({e})"),
                    _ => e.to_string(),
                };
                write!(f, "{} {op} {}", side(l), side(r))
            }
        }
    }
}

impl fmt::Display for CType {
    /// `__u32`, `struct ckpt_siginfo`, `struct { ... }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CType::Prim(p) => f.write_str(p),
            CType::Named(n) => write!(f, "struct {n}"),
            CType::Inline(s) => write!(f, "struct {{ {} members }}", s.members.len()),
        }
    }
}

impl fmt::Display for Tail {
    /// `tail __u32[ngroups] at groups`, `tail u8[*]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tail {}[", self.elem)?;
        match &self.count {
            Some(c) => write!(f, "{c}]")?,
            None => f.write_str("*]")?,
        }
        if let Some(at) = &self.at {
            write!(f, " at {at}")?;
        }
        Ok(())
    }
}

impl fmt::Display for PayloadItem {
    /// `BUFFER pids ckpt_pids[nr_tasks]`, `BUFFER lsm_name [CHECKPOINT_LSM_NAME_MAX + 1]`,
    /// `BUFFER pages pgarr_chunk[nr_pages] if nr_pages`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)?;
        if let Some((elem, count)) = &self.elements {
            write!(f, " {elem}[{count}]")?;
        }
        if let Some(len) = &self.length {
            write!(f, " [{len}]")?;
        }
        if let Some(cond) = &self.condition {
            write!(f, " if {cond}")?;
        }
        Ok(())
    }
}

impl fmt::Display for RecordBody {
    /// `bytes`, `string`, `ckpt_hdr_thread tail u8[*]`,
    /// `ckpt_hdr_file by f_type { GENERIC ckpt_hdr_file_generic, ... }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordBody::Bytes => f.write_str("bytes"),
            RecordBody::String => f.write_str("string"),
            RecordBody::Struct { name, tail: None } => f.write_str(name),
            RecordBody::Struct {
                name,
                tail: Some(t),
            } => write!(f, "{name} {t}"),
            RecordBody::Select {
                common,
                selector,
                cases,
            } => {
                let cases: Vec<String> = cases.iter().map(|(c, s)| format!("{c} {s}")).collect();
                write!(f, "{common} by {selector} {{ {} }}", cases.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::schema::Registry;

    #[test]
    fn payloads_print_as_the_schema_files_write_them() {
        // Every payload line of every schema file, printed again, is the line as written
        // (less arch sets and comments).
        for e in Registry::get().entries() {
            let s = e.schema();
            for p in &s.payloads {
                let printed: Vec<String> = p.items.iter().map(|i| i.to_string()).collect();
                let line = format!("payload {} {}", p.record, printed.join(", "));
                let text = e.text();
                let found = text.lines().any(|l| {
                    let l = l.split('#').next().unwrap_or("").trim();
                    // Drop an arch set: `payload CPU [x86_32 x86_64] CPU_FPU ...`.
                    let l = match l.split_once(" [") {
                        Some((head, rest)) if head.matches(' ').count() == 1 => {
                            match rest.split_once("] ") {
                                Some((_, tail)) => format!("{head} {tail}"),
                                None => l.to_string(),
                            }
                        }
                        _ => l.to_string(),
                    };
                    l == line
                });
                assert!(found, "{}: `{line}` is not a line of the file", s.id);
            }
        }
    }
}
