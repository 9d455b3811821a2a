//! The transform API: records in, records out, in one streaming pass.
//!
//! [`run`] reads an image record by record and hands every record to a chain of
//! [`Transform`]s. Each transform may change the record in place and pass it on
//! ([`Flow::Pass`]), or take it ([`Flow::Done`]): then it has pushed what goes out instead
//! (nothing, to remove the record; several records, to insert some). A record every
//! transform passes is written as it now is, which is the identity when the image keeps
//! its format; a conversion ends its chain with the converter, which takes every record.
//!
//! Every change is noted in the [`Ledger`] through the context [`Cx`] the hooks get, as
//! it is made: nothing has to be taken back afterwards. Page contents (records that are
//! not read into memory) are never seen by a transform: it decides only whether they
//! are kept ([`Transform::streamed`]), and the driver copies them, in the kernel from a
//! file to a file.
//!
//! `convert` (the converter of [`mod@crate::convert`]) and `edit` ([`crate::edit`]) are
//! written on this API; so can another tool's own edit:
//!
//! ```
//! use ckpt_convert::transform::{Cx, Flow, Out, Payload, RunOptions, Transform, run};
//! use ckpt_convert::ConvertError;
//!
//! /// Counts the records (and changes nothing).
//! struct Count(u64);
//! impl Transform for Count {
//!     fn record(&mut self, _cx: &mut Cx<'_>, _rec: &mut Vec<u8>, _out: &mut Vec<Out>)
//!         -> Result<Flow, ConvertError> {
//!         self.0 += 1;
//!         Ok(Flow::Pass)
//!     }
//!     fn streamed(&mut self, _cx: &mut Cx<'_>, _out: &mut Vec<Out>)
//!         -> Result<Payload, ConvertError> {
//!         self.0 += 1; // page contents: kept, and copied by the driver
//!         Ok(Payload::Copy)
//!     }
//! }
//!
//! let schema = ckpt_format::Registry::get().newest();
//! let format = ckpt_format::Format::shared(schema, ckpt_format::Arch::X86_64);
//! let mut image = Vec::new();
//! ckpt_format::build::build(format, &Default::default(), &mut image).unwrap();
//! let reader = ckpt_format::Reader::new(
//!     std::io::Cursor::new(image.clone()),
//!     ckpt_format::Format::new(schema, ckpt_format::Arch::X86_64),
//! );
//! let (mut count, mut out) = (Count(0), Vec::new());
//! let summary = run(reader, format, &mut [&mut count], &mut out, &RunOptions::default(), None)?;
//! assert_eq!(out, image); // the identity chain is byte-exact
//! assert_eq!(count.0, summary.records_in);
//! # Ok::<(), ConvertError>(())
//! ```

use std::io::{self, Read, Seek};
use std::path::PathBuf;

use ckpt_format::input::Input;
use ckpt_format::value::Value;
use ckpt_format::write::Sink;
use ckpt_format::{Format, Reader, RecordInfo, Writer};

use crate::error::ConvertError;
use crate::ledger::{Action, Ledger, LedgerEntry, ReportFn};

/// An output record, or a change of where output records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// A whole record, pre-header included (or headerless bytes, like the raw page after
    /// a SOCKET_FRAG).
    Record(Vec<u8>),
    /// From now on, records go to a spill file (a reordering holds them back).
    SpillOn,
    /// Records go to the output again; the spill keeps what it holds.
    SpillPause,
    /// The spill's records are appended to the output, which records go to again.
    SpillFlush,
}

/// What a transform did with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Not taken: the next transform gets the record (as this one left it); after the
    /// last, it is written as it is.
    Pass,
    /// Taken: what goes out instead has been pushed (nothing removes the record).
    Done,
}

/// What happens to the contents of a streamed record (pages, a pipe's buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// Copied to the output.
    Copy,
    /// Left out, with its record (the transform noted why).
    Drop,
    /// Rewritten by the transform that answered so: the driver calls its
    /// [`Transform::rewrite_streamed`], which writes what goes out instead, reading the
    /// contents as it goes (page-address arrays widened, chunks split).
    Rewrite,
}

