//! The text after the version in `incident --version`: `0.1.0 (<short commit>[-dirty] <commit date>)`.
//!
//! Inside a git checkout where this crate's files are tracked, the commit, whether tracked files differ from
//! it, and the commit's date come from `git`. A packaged crate (`cargo package`, `cargo install` from a
//! `.crate`, a vendored copy) has no repository of its own and builds with the text `unknown commit`: the
//! build never fails for want of git. `INCIDENT_BUILD_COMMIT` (and optionally `INCIDENT_BUILD_DATE`)
//! override both, for reproducible builds from a source tarball.
//!
//! The date is the commit's, never the build's, so two builds of one commit print the same version.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=INCIDENT_BUILD_COMMIT");
    println!("cargo:rerun-if-env-changed=INCIDENT_BUILD_DATE");
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let here = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let (commit, date) = match std::env::var("INCIDENT_BUILD_COMMIT") {
        Ok(c) if !c.trim().is_empty() => {
            (c.trim().to_owned(), std::env::var("INCIDENT_BUILD_DATE").ok().map(|d| d.trim().to_owned()))
        }
        _ => from_git(Path::new(&here)).unwrap_or_else(|| ("unknown commit".to_owned(), None)),
    };
    let detail = match date.filter(|d| !d.is_empty()) {
        Some(d) => format!("{commit} {d}"),
        None => commit,
    };
    println!("cargo:rustc-env=INCIDENT_LONG_VERSION={version} ({detail})");
}

/// `git` run in `dir`; its trimmed stdout when it succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The short commit (with `-dirty` when tracked files differ from it) and its date, when this crate is
/// tracked in a git checkout. A crate unpacked inside some other repository's ignored directory (the
/// `target/package` of `cargo package`) is not tracked there, so it counts as packaged.
fn from_git(dir: &Path) -> Option<(String, Option<String>)> {
    git(dir, &["ls-files", "--error-unmatch", "Cargo.toml"])?;
    let commit = git(dir, &["rev-parse", "--short", "HEAD"])?;
    // Rebuild when HEAD moves (a commit, a checkout) or the index changes (staging, which is also when
    // git refreshes its view of modified files). Edits to other crates' files alone do not rerun this.
    for what in ["HEAD", "index"] {
        if let Some(p) = git(dir, &["rev-parse", "--path-format=absolute", "--git-path", what]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    if let Some(head_ref) = git(dir, &["symbolic-ref", "-q", "HEAD"])
        && let Some(p) = git(dir, &["rev-parse", "--path-format=absolute", "--git-path", &head_ref])
    {
        println!("cargo:rerun-if-changed={p}");
    }
    // This crate's own sources are watched too, so an edit here refreshes `-dirty`.
    println!("cargo:rerun-if-changed={}", dir.join("src").display());
    println!("cargo:rerun-if-changed={}", dir.join("Cargo.toml").display());
    let dirty = git(dir, &["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    let date = git(dir, &["log", "-1", "--format=%cs", "HEAD"]);
    Some((if dirty { format!("{commit}-dirty") } else { commit }, date))
}
