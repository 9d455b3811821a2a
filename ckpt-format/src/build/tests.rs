use crate::read::Reader;
use crate::schema::{Registry, Schema};

use super::creds::LABEL_CONTEXT;
use super::*;

/// One record read back: its name, length, decoded fields and text (inline records).
struct Rec {
    name: &'static str,
    len: u32,
    fields: Vec<(String, Value)>,
    text: Option<String>,
}

impl Rec {
    fn int(&self, path: &str) -> i128 {
        self.fields
            .iter()
            .find(|(p, _)| p == path)
            .and_then(|(_, v)| v.as_int())
            .unwrap_or_else(|| panic!("{}: no field {path}", self.name))
    }
}

fn pairs() -> Vec<(&'static Schema, Arch)> {
    Registry::get()
        .all()
        .iter()
        .flat_map(|&s| s.arches.iter().map(move |(a, _)| (s, *a)))
        .collect()
}

fn all_on() -> BuildOptions {
    BuildOptions {
        tasks: 5,
        memory: 6 * 4096,
        seed: 7,
        with_netns: true,
        with_hugetlb: true,
        with_sem_undo: true,
        with_robust_futex: true,
        ..Default::default()
    }
}

/// Builds, reads back every record and rewrites the image; the rewrite must be the
/// image byte for byte.
fn build_and_read(schema: &'static Schema, arch: Arch, opts: &BuildOptions) -> Vec<Rec> {
    let f = Format::new(schema, arch);
    let mut img = Vec::new();
    build(&f, opts, &mut img).unwrap_or_else(|e| panic!("build {} {arch}: {e}", schema.id));
    let mut r = Reader::new(&img[..], Format::new(schema, arch));
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out, arch.endian());
    let mut recs = Vec::new();
    loop {
        let rec = match r.next_record() {
            Ok(Some(rec)) => rec,
            Ok(None) => break,
            Err(e) => panic!("{} {arch}: read: {e}", schema.id),
        };
        let (fields, text) = if rec.inline {
            let d = r
                .decode()
                .unwrap_or_else(|e| panic!("{} {arch}: decode: {e}", schema.id));
            w.write_record_bytes(r.record_bytes()).unwrap();
            (d.fields, d.text)
        } else {
            w.begin_record(rec.rtype, rec.body_len() as u64).unwrap();
            let mut buf = Vec::new();
            r.copy_payload(&mut buf).unwrap();
            w.write_payload(&buf).unwrap();
            (vec![], None)
        };
        recs.push(Rec {
            name: rec.name,
            len: rec.len,
            fields,
            text,
        });
    }
    assert!(r.finished(), "{} {arch}: no TAIL", schema.id);
    w.finish().unwrap();
    assert!(out == img, "{} {arch}: the rewrite differs", schema.id);
    recs
}

fn objrefs(f: &Format, recs: &[Rec], obj: &str) -> Vec<(usize, i128)> {
    let t = f.schema.enum_value("obj", obj, f.arch).unwrap() as i128;
    recs.iter()
        .enumerate()
        .filter(|(_, r)| r.name == "OBJREF" && r.int("objtype") == t)
        .map(|(k, r)| (k, r.int("objref")))
        .collect()
}

fn count(recs: &[Rec], name: &str) -> usize {
    recs.iter().filter(|r| r.name == name).count()
}

/// The `f_secref` of a FILE record, whichever struct it holds.
fn f_secref(r: &Rec) -> i128 {
    r.fields
        .iter()
        .find(|(p, _)| p == "common.f_secref" || p == "f_secref")
        .and_then(|(_, v)| v.as_int())
        .unwrap()
}

