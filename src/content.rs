//! Content files to sources: walk `content/`, read each Markdown file, split
//! its front matter and parse it. Reading and parsing run in parallel.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use walkdir::WalkDir;

use crate::config::Config;
use crate::diagnostics::Diagnostic;
use crate::inputs::Inputs;
use crate::kept::Kept;
use crate::yaml::{self, Node};

pub const CONTENT_DIR: &str = "content";

/// What a Markdown file is to the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `content/<folder>/<id>.md` of a collection.
    Entry { collection: String },
    /// `_index.md` of a folder; the folder `""` is the home page.
    Section,
    /// Any other Markdown file.
    Page,
}

/// One Markdown file, read and split.
#[derive(Debug, Clone)]
pub struct Source {
    /// Path under `content/` with `/` separators: `studies/zarate-2006.md`.
    pub rel: String,
    /// Path for diagnostics, relative to the site root: `content/studies/zarate-2006.md`.
    pub file: PathBuf,
    pub kind: Kind,
    /// File stem for entries and pages; the folder for sections.
    pub id: String,
    /// The Markdown body: the file without its front matter.
    pub body: String,
    /// The file before the body (the front matter and its `---` lines), as
    /// read: diagnostics quote it (until `let_go_of_head`). Its length.
    head: String,
    head_len: usize,
    /// The line of the file where the body starts (1-based).
    pub body_line: usize,
    /// The front matter, or `None` when the file has none.
    pub front: Option<Node>,
    /// The front matter was present but unreadable (already reported):
    /// later stages must not pile up errors about its fields.
    pub front_failed: bool,
    /// Where the file was read (absolute), a hash of its text, and whether
    /// the body was let go, to be read again (see `without_body`).
    origin: Option<PathBuf>,
    hash: u64,
    body_let_go: bool,
    body_len: usize,
}

impl Source {
    /// The same source without its body, which `reread` reads again: a
    /// one-off build of a large site need not hold every page's text.
    /// A source that was not read from a file keeps its body.
    pub fn without_body(&self) -> Source {
        let mut light = self.clone_without_text();
        if self.origin.is_none() {
            light.body = self.body.clone();
        }
        light.let_go_of_body();
        light
    }

    /// Lets go of the body, as `without_body` does, in place.
    pub fn let_go_of_body(&mut self) {
        if self.origin.is_some() {
            self.body = String::new();
            self.body_let_go = true;
        }
    }

    /// Lets go of the front matter's text, which only diagnostics quote:
    /// a one-off build does once no later stage can find an error in it.
    pub fn let_go_of_head(&mut self) {
        self.head = String::new();
    }

    /// The length of the body as read, held or not.
    pub fn body_len(&self) -> usize {
        self.body_len
    }

    /// A hash of the file's text, front matter and body, as first read.
    pub fn text_hash(&self) -> u64 {
        self.hash
    }

    /// Whether `other` was read from the same file with the same text.
    pub fn same_text(&self, other: &Source) -> bool {
        self.hash == other.hash && self.origin == other.origin
    }

    /// Whether the body was let go (see `without_body`).
    pub fn body_let_go(&self) -> bool {
        self.body_let_go
    }

    /// This source with its body: itself, or read again (see `reread`);
    /// else the page's error.
    pub fn whole(self: &std::sync::Arc<Self>) -> Result<std::sync::Arc<Source>, Diagnostic> {
        if !self.body_let_go {
            return Ok(self.clone());
        }
        let unread = |why| Diagnostic::file(&self.file, format!("cannot render this page: {why}"));
        self.reread().map(std::sync::Arc::new).map_err(unread)
    }

    /// The whole source again, its body read from the file, which must hold
    /// the text read first; else why not.
    pub fn reread(&self) -> Result<Source, String> {
        let path = self.origin.as_ref().ok_or("it was not read from a file")?;
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read it again: {e}"))?;
        let text = String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        if text_hash(text) != self.hash || !text.is_char_boundary(self.head_len) {
            return Err("it changed while the site was being built: build again".into());
        }
        let body = text[self.head_len..].to_string();
        Ok(Source { body, body_let_go: false, front: None, ..self.clone_without_text() })
    }

