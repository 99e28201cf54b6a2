//! Markdown to HTML with pulldown-cmark, plus what the link stage needs:
//! heading ids (stable, unique per page), the table of contents, the
//! summary, every `@/` link with its position, and every `[@citation]`.

use pulldown_cmark::{BrokenLink, CodeBlockKind, CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::Path;

use crate::config::ExternalLinks;
use crate::diagnostics::{Diagnostic, Note};
use crate::slug::slugify;

/// Internal links are written `@/path/under/content.md#anchor`.
pub const INTERNAL_PREFIX: &str = "@/";
const CITE_MARK: &str = "annals-cite:";
const SUMMARY_MARK: &str = "<!-- more -->";

/// What the markdown stage asks of the rest of the site.
pub trait Resolve: Sync {
    /// URL of the page at `rel` (path under `content/`), or why not.
    fn url(&self, rel: &str) -> Result<&str, Unresolved>;
    /// Label and URL of the citable entry `id`, or why not.
    fn cite(&self, id: &str) -> Result<(&str, &str), Unresolved>;
    /// Whether the site cites at all: without a citation collection, `@word`
    /// in running text is just text.
    fn cites(&self) -> bool;
    /// What to do about links to other sites.
    fn external_links(&self) -> ExternalLinks;
    /// Whether `rel` (path under `content/`) is a file copied as it is.
    fn is_asset(&self, rel: &str) -> bool;
    /// The site's `base_url`.
    fn base_url(&self) -> &str;
}

/// Why a link or citation does not resolve: a diagnostic but for its
/// place, which only the markdown stage knows.
#[derive(Debug, Clone, PartialEq)]
pub struct Unresolved {
    pub message: String,
    pub hint: Option<String>,
}

impl Unresolved {
    pub fn new(message: impl Into<String>) -> Self {
        Unresolved { message: message.into(), hint: None }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The diagnostic at byte `offset` of the text `locator` locates.
    fn at(self, locator: &Locator, offset: usize) -> Diagnostic {
        let mut d = locator.at(offset, self.message);
        d.hint = self.hint;
        d
    }
}

/// A `@/` link as written, for anchor checks and backlinks.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Link {
    pub target: String,
    pub anchor: Option<String>,
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Heading {
    pub level: u8,
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Rendered {
    /// Empty when rendered with [`Produce::Facts`].
    pub html: String,
    /// The text before `<!-- more -->`, else the first paragraph.
    pub summary: String,
    pub toc: Vec<Heading>,
    /// Footnote names, which a `#fragment` may name as well as headings.
    pub footnotes: Vec<String>,
    pub links: Vec<Link>,
    /// Cited entry ids, in order of first citation, without repeats.
    pub citations: Vec<String>,
    /// Files beside the Markdown that links and images point at (paths
    /// under `content/`), found or not.
    pub assets: Vec<String>,
}

impl Rendered {
    /// Every id a `#fragment` may name: headings and footnotes.
    pub fn anchors(&self) -> impl Iterator<Item = &str> {
        self.toc.iter().map(|h| h.id.as_str()).chain(self.footnotes.iter().map(String::as_str))
    }
}

/// Where the text being rendered sits, for error positions.
pub struct Locator<'a> {
    pub file: &'a Path,
    /// Maps a byte offset in the rendered text to a 1-based (line, column).
    pub locate: &'a dyn Fn(usize) -> (usize, usize),
}

impl Locator<'_> {
    /// A diagnostic at byte `offset` of the rendered text.
    fn at(&self, offset: usize, message: impl Into<String>) -> Diagnostic {
        let (line, col) = (self.locate)(offset);
        Diagnostic::new(self.file, line, col, message)
    }
}

/// The Markdown extensions annals turns on (the floor benchmark uses the same).
pub fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_SMART_PUNCTUATION
        | Options::ENABLE_HEADING_ATTRIBUTES
}

/// How much [`render`] produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Produce {
    /// The HTML and every fact.
    Html,
    /// Every fact (summary, contents, anchors, links, citations, errors) but
    /// not the HTML, whose highlighting is most of the cost: the link stage
    /// needs the facts of every page at once, the HTML only when its page is
    /// written, so a site never holds all of its pages' HTML.
    Facts,
}

