//! `--close PID:FD` on every revision × architecture: the descriptor goes and its table
//! counts one fewer; its file, and what only that file kept (a socket pair and its queued
//! buffers, an epoll's items, a pipe end), go when nothing else refers to them; a pipe's
//! contents move to the end that stays. Every result is checked for what restart needs:
//! no reference to an object the image no longer has, every table's count equal to its
//! descriptors, every pipe's contents right after a pipe end, and `ckpt check` as before.

use std::collections::{BTreeMap, BTreeSet};

use ckpt_convert::edit::Operation;
use ckpt_format::build::BuildOptions;
use ckpt_format::model::ImageModel;
use ckpt_format::{Arch, Schema};
use ckpt_tests::editing::{descriptors, edit, kind, model, problems, reader};
use ckpt_tests::{all_pairs, image};
use proptest::prelude::*;

fn close(pid: i64, fd: i64) -> Operation {
    Operation::parse("close", &format!("{pid}:{fd}")).unwrap()
}

/// What the records of an image say about objects: the tags OBJREF records introduce,
/// the tags members refer to, record counts, and per PIPE_BUF the records before it.
#[derive(Debug, Default)]
struct Walk {
    introduced: BTreeSet<i64>,
    referenced: BTreeSet<i64>,
    counts: BTreeMap<&'static str, usize>,
    /// For every PIPE_BUF: the two records with a header before it, and the f_type of
    /// the FILE among them.
    pipe_bufs: Vec<(&'static str, &'static str, String)>,
    /// The (sk_objref, pr_objref, nr_frags) of every SOCKET_BUFFER.
    buffers: Vec<(i64, i64, i64)>,
}

fn walk(schema: &'static Schema, arch: Arch, img: &[u8]) -> Walk {
    let mut r = reader(schema, arch, img);
    let mut w = Walk::default();
    let mut last: Vec<(&'static str, String)> = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        *w.counts.entry(rec.name).or_default() += 1;
        if rec.name == "PIPE_BUF" {
            let at = |k: usize| last.len().checked_sub(k).map(|i| last[i].clone());
            let (p1, p2) = (at(1).unwrap_or_default(), at(2).unwrap_or_default());
            let ftype = if p1.0 == "FILE" {
                p1.1.clone()
            } else {
                p2.1.clone()
            };
            w.pipe_bufs.push((p2.0, p1.0, ftype));
        }
        if !rec.inline || rec.headerless {
            continue;
        }
        let d = r.decode().unwrap();
        if rec.payload_of.is_none() {
            let ftype = d
                .int("common.f_type")
                .or_else(|| d.int("f_type"))
                .and_then(|t| schema.enum_name("file", t as i64, arch))
                .unwrap_or("")
                .to_string();
            last.push((rec.name, ftype));
        }
        if rec.name == "SOCKET_BUFFER" {
            let g = |p: &str| d.int(p).unwrap_or(0) as i64;
            w.buffers
                .push((g("sk_objref"), g("pr_objref"), g("nr_frags")));
        }
        for (path, v) in &d.fields {
            let leaf = path.rsplit('.').next().unwrap_or(path);
            let tag = v.as_int().unwrap_or(0) as i64;
            if tag <= 0 {
                continue;
            }
            if rec.name == "OBJREF" && leaf == "objref" {
                w.introduced.insert(tag);
            } else if leaf.ends_with("ref")
                || (rec.name == "SOCKET_UNIX" && matches!(leaf, "peer" | "peercred"))
            {
                w.referenced.insert(tag);
            }
        }
    }
    w
}

/// What restart needs of an edited image, against the image it came from.
fn assert_restartable(
    schema: &'static Schema,
    arch: Arch,
    before: &[u8],
    after: &[u8],
    what: &str,
) {
    let (b, a) = (walk(schema, arch, before), walk(schema, arch, after));
    let dangling =
        |w: &Walk| -> BTreeSet<i64> { w.referenced.difference(&w.introduced).copied().collect() };
    let (was, now) = (dangling(&b), dangling(&a));
    let new: Vec<&i64> = now.difference(&was).collect();
    assert!(
        new.is_empty(),
        "{what}: references to objects the image no longer has: {new:?}"
    );
    assert!(
        a.introduced.is_subset(&b.introduced),
        "{what}: closing added objects"
    );
    for (p2, p1, ftype) in &a.pipe_bufs {
        let ok = (*p1 == "FILE" && ftype == "PIPE")
            || (*p1 == "FILE_NAME" && *p2 == "FILE" && ftype == "FIFO");
        assert!(
            ok,
            "{what}: a PIPE_BUF after {p2}, {p1} ({ftype}), not after a pipe end"
        );
    }
    let m = model(schema, arch, after);
    for o in m.objects.values().filter(|o| o.record == "FILE_TABLE") {
        assert_eq!(
            o.int("fdt_nfds"),
            Some(o.fds.len() as i128),
            "{what}: file table {} counts other than its descriptors",
            o.tag
        );
    }
    assert_eq!(
        problems(schema, arch, after),
        problems(schema, arch, before),
        "{what}: ckpt check"
    );
}

