//! Tamper detection, exhaustively: for the memory and SQLite stores, *every* event of a stored timeline and
//! *every* entry of a stored journal is edited (each field), dropped, and swapped with its neighbour behind
//! the store's back (`conformance::RawAccess`), and loading must fail with an `Integrity` error naming the
//! event and what did not match. (`conformance::run_tamper` checks one representative of each.)
//!
//! Dropping the *newest* event leaves a valid shorter chain; it is detected against a recorded head hash
//! (`Timeline::verify_head`, the evidence manifest), which the last test checks.

use chrono::{DateTime, TimeDelta, Utc};
use incident_core::ErrorKind;
use incident_core::incident::{DeclareRequest, Incident};
use incident_core::store::conformance::RawAccess;
use incident_core::store::{JournalDraft, JournalEntry, JournalPhase, MemoryStore, RunRecord, RunStatus, Store};
use incident_core::timeline::{Event, EventKind, Timeline};
use incident_core::{Policy, Severity};

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(1_795_701_600_123_456_789)
}

async fn stored_timeline(store: &dyn Store, id: &str) -> Timeline {
    let req = DeclareRequest {
        id: id.into(),
        title: "tamper".into(),
        severity: Severity::P1,
        components: vec!["api".into()],
        impact: "errors".into(),
        customer_facing: true,
        customers_affected: false,
        on_call: "alice".into(),
        commander: None,
        started_at: None,
        detected_at: None,
        detection_source: None,
    };
    let (incident, mut tl) = Incident::declare(req, &Policy::default(), t0()).expect("declare");
    for i in 0..5 {
        let at = t0() + TimeDelta::seconds(i + 1);
        tl.append(at, "bob", EventKind::Note { text: format!("note {i}") }).expect("note");
    }
    store.save_incident(&incident).await.expect("save");
    store.append_events(id, tl.events()).await.expect("append");
    tl
}

/// Every way to tamper with one event, and the message that must name it.
/// (what, how, the expected message after `timeline of <id>: `). Where a valid chain remains (the newest
/// event dropped, or edited and re-hashed), the head the store recorded with the append catches it.
type EventTamper = (String, Box<dyn Fn(&mut Vec<(u64, Event)>)>, String);

fn event_tampers(i: usize, n: usize) -> Vec<EventTamper> {
    let k = i + 1; // seq of the event
    let mut out: Vec<EventTamper> = vec![
        ("actor".into(), Box::new(move |r| r[i].1.actor.push('!')), format!("event #{k} hash mismatch (edited?)")),
        (
            "at".into(),
            Box::new(move |r| r[i].1.at += TimeDelta::nanoseconds(1)),
            format!("event #{k} hash mismatch (edited?)"),
        ),
        (
            "kind".into(),
            Box::new(move |r| r[i].1.kind = EventKind::Note { text: "nothing happened".into() }),
            format!("event #{k} hash mismatch (edited?)"),
        ),
        ("hash".into(), Box::new(move |r| r[i].1.hash = "f".repeat(64)), format!("event #{k} hash mismatch (edited?)")),
        (
            "prev_hash".into(),
            Box::new(move |r| r[i].1.prev_hash = "e".repeat(64)),
            format!("event #{k} hash mismatch (edited?)"),
        ),
        (
            "kind, re-hashed".into(),
            Box::new(move |r| {
                let id = "INC-T".to_owned();
                r[i].1.kind = EventKind::Note { text: "rewritten".into() };
                r[i].1.hash = r[i].1.compute_hash(&id);
            }),
            if k < n {
                format!("prev_hash of #{} does not match #{k}", k + 1)
            } else {
                format!("event #{k} does not match the recorded head hash (edited?)")
            },
        ),
        (
            "dropped".into(),
            Box::new(move |r| {
                r.remove(i);
            }),
            match k {
                1 => "first event is #2, expected #1 (dropped or reordered)".into(),
                _ if k == n => {
                    format!("the newest event is #{} but the recorded head is #{k} (dropped from the end?)", k - 1)
                }
                _ => format!("event #{} follows #{} (dropped or reordered)", k + 1, k - 1),
            },
        ),
    ];
    if k < n {
        out.push((
            "swapped with the next".into(),
            Box::new(move |r| {
                let (a, b) = (r[i].1.clone(), r[i + 1].1.clone());
                r[i].1 = b;
                r[i + 1].1 = a;
            }),
            if k == 1 {
                "first event is #2, expected #1 (dropped or reordered)".into()
            } else {
                format!("event #{} follows #{} (dropped or reordered)", k + 1, k - 1)
            },
        ));
    }
    out
}