/// Renders `text`, resolving links and citations through `resolver`.
/// Problems are appended to `errors`; rendering always completes, and the
/// facts are the same whatever `produce` asks for.
pub fn render(
    text: &str,
    locator: &Locator,
    resolver: &dyn Resolve,
    errors: &mut Vec<Diagnostic>,
    produce: Produce,
) -> Rendered {
    let callback = |link: BrokenLink| {
        parse_citations(&link.reference).map(|_| (format!("{CITE_MARK}{}", link.reference).into(), "".into()))
    };
    let parser = Parser::new_with_broken_link_callback(text, options(), Some(callback));
    let mut events: Vec<(Event, Range<usize>)> = parser.into_offset_iter().collect();
    let mut walk = Walk::new(text, locator, resolver, errors, events.len());
    assign_heading_ids(&mut events, &mut walk.out, &mut |shared| {
        let (line, col) = (locator.locate)(shared.first.start);
        let note = Note::new(locator.file, line, col, "the heading that has it");
        let message =
            format!("two headings would share the anchor `#{}`; this one gets `#{}`", shared.id, shared.given);
        let hint = format!("reword one of them, or give this one its own id: `{{#{}}}`", shared.given);
        walk.errors.push(locator.at(shared.heading.start, message).as_warning().with_hint(hint).with_note(note))
    });
    let mut iter = events.into_iter().peekable();
    while let Some((event, range)) = iter.next() {
        walk.event(event, range, &mut iter);
    }
    walk.finish(produce)
}

/// The events still to walk.
type Events<'t> = std::iter::Peekable<std::vec::IntoIter<(Event<'t>, Range<usize>)>>;

/// One walk over a text's events: what resolves and locates its links,
/// and what it has found so far.
struct Walk<'t, 'a> {
    text: &'t str,
    locator: &'a Locator<'a>,
    resolver: &'a dyn Resolve,
    errors: &'a mut Vec<Diagnostic>,
    out: Rendered,
    /// The events to turn into HTML, links rewritten and citations rendered.
    html: Vec<Event<'t>>,
    summary_end: Option<usize>,
    first_paragraph: Option<Range<usize>>,
    paragraph_start: Option<usize>,
    cited: HashSet<String>,
    /// Code blocks are highlighted after the walk, once it is known which
    /// ones the output needs: with `Produce::Facts`, only the summary's.
    code_blocks: Vec<(usize, String, CowStr<'t>)>,
    /// Inside a link or image, `@word` is text: links do not nest.
    link_depth: usize,
    /// The last character of the text event before, when text continues.
    previous_char: Option<char>,
}

impl<'t, 'a> Walk<'t, 'a> {
    fn new(
        text: &'t str,
        locator: &'a Locator<'a>,
        resolver: &'a dyn Resolve,
        errors: &'a mut Vec<Diagnostic>,
        events: usize,
    ) -> Self {
        Walk {
            text,
            locator,
            resolver,
            errors,
            out: Rendered::default(),
            html: Vec::with_capacity(events),
            summary_end: None,
            first_paragraph: None,
            paragraph_start: None,
            cited: HashSet::new(),
            code_blocks: Vec::new(),
            link_depth: 0,
            previous_char: None,
        }
    }

    fn event(&mut self, event: Event<'t>, range: Range<usize>, rest: &mut Events<'t>) {
        let before_text = self.previous_char.take();
        self.track_links(&event, &range, rest);
        match event {
            Event::Start(Tag::Link { dest_url, .. }) if dest_url.starts_with(CITE_MARK) => {
                // The link's text is the raw label; skip it, the citation replaces it.
                for (e, _) in rest.by_ref() {
                    if matches!(e, Event::End(TagEnd::Link)) {
                        break;
                    }
                }
                self.bracketed_citation(&dest_url[CITE_MARK.len()..], &range);
            }
            Event::Text(t) if self.link_depth == 0 && self.resolver.cites() && t.contains('@') => {
                self.previous_char = t.chars().next_back();
                self.narrative_citations(&t, &range, before_text);
            }
            Event::Text(t) => {
                self.previous_char = t.chars().next_back();
                self.html.push(Event::Text(t));
            }
            Event::Start(Tag::Link { link_type, dest_url, title, id }) if is_rewritten(&dest_url) => {
                let dest = self.rewrite(&dest_url, &range);
                self.html.push(Event::Start(Tag::Link { link_type, dest_url: dest.into(), title, id }));
            }
            Event::Start(Tag::Image { link_type, dest_url, title, id }) if is_rewritten(&dest_url) => {
                let dest = self.rewrite(&dest_url, &range);
                self.html.push(Event::Start(Tag::Image { link_type, dest_url: dest.into(), title, id }));
            }
            Event::Start(Tag::CodeBlock(kind)) => self.code_block(kind, rest),
            Event::Html(ref h) | Event::InlineHtml(ref h) if self.summary_end.is_none() && h.trim() == SUMMARY_MARK => {
                self.summary_end = Some(self.html.len());
            }
            Event::Start(Tag::Paragraph) if self.first_paragraph.is_none() && self.paragraph_start.is_none() => {
                self.paragraph_start = Some(self.html.len());
                self.html.push(event);
            }
            Event::End(TagEnd::Paragraph) if self.first_paragraph.is_none() && self.paragraph_start.is_some() => {
                self.html.push(event);
                self.first_paragraph = self.paragraph_start.map(|s| s..self.html.len());
            }
            Event::Start(Tag::FootnoteDefinition(ref name)) => {
                self.out.footnotes.push(name.to_string());
                self.html.push(event);
            }
            other => self.html.push(other),
        }
    }

