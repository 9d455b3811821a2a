//! x86_32 images onto x86_64 kernels (`convert --to-arch x86_64`) and back, on every
//! revision whose x86_64 kernel restarts 32-bit tasks (c97c03d on): the output reads back
//! as x86_64, passes `check` for a target with CONFIG_IA32_EMULATION and fails without
//! it, differs from the source only where the rules of `steps::X86_COMPAT` say, and
//! converts back to the original bytes.

use ckpt_convert::config::{ConfigOrigin, GivenConfig, KernelConfig, OPTION_RULES};
use ckpt_convert::imagediff::compare;
use ckpt_convert::steps::{Carry, X86_COMPAT};
use ckpt_convert::{Action, ConvertError, Options, Summary, convert};
use ckpt_format::build::BuildOptions;
use ckpt_format::model::{ImageModel, read_model};
use ckpt_format::{Arch, Format, Reader, Registry, Schema};
use ckpt_tests::image;

/// The revisions with both arches whose x86_64 kernel restarts 32-bit tasks.
fn revisions() -> Vec<&'static Schema> {
    Registry::get()
        .all()
        .iter()
        .copied()
        .filter(|s| s.has_arch(Arch::X86_32) && s.has_arch(Arch::X86_64) && s.ordinal >= 6)
        .collect()
}

fn config(ia32: bool) -> GivenConfig {
    let mut text = String::new();
    for r in OPTION_RULES {
        if r.option == "CONFIG_IA32_EMULATION" && !ia32 {
            text.push_str("# CONFIG_IA32_EMULATION is not set\n");
        } else {
            text.push_str(&format!("{}=y\n", r.option));
        }
    }
    let name = if ia32 {
        "ia32.config"
    } else {
        "no-ia32.config"
    };
    GivenConfig::new(
        KernelConfig::parse_checked(&text).unwrap(),
        ConfigOrigin::File(name.into()),
    )
}

fn to_arch(arch: Arch) -> Options {
    Options {
        target_arch: Some(arch),
        ..Options::default()
    }
}

fn run(
    img: &[u8],
    s: &'static Schema,
    from: Arch,
    o: &Options,
) -> Result<(Vec<u8>, Summary), ConvertError> {
    let mut out = Vec::new();
    let sum = convert(Reader::new(img, Format::new(s, from)), s, o, &mut out)?;
    Ok((out, sum))
}

fn model(s: &'static Schema, arch: Arch, img: &[u8]) -> ImageModel {
    read_model(Reader::new(img, Format::new(s, arch)), true)
        .unwrap_or_else(|e| panic!("{} {arch}: the output does not read back: {e}", s.id))
}

/// The differences a conversion may make, by path (`task 0 (pid 1 "init"): THREAD...`).
fn expected(path: &str) -> bool {
    let leaf = path.rsplit(": ").next().unwrap_or(path);
    ["arch", "page addresses", "header.arch_id"].contains(&path)
        || path.starts_with("header.constants.")
        || leaf == "THREAD.thread_info_flags"
        || leaf.starts_with("TASK.") && leaf.contains("robust_futex")
        || leaf == "saved_auxv"
        || leaf == "page chunks"
        || leaf == "map_count"
        || path.contains("vma 0xffffe000")
}

fn check_with(s: &'static Schema, img: &[u8], cfg: &GivenConfig) -> ckpt_convert::check::Report {
    ckpt_convert::check::check(
        Reader::new(img, Format::new(s, Arch::X86_64)),
        None,
        s,
        None,
        cfg.config.constants_variant(),
        Some(&cfg.config),
        None,
    )
    .unwrap()
}

#[test]
fn every_revision_converts_to_x86_64_and_back_to_the_same_bytes() {
    for s in revisions() {
        for (what, opts) in [
            ("default", BuildOptions::default()),
            (
                "compat vdso, robust futex",
                BuildOptions {
                    with_compat_vdso: true,
                    with_robust_futex: true,
                    ..BuildOptions::default()
                },
            ),
        ] {
            let at = format!("{} ({what})", s.id);
            let src = image(s, Arch::X86_32, &opts);
            let (up, sum) = run(&src, s, Arch::X86_32, &to_arch(Arch::X86_64))
                .unwrap_or_else(|e| panic!("{at}: {e}"));
            assert_eq!(sum.ledger.count(Action::Dropped), 0, "{at}: nothing lost");
            let (a, b) = (model(s, Arch::X86_32, &src), model(s, Arch::X86_64, &up));
            let diffs = compare(&a, &b);
            let odd: Vec<_> = diffs.iter().filter(|d| !expected(&d.path)).collect();
            assert!(odd.is_empty(), "{at}: unexpected differences {odd:#?}");
            assert!(
                diffs
                    .iter()
                    .any(|d| d.path.ends_with("THREAD.thread_info_flags")),
                "{at}: every task is marked 32-bit"
            );
            // Restarts on a kernel with IA32 emulation; refused without, naming it.
            let ok = check_with(s, &up, &config(true));
            assert!(ok.ok(), "{at}: {:#?}", ok.problems);
            let no = check_with(s, &up, &config(false));
            assert!(
                no.problems
                    .iter()
                    .any(|p| p.check.contains("CONFIG_IA32_EMULATION")),
                "{at}: {:#?}",
                no.problems
            );
            // And back: the original bytes.
            let (down, _) = run(&up, s, Arch::X86_64, &to_arch(Arch::X86_32))
                .unwrap_or_else(|e| panic!("{at}: back: {e}"));
            assert!(down == src, "{at}: converting back changes the image");
        }
    }
}

