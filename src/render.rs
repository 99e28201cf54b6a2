//! Tera rendering over the frozen `Site`. Each page's template value (its
//! "card") is built once and shared by reference count wherever the page is
//! listed; the site-wide values live in Tera's global context, built once.
//! Pages render in parallel with no locks.

use rayon::prelude::*;
use std::collections::BTreeMap;

use crate::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use tera::value::Key;
use tera::{Context, Kwargs, State, Tera, TeraResult, Value};

use crate::content::Kind;
use crate::dependencies::{Global, TemplateDeps, template_deps};
use crate::diagnostics::Diagnostic;
use crate::output::{Output, Sink};
use crate::schema::FieldValue;
use crate::site::{Graph, Markdown, Page, Site, Taxonomy, Term};
use crate::theme;

#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// HTML inserted before `</body>` of every page (the serve command's
    /// live-reload script); `None` for `build`.
    pub inject: Option<String>,
}

/// Loaded templates plus the file each came from, for error positions.
pub struct Templates {
    tera: Tera,
    files: HashMap<String, PathBuf>,
    /// Per template, what it reads (see `dependencies`).
    deps: HashMap<String, TemplateDeps>,
    targets_fingerprint: u64,
    /// Static files by output path: one replaces a `files/` template's output.
    statics: HashSet<String>,
}