/// The contents of a streamed record being rewritten ([`Payload::Rewrite`]): read them
/// in order, and write records in their place, copying ranges of the contents into
/// them (in the kernel from a file to a file).
pub struct StreamedBody<'a> {
    io: &'a mut dyn BodyIo,
}

impl StreamedBody<'_> {
    /// Bytes of the contents not read or copied yet.
    pub fn left(&self) -> u64 {
        self.io.left()
    }

    /// Reads the next `n` bytes of the contents into memory. `n` is the caller's to
    /// bound (an address array, not pages); more than is left is an error.
    pub fn read(&mut self, n: usize) -> Result<Vec<u8>, ConvertError> {
        if n as u64 > self.io.left() {
            return Err(short_body(n as u64, self.io.left()));
        }
        let mut buf = vec![0u8; n];
        let mut done = 0;
        while done < n {
            let k = self.io.read(&mut buf[done..])?;
            if k == 0 {
                return Err(short_body(n as u64, done as u64));
            }
            done += k;
        }
        Ok(buf)
    }

    /// Writes a whole record (pre-header included).
    pub fn record(&mut self, bytes: Vec<u8>) -> Result<(), ConvertError> {
        self.io.emit(Out::Record(bytes))
    }

    /// Begins a record of type `rtype` whose body is `body_len` bytes, written next
    /// with [`StreamedBody::write`] and [`StreamedBody::copy`].
    pub fn begin_record(&mut self, rtype: u32, body_len: u64) -> Result<(), ConvertError> {
        self.io.begin(rtype, body_len)
    }

    /// Writes part of the body of the record begun last.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), ConvertError> {
        self.io.write(bytes)
    }

    /// Copies the next `n` bytes of the contents into the body of the record begun last.
    pub fn copy(&mut self, n: u64) -> Result<(), ConvertError> {
        if n > self.io.left() {
            return Err(short_body(n, self.io.left()));
        }
        self.io.copy(n)
    }
}

fn short_body(want: u64, left: u64) -> ConvertError {
    ConvertError::Format(ckpt_format::Error::new(
        ckpt_format::ErrorKind::Truncated(format!(
            "{want} bytes wanted where the record's body has {left} left"
        )),
        Default::default(),
    ))
}

/// What [`StreamedBody`] reads from and writes to: the reader and the driver's sinks.
trait BodyIo {
    fn left(&self) -> u64;
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ConvertError>;
    fn emit(&mut self, o: Out) -> Result<(), ConvertError>;
    fn begin(&mut self, rtype: u32, len: u64) -> Result<(), ConvertError>;
    fn write(&mut self, bytes: &[u8]) -> Result<(), ConvertError>;
    fn copy(&mut self, n: u64) -> Result<(), ConvertError>;
}

struct DriverBody<'a, R: Input, W: Sink> {
    reader: &'a mut Reader<R>,
    sinks: &'a mut Sinks<W>,
    to: &'static Format,
}

impl<R: Input, W: Sink> BodyIo for DriverBody<'_, R, W> {
    fn left(&self) -> u64 {
        self.reader.payload_left()
    }
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ConvertError> {
        Ok(self.reader.read_payload(buf)?)
    }
    fn emit(&mut self, o: Out) -> Result<(), ConvertError> {
        self.sinks.emit(o, self.to)
    }
    fn begin(&mut self, rtype: u32, len: u64) -> Result<(), ConvertError> {
        self.sinks.begin(rtype, len)
    }
    fn write(&mut self, bytes: &[u8]) -> Result<(), ConvertError> {
        self.sinks.write(bytes)
    }
    fn copy(&mut self, n: u64) -> Result<(), ConvertError> {
        self.sinks.copy_part(self.reader, n)
    }
}

/// What a hook gets besides the record: the formats, the record's place in the source,
/// and the ledger of the run.
pub struct Cx<'a> {
    /// The format of the image read.
    pub from: &'static Format,
    /// The format written.
    pub to: &'static Format,
    /// The record being transformed.
    pub rec: &'a RecordInfo,
    notes: &'a mut Vec<LedgerEntry>,
    ledger: &'a Ledger,
}