    /// Every field but the body and the front matter's tree.
    fn clone_without_text(&self) -> Source {
        Source {
            rel: self.rel.clone(),
            file: self.file.clone(),
            kind: self.kind.clone(),
            id: self.id.clone(),
            body: String::new(),
            head: self.head.clone(),
            head_len: self.head_len,
            body_line: self.body_line,
            front: None,
            front_failed: self.front_failed,
            origin: self.origin.clone(),
            hash: self.hash,
            body_let_go: self.body_let_go,
            body_len: self.body_len,
        }
    }

    /// The 1-based line and column in the file of byte `offset` of the body.
    pub fn locate(&self, offset: usize) -> (usize, usize) {
        let (line, col) = crate::diagnostics::line_col(&self.body, offset);
        (line + self.body_line - 1, col)
    }

    /// Line `n` (1-based) of the file, as it was read (none of the front
    /// matter's once let go of).
    pub fn line(&self, n: usize) -> Option<&str> {
        match n.checked_sub(self.body_line) {
            Some(in_body) => self.body.lines().nth(in_body),
            None => crate::diagnostics::nth_line(&self.head, 1, n),
        }
    }

    /// Quotes, in each diagnostic about this file, the lines it points at.
    pub fn quote(&self, diagnostics: &mut [Diagnostic]) {
        for d in diagnostics {
            d.quote(&self.file, &|n| self.line(n));
        }
    }
}

/// The path under `content/` of the section page of `folder`.
pub fn section_rel(folder: &str) -> String {
    if folder.is_empty() { "_index.md".to_string() } else { format!("{folder}/_index.md") }
}

/// Files editors leave behind while saving; never content.
pub fn is_ignored_name(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".tmp")
        || name.starts_with('#') // emacs autosave
        || name == "4913" // vim's write probe
}

/// What a walk of `content/` found.
#[derive(Debug, Default)]
pub struct Walk {
    /// Markdown files, relative to `content/`, sorted.
    pub markdown: Vec<PathBuf>,
    /// Every other file (images, PDFs), relative to `content/`, sorted.
    pub assets: Vec<PathBuf>,
    /// The folders listed and the paths looked for.
    pub inputs: Inputs,
    pub errors: Vec<Diagnostic>,
}

/// Walks `root/content`. Symlinks are not followed (a symlinked file is
/// neither read nor copied), so nothing outside the site is published.
pub fn walk(root: &Path) -> Walk {
    let dir = root.join(CONTENT_DIR);
    let mut walk = Walk::default();
    walk.inputs.file(&dir);
    if !dir.is_dir() {
        walk.errors.push(Diagnostic::file(CONTENT_DIR, "the content folder is missing"));
        return walk;
    }
    let walker = WalkDir::new(&dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_ignored_name(&e.file_name().to_string_lossy()));
    for entry in walker {
        match entry {
            Ok(e) if e.file_type().is_file() => {
                let rel = e.path().strip_prefix(&dir).unwrap_or(e.path()).to_path_buf();
                if rel.extension().is_some_and(|x| x == "md") {
                    walk.markdown.push(rel);
                } else {
                    walk.assets.push(rel);
                }
            }
            Ok(e) if e.file_type().is_dir() => walk.inputs.folder(e.path()),
            Ok(_) => {}
            Err(e) => walk.errors.push(Diagnostic::file(
                e.path().map_or_else(|| PathBuf::from(CONTENT_DIR), Path::to_path_buf),
                format!("cannot read: {e}"),
            )),
        }
    }
    walk
}

/// What the last one-off build kept for reading `content/`: the front
/// matter's trees, and what it read of each file (see `Unread`).
pub struct Recalled {
    pub trees: yaml::Trees,
    files: Kept<Unread>,
    /// When this build began to read: see `SETTLE`.
    began: SystemTime,
    /// How many files were taken as unchanged, not read.
    unread: std::sync::atomic::AtomicUsize,
}

/// What a build keeps its `Unread` records under (see `output::Sink::keep`).
pub const FILES: &str = "files";

/// What a one-off build read of a file whose front matter had nothing to
/// report, kept by the file's path and stamp (inode, size, modification
/// and change times). While those are the same, the next build takes the
/// file as read instead of reading it: its front matter's tree from the
/// kept trees, its body to be read again if a later stage needs it, as a
/// large site's bodies are (the text must then hash as first read). At
/// 10,000 pages, reading every file was a quarter of a rebuild's work.
#[derive(serde::Serialize, serde::Deserialize)]
struct Unread {
    hash: u64,
    head_len: usize,
    body_line: usize,
    body_len: usize,
    tree: TreeKey,
}

