//! Small text helpers shared by the renderers.

/// `n thing` or `n things`.
pub fn plural(n: usize, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

/// `text` escaped for XML (element content and attribute values).
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot hold at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_and_escapes() {
        assert_eq!(plural(1, "file"), "1 file");
        assert_eq!(plural(42, "file"), "42 files");
        assert_eq!(
            xml_escape("a<b&\"c'\u{1}"),
            "a&lt;b&amp;&quot;c&apos;\u{fffd}"
        );
    }
}
