//! A test site: a fixture copied into a temporary folder, built, inspected,
//! changed, built again. Reads as a story: `TestSite::fixture("basic").build_ok().contains(...)`.
#![allow(dead_code)] // each test binary uses a different part of the helper

use annals::diagnostics::Diagnostic;
use annals::engine::{self as pipeline, Built, Options};
use std::path::{Path, PathBuf};

pub struct TestSite {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub options: Options,
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let dest = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

impl TestSite {
    pub fn fixture(name: &str) -> TestSite {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        copy_dir(&fixtures().join(name), &root);
        let options = Options::new(&root);
        TestSite { _dir: dir, root, options }
    }

    /// The basic site with one error fixture's files laid over it.
    pub fn with_error(kind: &str) -> TestSite {
        TestSite::overlaid(&format!("errors/{kind}"))
    }

    /// The basic site with one warning fixture's files laid over it.
    pub fn with_warning(kind: &str) -> TestSite {
        TestSite::overlaid(&format!("warnings/{kind}"))
    }

    fn overlaid(overlay: &str) -> TestSite {
        let site = TestSite::fixture("basic");
        copy_dir(&fixtures().join(overlay), &site.root);
        site
    }

    pub fn write(&self, rel: &str, text: &str) -> &Self {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    pub fn remove(&self, rel: &str) -> &Self {
        std::fs::remove_file(self.root.join(rel)).unwrap();
        self
    }

    pub fn build(&self) -> Result<Built, Vec<Diagnostic>> {
        pipeline::build(&self.options)
    }

    pub fn build_ok(&self) -> &Self {
        if let Err(errors) = self.build() {
            panic!("build failed:\n{}", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"));
        }
        self
    }

    /// The errors of a build that must fail (its warnings left out).
    pub fn build_err(&self) -> Vec<Diagnostic> {
        match self.build() {
            Ok(_) => panic!("build succeeded but errors were expected"),
            Err(errors) => errors.into_iter().filter(Diagnostic::is_error).collect(),
        }
    }

    /// The warnings of a build, which must succeed.
    /// The warnings of a successful `check`: what the content deserves a look
    /// for (a `build` adds one about a relative `base_url`).
    pub fn check_warnings(&self) -> Vec<Diagnostic> {
        match pipeline::generate(&self.options) {
            Ok(built) => built.warnings,
            Err(errors) => {
                panic!("build failed:\n{}", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))
            }
        }
    }

    pub fn out(&self) -> PathBuf {
        self.options.output_dir()
    }

    pub fn read(&self, rel: &str) -> String {
        let path = self.out().join(rel);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.out().join(rel).exists()
    }

    pub fn contains(&self, rel: &str, needle: &str) -> &Self {
        let text = self.read(rel);
        assert!(text.contains(needle), "{rel} does not contain {needle:?}:\n{text}");
        self
    }

    pub fn lacks(&self, rel: &str, needle: &str) -> &Self {
        let text = self.read(rel);
        assert!(!text.contains(needle), "{rel} contains {needle:?}:\n{text}");
        self
    }
}

/// Every file under `dir` with its bytes, sorted by path.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

/// The names beside a site's output that annals made (`.public.annals`).
pub fn beside_output(site: &TestSite) -> Vec<String> {
    std::fs::read_dir(&site.root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("annals"))
        .collect()
}
