//! Triage paths and a mitigation that had only met fakes, on the real test control plane
//! (`scripts/services`), as the `incident-core` service account: a NotReady node, a log scan by label
//! selector (kwok serves every container's log), recent changes from `git log --since` beside the
//! cluster's rollouts, and the runbook's `degraded` pod label set and undone through the kube adapter.

use std::time::Duration;

mod common;
use common::{Env, backends, cleanup, deploy, env};

use incident_core::backend::Cluster;
use incident_core::clock::{Clock as _, SystemClock};
use incident_core::engine::Action;
use incident_core::triage::{TriageOptions, TriageReport, triage};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};

async fn triage_until(e: &Env, opts: &TriageOptions, what: &str, ok: impl Fn(&TriageReport) -> bool) -> TriageReport {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let r = triage(&*e.sa, &[], opts, SystemClock.now()).await;
        if ok(&r) {
            return r;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}: {r:#?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The pods of deployment `app` in the test's namespace, by name.
async fn pod_names(e: &Env, app: &str) -> Vec<String> {
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(e.admin.clone(), &e.ns);
    let mut names: Vec<String> = pods
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .expect("list pods")
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_not_ready_node_is_reported_and_ready_ones_are_not() {
    let Some(e) = env("notready").await else { return };
    // Not a kwok node (kwok would keep it Ready), tainted so that nothing is scheduled on it, and its
    // kubelet's last word "not ready", as a node whose kubelet stopped would say.
    let name = format!("notready-{}", std::process::id());
    let nodes: Api<Node> = Api::all(e.admin.clone());
    let node: Node = serde_json::from_value(serde_json::json!({"metadata": {"name": name},
        "spec": {"taints": [{"key": "incident-core.dev/test", "value": "notready", "effect": "NoSchedule"}]}}))
    .expect("node");
    nodes.create(&PostParams::default(), &node).await.expect("create node");
    let now = SystemClock.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let status = serde_json::json!({"status": {"conditions": [{"type": "Ready", "status": "False",
        "reason": "KubeletNotReady", "message": "container runtime is down",
        "lastHeartbeatTime": now, "lastTransitionTime": now}]}});
    nodes.patch_status(&name, &PatchParams::default(), &Patch::Merge(status)).await.expect("node status");

    let opts = TriageOptions { namespace: e.ns.clone(), ..TriageOptions::default() };
    let r = triage_until(&e, &opts, "the node NotReady", |r| r.not_ready_nodes.iter().any(|n| n.name == name)).await;
    let n = r.not_ready_nodes.iter().find(|n| n.name == name).expect("the node");
    assert!(!n.ready);
    // The node lifecycle controller may have turned the kubelet's False into Unknown since: either way
    // the condition says why.
    let ready = n.conditions.iter().find(|c| c.kind == "Ready").expect("its Ready condition");
    assert_ne!(ready.status, "True", "{ready:?}");
    assert!(!r.not_ready_nodes.iter().any(|n| n.name == "kwok-e2e-0"), "{:?}", r.not_ready_nodes);
    assert!(r.render().contains(&name), "{}", r.render());
    nodes.delete(&name, &DeleteParams::default()).await.expect("delete node");
    cleanup(&e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_scanned_by_label_selector_and_recent_changes_include_git_commits() {
    let Some(e) = env("logsel").await else { return };
    let started = SystemClock.now() - chrono::TimeDelta::minutes(1);
    deploy(&e, "api", "registry.example/api:1", false).await;
    deploy(&e, "worker", "registry.example/worker:1", false).await;
    e.sa.wait_rollout(&e.ns, "api", Duration::from_secs(90)).await.expect("api rolls out");
    e.sa.wait_rollout(&e.ns, "worker", Duration::from_secs(90)).await.expect("worker rolls out");

    // A repository with one commit now and one from last week.
    let repo = tempfile::tempdir().expect("tempdir");
    let git = |args: &[&str], date: &str| {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=Dana", "-c", "user.email=dana@example.com", "-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(repo.path())
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let week_ago = (SystemClock.now() - chrono::TimeDelta::days(7)).to_rfc3339();
    git(&["init", "-q"], &week_ago);
    git(&["commit", "-q", "--allow-empty", "-m", "old: tune the pool"], &week_ago);
    git(&["commit", "-q", "--allow-empty", "-m", "api: raise the batch size"], &SystemClock.now().to_rfc3339());

    // Only the selected pods' logs are read (a selector alone names what to scan).
    let opts = TriageOptions {
        namespace: e.ns.clone(),
        log_selectors: vec!["app=api".into()],
        since: Some(started),
        git_repo: Some(repo.path().to_path_buf()),
        ..TriageOptions::default()
    };
    let r = triage_until(&e, &opts, "both api pods' logs", |r| r.logs.iter().any(|l| l.pods == 2)).await;
    assert_eq!(r.logs.len(), 1, "{:#?}", r.logs);
    let scan = &r.logs[0];
    assert!(scan.deployment.contains("app=api"), "{scan:?}");
    // kwok's log for every container has ERROR lines (deploy/kubernetes/kwok/stages.yaml).
    assert!(scan.lines > 0 && scan.error_lines > 0, "{scan:?}");
    assert!(scan.samples.iter().all(|s| s.to_lowercase().contains("error")), "{scan:?}");

    let changes = r.changes.as_ref().expect("recent changes");
    let subjects: Vec<&str> = changes.commits.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(subjects, ["api: raise the batch size"], "only commits since the triage's `since`");
    assert_eq!(changes.commits[0].author, "Dana");
    let mut rolled: Vec<&str> = changes.rollouts.iter().map(|r| r.deployment.as_str()).collect();
    rolled.sort_unstable();
    assert_eq!(rolled, [format!("{}/api", e.ns), format!("{}/worker", e.ns)], "{:#?}", changes.rollouts);
    assert!(r.missing.is_empty() || r.missing.iter().all(|m| m.section == "metrics"), "{:#?}", r.missing);

    // A selector that matches nothing is said to, not silently skipped.
    let none = TriageOptions { log_selectors: vec!["app=nothing".into()], since: None, git_repo: None, ..opts };
    let r = triage(&*e.sa, &[], &none, SystemClock.now()).await;
    assert!(r.logs.iter().all(|l| l.pods == 0), "{:#?}", r.logs);
    cleanup(&e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_degraded_label_is_set_on_a_pod_and_undone_through_the_kube_adapter() {
    let Some(e) = env("degraded").await else { return };
    deploy(&e, "api", "registry.example/api:1", false).await;
    e.sa.wait_rollout(&e.ns, "api", Duration::from_secs(90)).await.expect("rolls out");
    let pods = pod_names(&e, "api").await;
    let pod = pods.first().expect("a pod").clone();

    let b = backends(&e);
    let label = |value: Option<&str>| Action::LabelPod {
        context: e.sa.context().to_owned(),
        namespace: e.ns.clone(),
        pod: pod.clone(),
        key: "health".into(),
        value: value.map(str::to_owned),
    };
    let plan = label(Some("degraded")).plan(&b).await.expect("plan the label");
    assert!(!plan.is_noop(), "{plan:?}");
    plan.action.execute(&b).await.expect("label the pod");
    let labelled = |p: &incident_core::backend::Pod| p.labels.get("health").cloned();
    let live = e.sa.pods(Some(&e.ns), &Default::default()).await.expect("pods");
    let target = live.iter().find(|p| p.name == pod).expect("the pod");
    assert_eq!(labelled(target).as_deref(), Some("degraded"));
    // The other pod and the pod's own labels are untouched.
    assert!(live.iter().filter(|p| p.name != pod).all(|p| labelled(p).is_none()), "{live:#?}");
    assert_eq!(target.labels.get("app").map(String::as_str), Some("api"));
    assert!(label(Some("degraded")).plan(&b).await.expect("plan again").is_noop(), "idempotent");

    plan.compensate(&b).await.expect("undo the label");
    let live = e.sa.pods(Some(&e.ns), &Default::default()).await.expect("pods");
    let target = live.iter().find(|p| p.name == pod).expect("the pod");
    assert_eq!(labelled(target), None, "{target:?}");
    assert_eq!(target.labels.get("app").map(String::as_str), Some("api"));
    cleanup(&e).await;
}
