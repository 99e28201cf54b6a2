//! What each template reads: the templates it reaches (`extends`,
//! `include`, `import`, and the templates defining the Tera components it
//! calls) and the page-dependent globals any of those mention. Tera does
//! not report either, so both are read from the template sources, erring on
//! the side of too much: a template's output can only depend on what its
//! sources name.

use crate::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

/// The variables of the global context whose value depends on pages: a
/// template that reads one is rendered again when what it lists changes.
/// (`site` depends only on the configuration, which rebuilds everything.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Global {
    Collections,
    Sections,
    Taxonomies,
    /// Every published page, for the sitemap.
    Pages,
    /// The feed's entries.
    Feed,
    /// Per cited page, the pages citing it.
    CitedBy,
}

impl Global {
    pub const ALL: [Global; 6] =
        [Global::Collections, Global::Sections, Global::Taxonomies, Global::Pages, Global::Feed, Global::CitedBy];

    pub fn name(self) -> &'static str {
        match self {
            Global::Collections => "collections",
            Global::Sections => "sections",
            Global::Taxonomies => "taxonomies",
            Global::Pages => "pages",
            Global::Feed => "feed",
            Global::CitedBy => "cited_by",
        }
    }
}

/// What one template depends on.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateDeps {
    /// Changes when the template or any template it reaches changes.
    pub fingerprint: u64,
    /// The globals that it or any template it reaches mentions.
    pub globals: Vec<Global>,
}

/// Names of the templates `source` extends, includes or imports.
pub fn referenced_templates(source: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for tag in ["extends", "include", "import"] {
        let mut rest = source;
        while let Some(at) = rest.find(tag) {
            rest = &rest[at + tag.len()..];
            let trimmed = rest.trim_start();
            let Some(quote) = trimmed.chars().next().filter(|c| *c == '"' || *c == '\'') else { continue };
            if let Some(end) = trimmed[1..].find(quote) {
                out.push(&trimmed[1..1 + end]);
            }
        }
    }
    out
}

/// Names of the components `source` defines: `{% component name(...) %}`.
fn component_definitions(source: &str) -> Vec<&str> {
    tags(source, "{%")
        .filter_map(|tag| tag.strip_prefix("component").filter(|r| r.starts_with(char::is_whitespace)))
        .map(|r| name(r.trim_start()))
        .collect()
}

/// Names of the components `source` calls: `{{ <name .../> }}` or `{% <name ...> %}`.
fn component_calls(source: &str) -> Vec<&str> {
    tags(source, "{{")
        .chain(tags(source, "{%"))
        .filter_map(|tag| tag.strip_prefix('<'))
        .map(|r| name(r.trim_start()))
        .filter(|n| !n.is_empty()) // `{% </name> %}` closes a call
        .collect()
}

/// The text just inside each tag opened by `open`, after `-` and spaces.
fn tags<'a>(source: &'a str, open: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    source.match_indices(open).map(move |(at, _)| source[at + open.len()..].trim_start_matches('-').trim_start())
}

fn name(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.')).unwrap_or(s.len());
    &s[..end]
}

/// Whether the code of `source` (inside `{{ }}` and `{% %}`, not the HTML
/// around it nor `{# comments #}`) mentions global `name` as a variable of
/// its own (not as a field, such as `site.taxonomies`).
fn mentions(source: &str, name: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    code(source).any(|code| {
        code.match_indices(name).any(|(at, _)| {
            let before = code[..at].chars().next_back();
            let after = code[at + name.len()..].chars().next();
            !before.is_some_and(|c| ident(c) || c == '.') && !after.is_some_and(ident)
        })
    })
}

/// The inside of every `{{ … }}` and `{% … %}` of `source`.
fn code(source: &str) -> impl Iterator<Item = &str> {
    let mut rest = source;
    std::iter::from_fn(move || {
        loop {
            let at = rest.find('{')?;
            let close = match rest[at + 1..].chars().next() {
                Some('{') => "}}",
                Some('%') => "%}",
                Some('#') => "#}",
                _ => {
                    rest = &rest[at + 1..];
                    continue;
                }
            };
            let inner = &rest[at + 2..];
            let end = inner.find(close).unwrap_or(inner.len());
            rest = inner.get(end + 2..).unwrap_or("");
            if close != "#}" {
                return Some(&inner[..end]);
            }
        }
    })
}

