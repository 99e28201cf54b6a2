//! Theme files: the theme's `templates/` and `static/`, overridden file by
//! file by the site's own `templates/` and `static/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

use crate::diagnostics::Diagnostic;
use crate::inputs::Inputs;

include!(concat!(env!("OUT_DIR"), "/default_theme.rs"));

/// Where a file's bytes come from.
#[derive(Debug, Clone)]
pub enum Origin {
    Disk(PathBuf),
    /// Path under the default theme's folder, and the bytes.
    Embedded(&'static str, &'static [u8]),
}

impl Origin {
    pub fn read(&self) -> std::io::Result<Vec<u8>> {
        match self {
            Origin::Disk(p) => std::fs::read(p),
            Origin::Embedded(_, bytes) => Ok(bytes.to_vec()),
        }
    }

    /// The path to name in errors (relative to the site root when on disk).
    pub fn display(&self, root: &Path) -> PathBuf {
        match self {
            Origin::Disk(p) => p.strip_prefix(root).unwrap_or(p).to_path_buf(),
            Origin::Embedded(rel, _) => Path::new("<built-in theme>/default").join(rel),
        }
    }
}

/// The merged view of theme and site files.
#[derive(Debug, Default)]
pub struct Files {
    /// Template name (path under `templates/`) → origin.
    pub templates: BTreeMap<String, Origin>,
    /// Path under `static/` → origin.
    pub statics: BTreeMap<String, Origin>,
}

/// Collects the theme `name` and the site's overrides below `root`.
/// The folders it lists and the paths it looks for go into `inputs`.
pub fn load(root: &Path, name: &str, inputs: &mut Inputs) -> Result<Files, Diagnostic> {
    let mut files = Files::default();
    let dir = root.join("themes").join(name);
    inputs.file(&dir);
    if dir.is_dir() {
        add_dir(&dir.join("templates"), &mut files.templates, inputs);
        add_dir(&dir.join("static"), &mut files.statics, inputs);
    } else if name == "default" {
        for (rel, bytes) in DEFAULT_THEME {
            if let Some(t) = rel.strip_prefix("templates/") {
                files.templates.insert(t.to_string(), Origin::Embedded(rel, bytes));
            } else if let Some(s) = rel.strip_prefix("static/") {
                files.statics.insert(s.to_string(), Origin::Embedded(rel, bytes));
            }
        }
    } else {
        return Err(Diagnostic::file(
            crate::config::CONFIG_FILE,
            format!("theme `{name}` not found: expected a folder themes/{name}/"),
        ));
    }
    add_dir(&root.join("templates"), &mut files.templates, inputs);
    add_dir(&root.join("static"), &mut files.statics, inputs);
    Ok(files)
}

/// Adds the files under `dir` (symlinks not followed), recording the folders listed.
fn add_dir(dir: &Path, into: &mut BTreeMap<String, Origin>, inputs: &mut Inputs) {
    inputs.file(dir);
    if !dir.is_dir() {
        return;
    }
    let walker = WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !crate::content::is_ignored_name(&e.file_name().to_string_lossy()));
    for entry in walker.flatten() {
        if entry.file_type().is_dir() {
            inputs.folder(entry.path());
        }
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        let key = crate::content::rel_string(rel);
        into.insert(key, Origin::Disk(entry.path().to_path_buf()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, rel).unwrap();
    }

    #[test]
    fn site_files_override_the_themes_and_every_folder_read_is_recorded() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for rel in
            ["themes/plain/templates/page.html", "themes/plain/templates/base.html", "themes/plain/static/style.css"]
        {
            write(root, rel);
        }
        write(root, "templates/page.html");
        let mut inputs = Inputs::default();
        let files = load(root, "plain", &mut inputs).unwrap();
        assert!(matches!(&files.templates["page.html"], Origin::Disk(p) if p == &root.join("templates/page.html")));
        assert!(matches!(&files.templates["base.html"], Origin::Disk(p) if p.starts_with(root.join("themes"))));
        assert_eq!(files.statics.keys().collect::<Vec<_>>(), ["style.css"]);
        assert!(inputs.folders.contains_key(&root.join("themes/plain/templates")));
        assert!(inputs.files.contains(&root.join("static")), "an absent folder is looked for, so its creation is seen");
    }

    #[test]
    fn the_default_theme_comes_from_the_binary_and_an_unknown_one_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let files = load(tmp.path(), "default", &mut Inputs::default()).unwrap();
        assert!(matches!(files.templates["base.html"], Origin::Embedded(..)));
        let e = load(tmp.path(), "nope", &mut Inputs::default()).unwrap_err();
        assert!(e.message.contains("theme `nope` not found"), "{e}");
    }
}
