//! The report of builder images: its JSON document against its schema, the page's
//! parts (banner, inline SVG, data block, no network), escaping of what comes from the
//! image, an image cut short, every revision and arch; a snapshot of the HTML
//! (`BLESS=1` to update).

mod common;

use std::path::PathBuf;

use ckpt_format::build::{BuildOptions, Omit, build};
use ckpt_format::detect::open;
use ckpt_format::{Arch, Format, Registry, Schema};
use ckpt_view::report::{CheckTarget, Report, check_section, convert_section, html, read_report};

fn image(s: &'static Schema, arch: Arch, tasks: u32) -> Vec<u8> {
    let o = BuildOptions {
        tasks,
        memory: 8192,
        seed: 1,
        omit: Omit {
            zombies: true,
            ..Omit::default()
        },
        ..BuildOptions::default()
    };
    let mut img = Vec::new();
    build(&Format::new(s, arch), &o, &mut img).unwrap();
    img
}

/// The report of `img` named `name`, with check (and convert to `to`, if given), as
/// `ckpt report` makes it.
fn report_of(img: &[u8], name: &str, to: Option<&'static Schema>) -> Report {
    let (mut r, det) = open(img, None, None).unwrap();
    let (mut report, e) = read_report(&mut r, &det, name).unwrap();
    assert!(e.is_none(), "{e:?}");
    let (r, det) = open(img, None, None).unwrap();
    report.check = Some(check_section(
        r,
        &det,
        to.unwrap_or(det.schema),
        &CheckTarget::default(),
    ));
    if let Some(to) = to {
        let (r, _) = open(img, None, None).unwrap();
        report.convert = Some(convert_section(r, to, &ckpt_convert::Options::default()));
    }
    report
}

