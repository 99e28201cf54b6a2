//! The output folder: annals replaces only a folder it made, resolves
//! symlinks before it checks anything, and swaps a finished build in whole.
#![cfg(unix)]

mod common;
use common::{TestSite, snapshot};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

fn annals(site: &TestSite, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_annals")).arg("--root").arg(&site.root).args(args).output().unwrap()
}

/// Runs `annals build` with `args`, expects a refusal mentioning `why`, and
/// checks that the site and `untouched` are exactly as they were.
fn refused(site: &TestSite, args: &[&str], why: &str, untouched: &Path) {
    let before = (snapshot(&site.root), snapshot(untouched));
    let out = annals(site, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?} was not refused:\n{stderr}");
    assert!(stderr.contains(why), "{args:?}: expected {why:?} in\n{stderr}");
    assert!(before == (snapshot(&site.root), snapshot(untouched)), "{args:?} changed files");
}

fn folder_with(dir: &Path, files: &[&str]) -> PathBuf {
    for f in files {
        let path = dir.join(f);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "keep me").unwrap();
    }
    dir.to_path_buf()
}

#[test]
fn a_symlink_to_the_site_is_resolved_before_the_checks() {
    let site = TestSite::fixture("basic");
    let link = site.root.parent().unwrap().join("link");
    symlink(&site.root, &link).unwrap();
    refused(&site, &["build", "-o", "../link"], "holds the site itself", &site.root);
    refused(&site, &["build", "-o", "../link/content"], "inside content/", &site.root);
    refused(&site, &["build", "-o", "../link/content/studies/.."], "inside content/", &site.root);
}

#[test]
fn an_unmarked_folder_is_refused_and_force_replaces_it() {
    let site = TestSite::fixture("basic");
    let notes = folder_with(&site.root.parent().unwrap().join("notes"), &["todo.txt", "photos/cat.jpg"]);
    refused(&site, &["build", "-o", "../notes"], "was not made by annals", &notes);
    // A `public` that is a symlink to that folder: the same refusal, nothing deleted.
    symlink(&notes, site.root.join("public")).unwrap();
    refused(&site, &["build"], "was not made by annals", &notes);
    let out = annals(&site, &["build", "-o", "../notes", "--force"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(notes.join("index.html").is_file() && !notes.join("todo.txt").exists());
}

#[test]
fn folders_holding_a_site_or_a_repository_are_refused_even_with_force() {
    let site = TestSite::fixture("basic");
    let parent = site.root.parent().unwrap();
    for name in ["site.yaml", ".git/HEAD", "content/a.md", "themes/x/y.html"] {
        let dir = folder_with(&parent.join(format!("other-{}", name.replace(['/', '.'], "-"))), &[name]);
        let arg = format!("../{}", dir.file_name().unwrap().to_string_lossy());
        refused(&site, &["build", "-o", &arg, "--force"], "looks like a site or a repository", &dir);
    }
}

#[test]
fn a_file_is_never_replaced() {
    let site = TestSite::fixture("basic");
    refused(&site, &["build", "-o", "site.yaml"], "is a file", &site.root);
    refused(&site, &["build", "-o", "site.yaml", "--force"], "is a file", &site.root);
}

#[test]
fn every_build_marks_its_output_and_replaces_a_marked_or_empty_folder() {
    let site = TestSite::fixture("basic");
    std::fs::create_dir(site.root.join("public")).unwrap();
    assert!(annals(&site, &["build"]).status.success());
    assert!(site.root.join("public").join(annals::output::MARKER).is_file());
    std::fs::write(site.root.join("public/stale.html"), "old").unwrap();
    assert!(annals(&site, &["build"]).status.success());
    assert!(!site.root.join("public/stale.html").exists());
    // Beside the output, only the spare that the next build updates.
    assert_eq!(common::beside_output(&site), [".public.annals"]);
    // The old output, now the spare, is updated by the next build: the file
    // written there by hand is not published again.
    assert!(annals(&site, &["build"]).status.success());
    assert!(!site.root.join("public/stale.html").exists());
    assert!(!site.root.join(".public.annals/spare/stale.html").exists());
}

#[test]
fn a_folder_in_the_way_of_the_staging_folder_is_left_alone() {
    let site = TestSite::fixture("basic");
    let staging = folder_with(&site.root.join(".public.annals/spare"), &["mine.txt"]);
    let out = annals(&site, &["build"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("was not made by annals"));
    assert!(staging.join("mine.txt").is_file());
    assert!(!site.root.join("public").exists());
}

#[test]
fn the_output_is_never_missing_while_a_build_swaps_it_in() {
    let site = TestSite::fixture("basic");
    site.build_ok();
    let index = site.out().join("index.html");
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let mut looks = 0u64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                assert!(index.is_file(), "the output was missing during a build");
                looks += 1;
            }
            looks
        });
        for _ in 0..20 {
            site.build_ok();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(watcher.join().unwrap() > 0);
    });
}

