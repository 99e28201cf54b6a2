//! Writing the site: everything goes into a staging folder beside the
//! output (the spare, see [`Staging`]), which is swapped in only once
//! complete. A failed build never touches the previous output, and files no
//! longer produced do not linger.

use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::HashSet;

use crate::theme::Origin;

mod memo;
use memo::{ContentHasher, Made, Memo, Stamp, content_hash};

/// A file to write: path under the output folder, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub path: Arc<str>,
    pub bytes: Bytes,
}

/// Every output of a build, sorted by path, in chunks that builds share:
/// the preview's render, the last good build and the build returned each
/// hold the site's outputs, and a save changes a few of them, so a clone
/// copies no output and changing one copies only its chunk (at 100,000
/// pages, copying the whole list was most of a save's time).
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    chunks: Vec<Arc<Vec<Output>>>,
    len: usize,
}

impl Outputs {
    const CHUNK: usize = 512;

    /// `outputs`, sorted by path.
    pub fn new(outputs: Vec<Output>) -> Outputs {
        let len = outputs.len();
        let mut chunks = Vec::with_capacity(len.div_ceil(Outputs::CHUNK));
        let mut outputs = outputs.into_iter();
        while outputs.len() > 0 {
            chunks.push(Arc::new(outputs.by_ref().take(Outputs::CHUNK).collect()));
        }
        Outputs { chunks, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = &Output> + Clone {
        self.into_iter()
    }

    pub fn par_iter(&self) -> impl ParallelIterator<Item = &Output> {
        self.chunks.par_iter().flat_map(|c| c.par_iter())
    }

    pub fn get(&self, k: usize) -> &Output {
        &self.chunks[k / Outputs::CHUNK][k % Outputs::CHUNK]
    }

    /// The position of the output at `path`.
    pub fn find(&self, path: &str) -> Option<usize> {
        let chunk = self.chunks.partition_point(|c| c.last().is_some_and(|o| &*o.path < path));
        let at = self.chunks.get(chunk)?.binary_search_by(|o| (*o.path).cmp(path)).ok()?;
        Some(chunk * Outputs::CHUNK + at)
    }

    /// Gives output `k` new bytes: its chunk is copied if another holds it.
    pub fn set_bytes(&mut self, k: usize, bytes: Bytes) {
        Arc::make_mut(&mut self.chunks[k / Outputs::CHUNK])[k % Outputs::CHUNK].bytes = bytes;
    }
}

type Chunks<'a> = std::slice::Iter<'a, Arc<Vec<Output>>>;

impl<'a> IntoIterator for &'a Outputs {
    type Item = &'a Output;
    type IntoIter = std::iter::FlatMap<Chunks<'a>, &'a Vec<Output>, fn(&'a Arc<Vec<Output>>) -> &'a Vec<Output>>;

    fn into_iter(self) -> Self::IntoIter {
        self.chunks.iter().flat_map(|c| &**c)
    }
}

/// An output's bytes as kept between builds: as they are, gzip-packed in
/// memory, or gzip-packed in the spill file (see [`Keep`]). The preview and
/// `watch` keep every output of the site, and HTML packs 3–8×: at 100,000
/// pages that is gigabytes. Packing is deterministic, so two packed outputs
/// are equal exactly when their packed bytes are, and the preview can send
/// them as they are kept.
#[derive(Clone)]
pub struct Bytes(Kept);

#[derive(Clone)]
enum Kept {
    Plain(Arc<[u8]>),
    Gzip(Arc<[u8]>),
    Spilled(Arc<Spilled>),
}

impl Bytes {
    pub fn plain(bytes: impl Into<Arc<[u8]>>) -> Bytes {
        Bytes(Kept::Plain(bytes.into()))
    }

    /// The output as written.
    pub fn get(&self) -> io::Result<Cow<'_, [u8]>> {
        let gz = match &self.0 {
            Kept::Plain(bytes) => return Ok(Cow::Borrowed(bytes)),
            Kept::Gzip(gz) => Cow::Borrowed(&gz[..]),
            Kept::Spilled(spilled) => Cow::Owned(spilled.read()?),
        };
        let mut bytes = Vec::with_capacity(gz.len() * 4);
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut bytes)?;
        Ok(Cow::Owned(bytes))
    }

    /// The gzip stream of the output, if it is kept packed: what a client
    /// that accepts gzip is sent.
    pub fn gzip(&self) -> Option<io::Result<Arc<[u8]>>> {
        match &self.0 {
            Kept::Gzip(gz) => Some(Ok(gz.clone())),
            Kept::Spilled(spilled) => Some(spilled.read().map(Arc::from)),
            Kept::Plain(_) => None,
        }
    }

    /// An output left out (see `render::FILES_DIR`) is empty.
    pub fn is_empty(&self) -> bool {
        matches!(&self.0, Kept::Plain(bytes) if bytes.is_empty())
    }

    /// The same allocation: kept from an earlier build, so the same bytes
    /// without reading them.
    pub fn same_as(&self, other: &Bytes) -> bool {
        match (&self.0, &other.0) {
            (Kept::Plain(a), Kept::Plain(b)) | (Kept::Gzip(a), Kept::Gzip(b)) => Arc::ptr_eq(a, b),
            (Kept::Spilled(a), Kept::Spilled(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// The length of the gzip stream, if packed.
    fn packed_len(&self) -> Option<usize> {
        match &self.0 {
            Kept::Gzip(gz) => Some(gz.len()),
            Kept::Spilled(spilled) => Some(spilled.len),
            Kept::Plain(_) => None,
        }
    }
}

impl PartialEq for Bytes {
    /// Equal outputs. Packed ones are compared packed (packing is
    /// deterministic), without reading them unless of the same length; one
    /// that cannot be read again equals nothing.
    fn eq(&self, other: &Bytes) -> bool {
        match (&self.0, &other.0) {
            (Kept::Plain(a), Kept::Plain(b)) | (Kept::Gzip(a), Kept::Gzip(b)) => a == b,
            _ => match (self.packed_len(), other.packed_len()) {
                (Some(a), Some(b)) if a != b => false,
                (Some(_), Some(_)) => {
                    matches!((self.gzip(), other.gzip()), (Some(Ok(a)), Some(Ok(b))) if a == b)
                }
                _ => matches!((self.get(), other.get()), (Ok(a), Ok(b)) if a == b),
            },
        }
    }
}

impl Eq for Bytes {}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Kept::Plain(bytes) => write!(f, "{} bytes", bytes.len()),
            Kept::Gzip(gz) => write!(f, "{} bytes gzip-packed", gz.len()),
            Kept::Spilled(spilled) => write!(f, "{} bytes gzip-packed on disk", spilled.len),
        }
    }
}

/// Where the preview keeps the outputs it packs: in memory, or, for a large
/// site, in a file of its own on disk, so that what it holds does not grow
/// with the site's rendered size (886 MB of packed outputs at 100,000
/// pages). The file is the system's temporary folder's, nameless where the
/// platform allows and removed when the preview ends; the space of an output
/// no longer held is given back to the file system (Linux, macOS), so saves
/// do not make it grow.
#[derive(Clone, Default)]
pub struct Keep(Option<Arc<Spill>>);

impl std::fmt::Debug for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_on_disk() { "on disk" } else { "in memory" })
    }
}

impl Keep {
    /// Outputs kept in a spill file, or in memory if none can be made (or
    /// on a platform without positioned reads and writes).
    pub fn on_disk() -> Keep {
        Keep(Spill::new().ok())
    }

    pub fn is_on_disk(&self) -> bool {
        self.0.is_some()
    }

    /// `bytes` gzip-packed, or as they are where that is no smaller (an
    /// output of a few bytes); put into the spill file if there is one and
    /// it takes them.
    pub fn pack(&self, bytes: Vec<u8>) -> Bytes {
        // The fastest level: packing is on the preview's first build and
        // save path, and level 2 packs a study page a fifth smaller at half
        // the speed (BENCHMARKS.md, sixth session).
        let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 3), flate2::Compression::fast());
        let packed = gz.write_all(&bytes).and_then(|()| gz.finish()).expect("writing to memory cannot fail");
        if packed.len() >= bytes.len() {
            return Bytes::plain(bytes);
        }
        match self.0.as_ref().map(|spill| spill.put(&packed)) {
            Some(Ok(spilled)) => Bytes(Kept::Spilled(Arc::new(spilled))),
            // A full disk keeps it in memory.
            _ => Bytes(Kept::Gzip(packed.into())),
        }
    }
}

