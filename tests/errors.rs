//! One fixture per error kind: each asserts the message, the file, the
//! line and the column, and that the build fails without touching output.

mod common;
use annals::diagnostics::Diagnostic;
use common::{TestSite, copy_dir, fixtures};
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
    // At the id itself, underlined whole, not at the bracket.
    assert_at(&d, "content/studies/epsilon-2015.md", 8, 28, "unknown citation `@alpha-2001`");
    assert_eq!(d.len, "@alpha-2001".len());
    assert_eq!(d.hint.as_deref(), Some("did you mean `@alpha-2000`?"));
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
    site.write(
        "site.yaml",
        &config.replace("participants: { type: integer, min: 1 }", "participants: { type: integr, min: 1 }"),
    );
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

#[test]
fn an_unclosed_quote_is_reported_where_it_opened() {
    let d = only_error("unclosed-quote");
    assert_at(&d, "content/studies/epsilon-2015.md", 2, 8, "this quote is not closed on its line");
    assert!(d.message.contains("runs on to line 6"), "{d}");
}

#[test]
fn a_colon_in_a_value_gets_a_hint_to_quote_it() {
    let d = only_error("colon-in-value");
    assert_at(&d, "content/studies/epsilon-2015.md", 6, 20, "mapping values are not allowed");
    assert_eq!(d.hint.as_deref(), Some("quote the value: `key_finding: \"Result: it worked\"`"));
}

#[test]
fn a_missing_anchor_suggests_the_heading_it_starts() {
    let d = only_error("missing-anchor-near");
    assert_at(&d, "content/notes.md", 6, 10, "`@/eras/early.md` has no heading or footnote `#begin`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `#beginnings`?"));
}

#[test]
fn an_unknown_narrative_citation_is_an_error_but_an_email_is_not() {
    let d = only_error("unknown-narrative-citation");
    assert_at(&d, "content/studies/epsilon-2015.md", 9, 26, "unknown citation `@alfa-2000`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `@alpha-2000`?"));
    assert_eq!(d.len, "@alfa-2000".len());
}

#[test]
fn narrative_citations_render_names_and_year() {
    let site = TestSite::with_error("unknown-narrative-citation");
    site.write("content/studies/epsilon-2015.md", "---\ntitle: E\nauthors: [E]\nyear: 2015\nera: late\nkey_finding: K\n---\nAs @alpha-2000 found [see -@beta-2005, p. 3].\n");
    site.build_ok().contains(
        "studies/epsilon-2015/index.html",
        "As <a class=\"citation\" href=\"/studies/alpha-2000/\">Alpha et al. (2000)</a> found <span class=\"citations\">(see <a class=\"citation\" href=\"/studies/beta-2005/\">2005</a>, p. 3)</span>",
    );
}

// Inputs that were once silently wrong.
#[test]
fn toml_front_matter_is_refused() {
    let d = only_error("toml-front-matter");
    assert_at(&d, "content/notes.md", 1, 1, "TOML");
}

#[test]
fn a_stray_delimiter_that_ends_front_matter_early() {
    let d = only_error("stray-delimiter");
    assert_at(&d, "content/studies/epsilon-2015.md", 4, 1, "ends the front matter");
}

#[test]
fn required_means_not_empty() {
    let site = TestSite::with_error("empty-required");
    let errors = site.build_err();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_at(
        &errors[0],
        "content/studies/epsilon-2015.md",
        2,
        8,
        "field `title` is required, so it must not be empty",
    );
    assert_at(
        &errors[1],
        "content/studies/epsilon-2015.md",
        3,
        10,
        "field `authors` is required, so it must not be empty",
    );
}

#[test]
fn an_external_link_is_an_error_when_site_yaml_denies_them() {
    let d = only_error("external-link-denied");
    assert_at(&d, "content/notes.md", 6, 26, "external image to `//example.org/chart.png`");
    assert!(d.message.contains("`links: { external: deny }`"), "{d}");
}

#[test]
fn invalid_utf8_points_at_the_first_bad_byte_and_causes_no_cascade() {
    let d = only_error("invalid-utf8");
    assert_at(&d, "content/studies/epsilon-2015.md", 8, 6, "not valid UTF-8");
}