#[test]
fn two_builds_at_once_do_not_corrupt_each_other() {
    let site = TestSite::fixture("basic");
    site.build_ok();
    let expected = snapshot(&site.out());
    std::thread::scope(|s| {
        let builds: Vec<_> = (0..4).map(|_| s.spawn(|| site.build().map(|_| ()))).collect();
        for b in builds {
            assert!(b.join().unwrap().is_ok());
        }
    });
    assert!(snapshot(&site.out()) == expected);
}

/// A file's inode and modification time: both unchanged, it was not written.
fn identity(path: &Path) -> (u64, std::time::SystemTime) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).unwrap();
    (meta.ino(), meta.modified().unwrap())
}

/// Every file of the output, as a fresh build into another folder writes it.
fn same_as_a_fresh_build(site: &TestSite) {
    let fresh = site.root.parent().unwrap().join("fresh");
    let out = annals(site, &["build", "-o", fresh.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(snapshot(&site.out()) == snapshot(&fresh), "the rebuilt output differs from a fresh build");
}

#[test]
fn a_rebuild_writes_only_what_changed_and_equals_a_fresh_build() {
    let site = TestSite::fixture("basic");
    site.build_ok();
    let page = site.out().join("studies/alpha-2000/index.html");
    let unchanged = site.out().join("about/index.html");
    let unchanged_before = identity(&unchanged);
    // Each rebuild: the same file where nothing changed, a new one where it did.
    for round in 0..3 {
        let text = std::fs::read_to_string(site.root.join("content/studies/alpha-2000.md")).unwrap();
        site.write("content/studies/alpha-2000.md", &format!("{text}\nRound {round}.\n"));
        site.build_ok();
        assert_eq!(identity(&unchanged), unchanged_before, "round {round}: an unchanged page was written again");
        assert!(std::fs::read_to_string(&page).unwrap().contains(&format!("Round {round}.")));
        same_as_a_fresh_build(&site);
    }
    // A page removed is removed from the output, and then from the spare.
    site.remove("content/about.md");
    for _ in 0..2 {
        site.build_ok();
        assert!(!unchanged.exists());
        same_as_a_fresh_build(&site);
    }
    assert!(!site.root.join(".public.annals/spare/about/index.html").exists());
}

#[test]
fn a_spare_left_by_an_interrupted_build_is_walked_not_trusted() {
    let site = TestSite::fixture("basic");
    site.build_ok().build_ok();
    // As a build stopped half-way leaves it: the mark names no list, and a
    // file that no build of this site makes.
    let spare = site.root.join(".public.annals/spare");
    std::fs::write(spare.join(annals::output::MARKER), "This folder is generated by annals.\n").unwrap();
    std::fs::write(spare.join("studies/stray.html"), "stray").unwrap();
    site.build_ok();
    assert!(!site.out().join("studies/stray.html").exists());
    same_as_a_fresh_build(&site);
}

#[test]
fn a_file_edited_in_the_output_is_not_kept_by_the_next_build() {
    let site = TestSite::fixture("basic");
    site.build_ok().build_ok();
    // Written in place: the spare may share the file, and sees the edit too.
    let page = site.out().join("about/index.html");
    let mut file = std::fs::OpenOptions::new().write(true).open(&page).unwrap();
    std::io::Write::write_all(&mut file, b"edited").unwrap();
    drop(file);
    site.build_ok().build_ok();
    same_as_a_fresh_build(&site);
}

#[test]
fn a_symlink_in_the_spare_is_replaced_by_a_file_never_published() {
    let site = TestSite::fixture("basic");
    site.build_ok().build_ok();
    // The spare's copy of a page and of a static file become symlinks to
    // files with the same bytes: kept as they are, they would be published.
    let spare = site.root.join(".public.annals/spare");
    let elsewhere = site.root.parent().unwrap().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    for rel in ["about/index.html", "style.css", "extra.css"] {
        let copy = elsewhere.join(rel.replace('/', "-"));
        std::fs::copy(spare.join(rel), &copy).unwrap();
        std::fs::remove_file(spare.join(rel)).unwrap();
        symlink(&copy, spare.join(rel)).unwrap();
    }
    site.build_ok();
    for rel in ["about/index.html", "style.css", "extra.css"] {
        let meta = std::fs::symlink_metadata(site.out().join(rel)).unwrap();
        assert!(meta.is_file(), "{rel} was published as a symlink");
    }
    same_as_a_fresh_build(&site);
}
