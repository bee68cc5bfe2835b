//! The escalation driver runs in the receiver beside the cadence driver, on the receiver's clock: an
//! alert declares a P1; when the clock passes its 30-minute response time unacknowledged, the next level
//! (the engineering manager) is paged, once, and the page is on the timeline.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use incident_core::backend::{Delivery, Destination, Notification, Notifier};
use incident_core::clock::ManualClock;
use incident_core::escalation::EscalationOptions;
use incident_core::policy::Role;
use incident_core::store::{MemoryStore, Store};
use incident_core::timeline::{EventKind, Outcome};
use incident_core::{Result, Severity};
use incident_receiver::{Auth, Receiver, ReceiverConfig};
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// Delivers everything and remembers what.
#[derive(Default)]
struct Recording(Mutex<Vec<Notification>>);

impl Recording {
    fn kinds_to(&self, to: &Destination) -> Vec<String> {
        self.0.lock().expect("lock").iter().filter(|n| n.to == *to).map(|n| n.kind.clone()).collect()
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
    Utc.with_ymd_and_hms(2026, 12, 5, 3, 0, 0).single().expect("time") // Saturday night: P1 pages anyway
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

#[tokio::test]
async fn an_unacknowledged_p1_pages_the_next_level_after_30_minutes() {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(declared_at()));
    let notifier = Arc::new(Recording::default());
    let config = ReceiverConfig::new(store.clone())
        .auth(Auth::none())
        .clock(clock.clone())
        .notifier(notifier.clone())
        .escalation(EscalationOptions::default(), Duration::from_secs(1));
    let r = Receiver::start(config).await.expect("start");

    let alert = json!({
        "version": "4", "groupKey": "{}:{alertname=\"HighErrorRate\"}", "status": "firing", "receiver": "incident",
        "alerts": [{
            "status": "firing", "fingerprint": "a1", "startsAt": "2026-12-05T02:55:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "labels": {"alertname": "HighErrorRate", "service": "api", "severity": "critical"},
            "annotations": {"value": "0.12", "summary": "errors"}
        }]
    });
    let reply = post(&r, alert.to_string()).await;
    assert_eq!(reply["groups"][0]["outcome"], "declared", "{reply}");
    let id = reply["groups"][0]["incident"].as_str().expect("incident id").to_owned();
    let incident = store.incident(&id).await.expect("load").expect("stored");
    assert_eq!(incident.severity, Severity::P1);

    // The declaration pages the on-call engineer at once; nobody else is escalated to yet.
    let on_call = Destination::Page { role: Role::OnCallEngineer };
    let manager = Destination::Page { role: Role::EngineeringManager };
    eventually(|| notifier.kinds_to(&on_call) == ["page"]).await;
    assert_eq!(notifier.kinds_to(&on_call), ["page"]);
    clock.advance(TimeDelta::minutes(29));
    tokio::time::sleep(Duration::from_millis(2500)).await; // at least two driver ticks
    assert!(!notifier.kinds_to(&manager).contains(&"escalation_page:2".to_owned()));

    // Past the response time: the engineering manager is paged, once, and it is on the timeline.
    clock.advance(TimeDelta::minutes(2));
    eventually(|| notifier.kinds_to(&manager).contains(&"escalation_page:2".to_owned())).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(notifier.kinds_to(&manager).iter().filter(|k| *k == "escalation_page:2").count(), 1);
    let timeline = store.timeline(&id).await.expect("timeline");
    let recorded = timeline.events().iter().any(|e| {
        matches!(&e.kind, EventKind::MessageSent { channel, kind, outcome: Outcome::Succeeded, .. }
            if channel == "page:Engineering manager" && kind == "escalation_page:2")
    });
    assert!(recorded, "{:#?}", timeline.events().iter().map(|e| e.kind.describe()).collect::<Vec<_>>());
    r.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_escalation_driver_needs_a_notifier() {
    let config = ReceiverConfig::new(Arc::new(MemoryStore::new()))
        .escalation(EscalationOptions::default(), Duration::from_secs(1));
    let err = Receiver::start(config).await.expect_err("no notifier");
    assert!(err.message().contains("escalation driver needs a notifier"), "{err}");
}
