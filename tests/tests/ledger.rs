//! The conversion ledger is exact: every value a conversion makes up, changes, moves or
//! drops has an entry, and no value has two.
//!
//! Each pair of builder images that `convert.rs` converts is converted here too; the
//! output's records are aligned with the source's (by record type, payload and object
//! type, in stream order), and each aligned pair is compared field by field, members
//! matched by name (and by the steps' renames). Every difference, every source record
//! without a counterpart and every output record without one must be named by a ledger
//! entry (record index, record, field path, action).

use std::collections::{BTreeMap, HashMap};

use ckpt_convert::{Action, ConvertError, LedgerEntry, Options, Summary, TaskPaths};
use ckpt_format::build::BuildOptions;
use ckpt_format::value::Value;
use ckpt_format::{Arch, Format, Reader, Registry, Schema};
use ckpt_tests::image;

use ckpt_tests::pairs::{
    build_options as opts_for_pair, convert_image as conv, convert_options as convert_opts,
};

/// A 2-task image, as the examples use.
fn two_tasks() -> BuildOptions {
    BuildOptions {
        tasks: 2,
        ..BuildOptions::default()
    }
}

/// One record of an image, decoded.
struct Rec {
    index: u64,
    name: &'static str,
    /// The payload's owner (type name and index) and the payload's name.
    owner: Option<(&'static str, u64, &'static str)>,
    /// How many TASK records precede this record (or are it).
    task: u64,
    /// What aligns records: type, payload, object type.
    key: String,
    struct_name: Option<String>,
    fields: BTreeMap<String, Value>,
    /// The body, for records without fields.
    body: Vec<u8>,
}

fn records(img: &[u8], s: &'static Schema, arch: Arch) -> Vec<Rec> {
    let f = Format::new(s, arch);
    let mut r = Reader::new(img, f);
    let mut out = Vec::new();
    let (mut owner, mut task) = (0u64, 0u64);
    while let Some(info) = r.next_record().unwrap() {
        if info.payload_of.is_none() {
            owner = info.index;
            if info.name == "TASK" {
                task += 1;
            }
        }
        let decoded = if info.inline { r.decode().ok() } else { None };
        let (start, end) = (
            info.offset as usize,
            (info.offset + info.len as u64) as usize,
        );
        let body_start = if info.headerless { start } else { start + 8 };
        let fields: BTreeMap<String, Value> = decoded
            .as_ref()
            .map(|d| d.fields.iter().cloned().collect())
            .unwrap_or_default();
        let mut key = format!("{} {:?}", info.name, info.payload_of);
        if info.name == "OBJREF"
            && let Some(t) = fields.get("objtype").and_then(Value::as_int)
        {
            key.push_str(s.enum_name("obj", t as i64, arch).unwrap_or("?"));
        }
        out.push(Rec {
            index: info.index,
            name: info.name,
            owner: info.payload_of.map(|(o, p)| (o, owner, p)),
            task,
            key,
            struct_name: decoded.and_then(|d| d.struct_name),
            fields,
            body: img[body_start.min(end)..end].to_vec(),
        });
    }
    out
}

/// The aligned (source, output) positions: the longest common subsequence of the keys,
/// task by task (a conversion moves records inside a task, never across tasks).
fn align(a: &[Rec], b: &[Rec]) -> Vec<(usize, usize)> {
    let tasks = a.iter().chain(b).map(|r| r.task).max().unwrap_or(0);
    let mut pairs = Vec::new();
    for t in 0..=tasks {
        let ia: Vec<usize> = (0..a.len()).filter(|&i| a[i].task == t).collect();
        let ib: Vec<usize> = (0..b.len()).filter(|&j| b[j].task == t).collect();
        let sa: Vec<&Rec> = ia.iter().map(|&i| &a[i]).collect();
        let sb: Vec<&Rec> = ib.iter().map(|&j| &b[j]).collect();
        pairs.extend(lcs(&sa, &sb).into_iter().map(|(i, j)| (ia[i], ib[j])));
    }
    pairs
}

