//! A build keeps the files of the last build whose inputs are unchanged
//! (`render::Keys`, `output::Sink::reuse`): after every kind of edit, its
//! output must be byte for byte what a fresh build writes, and it must
//! render only what the edit can change.

mod common;
use annals::engine::{Built, Options, build};
use common::{TestSite, snapshot};

/// Builds `site` into its output, and afresh into a folder of its own
/// (whose build has nothing to keep): both must hold the same bytes.
fn build_matching_fresh(site: &TestSite) -> Built {
    let built = build(&site.options).unwrap_or_else(|e| panic!("build failed: {e:?}"));
    let fresh = Options { output: "fresh".into(), fresh: true, ..site.options.clone() };
    let fresh_built = build(&fresh).expect("the fresh build succeeds");
    assert_eq!(fresh_built.kept, 0, "a fresh build keeps nothing");
    let (ours, theirs) = (snapshot(&site.out()), snapshot(&fresh.output_dir()));
    let paths = |s: &[(std::path::PathBuf, Vec<u8>)]| s.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(paths(&ours), paths(&theirs));
    for ((path, a), (_, b)) in ours.iter().zip(&theirs) {
        assert!(a == b, "{} differs from a fresh build's", path.display());
    }
    built
}

#[test]
fn a_build_with_nothing_changed_renders_nothing() {
    let site = TestSite::fixture("basic");
    let first = build_matching_fresh(&site);
    assert!(first.rendered > 10 && first.kept == 0, "rendered {}, kept {}", first.rendered, first.kept);
    for _ in 0..3 {
        let again = build_matching_fresh(&site);
        assert_eq!((again.rendered, again.kept), (0, first.rendered));
    }
    // `--fresh` renders everything again, and still writes the same bytes.
    let fresh = build(&Options { fresh: true, ..site.options.clone() }).unwrap();
    assert_eq!((fresh.rendered, fresh.kept), (first.rendered, 0));
    assert_eq!(build_matching_fresh(&site).rendered, 0);
}

#[test]
fn each_kind_of_edit_renders_what_shows_it_and_matches_a_fresh_build() {
    let site = TestSite::fixture("basic");
    let all = build_matching_fresh(&site).rendered;
    let study = "content/studies/alpha-2000.md";
    let text = std::fs::read_to_string(site.root.join(study)).unwrap();
    // Body text below the summary: the study's page and nothing that lists it.
    site.write(study, &format!("{text}\nA second paragraph, shown on its own page only.\n"));
    let prose = build_matching_fresh(&site);
    assert!(prose.rendered >= 1 && prose.rendered < all / 2, "a prose edit rendered {} of {all}", prose.rendered);
    site.contains("studies/alpha-2000/index.html", "A second paragraph");
    // A title: every page that shows it, but not the rest.
    site.write(study, &text.replace("title: Alpha trial", "title: Alpha trial, renamed"));
    let title = build_matching_fresh(&site);
    assert!(title.rendered > prose.rendered && title.kept > 0, "a title edit rendered {}", title.rendered);
    site.contains("eras/early/index.html", "Alpha trial, renamed");
    // An era's body that a study's card does not show.
    let era = "content/eras/early.md";
    let era_text = std::fs::read_to_string(site.root.join(era)).unwrap();
    site.write(era, &format!("{era_text}\nMore on the early years.\n"));
    build_matching_fresh(&site);
    // A template: everything.
    let section = std::fs::read_to_string(site.root.join("templates/section.html")).unwrap();
    site.write("templates/section.html", &section.replacen("<ul>", "<ul class=\"entries\">", 1));
    assert_eq!(build_matching_fresh(&site).rendered, all);
    // The configuration: everything.
    let config = std::fs::read_to_string(site.root.join("site.yaml")).unwrap();
    site.write("site.yaml", &config.replacen("title:", "title: Renamed", 1));
    assert_eq!(build_matching_fresh(&site).rendered, all);
    // A page added, then removed.
    site.write("content/studies/zeta-2020.md", &text.replace("Alpha", "Zeta").replace("2000", "2020"));
    build_matching_fresh(&site);
    site.remove("content/studies/zeta-2020.md");
    build_matching_fresh(&site);
    // Drafts shown, then hidden again (as `--drafts` gives).
    let mut drafts = TestSite::fixture("basic");
    build_matching_fresh(&drafts);
    drafts.options.drafts = true;
    build_matching_fresh(&drafts);
    drafts.contains("studies/delta-2012/index.html", "Delta");
    drafts.options.drafts = false;
    build_matching_fresh(&drafts);
    assert!(!drafts.exists("studies/delta-2012/index.html"));
    // Another base URL (as `--base-url` gives): every URL changes.
    let mut moved = TestSite::fixture("basic");
    build_matching_fresh(&moved);
    moved.options.base_url = Some("https://example.org/history/".into());
    assert_eq!(build_matching_fresh(&moved).kept, 0);
}

