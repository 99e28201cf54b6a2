//! Front matter against its collection's schema: every field typed, every
//! undeclared key an error (with a suggestion when it looks like a typo),
//! every missing required field reported.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::{Collection, Config, Field, FieldType};
use crate::content::{Kind, Source};
use crate::diagnostics::Diagnostic;
pub use crate::field::{FieldValue, Located, Reference};
use crate::names::suggest;
use crate::yaml::{Node, Value};

/// The validated front matter of one source.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    pub title: Option<String>,
    pub description: Option<String>,
    pub template: Option<Located<String>>,
    pub draft: bool,
    pub fields: Arc<BTreeMap<String, FieldValue>>,
    /// The front matter had errors (already reported): the page is kept so
    /// that links to it resolve, but not rendered or listed, so that its
    /// gaps cause no second wave of errors.
    pub invalid: bool,
}

/// Keys every file may carry whatever its collection declares.
const RESERVED: &[&str] = &["draft", "template"];
/// Keys of sections and plain pages, which have no schema.
const PAGE_KEYS: &[&str] = &["title", "description", "draft", "template"];

pub fn validate(source: &Source, config: &Config) -> (Meta, Vec<Diagnostic>) {
    let mut v = Validator { file: source, errors: Vec::new() };
    let meta = match &source.kind {
        Kind::Entry { collection } => {
            let collection = config.collection(collection).expect("classified entries name a configured collection");
            v.entry(collection)
        }
        Kind::Section | Kind::Page => v.page(),
    };
    let meta = Meta { invalid: source.front_failed || !v.errors.is_empty(), ..meta };
    source.quote(&mut v.errors);
    (meta, v.errors)
}

struct Validator<'a> {
    file: &'a Source,
    errors: Vec<Diagnostic>,
}

impl<'a> Validator<'a> {
    fn error(&mut self, line: usize, col: usize, message: String) -> &mut Diagnostic {
        self.errors.push(Diagnostic::new(&self.file.file, line, col, message));
        self.errors.last_mut().expect("just pushed")
    }

