//! `edit` and the transform API, on every revision × architecture:
//! * the identity chain is byte-exact;
//! * every decoded member writes back in place (the edit writes members where the
//!   decoder found them);
//! * a remap of a pid, uid, gid, path or UTS name changes every place that held the old
//!   value and nothing else, leaves no old value in any place, keeps the image valid for
//!   its revision, and its inverse gives the original bytes;
//! * an edit that would make two things one is refused, naming the places.

use ckpt_convert::edit::{Edit, Operation};
use ckpt_convert::transform::{RunOptions, run};
use ckpt_format::build::BuildOptions;
use ckpt_format::model::places::{Found, PlaceKind, PlaceValue, find_places};
use ckpt_format::read::decode_record_typed;
use ckpt_format::value::{decode_field, encode_field};
use ckpt_format::{Arch, Format, Schema};
use ckpt_tests::editing::{edit, problems, reader};
use ckpt_tests::{all_pairs, image};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

fn small() -> BuildOptions {
    BuildOptions {
        tasks: 3,
        memory: 2 * 4096,
        ..BuildOptions::default()
    }
}

fn places(schema: &'static Schema, arch: Arch, img: &[u8]) -> Vec<Found> {
    find_places(reader(schema, arch, img), &PlaceKind::ALL)
        .unwrap_or_else(|e| panic!("{} {arch}: places: {e}", schema.id))
}

#[test]
fn the_identity_chain_is_byte_exact() {
    for (schema, arch) in all_pairs() {
        let img = image(schema, arch, &small());
        let mut out = Vec::new();
        let f = Format::shared(schema, arch);
        let s = run(
            reader(schema, arch, &img),
            f,
            &mut [],
            &mut out,
            &RunOptions::default(),
            None,
        )
        .unwrap_or_else(|e| panic!("{} {arch}: {e}", schema.id));
        assert!(
            out == img,
            "{} {arch}: the identity chain changed bytes",
            schema.id
        );
        assert_eq!(s.records_changed, 0);
        assert!(s.ledger.entries.is_empty());
    }
}

#[test]
fn every_decoded_member_writes_back_in_place() {
    for (schema, arch) in all_pairs() {
        let img = image(schema, arch, &small());
        let f = Format::new(schema, arch);
        let mut r = reader(schema, arch, &img);
        let mut members = 0;
        while let Some(info) = r.next_record().unwrap() {
            if !info.inline {
                continue;
            }
            let bytes = r.record_bytes().to_vec();
            let d = decode_record_typed(&f, &info, &bytes).unwrap();
            for tf in &d.fields {
                let field = tf.field();
                let at = decode_field(&field, &bytes, f.endian());
                assert_eq!(
                    at.as_ref(),
                    Some(&tf.value),
                    "{} {arch} record #{} {} {}: not where the decoder says",
                    schema.id,
                    info.index,
                    info.name,
                    tf.path
                );
                let mut again = bytes.clone();
                encode_field(&field, &tf.value, &mut again, f.endian()).unwrap();
                assert!(
                    again == bytes,
                    "{} {}: rewritten differently",
                    info.name,
                    tf.path
                );
                members += 1;
            }
        }
        assert!(
            members > 100,
            "{} {arch}: only {members} members",
            schema.id
        );
    }
}

/// The places of `kind` by (record index, member), with their values.
fn of_kind(found: &[Found], kind: PlaceKind) -> BTreeMap<(u64, String), PlaceValue> {
    found
        .iter()
        .filter(|f| f.place.kind == kind)
        .map(|f| {
            (
                (f.record_index, f.place.member.clone()),
                f.place.value.clone(),
            )
        })
        .collect()
}

/// A number of `kind` that no place holds.
fn unused_number(found: &[Found], kind: PlaceKind, from: i64) -> i64 {
    let held: BTreeSet<i64> = found
        .iter()
        .filter(|f| f.place.kind == kind)
        .filter_map(|f| match f.place.value {
            PlaceValue::Int(n) => Some(n),
            _ => None,
        })
        .collect();
    (from..).find(|n| !held.contains(n)).unwrap()
}

