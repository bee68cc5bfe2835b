//! End to end with a real Prometheus Alertmanager (built from its Go module by `scripts/alertmanager`):
//! alerts posted to Alertmanager's API v2 are grouped by Alertmanager, which sends v4 webhooks (with a
//! bearer token) to the receiver; the incidents must come from those webhooks, one per group.
//!
//! Skipped only when `INCIDENT_SKIP_SERVICES=1`; otherwise the script builds Alertmanager if needed
//! (minutes the first time) and this test starts and stops its own instance.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use incident_core::ingest::group::CLEAR_CHECK;
use incident_core::store::Store;
use incident_core::timeline::EventKind;
use incident_receiver::{Auth, Receiver, ReceiverConfig, Secret};
use incident_store::SqliteStore;
use serde_json::{Value, json};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/alertmanager")
}

/// Stops the Alertmanager of `dir` when dropped (also on a failed assertion).
struct Alertmanager {
    dir: PathBuf,
    url: String,
}

impl Alertmanager {
    fn start(dir: &Path, webhook: &str, token_file: &Path) -> Self {
        let out = Command::new("bash")
            .arg(script())
            .args(["start", "--port", "0", "--group-by", "alertname,service"])
            .arg("--dir")
            .arg(dir)
            .args(["--webhook-url", webhook])
            .arg("--token-file")
            .arg(token_file)
            .output()
            .expect("run scripts/alertmanager");
        assert!(out.status.success(), "scripts/alertmanager start failed:\n{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let url = stdout.lines().last().unwrap_or_default().trim().to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "unexpected output {stdout:?}");
        Self { dir: dir.to_owned(), url }
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(script()).arg("stop").arg("--dir").arg(&self.dir).output();
    }
}

/// Wait until `check` holds on the store's incidents (or fail after `secs`).
async fn eventually<F>(store: &dyn Store, secs: u64, what: &str, mut check: F)
where
    F: FnMut(&[(incident_core::incident::Incident, incident_core::timeline::Timeline)]) -> bool,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let mut all = Vec::new();
        for i in store.incidents().await.expect("incidents") {
            let tl = store.timeline(&i.id).await.expect("timeline");
            all.push((i, tl));
        }
        if check(&all) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}; incidents: {all:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn alerts_of(tl: &incident_core::timeline::Timeline) -> (Option<String>, BTreeSet<String>) {
    let mut key = None;
    let mut ids = BTreeSet::new();
    for e in tl.events() {
        if let EventKind::AlertsReceived { group_key, alerts, .. } = &e.kind {
            key.get_or_insert_with(|| group_key.clone());
            ids.extend(alerts.iter().map(|a| a.id.clone()));
        }
    }
    (key, ids)
}

fn alert(name: &str, service: &str, instance: &str, ends_at: Option<chrono::DateTime<Utc>>) -> Value {
    let mut a = json!({
        "labels": {"alertname": name, "service": service, "instance": instance, "severity": "critical"},
        "annotations": {"summary": format!("{name} on {service}/{instance}"), "value": "0.12"},
        "startsAt": (incident_core::clock::Clock::now(&incident_core::clock::SystemClock) - TimeDelta::minutes(6)).to_rfc3339(),
        "generatorURL": "http://prometheus.invalid/graph",
    });
    if let Some(t) = ends_at {
        a["endsAt"] = json!(t.to_rfc3339());
    }
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_webhooks_declare_one_incident_per_group() {
    if std::env::var("INCIDENT_SKIP_SERVICES").as_deref() == Ok("1") {
        eprintln!(
            "SKIPPED alertmanager e2e: INCIDENT_SKIP_SERVICES=1 (needs scripts/alertmanager: go and the module proxy)"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "e2e-t0ken\n").expect("token");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path().join("receiver.sqlite")).expect("store"));
    let config =
        ReceiverConfig::new(Arc::clone(&store)).auth(Auth::bearer(Secret::from_file(&token_file).expect("secret")));
    let receiver = Receiver::start(config).await.expect("receiver");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut server = tokio::task::JoinSet::new();
    server.spawn(receiver.serve(listener, async {
        let _ = stopped.await;
    }));

    let am = Alertmanager::start(
        &dir.path().join("alertmanager"),
        &format!("http://127.0.0.1:{port}/webhook/alertmanager"),
        &token_file,
    );
    let client = reqwest::Client::new();
    let post = |alerts: Value| {
        let client = client.clone();
        let url = format!("{}/api/v2/alerts", am.url);
        async move {
            let resp = client.post(url).json(&alerts).send().await.expect("post to alertmanager");
            assert!(resp.status().is_success(), "alertmanager refused: {}", resp.status());
        }
    };

    // Two alerts in one group (alertname + service), one in another.
    post(json!([
        alert("HighErrorRate", "api", "api-1", None),
        alert("HighErrorRate", "api", "api-2", None),
        alert("ServiceDown", "db", "db-1", None),
    ]))
    .await;
    eventually(store.as_ref(), 60, "two incidents holding three alerts", |all| {
        all.len() == 2 && all.iter().map(|(_, tl)| alerts_of(tl).1.len()).sum::<usize>() == 3
    })
    .await;

    // Alertmanager's own fingerprints are what the timelines hold: the webhooks came from it.
    let listed: Vec<Value> =
        client.get(format!("{}/api/v2/alerts", am.url)).send().await.expect("list alerts").json().await.expect("json");
    let fingerprints: BTreeSet<String> =
        listed.iter().filter_map(|a| a["fingerprint"].as_str().map(str::to_owned)).collect();
    assert_eq!(fingerprints.len(), 3);
    let mut stored = BTreeSet::new();
    let mut errors_incident = None;
    for i in store.incidents().await.expect("incidents") {
        let tl = store.timeline(&i.id).await.expect("timeline");
        let (key, ids) = alerts_of(&tl);
        let key = key.expect("group key");
        assert!(key.starts_with("alertmanager:"), "{key}");
        assert!(matches!(&tl.events()[0].kind, EventKind::Detected { source, .. } if source == "alertmanager"));
        if key.contains("HighErrorRate") {
            assert_eq!(ids.len(), 2, "both alerts of the group on one incident");
            assert!(key.contains(r#"service="api""#), "{key}");
            // The first webhook may carry one or both alerts (Alertmanager flushes what it has).
            assert!(i.title.starts_with("HighErrorRate on api"), "{}", i.title);
            errors_incident = Some(i.id.clone());
        } else {
            assert!(key.contains("ServiceDown"), "{key}");
            assert_eq!(ids.len(), 1);
        }
        stored.extend(ids);
    }
    assert_eq!(stored, fingerprints);
    let errors_incident = errors_incident.expect("the HighErrorRate incident");

    // Resolving both alerts of the group: Alertmanager sends the resolved webhook, the incident gets the
    // resolution evidence and stays open; still two incidents.
    let now = incident_core::clock::Clock::now(&incident_core::clock::SystemClock);
    post(json!([alert("HighErrorRate", "api", "api-1", Some(now)), alert("HighErrorRate", "api", "api-2", Some(now))]))
        .await;
    eventually(store.as_ref(), 60, "the resolution evidence", |all| {
        all.iter().any(|(i, tl)| {
            i.id == errors_incident
                && tl
                    .find(|k| matches!(k, EventKind::CheckResult { name, passed: true, .. } if name == CLEAR_CHECK))
                    .is_some()
        })
    })
    .await;
    assert_eq!(store.incidents().await.expect("incidents").len(), 2);

    drop(am);
    let _ = stop.send(());
    while let Some(r) = server.join_next().await {
        r.expect("server task").expect("server");
    }
}
