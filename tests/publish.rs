//! What a published site carries besides its pages: sitemap, feed, head
//! metadata, data files and bibliography; and a crawl of every link.

mod common;
use common::{TestSite, snapshot};
use std::collections::{BTreeMap, BTreeSet};

const BASE: &str = "https://example.org/annals/";

fn absolute_site() -> TestSite {
    let mut site = TestSite::fixture("basic");
    site.options.base_url = Some(BASE.into());
    site.build_ok();
    site
}

/// The text of every child element of `node` named `name`.
fn texts<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> Vec<&'a str> {
    node.children().filter(|n| n.has_tag_name(name)).filter_map(|n| n.text()).collect()
}

fn child<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> roxmltree::Node<'a, 'a> {
    node.children().find(|n| n.tag_name().name() == name).unwrap_or_else(|| panic!("no <{name}>"))
}

#[test]
fn the_sitemap_lists_every_published_page_with_absolute_urls() {
    let site = absolute_site();
    let xml = site.read("sitemap.xml");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().namespace(), Some("http://www.sitemaps.org/schemas/sitemap/0.9"));
    assert_eq!(root.tag_name().name(), "urlset");
    let locs: Vec<&str> = root.children().filter(|n| n.has_tag_name("url")).map(|u| texts(u, "loc")[0]).collect();
    // Every HTML page of the output but the 404 and search pages, once each.
    let pages: BTreeSet<String> = snapshot(&site.out())
        .into_iter()
        .map(|(p, _)| p.to_string_lossy().replace('\\', "/"))
        .filter(|p| p.ends_with("index.html") && p != "search/index.html")
        .map(|p| format!("{BASE}{}", p.trim_end_matches("index.html")))
        .collect();
    let listed: BTreeSet<String> = locs.iter().map(|s| s.to_string()).collect();
    assert_eq!(listed.len(), locs.len(), "a page is listed twice");
    assert_eq!(listed, pages);
    assert!(!xml.contains("lastmod"), "no build-time dates");
    assert!(site.read("robots.txt").contains(&format!("Sitemap: {BASE}sitemap.xml")));
}