impl Templates {
    /// Loads every template of `files`, reporting every syntax error.
    /// `targets` are what `url_for` may link to.
    pub fn load(root: &Path, files: &theme::Files, targets: Targets) -> Result<Templates, Vec<Diagnostic>> {
        let mut sources = Vec::with_capacity(files.templates.len());
        let mut errors = Vec::new();
        let mut names = HashMap::default();
        for (name, origin) in &files.templates {
            let display = origin.display(root);
            match origin.read().map(String::from_utf8) {
                Ok(Ok(text)) => sources.push((name.clone(), text)),
                Ok(Err(_)) => errors.push(Diagnostic::file(&display, "template is not valid UTF-8")),
                Err(e) => errors.push(Diagnostic::file(&display, format!("cannot read template: {e}"))),
            }
            names.insert(name.clone(), display);
        }
        let mut tera = Tera::new();
        tera.autoescape_on([".html", ".htm", ".xml"]);
        register_helpers(&mut tera);
        let targets_fingerprint = targets.fingerprint();
        let statics = targets.statics.clone();
        register_url_for(&mut tera, targets);
        if let Err(e) = tera.add_raw_templates(sources.iter().map(|(n, t)| (n.as_str(), t.as_str()))) {
            // Tera stops at the first error; parse each template alone to report them all.
            for (name, text) in &sources {
                let mut alone = Tera::new();
                if let Err(e) = alone.add_raw_template(name, text)
                    && matches!(e.kind(), tera::ErrorKind::SyntaxError(_))
                {
                    errors.push(template_error(&e, &names));
                }
            }
            if errors.is_empty() {
                match e.kind() {
                    tera::ErrorKind::Msg(text) if !validation_errors(text, &names).is_empty() => {
                        errors.extend(validation_errors(text, &names));
                    }
                    _ => errors.push(template_error(&e, &names)),
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let deps = template_deps(&sources);
        Ok(Templates { tera, files: names, deps, targets_fingerprint, statics })
    }

    fn fingerprint(&self, template: &str) -> u64 {
        self.deps.get(template).map_or(0, |d| d.fingerprint)
    }

    fn globals_used(&self, template: &str) -> impl Iterator<Item = Global> + '_ {
        self.deps.get(template).into_iter().flat_map(|d| d.globals.iter().copied())
    }

    fn has(&self, name: &str) -> bool {
        self.tera.contains_template(name)
    }
}

fn register_helpers(tera: &mut Tera) {
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
}

fn first_year(text: &str) -> Option<i64> {
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
fn plain_text(html: &str) -> String {
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
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    let kept = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{}…", kept.trim_end_matches([',', ';', ':', '.']))
}

fn escape_bibtex(text: &str) -> String {
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
pub struct Targets {
    pub base_url: String,
    /// Path under `content/` → URL.
    pub pages: HashMap<String, String>,
    /// Paths of static files and content assets.
    pub statics: HashSet<String>,
}

impl Targets {
    /// Equal for equal sets of targets, whatever the maps' order: each
    /// element is hashed alone and the hashes are summed, so a rebuild
    /// needs no sort of every page.
    fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let one = |value: &dyn Fn(&mut ahash::AHasher)| {
            let mut h = crate::fingerprint_hasher();
            value(&mut h);
            h.finish()
        };
        let pages = self.pages.iter().fold(0u64, |acc, p| acc.wrapping_add(one(&|h| p.hash(h))));
        let statics = self.statics.iter().fold(0u64, |acc, s| acc.wrapping_add(one(&|h| (0u8, s).hash(h))));
        one(&|h| (&self.base_url, pages, statics).hash(h))
    }
}

/// `url_for(path="@/studies/x.md#anchor")` or `url_for(path="style.css")`;
/// a missing target fails the build.
fn register_url_for(tera: &mut Tera, targets: Targets) {
    let targets = Arc::new(targets);
    tera.register_function("url_for", move |kwargs: Kwargs, _: &State| -> TeraResult<String> {
        let path: &str = kwargs.must_get("path")?;
        if let Some(rel) = path.strip_prefix(crate::markdown::INTERNAL_PREFIX) {
            let (rel, anchor) = rel.split_once('#').unwrap_or((rel, ""));
            return match targets.pages.get(rel) {
                Some(url) if anchor.is_empty() => Ok(url.clone()),
                Some(url) => Ok(format!("{url}#{anchor}")),
                None => Err(tera::Error::message(format!("url_for: no page at `{path}`"))),
            };
        }
        let file = path.trim_start_matches('/');
        if targets.statics.contains(file) {
            Ok(format!("{}{file}", targets.base_url))
        } else {
            Err(tera::Error::message(format!("url_for: no static file `{file}` in the theme or static/")))
        }
    });
}

/// Tera reports checks made after parsing (unknown functions, filters,
/// blocks) as one message of several reports, each with a `--> name:line:col`
/// line: split it into one diagnostic per report.
fn validation_errors(text: &str, files: &HashMap<String, PathBuf>) -> Vec<Diagnostic> {
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
            let path = files.get(name).cloned().unwrap_or_else(|| PathBuf::from(name));
            out.push(Diagnostic::new(path, line_no, col, format!("template error: {m}")));
            message = None;
        }
    }
    out
}

/// Converts a Tera error into a diagnostic at the template's line and column.
fn template_error(e: &tera::Error, files: &HashMap<String, PathBuf>) -> Diagnostic {
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    let suffix = if causes.is_empty() { String::new() } else { format!(": {}", causes.join(": ")) };
    match e.kind() {
        tera::ErrorKind::SyntaxError(r) | tera::ErrorKind::RenderingError(r) => {
            let path = files.get(r.filename()).cloned().unwrap_or_else(|| PathBuf::from(r.filename()));
            let span = r.span();
            Diagnostic::new(
                path,
                span.start_line,
                span.start_col + 1,
                format!("template error: {}{suffix}", r.message()),
            )
        }
        _ => Diagnostic::file("templates", format!("template error: {e}{suffix}")),
    }
}

/// Template values, page dependencies and rendered bytes kept between
/// builds, so that a rebuild renders only the outputs whose inputs changed.
#[derive(Default)]
pub struct RenderCache {
    cards: HashMap<String, CachedCard>,
    jobs: HashMap<String, CachedJob>,
    /// Per global variable, the fingerprint of the pages its value lists.
    globals: HashMap<Global, u64>,
    /// Fingerprint of what `url_for` can resolve.
    targets: u64,
    /// The site's `landscape` and relations at the last render.
    landscape: u64,
    graph: Option<Arc<Graph>>,
    search: crate::search::Cache,
}

struct CachedCard {
    fields: Arc<BTreeMap<String, FieldValue>>,
    md: Arc<Markdown>,
    /// Fingerprint of everything else the card shows (see `card_key`).
    key: u64,
    value: Value,
}

struct CachedJob {
    template: String,
    fingerprint: u64,
    /// Fingerprint of the pages the context lists (see `Job::deps`).
    deps: u64,
    /// For a page, the Markdown it was rendered with: its body is not in its
    /// card, so a body edit shows here only.
    md: Option<Arc<Markdown>>,
    bytes: Arc<[u8]>,
}

/// Templates under this folder render once each, with the global context
/// only, to the same path in the output: `files/sitemap.xml` → `sitemap.xml`.
/// One whose output is blank is left out (a sitemap without an absolute
/// `base_url`). Adding such an output is adding a template.
const FILES_DIR: &str = "files/";

/// RenderedSite once per collection to `data/<collection>.json`, with
/// `collection` (`name`, `entries`) in its context.
const COLLECTION_DATA: &str = "data/collection.json";

/// What a render produced.
pub struct RenderedSite {
    /// Every output of the site (rendered now or reused), sorted by path;
    /// empty when they were streamed to a staging folder instead.
    pub outputs: Vec<Output>,
    /// The path of every output, streamed or not.
    pub paths: Vec<String>,
    /// How many were rendered now.
    pub rendered: usize,
    pub errors: Vec<Diagnostic>,
    /// The part of the time spent on the search index, for `--timings`.
    pub search_time: std::time::Duration,
}

/// Renders every page of the site, the taxonomy pages and the 404 page,
/// reusing from `cache` each output whose template and inputs are unchanged.
/// With a `sink` (a one-off build), every output is rendered and written
/// there at once instead of being kept: nothing is cached.
pub fn render(
    site: &Site,
    templates: &mut Templates,
    options: &RenderOptions,
    cache: &mut RenderCache,
    sink: Option<&dyn Sink>,
) -> RenderedSite {
    let same_landscape = std::mem::replace(&mut cache.landscape, site.landscape) == site.landscape;
    let same_graph = cache.graph.as_ref().is_some_and(|g| Arc::ptr_eq(g, &site.graph));
    cache.graph = Some(site.graph.clone());
    let (cards, card_changed) = match sink {
        Some(_) => {
            let maker = CardMaker::new(site);
            (site.pages.par_iter().map(|p| maker.card(p)).collect(), vec![true; site.pages.len()])
        }
        None => build_cards(site, cache, same_landscape),
    };
    let terms: Vec<Vec<Value>> = site
        .graph
        .taxonomies
        .iter()
        .map(|tax| tax.terms.iter().map(|term| term_value(term, &cards)).collect())
        .collect();
    let taxonomies: Vec<Value> =
        site.graph.taxonomies.iter().zip(&terms).map(|(tax, terms)| taxonomy_value(tax, terms)).collect();
    let shared = SiteValues { cards, taxonomies, terms, keep_html: sink.is_none() };
    let mut errors = Vec::new();
    let jobs = jobs(site, templates, &mut errors);
    // `cited_by` is made only if an output reads it, as few do.
    let cited_by = jobs.iter().any(|j| templates.globals_used(&j.template).any(|g| g == Global::CitedBy));
    install_globals(site, &shared, templates, cited_by);
    if let Some(sink) = sink {
        let (mut paths, errs) = render_to_sink(site, &jobs, &shared, templates, options, sink);
        errors.extend(errs);
        let rendered = paths.len();
        let started = std::time::Instant::now();
        match crate::search::write_index(site, sink) {
            Ok(written) => paths.extend(written),
            Err(e) => errors.push(Diagnostic::file("search", format!("cannot write the search index: {e}"))),
        }
        let search_time = started.elapsed();
        return RenderedSite { outputs: Vec::new(), rendered, paths, errors, search_time };
    }
    // The same relations, no page showing others anything new, and no card
    // changed: every list that any output shows is as it was, and so is its
    // fingerprint, which need not be worked out again.
    let lists_unchanged = same_graph && same_landscape && !card_changed.contains(&true);
    let global_changed: HashMap<Global, bool> = Global::ALL
        .into_iter()
        .map(|g| {
            if lists_unchanged && cache.globals.contains_key(&g) {
                return (g, false);
            }
            let mut deps = Deps::new(site, &card_changed);
            global_deps(site, g, &mut deps);
            let previous = cache.globals.insert(g, deps.hash());
            let changed = deps.changed || previous != Some(deps.hash());
            (g, changed)
        })
        .collect();
    let targets = templates.targets_fingerprint;
    let all_stale = std::mem::replace(&mut cache.targets, targets) != targets;

    let templates = &*templates;
    let cached = &cache.jobs;
    let trace = std::env::var("ANNALS_TRACE").is_ok_and(|t| t.split(',').any(|t| t == "invalidation"));
    let results: Vec<(usize, Result<Option<CachedJob>, Diagnostic>)> = jobs
        .par_iter()
        .enumerate()
        .map(|(n, job)| {
            let fingerprint = templates.fingerprint(&job.template);
            let previous = cached.get(&job.path);
            let (deps, deps_changed) = match previous {
                Some(c) if lists_unchanged => (c.deps, false),
                _ => {
                    let mut dep_state = Deps::new(site, &card_changed);
                    job.deps(site, &mut dep_state);
                    (dep_state.hash(), dep_state.changed)
                }
            };
            let md = match job.what {
                Subject::Page(i) => Some(site.pages[i].md.clone()),
                _ => None,
            };
            let same_text = |c: &CachedJob| match (&c.md, &md) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (a, b) => a.is_none() && b.is_none(),
            };
            let stale = match previous {
                None => Some(Stale::New),
                Some(_) if all_stale => Some(Stale::Targets),
                Some(c) if c.template != job.template || c.fingerprint != fingerprint => Some(Stale::Template),
                Some(c) if !same_text(c) => Some(Stale::Text),
                Some(c) if c.deps != deps || deps_changed => Some(Stale::Lists),
                Some(_) => templates.globals_used(&job.template).find(|g| global_changed[g]).map(Stale::Global),
            };
            let Some(stale) = stale else { return (n, Ok(None)) };
            if trace {
                eprintln!("annals: rendering {}: {stale}", job.path);
            }
            let result = render_job(job, site, &shared, templates, options).map(|bytes| {
                Some(CachedJob { template: job.template.clone(), fingerprint, deps, md, bytes: bytes.into() })
            });
            (n, result)
        })
        .collect();

