//! Which kernel options an image's records need, and what a kernel without one does with
//! them: one table for `check` and `convert`.
//!
//! The effects are from `kernel-side.md` §2 (reference notes), which cites the linux-cr
//! patch of each subsystem; a rule's confidence is that of its row there.

use std::collections::BTreeMap;

use ckpt_format::read::Decoded;
use ckpt_format::{Arch, Format, RecordInfo};

use crate::steps::Confidence;

/// What a kernel without the option does with the records that need it, and so what
/// `check` reports and `convert` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The restart fails: `check` reports a problem, `convert` refuses, naming the
    /// option and the record.
    Fails,
    /// The kernel silently ignores these members of the record (the state they hold is
    /// not restored): `check` warns; `convert` writes them as 0, a loss, so it needs
    /// `--allow-lossy`.
    Ignores(&'static [&'static str]),
    /// The kernel ignores the records and nothing a restart would keep is lost: `check`
    /// warns, `convert` carries them and says so.
    Tolerates,
}

/// One kernel option an image may need.
#[derive(Debug, Clone, Copy)]
pub struct OptionRule {
    /// The option (`CONFIG_EPOLL`).
    pub option: &'static str,
    /// The records that need it, in words.
    pub needed_by: &'static str,
    /// What a kernel without it does.
    pub without: &'static str,
    /// What that means for `check` and `convert`.
    pub outcome: Outcome,
    /// Where the rule comes from.
    pub source: &'static str,
    /// How sure it is.
    pub confidence: Confidence,
}

