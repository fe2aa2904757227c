//! The post-mortem report as one self-contained HTML document: the page around sections that
//! the other renderers already produced (text tables in the docker CLI's style, chart SVGs).
//!
//! Invariants:
//! - self-contained: inline CSS and inline SVG only; the page names no URL to fetch (no
//!   `src`/`href` to anything but an anchor of the page itself, no script, no font, no
//!   `@import`), so it reads the same offline and prints to PDF from any browser;
//! - every piece of text from the data is HTML-escaped ([`escape`]); SVGs come from
//!   [`crate::render::chart`], whose text plotters escapes;
//! - nothing here computes: it lays out what it is given, in the order it is given.

use std::fmt::Write as _;

/// `&`, `<`, `>`, `"` and `'` as entities.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + s.len() / 16);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The style sheet: screen and print (A4 landscape-friendly widths, no page break inside a
/// table row, a figure or a `<pre>` block when it fits on a page).
const CSS: &str = r#"
:root { --fg:#1b1f23; --muted:#57606a; --line:#d0d7de; --bad:#b42318; --warn:#9a6700; --ok:#1a7f37; --bg2:#f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--fg); margin: 0 auto; padding: 24px 32px; max-width: 1280px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
p.sub { color: var(--muted); margin: 0 0 12px; }
nav ol { columns: 2; margin: 8px 0 0; padding-left: 20px; }
nav a, a { color: #0969da; text-decoration: none; }
pre { font: 12px/1.35 ui-monospace, "DejaVu Sans Mono", monospace; background: var(--bg2); border: 1px solid var(--line); border-radius: 4px; padding: 8px 10px; overflow-x: auto; white-space: pre; }
code { font: 12px ui-monospace, "DejaVu Sans Mono", monospace; background: var(--bg2); padding: 1px 4px; border-radius: 3px; }
table.t { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 13px; }
table.t th, table.t td { border: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; }
table.t th { background: var(--bg2); }
tr.error td.sev { color: var(--bad); font-weight: 600; }
tr.warning td.sev { color: var(--warn); font-weight: 600; }
tr.info td.sev { color: var(--muted); }
.verdict { border-left: 6px solid var(--ok); background: #eefbf1; padding: 10px 14px; margin: 8px 0; font-weight: 600; }
.verdict.bad { border-color: var(--bad); background: #fdf0ef; }
.command { font: 13px ui-monospace, "DejaVu Sans Mono", monospace; background: #fff8c5; border: 1px solid #d4a72c; padding: 8px 10px; border-radius: 4px; }
figure { margin: 10px 0 18px; }
figure svg { width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 13px; }
footer { color: var(--muted); font-size: 12px; margin-top: 32px; border-top: 1px solid var(--line); padding-top: 8px; }
@media print {
  body { padding: 0; max-width: none; font-size: 11px; }
  nav { display: none; }
  h2 { break-after: avoid; }
  pre { white-space: pre-wrap; font-size: 9px; }
  figure, tr, .verdict, .command { break-inside: avoid; }
  a { color: inherit; }
}
"#;

/// One cell of a [`Page::table`].
pub enum Cell {
    /// Text (escaped).
    Text(String),
    /// Text in a monospace `<code>` (escaped).
    Code(String),
}

/// A report page being laid out.
pub struct Page {
    title: String,
    subtitle: String,
    toc: Vec<(String, String)>,
    body: String,
}

impl Page {
    /// A page with a title and a line under it.
    pub fn new(title: &str, subtitle: &str) -> Page {
        Page { title: title.into(), subtitle: subtitle.into(), toc: Vec::new(), body: String::new() }
    }

    /// Start a section (`<section id>` with an `<h2>`), listed in the contents.
    pub fn section(&mut self, id: &str, heading: &str) {
        if !self.toc.is_empty() {
            self.body.push_str("</section>\n");
        }
        self.toc.push((id.into(), heading.into()));
        let _ = writeln!(self.body, "<section id=\"{}\">\n<h2>{}</h2>", escape(id), escape(heading));
    }

    /// A sub-heading.
    pub fn h3(&mut self, text: &str) {
        let _ = writeln!(self.body, "<h3>{}</h3>", escape(text));
    }

    /// A paragraph.
    pub fn para(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p>{}</p>", escape(text));
    }

    /// The verdict box: green when `ok`, red otherwise.
    pub fn verdict(&mut self, text: &str, ok: bool) {
        let _ = writeln!(self.body, "<div class=\"verdict{}\">{}</div>", if ok { "" } else { " bad" }, escape(text));
    }

    /// A command to run, set apart.
    pub fn command(&mut self, cmd: &str) {
        let _ = writeln!(self.body, "<div class=\"command\">{}</div>", escape(cmd));
    }

    /// Preformatted text (a docker-CLI-style table as the text renderers print it).
    pub fn pre(&mut self, text: &str) {
        let _ = writeln!(self.body, "<pre>{}</pre>", escape(text.trim_end_matches('\n')));
    }

    /// A table; each row has a class (`error`, `warning`, `info` colour the `sev` cell, the
    /// first cell).
    pub fn table(&mut self, headers: &[&str], rows: Vec<(String, Vec<Cell>)>) {
        self.body.push_str("<table class=\"t\"><thead><tr>");
        for h in headers {
            let _ = write!(self.body, "<th>{}</th>", escape(h));
        }
        self.body.push_str("</tr></thead><tbody>\n");
        for (class, cells) in rows {
            let _ = write!(self.body, "<tr class=\"{}\">", escape(&class));
            for (i, c) in cells.into_iter().enumerate() {
                let cls = if i == 0 { " class=\"sev\"" } else { "" };
                match c {
                    Cell::Text(t) => {
                        let _ = write!(self.body, "<td{cls}>{}</td>", escape(&t));
                    }
                    Cell::Code(t) => {
                        let _ = write!(self.body, "<td{cls}><code>{}</code></td>", escape(&t));
                    }
                }
            }
            self.body.push_str("</tr>\n");
        }
        self.body.push_str("</tbody></table>\n");
    }

    /// A chart: an inline SVG document (its XML declaration, if any, dropped) and a caption.
    pub fn figure(&mut self, id: &str, svg: &str, caption: &str) {
        let svg = match svg.find("<svg") {
            Some(i) => &svg[i..],
            None => svg,
        };
        let _ = writeln!(
            self.body,
            "<figure id=\"{}\">\n{}\n<figcaption>{}</figcaption>\n</figure>",
            escape(id),
            svg.trim_end(),
            escape(caption)
        );
    }

    /// The whole document.
    pub fn finish(mut self, footer: &str) -> String {
        if !self.toc.is_empty() {
            self.body.push_str("</section>\n");
        }
        let mut o = String::with_capacity(self.body.len() + 8192);
        let _ = write!(
            o,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<header>\n<h1>{}</h1>\n<p class=\"sub\">{}</p>\n</header>\n",
            escape(&self.title),
            CSS,
            escape(&self.title),
            escape(&self.subtitle)
        );
        o.push_str("<nav><strong>Contents</strong><ol>\n");
        for (id, h) in &self.toc {
            let _ = writeln!(o, "<li><a href=\"#{}\">{}</a></li>", escape(id), escape(h));
        }
        o.push_str("</ol></nav>\n<main>\n");
        o.push_str(&self.body);
        let _ = write!(o, "</main>\n<footer>{}</footer>\n</body>\n</html>\n", escape(footer));
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_sections_are_listed() {
        let mut p = Page::new("t<1>", "s");
        p.section("a", "A & B");
        p.pre("<script>x</script>\n");
        p.table(&["H"], vec![("error".into(), vec![Cell::Text("\"q\"".into())])]);
        p.section("b", "B");
        p.figure("f", "<?xml version=\"1.0\"?>\n<svg></svg>", "cap");
        let h = p.finish("end");
        assert!(h.contains("<title>t&lt;1&gt;</title>"));
        assert!(h.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(!h.contains("<script>"));
        assert!(h.contains("<td class=\"sev\">&quot;q&quot;</td>"));
        assert!(h.contains("<li><a href=\"#a\">A &amp; B</a></li>"));
        assert!(!h.contains("<?xml"));
        assert_eq!(h.matches("<section").count(), h.matches("</section>").count());
    }
}