    let mut rendered = 0;
    for (n, result) in results {
        let path = &jobs[n].path;
        match result {
            Ok(Some(job)) => {
                // A blank output is left out (see `FILES_DIR`): not counted.
                rendered += usize::from(!job.bytes.is_empty());
                cache.jobs.insert(path.clone(), job);
            }
            Ok(None) => {}
            Err(d) => {
                cache.jobs.remove(path);
                errors.push(d);
            }
        }
    }
    let live: HashSet<&str> = jobs.iter().map(|j| j.path.as_str()).collect();
    cache.jobs.retain(|path, _| live.contains(path.as_str()));
    // In the order of the jobs, which is nearly the order of their paths: the
    // sort then has little to do.
    let mut outputs: Vec<Output> = jobs
        .iter()
        .filter_map(|j| cache.jobs.get(&j.path).map(|c| Output { path: j.path.clone(), bytes: c.bytes.clone() }))
        .filter(|o| !o.bytes.is_empty())
        .collect();
    let started = std::time::Instant::now();
    outputs.extend(crate::search::index(site, &mut cache.search));
    let search_time = started.elapsed();
    outputs.sort_by(|a, b| a.path.cmp(&b.path));
    let paths = outputs.iter().map(|o| o.path.clone()).collect();
    RenderedSite { outputs, paths, rendered, errors, search_time }
}

/// Why an output is rendered again rather than reused: what
/// `ANNALS_TRACE=invalidation` prints (see the model in `engine`).
#[derive(Debug, Clone, Copy)]
enum Stale {
    New,
    Targets,
    Template,
    Text,
    Lists,
    Global(Global),
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stale::New => f.write_str("not rendered before"),
            Stale::Targets => f.write_str("what url_for can link to changed"),
            Stale::Template => f.write_str("its template, or a template that it reaches, changed"),
            Stale::Text => f.write_str("its page's text changed"),
            Stale::Lists => f.write_str("a page it lists changed, or its lists did"),
            Stale::Global(g) => write!(f, "`{}`, which its template reads, changed", g.name()),
        }
    }
}

fn render_to_sink(
    site: &Site,
    jobs: &[Job],
    shared: &SiteValues,
    templates: &Templates,
    options: &RenderOptions,
    sink: &dyn Sink,
) -> (Vec<String>, Vec<Diagnostic>) {
    if let Err(e) = sink.create_folders(&mut jobs.iter().map(|j| j.path.as_str())) {
        return (Vec::new(), vec![Diagnostic::file("", format!("cannot create output folders: {e}"))]);
    }
    let results: Vec<Result<Option<&str>, Diagnostic>> = jobs
        .par_iter()
        .map(|job| {
            let bytes = render_job(job, site, shared, templates, options)?;
            if bytes.is_empty() {
                return Ok(None);
            }
            match sink.write(&job.path, &bytes) {
                Ok(()) => Ok(Some(job.path.as_str())),
                Err(e) => Err(Diagnostic::file(&job.path, format!("cannot write: {e}"))),
            }
        })
        .collect();
    let mut written = Vec::with_capacity(results.len());
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(Some(path)) => written.push(path.to_string()),
            Ok(None) => {}
            Err(d) => errors.push(d),
        }
    }
    (written, errors)
}

