//! The render stage: Tera over the frozen `Site`. Each page's template value
//! (its "card") is built once and shared by reference count wherever the page
//! is listed; the site-wide values live in Tera's global context, built once.
//! Pages render in parallel with no locks.
//!
//! This file: which outputs there are (`jobs`), which of them must be
//! rendered again (`Stale`), and rendering them. `templates`: loading
//! templates, helpers and filters, errors. `cards`: the cards. `context`:
//! the values templates see. `deps`: the fingerprints of what contexts list.

// These imports are also the sub-modules' (`use super::*`).
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
use crate::output::{Bytes, Keep, Output, Outputs, Sink};
use crate::schema::FieldValue;
use crate::site::{Graph, Markdown, Page, Site, Taxonomy, Term};
use crate::theme;

mod cards;
mod context;
mod deps;
mod keys;
mod templates;

use cards::*;
use context::*;
use deps::*;
use keys::*;
use templates::*;
pub use templates::{Targets, Templates};

#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// HTML inserted before `</body>` of every page (the serve command's
    /// live-reload script); `None` for `build`.
    pub inject: Option<String>,
    /// Where the preview keeps what it renders.
    pub keep: Keep,
}

/// Template values, page dependencies and rendered bytes kept between
/// builds, so that a rebuild renders only the outputs whose inputs changed.
#[derive(Default)]
pub struct RenderCache {
    /// The last render's cards, in the order of its pages.
    cards: Vec<CachedCard>,
    /// The last render's outputs, in the order of its jobs, and the jobs.
    jobs: Vec<CachedJob>,
    job_list: Vec<Job>,
    /// The last render's outputs, search index included, sorted by path,
    /// and its `RenderedSite::duplicates`.
    sorted: Outputs,
    duplicates: Vec<Arc<str>>,
    /// Per global variable, the fingerprint of the pages its value lists.
    globals: HashMap<Global, u64>,
    /// Fingerprint of what `url_for` can resolve.
    targets: u64,
    /// The site's `landscape` and relations at the last render.
    landscape: u64,
    graph: Option<Arc<Graph>>,
    search: crate::search::Cache,
    /// The values every output shares, as the last render made them.
    values: Option<SiteValues>,
    /// The generation of the site last rendered with every output kept: a
    /// site patched from it needs only its replaced pages looked at.
    generation: u64,
}

struct CachedCard {
    rel: String,
    fields: Arc<BTreeMap<String, FieldValue>>,
    md: Arc<Markdown>,
    /// Fingerprint of everything else the card shows (see `card_key`).
    key: u64,
    value: Value,
}

