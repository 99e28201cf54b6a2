//! The preview server, talked to over real sockets on a free port: pages,
//! live reload on edits, the error overlay and recovery, and refusal of
//! every path that tries to leave the output.

mod common;
use annals::serve::{self, Report, Running};
use common::TestSite;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BOUND: Duration = Duration::from_secs(10);

struct Preview {
    site: TestSite,
    running: Option<Running>,
    reports: mpsc::Receiver<Report>,
}

impl Preview {
    /// Serves the basic fixture; its first build must succeed.
    fn start() -> Preview {
        Preview::holding_text_up_to(annals::engine::HOLD_TEXT_UP_TO)
    }

    /// With `0`, the preview treats the fixture as a large site: it holds
    /// no body's text, and keeps its outputs in a spill file on disk.
    fn holding_text_up_to(bytes: usize) -> Preview {
        let mut site = TestSite::fixture("basic");
        site.options.hold_text_up_to = bytes;
        let (preview, first) = Preview::of(site);
        assert!(matches!(first, Report::Built { .. }), "{first:?}");
        preview
    }

    /// Serves `site` on a free port, returning the report of its first build.
    fn of(site: TestSite) -> (Preview, Report) {
        let (tx, reports) = mpsc::channel();
        let reporter = Box::new(move |r: Report| {
            let _ = tx.send(r);
        });
        let running = serve::serve(site.options.clone(), [127, 0, 0, 1].into(), 0, reporter).expect("serve starts");
        let first = reports.recv_timeout(BOUND).expect("first build reported");
        (Preview { site, running: Some(running), reports }, first)
    }

    fn addr(&self) -> SocketAddr {
        self.running.as_ref().unwrap().addr
    }

    /// Saves a file the way most editors do: write aside, rename over. One
    /// event, never a half-written file.
    fn save(&self, rel: &str, text: &str) {
        let path = self.site.root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let tmp = path.with_file_name(".annals-test-save.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(tmp, path).unwrap();
    }

    /// Waits for the rebuild that follows an edit to be reported.
    fn next_report(&self) -> Report {
        self.reports.recv_timeout(BOUND).expect("a rebuild within the bound")
    }
}

impl Drop for Preview {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop();
        }
    }
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

/// A raw HTTP/1.1 request, so that paths reach the server unnormalised.
fn request(addr: SocketAddr, method: &str, path: &str) -> Reply {
    let (head, body) = exchange(addr, method, path, "");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Reply { status, head, body: String::from_utf8_lossy(&body).into_owned() }
}

/// Sends a request with `headers` (lines ending in CRLF): the reply's head, and its body as sent.
fn exchange(addr: SocketAddr, method: &str, path: &str, headers: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(BOUND)).unwrap();
    let host = format!("Host: localhost:{}", addr.port());
    write!(stream, "{method} {path} HTTP/1.1\r\n{host}\r\n{headers}Connection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n").map_or(raw.len(), |at| at + 4);
    let body = raw.split_off(at);
    (String::from_utf8_lossy(&raw).trim_end().to_string(), body)
}

fn get(addr: SocketAddr, path: &str) -> Reply {
    request(addr, "GET", path)
}

/// An open live-reload stream.
struct Events {
    stream: TcpStream,
    seen: String,
}

impl Events {
    fn open(addr: SocketAddr) -> Events {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        write!(stream, "GET /__annals/events HTTP/1.1\r\nHost: localhost:{}\r\n\r\n", addr.port()).unwrap();
        let mut events = Events { stream, seen: String::new() };
        events.wait_for("retry:");
        events
    }

