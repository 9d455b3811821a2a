//! The streaming reader: records one at a time from any [`Input`], in memory bounded by
//! [`crate::limits`], with page contents streamed through or skipped, never collected.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::rc::Rc;

use crate::arch::Endian;
use crate::error::{Error, ErrorKind, Position, Result};
use crate::format::{Format, HDR_SIZE, LengthRule, MAGIC_HEAD};
use crate::input::Input;
use crate::layout::TypeLayout;
use crate::limits;
use crate::schema::{Expr, PayloadItem, RecordBody};
use crate::value::{TypedField, Value, decode_field, decode_struct, decode_struct_typed, get_uint};

/// Name given to the headerless raw page that follows a SOCKET_FRAG record.
pub const RAW_PAGE: &str = "RAW_PAGE";

/// One record of an image, as the reader found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordInfo {
    /// Index in the image (0 = HEADER).
    pub index: u64,
    /// Byte offset of the record's first byte.
    pub offset: u64,
    /// Type number (0 for a headerless raw page).
    pub rtype: u32,
    /// Total length, pre-header included (for a raw page: its size).
    pub len: u32,
    /// Type name in the revision (`TASK`), or [`RAW_PAGE`].
    pub name: &'static str,
    /// When the record is the payload of another: the owner's type name and the
    /// payload's name (`("HEADER", "uts_release")`, `("PGARR", "pages")`).
    pub payload_of: Option<(&'static str, &'static str)>,
    /// True when the body was read into memory (see [`Reader::record_bytes`]); false when
    /// it is streamed (page contents, bodies above [`limits::MAX_INLINE_BODY`]).
    pub inline: bool,
    /// True for bytes that have no pre-header of their own (raw socket pages).
    pub headerless: bool,
}

impl RecordInfo {
    /// Length of the body (the record without its pre-header).
    pub fn body_len(&self) -> u32 {
        if self.headerless {
            self.len
        } else {
            self.len - HDR_SIZE
        }
    }
}

/// A payload record announced by an owner record, evaluated when its turn comes (its
/// condition and count may depend on earlier payloads of the same owner).
#[derive(Debug, Clone)]
struct Expected {
    owner: &'static str,
    item: &'static PayloadItem,
    /// The owner's integer fields.
    ctx: Rc<Vec<(String, i128)>>,
}

/// An [`Expected`] payload, evaluated.
#[derive(Debug, Clone)]
struct Due {
    owner: &'static str,
    kind: &'static str,
    name: &'static str,
    length: Option<u64>,
    element: Option<(&'static str, u64)>,
}

/// The top-level structure checked while reading: HEADER, HEADER_ARCH, CONTAINER, the
/// tree, one section per task, TAIL (grammar.md §1). The order inside a task is not checked.
#[derive(Debug, Default)]
struct Structure {
    /// Index of the next top-level record expected: 0 HEADER, 1 HEADER_ARCH, 2 CONTAINER,
    /// 3 the tree, 4 tasks.
    step: u8,
    /// `nr_tasks` of the TREE record.
    nr_tasks: Option<u64>,
    /// TASK records seen.
    tasks: u64,
    /// The last record was a task's comm: the next one shows the per-task order.
    after_comm: bool,
}

/// The decoded fields of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The struct the record holds (`ckpt_hdr_task`), if any.
    pub struct_name: Option<String>,
    /// Every field, by dotted path, in layout order; tail elements as `NAME[i]...`.
    pub fields: Vec<(String, Value)>,
    /// For STRING-like records: the text up to the first NUL.
    pub text: Option<String>,
}

/// [`Decoded`] with each field's primitive ([`decode_record_typed`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TypedDecoded {
    /// The struct the record holds (`ckpt_hdr_task`), if any.
    pub struct_name: Option<String>,
    /// Every field, by dotted path, in layout order; tail elements as `NAME[i]...`.
    pub fields: Vec<TypedField>,
    /// For STRING-like records: the text up to the first NUL.
    pub text: Option<String>,
}

impl From<TypedDecoded> for Decoded {
    fn from(d: TypedDecoded) -> Decoded {
        Decoded {
            struct_name: d.struct_name,
            fields: d.fields.into_iter().map(|f| (f.path, f.value)).collect(),
            text: d.text,
        }
    }
}

impl Decoded {
    /// The value of field `path`.
    pub fn get(&self, path: &str) -> Option<&Value> {
        self.fields.iter().find(|(p, _)| p == path).map(|(_, v)| v)
    }
    /// The integer value of field `path`.
    pub fn int(&self, path: &str) -> Option<i128> {
        self.get(path).and_then(Value::as_int)
    }
}

