//! What each output's context lists of other pages, folded into a
//! fingerprint: equal fingerprints and unchanged cards, an unchanged context.

use super::*;

/// The pages (and markers) whose cards make up global `global`.
pub(super) fn global_deps(site: &Site, shared: &SiteValues, global: Global, deps: &mut Deps) {
    match global {
        Global::Collections => {
            for (collection, list) in &site.graph.collections {
                deps.marker(collection);
                deps.pages(list);
            }
        }
        Global::Pages => deps.pages(&published(site)),
        Global::Feed => {
            for &(i, _) in shared.feed(site) {
                deps.page(i);
            }
        }
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
/// with what their cards are; allocates nothing, since it runs for every
/// output on every rebuild.
pub(super) struct Deps<'a> {
    pub(super) site: &'a Site,
    cards: Cards<'a>,
    pub(super) hasher: ahash::AHasher,
    /// Whether the card of a page walked changed (with `Cards::Changed`).
    pub(super) changed: bool,
}

/// What the fingerprint knows of each page's card.
enum Cards<'a> {
    /// Per page, whether its card changed since the last render: the
    /// preview, which compares the cards it keeps.
    Changed(&'a [bool]),
    /// Per page, a hash of its card: a build, which keeps none (see `keys`).
    Hashes(&'a [u64]),
}

impl<'a> Deps<'a> {
    pub(super) fn new(site: &'a Site, card_changed: &'a [bool]) -> Self {
        Deps { site, cards: Cards::Changed(card_changed), hasher: crate::fingerprint_hasher(), changed: false }
    }

    pub(super) fn by_content(site: &'a Site, card_hashes: &'a [u64]) -> Self {
        Deps { site, cards: Cards::Hashes(card_hashes), hasher: crate::fingerprint_hasher(), changed: false }
    }

    pub(super) fn page(&mut self, i: usize) {
        use std::hash::Hash;
        self.site.pages[i].rel.hash(&mut self.hasher);
        match self.cards {
            Cards::Changed(changed) => self.changed |= changed[i],
            Cards::Hashes(hashes) => hashes[i].hash(&mut self.hasher),
        }
    }

    pub(super) fn pages(&mut self, list: &[usize]) {
        list.iter().for_each(|&i| self.page(i));
    }

    /// Taxonomy `t`'s outline (see `Taxonomy::outline`): what a term's page
    /// shows of the other terms.
    pub(super) fn outline(&mut self, t: usize) {
        use std::hash::Hash;
        self.site.graph.taxonomies[t].outline.hash(&mut self.hasher);
    }

    /// Separates lists, so that a page moving from one list to the next counts.
    pub(super) fn marker(&mut self, name: &str) {
        use std::hash::Hash;
        (0u8, name).hash(&mut self.hasher);
    }

    pub(super) fn hash(&self) -> u64 {
        use std::hash::Hasher;
        self.hasher.finish()
    }
}

pub(super) fn term_deps(site: &Site, t: usize, only: Option<usize>, deps: &mut Deps) {
    let tax = &site.graph.taxonomies[t];
    deps.marker(&tax.name);
    for (_, term) in tax.terms.iter().enumerate().filter(|(k, _)| only.is_none_or(|o| o == *k)) {
        deps.marker(&term.name);
        deps.pages(&term.pages);
    }
}
