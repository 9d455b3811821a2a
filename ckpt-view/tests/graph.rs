//! The graph of builder images: every revision and arch gives one, which every writer's
//! output reads back as (DOT through layout-rs's parser, JSON through its schema, SVG
//! as XML with one node element per node); node counts, filters, grouping, an image cut
//! short; snapshots of DOT and SVG (`BLESS=1` to update).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use ckpt_format::build::{BuildOptions, Omit, build};
use ckpt_format::model::{ImageModel, read_model};
use ckpt_format::{Arch, Format, Reader, Registry, Schema};
use ckpt_view::graph::{
    EdgeKind, GROUP_OVER_MANY_TASKS, Graph, GraphOptions, Kind, NodeKind, read_graph,
};

fn image(s: &'static Schema, arch: Arch, o: &BuildOptions) -> Vec<u8> {
    let mut img = Vec::new();
    build(&Format::new(s, arch), o, &mut img).unwrap();
    img
}

fn options(tasks: u32) -> BuildOptions {
    BuildOptions {
        tasks,
        memory: 8192,
        seed: 1,
        with_netns: true,
        ..BuildOptions::default()
    }
}

fn graph_of(img: &[u8], s: &'static Schema, arch: Arch, o: &GraphOptions) -> Graph {
    let (g, e) = read_graph(Reader::new(img, Format::new(s, arch)), o).unwrap();
    assert!(e.is_none(), "{} {arch}: {e:?}", s.id);
    g
}

fn model_of(img: &[u8], s: &'static Schema, arch: Arch) -> ImageModel {
    read_model(Reader::new(img, Format::new(s, arch)), false).unwrap()
}

