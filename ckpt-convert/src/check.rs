//! Preflight: what a target kernel's restart would check, applied to an image: the
//! header (magic, arch id, rev, kernel version, every constant), the records (known
//! types, exact lengths, structure, tail: the reader checks these), the kernel config
//! options the records need, and the x86 CPU facts of HEADER_ARCH.
//!
//! Kernel behaviour is from `kernel-side.md` §1 and §2 (reference notes): restart
//! compares the header fields for exact equality and fails with -EINVAL; a record whose
//! subsystem is not configured fails the restart with the error given per option.

use std::collections::BTreeMap;

use ckpt_format::detect::{Evidence, record_differences};
use ckpt_format::input::Input;
use ckpt_format::read::{Decoded, HeaderPeek};
use ckpt_format::{Format, Reader, Schema};
use serde::Serialize;

/// A kernel `.config`: `CONFIG_X=y|m|...`, `# CONFIG_X is not set`.
#[derive(Debug, Clone, Default)]
pub struct KernelConfig {
    options: BTreeMap<String, String>,
}

impl KernelConfig {
    /// Parses the text of a `.config` file.
    pub fn parse(text: &str) -> KernelConfig {
        let mut options = BTreeMap::new();
        for line in text.lines() {
            let l = line.trim();
            if let Some(rest) = l.strip_prefix("# ")
                && let Some(name) = rest.strip_suffix(" is not set")
            {
                options.insert(name.trim().to_string(), "n".to_string());
            } else if let Some((k, v)) = l.split_once('=')
                && k.starts_with("CONFIG_")
            {
                options.insert(k.to_string(), v.trim_matches('"').to_string());
            }
        }
        KernelConfig { options }
    }

    /// Whether an option is built in or a module.
    pub fn enabled(&self, name: &str) -> bool {
        matches!(self.options.get(name).map(String::as_str), Some("y" | "m"))
    }

    /// The value of an option as written (`y`, `m`, `n`, ...), if the file mentions it.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.options.get(name).map(String::as_str)
    }
}

/// The x86 FPU facts restart compares with HEADER_ARCH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CpuFacts {
    /// FXSAVE available.
    pub fxsr: bool,
    /// XSAVE available.
    pub xsave: bool,
    /// Size of the kernel's xstate area.
    pub xstate_size: u16,
}

impl CpuFacts {
    /// Parses `fxsr=0|1,xsave=0|1,xstate-size=N`.
    pub fn parse(s: &str) -> Result<CpuFacts, String> {
        let mut f = CpuFacts {
            fxsr: true,
            xsave: false,
            xstate_size: 512,
        };
        let mut seen = 0;
        for part in s.split(',') {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: expected KEY=VALUE"))?;
            let flag = || match v {
                "0" => Ok(false),
                "1" => Ok(true),
                _ => Err(format!("`{part}`: expected 0 or 1")),
            };
            match k {
                "fxsr" => f.fxsr = flag()?,
                "xsave" => f.xsave = flag()?,
                "xstate-size" => {
                    f.xstate_size = v.parse().map_err(|_| format!("`{part}`: bad size"))?
                }
                _ => return Err(format!("`{k}`: expected fxsr, xsave or xstate-size")),
            }
            seen += 1;
        }
        if seen != 3 {
            return Err("give fxsr=0|1,xsave=0|1,xstate-size=N".into());
        }
        Ok(f)
    }

    /// The facts of the CPU this runs on (x86 only): CPUID leaves 1 and 0xD, as the
    /// kernel of that CPU would report them.
    pub fn host() -> Option<CpuFacts> {
        #[cfg(target_arch = "x86_64")]
        {
            // CPUID leaf 1: FXSR (edx bit 24), XSAVE (ecx bit 26).
            let l1 = core::arch::x86_64::__cpuid(1);
            let fxsr = l1.edx & (1 << 24) != 0;
            let xsave = l1.ecx & (1 << 26) != 0;
            let xstate_size = if xsave {
                // Leaf 0xD, sub-leaf 0: the XSAVE area size for the enabled features.
                core::arch::x86_64::__cpuid_count(0xd, 0).ebx as u16
            } else {
                512
            };
            Some(CpuFacts {
                fxsr,
                xsave,
                xstate_size,
            })
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            None
        }
    }
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What is checked (`header.rev`, `config CONFIG_EPOLL`, `cpu xstate_size`).
    pub check: String,
    /// What the image has.
    pub image: String,
    /// What the target expects.
    pub target: String,
    /// What the kernel would do.
    pub consequence: String,
    /// Records concerned (index and name), at most a few.
    pub records: Vec<String>,
}

