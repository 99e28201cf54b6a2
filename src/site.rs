//! The linked site: every page with its URL, rendered Markdown, resolved
//! references, backlinks, taxonomies and previous/next. Built in two steps
//! around the markdown stage: `Skeleton` knows every URL and citation label
//! (enough to render Markdown), `Site` adds the relations, and is frozen.

use rayon::prelude::*;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::{HashMap, HashSet};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::config::Config;
use crate::content::{Kind, Source, section_rel};
use crate::diagnostics::Diagnostic;
use crate::markdown::{self, Locator, Produce, Rendered, Resolve};
use crate::names::suggest;
use crate::schema::{FieldValue, Meta};
use tera::Value;

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
    /// The file the body comes from; `None` for generated pages.
    source: Option<Arc<Source>>,
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
    /// The Markdown body as written; `None` for generated pages.
    pub fn body(&self) -> Option<&str> {
        self.source.as_ref().map(|s| s.body.as_str())
    }

    /// The body's HTML, made now from the source, or as kept from before.
    /// With `keep` it is kept for next time. Errors are not collected again:
    /// the markdown stage found them in the same text against the same pages.
    pub fn body_html(&self, file: &Path, resolver: &Resolver, keep: bool) -> Cow<'_, str> {
        if let Some(html) = self.html.get() {
            return Cow::Borrowed(html);
        }
        let Some(source) = &self.source else { return Cow::Borrowed("") };
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
    /// A fingerprint of what pages show of each other (see [`landscape`]).
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
                errors.push(Diagnostic::file(
                    &p.file,
                    format!("this page's URL `/{}` is also the URL of {}", p.path, pages[j].file.display()),
                ));
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
        let citable = |p: &Page| p.collection.as_ref().is_some_and(|name| c.collections.contains(name));
        self.pages.par_iter_mut().filter(|p| citable(p)).for_each(|page| {
            let authors: Vec<&str> = match page.fields.get(&c.authors) {
                Some(FieldValue::List(items)) => items.iter().filter_map(as_str).collect(),
                Some(FieldValue::Str(s)) => vec![s.as_str()],
                _ => Vec::new(),
            };
            let year = match page.fields.get(&c.year) {
                Some(FieldValue::Int(y)) => Some(y.to_string()),
                Some(FieldValue::Str(s) | FieldValue::Date(s)) => Some(s.clone()),
                _ => None,
            };
            if authors.is_empty() && year.is_none() {
                return;
            }
            let et_al = c.et_al.as_ref().is_some_and(|f| page.fields.get(f) == Some(&FieldValue::Bool(true)));
            let names = match (authors.as_slice(), et_al) {
                ([], _) if page.title.is_empty() => page.id.clone(),
                ([], _) => page.title.clone(),
                ([one], false) => one.to_string(),
                ([a, b], false) => format!("{a} and {b}"),
                ([first, ..], _) => format!("{first} et al."),
            };
            page.citation = Some(format!("{names}, {}", year.as_deref().unwrap_or("n.d.")));
        });
        // Same label for two works: suffix the year by id order, as author-year styles do (2010a, 2010b).
        let mut by_label: HashMap<&str, Vec<usize>> = HashMap::default();
        let mut by_id: HashMap<&str, usize> = HashMap::default();
        let mut errors = Vec::new();
        for (i, p) in self.pages.iter().enumerate() {
            if let Some(label) = &p.citation {
                by_label.entry(label.as_str()).or_default().push(i);
            }
            if !citable(p) {
                continue;
            }
            if let Some(&j) = by_id.get(p.id.as_str()) {
                let (first, second) = (&self.pages[j], p);
                errors.push(
                    Diagnostic::file(
                        &second.file,
                        format!(
                            "`{}` is also the id of {}: `[@{}]` could cite either, so ids must be unique across the citable collections ({})",
                            p.id,
                            first.file.display(),
                            p.id,
                            crate::config::quoted_list(&c.collections)
                        ),
                    )
                    .with_hint("rename one of the two files"),
                );
            } else {
                by_id.insert(&p.id, i);
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
        for page in self.pages.iter_mut().filter(|p| p.title.is_empty()) {
            if let Some(label) = &page.citation {
                page.title = label.clone();
            }
        }
        errors
    }

    /// Renders the Markdown of every page whose cached rendering is stale
    /// (its source changed, or a page it links to or cites changed URL or
    /// label), in parallel; the rest comes from `cache`. Returns how many
    /// pages were rendered.
    pub fn render_markdown(&mut self, sources: &HashMap<&str, &Arc<Source>>, cache: &mut MarkdownCache) -> usize {
        let base_url = self.config.base_url.clone();
        let resolver = self.resolver();
        // While no page's URL, label or draft state changed, no link or
        // citation can resolve differently: skip asking each one.
        let facts = self.facts_fingerprint();
        let facts_changed = std::mem::replace(&mut cache.facts, facts) != facts;
        let stale: Vec<usize> = (0..self.pages.len())
            .filter(|&i| {
                let page = &self.pages[i];
                let Some(source) = sources.get(page.rel.as_str()) else { return false };
                match cache.entries.get(&page.rel) {
                    Some((cached, base, md)) => {
                        !Arc::ptr_eq(cached, source)
                            || *base != base_url
                            || md.errors.iter().any(Diagnostic::is_error)
                            || (facts_changed && resolver.facts(&md.deps) != md.facts)
                    }
                    None => true,
                }
            })
            .collect();
        let rendered: Vec<Markdown> = stale
            .par_iter()
            .map(|&i| render_page(&self.pages[i], sources[self.pages[i].rel.as_str()], &resolver))
            .collect();
        for (&i, md) in stale.iter().zip(rendered) {
            let rel = self.pages[i].rel.clone();
            cache.entries.insert(rel.clone(), ((*sources[rel.as_str()]).clone(), base_url.clone(), Arc::new(md)));
        }
        cache.entries.retain(|rel, _| sources.contains_key(rel.as_str()));
        for page in &mut self.pages {
            page.md = match cache.entries.get(&page.rel) {
                Some((_, _, md)) => md.clone(),
                None => cache.empty.clone(),
            };
        }
        stale.len()
    }

    fn resolver(&self) -> Resolver<'_> {
        Resolver {
            config: &self.config,
            pages: &self.pages,
            by_rel: &self.by_rel,
            drafts: &self.drafts,
            assets: &self.assets,
        }
    }

    /// A fingerprint of everything a link or citation can learn of a page
    /// (see [`Resolver::facts`]), for every page.
    fn facts_fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = crate::fingerprint_hasher();
        for p in &self.pages {
            (&p.rel, &p.url, &p.citation).hash(&mut h);
        }
        sorted(&self.drafts).hash(&mut h);
        sorted(&self.assets).hash(&mut h);
        h.finish()
    }

    /// Every error of the markdown stage, cached or fresh.
    pub fn markdown_errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.pages.iter().flat_map(|p| &p.md.errors)
    }

    /// Resolves references and anchors and builds every relation, or takes
    /// them from `previous` (the last build's site) when no page's relations
    /// changed, as after an edit of a page's prose.
    pub fn link(self, previous: Option<&Site>) -> (Site, Vec<Diagnostic>) {
        let Skeleton { config, mut pages, by_rel, drafts, assets } = self;
        for page in &mut pages {
            if page.title.is_empty() {
                page.title = page.md.content.toc.first().map(|h| h.title.clone()).unwrap_or_else(|| page.id.clone());
            }
        }
        let graph = match previous.filter(|p| same_relations(p, &pages, &drafts)) {
            Some(p) => p.graph.clone(),
            None => Arc::new(build_graph(&config, &pages, &by_rel, &drafts)),
        };
        let errors = graph.errors.clone();
        let landscape = landscape(&pages, &drafts);
        (Site { config, pages, by_rel, drafts, assets, graph, landscape }, errors)
    }
}

