//! A seeded random sequence of edits of every kind an author makes (prose,
//! titles and fields, files added, removed and renamed, templates and
//! components, a theme switch, assets, `site.yaml` broken and fixed),
//! asserting after every step that the long-lived engine of `serve` and
//! `watch` gives exactly what a fresh full build gives: the same bytes for
//! every output and copied file, or the same list of errors; and that
//! `build`, which keeps the files of its last build whose inputs are
//! unchanged, writes those same bytes.
//!
//! `cargo test --test random_edits` runs a few hundred steps;
//! `cargo test --test random_edits -- --ignored` runs thousands. A failure
//! prints the seed and the steps; `ANNALS_SEED=N` replays one seed.

mod common;
use annals::engine::{Built, Change, Engine, Options, build, generate};
use annals::output::Outputs;
use common::TestSite;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// xorshift64*: small, and the same sequence on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

struct Session {
    site: TestSite,
    engine: Engine,
    /// What `build` is run with, into the site's output folder.
    publish: Options,
    rng: Rng,
    log: Vec<String>,
    counter: usize,
    /// The outputs of the last successful build: what `changed` and
    /// `removed` are relative to.
    last_good: Outputs,
    /// The site's files when it last built, and how many builds in a row
    /// have failed since: after two, the next step puts those files back,
    /// so that most steps build a valid site, not one broken for good.
    good_files: BTreeMap<String, Vec<u8>>,
    failures: usize,
    /// Checks made, and how many of them built.
    checks: usize,
    built: usize,
}

const ERAS: [&str; 3] = ["early", "late", "nowhere"];

