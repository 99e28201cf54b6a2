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
pub use crate::field::FieldType;

pub const CONFIG_FILE: &str = "site.yaml";

/// The resolved configuration every later stage reads.
#[derive(Debug, Clone)]
pub struct Config {
    pub title: String,
    pub description: String,
    /// Always ends with `/`, and is absolute (`https://host/path/`) or
    /// root-relative (`/path/`). Every internal URL starts with it.
    pub base_url: String,
    pub theme: String,
    pub citations: Option<Citations>,
    /// `links: { external: … }`: what a link to another site is.
    pub external_links: ExternalLinks,
    /// Sorted by name, so that iteration order is deterministic.
    pub collections: Vec<Collection>,
    pub feed: Option<Feed>,
    /// Free-form settings for the theme (`extra:`), given to templates
    /// as `site.extra`; annals itself reads none of them.
    pub extra: Option<crate::yaml::Node>,
}

/// What a link or image pointing at another site is (`links: { external: … }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExternalLinks {
    #[default]
    Allow,
    /// A warning: the site builds; `check --deny-warnings` fails.
    Warn,
    /// An error.
    Deny,
}

impl ExternalLinks {
    pub fn name(self) -> &'static str {
        match self {
            ExternalLinks::Allow => "allow",
            ExternalLinks::Warn => "warn",
            ExternalLinks::Deny => "deny",
        }
    }
}

impl Config {
    pub fn collection(&self, name: &str) -> Option<&Collection> {
        self.collections.iter().find(|c| c.name == name)
    }

