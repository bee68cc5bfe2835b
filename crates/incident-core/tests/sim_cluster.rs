//! Simulated Kubernetes: kubectl rollback semantics, scaling, pod states, events, logs.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::time::Duration;

use incident_core::ErrorKind;
use incident_core::sim::{Scenario, SimPlatform, runtime};

const NS: &str = "ml-platform";
const API: &str = "ml-inference-api";

fn platform(name: &str) -> SimPlatform {
    SimPlatform::from_scenario(&Scenario::builtin(name).unwrap()).unwrap()
}

fn revs(h: &[incident_core::backend::Revision]) -> Vec<(u64, String)> {
    h.iter().map(|r| (r.revision, r.images.join(","))).collect()
}

#[test]
fn rollback_renumbers_like_kubectl_rollout_undo() {
    let p = platform("bad-deploy");
    let b = p.backends();
    runtime().unwrap().block_on(async {
        let c = b.clusters.cluster("ml-platform-primary").await.unwrap();
        let h = c.rollout_history(NS, API).await.unwrap();
        assert_eq!(
            revs(&h),
            vec![(1, "api=ml-inference-api:v2.0.2".into()), (2, "api=ml-inference-api:v2.0.3".into())]
        );
        assert!(h.iter().all(|r| r.replica_set.starts_with("ml-inference-api-")));

        p.advance(Duration::from_secs(120)).unwrap(); // the bad rollout
        let d = c.deployment(NS, API).await.unwrap().unwrap();
        assert_eq!(d.revision, 3);
        assert_eq!(d.images, vec!["api=ml-inference-api:v2.1.0".to_string()]);
        assert_eq!(d.annotations.get("deployment.kubernetes.io/revision").map(String::as_str), Some("3"));
        let rs_v203 = h[1].replica_set.clone();

        // undo without a revision: the previous one (2) is copied and its ReplicaSet becomes revision 4.
        let r = c.rollback(NS, API, None).await.unwrap();
        assert_eq!(r.revision, 4);
        assert_eq!(r.replica_set, rs_v203);
        assert_eq!(r.change_cause.as_deref(), Some("deploy ml-inference-api v2.0.3"));
        let h = c.rollout_history(NS, API).await.unwrap();
        assert_eq!(
            revs(&h),
            vec![
                (1, "api=ml-inference-api:v2.0.2".into()),
                (3, "api=ml-inference-api:v2.1.0".into()),
                (4, "api=ml-inference-api:v2.0.3".into())
            ]
        );
        let d = c.deployment(NS, API).await.unwrap().unwrap();
        assert_eq!((d.revision, d.images[0].as_str()), (4, "api=ml-inference-api:v2.0.3"));
        assert_eq!(
            d.annotations.get("kubernetes.io/change-cause").map(String::as_str),
            Some("deploy ml-inference-api v2.0.3")
        );

        // revision 2 no longer exists.
        let e = c.rollback(NS, API, Some(2)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");

        // --to-revision=1
        let r = c.rollback(NS, API, Some(1)).await.unwrap();
        assert_eq!((r.revision, r.images[0].as_str()), (5, "api=ml-inference-api:v2.0.2"));
        assert_eq!(
            revs(&c.rollout_history(NS, API).await.unwrap()).iter().map(|r| r.0).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );

        // undo again goes back to the previous revision (4 -> becomes 6).
        let r = c.rollback(NS, API, None).await.unwrap();
        assert_eq!((r.revision, r.images[0].as_str()), (6, "api=ml-inference-api:v2.0.3"));

        // rolling back to the current revision is a no-op (kubectl: "skipped rollback").
        let ops = p.api_operations().len();
        let r = c.rollback(NS, API, Some(6)).await.unwrap();
        assert_eq!(r.revision, 6);
        assert_eq!(p.api_operations().len(), ops);

        // no previous revision.
        let e = c.rollback(NS, "postgres", None).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PreconditionFailed);
        assert!(e.message().contains("no rollout history found"), "{e}");
        let e = c.rollback(NS, "nope", None).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    });
    let ops: Vec<String> = p.api_operations().into_iter().map(|o| o.op).collect();
    assert_eq!(ops.len(), 3, "{ops:?}");
    assert!(ops[0].starts_with("rollout undo ml-platform/ml-inference-api to-revision=2"), "{ops:?}");
}

