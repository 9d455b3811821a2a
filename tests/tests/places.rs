//! The places of `ckpt_format::model::places` against the builder's own index of where
//! it wrote every path, pid, uid, gid, host name and domain name: the same set, on every
//! revision and architecture.

use std::collections::BTreeSet;

use ckpt_format::build::{BuildOptions, Omit, build};
use ckpt_format::model::places::{PlaceKind, PlaceValue, find_places};
use ckpt_format::{Arch, Format, Reader, Schema};
use ckpt_tests::all_pairs;
use proptest::prelude::*;

type Entry = (PlaceKind, u64, String, PlaceValue);

/// Builds an image and compares the places found with the builder's index.
fn compare(schema: &'static Schema, arch: Arch, opts: &BuildOptions) {
    let format = Format::new(schema, arch);
    let mut img = Vec::new();
    let summary = build(&format, opts, &mut img).unwrap();
    let placed: BTreeSet<Entry> = summary
        .placed
        .iter()
        .map(|p| (p.kind, p.record_index, p.member.clone(), p.value.clone()))
        .collect();
    assert_eq!(
        placed.len(),
        summary.placed.len(),
        "{} {arch}: a place recorded twice",
        schema.id
    );
    let found = find_places(Reader::new(&img[..], Format::new(schema, arch)), &[]).unwrap();
    let got: BTreeSet<Entry> = found
        .iter()
        .map(|f| {
            (
                f.place.kind,
                f.record_index,
                f.place.member.clone(),
                f.place.value.clone(),
            )
        })
        .collect();
    let missing: Vec<_> = placed.difference(&got).collect();
    let extra: Vec<_> = got.difference(&placed).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} {arch}: not found {missing:?}; found but not placed {extra:?}",
        schema.id
    );
    for kind in [
        PlaceKind::Path,
        PlaceKind::Pid,
        PlaceKind::Uid,
        PlaceKind::Gid,
        PlaceKind::Hostname,
    ] {
        assert!(
            got.iter().any(|e| e.0 == kind),
            "{} {arch}: no {kind}",
            schema.id
        );
    }
}

#[test]
fn every_pair_finds_exactly_the_places_the_builder_wrote() {
    for (schema, arch) in all_pairs() {
        let opts = BuildOptions {
            tasks: 6,
            memory: 4 * 4096,
            seed: 3,
            with_netns: true,
            with_hugetlb: true,
            with_sem_undo: true,
            with_robust_futex: true,
            ..BuildOptions::default()
        };
        compare(schema, arch, &opts);
    }
}

#[test]
fn the_places_of_an_image_without_files_sockets_or_signals_are_still_the_builders() {
    for (schema, arch) in all_pairs() {
        let opts = BuildOptions {
            tasks: 2,
            memory: 4096,
            omit: Omit {
                files: true,
                sockets: true,
                signals: true,
                ..Omit::default()
            },
            ..BuildOptions::default()
        };
        compare(schema, arch, &opts);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn any_seed_and_task_count_finds_the_builders_places(pair in 0usize..1000, tasks in 1u32..9, seed in any::<u64>()) {
        let pairs = all_pairs();
        let (schema, arch) = pairs[pair % pairs.len()];
        let opts = BuildOptions { tasks, memory: 2 * 4096, seed, ..BuildOptions::default() };
        compare(schema, arch, &opts);
    }
}
