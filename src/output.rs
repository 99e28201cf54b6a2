//! Writing the site: everything goes into a fresh staging folder beside the
//! output, which is swapped in only once complete. A failed build never
//! touches the previous output, and files no longer produced do not linger.

use rayon::prelude::*;
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use crate::render::Output;
use crate::theme::Origin;

/// A file copied as it is (static files, content assets).
#[derive(Debug, Clone)]
pub struct Copy {
    pub path: String,
    pub from: Origin,
}

/// Refuses output folders whose replacement would destroy the site: the
/// site root itself or a folder above it, and the folders annals reads from.
/// (The output is replaced whole on every build.)
pub fn check_output_dir(root: &Path, out: &Path) -> Result<(), String> {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let out = normalize(&root.join(out));
    if root.starts_with(&out) {
        return Err(format!(
            "the output folder {} holds the site itself; choose a folder of its own, such as public/",
            out.display()
        ));
    }
    for source in ["content", "templates", "static", "themes"] {
        if out.starts_with(root.join(source)) {
            return Err(format!("the output folder {} is inside {source}/, which annals reads from", out.display()));
        }
    }
    Ok(())
}

/// Resolves `.` and `..` without touching the file system (the output may not exist yet).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let name = out.file_name().map_or_else(|| "public".into(), |n| n.to_string_lossy().into_owned());
    out.with_file_name(format!(".{name}.{suffix}"))
}

/// A fresh folder beside the output that a build writes into; `commit`
/// swaps it in place of the output. Dropped without `commit` (the build
/// failed), it is removed and the output is left as it was.
pub struct Staging {
    dir: PathBuf,
    out: PathBuf,
    committed: bool,
}

impl Staging {
    pub fn new(out: &Path) -> io::Result<Staging> {
        let dir = sibling(out, "annals-new");
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        Ok(Staging { dir, out: out.to_path_buf(), committed: false })
    }

    /// Creates every folder the given file paths need, each once, parents
    /// first, so that the parallel writes that follow need no checks.
    pub fn create_folders<'a>(&self, paths: impl Iterator<Item = &'a str>) -> io::Result<()> {
        let folders: BTreeSet<&str> = paths.filter_map(|p| p.rsplit_once('/').map(|(folder, _)| folder)).collect();
        for folder in folders {
            match std::fs::create_dir(self.dir.join(folder)) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::create_dir_all(self.dir.join(folder))?,
                other => other?,
            }
        }
        Ok(())
    }

    pub fn write(&self, path: &str, bytes: &[u8]) -> io::Result<()> {
        std::fs::write(self.dir.join(path), bytes)
    }

    pub fn copy(&self, copies: &[Copy]) -> io::Result<()> {
        self.create_folders(copies.iter().map(|c| c.path.as_str()))?;
        copies.par_iter().try_for_each(|c| match &c.from {
            Origin::Disk(p) => std::fs::copy(p, self.dir.join(&c.path)).map(|_| ()),
            Origin::Embedded(_, bytes) => std::fs::write(self.dir.join(&c.path), bytes),
        })
    }

    /// Puts the staging folder in place of the output.
    pub fn commit(mut self) -> io::Result<()> {
        swap(&self.dir, &self.out)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Writes `outputs` and `copies` under `out`, atomically replacing what was there.
pub fn write(out: &Path, outputs: &[Output], copies: &[Copy]) -> io::Result<()> {
    let staging = Staging::new(out)?;
    staging.create_folders(outputs.iter().map(|o| o.path.as_str()))?;
    outputs.par_iter().try_for_each(|o| staging.write(&o.path, &o.bytes))?;
    staging.copy(copies)?;
    staging.commit()
}

/// Brings an output folder written by an earlier build up to date with
/// `built`: writes the outputs that changed, deletes those that are gone,
/// and copies static files whose size or modification time differ.
pub fn update(
    out: &Path,
    outputs: &[Output],
    changed: &[String],
    removed: &[String],
    copies: &[Copy],
) -> io::Result<()> {
    let changed: BTreeSet<&str> = changed.iter().map(String::as_str).collect();
    for o in outputs.iter().filter(|o| changed.contains(o.path.as_str())) {
        let path = out.join(&o.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, &*o.bytes)?;
    }
    for path in removed {
        let file = out.join(path);
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        // Drop folders left empty, up to the output root.
        let mut dir = file.parent();
        while let Some(d) = dir.filter(|d| *d != out) {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }
    copies.par_iter().try_for_each(|c| {
        let dest = out.join(&c.path);
        if let Origin::Disk(src) = &c.from {
            if same_file_state(src, &dest) {
                return Ok(());
            }
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        match &c.from {
            Origin::Disk(p) => std::fs::copy(p, &dest).map(|_| ()),
            Origin::Embedded(_, bytes) => std::fs::write(&dest, bytes),
        }
    })
}

fn same_file_state(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.len() == b.len() && a.modified().ok() <= b.modified().ok(),
        _ => false,
    }
}

/// Puts `staging` in place of `out`, keeping `out` intact if that fails.
fn swap(staging: &Path, out: &Path) -> io::Result<()> {
    if !out.exists() {
        return std::fs::rename(staging, out);
    }
    let old = sibling(out, "annals-old");
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    std::fs::rename(out, &old)?;
    if let Err(e) = std::fs::rename(staging, out) {
        std::fs::rename(&old, out)?;
        return Err(e);
    }
    remove_tree(&old)
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
    fn output_folders_that_would_destroy_the_site_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for bad in [".", "..", "../..", "content", "content/out", "static", "./themes/x", "public/../content"] {
            assert!(check_output_dir(root, Path::new(bad)).is_err(), "{bad} accepted");
        }
        for good in ["public", "out/site", "../elsewhere"] {
            assert!(check_output_dir(root, Path::new(good)).is_ok(), "{good} refused");
        }
    }

    #[test]
    fn replaces_the_whole_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("public");
        let page = |p: &str| Output { path: p.into(), bytes: b"x".as_slice().into() };
        write(&out, &[page("a/index.html"), page("index.html")], &[]).unwrap();
        write(&out, &[page("b/c/index.html")], &[]).unwrap();
        assert!(!out.join("a").exists());
        assert!(out.join("b/c/index.html").is_file());
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("public")]);
    }
}