/// Longest common subsequence of the keys of `a` and `b`.
fn lcs(a: &[&Rec], b: &[&Rec]) -> Vec<(usize, usize)> {
    let (n, m) = (a.len(), b.len());
    let mut t = vec![0u16; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            t[at(i, j)] = if a[i].key == b[j].key {
                t[at(i + 1, j + 1)] + 1
            } else {
                t[at(i + 1, j)].max(t[at(i, j + 1)])
            };
        }
    }
    let (mut i, mut j, mut pairs) = (0, 0, Vec::new());
    while i < n && j < m {
        if a[i].key == b[j].key {
            pairs.push((i, j));
            i += 1;
            j += 1;
        } else if t[at(i + 1, j)] >= t[at(i, j + 1)] {
            i += 1;
        } else {
            j += 1;
        }
    }
    pairs
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::List(x), Value::List(y)) => {
            let n = x.len().max(y.len());
            let zero = Value::Uint(0);
            (0..n).all(|k| same(x.get(k).unwrap_or(&zero), y.get(k).unwrap_or(&zero)))
        }
        (Value::Text(x), Value::Text(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        _ => match (a.as_int(), b.as_int()) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

fn is_default(v: &Value) -> bool {
    match v {
        Value::List(l) => l.iter().all(is_default),
        Value::Text(t) => t.is_empty(),
        Value::Float(f) => *f == 0.0,
        _ => v.as_int() == Some(0),
    }
}

/// Framing and padding: not values of the image.
fn framing(path: &str) -> bool {
    let leaf = path.rsplit('.').next().unwrap_or(path);
    path.starts_with("h.")
        || path.contains(".h.")
        || leaf == "padding"
        || leaf.starts_with('_') && leaf.contains("pad")
}

/// Whether entry `e` names field `path` of a record called `record`.
fn names(e: &LedgerEntry, record: &str, path: &str) -> bool {
    e.record == record
        && (e.field.is_empty()
            || e.field == path
            || path
                .strip_prefix(e.field.as_str())
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('[')))
}

struct Check<'a> {
    by_index: HashMap<u64, Vec<&'a LedgerEntry>>,
    problems: Vec<String>,
    label: String,
}

