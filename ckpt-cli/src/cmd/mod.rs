//! One module per subcommand, each with its options (`Opts`) and a `run`.

pub mod annotate;
pub mod check;
pub mod completions;
pub mod convert;
pub mod diff;
pub mod dump;
pub mod edit;
pub mod encode;
pub mod fs;
pub mod graph;
pub mod info;
pub mod keygen;
pub mod man;
pub mod mem;
#[cfg(feature = "fuse")]
pub mod mount;
pub mod report;
pub mod sample;
pub mod schema;
pub mod seal;
pub mod stats;
pub mod strip;
pub mod tasks;
#[cfg(feature = "fuse")]
pub mod umount;
pub mod unseal;
pub mod verify;

use anyhow::Result;

use crate::io::UsageError;

/// Parses a size such as `64K`, `1M`, `4G` (binary units) or a plain byte count.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => {
            let unit = s[i..].trim_end_matches(['B', 'b']).trim_end_matches(['i']);
            let m: u64 = match unit.to_ascii_uppercase().as_str() {
                "" => 1,
                "K" => 1 << 10,
                "M" => 1 << 20,
                "G" => 1 << 30,
                "T" => 1 << 40,
                _ => return Err(format!("unknown size unit in `{s}` (use K, M, G or T)")),
            };
            (&s[..i], m)
        }
        None => (s, 1),
    };
    let n: u64 = num.parse().map_err(|_| format!("bad size `{s}`"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("size `{s}` is too large"))
}

/// Parses `--target-kernel`: a kernel version with all three numbers the header holds
/// (restart compares x.y.z exactly).
pub fn target_kernel(arg: Option<&str>) -> Result<Option<ckpt_convert::KernelVersion>> {
    let Some(a) = arg else { return Ok(None) };
    let k: ckpt_convert::KernelVersion = a
        .parse()
        .map_err(|e: ckpt_convert::kernel::BadKernelVersion| usage(e.to_string()))?;
    if !k.is_full() {
        return Err(usage(format!(
            "--target-kernel {k}: the image header holds major.minor.patch and restart compares it \
             exactly; give all three numbers (e.g. {k}.8)"
        )));
    }
    Ok(Some(k))
}

/// The target revision of `--to-rev`, else the one `--target-kernel` names (check,
/// report); `None` when neither is given.
pub fn target_revision(
    to_rev: Option<&str>,
    kernel: Option<&ckpt_convert::KernelVersion>,
) -> Result<Option<&'static ckpt_format::Schema>> {
    Ok(match (to_rev, kernel) {
        (Some(r), _) => Some(
            ckpt_format::Registry::get()
                .find(r)
                .map_err(|e| usage(format!("--to-rev: {e}")))?,
        ),
        (None, Some(k)) => Some(ckpt_convert::kernel::revision_for(k).map_err(usage)?),
        (None, None) => None,
    })
}

/// Parses `--target-cpu`: `fxsr=0|1,xsave=0|1,xstate-size=N`, or `host`.
pub fn target_cpu(arg: Option<&str>) -> Result<Option<ckpt_convert::check::CpuFacts>> {
    use ckpt_convert::check::CpuFacts;
    match arg {
        None => Ok(None),
        Some("host") => {
            Ok(Some(CpuFacts::host().ok_or_else(|| {
                usage("--target-cpu host: not an x86 host".into())
            })?))
        }
        Some(s) => Ok(Some(
            CpuFacts::parse(s).map_err(|e| usage(format!("--target-cpu: {e}")))?,
        )),
    }
}

/// A usage error (exit 2) as an anyhow error.
pub fn usage(msg: String) -> anyhow::Error {
    UsageError(msg).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_size("123"), Ok(123));
        assert!(parse_size("1X").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
