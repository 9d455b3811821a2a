//! JSON output of a [`Graph`] (`schemas/json/graph.schema.json`): its nodes, edges and
//! thread groups, with `format_version` and `complete`.

use std::io::Write;

use crate::graph::Graph;

/// Version of the JSON document (semver: a new member is a minor change).
pub const FORMAT_VERSION: &str = "1.0.0";

/// `g` as a JSON value.
pub fn to_value(g: &Graph) -> serde_json::Value {
    let mut v = serde_json::to_value(g).expect("a graph serialises");
    if let Some(o) = v.as_object_mut() {
        o.insert("format_version".into(), FORMAT_VERSION.into());
        o.insert("title".into(), g.title().into());
    }
    v
}

/// Writes `g` as pretty-printed JSON, with a final newline.
pub fn write(g: &Graph, out: &mut impl Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &to_value(g))?;
    writeln!(out)
}
