//! Image editing: paths, pids, uids, gids and the UTS names changed everywhere they are
//! held, consistently, in one streaming pass, on the [transform API](crate::transform).
//!
//! Where each kind of value lives is one enumeration, [`ckpt_format::model::places`]; an
//! [`Edit`] maps every place of the kinds its [`Operation`]s name. Before the pass,
//! Operations apply at once, each place taking the first that maps it (`--uid 1=2
//! --uid 2=1` swaps). [`Edit::survey`] looks at every place of the image (a walk that reads no page
//! contents) and refuses an edit that would make two things one: a NEW pid, uid or gid
//! that the image already uses, or two bound unix sockets at one path. It also tells
//! which OLD values occur nowhere.
//!
//! Two operations act on one descriptor rather than on a value: `--fd PID:FD=PATH`
//! (`redirect.rs`) opens another path, splitting a shared file object, and
//! `--close PID:FD` (`close.rs`) removes the descriptor with whatever only it kept
//! alive. The survey resolves both and works out every record they add, remove or move.
//!
//! ```
//! use ckpt_convert::edit::{Edit, Operation};
//! use ckpt_convert::transform::{RunOptions, run};
//! use ckpt_format::model::places::{PlaceKind, find_places};
//! use ckpt_format::{Arch, Format, Reader, Registry};
//!
//! let schema = Registry::get().newest();
//! let format = Format::shared(schema, Arch::X86_64);
//! let mut image = Vec::new();
//! ckpt_format::build::build(format, &Default::default(), &mut image).unwrap();
//! let read = || Reader::new(std::io::Cursor::new(image.clone()), Format::new(schema, Arch::X86_64));
//!
//! let mut edit = Edit::new(vec![Operation::parse("hostname", "box2").unwrap()]);
//! edit.survey(read()).unwrap(); // one walk, no page contents
//! assert!(find_places(read(), &[PlaceKind::Hostname]).unwrap().len() > 0);
//! let mut out = Vec::new();
//! let summary = run(read(), format, &mut [&mut edit], &mut out, &RunOptions::default(), None).unwrap();
//! assert!(summary.ledger.entries.iter().any(|e| e.new.as_ref().map(|v| v.to_string()) == Some("\"box2\"".into())));
//! ```

mod close;
mod operation;
mod redirect;
mod target;
mod write;

use std::collections::{BTreeMap, BTreeSet};

use ckpt_format::input::Input;
use ckpt_format::model::ModelBuilder;
use ckpt_format::model::places::{Found, Place, PlaceKind, PlaceTracker, PlaceValue};
use ckpt_format::value::Value;
use ckpt_format::{Format, Reader};

use crate::error::ConvertError;
use crate::ledger::Action;
use crate::transform::{Cx, Flow, Out, Payload, Transform};

pub use operation::{BadOperation, Operation};

/// An edit of an image: its operations, applied to every place they name.
pub struct Edit {
    ops: Vec<Operation>,
    tracker: Option<PlaceTracker>,
    /// Places changed, per operation.
    changed: Vec<u64>,
    /// The `--fd` operations, resolved by the survey.
    redirects: Vec<redirect::Redirect>,
    stream: redirect::Stream,
    /// What the `--close` operations remove and move, worked out by the survey.
    closing: close::Plan,
    surveyed: bool,
}

/// An operation that changes nothing: its OLD value occurs nowhere in the image, or
/// the image has no place of its kind (`--hostname` without a UTS namespace record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unused {
    /// The operation, as the user wrote it (`--uid 1000=2000`).
    pub operation: String,
    /// Why it changes nothing.
    pub reason: String,
}

impl std::fmt::Display for Unused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}; nothing changes", self.operation, self.reason)
    }
}

impl Edit {
    /// An edit made of `ops` (a place takes the first operation that maps it).
    pub fn new(ops: Vec<Operation>) -> Edit {
        let n = ops.len();
        Edit {
            ops,
            tracker: None,
            changed: vec![0; n],
            redirects: Vec::new(),
            stream: redirect::Stream::default(),
            closing: close::Plan::default(),
            surveyed: false,
        }
    }

    /// The operations.
    pub fn operations(&self) -> &[Operation] {
        &self.ops
    }