impl<'a> Cx<'a> {
    fn new(
        from: &'static Format,
        to: &'static Format,
        rec: &'a RecordInfo,
        notes: &'a mut Vec<LedgerEntry>,
        ledger: &'a Ledger,
    ) -> Cx<'a> {
        Cx {
            from,
            to,
            rec,
            notes,
            ledger,
        }
    }
}

impl Cx<'_> {
    /// Notes a change of member `field` of the current record, and returns the entry so
    /// that its step or reason can be set.
    pub fn note(
        &mut self,
        field: &str,
        action: Action,
        old: Option<Value>,
        new: Option<Value>,
    ) -> &mut LedgerEntry {
        let (index, record) = (self.rec.index, self.rec.name);
        self.note_entry(LedgerEntry::new(index, record, field, action, old, new))
    }

    /// Notes an entry made by the transform (of another record, e.g. one it inserts).
    pub fn note_entry(&mut self, e: LedgerEntry) -> &mut LedgerEntry {
        self.notes.push(e);
        self.notes.last_mut().expect("just pushed")
    }

    /// The entries that lose data so far, the current record's included.
    pub fn losses(&self) -> impl Iterator<Item = &LedgerEntry> {
        self.ledger
            .losses()
            .chain(self.notes.iter().filter(|e| e.action == Action::Dropped))
    }
}

/// One change of the record stream. Every hook defaults to "not mine".
pub trait Transform {
    /// An inline record of the source (its bytes, pre-header included): change it in
    /// place and pass it on, or take it and push what goes out instead.
    fn record(
        &mut self,
        cx: &mut Cx<'_>,
        rec: &mut Vec<u8>,
        out: &mut Vec<Out>,
    ) -> Result<Flow, ConvertError> {
        let _ = (cx, rec, out);
        Ok(Flow::Pass)
    }

    /// A streamed record (its contents are not read into memory): push what goes before
    /// it, and say whether its contents are kept.
    fn streamed(&mut self, cx: &mut Cx<'_>, out: &mut Vec<Out>) -> Result<Payload, ConvertError> {
        let _ = (cx, out);
        Ok(Payload::Copy)
    }

    /// Writes what replaces a streamed record this transform answered
    /// [`Payload::Rewrite`] for, reading all of its contents from `body`.
    fn rewrite_streamed(
        &mut self,
        cx: &mut Cx<'_>,
        body: &mut StreamedBody<'_>,
    ) -> Result<(), ConvertError> {
        let _ = body;
        Err(ConvertError::Refused(format!(
            "record #{} ({}): a transform asked to rewrite it and does not",
            cx.rec.index, cx.rec.name
        )))
    }
}

/// Options of the driver.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Where to spill records a transform holds back ([`Out::SpillOn`]); the system's
    /// temporary directory when not given.
    pub spill_dir: Option<PathBuf>,
    /// Transform a failed checkpoint (an image that ends in an ERROR record); refused
    /// otherwise, since no kernel restarts it.
    pub allow_incomplete: bool,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// Records read.
    pub records_in: u64,
    /// Records written.
    pub records_out: u64,
    /// Records whose bytes changed (a removed or replaced record counts once).
    pub records_changed: u64,
    /// Every change (the counts only, when the entries went to a report).
    pub ledger: Ledger,
    /// The message of a failed checkpoint run with [`RunOptions::allow_incomplete`].
    pub checkpoint_failed: Option<String>,
}

