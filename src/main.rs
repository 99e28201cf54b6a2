//! The command line: arguments in, exit code out.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use annals::diagnostics;
use annals::engine::{self as pipeline, Options};

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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Build { common, timings } => pipeline::build(&cli.options(common)).map(|built| {
            if *timings {
                for (stage, d) in &built.timings.stages {
                    println!("{stage:>9}  {:>8.1} ms", d.as_secs_f64() * 1000.0);
                }
            }
            println!(
                "Built {} pages ({} files) into {} in {:.0} ms",
                built.pages,
                built.outputs.len() + built.copies.len(),
                cli.options(common).output_dir().display(),
                built.timings.total().as_secs_f64() * 1000.0
            );
        }),
        Command::Check { common } => pipeline::generate(&cli.options(common)).map(|built| {
            println!("Checked {} pages: no errors", built.pages);
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(errors) => {
            eprint!("{}", diagnostics::report(&cli.root, &errors));
            ExitCode::FAILURE
        }
    }
}
