//! In-process tests of every route: authentication, body limits, malformed payloads, deduplication,
//! restart on the same SQLite file, store failures, metrics, and SNS (signatures, handshake).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Utc};
use hmac::Mac as _;
use incident_core::incident::Incident;
use incident_core::ingest::group::CLEAR_CHECK;
use incident_core::store::{JournalDraft, JournalEntry, MemoryStore, RunRecord, Store};
use incident_core::timeline::{Event, EventKind, Timeline};
use incident_core::{Error, Policy, Severity};
use incident_receiver::{Auth, Receiver, ReceiverConfig, Secret, SnsConfig};
use incident_store::SqliteStore;
use serde_json::{Value, json};
use tower::ServiceExt as _;

mod common;
use common::{fixture, sign_v2};

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    json: Value,
    text: String,
}

async fn call(r: &Receiver, method: &str, path: &str, headers: &[(&str, &str)], body: impl Into<Body>) -> Reply {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = r.router().oneshot(req.body(body.into()).expect("request")).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply { status, headers, json, text }
}

async fn post(r: &Receiver, path: &str, body: impl Into<Body>) -> Reply {
    call(r, "POST", path, &[("authorization", "Bearer t0ken")], body).await
}

fn auth() -> Auth {
    Auth {
        hmac_key: Some(Secret::new("hmac-key").expect("secret")),
        ..Auth::bearer(Secret::new("t0ken").expect("secret"))
    }
}

async fn start(store: Arc<dyn Store>) -> Receiver {
    Receiver::start(ReceiverConfig::new(store).auth(auth())).await.expect("start")
}

/// An Alertmanager webhook: `alerts` = (fingerprint, alertname, service, status).
fn am(group: &str, alerts: &[(&str, &str, &str, &str)]) -> String {
    let status = if alerts.iter().all(|a| a.3 == "resolved") { "resolved" } else { "firing" };
    let alerts: Vec<Value> = alerts
        .iter()
        .map(|(fp, name, svc, st)| {
            json!({
                "status": st, "fingerprint": fp,
                "startsAt": "2024-05-03T14:00:00Z",
                "endsAt": if *st == "resolved" { "2024-05-03T14:20:00Z" } else { "0001-01-01T00:00:00Z" },
                "labels": {"alertname": name, "service": svc, "severity": "critical"},
                "annotations": {"value": "0.12", "summary": "errors"}
            })
        })
        .collect();
    json!({"version": "4", "groupKey": group, "status": status, "receiver": "incident", "alerts": alerts}).to_string()
}

fn outcome(r: &Reply) -> (String, Option<String>) {
    let g = &r.json["groups"][0];
    (g["outcome"].as_str().unwrap_or_default().to_owned(), g["incident"].as_str().map(str::to_owned))
}

async fn alert_ids(store: &dyn Store, id: &str) -> Vec<(String, String)> {
    let tl = store.timeline(id).await.expect("timeline");
    tl.events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::AlertsReceived { alerts, .. } => Some(alerts.clone()),
            _ => None,
        })
        .flatten()
        .map(|a| (a.id, serde_json::to_value(a.status).expect("status").as_str().unwrap_or_default().to_owned()))
        .collect()
}

