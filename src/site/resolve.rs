//! The markdown stage over the skeleton: each page's Markdown turned into
//! facts (headings, summary, links, citations), with `@/` links and
//! citations resolved against every page's URL and label.

use super::*;

/// A file's source as the load stage holds it, by its path under
/// `content/`: perhaps without its body (see `render_markdown`).
pub type SourceOf<'a> = dyn Fn(&str) -> Option<Arc<Source>> + Sync + 'a;

impl Skeleton {
    /// Renders the Markdown of every page whose last rendering is stale
    /// (its file changed, or a page it links to or cites changed URL or
    /// label), in parallel, reading its text with `source_of` (by path under
    /// `content/`; a body that cannot be read again is an error of the
    /// page's Markdown). Returns the pages rendered.
    /// With `kept`, a page's facts that the last one-off build made from the
    /// same text are taken while its links and citations resolve the same.
    pub fn render_markdown(
        &mut self,
        source_of: &SourceOf<'_>,
        cache: &mut MarkdownCache,
        kept: Option<&KeptFacts>,
    ) -> Vec<usize> {
        let resolver = self.resolver();
        let stale: Vec<usize> = match &self.delta {
            // The same pages with the same URLs and labels: only the files
            // read again can render differently.
            Some(delta) => delta.replaced.iter().map(|&(i, _)| i).collect(),
            None => {
                // While no page's URL, label or draft state changed, no link or
                // citation can resolve differently: skip asking each one.
                let facts = self.facts_fingerprint();
                let facts_changed = std::mem::replace(&mut cache.facts, facts) != facts;
                (0..self.pages.len())
                    .into_par_iter()
                    .filter(|&i| {
                        let page = &self.pages[i];
                        !page.is_generated()
                            && page.rendered().is_none_or(|md| {
                                md.errors.iter().any(Diagnostic::is_error)
                                    || (facts_changed && resolver.facts(&md.deps) != md.facts)
                            })
                    })
                    .collect()
            }
        };
        let rendered: Vec<Option<Markdown>> = stale
            .par_iter()
            .map(|&i| {
                let page = &self.pages[i];
                source_of(&page.rel).map(|held| facts_of(page, &held, &resolver, kept))
            })
            .collect();
        for (&i, md) in stale.iter().zip(rendered) {
            let md = Arc::new(md.unwrap_or_default());
            self.pages[i].keep_rendered(md.clone());
            self.pages[i].md = md;
        }
        // Which pages have diagnostics: the last build's, updated for those rendered.
        let has_errors = |i: &usize| !self.pages[*i].md.errors.is_empty();
        if self.delta.is_some() {
            self.md_errors.retain(|i| !stale.contains(i));
            self.md_errors.extend(stale.iter().filter(|i| has_errors(i)));
            self.md_errors.sort_unstable();
        } else {
            self.md_errors = (0..self.pages.len()).filter(has_errors).collect();
        }
        stale
    }

    fn resolver(&self) -> Resolver<'_> {
        Resolver { config: &self.config, pages: &self.pages, sources: &self.sources }
    }

    /// A fingerprint of everything a link or citation can learn of a page
    /// (see [`Resolver::facts`]), for every page.
    fn facts_fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = crate::fingerprint_hasher();
        for p in &self.pages {
            (&p.rel, &p.url, &p.citation).hash(&mut h);
        }
        sorted(&self.sources.drafts).hash(&mut h);
        sorted(&self.sources.assets).hash(&mut h);
        h.finish()
    }

    /// Every error of the markdown stage, cached or fresh.
    pub fn markdown_errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.md_errors.iter().flat_map(|&i| &self.pages[i].md.errors)
    }
}

/// Links and citations resolved against the pages: by the markdown stage
/// (over the skeleton) and when a page's body is written (over the site).
pub struct Resolver<'a> {
    pub(super) config: &'a Config,
    pub(super) pages: &'a [Page],
    pub(super) sources: &'a Sources,
}