fn page(report: &Report) -> String {
    let mut svg = Vec::new();
    ckpt_view::svg::write(&report.drawn, &mut svg).unwrap();
    let mut out = Vec::new();
    html::write(report, &String::from_utf8(svg).unwrap(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// The JSON block of a page, parsed.
fn data_of(page: &str) -> serde_json::Value {
    let start = page
        .find(r#"<script type="application/json" id="report-data">"#)
        .expect("data block");
    let body = &page[start..];
    let body = &body[body.find('>').unwrap() + 1..];
    let end = body.find("</script>").unwrap();
    serde_json::from_str(&body[..end]).unwrap()
}

#[test]
fn a_report_holds_every_section_and_its_data_reads_back() {
    let s = Registry::get().find("v23-rc2").unwrap();
    let to = Registry::get().find("v23-rc1").unwrap();
    let img = image(s, Arch::X86_64, 6);
    let report = report_of(&img, "image.ckpt", Some(to));
    let text = page(&report);
    assert!(text.starts_with("<!DOCTYPE html>\n"));
    assert!(!text.contains("INCOMPLETE"));
    // Self-contained: nothing fetched.
    for fetch in ["src=", "href=\"http", "@import", "url(http", "<link"] {
        assert!(!text.contains(fetch), "the page fetches something: {fetch}");
    }
    for section in ["summary", "graph", "task", "stats", "check", "convert"] {
        assert!(
            text.contains(&format!("<section id=\"{section}\">")),
            "{section}"
        );
    }
    // The graph inline: one task node per task.
    let nodes = text.matches("<g class=\"node task\"").count();
    assert_eq!(nodes, report.tasks.len());
    let data = data_of(&text);
    common::validate("report.schema.json", &data);
    assert_eq!(data, serde_json::to_value(&report).unwrap());
    assert_eq!(data["tasks"].as_array().unwrap().len(), 6);
    assert!(data["check"]["report"]["target_revision"] == "v23-rc1");
    assert_eq!(data["convert"]["path"][0], "v23-rc2");
    assert!(
        data["convert"]["counts"]
            .as_object()
            .is_some_and(|c| !c.is_empty())
    );
    // The written JSON (--json-data) is the embedded one.
    let written: serde_json::Value = serde_json::from_str(&html::json(&report)).unwrap();
    assert_eq!(written, data);
}

#[test]
fn what_comes_from_the_image_is_escaped() {
    let s = Registry::get().find("v23-rc2").unwrap();
    let img = image(s, Arch::X86_64, 2);
    let mut report = report_of(&img, "a<b>&\"c\".ckpt", None);
    let hostile = "</script><img src=x onerror=alert(1)><!--";
    report.tasks[0].comm = hostile.to_string();
    if let Some(f) = report.tasks[0].files.first_mut() {
        f.path = Some(hostile.to_string());
    }
    report.drawn.nodes[0].label = hostile.to_string();
    report.title = format!("{hostile} title");
    let text = page(&report);
    assert!(!text.contains("<img"), "markup from the image in the page");
    assert!(
        !text.contains("</script><"),
        "a script block ended by the data"
    );
    assert_eq!(text.matches("</script>").count(), 2);
    let data = data_of(&text);
    assert_eq!(data["tasks"][0]["comm"], hostile);
    assert!(
        text.contains("<h1>&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&lt;!-- title</h1>")
    );
    assert_eq!(data["summary"]["image"], "a<b>&\"c\".ckpt");
}

#[test]
fn an_image_cut_short_gives_the_report_of_what_was_read_marked_incomplete() {
    let s = Registry::get().find("v23-rc2").unwrap();
    let img = image(s, Arch::X86_64, 6);
    let cut = &img[..img.len() * 2 / 3];
    let (mut r, det) = open(cut, None, None).unwrap();
    let (report, e) = read_report(&mut r, &det, "cut.ckpt").unwrap();
    assert!(e.is_some());
    assert!(!report.complete && report.read_error.is_some());
    assert!(report.title.starts_with("INCOMPLETE"));
    assert!(!report.tasks.is_empty());
    let text = page(&report);
    let first = text.lines().next().unwrap();
    assert!(first.contains("INCOMPLETE"), "{first}");
    assert!(text.contains("<div id=\"incomplete\" class=\"banner\">INCOMPLETE"));
    common::validate("report.schema.json", &data_of(&text));
    // Not even a header: the error, no report.
    let mut r = ckpt_format::Reader::new(&img[..4], Format::new(det.schema, det.arch));
    assert!(read_report(&mut r, &det, "short.ckpt").is_err());
}

#[test]
fn every_revision_and_arch_gives_a_report() {
    for &s in Registry::get().all() {
        for &(arch, _) in s.arches.iter() {
            let img = image(s, arch, 3);
            let (mut r, det) = open(&img[..], Some(&s.id), None).unwrap();
            let (report, e) = read_report(&mut r, &det, "x.ckpt")
                .unwrap_or_else(|e| panic!("{} {arch}: {e}", s.id));
            assert!(e.is_none(), "{} {arch}: {e:?}", s.id);
            assert_eq!(report.tasks.len(), report.summary.tasks, "{} {arch}", s.id);
            common::validate(
                "report.schema.json",
                &serde_json::to_value(&report).unwrap(),
            );
        }
    }
}

#[test]
fn the_page_matches_its_snapshot() {
    let bless = std::env::var_os("BLESS").is_some_and(|v| v == "1");
    let s = Registry::get().find("v23-rc2").unwrap();
    let to = Registry::get().find("v23-rc1").unwrap();
    let img = image(s, Arch::X86_64, 6);
    let text = page(&report_of(&img, "image.ckpt", Some(to)));
    assert_eq!(
        text,
        page(&report_of(&img, "image.ckpt", Some(to))),
        "not deterministic"
    );
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/v23-rc2-6-tasks.html");
    if bless {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    match std::fs::read_to_string(&path) {
        Ok(want) => assert!(
            want == text,
            "{} differs (BLESS=1 to accept)",
            path.display()
        ),
        Err(_) => panic!("{} is missing (BLESS=1 to create)", path.display()),
    }
}
