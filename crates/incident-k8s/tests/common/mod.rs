//! Setup shared by the tests on the real control plane (`scripts/services`): the admin client for
//! setup, the `incident-core` service account for what the library does, a namespace per test and one
//! fake kwok node, deployments applied as admin.
#![allow(dead_code)] // each test binary uses what it needs

use std::sync::Arc;

use incident_core::backend::Clusters as _;
use incident_k8s::{KubeCluster, KubeClusters, KubeconfigSpec};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node, Service};
use kube::api::{Api, Patch, PatchParams, PostParams};

pub(crate) fn env_or_skip(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) => Some(v),
        Err(_) if std::env::var("INCIDENT_SKIP_SERVICES").as_deref() == Ok("1") => None,
        Err(_) => panic!(
            "{name} is not set: run `scripts/services start` and `. ~/.cache/incident-core/services/env` \
             (or set INCIDENT_SKIP_SERVICES=1 to skip)"
        ),
    }
}

pub(crate) struct Env {
    pub(crate) admin: kube::Client,
    pub(crate) sa: Arc<KubeCluster>,
    pub(crate) clusters: Arc<KubeClusters>,
    pub(crate) ns: String,
}

/// A namespace `e2e-TEST-PID` and the node `kwok-e2e-0` (idempotent); `None` when the services are
/// skipped.
pub(crate) async fn env(test: &str) -> Option<Env> {
    let admin_cfg = env_or_skip("INCIDENT_TEST_KUBECONFIG")?;
    let sa_cfg = env_or_skip("INCIDENT_TEST_KUBECONFIG_SA")?;
    let admin = KubeClusters::load(&KubeconfigSpec { path: Some(admin_cfg.into()), context: None }).expect("admin");
    let admin = admin.connect(&admin.default_context()).await.expect("admin client").client().clone();
    let clusters =
        Arc::new(KubeClusters::load(&KubeconfigSpec { path: Some(sa_cfg.into()), context: None }).expect("sa"));
    let sa = clusters.connect(&clusters.default_context()).await.expect("sa client");
    let ns = format!("e2e-{test}-{}", std::process::id());
    let nss: Api<Namespace> = Api::all(admin.clone());
    nss.create(
        &PostParams::default(),
        &serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).expect("ns"),
    )
    .await
    .expect("create namespace");
    // One fake node (idempotent) for the scheduler to place pods on.
    let nodes: Api<Node> = Api::all(admin.clone());
    let node = serde_json::json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "kwok-e2e-0", "annotations": {"kwok.x-k8s.io/node": "fake"}, "labels": {"type": "kwok"}},
        "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                   "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"}}});
    nodes.patch("kwok-e2e-0", &PatchParams::apply("e2e").force(), &Patch::Apply(node)).await.expect("node");
    Some(Env { admin, sa, clusters, ns })
}

/// A Deployment of 2 replicas of `image` tolerating kwok's taint; `crash`: its pods crash-loop (kwok).
pub(crate) fn deployment_json(ns: &str, name: &str, image: &str, crash: bool, cause: &str) -> serde_json::Value {
    let mut annotations = serde_json::Map::new();
    if crash {
        annotations.insert("incident-core.dev/kwok-crash".into(), "true".into());
    }
    serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "annotations": {"kubernetes.io/change-cause": cause}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
            "strategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {"metadata": {"labels": {"app": name}, "annotations": annotations},
                "spec": {"containers": [{"name": name, "image": image}],
                    "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}]}}}})
}

/// Apply [`deployment_json`] as admin.
pub(crate) async fn deploy(e: &Env, name: &str, image: &str, crash: bool) {
    let api: Api<Deployment> = Api::namespaced(e.admin.clone(), &e.ns);
    let body = deployment_json(&e.ns, name, image, crash, &format!("deploy {image}"));
    api.patch(name, &PatchParams::apply("e2e").force(), &Patch::Apply(body)).await.expect("apply deployment");
}

/// Delete the test's namespace.
pub(crate) async fn cleanup(e: &Env) {
    let nss: Api<Namespace> = Api::all(e.admin.clone());
    let _ = nss.delete(&e.ns, &Default::default()).await;
}

/// The bad-deploy simulator's backends with the clusters of `e` (the service account) and the system
/// clock: what a procedure's actions run against in these tests.
pub(crate) fn backends(e: &Env) -> incident_core::backend::Backends {
    use incident_core::sim::{Scenario, SimPlatform};
    let sim = SimPlatform::from_scenario(&Scenario::builtin("bad-deploy").expect("scenario")).expect("sim");
    let mut b = sim.backends();
    b.clusters = Arc::clone(&e.clusters) as Arc<dyn incident_core::backend::Clusters>;
    b.clock = Arc::new(incident_core::clock::SystemClock);
    b
}

/// A Service `name` on port 80 selecting `app=APP`, applied as admin.
pub(crate) async fn service(e: &Env, name: &str, app: &str) {
    let body = serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": e.ns},
        "spec": {"selector": {"app": app}, "ports": [{"port": 80}]}});
    let api: Api<Service> = Api::namespaced(e.admin.clone(), &e.ns);
    api.patch(name, &PatchParams::apply("e2e").force(), &Patch::Apply(body)).await.expect("apply service");
}
