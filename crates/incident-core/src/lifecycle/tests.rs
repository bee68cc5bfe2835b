use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::TimeDelta;

use super::*;
use crate::ErrorKind;
use crate::clock::ManualClock;
use crate::incident::tests::{at, declared};
use crate::store::{MemoryStore, StoreWrite};

/// Records what it is asked to deliver; delivers everything.
#[derive(Default)]
struct Recording(Mutex<Vec<Notification>>);

#[async_trait::async_trait]
impl Notifier for Recording {
    async fn notify(&self, n: &Notification) -> Result<Delivery> {
        self.0.lock().expect("lock").push(n.clone());
        Ok(Delivery::Delivered { reference: Some("ts-1".into()) })
    }
}

/// A memory store where another writer appends a note to the timeline just before each of the first
/// `interfere` batches: the batch then conflicts, as when the receiver records alerts in between. It
/// keeps the optimistic default of `Store::update_incident` (it does not override it), so operations
/// are decided again.
struct Contended {
    inner: MemoryStore,
    interfere: AtomicU32,
    batches: AtomicU32,
    /// What the other writer does to the stored incident and timeline (default: a note).
    other: Box<OtherWriter>,
}

/// What the other writer of [`Contended`] does.
type OtherWriter = dyn Fn(&mut Incident, &mut Timeline, DateTime<Utc>) -> Result<()> + Send + Sync;

impl Contended {
    fn new(inner: MemoryStore, interfere: u32) -> Self {
        Self {
            inner,
            interfere: AtomicU32::new(interfere),
            batches: AtomicU32::new(0),
            other: Box::new(|_, tl, now| {
                tl.append(now, "alertmanager", EventKind::Note { text: "alerts".into() }).map(|_| ())
            }),
        }
    }
}

#[async_trait::async_trait]
impl Store for Contended {
    async fn save_incident(&self, i: &Incident) -> Result<()> {
        self.inner.save_incident(i).await
    }
    async fn incident(&self, id: &str) -> Result<Option<Incident>> {
        self.inner.incident(id).await
    }
    async fn incidents(&self) -> Result<Vec<Incident>> {
        self.inner.incidents().await
    }
    async fn append_events(&self, id: &str, events: &[Event]) -> Result<()> {
        self.inner.append_events(id, events).await
    }
    async fn timeline(&self, id: &str) -> Result<Timeline> {
        self.inner.timeline(id).await
    }
    async fn create_run(&self, run: &RunRecord) -> Result<()> {
        self.inner.create_run(run).await
    }
    async fn update_run(&self, run: &RunRecord) -> Result<()> {
        self.inner.update_run(run).await
    }
    async fn run(&self, id: &str) -> Result<Option<RunRecord>> {
        self.inner.run(id).await
    }
    async fn runs(&self) -> Result<Vec<RunRecord>> {
        self.inner.runs().await
    }
    async fn claim_step(&self, r: &str, s: &str, o: &str, n: DateTime<Utc>, l: DateTime<Utc>) -> Result<bool> {
        self.inner.claim_step(r, s, o, n, l).await
    }
    async fn take_over_claims(&self, r: &str, o: &str) -> Result<u64> {
        self.inner.take_over_claims(r, o).await
    }
    async fn append_journal(&self, d: crate::store::JournalDraft) -> Result<crate::store::JournalEntry> {
        self.inner.append_journal(d).await
    }
    async fn journal(&self, r: &str) -> Result<Vec<crate::store::JournalEntry>> {
        self.inner.journal(r).await
    }
    async fn evidence(&self, id: &str) -> Result<Vec<crate::store::EvidenceInfo>> {
        self.inner.evidence(id).await
    }
    async fn evidence_item(&self, id: &str, name: &str) -> Result<Option<crate::store::EvidenceItem>> {
        self.inner.evidence_item(id, name).await
    }
    /// Interferes like `write_batch`: another writer's note lands first, so the events conflict.
    async fn add_evidence(&self, id: &str, events: &[Event], items: &[crate::store::EvidenceItem]) -> Result<()> {
        let left = self.interfere.load(Ordering::SeqCst);
        if left > 0 {
            self.interfere.store(left - 1, Ordering::SeqCst);
            let mut tl = self.inner.timeline(id).await?;
            let n = tl.len();
            let now = tl.last().map(|e| e.at).expect("declared");
            tl.append(now, "alertmanager", EventKind::Note { text: "alerts".into() })?;
            self.inner.append_events(id, &tl.events()[n..]).await?;
        }
        self.inner.add_evidence(id, events, items).await
    }
    async fn write_batch(&self, writes: &[StoreWrite]) -> Result<()> {
        self.batches.fetch_add(1, Ordering::SeqCst);
        let left = self.interfere.load(Ordering::SeqCst);
        if left > 0 {
            self.interfere.store(left - 1, Ordering::SeqCst);
            if let Some(StoreWrite::AppendEvents { incident_id, .. }) = writes.first() {
                let mut tl = self.inner.timeline(incident_id).await?;
                let mut inc = self.inner.incident(incident_id).await?.expect("stored");
                let n = tl.len();
                let now = tl.last().map(|e| e.at).expect("declared");
                (self.other)(&mut inc, &mut tl, now)?;
                self.inner
                    .write_batch(&[
                        StoreWrite::AppendEvents {
                            incident_id: incident_id.clone(),
                            events: tl.events()[n..].to_vec(),
                        },
                        StoreWrite::SaveIncident(inc),
                    ])
                    .await?;
            }
        }
        self.inner.write_batch(writes).await
    }
}

