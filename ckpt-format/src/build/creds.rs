//! Credentials: CRED with its GROUPINFO, USER and USER_NS objects, and the LSM label.

use std::collections::BTreeMap;
use std::io::Write;

use crate::error::Result;
use crate::model::places::{PlaceKind, PlaceValue};
use crate::value::put_uint;

use super::emit::{Emitter, Payload, file_name, i, u};

/// Tags of objects that several tasks share.
#[derive(Debug, Default)]
pub(super) struct Shared {
    pub(super) user_ns: Option<i64>,
    pub(super) users: BTreeMap<u64, i64>,
    pub(super) groupinfo: Option<i64>,
    pub(super) creds: BTreeMap<u64, i64>,
    pub(super) ns: Option<i64>,
    /// Per thread-group leader: (files, mm, fs, sem_undo, sighand, signal).
    pub(super) groups: BTreeMap<usize, [i64; 6]>,
}

/// The primary group of the builder's user `uid`: never equal to a uid the builder writes
/// (0 and 1000), so that a gid found where a uid belongs, or the other way round, shows.
pub(super) fn gid_of(uid: u64) -> u64 {
    uid + 500
}

/// The supplementary groups of every cred (one GROUPINFO): none of them a uid or a
/// primary gid.
pub(super) const GROUPS: [u64; 4] = [4, 24, 27, 100];

pub(super) fn write_creds<W: Write>(
    e: &mut Emitter<'_, W>,
    sh: &mut Shared,
    uid: u64,
) -> Result<i64> {
    if let Some(&c) = sh.creds.get(&uid) {
        return Ok(c);
    }
    let cred = e.objref("CRED")?;
    let gi = match sh.groupinfo {
        Some(g) => g,
        None => {
            let g = e.objref("GROUPINFO")?;
            let groups: Vec<u8> = GROUPS
                .iter()
                .flat_map(|v| {
                    let mut b = [0u8; 4];
                    put_uint(&mut b, *v, e.f.endian());
                    b
                })
                .collect();
            for (k, g) in GROUPS.iter().enumerate() {
                e.placed(
                    0,
                    PlaceKind::Gid,
                    format!("groups[{k}]"),
                    PlaceValue::Int(*g as i64),
                );
            }
            e.rec("GROUPINFO", vec![("ngroups", u(4))], &groups, vec![])?;
            sh.groupinfo = Some(g);
            g
        }
    };
    let user = match sh.users.get(&uid) {
        Some(&x) => x,
        None => {
            let x = e.objref("USER")?;
            let ns = match sh.user_ns {
                Some(n) => n,
                None => {
                    let n = e.objref("USER_NS")?;
                    e.rec("USER_NS", vec![("creator_ref", i(0))], &[], vec![])?;
                    sh.user_ns = Some(n);
                    n
                }
            };
            let f = vec![("uid", u(uid)), ("userns_ref", i(ns))];
            e.placed_fields("USER", &f, &[("uid", PlaceKind::Uid)]);
            e.rec("USER", f, &[], vec![])?;
            sh.users.insert(uid, x);
            x
        }
    };
    // do_checkpoint_cred (v20 93/96) takes the groupinfo, then the user, then the label:
    // the label object comes right before the CRED record.
    let sec = write_label(e)?;
    let caps = if uid == 0 { 0xffff_ffff } else { 0 };
    let f = vec![
        ("uid", u(uid)),
        ("suid", u(uid)),
        ("euid", u(uid)),
        ("fsuid", u(uid)),
        ("gid", u(gid_of(uid))),
        ("sgid", u(gid_of(uid))),
        ("egid", u(gid_of(uid))),
        ("fsgid", u(gid_of(uid))),
        ("user_ref", i(user)),
        ("groupinfo_ref", i(gi)),
        ("sec_ref", i(sec)),
        ("cap_s.cap_p_0", u(caps)),
        ("cap_s.cap_e_0", u(caps)),
        ("cap_s.cap_b_0", u(0xffff_ffff)),
        ("cap_s.cap_b_1", u(0xffff_ffff)),
    ];
    e.placed_fields(
        "CRED",
        &f,
        &[
            ("uid", PlaceKind::Uid),
            ("suid", PlaceKind::Uid),
            ("euid", PlaceKind::Uid),
            ("fsuid", PlaceKind::Uid),
            ("gid", PlaceKind::Gid),
            ("sgid", PlaceKind::Gid),
            ("egid", PlaceKind::Gid),
            ("fsgid", PlaceKind::Gid),
        ],
    );
    e.rec("CRED", f, &[], vec![])?;
    sh.creds.insert(uid, cred);
    Ok(cred)
}

/// The SELinux context of the image's one label.
pub(super) const LABEL_CONTEXT: &str = "system_u:system_r:unconfined_t:s0";

/// At the first CRED of an image whose revision has LSM labels (from d55d4c8): the label
/// of the cred, and its tag (the `sec_ref`); 0 (SECURITY_CTX_NONE) for every other cred.
///
/// `security_checkpoint_obj` (v20 93/96, grammar-research.md §1f) registers the label
/// *pointer* as a SECURITY_PTR object, which takes a tag and writes no record; that tag is
/// what `sec_ref` and `f_secref` hold. At first sight it then writes the context string as
/// a SECURITY object: OBJREF SECURITY (a second tag), SECURITY {ptrref = the pointer's
/// tag, sectype}, STRING context (NUL included). The same label is referred to later by
/// the image's first FILE (`file_common`); sharing one pointer between a cred and a file
/// is what Smack does (one `void *security` for all object types, v20 93/96); sectype is
/// that of the first referrer, CKPT_SECURITY_CRED = 4.
pub(super) fn write_label<W: Write>(e: &mut Emitter<'_, W>) -> Result<i64> {
    if e.label.is_some() || !e.has("SECURITY") {
        return Ok(0);
    }
    let ptr = e.tag(); // CKPT_OBJ_SECURITY_PTR: a tag, no OBJREF
    e.objref("SECURITY")?;
    e.rec(
        "SECURITY",
        vec![("ptrref", i(ptr)), ("sectype", u(4))],
        &[],
        vec![Payload::Bytes(file_name(LABEL_CONTEXT))],
    )?;
    e.label = Some(ptr);
    e.label_file_pending = true;
    Ok(ptr)
}
