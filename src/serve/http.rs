//! The preview server: HTTP/1.1 over the last good build, held in memory,
//! plus the live-reload event stream. A request path is only ever a key
//! into the built site, never joined to a folder: nothing outside the output
//! can be served, whatever the path says. It answers only requests addressed
//! to this machine (`Host` checked, against DNS rebinding), bounds what a
//! client may send and what a slow one may make it buffer, and keeps
//! accepting connections when it runs short of file descriptors.

use httparse::Status;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use super::ServeError;
use crate::engine::Built;
use crate::output::Bytes;
use crate::theme::Origin;

pub const EVENTS_PATH: &str = "/__annals/events";
/// Longest request line plus headers accepted; longer is refused with 431.
pub const MAX_HEAD: usize = 16 * 1024;
/// Connections served at once; more wait in the kernel's queue.
const MAX_CONNECTIONS: usize = 256;
/// Live-reload messages an unread page may have queued before it is dropped.
const MAX_QUEUED_EVENTS: usize = 16;
/// How long a client may take to send its request, or to take our reply.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The script `serve` injects before `</body>` of every page. It lives in
/// its own file so that it can be read, linted and tested as JavaScript.
pub fn live_reload_script() -> String {
    format!("<script>{}</script>", include_str!("live-reload.js").trim_end())
}

/// What the server serves: the last good build.
#[derive(Default, Clone)]
pub struct Snapshot {
    pages: HashMap<String, Bytes>,
    copies: HashMap<String, Origin>,
}

/// A response body: bytes in memory, or a file streamed from disk.
enum Body {
    Bytes(Arc<[u8]>),
    /// An output sent as the server keeps it: a gzip stream.
    Gzip(Arc<[u8]>),
    Static(&'static [u8]),
    File(std::fs::File, u64),
}

impl Body {
    /// An output as kept; it fails only if it cannot be read again from
    /// the spill file (see `output::Keep`).
    fn kept(bytes: &Bytes, gzip: bool) -> io::Result<Body> {
        match bytes.gzip() {
            Some(gz) if gzip => Ok(Body::Gzip(gz?)),
            _ => Ok(Body::Bytes(Arc::from(bytes.get()?))),
        }
    }
}

impl Snapshot {
    /// Brings the snapshot from the previous good build to `built`, touching
    /// only the outputs that changed or went: a save costs what it changed,
    /// not what the site holds.
    fn update(&mut self, built: &Built) {
        for path in &built.changed {
            if let Some(k) = built.outputs.find(path) {
                self.pages.insert(path.clone(), built.outputs.get(k).bytes.clone());
            }
        }
        for path in &built.removed {
            self.pages.remove(path);
        }
        self.copies = built.copies.iter().map(|c| (c.path.clone(), c.from.clone())).collect();
    }

    /// The file at `key`: gzip-packed as kept when the client accepts that.
    fn get(&self, key: &str, gzip: bool) -> Option<io::Result<Body>> {
        if let Some(bytes) = self.pages.get(key) {
            return Some(Body::kept(bytes, gzip));
        }
        match self.copies.get(key)? {
            Origin::Embedded(_, bytes) => Some(Ok(Body::Static(bytes))),
            Origin::Disk(path) => open_plain_file(path).ok().map(|(f, len)| Ok(Body::File(f, len))),
        }
    }

    fn has(&self, key: &str) -> bool {
        self.pages.contains_key(key) || self.copies.contains_key(key)
    }
}

/// Opens a copied file for reading only if it is still what the build
/// copied: a regular file reached without any symlink (the path is absolute
/// under the canonical site root). A symlink swapped in since, while the
/// build is failing and the snapshot is old, is refused.
fn open_plain_file(path: &Path) -> io::Result<(std::fs::File, u64)> {
    let refused = || io::Error::new(io::ErrorKind::PermissionDenied, "not a plain file of the site");
    if path.canonicalize()? != path {
        return Err(refused());
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refused());
    }
    Ok((file, meta.len()))
}

/// Shared between the server threads and the rebuild loop.
pub struct State {
    pub site: RwLock<Arc<Snapshot>>,
    clients: Mutex<Vec<SyncSender<String>>>,
    /// The event a newly opened page must see first: the errors of a failed build.
    pending: Mutex<Option<String>>,
    pub stop: AtomicBool,
    /// The port requests must be addressed to.
    port: u16,
    connections: AtomicUsize,
}

