//! Diagnostics are data: every stage returns them beside its result, and only
//! the CLI decides how to print them. A build reports all of them at once.

use std::fmt;
use std::path::{Path, PathBuf};

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

/// Whether a diagnostic fails the build. Errors sort before warnings at
/// the same place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Severity {
    #[default]
    Error,
    /// Worth fixing, but the site builds (`check --deny-warnings` fails on it).
    Warning,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem found in the input, located as precisely as the stage knows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Diagnostic {
    /// The file at fault, relative to the site root where possible.
    pub path: PathBuf,
    /// 1-based line; 0 when the problem concerns the whole file.
    pub line: usize,
    /// 1-based column, in characters; 0 when unknown.
    pub col: usize,
    /// How many bytes from the column are at fault (`@bermann-2000` is
    /// underlined whole); 0 for a single caret.
    pub len: usize,
    pub severity: Severity,
    pub message: String,
    /// What the user can do about it, e.g. "did you mean `year`?".
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(path: impl Into<PathBuf>, line: usize, col: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.into(),
            line,
            col,
            len: 0,
            severity: Severity::Error,
            message: message.into(),
            hint: None,
        }
    }

    /// A problem with a whole file rather than a place in it.
    pub fn file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::new(path, 0, 0, message)
    }

    /// A warning: reported, but the site still builds.
    pub fn warning(path: impl Into<PathBuf>, line: usize, col: usize, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Self::new(path, line, col, message) }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The same diagnostic as a warning.
    pub fn as_warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    /// Underlines `len` bytes from the column rather than one character.
    pub fn with_len(mut self, len: usize) -> Self {
        self.len = len;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
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
        write!(f, "{}: ", self.location())?;
        if self.severity == Severity::Warning {
            write!(f, "warning: ")?;
        }
        write!(f, "{}", self.message)?;
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

/// How to print for a person.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// ANSI colours (on a terminal, unless `NO_COLOR` is set).
    pub colour: bool,
    /// Columns available: a longer source line is shown as a window around the column.
    pub width: usize,
}

impl Style {
    /// No colour, 100 columns: for pipes, files and the preview's overlay.
    pub const PLAIN: Style = Style { colour: false, width: 100 };
}

/// Renders diagnostics for a person, without colour: see [`render`].
pub fn report(root: &Path, diagnostics: &[Diagnostic]) -> String {
    render(root, diagnostics, Style::PLAIN)
}

/// Renders diagnostics for a person: each as `path:line:col: error: message`
/// with its source line, the place at fault underlined (annotate-snippets),
/// and a `help:` line; then a count of errors and warnings.
pub fn render(root: &Path, diagnostics: &[Diagnostic], style: Style) -> String {
    let renderer = if style.colour { Renderer::styled() } else { Renderer::plain() }.term_width(style.width);
    let paint = |s: annotate_snippets::renderer::Style, text: &str| {
        if style.colour { format!("{s}{text}{s:#}") } else { text.to_string() }
    };
    let mut out = String::new();
    for d in diagnostics {
        let (level, colour) = match d.severity {
            Severity::Error => (Level::ERROR, annotate_snippets::renderer::DEFAULT_ERROR_STYLE),
            Severity::Warning => (Level::WARNING, annotate_snippets::renderer::DEFAULT_WARNING_STYLE),
        };
        let bold = annotate_snippets::renderer::DEFAULT_EMPHASIS_STYLE;
        out.push_str(&format!("{}: {}: {}\n", d.location(), paint(colour, d.severity.name()), paint(bold, &d.message)));
        let source = source_line(root, d);
        let mut group = Group::with_level(level);
        if let Some((line, span)) = &source {
            let snippet = Snippet::source(line.as_str())
                .line_start(d.line)
                .fold(false)
                .annotation(AnnotationKind::Primary.span(span.clone()));
            group = group.element(snippet);
        }
        if let Some(hint) = &d.hint {
            group = group.element(Level::HELP.message(hint.as_str()));
        }
        if !group.is_empty() {
            out.push_str(&renderer.render(&[group]));
            out.push('\n');
        }
    }
    let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let summary = match (errors, warnings) {
        (_, 0) => count(errors, "error"),
        (0, _) => count(warnings, "warning"),
        _ => format!("{}, {}", count(errors, "error"), count(warnings, "warning")),
    };
    out.push_str(&summary);
    out.push('\n');
    out
}

/// The diagnostic's line of source and the byte range in it to underline,
/// when the file can be read and the position lies in it.
fn source_line(root: &Path, d: &Diagnostic) -> Option<(String, std::ops::Range<usize>)> {
    if d.line == 0 {
        return None;
    }
    let path = if d.path.is_absolute() { d.path.clone() } else { root.join(&d.path) };
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().nth(d.line - 1)?.to_string();
    if d.col == 0 {
        // A line without a column: the whole line is at fault.
        let len = line.len();
        return Some((line, 0..len));
    }
    let start = line.char_indices().nth(d.col - 1).map_or(line.len(), |(i, _)| i);
    let end = match d.len {
        0 => line[start..].chars().next().map_or(start, |c| start + c.len_utf8()),
        n => floor_char_boundary(&line, (start + n).min(line.len())),
    };
    Some((line, start..end))
}