struct CachedJob {
    path: Arc<str>,
    template: Arc<str>,
    fingerprint: u64,
    /// Fingerprint of the pages the context lists (see `Job::deps`).
    deps: u64,
    /// For a page, the Markdown it was rendered with: its body is not in its
    /// card, so a body edit shows here only.
    md: Option<Arc<Markdown>>,
    bytes: Bytes,
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
#[derive(Default)]
pub struct RenderedSite {
    /// Every output of the site (rendered now or reused), sorted by path;
    /// empty when they were streamed to a staging folder instead.
    pub outputs: Outputs,
    /// The path of every output streamed (the outputs' own, when kept).
    pub paths: Vec<Arc<str>>,
    /// When kept: the paths written by two jobs or more (once per extra).
    pub duplicates: Vec<Arc<str>>,
    /// When kept, and the outputs are at the same paths as the last
    /// render's: the outputs whose bytes changed.
    pub changed: Option<Vec<Arc<str>>>,
    /// How many were rendered now.
    pub rendered: usize,
    /// How many a one-off build kept from the last (see `Sink::reuse`).
    pub kept: usize,
    pub errors: Vec<Diagnostic>,
    /// The part of the time spent on the search index, for `--timings`.
    pub search_time: std::time::Duration,
}

/// Renders every page of the site, the taxonomy pages and the 404 page,
/// reusing from `cache` each output whose template and inputs are unchanged.
/// With a `sink` (a one-off build), every output is rendered and written
/// there at once instead of being kept: nothing is cached, and each page's
/// typed fields are let go of once its card is made.
pub fn render(
    site: &mut Site,
    templates: &mut Templates,
    options: &RenderOptions,
    cache: &mut RenderCache,
    sink: Option<&dyn Sink>,
) -> RenderedSite {
    // A one-off build writes the search index first, while every page's text
    // is at hand: its postings are let go before the cards are made, and each
    // page's text once the page is written.
    let search = sink.map(|sink| {
        let started = std::time::Instant::now();
        (crate::search::write_index(site, sink), started.elapsed())
    });
    // A site patched from the one last rendered: only its replaced pages
    // can show anything new. (A copy: the site is let go of in part below.)
    let replaced = if sink.is_none() { site.patched_from(cache.generation).map(<[usize]>::to_vec) } else { None };
    let replaced = replaced.as_deref();
    let (shared, lists) = match sink {
        Some(_) => one_off_values(site),
        None => site_values(site, cache, replaced),
    };
    let site = &*site;
    let mut errors = Vec::new();
    // The same pages, relations and templates: the same jobs, but for the
    // templates of the pages replaced.
    let kept_jobs = std::mem::take(&mut cache.job_list);
    let reused = replaced.filter(|_| lists.same_graph && templates.reused);
    let (jobs, jobs_reused, retemplated) =
        match reused.and_then(|replaced| retemplate(site, templates, kept_jobs, replaced)) {
            Some((jobs, retemplated)) => (jobs, true, retemplated),
            None => (jobs(site, templates, &mut errors), false, true),
        };
    // The globals Tera holds are this site's while nothing they list changed
    // (and no output's template did: which globals are made depends on them).
    let same_globals = replaced.is_some() && lists.unchanged && templates.reused && !retemplated;
    if !same_globals {
        // `cited_by` is made only if an output reads it, as few do.
        let cited_by = jobs.iter().any(|j| templates.globals_used(&j.template).any(|g| g == Global::CitedBy));
        install_globals(site, &shared, templates, cited_by);
    }
    let renderer = Renderer { site, shared: &shared, templates, options };
    let mut rendered = match sink {
        Some(sink) => renderer.streamed(&jobs, sink),
        None => renderer.kept(&jobs, cache, lists, replaced.filter(|_| jobs_reused)),
    };
    if let Some((written, time)) = search {
        match written {
            Ok(paths) => rendered.paths.extend(paths),
            Err(e) => errors.push(Diagnostic::file("search", format!("cannot write the search index: {e}"))),
        }
        rendered.search_time = time;
    }
    errors.append(&mut rendered.errors);
    if sink.is_none() {
        cache.generation = if errors.is_empty() { site.generation } else { 0 };
        cache.values = Some(shared);
        cache.job_list = jobs;
    }
    rendered.errors = errors;
    rendered
}

/// What tells which lists of pages may have changed since the last render.
struct Lists {
    /// Per page, whether its card changed.
    card_changed: Vec<bool>,
    /// The same relations, no page showing others anything new, and no card
    /// changed: every list that any output shows is as it was, and so is its
    /// fingerprint, which need not be worked out again.
    unchanged: bool,
    /// The same relations (collections, taxonomies) as the last render's.
    same_graph: bool,
}

/// The values every output shares (cards, taxonomies, terms), made again
/// only where changed: for the `replaced` pages alone when the rest are the
/// last render's.
fn site_values(site: &Site, cache: &mut RenderCache, replaced: Option<&[usize]>) -> (SiteValues, Lists) {
    let same_landscape = std::mem::replace(&mut cache.landscape, site.landscape) == site.landscape;
    let same_graph = cache.graph.as_ref().is_some_and(|g| Arc::ptr_eq(g, &site.graph));
    cache.graph = Some(site.graph.clone());
    let kept = cache.values.take().filter(|_| same_graph);
    if let (Some(replaced), Some(mut values)) = (replaced, kept) {
        // A replaced page that shows others something new (its title, say)
        // is shown anew by the cards of the entries that reference it.
        let mut affected = replaced.to_vec();
        if !same_landscape {
            for &i in replaced {
                affected.extend(site.graph.backlinks[i].referenced_by.iter().flat_map(|(_, by)| by));
            }
            affected.sort_unstable();
            affected.dedup();
        }
        let card_changed = patch_cards(site, cache, &mut values.cards, &affected, same_landscape);
        // Made again if asked for: a replaced page may have moved in it.
        values.feed = OnceLock::new();
        let unchanged = same_landscape && !card_changed.contains(&true);
        // The same relations: the same outlines, and the same terms in them.
        if !unchanged {
            (values.taxonomies, values.terms) = taxonomy_values(site, &values.cards);
        }
        return (values, Lists { card_changed, unchanged, same_graph });
    }
    let (cards, card_changed) = build_cards(site, cache, same_landscape);
    let unchanged = same_graph && same_landscape && !card_changed.contains(&true);
    (values_of(site, cards, OnceLock::new()), Lists { card_changed, unchanged, same_graph })
}

/// A one-off build's shared values, made once: each page's typed fields
/// are let go of once its card is made (see `cards_letting_pages_go`),
/// the feed's dates made before. Every list is new.
fn one_off_values(site: &mut Site) -> (SiteValues, Lists) {
    let feed = OnceLock::from(feed_entries(site));
    let cards = cards_letting_pages_go(site);
    let lists = Lists { card_changed: vec![true; cards.len()], unchanged: false, same_graph: false };
    (values_of(site, cards, feed), lists)
}

fn values_of(site: &Site, cards: Vec<Value>, feed: OnceLock<Vec<(usize, String)>>) -> SiteValues {
    let (taxonomies, terms) = taxonomy_values(site, &cards);
    let outlines = site.graph.taxonomies.iter().map(taxonomy_outline).collect();
    SiteValues { cards, taxonomies, terms, outlines, feed }
}

/// Each taxonomy's value, and each of its terms'.
fn taxonomy_values(site: &Site, cards: &[Value]) -> (Vec<Value>, Vec<Vec<Value>>) {
    let terms: Vec<Vec<Value>> = site
        .graph
        .taxonomies
        .iter()
        .map(|tax| tax.terms.iter().map(|term| term_value(term, cards)).collect())
        .collect();
    let taxonomies = site.graph.taxonomies.iter().zip(&terms).map(|(tax, terms)| taxonomy_value(tax, terms)).collect();
    (taxonomies, terms)
}

/// What rendering an output needs: the site, the values every output
/// shares, the templates, and the options.
#[derive(Clone, Copy)]
struct Renderer<'a> {
    site: &'a Site,
    shared: &'a SiteValues,
    templates: &'a Templates,
    options: &'a RenderOptions,
}