    /// Whether the walk is inside a link, and what links and images to
    /// other sites or without alt text deserve.
    fn track_links(&mut self, event: &Event, range: &Range<usize>, rest: &mut Events<'t>) {
        match event {
            Event::Start(Tag::Link { dest_url, .. }) if !dest_url.starts_with(CITE_MARK) => {
                self.link_depth += 1;
                self.external(dest_url, "link", range);
            }
            Event::Start(Tag::Image { dest_url, .. }) => {
                self.link_depth += 1;
                self.external(dest_url, "image", range);
                if matches!(rest.peek(), Some((Event::End(TagEnd::Image), _))) {
                    let d = self.locator.at(range.start, "image without alt text").as_warning();
                    self.errors.push(d.with_hint("describe it for readers who cannot see it: `![what it shows](…)`"));
                }
            }
            Event::End(TagEnd::Link | TagEnd::Image) => self.link_depth = self.link_depth.saturating_sub(1),
            _ => {}
        }
    }

    fn cite(&mut self, id: &str) {
        if self.cited.insert(id.to_string()) {
            self.out.citations.push(id.to_string());
        }
    }

    /// `[see @id, p. 3; @other]`, written at `range`.
    fn bracketed_citation(&mut self, label: &str, range: &Range<usize>) {
        let cites = parse_citations(label).unwrap_or_default();
        let written = &self.text[range.clone()];
        let (locator, errors) = (self.locator, &mut *self.errors);
        let html = citation_html(&cites, self.resolver, |id, u| {
            let offset = range.start + written.find(&format!("@{id}")).unwrap_or(0);
            errors.push(u.at(locator, offset).with_len(id.len() + 1))
        });
        for c in &cites {
            self.cite(c.id);
        }
        self.html.push(Event::InlineHtml(html.into()));
    }

    /// Text holding `@id` narrative citations, written at `range`.
    fn narrative_citations(&mut self, t: &str, range: &Range<usize>, before_text: Option<char>) {
        let mut rest = 0;
        for (i, id) in narrative_citations(t, before_text) {
            self.html.push(Event::Text(t[rest..i].to_string().into()));
            rest = i + 1 + id.len();
            let key = format!("@{id}");
            // The text is the source unless it held escapes: then search.
            let offset = match self.text.get(range.start + i..) {
                Some(s) if s.starts_with(&key) => range.start + i,
                _ => range.start + self.text[range.clone()].find(&key).unwrap_or(0),
            };
            let (locator, errors) = (self.locator, &mut *self.errors);
            let html = narrative_html(id, self.resolver, |u| errors.push(u.at(locator, offset).with_len(id.len() + 1)));
            self.cite(id);
            self.html.push(Event::InlineHtml(html.into()));
        }
        self.html.push(Event::Text(t[rest..].to_string().into()));
    }

    /// The URL a `@/` or relative link or image points at, as written in the output.
    fn rewrite(&mut self, dest: &str, range: &Range<usize>) -> String {
        if dest.starts_with(INTERNAL_PREFIX) { self.internal_link(dest, range) } else { self.local_link(dest, range) }
    }

    fn code_block(&mut self, kind: CodeBlockKind<'t>, rest: &mut Events<'t>) {
        let mut code = String::new();
        for (e, _) in rest.by_ref() {
            match e {
                Event::Text(t) => code.push_str(&t),
                Event::End(TagEnd::CodeBlock) => break,
                _ => {}
            }
        }
        let lang = match kind {
            CodeBlockKind::Fenced(lang) => lang,
            CodeBlockKind::Indented => CowStr::Borrowed(""),
        };
        self.code_blocks.push((self.html.len(), code, lang));
        self.html.push(Event::Html(CowStr::Borrowed("")));
    }