fn render_job(
    job: &Job,
    site: &Site,
    shared: &SiteValues,
    templates: &Templates,
    options: &RenderOptions,
) -> Result<Vec<u8>, Diagnostic> {
    if !templates.has(&job.template) {
        return Err(Diagnostic::file(
            "templates",
            format!("template `{}` not found in the theme or templates/", job.template),
        ));
    }
    let context = job.context(site, shared);
    let mut bytes = Vec::with_capacity(16 * 1024);
    templates.tera.render_to(&job.template, &context, &mut bytes).map_err(|e| template_error(&e, &templates.files))?;
    if matches!(job.what, Subject::File) && bytes.iter().all(u8::is_ascii_whitespace) {
        // Left out: see `FILES_DIR`.
        bytes.clear();
        return Ok(bytes);
    }
    if let Some(script) = options.inject.as_ref().filter(|_| job.path.ends_with(".html")) {
        inject(&mut bytes, script);
    }
    Ok(bytes)
}

fn jobs(site: &Site, templates: &Templates, errors: &mut Vec<Diagnostic>) -> Vec<Job> {
    let mut jobs: Vec<Job> = Vec::with_capacity(site.pages.len() + 64);
    for (i, page) in site.pages.iter().enumerate().filter(|(_, p)| !p.invalid) {
        match page_template(page, templates) {
            Ok(template) => {
                jobs.push(Job { path: format!("{}index.html", page.path), template, what: Subject::Page(i) })
            }
            Err(d) => errors.push(d),
        }
    }
    for (t, taxonomy) in site.graph.taxonomies.iter().enumerate() {
        let path = format!("{}index.html", taxonomy.path);
        jobs.push(Job { path, template: "taxonomy.html".into(), what: Subject::Taxonomy(t) });
        for (k, term) in taxonomy.terms.iter().enumerate() {
            let path = format!("{}index.html", term.path);
            jobs.push(Job { path, template: "term.html".into(), what: Subject::Term(t, k) });
        }
    }
    if templates.has("404.html") {
        jobs.push(Job { path: "404.html".into(), template: "404.html".into(), what: Subject::NotFound });
    }
    if templates.has(COLLECTION_DATA) {
        for name in site.graph.collections.keys() {
            let path = format!("data/{name}.json");
            jobs.push(Job { path, template: COLLECTION_DATA.into(), what: Subject::Collection(name.clone()) });
        }
    }
    // A static file of the same path (the site's own `static/robots.txt`) wins.
    let mut files: Vec<&String> = templates
        .files
        .keys()
        .filter(|n| n.starts_with(FILES_DIR) && !templates.statics.contains(&n[FILES_DIR.len()..]))
        .collect();
    files.sort();
    for name in files {
        jobs.push(Job { path: name[FILES_DIR.len()..].to_string(), template: name.clone(), what: Subject::File });
    }
    jobs
}

/// The pages (and markers) whose cards make up global `global`.
fn global_deps(site: &Site, global: Global, deps: &mut Deps) {
    match global {
        Global::Collections => {
            for (collection, list) in &site.graph.collections {
                deps.marker(collection);
                deps.pages(list);
            }
        }
        Global::Pages => deps.pages(&published(site)),
        Global::Feed => deps.pages(&feed_entries(site).into_iter().map(|(i, _)| i).collect::<Vec<_>>()),
        Global::Sections => {
            for c in &site.config.collections {
                match site.page_index(&format!("{}/_index.md", c.folder)) {
                    Some(i) => deps.page(i),
                    None => deps.marker(&c.folder),
                }
            }
        }
        Global::Taxonomies => {
            for t in 0..site.graph.taxonomies.len() {
                term_deps(site, t, None, deps);
            }
        }
        Global::CitedBy => {
            for (i, b) in site.graph.backlinks.iter().enumerate().filter(|(_, b)| !b.cited_by.is_empty()) {
                deps.page(i);
                deps.marker("cited_by");
                deps.pages(&b.cited_by);
            }
        }
    }
}

/// Walks the pages a value is made of, folding them into a fingerprint
/// and noting whether any of their cards changed; allocates nothing, since
/// it runs for every output on every rebuild.
struct Deps<'a> {
    site: &'a Site,
    card_changed: &'a [bool],
    hasher: ahash::AHasher,
    changed: bool,
}

impl<'a> Deps<'a> {
    fn new(site: &'a Site, card_changed: &'a [bool]) -> Self {
        Deps { site, card_changed, hasher: crate::fingerprint_hasher(), changed: false }
    }

    fn page(&mut self, i: usize) {
        use std::hash::Hash;
        self.site.pages[i].rel.hash(&mut self.hasher);
        self.changed |= self.card_changed[i];
    }

    fn pages(&mut self, list: &[usize]) {
        list.iter().for_each(|&i| self.page(i));
    }

    /// Separates lists, so that a page moving from one list to the next counts.
    fn marker(&mut self, name: &str) {
        use std::hash::Hash;
        (0u8, name).hash(&mut self.hasher);
    }

    fn hash(&self) -> u64 {
        use std::hash::Hasher;
        self.hasher.finish()
    }
}

