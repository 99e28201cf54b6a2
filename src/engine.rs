//! The build, as a straight line of timed stages: load (with validation),
//! pages, markdown, link, render (then write, by the caller). The engine keeps what
//! each stage produced, so that a rebuild after a change redoes only what
//! the change can affect; a first build is a rebuild with nothing kept, so
//! both run the same code and produce the same bytes.
//!
//! Validation is always whole-site: every file's errors are kept with it,
//! and the link stage's checks run over every page unless the pages a save
//! replaced relate to the others as before (their links, citations, anchors
//! and relating fields unchanged, no URL or label changed), when the last
//! build's results, errors included, still hold.
//!
//! # What a rebuild reuses, and when
//!
//! Everything kept between builds, from the first stage to the last. Each
//! item is reused only while everything it was made from is unchanged; the
//! seeded random-edit test (`tests/random_edits.rs`) checks the whole model
//! against full builds.
//!
//! 1. **Configuration.** A changed `site.yaml` starts afresh (only the last
//!    good outputs are kept, to tell what changed). One that fails to load
//!    keeps nothing: every later rebuild reads it again until it loads.
//! 2. **Files** (`Engine::files`): each Markdown file, read, split and
//!    validated, by path, with what it says of its page (`site::PageInfo`:
//!    URL, fields, label), which every build's page shares. A changed file
//!    is read again; a changed folder or other path walks `content/` again
//!    and re-reads everything under it. While the same files make the same
//!    pages, the index of pages by path and the errors of which pages there
//!    are (two with one URL, two citable entries with one id) are kept too.
//!    Above `Options::hold_text_up_to` of body text, no body is held past
//!    the link stage: each is read again, and checked against a hash of the
//!    text first read, when its page must be rendered again.
//! 3. **Markdown facts** (`PageInfo`'s rendering): per file, its headings,
//!    summary, links and citations, reused while the URLs and labels it
//!    resolved against are the same.
//! 4. **Relations** (`site::Graph`): backlinks, taxonomies, previous/next,
//!    reused while no page's relations changed (fields, links, citations,
//!    headings); the *landscape* (every page's URL, title and label) says
//!    whether any page shows others anything new.
//! 5. **Cards** (`render::RenderCache::cards`): each page's template value,
//!    reused while its fields and facts are the same allocations and what it
//!    shows of others (`card_key`) is unchanged; a card that differs marks
//!    every list holding it as changed.
//!    Cards and outputs are kept in the order of their pages and jobs, and
//!    found by position while those are the last build's (`match_kept`), so
//!    that a save looks nothing up by path.
//! 6. **Globals** (`dependencies::Global`): per global, a fingerprint of the
//!    pages its value lists.
//! 7. **Outputs** (`render::RenderCache::jobs`): each rendered file, reused
//!    while its template and everything the template reaches (extends,
//!    include, import, components: `dependencies::template_deps`) are the
//!    same, its page's facts are the same, the lists of pages its context
//!    shows (`render::page_lists`, one walk for the context and its
//!    fingerprint) hold the same pages with unchanged cards, no global it
//!    reads changed, and what `url_for` can resolve is the same. Kept
//!    gzip-packed (`output::Bytes`), as are the search index's files, and
//!    above `Options::hold_text_up_to` of text, in a spill file on disk
//!    rather than in memory (`output::Keep`).
//!    `ANNALS_TRACE=invalidation` prints why each output was rendered again.
//! 8. **Inputs** (`inputs::Inputs`): what the build read from disk, which
//!    the watcher of `serve` and `watch` watches.

use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

use crate::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::config::{self, Config};
use crate::content::{self, Recalled, Source, rel_string};
use crate::diagnostics::{self, Diagnostic};
use crate::inputs::Inputs;
use crate::output::{CopiedFile, Keep, Outputs, Sink, Staging};
use crate::render::{self, RenderCache, Templates};
use crate::schema;
use crate::site::{self, KeptFacts, MarkdownCache, PageInfo, Site, Skeleton};
use crate::theme;
use crate::yaml;

