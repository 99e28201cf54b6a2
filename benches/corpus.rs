//! A synthetic site for benchmarks, in the shipped site's shape: eras and
//! studies with typed front matter, references, citations, one taxonomy,
//! and ~3 KB of Markdown per page with headings, a table, a list, a code
//! block and three internal links. Deterministic for a seed. The Hugo
//! flavour holds the same pages, with Hugo's `ref` shortcode for links, so
//! that both tools are measured on the same work.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

pub const ERAS: usize = 8;
const TOPICS: &[&str] = &[
    "depression",
    "anxiety",
    "addiction",
    "alcohol",
    "pain",
    "psychosis",
    "sleep",
    "suicidality",
    "bipolar",
    "ptsd",
    "ocd",
    "anaesthesia",
    "cognition",
    "dosing",
    "safety",
    "imaging",
    "genetics",
    "psychotherapy",
    "policy",
    "history",
];
const DESIGNS: &[&str] = &["randomised controlled trial", "crossover trial", "open-label study", "review"];
const WORDS: &[&str] = &[
    "ketamine",
    "patients",
    "trial",
    "dose",
    "response",
    "placebo",
    "effect",
    "week",
    "infusion",
    "symptoms",
    "receptor",
    "glutamate",
    "rapid",
    "sustained",
    "scores",
    "baseline",
    "follow-up",
    "group",
    "measures",
    "clinical",
    "outcome",
    "significant",
    "treatment",
    "analysis",
    "sample",
    "design",
    "session",
    "therapy",
    "relapse",
    "model",
];

/// Which tool the corpus is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Annals,
    Hugo,
}

/// splitmix64: a small, fast, well-distributed generator; enough for text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn sentence(&mut self, words: usize) -> String {
        let mut s = String::new();
        for i in 0..words {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(self.pick(WORDS));
        }
        let mut c = s.chars();
        c.next().map(|f| f.to_uppercase().chain(c).collect::<String>() + ".").unwrap_or_default()
    }
}

fn study_id(i: usize) -> String {
    format!("study-{i:06}")
}

/// Writes a site of `pages` pages (at least `ERAS + 3`) into `dir`.
pub fn generate(dir: &Path, pages: usize, seed: u64, flavour: Flavour) -> io::Result<()> {
    let studies = pages.saturating_sub(ERAS + 3).max(1);
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    let content = dir.join("content");
    std::fs::create_dir_all(content.join("eras"))?;
    std::fs::create_dir_all(content.join("studies"))?;
    let mut rng = Rng(seed);
    match flavour {
        Flavour::Annals => std::fs::write(dir.join("site.yaml"), SITE_YAML)?,
        Flavour::Hugo => write_hugo_scaffold(dir)?,
    }
    let front = |title: &str| format!("---\ntitle: \"{title}\"\n---\n");
    std::fs::write(content.join("_index.md"), front("Benchmark corpus") + "A generated history.\n")?;
    std::fs::write(content.join("eras/_index.md"), front("Eras") + "All eras.\n")?;
    std::fs::write(content.join("studies/_index.md"), front("Studies") + "All studies.\n")?;
    for e in 0..ERAS {
        let mut text = String::from("---\n");
        writeln!(text, "title: \"Era {e}\"").unwrap();
        if flavour == Flavour::Annals {
            writeln!(text, "start_year: {}\norder: {}\nsummary: \"{}\"", 1960 + e * 8, e + 1, rng.sentence(8)).unwrap();
        } else {
            writeln!(text, "weight: {}", e + 1).unwrap();
        }
        text.push_str("---\n");
        for _ in 0..4 {
            writeln!(text, "{}\n", rng.sentence(40)).unwrap();
        }
        std::fs::write(content.join(format!("eras/era-{e}.md")), text)?;
    }
    // Files are written from the same sequence of random numbers for both flavours.
    for i in 0..studies {
        let text = study(&mut rng, i, studies, flavour);
        std::fs::write(content.join(format!("studies/{}.md", study_id(i))), text)?;
    }
    Ok(())
}

