//! The command line: arguments in, exit code out.

use clap::{Parser, Subcommand};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use annals::{corpus, diagnostics};

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
        /// Print how long each stage took.
        #[arg(long)]
        timings: bool,
    },
    /// Validate and render the whole site without writing anything.
    Check {
        #[command(flatten)]
        common: Common,
    },
    /// Build, serve on localhost with live reload, and rebuild on every change.
    Serve {
        #[command(flatten)]
        common: Common,
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
    },
    /// Write a synthetic site for benchmarks (see BENCHMARKS.md).
    #[command(hide = true)]
    Corpus {
        /// Folder to write (replaced if it exists).
        dir: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        pages: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write the Hugo version of the same corpus.
        #[arg(long)]
        hugo: bool,
    },
}

#[derive(clap::Args)]
struct Common {
    /// Include pages marked `draft: true`.
    #[arg(long)]
    drafts: bool,
    /// Output folder, relative to the site root.
    #[arg(long, short, default_value = "public")]
    output: PathBuf,
    /// Override base_url from site.yaml.
    #[arg(long)]
    base_url: Option<String>,
}

impl Cli {
    fn options(&self, common: &Common) -> Options {
        let mut o = Options::new(&self.root);
        o.output = common.output.clone();
        o.drafts = common.drafts;
        o.base_url = common.base_url.clone();
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
    let result = match &cli.command {
        Command::Build { common, timings } => pipeline::build(&cli.options(common)).map(|built| {
            warn(&built.warnings);
            if *timings {
                for (stage, d) in &built.timings.stages {
                    println!("{stage:>9}  {:>8.1} ms", d.as_secs_f64() * 1000.0);
                }
            }
            println!(
                "Built {} pages ({} files) into {} in {:.0} ms",
                built.pages,
                built.files,
                cli.options(common).output_dir().display(),
                built.timings.total().as_secs_f64() * 1000.0
            );
        }),
        Command::Check { common } => pipeline::generate(&cli.options(common)).map(|built| {
            warn(&built.warnings);
            println!("Checked {} pages: no errors", built.pages);
        }),
        Command::Serve { common, port, bind, open } => {
            return serve_until_interrupted(cli.options(common), *bind, *port, *open)
        }
        Command::Watch { common } => return watch_until_interrupted(cli.options(common)),
        Command::Corpus { dir, pages, seed, hugo } => {
            let flavour = if *hugo { corpus::Flavour::Hugo } else { corpus::Flavour::Annals };
            return match corpus::generate(dir, *pages, *seed, flavour) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: cannot write {}: {e}", dir.display());
                    ExitCode::FAILURE
                }
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(errors) => {
            eprint!("{}", diagnostics::report(&cli.root, &errors));
            ExitCode::FAILURE
        }
    }
}

fn warn(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

/// Prints one line per rebuild, or the errors of a failed one.
fn print_report(report: Report) {
    match report {
        Report::Built { trigger, rendered, changed, pages, took } => {
            let what = describe(&trigger);
            println!(
                "{what}: {pages} pages, {rendered} rendered, {changed} changed, in {:.1} ms",
                took.as_secs_f64() * 1000.0
            );
        }
        Report::Failed { trigger, errors, rendered_report } => {
            eprint!("{rendered_report}");
            eprintln!(
                "{}: build failed ({} error{}); still serving the last good site",
                describe(&trigger),
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
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
    let running = match serve::serve(options, bind, port, Box::new(print_report)) {
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
    match serve::watch(options, &stop, Box::new(print_report)) {
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
