//! SVG output of a [`Graph`], laid out here by the layered (Sugiyama) layout of the
//! `dagre` crate: no external program. Each graph node is one `<g class="node">`
//! element whose `id` is the node's, each edge one `<g class="edge">`, each thread group
//! one `<g class="cluster">` drawn around its tasks. The document's `<title>` is the
//! graph's title, which begins with `INCOMPLETE` for an image cut short.

use std::fmt::Write as _;
use std::io::Write;

use dagre::graph::{Graph as Layout, GraphOptions};
use dagre::{EdgeLabel, GraphLabel, LayoutOptions, NodeLabel, RankDir, Ranker, layout};

use crate::graph::{EdgeKind, Graph, NodeKind};
use crate::text::xml_escape;

/// Width of a character of the labels, in pixels (11px monospace).
const CHAR_WIDTH: f64 = 6.7;
/// Height of a line of a label.
const LINE_HEIGHT: f64 = 14.0;
/// Padding inside a node's box.
const PAD: f64 = 8.0;
/// Room above the drawing for the title.
const TITLE_HEIGHT: f64 = 28.0;
/// Margin around the drawing.
const MARGIN: f64 = 16.0;

/// The size of a box holding `label`.
fn size_of(label: &str) -> (f64, f64) {
    let lines = label.lines().count().max(1) as f64;
    let widest = label.lines().map(|l| l.chars().count()).max().unwrap_or(0) as f64;
    (widest * CHAR_WIDTH + 2.0 * PAD, lines * LINE_HEIGHT + PAD)
}

/// The fill of a node of `kind`.
fn fill(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Task => "#dbe9f6",
        NodeKind::File | NodeKind::Group => "#f4f4f4",
        NodeKind::Pipe => "#fde8c8",
        NodeKind::Socket | NodeKind::SocketPair => "#e3f1dc",
        NodeKind::AddressSpace | NodeKind::FileTable | NodeKind::Fs => "#ece3f4",
        NodeKind::Ipc => "#f6e0e0",
        NodeKind::Namespace => "#fff7c0",
        NodeKind::Creds => "#e0f0f0",
    }
}

/// How edges are drawn, by kind (the classes of their `<g class="edge KIND">`).
const EDGE_STYLE: &str = ".edge path{fill:none;stroke:#666;stroke-width:1;marker-end:url(#arrow)}\
.edge.parent path{stroke:#1f4e8c;stroke-width:1.6}.edge.pipe path{stroke:#c06000}\
.edge.peer path{stroke:#2e7d32;stroke-dasharray:5 3;marker-start:url(#arrow)}\
.edge.contains path{stroke:#888;stroke-dasharray:2 2}";

/// Positions from the layout: a box's centre and size.
struct Placed {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
}

fn placed(l: &NodeLabel) -> Placed {
    Placed {
        x: l.x.unwrap_or(0.0),
        y: l.y.unwrap_or(0.0),
        width: l.width,
        height: l.height,
    }
}

/// Graphs of up to this many nodes are ranked by network simplex, larger ones by a
/// tight tree (`schemas/graph.md`, "What made 1,000 tasks slow").
pub const SIMPLEX_UP_TO: usize = 600;

/// Room around a thread group's members inside its box (and for its label above).
const CLUSTER_PAD: f64 = 6.0;

/// The box around the laid-out `members`, with room for a label line on top.
fn cluster_box(l: &Layout<NodeLabel, EdgeLabel>, members: &[String]) -> Option<Placed> {
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for m in members {
        let p = placed(l.node(m)?);
        x0 = x0.min(p.x - p.width / 2.0);
        y0 = y0.min(p.y - p.height / 2.0);
        x1 = x1.max(p.x + p.width / 2.0);
        y1 = y1.max(p.y + p.height / 2.0);
    }
    if x0 > x1 {
        return None;
    }
    let (x0, y0) = (x0 - CLUSTER_PAD, y0 - CLUSTER_PAD - LINE_HEIGHT);
    let (x1, y1) = (x1 + CLUSTER_PAD, y1 + CLUSTER_PAD);
    Some(Placed {
        x: (x0 + x1) / 2.0,
        y: (y0 + y1) / 2.0,
        width: x1 - x0,
        height: y1 - y0,
    })
}

