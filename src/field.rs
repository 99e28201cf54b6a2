//! Field types and their values: everything annals does differently for
//! each type of front matter field lives here, as methods with exhaustive
//! matches (no `_ =>` arm over types or values).
//!
//! Adding a field type (say `url`) touches:
//! - a variant of [`FieldType`] and, if its values need their own form, of
//!   [`FieldValue`]. The compiler then lists every method below to fill in:
//!   on the type [`FieldType::name`], [`FieldType::describe`] (and its
//!   plural), [`FieldType::read`] (validation), [`FieldType::roles`]
//!   (taxonomy, bounds, feed date, description) and [`FieldType::target`];
//!   on a new value [`FieldValue::is_blank`], [`FieldValue::number`],
//!   [`FieldValue::sort_key`], [`FieldValue::term`], [`FieldValue::year`],
//!   [`FieldValue::prose`], [`FieldValue::when`],
//!   [`FieldValue::references`], [`FieldValue::strings`] (search) and
//!   [`FieldValue::to_template`];
//! - [`FieldType::SIMPLE`] (a type without settings) or `config::field_type`
//!   (a type with some, like `to:`), so that `site.yaml` can name it: the
//!   one place the compiler cannot point at (a test checks the names);
//! - the list of field types in the README (`site.yaml` section).
//!
//! Nothing else matches on field types or values: the schema, the link
//! stage, the search index, the feed and the templates all go through these
//! methods.

use crate::names::{quoted_list, suggest};
use crate::yaml::{Node, Value};

/// The type of a field, as `site.yaml` declares it.
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

/// A validated front matter value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Str(String),
    /// Markdown source, rendered by the markdown stage. (Boxed, as is `Ref`,
    /// to keep the common values small: a site holds thousands of them.)
    Text(Box<Located<String>>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(String),
    List(Vec<FieldValue>),
    /// An entry id of another collection, resolved by the link stage.
    Ref(Box<Reference>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// The collection named.
    pub to: String,
    pub id: Located<String>,
}

/// A value with the place it was written, for errors found in later stages.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    pub value: T,
    pub line: usize,
    pub col: usize,
}

/// A value that does not fit its type, where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch<'t> {
    pub line: usize,
    pub col: usize,
    /// The type the value should have had (an item's type, in a list).
    pub expected: &'t FieldType,
    pub found: Found,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// `key:` with nothing after it.
    Nothing,
    /// A value of another kind, as a message names it (`` `x` ``, `a list`).
    Other(String),
    /// A string outside an enum's values.
    NotAllowed(String),
}

impl Mismatch<'_> {
    /// The error message about field `field`.
    pub fn message(&self, field: &str) -> String {
        let expected = self.expected.describe();
        match &self.found {
            Found::Nothing => format!("field `{field}` is empty: fill in {expected}"),
            Found::Other(found) => format!("field `{field}` expects {expected}, found {found}"),
            Found::NotAllowed(s) => format!("field `{field}` expects {expected}, found `{s}`"),
        }
    }

    /// "Did you mean" for a misspelt enum value.
    pub fn hint(&self) -> Option<String> {
        let (Found::NotAllowed(s), FieldType::Enum(values)) = (&self.found, self.expected) else { return None };
        suggest(s, values.iter().map(String::as_str)).map(|v| format!("did you mean `{v}`?"))
    }
}

/// What a field can be used for in `site.yaml`, by its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Roles {
    /// `taxonomy: true`: its values are terms (strings, chosen or free), one or a list.
    pub taxonomy: bool,
    /// `min` and `max` apply.
    pub bounded: bool,
    /// `feed.date`: it can date entries (a date, or an integer year).
    pub dates: bool,
    /// A collection's `description`: prose, plain or Markdown.
    pub describes: bool,
}

/// A date as a field gives it: a year, or a day (`YYYY-MM-DD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When<'a> {
    Year(i64),
    Day(&'a str),
}

/// A sortable view of a field: numbers before strings, missing values last.
#[derive(Debug, PartialEq, PartialOrd)]
pub enum SortKey<'a> {
    Number(f64),
    Text(&'a str),
    Missing,
}

impl FieldType {
    /// The types without settings, which `site.yaml` names alone.
    pub const SIMPLE: [FieldType; 6] = [
        FieldType::String,
        FieldType::Text,
        FieldType::Integer,
        FieldType::Number,
        FieldType::Boolean,
        FieldType::Date,
    ];

