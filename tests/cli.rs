//! The `annals` binary: what a user sees on stdout and stderr, and exit codes.

mod common;
use common::TestSite;
use std::process::Command;

fn annals(site: &TestSite, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_annals")).arg("--root").arg(&site.root).args(args).output().unwrap()
}

#[test]
fn build_ends_with_one_line_of_pages_and_time() {
    let site = TestSite::fixture("basic");
    let out = annals(&site, &["build", "--base-url", "https://example.org/"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    // Every file but the mark that annals made the folder.
    let files = common::snapshot(&site.root.join("public")).len() - 1;
    assert!(stdout.starts_with(&format!("Built 9 pages ({files} files) into ")), "{stdout}");
    assert!(stdout.trim_end().ends_with(" ms"), "{stdout}");
    assert!(out.stderr.is_empty());
    assert!(site.root.join("public/index.html").is_file());
}

#[test]
fn a_relative_base_url_is_one_warning() {
    let site = TestSite::fixture("basic");
    let out = annals(&site, &["build"]);
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("site.yaml: warning: base_url `/` is not absolute, so sitemap.xml, atom.xml"),
        "{stderr}"
    );
    assert!(stderr.ends_with("\n1 warning\n"), "{stderr}");
    // Only what is published needs absolute URLs: `check` does not warn.
    assert!(annals(&site, &["check", "--deny-warnings"]).status.success());
}

#[test]
fn errors_go_to_stderr_as_path_line_col_with_a_count() {
    let site = TestSite::with_error("broken-link");
    std::fs::copy(
        common::fixtures().join("errors/unknown-field/content/studies/epsilon-2015.md"),
        site.root.join("content/studies/zeta-2016.md"),
    )
    .unwrap();
    let out = annals(&site, &["build"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(
            "content/studies/epsilon-2015.md:8:5: error: broken link: no page at `@/studies/gamma-2011.md`\n"
        ),
        "{stderr}"
    );
    let underline = "^".repeat("[the review](@/studies/gamma-2011.md)".len());
    assert!(
        stderr.contains(&format!("8 | See [the review](@/studies/gamma-2011.md) for more.\n  |     {underline}\n")),
        "{stderr}"
    );
    assert!(stderr.contains("content/studies/zeta-2016.md:4:1: error: unknown field `yaer`"), "{stderr}");
    assert!(stderr.contains("  = help: did you mean `year`?\n"), "{stderr}");
    // The new study is linked from nowhere: a warning, counted apart.
    assert!(stderr.contains("content/studies/epsilon-2015.md: warning: orphan"), "{stderr}");
    assert!(stderr.ends_with("2 errors, 1 warning\n"), "{stderr}");
    assert!(!site.root.join("public").exists());
}

#[test]
fn check_validates_without_writing() {
    let site = TestSite::fixture("basic");
    let out = annals(&site, &["check"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!site.root.join("public").exists());
    let site = TestSite::with_error("missing-anchor");
    assert_eq!(annals(&site, &["check"]).status.code(), Some(1));
}

#[test]
fn timings_list_every_stage() {
    let site = TestSite::fixture("basic");
    let out = annals(&site, &["build", "--timings"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    for stage in ["load", "pages", "markdown", "link", "render", "search", "write"] {
        assert!(stdout.lines().any(|l| l.trim_start().starts_with(stage)), "{stage} missing in\n{stdout}");
    }
}

#[test]
fn a_missing_site_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_annals")).arg("--root").arg(dir.path()).arg("build").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("site.yaml: error: cannot read the site configuration in "), "{stderr}");
    // The folder is named, and the way out is shown.
    assert!(stderr.contains(&dir.path().display().to_string()), "{stderr}");
    assert!(stderr.contains("`annals init` starts a new site"), "{stderr}");
}

#[test]
fn an_output_folder_that_would_replace_the_site_is_refused() {
    let site = TestSite::fixture("basic");
    for bad in [".", "content"] {
        let out = annals(&site, &["build", "-o", bad]);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        // The location is the folder as given, never empty.
        assert!(stderr.starts_with(&format!("{bad}: error: the output folder")), "{bad}: {stderr}");
    }
    assert!(site.root.join("site.yaml").is_file() && site.root.join("content/about.md").is_file());
}

#[test]
fn serve_outside_a_site_says_so_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_annals"))
        .arg("--root")
        .arg(dir.path())
        .args(["serve", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("holds no site.yaml") && stderr.contains(&dir.path().display().to_string()), "{stderr}");
}

#[test]
fn serve_offers_no_options_it_would_ignore() {
    let site = TestSite::fixture("basic");
    for args in [["serve", "-o", "elsewhere"], ["serve", "--base-url", "/x/"]] {
        let out = annals(&site, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("unexpected argument"), "{args:?}");
    }
}

/// Runs annals in `dir`, as a contributor would from the site's folder.
fn annals_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_annals")).current_dir(dir).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn init_writes_a_site_that_builds_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("history");
    let out = annals_in(dir.path(), &["init", "history"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("Created a new site in history: site.yaml, content/_index.md"));
    let out = annals_in(&site, &["build"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The one warning: set an absolute base_url before publishing.
    assert!(text(&out.stderr).starts_with("site.yaml: warning: base_url `/` is not absolute"), "{}", text(&out.stderr));
    assert!(text(&out.stderr).ends_with("\n1 warning\n"), "{}", text(&out.stderr));
    assert!(site.join("public/papers/example-2024/index.html").is_file());
    assert!(annals_in(&site, &["check", "--deny-warnings"]).status.success());
    // A second init would write over the site: refused, nothing touched.
    let before = common::snapshot(&site);
    let out = annals_in(&site, &["init"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("is not empty"), "{}", text(&out.stderr));
    assert_eq!(common::snapshot(&site), before);
}

#[test]
fn new_writes_every_field_and_check_lists_exactly_the_required_ones_left() {
    let site = TestSite::fixture("every-type");
    let out = annals_in(&site.root, &["new", "things", "lamp", "--title", "A \"brass\" lamp"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Wrote content/things/lamp.md: fill in the fields, then run `annals check`\n");
    let written = std::fs::read_to_string(site.root.join("content/things/lamp.md")).unwrap();
    assert_eq!(
        written,
        r#"---
title: "A \"brass\" lamp"  # required · a string
count:                     # required · an integer
kind:                      # required · one of `big`, `small`
place:                     # required · the id of an entry in `places`: attic, barn, cellar, den, eaves, forge, … (7 in all: ls content/places/)
summary:                   # required · a Markdown string
verified:                  # required · a boolean (true or false)
# Optional: uncomment the ones the source gives.
# neighbours:              # a list of ids of entries in `things` (none yet)
# seen:                    # a date (YYYY-MM-DD)
# sizes:                   # a list of values from `s`, `m`, `l`
# tags:                    # a list of strings
# weight:                  # a number
---
Write the entry here, in your own words.
"#
    );
    let out = annals_in(&site.root, &["check", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        r#"[{"path":"content/things/lamp.md","line":3,"column":6,"severity":"error","message":"field `count` is empty: fill in an integer","hint":null,"notes":[]},
 {"path":"content/things/lamp.md","line":4,"column":5,"severity":"error","message":"field `kind` is empty: fill in one of `big`, `small`","hint":null,"notes":[]},
 {"path":"content/things/lamp.md","line":5,"column":6,"severity":"error","message":"field `place` is empty: fill in the id of an entry in `places`","hint":null,"notes":[]},
 {"path":"content/things/lamp.md","line":6,"column":8,"severity":"error","message":"field `summary` is empty: fill in a Markdown string","hint":null,"notes":[]},
 {"path":"content/things/lamp.md","line":7,"column":9,"severity":"error","message":"field `verified` is empty: fill in a boolean (true or false)","hint":null,"notes":[]}]
"#
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn new_refuses_a_bad_id_an_existing_id_and_an_unknown_collection() {
    let site = TestSite::fixture("every-type");
    let cases = [
        (["new", "things", "Brass Lamp"], "`Brass Lamp` is not a valid id", "help: try `annals new things brass-lamp`"),
        (["new", "places", "attic"], "`attic` already exists in `places`", "help: choose another id"),
        (["new", "thing", "lamp"], "no collection `thing` in site.yaml", "help: did you mean `things`?"),
    ];
    for (args, message, hint) in cases {
        let out = annals_in(&site.root, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(message) && stderr.contains(hint), "{args:?}: {stderr}");
    }
    assert!(!site.root.join("content/things").exists());
}

#[test]
fn check_speaks_github_annotations_and_json_with_warnings() {
    let site = TestSite::with_error("broken-link");
    let out = annals_in(&site.root, &["check", "--format", "github"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "::warning file=content/studies/epsilon-2015.md::orphan: no other page links to, cites or refers to this entry%0Ahelp: link to it from a related page (`[…](@/studies/epsilon-2015.md)`), cite it, or name it in another entry's field\n\
         ::error file=content/studies/epsilon-2015.md,line=8,col=5::broken link: no page at `@/studies/gamma-2011.md`%0Ahelp: did you mean `@/studies/gamma-2010.md`?\n"
    );
    // The run's log keeps the report for people.
    assert!(text(&out.stderr).contains("8 | See [the review]"), "{}", text(&out.stderr));
    let out = annals_in(&site.root, &["check", "--format", "json"]);
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "[{\"path\":\"content/studies/epsilon-2015.md\",\"line\":0,\"column\":0,\"severity\":\"warning\",\"message\":\"orphan: no other page links to, cites or refers to this entry\",\"hint\":\"link to it from a related page (`[…](@/studies/epsilon-2015.md)`), cite it, or name it in another entry's field\",\"notes\":[]},\n \
         {\"path\":\"content/studies/epsilon-2015.md\",\"line\":8,\"column\":5,\"severity\":\"error\",\"message\":\"broken link: no page at `@/studies/gamma-2011.md`\",\"hint\":\"did you mean `@/studies/gamma-2010.md`?\",\"notes\":[]}]\n"
    );
}

#[test]
fn check_fails_on_warnings_only_when_told_to() {
    let site = TestSite::with_warning("orphan");
    let out = annals_in(&site.root, &["check"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "Checked 10 pages: no errors, 1 warning\n");
    assert!(text(&out.stderr).starts_with("content/studies/epsilon-2015.md: warning: orphan"), "{}", text(&out.stderr));
    assert_eq!(annals_in(&site.root, &["check", "--deny-warnings"]).status.code(), Some(1));
    // A build succeeds and shows the warning too.
    let out = annals_in(&site.root, &["build"]);
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("warning: orphan"), "{}", text(&out.stderr));
}

#[test]
fn typos_in_commands_and_flags_get_suggestions() {
    let dir = tempfile::tempdir().unwrap();
    let out = annals_in(dir.path(), &["biuld"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("a similar subcommand exists: 'build'"), "{}", text(&out.stderr));
    let out = annals_in(dir.path(), &["build", "--drafs"]);
    assert!(text(&out.stderr).contains("a similar argument exists: '--drafts'"), "{}", text(&out.stderr));
}

#[test]
fn one_page_is_one_page() {
    let site = TestSite::fixture("basic");
    std::fs::remove_dir_all(site.root.join("content")).unwrap();
    site.write("site.yaml", "title: One\n").write("content/_index.md", "Home.\n");
    let out = annals(&site, &["build"]);
    assert!(text(&out.stdout).starts_with("Built 1 page ("), "{}", text(&out.stdout));
}

#[test]
fn new_with_edit_opens_the_file_in_the_editor() {
    let site = TestSite::fixture("every-type");
    // An "editor" that appends a line, through the shell as $VISUAL would run.
    let out = Command::new(env!("CARGO_BIN_EXE_annals"))
        .current_dir(&site.root)
        .env("VISUAL", "printf 'edited\\n' >>")
        .args(["new", "places", "hall", "--edit"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(site.root.join("content/places/hall.md")).unwrap();
    assert!(written.ends_with("in your own words.\nedited\n"), "{written}");
}

#[test]
fn the_invalidation_trace_says_why_each_output_is_rendered_again() {
    use std::io::BufRead;
    let site = TestSite::fixture("basic");
    let mut child = Command::new(env!("CARGO_BIN_EXE_annals"))
        .arg("--root")
        .arg(&site.root)
        .arg("watch")
        .env("ANNALS_TRACE", "invalidation")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            std::io::BufReader::new(stream).lines().map_while(Result::ok).for_each(|l| drop(tx.send(l)))
        });
    }
    let wait_for = |what: &dyn Fn(&str) -> bool| loop {
        let line = lines.recv_timeout(std::time::Duration::from_secs(10)).expect("a line within 10 s");
        if what(&line) {
            return line;
        }
    };
    // The first build renders everything for the first time.
    assert_eq!(
        wait_for(&|l| l.contains("rendering about/")),
        "annals: rendering about/index.html: not rendered before"
    );
    wait_for(&|l| l.starts_with("Built"));
    let study = site.root.join("content/studies/beta-2005.md");
    let text = std::fs::read_to_string(&study).unwrap();
    std::fs::write(&study, format!("{text}\nOne more sentence.\n")).unwrap();
    let traced = wait_for(&|l| l.contains("rendering studies/beta-2005/"));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(traced, "annals: rendering studies/beta-2005/index.html: its page's text changed");
}

#[cfg(unix)]
#[test]
fn new_never_writes_through_a_symlink_at_the_entry_path() {
    let site = TestSite::fixture("basic");
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("created-by-annals.md");
    std::os::unix::fs::symlink(&target, site.root.join("content/studies/omega-2020.md")).unwrap();
    let out = annals(&site, &["new", "studies", "omega-2020"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert!(!target.exists());
}