/// The objects of `m` as JSON without their byte offsets (which move when records go).
fn objects(m: &ImageModel) -> BTreeMap<i64, serde_json::Value> {
    m.objects
        .iter()
        .map(|(t, o)| {
            let mut v = serde_json::to_value(o).unwrap();
            v.as_object_mut().unwrap().remove("offset");
            v.as_object_mut().unwrap().remove("fds");
            if o.record == "FILE_TABLE" {
                // fdt_nfds: checked against the descriptors.
                v.as_object_mut().unwrap().remove("fields");
            }
            (*t, v)
        })
        .collect()
}

/// The descriptors of `m` but `(pid, fd)`, as (pid, fd, file).
fn others(m: &ImageModel, gone: &[(i64, i64)]) -> Vec<(i64, i64, i64)> {
    descriptors(m)
        .into_iter()
        .filter(|(p, f, _, _)| !gone.contains(&(*p, *f)))
        .map(|(p, f, t, _)| (p, f, t))
        .collect()
}

/// The first task with a file table, and its descriptors of f_type `k` as (fd, file).
fn of_kind(
    schema: &'static Schema,
    arch: Arch,
    m: &ImageModel,
    k: &str,
) -> Option<(i64, Vec<(i64, i64)>)> {
    let t = m
        .tasks
        .iter()
        .find(|t| !t.zombie && t.refs.contains_key("files_objref"))?;
    let fds: Vec<(i64, i64)> = descriptors(m)
        .into_iter()
        .filter(|(p, _, tag, _)| *p == t.pid && kind(schema, arch, m, *tag) == k)
        .map(|(_, fd, tag, _)| (fd, tag))
        .collect();
    Some((t.pid, fds))
}

/// Closes `fds` of `pid`, checks what restart needs and that every other descriptor
/// and every object but `gone` is as it was; returns the image and its walk.
fn closed(
    schema: &'static Schema,
    arch: Arch,
    img: &[u8],
    pid: i64,
    fds: &[i64],
    gone: &[i64],
) -> (Vec<u8>, Walk) {
    let what = format!("{} {arch} --close {pid}:{fds:?}", schema.id);
    let out = edit(
        schema,
        arch,
        img,
        fds.iter().map(|fd| close(pid, *fd)).collect(),
    )
    .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_restartable(schema, arch, img, &out, &what);
    let (before, after) = (model(schema, arch, img), model(schema, arch, &out));
    let closed: Vec<(i64, i64)> = fds.iter().map(|fd| (pid, *fd)).collect();
    assert_eq!(
        others(&after, &closed),
        others(&before, &[])
            .into_iter()
            .filter(|(p, f, _)| !closed.contains(&(*p, *f)))
            .collect::<Vec<_>>(),
        "{what}: other descriptors changed"
    );
    let mut expected = objects(&before);
    for g in gone {
        assert!(expected.remove(g).is_some(), "{what}: {g} was no object");
    }
    // Epoll items and pipe contents are parts of the objects that own them.
    let mut now = objects(&after);
    for v in expected.values_mut().chain(now.values_mut()) {
        v.as_object_mut().unwrap().remove("parts");
        v.as_object_mut().unwrap().remove("pipe_buffered");
    }
    assert_eq!(
        now.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{what}: objects"
    );
    let changed: Vec<&i64> = now.keys().filter(|t| now[t] != expected[t]).collect();
    assert!(
        changed.is_empty(),
        "{what}: objects that stay changed: {changed:?}"
    );
    let w = walk(schema, arch, &out);
    (out, w)
}

