use chrono::TimeZone;

use super::*;
use crate::ErrorKind;
use crate::timeline::EventKind;

fn t(s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 14, 0, s).single().expect("valid time")
}

fn draft(step: &str, phase: JournalPhase, attempt: u32) -> JournalDraft {
    JournalDraft {
        run_id: "R".into(),
        step_id: step.into(),
        phase,
        attempt,
        owner: "exec-1".into(),
        at: t(0),
        detail: serde_json::json!({"b": 1, "a": [true, null]}),
    }
}

fn chain(n: u32) -> Vec<JournalEntry> {
    let mut out: Vec<JournalEntry> = Vec::new();
    for i in 0..n {
        let prev = out.last().map_or(GENESIS_HASH.to_owned(), |e| e.hash.clone());
        let phase = if i % 2 == 0 { JournalPhase::Intent } else { JournalPhase::Outcome };
        out.push(JournalEntry::new(u64::from(i), draft(&format!("s{}", i / 2), phase, 1), prev));
    }
    out
}

#[test]
fn journal_hash_is_stable() {
    // Pin the canonical form: changing it would invalidate every stored journal (and the PostgreSQL
    // store must produce the same bytes).
    let pre = r#"["incident-core/journal/v1","R",0,"s1","intent",1,"exec-1","2026-11-26T14:00:00.000000000Z",{"a":[true,null],"b":1},"0000000000000000000000000000000000000000000000000000000000000000"]"#;
    let expected = hex::encode(Sha256::digest(pre.as_bytes()));
    assert_eq!(journal_hash(0, &draft("s1", JournalPhase::Intent, 1), GENESIS_HASH), expected);
    let entry = JournalEntry::new(0, draft("s1", JournalPhase::Intent, 1), GENESIS_HASH);
    assert_eq!(entry.hash, expected);
    assert_eq!(entry.compute_hash(), expected);
}

#[test]
fn journal_hash_covers_every_field() {
    let base = journal_hash(3, &draft("s1", JournalPhase::Intent, 1), GENESIS_HASH);
    let mut variants = vec![
        journal_hash(4, &draft("s1", JournalPhase::Intent, 1), GENESIS_HASH),
        journal_hash(3, &draft("s2", JournalPhase::Intent, 1), GENESIS_HASH),
        journal_hash(3, &draft("s1", JournalPhase::Outcome, 1), GENESIS_HASH),
        journal_hash(3, &draft("s1", JournalPhase::Intent, 2), GENESIS_HASH),
        journal_hash(3, &draft("s1", JournalPhase::Intent, 1), &"1".repeat(64)),
    ];
    let mut d = draft("s1", JournalPhase::Intent, 1);
    d.run_id = "R2".into();
    variants.push(journal_hash(3, &d, GENESIS_HASH));
    let mut d = draft("s1", JournalPhase::Intent, 1);
    d.owner = "exec-2".into();
    variants.push(journal_hash(3, &d, GENESIS_HASH));
    let mut d = draft("s1", JournalPhase::Intent, 1);
    d.at += chrono::TimeDelta::nanoseconds(1);
    variants.push(journal_hash(3, &d, GENESIS_HASH));
    let mut d = draft("s1", JournalPhase::Intent, 1);
    d.detail = serde_json::json!({"b": 2, "a": [true, null]});
    variants.push(journal_hash(3, &d, GENESIS_HASH));
    for v in &variants {
        assert_ne!(v, &base);
    }
    // Key order of the detail does not matter.
    let mut d = draft("s1", JournalPhase::Intent, 1);
    d.detail = serde_json::from_str(r#"{"a":[true,null],"b":1}"#).expect("json");
    assert_eq!(journal_hash(3, &d, GENESIS_HASH), base);
}

#[test]
fn verify_journal_names_the_broken_entry() {
    let good = chain(6);
    verify_journal("R", &good).expect("intact");
    verify_journal("R", &[]).expect("empty");

    let mut edited = good.clone();
    edited[3].draft.owner = "mallory".into();
    let err = verify_journal("R", &edited).expect_err("edited");
    assert_eq!(err.kind(), ErrorKind::Integrity);
    assert_eq!(err.message(), "journal of run R: entry #3 hash mismatch (edited?)");

    let mut dropped = good.clone();
    dropped.remove(4);
    assert_eq!(
        verify_journal("R", &dropped).expect_err("dropped").message(),
        "journal of run R: entry #4 missing (dropped or reordered)"
    );
    let mut first_dropped = good.clone();
    first_dropped.remove(0);
    assert_eq!(
        verify_journal("R", &first_dropped).expect_err("dropped").message(),
        "journal of run R: entry #0 missing (dropped or reordered)"
    );

    let mut rehashed = good.clone();
    rehashed[2].draft.detail = serde_json::json!("forged");
    rehashed[2].hash = rehashed[2].compute_hash();
    assert_eq!(
        verify_journal("R", &rehashed).expect_err("rehashed").message(),
        "journal of run R: prev_hash of entry #3 does not match entry #2"
    );

    let mut genesis = good.clone();
    genesis[0].prev_hash = "1".repeat(64);
    genesis[0].hash = genesis[0].compute_hash();
    assert_eq!(
        verify_journal("R", &genesis).expect_err("genesis").message(),
        "journal of run R: prev_hash of entry #0 is not the genesis hash"
    );

    let err = verify_journal("R2", &good).expect_err("other run");
    assert_eq!(err.message(), "journal of run R2: entry #0 hash mismatch (edited?)");

    let mut dup = good;
    dup[2] = dup[1].clone();
    assert_eq!(
        verify_journal("R", &dup).expect_err("duplicate").message(),
        "journal of run R: entry #1 out of place after #1 (dropped or reordered)"
    );
}

fn timeline(n: u32) -> Timeline {
    let mut tl = Timeline::new("INC-1");
    for i in 0..n {
        tl.append(t(i), "alice", EventKind::Note { text: format!("n{i}") }).expect("append");
    }
    tl
}

#[test]
fn check_event_append_rules() {
    let tl = timeline(4);
    let ev = tl.events();
    check_event_append("INC-1", None, ev).expect("from empty");
    check_event_append("INC-1", Some(&ev[1]), &ev[2..]).expect("continuation");
    check_event_append("INC-1", Some(&ev[3]), &[]).expect("empty batch");

    let err = check_event_append("INC-1", Some(&ev[2]), &ev[1..]).expect_err("stale");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.message(), "timeline of INC-1: expected seq 4, got 2");
    let err = check_event_append("INC-1", None, &ev[1..]).expect_err("gap from empty");
    assert_eq!(err.message(), "timeline of INC-1: expected seq 1, got 2");

    let mut other = timeline(1);
    other.append(t(1), "bob", EventKind::Note { text: "fork".into() }).expect("append");
    other.append(t(2), "bob", EventKind::Mitigated).expect("append");
    let err = check_event_append("INC-1", Some(&ev[1]), &other.events()[2..]).expect_err("fork");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.message(), "timeline of INC-1: event #3 does not chain onto stored event #2 (prev_hash mismatch)");

    let mut forged = ev.to_vec();
    forged[3].actor = "mallory".into();
    let err = check_event_append("INC-1", Some(&ev[1]), &forged[2..]).expect_err("forged");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.message(), "timeline of INC-1: event #4 hash does not match its content");

    let err = check_event_append("INC-2", None, ev).expect_err("other incident");
    assert_eq!(err.message(), "timeline of INC-2: event #1 hash does not match its content");

    let err = check_event_append("INC-1", Some(&ev[0]), &[ev[1].clone(), ev[3].clone()]).expect_err("gap");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.message(), "timeline of INC-1: event #4 follows #2 (events must be contiguous)");
}

