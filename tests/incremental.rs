//! A long-lived engine, fed a sequence of edits, additions, renames and
//! deletions, must produce exactly what a fresh full build produces, while
//! rendering only what each change can affect.

mod common;
use annals::engine::{Built, Change, Engine, generate};
use common::TestSite;
use std::borrow::Cow;
use std::path::PathBuf;

struct Session {
    site: TestSite,
    engine: Engine,
    total: usize,
}

impl Session {
    fn start() -> Session {
        Session::holding_text_up_to(annals::engine::HOLD_TEXT_UP_TO)
    }

    /// With `0`, the engine holds no body's text between builds, as for a
    /// large site: each is read again when a page must be rendered again.
    fn holding_text_up_to(bytes: usize) -> Session {
        let site = TestSite::fixture("basic");
        let mut engine = Engine::new(annals::engine::Options { hold_text_up_to: bytes, ..site.options.clone() });
        let built = engine.rebuild(&Change::Everything).expect("first build");
        // And keeps its outputs in a spill file rather than in memory.
        let on_disk = built.outputs.iter().filter(|o| format!("{:?}", o.bytes).ends_with("gzip-packed on disk"));
        assert_eq!(on_disk.count() > 0, bytes == 0 && cfg!(unix));
        let total = built.outputs.iter().filter(|o| !is_index(&o.path)).count();
        Session { total, site, engine }
    }

    /// Rebuilds after `paths` changed and checks the result against a full build.
    fn rebuild(&mut self, paths: &[&str]) -> Built {
        let change = Change::Paths(paths.iter().map(PathBuf::from).collect());
        let incremental = self.engine.rebuild(&change);
        let full = generate(&self.site.options);
        match (incremental, full) {
            (Ok(inc), Ok(full)) => {
                let a: Vec<(&str, Cow<[u8]>)> =
                    inc.outputs.iter().map(|o| (&*o.path, o.bytes.get().unwrap())).collect();
                let b: Vec<(&str, Cow<[u8]>)> =
                    full.outputs.iter().map(|o| (&*o.path, o.bytes.get().unwrap())).collect();
                for ((pa, ba), (pb, bb)) in a.iter().zip(&b) {
                    assert_eq!(pa, pb);
                    assert!(ba == bb, "{pa} differs from a full build after {paths:?}");
                }
                assert_eq!(a.len(), b.len(), "after {paths:?}");
                let copies = |b: &Built| b.copies.iter().map(|c| c.path.clone()).collect::<Vec<_>>();
                assert_eq!(copies(&inc), copies(&full));
                inc
            }
            (Err(a), Err(b)) => {
                assert_eq!(a, b, "incremental and full builds report different errors after {paths:?}");
                panic!("build failed after {paths:?}: {a:?}");
            }
            (a, b) => panic!("after {paths:?}: incremental {:?}, full {:?}", a.err(), b.err()),
        }
    }

    fn rebuild_err(&mut self, paths: &[&str]) -> Vec<annals::diagnostics::Diagnostic> {
        let change = Change::Paths(paths.iter().map(PathBuf::from).collect());
        let incremental = self.engine.rebuild(&change).expect_err("expected errors");
        let full = generate(&self.site.options).expect_err("expected errors");
        assert_eq!(incremental, full);
        incremental
    }

    fn edit(&self, rel: &str, from: &str, to: &str) {
        let path = self.site.root.join(rel);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{rel} lacks {from:?}");
        std::fs::write(path, text.replacen(from, to, 1)).unwrap();
    }
}

/// A file of the search index (not a rendered output).
fn is_index(path: &str) -> bool {
    path.starts_with("search/") && path.ends_with(".js")
}

fn pages(changed: &[String]) -> Vec<&str> {
    changed.iter().map(String::as_str).filter(|p| !is_index(p)).collect()
}

fn search(changed: &[String]) -> Vec<&str> {
    changed.iter().map(String::as_str).filter(|p| is_index(p)).collect()
}

