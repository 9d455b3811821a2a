//! The report as one self-contained HTML page: its CSS, its script and the graph's SVG
//! inline, the [`Report`] embedded as one JSON document (`<script
//! type="application/json" id="report-data">`) that the script renders from. Nothing is
//! fetched: no network, no fonts. Everything from the image is escaped: in the HTML
//! by XML escaping, in the JSON every `<` as `\u003c` (so no `</script>`
//! or `<!--` can end the block), and the script sets text only (`textContent`), never
//! markup.
//!
//! An incomplete report says so on its first line (an HTML comment) and in a banner at
//! the top of the page, before any script runs.

use std::io::Write;

use super::Report;
use crate::text::xml_escape;

const CSS: &str = include_str!("page.css");
const JS: &str = include_str!("page.js");

/// The report's JSON document as embedded in the page (and written by `--json-data`):
/// compact (a 1,000-task page stays under 5 MB), every `<` escaped.
pub fn json(report: &Report) -> String {
    let text = serde_json::to_string(report).unwrap_or_else(|_| "{}".to_string());
    text.replace('<', "\\u003c")
}

/// Writes `report` as an HTML page, with `svg` (the graph, from [`crate::svg::write`])
/// inline.
pub fn write(report: &Report, svg: &str, out: &mut impl Write) -> std::io::Result<()> {
    let title = xml_escape(&report.title);
    let mut s = String::with_capacity(svg.len() + 64 * 1024);
    if report.complete {
        s.push_str("<!DOCTYPE html>\n");
    } else {
        // The first line says it: `head -1 report.html`.
        s.push_str(&format!(
            "<!DOCTYPE html><!-- INCOMPLETE: {} -->\n",
            xml_escape(&report.title).replace("--", "- -")
        ));
    }
    s.push_str(&format!(
        "<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n"
    ));
    if !report.complete {
        s.push_str(&format!(
            "<div id=\"incomplete\" class=\"banner\">INCOMPLETE: the image could not be read to its end; this report is of what was read. {}</div>\n",
            xml_escape(report.read_error.as_deref().unwrap_or(""))
        ));
    }
    s.push_str(&format!(
        "<header><h1>{title}</h1>\n<nav><a href=\"#summary\">Summary</a> <a href=\"#graph\">Graph</a> <a href=\"#task\">Task</a> <a href=\"#stats\">Statistics</a> <a href=\"#check\">Check</a> <a href=\"#convert\">Convert</a></nav></header>\n"
    ));
    s.push_str("<noscript><p class=\"banner\">This report is drawn by its script: allow JavaScript for this file (it fetches nothing).</p></noscript>\n");
    s.push_str("<section id=\"summary\"><h2>Summary</h2><div class=\"body\"></div></section>\n");
    s.push_str("<section id=\"graph\"><h2>Graph</h2><p class=\"hint\">Drag to pan, wheel or buttons to zoom; click a task to see it below.</p>\n<div class=\"tools\"><button id=\"zoom-in\" type=\"button\">+</button> <button id=\"zoom-out\" type=\"button\">&#8722;</button> <button id=\"zoom-fit\" type=\"button\">fit</button></div>\n<div id=\"graph-view\">\n");
    s.push_str(strip_prolog(svg));
    s.push_str("</div></section>\n");
    s.push_str("<section id=\"task\"><h2>Task</h2><label>Task: <select id=\"task-select\"></select></label><div class=\"body\"></div></section>\n");
    s.push_str("<section id=\"stats\"><h2>Statistics</h2><div class=\"body\"></div></section>\n");
    s.push_str("<section id=\"check\"><h2>Check</h2><div class=\"body\"></div></section>\n");
    s.push_str("<section id=\"convert\"><h2>Convert</h2><div class=\"body\"></div></section>\n");
    s.push_str("<script type=\"application/json\" id=\"report-data\">\n");
    s.push_str(&json(report));
    s.push_str("\n</script>\n<script>\n");
    s.push_str(JS);
    s.push_str("</script>\n</body>\n</html>\n");
    out.write_all(s.as_bytes())
}

/// `svg` without its XML declaration (not allowed inside HTML).
fn strip_prolog(svg: &str) -> &str {
    match svg.strip_prefix("<?xml") {
        Some(rest) => rest.find("?>").map_or(svg, |k| rest[k + 2..].trim_start()),
        None => svg,
    }
}

#[cfg(test)]
mod tests {
    use super::strip_prolog;

    #[test]
    fn prolog() {
        assert_eq!(
            strip_prolog("<?xml version=\"1.0\"?>\n<svg></svg>"),
            "<svg></svg>"
        );
        assert_eq!(strip_prolog("<svg/>"), "<svg/>");
    }
}
