//! The preview server: HTTP over the last good build, held in memory, plus
//! the live-reload event stream. A request path is only ever a key into the
//! built site, never joined to a folder: nothing outside the output can be
//! served, whatever the path says.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tiny_http::{Header, Method, Request, Response, Server};

use crate::engine::Built;
use crate::theme::Origin;

pub const EVENTS_PATH: &str = "/__annals/events";

/// The script `serve` injects before `</body>` of every page. It lives in
/// its own file so that it can be read, linted and tested as JavaScript.
pub fn live_reload_script() -> String {
    format!("<script>{}</script>", include_str!("live-reload.js").trim_end())
}

/// What the server serves: the last good build.
#[derive(Default, Clone)]
pub struct Snapshot {
    pages: HashMap<String, Arc<[u8]>>,
    copies: HashMap<String, Origin>,
}

impl Snapshot {
    /// Brings the snapshot from the previous good build to `built`, touching
    /// only the outputs that changed or went: a save costs what it changed,
    /// not what the site holds.
    fn update(&mut self, built: &Built) {
        for path in &built.changed {
            if let Ok(k) = built.outputs.binary_search_by(|o| o.path.as_str().cmp(path)) {
                self.pages.insert(path.clone(), built.outputs[k].bytes.clone());
            }
        }
        for path in &built.removed {
            self.pages.remove(path);
        }
        self.copies = built.copies.iter().map(|c| (c.path.clone(), c.from.clone())).collect();
    }

    fn get(&self, key: &str) -> Option<Vec<u8>> {
        if let Some(bytes) = self.pages.get(key) {
            return Some(bytes.to_vec());
        }
        self.copies.get(key).and_then(|origin| origin.read().ok())
    }

    fn has(&self, key: &str) -> bool {
        self.pages.contains_key(key) || self.copies.contains_key(key)
    }
}

/// Shared between the server threads and the rebuild loop.
#[derive(Default)]
pub struct State {
    pub site: RwLock<Arc<Snapshot>>,
    clients: Mutex<Vec<Sender<String>>>,
    /// The event a newly opened page must see first: the errors of a failed build.
    pending: Mutex<Option<String>>,
    pub stop: AtomicBool,
}

impl State {
    /// Serves `built` from now on. Requests being answered keep the snapshot
    /// they started with (which is then copied before it is changed).
    pub fn publish(&self, built: &Built) {
        let mut site = self.site.write().unwrap_or_else(|e| e.into_inner());
        Arc::make_mut(&mut site).update(built);
    }

    /// Sends `event` with `data` to every open page; a failed build's
    /// errors are also kept for pages opened later, until the next success.
    pub fn broadcast(&self, event: &str, data: &str) {
        let message = sse_message(event, data);
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = (event == "errors").then(|| message.clone());
        self.clients.lock().unwrap_or_else(|e| e.into_inner()).retain(|c| c.send(message.clone()).is_ok());
    }
}

fn sse_message(event: &str, data: &str) -> String {
    let mut m = format!("event: {event}\n");
    for line in data.lines() {
        m.push_str("data: ");
        m.push_str(line);
        m.push('\n');
    }
    if data.is_empty() {
        m.push_str("data:\n");
    }
    m.push('\n');
    m
}

/// Binds the server; `Err` says why in words (port taken, address invalid).
pub fn bind(addr: SocketAddr) -> Result<Server, String> {
    Server::http(addr).map_err(|e| {
        let in_use = e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse);
        if in_use {
            let next = addr.port().wrapping_add(1).max(1024);
            format!("port {} is already in use: try --port {next}, or --port 0 for any free port", addr.port())
        } else {
            format!("cannot listen on {addr}: {e}")
        }
    })
}

/// Serves requests until `state.stop` is set, one thread per connection so
/// that event streams and slow clients never hold up other requests.
pub fn run(server: Server, state: Arc<State>) {
    while !state.stop.load(Ordering::Relaxed) {
        match server.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(request)) => {
                let state = state.clone();
                std::thread::spawn(move || handle(request, &state));
            }
            Ok(None) => {}
            Err(_) => break,
        }
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("static header names and values are valid")
}

fn handle(request: Request, state: &State) {
    if !matches!(request.method(), Method::Get | Method::Head) {
        let response =
            Response::from_string("method not allowed").with_status_code(405).with_header(header("Allow", "GET, HEAD"));
        let _ = request.respond(response);
        return;
    }
    let url = request.url().to_string();
    let path = url.split(['?', '#']).next().unwrap_or("/");
    if path == EVENTS_PATH {
        return events(request, state);
    }
    let site = state.site.read().unwrap_or_else(|e| e.into_inner()).clone();
    let response = match route(path, &site) {
        Route::File(key) => match site.get(&key) {
            Some(bytes) => Response::from_data(bytes).with_header(header("Content-Type", content_type(&key))),
            None => not_found(&site),
        },
        Route::Redirect(to) => {
            Response::from_data(Vec::new()).with_status_code(301).with_header(header("Location", &to))
        }
        Route::BadRequest => Response::from_data(b"bad request".to_vec()).with_status_code(400),
        Route::NotFound => not_found(&site),
    };
    let _ = request.respond(response.with_header(header("Cache-Control", "no-cache")));
}

