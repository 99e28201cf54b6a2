//! The linked site: every page with its URL, rendered Markdown, resolved
//! references, backlinks, taxonomies and previous/next. Built in two steps
//! around the markdown stage: `Skeleton` knows every URL and citation label
//! (enough to render Markdown), `Site` adds the relations, and is frozen.
//!
//! This file: the data model and the skeleton (pages, URLs, citation
//! labels). `resolve`: the markdown stage over the skeleton, and the
//! `Resolver` of links and citations. `link`: the link stage.

// These imports are also the sub-modules' (`use super::*`).
use rayon::prelude::*;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::config::{Citations, Config};
use crate::content::{Kind, Source, section_rel};
use crate::diagnostics::{Diagnostic, Note};
use crate::field::{FieldValue, Reference, SortKey};
use crate::markdown::{self, Locator, Produce, Rendered, Resolve, Unresolved};
use crate::names::suggest;
use crate::schema::Meta;
use tera::Value;

mod link;
mod resolve;

use link::*;
pub use resolve::{FACTS, KeptFacts, Resolver, StoredFacts};

/// One page of the site, whatever produced it: what its own file says of
/// it (shared, see [`PageInfo`]) and what the rest of the site decides (its
/// title when it has none, its label's suffix, its rendered Markdown).
#[derive(Debug, Clone)]
pub struct Page {
    info: Arc<PageInfo>,
    pub title: String,
    /// Author-year label, for entries of the citation collection.
    pub citation: Option<String>,
    /// The rendered Markdown, shared with the incremental cache.
    pub md: Arc<Markdown>,
}

/// What a page's file says of it, made once, when the file is read: a
/// rebuild's pages share it until the file changes, rather than each build
/// making every page's URL and label again.
#[derive(Debug)]
pub struct PageInfo {
    pub kind: Kind,
    /// `content/...` path for errors; empty for pages annals generates.
    pub file: PathBuf,
    /// Path under `content/` (`studies/zarate-2006.md`), the key of `@/` links.
    pub rel: String,
    pub id: String,
    pub collection: Option<String>,
    /// Path under the output folder, without `index.html`: `studies/zarate-2006/`.
    pub path: String,
    /// `base_url` + `path`.
    pub url: String,
    /// The file written for the page: `path` + `index.html`.
    pub output: Arc<str>,
    pub description: Option<String>,
    pub template: Option<String>,
    pub draft: bool,
    /// See [`Meta::invalid`]: not rendered, not listed.
    pub invalid: bool,
    pub fields: Arc<BTreeMap<String, FieldValue>>,
    /// The title the front matter gives, or empty.
    title: String,
    /// The author-year label before any `a`/`b` suffix, for citable entries.
    label: Option<String>,
    /// The file's Markdown as last rendered: reused while what its links and
    /// citations resolve to is unchanged (see `render_markdown`).
    rendered: Mutex<Option<Arc<Markdown>>>,
}

impl std::ops::Deref for Page {
    type Target = PageInfo;

    fn deref(&self) -> &PageInfo {
        &self.info
    }
}

impl Page {
    /// The page of `info`, with its Markdown as last rendered, else `md`.
    fn new(info: Arc<PageInfo>, md: &Arc<Markdown>) -> Page {
        let md = info.rendered().unwrap_or_else(|| md.clone());
        Page { title: info.title.clone(), citation: info.label.clone(), md, info }
    }

    /// Lets go of the page's typed fields (for `none`), of the Markdown
    /// facts that only the link stage reads and of the front matter's text
    /// that only its diagnostics quote, once a one-off build has made its
    /// card: the card shows the fields, and writing the page reads its
    /// body again, headings included (see `Markdown::body`). Only a record
    /// this page alone holds can (the engine of a one-off build lets go of
    /// its own records first); the Markdown of a generated page, shared and
    /// empty, stays. Whether the fields were let go of.
    pub fn let_go_after_card(&mut self, none: &Arc<BTreeMap<String, FieldValue>>) -> bool {
        let Some(info) = Arc::get_mut(&mut self.info) else { return false };
        info.fields = none.clone();
        // The record's hold on the Markdown, kept for a next build there is not.
        *info.rendered.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
        if let Some(md) = Arc::get_mut(&mut self.md) {
            md.content = Rendered::default();
            md.deps = Vec::new();
            let source = md.source.get_mut().unwrap_or_else(|e| e.into_inner());
            if let Some(source) = source.as_mut().and_then(Arc::get_mut) {
                source.let_go_of_head();
            }
        }
        true
    }
}

