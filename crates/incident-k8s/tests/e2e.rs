//! End to end on the real test control plane (etcd, kube-apiserver, kube-controller-manager,
//! kube-scheduler built from Go modules, kwok for nodes and pod status), started by `scripts/services`.
//!
//! Setup (namespaces, nodes, deployments) uses the admin kubeconfig; everything the library does runs
//! as the `incident-core` service account bound to `deploy/kubernetes/rbac.yaml`, so a verb missing
//! from the role fails here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::{backends, cleanup, deploy, env};

use incident_core::backend::{Cluster, Clusters as _};
use incident_core::engine::{Action, Approval, Check, Executor, Procedure, Step, StepKind, StepStatus};
use incident_core::store::{MemoryStore, Store};
use incident_core::triage::{TriageOptions, triage};
use incident_core::{ErrorKind, HumanDuration, Policy};
use incident_k8s::{KubeCluster, KubeClusters, KubeOptions, KubeconfigSpec, manifests_from_dir};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service};
use kube::api::{Api, PostParams};

async fn eventually<T>(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_looping_rollout_is_triaged_and_rolled_back_by_the_procedure() {
    let Some(e) = env("rollback").await else { return };
    let ctx = e.sa.context().to_owned();
    deploy(&e, "api", "registry.example/api:1", false).await;
    let st = e.sa.wait_rollout(&e.ns, "api", Duration::from_secs(90)).await.expect("revision 1 rolls out");
    assert!(st.complete, "{st:?}");
    deploy(&e, "api", "registry.example/api:2", true).await;

    // The new ReplicaSet's pods crash-loop (kwok), so the rollout stalls; triage shows it.
    let report = eventually("CrashLoopBackOff in triage", 90, async || {
        let opts = TriageOptions { namespace: e.ns.clone(), ..TriageOptions::default() };
        let r = triage(&*e.sa, &[], &opts, incident_core::clock::Clock::now(&incident_core::clock::SystemClock)).await;
        r.unhealthy_pods
            .iter()
            .any(|p| p.namespace == e.ns && p.reason.as_deref() == Some("CrashLoopBackOff"))
            .then_some(r)
    })
    .await;
    let bad = report.unhealthy_pods.iter().find(|p| p.namespace == e.ns).expect("bad pod");
    assert!(bad.restarts > 0, "{bad:?}");
    assert!(bad.images.contains(&"api=registry.example/api:2".to_owned()));
    let api = e.sa.deployment(&e.ns, "api").await.expect("read").expect("exists");
    assert_eq!(api.revision, 2);
    let history = e.sa.rollout_history(&e.ns, "api").await.expect("history");
    assert_eq!(history.iter().map(|r| r.revision).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(history[0].change_cause.as_deref(), Some("deploy registry.example/api:1"));
    assert_eq!(history[1].images, vec!["api=registry.example/api:2"]);
    // Following the stalled rollout (a watch on the one deployment) ends at its timeout with the status
    // it saw, not an error, so a wait step can report its last reading.
    let followed = Cluster::follow_rollout(&*e.sa, &e.ns, "api", Duration::from_millis(500))
        .await
        .expect("follow")
        .expect("the kube cluster follows rollouts");
    assert!(!followed.complete && !followed.failed, "{followed:?}");
    assert!(followed.message.contains("not complete within"), "{followed:?}");
    assert!(report.api_server.as_ref().is_some_and(|h| h.live && h.ready && h.version.is_some()), "{report:?}");
    assert!(!report.metrics_available, "the test cluster has no metrics-server");
    assert!(report.render().contains("metrics unavailable"));

    // The same lists one object per page (the read-ahead of `continue` tokens on the real apiserver's
    // output) give the same objects as one page.
    let paged =
        KubeCluster::new(e.sa.client().clone(), ctx.clone(), KubeOptions { page_size: 1, ..Default::default() });
    let names = |pods: Vec<incident_core::backend::Pod>| pods.into_iter().map(|p| p.name).collect::<Vec<_>>();
    let all = BTreeMap::new();
    let (one, many) = tokio::join!(paged.pods(Some(&e.ns), &all), e.sa.pods(Some(&e.ns), &all));
    assert!(many.as_ref().is_ok_and(|m| m.len() >= 3), "{many:?}");
    assert_eq!(names(one.expect("paged")), names(many.expect("one page")));
    // Cluster-wide lists run per namespace (the role lets the service account list namespaces); one
    // cluster-wide list reads the same pods of this namespace.
    let whole =
        KubeCluster::new(e.sa.client().clone(), ctx.clone(), KubeOptions { list_concurrency: 1, ..Default::default() });
    let ours =
        |pods: Vec<incident_core::backend::Pod>| names(pods.into_iter().filter(|p| p.namespace == e.ns).collect());
    let (sharded, whole) = tokio::join!(e.sa.pods(None, &all), whole.pods(None, &all));
    assert_eq!(ours(sharded.expect("per namespace")), ours(whole.expect("cluster-wide")));
    let nss: Api<Namespace> = Api::all(e.sa.client().clone());
    nss.list(&kube::api::ListParams::default().limit(1)).await.expect("the role allows list namespaces");
    let (one, many) = tokio::join!(paged.events(Some(&e.ns)), e.sa.events(Some(&e.ns)));
    let (one, many) = (one.expect("paged events"), many.expect("events"));
    // (New events may land between the two reads.)
    assert!(one.len() >= 3 && many.len() >= 3, "{} paged, {} in one page", one.len(), many.len());

    // The application-rollback steps (the library's rollback, rollout wait and pod check) through the
    // engine: plan (reads live state), approve, run.
    let policy = Policy::default();
    let procedure = Procedure::new("application-rollback", "e2e")
        .step(Step::new(
            "rollback",
            "rollback",
            StepKind::Action(Action::RollbackDeployment {
                context: ctx.clone(),
                namespace: e.ns.clone(),
                name: "api".into(),
                to_revision: None,
            }),
        ))
        .step(
            Step::new(
                "wait-rollout",
                "rollback",
                StepKind::WaitUntil {
                    check: Check::RolloutComplete { context: ctx.clone(), namespace: e.ns.clone(), name: "api".into() },
                    timeout: HumanDuration::from_secs(120),
                    interval: HumanDuration::from_secs(1),
                },
            )
            .after(["rollback"]),
        )
        .step(
            Step::new(
                "pods-healthy",
                "verification",
                StepKind::check(Check::PodsHealthy {
                    context: ctx.clone(),
                    namespace: e.ns.clone(),
                    selector: BTreeMap::from([("app".into(), "api".into())]),
                    min_ready: 2,
                }),
            )
            .after(["wait-rollout"]),
        );
    let b = backends(&e);
    let plan = procedure.plan(&b, &policy).await.expect("plan against live state");
    let text = plan.to_string();
    assert!(text.contains("revision 2 -> 1"), "{text}");
    let approved = plan
        .approve(
            Approval::new("e2e", incident_core::clock::Clock::now(&incident_core::clock::SystemClock))
                .confirm_production(),
        )
        .expect("approve");
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let report = Executor::new(b, store, policy).run(approved, None).await.expect("run");
    assert!(report.steps.iter().all(|s| s.status == StepStatus::Succeeded), "{report:#?}");

    let api = e.sa.deployment(&e.ns, "api").await.expect("read").expect("exists");
    assert_eq!(api.images, vec!["api=registry.example/api:1"]);
    assert_eq!(api.revision, 3, "kubectl rollout undo makes the old ReplicaSet the newest revision");
    let st = e.sa.rollout_status(&e.ns, "api").await.expect("status");
    assert!(st.complete, "{st:?}");
    // The rollback patch carries our field manager: the apiserver records who changed the template
    // (a patch without one is recorded as `unknown`).
    let deps: Api<Deployment> = Api::namespaced(e.admin.clone(), &e.ns);
    let managed = deps.get("api").await.expect("read").metadata.managed_fields.unwrap_or_default();
    let ours: Vec<_> = managed.iter().filter(|m| m.manager.as_deref() == Some("incident-core")).collect();
    assert!(
        ours.iter().any(|m| m.operation.as_deref() == Some("Update")
            && m.fields_v1.as_ref().is_some_and(|f| f.0.pointer("/f:spec/f:template").is_some())),
        "{managed:#?}"
    );
    assert!(managed.iter().all(|m| m.manager.as_deref() != Some("unknown")), "{managed:#?}");
    cleanup(&e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_annotate_and_config_map_patch_each_undo_exactly() {
    let Some(e) = env("mitigate").await else { return };
    let ctx = e.sa.context().to_owned();
    deploy(&e, "web", "registry.example/web:1", false).await;
    let svc: Api<Service> = Api::namespaced(e.admin.clone(), &e.ns);
    svc.create(
        &PostParams::default(),
        &serde_json::from_value(serde_json::json!({"metadata": {"name": "web", "annotations": {"team": "ml"}},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}))
        .expect("svc"),
    )
    .await
    .expect("service");
    let cms: Api<ConfigMap> = Api::namespaced(e.admin.clone(), &e.ns);
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(serde_json::json!({"metadata": {"name": "app-config"},
            "data": {"read_only": "false", "pool": "10"}}))
        .expect("cm"),
    )
    .await
    .expect("config map");
    let b = backends(&e);

    // Scale 2 -> 4, then the recorded inverse back to 2.
    let plan =
        Action::ScaleDeployment { context: ctx.clone(), namespace: e.ns.clone(), name: "web".into(), replicas: 4 }
            .plan(&b)
            .await
            .expect("plan scale");
    plan.action.execute(&b).await.expect("scale");
    assert_eq!(e.sa.deployment(&e.ns, "web").await.expect("read").expect("exists").replicas, 4);
    let st = e.sa.wait_rollout(&e.ns, "web", Duration::from_secs(90)).await.expect("scaled rollout");
    assert!(st.complete);
    plan.compensate(&b).await.expect("undo scale");
    assert_eq!(e.sa.deployment(&e.ns, "web").await.expect("read").expect("exists").replicas, 2);

    // Circuit breaker annotation on, then off (annotation removed, others kept).
    let plan = Action::AnnotateService {
        context: ctx.clone(),
        namespace: e.ns.clone(),
        name: "web".into(),
        key: "circuit-breaker".into(),
        value: Some("enabled".into()),
    }
    .plan(&b)
    .await
    .expect("plan annotate");
    plan.action.execute(&b).await.expect("annotate");
    let s = e.sa.service(&e.ns, "web").await.expect("read").expect("exists");
    assert_eq!(s.annotations.get("circuit-breaker").map(String::as_str), Some("enabled"));
    plan.compensate(&b).await.expect("undo annotate");
    let s = e.sa.service(&e.ns, "web").await.expect("read").expect("exists");
    assert!(!s.annotations.contains_key("circuit-breaker"));
    assert_eq!(s.annotations.get("team").map(String::as_str), Some("ml"));

    // Config map: read-only mode on, then the previous value back.
    let plan = Action::PatchConfigMap {
        context: ctx.clone(),
        namespace: e.ns.clone(),
        name: "app-config".into(),
        data: BTreeMap::from([("read_only".into(), Some("true".into()))]),
    }
    .plan(&b)
    .await
    .expect("plan patch");
    plan.action.execute(&b).await.expect("patch");
    assert_eq!(e.sa.config_map(&e.ns, "app-config").await.expect("read").expect("exists").data["read_only"], "true");
    plan.compensate(&b).await.expect("undo patch");
    let cm = e.sa.config_map(&e.ns, "app-config").await.expect("read").expect("exists");
    assert_eq!(cm.data, BTreeMap::from([("read_only".into(), "false".into()), ("pool".into(), "10".into())]));
    cleanup(&e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_directory_is_server_side_applied_and_its_creation_undone() {
    let Some(e) = env("apply").await else { return };
    let ctx = e.sa.context().to_owned();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("10-config.yaml"),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: failover, namespace: {ns}}}\ndata: {{region: us-west-2}}\n---\n\
             apiVersion: v1\nkind: Service\nmetadata: {{name: api, namespace: {ns}}}\nspec: {{selector: {{app: api}}, ports: [{{port: 80}}]}}\n",
            ns = e.ns
        ),
    )
    .expect("write");
    let manifests = manifests_from_dir(dir.path()).expect("read dir");
    assert_eq!(manifests.len(), 2);
    let b = backends(&e);
    let plan = Action::ApplyManifests { context: ctx.clone(), manifests: manifests.clone() }
        .plan(&b)
        .await
        .expect("plan apply (reads live objects)");
    let out = plan.action.execute(&b).await.expect("apply");
    assert!(out.contains("created") || out.contains("applied"), "{out}");
    assert_eq!(e.sa.config_map(&e.ns, "failover").await.expect("read").expect("created").data["region"], "us-west-2");
    assert!(e.sa.service(&e.ns, "api").await.expect("read").is_some());
    // Applying again changes nothing.
    let again = e.sa.apply(&manifests, "incident-core").await.expect("re-apply");
    assert!(again.iter().all(|a| a.outcome == "unchanged"), "{again:?}");
    plan.compensate(&b).await.expect("undo apply");
    assert!(e.sa.config_map(&e.ns, "failover").await.expect("read").is_none(), "created objects are deleted");
    cleanup(&e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_outside_the_cluster_role_are_denied_and_reported() {
    let Some(e) = env("rbac").await else { return };
    let secret = incident_k8s::parse_manifests(
        &format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: s, namespace: {}}}\nstringData: {{k: v}}\n", e.ns),
        "secret.yaml",
    )
    .expect("parse");
    let err = e.sa.apply(&secret, "incident-core").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("forbidden") && msg.contains("system:serviceaccount:incident-core-system:incident-core"),
        "{msg}"
    );
    cleanup(&e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_from_endpoint_ca_and_token_works_like_eks_update_kubeconfig() {
    let Some(e) = env("token").await else { return };
    // What `aws eks update-kubeconfig` would give: the endpoint, the CA bundle and a bearer token; here
    // read from the service account's kubeconfig.
    let kc: serde_json::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(std::env::var("INCIDENT_TEST_KUBECONFIG_SA").expect("set")).expect("read"),
    )
    .expect("yaml");
    let server = kc["clusters"][0]["cluster"]["server"].as_str().expect("server");
    let ca = kc["clusters"][0]["cluster"]["certificate-authority-data"].as_str().expect("ca");
    let token = kc["users"][0]["user"]["token"].as_str().expect("token");
    use base64::Engine as _;
    let pem = base64::engine::general_purpose::STANDARD.decode(ca).expect("base64");
    let c = KubeCluster::from_token("secondary-eks", server, &pem, token).await.expect("client");
    assert_eq!(c.context(), "secondary-eks");
    let health = c.server_health().await.expect("health");
    assert!(health.live && health.ready);
    assert!(c.deployments(&e.ns).await.expect("list").is_empty());
    // Added to a context set, it is reachable by name next to the kubeconfig's contexts.
    let set = KubeClusters::load(&KubeconfigSpec {
        path: Some(std::env::var("INCIDENT_TEST_KUBECONFIG_SA").expect("set").into()),
        context: None,
    })
    .expect("load")
    .with_cluster("secondary-eks", Arc::new(c));
    assert!(set.contexts().contains(&"secondary-eks".to_owned()));
    assert_eq!(set.cluster("secondary-eks").await.expect("by name").context(), "secondary-eks");
    let bad = KubeCluster::from_token("x", "not a url", &pem, token).await;
    assert_eq!(bad.map(|_| ()).unwrap_err().kind(), ErrorKind::InvalidInput);
    cleanup(&e).await;
}
