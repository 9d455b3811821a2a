//! Linux kernel versions as linux-cr images record them (not semver: `2.6.32.27`,
//! `2.6.33-rc8`, `3.0.8`).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A Linux kernel version: 2 to 4 numbers and an optional `-rcN`.
///
/// An image header holds only `major.minor.patch` (16 bits each); the fourth number of a
/// stable release and `-rcN` never reach it, so restart cannot tell `2.6.33-rc8` from
/// `2.6.33` or `2.6.32.27` from `2.6.32`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KernelVersion {
    /// The numbers: `[2, 6, 32, 27]` for 2.6.32.27 (at least 2, at most 4).
    pub numbers: Vec<u32>,
    /// The release candidate, for `-rcN`.
    pub rc: Option<u32>,
}

/// A string that is not a kernel version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a kernel version (expected e.g. 2.6.32, 2.6.32.27, 2.6.33-rc8, 3.0.8)")]
pub struct BadKernelVersion(pub String);

impl FromStr for KernelVersion {
    type Err = BadKernelVersion;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadKernelVersion(s.to_string());
        let (nums, rc) = match s.split_once("-rc") {
            Some((n, rc)) => (n, Some(rc.parse::<u32>().map_err(|_| bad())?)),
            None => (s, None),
        };
        let numbers = nums
            .split('.')
            .map(|p| {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    Err(bad())
                } else {
                    p.parse::<u32>().map_err(|_| bad())
                }
            })
            .collect::<Result<Vec<u32>, _>>()?;
        if !(2..=4).contains(&numbers.len()) {
            return Err(bad());
        }
        Ok(KernelVersion { numbers, rc })
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.numbers.iter().map(u32::to_string).collect();
        f.write_str(&parts.join("."))?;
        if let Some(rc) = self.rc {
            write!(f, "-rc{rc}")?;
        }
        Ok(())
    }
}

impl KernelVersion {
    /// The version an image header records (`major.minor.patch`).
    pub fn from_header(kernel: (u16, u16, u16)) -> KernelVersion {
        KernelVersion {
            numbers: vec![kernel.0.into(), kernel.1.into(), kernel.2.into()],
            rc: None,
        }
    }

    /// `major.minor.patch` as the image header stores it (missing numbers are 0).
    pub fn header_triple(&self) -> Option<(u16, u16, u16)> {
        let n = |i: usize| u16::try_from(self.numbers.get(i).copied().unwrap_or(0)).ok();
        Some((n(0)?, n(1)?, n(2)?))
    }

    /// `major.minor.patch` of a version string that may carry more (`3.0.8`), or
    /// (0, 0, 0) when it does not parse.
    pub fn from_str_lossy(s: &str) -> (u16, u16, u16) {
        s.parse::<KernelVersion>()
            .ok()
            .and_then(|k| k.header_triple())
            .unwrap_or((0, 0, 0))
    }

    /// True when the version names all three numbers the header holds.
    pub fn is_full(&self) -> bool {
        self.numbers.len() >= 3
    }
}

impl Ord for KernelVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let pad = |v: &KernelVersion| {
            let mut n = v.numbers.clone();
            n.resize(4, 0);
            n
        };
        pad(self)
            .cmp(&pad(other))
            .then_with(|| match (self.rc, other.rc) {
                (None, None) => Ordering::Equal,
                // 2.6.33-rc8 comes before 2.6.33.
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(a), Some(b)) => a.cmp(&b),
            })
    }
}

impl PartialOrd for KernelVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

use ckpt_format::schema::KernelConstants;
use ckpt_format::{Arch, Format, Schema};

/// The `ckpt_const` values kernel `kernel` (`major.minor.patch`) fills in on `arch` for an
/// image of revision `target`: from the target's own table (the exact version, else
/// `major.minor`), else from any revision whose `ckpt_const` has the same members, since
/// the values depend on the kernel, not on the revision (kernel-consts.md).
pub fn constants_for(
    target: &'static Schema,
    kernel: (u16, u16, u16),
    arch: Arch,
    config: Option<(&str, &str)>,
) -> Option<&'static KernelConstants> {
    let full = format!("{}.{}.{}", kernel.0, kernel.1, kernel.2);
    let short = format!("{}.{}", kernel.0, kernel.1);
    let own = |s: &'static Schema| {
        s.kernel_constants(&full, arch, config)
            .or_else(|| s.kernel_constants(&short, arch, config))
    };
    let members = |s: &'static Schema| -> Vec<String> {
        Format::shared(s, arch)
            .layout("ckpt_hdr_header")
            .map(|l| {
                l.fields()
                    .iter()
                    .filter(|f| f.path.starts_with("constants."))
                    .map(|f| f.path.clone())
                    .collect()
            })
            .unwrap_or_default()
    };
    own(target).or_else(|| {
        let want = members(target);
        ckpt_format::Registry::get()
            .all()
            .iter()
            .copied()
            .filter(|s| s.has_arch(arch) && members(s) == want)
            .find_map(own)
    })
}