/// The key of a file's front matter's tree among the kept trees; `None`
/// for a file without front matter.
type TreeKey = Option<u64>;

/// A file changed less than this before a build began to read is read by
/// the next build all the same, as git does with its index: changed again
/// within one tick of the file system's clock (a second on some), to the
/// same size, it would keep its stamp.
const SETTLE: Duration = Duration::from_secs(2);

impl Recalled {
    /// From what the last build kept (see `Kept::new`); `began` now.
    pub fn new(made_with: u64, trees: Option<Vec<u8>>, files: Option<Vec<u8>>) -> Recalled {
        Recalled {
            trees: Kept::new(made_with, trees),
            files: Kept::new(made_with, files),
            began: SystemTime::now(),
            unread: Default::default(),
        }
    }

    /// How many files this build took as unchanged rather than read.
    pub fn unread(&self) -> usize {
        self.unread.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Keeps the records of this build's files for the next (see `Kept::keep_in`).
    pub fn keep_files(&self, sink: &dyn crate::output::Sink) {
        self.files.keep_in(sink, FILES);
    }

    /// The key of the file at `path`, `rel` under `content/`, by its stamp,
    /// if it has settled (see `SETTLE`); `None` where there is no stamp.
    fn key(&self, path: &Path, rel: &str) -> Option<(u64, bool)> {
        let meta = std::fs::metadata(path).ok()?;
        let stamp = stamp(&meta)?;
        let changed = |(secs, nanos): (i64, i64)| {
            Some(SystemTime::UNIX_EPOCH + Duration::new(u64::try_from(secs).ok()?, u32::try_from(nanos).ok()?))
        };
        let settled = [(stamp.2, stamp.3), (stamp.4, stamp.5)]
            .into_iter()
            .all(|t| changed(t).is_some_and(|t| t + SETTLE <= self.began));
        Some((self.files.key(&(rel, stamp)), settled))
    }

    /// The source of the file at `rel` as the last build read it, if its
    /// stamp is the same (`key`) and its tree was kept.
    fn take(&self, key: u64, rel: String, file: &Path, origin: PathBuf, config: &Config) -> Option<Source> {
        let (kind, id) = classify(&rel, config).ok()?;
        let has_tree = |u: &Unread| u.tree.is_none_or(|tree| self.trees.holds(tree));
        let Unread { hash, head_len, body_line, body_len, tree } = self.files.take(key, has_tree)?;
        let front = match tree {
            Some(tree) => Some(self.trees.take(tree, |_| true)?),
            None => None,
        };
        self.unread.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(Source {
            rel,
            file: file.to_path_buf(),
            kind,
            id,
            body: String::new(),
            head: String::new(),
            head_len,
            body_line,
            front,
            front_failed: false,
            origin: Some(origin),
            hash,
            body_let_go: true,
            body_len,
        })
    }
}

/// A file's inode, size, and modification and change times (seconds and
/// nanoseconds): what changes when it is written, renamed over or touched.
#[cfg(unix)]
fn stamp(meta: &std::fs::Metadata) -> Option<(u64, u64, i64, i64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.ino(), meta.size(), meta.mtime(), meta.mtime_nsec(), meta.ctime(), meta.ctime_nsec()))
}

/// Elsewhere no change time is at hand: every file is read.
#[cfg(not(unix))]
fn stamp(_: &std::fs::Metadata) -> Option<(u64, u64, i64, i64, i64, i64)> {
    None
}