async fn every_event_tamper_is_detected(store: &dyn Store, raw: &dyn RawAccess) -> usize {
    let id = "INC-T";
    let tl = stored_timeline(store, id).await;
    let rows = raw.raw_events(id).await.expect("rows");
    let n = rows.len();
    let mut checked = 0;
    for i in 0..n {
        for (what, tamper, expected) in event_tampers(i, n) {
            let mut tampered = rows.clone();
            tamper(&mut tampered);
            raw.put_raw_events(id, tampered).await.expect("put");
            let label = format!("event #{} {what}", i + 1);
            match store.timeline(id).await {
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::Integrity, "{label}: {e}");
                    assert_eq!(e.message(), format!("timeline of {id}: {expected}"), "{label}");
                }
                Ok(_) => panic!("{label}: not detected"),
            }
            checked += 1;
        }
    }
    raw.put_raw_events(id, rows).await.expect("restore");
    assert_eq!(store.timeline(id).await.expect("restored"), tl);
    checked
}

fn draft(run: &str, step: &str, phase: JournalPhase, secs: i64) -> JournalDraft {
    JournalDraft {
        run_id: run.into(),
        step_id: step.into(),
        phase,
        attempt: 1,
        owner: "exec-a".into(),
        at: t0() + TimeDelta::seconds(secs),
        detail: serde_json::json!({"status": "succeeded", "changed": true}),
    }
}

type JournalTamper = (String, Box<dyn Fn(&mut Vec<JournalEntry>)>, String);

fn journal_tampers(i: usize, n: usize) -> Vec<JournalTamper> {
    let k = i as u64;
    let mismatch = format!("entry #{k} hash mismatch (edited?)");
    let mut out: Vec<JournalTamper> = vec![
        ("step_id".into(), Box::new(move |r| r[i].draft.step_id.push('!')), mismatch.clone()),
        (
            "phase".into(),
            Box::new(move |r| {
                r[i].draft.phase = match r[i].draft.phase {
                    JournalPhase::Intent => JournalPhase::Outcome,
                    JournalPhase::Outcome => JournalPhase::Intent,
                }
            }),
            mismatch.clone(),
        ),
        ("attempt".into(), Box::new(move |r| r[i].draft.attempt += 1), mismatch.clone()),
        ("owner".into(), Box::new(move |r| r[i].draft.owner = "mallory".into()), mismatch.clone()),
        ("at".into(), Box::new(move |r| r[i].draft.at += TimeDelta::nanoseconds(1)), mismatch.clone()),
        (
            "detail".into(),
            Box::new(move |r| r[i].draft.detail = serde_json::json!({"status": "failed"})),
            mismatch.clone(),
        ),
        ("hash".into(), Box::new(move |r| r[i].hash = "f".repeat(64)), mismatch.clone()),
        ("prev_hash".into(), Box::new(move |r| r[i].prev_hash = "e".repeat(64)), mismatch.clone()),
        (
            "detail, re-hashed".into(),
            Box::new(move |r| {
                r[i].draft.detail = serde_json::json!({"status": "forged"});
                r[i].hash = r[i].compute_hash();
            }),
            if i + 1 < n {
                format!("prev_hash of entry #{} does not match entry #{k}", k + 1)
            } else {
                format!("entry #{k} does not match the recorded head hash (edited?)")
            },
        ),
        (
            "dropped".into(),
            Box::new(move |r| {
                r.remove(i);
            }),
            if i + 1 < n {
                format!("entry #{k} missing (dropped or reordered)")
            } else {
                format!("the newest entry is #{} but the recorded head is #{k} (dropped from the end?)", k - 1)
            },
        ),
    ];
    if i + 1 < n {
        out.push((
            "swapped with the next (renumbered)".into(),
            Box::new(move |r| {
                r.swap(i, i + 1);
                r[i].seq = k;
                r[i + 1].seq = k + 1;
            }),
            mismatch,
        ));
    }
    out
}