/// Whether `pages` relate to each other as the pages of `previous` did:
/// the same pages, fields, links, citations and anchors. Positions of links
/// only matter for the errors they would be reported at.
fn same_relations(previous: &Site, pages: &[Page], drafts: &HashSet<String>) -> bool {
    let positions_matter = previous.graph.errors.iter().any(Diagnostic::is_error);
    previous.pages.len() == pages.len()
        && previous.drafts == *drafts
        && previous.pages.iter().zip(pages).all(|(a, b)| {
            let (x, y) = (&a.md.content, &b.md.content);
            a.rel == b.rel
                && a.invalid == b.invalid
                && a.draft == b.draft
                && (Arc::ptr_eq(&a.fields, &b.fields) || a.fields == b.fields)
                && (Arc::ptr_eq(&a.md, &b.md)
                    || (x.citations == y.citations
                        && x.anchors().eq(y.anchors())
                        && x.links.len() == y.links.len()
                        && x.links.iter().zip(&y.links).all(|(l, m)| {
                            l.target == m.target
                                && l.anchor == m.anchor
                                && (!positions_matter || (l.line, l.col) == (m.line, m.col))
                        })))
        })
}

/// A fingerprint of what each page shows of itself to the pages that list,
/// link to or cite it (URL, title, label, state), and of the drafts: while it
/// is unchanged, only the pages that changed themselves need new cards.
fn landscape(pages: &[Page], drafts: &HashSet<String>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = crate::fingerprint_hasher();
    for p in pages {
        (&p.rel, &p.url, &p.title, &p.citation, p.draft, p.invalid).hash(&mut h);
    }
    sorted(drafts).hash(&mut h);
    h.finish()
}