/// Reads and splits `content/<rel>`: the source and its front matter's
/// diagnostics, or why it could not be read or classified.
/// With `recalled`, a file unchanged since the last build is not read (see
/// `Unread`), nor front matter that it parsed parsed again.
pub fn read_source(
    root: &Path,
    rel: &Path,
    config: &Config,
    recalled: Option<&Recalled>,
) -> Result<(Source, Vec<Diagnostic>), Diagnostic> {
    use std::io::Read;
    let file = Path::new(CONTENT_DIR).join(rel);
    let origin = root.join(&file);
    let rel_str = rel_string(rel);
    // Taken before the file is read: a change after it gives another stamp.
    let key = recalled.and_then(|r| Some((r, r.key(&origin, &rel_str)?)));
    if let Some(source) = key.and_then(|(r, (key, _))| r.take(key, rel_str.clone(), &file, origin.clone(), config)) {
        return Ok((source, Vec::new()));
    }
    let cannot = |e: std::io::Error| Diagnostic::file(&file, format!("cannot read: {e}"));
    let mut bytes = Vec::new();
    // One byte more than the limit tells a file at the limit from a larger one.
    std::fs::File::open(&origin).and_then(|f| f.take(MAX_FILE_SIZE + 1).read_to_end(&mut bytes)).map_err(cannot)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(Diagnostic::file(
            &file,
            format!(
                "this file is larger than {} MiB, the most annals reads as Markdown; a large file such as a data set or a PDF belongs beside the page with another extension",
                MAX_FILE_SIZE >> 20
            ),
        ));
    }
    let trees = recalled.map(|r| &r.trees);
    let (source, diagnostics) = match String::from_utf8(bytes) {
        Ok(text) => {
            let (source, diagnostics, tree) = parse_with_tree(rel_str, &file, text, config, trees)?;
            if let Some((r, (key, true))) = key.filter(|_| diagnostics.is_empty())
                && let Some(tree) = tree
            {
                let Source { hash, head_len, body_line, body_len, .. } = source;
                r.files.put(key, &Unread { hash, head_len, body_line, body_len, tree });
            }
            (source, diagnostics)
        }
        Err(e) => {
            // Kept in the site, read with replacement characters, so that
            // links and citations to it still resolve: the one error is here.
            let bad = e.utf8_error().valid_up_to();
            let (line, col) = crate::diagnostics::line_col(&String::from_utf8_lossy(&e.as_bytes()[..bad]), bad);
            let error = Diagnostic::new(
                &file,
                line,
                col,
                "this file is not valid UTF-8: the first bad byte is here; save it as UTF-8",
            );
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let (source, _, _) = parse_with_tree(rel_str, &file, text, config, trees)?;
            let mut errors = vec![error];
            source.quote(&mut errors);
            (Source { front_failed: true, ..source }, errors)
        }
    };
    Ok((Source { origin: Some(origin), ..source }, diagnostics))
}

