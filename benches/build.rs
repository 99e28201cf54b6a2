//! The benchmark harness: generates the synthetic corpus at several sizes
//! and builds it repeatedly, printing medians of wall time, CPU time, peak
//! memory and per-stage time; optionally the same corpus with Hugo, and the
//! preview server's time from saving one file to the reload message.
//!
//! cargo bench --bench build -- [--sizes 1000,10000,100000] [--runs 3]
//!                              [--dir /dev/shm/annals-bench] [--hugo] [--serve] [--shipped] [--floor]
//!
//! Each size is built from no output (`annals`), then again after one
//! study changed, into the output of the build before (`rebuild`); `--dir`
//! on a disk rather than tmpfs measures what writing files costs there.
//!
//! `--floor` also runs the floor program on each corpus, right after annals,
//! and prints annals's time as a ratio of it: what any generator must at
//! least do (read every Markdown file, render it with pulldown-cmark, write
//! one HTML file per page, in parallel), so the ratio says how much annals
//! spends on everything else.
//!
//! `--shipped` also measures the repository's own site (a copy of it): its
//! build, and saving each of its first studies.
//!
//! `--paired` ends with the per-page time of the largest size as a ratio of
//! the smallest's, from full builds of the two alternated `--runs` times.

#[path = "corpus.rs"]
mod corpus;
use annals::serve::{self, Report};
use corpus::Flavour;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// The preview server runs in this process: give it the allocator that the
// `annals` binary uses, so that its figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    sizes: Vec<usize>,
    runs: usize,
    dir: PathBuf,
    hugo: bool,
    serve: bool,
    shipped: bool,
    floor: bool,
    paired: bool,
}

fn args() -> Args {
    let mut a = Args {
        sizes: vec![1_000, 10_000],
        runs: 3,
        dir: "/dev/shm/annals-bench".into(),
        hugo: false,
        serve: false,
        shipped: false,
        floor: false,
        paired: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--sizes" => a.sizes = it.next().unwrap().split(',').map(|s| s.parse().unwrap()).collect(),
            "--runs" => a.runs = it.next().unwrap().parse().unwrap(),
            "--dir" => a.dir = it.next().unwrap().into(),
            "--hugo" => a.hugo = true,
            "--serve" => a.serve = true,
            "--shipped" => a.shipped = true,
            "--floor" => a.floor = true,
            "--paired" => a.paired = true,
            _ => {} // cargo passes --bench
        }
    }
    a
}

/// One run of a command: wall time, CPU time (user + system), peak RSS, stdout.
struct Run {
    wall: Duration,
    cpu: Duration,
    peak_mib: f64,
    stdout: String,
}

const RUSAGE_LINE: &str = "annals-bench-rusage";

/// Runs `cmd` through a small launcher process (this binary, `--launch`)
/// that reports the command's resource usage. Started straight from here,
/// the command would inherit this process's memory high-water mark (the
/// kernel counts the forked image, and this process holds a preview server's
/// site after `--serve`), so a small build would report this process's peak.
fn run(cmd: &mut Command) -> Run {
    let start = Instant::now();
    let output = Command::new(std::env::current_exe().unwrap())
        .arg("--launch")
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stderr(Stdio::inherit())
        .output()
        .expect("command starts");
    let wall = start.elapsed();
    assert!(output.status.success(), "benchmark command failed");
    let text = String::from_utf8_lossy(&output.stdout);
    let (stdout, usage) = text.rsplit_once(RUSAGE_LINE).expect("the launcher reports usage");
    let n: Vec<u64> = usage.split_whitespace().map(|v| v.parse().unwrap()).collect();
    let cpu = Duration::from_micros(n[0] + n[1]);
    Run { wall, cpu, peak_mib: n[2] as f64 / 1024.0, stdout: stdout.to_string() }
}

/// The launcher: runs the command, then prints its CPU time (µs, user and
/// system) and peak resident memory (KiB) as a last line.
fn launch(program: &str, args: &[String]) {
    // Reaped by wait4 below, which (unlike Child::wait) reports its resource usage.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(program).args(args).spawn().expect("command starts");
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert!(rc == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "benchmark command failed");
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    println!("{RUSAGE_LINE} {} {} {}", us(usage.ru_utime), us(usage.ru_stime), usage.ru_maxrss);
}