impl State {
    pub fn new(port: u16) -> State {
        State {
            site: RwLock::default(),
            clients: Mutex::default(),
            pending: Mutex::default(),
            stop: AtomicBool::new(false),
            port,
            connections: AtomicUsize::new(0),
        }
    }

    /// Serves `built` from now on. Requests being answered keep the snapshot
    /// they started with (which is then copied before it is changed).
    pub fn publish(&self, built: &Built) {
        let mut site = self.site.write().unwrap_or_else(|e| e.into_inner());
        Arc::make_mut(&mut site).update(built);
    }

    /// Sends `event` with `data` to every open page; a failed build's
    /// errors are also kept for pages opened later, until the next success.
    /// A page that has not read its last `MAX_QUEUED_EVENTS` messages is
    /// dropped (it reconnects when it reads again) rather than buffered.
    pub fn broadcast(&self, event: &str, data: &str) {
        let message = sse_message(event, data);
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = (event == "errors").then(|| message.clone());
        self.clients.lock().unwrap_or_else(|e| e.into_inner()).retain(|c| match c.try_send(message.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        });
    }

    /// Whether a request with this `Host` header is addressed to us: a
    /// local name or an IP address, with our port. A web page elsewhere can
    /// make a browser send requests here under its own domain name (DNS
    /// rebinding); those name that domain, and are refused.
    fn is_local_host(&self, host: &str) -> bool {
        let (name, port) = match host.rsplit_once(':') {
            Some((name, port)) if !port.contains(']') => (name, port.parse::<u16>().ok()),
            _ => (host, Some(80)),
        };
        let name = name.trim_start_matches('[').trim_end_matches(']');
        port == Some(self.port) && (name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok())
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

/// Binds the server; `Err` says why (port taken, address invalid).
pub fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr).map_err(|source| match source.kind() {
        io::ErrorKind::AddrInUse => ServeError::PortInUse { port: addr.port() },
        _ => ServeError::Listen { addr, source },
    })
}

/// Wakes `run` from its wait for a connection, so that it sees `stop`.
pub fn wake(addr: SocketAddr) {
    let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
}

/// Serves connections until `state.stop` is set (then call `wake`), each on
/// its own thread so that event streams and slow clients never hold up
/// other requests. When accepting fails (out of file descriptors, most
/// often), it waits and tries again, longer each time: the port never goes
/// silently dead while the process lives.
pub fn run(listener: TcpListener, state: Arc<State>) {
    let mut backoff = Duration::from_millis(10);
    while !state.stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                backoff = Duration::from_millis(10);
                if state.stop.load(Ordering::Relaxed) {
                    break;
                }
                if state.connections.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
                    state.connections.fetch_sub(1, Ordering::AcqRel);
                    continue; // dropped: the client retries
                }
                let state = state.clone();
                let spawned = std::thread::Builder::new().spawn(move || {
                    handle(stream, &state);
                    state.connections.fetch_sub(1, Ordering::AcqRel);
                });
                if spawned.is_err() {
                    std::thread::sleep(backoff);
                }
            }
            Err(_) => {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// A parsed request: what the server needs of it.
struct Request {
    method: String,
    path: String,
    host: Option<String>,
    /// `Accept-Encoding` names gzip (every browser's does).
    gzip: bool,
}

/// Reads a request head (up to `MAX_HEAD` bytes) and parses it.
fn read_request(stream: &mut TcpStream) -> Result<Request, u16> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).map_err(|_| 0u16)?;
        if n == 0 {
            return Err(0);
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&buf) {
            Ok(Status::Complete(_)) => {
                let header = |name: &str| {
                    let found = request.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name));
                    found.map(|h| String::from_utf8_lossy(h.value).into_owned())
                };
                return Ok(Request {
                    method: request.method.unwrap_or_default().to_string(),
                    path: request.path.unwrap_or_default().to_string(),
                    host: header("host"),
                    gzip: header("accept-encoding").is_some_and(|v| accepts_gzip(&v)),
                });
            }
            Ok(Status::Partial) if buf.len() < MAX_HEAD => {}
            Ok(Status::Partial) | Err(httparse::Error::TooManyHeaders) => return Err(431),
            Err(_) => return Err(400),
        }
        if buf.len() > MAX_HEAD {
            return Err(431);
        }
    }
}