impl Check<'_> {
    fn at(&self, i: u64) -> impl Iterator<Item = &&LedgerEntry> {
        self.by_index.get(&i).into_iter().flatten()
    }

    /// Whether the ledger names field `path` of source record `s` (or, for a payload, the
    /// payload of its owner).
    fn covered(&self, s: &Rec, path: &str) -> bool {
        self.at(s.index).any(|e| names(e, s.name, path))
            || s.owner.is_some_and(|(o, oi, pname)| {
                let p = if path.is_empty() {
                    pname.to_string()
                } else if path.starts_with(pname) {
                    path.to_string()
                } else {
                    format!("{pname}.{path}")
                };
                self.at(oi).any(|e| names(e, o, &p))
            })
    }

    fn problem(&mut self, what: String) {
        if self.problems.len() < 30 {
            self.problems.push(format!("{}: {what}", self.label));
        }
    }

    /// Compares an aligned pair field by field.
    fn compare(&mut self, s: &Rec, o: &Rec, renames: &[(&'static str, String, String)]) {
        let st = o.struct_name.as_deref().unwrap_or("");
        let renamed = |p: &str| -> String {
            // Element paths (`pids[0].vpid`) rename the member after the index.
            let (pre, member) = p.rsplit_once("].").map_or(("", p), |(a, b)| (a, b));
            match renames
                .iter()
                .find(|(stn, now, _)| *stn == st && now == member)
            {
                Some((_, _, was)) if pre.is_empty() => was.clone(),
                Some((_, _, was)) => format!("{pre}].{was}"),
                None => p.to_string(),
            }
        };
        let mut taken = Vec::new();
        for (p, v) in &o.fields {
            if framing(p) {
                continue;
            }
            let sp = renamed(p);
            match s.fields.get(&sp) {
                Some(old) => {
                    taken.push(sp.clone());
                    if !same(old, v) && !self.covered(s, p) && !self.covered(s, &sp) {
                        self.problem(format!(
                            "record #{} {} {p}: {old:?} -> {v:?} with no entry",
                            s.index, s.name
                        ));
                    }
                }
                None => {
                    if !self.covered(s, p) {
                        self.problem(format!(
                            "record #{} {} {p}: made up ({v:?}) with no entry",
                            s.index, s.name
                        ));
                    }
                }
            }
        }
        for (p, v) in &s.fields {
            if framing(p) || taken.contains(p) || o.fields.contains_key(p) || is_default(v) {
                continue;
            }
            if !self.covered(s, p) {
                self.problem(format!(
                    "record #{} {} {p}: {v:?} gone with no entry",
                    s.index, s.name
                ));
            }
        }
        if s.fields.is_empty() && o.fields.is_empty() && s.body != o.body && !self.covered(s, "") {
            let any = self.at(s.index).any(|e| e.record == s.name);
            if !any {
                self.problem(format!(
                    "record #{} {}: body changed with no entry",
                    s.index, s.name
                ));
            }
        }
    }
}

const GONE: [Action; 4] = [
    Action::Removed,
    Action::Dropped,
    Action::Moved,
    Action::Rewritten,
];

fn check_pair(
    label: String,
    img: &[u8],
    out: &[u8],
    from: &'static Schema,
    to: &'static Schema,
    arch: Arch,
    summary: &Summary,
) -> Vec<String> {
    let src = records(img, from, arch);
    let dst = records(out, to, arch);
    let entries = &summary.ledger.entries;
    let mut c = Check {
        by_index: HashMap::new(),
        problems: Vec::new(),
        label,
    };
    for e in entries {
        c.by_index.entry(e.record_index).or_default().push(e);
    }
    // Once: no value has two entries.
    let mut seen = HashMap::new();
    for e in entries {
        if let Some(prev) = seen.insert((e.record_index, &e.record, &e.field), e.action) {
            c.problem(format!(
                "record #{} {} {}: two entries ({:?} and {:?})",
                e.record_index, e.record, e.field, prev, e.action
            ));
        }
    }
    let renames = ckpt_convert::steps::renames_between(from, to);
    let pairs = align(&src, &dst);
    let mut src_used = vec![false; src.len()];
    let mut dst_used = vec![false; dst.len()];
    for &(i, j) in &pairs {
        src_used[i] = true;
        dst_used[j] = true;
        c.compare(&src[i], &dst[j], &renames);
    }
    // Records that moved: pair what is left by key, in order, inside each task; the move
    // is in the ledger for one of the records of the task.
    let moved_in_task = |c: &Check<'_>, task: u64| {
        src.iter()
            .filter(|r| r.task == task)
            .any(|r| c.at(r.index).any(|e| e.action == Action::Moved))
    };
    for i in 0..src.len() {
        if src_used[i] || !moved_in_task(&c, src[i].task) {
            continue;
        }
        if let Some(j) = (0..dst.len())
            .find(|&j| !dst_used[j] && dst[j].key == src[i].key && dst[j].task == src[i].task)
        {
            src_used[i] = true;
            dst_used[j] = true;
            c.compare(&src[i], &dst[j], &renames);
        }
    }
    // Source records without a counterpart: removed, dropped or rewritten.
    for (s, _) in src.iter().zip(&src_used).filter(|(_, u)| !**u) {
        let named = c
            .at(s.index)
            .any(|e| e.record == s.name && GONE.contains(&e.action))
            || s.owner.is_some_and(|(o, oi, pname)| {
                c.at(oi).any(|e| {
                    e.record == o
                        && (e.field.is_empty() || e.field == pname)
                        && GONE.contains(&e.action)
                })
            });
        if !named {
            c.problem(format!(
                "record #{} {} ({}) gone with no entry",
                s.index, s.name, s.key
            ));
        }
    }
    // Output records without a counterpart: inserted between the source records aligned
    // before and after them (or, where records moved, in the same task).
    let task_of: HashMap<u64, u64> = src.iter().map(|r| (r.index, r.task)).collect();
    for j in (0..dst.len()).filter(|&j| !dst_used[j]) {
        let before = pairs
            .iter()
            .rev()
            .find(|p| p.1 < j)
            .map_or(0, |p| src[p.0].index);
        let after = pairs
            .iter()
            .find(|p| p.1 > j)
            .map_or(u64::MAX, |p| src[p.0].index);
        let o = &dst[j];
        let named = entries.iter().any(|e| {
            ((before..=after).contains(&e.record_index)
                || task_of.get(&e.record_index) == Some(&o.task))
                && matches!(e.action, Action::Inserted | Action::Rewritten)
                && (e.record == o.name || o.owner.is_some_and(|(owner, _, _)| e.record == owner))
        });
        if !named {
            c.problem(format!(
                "output record {} ({}) between source records #{before} and #{after} with no entry",
                o.name, o.key
            ));
        }
    }
    c.problems
}