    /// Reads until `needle` arrives (bounded), and consumes up to it.
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + BOUND;
        loop {
            if let Some(at) = self.seen.find(needle) {
                let end = self.seen[at..].find("\n\n").map_or(self.seen.len(), |e| at + e + 2);
                let event: String = self.seen.drain(..end).collect();
                return event;
            }
            assert!(Instant::now() < deadline, "no {needle:?} within {BOUND:?}; got {:?}", self.seen);
            let mut buf = [0u8; 4096];
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("event stream closed"),
                Ok(n) => self.seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
}

#[test]
fn serves_pages_with_the_live_reload_script_and_proper_types() {
    let p = Preview::start();
    let home = get(p.addr(), "/");
    assert_eq!(home.status, 200);
    assert!(home.head.contains("Content-Type: text/html; charset=utf-8"), "{}", home.head);
    assert!(home.body.contains("annals live reload"));
    let css = get(p.addr(), "/style.css");
    assert_eq!(css.status, 200);
    assert!(css.head.contains("Content-Type: text/css"), "{}", css.head);
    let asset = get(p.addr(), "/studies/figure.txt");
    assert!(asset.head.contains("Content-Type: text/plain"));
    // A folder without its trailing slash redirects.
    let redirect = get(p.addr(), "/studies/alpha-2000");
    assert_eq!(redirect.status, 301);
    assert!(redirect.head.contains("Location: /studies/alpha-2000/"), "{}", redirect.head);
    // HEAD: the headers of GET, no body.
    let head = request(p.addr(), "HEAD", "/about/");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    // Unknown pages get the theme's 404 page with status 404.
    let missing = get(p.addr(), "/no/such/page/");
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("Page not found"));
    assert_eq!(request(p.addr(), "POST", "/").status, 405);
}

#[test]
fn pages_are_sent_as_kept_gzip_packed_to_clients_that_take_it() {
    for hold in [annals::engine::HOLD_TEXT_UP_TO, 0] {
        sent_as_kept(Preview::holding_text_up_to(hold));
    }
}

/// Kept in memory or on disk, each output is sent packed or not as asked.
fn sent_as_kept(p: Preview) {
    use std::io::Read;
    for path in ["/", "/studies/alpha-2000/", "/search/meta.js", "/no/such/page/"] {
        let (plain_head, plain) = exchange(p.addr(), "GET", path, "");
        assert!(!plain_head.contains("Content-Encoding"), "{plain_head}");
        let (head, packed) = exchange(p.addr(), "GET", path, "Accept-Encoding: gzip, deflate, br\r\n");
        assert!(head.contains("Content-Encoding: gzip"), "{path}: {head}");
        assert!(head.contains("Vary: Accept-Encoding"), "{path}: {head}");
        assert!(head.contains(&format!("Content-Length: {}", packed.len())), "{path}: {head}");
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&packed[..]).read_to_end(&mut unpacked).unwrap();
        assert!(unpacked == plain, "{path}: the packed reply is not the page");
        assert!(packed.len() < plain.len());
    }
    // Refused with q=0 (also when `*` would take it), or not named at all.
    for refusing in ["gzip;q=0, *\r\n", "identity\r\n", "br, deflate\r\n"] {
        let (head, _) = exchange(p.addr(), "GET", "/", &format!("Accept-Encoding: {refusing}"));
        assert!(!head.contains("Content-Encoding"), "{refusing}: {head}");
    }
    let (head, _) = exchange(p.addr(), "GET", "/", "Accept-Encoding: *;q=0.5\r\n");
    assert!(head.contains("Content-Encoding: gzip"), "{head}");
}

#[test]
fn build_output_never_contains_the_live_reload_script() {
    let site = TestSite::fixture("basic");
    site.build_ok().lacks("index.html", "annals live reload").lacks("index.html", "__annals");
}

#[test]
fn an_edit_reloads_open_pages_with_the_new_text() {
    for hold in [annals::engine::HOLD_TEXT_UP_TO, 0] {
        reloads_with_the_new_text(Preview::holding_text_up_to(hold));
    }
}

