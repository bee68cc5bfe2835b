//! The watch cache after `410 Gone`, on a `tower-test` mock apiserver, step by step: the real one answers a
//! watch from an expired `resourceVersion` with exactly this event (`tests/watch_cache_disruption.rs`
//! makes it do so by compacting etcd, and checks the cache end to end there).

use std::collections::BTreeMap;
use std::time::Duration;

use http::{Request, Response};
use incident_core::backend::{Cluster, DataSource};
use incident_k8s::{CachedCluster, KubeCluster, KubeOptions, WatchCache, WatchCacheOptions};
use kube::client::Body;
use tower_test::mock;

fn pod(name: &str, rv: &str) -> serde_json::Value {
    serde_json::json!({"metadata": {"name": name, "namespace": "ml", "resourceVersion": rv,
        "managedFields": [{"manager": "kubelet", "fieldsV1": {"f:status": {}}}]},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "c:1"}]},
        "status": {"phase": "Running"}})
}

fn list(rv: &str, items: &[serde_json::Value]) -> Response<Body> {
    let body =
        serde_json::json!({"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": rv}, "items": items});
    Response::new(Body::from(serde_json::to_vec(&body).expect("json")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_410_gone_relists_and_the_cache_ends_up_with_the_new_list() {
    let (svc, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(svc, "default");
    let cache = WatchCache::start(&client, "mock", &WatchCacheOptions::default());
    let mut pod_lists = 0;
    let mut pod_watches = Vec::new();
    // Requests left unanswered: watches that stay open.
    let mut open = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while pod_lists < 2 || pod_watches.len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "pod lists {pod_lists}, watches {pod_watches:?}");
        let (req, send) = tokio::time::timeout(Duration::from_secs(10), handle.next_request())
            .await
            .expect("a request")
            .expect("the client is alive");
        let (path, query) = (req.uri().path().to_owned(), req.uri().query().unwrap_or_default().to_owned());
        let watch = query.contains("watch=true");
        match (path.as_str(), watch) {
            ("/api/v1/pods", false) => {
                pod_lists += 1;
                if pod_lists == 1 {
                    send.send_response(list("10", &[pod("a", "5"), pod("b", "6")]));
                } else {
                    send.send_response(list("20", &[pod("a", "5"), pod("c", "19")]));
                }
            }
            ("/api/v1/pods", true) => {
                pod_watches.push(query.clone());
                if pod_watches.len() == 1 {
                    assert!(query.contains("resourceVersion=10"), "resumes from the list: {query}");
                    assert!(query.contains("allowWatchBookmarks=true"), "bookmarks on: {query}");
                    // Before the 410, the first list is what the cache holds.
                    let first = cache.health();
                    assert!(first.kinds.iter().any(|k| k.kind == "pods" && k.synced && k.objects == 2), "{first:?}");
                    let gone = serde_json::json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
                        "metadata": {}, "status": "Failure", "message": "too old resource version: 10 (15)",
                        "reason": "Expired", "code": 410}});
                    let mut body = serde_json::to_vec(&gone).expect("json");
                    body.push(b'\n');
                    send.send_response(Response::new(Body::from(body)));
                } else {
                    assert!(query.contains("resourceVersion=20"), "watches from the relist: {query}");
                    open.push(send);
                }
            }
            (_, false) => send.send_response(list("1", &[])),
            (_, true) => open.push(send),
        }
    }
    let health = cache.health();
    let pods = health.kinds.iter().find(|k| k.kind == "pods").expect("pods");
    assert_eq!((pods.synced, pods.objects, pods.relists), (true, 2, 1), "{pods:?}");
    assert!(
        pods.restarts >= 1 && pods.last_error.as_deref().is_some_and(|e| e.contains("too old resource version")),
        "{pods:?}"
    );
    assert!(health.synced(), "{health:?}");
    let text = health.to_prometheus();
    assert!(text.contains("incident_watch_cache_relists_total{context=\"mock\",kind=\"pods\"} 1"), "{text}");
    assert!(text.contains("incident_watch_cache_synced{context=\"mock\",kind=\"endpointslices\"} 1"), "{text}");

    // Reads: b is gone, c is there, without a LIST (nothing answers one now).
    let (live_svc, _live) = mock::pair::<Request<Body>, Response<Body>>();
    let live = KubeCluster::new(kube::Client::new(live_svc, "default"), "mock", KubeOptions::default());
    let cached = CachedCluster::new(cache, std::sync::Arc::new(live));
    let names: Vec<String> =
        cached.pods(Some("ml"), &BTreeMap::new()).await.expect("pods").into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["a", "c"]);
    assert_eq!(cached.freshness().source, DataSource::Cache);
    drop(open);
}