impl Renderer<'_> {
    /// A one-off build: every output rendered and written into `sink`,
    /// but those the sink still has as the last build made them from the
    /// same inputs (see `keys`).
    fn streamed(&self, jobs: &[Job], sink: &dyn Sink) -> RenderedSite {
        let mut errors = Vec::new();
        if let Err(e) = sink.create_folders(&mut jobs.iter().map(|j| &*j.path)) {
            errors.push(Diagnostic::file("", format!("cannot create output folders: {e}")));
            return RenderedSite { rendered: 0, paths: Vec::new(), errors, ..RenderedSite::default() };
        }
        let keys = sink.keeps_keys().then(|| Keys::new(self.site, self.shared, self.templates, self.options));
        // A path two jobs write is an error (see `engine::path_collisions`);
        // written by both, it was a race between them, which one lost with
        // an error of the file system instead.
        let mut seen = HashSet::default();
        let twice: HashSet<&str> = jobs.iter().map(|j| &*j.path).filter(|p| !seen.insert(*p)).collect();
        let results = on_every_core(jobs, |n| match twice.contains(&*jobs[n].path) {
            true => self.rendered_unwritten(&jobs[n]),
            false => self.stream_one(&jobs[n], sink, keys.as_ref()),
        });
        let (mut paths, mut rendered, mut kept) = (Vec::with_capacity(results.len()), 0, 0);
        for result in results {
            match result {
                Ok(Streamed::Rendered(path)) => {
                    paths.push(path);
                    rendered += 1;
                }
                Ok(Streamed::Kept(path)) => {
                    paths.push(path);
                    kept += 1;
                }
                Ok(Streamed::Blank) => {}
                Err(d) => errors.push(d),
            }
        }
        RenderedSite { rendered, kept, paths, errors, ..RenderedSite::default() }
    }

    /// One output of a one-off build rendered, for its errors, but not
    /// written: another output has its path.
    fn rendered_unwritten(&self, job: &Job) -> Result<Streamed, Diagnostic> {
        let bytes = self.job(job)?;
        if let Subject::Page(i) = job.what {
            written(&self.site.pages[i].md)?;
        }
        Ok(if bytes.is_empty() { Streamed::Blank } else { Streamed::Rendered(job.path.clone()) })
    }

    /// One output of a one-off build: kept if the sink has it as made from
    /// the same inputs (`keys`), else rendered and written.
    fn stream_one(&self, job: &Job, sink: &dyn Sink, keys: Option<&Keys>) -> Result<Streamed, Diagnostic> {
        let md = match job.what {
            Subject::Page(i) => Some(&self.site.pages[i].md),
            _ => None,
        };
        let key = keys.map(|k| k.of(job));
        if key.is_some_and(|key| sink.reuse(&job.path, key)) {
            md.inspect(|md| md.release());
            return Ok(Streamed::Kept(job.path.clone()));
        }
        // The preview's script goes into an output held whole (see `job`).
        if md.is_none() && self.options.inject.is_none() {
            return self.list_into(job, sink, key);
        }
        let bytes = self.job(job)?;
        if bytes.is_empty() {
            return Ok(Streamed::Blank);
        }
        if let Some(md) = md {
            written(md)?;
        }
        let written = match key {
            Some(key) => sink.write_made(&job.path, &bytes, key),
            None => sink.write(&job.path, &bytes),
        };
        match written {
            Ok(()) => Ok(Streamed::Rendered(job.path.clone())),
            Err(e) => Err(Diagnostic::file(&*job.path, format!("cannot write: {e}"))),
        }
    }

    /// The preview: renders the outputs whose inputs changed, keeps them in
    /// `cache` with the others, and returns them all with the search index.
    /// With `replaced` (see `render`, and the jobs the last render's), the
    /// outputs of other pages are kept unchecked while no list and no
    /// template changed.
    fn kept(&self, jobs: &[Job], cache: &mut RenderCache, lists: Lists, replaced: Option<&[usize]>) -> RenderedSite {
        let unchanged = lists.unchanged && self.templates.reused;
        let fresh = Freshness::new(self.site, self.shared, self.templates, cache, lists);
        match replaced.filter(|_| unchanged && !fresh.all_stale && cache.jobs.len() == jobs.len()) {
            Some(replaced) => self.kept_some(jobs, cache, &fresh, replaced),
            None => self.kept_all(jobs, cache, &fresh),
        }
    }

    /// Checks every output, and renders those whose inputs changed.
    fn kept_all(&self, jobs: &[Job], cache: &mut RenderCache, fresh: &Freshness) -> RenderedSite {
        let paths: Vec<&str> = jobs.iter().map(|j| &*j.path).collect();
        let previous = match_kept(&paths, std::mem::take(&mut cache.jobs), |c| &c.path);
        let results = on_every_core(jobs, |n| self.again(&jobs[n], previous[n].as_ref(), fresh));
        let (rendered, errors) = keep_results(results, previous, cache);
        let started = std::time::Instant::now();
        crate::search::index(self.site, &mut cache.search, &self.options.keep);
        let search_time = started.elapsed();
        RenderedSite { rendered, errors, search_time, ..cache.assembled() }
    }

    /// Only the outputs of the `replaced` pages can have changed, and the
    /// jobs are the last render's: checks those alone, and patches the last
    /// render's outputs with what changed.
    fn kept_some(&self, jobs: &[Job], cache: &mut RenderCache, fresh: &Freshness, replaced: &[usize]) -> RenderedSite {
        let at: Vec<usize> = replaced.iter().filter_map(|&i| jobs.binary_search_by_key(&i, Job::page).ok()).collect();
        let previous = &cache.jobs;
        let results: Vec<Result<Option<CachedJob>, Diagnostic>> =
            at.par_iter().map(|&k| self.again(&jobs[k], Some(&previous[k]), fresh)).collect();
        let (mut rendered, mut errors, mut again) = (0, Vec::new(), Vec::new());
        let mut same_paths = true;
        for (&k, result) in at.iter().zip(results) {
            match result {
                Ok(Some(made)) => {
                    rendered += usize::from(!made.bytes.is_empty());
                    same_paths &= made.bytes.is_empty() == cache.jobs[k].bytes.is_empty();
                    again.push(Output { path: made.path.clone(), bytes: made.bytes.clone() });
                    cache.jobs[k] = made;
                }
                Ok(None) => {}
                // Its old output stays in the cache, stale: its Markdown is not this page's.
                Err(d) => errors.push(d),
            }
        }
        let started = std::time::Instant::now();
        let search = crate::search::index(self.site, &mut cache.search, &self.options.keep);
        let search_time = started.elapsed();
        // Outputs added or gone after all: put them together again.
        let search = match search {
            crate::search::Update::Again(search) if same_paths => search,
            _ => return RenderedSite { rendered, errors, search_time, ..cache.assembled() },
        };
        let mut changed = Vec::new();
        for o in again.into_iter().chain(search) {
            let k = cache.sorted.find(&o.path).expect("the same outputs as last time");
            if cache.sorted.get(k).bytes != o.bytes {
                changed.push(o.path.clone());
                cache.sorted.set_bytes(k, o.bytes);
            }
        }
        let (outputs, duplicates) = (cache.sorted.clone(), cache.duplicates.clone());
        RenderedSite {
            outputs,
            rendered,
            errors,
            search_time,
            duplicates,
            changed: Some(changed),
            ..RenderedSite::default()
        }
    }

    /// `job`'s output made again if `previous` is stale (`None`: it is not).
    fn again(
        &self,
        job: &Job,
        previous: Option<&CachedJob>,
        fresh: &Freshness,
    ) -> Result<Option<CachedJob>, Diagnostic> {
        let (stale, kept) = fresh.check(job, previous);
        let Some(stale) = stale else { return Ok(None) };
        if fresh.trace {
            eprintln!("annals: rendering {}: {stale}", job.path);
        }
        let page = match job.what {
            Subject::Page(i) => Some(&self.site.pages[i]),
            _ => None,
        };
        page.inspect(|p| p.md.forget_unread());
        let bytes = self.job(job)?;
        // Its body could not be read again (see `Markdown::let_go_of_body`).
        if let Some(unread) = page.and_then(|p| p.md.unread()) {
            return Err(unread);
        }
        Ok(Some(CachedJob { bytes: self.options.keep.pack(bytes), ..kept }))
    }

    fn job(&self, job: &Job) -> Result<Vec<u8>, Diagnostic> {
        let mut bytes = Vec::with_capacity(16 * 1024);
        self.job_into(job, &mut bytes)?;
        if bytes.iter().all(blank_byte(&job.what)) {
            // Left out: see `FILES_DIR`.
            bytes.clear();
            return Ok(bytes);
        }
        if let Some(script) = self.options.inject.as_ref().filter(|_| job.path.ends_with(".html")) {
            inject(&mut bytes, script);
        }
        Ok(bytes)
    }

    /// Renders one output into `out`.
    fn job_into(&self, job: &Job, out: &mut dyn std::io::Write) -> Result<(), Diagnostic> {
        let Renderer { site, shared, templates, .. } = *self;
        if !templates.has(&job.template) {
            return Err(Diagnostic::file(
                "templates",
                format!("template `{}` not found in the theme or templates/", job.template),
            ));
        }
        let context = job.context(site, shared);
        templates.tera.render_to(&job.template, &context, out).map_err(|e| template_error(&e, &templates.files))
    }

    /// Renders an output other than a page's straight into `sink`. Most
    /// list every entry of a collection: at 100,000 pages the data file
    /// weighed 92 MB (134 MB with the slack of growing), the bibliographies,
    /// the indexes and the sitemap 7 to 24 MB each, and two held at once,
    /// growing, raised the build's peak. One that is blank is left out, as
    /// when held whole (see `job`), and in the preview.
    fn list_into(&self, job: &Job, sink: &dyn Sink, key: Option<u64>) -> Result<Streamed, Diagnostic> {
        let (mut failed, mut blank) = (None, false);
        let written = sink.write_streamed(&job.path, key, &mut |out| {
            let mut out = UnlessBlank::new(out, &job.what);
            self.job_into(job, &mut out).map_err(|d| {
                failed = Some(d);
                std::io::Error::other("the template failed")
            })?;
            blank = !out.passing;
            if blank { Err(std::io::Error::other("blank: left out")) } else { Ok(()) }
        });
        match (failed, blank, written) {
            (Some(d), ..) => Err(d),
            (None, true, _) => Ok(Streamed::Blank),
            (None, false, Err(e)) => Err(Diagnostic::file(&*job.path, format!("cannot write: {e}"))),
            (None, false, Ok(())) => Ok(Streamed::Rendered(job.path.clone())),
        }
    }
}