/// What to build and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The site root: the folder holding `site.yaml`.
    pub root: PathBuf,
    /// The output folder; relative paths are under `root`.
    pub output: PathBuf,
    /// Include `draft: true` pages.
    pub drafts: bool,
    /// Replaces `base_url` from `site.yaml` (the preview server uses `/`).
    pub base_url: Option<String>,
    /// HTML inserted before `</body>` (the preview server's live reload).
    pub inject: Option<String>,
    /// Replace an output folder that annals did not make (see `output::check_output_dir`).
    pub force: bool,
    /// `build`: render every output, keeping none that the last build made
    /// from the same inputs (see `render::Keys`).
    pub fresh: bool,
    /// The most text of page bodies a build holds past the link stage (and
    /// the preview between builds); beyond it, each body is read again from
    /// its file when needed (see [`HOLD_TEXT_UP_TO`]).
    pub hold_text_up_to: usize,
}

impl Options {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Options {
            root: root.into(),
            output: PathBuf::from("public"),
            drafts: false,
            base_url: None,
            inject: None,
            force: false,
            fresh: false,
            hold_text_up_to: HOLD_TEXT_UP_TO,
        }
    }

    pub fn output_dir(&self) -> PathBuf {
        self.root.join(&self.output)
    }
}

/// How long each stage took.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    pub stages: Vec<(&'static str, Duration)>,
}

impl Timings {
    /// Times `f` as (a part of) `stage`.
    fn time<T>(&mut self, stage: &'static str, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let value = f();
        self.add(stage, start.elapsed());
        value
    }

    fn add(&mut self, stage: &'static str, took: Duration) {
        match self.stages.iter_mut().find(|(s, _)| *s == stage) {
            Some((_, d)) => *d += took,
            None => self.stages.push((stage, took)),
        }
    }

    pub fn total(&self) -> Duration {
        self.stages.iter().map(|(_, d)| *d).sum()
    }
}

/// A successful build: the whole site, and what changed since the last one.
#[derive(Debug, Clone)]
pub struct Built {
    /// Every rendered file, sorted by path.
    pub outputs: Outputs,
    /// Files copied as they are (static files, content assets).
    pub copies: Vec<CopiedFile>,
    /// Number of content pages (without taxonomy and 404 pages).
    pub pages: usize,
    /// Number of files in the site: rendered and copied.
    pub files: usize,
    /// Markdown pages rendered by this build.
    pub markdown_rendered: usize,
    /// Markdown files a one-off build took as unchanged since the last
    /// build, and did not read (see `content::Recalled`).
    pub unread: usize,
    /// Outputs rendered by this build (the rest were reused).
    pub rendered: usize,
    /// Outputs of a one-off build kept as the last build wrote them, made
    /// from the same inputs (see `output::Sink::reuse`).
    pub kept: usize,
    /// Outputs whose bytes differ from the previous successful build.
    pub changed: Vec<String>,
    /// Outputs of the previous successful build that no longer exist.
    pub removed: Vec<String>,
    /// The site builds, but these deserve a look (`check --deny-warnings` fails on them).
    pub warnings: Vec<Diagnostic>,
    pub timings: Timings,
}

/// What happened on disk since the last build.
#[derive(Debug, Clone)]
pub enum Change {
    /// Unknown or global: rebuild from scratch.
    Everything,
    /// These paths (absolute, or relative to the site root) changed, appeared or disappeared.
    Paths(Vec<PathBuf>),
}

/// One file of `content/`, read, split and validated, with what it says
/// of its page.
struct FileState {
    source: Arc<Source>,
    page: Arc<PageInfo>,
    errors: Vec<Diagnostic>,
}

/// The build state kept between builds.
pub struct Engine {
    options: Options,
    config: Option<Config>,
    /// Markdown files by path under `content/`; `Err` when unreadable.
    files: BTreeMap<String, Result<FileState, Diagnostic>>,
    /// Those of them with errors or warnings: what every build reports
    /// again, found without walking every file (see `file_errors`).
    with_errors: BTreeSet<String>,
    assets: Vec<PathBuf>,
    walk_errors: Vec<Diagnostic>,
    /// What the last walk of `content/` and the last theme load read.
    content_inputs: Inputs,
    theme_inputs: Inputs,
    markdown: MarkdownCache,
    render: RenderCache,
    /// The last build's templates, reused while their texts are unchanged.
    templates: Option<Templates>,
    /// The last build's site, whose relations the next build may reuse.
    site: Option<Site>,
    /// The outputs of the last good build, sorted by path, and whether
    /// that build was the last one.
    last_good: Outputs,
    last_good_is_last: bool,
    /// The files read by this build (by path under `content/`), and whether
    /// the site's text is more than `Options::hold_text_up_to`: then no body
    /// is held past the link stage, and each is read again when needed.
    fresh: Vec<String>,
    let_go_text: bool,
    /// Where the preview keeps its outputs: on disk while the site's text
    /// is let go of (see `output::Keep`), made once.
    keep_on_disk: Option<Keep>,
}