/// The spill file: written only at its end, so bytes once written never
/// change while anything holds them, and concurrent writers never overlap.
/// Outputs are written back to back; a block of the file is given back to
/// the file system once no output held has bytes in it.
pub struct Spill {
    file: std::fs::File,
    blocks: Mutex<Blocks>,
    /// Where freed outputs go to be given back (see [`give_back`]); `None`
    /// where the platform cannot.
    freed: Option<std::sync::mpsc::Sender<(u64, usize)>>,
}

/// The end of the spill file, and per block of it, how many outputs held
/// have bytes in it.
#[derive(Default)]
struct Blocks {
    end: u64,
    held: Vec<u16>,
}

impl Blocks {
    /// The file system block most have (ext4, APFS, NTFS).
    const SIZE: u64 = 4096;

    /// The blocks that `len` bytes at `at` touch.
    fn of(at: u64, len: usize) -> std::ops::Range<usize> {
        (at / Blocks::SIZE) as usize..(at + len as u64).div_ceil(Blocks::SIZE) as usize
    }

    /// Room for `len` bytes at the end.
    fn take(&mut self, len: usize) -> u64 {
        let at = self.end;
        self.end += len as u64;
        let blocks = Blocks::of(at, len);
        if self.held.len() < blocks.end {
            self.held.resize(blocks.end, 0);
        }
        // At most one output per byte of a block: a u16 cannot overflow.
        self.held[blocks].iter_mut().for_each(|n| *n += 1);
        at
    }

    /// Lets go of `len` bytes at `at`; returns the blocks that no output
    /// holds any more, but never the last block, which the next output may
    /// already be writing to.
    fn free(&mut self, at: u64, len: usize, unheld: &mut Vec<usize>) {
        let last = (self.end / Blocks::SIZE) as usize;
        for b in Blocks::of(at, len) {
            self.held[b] -= 1;
            if self.held[b] == 0 && b < last {
                unheld.push(b);
            }
        }
    }
}

/// Where one output's gzip stream is in the spill file.
struct Spilled {
    spill: Arc<Spill>,
    at: u64,
    len: usize,
}

impl Spill {
    #[cfg(unix)]
    fn new() -> io::Result<Arc<Spill>> {
        let file = tempfile::tempfile()?;
        let spill = Arc::new_cyclic(|weak| {
            let freed = give_back(weak.clone());
            Spill { file, blocks: Mutex::default(), freed }
        });
        Ok(spill)
    }

    #[cfg(not(unix))]
    fn new() -> io::Result<Arc<Spill>> {
        Err(io::ErrorKind::Unsupported.into())
    }

    fn put(self: &Arc<Spill>, bytes: &[u8]) -> io::Result<Spilled> {
        let at = self.blocks.lock().unwrap_or_else(|e| e.into_inner()).take(bytes.len());
        // Made before writing: if the write fails, dropping it gives the room back.
        let spilled = Spilled { spill: self.clone(), at, len: bytes.len() };
        #[cfg(unix)]
        std::os::unix::fs::FileExt::write_all_at(&self.file, bytes, at)?;
        Ok(spilled)
    }
}

/// A thread that gives back to the file system the blocks that freed
/// outputs leave unheld, adjacent ones together, and ends with the spill
/// file. Off the build's path: punching a hole can wait on the disk (on a
/// file system mounted with `discard`, it was 14 % of a title edit at
/// 100,000 pages).
#[cfg(any(target_os = "linux", target_os = "macos"))]
fn give_back(spill: std::sync::Weak<Spill>) -> Option<std::sync::mpsc::Sender<(u64, usize)>> {
    let (tx, rx) = std::sync::mpsc::channel::<(u64, usize)>();
    let punch = move || {
        let mut unheld = Vec::new();
        while let Ok(first) = rx.recv() {
            // Gone with the last output: nothing left to give back.
            let Some(spill) = spill.upgrade() else { return };
            unheld.clear();
            let mut blocks = spill.blocks.lock().unwrap_or_else(|e| e.into_inner());
            for (at, len) in std::iter::once(first).chain(rx.try_iter()) {
                blocks.free(at, len, &mut unheld);
            }
            drop(blocks);
            unheld.sort_unstable();
            for run in unheld.chunk_by(|a, b| a + 1 == *b) {
                punch_hole(&spill.file, run[0] as u64 * Blocks::SIZE, run.len() as u64 * Blocks::SIZE);
            }
        }
    };
    std::thread::Builder::new().name("annals-spill".into()).spawn(punch).ok().map(|_| tx)
}

#[cfg(all(unix, not(any(target_os = "linux", target_os = "macos"))))]
fn give_back(_: std::sync::Weak<Spill>) -> Option<std::sync::mpsc::Sender<(u64, usize)>> {
    None
}

/// Frees the blocks of `len` bytes at `at` (whole blocks) and leaves a
/// hole, the file keeping its length. Failing (a file system that cannot)
/// only leaves the space used.
#[cfg(target_os = "linux")]
fn punch_hole(file: &std::fs::File, at: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let mode = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
    // SAFETY: a plain system call on a descriptor the spill owns.
    unsafe { libc::fallocate(file.as_raw_fd(), mode, at as libc::off_t, len as libc::off_t) };
}

#[cfg(target_os = "macos")]
fn punch_hole(file: &std::fs::File, at: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let hole =
        libc::fpunchhole_t { fp_flags: 0, reserved: 0, fp_offset: at as libc::off_t, fp_length: len as libc::off_t };
    // SAFETY: a plain system call on a descriptor the spill owns, with a
    // pointer to a value that outlives it.
    unsafe { libc::fcntl(file.as_raw_fd(), libc::F_PUNCHHOLE, &hole) };
}

impl Spilled {
    fn read(&self) -> io::Result<Vec<u8>> {
        let mut bytes = vec![0; self.len];
        #[cfg(unix)]
        std::os::unix::fs::FileExt::read_exact_at(&self.spill.file, &mut bytes, self.at)?;
        Ok(bytes)
    }
}

impl Drop for Spilled {
    /// Gives the space back to the file system, as far as no other output
    /// shares it (see [`Spill`]); the file keeps its length.
    fn drop(&mut self) {
        if let Some(freed) = &self.spill.freed {
            let _ = freed.send((self.at, self.len));
        }
    }
}

/// A file copied as it is (static files, content assets).
#[derive(Debug, Clone)]
pub struct CopiedFile {
    pub path: String,
    pub from: Origin,
}

/// Where a one-off build streams its files as they are made: the render
/// stage writes through this, so it needs nothing else of this module.
pub trait Sink: Sync {
    /// Creates every folder the given file paths need.
    fn create_folders(&self, paths: &mut dyn Iterator<Item = &str>) -> io::Result<()>;
    /// Writes one file (its folder exists).
    fn write(&self, path: &str, bytes: &[u8]) -> io::Result<()>;
    /// Whether what is written is published (and so needs absolute URLs).
    fn publishes(&self) -> bool {
        true
    }
    /// Whether it keeps what each file was made from (see `write_made`),
    /// so that the next build can keep the file: only then are the keys of
    /// what outputs are made from worth working out.
    fn keeps_keys(&self) -> bool {
        false
    }
    /// Keeps the file that an earlier build made at `path` from inputs of
    /// key `key` (see `render::keys`), if it is still there untouched: true
    /// if it did, and the output need not be rendered.
    fn reuse(&self, _path: &str, _key: u64) -> bool {
        false
    }
    /// Writes one file made from inputs of key `key`.
    fn write_made(&self, path: &str, bytes: &[u8], _key: u64) -> io::Result<()> {
        self.write(path, bytes)
    }
    /// Writes one file whose bytes `fill` writes, made from inputs of key
    /// `key` (as `write_made`) or of none (as `write`): a sink that can
    /// takes them as they come, so that a large output (a large site's data
    /// file) is not held whole.
    fn write_streamed(&self, path: &str, key: Option<u64>, fill: &mut Fill) -> io::Result<()> {
        let mut bytes = Vec::new();
        fill(&mut bytes)?;
        match key {
            Some(key) => self.write_made(path, &bytes, key),
            None => self.write(path, &bytes),
        }
    }
    /// What the last build that succeeded kept under `name` (see `keep`),
    /// with what later builds appended to it (see `append`).
    fn recall(&self, _name: &str) -> Option<Vec<u8>> {
        None
    }
    /// Keeps what `fill` writes under `name` for the next build, if this one
    /// succeeds. At best: one that cannot be kept costs the next build time,
    /// nothing else.
    fn keep(&self, _name: &str, _fill: &mut Fill) {}
    /// Appends what `fill` writes to what `recall` gave for `name`, after
    /// its first `at` bytes (past them, what a stopped build left), at
    /// once: what is kept under a name must stay good for any build after,
    /// whether this one succeeds or not (see `kept::Kept`).
    fn append(&self, _name: &str, _at: u64, _fill: &mut Fill) {}
}