fn reloads_with_the_new_text(p: Preview) {
    assert!(get(p.addr(), "/studies/gamma-2010/").body.contains("A review of"));
    let mut events = Events::open(p.addr());
    p.save(
        "content/studies/gamma-2010.md",
        "---\ntitle: Gamma review\nauthors: [Gamma]\nyear: 2010\nera: late\ndesign: review\nkey_finding: Reviews agree.\n---\nFreshly edited text.\n",
    );
    let event = events.wait_for("event: reload");
    assert!(event.contains("studies/gamma-2010/index.html"), "{event}");
    assert!(get(p.addr(), "/studies/gamma-2010/").body.contains("Freshly edited text."));
    match p.next_report() {
        Report::Built { rendered, .. } => assert!(rendered > 0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_broken_edit_shows_the_overlay_and_keeps_the_last_good_site_until_fixed() {
    let p = Preview::start();
    let mut events = Events::open(p.addr());
    let path = "content/studies/beta-2005.md";
    let good = std::fs::read_to_string(p.site.root.join(path)).unwrap();
    p.save(path, &good.replace("era: late", "era: lat"));
    let event = events.wait_for("event: errors");
    assert!(event.contains("data: content/studies/beta-2005.md:5:6: error: field `era` refers to `lat`"), "{event}");
    // The previous page is still served.
    assert!(get(p.addr(), "/studies/beta-2005/").body.contains(r#"<a href="/eras/late/">"#));
    // A page opened now sees the errors at once.
    let mut late = Events::open(p.addr());
    late.wait_for("event: errors");
    // Fixed: pages reload and the overlay goes.
    p.save(path, &good.replace("era: late", "era: early"));
    events.wait_for("event: reload");
    assert!(get(p.addr(), "/studies/beta-2005/").body.contains(r#"<a href="/eras/early/">"#));
}

#[test]
fn a_stylesheet_change_swaps_css_without_a_reload() {
    let p = Preview::start();
    let mut events = Events::open(p.addr());
    p.save("static/extra.css", "body { color: teal }\n");
    events.wait_for("event: css");
    assert!(get(p.addr(), "/extra.css").body.contains("teal"));
    // Events arrive in order: a later failed build's errors come after any
    // reload the stylesheet change might have sent, and there is none.
    let study = std::fs::read_to_string(p.site.root.join("content/studies/beta-2005.md")).unwrap();
    p.save("content/studies/beta-2005.md", &study.replace("era: late", "era: nowhere"));
    let between = events.wait_for("event: errors");
    assert!(!between.contains("event: reload"), "a stylesheet change reloaded the page: {between}");
}

#[test]
fn deleting_a_page_removes_it_and_reports_links_to_it() {
    let p = Preview::start();
    let mut events = Events::open(p.addr());
    p.site.remove("content/studies/gamma-2010.md");
    let event = events.wait_for("event: errors");
    assert!(event.contains("unknown citation `@gamma-2010`"), "{event}");
    p.save("content/about.md", "No citations now.\n");
    events.wait_for("event: reload");
    assert_eq!(get(p.addr(), "/studies/gamma-2010/").status, 404);
}

#[test]
fn editor_save_patterns_are_handled() {
    let p = Preview::start();
    let mut events = Events::open(p.addr());
    // Swap and backup files are ignored; an atomic rename-over save is seen.
    p.site.write("content/studies/.alpha-2000.md.swp", "garbage");
    p.site.write("content/studies/alpha-2000.md~", "garbage");
    let path = p.site.root.join("content/studies/alpha-2000.md");
    let text = std::fs::read_to_string(&path).unwrap().replace("The Alpha trial.", "Saved atomically.");
    let tmp = p.site.root.join("content/studies/.alpha.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    events.wait_for("event: reload");
    assert!(get(p.addr(), "/studies/alpha-2000/").body.contains("Saved atomically."));
    // A folder moved in.
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir(outside.path().join("notes")).unwrap();
    std::fs::write(outside.path().join("notes/n.md"), "# Moved in\n").unwrap();
    std::fs::rename(outside.path().join("notes"), p.site.root.join("content/notes")).unwrap();
    events.wait_for("event: reload");
    assert!(get(p.addr(), "/notes/n/").body.contains("Moved in"));
}

#[test]
fn paths_outside_the_output_are_refused() {
    let p = Preview::start();
    // A file beside the site that a traversal would reach.
    std::fs::write(p.site.root.join("secret.txt"), "top secret").unwrap();
    for path in [
        "/../secret.txt",
        "/../../etc/passwd",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/studies/..%2f..%2fsecret.txt",
        "/..\\secret.txt",
        "/%5c..%5csecret.txt",
        "//etc/passwd",
        "/site.yaml",
        "/etc/passwd",
        "/content/about.md",
    ] {
        let reply = get(p.addr(), path);
        assert!(reply.status == 400 || reply.status == 404, "{path}: {}", reply.status);
        assert!(!reply.body.contains("top secret") && !reply.body.contains("root:"), "{path} leaked");
    }
}

#[test]
fn many_concurrent_connections_are_served() {
    let p = Preview::start();
    let _streams: Vec<Events> = (0..8).map(|_| Events::open(p.addr())).collect();
    let addr = p.addr();
    let handles: Vec<_> = (0..32)
        .map(|i| std::thread::spawn(move || get(addr, if i % 2 == 0 { "/" } else { "/about/" }).status))
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 200);
    }
}

#[test]
fn a_taken_port_is_reported_with_a_suggestion() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let site = TestSite::fixture("basic");
    let err =
        serve::serve(site.options.clone(), [127, 0, 0, 1].into(), port, Box::new(|_| {})).err().expect("port taken");
    assert!(matches!(err, serve::ServeError::PortInUse { port: p } if p == port), "{err}");
    let message = err.to_string();
    assert!(message.contains(&format!("port {port} is already in use")), "{message}");
    assert!(message.contains("--port 0"), "{message}");
}

/// `annals watch` on a site, in a thread, with its reports.
struct Watching {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    reports: mpsc::Receiver<Report>,
    thread: std::thread::JoinHandle<Result<(), serve::ServeError>>,
}

impl Watching {
    fn start(site: &TestSite) -> Watching {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (tx, reports) = mpsc::channel();
        let (options, flag) = (site.options.clone(), stop.clone());
        let report = Box::new(move |r| drop(tx.send(r)));
        let thread = std::thread::spawn(move || serve::watch(options, &flag, report));
        Watching { stop, reports, thread }
    }

    fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap().unwrap();
    }
}

#[test]
fn watch_keeps_the_output_folder_up_to_date() {
    let site = TestSite::fixture("basic");
    let watching = Watching::start(&site);
    let reports = &watching.reports;
    assert!(matches!(reports.recv_timeout(BOUND).unwrap(), Report::Built { .. }));
    assert!(!site.read("index.html").contains("__annals"), "watch output must not carry the live-reload script");
    let path = site.root.join("content/studies/gamma-2010.md");
    let text = std::fs::read_to_string(&path).unwrap().replace("A review of", "A watched review of");
    std::fs::write(site.root.join("content/studies/.tmp"), text).unwrap();
    std::fs::rename(site.root.join("content/studies/.tmp"), &path).unwrap();
    assert!(matches!(reports.recv_timeout(BOUND).unwrap(), Report::Built { .. }));
    site.contains("studies/gamma-2010/index.html", "A watched review of");
    site.remove("content/studies/gamma-2010.md").remove("static/extra.css");
    std::fs::write(site.root.join("content/about.md"), "Plain.\n").unwrap();
    loop {
        match reports.recv_timeout(BOUND).expect("a rebuild") {
            Report::Built { .. } if !site.exists("studies/gamma-2010/index.html") && !site.exists("extra.css") => break,
            _ => {}
        }
    }
    watching.stop();
    assert_eq!(common::snapshot(&site.out()), {
        let fresh = TestSite::fixture("basic");
        fresh.remove("content/studies/gamma-2010.md").remove("static/extra.css");
        std::fs::write(fresh.root.join("content/about.md"), "Plain.\n").unwrap();
        fresh.build_ok();
        common::snapshot(&fresh.out())
    });
}

#[test]
fn a_site_that_fails_its_first_build_shows_the_errors_then_recovers() {
    let (p, first) = Preview::of(TestSite::with_error("broken-link"));
    assert!(matches!(first, Report::Failed { .. }), "serve starts even when the site is broken");
    let page = get(p.addr(), "/");
    assert_eq!(page.status, 404);
    assert!(page.body.contains("annals live reload"), "the overlay needs the script: {}", page.body);
    let mut events = Events::open(p.addr());
    events.wait_for("event: errors");
    p.site.remove("content/studies/epsilon-2015.md");
    events.wait_for("event: reload");
    assert_eq!(get(p.addr(), "/").status, 200);
}

#[test]
fn several_files_saved_at_once_and_a_folder_moved_out() {
    let p = Preview::start();
    let mut events = Events::open(p.addr());
    p.site.write("content/notes/a.md", "# Note A\n");
    p.site.write("content/notes/b.md", "# Note B\n");
    events.wait_for("event: reload");
    // Both saves are in the site, whether they came in one burst or two.
    let deadline = Instant::now() + BOUND;
    while get(p.addr(), "/notes/b/").status != 200 {
        assert!(Instant::now() < deadline, "second note never appeared");
        events.wait_for("event: reload");
    }
    assert!(get(p.addr(), "/notes/a/").body.contains("Note A"));
    let outside = tempfile::tempdir().unwrap();
    std::fs::rename(p.site.root.join("content/notes"), outside.path().join("notes")).unwrap();
    events.wait_for("event: reload");
    assert_eq!(get(p.addr(), "/notes/a/").status, 404);
}

#[cfg(unix)]
#[test]
fn symlinks_pointing_out_of_the_site_are_neither_copied_nor_served() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "top secret").unwrap();
    let site = TestSite::fixture("basic");
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), site.root.join("static/secret.txt")).unwrap();
    std::os::unix::fs::symlink(outside.path(), site.root.join("static/linked")).unwrap();
    site.build_ok();
    assert!(!site.exists("secret.txt") && !site.exists("linked/secret.txt"));
    let (p, _) = Preview::of(site);
    for path in ["/secret.txt", "/linked/secret.txt"] {
        let reply = get(p.addr(), path);
        assert_eq!(reply.status, 404, "{path}");
        assert!(!reply.body.contains("top secret"));
    }
}

