//! What a build read from disk, recorded by the code that reads it: the
//! folders it listed and the files it read or looked for (present or not).
//! A change anywhere else cannot change the build, so the watcher watches
//! exactly this set (typst's `World::dependencies` is the model) and updates
//! what it watches after every build: a switched theme, a folder created,
//! or `content/` replaced by a copy are all seen.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    /// Folders whose entries the build listed, with their modification
    /// time when listed: a file added, changed or removed in one of them is
    /// a change.
    pub folders: BTreeMap<PathBuf, Option<SystemTime>>,
    /// Files the build read or looked for: a change to one, or the
    /// appearance of one (or of a folder on its way), is a change.
    pub files: BTreeSet<PathBuf>,
}

impl Inputs {
    /// Records a folder about to be listed.
    pub fn folder(&mut self, path: &Path) {
        self.folders.insert(path.to_path_buf(), modified(path));
    }

    pub fn file(&mut self, path: &Path) {
        self.files.insert(path.to_path_buf());
    }

    pub fn extend(&mut self, other: &Inputs) {
        self.folders.extend(other.folders.iter().map(|(p, t)| (p.clone(), *t)));
        self.files.extend(other.files.iter().cloned());
    }

    /// Whether a change at `path` (a file or folder, present or gone) can
    /// change what the build reads.
    pub fn affected_by(&self, path: &Path) -> bool {
        self.files.contains(path)
            || path.parent().is_some_and(|p| self.folders.contains_key(p))
            || self.files.iter().chain(self.folders.keys()).any(|f| f.starts_with(path))
    }

    /// The folders to watch (not recursively): every listed folder, and for
    /// each file the nearest folder that exists on its way, so that its
    /// appearance is seen.
    pub fn watch_list(&self) -> BTreeSet<PathBuf> {
        let mut out: BTreeSet<PathBuf> = self.folders.keys().cloned().collect();
        for file in &self.files {
            if let Some(existing) = file.ancestors().skip(1).find(|a| a.is_dir()) {
                out.insert(existing.to_path_buf());
            }
        }
        out
    }

    /// Whether `folder` was listed and has changed since: what happened
    /// there before it was watched.
    pub fn changed_since_listed(&self, folder: &Path) -> bool {
        self.folders.get(folder).is_some_and(|listed| *listed != modified(folder))
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_of_listed_folders_and_paths_towards_files_count() {
        let mut inputs = Inputs::default();
        inputs.folder(Path::new("/s/content"));
        inputs.file(Path::new("/s/site.yaml"));
        inputs.file(Path::new("/s/themes/dark/templates"));
        assert!(inputs.affected_by(Path::new("/s/content/new.md")));
        assert!(inputs.affected_by(Path::new("/s/content")));
        assert!(inputs.affected_by(Path::new("/s/site.yaml")));
        assert!(inputs.affected_by(Path::new("/s/themes")));
        assert!(!inputs.affected_by(Path::new("/s/README.md")));
        assert!(!inputs.affected_by(Path::new("/s/content/sub/deeper.md")));
    }
}
