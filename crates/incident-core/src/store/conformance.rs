//! The conformance suite every [`Store`] implementation must pass, so the memory, SQLite and PostgreSQL
//! stores are interchangeable.
//!
//! [`run_all`] exercises the behaviour through the [`Store`] trait only; [`run_tamper`] additionally
//! rewrites stored rows behind the store's back through [`RawAccess`] and checks that every edit, drop and
//! reorder is reported with its precise [`ErrorKind::Integrity`] message. A failed check is an
//! [`ErrorKind::Internal`] error whose message names the check and what differed.
//!
//! The suite uses its own ids (prefixed `conformance-`), so it can run on a store that holds other
//! data, but it must not run twice on the same store.
//!
//! ```
//! use incident_core::store::{MemoryStore, conformance};
//!
//! # fn main() -> incident_core::Result<()> {
//! let rt = tokio::runtime::Builder::new_current_thread()
//!     .build()
//!     .map_err(|e| incident_core::Error::internal("no tokio runtime").with_source(e))?;
//! let store = MemoryStore::new();
//! rt.block_on(async {
//!     conformance::run_all(&store).await?;
//!     conformance::run_tamper(&store, &store).await
//! })?;
//! # Ok(())
//! # }
//! ```

use std::fmt::Debug;
use std::future::Future;

use chrono::{DateTime, TimeDelta, Utc};

use super::{
    EvidenceItem, IncidentUpdate, JournalDraft, JournalEntry, JournalPhase, RunRecord, RunStatus, Store, StoreWrite,
    journal_hash,
};
use crate::incident::{DeclareRequest, Incident};
use crate::timeline::{Event, EventKind, GENESIS_HASH, Timeline};
use crate::{Error, ErrorKind, Policy, Result, Severity};

/// Raw, unchecked access to a store's persisted rows: the hook the tamper checks use to simulate someone
/// editing the database directly. **It bypasses every rule of [`Store`]**; use it only in tests.
#[async_trait::async_trait]
pub trait RawAccess: Send + Sync {
    /// The stored event rows of an incident as `(row key, event)`, in key order. The key is the position
    /// the store orders by (the event's `seq` unless tampered with).
    async fn raw_events(&self, incident_id: &str) -> Result<Vec<(u64, Event)>>;
    /// Replace all stored event rows of an incident with `rows`, as given.
    async fn put_raw_events(&self, incident_id: &str, rows: Vec<(u64, Event)>) -> Result<()>;
    /// The stored journal rows of a run, in `seq` order.
    async fn raw_journal(&self, run_id: &str) -> Result<Vec<JournalEntry>>;
    /// Replace all stored journal rows of a run with `entries` (each stored under its own `seq`), as given.
    async fn put_raw_journal(&self, run_id: &str, entries: Vec<JournalEntry>) -> Result<()>;
}

/// Run every behavioural check against `store` (see the [module docs](self)).
///
/// # Errors
/// The first failed check, as an [`ErrorKind::Internal`] error naming it (or the store's own error,
/// prefixed with the check's name).
pub async fn run_all(store: &dyn Store) -> Result<()> {
    check("incidents", incidents(store)).await?;
    check("timeline", timeline(store)).await?;
    check("timeline_conflicts", timeline_conflicts(store)).await?;
    check("write_batch", write_batch(store)).await?;
    check("update_incident", update_incident(store)).await?;
    check("runs", runs(store)).await?;
    check("journal", journal(store)).await?;
    check("concurrent_journal_appends", concurrent_journal_appends(store)).await?;
    check("claims", claims(store)).await?;
    check("evidence", evidence(store)).await?;
    Ok(())
}

/// Run the tamper-detection checks: rows edited, dropped or reordered through `raw` must be reported by
/// `store` with precise messages.
///
/// # Errors
/// As [`run_all`].
pub async fn run_tamper(store: &dyn Store, raw: &dyn RawAccess) -> Result<()> {
    check("timeline_tamper", timeline_tamper(store, raw)).await?;
    check("journal_tamper", journal_tamper(store, raw)).await?;
    Ok(())
}

async fn check(name: &str, fut: impl Future<Output = Result<()>>) -> Result<()> {
    fut.await.map_err(|e| e.context(format_args!("conformance check `{name}`")))
}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(Error::internal(format!($($fmt)+)));
        }
    };
}

fn ensure_eq<T: PartialEq + Debug>(actual: &T, expected: &T, what: &str) -> Result<()> {
    ensure!(actual == expected, "{what}: expected {expected:?}, got {actual:?}");
    Ok(())
}

/// `result` must be an error of `kind` whose message is exactly `message`.
fn expect_exact<T: Debug>(result: Result<T>, kind: ErrorKind, message: &str, what: &str) -> Result<()> {
    match result {
        Ok(v) => Err(Error::internal(format!("{what}: expected {kind} error {message:?}, got Ok({v:?})"))),
        Err(e) if e.kind() == kind && e.message() == message => Ok(()),
        Err(e) => Err(Error::internal(format!(
            "{what}: expected {kind} error {message:?}, got {} error {:?}",
            e.kind(),
            e.message()
        ))),
    }
}

