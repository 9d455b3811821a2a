//! `ckpt dump` values that survive JSON tools, and an `ckpt encode` that refuses what it
//! cannot place and reads its output back while it writes it.

use std::path::Path;

use ckpt_tests::json_through_doubles;
use serde_json::Value as Json;

mod common;
use common::{ok, run};

fn sample(rev: &str, arch: &str) -> Vec<u8> {
    ok(&["sample", "--rev", rev, "--arch", arch, "-o", "-"], None)
}

/// `ckpt dump --payloads` of `img`, one JSON value per line.
fn dump(img: &[u8]) -> Vec<Json> {
    let text = String::from_utf8(ok(&["dump", "--payloads", "-"], Some(img))).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn text(lines: &[Json]) -> Vec<u8> {
    let mut s = String::new();
    for l in lines {
        s.push_str(&l.to_string());
        s.push('\n');
    }
    s.into_bytes()
}

/// `ckpt encode -` of `lines` to a file in `dir`: the exit code, stderr, and the file.
fn encode(dir: &Path, lines: &[Json], extra: &[&str]) -> (i32, String, Option<Vec<u8>>) {
    let out = dir.join("out.ckpt");
    let _ = std::fs::remove_file(&out);
    let mut args = vec!["encode", "-", "-o", out.to_str().unwrap()];
    args.extend(extra);
    let o = run(&args, Some(&text(lines)));
    let written = std::fs::read(&out).ok();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    // Values as a user writes them, never Rust's Debug text.
    for debug in [
        "Some(", "None", "Text(", "Uint(", "Int(", "Float(", "Exact(",
    ] {
        assert!(!err.contains(debug), "{debug} in {err}");
    }
    (o.status.code().unwrap(), err, written)
}

/// The index of the first record line named `name`.
fn line_of(lines: &[Json], name: &str) -> usize {
    lines.iter().position(|l| l["name"] == name).unwrap()
}

#[test]
fn dump_values_survive_a_double_based_tool_and_encode_gives_the_image_back() {
    let dir = tempfile::tempdir().unwrap();
    for (rev, arch) in [
        ("v23-rc2", "x86_64"),
        ("v21-rc", "ppc"),
        ("pre-v19.a", "x86_32"),
    ] {
        let img = sample(rev, arch);
        let lines = dump(&img);
        assert_eq!(lines[0]["format_version"], "2.1.0");
        let signal = &lines[line_of(&lines, "SIGNAL")]["fields"];
        // RLIM_INFINITY, which a double makes 1.8446744073709552e19.
        assert_eq!(signal["rlim[0].rlim_cur"], "18446744073709551615", "{rev}");
        let edited: Vec<Json> = lines.into_iter().map(json_through_doubles).collect();
        let (code, err, out) = encode(dir.path(), &edited, &[]);
        assert_eq!(code, 0, "{rev} {arch}: {err}");
        assert!(out.unwrap() == img, "{rev} {arch}: not the same bytes");
    }
}

#[test]
fn a_number_a_double_may_have_rounded_is_refused_with_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = dump(&sample("v23-rc2", "x86_64"));
    let at = line_of(&lines, "SIGNAL");
    lines[at]["fields"]["rlim[0].rlim_cur"] =
        serde_json::from_str("1.8446744073709552e19").unwrap();
    let (code, err, out) = encode(dir.path(), &lines, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_none());
    let want = format!(
        "line {}: SIGNAL.rlim[0].rlim_cur: expected an integer, found 1",
        at + 1
    );
    assert!(err.contains(&want), "{err}");
    assert!(
        err.contains("above 2^53") && err.contains("decimal string"),
        "{err}"
    );
    assert!(!err.contains("Float(") && !err.contains("Some("), "{err}");
}

/// An edit of a dump's lines.
type Edit = Box<dyn Fn(&mut Vec<Json>)>;

