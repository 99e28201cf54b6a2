//! Fenced code to HTML with CSS classes (the theme ships the stylesheet).
//! Syntax definitions load once per process, and only when a page first has
//! a code block.

use std::sync::OnceLock;
use syntect::html::{ClassStyle, ClassedHTMLGenerator};
use syntect::parsing::SyntaxSet;
use syntect::util::LinesWithEndings;

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

/// Highlights `code` as `lang`; an unknown or empty language gives escaped
/// plain text.
pub fn highlight(code: &str, lang: &str) -> String {
    let lang = lang.split([' ', ',', '{']).next().unwrap_or("").trim();
    let mut out = String::with_capacity(code.len() * 2);
    // Escaped here rather than by the markdown stage's helper: this module sits below it.
    let mut lang_attr = String::with_capacity(lang.len());
    let _ = pulldown_cmark_escape::escape_html(&mut lang_attr, lang);
    if lang.is_empty() {
        out.push_str("<pre class=\"code\"><code>");
    } else {
        out.push_str(&format!("<pre class=\"code\" data-lang=\"{lang_attr}\"><code class=\"language-{lang_attr}\">"));
    }
    match highlighted(code, lang) {
        Some(html) => out.push_str(&html),
        None => {
            let _ = pulldown_cmark_escape::escape_html(&mut out, code);
        }
    }
    out.push_str("</code></pre>\n");
    out
}

fn highlighted(code: &str, lang: &str) -> Option<String> {
    if lang.is_empty() {
        return None;
    }
    let set = syntaxes();
    let syntax = set.find_syntax_by_token(lang)?;
    let mut generator =
        ClassedHTMLGenerator::new_with_class_style(syntax, set, ClassStyle::SpacedPrefixed { prefix: "hl-" });
    for line in LinesWithEndings::from(code) {
        generator.parse_html_for_line_which_includes_newline(line).ok()?;
    }
    Some(generator.finalize())
}

#[cfg(test)]
mod tests {
    use super::highlight;

    #[test]
    fn known_language_gets_classes() {
        let html = highlight("fn main() {}\n", "rust");
        assert!(html.contains("class=\"hl-"), "{html}");
        assert!(html.contains("data-lang=\"rust\""));
    }

    #[test]
    fn unknown_language_is_escaped_plain_text() {
        let html = highlight("<script>alert(1)</script>\n", "nosuchlang");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("hl-"));
    }
}
