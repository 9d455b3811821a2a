//! File tables and files: regular files, pipes and fifos, the terminal, unix and inet
//! sockets with their queues, eventfd and epoll (grammar-research.md 1a-1d).

use std::io::Write;

use crate::error::Result;
use crate::limits::PAGE_SIZE;
use crate::model::places::{PlaceKind, PlaceValue};
use crate::prng::SplitMix64;
use crate::value::Value;

use super::creds::gid_of;
use super::emit::{Emitter, Fields, Payload, file_name, i, u};
use super::options::BuildOptions;

/// The fields of the common part of a FILE record. The image's first FILE refers to the
/// LSM label (`f_secref`; checkpoint_file_common, v20 93/96), written before it with the
/// first cred.
pub(super) fn file_common(
    cred: i64,
    f_type: &str,
    e: &mut Emitter<'_, impl Write>,
    mode: u64,
    flags: u64,
) -> Fields {
    let t = e.f.schema.enum_value("file", f_type, e.f.arch).unwrap_or(1);
    let sec = match e.label {
        Some(l) if e.label_file_pending => {
            e.label_file_pending = false;
            l
        }
        _ => 0,
    };
    vec![
        ("common.f_type", u(t as u64)),
        ("f_type", u(t as u64)),
        ("common.f_mode", u(mode)),
        ("f_mode", u(mode)),
        ("common.f_flags", u(flags)),
        ("f_flags", u(flags)),
        ("common.f_credref", i(cred)),
        ("f_credref", i(cred)),
        ("common.f_pos", u(0)),
        ("common.f_secref", i(sec)),
        ("f_secref", i(sec)),
    ]
}

/// A FILE_NAME record (not a declared payload: it follows its FILE record).
pub(super) fn write_file_name<W: Write>(e: &mut Emitter<'_, W>, path: &str) -> Result<()> {
    e.placed(0, PlaceKind::Path, "text", PlaceValue::Text(path.into()));
    let fname = e.f.record_type("FILE_NAME").unwrap();
    e.w.write_record(fname, &file_name(path))?;
    Ok(())
}