#[test]
fn claims_and_validation() {
    let a = StepClaim { owner: "a".into(), lease_until: t(30) };
    assert!(may_claim(None, "b", t(0)));
    assert!(may_claim(Some(&a), "a", t(10)));
    assert!(!may_claim(Some(&a), "b", t(29)));
    assert!(may_claim(Some(&a), "b", t(30)));
    assert_eq!(check_claim("R", "s", "a", t(5), t(5)).expect_err("empty lease").kind(), ErrorKind::InvalidInput);
    assert_eq!(check_claim("R", "", "a", t(0), t(5)).expect_err("blank").kind(), ErrorKind::InvalidInput);
    check_claim("R", "s", "a", t(0), t(5)).expect("valid");

    assert_eq!(
        check_journal_draft(&draft("s", JournalPhase::Intent, 0)).expect_err("0").kind(),
        ErrorKind::InvalidInput
    );
    assert!(check_journal_draft(&draft(" ", JournalPhase::Intent, 1)).is_err());
    check_journal_draft(&draft("s", JournalPhase::Outcome, 3)).expect("valid");
}

#[test]
fn string_forms_match_serde() {
    for s in RunStatus::ALL {
        assert_eq!(serde_json::to_value(s).expect("json"), serde_json::json!(s.as_str()));
        assert_eq!(s.as_str().parse::<RunStatus>().expect("parse"), s);
    }
    for p in [JournalPhase::Intent, JournalPhase::Outcome] {
        assert_eq!(serde_json::to_value(p).expect("json"), serde_json::json!(p.as_str()));
        assert_eq!(p.as_str().parse::<JournalPhase>().expect("parse"), p);
    }
    let err = "paused".parse::<RunStatus>().expect_err("unknown");
    assert!(err.message().contains("planned, running"), "{err}");
    assert!("Intent".parse::<JournalPhase>().is_err());
}

#[test]
fn journal_entry_serializes_flat() {
    let e = JournalEntry::new(0, draft("s1", JournalPhase::Intent, 1), GENESIS_HASH);
    let v = serde_json::to_value(&e).expect("json");
    assert_eq!(v["step_id"], "s1");
    assert_eq!(v["phase"], "intent");
    assert_eq!(v["seq"], 0);
    let back: JournalEntry = serde_json::from_value(v).expect("back");
    assert_eq!(back, e);
}

#[tokio::test]
async fn memory_store_conformance() {
    let store = MemoryStore::new();
    conformance::run_all(&store).await.unwrap_or_else(|e| panic!("{e}"));
    conformance::run_tamper(&store, &store).await.unwrap_or_else(|e| panic!("{e}"));
    // Clones share the data.
    let clone = store.clone();
    assert_eq!(clone.runs().await.expect("runs").len(), store.runs().await.expect("runs").len());
    assert!(format!("{store:?}").starts_with("MemoryStore"));
}