// What the preview shows is what `build` would publish: each of these once
// made the preview show a site that `build` refuses, or miss a change.

#[test]
fn a_broken_site_yaml_stays_an_error_when_a_study_is_saved() {
    let p = Preview::start();
    let mut events = Events::open(p.addr());
    let config = std::fs::read_to_string(p.site.root.join("site.yaml")).unwrap();
    p.save("site.yaml", &config.replace("title: Fixture history", "title: [unclosed"));
    events.wait_for("event: errors");
    assert!(matches!(p.next_report(), Report::Failed { .. }));
    let study = std::fs::read_to_string(p.site.root.join("content/studies/beta-2005.md")).unwrap();
    p.save("content/studies/beta-2005.md", &format!("{study}\nMore prose.\n"));
    assert!(matches!(p.next_report(), Report::Failed { .. }), "the rebuild forgot the broken configuration");
    let event = events.wait_for("event: ");
    assert!(event.starts_with("event: errors") && event.contains("site.yaml"), "{event}");
    p.save("site.yaml", &config);
    events.wait_for("event: reload");
}

#[test]
fn editing_a_component_or_what_it_lists_re_renders_its_callers() {
    let site = TestSite::fixture("basic");
    site.write(
        "templates/components.html",
        "{% component badge(text, count) %}<b class=\"badge\">{{ text }}: {{ count }}</b>{% endcomponent badge %}",
    );
    site.write("templates/badge.html", "<!doctype html><title>{{ page.title }}</title><body>{{<badge text=\"studies\" count={collections.studies | length}/>}}</body>");
    let about = std::fs::read_to_string(site.root.join("content/about.md")).unwrap();
    site.write("content/about.md", &about.replacen("---\n", "---\ntemplate: badge.html\n", 1));
    let (p, first) = Preview::of(site);
    assert!(matches!(first, Report::Built { .. }), "{first:?}");
    let body = get(p.addr(), "/about/").body;
    assert!(body.contains("<b class=\"badge\">studies: 3</b>"), "{body}");
    let mut events = Events::open(p.addr());
    let components = std::fs::read_to_string(p.site.root.join("templates/components.html")).unwrap();
    p.save(
        "templates/components.html",
        &components.replace("<b class=\"badge\">", "<i class=\"badge\">").replace("</b>", "</i>"),
    );
    events.wait_for("event: reload");
    assert!(get(p.addr(), "/about/").body.contains("<i class=\"badge\">studies: 3</i>"));
    // A global passed to the component: a new study changes the page.
    let alpha = std::fs::read_to_string(p.site.root.join("content/studies/alpha-2000.md")).unwrap();
    p.save("content/studies/omega-2020.md", &alpha.replace("year: 2000", "year: 2020"));
    events.wait_for("event: reload");
    assert!(get(p.addr(), "/about/").body.contains("studies: 4"));
}