    /// The name `site.yaml` gives the type.
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Text => "text",
            FieldType::Integer => "integer",
            FieldType::Number => "number",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
            FieldType::Enum(_) => "enum",
            FieldType::List(_) => "list",
            FieldType::Reference(_) => "reference",
        }
    }

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
        let plural = |one: String| one.trim_start_matches("a ").trim_start_matches("an ").to_string() + "s";
        match self {
            FieldType::Enum(values) => format!("values from {}", quoted_list(values)),
            FieldType::Reference(to) => format!("ids of entries in `{to}`"),
            FieldType::String
            | FieldType::Text
            | FieldType::Integer
            | FieldType::Number
            | FieldType::Boolean
            | FieldType::Date
            | FieldType::List(_) => plural(self.describe()),
        }
    }

    /// What `site.yaml` may ask of a field of this type besides values.
    pub fn roles(&self) -> Roles {
        let none = Roles::default();
        match self {
            FieldType::String => Roles { taxonomy: true, describes: true, ..none },
            FieldType::Text => Roles { describes: true, ..none },
            FieldType::Integer => Roles { bounded: true, dates: true, ..none },
            FieldType::Number => Roles { bounded: true, ..none },
            FieldType::Date => Roles { dates: true, ..none },
            FieldType::Enum(_) => Roles { taxonomy: true, ..none },
            // A list of terms is a taxonomy; lists hold no lists.
            FieldType::List(of) => Roles { taxonomy: matches!(**of, FieldType::String | FieldType::Enum(_)), ..none },
            FieldType::Boolean | FieldType::Reference(_) => none,
        }
    }

    /// The collection a reference field, or a list of references, points into.
    pub fn target(&self) -> Option<&str> {
        match self {
            FieldType::Reference(to) => Some(to),
            FieldType::List(of) => of.target(),
            FieldType::String
            | FieldType::Text
            | FieldType::Integer
            | FieldType::Number
            | FieldType::Boolean
            | FieldType::Date
            | FieldType::Enum(_) => None,
        }
    }

    /// The value of `node` as this type, or every place where it does not
    /// fit (a list reports each bad item). A single value where a list is
    /// expected is a list of one: `indications: depression`.
    pub fn read(&self, node: &Node) -> Result<FieldValue, Vec<Mismatch<'_>>> {
        let located = |s: &str| Located { value: s.to_string(), line: node.line, col: node.col };
        let value = match (self, &node.value) {
            (FieldType::String, Value::Str(s)) => FieldValue::Str(s.clone()),
            (FieldType::Text, Value::Str(s)) => FieldValue::Text(Box::new(located(s))),
            (FieldType::Integer, Value::Int(i)) => FieldValue::Int(*i),
            (FieldType::Number, Value::Int(i)) => FieldValue::Float(*i as f64),
            (FieldType::Number, Value::Float(f)) if f.is_finite() => FieldValue::Float(*f),
            (FieldType::Boolean, Value::Bool(b)) => FieldValue::Bool(*b),
            (FieldType::Date, Value::Str(s)) if is_date(s) => FieldValue::Date(s.clone()),
            (FieldType::Enum(values), Value::Str(s)) if values.contains(s) => FieldValue::Str(s.clone()),
            (FieldType::Enum(_), Value::Str(s)) => return Err(vec![self.mismatch(node, Found::NotAllowed(s.clone()))]),
            (FieldType::Reference(to), Value::Str(s)) => {
                FieldValue::Ref(Box::new(Reference { to: to.clone(), id: located(s) }))
            }
            (FieldType::List(of), Value::List(items)) => {
                let mut values = Vec::with_capacity(items.len());
                let mut bad = Vec::new();
                for item in items {
                    match of.read(item) {
                        Ok(v) => values.push(v),
                        Err(m) => bad.extend(m),
                    }
                }
                return if bad.is_empty() { Ok(FieldValue::List(values)) } else { Err(bad) };
            }
            (FieldType::List(of), Value::Str(_) | Value::Int(_)) => FieldValue::List(vec![of.read(node)?]),
            (
                FieldType::String
                | FieldType::Text
                | FieldType::Integer
                | FieldType::Number
                | FieldType::Boolean
                | FieldType::Date
                | FieldType::Enum(_)
                | FieldType::List(_)
                | FieldType::Reference(_),
                other,
            ) => {
                let found = match other {
                    Value::Str(s) => Found::Other(format!("`{s}`")),
                    Value::Int(i) => Found::Other(format!("`{i}`")),
                    Value::Null => Found::Nothing,
                    other => Found::Other(other.kind().to_string()),
                };
                return Err(vec![self.mismatch(node, found)]);
            }
        };
        Ok(value)
    }

    fn mismatch(&self, node: &Node, found: Found) -> Mismatch<'_> {
        Mismatch { line: node.line, col: node.col, expected: self, found }
    }
}

