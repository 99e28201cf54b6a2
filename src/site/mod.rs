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
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

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
pub use resolve::Resolver;

/// One page of the site, whatever produced it.
#[derive(Debug, Clone)]
pub struct Page {
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
    pub title: String,
    pub description: Option<String>,
    pub template: Option<String>,
    pub draft: bool,
    /// See [`Meta::invalid`]: not rendered, not listed.
    pub invalid: bool,
    pub fields: Arc<BTreeMap<String, FieldValue>>,
    /// Author-year label, for entries of the citation collection.
    pub citation: Option<String>,
    /// The rendered Markdown, shared with the incremental cache.
    pub md: Arc<Markdown>,
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
    /// The body's HTML, once made and kept.
    html: OnceLock<String>,
    pub errors: Vec<Diagnostic>,
    /// Every page this Markdown links to or cites, and a fingerprint of
    /// what it knew of them (see [`Resolver::facts`]).
    deps: Vec<String>,
    facts: u64,
}

/// Rendered Markdown kept between builds, by path under `content/`.
#[derive(Default)]
pub struct MarkdownCache {
    entries: HashMap<String, (Arc<Source>, String, Arc<Markdown>)>,
    /// The Markdown of generated pages (sections without `_index.md`): one
    /// value across builds, so that their outputs can be reused.
    empty: Arc<Markdown>,
    /// The skeleton's `facts_fingerprint` when the entries were checked.
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
        self.source.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Lets go of the source: a one-off build does, once the page is
    /// written, so that a large site's text is not all held to the end.
    pub fn release(&self) {
        *self.source.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The body's HTML, made now from the source, or as kept from before.
    /// With `keep` it is kept for next time. Errors are not collected again:
    /// the markdown stage found them in the same text against the same pages.
    pub fn body_html(&self, file: &Path, resolver: &Resolver, keep: bool) -> Cow<'_, str> {
        if let Some(html) = self.html.get() {
            return Cow::Borrowed(html);
        }
        let Some(source) = self.source() else { return Cow::Borrowed("") };
        let make = || {
            let locate = |offset: usize| source.locate(offset);
            let locator = Locator { file, locate: &locate };
            markdown::render(&source.body, &locator, resolver, &mut Vec::new(), Produce::Html).html
        };
        if keep { Cow::Borrowed(self.html.get_or_init(make)) } else { Cow::Owned(make()) }
    }
}

/// Pages with URLs and labels, before Markdown.
pub struct Skeleton {
    pub config: Config,
    pub pages: Vec<Page>,
    by_rel: HashMap<String, usize>,
    /// Sources left out as drafts, so a link to one can say so.
    drafts: HashSet<String>,
    /// Files of `content/` copied as they are (paths under `content/`),
    /// which links beside the Markdown may point at.
    pub assets: Arc<HashSet<String>>,
}

/// The finished, immutable site that rendering borrows.
pub struct Site {
    pub config: Config,
    pub pages: Vec<Page>,
    pub by_rel: HashMap<String, usize>,
    drafts: HashSet<String>,
    assets: Arc<HashSet<String>>,
    pub graph: Arc<Graph>,
    /// A fingerprint of what pages show of each other (see `link::landscape`).
    pub landscape: u64,
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
    /// Turns validated sources into pages, leaving out drafts unless asked.
    pub fn new<'a>(
        config: Config,
        sources: impl Iterator<Item = (&'a Source, &'a Meta)>,
        include_drafts: bool,
    ) -> (Skeleton, Vec<Diagnostic>) {
        let mut errors = Vec::new();
        let (kept, left_out): (Vec<_>, Vec<_>) = sources.partition(|(_, meta)| include_drafts || !meta.draft);
        let drafts: HashSet<String> = left_out.iter().map(|(source, _)| source.rel.clone()).collect();
        let mut pages: Vec<Page> =
            kept.par_iter().map(|(source, meta)| page_from_source(&config, source, meta)).collect();
        // Every collection and the home page get a section, written or not.
        let mut implicit = vec![(String::new(), config.title.clone())];
        implicit.extend(config.collections.iter().map(|c| (c.folder.clone(), capitalize(&c.name))));
        implicit.retain(|(folder, _)| {
            let rel = section_rel(folder);
            !pages.iter().any(|p| p.rel == rel)
        });
        pages.extend(implicit.into_iter().map(|(folder, title)| generated_section(&config, folder, title)));
        pages.sort_by(|a, b| a.rel.cmp(&b.rel));
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
        let mut skeleton = Skeleton { config, pages, by_rel, drafts, assets: Arc::default() };
        errors.extend(skeleton.label_citations());
        (skeleton, errors)
    }

    /// Gives each entry of the citable collections its author-year label,
    /// suffixing the year of works that would share one (2010a, 2010b), and
    /// its label as title when it has none. An entry with neither authors
    /// nor year has no label and cannot be cited. Ids must be unique across
    /// the citable collections, or `[@id]` would be ambiguous.
    fn label_citations(&mut self) -> Vec<Diagnostic> {
        let Some(c) = self.config.citations.clone() else { return Vec::new() };
        self.pages.par_iter_mut().filter(|p| is_citable(p, &c)).for_each(|page| {
            page.citation = citation_label(page, &c);
        });
        let errors = self.shared_citable_ids(&c);
        self.suffix_shared_labels();
        for page in self.pages.iter_mut().filter(|p| p.title.is_empty()) {
            if let Some(label) = &page.citation {
                page.title = label.clone();
            }
        }
        errors
    }

    /// An error for each citable entry whose id another citable entry has.
    fn shared_citable_ids(&self, c: &Citations) -> Vec<Diagnostic> {
        let mut by_id: HashMap<&str, usize> = HashMap::default();
        let mut errors = Vec::new();
        for (i, p) in self.pages.iter().enumerate().filter(|(_, p)| is_citable(p, c)) {
            let Some(&j) = by_id.get(p.id.as_str()) else {
                by_id.insert(&p.id, i);
                continue;
            };
            let first = &self.pages[j];
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

    /// Same label for several works: their years get `a`, `b`, … by id
    /// order, as author-year styles do (2010a, 2010b).
    fn suffix_shared_labels(&mut self) {
        let mut by_label: HashMap<&str, Vec<usize>> = HashMap::default();
        for (i, p) in self.pages.iter().enumerate() {
            if let Some(label) = &p.citation {
                by_label.entry(label.as_str()).or_default().push(i);
            }
        }
        let groups: Vec<Vec<usize>> = by_label.into_values().filter(|g| g.len() > 1).collect();
        for mut group in groups {
            group.sort_by(|&a, &b| self.pages[a].id.cmp(&self.pages[b].id));
            for (n, i) in group.into_iter().enumerate() {
                if let Some(label) = &mut self.pages[i].citation {
                    label.push_str(&year_suffix(n));
                }
            }
        }
    }
}

fn is_citable(page: &Page, c: &Citations) -> bool {
    page.collection.as_ref().is_some_and(|name| c.collections.contains(name))
}

/// `Zarate et al., 2006` from the entry's fields, before any `a`/`b`
/// suffix; `None` for an entry with neither authors nor year.
fn citation_label(page: &Page, c: &Citations) -> Option<String> {
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
        self.by_rel.get(rel).copied()
    }

    /// Resolves `@/` links and citations, as the markdown stage did.
    pub fn resolver(&self) -> Resolver<'_> {
        Resolver {
            config: &self.config,
            pages: &self.pages,
            by_rel: &self.by_rel,
            drafts: &self.drafts,
            assets: &self.assets,
        }
    }

    /// The index of entry `id` of `collection`.
    pub fn entry_index(&self, collection: &str, id: &str) -> Option<usize> {
        self.graph.entries.get(collection)?.get(id).copied()
    }
}