#[test]
fn a_file_only_its_descriptor_used_goes_with_it_and_a_shared_one_stays() {
    for (schema, arch) in all_pairs() {
        let img = image(schema, arch, &Default::default());
        let m = model(schema, arch, &img);
        let b = walk(schema, arch, &img);
        let Some((pid, generic)) = of_kind(schema, arch, &m, "GENERIC") else {
            continue;
        };
        let users = |tag: i64| descriptors(&m).iter().filter(|d| d.2 == tag).count();
        let (private, shared): (Vec<_>, Vec<_>) = generic.iter().partition(|(_, t)| users(*t) == 1);
        // The log file: OBJREF, FILE, FILE_NAME and FILE_DESC go.
        let (fd, tag) = private[0];
        let (_, a) = closed(schema, arch, &img, pid, &[fd], &[tag]);
        assert_eq!(a.counts["FILE_DESC"], b.counts["FILE_DESC"] - 1);
        assert_eq!(a.counts["FILE_NAME"], b.counts["FILE_NAME"] - 1);
        assert_eq!(a.counts["OBJREF"], b.counts["OBJREF"] - 1);
        // /dev/null or the terminal, shared by 0, 1 and 2: only the descriptor goes.
        if let Some((fd, _)) = shared.first() {
            let (_, a) = closed(schema, arch, &img, pid, &[*fd], &[]);
            assert_eq!(a.counts["FILE_DESC"], b.counts["FILE_DESC"] - 1);
            assert_eq!(a.counts["OBJREF"], b.counts["OBJREF"]);
        }
        if let Some((_, tag)) =
            of_kind(schema, arch, &m, "TTY").and_then(|(_, v)| v.first().copied())
        {
            // All three descriptors of the terminal: the file and both tty objects go.
            let fds: Vec<i64> = descriptors(&m)
                .iter()
                .filter(|d| d.0 == pid && d.2 == tag)
                .map(|d| d.1)
                .collect();
            let ttys: Vec<i64> = m
                .objects
                .values()
                .filter(|o| o.record == "TTY")
                .map(|o| o.tag)
                .collect();
            let mut gone = vec![tag];
            let tasks_ttys = m.tasks.iter().any(|t| {
                t.signals.iter().any(|(_, f)| {
                    ckpt_format::model::field_int(f, "tty_objref").is_some_and(|x| x > 0)
                })
            });
            if !tasks_ttys {
                gone.extend(&ttys);
            }
            closed(schema, arch, &img, pid, &fds, &gone);
        }
    }
}

#[test]
fn a_unix_socket_pair_goes_with_its_queued_buffers_when_both_ends_are_closed() {
    let mut pairs = 0;
    for (schema, arch) in all_pairs() {
        let img = image(schema, arch, &Default::default());
        let m = model(schema, arch, &img);
        let b = walk(schema, arch, &img);
        let Some((pid, sockets)) = of_kind(schema, arch, &m, "SOCKET") else {
            continue;
        };
        let sock = |file: i64| m.object(file).unwrap().int("sock_objref").unwrap() as i64;
        // The connected unix sockets (the listener has no peer).
        let unix: Vec<(i64, i64)> = sockets
            .iter()
            .copied()
            .filter(|(_, f)| {
                m.object(sock(*f))
                    .unwrap()
                    .part("SOCKET_UNIX")
                    .and_then(|u| ckpt_format::model::field_int(u, "peer"))
                    .is_some_and(|p| p > 0)
            })
            .collect();
        let [(fa, a), (fb, bf)] = unix[..] else {
            panic!("{} {arch}: not one unix socket pair: {unix:?}", schema.id);
        };
        let (sa, sb) = (sock(a), sock(bf));
        let (_, w) = closed(schema, arch, &img, pid, &[fa, fb], &[a, bf, sa, sb]);
        // Receive and write queue of each socket; the buffers queued on them.
        assert_eq!(
            w.counts.get("SOCKET_QUEUE"),
            b.counts.get("SOCKET_QUEUE").map(|n| n - 4).as_ref()
        );
        let theirs: Vec<&(i64, i64, i64)> = b
            .buffers
            .iter()
            .filter(|(s, p, _)| [sa, sb].contains(s) || [sa, sb].contains(p))
            .collect();
        assert!(
            !theirs.is_empty(),
            "{} {arch}: the pair queues nothing",
            schema.id
        );
        assert_eq!(w.buffers.len(), b.buffers.len() - theirs.len());
        let frags: i64 = theirs.iter().map(|x| x.2).sum();
        assert_eq!(
            w.counts.get("SOCKET_FRAG").copied().unwrap_or(0) as i64,
            b.counts.get("SOCKET_FRAG").copied().unwrap_or(0) as i64 - frags
        );
        // One end: its file goes, the sockets stay (the other end's socket names its
        // peer), and so do the queues.
        let (_, w) = closed(schema, arch, &img, pid, &[fa], &[a]);
        assert_eq!(w.counts.get("SOCKET_QUEUE"), b.counts.get("SOCKET_QUEUE"));
        assert_eq!(w.buffers, b.buffers);
        // The listener: its socket goes with it, and it has no queues.
        if let Some(&(fd, file)) = sockets
            .iter()
            .find(|(_, f)| m.object(sock(*f)).unwrap().part("SOCKET_INET").is_some())
        {
            let (_, w) = closed(schema, arch, &img, pid, &[fd], &[file, sock(file)]);
            assert_eq!(w.counts.get("SOCKET_QUEUE"), b.counts.get("SOCKET_QUEUE"));
        }
        pairs += 1;
    }
    assert!(pairs > 10, "only {pairs} images had a unix socket pair");
}