impl FieldValue {
    /// Whether the value counts as missing for a `required` field: `title:
    /// ""`, `authors: []` and `authors: [""]` are not values.
    pub fn is_blank(&self) -> bool {
        match self {
            FieldValue::Str(s) | FieldValue::Date(s) => s.trim().is_empty(),
            FieldValue::Text(t) => t.value.trim().is_empty(),
            FieldValue::Ref(r) => r.id.value.trim().is_empty(),
            FieldValue::List(items) => items.is_empty() || items.iter().any(FieldValue::is_blank),
            FieldValue::Int(_) | FieldValue::Float(_) | FieldValue::Bool(_) => false,
        }
    }

    /// The number that `min` and `max` bound.
    pub fn number(&self) -> Option<f64> {
        match self {
            FieldValue::Int(i) => Some(*i as f64),
            FieldValue::Float(f) => Some(*f),
            FieldValue::Str(_)
            | FieldValue::Text(_)
            | FieldValue::Bool(_)
            | FieldValue::Date(_)
            | FieldValue::List(_)
            | FieldValue::Ref(_) => None,
        }
    }

    /// Where an entry sorts by this field (`sort_by`).
    pub fn sort_key(&self) -> SortKey<'_> {
        match self {
            FieldValue::Int(i) => SortKey::Number(*i as f64),
            FieldValue::Float(f) => SortKey::Number(*f),
            FieldValue::Str(s) | FieldValue::Date(s) => SortKey::Text(s),
            FieldValue::Text(t) => SortKey::Text(&t.value),
            FieldValue::Bool(b) => SortKey::Number(f64::from(u8::from(*b))),
            FieldValue::List(_) | FieldValue::Ref(_) => SortKey::Missing,
        }
    }

    /// The plain strings of the value, one or a list: a taxonomy's terms,
    /// and the authors of a citation label.
    pub fn terms(&self) -> Vec<&str> {
        match self {
            FieldValue::List(items) => items.iter().filter_map(FieldValue::term).collect(),
            single => single.term().into_iter().collect(),
        }
    }

    /// The value as one term: a plain string, not a list (lists hold no lists).
    pub fn term(&self) -> Option<&str> {
        match self {
            FieldValue::Str(s) => Some(s),
            FieldValue::Text(_)
            | FieldValue::Int(_)
            | FieldValue::Float(_)
            | FieldValue::Bool(_)
            | FieldValue::Date(_)
            | FieldValue::List(_)
            | FieldValue::Ref(_) => None,
        }
    }

    /// The text of a value that can describe an entry (see [`Roles::describes`]).
    pub fn prose(&self) -> Option<&str> {
        match self {
            FieldValue::Str(s) => Some(s),
            FieldValue::Text(t) => Some(&t.value),
            FieldValue::Int(_)
            | FieldValue::Float(_)
            | FieldValue::Bool(_)
            | FieldValue::Date(_)
            | FieldValue::List(_)
            | FieldValue::Ref(_) => None,
        }
    }

    /// When a value that can date an entry (see [`Roles::dates`]) says it was.
    pub fn when(&self) -> Option<When<'_>> {
        match self {
            FieldValue::Int(year) => Some(When::Year(*year)),
            FieldValue::Date(day) => Some(When::Day(day)),
            FieldValue::Str(_)
            | FieldValue::Text(_)
            | FieldValue::Float(_)
            | FieldValue::Bool(_)
            | FieldValue::List(_)
            | FieldValue::Ref(_) => None,
        }
    }

    /// The year a citation label shows: a year, or a date or text as written.
    pub fn year(&self) -> Option<String> {
        match self {
            FieldValue::Int(y) => Some(y.to_string()),
            FieldValue::Str(s) | FieldValue::Date(s) => Some(s.clone()),
            FieldValue::Text(_)
            | FieldValue::Float(_)
            | FieldValue::Bool(_)
            | FieldValue::List(_)
            | FieldValue::Ref(_) => None,
        }
    }

    /// Calls `f` with every reference the value makes, in order.
    pub fn references<'a>(&'a self, f: &mut dyn FnMut(&'a Reference)) {
        match self {
            FieldValue::Ref(r) => f(r),
            FieldValue::List(items) => items.iter().for_each(|v| v.references(f)),
            FieldValue::Str(_)
            | FieldValue::Text(_)
            | FieldValue::Int(_)
            | FieldValue::Float(_)
            | FieldValue::Bool(_)
            | FieldValue::Date(_) => {}
        }
    }

    /// The words the value adds to the search index. References are left
    /// out: they name other pages, which are found by their own words (and
    /// a page's terms then depend on the page alone).
    pub fn strings<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            FieldValue::Str(s) | FieldValue::Date(s) => out.push(s),
            FieldValue::Text(t) => out.push(&t.value),
            FieldValue::List(items) => items.iter().for_each(|v| v.strings(out)),
            FieldValue::Ref(_) | FieldValue::Int(_) | FieldValue::Float(_) | FieldValue::Bool(_) => {}
        }
    }

    /// The value templates see. A `text` field is its rendered HTML and a
    /// reference the card stub of its target, which only the caller knows.
    pub fn to_template(
        &self,
        text_html: &dyn Fn() -> tera::Value,
        stub: &dyn Fn(&Reference) -> tera::Value,
    ) -> tera::Value {
        match self {
            FieldValue::Str(s) | FieldValue::Date(s) => s.as_str().into(),
            FieldValue::Text(_) => text_html(),
            FieldValue::Int(i) => (*i).into(),
            FieldValue::Float(f) => (*f).into(),
            FieldValue::Bool(b) => (*b).into(),
            FieldValue::List(items) => items.iter().map(|v| v.to_template(text_html, stub)).collect::<Vec<_>>().into(),
            FieldValue::Ref(r) => stub(r),
        }
    }
}