#[test]
fn scaled_pods_become_ready_after_the_modeled_delay() {
    let p = platform("bad-deploy");
    let b = p.backends();
    runtime().unwrap().block_on(async {
        let c = b.clusters.cluster("ml-platform-primary").await.unwrap();
        let sel: BTreeMap<String, String> = [("app".to_string(), API.to_string())].into();
        c.scale(NS, API, 10).await.unwrap();
        let pods = c.pods(Some(NS), &sel).await.unwrap();
        assert_eq!(pods.len(), 10);
        assert_eq!(pods.iter().filter(|p| p.is_healthy()).count(), 3);
        assert_eq!(pods.iter().filter(|p| p.display_status() == "ContainerCreating").count(), 7);
        let st = c.rollout_status(NS, API).await.unwrap();
        assert!(!st.complete);
        assert!(st.message.contains("3 of 10 updated replicas are available"), "{}", st.message);

        b.clock.sleep(Duration::from_secs(30)).await;
        let d = c.deployment(NS, API).await.unwrap().unwrap();
        assert_eq!((d.replicas, d.ready_replicas, d.available_replicas), (10, 10, 10));
        assert!(c.rollout_status(NS, API).await.unwrap().complete);
        let eps = c.endpoints(NS).await.unwrap();
        let api = eps.iter().find(|e| e.name == API).unwrap();
        assert_eq!(api.ready.len(), 10);
        let events = c.events(Some(NS)).await.unwrap();
        assert!(events.iter().any(|e| e.reason == "ScalingReplicaSet" && e.message.contains("to 10")));
    });
    let log = p.operation_log();
    assert_eq!(log.last().unwrap().op, "scale ml-platform/ml-inference-api 3->10");
    assert_eq!(log.last().unwrap().scope, "ml-platform-primary");
}

#[test]
fn bad_deploy_crash_loops_then_rollback_recovers() {
    let p = platform("bad-deploy");
    let b = p.backends();
    runtime().unwrap().block_on(async {
        let c = b.clusters.cluster("ml-platform-primary").await.unwrap();
        let url = "https://api.ml-platform.com/health";
        assert_eq!(b.http.get(url, Duration::from_secs(5)).await.unwrap().status, 200);
        p.advance(Duration::from_secs(120 + 60)).unwrap();
        let pods = c.pods(Some(NS), &[("app".to_string(), API.to_string())].into()).await.unwrap();
        assert!(pods.iter().all(|p| p.display_status() == "CrashLoopBackOff" && p.restarts >= 1), "{pods:?}");
        let logs = c.logs(NS, &pods[0].name, 50).await.unwrap();
        assert!(logs.iter().any(|l| l.contains("ERROR")), "{logs:?}");
        let events = c.events(None).await.unwrap();
        assert!(events.iter().any(|e| e.reason == "BackOff" && e.kind == "Warning"));
        assert_eq!(b.http.get(url, Duration::from_secs(5)).await.unwrap().status, 503);
        p.advance(Duration::from_secs(700)).unwrap();
        assert!(c.rollout_status(NS, API).await.unwrap().failed);

        c.rollback(NS, API, None).await.unwrap();
        b.clock.sleep(Duration::from_secs(31)).await;
        let pods = c.pods(Some(NS), &[("app".to_string(), API.to_string())].into()).await.unwrap();
        assert!(pods.iter().all(incident_core::backend::Pod::is_healthy));
        let logs = c.logs(NS, &pods[0].name, 5).await.unwrap();
        assert_eq!(logs.len(), 5);
        assert!(logs.iter().all(|l| l.contains("INFO")), "{logs:?}");
        let r = b.http.get(url, Duration::from_secs(5)).await.unwrap();
        assert_eq!(r.status, 200);
        assert!(r.elapsed_ms > 0);
    });
    let scenario = Scenario::builtin("bad-deploy").unwrap();
    let outcomes = p.verify(&scenario.expect);
    assert!(outcomes.iter().all(|o| o.ok), "{outcomes:#?}");
}

