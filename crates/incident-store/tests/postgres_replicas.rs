//! What receiver replicas on one PostgreSQL store coordinate through, against a real PostgreSQL: one
//! open incident per alert group (a unique index, raced by two handles at once), the drivers' lease
//! (expiry, fencing token, one winner among racing takers) and fenced notification keys.
#![cfg(feature = "postgres")]
#![allow(clippy::disallowed_methods)] // the test races two writers in spawned tasks

mod common;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use incident_core::incident::{DeclareRequest, Incident};
use incident_core::store::{LeaseFence, Store, StoreWrite};
use incident_core::timeline::{EventKind, Timeline};
use incident_core::{ErrorKind, Policy, Severity, Status};
use incident_datastores::ConnectionString;
use incident_store::{PgStore, PgStoreOptions};

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(1_795_701_600_000_000_000)
}

/// An incident declared from alerts of `group` (its timeline holds an `alerts_received` event).
fn declared(id: &str, group: &str) -> (Incident, Timeline) {
    let req = DeclareRequest {
        id: id.to_owned(),
        title: "API 5xx above 5%".to_owned(),
        severity: Severity::P1,
        components: vec!["api".to_owned()],
        impact: "checkout failing".to_owned(),
        customer_facing: true,
        customers_affected: true,
        on_call: "alice".to_owned(),
        commander: None,
        started_at: None,
        detected_at: None,
        detection_source: Some("alertmanager".to_owned()),
    };
    let (incident, mut timeline) = Incident::declare(req, &Policy::default(), t0()).expect("declare");
    let kind =
        EventKind::AlertsReceived { source: "alertmanager".into(), group_key: group.to_owned(), alerts: Vec::new() };
    timeline.append(t0(), "incident-serve", kind).expect("append");
    (incident, timeline)
}

fn declaration(incident: &Incident, timeline: &Timeline) -> Vec<StoreWrite> {
    vec![
        StoreWrite::SaveIncident(incident.clone()),
        StoreWrite::AppendEvents { incident_id: incident.id.clone(), events: timeline.events().to_vec() },
    ]
}

async fn fresh(url: &ConnectionString, name: &str) -> (PgStore, PgStore, String) {
    let schema = format!("{name}_{}", std::process::id());
    let c = common::connect(url).await;
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.expect("drop");
    let a = PgStore::connect_with(url, PgStoreOptions::with_schema(&schema)).await.expect("connect a");
    let b = PgStore::connect_with(url, PgStoreOptions::with_schema(&schema)).await.expect("connect b");
    (a, b, schema)
}