impl Engine {
    pub fn new(options: Options) -> Engine {
        Engine {
            options,
            config: None,
            files: BTreeMap::new(),
            with_errors: BTreeSet::new(),
            assets: Vec::new(),
            walk_errors: Vec::new(),
            content_inputs: Inputs::default(),
            theme_inputs: Inputs::default(),
            markdown: MarkdownCache::default(),
            render: RenderCache::default(),
            templates: None,
            site: None,
            last_good: Outputs::default(),
            last_good_is_last: false,
            fresh: Vec::new(),
            let_go_text: false,
            keep_on_disk: None,
        }
    }

    /// Everything the last build read or looked for: a change elsewhere
    /// cannot change the site.
    pub fn inputs(&self) -> Inputs {
        let mut inputs = self.content_inputs.clone();
        inputs.extend(&self.theme_inputs);
        inputs.file(&self.options.root.join(config::CONFIG_FILE));
        inputs
    }

    /// Rebuilds after `change`. On success the returned site is complete,
    /// with its warnings; on failure every error and warning of the whole
    /// site is returned.
    pub fn rebuild(&mut self, change: &Change) -> Result<Built, Vec<Diagnostic>> {
        self.run(change, None)
    }

    /// One build streamed into `sink`: pages are written as they are
    /// rendered and not kept, and sources are let go once rendered, so a
    /// large site needs far less memory. Nothing is kept for a rebuild.
    pub fn build_into(mut self, sink: &dyn Sink) -> Result<Built, Vec<Diagnostic>> {
        let result = self.run(&Change::Everything, Some(sink));
        drop(FreeLater(Some(self)));
        result
    }

    /// The stages, in order: configuration, load and validate, markdown,
    /// link, render (and the search index), then what changed since the last
    /// good build. Each stage is a method or function below.
    fn run(&mut self, change: &Change, sink: Option<&dyn Sink>) -> Result<Built, Vec<Diagnostic>> {
        let mut t = Timings::default();
        // Set again if this build succeeds.
        let last_good_is_last = std::mem::take(&mut self.last_good_is_last);
        let (paths, everything) = self.classify(change);
        if everything {
            t.time("prepare", || self.configure())?;
        }
        let config = self.config.clone().expect("configured above");
        // A one-off build into a sink that keeps what it is given (see
        // `output::Sink::keep`) takes the front matter the last one parsed,
        // its files unchanged since (not read again), and its pages'
        // Markdown facts.
        let keeps = sink.filter(|s| s.keeps_keys()).map(|s| (s, crate::made_with(&config)));
        let recalled = t.time("prepare", || {
            keeps.map(|(sink, made_with)| {
                Recalled::new(made_with, sink.recall(yaml::TREES), sink.recall(content::FILES))
            })
        });
        let patch = self.load(&config, &paths, everything, recalled.as_ref(), &mut t);
        let unread = recalled.as_ref().map_or(0, Recalled::unread);
        if let Some((sink, recalled)) = keeps.map(|(sink, _)| sink).zip(recalled) {
            t.time("keep", || {
                recalled.trees.keep_in(sink, yaml::TREES);
                recalled.keep_files(sink);
            });
        }
        let mut errors = self.file_errors();
        let facts =
            t.time("prepare", || keeps.map(|(sink, made_with)| KeptFacts::new(made_with, sink.recall(site::FACTS))));
        let (skeleton, markdown_rendered) =
            self.markdown(config, patch, sink.is_some(), facts.as_ref(), &mut errors, &mut t);
        if let Some((sink, facts)) = keeps.map(|(sink, _)| sink).zip(facts) {
            t.time("keep", || facts.keep_in(sink, site::FACTS));
        }
        let previous = FreeLater(self.site.take());
        let (site, errs) = t.time("link", || skeleton.link(previous.0.as_ref()));
        // Kept, failed build or not, for the next build to reuse its relations.
        self.site = Some(site);
        // Before the render, in the preview too: holding every body through
        // a large site's first render raised its peak by the whole text (at
        // 100,000 pages 0.4 GB), where a save reads its page's file twice more.
        if self.let_go_text {
            self.let_go_of_text(&markdown_rendered);
        }
        errors.extend(errs);
        if sink.is_some() {
            // A one-off build reads its files' records no more (their errors
            // are gathered above): let go of them, so that the site alone
            // holds its pages' records, and the render can let go of their
            // fields (see `Page::let_go_after_card`).
            self.files.clear();
        }

        let (mut rendered, copies) = self.render(sink, &mut errors, &mut t)?;
        errors.extend(path_collisions(&rendered, &copies));
        errors.append(&mut rendered.errors);
        diagnostics::normalize(&mut errors);
        if errors.iter().any(Diagnostic::is_error) {
            return Err(errors);
        }
        let site = self.site.as_ref().expect("kept above");
        let mut warnings = errors;
        // Only what is published needs absolute URLs: not the preview, nor `check`.
        if sink.is_some_and(|s| s.publishes()) && !site.config.absolute() {
            warnings.push(relative_base_url(&site.config.base_url));
        }
        let pages = site.pages.len();
        let (changed, removed) = self.compare_with_last_good(&rendered, last_good_is_last);
        self.last_good_is_last = true;
        Ok(Built {
            files: rendered.paths.len() + rendered.outputs.len() + copies.len(),
            outputs: rendered.outputs,
            copies,
            pages,
            markdown_rendered: markdown_rendered.len(),
            unread,
            rendered: rendered.rendered,
            kept: rendered.kept,
            changed,
            removed,
            warnings,
            timings: t,
        })
    }

