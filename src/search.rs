//! The offline search index, built with the rest of the site and loaded
//! by the theme's `search.js`. No crate builds a sharded index that a
//! static page can load piece by piece (elasticlunr-rs writes one file of
//! the whole site, as mdBook ships; Pagefind's format is its own binary
//! one), so it is made here, small and lazily loaded:
//!
//! - `search/meta.js`: the number of documents, and the taxonomies' terms
//!   with their counts, for the filters.
//! - `search/t/<key>.js`: the terms that start with `key` (their first three
//!   characters; shorter terms are their own key), each with its postings
//!   `[doc delta, weight, …]`. A query word fetches one shard (a missing
//!   one is a word no page has).
//! - `search/d/<k>.js`: documents `4k` to `4k + 3`: title, URL, collection,
//!   year, and text for the snippet; fetched only for the results shown.
//! - `search/f/<taxonomy>.js`: per term, its documents; fetched when a
//!   filter of that taxonomy is chosen.
//!
//! Each file is a script calling `annalsSearch(path, data)`, so the index
//! loads through `<script>` tags: from any static host, and from `file://`.
//!
//! The preview keeps each page's terms and the inverted index between
//! builds: an edit re-indexes its page and writes again only the shards
//! whose terms it touched. A one-off build keeps, for the next, each
//! document's terms and what it was made from (`Saved`): a page made from
//! the same is not read again, and a chunk of `search/d/` whose pages are
//! all the same is kept as the last build wrote it.

use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crate::HashMap;
use crate::field::{FieldValue, When};
use crate::output::{Bytes, Keep, Output, Sink};
use crate::site::{Markdown, Page, Site};

/// The weight of a word in a title, a field, the body.
const TITLE: u32 = 10;
const FIELD: u32 = 3;
const BODY: u32 = 1;
/// Body occurrences beyond this add nothing: long pages do not win by length.
const BODY_CAP: u32 = 5;
/// Bytes of a document's text kept for snippets.
const TEXT_LIMIT: usize = 2000;
/// Documents per file of `search/d/`: fewer files to write, for a little
/// more to fetch per result shown.
const CHUNK: usize = 4;
const KEY_CHARS: usize = 3;

/// What the index keeps of a page once its terms are in the postings and
/// its entry in `search/d/` is written.
struct Doc {
    /// Per taxonomy (by position), the page's terms.
    facets: Vec<Vec<String>>,
    /// A hash of what a result shows (see [`Made`]): the entry is not kept,
    /// as the file it is in holds it.
    shown: u64,
}

/// A page's Doc as made: with its entry in `search/d/` (what a result
/// shows, as JSON) and its terms with their weights.
struct Made {
    doc: Doc,
    fragment: String,
    terms: Vec<(String, u32)>,
}

/// Term → postings (document, weight), by document.
type Postings = HashMap<String, Vec<(u32, u32)>>;
/// Shard key → term → postings.
type Shards = BTreeMap<String, BTreeMap<String, Vec<(u32, u32)>>>;

/// What the preview keeps between builds.
#[derive(Default)]
pub struct Cache {
    /// Per document: a hash of its page's `rel`, and what its Doc was made from.
    keys: Vec<(u64, DocKey)>,
    docs: Vec<Doc>,
    /// Per document, its terms (as numbers into `terms`): what to take out
    /// of the index when it changes.
    doc_terms: Vec<Vec<u32>>,
    terms: Vec<String>,
    ids: HashMap<String, u32>,
    index: Shards,
    /// Every output of the index, by path.
    outputs: BTreeMap<Arc<str>, Bytes>,
    /// The taxonomy names when the index was made.
    taxonomies: Vec<String>,
    /// The site the index was last brought up to date with, and each of its
    /// pages' document number (`UNSEARCHED` for an invalid page).
    generation: u64,
    doc_of: Vec<u32>,
    /// The outputs made again by the last update, and whether it added or
    /// removed any.
    touched: Vec<Arc<str>>,
    paths_changed: bool,
    /// Where the outputs are kept: the render's choice.
    keep: Keep,
}

const UNSEARCHED: u32 = u32::MAX;

impl Cache {
    /// Every output of the index as last made.
    pub fn outputs(&self) -> impl Iterator<Item = Output> + '_ {
        self.outputs.iter().map(|(path, bytes)| Output { path: path.clone(), bytes: bytes.clone() })
    }
}

/// What an update for the preview changed.
pub enum Update {
    /// Which outputs there are may have changed (see `Cache::outputs`).
    All,
    /// The same outputs as before, of which these were made again.
    Again(Vec<Output>),
}