/// Cards of every page: cached ones whose inputs are unchanged, new ones
/// for the rest, and for each page whether its card differs from last time.
fn build_cards(site: &Site, cache: &mut RenderCache, same_landscape: bool) -> (Vec<Value>, Vec<bool>) {
    // While no page shows others anything new, a card whose own inputs are
    // the same is the same: skip fingerprinting what it shows of others.
    // Made only if some card is made: a rebuild usually makes one or none.
    let maker = OnceLock::new();
    let built: Vec<(Value, bool, Option<CachedCard>)> = site
        .pages
        .par_iter()
        .map(|page| {
            let cached = cache.cards.get(&page.rel);
            let same_inputs =
                cached.is_some_and(|c| Arc::ptr_eq(&c.fields, &page.fields) && Arc::ptr_eq(&c.md, &page.md));
            let key = if same_inputs && same_landscape { cached.map_or(0, |c| c.key) } else { card_key(site, page) };
            match cached {
                Some(c) if same_inputs && c.key == key => (c.value.clone(), false, None),
                previous => {
                    let value = maker.get_or_init(|| CardMaker::new(site)).card(page);
                    let changed = previous.is_none_or(|c| c.value != value);
                    let entry =
                        CachedCard { fields: page.fields.clone(), md: page.md.clone(), key, value: value.clone() };
                    (value, changed, Some(entry))
                }
            }
        })
        .collect();
    let mut cards = Vec::with_capacity(built.len());
    let mut changed = Vec::with_capacity(built.len());
    for (page, (value, is_changed, entry)) in site.pages.iter().zip(built) {
        if let Some(entry) = entry {
            cache.cards.insert(page.rel.clone(), entry);
        }
        cards.push(value);
        changed.push(is_changed);
    }
    if cache.cards.len() > site.pages.len() {
        cache.cards.retain(|rel, _| site.page_index(rel).is_some());
    }
    (cards, changed)
}

/// A fingerprint of what a card shows besides its fields and Markdown:
/// its own title, URL and label, and those of the entries it references.
fn card_key(site: &Site, page: &Page) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = crate::fingerprint_hasher();
    (&page.title, &page.url, &page.citation, &page.description, page.draft, &page.collection).hash(&mut h);
    for value in page.fields.values() {
        hash_stubs(site, value, &mut h);
    }
    h.finish()
}

fn hash_stubs(site: &Site, value: &FieldValue, h: &mut impl std::hash::Hasher) {
    use std::hash::Hash;
    match value {
        FieldValue::Ref(r) => {
            let target = site.entry_index(&r.to, &r.id.value).map(|i| &site.pages[i]);
            (&r.id.value, target.map(|p| (&p.url, &p.title, &p.citation))).hash(h);
        }
        FieldValue::List(items) => items.iter().for_each(|v| hash_stubs(site, v, h)),
        _ => {}
    }
}

struct Job {
    path: String,
    template: String,
    what: Subject,
}

enum Subject {
    Page(usize),
    Taxonomy(usize),
    Term(usize, usize),
    NotFound,
    /// A template of `files/`.
    File,
    /// The data file of the named collection.
    Collection(String),
}

/// Template values built once per build and shared by every page.
struct SiteValues {
    cards: Vec<Value>,
    taxonomies: Vec<Value>,
    terms: Vec<Vec<Value>>,
    /// Keep each page's body HTML once rendered (the preview, which renders
    /// pages again), or let it go once written (a one-off build).
    keep_html: bool,
}

impl Job {
    /// The pages whose cards this job's context includes, with markers
    /// between lists, in a fixed order: if neither the lists nor any of those
    /// cards changed, neither did the context.
    fn deps(&self, site: &Site, deps: &mut Deps) {
        match self.what {
            Subject::Page(i) => {
                deps.page(i);
                page_lists(site, i, |list, pages| {
                    deps.marker(list.name());
                    deps.pages(pages);
                });
            }
            Subject::Taxonomy(t) => term_deps(site, t, None, deps),
            Subject::Term(t, k) => term_deps(site, t, Some(k), deps),
            Subject::Collection(ref name) => deps.pages(site.graph.collections.get(name).map_or(&[], Vec::as_slice)),
            Subject::NotFound | Subject::File => {}
        }
    }

    fn context(&self, site: &Site, shared: &SiteValues) -> Context {
        let mut ctx = Context::new();
        match self.what {
            Subject::Page(i) => ctx.insert_value("page", page_value(site, i, shared)),
            Subject::Taxonomy(t) => ctx.insert_value("taxonomy", shared.taxonomies[t].clone()),
            Subject::Term(t, k) => {
                ctx.insert_value("taxonomy", shared.taxonomies[t].clone());
                ctx.insert_value("term", shared.terms[t][k].clone());
            }
            Subject::Collection(ref name) => {
                let entries = site.graph.collections.get(name).map_or(&[][..], Vec::as_slice);
                ctx.insert_value(
                    "collection",
                    map([("name", name.as_str().into()), ("entries", cards_of(entries, &shared.cards))]),
                );
            }
            Subject::NotFound | Subject::File => {}
        }
        ctx
    }
}

fn term_deps(site: &Site, t: usize, only: Option<usize>, deps: &mut Deps) {
    let tax = &site.graph.taxonomies[t];
    deps.marker(&tax.name);
    for (_, term) in tax.terms.iter().enumerate().filter(|(k, _)| only.is_none_or(|o| o == *k)) {
        deps.marker(&term.name);
        deps.pages(&term.pages);
    }
}

fn page_template(page: &Page, templates: &Templates) -> Result<String, Diagnostic> {
    if let Some(t) = &page.template {
        return if templates.has(t) {
            Ok(t.clone())
        } else {
            Err(Diagnostic::file(&page.file, format!("`template: {t}` names no template in the theme or templates/")))
        };
    }
    let candidates: Vec<String> = match (&page.kind, &page.collection) {
        (Kind::Entry { .. }, Some(c)) => vec![format!("{c}/entry.html"), "entry.html".into()],
        (Kind::Section, _) if page.id.is_empty() => vec!["index.html".into()],
        (Kind::Section, _) => vec![format!("{}/section.html", page.id), "section.html".into()],
        _ => vec!["page.html".into()],
    };
    candidates.iter().find(|t| templates.has(t)).cloned().ok_or_else(|| {
        Diagnostic::file(&page.file, format!("no template for this page: expected one of {}", candidates.join(", ")))
    })
}