/// Every option an image's records may need (kernel-side.md §2).
pub const OPTION_RULES: &[OptionRule] = &[
    OptionRule {
        option: "CONFIG_CHECKPOINT",
        needed_by: "every image",
        without: "checkpoint/restart syscalls are sys_ni: -ENOSYS",
        outcome: Outcome::Fails,
        source: "kernel-side.md §2, v20 21/96",
        confidence: Confidence::High,
    },
    OptionRule {
        option: "CONFIG_SYSVIPC",
        needed_by: "IPC namespaces and SysV IPC objects",
        without: "the IPC_NS object type has no restore op: -EINVAL",
        outcome: Outcome::Fails,
        source: "kernel-side.md §2 (CONFIG_IPC_NS / CONFIG_SYSVIPC)",
        confidence: Confidence::High,
    },
    OptionRule {
        option: "CONFIG_EPOLL",
        needed_by: "epoll files (FILE f_type EPOLL)",
        without: "ep_file_restore is a stub: -ENOSYS",
        outcome: Outcome::Fails,
        source: "kernel-side.md §2, v20 82/96",
        confidence: Confidence::High,
    },
    OptionRule {
        option: "CONFIG_EVENTFD",
        needed_by: "eventfd files (FILE f_type EVENTFD)",
        without: "no restore op for eventfd files: -EINVAL",
        outcome: Outcome::Fails,
        source: "kernel-side.md §2, v20 83/96",
        confidence: Confidence::High,
    },
    OptionRule {
        option: "CONFIG_INET",
        needed_by: "inet sockets (SOCKET_INET)",
        without: "sock_create fails for AF_INET (-EAFNOSUPPORT)",
        outcome: Outcome::Fails,
        source: "kernel-side.md §2, v20 76/96",
        confidence: Confidence::High,
    },
    OptionRule {
        option: "CONFIG_UNIX",
        needed_by: "unix sockets (SOCKET_UNIX)",
        without: "sock_create fails for AF_UNIX (-EAFNOSUPPORT)",
        outcome: Outcome::Fails,
        source: "kernel-side.md §2, v20 76/96",
        confidence: Confidence::High,
    },
    OptionRule {
        option: "CONFIG_FUTEX",
        needed_by: "robust futex lists (TASK robust_futex_list)",
        without: "robust futex lists are silently ignored (no error)",
        outcome: Outcome::Ignores(&[
            "robust_futex_list",
            "robust_futex_head_len",
            "compat_robust_futex_list",
            "compat_robust_futex_head_len",
        ]),
        source: "kernel-side.md §2, v20 33/96",
        confidence: Confidence::High,
    },
    OptionRule {
        option: "CONFIG_COMPAT",
        needed_by: "compat robust futex lists (TASK compat_robust_futex_list)",
        without: "the compat robust futex list is ignored (no error)",
        outcome: Outcome::Ignores(&["compat_robust_futex_list", "compat_robust_futex_head_len"]),
        source: "kernel-side.md §2 (CONFIG_COMPAT)",
        confidence: Confidence::High,
    },
    OptionRule {
        option: "CONFIG_IA32_EMULATION",
        needed_by: "32-bit tasks on x86_64 (THREAD with TIF_IA32, CPU cs USER32_CS or ss \
                    USER32_DS)",
        without: "USER32 segment selectors are rejected on x86_64 without CONFIG_COMPAT, and \
                  a 32-bit task cannot run (no ia32 entry): -EINVAL",
        outcome: Outcome::Fails,
        source: "kernel-side.md §1.3 (cpu record) and §2",
        confidence: Confidence::High,
    },
    OptionRule {
        option: "CONFIG_PID_NS",
        needed_by: "nested pid namespaces (pids with a depth)",
        without: "nested pid namespaces cannot be rebuilt",
        outcome: Outcome::Fails,
        source: "kernel-side.md §2 (CONFIG_PID_NS)",
        confidence: Confidence::Medium,
    },
    OptionRule {
        option: "CONFIG_NET_NS",
        needed_by: "a checkpointed net namespace (NET_NS)",
        without: "the net namespace records cannot be restored (inferred, not read in code)",
        outcome: Outcome::Fails,
        source: "kernel-side.md §2 (CONFIG_NET_NS)",
        confidence: Confidence::Low,
    },
    OptionRule {
        option: "CONFIG_IPC_NS",
        needed_by: "a second IPC namespace",
        without: "only one IPC namespace is accepted: -EEXIST",
        outcome: Outcome::Fails,
        source: "kernel-side.md §2 (CONFIG_IPC_NS), v17",
        confidence: Confidence::Medium,
    },
    OptionRule {
        option: "CONFIG_UTS_NS",
        needed_by: "a second UTS namespace",
        without: "only one UTS namespace is accepted: -EEXIST",
        outcome: Outcome::Fails,
        source: "kernel-side.md §2, v20 54/96",
        confidence: Confidence::High,
    },
    OptionRule {
        option: "CONFIG_USER_NS",
        needed_by: "a second user namespace",
        without: "only one user namespace is accepted: -EEXIST",
        outcome: Outcome::Fails,
        source: "kernel-side.md §2 (CONFIG_USER_NS)",
        confidence: Confidence::High,
    },
    OptionRule {
        option: "CONFIG_SECURITY",
        needed_by: "LSM labels (SECURITY)",
        without: "LSM labels are ignored without RESTART_KEEP_LSM (with it the LSM must match: -EPERM)",
        outcome: Outcome::Tolerates,
        source: "kernel-side.md §1.4, v20 92/96-95/96",
        confidence: Confidence::High,
    },
    OptionRule {
        option: "CONFIG_HUGETLBFS",
        needed_by: "hugetlb mappings (HPAGE)",
        without: "hugetlb mappings cannot be restored (inferred)",
        outcome: Outcome::Fails,
        source: "kernel-side.md §2 (CONFIG_HUGETLBFS)",
        confidence: Confidence::Low,
    },
];

/// The rule of `option`.
pub fn rule(option: &str) -> Option<&'static OptionRule> {
    OPTION_RULES.iter().find(|r| r.option == option)
}

/// The kernel options the records of an image need, with the records that need them
/// (the first few of each), read one record at a time.
#[derive(Debug, Clone)]
pub struct Needs {
    needs: BTreeMap<&'static str, Vec<String>>,
    namespaces: BTreeMap<&'static str, u32>,
}

/// Records kept per option.
const RECORDS_KEPT: usize = 5;

impl Default for Needs {
    fn default() -> Self {
        Needs::new()
    }
}

impl Needs {
    /// Nothing read yet (every image needs CONFIG_CHECKPOINT, for its HEADER).
    pub fn new() -> Needs {
        let mut n = Needs {
            needs: BTreeMap::new(),
            namespaces: BTreeMap::new(),
        };
        n.need("CONFIG_CHECKPOINT", "#0 HEADER".into());
        n
    }

    fn need(&mut self, option: &'static str, record: String) {
        let v = self.needs.entry(option).or_default();
        if v.len() < RECORDS_KEPT {
            v.push(record);
        }
    }

