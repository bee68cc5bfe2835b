//! Evidence of a real incident: items preserved in the store (SQLite here; the conformance suite covers
//! PostgreSQL and memory), collected into a bundle in the drill bundle's format (`incident evidence
//! collect`), verified, then tampered with: editing any file, deleting an evidence file, adding a file,
//! editing the timeline must each be refused with `Integrity`, naming what is wrong.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::TimeZone as _;
use incident_core::clock::{Clock as _, ManualClock};
use incident_core::evidence::{MANIFEST, REQUIRED_FILES, SignatureCheck, Verification};
use incident_core::incident::{DeclareRequest, Incident};
use incident_core::lifecycle::{EvidenceDraft, Incidents, ResolveRequest};
use incident_core::signing::{SigningKey, Trust};
use incident_core::store::{JournalDraft, JournalPhase, RunRecord, RunStatus, Store};
use incident_core::{ErrorKind, Policy, Severity, Status};
use incident_store::SqliteStore;
use sha2::{Digest, Sha256};

fn verify(dir: impl AsRef<Path>, trust: &Trust) -> incident_core::Result<Verification> {
    incident_core::evidence::verify::<SqliteStore>(dir, trust)
}

/// A stored incident worked from declaration to resolution, with evidence at its declaration and at a
/// status change, a note, and a procedure run with its journal.
async fn worked_incident(dir: &Path) -> (Incidents, String) {
    let store = SqliteStore::open(dir.join("store.sqlite")).expect("store");
    let at = chrono::Utc.with_ymd_and_hms(2026, 11, 26, 14, 5, 0).single().expect("time");
    let req = DeclareRequest {
        id: "INC-EV-1".into(),
        title: "API errors".into(),
        severity: Severity::P1,
        components: vec!["api".into()],
        impact: "P1 (Customer-facing errors)".into(),
        customer_facing: true,
        customers_affected: false,
        on_call: "alice".into(),
        commander: None,
        started_at: None,
        detected_at: None,
        detection_source: None,
    };
    let (incident, timeline) = Incident::declare(req, &Policy::default(), at).expect("declare");
    store.save_incident(&incident).await.expect("save");
    store.append_events(&incident.id, timeline.events()).await.expect("events");
    let declared_seq = timeline.events().iter().find(|e| e.kind.type_name() == "declared").expect("declared").seq;
    let clock = Arc::new(ManualClock::new(at));
    let incidents = Incidents::new(Arc::new(store.clone()), clock.clone(), Policy::default());
    let p = format!("declared-{declared_seq:04}");
    incidents
        .preserve(
            &incident.id,
            vec![
                EvidenceDraft::text(format!("{p}/triage.json"), "application/json", r#"{"context":"first"}"#),
                EvidenceDraft::text(format!("{p}/triage.txt"), "text/plain", "Triage of first\n"),
                EvidenceDraft::text(format!("{p}/logs.txt"), "text/plain", "GET /api 500 token=abc123\n"),
            ],
            "incident-evidence",
        )
        .await
        .expect("preserve");
    clock.advance(chrono::TimeDelta::minutes(5));
    incidents.ack(&incident.id, "alice").await.expect("ack");
    let moved = incidents.set_status(&incident.id, Status::Identified, "bad deploy", "alice").await.expect("status");
    let seq = moved.events.last().expect("event").seq;
    clock.advance(chrono::TimeDelta::minutes(1));
    incidents
        .preserve(
            &incident.id,
            vec![
                EvidenceDraft::text(
                    format!("status_changed-{seq:04}/triage.json"),
                    "application/json",
                    r#"{"context":"second"}"#,
                ),
                EvidenceDraft::text(format!("status_changed-{seq:04}/triage.txt"), "text/plain", "Triage of second\n"),
            ],
            "incident-evidence",
        )
        .await
        .expect("preserve again");
    let run_at = clock.now();
    store
        .create_run(&RunRecord {
            run_id: "run-ev-1".into(),
            incident_id: Some(incident.id.clone()),
            procedure: "traffic-management".into(),
            plan: serde_json::json!({"steps": ["drain"]}),
            approval: Some(serde_json::json!({"by": "alice"})),
            status: RunStatus::Succeeded,
            created_at: run_at,
            updated_at: run_at,
        })
        .await
        .expect("run");
    for phase in [JournalPhase::Intent, JournalPhase::Outcome] {
        store
            .append_journal(JournalDraft {
                run_id: "run-ev-1".into(),
                step_id: "drain".into(),
                phase,
                attempt: 1,
                owner: "host:1".into(),
                at: run_at,
                detail: serde_json::json!({"ok": true}),
            })
            .await
            .expect("journal");
    }
    clock.advance(chrono::TimeDelta::minutes(30));
    incidents.resolve(&incident.id, &ResolveRequest::new("bad deploy v2.3"), "alice").await.expect("resolve");
    (incidents, incident.id)
}

/// `collect` (async, with blocking file I/O inside, as the CLI runs it) from the multi-thread test runtime.
fn collect(incidents: &Incidents, id: &str, dir: &Path, key: Option<&SigningKey>) -> Verification {
    tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current()
            .block_on(incident_core::evidence::collect::<SqliteStore>(incidents, id, dir, key))
    })
    .expect("collect")
}

fn sha256_file(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).expect("read")))
}

