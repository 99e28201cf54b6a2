//! Diagnostics are data: every stage returns them beside its result, and only
//! the CLI decides how to print them. A build reports all of them at once.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem found in the input, located as precisely as the stage knows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Diagnostic {
    /// The file at fault, relative to the site root where possible.
    pub path: PathBuf,
    /// 1-based line; 0 when the problem concerns the whole file.
    pub line: usize,
    /// 1-based column; 0 when unknown.
    pub col: usize,
    pub message: String,
    /// What the user can do about it, e.g. "did you mean `year`?".
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(path: impl Into<PathBuf>, line: usize, col: usize, message: impl Into<String>) -> Self {
        Diagnostic { path: path.into(), line, col, message: message.into(), hint: None }
    }

    /// A problem with a whole file rather than a place in it.
    pub fn file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::new(path, 0, 0, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The location prefix: `path:line:col`, `path:line` or `path`.
    pub fn location(&self) -> String {
        let path = self.path.display();
        match (self.line, self.col) {
            (0, _) => format!("{path}"),
            (line, 0) => format!("{path}:{line}"),
            (line, col) => format!("{path}:{line}:{col}"),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  help: {hint}")?;
        }
        Ok(())
    }
}

/// 1-based line and column (in characters) of byte `offset` in `source`.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..floor_char_boundary(source, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Sorts and removes repeats, so that output is deterministic and a template
/// error shared by many pages is reported once.
pub fn normalize(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort();
    diagnostics.dedup();
}

/// Renders diagnostics for a terminal: each with its source line and a caret
/// under the column when the file can be read, then a count.
pub fn report(root: &Path, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&format!("{}: error: {}\n", d.location(), d.message));
        if let Some(snippet) = snippet(root, d) {
            out.push_str(&snippet);
        }
        if let Some(hint) = &d.hint {
            out.push_str(&format!("  help: {hint}\n"));
        }
    }
    let n = diagnostics.len();
    out.push_str(&format!("{n} error{}\n", if n == 1 { "" } else { "s" }));
    out
}

fn snippet(root: &Path, d: &Diagnostic) -> Option<String> {
    if d.line == 0 {
        return None;
    }
    let path = if d.path.is_absolute() { d.path.clone() } else { root.join(&d.path) };
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().nth(d.line - 1)?;
    let gutter = d.line.to_string();
    let pad = " ".repeat(gutter.len());
    let mut s = format!("{pad} |\n{gutter} | {line}\n");
    if d.col > 0 {
        let indent: String = line.chars().take(d.col - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
        s.push_str(&format!("{pad} | {indent}^\n"));
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let s = "ab\nçd\nx";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 3), (2, 1));
        assert_eq!(line_col(s, 5), (2, 2));
        assert_eq!(line_col(s, 7), (3, 1));
        assert_eq!(line_col(s, 99), (3, 2));
    }

    #[test]
    fn location_omits_unknown_parts() {
        assert_eq!(Diagnostic::file("a.md", "x").to_string(), "a.md: x");
        assert_eq!(Diagnostic::new("a.md", 3, 0, "x").to_string(), "a.md:3: x");
        assert_eq!(Diagnostic::new("a.md", 3, 4, "x").with_hint("h").to_string(), "a.md:3:4: x\n  help: h");
    }
}
