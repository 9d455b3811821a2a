//! DOT (Graphviz) output of a [`Graph`]: nodes and edges in the graph's order, labels
//! escaped, thread groups as clusters; an incomplete graph says so in a comment and in
//! the graph's label.

use std::io::Write;

use crate::graph::{EdgeKind, Graph, NodeKind};

/// `text` as a DOT quoted string: `"` and `\` escaped, lines as `\n`.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The shape and fill of a node of `kind`.
fn style(kind: NodeKind) -> (&'static str, &'static str) {
    match kind {
        NodeKind::Task => ("box", "#dbe9f6"),
        NodeKind::File | NodeKind::Group => ("note", "#f4f4f4"),
        NodeKind::Pipe => ("cds", "#fde8c8"),
        NodeKind::Socket | NodeKind::SocketPair => ("hexagon", "#e3f1dc"),
        NodeKind::AddressSpace | NodeKind::FileTable | NodeKind::Fs => ("box3d", "#ece3f4"),
        NodeKind::Ipc => ("component", "#f6e0e0"),
        NodeKind::Namespace => ("tab", "#fff7c0"),
        NodeKind::Creds => ("octagon", "#e0f0f0"),
    }
}

/// Writes `g` as a DOT digraph.
pub fn write(g: &Graph, out: &mut impl Write) -> std::io::Result<()> {
    if !g.complete {
        writeln!(
            out,
            "// INCOMPLETE: the image could not be read to its end; the graph is of what was read."
        )?;
    }
    writeln!(out, "digraph ckpt {{")?;
    writeln!(out, "  label={};", quote(&g.title()))?;
    writeln!(out, "  labelloc=t;")?;
    writeln!(out, "  rankdir=LR;")?;
    writeln!(
        out,
        "  node [style=filled, fontname=\"monospace\", fontsize=10];"
    )?;
    writeln!(out, "  edge [fontname=\"monospace\", fontsize=9];")?;
    let grouped: std::collections::BTreeSet<&str> = g
        .thread_groups
        .iter()
        .flat_map(|t| t.members.iter().map(String::as_str))
        .collect();
    let node_line = |n: &crate::graph::Node| {
        let (shape, fill) = style(n.kind);
        format!(
            "{} [label={}, shape={shape}, fillcolor={}];",
            quote(&n.id),
            quote(&n.label),
            quote(fill)
        )
    };
    for tg in &g.thread_groups {
        writeln!(
            out,
            "  subgraph {} {{",
            quote(&format!("cluster_{}", tg.id))
        )?;
        writeln!(out, "    label={};", quote(&tg.label))?;
        for m in &tg.members {
            if let Some(n) = g.node(m) {
                writeln!(out, "    {}", node_line(n))?;
            }
        }
        writeln!(out, "  }}")?;
    }
    for n in g.nodes.iter().filter(|n| !grouped.contains(n.id.as_str())) {
        writeln!(out, "  {}", node_line(n))?;
    }
    for e in &g.edges {
        let mut attrs = Vec::new();
        if !e.label.is_empty() {
            attrs.push(format!("label={}", quote(&e.label)));
        }
        match e.kind {
            EdgeKind::Parent => attrs.push("style=bold".into()),
            EdgeKind::Peer => attrs.push("dir=both, style=dashed".into()),
            EdgeKind::PipeRead | EdgeKind::PipeWrite => attrs.push("color=\"#c06000\"".into()),
            EdgeKind::Contains => attrs.push("style=dotted".into()),
            EdgeKind::Holds => {}
        }
        let attrs = if attrs.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attrs.join(", "))
        };
        writeln!(out, "  {} -> {}{attrs};", quote(&e.from), quote(&e.to))?;
    }
    writeln!(out, "}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_quotes_backslashes_and_lines() {
        assert_eq!(quote("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
        assert_eq!(quote("x\u{7}"), "\"x\u{fffd}\"");
    }
}