fn sorted(set: &HashSet<String>) -> Vec<&String> {
    let mut list: Vec<&String> = set.iter().collect();
    list.sort_unstable();
    list
}

/// The link stage proper: references, anchors, backlinks, collections,
/// taxonomies and previous/next.
fn build_graph(config: &Config, pages: &[Page], by_rel: &HashMap<String, usize>, drafts: &HashSet<String>) -> Graph {
    let mut errors = Vec::new();
    let collections = sort_collections(config, pages);
    let mut rank = vec![usize::MAX; pages.len()];
    for list in collections.values() {
        for (r, &i) in list.iter().enumerate() {
            rank[i] = r;
        }
    }
    // One total order (collection, sort position, path), computed once:
    // every backlink list is then sorted by an integer.
    let collection_index =
        |p: &Page| p.collection.as_ref().and_then(|c| config.collections.iter().position(|k| &k.name == c));
    let mut by_order: Vec<(Option<usize>, usize, &str, usize)> =
        pages.iter().enumerate().map(|(i, p)| (collection_index(p), rank[i], p.rel.as_str(), i)).collect();
    by_order.sort_unstable();
    let by_order: Vec<usize> = by_order.into_iter().map(|(_, _, _, i)| i).collect();
    let mut position = vec![0; pages.len()];
    for (p, &i) in by_order.iter().enumerate() {
        position[i] = p;
    }
    // Entries by collection and id, so that resolving a reference allocates nothing.
    let mut entries: HashMap<String, HashMap<String, usize>> = HashMap::default();
    for (i, p) in pages.iter().enumerate() {
        if let Some(c) = &p.collection {
            entries.entry(c.clone()).or_default().insert(p.id.clone(), i);
        }
    }
    let index_of_entry = |collection: &str, id: &str| -> Option<usize> { entries.get(collection)?.get(id).copied() };

    let mut backlinks = vec![Backlinks::default(); pages.len()];
    let mut cites = vec![Vec::new(); pages.len()];
    for (i, page) in pages.iter().enumerate() {
        for (field, value) in page.fields.iter() {
            for_each_ref(value, &mut |to, id| match index_of_entry(to, &id.value) {
                Some(t) => match backlinks[t].referenced_by.iter_mut().find(|(f, _)| f == field) {
                    Some((_, list)) => list.push(i),
                    None => backlinks[t].referenced_by.push((field.clone(), vec![i])),
                },
                None => errors.push(dangling_reference(config, pages, drafts, page, field, to, id)),
            });
        }
        if let Some(c) = &config.citations {
            for id in &page.md.content.citations {
                if let Some(t) = c.collections.iter().find_map(|name| index_of_entry(name, id)) {
                    backlinks[t].cited_by.push(i);
                    cites[i].push(t);
                }
            }
        }
        for link in &page.md.content.links {
            let Some(&t) = by_rel.get(&link.target) else { continue };
            backlinks[t].linked_from.push(i);
            if let Some(anchor) = &link.anchor
                && !pages[t].md.content.anchors().any(|a| a == anchor)
            {
                let mut d = Diagnostic::new(
                    &page.file,
                    link.line,
                    link.col,
                    format!("missing anchor: `@/{}` has no heading or footnote `#{anchor}`", link.target),
                );
                if let Some(hint) = anchor_hint(anchor, &pages[t].md.content) {
                    d = d.with_hint(hint);
                }
                errors.push(d);
            }
        }
    }
    for b in &mut backlinks {
        b.referenced_by.sort_unstable_by(|x, y| x.0.cmp(&y.0));
        let by_field = b.referenced_by.iter_mut().map(|(_, list)| list);
        for list in by_field.chain([&mut b.cited_by, &mut b.linked_from]) {
            list.sort_unstable_by_key(|&i| position[i]);
            list.dedup();
        }
    }

    errors.extend(orphans(pages, &backlinks));
    errors.extend(cited_drafts(config, pages, by_rel, drafts));

    let mut prev = vec![None; pages.len()];
    let mut next = vec![None; pages.len()];
    for list in collections.values() {
        for pair in list.windows(2) {
            next[pair[0]] = Some(pair[1]);
            prev[pair[1]] = Some(pair[0]);
        }
    }
    let taxonomies = build_taxonomies(config, pages, &collections, &mut errors);
    Graph { entries, collections, taxonomies, backlinks, cites, prev, next, errors }
}

