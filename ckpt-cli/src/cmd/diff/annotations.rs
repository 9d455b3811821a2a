//! What `ckpt diff` says about the additions of ckpt's container (schemas/container.md)
//! around either image: the container itself, then each annotation, one difference each;
//! for kernel configs, the CONFIG_ options that differ.

use ckpt_convert::config::KernelConfig;
use ckpt_format::container::{Annotations, ContainerInfo};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// One annotation that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnnotationDifference {
    /// Which: `container`, `kernel config`, `linux-cr tag`, `ckpt version`,
    /// `annotated at`, `note KEY`, `unknown key N`, `unknown sections`.
    pub what: String,
    /// In the first image; None when it has none.
    pub first: Option<String>,
    /// In the second image.
    pub second: Option<String>,
    /// For a kernel config in both: the options that differ.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<OptionDifference>,
}

/// A CONFIG_ option whose values differ between two kernel configs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OptionDifference {
    /// `CONFIG_...`.
    pub option: String,
    /// Its value in the first config (`n` for "is not set"); None when not mentioned.
    pub first: Option<String>,
    /// Its value in the second.
    pub second: Option<String>,
}

fn container_line(c: Option<&ContainerInfo>) -> Option<String> {
    c.map(|c| {
        let (a, b, p) = c.version;
        format!("ckpt container {a}.{b}.{p}, flags {:#x}", c.flags)
    })
}

fn short_sha(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..8])
}

/// A kernel config annotation as a difference shows it, and its options when it reads.
fn config_of(gz: &[u8]) -> (String, Option<KernelConfig>) {
    match crate::kconfig::gunzip(gz) {
        Ok(text) => (
            format!(
                "sha256 {}…, {} lines",
                short_sha(text.as_bytes()),
                text.lines().count()
            ),
            Some(KernelConfig::parse(&text)),
        ),
        Err(e) => (
            format!("{} bytes of gzip that do not read: {e}", gz.len()),
            None,
        ),
    }
}

fn kernel_config(a: Option<&[u8]>, b: Option<&[u8]>) -> Option<AnnotationDifference> {
    if a == b {
        return None;
    }
    let (sa, ca) = a.map(config_of).unzip();
    let (sb, cb) = b.map(config_of).unzip();
    let mut d = AnnotationDifference {
        what: "kernel config".into(),
        first: sa,
        second: sb,
        options: Vec::new(),
    };
    if let (Some(Some(x)), Some(Some(y))) = (&ca, &cb) {
        d.options = x
            .differences(y)
            .into_iter()
            .map(|(option, first, second)| OptionDifference {
                option,
                first,
                second,
            })
            .collect();
        if d.first == d.second {
            // The same text, compressed differently: the files still differ.
            d.first = a.map(|z| format!("the same text, gzip sha256 {}…", short_sha(z)));
            d.second = b.map(|z| format!("the same text, gzip sha256 {}…", short_sha(z)));
        }
    }
    Some(d)
}

/// A note's values by key (a key given twice keeps both, in order).
fn notes(a: &Annotations) -> Vec<(&str, String)> {
    let mut out: Vec<(&str, String)> = Vec::new();
    for (k, v) in &a.notes {
        match out.iter_mut().find(|(x, _)| x == k) {
            Some((_, all)) => {
                all.push_str(", ");
                all.push_str(v);
            }
            None => out.push((k, v.clone())),
        }
    }
    out
}

fn when(t: u64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(t);
    format!("{} ({t})", humantime::format_rfc3339_seconds(at))
}

