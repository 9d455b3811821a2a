//! Parser of the schema language (see `schemas/README.md`).

use super::*;

/// A schema file that does not follow the language.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ParseError {
    /// File name, for messages.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// A token of one line; words borrow the schema text (the parser runs at every start-up,
/// so it allocates only for what it keeps).
#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Word(&'a str),
    Str(String),
    Punct(char),
}

/// Bytes that end a word.
fn ends_word(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b'[' | b']' | b'{' | b'}' | b'(' | b')' | b',' | b'=' | b'"' | b'#'
        )
}

fn tokenize(line: &str) -> Result<Vec<Tok<'_>>, String> {
    let mut out = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'#' {
            break;
        } else if b.is_ascii_whitespace() {
            i += 1;
        } else if b == b'"' {
            i += 1;
            let mut s = String::new();
            let mut chars = line[i..].char_indices();
            loop {
                match chars.next() {
                    None => return Err("unterminated string".into()),
                    Some((k, '"')) => {
                        i += k + 1;
                        break;
                    }
                    Some((_, '\\')) => match chars.next() {
                        Some((_, e)) => s.push(e),
                        None => return Err("unterminated string".into()),
                    },
                    Some((_, x)) => s.push(x),
                }
            }
            out.push(Tok::Str(s));
        } else if matches!(b, b'[' | b']' | b'{' | b'}' | b'(' | b')' | b',' | b'=') {
            i += 1;
            out.push(Tok::Punct(b as char));
        } else {
            // A word: up to an ASCII delimiter, so it ends on a char boundary.
            let start = i;
            while i < bytes.len() && !ends_word(bytes[i]) {
                i += 1;
            }
            out.push(Tok::Word(&line[start..i]));
        }
    }
    Ok(out)
}

/// Parses an integer literal: decimal or `0x` hex, optionally negative.
pub(crate) fn parse_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i128::from_str_radix(h, 16).ok()?
    } else {
        body.parse::<i128>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// Parses an expression such as `CKPT_NEW_UTS_LEN + 1` (left to right, no precedence).
pub(crate) fn parse_expr(text: &str) -> Result<Expr, String> {
    let mut terms: Vec<String> = Vec::new();
    let mut ops: Vec<char> = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if "+-*/".contains(c) && !cur.trim().is_empty() {
            terms.push(cur.trim().to_string());
            ops.push(c);
            cur.clear();
        } else if !c.is_whitespace() {
            cur.push(c);
        }
    }
    if cur.trim().is_empty() {
        return Err(format!("incomplete expression `{text}`"));
    }
    terms.push(cur.trim().to_string());
    let term = |t: &str| -> Result<Expr, String> {
        if let Some(v) = parse_int(t) {
            Ok(Expr::Int(v))
        } else if t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || (t.starts_with("sum(")
                && t.ends_with(')')
                && t[4..t.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        {
            Ok(Expr::Name(t.to_string()))
        } else {
            Err(format!("bad term `{t}` in expression `{text}`"))
        }
    };
    let mut e = term(&terms[0])?;
    for (op, t) in ops.into_iter().zip(terms.iter().skip(1)) {
        e = Expr::Binary(Box::new(e), op, Box::new(term(t)?));
    }
    Ok(e)
}

struct Cursor<'a> {
    toks: Vec<Tok<'a>>,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<&Tok<'a>> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok<'a>> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn done(&self) -> bool {
        self.pos >= self.toks.len()
    }
    fn word(&mut self, what: &str) -> Result<String, String> {
        match self.next() {
            Some(Tok::Word(w)) => Ok(w.to_string()),
            other => Err(format!("expected {what}, found {}", show(other.as_ref()))),
        }
    }
    fn string(&mut self, what: &str) -> Result<String, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(s),
            other => Err(format!("expected {what}, found {}", show(other.as_ref()))),
        }
    }
    fn is_punct(&self, c: char) -> bool {
        self.peek() == Some(&Tok::Punct(c))
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if *x == w)
    }
    fn punct(&mut self, c: char) -> Result<(), String> {
        match self.next() {
            Some(Tok::Punct(x)) if x == c => Ok(()),
            other => Err(format!("expected `{c}`, found {}", show(other.as_ref()))),
        }
    }
    fn end(&self) -> Result<(), String> {
        if self.done() {
            Ok(())
        } else {
            Err(format!("unexpected {}", show(self.peek())))
        }
    }
    /// Raw text up to the matching `]` (the `[` already consumed).
    fn bracket_text(&mut self) -> Result<String, String> {
        let mut s = String::new();
        loop {
            match self.next() {
                Some(Tok::Punct(']')) => return Ok(s.trim_end().to_string()),
                Some(Tok::Word(w)) => {
                    s.push_str(w);
                    s.push(' ');
                }
                Some(Tok::Punct(c @ ('(' | ')'))) => {
                    s.truncate(s.trim_end().len());
                    s.push(c);
                }
                other => return Err(format!("expected `]`, found {}", show(other.as_ref()))),
            }
        }
    }
    /// An optional arch list `[x86_32 x86_64]`.
    fn arches(&mut self) -> Result<ArchSet, String> {
        if !self.is_punct('[') {
            return Ok(None);
        }
        self.next();
        let mut v = Vec::new();
        loop {
            match self.next() {
                Some(Tok::Punct(']')) => break,
                Some(Tok::Word(w)) => v.push(w.parse::<Arch>().map_err(|e| e.to_string())?),
                other => {
                    return Err(format!(
                        "expected an arch name, found {}",
                        show(other.as_ref())
                    ));
                }
            }
        }
        Ok(Some(v))
    }
    /// Optional attributes: `aligned(N)`, `packed`.
    fn attributes(&mut self) -> Result<(Option<u32>, bool), String> {
        let (mut aligned, mut packed) = (None, false);
        loop {
            if self.is_word("aligned") {
                self.next();
                self.punct('(')?;
                let n = self.word("alignment")?;
                aligned = Some(n.parse().map_err(|_| format!("bad alignment `{n}`"))?);
                self.punct(')')?;
            } else if self.is_word("packed") {
                self.next();
                packed = true;
            } else {
                return Ok((aligned, packed));
            }
        }
    }
}