/// What writes a file's bytes into the writer it is given (see `Sink::write_streamed`).
pub type Fill<'a> = dyn FnMut(&mut dyn Write) -> io::Result<()> + 'a;

/// Where `annals check` streams its files: nowhere. Every output is still
/// rendered (a template error is an error), and let go as it is made.
pub struct Discard;

impl Sink for Discard {
    fn create_folders(&self, _: &mut dyn Iterator<Item = &str>) -> io::Result<()> {
        Ok(())
    }

    fn write(&self, _: &str, _: &[u8]) -> io::Result<()> {
        Ok(())
    }

    fn write_streamed(&self, _: &str, _: Option<u64>, fill: &mut Fill) -> io::Result<()> {
        fill(&mut io::sink())
    }

    fn publishes(&self) -> bool {
        false
    }
}

/// The file every build writes at the top of its output. annals replaces
/// or writes into a folder only if it carries this mark (or is empty, or
/// does not exist yet), so that `-o` pointed at the wrong folder loses nothing.
pub const MARKER: &str = ".annals-output";
const MARKER_TEXT: &str = "This folder is generated by annals; every build replaces it whole.\n";

/// What a site root holds: an output folder that contains one of these is
/// the site (or a repository), never a build.
const SITE_NAMES: [&str; 6] = ["site.yaml", "content", "templates", "static", "themes", ".git"];

/// Why [`check_output_dir`] refuses an output folder. Each names the
/// folder as resolved, which is what a build would have replaced.
#[derive(Debug)]
pub enum OutputError {
    /// The site folder itself cannot be opened.
    SiteUnreadable { root: PathBuf, source: io::Error },
    /// The output is the site, or a folder that holds it.
    HoldsTheSite { out: PathBuf },
    /// The output is inside a folder annals reads from (`content/`, …).
    InsideSource { out: PathBuf, source_folder: &'static str },
    /// The output exists and is a file.
    IsAFile { out: PathBuf },
    /// The output holds what a site or a repository holds (`name`).
    LooksLikeASite { out: PathBuf, name: &'static str },
    /// The output is not empty and carries no [`MARKER`] (refused unless forced).
    NotMadeByAnnals { out: PathBuf },
    /// The output exists but cannot be inspected.
    Unreadable { out: PathBuf, source: io::Error },
}

impl std::fmt::Display for OutputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputError::SiteUnreadable { root, source } => {
                write!(f, "cannot open the site folder {}: {source}", root.display())
            }
            OutputError::HoldsTheSite { out } => write!(
                f,
                "the output folder {} holds the site itself; choose a folder of its own, such as public/",
                out.display()
            ),
            OutputError::InsideSource { out, source_folder } => {
                write!(f, "the output folder {} is inside {source_folder}/, which annals reads from", out.display())
            }
            OutputError::IsAFile { out } => {
                write!(f, "the output {} is a file, not a folder; annals never replaces a file", out.display())
            }
            OutputError::LooksLikeASite { out, name } => write!(
                f,
                "the output folder {} holds `{name}`: it looks like a site or a repository, which a build would replace",
                out.display()
            ),
            OutputError::NotMadeByAnnals { out } => write!(
                f,
                "the output folder {} was not made by annals (it has no {MARKER} file) and is not empty; \
                 a build replaces its output folder whole, so choose another folder, empty this one, \
                 or pass --force to replace it and everything in it",
                out.display()
            ),
            OutputError::Unreadable { out, source } => {
                write!(f, "cannot read the output folder {}: {source}", out.display())
            }
        }
    }
}

impl std::error::Error for OutputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OutputError::SiteUnreadable { source, .. } | OutputError::Unreadable { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Checks that `out` (relative to `root`) may be replaced by a build, and
/// returns it resolved: symlinks and `..` followed, so that what is checked
/// is what gets replaced. Refused: a file; the site itself or a folder that
/// holds it; a folder inside the ones annals reads; a folder holding a site
/// or a repository; and an existing non-empty folder that an earlier build
/// did not mark, unless `force`.
pub fn check_output_dir(root: &Path, out: &Path, force: bool) -> Result<PathBuf, OutputError> {
    let root = site_folder(root)?;
    let out = resolve(&root.join(out));
    if root.starts_with(&out) {
        return Err(OutputError::HoldsTheSite { out });
    }
    for source_folder in ["content", "templates", "static", "themes"] {
        if out.starts_with(root.join(source_folder)) {
            return Err(OutputError::InsideSource { out, source_folder });
        }
    }
    let unreadable = |out: &Path, source| OutputError::Unreadable { out: out.to_path_buf(), source };
    let meta = match std::fs::symlink_metadata(&out) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(unreadable(&out, e)),
        Ok(meta) => meta,
    };
    if !meta.is_dir() {
        return Err(OutputError::IsAFile { out });
    }
    if let Some(&name) = SITE_NAMES.iter().find(|n| out.join(n).symlink_metadata().is_ok()) {
        return Err(OutputError::LooksLikeASite { out, name });
    }
    let empty = std::fs::read_dir(&out).map_err(|e| unreadable(&out, e))?.next().is_none();
    if !empty && !is_marked(&out) && !force {
        return Err(OutputError::NotMadeByAnnals { out });
    }
    Ok(out)
}

/// The site folder `root` names, absolute and with symlinks resolved: what
/// the output is checked against, and what file events are compared with.
pub fn site_folder(root: &Path) -> Result<PathBuf, OutputError> {
    root.canonicalize().map_err(|source| OutputError::SiteUnreadable { root: root.to_path_buf(), source })
}

fn is_marked(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir.join(MARKER)).is_ok_and(|m| m.is_file())
}

/// The absolute path `path` names, with every symlink and `..` resolved as
/// the file system would: the part that exists is canonicalized, and the
/// part that does not yet exist (which holds no symlink) is appended.
fn resolve(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    let mut out = loop {
        if let Ok(real) = existing.canonicalize() {
            break real;
        }
        match existing.file_name() {
            Some(name) => rest.push(name.to_owned()),
            // `..` or `.` last: let the parent resolve it.
            None if existing.ends_with("..") => rest.push("..".into()),
            None => {}
        }
        if !existing.pop() {
            return path.to_path_buf();
        }
    };
    for name in rest.iter().rev() {
        if name == ".." {
            out.pop();
        } else {
            out.push(name);
        }
    }
    out
}

fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let name = out.file_name().map_or_else(|| "public".into(), |n| n.to_string_lossy().into_owned());
    out.with_file_name(format!(".{name}.{suffix}"))
}

