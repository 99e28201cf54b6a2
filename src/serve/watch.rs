//! Watching the site's files with notify: block for the first event, then
//! gather the burst that follows (an editor's save is often several events)
//! until it goes quiet, with a cap so that a flood cannot stall a rebuild.

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::config::CONFIG_FILE;
use crate::content::is_ignored_name;

/// Quiet time that ends a burst of events.
const QUIET: Duration = Duration::from_millis(20);
/// Quiet time that ends a burst whose last event finished a file (closed it
/// after writing, renamed it into place, removed it): what an editor's save
/// ends with, so the rebuild need not wait out `QUIET`.
const SETTLED: Duration = Duration::from_millis(2);
/// Longest a burst may delay a rebuild.
const CAP: Duration = Duration::from_millis(500);

/// The folders whose changes matter, relative to the site root.
fn watched_folders(theme: &str) -> [PathBuf; 4] {
    ["content".into(), "templates".into(), "static".into(), Path::new("themes").join(theme)]
}

pub struct Watcher {
    inner: RecommendedWatcher,
    events: Receiver<notify::Result<notify::Event>>,
    root: PathBuf,
    output: PathBuf,
    theme: String,
    armed: HashSet<PathBuf>,
}

impl Watcher {
    /// Watches the site at `root` (an absolute path), ignoring `output`.
    pub fn new(root: &Path, output: &Path, theme: &str) -> Result<Watcher, String> {
        let (tx, events) = mpsc::channel();
        let inner = notify::recommended_watcher(tx).map_err(|e| format!("cannot watch files: {e}"))?;
        let root = root.to_path_buf();
        let output = output.to_path_buf();
        let mut w = Watcher { inner, events, root, output, theme: theme.to_string(), armed: HashSet::new() };
        w.arm()?;
        Ok(w)
    }

    /// Watches the root itself (for `site.yaml` and folders that appear) and
    /// every watched folder that exists and is not watched yet.
    fn arm(&mut self) -> Result<(), String> {
        let mut wanted = vec![(self.root.clone(), RecursiveMode::NonRecursive)];
        let themes = self.root.join("themes");
        if themes.is_dir() {
            wanted.push((themes, RecursiveMode::NonRecursive));
        }
        wanted.extend(watched_folders(&self.theme).into_iter().map(|f| (self.root.join(f), RecursiveMode::Recursive)));
        for (path, mode) in wanted {
            if path.is_dir() && !self.armed.contains(&path) {
                self.inner.watch(&path, mode).map_err(|e| format!("cannot watch {}: {e}", path.display()))?;
                self.armed.insert(path);
            }
        }
        self.armed.retain(|p| p.is_dir());
        Ok(())
    }

    /// Blocks until files change, then returns the changed paths of the whole
    /// burst and when its first event arrived; `None` once `stop` is set.
    pub fn next_batch(&mut self, stop: &AtomicBool) -> Option<(Vec<PathBuf>, Instant)> {
        let mut paths = BTreeSet::new();
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
        // Folders created since (templates/, a theme) start being watched now.
        let _ = self.arm();
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
        rel == Path::new(CONFIG_FILE)
            || rel == Path::new("themes")
            || watched_folders(&self.theme).iter().any(|f| rel.starts_with(f))
    }
}