impl Session {
    fn start(seed: u64) -> Session {
        let site = TestSite::fixture("basic");
        // A second theme to switch to, and a component that a template calls.
        common::copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("themes/default"),
            &site.root.join("themes/other"),
        );
        site.write("templates/components.html", "{% component badge(text) %}<b>{{ text }}</b>{% endcomponent badge %}");
        site.write(
            "templates/badge.html",
            "<!doctype html><title>{{ page.title }}</title>{{<badge text={page.title}/>}}\
             <ul>{% for s in collections.studies %}<li>{{ s.title }}</li>{% endfor %}</ul>{{ page.content | safe }}",
        );
        // Odd seeds hold no body's text between builds, as for a large site.
        let hold_text_up_to = if seed % 2 == 1 { 0 } else { annals::engine::HOLD_TEXT_UP_TO };
        let publish = Options { hold_text_up_to, ..site.options.clone() };
        let mut engine = Engine::new(publish.clone());
        let last_good = engine.rebuild(&Change::Everything).expect("the fixture builds").outputs;
        let mut session = Session {
            site,
            engine,
            publish,
            rng: Rng(seed.max(1)),
            log: Vec::new(),
            counter: 0,
            last_good,
            good_files: BTreeMap::new(),
            failures: 0,
            checks: 0,
            built: 0,
        };
        session.good_files = session.snapshot();
        session
    }

    /// Every file of the site but its output, by path.
    fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        let output = self.site.options.output_dir();
        walkdir::WalkDir::new(&self.site.root)
            .into_iter()
            .filter_entry(|e| !e.path().starts_with(&output) && !e.file_name().to_string_lossy().ends_with(".annals"))
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                let rel = e.path().strip_prefix(&self.site.root).unwrap().to_string_lossy().into_owned();
                (rel, std::fs::read(e.path()).unwrap())
            })
            .collect()
    }

    /// Puts back the files of the last site that built; returns those changed.
    fn restore(&mut self) -> Vec<String> {
        let now = self.snapshot();
        let mut touched = Vec::new();
        for rel in now.keys().filter(|rel| !self.good_files.contains_key(*rel)) {
            std::fs::remove_file(self.path(rel)).unwrap();
            touched.push(rel.clone());
        }
        for (rel, bytes) in &self.good_files {
            if now.get(rel) != Some(bytes) {
                std::fs::create_dir_all(self.path(rel).parent().unwrap()).unwrap();
                std::fs::write(self.path(rel), bytes).unwrap();
                touched.push(rel.clone());
            }
        }
        self.log.push(format!("restore {touched:?}"));
        touched
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.site.root.join(rel)
    }

    fn files(&self, dir: &str, ext: &str) -> Vec<String> {
        let mut out: Vec<String> = walkdir::WalkDir::new(self.path(dir))
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == ext))
            .map(|e| e.path().strip_prefix(&self.site.root).unwrap().to_string_lossy().into_owned())
            .collect();
        out.sort();
        out
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_default()
    }

    fn write(&self, rel: &str, text: &str) {
        self.site.write(rel, text);
    }

    /// Replaces the first line starting with `key:` in the front matter.
    fn set_field(&self, rel: &str, key: &str, value: &str) {
        let text = self.read(rel);
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        match lines.iter().position(|l| l.starts_with(&format!("{key}:"))) {
            Some(i) => lines[i] = format!("{key}: {value}"),
            None if lines.first().is_some_and(|l| l == "---") => lines.insert(1, format!("{key}: {value}")),
            None => return,
        }
        self.write(rel, &(lines.join("\n") + "\n"));
    }

    /// Makes one random edit and returns the paths it touched.
    fn edit(&mut self) -> Vec<String> {
        if self.failures >= 2 {
            self.failures = 0;
            return self.restore();
        }
        self.counter += 1;
        let n = self.counter;
        let markdown = self.files("content", "md");
        let studies = self.files("content/studies", "md");
        let any = |s: &mut Session, list: &[String]| s.rng.pick(list).cloned();
        let (what, touched): (String, Vec<String>) = match self.rng.below(14) {
            0 => {
                let Some(f) = any(self, &markdown) else { return Vec::new() };
                let text = self.read(&f);
                self.write(&f, &format!("{text}\nA sentence added in step {n}.\n"));
                (format!("prose {f}"), vec![f])
            }
            1 => {
                // Words the page has already: the same index files.
                let Some(f) = any(self, &markdown) else { return Vec::new() };
                let text = self.read(&f);
                let last =
                    text.lines().rfind(|l| !l.trim().is_empty() && !l.starts_with("---")).unwrap_or("").to_string();
                self.write(&f, &format!("{text}\n{last}\n"));
                (format!("repeat a line of {f}"), vec![f])
            }
            2 => {
                let Some(f) = any(self, &studies) else { return Vec::new() };
                self.set_field(&f, "title", &format!("Retitled in step {n}"));
                (format!("title {f}"), vec![f])
            }
            3 => {
                let Some(f) = any(self, &studies) else { return Vec::new() };
                let year = 1990 + self.rng.below(30);
                self.set_field(&f, "year", &year.to_string());
                (format!("year {f}"), vec![f])
            }
            4 => {
                let Some(f) = any(self, &studies) else { return Vec::new() };
                let era = ERAS[self.rng.below(ERAS.len())];
                self.set_field(&f, "era", era);
                (format!("era {f} = {era}"), vec![f])
            }
            5 => {
                let id = format!("added-{n}");
                let cited =
                    any(self, &studies).map(|s| s.rsplit('/').next().unwrap().trim_end_matches(".md").to_string());
                let body = cited.map_or_else(
                    || "Plain.".to_string(),
                    |c| format!("Follows [@{c}] and [the page](@/studies/{c}.md)."),
                );
                let f = format!("content/studies/{id}.md");
                self.write(
                    &f,
                    &format!("---\ntitle: Added {n}\nauthors: [Added]\nyear: {}\nera: early\nkey_finding: New.\n---\n{body}\n", 2000 + n % 20),
                );
                (format!("add {f}"), vec![f])
            }
            6 => {
                let Some(f) = any(self, &markdown) else { return Vec::new() };
                std::fs::remove_file(self.path(&f)).unwrap();
                (format!("remove {f}"), vec![f])
            }
            7 => {
                let Some(f) = any(self, &studies) else { return Vec::new() };
                let to = format!("content/studies/renamed-{n}.md");
                std::fs::rename(self.path(&f), self.path(&to)).unwrap();
                (format!("rename {f} -> {to}"), vec![f, to])
            }
            8 => {
                let Some(target) = any(self, &markdown) else { return Vec::new() };
                let Some(f) = any(self, &markdown) else { return Vec::new() };
                let rel = target.trim_start_matches("content/");
                let anchor = if self.rng.below(3) == 0 { "#method" } else { "" };
                let text = self.read(&f);
                self.write(&f, &format!("{text}\nSee [this](@/{rel}{anchor}).\n"));
                (format!("link {f} -> {rel}{anchor}"), vec![f])
            }
            9 => {
                let f = if self.rng.below(2) == 0 { "templates/components.html" } else { "templates/section.html" };
                let text = self.read(f);
                self.write(f, &text.replacen("</", &format!("<i>{n}</i></"), 1));
                (format!("template {f}"), vec![f.to_string()])
            }
            10 => {
                let Some(f) = any(self, &markdown) else { return Vec::new() };
                let template = ["badge.html", "page.html", "missing.html"][self.rng.below(3)];
                self.set_field(&f, "template", template);
                (format!("template: {template} in {f}"), vec![f])
            }
            11 => {
                let config = self.read("site.yaml");
                let to = if config.contains("theme: default") { "theme: other" } else { "theme: default" };
                self.write("site.yaml", &config.replace("theme: default", to).replace("theme: other", to));
                let page = "themes/other/templates/page.html";
                let text = self.read(page);
                self.write(page, &text.replacen("</", &format!("<s>{n}</s></"), 1));
                (format!("switch to {to}, edit {page}"), vec!["site.yaml".into(), page.into()])
            }
            12 => {
                let f = format!("static/asset-{}.css", self.rng.below(3));
                if self.path(&f).exists() {
                    std::fs::remove_file(self.path(&f)).unwrap();
                    (format!("remove {f}"), vec![f])
                } else {
                    self.write(&f, &format!("b {{ order: {n} }}\n"));
                    (format!("add {f}"), vec![f])
                }
            }
            _ => {
                let config = self.read("site.yaml");
                let broken = "title: [unclosed";
                let fixed = config.replace(broken, "title: Fixture history");
                if fixed != config {
                    self.write("site.yaml", &fixed);
                    ("fix site.yaml".into(), vec!["site.yaml".into()])
                } else {
                    self.write("site.yaml", &config.replace("title: Fixture history", broken));
                    ("break site.yaml".into(), vec!["site.yaml".into()])
                }
            }
        };
        self.log.push(what);
        touched
    }

    /// Rebuilds after `touched` changed and compares with a fresh full build.
    fn check(&mut self, touched: &[String], seed: u64) {
        let change = Change::Paths(touched.iter().map(|t| self.path(t)).collect());
        let incremental = self.engine.rebuild(&change);
        let full = generate(&self.site.options);
        let fail = |why: String| -> ! {
            panic!("seed {seed}, after step {}: {why}\nsteps:\n  {}", self.log.len(), self.log.join("\n  "))
        };
        self.failures = if full.is_ok() { 0 } else { self.failures + 1 };
        self.checks += 1;
        self.built += usize::from(full.is_ok());
        match (incremental, full) {
            (Ok(a), Ok(b)) => {
                let why = difference(&a, &b)
                    .or_else(|| wrong_changes(&self.last_good, &a))
                    .or_else(|| published_difference(&self.publish, &b));
                if let Some(why) = why {
                    fail(why);
                }
                self.last_good = b.outputs;
                self.good_files = self.snapshot();
            }
            (Err(a), Err(b)) if a == b => {
                // So does `build`, with what it keeps of its last build.
                match build(&self.publish) {
                    Err(c) if c == a => {}
                    other => fail(format!("build gave {:?}, expected errors {a:#?}", other.map(|_| "success"))),
                }
            }
            (Err(a), Err(b)) => fail(format!("different errors:\nincremental {a:#?}\nfull {b:#?}")),
            (a, b) => fail(format!("incremental {:?}\nfull {:?}", a.err(), b.err())),
        }
    }
}

