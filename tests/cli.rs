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
    let out = annals(&site, &["build"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("Built 9 pages (22 files) into "), "{stdout}");
    assert!(stdout.trim_end().ends_with(" ms"), "{stdout}");
    assert!(out.stderr.is_empty());
    assert!(site.root.join("public/index.html").is_file());
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
    assert!(stderr.contains("8 | See [the review](@/studies/gamma-2011.md) for more.\n  |     ^\n"), "{stderr}");
    assert!(stderr.contains("content/studies/zeta-2016.md:4:1: error: unknown field `yaer`"), "{stderr}");
    assert!(stderr.contains("  help: did you mean `year`?\n"), "{stderr}");
    assert!(stderr.ends_with("2 errors\n"), "{stderr}");
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
    for stage in ["load", "validate", "markdown", "link", "render", "write"] {
        assert!(stdout.lines().any(|l| l.trim_start().starts_with(stage)), "{stage} missing in\n{stdout}");
    }
}

#[test]
fn a_missing_site_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_annals")).arg("--root").arg(dir.path()).arg("build").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("site.yaml: error: cannot read the site configuration"), "{stderr}");
}

#[test]
fn an_output_folder_that_would_replace_the_site_is_refused() {
    let site = TestSite::fixture("basic");
    for bad in [".", "content"] {
        let out = annals(&site, &["build", "-o", bad]);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("output folder"), "{bad}");
    }
    assert!(site.root.join("site.yaml").is_file() && site.root.join("content/about.md").is_file());
}