/// "Did you mean" for a missing anchor, from the target's real anchors: the
/// closest by spelling, else one that starts with or contains what was
/// written (`#off-label-clinic` → `#off-label-clinics-and-the-name`), else
/// the first few headings.
fn anchor_hint(anchor: &str, target: &Rendered) -> Option<String> {
    if let Some(s) = suggest(anchor, target.anchors()) {
        return Some(format!("did you mean `#{s}`?"));
    }
    let containing = target.anchors().filter(|a| a.contains(anchor)).min_by_key(|a| (!a.starts_with(anchor), a.len()));
    if let Some(s) = containing {
        return Some(format!("did you mean `#{s}`?"));
    }
    let ids: Vec<String> = target.toc.iter().take(5).map(|h| format!("`#{}`", h.id)).collect();
    match ids.len() {
        0 => Some("that page has no headings".into()),
        n if n < target.toc.len() => Some(format!("its headings include {}", ids.join(", "))),
        _ => Some(format!("its headings are {}", ids.join(", "))),
    }
}

/// Entries that no other page links to, cites or refers to: a reader can
/// reach them only through listings.
fn orphans(pages: &[Page], backlinks: &[Backlinks]) -> Vec<Diagnostic> {
    let others = |list: &[usize], i: usize| list.iter().any(|&j| j != i);
    pages
        .iter()
        .enumerate()
        .filter(|(i, p)| {
            let b = &backlinks[*i];
            p.collection.is_some()
                && !p.invalid
                && !others(&b.cited_by, *i)
                && !others(&b.linked_from, *i)
                && !b.referenced_by.iter().any(|(_, list)| others(list, *i))
        })
        .map(|(_, p)| {
            Diagnostic::file(&p.file, "orphan: no other page links to, cites or refers to this entry")
                .as_warning()
                .with_hint(format!(
                    "link to it from a related page (`[…](@/{})`), cite it, or name it in another entry's field",
                    p.rel
                ))
        })
        .collect()
}

