//! The watch cache on the real test control plane (`scripts/services`), as the `incident-core` service
//! account bound to `deploy/kubernetes/rbac.yaml`: it syncs, follows creates and deletes, and triage read
//! from it equals triage by LIST of the same state; an unsynced cache reads by LIST.
//!
//! Setup uses the admin kubeconfig; each test works in a namespace of its own and deletes it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::{cleanup, deploy, env, service};

use http::{Request, Response};
use incident_core::backend::{Cluster, DataSource};
use incident_core::clock::{Clock as _, SystemClock};
use incident_core::triage::{TriageOptions, TriageReport, triage};
use incident_k8s::{CachedCluster, WatchCache, WatchCacheOptions};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};

const TOLERATION: &str = r#"[{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}]"#;

async fn eventually<T>(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The report without what may differ between two reads of one state: the time, the source, the API
/// server's answer, and the other namespaces (other tests run beside this one).
fn comparable(mut r: TriageReport, ns: &str) -> TriageReport {
    r.at = chrono::DateTime::UNIX_EPOCH;
    r.api_server = None;
    r.data_source = DataSource::List;
    r.data_age_ms = None;
    r.scanned = Default::default();
    r.unhealthy_pods.retain(|p| p.namespace == ns);
    r.warning_events.retain(|e| e.namespace == ns);
    r.recent_events.clear();
    if let Some(c) = &mut r.changes {
        c.warning_events = 0;
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_follows_the_cluster_and_triage_from_it_equals_triage_by_list() {
    let Some(e) = env("wcache").await else { return };
    let started = SystemClock.now();
    deploy(&e, "api", "registry.example/api:1", false).await;
    e.sa.wait_rollout(&e.ns, "api", Duration::from_secs(90)).await.expect("revision 1 rolls out");
    deploy(&e, "api", "registry.example/api:2", true).await; // crash-loops: a stalled rollout, 2 revisions
    service(&e, "api", "api").await;
    service(&e, "orphan", "nothing-selects-this").await;

    let t0 = tokio::time::Instant::now();
    let cache = WatchCache::start(e.sa.client(), e.sa.context(), &WatchCacheOptions::default());
    cache.wait_synced(Duration::from_secs(60)).await.expect("the cache syncs");
    let synced_in = t0.elapsed();
    let health = cache.health();
    assert!(health.synced() && health.not_ready().is_none(), "{health:?}");
    for k in &health.kinds {
        assert!(k.last_heard_age.is_some() && k.restarts == 0, "{k:?}");
    }
    let pods = health.kinds.iter().find(|k| k.kind == "pods").expect("pods");
    assert!(pods.objects >= 2, "{pods:?}");
    let cached = CachedCluster::new(Arc::clone(&cache), Arc::clone(&e.sa) as Arc<dyn Cluster>);
    let live: &dyn Cluster = &*e.sa;
    let all = BTreeMap::new();

    // A pod created after the sync arrives through the watch; deleted, it goes.
    let pods_api: Api<Pod> = Api::namespaced(e.admin.clone(), &e.ns);
    let tolerations: serde_json::Value = serde_json::from_str(TOLERATION).expect("tolerations");
    let late: Pod = serde_json::from_value(serde_json::json!({"metadata": {"name": "late", "labels": {"app": "late"}},
        "spec": {"containers": [{"name": "c", "image": "registry.example/late:1"}], "tolerations": tolerations}}))
    .expect("pod");
    let t1 = tokio::time::Instant::now();
    pods_api.create(&PostParams::default(), &late).await.expect("create pod");
    let late_sel = BTreeMap::from([("app".to_owned(), "late".to_owned())]);
    eventually("the new pod in the cache", 20, async || {
        let p = cached.pods(Some(&e.ns), &late_sel).await.expect("pods");
        (p.len() == 1).then_some(())
    })
    .await;
    let arrived_in = t1.elapsed();
    pods_api
        .delete("late", &DeleteParams { grace_period_seconds: Some(0), ..DeleteParams::default() })
        .await
        .expect("delete");
    eventually("the deleted pod gone from the cache", 30, async || {
        cached.pods(Some(&e.ns), &late_sel).await.expect("pods").is_empty().then_some(())
    })
    .await;

    // Each read of the namespace equals its LIST (once the watch caught up with the last change).
    eventually("cached reads equal LISTs", 30, async || {
        let same = cached.pods(Some(&e.ns), &all).await.ok()? == live.pods(Some(&e.ns), &all).await.ok()?
            && cached.deployments(&e.ns).await.ok()? == live.deployments(&e.ns).await.ok()?
            && cached.services(&e.ns).await.ok()? == live.services(&e.ns).await.ok()?
            && cached.endpoints(&e.ns).await.ok()? == live.endpoints(&e.ns).await.ok()?
            && cached.rollout_history(&e.ns, "api").await.ok()? == live.rollout_history(&e.ns, "api").await.ok()?
            && cached.events(Some(&e.ns)).await.ok()? == live.events(Some(&e.ns)).await.ok()?;
        same.then_some(())
    })
    .await;
    let history = cached.rollout_history(&e.ns, "api").await.expect("history");
    assert_eq!(history.iter().map(|r| r.revision).collect::<Vec<_>>(), [1, 2], "{history:?}");
    let missing = cached.rollout_history(&e.ns, "nope").await.expect_err("no such deployment");
    assert_eq!(missing.kind(), incident_core::ErrorKind::NotFound);

    // Triage: the same report from the cache as from LISTs, but for the source and its age.
    let opts = TriageOptions {
        namespace: e.ns.clone(),
        since: Some(started - chrono::TimeDelta::minutes(1)),
        ..TriageOptions::default()
    };
    let (from_cache, by_list) = eventually("triage from the cache equal to triage by LIST", 30, async || {
        let t = tokio::time::Instant::now();
        let c = triage(&cached, &[], &opts, SystemClock.now()).await;
        let cache_took = t.elapsed();
        let t = tokio::time::Instant::now();
        let l = triage(live, &[], &opts, SystemClock.now()).await;
        let list_took = t.elapsed();
        (comparable(c.clone(), &e.ns) == comparable(l.clone(), &e.ns)).then_some(((c, cache_took), (l, list_took)))
    })
    .await;
    let ((c, cache_took), (l, list_took)) = (from_cache, by_list);
    assert_eq!(c.data_source, DataSource::Cache);
    assert!(c.data_age_ms.is_some_and(|ms| ms < 120_000), "{:?}", c.data_age_ms);
    assert_eq!((l.data_source, l.data_age_ms), (DataSource::List, None));
    assert!(c.render().contains("from the watch cache, "), "{}", c.render());
    assert!(c.degraded_deployments.iter().any(|d| d.deployment.name == "api" && d.history.len() == 2), "{c:#?}");
    assert_eq!(c.services_without_endpoints, ["orphan"]);
    eprintln!(
        "watch cache: synced in {synced_in:?} ({} pods); a new pod arrived in {arrived_in:?}; triage from the \
         cache {cache_took:?}, by LIST {list_took:?}",
        pods.objects
    );
    cleanup(&e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsynced_cache_reads_by_list() {
    let Some(e) = env("wcache-unsynced").await else { return };
    deploy(&e, "api", "registry.example/api:1", false).await;
    // A cache whose apiserver never answers stays unsynced.
    let (svc, _handle) = tower_test::mock::pair::<Request<kube::client::Body>, Response<kube::client::Body>>();
    let cache = WatchCache::start(&kube::Client::new(svc, "default"), "silent", &WatchCacheOptions::default());
    let cached = CachedCluster::new(Arc::clone(&cache), Arc::clone(&e.sa) as Arc<dyn Cluster>);
    let err = cache.wait_synced(Duration::from_millis(300)).await.expect_err("never synced");
    assert!(err.to_string().contains("not synced: pods, nodes, events"), "{err}");
    let opts = TriageOptions { namespace: e.ns.clone(), ..TriageOptions::default() };
    let report = triage(&cached, &[], &opts, SystemClock.now()).await;
    assert_eq!((report.data_source, report.data_age_ms), (DataSource::List, None));
    assert!(report.render().contains("events (listed)"), "{}", report.render());
    let dep = cached.deployments(&e.ns).await.expect("deployments by LIST");
    assert_eq!(dep.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["api"]);
    cleanup(&e).await;
}