    /// The changed paths, absolute, and whether everything must be built
    /// again from the configuration on (the first build, or `site.yaml`).
    fn classify(&self, change: &Change) -> (Vec<PathBuf>, bool) {
        let root = &self.options.root;
        let paths: Vec<PathBuf> = match change {
            Change::Everything => Vec::new(),
            Change::Paths(paths) => {
                paths.iter().map(|p| if p.is_absolute() { p.clone() } else { root.join(p) }).collect()
            }
        };
        let everything = matches!(change, Change::Everything)
            || self.config.is_none()
            || paths.iter().any(|p| p == &root.join(config::CONFIG_FILE));
        (paths, everything)
    }

    /// The pages with their URLs and labels, then the markdown stage over
    /// them; returns the skeleton and the pages whose Markdown was rendered.
    /// A one-off build (`once`) lets go of what only a rebuild would reuse.
    fn markdown(
        &mut self,
        config: Config,
        patch: Option<Vec<Arc<PageInfo>>>,
        once: bool,
        kept: Option<&KeptFacts>,
        errors: &mut Vec<Diagnostic>,
        t: &mut Timings,
    ) -> (Skeleton, Vec<usize>) {
        let (mut skeleton, errs) = t.time("pages", || {
            let previous = self.site.as_mut();
            let patched =
                previous.zip(patch).and_then(|(p, infos)| Skeleton::patch(config.clone(), p, &infos, &self.markdown));
            match patched {
                Some(skeleton) => {
                    let errors = skeleton.shape_errors().to_vec();
                    (skeleton, errors)
                }
                None => {
                    let loaded = self.files.values().filter_map(|f| f.as_ref().ok());
                    let (mut skeleton, errors) = Skeleton::new(
                        config,
                        loaded.map(|f| &f.page),
                        self.options.drafts,
                        self.site.as_mut(),
                        &self.markdown,
                    );
                    skeleton.sources.assets = Arc::new(self.assets.iter().map(|a| rel_string(a)).collect());
                    (skeleton, errors)
                }
            }
        });
        errors.extend(errs);
        let files = &self.files;
        let source_of = |rel: &str| Some(files.get(rel)?.as_ref().ok()?.source.clone());
        let markdown = &mut self.markdown;
        let rendered = t.time("markdown", || skeleton.render_markdown(&source_of, markdown, kept));
        errors.extend(skeleton.markdown_errors().cloned());
        if once {
            // A one-off build validates and renders nothing again: only the
            // sources live on, in each page's Markdown, until it is written.
            self.files.clear();
            self.with_errors.clear();
        }
        (skeleton, rendered)
    }

    /// Loads `site.yaml` and starts afresh: a new configuration can change
    /// every file's meaning. One that does not load leaves nothing to build
    /// on: the next build, whatever changed, must read it again.
    fn configure(&mut self) -> Result<(), Vec<Diagnostic>> {
        let mut config = config::load(&self.options.root).inspect_err(|_| self.config = None)?;
        if let Some(base) = &self.options.base_url {
            config.base_url = config::check_base_url(base).map_err(|m| vec![Diagnostic::file("--base-url", m)])?;
        }
        *self = Engine {
            last_good: std::mem::take(&mut self.last_good),
            content_inputs: std::mem::take(&mut self.content_inputs),
            ..Engine::new(self.options.clone())
        };
        self.config = Some(config);
        Ok(())
    }