#[test]
fn an_output_changed_by_hand_is_written_again() {
    let site = TestSite::fixture("basic");
    build_matching_fresh(&site);
    build_matching_fresh(&site);
    // The same length, at once: within a tick of the file system's clock,
    // its stamp may not show the change, its bytes do.
    let page = site.out().join("studies/alpha-2000/index.html");
    let bytes = std::fs::read(&page).unwrap();
    let same_length = String::from_utf8(bytes.clone()).unwrap().replacen("Alpha", "Omega", 1);
    assert_eq!(same_length.len(), bytes.len());
    std::fs::write(&page, &same_length).unwrap();
    build_matching_fresh(&site);
    assert_eq!(std::fs::read(&page).unwrap(), bytes);
    // In the spare too (the output of the build before last), and removed.
    let spare = site.root.join(".public.annals/spare/studies/alpha-2000/index.html");
    std::fs::write(&spare, &same_length).unwrap();
    std::fs::remove_file(site.out().join("studies/beta-2005/index.html")).unwrap();
    build_matching_fresh(&site);
    build_matching_fresh(&site);
    // Without its state, a build keeps nothing and writes the same.
    std::fs::remove_dir_all(site.root.join(".public.annals")).unwrap();
    assert_eq!(build_matching_fresh(&site).kept, 0);
}

#[test]
fn a_term_page_follows_the_counts_of_the_other_terms() {
    let site = TestSite::fixture("basic");
    site.write(
        "templates/term.html",
        "<h1>{{ term.name }}</h1><ul>{% for t in taxonomy.terms %}<li>{{ t.name }}: {{ t.count }}</li>{% endfor %}</ul>",
    );
    let gamma = site.root.join("content/studies/gamma-2010.md");
    let text = std::fs::read_to_string(&gamma).unwrap();
    site.write("content/studies/gamma-2010.md", &text.replacen("title:", "topics: [memory]\ntitle:", 1));
    build_matching_fresh(&site);
    site.contains("topics/mood/index.html", "<li>memory: 1</li>");
    // Gamma moves to `sleep`: the page of `mood` lists neither, and shows both.
    site.write("content/studies/gamma-2010.md", &text.replacen("title:", "topics: [sleep]\ntitle:", 1));
    build_matching_fresh(&site);
    site.lacks("topics/mood/index.html", "memory").contains("topics/mood/index.html", "<li>sleep: 2</li>");
}

/// A file whose stamp (inode, size, modification and change times) is the
/// same as when the last build read it is not read again (`Built::unread`);
/// after any edit the output is still a fresh build's, bodies of unread
/// files that must be rendered again are read then, and a diagnostic
/// about an unread file still quotes its line.
#[test]
fn files_unchanged_since_the_last_build_are_not_read_again() {
    let site = TestSite::fixture("basic");
    let files = walkdir::WalkDir::new(site.root.join("content"))
        .into_iter()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "md"))
        .count();
    // A file changed within two seconds of a build is read by the next
    // one too (its stamp may not show a second change): let them settle.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(build_matching_fresh(&site).unread, 0, "the first build reads every file");
    assert_eq!(build_matching_fresh(&site).unread, files);
    // A title that the eras show: their pages are rendered again from
    // bodies read then, though their files were not read at load.
    let study = "content/studies/alpha-2000.md";
    let text = std::fs::read_to_string(site.root.join(study)).unwrap();
    site.write(study, &text.replace("title: Alpha trial", "title: Alpha trial, renamed"));
    let title = build_matching_fresh(&site);
    assert_eq!(title.unread, files - 1);
    site.contains("eras/early/index.html", "Alpha trial, renamed").contains("eras/early/index.html", "Beginnings");
    // Just changed, the study is read again by the next build too.
    assert_eq!(build_matching_fresh(&site).unread, files - 1);
    // An edit of the same length, its modification time put back: the
    // change time tells.
    let era = site.root.join("content/eras/early.md");
    let modified = std::fs::metadata(&era).unwrap().modified().unwrap();
    let era_text = std::fs::read_to_string(&era).unwrap();
    std::fs::write(&era, era_text.replace("Where it began.", "Where it began!")).unwrap();
    std::fs::File::options().write(true).open(&era).unwrap().set_modified(modified).unwrap();
    assert_eq!(build_matching_fresh(&site).unread, files - 2);
    site.contains("eras/early/index.html", "Where it began!");
    // A page gone: an unread page's link to it is an error, with its line
    // quoted (from the file, as the build would have read it).
    site.remove("content/studies/beta-2005.md");
    let errors = site.build_err();
    let about: Vec<_> = errors.iter().filter(|e| e.path.ends_with("about.md") && e.line > 0).collect();
    assert!(!about.is_empty(), "{errors:?}");
    let shown = annals::diagnostics::render(&site.root, &errors, annals::diagnostics::Style::PLAIN);
    assert!(shown.contains("Links to [Alpha](@/studies/alpha-2000.md) and to [a heading]"), "{shown}");
}
