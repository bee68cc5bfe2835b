//! Evidence bundles (`incident_core::evidence`, whose `journal.sqlite` is a [`SqliteStore`]): a real
//! drill's bundle, verified, then tampered with in every way the issue names (and a few more); each must
//! be refused with `Integrity`, naming what is wrong.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use incident_core::ErrorKind;
use incident_core::drill_run::{self as drill, AutoApprove, DrillOptions, Silent};
use incident_core::evidence::{
    DrillBundle, FORMAT, JOURNAL, MANIFEST, REQUIRED_FILES, SIGNATURE, SignatureCheck, Verification,
};
use incident_core::signing::{SigningKey, Trust};
use incident_core::sim::{Scenario, SimPlatform};
use incident_store::SqliteStore;
use sha2::{Digest, Sha256};

/// `incident_core::evidence::verify` reading `journal.sqlite` with the SQLite store.
fn verify(dir: impl AsRef<Path>, trust: &Trust) -> incident_core::Result<Verification> {
    incident_core::evidence::verify::<SqliteStore>(dir, trust)
}

/// Lower-case hex SHA-256 of the file at `path`.
fn sha256_file(path: &Path) -> std::io::Result<String> {
    Ok(hex::encode(Sha256::digest(std::fs::read(path)?)))
}

/// Run the bad-deploy drill into a new bundle in `dir`.
fn make_bundle(dir: &Path, key: Option<&SigningKey>) -> Verification {
    let bundle = DrillBundle::<SqliteStore>::create(dir).expect("create");
    let scenario = Scenario::builtin("bad-deploy").expect("scenario");
    let platform = SimPlatform::from_scenario(&scenario).expect("platform");
    let store: Arc<dyn incident_core::store::Store> = Arc::new(bundle.store().clone());
    let report = incident_core::sim::runtime()
        .expect("runtime")
        .block_on(drill::run_drill(
            &platform,
            store,
            &incident_core::Policy::default(),
            &scenario,
            &DrillOptions::default(),
            &AutoApprove { by: "evidence-test".into() },
            &Silent,
        ))
        .expect("drill");
    assert!(report.passed, "{:?}", report.failures);
    bundle.finish(&report, key).expect("finish")
}

/// One unsigned bundle, and one signed with its key, per test binary; tests tamper with copies.
fn templates() -> &'static (tempfile::TempDir, (tempfile::TempDir, SigningKey)) {
    static T: OnceLock<(tempfile::TempDir, (tempfile::TempDir, SigningKey))> = OnceLock::new();
    T.get_or_init(|| {
        let plain = tempfile::tempdir().expect("tempdir");
        make_bundle(plain.path(), None);
        let signed = tempfile::tempdir().expect("tempdir");
        let (key, _) = SigningKey::generate().expect("key");
        make_bundle(signed.path(), Some(&key));
        (plain, (signed, key))
    })
}

/// A copy of a template bundle (`bundle` inside a fresh temporary directory).
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

fn unsigned() -> (tempfile::TempDir, PathBuf) {
    copy_of(templates().0.path())
}

fn signed() -> (tempfile::TempDir, PathBuf, &'static SigningKey) {
    let (template, key) = &templates().1;
    let (tmp, dir) = copy_of(template.path());
    (tmp, dir, key)
}

/// What `sha256sum` regeneration does: keep the `#` lines, recompute each listed file's hash.
fn regenerate_manifest(dir: &Path) {
    let text = std::fs::read_to_string(dir.join(MANIFEST)).expect("manifest");
    let mut out = String::new();
    for line in text.lines() {
        match line.split_once("  ") {
            Some((_, name)) if !line.starts_with('#') => {
                if let Ok(hash) = sha256_file(&dir.join(name)) {
                    out.push_str(&format!("{hash}  {name}\n"));
                }
            }
            _ => out.push_str(&format!("{line}\n")),
        }
    }
    std::fs::write(dir.join(MANIFEST), out).expect("write manifest");
}

fn sql(dir: &Path, statements: &str) {
    let conn = rusqlite::Connection::open(dir.join(JOURNAL)).expect("open");
    conn.execute_batch(statements).expect("sql");
    conn.execute_batch("PRAGMA journal_mode = DELETE").expect("leave wal");
}

fn edit_json(dir: &Path, name: &str, f: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join(name);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    f(&mut v);
    std::fs::write(&path, serde_json::to_vec_pretty(&v).expect("json")).expect("write");
}

#[track_caller]
fn refused(dir: &Path, trust: &Trust, needle: &str) {
    let err = verify(dir, trust).expect_err("tampered bundle verified");
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert!(err.message().contains(needle), "expected {needle:?} in: {err}");
    assert!(err.message().starts_with(&dir.display().to_string()), "names the directory: {err}");
}

