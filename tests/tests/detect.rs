//! Revision detection over every revision × architecture, from files and from pipes.

use std::io::Cursor;

use ckpt_format::build::BuildOptions;
use ckpt_format::detect::{Evidence, detect};
use ckpt_format::{Arch, Registry};
use ckpt_tests::{all_pairs, image};

fn small() -> BuildOptions {
    BuildOptions {
        tasks: 3,
        memory: 3 * 4096,
        seed: 11,
        ..Default::default()
    }
}

/// Without sockets, a pre-v19.c image has the same record layouts as v19-rc2.
fn no_sockets() -> BuildOptions {
    BuildOptions {
        omit: ckpt_format::build::Omit {
            sockets: true,
            ..Default::default()
        },
        ..small()
    }
}

#[test]
fn every_pair_is_detected_as_itself_or_an_identical_revision() {
    for (schema, arch) in all_pairs() {
        let img = image(schema, arch, &small());
        for (how, ev) in [
            ("file", Evidence::scan(&mut Cursor::new(&img)).unwrap()),
            ("window", Evidence::from_window(&img).unwrap()),
        ] {
            let det =
                detect(&ev, None).unwrap_or_else(|e| panic!("{} {arch} ({how}): {e}", schema.id));
            assert_eq!(det.arch, arch);
            assert!(
                det.reads_as(schema),
                "{} {arch} ({how}) detected as {} (also {:?})",
                schema.id,
                det.schema.id,
                det.also.iter().map(|s| &s.id).collect::<Vec<_>>()
            );
            // The chosen one claims the header's kernel when any member of the set does,
            // and is the newest of those that do.
            let kernel = ev.header.kernel;
            let claims = |s: &ckpt_format::Schema| s.claims_kernel(kernel);
            if claims(schema) || det.also.iter().any(|s| claims(s)) {
                assert!(
                    claims(det.schema),
                    "{} {arch} ({how}): {}",
                    schema.id,
                    det.schema.id
                );
                assert!(
                    det.also
                        .iter()
                        .all(|s| !claims(s) || s.ordinal < det.schema.ordinal),
                    "{} {arch} ({how})",
                    schema.id
                );
            }
        }
    }
}

#[test]
fn every_sample_passes_the_check_of_its_own_revision() {
    // What `ckpt sample` writes, read back: its own revision is a member of the set, and
    // `check --to-rev` of that revision passes (whatever member detection names).
    for (schema, arch) in all_pairs() {
        let img = image(schema, arch, &small());
        let ev = Evidence::scan(&mut Cursor::new(&img)).unwrap();
        let (reader, det) =
            ckpt_format::detect::open_preferring(&img[..], None, Some(ev), Some(schema)).unwrap();
        assert_eq!(det.schema.id, schema.id, "{arch}");
        let report =
            ckpt_convert::check::check(reader, Some(&det.evidence), schema, None, None, None, None)
                .unwrap();
        assert!(report.ok(), "{} {arch}: {:?}", schema.id, report.problems);
        // Read as the member detection names, and checked against the sample's own
        // revision, it passes too.
        let (reader, det) = ckpt_format::detect::open(&img[..], None, None).unwrap();
        let ev = Evidence::scan(&mut Cursor::new(&img)).unwrap();
        let report =
            ckpt_convert::check::check(reader, Some(&ev), schema, None, None, None, None).unwrap();
        assert!(
            report.ok(),
            "{} {arch} read as {}: {:?}",
            schema.id,
            det.schema.id,
            report.problems
        );
    }
}

#[test]
fn the_header_kernel_picks_among_identical_revisions() {
    // v23-rc2 and samsung-3.0 read a 2.6.37 v23-rc2 image identically; the kernel
    // version says which one wrote it, and the reasons say why. Where the members claim
    // the same kernel (v21-rc and v21-arm: 2.6.34; pre-v19.a and .b: 2.6.31), the
    // newest claiming it is named and the sample's own revision is in the set.
    let reg = Registry::get();
    for (rev, arch, named) in [
        ("v23-rc2", Arch::X86_64, "v23-rc2"),
        ("samsung-3.0", Arch::X86_64, "samsung-3.0"),
        ("v21-rc", Arch::X86_64, "v21-arm"),
        ("pre-v19.a", Arch::X86_32, "pre-v19.b"),
    ] {
        let s = reg.find(rev).unwrap();
        let img = image(s, arch, &small());
        let det = detect(&Evidence::scan(&mut Cursor::new(&img)).unwrap(), None).unwrap();
        assert_eq!(
            det.schema.id, named,
            "{rev} {arch}: reasons {:?}",
            det.reasons
        );
        assert!(det.reads_as(s), "{rev} {arch}");
    }
    let s = reg.find("v23-rc2").unwrap();
    let img = image(s, Arch::X86_64, &small());
    let det = detect(&Evidence::scan(&mut Cursor::new(&img)).unwrap(), None).unwrap();
    assert!(
        det.reasons
            .iter()
            .any(|r| r == "kernel 2.6.37 is claimed by v23-rc2, not by samsung-3.0 (3.0.8)"),
        "{:?}",
        det.reasons
    );
}