impl PageInfo {
    /// Whether annals made the page (a section without `_index.md`).
    pub fn is_generated(&self) -> bool {
        self.file.as_os_str().is_empty()
    }

    fn rendered(&self) -> Option<Arc<Markdown>> {
        self.rendered.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn keep_rendered(&self, md: Arc<Markdown>) {
        *self.rendered.lock().unwrap_or_else(|e| e.into_inner()) = Some(md);
    }
}

/// A page's Markdown, rendered: the facts of its body, `text` fields, the
/// errors found, and what it was resolved against (to know when it must be
/// rendered again). The body's HTML is made when the page is written.
#[derive(Debug, Default)]
pub struct Markdown {
    /// Everything but the HTML (see [`Produce::Facts`]), and the summary,
    /// which is moved to `summary`.
    pub content: Rendered,
    /// The summary and the `text` fields (by name) as the template values
    /// that every card of the page shares, rather than copies of them: a
    /// large site holds them all at once. `None` when empty.
    pub summary: Option<Value>,
    pub text_fields: Vec<(String, Value)>,
    /// The file the body comes from; `None` for generated pages, and once
    /// a one-off build has written the page (see [`Markdown::release`]).
    source: Mutex<Option<Arc<Source>>>,
    /// Why the body let go of could not be read again (see `let_go_of_body`);
    /// boxed, as it is rare and every page has the slot.
    unread: Mutex<Option<Box<Diagnostic>>>,
    pub errors: Vec<Diagnostic>,
    /// Every page this Markdown links to or cites, and a fingerprint of
    /// what it knew of them (see [`Resolver::facts`]).
    deps: Vec<String>,
    facts: u64,
}

/// What the markdown stage keeps between builds besides each file's own
/// rendering (see [`PageInfo::rendered`]).
#[derive(Default)]
pub struct MarkdownCache {
    /// The Markdown of generated pages (sections without `_index.md`): one
    /// value across builds, so that their outputs can be reused.
    empty: Arc<Markdown>,
    /// The skeleton's `facts_fingerprint` when the pages were checked.
    facts: u64,
}

/// Pages that point at a page, by the way they point.
#[derive(Debug, Clone, Default)]
pub struct Backlinks {
    /// Per reference field, by name, the entries whose field names this
    /// page. (A list, not a map: pages have one or two such fields.)
    pub referenced_by: Vec<(String, Vec<usize>)>,
    pub cited_by: Vec<usize>,
    pub linked_from: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct Taxonomy {
    pub name: String,
    pub path: String,
    pub url: String,
    pub terms: Vec<Term>,
    /// A fingerprint of its outline: its name, and each term's name and
    /// count (see `render`'s term pages, which show the outline).
    pub outline: u64,
}

#[derive(Debug, Clone)]
pub struct Term {
    pub name: String,
    pub slug: String,
    pub path: String,
    pub url: String,
    pub pages: Vec<usize>,
}

impl Markdown {
    /// The file the body comes from, with its Markdown as written; `None`
    /// for generated pages.
    pub fn source(&self) -> Option<Arc<Source>> {
        let held = self.source.lock().unwrap_or_else(|e| e.into_inner()).clone()?;
        match held.whole() {
            Ok(whole) => Some(whole),
            Err(unread) => {
                *self.unread.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(unread));
                None
            }
        }
    }

    /// What the body's HTML is made from, besides the configuration: a
    /// hash of its file's text (`None` for a generated page) and of what its
    /// links and citations resolved to. Read before the page is written.
    pub fn made_from(&self) -> (Option<u64>, u64) {
        let held = self.source.lock().unwrap_or_else(|e| e.into_inner());
        (held.as_ref().map(|s| s.text_hash()), self.facts)
    }

