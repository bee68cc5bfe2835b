//! Working an incident (`incident_core::lifecycle`) while the receiver keeps recording alerts of its
//! group into the same timeline, on SQLite and on PostgreSQL: no alert and no operation is lost or
//! recorded twice, the chain verifies, and the incident record holds every operation's effect.
#![allow(clippy::disallowed_methods)] // the test spawns its alert posters

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use incident_core::backend::{Delivery, Notification, Notifier};
use incident_core::clock::SystemClock;
use incident_core::lifecycle::{ChangeOutcome, Incidents, ResolveRequest};
use incident_core::store::Store;
use incident_core::timeline::{EventKind, ResponseRole, Timeline};
use incident_core::{Policy, Severity, Status};
use incident_receiver::{Auth, Receiver, ReceiverConfig, Secret};
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// Delivers everything (the receiver records each declaration notification: more concurrent writers).
struct Deliver;

#[async_trait::async_trait]
impl Notifier for Deliver {
    async fn notify(&self, _: &Notification) -> incident_core::Result<Delivery> {
        Ok(Delivery::Delivered { reference: None })
    }
}

/// Each poster's pause between alerts (and before sending a refused one again): none. Two posters
/// back to back change the group's timeline every few milliseconds, far beyond Alertmanager's
/// group_interval; the SQLite and PostgreSQL stores decide each operation under their write lock
/// (`Store::update_incident`), so operations still land, and the receiver's commits that lose to them
/// are decided again (or answered 503 and sent again).
const PACE: std::time::Duration = std::time::Duration::ZERO;

const GROUP: &str = r#"{}:{alertname="HighErrorRate"}"#;

/// One new firing alert of the group per request.
fn alert(fingerprint: &str) -> String {
    json!({
        "version": "4", "groupKey": GROUP, "status": "firing", "receiver": "incident",
        "alerts": [{
            "status": "firing", "fingerprint": fingerprint,
            "startsAt": "2024-05-03T14:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "labels": {"alertname": "HighErrorRate", "service": "api", "severity": "critical"},
            "annotations": {"value": "0.12", "summary": "errors"}
        }]
    })
    .to_string()
}