async fn stored(severity: Severity) -> MemoryStore {
    let (mut inc, tl) = declared(severity);
    inc.impact = format!("{severity} (Customer-facing errors)");
    let store = MemoryStore::new();
    store.save_incident(&inc).await.expect("save");
    store.append_events(&inc.id, tl.events()).await.expect("events");
    store
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(at(14, 10)))
}

fn count(tl: &Timeline, type_name: &str) -> usize {
    tl.events().iter().filter(|e| e.kind.type_name() == type_name).count()
}

#[tokio::test]
async fn a_whole_response_is_recorded_once_each() {
    let store = Arc::new(stored(Severity::P1).await);
    let clock = clock();
    let notifier = Arc::new(Recording::default());
    let incidents = Incidents::new(store.clone(), clock.clone(), Policy::default()).with_notifier(notifier.clone());

    let c = incidents.ack("INC-1", "alice").await.expect("ack");
    assert_eq!((c.outcome, c.events.len(), c.attempts), (ChangeOutcome::Applied, 1, 1));
    assert_eq!(c.incident.acknowledged_at, Some(at(14, 10)));
    clock.advance(TimeDelta::minutes(1));
    let again = incidents.ack("INC-1", "bob").await.expect("second ack");
    assert_eq!(
        again.outcome,
        ChangeOutcome::Unchanged { why: "INC-1 was already acknowledged by alice at 2026-11-26 14:10 UTC".into() }
    );
    assert!(again.events.is_empty());

    incidents.assign("INC-1", ResponseRole::Commander, "bob", "alice").await.expect("handover");
    incidents.assign("INC-1", ResponseRole::Communications, "carol", "bob").await.expect("comms");
    incidents.assign("INC-1", ResponseRole::Scribe, " dave ", "bob").await.expect("scribe");
    let same = incidents.assign("INC-1", ResponseRole::Scribe, "dave", "bob").await.expect("same scribe");
    assert!(matches!(same.outcome, ChangeOutcome::Unchanged { .. }), "{same:?}");
    incidents.assign("INC-1", ResponseRole::Scribe, "erin", "bob").await.expect("new scribe");

    let c = incidents.change_severity("INC-1", Severity::P0, "all regions down", "bob").await.expect("raise");
    assert_eq!(c.incident.severity, Severity::P0);
    assert_eq!(c.incident.impact, "P0 (all regions down; declared P1: Customer-facing errors)");
    let same = incidents.change_severity("INC-1", Severity::P0, "again", "bob").await.expect("same");
    assert!(matches!(same.outcome, ChangeOutcome::Unchanged { .. }));
    // The next update says P0, and counts for the (now P0, 15-minute) cadence.
    let sent = incidents.update("INC-1", Some("failing over"), "carol").await.expect("update");
    let kinds: Vec<_> = sent.iter().map(|a| (a.kind, a.outcome)).collect();
    assert_eq!(kinds, [(UpdateKind::Internal, Outcome::Succeeded), (UpdateKind::StatusPage, Outcome::Succeeded)]);
    let texts: Vec<String> = notifier.0.lock().expect("lock").drain(..).map(|n| n.text).collect();
    assert!(texts[0].contains("Impact: P0 (all regions down; declared P1: Customer-facing errors)"), "{}", texts[0]);
    assert!(texts[0].contains("failing over"), "{}", texts[0]);
    let view = incidents.show("INC-1").await.expect("show");
    assert_eq!(view.cadence.next_internal_due, Some(clock.now() + TimeDelta::minutes(15)));

    clock.advance(TimeDelta::minutes(5));
    incidents.set_status("INC-1", Status::Identified, "bad deploy v2.3", "bob").await.expect("identified");
    incidents.note("INC-1", "rolling back", "erin").await.expect("note");
    incidents.set_status("INC-1", Status::Monitoring, "rolled back to v2.2", "bob").await.expect("monitoring");
    incidents.mitigated("INC-1", "bob").await.expect("mitigated");
    let twice = incidents.mitigated("INC-1", "bob").await.expect("mitigated twice");
    assert!(matches!(twice.outcome, ChangeOutcome::Unchanged { .. }));

    let view = incidents.show("INC-1").await.expect("show");
    assert_eq!(
        view.roles,
        Roles { commander: "bob".into(), communications: Some("carol".into()), scribe: Some("erin".into()) }
    );
    assert!(view.cadence.next_internal_due.is_some());
    assert!(view.stakeholders.iter().any(|s| s.role == crate::policy::Role::Cto), "P0 pages the CTO");

    clock.advance(TimeDelta::minutes(20));
    let c = incidents.resolve("INC-1", &ResolveRequest::new("bad config in v2.3"), "bob").await.expect("resolve");
    assert_eq!(c.incident.status, Status::Resolved);
    assert_eq!(c.incident.resolution.as_deref(), Some("rolled back to v2.2"), "the monitoring message");
    let kinds: Vec<(&str, &str)> = c.messages.iter().map(|m| (m.kind.as_str(), m.channel.as_str())).collect();
    assert_eq!(
        kinds,
        [
            ("resolved", "#incident-2026-11-26-1405"),
            ("resolved", "status-page"),
            ("postincident_ticket", "webhook:tracker"),
            ("postmortem_invite", "#incident-2026-11-26-1405"),
        ],
        "final message, then the post-incident ticket and invite"
    );
    assert!(c.messages.iter().all(|m| m.outcome == Outcome::Succeeded));
    let sent = notifier.0.lock().expect("lock").clone();
    assert_eq!(sent.len(), 4);
    assert!(sent[0].text.starts_with("Status: RESOLVED"), "{}", sent[0].text);
    assert!(sent[0].text.contains("- Root cause: bad config in v2.3"), "{}", sent[0].text);
    assert_eq!(sent[1].to, Destination::StatusPage);
    assert_eq!(sent[2].to, Destination::Webhook { name: crate::postincident::TRACKER.into() });
    assert!(sent[2].text.starts_with("Post-incident: [P0] Inference API errors (INC-1)\n"), "{}", sent[2].text);
    assert!(sent[2].text.contains("Root cause: bad config in v2.3"), "{}", sent[2].text);
    assert!(sent[2].text.contains("```ics\nBEGIN:VCALENDAR\n"), "the invite is in the ticket: {}", sent[2].text);
    // Resolved Thursday 2026-11-26 14:36 UTC: the meeting is Friday 10:00 (default UTC business hours).
    assert!(sent[3].text.contains("DTSTART:20261127T100000Z\r\n"), "{}", sent[3].text);
    assert!(sent[3].text.contains("SUMMARY:Post-mortem: [P0] Inference API errors\r\n"), "{}", sent[3].text);

    let err = incidents.resolve("INC-1", &ResolveRequest::new("again"), "bob").await.expect_err("twice");
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    let err = incidents.ack("INC-1", "bob").await.map(|c| c.outcome).expect("acked before resolve: an answer");
    assert!(matches!(err, ChangeOutcome::Unchanged { .. }));
    let err = incidents.assign("INC-1", ResponseRole::Scribe, "zed", "bob").await.expect_err("resolved");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    incidents.note("INC-1", "post-incident: add a canary", "bob").await.expect("notes after resolve");

    let tl = store.timeline("INC-1").await.expect("timeline");
    tl.verify().expect("chain");
    for (kind, n) in [
        ("acknowledged", 1),
        ("commander_assigned", 2),
        ("role_assigned", 3),
        ("severity_changed", 1),
        ("status_changed", 3),
        ("note", 2),
        ("mitigated", 1),
        ("resolved", 1),
        ("message_sent", 6),
    ] {
        assert_eq!(count(&tl, kind), n, "{kind}");
    }
    let actors: Vec<_> =
        tl.events().iter().filter(|e| e.kind.type_name() == "role_assigned").map(|e| &e.actor).collect();
    assert_eq!(actors, ["bob", "bob", "bob"]);

    let pm = incidents.postmortem("INC-1", PostMortemInput::default()).await.expect("postmortem");
    assert_eq!(pm.root_cause.as_deref(), Some("bad config in v2.3"));
    assert_eq!(pm.timeline_events, tl.len());
    assert_eq!(pm.timeline_head_hash, tl.head_hash());
    assert_eq!(pm.metrics.mtta.map(HumanDuration::as_secs), Some(12 * 60), "declared detected 13:58, acked 14:10");
    let md = pm.to_markdown();
    assert!(md.contains("Status investigating -> identified: bad deploy v2.3"), "{md}");
}

