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

/// A YAML value with the 1-based line and column where it starts. Read
/// from YAML as a [`Read`]; its own serde derives are for `Trees`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Node {
    pub value: Value,
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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

/// Front matter parsed by the last one-off build, by a hash of its text: a
/// build takes each unchanged file's tree from here rather than parse it
/// again (YAML was a sixth of a rebuild's time). A tree parsed with
/// warnings is not kept, so that they are found again.
pub type Trees = crate::kept::Kept<Node>;

/// What a build keeps its `Trees` under (see `output::Sink::keep`).
pub const TREES: &str = "front-matter";

/// Parses `source` (whose first line is line `first_line` of `path`) into a
/// node tree, with warnings about what it read. An empty document is `Null`.
/// With `trees`, a tree the last build kept is taken rather than parsed;
/// with its key there, if it is kept for the next build.
pub fn parse(
    path: &Path,
    source: &str,
    first_line: usize,
    trees: Option<&Trees>,
) -> Result<(Node, Vec<Diagnostic>, Option<u64>), Diagnostic> {
    if source.trim().is_empty() {
        return Ok((Node { value: Value::Null, line: first_line, col: 1 }, Vec::new(), None));
    }
    let key = trees.map(|t| (t, t.key(&(source, first_line))));
    if let Some((node, key)) = key.and_then(|(trees, key)| Some((trees.take(key, |_| true)?, key))) {
        return Ok((node, Vec::new(), Some(key)));
    }
    let read: Result<Read, _> = serde_saphyr::from_str(source);
    let mut node = read.map(|r| r.0).map_err(|e| {
        let (line, col) = e.location().map_or((0, 0), |l| (l.line() as usize, l.column() as usize));
        let message = plain_message(&e);
        let shift = |line: usize| if line == 0 { first_line } else { line + first_line - 1 };
        if let Some((open_line, open_col)) = quote_running_into(source, line) {
            // The error is only where YAML noticed: point at the quote that caused it.
            return Diagnostic::new(
                path,
                shift(open_line),
                open_col,
                format!("invalid YAML: this quote is not closed on its line, so the value runs on to line {} ({message} there)", shift(line)),
            )
            .with_hint("close the quote on the same line");
        }
        let hint = hint_for(&message, source.lines().nth(line.saturating_sub(1)).unwrap_or(""));
        let d = Diagnostic::new(path, shift(line), col, format!("invalid YAML: {message}"));
        match hint {
            Some(h) => d.with_hint(h),
            None => d,
        }
    })?;
    if let Some((line, col, tag)) = unknown_tag(source) {
        let message =
            format!("unknown YAML tag `{tag}`: annals reads plain values and would ignore it; remove the tag");
        return Err(Diagnostic::new(path, line + first_line - 1, col, message));
    }
    let mut warnings = Vec::new();
    boolean_keys(&mut node, source, path, first_line, &mut warnings);
    shift(&mut node, first_line - 1);
    let kept = key.filter(|_| warnings.is_empty()).map(|(trees, key)| {
        trees.put(key, &node);
        key
    });
    Ok((node, warnings, kept))
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

/// What to do about the syntax errors new users meet most.
fn hint_for(message: &str, line: &str) -> Option<String> {
    if message.starts_with("mapping values are not allowed") {
        // `key_finding: Result: it worked`: the value holds a colon.
        let (key, value) = line.split_once(": ")?;
        let value = value.trim().replace('\\', "\\\\").replace('"', "\\\"");
        return Some(format!("quote the value: `{key}: \"{value}\"`"));
    }
    if message.starts_with("unclosed quote") {
        return Some("close the quote on the same line, or quote with the other kind of quote".into());
    }
    if message.contains("trailing content after") {
        return Some("a quoted value ends at its closing quote: quote the whole value, or none of it".into());
    }
    None
}

/// The 1-based line and column of a quote opened on an earlier line than
/// `error_line` and still open there (or closed only there): YAML allows a
/// quoted value to span lines, so a forgotten closing quote is noticed only
/// lines later. A light scan: plain values, comments and escapes.
fn quote_running_into(source: &str, error_line: usize) -> Option<(usize, usize)> {
    let mut open: Option<(char, usize, usize)> = None;
    for (n, line) in source.lines().enumerate().map(|(i, l)| (i + 1, l)) {
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match open {
                Some((quote, start_line, start_col)) => {
                    let escaped =
                        (quote == '"' && c == '\\') || (c == '\'' && quote == '\'' && chars.get(i + 1) == Some(&'\''));
                    if escaped {
                        // `\"` in a double-quoted value, `''` in a single-quoted one.
                        i += 1;
                    } else if c == quote {
                        if start_line < error_line && n >= error_line {
                            return Some((start_line, start_col));
                        }
                        open = None;
                    }
                }
                None => {
                    let before = chars[..i].iter().rev().find(|c| !c.is_whitespace());
                    let starts_value = before.is_none_or(|b| matches!(b, ':' | '-' | '[' | ',' | '{' | '?'));
                    if c == '#' && (i == 0 || chars[i - 1].is_whitespace()) {
                        break;
                    }
                    if (c == '"' || c == '\'') && starts_value {
                        open = Some((c, n, i + 1));
                    }
                }
            }
            i += 1;
        }
        if n >= error_line {
            break;
        }
    }
    open.filter(|(_, start_line, _)| *start_line < error_line).map(|(_, line, col)| (line, col))
}

