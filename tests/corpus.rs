//! The benchmark corpus (benches/corpus.rs) is deterministic and builds.

#[path = "../benches/corpus.rs"]
mod corpus;
