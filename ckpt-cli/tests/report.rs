//! `ckpt report`: the page and `--json-data` from a file (with check and convert) and a
//! pipe; an image cut short (report of what was read, exit 1); an image that does not
//! read (the error, no file).

mod common;

use common::{ok, run, validate};

/// A 4-task builder image written to `dir`.
fn sample(dir: &std::path::Path) -> std::path::PathBuf {
    let img = dir.join("s.ckpt");
    let s = img.to_str().unwrap();
    ok(
        &[
            "sample", "--rev", "v23-rc2", "--arch", "x86_64", "--tasks", "4", "-o", s,
        ],
        None,
    );
    img
}

#[test]
fn a_report_and_its_data_from_a_file_and_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let img = sample(dir.path());
    let img = img.to_str().unwrap();
    let page = dir.path().join("r.html");
    let data = dir.path().join("r.json");
    let (page_s, data_s) = (page.to_str().unwrap(), data.to_str().unwrap());
    ok(
        &[
            "report",
            img,
            "-o",
            page_s,
            "--to-rev",
            "v23-rc1",
            "--json-data",
            data_s,
        ],
        None,
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>\n"));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&data).unwrap()).unwrap();
    validate("report.schema.json", &v);
    assert_eq!(v["tasks"].as_array().unwrap().len(), 4);
    assert_eq!(v["convert"]["to"], "v23-rc1");
    assert!(v["check"]["report"].is_object());
    // The same document is the page's.
    assert!(html.contains(std::fs::read_to_string(&data).unwrap().trim_end()));
    // From a pipe: the report, check and convert left out (said so).
    let bytes = std::fs::read(img).unwrap();
    let piped = dir.path().join("p.json");
    ok(
        &[
            "report",
            "-",
            "-o",
            "/dev/null",
            "--json-data",
            piped.to_str().unwrap(),
        ],
        Some(&bytes),
    );
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&piped).unwrap()).unwrap();
    validate("report.schema.json", &p);
    assert_eq!(p["tasks"], v["tasks"]);
    assert!(
        p["check"]["error"]
            .as_str()
            .unwrap()
            .contains("standard input")
    );
}

#[test]
fn an_image_cut_short_and_one_that_does_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let img = sample(dir.path());
    let bytes = std::fs::read(&img).unwrap();
    let cut = dir.path().join("cut.ckpt");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let page = dir.path().join("cut.html");
    let o = run(
        &[
            "report",
            cut.to_str().unwrap(),
            "-o",
            page.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.lines().next().unwrap().contains("INCOMPLETE"));
    assert!(html.contains("class=\"banner\">INCOMPLETE"));
    // Not an image: the error, and no file.
    let junk = dir.path().join("junk.ckpt");
    std::fs::write(&junk, b"this is not a checkpoint image").unwrap();
    let none = dir.path().join("none.html");
    let o = run(
        &[
            "report",
            junk.to_str().unwrap(),
            "-o",
            none.to_str().unwrap(),
        ],
        None,
    );
    assert!(!o.status.success());
    assert!(!o.stderr.is_empty());
    assert!(!none.exists(), "a report of an image that does not read");
}
