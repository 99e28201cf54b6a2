//! One fixture per warning: each builds (warnings never fail a build) and
//! reports exactly its warning, with the file, line and column.

mod common;
use annals::diagnostics::{Diagnostic, Severity};
use common::TestSite;
use std::path::Path;

/// Builds the basic site with the `kind` warning fixture laid over it and
/// returns the single warning it must produce.
fn only_warning(kind: &str) -> Diagnostic {
    let warnings = TestSite::with_warning(kind).check_warnings();
    assert_eq!(warnings.len(), 1, "{kind}: expected one warning, got {warnings:#?}");
    warnings.into_iter().next().unwrap()
}

fn assert_at(d: &Diagnostic, path: &str, line: usize, col: usize, message: &str) {
    assert_eq!(d.severity, Severity::Warning, "{d}");
    assert_eq!(d.path, Path::new(path), "{d}");
    assert_eq!((d.line, d.col), (line, col), "{d}");
    assert!(d.message.contains(message), "{d}\nexpected the message to contain {message:?}");
}

#[test]
fn the_basic_fixture_has_no_warnings() {
    let warnings = TestSite::fixture("basic").check_warnings();
    assert!(warnings.is_empty(), "{warnings:#?}");
}

#[test]
fn an_entry_nothing_points_at_is_an_orphan() {
    let d = only_warning("orphan");
    assert_at(&d, "content/studies/epsilon-2015.md", 0, 0, "orphan: no other page links to, cites or refers to");
    assert!(d.hint.as_deref().unwrap().contains("@/studies/epsilon-2015.md"), "{d}");
}

#[test]
fn an_external_link_is_a_warning_when_site_yaml_says_warn() {
    let d = only_warning("external-link");
    assert_at(&d, "content/notes.md", 6, 28, "external link to `https://example.org/trial/1`");
    assert!(d.message.contains("`links: { external: warn }`"), "{d}");
}

#[test]
fn external_links_are_allowed_by_default() {
    let site = TestSite::with_warning("external-link");
    std::fs::copy(common::fixtures().join("basic/site.yaml"), site.root.join("site.yaml")).unwrap();
    assert!(site.check_warnings().is_empty());
}

#[test]
fn an_image_without_alt_text() {
    let d = only_warning("image-alt");
    assert_at(&d, "content/notes.md", 6, 11, "image without alt text");
}

#[test]
fn two_headings_that_would_share_an_anchor() {
    let d = only_warning("duplicate-heading");
    assert_at(
        &d,
        "content/notes.md",
        10,
        1,
        "two headings would share the anchor `#results`; this one gets `#results-1`",
    );
    // The note points at the heading that has the anchor, and quotes it.
    let note = &d.notes()[0];
    assert_eq!((note.path.as_path(), note.line, note.col), (Path::new("content/notes.md"), 6, 1), "{d}");
    assert_eq!(note.message, "the heading that has it");
    let report = annals::diagnostics::report(Path::new("/nowhere"), &[d]);
    assert!(
        report.contains("::: content/notes.md:6:1\n   |\n 6 | ## Results\n   | - the heading that has it\n"),
        "{report}"
    );
}

#[test]
fn a_yaml_1_1_boolean_key_is_read_as_its_name_with_a_warning() {
    // The build succeeds: `on` is taken as the declared field `"on"`, not `true`.
    let warnings = TestSite::with_warning("boolean-key").check_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert_at(&warnings[0], "content/studies/alpha-2000.md", 6, 1, "key `on` is a boolean in YAML 1.1");
    assert_eq!(warnings[0].len, 2);
}

#[test]
fn a_cited_draft_gets_one_warning_and_each_citation_its_error() {
    let site = TestSite::with_warning("draft-cited");
    let Err(all) = site.build() else { panic!("citing a draft must fail the build") };
    let (errors, warnings): (Vec<_>, Vec<_>) = all.into_iter().partition(Diagnostic::is_error);
    let at: Vec<(String, usize)> = errors.iter().map(|d| (d.path.display().to_string(), d.line)).collect();
    assert_eq!(
        at,
        [
            ("content/notes.md".to_string(), 6),
            ("content/notes.md".to_string(), 6),
            ("content/studies/epsilon-2015.md".to_string(), 7),
            ("content/studies/epsilon-2015.md".to_string(), 9)
        ],
        "{errors:#?}"
    );
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert_at(
        &warnings[0],
        "content/studies/delta-2012.md",
        0,
        0,
        "this draft is cited or linked by 2 published pages",
    );

    // Previewing with drafts, the site builds and the warning remains.
    let mut with_drafts = TestSite::with_warning("draft-cited");
    with_drafts.options.drafts = true;
    let warnings = with_drafts.check_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert_eq!(warnings[0].path, Path::new("content/studies/delta-2012.md"));
}
