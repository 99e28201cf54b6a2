//! What each output's context lists of other pages, folded into a
//! fingerprint: equal fingerprints and unchanged cards, an unchanged context.

use super::*;

/// The pages (and markers) whose cards make up global `global`.
pub(super) fn global_deps(site: &Site, global: Global, deps: &mut Deps) {
    match global {
        Global::Collections => {
            for (collection, list) in &site.graph.collections {
                deps.marker(collection);
                deps.pages(list);
            }
        }
        Global::Pages => deps.pages(&published(site)),
        Global::Feed => deps.pages(&feed_entries(site).into_iter().map(|(i, _)| i).collect::<Vec<_>>()),
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
/// and noting whether any of their cards changed; allocates nothing, since
/// it runs for every output on every rebuild.
pub(super) struct Deps<'a> {
    pub(super) site: &'a Site,
    pub(super) card_changed: &'a [bool],
    pub(super) hasher: ahash::AHasher,
    pub(super) changed: bool,
}

impl<'a> Deps<'a> {
    pub(super) fn new(site: &'a Site, card_changed: &'a [bool]) -> Self {
        Deps { site, card_changed, hasher: crate::fingerprint_hasher(), changed: false }
    }

    pub(super) fn page(&mut self, i: usize) {
        use std::hash::Hash;
        self.site.pages[i].rel.hash(&mut self.hasher);
        self.changed |= self.card_changed[i];
    }

    pub(super) fn pages(&mut self, list: &[usize]) {
        list.iter().for_each(|&i| self.page(i));
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