/// A page's Doc is the same while these are. (Its Markdown is made again
/// when a label it cites changes; it holds no other page's text.) Made for
/// every page on every save: pointers and a hash, no copies.
struct DocKey {
    md: Arc<Markdown>,
    fields: Arc<BTreeMap<String, FieldValue>>,
    /// A hash of the title, URL and collection.
    shown: u64,
}

impl DocKey {
    fn of(page: &Page) -> DocKey {
        DocKey {
            md: page.md.clone(),
            fields: page.fields.clone(),
            shown: hash(&(&page.title, &page.url, &page.collection)),
        }
    }

    fn same(&self, other: &DocKey) -> bool {
        Arc::ptr_eq(&self.md, &other.md) && Arc::ptr_eq(&self.fields, &other.fields) && self.shown == other.shown
    }
}

fn hash(value: &(impl std::hash::Hash + ?Sized)) -> u64 {
    use std::hash::Hasher;
    let mut hasher = crate::fingerprint_hasher();
    value.hash(&mut hasher);
    hasher.finish()
}

/// The pages that are searched: every page written, in the order of their
/// paths under `content/`; their positions are the document numbers.
fn searched(site: &Site) -> Vec<usize> {
    (0..site.pages.len()).filter(|&i| !site.pages[i].invalid).collect()
}

/// Writes the whole index into `sink` (a one-off build), each file as soon
/// as it is made, taking what it can from what the last build kept (see
/// `Saved`); returns the paths written.
pub fn write_index(site: &Site, sink: &dyn Sink) -> std::io::Result<Vec<Arc<str>>> {
    sink.create_folders(&mut ["search/d/", "search/t/", "search/f/"].into_iter())?;
    let written = Mutex::new(Vec::new());
    let emit = |path: String, bytes: Vec<u8>, key: Option<u64>| {
        match key {
            Some(key) => sink.write_made(&path, &bytes, key)?,
            None => sink.write(&path, &bytes)?,
        }
        written.lock().expect("no panics while held").push(path.into());
        Ok(())
    };
    let pages = searched(site);
    let made_with = sink.keeps_keys().then(|| crate::made_with(&site.config));
    let mut recall = made_with.map(|made_with| Recall::new(site, &pages, made_with, sink, &written));
    let (docs, postings) = gather(site, &pages, &emit, recall.as_ref())?;
    // What the last build saved is in the postings now: let go of before
    // this build's is made (at 100,000 pages, 80 MB of terms each).
    recall.iter_mut().for_each(|r| r.saved = Saved { made_with: r.saved.made_with, ..Saved::default() });
    let index = shards(postings);
    write_all(site, &docs, &index, &emit)?;
    if let Some(recall) = recall {
        let saved = recall.saved_now(&docs, index);
        // Buffered here, so that postcard's many small writes are not each a
        // call through `dyn Write` (20 ms of a 10,000-page rebuild).
        sink.keep(SAVED, &mut |out| {
            let buffered = std::io::BufWriter::with_capacity(1 << 16, out);
            postcard::to_io(&saved, buffered)
                .map_err(std::io::Error::other)?
                .into_inner()
                .map(drop)
                .map_err(std::io::IntoInnerError::into_error)
        });
    }
    Ok(written.into_inner().expect("no panics while held"))
}

/// The name under which a one-off build keeps its `Saved` (see `Sink::keep`).
const SAVED: &str = "search";

/// What a one-off build keeps of the index for the next one.
/// As this build saves it, it borrows each document's facets; as the next
/// reads it, it owns them.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Saved<'a> {
    /// What it was made with (see `crate::made_with`): another binary or
    /// configuration, and nothing of it is taken.
    made_with: u64,
    terms: Vec<String>,
    docs: Vec<SavedDoc<'a>>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SavedDoc<'a> {
    /// A hash of its page's path, and what the document was made from (see `doc_key`).
    rel: u64,
    key: u64,
    facets: Cow<'a, [Vec<String>]>,
    shown: u64,
    /// Its terms, as numbers into `Saved::terms`, with their weights.
    terms: Vec<(u32, u32)>,
}

/// What a document is made from: its page's text and what its citations
/// resolved to, its title, URL and collection, and `made_with`.
fn doc_key(page: &Page, made_with: u64) -> u64 {
    hash(&(made_with, page.md.made_from(), &page.rel, &page.title, &page.url, &page.collection))
}

