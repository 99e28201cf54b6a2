//! The search index, queried from Rust as `search.js` queries it: one shard
//! per word, by prefix, every word required, documents fetched for results.

mod common;
use common::TestSite;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The JSON inside `annalsSearch("name",{...});`.
fn data(out: &Path, name: &str) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(out.join("search").join(format!("{name}.js"))).ok()?;
    let json = text.split_once(',').unwrap().1.trim_end().trim_end_matches(");");
    Some(serde_json::from_str(json).expect("valid JSON"))
}

/// The URLs of the documents that match every word of `query`, best first.
fn search(out: &Path, query: &str) -> Vec<String> {
    let mut total: Option<BTreeMap<u64, u64>> = None;
    for word in annals::search::tokens(query) {
        let key = annals::search::shard_key(&word);
        let mut scores = BTreeMap::new();
        if let Some(shard) = data(out, &format!("t/{key}")) {
            for (term, postings) in shard.as_object().unwrap() {
                if term == &word || (word.chars().count() >= 3 && term.starts_with(&*word)) {
                    let flat: Vec<u64> = postings.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
                    let mut doc = 0;
                    for pair in flat.chunks(2) {
                        doc += pair[0];
                        let s: &mut u64 = scores.entry(doc).or_default();
                        *s = (*s).max(pair[1]);
                    }
                }
            }
        }
        total = Some(match total {
            None => scores,
            Some(t) => t.into_iter().filter_map(|(d, s)| scores.get(&d).map(|x| (d, s + x))).collect(),
        });
    }
    let mut ranked: Vec<(u64, u64)> = total.unwrap_or_default().into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.into_iter().map(|(d, _)| url(out, d)).collect()
}

/// The URL of document `n`, from its chunk of `search/d/`.
fn url(out: &Path, n: u64) -> String {
    let chunk = data(out, "meta").unwrap()["chunk"].as_u64().unwrap();
    let docs = data(out, &format!("d/{}", n / chunk)).unwrap();
    docs[(n % chunk) as usize]["url"].as_str().unwrap().to_string()
}

fn shipped_site() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut options = annals::engine::Options::new(env!("CARGO_MANIFEST_DIR"));
    options.output = dir.path().join("public");
    annals::engine::build(&options).expect("the shipped site builds");
    let out = dir.path().join("public");
    (dir, out)
}

#[test]
fn search_finds_a_study_by_title_author_and_a_word_of_its_text() {
    let (_dir, out) = shipped_site();
    let zarate = "/studies/zarate-2006/";
    assert_eq!(search(&out, "Ketamine versus saline crossover trial")[0], zarate, "title");
    let by_author = search(&out, "zarate");
    assert!(by_author.contains(&zarate.to_string()) && by_author.contains(&"/studies/zarate-2012/".to_string()));
    assert!(by_author.len() < 10, "{by_author:?}");
    // Words of the body, every one required: both pages say "peaked"; saline is the study's comparator.
    assert_eq!(search(&out, "peaked"), ["/eras/liquid-ect/", zarate]);
    assert_eq!(search(&out, "peaked saline")[0], zarate);
    // By prefix, as the user types.
    assert!(search(&out, "peak sali").contains(&zarate.to_string()));
    assert!(search(&out, "nosuchwordanywhere").is_empty());
    // The document carries what a result shows.
    let doc = data(&out, "meta").unwrap();
    let (documents, chunk) = (doc["documents"].as_u64().unwrap(), doc["chunk"].as_u64().unwrap());
    assert_eq!(documents.div_ceil(chunk) as usize, std::fs::read_dir(out.join("search/d")).unwrap().count());
    let last = data(&out, &format!("d/{}", (documents - 1) / chunk)).unwrap();
    assert_eq!(last.as_array().unwrap().len() as u64, (documents - 1) % chunk + 1);
    assert!(doc["filters"]["route"]["terms"]["intravenous"].as_u64().unwrap() > 5);
}

#[test]
fn filters_list_the_documents_of_each_term() {
    let (_dir, out) = shipped_site();
    let route = data(&out, "f/route").unwrap();
    let mut doc = 0;
    let intranasal: Vec<String> = route["intranasal"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            doc += d.as_u64().unwrap();
            url(&out, doc)
        })
        .collect();
    assert!(intranasal.contains(&"/studies/zaki-2023/".to_string()), "{intranasal:?}");
    for url in &intranasal {
        let page = std::fs::read_to_string(out.join(url.trim_start_matches('/')).join("index.html")).unwrap();
        assert!(page.contains("/route/intranasal/"), "{url} is not intranasal");
    }
}

/// The text a result shows for the page at `url`.
fn shown_text(out: &Path, url: &str) -> String {
    let documents = data(out, "meta").unwrap()["documents"].as_u64().unwrap();
    let n = (0..documents).find(|&n| self::url(out, n) == url).unwrap_or_else(|| panic!("{url} not indexed"));
    let chunk = data(out, "meta").unwrap()["chunk"].as_u64().unwrap();
    let docs = data(out, &format!("d/{}", n / chunk)).unwrap();
    docs[(n % chunk) as usize]["text"].as_str().unwrap().to_string()
}

#[test]
fn a_result_shows_the_text_of_its_page_not_its_markup() {
    let site = TestSite::fixture("basic");
    let rel = "content/studies/alpha-2000.md";
    let body = "\n## Dosing {#dosing}\n\n| Arm | Dose |\n|---|---|\n| Low | 0.1 mg/kg |\n\n\
                A *very* important point.[^1]\n\n[^1]: Measured ~~twice~~ once.\n";
    let front = std::fs::read_to_string(site.root.join(rel)).unwrap();
    site.write(rel, &(front + body)).build_ok();
    let text = shown_text(&site.out(), "/studies/alpha-2000/");
    // The cells and the heading as the page shows them, words apart but
    // no space before a full stop after emphasis.
    assert!(text.contains("Dosing Arm Dose Low 0.1 mg/kg A very important point."), "{text}");
    assert!(text.contains("Measured twice once."), "{text}");
    for markup in ["|", "{#", "~~", "[^", "*"] {
        assert!(!text.contains(markup), "{markup:?} in {text}");
    }
    assert_eq!(search(&site.out(), "dosing"), ["/studies/alpha-2000/"]);
}