#[test]
fn a_large_memory_area_is_split_into_the_x86_64_chunks_and_joined_back() {
    let s = Registry::get().find("v23-rc2").unwrap();
    let opts = BuildOptions {
        tasks: 1,
        memory: 80 << 20,
        ..BuildOptions::default()
    };
    let src = image(s, Arch::X86_32, &opts);
    let (up, _) = run(&src, s, Arch::X86_32, &to_arch(Arch::X86_64)).unwrap();
    let m = model(s, Arch::X86_64, &up);
    let (native, limit) = X86_COMPAT.chunk_pages;
    let vmas: Vec<_> = m.objects.values().flat_map(|o| &o.vmas).collect();
    let big = vmas
        .iter()
        .find(|v| v.pages > limit)
        .expect("a VMA over 8192 pages");
    assert!(big.pages <= native, "one x86_32 chunk");
    assert_eq!(
        big.chunks,
        big.pages.div_ceil(limit),
        "split at {limit} pages"
    );
    let a = model(s, Arch::X86_32, &src);
    let diffs = compare(&a, &m);
    assert!(diffs.iter().any(|d| d.path.ends_with("page chunks")));
    assert!(
        !diffs.iter().any(|d| d.path.contains("page contents")),
        "the pages are the same: {diffs:#?}"
    );
    let (down, _) = run(&up, s, Arch::X86_64, &to_arch(Arch::X86_32)).unwrap();
    assert!(down == src, "joined back to the original chunks");
}

#[test]
fn a_moved_vdso_takes_every_reference_to_it_along() {
    let s = Registry::get().find("v23-rc2").unwrap();
    let src = image(s, Arch::X86_32, &BuildOptions::default());
    let o = Options {
        vdso: Some(0xf7ff_d000),
        ..to_arch(Arch::X86_64)
    };
    let (up, sum) = run(&src, s, Arch::X86_32, &o).unwrap();
    let moved: Vec<String> = sum
        .ledger
        .entries
        .iter()
        .filter(|e| e.action == Action::Supplied)
        .map(|e| format!("{} {}", e.record, e.field))
        .collect();
    for what in [
        "MM_CONTEXT vdso",
        "VMA vm_start..vm_end",
        "THREAD sysenter_return",
        "CPU ip",
        "BUFFER saved_auxv AT_SYSINFO",
        "BUFFER saved_auxv AT_SYSINFO_EHDR",
    ] {
        assert!(
            moved.iter().any(|m| m == what),
            "{what} not moved: {moved:?}"
        );
    }
    let m = model(s, Arch::X86_64, &up);
    assert!(
        m.objects
            .values()
            .flat_map(|o| &o.vmas)
            .any(|v| v.start == 0xf7ff_d000)
    );
}

#[test]
fn what_cannot_be_a_32_bit_task_is_refused_with_its_reason() {
    let s = Registry::get().find("v23-rc2").unwrap();
    // A native 64-bit image has no x86_32 form: the task is named.
    let native = image(s, Arch::X86_64, &BuildOptions::default());
    let e = run(&native, s, Arch::X86_64, &to_arch(Arch::X86_32)).unwrap_err();
    assert!(
        e.to_string().contains("task 0") && e.to_string().contains("64-bit"),
        "{e}"
    );
    // Other architecture changes.
    let s390 = image(s, Arch::S390x, &BuildOptions::default());
    let e = run(&s390, s, Arch::S390x, &to_arch(Arch::X86_64)).unwrap_err();
    assert!(e.to_string().contains("x86_32 <-> x86_64"), "{e}");
    // A target without IA32 emulation.
    let src = image(s, Arch::X86_32, &BuildOptions::default());
    let o = Options {
        target_config: Some(config(false)),
        ..to_arch(Arch::X86_64)
    };
    let e = run(&src, s, Arch::X86_32, &o).unwrap_err();
    assert!(e.to_string().contains("CONFIG_IA32_EMULATION"), "{e}");
    // An x86_64 kernel from before 32-bit task support.
    let old = Registry::get().find("76fcfe5").unwrap();
    let img = image(old, Arch::X86_32, &BuildOptions::default());
    let mut out = Vec::new();
    let e = convert(
        Reader::new(&img[..], Format::new(old, Arch::X86_32)),
        old,
        &to_arch(Arch::X86_64),
        &mut out,
    )
    .unwrap_err();
    assert!(e.to_string().contains("c97c03d"), "{e}");
    // A vDSO moved above what an x86_32 task can map, going back.
    let (up, _) = run(&src, s, Arch::X86_32, &to_arch(Arch::X86_64)).unwrap();
    let o = Options {
        vdso: Some(0xf000_0000),
        ..to_arch(Arch::X86_32)
    };
    let e = run(&up, s, Arch::X86_64, &o).unwrap_err();
    assert!(e.to_string().contains("TASK_SIZE"), "{e}");
}

#[test]
fn before_v23_a_vdso_move_that_would_leave_an_ip_behind_is_refused() {
    // v21 has no THREAD.sysenter_return: the first task's ip in its vDSO cannot be
    // placed when its CPU record is converted.
    let s = Registry::get().find("v21-rc").unwrap();
    let src = image(s, Arch::X86_32, &BuildOptions::default());
    let o = Options {
        vdso: Some(0xf7ff_d000),
        ..to_arch(Arch::X86_64)
    };
    let e = run(&src, s, Arch::X86_32, &o).unwrap_err();
    assert!(e.to_string().contains("leave the ip behind"), "{e}");
}

#[test]
fn every_rule_has_a_source_and_says_how_each_direction_carries_it() {
    for r in X86_COMPAT.rules {
        assert!(!r.source.is_empty() && !r.why.is_empty(), "{:?}", r.rule);
        assert_ne!(
            r.up,
            Carry::Refused,
            "{:?}: up is the supported direction",
            r.rule
        );
    }
}
