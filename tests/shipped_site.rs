//! The site this repository ships: it builds cleanly, every study has its
//! page and is linked from its era and the evidence table, and a handful of
//! figures still match the source article.

mod common;
use annals::engine::{self as pipeline, Options};
use std::path::{Path, PathBuf};

const STUDIES: &[&str] = &[
    "corssen-domino-1966",
    "collier-1972",
    "khorramzadeh-lofty-1973",
    "sofia-harakal-1975",
    "sklar-1981",
    "lodge-1982",
    "hansen-1988",
    "trullas-skolnick-1990",
    "nutt-glue-1990",
    "krupitsky-1992",
    "krystal-1994",
    "krupitsky-grinenko-1997",
    "himmelseher-pfenninger-1998",
    "berman-2000",
    "krupitsky-2002",
    "zarate-2006",
    "diazgranados-2010a",
    "diazgranados-2010b",
    "zarate-2012",
    "dakwar-2014",
    "dakwar-2017",
    "dakwar-2020",
    "fernie-2017",
    "anderson-2017",
    "popova-2019",
    "azhari-2021",
    "grabski-2022",
    "ekstrand-2022",
    "price-2022",
    "anand-2023",
    "garel-2023",
    "reif-2023",
    "zaki-2023",
    "gent-2024",
    "greenway-2024",
    "greenway-2025",
    "janik-2025",
    "roquet-psychosynthesis",
];

/// Builds the shipped site once per test binary into a temporary folder.
fn built() -> &'static Path {
    static OUT: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    &OUT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut options = Options::new(env!("CARGO_MANIFEST_DIR"));
        options.output = dir.path().join("public");
        if let Err(errors) = pipeline::build(&options) {
            panic!(
                "the shipped site has errors:\n{}",
                errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")
            );
        }
        let out = options.output.clone();
        (dir, out)
    })
    .1
}

#[test]
fn the_shipped_site_passes_check_with_warnings_denied() {
    // What the pull-request check runs: `annals check --deny-warnings`.
    let built = pipeline::generate(&Options::new(env!("CARGO_MANIFEST_DIR"))).unwrap_or_else(|errors| {
        panic!("the shipped site has errors:\n{}", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))
    });
    let warnings: Vec<String> = built.warnings.iter().map(|w| w.to_string()).collect();
    assert!(warnings.is_empty(), "the shipped site has warnings:\n{}", warnings.join("\n"));
}

fn page(rel: &str) -> String {
    std::fs::read_to_string(built().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The `era` of a study, read from its front matter.
fn era_of(id: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("content/studies/{id}.md"));
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().find_map(|l| l.strip_prefix("era: ")).unwrap().trim().to_string()
}

#[test]
fn every_study_has_a_page_linked_from_its_era_and_the_evidence_table() {
    let evidence = page("evidence/index.html");
    for id in STUDIES {
        let href = format!("href=\"/studies/{id}/\"");
        assert!(built().join(format!("studies/{id}/index.html")).is_file(), "{id} has no page");
        assert!(evidence.contains(&href), "{id} is not in the evidence table");
        let era = page(&format!("eras/{}/index.html", era_of(id)));
        assert!(era.contains(&href), "{id} is not listed by its era");
    }
}

#[test]
fn eras_are_in_order_on_the_home_page() {
    let home = page("index.html");
    let order = [
        "anaesthetic-origins",
        "dissociative-therapy",
        "nmda-antagonism",
        "liquid-ect",
        "esketamine",
        "ketamine-psychotherapy",
    ];
    let positions: Vec<usize> =
        order.iter().map(|e| home.find(&format!("/eras/{e}/")).unwrap_or_else(|| panic!("{e}"))).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
}

fn fact(id: &str, label: &str, value: &str) {
    let html = page(&format!("studies/{id}/index.html"));
    let needle = format!("<dt>{label}</dt><dd>{value}</dd>");
    assert!(html.contains(&needle), "{id}: expected {needle}");
}

#[test]
fn figures_match_the_source() {
    fact("berman-2000", "Participants", "14");
    fact("berman-2000", "Dose", "0.5 mg/kg IV");
    fact("zarate-2006", "Participants", "18");
    fact("zarate-2006", "Dose", "0.5 mg/kg IV");
    fact("ekstrand-2022", "Participants", "186");
    fact("anand-2023", "Participants", "403");
    fact("grabski-2022", "Participants", "96");
    fact("greenway-2025", "Participants", "32");
    fact("krupitsky-2002", "Dose", "2.0 mg/kg IM");
    fact("roquet-psychosynthesis", "Dose", "1.5 mg/kg IM");
    let krupitsky = page("studies/krupitsky-grinenko-1997/index.html");
    assert!(krupitsky.contains("66%") && krupitsky.contains("24%"), "abstinence rates missing");
}

#[test]
fn citations_link_to_the_cited_study() {
    let zarate = page("studies/zarate-2006/index.html");
    assert!(zarate.contains(r#"<a class="citation" href="/studies/berman-2000/">Berman et al., 2000</a>"#));
    let references = page("references/index.html");
    for id in STUDIES {
        assert!(references.contains(&format!("href=\"/studies/{id}/\"")), "{id} not on the references page");
    }
}

#[test]
fn generated_pages_make_no_third_party_requests() {
    for entry in walkdir::WalkDir::new(built()).into_iter().map(|e| e.unwrap()).filter(|e| e.file_type().is_file()) {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for attr in ["src=\"http", "href=\"http", "url(http", "@import"] {
            assert!(!text.contains(attr), "{} contains {attr}", entry.path().display());
        }
    }
}
