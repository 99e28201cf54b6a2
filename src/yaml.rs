//! YAML into a tree whose every node knows its line and column, so that
//! schema errors can point at the offending value, not just the file.
//!
//! Parsing is serde-saphyr's: it refuses YAML bombs (alias expansion and
//! nesting are budgeted), reports syntax errors with a location, and does not
//! panic on malformed input.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::path::Path;

use crate::diagnostics::Diagnostic;

/// A YAML value with the 1-based line and column where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Node>),
    /// Keys keep their document order and their own positions.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// The YAML kind, as named in error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::List(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Parses `source` (whose first line is line `first_line` of `path`) into a
/// node tree. An empty document is `Null`.
pub fn parse(path: &Path, source: &str, first_line: usize) -> Result<Node, Diagnostic> {
    if source.trim().is_empty() {
        return Ok(Node { value: Value::Null, line: first_line, col: 1 });
    }
    let mut node: Node = serde_saphyr::from_str(source).map_err(|e| {
        let (line, col) =
            e.location().map_or((first_line, 0), |l| (l.line() as usize + first_line - 1, l.column() as usize));
        Diagnostic::new(path, line, col, format!("invalid YAML: {}", plain_message(&e)))
    })?;
    if let Some((line, col, tag)) = unknown_tag(source) {
        let message =
            format!("unknown YAML tag `{tag}`: annals reads plain values and would ignore it; remove the tag");
        return Err(Diagnostic::new(path, line + first_line - 1, col, message));
    }
    shift(&mut node, first_line - 1);
    Ok(node)
}

/// The first tag other than YAML's own (`!!str`, `!!int`, …), with the
/// line and column of the value it tags. serde-saphyr reads `!shell rm`
/// as the string `rm`, dropping the tag: an author who wrote one expects a
/// meaning that annals does not give. Only a document with a `!` in it is
/// read again, event by event.
fn unknown_tag(source: &str) -> Option<(usize, usize, String)> {
    use granit_parser::{Event, Parser};
    if !source.contains('!') {
        return None;
    }
    for event in Parser::new_from_str(source) {
        let (event, span) = event.ok()?;
        let tag = match &event {
            Event::Scalar(_, _, _, tag) | Event::SequenceStart(_, _, tag) | Event::MappingStart(_, _, tag) => tag,
            _ => continue,
        };
        if let Some(tag) = tag.as_ref().filter(|t| !t.is_yaml_core_schema()) {
            return Some((span.start.line(), span.start.col() + 1, tag.to_string()));
        }
    }
    None
}

/// serde-saphyr's message without its own location and snippet: ours
/// carry the location in `path:line:col` form already.
fn plain_message(e: &serde_saphyr::Error) -> String {
    let text = e.without_snippet().to_string();
    let first = text.lines().next().unwrap_or("").trim();
    let cut = first.find(" at line ").map_or(first, |i| &first[..i]);
    cut.trim_end_matches(':').to_string()
}

fn shift(node: &mut Node, lines: usize) {
    if node.line > 0 {
        node.line += lines;
    }
    match &mut node.value {
        Value::List(items) => items.iter_mut().for_each(|n| shift(n, lines)),
        Value::Map(pairs) => pairs.iter_mut().for_each(|(k, v)| {
            shift(k, lines);
            shift(v, lines);
        }),
        _ => {}
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<Value>::deserialize(d)?;
        Ok(Node {
            value: spanned.value,
            line: spanned.referenced.line() as usize,
            col: spanned.referenced.column() as usize,
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v).map(Value::Int).map_err(|_| E::custom("integer out of range"))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        i64::try_from(v).map(Value::Int).map_err(|_| E::custom("integer out of range"))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        i64::try_from(v).map(Value::Int).map_err(|_| E::custom("integer out of range"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut pairs = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            pairs.push((key, value));
        }
        Ok(Value::Map(pairs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Node, Diagnostic> {
        parse(Path::new("f.md"), s, 2)
    }

    #[test]
    fn nodes_carry_positions_offset_by_the_first_line() {
        let node = p("title: Hello\nyear: 2006\ntags: [a, b]\n").unwrap();
        let Value::Map(pairs) = node.value else { panic!("not a map") };
        assert_eq!(pairs[1].0.value, Value::Str("year".into()));
        assert_eq!((pairs[1].0.line, pairs[1].0.col), (3, 1));
        assert_eq!(pairs[1].1.value, Value::Int(2006));
        assert_eq!((pairs[1].1.line, pairs[1].1.col), (3, 7));
        let Value::List(tags) = &pairs[2].1.value else { panic!("not a list") };
        assert_eq!((tags[1].line, tags[1].col), (4, 11));
    }

    #[test]
    fn syntax_errors_are_located() {
        let err = p("title: [unclosed\nyear: 1\n").unwrap_err();
        assert!(err.line >= 2, "{err}");
        assert!(err.message.starts_with("invalid YAML"), "{err}");
    }

    #[test]
    fn billion_laughs_is_refused() {
        let mut doc = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..12 {
            let prev = i - 1;
            doc.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        assert!(p(&doc).is_err());
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let doc = format!("x: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        assert!(p(&doc).is_err());
    }

    #[test]
    fn empty_document_is_null() {
        assert_eq!(p("\n").unwrap().value, Value::Null);
    }

    #[test]
    fn unknown_tags_are_errors_at_their_value() {
        for (source, line, col) in
            [("cmd: !shell rm -rf /\n", 2, 13), ("a: 1\nb: [x, !t 1]\n", 3, 11), ("a: !custom\n  b: 1\n", 3, 3)]
        {
            let e = p(source).unwrap_err();
            assert!(e.message.starts_with("unknown YAML tag `!"), "{source:?}: {e:?}");
            assert_eq!((e.line, e.col), (line, col), "{source:?}");
        }
        assert!(p("a: !!str 12\nb: It worked!\nc: \"!not a tag\"\n").is_ok());
    }
}