#[test]
fn unknown_yaml_tags_are_refused() {
    let d = only_error("unknown-tag");
    assert_at(&d, "content/studies/epsilon-2015.md", 6, 21, "unknown YAML tag `!shell`");
}

#[test]
fn numbers_outside_their_declared_range() {
    let d = only_error("out-of-range");
    assert_at(&d, "content/studies/epsilon-2015.md", 6, 15, "field `participants` must be at least 1");
}

#[test]
fn a_file_too_large_to_be_a_page_is_refused_without_reading_it_all() {
    let site = TestSite::fixture("basic");
    let big = std::fs::File::create(site.root.join("content/huge.md")).unwrap();
    big.set_len(annals::content::MAX_FILE_SIZE + 1).unwrap();
    let errors = site.build_err();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].path, Path::new("content/huge.md"));
    assert!(errors[0].message.contains("larger than 16 MiB"), "{}", errors[0]);
}

#[test]
fn an_unknown_filter_is_located_in_its_template() {
    // Tera reports checks made after parsing as one message of several
    // reports; annals splits it into diagnostics: this pins that path.
    let d = only_error("unknown-filter");
    assert_eq!(d.path, Path::new("templates/page.html"), "{d}");
    assert_eq!(d.line, 3, "{d}");
    assert!(d.message.contains("shout"), "{d}");
}

#[test]
fn two_pages_with_one_url_point_at_each_other() {
    let site = TestSite::with_error("duplicate-url");
    let errors = site.build_err();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    let d = &errors[0];
    assert_at(d, "content/eras/_index.md", 0, 0, "this page's URL `/eras/` is also the URL of content/eras.md");
    let note = &d.notes()[0];
    assert_eq!(
        (note.path.as_path(), note.line, note.message.as_str()),
        (Path::new("content/eras.md"), 0, "the other page with this URL")
    );
    // And the output path they would both be written to.
    assert_at(&errors[1], "eras/index.html", 0, 0, "two pages or files would be written to this output path");
}

#[test]
fn an_id_shared_by_two_citable_collections_names_both_files() {
    let d = only_error("duplicate-citable-id");
    assert_at(&d, "content/works/beta-2005.md", 0, 0, "`beta-2005` is also the id of content/studies/beta-2005.md");
    assert_eq!(d.notes()[0].path, Path::new("content/studies/beta-2005.md"), "{d}");
    assert_eq!(d.hint.as_deref(), Some("rename one of the two files"));
}

#[test]
fn two_spellings_of_a_taxonomy_term_point_at_each_other() {
    let d = only_error("taxonomy-spelling");
    assert_at(
        &d,
        "content/studies/epsilon-2015.md",
        0,
        0,
        "`Mood` and `mood` of taxonomy `topics` would share the URL /topics/mood/; spell them the same",
    );
    let note = &d.notes()[0];
    assert_eq!(
        (note.path.as_path(), note.message.as_str()),
        (Path::new("content/studies/alpha-2000.md"), "`mood` is written here")
    );
}

#[test]
fn a_field_name_that_is_not_a_string() {
    let d = only_error("field-name-not-string");
    assert_at(&d, "content/notes.md", 3, 1, "field names must be strings, found an integer");
}

#[test]
fn front_matter_that_is_not_a_mapping() {
    let d = only_error("front-matter-not-mapping");
    assert_at(&d, "content/notes.md", 2, 1, "front matter must be a mapping of fields, found a list");
}

#[test]
fn a_template_named_in_front_matter_must_exist() {
    let d = only_error("unknown-template");
    // The whole file: the check is made when templates are chosen, after the front matter.
    assert_at(&d, "content/notes.md", 0, 0, "`template: nope.html` names no template in the theme or templates/");
}

#[test]
fn the_content_folder_must_exist() {
    let site = TestSite::fixture("basic");
    std::fs::remove_dir_all(site.root.join("content")).unwrap();
    let errors = site.build_err();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_at(&errors[0], "content", 0, 0, "the content folder is missing");
}

#[test]
fn a_citation_needs_citations_in_site_yaml() {
    let site = TestSite::fixture("basic");
    let config = std::fs::read_to_string(site.root.join("site.yaml")).unwrap();
    let start = config.find("citations:").unwrap();
    let end = config.find("feed:").unwrap();
    site.write("site.yaml", &format!("{}{}", &config[..start], &config[end..]));
    let errors = site.build_err();
    assert!(errors.iter().all(|d| d.message.contains("but site.yaml declares no `citations`")), "{errors:#?}");
    assert_at(&errors[0], "content/about.md", 7, 8, "citation `[@alpha-2000]`, but site.yaml declares no `citations`");
}

