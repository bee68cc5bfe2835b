//! The manifest's strict parsing (whole bundles, made by a real drill and tampered with, are checked in
//! incident-store's `tests/evidence.rs`, with the SQLite store as the bundle's `journal.sqlite`).

use super::manifest::Manifest;
use super::*;
use crate::ErrorKind;

#[test]
fn the_manifest_is_sha256sum_format_with_a_header_and_parses_strictly() {
    // What a bundle's manifest looks like (a drill's real bundle is checked in incident-store's
    // `tests/evidence.rs`): one `<sha256>  <file>` line per required file.
    let files = (0u32..).zip(REQUIRED_FILES).map(|(i, name)| (name.to_owned(), format!("{i:064x}"))).collect();
    let text = Manifest { signed_by: None, files }.render();
    assert!(text.starts_with("# incident-core evidence v1\n"), "{text}");
    let m = Manifest::parse(&text).expect("parse");
    assert_eq!(m.render(), text, "round trip");
    assert_eq!(m.signed_by, None);

    let fails = |text: &str, needle: &str| {
        let err = Manifest::parse(text).expect_err(needle);
        assert_eq!(err.kind(), ErrorKind::Integrity);
        assert!(err.message().contains(needle), "{needle:?} in {err}");
    };
    fails("", "manifest.sha256 is empty");
    fails("\n\n", "manifest.sha256 is empty");
    let body: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    fails(&body, "line 1 is not `# incident-core evidence v1`");
    fails(&format!("{text}# note\n"), "unexpected comment line");
    fails(&format!("{text}{}  notes.txt\n", "0".repeat(64)), "lists \"notes.txt\", which is not a file");
    fails(&format!("{text}{}  ../etc/passwd\n", "0".repeat(64)), "which is not a file of an evidence bundle");
    let first_entry = text.lines().nth(1).expect("entry");
    fails(&format!("{text}{first_entry}\n"), "a second time");
    fails(&text.replace(&format!("{first_entry}\n"), ""), "does not list the required file incident.json");
    fails(&text.replacen(&first_entry[..64], &"Z".repeat(64), 1), "is not a lower-case hex SHA-256");
    fails(&text.replacen("  incident.json", " *incident.json", 1), "expected `<sha256>  <file>`");
    fails(&text.replacen("\n", "\n# signed-by: ed25519:nope\n", 1), "line 2: public key");
}