/// Whether a byte leaves an output blank, and so left out: white space for
/// a template of `files/` (see `FILES_DIR`), no byte for the rest, which are
/// left out only empty.
fn blank_byte(what: &Subject) -> fn(&u8) -> bool {
    match what {
        Subject::File => u8::is_ascii_whitespace,
        _ => |_| false,
    }
}

/// Passes an output on to `out` once it cannot be blank any more (see
/// `blank_byte`), holding what it was given until then. Still not
/// `passing` at the end: blank.
struct UnlessBlank<'a> {
    out: &'a mut dyn std::io::Write,
    held: Vec<u8>,
    blank_byte: fn(&u8) -> bool,
    passing: bool,
}

impl<'a> UnlessBlank<'a> {
    fn new(out: &'a mut dyn std::io::Write, what: &Subject) -> Self {
        UnlessBlank { out, held: Vec::new(), blank_byte: blank_byte(what), passing: false }
    }
}

impl std::io::Write for UnlessBlank<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.passing {
            self.held.extend_from_slice(buf);
            self.passing = !buf.iter().all(self.blank_byte);
            if self.passing {
                self.out.write_all(&std::mem::take(&mut self.held))?;
            }
            return Ok(buf.len());
        }
        self.out.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// What became of one output of a one-off build.