    /// Reads one inline record (`d` decoded in `format`), and returns the options it
    /// needs: CONFIG_CHECKPOINT is not among them (every image needs it, from
    /// [`Needs::new`]).
    pub fn observe(
        &mut self,
        format: &Format,
        info: &RecordInfo,
        d: &Decoded,
    ) -> Vec<&'static str> {
        let at = format!("#{} {}", info.index, info.name);
        let int = |p: &str| d.int(p).unwrap_or(0);
        let mut found: Vec<&'static str> = Vec::new();
        // One namespace of a kind is accepted without the option, a second is not.
        let namespace = |this: &mut Needs, opt: &'static str, found: &mut Vec<&'static str>| {
            let n = this.namespaces.entry(opt).or_default();
            *n += 1;
            if *n > 1 {
                found.push(opt);
            }
        };
        match info.name {
            "IPC" if int("ipc_count") > 0 => found.push("CONFIG_SYSVIPC"),
            "IPC_NS" => {
                found.push("CONFIG_SYSVIPC");
                namespace(self, "CONFIG_IPC_NS", &mut found);
            }
            "UTS_NS" => namespace(self, "CONFIG_UTS_NS", &mut found),
            "USER_NS" => namespace(self, "CONFIG_USER_NS", &mut found),
            "NET_NS" => found.push("CONFIG_NET_NS"),
            "SOCKET_INET" => found.push("CONFIG_INET"),
            "SOCKET_UNIX" => found.push("CONFIG_UNIX"),
            "SECURITY" => found.push("CONFIG_SECURITY"),
            "HPAGE" => found.push("CONFIG_HUGETLBFS"),
            "FILE" => {
                let t = d.int("common.f_type").or(d.int("f_type")).unwrap_or(0);
                match format.schema.enum_name("file", t as i64, format.arch) {
                    Some("EPOLL") => found.push("CONFIG_EPOLL"),
                    Some("EVENTFD") => found.push("CONFIG_EVENTFD"),
                    _ => {}
                }
            }
            "TASK" => {
                if int("robust_futex_list") != 0 || int("compat_robust_futex_list") != 0 {
                    found.push("CONFIG_FUTEX");
                }
                if int("compat_robust_futex_list") != 0 {
                    found.push("CONFIG_COMPAT");
                }
            }
            "CPU" if format.arch == Arch::X86_64 && (int("cs") == 1 || int("ss") == 2) => {
                found.push("CONFIG_IA32_EMULATION")
            }
            // TIF_IA32, bit 17 of thread_info flags (crate::steps::X86_COMPAT).
            "THREAD"
                if format.arch == Arch::X86_64
                    && int("thread_info_flags") & (1 << crate::steps::X86_COMPAT.tif_ia32_bit)
                        != 0 =>
            {
                found.push("CONFIG_IA32_EMULATION")
            }
            "BUFFER"
                if info.payload_of == Some(("TREE", "pids"))
                    && d.fields
                        .iter()
                        .any(|(p, v)| p.ends_with(".depth") && v.as_int().unwrap_or(0) > 0) =>
            {
                found.push("CONFIG_PID_NS");
            }
            _ => {}
        }
        for &opt in &found {
            self.need(opt, at.clone());
        }
        found
    }

    /// Every option needed, with the records that need it, in option order.
    pub fn list(&self) -> Vec<(String, Vec<String>)> {
        self.needs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    /// The records that need `option` (the first few).
    pub fn records(&self, option: &str) -> &[String] {
        self.needs.get(option).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_the_reader_finds_has_a_rule() {
        for opt in [
            "CONFIG_CHECKPOINT",
            "CONFIG_SYSVIPC",
            "CONFIG_IPC_NS",
            "CONFIG_UTS_NS",
            "CONFIG_USER_NS",
            "CONFIG_NET_NS",
            "CONFIG_INET",
            "CONFIG_UNIX",
            "CONFIG_SECURITY",
            "CONFIG_HUGETLBFS",
            "CONFIG_EPOLL",
            "CONFIG_EVENTFD",
            "CONFIG_FUTEX",
            "CONFIG_COMPAT",
            "CONFIG_IA32_EMULATION",
            "CONFIG_PID_NS",
        ] {
            assert!(rule(opt).is_some(), "{opt}");
        }
        let mut names: Vec<&str> = OPTION_RULES.iter().map(|r| r.option).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), OPTION_RULES.len(), "one rule per option");
    }
}