    /// The load stage: reads what changed under `content/` (everything, or
    /// the changed Markdown files, or a fresh walk when a folder or another
    /// file changed) and validates each file against the schema as soon as
    /// it is read (see `load_file`).
    fn load(
        &mut self,
        config: &Config,
        paths: &[PathBuf],
        everything: bool,
        recalled: Option<&Recalled>,
        t: &mut Timings,
    ) -> Option<Vec<Arc<PageInfo>>> {
        let content_dir = self.options.root.join(content::CONTENT_DIR);
        let read = t.time("load", || {
            let content_paths: Vec<&PathBuf> = paths.iter().filter(|p| p.starts_with(&content_dir)).collect();
            if everything || content_paths.iter().any(|p| !is_markdown_file_path(p)) {
                // Something other than a Markdown file changed (a folder moved,
                // replaced or created, an asset): walk again, re-reading the
                // changed files, everything under changed folders, and new files.
                for p in &content_paths {
                    let rel = rel_string(p.strip_prefix(&content_dir).unwrap_or(p));
                    let under = format!("{rel}/");
                    self.files.retain(|f, _| *f != rel && !f.starts_with(&under) && !rel.is_empty());
                }
                (self.reload_all(config, recalled), false)
            } else {
                self.reload_some(config, &content_paths)
            }
        });
        let (read, patch) = read;
        let infos = patch.then(|| read.iter().filter_map(|(_, f)| f.as_ref().ok()).map(|f| f.page.clone()).collect());
        self.fresh = read.iter().map(|(rel, _)| rel.clone()).collect();
        for (rel, loaded) in &read {
            match loaded {
                Ok(f) if f.errors.is_empty() => self.with_errors.remove(rel),
                _ => self.with_errors.insert(rel.clone()),
            };
        }
        self.files.extend(read);
        if self.fresh.len() == self.files.len() {
            // Every file was read: whether to hold their text is decided again.
            let text: usize = self.files.values().filter_map(|f| f.as_ref().ok()).map(|f| f.source.body_len()).sum();
            self.let_go_text = text > self.options.hold_text_up_to;
        }
        infos
    }

    /// Lets go of the text of the bodies this build read or rendered: the
    /// site's text is too large to hold (see `let_go_text`). A one-off build
    /// reads each again for its search document and its page; the preview,
    /// when it renders one of them again.
    fn let_go_of_text(&mut self, rendered: &[usize]) {
        let site = self.site.as_ref().expect("kept before");
        let fresh = std::mem::take(&mut self.fresh);
        for rel in &fresh {
            if let Some(Ok(file)) = self.files.get_mut(rel)
                && !file.source.body_let_go()
            {
                file.source = Arc::new(file.source.without_body());
            }
        }
        let pages: HashSet<usize> =
            fresh.iter().filter_map(|rel| site.page_index(rel)).chain(rendered.iter().copied()).collect();
        let files = &self.files;
        pages.par_iter().for_each(|&i| {
            let light = files.get(&site.pages[i].rel).and_then(|f| f.as_ref().ok()).map(|f| &f.source);
            site.pages[i].md.let_go_of_body(light);
        });
    }

    /// Every diagnostic of the walk and of every file, kept with each file:
    /// a walk of the files that have any (at 100,000 pages, walking every
    /// file was a sixth of a save's time).
    fn file_errors(&self) -> Vec<Diagnostic> {
        let mut errors: Vec<Diagnostic> = self.walk_errors.clone();
        for file in self.with_errors.iter().filter_map(|rel| self.files.get(rel)) {
            match file {
                Ok(f) => errors.extend(f.errors.iter().cloned()),
                Err(d) => errors.push(d.clone()),
            }
        }
        errors
    }

    fn forget_errors_of_gone_files(&mut self) {
        let files = &self.files;
        self.with_errors.retain(|rel| files.contains_key(rel));
    }