fn check_label(f: &Format, recs: &[Rec]) {
    let id = &f.schema.id;
    if f.record_type("SECURITY").is_none() {
        assert_eq!(count(recs, "SECURITY"), 0);
        return;
    }
    let labels = objrefs(f, recs, "SECURITY");
    assert_eq!(labels.len(), 1, "{id}: one label object");
    let (at, tag) = labels[0];
    let sec = &recs[at + 1];
    assert_eq!(sec.name, "SECURITY");
    assert_eq!(sec.int("sectype"), 4);
    let ptr = sec.int("ptrref");
    // The label pointer took the tag just before the OBJREF's, with no record.
    assert_eq!(ptr + 1, tag, "{id}");
    assert!(
        recs.iter()
            .all(|r| r.name != "OBJREF" || r.int("objref") != ptr)
    );
    assert_eq!(recs[at + 2].name, "STRING");
    assert_eq!(recs[at + 2].text.as_deref(), Some(LABEL_CONTEXT));
    // One CRED (right after the label) and one FILE refer to it, after it.
    let creds: Vec<usize> = (0..recs.len())
        .filter(|&k| recs[k].name == "CRED" && recs[k].int("sec_ref") != 0)
        .collect();
    assert_eq!(creds, vec![at + 3], "{id}");
    assert_eq!(recs[at + 3].int("sec_ref"), ptr);
    let files: Vec<usize> = (0..recs.len())
        .filter(|&k| recs[k].name == "FILE" && f_secref(&recs[k]) != 0)
        .collect();
    assert_eq!(files.len(), 1, "{id}");
    assert!(files[0] > at);
    assert_eq!(f_secref(&recs[files[0]]), ptr);
}

fn check_ldisc(f: &Format, recs: &[Rec]) {
    let ttys: Vec<usize> = (0..recs.len()).filter(|&k| recs[k].name == "TTY").collect();
    if f.schema.enum_value("file", "TTY", f.arch).is_some() {
        assert_eq!(ttys.len(), 2, "{}: master and slave", f.schema.id);
    }
    for k in ttys {
        assert_eq!(recs[k + 1].name, "TTY_LDISC");
        let n = recs[k + 1].int("datalen");
        assert!(n > 0);
        assert_eq!(recs[k + 2].name, "BUFFER");
        assert_eq!(recs[k + 2].len as i128, 8 + n);
    }
}

fn check_msg(recs: &[Rec]) {
    let k = recs.iter().position(|r| r.name == "IPC_MSG").unwrap();
    let q = &recs[k];
    assert_eq!(q.int("q_qnum"), 1);
    let m = &recs[k + 1];
    assert_eq!(m.name, "IPC_MSG_MSG");
    assert_eq!(m.int("m_ts"), q.int("q_cbytes"));
    assert_eq!(recs[k + 2].name, "BUFFER");
    assert_eq!(recs[k + 2].len as i128, 8 + m.int("m_ts"));
    assert_eq!(recs[k + 3].name, "IPC");
}

fn uflags(recs: &[Rec]) -> i128 {
    recs[0].int("uflags")
}

