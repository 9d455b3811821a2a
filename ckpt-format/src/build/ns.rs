//! Namespaces: NS with its UTS and IPC namespaces (SysV shm, message queues and
//! semaphores), and the net namespace.

use std::io::Write;

use crate::error::Result;
use crate::limits::PAGE_SIZE;
use crate::model::places::{PlaceKind, PlaceValue};
use crate::prng::SplitMix64;
use crate::value::{Value, put_uint};

use super::creds::{Shared, gid_of};
use super::emit::{Emitter, Fields, Payload, i, u};
use super::options::BuildOptions;

pub(super) fn write_ns<W: Write>(
    e: &mut Emitter<'_, W>,
    sh: &mut Shared,
    opts: &BuildOptions,
    rng: &mut SplitMix64,
) -> Result<i64> {
    if let Some(n) = sh.ns {
        return Ok(n);
    }
    let ns = e.objref("NS")?;
    let uts = e.objref("UTS_NS")?;
    e.placed(
        0,
        PlaceKind::Hostname,
        "nodename",
        PlaceValue::Text("ckpt-sample".into()),
    );
    e.placed(
        0,
        PlaceKind::Domainname,
        "domainname",
        PlaceValue::Text("(none)".into()),
    );
    e.rec(
        "UTS_NS",
        vec![
            ("sysname", Value::Text("Linux".into())),
            ("nodename", Value::Text("ckpt-sample".into())),
            ("release", Value::Text("2.6-ckpt".into())),
            ("version", Value::Text("#1 SMP".into())),
            ("machine", Value::Text(e.f.arch.name().into())),
            ("domainname", Value::Text("(none)".into())),
        ],
        &[],
        vec![],
    )?;
    let ipc = e.objref("IPC_NS")?;
    e.rec(
        "IPC_NS",
        vec![
            ("shm_ctlmax", u(33_554_432)),
            ("shm_ctlall", u(2_097_152)),
            ("shm_ctlmni", i(4096)),
            ("msg_ctlmax", i(8192)),
            ("msg_ctlmnb", i(16384)),
            ("msg_ctlmni", i(16)),
            ("sem_ctl_msl", i(250)),
            ("sem_ctl_mns", i(32000)),
            ("sem_ctl_opm", i(32)),
            ("sem_ctl_mni", i(128)),
        ],
        &[],
        vec![],
    )?;
    write_ipc(e, opts, rng)?;
    let net = if opts.with_netns && e.has("NET_NS") {
        write_netns(e)?
    } else {
        0
    };
    e.rec(
        "NS",
        vec![
            ("uts_objref", i(uts)),
            ("ipc_objref", i(ipc)),
            ("net_objref", i(net)),
        ],
        &[],
        vec![],
    )?;
    sh.ns = Some(ns);
    Ok(ns)
}