#[test]
fn a_body_edit_re_renders_only_that_page() {
    let mut s = Session::start();
    s.edit("content/studies/gamma-2010.md", "A review of", "A careful review of");
    let built = s.rebuild(&["content/studies/gamma-2010.md"]);
    assert_eq!(built.markdown_rendered, 1);
    assert_eq!(pages(&built.changed), ["studies/gamma-2010/index.html"]);
    // The search index: the chunk of the page's document (the ninth, in
    // chunks of four), and the shard of the new word.
    assert_eq!(search(&built.changed), ["search/d/2.js", "search/t/car.js"]);
    // Re-rendered: the page, and the pages that list, cite or reference it
    // (its era, the study relating to it, its term, its section, home...),
    // and the files that list every study: its data file and the
    // bibliography in two formats.
    assert!(built.rendered <= 12, "rendered {} of {}", built.rendered, s.total);
}

#[test]
fn an_edit_below_the_summary_re_renders_the_page_alone() {
    let mut s = Session::start();
    s.edit("content/studies/beta-2005.md", "Crossover.", "Crossover, twice.");
    let built = s.rebuild(&["content/studies/beta-2005.md"]);
    assert_eq!(pages(&built.changed), ["studies/beta-2005/index.html"]);
    assert_eq!(built.rendered, 1, "only the page itself: its card did not change");
}

#[test]
fn an_edit_with_no_new_word_changes_the_page_and_its_index_alone() {
    let mut s = Session::start();
    // The same pages, cards and index files: only the page's own output and
    // the index files holding its words and text are made again.
    s.edit("content/studies/beta-2005.md", "Crossover.", "Crossover. Crossover.");
    let built = s.rebuild(&["content/studies/beta-2005.md"]);
    assert_eq!(pages(&built.changed), ["studies/beta-2005/index.html"]);
    assert_eq!(search(&built.changed), ["search/d/1.js", "search/t/cro.js"]);
    assert!(built.removed.is_empty());
    assert_eq!(built.rendered, 1);
    // And again, from that build.
    s.edit("content/studies/beta-2005.md", "Crossover. Crossover.", "Crossover.");
    let built = s.rebuild(&["content/studies/beta-2005.md"]);
    assert_eq!(pages(&built.changed), ["studies/beta-2005/index.html"]);
}

#[test]
fn a_title_edit_reaches_every_page_that_lists_it() {
    let mut s = Session::start();
    s.edit("content/studies/alpha-2000.md", "title: Alpha trial", "title: Alpha randomised trial");
    let built = s.rebuild(&["content/studies/alpha-2000.md"]);
    for page in
        ["studies/alpha-2000/index.html", "eras/early/index.html", "topics/mood/index.html", "studies/index.html"]
    {
        assert!(built.changed.iter().any(|c| c == page), "{page} not re-rendered: {:?}", built.changed);
    }
    assert!(built.rendered < s.total, "everything was rendered");
}

#[test]
fn a_sequence_of_edits_additions_renames_and_deletions_matches_full_builds() {
    for hold in [annals::engine::HOLD_TEXT_UP_TO, 0] {
        edits_additions_renames_and_deletions(Session::holding_text_up_to(hold));
    }
}

fn edits_additions_renames_and_deletions(mut s: Session) {
    // Citation label change: every page that cites Beta changes.
    s.edit("content/studies/beta-2005.md", "authors: [Beta, Gamma]", "authors: [Beta]");
    let built = s.rebuild(&["content/studies/beta-2005.md"]);
    assert!(built.changed.iter().any(|c| c == "about/index.html"), "{:?}", built.changed);

    // A new study that cites another and joins a taxonomy term.
    s.site.write(
        "content/studies/epsilon-2015.md",
        "---\ntitle: Epsilon\nauthors: [Eps]\nyear: 2015\nera: late\ntopics: [sleep]\nkey_finding: New.\n---\nAfter [@alpha-2000].\n",
    );
    s.rebuild(&["content/studies/epsilon-2015.md"]);

    // A rename breaks the links to the old name: both engines say so.
    std::fs::rename(s.site.root.join("content/studies/beta-2005.md"), s.site.root.join("content/studies/beta-2006.md"))
        .unwrap();
    let errors = s.rebuild_err(&["content/studies/beta-2005.md", "content/studies/beta-2006.md"]);
    assert!(errors.iter().any(|e| e.message.contains("@/studies/beta-2005.md")), "{errors:?}");
    // Renamed back: all is well again.
    std::fs::rename(s.site.root.join("content/studies/beta-2006.md"), s.site.root.join("content/studies/beta-2005.md"))
        .unwrap();
    s.rebuild(&["content/studies/beta-2005.md", "content/studies/beta-2006.md"]);

    // A deletion, with the citation to it removed.
    s.site.remove("content/studies/gamma-2010.md");
    s.edit("content/about.md", " and [@gamma-2010]", "");
    let built = s.rebuild(&["content/studies/gamma-2010.md", "content/about.md"]);
    assert!(built.removed.iter().any(|r| r == "studies/gamma-2010/index.html"));
    assert!(built.removed.iter().any(|r| r == "design/review/index.html"));

    // Sort order changes move previous/next.
    s.edit("content/studies/alpha-2000.md", "year: 2000", "year: 2020");
    s.rebuild(&["content/studies/alpha-2000.md"]);

    // A draft appears, a folder of pages appears, an asset appears.
    s.site.write("content/notes/one.md", "# One\n\nSee [Alpha](@/studies/alpha-2000.md).\n");
    s.site.write("content/notes/pic.txt", "picture");
    s.rebuild(&["content/notes"]);
    s.site.write(
        "content/studies/zeta-2021.md",
        "---\ntitle: Z\nauthors: [Z]\nyear: 2021\nera: late\nkey_finding: z\ndraft: true\n---\n",
    );
    s.rebuild(&["content/studies/zeta-2021.md"]);
}