/// `result` must be an error of `kind` whose message contains `needle`.
fn expect_kind<T: Debug>(result: Result<T>, kind: ErrorKind, needle: &str, what: &str) -> Result<()> {
    match result {
        Ok(v) => Err(Error::internal(format!("{what}: expected a {kind} error, got Ok({v:?})"))),
        Err(e) if e.kind() == kind && e.message().contains(needle) => Ok(()),
        Err(e) => Err(Error::internal(format!(
            "{what}: expected a {kind} error mentioning {needle:?}, got {} error {:?}",
            e.kind(),
            e.message()
        ))),
    }
}

/// 2026-11-26T14:00:00.123456789Z (sub-microsecond digits check that stores keep full precision).
fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(1_795_701_600_123_456_789)
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(secs)
}

fn declare(id: &str, declared_at: DateTime<Utc>) -> Result<(Incident, Timeline)> {
    let req = DeclareRequest {
        id: id.to_owned(),
        title: "API 5xx above 5%".to_owned(),
        severity: Severity::P1,
        components: vec!["api".to_owned()],
        impact: "checkout failing for some users".to_owned(),
        customer_facing: true,
        customers_affected: true,
        on_call: "alice".to_owned(),
        commander: None,
        started_at: None,
        detected_at: None,
        detection_source: Some("prometheus".to_owned()),
    };
    Incident::declare(req, &Policy::default(), declared_at)
}

/// `timeline` with `n` notes appended (one second apart, after its last event).
fn with_notes(timeline: &Timeline, n: usize, label: &str) -> Result<Timeline> {
    let mut tl = timeline.clone();
    for i in 0..n {
        let when = tl.last().map_or_else(t0, |e| e.at) + TimeDelta::seconds(1);
        tl.append(when, "bob", EventKind::Note { text: format!("{label} {i}: ünïcode \"quoted\"") })?;
    }
    Ok(tl)
}

fn run_record(run_id: &str, created_at: DateTime<Utc>) -> RunRecord {
    RunRecord {
        run_id: run_id.to_owned(),
        incident_id: Some("conformance-inc-runs".to_owned()),
        procedure: "region-failover".to_owned(),
        plan: serde_json::json!({"steps": [{"id": "s1", "action": {"scale": {"replicas": 3}}}], "z": 1.5, "a": null}),
        approval: None,
        status: RunStatus::Planned,
        created_at,
        updated_at: created_at,
    }
}

fn draft(
    run_id: &str,
    step_id: &str,
    phase: JournalPhase,
    attempt: u32,
    owner: &str,
    at: DateTime<Utc>,
) -> JournalDraft {
    JournalDraft {
        run_id: run_id.to_owned(),
        step_id: step_id.to_owned(),
        phase,
        attempt,
        owner: owner.to_owned(),
        at,
        detail: serde_json::json!({"z": [1, 2.5, "three"], "a": {"nested": true, "é": "ü"}, "outcome": phase.as_str()}),
    }
}