    /// The render stage over the linked site: the theme's files, what is
    /// copied as it is, the templates, and the outputs (streamed into `sink`
    /// for a one-off build). When the theme or its templates do not load,
    /// every error so far.
    fn render(
        &mut self,
        sink: Option<&dyn Sink>,
        errors: &mut Vec<Diagnostic>,
        t: &mut Timings,
    ) -> Result<(render::RenderedSite, Vec<CopiedFile>), Vec<Diagnostic>> {
        let root = &self.options.root;
        let site = self.site.as_mut().expect("linked before rendering");
        let mut theme_inputs = Inputs::default();
        let files = theme::load(root, &site.config.theme, &mut theme_inputs);
        self.theme_inputs = theme_inputs;
        let files = files.map_err(|d| vec![d])?;
        let content_dir = root.join(content::CONTENT_DIR);
        let mut copies: Vec<CopiedFile> =
            files.statics.iter().map(|(p, o)| CopiedFile { path: p.clone(), from: o.clone() }).collect();
        copies.extend(
            self.assets
                .iter()
                .map(|a| CopiedFile { path: rel_string(a), from: theme::Origin::Disk(content_dir.join(a)) }),
        );
        // A one-off build streams into `sink` and keeps nothing.
        let keep = if self.let_go_text && sink.is_none() {
            self.keep_on_disk.get_or_insert_with(Keep::on_disk).clone()
        } else {
            Keep::default()
        };
        let render_options = render::RenderOptions { inject: self.options.inject.clone(), keep };
        let render_cache = &mut self.render;
        let previous = self.templates.take();
        let rendered = t.time("render", || {
            let targets = render::Targets {
                base_url: &site.config.base_url,
                pages: &site.pages,
                statics: copies.iter().map(|c| c.path.as_str()).collect(),
                site: site.generation,
                patched_from: site.patched.as_ref().map(|p| p.0),
            };
            Templates::load(root, &files, targets, previous).map(|mut templates| {
                let rendered = render::render(site, &mut templates, &render_options, render_cache, sink);
                (rendered, templates)
            })
        });
        let rendered = match rendered {
            Ok((rendered, templates)) => {
                self.templates = Some(templates);
                rendered
            }
            Err(errs) => {
                errors.extend(errs);
                let mut errors = std::mem::take(errors);
                diagnostics::normalize(&mut errors);
                return Err(errors);
            }
        };
        // The search index is made within the render stage: shown apart.
        if let Some((_, render_time)) = t.stages.last_mut() {
            *render_time = render_time.saturating_sub(rendered.search_time);
        }
        t.stages.push(("search", rendered.search_time));
        Ok((rendered, copies))
    }

    /// The outputs that differ from the last good build's, and those it had
    /// that are gone; the last good build becomes this one.
    fn compare_with_last_good(&mut self, rendered: &render::RenderedSite, last: bool) -> (Vec<String>, Vec<String>) {
        let outputs = &rendered.outputs;
        // The last build (`last`) was good and the outputs are at its paths:
        // the render knows which changed.
        if let Some(changed) = rendered.changed.as_ref().filter(|_| last) {
            // The last good outputs with those changed: shared, not copied.
            self.last_good = outputs.clone();
            return (changed.iter().map(|p| p.to_string()).collect(), Vec::new());
        }
        // Both sorted by path: one walk, in step, with no lookups; an output
        // reused from the last build is the same allocation and is not read.
        let (mut changed, mut removed) = (Vec::new(), Vec::new());
        let last = std::mem::replace(&mut self.last_good, outputs.clone());
        let mut last = last.iter().peekable();
        for o in outputs {
            while let Some(gone) = last.next_if(|l| l.path < o.path) {
                removed.push(gone.path.to_string());
            }
            match last.next_if(|l| l.path == o.path) {
                Some(l) if l.bytes.same_as(&o.bytes) || l.bytes == o.bytes => {}
                _ => changed.push(o.path.to_string()),
            }
        }
        removed.extend(last.map(|gone| gone.path.to_string()));
        (changed, removed)
    }

    /// Walks `content/` and reads every Markdown file not already read.
    fn reload_all(&mut self, config: &Config, recalled: Option<&Recalled>) -> Vec<(String, Loaded)> {
        let content::Walk { markdown, assets, inputs, errors } = content::walk(&self.options.root);
        self.assets = assets;
        self.walk_errors = errors;
        self.content_inputs = inputs;
        let wanted: HashSet<String> = markdown.iter().map(|p| rel_string(p)).collect();
        self.files.retain(|rel, _| wanted.contains(rel));
        self.forget_errors_of_gone_files();
        let missing: Vec<&PathBuf> = markdown.iter().filter(|p| !self.files.contains_key(&rel_string(p))).collect();
        let root = &self.options.root;
        let held = Held { text: AtomicUsize::new(0), up_to: self.options.hold_text_up_to };
        missing.par_iter().map(|rel| (rel_string(rel), load_file(root, rel, config, recalled, Some(&held)))).collect()
    }