#[test]
fn a_fresh_bundle_verifies_and_says_what_it_proved() {
    let (_tmp, dir) = unsigned();
    let proof = verify(&dir, &Trust::default()).expect("verify");
    assert_eq!(proof.format, FORMAT);
    assert_eq!(proof.files, REQUIRED_FILES.to_vec());
    assert_eq!(proof.signature, SignatureCheck::Unsigned);
    assert!(proof.timeline.events > 10 && proof.timeline.incident_id.starts_with("DRILL-bad-deploy"), "{proof:?}");
    assert_eq!(proof.journals.len(), 1);
    assert!(proof.journals[0].entries > 2);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).expect("report")).expect("json");
    assert_eq!(report["evidence"]["timeline"]["head"], proof.timeline.head.as_str());
    assert_eq!(report["evidence"]["journals"][0]["head"], proof.journals[0].head.as_str());

    let text = proof.render();
    for words in ["all 10 required files are present", "hash chain intact", "report.json and journal.sqlite recorded"] {
        assert!(text.contains(words), "{words:?} in {text}");
    }
    assert!(text.contains("signature  none: "), "{text}");
    assert!(!text.contains("Unsigned") && !text.contains("Some("), "no Rust names: {text}");
    let json = serde_json::to_value(&proof).expect("json");
    assert_eq!(json["signature"]["status"], "unsigned");
    assert_eq!(json["timeline"]["events"], proof.timeline.events);
    // No SQLite side files were left by the drill or by verification.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), REQUIRED_FILES.len() + 1, "{names:?}");
}

#[test]
fn the_manifest_is_sha256sum_format_with_a_header() {
    // The strict parsing of the manifest is checked in incident-core (`evidence::tests`).
    let (_tmp, dir) = unsigned();
    let text = std::fs::read_to_string(dir.join(MANIFEST)).expect("manifest");
    assert!(text.starts_with("# incident-core evidence v1\n"), "{text}");
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(lines.len(), REQUIRED_FILES.len(), "{text}");
    for (line, name) in lines.iter().zip(REQUIRED_FILES) {
        let hash = sha256_file(&dir.join(name)).expect("hash");
        assert_eq!(*line, format!("{hash}  {name}"), "sha256sum format");
    }
}

/// (what, tampering, regenerate the manifest afterwards, what the error must say).
type Case = (&'static str, Box<dyn Fn(&Path)>, bool, &'static str);