fn install_globals(site: &Site, shared: &SiteValues, templates: &mut Templates, with_cited_by: bool) {
    let config = &site.config;
    let collections: Vec<(String, Value)> =
        site.graph.collections.iter().map(|(name, list)| (name.clone(), cards_of(list, &shared.cards))).collect();
    let taxonomies: Vec<(String, Value)> =
        site.graph.taxonomies.iter().zip(&shared.taxonomies).map(|(tax, v)| (tax.name.clone(), v.clone())).collect();
    let global = templates.tera.global_context();
    // Names and URLs of taxonomies, for navigation: unlike `taxonomies`, it
    // changes only with the configuration, so pages that use it need not be
    // rendered again when an entry changes.
    let taxonomy_links: Vec<Value> = site
        .graph
        .taxonomies
        .iter()
        .map(|t| map([("name", t.name.as_str().into()), ("url", t.url.as_str().into())]))
        .collect();
    global.insert_value(
        "site",
        map([
            ("title", config.title.as_str().into()),
            ("description", config.description.as_str().into()),
            ("base_url", config.base_url.as_str().into()),
            ("absolute", config.absolute().into()),
            ("feed", (config.absolute() && config.feed.is_some()).into()),
            ("citations", citations_value(config)),
            ("taxonomies", Value::from(taxonomy_links)),
            ("extra", config.extra.as_ref().map_or_else(|| Value::from(tera::Map::new()), yaml_value)),
        ]),
    );
    global.insert_value("pages", cards_of(&published(site), &shared.cards));
    global.insert_value("feed", feed_value(site, &shared.cards));
    global.insert_value("collections", map_owned(collections));
    // Each collection's section page, for navigation.
    let sections: Vec<(String, Value)> = site
        .config
        .collections
        .iter()
        .filter_map(|c| {
            site.page_index(&format!("{}/_index.md", c.folder)).map(|i| (c.name.clone(), shared.cards[i].clone()))
        })
        .collect();
    global.insert_value("sections", map_owned(sections));
    global.insert_value("taxonomies", map_owned(taxonomies));
    // By path, the pages citing each cited page: for a bibliography.
    let cited_by: Vec<(String, Value)> = site
        .graph
        .backlinks
        .iter()
        .enumerate()
        .filter(|(_, b)| with_cited_by && !b.cited_by.is_empty())
        .map(|(i, b)| (format!("/{}", site.pages[i].path), cards_of(&b.cited_by, &shared.cards)))
        .collect();
    global.insert_value("cited_by", map_owned(cited_by));
}

/// Every page that is written, in the order of their source paths.
fn published(site: &Site) -> Vec<usize> {
    (0..site.pages.len()).filter(|&i| !site.pages[i].invalid).collect()
}

/// The feed's entries, newest first, with their Atom dates: entries of the
/// configured collections that have a date and are not drafts, at most `limit`.
fn feed_entries(site: &Site) -> Vec<(usize, String)> {
    let Some(feed) = &site.config.feed else { return Vec::new() };
    let mut dated: Vec<(usize, String)> = feed
        .collections
        .iter()
        .filter_map(|c| site.graph.collections.get(c))
        .flatten()
        .filter(|&&i| !site.pages[i].draft)
        .filter_map(|&i| {
            let date = match site.pages[i].fields.get(&feed.date)? {
                FieldValue::Int(year) => format!("{year:04}-01-01T00:00:00Z"),
                FieldValue::Date(day) => format!("{day}T00:00:00Z"),
                _ => return None,
            };
            Some((i, date))
        })
        .collect();
    // Pages are in source-path order, so ties fall back to it: stable.
    dated.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    dated.truncate(feed.limit);
    dated
}

/// `feed`: `none` without `feed:` in site.yaml, else `updated` (the newest
/// entry's date) and `entries` (`[{updated, page}]`).
fn feed_value(site: &Site, cards: &[Value]) -> Value {
    if site.config.feed.is_none() {
        return Value::none();
    }
    let entries = feed_entries(site);
    let updated = entries.first().map_or_else(|| "1970-01-01T00:00:00Z".into(), |(_, d)| d.as_str().into());
    let list: Vec<Value> =
        entries.iter().map(|(i, date)| map([("updated", date.as_str().into()), ("page", cards[*i].clone())])).collect();
    map([("updated", updated), ("entries", Value::from(list))])
}

/// `site.citations`: the citable collections and the fields that make a
/// reference, for bibliography templates.
fn citations_value(config: &crate::config::Config) -> Value {
    match &config.citations {
        None => Value::none(),
        Some(c) => map([
            ("collections", Value::from(c.collections.iter().map(|n| Value::from(n.as_str())).collect::<Vec<_>>())),
            ("authors", c.authors.as_str().into()),
            ("year", c.year.as_str().into()),
            ("et_al", opt(c.et_al.as_deref())),
            ("title", opt(c.title.as_deref())),
        ]),
    }
}