/// What a one-off build takes from the last one's `Saved`.
struct Recall<'a> {
    saved: Saved<'static>,
    /// The saved documents by their `rel`.
    by_rel: HashMap<u64, usize>,
    /// Per document of this build, its `doc_key`, and its page's `rel` hash.
    keys: Vec<u64>,
    rels: Vec<u64>,
    sink: &'a dyn Sink,
    written: &'a Mutex<Vec<Arc<str>>>,
}

impl<'a> Recall<'a> {
    fn new(
        site: &Site,
        pages: &[usize],
        made_with: u64,
        sink: &'a dyn Sink,
        written: &'a Mutex<Vec<Arc<str>>>,
    ) -> Self {
        let saved = sink.recall(SAVED).and_then(|bytes| postcard::from_bytes::<Saved>(&bytes).ok());
        let saved = saved.filter(|s| s.made_with == made_with).unwrap_or_default();
        let by_rel = saved.docs.iter().enumerate().map(|(x, d)| (d.rel, x)).collect();
        let rels = pages.iter().map(|&i| hash(&site.pages[i].rel)).collect();
        let keys = pages.par_iter().map(|&i| doc_key(&site.pages[i], made_with)).collect();
        Recall { saved: Saved { made_with, ..saved }, by_rel, keys, rels, sink, written }
    }

    /// The key of chunk `k` of `search/d/`: what its documents are made from.
    fn chunk_key(&self, k: usize) -> u64 {
        hash(&self.keys[k * CHUNK..((k + 1) * CHUNK).min(self.keys.len())])
    }

    /// The saved documents of chunk `k`, if each is made from what it was
    /// and the chunk's file is kept as the last build wrote it.
    fn chunk(&self, k: usize) -> Option<Vec<&SavedDoc<'static>>> {
        let docs = k * CHUNK..((k + 1) * CHUNK).min(self.keys.len());
        let saved: Vec<&SavedDoc<'static>> = docs
            .map(|n| self.by_rel.get(&self.rels[n]).map(|&x| &self.saved.docs[x]).filter(|d| d.key == self.keys[n]))
            .collect::<Option<_>>()?;
        let path = chunk_path(k);
        self.sink.reuse(&path, self.chunk_key(k)).then(|| {
            self.written.lock().expect("no panics while held").push(path.into());
            saved
        })
    }

    /// What this build keeps for the next: its documents with their terms
    /// (the postings let go of as they are turned around, into lists of
    /// their final size: 80 MB at 100,000 pages, which growing doubled).
    fn saved_now<'d>(&self, docs: &'d [Doc], index: Shards) -> Saved<'d> {
        let mut counts = vec![0; docs.len()];
        for (doc, _) in index.values().flat_map(|shard| shard.values()).flatten() {
            counts[*doc as usize] += 1;
        }
        let mut terms = Vec::new();
        let mut doc_terms: Vec<Vec<(u32, u32)>> = counts.into_iter().map(Vec::with_capacity).collect();
        for (term, list) in index.into_values().flatten() {
            let id = terms.len() as u32;
            terms.push(term);
            for (doc, weight) in list {
                doc_terms[doc as usize].push((id, weight));
            }
        }
        let docs = (docs.iter().zip(doc_terms).enumerate())
            .map(|(n, (doc, terms))| SavedDoc {
                rel: self.rels[n],
                key: self.keys[n],
                facets: Cow::Borrowed(&doc.facets),
                shown: doc.shown,
                terms,
            })
            .collect();
        Saved { made_with: self.saved.made_with, terms, docs }
    }
}

/// The outputs of the search index, for the preview: only what changed
/// since the last call is made again, and for a site patched from the last
/// one (see `Site::patched`), only its replaced pages are looked at.
pub fn index(site: &Site, cache: &mut Cache, keep: &Keep) -> Update {
    cache.keep = keep.clone();
    cache.touched.clear();
    cache.paths_changed = false;
    let replaced = site.patched_from(cache.generation);
    cache.generation = site.generation;
    if let Some(replaced) = replaced {
        let mut stale: Vec<(usize, usize)> = Vec::new();
        for &i in replaced.iter().filter(|&&i| cache.doc_of[i] != UNSEARCHED) {
            let n = cache.doc_of[i] as usize;
            let key = DocKey::of(&site.pages[i]);
            if !cache.keys[n].1.same(&key) {
                cache.keys[n].1 = key;
                stale.push((n, i));
            }
        }
        let fresh: Vec<Made> = stale.par_iter().map(|&(_, i)| made(site, &site.pages[i])).collect();
        update(site, cache, stale.into_iter().map(|(n, _)| n).zip(fresh));
        if !cache.paths_changed {
            cache.touched.sort_unstable();
            cache.touched.dedup();
            let again = cache.touched.iter().map(|p| Output { path: p.clone(), bytes: cache.outputs[p].clone() });
            return Update::Again(again.collect());
        }
    } else {
        rebuild(site, cache);
    }
    Update::All
}

