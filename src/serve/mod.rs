//! `annals serve` and `annals watch`: build, then rebuild on every change
//! through the incremental engine. `serve` keeps the last good build in
//! memory and serves it with live reload; `watch` keeps the output folder
//! up to date. A failed rebuild reports its errors and the loop goes on.

pub mod http;
pub mod watch;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::diagnostics::{self, Diagnostic};
use crate::engine::{Built, Change, Engine, Options};
use crate::output::OutputError;

/// Why `serve` or `watch` cannot start, or (in [`Report::Warning`]) why
/// the watched set could not follow a rebuild.
#[derive(Debug)]
pub enum ServeError {
    /// The folder holds no `site.yaml`: `serve` was run outside a site.
    NotASite { root: PathBuf },
    /// Another program listens on the port.
    PortInUse { port: u16 },
    /// The address cannot be listened on for another reason.
    Listen { addr: SocketAddr, source: io::Error },
    /// The bound socket reports no address.
    NoAddress(io::Error),
    /// The file watcher cannot start.
    Watcher(notify::Error),
    /// A folder the build read cannot be watched.
    Watch { path: PathBuf, source: notify::Error },
    /// The site folder cannot be opened, or `watch` refuses its output folder.
    Output(OutputError),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::NotASite { root } => write!(
                f,
                "{} holds no {}: run `annals serve` in a site's folder, or name one with --root",
                root.display(),
                crate::config::CONFIG_FILE
            ),
            ServeError::PortInUse { port } => {
                let next = port.wrapping_add(1).max(1024);
                write!(f, "port {port} is already in use: try --port {next}, or --port 0 for any free port")
            }
            ServeError::Listen { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            ServeError::NoAddress(source) => write!(f, "the server has no address: {source}"),
            ServeError::Watcher(source) => write!(f, "cannot watch files: {source}"),
            ServeError::Watch { path, source } => write!(f, "cannot watch {}: {source}", path.display()),
            ServeError::Output(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServeError::Listen { source, .. } | ServeError::NoAddress(source) => Some(source),
            ServeError::Watcher(source) | ServeError::Watch { source, .. } => Some(source),
            // Its own message is this one's: its cause is the next link.
            ServeError::Output(e) => std::error::Error::source(e),
            ServeError::NotASite { .. } | ServeError::PortInUse { .. } => None,
        }
    }
}

impl From<OutputError> for ServeError {
    fn from(e: OutputError) -> Self {
        ServeError::Output(e)
    }
}

/// What the rebuild loop tells its caller after each build.
#[derive(Debug)]
pub enum Report {
    /// The first build, or a rebuild, succeeded.
    Built {
        /// The changed files, relative to the site root (empty for the first build).
        trigger: Vec<PathBuf>,
        /// Outputs rendered, and how many of them changed.
        rendered: usize,
        changed: usize,
        pages: usize,
        /// Diagnostics that do not fail the build.
        warnings: Vec<Diagnostic>,
        /// From the first file event of the change (or the start) to the
        /// reload message, the wait for the burst of events to end included.
        took: Duration,
    },
    /// The build failed; the previous site is still served or kept.
    Failed { trigger: Vec<PathBuf>, errors: Vec<Diagnostic>, rendered_report: String },
    /// Something the user should know that stops nothing.
    Warning(ServeError),
}

pub type Reporter = Box<dyn Fn(Report) + Send>;