fn dot(g: &Graph) -> String {
    let mut out = Vec::new();
    ckpt_view::dot::write(g, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn svg(g: &Graph) -> String {
    let mut out = Vec::new();
    ckpt_view::svg::write(g, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// Node statements of a parsed DOT graph, its subgraphs' included.
fn dot_nodes(list: &layout::gv::parser::ast::StmtList, out: &mut Vec<String>) {
    use layout::gv::parser::ast::Stmt;
    for s in &list.list {
        match s {
            Stmt::Node(n) => out.push(n.id.name.clone()),
            Stmt::SubGraph(g) => dot_nodes(&g.list, out),
            _ => {}
        }
    }
}

/// The DOT output, parsed back: its node ids and edge count.
fn read_dot(g: &Graph) -> (Vec<String>, usize) {
    use layout::gv::parser::ast::Stmt;
    let text = dot(g);
    let mut parser = layout::gv::DotParser::new(&text);
    let ast = parser
        .process()
        .unwrap_or_else(|e| panic!("DOT does not parse: {e}\n{text}"));
    let mut nodes = Vec::new();
    dot_nodes(&ast.list, &mut nodes);
    let edges = ast
        .list
        .list
        .iter()
        .filter(|s| matches!(s, Stmt::Edge(_)))
        .count();
    (nodes, edges)
}

/// The SVG output, parsed as XML: the ids of its node elements, and its title.
fn read_svg(g: &Graph) -> (Vec<String>, String) {
    let text = svg(g);
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("SVG: {e}"));
    let nodes = doc
        .descendants()
        .filter(|n| {
            n.has_tag_name("g")
                && n.attribute("class")
                    .is_some_and(|c| c.split(' ').next() == Some("node"))
        })
        .map(|n| n.attribute("id").unwrap().to_string())
        .collect();
    let title = doc
        .root_element()
        .children()
        .find(|n| n.has_tag_name("title"))
        .and_then(|n| n.text())
        .unwrap_or_default()
        .to_string();
    (nodes, title)
}

/// Checks `g` is consistent and that every writer's output reads back as it.
fn check_round_trips(g: &Graph, what: &str) {
    let ids: Vec<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "{what}: duplicate node ids");
    for e in &g.edges {
        assert!(
            unique.contains(e.from.as_str()) && unique.contains(e.to.as_str()),
            "{what}: edge {e:?} to a missing node"
        );
    }
    let (dot_nodes, dot_edges) = read_dot(g);
    assert_eq!(dot_nodes, {
        // Thread groups' tasks come first, in their clusters.
        let grouped: Vec<&str> = g
            .thread_groups
            .iter()
            .flat_map(|t| t.members.iter().map(String::as_str))
            .collect();
        let mut v: Vec<String> = grouped.iter().map(|s| s.to_string()).collect();
        v.extend(
            ids.iter()
                .filter(|i| !grouped.contains(i))
                .map(|s| s.to_string()),
        );
        v
    });
    assert_eq!(dot_edges, g.edges.len(), "{what}: DOT edges");
    let json = ckpt_view::json::to_value(g);
    common::validate("graph.schema.json", &json);
    let mut text = Vec::new();
    ckpt_view::json::write(g, &mut text).unwrap();
    let back: serde_json::Value = serde_json::from_slice(&text).unwrap();
    assert_eq!(back, json, "{what}: JSON read back");
    let back_ids: Vec<&str> = back["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(back_ids, ids, "{what}: JSON nodes");
    assert_eq!(back["edges"].as_array().unwrap().len(), g.edges.len());
    let (svg_nodes, title) = read_svg(g);
    assert_eq!(svg_nodes, ids, "{what}: one SVG node element per node");
    assert_eq!(title, g.title(), "{what}: SVG title");
}

#[test]
fn every_revision_and_arch_gives_a_graph_that_every_writer_reads_back() {
    for s in Registry::get().all() {
        for &(arch, _) in &s.arches {
            let what = format!("{} {arch}", s.id);
            let img = image(s, arch, &options(4));
            let m = model_of(&img, s, arch);
            let g = graph_of(&img, s, arch, &GraphOptions::default());
            assert!(g.complete, "{what}");
            assert_eq!(g.count(NodeKind::Task), m.tasks.len(), "{what}");
            assert_eq!(g.revision, s.id, "{what}");
            // Every revision's builder image holds files, pipes and sockets to draw.
            for kind in [NodeKind::File, NodeKind::Pipe] {
                assert!(g.count(kind) > 0, "{what}: no {kind:?} node");
            }
            assert!(
                g.count(NodeKind::Socket) + g.count(NodeKind::SocketPair) > 0,
                "{what}: no socket"
            );
            assert!(
                g.edges.iter().any(|e| e.kind == EdgeKind::Parent),
                "{what}: no parent edge"
            );
            assert!(
                g.edges
                    .iter()
                    .any(|e| e.label.starts_with("fd ") && e.kind != EdgeKind::Parent),
                "{what}: no descriptor edge"
            );
            check_round_trips(&g, &what);
        }
    }
}

/// What the graph of `m` should hold with nothing grouped, counted from the model
/// itself: a node per task, per file object held (pipes by pipe, unix pairs joined),
/// per file table, fs and mm shared by several tasks, per credentials shared, per
/// namespace, per pid namespace, per SysV IPC object.
fn expected_nodes(m: &ImageModel, f: &Format) -> usize {
    let mut ids: BTreeSet<String> = BTreeSet::new();
    let mut users: BTreeMap<(&str, i64), usize> = BTreeMap::new();
    for t in &m.tasks {
        for (r, v) in &t.refs {
            *users.entry((r.as_str(), *v)).or_default() += 1;
        }
    }
    let file_type = |o: &ckpt_format::model::ObjectModel| -> String {
        let v = o.int("f_type").or(o.int("common.f_type")).unwrap_or(-1);
        f.schema
            .enum_name("file", v as i64, f.arch)
            .unwrap_or("?")
            .to_string()
    };
    for t in &m.tasks {
        ids.insert(format!("task {}", t.index));
        let Some(table) = t.refs.get("files_objref").and_then(|r| m.object(*r)) else {
            continue;
        };
        for fd in &table.fds {
            let file = m.object(fd.file).unwrap();
            let id = match file_type(file).as_str() {
                "PIPE" | "FIFO" => format!("pipe {}", file.int("pipe_objref").unwrap()),
                "SOCKET" => {
                    let s = file.int("sock_objref").unwrap() as i64;
                    let peer = m
                        .object(s)
                        .and_then(|o| o.part("SOCKET_UNIX"))
                        .and_then(|u| ckpt_format::model::field_int(u, "peer"))
                        .map(|p| p as i64)
                        .filter(|p| m.object(*p).is_some());
                    match peer {
                        Some(p) => format!("socket {}", s.min(p)),
                        None => format!("socket {s}"),
                    }
                }
                _ => format!("file {}", fd.file),
            };
            ids.insert(id);
        }
    }
    let shared = |r: &str| {
        users
            .iter()
            .filter(|((k, _), n)| *k == r && **n > 1)
            .count()
    };
    let tables = shared("files_objref") + shared("fs_objref") + shared("mm_objref");
    let creds = shared("cred_ref");
    let mut spaces = BTreeSet::new();
    for t in &m.tasks {
        if let Some(ns) = t.refs.get("ns_objref").and_then(|r| m.object(*r)) {
            for member in ["uts_objref", "ipc_objref", "net_objref"] {
                if let Some(tag) = ns.int(member).filter(|t| *t > 0) {
                    spaces.insert(tag);
                }
            }
        }
    }
    // Pid namespaces: the image's, and one per task whose pids have more levels than
    // its parent's.
    let levels: BTreeMap<i64, usize> = m.tasks.iter().map(|t| (t.pid, t.nested.len())).collect();
    let pid_spaces = 1 + m
        .tasks
        .iter()
        .filter(|t| t.tgid == t.pid || !levels.contains_key(&t.tgid))
        .filter(|t| levels.get(&t.ppid).copied().unwrap_or(0) < t.nested.len())
        .count();
    let ipc: usize = m.objects.values().map(|o| o.ipc.len()).sum();
    ids.len() + tables + creds + spaces.len() + pid_spaces + ipc
}

#[test]
fn a_builder_image_gives_a_node_per_task_and_per_object() {
    let s = Registry::get().find("v23-rc2").unwrap();
    for tasks in [3, 12] {
        let img = image(s, Arch::X86_64, &options(tasks));
        let f = Format::new(s, Arch::X86_64);
        let m = model_of(&img, s, Arch::X86_64);
        let all = GraphOptions {
            group_over: Some(usize::MAX),
            ..GraphOptions::default()
        };
        let g = graph_of(&img, s, Arch::X86_64, &all);
        assert_eq!(g.nodes.len(), expected_nodes(&m, &f), "{tasks} tasks");
        if tasks == 12 {
            // Threads share their leader's tables, drawn once in their group.
            assert!(!g.thread_groups.is_empty());
            for kind in [
                NodeKind::FileTable,
                NodeKind::Fs,
                NodeKind::AddressSpace,
                NodeKind::SocketPair,
                NodeKind::Ipc,
            ] {
                assert!(g.count(kind) > 0, "no {kind:?}");
            }
            for tg in &g.thread_groups {
                for id in &tg.members {
                    assert_eq!(g.node(id).unwrap().thread_group.as_ref(), Some(&tg.id));
                }
            }
        }
        // A pipe is one node, its writer before it and its reader after it.
        for p in g.nodes.iter().filter(|n| n.kind == NodeKind::Pipe) {
            let writes = g
                .edges
                .iter()
                .filter(|e| e.to == p.id && e.kind == EdgeKind::PipeWrite);
            let reads = g
                .edges
                .iter()
                .filter(|e| e.from == p.id && e.kind == EdgeKind::PipeRead);
            assert!(writes.count() + reads.count() > 0, "{}", p.label);
        }
    }
}

#[test]
fn filters_keep_a_task_its_descendants_and_the_kinds_asked_for() {
    let s = Registry::get().find("v23-rc2").unwrap();
    let img = image(s, Arch::X86_64, &options(12));
    let m = model_of(&img, s, Arch::X86_64);
    let pids_of = |g: &Graph| -> BTreeSet<i64> { g.nodes.iter().filter_map(|n| n.pid).collect() };
    // The thread group of each task and the descendants of its tasks, from the model.
    let below = |pid: i64, depth: Option<usize>| -> BTreeSet<i64> {
        let mut out = BTreeSet::from([pid]);
        let mut level = BTreeSet::from([pid]);
        let mut d = 0;
        loop {
            let groups: BTreeSet<i64> = m
                .tasks
                .iter()
                .filter(|t| level.contains(&t.pid))
                .map(|t| t.tgid)
                .collect();
            // A thread stands for its whole thread group.
            let group: BTreeSet<i64> = m
                .tasks
                .iter()
                .filter(|t| groups.contains(&t.tgid))
                .map(|t| t.pid)
                .collect();
            out.extend(group.iter().copied());
            level.extend(group);
            if depth.is_some_and(|x| d >= x) {
                break;
            }
            let next: BTreeSet<i64> = m
                .tasks
                .iter()
                .filter(|t| level.contains(&t.ppid) && !out.contains(&t.pid))
                .map(|t| t.pid)
                .collect();
            if next.is_empty() {
                break;
            }
            out.extend(next.iter().copied());
            level = next;
            d += 1;
        }
        out
    };
    for t in &m.tasks {
        let o = GraphOptions {
            pid: Some(t.pid),
            ..GraphOptions::default()
        };
        let g = graph_of(&img, s, Arch::X86_64, &o);
        assert_eq!(pids_of(&g), below(t.pid, None), "--pid {}", t.pid);
        check_round_trips(&g, &format!("--pid {}", t.pid));
    }
    let root = m.tasks[0].pid;
    for depth in [0, 1] {
        let o = GraphOptions {
            depth: Some(depth),
            ..GraphOptions::default()
        };
        let g = graph_of(&img, s, Arch::X86_64, &o);
        assert_eq!(pids_of(&g), below(root, Some(depth)), "--depth {depth}");
        assert!(pids_of(&g).len() < m.tasks.len());
    }
    let only = |kinds: &[Kind]| GraphOptions {
        kinds: kinds.iter().copied().collect(),
        ..GraphOptions::default()
    };
    let g = graph_of(&img, s, Arch::X86_64, &only(&[]));
    assert!(g.nodes.iter().all(|n| n.kind == NodeKind::Task));
    assert_eq!(g.nodes.len(), m.tasks.len());
    // Pipes hang from their holders: a task, or a file table its threads share.
    let g = graph_of(&img, s, Arch::X86_64, &only(&[Kind::Pipes]));
    let kinds: BTreeSet<NodeKind> = g.nodes.iter().map(|n| n.kind).collect();
    assert_eq!(
        kinds,
        BTreeSet::from([NodeKind::Task, NodeKind::Pipe, NodeKind::FileTable])
    );
    let g = graph_of(&img, s, Arch::X86_64, &only(&[Kind::Ns, Kind::Creds]));
    let kinds: BTreeSet<NodeKind> = g.nodes.iter().map(|n| n.kind).collect();
    assert_eq!(
        kinds,
        BTreeSet::from([NodeKind::Task, NodeKind::Namespace, NodeKind::Creds])
    );
    let g = graph_of(&img, s, Arch::X86_64, &only(&[Kind::Ipc]));
    assert!(g.count(NodeKind::Ipc) > 0);
    assert!(
        GraphOptions {
            pid: Some(9999),
            ..GraphOptions::default()
        }
        .pid
        .is_some()
    );
    let e = read_graph(
        Reader::new(&img[..], Format::new(s, Arch::X86_64)),
        &GraphOptions {
            pid: Some(9999),
            ..GraphOptions::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("no task with pid 9999"), "{e}");
}

#[test]
fn two_hundred_tasks_group_their_private_objects() {
    let s = Registry::get().find("v23-rc2").unwrap();
    let img = image(s, Arch::X86_64, &options(200));
    let ungrouped = graph_of(
        &img,
        s,
        Arch::X86_64,
        &GraphOptions {
            group_over: Some(usize::MAX),
            ..GraphOptions::default()
        },
    );
    let g = graph_of(&img, s, Arch::X86_64, &GraphOptions::default());
    assert_eq!(g.count(NodeKind::Task), 200);
    assert!(g.count(NodeKind::Group) > 100, "{}", g.title());
    // A group stands for the nodes it replaces.
    let groups = g.nodes.iter().filter(|n| n.kind == NodeKind::Group);
    let (n, stood_for) = groups.fold((0, 0), |(n, c), x| (n + 1, c + x.count.unwrap()));
    assert_eq!(ungrouped.nodes.len() - stood_for + n, g.nodes.len());
    // No holder keeps more private objects than the rule allows.
    let mut private: BTreeMap<&str, usize> = BTreeMap::new();
    let mut holders: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in g.edges.iter().filter(|e| e.label.starts_with("fd ")) {
        let (holder, object) = match e.kind {
            EdgeKind::PipeRead => (e.to.as_str(), e.from.as_str()),
            _ => (e.from.as_str(), e.to.as_str()),
        };
        holders.entry(object).or_default().insert(holder);
    }
    for (object, hs) in &holders {
        if hs.len() == 1 && g.node(object).unwrap().kind != NodeKind::Group {
            *private.entry(hs.iter().next().unwrap()).or_default() += 1;
        }
    }
    assert!(
        private.values().all(|&n| n <= GROUP_OVER_MANY_TASKS),
        "{private:?}"
    );
    check_round_trips(&g, "200 tasks");
}

#[test]
fn an_image_cut_short_gives_the_graph_of_what_was_read_marked_incomplete() {
    let s = Registry::get().find("v23-rc2").unwrap();
    let img = image(s, Arch::X86_64, &options(4));
    let whole = graph_of(&img, s, Arch::X86_64, &GraphOptions::default());
    let cut = &img[..img.len() * 2 / 3];
    let (g, e) = read_graph(
        Reader::new(cut, Format::new(s, Arch::X86_64)),
        &GraphOptions::default(),
    )
    .unwrap();
    assert!(e.is_some());
    assert!(!g.complete);
    assert!(g.nodes.len() < whole.nodes.len() && !g.nodes.is_empty());
    assert!(g.title().starts_with("INCOMPLETE"), "{}", g.title());
    assert!(dot(&g).starts_with("// INCOMPLETE"));
    assert_eq!(ckpt_view::json::to_value(&g)["complete"], false);
    assert!(read_svg(&g).1.starts_with("INCOMPLETE"));
    check_round_trips(&g, "cut short");
}

#[test]
fn dot_and_svg_match_their_snapshots() {
    let bless = std::env::var_os("BLESS").is_some_and(|v| v == "1");
    let s = Registry::get().find("v23-rc2").unwrap();
    let o = BuildOptions {
        tasks: 6,
        memory: 8192,
        seed: 1,
        omit: Omit {
            zombies: true,
            ..Omit::default()
        },
        ..BuildOptions::default()
    };
    let img = image(s, Arch::X86_64, &o);
    let g = graph_of(&img, s, Arch::X86_64, &GraphOptions::default());
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let mut failures = Vec::new();
    for (name, text) in [
        ("v23-rc2-6-tasks.dot", dot(&g)),
        ("v23-rc2-6-tasks.svg", svg(&g)),
    ] {
        // The same graph gives the same bytes.
        let again = if name.ends_with(".dot") {
            dot(&g)
        } else {
            svg(&g)
        };
        assert_eq!(text, again, "{name} is not deterministic");
        let path = dir.join(name);
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(want) if want == text => {}
            Ok(_) => failures.push(format!("{} differs (BLESS=1 to accept)", path.display())),
            Err(_) => failures.push(format!("{} is missing (BLESS=1 to create)", path.display())),
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}