    /// The summary, the HTML if asked for, and the facts.
    fn finish(self, produce: Produce) -> Rendered {
        let Walk { text, mut out, mut html, summary_end, first_paragraph, code_blocks, .. } = self;
        let summary_range = summary_end.map(|end| 0..end).or(first_paragraph).unwrap_or(0..0);
        for (at, code, lang) in code_blocks {
            if produce == Produce::Html || summary_range.contains(&at) {
                html[at] = Event::Html(crate::highlight::highlight(&code, &lang).into());
            }
        }
        pulldown_cmark::html::push_html(&mut out.summary, html[summary_range].iter().cloned());
        if produce == Produce::Html {
            out.html.reserve(text.len() * 3 / 2);
            pulldown_cmark::html::push_html(&mut out.html, html.into_iter());
        } else {
            // Facts are kept for every page of the site at once: no spare capacity.
            out.summary.shrink_to_fit();
            out.toc.shrink_to_fit();
            out.links.shrink_to_fit();
            out.citations.shrink_to_fit();
            out.assets.shrink_to_fit();
            out.footnotes.shrink_to_fit();
        }
        out
    }
}

/// Whether a link's destination is rewritten: `@/…` and relative paths.
fn is_rewritten(dest: &str) -> bool {
    dest.starts_with(INTERNAL_PREFIX) || is_local(dest)
}

/// One work cited in brackets, Pandoc style: `[see @id, p. 3]`, `[-@id]`.
#[derive(Debug, Clone, PartialEq)]
struct Cite<'a> {
    prefix: &'a str,
    id: &'a str,
    /// The locator or comment after the id, without its leading comma.
    suffix: &'a str,
    /// `-@id`: the year alone, for when the text already names the authors.
    suppress_author: bool,
}

/// The works cited by a bracketed label such as `see @a, p. 3; -@b`, or
/// `None` when it is not a citation (an ordinary unresolved `[text]`, which
/// CommonMark renders as text): every `;`-separated item must hold an `@id`.
fn parse_citations(label: &str) -> Option<Vec<Cite<'_>>> {
    label
        .split(';')
        .map(|item| {
            let (at, id) = citation_key(item)?;
            let before = &item[..at];
            let suppress_author =
                before.strip_suffix('-').is_some_and(|p| p.is_empty() || p.ends_with(char::is_whitespace));
            let prefix = if suppress_author { &before[..before.len() - 1] } else { before }.trim();
            let suffix = item[at + 1 + id.len()..].trim();
            Some(Cite { prefix, id, suffix: suffix.trim_start_matches(',').trim_start(), suppress_author })
        })
        .collect()
}

/// The first `@id` of `item` that starts a word, with the offset of its `@`.
fn citation_key(item: &str) -> Option<(usize, &str)> {
    item.match_indices('@').find_map(|(i, _)| {
        let before = item[..i].chars().next_back();
        if before.is_some_and(|c| !(c.is_whitespace() || c == '-' || c == '[' || c == '(')) {
            return None;
        }
        let id = id_at(&item[i + 1..])?;
        Some((i, id))
    })
}

/// The citation id at the start of `rest`, if it is shaped like one: lowercase
/// letters, digits and hyphens, not running on into a longer word or a
/// domain name (`@example.org`).
fn id_at(rest: &str) -> Option<&str> {
    let end = rest.find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')).unwrap_or(rest.len());
    let id = rest[..end].trim_end_matches('-');
    let after = &rest[id.len()..];
    let runs_on = after.starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '@')
        || (after.starts_with('.') && after[1..].starts_with(|c: char| c.is_alphanumeric()));
    (!id.is_empty() && !id.starts_with('-') && !runs_on).then_some(id)
}

/// Narrative citations in running text (`as @zarate-2006 showed`): each `@`
/// offset and id. An `@` inside a word (`name@example.org`) is not one.
fn narrative_citations(text: &str, before_text: Option<char>) -> Vec<(usize, &str)> {
    let mut found = Vec::new();
    let mut from = 0;
    for (i, _) in text.match_indices('@') {
        if i < from {
            continue;
        }
        let before = text[..i].chars().next_back().or(before_text);
        if before.is_some_and(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '/' | '@')) {
            continue;
        }
        if let Some(id) = id_at(&text[i + 1..]) {
            found.push((i, id));
            from = i + 1 + id.len();
        }
    }
    found
}

/// A label `Zarate et al., 2006` as its names and its year.
fn names_and_year(label: &str) -> (&str, &str) {
    label.rsplit_once(", ").unwrap_or((label, ""))
}

fn citation_link(url: &str, text: &str) -> String {
    format!("<a class=\"citation\" href=\"{}\">{}</a>", escape_html(url), escape_html(text))
}

fn unresolved(id: &str) -> String {
    format!("<span class=\"citation unresolved\">@{}</span>", escape_html(id))
}

/// `(see Zarate et al., 2006, p. 3; 2010)`, each work a link.
fn citation_html(cites: &[Cite], resolver: &dyn Resolve, mut error: impl FnMut(&str, Unresolved)) -> String {
    let mut parts = Vec::new();
    for c in cites {
        let mut part = String::new();
        if !c.prefix.is_empty() {
            part.push_str(&escape_html(c.prefix));
            part.push(' ');
        }
        match resolver.cite(c.id) {
            Ok((label, url)) => {
                let shown = if c.suppress_author { names_and_year(label).1 } else { label };
                part.push_str(&citation_link(url, if shown.is_empty() { label } else { shown }));
            }
            Err(u) => {
                error(c.id, u);
                part.push_str(&unresolved(c.id));
            }
        }
        if !c.suffix.is_empty() {
            part.push_str(", ");
            part.push_str(&escape_html(c.suffix));
        }
        parts.push(part);
    }
    format!("<span class=\"citations\">({})</span>", parts.join("; "))
}

