//! Building a real fixture site and reading the HTML it produces.

mod common;
use common::{TestSite, snapshot};

#[test]
fn pretty_urls_for_every_kind_of_page() {
    let site = TestSite::fixture("basic");
    site.build_ok();
    for page in [
        "index.html",
        "about/index.html",
        "eras/index.html",
        "eras/early/index.html",
        "studies/index.html",
        "studies/alpha-2000/index.html",
        "design/index.html",
        "design/crossover-trial/index.html",
        "topics/mood/index.html",
        "404.html",
    ] {
        assert!(site.exists(page), "{page} missing");
    }
}

#[test]
fn references_link_both_ways() {
    let site = TestSite::fixture("basic");
    site.build_ok()
        // The study links to its era...
        .contains("studies/alpha-2000/index.html", r#"<a href="/eras/early/">The early era</a>"#)
        // ...and the era lists its studies, in sort order.
        .contains("eras/late/index.html", r#"<a href="/studies/beta-2005/">Beta crossover</a>"#)
        .contains("eras/late/index.html", r#"<a href="/studies/gamma-2010/">Gamma review</a>"#);
    let late = site.read("eras/late/index.html");
    assert!(late.find("beta-2005").unwrap() < late.find("gamma-2010").unwrap());
    // `related` shows on both ends, each page once and in the most specific
    // place: Beta cites Alpha, so Alpha is under Beta's references only.
    site.contains("studies/alpha-2000/index.html", "lists this study as related").contains(
        "studies/beta-2005/index.html",
        r#"<li><a href="/studies/alpha-2000/">Alpha et al., 2000</a>. Alpha trial</li>"#,
    );
    let beta = site.read("studies/beta-2005/index.html");
    let related = &beta[beta.find(r#"id="related-studies""#).unwrap()..beta.find(r#"id="references""#).unwrap()];
    assert!(related.contains("gamma-2010") && !related.contains("alpha-2000"), "{related}");
}

#[test]
fn citations_render_author_year_with_a_references_list() {
    let site = TestSite::fixture("basic");
    site.build_ok()
        .contains(
            "about/index.html",
            r#"(<a class="citation" href="/studies/alpha-2000/">Alpha et al., 2000</a>; <a class="citation" href="/studies/beta-2005/">Beta and Gamma, 2005</a>)"#,
        )
        .contains("about/index.html", r#"<h2 id="references">References</h2>"#)
        .contains("about/index.html", "<li><a href=\"/studies/gamma-2010/\">Gamma, 2010</a>. Gamma review</li>")
        // The cited page lists who cites it.
        .contains("studies/gamma-2010/index.html", r#"<a href="/about/">About the fixture</a>"#);
}

#[test]
fn internal_links_and_anchors_resolve() {
    TestSite::fixture("basic")
        .build_ok()
        .contains("about/index.html", r#"<a href="/studies/beta-2005/#method">a heading</a>"#)
        .contains("index.html", r#"<a href="/eras/early/#beginnings">the early era</a>"#)
        .contains(
            "studies/beta-2005/index.html",
            r##"<h2 id="method"><a class="anchor" href="#method" aria-label="Link to this section"></a>Method</h2>"##,
        );
}

/// `extra.timeline` of site.yaml: the home page draws each dated entry on a
/// year axis in the lane of its era, an entry dated only by a period at that
/// period (never after everything else), with the data as a table.
#[test]
fn the_default_theme_draws_a_timeline_from_extra_settings() {
    let site = TestSite::fixture("basic");
    let config = std::fs::read_to_string(site.root.join("site.yaml"))
        .unwrap()
        .replace("year: { type: integer, required: true }", "year: { type: integer }\n      period: { type: string }");
    site.write(
        "site.yaml",
        &format!(
            "{config}\nextra:\n  timeline:\n    collection: studies\n    year: year\n    period: period\n    colour: design\n    size: participants\n    bands: {{ collection: eras, field: era, start: start_year, end: end_year }}\n"
        ),
    )
    .write(
        "content/studies/delta-2000s.md",
        "---\ntitle: Delta practice\nauthors: [Delta]\nperiod: 2000s\nera: late\nkey_finding: Reported.\n---\nText.\n",
    );
    site.build_ok()
        .contains("index.html", r#"<svg class="chart-svg chart-wide""#)
        .contains("index.html", r#"<a href="/eras/early/">"#)
        .contains("index.html", r#"<a class="mark c"#)
        .contains("index.html", r#"aria-label="Beta and Gamma, 2005: crossover trial. Beta crossover""#)
        .contains("index.html", r#"<th scope="row"><a href="/studies/delta-2000s/">Delta practice</a>"#);
    let home = site.read("index.html");
    let table = &home[home.find("The timeline as a table").unwrap()..];
    let (delta, beta) = (table.find("delta-2000s").unwrap(), table.find("beta-2005").unwrap());
    assert!(delta < beta, "the 2000s entry comes before 2005 in the timeline's table");
    // Drawn as a bar across its decade, not a mark at one year.
    let mark = &home[home.find(r#"href="/studies/delta-2000s/""#).unwrap()..];
    assert!(mark[..mark.find("</a>").unwrap()].contains(r#"rx="4.5""#), "{}", &mark[..400]);
}

#[test]
fn taxonomies_list_terms_and_their_entries() {
    TestSite::fixture("basic")
        .build_ok()
        .contains("topics/index.html", r#"<a href="/topics/mood/">mood</a> <span class="count">2</span>"#)
        .contains("topics/mood/index.html", r#"<a href="/studies/alpha-2000/">Alpha trial</a>"#)
        .contains("topics/mood/index.html", r#"<a href="/studies/beta-2005/">Beta crossover</a>"#)
        .lacks("topics/mood/index.html", "gamma-2010")
        .contains("studies/alpha-2000/index.html", r#"<a href="/topics/sleep/">sleep</a>"#);
}

#[test]
fn previous_and_next_follow_the_sort_key() {
    TestSite::fixture("basic")
        .build_ok()
        .contains("studies/beta-2005/index.html", r#"<a class="prev" rel="prev" href="/studies/alpha-2000/">"#)
        .contains("studies/beta-2005/index.html", r#"<a class="next" rel="next" href="/studies/gamma-2010/">"#)
        .lacks("studies/alpha-2000/index.html", r#"rel="prev""#);
}

#[test]
fn drafts_only_with_the_drafts_option() {
    let mut site = TestSite::fixture("basic");
    site.build_ok();
    assert!(!site.exists("studies/delta-2012/index.html"));
    site.options.drafts = true;
    site.build_ok();
    assert!(site.exists("studies/delta-2012/index.html"));
}

#[test]
fn base_url_with_a_sub_path_prefixes_every_internal_url() {
    let mut site = TestSite::fixture("basic");
    site.options.base_url = Some("https://example.org/annals/".into());
    site.build_ok()
        .contains("about/index.html", r#"href="https://example.org/annals/studies/beta-2005/#method""#)
        .contains("about/index.html", r#"href="https://example.org/annals/style.css""#)
        .contains("studies/alpha-2000/index.html", r#"href="https://example.org/annals/eras/early/""#)
        .contains("topics/index.html", r#"href="https://example.org/annals/topics/mood/""#);
    for (path, bytes) in snapshot(&site.out()) {
        let text = String::from_utf8_lossy(&bytes);
        for quote in ["href=\"/", "src=\"/"] {
            assert!(!text.contains(quote), "{} has a root-relative URL", path.display());
        }
    }
}

#[test]
fn site_files_override_theme_files() {
    TestSite::fixture("basic")
        .build_ok()
        .contains("studies/index.html", "site override of section.html")
        .contains("extra.css", "/* extra */")
        .contains("style.css", ".hl-comment")
        .contains("studies/figure.txt", "figure");
}

#[test]
fn front_matter_is_escaped_and_markdown_is_rendered() {
    let site = TestSite::fixture("basic");
    site.build_ok()
        .contains("studies/alpha-2000/index.html", "Alpha worked &lt;script&gt;alert(1)&lt;/script&gt;")
        .lacks("studies/alpha-2000/index.html", "<script>alert(1)");
    // A `text` field is Markdown, rendered once and marked safe.
    site.write("templates/studies/entry.html", "{{ page.fields.note }}|{{ page.fields.key_finding }}");
    site.build_ok()
        .contains("studies/alpha-2000/index.html", "<p>A <em>short</em> note.</p>\n|Alpha worked &lt;script&gt;");
}

#[test]
fn code_is_highlighted_and_unknown_languages_are_escaped() {
    TestSite::fixture("basic")
        .build_ok()
        .contains(
            "about/index.html",
            r#"<pre class="code" data-lang="rust"><code class="language-rust"><span class="hl-source hl-rust">"#,
        )
        .contains("about/index.html", "&lt;b&gt;not bold&lt;/b&gt;")
        .contains("about/index.html", r##"<sup class="footnote-reference"><a href="#1">1</a></sup>"##);
}

#[test]
fn pages_expose_toc_and_summary() {
    let site = TestSite::fixture("basic");
    site.write("templates/page.html", "{% extends \"base.html\" %}{% block main %}{% for h in page.toc %}[{{ h.level }}:{{ h.id }}:{{ h.title }}]{% endfor %}|{{ page.summary }}|{% endblock main %}");
    site.build_ok().contains("about/index.html", "[1:about:About]|<p>Links to");
}

#[test]
fn two_builds_are_byte_identical() {
    let a = TestSite::fixture("basic");
    let b = TestSite::fixture("basic");
    a.build_ok();
    b.build_ok();
    assert_eq!(snapshot(&a.out()), snapshot(&b.out()));
    let again = snapshot(&a.out());
    a.build_ok();
    assert_eq!(again, snapshot(&a.out()));
}

#[test]
fn a_streamed_build_writes_what_the_preview_engine_keeps() {
    // `build` renders each body when its page is written and keeps nothing;
    // the preview engine keeps every output: both must give the same bytes.
    let site = TestSite::fixture("basic");
    let same = |site: &TestSite| {
        site.build_ok();
        let kept = annals::engine::generate(&site.options).expect("generates");
        let written: std::collections::BTreeMap<String, Vec<u8>> =
            snapshot(&site.out()).into_iter().map(|(p, b)| (p.to_string_lossy().replace('\\', "/"), b)).collect();
        // Every file is a rendered output (sitemap, feed, data files included), a
        // copy, or the mark that annals made the folder.
        assert!(written.contains_key(annals::output::MARKER));
        assert_eq!(written.len(), kept.outputs.len() + kept.copies.len() + 1);
        for o in &kept.outputs {
            let bytes = written.get(&*o.path).unwrap_or_else(|| panic!("{} not written by build", o.path));
            assert!(*bytes == *o.bytes.get().unwrap(), "{} differs between build and the preview engine", o.path);
        }
        written
    };
    assert!(same(&site).contains_key("data/studies.json"));
    // Blank outputs are left out by both: an empty data file, a file of
    // `files/` that renders only white space.
    site.write("templates/data/collection.json", "").write("templates/files/robots.txt", "{# none #}\n \n");
    let written = same(&site);
    assert!(!written.contains_key("data/studies.json") && !written.contains_key("robots.txt"), "{:?}", written.keys());
}

#[test]
fn a_failed_build_leaves_the_previous_output_untouched() {
    let site = TestSite::fixture("basic");
    site.build_ok();
    let before = snapshot(&site.out());
    site.write("content/studies/alpha-2000.md", "---\ntitle: [broken\n---\n");
    site.build_err();
    assert_eq!(before, snapshot(&site.out()));
    // Beside the output, only the state of the first build: no half-made spare.
    assert_eq!(common::beside_output(&site), [".public.annals"]);
    assert!(!site.root.join(".public.annals/spare").exists());
}

#[test]
fn files_no_longer_produced_do_not_linger() {
    let site = TestSite::fixture("basic");
    site.build_ok();
    assert!(site.exists("studies/gamma-2010/index.html"));
    site.remove("content/studies/gamma-2010.md");
    site.write("content/about.md", "No citations any more.\n");
    site.build_ok();
    assert!(!site.exists("studies/gamma-2010/index.html"));
    assert!(!site.exists("design/review/index.html"));
}

#[test]
fn a_site_without_the_theme_folder_uses_the_built_in_default_theme() {
    let site = TestSite::fixture("basic");
    assert!(!site.root.join("themes").exists());
    site.build_ok().contains("index.html", "<link rel=\"stylesheet\" href=\"/style.css\">");
}

#[test]
fn plain_pages_take_their_title_from_the_first_heading() {
    let site = TestSite::fixture("basic");
    site.write("content/notes/untitled.md", "# A heading title\n\nText.\n");
    site.build_ok().contains("notes/untitled/index.html", "<title>A heading title · Fixture history</title>");
}

/// Whether a build's errors say that the fixture's `gamma-2010.md` changed during it.
fn says_gamma_changed(errors: &[annals::diagnostics::Diagnostic]) -> bool {
    errors
        .iter()
        .any(|e| e.path.ends_with("gamma-2010.md") && e.message.contains("changed while the site was being built"))
}

/// A file edited while a build runs: the build, which reads each page's text
/// again when it writes the page, fails rather than publish either version.
#[test]
fn a_file_changed_during_a_build_fails_it() {
    use annals::engine::Engine;
    use annals::output::Sink;
    use std::sync::Once;
    struct EditOnFirstWrite {
        file: std::path::PathBuf,
        once: Once,
    }
    impl Sink for EditOnFirstWrite {
        fn create_folders(&self, _: &mut dyn Iterator<Item = &str>) -> std::io::Result<()> {
            Ok(())
        }
        fn write(&self, _: &str, _: &[u8]) -> std::io::Result<()> {
            self.once.call_once(|| {
                let text = std::fs::read_to_string(&self.file).unwrap();
                std::fs::write(&self.file, text.replace("A review of", "A new review of")).unwrap();
            });
            Ok(())
        }
    }
    let site = TestSite::fixture("basic");
    let sink = EditOnFirstWrite { file: site.root.join("content/studies/gamma-2010.md"), once: Once::new() };
    // However little text the site has, it is not held.
    let options = annals::engine::Options { hold_text_up_to: 0, ..site.options.clone() };
    let errors = Engine::new(options).build_into(&sink).expect_err("the build must fail");
    assert!(says_gamma_changed(&errors), "{errors:?}");
}

/// A large site's bodies are not all held from the load stage on: the
/// markdown stage reads each again, so that a file changed in between fails
/// the build even if it is put back before its page is written (where the
/// text is held, the build never reads it again, and rightly succeeds).
#[test]
fn a_large_sites_bodies_are_read_again_after_the_load_stage() {
    use annals::engine::Engine;
    use annals::output::Sink;
    struct EditAfterLoad {
        file: std::path::PathBuf,
        first: String,
    }
    impl Sink for EditAfterLoad {
        fn create_folders(&self, _: &mut dyn Iterator<Item = &str>) -> std::io::Result<()> {
            Ok(())
        }
        fn write(&self, _: &str, _: &[u8]) -> std::io::Result<()> {
            Ok(())
        }
        fn keeps_keys(&self) -> bool {
            true
        }
        // Asked for the Markdown facts the last build kept: between the
        // load stage and the markdown stage.
        fn recall(&self, name: &str) -> Option<Vec<u8>> {
            if name == annals::site::FACTS {
                std::fs::write(&self.file, self.first.replace("A review of", "A new review of")).unwrap();
            }
            None
        }
        // Given them to keep: right after the markdown stage.
        fn keep(&self, name: &str, _: &mut annals::output::Fill) {
            if name == annals::site::FACTS {
                std::fs::write(&self.file, &self.first).unwrap();
            }
        }
    }
    let site = TestSite::fixture("basic");
    let file = site.root.join("content/studies/gamma-2010.md");
    let first = std::fs::read_to_string(&file).unwrap();
    let build = |hold_text_up_to| {
        let sink = EditAfterLoad { file: file.clone(), first: first.clone() };
        let options = annals::engine::Options { hold_text_up_to, ..site.options.clone() };
        Engine::new(options).build_into(&sink)
    };
    build(annals::engine::HOLD_TEXT_UP_TO).expect("a small site's text is held: the edit is never read");
    let errors = build(0).expect_err("the build must fail");
    assert!(says_gamma_changed(&errors), "{errors:?}");
}

/// The outputs other than pages (data files, term pages, the files of
/// `files/`) are written as they are rendered (see `Sink::write_streamed`):
/// a template's error is still an error at its line, by `build` and by
/// `check`, and leaves the last output as it was.
#[test]
fn a_streamed_outputs_template_error_is_reported_at_its_line() {
    let site = TestSite::fixture("basic");
    site.build_ok();
    let before = snapshot(&site.out());
    assert!(site.read("data/studies.json").contains("\"entries\""));
    let broken = [
        (
            "templates/data/collection.json",
            "{\"collection\": {{ collection.name | json }},\n \"n\": {{ collection.missing.deeper }}}\n",
        ),
        ("templates/term.html", "<p>{{ term.name }}</p>\n<p>{{ term.missing.deeper }}</p>\n"),
        ("templates/files/robots.txt", "User-agent: *\n{{ site.missing.deeper }}\n"),
    ];
    for (template, text) in broken {
        site.write(template, text);
        for errors in [site.build_err(), annals::engine::check(&site.options).expect_err("check must fail")] {
            assert!(
                errors.iter().all(|e| e.path == std::path::Path::new(template) && e.line == 2),
                "{template}: {errors:#?}"
            );
            assert!(errors[0].message.starts_with("template error"), "{errors:#?}");
        }
        site.remove(template);
    }
    assert_eq!(snapshot(&site.out()), before);
}