/// What differs between two successful builds, if anything.
fn difference(a: &Built, b: &Built) -> Option<String> {
    let paths = |b: &Built| b.outputs.iter().map(|o| o.path.clone()).collect::<Vec<_>>();
    if paths(a) != paths(b) {
        return Some(format!("different outputs:\n{:?}\n{:?}", paths(a), paths(b)));
    }
    if let Some((x, _)) =
        a.outputs.iter().zip(&b.outputs).find(|(x, y)| x.bytes.get().unwrap() != y.bytes.get().unwrap())
    {
        return Some(format!("{} differs", x.path));
    }
    let copies = |b: &Built| b.copies.iter().map(|c| (c.path.clone(), c.from.read().ok())).collect::<Vec<_>>();
    if copies(a) != copies(b) {
        return Some("different copied files".to_string());
    }
    (a.warnings != b.warnings).then(|| format!("different warnings:\n{:#?}\n{:#?}", a.warnings, b.warnings))
}

/// What `build`, keeping what it can of its last build, writes differently
/// from the outputs and copies of `full`, if anything, or warns of.
fn published_difference(options: &Options, full: &Built) -> Option<String> {
    let mut warnings = match build(options) {
        Ok(built) => built.warnings,
        Err(errors) => return Some(format!("build failed where the full build did not: {errors:#?}")),
    };
    // Only a published build warns of a relative `base_url`.
    warnings.retain(|w| !w.message.starts_with("base_url `"));
    if warnings != full.warnings {
        return Some(format!("build warned otherwise:\n{warnings:#?}\n{:#?}", full.warnings));
    }
    let out = options.output_dir();
    let written: BTreeMap<String, Vec<u8>> = common::snapshot(&out)
        .into_iter()
        .map(|(p, b)| (p.to_string_lossy().replace('\\', "/"), b))
        .filter(|(p, _)| p != annals::output::MARKER)
        .collect();
    let outputs = full.outputs.iter().map(|o| (o.path.to_string(), o.bytes.get().unwrap().into_owned()));
    let copies = full.copies.iter().map(|c| (c.path.clone(), c.from.read().unwrap()));
    let expected: BTreeMap<String, Vec<u8>> = outputs.chain(copies).collect();
    if written.keys().ne(expected.keys()) {
        let extra: Vec<&String> = written.keys().filter(|p| !expected.contains_key(*p)).collect();
        let missing: Vec<&String> = expected.keys().filter(|p| !written.contains_key(*p)).collect();
        return Some(format!("build wrote {extra:?} too, and not {missing:?}"));
    }
    let differs = written.iter().find(|(p, b)| expected[*p] != **b);
    differs.map(|(p, _)| format!("build wrote {p} differently from the full build"))
}