/// [`Store::write_batch`] is all or nothing: a batch whose last write conflicts leaves none of its writes
/// behind (a lifecycle operation's events and incident, or a receiver batch, land together or not at all).
async fn write_batch(store: &dyn Store) -> Result<()> {
    let (a, a_tl) = declare("conformance-batch-a", at(0))?;
    let (b, b_tl) = declare("conformance-batch-b", at(0))?;
    store
        .write_batch(&[
            StoreWrite::SaveIncident(a.clone()),
            StoreWrite::AppendEvents { incident_id: a.id.clone(), events: a_tl.events().to_vec() },
            StoreWrite::SaveIncident(b.clone()),
            StoreWrite::AppendEvents { incident_id: b.id.clone(), events: b_tl.events().to_vec() },
            StoreWrite::AppendEvents { incident_id: b.id.clone(), events: Vec::new() },
        ])
        .await?;
    ensure_eq(&store.timeline(&b.id).await?, &b_tl, "batch: timeline written")?;
    ensure_eq(&store.incident(&a.id).await?, &Some(a.clone()), "batch: incident written")?;

    // Two appends onto one timeline in one batch chain onto each other.
    let a2 = with_notes(&a_tl, 2, "batched")?;
    let mut a_changed = a.clone();
    a_changed.title = "changed in the batch".to_owned();
    store
        .write_batch(&[
            StoreWrite::AppendEvents {
                incident_id: a.id.clone(),
                events: a2.events()[a_tl.len()..=a_tl.len()].to_vec(),
            },
            StoreWrite::AppendEvents { incident_id: a.id.clone(), events: a2.events()[a_tl.len() + 1..].to_vec() },
            StoreWrite::SaveIncident(a_changed.clone()),
        ])
        .await?;
    ensure_eq(&store.timeline(&a.id).await?, &a2, "batch: consecutive appends")?;

    // The last write conflicts (the first note again): nothing of the batch is applied.
    let (c, c_tl) = declare("conformance-batch-c", at(0))?;
    let b2 = with_notes(&b_tl, 1, "kept out")?;
    let mut a_again = a_changed.clone();
    a_again.title = "must not be saved".to_owned();
    let a3 = with_notes(&a2, 1, "must not be appended")?;
    let bad = store
        .write_batch(&[
            StoreWrite::SaveIncident(c.clone()),
            StoreWrite::AppendEvents { incident_id: c.id.clone(), events: c_tl.events().to_vec() },
            StoreWrite::AppendEvents { incident_id: b.id.clone(), events: b2.events()[b_tl.len()..].to_vec() },
            StoreWrite::AppendEvents { incident_id: a.id.clone(), events: a3.events()[a2.len()..].to_vec() },
            StoreWrite::SaveIncident(a_again),
            StoreWrite::AppendEvents { incident_id: a.id.clone(), events: a2.events()[a_tl.len()..].to_vec() },
        ])
        .await;
    expect_kind(bad, ErrorKind::Conflict, "conformance-batch-a", "batch: conflicting last write")?;
    ensure_eq(&store.incident(&c.id).await?, &None, "batch rolled back: new incident")?;
    ensure_eq(&store.timeline(&b.id).await?, &b_tl, "batch rolled back: other timeline")?;
    ensure_eq(&store.timeline(&a.id).await?, &a2, "batch rolled back: same timeline")?;
    ensure_eq(&store.incident(&a.id).await?, &Some(a_changed), "batch rolled back: saved incident")?;

    // An append to an incident nobody saved is NotFound, and rolls back the batch too.
    let bad = store
        .write_batch(&[
            StoreWrite::SaveIncident(c.clone()),
            StoreWrite::AppendEvents {
                incident_id: "conformance-batch-none".to_owned(),
                events: c_tl.events().to_vec(),
            },
        ])
        .await;
    expect_kind(bad, ErrorKind::NotFound, "conformance-batch-none", "batch: unsaved incident")?;
    ensure_eq(&store.incident(&c.id).await?, &None, "batch rolled back after NotFound")?;
    Ok(())
}

/// [`Store::update_incident`]: the decision sees the stored incident and timeline; what it appends and
/// the incident it changes are written together; `false` or an error writes nothing; and decisions made
/// beside plain appenders, all at once, each land exactly once.
async fn update_incident(store: &dyn Store) -> Result<()> {
    let id = "conformance-update";
    let note = |text: String| -> Box<IncidentUpdate> {
        Box::new(move |_, tl: &mut Timeline| {
            let when = tl.last().map_or_else(t0, |e| e.at);
            tl.append(when, "carol", EventKind::Note { text: text.clone() })?;
            Ok(true)
        })
    };
    expect_kind(
        store.update_incident("conformance-update-none", note("x".into())).await,
        ErrorKind::NotFound,
        "conformance-update-none",
        "update of an unknown incident",
    )?;
    let (inc, tl) = declare(id, at(0))?;
    store.save_incident(&inc).await?;
    store.append_events(id, tl.events()).await?;

    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen_in = std::sync::Arc::clone(&seen);
    let ack: Box<IncidentUpdate> = Box::new(move |inc, tl| {
        *seen_in.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((inc.clone(), tl.len()));
        inc.acknowledge(at(60), "alice", tl)?;
        Ok(true)
    });
    let written = store.update_incident(id, ack).await?.ok_or_else(|| Error::internal("ack not written"))?;
    let seen = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    ensure_eq(&seen, &Some((inc.clone(), tl.len())), "update decides on the stored incident and timeline")?;
    ensure_eq(&written.events.len(), &1, "update: events written")?;
    ensure_eq(&store.incident(id).await?, &Some(written.incident.clone()), "update: incident written")?;
    ensure_eq(&store.timeline(id).await?.last().cloned(), &written.events.last().cloned(), "update: timeline")?;

    let nothing: Box<IncidentUpdate> = Box::new(|inc, tl| {
        tl.append(at(61), "alice", EventKind::Note { text: "discarded".into() })?;
        inc.title = "discarded".into();
        Ok(false)
    });
    ensure_eq(&store.update_incident(id, nothing).await?, &None, "update deciding not to write")?;
    let failing: Box<IncidentUpdate> = Box::new(|inc, tl| {
        tl.append(at(61), "alice", EventKind::Note { text: "discarded".into() })?;
        inc.acknowledge(at(61), "bob", tl).map(|()| true)
    });
    expect_kind(store.update_incident(id, failing).await, ErrorKind::Conflict, "already acknowledged", "update error")?;
    let stored = store.timeline(id).await?;
    ensure_eq(&stored.len(), &(tl.len() + 1), "nothing written by a declined or failed update")?;
    ensure_eq(&store.incident(id).await?, &Some(written.incident), "incident unchanged by them")?;

    // Eight decisions and eight plain appenders (retrying on Conflict) at once: sixteen notes, once each.
    let plain = |i: usize| async move {
        for _ in 0..64 {
            let mut tl = store.timeline(id).await?;
            let when = tl.last().map_or_else(t0, |e| e.at);
            let ev = tl.append(when, "dave", EventKind::Note { text: format!("plain {i}") })?.clone();
            match store.append_events(id, &[ev]).await {
                Err(e) if e.kind() == ErrorKind::Conflict => tokio::task::yield_now().await,
                other => return other,
            }
        }
        Err(Error::internal("plain appender starved"))
    };
    let decided = |i: usize| async move { store.update_incident(id, note(format!("decided {i}"))).await.map(|_| ()) };
    let results = futures::future::join_all((0..8).map(|i| async move {
        let (a, b) = tokio::join!(plain(i), decided(i));
        a.and(b)
    }))
    .await;
    for r in results {
        r?;
    }
    let tl = store.timeline(id).await?;
    let mut notes: Vec<String> = tl
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Note { text } => Some(text.clone()),
            _ => None,
        })
        .collect();
    notes.sort();
    let mut want: Vec<String> = (0..8).flat_map(|i| [format!("decided {i}"), format!("plain {i}")]).collect();
    want.sort();
    ensure_eq(&notes, &want, "concurrent decisions and appends, once each")?;
    Ok(())
}

