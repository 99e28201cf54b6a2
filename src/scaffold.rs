//! Files annals writes for a person: `annals init` (a new, working site) and
//! `annals new` (an entry whose front matter is generated from the schema).
//! Neither ever overwrites a file.

use std::path::{Path, PathBuf};

use crate::config::{self, Config, FieldType};
use crate::content::CONTENT_DIR;
use crate::diagnostics::Diagnostic;
use crate::names::{quoted_list, suggest};

/// The files of a new site, path and text: one documented collection, a
/// home page that cites its one entry, and the theme built into the binary.
const INIT_FILES: &[(&str, &str)] = &[
    ("site.yaml", include_str!("scaffold/site.yaml")),
    ("content/_index.md", include_str!("scaffold/_index.md")),
    ("content/papers/example-2024.md", include_str!("scaffold/example-2024.md")),
    (".gitignore", "/public/\n/.public.annals/\n"),
];

/// Writes a new site into `dir` (created if missing), which must be empty.
/// Returns the files written, relative to `dir`.
pub fn init(dir: &Path) -> Result<Vec<&'static str>, String> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        if entries.next().is_some() {
            return Err(format!(
                "{} is not empty: `annals init` writes a new site only into an empty or new folder",
                dir.display()
            ));
        }
    }
    for (rel, text) in INIT_FILES {
        let path = dir.join(rel);
        let parent = path.parent().expect("every file sits in a folder");
        std::fs::create_dir_all(parent)
            .and_then(|()| crate::output::write_new(&path, text.as_bytes()))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(INIT_FILES.iter().map(|(rel, _)| *rel).collect())
}

/// How many existing ids a reference field's comment lists.
const IDS_SHOWN: usize = 6;

/// Writes `content/<folder>/<id>.md` for a new entry of `collection`, with
/// every field of the schema: the required ones first, as `key:` lines to
/// fill (which `check` reports until they are), then the optional ones
/// commented out; each with its type, allowed values or existing ids.
/// Returns the path written, relative to `root`.
pub fn new_entry(root: &Path, collection: &str, id: &str, title: Option<&str>) -> Result<PathBuf, Vec<Diagnostic>> {
    let config = config::load(root)?;
    let fail = |message: String, hint: Option<String>| {
        let d = Diagnostic::file(config::CONFIG_FILE, message);
        vec![match hint {
            Some(h) => d.with_hint(h),
            None => d,
        }]
    };
    let Some(c) = config.collections.iter().find(|c| c.name == collection || c.folder == collection) else {
        let names: Vec<&str> = config.collections.iter().map(|c| c.name.as_str()).collect();
        let hint = match suggest(collection, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("site.yaml declares {}", quoted_list(&names)),
        };
        return Err(fail(format!("no collection `{collection}` in site.yaml"), Some(hint)));
    };
    let rel = Path::new(CONTENT_DIR).join(&c.folder).join(format!("{id}.md"));
    if !crate::names::is_valid_id(id) {
        let valid = crate::slug::slugify(id);
        return Err(vec![
            Diagnostic::file(&rel, format!("`{id}` is not a valid id: use lowercase letters, digits and hyphens only"))
                .with_hint(format!("try `annals new {} {valid}`", c.name)),
        ]);
    }
    if root.join(&rel).symlink_metadata().is_ok() {
        return Err(vec![
            Diagnostic::file(&rel, format!("`{id}` already exists in `{}`", c.name))
                .with_hint("choose another id, or edit the file that is there"),
        ]);
    }
    if title.is_some() && !c.fields.contains_key("title") {
        return Err(fail(format!("--title given, but collection `{}` declares no `title` field", c.name), None));
    }
    let text = front_matter(root, &config, c, title);
    let path = root.join(&rel);
    std::fs::create_dir_all(path.parent().expect("under content/"))
        // `create_new`: never through a file (or dangling symlink) put there meanwhile.
        .and_then(|()| crate::output::write_new(&path, text.as_bytes()))
        .map_err(|e| vec![Diagnostic::file(&rel, format!("cannot write: {e}"))])?;
    Ok(rel)
}

fn front_matter(root: &Path, config: &Config, c: &config::Collection, title: Option<&str>) -> String {
    let mut required: Vec<(String, String)> = Vec::new();
    let mut optional: Vec<(String, String)> = Vec::new();
    // The title first, then the rest by name.
    let mut fields: Vec<&config::Field> = c.fields.values().collect();
    fields.sort_by_key(|f| f.name != "title");
    for field in fields {
        let about = describe(root, config, &field.ty);
        let given = title.filter(|_| field.name == "title");
        match (field.required, given) {
            (true, Some(t)) => required.push((format!("title: {}", yaml_string(t)), format!("required · {about}"))),
            (true, None) => required.push((format!("{}:", field.name), format!("required · {about}"))),
            // Given, an optional title is written with the required fields, not commented out.
            (false, Some(t)) => required.push((format!("title: {}", yaml_string(t)), about)),
            (false, None) => optional.push((format!("# {}:", field.name), about)),
        }
    }
    let width = required.iter().chain(&optional).map(|(l, _)| l.len()).max().unwrap_or(0) + 2;
    let line = |(line, about): &(String, String)| format!("{line:width$}# {about}\n");
    let mut out = String::from("---\n");
    out.extend(required.iter().map(line));
    if !optional.is_empty() {
        out.push_str("# Optional: uncomment the ones the source gives.\n");
        out.extend(optional.iter().map(line));
    }
    out.push_str("---\nWrite the entry here, in your own words.\n");
    out
}

/// A field's type for a comment; a reference also lists ids to choose from.
fn describe(root: &Path, config: &Config, ty: &FieldType) -> String {
    let Some(to) = ty.target() else { return ty.describe() };
    let folder = config.collection(to).map_or(to, |c| c.folder.as_str());
    let ids = entry_ids(&root.join(CONTENT_DIR).join(folder));
    let shown: Vec<&str> = ids.iter().take(IDS_SHOWN).map(String::as_str).collect();
    match ids.len() {
        0 => format!("{} (none yet)", ty.describe()),
        n if n <= IDS_SHOWN => format!("{}: {}", ty.describe(), shown.join(", ")),
        n => format!("{}: {}, … ({n} in all: ls {CONTENT_DIR}/{folder}/)", ty.describe(), shown.join(", ")),
    }
}

/// The ids of the entries in a collection's folder, sorted.
fn entry_ids(dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".md").map(str::to_string))
        .filter(|stem| crate::names::is_valid_id(stem))
        .collect();
    ids.sort();
    ids
}

/// A YAML double-quoted string: a JSON string is one, escapes and all.
fn yaml_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_refuses_a_folder_with_anything_in_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
        assert!(init(dir.path()).unwrap_err().contains("not empty"));
        assert_eq!(std::fs::read_to_string(dir.path().join("notes.txt")).unwrap(), "mine");
    }

    #[test]
    fn a_title_given_is_written_even_when_optional() {
        let config =
            config::parse("title: T\ncollections:\n  notes:\n    fields:\n      title: {type: string}\n").unwrap();
        let text = front_matter(Path::new("/nonexistent"), &config, &config.collections[0], Some("Hi"));
        assert_eq!(text, "---\ntitle: \"Hi\"  # a string\n---\nWrite the entry here, in your own words.\n");
    }

    #[test]
    fn titles_are_quoted_for_yaml() {
        assert_eq!(yaml_string(r#"A "b": c\"#), r#""A \"b\": c\\""#);
    }
}