/// The differences between the additions of the two images' containers (None: a plain
/// image), in a fixed order: the container, kernel config, linux-cr tag, ckpt version,
/// annotation time, notes by key (in the first's order, then the second's), unknown
/// entries by key, unknown sections.
pub fn compare(a: Option<&ContainerInfo>, b: Option<&ContainerInfo>) -> Vec<AnnotationDifference> {
    let mut out = Vec::new();
    let push = |out: &mut Vec<AnnotationDifference>,
                what: String,
                first: Option<String>,
                second: Option<String>| {
        if first != second {
            out.push(AnnotationDifference {
                what,
                first,
                second,
                options: Vec::new(),
            });
        }
    };
    push(
        &mut out,
        "container".into(),
        container_line(a),
        container_line(b),
    );
    let none = Annotations::default();
    let (x, y) = (
        a.map_or(&none, |c| &c.annotations),
        b.map_or(&none, |c| &c.annotations),
    );
    out.extend(kernel_config(
        x.kernel_config_gz.as_deref(),
        y.kernel_config_gz.as_deref(),
    ));
    push(
        &mut out,
        "linux-cr tag".into(),
        x.linux_cr_tag.clone(),
        y.linux_cr_tag.clone(),
    );
    push(
        &mut out,
        "ckpt version".into(),
        x.ckpt_version.clone(),
        y.ckpt_version.clone(),
    );
    push(
        &mut out,
        "annotated at".into(),
        x.annotated_at.map(when),
        y.annotated_at.map(when),
    );
    let (nx, ny) = (notes(x), notes(y));
    let mut keys: Vec<&str> = nx.iter().map(|(k, _)| *k).collect();
    keys.extend(
        ny.iter()
            .map(|(k, _)| *k)
            .filter(|k| !nx.iter().any(|(x, _)| x == k)),
    );
    let value = |n: &[(&str, String)], k: &str| {
        n.iter()
            .find(|(x, _)| *x == k)
            .map(|(_, v)| format!("{k}={v}"))
    };
    for k in keys {
        push(&mut out, format!("note {k}"), value(&nx, k), value(&ny, k));
    }
    let mut unknown: Vec<u16> = x.unknown_keys();
    unknown.extend(
        y.unknown_keys()
            .into_iter()
            .filter(|k| !x.unknown_keys().contains(k)),
    );
    let entry = |a: &Annotations, k: u16| {
        a.unknown
            .iter()
            .find(|(x, _)| *x == k)
            .map(|(_, v)| format!("{} bytes, sha256 {}…", v.len(), short_sha(v)))
    };
    for k in unknown {
        push(
            &mut out,
            format!("unknown key {k}"),
            entry(x, k),
            entry(y, k),
        );
    }
    let sections = |c: Option<&ContainerInfo>| {
        c.filter(|c| !c.unknown_sections.is_empty()).map(|c| {
            let kinds: Vec<String> = c.unknown_sections.iter().map(u32::to_string).collect();
            format!("kinds {}", kinds.join(", "))
        })
    };
    push(
        &mut out,
        "unknown sections".into(),
        sections(a),
        sections(b),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(text: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    fn container(a: Annotations) -> ContainerInfo {
        let mut c = Vec::new();
        ckpt_format::container::write(&mut c, ckpt_format::Endian::Little, &mut &b"i"[..], 1, &a)
            .unwrap();
        ckpt_format::container::read_info(&mut std::io::Cursor::new(&c)).unwrap()
    }

    #[test]
    fn a_container_against_a_plain_image_lists_what_it_carries() {
        let c = container(Annotations {
            kernel_config_gz: Some(gz("CONFIG_A=y\nCONFIG_B=m\n")),
            notes: vec![("site".into(), "lab=1".into())],
            ..Annotations::default()
        });
        let d = compare(Some(&c), None);
        let what: Vec<&str> = d.iter().map(|d| d.what.as_str()).collect();
        assert_eq!(what, ["container", "kernel config", "note site"]);
        assert_eq!(
            d[0].first.as_deref(),
            Some("ckpt container 1.0.0, flags 0x1")
        );
        assert!(
            d[1].first.as_deref().unwrap().ends_with(", 2 lines"),
            "{:?}",
            d[1]
        );
        assert_eq!(d[1].second, None);
        assert_eq!(d[2].first.as_deref(), Some("site=lab=1"));
        assert!(compare(None, None).is_empty());
        assert!(compare(Some(&c), Some(&c)).is_empty());
    }

    #[test]
    fn kernel_configs_differ_by_option_and_notes_by_key() {
        let one = |cfg: &str, note: &str| {
            container(Annotations {
                kernel_config_gz: Some(gz(cfg)),
                notes: vec![("site".into(), note.into()), ("same".into(), "x".into())],
                ..Annotations::default()
            })
        };
        let a = one("CONFIG_A=y\nCONFIG_B=m\n", "lab=1");
        let b = one("CONFIG_A=y\nCONFIG_B=y\n", "lab=2");
        let d = compare(Some(&a), Some(&b));
        let what: Vec<&str> = d.iter().map(|d| d.what.as_str()).collect();
        assert_eq!(what, ["kernel config", "note site"]);
        assert_eq!(
            d[0].options,
            vec![OptionDifference {
                option: "CONFIG_B".into(),
                first: Some("m".into()),
                second: Some("y".into())
            }]
        );
        assert_eq!(d[1].second.as_deref(), Some("site=lab=2"));
    }
}