fn cases() -> Vec<Case> {
    vec![
        (
            "empty manifest",
            Box::new(|d| std::fs::write(d.join(MANIFEST), "").unwrap()),
            false,
            "manifest.sha256 is empty",
        ),
        (
            "absent manifest",
            Box::new(|d| std::fs::remove_file(d.join(MANIFEST)).unwrap()),
            false,
            "manifest.sha256 is missing",
        ),
        (
            "missing required file",
            Box::new(|d| std::fs::remove_file(d.join("triage.txt")).unwrap()),
            false,
            "the required file triage.txt is missing",
        ),
        (
            "missing required file, manifest regenerated",
            Box::new(|d| std::fs::remove_file(d.join("triage.txt")).unwrap()),
            true,
            "does not list the required file triage.txt",
        ),
        (
            "extra unlisted file",
            Box::new(|d| std::fs::write(d.join("notes.txt"), "hi").unwrap()),
            false,
            "notes.txt is not part of the evidence bundle",
        ),
        (
            "a WAL file beside the journal",
            Box::new(|d| std::fs::write(d.join("journal.sqlite-wal"), "").unwrap()),
            false,
            "journal.sqlite-wal is not part of the evidence bundle",
        ),
        (
            "a directory",
            Box::new(|d| std::fs::create_dir(d.join("more")).unwrap()),
            false,
            "more is not part of the evidence bundle",
        ),
        (
            "one byte of the post-mortem",
            Box::new(|d| {
                let text = std::fs::read_to_string(d.join("postmortem.md")).unwrap().replacen("P1", "P2", 1);
                std::fs::write(d.join("postmortem.md"), text).unwrap();
            }),
            false,
            "postmortem.md: SHA-256 mismatch",
        ),
        (
            "last timeline.json event popped",
            Box::new(|d| edit_json(d, "timeline.json", |v| drop(v["events"].as_array_mut().unwrap().pop()))),
            true,
            "timeline.json ends at event #",
        ),
        (
            "a journal row updated",
            Box::new(|d| sql(d, "UPDATE journal SET owner = 'mallory' WHERE seq = 1")),
            true,
            "journal.sqlite: journal of run run-application-rollback-",
        ),
        (
            "timeline rows deleted",
            Box::new(|d| sql(d, "DELETE FROM events WHERE seq > 20")),
            true,
            "the newest event is #20 but the recorded head is #",
        ),
        (
            "timeline rows deleted and the store's head moved",
            Box::new(|d| {
                sql(
                    d,
                    "DELETE FROM events WHERE seq > 20; \
                     UPDATE heads SET seq = 20, hash = (SELECT hash FROM events WHERE seq = 20) WHERE chain = 'timeline'",
                );
            }),
            true,
            "journal.sqlite: the timeline of DRILL-bad-deploy",
        ),
        (
            "the journal's last entries deleted and its head moved",
            Box::new(|d| {
                sql(
                    d,
                    "DELETE FROM journal WHERE seq > 3; \
                     UPDATE heads SET seq = 3, hash = (SELECT hash FROM journal WHERE seq = 3) WHERE chain = 'journal'",
                );
            }),
            true,
            "journal.sqlite: the journal of run run-application-rollback-",
        ),
        (
            "the incident row deleted",
            Box::new(|d| sql(d, "PRAGMA foreign_keys = OFF; DELETE FROM incidents")),
            true,
            "timeline events of DRILL-bad-deploy",
        ),
        (
            "report.json's timeline head edited",
            Box::new(|d| edit_json(d, "report.json", |v| v["evidence"]["timeline"]["events"] = 7.into())),
            true,
            "but report.json recorded the head event #7",
        ),
        (
            "report.json's journal head edited",
            Box::new(|d| edit_json(d, "report.json", |v| v["evidence"]["journals"][0]["head"] = "0".repeat(64).into())),
            true,
            "but report.json recorded the head entry #",
        ),
        (
            "report.json's heads removed",
            Box::new(|d| edit_json(d, "report.json", |v| drop(v.as_object_mut().unwrap().remove("evidence")))),
            true,
            "report.json records no chain heads",
        ),
        (
            "plan.json edited",
            Box::new(|d| edit_json(d, "plan.json", |v| v["steps"][0]["summary"] = "nothing to see".into())),
            true,
            "plan.json differs from its copy in report.json",
        ),
        (
            "incident.json and its report.json copy edited alike",
            Box::new(|d| {
                edit_json(d, "incident.json", |v| v["title"] = "a quiet day".into());
                edit_json(d, "report.json", |v| v["incident"]["title"] = "a quiet day".into());
            }),
            true,
            "incident.json differs from the incident stored in journal.sqlite",
        ),
        (
            "a timeline event re-hashed in both copies",
            Box::new(|d| {
                let rehash = |v: &mut serde_json::Value| {
                    let id = v["incident_id"].as_str().unwrap().to_owned();
                    let mut events: Vec<incident_core::timeline::Event> =
                        serde_json::from_value(v["events"].clone()).unwrap();
                    let last = events.last_mut().unwrap();
                    last.actor = "mallory".into();
                    last.hash = last.compute_hash(&id);
                    v["events"] = serde_json::to_value(&events).unwrap();
                };
                edit_json(d, "timeline.json", rehash);
                edit_json(d, "report.json", |v| rehash(&mut v["timeline"]));
            }),
            true,
            "timeline.json ends at event #",
        ),
        (
            "a store from a newer schema",
            Box::new(|d| sql(d, "INSERT INTO schema_migrations (version, name) VALUES (99, 'from the future')")),
            true,
            "journal.sqlite: sqlite store",
        ),
        (
            "the store is not a database",
            Box::new(|d| std::fs::write(d.join(JOURNAL), "not sqlite").unwrap()),
            true,
            "journal.sqlite: ",
        ),
    ]
}

#[test]
fn every_tampering_is_refused_naming_what_is_wrong() {
    for (what, tamper, regenerate, needle) in cases() {
        let (_tmp, dir) = unsigned();
        tamper(&dir);
        if regenerate {
            regenerate_manifest(&dir);
        }
        let err = verify(&dir, &Trust::default()).expect_err(what);
        eprintln!("{what}: {err}");
        assert_eq!(err.kind(), ErrorKind::Integrity, "{what}: {err}");
        assert!(err.message().contains(needle), "{what}: expected {needle:?} in: {err}");
    }
}