/// The folder a build writes into, beside the output, swapped in place of it
/// once complete. It is the *spare*: the output of the build before last,
/// kept in `.<name>.annals/spare/` between builds (the previous output is
/// put there by the swap). A build brings the spare up to date, writing
/// only the files whose bytes differ, and where the spare lacks a file that
/// the output holds with the same bytes it hard-links it (so the two share
/// storage). A rebuild with one page changed thus writes one page and
/// creates no folder, on disk as on tmpfs.
///
/// Why this is safe:
/// - a file is never written in place: a changed one is unlinked and
///   created anew, since its inode may be shared with the output;
/// - the spare's list of files is trusted only if the spare's mark names
///   it, and the mark loses that name before anything in the spare changes
///   (as does the output's when `watch` updates it in place): an
///   interrupted build leaves a spare without one, which the next build
///   lists by walking it;
/// - files the spare holds that this build did not produce are removed
///   before the swap, so nothing stale is published;
/// - dropped without `commit` (the build failed), the output is untouched.
///
/// While it lives it holds a lock on the output's parent folder, so that a
/// second build into the same place waits for the first instead of mixing
/// with it.
pub struct Staging {
    dir: PathBuf,
    out: PathBuf,
    /// `.<name>.annals/`: the spare and its lists of files.
    state: PathBuf,
    /// The files the spare held when the build began.
    existing: HashSet<String>,
    /// The folders those files are in, which need not be created.
    folders: HashSet<String>,
    /// The output, if annals made it: where unchanged files can be linked from.
    link_from: Option<PathBuf>,
    /// Every file of this build, for the spare's list and for removing the rest.
    written: Mutex<Vec<String>>,
    /// What the files of the spare and of the output were made from (see
    /// `memo`); `None` for a build that reuses nothing.
    memos: Option<(Memo, Memo)>,
    /// What this build's files were made from, for the spare's memo.
    made: Mutex<Vec<(String, Made)>>,
    /// What this build keeps for the next (see `Sink::keep`), by name:
    /// written beside the spare at once, put in place on commit.
    kept: Mutex<Vec<String>>,
    /// How many files `write_streamed` has begun, which names the next.
    partials: std::sync::atomic::AtomicUsize,
    committed: bool,
    _lock: Option<std::fs::File>,
}

impl Staging {
    /// `out` must have passed [`check_output_dir`].
    pub fn new(out: &Path) -> io::Result<Staging> {
        let parent = out.parent().ok_or_else(|| io::Error::other("the output folder has no parent folder"))?;
        std::fs::create_dir_all(parent)?;
        let lock = lock(parent)?;
        let state = sibling(out, "annals");
        let dir = state.join("spare");
        let existing = match std::fs::symlink_metadata(&state) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir(&state)?;
                HashSet::default()
            }
            Ok(m) if m.is_dir() && !m.file_type().is_symlink() => match std::fs::symlink_metadata(&dir) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => HashSet::default(),
                Ok(m) if m.is_dir() && is_marked(&dir) => files_of(&state, &dir)?,
                _ => return Err(in_the_way(&dir)),
            },
            _ => return Err(in_the_way(&state)),
        };
        if existing.is_empty() {
            remove_own(&dir)?;
            std::fs::create_dir(&dir)?;
        }
        // Before anything in the spare changes: its list no longer applies.
        replace_file(&dir.join(MARKER), MARKER_TEXT.as_bytes())?;
        let folders = existing.iter().filter_map(|p| p.rsplit_once('/').map(|(f, _)| f.to_string())).collect();
        let link_from = is_marked(out).then(|| out.to_path_buf());
        // Of a spare made anew, nothing is reused (see `reuse`), whatever a
        // memo of the folder that had its inode says.
        let spare_memo = Memo::load(&state, folder_id(&dir));
        let out_memo = link_from.as_ref().map_or_else(Memo::default, |out| Memo::load(&state, folder_id(out)));
        Ok(Staging {
            dir,
            out: out.to_path_buf(),
            state,
            existing,
            folders,
            link_from,
            written: Mutex::new(vec![MARKER.to_string()]),
            memos: Some((spare_memo, out_memo)),
            made: Mutex::new(Vec::new()),
            kept: Mutex::new(Vec::new()),
            partials: Default::default(),
            committed: false,
            _lock: lock,
        })
    }

    /// Creates every folder the given file paths need, each once, parents
    /// first, so that the parallel writes that follow need no checks.
    pub fn create_folders<'a>(&self, paths: impl Iterator<Item = &'a str>) -> io::Result<()> {
        let folders: BTreeSet<&str> = paths.filter_map(|p| p.rsplit_once('/').map(|(folder, _)| folder)).collect();
        for folder in folders.into_iter().filter(|f| !self.folders.contains(*f)) {
            let path = self.dir.join(folder);
            match std::fs::create_dir(&path) {
                // A file of the spare where this build wants a folder.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && !path.is_dir() => {
                    std::fs::remove_file(&path)?;
                    std::fs::create_dir(&path)?;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::create_dir_all(&path)?,
                other => other?,
            }
        }
        Ok(())
    }

    /// Writes one file, or keeps the spare's copy if its bytes are these, or
    /// links the output's if its bytes are.
    pub fn write(&self, path: &str, bytes: &[u8]) -> io::Result<()> {
        // Made from no key: its bytes are its key.
        let content = content_hash(bytes);
        self.write_with(path, ToWrite::Held(bytes), content, content)
    }

    /// Writes one file (see `write`) made from inputs of key `key`, and
    /// remembers that it was.
    pub fn write_made(&self, path: &str, bytes: &[u8], key: u64) -> io::Result<()> {
        self.write_with(path, ToWrite::Held(bytes), key, content_hash(bytes))
    }

    /// Writes one file (see `write`) whose bytes `fill` writes as they are
    /// made, into a file of the state folder that then takes the path's
    /// place: a large output is not held in memory.
    pub fn write_streamed(&self, path: &str, key: Option<u64>, fill: &mut Fill) -> io::Result<()> {
        use std::sync::atomic::Ordering;
        let partial = self.state.join(format!("{}{PARTIAL}", self.partials.fetch_add(1, Ordering::Relaxed)));
        let written = (|| {
            // One a stopped build left there is in the way.
            remove_entry(&partial)?;
            let mut writer = Hashing { file: io::BufWriter::new(create(&partial, &[])?), hasher: ContentHasher::new() };
            fill(&mut writer)?;
            let file = writer.file.into_inner().map_err(io::IntoInnerError::into_error)?;
            let content = writer.hasher.finish();
            self.write_with(path, ToWrite::Streamed(&partial, &file), key.unwrap_or(content), content)
        })();
        // Gone if it took the path's place.
        let _ = std::fs::remove_file(&partial);
        written
    }

    fn write_with(&self, path: &str, bytes: ToWrite, key: u64, content: u64) -> io::Result<()> {
        self.record(path);
        // Where a memo says that the file has these bytes, it is not read.
        if let Some(made) = self.keep_from_memos(path, |memo, file| memo.holds_bytes(path, content, file)) {
            self.remember(path, Made { key, ..made });
            return Ok(());
        }
        let dest = self.dir.join(path);
        let kept = (self.existing.contains(path) && bytes.are_at(&dest))
            || self.link_from.as_ref().is_some_and(|from| self.linked(&from.join(path), &dest, |f| bytes.are_at(f)));
        // Stamped by the file just written, which a path's lookup would cost again.
        let written = std::cell::Cell::new(None);
        if !kept {
            self.put(&dest, |d| {
                written.set(bytes.put(d)?);
                Ok(())
            })?;
        }
        let stamp = match written.take() {
            Some(meta) => Stamp::of_meta(&meta),
            None => Stamp::of(&dest),
        };
        if let Some(stamp) = stamp {
            self.remember(path, Made { key, stamp, content });
        }
        Ok(())
    }

    /// Renders everything again: keeps no file for what it was made from
    /// (`annals build --fresh`). What this build makes is remembered all the same.
    pub fn fresh(mut self) -> Staging {
        self.memos = None;
        self
    }

    /// Keeps the spare's file at `path`, or links the output's, if the
    /// memo of its folder says it was made from inputs of key `key` and it
    /// is untouched since; true if it did.
    pub fn reuse(&self, path: &str, key: u64) -> bool {
        let Some(made) = self.keep_from_memos(path, |memo, file| memo.holds(path, key, file)) else { return false };
        self.record(path);
        self.remember(path, made);
        true
    }

    /// Keeps the spare's file at `path`, or links the output's in its
    /// place, if `found` finds it, untouched, in the memo of its folder;
    /// returns what that memo says of it.
    fn keep_from_memos(&self, path: &str, found: impl Fn(&Memo, &Path) -> Option<Made>) -> Option<Made> {
        let (spare, out) = self.memos.as_ref()?;
        let dest = self.dir.join(path);
        if let Some(made) = found(spare, &dest).filter(|_| self.existing.contains(path)) {
            return Some(made);
        }
        let from = self.link_from.as_ref()?.join(path);
        let made = found(out, &from)?;
        // The spare's file, whatever it is, gives way (as in `linked`).
        (remove_entry(&dest).is_ok() && std::fs::hard_link(&from, &dest).is_ok()).then_some(made)
    }

    fn remember(&self, path: &str, made: Made) {
        self.made.lock().unwrap_or_else(|e| e.into_inner()).push((path.to_string(), made));
    }

    /// Copies static files and assets, keeping those whose copy is current
    /// (same size, not older than the source).
    pub fn copy(&self, copies: &[CopiedFile]) -> io::Result<()> {
        self.create_folders(copies.iter().map(|c| c.path.as_str()))?;
        copies.par_iter().try_for_each(|c| match &c.from {
            Origin::Embedded(_, bytes) => self.write(&c.path, bytes),
            Origin::Disk(src) => {
                self.record(&c.path);
                let dest = self.dir.join(&c.path);
                if self.existing.contains(&c.path) && same_file_state(src, &dest) {
                    return Ok(());
                }
                if self
                    .link_from
                    .as_ref()
                    .is_some_and(|from| self.linked(&from.join(&c.path), &dest, |f| same_file_state(src, f)))
                {
                    return Ok(());
                }
                self.put(&dest, |d| std::fs::copy(src, d).map(|_| ()))
            }
        })
    }

    fn record(&self, path: &str) {
        self.written.lock().unwrap_or_else(|e| e.into_inner()).push(path.to_string());
    }

    /// Hard-links `from` to `dest` if `current(from)`; false where it is not,
    /// or the file system cannot link.
    fn linked(&self, from: &Path, dest: &Path, current: impl Fn(&Path) -> bool) -> bool {
        // Only a file: a link to a symlink would publish the symlink.
        let is_file = std::fs::symlink_metadata(from).is_ok_and(|m| m.is_file());
        is_file && current(from) && {
            let _ = remove_entry(dest);
            std::fs::hard_link(from, dest).is_ok()
        }
    }

    /// Creates `dest` anew with `make`, after removing whatever the spare has
    /// there: a file is never rewritten in place, as the output may share it.
    fn put(&self, dest: &Path, make: impl Fn(&Path) -> io::Result<()>) -> io::Result<()> {
        remove_entry(dest)?;
        match make(dest) {
            // A folder of the spare's list that is gone after all.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dest.parent().unwrap_or(&self.dir))?;
                make(dest)
            }
            other => other,
        }
    }

    /// Removes what the spare holds and this build did not write, records
    /// its list of files, and puts it in place of the output; the previous
    /// output becomes the spare.
    pub fn commit(mut self) -> io::Result<()> {
        let written: HashSet<String> =
            std::mem::take(&mut *self.written.lock().unwrap_or_else(|e| e.into_inner())).into_iter().collect();
        for stale in self.existing.iter().filter(|p| !written.contains(*p)) {
            remove_with_empty_folders(&self.dir, stale)?;
        }
        let list = FileList::of(&self.dir, written)?;
        if let Some(id) = folder_id(&self.dir) {
            std::fs::write(self.state.join(list_name(id)), list.encode())?;
            let made = std::mem::take(&mut *self.made.lock().unwrap_or_else(|e| e.into_inner()));
            Memo::save(&self.state, id, &made)?;
        }
        for name in std::mem::take(&mut *self.kept.lock().unwrap_or_else(|e| e.into_inner())) {
            std::fs::rename(self.state.join(kept_name(&name, true)), self.state.join(kept_name(&name, false)))?;
        }
        replace_file(&self.dir.join(MARKER), marker_text(&list.generation).as_bytes())?;
        let replaces_foreign = std::fs::symlink_metadata(&self.out).is_ok() && !is_marked(&self.out);
        swap(&self.dir, &self.out)?;
        self.committed = true;
        // A folder that was not annals's (replaced with --force) is not kept.
        if replaces_foreign {
            remove_tree(&self.dir)?;
        }
        // Only the lists and memos of the output and of the spare are kept.
        let ids = [folder_id(&self.out), folder_id(&self.dir)];
        let keep: Vec<String> = ids.into_iter().flatten().flat_map(|id| [list_name(id), memo::name(id)]).collect();
        for entry in std::fs::read_dir(&self.state)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            // Only the files annals names (`<inode>.files`, `<inode>.memo`,
            // `<n>.partial`).
            let numbered = |suffix| name.strip_suffix(suffix).is_some_and(|n: &str| n.parse::<u64>().is_ok());
            let ours = numbered(".files") || numbered(PARTIAL) || memo::is_memo(&name);
            if ours && !keep.contains(&name) {
                std::fs::remove_file(self.state.join(&name))?;
            }
        }
        Ok(())
    }
}

