//! The first response on the real test control plane (scripts/control-plane, started by scripts/services):
//! a deployment rolls out a crash-looping revision (kwok's crash annotation), its service's error-rate alert
//! reaches `incident serve --kubeconfig` (the RBAC-bound service account, with its watch cache), and the
//! receiver proposes the rollback of exactly that deployment to the previous revision: the plan stored on
//! the incident with its digest, the channel message at a Slack fake, nothing executed.

use std::io::Read as _;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

mod common;
use common::{env_or_skip, get, kubectl};

const TOKEN: &str = "frk-t0ken";

fn deployment(ns: &str, image: &str, crash: bool) -> String {
    format!(
        r#"{{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"name":"checkout","namespace":"{ns}",
        "annotations":{{"kubernetes.io/change-cause":"deploy {image}"}}}},
        "spec":{{"replicas":2,"selector":{{"matchLabels":{{"app":"checkout"}}}},
        "strategy":{{"rollingUpdate":{{"maxUnavailable":0,"maxSurge":1}}}},
        "template":{{"metadata":{{"labels":{{"app":"checkout"}},"annotations":{{"incident-core.dev/kwok-crash":"{crash}"}}}},
        "spec":{{"containers":[{{"name":"app","image":"{image}"}}]}}}}}}}}"#
    )
}

/// Stops `incident serve` and deletes the namespace, also when the test fails.
struct Cleanup {
    serve: Option<std::process::Child>,
    admin: String,
    ns: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(mut child) = self.serve.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let _ = child.wait();
        }
        let _ = Command::new(std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into()))
            .arg("--kubeconfig")
            .arg(&self.admin)
            .args(["delete", "namespace", &self.ns, "--wait=false"])
            .output();
    }
}