fn page_from_source(config: &Config, source: &Source, meta: &Meta) -> Page {
    let (collection, path) = match &source.kind {
        Kind::Entry { collection } => {
            let folder = &config.collection(collection).expect("entry of a configured collection").folder;
            (Some(collection.clone()), format!("{folder}/{}/", source.id))
        }
        Kind::Section => (None, section_path(&source.id)),
        Kind::Page => (None, format!("{}/", source.rel.trim_end_matches(".md"))),
    };
    Page {
        url: format!("{}{}", config.base_url, path),
        path,
        kind: source.kind.clone(),
        file: source.file.clone(),
        rel: source.rel.clone(),
        id: source.id.clone(),
        collection,
        title: meta.title.clone().unwrap_or_default(),
        description: meta.description.clone(),
        template: meta.template.as_ref().map(|t| t.value.clone()),
        draft: meta.draft,
        invalid: meta.invalid,
        fields: meta.fields.clone(),
        citation: None,
        md: Arc::default(),
    }
}

/// The section page of a folder that has no `_index.md`.
fn generated_section(config: &Config, folder: String, title: String) -> Page {
    let path = section_path(&folder);
    Page {
        kind: Kind::Section,
        file: PathBuf::new(),
        rel: section_rel(&folder),
        id: folder,
        collection: None,
        url: format!("{}{path}", config.base_url),
        path,
        title,
        description: None,
        template: None,
        draft: false,
        invalid: false,
        fields: Arc::default(),
        citation: None,
        md: Arc::default(),
    }
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

    /// An entry of `collection` with `fields`, as the skeleton makes it.
    pub(in crate::site) fn entry(collection: &str, id: &str, fields: Vec<(&str, FieldValue)>) -> Page {
        Page {
            kind: Kind::Entry { collection: collection.into() },
            file: format!("content/{collection}/{id}.md").into(),
            rel: format!("{collection}/{id}.md"),
            id: id.into(),
            collection: Some(collection.into()),
            path: format!("{collection}/{id}/"),
            url: format!("/{collection}/{id}/"),
            title: String::new(),
            description: None,
            template: None,
            draft: false,
            invalid: false,
            fields: Arc::new(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
            citation: None,
            md: Arc::default(),
        }
    }

    fn work(collection: &str, id: &str, authors: &[&str], year: Option<i64>) -> Page {
        let mut fields =
            vec![("authors", FieldValue::List(authors.iter().map(|a| FieldValue::Str(a.to_string())).collect()))];
        fields.extend(year.map(|y| ("year", FieldValue::Int(y))));
        entry(collection, id, fields)
    }

    fn labelled(pages: Vec<Page>) -> (Vec<Page>, Vec<Diagnostic>) {
        let config = crate::config::parse(SITE).unwrap();
        let mut skeleton =
            Skeleton { config, pages, by_rel: HashMap::default(), drafts: HashSet::default(), assets: Arc::default() };
        let errors = skeleton.label_citations();
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
        let mut pages: Vec<Page> = ids.iter().rev().map(|id| work("works", id, &["Same"], Some(2010))).collect();
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