/// Columns count characters: wide (CJK) and multi-byte (emoji) text before
/// an error moves it by one column a character, whatever its bytes or width.
#[test]
fn columns_count_characters_before_the_error() {
    let site = TestSite::with_error("wide-characters");
    let errors = site.build_err();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_at(&errors[0], "content/studies/epsilon-2015.md", 6, 15, "field `topics` expects a string, found `3`");
    assert_at(&errors[1], "content/studies/epsilon-2015.md", 9, 8, "unknown citation `@alpha-2001`");
    // The underline sits under the id: after 6 characters, 11 display cells.
    let report = annals::diagnostics::report(&site.root, &errors[1..]);
    assert!(report.contains("9 | 日本語の文 [@alpha-2001] 😀.\n  |             ^^^^^^^^^^^\n"), "{report}");
}

/// Every check of `site.yaml` that serde cannot make, each at its place.
#[test]
fn each_schema_error_points_at_its_place_in_site_yaml() {
    let cases: &[(&str, &str, usize, usize, &str)] = &[
        (
            "participants: { type: integer, min: 1 }",
            "participants: { type: integer, min: 1, taxonomy: true }",
            32,
            29,
            "field `participants` is a taxonomy, so its type must be string, enum, or a list of those",
        ),
        (
            "published: { type: date }",
            "published: { type: date, min: 1 }",
            33,
            37,
            "`min` and `max` apply to integer and number fields, not to `published`",
        ),
        (
            "participants: { type: integer, min: 1 }",
            "participants: { type: integer, min: 5, max: 2 }",
            32,
            51,
            "`max` of `participants` is below its `min`",
        ),
        ("sort_by: order", "sort_by: rank", 14, 14, "`sort_by: rank` names no field of collection `eras`"),
        (
            "description: key_finding",
            "description: gist",
            23,
            18,
            "`description: gist` names no field of collection `studies`",
        ),
        ("collection: studies", "collection: []", 6, 15, "citations name no collection: give one, or a list"),
        ("collection: studies", "collection: [studies, studies]", 6, 15, "citations name collection `studies` twice"),
        (
            "feed: { collections: [studies], limit: 3 }",
            "feed: { collections: [] }",
            11,
            7,
            "`feed.collections` must name at least one collection",
        ),
        (
            "design: { type: enum, values: [randomised controlled trial, crossover trial, review], taxonomy: true }",
            "design: { type: enum, taxonomy: true }",
            30,
            23,
            "an enum field needs `values`, a non-empty list of the allowed values",
        ),
        (
            "topics: { type: list, of: string, taxonomy: true }",
            "topics: { type: list, taxonomy: true }",
            31,
            23,
            "a list field needs `of`, the type of its items",
        ),
        (
            "related: { type: list, of: { type: reference, to: studies } }",
            "related: { type: list, of: { type: list, of: string } }",
            36,
            24,
            "lists of lists are not supported",
        ),
        (
            "era: { type: reference, to: eras, required: true }",
            "era: { type: reference, required: true }",
            29,
            20,
            "a reference field needs `to`, the collection it points into",
        ),
    ];
    for (from, to, line, col, message) in cases {
        let site = TestSite::fixture("basic");
        let config = std::fs::read_to_string(site.root.join("site.yaml")).unwrap();
        assert!(config.contains(from), "{from}");
        site.write("site.yaml", &config.replacen(from, to, 1));
        let errors = site.build_err();
        assert_eq!(errors.len(), 1, "{to}: {errors:#?}");
        assert_at(&errors[0], "site.yaml", *line, *col, message);
    }
}

#[test]
fn a_collection_name_must_be_an_id() {
    let site = TestSite::fixture("basic");
    let config = std::fs::read_to_string(site.root.join("site.yaml")).unwrap();
    site.write("site.yaml", &format!("{config}  Bad_Name:\n    fields: {{}}\n"));
    let errors = site.build_err();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_at(
        &errors[0],
        "site.yaml",
        0,
        0,
        "collection name `Bad_Name` must use lowercase letters, digits and hyphens only",
    );
}

