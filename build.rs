//! Embeds `themes/default` in the binary, so that `annals` builds any site
//! whose `theme: default` is not copied into the site's own `themes/`; and
//! names what the binary is built from (`ANNALS_BUILT_FROM`, see `made_with`).

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // Read when the script runs, not when it was compiled: a build script
    // compiled in another checkout (a copied `target/`) would embed its theme.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it");
    let root = Path::new(&manifest_dir).join("themes/default");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    files.sort();
    let mut out = String::from(
        "/// The default theme's files: (path under the theme folder, contents).\npub static DEFAULT_THEME: &[(&str, &[u8])] = &[\n",
    );
    for rel in &files {
        let abs = root.join(rel);
        println!("cargo:rerun-if-changed={}", abs.display());
        writeln!(out, "    ({rel:?}, include_bytes!({:?})),", abs.display().to_string()).unwrap();
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("default_theme.rs");
    std::fs::write(dest, out).unwrap();
    built_from(Path::new(&manifest_dir));
}

/// A hash of every file the binary is compiled from: the code, the default
/// theme, and the versions of the crates it uses. The same sources built
/// again give the same hash; a change to any gives another, whatever the
/// binary's size or modification time (which packagers often set alike).
fn built_from(manifest_dir: &Path) {
    use std::hash::Hasher;
    let mut files = Vec::new();
    for dir in ["src", "themes/default"] {
        let root = manifest_dir.join(dir);
        println!("cargo:rerun-if-changed={}", root.display());
        collect(manifest_dir, &root, &mut files);
    }
    for file in ["build.rs", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", manifest_dir.join(file).display());
        files.push(file.to_string());
    }
    files.sort();
    // SipHash with fixed keys: the same for the same bytes, run after run.
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    for rel in &files {
        h.write(rel.as_bytes());
        h.write(&std::fs::read(manifest_dir.join(rel)).unwrap_or_default());
    }
    println!("cargo:rustc-env=ANNALS_BUILT_FROM={:016x}", h.finish());
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect(root, &path, files);
        } else {
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            files.push(rel);
        }
    }
}