#[test]
fn pods_beyond_capacity_are_pending_with_the_scheduler_message() {
    let p = platform("bad-deploy");
    let b = p.backends();
    runtime().unwrap().block_on(async {
        let c = b.clusters.cluster("ml-platform-primary").await.unwrap();
        c.scale(NS, API, 60).await.unwrap();
        let pods = c.pods(Some(NS), &[("app".to_string(), API.to_string())].into()).await.unwrap();
        let pending: Vec<_> = pods.iter().filter(|p| p.reason.as_deref() == Some("Unschedulable")).collect();
        assert!(!pending.is_empty());
        assert!(pending.iter().all(|p| p.phase == "Pending" && p.node.is_none()));
        assert!(pending[0].message.as_deref().unwrap().starts_with("0/3 nodes are available: 3 Insufficient memory"));
        let events = c.events(Some(NS)).await.unwrap();
        assert!(events.iter().any(|e| e.reason == "FailedScheduling"));
        let nodes = c.nodes().await.unwrap();
        assert_eq!(nodes.len(), 3);
        assert!(nodes.iter().all(|n| n.ready && n.memory_bytes.unwrap() > 1024 * 1024 * 1024));
    });
}

#[test]
fn annotations_labels_config_maps_apply_and_unknown_context() {
    let p = platform("bad-deploy");
    let b = p.backends();
    runtime().unwrap().block_on(async {
        assert_eq!(b.clusters.default_context(), "ml-platform-primary");
        assert_eq!(b.clusters.cluster("nope").await.err().unwrap().kind(), ErrorKind::NotFound);
        let c = b.clusters.cluster("ml-platform-primary").await.unwrap();
        c.annotate_service(NS, API, "circuit-breaker", Some("enabled")).await.unwrap();
        assert_eq!(c.service(NS, API).await.unwrap().unwrap().annotations.get("circuit-breaker").unwrap(), "enabled");
        let pod = c.pods(Some(NS), &BTreeMap::new()).await.unwrap().into_iter().find(|p| p.name.starts_with(API)).unwrap();
        c.label_pod(NS, &pod.name, "health", Some("degraded")).await.unwrap();
        let sel: BTreeMap<String, String> = [("health".to_string(), "degraded".to_string())].into();
        assert_eq!(c.pods(Some(NS), &sel).await.unwrap().len(), 1);
        c.patch_config_map(NS, "app-config", &[("read_only".to_string(), Some("true".to_string()))].into()).await.unwrap();
        assert_eq!(c.config_map(NS, "app-config").await.unwrap().unwrap().data["read_only"], "true");
        assert!(c.config_map(NS, "missing").await.unwrap().is_none());

        let manifest = incident_core::backend::Manifest {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some(NS.into()),
            name: API.into(),
            body: serde_json::json!({"spec": {"replicas": 5, "template": {"spec": {"containers": [{"name": "api", "image": "ml-inference-api:v2.0.3"}]}}}}),
        };
        let applied = c.apply(&[manifest], "incident").await.unwrap();
        assert_eq!(applied[0].outcome, "configured");
        let d = c.deployment(NS, API).await.unwrap().unwrap();
        assert_eq!((d.replicas, d.revision), (5, 2));
        let before = applied[0].before.clone().unwrap();
        assert_eq!(before["spec"]["replicas"], 3);
        let obj = c.object("apps/v1", "Deployment", Some(NS), API).await.unwrap().unwrap();
        assert_eq!(obj["spec"]["replicas"], 5);
        let ns = incident_core::backend::Manifest {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            namespace: None,
            name: "drills".into(),
            body: serde_json::json!({"metadata": {"name": "drills"}}),
        };
        assert_eq!(c.apply(&[ns], "incident").await.unwrap()[0].outcome, "created");
        c.delete_object("v1", "Namespace", None, "drills").await.unwrap();
        assert_eq!(c.delete_object("v1", "Namespace", None, "drills").await.unwrap_err().kind(), ErrorKind::NotFound);
    });
    let ops: Vec<String> = p.api_operations().into_iter().map(|o| o.op).collect();
    assert_eq!(ops.len(), 6, "{ops:?}");
}