    /// Reads the image once (no page contents) before any record is written: checks
    /// the edit against every place of the image, resolves every `--fd` to its file
    /// object, works out what every `--close` removes, and refuses what cannot be done,
    /// naming the places. Returns the operations whose OLD value occurs nowhere.
    /// [`crate::transform::run`] with this edit must be given the same image afterwards.
    pub fn survey<R: Input>(&mut self, mut reader: Reader<R>) -> Result<Vec<Unused>, ConvertError> {
        let f = Format::shared(reader.format().schema, reader.format().arch);
        let mut tracker = PlaceTracker::new(f);
        let mut found = Vec::new();
        // Only `--fd` and `--close` need the model and the tags: which file a descriptor
        // uses, who else refers to it, and the highest tag in use; `--close` also who
        // owns each record.
        let descriptors = self.ops.iter().any(|o| o.value_kind().is_none());
        let closing = self
            .ops
            .iter()
            .any(|o| matches!(o, Operation::Close { .. }));
        let mut model = descriptors.then(|| ModelBuilder::new(f, false));
        let mut graph = close::Graph::default();
        let mut refs: BTreeMap<i64, u32> = BTreeMap::new();
        let mut max_tag = 0i64;
        while let Some(rec) = reader.next_record()? {
            for place in tracker.places(&reader, &rec)? {
                found.push(Found {
                    task: tracker.current_task(),
                    record_index: rec.index,
                    offset: rec.offset,
                    record: rec.name,
                    place,
                });
            }
            let Some(model) = model.as_mut() else {
                continue;
            };
            let decoded = if rec.inline && !rec.headerless {
                Some(reader.decode()?)
            } else {
                None
            };
            if closing {
                graph.add(f, &rec, decoded.as_ref());
            }
            if let Some(d) = &decoded {
                for tag in tag_fields(&rec, d) {
                    max_tag = max_tag.max(tag);
                    *refs.entry(tag).or_default() += 1;
                }
                if rec.name == "OBJREF" {
                    max_tag = max_tag.max(d.int("objref").unwrap_or(0) as i64);
                }
                if rec.name == "PIDS" {
                    let n = d.int("nr_pids").unwrap_or(0) + d.int("offset").unwrap_or(0) + 1;
                    max_tag = max_tag.max(n as i64);
                }
            }
            model.add(&mut reader, &rec)?;
        }
        let model = model.map(ModelBuilder::finish).unwrap_or_default();
        let mut next_tag = max_tag;
        // By file table and descriptor: tasks that share a table (threads) share its
        // descriptors.
        let mut seen: BTreeMap<(i64, i64), i64> = BTreeMap::new();
        let mut closes = Vec::new();
        for (k, op) in self.ops.iter().enumerate() {
            let mut found = None;
            if let Operation::Fd { pid, fd, .. } | Operation::Close { pid, fd } = op {
                let d = target::descriptor(f, &model, &op.to_string(), *pid, *fd)?;
                if let Some(first) = seen.insert((d.table, *fd), *pid) {
                    let same = if first == *pid {
                        String::new()
                    } else {
                        format!(" (tasks {first} and {pid} share their file table)")
                    };
                    return Err(ConvertError::Refused(format!(
                        "{op}: descriptor {fd} of task {pid} is named twice by --fd or \
                         --close{same}"
                    )));
                }
                found = Some(d);
            }
            if let (Operation::Close { pid, fd }, Some(d)) = (op, found) {
                closes.push(close::Closed {
                    op: k,
                    pid: *pid,
                    fd: *fd,
                    table: d.table,
                    file: d.file,
                });
            }
            if let Operation::Fd { pid, fd, path, pos } = op {
                self.redirects.push(redirect::resolve(
                    f,
                    &model,
                    &refs,
                    &mut next_tag,
                    k,
                    &op.to_string(),
                    (*pid, *fd),
                    (path, *pos),
                )?);
            }
        }
        if !closes.is_empty() {
            let what: Vec<String> = self.ops.iter().map(|o| o.to_string()).collect();
            self.closing = close::plan(&graph, &closes, &what)?;
            for (n, removed) in self.changed.iter_mut().zip(&self.closing.removed) {
                *n += removed;
            }
        }
        self.surveyed = true;
        self.survey_places(&found)
    }

