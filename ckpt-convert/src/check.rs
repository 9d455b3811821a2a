//! Preflight: what a target kernel's restart would check, applied to an image: the
//! header (magic, arch id, rev, kernel version, every constant), the records (known
//! types, exact lengths, structure, tail: the reader checks these), the kernel config
//! options the records need, and the x86 CPU facts of HEADER_ARCH.
//!
//! Kernel behaviour is from `kernel-side.md` §1 and §2 (reference notes): restart
//! compares the header fields for exact equality and fails with -EINVAL; a record whose
//! subsystem is not configured fails the restart with the error given per option.

use ckpt_format::detect::{Evidence, record_differences};
use ckpt_format::input::Input;
use ckpt_format::read::{Decoded, HeaderPeek};
use ckpt_format::{Arch, Format, Reader, Schema};
use serde::Serialize;

pub use crate::config::KernelConfig;

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
    let mut needs = crate::config::Needs::new();
    let mut header: Option<(HeaderPeek, Decoded)> = None;
    let mut header_arch: Option<Decoded> = None;
    let mut failed: Option<(String, String)> = None;
    while let Some(info) = reader.next_record()? {
        if !info.inline {
            continue;
        }
        let at = format!("#{} {}", info.index, info.name);
        let d = reader.decode()?;
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
            _ => {}
        }
        needs.observe(from, &info, &d);
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
            for (opt, recs) in needs.list() {
                if cfg.enabled(&opt) {
                    continue;
                }
                let rule = crate::config::rules::rule(&opt);
                let f = Finding {
                    check: format!("config {opt}"),
                    image: "needed".into(),
                    target: cfg.shown(&opt),
                    consequence: rule
                        .map_or("the records cannot be restored", |r| r.without)
                        .to_string(),
                    records: recs,
                };
                match rule.map(|r| r.outcome) {
                    Some(crate::config::Outcome::Fails) | None => problems.push(f),
                    Some(_) => warnings.push(f),
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
    // 32-bit tasks of a 64-bit kernel restart only under a 32-bit restarting task
    // ("%d-bit restarting %d-bit", v20 25/96): the restart binary is not in the image.
    let ia32 = needs.records("CONFIG_IA32_EMULATION");
    if arch == Arch::X86_64 && !ia32.is_empty() {
        not_verified.push(format!(
            "restart binary: the image's tasks are 32-bit tasks (TIF_IA32 or USER32 \
             segments: {}): restart them with a 32-bit (i386) build of user-cr's restart",
            ia32.join(", ")
        ));
    }
    Ok(Report {
        revision: from.schema.id.clone(),
        target_revision: target.id.clone(),
        target_kernel: kname,
        problems,
        warnings,
        needs: needs.list(),
        not_verified,
        checkpoint_failed: failed.map(|(_, m)| m),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_facts() {
        let f = CpuFacts::parse("fxsr=1,xsave=1,xstate-size=832").unwrap();
        assert_eq!((f.fxsr, f.xsave, f.xstate_size), (true, true, 832));
        assert!(CpuFacts::parse("fxsr=1").is_err());
        assert!(CpuFacts::parse("fxsr=2,xsave=1,xstate-size=1").is_err());
    }
}