#[tokio::test]
async fn a_conflicting_write_is_decided_again() {
    // Another writer appends just before the note's first write: the note lands after it, once.
    let store = Arc::new(Contended::new(stored(Severity::P1).await, 1));
    let incidents = Incidents::new(store.clone(), clock(), Policy::default());
    let c = incidents.note("INC-1", "looking", "alice").await.expect("note");
    assert_eq!(c.attempts, 2);
    let tl = store.timeline("INC-1").await.expect("timeline");
    let tail: Vec<_> = tl.events().iter().rev().take(2).map(|e| e.kind.describe()).collect();
    assert_eq!(tail, ["Note: looking", "Note: alerts"]);

    // The other writer acknowledges first (PagerDuty): the ack becomes an answer, with no second event.
    let mut contended = Contended::new(stored(Severity::P1).await, 1);
    contended.other = Box::new(|inc, tl, now| inc.acknowledge(now, "pagerduty", tl));
    let store = Arc::new(contended);
    let incidents = Incidents::new(store.clone(), clock(), Policy::default());
    let c = incidents.ack("INC-1", "alice").await.expect("ack");
    assert_eq!(c.attempts, 2);
    let ChangeOutcome::Unchanged { why } = &c.outcome else { panic!("{c:?}") };
    assert!(why.contains("by pagerduty"), "{why}");
    let tl = store.timeline("INC-1").await.expect("timeline");
    assert_eq!(count(&tl, "acknowledged"), 1);

    // The other writer raises the severity (the receiver, on worse alerts): a handover decided again
    // keeps that severity (the incident is re-read, not overwritten with the stale copy).
    let mut contended = Contended::new(stored(Severity::P1).await, 2);
    contended.other = Box::new(|inc, tl, now| {
        if inc.severity == Severity::P1 {
            inc.change_severity(Severity::P0, "alert group now classifies as P0", now, "alertmanager", tl)
        } else {
            tl.append(now, "alertmanager", EventKind::Note { text: "more alerts".into() }).map(|_| ())
        }
    });
    let store = Arc::new(contended);
    let incidents = Incidents::new(store.clone(), clock(), Policy::default());
    let c = incidents.assign("INC-1", ResponseRole::Commander, "bob", "alice").await.expect("handover");
    assert_eq!(c.attempts, 3);
    let stored = store.incident("INC-1").await.expect("read").expect("stored");
    assert_eq!((stored.severity, stored.commander.as_str()), (Severity::P0, "bob"));
    store.timeline("INC-1").await.expect("timeline").verify().expect("chain");
}