/// The net namespace object, written by `do_checkpoint_ns` after the UTS and IPC
/// namespaces, before the NS record that refers to it ("along with the others"). No kernel
/// code of it is public; the shape is inferred [L] from the user-cr headers and the patch
/// description (grammar-research.md §1f; the schemas' `net ns object` line):
///
/// ```text
/// OBJREF NET_NS, NET_NS {this_ref}
/// per device: OBJREF NETDEV, [peer device object] NETDEV {netns_ref, type, inet_addrs, ...},
///             [NETDEV_ADDR: inet_addrs x ckpt_netdev_addr, if inet_addrs > 0]
/// ```
///
/// Devices: `lo` (127.0.0.1/8) and one end of a veth pair (10.0.3.2/24). The veth peer
/// lives outside the checkpointed namespaces (netns_ref 0, no addresses); it is written
/// nested inside the device that first refers to it, as objects referred to before their
/// record are (the AF_UNIX peer does the same). The address array is the body of the
/// buffer-like NETDEV_ADDR record (the schemas' reading of that record); whether a
/// device-name record exists is unknown, none is written. The list of devices has no
/// terminator or count: the NS record ends it.
pub(super) fn write_netns<W: Write>(e: &mut Emitter<'_, W>) -> Result<i64> {
    e.summary.synthetic.push(
        "NET_NS, NETDEV, NETDEV_ADDR: no kernel code is public; their order is inferred".into(),
    );
    let ns = e.objref("NET_NS")?;
    e.rec("NET_NS", vec![("this_ref", i(ns))], &[], vec![])?;
    let dev_type = |e: &Emitter<'_, W>, n: &str| e.f.schema.enum_value("netdev", n, e.f.arch);
    let lo_t = dev_type(e, "LO").unwrap_or(0) as u64;
    let veth_t = dev_type(e, "VETH").unwrap_or(1) as u64;
    let ipv4 =
        e.f.schema
            .enum_value("netdev_addr", "IPV4", e.f.arch)
            .unwrap_or(0) as u64;
    let ip = |a: [u8; 4]| u(u32::from_be_bytes(a) as u64);
    let addr = |e: &Emitter<'_, W>, a: [u8; 4], mask: [u8; 4], bcast: [u8; 4]| {
        e.element(
            "ckpt_netdev_addr",
            &[
                ("type", u(ipv4)),
                ("inet4_local", ip(a)),
                ("inet4_address", ip(a)),
                ("inet4_mask", ip(mask)),
                ("inet4_broadcast", ip(bcast)),
            ],
        )
    };
    let mac = |m: [u8; 6]| Value::List(m.iter().map(|b| u(*b as u64)).collect());
    // lo: IFF_UP | IFF_LOOPBACK | IFF_RUNNING.
    e.objref("NETDEV")?;
    e.rec(
        "NETDEV",
        vec![
            ("netns_ref", i(ns)),
            ("inet_addrs", u(1)),
            ("type", u(lo_t)),
            ("flags", u(0x49)),
            ("hwaddr", mac([0; 6])),
        ],
        &[],
        vec![],
    )?;
    let a = addr(e, [127, 0, 0, 1], [255, 0, 0, 0], [0, 0, 0, 0])?;
    let rt = e.f.record_type("NETDEV_ADDR").unwrap();
    e.w.write_record(rt, &a)?;
    // veth0 and its peer: IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST.
    let veth = e.objref("NETDEV")?;
    let peer = e.objref("NETDEV")?;
    e.rec(
        "NETDEV",
        vec![
            ("netns_ref", i(0)),
            ("veth.this_ref", i(peer)),
            ("veth.peer_ref", i(veth)),
            ("inet_addrs", u(0)),
            ("type", u(veth_t)),
            ("flags", u(0x1043)),
            ("hwaddr", mac([0x02, 0x42, 0x0a, 0x00, 0x03, 0x01])),
        ],
        &[],
        vec![],
    )?;
    e.rec(
        "NETDEV",
        vec![
            ("netns_ref", i(ns)),
            ("veth.this_ref", i(veth)),
            ("veth.peer_ref", i(peer)),
            ("inet_addrs", u(1)),
            ("type", u(veth_t)),
            ("flags", u(0x1043)),
            ("hwaddr", mac([0x02, 0x42, 0x0a, 0x00, 0x03, 0x02])),
        ],
        &[],
        vec![],
    )?;
    let a = addr(e, [10, 0, 3, 2], [255, 255, 255, 0], [10, 0, 3, 255])?;
    e.w.write_record(rt, &a)?;
    Ok(ns)
}

