//! What a one-off build keeps for the next (see `output::Sink::keep`):
//! values by the key of what they were made from, which the next build
//! takes rather than make again. The front matter's trees (`yaml::Trees`),
//! what was read of each file (`content::Recalled`) and each page's Markdown
//! facts (`site::KeptFacts`) are kept so. Each is stored serialised and read
//! only when asked for.
//!
//! Stored as what they were made with, then `(key, length, bytes)` records.
//! A build that made few values appends them to the last build's file
//! (`Sink::append`) rather than write every value again: a rebuild writes
//! what changed, not the site (at 10,000 pages on ext4, writing these files
//! whole was a tenth of a rebuild). The values no build asks for any more
//! stay in the file until they weigh half as much as those it asks for
//! (the next build reads them all); the file is then written anew.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::marker::PhantomData;
use std::sync::Mutex;

use crate::HashMap;
use crate::output::Sink;

pub struct Kept<T> {
    made_with: u64,
    /// The last build's values, and where each is in `bytes`, by its key.
    bytes: Vec<u8>,
    index: HashMap<u64, (usize, usize)>,
    /// Where the last build's whole records end in `bytes`: past it, one
    /// that a stopped build did not finish.
    end: usize,
    /// This build's values, by key.
    now: Mutex<Now>,
    kind: PhantomData<fn() -> T>,
}

#[derive(Default)]
struct Now {
    values: Vec<(u64, Value)>,
    /// The bytes of the values made now, back to back in blocks of
    /// `BLOCK`: every page's Markdown facts are held to the end of their
    /// stage, and a `Vec` each, grown as it was written, took 145 MB for
    /// the 80 of a 100,000-page site.
    made: Vec<Vec<u8>>,
}

const BLOCK: usize = 1 << 20;

/// A value of this build: where it is in the last build's bytes, or in
/// the bytes made now (block, start, length).
enum Value {
    Taken(usize, usize),
    Made(usize, usize, usize),
}

/// How a value is stored: its key and length, then its bytes.
type Record = (u64, usize);

/// The bytes of the record of a value of `len` bytes.
fn record_len(key: u64, len: usize) -> usize {
    varint_len(key) + varint_len(len as u64) + len
}

/// The bytes postcard writes a `u64` or `usize` in: seven bits a byte.
fn varint_len(n: u64) -> usize {
    (64 - n.leading_zeros() as usize).div_ceil(7).max(1)
}

impl<T: Serialize + DeserializeOwned> Kept<T> {
    /// The values the last build kept (`bytes`), if it was made with the
    /// same binary and configuration (`made_with`, see `crate::made_with`).
    /// A later record of a key replaces an earlier one.
    pub fn new(made_with: u64, bytes: Option<Vec<u8>>) -> Kept<T> {
        let bytes = bytes.unwrap_or_default();
        let mut index = HashMap::default();
        let mut end = 0;
        if let Ok((with, mut rest)) = postcard::take_from_bytes::<u64>(&bytes)
            && with == made_with
        {
            while let Ok(((key, len), after)) = postcard::take_from_bytes::<Record>(rest) {
                if after.len() < len {
                    break;
                }
                let at = bytes.len() - after.len();
                index.insert(key, (at, len));
                rest = &after[len..];
            }
            end = bytes.len() - rest.len();
        }
        Kept { made_with, bytes, index, end, now: Mutex::default(), kind: PhantomData }
    }

    /// The key of a value made from `from`.
    pub fn key(&self, from: &impl Hash) -> u64 {
        let mut h = crate::fingerprint_hasher();
        (self.made_with, from).hash(&mut h);
        h.finish()
    }

    /// The value the last build kept under `key`, if `good` finds it still
    /// good; kept for the next build if so.
    pub fn take(&self, key: u64, good: impl Fn(&T) -> bool) -> Option<T> {
        let &(at, len) = self.index.get(&key)?;
        let value = postcard::from_bytes::<T>(&self.bytes[at..at + len]).ok().filter(good)?;
        self.now.lock().unwrap_or_else(|e| e.into_inner()).values.push((key, Value::Taken(at, len)));
        Some(value)
    }