/// Brings the index up to date with `site`, page by page.
fn rebuild(site: &Site, cache: &mut Cache) {
    let pages = searched(site);
    cache.doc_of = vec![UNSEARCHED; site.pages.len()];
    for (n, &i) in pages.iter().enumerate() {
        cache.doc_of[i] = n as u32;
    }
    let taxonomies: Vec<String> = site.graph.taxonomies.iter().map(|t| t.name.clone()).collect();
    let keys: Vec<(u64, DocKey)> =
        pages.par_iter().map(|&i| (hash(&site.pages[i].rel), DocKey::of(&site.pages[i]))).collect();
    let same_numbering = cache.taxonomies == taxonomies
        && cache.keys.len() == keys.len()
        && cache.keys.iter().zip(&keys).all(|(a, b)| a.0 == b.0);
    if !same_numbering {
        let made = Mutex::new(Vec::new());
        let keep = &cache.keep;
        let emit = |path: String, bytes: Vec<u8>, _: Option<u64>| {
            made.lock().expect("no panics while held").push((path, keep.pack(bytes)));
            Ok(())
        };
        let (docs, postings) = gather(site, &pages, &emit, None).expect("collecting cannot fail");
        cache.doc_terms = vec![Vec::new(); docs.len()];
        cache.terms.clear();
        cache.ids.clear();
        for (term, list) in &postings {
            let id = cache.terms.len() as u32;
            cache.terms.push(term.clone());
            cache.ids.insert(term.clone(), id);
            for &(doc, _) in list {
                cache.doc_terms[doc as usize].push(id);
            }
        }
        // Held for as long as the preview runs: without the slack of growing.
        cache.doc_terms.par_iter_mut().for_each(|terms| terms.shrink_to_fit());
        cache.docs = docs;
        cache.index = shards(postings);
        write_all(site, &cache.docs, &cache.index, &emit).expect("collecting cannot fail");
        cache.outputs =
            made.into_inner().expect("no panics while held").into_iter().map(|(p, b)| (p.into(), b)).collect();
    } else {
        let stale: Vec<usize> = (0..keys.len()).filter(|&n| !cache.keys[n].1.same(&keys[n].1)).collect();
        if !stale.is_empty() {
            let fresh: Vec<Made> = stale.par_iter().map(|&n| made(site, &site.pages[pages[n]])).collect();
            update(site, cache, stale.into_iter().zip(fresh));
        }
    }
    cache.keys = keys;
    cache.taxonomies = taxonomies;
}

/// Where made files go: written at once, or collected.
/// Where made files go: written at once (with the key of what the file is
/// made from, if it has one besides its bytes), or collected.
type Emit<'a> = dyn Fn(String, Vec<u8>, Option<u64>) -> std::io::Result<()> + Sync + 'a;

/// Replaces documents in the cached index, writing again the shards and
/// chunks they were or are in.
fn update(site: &Site, cache: &mut Cache, changed: impl Iterator<Item = (usize, Made)>) {
    let mut dirty = Dirty::default();
    for (n, Made { doc, fragment, terms }) in changed {
        cache.drop_terms(n, &terms, &mut dirty);
        cache.doc_terms[n] = cache.add_terms(n, terms, &mut dirty);
        dirty.facets |= cache.docs[n].facets != doc.facets;
        if cache.docs[n].shown != doc.shown {
            dirty.fragments.insert(n, fragment);
        }
        cache.docs[n] = doc;
    }
    cache.rewrite(site, &dirty);
}

/// What an update changed: the outputs to make again.
#[derive(Default)]
struct Dirty {
    /// Keys of the shards whose postings changed.
    shards: BTreeSet<String>,
    /// The documents whose entries in `search/d/` changed, with the new ones.
    fragments: BTreeMap<usize, String>,
    /// Some page's taxonomy terms changed: the filters and the manifest.
    facets: bool,
}

impl Cache {
    /// Takes document `n` out of the postings of the terms it no longer has.
    fn drop_terms(&mut self, n: usize, terms: &[(String, u32)], dirty: &mut Dirty) {
        let d = n as u32;
        let new: HashMap<&str, u32> = terms.iter().map(|(t, w)| (t.as_str(), *w)).collect();
        for &id in &self.doc_terms[n] {
            let term = &self.terms[id as usize];
            if new.contains_key(term.as_str()) {
                continue;
            }
            let key = shard_key(term);
            if let Some(postings) = self.index.get_mut(&key).and_then(|s| s.get_mut(term)) {
                postings.retain(|&(doc, _)| doc != d);
            }
            dirty.shards.insert(key);
        }
    }

