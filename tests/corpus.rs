//! The benchmark corpus (benches/corpus.rs) is deterministic and builds.

// The harness's own module, compiled here for its tests; the tests use the
// Annals flavour only.
#[allow(dead_code)]
#[path = "../benches/corpus.rs"]
mod corpus;

use corpus::{Flavour, generate};
use std::path::Path;

#[test]
fn same_seed_same_corpus() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate(a.path(), 30, 7, Flavour::Annals).unwrap();
    generate(b.path(), 30, 7, Flavour::Annals).unwrap();
    let read = |d: &Path| std::fs::read_to_string(d.join("content/studies/study-000005.md")).unwrap();
    assert_eq!(read(a.path()), read(b.path()));
    assert!(read(a.path()).len() > 2500, "pages should be about 3 KB");
}

#[test]
fn the_corpus_builds_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), 40, 1, Flavour::Annals).unwrap();
    let built = annals::engine::generate(&annals::engine::Options::new(dir.path())).expect("corpus builds");
    assert_eq!(built.pages, 40);
}

#[test]
fn the_corpus_has_no_warnings() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), 60, 3, Flavour::Annals).unwrap();
    let built = annals::engine::generate(&annals::engine::Options::new(dir.path())).expect("corpus builds");
    assert!(built.warnings.is_empty(), "{:?}", built.warnings);
}