#[tokio::test]
async fn alertmanager_groups_declare_once_then_update_and_record_resolution() {
    let store = Arc::new(MemoryStore::new());
    let r = start(store.clone()).await;
    let g1 = r#"{}:{alertname="HighErrorRate"}"#;
    let first = post(&r, "/webhook/alertmanager", am(g1, &[("a1", "HighErrorRate", "api", "firing")])).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let (o, inc) = outcome(&first);
    assert_eq!(o, "declared");
    let inc = inc.expect("incident id");

    // Same group again: nothing new.
    let again = post(&r, "/webhook/alertmanager", am(g1, &[("a1", "HighErrorRate", "api", "firing")])).await;
    assert_eq!(outcome(&again), ("duplicate".to_owned(), Some(inc.clone())));
    // Updated group: a second alert joins the same incident.
    let two = am(g1, &[("a1", "HighErrorRate", "api", "firing"), ("a2", "HighErrorRate", "web", "firing")]);
    assert_eq!(outcome(&post(&r, "/webhook/alertmanager", two).await), ("updated".to_owned(), Some(inc.clone())));
    // Another group: another incident.
    let other = post(
        &r,
        "/webhook/alertmanager",
        am("{}:{alertname=\"ServiceDown\"}", &[("b1", "ServiceDown", "db", "firing")]),
    )
    .await;
    let (o2, inc2) = outcome(&other);
    assert_eq!(o2, "declared");
    assert_ne!(inc2.as_deref(), Some(inc.as_str()));
    // The whole group resolves: resolution evidence, incident still open.
    let resolved = am(g1, &[("a1", "HighErrorRate", "api", "resolved"), ("a2", "HighErrorRate", "web", "resolved")]);
    assert_eq!(outcome(&post(&r, "/webhook/alertmanager", resolved).await).0, "updated");

    assert_eq!(store.incidents().await.expect("incidents").len(), 2);
    let stored = store.incident(&inc).await.expect("read").expect("incident");
    assert_eq!(stored.severity, Severity::P1);
    assert_eq!(stored.title, "HighErrorRate on api");
    let first = store.timeline(&inc).await.expect("timeline").events().first().map(|e| e.kind.clone());
    assert!(matches!(first, Some(EventKind::Detected { source, .. }) if source == "alertmanager"));
    assert_eq!(
        alert_ids(store.as_ref(), &inc).await,
        vec![
            ("a1".to_owned(), "firing".to_owned()),
            ("a2".to_owned(), "firing".to_owned()),
            ("a1".to_owned(), "resolved".to_owned()),
            ("a2".to_owned(), "resolved".to_owned())
        ]
    );
    let tl = store.timeline(&inc).await.expect("timeline");
    let clear = tl.find(|k| matches!(k, EventKind::CheckResult { name, passed: true, .. } if name == CLEAR_CHECK));
    assert!(clear.is_some(), "resolution evidence recorded");
    assert_eq!(stored.status, incident_core::Status::Investigating, "resolving stays with humans");
    r.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn authentication_bearer_and_hmac() {
    let r = start(Arc::new(MemoryStore::new())).await;
    let body = am("g", &[("a1", "HighErrorRate", "api", "firing")]);
    let none = call(&r, "POST", "/webhook/alertmanager", &[], body.clone()).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.json["error"]["kind"], "permission_denied");
    assert_eq!(none.headers.get("www-authenticate").map(|v| v.to_str().unwrap_or_default()), Some("Bearer"));
    let wrong = call(&r, "POST", "/webhook/alertmanager", &[("authorization", "Bearer t0ken2")], body.clone()).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"hmac-key").expect("key");
    mac.update(body.as_bytes());
    let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let signed = call(&r, "POST", "/webhook/alertmanager", &[("x-incident-signature", &sig)], body.clone()).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.text);
    let tampered =
        call(&r, "POST", "/webhook/alertmanager", &[("x-incident-signature", &sig)], body.replace("0.12", "0.13"))
            .await;
    assert_eq!(tampered.status, StatusCode::UNAUTHORIZED);
    let bearer = post(&r, "/webhook/alertmanager", body).await;
    assert_eq!(bearer.status, StatusCode::OK);
    assert_eq!(outcome(&bearer).0, "duplicate");
    let metrics = call(&r, "GET", "/metrics", &[], Body::empty()).await.text;
    assert!(
        metrics.contains(r#"incident_receiver_rejected_total{route="/webhook/alertmanager",reason="unauthorized"} 3"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn bodies_over_the_policy_limit_are_413() {
    let mut policy = Policy::default();
    policy.limits.max_payload_bytes = 256;
    let r = Receiver::start(ReceiverConfig::new(Arc::new(MemoryStore::new())).policy(policy).auth(auth()))
        .await
        .expect("start");
    let big = am("g", &[("a1", "HighErrorRate", "api", "firing"), ("a2", "HighErrorRate", "api", "firing")]);
    assert!(big.len() > 256);
    let resp = post(&r, "/webhook/alertmanager", big.clone()).await;
    assert_eq!(resp.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(resp.json["error"]["message"], "request body exceeds limits.max_payload_bytes (256 bytes)");
    // Without a Content-Length (streamed), the limit holds while reading.
    let stream = Body::from_stream(futures_stream(big));
    let resp = post(&r, "/webhook/alertmanager", stream).await;
    assert_eq!(resp.status, StatusCode::PAYLOAD_TOO_LARGE);
}

fn futures_stream(s: String) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = s.into_bytes().chunks(64).map(|c| Ok(c.to_vec())).collect();
    futures::stream::iter(chunks)
}

#[tokio::test]
async fn malformed_payloads_are_400_naming_the_field() {
    let r = start(Arc::new(MemoryStore::new())).await;
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "/webhook/alertmanager",
            fixture("alertmanager/invalid-starts-at.json"),
            "alertmanager payload: alerts[3].startsAt: premature end of input",
        ),
        (
            "/webhook/pagerduty",
            fixture("pagerduty/invalid-timestamp.json"),
            "pagerduty events: [1].payload.timestamp: invalid timestamp \"yesterday\"",
        ),
        (
            "/webhook/grafana",
            br#"{"version":"1","status":"firing","alerts":[{"status":"firing"}]}"#.to_vec(),
            "grafana payload: alerts[0]: missing field `startsAt`",
        ),
        (
            "/webhook/datadog",
            br#"{"alert_transition":"Exploded"}"#.to_vec(),
            "datadog payload: alert_transition: unknown value \"Exploded\"",
        ),
        (
            "/webhook/cloudwatch",
            br#"{"Type":"Notification","MessageId":1}"#.to_vec(),
            "sns message: MessageId: invalid type: integer `1`",
        ),
    ];
    for (path, body, msg) in cases {
        let resp = post(&r, path, body).await;
        assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{path}: {}", resp.text);
        assert_eq!(resp.json["error"]["kind"], "invalid_input", "{path}");
        let got = resp.json["error"]["message"].as_str().unwrap_or_default();
        assert!(got.starts_with(msg), "{path}: {got}");
    }
    let resp = post(&r, "/webhook/alertmanager", "not json").await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unknown_routes_and_methods_health_and_metrics() {
    let r = start(Arc::new(MemoryStore::new())).await;
    let resp = call(&r, "GET", "/webhook/alertmanager", &[], Body::empty()).await;
    assert_eq!(resp.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.json["error"]["kind"], "invalid_input");
    let resp = call(&r, "POST", "/webhook/nagios", &[], "{}").await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert_eq!(resp.json["error"]["kind"], "not_found");
    let resp = call(&r, "GET", "/healthz", &[], Body::empty()).await;
    assert_eq!((resp.status, resp.json.clone()), (StatusCode::OK, json!({"status": "ok"})));
    post(&r, "/webhook/alertmanager", am("g", &[("a1", "HighErrorRate", "api", "firing")])).await;
    let resp = call(&r, "GET", "/metrics", &[], Body::empty()).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(
        resp.headers.get("content-type").map(|v| v.to_str().unwrap_or_default()),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    for needle in [
        r#"incident_receiver_requests_total{route="/webhook/alertmanager",status="200"} 1"#,
        r#"incident_receiver_requests_total{route="/webhook/alertmanager",status="405"} 1"#,
        r#"incident_receiver_requests_total{route="other",status="404"} 1"#,
        r#"incident_receiver_alerts_received_total{source="alertmanager"} 1"#,
        r#"incident_receiver_incidents_declared_total{source="alertmanager"} 1"#,
        r#"incident_receiver_request_duration_seconds_bucket{route="/webhook/alertmanager",le="+Inf"} 2"#,
        "incident_receiver_store_commits_total 1",
        "incident_receiver_open_groups 1",
        "# TYPE incident_receiver_request_duration_seconds histogram",
    ] {
        assert!(resp.text.contains(needle), "missing {needle}:\n{}", resp.text);
    }
}

#[tokio::test]
async fn pagerduty_grafana_and_datadog_declare_and_deduplicate() {
    let store = Arc::new(MemoryStore::new());
    let r = start(store.clone()).await;
    let pd = post(&r, "/webhook/pagerduty", fixture("pagerduty/trigger-critical.json")).await;
    assert_eq!(outcome(&pd).0, "declared", "{}", pd.text);
    assert_eq!(
        outcome(&post(&r, "/webhook/pagerduty", fixture("pagerduty/trigger-critical.json")).await).0,
        "duplicate"
    );
    let gf = post(&r, "/webhook/grafana", fixture("grafana/firing.json")).await;
    assert_eq!(outcome(&gf).0, "declared", "{}", gf.text);
    let dd = post(&r, "/webhook/datadog", fixture("datadog/triggered.json")).await;
    let (o, dd_inc) = outcome(&dd);
    assert_eq!(o, "declared", "{}", dd.text);
    let rec = post(&r, "/webhook/datadog", fixture("datadog/recovered.json")).await;
    assert_eq!(outcome(&rec), ("updated".to_owned(), dd_inc.clone()));
    let tl = store.timeline(&dd_inc.expect("id")).await.expect("timeline");
    assert!(tl.find(|k| matches!(k, EventKind::CheckResult { name, .. } if name == CLEAR_CHECK)).is_some());
    // A warning without a rule is below ingest.declare_min_severity: ignored, with the reason.
    let warn = br#"{"routing_key":"k","event_action":"trigger","dedup_key":"w1","payload":{"summary":"disk 80%","source":"db-1","severity":"warning"}}"#;
    let resp = post(&r, "/webhook/pagerduty", warn.to_vec()).await;
    assert_eq!(outcome(&resp).0, "ignored");
    assert!(
        resp.json["groups"][0]["reason"].as_str().unwrap_or_default().contains("below ingest.declare_min_severity")
    );
    assert_eq!(store.incidents().await.expect("incidents").len(), 3);
    let detected: Vec<String> = {
        let mut v = Vec::new();
        for inc in store.incidents().await.expect("incidents") {
            let tl = store.timeline(&inc.id).await.expect("timeline");
            if let Some(EventKind::Detected { source, .. }) = tl.events().first().map(|e| &e.kind) {
                v.push(source.clone());
            }
        }
        v.sort();
        v
    };
    assert_eq!(detected, vec!["datadog", "grafana", "pagerduty"]);
}

#[tokio::test]
async fn a_restarted_receiver_rebuilds_its_groups_from_the_sqlite_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    let g = r#"{}:{alertname="HighErrorRate"}"#;
    let inc = {
        let store = Arc::new(SqliteStore::open(&path).expect("open"));
        let r = start(store).await;
        let resp = post(&r, "/webhook/alertmanager", am(g, &[("a1", "HighErrorRate", "api", "firing")])).await;
        r.shutdown().await.expect("shutdown");
        outcome(&resp).1.expect("declared")
    };
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).expect("reopen"));
    let r = start(Arc::clone(&store)).await;
    assert_eq!(r.open_groups_at_start(), 1);
    let again = post(&r, "/webhook/alertmanager", am(g, &[("a1", "HighErrorRate", "api", "firing")])).await;
    assert_eq!(outcome(&again), ("duplicate".to_owned(), Some(inc.clone())));
    let more = post(
        &r,
        "/webhook/alertmanager",
        am(g, &[("a1", "HighErrorRate", "api", "firing"), ("a3", "HighErrorRate", "api", "firing")]),
    )
    .await;
    assert_eq!(outcome(&more), ("updated".to_owned(), Some(inc.clone())));
    assert_eq!(store.incidents().await.expect("incidents").len(), 1);
    assert_eq!(alert_ids(store.as_ref(), &inc).await.len(), 2);
    r.shutdown().await.expect("shutdown");
}

