//! Names of the kernel's numbers that the checkpoint headers do not define: task state
//! bits, signals, socket families, types and states, VMA flags.
//!
//! The values are those of the Linux 2.6.3x headers the linux-cr series ran on (2.6.27
//! to 2.6.38, and 3.0 for samsung-3.0; none of these values changed across them):
//! `include/linux/sched.h` (task states), `arch/*/include/asm/signal.h` (signal numbers),
//! `include/linux/socket.h` (address families), `include/linux/net.h` (socket types and
//! `socket_state`), `include/net/tcp_states.h` (the `sk_state` of inet and unix sockets),
//! `include/linux/mm.h` (`VM_READ` ...). Numbers the schemas define as enums (file, VMA,
//! object types) are named from the schemas instead.
//!
//! Signal numbers and socket types differ between architectures in Linux (alpha, mips,
//! parisc and sparc number them their own way); the tables are therefore chosen per
//! [`Arch`]. Every architecture the project supports (x86_32, x86_64, s390x, arm, ppc,
//! ppc64) uses the common numbering, as their `asm/signal.h` and `linux/net.h` show.

use crate::Arch;

/// TIF_IA32, the bit of an x86 task's thread_info flags that marks a 32-bit task of a
/// 64-bit kernel (arch/x86/include/asm/thread_info.h, bit 17 in 2.6.31 .. 3.0, one
/// header for both x86 kernels; schemas/x86-32-on-64.md §1).
pub const X86_TIF_IA32: u32 = 17;

/// Task state bits (`include/linux/sched.h`, 2.6.32 to 3.0), lowest first.
pub const TASK_STATE_BITS: &[(u64, &str)] = &[
    (0x1, "TASK_INTERRUPTIBLE"),
    (0x2, "TASK_UNINTERRUPTIBLE"),
    (0x4, "__TASK_STOPPED"),
    (0x8, "__TASK_TRACED"),
    (0x10, "EXIT_ZOMBIE"),
    (0x20, "EXIT_DEAD"),
    (0x40, "TASK_DEAD"),
    (0x80, "TASK_WAKEKILL"),
    (0x100, "TASK_WAKING"),
];

/// Combinations `include/linux/sched.h` names, tried before the single bits.
const TASK_STATE_COMBINATIONS: &[(u64, &str)] = &[
    (0x82, "TASK_KILLABLE"),
    (0x84, "TASK_STOPPED"),
    (0x88, "TASK_TRACED"),
];

/// The name of a task's `state` (`TASK_RUNNING` for 0; bits joined with `|`; unknown
/// bits in hex).
pub fn task_state(state: u64) -> String {
    if state == 0 {
        return "TASK_RUNNING".to_string();
    }
    if let Some((_, n)) = TASK_STATE_COMBINATIONS.iter().find(|(v, _)| *v == state) {
        return n.to_string();
    }
    flags(state, TASK_STATE_BITS)
}

/// The name of a task's `exit_state` (`EXIT_ZOMBIE`, `EXIT_DEAD`; 0 is none).
pub fn exit_state(state: u64) -> Option<String> {
    (state != 0).then(|| flags(state, TASK_STATE_BITS))
}

/// Bits of `value` named by `table`, joined with `|`; what no entry names in hex.
pub fn flags(value: u64, table: &[(u64, &str)]) -> String {
    let mut names = Vec::new();
    let mut rest = value;
    for &(bit, name) in table {
        if value & bit == bit && bit != 0 {
            names.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        names.push(format!("{rest:#x}"));
    }
    names.join("|")
}

/// Signal names 1..=31 of the common numbering (`arch/{x86,s390,arm,powerpc}/include/
/// asm/signal.h`): index 0 is signal 1. `SIGIOT` = `SIGABRT` and `SIGPOLL` = `SIGIO`
/// are given by their first names.
const COMMON_SIGNALS: [&str; 31] = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// The numbered signals of `arch` (index 0 is signal 1) and its first real-time signal.
fn signal_table(arch: Arch) -> (&'static [&'static str], u64) {
    match arch {
        Arch::X86_32 | Arch::X86_64 | Arch::S390x | Arch::Arm | Arch::Ppc | Arch::Ppc64 => {
            (&COMMON_SIGNALS, 32)
        }
    }
}