/// Lays `g` out: the layout graph, with node and edge sizes set.
fn lay_out(g: &Graph) -> Layout<NodeLabel, EdgeLabel> {
    let mut l: Layout<NodeLabel, EdgeLabel> = Layout::with_options(GraphOptions {
        directed: true,
        multigraph: true,
        compound: false,
    });
    for n in &g.nodes {
        let (width, height) = size_of(&n.label);
        let label = NodeLabel {
            width,
            height,
            ..NodeLabel::default()
        };
        l.set_node(n.id.clone(), Some(label));
    }
    // Thread groups are not dagre clusters: its compound layout (a nesting graph and
    // border nodes per cluster, on every rank the cluster spans) made a 1,000-task
    // graph take 36 s. A layout-only edge from the leader to each of its threads
    // keeps a group together (threads draw no parent edge), and the group's box is
    // drawn around its members' boxes (see `cluster_box`).
    for tg in &g.thread_groups {
        let Some((leader, threads)) = tg.members.split_first() else {
            continue;
        };
        for t in threads {
            l.set_edge(
                leader,
                t,
                Some(EdgeLabel::default()),
                Some(&format!("tg {t}")),
            );
        }
    }
    for (k, e) in g.edges.iter().enumerate() {
        // Labels get no room of their own in the layout (that doubles the ranks and
        // makes a thousand-task graph ten times slower): they sit at the middle of
        // their edge.
        let name = k.to_string();
        l.set_edge(&e.from, &e.to, Some(EdgeLabel::default()), Some(&name));
    }
    let options = LayoutOptions {
        // Left to right: a wide tree grows down the page, where labels (one line
        // each) stack closely.
        rankdir: RankDir::LR,
        nodesep: 14.0,
        edgesep: 8.0,
        ranksep: 60.0,
        // Network simplex (the best ranks) took 57 % of a 1,000-task graph's layout;
        // beyond a few hundred nodes the tight tree it starts from is kept.
        ranker: if g.nodes.len() > SIMPLEX_UP_TO {
            Ranker::TightTree
        } else {
            Ranker::NetworkSimplex
        },
        ..LayoutOptions::default()
    };
    layout(&mut l, Some(options));
    l
}