#[test]
fn every_pair_with_every_option_reads_back_and_rewrites_byte_for_byte() {
    for (schema, arch) in pairs() {
        let f = Format::new(schema, arch);
        let id = &schema.id;
        let recs = build_and_read(schema, arch, &all_on());
        check_label(&f, &recs);
        check_ldisc(&f, &recs);
        check_msg(&recs);
        // Net namespace.
        let ns = recs.iter().find(|r| r.name == "NS").unwrap();
        if f.record_type("NET_NS").is_some() {
            let nets = objrefs(&f, &recs, "NET_NS");
            assert_eq!(nets.len(), 1, "{id} {arch}");
            let (at, tag) = nets[0];
            assert_eq!(recs[at + 1].name, "NET_NS");
            assert_eq!(recs[at + 1].int("this_ref"), tag);
            assert_eq!(ns.int("net_objref"), tag);
            assert_eq!(count(&recs, "NETDEV"), 3);
            assert_eq!(count(&recs, "NETDEV_ADDR"), 2);
            let dump = if schema.constant("CHECKPOINT_NETNS", arch).is_some() {
                2
            } else {
                0
            };
            assert_eq!(uflags(&recs), dump, "{id} {arch}");
        } else {
            assert_eq!(count(&recs, "NET_NS"), 0);
        }
        // Hugetlb.
        if f.record_type("HPAGE").is_some() {
            let huge = f.schema.enum_value("vma", "HUGETLB", arch).unwrap() as i128;
            let k = recs
                .iter()
                .position(|r| r.name == "VMA" && r.int("vma_type") == huge)
                .unwrap_or_else(|| panic!("{id} {arch}: no hugetlb vma"));
            let shift = recs[k].int("hugetlb_shift");
            assert_eq!(recs[k + 1].name, "HPAGE");
            assert_eq!(recs[k + 1].int("shift"), shift);
            assert_eq!(recs[k + 1].int("vaddr"), recs[k].int("vm_start"));
            assert_eq!(recs[k + 2].name, "BUFFER");
            assert_eq!(recs[k + 2].len as i128, 8 + (1 << shift));
            assert_eq!(recs[k + 3].name, "VMA");
            assert_eq!(count(&recs, "HPAGE"), 1);
        } else {
            assert_eq!(count(&recs, "HPAGE"), 0);
        }
        // Semaphore undo.
        if f.record_type("TASK_SEM_UNDO_LIST").is_some() {
            let undo = objrefs(&f, &recs, "SEM_UNDO");
            assert_eq!(undo.len(), 1, "{id} {arch}");
            let (at, tag) = undo[0];
            assert_eq!(recs[at + 1].name, "TASK_SEM_UNDO_LIST");
            assert_eq!(recs[at + 1].int("count"), 1);
            assert_eq!(recs[at + 2].name, "TASK_SEM_UNDO");
            let n = recs[at + 2].int("semadj_count");
            assert_eq!(recs[at + 3].name, "BUFFER");
            assert_eq!(recs[at + 3].len as i128, 8 + 2 * n);
            // Between FS and SIGHAND.
            assert_eq!(recs[at - 1].name, "FILE_NAME");
            assert_eq!(recs[at + 4].name, "OBJREF");
            assert_eq!(recs[at + 5].name, "SIGHAND");
            let objs = recs.iter().find(|r| r.name == "TASK_OBJS").unwrap();
            assert_eq!(objs.int("sem_undo_objref"), tag);
        } else {
            assert_eq!(count(&recs, "TASK_SEM_UNDO_LIST"), 0);
        }
    }
}

#[test]
fn the_default_image_has_labels_ldiscs_and_messages_but_no_netns_hugetlb_or_sem_undo() {
    for (schema, arch) in pairs() {
        let f = Format::new(schema, arch);
        let opts = BuildOptions {
            tasks: 5,
            ..Default::default()
        };
        let recs = build_and_read(schema, arch, &opts);
        check_label(&f, &recs);
        check_ldisc(&f, &recs);
        check_msg(&recs);
        for name in [
            "NET_NS",
            "NETDEV",
            "NETDEV_ADDR",
            "HPAGE",
            "TASK_SEM_UNDO_LIST",
        ] {
            assert_eq!(count(&recs, name), 0, "{} {arch}: {name}", schema.id);
        }
        let no_dump = schema.constant("CHECKPOINT_NONETNS", arch).map_or(0, |v| v);
        assert_eq!(uflags(&recs), no_dump);
        let ns = recs.iter().find(|r| r.name == "NS").unwrap();
        if let Some((_, v)) = ns.fields.iter().find(|(p, _)| p == "net_objref") {
            assert_eq!(v.as_int(), Some(0));
        }
        assert!(recs.iter().filter(|r| r.name == "TASK_OBJS").all(|r| {
            r.fields
                .iter()
                .all(|(p, v)| p != "sem_undo_objref" || v.as_int() == Some(0))
        }));
    }
}

#[test]
fn the_same_seed_makes_the_same_image() {
    let schema = Registry::get().find("v23-rc2").unwrap();
    let f = Format::new(schema, Arch::X86_64);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    build(&f, &all_on(), &mut a).unwrap();
    build(&f, &all_on(), &mut b).unwrap();
    assert!(a == b);
}
