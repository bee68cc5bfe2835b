//! `incident drill` writes an evidence bundle and `incident evidence verify` proves it, as an attacker
//! and a careless user would try it: every tampering of issue 15 (each followed, where it matters, by
//! regenerating the manifest the way `sha256sum` would) must exit 5 naming what is wrong.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use incident_core::signing::SigningKey;
use sha2::{Digest, Sha256};

fn incident(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_incident"));
    cmd.args(args)
        .env_remove("INCIDENT_POLICY")
        .env_remove("INCIDENT_STORE")
        .env_remove("INCIDENT_FAILPOINT")
        .env_remove("INCIDENT_SIGNING_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("spawn")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A key written as PEM in `dir`; returns (file, public key text).
fn key_file(dir: &Path, name: &str) -> (PathBuf, String) {
    let (key, der) = SigningKey::generate().expect("key");
    let path = dir.join(name);
    std::fs::write(&path, SigningKey::pkcs8_pem(&der)).expect("write key");
    (path, key.public_key().to_string())
}

/// A policy file trusting `public`.
fn trusting(dir: &Path, public: &str) -> PathBuf {
    let path = dir.join("policy.toml");
    std::fs::write(&path, format!("[signing]\ntrusted_keys = [\"{public}\"]\n")).expect("write policy");
    path
}

struct Templates {
    _tmp: tempfile::TempDir,
    unsigned: PathBuf,
    signed: PathBuf,
    key: PathBuf,
    public: String,
    /// The drills' text output.
    said: (String, String),
}

/// One unsigned and one signed drill per test binary (`--signing-key` and `INCIDENT_SIGNING_KEY`); tests
/// tamper with copies.
fn templates() -> &'static Templates {
    static T: OnceLock<Templates> = OnceLock::new();
    T.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (key, public) = key_file(tmp.path(), "key.pem");
        let unsigned = tmp.path().join("unsigned");
        let o = incident(&["drill", "bad-deploy", "--yes", "--quiet", "--out", s(&unsigned)], &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        let said_unsigned = String::from_utf8_lossy(&o.stdout).into_owned();
        let signed = tmp.path().join("signed");
        let o = incident(
            &["drill", "bad-deploy", "--yes", "--quiet", "--out", s(&signed)],
            &[("INCIDENT_SIGNING_KEY", s(&key))],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let said = (said_unsigned, String::from_utf8_lossy(&o.stdout).into_owned());
        Templates { _tmp: tmp, unsigned, signed, key, public, said }
    })
}

fn copy_of(template: &Path) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("bundle");
    std::fs::create_dir(&dir).expect("mkdir");
    for entry in std::fs::read_dir(template).expect("list") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.join(entry.file_name())).expect("copy");
    }
    (tmp, dir)
}

/// What an attacker does with `sha256sum`: recompute the hash of every listed file (comment lines kept).
fn regenerate_manifest(dir: &Path) {
    let text = std::fs::read_to_string(dir.join("manifest.sha256")).expect("manifest");
    let mut out = String::new();
    for line in text.lines() {
        match line.split_once("  ") {
            Some((_, name)) if !line.starts_with('#') => {
                if let Ok(bytes) = std::fs::read(dir.join(name)) {
                    let hash: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
                    out.push_str(&format!("{hash}  {name}\n"));
                }
            }
            _ => out.push_str(&format!("{line}\n")),
        }
    }
    std::fs::write(dir.join("manifest.sha256"), out).expect("write manifest");
}

fn sql(dir: &Path, statements: &str) {
    let conn = rusqlite::Connection::open(dir.join("journal.sqlite")).expect("open");
    conn.execute_batch(statements).expect("sql");
}

fn edit_json(dir: &Path, name: &str, f: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join(name);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    f(&mut v);
    std::fs::write(&path, serde_json::to_vec_pretty(&v).expect("json")).expect("write");
}