async fn post(r: &Receiver, body: String) -> (StatusCode, Value) {
    let req = Request::builder()
        .method("POST")
        .uri("/webhook/alertmanager")
        .header("authorization", "Bearer t0ken")
        .body(Body::from(body))
        .expect("request");
    let resp = r.router().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Every alert id recorded in `tl`, in order.
fn alert_ids(tl: &Timeline) -> Vec<String> {
    tl.events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::AlertsReceived { alerts, .. } => Some(alerts.iter().map(|a| a.id.clone()).collect::<Vec<_>>()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn count(tl: &Timeline, type_name: &str, actor: &str) -> usize {
    tl.events().iter().filter(|e| e.kind.type_name() == type_name && e.actor == actor).count()
}

/// Declare through the receiver, then run the lifecycle while two posters keep sending new alerts of
/// the group; resolve while they still post (later alerts declare a new incident, as the receiver does
/// for a resolved group).
async fn work_while_alerts_arrive(store: Arc<dyn Store>) {
    let config = ReceiverConfig::new(Arc::clone(&store))
        .auth(Auth::bearer(Secret::new("t0ken").expect("secret")))
        .notifier(Arc::new(Deliver));
    let receiver = Arc::new(Receiver::start(config).await.expect("start"));
    let (status, first) = post(&receiver, alert("first")).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["groups"][0]["outcome"], "declared", "{first}");
    let id = first["groups"][0]["incident"].as_str().expect("incident id").to_owned();

    let stop = Arc::new(AtomicBool::new(false));
    let mut posters = Vec::new();
    for p in 0..2 {
        let (receiver, stop) = (Arc::clone(&receiver), Arc::clone(&stop));
        posters.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            let mut n = 0;
            let mut refused = 0u32;
            // At least 40 each, and on until the lifecycle is done.
            while n < 40 || !stop.load(Ordering::SeqCst) {
                let fp = format!("p{p}-{n}");
                // As Alertmanager: a 503 (the receiver's commit lost to a lifecycle write 4 times in a row,
                // nothing written) is sent again.
                let (status, body) = loop {
                    let (status, body) = post(&receiver, alert(&fp)).await;
                    if status != StatusCode::SERVICE_UNAVAILABLE {
                        break (status, body);
                    }
                    refused += 1;
                    tokio::time::sleep(PACE).await;
                };
                assert_eq!(status, StatusCode::OK, "{body}");
                let outcome = body["groups"][0]["outcome"].as_str().unwrap_or_default().to_owned();
                let incident = body["groups"][0]["incident"].as_str().unwrap_or_default().to_owned();
                sent.push((fp, outcome, incident));
                n += 1;
                tokio::time::sleep(PACE).await;
            }
            (sent, refused)
        }));
    }

    let incidents = Incidents::new(Arc::clone(&store), Arc::new(SystemClock), Policy::default());
    let mut changes = Vec::new();
    changes.push(incidents.ack(&id, "alice").await.expect("ack"));
    changes.push(incidents.assign(&id, ResponseRole::Commander, "bob", "alice").await.expect("commander"));
    changes.push(incidents.assign(&id, ResponseRole::Communications, "carol", "bob").await.expect("comms"));
    changes.push(incidents.assign(&id, ResponseRole::Scribe, "dave", "bob").await.expect("scribe"));
    changes.push(incidents.change_severity(&id, Severity::P0, "all regions", "bob").await.expect("severity"));
    changes.push(incidents.set_status(&id, Status::Identified, "bad deploy", "bob").await.expect("identified"));
    for i in 0..5 {
        changes.push(incidents.note(&id, &format!("note {i}"), "dave").await.expect("note"));
    }
    changes.push(incidents.set_status(&id, Status::Monitoring, "rolled back", "bob").await.expect("monitoring"));
    changes.push(incidents.mitigated(&id, "bob").await.expect("mitigated"));
    changes.push(incidents.resolve(&id, &ResolveRequest::new("bad deploy v2.3"), "bob").await.expect("resolve"));
    stop.store(true, Ordering::SeqCst);
    let mut sent = Vec::new();
    let mut refused = 0;
    for p in posters {
        let (s, r) = p.await.expect("poster");
        sent.extend(s);
        refused += r;
    }
    let conflicts: u32 = changes.iter().map(|c| c.attempts - 1).sum();
    eprintln!(
        "{} alerts posted beside {} operations; {conflicts} re-decisions after a conflict; {refused} posts answered 503 \
         and sent again",
        sent.len(),
        changes.len()
    );
    assert!(changes.iter().all(|c| c.outcome == ChangeOutcome::Applied), "{changes:#?}");

    // The incident: every operation's effect, once.
    let tl = store.timeline(&id).await.expect("timeline");
    tl.verify().expect("chain");
    let inc = store.incident(&id).await.expect("read").expect("stored");
    assert_eq!(inc.status, Status::Resolved);
    assert_eq!(inc.severity, Severity::P0);
    assert_eq!(inc.commander, "bob");
    assert!(inc.acknowledged_at.is_some() && inc.mitigated_at.is_some());
    assert_eq!(inc.root_cause.as_deref(), Some("bad deploy v2.3"));
    assert_eq!(inc.resolution.as_deref(), Some("rolled back"));
    for (kind, actor, n) in [
        ("acknowledged", "alice", 1),
        ("commander_assigned", "alice", 1),
        ("role_assigned", "bob", 2),
        ("severity_changed", "bob", 1),
        ("status_changed", "bob", 3),
        ("note", "dave", 5),
        ("mitigated", "bob", 1),
        ("resolved", "bob", 1),
    ] {
        assert_eq!(count(&tl, kind, actor), n, "{kind} by {actor}");
    }
    // Bob's resolve sends the final message to the channel and status page, then resolves the page of
    // every role paged by the time it reads the timeline, then sends the post-incident ticket and
    // invite. The declaration's pages go out in the background, so how many were delivered by then
    // varies: at least those before bob's status-page message, at most those before his ticket.
    let by_bob = |pages: bool| {
        tl.events()
            .iter()
            .filter(|e| e.actor == "bob")
            .filter(
                |e| matches!(&e.kind, EventKind::MessageSent { channel, .. } if channel.starts_with("page:") == pages),
            )
            .collect::<Vec<_>>()
    };
    let others = by_bob(false);
    assert_eq!(others.len(), 4, "bob's messages");
    let paged_before = |seq: u64| {
        let prefix = tl.events().iter().filter(|e| e.seq < seq).cloned().collect();
        incident_core::escalation::paged_roles(&Timeline::from_events(tl.incident_id(), prefix).expect("a prefix"))
            .len()
    };
    let (lower, upper) = (paged_before(others[1].seq), paged_before(others[2].seq));
    let resolved_pages = by_bob(true).len();
    assert!(lower <= resolved_pages && resolved_pages <= upper, "{lower} <= {resolved_pages} <= {upper}");
    // Each operation's events are on the timeline exactly as returned.
    for c in &changes {
        for ev in &c.events {
            assert_eq!(tl.events().get(usize::try_from(ev.seq - 1).expect("seq")), Some(ev), "{ev:?}");
        }
    }

    // The alerts: each posted alert recorded exactly once, in the incident its answer named.
    let mut recorded: Vec<String> = alert_ids(&tl);
    for other in store.incidents().await.expect("incidents").iter().filter(|i| i.id != id) {
        recorded.extend(alert_ids(&store.timeline(&other.id).await.expect("timeline")));
    }
    let mut want: Vec<String> = sent.iter().map(|(fp, ..)| fp.clone()).collect();
    want.push("first".into());
    recorded.sort();
    want.sort();
    assert_eq!(recorded, want, "every posted alert recorded exactly once");
    let in_first = alert_ids(&tl).len();
    let answered_first = sent.iter().filter(|(_, o, i)| o == "updated" && *i == id).count() + 1;
    assert_eq!(in_first, answered_first, "alerts answered as updates of {id} are on its timeline");
    assert!(sent.iter().all(|(_, o, _)| o == "updated" || o == "declared"), "{sent:?}");

    Arc::into_inner(receiver).expect("posters done").shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_lifecycle_beside_the_receiver() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = incident_store::SqliteStore::open(dir.path().join("incident.sqlite")).expect("open");
    work_while_alerts_arrive(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_lifecycle_beside_the_receiver() {
    let url = match std::env::var("INCIDENT_TEST_PG_URL") {
        Ok(v) if !v.is_empty() => incident_datastores::ConnectionString::parse(&v).expect("INCIDENT_TEST_PG_URL"),
        _ if std::env::var("INCIDENT_SKIP_SERVICES").is_ok_and(|v| v == "1") => return,
        _ => panic!("INCIDENT_TEST_PG_URL is not set: scripts/services start, then source its env file"),
    };
    let schema = format!("receiver_lifecycle_{}", std::process::id());
    let store = incident_store::PgStore::connect_with(&url, incident_store::PgStoreOptions::with_schema(&schema))
        .await
        .expect("connect");
    work_while_alerts_arrive(Arc::new(store)).await;
    let (client, conn) = url.config().connect(tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(conn);
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.expect("drop schema");
}