    /// Lets go of the body's text, which `source` then reads again from the
    /// file: a build of a large site does once the link stage is done, so
    /// that the text of every page is not held while the search index and
    /// the pages are made (nor, in the preview, between builds). `light`,
    /// the file's source already without its body, is shared if it is of
    /// the same text.
    pub fn let_go_of_body(&self, light: Option<&Arc<Source>>) {
        let mut held = self.source.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(source) = held.as_mut().filter(|s| !s.body_let_go()) {
            *source = match light {
                Some(light) if light.body_let_go() && light.same_text(source) => light.clone(),
                _ => Arc::new(source.without_body()),
            };
        }
    }

    /// Why the body could not be read again, if it could not: the page must
    /// not be published without it.
    pub fn unread(&self) -> Option<Diagnostic> {
        self.unread.lock().unwrap_or_else(|e| e.into_inner()).as_deref().cloned()
    }

    /// Forgets that the body could not be read: the preview does before it
    /// renders the page again, which reads it again (the file may have been
    /// put back as first read; any other change brings a new `Markdown`).
    pub fn forget_unread(&self) {
        *self.unread.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Lets go of the source: a one-off build does, once the page is
    /// written, so that a large site's text is not all held to the end.
    pub fn release(&self) {
        *self.source.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The body's HTML and facts, made from the source each time they are
    /// needed: the preview does not keep the HTML (at 100,000 pages it
    /// weighed 1.2 GB), and a page is rendered again mostly when its own
    /// text changed. Its headings are the markdown stage's, from the same
    /// text, which a one-off build need not keep (see `let_go_after_card`).
    /// Errors are not collected again: the markdown stage found them in the
    /// same text against the same pages.
    pub fn body(&self, file: &Path, resolver: &Resolver) -> Rendered {
        let Some(source) = self.source() else { return Rendered::default() };
        let locate = |offset: usize| source.locate(offset);
        let locator = Locator { file, locate: &locate };
        markdown::render(&source.body, &locator, resolver, &mut Vec::new(), Produce::Html)
    }
}

/// What each path under `content/` is, for links and citations to resolve
/// against: a page, a source left out as a draft, or a file copied as it is.
#[derive(Default)]
pub struct Sources {
    by_rel: HashMap<String, usize>,
    /// Sources left out as drafts, so a link to one can say so.
    drafts: HashSet<String>,
    /// Files of `content/` copied as they are (paths under `content/`),
    /// which links beside the Markdown may point at.
    pub assets: Arc<HashSet<String>>,
}

/// Pages with URLs and labels, before Markdown.
pub struct Skeleton {
    pub config: Config,
    pub pages: Vec<Page>,
    pub sources: Sources,
    /// The errors of which pages there are (see `index`).
    shape_errors: Vec<Diagnostic>,
    /// The pages whose Markdown has diagnostics, by index.
    md_errors: Vec<usize>,
    /// What changed since the last build, when only some pages did.
    delta: Option<Delta>,
}

/// How the pages differ from the last build's when files were edited and
/// still make the same pages with the same labels: the later stages then
/// check the pages replaced, not all of them.
struct Delta {
    /// Each page replaced, by index, as it was.
    replaced: Vec<(usize, Page)>,
    /// The last build's site.
    generation: u64,
    /// The last build's relations and landscape.
    graph: Arc<Graph>,
    landscape: u64,
}

/// A new site's generation (see [`Site::generation`]).
fn next_generation() -> u64 {
    static LAST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    LAST.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
}

/// The finished site that rendering borrows: immutable, but for what a
/// one-off build's render lets go of (see `Page::let_go_after_card`).
pub struct Site {
    pub config: Config,
    pub pages: Vec<Page>,
    sources: Sources,
    pub graph: Arc<Graph>,
    /// A fingerprint of what pages show of each other (see `link::landscape`).
    pub landscape: u64,
    shape_errors: Vec<Diagnostic>,
    md_errors: Vec<usize>,
    /// Tells this site from every other of the process.
    pub generation: u64,
    /// When this site is the site of generation `.0` with the pages `.1`
    /// (sorted) replaced, and the rest unchanged: a stage that kept what it
    /// made for that site redoes only those pages.
    pub patched: Option<(u64, Vec<usize>)>,
}

/// The relations between pages that the link stage works out, with the
/// errors it found. A rebuild reuses them when no page's relations changed.
#[derive(Default)]
pub struct Graph {
    /// Collection name → entry id → index.
    entries: HashMap<String, HashMap<String, usize>>,
    /// Collection name → its entries, sorted.
    pub collections: BTreeMap<String, Vec<usize>>,
    pub taxonomies: Vec<Taxonomy>,
    pub backlinks: Vec<Backlinks>,
    /// Per page, the entries it cites, in order of first citation.
    pub cites: Vec<Vec<usize>>,
    pub prev: Vec<Option<usize>>,
    pub next: Vec<Option<usize>>,
    errors: Vec<Diagnostic>,
}

impl Skeleton {
    /// The pages of `infos` (see [`PageInfo::new`]), leaving out drafts
    /// unless asked. While the same files make the same pages as in
    /// `previous` (the last build's site), what depends on which pages there
    /// are (the index by path, shared URLs and ids) is taken from it.
    pub fn new<'a>(
        config: Config,
        infos: impl Iterator<Item = &'a Arc<PageInfo>>,
        include_drafts: bool,
        previous: Option<&mut Site>,
        cache: &MarkdownCache,
    ) -> (Skeleton, Vec<Diagnostic>) {
        let mut drafts = HashSet::default();
        let empty = &cache.empty;
        let mut pages: Vec<Page> = Vec::with_capacity(infos.size_hint().0 + config.collections.len() + 1);
        for info in infos {
            if include_drafts || !info.draft {
                pages.push(Page::new(info.clone(), empty));
            } else {
                drafts.insert(info.rel.clone());
            }
        }
        pages.sort_by(|a, b| a.rel.cmp(&b.rel));
        // Every collection and the home page get a section, written or not.
        let mut implicit = vec![(String::new(), config.title.clone())];
        implicit.extend(config.collections.iter().map(|c| (c.folder.clone(), capitalize(&c.name))));
        implicit.retain(|(folder, _)| pages.binary_search_by(|p| p.rel.as_str().cmp(&section_rel(folder))).is_err());
        pages.extend(
            implicit.into_iter().map(|(folder, title)| Page::new(generated_section(&config, folder, title), empty)),
        );
        pages.sort_by(|a, b| a.rel.cmp(&b.rel));
        let (by_rel, shape_errors) = match previous.filter(|p| same_pages(p, &pages, &drafts)) {
            Some(p) => (std::mem::take(&mut p.sources.by_rel), p.shape_errors.clone()),
            None => index(&pages, config.citations.as_ref()),
        };
        let mut skeleton = Skeleton {
            config,
            pages,
            sources: Sources { by_rel, drafts, assets: Arc::default() },
            shape_errors,
            md_errors: Vec::new(),
            delta: None,
        };
        skeleton.label_citations();
        let errors = skeleton.shape_errors.clone();
        (skeleton, errors)
    }

    /// The last build's pages with those of `infos` (files read again) put
    /// in: `None` unless each is the page of a file that made a page before,
    /// as a draft or not, valid or not, as before, with the same label. Which pages there
    /// are, their URLs and labels are then the last build's, and so are
    /// the errors of which pages there are.
    pub fn patch(config: Config, previous: &mut Site, infos: &[Arc<PageInfo>], cache: &MarkdownCache) -> Option<Self> {
        let mut at = Vec::with_capacity(infos.len());
        for info in infos {
            let &i = previous.sources.by_rel.get(&info.rel)?;
            let old = &previous.pages[i];
            if old.draft != info.draft || old.invalid != info.invalid || old.label != info.label || at.contains(&i) {
                return None;
            }
            at.push(i);
        }
        let mut pages = std::mem::take(&mut previous.pages);
        let mut replaced = Vec::with_capacity(at.len());
        for (&i, info) in at.iter().zip(infos) {
            let mut page = Page::new(info.clone(), &cache.empty);
            page.citation = pages[i].citation.clone();
            if let Some(label) = page.citation.as_ref().filter(|_| page.title.is_empty()) {
                page.title = label.clone();
            }
            replaced.push((i, std::mem::replace(&mut pages[i], page)));
        }
        replaced.sort_unstable_by_key(|&(i, _)| i);
        let delta = Delta {
            replaced,
            generation: previous.generation,
            graph: previous.graph.clone(),
            landscape: previous.landscape,
        };
        Some(Skeleton {
            config,
            pages,
            sources: std::mem::take(&mut previous.sources),
            shape_errors: previous.shape_errors.clone(),
            md_errors: std::mem::take(&mut previous.md_errors),
            delta: Some(delta),
        })
    }

    /// The errors of which pages there are.
    pub fn shape_errors(&self) -> &[Diagnostic] {
        &self.shape_errors
    }

    /// Suffixes the year of citable works that would share a label (2010a,
    /// 2010b), and titles an entry without a title by its label. An entry
    /// with neither authors nor year has no label and cannot be cited.
    fn label_citations(&mut self) {
        if self.config.citations.is_none() {
            return;
        }
        self.suffix_shared_labels();
        for page in self.pages.iter_mut().filter(|p| p.title.is_empty()) {
            if let Some(label) = &page.citation {
                page.title = label.clone();
            }
        }
    }

    /// Same label for several works: their years get `a`, `b`, … by id
    /// order, as author-year styles do (2010a, 2010b).
    fn suffix_shared_labels(&mut self) {
        // Most labels are unique: only those seen twice are grouped.
        let mut first: HashMap<&str, usize> = HashMap::default();
        let mut shared: Vec<usize> = Vec::new();
        for (i, p) in self.pages.iter().enumerate() {
            if let Some(label) = &p.citation {
                if let Some(&j) = first.get(label.as_str()) {
                    shared.extend([i, j]);
                } else {
                    first.insert(label, i);
                }
            }
        }
        let pages = &self.pages;
        shared.sort_unstable_by(|&a, &b| (&pages[a].citation, &pages[a].id).cmp(&(&pages[b].citation, &pages[b].id)));
        shared.dedup();
        // Each work's place among those with its label, before any is suffixed.
        let mut place = vec![0; shared.len()];
        for k in 1..shared.len() {
            if pages[shared[k - 1]].citation == pages[shared[k]].citation {
                place[k] = place[k - 1] + 1;
            }
        }
        for (&i, n) in shared.iter().zip(place) {
            if let Some(label) = &mut self.pages[i].citation {
                label.push_str(&year_suffix(n));
            }
        }
    }
}

/// Whether `pages` are the pages of `previous`, by path, with the same drafts left out.
fn same_pages(previous: &Site, pages: &[Page], drafts: &HashSet<String>) -> bool {
    previous.pages.len() == pages.len()
        && previous.sources.drafts == *drafts
        && previous.pages.iter().zip(pages).all(|(a, b)| Arc::ptr_eq(&a.info, &b.info) || a.rel == b.rel)
}

/// The pages by path under `content/`, and the errors of which pages there
/// are: two with one URL, and (ids must be unique across the citable
/// collections, or `[@id]` would be ambiguous) two citable entries with one id.
fn index(pages: &[Page], citations: Option<&Citations>) -> (HashMap<String, usize>, Vec<Diagnostic>) {
    let mut errors = Vec::new();
    let mut by_rel = HashMap::with_capacity_and_hasher(pages.len(), Default::default());
    let mut by_path: HashMap<&str, usize> = HashMap::with_capacity_and_hasher(pages.len(), Default::default());
    for (i, p) in pages.iter().enumerate() {
        by_rel.insert(p.rel.clone(), i);
        if let Some(&j) = by_path.get(p.path.as_str()) {
            let other = &pages[j].file;
            errors.push(
                Diagnostic::file(
                    &p.file,
                    format!("this page's URL `/{}` is also the URL of {}", p.path, other.display()),
                )
                .with_note(Note::new(other, 0, 0, "the other page with this URL")),
            );
        } else {
            by_path.insert(&p.path, i);
        }
    }
    if let Some(c) = citations {
        errors.extend(shared_citable_ids(pages, c));
    }
    (by_rel, errors)
}

/// An error for each citable entry whose id another citable entry has.
fn shared_citable_ids(pages: &[Page], c: &Citations) -> Vec<Diagnostic> {
    let mut by_id: HashMap<&str, usize> = HashMap::default();
    let mut errors = Vec::new();
    for (i, p) in pages.iter().enumerate().filter(|(_, p)| is_citable(p, c)) {
        let Some(&j) = by_id.get(p.id.as_str()) else {
            by_id.insert(&p.id, i);
            continue;
        };
        let first = &pages[j];
        errors.push(
            Diagnostic::file(
                &p.file,
                format!(
                    "`{}` is also the id of {}: `[@{}]` could cite either, so ids must be unique across the citable collections ({})",
                    p.id,
                    first.file.display(),
                    p.id,
                    crate::names::quoted_list(&c.collections)
                ),
            )
            .with_note(Note::new(&first.file, 0, 0, format!("the other entry with id `{}`", p.id)))
            .with_hint("rename one of the two files"),
        );
    }
    errors
}

fn is_citable(page: &PageInfo, c: &Citations) -> bool {
    page.collection.as_ref().is_some_and(|name| c.collections.contains(name))
}

/// `Zarate et al., 2006` from the entry's fields, before any `a`/`b`
/// suffix; `None` for an entry with neither authors nor year.
fn citation_label(page: &PageInfo, c: &Citations) -> Option<String> {
    let authors: Vec<&str> = page.fields.get(&c.authors).map(FieldValue::terms).unwrap_or_default();
    let year = page.fields.get(&c.year).and_then(FieldValue::year);
    if authors.is_empty() && year.is_none() {
        return None;
    }
    let et_al = c.et_al.as_ref().is_some_and(|f| page.fields.get(f) == Some(&FieldValue::Bool(true)));
    let fallback = if page.title.is_empty() { &page.id } else { &page.title };
    Some(format!("{}, {}", author_names(&authors, et_al, fallback), year.as_deref().unwrap_or("n.d.")))
}

/// The authors as a label names them: one, two joined by "and", else the
/// first "et al." (also when the list is marked incomplete); without
/// authors, `fallback` (the work's title, else its id).
fn author_names(authors: &[&str], et_al: bool, fallback: &str) -> String {
    match (authors, et_al) {
        ([], _) => fallback.to_string(),
        ([one], false) => one.to_string(),
        ([a, b], false) => format!("{a} and {b}"),
        ([first, ..], _) => format!("{first} et al."),
    }
}

impl Page {
    /// `d` with the lines it points at in this page's file quoted.
    fn quoted(&self, mut d: Diagnostic) -> Diagnostic {
        if let Some(source) = self.md.source() {
            source.quote(std::slice::from_mut(&mut d));
        }
        d
    }
}

impl Site {
    /// The index of the page at `rel` (path under `content/`).
    pub fn page_index(&self, rel: &str) -> Option<usize> {
        self.sources.by_rel.get(rel).copied()
    }