/// What every template of `sources` (name, text) depends on.
pub fn template_deps(sources: &[(String, String)]) -> HashMap<String, TemplateDeps> {
    let by_name: HashMap<&str, &str> = sources.iter().map(|(n, s)| (n.as_str(), s.as_str())).collect();
    let mut definer: HashMap<&str, &str> = HashMap::default();
    for (name, source) in sources {
        for component in component_definitions(source) {
            definer.insert(component, name);
        }
    }
    sources
        .iter()
        .map(|(name, _)| {
            let mut seen = HashSet::default();
            let mut stack = vec![name.as_str()];
            let mut chain = Vec::new();
            while let Some(n) = stack.pop() {
                if !seen.insert(n) {
                    continue;
                }
                if let Some(src) = by_name.get(n) {
                    chain.push((n, *src));
                    stack.extend(referenced_templates(src));
                    stack.extend(component_calls(src).into_iter().filter_map(|c| definer.get(c).copied()));
                }
            }
            chain.sort();
            let mut hasher = crate::fingerprint_hasher();
            chain.hash(&mut hasher);
            let globals =
                Global::ALL.into_iter().filter(|g| chain.iter().any(|(_, s)| mentions(s, g.name()))).collect();
            (name.clone(), TemplateDeps { fingerprint: hasher.finish(), globals })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps(templates: &[(&str, &str)]) -> HashMap<String, TemplateDeps> {
        template_deps(&templates.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect::<Vec<_>>())
    }

    #[test]
    fn finds_extends_includes_and_imports() {
        let src = r#"{% extends "base.html" %}{% include 'partials/toc.html' %}{% import "macros.html" as m %}"#;
        assert_eq!(referenced_templates(src), ["base.html", "partials/toc.html", "macros.html"]);
    }

    #[test]
    fn finds_component_definitions_and_calls() {
        let src = "{% component ui.card(title) %}{{ body }}{% endcomponent ui.card %}\
                   {{<badge text=\"x\"/>}}{%- <ui.card title=\"t\"> %}x{% </ui.card> %}";
        assert_eq!(component_definitions(src), ["ui.card"]);
        assert_eq!(component_calls(src), ["badge", "ui.card"]);
    }

    #[test]
    fn a_parent_change_changes_the_child() {
        let t = |base: &str| {
            deps(&[("base.html", base), ("page.html", r#"{% extends "base.html" %}"#), ("other.html", "alone")])
        };
        let (a, b) = (t("one"), t("two"));
        assert_ne!(a["page.html"].fingerprint, b["page.html"].fingerprint);
        assert_eq!(a["other.html"].fingerprint, b["other.html"].fingerprint);
    }

    #[test]
    fn a_component_change_changes_its_callers_only() {
        let t = |body: &str| {
            let components = format!("{{% component badge(text) %}}{body}{{% endcomponent badge %}}");
            deps(&[
                ("components.html", components.as_str()),
                ("page.html", "{{<badge text=\"x\"/>}}"),
                ("other.html", "{{ x }}"),
            ])
        };
        let (a, b) = (t("<b>{{ text }}</b>"), t("<i>{{ text }}</i>"));
        assert_ne!(a["page.html"].fingerprint, b["page.html"].fingerprint);
        assert_eq!(a["other.html"].fingerprint, b["other.html"].fingerprint);
    }

    #[test]
    fn globals_read_inside_components_and_includes_count() {
        let d = deps(&[
            (
                "components.html",
                "{% component list() %}{% for s in collections.studies %}{% endfor %}{% endcomponent list %}",
            ),
            ("partial.html", "{{ sections.eras.url }}"),
            ("page.html", "{{<list/>}}{% include \"partial.html\" %}{{ site.taxonomies }}{{ page.collection }}"),
        ]);
        assert_eq!(d["page.html"].globals, [Global::Collections, Global::Sections]);
        assert_eq!(d["partial.html"].globals, [Global::Sections]);
    }

    #[test]
    fn globals_named_in_html_or_comments_do_not_count() {
        let d = deps(&[("page.html", "<p>Our feed of pages</p>{# lists taxonomies #}{{ page.title }}")]);
        assert_eq!(d["page.html"].globals, []);
    }
}