impl Sink for Staging {
    fn create_folders(&self, paths: &mut dyn Iterator<Item = &str>) -> io::Result<()> {
        Staging::create_folders(self, paths)
    }

    fn write(&self, path: &str, bytes: &[u8]) -> io::Result<()> {
        Staging::write(self, path, bytes)
    }

    fn keeps_keys(&self) -> bool {
        true
    }

    fn reuse(&self, path: &str, key: u64) -> bool {
        Staging::reuse(self, path, key)
    }

    fn write_made(&self, path: &str, bytes: &[u8], key: u64) -> io::Result<()> {
        Staging::write_made(self, path, bytes, key)
    }

    fn write_streamed(&self, path: &str, key: Option<u64>, fill: &mut Fill) -> io::Result<()> {
        Staging::write_streamed(self, path, key, fill)
    }

    /// Kept in the state folder, beside the spare. Nothing of it is
    /// recalled by a build that reuses nothing (`fresh`).
    fn recall(&self, name: &str) -> Option<Vec<u8>> {
        self.memos.as_ref()?;
        std::fs::read(self.state.join(kept_name(name, false))).ok()
    }

    /// Written at once, as it is made: a large site's (80 MB of Markdown
    /// facts at 100,000 pages) is neither held to the end nor whole.
    fn keep(&self, name: &str, fill: &mut Fill) {
        let next = self.state.join(kept_name(name, true));
        let written = (|| {
            let mut file = io::BufWriter::new(create_replacing(&next, &[])?);
            fill(&mut file)?;
            file.flush()
        })();
        match written {
            Ok(()) => self.kept.lock().unwrap_or_else(|e| e.into_inner()).push(name.to_string()),
            Err(_) => drop(std::fs::remove_file(next)),
        }
    }

    /// A failed append leaves a record unfinished, which the next build's
    /// `Kept` leaves out, and writes over. Never through a symlink: only
    /// into the file a build made.
    fn append(&self, name: &str, at: u64, fill: &mut Fill) {
        let _ = (|| {
            let mut open = std::fs::OpenOptions::new();
            open.write(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::custom_flags(&mut open, libc::O_NOFOLLOW);
            let mut file = open.open(self.state.join(kept_name(name, false)))?;
            file.set_len(at)?;
            file.seek(io::SeekFrom::End(0))?;
            let mut file = io::BufWriter::new(file);
            fill(&mut file)?;
            file.flush()
        })();
    }
}

/// The file of the state folder that holds what a build kept under `name`:
/// for the next build, or (`next`) for the build after this one succeeds.
fn kept_name(name: &str, next: bool) -> String {
    if next { format!("{name}.kept.next") } else { format!("{name}.kept") }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        // What it kept for the next build: the last one's still holds.
        for name in self.kept.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = std::fs::remove_file(self.state.join(kept_name(name, true)));
        }
        // A failed build leaves the spare as it is: its mark names no list,
        // so the next build walks it.
        if self.existing.is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
            // Only if empty: it may hold the list of the output's files.
            let _ = std::fs::remove_dir(&self.state);
        }
    }
}

fn in_the_way(path: &Path) -> io::Error {
    io::Error::other(format!("{} is in the way of the build and was not made by annals; move it away", path.display()))
}

fn marker_text(generation: &str) -> String {
    format!("{MARKER_TEXT}generation: {generation}\n")
}

/// What a folder of annals's held when its build finished: its files, and
/// the modification time of each of its sub-folders, by which a file added
/// or removed since (by hand, or by `watch`) shows. Kept in the state folder
/// under the folder's inode number, which the swap does not change.
struct FileList {
    /// A hash of the file names, which the folder's mark also names: a mark
    /// that does not (a build stopped half-way, `watch` writing) voids the list.
    generation: String,
    files: Vec<String>,
    /// Each sub-folder and its modification time, in nanoseconds.
    folders: Vec<(String, u128)>,
}

