//! Error paths a real apiserver cannot easily be made to produce, on a `tower-test` mock service:
//! throttling with Retry-After, 5xx, RBAC denial, a server that never answers, a watch that disconnects.
//! Everything else is tested against the real control plane (tests/e2e.rs).

// The fake apiserver is a task beside the client under test.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use incident_core::ErrorKind;
use incident_core::backend::Cluster;
use incident_core::triage::{TriageOptions, triage};
use incident_k8s::{KubeCluster, KubeOptions};
use kube::client::Body;
use kube::client::retry::RetryPolicy;
use tower::ServiceBuilder;
use tower::retry::RetryLayer;
use tower_test::mock::{self, Handle};

type H = Handle<Request<Body>, Response<Body>>;

/// A cluster whose HTTP goes to the returned handle, with kube-rs's own default retry policy in front
/// (the one `Client::try_from(Config)` installs: 429/503/504 retried, Retry-After honoured).
fn cluster() -> (KubeCluster, H) {
    let (svc, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let svc = ServiceBuilder::new().layer(RetryLayer::new(RetryPolicy::server_retry())).service(svc);
    let client = kube::Client::new(svc, "default");
    (KubeCluster::new(client, "mock", KubeOptions::default()), handle)
}

fn json(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&body).expect("json")))
        .expect("response")
}

fn status(code: u16, reason: &str, message: &str) -> serde_json::Value {
    serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason,
        "message": message})
}

fn deployment(generation: i64, observed: i64, available: i32) -> serde_json::Value {
    serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "ml", "uid": "d1", "generation": generation, "resourceVersion": "10"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "api"}},
            "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"name": "api", "image": "api:1"}]}}},
        "status": {"observedGeneration": observed, "replicas": 2, "updatedReplicas": 2, "availableReplicas": available}})
}

#[tokio::test(start_paused = true)]
async fn throttling_is_retried_after_the_servers_retry_after() {
    let (c, mut h) = cluster();
    let server = tokio::spawn(async move {
        let (req, send) = h.next_request().await.expect("first request");
        assert_eq!(req.uri().path(), "/apis/apps/v1/namespaces/ml/deployments/api/scale");
        let start = tokio::time::Instant::now();
        send.send_response(
            Response::builder()
                .status(429)
                .header("Retry-After", "3")
                .body(Body::from(serde_json::to_vec(&status(429, "TooManyRequests", "slow down")).expect("json")))
                .expect("response"),
        );
        let (req, send) = h.next_request().await.expect("retried request");
        assert!(start.elapsed() >= Duration::from_secs(3), "retried after {:?}", start.elapsed());
        assert_eq!(req.method(), http::Method::PATCH);
        send.send_response(json(
            StatusCode::OK,
            serde_json::json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
            "metadata": {"name": "api", "namespace": "ml"}, "spec": {"replicas": 5}}),
        ));
    });
    c.scale("ml", "api", 5).await.expect("scale succeeds after the retry");
    server.await.expect("server");
}

#[tokio::test(start_paused = true)]
async fn server_errors_and_rbac_denials_are_typed_with_the_apiservers_message() {
    let (c, mut h) = cluster();
    let server = tokio::spawn(async move {
        let (_, send) = h.next_request().await.expect("request");
        send.send_response(json(
            StatusCode::INTERNAL_SERVER_ERROR,
            status(500, "InternalError", "etcdserver: request timed out"),
        ));
        let (_, send) = h.next_request().await.expect("request");
        send.send_response(json(
            StatusCode::FORBIDDEN,
            status(
                403,
                "Forbidden",
                "services \"api\" is forbidden: User \"system:serviceaccount:x:y\" cannot patch resource \"services\"",
            ),
        ));
    });
    let e = c.deployment("ml", "api").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.to_string().contains("etcdserver: request timed out") && e.to_string().contains("HTTP 500"), "{e}");
    let e = c.annotate_service("ml", "api", "circuit-breaker", Some("open")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(
        e.to_string().contains("cannot patch resource \\\"services\\\"") || e.to_string().contains("cannot patch"),
        "{e}"
    );
    server.await.expect("server");
}

