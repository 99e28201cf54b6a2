//! Keys: a fingerprint of everything an output is made from, the same in
//! every run of one annals binary. Where the preview compares the values it
//! kept from the last render (`Freshness`), a build has kept nothing, so it
//! fingerprints content instead: each card, each page's text and what its
//! links resolved to, the templates' text, the configuration. The same key,
//! the same bytes: the sink may keep the file that the last build made
//! from that key (`output::Sink::reuse`) rather than render it again.

use super::*;
use std::hash::{Hash, Hasher};

pub(super) struct Keys<'a> {
    site: &'a Site,
    templates: &'a Templates,
    /// What every output is made from: the binary, the configuration, the
    /// templates, what `url_for` resolves, the options.
    run: u64,
    /// Per page, a hash of its card.
    cards: Vec<u64>,
    /// Per global, a hash of the cards it lists.
    globals: HashMap<Global, u64>,
}

impl<'a> Keys<'a> {
    pub(super) fn new(
        site: &'a Site,
        shared: &SiteValues,
        templates: &'a Templates,
        options: &RenderOptions,
    ) -> Keys<'a> {
        let mut h = crate::fingerprint_hasher();
        (crate::made_with(&site.config), templates.texts_hash()).hash(&mut h);
        (templates.targets_fingerprint, &options.inject).hash(&mut h);
        let cards: Vec<u64> = shared.cards.par_iter().map(card_hash).collect();
        let globals = Global::ALL
            .into_iter()
            .map(|g| {
                let mut deps = Deps::by_content(site, &cards);
                global_deps(site, shared, g, &mut deps);
                (g, deps.hash())
            })
            .collect();
        Keys { site, templates, run: h.finish(), cards, globals }
    }

    /// The key of `job`: the same as the last build's, its output is the same.
    pub(super) fn of(&self, job: &Job) -> u64 {
        let mut deps = Deps::by_content(self.site, &self.cards);
        (self.run, &*job.path, &*job.template).hash(&mut deps.hasher);
        // A page's own card, and every list of pages its context shows.
        job.deps(self.site, &mut deps);
        if let Subject::Page(i) = job.what {
            // Its body, which is not in its card.
            self.site.pages[i].md.made_from().hash(&mut deps.hasher);
        }
        for g in self.templates.globals_used(&job.template) {
            (g, self.globals[&g]).hash(&mut deps.hasher);
        }
        deps.hash()
    }
}

/// A hash of a card's content (Tera's values have no `Hash`): kinds,
/// strings and whether each is safe, numbers, keys in their order.
fn card_hash(card: &Value) -> u64 {
    let mut h = crate::fingerprint_hasher();
    hash_value(card, &mut h);
    h.finish()
}

fn hash_value(value: &Value, h: &mut ahash::AHasher) {
    use tera::value::ValueKind;
    let kind = value.kind();
    kind.hash(h);
    match kind {
        ValueKind::String => (value.as_str(), value.is_safe()).hash(h),
        ValueKind::Bool => value.as_bool().hash(h),
        ValueKind::F64 => value.as_f64().map(f64::to_bits).hash(h),
        ValueKind::U64 | ValueKind::I64 | ValueKind::U128 | ValueKind::I128 => {
            (value.as_i128(), value.as_u128()).hash(h)
        }
        ValueKind::Bytes => value.as_bytes().hash(h),
        ValueKind::Array => {
            let items = value.as_array().unwrap_or_default();
            items.len().hash(h);
            items.iter().for_each(|v| hash_value(v, h));
        }
        ValueKind::Map => {
            let map = value.as_map();
            map.map_or(0, |m| m.len()).hash(h);
            for (key, v) in map.into_iter().flatten() {
                key.hash(h);
                hash_value(v, h);
            }
        }
        // None, undefined, and any kind Tera adds: its text.
        _ => value.to_string().hash(h),
    }
}
