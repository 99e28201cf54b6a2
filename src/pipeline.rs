//! One build, as a straight line of timed stages: load, validate,
//! markdown, link, render, write. Each stage's diagnostics are collected;
//! the build fails after the last stage that can still find errors, so that
//! one run reports everything.

use rayon::prelude::*;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::diagnostics::{self, Diagnostic};
use crate::output::Copy;
use crate::render::{Output, Templates};
use crate::site::Skeleton;
use crate::{config, content, output, render, schema, theme};

/// What to build and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The site root: the folder holding `site.yaml`.
    pub root: PathBuf,
    /// The output folder; relative paths are under `root`.
    pub output: PathBuf,
    /// Include `draft: true` pages.
    pub drafts: bool,
    /// Replaces `base_url` from `site.yaml` (the preview server uses `/`).
    pub base_url: Option<String>,
    /// HTML inserted before `</body>` (the preview server's live reload).
    pub inject: Option<String>,
}

impl Options {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Options { root: root.into(), output: PathBuf::from("public"), drafts: false, base_url: None, inject: None }
    }

    pub fn output_dir(&self) -> PathBuf {
        self.root.join(&self.output)
    }
}

/// How long each stage took.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    pub stages: Vec<(&'static str, Duration)>,
}

impl Timings {
    fn time<T>(&mut self, stage: &'static str, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let value = f();
        self.stages.push((stage, start.elapsed()));
        value
    }

    pub fn total(&self) -> Duration {
        self.stages.iter().map(|(_, d)| *d).sum()
    }
}

/// The result of a build that succeeded.
#[derive(Debug)]
pub struct Built {
    /// Rendered HTML files.
    pub outputs: Vec<Output>,
    /// Files copied as they are.
    pub copies: Vec<Copy>,
    /// Number of content pages (without taxonomy and 404 pages).
    pub pages: usize,
    pub timings: Timings,
}

/// Runs every stage but writing.
pub fn generate(options: &Options) -> Result<Built, Vec<Diagnostic>> {
    let mut t = Timings::default();
    let root = &options.root;
    let mut config = config::load(root)?;
    if let Some(base) = &options.base_url {
        config.base_url = if base.ends_with('/') { base.clone() } else { format!("{base}/") };
    }
    let mut errors = Vec::new();

    let (content, load_errors) = t.time("load", || content::load(root, &config));
    errors.extend(load_errors);

    let validated: Vec<_> = t.time("validate", || {
        content
            .sources
            .into_par_iter()
            .map(|s| {
                let (meta, errs) = schema::validate(&s, &config);
                (s, meta, errs)
            })
            .collect()
    });
    let mut sources = Vec::with_capacity(validated.len());
    for (s, meta, errs) in validated {
        errors.extend(errs);
        sources.push((s, meta));
    }

    let (skeleton, errs) = Skeleton::new(config, sources, options.drafts);
    errors.extend(errs);
    let (skeleton, errs) = t.time("markdown", || skeleton.render_markdown());
    errors.extend(errs);
    let (site, errs) = t.time("link", || skeleton.link());
    errors.extend(errs);

    let files = theme::load(root, &site.config.theme).map_err(|d| vec![d])?;
    let mut copies: Vec<Copy> = files.statics.iter().map(|(p, o)| Copy { path: p.clone(), from: o.clone() }).collect();
    let content_dir = root.join(content::CONTENT_DIR);
    copies.extend(content.assets.iter().map(|a| Copy {
        path: a.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"),
        from: theme::Origin::Disk(content_dir.join(a)),
    }));
    let targets = render::Targets {
        base_url: site.config.base_url.clone(),
        pages: site.pages.iter().map(|p| (p.rel.clone(), p.url.clone())).collect(),
        statics: copies.iter().map(|c| c.path.clone()).collect(),
    };
    let render_options = render::Options { inject: options.inject.clone() };
    let outputs = t.time("render", || match Templates::load(root, &files, targets) {
        Ok(mut templates) => {
            let (outputs, errs) = render::render(&site, &mut templates, &render_options);
            errors.extend(errs);
            outputs
        }
        Err(errs) => {
            errors.extend(errs);
            Vec::new()
        }
    });
    errors.extend(path_collisions(&outputs, &copies));
    if !errors.is_empty() {
        diagnostics::normalize(&mut errors);
        return Err(errors);
    }
    Ok(Built { outputs, copies, pages: site.pages.len(), timings: t })
}

/// Two things written to one path: say which, rather than let one win.
fn path_collisions(outputs: &[Output], copies: &[Copy]) -> Vec<Diagnostic> {
    let mut seen = HashSet::with_capacity(outputs.len() + copies.len());
    outputs
        .iter()
        .map(|o| o.path.as_str())
        .chain(copies.iter().map(|c| c.path.as_str()))
        .filter(|p| !seen.insert(*p))
        .map(|p| Diagnostic::file(p, "two pages or files would be written to this output path"))
        .collect()
}

/// Builds the site and writes it, replacing the output folder only on success.
pub fn build(options: &Options) -> Result<Built, Vec<Diagnostic>> {
    let mut built = generate(options)?;
    let out = options.output_dir();
    let started = Instant::now();
    output::write(&out, &built.outputs, &built.copies)
        .map_err(|e| vec![Diagnostic::file(display(&options.root, &out), format!("cannot write the site: {e}"))])?;
    built.timings.stages.push(("write", started.elapsed()));
    Ok(built)
}

fn display(root: &Path, p: &Path) -> PathBuf {
    p.strip_prefix(root).unwrap_or(p).to_path_buf()
}
