//! annals: a static site generator for cross-linked research histories.
//!
//! The build is a pipeline of stages (see [`engine`]); each module is one
//! stage or one piece of data the stages share.

pub mod config;
pub mod content;
pub mod dependencies;
pub mod diagnostics;
pub mod engine;
pub mod field;
pub mod highlight;
pub mod inputs;
pub mod kept;
pub mod markdown;
pub mod names;
pub mod output;
pub mod render;
pub mod scaffold;
pub mod schema;
pub mod search;
pub mod serve;
pub mod site;
pub mod slug;
pub mod theme;
pub mod yaml;

/// Maps keyed by paths and ids sit on every rebuild's hot path: ahash is
/// several times faster than std's SipHash, and none of these maps takes
/// keys from a network peer, so SipHash's flooding resistance buys nothing.
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;
pub(crate) type HashSet<K> = std::collections::HashSet<K, ahash::RandomState>;

/// A hasher for fingerprints compared across builds: fixed seeds, so that
/// equal inputs give equal fingerprints in every run of one binary.
pub(crate) fn fingerprint_hasher() -> ahash::AHasher {
    use std::hash::BuildHasher;
    ahash::RandomState::with_seeds(0x616e, 0x6e61, 0x6c73, 0x2021).build_hasher()
}

/// A fingerprint of what a build's every output is made from besides the
/// content: the sources this binary of annals was compiled from (its code,
/// its default theme, its crates' versions; see `build.rs`), so that one
/// build of annals never takes a fingerprint of another, which may render
/// the same inputs differently, while the same sources compiled again do;
/// and the configuration (every field, by its `Debug` text: no `Hash` to
/// keep in step with it).
pub(crate) fn made_with(config: &config::Config) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = fingerprint_hasher();
    (env!("ANNALS_BUILT_FROM"), format!("{config:?}")).hash(&mut h);
    h.finish()
}