    /// Puts document `n` in the postings of its terms, and returns their
    /// ids: a shard changes only where a weight does.
    fn add_terms(&mut self, n: usize, terms: Vec<(String, u32)>, dirty: &mut Dirty) -> Vec<u32> {
        let d = n as u32;
        let mut ids = Vec::with_capacity(terms.len());
        for (term, weight) in terms {
            ids.push(self.term_id(&term));
            let key = shard_key(&term);
            let postings = self.index.entry(key.clone()).or_default().entry(term).or_default();
            match postings.binary_search_by_key(&d, |&(doc, _)| doc) {
                Ok(at) if postings[at].1 == weight => continue,
                Ok(at) => postings[at].1 = weight,
                Err(at) => postings.insert(at, (d, weight)),
            }
            dirty.shards.insert(key);
        }
        ids
    }

    /// The id of `term`, given one if it is new.
    fn term_id(&mut self, term: &str) -> u32 {
        if let Some(&id) = self.ids.get(term) {
            return id;
        }
        let id = self.terms.len() as u32;
        self.terms.push(term.to_string());
        self.ids.insert(term.to_string(), id);
        id
    }

    /// Makes again the outputs `dirty` names; a shard left empty is removed.
    fn rewrite(&mut self, site: &Site, dirty: &Dirty) {
        let chunks: BTreeSet<usize> = dirty.fragments.keys().map(|n| n / CHUNK).collect();
        for k in chunks {
            let path = chunk_path(k);
            let docs = k * CHUNK..(k * CHUNK + CHUNK).min(self.docs.len());
            // The other entries of the file are taken from it as written.
            // Unreadable, it is made again below.
            let file = self.outputs.get(path.as_str()).and_then(|b| b.get().ok()).unwrap_or_default();
            let mut old: Vec<Cow<str>> = chunk_fragments(&file).into_iter().map(|f| Cow::Borrowed(f.get())).collect();
            if old.len() != docs.len() {
                // Not the file this index wrote (which cannot be): made again.
                let pages = searched(site);
                old =
                    docs.clone().map(|n| Cow::Owned(make_doc(site, &site.pages[pages[n]], &mut |_, _| {}).1)).collect();
            }
            let fragments = docs.zip(&old).map(|(n, old)| dirty.fragments.get(&n).map_or(old.as_ref(), String::as_str));
            let bytes = self.keep.pack(chunk_file(&path, fragments));
            self.put(path.into(), bytes);
        }
        for key in &dirty.shards {
            let shard = self.index.get_mut(key).expect("made above");
            shard.retain(|_, postings| !postings.is_empty());
            let path = shard_path(key);
            if shard.is_empty() {
                self.index.remove(key);
                self.paths_changed |= self.outputs.remove(path.as_str()).is_some();
            } else {
                let bytes = self.keep.pack(script(&path, &shard_json(shard)));
                self.put(path.into(), bytes);
            }
        }
        if dirty.facets {
            let mut small = BTreeMap::new();
            write_small(site, &self.docs, &mut small);
            for (path, bytes) in small {
                self.put(path, self.keep.pack(bytes));
            }
        }
    }

    /// Puts an output in, noting it as made again (and as new if it is).
    fn put(&mut self, path: Arc<str>, bytes: Bytes) {
        self.touched.push(path.clone());
        self.paths_changed |= self.outputs.insert(path, bytes).is_none();
    }
}