/// Every revision whose kernel claims name `k` (in any confidence), oldest first: the
/// alternatives to [`revision_for`]'s choice.
pub fn revisions_claiming(k: &KernelVersion) -> Vec<&'static Schema> {
    let triple = k
        .header_triple()
        .map(|t| format!("{}.{}.{}", t.0, t.1, t.2));
    ckpt_format::Registry::get()
        .entries()
        .iter()
        .filter(|e| {
            e.kernels()
                .iter()
                .any(|c| Some(&c.value) == triple.as_ref() || c.value == k.to_string())
        })
        .map(|e| e.schema())
        .collect()
}

/// The revision a kernel's linux-cr release wrote, from the schemas' kernel and tag
/// claims: among the revisions that list the kernel, one whose tag is a release (not an
/// `-rc`) wins (2.6.33 -> v19/v20, 67cfee9); otherwise the single most confident one.
/// Equally plausible candidates are an error that asks for `--to-rev`.
pub fn revision_for(k: &KernelVersion) -> Result<&'static Schema, String> {
    use ckpt_format::schema::{Confidence, Embedded};
    let triple = k
        .header_triple()
        .map(|t| format!("{}.{}.{}", t.0, t.1, t.2));
    let reg = ckpt_format::Registry::get();
    let rank = |c: Confidence| match c {
        Confidence::High => 0,
        Confidence::Medium => 1,
        Confidence::Low => 2,
    };
    // From the provenance of every revision: only the answer is parsed.
    let fits: Vec<(&'static Embedded, u8)> = reg
        .entries()
        .iter()
        .filter_map(|e| {
            e.kernels()
                .iter()
                .find(|c| Some(&c.value) == triple.as_ref() || c.value == k.to_string())
                .map(|c| (e, rank(c.confidence)))
        })
        .collect();
    if fits.is_empty() {
        let mut known: Vec<String> = reg
            .entries()
            .iter()
            .flat_map(|e| e.kernels().iter().map(|k| k.value.clone()))
            .collect();
        known.sort();
        known.dedup();
        return Err(format!(
            "no known linux-cr revision was written by kernel {k}; known kernels: {}",
            known.join(", ")
        ));
    }
    let released: Vec<&(&'static Embedded, u8)> = fits
        .iter()
        .filter(|(e, _)| e.tags().iter().any(|t| !t.value.contains("-rc")))
        .collect();
    if let [one] = released.as_slice() {
        return Ok(one.0.schema());
    }
    let best = fits.iter().map(|(_, r)| *r).min().unwrap_or(2);
    let top: Vec<&'static Embedded> = fits
        .iter()
        .filter(|(_, r)| *r == best)
        .map(|(e, _)| *e)
        .collect();
    if let [one] = top.as_slice() {
        return Ok(one.schema());
    }
    Err(format!(
        "kernel {k} was run by several linux-cr revisions that are equally plausible: {}; choose one with --to-rev",
        top.iter()
            .map(|e| format!("{} ({})", e.id(), e.short_commit()))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> KernelVersion {
        s.parse().unwrap()
    }

    #[test]
    fn a_header_version_and_its_triple_are_inverses() {
        for t in [(2, 6, 37), (3, 0, 8), (2, 6, 0)] {
            let k = KernelVersion::from_header(t);
            assert_eq!(k.header_triple(), Some(t));
            assert_eq!(k, v(&format!("{}.{}.{}", t.0, t.1, t.2)));
        }
    }

    #[test]
    fn parses_the_forms_linux_cr_used() {
        assert_eq!(v("2.6.32").numbers, [2, 6, 32]);
        assert_eq!(v("2.6.32.27").numbers, [2, 6, 32, 27]);
        assert_eq!(v("2.6.33-rc8").rc, Some(8));
        assert_eq!(v("3.0.8").header_triple(), Some((3, 0, 8)));
        assert_eq!(v("3.0").header_triple(), Some((3, 0, 0)));
        assert!(!v("3.0").is_full());
        for bad in [
            "",
            "2",
            "2.6.x",
            "2..6",
            "2.6.32-rc",
            "2.6.32+",
            "1.2.3.4.5",
            "2.6.70000",
        ] {
            assert!(
                bad.parse::<KernelVersion>().is_err() || v(bad).header_triple().is_none(),
                "{bad}"
            );
        }
    }

    #[test]
    fn orders_like_linux() {
        assert!(v("2.6.33-rc8") < v("2.6.33"));
        assert!(v("2.6.32.27") > v("2.6.32"));
        assert!(v("2.6.32.27") < v("2.6.33-rc1"));
        assert!(v("3.0") == v("3.0.0") || v("3.0").cmp(&v("3.0.0")) == Ordering::Equal);
        assert!(v("2.6.39") < v("3.0"));
    }

    #[test]
    fn display_round_trips() {
        for s in ["2.6.32", "2.6.32.27", "2.6.33-rc8", "3.0.8", "3.0"] {
            assert_eq!(v(s).to_string(), s);
        }
    }
}
