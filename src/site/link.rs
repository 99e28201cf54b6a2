//! The link stage: one pass over the whole site. References, backlinks,
//! taxonomies, previous and next, anchors, orphans and cited drafts; the
//! relations of the last build are reused when no page's changed.

use super::*;

impl Skeleton {
    /// Resolves references and anchors and builds every relation, or takes
    /// them from `previous` (the last build's site) when no page's relations
    /// changed, as after an edit of a page's prose.
    pub fn link(self, previous: Option<&Site>) -> (Site, Vec<Diagnostic>) {
        let Skeleton { config, mut pages, sources, shape_errors, md_errors, delta } = self;
        let untitled = |page: &mut Page| {
            if page.title.is_empty() {
                page.title = page.md.content.toc.first().map(|h| h.title.clone()).unwrap_or_else(|| page.id.clone());
            }
        };
        let (same, landscape) = match &delta {
            Some(delta) => {
                delta.replaced.iter().for_each(|&(i, _)| untitled(&mut pages[i]));
                let positions_matter = delta.graph.errors.iter().any(Diagnostic::is_error);
                let same = delta
                    .replaced
                    .iter()
                    .all(|(i, old)| same_page_relations(&config, old, &pages[*i], positions_matter));
                let looks_same = delta.replaced.iter().all(|(i, old)| looks(old) == looks(&pages[*i]));
                let landscape = if looks_same { delta.landscape } else { landscape(&pages, &sources.drafts) };
                (same.then(|| delta.graph.clone()), landscape)
            }
            None => {
                pages.iter_mut().for_each(untitled);
                let same =
                    previous.filter(|p| same_relations(&config, p, &pages, &sources.drafts)).map(|p| p.graph.clone());
                (same, landscape(&pages, &sources.drafts))
            }
        };
        let graph = same.unwrap_or_else(|| {
            let site = Resolver { config: &config, pages: &pages, sources: &sources };
            Arc::new(build_graph(&site))
        });
        let errors = quoted(&pages, &graph.errors);
        let patched = delta.map(|d| (d.generation, d.replaced.into_iter().map(|(i, _)| i).collect()));
        let generation = next_generation();
        let site = Site { config, pages, sources, graph, landscape, shape_errors, md_errors, generation, patched };
        (site, errors)
    }
}

/// The link stage's errors with the lines they point at quoted from this
/// build's text: a graph reused from the last build holds that build's
/// quotes, and a line can change without changing any relation.
fn quoted(pages: &[Page], errors: &[Diagnostic]) -> Vec<Diagnostic> {
    if errors.is_empty() {
        return Vec::new();
    }
    let by_file: HashMap<&Path, &Page> = pages.iter().map(|p| (p.file.as_path(), p)).collect();
    errors
        .iter()
        .map(|d| match by_file.get(d.path.as_path()) {
            Some(page) => page.quoted(d.clone()),
            None => d.clone(),
        })
        .collect()
}

/// Whether `pages` relate to each other as the pages of `previous` did:
/// the same pages, fields, links, citations and anchors.
pub(super) fn same_relations(config: &Config, previous: &Site, pages: &[Page], drafts: &HashSet<String>) -> bool {
    let positions_matter = previous.graph.errors.iter().any(Diagnostic::is_error);
    previous.pages.len() == pages.len()
        && previous.sources.drafts == *drafts
        && previous.pages.iter().zip(pages).all(|(a, b)| same_page_relations(config, a, b, positions_matter))
}

/// Whether page `b` relates to others as `a` did. Positions of links only
/// matter for the errors they would be reported at.
fn same_page_relations(config: &Config, a: &Page, b: &Page, positions_matter: bool) -> bool {
    let (x, y) = (&a.md.content, &b.md.content);
    a.rel == b.rel
        && a.invalid == b.invalid
        && a.draft == b.draft
        && same_relating_fields(config, a, b)
        && (Arc::ptr_eq(&a.md, &b.md)
            || (x.citations == y.citations
                && x.anchors().eq(y.anchors())
                && x.links.len() == y.links.len()
                && x.links.iter().zip(&y.links).all(|(l, m)| {
                    l.target == m.target
                        && l.anchor == m.anchor
                        && (!positions_matter || (l.line, l.col) == (m.line, m.col))
                })))
}