impl FileList {
    fn of(dir: &Path, files: HashSet<String>) -> io::Result<FileList> {
        let mut files: Vec<String> = files.into_iter().collect();
        files.sort_unstable();
        let generation = generation_of_files(&files);
        let mut folders: BTreeSet<&str> = BTreeSet::new();
        for file in &files {
            let mut path = file.as_str();
            while let Some((parent, _)) = path.rsplit_once('/') {
                if !folders.insert(parent) {
                    break;
                }
                path = parent;
            }
        }
        let folders = folders
            .into_par_iter()
            .map(|f| Ok((f.to_string(), modified(&dir.join(f))?)))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(FileList { generation, files, folders })
    }

    fn encode(&self) -> String {
        use std::fmt::Write;
        let mut text = format!("{}\0", self.generation);
        for (folder, time) in &self.folders {
            let _ = write!(text, "d{time} {folder}\0");
        }
        for file in &self.files {
            let _ = write!(text, "f{file}\0");
        }
        text
    }

    fn decode(text: &str) -> Option<FileList> {
        let mut records = text.split('\0').filter(|r| !r.is_empty());
        let generation = records.next()?.to_string();
        let (mut files, mut folders) = (Vec::new(), Vec::new());
        for record in records {
            match record.split_at_checked(1)? {
                ("f", file) => files.push(file.to_string()),
                ("d", rest) => {
                    let (time, folder) = rest.split_once(' ')?;
                    folders.push((folder.to_string(), time.parse().ok()?));
                }
                _ => return None,
            }
        }
        Some(FileList { generation, files, folders })
    }

    /// Whether `dir` still holds exactly these files: its mark names this
    /// list, no sub-folder changed, and its top level has the same entries.
    fn describes(&self, dir: &Path) -> bool {
        let top: Option<HashSet<String>> = std::fs::read_dir(dir).ok().and_then(|entries| {
            entries.map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned())).collect()
        });
        let listed_top: HashSet<&str> = self.files.iter().map(|f| f.split('/').next().unwrap_or(f)).collect();
        generation_of(dir).as_deref() == Some(self.generation.as_str())
            && top
                .is_some_and(|top| top.len() == listed_top.len() && top.iter().all(|n| listed_top.contains(n.as_str())))
            && self.folders.par_iter().all(|(f, time)| modified(&dir.join(f)).is_ok_and(|t| t == *time))
    }
}

/// A hash of a sorted list of files: what the mark of the folder holding
/// them names, the same for two builds of the same site.
fn generation_of_files(sorted: &[String]) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    sorted.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

fn modified(path: &Path) -> io::Result<u128> {
    let time = std::fs::symlink_metadata(path)?.modified()?;
    Ok(time.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()))
}

/// What names a folder's list of files in the state folder: its inode
/// number; `None` where there is none (the spare is then walked).
fn folder_id(dir: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::symlink_metadata(dir).ok().map(|m| m.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

/// The generation a folder's mark names, if any.
fn generation_of(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(MARKER)).ok()?;
    text.lines().find_map(|l| l.strip_prefix("generation: ")).map(str::to_string)
}

fn list_name(id: u64) -> String {
    format!("{id}.files")
}

/// The files of the spare: its list, if it still describes it, else a walk.
fn files_of(state: &Path, spare: &Path) -> io::Result<HashSet<String>> {
    let list = folder_id(spare)
        .and_then(|id| std::fs::read_to_string(state.join(list_name(id))).ok())
        .and_then(|text| FileList::decode(&text))
        .filter(|list| list.describes(spare));
    if let Some(list) = list {
        return Ok(list.files.into_iter().collect());
    }
    let mut files = HashSet::default();
    for entry in walkdir::WalkDir::new(spare).min_depth(1) {
        let entry = entry.map_err(io::Error::other)?;
        if !entry.file_type().is_dir() {
            let rel = entry.path().strip_prefix(spare).map_err(io::Error::other)?;
            files.insert(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(files)
}

/// Whether the file at `path` holds exactly `bytes`. A symlink never does:
/// what is published must be a file the build wrote.
fn has_bytes(path: &Path, bytes: &[u8]) -> bool {
    let mut at = 0;
    holds(path, bytes.len() as u64, |piece| {
        at += piece.len();
        bytes.get(at - piece.len()..at) == Some(piece)
    })
}

/// Whether the file at `path` (not a symlink) holds `len` bytes, each
/// piece of which `same` finds the same as the next piece of what it
/// compares with: a large output (a data file of a large site is tens of
/// megabytes) is not held twice.
fn holds(path: &Path, len: u64, mut same: impl FnMut(&[u8]) -> bool) -> bool {
    let mut open = std::fs::OpenOptions::new();
    open.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut open, libc::O_NOFOLLOW);
    let Ok(mut file) = open.open(path) else { return false };
    if file.metadata().map_or(true, |m| m.len() != len) {
        return false;
    }
    let mut piece = vec![0; len.min(PIECE as u64) as usize];
    let mut left = len;
    while left > 0 {
        let piece = &mut piece[..left.min(PIECE as u64) as usize];
        if file.read_exact(piece).is_err() || !same(piece) {
            return false;
        }
        left -= piece.len() as u64;
    }
    file.read(&mut [0]).is_ok_and(|n| n == 0)
}

/// How much of a file is compared at a time.
const PIECE: usize = 64 << 10;

/// A file's bytes to be written: in memory, or already written into a file
/// of the state folder (see `Staging::write_streamed`).
#[derive(Clone, Copy)]
enum ToWrite<'a> {
    Held(&'a [u8]),
    Streamed(&'a Path, &'a std::fs::File),
}

impl ToWrite<'_> {
    /// Whether the file at `path` holds these bytes.
    fn are_at(self, path: &Path) -> bool {
        match self {
            ToWrite::Held(bytes) => has_bytes(path, bytes),
            ToWrite::Streamed(partial, file) => {
                let (Ok(meta), Ok(mut written)) = (file.metadata(), std::fs::File::open(partial)) else { return false };
                let mut ours = vec![0; meta.len().min(PIECE as u64) as usize];
                holds(path, meta.len(), |piece| {
                    let ours = &mut ours[..piece.len()];
                    written.read_exact(ours).is_ok() && ours == piece
                })
            }
        }
    }

    /// Puts them in a new file at `dest`; the file's metadata, if it can be had.
    fn put(self, dest: &Path) -> io::Result<Option<std::fs::Metadata>> {
        match self {
            ToWrite::Held(bytes) => Ok(create(dest, bytes)?.metadata().ok()),
            ToWrite::Streamed(partial, file) => {
                std::fs::rename(partial, dest)?;
                Ok(file.metadata().ok())
            }
        }
    }
}

/// What a file of the state folder is named while `Staging::write_streamed`
/// writes it (after a number); any left by a build that was stopped are
/// removed by the next one that succeeds.
const PARTIAL: &str = ".partial";

/// Writes into a file, hashing what it writes (see `Staging::write_streamed`).
struct Hashing {
    file: io::BufWriter<std::fs::File>,
    hasher: ContentHasher,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Removes the file (or, where a folder is in the way, the folder) at `path`.
fn remove_entry(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.is_dir() => remove_tree(path),
        Ok(_) => std::fs::remove_file(path),
    }
}

/// Removes file `rel` of `root`, then the folders it leaves empty.
fn remove_with_empty_folders(root: &Path, rel: &str) -> io::Result<()> {
    let file = root.join(rel);
    match std::fs::remove_file(&file) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut dir = file.parent();
    while let Some(d) = dir.filter(|d| *d != root) {
        if std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

/// Writes `bytes` to a new file at `path`: never through a file or symlink
/// already there (it fails if one is).
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    create(path, bytes).map(drop)
}

/// `write_new`, returning the file written.
fn create(path: &Path, bytes: &[u8]) -> io::Result<std::fs::File> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(bytes)?;
    Ok(file)
}

/// Replaces the file at `path` in a folder annals made: the old entry is
/// removed first (a symlink put there is removed, not followed).
fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    create_replacing(path, bytes).map(drop)
}

/// `replace_file`, returning the file written.
fn create_replacing(path: &Path, bytes: &[u8]) -> io::Result<std::fs::File> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    create(path, bytes)
}