/// What `sha256sum` regeneration does: keep the `#` lines, recompute each listed file's hash, drop lines of
/// files that are gone.
fn regenerate_manifest(dir: &Path) {
    let text = std::fs::read_to_string(dir.join(MANIFEST)).expect("manifest");
    let mut out = String::new();
    for line in text.lines() {
        match line.split_once("  ") {
            Some((_, name)) if !line.starts_with('#') => {
                if dir.join(name).exists() {
                    out.push_str(&format!("{}  {name}\n", sha256_file(&dir.join(name))));
                }
            }
            _ => out.push_str(&format!("{line}\n")),
        }
    }
    std::fs::write(dir.join(MANIFEST), out).expect("write manifest");
}

#[track_caller]
fn refused(dir: &Path, needle: &str) {
    let err = verify(dir, &Trust::default()).expect_err("tampered bundle verified");
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert!(err.message().contains(needle), "expected {needle:?} in: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collected_incident_bundle_verifies_and_every_tampering_is_refused() {
    let src = tempfile::tempdir().expect("tempdir");
    let (incidents, id) = worked_incident(src.path()).await;
    let out = tempfile::tempdir().expect("tempdir");
    let fresh = |name: &str| -> PathBuf {
        let dir = out.path().join(name);
        collect(&incidents, &id, &dir, None);
        dir
    };

    let dir = fresh("ok");
    let proof = verify(&dir, &Trust::default()).expect("verifies");
    assert_eq!(proof.kind, "incident");
    assert_eq!(proof.evidence.len(), 5, "{:?}", proof.evidence);
    assert_eq!(proof.journals.len(), 1);
    assert_eq!(proof.signature, SignatureCheck::Unsigned);
    let triage: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("triage.json")).expect("triage")).expect("json");
    assert_eq!(triage, serde_json::json!({"context": "second"}), "the newest captured triage");
    assert_eq!(std::fs::read_to_string(dir.join("triage.txt")).expect("txt"), "Triage of second\n");
    let logs_name = proof.evidence.iter().find(|n| n.ends_with("/logs.txt")).expect("logs item").clone();
    let declared = logs_name.trim_end_matches("/logs.txt").to_owned();
    assert!(declared.starts_with("declared-"), "{declared}");
    let logs = std::fs::read_to_string(dir.join(format!("evidence/{logs_name}"))).expect("logs");
    assert_eq!(logs, "GET /api 500 token=***\n", "redacted when preserved");
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("run.json")).expect("run")).expect("json");
    assert_eq!(run["run_id"], "run-ev-1");
    let pm = std::fs::read_to_string(dir.join("postmortem.md")).expect("pm");
    assert!(pm.contains("bad deploy v2.3"), "{pm}");
    let text = proof.render();
    assert!(text.contains("evidence   5 item(s) under evidence/"), "{text}");

    // Editing any file.
    let logs_file = format!("evidence/{logs_name}");
    for name in REQUIRED_FILES.iter().copied().chain([logs_file.as_str()]) {
        let dir = fresh(&format!("edit-{}", name.replace('/', "_")));
        let path = dir.join(name);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.push(b'\n');
        std::fs::write(&path, bytes).expect("write");
        refused(&dir, &format!("{name}: SHA-256 mismatch"));
    }
    // Deleting an evidence file.
    let dir = fresh("delete");
    std::fs::remove_file(dir.join(format!("evidence/{declared}/triage.txt"))).expect("rm");
    refused(&dir, &format!("the evidence file evidence/{declared}/triage.txt listed in manifest.sha256 is missing"));
    // ... and its manifest line too.
    regenerate_manifest(&dir);
    refused(
        &dir,
        &format!(
            "stores the evidence item {declared}/triage.txt, but evidence/{declared}/triage.txt is not in the bundle"
        ),
    );
    // Adding a file, under evidence/ or beside it.
    let dir = fresh("add");
    std::fs::write(dir.join(format!("evidence/{declared}/extra.txt")), "x").expect("add");
    refused(&dir, &format!("evidence/{declared}/extra.txt is not part of the evidence bundle"));
    let dir = fresh("add-top");
    std::fs::write(dir.join("notes.txt"), "x").expect("add");
    refused(&dir, "notes.txt is not part of the evidence bundle");
    // An evidence file edited, its manifest line regenerated: no event records that hash.
    let dir = fresh("edit-evidence-rehash");
    std::fs::write(dir.join(&logs_file), "nothing to see\n").expect("edit");
    regenerate_manifest(&dir);
    refused(&dir, &format!("{logs_file}: no evidence_added event of timeline.json records"));
    // Editing the timeline (a note's text), manifest regenerated: the chain breaks.
    let dir = fresh("edit-timeline");
    let text = std::fs::read_to_string(dir.join("timeline.json")).expect("timeline");
    assert!(text.contains("bad deploy"), "the status message is on the timeline");
    std::fs::write(dir.join("timeline.json"), text.replacen("bad deploy", "good deploy", 1)).expect("edit");
    regenerate_manifest(&dir);
    let err = verify(&dir, &Trust::default()).expect_err("edited timeline");
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert!(err.message().contains("timeline"), "{err}");

    // Signed, and verified trusting the key.
    let (key, _) = SigningKey::generate().expect("key");
    let dir = out.path().join("signed");
    let proof = collect(&incidents, &id, &dir, Some(&key));
    assert!(matches!(proof.signature, SignatureCheck::Trusted { .. }), "{:?}", proof.signature);
    verify(&dir, &Trust::new([key.public_key()])).expect("verifies signed");
    // Collecting again replaces the bundle.
    collect(&incidents, &id, &dir, None);
    verify(&dir, &Trust::default()).expect("replaced");
}
