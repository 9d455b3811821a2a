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
                det.schema.id == schema.id || det.also.iter().any(|s| s.id == schema.id),
                "{} {arch} ({how}) detected as {} (also {:?})",
                schema.id,
                det.schema.id,
                det.also.iter().map(|s| &s.id).collect::<Vec<_>>()
            );
            // The chosen one is the newest of those that fit.
            assert!(det.also.iter().all(|s| s.ordinal < det.schema.ordinal));
        }
    }
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