#[test]
fn every_difference_of_every_pair_has_one_ledger_entry() {
    let reg = Registry::get();
    let mut images: HashMap<(String, Arch), Vec<u8>> = HashMap::new();
    let mut problems = Vec::new();
    let mut checked = 0;
    for a in reg.all() {
        for (arch, _) in &a.arches {
            let img = images
                .entry((a.id.clone(), *arch))
                .or_insert_with(|| image(a, *arch, &opts_for_pair()))
                .clone();
            for b in reg.all() {
                if !b.has_arch(*arch) || a.id == b.id {
                    continue;
                }
                match conv(&img, a, b, *arch, &convert_opts()) {
                    Ok((out, s)) => {
                        checked += 1;
                        let label = format!("{} -> {} {arch}", a.id, b.id);
                        problems.extend(check_pair(label, &img, &out, a, b, *arch, &s));
                    }
                    Err(ConvertError::Refused(_)) => {}
                    Err(e) => problems.push(format!("{} -> {} {arch}: {e}", a.id, b.id)),
                }
            }
        }
    }
    assert!(checked >= 950, "only {checked} pairs converted");
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The entries of converting `img` (streamed, as `--report` gets them) and the output.
fn reported(
    img: &[u8],
    from: &'static Schema,
    to: &'static Schema,
    arch: Arch,
    o: &Options,
) -> (Vec<u8>, Summary, Vec<LedgerEntry>) {
    let r = Reader::new(img, Format::new(from, arch));
    let (mut out, mut entries) = (Vec::new(), Vec::new());
    let mut keep = |e: &LedgerEntry| -> std::io::Result<()> {
        entries.push(e.clone());
        Ok(())
    };
    let s = ckpt_convert::convert_with_report(r, to, o, &mut out, &mut keep)
        .unwrap_or_else(|e| panic!("{} -> {} {arch}: {e}", from.id, to.id));
    (out, s, entries)
}

/// The tree entries (`pids[k].vppid` and so on) of an image.
fn tree_of(img: &[u8], s: &'static Schema, arch: Arch) -> BTreeMap<String, Value> {
    records(img, s, arch)
        .into_iter()
        .find(|r| r.owner.is_some_and(|(o, _, p)| o == "TREE" && p == "pids"))
        .expect("a tree")
        .fields
}

#[test]
fn the_root_parent_that_pid_objects_leave_out_is_defaulted_with_its_reason() {
    let reg = Registry::get();
    let x = Arch::X86_64;
    for from in ["b6cdf01", "1fd8e6e", "5c3471a"] {
        for to in ["82822cf", "67cfee9"] {
            let (a, b) = (reg.find(from).unwrap(), reg.find(to).unwrap());
            let img = image(a, x, &opts_for_pair());
            let (out, _, entries) = reported(&img, a, b, x, &convert_opts());
            let tree = tree_of(&out, b, x);
            // The root's parent, and any other task whose parent the tree does not hold
            // (threads of this builder).
            let parents: Vec<&LedgerEntry> = entries
                .iter()
                .filter(|e| e.record == "TREE" && e.field.ends_with(".vppid"))
                .collect();
            assert!(
                parents.iter().any(|e| e.field == "pids[0].vppid"),
                "{from} -> {to}: {parents:?}"
            );
            for e in parents {
                assert_eq!(e.action, Action::Defaulted, "{from} -> {to}");
                assert_eq!(e.new.as_ref().and_then(Value::as_int), Some(0));
                assert_eq!(
                    e.reason.as_deref(),
                    Some("v23 images record only that the parent is outside the tree")
                );
                assert_eq!(e.step.as_deref(), Some("a272e68 -> b6cdf01"));
                // The entry names what the output holds.
                assert_eq!(tree.get(&e.field).and_then(Value::as_int), Some(0));
            }
        }
    }
}

#[test]
fn a_supplied_fs_object_reference_is_noted_once_as_supplied() {
    let reg = Registry::get();
    let (a, b) = (reg.find("76fcfe5").unwrap(), reg.find("c97c03d").unwrap());
    let x = Arch::X86_64;
    let o = Options {
        cwd: TaskPaths::all("/"),
        root: TaskPaths::all("/"),
        ..Options::default()
    };
    let (_, s, entries) = reported(&image(a, x, &two_tasks()), a, b, x, &o);
    let refs: Vec<&LedgerEntry> = entries.iter().filter(|e| e.field == "fs_objref").collect();
    assert!(!refs.is_empty());
    assert!(
        refs.iter().all(|e| e.action == Action::Supplied),
        "{refs:?}"
    );
    let mut at: Vec<u64> = refs.iter().map(|e| e.record_index).collect();
    at.dedup();
    assert_eq!(at.len(), refs.len(), "{refs:?}");
    // The summary counts what the report lists.
    assert_eq!(
        s.ledger.count(Action::Defaulted),
        0,
        "{:?}",
        s.ledger.counts
    );
    for (action, n) in &s.ledger.counts {
        let listed = entries.iter().filter(|e| e.action == *action).count() as u64;
        assert_eq!(listed, *n, "{action:?}");
    }
}

#[test]
fn every_object_tag_that_moves_has_a_moved_entry() {
    let reg = Registry::get();
    let (a, b) = (reg.find("a272e68").unwrap(), reg.find("b6cdf01").unwrap());
    let x = Arch::X86_64;
    let img = image(a, x, &two_tasks());
    let (out, s, entries) = reported(&img, a, b, x, &Options::default());
    let nr_pids = records(&out, b, x)
        .iter()
        .find(|r| r.name == "PIDS")
        .and_then(|r| r.fields.get("nr_pids").and_then(Value::as_int))
        .unwrap();
    let moved: Vec<&LedgerEntry> = entries
        .iter()
        .filter(|e| e.action == Action::Moved)
        .collect();
    let records_moved = {
        let mut v: Vec<u64> = moved.iter().map(|e| e.record_index).collect();
        v.dedup();
        v.len() as u64
    };
    // Every record that changed is one whose tags moved, or the tree section and header.
    assert!(records_moved > 100, "{records_moved}");
    assert!(records_moved <= s.records_changed, "{}", s.records_changed);
    for e in moved {
        assert!(e.field.ends_with("ref"), "{e:?}");
        let (old, new) = (e.old.as_ref().unwrap(), e.new.as_ref().unwrap());
        assert_eq!(
            old.as_int().unwrap() + nr_pids,
            new.as_int().unwrap(),
            "{e:?}"
        );
        assert_eq!(e.step.as_deref(), Some("a272e68 -> b6cdf01"));
    }
    // The 2-task image of the report, checked field by field like the pair set.
    let (out, kept) = conv(&img, a, b, x, &Options::default()).unwrap();
    let problems = check_pair("a272e68 -> b6cdf01".into(), &img, &out, a, b, x, &kept);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