enum Streamed {
    Rendered(Arc<str>),
    /// Kept as the last build wrote it (see `Sink::reuse`).
    Kept(Arc<str>),
    /// Left out (see `FILES_DIR`).
    Blank,
}

impl RenderCache {
    /// Every output kept, the search index's included, sorted by path,
    /// with the paths made twice; kept as the last render's.
    fn assembled(&mut self) -> RenderedSite {
        // In the order of the jobs, which is nearly the order of their paths:
        // the sort then has little to do.
        let mut outputs: Vec<Output> = self
            .jobs
            .iter()
            .filter(|c| !c.bytes.is_empty())
            .map(|c| Output { path: c.path.clone(), bytes: c.bytes.clone() })
            .collect();
        outputs.extend(self.search.outputs());
        outputs.sort_by(|a, b| a.path.cmp(&b.path));
        let duplicates: Vec<Arc<str>> =
            outputs.windows(2).filter(|w| w[0].path == w[1].path).map(|w| w[1].path.clone()).collect();
        let outputs = Outputs::new(outputs);
        self.sorted = outputs.clone();
        self.duplicates = duplicates.clone();
        RenderedSite { outputs, duplicates, ..RenderedSite::default() }
    }
}

/// Lets go of a page's source once its output is made: a one-off build
/// holds no page's text to the end. Its error if its body could not be
/// read again: the page must not be published without it.
fn written(md: &Markdown) -> Result<(), Diagnostic> {
    md.release();
    md.unread().map_or(Ok(()), Err)
}