/// Checks a remap of `old` to `new` for places of `kind`, and its inverse.
fn remap_and_back(
    schema: &'static Schema,
    arch: Arch,
    img: &[u8],
    kind: PlaceKind,
    op: Operation,
    inverse: Operation,
) {
    let what = format!("{} {arch} {op}", schema.id);
    let before = places(schema, arch, img);
    let out = edit(schema, arch, img, vec![op.clone()]).unwrap_or_else(|e| panic!("{what}: {e}"));
    let after = places(schema, arch, &out);
    // The same places, of every kind; of `kind`, each mapped as the operation says.
    let (a, b) = (of_kind(&before, kind), of_kind(&after, kind));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{what}: places moved"
    );
    let mut changed_records = BTreeSet::new();
    let mut changed_members: BTreeSet<(u64, String)> = BTreeSet::new();
    let mut changed = 0;
    for (k, v) in &a {
        let place = before
            .iter()
            .find(|f| f.record_index == k.0 && f.place.member == k.1 && f.place.kind == kind)
            .unwrap();
        let want = op.map(&place.place).unwrap_or_else(|| v.clone());
        assert_eq!(&b[k], &want, "{what}: record #{} {}", k.0, k.1);
        if want != *v {
            changed += 1;
            changed_records.insert(k.0);
            changed_members.insert(k.clone());
        }
    }
    assert!(changed > 0, "{what}: nothing changed");
    for other in PlaceKind::ALL.into_iter().filter(|k| *k != kind) {
        assert_eq!(
            of_kind(&before, other),
            of_kind(&after, other),
            "{what}: {other:?} changed"
        );
    }
    // Nothing else: records without a changed place are byte-identical.
    let (mut ra, mut rb) = (reader(schema, arch, img), reader(schema, arch, &out));
    while let Some(ia) = ra.next_record().unwrap() {
        let ib = rb.next_record().unwrap().expect("as many records");
        assert_eq!(ia.name, ib.name);
        if ia.inline && !changed_records.contains(&ia.index) {
            assert!(
                ra.record_bytes() == rb.record_bytes(),
                "{what}: record #{} {} changed without a changed place",
                ia.index,
                ia.name
            );
        } else if ia.inline && !ia.headerless {
            // In a changed record, only its changed places' members (and the lengths
            // that follow a path: the record's, an address's) differ.
            let (da, db) = (ra.decode().unwrap(), rb.decode().unwrap());
            for ((pa, va), (pb, vb)) in da.fields.iter().zip(&db.fields) {
                assert_eq!(pa, pb, "{what}: record #{} layout", ia.index);
                let allowed = changed_members.contains(&(ia.index, pa.clone()))
                    || pa == "h.len"
                    || pa.ends_with("_len")
                    || changed_members.iter().any(|(r, m)| {
                        // An array decoded whole (`groups`) holds a place (`groups[2]`),
                        // or an element decoded whole holds a member of it.
                        *r == ia.index
                            && (m.starts_with(&format!("{pa}["))
                                || pa.starts_with(&format!("{m}[")))
                    });
                assert!(
                    va == vb || allowed,
                    "{what}: record #{} {} member {pa} changed ({va} -> {vb}) though no place \
                     there was edited",
                    ia.index,
                    ia.name
                );
            }
        }
    }
    assert!(rb.next_record().unwrap().is_none());
    // Still valid for its revision.
    assert_eq!(
        problems(schema, arch, &out),
        problems(schema, arch, img),
        "{what}: check finds new problems"
    );
    // And back.
    let back =
        edit(schema, arch, &out, vec![inverse]).unwrap_or_else(|e| panic!("{what}: back: {e}"));
    assert!(
        back == img,
        "{what}: the inverse does not give the original bytes"
    );
}

fn first_number(found: &[Found], kind: PlaceKind, skip: usize) -> Option<i64> {
    let v: BTreeSet<i64> = found
        .iter()
        .filter(|f| f.place.kind == kind)
        .filter_map(|f| match f.place.value {
            // uid and gid 0 are real users; pid 0 is "none".
            PlaceValue::Int(n) if n > 0 || kind != PlaceKind::Pid => Some(n),
            _ => None,
        })
        .collect();
    if v.is_empty() {
        return None;
    }
    v.iter().nth(skip % v.len()).copied()
}

fn number_op(kind: PlaceKind, old: i64, new: i64) -> Operation {
    let name = match kind {
        PlaceKind::Pid => "pid",
        PlaceKind::Uid => "uid",
        _ => "gid",
    };
    Operation::parse(name, &format!("{old}={new}")).unwrap()
}

