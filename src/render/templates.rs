//! Templates: loading them (every syntax error reported), the helpers and
//! filters annals adds to Tera, what `url_for` resolves, and Tera's errors
//! turned into diagnostics that quote the template's text as it was loaded.

use super::*;

/// Loaded templates plus the file and text each came from.
pub struct Templates {
    pub(super) tera: Tera,
    /// By name. The same as the next build's, these templates are reused
    /// rather than parsed again.
    pub(super) files: HashMap<String, TemplateFile>,
    /// Per template, what it reads (see `dependencies`).
    pub(super) deps: HashMap<String, TemplateDeps>,
    pub(super) targets_fingerprint: u64,
    /// The part of it that the pages make, and the site they were.
    pages_fingerprint: u64,
    targets_site: u64,
    /// Static files by output path: one replaces a `files/` template's output.
    pub(super) statics: HashSet<String>,
    /// Whether these are the last build's templates, unchanged.
    pub(super) reused: bool,
}

/// A template as the build read it: its errors point at `path` and quote
/// `text`, not the file on disk, which may have changed since.
#[derive(PartialEq, Eq)]
pub(super) struct TemplateFile {
    path: PathBuf,
    text: String,
}

impl Templates {
    /// Loads every template of `files`, reporting every syntax error.
    /// `targets` are what `url_for` may link to. `previous`, the templates of
    /// the last build, is reused if every template's text is the same: a
    /// save in the preview then parses nothing.
    pub fn load(
        root: &Path,
        files: &theme::Files,
        targets: Targets,
        previous: Option<Templates>,
    ) -> Result<Templates, Vec<Diagnostic>> {
        let (loaded, mut errors) = read(root, files);
        if let Some(same) = previous.filter(|p| errors.is_empty() && p.files == loaded) {
            return Ok(same.reused_for(&targets));
        }
        let mut tera = Tera::new();
        tera.autoescape_on([".html", ".htm", ".xml"]);
        register_helpers(&mut tera);
        let pages_fingerprint = targets.pages_fingerprint();
        let targets_fingerprint = targets.fingerprint(pages_fingerprint);
        let statics = targets.statics.iter().map(|s| s.to_string()).collect();
        register_url_for(&mut tera, &targets);
        // In name order: which template Tera reports first does not vary.
        let mut sources: Vec<(String, String)> = loaded.iter().map(|(n, f)| (n.clone(), f.text.clone())).collect();
        sources.sort_unstable();
        if let Err(e) = tera.add_raw_templates(sources.iter().map(|(n, t)| (n.as_str(), t.as_str()))) {
            // Tera stops at the first error; parse each template alone to report them all.
            for (name, text) in &sources {
                let mut alone = Tera::new();
                if let Err(e) = alone.add_raw_template(name, text)
                    && matches!(e.kind(), tera::ErrorKind::SyntaxError(_))
                {
                    errors.push(template_error(&e, &loaded));
                }
            }
            if errors.is_empty() {
                match e.kind() {
                    tera::ErrorKind::Msg(text) if !validation_errors(text, &loaded).is_empty() => {
                        errors.extend(validation_errors(text, &loaded));
                    }
                    _ => errors.push(template_error(&e, &loaded)),
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let deps = template_deps(&sources);
        Ok(Templates {
            tera,
            files: loaded,
            deps,
            targets_fingerprint,
            pages_fingerprint,
            targets_site: targets.site,
            statics,
            reused: false,
        })
    }

    /// These templates, unchanged, for a build whose `url_for` resolves
    /// `targets`.
    fn reused_for(mut self, targets: &Targets) -> Templates {
        // A site patched from the last one has the same pages and URLs.
        if targets.patched_from != Some(self.targets_site) {
            self.pages_fingerprint = targets.pages_fingerprint();
        }
        self.targets_site = targets.site;
        self.reused = true;
        let fingerprint = targets.fingerprint(self.pages_fingerprint);
        if fingerprint != self.targets_fingerprint {
            self.targets_fingerprint = fingerprint;
            self.statics = targets.statics.iter().map(|s| s.to_string()).collect();
            register_url_for(&mut self.tera, targets);
        }
        self
    }

    /// A hash of every template's name and text.
    pub(super) fn texts_hash(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut texts: Vec<(&String, &str)> = self.files.iter().map(|(n, f)| (n, f.text.as_str())).collect();
        texts.sort_unstable();
        let mut h = crate::fingerprint_hasher();
        texts.hash(&mut h);
        h.finish()
    }

    pub(super) fn fingerprint(&self, template: &str) -> u64 {
        self.deps.get(template).map_or(0, |d| d.fingerprint)
    }

    pub(super) fn globals_used(&self, template: &str) -> impl Iterator<Item = Global> + '_ {
        self.deps.get(template).into_iter().flat_map(|d| d.globals.iter().copied())
    }

    pub(super) fn has(&self, name: &str) -> bool {
        self.tera.contains_template(name)
    }
}

/// Every template of `files` by name, with what cannot be read as errors.
fn read(root: &Path, files: &theme::Files) -> (HashMap<String, TemplateFile>, Vec<Diagnostic>) {
    let mut read = HashMap::default();
    let mut errors = Vec::new();
    for (name, origin) in &files.templates {
        let path = origin.display(root);
        match origin.read().map(String::from_utf8) {
            Ok(Ok(text)) => {
                read.insert(name.clone(), TemplateFile { path, text });
            }
            Ok(Err(_)) => errors.push(Diagnostic::file(&path, "template is not valid UTF-8")),
            Err(e) => errors.push(Diagnostic::file(&path, format!("cannot read template: {e}"))),
        }
    }
    (read, errors)
}

pub(super) fn register_helpers(tera: &mut Tera) {
    register_list_filters(tera);
    register_text_filters(tera);
}

/// The filters over lists of entries.
fn register_list_filters(tera: &mut Tera) {
    // `items | filter(attribute="fields.era.id", value=era.id)`
    tera.register_filter("filter", |items: &[Value], kwargs: Kwargs, _: &State| -> TeraResult<Vec<Value>> {
        let attribute: &str = kwargs.must_get("attribute")?;
        let value: Value = kwargs.must_get("value")?;
        Ok(items.iter().filter(|v| v.get_from_path(attribute) == Some(&value)).cloned().collect())
    });
    // `collections.studies | concat(with=collections.works)`: one list of both.
    tera.register_filter("concat", |items: &[Value], kwargs: Kwargs, _: &State| -> TeraResult<Vec<Value>> {
        let with: Vec<Value> = kwargs.must_get("with")?;
        Ok(items.iter().cloned().chain(with).collect())
    });
    // `items | map(attribute="title")`
    tera.register_filter("map", |items: &[Value], kwargs: Kwargs, _: &State| -> TeraResult<Vec<Value>> {
        let attribute: &str = kwargs.must_get("attribute")?;
        Ok(items.iter().filter_map(|v| v.get_from_path(attribute).cloned()).collect())
    });
    tera.register_filter("by_date", |items: &[Value], kwargs: Kwargs, _: &State| by_date(items, &kwargs));
    tera.register_filter("without", |items: &[Value], kwargs: Kwargs, _: &State| without(items, &kwargs));
    tera.register_filter("timeline_items", |items: &[Value], kwargs: Kwargs, _: &State| timeline_items(items, &kwargs));
    tera.register_filter("lane_rows", |items: &[Value], kwargs: Kwargs, _: &State| lane_rows(items, &kwargs));
}

/// `entries | timeline_items(year="year", period="period", band="era",
/// colour="design", colour_terms=names)`: what the default theme's timeline
/// places, in date order (stable): each entry with a year, or a period whose
/// first year is known, as `{e, start, end, when, period, band, ci}`: the
/// years `[start, end)` it covers (a period ending in "s" is a decade), the
/// year or period as written, whether it is dated by its period, the URL of
/// its band entry (or ""), and the position in `colour_terms` of its first
/// term of the `colour` taxonomy (or -1). One pass, where the template that
/// built the list item by item copied it once per entry.
fn timeline_items(entries: &[Value], kwargs: &Kwargs) -> TeraResult<Vec<Value>> {
    let field = |name: Option<&str>, e: &Value| name.and_then(|n| e.get_from_path(&format!("fields.{n}")).cloned());
    let year: Option<&str> = kwargs.get("year")?;
    let period: Option<&str> = kwargs.get("period")?;
    let band: Option<&str> = kwargs.get("band")?;
    let colour: Option<&str> = kwargs.get("colour")?;
    let colour_terms: Vec<Value> = kwargs.get("colour_terms")?.unwrap_or_default();
    let colour_path = colour.map(|c| format!("terms.{c}"));
    let mut items = Vec::new();
    for e in entries {
        let y = field(year, e).filter(|y| !y.is_none());
        let p = field(period, e).filter(|p| p.is_truthy());
        let (start, end, when) = match (&y, p.as_ref().and_then(|p| Some((p, first_year(p.as_str()?)?)))) {
            (Some(y), _) => {
                let Some(start) = y.as_i64() else { continue };
                (start, start + 1, y.clone())
            }
            (None, Some((p, start))) => {
                let decade = p.as_str().is_some_and(|p| p.ends_with('s'));
                (start, start + if decade { 10 } else { 1 }, p.clone())
            }
            (None, None) => continue,
        };
        let band = field(band, e).and_then(|b| b.get_from_path("url").cloned()).unwrap_or_else(|| "".into());
        let first_term = colour_path.as_deref().and_then(|path| e.get_from_path(path)?.as_array()?.first().cloned());
        let ci = first_term
            .and_then(|t| colour_terms.iter().position(|n| t.get_from_path("name") == Some(n)))
            .map_or(-1, |i| i as i64);
        items.push((
            start,
            map([
                ("e", e.clone()),
                ("start", start.into()),
                ("end", end.into()),
                ("when", when),
                ("period", y.is_none().into()),
                ("band", band),
                ("ci", ci.into()),
            ]),
        ));
    }
    items.sort_by_key(|(start, _)| *start);
    Ok(items.into_iter().map(|(_, item)| item).collect())
}

/// `items | lane_rows(start="start", end="end", min_span=2)`: for items in
/// order of start, the row each takes in its lane: the lowest row that no
/// earlier item still covers, an item covering `[start, max(end, start +
/// min_span))`. A row's last item is the one that covers furthest, so
/// keeping each row's reach is enough: linear in the items per row.
fn lane_rows(items: &[Value], kwargs: &Kwargs) -> TeraResult<Vec<Value>> {
    let start: &str = kwargs.must_get("start")?;
    let end: &str = kwargs.must_get("end")?;
    let min_span: i64 = kwargs.get("min_span")?.unwrap_or(0);
    let number = |item: &Value, name: &str| -> TeraResult<i64> {
        item.get_from_path(name)
            .and_then(Value::as_i64)
            .ok_or_else(|| tera::Error::message(format!("lane_rows: an item has no whole number `{name}`")))
    };
    // Free rows by number, busy ones by when they become free.
    let mut free = std::collections::BTreeSet::new();
    let mut busy = std::collections::BinaryHeap::new();
    let mut rows = Vec::with_capacity(items.len());
    for item in items {
        let (from, to) = (number(item, start)?, number(item, end)?);
        while let Some(&std::cmp::Reverse((reach, row))) = busy.peek()
            && reach <= from
        {
            busy.pop();
            free.insert(row);
        }
        let row = free.pop_first().unwrap_or(busy.len() as i64 + free.len() as i64);
        busy.push(std::cmp::Reverse((to.max(from + min_span), row)));
        rows.push(Value::from(row));
    }
    Ok(rows)
}

/// `items | without(attribute="url", values=shown)`: the items whose
/// attribute is none of `values`. A set, where `not x in list` in a template
/// compares with every element (an era of 12,500 studies took a second).
fn without(items: &[Value], kwargs: &Kwargs) -> TeraResult<Vec<Value>> {
    let attribute: &str = kwargs.must_get("attribute")?;
    let values: Vec<Value> = kwargs.must_get("values")?;
    // Strings are compared as they are, with no copy: every item of every
    // list a page shows is looked up.
    fn key(v: &Value) -> (bool, std::borrow::Cow<'_, str>) {
        (v.is_string(), v.as_str().map_or_else(|| v.to_string().into(), Into::into))
    }
    let excluded: HashSet<(bool, std::borrow::Cow<str>)> = values.iter().map(key).collect();
    let kept = items.iter().filter(|item| !item.get_from_path(attribute).is_some_and(|v| excluded.contains(&key(v))));
    Ok(kept.cloned().collect())
}

/// `entries | by_date(year="year", period="period", collection="studies")`:
/// the entries of `collection` (every entry without it) in date order, by
/// their year or else the first year of their period ("1970s"), undated
/// ones and other collections' last; stable, so equal dates keep their
/// order. One sort, where a template that builds keyed lists item by item
/// would copy the list once per entry.
fn by_date(items: &[Value], kwargs: &Kwargs) -> TeraResult<Vec<Value>> {
    let year: Option<&str> = kwargs.get("year")?;
    let period: Option<&str> = kwargs.get("period")?;
    let collection: Option<&str> = kwargs.get("collection")?;
    let (year, period) = (year.map(|n| format!("fields.{n}")), period.map(|n| format!("fields.{n}")));
    let field = |e: &Value, path: &Option<String>| path.as_deref().and_then(|p| e.get_from_path(p).cloned());
    let date = |e: &Value| -> Option<i64> {
        if collection.is_some_and(|c| e.get_from_path("collection").and_then(Value::as_str) != Some(c)) {
            return None;
        }
        field(e, &year)
            .and_then(|y| y.as_i64())
            .or_else(|| field(e, &period).and_then(|p| p.as_str().and_then(first_year)))
    };
    let mut keyed: Vec<(Option<i64>, &Value)> = items.iter().map(|e| (date(e), e)).collect();
    keyed.sort_by_key(|(d, _)| d.unwrap_or(i64::MAX));
    Ok(keyed.into_iter().map(|(_, e)| e.clone()).collect())
}

/// The filters over text and single values.
fn register_text_filters(tera: &mut Tera) {
    // `"late 1980s" | first_year`: the first four-digit number of a text (1980),
    // or none: where a period ("1970s", "late 1980s") sits on a year axis.
    tera.register_filter("first_year", |text: &str, _: Kwargs, _: &State| -> Value {
        first_year(text).map_or_else(Value::none, Value::from)
    });
    // `value | json`: any value as JSON, for data files and scripts.
    tera.register_filter("json", |value: Value, _: Kwargs, _: &State| -> TeraResult<Value> {
        let text = serde_json::to_string(&value).map_err(|e| tera::Error::message(format!("json: {e}")))?;
        Ok(Value::safe_string(&text))
    });
    // `html | plain(length=160)`: the text of HTML, on one line, cut at a
    // word boundary: for descriptions and feed summaries.
    tera.register_filter("plain", |value: Value, kwargs: Kwargs, _: &State| -> TeraResult<String> {
        let length: Option<usize> = kwargs.get("length")?;
        // HTML (safe strings: summaries, text fields) loses its tags; plain
        // text is kept as it is, to be escaped on output.
        let text = match value.as_str() {
            Some(s) if value.is_safe() => plain_text(s),
            Some(s) => s.split_whitespace().collect::<Vec<_>>().join(" "),
            None if value.is_none() || value.is_undefined() => String::new(),
            None => value.to_string(),
        };
        Ok(match length {
            Some(n) => shorten(&text, n),
            None => text,
        })
    });
    // `text | bibtex`: text with BibTeX's special characters escaped.
    tera.register_filter("bibtex", |value: &str, _: Kwargs, _: &State| -> String { escape_bibtex(value) });
    tera.register_filter("heading_anchors", |html: &str, kwargs: Kwargs, state: &State| -> TeraResult<Value> {
        let toc: Vec<Value> = kwargs.must_get("toc")?;
        // Each id as the `escape` filter would write it.
        let escape = |id: &Value| match id.as_str() {
            Some(s) if id.is_safe() => Ok(s.to_string()),
            Some(s) => state.escape(s),
            None => state.escape(&id.to_string()),
        };
        Ok(Value::safe_string(&heading_anchors(html, &toc, escape)?))
    });
}

/// `page.content | heading_anchors(toc=page.toc)`: the body with a link to
/// itself first in each heading of the table of contents (`<a
/// class="anchor" href="#id" aria-label="Link to this section"></a>`). One
/// pass, where a template replacing heading by heading copies the body
/// once per heading.
fn heading_anchors(html: &str, toc: &[Value], escape: impl Fn(&Value) -> TeraResult<String>) -> TeraResult<String> {
    // Each heading's opening tag as the body has it, and what it becomes.
    let mut anchored: HashMap<String, String> = HashMap::default();
    for heading in toc {
        let (Some(level), Some(id)) = (heading.get_from_path("level"), heading.get_from_path("id")) else { continue };
        let id = escape(id)?;
        let open = format!("<h{level} id=\"{id}\">");
        let with = format!("{open}<a class=\"anchor\" href=\"#{id}\" aria-label=\"Link to this section\"></a>");
        anchored.insert(open, with);
    }
    let mut out = String::with_capacity(html.len() + anchored.len() * 80);
    let mut rest = html;
    // memchr's search: `str::find` with a two-byte needle went byte by byte.
    let opening = memchr::memmem::Finder::new("<h");
    while let Some(at) = opening.find(rest.as_bytes()) {
        out.push_str(&rest[..at]);
        let tag = &rest[at..];
        match tag.find('>').and_then(|end| Some((end + 1, anchored.get(&tag[..=end])?))) {
            Some((end, with)) => {
                out.push_str(with);
                rest = &tag[end..];
            }
            None => {
                out.push_str("<h");
                rest = &tag[2..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

pub(super) fn first_year(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(3)).find_map(|i| {
        let run = &bytes[i..i + 4];
        let alone = |j: Option<&u8>| !j.is_some_and(u8::is_ascii_digit);
        (run.iter().all(u8::is_ascii_digit) && alone(i.checked_sub(1).map(|j| &bytes[j])) && alone(bytes.get(i + 4)))
            .then(|| text[i..i + 4].parse().ok())
            .flatten()
    })
}

/// The text of an HTML fragment: tags dropped, the entities that Markdown
/// output uses decoded, whitespace collapsed.
pub(super) fn plain_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        // No space before closing punctuation left by a dropped tag.
        if !out.is_empty() && !word.starts_with(['.', ',', ';', ':', ')', '!', '?']) {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// At most `max` characters, cut after a whole word, with `…` if cut.
pub(super) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    let kept = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{}…", kept.trim_end_matches([',', ';', ':', '.']))
}

pub(super) fn escape_bibtex(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            '{' | '}' | '&' | '%' | '$' | '#' | '_' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// What `url_for` resolves: content pages by `@/` path, and static files.
/// Borrowed from the site: the preview makes its own copy only when they
/// change, not on every save.
pub struct Targets<'a> {
    pub base_url: &'a str,
    /// Each page's path under `content/` and URL.
    pub pages: &'a [Page],
    /// Paths of static files and content assets.
    pub statics: Vec<&'a str>,
    /// The site's generation, and what it was patched from (see `Site::patched`).
    pub site: u64,
    pub patched_from: Option<u64>,
}

impl Targets<'_> {
    /// Equal for equal sets of targets, whatever their order: each element
    /// is hashed alone and the hashes are summed, so a rebuild needs no
    /// sort, and no copy, of every page. `pages` is `pages_fingerprint`.
    pub(super) fn fingerprint(&self, pages: u64) -> u64 {
        use std::hash::Hash;
        let statics = self.statics.iter().fold(0u64, |acc, s| acc.wrapping_add(one(&|h| (0u8, s).hash(h))));
        one(&|h| (self.base_url, pages, statics).hash(h))
    }

    pub(super) fn pages_fingerprint(&self) -> u64 {
        use std::hash::Hash;
        self.pages.iter().fold(0u64, |acc, p| acc.wrapping_add(one(&|h| (&p.rel, &p.url).hash(h))))
    }
}

fn one(value: &dyn Fn(&mut ahash::AHasher)) -> u64 {
    use std::hash::Hasher;
    let mut h = crate::fingerprint_hasher();
    value(&mut h);
    h.finish()
}

/// `url_for(path="@/studies/x.md#anchor")` or `url_for(path="style.css")`;
/// a missing target fails the build.
pub(super) fn register_url_for(tera: &mut Tera, targets: &Targets) {
    let base_url = targets.base_url.to_string();
    let pages: HashMap<String, String> = targets.pages.iter().map(|p| (p.rel.clone(), p.url.clone())).collect();
    let statics: HashSet<String> = targets.statics.iter().map(|s| s.to_string()).collect();
    tera.register_function("url_for", move |kwargs: Kwargs, _: &State| -> TeraResult<String> {
        let path: &str = kwargs.must_get("path")?;
        if let Some(rel) = path.strip_prefix(crate::markdown::INTERNAL_PREFIX) {
            let (rel, anchor) = rel.split_once('#').unwrap_or((rel, ""));
            return match pages.get(rel) {
                Some(url) if anchor.is_empty() => Ok(url.clone()),
                Some(url) => Ok(format!("{url}#{anchor}")),
                None => Err(tera::Error::message(format!("url_for: no page at `{path}`"))),
            };
        }
        let file = path.trim_start_matches('/');
        if statics.contains(file) {
            Ok(format!("{base_url}{file}"))
        } else {
            Err(tera::Error::message(format!("url_for: no static file `{file}` in the theme or static/")))
        }
    });
}

/// Tera reports checks made after parsing (unknown functions, filters,
/// blocks) as one message of several reports, each with a `--> name:line:col`
/// line: split it into one diagnostic per report.
pub(super) fn validation_errors(text: &str, files: &HashMap<String, TemplateFile>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut message = None;
    for line in text.lines() {
        if let Some(m) = line.strip_prefix("error: ") {
            message = Some(m.to_string());
        } else if let (Some(loc), Some(m)) = (line.trim_start().strip_prefix("--> "), &message) {
            let mut parts = loc.rsplitn(3, ':');
            let col = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
            let line_no = parts.next().and_then(|l| l.parse().ok()).unwrap_or(0);
            let name = parts.next().unwrap_or(loc);
            out.push(at_template(files, name, (line_no, col), format!("template error: {m}")));
            message = None;
        }
    }
    out
}

/// Converts a Tera error into a diagnostic at the template's line and column.
pub(super) fn template_error(e: &tera::Error, files: &HashMap<String, TemplateFile>) -> Diagnostic {
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    let suffix = if causes.is_empty() { String::new() } else { format!(": {}", causes.join(": ")) };
    match e.kind() {
        tera::ErrorKind::SyntaxError(r) | tera::ErrorKind::RenderingError(r) => {
            let span = r.span();
            let message = format!("template error: {}{suffix}", r.message());
            at_template(files, r.filename(), (span.start_line, span.start_col + 1), message)
        }
        _ => Diagnostic::file("templates", format!("template error: {e}{suffix}")),
    }
}

/// A diagnostic at `(line, col)` of template `name`, quoting the line from
/// the text the build read.
fn at_template(
    files: &HashMap<String, TemplateFile>,
    name: &str,
    (line, col): (usize, usize),
    message: String,
) -> Diagnostic {
    let Some(file) = files.get(name) else { return Diagnostic::new(name, line, col, message) };
    let mut d = Diagnostic::new(&file.path, line, col, message);
    d.quote(&file.path, &|n| crate::diagnostics::nth_line(&file.text, 1, n));
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heading_anchors_go_into_the_headings_of_the_toc_only() {
        let heading = |level: u8, id: &str| context::map([("level", level.into()), ("id", id.into())]);
        let toc = [heading(2, "methods"), heading(3, "a&b")];
        let html =
            "<header><h1>T</h1></header><h2 id=\"methods\">M</h2><hr><h3 id=\"a&amp;b\">X</h3><h2 id=\"other\">O</h2>";
        let escape = |id: &Value| Ok(id.as_str().unwrap().replace('&', "&amp;"));
        let anchored = heading_anchors(html, &toc, escape).unwrap();
        let anchor = |id: &str| format!("<a class=\"anchor\" href=\"#{id}\" aria-label=\"Link to this section\"></a>");
        assert_eq!(
            anchored,
            format!(
                "<header><h1>T</h1></header><h2 id=\"methods\">{}M</h2><hr><h3 id=\"a&amp;b\">{}X</h3><h2 id=\"other\">O</h2>",
                anchor("methods"),
                anchor("a&amp;b")
            )
        );
    }

    #[test]
    fn first_year_finds_the_year_of_a_period() {
        assert_eq!(first_year("1970s"), Some(1970));
        assert_eq!(first_year("late 1980s"), Some(1980));
        assert_eq!(first_year("c. 12345 or 1066"), Some(1066));
        assert_eq!(first_year("undated"), None);
    }

    #[test]
    fn plain_text_drops_tags_and_decodes_what_markdown_escapes() {
        assert_eq!(plain_text("<p>A <em>b</em>, c &amp; d &lt;e&gt;.</p>\n<p>Next</p>"), "A b, c & d <e>. Next");
    }

    #[test]
    fn shorten_cuts_after_a_whole_word() {
        assert_eq!(shorten("one two three", 20), "one two three");
        assert_eq!(shorten("one two, three", 9), "one two…");
    }

    #[test]
    fn bibtex_escapes_its_special_characters() {
        assert_eq!(
            escape_bibtex("50% of {x} & y_1 ~ \\"),
            "50\\% of \\{x\\} \\& y\\_1 \\textasciitilde{} \\textbackslash{}"
        );
    }

    #[test]
    fn by_date_orders_by_year_or_period_and_keeps_the_rest_in_order() {
        let mut tera = Tera::default();
        register_helpers(&mut tera);
        tera.add_raw_template(
            "t",
            r#"{% for e in items | by_date(collection="s", year="year", period="period") %}{{ e.title }} {% endfor %}"#,
        )
        .unwrap();
        let entry = |title: &str, collection: &str, year: Value, period: Value| {
            let fields = map([("year", year), ("period", period)]);
            map([("title", title.into()), ("collection", collection.into()), ("fields", fields)])
        };
        let items = vec![
            entry("undated", "s", Value::none(), Value::none()),
            entry("2006", "s", 2006.into(), Value::none()),
            entry("work", "w", 1900.into(), Value::none()),
            entry("1970s", "s", Value::none(), "late 1970s".into()),
            entry("1994", "s", 1994.into(), Value::none()),
            entry("also-2006", "s", 2006.into(), Value::none()),
        ];
        let mut context = Context::new();
        context.insert_value("items", Value::from(items));
        let out = tera.render("t", &context).unwrap();
        assert_eq!(out, "1970s 1994 2006 also-2006 undated work ");
    }

    #[test]
    fn without_leaves_out_the_items_whose_attribute_is_listed() {
        let mut tera = Tera::default();
        register_helpers(&mut tera);
        tera.add_raw_template(
            "t",
            r#"{% for e in items | without(attribute="url", values=shown) %}{{ e.url }} {% endfor %}"#,
        )
        .unwrap();
        let item = |url: Value| map([("url", url)]);
        let mut context = Context::new();
        context.insert_value(
            "items",
            Value::from(vec![item("/a/".into()), item("/b/".into()), item(1.into()), item("1".into())]),
        );
        context.insert_value("shown", Value::from(vec![Value::from("/b/"), Value::from(1)]));
        // A string and a number that print alike are not the same value.
        assert_eq!(tera.render("t", &context).unwrap(), "/a/ 1 ");
    }

    /// Renders `template` with `items` through the helpers.
    fn render_items(template: &str, items: Vec<Value>) -> String {
        let mut tera = Tera::default();
        register_helpers(&mut tera);
        tera.add_raw_template("t", template).unwrap();
        let mut context = Context::new();
        context.insert_value("items", Value::from(items));
        tera.render("t", &context).unwrap()
    }

    #[test]
    fn timeline_items_places_entries_by_year_or_period_with_band_and_colour() {
        let term = |name: &str| map([("name", name.into()), ("url", format!("/{name}/").into())]);
        let entry = |title: &str, year: Value, period: Value, era: Value, designs: Vec<Value>| {
            let fields = map([("year", year), ("period", period), ("era", era)]);
            map([("title", title.into()), ("fields", fields), ("terms", map([("design", Value::from(designs))]))])
        };
        let era = map([("id", "early".into()), ("url", "/eras/early/".into())]);
        let items = vec![
            entry("2006", 2006.into(), Value::none(), era.clone(), vec![term("trial"), term("case")]),
            entry("undated", Value::none(), "unknown".into(), Value::none(), vec![]),
            entry("1970s", Value::none(), "late 1970s".into(), Value::none(), vec![term("case")]),
            entry("1975", Value::none(), "1975".into(), era, vec![term("other")]),
            entry("also 2006", 2006.into(), "1990s".into(), Value::none(), vec![]),
        ];
        let out = render_items(
            r#"{% for i in items | timeline_items(year="year", period="period", band="era", colour="design", colour_terms=["case", "trial"]) %}{{ i.e.title }}: {{ i.start }}-{{ i.end }} {{ i.when }} {{ i.period }} [{{ i.band }}] {{ i.ci }}; {% endfor %}"#,
            items,
        );
        assert_eq!(
            out,
            "1970s: 1970-1980 late 1970s true [] 0; 1975: 1975-1976 1975 true [/eras/early/] -1; \
             2006: 2006-2007 2006 false [/eras/early/] 1; also 2006: 2006-2007 2006 false [] -1; "
        );
    }

    #[test]
    fn lane_rows_puts_each_item_in_the_lowest_row_free_of_those_it_overlaps() {
        let item = |start: i64, end: i64| map([("start", start.into()), ("end", end.into())]);
        // Marks two years wide: 1990 takes row 0, 1991 overlaps it (row 1),
        // 1992 finds row 0 free, 1993 row 1 (1991's mark ends at 1993), 1994
        // row 0. Without a width, only the decade from 1993 overlaps.
        let items = vec![item(1990, 1991), item(1991, 1992), item(1992, 1993), item(1993, 2003), item(1994, 1995)];
        let out = render_items(
            r#"{{ items | lane_rows(start="start", end="end", min_span=2) | join(sep=" ") }}"#,
            items.clone(),
        );
        assert_eq!(out, "0 1 0 1 0");
        let out = render_items(r#"{{ items | lane_rows(start="start", end="end") | join(sep=" ") }}"#, items);
        assert_eq!(out, "0 0 0 0 1");
    }
}