#[test]
fn a_theme_switched_while_serving_is_watched() {
    let site = TestSite::fixture("basic");
    common::copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("themes/default"),
        &site.root.join("themes/other"),
    );
    let (p, _) = Preview::of(site);
    let mut events = Events::open(p.addr());
    let config = std::fs::read_to_string(p.site.root.join("site.yaml")).unwrap();
    p.save("site.yaml", &config.replace("theme: default", "theme: other"));
    events.wait_for("event: reload");
    let page = std::fs::read_to_string(p.site.root.join("themes/other/templates/page.html")).unwrap();
    p.save("themes/other/templates/page.html", &page.replacen("</", "<p id=\"from-other-theme\"></p></", 1));
    events.wait_for("event: reload");
    assert!(get(p.addr(), "/about/").body.contains("from-other-theme"));
}

#[test]
fn a_content_folder_replaced_in_one_burst_is_still_watched() {
    let p = Preview::start();
    let mut events = Events::open(p.addr());
    let root = &p.site.root;
    std::fs::rename(root.join("content"), root.join("content-old")).unwrap();
    common::copy_dir(&root.join("content-old"), &root.join("content"));
    events.wait_for("event: ");
    let about = std::fs::read_to_string(root.join("content/about.md")).unwrap();
    p.save("content/about.md", &about.replace("# About", "# About, after the copy"));
    let deadline = Instant::now() + BOUND;
    while !get(p.addr(), "/about/").body.contains("About, after the copy") {
        assert!(Instant::now() < deadline, "the edit in the new content/ was never seen");
        events.wait_for("event: ");
    }
}