/// A remap of each kind on one image, and its inverse.
fn remaps(schema: &'static Schema, arch: Arch, opts: &BuildOptions, pick: usize) -> Vec<PlaceKind> {
    let img = image(schema, arch, opts);
    let found = places(schema, arch, &img);
    let mut done = Vec::new();
    for kind in [PlaceKind::Pid, PlaceKind::Uid, PlaceKind::Gid] {
        let Some(old) = first_number(&found, kind, pick) else {
            continue;
        };
        let new = unused_number(&found, kind, 30000 + pick as i64);
        remap_and_back(
            schema,
            arch,
            &img,
            kind,
            number_op(kind, old, new),
            number_op(kind, new, old),
        );
        done.push(kind);
    }
    // A directory of some path moves below /moved.
    let dirs: BTreeSet<String> = found
        .iter()
        .filter(|f| f.place.kind == PlaceKind::Path)
        .filter_map(|f| match &f.place.value {
            PlaceValue::Text(t) if t.starts_with('/') => {
                t[1..].find('/').map(|k| t[..k + 2].to_string())
            }
            _ => None,
        })
        .collect();
    if !dirs.is_empty() {
        let dir = dirs.iter().nth(pick % dirs.len()).unwrap();
        let moved = format!("/moved{dir}");
        remap_and_back(
            schema,
            arch,
            &img,
            PlaceKind::Path,
            Operation::parse("path", &format!("{dir}={moved}")).unwrap(),
            Operation::parse("path", &format!("{moved}={dir}")).unwrap(),
        );
        done.push(PlaceKind::Path);
    }
    let names: BTreeSet<String> = found
        .iter()
        .filter(|f| f.place.kind == PlaceKind::Hostname)
        .filter_map(|f| match &f.place.value {
            PlaceValue::Text(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    if names.len() == 1 {
        let was = names.into_iter().next().unwrap();
        remap_and_back(
            schema,
            arch,
            &img,
            PlaceKind::Hostname,
            Operation::parse("hostname", "edited-host").unwrap(),
            Operation::parse("hostname", &was).unwrap(),
        );
        done.push(PlaceKind::Hostname);
    }
    done
}

#[test]
fn remaps_of_every_kind_on_every_revision_and_arch() {
    for (schema, arch) in all_pairs() {
        let done = remaps(schema, arch, &small(), 0);
        // Every image has tasks with pids, credentials and files; UTS names where the
        // revision has UTS_NS.
        for kind in [
            PlaceKind::Pid,
            PlaceKind::Uid,
            PlaceKind::Gid,
            PlaceKind::Path,
        ] {
            assert!(
                done.contains(&kind),
                "{} {arch}: no {kind} remapped",
                schema.id
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn random_remaps_change_only_what_they_name(pair in 0usize..64, seed in 1u64..1000, tasks in 1u32..5, pick in 0usize..8) {
        let pairs = all_pairs();
        let (schema, arch) = pairs[pair % pairs.len()];
        let opts = BuildOptions { tasks, seed, memory: 4096, ..BuildOptions::default() };
        remaps(schema, arch, &opts, pick);
    }
}

#[test]
fn a_new_value_the_image_already_uses_is_refused_with_its_places() {
    for (schema, arch) in all_pairs() {
        let img = image(schema, arch, &small());
        let found = places(schema, arch, &img);
        for kind in [PlaceKind::Pid, PlaceKind::Uid, PlaceKind::Gid] {
            let values: BTreeSet<i64> = found
                .iter()
                .filter(|f| f.place.kind == kind)
                .filter_map(|f| match f.place.value {
                    PlaceValue::Int(n) if n > 0 => Some(n),
                    _ => None,
                })
                .collect();
            if values.len() < 2 {
                continue;
            }
            let mut v = values.iter();
            let (a, b) = (*v.next().unwrap(), *v.next().unwrap());
            let e = edit(schema, arch, &img, vec![number_op(kind, a, b)]).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains("already uses") && msg.contains("record #"),
                "{} {arch}: {msg}",
                schema.id
            );
            // A swap is not a collision.
            let swapped = edit(
                schema,
                arch,
                &img,
                vec![number_op(kind, a, b), number_op(kind, b, a)],
            )
            .unwrap_or_else(|e| panic!("{} {arch} swap: {e}", schema.id));
            let back = edit(
                schema,
                arch,
                &swapped,
                vec![number_op(kind, b, a), number_op(kind, a, b)],
            )
            .unwrap();
            assert!(back == img);
        }
    }
}

#[test]
fn an_old_value_that_occurs_nowhere_is_reported() {
    let (schema, arch) = all_pairs()[0];
    let img = image(schema, arch, &small());
    let found = places(schema, arch, &img);
    let nowhere = unused_number(&found, PlaceKind::Uid, 4_000_000);
    let mut e = Edit::new(vec![number_op(PlaceKind::Uid, nowhere, nowhere + 1)]);
    let unused = e.survey(reader(schema, arch, &img)).unwrap();
    assert_eq!(unused.len(), 1);
    assert!(unused[0].to_string().contains(&format!("--uid {nowhere}=")));
}