#[tokio::test]
async fn endless_contention_gives_up_without_writing() {
    let store = Arc::new(Contended::new(stored(Severity::P2).await, u32::MAX));
    let incidents = Incidents::new(store.clone(), clock(), Policy::default());
    let err = incidents.mitigated("INC-1", "alice").await.expect_err("contended");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.message().contains("16 times in a row"), "{err}");
    assert_eq!(store.batches.load(Ordering::SeqCst), crate::store::UPDATE_ATTEMPTS);
    let inc = store.incident("INC-1").await.expect("read").expect("stored");
    assert_eq!(inc.mitigated_at, None);
    assert_eq!(count(&store.timeline("INC-1").await.expect("timeline"), "mitigated"), 0);
}

#[tokio::test]
async fn bad_input_is_typed() {
    let store = Arc::new(stored(Severity::P1).await);
    let incidents = Incidents::new(store, clock(), Policy::default());
    let cases: Vec<(Result<Change>, ErrorKind, &str)> = vec![
        (incidents.ack("INC-404", "alice").await, ErrorKind::NotFound, "incident INC-404 not found"),
        (incidents.ack(" ", "alice").await, ErrorKind::InvalidInput, "incident id must not be empty"),
        (incidents.ack("INC-1", "  ").await, ErrorKind::InvalidInput, "actor must not be empty"),
        (
            incidents.assign("INC-1", ResponseRole::Scribe, " ", "alice").await,
            ErrorKind::InvalidInput,
            "person must not be empty",
        ),
        (
            incidents.change_severity("INC-1", Severity::P0, "", "alice").await,
            ErrorKind::InvalidInput,
            "severity change reason must not be empty",
        ),
        (
            incidents.set_status("INC-1", Status::Resolved, "done", "alice").await,
            ErrorKind::InvalidInput,
            "cannot be set by hand",
        ),
        (
            incidents.set_status("INC-1", Status::Identified, " ", "alice").await,
            ErrorKind::InvalidInput,
            "status message must not be empty",
        ),
        (incidents.note("INC-1", "", "alice").await, ErrorKind::InvalidInput, "note must not be empty"),
        (
            incidents.resolve("INC-1", &ResolveRequest::new(" "), "alice").await,
            ErrorKind::InvalidInput,
            "root cause must not be empty",
        ),
    ];
    for (result, kind, message) in cases {
        let err = result.expect_err(message);
        assert_eq!(err.kind(), kind, "{err}");
        assert!(err.message().contains(message), "{err} !~ {message}");
    }
    incidents.set_status("INC-1", Status::Monitoring, "fix deployed", "alice").await.expect("monitoring");
    incidents.set_status("INC-1", Status::Identified, "fix did not hold", "alice").await.expect("back");
    let same = incidents.set_status("INC-1", Status::Identified, "x", "alice").await.expect("same");
    assert!(matches!(same.outcome, ChangeOutcome::Unchanged { .. }));
    let err = incidents.postmortem("INC-404", PostMortemInput::default()).await.expect_err("unknown");
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn list_filters_and_runs_become_action_items() {
    let store = Arc::new(stored(Severity::P1).await);
    let (mut other, tl) = crate::incident::Incident::declare(
        crate::incident::DeclareRequest {
            id: "INC-2".into(),
            started_at: None,
            detected_at: None,
            ..crate::incident::tests::request(Severity::P3)
        },
        &Policy::default(),
        at(9, 0),
    )
    .expect("declare");
    other.customer_facing = false;
    store.save_incident(&other).await.expect("save");
    store.append_events("INC-2", tl.events()).await.expect("events");
    let clock = clock();
    let incidents = Incidents::new(store.clone(), clock.clone(), Policy::default());
    let ids = |v: Vec<Incident>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
    assert_eq!(ids(incidents.list(&ListFilter::default()).await.expect("all")), ["INC-1", "INC-2"]);
    let p3 = ListFilter { severity: Some(Severity::P3), ..ListFilter::default() };
    assert_eq!(ids(incidents.list(&p3).await.expect("p3")), ["INC-2"]);
    let recent = ListFilter { since: Some(HumanDuration::from_hours(1)), ..ListFilter::default() };
    assert_eq!(ids(incidents.list(&recent).await.expect("recent")), ["INC-1"]);
    incidents.resolve("INC-2", &ResolveRequest::new("disk").resolution("cleaned"), "alice").await.expect("resolve");
    let open = ListFilter { open: true, ..ListFilter::default() };
    assert_eq!(ids(incidents.list(&open).await.expect("open")), ["INC-1"]);
    let c = incidents.show("INC-2").await.expect("show");
    assert_eq!(c.incident.resolution.as_deref(), Some("cleaned"));
    let tl = store.timeline("INC-2").await.expect("timeline");
    let skipped: Vec<_> = tl
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::MessageSent { channel, outcome, .. } => Some((channel.clone(), *outcome)),
            _ => None,
        })
        .collect();
    assert_eq!(
        skipped,
        [
            ("#incident-2026-11-26-0900".to_owned(), Outcome::Skipped),
            ("webhook:tracker".to_owned(), Outcome::Skipped),
            ("#incident-2026-11-26-0900".to_owned(), Outcome::Skipped),
        ],
        "no status page: internal; then the post-incident ticket and invite"
    );

    let run = |id: &str, status| RunRecord {
        run_id: id.into(),
        incident_id: Some("INC-1".into()),
        procedure: "application-rollback".into(),
        plan: serde_json::json!({}),
        approval: None,
        status,
        created_at: at(14, 20),
        updated_at: at(14, 30),
    };
    store.create_run(&run("r1", RunStatus::Compensated)).await.expect("run");
    store.create_run(&run("r2", RunStatus::Succeeded)).await.expect("run");
    let view = incidents.show("INC-1").await.expect("show");
    assert_eq!(view.runs.len(), 2);
    let input = PostMortemInput {
        action_items: vec![ActionItem { description: "add a canary".into(), owner: "bob".into(), due: None }],
        ..PostMortemInput::default()
    };
    let pm = incidents.postmortem("INC-1", input).await.expect("postmortem");
    let items: Vec<_> = pm.action_items.iter().map(|a| a.description.as_str()).collect();
    assert_eq!(items, ["Review run r1 (application-rollback): it ended compensated", "add a canary"]);
}

