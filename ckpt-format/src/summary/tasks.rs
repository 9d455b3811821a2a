//! Per-task summaries (`ckpt info --tasks`): pids at every level the revision records,
//! comm, state and signals by name, thread group, credentials, open files with what they
//! are (sockets with addresses, pipes with their buffers, ttys by name, eventfd counts,
//! epoll items), memory areas as `/proc/PID/maps` shows them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::names;
use super::tree::TaskIds;
use crate::model::{Fields, ImageModel, ObjectModel, TaskModel, VmaModel, field_int};
use crate::value::Value;
use crate::{Arch, Format};

/// A task, summarised.
#[derive(Debug, Clone, Serialize)]
pub struct TaskSummary {
    /// Its position and pids in the image's root pid namespace.
    #[serde(flatten)]
    pub ids: TaskIds,
    /// The pid in nested pid namespaces, outermost first.
    pub nested_pids: Vec<i64>,
    /// The pid at every namespace level: level 0 is the image's root pid namespace.
    pub pid_levels: Vec<PidLevel>,
    /// `comm`.
    pub comm: String,
    /// `state` as recorded.
    pub state: i64,
    /// `state` by name (`TASK_INTERRUPTIBLE`).
    pub state_name: String,
    /// `exit_state` as recorded.
    pub exit_state: i64,
    /// `exit_state` by name (`EXIT_ZOMBIE`), when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_state_name: Option<String>,
    /// The signal its parent gets when it exits (`SIGCHLD`), when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_signal: Option<String>,
    /// True for a zombie.
    pub zombie: bool,
    /// True for a 32-bit task of a 64-bit kernel (x86_64, TIF_IA32 in THREAD).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub compat_32bit: bool,
    /// Tasks of its thread group, itself included.
    pub threads: usize,
    /// The pids of the other tasks of its thread group, in tree order.
    pub thread_pids: Vec<i64>,
    /// Tags of the tables it uses (`files`, `mm`, `fs`, `sighand`, `signal`, `cred`,
    /// `ns`, ...), by kind: tasks with the same tag share the table.
    pub tables: BTreeMap<String, i64>,
    /// Credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creds: Option<Creds>,
    /// Blocked and pending signals, by name.
    pub signals: Signals,
    /// Open files, by descriptor.
    pub files: Vec<OpenFile>,
    /// Its address space.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
}

/// The pid of a task at one pid namespace level.
#[derive(Debug, Clone, Serialize)]
pub struct PidLevel {
    /// 0 for the image's root pid namespace, 1 for the namespace nested in it, ...
    pub level: usize,
    /// The pid there.
    pub pid: i64,
}

/// Credentials of a task.
#[derive(Debug, Clone, Serialize)]
pub struct Creds {
    /// Real user id.
    pub uid: i64,
    /// Effective user id.
    pub euid: i64,
    /// Saved user id.
    pub suid: i64,
    /// File-system user id.
    pub fsuid: i64,
    /// Real group id.
    pub gid: i64,
    /// Effective group id.
    pub egid: i64,
    /// Saved group id.
    pub sgid: i64,
    /// File-system group id.
    pub fsgid: i64,
}

/// Signals of a task, by name.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Signals {
    /// Blocked signals (`SIGNAL_TASK`).
    pub blocked: Vec<String>,
    /// Signals pending for the task alone.
    pub pending: Vec<PendingSignal>,
    /// Signals pending for its thread group (recorded with the group's first task).
    pub shared_pending: Vec<PendingSignal>,
}

/// A pending signal.
#[derive(Debug, Clone, Serialize)]
pub struct PendingSignal {
    /// Its name (`SIGUSR1`).
    pub signal: String,
    /// The pid that sent it, from its siginfo (0: the kernel, or not recorded).
    pub from_pid: i64,
}

/// An open file descriptor and what its file is.
#[derive(Debug, Clone, Serialize)]
pub struct OpenFile {
    /// The descriptor.
    pub fd: i64,
    /// The file type (`GENERIC`, `PIPE`, `SOCKET`, ...; the schema's `file` enum).
    pub r#type: String,
    /// Its path, for files that have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Close-on-exec flag.
    pub close_on_exec: bool,
    /// Tag of the file object (shared when several descriptors or tasks hold it).
    pub objref: i64,
    /// What the file is, in words: `AF_INET/SOCK_STREAM LISTEN 0.0.0.0:8080`, `pipe 19
    /// read end, 22 bytes buffered`, `pts/0`, `count 1`, `1 item: fd 10 (EPOLLIN)`.
    pub what: String,
    /// For a socket: family, type, state and addresses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket: Option<SocketSummary>,
    /// For a pipe or fifo: the tag of its pipe and the bytes buffered in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipe: Option<PipeSummary>,
    /// For a tty: its name (`pts/0`, `ptmx` for a pty master).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tty: Option<String>,
    /// For an eventfd: its counter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eventfd_count: Option<u64>,
    /// For an epoll file: the items it watches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoll_items: Option<Vec<EpollItem>>,
}