/// Whether the fields of `a` and `b` that the link stage reads are the
/// same: those that reference entries, taxonomy fields, and the field that
/// orders the collection. A title or a number edited changes no relation.
fn same_relating_fields(config: &Config, a: &Page, b: &Page) -> bool {
    if Arc::ptr_eq(&a.fields, &b.fields) {
        return true;
    }
    let collection = a.collection.as_deref().and_then(|c| config.collection(c));
    let relating = |name: &str, value: Option<&FieldValue>| {
        let mut refers = false;
        if let Some(v) = value {
            v.references(&mut |_| refers = true);
        }
        refers
            || collection
                .is_some_and(|c| c.sort_by.as_deref() == Some(name) || c.fields.get(name).is_some_and(|f| f.taxonomy))
    };
    a.fields.keys().chain(b.fields.keys()).all(|name| {
        let (x, y) = (a.fields.get(name), b.fields.get(name));
        x == y || !(relating(name, x) || relating(name, y))
    })
}

/// A fingerprint of what each page shows of itself to the pages that list,
/// link to or cite it (URL, title, label, state), and of the drafts: while it
/// is unchanged, only the pages that changed themselves need new cards.
pub(super) fn landscape(pages: &[Page], drafts: &HashSet<String>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = crate::fingerprint_hasher();
    for p in pages {
        looks(p).hash(&mut h);
    }
    sorted(drafts).hash(&mut h);
    h.finish()
}

/// What a page shows of itself to others (see `landscape`).
fn looks(p: &Page) -> (&String, &String, &String, &Option<String>, bool, bool) {
    (&p.rel, &p.url, &p.title, &p.citation, p.draft, p.invalid)
}

pub(super) fn sorted(set: &HashSet<String>) -> Vec<&String> {
    let mut list: Vec<&String> = set.iter().collect();
    list.sort_unstable();
    list
}

