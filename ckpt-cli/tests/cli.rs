//! The `ckpt` binary: golden `info -v` outputs for every revision × architecture, JSON
//! outputs against their schemas, exit codes, pipes and atomic outputs.

use std::io::Read;
use std::process::{Command, Stdio};

mod common;
use common::{CKPT, golden, ok, root, run, validate};

fn pairs() -> Vec<(String, String, String)> {
    let list: serde_json::Value =
        serde_json::from_slice(&ok(&["schema", "list", "--json"], None)).unwrap();
    let mut v = Vec::new();
    for r in list["revisions"].as_array().unwrap() {
        for a in r["arches"].as_array().unwrap() {
            v.push((
                format!("{:02}", r["ordinal"].as_u64().unwrap()),
                r["id"].as_str().unwrap().to_string(),
                a[0].as_str().unwrap().to_string(),
            ));
        }
    }
    v
}

fn sample(rev: &str, arch: &str) -> Vec<u8> {
    ok(
        &[
            "sample", "--rev", rev, "--arch", arch, "--tasks", "2", "--memory", "8K", "--seed",
            "5", "-o", "-",
        ],
        None,
    )
}

/// Golden `ckpt info -v -p` of a small sample of every pair; `BLESS=1` rewrites them.
#[test]
fn info_v_matches_golden_files_for_every_pair() {
    let bless = std::env::var_os("BLESS").is_some();
    let dir = root().join("tests/golden/info-v");
    let mut failures = Vec::new();
    let pairs = pairs();
    assert!(pairs.len() >= 75, "{} pairs", pairs.len());
    for (ord, rev, arch) in pairs {
        let img = sample(&rev, &arch);
        let out = ok(&["info", "-v", "-p", "-"], Some(&img));
        let path = dir.join(format!("{ord}-{rev}.{arch}.txt"));
        if bless {
            std::fs::write(&path, &out).unwrap();
            continue;
        }
        golden(&path, &out, bless, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Golden `ckpt schema diff` of every migration step, on the first arch both revisions
/// have; the JSON form validates against its schema.
#[test]
fn schema_diff_matches_golden_files_for_every_step() {
    let bless = std::env::var_os("BLESS").is_some();
    let dir = root().join("tests/golden/schema-diff");
    let mut failures = Vec::new();
    let revs = ckpt_format::Registry::get().all();
    for w in revs.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let arch = a.arches.iter().find(|(x, _)| b.has_arch(*x)).unwrap().0;
        let args = ["schema", "diff", &a.id, &b.id, "--arch", arch.name()];
        let o = run(&args, None);
        assert_eq!(o.status.code(), Some(1), "{} -> {}", a.id, b.id);
        let path = dir.join(format!(
            "{:02}-{}-{}.{arch}.txt",
            a.ordinal,
            &a.commit[..7],
            &b.commit[..7]
        ));
        golden(&path, &o.stdout, bless, &mut failures);
        let mut j = args.to_vec();
        j.push("--json");
        let v: serde_json::Value = serde_json::from_slice(&run(&j, None).stdout).unwrap();
        validate("schema-diff.schema.json", &v);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Golden `ckpt info --stats` and `ckpt info --tasks` of fixtures of several revisions
/// and arches; their JSON validates.
#[test]
fn info_stats_and_tasks_match_golden_files() {
    let bless = std::env::var_os("BLESS").is_some();
    let dir = root().join("tests/golden/info-stats");
    let mut failures = Vec::new();
    for (rev, arch) in [
        ("0abe2fe", "ppc64"),
        ("d55d4c8", "x86_32"),
        ("c97c03d", "s390x"),
        ("f678773", "arm"),
        ("1fd8e6e", "x86_64"),
        ("5c3471a", "arm"),
    ] {
        let img = sample(rev, arch);
        let out = ok(&["info", "--stats", "-"], Some(&img));
        golden(
            &dir.join(format!("{rev}.{arch}.txt")),
            &out,
            bless,
            &mut failures,
        );
        let out = ok(&["info", "--tasks", "-"], Some(&img));
        golden(
            &root().join(format!("tests/golden/info-tasks/{rev}.{arch}.txt")),
            &out,
            bless,
            &mut failures,
        );
        let j: serde_json::Value = serde_json::from_slice(&ok(
            &["info", "--stats", "--tasks", "--json", "-"],
            Some(&img),
        ))
        .unwrap();
        validate("info.schema.json", &j);
        assert!(!j["task_details"][0]["files"].as_array().unwrap().is_empty());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn json_outputs_follow_their_schemas() {
    for (rev, arch) in [
        ("v23-rc2", "x86_64"),
        ("0abe2fe", "s390x"),
        ("f678773", "arm"),
        ("c83f38b", "ppc64"),
    ] {
        let img = sample(rev, arch);
        let info: serde_json::Value = serde_json::from_slice(&ok(
            &["info", "--json", "-v", "-p", "--show-arch-regs", "-"],
            Some(&img),
        ))
        .unwrap();
        assert_eq!(
            info["arch_regs"].as_array().unwrap().len(),
            2,
            "one cpu record per live task"
        );
        validate("info.schema.json", &info);
        assert_eq!(info["arch"], arch);
        assert_eq!(info["tasks"], 2);
        for payloads in [false, true] {
            let mut args = vec!["dump", "-"];
            if payloads {
                args.push("--payloads");
            }
            let dump = ok(&args, Some(&img));
            for line in dump.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                validate("dump.schema.json", &serde_json::from_slice(line).unwrap());
            }
        }
        let show: serde_json::Value = serde_json::from_slice(&ok(
            &["schema", "show", rev, "--arch", arch, "--json"],
            None,
        ))
        .unwrap();
        validate("schema-show.schema.json", &show);
    }
    let list: serde_json::Value =
        serde_json::from_slice(&ok(&["schema", "list", "--json"], None)).unwrap();
    validate("schema-list.schema.json", &list);
    assert_eq!(list["revisions"].as_array().unwrap().len(), 17);
}

#[test]
fn dump_then_encode_is_byte_exact_through_pipes() {
    for (rev, arch) in [
        ("v23-rc2", "x86_64"),
        ("0abe2fe", "x86_32"),
        ("b0d8304", "s390x"),
        ("5c3471a", "arm"),
        ("f0fdd38", "ppc"),
    ] {
        let img = sample(rev, arch);
        let dump = ok(&["dump", "--payloads", "-"], Some(&img));
        let back = ok(&["encode", "-", "-o", "-"], Some(&dump));
        assert!(back == img, "{rev} {arch}: encode(dump) differs");
    }
}

#[test]
fn editing_a_field_in_a_dump_changes_only_that_field() {
    let img = sample("v23-rc2", "x86_64");
    let dump = String::from_utf8(ok(&["dump", "--payloads", "-"], Some(&img))).unwrap();
    let mut changed = false;
    let edited: Vec<String> = dump
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if !changed && v["name"] == "FILE_DESC" {
                v["fields"]["fd_descriptor"] = serde_json::json!(42);
                changed = true;
            }
            v.to_string()
        })
        .collect();
    let back = ok(
        &["encode", "-", "-o", "-"],
        Some((edited.join("\n") + "\n").as_bytes()),
    );
    assert_eq!(back.len(), img.len());
    let diff: Vec<usize> = (0..img.len()).filter(|&i| img[i] != back[i]).collect();
    assert_eq!(diff.len(), 1, "one byte of fd_descriptor changes");
    let info = ok(&["dump", "-"], Some(&back));
    assert!(
        String::from_utf8(info)
            .unwrap()
            .contains("\"fd_descriptor\":42")
    );
}

#[test]
fn exit_codes() {
    // Usage errors: 2.
    assert_eq!(run(&["frobnicate"], None).status.code(), Some(2));
    assert_eq!(
        run(
            &["sample", "--rev", "nope", "--arch", "x86_64", "-o", "-"],
            None
        )
        .status
        .code(),
        Some(2)
    );
    assert_eq!(
        run(
            &["sample", "--rev", "v23-rc2", "--arch", "ppc", "-o", "-"],
            None
        )
        .status
        .code(),
        Some(2)
    );
    assert_eq!(
        run(&["info", "--rev", "nope", "-"], Some(b""))
            .status
            .code(),
        Some(2)
    );
    let dir = tempfile::tempdir().unwrap();
    let img_path = dir.path().join("x.ckpt");
    std::fs::write(&img_path, sample("v23-rc2", "x86_64")).unwrap();
    let p = img_path.to_str().unwrap();
    assert_eq!(
        run(&["dump", p, "-o", p], None).status.code(),
        Some(2),
        "refuses to overwrite its input"
    );
    assert_eq!(
        std::fs::read(&img_path).unwrap(),
        sample("v23-rc2", "x86_64")
    );
    // I/O errors: 3.
    let o = run(&["info", "/nonexistent/image"], None);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/image"));
    // Invalid images: 1, with the offset in the message.
    let o = run(&["info", "-"], Some(&[0u8; 100]));
    assert_eq!(o.status.code(), Some(1));
    let mut img = sample("v23-rc2", "x86_64");
    img.truncate(img.len() - 5);
    let o = run(&["info", "--rev", "v23-rc2", "-"], Some(&img));
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("at offset 0x") && err.contains("TAIL"),
        "{err}"
    );
    // --help documents examples and exit codes.
    let help = String::from_utf8(ok(&["info", "--help"], None)).unwrap();
    assert!(help.contains("Examples:") && help.contains("Exit status:"));
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let img = ok(
        &[
            "sample", "--rev", "v23-rc2", "--arch", "x86_64", "--tasks", "40", "--memory", "4M",
            "-o", "-",
        ],
        None,
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.ckpt");
    std::fs::write(&path, &img).unwrap();
    let mut c = Command::new(CKPT)
        .args(["dump", "--payloads", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = c.stdout.take().unwrap();
    let mut buf = [0u8; 100];
    out.read_exact(&mut buf).unwrap();
    drop(out);
    let o = c.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn outputs_appear_only_when_complete() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ckpt");
    std::fs::write(&out, b"previous").unwrap();
    // A dump that fails half-way: the previous file stays, no temporary is left.
    let img = sample("v23-rc2", "x86_64");
    let dump = String::from_utf8(ok(&["dump", "-"], Some(&img))).unwrap();
    let o = run(
        &["encode", "-", "-o", out.to_str().unwrap()],
        Some(dump.as_bytes()),
    );
    assert_eq!(o.status.code(), Some(1), "payloads are not in a plain dump");
    assert_eq!(std::fs::read(&out).unwrap(), b"previous");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    // A successful run replaces it.
    ok(
        &[
            "sample",
            "--rev",
            "v23-rc2",
            "--arch",
            "x86_64",
            "-o",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        &std::fs::read(&out).unwrap()[..8],
        &[1, 0, 0, 0, 72, 0, 0, 0]
    );
}

#[test]
fn the_readme_sample_reads() {
    let out = String::from_utf8(ok(
        &[
            "info",
            root().join("samples/v23-rc2.x86_64.ckpt").to_str().unwrap(),
        ],
        None,
    ))
    .unwrap();
    assert!(
        out.contains("arch:       x86_64") && out.contains("status:     complete"),
        "{out}"
    );
}

#[test]
fn schema_diff_reports_changes_and_exits_1() {
    let o = run(&["schema", "diff", "v23-rc2", "v23-rc2"], None);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no differences"));
    let o = run(
        &[
            "schema", "diff", "b6cdf01", "1fd8e6e", "--arch", "x86_64", "--json",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    validate("schema-diff.schema.json", &d);
    // Each change says how conversion carries it; the step's rewrites come along.
    let carry = |subject: &str| {
        d["carry"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["subject"] == subject)
            .map(|c| c["carry"].clone())
    };
    assert_eq!(carry("enum hdr MM_CONTEXT"), Some("lossless".into()));
    assert_eq!(carry("ckpt_hdr_task.flags"), Some("defaulted".into()));
    assert_eq!(d["rewrites"][0]["rewrite"], "pids-offset");
    let mm = d["diff"]["enums"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "MM_CONTEXT")
        .unwrap();
    assert_eq!(
        (mm["old"].as_i64(), mm["new"].as_i64()),
        (Some(404), Some(405))
    );
    assert_eq!(
        run(
            &["schema", "diff", "v23-rc2", "f678773", "--arch", "arm"],
            None
        )
        .status
        .code(),
        Some(2)
    );
}

#[test]
fn completions_and_man_pages() {
    for shell in ["bash", "zsh", "fish"] {
        let out = String::from_utf8(ok(&["completions", shell], None)).unwrap();
        assert!(out.contains("convert") && out.contains("schema"), "{shell}");
    }
    let page = String::from_utf8(ok(&["man"], None)).unwrap();
    assert!(page.contains(".TH ckpt"));
    let dir = tempfile::tempdir().unwrap();
    ok(&["man", "--dir", dir.path().to_str().unwrap()], None);
    for sub in [
        "ckpt",
        "ckpt-info",
        "ckpt-convert",
        "ckpt-dump",
        "ckpt-sample",
        "ckpt-schema",
    ] {
        assert!(dir.path().join(format!("{sub}.1")).exists(), "{sub}");
    }
}

/// `convert` writes the same bytes to a file (renamed into place), to standard output
/// redirected to a file (both copy pages in the kernel), to a pipe, and from a pipe; and
/// converting back gives the input.
#[test]
fn convert_output_is_the_same_file_stdout_or_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.ckpt");
    let img = ok(
        &[
            "sample", "--rev", "c97c03d", "--arch", "x86_64", "--memory", "3M", "-o", "-",
        ],
        None,
    );
    std::fs::write(&src, &img).unwrap();
    let s = src.to_str().unwrap();
    let to_file = dir.path().join("out.ckpt");
    ok(
        &[
            "convert",
            s,
            "--to-rev",
            "5c3471a",
            "-o",
            to_file.to_str().unwrap(),
        ],
        None,
    );
    let by_file = std::fs::read(&to_file).unwrap();
    let redirected = dir.path().join("stdout.ckpt");
    let status = Command::new(CKPT)
        .args(["convert", s, "--to-rev", "5c3471a", "-o", "-"])
        .stdout(std::fs::File::create(&redirected).unwrap())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        std::fs::read(&redirected).unwrap() == by_file,
        "stdout to a file"
    );
    let piped = ok(&["convert", s, "--to-rev", "5c3471a", "-o", "-"], None);
    assert!(piped == by_file, "stdout to a pipe");
    let from_pipe = ok(
        &["convert", "-", "--to-rev", "5c3471a", "-o", "-"],
        Some(&img),
    );
    assert!(from_pipe == by_file, "standard input");
    let back = ok(
        &[
            "convert",
            to_file.to_str().unwrap(),
            "--rev",
            "5c3471a",
            "--to-rev",
            "c97c03d",
            "-o",
            "-",
        ],
        None,
    );
    assert!(back == img, "converted back");
}

#[test]
fn convert_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("rc3.ckpt");
    std::fs::write(
        &src,
        ok(
            &["sample", "--rev", "c97c03d", "--arch", "x86_64", "-o", "-"],
            None,
        ),
    )
    .unwrap();
    let out = dir.path().join("out.ckpt");
    let report = dir.path().join("report.json");
    let s = src.to_str().unwrap();
    // 2.6.33 was run by the released ckpt-v19/v20, 67cfee9.
    let o = run(
        &[
            "convert",
            s,
            "--target-kernel",
            "2.6.33",
            "-o",
            out.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("v19-rc3 -> v19"));
    let info = String::from_utf8(ok(&["info", out.to_str().unwrap()], None)).unwrap();
    assert!(
        info.contains("revision:   v19 ") && info.contains("kernel:     2.6.33"),
        "{info}"
    );
    let rep: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    validate("convert-report.schema.json", &rep);
    assert_eq!(rep["result"]["summary"]["to"], "v19");
    assert!(
        rep["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "rewritten" && e["record"] == "HEADER"),
        "{rep}"
    );
    // Several equally plausible revisions: ask for --to-rev. A 3.x kernel must be given in full.
    let o = run(
        &["convert", s, "--target-kernel", "2.6.37", "-o", "-"],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--to-rev"));
    let o = run(&["convert", s, "--target-kernel", "3.0", "-o", "-"], None);
    assert_eq!(o.status.code(), Some(2));
    // Refused conversions exit 1 and leave no output.
    let o = run(
        &[
            "convert",
            s,
            "--to-rev",
            "d55d4c8",
            "-o",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("refused"));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        3,
        "no temporary left behind"
    );
}

#[test]
fn check_reports_every_reason() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("x.ckpt");
    std::fs::write(&img, sample("v23-rc2", "x86_64")).unwrap();
    let cfg = dir.path().join("config");
    std::fs::write(&cfg, "CONFIG_CHECKPOINT=y\nCONFIG_SYSVIPC=y\n# CONFIG_EPOLL is not set\nCONFIG_UNIX=y\nCONFIG_INET=y\nCONFIG_EVENTFD=y\n").unwrap();
    let i = img.to_str().unwrap();
    // On the kernel the image names, nothing is wrong (config and CPU not verified).
    let o = run(&["check", i], None);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("not verified"));
    // A config without epoll and another CPU: exit 1 with both reasons.
    let o = run(
        &[
            "check",
            i,
            "--target-config",
            cfg.to_str().unwrap(),
            "--target-cpu",
            "fxsr=1,xsave=1,xstate-size=832",
            "--json",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let checks: Vec<&str> = v["report"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["check"].as_str().unwrap())
        .collect();
    assert!(
        checks.contains(&"config CONFIG_EPOLL") && checks.contains(&"cpu xstate_size"),
        "{checks:?}"
    );
    // Another revision's kernel: the layouts and the header differ.
    let o = run(
        &["check", i, "--to-rev", "v19", "--target-kernel", "2.6.33"],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("header.rev")
            && out.contains("header.kernel")
            && out.contains("convert the image first"),
        "{out}"
    );
    assert_eq!(
        run(&["check", i, "--target-cpu", "fxsr=2"], None)
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn info_error_message_and_registers() {
    let img = ok(
        &[
            "sample",
            "--rev",
            "v23-rc2",
            "--arch",
            "x86_64",
            "--error-after",
            "1",
            "-o",
            "-",
        ],
        None,
    );
    let out = String::from_utf8(ok(&["info", "-e", "-"], Some(&img))).unwrap();
    assert_eq!(out.trim(), "checkpoint failed: task is not frozen (-16)");
    let out =
        String::from_utf8(ok(&["info", "-e", "-"], Some(&sample("v23-rc2", "x86_64")))).unwrap();
    assert!(out.contains("no error record"));
    let out = String::from_utf8(ok(
        &["info", "--show-arch-regs", "-"],
        Some(&sample("0abe2fe", "s390x")),
    ))
    .unwrap();
    assert!(out.contains("psw_t_addr") && out.contains("gprs"), "{out}");
    let out = String::from_utf8(ok(
        &["info", "--show-arch-regs", "-"],
        Some(&sample("f0fdd38", "ppc64")),
    ))
    .unwrap();
    assert!(out.contains("opaque"), "{out}");
}

#[test]
fn info_stats() {
    let img = ok(
        &[
            "sample", "--rev", "v23-rc2", "--arch", "x86_64", "--tasks", "4", "--memory", "40K",
            "-o", "-",
        ],
        None,
    );
    let out = String::from_utf8(ok(&["info", "--stats", "-"], Some(&img))).unwrap();
    assert!(
        out.contains("pages      15 in all"),
        "10 of memory, 2 of shm, 1 per executable: {out}"
    );
    assert!(
        out.contains("shared objects") && out.contains("largest records"),
        "{out}"
    );
    let v: serde_json::Value =
        serde_json::from_slice(&ok(&["info", "--stats", "--json", "-"], Some(&img))).unwrap();
    let st = &v["stats"];
    assert_eq!(st["records"]["TAIL"][0], 1);
    let total: u64 = st["pages_per_task"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .sum();
    assert_eq!(total, v["pages"].as_u64().unwrap());
    assert_eq!(
        st["page_bytes"].as_u64().unwrap() + st["metadata_bytes"].as_u64().unwrap(),
        img.len() as u64
    );
}

/// Found by reading the code while fuzzing: a dump record with a huge len and no bytes
/// made encode allocate it (fuzz/regressions/cli-encode-huge-len.jsonl).
#[test]
fn regression_encode_huge_len_is_refused() {
    let dump = std::fs::read(root().join("fuzz/regressions/cli-encode-huge-len.jsonl")).unwrap();
    let o = run(&["encode", "-", "-o", "-"], Some(&dump));
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("exceeds the limit"));
}

/// `ckpt diff`: equal images exit 0; different ones exit 1 with field-level differences
/// (golden text for two fixture pairs, one across revisions); JSON validates.
#[test]
fn diff_reports_field_differences() {
    let bless = std::env::var_os("BLESS").is_some();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, rev: &str, seed: &str| {
        let p = dir.path().join(name);
        let img = ok(
            &[
                "sample", "--rev", rev, "--arch", "x86_64", "--tasks", "3", "--memory", "16K",
                "--seed", seed, "-o", "-",
            ],
            None,
        );
        std::fs::write(&p, img).unwrap();
        p.to_str().unwrap().to_string()
    };
    let a = write("a.ckpt", "1fd8e6e", "1");
    let a2 = write("a2.ckpt", "1fd8e6e", "1");
    let b = write("b.ckpt", "1fd8e6e", "2");
    let old = write("old.ckpt", "c97c03d", "1");
    let o = run(&["diff", &a, &a2], None);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).ends_with("equal\n"));
    let mut failures = Vec::new();
    for (name, x, y) in [("seed", &a, &b), ("revisions", &old, &a)] {
        let o = run(&["diff", x, y], None);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text = String::from_utf8(o.stdout)
            .unwrap()
            .replace(dir.path().to_str().unwrap(), "DIR");
        golden(
            &root().join(format!("tests/golden/diff/{name}.txt")),
            text.as_bytes(),
            bless,
            &mut failures,
        );
        let j: serde_json::Value =
            serde_json::from_slice(&run(&["diff", x, y, "--json"], None).stdout).unwrap();
        validate("diff.schema.json", &j);
        assert_eq!(j["equal"], false);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let seed = std::fs::read_to_string(root().join("tests/golden/diff/seed.txt")).unwrap();
    assert!(seed.contains("page contents (sha256)"), "{seed}");
    let revs = std::fs::read_to_string(root().join("tests/golden/diff/revisions.txt")).unwrap();
    assert!(revs.contains("converting image 1 from v19-rc3"), "{revs}");
}