    /// Whether the last build kept a value under `key`.
    pub fn holds(&self, key: u64) -> bool {
        self.index.contains_key(&key)
    }

    /// Keeps `value`, made now, under `key` for the next build.
    pub fn put(&self, key: u64, value: &T) {
        thread_local!(static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) });
        SCRATCH.with_borrow_mut(|bytes| {
            bytes.clear();
            if postcard::to_io(value, &mut *bytes).is_err() {
                return;
            }
            let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
            let Now { values, made } = &mut *now;
            match made.last_mut() {
                Some(block) if block.capacity() - block.len() >= bytes.len() => {}
                _ => made.push(Vec::with_capacity(BLOCK.max(bytes.len()))),
            }
            let last = made.len() - 1;
            values.push((key, Value::Made(last, made[last].len(), bytes.len())));
            made[last].extend_from_slice(bytes);
        });
    }

    /// Keeps this build's values for the next under `name` in `sink`: the
    /// values made now appended to the last build's file, unless the values
    /// no longer asked for would weigh more than half the rest; else all of
    /// them anew.
    pub fn keep_in(&self, sink: &dyn Sink, name: &str) {
        let appended = {
            let now = self.now.lock().unwrap_or_else(|e| e.into_inner());
            let (mut taken, mut made) = (0, 0);
            for &(key, ref value) in &now.values {
                match *value {
                    Value::Taken(_, len) => taken += record_len(key, len),
                    Value::Made(_, _, len) => made += record_len(key, len),
                }
            }
            let unused = self.end.saturating_sub(varint_len(self.made_with) + taken);
            !self.index.is_empty() && 2 * unused <= taken + made
        };
        if !appended {
            sink.keep(name, &mut |out| self.write_to(out));
        } else if self
            .now
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values
            .iter()
            .any(|(_, v)| matches!(v, Value::Made(..)))
        {
            sink.append(name, self.end as u64, &mut |out| self.write_made(out));
        }
    }

    /// Writes what to keep for the next build into `out`: this build's
    /// values, taken out of `self`, each block of values made now let go of
    /// once written: a large site's are neither held twice nor copied whole.
    pub fn write_to(&self, out: &mut dyn Write) -> io::Result<()> {
        let out = postcard::to_io(&self.made_with, out).map_err(io::Error::other)?;
        self.write_values(out, true)
    }

    /// Writes the records of the values made now into `out`.
    fn write_made(&self, out: &mut dyn Write) -> io::Result<()> {
        self.write_values(out, false)
    }

    fn write_values(&self, mut out: &mut dyn Write, taken_too: bool) -> io::Result<()> {
        let Now { values, mut made } = std::mem::take(&mut *self.now.lock().unwrap_or_else(|e| e.into_inner()));
        let mut written_out = 0;
        for (key, value) in values {
            let bytes = match value {
                Value::Taken(at, len) if taken_too => &self.bytes[at..at + len],
                Value::Taken(..) => continue,
                Value::Made(block, at, len) => {
                    // Values are made, and so written, block after block.
                    made[written_out..block].iter_mut().for_each(|done| *done = Vec::new());
                    written_out = block;
                    &made[block][at..at + len]
                }
            };
            // The bytes written whole, not one by one as postcard would.
            out = postcard::to_io(&(key, bytes.len()), out).map_err(io::Error::other)?;
            out.write_all(bytes)?;
        }
        Ok(())
    }

    /// What `write_to` writes.
    #[cfg(test)]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        self.write_to(&mut bytes).expect("a Vec takes every byte");
        bytes
    }

    #[cfg(test)]
    pub fn stored(&self) -> usize {
        self.index.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_kept_by_one_build_are_taken_by_the_next() {
        let first: Kept<String> = Kept::new(7, None);
        let (a, b) = (first.key(&"a"), first.key(&"b"));
        first.put(a, &"made from a".to_string());
        first.put(b, &"made from b".to_string());
        let next: Kept<String> = Kept::new(7, Some(first.to_bytes()));
        assert_eq!(next.take(a, |_| true).as_deref(), Some("made from a"));
        // Not good any more: not taken, nor kept for the build after.
        assert_eq!(next.take(b, |v| v.ends_with('a')), None);
        assert_eq!(next.take(next.key(&"c"), |_| true), None);
        let kept = next.to_bytes();
        let after: Kept<String> = Kept::new(7, Some(kept.clone()));
        assert_eq!(after.stored(), 1);
        assert_eq!(after.take(a, |_| true).as_deref(), Some("made from a"));
        // Another binary or configuration, or bytes that are not values: nothing.
        assert_eq!(Kept::<String>::new(8, Some(kept)).stored(), 0);
        assert_eq!(Kept::<String>::new(7, Some(b"not values".to_vec())).stored(), 0);
    }

    /// One build of a site whose output is `out`, keeping `Kept<String>`
    /// under "t": takes `take` and makes `make` (each value is its key's
    /// text), and returns the kept file's bytes after.
    fn build(out: &std::path::Path, take: &[&str], make: &[&str]) -> Vec<u8> {
        let staging = crate::output::Staging::new(out).unwrap();
        let kept: Kept<String> = Kept::new(7, staging.recall("t"));
        for t in take {
            assert_eq!(kept.take(kept.key(t), |_| true).as_deref(), Some(*t), "{t} was kept");
        }
        for m in make {
            kept.put(kept.key(m), &m.to_string());
        }
        kept.keep_in(&staging, "t");
        staging.commit().unwrap();
        std::fs::read(out.parent().unwrap().join(".public.annals/t.kept")).unwrap()
    }

    #[test]
    fn record_lengths_are_postcards() {
        for (key, len) in [(0u64, 0usize), (127, 128), (u64::MAX, 1 << 20)] {
            let mut bytes = postcard::to_stdvec(&(key, len)).unwrap();
            bytes.resize(bytes.len() + len, 0);
            assert_eq!(record_len(key, len), bytes.len());
        }
    }

    #[test]
    fn a_build_that_made_few_values_appends_them_until_the_unused_weigh_too_much() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("public");
        let first = build(&out, &[], &["a", "b", "c"]);
        // Appended: what was there is left as it was.
        let second = build(&out, &["a", "b", "c"], &["d"]);
        assert!(second.starts_with(&first) && second.len() > first.len());
        // Nothing made: nothing written, though `d` is no longer asked for.
        assert_eq!(build(&out, &["a", "b", "c"], &[]), second);
        // What a stopped build left unfinished is written over.
        let file = tmp.path().join(".public.annals/t.kept");
        std::fs::write(&file, [second.as_slice(), &[0x91, 0x80]].concat()).unwrap();
        let third = build(&out, &["a", "b", "c", "d"], &["e"]);
        assert!(third.starts_with(&second) && !third[second.len()..].starts_with(&[0x91, 0x80]));
        // A symlink in its place is not written through: nothing is appended.
        #[cfg(unix)]
        {
            let elsewhere = tmp.path().join("elsewhere");
            std::fs::write(&elsewhere, &third).unwrap();
            std::fs::remove_file(&file).unwrap();
            std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
            build(&out, &["a", "b", "c", "d", "e"], &["x"]);
            assert_eq!(std::fs::read(&elsewhere).unwrap(), third);
            std::fs::remove_file(&file).unwrap();
            std::fs::write(&file, &third).unwrap();
        }
        // Unused values weigh more than half those asked for: written anew, with only these.
        let fourth = build(&out, &["e"], &[]);
        assert!(fourth.len() < first.len() / 2, "{} bytes", fourth.len());
        let fifth = build(&out, &["e"], &["f"]);
        assert!(fifth.starts_with(&fourth) && fifth.len() > fourth.len());
        build(&out, &["e", "f"], &[]);
    }
}