pub(super) fn generic_file<W: Write>(
    e: &mut Emitter<'_, W>,
    cred: i64,
    path: &str,
    pos: u64,
) -> Result<i64> {
    let tag = e.objref("FILE")?;
    let mut f = file_common(cred, "GENERIC", e, 0x1d, 0o100002);
    f.push(("common.f_pos", u(pos)));
    f.push(("f_pos", u(pos)));
    e.rec("FILE", f, &[], vec![])?;
    write_file_name(e, path)?;
    Ok(tag)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn write_files<W: Write>(
    e: &mut Emitter<'_, W>,
    k: usize,
    cred: i64,
    uid: u64,
    opts: &BuildOptions,
    rng: &mut SplitMix64,
) -> Result<i64> {
    let table = e.objref("FILE_TABLE")?;
    let mut fds: Vec<(i64, i64)> = Vec::new(); // (fd, file tag)
    let mut deferred: Vec<Deferred> = Vec::new();
    if !opts.omit.files {
        let tty = !opts.omit.tty && k == 0 && e.has("TTY");
        if tty {
            let (t, slave) = write_tty_file(e, cred)?;
            e.controlling_tty = Some(slave);
            for fd in 0..3 {
                fds.push((fd, t));
            }
        } else {
            let t = generic_file(e, cred, "/dev/null", 0)?;
            for fd in 0..3 {
                fds.push((fd, t));
            }
        }
        let log = generic_file(
            e,
            cred,
            &format!("/var/log/task{k}.log"),
            rng.below(1 << 20),
        )?;
        fds.push((3, log));
        // A pipe with data buffered in it: both ends.
        let inode = e.tag();
        let data: Vec<u8> = format!("pipe data of task {k}\n").into_bytes();
        for (fd, mode) in [(4, 0x1d), (5, 0x1e)] {
            let tag = e.objref("FILE")?;
            let mut f = file_common(cred, "PIPE", e, mode, 0);
            f.push(("pipe_objref", i(inode)));
            e.rec("FILE", f, &[], vec![])?;
            if fd == 4 {
                let pb = e.f.record_type("PIPE_BUF").unwrap();
                e.w.write_record(pb, &data)?;
            }
            fds.push((fd, tag));
        }
        // A fifo.
        let fifo_inode = e.tag();
        let tag = e.objref("FILE")?;
        let mut f = file_common(cred, "FIFO", e, 0x1d, 0o4000);
        f.push(("pipe_objref", i(fifo_inode)));
        e.rec("FILE", f, &[], vec![])?;
        write_file_name(e, &format!("/run/fifo{k}"))?;
        let pb = e.f.record_type("PIPE_BUF").unwrap();
        e.w.write_record(pb, &[])?;
        fds.push((6, tag));
        let mut next_fd = 7;
        if !opts.omit.sockets {
            // A connected unix socket pair, and an inet listener.
            let (a, b, sa, sb) = write_unix_pair(e, cred, uid)?;
            fds.push((next_fd, a));
            fds.push((next_fd + 1, b));
            next_fd += 2;
            let msg = format!("hello from task {k} over a unix socket\n").into_bytes();
            deferred.push(Deferred::Queues {
                sk: sa,
                peer: sb,
                data: Some(msg),
            });
            deferred.push(Deferred::Queues {
                sk: sb,
                peer: sa,
                data: None,
            });
            let l = write_inet_listener(e, cred, 8000 + k as u64)?;
            fds.push((next_fd, l));
            next_fd += 1;
        }
        if e.f.schema.enum_value("file", "EVENTFD", e.f.arch).is_some() {
            let tag = e.objref("FILE")?;
            let mut f = file_common(cred, "EVENTFD", e, 0x1f, 0o2000);
            f.push(("count", u(rng.below(10))));
            f.push(("flags", u(0o2000)));
            e.rec("FILE", f, &[], vec![])?;
            fds.push((next_fd, tag));
            let efd = next_fd;
            next_fd += 1;
            let tag = e.objref("FILE")?;
            let f = file_common(cred, "EPOLL", e, 0x1f, 0);
            e.rec("FILE", f, &[], vec![])?;
            fds.push((next_fd, tag));
            deferred.push(Deferred::Epoll {
                ep: tag,
                fd: efd,
                file: fds[fds.len() - 2].1,
            });
            next_fd += 1;
        }
        if !opts.omit.sockets {
            // A listening unix socket bound to a path, last so that the descriptors
            // before it keep their numbers whatever the revision has: an absolute path
            // in even tasks, one relative to the cwd (/srv/app) in odd ones.
            let l = if k.is_multiple_of(2) {
                write_unix_listener(e, cred, uid, &format!("/run/app{k}.sock"), None)?
            } else {
                write_unix_listener(e, cred, uid, &format!("app{k}.sock"), Some("/srv/app/"))?
            };
            fds.push((next_fd, l));
        }
    }
    e.rec(
        "FILE_TABLE",
        vec![("fdt_nfds", i(fds.len() as i64))],
        &[],
        vec![],
    )?;
    for (fd, tag) in &fds {
        e.rec(
            "FILE_DESC",
            vec![
                ("fd_objref", i(*tag)),
                ("fd_descriptor", i(*fd)),
                ("fd_close_on_exec", u((*fd > 2) as u64)),
            ],
            &[],
            vec![],
        )?;
    }
    for d in deferred {
        match d {
            Deferred::Queues { sk, peer, data } => {
                // Receive queue, then write queue.
                write_queue(e, sk, peer, data)?;
                write_queue(e, sk, peer, None)?;
            }
            Deferred::Epoll { ep, fd, file } => {
                if e.has("EPOLL_ITEMS") {
                    let item = e.element(
                        "ckpt_eventpoll_item",
                        &[
                            ("data", u(fd as u64)),
                            ("fd", u(fd as u64)),
                            ("file_objref", i(file)),
                            ("events", u(1)),
                        ],
                    )?;
                    e.rec(
                        "EPOLL_ITEMS",
                        vec![("epfile_objref", i(ep)), ("num_items", u(1))],
                        &[],
                        vec![Payload::Bytes(item)],
                    )?;
                }
            }
        }
    }
    Ok(table)
}

/// A socket queue with at most one buffer: its linear part, and from v19-rc2 one page
/// fragment (SOCKET_FRAG and its raw page).
pub(super) fn write_queue<W: Write>(
    e: &mut Emitter<'_, W>,
    sk: i64,
    peer: i64,
    data: Option<Vec<u8>>,
) -> Result<()> {
    let Some(data) = data else {
        return e.rec(
            "SOCKET_QUEUE",
            vec![("skb_count", u(0)), ("total_bytes", u(0))],
            &[],
            vec![],
        );
    };
    let frag = e.has("SOCKET_FRAG");
    let frag_len: u64 = if frag { 100 } else { 0 };
    let lin = data.len() as u64;
    e.rec(
        "SOCKET_QUEUE",
        vec![("skb_count", u(1)), ("total_bytes", u(lin + frag_len))],
        &[],
        vec![],
    )?;
    e.rec(
        "SOCKET_BUFFER",
        vec![
            ("lin_len", u(lin)),
            ("frg_len", u(frag_len)),
            ("skb_len", u(lin + frag_len)),
            ("data_offset", u(0)),
            ("sk_objref", i(sk)),
            ("pr_objref", i(peer)),
            ("nr_frags", u(frag as u64)),
        ],
        &[],
        vec![Payload::Bytes(data)],
    )?;
    if frag {
        let mut page = vec![0u8; PAGE_SIZE as usize];
        page[..frag_len as usize].fill(b'f');
        e.rec(
            "SOCKET_FRAG",
            vec![("size", u(frag_len)), ("offset", u(0))],
            &[],
            vec![Payload::Bytes(page)],
        )?;
    }
    Ok(())
}

pub(super) enum Deferred {
    Queues {
        sk: i64,
        peer: i64,
        data: Option<Vec<u8>>,
    },
    Epoll {
        ep: i64,
        fd: i64,
        file: i64,
    },
}

/// The terminal's file object; returns its tag and the slave tty's (the controlling
/// terminal of the session).
pub(super) fn write_tty_file<W: Write>(e: &mut Emitter<'_, W>, cred: i64) -> Result<(i64, i64)> {
    let file = e.objref("FILE")?;
    // The pty master is written before the slave; a hung-up tty has no ldisc record.
    let master = e.objref("TTY")?;
    let slave_tag = master + 1;
    let tty = |driver_sub: u64, link: i64, idx: u64| -> Fields {
        vec![
            ("driver_type", u(4)),
            ("driver_subtype", u(driver_sub)),
            ("link_objref", i(link)),
            ("file_objref", i(0)),
            ("index", u(idx)),
            ("ldisc", u(0)),
            ("flags", u(0)),
            ("termios.c_iflag", u(0o2400)),
            ("termios.c_oflag", u(0o5)),
            ("termios.c_cflag", u(0o277)),
            ("termios.c_lflag", u(0o105073)),
            ("winsize.ws_row", u(24)),
            ("winsize.ws_col", u(80)),
        ]
    };
    e.rec("TTY", tty(1, slave_tag, 0), &[], vec![])?;
    // What the slave side printed, not yet read through the master: a prompt.
    write_ldisc(e, b"bash-4.1$ ")?;
    let slave = e.objref("TTY")?;
    debug_assert_eq!(slave, slave_tag);
    e.rec("TTY", tty(2, master, 0), &[], vec![])?;
    // Input typed on the terminal, a line not yet ended.
    write_ldisc(e, b"ls -l")?;
    let mut f = file_common(cred, "TTY", e, 0x1f, 0o2);
    f.push(("tty_objref", i(slave)));
    e.rec("FILE", f, &[], vec![])?;
    Ok((file, slave))
}

/// The n_tty line discipline of a tty that is not hung up: TTY_LDISC, and a BUFFER with
/// the `datalen` bytes of its read buffer (linearised from read_tail) if there are any
/// (`checkpoint_tty_ldisc`, v18 72/80; grammar-research.md §1c). The data is an unended
/// canonical line: no line is complete, so `canon_data`, `canon_datalen` and the
/// end-of-line bits of `read_flags` are all 0.
pub(super) fn write_ldisc<W: Write>(e: &mut Emitter<'_, W>, data: &[u8]) -> Result<()> {
    let payloads = if data.is_empty() {
        vec![]
    } else {
        vec![Payload::Bytes(data.to_vec())]
    };
    e.rec(
        "TTY_LDISC",
        vec![
            ("column", u(data.len() as u64)),
            ("datalen", u(data.len() as u64)),
            ("canon_column", u(0)),
            ("canon_datalen", u(0)),
            ("canon_data", u(0)),
            ("minimum_to_wake", u(1)),
            ("icanon", u(1)),
        ],
        &[],
        payloads,
    )
}

/// A connected unix socket pair (socketpair(2)): both ends' peer credentials are the
/// creator's, `uid` and its group.
pub(super) fn write_unix_pair<W: Write>(
    e: &mut Emitter<'_, W>,
    cred: i64,
    uid: u64,
) -> Result<(i64, i64, i64, i64)> {
    let sock = |state: u64| -> Fields {
        vec![
            ("has_buffers", u(1)),
            ("socket.flags", u(0)),
            ("socket.state", u(3)),
            ("sock_common.family", u(1)),
            ("sock_common.state", u(state)),
            ("sock.type", u(1)),
            ("sock.state", u(state)),
            ("sock.rcvbuf", i(212_992)),
            ("sock.sndbuf", i(212_992)),
            ("sock.rcvtimeo", i(i64::MAX)),
            ("sock.sndtimeo", i(i64::MAX)),
        ]
    };
    let unix = |this: i64, peer: i64| -> Fields {
        vec![
            ("this", i(this)),
            ("peer", i(peer)),
            ("peercred", i(cred)),
            ("peercred_uid", u(uid)),
            ("peercred_gid", u(gid_of(uid))),
            ("flags", u(0)),
            ("laddr_len", u(2)),
            ("raddr_len", u(2)),
            ("laddr.sun_family", u(1)),
            ("raddr.sun_family", u(1)),
        ]
    };
    let fa = e.objref("FILE")?;
    let sa = e.objref("SOCK")?;
    e.rec("SOCKET", sock(1), &[], vec![])?;
    // The peer is written inside this socket's object, before SOCKET_UNIX.
    let sb = e.objref("SOCK")?;
    e.rec("SOCKET", sock(1), &[], vec![])?;
    let creds = &[
        ("peercred_uid", PlaceKind::Uid),
        ("peercred_gid", PlaceKind::Gid),
    ];
    for (this, peer) in [(sb, sa), (sa, sb)] {
        let f = unix(this, peer);
        e.placed_fields("SOCKET_UNIX", &f, creds);
        e.rec("SOCKET_UNIX", f, &[], vec![])?;
    }
    let mut f = file_common(cred, "SOCKET", e, 0x1f, 0o2);
    f.push(("sock_objref", i(sa)));
    e.rec("FILE", f, &[], vec![])?;
    let fb = e.objref("FILE")?;
    let mut f = file_common(cred, "SOCKET", e, 0x1f, 0o2);
    f.push(("sock_objref", i(sb)));
    e.rec("FILE", f, &[], vec![])?;
    Ok((fa, fb, sa, sb))
}

/// A listening SOCK_STREAM unix socket bound to `path` (grammar-research.md §1a,
/// `unix_checkpoint`): OBJREF SOCK, SOCKET {sk_state TCP_LISTEN}, SOCKET_UNIX {this,
/// peer 0, laddr = path, laddr_len = sizeof(sa_family_t) + strlen + 1 as unix_mkname
/// counts it, CKPT_UNIX_LINKED: the socket file exists}, then, for a relative path only
/// (`unix_need_cwd`), a STRING with the directory it was bound in, `dir`: the bound
/// file's path minus `path`, its slash kept, NUL-terminated (`unix_write_cwd`); then the
/// FILE. A listener defers no queues and has no buffers; listen(2) set its peer
/// credentials to the task's.
pub(super) fn write_unix_listener<W: Write>(
    e: &mut Emitter<'_, W>,
    cred: i64,
    uid: u64,
    path: &str,
    dir: Option<&str>,
) -> Result<i64> {
    let file = e.objref("FILE")?;
    let s = e.objref("SOCK")?;
    e.rec(
        "SOCKET",
        vec![
            ("has_buffers", u(0)),
            ("socket.flags", u(0)),
            ("socket.state", u(1)),
            ("sock_common.family", u(1)),
            ("sock_common.state", u(10)),
            ("sock.type", u(1)),
            ("sock.state", u(10)),
            ("sock.backlog", i(128)),
            ("sock.rcvbuf", i(212_992)),
            ("sock.sndbuf", i(212_992)),
            ("sock.rcvtimeo", i(i64::MAX)),
            ("sock.sndtimeo", i(i64::MAX)),
        ],
        &[],
        vec![],
    )?;
    let f = vec![
        ("this", i(s)),
        ("peer", i(0)),
        ("peercred", i(cred)),
        ("peercred_uid", u(uid)),
        ("peercred_gid", u(gid_of(uid))),
        ("flags", u(1)),
        ("laddr_len", u(2 + path.len() as u64 + 1)),
        ("raddr_len", u(0)),
        ("laddr.sun_family", u(1)),
        ("laddr.sun_path", Value::Text(path.into())),
    ];
    e.placed_fields(
        "SOCKET_UNIX",
        &f,
        &[
            ("peercred_uid", PlaceKind::Uid),
            ("peercred_gid", PlaceKind::Gid),
        ],
    );
    e.placed(
        0,
        PlaceKind::Path,
        "laddr.sun_path",
        PlaceValue::Text(path.into()),
    );
    e.rec("SOCKET_UNIX", f, &[], vec![])?;
    if let Some(dir) = dir {
        debug_assert!(!path.starts_with('/'));
        e.placed(0, PlaceKind::Path, "text", PlaceValue::Text(dir.into()));
        let string = e.f.record_type("STRING").unwrap();
        e.w.write_record(string, &file_name(dir))?;
    }
    let mut f = file_common(cred, "SOCKET", e, 0x1f, 0o2);
    f.push(("sock_objref", i(s)));
    e.rec("FILE", f, &[], vec![])?;
    Ok(file)
}

pub(super) fn write_inet_listener<W: Write>(
    e: &mut Emitter<'_, W>,
    cred: i64,
    port: u64,
) -> Result<i64> {
    let file = e.objref("FILE")?;
    let s = e.objref("SOCK")?;
    e.rec(
        "SOCKET",
        vec![
            ("socket.state", u(1)),
            ("sock_common.family", u(2)),
            ("sock_common.state", u(10)),
            ("sock.type", u(1)),
            ("sock.state", u(10)),
            ("sock.backlog", i(128)),
            ("sock.rcvbuf", i(87380)),
            ("sock.sndbuf", i(16384)),
        ],
        &[],
        vec![],
    )?;
    // sport and sin_port are in network order (__be16): their bytes are big-endian
    // whatever the arch.
    let network = match e.f.arch.endian() {
        crate::Endian::Little => (port as u16).swap_bytes() as u64,
        crate::Endian::Big => port,
    };
    e.rec(
        "SOCKET_INET",
        vec![
            ("num", u(port)),
            ("sport", u(network)),
            ("laddr_len", u(16)),
            ("laddr.sin_family", u(2)),
            ("laddr.sin_port", u(network)),
        ],
        &[],
        vec![],
    )?;
    let mut f = file_common(cred, "SOCKET", e, 0x1f, 0o2);
    f.push(("sock_objref", i(s)));
    e.rec("FILE", f, &[], vec![])?;
    Ok(file)
}
