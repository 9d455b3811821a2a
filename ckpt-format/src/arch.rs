//! Architectures that Linux-CR images exist for, and the C ABI facts of each.

use std::fmt;
use std::str::FromStr;

/// Byte order of an image: the native order of the checkpointing CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Endian {
    /// Least significant byte first (x86, ARM EABI little-endian).
    Little,
    /// Most significant byte first (s390x, powerpc).
    Big,
}

impl std::fmt::Display for Endian {
    /// `little-endian` or `big-endian`, as people write it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Endian::Little => "little-endian",
            Endian::Big => "big-endian",
        })
    }
}

/// An architecture that some revision of the format supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    /// 32-bit x86 (i386 ABI: `long` is 4 bytes, `__u64` aligned to 4 inside structs).
    X86_32,
    /// 64-bit x86.
    X86_64,
    /// IBM z/Architecture, 64-bit, big-endian.
    S390x,
    /// 32-bit ARM, EABI (`__u64` aligned to 8).
    Arm,
    /// 32-bit powerpc, big-endian.
    Ppc,
    /// 64-bit powerpc, big-endian.
    Ppc64,
}

impl Arch {
    /// Every architecture, in a fixed order.
    pub const ALL: [Arch; 6] = [
        Arch::X86_32,
        Arch::X86_64,
        Arch::S390x,
        Arch::Arm,
        Arch::Ppc,
        Arch::Ppc64,
    ];

    /// The name ckpt uses for the architecture (`x86_64`, `s390x`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_32 => "x86_32",
            Arch::X86_64 => "x86_64",
            Arch::S390x => "s390x",
            Arch::Arm => "arm",
            Arch::Ppc => "ppc",
            Arch::Ppc64 => "ppc64",
        }
    }

    /// Byte order of images written on this architecture.
    pub fn endian(self) -> Endian {
        match self {
            Arch::X86_32 | Arch::X86_64 | Arch::Arm => Endian::Little,
            Arch::S390x | Arch::Ppc | Arch::Ppc64 => Endian::Big,
        }
    }

    /// Size in bytes of C `long`, `unsigned long` and pointers.
    pub fn word_size(self) -> u32 {
        match self {
            Arch::X86_32 | Arch::Arm | Arch::Ppc => 4,
            Arch::X86_64 | Arch::S390x | Arch::Ppc64 => 8,
        }
    }

    /// Alignment of 8-byte scalars (`__u64`, `double`) inside structs.
    pub fn align_u64(self) -> u32 {
        match self {
            Arch::X86_32 => 4,
            _ => 8,
        }
    }

    /// Whether this is an x86 architecture (they share the x86 arch records).
    pub fn is_x86(self) -> bool {
        matches!(self, Arch::X86_32 | Arch::X86_64)
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error for an architecture name that ckpt does not know.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown architecture `{0}` (expected one of x86_32, x86_64, s390x, arm, ppc, ppc64)")]
pub struct UnknownArch(pub String);

impl FromStr for Arch {
    type Err = UnknownArch;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Arch::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| UnknownArch(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for arch in Arch::ALL {
            assert_eq!(arch.name().parse::<Arch>().unwrap(), arch);
        }
        assert!("mips".parse::<Arch>().is_err());
    }
}