/// A running preview server.
pub struct Running {
    pub addr: SocketAddr,
    state: Arc<http::State>,
    threads: Vec<JoinHandle<()>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Stops the server and the watcher and waits for both.
    pub fn stop(self) {
        self.state.stop.store(true, Ordering::Relaxed);
        http::wake(self.addr);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Builds, binds `bind:port` (0 for any free port), and starts serving and
/// watching in background threads.
pub fn serve(mut options: Options, bind: IpAddr, port: u16, report: Reporter) -> Result<Running, ServeError> {
    // The watcher reports absolute paths: compare them with an absolute root.
    options.root = crate::output::site_folder(&options.root)?;
    if !options.root.join(crate::config::CONFIG_FILE).is_file() {
        return Err(ServeError::NotASite { root: options.root });
    }
    // Served from the root of the preview server, whatever base_url says.
    options.base_url = Some("/".into());
    options.inject = Some(http::live_reload_script());
    let server = http::bind(SocketAddr::new(bind, port))?;
    let addr = server.local_addr().map_err(ServeError::NoAddress)?;
    let state = Arc::new(http::State::new(addr.port()));
    let mut engine = Engine::new(options.clone());
    let started = Instant::now();
    let first = engine.rebuild(&Change::Everything);
    let mut good = first.is_ok();
    // Watching before the first report: an edit made as soon as the user
    // (or a test) sees it is never missed.
    let mut watcher = watch::Watcher::new(&options.root, &options.output_dir())?;
    watcher.update(engine.inputs())?;
    let announcer = Announcer { state: state.clone(), root: options.root.clone(), report };
    announcer.announce(first, Vec::new(), started, true);
    let server_state = state.clone();
    let server_thread = std::thread::spawn(move || http::run(server, server_state));
    let loop_thread = std::thread::spawn(move || {
        let Announcer { state, report, .. } = &announcer;
        rebuild_loop(&mut engine, &mut watcher, &state.stop, report, |result, paths, started| {
            let css_only = good && is_css_only(&options.root, &paths);
            let ok = result.is_ok();
            announcer.announce(result, paths, started, !css_only);
            if ok && css_only {
                state.broadcast("css", "");
            }
            good = ok;
        });
    });
    Ok(Running { addr, state, threads: vec![server_thread, loop_thread] })
}

/// The one rebuild loop of `serve` and `watch`: waits for a change to what
/// the last build read, rebuilds, hands the result on, and watches what the
/// new build read; until `stop` is set. A failed build is a result like
/// any other: the loop goes on.
fn rebuild_loop(
    engine: &mut Engine,
    watcher: &mut watch::Watcher,
    stop: &AtomicBool,
    report: &Reporter,
    mut done: impl FnMut(Result<Built, Vec<Diagnostic>>, Vec<PathBuf>, Instant),
) {
    while let Some((paths, started)) = watcher.next_batch(stop) {
        let result = engine.rebuild(&Change::Paths(paths.clone()));
        if let Err(e) = watcher.update(engine.inputs()) {
            report(Report::Warning(e));
        }
        done(result, paths, started);
    }
}

/// What hands each build of `serve` to the server and its pages.
struct Announcer {
    state: Arc<http::State>,
    root: PathBuf,
    report: Reporter,
}

impl Announcer {
    /// Publishes a build that `trigger` set off to the server and, if
    /// `reload`, to its pages; and reports it.
    fn announce(&self, result: Result<Built, Vec<Diagnostic>>, trigger: Vec<PathBuf>, started: Instant, reload: bool) {
        if let Ok(built) = &result {
            self.state.publish(built);
            if reload {
                self.state.broadcast("reload", &built.changed.join("\n"));
            }
        }
        let outcome = outcome(&self.root, result, &trigger, started);
        if let Report::Failed { rendered_report, .. } = &outcome {
            self.state.broadcast("errors", rendered_report);
        }
        (self.report)(outcome);
    }
}

/// What `serve` and `watch` report of a build that `trigger` (paths under
/// `root`) set off.
fn outcome(root: &Path, result: Result<Built, Vec<Diagnostic>>, trigger: &[PathBuf], started: Instant) -> Report {
    let trigger = trigger.iter().map(|p| p.strip_prefix(root).unwrap_or(p).to_path_buf()).collect();
    match result {
        Ok(built) => Report::Built {
            trigger,
            rendered: built.rendered,
            changed: built.changed.len(),
            pages: built.pages,
            took: started.elapsed(),
            warnings: built.warnings,
        },
        Err(errors) => {
            let rendered_report = diagnostics::report(root, &errors);
            Report::Failed { trigger, errors, rendered_report }
        }
    }
}

/// True when every changed path is a stylesheet among the static files.
fn is_css_only(root: &Path, paths: &[PathBuf]) -> bool {
    !paths.is_empty()
        && paths.iter().all(|p| {
            let rel = p.strip_prefix(root).unwrap_or(p);
            let in_static =
                rel.starts_with("static") || rel.components().nth(2).is_some_and(|c| c.as_os_str() == "static");
            in_static && rel.extension().is_some_and(|e| e == "css")
        })
}

/// Keeps `options.output_dir()` up to date until `stop` is set.
pub fn watch(mut options: Options, stop: &AtomicBool, report: Reporter) -> Result<(), ServeError> {
    options.root = crate::output::site_folder(&options.root)?;
    let out = crate::output::check_output_dir(&options.root, &options.output, options.force)?;
    let mut engine = Engine::new(options.clone());
    let mut watcher = watch::Watcher::new(&options.root, &out)?;
    let mut written = false;
    // Copied files of the last write, so that one no longer copied is deleted.
    let mut copied: std::collections::HashSet<String> = Default::default();
    let mut write = |result: Result<Built, Vec<Diagnostic>>, trigger: Vec<PathBuf>, started: Instant| {
        let result = result.and_then(|built| {
            let now: std::collections::HashSet<String> = built.copies.iter().map(|c| c.path.clone()).collect();
            let io = if written {
                let mut removed = built.removed.clone();
                removed.extend(copied.iter().filter(|p| !now.contains(*p)).cloned());
                crate::output::update(&out, &built.outputs, &built.changed, &removed, &built.copies)
            } else {
                crate::output::write(&out, &built.outputs, &built.copies)
            };
            io.map_err(|e| vec![Diagnostic::file(&options.output, format!("cannot write the site: {e}"))])?;
            written = true;
            copied = now;
            Ok(built)
        });
        report(outcome(&options.root, result, &trigger, started));
    };
    let started = Instant::now();
    let first = engine.rebuild(&Change::Everything);
    watcher.update(engine.inputs())?;
    write(first, Vec::new(), started);
    rebuild_loop(&mut engine, &mut watcher, stop, &report, write);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_stylesheets_of_static_folders_swap_without_a_reload() {
        let root = Path::new("/site");
        let css = |rels: &[&str]| is_css_only(root, &rels.iter().map(|r| root.join(r)).collect::<Vec<_>>());
        assert!(css(&["static/extra.css"]));
        assert!(css(&["themes/default/static/style.css", "static/a/b.css"]));
        assert!(!css(&["static/extra.css", "content/about.md"]));
        assert!(!css(&["content/studies/print.css"]), "a stylesheet beside the Markdown is content");
        assert!(!css(&["templates/base.html"]));
        assert!(!css(&[]));
    }

    #[test]
    fn serve_outside_a_site_is_refused_before_binding() {
        let dir = tempfile::tempdir().unwrap();
        let serve_in = |root: &Path| serve(Options::new(root), [127, 0, 0, 1].into(), 0, Box::new(|_| {})).err();
        let err = serve_in(dir.path()).expect("no site.yaml");
        assert!(matches!(err, ServeError::NotASite { .. }), "{err}");
        assert!(
            err.to_string()
                .ends_with("holds no site.yaml: run `annals serve` in a site's folder, or name one with --root")
        );
        let err = serve_in(&dir.path().join("missing")).expect("no folder");
        assert!(matches!(err, ServeError::Output(OutputError::SiteUnreadable { .. })), "{err}");
    }
}
