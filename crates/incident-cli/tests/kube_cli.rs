//! `incident triage`, `plan` and `run` against the real test control plane (scripts/control-plane, started
//! by scripts/services): setup with kubectl as admin, the library as the RBAC-bound service account.

use std::io::{Read as _, Write as _};
use std::process::Command;
use std::time::Duration;

mod common;
use common::{env_or_skip, kubectl};

fn incident(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_incident"))
        .args(args)
        .env_remove("INCIDENT_POLICY")
        .output()
        .expect("run incident")
}

fn deployment(ns: &str, image: &str, crash: bool) -> String {
    format!(
        r#"{{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"name":"api","namespace":"{ns}",
        "annotations":{{"kubernetes.io/change-cause":"deploy {image}"}}}},
        "spec":{{"replicas":2,"selector":{{"matchLabels":{{"app":"api"}}}},
        "strategy":{{"rollingUpdate":{{"maxUnavailable":0,"maxSurge":1}}}},
        "template":{{"metadata":{{"labels":{{"app":"api"}},"annotations":{{"incident-core.dev/kwok-crash":"{crash}"}}}},
        "spec":{{"containers":[{{"name":"api","image":"{image}"}}]}}}}}}}}"#
    )
}

/// A one-route HTTP server answering 200 (the procedure's `curl -f` health check).
fn health_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    format!("http://{addr}/health")
}

#[test]
fn triage_plan_and_run_a_rollback_on_a_real_cluster() {
    let (Some(admin), Some(sa)) = (env_or_skip("INCIDENT_TEST_KUBECONFIG"), env_or_skip("INCIDENT_TEST_KUBECONFIG_SA"))
    else {
        return;
    };
    let ns = format!("cli-{}", std::process::id());
    kubectl(&admin, &["create", "namespace", &ns], None);
    kubectl(
        &admin,
        &["apply", "--server-side", "-f", "-"],
        Some(
            r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"kwok-cli-0","annotations":{"kwok.x-k8s.io/node":"fake"}},
            "status":{"allocatable":{"cpu":"32","memory":"256Gi","pods":"110"},"capacity":{"cpu":"32","memory":"256Gi","pods":"110"}}}"#,
        ),
    );
    kubectl(&admin, &["apply", "--server-side", "-f", "-"], Some(&deployment(&ns, "api:1", false)));
    kubectl(&admin, &["rollout", "status", "-n", &ns, "deployment/api", "--timeout=90s"], None);
    kubectl(&admin, &["apply", "--server-side", "-f", "-"], Some(&deployment(&ns, "api:2", true)));

    // Triage as the service account until the crash loop shows.
    let mut attempts = 0;
    let report: serde_json::Value = loop {
        let out = incident(&["triage", "--kubeconfig", &sa, "-n", &ns, "--since", "1h", "-o", "json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let crashing = v["unhealthy_pods"]
            .as_array()
            .is_some_and(|a| a.iter().any(|p| p["namespace"] == ns.as_str() && p["reason"] == "CrashLoopBackOff"));
        if crashing {
            break v;
        }
        attempts += 1;
        assert!(attempts < 180, "no CrashLoopBackOff after 90 s: {v:#}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(report["context"], "incident-test-sa");
    assert_eq!(report["api_server"]["ready"], true);
    let degraded = &report["degraded_deployments"][0];
    assert_eq!(degraded["deployment"]["name"], "api");
    assert_eq!(degraded["history"].as_array().map(Vec::len), Some(2));
    assert!(report["changes"]["rollouts"].as_array().is_some_and(|r| r.len() == 2), "{:#}", report["changes"]);
    let text = incident(&["triage", "--kubeconfig", &sa, "-n", &ns]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("CrashLoopBackOff") && text.contains("metrics unavailable"), "{text}");

    // Plan the library's application rollback against live state, then run it.
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = dir.path().join("plan.json");
    let store = dir.path().join("journal.sqlite");
    let health = health_server();
    let params = [
        "-p",
        "context=incident-test-sa",
        "-p",
        &format!("namespace={ns}"),
        "-p",
        "deployment=api",
        "-p",
        &format!("health_url={health}"),
        "-p",
        "max_errors=1000",
        "-p",
        "rollout_timeout=2m",
    ];
    let mut args = vec!["plan", "application-rollback"];
    args.extend(params);
    args.extend(["--kubeconfig", &sa, "--out", plan.to_str().expect("utf8")]);
    let out = incident(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("revision 2 -> 1"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Without approval nothing runs.
    let out =
        incident(&["run", plan.to_str().expect("utf8"), "--kubeconfig", &sa, "--store", store.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let out = incident(&[
        "run",
        plan.to_str().expect("utf8"),
        "--kubeconfig",
        &sa,
        "--store",
        store.to_str().expect("utf8"),
        "--approve-by",
        "e2e",
        "--confirm-production",
    ]);
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let image = kubectl(
        &admin,
        &["get", "deployment/api", "-n", &ns, "-o", "jsonpath={.spec.template.spec.containers[0].image}"],
        None,
    );
    assert_eq!(image, "api:1");
    kubectl(&admin, &["delete", "namespace", &ns, "--wait=false"], None);
}

#[test]
fn a_missing_context_or_both_backends_are_clear_errors() {
    let Some(sa) = env_or_skip("INCIDENT_TEST_KUBECONFIG_SA") else { return };
    let out = incident(&["triage", "--kubeconfig", &sa, "--kube-context", "nope"]);
    assert_eq!(out.status.code(), Some(1), "not found: {}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("context \"nope\" is not in the kubeconfig") && err.contains("incident-test-sa"), "{err}");
    let out = incident(&["triage", "--kubeconfig", &sa, "--sim", "x.json"]);
    assert_eq!(out.status.code(), Some(2));
}