/// `rel` with `/` separators, on every platform.
pub fn rel_string(rel: &Path) -> String {
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// The hash `reread` checks a file's text against.
fn text_hash(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = crate::fingerprint_hasher();
    text.hash(&mut h);
    h.finish()
}

/// The largest Markdown file annals reads: far above any real page, far
/// below what would exhaust memory.
pub const MAX_FILE_SIZE: u64 = 16 << 20;

/// Classifies and splits one file already read. A file whose front matter
/// is broken still yields a source (with the error beside it), so that links
/// to it do not turn into a cascade of false "broken link" errors.
pub fn parse_source(
    rel: &Path,
    file: &Path,
    text: String,
    config: &Config,
    trees: Option<&yaml::Trees>,
) -> Result<(Source, Vec<Diagnostic>), Diagnostic> {
    parse_with_tree(rel_string(rel), file, text, config, trees).map(|(source, diagnostics, _)| (source, diagnostics))
}

/// As `parse_source` (`rel_str` is `rel_string` of its `rel`), with where
/// its front matter's tree is among `trees`, if it is kept there or there
/// is none.
fn parse_with_tree(
    rel_str: String,
    file: &Path,
    text: String,
    config: &Config,
    trees: Option<&yaml::Trees>,
) -> Result<(Source, Vec<Diagnostic>, Option<TreeKey>), Diagnostic> {
    let (kind, id) = classify(&rel_str, config).map_err(|m| Diagnostic::file(file, m))?;
    let text = match text.strip_prefix('\u{feff}') {
        Some(t) => t.to_string(),
        None => text,
    };
    let (front, body_start, mut diagnostics, tree) = split_front_matter(file, &text, trees);
    if front.is_some() {
        diagnostics.extend(front_matter_continues(file, &text, body_start, &kind, config));
    }
    let body_line = text[..body_start].matches('\n').count() + 1;
    // The front matter lives on as `front`, and as text for quotes.
    let body = text[body_start..].to_string();
    let head = text[..body_start].to_string();
    let tree = if front.is_some() { tree.map(Some) } else { Some(None) };
    let source = Source {
        rel: rel_str,
        file: file.to_path_buf(),
        kind,
        id,
        front_failed: diagnostics.iter().any(Diagnostic::is_error),
        body,
        head_len: head.len(),
        head,
        body_line,
        front,
        origin: None,
        hash: text_hash(&text),
        body_let_go: false,
        body_len: text.len() - body_start,
    };
    source.quote(&mut diagnostics);
    Ok((source, diagnostics, tree))
}

fn classify(rel: &str, config: &Config) -> Result<(Kind, String), String> {
    let (folder, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    let stem = name.strip_suffix(".md").unwrap_or(name);
    if name == "_index.md" {
        return Ok((Kind::Section, folder.to_string()));
    }
    if !crate::names::is_valid_id(stem) {
        return Err(format!(
            "`{stem}` is not a valid id: use lowercase letters, digits and hyphens only (for example `{}`)",
            crate::slug::slugify(stem)
        ));
    }
    if let Some(c) = config.collections.iter().find(|c| c.folder == folder) {
        return Ok((Kind::Entry { collection: c.name.clone() }, stem.to_string()));
    }
    if let Some(c) = config.collections.iter().find(|c| folder.starts_with(&format!("{}/", c.folder))) {
        return Err(format!("entries of `{}` must sit directly in content/{}/, not in a subfolder", c.name, c.folder));
    }
    Ok((Kind::Page, stem.to_string()))
}

/// Finds YAML front matter between `---` lines at the very top: the parsed
/// front matter, where the body starts, and its diagnostics.
/// The front matter's tree, where the body starts, what there is to say
/// about it, and the key of its tree among `trees` if kept there.
fn split_front_matter(
    file: &Path,
    text: &str,
    trees: Option<&yaml::Trees>,
) -> (Option<Node>, usize, Vec<Diagnostic>, Option<u64>) {
    let first_end = text.find('\n').unwrap_or(text.len());
    if text[..first_end].trim_end() == "+++" {
        let d = Diagnostic::new(
            file,
            1,
            1,
            "front matter between `+++` lines is TOML, which annals does not read: write it as YAML between `---` lines",
        );
        let body_start = text[first_end..].find("\n+++").map_or(text.len(), |at| (first_end + at + 4).min(text.len()));
        return (None, body_start, vec![d], None);
    }
    if first_end == text.len() || text[..first_end].trim_end() != "---" {
        return (None, 0, Vec::new(), None);
    }
    let yaml_start = first_end + 1;
    let mut pos = yaml_start;
    while pos < text.len() {
        let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
        let line = text[pos..end].trim_end();
        if line == "---" || line == "..." {
            let body_start = (end + 1).min(text.len());
            return match yaml::parse(file, &text[yaml_start..pos], 2, trees) {
                Ok((node, warnings, tree)) => (Some(node), body_start, warnings, tree),
                Err(d) => (None, body_start, vec![d], None),
            };
        }
        pos = end + 1;
    }
    let d =
        Diagnostic::new(file, 1, 1, "front matter is opened with `---` here but never closed by a second `---` line");
    (None, text.len(), vec![d], None)
}

/// The front matter was closed early: the lines after its closing `---`
/// (or `...`) are fields of this page up to another such line, so the
/// author meant them as front matter and a stray delimiter ended it.
fn front_matter_continues(
    file: &Path,
    text: &str,
    body_start: usize,
    kind: &Kind,
    config: &Config,
) -> Option<Diagnostic> {
    let fields: Vec<&str> = match kind {
        Kind::Entry { collection } => config.collection(collection)?.fields.keys().map(String::as_str).collect(),
        Kind::Section | Kind::Page => vec!["title", "description"],
    };
    let is_field = |line: &str| {
        line.split_once(':').is_some_and(|(key, rest)| {
            (rest.is_empty() || rest.starts_with(' '))
                && (fields.contains(&key) || ["draft", "template"].contains(&key))
        })
    };
    let mut lines = text[body_start..].lines().filter(|l| !l.trim().is_empty());
    let first = lines.next()?;
    if !is_field(first) {
        return None;
    }
    for line in lines {
        match line.trim_end() {
            "---" | "..." => {
                let closer = text[..body_start].trim_end_matches('\n').lines().count();
                return Some(
                    Diagnostic::new(
                        file,
                        closer,
                        1,
                        "this line ends the front matter, but the fields below it look like more front matter",
                    )
                    .with_hint(
                        "remove this line (or the stray `---` / `...`), so that one `---` line closes the front matter",
                    ),
                );
            }
            l if is_field(l) || l.starts_with([' ', '-']) => {}
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        crate::config::parse("title: T\ncollections:\n  studies:\n    fields: {}\n").unwrap()
    }

    #[test]
    fn a_body_let_go_is_read_again_only_if_the_file_is_unchanged() {
        let root = std::env::temp_dir().join(format!("annals-reread-{}", std::process::id()));
        std::fs::create_dir_all(root.join("content/studies")).unwrap();
        let text = "\u{feff}---\ntitle: T\n---\nBody é.\n";
        std::fs::write(root.join("content/studies/a.md"), text).unwrap();
        let (source, _) = read_source(&root, Path::new("studies/a.md"), &config(), None).unwrap();
        let light = source.without_body();
        assert!(light.body_let_go() && light.body.is_empty());
        let again = light.reread().unwrap();
        assert_eq!((again.body.as_str(), again.body_line, again.line(2)), ("Body é.\n", 4, Some("title: T")));
        std::fs::write(root.join("content/studies/a.md"), text.replace("Body", "Text")).unwrap();
        assert!(light.reread().unwrap_err().contains("changed while the site was being built"));
        std::fs::remove_file(root.join("content/studies/a.md")).unwrap();
        assert!(light.reread().unwrap_err().starts_with("cannot read it again"));
        // A source that was not read from a file keeps its body.
        let made = src("studies/b.md", "Text.\n").unwrap().without_body();
        assert!(!made.body_let_go() && made.body == "Text.\n");
        std::fs::remove_dir_all(&root).unwrap();
    }

    fn src(rel: &str, text: &str) -> Result<Source, Diagnostic> {
        let (source, mut errors) =
            parse_source(Path::new(rel), &Path::new("content").join(rel), text.to_string(), &config(), None)?;
        errors.pop().map_or(Ok(source), Err)
    }

    #[test]
    fn classifies_entries_sections_and_pages() {
        assert_eq!(src("studies/a-1.md", "").unwrap().kind, Kind::Entry { collection: "studies".into() });
        let s = src("studies/_index.md", "").unwrap();
        assert_eq!((s.kind, s.id.as_str()), (Kind::Section, "studies"));
        assert_eq!(src("_index.md", "").unwrap().id, "");
        assert_eq!(src("about.md", "").unwrap().kind, Kind::Page);
    }

    #[test]
    fn rejects_bad_ids_and_nested_entries() {
        assert!(src("studies/Zarate 2006.md", "").unwrap_err().message.contains("zarate-2006"));
        assert!(src("studies/x/a.md", "").is_err());
    }

    #[test]
    fn splits_front_matter_and_body() {
        let s = src("about.md", "---\ntitle: A\n---\nBody\n").unwrap();
        assert!(s.front.is_some());
        assert_eq!((s.body.as_str(), s.body_line), ("Body\n", 4));
        let s = src("about.md", "No front matter\n").unwrap();
        assert!(s.front.is_none());
        assert_eq!(s.body_line, 1);
        assert_eq!(src("about.md", "---\ntitle: A\n").unwrap_err().line, 1);
    }

    #[test]
    fn toml_front_matter_is_refused() {
        let e = src("about.md", "+++\ntitle = \"A\"\ndraft = true\n+++\nBody\n").unwrap_err();
        assert!(e.message.contains("TOML") && e.line == 1, "{e:?}");
    }

    #[test]
    fn a_stray_delimiter_inside_front_matter_is_an_error() {
        for closer in ["---", "..."] {
            let text = format!("---\ntitle: A\n{closer}\ndescription: more\ndraft: false\n---\nBody\n");
            let e = src("about.md", &text).unwrap_err();
            assert_eq!((e.line, e.col), (3, 1), "{closer}: {e:?}");
        }
        // Prose that merely starts like a field, and a thematic break, are fine.
        assert!(src("about.md", "---\ntitle: A\n---\nNote: prose.\n\n---\n").is_ok());
        assert!(src("about.md", "---\ntitle: A\n---\ntitle: of a chapter\n\nProse.\n\n---\n").is_ok());
    }
}
