//! Citations into several collections (`citations.collection: [studies,
//! works]`): labels across them, ids unique across them, errors that name
//! them all, and the `cited_by` global that lists the pages citing each.

mod common;
use annals::engine::{Change, Engine, generate};
use common::{TestSite, copy_dir, fixtures};
use std::path::{Path, PathBuf};

/// The basic site with a second citable collection, `works`.
fn works_site() -> TestSite {
    let site = TestSite::fixture("basic");
    copy_dir(&fixtures().join("works"), &site.root);
    site
}

#[test]
fn a_citation_resolves_into_the_second_collection() {
    let site = works_site();
    site.build_ok()
        .contains("notes/index.html", r#"<a class="citation" href="/works/omega-2020/">Omega et al., 2020</a>"#)
        // A work with no title is titled by its label.
        .contains("works/omega-2020/index.html", "<h1>Omega et al., 2020</h1>")
        .contains("works/omega-2020/index.html", r#"<a href="/notes/">Notes</a>"#);
}

#[test]
fn equal_labels_are_suffixed_across_collections() {
    let site = works_site();
    site.build_ok()
        .contains("notes/index.html", r#"<a class="citation" href="/studies/gamma-2010/">Gamma, 2010a</a>"#)
        .contains("notes/index.html", r#"<a class="citation" href="/works/gamma-methods-2010/">Gamma, 2010b</a>"#);
}

#[test]
fn the_cited_by_global_lists_the_pages_citing_each_page() {
    let site = works_site();
    site.build_ok()
        .contains("bibliography/index.html", r#"<li>Omega et al., 2020, cited by: <a href="/notes/">Notes</a></li>"#)
        .contains("bibliography/index.html", r#"<li>Gamma, 2010b, cited by: <a href="/notes/">Notes</a></li>"#);
}

#[test]
fn a_rebuild_updates_the_cited_by_global() {
    let site = works_site();
    // Omega stays cited after the edit, by another page: only its list changes.
    site.write("content/more.md", "---\ntitle: More\n---\nAgain [@omega-2020].\n");
    let mut engine = Engine::new(site.options.clone());
    engine.rebuild(&Change::Everything).expect("first build");
    let notes = site.root.join("content/notes.md");
    let text = std::fs::read_to_string(&notes).unwrap();
    std::fs::write(&notes, text.replace("A theory [@omega-2020], a", "A")).unwrap();
    let incremental = engine.rebuild(&Change::Paths(vec![PathBuf::from("content/notes.md")])).unwrap();
    let full = generate(&site.options).unwrap();
    let page = |outputs: &annals::output::Outputs| {
        let o = outputs.iter().find(|o| &*o.path == "bibliography/index.html").unwrap();
        String::from_utf8(o.bytes.get().unwrap().to_vec()).unwrap()
    };
    let expected = r#"<li>Omega et al., 2020, cited by: <a href="/more/">More</a></li>"#;
    assert!(page(&full.outputs).contains(expected), "{}", page(&full.outputs));
    assert_eq!(page(&incremental.outputs), page(&full.outputs));
}

#[test]
fn unknown_citations_name_every_citable_collection_and_suggest_across_them() {
    let site = works_site();
    site.write("content/notes.md", "---\ntitle: Notes\n---\nSee [@omega-2021].\n");
    let errors = site.build_err();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let d = &errors[0];
    assert_eq!((d.path.as_path(), d.line, d.col), (Path::new("content/notes.md"), 4, 6), "{d}");
    assert!(
        d.message.contains("unknown citation `@omega-2021`: no entry `omega-2021` in collections `studies`, `works`"),
        "{d}"
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `@omega-2020`?"));
}

#[test]
fn an_entry_with_neither_authors_nor_year_has_no_label_and_is_linked_not_cited() {
    let site = works_site();
    site.write("content/works/anonymous.md", "---\ncited_for: A practice with no publication.\n---\n");
    site.write("content/notes.md", "---\ntitle: Notes\n---\nSee [@anonymous].\n");
    let errors = site.build_err();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].message.contains("cannot cite `@anonymous`: the entry has neither authors nor year"),
        "{}",
        errors[0]
    );
    assert_eq!(errors[0].hint.as_deref(), Some("link to it instead: [text](@/works/anonymous.md)"));
    site.write("content/notes.md", "---\ntitle: Notes\n---\nSee [the practice](@/works/anonymous.md).\n");
    site.build_ok().lacks("bibliography/index.html", "anonymous");
}

#[test]
fn an_id_in_two_citable_collections_is_an_error() {
    let site = TestSite::with_error("duplicate-citable-id");
    let errors = site.build_err();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let d = &errors[0];
    assert_eq!(d.path, Path::new("content/works/beta-2005.md"), "{d}");
    assert!(
        d.message.contains(
            "`beta-2005` is also the id of content/studies/beta-2005.md: `[@beta-2005]` could cite either, so ids must be unique across the citable collections (`studies`, `works`)"
        ),
        "{d}"
    );
    assert!(!site.out().exists(), "a failed build wrote output");
}