/// `YYYY-MM-DD`, a day that exists.
pub fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts[..] else { return false };
    let all_digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
    if !(all_digits(y, 4) && all_digits(m, 2) && all_digits(d, 2)) {
        return false;
    }
    let (y, m, d): (u32, u32, u32) = (y.parse().unwrap_or(0), m.parse().unwrap_or(0), d.parse().unwrap_or(0));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(value: Value) -> Node {
        Node { value, line: 3, col: 7 }
    }

    #[test]
    fn dates_are_checked() {
        assert!(is_date("2024-02-29"));
        assert!(!is_date("2023-02-29"));
        assert!(!is_date("2023-13-01"));
        assert!(!is_date("23-1-1"));
    }

    #[test]
    fn every_simple_type_is_named_by_its_name() {
        let names: Vec<&str> = FieldType::SIMPLE.iter().map(FieldType::name).collect();
        assert_eq!(names, ["string", "text", "integer", "number", "boolean", "date"]);
    }

    #[test]
    fn a_list_reports_every_bad_item_and_reads_a_single_value_as_one_item() {
        let ty = FieldType::List(Box::new(FieldType::Enum(vec!["depression".into(), "anxiety".into()])));
        let list = node(Value::List(vec![node(Value::Str("depresion".into())), node(Value::Int(3))]));
        let bad = ty.read(&list).unwrap_err();
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert_eq!(bad[0].hint().as_deref(), Some("did you mean `depression`?"));
        assert_eq!(bad[1].message("x"), "field `x` expects one of `depression`, `anxiety`, found `3`");
        let one = ty.read(&node(Value::Str("anxiety".into()))).unwrap();
        assert_eq!(one, FieldValue::List(vec![FieldValue::Str("anxiety".into())]));
    }

    #[test]
    fn an_empty_value_asks_to_be_filled_in() {
        let bad = FieldType::Date.read(&node(Value::Null)).unwrap_err();
        assert_eq!((bad[0].line, bad[0].col), (3, 7));
        assert_eq!(bad[0].message("published"), "field `published` is empty: fill in a date (YYYY-MM-DD)");
    }

    #[test]
    fn numbers_sort_before_strings_and_lists_sort_last() {
        let (n, s, l) = (FieldValue::Int(2006), FieldValue::Str("a".into()), FieldValue::List(Vec::new()));
        assert!(n.sort_key() < s.sort_key() && s.sort_key() < l.sort_key());
        assert_eq!(FieldValue::Bool(true).sort_key(), SortKey::Number(1.0));
    }

    #[test]
    fn blank_values_and_terms() {
        let list = |items: &[&str]| FieldValue::List(items.iter().map(|s| FieldValue::Str(s.to_string())).collect());
        assert!(list(&[]).is_blank() && list(&["a", " "]).is_blank() && !list(&["a"]).is_blank());
        assert!(!FieldValue::Int(0).is_blank());
        assert_eq!(list(&["a", "b"]).terms(), ["a", "b"]);
        assert!(FieldValue::Int(1).terms().is_empty());
    }

    #[test]
    fn taxonomies_take_strings_and_enums_one_or_listed() {
        let list = |t: FieldType| FieldType::List(Box::new(t));
        assert!(FieldType::String.roles().taxonomy && list(FieldType::Enum(vec![])).roles().taxonomy);
        assert!(!FieldType::Integer.roles().taxonomy && !list(FieldType::Reference("a".into())).roles().taxonomy);
        assert_eq!(FieldType::Integer.roles(), Roles { bounded: true, dates: true, ..Roles::default() });
    }
}
