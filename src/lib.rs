//! annals: a static site generator for cross-linked research histories.
//!
//! The build is a pipeline of stages (see [`pipeline`]); each module is one
//! stage or one piece of data the stages share.

pub mod config;
pub mod content;
pub mod corpus;
pub mod dependencies;
pub mod diagnostics;
pub mod engine;
pub mod highlight;
pub mod markdown;
pub mod output;
pub mod render;
pub mod schema;
pub mod serve;
pub mod site;
pub mod slug;
pub mod theme;
pub mod yaml;
