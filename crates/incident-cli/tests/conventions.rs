//! The CLI conventions a packaged command line tool follows: shell completions, a manual page and a
//! `--version` that names the commit it was built from.

mod common;
use common::{assert_one_line_error, incident, stderr, stdout};

use std::path::Path;
use std::process::Command;

/// The top-level subcommands, as `incident --help` lists them (not a copy of the list in the source).
fn subcommands() -> Vec<String> {
    let o = incident(&["--help"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let help = stdout(&o);
    let names: Vec<String> = help
        .lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|n| n != "help")
        .collect();
    for known in ["classify", "drill", "serve", "resolve", "completions", "man"] {
        assert!(names.iter().any(|n| n == known), "{known} missing from the parsed --help: {names:?}\n{help}");
    }
    names
}

/// Whether `program` runs here; the reason a check is skipped otherwise.
fn have(program: &str) -> bool {
    let ok = Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        println!("SKIPPED: {program} is not installed, so its syntax check did not run");
    }
    ok
}

fn completion(shell: &str) -> String {
    let o = incident(&["completions", shell], None);
    assert!(o.status.success(), "completions {shell}: {}", stderr(&o));
    let script = stdout(&o);
    for name in subcommands() {
        assert!(script.contains(&name), "the {shell} completion script does not mention `{name}`");
    }
    script
}

/// `shell -n` (parse, do not run) accepts the script.
fn parses(shell: &str, args: &[&str], script: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join(format!("incident.{shell}"));
    std::fs::write(&file, script).expect("write script");
    let o = Command::new(shell).args(args).arg(&file).output().expect("run the shell");
    assert!(o.status.success(), "{shell} rejects the script: {}", stderr(&o));
}

#[test]
fn bash_completion_names_every_subcommand_and_parses() {
    let script = completion("bash");
    assert!(script.contains("complete -F _incident"), "not a bash completion: {}", &script[..200.min(script.len())]);
    parses("bash", &["-n"], &script);
}

#[test]
fn zsh_completion_names_every_subcommand_and_parses() {
    let script = completion("zsh");
    assert!(script.starts_with("#compdef incident"), "not a zsh completion");
    if have("zsh") {
        parses("zsh", &["-n"], &script);
    }
}

#[test]
fn fish_completion_names_every_subcommand_and_parses() {
    let script = completion("fish");
    assert!(script.contains("complete -c incident"), "not a fish completion");
    if have("fish") {
        parses("fish", &["--no-execute"], &script);
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let o = incident(&["completions", "tcsh"], None);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("tcsh"), "{}", stderr(&o));
}

#[test]
fn completions_do_not_read_the_policy() {
    let o = Command::new(env!("CARGO_BIN_EXE_incident"))
        .args(["completions", "bash"])
        .env("INCIDENT_POLICY", "/nonexistent/policy.toml")
        .output()
        .expect("run incident");
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The page checked by groff with every warning on (an undefined macro, a bad escape fail it), then rendered
/// as a reader sees it: `man -l` when man is here, else groff's text output.
fn render(roff: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("incident.1");
    std::fs::write(&file, roff).expect("write page");
    let run = |program: &str, args: &[&str]| {
        let o = Command::new(program)
            .args(args)
            .arg(&file)
            .env("MANWIDTH", "120")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e} (install groff)"));
        assert!(o.status.success(), "{program} fails on the page: {}", stderr(&o));
        assert!(stderr(&o).trim().is_empty(), "{program} warns about the page: {}", stderr(&o));
        o.stdout
    };
    run("groff", &["-man", "-ww", "-z"]);
    let bytes = if Command::new("man").arg("--version").output().is_ok_and(|o| o.status.success()) {
        run("man", &["-l"])
    } else {
        println!("man is not installed: rendered with groff -Tutf8");
        run("groff", &["-man", "-Tutf8"])
    };
    // Strip overstrike (bold `c\bc`, underline `_\bc`) in case the formatter kept it.
    let mut text = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes.get(i + 1) == Some(&8) {
            i += 2;
            continue;
        }
        text.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&text).into_owned()
}

#[test]
fn man_page_is_roff_that_renders_with_every_subcommand() {
    let o = incident(&["man"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let roff = stdout(&o);
    assert!(
        roff.lines().any(|l| l.starts_with(".TH incident 1")),
        "no .TH title line: {}",
        &roff[..200.min(roff.len())]
    );
    let text = render(&roff);
    for section in ["NAME", "SYNOPSIS", "OPTIONS", "SUBCOMMANDS", "VERSION"] {
        assert!(text.contains(section), "the rendered page has no {section} section:\n{text}");
    }
    for name in subcommands() {
        assert!(text.contains(&format!("incident-{name}(1)")), "the rendered page does not list `{name}`:\n{text}");
    }
}

#[test]
fn man_out_writes_one_page_per_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf8");
    let o = incident(&["man", "--out", out], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let names = subcommands();
    for name in &names {
        let page = dir.path().join(format!("incident-{name}.1"));
        let roff = std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        assert!(roff.contains(&format!(".TH incident-{name} 1")), "{} has no title line", page.display());
    }
    assert!(dir.path().join("incident.1").is_file());
    // Nested subcommands get their own pages too (`incident policy show`).
    assert!(dir.path().join("incident-policy-show.1").is_file());
    assert!(stdout(&o).contains("pages written to"), "{}", stdout(&o));

    let o = incident(&["man", "--out", "/nonexistent/dir"], None);
    assert_one_line_error(&o, 2, "/nonexistent/dir");
}

/// The commit `git` reports for this crate's checkout, or None when the crate is not tracked (packaged).
fn checkout_commit() -> Option<String> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(here)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    run(&["ls-files", "--error-unmatch", "Cargo.toml"])?;
    run(&["rev-parse", "HEAD"])
}

#[test]
fn version_names_the_commit() {
    let o = incident(&["--version"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let line = stdout(&o);
    let line = line.trim_end();
    let rest = line
        .strip_prefix(concat!("incident ", env!("CARGO_PKG_VERSION"), " ("))
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unexpected --version: {line:?}"));
    match std::env::var("INCIDENT_BUILD_COMMIT").ok().filter(|c| !c.trim().is_empty()) {
        Some(given) => assert!(rest.starts_with(given.trim()), "{line:?} ignores INCIDENT_BUILD_COMMIT={given}"),
        None => match checkout_commit() {
            Some(full) => {
                let mut words = rest.split(' ');
                let commit = words.next().unwrap_or_default();
                let short = commit.strip_suffix("-dirty").unwrap_or(commit);
                assert!(short.len() >= 7 && full.starts_with(short), "{line:?} does not name HEAD {full}");
                let date = words.next().unwrap_or_default();
                let ymd: Vec<&str> = date.split('-').collect();
                assert!(
                    ymd.len() == 3 && ymd.iter().all(|p| p.chars().all(|c| c.is_ascii_digit())),
                    "{line:?}: no commit date"
                );
            }
            None => assert_eq!(rest, "unknown commit", "a packaged build names no commit"),
        },
    }
    // Subcommands carry the same version.
    let o = incident(&["drill", "--version"], None);
    assert!(stdout(&o).contains(rest), "{}", stdout(&o));
}