fn not_found(site: &Snapshot) -> Response<std::io::Cursor<Vec<u8>>> {
    // Before the first good build there is no 404 page: this one carries the
    // live-reload script, so that the error overlay shows and the fix reloads.
    let body = site.get("404.html").unwrap_or_else(|| {
        format!("<!doctype html><title>Not found</title><body><h1>Not found</h1>{}</body>", live_reload_script())
            .into_bytes()
    });
    Response::from_data(body).with_status_code(404).with_header(header("Content-Type", "text/html; charset=utf-8"))
}

#[derive(Debug, PartialEq)]
enum Route {
    File(String),
    Redirect(String),
    BadRequest,
    NotFound,
}

/// Maps a request path to a key of the built site. Refuses anything that
/// could mean another folder: `..` and `.` segments, backslashes, NUL,
/// empty segments, also when percent-encoded.
fn route(path: &str, site: &Snapshot) -> Route {
    let Some(decoded) = percent_decode(path) else { return Route::BadRequest };
    let Some(rest) = decoded.strip_prefix('/') else { return Route::BadRequest };
    if decoded.contains(['\\', '\0']) {
        return Route::BadRequest;
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let last = segments.len() - 1;
    if segments.iter().enumerate().any(|(i, s)| *s == ".." || *s == "." || (s.is_empty() && i != last)) {
        return Route::BadRequest;
    }
    let key = if rest.is_empty() || rest.ends_with('/') { format!("{rest}index.html") } else { rest.to_string() };
    if site.has(&key) {
        return Route::File(key);
    }
    if site.has(&format!("{rest}/index.html")) {
        return Route::Redirect(format!("{path}/"));
    }
    Route::NotFound
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(key: &str) -> &'static str {
    let ext = key.rsplit_once('.').map_or("", |(_, e)| e).to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "txt" | "md" => "text/plain; charset=utf-8",
        "pdf" => "application/pdf",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// A server-sent event stream: kept open, fed by `State::broadcast`, with a
/// comment every few seconds so that a closed page is noticed and dropped.
fn events(request: Request, state: &State) {
    let (tx, rx): (Sender<String>, Receiver<String>) = mpsc::channel();
    if let Some(pending) = state.pending.lock().unwrap_or_else(|e| e.into_inner()).clone() {
        let _ = tx.send(pending);
    }
    state.clients.lock().unwrap_or_else(|e| e.into_inner()).push(tx);
    let mut writer = request.into_writer();
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\n\r\nretry: 500\n\n";
    if writer.write_all(head.as_bytes()).and_then(|()| writer.flush()).is_err() {
        return;
    }
    while !state.stop.load(Ordering::Relaxed) {
        let chunk = match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => ": keep-alive\n\n".to_string(),
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if writer.write_all(chunk.as_bytes()).and_then(|()| writer.flush()).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Snapshot {
        let mut s = Snapshot::default();
        for key in ["index.html", "studies/a/index.html", "style.css"] {
            s.pages.insert(key.into(), Arc::from(b"x".as_slice()));
        }
        s
    }

    #[test]
    fn routes() {
        let s = site();
        assert_eq!(route("/", &s), Route::File("index.html".into()));
        assert_eq!(route("/studies/a/", &s), Route::File("studies/a/index.html".into()));
        assert_eq!(route("/studies/a", &s), Route::Redirect("/studies/a/".into()));
        assert_eq!(route("/style.css", &s), Route::File("style.css".into()));
        assert_eq!(route("/nope", &s), Route::NotFound);
    }

    #[test]
    fn traversal_is_refused() {
        let s = site();
        for bad in [
            "/../etc/passwd",
            "/studies/../../x",
            "/%2e%2e/x",
            "/%2E%2E%2Fx",
            "/a\\b",
            "/a%5cb",
            "//etc/passwd",
            "/a%00",
            "/%zz",
            "relative",
        ] {
            assert_eq!(route(bad, &s), Route::BadRequest, "{bad}");
        }
        assert_eq!(route("/etc/passwd", &s), Route::NotFound);
    }

    #[test]
    fn event_data_lines_are_prefixed() {
        assert_eq!(sse_message("errors", "a\nb"), "event: errors\ndata: a\ndata: b\n\n");
    }
}