fn median<T: PartialOrd + Copy>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Builds `runs` times and prints the medians on one line (plus stages).
fn measure(label: &str, size: usize, runs: usize, mut make: impl FnMut() -> Command) -> f64 {
    let results: Vec<Run> = (0..runs).map(|_| run(&mut make())).collect();
    let wall = median(results.iter().map(|r| ms(r.wall)).collect());
    let cpu = median(results.iter().map(|r| ms(r.cpu)).collect());
    let peak = median(results.iter().map(|r| r.peak_mib).collect());
    println!(
        "{label:<7} {size:>7} pages  wall {wall:>8.0} ms  cpu {cpu:>8.0} ms  peak {peak:>6.0} MiB  ({:.1} µs/page wall)",
        wall * 1000.0 / size as f64
    );
    let mut stages: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in &results {
        for line in r.stdout.lines() {
            let mut parts = line.split_whitespace();
            if let (Some(stage), Some(value), Some("ms")) = (parts.next(), parts.next(), parts.next())
                && let Ok(v) = value.parse::<f64>()
            {
                stages.entry(stage.to_string()).or_default().push(v);
            }
        }
    }
    if !stages.is_empty() {
        let order = ["prepare", "load", "keep", "pages", "markdown", "link", "render", "search", "write"];
        let line: Vec<String> =
            order.iter().filter_map(|s| stages.get(*s).map(|v| format!("{s} {:.0}", median(v.clone())))).collect();
        println!("{:<7} {:>7}        stages (ms, median): {}", "", "", line.join(", "));
    }
    wall
}

/// Median time from saving one study to the reload message, over `runs`
/// edits of the corpus's studies.
fn measure_serve(root: &Path, size: usize, runs: usize) {
    let studies = (0..runs.max(5)).map(|n| format!("content/studies/study-{:06}.md", (n * 7919) % (size - 11)));
    measure_saves(root, &format!("{size:>7} pages"), studies.collect());
}

/// Median time from saving a file to the reload message, over one save of
/// each of `files` (Markdown files under `root`), each adding a paragraph.
fn measure_saves(root: &Path, label: &str, files: Vec<String>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let running = serve::serve(
        annals::engine::Options::new(root),
        [127, 0, 0, 1].into(),
        0,
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    )
    .expect("serve starts");
    rx.recv_timeout(Duration::from_secs(600)).expect("first build");
    let mut took = Vec::new();
    let mut rendered = Vec::new();
    for (n, file) in files.iter().enumerate() {
        let path = root.join(file);
        let text = format!("{}\nEdit {n}.\n", std::fs::read_to_string(&path).unwrap());
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        match rx.recv_timeout(Duration::from_secs(60)).expect("a rebuild") {
            Report::Built { took: t, rendered: r, .. } => {
                took.push(ms(t));
                rendered.push(r);
            }
            Report::Failed { rendered_report, .. } => panic!("{rendered_report}"),
            Report::Warning(w) => panic!("{w}"),
        }
    }
    // The server's site is most of this process now: what it holds after
    // the saves, and the most this process ever held (the first build's
    // peak included).
    let (resident, peak) = (status_mib("VmRSS:"), status_mib("VmHWM:"));
    running.stop();
    println!(
        "serve   {label:>13}  save → reload message: median {:.1} ms (min {:.1}, max {:.1}), {} outputs re-rendered (median); memory {resident:.0} MiB, peak {peak:.0} MiB",
        median(took.clone()),
        took.iter().cloned().fold(f64::MAX, f64::min),
        took.iter().cloned().fold(0.0, f64::max),
        median(rendered)
    );
}

/// A figure of this process's `/proc/self/status` in MiB (0 where there is none).
fn status_mib(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib =
        status.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok());
    kib.unwrap_or(0.0) / 1024.0
}