async fn incidents(store: &dyn Store) -> Result<()> {
    let (a, a_tl) = declare("conformance-inc-a", at(0))?;
    let (b, _) = declare("conformance-inc-b", at(3600))?;
    let (c, _) = declare("conformance-inc-c", at(1800))?;
    let (d, _) = declare("conformance-inc-d", at(3600))?;
    for inc in [&a, &b, &c, &d] {
        store.save_incident(inc).await?;
    }
    ensure_eq(&store.incident(&a.id).await?, &Some(a.clone()), "incident round trip")?;
    ensure_eq(&store.incident("conformance-inc-missing").await?, &None, "unknown incident")?;
    let order = |all: Vec<Incident>| -> Vec<String> {
        all.into_iter().map(|i| i.id).filter(|id| id.starts_with("conformance-inc-")).collect()
    };
    ensure_eq(
        &order(store.incidents().await?),
        &vec![b.id.clone(), d.id.clone(), c.id.clone(), a.id.clone()],
        "incidents newest declaration first, ties by id",
    )?;

    // Saving again replaces the record and keeps its timeline.
    store.append_events(&a.id, a_tl.events()).await?;
    let mut a2 = a.clone();
    a2.title = "API 5xx above 5% (EU only)".to_owned();
    a2.root_cause = Some("bad deploy".to_owned());
    store.save_incident(&a2).await?;
    ensure_eq(&store.incident(&a.id).await?, &Some(a2), "incident after re-save")?;
    ensure_eq(&order(store.incidents().await?).len(), &4, "incident count after re-save")?;
    ensure_eq(&store.timeline(&a.id).await?, &a_tl, "timeline survives re-saving the incident")?;
    Ok(())
}

async fn timeline(store: &dyn Store) -> Result<()> {
    let (inc, declared) = declare("conformance-inc-timeline", at(0))?;
    store.save_incident(&inc).await?;
    ensure_eq(&store.timeline(&inc.id).await?, &Timeline::new(&inc.id), "timeline of a new incident")?;
    store.append_events(&inc.id, &[]).await?;

    store.append_events(&inc.id, declared.events()).await?;
    ensure_eq(&store.timeline(&inc.id).await?, &declared, "timeline after the first append")?;

    let full = with_notes(&declared, 3, "update")?;
    let n = declared.len();
    store.append_events(&inc.id, &full.events()[n..=n]).await?;
    store.append_events(&inc.id, &full.events()[n + 1..]).await?;
    let stored = store.timeline(&inc.id).await?;
    ensure_eq(&stored, &full, "timeline after batched appends")?;
    ensure_eq(&stored.head_hash(), &full.head_hash(), "head hash")?;
    ensure_eq(&stored.events().last().map(|e| e.at), &full.events().last().map(|e| e.at), "event time precision")?;

    expect_kind(
        store.timeline("conformance-inc-missing").await,
        ErrorKind::NotFound,
        "conformance-inc-missing",
        "timeline of an unknown incident",
    )?;
    let (ghost, ghost_tl) = declare("conformance-inc-ghost", at(0))?;
    expect_kind(
        store.append_events(&ghost.id, ghost_tl.events()).await,
        ErrorKind::NotFound,
        "conformance-inc-ghost",
        "append to an unsaved incident",
    )?;
    Ok(())
}