/// Reads the image of `reader`, passes every record through `chain` and writes the
/// result in format `to` to `out`. Ledger entries go to `report` as they are made when
/// one is given, else into the summary's ledger. On error nothing after the failing
/// record is written (the caller discards the output: `ckpt` writes to a temporary file
/// it renames only on success).
pub fn run<R: Input, W: Sink>(
    mut reader: Reader<R>,
    to: &'static Format,
    chain: &mut [&mut dyn Transform],
    out: W,
    opts: &RunOptions,
    mut report: Option<&mut ReportFn<'_>>,
) -> Result<RunSummary, ConvertError> {
    let from = Format::shared(reader.format().schema, reader.format().arch);
    let same = from.schema.id == to.schema.id && from.arch == to.arch;
    let mut sinks = Sinks {
        main: Writer::new(out, to.endian()),
        spill: None,
        spilling: false,
        spill_dir: opts.spill_dir.clone(),
    };
    let mut summary = RunSummary::default();
    let mut notes = Vec::new();
    let mut outs = Vec::new();
    while let Some(info) = reader.next_record()? {
        summary.records_in += 1;
        if info.payload_of.is_some_and(|(owner, _)| owner == "ERROR") {
            let message = reader.decode()?.text.unwrap_or_default();
            if !opts.allow_incomplete {
                return Err(ConvertError::Refused(format!(
                    "the image is a failed checkpoint: its ERROR record says \"{message}\" \
                     (record #{} at offset {:#x}); no kernel restarts it; go on anyway \
                     with --allow-incomplete",
                    info.index, info.offset
                )));
            }
            summary.checkpoint_failed = Some(message);
        }
        outs.clear();
        if !info.inline {
            let mut keep = Payload::Copy;
            let mut rewriter = None;
            for (k, t) in chain.iter_mut().enumerate() {
                let mut cx = Cx::new(from, to, &info, &mut notes, &summary.ledger);
                match t.streamed(&mut cx, &mut outs)? {
                    Payload::Drop => keep = Payload::Drop,
                    Payload::Rewrite if rewriter.is_none() => rewriter = Some(k),
                    Payload::Rewrite => {
                        return Err(ConvertError::Refused(format!(
                            "record #{} ({}): two transforms of the chain rewrite its contents",
                            info.index, info.name
                        )));
                    }
                    Payload::Copy => {}
                }
            }
            for o in outs.drain(..) {
                sinks.emit(o, to)?;
            }
            commit(&mut notes, &mut summary.ledger, &mut report)?;
            if keep == Payload::Copy
                && let Some(k) = rewriter
            {
                let mut cx = Cx::new(from, to, &info, &mut notes, &summary.ledger);
                let mut io = DriverBody {
                    reader: &mut reader,
                    sinks: &mut sinks,
                    to,
                };
                chain[k].rewrite_streamed(&mut cx, &mut StreamedBody { io: &mut io })?;
                if reader.payload_left() > 0 {
                    return Err(ConvertError::Refused(format!(
                        "record #{} ({}): its rewrite left {} bytes of it unread",
                        info.index,
                        info.name,
                        reader.payload_left()
                    )));
                }
                summary.records_changed += 1;
                commit(&mut notes, &mut summary.ledger, &mut report)?;
            } else if keep == Payload::Copy {
                let rtype = to.record_type(info.name).ok_or_else(|| {
                    ConvertError::Refused(format!(
                        "the image has {} records, which revision {} does not have",
                        info.name, to.schema.id
                    ))
                })?;
                sinks.begin(rtype, info.body_len() as u64)?;
                sinks.copy_payload(&mut reader)?;
            } else {
                summary.records_changed += 1;
            }
            continue;
        }
        let original = reader.record_bytes();
        let mut bytes = original.to_vec();
        let mut taken = false;
        for t in chain.iter_mut() {
            let mut cx = Cx::new(from, to, &info, &mut notes, &summary.ledger);
            if t.record(&mut cx, &mut bytes, &mut outs)? == Flow::Done {
                taken = true;
                break;
            }
        }
        if !taken {
            if !same {
                return Err(ConvertError::Refused(format!(
                    "record #{} ({}): no transform maps it from {} to {}",
                    info.index, info.name, from.schema.id, to.schema.id
                )));
            }
            outs.push(Out::Record(bytes));
        }
        let unchanged = matches!(outs.as_slice(), [Out::Record(b)] if b.as_slice() == original);
        if !unchanged {
            summary.records_changed += 1;
        }
        commit(&mut notes, &mut summary.ledger, &mut report)?;
        for o in outs.drain(..) {
            sinks.emit(o, to)?;
        }
    }
    summary.records_out = sinks.main.records();
    sinks.main.finish()?;
    Ok(summary)
}