/// Whether `built` names as changed and removed exactly the outputs that
/// differ from `last` (what the preview sends to the browser relies on it).
fn wrong_changes(last: &Outputs, built: &Built) -> Option<String> {
    // Unpacked: compared as written, not as the engine keeps them.
    let before: BTreeMap<&str, Cow<[u8]>> = last.iter().map(|o| (&*o.path, o.bytes.get().unwrap())).collect();
    let after: BTreeMap<&str, Cow<[u8]>> = built.outputs.iter().map(|o| (&*o.path, o.bytes.get().unwrap())).collect();
    let changed: Vec<&str> = after.iter().filter(|(p, b)| before.get(*p) != Some(*b)).map(|(p, _)| *p).collect();
    let removed: Vec<&str> = before.keys().filter(|p| !after.contains_key(*p)).copied().collect();
    let mut said_changed: Vec<&str> = built.changed.iter().map(String::as_str).collect();
    let mut said_removed: Vec<&str> = built.removed.iter().map(String::as_str).collect();
    said_changed.sort_unstable();
    said_removed.sort_unstable();
    (said_changed != changed || said_removed != removed)
        .then(|| format!("changed {said_changed:?}, removed {said_removed:?}; expected {changed:?}, {removed:?}"))
}

fn run(seed: u64, steps: usize) {
    let mut session = Session::start(seed);
    for _ in 0..steps {
        let touched = session.edit();
        if !touched.is_empty() {
            session.check(&touched, seed);
        }
    }
    // Most steps must build: a site broken for good would compare errors only.
    assert!(session.built * 2 > session.checks, "seed {seed}: {} of {} checks built", session.built, session.checks);
}

fn seeds(default: &[u64]) -> Vec<u64> {
    match std::env::var("ANNALS_SEED") {
        Ok(s) => vec![s.parse().expect("ANNALS_SEED is a number")],
        Err(_) => default.to_vec(),
    }
}

#[test]
fn random_edits_match_full_builds() {
    for seed in seeds(&[1, 2, 3]) {
        run(seed, 100);
    }
}

#[test]
#[ignore = "long: thousands of steps"]
fn many_random_edits_match_full_builds() {
    for seed in seeds(&[11, 12, 13, 14, 15]) {
        run(seed, 1000);
    }
}
