//! `ckpt info` for people: names instead of numbers on every revision × arch, VMAs as
//! `/proc/PID/maps` shows them, threads under their group, `-p` as a tree, `--pid`
//! filters for `info` and `dump`, `dump --type`, and the note on a converted header.

mod common;

use std::collections::BTreeMap;

use common::{root, run};

fn ok(args: &[&str], stdin: Option<&[u8]>) -> String {
    let o = run(args, stdin);
    assert!(
        o.status.success(),
        "ckpt {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn sample(rev: &str, arch: &str, tasks: &str) -> Vec<u8> {
    let o = run(
        &[
            "sample", "--rev", rev, "--arch", arch, "--tasks", tasks, "--memory", "16K", "--seed",
            "7", "-o", "-",
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

/// Every revision × arch: (revision id, arch).
fn pairs() -> Vec<(String, String)> {
    ckpt_format::Registry::get()
        .all()
        .iter()
        .flat_map(|s| {
            s.arches
                .iter()
                .map(|(a, _)| (s.id.clone(), a.name().to_string()))
        })
        .collect()
}

fn validate(value: &serde_json::Value) {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/json/info.schema.json")).unwrap(),
    )
    .unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = v.iter_errors(value).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "info.schema.json: {errors:?}");
}

#[test]
fn every_revision_and_arch_shows_names_not_numbers() {
    for (rev, arch) in pairs() {
        let img = sample(&rev, &arch, "4");
        let out = ok(&["info", "-t", "--stats", "-"], Some(&img));
        let at = format!("{rev} {arch}");
        let mut vmas = 0;
        let mut states = 0;
        for line in out.lines() {
            if let Some(s) = line.trim_start().strip_prefix("state:") {
                states += 1;
                let s = s.trim();
                assert!(s.starts_with("TASK_"), "{at}: {line}");
                assert!(!s.contains("exit_state"), "{at}: {line}");
                for word in s.split([' ', ',', '|']) {
                    assert!(word.parse::<u64>().is_err(), "{at}: raw number in {line}");
                }
            }
            let vma = line.starts_with("    ")
                && !line.trim_start().starts_with("fd ")
                && !line.trim_start().starts_with("memory:")
                && (line.contains(" pages") || line.contains(" page "));
            if vma {
                vmas += 1;
                assert!(is_maps_line(line), "{at}: not a maps line: {line}");
            }
            if let Some(f) = line.trim_start().strip_prefix("fd ") {
                let what = f.split_whitespace().nth(2).unwrap_or("");
                assert_ne!(what, "-", "{at}: a file shown as -: {line}");
                if f.contains(" SOCKET ") {
                    assert!(f.contains("AF_") && f.contains("/SOCK_"), "{at}: {line}");
                }
                if f.contains(" TTY ") {
                    assert!(f.contains("pts/"), "{at}: {line}");
                }
                if f.contains(" PIPE ") {
                    assert!(f.contains(" end, "), "{at}: {line}");
                }
            }
            if let Some(s) = line.strip_prefix("sockets    ") {
                assert!(!s.contains("family"), "{at}: {line}");
                assert!(s.starts_with("AF_"), "{at}: {line}");
            }
        }
        assert!(states >= 4, "{at}: {states} state lines");
        assert!(vmas > 0, "{at}: no VMA lines");
        let j: serde_json::Value =
            serde_json::from_str(&ok(&["info", "-t", "--stats", "--json", "-"], Some(&img)))
                .unwrap();
        validate(&j);
        assert_eq!(j["format_version"], "1.3.0");
        for t in j["task_details"].as_array().unwrap() {
            assert!(
                t["state_name"].as_str().unwrap().starts_with("TASK_"),
                "{at}"
            );
            for f in t["files"].as_array().unwrap() {
                if f["type"] == "SOCKET" {
                    assert!(f["socket"]["family"].as_str().unwrap().starts_with("AF_"));
                }
            }
        }
        let consts = j["constants_by_name"].as_object().unwrap();
        assert_eq!(
            consts.len(),
            j["constants"].as_array().unwrap().len(),
            "{at}"
        );
    }
}

/// True for a line that starts as `/proc/PID/maps` lines do: a hex range, the
/// protection (`r-xp`), a hex offset.
fn is_maps_line(line: &str) -> bool {
    {
        let mut w = line.trim_start().split(' ');
        let range = w.next().unwrap_or("");
        let perms = w.next().unwrap_or("");
        let offset = w.next().unwrap_or("");
        let hex = |s: &str| s.len() >= 8 && s.chars().all(|c| c.is_ascii_hexdigit());
        let (a, b) = range.split_once('-').unwrap_or(("", ""));
        let p: Vec<char> = perms.chars().collect();
        line.starts_with("    ")
            && hex(a)
            && hex(b)
            && hex(offset)
            && p.len() == 4
            && "r-".contains(p[0])
            && "w-".contains(p[1])
            && "x-".contains(p[2])
            && "ps".contains(p[3])
    }
}

#[test]
fn signals_and_inet_ports_read_the_same_on_little_and_big_endian_arches() {
    let mut seen = BTreeMap::new();
    for arch in ["x86_32", "x86_64", "s390x", "arm"] {
        let img = sample("samsung-3.0", arch, "3");
        let out = ok(&["info", "-t", "-"], Some(&img));
        let lines: Vec<&str> = out
            .lines()
            .filter(|l| l.contains("signals:") || l.contains("AF_INET"))
            .collect();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("pending SIGUSR2 (from pid 1)")),
            "{arch}: {lines:?}"
        );
        assert!(
            lines.iter().any(|l| l.contains("0.0.0.0:8000")),
            "{arch}: {lines:?}"
        );
        seen.insert(arch, lines.join("\n"));
    }
    let first = seen.values().next().unwrap().clone();
    for (arch, v) in &seen {
        assert_eq!(v, &first, "{arch} differs from x86_32");
    }
}