    /// Whether `base_url` is absolute, so that outputs needing absolute
    /// URLs (sitemap, feed, canonical links) can be written.
    pub fn absolute(&self) -> bool {
        is_absolute_url(&self.base_url)
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
    /// The citable collections, as named in `site.yaml`; ids are unique
    /// across them, and labels (with their 2010a/2010b) are worked out
    /// across them.
    pub collections: Vec<String>,
    pub authors: String,
    pub year: String,
    pub et_al: Option<String>,
    /// The field that holds a work's own title, for the bibliography
    /// exports; `None` where titles are the site's own descriptions.
    pub title: Option<String>,
}

/// `feed:` in `site.yaml`: which entries `atom.xml` lists.
#[derive(Debug, Clone)]
pub struct Feed {
    pub collections: Vec<String>,
    /// At most this many entries, newest first.
    pub limit: usize,
    /// The field that dates an entry (a date, or an integer year).
    pub date: String,
}

#[derive(Debug, Clone)]
pub struct Collection {
    pub name: String,
    /// Folder under `content/`.
    pub folder: String,
    /// Field that orders entries (and gives previous/next); by id when absent.
    pub sort_by: Option<String>,
    /// The field whose value describes an entry (its `<meta name=description>`).
    pub description: Option<String>,
    pub fields: BTreeMap<String, Field>,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub ty: FieldType,
    /// Must be present and not empty (no empty string, list or list item).
    pub required: bool,
    pub taxonomy: bool,
    /// Bounds of an integer or number field, inclusive.
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    title: String,
    #[serde(default)]
    description: String,
    base_url: Option<Spanned<String>>,
    #[serde(default = "default_theme")]
    theme: String,
    citations: Option<RawCitations>,
    #[serde(default)]
    links: RawLinks,
    #[serde(default)]
    collections: BTreeMap<String, RawCollection>,
    feed: Option<Spanned<RawFeed>>,
    extra: Option<crate::yaml::Read>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLinks {
    #[serde(default)]
    external: ExternalLinks,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    collections: Vec<Spanned<String>>,
    #[serde(default = "default_feed_limit")]
    limit: usize,
    date: Option<Spanned<String>>,
}

fn default_feed_limit() -> usize {
    20
}
fn default_theme() -> String {
    "default".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCitations {
    collection: Spanned<OneOrMany>,
    authors: Spanned<String>,
    year: Spanned<String>,
    et_al: Option<Spanned<String>>,
    title: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCollection {
    folder: Option<String>,
    sort_by: Option<Spanned<String>>,
    description: Option<Spanned<String>>,
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
    min: Option<Spanned<f64>>,
    max: Option<Spanned<f64>>,
    values: Option<Vec<String>>,
    of: Option<RawOf>,
    to: Option<Spanned<String>>,
}

/// `collection: studies` or `collection: [studies, works]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
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
    let text = std::fs::read_to_string(&path).map_err(|e| {
        let d = Diagnostic::file(CONFIG_FILE, format!("cannot read the site configuration in {}: {e}", root.display()));
        vec![match e.kind() {
            std::io::ErrorKind::NotFound => d.with_hint(
                "run annals in the folder that holds site.yaml, or name it with --root DIR; `annals init` starts a new site",
            ),
            _ => d,
        }]
    })?;
    parse(&text)
}

/// Parses and resolves the text of a `site.yaml`.
pub fn parse(text: &str) -> Result<Config, Vec<Diagnostic>> {
    let raw = serde_saphyr::from_str::<RawConfig>(text).map_err(|e| {
        let (line, col) = e.location().map_or((0, 0), |l| (l.line() as usize, l.column() as usize));
        let message = e.without_snippet().to_string();
        let message = message.lines().next().unwrap_or("").to_string();
        vec![Diagnostic::new(CONFIG_FILE, line, col, format!("invalid site configuration: {message}"))]
    });
    raw.and_then(resolve).map_err(|mut errors| {
        for d in &mut errors {
            d.quote(Path::new(CONFIG_FILE), &|n| crate::diagnostics::nth_line(text, 1, n));
        }
        errors
    })
}

fn at<T>(s: &Spanned<T>, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(CONFIG_FILE, s.referenced.line() as usize, s.referenced.column() as usize, message)
}

/// Checks what serde cannot, step by step, reporting every error at once.
fn resolve(raw: RawConfig) -> Result<Config, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let names: Vec<String> = raw.collections.keys().cloned().collect();
    let collections: Vec<Collection> =
        raw.collections.into_iter().map(|(name, rc)| resolve_collection(name, rc, &names, &mut errors)).collect();
    let citations = raw.citations.map(|c| resolve_citations(c, &collections, &mut errors));
    let feed = raw.feed.and_then(|f| resolve_feed(f, &collections, &mut errors));
    let base_url = match &raw.base_url {
        None => "/".to_string(),
        Some(b) => check_base_url(&b.value).unwrap_or_else(|m| {
            errors.push(at(b, m));
            String::new()
        }),
    };
    let extra = raw.extra.map(|read| read.0);
    if let Some(extra) = extra.as_ref().filter(|e| !matches!(e.value, crate::yaml::Value::Map(_))) {
        errors.push(Diagnostic::new(
            CONFIG_FILE,
            extra.line,
            extra.col,
            "`extra` must be a mapping of settings for the theme",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Config {
        title: raw.title,
        description: raw.description,
        base_url,
        theme: raw.theme,
        citations,
        external_links: raw.links.external,
        collections,
        feed,
        extra,
    })
}

/// One collection: its name, its fields, and the fields that order and
/// describe its entries. `names` are every collection's, for references.
fn resolve_collection(name: String, rc: RawCollection, names: &[String], errors: &mut Vec<Diagnostic>) -> Collection {
    if !crate::names::is_valid_id(&name) {
        errors.push(Diagnostic::file(
            CONFIG_FILE,
            format!("collection name `{name}` must use lowercase letters, digits and hyphens only"),
        ));
    }
    let fields: BTreeMap<String, Field> = rc
        .fields
        .into_iter()
        .filter_map(|(fname, rf)| Some((fname.clone(), resolve_field(fname, &rf, names, errors)?)))
        .collect();
    if let Some(sort_by) = &rc.sort_by
        && !fields.contains_key(&sort_by.value)
    {
        errors.push(at(sort_by, format!("`sort_by: {}` names no field of collection `{name}`", sort_by.value)));
    }
    if let Some(d) = &rc.description {
        match fields.get(&d.value).map(|f| &f.ty) {
            Some(ty) if ty.roles().describes => {}
            Some(_) => errors.push(at(d, format!("`description: {}` must name a string or text field", d.value))),
            None => errors.push(at(d, format!("`description: {}` names no field of collection `{name}`", d.value))),
        }
    }
    Collection {
        folder: rc.folder.unwrap_or_else(|| name.clone()),
        name,
        sort_by: rc.sort_by.map(|s| s.value),
        description: rc.description.map(|s| s.value),
        fields,
    }
}

/// One field: its type, and what it declares beyond (taxonomy, bounds),
/// which must suit the type. `None` when the type itself is wrong.
fn resolve_field(name: String, rf: &RawField, collections: &[String], errors: &mut Vec<Diagnostic>) -> Option<Field> {
    let ty = field_type(rf, collections, errors)?;
    if rf.taxonomy && !ty.roles().taxonomy {
        errors.push(at(
            &rf.ty,
            format!("field `{name}` is a taxonomy, so its type must be string, enum, or a list of those"),
        ));
    }
    for bound in [&rf.min, &rf.max].into_iter().flatten() {
        if !ty.roles().bounded {
            errors.push(at(bound, format!("`min` and `max` apply to integer and number fields, not to `{name}`")));
        }
    }
    if let (Some(min), Some(max)) = (&rf.min, &rf.max)
        && min.value > max.value
    {
        errors.push(at(max, format!("`max` of `{name}` is below its `min`")));
    }
    let (min, max) = (rf.min.as_ref().map(|m| m.value), rf.max.as_ref().map(|m| m.value));
    Some(Field { name, ty, required: rf.required, taxonomy: rf.taxonomy, min, max })
}

/// `citations:`: collections that exist, each named once, each with the
/// fields that make a label.
fn resolve_citations(c: RawCitations, collections: &[Collection], errors: &mut Vec<Diagnostic>) -> Citations {
    let names = match &c.collection.value {
        OneOrMany::One(name) => vec![name.clone()],
        OneOrMany::Many(names) => names.clone(),
    };
    if names.is_empty() {
        errors.push(at(&c.collection, "citations name no collection: give one, or a list"));
    }
    for (n, name) in names.iter().enumerate() {
        if names[..n].contains(name) {
            errors.push(at(&c.collection, format!("citations name collection `{name}` twice")));
            continue;
        }
        let Some(col) = collections.iter().find(|col| &col.name == name) else {
            let mut d = at(&c.collection, format!("citations name an unknown collection `{name}`"));
            if let Some(s) = crate::names::suggest(name, collections.iter().map(|c| c.name.as_str())) {
                d = d.with_hint(format!("did you mean `{s}`?"));
            }
            errors.push(d);
            continue;
        };
        for f in [Some(&c.authors), Some(&c.year), c.et_al.as_ref(), c.title.as_ref()].into_iter().flatten() {
            if !col.fields.contains_key(&f.value) {
                errors.push(at(f, format!("citations name `{}`, which is not a field of `{}`", f.value, col.name)));
            }
        }
    }
    Citations {
        collections: names,
        authors: c.authors.value,
        year: c.year.value,
        et_al: c.et_al.map(|s| s.value),
        title: c.title.map(|s| s.value),
    }
}

/// `http://` or `https://` with a host.
pub fn is_absolute_url(url: &str) -> bool {
    ["http://", "https://"]
        .iter()
        .any(|s| url.strip_prefix(s).is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/')))
}

/// A base URL as every URL will start with it (ending with `/`), or why it
/// cannot be one: it must be absolute or start with `/`, since `sub/` would
/// resolve against each page's own URL and differ from page to page.
pub fn check_base_url(url: &str) -> Result<String, String> {
    let ok = is_absolute_url(url) || (url.starts_with('/') && !url.starts_with("//"));
    if !ok {
        return Err(format!(
            "base_url `{url}` must be absolute (`https://example.org/annals/`) or start with `/` (`/annals/`)"
        ));
    }
    Ok(if url.ends_with('/') { url.to_string() } else { format!("{url}/") })
}

fn resolve_feed(raw: Spanned<RawFeed>, collections: &[Collection], errors: &mut Vec<Diagnostic>) -> Option<Feed> {
    let before = errors.len();
    let mut names = Vec::new();
    let mut date = raw.value.date.as_ref().map(|d| d.value.clone());
    for c in &raw.value.collections {
        let Some(col) = collections.iter().find(|col| col.name == c.value) else {
            errors.push(at(c, format!("`feed` names an unknown collection `{}`", c.value)));
            continue;
        };
        // Without `date`, the collection's own order dates its entries.
        let field = date.get_or_insert_with(|| col.sort_by.clone().unwrap_or_default()).clone();
        let dated = col.fields.get(&field).is_some_and(|f| f.ty.roles().dates);
        if !dated {
            let what = if field.is_empty() { "no field".to_string() } else { format!("`{field}`") };
            errors.push(at(
                c,
                format!(
                    "the feed dates entries of `{}` by {what}: set `feed.date` to a date or integer (year) field of it",
                    c.value
                ),
            ));
        }
        names.push(c.value.clone());
    }
    if names.is_empty() && errors.len() == before {
        errors.push(at(&raw, "`feed.collections` must name at least one collection"));
    }
    (errors.len() == before).then(|| Feed {
        collections: names,
        limit: raw.value.limit,
        date: date.unwrap_or_default(),
    })
}

/// Every type name `site.yaml` may write, for "expected one of".
fn type_names() -> Vec<&'static str> {
    let with_settings = [
        FieldType::Enum(Vec::new()),
        FieldType::List(Box::new(FieldType::String)),
        FieldType::Reference(String::new()),
    ];
    FieldType::SIMPLE.iter().chain(&with_settings).map(FieldType::name).collect()
}

fn field_type(rf: &RawField, collections: &[String], errors: &mut Vec<Diagnostic>) -> Option<FieldType> {
    if let Some(simple) = FieldType::SIMPLE.iter().find(|t| t.name() == rf.ty.value) {
        return Some(simple.clone());
    }
    let ty = match rf.ty.value.as_str() {
        "enum" => match &rf.values {
            Some(values) if !values.is_empty() => FieldType::Enum(values.clone()),
            _ => {
                errors.push(at(&rf.ty, "an enum field needs `values`, a non-empty list of the allowed values"));
                return None;
            }
        },
        "list" => list_type(rf, collections, errors)?,
        "reference" => reference_type(rf, collections, errors)?,
        other => {
            let names = type_names();
            let mut d = at(&rf.ty, format!("unknown field type `{other}`; expected one of {}", names.join(", ")));
            if let Some(s) = crate::names::suggest(other, names.iter().copied()) {
                d = d.with_hint(format!("did you mean `{s}`?"));
            }
            errors.push(d);
            return None;
        }
    };
    Some(ty)
}

/// `type: list`, with `of` a type name or a field spec (not a list).
fn list_type(rf: &RawField, collections: &[String], errors: &mut Vec<Diagnostic>) -> Option<FieldType> {
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
                min: None,
                max: None,
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
    Some(FieldType::List(Box::new(of)))
}

/// `type: reference`, with `to` a collection of the site.
fn reference_type(rf: &RawField, collections: &[String], errors: &mut Vec<Diagnostic>) -> Option<FieldType> {
    match &rf.to {
        Some(to) if collections.contains(&to.value) => Some(FieldType::Reference(to.value.clone())),
        Some(to) => {
            let mut d = at(to, format!("`to: {}` names no collection", to.value));
            if let Some(s) = crate::names::suggest(&to.value, collections.iter().map(String::as_str)) {
                d = d.with_hint(format!("did you mean `{s}`?"));
            }
            errors.push(d);
            None
        }
        None => {
            errors.push(at(&rf.ty, "a reference field needs `to`, the collection it points into"));
            None
        }
    }
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
    fn citations_name_one_collection_or_several() {
        const SITE: &str = "title: T\ncollections:\n  studies:\n    fields:\n      authors: {type: list, of: string}\n      year: {type: integer}\n  works:\n    fields:\n      authors: {type: list, of: string}\n      year: {type: integer}\n";
        let one = parse(&format!("{SITE}citations: {{collection: studies, authors: authors, year: year}}\n")).unwrap();
        assert_eq!(one.citations.unwrap().collections, ["studies"]);
        let two = parse(&format!("{SITE}citations: {{collection: [studies, works], authors: authors, year: year}}\n"))
            .unwrap();
        assert_eq!(two.citations.unwrap().collections, ["studies", "works"]);
        let errs = parse(&format!("{SITE}citations: {{collection: [studies, wroks], authors: authors, year: year}}\n"))
            .unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].message.contains("unknown collection `wroks`"), "{errs:?}");
        assert_eq!(errs[0].hint.as_deref(), Some("did you mean `works`?"));
        assert_eq!(errs[0].line, 11, "{errs:?}");
    }

    #[test]
    fn citation_fields_must_exist_in_every_citable_collection() {
        let errs = parse("title: T\ncitations: {collection: [a, b], authors: authors, year: year}\ncollections:\n  a:\n    fields:\n      authors: {type: list, of: string}\n      year: {type: integer}\n  b:\n    fields:\n      year: {type: integer}\n").unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].message.contains("`authors`, which is not a field of `b`"), "{errs:?}");
        let errs = parse("title: T\ncitations: {collection: a, authors: authors, year: year, title: name}\ncollections:\n  a:\n    fields:\n      authors: {type: list, of: string}\n      year: {type: integer}\n").unwrap_err();
        assert!(errs[0].message.contains("`name`, which is not a field of `a`"), "{errs:?}");
    }