fn show(t: Option<&Tok<'_>>) -> String {
    match t {
        None => "end of line".into(),
        Some(Tok::Word(w)) => format!("`{w}`"),
        Some(Tok::Str(s)) => format!("\"{s}\""),
        Some(Tok::Punct(c)) => format!("`{c}`"),
    }
}

fn confidence(w: &str) -> Result<Confidence, String> {
    match w {
        "high" => Ok(Confidence::High),
        "medium" => Ok(Confidence::Medium),
        "low" => Ok(Confidence::Low),
        _ => Err(format!("expected high, medium or low, found `{w}`")),
    }
}

struct Lines<'a> {
    lines: Vec<(usize, &'a str)>,
    pos: usize,
}

impl<'a> Lines<'a> {
    fn next(&mut self) -> Option<(usize, &'a str)> {
        let l = self.lines.get(self.pos).copied();
        self.pos += 1;
        l
    }
}

/// Parses one schema file. `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Schema, ParseError> {
    parse_up_to(file, text, false)
}

/// The statements a schema file opens with, which say what revision it is: enough to
/// find a revision by name and to rule it out from an image's header.
const PROVENANCE: &[&str] = &[
    "ckpt-schema",
    "revision",
    "ordinal",
    "commit",
    "date",
    "subject",
    "checkpoint-version",
    "tag",
    "kernel",
    "alias",
    "arch",
    "arch-record",
];

/// Parses only the provenance statements at the top of a schema file (up to its first
/// other statement): the returned schema has no constants, types, records or payloads.
/// Start-up reads this of every embedded file and parses a whole file only when its
/// revision is needed.
pub(crate) fn parse_provenance(file: &str, text: &str) -> Result<Schema, ParseError> {
    parse_up_to(file, text, true)
}