/// A socket.
#[derive(Debug, Clone, Serialize)]
pub struct SocketSummary {
    /// `AF_UNIX`, `AF_INET`, ...
    pub family: String,
    /// `SOCK_STREAM`, ...
    pub r#type: String,
    /// `sk_state`: `ESTABLISHED`, `LISTEN`, ...
    pub state: String,
    /// Local address (`0.0.0.0:8080`, a unix path, `@name` for the abstract namespace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<String>,
    /// Remote address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// For a unix socket: the tag of its peer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<i64>,
}

/// A pipe end.
#[derive(Debug, Clone, Serialize)]
pub struct PipeSummary {
    /// Tag of the pipe (both ends share it).
    pub pipe: i64,
    /// `read`, `write` or `read/write`.
    pub end: String,
    /// Bytes buffered in the pipe (its `PIPE_BUF`).
    pub buffered: u64,
}

/// An item an epoll file watches.
#[derive(Debug, Clone, Serialize)]
pub struct EpollItem {
    /// The watched descriptor.
    pub fd: i64,
    /// Tag of the watched file.
    pub file_objref: i64,
    /// The events, by name (`EPOLLIN|EPOLLET`).
    pub events: String,
}

/// A memory area, as a line of `/proc/PID/maps`.
#[derive(Debug, Clone, Serialize)]
pub struct Vma {
    /// First address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// VMA type (`ANON`, `FILE`, ...; the schema's `vma` enum).
    pub r#type: String,
    /// Pages the image holds for it.
    pub pages: u64,
    /// Protection as `/proc/PID/maps` shows it (`r-xp`).
    pub perms: String,
    /// Offset in the file (`vm_pgoff` pages).
    pub offset: u64,
    /// The mapped file's path, or `[heap]`, `[stack]`, `[vdso]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// An address space.
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    /// Tag of the MM object (threads share it).
    pub objref: i64,
    /// Its areas.
    pub vmas: Vec<Vma>,
    /// Pages the image holds for it.
    pub pages: u64,
}

/// Summaries of every task of `m`, in tree order.
pub fn summarise(m: &ImageModel, f: &Format) -> Vec<TaskSummary> {
    let pipes = pipe_buffers(m);
    let nsig = field_int(&m.header, "constants.signal_nsig").unwrap_or(64) as u64;
    let ctx = Context {
        m,
        f,
        pipes: &pipes,
        nsig,
    };
    m.tasks.iter().map(|t| ctx.task(t)).collect()
}

/// Bytes buffered per pipe tag: the file that carries a PIPE_BUF names its pipe.
fn pipe_buffers(m: &ImageModel) -> BTreeMap<i64, u64> {
    m.objects
        .values()
        .filter_map(|o| Some((o.int("pipe_objref")? as i64, o.pipe_buffered?)))
        .collect()
}

struct Context<'a> {
    m: &'a ImageModel,
    f: &'a Format,
    pipes: &'a BTreeMap<i64, u64>,
    nsig: u64,
}

fn int(fields: &Fields, name: &str) -> i64 {
    field_int(fields, name).unwrap_or(0) as i64
}

fn text<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(p, _)| p == name)
        .and_then(|(_, v)| match v {
            Value::Text(t) => Some(t.as_str()),
            _ => None,
        })
}

fn bytes(fields: &Fields, name: &str) -> Vec<u8> {
    match fields.iter().find(|(p, _)| p == name) {
        Some((_, Value::List(items))) => items
            .iter()
            .map(|v| v.as_int().unwrap_or(0) as u8)
            .collect(),
        _ => Vec::new(),
    }
}

