//! `ckpt graph`: DOT, SVG and JSON of a builder image, from a file, a container and a
//! pipe; `-o` written whole; filters; exit codes for an image cut short, a pid that is
//! not there and a bad kind.

mod common;
use common::{ok, run, validate};

/// A builder image of `tasks` tasks written to `dir`.
fn sample(dir: &std::path::Path, tasks: &str) -> String {
    let path = dir.join(format!("sample-{tasks}.ckpt"));
    let path = path.to_str().unwrap().to_string();
    ok(
        &[
            "sample", "--rev", "v23-rc2", "--arch", "x86_64", "--tasks", tasks, "-o", &path,
        ],
        None,
    );
    path
}

fn json(args: &[&str], stdin: Option<&[u8]>) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(&ok(args, stdin)).unwrap();
    validate("graph.schema.json", &v);
    v
}

#[test]
fn every_format_from_a_file_a_pipe_and_a_container() {
    let dir = tempfile::tempdir().unwrap();
    let img = sample(dir.path(), "6");
    let dot = String::from_utf8(ok(&["graph", &img], None)).unwrap();
    assert!(dot.starts_with("digraph ckpt {"), "{dot}");
    assert!(dot.trim_end().ends_with('}'));
    let v = json(&["graph", "--format", "json", &img], None);
    assert_eq!(v["complete"], true);
    let tasks = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "task")
        .count();
    assert_eq!(tasks, 6);
    // The same graph from standard input.
    let bytes = std::fs::read(&img).unwrap();
    assert_eq!(json(&["graph", "--format", "json", "-"], Some(&bytes)), v);
    // And from ckpt's container.
    let boxed = dir.path().join("boxed.ckpt");
    let boxed = boxed.to_str().unwrap();
    ok(&["annotate", &img, "-o", boxed], None);
    assert_eq!(json(&["graph", "--format", "json", boxed], None), v);
    let svg = String::from_utf8(ok(&["graph", "--format", "svg", &img], None)).unwrap();
    assert!(svg.starts_with("<?xml") && svg.contains("<svg "), "{svg}");
    assert_eq!(
        svg.matches("<g class=\"node ").count(),
        v["nodes"].as_array().unwrap().len()
    );
}

#[test]
fn output_goes_to_the_file_named_whole() {
    let dir = tempfile::tempdir().unwrap();
    let img = sample(dir.path(), "4");
    let out = dir.path().join("graph.svg");
    let out_s = out.to_str().unwrap();
    let printed = ok(&["graph", "--format", "svg", "-o", out_s, &img], None);
    assert!(printed.is_empty());
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        written.as_bytes(),
        ok(&["graph", "--format", "svg", &img], None)
    );
    // Nothing left beside it.
    let names = common::names(dir.path());
    assert_eq!(names, ["graph.svg", "sample-4.ckpt"]);
    // The image itself is refused as the output.
    let o = run(&["graph", "-o", &img, &img], None);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn filters_narrow_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    let img = sample(dir.path(), "12");
    let count = |v: &serde_json::Value, kind: &str| {
        v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == kind)
            .count()
    };
    let all = json(&["graph", "--format", "json", &img], None);
    let one = json(
        &[
            "graph", "--format", "json", "--pid", "2", "--depth", "0", &img,
        ],
        None,
    );
    assert!(count(&one, "task") < count(&all, "task"));
    let pids: Vec<i64> = one["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["pid"].as_i64())
        .collect();
    assert!(pids.contains(&2), "{pids:?}");
    let pipes = json(
        &["graph", "--format", "json", "--kinds", "pipes", &img],
        None,
    );
    assert_eq!(count(&pipes, "socket"), 0);
    assert_eq!(count(&pipes, "pipe"), count(&all, "pipe"));
    let none = json(
        &["graph", "--format", "json", "--kinds", "ns,creds", &img],
        None,
    );
    assert_eq!(count(&none, "pipe") + count(&none, "file"), 0);
    assert!(count(&none, "namespace") > 0);
}

#[test]
fn bad_input_exits_with_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let img = sample(dir.path(), "4");
    let o = run(&["graph", "--pid", "999", &img], None);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no task with pid 999"), "{err}");
    let o = run(&["graph", "--kinds", "bogus", &img], None);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["graph", "--format", "png", &img], None);
    assert_eq!(o.status.code(), Some(2));
    let o = run(
        &["graph", dir.path().join("missing.ckpt").to_str().unwrap()],
        None,
    );
    assert_eq!(o.status.code(), Some(3));
    // Cut short: the graph of what was read, marked so, and exit 1.
    let bytes = std::fs::read(&img).unwrap();
    let cut = dir.path().join("cut.ckpt");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let cut = cut.to_str().unwrap();
    let o = run(&["graph", "--format", "json", cut], None);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    validate("graph.schema.json", &v);
    assert_eq!(v["complete"], false);
    assert!(v["title"].as_str().unwrap().starts_with("INCOMPLETE"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cut.ckpt") && err.contains("offset"), "{err}");
    let o = run(&["graph", cut], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("// INCOMPLETE"));
    // With -o, the graph of what was read is written too.
    let out = dir.path().join("cut.svg");
    let o = run(
        &["graph", "--format", "svg", "-o", out.to_str().unwrap(), cut],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("<title>INCOMPLETE")
    );
}
