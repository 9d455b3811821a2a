//! Field-level differences between two images, for `ckpt diff`.
//!
//! Tasks are matched by their place in the tree; the objects a task uses are matched by
//! the reference that leads to them (the task's file table, its descriptor N, its address
//! space and its VMA at an address), never by raw tag numbers, which differ between
//! images for no reason. Page contents are compared by hash per VMA, and the contents
//! of SysV IPC objects (shm pages, queued messages, semaphore arrays) by hash per object,
//! matched by kind and order within their namespace. Objects that no task
//! refers to are compared as counts per kind. Members that hold references (names ending
//! in `ref`) are left out: what they point to is compared instead.

use std::collections::{BTreeMap, BTreeSet};

use ckpt_format::model::{Fields, ImageModel, IpcModel, ObjectModel, TaskModel};
use ckpt_format::value::Value;
use serde::Serialize;

/// One difference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// Where: `header.time`, `task 1 (pid 2): files: fd 3: path`.
    pub path: String,
    /// The value in the first image (`None`: absent there).
    pub first: Option<String>,
    /// The value in the second image.
    pub second: Option<String>,
}

fn show(v: &Value) -> String {
    match v {
        Value::Text(t) => format!("{t:?}"),
        Value::Uint(u) => u.to_string(),
        Value::Int(i) => i.to_string(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

struct Cmp<'a> {
    a: &'a ImageModel,
    b: &'a ImageModel,
    out: Vec<Difference>,
    /// Object pairs already compared (shared objects are reported once).
    seen: BTreeSet<(i64, i64)>,
}

fn is_ref(path: &str) -> bool {
    path.rsplit('.').next().unwrap_or(path).ends_with("ref")
}

impl Cmp<'_> {
    fn diff(&mut self, path: String, first: Option<String>, second: Option<String>) {
        if first != second {
            self.out.push(Difference {
                path,
                first,
                second,
            });
        }
    }

    fn fields(&mut self, at: &str, fa: &Fields, fb: &Fields) {
        let mb: BTreeMap<&str, &Value> = fb.iter().map(|(p, v)| (p.as_str(), v)).collect();
        let ma: BTreeMap<&str, &Value> = fa.iter().map(|(p, v)| (p.as_str(), v)).collect();
        let names: BTreeSet<&str> = ma.keys().chain(mb.keys()).copied().collect();
        for n in names {
            if is_ref(n) || n.starts_with("_padding") || n.contains("._padding") {
                continue;
            }
            let (x, y) = (ma.get(n).map(|v| show(v)), mb.get(n).map(|v| show(v)));
            self.diff(format!("{at}{n}"), x, y);
        }
    }

    fn object(&mut self, at: &str, x: Option<&ObjectModel>, y: Option<&ObjectModel>) {
        let (x, y) = match (x, y) {
            (Some(x), Some(y)) => (x, y),
            (None, None) => return,
            (x, y) => {
                let d = |o: Option<&ObjectModel>| o.map(|o| o.kind.clone());
                self.diff(at.trim_end_matches(": ").to_string(), d(x), d(y));
                return;
            }
        };
        if !self.seen.insert((x.tag, y.tag)) {
            return;
        }
        self.diff(
            format!("{at}kind"),
            Some(x.kind.clone()),
            Some(y.kind.clone()),
        );
        self.fields(at, &x.fields, &y.fields);
        // The objects this one refers to (a file's socket or credentials, ...).
        for (name, v) in &x.fields {
            if !is_ref(name) {
                continue;
            }
            let tag = |v: &Value| v.as_int().filter(|t| *t > 0).map(|t| t as i64);
            let other = y
                .fields
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, w)| tag(w));
            if let (Some(p), Some(q)) = (tag(v), other) {
                let label = name.trim_end_matches("_objref").trim_end_matches("_ref");
                let (oa, ob) = (self.a.object(p), self.b.object(q));
                self.object(&format!("{at}{label}: "), oa, ob);
            }
        }
        self.diff(
            format!("{at}names"),
            Some(x.texts.join(", ")),
            Some(y.texts.join(", ")),
        );
        // Descriptors by number.
        let fa: BTreeMap<i64, _> = x.fds.iter().map(|f| (f.fd, f)).collect();
        let fb: BTreeMap<i64, _> = y.fds.iter().map(|f| (f.fd, f)).collect();
        for fd in fa.keys().chain(fb.keys()).copied().collect::<BTreeSet<_>>() {
            let here = format!("{at}fd {fd}: ");
            match (fa.get(&fd), fb.get(&fd)) {
                (Some(p), Some(q)) => {
                    self.diff(
                        format!("{here}close_on_exec"),
                        Some(p.close_on_exec.to_string()),
                        Some(q.close_on_exec.to_string()),
                    );
                    let (oa, ob) = (self.a.object(p.file), self.b.object(q.file));
                    self.object(&here, oa, ob);
                }
                (p, q) => self.diff(
                    format!("{at}fd {fd}"),
                    p.map(|_| "open".to_string()),
                    q.map(|_| "open".to_string()),
                ),
            }
        }
        let auxv = |v: &[u64]| {
            (!v.is_empty()).then(|| {
                v.iter()
                    .map(|x| format!("{x:#x}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
        };
        self.diff(
            format!("{at}saved_auxv"),
            auxv(&x.saved_auxv),
            auxv(&y.saved_auxv),
        );
        // VMAs by start address.
        let va: BTreeMap<u64, _> = x.vmas.iter().map(|v| (v.start, v)).collect();
        let vb: BTreeMap<u64, _> = y.vmas.iter().map(|v| (v.start, v)).collect();
        for start in va.keys().chain(vb.keys()).copied().collect::<BTreeSet<_>>() {
            let here = format!("{at}vma {start:#x}: ");
            match (va.get(&start), vb.get(&start)) {
                (Some(p), Some(q)) => {
                    self.fields(&here, &p.fields, &q.fields);
                    self.diff(
                        format!("{here}pages"),
                        Some(p.pages.to_string()),
                        Some(q.pages.to_string()),
                    );
                    self.diff(
                        format!("{here}page chunks"),
                        Some(p.chunks.to_string()),
                        Some(q.chunks.to_string()),
                    );
                    if p.pages == q.pages {
                        self.diff(
                            format!("{here}page contents (sha256)"),
                            p.hash.clone(),
                            q.hash.clone(),
                        );
                    }
                }
                (p, q) => {
                    let d = |v: Option<&&ckpt_format::model::VmaModel>| {
                        v.map(|v| format!("{:#x}-{:#x}, {} pages", v.start, v.end, v.pages))
                    };
                    self.diff(format!("{at}vma {start:#x}"), d(p), d(q));
                }
            }
        }
        // SysV IPC objects of a namespace: by kind, in image order.
        for kind in ["IPC_SHM", "IPC_MSG", "IPC_SEM"] {
            let ia: Vec<&IpcModel> = x.ipc.iter().filter(|i| i.record == kind).collect();
            let ib: Vec<&IpcModel> = y.ipc.iter().filter(|i| i.record == kind).collect();
            for k in 0..ia.len().max(ib.len()) {
                let id = |i: Option<&&IpcModel>| {
                    i.and_then(|i| i.fields.iter().find(|(n, _)| n == "perms.id"))
                        .map(|(_, v)| show(v))
                };
                let here = format!(
                    "{at}{kind} {k} (id {}): ",
                    id(ia.get(k)).or(id(ib.get(k))).unwrap_or_default()
                );
                match (ia.get(k), ib.get(k)) {
                    (Some(p), Some(q)) => {
                        self.fields(&here, &p.fields, &q.fields);
                        for (what, m, n) in [
                            ("pages", p.pages, q.pages),
                            ("page chunks", p.chunks, q.chunks),
                            ("messages", p.messages, q.messages),
                        ] {
                            self.diff(
                                format!("{here}{what}"),
                                Some(m.to_string()),
                                Some(n.to_string()),
                            );
                        }
                        if p.pages == q.pages && p.messages == q.messages {
                            self.diff(
                                format!("{here}contents (sha256)"),
                                p.hash.clone(),
                                q.hash.clone(),
                            );
                        }
                    }
                    (p, q) => {
                        let d = |i: Option<&&IpcModel>| i.map(|_| "present".to_string());
                        self.diff(here.trim_end_matches(": ").to_string(), d(p), d(q));
                    }
                }
            }
        }
    }

    fn task(&mut self, x: &TaskModel, y: &TaskModel) {
        let at = format!("task {} (pid {} {:?}): ", x.index, x.pid, x.comm);
        for (n, p, q) in [
            ("pid", x.pid, y.pid),
            ("ppid", x.ppid, y.ppid),
            ("tgid", x.tgid, y.tgid),
            ("pgid", x.pgid, y.pgid),
            ("sid", x.sid, y.sid),
        ] {
            self.diff(format!("{at}{n}"), Some(p.to_string()), Some(q.to_string()));
        }
        self.diff(
            format!("{at}nested pids"),
            Some(format!("{:?}", x.nested)),
            Some(format!("{:?}", y.nested)),
        );
        self.diff(
            format!("{at}comm"),
            Some(x.comm.clone()),
            Some(y.comm.clone()),
        );
        self.fields(&format!("{at}TASK."), &x.fields, &y.fields);
        self.fields(&format!("{at}CPU."), &x.cpu, &y.cpu);
        self.fields(&format!("{at}THREAD."), &x.thread, &y.thread);
        self.fields(
            &format!("{at}RESTART_BLOCK."),
            &x.restart_block,
            &y.restart_block,
        );
        let names: BTreeSet<&String> = x.refs.keys().chain(y.refs.keys()).collect();
        for n in names {
            let (oa, ob) = (
                x.refs.get(n).and_then(|t| self.a.object(*t)),
                y.refs.get(n).and_then(|t| self.b.object(*t)),
            );
            let label = n.trim_end_matches("_objref").trim_end_matches("_ref");
            self.object(&format!("{at}{label}: "), oa, ob);
        }
    }
}

/// Every difference between two models (of images of the same revision, or of one
/// converted to the other's).
pub fn compare(a: &ImageModel, b: &ImageModel) -> Vec<Difference> {
    let mut c = Cmp {
        a,
        b,
        out: Vec::new(),
        seen: BTreeSet::new(),
    };
    c.fields("header.", &a.header, &b.header);
    c.diff(
        "header.uts".into(),
        Some(a.uts.join(" ")),
        Some(b.uts.join(" ")),
    );
    c.diff("error".into(), a.error.clone(), b.error.clone());
    c.diff(
        "tasks".into(),
        Some(a.tasks.len().to_string()),
        Some(b.tasks.len().to_string()),
    );
    for (x, y) in a.tasks.iter().zip(&b.tasks) {
        c.task(x, y);
    }
    for t in a.tasks.iter().skip(b.tasks.len()) {
        c.diff(
            format!("task {}", t.index),
            Some(format!("pid {} {:?}", t.pid, t.comm)),
            None,
        );
    }
    for t in b.tasks.iter().skip(a.tasks.len()) {
        c.diff(
            format!("task {}", t.index),
            None,
            Some(format!("pid {} {:?}", t.pid, t.comm)),
        );
    }
    // Objects no task leads to: counts per kind.
    let reached_a: BTreeSet<i64> = c.seen.iter().map(|p| p.0).collect();
    let reached_b: BTreeSet<i64> = c.seen.iter().map(|p| p.1).collect();
    let kinds = |m: &ImageModel, reached: &BTreeSet<i64>| {
        let mut k: BTreeMap<String, u64> = BTreeMap::new();
        for o in m.objects.values().filter(|o| !reached.contains(&o.tag)) {
            *k.entry(o.kind.clone()).or_default() += 1;
        }
        k
    };
    let (ka, kb) = (kinds(a, &reached_a), kinds(b, &reached_b));
    for k in ka.keys().chain(kb.keys()).collect::<BTreeSet<_>>() {
        c.diff(
            format!("other objects: {k}"),
            ka.get(k).map(u64::to_string),
            kb.get(k).map(u64::to_string),
        );
    }
    c.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ckpt_format::build::{BuildOptions, build};
    use ckpt_format::model::read_model;
    use ckpt_format::{Arch, Format, Reader, Registry};

    fn model(seed: u64, memory: u64) -> ImageModel {
        let s = Registry::get().find("1fd8e6e").unwrap();
        let f = Format::new(s, Arch::X86_64);
        let mut img = Vec::new();
        let o = BuildOptions {
            tasks: 3,
            memory,
            seed,
            ..BuildOptions::default()
        };
        build(&f, &o, &mut img).unwrap();
        read_model(Reader::new(&img[..], Format::new(s, Arch::X86_64)), true).unwrap()
    }

    #[test]
    fn an_image_equals_itself_and_differs_from_another_seed() {
        let a = model(1, 16384);
        assert_eq!(compare(&a, &a), vec![]);
        let b = model(2, 16384);
        let d = compare(&a, &b);
        assert!(d.iter().any(|x| x.path.contains("page contents")), "{d:#?}");
        // Tags never show up as differences.
        assert!(d.iter().all(|x| !x.path.ends_with("ref")), "{d:#?}");
    }

    /// The offset of the last byte of the first record named `name` that follows an
    /// `after` record, in a 1fd8e6e x86_64 builder image.
    fn last_byte_of(img: &[u8], after: &str, name: &str) -> usize {
        let s = Registry::get().find("1fd8e6e").unwrap();
        let mut r = Reader::new(img, Format::new(s, Arch::X86_64));
        let mut seen = false;
        while let Some(rec) = r.next_record().unwrap() {
            seen |= rec.name == after;
            if seen && rec.name == name {
                return (rec.offset + rec.len as u64 - 1) as usize;
            }
        }
        panic!("no {name} after {after}");
    }

    #[test]
    fn sysv_shm_pages_message_texts_and_semaphores_are_compared() {
        let s = Registry::get().find("1fd8e6e").unwrap();
        let f = Format::new(s, Arch::X86_64);
        let mut img = Vec::new();
        let o = BuildOptions {
            tasks: 2,
            memory: 8192,
            seed: 5,
            ..BuildOptions::default()
        };
        build(&f, &o, &mut img).unwrap();
        let read =
            |img: &[u8]| read_model(Reader::new(img, Format::new(s, Arch::X86_64)), true).unwrap();
        let a = read(&img);
        for (after, name, what) in [
            ("IPC_SHM", "BUFFER", "IPC_SHM 0"),
            ("IPC_MSG_MSG", "BUFFER", "IPC_MSG 0"),
            ("IPC_SEM", "BUFFER", "IPC_SEM 0"),
        ] {
            let mut changed = img.clone();
            changed[last_byte_of(&img, after, name)] ^= 0x5a;
            let d = compare(&a, &read(&changed));
            assert_eq!(d.len(), 1, "{what}: {d:#?}");
            assert!(
                d[0].path.contains(what) && d[0].path.ends_with("contents (sha256)"),
                "{d:#?}"
            );
        }
    }

    #[test]
    fn more_memory_shows_as_pages_of_a_vma() {
        let (a, b) = (model(1, 16384), model(1, 32768));
        let d = compare(&a, &b);
        assert!(d.iter().any(|x| x.path.contains(": pages")), "{d:#?}");
    }
}