#[tokio::test(start_paused = true)]
async fn a_silent_apiserver_gives_a_partial_triage_not_a_hang() {
    let (c, mut h) = cluster();
    // Answer /version only; every other call hangs until the per-call deadline.
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Some((req, send)) = h.next_request().await {
            if req.uri().path() == "/version" {
                send.send_response(json(
                    StatusCode::OK,
                    serde_json::json!({"major": "1", "minor": "35",
                    "gitVersion": "v1.35.4", "gitCommit": "", "gitTreeState": "", "buildDate": "", "goVersion": "",
                    "compiler": "", "platform": ""}),
                ));
            } else {
                held.push(send);
            }
        }
    });
    let opts = TriageOptions { call_deadline: Duration::from_secs(5), ..TriageOptions::default() };
    let report = triage(&c, &[], &opts, chrono::DateTime::UNIX_EPOCH).await;
    assert!(report.is_partial());
    let sections: Vec<&str> = report.missing.iter().map(|m| m.section.as_str()).collect();
    for s in ["pods", "nodes", "deployments", "events", "metrics"] {
        assert!(sections.contains(&s), "{s} missing from {sections:?}");
    }
    assert!(report.missing.iter().filter(|m| m.section == "pods").all(|m| m.kind == ErrorKind::Timeout));
    assert!(report.render().contains("PARTIAL REPORT"));
    server.abort();
}

#[tokio::test(start_paused = true)]
async fn rollout_wait_survives_a_watch_disconnect() {
    let (c, mut h) = cluster();
    let server = tokio::spawn(async move {
        // GET: the rollout is in progress.
        let (req, send) = h.next_request().await.expect("get");
        assert_eq!(req.uri().path(), "/apis/apps/v1/namespaces/ml/deployments/api");
        send.send_response(json(StatusCode::OK, deployment(2, 2, 1)));
        // First watch: one event, then the connection drops.
        let (req, send) = h.next_request().await.expect("watch 1");
        assert!(req.uri().query().is_some_and(|q| q.contains("watch=true") && q.contains("resourceVersion=10")));
        let ev = serde_json::json!({"type": "MODIFIED", "object": {"metadata": {"name": "api", "resourceVersion": "11"},
            "apiVersion": "apps/v1", "kind": "Deployment", "spec": deployment(2, 2, 1)["spec"], "status": deployment(2, 2, 1)["status"]}});
        send.send_response(Response::new(Body::from(format!("{ev}\n").into_bytes())));
        // Second watch resumes from the last resourceVersion and sees the rollout complete.
        let (req, send) = h.next_request().await.expect("watch 2");
        assert!(req.uri().query().is_some_and(|q| q.contains("resourceVersion=11")), "{:?}", req.uri());
        let mut done = deployment(2, 2, 2);
        done["metadata"]["resourceVersion"] = "12".into();
        let ev = serde_json::json!({"type": "MODIFIED", "object": done});
        send.send_response(Response::new(Body::from(format!("{ev}\n").into_bytes())));
    });
    let st = c.wait_rollout("ml", "api", Duration::from_secs(60)).await.expect("rollout completes");
    assert!(st.complete, "{st:?}");
    assert_eq!(st.message, "deployment \"api\" successfully rolled out");
    server.await.expect("server");
}

#[tokio::test(start_paused = true)]
async fn rollout_wait_times_out_with_the_last_status() {
    let (c, mut h) = cluster();
    let server = tokio::spawn(async move {
        let (_, send) = h.next_request().await.expect("get");
        send.send_response(json(StatusCode::OK, deployment(2, 2, 1)));
        let mut held = Vec::new();
        while let Some((_, send)) = h.next_request().await {
            held.push(send);
        }
    });
    let e = c.wait_rollout("ml", "api", Duration::from_secs(30)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    server.abort();
    let _ = BTreeMap::<String, String>::new();
}

fn raw(body: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Body::from(body.as_bytes().to_vec()))
        .expect("response")
}

fn pod_item(name: &str) -> serde_json::Value {
    serde_json::json!({"metadata": {"name": name, "namespace": "ml", "managedFields": [{"manager": "kwok"}]},
        "spec": {"containers": [{"name": "c", "image": "c:1"}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0,
            "state": {"running": {}}}]}})
}

fn query(req: &Request<Body>) -> BTreeMap<String, String> {
    // The values used here need no percent-decoding.
    let q = req.uri().query().unwrap_or("");
    q.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

#[tokio::test]
async fn big_lists_are_read_page_by_page_in_order() {
    let (c, mut h) = cluster();
    let server = tokio::spawn(async move {
        // Page 1 as the apiserver writes it (metadata before items): its token can be read ahead.
        let (req, send) = h.next_request().await.expect("page 1");
        assert_eq!(req.uri().path(), "/api/v1/namespaces/ml/pods");
        let q = query(&req);
        assert_eq!(q.get("limit").map(String::as_str), Some("500"));
        assert!(!q.contains_key("continue"));
        send.send_response(raw(&format!(
            r#"{{"kind":"PodList","apiVersion":"v1","metadata":{{"resourceVersion":"7","continue":"t1","remainingItemCount":3}},"items":[{},{}]}}"#,
            pod_item("a"),
            pod_item("b")
        )));
        // Page 2 with its items first (json! sorts keys): the token is only known once it is decoded.
        let (req, send) = h.next_request().await.expect("page 2");
        assert_eq!(query(&req).get("continue").map(String::as_str), Some("t1"));
        send.send_response(json(
            StatusCode::OK,
            serde_json::json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"continue": "t2"},
                "items": [pod_item("c"), pod_item("d")]}),
        ));
        let (req, send) = h.next_request().await.expect("page 3");
        assert_eq!(query(&req).get("continue").map(String::as_str), Some("t2"));
        send.send_response(raw(&format!(
            r#"{{"kind":"PodList","apiVersion":"v1","metadata":{{"resourceVersion":"7"}},"items":[{}]}}"#,
            pod_item("e")
        )));
    });
    let pods = c.pods(Some("ml"), &BTreeMap::new()).await.expect("three pages");
    let names: Vec<&str> = pods.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c", "d", "e"]);
    assert!(pods.iter().all(incident_core::backend::Pod::is_healthy));
    server.await.expect("server saw exactly three requests in order");
}