/// The link stage proper: references, anchors, backlinks, collections,
/// taxonomies and previous/next.
pub(super) fn build_graph(site: &Resolver) -> Graph {
    let (config, pages) = (site.config, site.pages);
    let mut errors = Vec::new();
    let collections = sort_collections(config, pages);
    let entries = entries_by_id(pages);
    let (mut backlinks, cites) = gather_backlinks(site, &entries, &mut errors);
    let position = listing_positions(config, pages, &collections);
    for b in &mut backlinks {
        b.referenced_by.sort_unstable_by(|x, y| x.0.cmp(&y.0));
        let by_field = b.referenced_by.iter_mut().map(|(_, list)| list);
        for list in by_field.chain([&mut b.cited_by, &mut b.linked_from]) {
            list.sort_unstable_by_key(|&i| position[i]);
            list.dedup();
        }
    }
    errors.extend(orphans(pages, &backlinks));
    errors.extend(cited_drafts(site));
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

/// Each page's place in one total order (collection, sort position, path),
/// computed once: every backlink list is then sorted by an integer.
fn listing_positions(config: &Config, pages: &[Page], collections: &BTreeMap<String, Vec<usize>>) -> Vec<usize> {
    let mut rank = vec![usize::MAX; pages.len()];
    for list in collections.values() {
        for (r, &i) in list.iter().enumerate() {
            rank[i] = r;
        }
    }
    let collection_index =
        |p: &Page| p.collection.as_ref().and_then(|c| config.collections.iter().position(|k| &k.name == c));
    let mut by_order: Vec<(Option<usize>, usize, &str, usize)> =
        pages.iter().enumerate().map(|(i, p)| (collection_index(p), rank[i], p.rel.as_str(), i)).collect();
    by_order.sort_unstable();
    let mut position = vec![0; pages.len()];
    for (p, &(_, _, _, i)) in by_order.iter().enumerate() {
        position[i] = p;
    }
    position
}

/// Entries by collection and id, so that resolving a reference allocates nothing.
fn entries_by_id(pages: &[Page]) -> HashMap<String, HashMap<String, usize>> {
    let mut entries: HashMap<String, HashMap<String, usize>> = HashMap::default();
    for (i, p) in pages.iter().enumerate() {
        if let Some(c) = &p.collection {
            entries.entry(c.clone()).or_default().insert(p.id.clone(), i);
        }
    }
    entries
}

/// Who points at whom, unsorted: references (each checked), citations and
/// `@/` links (each anchor checked); and the entries each page cites.
fn gather_backlinks(
    site: &Resolver,
    entries: &HashMap<String, HashMap<String, usize>>,
    errors: &mut Vec<Diagnostic>,
) -> (Vec<Backlinks>, Vec<Vec<usize>>) {
    let pages = site.pages;
    let index_of_entry = |collection: &str, id: &str| -> Option<usize> { entries.get(collection)?.get(id).copied() };
    let mut backlinks = vec![Backlinks::default(); pages.len()];
    let mut cites = vec![Vec::new(); pages.len()];
    for (i, page) in pages.iter().enumerate() {
        for (field, value) in page.fields.iter() {
            value.references(&mut |r| match index_of_entry(&r.to, &r.id.value) {
                Some(t) => match backlinks[t].referenced_by.iter_mut().find(|(f, _)| f == field) {
                    Some((_, list)) => list.push(i),
                    None => backlinks[t].referenced_by.push((field.clone(), vec![i])),
                },
                None => errors.push(dangling_reference(site, page, field, r)),
            });
        }
        if let Some(c) = &site.config.citations {
            for id in &page.md.content.citations {
                if let Some(t) = c.collections.iter().find_map(|name| index_of_entry(name, id)) {
                    backlinks[t].cited_by.push(i);
                    cites[i].push(t);
                }
            }
        }
        for link in &page.md.content.links {
            let Some(&t) = site.sources.by_rel.get(&link.target) else { continue };
            backlinks[t].linked_from.push(i);
            errors.extend(missing_anchor(page, link, &pages[t]));
        }
    }
    (backlinks, cites)
}

/// The error of a link whose `#anchor` the target does not have.
fn missing_anchor(page: &Page, link: &markdown::Link, target: &Page) -> Option<Diagnostic> {
    let anchor = link.anchor.as_ref()?;
    if target.md.content.anchors().any(|a| a == anchor) {
        return None;
    }
    let message = format!("missing anchor: `@/{}` has no heading or footnote `#{anchor}`", link.target);
    let d = Diagnostic::new(&page.file, link.line, link.col, message);
    Some(match anchor_hint(anchor, &target.md.content) {
        Some(hint) => d.with_hint(hint),
        None => d,
    })
}

/// "Did you mean" for a missing anchor, from the target's real anchors: the
/// closest by spelling, else one that starts with or contains what was
/// written (`#off-label-clinic` → `#off-label-clinics-and-the-name`), else
/// the first few headings.
pub(super) fn anchor_hint(anchor: &str, target: &Rendered) -> Option<String> {
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
pub(super) fn orphans(pages: &[Page], backlinks: &[Backlinks]) -> Vec<Diagnostic> {
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
pub(super) fn cited_drafts(site: &Resolver) -> Vec<Diagnostic> {
    let (config, pages, by_rel, drafts) = (site.config, site.pages, &site.sources.by_rel, &site.sources.drafts);
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
            value.references(&mut |r| targets.push(format!("{}/{}.md", folder(&r.to), r.id.value)));
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

pub(super) fn dangling_reference(site: &Resolver, page: &Page, field: &str, reference: &Reference) -> Diagnostic {
    let (config, pages, drafts) = (site.config, site.pages, &site.sources.drafts);
    let (to, id) = (reference.to.as_str(), &reference.id);
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

fn sort_key<'a>(page: &'a Page, field: Option<&str>) -> SortKey<'a> {
    field.and_then(|f| page.fields.get(f)).map_or(SortKey::Missing, FieldValue::sort_key)
}

pub(super) fn sort_collections(config: &Config, pages: &[Page]) -> BTreeMap<String, Vec<usize>> {
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

pub(super) fn build_taxonomies(
    config: &Config,
    pages: &[Page],
    collections: &BTreeMap<String, Vec<usize>>,
    errors: &mut Vec<Diagnostic>,
) -> Vec<Taxonomy> {
    let mut taxonomies = Vec::new();
    for name in config.taxonomies() {
        let using = config.collections.iter().filter(|c| c.fields.get(&name).is_some_and(|f| f.taxonomy));
        let entries: Vec<usize> = using.flat_map(|c| collections[&c.name].iter().copied()).collect();
        let mut terms = Terms::new(name, &config.base_url);
        for i in entries {
            let Some(field) = pages[i].fields.get(&terms.name) else { continue };
            for value in field.terms() {
                errors.extend(terms.add(value, i, pages));
            }
        }
        taxonomies.push(terms.finish());
    }
    taxonomies
}

/// One taxonomy's terms, as the pages that use them are gathered.
struct Terms<'a> {
    name: String,
    /// `<taxonomy>/`, under which each term has its page.
    path: String,
    base_url: &'a str,
    terms: BTreeMap<String, Term>,
    /// Each slug's term as first written, and the page that wrote it.
    slugs: HashMap<String, (String, usize)>,
}

impl<'a> Terms<'a> {
    fn new(name: String, base_url: &'a str) -> Self {
        let path = format!("{}/", crate::slug::slugify(&name));
        Terms { name, path, base_url, terms: BTreeMap::new(), slugs: HashMap::default() }
    }

    /// Page `i` uses term `value`; an error if another spelling has its URL.
    fn add(&mut self, value: &str, i: usize, pages: &[Page]) -> Option<Diagnostic> {
        if let Some(term) = self.terms.get_mut(value) {
            if term.pages.last() != Some(&i) {
                term.pages.push(i);
            }
            return None;
        }
        let (name, path) = (&self.name, &self.path);
        let slug = crate::slug::slugify(value);
        match self.slugs.get(&slug) {
            Some((other, j)) if other != value => {
                let message = format!(
                    "`{value}` and `{other}` of taxonomy `{name}` would share the URL /{path}{slug}/; spell them the same"
                );
                let note = Note::new(&pages[*j].file, 0, 0, format!("`{other}` is written here"));
                return Some(Diagnostic::file(&pages[i].file, message).with_note(note));
            }
            Some(_) => {}
            None => {
                self.slugs.insert(slug.clone(), (value.to_string(), i));
            }
        }
        let term = Term {
            name: value.to_string(),
            path: format!("{path}{slug}/"),
            url: format!("{}{path}{slug}/", self.base_url),
            slug,
            pages: vec![i],
        };
        self.terms.insert(value.to_string(), term);
        None
    }

    fn finish(self) -> Taxonomy {
        use std::hash::{Hash, Hasher};
        let terms: Vec<Term> = self.terms.into_values().collect();
        let mut h = crate::fingerprint_hasher();
        self.name.hash(&mut h);
        terms.iter().for_each(|t| (&t.name, t.pages.len()).hash(&mut h));
        Taxonomy {
            url: format!("{}{}", self.base_url, self.path),
            path: self.path,
            name: self.name,
            terms,
            outline: h.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markdown::Heading;
    use crate::site::tests::{entry, entry_info};

    fn headings(ids: &[&str]) -> Rendered {
        let toc = ids.iter().map(|id| Heading { level: 2, id: id.to_string(), title: id.to_string() }).collect();
        Rendered { toc, ..Rendered::default() }
    }

    #[test]
    fn an_anchor_hint_tries_spelling_then_containment_then_lists_headings() {
        let target = headings(&["methods", "off-label-clinics-and-the-name", "results"]);
        assert_eq!(anchor_hint("method", &target).as_deref(), Some("did you mean `#methods`?"));
        assert_eq!(
            anchor_hint("off-label-clinic", &target).as_deref(),
            Some("did you mean `#off-label-clinics-and-the-name`?")
        );
        assert_eq!(
            anchor_hint("discussion", &target).as_deref(),
            Some("its headings are `#methods`, `#off-label-clinics-and-the-name`, `#results`")
        );
        let many = headings(&["h-one", "h-two", "h-three", "h-four", "h-five", "h-six"]);
        assert_eq!(
            anchor_hint("zzzzzzzz", &many).as_deref(),
            Some("its headings include `#h-one`, `#h-two`, `#h-three`, `#h-four`, `#h-five`")
        );
        assert_eq!(anchor_hint("x", &Rendered::default()).as_deref(), Some("that page has no headings"));
    }

    #[test]
    fn entries_sort_numbers_first_then_strings_then_missing_and_ties_by_id() {
        let config = crate::config::parse(
            "title: T\ncollections:\n  s:\n    sort_by: year\n    fields:\n      year: {type: integer}\n",
        )
        .unwrap();
        let year = |y: i64| vec![("year", FieldValue::Int(y))];
        let pages = vec![
            entry("s", "a", Vec::new()),
            entry("s", "b", vec![("year", FieldValue::Str("unknown".into()))]),
            entry("s", "c", year(2006)),
            entry("s", "d", year(1999)),
            entry("s", "e", year(2006)),
            Page::new(Arc::new(PageInfo { invalid: true, ..entry_info("s", "f", year(1990)) }), &Arc::default()),
        ];
        let sorted = sort_collections(&config, &pages);
        let ids: Vec<&str> = sorted["s"].iter().map(|&i| pages[i].id.as_str()).collect();
        // An invalid entry is not listed.
        assert_eq!(ids, ["d", "c", "e", "b", "a"]);
    }

    #[test]
    fn a_link_to_a_missing_anchor_is_located_at_the_link() {
        let mut target = entry("s", "t", Vec::new());
        target.md = Arc::new(Markdown { content: headings(&["methods"]), ..Markdown::default() });
        let page = entry("s", "p", Vec::new());
        let link = |anchor: Option<&str>| markdown::Link {
            target: "s/t.md".into(),
            anchor: anchor.map(String::from),
            line: 4,
            col: 9,
        };
        assert!(missing_anchor(&page, &link(None), &target).is_none());
        assert!(missing_anchor(&page, &link(Some("methods")), &target).is_none());
        let d = missing_anchor(&page, &link(Some("method")), &target).unwrap();
        assert_eq!((d.path.as_path(), d.line, d.col), (Path::new("content/s/p.md"), 4, 9));
        assert_eq!(d.message, "missing anchor: `@/s/t.md` has no heading or footnote `#method`");
    }
}
