//! Kernel configurations: the `.config` of the kernel that wrote an image (the source)
//! and of the kernel that is to restart it (the target), the rules by which every
//! config-dependent fact of an image is carried or refused ([`rules`]), and the
//! transform that applies them during a conversion ([`gate`]).
//!
//! `check --target-config` and `convert --target-config` decide from the same table
//! ([`rules::OPTION_RULES`]) and the same reading of the records ([`rules::Needs`]), so
//! an image that `check` refuses for an option is one that `convert` refuses too.

pub mod gate;
pub mod provenance;
pub mod rules;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

pub use rules::{Needs, OPTION_RULES, OptionRule, Outcome};

/// A kernel `.config`: `CONFIG_X=y|m|...`, `# CONFIG_X is not set`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelConfig {
    options: BTreeMap<String, String>,
}

/// Text that is not a kernel `.config`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAKernelConfig {
    /// A line that is neither an option, a comment nor blank.
    #[error(
        "line {line}: `{text}` is not a kernel config line (expected CONFIG_NAME=VALUE, \
         `# CONFIG_NAME is not set`, a comment or a blank line)"
    )]
    Line {
        /// 1-based line number.
        line: usize,
        /// The line, shortened to 60 characters.
        text: String,
    },
    /// No option lines at all.
    #[error("no CONFIG_ option lines in it")]
    Empty,
}

impl KernelConfig {
    /// Parses the text of a `.config` file, keeping the option lines and ignoring
    /// everything else (for text already known to be a config).
    pub fn parse(text: &str) -> KernelConfig {
        let mut options = BTreeMap::new();
        for line in text.lines() {
            if let Some((k, v)) = Self::option_line(line) {
                options.insert(k.to_string(), v.to_string());
            }
        }
        KernelConfig { options }
    }

    /// Parses the text of a `.config` file, refusing text that is not one: every line
    /// must be an option, a comment or blank, and at least one must be an option.
    pub fn parse_checked(text: &str) -> Result<KernelConfig, NotAKernelConfig> {
        for (n, line) in text.lines().enumerate() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') || Self::option_line(l).is_some() {
                continue;
            }
            return Err(NotAKernelConfig::Line {
                line: n + 1,
                text: l.chars().take(60).collect(),
            });
        }
        let c = Self::parse(text);
        if c.options.is_empty() {
            return Err(NotAKernelConfig::Empty);
        }
        Ok(c)
    }

    /// `CONFIG_X=v` -> (CONFIG_X, v), `# CONFIG_X is not set` -> (CONFIG_X, n).
    fn option_line(line: &str) -> Option<(&str, &str)> {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("# ")
            && let Some(name) = rest.strip_suffix(" is not set")
        {
            let name = name.trim();
            return valid_name(name).then_some((name, "n"));
        }
        let (k, v) = l.split_once('=')?;
        valid_name(k).then(|| (k, v.trim_matches('"')))
    }

    /// Whether an option is built in or a module.
    pub fn enabled(&self, name: &str) -> bool {
        matches!(self.options.get(name).map(String::as_str), Some("y" | "m"))
    }

    /// The value of an option as written (`y`, `m`, `n`, ...), if the file mentions it.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.options.get(name).map(String::as_str)
    }

    /// The value of an option as a sentence part: `y`, `m`, or `not set`.
    pub fn shown(&self, name: &str) -> String {
        match self.value(name) {
            Some("n") | None => "not set".into(),
            Some(v) => v.to_string(),
        }
    }

    /// Every option the file mentions, by name, with its value as written (`n` for
    /// `# CONFIG_X is not set`).
    pub fn options(&self) -> impl Iterator<Item = (&str, &str)> {
        self.options.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The options whose values differ between `self` and `other`, by name: (name, value
    /// here, value there), `None` where a file does not mention the option. An option
    /// one file does not mention and the other says is not set does not differ.
    pub fn differences(
        &self,
        other: &KernelConfig,
    ) -> Vec<(String, Option<String>, Option<String>)> {
        let names: BTreeSet<&String> = self.options.keys().chain(other.options.keys()).collect();
        let unset = |v: Option<&String>| v.is_none_or(|v| v == "n");
        names
            .into_iter()
            .filter_map(|k| {
                let (a, b) = (self.options.get(k), other.options.get(k));
                (a != b && !(unset(a) && unset(b))).then(|| (k.clone(), a.cloned(), b.cloned()))
            })
            .collect()
    }

    /// The `ckpt_const` variant this config selects: x86_64's AT_VECTOR_SIZE depends
    /// on CONFIG_IA32_EMULATION (kernel-consts.md §3). None when the file does not say.
    pub fn constants_variant(&self) -> Option<(&'static str, &'static str)> {
        self.value("CONFIG_IA32_EMULATION")
            .map(|v| ("CONFIG_IA32_EMULATION", if v == "y" { "y" } else { "n" }))
    }
}

fn valid_name(name: &str) -> bool {
    name.strip_prefix("CONFIG_").is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

/// Where a config came from, as the summary and the report say it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum ConfigOrigin {
    /// A file named on the command line (`--target-config F`, `--source-config F`).
    File(String),
    /// The image's container annotation (`ckpt annotate --config`).
    Annotation,
}

impl fmt::Display for ConfigOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigOrigin::File(p) => write!(f, "{p}"),
            ConfigOrigin::Annotation => f.write_str("the image's annotation"),
        }
    }
}