#[tokio::test]
async fn what_people_read() {
    let store = Arc::new(stored(Severity::P1).await);
    let clock = clock();
    let incidents = Incidents::new(store.clone(), clock.clone(), Policy::default());
    let ack = incidents.ack("INC-1", "alice").await.expect("ack");
    let again = incidents.ack("INC-1", "bob").await.expect("again");
    clock.advance(TimeDelta::minutes(2));
    incidents.assign("INC-1", ResponseRole::Scribe, "dave", "alice").await.expect("scribe");
    incidents.set_status("INC-1", Status::Identified, "bad deploy v2.3", "alice").await.expect("identified");
    let list = incidents.list(&ListFilter::default()).await.expect("list");
    clock.advance(TimeDelta::minutes(40));
    let view = incidents.show("INC-1").await.expect("show");
    let resolved = incidents
        .resolve("INC-1", &ResolveRequest::new("bad config").resolution("rolled back"), "alice")
        .await
        .expect("resolve");
    insta::assert_snapshot!("ack", crate::render::change(&ack));
    insta::assert_snapshot!("ack_again", crate::render::change(&again));
    insta::assert_snapshot!("resolve", crate::render::change(&resolved));
    insta::assert_snapshot!("list", crate::render::incident_list(&list));
    insta::assert_snapshot!("show", crate::render::incident_view(&view));
}