    /// Checks the value operations against every place of the image (`found`, from
    /// [`ckpt_format::model::places::find_places`] over all kinds). Refuses an edit that
    /// would make two things one, naming the places; returns the operations whose OLD
    /// value occurs nowhere.
    pub fn survey_places(&self, found: &[Found]) -> Result<Vec<Unused>, ConvertError> {
        let mut unused = Vec::new();
        for op in &self.ops {
            let Some(kind) = op.value_kind() else {
                continue;
            };
            let of_kind: Vec<&Found> = found.iter().filter(|f| f.place.kind == kind).collect();
            let hit = of_kind.iter().any(|f| op.map(&f.place).is_some());
            let uts = matches!(op, Operation::Hostname(_) | Operation::Domainname(_));
            if uts && of_kind.is_empty() {
                unused.push(Unused {
                    operation: op.to_string(),
                    reason: "the image has no UTS namespace record to hold it".into(),
                });
                continue;
            }
            if !hit && !uts {
                unused.push(Unused {
                    operation: op.to_string(),
                    reason: "the image holds the old value nowhere".into(),
                });
                continue;
            }
            // A NEW number the image already holds (and that this edit does not move).
            if let Some(new) = op.new_number() {
                let held: Vec<&&Found> = of_kind
                    .iter()
                    .filter(|f| f.place.value == PlaceValue::Int(new))
                    .filter(|f| self.ops.iter().all(|o| o.map(&f.place).is_none()))
                    .collect();
                if !held.is_empty() {
                    return Err(ConvertError::Refused(format!(
                        "{op}: the image already uses {kind} {new}, so two would become one; it is held in {}",
                        places_list(&held)
                    )));
                }
            }
        }
        self.survey_socket_paths(found)?;
        Ok(unused)
    }

    /// Two bound unix sockets must not end up at one path: restart would fail to bind
    /// the second.
    fn survey_socket_paths(&self, found: &[Found]) -> Result<(), ConvertError> {
        let mut at: BTreeMap<String, Vec<&Found>> = BTreeMap::new();
        for f in found {
            if f.place.kind != PlaceKind::Path || !f.place.member.starts_with("laddr") {
                continue;
            }
            let PlaceValue::Text(old) = &f.place.value else {
                continue;
            };
            if old.is_empty() {
                continue;
            }
            let now = self.mapped_text(&f.place).unwrap_or_else(|| old.clone());
            at.entry(now).or_default().push(f);
        }
        for (path, socks) in at {
            let distinct: BTreeSet<u64> = socks.iter().map(|f| f.record_index).collect();
            let moved = socks.iter().any(|f| self.mapped_text(&f.place).is_some());
            if distinct.len() > 1 && moved {
                return Err(ConvertError::Refused(format!(
                    "after the edit, {} bound unix sockets would have the address {path}, \
                     which restart cannot bind twice: {}",
                    distinct.len(),
                    places_list(&socks.iter().collect::<Vec<_>>())
                )));
            }
        }
        Ok(())
    }

    /// The new value of `place` and the operation that gives it: the first operation
    /// that maps the place's value (operations apply at once, not one after the other:
    /// `--uid 1=2 --uid 2=1` swaps).
    fn mapping(&self, place: &Place) -> Option<(usize, PlaceValue)> {
        self.ops
            .iter()
            .enumerate()
            .find_map(|(k, op)| op.map(place).map(|v| (k, v)))
    }

    fn mapped_text(&self, place: &Place) -> Option<String> {
        match self.mapping(place) {
            Some((_, PlaceValue::Text(t))) => Some(t),
            _ => None,
        }
    }

    /// How many places each operation changed, in the order of [`Edit::operations`].
    pub fn changed(&self) -> &[u64] {
        &self.changed
    }
}

fn places_list(found: &[&&Found]) -> String {
    let mut v: Vec<String> = found
        .iter()
        .take(8)
        .map(|f| {
            let task = f.task.map(|p| format!(" of task {p}")).unwrap_or_default();
            format!(
                "record #{} {} {} ({}{task})",
                f.record_index, f.record, f.place.member, f.place.use_
            )
        })
        .collect();
    if found.len() > 8 {
        v.push(format!("and {} more", found.len() - 8));
    }
    v.join(", ")
}