/// A response about to be written.
struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Body,
}

impl Response {
    fn new(status: u16, content_type: &str, body: Body) -> Response {
        Response { status, headers: vec![("Content-Type", content_type.to_string())], body }
    }

    fn text(status: u16, text: &'static str) -> Response {
        Response::new(status, "text/plain; charset=utf-8", Body::Static(text.as_bytes()))
    }

    fn with(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// Writes the response and closes the exchange (`Connection: close`):
    /// the preview serves one request per connection, which keeps the
    /// server simple and costs nothing on localhost.
    fn send(self, stream: &mut TcpStream, head_only: bool) -> io::Result<()> {
        let len = match &self.body {
            Body::Bytes(b) | Body::Gzip(b) => b.len() as u64,
            Body::Static(b) => b.len() as u64,
            Body::File(_, len) => *len,
        };
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if matches!(self.body, Body::Gzip(_)) {
            head.push_str("Content-Encoding: gzip\r\n");
        }
        head.push_str(&format!("Content-Length: {len}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n"));
        let mut out = io::BufWriter::new(stream);
        out.write_all(head.as_bytes())?;
        if !head_only {
            match self.body {
                Body::Bytes(b) | Body::Gzip(b) => out.write_all(&b)?,
                Body::Static(b) => out.write_all(b)?,
                // Streamed: a large PDF is never read whole into memory.
                Body::File(mut f, _) => drop(io::copy(&mut f, &mut out)?),
            }
        }
        out.flush()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        _ => "",
    }
}

fn handle(mut stream: TcpStream, state: &State) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let request = match read_request(&mut stream) {
        Ok(request) => request,
        Err(0) => return,
        Err(431) => return drop(Response::text(431, "request head too large").send(&mut stream, false)),
        Err(_) => return drop(Response::text(400, "bad request").send(&mut stream, false)),
    };
    if !request.host.as_deref().is_some_and(|h| state.is_local_host(h)) {
        let response = Response::text(403, "this preview server answers only requests addressed to localhost");
        return drop(response.send(&mut stream, false));
    }
    let head_only = match request.method.as_str() {
        "GET" => false,
        "HEAD" => true,
        _ => {
            return drop(Response::text(405, "method not allowed").with("Allow", "GET, HEAD").send(&mut stream, false));
        }
    };
    let path = request.path.split(['?', '#']).next().unwrap_or("/");
    if path == EVENTS_PATH {
        return events(stream, state);
    }
    let site = state.site.read().unwrap_or_else(|e| e.into_inner()).clone();
    let response = match route(path, &site) {
        Route::File(key) => match site.get(&key, request.gzip) {
            Some(Ok(body)) => Response::new(200, &content_type(&key), body).with("Vary", "Accept-Encoding"),
            Some(Err(e)) => {
                let text = format!("could not read {key} again: {e}");
                Response::new(500, "text/plain; charset=utf-8", Body::Bytes(Arc::from(text.into_bytes())))
            }
            None => not_found(&site, request.gzip),
        },
        Route::Redirect(to) => Response::new(301, "text/plain", Body::Static(b"")).with("Location", to),
        Route::BadRequest => Response::text(400, "bad request"),
        Route::NotFound => not_found(&site, request.gzip),
    };
    let _ = response.send(&mut stream, head_only);
}

fn not_found(site: &Snapshot, gzip: bool) -> Response {
    // Before the first good build there is no 404 page: this one carries the
    // live-reload script, so that the error overlay shows and the fix reloads.
    let body = site.pages.get("404.html").and_then(|page| Body::kept(page, gzip).ok()).unwrap_or_else(|| {
        let page =
            format!("<!doctype html><title>Not found</title><body><h1>Not found</h1>{}</body>", live_reload_script());
        Body::Bytes(Arc::from(page.into_bytes()))
    });
    Response::new(404, "text/html; charset=utf-8", body).with("Vary", "Accept-Encoding")
}