fn study(rng: &mut Rng, i: usize, studies: usize, flavour: Flavour) -> String {
    let era = i * ERAS / studies;
    let year = 1966 + i * 59 / studies.max(1);
    let cited = rng.below(studies);
    let linked = rng.below(studies);
    let (t1, t2) = (rng.pick(TOPICS), rng.pick(TOPICS));
    let topics = if t1 == t2 { format!("[{t1}]") } else { format!("[{t1}, {t2}]") };
    let mut s = String::with_capacity(3600);
    s.push_str("---\n");
    writeln!(s, "title: \"Study {i}: {}\"", rng.sentence(4).trim_end_matches('.')).unwrap();
    writeln!(s, "authors: [Author{}, Other{}]\net_al: true\nyear: {year}", i % 997, i % 13).unwrap();
    match flavour {
        Flavour::Annals => writeln!(s, "era: era-{era}").unwrap(),
        Flavour::Hugo => writeln!(s, "era: era-{era}\ndate: {year}-01-01").unwrap(),
    }
    writeln!(s, "design: {}\ntopics: {topics}\nparticipants: {}", rng.pick(DESIGNS), 10 + rng.below(400)).unwrap();
    // The next study too, so that every study is referred to by another (none an orphan).
    let next = study_id((i + 1) % studies);
    writeln!(s, "key_finding: \"{}\"\nrelated: [{}, {next}]\n---", rng.sentence(12), study_id(linked)).unwrap();
    let (cite, link, era_link) = match flavour {
        Flavour::Annals => (
            format!("[@{}]", study_id(cited)),
            format!("[a related study](@/studies/{}.md#results)", study_id(linked)),
            format!("[its era](@/eras/era-{era}.md)"),
        ),
        Flavour::Hugo => (
            format!("([Author{}, 2000]({{{{< ref \"studies/{}.md\" >}}}}))", cited % 997, study_id(cited)),
            format!("[a related study]({{{{< ref \"studies/{}.md#results\" >}}}})", study_id(linked)),
            format!("[its era]({{{{< ref \"eras/era-{era}.md\" >}}}})"),
        ),
    };
    writeln!(s, "{} As reported earlier {cite}, {}\n", rng.sentence(30), rng.sentence(20)).unwrap();
    writeln!(s, "## Background\n\n{} See {link} and {era_link}.\n", rng.sentence(45)).unwrap();
    writeln!(s, "{}\n", rng.sentence(50)).unwrap();
    s.push_str("## Methods\n\n| Arm | Dose | Participants | Outcome |\n|---|---|---|---|\n");
    for arm in 0..4 {
        writeln!(
            s,
            "| Arm {arm} | {}.{} mg/kg | {} | {} |",
            rng.below(3),
            rng.below(10),
            5 + rng.below(90),
            rng.pick(WORDS)
        )
        .unwrap();
    }
    s.push('\n');
    for _ in 0..5 {
        writeln!(s, "- {}", rng.sentence(10)).unwrap();
    }
    writeln!(s, "\n```python\ndef dose(weight_kg, mg_per_kg={}.{}):\n    \"\"\"Dose in mg.\"\"\"\n    return weight_kg * mg_per_kg\n```\n", rng.below(2), rng.below(10)).unwrap();
    writeln!(s, "## Results\n\n{}\n\n{}\n", rng.sentence(60), rng.sentence(60)).unwrap();
    writeln!(s, "## Discussion\n\n{}\n", rng.sentence(70)).unwrap();
    s
}

const SITE_YAML: &str = r#"title: Benchmark corpus
description: A generated site for measuring annals.
base_url: https://example.org/   # absolute, as a published site: sitemap and feed are built too
theme: default
citations:
  collection: studies
  authors: authors
  year: year
  et_al: et_al
collections:
  eras:
    sort_by: order
    fields:
      title: { type: string, required: true }
      start_year: { type: integer, required: true }
      end_year: { type: integer }
      order: { type: integer, required: true }
      summary: { type: string, required: true }
  studies:
    sort_by: year
    fields:
      title: { type: string, required: true }
      authors: { type: list, of: string, required: true }
      et_al: { type: boolean }
      year: { type: integer, required: true }
      era: { type: reference, to: eras, required: true }
      design: { type: enum, values: [randomised controlled trial, crossover trial, open-label study, review] }
      topics: { type: list, of: string, taxonomy: true }
      participants: { type: integer }
      key_finding: { type: string, required: true }
      related: { type: list, of: { type: reference, to: studies } }
"#;

/// Hugo's configuration and minimal templates doing the same work as the
/// default theme: page, section lists, taxonomy and term lists.
fn write_hugo_scaffold(dir: &Path) -> io::Result<()> {
    let layouts = dir.join("layouts/_default");
    std::fs::create_dir_all(&layouts)?;
    std::fs::write(
        dir.join("hugo.toml"),
        "baseURL = '/'\ntitle = 'Benchmark corpus'\ndisableKinds = ['RSS', 'sitemap', 'robotsTXT']\n[taxonomies]\ntopic = 'topics'\n[markup.highlight]\nnoClasses = false\n",
    )?;
    let base = r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ .Title }} · {{ site.Title }}</title></head><body><nav>{{ range site.Sections }}<a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}</nav><main>{{ block "main" . }}{{ end }}</main></body></html>"#;
    let single = r#"{{ define "main" }}<article><h1>{{ .Title }}</h1><dl>{{ with .Params.year }}<dt>Year</dt><dd>{{ . }}</dd>{{ end }}{{ with .Params.design }}<dt>Design</dt><dd>{{ . }}</dd>{{ end }}{{ with .Params.participants }}<dt>Participants</dt><dd>{{ . }}</dd>{{ end }}</dl>{{ with .Params.key_finding }}<p>{{ . }}</p>{{ end }}{{ .TableOfContents }}{{ .Content }}{{ with .GetTerms "topics" }}<ul>{{ range . }}<li><a href="{{ .RelPermalink }}">{{ .LinkTitle }}</a></li>{{ end }}</ul>{{ end }}{{ with .PrevInSection }}<a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}{{ with .NextInSection }}<a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}</article>{{ end }}"#;
    let list = r#"{{ define "main" }}<h1>{{ .Title }}</h1>{{ .Content }}<ul>{{ range .Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ul>{{ end }}"#;
    std::fs::write(layouts.join("baseof.html"), base)?;
    std::fs::write(layouts.join("single.html"), single)?;
    std::fs::write(layouts.join("list.html"), list)?;
    std::fs::write(layouts.join("terms.html"), list)
}