async fn timeline_conflicts(store: &dyn Store) -> Result<()> {
    let (inc, declared) = declare("conformance-inc-conflicts", at(0))?;
    let id = inc.id.clone();
    store.save_incident(&inc).await?;
    let base = with_notes(&declared, 3, "base")?; // events #1..=#6
    store.append_events(&id, base.events()).await?;

    expect_exact(
        store.append_events(&id, &base.events()[2..]).await,
        ErrorKind::Conflict,
        &format!("timeline of {id}: expected seq 7, got 3"),
        "stale seq",
    )?;
    let ahead = with_notes(&base, 2, "ahead")?;
    expect_exact(
        store.append_events(&id, &ahead.events()[7..]).await,
        ErrorKind::Conflict,
        &format!("timeline of {id}: expected seq 7, got 8"),
        "seq gap",
    )?;

    // Two writers extend the same head: the first wins, the second conflicts.
    let writer_a = with_notes(&base, 1, "writer a")?;
    let writer_b = with_notes(&base, 2, "writer b")?;
    store.append_events(&id, &writer_a.events()[6..]).await?;
    expect_exact(
        store.append_events(&id, &writer_b.events()[6..]).await,
        ErrorKind::Conflict,
        &format!("timeline of {id}: expected seq 8, got 7"),
        "second writer, same seq",
    )?;
    expect_exact(
        store.append_events(&id, &writer_b.events()[7..]).await,
        ErrorKind::Conflict,
        &format!("timeline of {id}: event #8 does not chain onto stored event #7 (prev_hash mismatch)"),
        "second writer, forked chain",
    )?;

    // Invalid batches are refused whole.
    let next = with_notes(&writer_a, 2, "next")?;
    let mut forged = next.events()[7..].to_vec();
    if let Some(ev) = forged.get_mut(1) {
        ev.actor = "mallory".to_owned();
    }
    expect_exact(
        store.append_events(&id, &forged).await,
        ErrorKind::InvalidInput,
        &format!("timeline of {id}: event #9 hash does not match its content"),
        "event with a wrong hash",
    )?;
    let gap = [next.events()[7].clone(), ahead.events()[7].clone()];
    expect_kind(store.append_events(&id, &gap).await, ErrorKind::InvalidInput, "", "non-contiguous batch")?;
    ensure_eq(&store.timeline(&id).await?, &writer_a, "timeline unchanged by refused appends")?;
    store.append_events(&id, &next.events()[7..]).await?;
    ensure_eq(&store.timeline(&id).await?, &next, "timeline after the conflicts")?;
    Ok(())
}

async fn runs(store: &dyn Store) -> Result<()> {
    let r1 = run_record("conformance-run-1", at(0));
    let mut r2 = run_record("conformance-run-2", at(60));
    r2.incident_id = None;
    let r3 = run_record("conformance-run-3", at(60));
    for r in [&r1, &r2, &r3] {
        store.create_run(r).await?;
    }
    ensure_eq(&store.run(&r1.run_id).await?, &Some(r1.clone()), "run round trip")?;
    ensure_eq(&store.run(&r2.run_id).await?, &Some(r2.clone()), "run without incident round trip")?;
    ensure_eq(&store.run("conformance-run-missing").await?, &None, "unknown run")?;
    let order = |all: Vec<RunRecord>| -> Vec<String> {
        all.into_iter().map(|r| r.run_id).filter(|id| id.starts_with("conformance-run-")).collect()
    };
    ensure_eq(
        &order(store.runs().await?),
        &vec![r2.run_id.clone(), r3.run_id.clone(), r1.run_id.clone()],
        "runs newest first, ties by id",
    )?;

    let mut dup = r1.clone();
    dup.procedure = "other".to_owned();
    expect_exact(
        store.create_run(&dup).await,
        ErrorKind::Conflict,
        "run conformance-run-1 already exists",
        "duplicate run",
    )?;
    ensure_eq(&store.run(&r1.run_id).await?, &Some(r1.clone()), "run unchanged by a duplicate create")?;

    let mut upd = r1.clone();
    upd.status = RunStatus::Running;
    upd.approval = Some(serde_json::json!({"by": "carol", "confirm_production": true}));
    upd.updated_at = at(120);
    store.update_run(&upd).await?;
    ensure_eq(&store.run(&r1.run_id).await?, &Some(upd.clone()), "run after update")?;
    let mut fixed = upd.clone();
    fixed.procedure = "renamed".to_owned();
    fixed.status = RunStatus::Succeeded;
    fixed.updated_at = at(180);
    store.update_run(&fixed).await?;
    let expected = RunRecord { status: RunStatus::Succeeded, updated_at: at(180), ..upd };
    ensure_eq(&store.run(&r1.run_id).await?, &Some(expected), "update changes only status, approval, updated_at")?;

    expect_kind(
        store.update_run(&run_record("conformance-run-missing", at(0))).await,
        ErrorKind::NotFound,
        "conformance-run-missing",
        "update of an unknown run",
    )?;
    expect_kind(store.create_run(&run_record("  ", at(0))).await, ErrorKind::InvalidInput, "run_id", "blank run id")?;
    Ok(())
}