/// `work` on every job, on every core, its results in the jobs' order. The
/// outputs that list a whole collection or taxonomy (data files,
/// bibliographies, term pages) come after the pages, but each weighs
/// hundreds of them: taken last, they were rendered one after another on one
/// core while the other had no page left (at 100,000 pages, the render's
/// last 2.3 s). They are taken first, and the jobs in runs small enough
/// that the pages are shared out after them.
fn on_every_core<T: Send>(jobs: &[Job], work: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&n| matches!(jobs[n].what, Subject::Page(_)));
    let mut done: Vec<(usize, T)> = order.par_iter().with_max_len(64).map(|&n| (n, work(n))).collect();
    done.sort_unstable_by_key(|(n, _)| *n);
    done.into_iter().map(|(_, result)| result).collect()
}

/// For each of this render's `keys` (a job's path, a page's), what the last
/// render kept for it: found by position while the keys are the last
/// render's, in the same order (as in nearly every rebuild), else by key.
fn match_kept<T>(keys: &[&str], kept: Vec<T>, key_of: impl Fn(&T) -> &str) -> Vec<Option<T>> {
    let aligned = kept.len() == keys.len() && kept.iter().zip(keys).all(|(k, key)| key_of(k) == *key);
    if aligned {
        return kept.into_iter().map(Some).collect();
    }
    let mut by_key: HashMap<String, T> = kept.into_iter().map(|k| (key_of(&k).to_string(), k)).collect();
    keys.iter().map(|key| by_key.remove(*key)).collect()
}

