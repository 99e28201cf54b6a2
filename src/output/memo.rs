//! What each file of a folder annals wrote was made from: per path, the
//! key of its inputs (see `render::keys`) and the file's stamp as the build
//! left it. The next build keeps, instead of rendering again, each file of
//! the spare or the output whose key is the same and whose stamp shows it
//! untouched since. Kept in the state folder beside the folder's list of
//! files, under the same inode number.
//!
//! Trusted file by file, not folder by folder: a stamp is the file's inode,
//! size and modification time, which every write changes (annals never
//! writes a file in place, `watch` included), so an interrupted build or a
//! file edited by hand costs that file its reuse, nothing more. A file
//! system keeps modification times in ticks (a few milliseconds on Linux,
//! two seconds on FAT), so a file changed within the tick it was written in
//! keeps its stamp: as Git does for its index, a file modified less than a
//! tick (see [`racy`]) before its memo was saved is trusted only if its
//! bytes still hash as they did.

use std::io;
use std::path::Path;

use crate::HashMap;

/// A file as a build left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Stamp {
    ino: u64,
    len: u64,
    modified: u128,
}

impl Stamp {
    /// The stamp of the file at `path`: `None` for anything but a file
    /// (never a symlink: what is published must be a file the build wrote).
    pub(super) fn of(path: &Path) -> Option<Stamp> {
        Stamp::of_meta(&std::fs::symlink_metadata(path).ok()?)
    }

    /// The stamp of a file by its metadata (`None` for anything else).
    pub(super) fn of_meta(meta: &std::fs::Metadata) -> Option<Stamp> {
        let meta = Some(meta).filter(|m| m.is_file())?;
        let modified = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos();
        #[cfg(unix)]
        let ino = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let ino = 0;
        Some(Stamp { ino, len: meta.len(), modified })
    }
}

/// How long before its memo was saved a file modified at `modified` may
/// have been changed again without its stamp showing it: on a file system
/// with whole seconds, the coarsest tick there is (FAT's two seconds);
/// elsewhere, well over a tick of the Linux clock (at most 10 ms).
fn racy(modified: u128) -> u128 {
    const SECOND: u128 = 1_000_000_000;
    if modified.is_multiple_of(SECOND) { 2 * SECOND } else { SECOND / 10 }
}

/// What a memo says of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Made {
    /// The key of the inputs it was made from.
    pub(super) key: u64,
    pub(super) stamp: Stamp,
    /// A hash of its bytes (see [`content_hash`]).
    pub(super) content: u64,
}

/// Per path, what its file was made from; and when the memo was saved,
/// in nanoseconds since the epoch.
#[derive(Default)]
pub(super) struct Memo {
    made: HashMap<String, Made>,
    saved: u128,
}

pub(super) fn content_hash(bytes: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = crate::fingerprint_hasher();
    bytes.chunks(BLOCK).for_each(|block| h.write(block));
    h.finish()
}

/// What a content hash is fed at a time: the hasher's result depends on
/// where its pieces end, so bytes written in pieces of any size (see
/// `ContentHasher`) are fed to it in blocks of this size, as whole ones are.
const BLOCK: usize = 64 << 10;

/// The `content_hash` of bytes given in pieces (a file written as it is made).
pub(super) struct ContentHasher {
    h: ahash::AHasher,
    block: Vec<u8>,
}

impl ContentHasher {
    pub(super) fn new() -> ContentHasher {
        ContentHasher { h: crate::fingerprint_hasher(), block: Vec::new() }
    }

    pub(super) fn update(&mut self, mut bytes: &[u8]) {
        use std::hash::Hasher;
        while !bytes.is_empty() {
            if self.block.is_empty() && bytes.len() >= BLOCK {
                self.h.write(&bytes[..BLOCK]);
                bytes = &bytes[BLOCK..];
                continue;
            }
            let take = (BLOCK - self.block.len()).min(bytes.len());
            self.block.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.block.len() == BLOCK {
                self.h.write(&self.block);
                self.block.clear();
            }
        }
    }

    pub(super) fn finish(mut self) -> u64 {
        use std::hash::Hasher;
        if !self.block.is_empty() {
            self.h.write(&self.block);
        }
        self.h.finish()
    }
}

fn now() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

impl Memo {
    /// The memo of the folder with inode `id`, kept in `state`; empty if
    /// there is none or it cannot be read.
    pub(super) fn load(state: &Path, id: Option<u64>) -> Memo {
        let bytes = id.and_then(|id| std::fs::read(state.join(name(id))).ok());
        let stored = bytes.and_then(|b| postcard::from_bytes::<(u128, Vec<(String, Made)>)>(&b).ok());
        stored.map_or_else(Memo::default, |(saved, made)| Memo { made: made.into_iter().collect(), saved })
    }

    /// What the memo says of the file at `file` (path `path` of the
    /// folder), if it was made from `key` and is untouched since.
    pub(super) fn holds(&self, path: &str, key: u64, file: &Path) -> Option<Made> {
        let made = *self.made.get(path).filter(|m| m.key == key)?;
        self.untouched(&made, file).then_some(made)
    }

    /// The same for a file that must hold bytes of hash `content`.
    pub(super) fn holds_bytes(&self, path: &str, content: u64, file: &Path) -> Option<Made> {
        let made = *self.made.get(path).filter(|m| m.content == content)?;
        self.untouched(&made, file).then_some(made)
    }