#[test]
fn threads_are_shown_under_their_group_with_shared_tables_once_and_pid_levels_named() {
    let img = sample("v23-rc2", "s390x", "8");
    let out = ok(&["info", "-t", "-p", "-"], Some(&img));
    let golden = root().join("tests/golden/info-tasks/threads.v23-rc2.s390x.txt");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&golden, &out).unwrap();
    }
    assert_eq!(
        out,
        std::fs::read_to_string(&golden).unwrap(),
        "{} differs (BLESS=1 to accept)",
        golden.display()
    );
    let j: serde_json::Value =
        serde_json::from_str(&ok(&["info", "-t", "--json", "-"], Some(&img))).unwrap();
    let tasks = j["task_details"].as_array().unwrap();
    let threads: Vec<&serde_json::Value> = tasks.iter().filter(|t| t["pid"] != t["tgid"]).collect();
    assert!(!threads.is_empty(), "the sample has threads");
    for th in threads {
        let pid = th["pid"].as_i64().unwrap();
        // Under its leader, not as a process of its own.
        assert!(
            !out.contains(&format!("\npid {pid} ")),
            "{pid} shown as a process"
        );
        assert!(
            out.contains(&format!("  thread pid {pid} ")),
            "{pid} not under its leader"
        );
        let leader = tasks.iter().find(|t| t["pid"] == th["tgid"]).unwrap();
        assert_eq!(th["tables"]["files"], leader["tables"]["files"]);
    }
    // Every nested pid gets its level.
    for t in tasks {
        let nested = t["nested_pids"].as_array().unwrap();
        let levels = t["pid_levels"].as_array().unwrap();
        assert_eq!(levels.len(), nested.len() + 1);
        if !nested.is_empty() {
            assert!(out.contains(&format!("level 1: {}", nested[0])), "{t}");
        }
    }
    // The memory of a thread group is listed once per address space.
    let maps = out
        .lines()
        .filter(|l| l.contains(" r-xp 00000000 "))
        .count();
    let mms: std::collections::BTreeSet<i64> = tasks
        .iter()
        .filter_map(|t| t["tables"]["mm"].as_i64())
        .collect();
    assert_eq!(maps, mms.len(), "{out}");
}