/// The name of signal `n` on `arch` (`SIGUSR1`; `SIGRTMIN+3` for real-time signals up to
/// `nsig`, the image's `_NSIG`); `None` for 0 and numbers beyond `nsig`.
pub fn signal(arch: Arch, n: u64, nsig: u64) -> Option<String> {
    let (table, rtmin) = signal_table(arch);
    match n {
        0 => None,
        n if n <= table.len() as u64 => Some(table[n as usize - 1].to_string()),
        n if n == rtmin => Some("SIGRTMIN".to_string()),
        n if n > rtmin && n <= nsig => Some(format!("SIGRTMIN+{}", n - rtmin)),
        _ => None,
    }
}

/// The name of signal `n`, or the number itself when it has none.
pub fn signal_or_number(arch: Arch, n: u64, nsig: u64) -> String {
    signal(arch, n, nsig).unwrap_or_else(|| n.to_string())
}

/// The signals set in a `struct ckpt_sigset` (`sigset_t` as the kernel keeps it: an
/// array of `unsigned long` in the arch's byte order, bit `n - 1` for signal `n`).
pub fn sigset_members(arch: Arch, bytes: &[u8]) -> Vec<u64> {
    let word = arch.word_size() as usize;
    let mut out = Vec::new();
    for (k, chunk) in bytes.chunks(word).enumerate() {
        let w = crate::value::get_uint(chunk, arch.endian());
        for bit in 0..(8 * chunk.len()) {
            if w >> bit & 1 == 1 {
                out.push((k * 8 * word + bit + 1) as u64);
            }
        }
    }
    out
}

/// Address families (`include/linux/socket.h`, 2.6.37).
pub const ADDRESS_FAMILIES: &[(u64, &str)] = &[
    (0, "AF_UNSPEC"),
    (1, "AF_UNIX"),
    (2, "AF_INET"),
    (3, "AF_AX25"),
    (4, "AF_IPX"),
    (5, "AF_APPLETALK"),
    (6, "AF_NETROM"),
    (7, "AF_BRIDGE"),
    (8, "AF_ATMPVC"),
    (9, "AF_X25"),
    (10, "AF_INET6"),
    (11, "AF_ROSE"),
    (12, "AF_DECnet"),
    (13, "AF_NETBEUI"),
    (14, "AF_SECURITY"),
    (15, "AF_KEY"),
    (16, "AF_NETLINK"),
    (17, "AF_PACKET"),
    (18, "AF_ASH"),
    (19, "AF_ECONET"),
    (20, "AF_ATMSVC"),
    (21, "AF_RDS"),
    (22, "AF_SNA"),
    (23, "AF_IRDA"),
    (24, "AF_PPPOX"),
    (25, "AF_WANPIPE"),
    (26, "AF_LLC"),
    (29, "AF_CAN"),
    (30, "AF_TIPC"),
    (31, "AF_BLUETOOTH"),
    (32, "AF_IUCV"),
    (33, "AF_RXRPC"),
    (34, "AF_ISDN"),
    (35, "AF_PHONET"),
    (36, "AF_IEEE802154"),
    (37, "AF_CAIF"),
];

/// Socket types of the common numbering (`include/linux/net.h`; mips has its own in
/// `arch/mips/include/asm/socket.h`).
const COMMON_SOCKET_TYPES: &[(u64, &str)] = &[
    (1, "SOCK_STREAM"),
    (2, "SOCK_DGRAM"),
    (3, "SOCK_RAW"),
    (4, "SOCK_RDM"),
    (5, "SOCK_SEQPACKET"),
    (6, "SOCK_DCCP"),
    (10, "SOCK_PACKET"),
];

/// `sk_state` of inet and unix sockets (`include/net/tcp_states.h`), as `ss` shows them.
pub const TCP_STATES: &[(u64, &str)] = &[
    (1, "ESTABLISHED"),
    (2, "SYN_SENT"),
    (3, "SYN_RECV"),
    (4, "FIN_WAIT1"),
    (5, "FIN_WAIT2"),
    (6, "TIME_WAIT"),
    (7, "CLOSE"),
    (8, "CLOSE_WAIT"),
    (9, "LAST_ACK"),
    (10, "LISTEN"),
    (11, "CLOSING"),
];