#[test]
fn the_atom_feed_lists_the_newest_entries_with_stable_ids() {
    let site = absolute_site();
    let xml = site.read("atom.xml");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let feed = doc.root_element();
    assert_eq!(feed.tag_name().namespace(), Some("http://www.w3.org/2005/Atom"));
    for required in ["id", "title", "updated", "author"] {
        child(feed, required);
    }
    let entries: Vec<_> = feed.children().filter(|n| n.has_tag_name("entry")).collect();
    // Three studies (the fourth is a draft), newest first.
    let ids: Vec<&str> = entries.iter().map(|e| texts(*e, "id")[0]).collect();
    assert_eq!(
        ids,
        [
            format!("{BASE}studies/gamma-2010/"),
            format!("{BASE}studies/beta-2005/"),
            format!("{BASE}studies/alpha-2000/")
        ]
    );
    for e in &entries {
        for required in ["title", "updated", "summary", "link"] {
            child(*e, required);
        }
        let updated = texts(*e, "updated")[0];
        assert!(updated.len() == 20 && updated.ends_with("T00:00:00Z"), "{updated}");
        let href = child(*e, "link").attribute("href").unwrap();
        assert!(href.starts_with(BASE), "{href}");
    }
    assert_eq!(texts(feed, "updated")[0], "2010-01-01T00:00:00Z");
    assert!(texts(entries[1], "summary")[0].contains("Beta confirmed Alpha."));
    site.contains(
        "index.html",
        &format!(r#"<link rel="alternate" type="application/atom+xml" title="Fixture history" href="{BASE}atom.xml">"#),
    );
}

#[test]
fn every_page_has_its_own_description_canonical_and_card() {
    let site = absolute_site();
    let mut descriptions = BTreeMap::new();
    for (path, bytes) in snapshot(&site.out()) {
        let path = path.to_string_lossy().replace('\\', "/");
        if !path.ends_with("index.html") || path == "search/index.html" {
            continue;
        }
        let html = String::from_utf8(bytes).unwrap();
        let description = attribute_after(&html, r#"<meta name="description" content=""#);
        assert!(!description.is_empty(), "{path}: empty description");
        if let Some(other) = descriptions.insert(description.clone(), path.clone()) {
            panic!("{path} and {other} share the description {description:?}");
        }
        let canonical = format!("{BASE}{}", path.trim_end_matches("index.html"));
        assert!(html.contains(&format!(r#"<link rel="canonical" href="{canonical}">"#)), "{path}: canonical");
        for tag in [r#"property="og:title""#, r#"property="og:description""#, r#"name="twitter:card""#] {
            assert!(html.contains(tag), "{path}: no {tag}");
        }
        assert!(html.contains(&format!(r#"href="{BASE}favicon.ico""#)), "{path}: favicon");
    }
    // A study is described by the field site.yaml names; its script tag escaped.
    site.contains(
        "studies/alpha-2000/index.html",
        r#"<meta name="description" content="Alpha worked &lt;script&gt;alert(1)&lt;/script&gt;">"#,
    );
    assert!(site.exists("favicon.ico"));
    // The search page is no content: kept out of search engines.
    site.contains("search/index.html", r#"<meta name="robots" content="noindex">"#)
        .lacks("search/index.html", "canonical");
}

fn attribute_after(html: &str, prefix: &str) -> String {
    let start = html.find(prefix).unwrap_or_else(|| panic!("no {prefix}")) + prefix.len();
    html[start..].split('"').next().unwrap().to_string()
}

#[test]
fn a_relative_base_url_leaves_absolute_outputs_out_with_one_warning() {
    let site = TestSite::fixture("basic");
    let built = site.build().expect("builds");
    assert_eq!(built.warnings.len(), 1, "{:?}", built.warnings);
    assert!(built.warnings[0].message.contains("sitemap.xml"), "{}", built.warnings[0]);
    assert!(!site.exists("sitemap.xml") && !site.exists("atom.xml"));
    site.lacks("index.html", "canonical").lacks("index.html", "atom.xml").lacks("robots.txt", "Sitemap");
    assert!(site.exists("robots.txt"));
    // Absolute: no warning.
    let mut absolute = TestSite::fixture("basic");
    absolute.options.base_url = Some(BASE.into());
    assert!(absolute.build().expect("builds").warnings.is_empty());
}

#[test]
fn a_static_file_replaces_the_themes_generated_one() {
    let site = TestSite::fixture("basic");
    site.write("static/robots.txt", "User-agent: *\nDisallow: /\n");
    site.write("templates/files/humans.txt", "Made by {{ site.title }}\n");
    site.build_ok();
    assert_eq!(site.read("robots.txt"), "User-agent: *\nDisallow: /\n");
    assert_eq!(site.read("humans.txt"), "Made by Fixture history\n");
}

#[test]
fn a_base_url_without_a_leading_slash_is_an_error() {
    let site = TestSite::fixture("basic");
    let yaml = std::fs::read_to_string(site.root.join("site.yaml")).unwrap().replace("base_url: /", "base_url: sub/");
    site.write("site.yaml", &yaml);
    let errors = site.build_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0].line, errors[0].col), (3, 11), "{}", errors[0]);
    assert!(errors[0].message.contains("must be absolute"), "{}", errors[0]);
    let mut flag = TestSite::fixture("basic");
    flag.options.base_url = Some("sub/".into());
    assert!(flag.build_err()[0].message.contains("base_url `sub/`"));
}

#[test]
fn collections_and_the_bibliography_are_published_as_data() {
    let site = absolute_site();
    let data: serde_json::Value = serde_json::from_str(&site.read("data/studies.json")).expect("valid JSON");
    let entries = data["entries"].as_array().unwrap();
    let ids: Vec<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["alpha-2000", "beta-2005", "gamma-2010"], "in the collection's order, drafts left out");
    let alpha = &entries[0];
    assert_eq!(alpha["url"], format!("{BASE}studies/alpha-2000/"));
    assert_eq!(alpha["citation"], "Alpha et al., 2000");
    assert_eq!(alpha["fields"]["participants"], 14);
    assert_eq!(alpha["fields"]["topics"], serde_json::json!(["mood", "sleep"]));
    assert_eq!(alpha["fields"]["era"]["id"], "early");
    assert!(serde_json::from_str::<serde_json::Value>(&site.read("data/eras.json")).is_ok());

    let csl: serde_json::Value = serde_json::from_str(&site.read("bibliography.json")).expect("valid CSL-JSON");
    let beta = csl.as_array().unwrap().iter().find(|e| e["id"] == "beta-2005").unwrap();
    assert_eq!(beta["author"], serde_json::json!([{"family": "Beta"}, {"family": "Gamma"}]));
    assert_eq!(beta["issued"]["date-parts"], serde_json::json!([[2005]]));
    let bib = site.read("bibliography.bib");
    assert!(bib.contains("@misc{beta-2005,\n  author = {Beta and Gamma},\n  title = {{Beta crossover}},"), "{bib}");
    assert_eq!(bib.matches("@misc{").count(), 3);
    assert_eq!(bib.matches('{').count(), bib.matches('}').count(), "balanced braces");
}

/// Every internal `href` and `src` of every HTML file resolves to a file of
/// the output, and every `#fragment` to an id on the page it names.
fn crawl(out: &std::path::Path, base: &str) {
    let files: BTreeMap<String, String> = snapshot(out)
        .into_iter()
        .map(|(p, b)| (p.to_string_lossy().replace('\\', "/"), String::from_utf8_lossy(&b).into_owned()))
        .collect();
    let ids = |html: &str| -> BTreeSet<String> { values(html, "id") };
    // `https://host` of an absolute base, and the path every URL starts with.
    let origin = base.find("://").map_or("", |at| &base[..at + 3 + base[at + 3..].find('/').unwrap()]);
    let base_path = &base[origin.len()..];
    let mut checked = 0;
    for (path, html) in files.iter().filter(|(p, _)| p.ends_with(".html")) {
        for url in values(html, "href").into_iter().chain(values(html, "src")) {
            let url = url.replace("&amp;", "&");
            let local = match url.strip_prefix(origin) {
                Some(rest) if !origin.is_empty() => rest.to_string(),
                _ if url.contains("://") || url.starts_with("mailto:") => continue,
                _ => url.clone(),
            };
            let (target, fragment) = local.split_once('#').unwrap_or((&local, ""));
            let file = if target.is_empty() {
                path.clone()
            } else {
                let rest = target.strip_prefix(base_path.trim_end_matches('/')).unwrap_or_else(|| {
                    panic!("{path}: `{url}` is outside the base path {base_path}");
                });
                let rest = rest.trim_start_matches('/');
                if rest.is_empty() || rest.ends_with('/') { format!("{rest}index.html") } else { rest.to_string() }
            };
            let Some(target_html) = files.get(&file) else { panic!("{path}: `{url}` names no file ({file})") };
            if !fragment.is_empty() {
                assert!(ids(target_html).contains(fragment), "{path}: `{url}`: no id `{fragment}` in {file}");
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} links checked");
}

/// Every value of attribute `name` in `html`.
fn values(html: &str, name: &str) -> BTreeSet<String> {
    let needle = format!(" {name}=\"");
    html.match_indices(&needle)
        .map(|(at, _)| html[at + needle.len()..].split('"').next().unwrap().to_string())
        .collect()
}

#[test]
fn every_internal_link_resolves_at_the_root_and_under_a_sub_path() {
    let site = TestSite::fixture("basic");
    site.build_ok();
    crawl(&site.out(), "/");
    site.contains("studies/beta-2005/index.html", r#"<a href="/studies/alpha-2000/">Alpha trial</a>"#)
        .contains("studies/beta-2005/index.html", r#"<img src="/studies/figure.txt" alt="the figure""#);
    for base in ["/sub/path/", BASE] {
        let mut site = TestSite::fixture("basic");
        site.options.base_url = Some(base.into());
        site.build_ok();
        crawl(&site.out(), base);
        site.contains("studies/beta-2005/index.html", &format!(r#"<a href="{base}about/">"#));
    }
}

#[test]
fn every_internal_link_of_the_shipped_site_resolves_under_a_sub_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = annals::engine::Options::new(env!("CARGO_MANIFEST_DIR"));
    options.output = dir.path().join("public");
    options.base_url = Some(BASE.into());
    annals::engine::build(&options).expect("the shipped site builds");
    crawl(&options.output, BASE);
    let references = std::fs::read_to_string(options.output.join("references/index.html")).unwrap();
    assert!(references.contains(&format!(r#"href="{BASE}bibliography.bib""#)));
}

#[test]
fn two_absolute_builds_are_byte_identical() {
    let (a, b) = (absolute_site(), absolute_site());
    assert_eq!(snapshot(&a.out()), snapshot(&b.out()));
}

#[test]
fn the_preview_serves_the_new_files_as_build_writes_them() {
    let mut site = TestSite::fixture("basic");
    site.options.base_url = Some(BASE.into());
    site.build_ok();
    let mut preview = site.options.clone();
    preview.inject = Some("<script>reload()</script>".into());
    let served = annals::engine::generate(&preview).expect("builds");
    let mut compared = 0;
    for o in served.outputs.iter().filter(|o| !o.path.ends_with(".html")) {
        let written = std::fs::read(site.out().join(&*o.path)).unwrap();
        assert!(written == *o.bytes.get().unwrap(), "{} differs between build and the preview", o.path);
        compared += 1;
    }
    for name in ["sitemap.xml", "atom.xml", "robots.txt", "data/studies.json", "bibliography.bib", "search/meta.js"] {
        assert!(served.outputs.iter().any(|o| &*o.path == name), "{name} not served");
    }
    assert!(compared > 20, "{compared}");
}