/// Keeps in `cache`, in the order of the jobs, what each job rendered, or
/// else its `previous` output when that was fresh (nothing for a job that
/// failed); returns how many outputs were rendered, and the errors.
fn keep_results(
    results: Vec<Result<Option<CachedJob>, Diagnostic>>,
    previous: Vec<Option<CachedJob>>,
    cache: &mut RenderCache,
) -> (usize, Vec<Diagnostic>) {
    let (mut rendered, mut errors) = (0, Vec::new());
    cache.jobs = Vec::with_capacity(results.len());
    for (result, previous) in results.into_iter().zip(previous) {
        match result {
            Ok(Some(made)) => {
                // A blank output is left out (see `FILES_DIR`): not counted.
                rendered += usize::from(!made.bytes.is_empty());
                cache.jobs.push(made);
            }
            Ok(None) => cache.jobs.extend(previous),
            Err(d) => errors.push(d),
        }
    }
    (rendered, errors)
}

/// Tells, for each output, whether the one kept from the last render can
/// be reused, and why not.
struct Freshness<'a> {
    site: &'a Site,
    templates: &'a Templates,
    lists: Lists,
    /// Per global variable, whether the pages its value lists changed.
    global_changed: HashMap<Global, bool>,
    /// What `url_for` can resolve changed: everything is stale.
    all_stale: bool,
    /// `ANNALS_TRACE=invalidation`: say why each output is rendered again.
    trace: bool,
}

impl<'a> Freshness<'a> {
    fn new(
        site: &'a Site,
        shared: &SiteValues,
        templates: &'a Templates,
        cache: &mut RenderCache,
        lists: Lists,
    ) -> Self {
        let global_changed = Global::ALL
            .into_iter()
            .map(|g| {
                if lists.unchanged && cache.globals.contains_key(&g) {
                    return (g, false);
                }
                let mut deps = Deps::new(site, &lists.card_changed);
                global_deps(site, shared, g, &mut deps);
                let previous = cache.globals.insert(g, deps.hash());
                (g, deps.changed || previous != Some(deps.hash()))
            })
            .collect();
        let targets = templates.targets_fingerprint;
        let all_stale = std::mem::replace(&mut cache.targets, targets) != targets;
        let trace = std::env::var("ANNALS_TRACE").is_ok_and(|t| t.split(',').any(|t| t == "invalidation"));
        Freshness { site, templates, lists, global_changed, all_stale, trace }
    }

    /// Why `job` must be rendered again (`None`: its `previous` output is
    /// good), and what to keep with it if it is (its bytes left empty).
    fn check(&self, job: &Job, previous: Option<&CachedJob>) -> (Option<Stale>, CachedJob) {
        let fingerprint = self.templates.fingerprint(&job.template);
        let (deps, deps_changed) = match previous {
            Some(c) if self.lists.unchanged => (c.deps, false),
            _ => {
                let mut dep_state = Deps::new(self.site, &self.lists.card_changed);
                job.deps(self.site, &mut dep_state);
                (dep_state.hash(), dep_state.changed)
            }
        };
        let md = match job.what {
            Subject::Page(i) => Some(self.site.pages[i].md.clone()),
            _ => None,
        };
        let same_text = |c: &CachedJob| match (&c.md, &md) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (a, b) => a.is_none() && b.is_none(),
        };
        let stale = match previous {
            None => Some(Stale::New),
            Some(_) if self.all_stale => Some(Stale::Targets),
            Some(c) if c.template != job.template || c.fingerprint != fingerprint => Some(Stale::Template),
            Some(c) if !same_text(c) => Some(Stale::Text),
            Some(c) if c.deps != deps || deps_changed => Some(Stale::Lists),
            Some(_) => self.templates.globals_used(&job.template).find(|g| self.global_changed[g]).map(Stale::Global),
        };
        let path = job.path.clone();
        (stale, CachedJob { path, template: job.template.clone(), fingerprint, deps, md, bytes: Bytes::plain([]) })
    }
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