/// A config and where it came from.
#[derive(Debug, Clone)]
pub struct GivenConfig {
    /// The options.
    pub config: KernelConfig,
    /// Where it came from.
    pub origin: ConfigOrigin,
}

impl GivenConfig {
    /// `config` from `origin`.
    pub fn new(config: KernelConfig, origin: ConfigOrigin) -> GivenConfig {
        GivenConfig { config, origin }
    }
}

/// Which side of a conversion a config describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The kernel that wrote the image.
    Source,
    /// The kernel that is to restart it.
    Target,
}

/// One config-dependent decision of a conversion: what was decided about which fact,
/// from which config, by which rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigDecision {
    /// The fact (`ckpt_const.at_vector_size`, `CONFIG_FUTEX`).
    pub fact: String,
    /// What the conversion did (`44 entries (CONFIG_IA32_EMULATION=y)`, `dropped`).
    pub decision: String,
    /// The config it came from: `target: FILE`, `source: the image's annotation`, or
    /// `target: not given (the default, ...)`.
    pub config: String,
    /// Where the rule comes from (reference notes, kernel patches).
    pub source: &'static str,
    /// How sure the rule is.
    pub confidence: crate::steps::Confidence,
}

/// `side: origin` for a config, or `side: not given (what is assumed)`.
pub fn config_label(side: Side, given: Option<&GivenConfig>, assumed: &str) -> String {
    let s = match side {
        Side::Source => "source",
        Side::Target => "target",
    };
    match given {
        Some(g) => format!("{s} config {}", g.origin),
        None if assumed.is_empty() => format!("{s} config not given"),
        None => format!("{s} config not given ({assumed})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_by_option_and_unset_equals_unmentioned() {
        let a = KernelConfig::parse("CONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_D=1\n");
        let b = KernelConfig::parse("CONFIG_A=y\nCONFIG_B=y\nCONFIG_E=y\n");
        let s = |x: &str| Some(x.to_string());
        assert_eq!(
            a.differences(&b),
            vec![
                ("CONFIG_B".into(), s("m"), s("y")),
                ("CONFIG_D".into(), s("1"), None),
                ("CONFIG_E".into(), None, s("y")),
            ]
        );
        assert!(a.differences(&a).is_empty());
        assert_eq!(a.options().count(), 4);
    }

    #[test]
    fn config_files() {
        let c = KernelConfig::parse(
            "CONFIG_EPOLL=y\n# CONFIG_INET is not set\nCONFIG_UNIX=m\nCONFIG_LOCALVERSION=\"-ckpt\"\n",
        );
        assert!(c.enabled("CONFIG_EPOLL") && c.enabled("CONFIG_UNIX"));
        assert!(!c.enabled("CONFIG_INET") && !c.enabled("CONFIG_FUTEX"));
        assert_eq!(c.value("CONFIG_INET"), Some("n"));
        assert_eq!(c.value("CONFIG_LOCALVERSION"), Some("-ckpt"));
        assert_eq!(c.shown("CONFIG_INET"), "not set");
        assert_eq!(c.shown("CONFIG_FUTEX"), "not set");
        assert_eq!(c.shown("CONFIG_UNIX"), "m");
    }

    #[test]
    fn text_that_is_not_a_config_is_refused_with_its_line() {
        let ok = "#\n# Automatically generated file; DO NOT EDIT.\n\nCONFIG_64BIT=y\n";
        assert!(
            KernelConfig::parse_checked(ok)
                .unwrap()
                .enabled("CONFIG_64BIT")
        );
        assert_eq!(
            KernelConfig::parse_checked("CONFIG_A=y\nhello world\n"),
            Err(NotAKernelConfig::Line {
                line: 2,
                text: "hello world".into()
            })
        );
        assert_eq!(
            KernelConfig::parse_checked("# only comments\n"),
            Err(NotAKernelConfig::Empty)
        );
        assert!(KernelConfig::parse_checked("CONFIG_=y\n").is_err());
        assert!(KernelConfig::parse_checked("\u{7f}ELF\u{2}\u{1}").is_err());
    }

    #[test]
    fn the_variant_follows_ia32_emulation() {
        let y = KernelConfig::parse("CONFIG_IA32_EMULATION=y\n");
        let n = KernelConfig::parse("# CONFIG_IA32_EMULATION is not set\n");
        assert_eq!(y.constants_variant(), Some(("CONFIG_IA32_EMULATION", "y")));
        assert_eq!(n.constants_variant(), Some(("CONFIG_IA32_EMULATION", "n")));
        assert_eq!(KernelConfig::default().constants_variant(), None);
    }
}
