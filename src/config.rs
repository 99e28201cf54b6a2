//! `site.yaml`: the site's settings and its collection schemas.
//!
//! Two steps: serde reads the raw file (structure errors, located by
//! serde-saphyr), then `resolve` checks what serde cannot (type names,
//! reference targets, taxonomy kinds) and reports every such error at once.

use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::path::Path;

use crate::diagnostics::Diagnostic;

pub const CONFIG_FILE: &str = "site.yaml";

/// The resolved configuration every later stage reads.
#[derive(Debug, Clone)]
pub struct Config {
    pub title: String,
    pub description: String,
    /// Always ends with `/`. Every internal URL starts with it.
    pub base_url: String,
    pub theme: String,
    pub citations: Option<Citations>,
    /// Sorted by name, so that iteration order is deterministic.
    pub collections: Vec<Collection>,
    /// Free-form settings for the theme (`extra:`), given to templates
    /// as `site.extra`; annals itself reads none of them.
    pub extra: Option<crate::yaml::Node>,
}

impl Config {
    pub fn collection(&self, name: &str) -> Option<&Collection> {
        self.collections.iter().find(|c| c.name == name)
    }

    /// Taxonomy names (field names marked `taxonomy: true`), sorted, unique.
    pub fn taxonomies(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .collections
            .iter()
            .flat_map(|c| c.fields.values().filter(|f| f.taxonomy).map(|f| f.name.clone()))
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// Which entries `[@id]` cites, and which of their fields make the label.
#[derive(Debug, Clone)]
pub struct Citations {
    pub collection: String,
    pub authors: String,
    pub year: String,
    pub et_al: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Collection {
    pub name: String,
    /// Folder under `content/`.
    pub folder: String,
    /// Field that orders entries (and gives previous/next); by id when absent.
    pub sort_by: Option<String>,
    pub fields: BTreeMap<String, Field>,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub ty: FieldType,
    pub required: bool,
    pub taxonomy: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FieldType {
    String,
    /// Markdown, rendered to HTML.
    Text,
    Integer,
    Number,
    Boolean,
    /// `YYYY-MM-DD`.
    Date,
    Enum(Vec<String>),
    List(Box<FieldType>),
    /// The id of an entry of the named collection.
    Reference(String),
}

impl FieldType {
    /// How the type is named in error messages.
    pub fn describe(&self) -> String {
        match self {
            FieldType::String => "a string".into(),
            FieldType::Text => "a Markdown string".into(),
            FieldType::Integer => "an integer".into(),
            FieldType::Number => "a number".into(),
            FieldType::Boolean => "a boolean (true or false)".into(),
            FieldType::Date => "a date (YYYY-MM-DD)".into(),
            FieldType::Enum(values) => format!("one of {}", quoted_list(values)),
            FieldType::List(of) => format!("a list of {}", of.describe_plural()),
            FieldType::Reference(to) => format!("the id of an entry in `{to}`"),
        }
    }

    fn describe_plural(&self) -> String {
        match self {
            FieldType::Enum(values) => format!("values from {}", quoted_list(values)),
            FieldType::Reference(to) => format!("ids of entries in `{to}`"),
            other => other.describe().trim_start_matches("a ").trim_start_matches("an ").to_string() + "s",
        }
    }
}

pub fn quoted_list(values: &[String]) -> String {
    values.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default = "default_base_url")]
    base_url: String,
    #[serde(default = "default_theme")]
    theme: String,
    citations: Option<RawCitations>,
    #[serde(default)]
    collections: BTreeMap<String, RawCollection>,
    extra: Option<crate::yaml::Node>,
}

fn default_base_url() -> String {
    "/".into()
}
fn default_theme() -> String {
    "default".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCitations {
    collection: Spanned<String>,
    authors: Spanned<String>,
    year: Spanned<String>,
    et_al: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCollection {
    folder: Option<String>,
    sort_by: Option<Spanned<String>>,
    #[serde(default)]
    fields: BTreeMap<String, RawField>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    #[serde(rename = "type")]
    ty: Spanned<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    taxonomy: bool,
    values: Option<Vec<String>>,
    of: Option<RawOf>,
    to: Option<Spanned<String>>,
}

/// `of: string` or `of: { type: enum, values: [...] }`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawOf {
    Name(Spanned<String>),
    Spec(Box<RawField>),
}

/// Reads and resolves `root/site.yaml`.
pub fn load(root: &Path) -> Result<Config, Vec<Diagnostic>> {
    let path = root.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| vec![Diagnostic::file(CONFIG_FILE, format!("cannot read the site configuration: {e}"))])?;
    parse(&text)
}

/// Parses and resolves the text of a `site.yaml`.
pub fn parse(text: &str) -> Result<Config, Vec<Diagnostic>> {
    let raw: RawConfig = serde_saphyr::from_str(text).map_err(|e| {
        let (line, col) = e.location().map_or((0, 0), |l| (l.line() as usize, l.column() as usize));
        let message = e.without_snippet().to_string();
        let message = message.lines().next().unwrap_or("").to_string();
        vec![Diagnostic::new(CONFIG_FILE, line, col, format!("invalid site configuration: {message}"))]
    })?;
    resolve(raw)
}

fn at<T>(s: &Spanned<T>, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(CONFIG_FILE, s.referenced.line() as usize, s.referenced.column() as usize, message)
}

fn resolve(raw: RawConfig) -> Result<Config, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let names: Vec<String> = raw.collections.keys().cloned().collect();
    let mut collections = Vec::new();
    for (name, rc) in raw.collections {
        if !crate::content::is_valid_id(&name) {
            errors.push(Diagnostic::file(
                CONFIG_FILE,
                format!("collection name `{name}` must use lowercase letters, digits and hyphens only"),
            ));
        }
        let mut fields = BTreeMap::new();
        for (fname, rf) in rc.fields {
            if let Some(ty) = field_type(&rf, &names, &mut errors) {
                if rf.taxonomy && !is_taxonomy_type(&ty) {
                    errors.push(at(
                        &rf.ty,
                        format!("field `{fname}` is a taxonomy, so its type must be string, enum, or a list of those"),
                    ));
                }
                fields.insert(fname.clone(), Field { name: fname, ty, required: rf.required, taxonomy: rf.taxonomy });
            }
        }
        if let Some(sort_by) = &rc.sort_by {
            if !fields.contains_key(&sort_by.value) {
                errors.push(at(sort_by, format!("`sort_by: {}` names no field of collection `{name}`", sort_by.value)));
            }
        }
        collections.push(Collection {
            folder: rc.folder.unwrap_or_else(|| name.clone()),
            name,
            sort_by: rc.sort_by.map(|s| s.value),
            fields,
        });
    }
    let citations = raw.citations.map(|c| {
        match collections.iter().find(|col| col.name == c.collection.value) {
            None => {
                errors.push(at(&c.collection, format!("citations name an unknown collection `{}`", c.collection.value)))
            }
            Some(col) => {
                for f in [Some(&c.authors), Some(&c.year), c.et_al.as_ref()].into_iter().flatten() {
                    if !col.fields.contains_key(&f.value) {
                        errors.push(at(
                            f,
                            format!("citations name `{}`, which is not a field of `{}`", f.value, col.name),
                        ));
                    }
                }
            }
        }
        Citations {
            collection: c.collection.value,
            authors: c.authors.value,
            year: c.year.value,
            et_al: c.et_al.map(|s| s.value),
        }
    });
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut base_url = raw.base_url;
    if !base_url.ends_with('/') {
        base_url.push('/');
    }
    if let Some(extra) = raw.extra.as_ref().filter(|e| !matches!(e.value, crate::yaml::Value::Map(_))) {
        let d =
            Diagnostic::new(CONFIG_FILE, extra.line, extra.col, "`extra` must be a mapping of settings for the theme");
        return Err(vec![d]);
    }
    Ok(Config {
        title: raw.title,
        description: raw.description,
        base_url,
        theme: raw.theme,
        citations,
        collections,
        extra: raw.extra,
    })
}

fn is_taxonomy_type(ty: &FieldType) -> bool {
    match ty {
        FieldType::String | FieldType::Enum(_) => true,
        FieldType::List(of) => matches!(**of, FieldType::String | FieldType::Enum(_)),
        _ => false,
    }
}

const TYPE_NAMES: &[&str] = &["string", "text", "integer", "number", "boolean", "date", "enum", "list", "reference"];

fn field_type(rf: &RawField, collections: &[String], errors: &mut Vec<Diagnostic>) -> Option<FieldType> {
    let ty = match rf.ty.value.as_str() {
        "string" => FieldType::String,
        "text" => FieldType::Text,
        "integer" => FieldType::Integer,
        "number" => FieldType::Number,
        "boolean" => FieldType::Boolean,
        "date" => FieldType::Date,
        "enum" => match &rf.values {
            Some(values) if !values.is_empty() => FieldType::Enum(values.clone()),
            _ => {
                errors.push(at(&rf.ty, "an enum field needs `values`, a non-empty list of the allowed values"));
                return None;
            }
        },
        "list" => {
            let of = match &rf.of {
                None => {
                    errors.push(at(&rf.ty, "a list field needs `of`, the type of its items"));
                    return None;
                }
                Some(RawOf::Name(name)) => {
                    let spec = RawField {
                        ty: name.clone(),
                        required: false,
                        taxonomy: false,
                        values: None,
                        of: None,
                        to: None,
                    };
                    field_type(&spec, collections, errors)?
                }
                Some(RawOf::Spec(spec)) => field_type(spec, collections, errors)?,
            };
            if matches!(of, FieldType::List(_)) {
                errors.push(at(&rf.ty, "lists of lists are not supported"));
                return None;
            }
            FieldType::List(Box::new(of))
        }
        "reference" => match &rf.to {
            Some(to) if collections.contains(&to.value) => FieldType::Reference(to.value.clone()),
            Some(to) => {
                let mut d = at(to, format!("`to: {}` names no collection", to.value));
                if let Some(s) = crate::schema::suggest(&to.value, collections.iter().map(String::as_str)) {
                    d = d.with_hint(format!("did you mean `{s}`?"));
                }
                errors.push(d);
                return None;
            }
            None => {
                errors.push(at(&rf.ty, "a reference field needs `to`, the collection it points into"));
                return None;
            }
        },
        other => {
            let mut d = at(&rf.ty, format!("unknown field type `{other}`; expected one of {}", TYPE_NAMES.join(", ")));
            if let Some(s) = crate::schema::suggest(other, TYPE_NAMES.iter().copied()) {
                d = d.with_hint(format!("did you mean `{s}`?"));
            }
            errors.push(d);
            return None;
        }
    };
    Some(ty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_types_and_defaults() {
        let c = parse(
            "title: T\ncollections:\n  studies:\n    sort_by: year\n    fields:\n      year: {type: integer}\n      tags: {type: list, of: string, taxonomy: true}\n      era: {type: reference, to: studies}\n",
        )
        .unwrap();
        assert_eq!(c.base_url, "/");
        let s = c.collection("studies").unwrap();
        assert_eq!(s.fields["tags"].ty, FieldType::List(Box::new(FieldType::String)));
        assert_eq!(c.taxonomies(), vec!["tags".to_string()]);
    }

    #[test]
    fn reports_every_semantic_error_with_its_line() {
        let errs = parse(
            "title: T\ncollections:\n  a:\n    sort_by: nope\n    fields:\n      x: {type: strng}\n      y: {type: reference, to: b}\n",
        )
        .unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs.iter().any(|d| d.line == 6 && d.hint.as_deref() == Some("did you mean `string`?")));
    }

    #[test]
    fn extra_is_kept_for_the_theme_and_must_be_a_mapping() {
        let c = parse("title: T\nextra:\n  timeline: { collection: studies }\n").unwrap();
        assert!(matches!(c.extra.map(|e| e.value), Some(crate::yaml::Value::Map(_))));
        let errs = parse("title: T\nextra: [a]\n").unwrap_err();
        assert_eq!((errs[0].line, errs[0].message.contains("mapping")), (2, true), "{errs:?}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let errs = parse("title: T\nbase_ur: /x/\n").unwrap_err();
        assert_eq!(errs[0].line, 2, "{errs:?}");
    }
}