/// `socket_state` of a `struct socket` (`include/linux/net.h`).
pub const SOCKET_STATES: &[(u64, &str)] = &[
    (0, "SS_FREE"),
    (1, "SS_UNCONNECTED"),
    (2, "SS_CONNECTING"),
    (3, "SS_CONNECTED"),
    (4, "SS_DISCONNECTING"),
];

/// VMA flag bits `/proc/PID/maps` shows (`include/linux/mm.h`).
pub const VM_READ: u64 = 0x1;
/// `VM_WRITE`.
pub const VM_WRITE: u64 = 0x2;
/// `VM_EXEC`.
pub const VM_EXEC: u64 = 0x4;
/// `VM_SHARED`.
pub const VM_SHARED: u64 = 0x8;

/// `TTY_DRIVER_TYPE_PTY` (`include/linux/tty_driver.h`).
pub const TTY_DRIVER_TYPE_PTY: u64 = 0x4;
/// `PTY_TYPE_MASTER`, the subtype of a pty master.
pub const PTY_TYPE_MASTER: u64 = 0x1;
/// `PTY_TYPE_SLAVE`, the subtype of a pty slave.
pub const PTY_TYPE_SLAVE: u64 = 0x2;

/// tty driver types (`include/linux/tty_driver.h`).
pub const TTY_DRIVER_TYPES: &[(u64, &str)] = &[
    (0x1, "TTY_DRIVER_TYPE_SYSTEM"),
    (0x2, "TTY_DRIVER_TYPE_CONSOLE"),
    (0x3, "TTY_DRIVER_TYPE_SERIAL"),
    (0x4, "TTY_DRIVER_TYPE_PTY"),
    (0x5, "TTY_DRIVER_TYPE_SCC"),
    (0x6, "TTY_DRIVER_TYPE_SYSCONS"),
];

/// epoll event bits (`include/linux/eventpoll.h` and `poll.h`).
pub const EPOLL_EVENTS: &[(u64, &str)] = &[
    (0x1, "EPOLLIN"),
    (0x2, "EPOLLPRI"),
    (0x4, "EPOLLOUT"),
    (0x8, "EPOLLERR"),
    (0x10, "EPOLLHUP"),
    (0x40, "EPOLLRDNORM"),
    (0x80, "EPOLLRDBAND"),
    (0x100, "EPOLLWRNORM"),
    (0x200, "EPOLLWRBAND"),
    (0x400, "EPOLLMSG"),
    (0x2000, "EPOLLRDHUP"),
    (1 << 30, "EPOLLONESHOT"),
    (1 << 31, "EPOLLET"),
];

/// The name of a tty driver type, or `tty driver type <n>`.
pub fn tty_driver_type(n: u64) -> String {
    lookup(TTY_DRIVER_TYPES, n).map_or_else(|| format!("tty driver type {n}"), str::to_string)
}

fn lookup(table: &'static [(u64, &'static str)], v: u64) -> Option<&'static str> {
    table.iter().find(|(k, _)| *k == v).map(|(_, n)| *n)
}

/// The name of address family `n` (`AF_UNIX`), or `AF_<n>` when it has none.
pub fn address_family(n: u64) -> String {
    lookup(ADDRESS_FAMILIES, n).map_or_else(|| format!("AF_{n}"), str::to_string)
}

/// The name of socket type `n` on `arch` (`SOCK_STREAM`), or `SOCK_<n>`.
pub fn socket_type(arch: Arch, n: u64) -> String {
    let table = match arch {
        Arch::X86_32 | Arch::X86_64 | Arch::S390x | Arch::Arm | Arch::Ppc | Arch::Ppc64 => {
            COMMON_SOCKET_TYPES
        }
    };
    lookup(table, n).map_or_else(|| format!("SOCK_{n}"), str::to_string)
}

/// The name of an `sk_state` (`LISTEN`), or `state <n>`.
pub fn sock_state(n: u64) -> String {
    lookup(TCP_STATES, n).map_or_else(|| format!("state {n}"), str::to_string)
}

