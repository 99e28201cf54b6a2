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
    /// `None` if the running binary cannot be told apart from another
    /// build of annals (see `binary`): then nothing is reused.
    pub(super) fn new(
        site: &'a Site,
        shared: &SiteValues,
        templates: &'a Templates,
        options: &RenderOptions,
    ) -> Option<Keys<'a>> {
        let mut h = crate::fingerprint_hasher();
        // Every field of the configuration, with no `Hash` to keep in step with it.
        (binary()?, format!("{:?}", site.config), templates.texts_hash()).hash(&mut h);
        (templates.targets_fingerprint, &options.inject).hash(&mut h);
        let cards = shared.cards.par_iter().map(card_hash).collect::<Option<Vec<u64>>>()?;
        let globals = Global::ALL
            .into_iter()
            .map(|g| {
                let mut deps = Deps::by_content(site, &cards);
                global_deps(site, g, &mut deps);
                (g, deps.hash())
            })
            .collect();
        Some(Keys { site, templates, run: h.finish(), cards, globals })
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

/// A hash of a card as JSON (Tera's values have no `Hash`); `None` for one
/// that JSON cannot hold, which no card is.
fn card_hash(card: &Value) -> Option<u64> {
    struct Hashing(ahash::AHasher);
    impl std::io::Write for Hashing {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.write(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut hashing = Hashing(crate::fingerprint_hasher());
    serde_json::to_writer(&mut hashing, card).ok()?;
    Some(hashing.0.finish())
}

/// The running binary, told apart by its version, size and modification
/// time, so that a key made by another build of annals, which may render
/// the same inputs differently, is never taken for one of this build's.
fn binary() -> Option<u64> {
    static BINARY: OnceLock<Option<u64>> = OnceLock::new();
    *BINARY.get_or_init(|| {
        let meta = std::fs::metadata(std::env::current_exe().ok()?).ok()?;
        let mut h = crate::fingerprint_hasher();
        (env!("CARGO_PKG_VERSION"), meta.len(), meta.modified().ok()?).hash(&mut h);
        Some(h.finish())
    })
}