/// Machine-readable forms of diagnostics, for CI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    /// GitHub Actions workflow commands: annotations on the pull request's diff.
    Github,
    /// One JSON array of `{path, line, column, severity, message, hint}`.
    Json,
}

/// GitHub workflow commands, one per line:
/// `::error file=…,line=…,col=…::message`.
pub fn github(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let mut props = vec![format!("file={}", escape_property(&d.path.to_string_lossy()))];
        if d.line > 0 {
            props.push(format!("line={}", d.line));
            if d.col > 0 {
                props.push(format!("col={}", d.col));
            }
        }
        let mut message = d.message.clone();
        if let Some(hint) = &d.hint {
            message.push_str(&format!("\nhelp: {hint}"));
        }
        out.push_str(&format!("::{} {}::{}\n", d.severity.name(), props.join(","), escape_data(&message)));
    }
    out
}

// The escapes GitHub's toolkit applies to workflow command data and properties.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One JSON array, an object per diagnostic; `line` and `column` are 0 when unknown.
pub fn json(diagnostics: &[Diagnostic]) -> String {
    #[derive(serde::Serialize)]
    struct Item<'a> {
        path: std::borrow::Cow<'a, str>,
        line: usize,
        column: usize,
        severity: &'static str,
        message: &'a str,
        hint: Option<&'a str>,
    }
    let items: Vec<String> = diagnostics
        .iter()
        .map(|d| {
            let item = Item {
                path: d.path.to_string_lossy(),
                line: d.line,
                column: d.col,
                severity: d.severity.name(),
                message: &d.message,
                hint: d.hint.as_deref(),
            };
            serde_json::to_string(&item).expect("strings and numbers always serialize")
        })
        .collect();
    // One diagnostic a line, so that a diff of two runs reads well.
    format!("[{}]\n", items.join(",\n "))
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

    fn rendered(line: &str, col: usize, len: usize, width: usize) -> String {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.md"), format!("first\n{line}\n")).unwrap();
        let d = Diagnostic::new("a.md", 2, col, "unknown citation").with_len(len).with_hint("did you mean?");
        render(dir.path(), &[d], Style { colour: false, width })
    }

    #[test]
    fn the_underline_sits_under_wide_characters_and_covers_the_range() {
        assert_eq!(
            rendered("日本語 [@bermann-2000] x", 6, 13, 100),
            "a.md:2:6: error: unknown citation\n  |\n2 | 日本語 [@bermann-2000] x\n  |         ^^^^^^^^^^^^^\n  |\n  = help: did you mean?\n1 error\n"
        );
    }

    #[test]
    fn a_long_line_is_shown_as_a_window_around_the_column() {
        let line = format!("{}[@x]{}", "a ".repeat(200), " b".repeat(200));
        let out = rendered(&line, 401, 2, 60);
        let shown = out.lines().nth(2).unwrap();
        assert!(shown.chars().count() <= 60, "{out}");
        assert!(shown.contains("[@x]") && shown.contains("..."), "{out}");
        let caret = out.lines().nth(3).unwrap();
        assert_eq!(caret.find('^'), Some(shown.find("[@x").unwrap()), "{out}");
    }

    #[test]
    fn counts_errors_and_warnings_apart() {
        let w = Diagnostic::warning("a.md", 0, 0, "w");
        let out = render(Path::new("."), &[Diagnostic::file("a.md", "e"), w.clone(), w], Style::PLAIN);
        assert!(out.contains("a.md: warning: w\n"), "{out}");
        assert!(out.ends_with("1 error, 2 warnings\n"), "{out}");
        assert!(!out.contains('\x1b'));
        let coloured = render(Path::new("."), &[Diagnostic::file("a.md", "e")], Style { colour: true, width: 80 });
        assert!(coloured.contains("\x1b["), "{coloured:?}");
    }

    #[test]
    fn machine_formats_escape_what_they_must() {
        let d = Diagnostic::new("a,b:c.md", 2, 3, "50% \"off\"\nnow").with_hint("h");
        assert_eq!(
            github(std::slice::from_ref(&d)),
            "::error file=a%2Cb%3Ac.md,line=2,col=3::50%25 \"off\"%0Anow%0Ahelp: h\n"
        );
        assert_eq!(
            json(&[d]),
            "[{\"path\":\"a,b:c.md\",\"line\":2,\"column\":3,\"severity\":\"error\",\"message\":\"50% \\\"off\\\"\\nnow\",\"hint\":\"h\"}]\n"
        );
        assert_eq!(json(&[]), "[]\n");
    }

    #[test]
    fn location_omits_unknown_parts() {
        assert_eq!(Diagnostic::file("a.md", "x").to_string(), "a.md: x");
        assert_eq!(Diagnostic::new("a.md", 3, 0, "x").to_string(), "a.md:3: x");
        assert_eq!(Diagnostic::new("a.md", 3, 4, "x").with_hint("h").to_string(), "a.md:3:4: x\n  help: h");
    }
}
