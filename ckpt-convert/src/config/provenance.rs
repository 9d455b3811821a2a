//! What an image's annotations say against what the image itself says: a note that
//! names a fact the image holds (its hostname, kernel release, architecture, ...) with
//! another value, and a kernel config that does not fit the image (another `ckpt_const`
//! variant than the header's, or an option the records need set to "not set"). The
//! image wins: these are reported, never applied.

use ckpt_format::input::Input;
use ckpt_format::read::{Decoded, HeaderPeek, RAW_PAGE};
use ckpt_format::value::Value;
use ckpt_format::{Format, Reader};
use serde::Serialize;

use super::{KernelConfig, Needs};

/// One annotation the image contradicts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contradiction {
    /// The annotation (`note hostname=web1`, `kernel config`).
    pub annotation: String,
    /// What it says (`web1`, `CONFIG_IA32_EMULATION is not set`).
    pub says: String,
    /// What the image says instead, and where (`UTS namespace nodename "web2"`).
    pub image: String,
}

/// The `ckpt_const` config variant the constants of a HEADER (`d` its decoded fields,
/// `rec` its bytes, of `format`) are those of: `(CONFIG_IA32_EMULATION, y)` for an
/// x86_64 header with the IA32_EMULATION=y AT_VECTOR_SIZE. None when the constants do
/// not depend on the config, or fit neither variant.
pub fn header_variant(
    format: &Format,
    d: &Decoded,
    rec: &[u8],
) -> Option<(&'static str, &'static str)> {
    const OPTION: &str = "CONFIG_IA32_EMULATION";
    let peek = HeaderPeek::parse(rec).ok()?;
    let header: Vec<(String, u64)> = d
        .fields
        .iter()
        .filter_map(|(p, v)| {
            let n = p.strip_prefix("constants.")?;
            Some((n.to_string(), v.as_int()? as u64))
        })
        .collect();
    let fits = |val: &str| {
        crate::kernel::constants_for(format.schema, peek.kernel, format.arch, Some((OPTION, val)))
            .filter(|k| {
                k.config
                    .as_ref()
                    .is_some_and(|(o, v)| o == OPTION && v == val)
            })
            .map(|k| {
                k.values
                    .iter()
                    .all(|(n, v)| header.iter().any(|(hn, hv)| hn == n && hv == v))
            })
    };
    match (fits("y"), fits("n")) {
        (Some(true), Some(false)) => Some((OPTION, "y")),
        (Some(false), Some(true)) => Some((OPTION, "n")),
        _ => None,
    }
}

/// The facts of an image a note may name, by the note's key (lower case, `-` as `_`).
const NOTE_FACTS: &[(&[&str], &str)] = &[
    (&["hostname", "nodename"], "nodename"),
    (&["domainname"], "domainname"),
    (&["release", "uts_release", "kernel_release"], "uts_release"),
    (&["version", "uts_version"], "uts_version"),
    (&["machine", "uts_machine"], "uts_machine"),
    (&["kernel"], "kernel"),
    (&["arch"], "arch"),
];

/// Reads the records of the image (not its pages) and returns where `notes` and
/// `config` contradict it.
pub fn contradictions<R: Input>(
    mut reader: Reader<R>,
    notes: &[(String, String)],
    config: Option<&KernelConfig>,
) -> Result<Vec<Contradiction>, ckpt_format::Error> {
    let format = Format::shared(reader.format().schema, reader.format().arch);
    let mut facts: Vec<(&'static str, String, String)> = vec![(
        "arch",
        format.arch.name().to_string(),
        "the header's arch".into(),
    )];
    let mut variant = None;
    let mut needs = Needs::new();
    let mut uts_seen = false;
    while let Some(info) = reader.next_record()? {
        if !info.inline || info.name == RAW_PAGE {
            continue;
        }
        let d = reader.decode()?;
        match (info.name, info.payload_of) {
            ("HEADER", _) => {
                let rec = reader.record_bytes();
                variant = header_variant(format, &d, rec);
                if let Ok(p) = HeaderPeek::parse(rec) {
                    let k = format!("{}.{}.{}", p.kernel.0, p.kernel.1, p.kernel.2);
                    facts.push(("kernel", k, "the header's kernel version".into()));
                }
            }
            ("BUFFER", Some(("HEADER", name))) => {
                let body = &reader.record_bytes()[8..];
                let text = body.split(|&b| b == 0).next().unwrap_or_default();
                let name: &'static str = match name {
                    "uts_release" => "uts_release",
                    "uts_version" => "uts_version",
                    "uts_machine" => "uts_machine",
                    _ => "",
                };
                if !name.is_empty() {
                    facts.push((
                        name,
                        String::from_utf8_lossy(text).into_owned(),
                        format!("the header's {name}"),
                    ));
                }
            }
            // The first UTS namespace is the checkpointed tree's own.
            ("UTS_NS", None) if !uts_seen => {
                uts_seen = true;
                for m in ["nodename", "domainname"] {
                    if let Some(Value::Text(t)) = d.get(m) {
                        facts.push((m, t.clone(), format!("the UTS namespace's {m}")));
                    }
                }
            }
            _ => {}
        }
        needs.observe(format, &info, &d);
    }
    let mut found = Vec::new();
    for (key, value) in notes {
        let k = key.to_ascii_lowercase().replace('-', "_");
        let Some((_, fact)) = NOTE_FACTS
            .iter()
            .find(|(keys, _)| keys.contains(&k.as_str()))
        else {
            continue;
        };
        if let Some((_, have, where_)) = facts.iter().find(|(f, _, _)| f == fact)
            && have != value
        {
            found.push(Contradiction {
                annotation: format!("note {key}={value}"),
                says: value.clone(),
                image: format!("{where_} is \"{have}\""),
            });
        }
    }
    if let Some(cfg) = config {
        if let Some((opt, image)) = variant
            && let Some((_, said)) = cfg.constants_variant()
            && said != image
        {
            found.push(Contradiction {
                annotation: "kernel config".into(),
                says: format!("{opt}={said}"),
                image: format!("the header's ckpt_const is that of {opt}={image}"),
            });
        }
        for (opt, records) in needs.list() {
            if cfg.value(&opt).is_some() && !cfg.enabled(&opt) {
                found.push(Contradiction {
                    annotation: "kernel config".into(),
                    says: format!("{opt} is not set"),
                    image: format!("{} need it", records.join(", ")),
                });
            }
        }
    }
    Ok(found)
}