/// Every page's Doc and the postings of every term, made in parallel
/// a chunk of pages at a time: their chunk of `search/d/` is emitted and their
/// terms go into the postings at once, so that the site's words and texts
/// are never all held page by page. `keep`: keep each page's fragment (the
/// preview, which writes chunks again).
fn gather(site: &Site, pages: &[usize], emit: &Emit, recall: Option<&Recall>) -> std::io::Result<(Vec<Doc>, Postings)> {
    // Each term straight into the postings: copied only if new there.
    let post = |postings: &mut Postings, term: Cow<str>, n: usize, weight: u32| match postings.get_mut(&*term) {
        Some(list) => list.push((n as u32, weight)),
        None => drop(postings.insert(term.into_owned(), vec![(n as u32, weight)])),
    };
    let (mut docs, mut postings) = pages
        .par_chunks(CHUNK)
        .enumerate()
        .try_fold(
            || (Vec::new(), Postings::default()),
            |(mut docs, mut postings), (k, chunk)| {
                let first = k * CHUNK;
                if let Some((recall, saved)) = recall.and_then(|r| Some((r, r.chunk(k)?))) {
                    for (j, doc) in saved.into_iter().enumerate() {
                        for &(id, weight) in &doc.terms {
                            post(&mut postings, Cow::Borrowed(&recall.saved.terms[id as usize]), first + j, weight);
                        }
                        docs.push((first + j, Doc { facets: doc.facets.to_vec(), shown: doc.shown }));
                    }
                    return Ok((docs, postings));
                }
                let made: Vec<(Doc, String)> = (chunk.iter().enumerate())
                    .map(|(j, &i)| make_doc(site, &site.pages[i], &mut |t, w| post(&mut postings, t, first + j, w)))
                    .collect();
                let path = chunk_path(k);
                let bytes = chunk_file(&path, made.iter().map(|(_, fragment)| fragment.as_str()));
                emit(path, bytes, recall.map(|r| r.chunk_key(k)))?;
                docs.extend(made.into_iter().enumerate().map(|(j, (doc, _))| (first + j, doc)));
                Ok::<_, std::io::Error>((docs, postings))
            },
        )
        .try_reduce(
            || (Vec::new(), Postings::default()),
            |(mut docs, mut postings), (more_docs, more)| {
                docs.extend(more_docs);
                for (term, list) in more {
                    postings.entry(term).or_default().extend(list);
                }
                Ok((docs, postings))
            },
        )?;
    docs.sort_unstable_by_key(|(n, _)| *n);
    postings.par_iter_mut().for_each(|(_, list)| list.sort_unstable());
    Ok((docs.into_iter().map(|(_, d)| d).collect(), postings))
}

fn shards(postings: Postings) -> Shards {
    let mut index = Shards::new();
    for (term, mut list) in postings {
        // The preview holds them between builds: without the slack of growing.
        list.shrink_to_fit();
        index.entry(shard_key(&term)).or_default().insert(term, list);
    }
    index
}

/// The shards and the small files (the chunks of documents are emitted by
/// [`gather`]).
fn write_all(site: &Site, docs: &[Doc], index: &Shards, emit: &Emit) -> std::io::Result<()> {
    index
        .par_iter()
        .try_for_each(|(key, shard)| emit(shard_path(key), script(&shard_path(key), &shard_json(shard)), None))?;
    let mut small = BTreeMap::new();
    write_small(site, docs, &mut small);
    small.into_iter().try_for_each(|(path, bytes): (Arc<str>, _)| emit(path.to_string(), bytes, None))
}

/// The manifest and the filters: small, and made again on every change.
fn write_small(site: &Site, docs: &[Doc], outputs: &mut BTreeMap<Arc<str>, Vec<u8>>) {
    let mut filters = serde_json::Map::new();
    for (t, tax) in site.graph.taxonomies.iter().enumerate() {
        let mut terms: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        for (n, doc) in docs.iter().enumerate() {
            for term in &doc.facets[t] {
                terms.entry(term.as_str()).or_default().push(n as u32);
            }
        }
        let counts: serde_json::Map<String, serde_json::Value> =
            terms.iter().map(|(term, list)| (term.to_string(), list.len().into())).collect();
        let file = format!("f/{}", crate::slug::slugify(&tax.name));
        filters.insert(tax.name.clone(), serde_json::json!({ "file": file, "terms": counts }));
        let path = format!("search/{file}.js");
        let lists: serde_json::Map<String, serde_json::Value> =
            terms.into_iter().map(|(term, list)| (term.to_string(), deltas(&list).into())).collect();
        outputs.insert(path.as_str().into(), script(&path, &serde_json::Value::from(lists).to_string()));
    }
    let meta = serde_json::json!({
        "documents": docs.len(),
        "key_chars": KEY_CHARS,
        "chunk": CHUNK,
        "filters": filters,
    });
    outputs.insert("search/meta.js".into(), script("search/meta.js", &meta.to_string()));
}

fn deltas(docs: &[u32]) -> Vec<u32> {
    let mut previous = 0;
    docs.iter()
        .map(|&d| {
            let delta = d - previous;
            previous = d;
            delta
        })
        .collect()
}

/// `{"term":[doc delta, weight, …], …}`, written directly: shards are most
/// of the index, and the preview writes some again on every save.
fn shard_json(shard: &BTreeMap<String, Vec<(u32, u32)>>) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(shard.values().map(|p| p.len() * 6 + 16).sum());
    out.push('{');
    for (i, (term, postings)) in shard.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::Value::from(term.as_str()).to_string());
        out.push_str(":[");
        let mut previous = 0;
        for (j, &(doc, weight)) in postings.iter().enumerate() {
            let sep = if j > 0 { "," } else { "" };
            let _ = write!(out, "{sep}{},{weight}", doc - previous);
            previous = doc;
        }
        out.push(']');
    }
    out.push('}');
    out
}