#[test]
fn the_last_reference_to_an_epoll_takes_its_items_and_a_watched_file_stays() {
    let mut epolls = 0;
    for (schema, arch) in all_pairs() {
        let img = image(schema, arch, &Default::default());
        let m = model(schema, arch, &img);
        let b = walk(schema, arch, &img);
        let Some((pid, ep)) = of_kind(schema, arch, &m, "EPOLL") else {
            continue;
        };
        let Some(&(fd, tag)) = ep.first() else {
            continue;
        };
        let (_, w) = closed(schema, arch, &img, pid, &[fd], &[tag]);
        if let Some(n) = b.counts.get("EPOLL_ITEMS") {
            assert_eq!(w.counts.get("EPOLL_ITEMS").copied().unwrap_or(0), n - 1);
            epolls += 1;
        }
        // The eventfd it watches: its descriptor goes, the file stays for the epoll.
        let (_, evs) = of_kind(schema, arch, &m, "EVENTFD").unwrap();
        let (efd, _) = evs[0];
        let (_, w) = closed(schema, arch, &img, pid, &[efd], &[]);
        assert_eq!(w.counts.get("EPOLL_ITEMS"), b.counts.get("EPOLL_ITEMS"));
        // Both: everything goes.
        let (efd, etag) = evs[0];
        closed(schema, arch, &img, pid, &[efd, fd], &[etag, tag]);
    }
    assert!(epolls > 5, "only {epolls} images had an epoll with items");
}

#[test]
fn a_pipe_keeps_its_contents_while_one_end_stays_open() {
    for (schema, arch) in all_pairs() {
        let what = format!("{} {arch}", schema.id);
        let img = image(schema, arch, &Default::default());
        let m = model(schema, arch, &img);
        let b = walk(schema, arch, &img);
        let Some((pid, ends)) = of_kind(schema, arch, &m, "PIPE") else {
            continue;
        };
        let [(r, rt), (wfd, wt)] = ends[..] else {
            panic!("{what}: not one pipe: {ends:?}");
        };
        let buffered = m.object(rt).unwrap().pipe_buffered;
        assert!(
            buffered.is_some_and(|n| n > 0),
            "{what}: the pipe holds nothing"
        );
        // The end its contents came with: they move to the other end.
        let (out, w) = closed(schema, arch, &img, pid, &[r], &[rt]);
        assert_eq!(w.counts["PIPE_BUF"], b.counts["PIPE_BUF"], "{what}");
        assert_eq!(
            model(schema, arch, &out).object(wt).unwrap().pipe_buffered,
            buffered,
            "{what}"
        );
        // The other end: nothing moves.
        let (_, w) = closed(schema, arch, &img, pid, &[wfd], &[wt]);
        assert_eq!(w.counts["PIPE_BUF"], b.counts["PIPE_BUF"], "{what}");
        // Both: the contents go.
        let (_, w) = closed(schema, arch, &img, pid, &[r, wfd], &[rt, wt]);
        assert_eq!(w.counts["PIPE_BUF"], b.counts["PIPE_BUF"] - 1, "{what}");
        // A fifo's one end: its name and contents go.
        let (_, fifo) = of_kind(schema, arch, &m, "FIFO").unwrap();
        let (fd, tag) = fifo[0];
        let (_, w) = closed(schema, arch, &img, pid, &[fd], &[tag]);
        assert_eq!(w.counts["PIPE_BUF"], b.counts["PIPE_BUF"] - 1, "{what}");
        assert_eq!(w.counts["FILE_NAME"], b.counts["FILE_NAME"] - 1, "{what}");
    }
}