async fn drop_schema(url: &ConnectionString, schema: &str) {
    let c = common::connect(url).await;
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_declaring_one_group_at_once_yield_one_incident() {
    let Some(url) = common::pg_admin_url() else { return };
    let (a, b, schema) = fresh(&url, "replicas_groups").await;
    let (a, b) = (Arc::new(a), Arc::new(b));
    for round in 0..20 {
        let group = format!("alertmanager:{{}}:{{alertname=\"R{round}\"}}");
        let (ia, ta) = declared(&format!("INC-A-{round}"), &group);
        let (ib, tb) = declared(&format!("INC-B-{round}"), &group);
        let (wa, wb) = (declaration(&ia, &ta), declaration(&ib, &tb));
        let (sa, sb) = (Arc::clone(&a), Arc::clone(&b));
        let ra = tokio::spawn(async move { sa.write_batch(&wa).await });
        let rb = tokio::spawn(async move { sb.write_batch(&wb).await });
        let (ra, rb) = (ra.await.expect("join"), rb.await.expect("join"));
        let (winner, loser) = match (&ra, &rb) {
            (Ok(()), Err(e)) => (&ia, e),
            (Err(e), Ok(())) => (&ib, e),
            other => panic!("round {round}: exactly one declaration must win: {other:?}"),
        };
        assert_eq!(loser.kind(), ErrorKind::Conflict, "{loser}");
        assert!(loser.message().contains(&format!("alert group {group} already has an open incident")), "{loser}");
        let owners: Vec<_> =
            a.open_groups().await.expect("open groups").into_iter().filter(|(k, _)| *k == group).collect();
        assert_eq!(owners, [(group.clone(), winner.id.clone())], "round {round}");
        // The losing declaration wrote nothing: not its incident, not its events.
        let lost = if winner.id == ia.id { &ib.id } else { &ia.id };
        assert!(b.incident(lost).await.expect("read").is_none(), "round {round}: {lost} half written");
    }
    assert_eq!(a.incidents().await.expect("incidents").len(), 20);

    // Resolving the owner frees the group: the next declaration of it is accepted.
    let group = "alertmanager:{}:{alertname=\"R0\"}";
    let (owner, _) = a
        .open_groups()
        .await
        .expect("groups")
        .into_iter()
        .find(|(k, _)| k == group)
        .map(|(_, id)| (id, ()))
        .expect("owner");
    let mut resolved = a.incident(&owner).await.expect("read").expect("stored");
    resolved.status = Status::Resolved;
    a.save_incident(&resolved).await.expect("resolve");
    assert!(b.open_groups().await.expect("groups").iter().all(|(k, _)| k != group));
    let (again, tl) = declared("INC-AGAIN", group);
    b.write_batch(&declaration(&again, &tl)).await.expect("a resolved group may be declared again");
    // Re-opening the resolved one while the group has another open incident breaks the constraint.
    resolved.status = Status::Investigating;
    let err = a.save_incident(&resolved).await.expect_err("two open incidents of one group");
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    // An incident declared without alerts has no group and is never constrained.
    let (plain, plain_tl) = declared("INC-PLAIN", "unused");
    let plain_events: Vec<_> =
        plain_tl.events().iter().filter(|e| e.kind.type_name() != "alerts_received").cloned().collect();
    a.write_batch(&[
        StoreWrite::SaveIncident(plain.clone()),
        StoreWrite::AppendEvents { incident_id: plain.id.clone(), events: plain_events },
    ])
    .await
    .expect("plain incident");
    drop_schema(&url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_moves_only_after_expiry_and_fences_notification_keys() {
    let Some(url) = common::pg_admin_url() else { return };
    let (a, b, schema) = fresh(&url, "replicas_lease").await;
    let at = |s: i64| t0() + TimeDelta::seconds(s);
    let lease = "drivers";
    assert_eq!(a.acquire_lease(lease, "a", at(0), at(10)).await.expect("take"), Some(1));
    assert_eq!(b.acquire_lease(lease, "b", at(1), at(11)).await.expect("refused"), None, "held by a until 10");
    assert_eq!(a.acquire_lease(lease, "a", at(3), at(13)).await.expect("renew"), Some(1), "renewal keeps the token");
    assert_eq!(b.acquire_lease(lease, "b", at(12), at(22)).await.expect("refused"), None, "renewed until 13");
    assert_eq!(b.acquire_lease(lease, "b", at(13), at(23)).await.expect("take over"), Some(2), "expired at 13");
    assert_eq!(a.acquire_lease(lease, "a", at(14), at(24)).await.expect("lost"), None);

    let fence_a = LeaseFence { name: lease.into(), holder: "a".into(), token: 1 };
    let fence_b = LeaseFence { name: lease.into(), holder: "b".into(), token: 2 };
    let err = a
        .record_notification_key("INC-1/escalation_page:1/page:Incident commander/1", at(14), Some(&fence_a))
        .await
        .expect_err("fenced");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    assert!(err.message().contains("no longer holds lease drivers with token 1"), "{err}");
    let key = "INC-1/escalation_page:1/page:Incident commander/1";
    assert!(b.record_notification_key(key, at(14), Some(&fence_b)).await.expect("record"));
    assert!(!b.record_notification_key(key, at(15), Some(&fence_b)).await.expect("again"), "recorded once");
    assert!(!a.record_notification_key(key, at(15), None).await.expect("unfenced"), "a key is a key, fenced or not");

    // Released: taken at once, with a greater token.
    b.release_lease(lease, "b").await.expect("release");
    a.release_lease(lease, "b-not-me").await.expect("release by a non-holder does nothing");
    assert_eq!(a.acquire_lease(lease, "a", at(15), at(25)).await.expect("take"), Some(3));
    let err = a.acquire_lease(lease, "a", at(15), at(15)).await.expect_err("empty lease");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);

    // Racing takers after expiry: exactly one wins.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..8 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        set.spawn(async move { s.acquire_lease("drivers", &format!("r{i}"), at(30), at(40)).await });
    }
    let mut won = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Some(token) = r.expect("join").expect("acquire") {
            won.push(token);
        }
    }
    assert_eq!(won, [4], "one winner, token 4");
    drop_schema(&url, &schema).await;
}