/// The result of a check.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Image revision.
    pub revision: String,
    /// Target revision.
    pub target_revision: String,
    /// Target kernel.
    pub target_kernel: String,
    /// Problems: the image would not restart on the target.
    pub problems: Vec<Finding>,
    /// Differences that do not stop a restart (an option whose absence is tolerated).
    pub warnings: Vec<Finding>,
    /// Kernel config options the image needs, with the records that need them.
    pub needs: Vec<(String, Vec<String>)>,
    /// Checks that could not be made (no config given, no CPU facts given).
    pub not_verified: Vec<String>,
    /// The message of a failed checkpoint (an image that ends in an ERROR record).
    pub checkpoint_failed: Option<String>,
}

impl Report {
    /// True when nothing stops a restart.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What a kernel without an option does with the records that need it
/// (kernel-side.md §2), and whether that fails the restart.
const CONFIG_EFFECTS: &[(&str, &str, bool)] = &[
    (
        "CONFIG_CHECKPOINT",
        "checkpoint/restart syscalls are sys_ni: -ENOSYS",
        true,
    ),
    (
        "CONFIG_SYSVIPC",
        "the IPC_NS object type has no restore op: -EINVAL",
        true,
    ),
    ("CONFIG_EPOLL", "ep_file_restore is a stub: -ENOSYS", true),
    (
        "CONFIG_EVENTFD",
        "no restore op for eventfd files: -EINVAL",
        true,
    ),
    (
        "CONFIG_INET",
        "sock_create fails for AF_INET (-EAFNOSUPPORT)",
        true,
    ),
    (
        "CONFIG_UNIX",
        "sock_create fails for AF_UNIX (-EAFNOSUPPORT)",
        true,
    ),
    (
        "CONFIG_FUTEX",
        "robust futex lists are silently ignored (no error)",
        false,
    ),
    (
        "CONFIG_IA32_EMULATION",
        "USER32 segment selectors are rejected on x86_64: -EINVAL",
        true,
    ),
    (
        "CONFIG_PID_NS",
        "nested pid namespaces cannot be rebuilt",
        true,
    ),
    (
        "CONFIG_NET_NS",
        "the net namespace records cannot be restored (inferred, not read in code)",
        true,
    ),
    (
        "CONFIG_IPC_NS",
        "only one IPC namespace is accepted: -EEXIST",
        true,
    ),
    (
        "CONFIG_UTS_NS",
        "only one UTS namespace is accepted: -EEXIST",
        true,
    ),
    (
        "CONFIG_USER_NS",
        "only one user namespace is accepted: -EEXIST",
        true,
    ),
    (
        "CONFIG_SECURITY",
        "LSM labels are ignored without RESTART_KEEP_LSM (with it the LSM must match: -EPERM)",
        false,
    ),
    (
        "CONFIG_HUGETLBFS",
        "hugetlb mappings cannot be restored (inferred)",
        true,
    ),
];

/// Checks the image read by `reader` against a target revision, kernel, config and CPU.
///
/// With `evidence` (what detection saw of the image), a target revision that reads the
/// image identically to the image's own passes the layout check, and one that does not
/// is reported with the records that differ; without it, any difference between the two
/// revisions' schemas is reported.
#[allow(clippy::too_many_arguments)]
pub fn check<R: Input>(
    mut reader: Reader<R>,
    evidence: Option<&Evidence>,
    target: &'static Schema,
    kernel: Option<(u16, u16, u16)>,
    config_variant: Option<(&str, &str)>,
    config: Option<&KernelConfig>,
    cpu: Option<CpuFacts>,
) -> Result<Report, ckpt_format::Error> {
    let from = Format::shared(reader.format().schema, reader.format().arch);
    let arch = from.arch;
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut not_verified = Vec::new();
    let mut needs: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut need = |opt: &'static str, rec: String| {
        let v = needs.entry(opt).or_default();
        if v.len() < 5 {
            v.push(rec);
        }
    };
    need("CONFIG_CHECKPOINT", "#0 HEADER".into());
    let mut header: Option<(HeaderPeek, Decoded)> = None;
    let mut header_arch: Option<Decoded> = None;
    let mut namespaces: BTreeMap<&'static str, u32> = BTreeMap::new();
    let mut failed: Option<(String, String)> = None;
    while let Some(info) = reader.next_record()? {
        if !info.inline {
            continue;
        }
        let at = format!("#{} {}", info.index, info.name);
        let d = reader.decode()?;
        let int = |p: &str| d.int(p).unwrap_or(0);
        match info.name {
            "HEADER" => {
                let peek = HeaderPeek::parse(reader.record_bytes())
                    .map_err(|k| ckpt_format::Error::new(k, Default::default()))?;
                header = Some((peek, d.clone()));
            }
            "HEADER_ARCH" => header_arch = Some(d.clone()),
            "ERROR" => failed = Some((at, String::new())),
            "STRING" if info.payload_of.is_some_and(|(owner, _)| owner == "ERROR") => {
                if let Some(f) = failed.as_mut() {
                    f.1 = d.text.clone().unwrap_or_default();
                }
            }
            "IPC" if int("ipc_count") > 0 => need("CONFIG_SYSVIPC", at),
            "IPC_NS" => {
                need("CONFIG_SYSVIPC", at);
                *namespaces.entry("CONFIG_IPC_NS").or_default() += 1;
            }
            "UTS_NS" => *namespaces.entry("CONFIG_UTS_NS").or_default() += 1,
            "USER_NS" => *namespaces.entry("CONFIG_USER_NS").or_default() += 1,
            "NET_NS" => {
                need("CONFIG_NET_NS", at);
            }
            "SOCKET_INET" => need("CONFIG_INET", at),
            "SOCKET_UNIX" => need("CONFIG_UNIX", at),
            "SECURITY" => need("CONFIG_SECURITY", at),
            "HPAGE" => need("CONFIG_HUGETLBFS", at),
            "FILE" => {
                let t = d.int("common.f_type").or(d.int("f_type")).unwrap_or(0);
                match from.schema.enum_name("file", t as i64, arch) {
                    Some("EPOLL") => need("CONFIG_EPOLL", at),
                    Some("EVENTFD") => need("CONFIG_EVENTFD", at),
                    _ => {}
                }
            }
            "TASK" if int("robust_futex_list") != 0 || int("compat_robust_futex_list") != 0 => {
                need("CONFIG_FUTEX", at)
            }
            "CPU" if arch == ckpt_format::Arch::X86_64 && (int("cs") == 1 || int("ss") == 2) => {
                need("CONFIG_IA32_EMULATION", at)
            }
            "BUFFER"
                if info.payload_of == Some(("TREE", "pids"))
                    && d.fields
                        .iter()
                        .any(|(p, v)| p.ends_with(".depth") && v.as_int().unwrap_or(0) > 0) =>
            {
                need("CONFIG_PID_NS", at);
            }
            _ => {}
        }
    }
    // Several namespaces of a kind need the option (one is accepted without it).
    for (opt, n) in namespaces {
        if n > 1 {
            needs
                .entry(opt)
                .or_default()
                .push(format!("{n} namespaces"));
        }
    }
    // A failed checkpoint: restart meets the ERROR record and aborts.
    if let Some((at, message)) = &failed {
        problems.push(Finding {
            check: "checkpoint".into(),
            image: format!("failed: \"{message}\""),
            target: "a complete checkpoint (ending in TAIL)".into(),
            consequence: "restart aborts at the ERROR record: the checkpoint failed, the image holds no restartable state".into(),
            records: vec![at.clone()],
        });
    }
    // Header against the target (by default, the kernel the image names).
    let (peek, hdr) = header.expect("the reader starts with HEADER");
    let kernel = kernel.unwrap_or(peek.kernel);
    let kname = format!("{}.{}.{}", kernel.0, kernel.1, kernel.2);
    fn expect(problems: &mut Vec<Finding>, check: &str, image: String, target: String) {
        if image != target {
            problems.push(Finding {
                check: check.to_string(),
                image,
                target,
                consequence: "restart fails: -EINVAL (the header must equal the running kernel's)"
                    .into(),
                records: vec!["#0 HEADER".into()],
            });
        }
    }
    match target.arch_id(arch) {
        Some(id) => expect(
            &mut problems,
            "header.arch_id",
            peek.arch_id.to_string(),
            id.to_string(),
        ),
        None => expect(
            &mut problems,
            "header.arch_id",
            format!("{} ({arch})", peek.arch_id),
            format!("{} has no {arch}", target.id),
        ),
    }
    expect(
        &mut problems,
        "header.rev",
        peek.rev.to_string(),
        target.checkpoint_version.to_string(),
    );
    expect(
        &mut problems,
        "header.kernel",
        format!("{}.{}.{}", peek.kernel.0, peek.kernel.1, peek.kernel.2),
        kname.clone(),
    );
    if from.schema.id != target.id {
        let differ = match evidence {
            Some(ev) if target.has_arch(arch) => record_differences(from.schema, target, arch, ev),
            _ => {
                let d = crate::diff(from.schema, target, arch);
                if d.enums.is_empty() && d.structs.is_empty() && d.records.is_empty() {
                    vec![]
                } else {
                    vec![format!(
                        "{} enum values, {} structs and {} record bindings differ",
                        d.enums.len(),
                        d.structs.len(),
                        d.records.len()
                    )]
                }
            }
        };
        if !differ.is_empty() {
            problems.push(Finding {
                check: "layout".into(),
                image: from.schema.id.clone(),
                target: target.id.clone(),
                consequence:
                    "the records below differ in number, layout or meaning: convert the image first"
                        .into(),
                records: differ,
            });
        }
    }
    // The constants of that kernel (from any revision with the same ckpt_const members).
    let kc = crate::kernel::constants_for(target, kernel, arch, config_variant);
    match kc {
        Some(kc) => {
            for (n, v) in &kc.values {
                let have = hdr
                    .int(&format!("constants.{n}"))
                    .map(|x| x.to_string())
                    .unwrap_or_else(|| "absent".into());
                expect(
                    &mut problems,
                    &format!("header.constants.{n}"),
                    have,
                    v.to_string(),
                );
            }
        }
        None => not_verified.push(format!(
            "constants: no ckpt_const values known for kernel {kname} with {}",
            target.id
        )),
    }
    // Kernel config.
    match config {
        Some(cfg) => {
            for (opt, recs) in &needs {
                if !cfg.enabled(opt) {
                    let (effect, fatal) = CONFIG_EFFECTS
                        .iter()
                        .find(|(o, _, _)| o == opt)
                        .map_or(("the records cannot be restored", true), |e| (e.1, e.2));
                    let f = Finding {
                        check: format!("config {opt}"),
                        image: "needed".into(),
                        target: cfg.value(opt).unwrap_or("not set").to_string(),
                        consequence: effect.to_string(),
                        records: recs.clone(),
                    };
                    if fatal {
                        problems.push(f)
                    } else {
                        warnings.push(f)
                    }
                }
            }
        }
        None => not_verified.push("kernel config: not given (--target-config FILE)".into()),
    }
    // x86 CPU facts.
    if arch.is_x86() {
        let ha = header_arch.unwrap_or_else(|| Decoded {
            struct_name: None,
            fields: vec![],
            text: None,
        });
        let img = (
            ha.int("has_fxsr").unwrap_or(0) != 0,
            ha.int("has_xsave").unwrap_or(0) != 0,
            ha.int("xstate_size").unwrap_or(0) as u16,
        );
        match cpu {
            Some(c) => {
                for (check, have, want) in [
                    ("cpu has_fxsr", img.0.to_string(), c.fxsr.to_string()),
                    ("cpu has_xsave", img.1.to_string(), c.xsave.to_string()),
                    (
                        "cpu xstate_size",
                        img.2.to_string(),
                        c.xstate_size.to_string(),
                    ),
                ] {
                    if have != want {
                        problems.push(Finding {
                            check: check.into(),
                            image: have,
                            target: want,
                            consequence: "restart fails: -EINVAL, incompatible FPU capabilities"
                                .into(),
                            records: vec!["#4 HEADER_ARCH".into()],
                        });
                    }
                }
            }
            None => not_verified.push(
                "CPU: not given (--target-cpu fxsr=..,xsave=..,xstate-size=N or host)".into(),
            ),
        }
    }
    Ok(Report {
        revision: from.schema.id.clone(),
        target_revision: target.id.clone(),
        target_kernel: kname,
        problems,
        warnings,
        needs: needs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        not_verified,
        checkpoint_failed: failed.map(|(_, m)| m),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_files() {
        let c = KernelConfig::parse(
            "CONFIG_EPOLL=y\n# CONFIG_INET is not set\nCONFIG_UNIX=m\nCONFIG_LOCALVERSION=\"-ckpt\"\n",
        );
        assert!(c.enabled("CONFIG_EPOLL") && c.enabled("CONFIG_UNIX"));
        assert!(!c.enabled("CONFIG_INET") && !c.enabled("CONFIG_FUTEX"));
        assert_eq!(c.value("CONFIG_INET"), Some("n"));
        assert_eq!(c.value("CONFIG_LOCALVERSION"), Some("-ckpt"));
    }

    #[test]
    fn cpu_facts() {
        let f = CpuFacts::parse("fxsr=1,xsave=1,xstate-size=832").unwrap();
        assert_eq!((f.fxsr, f.xsave, f.xstate_size), (true, true, 832));
        assert!(CpuFacts::parse("fxsr=1").is_err());
        assert!(CpuFacts::parse("fxsr=2,xsave=1,xstate-size=1").is_err());
    }
}