impl Context<'_> {
    fn arch(&self) -> Arch {
        self.f.arch
    }

    fn task(&self, t: &TaskModel) -> TaskSummary {
        let (m, arch) = (self.m, self.arch());
        let field = |name: &str| int(&t.fields, name);
        let creds = t.refs.get("cred_ref").and_then(|r| m.object(*r)).map(|c| {
            let g = |n: &str| c.int(n).unwrap_or(0) as i64;
            Creds {
                uid: g("uid"),
                euid: g("euid"),
                suid: g("suid"),
                fsuid: g("fsuid"),
                gid: g("gid"),
                egid: g("egid"),
                sgid: g("sgid"),
                fsgid: g("fsgid"),
            }
        });
        let files = t
            .refs
            .get("files_objref")
            .and_then(|r| m.object(*r))
            .map(|table| table.fds.iter().map(|fd| self.file(fd)).collect())
            .unwrap_or_default();
        let memory = t
            .refs
            .get("mm_objref")
            .and_then(|r| m.object(*r))
            .map(|mm| self.memory(mm));
        // `exit_signal` is -1 for a thread (a __u32 in some revisions).
        let exit_signal = field("exit_signal") as u32 as i32;
        let mut pid_levels = vec![PidLevel {
            level: 0,
            pid: t.pid,
        }];
        pid_levels.extend(t.nested.iter().enumerate().map(|(k, p)| PidLevel {
            level: k + 1,
            pid: *p,
        }));
        let tables = t
            .refs
            .iter()
            .map(|(k, v)| {
                let kind = k.trim_end_matches("_objref").trim_end_matches("_ref");
                (kind.to_string(), *v)
            })
            .collect();
        TaskSummary {
            ids: TaskIds {
                index: t.index,
                pid: t.pid,
                ppid: t.ppid,
                tgid: t.tgid,
                pgid: t.pgid,
                sid: t.sid,
            },
            nested_pids: t.nested.clone(),
            pid_levels,
            comm: t.comm.clone(),
            state: field("state"),
            state_name: names::task_state(field("state") as u64),
            exit_state: field("exit_state"),
            exit_state_name: names::exit_state(field("exit_state") as u64),
            exit_signal: (exit_signal > 0)
                .then(|| names::signal_or_number(arch, exit_signal as u64, self.nsig)),
            zombie: t.zombie,
            compat_32bit: arch == Arch::X86_64
                && int(&t.thread, "thread_info_flags") & (1 << names::X86_TIF_IA32) != 0,
            threads: m.threads(t),
            thread_pids: m
                .tasks
                .iter()
                .filter(|x| x.tgid == t.tgid && x.index != t.index)
                .map(|x| x.pid)
                .collect(),
            tables,
            creds,
            signals: self.signals(t),
            files,
            memory,
        }
    }

    fn signals(&self, t: &TaskModel) -> Signals {
        let arch = self.arch();
        let name = |n: u64| names::signal_or_number(arch, n, self.nsig);
        let mut s = Signals::default();
        let mut seen_signal = false;
        for (record, fields) in &t.signals {
            match record.as_str() {
                "SIGNAL" => seen_signal = true,
                "SIGNAL_TASK" => {
                    s.blocked = names::sigset_members(arch, &bytes(fields, "blocked.sigset"))
                        .into_iter()
                        .map(name)
                        .collect()
                }
                "SIGPENDING" => {
                    let n = int(fields, "nr_pending").max(0) as usize;
                    let mut list = Vec::new();
                    for k in 0..n {
                        let at = |m: &str| {
                            field_int(fields, &format!("tail[{k}].csi_{m}"))
                                .or_else(|| field_int(fields, &format!("tail[{k}].{m}")))
                        };
                        if let Some(sig) = at("signo") {
                            list.push(PendingSignal {
                                signal: name(sig as u64),
                                from_pid: at("pid").unwrap_or(0) as i64,
                            });
                        }
                    }
                    // Signals in the set without a siginfo (none recorded for them).
                    for sig in names::sigset_members(arch, &bytes(fields, "signal.sigset")) {
                        let n = name(sig);
                        if !list.iter().any(|p| p.signal == n) {
                            list.push(PendingSignal {
                                signal: n,
                                from_pid: 0,
                            });
                        }
                    }
                    // The shared queue follows SIGNAL; the private one comes after it.
                    if seen_signal && s.shared_pending.is_empty() {
                        s.shared_pending = list;
                        seen_signal = false;
                    } else {
                        s.pending = list;
                    }
                }
                _ => {}
            }
        }
        s
    }

    fn file(&self, fd: &crate::model::FdModel) -> OpenFile {
        let (m, f) = (self.m, self.f);
        let file = m.object(fd.file);
        let fields = file.map(|o| &o.fields);
        let get =
            |n: &str| fields.and_then(|x| field_int(x, n).or(field_int(x, &format!("common.{n}"))));
        let ty = get("f_type")
            .and_then(|v| f.schema.enum_name("file", v as i64, f.arch))
            .unwrap_or("?")
            .to_string();
        let mut out = OpenFile {
            fd: fd.fd,
            r#type: ty.clone(),
            path: file.and_then(|o| o.path()).map(str::to_string),
            close_on_exec: fd.close_on_exec,
            objref: fd.file,
            what: String::new(),
            socket: None,
            pipe: None,
            tty: None,
            eventfd_count: None,
            epoll_items: None,
        };
        let Some(o) = file else {
            out.what = format!("file object {} not in the image", fd.file);
            return out;
        };
        match ty.as_str() {
            "SOCKET" => {
                if let Some(s) = get("sock_objref").and_then(|t| m.object(t as i64)) {
                    out.socket = Some(self.socket(s));
                }
            }
            "PIPE" | "FIFO" => {
                if let Some(p) = get("pipe_objref") {
                    let mode = get("f_mode").unwrap_or(0);
                    let end = match (mode & 1 != 0, mode & 2 != 0) {
                        (true, false) => "read",
                        (false, true) => "write",
                        _ => "read/write",
                    };
                    out.pipe = Some(PipeSummary {
                        pipe: p as i64,
                        end: end.to_string(),
                        buffered: self.pipes.get(&(p as i64)).copied().unwrap_or(0),
                    });
                }
            }
            "TTY" => {
                out.tty = get("tty_objref")
                    .and_then(|t| m.object(t as i64))
                    .map(tty_name);
            }
            "EVENTFD" => out.eventfd_count = get("count").map(|c| c as u64),
            "EPOLL" => out.epoll_items = Some(epoll_items(o)),
            _ => {}
        }
        out.what = describe(&out);
        out
    }

    fn socket(&self, s: &ObjectModel) -> SocketSummary {
        let arch = self.arch();
        let family = s.int("sock_common.family").unwrap_or(0) as u64;
        let mut out = SocketSummary {
            family: names::address_family(family),
            r#type: names::socket_type(arch, s.int("sock.type").unwrap_or(0) as u64),
            state: names::sock_state(s.int("sock.state").unwrap_or(0) as u64),
            local: None,
            remote: None,
            peer: None,
        };
        if let Some(u) = s.part("SOCKET_UNIX") {
            let addr = |side: &str| -> Option<String> {
                let len = int(u, &format!("{side}addr_len"));
                // sun_family alone (2 bytes): unnamed.
                if len <= 2 {
                    return None;
                }
                let path = text(u, &format!("{side}addr.sun_path")).unwrap_or("");
                Some(if path.is_empty() {
                    "@ (abstract)".to_string()
                } else {
                    path.to_string()
                })
            };
            out.local = addr("l");
            out.remote = addr("r");
            out.peer = Some(int(u, "peer")).filter(|p| *p > 0);
        }
        if let Some(i) = s.part("SOCKET_INET") {
            let e = arch.endian();
            let ip = |v: i64| -> String {
                let b = match e {
                    crate::Endian::Little => (v as u32).to_le_bytes(),
                    crate::Endian::Big => (v as u32).to_be_bytes(),
                };
                std::net::Ipv4Addr::from(b).to_string()
            };
            let port = |v: i64| -> u16 {
                match e {
                    crate::Endian::Little => (v as u16).swap_bytes(),
                    crate::Endian::Big => v as u16,
                }
            };
            let has = |n: &str| i.iter().any(|(p, _)| p == n);
            if has("num") {
                // inet_sock: rcv_saddr and sport in network order, num in host order.
                out.local = Some(format!("{}:{}", ip(int(i, "rcv_saddr")), int(i, "num")));
                if int(i, "daddr") != 0 || int(i, "dport") != 0 {
                    out.remote = Some(format!("{}:{}", ip(int(i, "daddr")), port(int(i, "dport"))));
                }
            } else {
                let addr = |side: &str| -> Option<String> {
                    (int(i, &format!("{side}addr_len")) > 0).then(|| {
                        format!(
                            "{}:{}",
                            ip(int(i, &format!("{side}addr.sin_addr.s_addr"))),
                            port(int(i, &format!("{side}addr.sin_port")))
                        )
                    })
                };
                out.local = addr("l");
                out.remote = addr("r");
            }
        }
        out
    }

    fn memory(&self, mm: &ObjectModel) -> Memory {
        let vmas: Vec<Vma> = mm
            .vmas
            .iter()
            .map(|v| vma_summary(self.m, self.f, mm, v))
            .collect();
        Memory {
            objref: mm.tag,
            pages: vmas.iter().map(|v| v.pages).sum(),
            vmas,
        }
    }
}