/// Two replicas' writers each commit one batch touching the same two incidents, listed in opposite
/// orders (each writer batches groups in the order their alerts arrived). The store locks incidents in
/// one order whatever the batch's, so one batch waits for the other and then finds the head it built on
/// moved (`Conflict`, decided again by the writer) — never a deadlock, which PostgreSQL only breaks after
/// `deadlock_timeout` (1 s) and reports as a failure the writer cannot re-decide.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_touching_the_same_incidents_in_opposite_orders_never_deadlock() {
    let Some(url) = common::pg_admin_url() else { return };
    let (a, b, schema) = fresh(&url, "replicas_lock_order").await;
    let (a, b) = (Arc::new(a), Arc::new(b));
    let (ix, tx) = declared("INC-X", "alertmanager:{}:{alertname=\"X\"}");
    let (iy, ty) = declared("INC-Y", "alertmanager:{}:{alertname=\"Y\"}");
    a.write_batch(&[declaration(&ix, &tx), declaration(&iy, &ty)].concat()).await.expect("declare both");
    let note = |tl: &mut Timeline, who: &str, round: usize| {
        let kind = EventKind::Note { text: format!("{who} round {round}") };
        vec![tl.append(t0() + TimeDelta::seconds(1), "incident-serve", kind).expect("append").clone()]
    };
    for round in 0..40 {
        let (mut xa, mut ya) = (a.timeline("INC-X").await.expect("x"), a.timeline("INC-Y").await.expect("y"));
        let (mut xb, mut yb) = (xa.clone(), ya.clone());
        let wa = vec![
            StoreWrite::AppendEvents { incident_id: "INC-X".into(), events: note(&mut xa, "a", round) },
            StoreWrite::AppendEvents { incident_id: "INC-Y".into(), events: note(&mut ya, "a", round) },
        ];
        let wb = vec![
            StoreWrite::AppendEvents { incident_id: "INC-Y".into(), events: note(&mut yb, "b", round) },
            StoreWrite::AppendEvents { incident_id: "INC-X".into(), events: note(&mut xb, "b", round) },
        ];
        let (sa, sb) = (Arc::clone(&a), Arc::clone(&b));
        let ra = tokio::spawn(async move { sa.write_batch(&wa).await });
        let rb = tokio::spawn(async move { sb.write_batch(&wb).await });
        let (ra, rb) = (ra.await.expect("join"), rb.await.expect("join"));
        match (&ra, &rb) {
            (Ok(()), Err(e)) | (Err(e), Ok(())) => assert_eq!(e.kind(), ErrorKind::Conflict, "round {round}: {e}"),
            other => panic!("round {round}: exactly one batch must commit, the other conflict: {other:?}"),
        }
    }
    // Every round appended one note to each incident, all from the same winner of that round.
    assert_eq!(a.timeline("INC-X").await.expect("x").len(), tx.len() + 40);
    assert_eq!(a.timeline("INC-Y").await.expect("y").len(), ty.len() + 40);
    drop_schema(&url, &schema).await;
}