/// The name of a `socket_state` (`SS_CONNECTED`), or `SS_<n>`.
pub fn socket_state(n: u64) -> String {
    lookup(SOCKET_STATES, n).map_or_else(|| format!("SS_{n}"), str::to_string)
}

/// A VMA's protection as `/proc/PID/maps` shows it (`r-xp`, `rw-s`).
pub fn vma_perms(vm_flags: u64) -> String {
    let bit = |b: u64, c: char| if vm_flags & b != 0 { c } else { '-' };
    [
        bit(VM_READ, 'r'),
        bit(VM_WRITE, 'w'),
        bit(VM_EXEC, 'x'),
        if vm_flags & VM_SHARED != 0 { 's' } else { 'p' },
    ]
    .iter()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_states_are_named_as_sched_h_names_them() {
        assert_eq!(task_state(0), "TASK_RUNNING");
        assert_eq!(task_state(1), "TASK_INTERRUPTIBLE");
        assert_eq!(task_state(0x40), "TASK_DEAD");
        assert_eq!(task_state(0x82), "TASK_KILLABLE");
        assert_eq!(task_state(0x84), "TASK_STOPPED");
        assert_eq!(task_state(0x41), "TASK_INTERRUPTIBLE|TASK_DEAD");
        assert_eq!(task_state(0x1001), "TASK_INTERRUPTIBLE|0x1000");
        assert_eq!(exit_state(16).as_deref(), Some("EXIT_ZOMBIE"));
        assert_eq!(exit_state(0), None);
    }

    #[test]
    fn signals_are_named_on_every_supported_arch() {
        for arch in &Arch::ALL {
            assert_eq!(signal(*arch, 10, 64).as_deref(), Some("SIGUSR1"), "{arch}");
            assert_eq!(signal(*arch, 17, 64).as_deref(), Some("SIGCHLD"));
            assert_eq!(signal(*arch, 31, 64).as_deref(), Some("SIGSYS"));
            assert_eq!(signal(*arch, 32, 64).as_deref(), Some("SIGRTMIN"));
            assert_eq!(signal(*arch, 64, 64).as_deref(), Some("SIGRTMIN+32"));
            assert_eq!(signal(*arch, 65, 64), None);
            assert_eq!(signal(*arch, 0, 64), None);
        }
    }

    #[test]
    fn sigsets_are_read_as_arrays_of_longs_in_the_arch_byte_order() {
        // SIGUSR1 (bit 9) and SIGRTMIN+1 (bit 32).
        let bits: u64 = 1 << 9 | 1 << 32;
        let le = bits.to_le_bytes();
        assert_eq!(sigset_members(Arch::X86_64, &le), vec![10, 33]);
        assert_eq!(sigset_members(Arch::X86_32, &le), vec![10, 33]);
        assert_eq!(
            sigset_members(Arch::S390x, &bits.to_be_bytes()),
            vec![10, 33]
        );
        // 32-bit big-endian: two words, each big-endian, low word first.
        let mut ppc = (bits as u32).to_be_bytes().to_vec();
        ppc.extend(((bits >> 32) as u32).to_be_bytes());
        assert_eq!(sigset_members(Arch::Ppc, &ppc), vec![10, 33]);
    }

    #[test]
    fn sockets_and_vmas_are_named() {
        assert_eq!(address_family(1), "AF_UNIX");
        assert_eq!(address_family(10), "AF_INET6");
        assert_eq!(address_family(99), "AF_99");
        assert_eq!(socket_type(Arch::S390x, 1), "SOCK_STREAM");
        assert_eq!(socket_type(Arch::Arm, 2), "SOCK_DGRAM");
        assert_eq!(sock_state(10), "LISTEN");
        assert_eq!(sock_state(1), "ESTABLISHED");
        assert_eq!(socket_state(3), "SS_CONNECTED");
        assert_eq!(vma_perms(0x75), "r-xp");
        assert_eq!(vma_perms(0x73), "rw-p");
        assert_eq!(vma_perms(0xb), "rw-s");
        assert_eq!(vma_perms(0), "---p");
    }
}
