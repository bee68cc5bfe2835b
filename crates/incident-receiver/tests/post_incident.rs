//! The post-incident driver runs in the receiver beside the cadence and escalation drivers, on the
//! receiver's clock: an incident resolved more than 24 hours ago with its post-incident tasks still open
//! gets one reminder per open task in its channel, each on the timeline; a restarted receiver does not
//! repeat them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use incident_core::backend::{Delivery, Notification, Notifier};
use incident_core::clock::ManualClock;
use incident_core::lifecycle::{Incidents, ResolveRequest};
use incident_core::postincident::{PostIncident, PostIncidentOptions, REMINDER_KIND, Task};
use incident_core::store::{MemoryStore, Store};
use incident_core::timeline::{EventKind, Outcome};
use incident_core::{Policy, Result, Status};
use incident_receiver::{Receiver, ReceiverConfig};
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// Delivers everything and remembers what.
#[derive(Default)]
struct Recording(Mutex<Vec<Notification>>);

impl Recording {
    /// The post-incident reminders delivered, by kind.
    fn reminders(&self) -> Vec<String> {
        self.0
            .lock()
            .expect("lock")
            .iter()
            .filter(|n| n.kind.starts_with(REMINDER_KIND))
            .map(|n| n.kind.clone())
            .collect()
    }
}

#[async_trait::async_trait]
impl Notifier for Recording {
    async fn notify(&self, n: &Notification) -> Result<Delivery> {
        self.0.lock().expect("lock").push(n.clone());
        Ok(Delivery::Delivered { reference: None })
    }
}

fn declared_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).single().expect("time") // a Tuesday
}

async fn start(store: Arc<MemoryStore>, clock: Arc<ManualClock>, notifier: Arc<Recording>) -> Receiver {
    let config = ReceiverConfig::new(store)
        .clock(clock)
        .notifier(notifier)
        .post_incident(PostIncidentOptions::default(), Duration::from_secs(1));
    Receiver::start(config).await.expect("start")
}

async fn post(r: &Receiver, body: String) -> Value {
    let req = Request::builder().method("POST").uri("/webhook/alertmanager").body(Body::from(body)).expect("request");
    let resp = r.router().oneshot(req).await.expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK);
    serde_json::from_slice(&axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body")).expect("json")
}

/// Wait (real time) until `done` holds, at most 20 s.
async fn eventually(mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The reminder kinds recorded on the timeline of `id`, with their outcome.
async fn recorded(store: &MemoryStore, id: &str) -> Vec<(String, Outcome)> {
    let tl = store.timeline(id).await.expect("timeline");
    tl.events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::MessageSent { kind, outcome, .. } if kind.starts_with(REMINDER_KIND) => {
                Some((kind.clone(), *outcome))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn overdue_post_incident_tasks_are_reminded_once_across_a_restart() {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(declared_at()));
    let notifier = Arc::new(Recording::default());
    let r = start(Arc::clone(&store), Arc::clone(&clock), Arc::clone(&notifier)).await;

    let alert = json!({
        "version": "4", "groupKey": "{}:{alertname=\"HighErrorRate\"}", "status": "firing", "receiver": "incident",
        "alerts": [{
            "status": "firing", "fingerprint": "a1", "startsAt": "2026-12-01T09:55:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "labels": {"alertname": "HighErrorRate", "service": "api", "severity": "critical"},
            "annotations": {"value": "0.12", "summary": "errors"}
        }]
    });
    let reply = post(&r, alert.to_string()).await;
    assert_eq!(reply["groups"][0]["outcome"], "declared", "{reply}");
    let id = reply["groups"][0]["incident"].as_str().expect("incident id").to_owned();

    // Resolved an hour later with no notifier: neither the ticket nor the invite went out, so every
    // post-incident task is open.
    clock.advance(TimeDelta::hours(1));
    let incidents = Incidents::new(store.clone(), clock.clone(), Policy::default());
    incidents.resolve(&id, &ResolveRequest::new("bad config in v2.3"), "alice").await.expect("resolve");
    let resolved_at = store.incident(&id).await.expect("load").expect("stored").resolved_at.expect("resolved");

    // Within the 24 hours: nothing is overdue, nothing reminded.
    clock.set(resolved_at + TimeDelta::hours(23));
    tokio::time::sleep(Duration::from_millis(2500)).await; // at least two driver ticks
    assert!(notifier.reminders().is_empty(), "{:?}", notifier.reminders());

    // Past them: one reminder per open task, each on the timeline.
    clock.set(resolved_at + TimeDelta::hours(25));
    let open = || async {
        let incident = store.incident(&id).await.expect("load").expect("stored");
        let tl = store.timeline(&id).await.expect("timeline");
        let post = PostIncident::of(&incident, &tl, &Policy::default().post_incident).expect("resolved");
        post.open().iter().map(|t| format!("{REMINDER_KIND}:{}", t.task.as_str())).collect::<Vec<_>>()
    };
    let mut want = open().await;
    eventually(|| notifier.reminders().len() >= want.len()).await;
    tokio::time::sleep(Duration::from_millis(2500)).await; // later ticks add nothing
    want = open().await;
    assert!(want.contains(&format!("{REMINDER_KIND}:{}", Task::Ticket.as_str())), "{want:?}");
    assert!(want.contains(&format!("{REMINDER_KIND}:{}", Task::Meeting.as_str())), "{want:?}");
    let mut sent = notifier.reminders();
    sent.sort();
    want.sort();
    assert_eq!(sent, want, "one reminder per open task");
    let on_timeline = recorded(&store, &id).await;
    assert_eq!(on_timeline.len(), want.len(), "{on_timeline:?}");
    assert!(on_timeline.iter().all(|(_, o)| *o == Outcome::Succeeded), "{on_timeline:?}");
    r.shutdown().await.expect("shutdown");

    // A restarted receiver (same store, later still) reads them back and repeats none.
    clock.advance(TimeDelta::hours(2));
    let r = start(Arc::clone(&store), Arc::clone(&clock), Arc::clone(&notifier)).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut again = notifier.reminders();
    again.sort();
    assert_eq!(again, want, "nothing repeated after the restart");
    assert_eq!(recorded(&store, &id).await.len(), want.len());
    let incident = store.incident(&id).await.expect("load").expect("stored");
    assert_eq!(incident.status, Status::Resolved);
    store.timeline(&id).await.expect("timeline").verify().expect("chain");
    r.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_post_incident_driver_needs_a_notifier_and_a_sane_poll() {
    let config = ReceiverConfig::new(Arc::new(MemoryStore::new()))
        .post_incident(PostIncidentOptions::default(), Duration::from_secs(1));
    let err = Receiver::start(config).await.expect_err("no notifier");
    assert!(err.message().contains("post-incident driver needs a notifier"), "{err}");
    let config = ReceiverConfig::new(Arc::new(MemoryStore::new()))
        .notifier(Arc::new(Recording::default()))
        .post_incident(PostIncidentOptions::default(), Duration::from_millis(10));
    let err = Receiver::start(config).await.expect_err("poll too short");
    assert!(err.message().contains("post_incident_poll must be at least 1s"), "{err}");
}