#[tokio::test]
async fn a_page_that_does_not_decode_fails_the_list_with_a_typed_error() {
    let (c, mut h) = cluster();
    let server = tokio::spawn(async move {
        let (_, send) = h.next_request().await.expect("page 1");
        send.send_response(raw(
            r#"{"kind":"NodeList","apiVersion":"v1","metadata":{"continue":"t1"},"items":[{"metadata":{"name":5}}]}"#,
        ));
        // The read-ahead request for page 2 may arrive; it is never answered, and the list does not wait.
        let mut held = Vec::new();
        while let Some((_, send)) = h.next_request().await {
            held.push(send);
        }
    });
    let err = c.nodes().await.expect_err("a node named 5 is not a node");
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert!(err.to_string().contains("list nodes: unexpected response from the apiserver"), "{err}");
    server.abort();
}

fn pod_list(names: &[&str]) -> Response<Body> {
    json(
        StatusCode::OK,
        serde_json::json!({"kind": "PodList", "apiVersion": "v1", "metadata": {},
            "items": names.iter().map(|n| pod_item(n)).collect::<Vec<_>>()}),
    )
}

#[tokio::test]
async fn cluster_wide_lists_run_per_namespace_in_namespace_order() {
    let (c, mut h) = cluster();
    let server = tokio::spawn(async move {
        let (req, send) = h.next_request().await.expect("namespaces");
        assert_eq!(req.uri().path(), "/api/v1/namespaces");
        send.send_response(json(
            StatusCode::OK,
            serde_json::json!({"kind": "NamespaceList", "apiVersion": "v1", "metadata": {},
                "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}, {"metadata": {"name": "c"}}]}),
        ));
        // All three namespaces are asked for before any is answered (they run at once), and answered in
        // reverse: the result is still in namespace order.
        let mut pending = Vec::new();
        for _ in 0..3 {
            let (req, send) = h.next_request().await.expect("a namespace's pods");
            let ns = req.uri().path().split('/').nth(4).expect("namespaced path").to_owned();
            pending.push((ns, send));
        }
        pending.sort_by(|x, y| y.0.cmp(&x.0));
        for (ns, send) in pending {
            send.send_response(pod_list(&[&format!("{ns}-1"), &format!("{ns}-2")]));
        }
    });
    let pods = c.pods(None, &BTreeMap::new()).await.expect("pods");
    let names: Vec<&str> = pods.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a-1", "a-2", "b-1", "b-2", "c-1", "c-2"]);
    server.await.expect("server");
}

#[tokio::test]
async fn without_list_namespaces_the_cluster_wide_list_is_used() {
    let (c, mut h) = cluster();
    let server = tokio::spawn(async move {
        let (req, send) = h.next_request().await.expect("namespaces");
        assert_eq!(req.uri().path(), "/api/v1/namespaces");
        send.send_response(json(
            StatusCode::FORBIDDEN,
            status(403, "Forbidden", "namespaces is forbidden: User \"triage\" cannot list resource \"namespaces\""),
        ));
        let (req, send) = h.next_request().await.expect("cluster-wide events");
        assert_eq!(req.uri().path(), "/api/v1/events");
        send.send_response(json(
            StatusCode::OK,
            serde_json::json!({"kind": "EventList", "apiVersion": "v1", "metadata": {},
                "items": [{"metadata": {"name": "e", "namespace": "ml"}, "type": "Warning", "reason": "BackOff",
                    "involvedObject": {"kind": "Pod", "name": "p"}, "lastTimestamp": "2026-11-27T05:00:00Z"}]}),
        ));
    });
    let events = c.events(None).await.expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].reason, "BackOff");
    server.await.expect("server");
}