/// `annalsSearch("t/abc", {...});`: a file that loads through a script tag.
fn script(path: &str, json: &str) -> Vec<u8> {
    let name = path.trim_start_matches("search/").trim_end_matches(".js");
    format!("annalsSearch({name:?},{json});\n").into_bytes()
}

/// `search/d/<k>.js`: documents `k * CHUNK` to `k * CHUNK + CHUNK - 1`.
fn chunk_path(k: usize) -> String {
    format!("search/d/{k}.js")
}

fn chunk_file<'a>(path: &str, fragments: impl Iterator<Item = &'a str>) -> Vec<u8> {
    script(path, &format!("[{}]", fragments.collect::<Vec<_>>().join(",")))
}

/// The entries of a file [`chunk_file`] made, as they are written in it.
fn chunk_fragments(file: &[u8]) -> Vec<&serde_json::value::RawValue> {
    let file = std::str::from_utf8(file).unwrap_or_default();
    let json = file.split_once(',').and_then(|(_, rest)| rest.strip_suffix(");\n")).unwrap_or_default();
    serde_json::from_str(json).unwrap_or_default()
}

fn shard_path(key: &str) -> String {
    format!("search/t/{}.js", file_key(key))
}

/// A key as a file name: as it is when made of ASCII letters and digits,
/// else `_` and the hex of its UTF-8 (`search.js` does the same).
fn file_key(key: &str) -> String {
    if key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
        key.to_string()
    } else {
        key.bytes().fold("_".to_string(), |mut s, b| {
            s.push_str(&format!("{b:02x}"));
            s
        })
    }
}

/// The shard a term is in: its first characters.
pub fn shard_key(term: &str) -> String {
    term.chars().take(KEY_CHARS).collect()
}

/// Words as the index holds them: lowercase runs of letters and digits
/// (`search.js` splits queries the same way).
pub fn tokens(text: &str) -> impl Iterator<Item = Cow<'_, str>> + '_ {
    let separator = |c: char| if c.is_ascii() { !c.is_ascii_alphanumeric() } else { !c.is_alphanumeric() };
    text.split(separator).filter(|w| !w.is_empty()).map(|w| {
        let lower =
            if w.is_ascii() { !w.bytes().any(|b| b.is_ascii_uppercase()) } else { !w.chars().any(char::is_uppercase) };
        if lower { Cow::Borrowed(w) } else { Cow::Owned(w.to_lowercase()) }
    })
}

/// A page's Doc, with each of its terms collected, and its entry in `search/d/`.
fn made(site: &Site, page: &Page) -> Made {
    let mut terms = Vec::new();
    let (doc, fragment) = make_doc(site, page, &mut |term, weight| terms.push((term.into_owned(), weight)));
    Made { doc, fragment, terms }
}

/// A page's Doc and its entry in `search/d/`; each of its terms goes to
/// `term` with its weight.
fn make_doc(site: &Site, page: &Page, term: &mut dyn FnMut(Cow<str>, u32)) -> (Doc, String) {
    let body = page.md.source().map(|s| body_text(site, &s.body)).unwrap_or_default();
    for (word, weight) in weighted_terms(page, &body) {
        term(word, weight);
    }
    let facets = site
        .graph
        .taxonomies
        .iter()
        .map(|tax| {
            let mut values = Vec::new();
            if let Some(v) = page.fields.get(&tax.name) {
                v.strings(&mut values);
            }
            values.into_iter().map(str::to_string).collect()
        })
        .collect();
    let fragment = serde_json::json!({
        "title": page.title,
        "url": page.url,
        "collection": page.collection,
        "year": year(site, page),
        "text": snippet_text(site, page, &body),
    })
    .to_string();
    (Doc { facets, shown: hash(&fragment) }, fragment)
}

