//! Diagnostics are data: every stage returns them beside its result, and only
//! the CLI decides how to print them. A build reports all of them at once.
//!
//! **Positions.** `line` and `col` are 1-based; `col` counts characters
//! (Unicode scalar values) from the start of the line, as rustc and most
//! editors' "go to line:column" do, so `日本語 [@x]` puts `[` at column 5
//! whatever the encoding or the width of the characters. `len` is in bytes.
//! The printer turns the column into a byte offset in the line and leaves
//! the display width of wide characters to annotate-snippets, which puts
//! the underline under the right characters.
//!
//! **Source text.** A stage that reads a file quotes the lines its
//! diagnostics point at ([`Diagnostic::quote`]) from the text it read, so
//! that what is printed is what the build saw, even if the file has changed
//! on disk since (as it may while `serve` runs); templates' errors quote the
//! text the template loader kept. A line that no stage quoted (in a
//! diagnostic made outside a build) is read from disk when printed.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use annotate_snippets::{Annotation, AnnotationKind, Group, Level, Renderer, Snippet};

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
    /// Other places involved (see [`Diagnostic::notes`]), and the line at
    /// fault as the build read it.
    extra: Extra,
}

/// What few diagnostics have, boxed: a diagnostic is returned by value on
/// every stage's path, so it is kept small. Only the notes count in
/// comparisons: two reports of one problem are equal, quoted or not.
#[derive(Debug, Clone, Default)]
struct Extra(Option<Box<(Vec<Note>, Quote)>>);

impl Extra {
    fn notes(&self) -> &[Note] {
        self.0.as_ref().map_or(&[], |e| &e.0)
    }

    fn get(&mut self) -> &mut (Vec<Note>, Quote) {
        self.0.get_or_insert_with(Box::default)
    }
}

impl PartialEq for Extra {
    fn eq(&self, other: &Self) -> bool {
        self.notes() == other.notes()
    }
}
impl Eq for Extra {}
impl PartialOrd for Extra {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Extra {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.notes().cmp(other.notes())
    }
}
impl std::hash::Hash for Extra {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.notes().hash(h);
    }
}

/// A second place a diagnostic involves, with what it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Note {
    pub path: PathBuf,
    /// 1-based line; 0 when the note is about a whole file.
    pub line: usize,
    /// 1-based column in characters; 0 when unknown.
    pub col: usize,
    /// Bytes at fault from the column; 0 for a single caret.
    pub len: usize,
    pub message: String,
    quote: Quote,
}

impl Note {
    pub fn new(path: impl Into<PathBuf>, line: usize, col: usize, message: impl Into<String>) -> Self {
        Note { path: path.into(), line, col, len: 0, message: message.into(), quote: Quote::default() }
    }

    pub fn with_len(mut self, len: usize) -> Self {
        self.len = len;
        self
    }

    /// `path:line:col`, `path:line` or `path`.
    pub fn location(&self) -> String {
        location(&self.path, self.line, self.col)
    }
}

/// A line of source as the build read it. Not part of a diagnostic's
/// identity: two reports of one problem are equal whether quoted or not.
#[derive(Debug, Clone, Default)]
struct Quote(Option<Arc<str>>);