    /// Re-reads the given Markdown files (absolute paths under `content/`),
    /// and tells whether each was read before and read again, both times
    /// well enough to make a page: then which pages there are may be
    /// unchanged (see `Skeleton::patch`).
    fn reload_some(&mut self, config: &Config, paths: &[&PathBuf]) -> (Vec<(String, Loaded)>, bool) {
        let content_dir = self.options.root.join(content::CONTENT_DIR);
        let mut read = Vec::new();
        let mut same_files = true;
        for path in paths {
            let rel = path.strip_prefix(&content_dir).unwrap_or(path);
            let key = rel_string(rel);
            let was_page = self.files.remove(&key).is_some_and(|f| f.is_ok());
            self.with_errors.remove(&key);
            let ignored = rel.components().any(|c| content::is_ignored_name(&c.as_os_str().to_string_lossy()));
            if path.is_file() && !ignored {
                let loaded = load_file(&self.options.root, rel, config, None, None);
                same_files &= was_page && loaded.is_ok();
                read.push((key, loaded));
            } else {
                same_files = false;
            }
        }
        (read, same_files)
    }
}

/// By default, the most text of bodies a build holds past the link stage,
/// and the preview between builds: beyond it, each body is read again when
/// needed (see `Markdown::let_go_of_body`), which saves memory in
/// proportion to the text and costs about as much time: 3 % of a build at
/// 100,000 pages, where it saves 240 MB. Below it, the memory is not worth
/// the time.
pub const HOLD_TEXT_UP_TO: usize = 64 << 20;

/// The warning of a build for publishing with a relative `base_url`.
fn relative_base_url(base_url: &str) -> Diagnostic {
    let message =
        format!("base_url `{base_url}` is not absolute, so sitemap.xml, atom.xml and canonical links are left out");
    Diagnostic::warning(config::CONFIG_FILE, 0, 0, message)
        .with_hint("set an absolute base_url (https://example.org/) in site.yaml, or pass --base-url")
}

fn is_markdown_file_path(p: &Path) -> bool {
    p.extension().is_some_and(|x| x == "md") && !p.is_dir()
}

/// Frees its value on another thread once it goes out of scope: freeing a
/// large site takes milliseconds that nobody needs to wait for, and doing it
/// after the build keeps it off the cores the build is using.
struct FreeLater<T: Send + 'static>(Option<T>);

impl<T: Send + 'static> Drop for FreeLater<T> {
    fn drop(&mut self) {
        if let Some(value) = self.0.take() {
            std::thread::spawn(move || drop(value));
        }
    }
}

/// The body text a walk of every file holds, up to `Options::hold_text_up_to`:
/// beyond it, each body is let go of once its file is validated, and read
/// again by the markdown stage, so that a large site never holds all its
/// text (at 100,000 pages 0.4 GB, the larger part of a build's peak).
struct Held {
    text: AtomicUsize,
    up_to: usize,
}

impl Held {
    /// Whether a body of `len` bytes is still held.
    fn hold(&self, len: usize) -> bool {
        self.text.fetch_add(len, Ordering::Relaxed) + len <= self.up_to
    }
}

/// A file read and split, with its front matter's diagnostics; or why it could not be read.
type Loaded = Result<FileState, Diagnostic>;

/// A file read and validated at once, so that its YAML tree is let go
/// before most others are read: a large site never holds every tree at
/// once (at 100,000 pages they weighed more than the text).
/// With `held`, a body beyond what it holds is let go of too.
fn load_file(root: &Path, rel: &Path, config: &Config, recalled: Option<&Recalled>, held: Option<&Held>) -> Loaded {
    let (mut source, diagnostics) = content::read_source(root, rel, config, recalled)?;
    let (meta, mut errors) = schema::validate(&source, config);
    // The typed fields replace the YAML tree: let it go.
    source.front = None;
    // A file taken as unchanged was not read: it holds no body.
    if !source.body_let_go() && held.is_some_and(|h| !h.hold(source.body_len())) {
        source.let_go_of_body();
    }
    errors.extend(diagnostics);
    let page = Arc::new(PageInfo::new(config, &source, meta));
    Ok(FileState { source: Arc::new(source), page, errors })
}