#[test]
fn closing_what_the_image_lacks_or_twice_is_refused() {
    let mut threads = 0;
    for (schema, arch) in all_pairs() {
        let img = image(schema, arch, &Default::default());
        let m = model(schema, arch, &img);
        let refused = |ops: Vec<Operation>| edit(schema, arch, &img, ops).unwrap_err().to_string();
        let e = refused(vec![close(99999, 1)]);
        assert!(
            e.contains("--close 99999:1: the image has no task 99999 (its tasks: "),
            "{e}"
        );
        let first = m
            .tasks
            .iter()
            .find(|t| t.refs.contains_key("files_objref"))
            .unwrap()
            .pid;
        let e = refused(vec![close(first, 999)]);
        assert!(
            e.contains(&format!("task {first} has no descriptor 999 (it has 0, 1")),
            "{e}"
        );
        let e = refused(vec![close(first, 0), close(first, 0)]);
        assert!(e.contains("is named twice"), "{e}");
        let fd = Operation::parse("fd", &format!("{first}:3=/dev/zero")).unwrap();
        let e = refused(vec![fd, close(first, 3)]);
        assert!(
            e.contains(&format!(
                "--close {first}:3: descriptor 3 of task {first} is named twice"
            )),
            "{e}"
        );
        // Threads share their file table: a descriptor of one is the other's. (Seed 2
        // of a 6-task image has threads.)
        let opts = BuildOptions {
            tasks: 6,
            seed: 2,
            ..BuildOptions::default()
        };
        let img = image(schema, arch, &opts);
        let m = model(schema, arch, &img);
        let refused = |ops: Vec<Operation>| edit(schema, arch, &img, ops).unwrap_err().to_string();
        let tables: Vec<(i64, i64)> = m
            .tasks
            .iter()
            .filter_map(|t| Some((t.pid, *t.refs.get("files_objref")?)))
            .collect();
        if let Some((a, b)) = tables
            .iter()
            .flat_map(|x| tables.iter().map(move |y| (x, y)))
            .find(|(x, y)| x.0 != y.0 && x.1 == y.1)
        {
            let e = refused(vec![close(a.0, 3), close(b.0, 3)]);
            assert!(
                e.contains(&format!("tasks {} and {} share their file table", a.0, b.0)),
                "{e}"
            );
            threads += 1;
        }
    }
    assert!(threads > 10, "only {threads} images had threads");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    /// Any set of descriptors, of any tasks, closed at once: what restart needs holds,
    /// no descriptor but those is gone, and every object that goes was one only the
    /// closed descriptors kept (what stays refers to none of them).
    #[test]
    fn any_descriptors_closed_leave_a_restartable_image(
        pair in 0usize..64, seed in 1u64..1000, tasks in 1u32..5, mask in any::<u64>()
    ) {
        let pairs = all_pairs();
        let (schema, arch) = pairs[pair % pairs.len()];
        let opts = BuildOptions { tasks, seed, memory: 4096, ..BuildOptions::default() };
        let img = image(schema, arch, &opts);
        let m = model(schema, arch, &img);
        // One descriptor per table (threads share theirs): each chosen by a bit.
        let mut seen = BTreeSet::new();
        let all: Vec<(i64, i64)> = descriptors(&m)
            .into_iter()
            .filter(|(pid, fd, _, _)| {
                let t = m.tasks.iter().find(|t| t.pid == *pid).unwrap();
                seen.insert((t.refs["files_objref"], *fd))
            })
            .map(|(pid, fd, _, _)| (pid, fd))
            .collect();
        let chosen: Vec<(i64, i64)> = all
            .iter()
            .enumerate()
            .filter(|(k, _)| mask >> (k % 64) & 1 == 1)
            .map(|(_, d)| *d)
            .collect();
        prop_assume!(!chosen.is_empty());
        let what = format!("{} {arch} seed {seed}: closing {chosen:?}", schema.id);
        let ops = chosen.iter().map(|(p, f)| close(*p, *f)).collect();
        let out = match edit(schema, arch, &img, ops) {
            Ok(out) => out,
            // Two pipes' contents crossing is the one refusal a plain image can meet.
            Err(e) if e.to_string().contains("in two edits") => return Ok(()),
            Err(e) => panic!("{what}: {e}"),
        };
        assert_restartable(schema, arch, &img, &out, &what);
        let after = model(schema, arch, &out);
        let tables = |m: &ImageModel| -> BTreeSet<(i64, i64, i64)> {
            let mut v = BTreeSet::new();
            for t in &m.tasks {
                if let Some(tb) = t.refs.get("files_objref") {
                    for d in &m.object(*tb).unwrap().fds {
                        v.insert((t.pid, d.fd, d.file));
                    }
                }
            }
            v
        };
        // A descriptor closed in a table closes it for every task sharing the table.
        let table_of = |pid: i64| m.tasks.iter().find(|t| t.pid == pid).unwrap().refs["files_objref"];
        let closed: BTreeSet<(i64, i64)> = chosen.iter().map(|(p, f)| (table_of(*p), *f)).collect();
        let expected: BTreeSet<_> = tables(&m)
            .into_iter()
            .filter(|(p, f, _)| !closed.contains(&(table_of(*p), *f)))
            .collect();
        prop_assert_eq!(tables(&after), expected, "{}", what);
    }
}

