//! SNS closed by default, against a local stand-in for SNS over HTTP (serving the test signing
//! certificate, answering subscription confirmations, counting every fetch): topics off the allow-list
//! are neither confirmed nor fetched for, old and future messages are refused as replays, a failed
//! certificate fetch is not repeated, and certificate fetches have a budget.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, TimeDelta, Utc};
use incident_core::Policy;
use incident_core::clock::ManualClock;
use incident_core::store::MemoryStore;
use incident_receiver::{Receiver, ReceiverConfig, SnsConfig};
use serde_json::{Value, json};
use tower::ServiceExt as _;

mod common;
use common::{fixture, sign_v2};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:incident-alarms";

fn now() -> DateTime<Utc> {
    "2026-03-01T12:00:00Z".parse().expect("time")
}

/// A stand-in for SNS: the signing certificate at `/SimpleNotificationService-test.pem`, `/confirm`
/// answers a confirmation, anything else is 404. Every request path is recorded.
struct FakeSns {
    origin: String,
    hits: Arc<Mutex<Vec<String>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl FakeSns {
    fn count(&self, path: &str) -> usize {
        self.hits.lock().expect("lock").iter().filter(|p| *p == path).count()
    }

    fn total(&self) -> usize {
        self.hits.lock().expect("lock").len()
    }

    fn cert_url(&self) -> String {
        format!("http://{}/SimpleNotificationService-test.pem", self.origin)
    }
}

async fn fake_sns() -> FakeSns {
    let cert = fixture("sns/test-signing-cert.pem");
    let hits = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&hits);
    let app = axum::Router::new().fallback(move |req: Request<Body>| {
        let (cert, seen) = (cert.clone(), Arc::clone(&seen));
        async move {
            let path = req.uri().path().to_owned();
            seen.lock().expect("lock").push(path.clone());
            match path.as_str() {
                "/SimpleNotificationService-test.pem" => (StatusCode::OK, cert),
                "/confirm" => (StatusCode::OK, b"<ConfirmSubscriptionResponse/>".to_vec()),
                _ => (StatusCode::NOT_FOUND, b"no such key".to_vec()),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let origin = listener.local_addr().expect("addr").to_string();
    #[allow(clippy::disallowed_methods)] // the test's own server, aborted on drop of the runtime
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    FakeSns { origin, hits, _task: task }
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A signed subscription confirmation for `topic`.
fn confirmation(sns: &FakeSns, topic: &str) -> Value {
    let mut m = json!({
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92",
        "TopicArn": topic,
        "Message": format!("You have chosen to subscribe to the topic {topic}."),
        "SubscribeURL": format!("http://{}/confirm", sns.origin),
        "Timestamp": timestamp(now()),
        "SigningCertURL": sns.cert_url(),
    });
    sign_v2(&mut m);
    m
}

/// A signed CloudWatch alarm notification published at `at`, its certificate at `cert_url`.
fn notification(cert_url: &str, at: DateTime<Utc>) -> Value {
    let mut m: Value = serde_json::from_slice(&fixture("cloudwatch/ok.json")).expect("json");
    m["Timestamp"] = json!(timestamp(at));
    m["SigningCertURL"] = json!(cert_url);
    sign_v2(&mut m);
    m
}

/// A receiver at [`now`] with `policy`, `extra_topics` on top of the policy's.
async fn receiver(sns: &FakeSns, policy: Policy, extra_topics: Vec<String>) -> Receiver {
    let config = ReceiverConfig::new(Arc::new(MemoryStore::new()))
        .policy(policy)
        .clock(Arc::new(ManualClock::new(now())))
        .sns(SnsConfig { topic_arns: extra_topics, confirm_subscriptions: true, test_hosts: vec![sns.origin.clone()] });
    Receiver::start(config).await.expect("start")
}

fn allowing(topic: &str) -> Policy {
    let mut p = Policy::default();
    p.receiver.sns.topics = vec![topic.to_owned()];
    p
}

async fn deliver(r: &Receiver, body: &Value) -> (StatusCode, Value) {
    let req = Request::builder()
        .method("POST")
        .uri("/webhook/cloudwatch")
        .header("x-amz-sns-message-type", body["Type"].as_str().unwrap_or_default())
        .body(Body::from(body.to_string()))
        .expect("request");
    let resp = r.router().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn metrics(r: &Receiver) -> String {
    let req = Request::builder().uri("/metrics").body(Body::empty()).expect("request");
    let resp = r.router().oneshot(req).await.expect("infallible");
    String::from_utf8_lossy(&axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body")).into_owned()
}

fn message(v: &Value) -> String {
    v["error"]["message"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn with_no_allow_list_no_topic_is_confirmed_and_nothing_is_fetched() {
    let sns = fake_sns().await;
    let r = receiver(&sns, Policy::default(), Vec::new()).await;
    let (status, body) = deliver(&r, &confirmation(&sns, TOPIC)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let msg = message(&body);
    assert!(msg.contains("closed by default") && msg.contains(&format!("--sns-topic {TOPIC}")), "{msg}");
    // Nor a notification from the same topic (a signed message relayed from someone's own topic).
    let (status, _) = deliver(&r, &notification(&sns.cert_url(), now())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(sns.total(), 0, "no certificate fetched, no confirmation sent");
    assert!(
        metrics(&r).await.contains(r#"incident_receiver_rejected_total{route="/webhook/cloudwatch",reason="topic"} 2"#)
    );
}

#[tokio::test]
async fn a_topic_off_the_allow_list_is_not_confirmed() {
    let sns = fake_sns().await;
    let r = receiver(&sns, allowing(TOPIC), Vec::new()).await;
    let other = "arn:aws:sns:us-east-1:999999999999:someone-else";
    let (status, body) = deliver(&r, &confirmation(&sns, other)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("not on the allow-list"), "{body}");
    assert_eq!(sns.total(), 0);
}

#[tokio::test]
async fn an_allowed_topic_is_confirmed_from_the_policy_or_the_flag() {
    let sns = fake_sns().await;
    let r = receiver(&sns, allowing(TOPIC), Vec::new()).await;
    let (status, body) = deliver(&r, &confirmation(&sns, TOPIC)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["subscription"], "confirmed");
    assert_eq!(sns.count("/confirm"), 1);

    // `--sns-topic` (SnsConfig::topic_arns) adds to the policy's list.
    let flag = "arn:aws:sns:eu-west-1:123456789012:from-the-flag";
    let r = receiver(&sns, allowing(TOPIC), vec![flag.to_owned()]).await;
    let (status, body) = deliver(&r, &confirmation(&sns, flag)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(sns.count("/confirm"), 2);
}

#[tokio::test]
async fn an_old_message_is_refused_as_a_replay() {
    let sns = fake_sns().await;
    let r = receiver(&sns, allowing(TOPIC), Vec::new()).await;
    // A validly signed message from 2024.
    let from_2024 = notification(&sns.cert_url(), "2024-05-03T14:05:01Z".parse().expect("time"));
    let (status, body) = deliver(&r, &from_2024).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("refused as a replay"), "{body}");
    let (status, _) = deliver(&r, &notification(&sns.cert_url(), now() - TimeDelta::minutes(61))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(sns.total(), 0, "refused before fetching the certificate");
    // Inside the window (1 hour by default) it is read.
    let (status, body) = deliver(&r, &notification(&sns.cert_url(), now() - TimeDelta::minutes(59))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        metrics(&r)
            .await
            .contains(r#"incident_receiver_rejected_total{route="/webhook/cloudwatch",reason="replay"} 2"#)
    );
}

#[tokio::test]
async fn a_message_from_the_future_is_refused() {
    let sns = fake_sns().await;
    let r = receiver(&sns, allowing(TOPIC), Vec::new()).await;
    let (status, body) = deliver(&r, &notification(&sns.cert_url(), now() + TimeDelta::minutes(10))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("in the future"), "{body}");
    // Within the skew allowance (5 minutes by default) it is read.
    let (status, body) = deliver(&r, &notification(&sns.cert_url(), now() + TimeDelta::minutes(2))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_failed_certificate_fetch_is_not_repeated() {
    let sns = fake_sns().await;
    let r = receiver(&sns, allowing(TOPIC), Vec::new()).await;
    let missing = format!("http://{}/SimpleNotificationService-gone.pem", sns.origin);
    let (status, body) = deliver(&r, &notification(&missing, now())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(message(&body).contains("HTTP 404"), "{body}");
    let (status, body) = deliver(&r, &notification(&missing, now())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(message(&body).contains("not fetched again"), "{body}");
    assert_eq!(sns.count("/SimpleNotificationService-gone.pem"), 1, "the second request made no fetch");
    // A good certificate is unaffected.
    let (status, body) = deliver(&r, &notification(&sns.cert_url(), now())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn certificate_fetches_have_a_budget() {
    let sns = fake_sns().await;
    let r = receiver(&sns, allowing(TOPIC), Vec::new()).await;
    // Messages naming 15 new certificate URLs: 10 fetches (the burst), then refused without fetching.
    let mut budget_refusals = 0;
    for i in 0..15 {
        let url = format!("http://{}/SimpleNotificationService-{i}.pem", sns.origin);
        let (status, body) = deliver(&r, &notification(&url, now())).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        if message(&body).contains("budget exhausted") {
            budget_refusals += 1;
        }
    }
    assert_eq!(sns.total(), 10, "at most the burst of fetches");
    assert_eq!(budget_refusals, 5);
    // A certificate already cached needs no budget... but this one was never fetched: it waits too.
    let (status, _) = deliver(&r, &notification(&sns.cert_url(), now())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(sns.total(), 10);
}

#[tokio::test]
async fn a_topic_that_is_not_an_arn_is_refused_at_start() {
    let config = ReceiverConfig::new(Arc::new(MemoryStore::new()))
        .sns(SnsConfig { topic_arns: vec!["incident-alarms".into()], ..SnsConfig::default() });
    let e = Receiver::start(config).await.expect_err("not an ARN");
    assert_eq!(e.kind(), incident_core::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("\"incident-alarms\" is not a topic ARN"), "{e}");
}