/// YAML 1.1 words that serde-saphyr reads as booleans.
const BOOLEAN_WORDS: &[&str] =
    &["y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"];

/// A key written `on:` or `yes:` is a boolean in YAML 1.1 (which
/// serde-saphyr follows) but a string in YAML 1.2 and to every reader: read
/// it as the string it looks like, and warn, since other tools differ.
fn boolean_keys(node: &mut Node, source: &str, path: &Path, first_line: usize, warnings: &mut Vec<Diagnostic>) {
    match &mut node.value {
        Value::List(items) => items.iter_mut().for_each(|n| boolean_keys(n, source, path, first_line, warnings)),
        Value::Map(pairs) => {
            for (key, value) in pairs {
                if matches!(key.value, Value::Bool(_)) {
                    let text = source.lines().nth(key.line.saturating_sub(1)).unwrap_or("");
                    let word: String =
                        text.chars().skip(key.col.saturating_sub(1)).take_while(|c| c.is_alphabetic()).collect();
                    if BOOLEAN_WORDS.contains(&word.as_str()) {
                        let line = key.line + first_line - 1;
                        warnings.push(
                            Diagnostic::warning(path, line, key.col, format!("key `{word}` is a boolean in YAML 1.1"))
                                .with_len(word.len())
                                .with_hint(format!(
                                    "quote it, `\"{word}\":`, so that every YAML reader takes it as a name"
                                )),
                        );
                        key.value = Value::Str(word);
                    }
                }
                boolean_keys(value, source, path, first_line, warnings);
            }
        }
        _ => {}
    }
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

/// A node as read from YAML, with the positions serde-saphyr gives.
pub struct Read(pub Node);

/// A value as read from YAML, its items and entries as `Read` nodes.
struct ReadValue(Value);

impl<'de> Deserialize<'de> for Read {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<ReadValue>::deserialize(d)?;
        Ok(Read(Node {
            value: spanned.value.0,
            line: spanned.referenced.line() as usize,
            col: spanned.referenced.column() as usize,
        }))
    }
}

impl<'de> Deserialize<'de> for ReadValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor).map(ReadValue)
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
        ReadValue::deserialize(d).map(|v| v.0)
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
        while let Some(Read(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut pairs = Vec::new();
        while let Some(Read(key)) = map.next_key()? {
            let Read(value) = map.next_value()?;
            pairs.push((key, value));
        }
        Ok(Value::Map(pairs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Node, Diagnostic> {
        parse(Path::new("f.md"), s, 2, None).map(|(node, ..)| node)
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

    #[test]
    fn a_colon_in_a_value_gets_a_hint_to_quote_it() {
        let err = p("title: A\nkey_finding: Result: it worked\n").unwrap_err();
        assert_eq!((err.line, err.col), (3, 20), "{err}");
        assert_eq!(err.hint.as_deref(), Some("quote the value: `key_finding: \"Result: it worked\"`"));
    }

    #[test]
    fn a_quote_left_open_is_reported_where_it_opened() {
        let err = p("title: \"A study of things\nyear: 2024\nkey: \"it worked\"\n").unwrap_err();
        assert_eq!((err.line, err.col), (2, 8), "{err}");
        assert!(err.message.contains("runs on to line 4"), "{err}");
        // An apostrophe inside a plain value opens nothing.
        let err = p("title: it's\nkey: [a\n").unwrap_err();
        assert_eq!(err.line, 3, "{err}");
    }

    #[test]
    fn boolean_keys_are_read_as_names_with_a_warning() {
        let (node, warnings, _) = parse(Path::new("f.md"), "title: A\non: x\n", 2, None).unwrap();
        let Value::Map(pairs) = node.value else { panic!("not a map") };
        assert_eq!(pairs[1].0.value, Value::Str("on".into()));
        assert_eq!((warnings[0].line, warnings[0].col, warnings[0].len), (3, 1, 2), "{warnings:?}");
    }

    #[test]
    fn trees_kept_by_one_build_are_taken_by_the_next_as_parsed() {
        let texts = [
            "title: A\nyear: 2024\nratio: 0.5\ndraft: false\nnote: ~\n",
            "title: B\nauthors: [Smith, Jones]\nnested:\n  - {a: 1, b: [x, y]}\n  - \"quoted: text\"\n",
        ];
        let parsed: Vec<Node> = texts.iter().map(|t| p(t).unwrap()).collect();
        let first = Trees::new(7, None);
        let keys: Vec<Option<u64>> =
            texts.iter().map(|t| parse(Path::new("f.md"), t, 2, Some(&first)).unwrap().2).collect();
        assert!(keys.iter().all(Option::is_some));
        // Parsed with a warning: not kept, so the next build warns again.
        assert_eq!(parse(Path::new("f.md"), "on: x\n", 2, Some(&first)).unwrap().2, None);
        let next = Trees::new(7, Some(first.to_bytes()));
        assert_eq!(next.stored(), 2);
        for ((t, expected), key) in texts.iter().zip(&parsed).zip(keys) {
            assert_eq!(parse(Path::new("f.md"), t, 2, Some(&next)).unwrap(), (expected.clone(), Vec::new(), key));
            assert!(next.holds(key.unwrap()));
        }
        let (_, warnings, _) = parse(Path::new("f.md"), "on: x\n", 2, Some(&next)).unwrap();
        assert_eq!(warnings.len(), 1);
    }
}