/// Reads the records of an image of a known [`Format`], one at a time.
///
/// ```no_run
/// # use ckpt_format::{read::Reader, format::Format, Registry, Arch};
/// let schema = Registry::get().find("v23-rc2").unwrap();
/// let file = std::fs::File::open("image.ckpt").unwrap();
/// let mut reader = Reader::new(file, Format::new(schema, Arch::X86_64));
/// while let Some(rec) = reader.next_record().unwrap() {
///     println!("{:#x} {} {}", rec.offset, rec.name, rec.len);
/// }
/// ```
pub struct Reader<R> {
    src: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    src_eof: bool,
    offset: u64,
    index: u64,
    format: Format,
    record: Vec<u8>,
    current: Option<RecordInfo>,
    pending: u64,
    expect: VecDeque<Expected>,
    /// Sums of element members of the payloads read so far for the current owner
    /// (`pids.depth`), for `sum(...)` in later payload rules.
    sums: HashMap<String, i128>,
    header_consts: HashMap<String, i128>,
    finished: bool,
    /// Where in the image's top-level structure the reader is.
    structure: Structure,
    failed: bool,
}

impl<R: Input> Reader<R> {
    /// A reader of `src`, an image of `format`, positioned at its first byte.
    pub fn new(src: R, format: Format) -> Reader<R> {
        Reader::with_prefix(src, format, Vec::new())
    }

    /// Like [`Reader::new`] when the first bytes of the image were already read from
    /// `src` (detection on a pipe): `prefix` is read first.
    pub fn with_prefix(src: R, format: Format, prefix: Vec<u8>) -> Reader<R> {
        let end = prefix.len();
        let mut buf = prefix;
        buf.resize(buf.len().max(limits::READ_BUFFER), 0);
        Reader {
            src,
            buf,
            start: 0,
            end,
            src_eof: false,
            offset: 0,
            index: 0,
            format,
            record: Vec::new(),
            current: None,
            pending: 0,
            expect: VecDeque::new(),
            sums: HashMap::new(),
            header_consts: HashMap::new(),
            finished: false,
            structure: Structure::default(),
            failed: false,
        }
    }

    /// The format being read.
    pub fn format(&self) -> &Format {
        &self.format
    }

    /// Byte offset of the next unread byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// True once TAIL (or a failed checkpoint's ERROR and message) was read.
    pub fn finished(&self) -> bool {
        self.finished
    }

    fn pos(&self) -> Position {
        match &self.current {
            Some(r) => Position {
                offset: r.offset,
                record: Some(r.index),
                rtype: Some((r.rtype, Some(r.name))),
            },
            None => Position {
                offset: self.offset,
                record: Some(self.index),
                rtype: None,
            },
        }
    }

    /// An I/O error of the source at the current position.
    fn io_fail(&mut self, e: io::Error) -> Error {
        let p = self.pos();
        self.fail(e.into(), p)
    }

    fn fail(&mut self, kind: ErrorKind, pos: Position) -> Error {
        self.failed = true;
        Error::new(kind, pos)
    }