/// Two things written to one path: say which, rather than let one win.
/// Kept outputs are sorted, with their paths made twice found by the render.
fn path_collisions(rendered: &render::RenderedSite, copies: &[CopiedFile]) -> Vec<Diagnostic> {
    let kept = &rendered.outputs;
    let mut seen = HashSet::with_capacity_and_hasher(rendered.paths.len() + copies.len(), Default::default());
    let twice =
        rendered.paths.iter().map(|p| &**p).chain(copies.iter().map(|c| c.path.as_str())).filter(|p| !seen.insert(*p));
    let over_kept = copies.iter().map(|c| c.path.as_str()).filter(|p| kept.find(p).is_some());
    rendered
        .duplicates
        .iter()
        .map(|p| &**p)
        .chain(twice)
        .chain(over_kept)
        .map(|p| Diagnostic::file(p, "two pages or files would be written to this output path"))
        .collect()
}

/// Runs every stage once as the preview does, keeping every output in
/// memory and writing nothing: what the tests compare the preview with.
pub fn generate(options: &Options) -> Result<Built, Vec<Diagnostic>> {
    Engine::new(options.clone()).rebuild(&Change::Everything)
}

/// Validates and renders the whole site, writing nothing (`annals check`):
/// streamed like a one-off build, so that it takes a build's memory and
/// time, not the preview's (which keeps every output).
pub fn check(options: &Options) -> Result<Built, Vec<Diagnostic>> {
    Engine::new(options.clone()).build_into(&crate::output::Discard)
}

/// Builds the site and writes it, replacing the output folder only on
/// success. Pages go to the staging folder (the spare, see
/// `output::Staging`) as they are rendered (the render stage includes their
/// writing); the `write` stage copies static files and swaps it in.
pub fn build(options: &Options) -> Result<Built, Vec<Diagnostic>> {
    // As the user wrote it: `-o .` is `.`, not an empty path.
    let shown = options.output.clone();
    let refuse = |m: String| vec![Diagnostic::file(&shown, m)];
    let out = crate::output::check_output_dir(&options.root, &options.output, options.force)
        .map_err(|e| refuse(e.to_string()))?;
    let io_error = |e: std::io::Error| refuse(format!("cannot write the site: {e}"));
    let started = Instant::now();
    let staging = Staging::new(&out).map_err(io_error)?;
    let staging = if options.fresh { staging.fresh() } else { staging };
    let prepared = started.elapsed();
    // Freed once this function returns, after the commit: freed while it
    // ran, a large site took the other core from it (at 100,000 pages, the
    // lists of files took 460 ms to make instead of 300).
    let mut engine = FreeLater(Some(Engine::new(options.clone())));
    let engine = engine.0.as_mut().expect("made above");
    let mut built = engine.run(&Change::Everything, Some(&staging))?;
    let t = &mut built.timings;
    t.add("prepare", prepared);
    t.time("write", || staging.copy(&built.copies).and_then(|()| staging.commit())).map_err(io_error)?;
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{Bytes, Output};

    #[test]
    fn two_things_written_to_one_path_are_each_reported_once() {
        let copy = |p: &str| CopiedFile { path: p.into(), from: theme::Origin::Embedded("x", b"") };
        let paths: Vec<Arc<str>> = vec!["index.html".into(), "style.css".into()];
        // Streamed (paths) or kept (sorted outputs): the same answers.
        let streamed = render::RenderedSite { paths: paths.clone(), ..Default::default() };
        let outputs = paths.iter().map(|p| Output { path: p.clone(), bytes: Bytes::plain([]) }).collect();
        let kept = render::RenderedSite { outputs: Outputs::new(outputs), ..Default::default() };
        for rendered in [&streamed, &kept] {
            let found = path_collisions(rendered, &[copy("style.css"), copy("a.png")]);
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].path, Path::new("style.css"));
            assert!(path_collisions(rendered, &[copy("a.png")]).is_empty());
            assert_eq!(path_collisions(rendered, &[copy("a.png"), copy("a.png")]).len(), 1);
        }
    }

    #[test]
    fn relative_paths_join_with_slashes() {
        assert_eq!(rel_string(Path::new("studies/chart.png")), "studies/chart.png");
        assert!(is_markdown_file_path(Path::new("/no/such/dir/a.md")));
        assert!(!is_markdown_file_path(Path::new("/no/such/dir/a.png")));
    }
}