    /// Whether the file at `file` is still the one `made` says.
    fn untouched(&self, made: &Made, file: &Path) -> bool {
        Stamp::of(file) == Some(made.stamp)
            && (made.stamp.modified.saturating_add(racy(made.stamp.modified)) < self.saved
                || std::fs::read(file).is_ok_and(|bytes| content_hash(&bytes) == made.content))
    }

    /// Keeps `made` as the memo of the folder with inode `id`.
    pub(super) fn save(state: &Path, id: u64, made: &[(String, Made)]) -> io::Result<()> {
        let bytes = postcard::to_stdvec(&(now(), made)).map_err(io::Error::other)?;
        super::replace_file(&state.join(name(id)), &bytes)
    }

    /// Forgets the memo of the folder with inode `id`.
    pub(super) fn remove(state: &Path, id: u64) -> io::Result<()> {
        match std::fs::remove_file(state.join(name(id))) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Whether `file`, a name in the state folder, is a memo.
pub(super) fn is_memo(file: &str) -> bool {
    file.strip_suffix(".memo").is_some_and(|id| id.parse::<u64>().is_ok())
}

pub(super) fn name(id: u64) -> String {
    format!("{id}.memo")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_hash_the_same_whole_or_in_pieces() {
        let bytes: Vec<u8> = (0..3 * BLOCK + 1234).map(|i| (i * 7 % 251) as u8).collect();
        for pieces in [1, 100, BLOCK - 1, BLOCK, BLOCK + 5, 2 * BLOCK + 17] {
            let mut hasher = ContentHasher::new();
            bytes.chunks(pieces).for_each(|p| hasher.update(p));
            assert_eq!(hasher.finish(), content_hash(&bytes), "pieces of {pieces}");
        }
        let mut other = bytes.clone();
        other[BLOCK + 3] ^= 1;
        assert_ne!(content_hash(&other), content_hash(&bytes));
    }

    fn made(key: u64, file: &Path) -> Made {
        Made { key, stamp: Stamp::of(file).unwrap(), content: content_hash(&std::fs::read(file).unwrap()) }
    }

    #[test]
    fn a_memo_reads_back_as_saved_and_holds_only_untouched_files() {
        let dir = tempfile::tempdir().unwrap();
        let (state, folder) = (dir.path().join("state"), dir.path().join("out"));
        std::fs::create_dir_all(&state).unwrap();
        std::fs::create_dir_all(folder.join("a b")).unwrap();
        let (one, two) = (folder.join("index.html"), folder.join("a b/x.html"));
        std::fs::write(&one, "one").unwrap();
        std::fs::write(&two, "two").unwrap();
        let saved = [("index.html".to_string(), made(7, &one)), ("a b/x.html".to_string(), made(u64::MAX, &two))];
        Memo::save(&state, 42, &saved).unwrap();
        let memo = Memo::load(&state, Some(42));
        assert_eq!(memo.holds("index.html", 7, &one), Some(saved[0].1));
        assert_eq!(memo.holds("a b/x.html", u64::MAX, &two), Some(saved[1].1));
        // Another key, another folder's memo, a path it does not name.
        assert_eq!(memo.holds("index.html", 8, &one), None);
        assert!(Memo::load(&state, Some(43)).holds("index.html", 7, &one).is_none());
        assert_eq!(memo.holds("other.html", 7, &one), None);
        // Changed in place at once, to bytes of the same length: the stamp
        // may be the same (a tick of the clock), the bytes are not.
        std::fs::write(&one, "eno").unwrap();
        assert_eq!(memo.holds("index.html", 7, &one), None);
        // A symlink is never a file the build wrote.
        #[cfg(unix)]
        {
            std::fs::remove_file(&two).unwrap();
            std::os::unix::fs::symlink(&one, &two).unwrap();
            assert_eq!(memo.holds("a b/x.html", u64::MAX, &two), None);
        }
        // Unreadable memos are empty.
        std::fs::write(state.join(name(44)), b"not a memo").unwrap();
        assert!(Memo::load(&state, Some(44)).made.is_empty());
        assert!(is_memo("44.memo") && !is_memo("x.memo") && !is_memo("44.files"));
        Memo::remove(&state, 42).unwrap();
        assert!(Memo::load(&state, Some(42)).made.is_empty());
    }

    #[test]
    fn a_file_system_of_whole_seconds_has_a_longer_tick() {
        assert_eq!(racy(5_000_000_000), 2_000_000_000);
        assert_eq!(racy(5_000_000_001), 100_000_000);
    }

    #[test]
    fn a_file_older_than_its_memo_by_a_tick_is_trusted_by_its_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.html");
        std::fs::write(&file, "a").unwrap();
        let mut entry = made(1, &file);
        entry.content ^= 1;
        let memo = |saved| Memo { made: [("a.html".to_string(), entry)].into_iter().collect(), saved };
        // Saved long after: the stamp is enough, the bytes are not read.
        let tick = racy(entry.stamp.modified);
        assert_eq!(memo(entry.stamp.modified + tick + 1).holds("a.html", 1, &file), Some(entry));
        // Saved within the tick: the bytes must hash as recorded.
        assert_eq!(memo(entry.stamp.modified + 1).holds("a.html", 1, &file), None);
    }
}