#[test]
fn a_body_not_held_is_read_again_and_must_be_the_text_read_first() {
    let mut s = Session::holding_text_up_to(0);
    // A template for every study: each study page is rendered again, each
    // from its file read again.
    let entry = "templates/studies/entry.html";
    s.site.write(entry, "<!doctype html><title>{{ page.title }}</title>{{ page.content | safe }}");
    let built = s.rebuild(&[entry]);
    assert!(built.changed.iter().any(|c| c == "studies/gamma-2010/index.html"), "{:?}", built.changed);
    // A file changed without the engine being told (its watcher's event
    // still to come): the page is not rendered from half of the change.
    s.edit("content/studies/gamma-2010.md", "A review of", "A new review of");
    s.site.write(entry, "<!doctype html><title>{{ page.title }}</title><main>{{ page.content | safe }}</main>");
    let errors = s.engine.rebuild(&Change::Paths(vec![PathBuf::from(entry)])).unwrap_err();
    let changed = |e: &&annals::diagnostics::Diagnostic| {
        e.path.ends_with("gamma-2010.md") && e.message.contains("changed while the site was being built")
    };
    assert_eq!(errors.iter().filter(changed).count(), 1, "{errors:?}");
    // Then told: the new text, as a full build has it.
    let built = s.rebuild(&["content/studies/gamma-2010.md"]);
    let page = built.outputs.iter().find(|o| &*o.path == "studies/gamma-2010/index.html").unwrap();
    assert!(String::from_utf8_lossy(&page.bytes.get().unwrap()).contains("A new review of"));
}

#[test]
fn a_body_that_could_not_be_read_again_is_read_once_more_by_the_next_build() {
    let mut s = Session::holding_text_up_to(0);
    let entry = "templates/studies/entry.html";
    let page = |title: &str| format!("<!doctype html><title>{title}</title>{{{{ page.content | safe }}}}");
    // Changed on disk and put back before the engine is told (an editor's
    // save undone): the build in between fails, the next one must not.
    s.edit("content/studies/gamma-2010.md", "A review of", "A new review of");
    s.site.write(entry, &page("one"));
    assert!(s.engine.rebuild(&Change::Paths(vec![PathBuf::from(entry)])).is_err());
    s.edit("content/studies/gamma-2010.md", "A new review of", "A review of");
    s.site.write(entry, &page("two"));
    let built = s.rebuild(&[entry]);
    assert!(built.changed.iter().any(|c| c == "studies/gamma-2010/index.html"), "{:?}", built.changed);
}

#[test]
fn a_template_change_re_renders_the_pages_that_use_it() {
    let mut s = Session::start();
    s.edit("templates/section.html", "site override of section.html", "changed override");
    let built = s.rebuild(&["templates/section.html"]);
    assert_eq!(built.rendered, 2, "only the two collection sections use section.html: {:?}", built.changed);
    s.site.write("templates/partials/toc.html", "<nav>toc</nav>");
    let built = s.rebuild(&["templates/partials/toc.html"]);
    assert!(built.changed.iter().any(|c| c == "about/index.html"));
    assert!(!built.changed.iter().any(|c| c.starts_with("topics/")), "{:?}", built.changed);
}