/// A store whose writes fail while `down` is set.
#[derive(Default)]
struct Flaky {
    inner: MemoryStore,
    down: AtomicBool,
}

impl Flaky {
    fn check(&self) -> incident_core::Result<()> {
        if self.down.load(Ordering::SeqCst) { Err(Error::unavailable("store down (test)")) } else { Ok(()) }
    }
}

#[async_trait::async_trait]
impl Store for Flaky {
    async fn save_incident(&self, incident: &Incident) -> incident_core::Result<()> {
        self.check()?;
        self.inner.save_incident(incident).await
    }
    async fn incident(&self, id: &str) -> incident_core::Result<Option<Incident>> {
        self.inner.incident(id).await
    }
    async fn incidents(&self) -> incident_core::Result<Vec<Incident>> {
        self.inner.incidents().await
    }
    async fn append_events(&self, incident_id: &str, events: &[Event]) -> incident_core::Result<()> {
        self.check()?;
        self.inner.append_events(incident_id, events).await
    }
    async fn timeline(&self, incident_id: &str) -> incident_core::Result<Timeline> {
        self.inner.timeline(incident_id).await
    }
    async fn create_run(&self, run: &RunRecord) -> incident_core::Result<()> {
        self.inner.create_run(run).await
    }
    async fn update_run(&self, run: &RunRecord) -> incident_core::Result<()> {
        self.inner.update_run(run).await
    }
    async fn run(&self, run_id: &str) -> incident_core::Result<Option<RunRecord>> {
        self.inner.run(run_id).await
    }
    async fn runs(&self) -> incident_core::Result<Vec<RunRecord>> {
        self.inner.runs().await
    }
    async fn claim_step(
        &self,
        run_id: &str,
        step_id: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> incident_core::Result<bool> {
        self.inner.claim_step(run_id, step_id, owner, now, lease_until).await
    }
    async fn take_over_claims(&self, run_id: &str, owner: &str) -> incident_core::Result<u64> {
        self.inner.take_over_claims(run_id, owner).await
    }
    async fn append_journal(&self, draft: JournalDraft) -> incident_core::Result<JournalEntry> {
        self.inner.append_journal(draft).await
    }
    async fn journal(&self, run_id: &str) -> incident_core::Result<Vec<JournalEntry>> {
        self.inner.journal(run_id).await
    }
}

#[tokio::test]
async fn a_failed_commit_is_503_and_the_retry_starts_from_the_durable_state() {
    let store = Arc::new(Flaky::default());
    let r = start(store.clone()).await;
    let g = "{}:{alertname=\"X\"}";
    store.down.store(true, Ordering::SeqCst);
    let body = am(g, &[("a1", "HighErrorRate", "api", "firing")]);
    let resp = post(&r, "/webhook/alertmanager", body.clone()).await;
    assert_eq!(resp.status, StatusCode::SERVICE_UNAVAILABLE, "{}", resp.text);
    assert_eq!(resp.headers.get("retry-after").map(|v| v.to_str().unwrap_or_default()), Some("1"));
    assert_eq!(resp.json["error"]["kind"], "unavailable");
    assert!(store.incidents().await.expect("incidents").is_empty());
    store.down.store(false, Ordering::SeqCst);
    // The retry declares (the failed batch left nothing behind in memory either)...
    let (o, inc) = outcome(&post(&r, "/webhook/alertmanager", body).await);
    assert_eq!(o, "declared");
    // ...and a failed update is forgotten and redone.
    store.down.store(true, Ordering::SeqCst);
    let two = am(g, &[("a1", "HighErrorRate", "api", "firing"), ("a2", "HighErrorRate", "api", "firing")]);
    assert_eq!(post(&r, "/webhook/alertmanager", two.clone()).await.status, StatusCode::SERVICE_UNAVAILABLE);
    store.down.store(false, Ordering::SeqCst);
    assert_eq!(outcome(&post(&r, "/webhook/alertmanager", two).await), ("updated".to_owned(), inc.clone()));
    assert_eq!(alert_ids(store.as_ref(), &inc.expect("id")).await.len(), 2);
}

// ---------------------------------------------------------------------------------------------------
// CloudWatch through SNS
// ---------------------------------------------------------------------------------------------------

/// A stand-in for SNS: serves the signing certificates and counts subscription confirmations.
struct FakeSns {
    origin: String,
    confirmations: Arc<AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

async fn fake_sns() -> FakeSns {
    let cert = fixture("sns/test-signing-cert.pem");
    let other = fixture("sns/other-cert.pem");
    let confirmations = Arc::new(AtomicUsize::new(0));
    let hits = Arc::clone(&confirmations);
    let app = axum::Router::new()
        .route("/SimpleNotificationService-test.pem", axum::routing::get(move || async move { cert.clone() }))
        .route("/other.pem", axum::routing::get(move || async move { other.clone() }))
        .route(
            "/confirm",
            axum::routing::get(move || async move {
                hits.fetch_add(1, Ordering::SeqCst);
                "<ConfirmSubscriptionResponse/>"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let origin = listener.local_addr().expect("addr").to_string();
    #[allow(clippy::disallowed_methods)] // the test's own server, aborted on drop of the runtime
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    FakeSns { origin, confirmations, _task: task }
}

/// A receiver trusting `topics`, its clock a few minutes after the fixtures were signed (inside the
/// replay window).
async fn sns_receiver(sns: &FakeSns, store: Arc<dyn Store>, topics: Vec<String>) -> Receiver {
    let at: DateTime<Utc> = "2024-05-03T14:10:00Z".parse().expect("time");
    let config = ReceiverConfig::new(store)
        .auth(auth())
        .clock(Arc::new(incident_core::clock::ManualClock::new(at)))
        .sns(SnsConfig { topic_arns: topics, confirm_subscriptions: true, test_hosts: vec![sns.origin.clone()] });
    Receiver::start(config).await.expect("start")
}

/// SNS sends no credentials: the route must not ask for them.
async fn sns_post(r: &Receiver, body: &Value) -> Reply {
    call(
        r,
        "POST",
        "/webhook/cloudwatch",
        &[("x-amz-sns-message-type", body["Type"].as_str().unwrap_or_default())],
        body.to_string(),
    )
    .await
}

#[tokio::test]
async fn cloudwatch_alarms_through_sns_are_verified_then_declared() {
    let sns = fake_sns().await;
    let store = Arc::new(MemoryStore::new());
    let r = sns_receiver(&sns, store.clone(), vec!["arn:aws:sns:us-east-1:123456789012:incident-alarms".into()]).await;
    let cert_url = format!("http://{}/SimpleNotificationService-test.pem", sns.origin);

    // SignatureVersion 1 (SHA1), signed by openssl when the fixture was made.
    let mut v1: Value = serde_json::from_slice(&fixture("sns/notification-v1.json")).expect("json");
    v1["SigningCertURL"] = json!(cert_url);
    let resp = sns_post(&r, &v1).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text);
    let (o, inc) = outcome(&resp);
    assert_eq!(o, "declared");

    // SignatureVersion 2 (SHA256): the OK state resolves the group.
    let mut ok: Value = serde_json::from_slice(&fixture("cloudwatch/ok.json")).expect("json");
    ok["SigningCertURL"] = json!(cert_url);
    sign_v2(&mut ok);
    let resp = sns_post(&r, &ok).await;
    assert_eq!(outcome(&resp), ("updated".to_owned(), inc.clone()), "{}", resp.text);

    // Tampered message, wrong certificate, foreign host, bad base64: 403, nothing recorded.
    let mut tampered = ok.clone();
    tampered["Message"] = json!(ok["Message"].as_str().unwrap_or_default().replace("api-error-rate", "other"));
    let mut wrong_cert = ok.clone();
    wrong_cert["SigningCertURL"] = json!(format!("http://{}/other.pem", sns.origin));
    let mut foreign = ok.clone();
    foreign["SigningCertURL"] = json!("https://evil.example.com/SimpleNotificationService-x.pem");
    let mut not_pem = ok.clone();
    not_pem["SigningCertURL"] = json!(format!("http://{}/confirm", sns.origin));
    let mut garbage = ok.clone();
    garbage["Signature"] = json!("%%%");
    for (what, body) in [
        ("tampered", tampered),
        ("wrong cert", wrong_cert),
        ("foreign", foreign),
        ("not pem", not_pem),
        ("garbage", garbage),
    ] {
        let resp = sns_post(&r, &body).await;
        assert_eq!(resp.status, StatusCode::FORBIDDEN, "{what}: {}", resp.text);
        assert_eq!(resp.json["error"]["kind"], "permission_denied", "{what}");
    }
    assert_eq!(sns.confirmations.load(Ordering::SeqCst), 0, "the /confirm fetch above was refused (not .pem)");
    assert_eq!(alert_ids(store.as_ref(), &inc.expect("id")).await.len(), 2);
    let metrics = call(&r, "GET", "/metrics", &[], Body::empty()).await.text;
    assert!(
        metrics.contains(r#"incident_receiver_rejected_total{route="/webhook/cloudwatch",reason="signature"} 5"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn sns_subscriptions_are_confirmed_only_from_allowed_hosts_and_topics() {
    let sns = fake_sns().await;
    let r = sns_receiver(
        &sns,
        Arc::new(MemoryStore::new()),
        vec!["arn:aws:sns:us-east-1:123456789012:incident-alarms".into()],
    )
    .await;
    let mut confirm = json!({
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:incident-alarms",
        "Message": "You have chosen to subscribe to the topic arn:aws:sns:us-east-1:123456789012:incident-alarms.",
        "SubscribeURL": format!("http://{}/confirm", sns.origin),
        "Timestamp": "2024-05-03T13:59:00.000Z",
        "SigningCertURL": format!("http://{}/SimpleNotificationService-test.pem", sns.origin),
    });
    sign_v2(&mut confirm);
    let resp = sns_post(&r, &confirm).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text);
    assert_eq!(resp.json["subscription"], "confirmed");
    assert_eq!(sns.confirmations.load(Ordering::SeqCst), 1);

    // A correctly signed confirmation pointing elsewhere is refused before any fetch.
    let mut elsewhere = confirm.clone();
    elsewhere["SubscribeURL"] = json!("https://attacker.example.com/confirm");
    sign_v2(&mut elsewhere);
    let resp = sns_post(&r, &elsewhere).await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN, "{}", resp.text);
    assert!(resp.json["error"]["message"].as_str().unwrap_or_default().contains("SubscribeURL"));
    // Another topic is refused.
    let mut other_topic = confirm.clone();
    other_topic["TopicArn"] = json!("arn:aws:sns:us-east-1:999999999999:someone-else");
    sign_v2(&mut other_topic);
    let resp = sns_post(&r, &other_topic).await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    assert!(resp.json["error"]["message"].as_str().unwrap_or_default().contains("not an accepted topic"));
    assert_eq!(sns.confirmations.load(Ordering::SeqCst), 1);
}

#[test]
fn secrets_do_not_print() {
    let s = Secret::new("  hunter2\n").expect("secret");
    assert_eq!(format!("{s:?}"), "Secret(***)");
    assert!(!format!("{:?}", auth()).contains("t0ken"));
    let dir = tempfile::tempdir().expect("tempdir");
    let p: PathBuf = dir.path().join("empty");
    std::fs::write(&p, "\n").expect("write");
    let e = Secret::from_file(&p).expect_err("empty");
    assert_eq!(e.to_string(), format!("secret file {} is empty", p.display()));
}

#[tokio::test]
async fn another_writer_of_an_open_timeline_costs_a_retry_not_a_503() {
    let store = Arc::new(MemoryStore::new());
    let r = start(store.clone()).await;
    let g = r#"{}:{alertname="HighErrorRate"}"#;
    let first = post(&r, "/webhook/alertmanager", am(g, &[("a1", "HighErrorRate", "api", "firing")])).await;
    let inc = outcome(&first).1.expect("declared");
    // Someone else writes the timeline the receiver holds in memory (the cadence driver, a delivery, a
    // person with the CLI).
    incident_core::delivery::append_event(
        store.as_ref(),
        &inc,
        incident_core::clock::Clock::now(&incident_core::clock::SystemClock),
        "alice",
        EventKind::Note { text: "looking at the api pods".into() },
    )
    .await
    .expect("append");
    let two = am(g, &[("a1", "HighErrorRate", "api", "firing"), ("a2", "HighErrorRate", "web", "firing")]);
    let reply = post(&r, "/webhook/alertmanager", two).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(outcome(&reply), ("updated".to_owned(), Some(inc.clone())));
    let kinds: Vec<String> =
        store.timeline(&inc).await.expect("timeline").events().iter().map(|e| e.kind.describe()).collect();
    assert!(kinds.iter().any(|k| k.contains("looking at the api pods")), "{kinds:?}");
    assert_eq!(alert_ids(store.as_ref(), &inc).await.len(), 2, "{kinds:?}");
    r.shutdown().await.expect("shutdown");
}
