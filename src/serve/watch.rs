//! Watching what the last build read (see `inputs`) with notify: block for
//! the first event, then gather the burst that follows (an editor's save is
//! often several events) until it goes quiet, with a cap so that a flood
//! cannot stall a rebuild. After every build the watched set is brought up
//! to date: folders that appeared are watched, folders that went are not,
//! and a folder replaced by another of the same name is watched anew.

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::ServeError;
use crate::content::is_ignored_name;
use crate::inputs::Inputs;

/// Quiet time that ends a burst of events.
const QUIET: Duration = Duration::from_millis(20);
/// Quiet time that ends a burst whose last event finished a file (closed it
/// after writing, renamed it into place, removed it): what an editor's save
/// ends with, so the rebuild need not wait out `QUIET`.
const SETTLED: Duration = Duration::from_millis(2);
/// Longest a burst may delay a rebuild.
const CAP: Duration = Duration::from_millis(500);

pub struct Watcher {
    inner: RecommendedWatcher,
    events: Receiver<notify::Result<notify::Event>>,
    root: PathBuf,
    output: PathBuf,
    inputs: Inputs,
    /// Watched folders, with the identity of the folder watched.
    armed: HashMap<PathBuf, Option<(u64, u64)>>,
    /// Folders armed after the build listed them: what was written to them
    /// in between is a change the events may have missed.
    missed: Vec<PathBuf>,
}

impl Watcher {
    /// A watcher for the site at `root` (an absolute path) that ignores
    /// `output`; it watches nothing until `update`.
    pub fn new(root: &Path, output: &Path) -> Result<Watcher, ServeError> {
        let (tx, events) = mpsc::channel();
        let inner = notify::recommended_watcher(tx).map_err(ServeError::Watcher)?;
        Ok(Watcher {
            inner,
            events,
            root: root.to_path_buf(),
            output: output.to_path_buf(),
            inputs: Inputs::default(),
            armed: HashMap::new(),
            missed: Vec::new(),
        })
    }

    /// Watches exactly what a build read: each folder it listed, and the
    /// nearest existing folder towards each file it looked for.
    pub fn update(&mut self, inputs: Inputs) -> Result<(), ServeError> {
        let wanted = inputs.watch_list();
        self.armed.retain(|path, _| {
            let keep = wanted.contains(path);
            if !keep {
                let _ = self.inner.unwatch(path);
            }
            keep
        });
        for path in wanted {
            let identity = identity(&path);
            match self.armed.get(&path) {
                Some(armed) if *armed == identity => continue,
                Some(_) => {
                    // Replaced (moved away, another put in its place): the
                    // old watch follows the old folder, so drop it.
                    let _ = self.inner.unwatch(&path);
                }
                None if inputs.changed_since_listed(&path) => self.missed.push(path.clone()),
                None => {}
            }
            match self.inner.watch(&path, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.armed.insert(path, identity);
                }
                // Gone since the build: its parent's events bring it back.
                Err(_) if !path.exists() => {}
                Err(source) => return Err(ServeError::Watch { path, source }),
            }
        }
        self.inputs = inputs;
        Ok(())
    }

    /// Blocks until what the build read changes, then returns the changed
    /// paths of the whole burst and when its first event arrived; `None`
    /// once `stop` is set.
    pub fn next_batch(&mut self, stop: &AtomicBool) -> Option<(Vec<PathBuf>, Instant)> {
        if !self.missed.is_empty() {
            return Some((std::mem::take(&mut self.missed), Instant::now()));
        }
        loop {
            let (paths, started) = self.burst(stop)?;
            if !paths.is_empty() {
                return Some((paths, started));
            }
        }
    }

    /// One burst of events: the paths it changed (none if it only touched
    /// temporary files) and when it started.
    fn burst(&mut self, stop: &AtomicBool) -> Option<(Vec<PathBuf>, Instant)> {
        let mut paths = BTreeSet::new();
        // Files that appeared during the burst: gone again at its end, they
        // were an editor's temporary files, not changes to report.
        let mut created = BTreeSet::new();
        let mut started: Option<Instant> = None;
        let mut settled = false;
        loop {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            let wait = match started {
                None => Duration::from_millis(200),
                Some(s) if s.elapsed() >= CAP => break,
                Some(_) if settled => SETTLED,
                Some(_) => QUIET,
            };
            match self.events.recv_timeout(wait) {
                Ok(Ok(event)) => {
                    let finishes = match event.kind {
                        EventKind::Access(AccessKind::Close(AccessMode::Write))
                        | EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
                        | EventKind::Remove(_) => Some(true),
                        EventKind::Access(_) => continue,
                        EventKind::Modify(ModifyKind::Metadata(_)) => None,
                        _ => Some(false),
                    };
                    let relevant: Vec<PathBuf> = event.paths.into_iter().filter(|p| self.relevant(p)).collect();
                    if !relevant.is_empty() {
                        started.get_or_insert_with(Instant::now);
                        if matches!(event.kind, EventKind::Create(CreateKind::File | CreateKind::Any)) {
                            created.extend(relevant.iter().cloned());
                        }
                        paths.extend(relevant);
                        settled = finishes.unwrap_or(settled);
                    }
                }
                Ok(Err(_)) => {}
                Err(RecvTimeoutError::Timeout) if started.is_some() => break,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
        paths.retain(|p| !created.contains(p) || p.exists());
        Some((paths.into_iter().collect(), started.unwrap_or_else(Instant::now)))
    }

    fn relevant(&self, path: &Path) -> bool {
        let Ok(rel) = path.strip_prefix(&self.root) else { return false };
        if path.starts_with(&self.output) {
            return false;
        }
        if rel.components().any(|c| is_ignored_name(&c.as_os_str().to_string_lossy())) {
            return false;
        }
        self.inputs.affected_by(path)
    }
}

/// Which folder is at `path` now (device and inode), to tell a folder from
/// another put in its place.
#[cfg(unix)]
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(path: &Path) -> Option<(u64, u64)> {
    path.is_dir().then_some((0, 0))
}