#[test]
fn an_entry_in_a_subfolder_of_its_collection() {
    let d = only_error("entry-in-subfolder");
    assert_at(
        &d,
        "content/studies/old/epsilon-2015.md",
        0,
        0,
        "entries of `studies` must sit directly in content/studies/, not in a subfolder",
    );
}

#[test]
fn a_link_that_climbs_out_of_content() {
    let d = only_error("link-outside-content");
    assert_at(&d, "content/notes.md", 4, 5, "link `../../etc/passwd` points outside content/");
}

#[test]
fn an_integer_too_large_for_a_field() {
    let d = only_error("integer-too-large");
    assert_at(&d, "content/studies/epsilon-2015.md", 4, 7, "integer out of range");
}

/// A rebuild that reuses the last build's relations (the link did not
/// change) still quotes the line as the build read it now, not as before.
#[test]
fn a_rebuild_quotes_the_line_as_it_now_reads() {
    use annals::engine::{Change, Engine};
    let site = TestSite::with_error("missing-anchor");
    let mut engine = Engine::new(site.options.clone());
    engine.rebuild(&Change::Everything).expect_err("a missing anchor");
    let rel = "content/studies/epsilon-2015.md";
    let text = std::fs::read_to_string(site.root.join(rel)).unwrap();
    site.write(rel, &text.replace("(@/studies/beta-2005.md#methods).", "(@/studies/beta-2005.md#methods), reworded."));
    let mut errors = engine.rebuild(&Change::Paths(vec![rel.into()])).expect_err("still a missing anchor");
    errors.retain(Diagnostic::is_error);
    assert_at(&errors[0], rel, 8, 7, "has no heading or footnote `#methods`");
    let report = annals::diagnostics::report(Path::new("/nowhere"), &errors);
    assert!(report.contains("8 | As in [the method](@/studies/beta-2005.md#methods), reworded.\n"), "{report}");
}

#[test]
fn a_template_file_must_be_utf8() {
    let d = only_error("template-not-utf8");
    assert_at(&d, "templates/page.html", 0, 0, "template is not valid UTF-8");
}

/// A theme without the templates a page kind needs: each entry says which
/// templates it looked for, and each generated listing which one it needs.
#[test]
fn a_theme_missing_templates_names_what_each_page_needs() {
    let site = TestSite::with_error("bare-theme");
    let config = std::fs::read_to_string(site.root.join("site.yaml")).unwrap();
    site.write("site.yaml", &config.replace("theme: default", "theme: bare"));
    let errors = site.build_err();
    let entry = errors
        .iter()
        .find(|d| d.path == Path::new("content/studies/alpha-2000.md"))
        .unwrap_or_else(|| panic!("{errors:#?}"));
    assert_at(
        entry,
        "content/studies/alpha-2000.md",
        0,
        0,
        "no template for this page: expected one of studies/entry.html, entry.html",
    );
    let listing = errors.iter().find(|d| d.message.contains("taxonomy.html")).unwrap_or_else(|| panic!("{errors:#?}"));
    assert_at(listing, "templates", 0, 0, "template `taxonomy.html` not found in the theme or templates/");
}

/// Tera's error paths (rendering, syntax, checks after parsing) end at the
/// template's line, shown and underlined like any other, as the build read
/// it: the file changed on disk since is not what is quoted.
#[test]
fn template_errors_are_shown_at_their_line() {
    for (kind, line, shown) in [
        ("template-error", 4, "4 | {{ page.fields.missing.deeper }}\n  |                ^\n"),
        ("template-syntax", 3, "3 | <h1>{{ page.title }</h1>\n"),
        ("unknown-filter", 3, "3 | <h1>{{ page.title | shout }}</h1>\n"),
    ] {
        let site = TestSite::with_error(kind);
        let errors = site.build_err();
        assert_eq!((errors.len(), errors[0].line), (1, line), "{kind}: {errors:#?}");
        std::fs::write(site.root.join("templates/page.html"), "edited\nsince\nthe\nbuild\n").unwrap();
        let report = annals::diagnostics::report(&site.root, &errors);
        assert!(report.starts_with(&format!("templates/page.html:{line}:")), "{report}");
        assert!(report.contains(shown), "{kind}: {report}");
    }
}