/// The repository's own site, copied to `dir` so that saving its files
/// leaves the working tree alone: its build, and saves of its studies.
fn measure_shipped(annals_bin: &str, dir: &Path, runs: usize) {
    let root = dir.join("shipped");
    let _ = std::fs::remove_dir_all(&root);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for part in ["site.yaml", "content", "themes"] {
        copy(&repo.join(part), &root.join(part));
    }
    let pages = walkdir::WalkDir::new(root.join("content"))
        .into_iter()
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "md")))
        .count();
    measure("annals", pages, runs, || {
        let mut c = Command::new(annals_bin);
        c.arg("--root").arg(&root).args(["build", "--timings"]);
        c
    });
    let mut studies: Vec<String> = std::fs::read_dir(root.join("content/studies"))
        .unwrap()
        .map(|e| format!("content/studies/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|f| f.ends_with(".md") && !f.ends_with("_index.md"))
        .collect();
    studies.sort();
    studies.truncate(runs.max(5));
    measure_saves(&root, "shipped site", studies);
}

fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            copy(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

/// The floor program: reads every Markdown file of `root/content`, skips
/// its front matter, renders it with pulldown-cmark and writes one HTML
/// file per page under `out`, in parallel. No templates, links or checks.
fn floor(root: &Path, out: &Path) {
    use rayon::prelude::*;
    let content = root.join("content");
    let files: Vec<PathBuf> = walkdir::WalkDir::new(&content)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "md"))
        .map(|e| e.into_path())
        .collect();
    let pages: Vec<PathBuf> = files
        .iter()
        .map(|f| out.join(f.strip_prefix(&content).unwrap().with_extension("")).join("index.html"))
        .collect();
    let folders: std::collections::BTreeSet<&Path> = pages.iter().filter_map(|p| p.parent()).collect();
    for folder in folders {
        std::fs::create_dir_all(folder).unwrap();
    }
    files.par_iter().zip(&pages).for_each(|(file, page)| {
        let text = std::fs::read_to_string(file).unwrap();
        let body =
            text.strip_prefix("---\n").and_then(|rest| rest.split_once("\n---\n")).map_or(text.as_str(), |(_, b)| b);
        let mut html = String::with_capacity(body.len() * 2);
        pulldown_cmark::html::push_html(&mut html, pulldown_cmark::Parser::new_ext(body, annals::markdown::options()));
        std::fs::write(page, html).unwrap();
    });
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    match raw.first().map(String::as_str) {
        Some("--floor-run") => return floor(Path::new(&raw[1]), Path::new(&raw[2])),
        Some("--launch") => return launch(&raw[1], &raw[2..]),
        _ => {}
    }
    let a = args();
    let annals_bin = env!("CARGO_BIN_EXE_annals");
    std::fs::create_dir_all(&a.dir).unwrap();
    println!("annals benchmark: {} runs per size, output under {}", a.runs, a.dir.display());
    if a.shipped {
        measure_shipped(annals_bin, &a.dir, a.runs);
    }
    for &size in &a.sizes {
        let root = a.dir.join(format!("annals-{size}"));
        corpus::generate(&root, size, 1, Flavour::Annals).unwrap();
        let annals = measure("annals", size, a.runs, || full_build(annals_bin, &root));
        // Then the same build again after one study changed: the build of
        // someone at work, into the output of the build before.
        let mut edit = 0;
        measure("rebuild", size, a.runs, || {
            let study = root.join(format!("content/studies/study-{:06}.md", (edit * 7919) % size));
            let text = std::fs::read_to_string(&study).unwrap();
            std::fs::write(&study, format!("{text}\nRebuilt {edit}.\n")).unwrap();
            edit += 1;
            let mut c = Command::new(annals_bin);
            c.arg("--root").arg(&root).args(["build", "--timings"]);
            c
        });
        if a.floor {
            let out = a.dir.join(format!("floor-{size}"));
            let floor = measure("floor", size, a.runs, || {
                let _ = std::fs::remove_dir_all(&out);
                let mut c = Command::new(std::env::current_exe().unwrap());
                c.arg("--floor-run").arg(&root).arg(&out);
                c
            });
            println!("{:<7} {size:>7} pages  annals / floor = {:.2}×", "ratio", annals / floor);
        }
        if a.hugo {
            let hroot = a.dir.join(format!("hugo-{size}"));
            corpus::generate(&hroot, size, 1, Flavour::Hugo).unwrap();
            measure("hugo", size, a.runs, || {
                let mut c = Command::new("hugo");
                c.arg("--quiet").arg("--source").arg(&hroot).arg("--destination").arg(hroot.join("public"));
                c
            });
        }
        if a.serve {
            measure_serve(&root, size, a.runs);
        }
    }
    if let (true, Some(&small), Some(&large)) = (a.paired, a.sizes.iter().min(), a.sizes.iter().max()) {
        measure_paired(annals_bin, &a.dir, small, large, a.runs);
    }
}

/// A full build, from no output at all, as the floor's.
fn full_build(annals_bin: &str, root: &Path) -> Command {
    let _ = std::fs::remove_dir_all(root.join("public"));
    let _ = std::fs::remove_dir_all(root.join(".public.annals"));
    let mut c = Command::new(annals_bin);
    c.arg("--root").arg(root).args(["build", "--timings"]);
    c
}

/// The per-page time of `large` pages as a ratio of `small`'s, from full
/// builds of the two in turn, `runs` pairs: the machine's speed drifts over
/// a sitting, and the medians above come from builds minutes apart.
fn measure_paired(annals_bin: &str, dir: &Path, small: usize, large: usize, runs: usize) {
    let per_page = |size: usize| {
        let root = dir.join(format!("annals-{size}"));
        ms(run(&mut full_build(annals_bin, &root)).wall) * 1000.0 / size as f64
    };
    let pairs: Vec<(f64, f64)> = (0..runs).map(|_| (per_page(small), per_page(large))).collect();
    let shown: Vec<String> = pairs.iter().map(|(s, l)| format!("{l:.1}/{s:.1} = {:.3}", l / s)).collect();
    let ratio = median(pairs.iter().map(|(s, l)| l / s).collect());
    println!(
        "{:<7} {large:>7} pages  per page / {small}'s: median {ratio:.3}× (µs, pairs in turn: {})",
        "paired",
        shown.join(", ")
    );
}