impl Resolver<'_> {
    /// The path under `content/` of citable entry `id`: where it is, else
    /// where a draft of it is, else where the first citable collection
    /// would hold it.
    fn citation_rel(&self, id: &str) -> String {
        let config = self.config;
        let names = config.citations.as_ref().map_or(&[][..], |c| c.collections.as_slice());
        let rels: Vec<String> =
            names.iter().filter_map(|name| config.collection(name)).map(|c| format!("{}/{id}.md", c.folder)).collect();
        let found = rels.iter().find(|rel| self.sources.by_rel.contains_key(*rel));
        let found = found.or_else(|| rels.iter().find(|rel| self.sources.drafts.contains(*rel)));
        found.or(rels.first()).cloned().unwrap_or_else(|| format!("/{id}.md"))
    }

    /// A fingerprint of what resolving a link or citation to each of `rels`
    /// yields: the page's URL and label, or its absence (and whether it is a
    /// draft, which changes the error).
    fn facts(&self, rels: &[String]) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = crate::fingerprint_hasher();
        for rel in rels {
            match self.sources.by_rel.get(rel) {
                Some(&i) => (0u8, &self.pages[i].url, &self.pages[i].citation).hash(&mut h),
                None => (1u8, self.sources.drafts.contains(rel), self.sources.assets.contains(rel)).hash(&mut h),
            }
        }
        h.finish()
    }
}

impl Resolve for Resolver<'_> {
    fn cites(&self) -> bool {
        self.config.citations.is_some()
    }

    fn external_links(&self) -> crate::config::ExternalLinks {
        self.config.external_links
    }

    fn is_asset(&self, rel: &str) -> bool {
        self.sources.assets.contains(rel)
    }

    fn base_url(&self) -> &str {
        &self.config.base_url
    }

    fn url(&self, rel: &str) -> Result<&str, Unresolved> {
        let s = self;
        if let Some(&i) = s.sources.by_rel.get(rel) {
            return Ok(&s.pages[i].url);
        }
        let mut d = Unresolved::new(format!("broken link: no page at `@/{rel}`"));
        if s.sources.drafts.contains(rel) {
            d = d.with_hint(format!("`@/{rel}` is a draft; build with --drafts or remove the link"));
        } else if let Some(near) = suggest(rel, s.pages.iter().map(|p| p.rel.as_str())) {
            d = d.with_hint(format!("did you mean `@/{near}`?"));
        }
        Err(d)
    }

    fn cite(&self, id: &str) -> Result<(&str, &str), Unresolved> {
        let s = self;
        let Some(c) = &s.config.citations else {
            return Err(Unresolved::new(format!("citation `[@{id}]`, but site.yaml declares no `citations`")));
        };
        let rel = self.citation_rel(id);
        if let Some(page) = s.sources.by_rel.get(&rel).map(|&i| &s.pages[i]) {
            return match &page.citation {
                Some(label) => Ok((label, &page.url)),
                None => Err(Unresolved::new(format!(
                    "cannot cite `@{id}`: the entry has neither authors nor year to make its label"
                ))
                .with_hint(format!("link to it instead: [text](@/{rel})"))),
            };
        }
        let place = match c.collections.as_slice() {
            [one] => format!("collection `{one}`"),
            several => format!("collections {}", crate::names::quoted_list(several)),
        };
        let mut d = Unresolved::new(format!("unknown citation `@{id}`: no entry `{id}` in {place}"));
        if s.sources.drafts.contains(&rel) {
            d = d.with_hint(format!("`{id}` is a draft; build with --drafts or remove the citation"));
        } else {
            let ids = s
                .pages
                .iter()
                .filter(|p| p.citation.is_some() && p.collection.as_ref().is_some_and(|n| c.collections.contains(n)))
                .map(|p| p.id.as_str());
            if let Some(near) = suggest(id, ids) {
                d = d.with_hint(format!("did you mean `@{near}`?"));
            }
        }
        Err(d)
    }
}

/// The Markdown facts of pages as the last one-off build made them, by
/// their file's text and path (see `kept`): taken while what their links
/// and citations resolve to is the same, as the preview reuses its own.
/// Only facts made without diagnostics are kept, so that those are found again.
pub type KeptFacts = crate::kept::Kept<StoredFacts>;