/// Fails the post-incident ticket (the tracker is down), delivers the rest.
#[derive(Default)]
struct TrackerDown(Mutex<Vec<Notification>>);

#[async_trait::async_trait]
impl Notifier for TrackerDown {
    async fn notify(&self, n: &Notification) -> Result<Delivery> {
        self.0.lock().expect("lock").push(n.clone());
        if n.to == (Destination::Webhook { name: crate::postincident::TRACKER.into() }) {
            return Err(crate::Error::unavailable("github create issue: HTTP 503 Service Unavailable"));
        }
        Ok(Delivery::Delivered { reference: Some("ts-1".into()) })
    }
}

#[tokio::test]
async fn post_incident_ticket_and_invite_are_sent_on_resolve_and_read_back() {
    use crate::postincident::{PostIncident, Task};
    let store = Arc::new(stored(Severity::P1).await);
    let clock = clock();
    let notifier = Arc::new(TrackerDown::default());
    let incidents = Incidents::new(store.clone(), clock.clone(), Policy::default()).with_notifier(notifier.clone());
    clock.advance(TimeDelta::minutes(30));
    let c = incidents.resolve("INC-1", &ResolveRequest::new("bad config"), "alice").await.expect("resolved anyway");
    assert_eq!(c.incident.status, Status::Resolved);
    let ticket = c.messages.iter().find(|m| m.kind == "postincident_ticket").expect("ticket reported");
    assert_eq!(ticket.outcome, Outcome::Failed);
    assert!(ticket.detail.contains("HTTP 503"), "{}", ticket.detail);
    let invite = c.messages.iter().find(|m| m.kind == "postmortem_invite").expect("invite reported");
    assert_eq!(invite.outcome, Outcome::Succeeded);

    let (incident, tl) = incidents.load("INC-1").await.expect("load");
    tl.verify().expect("chain");
    let post = PostIncident::of(&incident, &tl, &incidents.policy().post_incident).expect("resolved");
    let open: Vec<Task> = post.open().iter().map(|t| t.task).collect();
    assert_eq!(
        open,
        [Task::Ticket, Task::TimelineAndMetrics, Task::Evidence, Task::PostMortem],
        "the failed ticket is open"
    );
    let resolved_at = incident.resolved_at.expect("resolved_at");
    assert!(post.overdue(resolved_at + TimeDelta::hours(24)).is_empty());
    assert_eq!(post.overdue(resolved_at + TimeDelta::hours(25)).len(), 4);
}