async fn journal(store: &dyn Store) -> Result<()> {
    let run = "conformance-run-journal";
    store.create_run(&run_record(run, at(0))).await?;
    ensure_eq(&store.journal(run).await?, &Vec::new(), "journal of a new run")?;

    let drafts = [
        draft(run, "s1", JournalPhase::Intent, 1, "exec-a", at(1)),
        draft(run, "s1", JournalPhase::Outcome, 1, "exec-a", at(2)),
        draft(run, "s2", JournalPhase::Intent, 1, "exec-a", at(3)),
        draft(run, "s2", JournalPhase::Intent, 2, "exec-a", at(4)),
        draft(run, "s2", JournalPhase::Outcome, 2, "exec-a", at(5)),
    ];
    let mut appended = Vec::new();
    let mut prev = GENESIS_HASH.to_owned();
    for (seq, d) in (0u64..).zip(drafts.iter()) {
        let entry = store.append_journal(d.clone()).await?;
        ensure_eq(&entry.seq, &seq, "assigned seq")?;
        ensure_eq(&entry.draft, d, "entry keeps its draft")?;
        ensure_eq(&entry.prev_hash, &prev, "assigned prev_hash")?;
        ensure_eq(&entry.hash, &journal_hash(seq, d, &prev), "assigned hash (store::journal_hash)")?;
        prev.clone_from(&entry.hash);
        appended.push(entry);
    }
    ensure_eq(&store.journal(run).await?, &appended, "journal round trip")?;

    expect_exact(
        store.append_journal(drafts[0].clone()).await,
        ErrorKind::Conflict,
        &format!("journal of run {run}: step s1 intent attempt 1 already recorded as entry #0"),
        "duplicate (run, step, phase, attempt)",
    )?;
    ensure_eq(&store.journal(run).await?.len(), &5, "journal unchanged by a duplicate")?;

    // Another run has its own chain.
    let other = "conformance-run-journal-2";
    store.create_run(&run_record(other, at(0))).await?;
    let first = store.append_journal(draft(other, "s1", JournalPhase::Intent, 1, "exec-b", at(1))).await?;
    ensure_eq(&(first.seq, first.prev_hash.as_str()), &(0, GENESIS_HASH), "first entry of another run")?;

    let ghost = "conformance-run-ghost";
    expect_kind(
        store.append_journal(draft(ghost, "s1", JournalPhase::Intent, 1, "exec-a", at(1))).await,
        ErrorKind::NotFound,
        ghost,
        "append to an unknown run",
    )?;
    expect_kind(store.journal(ghost).await, ErrorKind::NotFound, ghost, "journal of an unknown run")?;
    expect_kind(
        store.append_journal(draft(run, "s3", JournalPhase::Intent, 0, "exec-a", at(6))).await,
        ErrorKind::InvalidInput,
        "attempt",
        "attempt 0",
    )?;
    Ok(())
}

async fn concurrent_journal_appends(store: &dyn Store) -> Result<()> {
    const PER_WRITER: u32 = 10;
    let run = "conformance-run-concurrent";
    store.create_run(&run_record(run, at(0))).await?;
    let writer = |owner: &'static str| async move {
        for i in 0..PER_WRITER {
            let step = format!("{owner}-step-{i}");
            store.append_journal(draft(run, &step, JournalPhase::Intent, 1, owner, at(i64::from(i)))).await?;
        }
        Ok::<_, Error>(())
    };
    let (a, b, c, d) = tokio::join!(writer("w1"), writer("w2"), writer("w3"), writer("w4"));
    a?;
    b?;
    c?;
    d?;
    let entries = store.journal(run).await?;
    ensure_eq(&entries.len(), &40, "entries from four concurrent writers")?;
    let mut steps: Vec<&str> = entries.iter().map(|e| e.draft.step_id.as_str()).collect();
    steps.sort_unstable();
    steps.dedup();
    ensure_eq(&steps.len(), &40, "distinct steps from four concurrent writers")?;
    Ok(())
}

async fn claims(store: &dyn Store) -> Result<()> {
    let run = "conformance-run-claims";
    store.create_run(&run_record(run, at(0))).await?;
    let claim = |step: &'static str, owner: &'static str, now: i64, until: i64| {
        store.claim_step(run, step, owner, at(now), at(until))
    };
    ensure_eq(&claim("s1", "a", 0, 30).await?, &true, "first claim wins")?;
    ensure_eq(&claim("s1", "b", 10, 40).await?, &false, "second owner refused while the lease runs")?;
    ensure_eq(&claim("s1", "a", 20, 50).await?, &true, "same owner re-claims (extends)")?;
    ensure_eq(&claim("s1", "b", 45, 75).await?, &false, "extended lease still runs")?;
    ensure_eq(&claim("s1", "b", 50, 80).await?, &true, "expired lease (now == lease_until) taken over")?;
    ensure_eq(&claim("s1", "a", 60, 90).await?, &false, "previous owner refused after the takeover")?;
    ensure_eq(&claim("s2", "a", 60, 90).await?, &true, "steps are claimed independently")?;

    let ghost = "conformance-run-ghost";
    expect_kind(
        store.claim_step(ghost, "s1", "a", at(0), at(30)).await,
        ErrorKind::NotFound,
        ghost,
        "claim in an unknown run",
    )?;
    expect_kind(claim("s3", "a", 30, 30).await, ErrorKind::InvalidInput, "lease_until", "empty lease")?;
    expect_kind(claim("s3", " ", 0, 30).await, ErrorKind::InvalidInput, "blank", "blank owner")?;

    // Take-over: an operator declares the holders dead; every claim of the run moves to the new owner.
    ensure_eq(&claim("s4", "a", 60, 1000).await?, &true, "a long lease")?;
    ensure_eq(&claim("s4", "c", 70, 100).await?, &false, "refused before the take-over")?;
    ensure_eq(&store.take_over_claims(run, "c").await?, &3, "every claim of the run taken over")?;
    ensure_eq(&claim("s4", "c", 70, 100).await?, &true, "the new owner extends the taken claim")?;
    ensure_eq(&claim("s1", "b", 70, 100).await?, &false, "the previous holder is refused")?;
    expect_kind(store.take_over_claims(ghost, "c").await, ErrorKind::NotFound, ghost, "take-over in an unknown run")?;
    expect_kind(store.take_over_claims(run, " ").await, ErrorKind::InvalidInput, "owner", "blank take-over owner")?;
    Ok(())
}