#[cfg(unix)]
#[test]
fn an_asset_swapped_for_a_symlink_is_not_served_while_the_build_fails() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "top secret").unwrap();
    let p = Preview::start();
    let mut events = Events::open(p.addr());
    let study = std::fs::read_to_string(p.site.root.join("content/studies/beta-2005.md")).unwrap();
    p.save("content/studies/beta-2005.md", &study.replace("era: late", "era: nowhere"));
    events.wait_for("event: errors");
    let asset = p.site.root.join("static/extra.css");
    std::fs::remove_file(&asset).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), &asset).unwrap();
    events.wait_for("event: errors");
    let reply = get(p.addr(), "/extra.css");
    assert!(!reply.body.contains("top secret"), "served through a symlink: {}", reply.body);
}

// The server under abuse.

#[test]
fn requests_for_other_hosts_are_refused() {
    let p = Preview::start();
    let port = p.addr().port();
    for (host, status) in [
        (format!("localhost:{port}"), 200),
        (format!("127.0.0.1:{port}"), 200),
        (format!("attacker.example:{port}"), 403),
        ("localhost:1".to_string(), 403),
    ] {
        let mut stream = TcpStream::connect(p.addr()).unwrap();
        write!(stream, "GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        assert!(raw.starts_with(&format!("HTTP/1.1 {status} ")), "{host}: {raw}");
    }
}

#[test]
fn an_oversized_request_head_is_refused() {
    let p = Preview::start();
    let mut stream = TcpStream::connect(p.addr()).unwrap();
    stream.set_read_timeout(Some(BOUND)).unwrap();
    let padding = "x".repeat(annals::serve::http::MAX_HEAD);
    // The server may close before reading it all: a failed write is fine.
    let _ = write!(stream, "GET / HTTP/1.1\r\nHost: localhost:{}\r\nX-Padding: {padding}\r\n\r\n", p.addr().port());
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    assert!(String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 431 "), "{}", String::from_utf8_lossy(&raw));
}

#[cfg(target_os = "linux")]
#[test]
fn the_server_survives_running_out_of_file_descriptors() {
    let site = TestSite::fixture("basic");
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 64 && exec '{}' --root '{}' serve --port 0",
            env!("CARGO_BIN_EXE_annals"),
            site.root.display()
        ))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    while !line.contains("Serving at") {
        line.clear();
        assert!(std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() > 0, "serve exited");
    }
    let addr: SocketAddr =
        line.trim().trim_start_matches("Serving at http://").split('/').next().unwrap().parse().unwrap();
    // Idle connections past the process's limit: accepting fails for a while.
    let hogs: Vec<TcpStream> = (0..100).filter_map(|_| TcpStream::connect(addr).ok()).collect();
    assert!(hogs.len() > 64);
    drop(hogs);
    let deadline = Instant::now() + BOUND;
    loop {
        let reply = std::panic::catch_unwind(|| get(addr, "/about/").status);
        if reply.ok() == Some(200) {
            break;
        }
        assert!(Instant::now() < deadline, "the server stopped answering after running out of descriptors");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn reports_name_the_saved_file_not_the_editors_temporary_one() {
    let p = Preview::start();
    let about = p.site.root.join("content/about.md");
    let text = std::fs::read_to_string(&about).unwrap();
    // How some editors save: a temporary file beside the real one, renamed over it.
    let tmp = p.site.root.join("content/about.md___jb_tmp___");
    std::fs::write(&tmp, text.replace("# About", "# About, saved")).unwrap();
    std::fs::rename(&tmp, &about).unwrap();
    match p.next_report() {
        Report::Built { trigger, .. } => assert_eq!(trigger, [PathBuf::from("content/about.md")]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_large_file_is_served_whole() {
    let site = TestSite::fixture("basic");
    let big: Vec<u8> = (0..6_000_000u32).map(|n| (n % 251) as u8).collect();
    std::fs::write(site.root.join("content/studies/data.bin"), &big).unwrap();
    let (p, _) = Preview::of(site);
    let mut stream = TcpStream::connect(p.addr()).unwrap();
    stream.set_read_timeout(Some(BOUND)).unwrap();
    write!(
        stream,
        "GET /studies/data.bin HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
        p.addr().port()
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&raw[..split]);
    assert!(head.starts_with("HTTP/1.1 200 ") && head.contains("Content-Length: 6000000"), "{head}");
    assert!(raw[split..] == big[..], "the body differs from the file");
}

#[cfg(unix)]
#[test]
fn watch_never_writes_into_a_folder_put_in_place_of_its_output() {
    let site = TestSite::fixture("basic");
    let watching = Watching::start(&site);
    let reports = &watching.reports;
    assert!(matches!(reports.recv_timeout(BOUND).unwrap(), Report::Built { .. }));
    // The user swaps the output for a symlink to a folder of their own.
    let mine = tempfile::tempdir().unwrap();
    std::fs::write(mine.path().join("notes.txt"), "mine").unwrap();
    std::fs::rename(site.out(), site.root.join("old-public")).unwrap();
    std::os::unix::fs::symlink(mine.path(), site.out()).unwrap();
    let about = site.root.join("content/about.md");
    let text = std::fs::read_to_string(&about).unwrap();
    std::fs::write(&about, format!("{text}\nMore.\n")).unwrap();
    match reports.recv_timeout(BOUND).unwrap() {
        Report::Failed { errors, .. } => {
            assert!(errors[0].message.contains("no longer the folder annals wrote"), "{errors:?}")
        }
        other => panic!("{other:?}"),
    }
    let files: Vec<_> = std::fs::read_dir(mine.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(files, ["notes.txt"]);
    watching.stop();
}