#[test]
fn the_process_tree_is_drawn_with_children_under_their_parents() {
    let img = sample("v23-rc2", "x86_64", "8");
    let out = ok(&["info", "-p", "-"], Some(&img));
    let j: serde_json::Value =
        serde_json::from_str(&ok(&["info", "-p", "--json", "-"], Some(&img))).unwrap();
    let tree = j["tree"].as_array().unwrap();
    let lines: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("status:"))
        .skip(2)
        .collect();
    assert_eq!(lines.len(), tree.len(), "{out}");
    // Depth of each pid from the drawing: the column where its name starts.
    let mut depth = BTreeMap::new();
    for l in &lines {
        let name_at = l.find(|c: char| c.is_alphanumeric() || c == '{').unwrap();
        let chars = l[..name_at].chars().count();
        let open = l.find('(').unwrap();
        let close = l[open..].find(')').unwrap() + open;
        let pid: i64 = l[open + 1..close].parse().unwrap();
        depth.insert(pid, chars / 2);
        assert_eq!(l.contains('{'), l.contains(" thread"), "{l}");
    }
    for t in tree {
        let (pid, ppid, tgid) = (
            t["pid"].as_i64().unwrap(),
            t["ppid"].as_i64().unwrap(),
            t["tgid"].as_i64().unwrap(),
        );
        let parent = if tgid != pid { tgid } else { ppid };
        match depth.get(&parent) {
            Some(d) => assert_eq!(depth[&pid], d + 1, "pid {pid} under {parent}\n{out}"),
            None => assert_eq!(depth[&pid], 0, "root {pid}\n{out}"),
        }
    }
}