    /// The top-level mapping, or an error if the front matter is something else.
    fn pairs(&mut self) -> &'a [(Node, Node)] {
        let file = self.file;
        match &file.front {
            None => &[],
            Some(Node { value: Value::Map(pairs), .. }) => pairs,
            Some(Node { value: Value::Null, .. }) => &[],
            Some(node) => {
                let kind = node.value.kind();
                self.error(node.line, node.col, format!("front matter must be a mapping of fields, found {kind}"));
                &[]
            }
        }
    }

    /// Calls `field` for every key of the front matter that is not reserved.
    fn each_field(
        &mut self,
        meta: &mut Meta,
        mut field: impl FnMut(&mut Self, &mut Meta, &'a str, &'a Node, &'a Node),
    ) {
        for (key, value) in self.pairs() {
            let Some(name) = self.key(key) else { continue };
            if !self.reserved(name, value, meta) {
                field(self, meta, name, key, value);
            }
        }
    }

    /// Reports key `name` as undeclared, suggesting the closest of `known`.
    fn unknown(&mut self, key: &Node, name: &str, known: &[&str], expected: String) {
        let hint = suggest(name, known.iter().copied()).map(|s| format!("did you mean `{s}`?"));
        let d = self.error(key.line, key.col, format!("unknown field `{name}`: {expected}"));
        d.hint = hint;
        d.len = name.len();
    }

    fn entry(&mut self, collection: &Collection) -> Meta {
        let mut meta = Meta::default();
        // Fields written, valid or not: a wrong value is reported once, not also as missing.
        let mut written: Vec<&str> = Vec::new();
        self.each_field(&mut meta, |v, meta, name, key, value| match collection.fields.get(name) {
            Some(field) => {
                written.push(name);
                if let Some(typed) = v.value(name, &field.ty, value) {
                    v.constraints(field, &typed, value);
                    Arc::make_mut(&mut meta.fields).insert(name.to_string(), typed);
                }
            }
            None => {
                let declared: Vec<&str> = collection.fields.keys().map(String::as_str).collect();
                let known: Vec<&str> = declared.iter().copied().chain(RESERVED.iter().copied()).collect();
                let list = declared.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ");
                v.unknown(key, name, &known, format!("collection `{}` declares {list}", collection.name));
            }
        });
        let missing: Vec<&str> = collection
            .fields
            .values()
            .filter(|f| f.required && !written.contains(&f.name.as_str()))
            .map(|f| f.name.as_str())
            .collect();
        if !missing.is_empty() && !self.file.front_failed {
            let list = missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ");
            let message = match &self.file.front {
                None => format!("no front matter, but collection `{}` requires {list}", collection.name),
                Some(_) => format!("missing required field{} {list}", if missing.len() == 1 { "" } else { "s" }),
            };
            self.error(1, 1, message);
        }
        if let Some(FieldValue::Str(t)) = meta.fields.get("title") {
            meta.title = Some(t.clone());
        }
        meta
    }

    /// What a field declares beyond its type: `required` means not empty
    /// (`title: ""`, `authors: []` or `authors: [""]` are missing values, not
    /// values), and `min`/`max` bound a number.
    fn constraints(&mut self, field: &Field, typed: &FieldValue, node: &Node) {
        if field.required && typed.is_blank() {
            self.error(node.line, node.col, format!("field `{}` is required, so it must not be empty", field.name));
        }
        let Some(number) = typed.number() else { return };
        let shown = |b: f64| if b.fract() == 0.0 { format!("{b:.0}") } else { b.to_string() };
        if let Some(min) = field.min.filter(|m| number < *m) {
            self.error(node.line, node.col, format!("field `{}` must be at least {}", field.name, shown(min)));
        }
        if let Some(max) = field.max.filter(|m| number > *m) {
            self.error(node.line, node.col, format!("field `{}` must be at most {}", field.name, shown(max)));
        }
    }

    fn page(&mut self) -> Meta {
        let mut meta = Meta::default();
        self.each_field(&mut meta, |v, meta, name, key, value| match name {
            "title" => meta.title = v.string(name, value),
            "description" => meta.description = v.string(name, value),
            _ => v.unknown(key, name, PAGE_KEYS, format!("pages outside collections take {}", PAGE_KEYS.join(", "))),
        });
        meta
    }

    fn key<'n>(&mut self, key: &'n Node) -> Option<&'n str> {
        match &key.value {
            Value::Str(s) => Some(s),
            other => {
                let kind = other.kind();
                self.error(key.line, key.col, format!("field names must be strings, found {kind}"));
                None
            }
        }
    }

    /// Handles the keys every file may carry; true if `name` was one.
    fn reserved(&mut self, name: &str, value: &Node, meta: &mut Meta) -> bool {
        match name {
            "draft" => {
                if let Some(FieldValue::Bool(b)) = self.value(name, &FieldType::Boolean, value) {
                    meta.draft = b;
                }
                true
            }
            "template" => {
                meta.template =
                    self.string(name, value).map(|t| Located { value: t, line: value.line, col: value.col });
                true
            }
            _ => false,
        }
    }

    fn string(&mut self, name: &str, value: &Node) -> Option<String> {
        self.value(name, &FieldType::String, value)?.term().map(str::to_string)
    }

    /// The value of `node` as type `ty`, or `None` with every mismatch reported.
    fn value(&mut self, name: &str, ty: &FieldType, node: &Node) -> Option<FieldValue> {
        match ty.read(node) {
            Ok(value) => Some(value),
            Err(mismatches) => {
                for m in mismatches {
                    let d = self.error(m.line, m.col, m.message(name));
                    d.hint = m.hint();
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const SITE: &str = "title: T\ncollections:\n  studies:\n    fields:\n      title: {type: string, required: true}\n      year: {type: integer, required: true}\n      design: {type: enum, values: [crossover, review]}\n      published: {type: date}\n      tags: {type: list, of: string}\n      dose: {type: number, min: 0.5, max: 2}\n";

    fn check(text: &str) -> (Meta, Vec<Diagnostic>) {
        let config = crate::config::parse(SITE).unwrap();
        let rel = Path::new("studies/a.md");
        let (source, _) =
            crate::content::parse_source(rel, &Path::new("content").join(rel), text.into(), &config, None).unwrap();
        validate(&source, &config)
    }

    #[test]
    fn valid_front_matter_is_typed() {
        let (meta, errs) = check("---\ntitle: A\nyear: 2006\ndesign: review\ntags: x\npublished: 2024-02-29\n---\n");
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(meta.title.as_deref(), Some("A"));
        assert_eq!(meta.fields["year"], FieldValue::Int(2006));
        assert_eq!(meta.fields["tags"], FieldValue::List(vec![FieldValue::Str("x".into())]));
    }

    #[test]
    fn every_error_is_reported_with_its_position() {
        let (_, errs) = check("---\ntitle: A\nyaer: 2006\ndesign: reveiw\npublished: 2023-02-29\n---\n");
        let summary: Vec<(usize, usize, Option<&str>)> =
            errs.iter().map(|d| (d.line, d.col, d.hint.as_deref())).collect();
        assert_eq!(
            summary,
            vec![
                (3, 1, Some("did you mean `year`?")),
                (4, 9, Some("did you mean `review`?")),
                (5, 12, None),
                (1, 1, None),
            ],
            "{errs:?}"
        );
        assert!(errs[3].message.contains("missing required field `year`"));
    }

    #[test]
    fn numbers_are_bounded_both_ways() {
        let (_, errs) = check("---\ntitle: A\nyear: 2006\ndose: 2.5\n---\n");
        let found: Vec<(usize, usize, &str)> = errs.iter().map(|d| (d.line, d.col, d.message.as_str())).collect();
        assert_eq!(found, [(4, 7, "field `dose` must be at most 2")]);
        let (_, errs) = check("---\ntitle: A\nyear: 2006\ndose: 0.25\n---\n");
        assert_eq!(errs[0].message, "field `dose` must be at least 0.5");
    }

    #[test]
    fn no_front_matter_in_a_collection_with_required_fields_is_an_error() {
        let (_, errs) = check("Just text\n");
        assert!(errs[0].message.starts_with("no front matter"), "{errs:?}");
    }
}