/// One VMA of the address space `mm` of `m`, as a line of `/proc/PID/maps` names it: the
/// mapped file's path, or `[heap]`, `[stack]`, `[vdso]` from the MM's brk and stack.
pub fn vma_summary(m: &ImageModel, f: &Format, mm: &ObjectModel, v: &VmaModel) -> Vma {
    let g = |n: &str| mm.int(n).unwrap_or(0) as u64;
    let (start_brk, brk, stack) = (g("start_brk"), g("brk"), g("start_stack"));
    let ty = field_int(&v.fields, "vma_type")
        .and_then(|x| f.schema.enum_name("vma", x as i64, f.arch))
        .unwrap_or("?");
    let file = Some(int(&v.fields, "vma_objref"))
        .filter(|t| *t > 0)
        .and_then(|t| m.object(t))
        .and_then(|o| o.path());
    let path = match (file, ty) {
        (Some(p), _) => Some(p.to_string()),
        (None, "VDSO") => Some("[vdso]".to_string()),
        (None, "ANON") if v.start <= brk && v.end >= start_brk && brk > 0 => {
            Some("[heap]".to_string())
        }
        (None, "ANON") if v.start <= stack && stack < v.end => Some("[stack]".to_string()),
        _ => None,
    };
    Vma {
        start: v.start,
        end: v.end,
        r#type: ty.to_string(),
        pages: v.pages,
        perms: names::vma_perms(field_int(&v.fields, "vm_flags").unwrap_or(0) as u64),
        offset: (field_int(&v.fields, "vm_pgoff").unwrap_or(0) as u64)
            .wrapping_mul(crate::limits::PAGE_SIZE as u64),
        path,
    }
}