/// Writes `outputs` and `copies` under `out`, atomically replacing what was there.
pub fn write(out: &Path, outputs: &Outputs, copies: &[CopiedFile]) -> io::Result<()> {
    let staging = Staging::new(out)?;
    staging.create_folders(outputs.iter().map(|o| &*o.path))?;
    outputs.par_iter().try_for_each(|o| staging.write(&o.path, &o.bytes.get()?))?;
    staging.copy(copies)?;
    staging.commit()
}

/// Brings an output folder written by an earlier build up to date with
/// `built`: writes the outputs that changed, deletes those that are gone,
/// and copies static files whose size or modification time differ.
pub fn update(
    out: &Path,
    outputs: &Outputs,
    changed: &[String],
    removed: &[String],
    copies: &[CopiedFile],
) -> io::Result<()> {
    // Still the folder the first write made: not replaced since by another
    // (or by a symlink to one).
    let meta = std::fs::symlink_metadata(out)?;
    if meta.file_type().is_symlink() || !is_marked(out) {
        return Err(io::Error::other(format!(
            "{} is no longer the folder annals wrote; start `annals watch` again",
            out.display()
        )));
    }
    // The output's list of files (see `Staging`) will no longer be right,
    // and its mark names the files it is about to hold, as a build's would.
    if let Some(id) = folder_id(out) {
        remove_with_empty_folders(&sibling(out, "annals"), &list_name(id))?;
        // Its files' stamps would tell, but what it held is no longer a build's.
        Memo::remove(&sibling(out, "annals"), id)?;
    }
    let mut files: Vec<String> =
        outputs.iter().map(|o| o.path.to_string()).chain(copies.iter().map(|c| c.path.clone())).collect();
    files.push(MARKER.to_string());
    files.sort_unstable();
    let generation = generation_of_files(&files);
    if generation_of(out).as_deref() != Some(generation.as_str()) {
        replace_file(&out.join(MARKER), marker_text(&generation).as_bytes())?;
    }
    let changed: BTreeSet<&str> = changed.iter().map(String::as_str).collect();
    for o in outputs.iter().filter(|o| changed.contains(&*o.path)) {
        let path = out.join(&*o.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        replace_file(&path, &o.bytes.get()?)?;
    }
    for path in removed {
        remove_with_empty_folders(out, path)?;
    }
    copies.par_iter().try_for_each(|c| {
        let dest = out.join(&c.path);
        if let Origin::Disk(src) = &c.from
            && same_file_state(src, &dest)
        {
            return Ok(());
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        match &c.from {
            Origin::Disk(p) => std::fs::read(p).and_then(|bytes| replace_file(&dest, &bytes)),
            Origin::Embedded(_, bytes) => replace_file(&dest, bytes),
        }
    })
}

fn same_file_state(a: &Path, b: &Path) -> bool {
    // `b` is a copy annals made: a file, never a symlink put in its place.
    match (std::fs::metadata(a), std::fs::symlink_metadata(b)) {
        (Ok(a), Ok(b)) => b.is_file() && a.len() == b.len() && a.modified().ok() <= b.modified().ok(),
        _ => false,
    }
}

/// Locks `dir` for this process (advisory, released on drop); `None` where
/// the platform cannot lock a folder.
fn lock(dir: &Path) -> io::Result<Option<std::fs::File>> {
    let Ok(file) = std::fs::File::open(dir) else { return Ok(None) };
    match file.lock() {
        Ok(()) => Ok(Some(file)),
        Err(e) if e.kind() == io::ErrorKind::Unsupported => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes a folder of annals's in the way of a new one (a spare without a
/// list, an old output left by an interrupted swap), if annals made it
/// (it carries the mark, or is empty); anything else is left alone.
fn remove_own(dir: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.is_dir() && (is_marked(dir) || std::fs::read_dir(dir)?.next().is_none()) => remove_tree(dir),
        Ok(_) => Err(io::Error::other(format!(
            "{} is in the way of the build and was not made by annals; move it away",
            dir.display()
        ))),
    }
}

/// Puts `staging` in place of `out`, and `out` in place of `staging`. Where
/// the platform can exchange two folders in one step, the output is never
/// missing, not even for a moment; elsewhere it is missing between two
/// renames.
fn swap(staging: &Path, out: &Path) -> io::Result<()> {
    if std::fs::symlink_metadata(out).is_err() {
        return std::fs::rename(staging, out);
    }
    if exchange(staging, out).is_ok() {
        return Ok(());
    }
    let old = sibling(out, "annals-old");
    remove_own(&old)?;
    std::fs::rename(out, &old)?;
    if let Err(e) = std::fs::rename(staging, out) {
        std::fs::rename(&old, out)?;
        return Err(e);
    }
    std::fs::rename(&old, staging)
}

/// Exchanges two folders atomically (Linux `renameat2` with `RENAME_EXCHANGE`).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let a = std::ffi::CString::new(a.as_os_str().as_bytes())?;
    let b = std::ffi::CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both paths are NUL-terminated strings that outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// `remove_dir_all` in parallel: a large old site is thousands of files,
/// and unlinking them one by one is a good part of a build's write time.
fn remove_tree(dir: &Path) -> io::Result<()> {
    let entries: Vec<(PathBuf, bool)> = std::fs::read_dir(dir)?
        .map(|e| e.and_then(|e| Ok((e.path(), e.file_type()?.is_dir()))))
        .collect::<io::Result<_>>()?;
    entries.par_iter().try_for_each(|(p, is_dir)| if *is_dir { remove_tree(p) } else { std::fs::remove_file(p) })?;
    std::fs::remove_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_found_across_chunks_and_changed_without_changing_a_clone() {
        let path = |k: usize| format!("p/{k:05}.html");
        let n = Outputs::CHUNK * 2 + 7;
        let all: Vec<Output> =
            (0..n).map(|k| Output { path: path(k).into(), bytes: Bytes::plain(b"old".as_slice()) }).collect();
        let mut outputs = Outputs::new(all);
        assert_eq!(outputs.len(), n);
        for k in [0, Outputs::CHUNK - 1, Outputs::CHUNK, n - 1] {
            assert_eq!(outputs.find(&path(k)), Some(k));
            assert_eq!(&*outputs.get(k).path, path(k));
        }
        assert_eq!(outputs.find("p/none.html"), None);
        assert_eq!(outputs.find("a.html"), None);
        let kept = outputs.clone();
        outputs.set_bytes(Outputs::CHUNK + 1, Bytes::plain(b"new".as_slice()));
        assert_eq!(&*outputs.get(Outputs::CHUNK + 1).bytes.get().unwrap(), b"new");
        assert_eq!(&*kept.get(Outputs::CHUNK + 1).bytes.get().unwrap(), b"old");
        // Only the changed chunk was copied.
        assert!(outputs.get(0).bytes.same_as(&kept.get(0).bytes));
        assert!(Arc::ptr_eq(&outputs.chunks[0], &kept.chunks[0]));
        assert!(outputs.iter().map(|o| o.path.to_string()).eq((0..n).map(path)));
    }

    #[test]
    fn a_file_has_the_bytes_only_if_every_piece_is_the_same() {
        let dir = std::env::temp_dir().join(format!("annals-has-bytes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("data.json");
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&file, &bytes).unwrap();
        assert!(has_bytes(&file, &bytes));
        let mut last_differs = bytes.clone();
        *last_differs.last_mut().unwrap() ^= 1;
        assert!(!has_bytes(&file, &last_differs));
        assert!(!has_bytes(&file, &bytes[..bytes.len() - 1]));
        assert!(!has_bytes(&dir.join("none"), &bytes));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn packed_bytes_unpack_to_what_was_packed_and_compare_by_content() {
        let page = b"<p>A study of ketamine, ketamine, ketamine.</p>".repeat(50);
        let (memory, disk) = (Keep::default(), Keep::on_disk());
        assert_eq!(disk.is_on_disk(), cfg!(unix));
        for keep in [&memory, &disk] {
            let packed = keep.pack(page.clone());
            assert!(packed.gzip().unwrap().unwrap().len() < page.len() / 4);
            assert_eq!(&*packed.get().unwrap(), &page[..]);
            // Packing is deterministic: equal content, equal packs, wherever kept.
            for other in [&memory, &disk] {
                assert_eq!(packed, other.pack(page.clone()));
                assert_ne!(packed, other.pack(b"<p>Another.</p>".repeat(50)));
                // The same length, other bytes.
                let mut changed = page.clone();
                changed[7] = b'5';
                let changed = other.pack(changed);
                assert_ne!(packed, changed);
            }
            assert_eq!(packed, Bytes::plain(page.clone()));
            assert!(packed.same_as(&packed.clone()));
            // Packing a few bytes would grow them: kept as they are.
            let tiny = keep.pack(b"ok".to_vec());
            assert!(tiny.gzip().is_none());
            assert_eq!(&*tiny.get().unwrap(), b"ok");
            assert!(keep.pack(Vec::new()).is_empty());
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_spill_file_gives_back_the_space_of_outputs_no_longer_held() {
        use std::os::unix::fs::MetadataExt;
        let keep = Keep::on_disk();
        let spill = keep.0.clone().unwrap();
        let used = || spill.file.metadata().unwrap().blocks() * 512;
        // Given back by a thread of its own: soon.
        let settled = |most: u64| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while used() > most && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            used()
        };
        // Outputs that pack to about half, large (200 KB) and small (3 KB)
        // in turn: small ones share blocks with their neighbours.
        let mut seed = 1u64;
        let mut page = |len: usize| -> Vec<u8> {
            let hex = (0..len).map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                b"0123456789abcdef"[seed as usize % 16]
            });
            b"<p>".iter().copied().chain(hex).collect()
        };
        let pages: Vec<Vec<u8>> = (0..64).map(|k| page(if k % 2 == 0 { 200_000 } else { 3_000 })).collect();
        let mut held: Vec<Option<Bytes>> = pages.iter().map(|p| Some(keep.pack(p.clone()))).collect();
        assert!(held.iter().flatten().all(|b| matches!(b.0, Kept::Spilled(_))));
        let full = used();
        assert!(full >= 32 * 90_000, "{full} bytes");
        // The large ones let go: their blocks are given back, the small
        // ones' kept, and each small one still reads as written.
        held.iter_mut().step_by(2).for_each(|b| *b = None);
        assert!(settled(full / 4) < full / 4, "{} of {full} bytes still used", used());
        for (b, page) in held.iter().zip(&pages).skip(1).step_by(2) {
            assert!(*b.as_ref().unwrap().get().unwrap() == page[..]);
        }
        // All let go but the last block, which the next output may share.
        held.clear();
        assert!(settled(Blocks::SIZE) <= Blocks::SIZE, "{} bytes still used", used());
    }

    #[test]
    fn output_folders_that_would_destroy_the_site_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for bad in [".", "..", "../.."] {
            let err = check_output_dir(root, Path::new(bad), true).unwrap_err();
            assert!(matches!(err, OutputError::HoldsTheSite { .. }), "{bad}: {err}");
        }
        for (bad, folder) in [
            ("content", "content"),
            ("content/out", "content"),
            ("static", "static"),
            ("./themes/x", "themes"),
            ("public/../content", "content"),
        ] {
            let err = check_output_dir(root, Path::new(bad), true).unwrap_err();
            assert!(
                matches!(err, OutputError::InsideSource { source_folder, .. } if source_folder == folder),
                "{bad}: {err}"
            );
        }
        for good in ["public", "out/site", "../elsewhere"] {
            assert!(check_output_dir(root, Path::new(good), false).is_ok(), "{good} refused");
        }
    }

    #[test]
    fn each_refusal_of_an_existing_output_says_why() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::write(root.join("file"), "x").unwrap();
        std::fs::create_dir_all(root.join("repo/.git")).unwrap();
        std::fs::create_dir(root.join("mine")).unwrap();
        std::fs::write(root.join("mine/notes.txt"), "x").unwrap();
        let check = |out: &str, force: bool| check_output_dir(root, Path::new(out), force);
        assert!(matches!(check("file", true), Err(OutputError::IsAFile { .. })));
        assert!(matches!(check("repo", true), Err(OutputError::LooksLikeASite { name: ".git", .. })));
        let err = check("mine", false).unwrap_err();
        assert!(matches!(err, OutputError::NotMadeByAnnals { .. }), "{err}");
        assert!(err.to_string().contains("--force"), "{err}");
        assert!(check("mine", true).is_ok(), "--force replaces a folder annals did not make");
        let missing = check_output_dir(&root.join("no-site"), Path::new("public"), false).unwrap_err();
        assert!(matches!(missing, OutputError::SiteUnreadable { .. }), "{missing}");
        assert!(std::error::Error::source(&missing).is_some(), "the io error is kept as the source");
    }

    #[test]
    fn resolve_follows_symlinks_and_parents_as_the_file_system_does() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(real.join("a/b")).unwrap();
        std::os::unix::fs::symlink(real.join("a/b"), real.join("link")).unwrap();
        assert_eq!(resolve(&real.join("link/..")), real.join("a"));
        assert_eq!(resolve(&real.join("link/new/deeper")), real.join("a/b/new/deeper"));
        assert_eq!(resolve(&real.join("missing/../a")), real.join("a"));
    }

    #[test]
    fn replaces_the_whole_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("public");
        let page = |p: &str| Output { path: p.into(), bytes: Bytes::plain(b"x".as_slice()) };
        write(&out, &Outputs::new(vec![page("a/index.html"), page("index.html")]), &[]).unwrap();
        write(&out, &Outputs::new(vec![page("b/c/index.html")]), &[]).unwrap();
        assert!(!out.join("a").exists());
        assert!(out.join("b/c/index.html").is_file());
        let mut beside: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        beside.sort();
        assert_eq!(beside, [".public.annals", "public"]);
        // The spare holds the previous output, and the list of its files.
        assert!(tmp.path().join(".public.annals/spare/a/index.html").is_file());
    }

    /// A file written as it is made is the same file as one written whole:
    /// kept from the last build where its bytes are the same, and nothing of
    /// it left in the state folder, whether it was written or not.
    #[test]
    fn a_file_written_as_it_is_made_is_kept_where_its_bytes_are_the_same() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("public");
        let state = tmp.path().join(".public.annals");
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let build = |bytes: &[u8], fail: bool| {
            // Every other build trusts no memo, and compares the bytes.
            let staging = Staging::new(&out).unwrap();
            let staging = if bytes[0] == 1 { staging.fresh() } else { staging };
            staging.create_folders(["data/a.json"].into_iter()).unwrap();
            let mut fill = |w: &mut dyn Write| {
                bytes.chunks(1000).try_for_each(|piece| w.write_all(piece))?;
                if fail { Err(io::Error::other("the template failed")) } else { Ok(()) }
            };
            let built = staging.write_streamed("data/a.json", Some(7), &mut fill).and_then(|()| staging.commit());
            let partials = std::fs::read_dir(&state)
                .unwrap()
                .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(PARTIAL));
            assert_eq!(partials.count(), 0);
            built
        };
        let inode = || std::fs::metadata(out.join("data/a.json")).unwrap().ino();
        build(&big, false).unwrap();
        assert_eq!(std::fs::read(out.join("data/a.json")).unwrap(), big);
        let first = inode();
        // The same bytes: the file the first build wrote, linked from the
        // output, whether a memo says so or the bytes are compared.
        build(&big, false).unwrap();
        assert_eq!(inode(), first);
        let mut fresh = big.clone();
        fresh[0] = 1;
        build(&fresh, false).unwrap();
        let second = inode();
        build(&fresh, false).unwrap();
        assert_eq!(inode(), second);
        let mut other = big.clone();
        other[250_000] ^= 1;
        build(&other, false).unwrap();
        assert_eq!(std::fs::read(out.join("data/a.json")).unwrap(), other);
        // Written anew, not linked: not the file of the last build, which
        // the spare still holds (the first's inode is free by now, and the
        // file system may give its number to this one).
        assert_ne!(inode(), second);
        // A failed write fails the build, and the output stays as it was.
        assert!(build(&big, true).is_err());
        assert_eq!(std::fs::read(out.join("data/a.json")).unwrap(), other);
        // Left by a build that was stopped: in the way of none, and removed
        // by the next.
        for n in [0, 12] {
            std::fs::write(state.join(format!("{n}{PARTIAL}")), b"partial").unwrap();
        }
        build(&big, false).unwrap();
        assert_eq!(std::fs::read(out.join("data/a.json")).unwrap(), big);
        assert!(!state.join(format!("12{PARTIAL}")).exists());
    }
}