#[test]
fn unknown_fields_wrong_values_and_edited_text_name_line_record_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let lines = dump(&sample("v23-rc2", "x86_64"));
    let task = line_of(&lines, "TASK");
    let comm = task + 1;
    assert_eq!(lines[comm]["payload_of"], "TASK comm");
    let cases: Vec<(Edit, String)> = vec![
        (
            Box::new(move |l| l[task]["fields"]["state"] = Json::from("hello")),
            format!(
                r#"line {}: TASK.state: expected an integer, found "hello""#,
                task + 1
            ),
        ),
        (
            Box::new(move |l| l[task]["fields"]["stat"] = Json::from(1)),
            format!(
                "line {}: TASK.stat: no such field in struct ckpt_hdr_task",
                task + 1
            ),
        ),
        (
            Box::new(move |l| l[task]["flieds"] = Json::from(1)),
            format!(r#"line {}: TASK: unknown member "flieds""#, task + 1),
        ),
        (
            Box::new(move |l| l[task]["fields"]["exit_signal"] = Json::from(1u64 << 40)),
            format!(
                "line {}: TASK.exit_signal: 1099511627776 does not fit in 4 byte(s)",
                task + 1
            ),
        ),
        (
            Box::new(move |l| l[comm]["text"] = Json::from("bash")),
            format!(
                r#"line {}: STRING.text: is "init", the dump says "bash""#,
                comm + 1
            ),
        ),
    ];
    for (edit, want) in cases {
        let mut l = lines.clone();
        edit(&mut l);
        let (code, err, out) = encode(dir.path(), &l, &[]);
        assert_eq!(code, 1, "{want}: {err}");
        assert!(err.contains(&want), "want {want}\ngot {err}");
        assert!(out.is_none(), "{want}: an output was written");
    }
}

#[test]
fn an_output_that_does_not_read_back_is_not_written_unless_unchecked() {
    let dir = tempfile::tempdir().unwrap();
    let img = sample("v23-rc2", "s390x");
    let mut lines = dump(&img);
    // The TASK record of the first task: its comm STRING then has no owner.
    let task = line_of(&lines, "TASK");
    lines.remove(task);
    let (code, err, out) = encode(dir.path(), &lines, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_none(), "the output exists");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "leftovers: {left:?}");
    assert!(
        err.contains("not written (--unchecked writes it anyway)"),
        "{err}"
    );
    assert!(err.contains("does not read back as an image"), "{err}");
    // Line 0 is the dump header: record #i is on line i + 1.
    assert!(
        err.contains(&format!("record #{} (STRING", task - 1)),
        "{err}"
    );
    let (code, err, out) = encode(dir.path(), &lines, &["--unchecked"]);
    assert_eq!(code, 0, "{err}");
    let out = out.unwrap();
    assert!(out.len() < img.len() && img.ends_with(&out[out.len() - 100..]));
    // Cut short: the end of the dump is where the reader finds it.
    let mut cut = dump(&img);
    cut.pop();
    let (code, err, out) = encode(dir.path(), &cut, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_none() && err.contains("before its TAIL"), "{err}");
}

#[test]
fn big_endian_images_dump_their_arch_id_and_encode_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    for (rev, arch, id) in [
        ("v23-rc2", "s390x", 3),
        ("v21-rc", "ppc", 4),
        ("v21-rc", "ppc64", 5),
    ] {
        let img = sample(rev, arch);
        let lines = dump(&img);
        assert_eq!(
            lines[1]["fields"]["arch_id"],
            Json::from(id),
            "{rev} {arch}"
        );
        let (code, err, out) = encode(dir.path(), &lines, &[]);
        assert_eq!(code, 0, "{err}");
        assert!(out.unwrap() == img, "{rev} {arch}");
    }
}

/// With the real jq (1.6 reads numbers as doubles; the rust machine image ships it):
/// a dump passes through unchanged, and an edit made with jq lands in the image.
#[test]
fn jq_edits_a_dump_without_rounding_it() {
    let jq = |filter: &str, input: &[u8]| {
        let o = ckpt_tests::run_with_stdin("jq", &["-c", filter], Some(input));
        assert!(
            o.status.success(),
            "jq {filter}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ckpt");
    let out = out.to_str().unwrap();
    for (rev, arch) in [("v23-rc2", "s390x"), ("v23-rc2", "x86_64")] {
        let img = sample(rev, arch);
        let text = ok(&["dump", "--payloads", "-"], Some(&img));
        ok(&["encode", "-", "-o", out], Some(&jq(".", &text)));
        assert!(
            std::fs::read(out).unwrap() == img,
            "{rev} {arch}: jq . changed the image"
        );
        let edited = jq(
            r#"if .name == "SIGNAL" then .fields["rlim[0].rlim_cur"] = "4096" else . end"#,
            &text,
        );
        ok(&["encode", "-", "-o", out], Some(&edited));
        let again = dump(&std::fs::read(out).unwrap());
        let signal = &again[line_of(&again, "SIGNAL")]["fields"];
        assert_eq!(signal["rlim[0].rlim_cur"], "4096", "{rev} {arch}");
        assert_eq!(
            signal["rlim[0].rlim_max"], "18446744073709551615",
            "{rev} {arch}"
        );
    }
}