    /// Resolves `@/` links and citations, as the markdown stage did.
    pub fn resolver(&self) -> Resolver<'_> {
        Resolver { config: &self.config, pages: &self.pages, sources: &self.sources }
    }

    /// The pages replaced since the site of `generation`, if this site is
    /// that one with only those pages replaced.
    pub fn patched_from(&self, generation: u64) -> Option<&[usize]> {
        self.patched.as_ref().filter(|p| p.0 == generation).map(|p| p.1.as_slice())
    }

    /// The index of entry `id` of `collection`.
    pub fn entry_index(&self, collection: &str, id: &str) -> Option<usize> {
        self.graph.entries.get(collection)?.get(id).copied()
    }
}

impl PageInfo {
    /// What `source` and its validated front matter say of the page.
    pub fn new(config: &Config, source: &Source, meta: Meta) -> PageInfo {
        let (collection, path) = match &source.kind {
            Kind::Entry { collection } => {
                let folder = &config.collection(collection).expect("entry of a configured collection").folder;
                (Some(collection.clone()), format!("{folder}/{}/", source.id))
            }
            Kind::Section => (None, section_path(&source.id)),
            Kind::Page => (None, format!("{}/", source.rel.trim_end_matches(".md"))),
        };
        let mut info = PageInfo {
            url: format!("{}{}", config.base_url, path),
            output: format!("{path}index.html").into(),
            path,
            kind: source.kind.clone(),
            file: source.file.clone(),
            rel: source.rel.clone(),
            id: source.id.clone(),
            collection,
            title: meta.title.unwrap_or_default(),
            description: meta.description,
            template: meta.template.map(|t| t.value),
            draft: meta.draft,
            invalid: meta.invalid,
            fields: meta.fields,
            label: None,
            rendered: Mutex::default(),
        };
        if let Some(c) = config.citations.as_ref().filter(|c| is_citable(&info, c)) {
            info.label = citation_label(&info, c);
        }
        info
    }
}

/// The section page of a folder that has no `_index.md`.
fn generated_section(config: &Config, folder: String, title: String) -> Arc<PageInfo> {
    let path = section_path(&folder);
    Arc::new(PageInfo {
        kind: Kind::Section,
        file: PathBuf::new(),
        rel: section_rel(&folder),
        id: folder,
        collection: None,
        url: format!("{}{path}", config.base_url),
        output: format!("{path}index.html").into(),
        path,
        title,
        description: None,
        template: None,
        draft: false,
        invalid: false,
        fields: Arc::default(),
        label: None,
        rendered: Mutex::default(),
    })
}

fn section_path(folder: &str) -> String {
    if folder.is_empty() { String::new() } else { format!("{folder}/") }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// The letter that tells apart works with the same author-year label, by
/// position: `a` to `z`, then `aa`, `ab`, … as author-year styles continue.
fn year_suffix(n: usize) -> String {
    let mut letters = Vec::new();
    let mut n = n + 1;
    while n > 0 {
        n -= 1;
        letters.push(char::from(b'a' + (n % 26) as u8));
        n /= 26;
    }
    letters.iter().rev().collect()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    const SITE: &str = "title: T\ncitations: {collection: [studies, works], authors: authors, year: year, et_al: et_al}\ncollections:\n  studies:\n    sort_by: year\n    fields:\n      authors: {type: list, of: string}\n      year: {type: integer}\n      et_al: {type: boolean}\n  works:\n    fields:\n      authors: {type: list, of: string}\n      year: {type: integer}\n      et_al: {type: boolean}\n";

    /// What the file of an entry of `collection` with `fields` says.
    pub(in crate::site) fn entry_info(collection: &str, id: &str, fields: Vec<(&str, FieldValue)>) -> PageInfo {
        PageInfo {
            kind: Kind::Entry { collection: collection.into() },
            file: format!("content/{collection}/{id}.md").into(),
            rel: format!("{collection}/{id}.md"),
            id: id.into(),
            collection: Some(collection.into()),
            path: format!("{collection}/{id}/"),
            url: format!("/{collection}/{id}/"),
            output: format!("{collection}/{id}/index.html").into(),
            title: String::new(),
            description: None,
            template: None,
            draft: false,
            invalid: false,
            fields: Arc::new(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
            label: None,
            rendered: Mutex::default(),
        }
    }

    /// An entry of `collection` with `fields`, as the skeleton makes it.
    pub(in crate::site) fn entry(collection: &str, id: &str, fields: Vec<(&str, FieldValue)>) -> Page {
        Page::new(Arc::new(entry_info(collection, id, fields)), &Arc::default())
    }

    fn work(collection: &str, id: &str, authors: &[&str], year: Option<i64>) -> PageInfo {
        let mut fields =
            vec![("authors", FieldValue::List(authors.iter().map(|a| FieldValue::Str(a.to_string())).collect()))];
        fields.extend(year.map(|y| ("year", FieldValue::Int(y))));
        entry_info(collection, id, fields)
    }

    /// The works' pages, labelled as a build labels them.
    fn labelled(works: Vec<PageInfo>) -> (Vec<Page>, Vec<Diagnostic>) {
        let config = crate::config::parse(SITE).unwrap();
        let c = config.citations.clone().unwrap();
        let pages = works
            .into_iter()
            .map(|mut info| {
                info.label = citation_label(&info, &c);
                Page::new(Arc::new(info), &Arc::default())
            })
            .collect();
        let mut skeleton = Skeleton {
            config,
            pages,
            sources: Sources::default(),
            shape_errors: Vec::new(),
            md_errors: Vec::new(),
            delta: None,
        };
        skeleton.label_citations();
        let errors = shared_citable_ids(&skeleton.pages, skeleton.config.citations.as_ref().unwrap());
        (skeleton.pages, errors)
    }

    #[test]
    fn labels_name_one_two_or_the_first_author_and_the_year() {
        let mut flagged = work("studies", "d", &["Dee"], Some(2004));
        Arc::make_mut(&mut flagged.fields).insert("et_al".into(), FieldValue::Bool(true));
        let (pages, errors) = labelled(vec![
            work("studies", "a", &["Ay"], Some(2001)),
            work("studies", "b", &["Ay", "Bee"], Some(2002)),
            work("studies", "c", &["Ay", "Bee", "Cee"], Some(2003)),
            flagged,
            work("works", "e", &[], Some(2005)),
            work("works", "f", &["Eff"], None),
            work("works", "g", &[], None),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        let labels: Vec<Option<&str>> = pages.iter().map(|p| p.citation.as_deref()).collect();
        assert_eq!(
            labels,
            [
                Some("Ay, 2001"),
                Some("Ay and Bee, 2002"),
                Some("Ay et al., 2003"),
                Some("Dee et al., 2004"),
                Some("e, 2005"),
                Some("Eff, n.d."),
                None,
            ]
        );
        // An entry without a title is titled by its label.
        assert_eq!(pages[0].title, "Ay, 2001");
        assert_eq!(pages[6].title, "");
    }

    #[test]
    fn equal_labels_get_letters_by_id_past_z() {
        let ids: Vec<String> = (0..28).map(|n| format!("w-{n:02}")).collect();
        let mut pages: Vec<PageInfo> = ids.iter().rev().map(|id| work("works", id, &["Same"], Some(2010))).collect();
        pages.push(work("studies", "other", &["Same"], Some(2011)));
        let (pages, _) = labelled(pages);
        let label = |id: &str| pages.iter().find(|p| p.id == id).and_then(|p| p.citation.clone()).unwrap();
        assert_eq!(label("w-00"), "Same, 2010a");
        assert_eq!(label("w-25"), "Same, 2010z");
        assert_eq!(label("w-26"), "Same, 2010aa");
        assert_eq!(label("w-27"), "Same, 2010ab");
        assert_eq!(label("other"), "Same, 2011");
    }

    #[test]
    fn an_id_in_two_citable_collections_is_an_error_naming_both() {
        let (_, errors) =
            labelled(vec![work("studies", "x", &["A"], Some(2000)), work("works", "x", &["B"], Some(2001))]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, Path::new("content/works/x.md"));
        assert!(errors[0].message.starts_with("`x` is also the id of content/studies/x.md"), "{}", errors[0]);
        assert_eq!(errors[0].notes()[0].path, Path::new("content/studies/x.md"));
    }

    #[test]
    fn year_suffixes_go_on_past_z() {
        let suffixes: Vec<String> = [0, 1, 25, 26, 27, 51, 52, 701, 702].into_iter().map(year_suffix).collect();
        assert_eq!(suffixes, ["a", "b", "z", "aa", "ab", "az", "ba", "zz", "aaa"]);
    }
}
