//! UnixPeerCredentials, step f678773 -> f0fdd38: how a unix socket names its peer's
//! credentials.
//!
//! Before f0fdd38 SOCKET_UNIX holds `peercred_uid` and `peercred_gid`; from it,
//! `peercred`, the tag of a CRED object. Upgrading, the tag of the first CRED of the
//! image with that uid and gid is written (refused when no such CRED precedes the
//! socket: ckpt does not make one up). Downgrading, the uid and gid of the CRED that
//! `peercred` refers to are written. The dispatcher collects the CRED objects of the
//! source into [`State::creds`] as they pass.

use std::collections::BTreeMap;

use ckpt_format::RecordInfo;
use ckpt_format::read::Decoded;
use ckpt_format::value::Value;

use super::{State, objtype_name, put_member, refuse};
use crate::error::ConvertError;
use crate::ledger::Action;
use crate::mechanical::{Conv, fields_of};
use crate::steps::{Direction, Rewrite};

/// The CRED objects of the source, collected as they pass.
#[derive(Debug, Default)]
pub(super) struct Creds {
    /// Tags of CRED objects whose OBJREF came and whose CRED record has not.
    stack: Vec<i64>,
    /// uid and gid of every CRED object of the source, by tag.
    by_tag: BTreeMap<i64, (i64, i64)>,
}

/// UnixPeerCredentials (f0fdd38): `peercred_uid`/`peercred_gid` <-> `peercred`, a
/// reference to a CRED object of the image with that uid and gid.
pub(super) fn peer_credentials(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
    decoded: &ckpt_format::read::Decoded,
    out: &mut [u8],
    dir: Direction,
) -> Result<(), ConvertError> {
    let idx = info.index;
    // The numbers on the side that has them: removed going up, made from the CRED going
    // down.
    let numbers: Vec<(&str, i64)>;
    let (old, new) = match dir {
        Direction::Up => {
            let uid = decoded.int("peercred_uid").unwrap_or(0) as i64;
            let gid = decoded.int("peercred_gid").unwrap_or(0) as i64;
            let Some((&tag, _)) = st.creds.by_tag.iter().find(|(_, c)| **c == (uid, gid)) else {
                return refuse(
                    conv,
                    Rewrite::UnixPeerCredentials,
                    info,
                    format!(
                        "record #{idx} SOCKET_UNIX: {} refers to the peer's credentials by a CRED object, and no \
                         CRED with uid {uid} and gid {gid} precedes the socket in this image; ckpt does not make \
                         one up",
                        conv.to.schema.id
                    ),
                );
            };
            let tag = st.tags.map(tag);
            put_member(
                conv,
                "ckpt_hdr_socket_unix",
                "peercred",
                &Value::Int(tag),
                out,
            )?;
            numbers = vec![("peercred_uid", uid), ("peercred_gid", gid)];
            (Value::Text(format!("uid {uid} gid {gid}")), Value::Int(tag))
        }
        Direction::Down => {
            let tag = decoded.int("peercred").unwrap_or(0) as i64;
            let Some(&(uid, gid)) = st.creds.by_tag.get(&tag) else {
                return refuse(
                    conv,
                    Rewrite::UnixPeerCredentials,
                    info,
                    format!(
                        "record #{idx} SOCKET_UNIX: peercred refers to object {tag}, which is no CRED written \
                         before the socket; {} needs the peer's uid and gid",
                        conv.to.schema.id
                    ),
                );
            };
            put_member(
                conv,
                "ckpt_hdr_socket_unix",
                "peercred_uid",
                &Value::Int(uid),
                out,
            )?;
            put_member(
                conv,
                "ckpt_hdr_socket_unix",
                "peercred_gid",
                &Value::Int(gid),
                out,
            )?;
            numbers = vec![("peercred_uid", uid), ("peercred_gid", gid)];
            (Value::Int(tag), Value::Text(format!("uid {uid} gid {gid}")))
        }
    };
    conv.note_step(
        Rewrite::UnixPeerCredentials,
        idx,
        "SOCKET_UNIX",
        "peercred",
        Action::Rewritten,
        Some(old),
        Some(new),
    );
    // A number 0 that goes away is no change (as the mechanical pass has it).
    let numbers = numbers
        .into_iter()
        .filter(|(_, n)| dir == Direction::Down || *n != 0);
    for (member, n) in numbers {
        let (action, old, new, why) = match dir {
            Direction::Up => (
                Action::Removed,
                Some(Value::Int(n)),
                None,
                "carried by the CRED object that peercred refers to",
            ),
            Direction::Down => (
                Action::Rewritten,
                None,
                Some(Value::Int(n)),
                "from the CRED object that peercred referred to",
            ),
        };
        conv.note_step(
            Rewrite::UnixPeerCredentials,
            idx,
            "SOCKET_UNIX",
            member,
            action,
            old,
            new,
        );
        conv.because(why);
    }
    Ok(())
}

/// Collects the source's CRED objects (tag, uid and gid) as they pass.
pub(super) fn collect(conv: &mut Conv<'_>, st: &mut State, info: &RecordInfo, bytes: &[u8]) {
    let name = info.name;
    // Credentials objects of the source, for unix peer credentials (f0fdd38).
    if name == "OBJREF" && objtype_name(conv, bytes) == Some("CRED") {
        let f = fields_of(conv.from, name, bytes);
        if let Some(t) = f
            .iter()
            .find(|(p, _)| p == "objref")
            .and_then(|(_, v)| v.as_int())
        {
            st.creds.stack.push(t as i64);
        }
    }
    if name == "CRED"
        && info.payload_of.is_none()
        && let Some(tag) = st.creds.stack.pop()
    {
        let f = fields_of(conv.from, name, bytes);
        let get = |p: &str| {
            f.iter()
                .find(|(x, _)| x == p)
                .and_then(|(_, v)| v.as_int())
                .unwrap_or(0) as i64
        };
        st.creds.by_tag.insert(tag, (get("uid"), get("gid")));
    }
}

/// Claims the peer credential members, which [`rewrite`] sets and notes.
pub(super) fn claim(conv: &mut Conv<'_>, info: &RecordInfo) {
    if info.name == "SOCKET_UNIX" && conv.plan.crossed(Rewrite::UnixPeerCredentials).is_some() {
        conv.claimed
            .extend(["peercred", "peercred_uid", "peercred_gid"]);
    }
}

/// Rewrites SOCKET_UNIX's peer credentials when the step is crossed.
pub(super) fn rewrite(
    conv: &mut Conv<'_>,
    st: &mut State,
    info: &RecordInfo,
    decoded: &Decoded,
    out: &mut [u8],
) -> Result<(), ConvertError> {
    let name = info.name;
    let plan = std::rc::Rc::clone(&conv.plan);
    if name == "SOCKET_UNIX"
        && let Some(dir) = plan.crossed(Rewrite::UnixPeerCredentials)
    {
        peer_credentials(conv, st, info, decoded, out, dir)?;
    }
    Ok(())
}