#[test]
fn uflags_bit_2_tells_b0d8304_from_82822cf() {
    let reg = Registry::get();
    let b0 = reg.find("b0d8304").unwrap();
    let v21 = reg.find("82822cf").unwrap();
    // b0d8304 images say "do not dump the net namespace" with bit 0x2.
    let img = image(b0, Arch::X86_64, &small());
    let ev = Evidence::scan(&mut Cursor::new(&img)).unwrap();
    assert_eq!(ev.header.uflags & 2, 2);
    assert_eq!(detect(&ev, None).unwrap().schema.id, "v21-rc.novpids");
    // 82822cf images without a net namespace have the bit clear.
    let img = image(v21, Arch::X86_64, &small());
    let ev = Evidence::scan(&mut Cursor::new(&img)).unwrap();
    assert_eq!(ev.header.uflags & 2, 0);
    let det = detect(&ev, None).unwrap();
    assert!(det.schema.ordinal >= v21.ordinal, "{}", det.schema.id);
}

#[test]
fn a_truncated_pipe_window_asks_for_rev_when_candidates_differ_later() {
    let s = Registry::get().find("b6cdf01").unwrap();
    let img = image(s, Arch::X86_64, &small());
    // Only the prologue and the first task record: v23-rc1.pids, v23-rc2 and
    // samsung-3.0 agree so far, but renumber MM_CONTEXT later.
    let ev = Evidence::from_window(&img[..600]).unwrap();
    let e = detect(&ev, None).unwrap_err().to_string();
    assert!(
        e.contains("--rev") && e.contains("v23-rc1.pids") && e.contains("v23-rc2"),
        "{e}"
    );
    // Named explicitly, it is accepted.
    assert_eq!(detect(&ev, Some("1fd8e6e")).unwrap().schema.id, "v23-rc2");
}

#[test]
fn foreign_arch_ids_and_bad_headers_are_refused() {
    let s = Registry::get().find("v23-rc2").unwrap();
    let mut img = image(s, Arch::X86_64, &small());
    let ev = Evidence::scan(&mut Cursor::new(&img)).unwrap();
    let e = detect(&ev, Some("v21-arm")).map(|d| d.arch);
    assert_eq!(
        e.unwrap(),
        Arch::X86_64,
        "arch id 2 is x86_64 in v21-arm too"
    );
    img[16] = 9; // arch id 9: no revision has it
    let ev = Evidence::scan(&mut Cursor::new(&img)).unwrap();
    let e = detect(&ev, None).unwrap_err().to_string();
    assert!(e.contains("arch id 9"), "{e}");
    img[8] ^= 0xff; // magic
    assert!(Evidence::scan(&mut Cursor::new(&img)).is_err());
}

#[test]
fn the_per_task_order_tells_pre_v19_from_v19() {
    // Without sockets, a pre-v19.c image has the same record layouts as v19-rc2; only
    // the order of a task's records (v18: objects before THREAD/CPU) tells them apart.
    let reg = Registry::get();
    let opts = no_sockets();
    for (rev, arch) in [
        ("d55d4c8", Arch::X86_32),
        ("db94f5e", Arch::X86_32),
        ("d55d4c8", Arch::S390x),
    ] {
        let s = reg.find(rev).unwrap();
        let img = image(s, arch, &opts);
        for ev in [
            Evidence::scan(&mut Cursor::new(&img)).unwrap(),
            Evidence::from_window(&img).unwrap(),
        ] {
            let det = detect(&ev, None).unwrap();
            let order = |x: &ckpt_format::Schema| ckpt_format::detect::v18_task_order(x);
            assert_eq!(
                order(det.schema),
                order(s),
                "{rev} {arch} read as {}",
                det.schema.id
            );
            assert!(
                det.also.iter().all(|x| order(x) == order(s)),
                "{rev} {arch}"
            );
        }
    }
}

#[test]
fn a_revision_named_with_the_other_per_task_order_is_refused_by_the_reader() {
    // Named with --rev, a pre-v19.c image read as v19-rc2 (or the reverse) has layouts
    // that fit; the reader refuses it at the first live task, naming the order.
    let reg = Registry::get();
    let opts = no_sockets();
    for (rev, named, arch) in [
        ("d55d4c8", "db94f5e", Arch::X86_32),
        ("db94f5e", "d55d4c8", Arch::X86_32),
        ("d55d4c8", "db94f5e", Arch::S390x),
    ] {
        let s = reg.find(rev).unwrap();
        let img = image(s, arch, &opts);
        let (mut r, det) = ckpt_format::detect::open(&img[..], Some(named), None).unwrap();
        assert!(det.forced);
        let e = loop {
            match r.next_record() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("{rev} read to its end as {named}"),
                Err(e) => break e,
            }
        };
        let text = e.to_string();
        assert!(
            text.contains("after a live task's comm") && text.contains("offset 0x"),
            "{rev} as {named}: {text}"
        );
        // Read as itself, it reads to its end.
        let (mut r, _) = ckpt_format::detect::open(&img[..], Some(rev), None).unwrap();
        while r.next_record().unwrap().is_some() {}
    }
}