    /// Ensures `n` bytes are buffered (fewer only at the end of the source).
    fn fill(&mut self, n: usize) -> io::Result<usize> {
        if self.end - self.start >= n {
            return Ok(n);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() < n {
            self.buf.resize(n, 0);
        }
        // Read ahead at most READ_BUFFER (or what is asked): the buffer may be larger
        // (the detection prefix, a long inline record), and filling all of it would read
        // page contents that a skip or a direct payload read avoids.
        let cap = self.buf.len().min(n.max(limits::READ_BUFFER));
        while self.end < n && !self.src_eof {
            match self.src.read(&mut self.buf[self.end..cap]) {
                Ok(0) => self.src_eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end - self.start)
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    /// Reads exactly `n` bytes into `self.record` (appending).
    fn take_into_record(&mut self, n: usize, what: &str) -> Result<()> {
        let mut left = n;
        while left > 0 {
            let want = left.min(self.buf.len().max(limits::READ_BUFFER));
            let got = self
                .fill(want.min(limits::READ_BUFFER))
                .map_err(|e| self.io_fail(e))?;
            if got == 0 {
                let p = self.pos();
                return Err(self.fail(
                    ErrorKind::Truncated(format!("{what}: {} of {n} bytes present", n - left)),
                    p,
                ));
            }
            let k = got.min(left);
            self.record
                .extend_from_slice(&self.buf[self.start..self.start + k]);
            self.consume(k);
            left -= k;
        }
        Ok(())
    }

    /// Skips the rest of a streamed body.
    fn skip_pending(&mut self) -> Result<()> {
        let buffered = (self.end - self.start) as u64;
        let k = buffered.min(self.pending);
        self.consume(k as usize);
        self.pending -= k;
        if self.pending > 0 {
            let n = self.pending;
            self.src.skip(n).map_err(|e| {
                let p = self.pos();
                if e.kind() == io::ErrorKind::UnexpectedEof {
                    self.fail(
                        ErrorKind::Truncated("the record's body is cut short".into()),
                        p,
                    )
                } else {
                    self.fail(e.into(), p)
                }
            })?;
            self.offset += n;
            self.pending = 0;
        }
        Ok(())
    }

    /// Reads up to `out.len()` bytes of the current streamed body; 0 at its end.
    pub fn read_payload(&mut self, out: &mut [u8]) -> Result<usize> {
        if self.pending == 0 || out.is_empty() {
            return Ok(0);
        }
        let want = (out.len() as u64).min(self.pending) as usize;
        let k = if self.end > self.start {
            want.min(self.end - self.start)
        } else if want >= limits::READ_BUFFER {
            // Large reads bypass the buffer.
            let k = loop {
                match self.src.read(&mut out[..want]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            }
            .map_err(|e| self.io_fail(e))?;
            if k == 0 {
                let p = self.pos();
                return Err(self.fail(
                    ErrorKind::Truncated("the record's body is cut short".into()),
                    p,
                ));
            }
            self.offset += k as u64;
            self.pending -= k as u64;
            return Ok(k);
        } else {
            let got = self.fill(want).map_err(|e| self.io_fail(e))?;
            if got == 0 {
                let p = self.pos();
                return Err(self.fail(
                    ErrorKind::Truncated("the record's body is cut short".into()),
                    p,
                ));
            }
            want.min(got)
        };
        out[..k].copy_from_slice(&self.buf[self.start..self.start + k]);
        self.consume(k);
        self.pending -= k as u64;
        Ok(k)
    }

    /// Copies the rest of the current streamed body to `w`; returns the bytes copied.
    pub fn copy_payload<W: Write + ?Sized>(&mut self, w: &mut W) -> Result<u64> {
        let mut chunk = vec![0u8; limits::READ_BUFFER];
        let mut total = 0;
        loop {
            let k = self.read_payload(&mut chunk)?;
            if k == 0 {
                return Ok(total);
            }
            w.write_all(&chunk[..k]).map_err(|e| {
                let p = self.pos();
                Error::new(e.into(), p)
            })?;
            total += k as u64;
        }
    }

    /// Bytes of the current streamed body not read yet.
    pub fn payload_left(&self) -> u64 {
        self.pending
    }

    /// Bytes of the current streamed body already read from the source into the
    /// reader's buffer (the rest is still in the source).
    pub fn payload_buffered(&self) -> u64 {
        ((self.end - self.start) as u64).min(self.pending)
    }

    /// The source file, positioned at the next unread byte of the current streamed
    /// body: only while none of the body is buffered and the source is a file.
    pub(crate) fn payload_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        if self.pending == 0 || self.end > self.start {
            return None;
        }
        self.src.as_file_fd()
    }

    /// Accounts for `n` bytes of the current body copied from [`Reader::payload_fd`]
    /// by someone else (the source's offset moved past them).
    pub(crate) fn payload_copied(&mut self, n: u64) {
        debug_assert!(n <= self.pending);
        self.offset += n;
        self.pending -= n;
    }

    /// The whole current record (pre-header included), when it is inline.
    pub fn record_bytes(&self) -> &[u8] {
        &self.record
    }

    /// Reads the next record. `Ok(None)` after TAIL (or after a failed checkpoint's
    /// error message); an error for anything that is not a valid record at that point.
    pub fn next_record(&mut self) -> Result<Option<RecordInfo>> {
        if self.failed {
            return Ok(None);
        }
        self.skip_pending()?;
        self.record.clear();
        self.current = None;
        let due = loop {
            let Some(e) = self.expect.front().cloned() else {
                break None;
            };
            match self.resolve(&e) {
                Ok(None) => {
                    self.expect.pop_front();
                }
                Ok(Some(d)) if d.kind == "RAW" => {
                    self.expect.pop_front();
                    return self.raw_page(d).map(Some);
                }
                Ok(Some(d)) => break Some(d),
                Err(k) => {
                    let p = self.pos();
                    return Err(self.fail(k, p));
                }
            }
        };
        let have = self.fill(HDR_SIZE as usize).map_err(|e| self.io_fail(e))?;
        if have == 0 {
            if self.finished {
                return Ok(None);
            }
            let p = self.pos();
            return Err(self.fail(
                ErrorKind::Truncated(if let Some(e) = &due {
                    format!("expected {} ({}) after {}", e.kind, e.name, e.owner)
                } else {
                    "the image ends before its TAIL record".into()
                }),
                p,
            ));
        }
        if self.finished {
            let p = self.pos();
            return Err(self.fail(ErrorKind::Grammar("data after the TAIL record".into()), p));
        }
        if have < HDR_SIZE as usize {
            let p = self.pos();
            return Err(self.fail(
                ErrorKind::Truncated(format!("record pre-header: {have} of 8 bytes present")),
                p,
            ));
        }
        let endian = self.format.endian();
        let hdr = &self.buf[self.start..self.start + 8];
        let rtype = get_uint(&hdr[..4], endian) as u32;
        let len = get_uint(&hdr[4..], endian) as u32;
        let offset = self.offset;
        let index = self.index;
        let mut pos = Position {
            offset,
            record: Some(index),
            rtype: Some((rtype, None)),
        };
        let Some(name) = self.format.record_name(rtype) else {
            return Err(self.fail(
                ErrorKind::UnknownRecord {
                    rtype,
                    revision: self.format.schema.id.clone(),
                },
                pos,
            ));
        };
        pos.rtype = Some((rtype, Some(name)));
        if len < HDR_SIZE {
            return Err(self.fail(
                ErrorKind::BadLength {
                    expected: ">= 8".into(),
                    found: len,
                },
                pos,
            ));
        }
        if index == 0 && name != "HEADER" {
            return Err(self.fail(
                ErrorKind::Grammar(format!("the image starts with {name}, not HEADER")),
                pos,
            ));
        }
        // Payload bookkeeping: is this record the payload that the grammar expects?
        let mut payload_of = None;
        let mut element = None;
        if let Some(e) = due {
            if e.kind != name {
                return Err(self.fail(
                    ErrorKind::Grammar(format!(
                        "expected {} ({}) after {}, found {name}",
                        e.kind, e.name, e.owner
                    )),
                    pos,
                ));
            }
            self.expect.pop_front();
            if let Some(l) = e.length
                && l + HDR_SIZE as u64 != len as u64
            {
                return Err(self.fail(
                    ErrorKind::BadLength {
                        expected: format!(
                            "{} ({} of {}, {l} bytes of payload)",
                            l + 8,
                            e.name,
                            e.owner
                        ),
                        found: len,
                    },
                    pos,
                ));
            }
            payload_of = Some((e.owner, e.name));
            element = e.element;
        }
        let body_len = len - HDR_SIZE;
        if matches!(
            self.format
                .schema
                .record_def(name, self.format.arch)
                .map(|d| &d.body),
            Some(RecordBody::String)
        ) && body_len > limits::MAX_STRING
        {
            return Err(self.fail(
                ErrorKind::Limit {
                    what: "string length",
                    value: body_len as u64,
                    limit: limits::MAX_STRING as u64,
                },
                pos,
            ));
        }
        let streamed =
            element.is_some_and(|(t, _)| t == "pgarr_chunk") || body_len > limits::MAX_INLINE_BODY;
        let info = RecordInfo {
            index,
            offset,
            rtype,
            len,
            name,
            payload_of,
            inline: !streamed,
            headerless: false,
        };
        self.current = Some(info.clone());
        self.index += 1;
        self.check_task_order(name, payload_of, &pos)?;
        if streamed {
            self.consume(HDR_SIZE as usize);
            self.pending = body_len as u64;
            return Ok(Some(info));
        }
        self.take_into_record(len as usize, name)?;
        self.check_length(name, len, &pos)?;
        if payload_of.is_none() {
            self.check_structure(name, &pos)?;
        }
        self.after_record(name, &pos)?;
        if payload_of.is_some() {
            self.add_sums()?;
        }
        if payload_of.is_some_and(|(owner, _)| owner == "ERROR") {
            // A failed checkpoint ends with ERROR and its message, without TAIL.
            self.finished = true;
        }
        Ok(Some(info))
    }

    /// Checks what follows a live task's comm against the revision's per-task order:
    /// THREAD, RESTART_BLOCK or CPU first from v19-rc1 on, the task's objects first
    /// before it ([`crate::detect::v18_task_order`]). A zombie's comm is followed by the
    /// next TASK (or the end). Layouts alone cannot tell pre-v19.c from v19-rc2: this
    /// is what does, when the revision was named instead of detected.
    fn check_task_order(
        &mut self,
        name: &'static str,
        payload_of: Option<(&'static str, &'static str)>,
        pos: &Position,
    ) -> Result<()> {
        if std::mem::take(&mut self.structure.after_comm)
            && !matches!(name, "TASK" | "TAIL" | "ERROR")
        {
            let schema = self.format.schema;
            let v18 = crate::detect::v18_task_order(schema);
            let cpu_first = matches!(name, "THREAD" | "RESTART_BLOCK" | "CPU");
            if v18 == cpu_first {
                let msg = if v18 {
                    format!(
                        "expected the task's objects after a live task's comm (revision {} writes its THREAD and CPU after them), found {name}",
                        schema.id
                    )
                } else {
                    format!(
                        "expected THREAD, RESTART_BLOCK or CPU after a live task's comm (revision {} writes them before the task's objects), found {name}",
                        schema.id
                    )
                };
                return Err(self.fail(ErrorKind::Grammar(msg), pos.clone()));
            }
        }
        if payload_of.is_some_and(|(owner, _)| owner == "TASK") {
            self.structure.after_comm = true;
        }
        Ok(())
    }

    /// Checks a top-level record against the image structure.
    fn check_structure(&mut self, name: &'static str, pos: &Position) -> Result<()> {
        let st = &mut self.structure;
        let expected = match (st.step, name) {
            (_, "ERROR") => None,
            (0, "HEADER") => {
                st.step = 1;
                None
            }
            (1, "HEADER_ARCH") => {
                st.step = 2;
                None
            }
            (1, _) => Some("HEADER_ARCH after the header"),
            (2, "CONTAINER") => {
                st.step = 3;
                None
            }
            (2, _) => Some("CONTAINER after HEADER_ARCH"),
            (3, "PIDS") => None,
            (3, "TREE") => {
                st.step = 4;
                None
            }
            (3, _) => Some("the process tree (PIDS or TREE) after CONTAINER"),
            (4, "TREE" | "PIDS" | "HEADER" | "HEADER_ARCH" | "CONTAINER") => {
                Some("task records: the tree appears once")
            }
            (4, "TASK") => {
                st.tasks += 1;
                if st.nr_tasks.is_some_and(|n| st.tasks > n) {
                    Some("TAIL: the tree has fewer tasks")
                } else {
                    None
                }
            }
            (4, "TAIL") if st.nr_tasks.is_some_and(|n| n != st.tasks) => {
                let msg = format!(
                    "the tree has {} tasks but the image {} TASK records before TAIL",
                    st.nr_tasks.unwrap_or(0),
                    st.tasks
                );
                return Err(self.fail(ErrorKind::Grammar(msg), pos.clone()));
            }
            (4, _) if st.tasks == 0 && name != "TAIL" => Some("TASK after the tree"),
            _ => None,
        };
        if let Some(want) = expected {
            return Err(self.fail(
                ErrorKind::Grammar(format!("expected {want}, found {name}")),
                pos.clone(),
            ));
        }
        if name == "TREE" {
            let n = self.decode()?.int("nr_tasks").unwrap_or(0);
            self.structure.nr_tasks = Some(n.max(0) as u64);
        }
        Ok(())
    }

    fn raw_page(&mut self, d: Due) -> Result<RecordInfo> {
        let len = d.length.unwrap_or(0).min(limits::MAX_INLINE_BODY as u64) as u32;
        let (owner, pname) = (d.owner, d.name);
        let info = RecordInfo {
            index: self.index,
            offset: self.offset,
            rtype: 0,
            len,
            name: RAW_PAGE,
            payload_of: Some((owner, pname)),
            inline: true,
            headerless: true,
        };
        self.current = Some(info.clone());
        self.index += 1;
        self.take_into_record(len as usize, RAW_PAGE)?;
        Ok(info)
    }

    fn check_length(&mut self, name: &'static str, len: u32, pos: &Position) -> Result<()> {
        let Some(rule) = self.format.length_rule(name) else {
            return Err(self.fail(
                ErrorKind::Grammar(format!(
                    "record {name} has no layout in revision {} on {}",
                    self.format.schema.id, self.format.arch
                )),
                pos.clone(),
            ));
        };
        if !rule.fits(len) {
            let expected = match rule {
                LengthRule::Exact(n) => n.to_string(),
                LengthRule::Multiple { min, step: 1 } => format!(">= {min}"),
                LengthRule::Multiple { min, step } => format!("{min} + a multiple of {step}"),
            };
            return Err(self.fail(
                ErrorKind::BadLength {
                    expected,
                    found: len,
                },
                pos.clone(),
            ));
        }
        // Counted tails: the exact length follows from the count member.
        if let Some(def) = self.format.schema.record_def(name, self.format.arch)
            && let RecordBody::Struct {
                name: st,
                tail: Some(tail),
            } = &def.body
            && let Some(count) = &tail.count
        {
            let layout = self
                .format
                .layout(st)
                .map_err(|e| self.fail(e.into(), pos.clone()))?;
            let fields = decode_struct(&layout, &self.record, self.format.endian());
            let n = self.format.layouts.eval_with(count, &|n| {
                fields
                    .iter()
                    .find(|(p, _)| p == n)
                    .and_then(|(_, v)| v.as_int())
            });
            let n = n.map_err(|e| self.fail(e.into(), pos.clone()))?;
            let elem = match self.format.layouts.type_layout(&tail.elem) {
                Ok(TypeLayout::Prim(p)) => p.size as i128,
                Ok(TypeLayout::Struct(s)) => s.size as i128,
                Err(e) => return Err(self.fail(e.into(), pos.clone())),
            };
            let want = layout.size as i128 + n * elem;
            if n < 0 || want != len as i128 {
                return Err(self.fail(
                    ErrorKind::BadLength {
                        expected: format!("{want} ({n} elements)"),
                        found: len,
                    },
                    pos.clone(),
                ));
            }
        }
        Ok(())
    }

    /// After an inline record: header bookkeeping and the payloads it announces.
    fn after_record(&mut self, name: &'static str, pos: &Position) -> Result<()> {
        let endian = self.format.endian();
        match name {
            "HEADER" => {
                let magic = get_uint(&self.record[8..16], endian);
                if magic != MAGIC_HEAD {
                    return Err(self.fail(
                        ErrorKind::BadMagic {
                            found: magic,
                            expected: MAGIC_HEAD,
                        },
                        pos.clone(),
                    ));
                }
                let layout = self
                    .format
                    .layout("ckpt_hdr_header")
                    .map_err(|e| self.fail(e.into(), pos.clone()))?;
                self.header_consts = decode_struct(&layout, &self.record, endian)
                    .into_iter()
                    .filter_map(|(p, v)| {
                        Some((p.strip_prefix("constants.")?.to_string(), v.as_int()?))
                    })
                    .collect();
            }
            "TAIL" => {
                self.finished = true;
                let magic = get_uint(&self.record[8..16], endian);
                if magic != crate::format::MAGIC_TAIL {
                    return Err(self.fail(
                        ErrorKind::BadMagic {
                            found: magic,
                            expected: crate::format::MAGIC_TAIL,
                        },
                        pos.clone(),
                    ));
                }
            }
            _ => {}
        }
        let Some(def) = self.format.schema.payload_def(name, self.format.arch) else {
            return Ok(());
        };
        let decoded = self
            .decode_current()
            .map_err(|e| self.fail(e, pos.clone()))?;
        if let Some(n) = decoded.int("nr_tasks")
            && n as u64 > limits::MAX_TASKS
        {
            return Err(self.fail(
                ErrorKind::Limit {
                    what: "tasks in the tree",
                    value: n as u64,
                    limit: limits::MAX_TASKS,
                },
                pos.clone(),
            ));
        }
        if self
            .current
            .as_ref()
            .is_some_and(|c| c.payload_of.is_none())
        {
            self.sums.clear();
        }
        let ctx: Rc<Vec<(String, i128)>> = Rc::new(
            decoded
                .fields
                .iter()
                .filter_map(|(p, v)| Some((p.clone(), v.as_int()?)))
                .collect(),
        );
        // Payloads of a payload come before the rest of its owner's payloads.
        for item in def.items.iter().rev() {
            self.expect.push_front(Expected {
                owner: name,
                item,
                ctx: ctx.clone(),
            });
        }
        Ok(())
    }

    /// Adds the element members of the payload just read to the sums.
    fn add_sums(&mut self) -> Result<()> {
        let Some((_, pname)) = self.current.as_ref().and_then(|c| c.payload_of) else {
            return Ok(());
        };
        if !self.current.as_ref().is_some_and(|c| c.inline) {
            return Ok(());
        }
        let d = self.decode()?;
        for (path, v) in &d.fields {
            let (Some(rest), Some(n)) = (path.strip_prefix(pname), v.as_int()) else {
                continue;
            };
            if let Some((_, member)) = rest.split_once("].") {
                *self.sums.entry(format!("{pname}.{member}")).or_insert(0) += n;
            }
        }
        Ok(())
    }

    /// Evaluates an expected payload: `None` when its condition is zero.
    fn resolve(&self, e: &Expected) -> std::result::Result<Option<Due>, ErrorKind> {
        let item = e.item;
        let lookup = |n: &str| -> Option<i128> {
            if let Some(inner) = n.strip_prefix("sum(").and_then(|x| x.strip_suffix(')')) {
                return Some(self.sums.get(inner).copied().unwrap_or(0));
            }
            e.ctx
                .iter()
                .find(|(p, _)| p == n)
                .map(|(_, v)| *v)
                .or_else(|| self.header_consts.get(n).copied())
        };
        let eval = |x: &Expr| -> std::result::Result<u64, ErrorKind> {
            let v = self.format.layouts.eval_with(x, &lookup)?;
            u64::try_from(v).map_err(|_| {
                ErrorKind::Grammar(format!(
                    "negative payload count or length {v} ({} of {})",
                    item.name, e.owner
                ))
            })
        };
        if let Some(c) = &item.condition
            && eval(c)? == 0
        {
            return Ok(None);
        }
        let length = item.length.as_ref().map(&eval).transpose()?;
        let element = match &item.elements {
            Some((ty, count)) => Some((ty.as_str(), eval(count)?)),
            None => None,
        };
        let length = match (length, element) {
            (Some(l), _) => Some(l),
            (None, Some(("pgarr_chunk", n))) => {
                if n > limits::MAX_PAGES_PER_CHUNK {
                    return Err(ErrorKind::Limit {
                        what: "pages in a chunk",
                        value: n,
                        limit: limits::MAX_PAGES_PER_CHUNK,
                    });
                }
                Some(n * (self.format.arch.word_size() as u64 + limits::PAGE_SIZE as u64))
            }
            (None, Some(("pids_entry", _)) | None) => None,
            (None, Some((ty, n))) => {
                let size = match self.format.layouts.named_type(ty)? {
                    TypeLayout::Prim(p) => p.size as u64,
                    TypeLayout::Struct(s) => s.size as u64,
                };
                Some(n.saturating_mul(size))
            }
        };
        let kind = if item.kind == "RAW" {
            "RAW"
        } else {
            self.format
                .schema
                .enum_values("hdr", self.format.arch)
                .find(|(n, _)| *n == item.kind)
                .map(|(n, _)| n)
                .ok_or_else(|| {
                    ErrorKind::Grammar(format!(
                        "schema: payload kind {} is not a record type",
                        item.kind
                    ))
                })?
        };
        Ok(Some(Due {
            owner: e.owner,
            kind,
            name: item.name.as_str(),
            length,
            element,
        }))
    }

    fn decode_current(&self) -> std::result::Result<Decoded, ErrorKind> {
        let info = self.current.as_ref().expect("a current record");
        decode_record(&self.format, info, &self.record)
    }

    /// Decodes the current inline record into named fields.
    pub fn decode(&self) -> Result<Decoded> {
        self.decode_current().map_err(|k| Error::new(k, self.pos()))
    }

    /// [`Reader::decode`] with each field's primitive.
    pub fn decode_typed(&self) -> Result<TypedDecoded> {
        let info = self.current.as_ref().expect("a current record");
        decode_record_typed(&self.format, info, &self.record).map_err(|k| Error::new(k, self.pos()))
    }
}

/// Decodes the bytes of an inline record (pre-header included) of `format`.
pub fn decode_record(
    format: &Format,
    info: &RecordInfo,
    bytes: &[u8],
) -> std::result::Result<Decoded, ErrorKind> {
    decode_record_typed(format, info, bytes).map(Decoded::from)
}

/// [`decode_record`] with each field's primitive.
pub fn decode_record_typed(
    format: &Format,
    info: &RecordInfo,
    bytes: &[u8],
) -> std::result::Result<TypedDecoded, ErrorKind> {
    let endian: Endian = format.endian();
    let body = if info.headerless {
        bytes
    } else {
        &bytes[HDR_SIZE as usize..]
    };
    // Payload buffers with typed elements.
    if let Some((owner, pname)) = info.payload_of
        && let Some(def) = format.schema.payload_def(owner, format.arch)
        && let Some(item) = def.items.iter().find(|i| i.name == pname)
        && let Some((ty, _)) = &item.elements
    {
        let mut fields = Vec::new();
        match ty.as_str() {
            "pgarr_chunk" | "pids_entry" => {}
            ty => {
                if let Ok(TypeLayout::Struct(s)) = format.layouts.named_type(ty) {
                    let base = bytes.len() - body.len();
                    let size = s.size.max(1) as usize;
                    for (i, chunk) in body.chunks_exact(size).enumerate() {
                        for mut f in decode_struct_typed(&s, chunk, endian) {
                            f.path = format!("{pname}[{i}].{}", f.path);
                            f.offset += (base + i * size) as u32;
                            fields.push(f);
                        }
                    }
                } else if let Ok(TypeLayout::Prim(p)) = format.layouts.named_type(ty) {
                    let f = crate::layout::Field {
                        path: String::new(),
                        offset: 0,
                        prim: p,
                        count: 1,
                    };
                    let base = bytes.len() - body.len();
                    for (i, chunk) in body.chunks_exact(p.size as usize).enumerate() {
                        if let Some(value) = decode_field(&f, chunk, endian) {
                            fields.push(TypedField {
                                path: format!("{pname}[{i}]"),
                                value,
                                prim: p,
                                offset: (base + i * p.size as usize) as u32,
                                count: 1,
                            });
                        }
                    }
                }
            }
        }
        return Ok(TypedDecoded {
            struct_name: Some(ty.clone()),
            fields,
            text: None,
        });
    }
    let def = format.schema.record_def(info.name, format.arch);
    let text = |b: &[u8]| {
        Some(String::from_utf8_lossy(b.split(|&c| c == 0).next().unwrap_or(&[])).into_owned())
    };
    match def.map(|d| &d.body) {
        None | Some(RecordBody::Bytes) => Ok(TypedDecoded {
            struct_name: None,
            fields: vec![],
            text: None,
        }),
        Some(RecordBody::String) => Ok(TypedDecoded {
            struct_name: None,
            fields: vec![],
            // An error message starts with a NUL: show what follows it.
            text: text(
                if info.name == "STRING" && body.first() == Some(&0) && body.len() > 1 {
                    &body[1..]
                } else {
                    body
                },
            ),
        }),
        Some(RecordBody::Struct { name, tail }) => {
            let layout = format.layout(name)?;
            let mut fields = decode_struct_typed(&layout, bytes, endian);
            if let Some(t) = tail {
                let start = match &t.at {
                    Some(m) => layout.offset_of(m).unwrap_or(layout.size),
                    None => layout.size,
                } as usize;
                let count = match &t.count {
                    Some(c) => {
                        let n = format.layouts.eval_with(c, &|n| {
                            fields
                                .iter()
                                .find(|f| f.path == n)
                                .and_then(|f| f.value.as_int())
                        })?;
                        Some(n.max(0) as usize)
                    }
                    None => None,
                };
                let tail_bytes = bytes.get(start..).unwrap_or(&[]);
                let tname = t.at.clone().unwrap_or_else(|| "tail".to_string());
                match format.layouts.type_layout(&t.elem)? {
                    TypeLayout::Prim(p) => {
                        let n = count.unwrap_or(tail_bytes.len() / p.size as usize);
                        let f = crate::layout::Field {
                            path: tname.clone(),
                            offset: 0,
                            prim: p,
                            count: n as u32,
                        };
                        if n > 0
                            && let Some(value) = decode_field(&f, tail_bytes, endian)
                        {
                            fields.retain(|f| f.path != tname);
                            fields.push(TypedField {
                                path: tname,
                                value,
                                prim: p,
                                offset: start as u32,
                                count: n as u32,
                            });
                        }
                    }
                    TypeLayout::Struct(s) => {
                        let n = count.unwrap_or(tail_bytes.len() / s.size.max(1) as usize);
                        let size = s.size.max(1) as usize;
                        for (i, chunk) in tail_bytes.chunks_exact(size).take(n).enumerate() {
                            for mut f in decode_struct_typed(&s, chunk, endian) {
                                f.path = format!("{tname}[{i}].{}", f.path);
                                f.offset += (start + i * size) as u32;
                                fields.push(f);
                            }
                        }
                    }
                }
            }
            Ok(TypedDecoded {
                struct_name: Some(name.clone()),
                fields,
                text: None,
            })
        }
        Some(RecordBody::Select {
            common,
            selector,
            cases,
        }) => {
            let clayout = format.layout(common)?;
            let sel = decode_struct(&clayout, bytes, endian)
                .into_iter()
                .find(|(p, _)| p.rsplit('.').next() == Some(selector.as_str()))
                .and_then(|(_, v)| v.as_int());
            let case = sel.and_then(|v| format.schema.enum_name("file", v as i64, format.arch));
            let chosen = cases
                .iter()
                .find(|(c, _)| Some(c.as_str()) == case)
                .map(|(_, s)| s.clone())
                .unwrap_or_else(|| common.clone());
            let layout = format.layout(&chosen)?;
            Ok(TypedDecoded {
                struct_name: Some(chosen),
                fields: decode_struct_typed(&layout, bytes, endian),
                text: None,
            })
        }
    }
}

/// Reads an image's first record pre-header and HEADER fields without knowing the
/// revision: byte order (from the magic), arch id, kernel version and rev.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderPeek {
    /// Byte order of the image.
    pub endian: Endian,
    /// `arch_id` (little-endian on every arch: its type in the schemas is `__le16`).
    pub arch_id: u16,
    /// Kernel version `major.minor.patch` of the checkpointing kernel.
    pub kernel: (u16, u16, u16),
    /// `rev` (CHECKPOINT_VERSION).
    pub rev: u16,
    /// The 12 `ckpt_const` values in struct order.
    pub constants: [u16; 12],
    /// Checkpoint time (seconds).
    pub time: u64,
    /// `uflags`.
    pub uflags: u64,
}

impl HeaderPeek {
    /// Reads the fields from the first 72 bytes of an image.
    pub fn parse(bytes: &[u8]) -> std::result::Result<HeaderPeek, ErrorKind> {
        if bytes.len() < 72 {
            return Err(ErrorKind::Truncated(format!(
                "HEADER record: {} of 72 bytes present",
                bytes.len()
            )));
        }
        let magic_le = get_uint(&bytes[8..16], Endian::Little);
        let endian = if magic_le == MAGIC_HEAD {
            Endian::Little
        } else if get_uint(&bytes[8..16], Endian::Big) == MAGIC_HEAD {
            Endian::Big
        } else if crate::container::is_container(bytes) {
            return Err(ErrorKind::Detect(
                "this is ckpt's container around an image (schemas/container.md), not the \
                 image itself: read the image inside it (container::ImageInContainer for a \
                 file, container::StreamedImage for a stream), or `ckpt strip` it first"
                    .into(),
            ));
        } else {
            return Err(ErrorKind::BadMagic {
                found: magic_le,
                expected: MAGIC_HEAD,
            });
        };
        // The HEADER struct is the same in every revision and on every arch of a byte
        // order (a test checks it), so its fields are read by the schema, each in the
        // byte order its type gives (`arch_id` is `__le16`), before the revision is known.
        let layout = peek_format(endian).layout("ckpt_hdr_header")?;
        let field = |path: &str| -> std::result::Result<u64, ErrorKind> {
            layout
                .fields()
                .iter()
                .find(|f| f.path == path)
                .and_then(|f| decode_field(f, bytes, endian))
                .and_then(|v| v.as_int())
                .map(|v| v as u64)
                .ok_or_else(|| ErrorKind::Grammar(format!("the HEADER has no field {path}")))
        };
        let (t, len) = (field("h.type")?, field("h.len")?);
        if t != 1 || len != 72 {
            return Err(ErrorKind::Grammar(format!(
                "the first record is type {t}, length {len}; a HEADER is type 1, length 72"
            )));
        }
        let consts: Vec<&str> = layout
            .fields()
            .iter()
            .filter_map(|f| f.path.strip_prefix("constants."))
            .collect();
        let mut constants = [0u16; 12];
        if consts.len() != constants.len() {
            return Err(ErrorKind::Grammar(format!(
                "the HEADER has {} constants, expected {}",
                consts.len(),
                constants.len()
            )));
        }
        for (c, name) in constants.iter_mut().zip(consts) {
            *c = field(&format!("constants.{name}"))? as u16;
        }
        let u16f = |path: &str| field(path).map(|v| v as u16);
        Ok(HeaderPeek {
            endian,
            arch_id: u16f("arch_id")?,
            kernel: (u16f("major")?, u16f("minor")?, u16f("patch")?),
            rev: u16f("rev")?,
            constants,
            time: field("time")?,
            uflags: field("uflags")?,
        })
    }
}

/// A format of byte order `endian` whose HEADER layout [`HeaderPeek`] reads: the newest
/// revision, on its first architecture of that byte order.
fn peek_format(endian: Endian) -> &'static Format {
    let schema = crate::schema::Registry::get().newest();
    let arch = schema
        .arches
        .iter()
        .map(|(a, _)| *a)
        .find(|a| a.endian() == endian)
        .unwrap_or(if endian == Endian::Big {
            crate::arch::Arch::S390x
        } else {
            crate::arch::Arch::X86_64
        });
    Format::shared(schema, arch)
}

/// Reads from `src` until `buf` holds `want` bytes or the source ends.
pub fn read_up_to<R: Read + ?Sized>(src: &mut R, want: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(want.min(limits::DETECT_WINDOW));
    src.take(want as u64).read_to_end(&mut buf)?;
    Ok(buf)
}
