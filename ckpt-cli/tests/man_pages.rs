//! `ckpt man --dir DIR`: a page for every subcommand at every depth, and no page names a
//! page that is not there.

use std::collections::BTreeSet;
use std::fs;
use std::process::Command;

const CKPT: &str = env!("CARGO_BIN_EXE_ckpt");

/// The `NAME(1)` references of a roff page: `.BR NAME (1)` requests, and `NAME(1)` in
/// running text (both with `\-` for `-`).
fn references(page: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in page.lines() {
        let line = line.replace("\\-", "-");
        if let Some(rest) = line.strip_prefix(".BR ") {
            let mut words = rest.split_whitespace();
            if let (Some(name), Some(section)) = (words.next(), words.next())
                && section.starts_with("(1)")
            {
                found.push(name.to_string());
            }
            continue;
        }
        for (at, _) in line.match_indices("(1)") {
            let before = &line[..at];
            let start = before
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .map_or(0, |i| i + 1);
            found.push(before[start..].to_string());
        }
    }
    found
}

#[test]
fn every_page_named_in_a_page_is_generated_and_every_page_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(CKPT)
        .args(["man", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pages: BTreeSet<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .map(|n| {
            n.strip_suffix(".1")
                .unwrap_or_else(|| panic!("{n}"))
                .to_string()
        })
        .collect();
    for expected in [
        "ckpt",
        "ckpt-check",
        "ckpt-convert",
        "ckpt-schema",
        "ckpt-schema-list",
        "ckpt-schema-show",
        "ckpt-schema-diff",
    ] {
        assert!(pages.contains(expected), "no page {expected}: {pages:?}");
    }
    let mut named = BTreeSet::new();
    for page in &pages {
        let text = fs::read_to_string(dir.path().join(format!("{page}.1"))).unwrap();
        assert!(
            text.contains(&format!(".TH {page} 1")),
            "{page}.1 is titled otherwise"
        );
        let refs = references(&text);
        for r in refs {
            assert!(
                pages.contains(&r),
                "{page}.1 names {r}(1), which is not generated; pages: {pages:?}"
            );
            if r != *page {
                named.insert(r);
            }
        }
        if page != "ckpt" {
            assert!(
                text.contains(".SH \"SEE ALSO\""),
                "{page}.1 has no SEE ALSO"
            );
        }
    }
    let unnamed: Vec<&String> = pages
        .iter()
        .filter(|p| *p != "ckpt" && !named.contains(*p))
        .collect();
    assert!(unnamed.is_empty(), "no page names {unnamed:?}");
    // `ckpt man` prints ckpt(1), the same page.
    let o = Command::new(CKPT).arg("man").output().unwrap();
    assert!(o.status.success());
    assert_eq!(o.stdout, fs::read(dir.path().join("ckpt.1")).unwrap());
}

#[test]
fn references_are_found_in_requests_and_text() {
    let page = ".TP\nckpt\\-schema\\-list(1)\nsee ckpt(1) and\n.BR ckpt\\-schema (1),\n";
    assert_eq!(
        references(page),
        ["ckpt-schema-list", "ckpt", "ckpt-schema"]
    );
}