/// The object tags record `rec` (decoded: `d`) refers to: every member named `...ref`,
/// and a unix socket's `peer` and `peercred`; not the tag an OBJREF introduces.
fn tag_fields(rec: &ckpt_format::RecordInfo, d: &ckpt_format::read::Decoded) -> Vec<i64> {
    let mut refs = Vec::new();
    for (path, v) in &d.fields {
        let leaf = path.rsplit('.').next().unwrap_or(path);
        let leaf = leaf.split('[').next().unwrap_or(leaf);
        let is_tag = match (rec.name, leaf) {
            ("OBJREF", "objref") => false,
            ("SOCKET_UNIX", "peer" | "peercred") => true,
            (_, l) => l.ends_with("ref"),
        };
        if let Some(t) = v.as_int().filter(|_| is_tag)
            && t > 0
        {
            refs.push(t as i64);
        }
    }
    refs
}

impl Transform for Edit {
    fn record(
        &mut self,
        cx: &mut Cx<'_>,
        rec: &mut Vec<u8>,
        out: &mut Vec<Out>,
    ) -> Result<Flow, ConvertError> {
        let tracker = self
            .tracker
            .get_or_insert_with(|| PlaceTracker::new(cx.from));
        if !self.surveyed && !self.ops.iter().all(|o| o.value_kind().is_some()) {
            return Err(ConvertError::Refused(
                "an edit with --fd or --close needs its survey (Edit::survey) before the pass"
                    .into(),
            ));
        }
        let places = tracker.places_in(cx.rec, rec)?;
        if self.closing.record(cx, rec, out)? {
            return Ok(Flow::Done); // removed
        }
        for place in places {
            let Some((k, new)) = self.mapping(&place) else {
                continue;
            };
            if new == place.value {
                continue;
            }
            write::put(cx.from, cx.rec, rec, &place, &new)?;
            self.changed[k] += 1;
            cx.note(
                &place.member,
                Action::Supplied,
                Some(value_of(&place.value)),
                Some(value_of(&new)),
            )
            .reason = Some(format!("{} ({})", place.use_, self.ops[k]));
        }
        let flush = self.closing.flush_after(cx.rec.index);
        if !self.redirects.is_empty()
            && let Some(outs) =
                self.stream
                    .record(cx, &self.redirects, &self.ops, &mut self.changed, rec)?
        {
            out.extend(outs);
            if flush {
                out.push(Out::SpillFlush);
            }
            return Ok(Flow::Done);
        }
        if flush {
            // A pipe's contents, held back since its first end went, follow this end.
            out.push(Out::Record(rec.clone()));
            out.push(Out::SpillFlush);
            return Ok(Flow::Done);
        }
        Ok(Flow::Pass)
    }

    fn streamed(&mut self, cx: &mut Cx<'_>, out: &mut Vec<Out>) -> Result<Payload, ConvertError> {
        // Page contents hold no places, but the tracker follows every record.
        let tracker = self
            .tracker
            .get_or_insert_with(|| PlaceTracker::new(cx.from));
        tracker.places_in(cx.rec, &[])?;
        Ok(if self.closing.streamed(cx, out) {
            Payload::Copy
        } else {
            Payload::Drop
        })
    }
}

fn value_of(v: &PlaceValue) -> Value {
    match v {
        PlaceValue::Int(i) => Value::Int(*i),
        PlaceValue::Text(t) => Value::Text(t.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uts_name_without_a_uts_namespace_and_an_old_value_found_nowhere_change_nothing() {
        let edit = Edit::new(vec![
            Operation::parse("hostname", "box2").unwrap(),
            Operation::parse("uid", "1=2").unwrap(),
        ]);
        let unused: Vec<String> = edit
            .survey_places(&[])
            .unwrap()
            .iter()
            .map(|u| u.to_string())
            .collect();
        assert_eq!(
            unused,
            [
                "--hostname box2: the image has no UTS namespace record to hold it; nothing changes",
                "--uid 1=2: the image holds the old value nowhere; nothing changes",
            ]
        );
    }
}