impl std::fmt::Display for Vma {
    /// `400000-404000 r-xp 00000000 /usr/bin/task0`, as `/proc/PID/maps`; an area with
    /// no file or name shows its type (`[anon]`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:x}-{:x} {} {:08x} ",
            self.start, self.end, self.perms, self.offset
        )?;
        match &self.path {
            Some(p) => f.write_str(p),
            None => write!(f, "[{}]", self.r#type.to_ascii_lowercase()),
        }
    }
}

/// A tty's name: `pts/N` for a pty slave, `ptmx` (the master of `pts/N`), else the
/// driver type and index.
fn tty_name(t: &ObjectModel) -> String {
    let g = |n: &str| t.int(n).unwrap_or(0) as u64;
    let index = g("index");
    match (g("driver_type"), g("driver_subtype")) {
        (names::TTY_DRIVER_TYPE_PTY, names::PTY_TYPE_SLAVE) => format!("pts/{index}"),
        (names::TTY_DRIVER_TYPE_PTY, names::PTY_TYPE_MASTER) => {
            format!("ptmx (master of pts/{index})")
        }
        (ty, sub) => format!("{} {index} (subtype {sub})", names::tty_driver_type(ty)),
    }
}

fn epoll_items(o: &ObjectModel) -> Vec<EpollItem> {
    let Some(p) = o.part("EPOLL_ITEMS") else {
        return Vec::new();
    };
    (0..int(p, "num_items").max(0) as usize)
        .map_while(|k| {
            let at = |n: &str| field_int(p, &format!("items[{k}].{n}"));
            Some(EpollItem {
                fd: at("fd")? as i64,
                file_objref: at("file_objref").unwrap_or(0) as i64,
                events: names::flags(at("events").unwrap_or(0) as u64, names::EPOLL_EVENTS),
            })
        })
        .collect()
}

