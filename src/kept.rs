//! What a one-off build keeps for the next (see `output::Sink::keep`):
//! values by the key of what they were made from, which the next build
//! takes rather than make again. The front matter's trees (`yaml::Trees`),
//! what was read of each file (`content::Recalled`) and each page's Markdown
//! facts (`site::KeptFacts`) are kept so. Each is
//! stored serialised and read only when asked for; only the values this
//! build asked for or made are kept for the next.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::marker::PhantomData;
use std::sync::Mutex;

use crate::HashMap;

pub struct Kept<T> {
    made_with: u64,
    /// The last build's values, and where each is in `bytes`, by its key.
    bytes: Vec<u8>,
    index: HashMap<u64, (usize, usize)>,
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

/// How values are kept: what they were made with, and each value by key.
type Stored<'a> = (u64, Vec<(u64, &'a [u8])>);

impl<T: Serialize + DeserializeOwned> Kept<T> {
    /// The values the last build kept (`bytes`), if it was made with the
    /// same binary and configuration (`made_with`, see `crate::made_with`).
    pub fn new(made_with: u64, bytes: Option<Vec<u8>>) -> Kept<T> {
        let bytes = bytes.unwrap_or_default();
        let stored: Option<Stored> = postcard::from_bytes(&bytes).ok();
        let base = bytes.as_ptr() as usize;
        let index = stored
            .filter(|(with, _)| *with == made_with)
            .map(|(_, values)| {
                values.into_iter().map(|(key, v)| (key, (v.as_ptr() as usize - base, v.len()))).collect()
            })
            .unwrap_or_default();
        Kept { made_with, bytes, index, now: Mutex::default(), kind: PhantomData }
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

    /// Writes what to keep for the next build into `out`: this build's
    /// values, taken out of `self`, as `Stored` (postcard writes a sequence
    /// as its length, then each element), each block of values made now let
    /// go of once written: a large site's are neither held twice nor copied
    /// whole.
    pub fn write_to(&self, out: &mut dyn Write) -> io::Result<()> {
        let Now { values, mut made } = std::mem::take(&mut *self.now.lock().unwrap_or_else(|e| e.into_inner()));
        let (mut out, mut written_out) = (out, 0);
        out = postcard::to_io(&(self.made_with, values.len()), out).map_err(io::Error::other)?;
        for (key, value) in values {
            let bytes = match value {
                Value::Taken(at, len) => &self.bytes[at..at + len],
                Value::Made(block, at, len) => {
                    // Values are made, and so written, block after block.
                    made[written_out..block].iter_mut().for_each(|done| *done = Vec::new());
                    written_out = block;
                    &made[block][at..at + len]
                }
            };
            // As postcard writes `(key, bytes)`, but the bytes whole rather
            // than one by one: a sequence is its length, then its elements.
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
}
