//! One fixture per error kind: each asserts the message, the file, the
//! line and the column, and that the build fails without touching output.

mod common;
use annals::diagnostics::Diagnostic;
use common::{copy_dir, fixtures, TestSite};
use std::path::Path;

/// Builds the basic site with the `kind` fixture laid over it and returns
/// the single error it must produce.
fn only_error(kind: &str) -> Diagnostic {
    let site = TestSite::with_error(kind);
    let errors = site.build_err();
    assert_eq!(errors.len(), 1, "{kind}: expected one error, got {errors:#?}");
    assert!(!site.out().exists(), "{kind}: a failed build wrote output");
    errors.into_iter().next().unwrap()
}

fn assert_at(d: &Diagnostic, path: &str, line: usize, col: usize, message: &str) {
    assert_eq!(d.path, Path::new(path), "{d}");
    assert_eq!((d.line, d.col), (line, col), "{d}");
    assert!(d.message.contains(message), "{d}\nexpected the message to contain {message:?}");
}

#[test]
fn bad_yaml() {
    let d = only_error("bad-yaml");
    assert_eq!(d.path, Path::new("content/studies/epsilon-2015.md"));
    assert!(d.message.starts_with("invalid YAML"), "{d}");
    assert!((3..=5).contains(&d.line), "{d}");
}

#[test]
fn missing_file_beside_the_markdown() {
    let d = only_error("missing-file");
    assert_at(&d, "content/studies/epsilon-2015.md", 8, 12, "content/studies/charts/epsilon.png");
}

#[test]
fn unclosed_front_matter() {
    let d = only_error("unclosed-front-matter");
    assert_at(&d, "content/notes.md", 1, 1, "never closed");
}

#[test]
fn unknown_field_suggests_the_declared_one() {
    let d = only_error("unknown-field");
    assert_at(&d, "content/studies/epsilon-2015.md", 4, 1, "unknown field `yaer`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `year`?"));
}

#[test]
fn wrong_type() {
    let d = only_error("wrong-type");
    assert_at(&d, "content/studies/epsilon-2015.md", 6, 15, "field `participants` expects an integer, found `many`");
}

#[test]
fn missing_required_fields_are_named() {
    let d = only_error("missing-required");
    assert_at(&d, "content/studies/epsilon-2015.md", 1, 1, "missing required fields `key_finding`, `year`");
}

#[test]
fn bad_id() {
    let d = only_error("bad-id");
    assert_at(&d, "content/studies/Epsilon_2015.md", 0, 0, "`Epsilon_2015` is not a valid id");
    assert!(d.message.contains("epsilon-2015"), "{d}");
}

#[test]
fn dangling_references_each_reported() {
    let site = TestSite::with_error("dangling-reference");
    let errors = site.build_err();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_at(
        &errors[0],
        "content/studies/epsilon-2015.md",
        5,
        6,
        "field `era` refers to `middle`, but collection `eras` has no such entry",
    );
    assert_at(&errors[1], "content/studies/epsilon-2015.md", 7, 23, "field `related` refers to `beta-2006`");
    assert_eq!(errors[1].hint.as_deref(), Some("did you mean `beta-2005`?"));
}

#[test]
fn broken_link() {
    let d = only_error("broken-link");
    assert_at(&d, "content/studies/epsilon-2015.md", 8, 5, "broken link: no page at `@/studies/gamma-2011.md`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `@/studies/gamma-2010.md`?"));
}

#[test]
fn missing_anchor() {
    let d = only_error("missing-anchor");
    assert_at(
        &d,
        "content/studies/epsilon-2015.md",
        8,
        7,
        "`@/studies/beta-2005.md` has no heading or footnote `#methods`",
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `#method`?"));
}

#[test]
fn unknown_citation() {
    let d = only_error("unknown-citation");
    assert_at(&d, "content/studies/epsilon-2015.md", 8, 14, "unknown citation `@alpha-2001`");
}

#[test]
fn template_rendering_error() {
    let d = only_error("template-error");
    assert_at(&d, "templates/page.html", 4, 16, "template error: Field `missing` is not defined");
}

#[test]
fn template_syntax_error() {
    let d = only_error("template-syntax");
    assert_eq!(d.path, Path::new("templates/page.html"), "{d}");
    assert_eq!(d.line, 3, "{d}");
    assert!(d.message.starts_with("template error"), "{d}");
}

#[test]
fn a_draft_target_says_it_is_a_draft() {
    let site = TestSite::fixture("basic");
    site.write("content/notes.md", "See [delta](@/studies/delta-2012.md).\n");
    let errors = site.build_err();
    assert_eq!(
        errors[0].hint.as_deref(),
        Some("`@/studies/delta-2012.md` is a draft; build with --drafts or remove the link")
    );
}

#[test]
fn configuration_errors_point_into_site_yaml() {
    let site = TestSite::fixture("basic");
    let config = std::fs::read_to_string(site.root.join("site.yaml")).unwrap();
    site.write("site.yaml", &config.replace("participants: { type: integer }", "participants: { type: integr }"));
    let errors = site.build_err();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].path, Path::new("site.yaml"));
    assert_eq!(errors[0].hint.as_deref(), Some("did you mean `integer`?"));
    assert!(errors[0].line > 0);
}

#[test]
fn every_error_of_a_run_is_reported_together() {
    let site = TestSite::fixture("basic");
    for kind in ["unknown-field", "broken-link", "template-error"] {
        // Each kind writes its own file; rename the study so they don't collide.
        let staging = tempfile::tempdir().unwrap();
        copy_dir(&fixtures().join("errors").join(kind), staging.path());
        let study = staging.path().join("content/studies/epsilon-2015.md");
        if study.exists() {
            std::fs::rename(&study, staging.path().join(format!("content/studies/{kind}-2015.md"))).unwrap();
        }
        copy_dir(staging.path(), &site.root);
    }
    let errors = site.build_err();
    let files: Vec<String> = errors.iter().map(|d| d.path.display().to_string()).collect();
    assert_eq!(
        files,
        ["content/studies/broken-link-2015.md", "content/studies/unknown-field-2015.md", "templates/page.html"],
        "{errors:#?}"
    );
}

#[test]
fn no_input_makes_it_panic() {
    // Hostile and odd inputs: each must give diagnostics or a build, never a panic.
    let cases: &[(&str, &str)] = &[
        ("content/a.md", "---\n---\n"),
        ("content/b.md", "---\n- just\n- a list\n---\n"),
        ("content/c.md", "---\n? [complex]\n: key\n---\n"),
        ("content/d.md", "---\na: &x [*x]\n---\n"),
        ("content/e.md", "---\ntitle: 1\n---\n[@]\n[@;@]\n[](@/)\n[x](@/#)\n"),
        ("content/f.md", "\u{feff}---\ntitle: bom\n---\n# \n## \n"),
        ("content/g.md", "---\ntitle: x\n---\n```\nunclosed"),
        ("content/studies/z-1.md", "---\nyear: 99999999999999999999999\n---\n"),
    ];
    for (path, text) in cases {
        let site = TestSite::fixture("basic");
        site.write(path, text);
        let result = std::panic::catch_unwind(|| site.build());
        assert!(result.is_ok(), "{path} with {text:?} panicked");
    }
}
