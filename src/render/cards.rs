//! Cards: each page's template value, built once, shared by reference
//! count wherever the page is listed, and kept between builds while what it
//! shows is unchanged.

use super::*;

/// Cards of every page: cached ones whose inputs are unchanged, new ones
/// for the rest, and for each page whether its card differs from last time.
pub(super) fn build_cards(site: &Site, cache: &mut RenderCache, same_landscape: bool) -> (Vec<Value>, Vec<bool>) {
    // While no page shows others anything new, a card whose own inputs are
    // the same is the same: skip fingerprinting what it shows of others.
    // Made only if some card is made: a rebuild usually makes one or none.
    let maker = OnceLock::new();
    let stubs = stub_slots(site);
    let rels: Vec<&str> = site.pages.iter().map(|p| p.rel.as_str()).collect();
    let kept = match_kept(&rels, std::mem::take(&mut cache.cards), |c| &c.rel);
    let built: Vec<(bool, CachedCard)> = site
        .pages
        .par_iter()
        .zip(kept)
        .map(|(page, cached)| {
            let same_inputs =
                cached.as_ref().is_some_and(|c| Arc::ptr_eq(&c.fields, &page.fields) && Arc::ptr_eq(&c.md, &page.md));
            let key =
                if same_inputs && same_landscape { cached.as_ref().map_or(0, |c| c.key) } else { card_key(site, page) };
            match cached {
                Some(c) if same_inputs && c.key == key => (false, c),
                previous => {
                    let value = maker.get_or_init(|| CardMaker::new(site, &stubs)).card(page);
                    let changed = previous.is_none_or(|c| c.value != value);
                    let rel = page.rel.clone();
                    (changed, CachedCard { rel, fields: page.fields.clone(), md: page.md.clone(), key, value })
                }
            }
        })
        .collect();
    let mut cards = Vec::with_capacity(built.len());
    let mut changed = Vec::with_capacity(built.len());
    for (is_changed, card) in built {
        cards.push(card.value.clone());
        changed.push(is_changed);
        cache.cards.push(card);
    }
    (cards, changed)
}

/// The cards of the `affected` pages made again in `cards` where their
/// fields, Markdown or what they show of others (unless `same_landscape`)
/// changed; the rest are the last render's, of the same pages. Per page,
/// whether its card changed.
pub(super) fn patch_cards(
    site: &Site,
    cache: &mut RenderCache,
    cards: &mut [Value],
    affected: &[usize],
    same_landscape: bool,
) -> Vec<bool> {
    let mut changed = vec![false; site.pages.len()];
    let stubs = stub_slots(site);
    let maker = CardMaker::new(site, &stubs);
    for &i in affected {
        let page = &site.pages[i];
        let cached = &mut cache.cards[i];
        let same_inputs = Arc::ptr_eq(&cached.fields, &page.fields) && Arc::ptr_eq(&cached.md, &page.md);
        if same_inputs && same_landscape {
            continue;
        }
        let key = card_key(site, page);
        if same_inputs && key == cached.key {
            continue;
        }
        let value = maker.card(page);
        changed[i] = cached.value != value;
        let (rel, fields, md) = (page.rel.clone(), page.fields.clone(), page.md.clone());
        *cached = CachedCard { rel, fields, md, key, value: value.clone() };
        cards[i] = value;
    }
    changed
}

/// The cards of a one-off build, each page letting go of its typed fields
/// (and what else only earlier stages read, see `Page::let_go_after_card`)
/// as soon as its card is made: nothing else reads them after (the search
/// index and the feed's dates are made before), and the fields of 100,000
/// pages, 140 MB, were held beside all their cards. In slices, so that the
/// pages can be changed between them; the stubs are shared by all.
pub(super) fn cards_letting_pages_go(site: &mut Site) -> Vec<Value> {
    const SLICE: usize = 4096;
    let stubs = stub_slots(site);
    let none = Arc::default();
    let mut cards = Vec::with_capacity(site.pages.len());
    let mut let_go = 0;
    for start in (0..site.pages.len()).step_by(SLICE) {
        let end = (start + SLICE).min(site.pages.len());
        let maker = CardMaker::new(site, &stubs);
        cards.par_extend(site.pages[start..end].par_iter().map(|page| maker.card(page)));
        let_go +=
            site.pages[start..end].par_iter_mut().map(|page| usize::from(page.let_go_after_card(&none))).sum::<usize>();
    }
    debug_assert_eq!(let_go, site.pages.len(), "a page's record is held elsewhere: its fields stay");
    cards
}

fn stub_slots(site: &Site) -> Vec<OnceLock<Value>> {
    (0..site.pages.len()).map(|_| OnceLock::new()).collect()
}

/// A fingerprint of what a card shows besides its fields and Markdown:
/// its own title, URL and label, and those of the entries it references.
pub(super) fn card_key(site: &Site, page: &Page) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = crate::fingerprint_hasher();
    (&page.title, &page.url, &page.citation, &page.description, page.draft, &page.collection).hash(&mut h);
    for value in page.fields.values() {
        hash_stubs(site, value, &mut h);
    }
    h.finish()
}

pub(super) fn hash_stubs(site: &Site, value: &FieldValue, h: &mut impl std::hash::Hasher) {
    use std::hash::Hash;
    value.references(&mut |r| {
        let target = site.entry_index(&r.to, &r.id.value).map(|i| &site.pages[i]);
        (&r.id.value, target.map(|p| (&p.url, &p.title, &p.citation))).hash(h);
    });
}

pub(super) fn opt(s: Option<&str>) -> Value {
    s.map_or_else(Value::none, Value::from)
}

pub(super) fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Entry { .. } => "entry",
        Kind::Section => "section",
        Kind::Page => "page",
    }
}

/// Makes cards, sharing the values that many cards hold alike: field names,
/// the stub of each referenced entry, the link to each taxonomy term. An
/// era's stub is then one value however many studies name the era.
pub(super) struct CardMaker<'a> {
    pub(super) site: &'a Site,
    pub(super) names: HashMap<&'a str, Key<'static>>,
    /// Per page, its stub once made (see `stub_slots`).
    pub(super) stubs: &'a [OnceLock<Value>],
    /// Per taxonomy, per term: `{name, url}`.
    pub(super) terms: Vec<Vec<Value>>,
}

impl<'a> CardMaker<'a> {
    pub(super) fn new(site: &'a Site, stubs: &'a [OnceLock<Value>]) -> Self {
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
        CardMaker { site, names, stubs, terms }
    }

    pub(super) fn key(&self, name: &str) -> Key<'static> {
        self.names.get(name).cloned().unwrap_or_else(|| Key::String(Arc::from(name)))
    }

    /// A small value for a referenced entry: enough to link to it.
    pub(super) fn stub(&self, collection: &str, id: &str) -> Value {
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

    pub(super) fn field_value(&self, page: &Page, name: &str, value: &FieldValue) -> Value {
        let html = || {
            let html = page.md.text_fields.iter().find(|(n, _)| n == name).map(|(_, h)| h.clone());
            html.unwrap_or_else(|| Value::safe_string(""))
        };
        value.to_template(&html, &|r| self.stub(&r.to, &r.id.value))
    }

    /// The value every listing of a page shares. Every field its collection
    /// declares is present (`none` when unset), so templates can test it plainly.
    pub(super) fn card(&self, page: &Page) -> Value {
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
            let names = page.fields.get(&tax.name).map(FieldValue::terms).unwrap_or_default();
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