async fn every_journal_tamper_is_detected(store: &dyn Store, raw: &dyn RawAccess) -> usize {
    let run = "run-tamper";
    store
        .create_run(&RunRecord {
            run_id: run.into(),
            incident_id: None,
            procedure: "traffic-management".into(),
            plan: serde_json::json!({}),
            approval: None,
            status: RunStatus::Running,
            created_at: t0(),
            updated_at: t0(),
        })
        .await
        .expect("run");
    for (i, step) in (0i64..).zip(["s1", "s2", "s3", "s4"]) {
        for phase in [JournalPhase::Intent, JournalPhase::Outcome] {
            store.append_journal(draft(run, step, phase, i)).await.expect("append");
        }
    }
    let rows = raw.raw_journal(run).await.expect("rows");
    let n = rows.len();
    let mut checked = 0;
    for i in 0..n {
        for (what, tamper, expected) in journal_tampers(i, n) {
            let mut tampered = rows.clone();
            tamper(&mut tampered);
            let label = format!("entry #{i} {what}");
            if let Err(e) = raw.put_raw_journal(run, tampered).await {
                // SQLite's own UNIQUE (run, step, phase, attempt) refuses some forgeries outright.
                assert_eq!(e.kind(), ErrorKind::Conflict, "{label}: {e}");
                checked += 1;
                continue;
            }
            match store.journal(run).await {
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::Integrity, "{label}: {e}");
                    assert_eq!(e.message(), format!("journal of run {run}: {expected}"), "{label}");
                }
                Ok(_) => panic!("{label}: not detected"),
            }
            checked += 1;
        }
    }
    raw.put_raw_journal(run, rows.clone()).await.expect("restore");
    assert_eq!(store.journal(run).await.expect("restored"), rows);
    checked
}

#[tokio::test]
async fn memory_store_detects_every_tampered_event_and_entry() {
    let store = MemoryStore::new();
    let events = every_event_tamper_is_detected(&store, &store).await;
    let entries = every_journal_tamper_is_detected(&store, &store).await;
    eprintln!("memory store: {events} timeline and {entries} journal tamperings detected");
    assert!(events >= 60 && entries >= 80, "{events} {entries}");
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_store_detects_every_tampered_event_and_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = incident_store::SqliteStore::open(dir.path().join("tamper.db")).expect("open");
    let events = every_event_tamper_is_detected(&store, &store).await;
    let entries = every_journal_tamper_is_detected(&store, &store).await;
    eprintln!("sqlite store: {events} timeline and {entries} journal tamperings detected");
    assert!(events >= 60 && entries >= 80, "{events} {entries}");
}

#[test]
fn a_truncated_tail_is_detected_against_the_recorded_head() {
    let rt = incident_core::sim::runtime().expect("runtime");
    let store = MemoryStore::new();
    let tl = rt.block_on(stored_timeline(&store, "INC-T"));
    let head = tl.head_hash().to_owned();
    let mut rows = rt.block_on(store.raw_events("INC-T")).expect("rows");
    rows.pop();
    rt.block_on(store.put_raw_events("INC-T", rows.clone())).expect("put");
    // The store recorded its head with the append: loading the cut timeline fails.
    let e = rt.block_on(store.timeline("INC-T")).expect_err("truncated in the store");
    assert_eq!(e.kind(), ErrorKind::Integrity);
    assert_eq!(
        e.message(),
        "timeline of INC-T: the newest event is #7 but the recorded head is #8 (dropped from the end?)"
    );
    // A timeline outside any store (an evidence bundle's timeline.json) is checked against a head hash
    // anchored elsewhere.
    let cut = Timeline::from_events("INC-T", rows.into_iter().map(|(_, e)| e).collect()).expect("a valid chain");
    let e = cut.verify_head(&head).expect_err("truncated");
    assert_eq!(e.kind(), ErrorKind::Integrity);
    assert_eq!(
        e.message(),
        format!(
            "timeline of INC-T: head hash {} (#7) does not match the recorded {head} (truncated?)",
            cut.head_hash()
        )
    );
}