#[tokio::test]
async fn evidence_is_redacted_hashed_into_the_timeline_bounded_and_stored_once() {
    let store = Arc::new(stored(Severity::P1).await);
    let mut policy = Policy::default();
    policy.evidence.max_item_bytes = 64;
    let incidents = Incidents::new(store.clone(), clock(), policy);
    let id = store.incidents().await.expect("list")[0].id.clone();
    let logs = EvidenceDraft::text("declared-0001/logs.txt", "text/plain", "db password=hunter2 ok\n");
    let done = incidents.preserve(&id, vec![logs.clone()], "alice").await.expect("preserve");
    assert_eq!(done.added.len(), 1);
    assert!(done.already_stored.is_empty());
    let item = incidents.evidence_item(&id, "declared-0001/logs.txt").await.expect("read");
    assert_eq!(String::from_utf8(item.bytes.clone()).expect("text"), "db password=*** ok\n", "redacted before hashing");
    assert_eq!(item.sha256, crate::store::sha256_hex(&item.bytes));
    let tl = store.timeline(&id).await.expect("timeline");
    let last = tl.last().expect("event");
    assert_eq!(last.kind, EventKind::EvidenceAdded { name: item.name.clone(), sha256: item.sha256.clone() });
    assert_eq!(last.actor, "alice");

    // Again: already stored, nothing appended.
    let again = incidents.preserve(&id, vec![logs], "bob").await.expect("again");
    assert!(again.added.is_empty() && again.events.is_empty());
    assert_eq!(again.already_stored, vec!["declared-0001/logs.txt".to_owned()]);
    assert_eq!(store.timeline(&id).await.expect("timeline").len(), tl.len());

    // Bounded, named, text.
    let big = EvidenceDraft::text("big.txt", "text/plain", "x".repeat(65));
    let err = incidents.preserve(&id, vec![big], "alice").await.expect_err("too big");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.message().contains("evidence.max_item_bytes (64)"), "{err}");
    let bad = EvidenceDraft::text("../x", "text/plain", "x");
    assert_eq!(incidents.preserve(&id, vec![bad], "alice").await.expect_err("name").kind(), ErrorKind::InvalidInput);
    let bin = EvidenceDraft { name: "b.bin".into(), media_type: "application/octet-stream".into(), bytes: vec![0xff] };
    assert_eq!(incidents.preserve(&id, vec![bin], "alice").await.expect_err("bin").kind(), ErrorKind::InvalidInput);
    let twice = vec![EvidenceDraft::text("a.txt", "text/plain", "1"), EvidenceDraft::text("a.txt", "text/plain", "2")];
    assert_eq!(incidents.preserve(&id, twice, "alice").await.expect_err("twice").kind(), ErrorKind::InvalidInput);
    let err = incidents.preserve("INC-404", vec![EvidenceDraft::text("a.txt", "t", "1")], "alice").await;
    assert_eq!(err.expect_err("unknown").kind(), ErrorKind::NotFound);
    assert_eq!(incidents.evidence(&id).await.expect("list").len(), 1);
}

#[tokio::test]
async fn the_postmortem_is_recorded_once_as_evidence_and_marks_its_task_done() {
    use crate::postincident::{POSTMORTEM_EVIDENCE, PostIncident, Task};
    let store = Arc::new(stored(Severity::P1).await);
    let incidents = Incidents::new(store.clone(), clock(), Policy::default());
    let id = store.incidents().await.expect("list")[0].id.clone();
    incidents.resolve(&id, &ResolveRequest::new("a bad deploy"), "alice").await.expect("resolve");
    let err = incidents.record_postmortem(&id, PostMortemInput::default(), " ").await.expect_err("blank actor");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = incidents.record_postmortem("INC-404", PostMortemInput::default(), "bob").await.expect_err("unknown");
    assert_eq!(err.kind(), ErrorKind::NotFound);

    let done = incidents.record_postmortem(&id, PostMortemInput::default(), "bob").await.expect("record");
    assert!(!done.already_recorded());
    assert_eq!(done.preserved.added.len(), 1);
    let item = incidents.evidence_item(&id, POSTMORTEM_EVIDENCE).await.expect("stored");
    assert_eq!(String::from_utf8(item.bytes).expect("text"), crate::redact::scrub(&done.postmortem.to_markdown()));
    assert_eq!(done.message(), format!("recorded {POSTMORTEM_EVIDENCE} of {id} (sha256 {})", item.sha256));
    let (incident, tl) = incidents.load(&id).await.expect("load");
    let post = PostIncident::of(&incident, &tl, &incidents.policy().post_incident).expect("resolved");
    assert!(post.tasks.iter().any(|t| t.task == Task::PostMortem && t.done_at.is_some()), "{post:?}");

    let again = incidents.record_postmortem(&id, PostMortemInput::default(), "carol").await.expect("again");
    assert!(again.already_recorded());
    assert_eq!(again.preserved.already_stored, vec![POSTMORTEM_EVIDENCE.to_owned()]);
    assert_eq!(
        again.message(),
        format!("{id} already has a recorded {POSTMORTEM_EVIDENCE} (evidence names are kept once)")
    );
    assert_eq!(incidents.load(&id).await.expect("load").1.len(), tl.len(), "nothing appended");
}