/// One warning on each draft that published pages cite, link to or refer
/// to: they fail to build without `--drafts` (each with its own error) until
/// the draft is published.
fn cited_drafts(
    config: &Config,
    pages: &[Page],
    by_rel: &HashMap<String, usize>,
    drafts: &HashSet<String>,
) -> Vec<Diagnostic> {
    if drafts.is_empty() && !pages.iter().any(|p| p.draft) {
        return Vec::new();
    }
    let is_draft = |rel: &str| drafts.contains(rel) || by_rel.get(rel).is_some_and(|&t| pages[t].draft);
    let folder = |collection: &str| config.collection(collection).map_or(collection.to_string(), |c| c.folder.clone());
    let mut citing: BTreeMap<String, Vec<&Page>> = BTreeMap::new();
    for page in pages.iter().filter(|p| !p.draft) {
        let mut targets: Vec<String> = page.md.content.links.iter().map(|l| l.target.clone()).collect();
        if let Some(c) = &config.citations {
            // A citation may name a draft of any citable collection.
            let cited = page.md.content.citations.iter();
            targets
                .extend(cited.flat_map(|id| c.collections.iter().map(move |name| format!("{}/{id}.md", folder(name)))));
        }
        for value in page.fields.values() {
            for_each_ref(value, &mut |to, id| targets.push(format!("{}/{}.md", folder(to), id.value)));
        }
        targets.sort();
        targets.dedup();
        for rel in targets.into_iter().filter(|r| is_draft(r)) {
            citing.entry(rel).or_default().push(page);
        }
    }
    citing
        .into_iter()
        .map(|(rel, by)| {
            let names: Vec<String> = by.iter().take(3).map(|p| p.file.display().to_string()).collect();
            let more = if by.len() > 3 { format!(" and {} more", by.len() - 3) } else { String::new() };
            let n = by.len();
            Diagnostic::file(
                Path::new(crate::content::CONTENT_DIR).join(&rel),
                format!(
                    "this draft is cited or linked by {n} published page{} ({}{more})",
                    if n == 1 { "" } else { "s" },
                    names.join(", ")
                ),
            )
            .as_warning()
            .with_hint("publish it (remove `draft: true`), or remove what points at it: without --drafts those pages fail to build")
        })
        .collect()
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

fn as_str(v: &FieldValue) -> Option<&str> {
    match v {
        FieldValue::Str(s) => Some(s),
        _ => None,
    }
}

fn for_each_ref<'a>(value: &'a FieldValue, f: &mut dyn FnMut(&'a str, &'a crate::schema::Located<String>)) {
    match value {
        FieldValue::Ref(r) => f(&r.to, &r.id),
        FieldValue::List(items) => items.iter().for_each(|v| for_each_ref(v, f)),
        _ => {}
    }
}

fn dangling_reference(
    config: &Config,
    pages: &[Page],
    drafts: &HashSet<String>,
    page: &Page,
    field: &str,
    to: &str,
    id: &crate::schema::Located<String>,
) -> Diagnostic {
    let folder = config.collection(to).map_or(to, |c| c.folder.as_str());
    let message = format!("field `{field}` refers to `{}`, but collection `{to}` has no such entry", id.value);
    let mut d = Diagnostic::new(&page.file, id.line, id.col, message);
    if drafts.contains(&format!("{folder}/{}.md", id.value)) {
        d = d.with_hint(format!("`{}` is a draft; build with --drafts or remove the reference", id.value));
    } else {
        let ids = pages.iter().filter(|p| p.collection.as_deref() == Some(to)).map(|p| p.id.as_str());
        if let Some(s) = suggest(&id.value, ids) {
            d = d.with_hint(format!("did you mean `{s}`?"));
        }
    }
    d
}

/// Links and citations resolved against the pages: by the markdown stage
/// (over the skeleton) and when a page's body is written (over the site).
pub struct Resolver<'a> {
    config: &'a Config,
    pages: &'a [Page],
    by_rel: &'a HashMap<String, usize>,
    drafts: &'a HashSet<String>,
    assets: &'a HashSet<String>,
}

impl Resolver<'_> {
    /// The path under `content/` of citable entry `id`: where it is, else
    /// where a draft of it is, else where the first citable collection
    /// would hold it.
    fn citation_rel(&self, id: &str) -> String {
        let config = self.config;
        let names = config.citations.as_ref().map_or(&[][..], |c| c.collections.as_slice());
        let rels: Vec<String> =
            names.iter().filter_map(|name| config.collection(name)).map(|c| format!("{}/{id}.md", c.folder)).collect();
        let found = rels.iter().find(|rel| self.by_rel.contains_key(*rel));
        let found = found.or_else(|| rels.iter().find(|rel| self.drafts.contains(*rel)));
        found.or(rels.first()).cloned().unwrap_or_else(|| format!("/{id}.md"))
    }

    /// A fingerprint of what resolving a link or citation to each of `rels`
    /// yields: the page's URL and label, or its absence (and whether it is a
    /// draft, which changes the error).
    fn facts(&self, rels: &[String]) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = crate::fingerprint_hasher();
        for rel in rels {
            match self.by_rel.get(rel) {
                Some(&i) => (0u8, &self.pages[i].url, &self.pages[i].citation).hash(&mut h),
                None => (1u8, self.drafts.contains(rel), self.assets.contains(rel)).hash(&mut h),
            }
        }
        h.finish()
    }
}