/// A conversion across v19-rc2 refuses socket buffers and INET sockets; closing the
/// sockets' descriptors first is how an image gets past it.
#[test]
fn closing_the_sockets_gets_an_image_past_a_conversion_refusal() {
    use ckpt_tests::pairs::{convert_image, convert_options};
    let reg = ckpt_format::Registry::get();
    let (from, to) = (reg.find("v19-rc2").unwrap(), reg.find("pre-v19.c").unwrap());
    let arch = Arch::X86_32;
    let img = image(from, arch, &Default::default());
    let e = convert_image(&img, from, to, arch, &convert_options()).unwrap_err();
    assert!(e.to_string().contains("ckpt edit --close"), "{e}");
    let m = model(from, arch, &img);
    let mut seen = BTreeSet::new();
    let sockets: Vec<Operation> = descriptors(&m)
        .into_iter()
        .filter(|(_, _, tag, _)| kind(from, arch, &m, *tag) == "SOCKET")
        .filter(|(pid, fd, _, _)| {
            let t = m.tasks.iter().find(|t| t.pid == *pid).unwrap();
            seen.insert((t.refs["files_objref"], *fd))
        })
        .map(|(pid, fd, _, _)| close(pid, fd))
        .collect();
    assert!(sockets.len() >= 3, "{sockets:?}");
    let out = edit(from, arch, &img, sockets).unwrap();
    assert_restartable(from, arch, &img, &out, "v19-rc2 without sockets");
    let w = walk(from, arch, &out);
    assert_eq!(w.counts.get("SOCKET"), None);
    convert_image(&out, from, to, arch, &convert_options())
        .unwrap_or_else(|e| panic!("without its sockets the image still does not convert: {e}"));
}

#[test]
fn a_unix_socket_bound_to_a_relative_path_goes_with_its_directory_string() {
    let mut seen = 0;
    for (schema, arch) in all_pairs() {
        let img = image(schema, arch, &Default::default());
        let m = model(schema, arch, &img);
        let b = walk(schema, arch, &img);
        let sock = |file: i64| m.object(file)?.int("sock_objref").map(|t| t as i64);
        // The listener of the builder's second task: bound to a path relative to its cwd.
        let relative = descriptors(&m).into_iter().find_map(|(pid, fd, file, _)| {
            let s = sock(file)?;
            let u = m.object(s)?.part("SOCKET_UNIX")?;
            let path = u.iter().find(|(p, _)| p == "laddr.sun_path")?.1.to_string();
            let relative = path.trim_matches('"');
            (!relative.is_empty() && !relative.starts_with('/')).then_some((pid, fd, file, s))
        });
        let Some((pid, fd, file, s)) = relative else {
            continue;
        };
        let (_, a) = closed(schema, arch, &img, pid, &[fd], &[file, s]);
        for (name, fewer) in [("STRING", 1), ("SOCKET_UNIX", 1), ("SOCKET", 1)] {
            assert_eq!(
                a.counts.get(name).copied().unwrap_or(0),
                b.counts[name] - fewer,
                "{} {arch}: {name}",
                schema.id
            );
        }
        seen += 1;
    }
    assert_eq!(seen, all_pairs().len(), "every pair has the relative bind");
}