impl PartialEq for Quote {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for Quote {}
impl PartialOrd for Quote {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Quote {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}
impl std::hash::Hash for Quote {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

impl Quote {
    /// Line `line` of `file` from `lines` (the latest text read wins),
    /// unless the place is in another file or is a whole file.
    fn fill<'t>(&mut self, at: (&Path, usize), file: &Path, lines: &dyn Fn(usize) -> Option<&'t str>) {
        let (path, line) = at;
        if line > 0 && path == file {
            self.0 = lines(line).map(Arc::from);
        }
    }
}

/// `path:line:col`, `path:line` or `path`.
fn location(path: &Path, line: usize, col: usize) -> String {
    let path = path.display();
    match (line, col) {
        (0, _) => format!("{path}"),
        (line, 0) => format!("{path}:{line}"),
        (line, col) => format!("{path}:{line}:{col}"),
    }
}

/// Line `n` (1-based) of `text`, whose first line is line `first` of its file.
pub fn nth_line(text: &str, first: usize, n: usize) -> Option<&str> {
    text.lines().nth(n.checked_sub(first)?)
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
            extra: Extra::default(),
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

    /// Adds another place the problem involves.
    pub fn with_note(mut self, note: Note) -> Self {
        self.extra.get().0.push(note);
        self
    }

    /// Other places the problem involves: the first of two headings with
    /// one anchor, the other file with the same URL.
    pub fn notes(&self) -> &[Note] {
        self.extra.notes()
    }

    pub fn notes_mut(&mut self) -> &mut [Note] {
        match &mut self.extra.0 {
            Some(extra) => &mut extra.0,
            None => &mut [],
        }
    }

    /// Keeps the lines of `file` this diagnostic and its notes point at,
    /// from `lines` (line number → text, as the build read it).
    pub fn quote<'t>(&mut self, file: &Path, lines: &dyn Fn(usize) -> Option<&'t str>) {
        let here = |path: &Path, line: usize| line > 0 && path == file;
        if !here(&self.path, self.line) && !self.notes().iter().any(|n| here(&n.path, n.line)) {
            return;
        }
        let (notes, quote) = self.extra.get();
        quote.fill((&self.path, self.line), file, lines);
        for note in notes {
            note.quote.fill((&note.path, note.line), file, lines);
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The location prefix: `path:line:col`, `path:line` or `path`.
    pub fn location(&self) -> String {
        location(&self.path, self.line, self.col)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.location())?;
        if self.severity == Severity::Warning {
            write!(f, "warning: ")?;
        }
        write!(f, "{}", self.message)?;
        for note in self.notes() {
            write!(f, "\n  note: {}: {}", note.location(), note.message)?;
        }
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
        let mut group = Group::with_level(level);
        let quote = d.extra.0.as_ref().map(|e| &e.1);
        let place = Place { path: &d.path, line: d.line, col: d.col, len: d.len, quote };
        if let Some(snippet) = place.snippet(root, AnnotationKind::Primary, None) {
            group = group.element(snippet);
        }
        for note in d.notes() {
            // A note with a line is its own snippet under its path, the note
            // as the label of its underline; one about a whole file is a line.
            let place =
                Place { path: &note.path, line: note.line, col: note.col, len: note.len, quote: Some(&note.quote) };
            let element: annotate_snippets::Element =
                match place.snippet(root, AnnotationKind::Context, Some(&note.message)) {
                    Some(snippet) => snippet.path(note.path.to_string_lossy()).into(),
                    None => Level::NOTE.message(format!("{}: {}", note.location(), note.message)).into(),
                };
            group = group.element(element);
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

/// A place in a file that a diagnostic or a note points at.
struct Place<'a> {
    path: &'a Path,
    line: usize,
    col: usize,
    len: usize,
    quote: Option<&'a Quote>,
}

impl Place<'_> {
    /// The place's line of source with the place underlined, when its line
    /// is known and lies in the text.
    fn snippet<'a>(
        &self,
        root: &Path,
        kind: AnnotationKind,
        label: Option<&'a str>,
    ) -> Option<Snippet<'a, Annotation<'a>>> {
        let (line, span) = self.source_line(root)?;
        Some(Snippet::source(line).line_start(self.line).fold(false).annotation(kind.span(span).label(label)))
    }

    /// The line as the build read it (from disk only if no stage quoted
    /// it), and the byte range in it to underline.
    fn source_line(&self, root: &Path) -> Option<(String, std::ops::Range<usize>)> {
        if self.line == 0 {
            return None;
        }
        let line = match self.quote.and_then(|q| q.0.as_ref()) {
            Some(text) => text.to_string(),
            None => {
                let path = if self.path.is_absolute() { self.path.to_path_buf() } else { root.join(self.path) };
                std::fs::read_to_string(path).ok()?.lines().nth(self.line - 1)?.to_string()
            }
        };
        if self.col == 0 {
            // A line without a column: the whole line is at fault.
            let len = line.len();
            return Some((line, 0..len));
        }
        let start = line.char_indices().nth(self.col - 1).map_or(line.len(), |(i, _)| i);
        let end = match self.len {
            0 => line[start..].chars().next().map_or(start, |c| start + c.len_utf8()),
            n => floor_char_boundary(&line, (start + n).min(line.len())),
        };
        Some((line, start..end))
    }
}

/// Machine-readable forms of diagnostics, for CI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    /// GitHub Actions workflow commands: annotations on the pull request's diff.
    Github,
    /// One JSON array of `{path, line, column, severity, message, hint, notes}`.
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
        // An annotation has one place: the others go into its text.
        let mut message = d.message.clone();
        for note in d.notes() {
            message.push_str(&format!("\nnote: {}: {}", note.location(), note.message));
        }
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

/// One JSON array, an object per diagnostic, each with its `notes` (other
/// places involved, as `{path, line, column, message}`); `line` and
/// `column` are 0 when unknown.
pub fn json(diagnostics: &[Diagnostic]) -> String {
    #[derive(serde::Serialize)]
    struct Item<'a> {
        path: std::borrow::Cow<'a, str>,
        line: usize,
        column: usize,
        severity: &'static str,
        message: &'a str,
        hint: Option<&'a str>,
        notes: Vec<NoteItem<'a>>,
    }
    #[derive(serde::Serialize)]
    struct NoteItem<'a> {
        path: std::borrow::Cow<'a, str>,
        line: usize,
        column: usize,
        message: &'a str,
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
                notes: d
                    .notes()
                    .iter()
                    .map(|n| NoteItem {
                        path: n.path.to_string_lossy(),
                        line: n.line,
                        column: n.col,
                        message: &n.message,
                    })
                    .collect(),
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
            "[{\"path\":\"a,b:c.md\",\"line\":2,\"column\":3,\"severity\":\"error\",\"message\":\"50% \\\"off\\\"\\nnow\",\"hint\":\"h\",\"notes\":[]}]\n"
        );
        assert_eq!(json(&[]), "[]\n");
    }

    #[test]
    fn snippets_quote_the_text_the_build_read_not_the_file_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.md"), "changed since\nthe build read it\n").unwrap();
        let read = "title: x\nyaer: 2006\n";
        let mut d = Diagnostic::new("a.md", 2, 1, "unknown field `yaer`").with_len(4);
        d.quote(Path::new("a.md"), &|n| nth_line(read, 1, n));
        let out = render(dir.path(), &[d], Style::PLAIN);
        assert_eq!(out, "a.md:2:1: error: unknown field `yaer`\n  |\n2 | yaer: 2006\n  | ^^^^\n1 error\n");
    }

    #[test]
    fn a_quote_is_not_part_of_a_diagnostics_identity() {
        let mut quoted = Diagnostic::new("a.md", 1, 1, "x");
        quoted.quote(Path::new("a.md"), &|_| Some("text"));
        let mut list = vec![quoted, Diagnostic::new("a.md", 1, 1, "x")];
        normalize(&mut list);
        assert_eq!(list.len(), 1);
    }

    fn with_notes() -> Diagnostic {
        let text = "## Methods\n\nText.\n\n## Methods\n";
        let mut d = Diagnostic::warning("a.md", 5, 1, "two headings would share the anchor `#methods`")
            .with_note(Note::new("a.md", 1, 1, "the heading that has it").with_len(10))
            .with_note(Note::new("b.md", 0, 0, "another file"));
        d.quote(Path::new("a.md"), &|n| nth_line(text, 1, n));
        d
    }

    #[test]
    fn notes_are_shown_with_their_own_snippets() {
        let out = render(Path::new("/nonexistent"), &[with_notes()], Style::PLAIN);
        assert_eq!(
            out,
            "a.md:5:1: warning: two headings would share the anchor `#methods`\n  |\n5 | ## Methods\n  | ^\n  |\n ::: a.md:1:1\n  |\n1 | ## Methods\n  | ---------- the heading that has it\n  |\n  = note: b.md: another file\n1 warning\n"
        );
        assert_eq!(
            with_notes().to_string(),
            "a.md:5:1: warning: two headings would share the anchor `#methods`\n  note: a.md:1:1: the heading that has it\n  note: b.md: another file"
        );
    }

    #[test]
    fn machine_formats_carry_the_notes() {
        let d = with_notes();
        assert_eq!(
            github(std::slice::from_ref(&d)),
            "::warning file=a.md,line=5,col=1::two headings would share the anchor `#methods`%0Anote: a.md:1:1: the heading that has it%0Anote: b.md: another file\n"
        );
        assert!(
            json(&[d]).contains(r#""notes":[{"path":"a.md","line":1,"column":1,"message":"the heading that has it"},{"path":"b.md","line":0,"column":0,"message":"another file"}]"#)
        );
    }

    #[test]
    fn location_omits_unknown_parts() {
        assert_eq!(Diagnostic::file("a.md", "x").to_string(), "a.md: x");
        assert_eq!(Diagnostic::new("a.md", 3, 0, "x").to_string(), "a.md:3: x");
        assert_eq!(Diagnostic::new("a.md", 3, 4, "x").with_hint("h").to_string(), "a.md:3:4: x\n  help: h");
    }
}