pub(super) fn write_ipc<W: Write>(
    e: &mut Emitter<'_, W>,
    opts: &BuildOptions,
    rng: &mut SplitMix64,
) -> Result<()> {
    let with = !opts.omit.ipc;
    let n = if with { 1 } else { 0 };
    let t = |e: &Emitter<'_, W>, r: &str| e.f.record_type(r).unwrap_or(0) as u64;
    // shm: one segment, its pages as page indices.
    e.rec(
        "IPC",
        vec![("ipc_type", u(t(e, "IPC_SHM"))), ("ipc_count", u(n))],
        &[],
        vec![],
    )?;
    if with {
        let perms = ipc_perms(0x1234, 1, 0o600);
        let inode = e.tag();
        let mut f = vec![
            ("shm_segsz", u(2 * PAGE_SIZE as u64)),
            ("shm_atim", u(1_300_000_000)),
            ("shm_cprid", i(1)),
            ("shm_lprid", i(1)),
            ("mlock_uid", u(0)),
            ("objref", u(inode as u64)),
        ];
        f.extend(perms);
        e.placed_fields("IPC_SHM", &f, IPC_PLACES);
        e.rec("IPC_SHM", f, &[], vec![])?;
        let seed = rng.next_u64();
        e.rec(
            "PGARR",
            vec![("nr_pages", u(2))],
            &[],
            vec![Payload::Pages {
                addrs: vec![0, 1],
                seed,
            }],
        )?;
        e.rec("PGARR", vec![("nr_pages", u(0))], &[], vec![])?;
    }
    // msg: one queue holding one message (grammar-research.md §1e, v20 msg patch).
    e.rec(
        "IPC",
        vec![("ipc_type", u(t(e, "IPC_MSG"))), ("ipc_count", u(n))],
        &[],
        vec![],
    )?;
    if with {
        let text = b"job 42: rotate /var/log/task0.log\n".to_vec();
        let mut f = vec![
            ("q_stime", u(1_300_000_100)),
            ("q_ctime", u(1_300_000_000)),
            ("q_cbytes", u(text.len() as u64)),
            ("q_qnum", u(1)),
            ("q_qbytes", u(16384)),
            ("q_lspid", i(1)),
        ];
        f.extend(ipc_perms(0x2345, 2, 0o644));
        e.placed_fields("IPC_MSG", &f, IPC_PLACES);
        e.rec("IPC_MSG", f, &[], vec![])?;
        write_msg(e, 1, &text)?;
    }
    // sem: one set of 3 semaphores, {semval, sempid} pairs.
    e.rec(
        "IPC",
        vec![("ipc_type", u(t(e, "IPC_SEM"))), ("ipc_count", u(n))],
        &[],
        vec![],
    )?;
    if with {
        let mut f = vec![("sem_ctime", u(1_300_000_000)), ("sem_nsems", u(3))];
        f.extend(ipc_perms(0x3456, 3, 0o666));
        let mut sems = Vec::new();
        for k in 0..3u64 {
            let mut b = [0u8; 8];
            put_uint(&mut b[..4], k + 1, e.f.endian());
            put_uint(&mut b[4..], 1, e.f.endian());
            sems.extend_from_slice(&b);
            e.placed(
                1,
                PlaceKind::Pid,
                format!("sem_base[{k}].sempid"),
                PlaceValue::Int(1),
            );
        }
        e.placed_fields("IPC_SEM", &f, IPC_PLACES);
        e.rec("IPC_SEM", f, &[], vec![Payload::Bytes(sems)])?;
    }
    Ok(())
}

/// One message of a queue (`checkpoint_msg_contents`, v20 msg patch; grammar-research.md
/// §1e): IPC_MSG_MSG {m_type, m_ts, sec_ref = 0}, then the text in BUFFER records split as
/// the kernel's msg_msg segments are: first min(m_ts, DATALEN_MSG) bytes, then chunks of
/// DATALEN_SEG. DATALEN_MSG = PAGE_SIZE - sizeof(struct msg_msg) (six words: m_list,
/// m_type, m_ts, next, security) and DATALEN_SEG = PAGE_SIZE - sizeof(struct msg_msgseg)
/// (one word) are the figures of grammar-research.md [L]; restore recomputes them and
/// reads each chunk at its exact length. The builder's messages fit in one chunk.
pub(super) fn write_msg<W: Write>(e: &mut Emitter<'_, W>, m_type: i64, text: &[u8]) -> Result<()> {
    e.rec(
        "IPC_MSG_MSG",
        vec![
            ("m_type", i(m_type)),
            ("m_ts", u(text.len() as u64)),
            ("sec_ref", i(0)),
        ],
        &[],
        vec![],
    )?;
    let word = e.f.arch.word_size() as usize;
    let page = PAGE_SIZE as usize;
    let (first, seg) = (page - 6 * word, page - word);
    let buffer = e.f.record_type("BUFFER").unwrap();
    let (head, mut rest) = text.split_at(text.len().min(first));
    e.w.write_record(buffer, head)?;
    while !rest.is_empty() {
        let (chunk, r) = rest.split_at(rest.len().min(seg));
        e.w.write_record(buffer, chunk)?;
        rest = r;
    }
    Ok(())
}

/// The members of SysV IPC records that hold pids, uids and gids.
pub(super) const IPC_PLACES: &[(&str, PlaceKind)] = &[
    ("perms.uid", PlaceKind::Uid),
    ("perms.gid", PlaceKind::Gid),
    ("perms.cuid", PlaceKind::Uid),
    ("perms.cgid", PlaceKind::Gid),
    ("mlock_uid", PlaceKind::Uid),
    ("shm_cprid", PlaceKind::Pid),
    ("shm_lprid", PlaceKind::Pid),
    ("q_lspid", PlaceKind::Pid),
    ("q_lrpid", PlaceKind::Pid),
];

pub(super) fn ipc_perms(key: u64, id: i64, mode: u64) -> Fields {
    vec![
        ("perms.id", i(id)),
        ("perms.key", u(key)),
        ("perms.uid", u(0)),
        ("perms.gid", u(gid_of(0))),
        ("perms.cuid", u(0)),
        ("perms.cgid", u(gid_of(0))),
        ("perms.mode", u(mode)),
        ("perms.seq", u(id as u64)),
    ]
}