/// `Zarate et al. (2006)`, a link.
fn narrative_html(id: &str, resolver: &dyn Resolve, error: impl FnOnce(Unresolved)) -> String {
    match resolver.cite(id) {
        Ok((label, url)) => match names_and_year(label) {
            (names, "") => citation_link(url, names),
            (names, year) => citation_link(url, &format!("{names} ({year})")),
        },
        Err(u) => {
            error(u);
            unresolved(id)
        }
    }
}

/// A link into the site or the source tree, rather than elsewhere on the
/// web (`https:`, `mailto:`, `//host`) or on the same page (`#x`).
fn is_local(dest: &str) -> bool {
    let scheme = dest.find(':').is_some_and(|at| {
        let name = &dest[..at];
        name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    !(dest.is_empty() || dest.starts_with('#') || dest.starts_with("//") || scheme || dest.starts_with(CITE_MARK))
}

impl Walk<'_, '_> {
    /// An `@/path.md#anchor` link: recorded for the link stage (which checks
    /// the anchor), and its URL, or `#` with an error.
    fn internal_link(&mut self, dest: &str, range: &Range<usize>) -> String {
        let (line, col) = (self.locator.locate)(range.start);
        let spec = &dest[INTERNAL_PREFIX.len()..];
        let (target, anchor) = match spec.split_once('#') {
            Some((t, a)) => (t, Some(a.to_string())),
            None => (spec, None),
        };
        self.out.links.push(Link { target: target.to_string(), anchor: anchor.clone(), line, col });
        match self.resolver.url(target) {
            Ok(url) => match anchor {
                Some(a) => format!("{url}#{a}"),
                None => url.to_string(),
            },
            Err(u) => {
                // The whole link is at fault (the printer stops at the end of its line).
                self.errors.push(u.at(self.locator, range.start).with_len(range.len()));
                "#".to_string()
            }
        }
    }

    /// A link written as GitHub shows it: `/x` from the site's root (given the
    /// `base_url` prefix), anything else from the Markdown file's folder. A
    /// `.md` file becomes its page's URL, checked like an `@/` link; any other
    /// file becomes its URL in the output, and must exist.
    fn local_link(&mut self, dest: &str, range: &Range<usize>) -> String {
        if let Some(rooted) = dest.strip_prefix('/') {
            return format!("{}{rooted}", self.resolver.base_url());
        }
        let (path, suffix) = dest.split_at(dest.find(['#', '?']).unwrap_or(dest.len()));
        let folder = self
            .locator
            .file
            .strip_prefix(crate::content::CONTENT_DIR)
            .ok()
            .and_then(Path::parent)
            .map(|p| p.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>())
            .unwrap_or_default();
        let mut parts: Vec<String> = folder.into_iter().map(|c| c.into_owned()).collect();
        for segment in percent_decode(path).split('/') {
            match segment {
                "" | "." => {}
                ".." if parts.pop().is_some() => {}
                ".." => return self.broken(range, format!("link `{dest}` points outside content/")),
                s => parts.push(s.to_string()),
            }
        }
        let rel = parts.join("/");
        let is_folder = path.is_empty() || path.ends_with('/') || rel.is_empty();
        if rel.ends_with(".md") || is_folder {
            // A folder is its section page: `../eras/` is `eras/_index.md`.
            let page = if is_folder { crate::content::section_rel(&rel) } else { rel };
            let spec = format!("{INTERNAL_PREFIX}{page}{}", suffix.strip_prefix('?').map_or(suffix, |_| ""));
            return self.internal_link(&spec, range);
        }
        if !self.out.assets.contains(&rel) {
            self.out.assets.push(rel.clone());
        }
        if !self.resolver.is_asset(&rel) {
            let message = format!("missing file: `{dest}` is not a file in content/ (looked for `content/{rel}`)");
            return self.broken(range, message);
        }
        format!("{}{}{suffix}", self.resolver.base_url(), path_to_url(&rel))
    }

    /// A link or image to another site, under the site's `links.external`.
    fn external(&mut self, dest: &str, what: &str, range: &Range<usize>) {
        let lower = dest.trim_start().to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("//")) {
            return;
        }
        let policy = self.resolver.external_links();
        let message = format!("external {what} to `{dest}`: site.yaml sets `links: {{ external: {} }}`", policy.name());
        let d = self.locator.at(range.start, message);
        let d = d.with_hint("link to a page of this site with `@/…`, or name the source in plain text");
        match policy {
            ExternalLinks::Allow => {}
            ExternalLinks::Warn => self.errors.push(d.as_warning()),
            ExternalLinks::Deny => self.errors.push(d),
        }
    }

    /// Reports a link that leads nowhere; its URL becomes `#`.
    fn broken(&mut self, range: &Range<usize>, message: String) -> String {
        self.errors.push(self.locator.at(range.start, message));
        "#".to_string()
    }
}

/// `%20` and the like, as a file name.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A path as a URL path: spaces and other unsafe bytes percent-encoded.
fn path_to_url(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A heading whose id another heading has already.
struct SharedAnchor {
    heading: Range<usize>,
    /// The heading that has the id.
    first: Range<usize>,
    id: String,
    /// The id this heading gets instead.
    given: String,
}

/// Gives every heading an id (its own `{#id}` or a slug of its text, made
/// unique with `-1`, `-2`, …) and records the table of contents. A heading
/// whose id was taken is reported: a link to it reaches the first one.
fn assign_heading_ids(events: &mut [(Event, Range<usize>)], out: &mut Rendered, warn: &mut dyn FnMut(SharedAnchor)) {
    // Each id given, with the heading that has it.
    let mut used: HashMap<String, Range<usize>> = HashMap::new();
    let mut i = 0;
    while i < events.len() {
        if let Event::Start(Tag::Heading { level, id, .. }) = &events[i].0 {
            let level = heading_level(*level);
            let explicit = id.as_ref().map(|s| s.to_string());
            let mut title = String::new();
            let mut j = i + 1;
            while j < events.len() && !matches!(events[j].0, Event::End(TagEnd::Heading(_))) {
                if let Event::Text(t) | Event::Code(t) = &events[j].0 {
                    title.push_str(t);
                }
                j += 1;
            }
            let base = explicit.unwrap_or_else(|| match slugify(&title) {
                s if s.is_empty() => "section".to_string(),
                s => s,
            });
            let mut unique = base.clone();
            let mut n = 1;
            while used.contains_key(&unique) {
                unique = format!("{base}-{n}");
                n += 1;
            }
            if let Some(first) = used.get(&base).filter(|_| unique != base) {
                let (heading, first) = (events[i].1.clone(), first.clone());
                warn(SharedAnchor { heading, first, id: base.clone(), given: unique.clone() });
            }
            used.insert(unique.clone(), events[i].1.clone());
            if let Event::Start(Tag::Heading { id, .. }) = &mut events[i].0 {
                *id = Some(CowStr::from(unique.clone()));
            }
            out.toc.push(Heading { level, id: unique, title });
            i = j;
        }
        i += 1;
    }
}

fn heading_level(level: HeadingLevel) -> u8 {
    level as u8
}

/// Escapes text for HTML content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    pulldown_cmark_escape::escape_html(&mut out, s).expect("writing to a String cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;
    impl Resolve for Fake {
        fn url(&self, rel: &str) -> Result<&str, Unresolved> {
            match rel {
                "studies/a.md" => Ok("/studies/a/"),
                _ => Err(Unresolved::new(format!("broken link: no page at `@/{rel}`"))),
            }
        }
        fn is_asset(&self, rel: &str) -> bool {
            ["studies/chart.png", "files/my report.pdf", "a.png", "b.png"].contains(&rel)
        }
        fn base_url(&self) -> &str {
            "/sub/"
        }
        fn cite(&self, id: &str) -> Result<(&str, &str), Unresolved> {
            match id {
                "a" => Ok(("Smith et al., 2006", "/studies/a/")),
                "b" => Ok(("Jones and Li, 2000", "/studies/b/")),
                _ => Err(Unresolved::new(format!("unknown citation `@{id}`"))),
            }
        }
        fn cites(&self) -> bool {
            true
        }
        fn external_links(&self) -> ExternalLinks {
            ExternalLinks::Warn
        }
    }

    fn md(text: &str) -> (Rendered, Vec<Diagnostic>) {
        let mut errors = Vec::new();
        let locate = |o: usize| crate::diagnostics::line_col(text, o);
        let locator = Locator { file: Path::new("content/x.md"), locate: &locate };
        let r = render(text, &locator, &Fake, &mut errors, Produce::Html);
        let facts = render(text, &locator, &Fake, &mut Vec::new(), Produce::Facts);
        assert_eq!(
            (&facts.summary, &facts.toc, &facts.links, &facts.citations),
            (&r.summary, &r.toc, &r.links, &r.citations)
        );
        assert!(facts.html.is_empty());
        (r, errors)
    }

    #[test]
    fn headings_get_unique_ids_and_a_toc() {
        let (r, _) = md("# Intro\n\n## Intro\n\n## Custom {#mine}\n");
        assert!(r.html.contains("<h1 id=\"intro\">"), "{}", r.html);
        assert!(r.html.contains("<h2 id=\"intro-1\">"));
        assert!(r.html.contains("<h2 id=\"mine\">"));
        assert_eq!(r.toc.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["intro", "intro-1", "mine"]);
    }

    #[test]
    fn citations_render_author_year_and_are_recorded() {
        let (r, errs) = md("As shown [@a; @b], and again [@a].\n");
        assert!(errs.is_empty(), "{errs:?}");
        assert!(r.html.contains("(<a class=\"citation\" href=\"/studies/a/\">Smith et al., 2006</a>; <a class=\"citation\" href=\"/studies/b/\">Jones and Li, 2000</a>)"), "{}", r.html);
        assert_eq!(r.citations, ["a", "b"]);
    }

    #[test]
    fn unknown_citations_and_broken_links_are_located() {
        let (_, errs) = md("Text\n\nSee [@nope] and [x](@/studies/zz.md).\n");
        assert_eq!(errs.len(), 2, "{errs:?}");
        // The citation error underlines `@nope` whole.
        assert_eq!((errs[0].line, errs[0].col, errs[0].len), (3, 6, 5));
        assert_eq!((errs[1].line, errs[1].col), (3, 17));
    }

    #[test]
    fn citations_take_pandoc_prefixes_locators_and_suppressed_authors() {
        let (r, errs) = md("A [see @a, p. 3; -@b] and [@b chap. 2].\n");
        assert!(errs.is_empty(), "{errs:?}");
        let a = "<a class=\"citation\" href=\"/studies/a/\">Smith et al., 2006</a>";
        let b = "<a class=\"citation\" href=\"/studies/b/\">2000</a>";
        assert!(r.html.contains(&format!("(see {a}, p. 3; {b})")), "{}", r.html);
        assert!(r.html.contains("Jones and Li, 2000</a>, chap. 2)"), "{}", r.html);
        assert_eq!(r.citations, ["a", "b"]);
    }

    #[test]
    fn narrative_citations_name_the_authors_in_the_sentence() {
        let (r, errs) = md("As @a showed (and @b.), it works.\n");
        assert!(errs.is_empty(), "{errs:?}");
        assert!(
            r.html.contains("As <a class=\"citation\" href=\"/studies/a/\">Smith et al. (2006)</a> showed"),
            "{}",
            r.html
        );
        assert!(r.html.contains("Jones and Li (2000)</a>.)"), "{}", r.html);
        assert_eq!(r.citations, ["a", "b"]);
    }

    #[test]
    fn an_unknown_narrative_citation_is_an_error_but_an_email_is_not_a_citation() {
        let (r, errs) = md("Write to me@example.org or @example.org; as\n@nope said.\n");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!((errs[0].line, errs[0].col, errs[0].len), (2, 1, 5));
        assert!(r.html.contains("me@example.org or @example.org"), "{}", r.html);
        let (_, errs) = md("`@nope` [x @nope](@/studies/a.md)\n");
        assert!(errs.is_empty(), "{errs:?}");
    }

    #[test]
    fn images_without_alt_text_and_external_links_are_warned_about() {
        let (_, errs) =
            md("![](a.png) ![A chart](b.png)\n\n[site](https://example.org)\n\n![A map](https://example.org/m.png)\n");
        // (a.png and b.png are files of the site: see `Fake::is_asset`.)
        let found: Vec<(usize, usize, bool, &str)> =
            errs.iter().map(|d| (d.line, d.col, d.is_error(), d.message.as_str())).collect();
        assert_eq!(
            found,
            [
                (1, 1, false, "image without alt text"),
                (3, 1, false, "external link to `https://example.org`: site.yaml sets `links: { external: warn }`"),
                (
                    5,
                    1,
                    false,
                    "external image to `https://example.org/m.png`: site.yaml sets `links: { external: warn }`"
                )
            ]
        );
    }

    #[test]
    fn headings_that_would_share_an_anchor_are_warned_about() {
        let (_, errs) = md("## Results\n\ntext\n\n## Results\n");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!((errs[0].line, errs[0].col, errs[0].is_error()), (5, 1, false));
        assert!(errs[0].message.contains("`#results`; this one gets `#results-1`"), "{}", errs[0]);
    }

    #[test]
    fn internal_links_resolve_with_anchor() {
        let (r, errs) = md("[A](@/studies/a.md#sec)\n");
        assert!(errs.is_empty());
        assert!(r.html.contains("href=\"/studies/a/#sec\""), "{}", r.html);
        assert_eq!(r.links[0].anchor.as_deref(), Some("sec"));
    }

    fn md_in(file: &str, text: &str) -> (Rendered, Vec<Diagnostic>) {
        let mut errors = Vec::new();
        let locate = |o: usize| crate::diagnostics::line_col(text, o);
        let locator = Locator { file: Path::new(file), locate: &locate };
        (render(text, &locator, &Fake, &mut errors, Produce::Html), errors)
    }

    #[test]
    fn relative_links_resolve_from_the_markdown_files_folder() {
        let (r, errs) = md_in(
            "content/studies/b.md",
            "![c](chart.png) [a](a.md#sec) [up](../files/my%20report.pdf) [root](/about/) [ext](https://x.org/a.md) [m](mailto:a@b.c) [h](#top)\n",
        );
        // The one external link is warned about (`Fake` says `external: warn`).
        assert!(errs.len() == 1 && errs[0].message.starts_with("external link to `https://x.org/a.md`"), "{errs:?}");
        assert!(r.html.contains("src=\"/sub/studies/chart.png\""), "{}", r.html);
        assert!(r.html.contains("href=\"/studies/a/#sec\""), "{}", r.html);
        assert!(r.html.contains("href=\"/sub/files/my%20report.pdf\""), "{}", r.html);
        assert!(r.html.contains("href=\"/sub/about/\""), "{}", r.html);
        assert!(r.html.contains("href=\"https://x.org/a.md\""));
        assert!(r.html.contains("href=\"mailto:a@b.c\""));
        assert!(r.html.contains("href=\"#top\""));
        assert_eq!(r.links[0].target, "studies/a.md");
        assert_eq!(r.links[0].anchor.as_deref(), Some("sec"));
    }

    #[test]
    fn missing_local_files_and_pages_are_located() {
        let (_, errs) = md_in("content/studies/b.md", "Text\n\n![x](nope.png) and [y](zz.md) and [z](../../out.pdf)\n");
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert_eq!((errs[0].line, errs[0].col), (3, 1));
        assert!(errs[0].message.contains("content/studies/nope.png"), "{}", errs[0].message);
        assert_eq!((errs[1].line, errs[1].col), (3, 20));
        assert!(errs[2].message.contains("outside content/"), "{}", errs[2].message);
    }

    #[test]
    fn summary_is_text_before_more_else_first_paragraph() {
        let (r, _) = md("First *one*.\n\nSecond.\n");
        assert_eq!(r.summary, "<p>First <em>one</em>.</p>\n");
        let (r, _) = md("One.\n\nTwo.\n\n<!-- more -->\n\nThree.\n");
        assert_eq!(r.summary, "<p>One.</p>\n<p>Two.</p>\n");
    }

    #[test]
    fn summary_code_is_highlighted_even_without_html() {
        let text = "```rust\nfn main() {}\n```\n\n<!-- more -->\n\nRest.\n";
        let locate = |o: usize| crate::diagnostics::line_col(text, o);
        let locator = Locator { file: Path::new("content/x.md"), locate: &locate };
        let facts = render(text, &locator, &Fake, &mut Vec::new(), Produce::Facts);
        assert!(facts.summary.contains("hl-"), "{}", facts.summary);
    }

    #[test]
    fn citations_in_code_are_left_alone() {
        let (r, errs) = md("`[@nope]`\n\n```\n[@nope]\n```\n");
        assert!(errs.is_empty(), "{errs:?}");
        assert!(r.html.contains("[@nope]"));
    }

    #[test]
    fn local_links_are_paths_not_schemes_fragments_or_citations() {
        for local in ["a.md", "../eras/", "/about/", "chart%20one.png", "dir/x.csv?raw"] {
            assert!(is_local(local), "{local}");
        }
        for other in ["", "#top", "//cdn.org/x", "https://x.org", "mailto:a@b.org", "annals-cite:x"] {
            assert!(!is_local(other), "{other}");
        }
    }

    #[test]
    fn file_names_round_trip_through_percent_escapes() {
        assert_eq!(percent_decode("chart%20one.png"), "chart one.png");
        assert_eq!(percent_decode("caf%C3%A9"), "café");
        // A `%` not followed by two hex digits is itself.
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(path_to_url("a b/café.png"), "a%20b/caf%C3%A9.png");
    }

    #[test]
    fn citation_ids_end_where_the_id_characters_end() {
        assert_eq!(id_at("zarate-2006, p. 3"), Some("zarate-2006"));
        assert_eq!(id_at("zarate-2006."), Some("zarate-2006"));
        assert_eq!(id_at("a-"), Some("a"));
        // An email address or a word running on is not a citation.
        assert_eq!(id_at("example.org"), None);
        assert_eq!(id_at("x_y"), None);
        assert_eq!(id_at("-x"), None);
        assert_eq!(citation_key("see @a"), Some((4, "a")));
        assert_eq!(citation_key("name@a"), None);
        assert_eq!(names_and_year("Berman et al., 2000"), ("Berman et al.", "2000"));
    }
}
