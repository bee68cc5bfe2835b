//! The drill runs on the same declaration path as a real incident: for the same alert at the same time,
//! `incident drill` and `incident serve` record the same first timeline events (same seq, time, actor,
//! kind and hash) and send the same declaration notifications.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use incident_core::backend::{Delivery, Notification, Notifier};
use incident_core::clock::ManualClock;
use incident_core::drill_run::{self as drill, AutoApprove, DrillOptions, Silent};
use incident_core::ingest::{group, parse_alertmanager};
use incident_core::sim::{IncidentSpec, Scenario, SimPlatform};
use incident_core::store::{MemoryStore, Store};
use incident_core::timeline::{Event, EventKind};
use incident_core::{Policy, Result};
use incident_receiver::{Auth, Receiver, ReceiverConfig};
use tower::ServiceExt as _;

/// Delivers everything and remembers what.
#[derive(Default)]
struct Delivering(Mutex<Vec<Notification>>);

#[async_trait::async_trait]
impl Notifier for Delivering {
    async fn notify(&self, n: &Notification) -> Result<Delivery> {
        self.0.lock().expect("lock").push(n.clone());
        Ok(Delivery::Delivered { reference: None })
    }
}

/// `(channel, kind, outcome)` of the timeline's `message_sent` events, in order.
fn messages(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::MessageSent { channel, kind, outcome, .. } => Some(format!("{kind} → {channel}: {outcome}")),
            _ => None,
        })
        .collect()
}

#[test]
fn a_drill_and_the_receiver_declare_the_same_incident_for_the_same_alert() {
    // bad-deploy as a real incident would see it: only its Alertmanager alert, no detector signals, and
    // nothing the scenario says about the incident beyond what the alert says.
    let mut scenario = Scenario::builtin("bad-deploy").expect("scenario");
    scenario.signals.generators.clear();
    scenario.signals.observations.clear();
    scenario.incident = IncidentSpec::default();
    let payload = scenario.signals.alertmanager_json().expect("json").expect("an alertmanager signal");
    let policy = Policy::default();
    let g = parse_alertmanager(payload.as_bytes(), &policy).expect("parse").groups().remove(0);
    let arrives = g.alerts.iter().filter_map(|a| a.starts_at).min().expect("startsAt");
    let id = group::group_incident_id(&g, arrives);

    // The drill, on the simulator (its clock reaches the alert's startsAt, when it arrives).
    let platform = SimPlatform::from_scenario(&scenario).expect("platform");
    let drill_store = Arc::new(MemoryStore::new());
    let opts = DrillOptions { incident_id: Some(id.clone()), ..DrillOptions::default() };
    let report = incident_core::sim::runtime()
        .expect("runtime")
        .block_on(drill::run_drill(
            &platform,
            Arc::clone(&drill_store) as Arc<dyn Store>,
            &policy,
            &scenario,
            &opts,
            &AutoApprove { by: "drill-test".into() },
            &Silent,
        ))
        .expect("drill");
    assert!(report.passed, "{:?}", report.failures);
    assert_eq!(report.incident.declared_at, arrives);

    // The receiver, at the same time, with the same payload and the same on-call engineer.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (received, served_incident) = rt.block_on(async {
        let store = Arc::new(MemoryStore::new());
        let notifier = Arc::new(Delivering::default());
        let config = ReceiverConfig::new(store.clone())
            .auth(Auth::none())
            .clock(Arc::new(ManualClock::new(arrives)))
            .notifier(notifier.clone());
        let r = Receiver::start(config).await.expect("start");
        let req = Request::builder()
            .method("POST")
            .uri("/webhook/alertmanager")
            .body(Body::from(payload.clone()))
            .expect("request");
        let resp = r.router().oneshot(req).await.expect("infallible");
        assert_eq!(resp.status(), StatusCode::OK);
        // Declaration notifications are sent and recorded in the background.
        let expected = report.incident.declaration_notifications(&policy).len();
        for _ in 0..500 {
            let tl = store.timeline(&id).await.expect("the receiver declared the same id");
            if messages(tl.events()).len() >= expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let tl = store.timeline(&id).await.expect("timeline");
        (tl.events().to_vec(), store.incident(&id).await.expect("load").expect("incident"))
    });

    // The declaration: detected, declared, commander_assigned, alerts_received: identical, hashes too.
    let declared = &report.timeline.events()[..4];
    let kinds: Vec<&str> = declared.iter().map(|e| e.kind.type_name()).collect();
    assert_eq!(kinds, ["detected", "declared", "commander_assigned", "alerts_received"]);
    assert_eq!(&received[..4], declared);
    // The same incident as declared (the drill's went on to be resolved).
    assert_eq!(served_incident.severity, report.incident.severity);
    assert_eq!(served_incident.title, report.incident.title);
    assert_eq!(served_incident.impact, report.incident.impact);
    assert_eq!(served_incident.components, report.incident.components);
    assert_eq!(
        (served_incident.started_at, served_incident.detected_at),
        (report.incident.started_at, report.incident.detected_at)
    );
    // The same declaration notifications (channel intro, ticket, a page per stakeholder), delivered.
    let n = messages(&received[4..]).len();
    assert!(n >= 3, "{:?}", messages(&received));
    assert_eq!(messages(&received[4..]), messages(&report.timeline.events()[4..])[..n]);
}