/// Writes `g` as a standalone SVG document.
pub fn write(g: &Graph, out: &mut impl Write) -> std::io::Result<()> {
    let l = lay_out(g);
    let (mut width, mut height) = l
        .graph_label::<GraphLabel>()
        .map_or((0.0, 0.0), |gl| (gl.width, gl.height));
    let title = g.title();
    width = width.max(title.chars().count() as f64 * CHAR_WIDTH * 1.1) + 2.0 * MARGIN;
    height += TITLE_HEIGHT + 2.0 * MARGIN;
    let mut s = String::new();
    let _ = writeln!(s, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="monospace" font-size="11">"#,
        w = width.ceil(),
        h = height.ceil()
    );
    let _ = writeln!(s, "<title>{}</title>", xml_escape(&title));
    let _ = writeln!(
        s,
        r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>"##
    );
    let _ = writeln!(s, "<style>{EDGE_STYLE}</style>");
    let _ = writeln!(
        s,
        r#"<rect x="0" y="0" width="100%" height="100%" fill="white"/>"#
    );
    let title_fill = if g.complete { "#000" } else { "#b00000" };
    let _ = writeln!(
        s,
        r#"<text class="title" x="{MARGIN}" y="{:.1}" font-size="13" fill="{title_fill}">{}</text>"#,
        MARGIN + 13.0,
        xml_escape(&title)
    );
    let _ = writeln!(
        s,
        r#"<g transform="translate({MARGIN} {:.1})">"#,
        MARGIN + TITLE_HEIGHT
    );
    for tg in &g.thread_groups {
        let Some(p) = cluster_box(&l, &tg.members) else {
            continue;
        };
        let (x, y) = (p.x - p.width / 2.0, p.y - p.height / 2.0);
        let _ = writeln!(
            s,
            r##"<g class="cluster" id="{id}"><rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" rx="6" fill="#f7fbff" stroke="#7a9cc6" stroke-dasharray="4 2"/><text x="{tx:.1}" y="{ty:.1}" fill="#36597f">{label}</text></g>"##,
            id = xml_escape(&tg.id),
            w = p.width,
            h = p.height,
            tx = x + 4.0,
            ty = y + 11.0,
            label = xml_escape(&tg.label)
        );
    }
    for (k, e) in g.edges.iter().enumerate() {
        let name = k.to_string();
        let Some(el) = l.edge(&e.from, &e.to, Some(&name)) else {
            continue;
        };
        edge(&mut s, e, el);
    }
    for n in &g.nodes {
        let Some(p) = l.node(&n.id).map(placed) else {
            continue;
        };
        let (x, y) = (p.x - p.width / 2.0, p.y - p.height / 2.0);
        let kind = serde_json::to_value(n.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = write!(
            s,
            r##"<g class="node {kind}" id="{id}"><title>{title}</title><rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" rx="{rx}" fill="{fill}" stroke="#444"/><text x="{tx:.1}" y="{ty:.1}">"##,
            id = xml_escape(&n.id),
            title = xml_escape(&n.label),
            w = p.width,
            h = p.height,
            rx = if n.kind == NodeKind::Task { 2 } else { 8 },
            fill = fill(n.kind),
            tx = x + PAD,
            ty = y + PAD / 2.0 + 11.0,
        );
        for (i, line) in n.label.lines().enumerate() {
            let _ = write!(
                s,
                r#"<tspan x="{:.1}" dy="{}">{}</tspan>"#,
                x + PAD,
                if i == 0 { 0.0 } else { LINE_HEIGHT },
                xml_escape(line)
            );
        }
        let _ = writeln!(s, "</text></g>");
    }
    let _ = writeln!(s, "</g>\n</svg>");
    out.write_all(s.as_bytes())
}

/// One edge: its path through the layout's points, an arrow head (both ends for
/// peers), its label at the layout's label position.
fn edge(s: &mut String, e: &crate::graph::Edge, el: &EdgeLabel) {
    let mut d = String::new();
    for (i, p) in el.points.iter().enumerate() {
        let _ = write!(
            d,
            "{}{:.1},{:.1}",
            if i == 0 { "M" } else { " L" },
            p.x,
            p.y
        );
    }
    if d.is_empty() {
        return;
    }
    // Stroke, dashes and arrow heads come from the document's style, by kind: a
    // thousand-task graph has thousands of edges.
    let kind = match e.kind {
        EdgeKind::Parent => "parent",
        EdgeKind::PipeRead | EdgeKind::PipeWrite => "pipe",
        EdgeKind::Peer => "peer",
        EdgeKind::Contains => "contains",
        EdgeKind::Holds => "holds",
    };
    let _ = write!(
        s,
        r#"<g class="edge {kind}" data-from="{}" data-to="{}"><path d="{d}"/>"#,
        xml_escape(&e.from),
        xml_escape(&e.to),
    );
    if !e.label.is_empty()
        && let Some((x, y)) = middle(&el.points)
    {
        let _ = write!(
            s,
            r##"<text x="{x:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#333">{}</text>"##,
            y + 4.0,
            xml_escape(&e.label)
        );
    }
    let _ = writeln!(s, "</g>");
}

/// The point halfway along a polyline.
fn middle(points: &[dagre::Point]) -> Option<(f64, f64)> {
    let length = |a: &dagre::Point, b: &dagre::Point| (b.x - a.x).hypot(b.y - a.y);
    let total: f64 = points.windows(2).map(|w| length(&w[0], &w[1])).sum();
    let mut left = total / 2.0;
    for w in points.windows(2) {
        let l = length(&w[0], &w[1]);
        if l >= left && l > 0.0 {
            let t = left / l;
            return Some((
                w[0].x + t * (w[1].x - w[0].x),
                w[0].y + t * (w[1].y - w[0].y),
            ));
        }
        left -= l;
    }
    points.first().map(|p| (p.x, p.y))
}
