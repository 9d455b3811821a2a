//! Conversion over every ordered pair of revisions of every architecture.

use ckpt_convert::{Action, ConvertError, Options, convert};
use ckpt_format::build::{BuildOptions, Omit};
use ckpt_format::{Arch, Format, Reader, Registry, Schema};
use ckpt_tests::image;

use ckpt_tests::pairs::{
    build_options as opts_for_pair, convert_image as conv, convert_options as opts,
};

fn read_all(img: &[u8], s: &'static Schema, arch: Arch) -> Result<u64, String> {
    let mut r = Reader::new(img, Format::new(s, arch));
    let mut n = 0;
    loop {
        match r.next_record() {
            Ok(Some(_)) => n += 1,
            Ok(None) => return Ok(n),
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[test]
fn every_ordered_pair_converts_or_is_refused_with_a_reason() {
    let reg = Registry::get();
    let o = Options {
        cwd: ckpt_convert::TaskPaths::all("/srv"),
        root: ckpt_convert::TaskPaths::all("/"),
        allow_lossy: true,
        ..Options::default()
    };
    let mut report = Vec::new();
    let mut converted = 0;
    for a in reg.all() {
        for b in reg.all() {
            for (arch, _) in &a.arches {
                if !b.has_arch(*arch) || a.id == b.id {
                    continue;
                }
                let img = image(a, *arch, &opts_for_pair());
                match conv(&img, a, b, *arch, &o) {
                    Ok((out, s)) => {
                        converted += 1;
                        if let Err(e) = read_all(&out, b, *arch) {
                            report.push(format!(
                                "{} -> {} {arch}: output does not read: {e}",
                                a.id, b.id
                            ));
                            continue;
                        }
                        // Every converted image passes the target's preflight.
                        let r = Reader::new(&out[..], Format::new(b, *arch));
                        let pre =
                            ckpt_convert::check::check(r, None, b, None, None, None, None).unwrap();
                        if !pre.ok() {
                            report.push(format!(
                                "{} -> {} {arch}: preflight: {:?}",
                                a.id, b.id, pre.problems
                            ));
                        }
                        // Back again: equal to the original when nothing was defaulted,
                        // supplied or dropped.
                        let clean = s.ledger.count(Action::Defaulted) == 0
                            && s.ledger.count(Action::Supplied) == 0
                            && s.ledger.count(Action::Dropped) == 0;
                        match conv(&out, b, a, *arch, &o) {
                            Ok((back, _)) if clean && back != img => report.push(format!(
                                "{} -> {} -> back {arch}: differs although lossless",
                                a.id, b.id
                            )),
                            Ok(_) => {}
                            Err(e) => {
                                report.push(format!("{} -> {} -> back {arch}: {e}", a.id, b.id))
                            }
                        }
                    }
                    Err(ConvertError::Refused(r)) => assert!(r.len() > 20, "{r}"),
                    Err(e) => report.push(format!("{} -> {} {arch}: {e}", a.id, b.id)),
                }
            }
        }
    }
    eprintln!("converted {converted} pairs");
    // 1014 ordered same-arch pairs; the rest are refused: a source arch the target lacks
    // is skipped above, and epoll files do not exist before a53775e.
    assert!(converted >= 950, "only {converted} pairs converted");
    assert!(
        report.is_empty(),
        "{} problems:\n{}",
        report.len(),
        report.join("\n")
    );
}

#[test]
fn chains_equal_direct_conversions() {
    // A -> C equals A -> B -> C, for every triple that converts.
    let reg = Registry::get();
    let all = reg.all();
    let mut checked = 0;
    for (i, a) in all.iter().enumerate() {
        for (j, b) in all.iter().enumerate().skip(i + 1) {
            for c in all.iter().skip(j + 1).step_by(2) {
                for (arch, _) in a
                    .arches
                    .iter()
                    .filter(|(x, _)| b.has_arch(*x) && c.has_arch(*x))
                {
                    let img = image(a, *arch, &opts_for_pair());
                    let (Ok((ac, _)), Ok((ab, _))) = (
                        conv(&img, a, c, *arch, &opts()),
                        conv(&img, a, b, *arch, &opts()),
                    ) else {
                        continue;
                    };
                    let (abc, _) = conv(&ab, b, c, *arch, &opts()).unwrap();
                    assert!(
                        abc == ac,
                        "{} -> {} -> {} on {arch} differs from {} -> {}",
                        a.id,
                        b.id,
                        c.id,
                        a.id,
                        c.id
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn what_each_change_does() {
    let reg = Registry::get();
    let x = Arch::X86_64;
    let names = |img: &[u8], s: &'static Schema| {
        let mut r = Reader::new(img, Format::new(s, x));
        let mut v = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            v.push(rec.name);
        }
        v
    };
    // A VPIDS record follows the tree from c83f38b.
    let (v19, pidns) = (reg.find("67cfee9").unwrap(), reg.find("c83f38b").unwrap());
    let (out, s) = conv(&image(v19, x, &opts_for_pair()), v19, pidns, x, &opts()).unwrap();
    let n = names(&out, pidns);
    let t = n.iter().position(|r| *r == "TREE").unwrap();
    assert_eq!(&n[t..t + 3], ["TREE", "BUFFER", "VPIDS"]);
    assert_eq!(s.ledger.count(Action::Inserted), 1);
    // uflags bit 0x2 changes meaning at 82822cf.
    let (b0, v21) = (reg.find("b0d8304").unwrap(), reg.find("82822cf").unwrap());
    let img = image(b0, x, &opts_for_pair());
    assert_eq!(img[64] & 2, 2, "b0d8304: bit set = do not dump");
    let (out, _) = conv(&img, b0, v21, x, &opts()).unwrap();
    assert_eq!(out[64] & 2, 0, "82822cf: bit clear = do not dump");
    // The FS object needs --cwd and --root; without them the conversion is refused.
    let (old, new) = (reg.find("76fcfe5").unwrap(), reg.find("c97c03d").unwrap());
    let img = image(old, x, &opts_for_pair());
    match conv(&img, old, new, x, &Options::default()) {
        Err(ConvertError::Refused(r)) => {
            assert!(r.contains("--cwd") && r.contains("--root"), "{r}")
        }
        other => panic!("{:?}", other.map(|o| o.1.to)),
    }
    // Going back drops the supplied paths: lossy, refused without allow_lossy.
    let (up, _) = conv(&img, old, new, x, &opts()).unwrap();
    match conv(&up, new, old, x, &Options::default()) {
        Err(ConvertError::Lossy(l)) => assert!(l.iter().any(|e| e.field == "cwd")),
        other => panic!("{:?}", other.map(|o| o.1.to)),
    }
    // Pids become objects at b6cdf01: a PIDS section before the tree, tags in the tree,
    // every other tag moved up by the number of pids; and back to the same bytes.
    let (a, b) = (reg.find("a272e68").unwrap(), reg.find("b6cdf01").unwrap());
    let img = image(a, x, &opts_for_pair());
    let (out, s) = conv(&img, a, b, x, &opts()).unwrap();
    let n = names(&out, b);
    let p = n.iter().position(|r| *r == "PIDS").unwrap();
    assert_eq!(&n[p..p + 4], ["PIDS", "BUFFER", "TREE", "BUFFER"]);
    assert!(
        s.ledger
            .entries
            .iter()
            .any(|e| e.record == "TREE" && e.step.as_deref() == Some("a272e68 -> b6cdf01"))
    );
    let first_objref = |img: &[u8], s: &'static Schema| {
        let mut r = Reader::new(img, Format::new(s, x));
        while let Some(rec) = r.next_record().unwrap() {
            if rec.name == "OBJREF" {
                return r.decode().unwrap().int("objref").unwrap();
            }
        }
        panic!("no OBJREF")
    };
    let nr_pids = {
        let mut r = Reader::new(&out[..], Format::new(b, x));
        loop {
            let rec = r.next_record().unwrap().unwrap();
            if rec.name == "PIDS" {
                break r.decode().unwrap().int("nr_pids").unwrap();
            }
        }
    };
    assert!(nr_pids >= 3, "{nr_pids}");
    assert_eq!(first_objref(&out, b), first_objref(&img, a) + nr_pids);
    let (back, _) = conv(&out, b, a, x, &opts()).unwrap();
    assert!(
        back == img,
        "a272e68 -> b6cdf01 -> a272e68 changed the image"
    );
    // v18 order (pre-v19) <-> v19 order: THREAD right after the comm, and back.
    let (a, b) = (reg.find("d55d4c8").unwrap(), reg.find("db94f5e").unwrap());
    let img = image(a, Arch::X86_32, &opts_for_pair());
    let (out, s) = conv(&img, a, b, Arch::X86_32, &opts()).unwrap();
    let mut r = Reader::new(&out[..], Format::new(b, Arch::X86_32));
    let mut seq = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        seq.push(rec.name);
    }
    let t = seq.iter().position(|r| *r == "TASK").unwrap();
    assert_eq!(&seq[t..t + 3], ["TASK", "STRING", "THREAD"]);
    assert!(s.ledger.count(Action::Moved) >= 3);
    let (back, _) = conv(&out, b, a, Arch::X86_32, &opts()).unwrap();
    assert!(
        back == img,
        "d55d4c8 -> db94f5e -> d55d4c8 changed the image"
    );
    // Socket buffers and INET sockets do not cross db94f5e: the refusal names them.
    let with_sockets = BuildOptions {
        omit: Omit::default(),
        ..opts_for_pair()
    };
    let img = image(b, Arch::X86_32, &with_sockets);
    match conv(&img, b, a, Arch::X86_32, &opts()) {
        Err(ConvertError::Refused(r)) => assert!(r.contains("SOCKET_"), "{r}"),
        other => panic!("{:?}", other.map(|o| o.1.to)),
    }
    // Sockets and pending signals cross f0fdd38: siginfo members renamed, unix peer
    // credentials as uid/gid <-> a CRED reference; back to the same bytes.
    for arch in [Arch::X86_32, Arch::X86_64, Arch::S390x] {
        let (a, b) = (reg.find("82822cf").unwrap(), reg.find("5c3471a").unwrap());
        let full = BuildOptions {
            omit: Omit::default(),
            ..opts_for_pair()
        };
        for (from, to) in [(a, b), (b, a)] {
            let img = image(from, arch, &full);
            // A 32-bit x86 task's THREAD.sysenter_return (f0fdd38 on) has no place in
            // older revisions: going down it is a loss, which only --allow-lossy takes.
            if arch == Arch::X86_32 && from.ordinal > to.ordinal {
                match conv(&img, from, to, arch, &Options::default()) {
                    Err(ConvertError::Lossy(l)) => {
                        assert!(l.iter().all(|e| e.field == "sysenter_return"), "{l:?}")
                    }
                    other => panic!("{:?}", other.map(|o| o.1.to)),
                }
                continue;
            }
            let (out, s) = conv(&img, from, to, arch, &Options::default())
                .unwrap_or_else(|e| panic!("{} -> {} {arch}: {e}", from.id, to.id));
            read_all(&out, to, arch).unwrap();
            assert!(
                s.ledger.entries.iter().any(|e| e.record == "SOCKET_UNIX"
                    && e.field == "peercred"
                    && e.action == Action::Rewritten),
                "{} -> {} {arch}",
                from.id,
                to.id
            );
            let (back, _) = conv(&out, to, from, arch, &Options::default()).unwrap();
            assert!(
                back == img,
                "{} -> {} -> back {arch} changed the image",
                from.id,
                to.id
            );
        }
    }
    // Per-task paths: --cwd PID=PATH for one task, PATH for the others.
    let (old, new) = (reg.find("76fcfe5").unwrap(), reg.find("c97c03d").unwrap());
    let img = image(old, x, &opts_for_pair());
    let mut o = opts();
    o.cwd.add("2=/home/two").unwrap();
    let (out, s) = conv(&img, old, new, x, &o).unwrap();
    let supplied: Vec<String> = s
        .ledger
        .entries
        .iter()
        .filter(|e| e.action == Action::Supplied && e.field == "cwd")
        .map(|e| format!("{:?}", e.new))
        .collect();
    assert!(
        supplied.iter().any(|v| v.contains("/home/two")),
        "{supplied:?}"
    );
    assert!(supplied.iter().any(|v| v.contains("/srv")), "{supplied:?}");
    assert!(out.windows(9).any(|w| w == b"/home/two"));
    // An architecture the target lacks is refused.
    let ppc = image(v19, Arch::Ppc, &opts_for_pair());
    let r = Reader::new(&ppc[..], Format::new(v19, Arch::Ppc));
    let mut sink = Vec::new();
    match convert(r, reg.find("a272e68").unwrap(), &opts(), &mut sink) {
        Err(ConvertError::Refused(r)) => assert!(r.contains("has no ppc"), "{r}"),
        other => panic!("{:?}", other.map(|o| o.to)),
    }
}

/// Fuzz findings, replayed as the `convert` target does (its first three bytes pick source
/// revision, arch and target; see fuzz/fuzz_targets/convert.rs):
/// * `convert-file-unknown-type.bin`: a FILE of an unknown type was copied unconverted,
///   and the output did not read back;
/// * `convert-text-not-char-boundary.bin`: a char array whose bytes are not UTF-8 was cut
///   inside a character (a panic); char arrays are now copied as bytes.
#[test]
fn regressions_from_fuzzing() {
    for (name, data) in [
        (
            "convert-file-unknown-type.bin",
            &include_bytes!("../../fuzz/regressions/convert-file-unknown-type.bin")[..],
        ),
        (
            "convert-text-not-char-boundary.bin",
            &include_bytes!("../../fuzz/regressions/convert-text-not-char-boundary.bin")[..],
        ),
    ] {
        let (from, arch) = ckpt_tests::fuzz_input::pick(data[0], data[1]);
        let to = ckpt_tests::fuzz_input::pick_target(arch, data[2]);
        let img = &data[3..];
        match conv(img, from, to, arch, &opts()) {
            Ok((out, _)) => read_all(&out, to, arch)
                .map(|_| ())
                .unwrap_or_else(|e| panic!("{name}: {e}")),
            Err(ConvertError::Refused(r)) => assert!(r.len() > 10, "{name}: {r}"),
            Err(e) => {
                // A clean error about the input is fine; a panic is not.
                assert!(e.to_string().contains("offset"), "{name}: {e}")
            }
        }
    }
}