/// Moves the entries of the record just transformed to the ledger (or the report).
fn commit(
    notes: &mut Vec<LedgerEntry>,
    ledger: &mut Ledger,
    report: &mut Option<&mut ReportFn<'_>>,
) -> Result<(), ConvertError> {
    for e in notes.drain(..) {
        if let Some(r) = report.as_mut() {
            r(&e).map_err(|err| ConvertError::Report(err.to_string()))?;
            ledger.add(e, false);
        } else {
            ledger.add(e, true);
        }
    }
    Ok(())
}

/// Where output records go: the output, or (while a transform holds records back) a
/// spill file that is appended to the output later.
struct Sinks<W: Sink> {
    main: Writer<W>,
    spill: Option<Writer<io::BufWriter<std::fs::File>>>,
    spilling: bool,
    spill_dir: Option<PathBuf>,
}

impl<W: Sink> Sinks<W> {
    fn emit(&mut self, o: Out, to: &Format) -> Result<(), ConvertError> {
        match o {
            Out::Record(b) => match (&mut self.spill, self.spilling) {
                (Some(w), true) => w.write_record_bytes(&b)?,
                _ => self.main.write_record_bytes(&b)?,
            },
            Out::SpillOn => {
                if self.spill.is_none() {
                    let f = match &self.spill_dir {
                        Some(d) => tempfile::tempfile_in(d),
                        None => tempfile::tempfile(),
                    }
                    .map_err(|e| spill_error("create", e))?;
                    self.spill = Some(Writer::new(io::BufWriter::new(f), to.endian()));
                }
                self.spilling = true;
            }
            Out::SpillPause => self.spilling = false,
            Out::SpillFlush => {
                self.spilling = false;
                if let Some(w) = self.spill.take() {
                    let (bytes, records) = (w.offset(), w.records());
                    let mut f = w
                        .finish()?
                        .into_inner()
                        .map_err(|e| spill_error("write", e.into_error()))?;
                    f.rewind().map_err(|e| spill_error("read", e))?;
                    self.main
                        .append_records(&mut f.take(bytes), bytes, records)?;
                }
            }
        }
        Ok(())
    }

    fn begin(&mut self, rtype: u32, len: u64) -> Result<(), ConvertError> {
        match (&mut self.spill, self.spilling) {
            (Some(w), true) => w.begin_record(rtype, len)?,
            _ => self.main.begin_record(rtype, len)?,
        }
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), ConvertError> {
        match (&mut self.spill, self.spilling) {
            (Some(w), true) => w.write_payload(bytes)?,
            _ => self.main.write_payload(bytes)?,
        }
        Ok(())
    }

    /// Copies the next `n` bytes of the reader's streamed body (in the kernel, file to
    /// file).
    fn copy_part<R: Input>(&mut self, reader: &mut Reader<R>, n: u64) -> Result<(), ConvertError> {
        match (&mut self.spill, self.spilling) {
            (Some(w), true) => w.copy_payload_part_from(reader, n)?,
            _ => self.main.copy_payload_part_from(reader, n)?,
        };
        Ok(())
    }

    /// Copies the rest of the reader's streamed body (in the kernel, file to file).
    fn copy_payload<R: Input>(&mut self, reader: &mut Reader<R>) -> Result<(), ConvertError> {
        match (&mut self.spill, self.spilling) {
            (Some(w), true) => w.copy_payload_from(reader)?,
            _ => self.main.copy_payload_from(reader)?,
        };
        Ok(())
    }
}

fn spill_error(what: &str, e: io::Error) -> ConvertError {
    ConvertError::Format(ckpt_format::Error::new(
        ckpt_format::ErrorKind::Io(io::Error::new(
            e.kind(),
            format!("cannot {what} the spill file (records being reordered): {e}"),
        )),
        Default::default(),
    ))
}