/// Each word of the page's title, fields and `body` with its weight: the
/// best of title and fields, plus its count in the body (capped).
fn weighted_terms<'a>(page: &'a Page, body: &'a str) -> impl Iterator<Item = (Cow<'a, str>, u32)> {
    let mut field_text = Vec::new();
    for value in page.fields.values() {
        value.strings(&mut field_text);
    }
    let mut weights: HashMap<Cow<str>, (u32, u32)> = HashMap::with_capacity_and_hasher(512, Default::default());
    let texts = std::iter::once((page.title.as_str(), TITLE))
        .chain(field_text.into_iter().map(|t| (t, FIELD)))
        .chain(std::iter::once((body, BODY)));
    for (text, weight) in texts {
        for word in tokens(text) {
            let entry = weights.entry(word).or_default();
            if weight == BODY {
                entry.1 = (entry.1 + 1).min(BODY_CAP);
            } else {
                entry.0 = entry.0.max(weight);
            }
        }
    }
    weights.into_iter().map(|(t, (a, b))| (t, a + b))
}

/// The year a result shows: the year of the field citations date by.
fn year(site: &Site, page: &Page) -> serde_json::Value {
    let year = site.config.citations.as_ref().map_or("year", |c| c.year.as_str());
    match page.fields.get(year).and_then(FieldValue::when) {
        Some(When::Year(y)) => serde_json::Value::from(y),
        Some(When::Day(d)) => d.get(..4).unwrap_or(d).into(),
        None => serde_json::Value::Null,
    }
}

/// The text a snippet is cut from: the field that describes the page (a
/// study's finding), then the body; at most `TEXT_LIMIT` bytes.
fn snippet_text(site: &Site, page: &Page, body: &str) -> String {
    let described_by = page.collection.as_deref().and_then(|c| site.config.collection(c)?.description.as_deref());
    let mut text = described_by.and_then(|f| page.fields.get(f)?.prose()).unwrap_or_default().to_string();
    if !text.is_empty() && !body.is_empty() {
        text.push_str(" · ");
    }
    text.push_str(body);
    if text.len() > TEXT_LIMIT {
        let mut end = TEXT_LIMIT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// The text of a Markdown body, without markup, on one line; citations
/// as their labels. Parsed as its page is, so that a table's cells or a
/// heading's `{#id}` are not shown as the pipes and braces written.
fn body_text(site: &Site, markdown: &str) -> String {
    use crate::markdown::Resolve;
    use pulldown_cmark::{BrokenLink, Event, Parser, Tag, TagEnd};
    let citation = |link: BrokenLink| {
        let label = link.reference.trim();
        label.starts_with('@').then(|| (label.to_string().into(), "".into()))
    };
    let resolver = site.resolver();
    let mut text = Words { text: String::with_capacity(markdown.len()), space: false };
    let mut in_citation = false;
    for event in Parser::new_with_broken_link_callback(markdown, crate::markdown::options(), Some(citation)) {
        match event {
            Event::Start(Tag::Link { dest_url, .. }) if dest_url.starts_with('@') && !dest_url.starts_with("@/") => {
                in_citation = true;
                let ids = dest_url.split(';').map(|id| id.trim().trim_start_matches('@'));
                let labels: Vec<&str> = ids.filter_map(|id| resolver.cite(id).ok().map(|(label, _)| label)).collect();
                text.push(&format!("({})", labels.join("; ")));
            }
            Event::End(TagEnd::Link) if in_citation => in_citation = false,
            Event::Text(t) | Event::Code(t) if !in_citation => text.push(&t),
            // The end of a block (a paragraph, a cell) parts words; that of
            // an inline element (`*very*.`) does not.
            Event::SoftBreak | Event::HardBreak => text.space = true,
            Event::End(end) if !is_inline(end) => text.space = true,
            _ => {}
        }
    }
    text.text
}

fn is_inline(end: pulldown_cmark::TagEnd) -> bool {
    use pulldown_cmark::TagEnd::*;
    matches!(end, Emphasis | Strong | Strikethrough | Superscript | Subscript | Link | Image)
}

/// Text with every run of white space made one space, and none at either end.
struct Words {
    text: String,
    /// White space since the last word: a space before the next.
    space: bool,
}

impl Words {
    fn push(&mut self, s: &str) {
        self.space |= s.starts_with(char::is_whitespace);
        for (k, word) in s.split_whitespace().enumerate() {
            if (k > 0 || self.space) && !self.text.is_empty() {
                self.text.push(' ');
            }
            self.text.push_str(word);
            self.space = false;
        }
        self.space |= s.ends_with(char::is_whitespace);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_lowercase_words() {
        assert_eq!(
            tokens("Ketamine's NMDA-receptor, 2006!").collect::<Vec<_>>(),
            ["ketamine", "s", "nmda", "receptor", "2006"]
        );
    }

    #[test]
    fn keys_are_file_names() {
        assert_eq!(file_key(&shard_key("ketamine")), "ket");
        assert_eq!(file_key(&shard_key("é")), "_c3a9");
    }
}
