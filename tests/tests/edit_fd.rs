//! `--fd PID:FD=PATH` on every revision × architecture: a descriptor whose file object
//! only it uses is changed in place; a shared one is split into a file object of its own
//! written before the descriptor, the other descriptors untouched; files not opened by
//! path, and pids or descriptors the image lacks, are refused with the reason.

use ckpt_convert::edit::Operation;
use ckpt_tests::editing::{descriptors, edit, file_of, kind, model, problems};
use ckpt_tests::{all_pairs, image};

fn fd_op(pid: i64, fd: i64, path: &str, pos: Option<u64>) -> Operation {
    let mut op = Operation::parse("fd", &format!("{pid}:{fd}={path}")).unwrap();
    if let Operation::Fd { pos: p, .. } = &mut op {
        *p = pos;
    }
    op
}

#[test]
fn a_shared_file_is_split_and_a_private_one_changed_in_place() {
    let mut splits = 0;
    for (schema, arch) in all_pairs() {
        let what = format!("{} {arch}", schema.id);
        let img = image(schema, arch, &Default::default());
        let m = model(schema, arch, &img);
        let ds = descriptors(&m);
        let generic = |shared: bool| {
            ds.iter()
                .find(|(_, _, f, n)| (*n > 1) == shared && kind(schema, arch, &m, *f) == "GENERIC")
                .copied()
        };
        // In place, with a new position.
        if let Some((pid, fd, tag, _)) = generic(false) {
            let out = edit(
                schema,
                arch,
                &img,
                vec![fd_op(pid, fd, "/srv/new.log", Some(4096))],
            )
            .unwrap_or_else(|e| panic!("{what}: {e}"));
            let after = model(schema, arch, &out);
            assert_eq!(file_of(&after, pid, fd), tag, "{what}");
            let o = after.object(tag).unwrap();
            assert_eq!(o.path(), Some("/srv/new.log"), "{what}");
            assert_eq!(
                o.int("common.f_pos").or_else(|| o.int("f_pos")),
                Some(4096),
                "{what}"
            );
            assert_eq!(after.objects.len(), m.objects.len());
            assert_eq!(
                problems(schema, arch, &out),
                problems(schema, arch, &img),
                "{what}"
            );
            // Back, by the same operation with the old path and position.
            let was = m.object(tag).unwrap();
            let pos = was
                .int("common.f_pos")
                .or_else(|| was.int("f_pos"))
                .unwrap() as u64;
            let back = edit(
                schema,
                arch,
                &out,
                vec![fd_op(pid, fd, was.path().unwrap(), Some(pos))],
            )
            .unwrap();
            assert!(
                back == img,
                "{what}: the inverse does not give the original bytes"
            );
        }
        // Split.
        if let Some((pid, fd, tag, users)) = generic(true) {
            let out = edit(
                schema,
                arch,
                &img,
                vec![fd_op(pid, fd, "/srv/out.log", None)],
            )
            .unwrap_or_else(|e| panic!("{what}: {e}"));
            let after = model(schema, arch, &out);
            let new = file_of(&after, pid, fd);
            assert_ne!(new, tag, "{what}: not split");
            assert!(
                m.object(new).is_none(),
                "{what}: the new tag {new} was in use"
            );
            assert_eq!(after.object(new).unwrap().path(), Some("/srv/out.log"));
            assert_eq!(kind(schema, arch, &after, new), "GENERIC");
            assert_eq!(
                after.object(tag).unwrap().path(),
                m.object(tag).unwrap().path()
            );
            let still = descriptors(&after).iter().filter(|d| d.2 == tag).count();
            assert_eq!(still, users - 1, "{what}: the other descriptors moved");
            assert_eq!(after.objects.len(), m.objects.len() + 1);
            assert_eq!(
                problems(schema, arch, &out),
                problems(schema, arch, &img),
                "{what}"
            );
            splits += 1;
        }
    }
    assert!(
        splits > 10,
        "only {splits} images had a shared file to split"
    );
}

#[test]
fn what_cannot_be_redirected_is_refused_with_the_reason() {
    for (schema, arch) in all_pairs() {
        let img = image(schema, arch, &Default::default());
        let m = model(schema, arch, &img);
        let refused = |op: Operation| edit(schema, arch, &img, vec![op]).unwrap_err().to_string();
        let e = refused(fd_op(99999, 1, "/x", None));
        assert!(
            e.contains("the image has no task 99999 (its tasks: "),
            "{e}"
        );
        let first = m.tasks[0].pid;
        let e = refused(fd_op(first, 999, "/x", None));
        assert!(
            e.contains(&format!("task {first} has no descriptor 999 (it has 0, 1")),
            "{e}"
        );
        for (pid, fd, tag, _) in descriptors(&m) {
            let k = kind(schema, arch, &m, tag);
            if matches!(k, "GENERIC" | "FIFO") {
                continue;
            }
            let e = refused(fd_op(pid, fd, "/x", None));
            assert!(
                e.contains("which is not opened by path"),
                "{} {k}: {e}",
                schema.id
            );
        }
    }
}
