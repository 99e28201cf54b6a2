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
use crate::diagnostics::Diagnostic;
use crate::output::Staging;
use crate::schema::FieldValue;
use crate::site::{Graph, Markdown, Page, Site, Taxonomy, Term};
use crate::theme;

/// A file to write: path under the output folder, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub path: String,
    pub bytes: Arc<[u8]>,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// HTML inserted before `</body>` of every page (the serve command's
    /// live-reload script); `None` for `build`.
    pub inject: Option<String>,
}

/// Loaded templates plus the file each came from, for error positions.
pub struct Templates {
    tera: Tera,
    files: HashMap<String, PathBuf>,
    /// Per template, a hash of its source and of every template it extends
    /// or includes: equal fingerprints, equal templates.
    fingerprints: HashMap<String, u64>,
    /// Per template, the global variables it (or its parents) reads.
    globals: HashMap<String, Vec<&'static str>>,
    targets_fingerprint: u64,
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
        register_url_for(&mut tera, targets);
        if let Err(e) = tera.add_raw_templates(sources.iter().map(|(n, t)| (n.as_str(), t.as_str()))) {
            // Tera stops at the first error; parse each template alone to report them all.
            for (name, text) in &sources {
                let mut alone = Tera::new();
                if let Err(e) = alone.add_raw_template(name, text) {
                    if matches!(e.kind(), tera::ErrorKind::SyntaxError(_)) {
                        errors.push(template_error(&e, &names));
                    }
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
        let fingerprints = crate::dependencies::template_fingerprints(&sources);
        let globals = sources
            .iter()
            .map(|(name, _)| {
                let vars = tera.get_template_variables(name).unwrap_or_default();
                (name.clone(), GLOBALS.iter().copied().filter(|g| vars.contains(g)).collect())
            })
            .collect();
        Ok(Templates { tera, files: names, fingerprints, globals, targets_fingerprint })
    }

    fn globals_used(&self, template: &str) -> impl Iterator<Item = &'static str> + '_ {
        self.globals.get(template).into_iter().flatten().copied()
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
    // `items | map(attribute="title")`
    tera.register_filter("map", |items: &[Value], kwargs: Kwargs, _: &State| -> TeraResult<Vec<Value>> {
        let attribute: &str = kwargs.must_get("attribute")?;
        Ok(items.iter().filter_map(|v| v.get_from_path(attribute).cloned()).collect())
    });
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
    globals: HashMap<&'static str, u64>,
    /// Fingerprint of what `url_for` can resolve.
    targets: u64,
    /// The site's `landscape` and relations at the last render.
    landscape: u64,
    graph: Option<Arc<Graph>>,
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

/// The variables of the global context that depend on pages.
const GLOBALS: [&str; 3] = ["collections", "sections", "taxonomies"];

/// What a render produced.
pub struct Rendered {
    /// Every output of the site (rendered now or reused), sorted by path;
    /// empty when they were streamed to a staging folder instead.
    pub outputs: Vec<Output>,
    /// The path of every output, streamed or not.
    pub paths: Vec<String>,
    /// How many were rendered now.
    pub rendered: usize,
    pub errors: Vec<Diagnostic>,
}

/// Renders every page of the site, the taxonomy pages and the 404 page,
/// reusing from `cache` each output whose template and inputs are unchanged.
/// With a `sink` (a one-off build), every output is rendered and written
/// there at once instead of being kept: nothing is cached.
pub fn render(
    site: &Site,
    templates: &mut Templates,
    options: &Options,
    cache: &mut RenderCache,
    sink: Option<&Staging>,
) -> Rendered {
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
    let shared = Shared { cards, taxonomies, terms, keep_html: sink.is_none() };
    install_globals(site, &shared, templates);

    let mut errors = Vec::new();
    let jobs = jobs(site, templates, &mut errors);
    let paths: Vec<String> = jobs.iter().map(|j| j.path.clone()).collect();
    if let Some(sink) = sink {
        let (rendered, errs) = render_to_sink(site, &jobs, &shared, templates, options, sink);
        errors.extend(errs);
        return Rendered { outputs: Vec::new(), paths, rendered, errors };
    }
    // The same relations, no page showing others anything new, and no card
    // changed: every list that any output shows is as it was, and so is its
    // fingerprint, which need not be worked out again.
    let lists_unchanged = same_graph && same_landscape && !card_changed.contains(&true);
    let global_changed: HashMap<&str, bool> = GLOBALS
        .iter()
        .map(|&g| {
            if lists_unchanged && cache.globals.contains_key(g) {
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
    let results: Vec<(usize, Result<Option<CachedJob>, Diagnostic>)> = jobs
        .par_iter()
        .enumerate()
        .map(|(n, job)| {
            let fingerprint = templates.fingerprints.get(&job.template).copied().unwrap_or(0);
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
                What::Page(i) => Some(site.pages[i].md.clone()),
                _ => None,
            };
            let fresh = !all_stale
                && previous.is_some_and(|c| {
                    c.template == job.template
                        && c.fingerprint == fingerprint
                        && match (&c.md, &md) {
                            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                            (a, b) => a.is_none() && b.is_none(),
                        }
                        && c.deps == deps
                        && !deps_changed
                        && !templates.globals_used(&job.template).any(|g| global_changed[g])
                });
            if fresh {
                return (n, Ok(None));
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
                rendered += 1;
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
        .collect();
    outputs.sort_by(|a, b| a.path.cmp(&b.path));
    Rendered { outputs, paths, rendered, errors }
}

fn render_to_sink(
    site: &Site,
    jobs: &[Job],
    shared: &Shared,
    templates: &Templates,
    options: &Options,
    sink: &Staging,
) -> (usize, Vec<Diagnostic>) {
    if let Err(e) = sink.create_folders(jobs.iter().map(|j| j.path.as_str())) {
        return (0, vec![Diagnostic::file("", format!("cannot create output folders: {e}"))]);
    }
    let errors: Vec<Diagnostic> = jobs
        .par_iter()
        .filter_map(|job| {
            let bytes = match render_job(job, site, shared, templates, options) {
                Ok(bytes) => bytes,
                Err(d) => return Some(d),
            };
            sink.write(&job.path, &bytes).err().map(|e| Diagnostic::file(&job.path, format!("cannot write: {e}")))
        })
        .collect();
    (jobs.len() - errors.len(), errors)
}

fn render_job(
    job: &Job,
    site: &Site,
    shared: &Shared,
    templates: &Templates,
    options: &Options,
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
    if let Some(script) = &options.inject {
        inject(&mut bytes, script);
    }
    Ok(bytes)
}

fn jobs(site: &Site, templates: &Templates, errors: &mut Vec<Diagnostic>) -> Vec<Job> {
    let mut jobs: Vec<Job> = Vec::with_capacity(site.pages.len() + 64);
    for (i, page) in site.pages.iter().enumerate().filter(|(_, p)| !p.invalid) {
        match page_template(page, templates) {
            Ok(template) => jobs.push(Job { path: format!("{}index.html", page.path), template, what: What::Page(i) }),
            Err(d) => errors.push(d),
        }
    }
    for (t, taxonomy) in site.graph.taxonomies.iter().enumerate() {
        let path = format!("{}index.html", taxonomy.path);
        jobs.push(Job { path, template: "taxonomy.html".into(), what: What::Taxonomy(t) });
        for (k, term) in taxonomy.terms.iter().enumerate() {
            let path = format!("{}index.html", term.path);
            jobs.push(Job { path, template: "term.html".into(), what: What::Term(t, k) });
        }
    }
    if templates.has("404.html") {
        jobs.push(Job { path: "404.html".into(), template: "404.html".into(), what: What::NotFound });
    }
    jobs
}

/// The pages (and markers) whose cards make up global variable `name`.
fn global_deps(site: &Site, name: &str, deps: &mut Deps) {
    match name {
        "collections" => {
            for (collection, list) in &site.graph.collections {
                deps.marker(collection);
                deps.pages(list);
            }
        }
        "sections" => {
            for c in &site.config.collections {
                match site.page_index(&format!("{}/_index.md", c.folder)) {
                    Some(i) => deps.page(i),
                    None => deps.marker(&c.folder),
                }
            }
        }
        _ => {
            for t in 0..site.graph.taxonomies.len() {
                term_deps(site, t, None, deps);
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
    what: What,
}

enum What {
    Page(usize),
    Taxonomy(usize),
    Term(usize, usize),
    NotFound,
}

/// Template values built once per build and shared by every page.
struct Shared {
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
            What::Page(i) => {
                let b = &site.graph.backlinks[i];
                deps.page(i);
                for (field, list) in &b.referenced_by {
                    deps.marker(field);
                    deps.pages(list);
                }
                deps.marker("cited_by");
                deps.pages(&b.cited_by);
                deps.marker("linked_from");
                deps.pages(&b.linked_from);
                deps.marker("references");
                // In citation order: a label change re-renders through the card.
                deps.pages(&site.graph.cites[i]);
                deps.marker("entries");
                deps.pages(section_entries(site, i));
                deps.marker("prev");
                deps.pages(site.graph.prev[i].as_slice());
                deps.marker("next");
                deps.pages(site.graph.next[i].as_slice());
            }
            What::Taxonomy(t) => term_deps(site, t, None, deps),
            What::Term(t, k) => term_deps(site, t, Some(k), deps),
            What::NotFound => {}
        }
    }

    fn context(&self, site: &Site, shared: &Shared) -> Context {
        let mut ctx = Context::new();
        match self.what {
            What::Page(i) => ctx.insert_value("page", page_value(site, i, shared)),
            What::Taxonomy(t) => ctx.insert_value("taxonomy", shared.taxonomies[t].clone()),
            What::Term(t, k) => {
                ctx.insert_value("taxonomy", shared.taxonomies[t].clone());
                ctx.insert_value("term", shared.terms[t][k].clone());
            }
            What::NotFound => {}
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

fn install_globals(site: &Site, shared: &Shared, templates: &mut Templates) {
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
            ("taxonomies", Value::from(taxonomy_links)),
            ("extra", config.extra.as_ref().map_or_else(|| Value::from(tera::Map::new()), yaml_value)),
        ]),
    );
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
        map([
            ("id", page.id.as_str().into()),
            ("kind", kind_name(&page.kind).into()),
            ("collection", opt(page.collection.as_deref())),
            ("url", page.url.as_str().into()),
            ("path", format!("/{}", page.path).into()),
            ("title", page.title.as_str().into()),
            ("description", opt(page.description.as_deref())),
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

/// The current page: its card plus content, contents, relations.
fn page_value(site: &Site, i: usize, shared: &Shared) -> Value {
    let cards = &shared.cards;
    let page = &site.pages[i];
    let mut m = cards[i].as_map().cloned().unwrap_or_default();
    let b = &site.graph.backlinks[i];
    let toc: Vec<Value> = page
        .md
        .content
        .toc
        .iter()
        .map(|h| map([("level", h.level.into()), ("id", h.id.as_str().into()), ("title", h.title.as_str().into())]))
        .collect();
    let references = references(site, i);
    let mut all: Vec<usize> =
        b.referenced_by.iter().flat_map(|(_, list)| list).chain(&b.cited_by).chain(&b.linked_from).copied().collect();
    all.sort_by(|&x, &y| site.pages[x].title.cmp(&site.pages[y].title).then(x.cmp(&y)));
    all.dedup();
    let referenced_by: Vec<(String, Value)> =
        b.referenced_by.iter().map(|(field, list)| (field.clone(), cards_of(list, cards))).collect();
    let entries = section_entries(site, i);
    let neighbour = |n: Option<usize>| n.map_or_else(Value::none, |n| cards[n].clone());
    let body = page.md.body_html(&page.file, &site.resolver(), shared.keep_html);
    m.insert("content".into(), Value::safe_string(&body));
    m.insert("toc".into(), Value::from(toc));
    m.insert("references".into(), cards_of(&references, cards));
    m.insert("backlinks".into(), cards_of(&all, cards));
    m.insert("referenced_by".into(), map_owned(referenced_by));
    m.insert("cited_by".into(), cards_of(&b.cited_by, cards));
    m.insert("linked_from".into(), cards_of(&b.linked_from, cards));
    m.insert("entries".into(), cards_of(entries, cards));
    m.insert("prev".into(), neighbour(site.graph.prev[i]));
    m.insert("next".into(), neighbour(site.graph.next[i]));
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
