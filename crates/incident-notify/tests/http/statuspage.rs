use std::time::Duration;

use incident_core::ErrorKind;
use incident_core::backend::{Delivery, Notifier};
use incident_core::delivery::deliver_and_record;
use incident_core::timeline::Outcome;
use incident_notify::{IncidentContext, StatuspageNotifier};
use serde_json::json;

use super::*;

fn statuspage(p: &Providers, clock: Arc<ManualClock>) -> StatuspageNotifier {
    let c = config(p);
    StatuspageNotifier::new(c.statuspage.as_ref().expect("statuspage"), retry(&c), clock).expect("notifier")
}

const REF: &str = "statuspage:kctbh9vrtdwd/incidents/p31zjtct2jer";

#[tokio::test]
async fn creates_once_then_updates_with_the_status() {
    let p = Providers::start().await;
    let n = statuspage(&p, clock());
    let d = n
        .notify(&note(
            Destination::StatusPage,
            "status_page_initial",
            "We are investigating reports of issues with api.",
        ))
        .await
        .expect("created");
    assert_eq!(d, Delivery::Delivered { reference: Some(REF.into()) });
    let update = "Time: 2026-11-26 14:20 UTC\nStatus: identified\nImpact: errors\nNext Update: none scheduled\n\nDetails:\n(none)";
    n.notify(&note(Destination::StatusPage, "status_update", update)).await.expect("updated");
    n.notify(&note(Destination::StatusPage, "resolved", "Status: RESOLVED\n...")).await.expect("resolved");
    p.assert_well_formed();
    let seen = p.seen();
    assert_eq!(p.ops(), ["create", "update", "update"]);
    assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("POST", "/v1/pages/kctbh9vrtdwd/incidents"));
    assert_eq!(seen[0].header("authorization"), format!("OAuth {SP_KEY}"));
    assert_eq!(
        seen[0].json(),
        json!({"incident": {"name": "Incident INC-2026-0042", "status": "investigating",
                            "body": "We are investigating reports of issues with api.", "deliver_notifications": true}})
    );
    assert_eq!(
        (seen[1].method.as_str(), seen[1].path.as_str()),
        ("PATCH", "/v1/pages/kctbh9vrtdwd/incidents/p31zjtct2jer")
    );
    assert_eq!(seen[1].json()["incident"]["status"], "identified");
    assert_eq!(seen[1].json()["incident"]["body"], update);
    assert_eq!(seen[2].json()["incident"]["status"], "resolved");
}

#[tokio::test]
async fn the_incident_mapping_survives_a_restart() {
    let p = Providers::start().await;
    let (store, inc) = store_with(Severity::P1).await;
    let ctx = IncidentContext::new(store.clone());
    let first = statuspage(&p, clock()).with_context(ctx.clone());
    let n = note(Destination::StatusPage, "status_page_update", "We are investigating.");
    let rec = deliver_and_record(&*store, &first, &*clock(), "bot", n).await.expect("recorded");
    assert_eq!((rec.outcome, rec.detail.as_str()), (Outcome::Succeeded, REF));
    assert_eq!(p.seen()[0].json()["incident"]["name"], inc.title, "the title from the store");
    assert_eq!(p.seen()[0].json()["incident"]["impact_override"], "major", "P1");

    let restarted = statuspage(&p, clock()).with_context(ctx);
    restarted
        .notify(&note(Destination::StatusPage, "status_page_update", "Still investigating."))
        .await
        .expect("updated");
    assert_eq!(p.ops(), ["create", "update"], "found on the timeline: no second public incident");

    // Seeding by hand works without a store too.
    let fresh = statuspage(&p, clock());
    fresh.remember("INC-2026-0042", "abc123");
    fresh.notify(&note(Destination::StatusPage, "status_page_update", "x")).await.expect("updated");
    assert_eq!(p.seen()[2].path, "/v1/pages/kctbh9vrtdwd/incidents/abc123");
    p.assert_well_formed();
}

#[tokio::test]
async fn rate_limits_420_and_429_are_retried() {
    let p = Providers::start().await;
    p.script("create", Answer::status(420, json!({"error": "Rate limit exceeded"})).retry_after("5"));
    p.script("create", Answer::status(429, json!({"error": "Rate limit exceeded"})));
    let clock = clock();
    statuspage(&p, clock.clone()).notify(&note(Destination::StatusPage, "x", "y")).await.expect("created");
    assert_eq!((p.seen().len(), slept(&clock)), (3, 5 + 2));
}

#[tokio::test]
async fn unauthorized_is_permission_denied() {
    let p = Providers::start().await;
    p.script("create", Answer::status(401, json!({"error": "Could not authenticate"})));
    let err = statuspage(&p, clock()).notify(&note(Destination::StatusPage, "x", "y")).await.expect_err("401");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert_eq!(err.to_string(), "statuspage create incident: HTTP 401 Unauthorized: Could not authenticate");
    assert!(!err.request_may_have_been_sent());
}

#[tokio::test]
async fn a_create_that_times_out_is_not_repeated_but_an_update_is() {
    let p = Providers::start().await;
    p.script("create", Answer::status(201, json!({"id": "late"})).delayed(Duration::from_secs(3)));
    let mut c = config(&p);
    c.retry.request_timeout = incident_core::HumanDuration::from_secs(1);
    let n = StatuspageNotifier::new(c.statuspage.as_ref().expect("sp"), &c.retry, clock()).expect("notifier");
    let err = n.notify(&note(Destination::StatusPage, "x", "y")).await.expect_err("timeout");
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.request_may_have_been_sent(), "the public incident may exist: reconcile, don't duplicate");
    assert_eq!(p.ops(), ["create"]);

    n.remember("INC-2026-0042", "p31zjtct2jer");
    p.script("update", Answer::status(200, json!({})).delayed(Duration::from_secs(3)));
    n.notify(&note(Destination::StatusPage, "x", "Status: monitoring")).await.expect("second PATCH succeeds");
    assert_eq!(p.ops(), ["create", "update", "update"], "PATCH is idempotent: retried");
    assert_eq!(p.seen()[2].json()["incident"]["status"], "monitoring");
}

#[tokio::test]
async fn connection_refused_is_retried_then_unavailable() {
    // A port nothing listens on: bind, learn the port, close.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let p = Providers::start().await;
    let mut c = config(&p);
    let sp = c.statuspage.as_mut().expect("sp");
    sp.base_url = format!("http://{addr}");
    let clock = clock();
    let n = StatuspageNotifier::new(sp, &c.retry, clock.clone()).expect("notifier");
    let err = n.notify(&note(Destination::StatusPage, "x", "y")).await.expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(err.to_string(), "statuspage create incident: cannot connect to 127.0.0.1 (gave up after 4 attempts)");
    assert!(!err.request_may_have_been_sent());
    assert_eq!(slept(&clock), 1 + 2 + 4);
}
