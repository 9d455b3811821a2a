//! The path list of builder images of every revision and arch.

use ckpt_format::build::{BuildOptions, build};
use ckpt_format::{Arch, Format, Reader, Registry, Schema};
use ckpt_fs::paths::{PathList, Use, collect};

fn image(s: &'static Schema, arch: Arch, tasks: u32) -> Vec<u8> {
    let mut img = Vec::new();
    let o = BuildOptions {
        tasks,
        memory: 8192,
        seed: 7,
        ..BuildOptions::default()
    };
    build(&Format::new(s, arch), &o, &mut img).unwrap();
    img
}

fn list(s: &'static Schema, arch: Arch, tasks: u32) -> PathList {
    let img = image(s, arch, tasks);
    collect(Reader::new(&img[..], Format::new(s, arch))).unwrap()
}

#[test]
fn every_revision_and_arch_lists_the_builder_paths_with_their_uses() {
    for s in Registry::get().all() {
        for &(arch, _) in &s.arches {
            let l = list(s, arch, 3);
            let at = |p: &str| {
                l.paths
                    .iter()
                    .find(|x| x.path == p)
                    .unwrap_or_else(|| panic!("{} {arch}: no {p} in {:#?}", s.id, l.paths))
            };
            let root = &l.tasks[0];
            // The executable: run and mapped by task 0, privately, from offset 0.
            let exe = at("/usr/bin/task0");
            assert!(
                exe.uses
                    .iter()
                    .any(|u| u.how == Use::Executable && u.tasks.iter().any(|t| t.pid == root.pid)),
                "{} {arch}: {exe:?}",
                s.id
            );
            assert!(exe.uses.iter().any(|u| matches!(u.how, Use::MappedFile { offset: 0, shared: false, start, end } if end > start)), "{} {arch}: {exe:?}", s.id);
            // An open log file: its descriptor, flags and position; the position is
            // the least size the image implies.
            let log = at("/var/log/task1.log");
            let Some(Use::OpenFile(d)) = log.uses.first().map(|u| &u.how) else {
                panic!("{} {arch}: {log:?}", s.id);
            };
            assert!(d.fd >= 3, "{} {arch}", s.id);
            if d.pos > 0 {
                assert_eq!(log.recorded.min_size, Some(d.pos), "{} {arch}", s.id);
            }
            assert!(
                matches!(at("/run/fifo0").uses[0].how, Use::Fifo(_)),
                "{} {arch}",
                s.id
            );
            let sock = at("/run/app0.sock");
            assert_eq!(sock.uses[0].how, Use::BoundSocket, "{} {arch}", s.id);
            assert!(!sock.uses[0].tasks.is_empty(), "{} {arch}: {sock:?}", s.id);
            assert!(!sock.needed(), "{} {arch}", s.id);
            if s.record_def("FS", arch).is_some() {
                let cwd = at("/srv/app");
                assert_eq!(cwd.uses[0].how, Use::Cwd, "{} {arch}", s.id);
                assert!(cwd.pids().contains(&root.pid), "{} {arch}", s.id);
                assert_eq!(at("/").uses[0].how, Use::Root, "{} {arch}", s.id);
            }
            // Every path has a use and every use a task; each path once.
            for p in &l.paths {
                assert!(!p.uses.is_empty(), "{} {arch}: {p:?}", s.id);
                assert!(
                    p.uses.iter().all(|u| !u.tasks.is_empty()),
                    "{} {arch}: {p:?}",
                    s.id
                );
                assert_eq!(l.paths.iter().filter(|x| x.path == p.path).count(), 1);
                assert!(!p.recorded.deleted);
            }
        }
    }
}

#[test]
fn the_list_has_the_paths_the_place_enumeration_finds_and_no_other() {
    use ckpt_format::model::places::{PlaceKind, PlaceValue, find_places};
    for s in Registry::get().all() {
        let arch = s.arches[0].0;
        let img = image(s, arch, 4);
        let found = find_places(
            Reader::new(&img[..], Format::new(s, arch)),
            &[PlaceKind::Path],
        )
        .unwrap();
        let mut want: Vec<String> = found
            .into_iter()
            .filter_map(|f| match f.place.value {
                PlaceValue::Text(t) => Some(t),
                PlaceValue::Int(_) => None,
            })
            .collect();
        want.sort();
        want.dedup();
        let mut got: Vec<String> = list(s, arch, 4).paths.into_iter().map(|p| p.path).collect();
        got.sort();
        assert_eq!(got, want, "{}", s.id);
    }
}

#[test]
fn the_sample_image_lists_its_files() {
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/v23-rc2.x86_64.ckpt");
    let img = std::fs::read(root).unwrap();
    let s = Registry::get().find("v23-rc2").unwrap();
    let l = collect(Reader::new(&img[..], Format::new(s, Arch::X86_64))).unwrap();
    let log = l
        .paths
        .iter()
        .find(|p| p.path == "/var/log/task0.log")
        .unwrap();
    assert_eq!(log.recorded.min_size, Some(540561));
    let Use::OpenFile(d) = &log.uses[0].how else {
        panic!("{log:?}")
    };
    assert_eq!((d.fd, d.pos, d.close_on_exec), (3, 540561, true));
    assert_eq!(log.uses[0].tasks[0].comm, "init");
}

#[test]
fn a_truncated_image_is_an_error_naming_the_record() {
    let s = Registry::get().find("v23-rc2").unwrap();
    let img = image(s, Arch::X86_64, 2);
    let cut = &img[..img.len() / 3];
    let e = collect(Reader::new(cut, Format::new(s, Arch::X86_64)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("offset") || e.contains("record"), "{e}");
}

/// Bad input is an error or a shorter list, never a panic: every cut of a small image,
/// and bytes flipped at random places, on each arch's byte order.
#[test]
fn cut_and_corrupted_images_never_panic() {
    let s = Registry::get().find("v23-rc2").unwrap();
    for arch in [Arch::X86_64, Arch::X86_32] {
        let img = image(s, arch, 2);
        for cut in (0..img.len()).step_by(37) {
            let _ = collect(Reader::new(&img[..cut], Format::new(s, arch)));
        }
        let mut rng = ckpt_format::prng::SplitMix64::new(11);
        for _ in 0..150 {
            let mut bad = img.clone();
            for _ in 0..4 {
                let at = (rng.next_u64() % bad.len() as u64) as usize;
                bad[at] ^= 1 << (rng.next_u64() % 8);
            }
            if let Ok(l) = collect(Reader::new(&bad[..], Format::new(s, arch))) {
                assert!(l.paths.iter().all(|p| !p.uses.is_empty()));
            }
        }
    }
    let s390 = Registry::get().find("v19").unwrap();
    let img = image(s390, Arch::S390x, 2);
    for cut in (0..img.len()).step_by(61) {
        let _ = collect(Reader::new(&img[..cut], Format::new(s390, Arch::S390x)));
    }
}