#[test]
fn a_configuration_change_rebuilds_everything() {
    let mut s = Session::start();
    s.edit("site.yaml", "title: Fixture history", "title: Renamed history");
    let built = s.rebuild(&["site.yaml"]);
    assert_eq!(built.rendered, s.total);
}

#[test]
fn a_broken_edit_then_its_fix_recovers() {
    let mut s = Session::start();
    s.edit("content/studies/beta-2005.md", "era: late", "era: lat");
    let errors = s.rebuild_err(&["content/studies/beta-2005.md"]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    s.edit("content/studies/beta-2005.md", "era: lat", "era: early");
    let built = s.rebuild(&["content/studies/beta-2005.md"]);
    assert!(built.changed.iter().any(|c| c == "eras/early/index.html"));
    assert!(built.changed.iter().any(|c| c == "eras/late/index.html"));
}

#[test]
fn relations_are_worked_out_again_only_when_they_change() {
    let mut s = Session::start();
    // A heading renamed: the anchor that named it breaks, in both engines.
    s.edit("content/studies/beta-2005.md", "## Method", "## Methods");
    let errors = s.rebuild_err(&["content/studies/beta-2005.md"]);
    assert!(errors.iter().any(|e| e.message.contains("#method")), "{errors:?}");
    // Prose added above the broken link moves the error with it.
    s.edit("content/about.md", "# About\n", "# About\n\nA new paragraph.\n");
    let moved = s.rebuild_err(&["content/about.md"]);
    assert_eq!(moved[0].line, errors[0].line + 2, "{moved:?}");
    // Fixed from the other side: the link now names the new heading.
    s.edit("content/about.md", "#method)", "#methods)");
    s.rebuild(&["content/about.md"]);
    // Prose edits elsewhere keep the relations; a new link adds a backlink.
    s.edit("content/studies/gamma-2010.md", "A review of", "After [Alpha](@/studies/alpha-2000.md), a review of");
    let built = s.rebuild(&["content/studies/gamma-2010.md"]);
    assert!(built.changed.iter().any(|c| c == "studies/alpha-2000/index.html"), "{:?}", built.changed);
}

#[test]
fn an_error_of_which_pages_there_are_stays_until_fixed() {
    let mut s = Session::start();
    // `content/studies.md` would be written where the studies section is.
    std::fs::write(s.site.root.join("content/studies.md"), "---\ntitle: Studies again\n---\nText.\n").unwrap();
    let errors = s.rebuild_err(&["content/studies.md"]);
    assert!(errors.iter().any(|e| e.message.contains("is also the URL of")), "{errors:?}");
    // An edit elsewhere leaves the same pages: the error is still there.
    s.edit("content/studies/gamma-2010.md", "A review of", "A longer review of");
    assert_eq!(s.rebuild_err(&["content/studies/gamma-2010.md"]), errors);
    std::fs::remove_file(s.site.root.join("content/studies.md")).unwrap();
    s.rebuild(&["content/studies.md"]);
}

/// A term's page shows its whole taxonomy (`taxonomy.terms`): when another
/// term gains or loses a page, it is rendered again.
#[test]
fn a_term_page_that_shows_every_term_follows_the_other_terms() {
    let mut s = Session::start();
    s.site.write(
        "templates/term.html",
        "<h1>{{ term.name }}</h1><ul>{% for t in taxonomy.terms %}<li>{{ t.name }}: {{ t.count }}</li>{% endfor %}</ul>",
    );
    s.rebuild(&["templates/term.html"]);
    // Gamma moves from `memory` to `sleep`: the page of `mood`, which lists
    // neither gamma nor anything that changed, shows both counts.
    s.edit("content/studies/gamma-2010.md", "title:", "topics: [memory]\ntitle:");
    s.rebuild(&["content/studies/gamma-2010.md"]);
    s.edit("content/studies/gamma-2010.md", "topics: [memory]", "topics: [sleep]");
    let built = s.rebuild(&["content/studies/gamma-2010.md"]);
    assert!(built.changed.iter().any(|c| c == "topics/mood/index.html"), "{:?}", built.changed);
}