async fn timeline_tamper(store: &dyn Store, raw: &dyn RawAccess) -> Result<()> {
    let (inc, declared) = declare("conformance-inc-tamper", at(0))?;
    let id = inc.id.clone();
    store.save_incident(&inc).await?;
    let full = with_notes(&declared, 3, "tamper")?;
    store.append_events(&id, full.events()).await?;
    let rows = raw.raw_events(&id).await?;
    let keys: Vec<u64> = rows.iter().map(|r| r.0).collect();
    ensure_eq(&keys, &vec![1, 2, 3, 4, 5, 6], "raw event row keys")?;

    let mut edited = rows.clone();
    edited[3].1.actor = "mallory".to_owned();
    raw.put_raw_events(&id, edited).await?;
    let msg = format!("timeline of {id}: event #4 hash mismatch (edited?)");
    expect_exact(store.timeline(&id).await, ErrorKind::Integrity, &msg, "edited event")?;

    let mut dropped = rows.clone();
    dropped.remove(3);
    raw.put_raw_events(&id, dropped).await?;
    let msg = format!("timeline of {id}: event #5 follows #3 (dropped or reordered)");
    expect_exact(store.timeline(&id).await, ErrorKind::Integrity, &msg, "dropped event")?;

    let mut reordered = rows.clone();
    let (third, fourth) = (reordered[2].1.clone(), reordered[3].1.clone());
    reordered[2].1 = fourth;
    reordered[3].1 = third;
    raw.put_raw_events(&id, reordered).await?;
    let msg = format!("timeline of {id}: event #4 follows #2 (dropped or reordered)");
    expect_exact(store.timeline(&id).await, ErrorKind::Integrity, &msg, "reordered events")?;

    raw.put_raw_events(&id, rows).await?;
    ensure_eq(&store.timeline(&id).await?, &full, "timeline after restoring the rows")?;
    Ok(())
}

async fn journal_tamper(store: &dyn Store, raw: &dyn RawAccess) -> Result<()> {
    let run = "conformance-run-tamper";
    store.create_run(&run_record(run, at(0))).await?;
    let mut appended = Vec::new();
    for (i, step) in (0i64..).zip(["s1", "s2", "s3"]) {
        for phase in [JournalPhase::Intent, JournalPhase::Outcome] {
            appended.push(store.append_journal(draft(run, step, phase, 1, "exec-a", at(i))).await?);
        }
    }
    let rows = raw.raw_journal(run).await?;
    ensure_eq(&rows, &appended, "raw journal rows")?;

    let mut edited = rows.clone();
    edited[3].draft.detail = serde_json::json!({"outcome": "forged"});
    raw.put_raw_journal(run, edited.clone()).await?;
    let msg = format!("journal of run {run}: entry #3 hash mismatch (edited?)");
    expect_exact(store.journal(run).await, ErrorKind::Integrity, &msg, "edited entry")?;

    edited[3].hash = edited[3].compute_hash();
    raw.put_raw_journal(run, edited).await?;
    let msg = format!("journal of run {run}: prev_hash of entry #4 does not match entry #3");
    expect_exact(store.journal(run).await, ErrorKind::Integrity, &msg, "edited and re-hashed entry")?;

    let mut owner = rows.clone();
    owner[1].draft.owner = "exec-mallory".to_owned();
    raw.put_raw_journal(run, owner).await?;
    let msg = format!("journal of run {run}: entry #1 hash mismatch (edited?)");
    expect_exact(store.journal(run).await, ErrorKind::Integrity, &msg, "edited owner")?;

    let mut dropped = rows.clone();
    dropped.remove(4);
    raw.put_raw_journal(run, dropped).await?;
    let msg = format!("journal of run {run}: entry #4 missing (dropped or reordered)");
    expect_exact(store.journal(run).await, ErrorKind::Integrity, &msg, "dropped entry")?;

    let mut reordered = rows.clone();
    reordered[2].seq = 3;
    reordered[3].seq = 2;
    raw.put_raw_journal(run, reordered).await?;
    let msg = format!("journal of run {run}: entry #2 hash mismatch (edited?)");
    expect_exact(store.journal(run).await, ErrorKind::Integrity, &msg, "reordered entries")?;

    raw.put_raw_journal(run, rows).await?;
    ensure_eq(&store.journal(run).await?, &appended, "journal after restoring the rows")?;
    Ok(())
}