#[test]
fn pid_filters_info_and_dump_and_type_filters_dump() {
    let img = sample("v23-rc2", "x86_64", "4");
    let all: serde_json::Value =
        serde_json::from_str(&ok(&["info", "-v", "-t", "--json", "-"], Some(&img))).unwrap();
    let recs = all["record_list"].as_array().unwrap();
    let pids: Vec<i64> = all["task_details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["pid"].as_i64().unwrap())
        .collect();
    let second = pids[1];
    let one: serde_json::Value = serde_json::from_str(&ok(
        &[
            "info",
            "-v",
            "-t",
            "--json",
            "--pid",
            &second.to_string(),
            "-",
        ],
        Some(&img),
    ))
    .unwrap();
    validate(&one);
    let mine = one["record_list"].as_array().unwrap();
    let tasks = one["task_details"].as_array().unwrap();
    assert!(
        tasks
            .iter()
            .all(|t| t["pid"] == second || t["tgid"] == second)
    );
    assert!(tasks.iter().any(|t| t["pid"] == second));
    // Its records: the second TASK up to the record before the third TASK.
    let task_at: Vec<usize> = recs
        .iter()
        .enumerate()
        .filter(|(_, r)| r["name"] == "TASK")
        .map(|(k, _)| k)
        .collect();
    let want: Vec<&serde_json::Value> = recs[task_at[1]..task_at[2]].iter().collect();
    assert_eq!(mine.iter().collect::<Vec<_>>(), want);
    // dump: the same records, and --type keeps only the named ones.
    let dumped = ok(&["dump", "--pid", &second.to_string(), "-"], Some(&img));
    let idx: Vec<u64> = dumped
        .lines()
        .skip(1)
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["index"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let want_idx: Vec<u64> = want.iter().map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(idx, want_idx);
    let typed = ok(&["dump", "--type", "TASK,FILE_NAME", "-"], Some(&img));
    let names: Vec<String> = typed
        .lines()
        .skip(1)
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(names.iter().all(|n| n == "TASK" || n == "FILE_NAME"));
    let count = |n: &str| recs.iter().filter(|r| r["name"] == n).count();
    assert_eq!(names.len(), count("TASK") + count("FILE_NAME"));
    // A pid the image does not hold, and a type the revision does not define.
    for args in [
        &["info", "-t", "--pid", "999", "-"][..],
        &["dump", "--pid", "999", "-"][..],
    ] {
        let o = run(args, Some(&img));
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains("no task with pid 999"), "{e}");
    }
    let o = run(&["dump", "--type", "NOPE", "-"], Some(&img));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no record type NOPE"));
}

#[test]
fn a_converted_header_says_whose_kernel_version_and_uts_strings_it_carries() {
    let dir = std::env::temp_dir().join(format!("ckpt-info-human-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("converted.ckpt");
    let src = root().join("samples/v23-rc2.x86_64.ckpt");
    let o = run(
        &[
            "convert",
            src.to_str().unwrap(),
            "--to-rev",
            "v23-rc1.pids",
            "--target-kernel",
            "2.6.38",
            "-o",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = ok(&["info", out.to_str().unwrap()], None);
    let note = text.lines().find(|l| l.starts_with("note:")).expect(&text);
    assert!(note.contains("2.6.38 is the target's"), "{note}");
    assert!(note.contains("2.6.37"), "{note}");
    let j: serde_json::Value =
        serde_json::from_str(&ok(&["info", "--json", out.to_str().unwrap()], None)).unwrap();
    validate(&j);
    assert!(j["kernel_note"].is_string());
    // The source itself has no such note.
    let plain = ok(&["info", src.to_str().unwrap()], None);
    assert!(!plain.contains("note:"), "{plain}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn pid_filters_the_tree_to_a_subtree_and_the_stats_to_the_tasks_records() {
    let img = sample("v23-rc2", "x86_64", "6");
    let whole = ok(&["info", "-p", "-"], Some(&img));
    let tree = |text: &str| -> Vec<String> {
        text.lines()
            .skip_while(|l| !l.starts_with("status:"))
            .skip(2)
            .map(str::to_string)
            .collect()
    };
    let all = tree(&whole);
    // pid 2 and what hangs under it: its lines of the whole tree, from its own line on,
    // until the next line at its depth or above.
    let at = all
        .iter()
        .position(|l| l.contains("(2)"))
        .expect("pid 2 in the tree");
    let depth = |l: &str| {
        l.chars()
            .take_while(|c| !c.is_alphanumeric() && *c != '{')
            .count()
    };
    let pid_of = |l: &str| -> String {
        let open = l.find('(').unwrap();
        let close = open + l[open..].find(')').unwrap();
        l[open + 1..close].to_string()
    };
    let d = depth(&all[at]);
    let want: Vec<String> = std::iter::once(&all[at])
        .chain(all[at + 1..].iter().take_while(|l| depth(l) > d))
        .map(|l| pid_of(l))
        .collect();
    let sub = ok(&["info", "-p", "--pid", "2", "-"], Some(&img));
    let got = tree(&sub);
    let got_pids: Vec<String> = got.iter().map(|l| pid_of(l)).collect();
    assert!(want.len() > 1, "pid 2 has threads or children: {whole}");
    assert_eq!(got_pids, want, "{whole}\n{sub}");
    assert_eq!(depth(&got[0]), 0, "{sub}");
    // Statistics of one task count fewer records than those of the image.
    let j = |args: &[&str]| -> serde_json::Value {
        serde_json::from_str(&ok(args, Some(&img))).unwrap()
    };
    let count = |v: &serde_json::Value| -> u64 {
        v["stats"]["records"]
            .as_object()
            .map(|m| m.values().map(|x| x[0].as_u64().unwrap_or(0)).sum())
            .unwrap_or(0)
    };
    let (a, b) = (
        j(&["info", "--stats", "--json", "-"]),
        j(&["info", "--stats", "--json", "--pid", "2", "-"]),
    );
    assert!(
        count(&b) > 0 && count(&b) < count(&a),
        "{} {}",
        count(&a),
        count(&b)
    );
}