/// `incident evidence verify DIR [extra]` exits 5 and says `needle`.
#[track_caller]
fn refused(dir: &Path, extra: &[&str], needle: &str) {
    let mut args = vec!["evidence", "verify", s(dir)];
    args.extend_from_slice(extra);
    let o = incident(&args, &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(5), "exit 5 expected; stdout {} stderr {err}", String::from_utf8_lossy(&o.stdout));
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

#[test]
fn a_fresh_bundle_verifies_and_says_what_it_proved() {
    let (_t, dir) = copy_of(&templates().unsigned);
    let o = incident(&["evidence", "verify", s(&dir)], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for words in [
        "evidence bundle verified (incident-core evidence v1)",
        "all 10 required files are present and match manifest.sha256; no other file is there",
        "hash chain intact in timeline.json and journal.sqlite, identical in both",
        "is the one report.json and journal.sqlite recorded",
        "signature  none: ",
    ] {
        assert!(text.contains(words), "{words:?} in {text}");
    }
    let o = incident(&["evidence", "verify", s(&dir), "-o", "json"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["format"], "incident-core evidence v1");
    assert_eq!(v["files"].as_array().map(Vec::len), Some(10));
    assert!(v["timeline"]["events"].as_u64() > Some(10), "{v}");
    assert_eq!(v["timeline"]["head"].as_str().map(str::len), Some(64));
    assert_eq!(v["journals"][0]["head"].as_str().map(str::len), Some(64));
    assert_eq!(v["signature"]["status"], "unsigned");
    // sha256sum reads the manifest too.
    if let Ok(o) = Command::new("sha256sum").args(["-c", "--strict", "manifest.sha256"]).current_dir(&dir).output() {
        assert!(o.status.success(), "sha256sum -c: {}", String::from_utf8_lossy(&o.stderr));
    }
}

#[test]
fn a_drill_says_whether_its_bundle_is_signed() {
    let t = templates();
    assert!(t.said.0.contains("(evidence bundle, unsigned)"), "{}", t.said.0);
    assert!(t.said.1.contains(&format!("(evidence bundle, signed by {})", t.public)), "{}", t.said.1);
    let manifest = std::fs::read_to_string(t.signed.join("manifest.sha256")).expect("manifest");
    assert!(manifest.starts_with(&format!("# incident-core evidence v1\n# signed-by: {}\n", t.public)), "{manifest}");
    assert!(t.signed.join("manifest.sig").is_file() && !t.unsigned.join("manifest.sig").exists());
}

#[test]
fn an_empty_manifest_is_refused() {
    let (_t, dir) = copy_of(&templates().unsigned);
    std::fs::write(dir.join("manifest.sha256"), "").expect("write");
    refused(&dir, &[], "manifest.sha256 is empty");
}

#[test]
fn an_absent_manifest_is_refused() {
    let (_t, dir) = copy_of(&templates().unsigned);
    std::fs::remove_file(dir.join("manifest.sha256")).expect("rm");
    refused(&dir, &[], "manifest.sha256 is missing");
}

#[test]
fn a_missing_required_file_is_refused_even_with_a_regenerated_manifest() {
    let (_t, dir) = copy_of(&templates().unsigned);
    std::fs::remove_file(dir.join("triage.txt")).expect("rm");
    refused(&dir, &[], "the required file triage.txt is missing");
    regenerate_manifest(&dir);
    refused(&dir, &[], "manifest.sha256 does not list the required file triage.txt");
}

#[test]
fn an_extra_unlisted_file_is_refused() {
    let (_t, dir) = copy_of(&templates().unsigned);
    std::fs::write(dir.join("notes.txt"), "nothing happened").expect("write");
    refused(&dir, &[], "notes.txt is not part of the evidence bundle");
}

#[test]
fn the_last_timeline_event_popped_with_a_regenerated_manifest_is_refused() {
    let (_t, dir) = copy_of(&templates().unsigned);
    edit_json(&dir, "timeline.json", |v| drop(v["events"].as_array_mut().expect("events").pop()));
    regenerate_manifest(&dir);
    refused(&dir, &[], "timeline.json ends at event #");
}

#[test]
fn an_updated_journal_row_with_a_regenerated_manifest_is_refused() {
    let (_t, dir) = copy_of(&templates().unsigned);
    sql(&dir, "UPDATE journal SET owner = 'mallory' WHERE seq = 1");
    regenerate_manifest(&dir);
    refused(&dir, &[], "entry #1 hash mismatch (edited?)");
}

#[test]
fn deleted_timeline_rows_with_a_regenerated_manifest_are_refused() {
    let (_t, dir) = copy_of(&templates().unsigned);
    sql(&dir, "DELETE FROM events WHERE seq > 20");
    regenerate_manifest(&dir);
    refused(&dir, &[], "the newest event is #20 but the recorded head is #");
    // And with the store's own recorded head moved to match: report.json still remembers.
    sql(&dir, "UPDATE heads SET seq = 20, hash = (SELECT hash FROM events WHERE seq = 20) WHERE chain = 'timeline'");
    regenerate_manifest(&dir);
    refused(&dir, &[], "journal.sqlite: the timeline of DRILL-bad-deploy");
}

#[test]
fn an_edited_report_head_with_a_regenerated_manifest_is_refused() {
    let (_t, dir) = copy_of(&templates().unsigned);
    edit_json(&dir, "report.json", |v| v["evidence"]["timeline"]["events"] = 7.into());
    regenerate_manifest(&dir);
    refused(&dir, &[], "but report.json recorded the head event #7");

    let (_t, dir) = copy_of(&templates().unsigned);
    edit_json(&dir, "report.json", |v| v["evidence"]["journals"][0]["head"] = "0".repeat(64).into());
    regenerate_manifest(&dir);
    refused(&dir, &[], "but report.json recorded the head entry #");
}

#[test]
fn a_signed_bundle_verifies_with_the_key_trusted() {
    let t = templates();
    let (tmp, dir) = copy_of(&t.signed);
    let o = incident(&["evidence", "verify", s(&dir), "--signing-key", s(&t.key), "-o", "json"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["signature"], serde_json::json!({"status": "trusted", "key": t.public}));
    // The same through the policy (a verifier needs only the public key).
    let policy = trusting(tmp.path(), &t.public);
    let o = incident(&["evidence", "verify", s(&dir), "--policy", s(&policy)], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("signed by {}, a trusted key", t.public)));
    // Nothing trusted: the signature must still match, and the output says what that does not prove.
    let o = incident(&["evidence", "verify", s(&dir)], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no key is trusted here"));
}

#[test]
fn an_unsigned_bundle_is_refused_when_a_key_is_trusted() {
    let t = templates();
    let (tmp, dir) = copy_of(&t.unsigned);
    refused(&dir, &["--signing-key", s(&t.key)], "manifest.sha256 is not signed, and signatures are required");
    let policy = trusting(tmp.path(), &t.public);
    refused(&dir, &["--policy", s(&policy)], "manifest.sha256 is not signed");
    // Stripping the signature from a signed bundle (and its signed-by line) is the same thing.
    let (_t2, dir) = copy_of(&t.signed);
    std::fs::remove_file(dir.join("manifest.sig")).expect("rm");
    refused(&dir, &["--policy", s(&policy)], "manifest.sha256 is not signed");
}

#[test]
fn a_bundle_signed_by_an_untrusted_key_is_refused() {
    let t = templates();
    let (tmp, dir) = copy_of(&t.signed);
    let (other, other_public) = key_file(tmp.path(), "other.pem");
    refused(&dir, &["--signing-key", s(&other)], "which is not trusted");
    let policy = trusting(tmp.path(), &other_public);
    refused(&dir, &["--policy", s(&policy)], &format!("is signed by {}, which is not trusted", t.public));
}

#[test]
fn a_manifest_edited_after_signing_is_refused() {
    let t = templates();
    let (_t, dir) = copy_of(&t.signed);
    edit_json(&dir, "plan.json", |v| v["steps"][0]["summary"] = "nothing to see".into());
    edit_json(&dir, "report.json", |v| v["plan"]["steps"][0]["summary"] = "nothing to see".into());
    regenerate_manifest(&dir);
    refused(&dir, &["--signing-key", s(&t.key)], "bad signature");
    // Even with no key trusted, a signature that is there has to match.
    refused(&dir, &[], "bad signature");
}

#[test]
fn a_bad_signing_key_file_is_bad_input_and_never_echoed() {
    let (_t, dir) = copy_of(&templates().unsigned);
    let key = dir.parent().expect("parent").join("bad.pem");
    std::fs::write(&key, "super-secret-material").expect("write");
    let o = incident(&["evidence", "verify", s(&dir), "--signing-key", s(&key)], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("bad.pem: signing key: not an Ed25519 PKCS#8 private key"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("super-secret"), "{}", stderr(&o));
}

#[test]
fn a_drill_is_not_written_over_other_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("notes.txt"), "mine").expect("write");
    let o = incident(&["drill", "bad-deploy", "--yes", "--quiet", "--out", s(tmp.path())], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("holds notes.txt, which is not part of an evidence bundle"), "{}", stderr(&o));
}