fn parse_up_to(file: &str, text: &str, provenance_only: bool) -> Result<Schema, ParseError> {
    let mut lines = Lines {
        lines: text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .filter(|(_, l)| {
                let t = l.trim();
                !t.is_empty() && !t.starts_with('#')
            })
            .take_while(|(_, l)| {
                !provenance_only
                    || PROVENANCE.contains(&l.split_whitespace().next().unwrap_or_default())
            })
            .collect(),
        pos: 0,
    };
    let mut s = Schema {
        language: LANGUAGE_VERSION,
        id: String::new(),
        ordinal: 0,
        commit: String::new(),
        date: String::new(),
        subject: String::new(),
        checkpoint_version: 0,
        tags: vec![],
        kernels: vec![],
        aliases: vec![],
        arches: vec![],
        opaque_arches: vec![],
        consts: vec![],
        enums: vec![],
        structs: vec![],
        records: vec![],
        payloads: vec![],
        kernel_constants: vec![],
        grammar: String::new(),
    };
    let mut last_line = 0;
    while let Some((no, line)) = lines.next() {
        last_line = no;
        statement(&mut s, &mut lines, line).map_err(|message| ParseError {
            file: file.to_string(),
            line: lines
                .lines
                .get(lines.pos.saturating_sub(1))
                .map_or(no, |l| l.0),
            message,
        })?;
    }
    let err = |message: String| ParseError {
        file: file.to_string(),
        line: last_line,
        message,
    };
    if s.id.is_empty() || s.commit.len() != 40 || s.ordinal == 0 || s.checkpoint_version == 0 {
        return Err(err(
            "missing provenance: revision, ordinal, commit (40 hex digits) and checkpoint-version are required".into(),
        ));
    }
    if s.arches.is_empty() {
        return Err(err("no `arch` line".into()));
    }
    Ok(s)
}

fn statement(s: &mut Schema, lines: &mut Lines<'_>, line: &str) -> Result<(), String> {
    let mut c = Cursor {
        toks: tokenize(line)?,
        pos: 0,
    };
    let kw = c.word("a keyword")?;
    match kw.as_str() {
        "ckpt-schema" => {
            let v = c.word("a language version")?;
            let full = if v.matches('.').count() == 1 {
                format!("{v}.0")
            } else {
                v.clone()
            };
            let ver =
                semver::Version::parse(&full).map_err(|e| format!("bad version `{v}`: {e}"))?;
            if ver.major != LANGUAGE_VERSION.major || ver.minor > LANGUAGE_VERSION.minor {
                return Err(format!(
                    "schema language {ver} is not supported (this build reads {LANGUAGE_VERSION})"
                ));
            }
            s.language = ver;
        }
        "revision" => s.id = c.word("a revision id")?,
        "ordinal" => {
            let w = c.word("a number")?;
            s.ordinal = w.parse().map_err(|_| format!("bad ordinal `{w}`"))?;
        }
        "commit" => {
            let w = c.word("a commit")?;
            if w.len() != 40 || !w.chars().all(|x| x.is_ascii_hexdigit()) {
                return Err(format!("commit must be 40 hex digits, found `{w}`"));
            }
            s.commit = w.to_ascii_lowercase();
        }
        "date" => s.date = c.word("a date")?,
        "subject" => s.subject = c.string("a quoted subject")?,
        "checkpoint-version" => {
            let w = c.word("a number")?;
            s.checkpoint_version = w
                .parse()
                .map_err(|_| format!("bad checkpoint-version `{w}`"))?;
        }
        "tag" | "kernel" => {
            let value = c.word("a value")?;
            let conf = confidence(&c.word("a confidence")?)?;
            let evidence = if c.done() {
                String::new()
            } else {
                c.string("evidence")?
            };
            let claim = Claim {
                value,
                confidence: conf,
                evidence,
            };
            if kw == "tag" {
                s.tags.push(claim)
            } else {
                s.kernels.push(claim)
            }
        }
        "alias" => s.aliases.push(c.word("an alias")?),
        "arch" => {
            let a: Arch = c
                .word("an arch")?
                .parse()
                .map_err(|e: crate::arch::UnknownArch| e.to_string())?;
            let w = c.word("an arch id")?;
            s.arches
                .push((a, w.parse().map_err(|_| format!("bad arch id `{w}`"))?));
        }
        "arch-record" => {
            let a: Arch = c
                .word("an arch")?
                .parse()
                .map_err(|e: crate::arch::UnknownArch| e.to_string())?;
            let w = c.word("`opaque`")?;
            if w != "opaque" {
                return Err(format!("expected `opaque`, found `{w}`"));
            }
            s.opaque_arches.push(a);
        }
        "const" => {
            let name = c.word("a constant name")?;
            let arches = c.arches()?;
            c.punct('=')?;
            let w = c.word("a value")?;
            let value = parse_int(&w).ok_or_else(|| format!("bad integer `{w}`"))?;
            s.consts.push(ConstDef {
                name,
                arches,
                value,
            });
        }
        "enum" => {
            let kind = c.word("an enum kind")?;
            let arches = c.arches()?;
            let prefix = c.word("a prefix")?;
            c.punct('{')?;
            c.end()?;
            let mut values = Vec::new();
            loop {
                let (_, l) = lines.next().ok_or("unterminated enum")?;
                let mut e = Cursor {
                    toks: tokenize(l)?,
                    pos: 0,
                };
                if e.is_punct('}') {
                    break;
                }
                let name = e.word("an enumerator")?;
                e.punct('=')?;
                let w = e.word("a value")?;
                let v = parse_int(&w).ok_or_else(|| format!("bad integer `{w}`"))?;
                e.end()?;
                values.push((name, v as i64));
            }
            s.enums.push(EnumDef {
                kind,
                arches,
                prefix,
                values,
            });
        }
        "struct" | "union" => {
            let name = c.word("a struct name")?;
            let arches = c.arches()?;
            let (aligned, packed) = c.attributes()?;
            c.punct('{')?;
            c.end()?;
            let members = struct_body(lines)?.0;
            s.structs.push(StructDef {
                name,
                arches,
                is_union: kw == "union",
                aligned,
                packed,
                members,
            });
        }
        "record" => {
            let record = c.word("a record type")?;
            let arches = c.arches()?;
            let body = record_body(&mut c, lines)?;
            s.records.push(RecordDef {
                record,
                arches,
                body,
            });
        }
        "payload" => {
            let record = c.word("a record type")?;
            let arches = c.arches()?;
            let mut items = Vec::new();
            loop {
                items.push(payload_item(&mut c)?);
                if c.done() {
                    break;
                }
                c.punct(',')?;
            }
            s.payloads.push(PayloadDef {
                record,
                arches,
                items,
            });
        }
        "kernel-constants" => {
            let kernel = c.word("a kernel version")?;
            let arch: Arch = c
                .word("an arch")?
                .parse()
                .map_err(|e: crate::arch::UnknownArch| e.to_string())?;
            let (mut config, mut default) = (None, false);
            if c.is_word("when") {
                c.next();
                let opt = c.word("a config option")?;
                c.punct('=')?;
                config = Some((opt, c.word("a config value")?));
                if c.is_word("default") {
                    c.next();
                    default = true;
                }
            }
            let mut values = Vec::new();
            while !c.done() {
                let name = c.word("a ckpt_const member")?;
                c.punct('=')?;
                let w = c.word("a value")?;
                let v = parse_int(&w)
                    .and_then(|v| u64::try_from(v).ok())
                    .ok_or_else(|| format!("bad value `{w}`"))?;
                values.push((name, v));
            }
            s.kernel_constants.push(KernelConstants {
                kernel,
                arch,
                config,
                default,
                values,
            });
        }
        "grammar" => {
            c.punct('{')?;
            c.end()?;
            loop {
                let (_, l) = lines.next().ok_or("unterminated grammar block")?;
                if l.trim_start().starts_with('}') {
                    break;
                }
                s.grammar.push_str(l.strip_prefix("  ").unwrap_or(l));
                s.grammar.push('\n');
            }
        }
        other => return Err(format!("unknown statement `{other}`")),
    }
    if !c.done() && kw != "enum" && kw != "struct" && kw != "union" && kw != "grammar" {
        c.end()?;
    }
    Ok(())
}

