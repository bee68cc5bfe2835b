use incident_core::ErrorKind;
use incident_core::backend::{Delivery, Notifier};
use incident_core::delivery::deliver_and_record;
use incident_notify::{IncidentContext, SlackNotifier};
use serde_json::json;

use super::*;

fn slack(p: &Providers, clock: Arc<ManualClock>) -> SlackNotifier {
    let c = config(p);
    SlackNotifier::new(c.slack.as_ref().expect("slack"), retry(&c), clock).expect("notifier")
}

#[tokio::test]
async fn creates_invites_posts_pins_and_updates_the_ticket() {
    let p = Providers::start().await;
    let n = slack(&p, clock());
    let d = n
        .notify(&note(channel(), "channel_intro", "Incident INC-2026-0042: [P1] Inference API errors"))
        .await
        .expect("intro");
    assert!(
        matches!(&d, Delivery::Delivered { reference: Some(r) } if r.starts_with("slack:C0INCIDENT1/1700000000.")),
        "{d:?}"
    );
    n.notify(&note(channel(), "ticket", "Title: [P1] Inference API errors")).await.expect("ticket");
    let d = n.notify(&note(channel(), "ticket", "Title: [P0] Inference API errors")).await.expect("ticket again");
    n.notify(&note(channel(), "status_update", "Status: identified")).await.expect("update");
    p.assert_well_formed();
    assert_eq!(
        p.ops(),
        [
            "conversations.create",
            "conversations.invite",
            "chat.postMessage",
            "chat.postMessage",
            "pins.add",
            "chat.update",
            "chat.postMessage"
        ],
        "the channel is created once, the ticket pinned once and then updated in place"
    );
    let seen = p.seen();
    assert_eq!(seen[0].json(), json!({"name": "incident-2026-11-26-1405", "is_private": false}));
    assert_eq!(seen[1].json()["users"], "U0ALICE,U0BOB");
    assert_eq!(seen[1].json()["channel"], "C0INCIDENT1");
    assert_eq!(seen[2].json()["channel"], "C0INCIDENT1");
    assert_eq!(seen[2].json()["text"], "Incident INC-2026-0042: [P1] Inference API errors");
    assert_eq!(seen[0].header("content-type"), "application/json; charset=utf-8");
    let ticket_ts = seen[3].json().get("ts").cloned();
    assert_eq!(ticket_ts, None, "postMessage carries no ts");
    assert_eq!(seen[4].json()["channel"], "C0INCIDENT1");
    assert_eq!(seen[5].json()["ts"], seen[4].json()["timestamp"], "chat.update targets the pinned ticket");
    assert_eq!(seen[5].json()["text"], "Title: [P0] Inference API errors");
    let Delivery::Delivered { reference: Some(r) } = d else { panic!("delivered") };
    assert_eq!(r, format!("slack:C0INCIDENT1/{}", seen[4].json()["timestamp"].as_str().expect("ts")));
}

#[tokio::test]
async fn name_taken_reuses_the_existing_channel() {
    let p = Providers::start().await;
    p.script("conversations.create", Answer::status(200, json!({"ok": false, "error": "name_taken"})));
    p.add_channel("C0OTHER", "general", true);
    p.add_channel("C0EXISTING", "incident-2026-11-26-1405", false);
    let n = slack(&p, clock());
    n.notify(&note(channel(), "channel_intro", "hello")).await.expect("delivered");
    p.assert_well_formed();
    assert_eq!(
        p.ops(),
        [
            "conversations.create",
            "conversations.list",
            "conversations.join",
            "conversations.invite",
            "chat.postMessage"
        ]
    );
    let seen = p.seen();
    assert!(seen[1].query.contains("types=public_channel%2Cprivate_channel"), "{}", seen[1].query);
    assert_eq!(seen[2].json()["channel"], "C0EXISTING");
    assert_eq!(seen[4].json()["channel"], "C0EXISTING");
}

#[tokio::test]
async fn ok_false_maps_to_error_kinds_without_retrying() {
    let p = Providers::start().await;
    p.script("conversations.create", Answer::status(200, json!({"ok": false, "error": "invalid_auth"})));
    let clock = clock();
    let err = slack(&p, clock.clone()).notify(&note(channel(), "x", "y")).await.expect_err("denied");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert_eq!(err.to_string(), "slack conversations.create: invalid_auth");
    assert_eq!((p.seen().len(), slept(&clock)), (1, 0), "not retried");

    let p = Providers::start().await;
    p.script("chat.postMessage", Answer::status(200, json!({"ok": false, "error": "channel_not_found"})));
    let other = Destination::Channel { name: "#ml-platform".into() };
    let err = slack(&p, clock).notify(&note(other, "x", "y")).await.expect_err("not found");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(p.ops(), ["chat.postMessage"], "non-incident channels are posted to by name, never created");
    assert_eq!(p.seen()[0].json()["channel"], "ml-platform");
}