fn jobs(site: &Site, templates: &Templates, errors: &mut Vec<Diagnostic>) -> Vec<Job> {
    let mut jobs: Vec<Job> = Vec::with_capacity(site.pages.len() + 64);
    // An entry's template depends on its collection alone: found once each.
    let mut entry_templates: HashMap<&str, Result<Arc<str>, Diagnostic>> = HashMap::default();
    for (i, page) in site.pages.iter().enumerate().filter(|(_, p)| !p.invalid) {
        let template = match (&page.kind, &page.collection, &page.template) {
            (Kind::Entry { .. }, Some(c), None) => {
                entry_templates.entry(c).or_insert_with(|| page_template(page, templates)).clone()
            }
            _ => page_template(page, templates),
        };
        match template {
            Ok(template) => jobs.push(Job { path: page.output.clone(), template, what: Subject::Page(i) }),
            Err(d) => errors.push(d),
        }
    }
    for (t, taxonomy) in site.graph.taxonomies.iter().enumerate() {
        let path = format!("{}index.html", taxonomy.path).into();
        jobs.push(Job { path, template: "taxonomy.html".into(), what: Subject::Taxonomy(t) });
        for (k, term) in taxonomy.terms.iter().enumerate() {
            let path = format!("{}index.html", term.path).into();
            jobs.push(Job { path, template: "term.html".into(), what: Subject::Term(t, k) });
        }
    }
    if templates.has("404.html") {
        jobs.push(Job { path: "404.html".into(), template: "404.html".into(), what: Subject::NotFound });
    }
    if templates.has(COLLECTION_DATA) {
        for name in site.graph.collections.keys() {
            let path = format!("data/{name}.json").into();
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
        jobs.push(Job { path: name[FILES_DIR.len()..].into(), template: name.as_str().into(), what: Subject::File });
    }
    jobs
}

struct Job {
    path: Arc<str>,
    template: Arc<str>,
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

impl Job {
    /// The page this job renders, for a search among the jobs (whose pages
    /// come first, in order); `usize::MAX` for other jobs.
    fn page(&self) -> usize {
        match self.what {
            Subject::Page(i) => i,
            _ => usize::MAX,
        }
    }

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
            Subject::Term(t, k) => {
                term_deps(site, t, Some(k), deps);
                deps.outline(t);
            }
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
                ctx.insert_value("taxonomy", shared.outlines[t].clone());
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

/// The last render's `jobs`, for the same pages and templates, with the
/// templates of the `replaced` pages found again, and whether one of them
/// changed: `None` if one has none.
fn retemplate(site: &Site, templates: &Templates, mut jobs: Vec<Job>, replaced: &[usize]) -> Option<(Vec<Job>, bool)> {
    let mut changed = false;
    for &i in replaced {
        if let Ok(k) = jobs.binary_search_by_key(&i, Job::page) {
            let template = page_template(&site.pages[i], templates).ok()?;
            changed |= template != jobs[k].template;
            jobs[k].template = template;
        }
    }
    Some((jobs, changed))
}

fn page_template(page: &Page, templates: &Templates) -> Result<Arc<str>, Diagnostic> {
    if let Some(t) = &page.template {
        return if templates.has(t) {
            Ok(t.as_str().into())
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
    candidates.iter().find(|t| templates.has(t)).map(|t| t.as_str().into()).ok_or_else(|| {
        Diagnostic::file(&page.file, format!("no template for this page: expected one of {}", candidates.join(", ")))
    })
}

fn inject(bytes: &mut Vec<u8>, script: &str) {
    let needle = b"</body>";
    match bytes.windows(needle.len()).rposition(|w| w.eq_ignore_ascii_case(needle)) {
        Some(at) => {
            let end = bytes.split_off(at);
            bytes.extend_from_slice(script.as_bytes());
            bytes.extend_from_slice(&end);
        }
        None => bytes.extend_from_slice(script.as_bytes()),
    }
}