/// Member lines up to the closing `}`; returns the members and the tokens after `}`.
fn struct_body<'a>(lines: &mut Lines<'a>) -> Result<(Vec<Member>, Cursor<'a>), String> {
    let mut members = Vec::new();
    loop {
        let (_, l) = lines.next().ok_or("unterminated struct")?;
        let mut c = Cursor {
            toks: tokenize(l)?,
            pos: 0,
        };
        if c.is_punct('}') {
            c.next();
            return Ok((members, c));
        }
        let first = c.word("a member type")?;
        if (first == "struct" || first == "union") && {
            let save = c.pos;
            let _ = c.attributes();
            let opens = c.is_punct('{');
            c.pos = save;
            opens
        } {
            let (aligned, packed) = c.attributes()?;
            c.punct('{')?;
            c.end()?;
            let (inner, mut after) = struct_body(lines)?;
            let def = StructDef {
                name: String::new(),
                arches: None,
                is_union: first == "union",
                aligned,
                packed,
                members: inner,
            };
            let (name, dims, align) = declarator(&mut after, true)?;
            members.push(Member {
                ty: CType::Inline(Box::new(def)),
                name,
                dims,
                align,
            });
            continue;
        }
        // A plain member: type words, then the name, then dimensions.
        let mut words = vec![first];
        while let Some(Tok::Word(_)) = c.peek() {
            words.push(c.word("")?);
        }
        // Attributes were taken as words: put them back.
        if words.len() >= 2 && words.last().is_some_and(|w| w == "aligned") {
            words.pop();
            c.pos -= 1;
        }
        if words.len() < 2 {
            return Err(format!(
                "member `{}` needs a type and a name",
                words.join(" ")
            ));
        }
        let name = words.pop().unwrap();
        let ty = if words[0] == "struct" || words[0] == "union" {
            if words.len() != 2 {
                return Err(format!("bad struct type `{}`", words.join(" ")));
            }
            CType::Named(words[1].clone())
        } else {
            CType::Prim(words.join(" "))
        };
        let mut dims = Vec::new();
        while c.is_punct('[') {
            c.next();
            dims.push(parse_expr(&c.bracket_text()?)?);
        }
        let (align, _) = c.attributes()?;
        c.end()?;
        members.push(Member {
            ty,
            name: Some(name),
            dims,
            align,
        });
    }
}

