//! Two receivers on one PostgreSQL schema, as two replicas behind a load balancer: every alert group is
//! posted to both at once (new alerts on each), and every group ends with exactly one incident holding
//! every acknowledged alert. The store's unique index decides the declaration race; the loser is
//! decided again and appended to the winner, never lost.
#![allow(clippy::disallowed_methods)] // the test spawns its posters

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use incident_core::store::Store;
use incident_core::timeline::EventKind;
use incident_receiver::{Receiver, ReceiverConfig};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const GROUPS: usize = 12;
const ROUNDS: usize = 4;

fn alert(group: usize, fingerprint: &str) -> String {
    json!({
        "version": "4", "groupKey": format!("{{}}:{{alertname=\"Rep{group}\"}}"), "status": "firing",
        "receiver": "incident",
        "alerts": [{
            "status": "firing", "fingerprint": fingerprint,
            "startsAt": "2024-05-03T14:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "labels": {"alertname": format!("Rep{group}"), "service": "api", "severity": "critical"},
            "annotations": {"value": "0.12", "summary": "errors"}
        }]
    })
    .to_string()
}

async fn post(r: &Receiver, body: String) -> (StatusCode, Value) {
    let req = Request::builder().method("POST").uri("/webhook/alertmanager").body(Body::from(body)).expect("request");
    let resp = r.router().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_racing_on_every_group_yield_one_incident_per_group() {
    let url = match std::env::var("INCIDENT_TEST_PG_URL") {
        Ok(v) if !v.is_empty() => incident_datastores::ConnectionString::parse(&v).expect("INCIDENT_TEST_PG_URL"),
        _ if std::env::var("INCIDENT_SKIP_SERVICES").is_ok_and(|v| v == "1") => return,
        _ => panic!("INCIDENT_TEST_PG_URL is not set: scripts/services start, then source its env file"),
    };
    let schema = format!("receiver_replicas_{}", std::process::id());
    let (client, conn) = url.config().connect(tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(conn);
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.expect("drop schema");
    let open = || async {
        let s = incident_store::PgStore::connect_with(&url, incident_store::PgStoreOptions::with_schema(&schema))
            .await
            .expect("connect");
        Arc::new(s) as Arc<dyn Store>
    };
    let (sa, sb) = (open().await, open().await);
    let a = Arc::new(Receiver::start(ReceiverConfig::new(Arc::clone(&sa))).await.expect("start a"));
    let b = Arc::new(Receiver::start(ReceiverConfig::new(sb)).await.expect("start b"));

    // Each round posts every group to both replicas at once, a new alert on each.
    let mut acknowledged: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    let mut retried = 0;
    for round in 0..ROUNDS {
        let mut set = tokio::task::JoinSet::new();
        for g in 0..GROUPS {
            for (name, r) in [("a", Arc::clone(&a)), ("b", Arc::clone(&b))] {
                let fp = format!("{name}-{g}-{round}");
                set.spawn(async move {
                    // As Alertmanager: a 503 is sent again.
                    let mut tries = 0;
                    loop {
                        let (status, body) = post(&r, alert(g, &fp)).await;
                        if status != StatusCode::SERVICE_UNAVAILABLE || tries == 5 {
                            return (g, fp, status, body, tries);
                        }
                        tries += 1;
                    }
                });
            }
        }
        while let Some(r) = set.join_next().await {
            let (g, fp, status, body, tries) = r.expect("join");
            assert_eq!(status, StatusCode::OK, "{body}");
            retried += tries;
            acknowledged.entry(g).or_default().insert(fp);
        }
    }
    eprintln!("replicas: {} alerts acknowledged, {retried} retried after 503", GROUPS * ROUNDS * 2);

    // One incident per group, holding every acknowledged alert.
    let incidents = sa.incidents().await.expect("incidents");
    assert_eq!(
        incidents.len(),
        GROUPS,
        "one incident per group: {:?}",
        incidents.iter().map(|i| &i.id).collect::<Vec<_>>()
    );
    let groups = sa.open_groups().await.expect("open groups");
    assert_eq!(groups.len(), GROUPS);
    for (key, id) in groups {
        let g: usize =
            key.split("Rep").nth(1).and_then(|s| s.trim_end_matches("\"}").parse().ok()).expect("group number");
        let tl = sa.timeline(&id).await.expect("timeline");
        let recorded: BTreeSet<String> = tl
            .events()
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::AlertsReceived { alerts, .. } => Some(alerts.iter().map(|a| a.id.clone())),
                _ => None,
            })
            .flatten()
            .collect();
        let expected = &acknowledged[&g];
        let missing: Vec<_> =
            expected.iter().filter(|fp| !recorded.iter().any(|id| id.contains(fp.as_str()))).collect();
        assert!(missing.is_empty(), "group {key}: acknowledged alerts missing from {id}: {missing:?}");
    }
    for r in [a, b] {
        Arc::into_inner(r).expect("posters done").shutdown().await.expect("shutdown");
    }
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.expect("drop schema");
}

/// A delivery that always succeeds (the drivers need a notifier).
struct Deliver;

#[async_trait::async_trait]
impl incident_core::backend::Notifier for Deliver {
    async fn notify(
        &self,
        _: &incident_core::backend::Notification,
    ) -> incident_core::Result<incident_core::backend::Delivery> {
        Ok(incident_core::backend::Delivery::Delivered { reference: None })
    }
}

async fn get(router: &axum::Router, path: &str) -> (StatusCode, Value) {
    let req = Request::builder().uri(path).body(Body::empty()).expect("request");
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// `/readyz`: ready with the store answering; on one process (memory store) the drivers' lease is held at
/// once (token 0); after shutdown it is not ready (the lease released) while `/healthz` says the writer
/// stopped.
#[tokio::test]
async fn readyz_reports_the_store_the_lease_and_shutdown() {
    let store: Arc<dyn Store> = Arc::new(incident_core::store::MemoryStore::new());
    let config = ReceiverConfig::new(store)
        .notifier(Arc::new(Deliver))
        .escalation(incident_core::escalation::EscalationOptions::default(), std::time::Duration::from_secs(1))
        .lease(incident_receiver::LeaseConfig {
            holder: "replica-a".into(),
            ttl: std::time::Duration::from_secs(3),
            margin: std::time::Duration::from_millis(600),
        });
    let receiver = Receiver::start(config).await.expect("start");
    let router = receiver.router();
    let mut waited = 0;
    while !receiver.holds_lease() && waited < 100 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        waited += 1;
    }
    let (status, body) = get(&router, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["lease"], json!({"drivers": true, "held": true, "holder": "replica-a", "token": 0}));
    receiver.shutdown().await.expect("shutdown");
    let (status, body) = get(&router, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["reasons"].to_string().contains("shutting down"), "{body}");
    assert_eq!(body["lease"]["held"], false, "{body}");

    // A lease whose margin leaves no time to renew is refused.
    let bad =
        ReceiverConfig::new(Arc::new(incident_core::store::MemoryStore::new())).lease(incident_receiver::LeaseConfig {
            holder: "x".into(),
            ttl: std::time::Duration::from_secs(3),
            margin: std::time::Duration::from_secs(2),
        });
    let err = Receiver::start(bad).await.expect_err("margin too large");
    assert_eq!(err.kind(), incident_core::ErrorKind::InvalidInput, "{err}");
}