/// What an open file is, in words.
fn describe(f: &OpenFile) -> String {
    if let Some(s) = &f.socket {
        let mut w = format!("{}/{} {}", s.family, s.r#type, s.state);
        if let Some(l) = &s.local {
            w += &format!(" {l}");
        }
        if let Some(r) = &s.remote {
            w += &format!(" -> {r}");
        }
        if let Some(p) = s.peer {
            w += &format!(" (peer socket {p})");
        }
        return w;
    }
    if let Some(p) = &f.pipe {
        let contents = match p.buffered {
            0 => "empty".to_string(),
            1 => "1 byte buffered".to_string(),
            n => format!("{n} bytes buffered"),
        };
        return match &f.path {
            Some(path) => format!("{path} (fifo {}, {} end, {contents})", p.pipe, p.end),
            None => format!("pipe {} {} end, {contents}", p.pipe, p.end),
        };
    }
    if let Some(t) = &f.tty {
        return t.clone();
    }
    if let Some(c) = f.eventfd_count {
        return format!("count {c}");
    }
    if let Some(items) = &f.epoll_items {
        let list: Vec<String> = items
            .iter()
            .map(|i| format!("fd {} ({})", i.fd, i.events))
            .collect();
        return format!(
            "{} item{}{}{}",
            items.len(),
            if items.len() == 1 { "" } else { "s" },
            if items.is_empty() { "" } else { ": " },
            list.join(", ")
        );
    }
    f.path.clone().unwrap_or_else(|| "-".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{BuildOptions, build};
    use crate::model::read_model;
    use crate::{Reader, Registry};

    fn summaries(rev: &str, arch: Arch) -> Vec<TaskSummary> {
        let s = Registry::get().find(rev).unwrap();
        let f = Format::new(s, arch);
        let mut img = Vec::new();
        let o = BuildOptions {
            tasks: 4,
            memory: 16384,
            seed: 3,
            ..BuildOptions::default()
        };
        build(&f, &o, &mut img).unwrap();
        let m = read_model(Reader::new(&img[..], Format::new(s, arch)), false).unwrap();
        summarise(&m, &f)
    }

    #[test]
    fn files_say_what_they_are_on_both_byte_orders() {
        for (rev, arch) in [
            ("5c3471a", Arch::X86_64),
            ("5c3471a", Arch::S390x),
            ("0abe2fe", Arch::Ppc64),
        ] {
            let tasks = summaries(rev, arch);
            let files: Vec<&OpenFile> = tasks.iter().flat_map(|t| &t.files).collect();
            let of = |ty: &'static str| files.iter().filter(move |f| f.r#type == ty);
            let inet = of("SOCKET")
                .filter_map(|f| f.socket.as_ref())
                .find(|s| s.family == "AF_INET")
                .unwrap();
            assert_eq!(inet.state, "LISTEN", "{rev} {arch}");
            assert_eq!(inet.local.as_deref(), Some("0.0.0.0:8000"), "{rev} {arch}");
            let unix: Vec<&SocketSummary> = of("SOCKET")
                .filter_map(|f| f.socket.as_ref())
                .filter(|s| s.family == "AF_UNIX")
                .collect();
            let (pair, listeners): (Vec<&SocketSummary>, Vec<&SocketSummary>) =
                unix.iter().partition(|s| s.state == "ESTABLISHED");
            assert!(!pair.is_empty() && pair.iter().all(|s| s.peer.is_some()));
            assert!(!listeners.is_empty(), "{rev} {arch}");
            for l in listeners {
                assert_eq!(l.state, "LISTEN", "{rev} {arch}");
                assert!(l.peer.is_none() && l.remote.is_none());
                let local = l.local.as_deref().unwrap_or("");
                assert!(
                    local.starts_with("/run/app") || local.starts_with("app"),
                    "{rev} {arch}: {local}"
                );
                assert!(local.ends_with(".sock"), "{rev} {arch}: {local}");
            }
            // Both ends of the task's pipe see the bytes buffered in it.
            let pipe: Vec<&PipeSummary> = of("PIPE").filter_map(|f| f.pipe.as_ref()).collect();
            assert!(pipe.iter().any(|p| p.end == "read" && p.buffered > 0));
            assert!(pipe.iter().any(|p| p.end == "write" && p.buffered > 0));
            assert!(of("TTY").all(|f| f.tty.as_deref() == Some("pts/0")));
            if rev == "5c3471a" {
                assert!(of("EVENTFD").all(|f| f.eventfd_count.is_some()));
                let items = of("EPOLL").find_map(|f| f.epoll_items.clone()).unwrap();
                assert_eq!(items[0].events, "EPOLLIN", "{rev} {arch}");
            }
            let t = &tasks[0];
            assert_eq!(t.state_name, "TASK_INTERRUPTIBLE");
            assert_eq!(t.exit_signal.as_deref(), Some("SIGCHLD"));
            assert_eq!(t.signals.blocked, vec!["SIGPIPE"], "{rev} {arch}");
            let mem = t.memory.as_ref().unwrap();
            assert!(
                mem.vmas
                    .iter()
                    .any(|v| v.perms == "r-xp" && v.path.is_some())
            );
        }
    }
}