/// `extra:` of `site.yaml` as a template value.
fn yaml_value(node: &crate::yaml::Node) -> Value {
    use crate::yaml::Value as Y;
    match &node.value {
        Y::Null => Value::none(),
        Y::Bool(b) => (*b).into(),
        Y::Int(i) => (*i).into(),
        Y::Float(f) => (*f).into(),
        Y::Str(s) => s.as_str().into(),
        Y::List(items) => Value::from(items.iter().map(yaml_value).collect::<Vec<_>>()),
        Y::Map(pairs) => {
            let mut m = tera::Map::with_capacity(pairs.len());
            for (k, v) in pairs {
                let key = match &k.value {
                    Y::Str(s) => s.clone(),
                    Y::Int(i) => i.to_string(),
                    Y::Bool(b) => b.to_string(),
                    _ => continue,
                };
                m.insert(key.into(), yaml_value(v));
            }
            Value::from(m)
        }
    }
}

fn map<const N: usize>(pairs: [(&'static str, Value); N]) -> Value {
    let mut m = tera::Map::with_capacity(N);
    for (k, v) in pairs {
        m.insert(k.into(), v);
    }
    Value::from(m)
}

fn map_owned(pairs: Vec<(String, Value)>) -> Value {
    let mut m = tera::Map::with_capacity(pairs.len());
    for (k, v) in pairs {
        m.insert(k.into(), v);
    }
    Value::from(m)
}

fn opt(s: Option<&str>) -> Value {
    s.map_or_else(Value::none, Value::from)
}

fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Entry { .. } => "entry",
        Kind::Section => "section",
        Kind::Page => "page",
    }
}

/// Makes cards, sharing the values that many cards hold alike: field names,
/// the stub of each referenced entry, the link to each taxonomy term. An
/// era's stub is then one value however many studies name the era.
struct CardMaker<'a> {
    site: &'a Site,
    names: HashMap<&'a str, Key<'static>>,
    stubs: Vec<OnceLock<Value>>,
    /// Per taxonomy, per term: `{name, url}`.
    terms: Vec<Vec<Value>>,
}

impl<'a> CardMaker<'a> {
    fn new(site: &'a Site) -> Self {
        let names = site
            .config
            .collections
            .iter()
            .flat_map(|c| c.fields.keys())
            .map(|name| (name.as_str(), Key::String(Arc::from(name.as_str()))))
            .collect();
        let terms = site
            .graph
            .taxonomies
            .iter()
            .map(|tax| {
                tax.terms
                    .iter()
                    .map(|t| map([("name", t.name.as_str().into()), ("url", t.url.as_str().into())]))
                    .collect()
            })
            .collect();
        let stubs = (0..site.pages.len()).map(|_| OnceLock::new()).collect();
        CardMaker { site, names, stubs, terms }
    }