/// Evidence items: written with their `evidence_added` events in one transaction, listed by name, read
/// back with their content; a duplicate name is `Conflict`, a wrong hash or an item no event records is
/// `InvalidInput`, a stale timeline head is `Conflict`, and none of those writes anything.
async fn evidence(store: &dyn Store) -> Result<()> {
    let (inc, declared) = declare("conformance-inc-evidence", at(0))?;
    store.save_incident(&inc).await?;
    store.append_events(&inc.id, declared.events()).await?;
    ensure_eq(&store.evidence(&inc.id).await?, &Vec::new(), "no evidence yet")?;

    let when = at(60);
    let a = EvidenceItem::new("declared-0001/triage.json", "application/json", b"{\"ok\":true}".to_vec(), when);
    let b = EvidenceItem::new("declared-0001/logs.txt", "text/plain; charset=utf-8", "l\u{e9}ne 1\n".into(), when);
    let mut tl = declared.clone();
    tl.append(when, "bob", a.event_kind())?;
    tl.append(when, "bob", b.event_kind())?;
    let n = declared.len();
    store.add_evidence(&inc.id, &tl.events()[n..], &[a.clone(), b.clone()]).await?;
    ensure_eq(&store.timeline(&inc.id).await?, &tl, "timeline after add_evidence")?;
    ensure_eq(&store.evidence(&inc.id).await?, &vec![b.info(), a.info()], "evidence listed by name")?;
    ensure_eq(&store.evidence_item(&inc.id, &a.name).await?, &Some(a.clone()), "item round trip")?;
    ensure_eq(&store.evidence_item(&inc.id, "nope.txt").await?, &None, "unknown item")?;

    // A duplicate name: Conflict, and neither its event nor anything else is written.
    let mut next = tl.clone();
    let dup = EvidenceItem::new(a.name.clone(), "application/json", b"{}".to_vec(), at(61));
    next.append(at(61), "bob", dup.event_kind())?;
    let len = tl.len();
    expect_kind(
        store.add_evidence(&inc.id, &next.events()[len..], &[dup]).await,
        ErrorKind::Conflict,
        "declared-0001/triage.json is already stored",
        "duplicate evidence name",
    )?;
    // A hash that does not match the content.
    let mut forged = EvidenceItem::new("forged.txt", "text/plain", b"real".to_vec(), at(61));
    let mut next = tl.clone();
    next.append(at(61), "bob", forged.event_kind())?;
    forged.bytes = b"edited".to_vec();
    expect_kind(
        store.add_evidence(&inc.id, &next.events()[len..], &[forged]).await,
        ErrorKind::InvalidInput,
        "does not match the content",
        "wrong evidence hash",
    )?;
    // An item no event records.
    let lone = EvidenceItem::new("lone.txt", "text/plain", b"x".to_vec(), at(61));
    let next = with_notes(&tl, 1, "unrelated")?;
    expect_kind(
        store.add_evidence(&inc.id, &next.events()[len..], &[lone]).await,
        ErrorKind::InvalidInput,
        "no evidence_added event",
        "evidence without its event",
    )?;
    // A bad name.
    let bad = EvidenceItem::new("../etc/passwd", "text/plain", b"x".to_vec(), at(61));
    let mut next = tl.clone();
    next.append(at(61), "bob", bad.event_kind())?;
    expect_kind(
        store.add_evidence(&inc.id, &next.events()[len..], &[bad]).await,
        ErrorKind::InvalidInput,
        "relative path",
        "evidence name with ..",
    )?;
    // A stale head (another writer appended first): Conflict, nothing written.
    let stale = EvidenceItem::new("stale.txt", "text/plain", b"x".to_vec(), at(61));
    let mut next = declared.clone();
    next.append(at(61), "bob", stale.event_kind())?;
    expect_kind(
        store.add_evidence(&inc.id, &next.events()[n..], &[stale]).await,
        ErrorKind::Conflict,
        "expected seq",
        "evidence on a stale head",
    )?;
    ensure_eq(&store.timeline(&inc.id).await?, &tl, "timeline after refused evidence")?;
    ensure_eq(&store.evidence(&inc.id).await?.len(), &2, "evidence count after refused writes")?;

    let (ghost, ghost_tl) = declare("conformance-inc-evidence-ghost", at(0))?;
    expect_kind(
        store.add_evidence(&ghost.id, ghost_tl.events(), &[]).await,
        ErrorKind::NotFound,
        "conformance-inc-evidence-ghost",
        "evidence of an unsaved incident",
    )?;
    expect_kind(
        store.evidence(&ghost.id).await,
        ErrorKind::NotFound,
        "conformance-inc-evidence-ghost",
        "evidence list of an unsaved incident",
    )?;
    Ok(())
}