/// What a build keeps its `KeptFacts` under (see `output::Sink::keep`).
pub const FACTS: &str = "markdown";

/// A page's `Markdown` as `KeptFacts` stores it.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct StoredFacts {
    content: Rendered,
    summary: Option<String>,
    text_fields: Vec<(String, String)>,
    deps: Vec<String>,
    facts: u64,
}

/// The Markdown facts of `page`, whose file's source the load stage holds
/// as `held`: those the last build kept of the same text (`kept`, see
/// `KeptFacts`), or made from the body, read again if it was let go of.
fn facts_of(page: &Page, held: &Arc<Source>, resolver: &Resolver, kept: Option<&KeptFacts>) -> Markdown {
    let kept = kept.map(|kept| (kept, kept.key(&(held.text_hash(), &page.rel))));
    if let Some(stored) = kept.and_then(|(kept, key)| kept.take(key, |s| resolver.facts(&s.deps) == s.facts)) {
        let StoredFacts { content, summary, text_fields, deps, facts } = stored;
        return Markdown {
            content,
            summary: summary.map(|s| Value::safe_string(&s)),
            text_fields: text_fields.into_iter().map(|(name, html)| (name, Value::safe_string(&html))).collect(),
            source: Mutex::new(Some(held.clone())),
            unread: Mutex::default(),
            errors: Vec::new(),
            deps,
            facts,
        };
    }
    let source = match held.whole() {
        Ok(source) => source,
        Err(unread) => return Markdown { errors: vec![unread], ..Markdown::default() },
    };
    let md = render_page(page, &source, resolver);
    if let Some((kept, key)) = kept.filter(|_| md.errors.is_empty()) {
        let html = |v: &Value| v.as_str().unwrap_or_default().to_string();
        kept.put(
            key,
            &StoredFacts {
                content: md.content.clone(),
                summary: md.summary.as_ref().map(html),
                text_fields: md.text_fields.iter().map(|(name, v)| (name.clone(), html(v))).collect(),
                deps: md.deps.clone(),
                facts: md.facts,
            },
        );
    }
    // A body the load stage let go of was read again for this, and is let
    // go of again: it is not held to the end.
    if held.body_let_go() {
        md.let_go_of_body(Some(held));
    }
    md
}

pub(super) fn render_page(page: &Page, source: &Arc<Source>, resolver: &Resolver) -> Markdown {
    let mut errors = Vec::new();
    let locate = |offset: usize| source.locate(offset);
    let locator = Locator { file: &page.file, locate: &locate };
    let mut content = markdown::render(&source.body, &locator, resolver, &mut errors, Produce::Facts);
    let summary = Some(std::mem::take(&mut content.summary)).filter(|s| !s.is_empty()).map(|s| Value::safe_string(&s));
    let mut text_fields = Vec::new();
    let mut deps: Vec<String> = Vec::new();
    for (name, value) in page.fields.iter() {
        if let FieldValue::Text(t) = value {
            let at = |_: usize| (t.line, t.col);
            let locator = Locator { file: &page.file, locate: &at };
            let field = markdown::render(&t.value, &locator, resolver, &mut errors, Produce::Html);
            deps.extend(field.links.iter().map(|l| l.target.clone()));
            deps.extend(field.citations.iter().map(|id| resolver.citation_rel(id)));
            deps.extend(field.assets.iter().cloned());
            text_fields.push((name.clone(), Value::safe_string(&field.html)));
        }
    }
    deps.extend(content.links.iter().map(|l| l.target.clone()));
    deps.extend(content.citations.iter().map(|id| resolver.citation_rel(id)));
    deps.extend(content.assets.iter().cloned());
    deps.sort();
    deps.dedup();
    let facts = resolver.facts(&deps);
    source.quote(&mut errors);
    let source = Mutex::new(Some(source.clone()));
    Markdown { content, summary, text_fields, source, unread: Mutex::default(), errors, deps, facts }
}