#[tokio::test]
async fn http_429_waits_for_retry_after() {
    let p = Providers::start().await;
    p.script("chat.postMessage", Answer::status(429, json!({"ok": false, "error": "ratelimited"})).retry_after("7"));
    p.script("chat.postMessage", Answer::status(200, json!({"ok": false, "error": "ratelimited"})).retry_after("3"));
    let clock = clock();
    let n = slack(&p, clock.clone());
    let other = Destination::Channel { name: "#ml-platform".into() };
    n.notify(&note(other, "x", "y")).await.expect("delivered after the waits");
    assert_eq!(p.ops(), ["chat.postMessage"; 3]);
    assert_eq!(slept(&clock), 7 + 3, "waited exactly what Retry-After asked");
}

#[tokio::test]
async fn retry_after_is_honoured_in_real_time() {
    let p = Providers::start().await;
    p.script("chat.postMessage", Answer::status(429, json!({"ok": false, "error": "ratelimited"})).retry_after("1"));
    let c = config(&p);
    let system = Arc::new(incident_core::clock::SystemClock);
    let n = SlackNotifier::new(c.slack.as_ref().expect("slack"), retry(&c), system).expect("notifier");
    #[allow(clippy::disallowed_methods)] // measuring real elapsed time is the point of this test
    let started = std::time::Instant::now();
    n.notify(&note(Destination::Channel { name: "#ml-platform".into() }, "x", "y")).await.expect("delivered");
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "{:?}", started.elapsed());
    assert_eq!(p.seen().len(), 2);
}

#[tokio::test]
async fn server_errors_back_off_then_give_up() {
    let p = Providers::start().await;
    p.script("chat.postMessage", Answer::status(503, json!({"ok": false, "error": "service_unavailable"})));
    p.script("chat.postMessage", Answer::status(502, json!({})));
    let clock = clock();
    let n = slack(&p, clock.clone());
    let ch = || Destination::Channel { name: "#ml-platform".into() };
    n.notify(&note(ch(), "x", "y")).await.expect("third attempt succeeds");
    assert_eq!((p.seen().len(), slept(&clock)), (3, 1 + 2), "backoff 1s then 2s");

    for _ in 0..4 {
        p.script("chat.postMessage", Answer::status(500, json!({"ok": false, "error": "internal_error"})));
    }
    let err = n.notify(&note(ch(), "x", "y")).await.expect_err("gives up");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.is_retryable());
    assert_eq!(
        err.to_string(),
        "slack chat.postMessage: HTTP 500 Internal Server Error: internal_error (gave up after 4 attempts)"
    );
    assert_eq!((p.seen().len(), slept(&clock)), (3 + 4, 3 + 1 + 2 + 4));
}

#[tokio::test]
async fn http_401_is_permission_denied() {
    let p = Providers::start().await;
    p.script("chat.postMessage", Answer::status(401, json!({"ok": false, "error": "not_authed"})));
    let err = slack(&p, clock())
        .notify(&note(Destination::Channel { name: "#ml-platform".into() }, "x", "y"))
        .await
        .expect_err("401");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert_eq!(p.seen().len(), 1);
}

#[tokio::test]
async fn the_pinned_ticket_is_found_again_after_a_restart() {
    let p = Providers::start().await;
    let (store, inc) = store_with(Severity::P1).await;
    let first = slack(&p, clock()).with_context(IncidentContext::new(store.clone()));
    let rec = deliver_and_record(&*store, &first, &*clock(), "bot", note(channel(), "ticket", &inc.ticket()))
        .await
        .expect("recorded");
    assert!(rec.is_delivered());
    // A new process: nothing in memory, the reference comes from the timeline.
    let second = slack(&p, clock()).with_context(IncidentContext::new(store.clone()));
    second.notify(&note(channel(), "ticket", "Title: [P0] ...")).await.expect("updated");
    assert_eq!(
        p.ops(),
        ["conversations.create", "conversations.invite", "chat.postMessage", "pins.add", "chat.update"],
        "no second ticket, no second pin"
    );
    let seen = p.seen();
    assert_eq!(seen[4].json()["ts"], seen[3].json()["timestamp"]);
    assert_eq!(seen[4].json()["channel"], "C0INCIDENT1");
    p.assert_well_formed();
}