#[test]
fn signatures_are_required_when_a_key_is_trusted() {
    let (other, _) = SigningKey::generate().expect("key");

    // Signed, trusted: verifies and says so.
    let (_t, dir, key) = signed();
    let text = std::fs::read_to_string(dir.join(MANIFEST)).expect("manifest");
    assert!(text.lines().nth(1).is_some_and(|l| l == format!("# signed-by: {}", key.public_key())), "{text}");
    let proof = verify(&dir, &Trust::new([key.public_key()])).expect("trusted");
    assert_eq!(proof.signature, SignatureCheck::Trusted { key: key.public_key() });
    assert!(proof.render().contains("a trusted key"), "{}", proof.render());
    // Signed, nothing trusted: the signature still has to match, and the output says it proves less.
    let proof = verify(&dir, &Trust::default()).expect("untrusted but valid");
    assert_eq!(proof.signature, SignatureCheck::Valid { key: key.public_key() });
    assert!(proof.render().contains("no key is trusted here"), "{}", proof.render());

    // Unsigned bundle, key trusted.
    let (_t, dir) = unsigned();
    refused(&dir, &Trust::new([key.public_key()]), "manifest.sha256 is not signed, and signatures are required");

    // Signed by a key that is not trusted.
    let (_t, dir, _) = signed();
    refused(&dir, &Trust::new([other.public_key()]), "which is not trusted");

    // Manifest edited after signing (a file changed and its hash updated).
    let (_t, dir, key) = signed();
    edit_json(&dir, "plan.json", |v| v["steps"][0]["summary"] = "nothing to see".into());
    regenerate_manifest(&dir);
    refused(&dir, &Trust::new([key.public_key()]), "bad signature");
    refused(&dir, &Trust::default(), "bad signature");

    // The signature removed: the manifest says it is signed.
    let (_t, dir, _) = signed();
    std::fs::remove_file(dir.join(SIGNATURE)).expect("rm");
    refused(&dir, &Trust::default(), "says it is signed by ed25519:");

    // The signature and the signed-by line removed: unsigned, so only a trusted key catches it.
    let (_t, dir, key) = signed();
    std::fs::remove_file(dir.join(SIGNATURE)).expect("rm");
    let text = std::fs::read_to_string(dir.join(MANIFEST)).expect("manifest");
    let without: String = text.lines().filter(|l| !l.starts_with("# signed-by")).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join(MANIFEST), without).expect("write");
    assert_eq!(verify(&dir, &Trust::default()).expect("unsigned").signature, SignatureCheck::Unsigned);
    refused(&dir, &Trust::new([key.public_key()]), "is not signed");

    // A signature added to a bundle whose manifest does not say it is signed.
    let (_t, dir) = unsigned();
    let sig = other.sign(&std::fs::read(dir.join(MANIFEST)).expect("manifest"));
    std::fs::write(dir.join(SIGNATURE), serde_json::to_vec(&sig).expect("json")).expect("write");
    refused(&dir, &Trust::default(), "does not say it is signed");

    // Re-signed by another key: the signed-by line names the first.
    let (_t, dir, _) = signed();
    let sig = other.sign(&std::fs::read(dir.join(MANIFEST)).expect("manifest"));
    std::fs::write(dir.join(SIGNATURE), serde_json::to_vec(&sig).expect("json")).expect("write");
    refused(&dir, &Trust::default(), "manifest.sha256 says it is signed by");
    refused(&dir, &Trust::new([other.public_key()]), "manifest.sha256 says it is signed by");

    // Not a signature at all.
    let (_t, dir, _) = signed();
    std::fs::write(dir.join(SIGNATURE), "garbage").expect("write");
    refused(&dir, &Trust::default(), "manifest.sig is not a signature");
}

#[test]
fn not_a_bundle_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let err = verify(tmp.path().join("nope"), &Trust::default()).expect_err("missing");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = verify(tmp.path(), &Trust::default()).expect_err("empty dir");
    assert_eq!(err.kind(), ErrorKind::Integrity);
    assert!(err.message().contains("manifest.sha256 is missing"), "{err}");
}

#[test]
fn a_bundle_is_not_written_over_other_files_but_replaces_an_old_bundle() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("notes.txt"), "mine").expect("write");
    let err = DrillBundle::<SqliteStore>::create(tmp.path()).expect_err("foreign file");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.message().contains("holds notes.txt, which is not part of an evidence bundle"), "{err}");
    assert_eq!(std::fs::read_to_string(tmp.path().join("notes.txt")).expect("kept"), "mine");

    let (_t, dir, _) = signed();
    std::fs::write(dir.join("journal.sqlite-wal"), "").expect("write");
    let proof = make_bundle(&dir, None);
    assert_eq!(proof.signature, SignatureCheck::Unsigned);
    assert!(!dir.join(SIGNATURE).exists() && !dir.join("journal.sqlite-wal").exists());
}

#[test]
fn opening_read_only_changes_nothing_and_the_audit_sees_every_chain() {
    let (_t, dir) = unsigned();
    let path = dir.join(JOURNAL);
    let before = std::fs::read(&path).expect("read");
    let store = SqliteStore::open_read_only(&path).expect("open");
    let audit = store.audit().expect("audit");
    assert_eq!(audit.incidents.len(), 1);
    assert_eq!(audit.runs.len(), 1);
    drop(store);
    assert_eq!(std::fs::read(&path).expect("read"), before, "byte for byte");
    assert!(!dir.join("journal.sqlite-wal").exists() && !dir.join("journal.sqlite-shm").exists());
    let err = SqliteStore::open_read_only(dir.join("nope.sqlite")).expect_err("missing");
    assert_eq!(err.kind(), ErrorKind::NotFound);
}
