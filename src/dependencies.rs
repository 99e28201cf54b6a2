//! Which templates a template depends on, found by reading its
//! `{% extends %}` and `{% include %}` tags, and a fingerprint per template
//! that changes when it or anything it depends on changes.

use crate::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

/// Names of the templates `source` extends or includes.
pub fn referenced_templates(source: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for tag in ["extends", "include"] {
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

/// A fingerprint per template over its own source and every template it
/// reaches through extends and include.
pub fn template_fingerprints(sources: &[(String, String)]) -> HashMap<String, u64> {
    let by_name: HashMap<&str, &str> = sources.iter().map(|(n, s)| (n.as_str(), s.as_str())).collect();
    sources
        .iter()
        .map(|(name, _)| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
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
                }
            }
            chain.sort();
            chain.hash(&mut hasher);
            (name.clone(), hasher.finish())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_extends_and_includes() {
        let src = r#"{% extends "base.html" %}{% include 'partials/toc.html' %}{% include "x.html" %}"#;
        assert_eq!(referenced_templates(src), ["base.html", "partials/toc.html", "x.html"]);
    }

    #[test]
    fn a_parent_change_changes_the_child() {
        let t = |base: &str| {
            template_fingerprints(&[
                ("base.html".into(), base.into()),
                ("page.html".into(), r#"{% extends "base.html" %}"#.into()),
                ("other.html".into(), "alone".into()),
            ])
        };
        let (a, b) = (t("one"), t("two"));
        assert_ne!(a["page.html"], b["page.html"]);
        assert_eq!(a["other.html"], b["other.html"]);
    }
}