    fn key(&self, name: &str) -> Key<'static> {
        self.names.get(name).cloned().unwrap_or_else(|| Key::String(Arc::from(name)))
    }

    /// A small value for a referenced entry: enough to link to it.
    fn stub(&self, collection: &str, id: &str) -> Value {
        let site = self.site;
        match site.entry_index(collection, id) {
            Some(i) => self.stubs[i]
                .get_or_init(|| {
                    let p = &site.pages[i];
                    map([
                        ("id", id.into()),
                        ("url", p.url.as_str().into()),
                        ("title", p.title.as_str().into()),
                        ("citation", opt(p.citation.as_deref())),
                    ])
                })
                .clone(),
            None => map([("id", id.into()), ("url", Value::none()), ("title", id.into()), ("citation", Value::none())]),
        }
    }

    fn field_value(&self, page: &Page, name: &str, value: &FieldValue) -> Value {
        match value {
            FieldValue::Str(s) | FieldValue::Date(s) => s.as_str().into(),
            FieldValue::Text(_) => {
                let html = page.md.text_fields.iter().find(|(n, _)| n == name).map(|(_, h)| h.clone());
                html.unwrap_or_else(|| Value::safe_string(""))
            }
            FieldValue::Int(i) => (*i).into(),
            FieldValue::Float(f) => (*f).into(),
            FieldValue::Bool(b) => (*b).into(),
            FieldValue::List(items) => {
                Value::from(items.iter().map(|v| self.field_value(page, name, v)).collect::<Vec<_>>())
            }
            FieldValue::Ref(r) => self.stub(&r.to, &r.id.value),
        }
    }

    /// The value every listing of a page shares. Every field its collection
    /// declares is present (`none` when unset), so templates can test it plainly.
    fn card(&self, page: &Page) -> Value {
        let site = self.site;
        let declared = page.collection.as_deref().and_then(|c| site.config.collection(c));
        let mut names: Vec<&String> = declared.map(|c| c.fields.keys().collect()).unwrap_or_default();
        names.extend(page.fields.keys().filter(|k| declared.is_none_or(|c| !c.fields.contains_key(*k))));
        let mut fields = tera::Map::with_capacity(names.len());
        for name in names {
            let value = page.fields.get(name).map_or_else(Value::none, |v| self.field_value(page, name, v));
            fields.insert(self.key(name), value);
        }
        // Taxonomy terms with their URLs: `page.terms.route[0].url`.
        let mut terms = tera::Map::new();
        for (t, tax) in site.graph.taxonomies.iter().enumerate() {
            if !declared.is_some_and(|c| c.fields.get(&tax.name).is_some_and(|f| f.taxonomy)) {
                continue;
            }
            let names: Vec<&str> = match page.fields.get(&tax.name) {
                Some(FieldValue::Str(s)) => vec![s.as_str()],
                Some(FieldValue::List(items)) => items
                    .iter()
                    .filter_map(|v| match v {
                        FieldValue::Str(s) => Some(s.as_str()),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let list: Vec<Value> = names
                .into_iter()
                .filter_map(|n| tax.terms.binary_search_by(|t| t.name.as_str().cmp(n)).ok())
                .map(|k| self.terms[t][k].clone())
                .collect();
            terms.insert(self.key(&tax.name), Value::from(list));
        }
        // An entry is described by the field its collection names, if set.
        let described_by = declared.and_then(|c| c.description.as_deref());
        let description = match (&page.description, described_by.and_then(|f| fields.get(&self.key(f)))) {
            (Some(d), _) => d.as_str().into(),
            (None, Some(v)) if !v.is_none() => v.clone(),
            _ => Value::none(),
        };
        map([
            ("id", page.id.as_str().into()),
            ("kind", kind_name(&page.kind).into()),
            ("collection", opt(page.collection.as_deref())),
            ("url", page.url.as_str().into()),
            ("path", format!("/{}", page.path).into()),
            ("title", page.title.as_str().into()),
            ("description", description),
            ("citation", opt(page.citation.as_deref())),
            ("draft", page.draft.into()),
            ("summary", page.md.summary.clone().unwrap_or_else(|| Value::safe_string(""))),
            ("fields", Value::from(fields)),
            ("terms", Value::from(terms)),
        ])
    }
}

fn cards_of(list: &[usize], cards: &[Value]) -> Value {
    Value::from(list.iter().map(|&i| cards[i].clone()).collect::<Vec<_>>())
}

/// A list of pages that a page's context shows.
#[derive(Clone, Copy)]
enum List<'a> {
    ReferencedBy(&'a str),
    CitedBy,
    LinkedFrom,
    Backlinks,
    References,
    Entries,
    Prev,
    Next,
}

impl List<'_> {
    fn name(&self) -> &str {
        match self {
            List::ReferencedBy(field) => field,
            List::CitedBy => "cited_by",
            List::LinkedFrom => "linked_from",
            List::Backlinks => "backlinks",
            List::References => "references",
            List::Entries => "entries",
            List::Prev => "prev",
            List::Next => "next",
        }
    }
}

/// Every list of pages that page `i`'s context shows, in a fixed order.
/// The context and its dependency fingerprint (`Job::deps`) are both made
/// from this one walk, so the fingerprint covers exactly what a template
/// can see of other pages; how each is ordered (by title, by label) comes
/// from those pages' cards, which the fingerprint follows too.
fn page_lists<'s>(site: &'s Site, i: usize, mut visit: impl FnMut(List<'s>, &[usize])) {
    let b = &site.graph.backlinks[i];
    for (field, list) in &b.referenced_by {
        visit(List::ReferencedBy(field), list);
    }
    visit(List::CitedBy, &b.cited_by);
    visit(List::LinkedFrom, &b.linked_from);
    let mut all: Vec<usize> =
        b.referenced_by.iter().flat_map(|(_, list)| list).chain(&b.cited_by).chain(&b.linked_from).copied().collect();
    all.sort_by(|&x, &y| site.pages[x].title.cmp(&site.pages[y].title).then(x.cmp(&y)));
    all.dedup();
    visit(List::Backlinks, &all);
    visit(List::References, &references(site, i));
    visit(List::Entries, section_entries(site, i));
    visit(List::Prev, site.graph.prev[i].as_slice());
    visit(List::Next, site.graph.next[i].as_slice());
}

/// The current page: its card plus content, contents, and the lists of
/// `page_lists`.
fn page_value(site: &Site, i: usize, shared: &SiteValues) -> Value {
    let cards = &shared.cards;
    let page = &site.pages[i];
    let mut m = cards[i].as_map().cloned().unwrap_or_default();
    let toc: Vec<Value> = page
        .md
        .content
        .toc
        .iter()
        .map(|h| map([("level", h.level.into()), ("id", h.id.as_str().into()), ("title", h.title.as_str().into())]))
        .collect();
    let body = page.md.body_html(&page.file, &site.resolver(), shared.keep_html);
    m.insert("content".into(), Value::safe_string(&body));
    m.insert("toc".into(), Value::from(toc));
    let mut referenced_by = Vec::new();
    page_lists(site, i, |list, pages| {
        let value = match list {
            List::Prev | List::Next => pages.first().map_or_else(Value::none, |&n| cards[n].clone()),
            _ => cards_of(pages, cards),
        };
        match list {
            List::ReferencedBy(field) => referenced_by.push((field.to_string(), value)),
            other => {
                m.insert(other.name().to_string().into(), value);
            }
        }
    });
    m.insert("referenced_by".into(), map_owned(referenced_by));
    Value::from(m)
}

/// The entries page `i` cites, by label.
fn references(site: &Site, i: usize) -> Vec<usize> {
    let mut refs = site.graph.cites[i].clone();
    refs.sort_by(|&a, &b| site.pages[a].citation.cmp(&site.pages[b].citation).then(a.cmp(&b)));
    refs
}

/// A collection's entries, if page `i` is that collection's section.
fn section_entries(site: &Site, i: usize) -> &[usize] {
    let page = &site.pages[i];
    if page.kind != Kind::Section {
        return &[];
    }
    site.config
        .collections
        .iter()
        .find(|c| c.folder == page.id)
        .and_then(|c| site.graph.collections.get(&c.name))
        .map_or(&[], Vec::as_slice)
}

fn term_value(term: &Term, cards: &[Value]) -> Value {
    map([
        ("name", term.name.as_str().into()),
        ("slug", term.slug.as_str().into()),
        ("url", term.url.as_str().into()),
        ("count", term.pages.len().into()),
        ("pages", cards_of(&term.pages, cards)),
    ])
}

fn taxonomy_value(tax: &Taxonomy, terms: &[Value]) -> Value {
    map([("name", tax.name.as_str().into()), ("url", tax.url.as_str().into()), ("terms", Value::from(terms.to_vec()))])
}

fn inject(bytes: &mut Vec<u8>, script: &str) {
    let needle = b"</body>";
    match bytes.windows(needle.len()).rposition(|w| w.eq_ignore_ascii_case(needle)) {
        Some(at) => {
            bytes.splice(at..at, script.bytes());
        }
        None => bytes.extend_from_slice(script.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
