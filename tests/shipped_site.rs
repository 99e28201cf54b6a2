//! The site this repository ships: it builds cleanly, every study has its
//! page and is linked from its era and the evidence table, a handful of
//! figures still match the source article, labels say no more than the
//! source does, and the references page is the review's whole bibliography.
//! The source itself is never read here: the facts are kept in this file.

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
    "krupitsky-1992",
    "krystal-1994",
    "krupitsky-grinenko-1997",
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
    "bristol-challenge-pilot",
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
    let roquet = page("studies/roquet-psychosynthesis/index.html");
    assert!(roquet.contains(r#"<a class="citation" href="/works/kolp-2014/">Kolp et al., 2014</a>"#));
}

/// Every work the review cites: (collection, id, label with authors and
/// year as the review cites them). One spelling differs: the review writes
/// "DiazGranados et al., 2010a" but "Diazgranados et al., 2010b"; the site
/// spells both alike so that they keep the review's a and b.
const BIBLIOGRAPHY: &[(&str, &str, &str)] = &[
    ("studies", "corssen-domino-1966", "Corssen and Domino, 1966"),
    ("studies", "collier-1972", "Collier, 1972"),
    ("studies", "khorramzadeh-lofty-1973", "Khorramzadeh and Lofty, 1973"),
    ("studies", "sofia-harakal-1975", "Sofia and Harakal, 1975"),
    ("studies", "sklar-1981", "Sklar et al., 1981"),
    ("studies", "lodge-1982", "Lodge et al., 1982"),
    ("studies", "hansen-1988", "Hansen et al., 1988"),
    ("studies", "trullas-skolnick-1990", "Trullas and Skolnick, 1990"),
    ("studies", "krupitsky-1992", "Krupitsky et al., 1992"),
    ("studies", "krystal-1994", "Krystal et al., 1994"),
    ("studies", "krupitsky-grinenko-1997", "Krupitsky and Grinenko, 1997"),
    ("studies", "berman-2000", "Berman et al., 2000"),
    ("studies", "krupitsky-2002", "Krupitsky et al., 2002"),
    ("studies", "zarate-2006", "Zarate et al., 2006"),
    ("studies", "diazgranados-2010a", "DiazGranados et al., 2010a"),
    ("studies", "diazgranados-2010b", "DiazGranados et al., 2010b"),
    ("studies", "zarate-2012", "Zarate et al., 2012"),
    ("studies", "dakwar-2014", "Dakwar et al., 2014"),
    ("studies", "dakwar-2017", "Dakwar et al., 2017"),
    ("studies", "dakwar-2020", "Dakwar et al., 2020"),
    ("studies", "fernie-2017", "Fernie et al., 2017"),
    ("studies", "anderson-2017", "Anderson et al., 2017"),
    ("studies", "azhari-2021", "Azhari et al., 2021"),
    ("studies", "grabski-2022", "Grabski et al., 2022"),
    ("studies", "ekstrand-2022", "Ekstrand et al., 2022"),
    ("studies", "price-2022", "Price et al., 2022"),
    ("studies", "anand-2023", "Anand et al., 2023"),
    ("studies", "garel-2023", "Garel et al., 2023"),
    ("studies", "reif-2023", "Reif et al., 2023"),
    ("studies", "zaki-2023", "Zaki et al., 2023"),
    ("studies", "gent-2024", "Gent et al., 2024"),
    ("studies", "greenway-2024", "Greenway et al., 2024"),
    ("studies", "greenway-2025", "Greenway et al., 2025"),
    ("studies", "janik-2025", "Janik et al., 2025"),
    ("works", "evans-1976", "Evans et al., 1976"),
    ("works", "nutt-glue-1990", "Nutt and Glue, 1990"),
    ("works", "himmelseher-pfenninger-1998", "Himmelseher and Pfenninger, 1998"),
    ("works", "pfleiderer-2003", "Pfleiderer et al., 2003"),
    ("works", "watkins-evans-2006", "Watkins and Evans, 2006"),
    ("works", "nutt-feetam-2010", "Nutt and Feetam, 2010"),
    ("works", "studerus-2010", "Studerus et al., 2010"),
    ("works", "kolp-2014", "Kolp et al., 2014"),
    ("works", "caddy-2015", "Caddy et al., 2015"),
    ("works", "carhart-harris-nutt-2017", "Carhart-Harris and Nutt, 2017"),
    ("works", "popova-2019", "Popova et al., 2019"),
    ("works", "pallavicini-2019", "Pallavicini et al., 2019"),
    ("works", "jelen-2021", "Jelen et al., 2021"),
    ("works", "aleksandrova-phillips-2021", "Aleksandrova and Phillips, 2021"),
    ("works", "walsh-2022", "Walsh et al., 2022"),
    ("works", "maruki-2022", "Maruki et al., 2022"),
    ("works", "drozdz-2022", "Drozdz et al., 2022"),
    ("works", "kopelman-2023", "Kopelman et al., 2023"),
    ("works", "jelen-2024", "Jelen et al., 2024"),
    ("works", "nutt-2024", "Nutt et al., 2024"),
    ("works", "diep-2025", "Diep et al., 2025"),
];

fn url_of(id: &str) -> String {
    let (collection, ..) =
        BIBLIOGRAPHY.iter().find(|(_, i, _)| *i == id).unwrap_or_else(|| panic!("{id} is not in BIBLIOGRAPHY"));
    format!("/{collection}/{id}/")
}

#[test]
fn the_references_page_is_the_whole_bibliography() {
    let references = page("references/index.html");
    for (_, id, label) in BIBLIOGRAPHY {
        // The label, linked, then straight to the citing pages: no title
        // of the site's own that could pass for the paper's.
        let item = format!(r#"<li id="{id}"><a href="{}">{label}</a>. Cited on this site in: <a href="#, url_of(id));
        assert!(references.contains(&item), "the references page lacks {item}");
        // Citing pages are eras, studies and plain pages, never another
        // work, whose label would read as a paper citing this one.
        let start = references.find(&item).unwrap();
        let line = &references[start..start + references[start..].find("</li>").unwrap()];
        assert!(!line[item.len()..].contains("/works/"), "a work's page cites {id}: link to it instead");
    }
    assert_eq!(references.matches("<li id=").count(), BIBLIOGRAPHY.len(), "entries that the review does not cite");
    // The exports list the same works, without the site's own page titles,
    // which the review does not give and a reader would take for the papers'.
    let bib = page("bibliography.bib");
    assert_eq!(bib.matches("@misc{").count(), BIBLIOGRAPHY.len());
    assert!(!bib.contains("title ="), "the BibTeX gives titles the source does not");
    let csl = page("bibliography.json");
    assert_eq!(csl.matches("\"citation-label\"").count(), BIBLIOGRAPHY.len());
    assert!(!csl.contains("\"title\""), "the CSL-JSON gives titles the source does not");
    // Not publications: no author-year label, not in the bibliography.
    for id in ["roquet-psychosynthesis", "bristol-challenge-pilot"] {
        assert!(!references.contains(&format!("<li id=\"{id}\"")), "{id} is listed as a cited work");
        assert!(!page(&format!("studies/{id}/index.html")).contains("n.d."), "{id} has an undated label");
    }
    for entry in walkdir::WalkDir::new(built()).into_iter().map(|e| e.unwrap()).filter(|e| e.file_type().is_file()) {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        assert!(!text.contains("()</span>"), "{} shows an empty citation label", entry.path().display());
    }
}

/// The works each era page uses, and so must cite.
const ERA_CITATIONS: &[(&str, &[&str])] = &[
    ("anaesthetic-origins", &["corssen-domino-1966"]),
    (
        "dissociative-therapy",
        &[
            "kolp-2014",
            "walsh-2022",
            "khorramzadeh-lofty-1973",
            "krupitsky-1992",
            "krupitsky-grinenko-1997",
            "krupitsky-2002",
            "diep-2025",
            "collier-1972",
            "sklar-1981",
            "hansen-1988",
            "dakwar-2014",
            "dakwar-2017",
            "dakwar-2020",
            "grabski-2022",
        ],
    ),
    (
        "nmda-antagonism",
        &["watkins-evans-2006", "lodge-1982", "nutt-glue-1990", "krystal-1994", "trullas-skolnick-1990"],
    ),
    (
        "liquid-ect",
        &[
            "sofia-harakal-1975",
            "berman-2000",
            "zarate-2006",
            "diazgranados-2010a",
            "diazgranados-2010b",
            "zarate-2012",
            "price-2022",
            "ekstrand-2022",
            "anand-2023",
            "caddy-2015",
            "jelen-2024",
            "maruki-2022",
            "fernie-2017",
            "anderson-2017",
        ],
    ),
    (
        "esketamine",
        &[
            "nutt-feetam-2010",
            "himmelseher-pfenninger-1998",
            "jelen-2021",
            "popova-2019",
            "janik-2025",
            "zaki-2023",
            "reif-2023",
        ],
    ),
    (
        "ketamine-psychotherapy",
        &[
            "walsh-2022",
            "dakwar-2020",
            "gent-2024",
            "grabski-2022",
            "dakwar-2014",
            "dakwar-2017",
            "azhari-2021",
            "pfleiderer-2003",
            "evans-1976",
            "zaki-2023",
            "nutt-2024",
            "hansen-1988",
            "studerus-2010",
            "diep-2025",
            "pallavicini-2019",
            "carhart-harris-nutt-2017",
            "kopelman-2023",
            "aleksandrova-phillips-2021",
            "garel-2023",
            "greenway-2024",
            "drozdz-2022",
            "greenway-2025",
        ],
    ),
];

#[test]
fn each_era_cites_the_works_whose_findings_it_uses() {
    for (era, ids) in ERA_CITATIONS {
        let html = page(&format!("eras/{era}/index.html"));
        for id in *ids {
            let citation = format!(r#"<a class="citation" href="{}">"#, url_of(id));
            assert!(html.contains(&citation), "the {era} era uses {id} without citing it");
        }
    }
    // Every work of the bibliography is used by some era.
    for (_, id, _) in BIBLIOGRAPHY {
        assert!(ERA_CITATIONS.iter().any(|(_, ids)| ids.contains(id)), "no era cites {id}");
    }
}

/// Studies whose design the review states, with the words it states it in.
const DESIGN_STATED: &[(&str, &str, &str)] = &[
    ("berman-2000", "randomised controlled trial", "randomised to ketamine or saline; the first controlled study"),
    ("krupitsky-grinenko-1997", "randomised controlled trial", "called an RCT"),
    ("krupitsky-2002", "randomised controlled trial", "called an RCT"),
    ("grabski-2022", "randomised controlled trial", "randomised to four arms, two of them placebo"),
    ("greenway-2025", "randomised controlled trial", "called an RCT"),
    ("zarate-2006", "crossover trial", "\"in a crossover design\""),
    ("collier-1972", "comparative study", "compared 131 patients given ketamine with 80 given other agents"),
    ("ekstrand-2022", "comparative study", "outcomes compared with standard ECT"),
    ("anand-2023", "comparative study", "a head-to-head multi-site study"),
    ("fernie-2017", "comparative study", "outcomes compared between two anaesthetics for ECT"),
    ("reif-2023", "comparative study", "compared with quetiapine"),
    ("sofia-harakal-1975", "preclinical", "\"pre-clinical animal research\""),
    ("trullas-skolnick-1990", "preclinical", "shown in rodents"),
    ("roquet-psychosynthesis", "clinical practice", "a treatment technique used on patients"),
    ("bristol-challenge-pilot", "challenge study", "a ketamine challenge test, piloted in volunteers"),
];

/// Studies whose design the review does not state, and why none is given.
const DESIGN_NOT_STATED: &[(&str, &str)] = &[
    ("corssen-domino-1966", "cited only for the first tests in humans"),
    ("khorramzadeh-lofty-1973", "\"early reports\", no design"),
    ("sklar-1981", "\"a 1981 study\", no design"),
    ("lodge-1982", "what was found, not how"),
    ("hansen-1988", "\"a Danish study\", no design"),
    ("krupitsky-1992", "aversive therapy, no design"),
    ("krystal-1994", "\"human volunteer studies\" as a model, no design"),
    ("diazgranados-2010a", "a finding only"),
    ("diazgranados-2010b", "a finding only"),
    ("zarate-2012", "a finding only"),
    ("dakwar-2014", "methods listed once for four studies; not called an RCT"),
    ("dakwar-2017", "\"a larger study\"; methods listed once for four studies"),
    ("dakwar-2020", "an example of a psychotherapy added; methods listed once for four studies"),
    ("anderson-2017", "\"a different approach\", no design"),
    ("azhari-2021", "\"the first clinical trial\", no design"),
    ("price-2022", "\"see Price et al.\": not said to be a review"),
    ("garel-2023", "a group's success, no design"),
    ("greenway-2024", "a group's success, no design"),
    ("gent-2024", "an example of MBRP added to ketamine"),
    ("zaki-2023", "a finding only"),
    ("janik-2025", "\"evidence ... is now published\", no design"),
];

#[test]
fn designs_are_only_those_the_source_states() {
    assert_eq!(DESIGN_STATED.len() + DESIGN_NOT_STATED.len(), STUDIES.len(), "a study is in neither list");
    let evidence = page("evidence/index.html");
    let row = |id: &str| {
        let start = evidence.find(&format!("href=\"/studies/{id}/\"")).unwrap_or_else(|| panic!("{id}"));
        let end = start + evidence[start..].find("</tr>").unwrap();
        evidence[start..end].to_string()
    };
    // Every study listed by a design's term page is one the review gives that design.
    for term in std::fs::read_dir(built().join("design")).unwrap().map(|e| e.unwrap()) {
        if !term.path().is_dir() {
            continue;
        }
        let html = std::fs::read_to_string(term.path().join("index.html")).unwrap();
        for (id, ..) in DESIGN_NOT_STATED {
            assert!(!html.contains(&format!("/studies/{id}/")), "{id} has a design the source does not state");
        }
        for (id, design, _) in DESIGN_STATED {
            let slug = design.replace(' ', "-");
            let listed = html.contains(&format!("/studies/{id}/"));
            assert_eq!(listed, term.file_name() == *slug, "{id} under design {:?}", term.file_name());
        }
    }
    for (id, why) in DESIGN_NOT_STATED {
        assert!(row(id).contains("not stated"), "{id} ({why}): the evidence table should say \"not stated\"");
    }
    for (id, design, _) in DESIGN_STATED {
        assert!(row(id).contains(design), "{id}: the evidence table should say {design}");
    }
}

#[test]
fn a_volunteer_model_is_not_a_treated_indication() {
    let psychosis = page("indications/psychosis/index.html");
    assert!(!psychosis.contains("/studies/krystal-1994/"), "a volunteer model listed as a treatment of psychosis");
    assert!(psychosis.contains("/studies/roquet-psychosynthesis/"));
    assert!(page("population/volunteers/index.html").contains("/studies/krystal-1994/"));
    // The pilot was in healthy volunteers and never reached dependent
    // drinkers; Nutt and Glue are cited for the theory alone.
    assert!(page("population/healthy-volunteers/index.html").contains("/studies/bristol-challenge-pilot/"));
    let alcohol = page("indications/alcohol-dependence/index.html");
    assert!(!alcohol.contains("bristol-challenge-pilot") && !alcohol.contains("nutt-glue-1990"));
    let pilot = page("studies/bristol-challenge-pilot/index.html");
    assert!(pilot.contains(r#"<a class="citation" href="/works/nutt-glue-1990/">Nutt and Glue, 1990</a>"#));
}

#[test]
fn time_points_are_the_last_reported_not_a_follow_up() {
    fact("zarate-2006", "Last time point reported", "1 week");
    fact("dakwar-2017", "Last time point reported", "28 hours");
    assert!(!page("studies/zarate-2006/index.html").contains("Follow-up"));
}

#[test]
fn the_about_page_states_the_declared_interests() {
    let about = page("about/index.html");
    assert!(about.contains(r#"id="declared-interests""#));
    for fact in
        ["D.J.N.", "Janssen", "chief scientific officer of Solvonis Therapeutics", "C.M.", "advisory board of Solvonis"]
    {
        assert!(about.contains(fact), "the about page does not say {fact:?}");
    }
    // The pages that mention Janssen's programme and the Solvonis trial point there.
    for era in ["esketamine", "ketamine-psychotherapy"] {
        assert!(page(&format!("eras/{era}/index.html")).contains("/about/#declared-interests"), "{era}");
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
