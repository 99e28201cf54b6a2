//! The command line: arguments in, exit code out.

use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use annals::diagnostics::{self, Diagnostic, Style};
use annals::scaffold;

// Rendering thousands of pages on several threads is allocation-heavy;
// mimalloc's per-thread heaps measurably beat the system allocator here.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use annals::engine::{self as pipeline, Options};
use annals::serve::{self, Report};

#[derive(Parser)]
#[command(name = "annals", version, about = "Static site generator for cross-linked research histories")]
struct Cli {
    /// The site root (the folder holding site.yaml).
    #[arg(long, global = true, default_value = ".")]
    root: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the site into the output folder.
    Build {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        output: Output,
        /// Print how long each stage took, and how many outputs were rendered.
        #[arg(long)]
        timings: bool,
        /// Render every output again, keeping none from the last build
        /// (which keeps those whose inputs are unchanged).
        #[arg(long)]
        fresh: bool,
    },
    /// Validate and render the whole site without writing anything (for CI too).
    Check {
        #[command(flatten)]
        common: Common,
        /// How to print diagnostics: for people, as GitHub annotations, or as JSON.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Fail (exit 1) on warnings as well as errors.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Start a new site in DIR (default: --root), which must be empty or new.
    Init { dir: Option<PathBuf> },
    /// Write a new entry, content/<folder>/<id>.md, with front matter from the schema.
    New {
        /// The collection, as named in site.yaml (e.g. `studies`).
        collection: String,
        /// The entry's id: lowercase letters, digits and hyphens (e.g. `smith-2024`).
        id: String,
        /// Fill in the `title` field.
        #[arg(long)]
        title: Option<String>,
        /// Open the new file in $VISUAL or $EDITOR.
        #[arg(long)]
        edit: bool,
    },
    /// Build, serve on localhost with live reload, and rebuild on every change.
    Serve {
        /// Include pages marked `draft: true`.
        #[arg(long)]
        drafts: bool,
        /// Port to listen on; 0 picks a free one.
        #[arg(long, short, default_value_t = 1111)]
        port: u16,
        /// Address to listen on. Anything but localhost exposes your drafts to the network.
        #[arg(long, default_value = "127.0.0.1")]
        bind: IpAddr,
        /// Open the site in the default browser.
        #[arg(long)]
        open: bool,
    },
    /// Rebuild into the output folder on every change, without a server.
    Watch {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// `path:line:col: error: message`, the source line, and a hint.
    Human,
    /// GitHub Actions workflow commands: annotations on the pull request's diff.
    Github,
    /// One JSON array of {path, line, column, severity, message, hint, notes}.
    Json,
}

#[derive(clap::Args)]
struct Common {
    /// Include pages marked `draft: true`.
    #[arg(long)]
    drafts: bool,
    /// Override base_url from site.yaml.
    #[arg(long)]
    base_url: Option<String>,
}

/// Where the site is written. (`serve` writes nothing: it serves from memory.)
#[derive(clap::Args)]
struct Output {
    /// Output folder, relative to the site root. annals replaces it whole, so
    /// it must be empty, missing, or made by an earlier build.
    #[arg(long, short, default_value = "public")]
    output: PathBuf,
    /// Replace the output folder even if annals did not make it, deleting
    /// everything in it. (Folders holding a site or a repository are never replaced.)
    #[arg(long)]
    force: bool,
}

impl Cli {
    fn options(&self, common: &Common, output: Option<&Output>) -> Options {
        let mut o = Options::new(&self.root);
        o.drafts = common.drafts;
        o.base_url = common.base_url.clone();
        if let Some(out) = output {
            o.output = out.output.clone();
            o.force = out.force;
        }
        o
    }
}

/// Transparent huge pages let the allocator fault in and zero 2 MiB at a
/// time, for memory it mostly never touches: building 10,000 pages peaks
/// about 25 MiB higher with them, and no faster (BENCHMARKS.md).
fn without_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> ExitCode {
    without_huge_pages();
    let cli = Cli::parse();
    let style = stderr_style();
    let result = match &cli.command {
        Command::Build { common, output, timings, fresh } => {
            let options = Options { fresh: *fresh, ..cli.options(common, Some(output)) };
            pipeline::build(&options).map(|built| {
                if *timings {
                    for (stage, d) in &built.timings.stages {
                        println!("{stage:>9}  {:>8.1} ms", d.as_secs_f64() * 1000.0);
                    }
                    println!("{} rendered, {} kept from the last build", plural(built.rendered, "output"), built.kept);
                    println!(
                        "{} taken as unchanged since the last build, not read",
                        plural(built.unread, "Markdown file")
                    );
                }
                print_warnings(&cli.root, &built.warnings, style);
                println!(
                    "Built {} ({}) into {} in {:.0} ms",
                    plural(built.pages, "page"),
                    plural(built.files, "file"),
                    cli.options(common, Some(output)).output_dir().display(),
                    built.timings.total().as_secs_f64() * 1000.0
                );
            })
        }
        Command::Check { common, format, deny_warnings } => {
            return check(&cli.root, &cli.options(common, None), *format, *deny_warnings, style);
        }
        Command::Init { dir } => return init(dir.as_deref().unwrap_or(&cli.root)),
        Command::New { collection, id, title, edit } => {
            return match scaffold::new_entry(&cli.root, collection, id, title.as_deref()) {
                Ok(rel) => {
                    println!("Wrote {}: fill in the fields, then run `annals check`", rel.display());
                    if *edit {
                        open_editor(&cli.root.join(&rel));
                    }
                    ExitCode::SUCCESS
                }
                Err(errors) => {
                    eprint!("{}", diagnostics::render(&cli.root, &errors, style));
                    ExitCode::FAILURE
                }
            };
        }
        Command::Serve { drafts, port, bind, open } => {
            let mut options = Options::new(&cli.root);
            options.drafts = *drafts;
            return serve_until_interrupted(options, *bind, *port, *open);
        }
        Command::Watch { common, output } => return watch_until_interrupted(cli.options(common, Some(output))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(errors) => {
            eprint!("{}", diagnostics::render(&cli.root, &errors, style));
            ExitCode::FAILURE
        }
    }
}
/// `annals check`: every stage, nothing written, diagnostics in the format
/// asked for; exit 1 on an error (or, if denied, a warning).
fn check(root: &Path, options: &Options, format: Format, deny_warnings: bool, style: Style) -> ExitCode {
    let (pages, mut found) = match pipeline::check(options) {
        Ok(built) => (Some(built.pages), built.warnings),
        Err(errors) => (None, errors),
    };
    let failed = pages.is_none() || (deny_warnings && !found.is_empty());
    if format != Format::Json {
        // For people, and for the log of a CI run beside its annotations.
        if !found.is_empty() {
            eprint!("{}", diagnostics::render(root, &found, style));
        }
        if let Some(pages) = pages {
            let warnings = match found.len() {
                0 => String::new(),
                n => format!(", {}", plural(n, "warning")),
            };
            let line = format!("Checked {}: no errors{warnings}", plural(pages, "page"));
            // Standard output is the annotations' alone.
            if format == Format::Github {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        }
    }
    if format != Format::Human && root != Path::new(".") {
        // For CI, paths from where annals runs (the repository root), not the site root.
        for d in &mut found {
            d.path = root.join(&d.path);
            for note in d.notes_mut() {
                note.path = root.join(&note.path);
            }
        }
    }
    match format {
        Format::Github => print!("{}", diagnostics::github(&found)),
        Format::Json => print!("{}", diagnostics::json(&found)),
        Format::Human => {}
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

fn init(dir: &Path) -> ExitCode {
    match scaffold::init(dir) {
        Ok(files) => {
            println!("Created a new site in {}: {}", dir.display(), files.join(", "));
            let cd = if dir == Path::new(".") { String::new() } else { format!("cd {} && ", dir.display()) };
            println!("Next: {cd}annals serve, then open http://127.0.0.1:1111/");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn open_editor(path: &Path) {
    let editor = std::env::var("VISUAL").or_else(|_| std::env::var("EDITOR")).unwrap_or_else(|_| "vi".into());
    // `$EDITOR` may carry arguments (`code --wait`): run it through the shell.
    let status =
        std::process::Command::new("sh").arg("-c").arg(format!("{editor} \"$1\"")).arg("sh").arg(path).status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("warning: could not run `{editor}`; open {} yourself", path.display());
    }
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn print_warnings(root: &Path, warnings: &[Diagnostic], style: Style) {
    if !warnings.is_empty() {
        eprint!("{}", diagnostics::render(root, warnings, style));
    }
}

/// Colour on a terminal unless `NO_COLOR` is set; its width, so that a long
/// source line is shown as a window around the column.
fn stderr_style() -> Style {
    let terminal = std::io::stderr().is_terminal();
    let no_colour = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let width =
        std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).or_else(|| terminal.then(terminal_width).flatten());
    Style { colour: terminal && !no_colour, width: width.unwrap_or(Style::PLAIN.width) }
}

fn terminal_width() -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        let mut size = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCGWINSZ writes one winsize into the struct we own.
        let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
        (ok && size.ws_col > 0).then_some(usize::from(size.ws_col))
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// Prints the reports of `serve` and `watch`: one line per rebuild, or the
/// errors of a failed one, ending with what the user still has (`kept`).
struct Reporter {
    root: PathBuf,
    kept: &'static str,
    /// The warnings last printed: each rebuild prints them only when they
    /// changed, else counts them, so a save is still one line.
    warnings: std::sync::Mutex<Vec<Diagnostic>>,
}

impl Reporter {
    fn boxed(root: PathBuf, kept: &'static str) -> serve::Reporter {
        let reporter = Reporter { root, kept, warnings: Default::default() };
        Box::new(move |r| reporter.print(r))
    }

    fn print(&self, report: Report) {
        let (root, kept) = (self.root.as_path(), self.kept);
        match report {
            Report::Built { trigger, rendered, changed, pages, took, warnings } => {
                let mut shown = self.warnings.lock().unwrap_or_else(|e| e.into_inner());
                if *shown != warnings {
                    print_warnings(root, &warnings, stderr_style());
                }
                let count = match warnings.len() {
                    0 => String::new(),
                    n => format!(" ({})", plural(n, "warning")),
                };
                *shown = warnings;
                let what = describe(&trigger);
                println!(
                    "{what}: {pages} pages, {rendered} rendered, {changed} changed, in {:.1} ms{count}",
                    took.as_secs_f64() * 1000.0
                );
            }
            Report::Failed { trigger, errors, .. } => {
                // Rendered again for the terminal (in colour there); the plain report is the overlay's.
                eprint!("{}", diagnostics::render(root, &errors, stderr_style()));
                let n = errors.iter().filter(|d| d.is_error()).count();
                eprintln!("{}: build failed ({}); {kept}", describe(&trigger), plural(n, "error"));
                // Shown with the errors: print them again once the build succeeds.
                self.warnings.lock().unwrap_or_else(|e| e.into_inner()).clear();
            }
            Report::Warning(message) => eprintln!("warning: {message}"),
        }
    }
}

fn describe(trigger: &[PathBuf]) -> String {
    match trigger {
        [] => "Built".to_string(),
        [one] => format!("{} changed", one.display()),
        [one, rest @ ..] => format!("{} and {} more changed", one.display(), rest.len()),
    }
}

/// Ctrl-C as a channel message, so the main thread can stop things in order.
fn interrupted() -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = tx.send(());
    }) {
        eprintln!("warning: cannot handle Ctrl-C: {e}");
    }
    rx
}

fn serve_until_interrupted(options: Options, bind: IpAddr, port: u16, open: bool) -> ExitCode {
    let stop = interrupted();
    let report = Reporter::boxed(options.root.clone(), "still serving the last good site");
    let running = match serve::serve(options, bind, port, report) {
        Ok(r) => r,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let url = running.url();
    println!("Serving at {url} (Ctrl-C to stop)");
    if open {
        open_browser(&url);
    }
    let _ = stop.recv();
    running.stop();
    println!("Stopped");
    ExitCode::SUCCESS
}

fn watch_until_interrupted(options: Options) -> ExitCode {
    let stop = Arc::new(AtomicBool::new(false));
    let interrupt = interrupted();
    let flag = stop.clone();
    std::thread::spawn(move || {
        let _ = interrupt.recv();
        flag.store(true, Ordering::Relaxed);
    });
    println!("Watching {} (Ctrl-C to stop)", options.root.display());
    let report = Reporter::boxed(options.root.clone(), "the output folder keeps the last good site");
    match serve::watch(options, &stop, report) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if std::process::Command::new(opener).arg(url).spawn().is_err() {
        eprintln!("warning: could not open a browser; visit {url}");
    }
}