/// A nested type's declarator: name, dimensions, member alignment.
type Declarator = (Option<String>, Vec<Expr>, Option<u32>);

/// After a nested type's `}`: optional name, dimensions and member attributes.
fn declarator(c: &mut Cursor, allow_anon: bool) -> Result<Declarator, String> {
    let (a1, _) = c.attributes()?;
    let name = match c.peek() {
        Some(Tok::Word(_)) => Some(c.word("a member name")?),
        _ if allow_anon => None,
        other => return Err(format!("expected a member name, found {}", show(other))),
    };
    let mut dims = Vec::new();
    while c.is_punct('[') {
        c.next();
        dims.push(parse_expr(&c.bracket_text()?)?);
    }
    let (a2, _) = c.attributes()?;
    c.end()?;
    Ok((name, dims, a1.or(a2)))
}

fn ctype_words(c: &mut Cursor) -> Result<CType, String> {
    let w = c.word("a type")?;
    if w == "struct" || w == "union" {
        Ok(CType::Named(c.word("a struct name")?))
    } else {
        let mut words = vec![w];
        while matches!(c.peek(), Some(Tok::Word(x)) if matches!(*x, "long" | "int" | "short" | "char"))
        {
            words.push(c.word("")?);
        }
        Ok(CType::Prim(words.join(" ")))
    }
}

fn record_body(c: &mut Cursor, lines: &mut Lines<'_>) -> Result<RecordBody, String> {
    let w = c.word("a struct name, `bytes` or `string`")?;
    match w.as_str() {
        "bytes" => return Ok(RecordBody::Bytes),
        "string" => return Ok(RecordBody::String),
        _ => {}
    }
    if c.is_word("by") {
        c.next();
        let selector = c.word("a selector member")?;
        c.punct('{')?;
        c.end()?;
        let mut cases = Vec::new();
        loop {
            let (_, l) = lines.next().ok_or("unterminated record cases")?;
            let mut e = Cursor {
                toks: tokenize(l)?,
                pos: 0,
            };
            if e.is_punct('}') {
                break;
            }
            let case = e.word("a case")?;
            let st = e.word("a struct")?;
            if e.is_punct(',') {
                e.next();
            }
            e.end()?;
            cases.push((case, st));
        }
        return Ok(RecordBody::Select {
            common: w,
            selector,
            cases,
        });
    }
    let mut tail = None;
    if c.is_word("tail") {
        c.next();
        let elem = ctype_words(c)?;
        c.punct('[')?;
        let t = c.bracket_text()?;
        let count = if t.trim() == "*" {
            None
        } else {
            Some(parse_expr(&t)?)
        };
        let at = if c.is_word("at") {
            c.next();
            Some(c.word("a member")?)
        } else {
            None
        };
        tail = Some(Tail { elem, count, at });
    }
    Ok(RecordBody::Struct { name: w, tail })
}