impl Resolve for Resolver<'_> {
    fn cites(&self) -> bool {
        self.config.citations.is_some()
    }

    fn external_links(&self) -> crate::config::ExternalLinks {
        self.config.external_links
    }

    fn is_asset(&self, rel: &str) -> bool {
        self.assets.contains(rel)
    }

    fn base_url(&self) -> &str {
        &self.config.base_url
    }

    fn url(&self, rel: &str) -> Result<&str, Diagnostic> {
        let s = self;
        if let Some(&i) = s.by_rel.get(rel) {
            return Ok(&s.pages[i].url);
        }
        let mut d = Diagnostic::file("", format!("broken link: no page at `@/{rel}`"));
        if s.drafts.contains(rel) {
            d = d.with_hint(format!("`@/{rel}` is a draft; build with --drafts or remove the link"));
        } else if let Some(near) = suggest(rel, s.pages.iter().map(|p| p.rel.as_str())) {
            d = d.with_hint(format!("did you mean `@/{near}`?"));
        }
        Err(d)
    }

    fn cite(&self, id: &str) -> Result<(&str, &str), Diagnostic> {
        let s = self;
        let Some(c) = &s.config.citations else {
            return Err(Diagnostic::file("", format!("citation `[@{id}]`, but site.yaml declares no `citations`")));
        };
        let rel = self.citation_rel(id);
        if let Some(page) = s.by_rel.get(&rel).map(|&i| &s.pages[i]) {
            return match &page.citation {
                Some(label) => Ok((label, &page.url)),
                None => Err(Diagnostic::file(
                    "",
                    format!("cannot cite `@{id}`: the entry has neither authors nor year to make its label"),
                )
                .with_hint(format!("link to it instead: [text](@/{rel})"))),
            };
        }
        let place = match c.collections.as_slice() {
            [one] => format!("collection `{one}`"),
            several => format!("collections {}", crate::config::quoted_list(several)),
        };
        let mut d = Diagnostic::file("", format!("unknown citation `@{id}`: no entry `{id}` in {place}"));
        if s.drafts.contains(&rel) {
            d = d.with_hint(format!("`{id}` is a draft; build with --drafts or remove the citation"));
        } else {
            let ids = s
                .pages
                .iter()
                .filter(|p| p.citation.is_some() && p.collection.as_ref().is_some_and(|n| c.collections.contains(n)))
                .map(|p| p.id.as_str());
            if let Some(near) = suggest(id, ids) {
                d = d.with_hint(format!("did you mean `@{near}`?"));
            }
        }
        Err(d)
    }
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

fn render_page(page: &Page, source: &Arc<Source>, resolver: &Resolver) -> Markdown {
    let mut errors = Vec::new();
    let locate = |offset: usize| source.locate(offset);
    let locator = Locator { file: &page.file, locate: &locate };
    let mut content = markdown::render(&source.body, &locator, resolver, &mut errors, Produce::Facts);
    let summary = Some(std::mem::take(&mut content.summary)).filter(|s| !s.is_empty()).map(|s| Value::safe_string(&s));
    let mut text_fields = Vec::new();
    let mut deps: Vec<String> = Vec::new();
    for (name, value) in page.fields.iter() {
        if let FieldValue::Text(t) = value {
            let at = |_: usize| (t.line, t.col);
            let locator = Locator { file: &page.file, locate: &at };
            let field = markdown::render(&t.value, &locator, resolver, &mut errors, Produce::Html);
            deps.extend(field.links.iter().map(|l| l.target.clone()));
            deps.extend(field.citations.iter().map(|id| resolver.citation_rel(id)));
            deps.extend(field.assets.iter().cloned());
            text_fields.push((name.clone(), Value::safe_string(&field.html)));
        }
    }
    deps.extend(content.links.iter().map(|l| l.target.clone()));
    deps.extend(content.citations.iter().map(|id| resolver.citation_rel(id)));
    deps.extend(content.assets.iter().cloned());
    deps.sort();
    deps.dedup();
    let facts = resolver.facts(&deps);
    let source = Some(source.clone());
    Markdown { content, summary, text_fields, source, html: OnceLock::new(), errors, deps, facts }
}