    #[test]
    fn base_urls_must_be_absolute_or_root_relative() {
        assert_eq!(parse("title: T\nbase_url: https://x.org/a\n").unwrap().base_url, "https://x.org/a/");
        assert!(parse("title: T\nbase_url: https://x.org/\n").unwrap().absolute());
        assert!(!parse("title: T\nbase_url: /sub/\n").unwrap().absolute());
        for bad in ["sub/", "//x.org/", "ftp://x.org/", "https:///x"] {
            let errs = parse(&format!("title: T\nbase_url: {bad}\n")).unwrap_err();
            assert_eq!((errs.len(), errs[0].line), (1, 2), "{bad}: {errs:?}");
        }
    }

    #[test]
    fn feed_and_description_name_what_exists() {
        let c = parse(
            "title: T\nfeed: {collections: [s]}\ncollections:\n  s:\n    sort_by: year\n    description: gist\n    fields:\n      year: {type: integer}\n      gist: {type: string}\n",
        )
        .unwrap();
        let feed = c.feed.unwrap();
        assert_eq!((feed.collections, feed.limit, feed.date.as_str()), (vec!["s".to_string()], 20, "year"));
        assert_eq!(c.collections[0].description.as_deref(), Some("gist"));
        let errs = parse(
            "title: T\nfeed: {collections: [s, nope]}\ncollections:\n  s:\n    description: year\n    fields:\n      year: {type: integer}\n",
        )
        .unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs.iter().any(|e| e.message.contains("must name a string or text field")), "{errs:?}");
        assert!(errs.iter().any(|e| e.message.contains("unknown collection `nope`")), "{errs:?}");
        assert!(errs.iter().any(|e| e.message.contains("set `feed.date`")), "{errs:?}");
    }

    #[test]
    fn extra_is_kept_for_the_theme_and_must_be_a_mapping() {
        let c = parse("title: T\nextra:\n  timeline: { collection: studies }\n").unwrap();
        assert!(matches!(c.extra.map(|e| e.value), Some(crate::yaml::Value::Map(_))));
        let errs = parse("title: T\nextra: [a]\n").unwrap_err();
        assert_eq!((errs[0].line, errs[0].message.contains("mapping")), (2, true), "{errs:?}");
    }

    #[test]
    fn an_unknown_type_lists_every_type_name() {
        let errs = parse("title: T\ncollections:\n  a:\n    fields:\n      x: {type: strng}\n").unwrap_err();
        assert_eq!(
            errs[0].message,
            "unknown field type `strng`; expected one of string, text, integer, number, boolean, date, enum, list, reference"
        );
        assert_eq!((errs[0].line, errs[0].col), (5, 17));
    }

    #[test]
    fn a_list_of_a_named_type_or_a_spec() {
        let c = parse("title: T\ncollections:\n  a:\n    fields:\n      x: {type: list, of: {type: enum, values: [p, q]}}\n      y: {type: list, of: integer}\n").unwrap();
        let fields = &c.collection("a").unwrap().fields;
        assert_eq!(fields["x"].ty, FieldType::List(Box::new(FieldType::Enum(vec!["p".into(), "q".into()]))));
        assert_eq!(fields["y"].ty, FieldType::List(Box::new(FieldType::Integer)));
        let errs = parse("title: T\ncollections:\n  a:\n    fields:\n      x: {type: list, of: nope}\n").unwrap_err();
        assert!(errs[0].message.starts_with("unknown field type `nope`"), "{errs:?}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let errs = parse("title: T\nbase_ur: /x/\n").unwrap_err();
        assert_eq!(errs[0].line, 2, "{errs:?}");
    }
}