fn payload_item(c: &mut Cursor) -> Result<PayloadItem, String> {
    let kind = c.word("a record kind")?;
    let name = c.word("a payload name")?;
    let mut elements = None;
    let mut length = None;
    if matches!(c.peek(), Some(Tok::Word(w)) if *w != "if") {
        let ty = c.word("an element type")?;
        let ty = if ty == "struct" {
            c.word("a struct name")?
        } else {
            ty
        };
        c.punct('[')?;
        elements = Some((ty, parse_expr(&c.bracket_text()?)?));
    }
    if c.is_punct('[') {
        c.next();
        length = Some(parse_expr(&c.bracket_text()?)?);
    }
    let mut condition = None;
    if c.is_word("if") {
        c.next();
        let mut text = String::new();
        while let Some(t) = c.peek() {
            match t {
                Tok::Punct(',') => break,
                Tok::Word(w) => text.push_str(w),
                Tok::Punct(p) => text.push(*p),
                Tok::Str(_) => return Err("unexpected string in a condition".into()),
            }
            c.next();
        }
        condition = Some(parse_expr(&text)?);
    }
    Ok(PayloadItem {
        kind,
        name,
        elements,
        length,
        condition,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINI: &str = r#"
ckpt-schema 1.0
revision test
ordinal 1
commit 0123456789abcdef0123456789abcdef01234567
date 2011-04-16
subject "a \"quoted\" subject"
checkpoint-version 6
kernel 2.6.37 low "guess"
arch x86_32 1
arch s390x 3
const NCC [s390x] = 8
const PID_NULL = -4096
enum hdr CKPT_HDR_ {
  HEADER = 1
  BUFFER = 4
}
struct ckpt_hdr aligned(8) {
  __u32 type
  __u32 len
}
struct demo aligned(8) {
  struct ckpt_hdr h
  __u32 a
  unsigned long b
  char name[PID_NULL + 4097]
  struct aligned(8) {
    __u64 x
  } inner
  union {
    __u32 u
    __u16 v
  }
}
record HEADER demo tail __u32[a] at a
payload HEADER BUFFER one [NCC], BUFFER two demo[a] if a
grammar {
  HEADER
}
"#;

    #[test]
    fn parses_every_statement() {
        let s = parse("mini", MINI).unwrap();
        assert_eq!(s.id, "test");
        assert_eq!(s.subject, "a \"quoted\" subject");
        assert_eq!(s.constant("NCC", Arch::S390x), Some(8));
        assert_eq!(s.constant("NCC", Arch::X86_32), None);
        assert_eq!(s.constant("PID_NULL", Arch::X86_32), Some(-4096));
        assert_eq!(s.enum_value("hdr", "BUFFER", Arch::X86_32), Some(4));
        let demo = s.struct_def("demo", Arch::X86_32).unwrap();
        assert_eq!(demo.members.len(), 6);
        assert_eq!(demo.members[2].ty, CType::Prim("unsigned long".into()));
        assert!(matches!(&demo.members[5].ty, CType::Inline(d) if d.is_union));
        assert_eq!(demo.members[5].name, None);
        let p = s.payload_def("HEADER", Arch::X86_32).unwrap();
        assert_eq!(p.items.len(), 2);
        assert_eq!(p.items[1].condition, Some(Expr::Name("a".into())));
        assert_eq!(s.grammar, "HEADER\n");
    }

    #[test]
    fn errors_name_the_line() {
        let bad = MINI.replace("__u32 len", "__u32");
        let e = parse("mini", &bad).unwrap_err();
        assert!(e.message.contains("needs a type and a name"), "{e}");
        assert_eq!(e.line, 20);
    }

    #[test]
    fn rejects_newer_language() {
        let e = parse("mini", &MINI.replace("ckpt-schema 1.0", "ckpt-schema 1.9")).unwrap_err();
        assert!(e.message.contains("not supported"));
    }

    #[test]
    fn sums_of_earlier_payloads() {
        let t = MINI.replace(
            "payload HEADER BUFFER one [NCC], BUFFER two demo[a] if a",
            "payload HEADER BUFFER one demo[a], BUFFER two __s32[sum(one.a)] if sum(one.a)",
        );
        let s = parse("mini", &t).unwrap();
        let p = s.payload_def("HEADER", Arch::X86_32).unwrap();
        assert_eq!(p.items[1].condition, Some(Expr::Name("sum(one.a)".into())));
        assert_eq!(
            p.items[1].elements,
            Some(("__s32".into(), Expr::Name("sum(one.a)".into())))
        );
    }

    #[test]
    fn expressions() {
        assert_eq!(
            parse_expr("A/8").unwrap(),
            Expr::Binary(
                Box::new(Expr::Name("A".into())),
                '/',
                Box::new(Expr::Int(8))
            )
        );
        assert!(parse_expr("A +").is_err());
    }
}