/// A sortable view of a field: numbers before strings, missing values last.
#[derive(PartialEq, PartialOrd)]
enum SortKey<'a> {
    Number(f64),
    Text(&'a str),
    Missing,
}

fn sort_key<'a>(page: &'a Page, field: Option<&str>) -> SortKey<'a> {
    match field.and_then(|f| page.fields.get(f)) {
        Some(FieldValue::Int(i)) => SortKey::Number(*i as f64),
        Some(FieldValue::Float(f)) => SortKey::Number(*f),
        Some(FieldValue::Str(s) | FieldValue::Date(s)) => SortKey::Text(s),
        Some(FieldValue::Text(t)) => SortKey::Text(&t.value),
        Some(FieldValue::Bool(b)) => SortKey::Number(f64::from(u8::from(*b))),
        _ => SortKey::Missing,
    }
}

fn sort_collections(config: &Config, pages: &[Page]) -> BTreeMap<String, Vec<usize>> {
    let mut out: BTreeMap<String, Vec<usize>> =
        config.collections.iter().map(|c| (c.name.clone(), Vec::new())).collect();
    for (i, p) in pages.iter().enumerate().filter(|(_, p)| !p.invalid) {
        if let Some(c) = &p.collection {
            out.entry(c.clone()).or_default().push(i);
        }
    }
    for c in &config.collections {
        let list = out.get_mut(&c.name).expect("inserted above");
        let field = c.sort_by.as_deref();
        // Keys looked up once, not at every comparison.
        let mut keyed: Vec<(SortKey, &str, usize)> =
            list.iter().map(|&i| (sort_key(&pages[i], field), pages[i].id.as_str(), i)).collect();
        keyed.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal).then_with(|| a.1.cmp(b.1)));
        *list = keyed.into_iter().map(|(_, _, i)| i).collect();
    }
    out
}

fn build_taxonomies(
    config: &Config,
    pages: &[Page],
    collections: &BTreeMap<String, Vec<usize>>,
    errors: &mut Vec<Diagnostic>,
) -> Vec<Taxonomy> {
    let mut taxonomies = Vec::new();
    for name in config.taxonomies() {
        let path = format!("{}/", crate::slug::slugify(&name));
        let mut terms: BTreeMap<String, Term> = BTreeMap::new();
        let mut slugs: HashMap<String, String> = HashMap::default();
        for c in &config.collections {
            if !c.fields.get(&name).is_some_and(|f| f.taxonomy) {
                continue;
            }
            for &i in &collections[&c.name] {
                let values: Vec<&str> = match pages[i].fields.get(&name) {
                    Some(FieldValue::Str(s)) => vec![s.as_str()],
                    Some(FieldValue::List(items)) => items.iter().filter_map(as_str).collect(),
                    _ => continue,
                };
                for value in values {
                    if let Some(term) = terms.get_mut(value) {
                        if term.pages.last() != Some(&i) {
                            term.pages.push(i);
                        }
                        continue;
                    }
                    let slug = crate::slug::slugify(value);
                    match slugs.get(&slug) {
                        Some(other) if other != value => {
                            errors.push(Diagnostic::file(
                                &pages[i].file,
                                format!("`{value}` and `{other}` of taxonomy `{name}` would share the URL /{path}{slug}/; spell them the same"),
                            ));
                            continue;
                        }
                        Some(_) => {}
                        None => {
                            slugs.insert(slug.clone(), value.to_string());
                        }
                    }
                    let term = Term {
                        name: value.to_string(),
                        path: format!("{path}{slug}/"),
                        url: format!("{}{path}{slug}/", config.base_url),
                        slug,
                        pages: vec![i],
                    };
                    terms.insert(value.to_string(), term);
                }
            }
        }
        taxonomies.push(Taxonomy {
            url: format!("{}{path}", config.base_url),
            path,
            name,
            terms: terms.into_values().collect(),
        });
    }
    taxonomies
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn year_suffixes_go_on_past_z() {
        let suffixes: Vec<String> = [0, 1, 25, 26, 27, 51, 52, 701, 702].into_iter().map(year_suffix).collect();
        assert_eq!(suffixes, ["a", "b", "z", "aa", "ab", "az", "ba", "zz", "aaa"]);
    }
}