#[tokio::test]
async fn evidence_written_while_another_writer_appends_is_decided_again() {
    let store = Arc::new(Contended::new(stored(Severity::P1).await, 2));
    let id = store.inner.incidents().await.expect("list")[0].id.clone();
    let incidents = Incidents::new(store.clone(), clock(), Policy::default());
    let done = incidents
        .preserve(&id, vec![EvidenceDraft::text("declared-0001/triage.txt", "text/plain", "ok")], "alice")
        .await
        .expect("preserve");
    assert_eq!(done.added.len(), 1);
    assert_eq!(done.attempts, 3, "decided again after each of the two conflicts");
    assert_eq!(incidents.evidence(&id).await.expect("list").len(), 1);
    let tl = store.inner.timeline(&id).await.expect("timeline");
    assert_eq!(count(&tl, "note"), 2);
    assert_eq!(count(&tl, "evidence_added"), 1);
}

#[tokio::test]
async fn acknowledging_and_resolving_stop_every_role_paged() {
    use crate::policy::Role;
    let store = Arc::new(stored(Severity::P1).await);
    let clock = clock();
    let notifier = Arc::new(Recording::default());
    let incidents = Incidents::new(store.clone(), clock.clone(), Policy::default()).with_notifier(notifier.clone());
    let (inc, _) = incidents.load("INC-1").await.expect("load");
    let page = |role, kind: &str| Notification {
        incident_id: inc.id.clone(),
        to: Destination::Page { role },
        kind: kind.into(),
        text: "[P1] paged".into(),
    };
    // Paged at declaration and escalated to; a channel message is not a page.
    for n in [
        page(Role::OnCallEngineer, "page"),
        page(Role::EngineeringManager, "escalation_page:2"),
        Notification {
            incident_id: inc.id.clone(),
            to: Destination::Channel { name: inc.channel.clone() },
            kind: "page".into(),
            text: "x".into(),
        },
    ] {
        let sent = delivery::deliver_and_record(&*store, &*notifier, &*clock, "t", n).await.expect("recorded");
        assert_eq!(sent.outcome, Outcome::Succeeded);
    }
    notifier.0.lock().expect("lock").clear();
    let sent = |notifier: &Recording| -> Vec<(Destination, String)> {
        notifier.0.lock().expect("lock").drain(..).map(|n| (n.to, n.kind)).collect()
    };
    let ack = incidents.ack("INC-1", "alice").await.expect("ack");
    let want = |kind: &str| {
        vec![
            (Destination::Page { role: Role::OnCallEngineer }, kind.to_owned()),
            (Destination::Page { role: Role::EngineeringManager }, kind.to_owned()),
        ]
    };
    assert_eq!(sent(&notifier), want("acknowledged"));
    assert_eq!(ack.messages.len(), 2, "{:?}", ack.messages);
    // A second acknowledgement is an answer and sends nothing.
    incidents.ack("INC-1", "bob").await.expect("ack again");
    assert_eq!(sent(&notifier), Vec::new());
    incidents.resolve("INC-1", &ResolveRequest::new("bad config"), "alice").await.expect("resolve");
    let resolved: Vec<_> =
        sent(&notifier).into_iter().filter(|(to, _)| matches!(to, Destination::Page { .. })).collect();
    assert_eq!(resolved, want("resolved"));
    // The acknowledgements are recorded, and are not pages: escalation does not count them as paged.
    let tl = store.timeline("INC-1").await.expect("timeline");
    assert_eq!(crate::escalation::paged_roles(&tl), [Role::OnCallEngineer, Role::EngineeringManager]);
    let closing = tl
        .events()
        .iter()
        .filter(|e| {
            matches!(&e.kind, EventKind::MessageSent { kind, channel, .. }
            if (kind == "acknowledged" || kind == "resolved") && channel.starts_with("page:"))
        })
        .count();
    assert_eq!(closing, 4);
}
