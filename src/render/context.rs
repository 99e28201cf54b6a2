//! The values templates see: the global context (collections, sections,
//! taxonomies, pages, feed, citations) and the current page's value with its
//! lists of other pages.

use super::*;

/// Template values built once per build and shared by every page.
pub(super) struct SiteValues {
    pub(super) cards: Vec<Value>,
    pub(super) taxonomies: Vec<Value>,
    pub(super) terms: Vec<Vec<Value>>,
    /// Per taxonomy, its outline (see `taxonomy_outline`).
    pub(super) outlines: Vec<Value>,
    /// The feed's entries (see `feed_entries`), made when first asked for:
    /// most saves in the preview need them not.
    pub(super) feed: OnceLock<Vec<(usize, String)>>,
}

impl SiteValues {
    pub(super) fn feed(&self, site: &Site) -> &[(usize, String)] {
        self.feed.get_or_init(|| feed_entries(site))
    }
}

pub(super) fn install_globals(site: &Site, shared: &SiteValues, templates: &mut Templates, with_cited_by: bool) {
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
    global.insert_value("feed", feed_value(site, shared));
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
pub(super) fn published(site: &Site) -> Vec<usize> {
    (0..site.pages.len()).filter(|&i| !site.pages[i].invalid).collect()
}

/// The feed's entries, newest first, with their Atom dates: entries of the
/// configured collections that have a date and are not drafts, at most `limit`.
pub(super) fn feed_entries(site: &Site) -> Vec<(usize, String)> {
    let Some(feed) = &site.config.feed else { return Vec::new() };
    let mut dated: Vec<(usize, String)> = feed
        .collections
        .iter()
        .filter_map(|c| site.graph.collections.get(c))
        .flatten()
        .filter(|&&i| !site.pages[i].draft)
        .filter_map(|&i| {
            let date = match site.pages[i].fields.get(&feed.date)?.when()? {
                crate::field::When::Year(year) => format!("{year:04}-01-01T00:00:00Z"),
                crate::field::When::Day(day) => format!("{day}T00:00:00Z"),
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
pub(super) fn feed_value(site: &Site, shared: &SiteValues) -> Value {
    if site.config.feed.is_none() {
        return Value::none();
    }
    let entries = shared.feed(site);
    let updated = entries.first().map_or_else(|| "1970-01-01T00:00:00Z".into(), |(_, d)| d.as_str().into());
    let list: Vec<Value> = entries
        .iter()
        .map(|(i, date)| map([("updated", date.as_str().into()), ("page", shared.cards[*i].clone())]))
        .collect();
    map([("updated", updated), ("entries", Value::from(list))])
}

/// `site.citations`: the citable collections and the fields that make a
/// reference, for bibliography templates.
pub(super) fn citations_value(config: &crate::config::Config) -> Value {
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
pub(super) fn yaml_value(node: &crate::yaml::Node) -> Value {
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

pub(super) fn map<const N: usize>(pairs: [(&'static str, Value); N]) -> Value {
    let mut m = tera::Map::with_capacity(N);
    for (k, v) in pairs {
        m.insert(k.into(), v);
    }
    Value::from(m)
}

pub(super) fn map_owned(pairs: Vec<(String, Value)>) -> Value {
    let mut m = tera::Map::with_capacity(pairs.len());
    for (k, v) in pairs {
        m.insert(k.into(), v);
    }
    Value::from(m)
}

pub(super) fn cards_of(list: &[usize], cards: &[Value]) -> Value {
    Value::from(list.iter().map(|&i| cards[i].clone()).collect::<Vec<_>>())
}

/// A list of pages that a page's context shows.
#[derive(Clone, Copy)]
pub(super) enum List<'a> {
    ReferencedBy(&'a str),
    CitedBy,
    LinkedFrom,
    References,
    Entries,
    Prev,
    Next,
}

impl List<'_> {
    pub(super) fn name(&self) -> &str {
        match self {
            List::ReferencedBy(field) => field,
            List::CitedBy => "cited_by",
            List::LinkedFrom => "linked_from",
            List::References => "references",
            List::Entries => "entries",
            List::Prev => "prev",
            List::Next => "next",
        }
    }
}

/// Every list of pages that page `i`'s context shows, in a fixed order, as
/// the link stage keeps it. The context and its dependency fingerprint
/// (`Job::deps`) are both made from this one walk, so the fingerprint covers
/// exactly what a template can see of other pages. How the context orders
/// them (references by label, backlinks by title) comes from those pages'
/// cards, which the fingerprint follows too: the walk itself allocates
/// nothing, as it runs for every output when lists may have changed.
pub(super) fn page_lists<'s>(site: &'s Site, i: usize, mut visit: impl FnMut(List<'s>, &'s [usize])) {
    let b = &site.graph.backlinks[i];
    for (field, list) in &b.referenced_by {
        visit(List::ReferencedBy(field), list);
    }
    visit(List::CitedBy, &b.cited_by);
    visit(List::LinkedFrom, &b.linked_from);
    visit(List::References, &site.graph.cites[i]);
    visit(List::Entries, section_entries(site, i));
    visit(List::Prev, site.graph.prev[i].as_slice());
    visit(List::Next, site.graph.next[i].as_slice());
}

/// The current page: its card plus content, contents, the lists of
/// `page_lists`, and `backlinks`, every page that refers to, cites or links
/// to it once, by title.
pub(super) fn page_value(site: &Site, i: usize, shared: &SiteValues) -> Value {
    let cards = &shared.cards;
    let page = &site.pages[i];
    let mut m = cards[i].as_map().cloned().unwrap_or_default();
    let body = page.md.body(&page.file, &site.resolver());
    let toc: Vec<Value> = body
        .toc
        .iter()
        .map(|h| map([("level", h.level.into()), ("id", h.id.as_str().into()), ("title", h.title.as_str().into())]))
        .collect();
    m.insert("content".into(), Value::safe_string(&body.html));
    m.insert("toc".into(), Value::from(toc));
    let mut referenced_by = Vec::new();
    let mut backlinks: Vec<usize> = Vec::new();
    page_lists(site, i, |list, pages| {
        let value = match list {
            List::Prev | List::Next => pages.first().map_or_else(Value::none, |&n| cards[n].clone()),
            List::References => cards_of(&by_label(site, pages), cards),
            _ => cards_of(pages, cards),
        };
        if matches!(list, List::ReferencedBy(_) | List::CitedBy | List::LinkedFrom) {
            backlinks.extend(pages);
        }
        match list {
            List::ReferencedBy(field) => referenced_by.push((field.to_string(), value)),
            other => {
                m.insert(other.name().to_string().into(), value);
            }
        }
    });
    backlinks.sort_by(|&x, &y| site.pages[x].title.cmp(&site.pages[y].title).then(x.cmp(&y)));
    backlinks.dedup();
    m.insert("backlinks".into(), cards_of(&backlinks, cards));
    m.insert("referenced_by".into(), map_owned(referenced_by));
    Value::from(m)
}

/// Cited pages by label, as a references list shows them.
fn by_label(site: &Site, cites: &[usize]) -> Vec<usize> {
    let mut refs = cites.to_vec();
    refs.sort_by(|&a, &b| site.pages[a].citation.cmp(&site.pages[b].citation).then(a.cmp(&b)));
    refs
}

/// A collection's entries, if page `i` is that collection's section.
pub(super) fn section_entries(site: &Site, i: usize) -> &[usize] {
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

pub(super) fn term_value(term: &Term, cards: &[Value]) -> Value {
    map([
        ("name", term.name.as_str().into()),
        ("slug", term.slug.as_str().into()),
        ("url", term.url.as_str().into()),
        ("count", term.pages.len().into()),
        ("pages", cards_of(&term.pages, cards)),
    ])
}

/// A taxonomy as a term's page sees it: each term's name, slug, URL and
/// count, but not its pages (the page's own term has them, as `term`). A
/// change to another term's entries that leaves its count alone then
/// leaves the page alone (`Job::deps`: `Taxonomy::outline`).
pub(super) fn taxonomy_outline(tax: &Taxonomy) -> Value {
    let terms: Vec<Value> = tax
        .terms
        .iter()
        .map(|t| {
            let (name, slug, url) = (t.name.as_str(), t.slug.as_str(), t.url.as_str());
            map([("name", name.into()), ("slug", slug.into()), ("url", url.into()), ("count", t.pages.len().into())])
        })
        .collect();
    map([("name", tax.name.as_str().into()), ("url", tax.url.as_str().into()), ("terms", Value::from(terms))])
}

pub(super) fn taxonomy_value(tax: &Taxonomy, terms: &[Value]) -> Value {
    map([("name", tax.name.as_str().into()), ("url", tax.url.as_str().into()), ("terms", Value::from(terms.to_vec()))])
}