/// Whether an `Accept-Encoding` value takes gzip: named, or else `*`,
/// with a quality above 0.
fn accepts_gzip(value: &str) -> bool {
    let quality = |name: &str| {
        value.split(',').find_map(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let named = parts.next()?.eq_ignore_ascii_case(name);
            named.then(|| parts.find_map(|p| p.strip_prefix("q=")?.parse::<f32>().ok()).unwrap_or(1.0))
        })
    };
    quality("gzip").or_else(|| quality("*")).is_some_and(|q| q > 0.0)
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
    let Ok(decoded) = percent_encoding::percent_decode_str(path).decode_utf8() else { return Route::BadRequest };
    let Some(rest) = decoded.strip_prefix('/') else { return Route::BadRequest };
    if decoded.contains(['\\', '\0']) || malformed_escape(path) {
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

/// A `%` not followed by two hex digits: `percent_decode` keeps it as it
/// is, but no browser sends one, so it is refused.
fn malformed_escape(path: &str) -> bool {
    path.match_indices('%')
        .any(|(at, _)| !path.get(at + 1..at + 3).is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit())))
}

fn content_type(key: &str) -> String {
    // What the site writes that mime_guess does not know.
    if key.ends_with(".bib") {
        return "application/x-bibtex; charset=utf-8".into();
    }
    let mime = mime_guess::from_path(key).first_or_octet_stream();
    match mime.type_() {
        mime_guess::mime::TEXT => format!("{mime}; charset=utf-8"),
        _ if mime.subtype() == mime_guess::mime::JAVASCRIPT => format!("{mime}; charset=utf-8"),
        _ => mime.to_string(),
    }
}

/// A server-sent event stream: kept open, fed by `State::broadcast`, with a
/// comment every few seconds so that a closed page is noticed and dropped.
fn events(mut stream: TcpStream, state: &State) {
    let (tx, rx): (SyncSender<String>, Receiver<String>) = mpsc::sync_channel(MAX_QUEUED_EVENTS);
    if let Some(pending) = state.pending.lock().unwrap_or_else(|e| e.into_inner()).clone() {
        let _ = tx.try_send(pending);
    }
    state.clients.lock().unwrap_or_else(|e| e.into_inner()).push(tx);
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\n\r\nretry: 500\n\n";
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    while !state.stop.load(Ordering::Relaxed) {
        let chunk = match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => ": keep-alive\n\n".to_string(),
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if stream.write_all(chunk.as_bytes()).is_err() {
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
            s.pages.insert(key.into(), Bytes::plain(b"x".as_slice()));
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
            "/%e9",
            "relative",
        ] {
            assert_eq!(route(bad, &s), Route::BadRequest, "{bad}");
        }
        assert_eq!(route("/etc/passwd", &s), Route::NotFound);
    }

    #[test]
    fn only_local_hosts_on_our_port_are_answered() {
        let state = State::new(1111);
        for good in ["localhost:1111", "LOCALHOST:1111", "127.0.0.1:1111", "[::1]:1111", "192.168.1.20:1111"] {
            assert!(state.is_local_host(good), "{good}");
        }
        for bad in
            ["evil.example:1111", "localhost:80", "localhost", "127.0.0.1:2222", "[::1]", "localhost.evil.example:1111"]
        {
            assert!(!state.is_local_host(bad), "{bad}");
        }
    }

    #[test]
    fn content_types_carry_a_charset_for_text() {
        assert_eq!(content_type("a/index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("style.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("search.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("chart.svg"), "image/svg+xml");
        assert_eq!(content_type("data/studies.json"), "application/json");
        assert_eq!(content_type("paper.pdf"), "application/pdf");
        assert_eq!(content_type("bibliography.bib"), "application/x-bibtex; charset=utf-8");
        assert_eq!(content_type("blob"), "application/octet-stream");
    }

    #[test]
    fn a_page_that_stops_reading_is_dropped_not_buffered_for() {
        let state = State::new(1111);
        let (reading, read_rx) = mpsc::sync_channel(MAX_QUEUED_EVENTS);
        let (stuck, _stuck_rx) = mpsc::sync_channel(MAX_QUEUED_EVENTS);
        state.clients.lock().unwrap().extend([reading, stuck]);
        for n in 0..=MAX_QUEUED_EVENTS {
            state.broadcast("reload", &n.to_string());
            while read_rx.try_recv().is_ok() {}
        }
        // The stuck page filled its queue and was let go; the other stays.
        assert_eq!(state.clients.lock().unwrap().len(), 1);
    }

    #[test]
    fn event_data_lines_are_prefixed() {
        assert_eq!(sse_message("errors", "a\nb"), "event: errors\ndata: a\ndata: b\n\n");
    }
}