#[test]
#[allow(clippy::disallowed_methods)] // the alert's start is set against the real apiserver's wall clock
fn a_crash_looping_rollout_gets_its_rollback_proposed_stored_and_posted() {
    let (Some(admin), Some(sa)) = (env_or_skip("INCIDENT_TEST_KUBECONFIG"), env_or_skip("INCIDENT_TEST_KUBECONFIG_SA"))
    else {
        return;
    };
    let ns = format!("frk-{}", std::process::id());
    kubectl(&admin, &["create", "namespace", &ns], None);
    let mut cleanup = Cleanup { serve: None, admin: admin.clone(), ns: ns.clone() };
    kubectl(
        &admin,
        &["apply", "--server-side", "-f", "-"],
        Some(
            r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"kwok-cli-0","annotations":{"kwok.x-k8s.io/node":"fake"}},
            "status":{"allocatable":{"cpu":"32","memory":"256Gi","pods":"110"},"capacity":{"cpu":"32","memory":"256Gi","pods":"110"}}}"#,
        ),
    );
    kubectl(&admin, &["apply", "--server-side", "-f", "-"], Some(&deployment(&ns, "checkout:1", false)));
    kubectl(&admin, &["rollout", "status", "-n", &ns, "deployment/checkout", "--timeout=90s"], None);
    kubectl(&admin, &["apply", "--server-side", "-f", "-"], Some(&deployment(&ns, "checkout:2", true)));
    // The new revision's ReplicaSet, whose creation is the rollout the alert must come after.
    let created = loop {
        let out = kubectl(&admin, &["get", "replicasets", "-n", &ns, "-o", "json"], None);
        let rs: Value = serde_json::from_str(&out).expect("json");
        let second = rs["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|r| r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2");
        if let Some(r) = second {
            break r["metadata"]["creationTimestamp"].as_str().expect("created").to_owned();
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let created = chrono::DateTime::parse_from_rfc3339(&created).expect("timestamp").to_utc();

    // A Slack fake, and serve on the cluster as the service account with its watch cache. The policy
    // shortens the error-rate window (the runbook's 5 minutes) so the alert declares at once.
    let dir = tempfile::tempdir().expect("tempdir");
    let (slack_addr, slack) = common::fake_server(|_| {
        (200, json!({"ok": true, "channel": {"id": "C1", "name": "incident"}, "ts": "1765000000.000100", "channels": [], "response_metadata": {"next_cursor": ""}}).to_string())
    });
    let notify = dir.path().join("notify.toml");
    std::fs::write(&notify, format!("[slack]\nbase_url = \"http://{slack_addr}/api\"\ntoken = \"xoxb-frk\"\n"))
        .expect("notify config");
    let token = dir.path().join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).expect("token");
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "[declaration]\nerror_rate_for = \"1s\"\n").expect("policy");
    let store = dir.path().join("incident.sqlite");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_incident"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--cadence", "off", "--no-escalation", "--no-post-incident"])
        .env_remove("INCIDENT_SLACK_TOKEN")
        .env_remove("INCIDENT_PAGERDUTY_ROUTING_KEY")
        .env_remove("INCIDENT_STATUSPAGE_API_KEY")
        .env_remove("INCIDENT_WEBHOOK_URL")
        .env_remove("INCIDENT_POLICY")
        .args(["--kubeconfig", &sa, "--triage-namespace", &ns])
        .arg("--policy")
        .arg(&policy)
        .arg("--store")
        .arg(&store)
        .arg("--token-file")
        .arg(&token)
        .arg("--notify-config")
        .arg(&notify);
    let (child, stderr, line, addr) = common::serve_announced(cmd);
    cleanup.serve = Some(child);
    assert!(line.contains("first response on"), "{line}");
    let log = std::thread::spawn(move || {
        let mut log = String::new();
        let mut stderr = stderr;
        let _ = stderr.read_to_string(&mut log);
        log
    });
    for polls in 0.. {
        let (status, body) = get(&addr, "/readyz", Some(TOKEN));
        if status == 200 {
            break;
        }
        assert!(polls < 300, "/readyz still {status} after 60 s: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // The service's error-rate alert, started a second after the rollout (the matching rule wants the
    // rollout before the alert) and sustained past the policy's window.
    let starts = created + chrono::TimeDelta::seconds(1);
    while chrono::Utc::now() < starts + chrono::TimeDelta::milliseconds(1500) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let labels = json!({"alertname": "HighErrorRate", "service": "checkout", "namespace": ns,
                        "severity": "critical", "customer_facing": "true"});
    let webhook = json!({
        "version": "4", "groupKey": format!("{{}}:{{alertname=\"HighErrorRate\", namespace=\"{ns}\"}}"),
        "truncatedAlerts": 0, "status": "firing", "receiver": "incident-core",
        "groupLabels": {"alertname": "HighErrorRate", "namespace": ns}, "commonLabels": labels,
        "commonAnnotations": {}, "externalURL": "http://alertmanager.test:9093",
        "alerts": [{"status": "firing", "labels": labels,
                    "annotations": {"summary": "checkout 5xx ratio above 5%", "value": "0.42"},
                    "startsAt": starts.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus.test:9090/graph",
                    "fingerprint": "00000000000f1a57"}]
    });
    let (status, text) = common::post(&addr, "/webhook/alertmanager", Some(TOKEN), webhook.to_string().as_bytes());
    assert!(status == 200 && text.contains(r#""outcome":"declared""#), "{status} {text}");
    let id = text.split(r#""incident":""#).nth(1).and_then(|r| r.split('"').next()).expect("incident id").to_owned();

    // The first response: posted within 30 s.
    let v: Value = (0..300)
        .find_map(|_| {
            let (status, body) = get(&addr, &format!("/api/incidents/{id}"), Some(TOKEN));
            assert_eq!(status, 200, "{body}");
            let v: Value = serde_json::from_str(&body).expect("json");
            let done = v["timeline"].as_array().expect("timeline").iter().any(|e| {
                e["kind"]["type"] == "note"
                    && e["kind"]["text"].as_str().is_some_and(|t| t.starts_with("First response: posted to"))
            });
            if done {
                Some(v)
            } else {
                std::thread::sleep(Duration::from_millis(100));
                None
            }
        })
        .expect("no first response within 30 s");

    // Exactly that deployment, back to the previous revision, from the watch cache.
    assert_eq!(v["triage"]["data_source"], "cache", "{:#}", v["triage"]);
    assert_eq!(v["match"]["matched"]["rule"], "rollback-recent-rollout", "{:#}", v["match"]);
    let plans = v["proposed_plans"].as_array().expect("plans");
    assert_eq!(plans.len(), 1, "{v:#}");
    let plan = &plans[0];
    assert_eq!((plan["procedure"].as_str(), plan["status"].as_str()), (Some("application-rollback"), Some("proposed")));
    let param = |name: &str| {
        let params = v["match"]["matched"]["params"].as_array().expect("params");
        params.iter().find(|p| p["name"] == name).and_then(|p| p["value"].as_str()).map(str::to_owned)
    };
    assert_eq!((param("namespace"), param("deployment")), (Some(ns.clone()), Some("checkout".to_owned())));
    let rollback = plan["steps"].as_array().expect("steps").iter().find(|s| s["id"] == "rollback").expect("rollback");
    assert_eq!(rollback["before"]["images"][0], "app=checkout:2", "{rollback:#}");
    assert_eq!(rollback["after"]["images"][0], "app=checkout:1", "{rollback:#}");
    assert!(rollback["inverse"].as_str().is_some_and(|i| i.contains("--to-revision=2")), "{rollback:#}");
    let digest = plan["digest"].as_str().expect("digest");

    // The channel message, with the digest the approval must name.
    let texts: Vec<String> = slack
        .lock()
        .expect("lock")
        .iter()
        .filter(|c| c.path.ends_with("chat.postMessage"))
        .map(|c| c.json()["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    let message = texts.iter().find(|t| t.starts_with(&format!("First response for {id}"))).expect("message");
    assert!(message.contains(&format!("Suspected change: {ns}/checkout revision 2 (previous 1)")), "{message}");
    assert!(message.contains(&format!("--expect-digest {digest}")), "{message}");

    // Nothing executed: the crash-looping revision still runs.
    let image = kubectl(
        &admin,
        &["get", "deployment", "checkout", "-n", &ns, "-o", "jsonpath={.spec.template.spec.containers[0].image}"],
        None,
    );
    assert_eq!(image, "checkout:2");
    drop(cleanup);
    let log = log.join().expect("log");
    assert!(!log.contains(TOKEN) && !log.contains("xoxb-frk"), "a secret in the log:\n{log}");
}
