use std::time::Duration;

use incident_core::backend::{Delivery, Notifier};
use incident_notify::webhook::{WebhookNotifier, verify_signature};
use incident_notify::{Secret, WebhookConfig};
use serde_json::json;

use super::*;

fn hook(p: &Providers, clock: Arc<ManualClock>) -> WebhookNotifier {
    let c = config(p);
    WebhookNotifier::new("ops", &c.webhooks["ops"], retry(&c), clock).expect("notifier")
}

#[tokio::test]
async fn signed_delivery_verifiable_by_the_receiver() {
    let p = Providers::start().await;
    let d = hook(&p, clock())
        .notify(&note(Destination::Webhook { name: "ops".into() }, "status_update", "Status: identified"))
        .await
        .expect("delivered");
    assert_eq!(d, Delivery::Delivered { reference: Some("webhook:ops HTTP 200".into()) });
    p.assert_well_formed(); // the server checked the HMAC independently
    let s = &p.seen()[0];
    assert_eq!(s.path, "/hooks/ops/T0SECRETPATH");
    assert_eq!(s.header("x-incident-timestamp"), t0().timestamp().to_string());
    verify_signature(
        &Secret::new(HOOK_SECRET),
        s.header("x-incident-timestamp"),
        s.header("x-incident-signature"),
        &s.body,
        t0() + chrono::TimeDelta::seconds(30),
        Duration::from_secs(300),
    )
    .expect("verifies");
    let body = s.json();
    assert_eq!(body["incident_id"], "INC-2026-0042");
    assert_eq!(body["destination"], json!({"type": "webhook", "name": "ops"}));
    assert_eq!(body["kind"], "status_update");
    assert_eq!(body["text"], "Status: identified");
    assert_eq!(body["sent_at"], "2026-11-26T14:05:00Z");
    assert_eq!(s.header("x-incident-delivery"), body["delivery_id"]);
    // A tampered body fails verification.
    let mut tampered = s.body.clone();
    tampered[0] = b' ';
    assert!(
        verify_signature(
            &Secret::new(HOOK_SECRET),
            s.header("x-incident-timestamp"),
            s.header("x-incident-signature"),
            &tampered,
            t0(),
            Duration::from_secs(300)
        )
        .is_err()
    );
}

#[tokio::test]
async fn retries_carry_the_same_delivery_id() {
    let p = Providers::start().await;
    p.script("webhook", Answer::status(503, json!({})));
    let clock = clock();
    hook(&p, clock.clone()).notify(&note(Destination::StatusPage, "resolved", "done")).await.expect("second try");
    let seen = p.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].header("x-incident-delivery"), seen[1].header("x-incident-delivery"));
    assert_eq!(seen[0].body, seen[1].body);
    assert_eq!(slept(&clock), 1);
    p.assert_well_formed();
}

#[test]
fn a_webhook_needs_https_or_loopback_and_a_secret() {
    let retry = incident_notify::RetryConfig::default();
    let cfg = |url: &str, secret: Option<&str>| WebhookConfig { url: url.into(), secret: secret.map(Secret::new) };
    let err =
        WebhookNotifier::new("x", &cfg("http://hooks.example.com/x", Some("s")), &retry, clock()).expect_err("http");
    assert!(err.to_string().contains("plain http is allowed only to a loopback address"), "{err}");
    let err =
        WebhookNotifier::new("x", &cfg("https://hooks.example.com/x", None), &retry, clock()).expect_err("secret");
    assert!(err.to_string().contains("`webhooks.x.secret` is missing"), "{err}");
    WebhookNotifier::new("x", &cfg("https://hooks.example.com/x", Some("s")), &retry, clock()).expect("https ok");
}
