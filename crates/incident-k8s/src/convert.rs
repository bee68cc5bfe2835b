//! Kubernetes API objects → the core's compact types. Conversions are pure, so they are unit-tested
//! without a server, and they drop everything triage does not need (a 50,000-pod list is converted page by
//! page and never held as full API objects).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use incident_core::backend::{
    ClusterEvent, ConfigMap, Deployment, Endpoints, Node, NodeCondition, Pod, Revision, Service,
};
use k8s_openapi::api::apps::v1::{Deployment as KDeployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap as KConfigMap, PodSpec, PodTemplateSpec, Service as KService};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use crate::wire;

/// `deployment.kubernetes.io/revision`.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// `kubernetes.io/change-cause`.
pub const CHANGE_CAUSE_ANNOTATION: &str = "kubernetes.io/change-cause";
/// The label the deployment controller adds to a ReplicaSet's template.
pub(crate) const POD_TEMPLATE_HASH: &str = "pod-template-hash";

pub(crate) fn time(t: &Time) -> DateTime<Utc> {
    let ts = t.0;
    DateTime::from_timestamp(ts.as_second(), ts.subsec_nanosecond().unsigned_abs()).unwrap_or_default()
}

fn name(m: &ObjectMeta) -> String {
    m.name.clone().unwrap_or_default()
}

fn namespace(m: &ObjectMeta) -> String {
    m.namespace.clone().unwrap_or_default()
}

fn u32_of(v: Option<i32>) -> u32 {
    v.and_then(|v| u32::try_from(v).ok()).unwrap_or(0)
}

fn u64_of(v: Option<i64>) -> u64 {
    v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0)
}

/// A revision annotation as a number (0 when absent or malformed, like kubectl).
pub(crate) fn revision_of(m: &ObjectMeta) -> u64 {
    m.annotations.as_ref().and_then(|a| a.get(REVISION_ANNOTATION)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// `container=image` for each container of a pod spec.
pub(crate) fn images(spec: Option<&PodSpec>) -> Vec<String> {
    spec.map(|s| s.containers.iter().map(|c| format!("{}={}", c.name, c.image.as_deref().unwrap_or(""))).collect())
        .unwrap_or_default()
}

fn template_images(t: Option<&PodTemplateSpec>) -> Vec<String> {
    images(t.and_then(|t| t.spec.as_ref()))
}

pub(crate) fn deployment(d: &KDeployment) -> Deployment {
    let spec = d.spec.as_ref();
    let status = d.status.as_ref();
    Deployment {
        namespace: namespace(&d.metadata),
        name: name(&d.metadata),
        replicas: u32_of(spec.and_then(|s| s.replicas).or(Some(1))),
        ready_replicas: u32_of(status.and_then(|s| s.ready_replicas)),
        updated_replicas: u32_of(status.and_then(|s| s.updated_replicas)),
        available_replicas: u32_of(status.and_then(|s| s.available_replicas)),
        generation: u64_of(d.metadata.generation),
        observed_generation: u64_of(status.and_then(|s| s.observed_generation)),
        revision: revision_of(&d.metadata),
        images: template_images(spec.map(|s| &s.template)),
        selector: spec.and_then(|s| s.selector.match_labels.clone()).unwrap_or_default().into_iter().collect(),
        annotations: d.metadata.annotations.clone().unwrap_or_default().into_iter().collect(),
    }
}

pub(crate) fn revision(rs: &ReplicaSet) -> Revision {
    Revision {
        revision: revision_of(&rs.metadata),
        replica_set: name(&rs.metadata),
        change_cause: rs.metadata.annotations.as_ref().and_then(|a| a.get(CHANGE_CAUSE_ANNOTATION)).cloned(),
        images: template_images(rs.spec.as_ref().and_then(|s| s.template.as_ref())),
        created_at: rs.metadata.creation_timestamp.as_ref().map(time),
    }
}

/// The pod's status as `kubectl get pods` derives it, plus the message a human needs: the scheduler's for
/// an unschedulable pod, the last termination for a crash loop (so `OOMKilled` is visible behind
/// `CrashLoopBackOff`).
pub(crate) fn pod(p: wire::Pod) -> Pod {
    let wire::Pod { metadata, spec, status } = p;
    let status = status.unwrap_or_default();
    let phase = status.phase.unwrap_or_else(|| "Unknown".into());
    let mut reason: Option<String> = status.reason;
    let mut message: Option<String> = status.message;
    let statuses = &status.container_statuses;
    let mut restarts = 0u32;
    let mut all_ready = !statuses.is_empty();
    for cs in statuses {
        restarts = restarts.saturating_add(u32::try_from(cs.restart_count).unwrap_or(0));
        all_ready &= cs.ready;
    }
    // Init containers first: a pod stuck initialising reports `Init:<reason>`.
    for cs in &status.init_container_statuses {
        if let Some(w) = cs.state.as_ref().and_then(|s| s.waiting.as_ref())
            && let Some(r) = w.reason.as_deref().filter(|r| !r.is_empty() && *r != "PodInitializing")
        {
            reason = Some(format!("Init:{r}"));
            message = w.message.clone().or(message);
        }
        if let Some(t) = cs.state.as_ref().and_then(|s| s.terminated.as_ref())
            && t.exit_code != 0
        {
            reason = Some(format!("Init:{}", t.reason.clone().unwrap_or_else(|| format!("ExitCode:{}", t.exit_code))));
        }
    }
    if reason.as_deref().is_none_or(|r| !r.starts_with("Init:")) {
        // kubectl walks containers from last to first, so the first container's reason wins.
        for cs in statuses.iter().rev() {
            let state = cs.state.as_ref();
            if let Some(w) = state.and_then(|s| s.waiting.as_ref())
                && let Some(r) = w.reason.as_deref().filter(|r| !r.is_empty())
            {
                reason = Some(r.to_owned());
                let last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref()).map(|t| {
                    format!("last terminated: {} (exit code {})", t.reason.as_deref().unwrap_or("Error"), t.exit_code)
                });
                message = match (w.message.clone(), last) {
                    (Some(m), Some(l)) => Some(format!("{m}; {l}")),
                    (m, l) => m.or(l),
                };
            } else if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
                let r = t.reason.clone().unwrap_or_else(|| match t.signal {
                    Some(sig) if sig != 0 => format!("Signal:{sig}"),
                    _ => format!("ExitCode:{}", t.exit_code),
                });
                if !(phase == "Succeeded" && t.exit_code == 0) {
                    reason = Some(r);
                    message = t.message.clone().or(message);
                }
            }
        }
    }
    if phase == "Pending" && reason.is_none() {
        // The scheduler's verdict lives in the PodScheduled condition.
        if let Some(c) = status.conditions.into_iter().find(|c| c.type_ == "PodScheduled" && c.status == "False") {
            reason = c.reason.or_else(|| Some("Unschedulable".into()));
            message = c.message;
        }
    }
    if metadata.deletion_timestamp.is_some() {
        reason = Some(if phase == "Unknown" { "Unknown".into() } else { "Terminating".into() });
    }
    Pod {
        template_hash: metadata.labels.get(POD_TEMPLATE_HASH).cloned(),
        namespace: metadata.namespace,
        name: metadata.name,
        ready: all_ready,
        reason,
        message,
        restarts,
        node: spec.node_name,
        labels: metadata.labels,
        images: spec
            .containers
            .into_iter()
            .map(|c| format!("{}={}", c.name, c.image.as_deref().unwrap_or("")))
            .collect(),
        memory_bytes: None,
        phase,
    }
}

pub(crate) fn node(n: wire::Node) -> Node {
    let conditions: Vec<NodeCondition> = n
        .status
        .conditions
        .into_iter()
        .map(|c| NodeCondition { kind: c.type_, status: c.status, reason: c.reason, message: c.message })
        .collect();
    let ready = conditions.iter().any(|c| c.kind == "Ready" && c.status == "True") && !n.spec.unschedulable;
    Node { name: n.metadata.name, ready, conditions, memory_bytes: None, cpu_millis: None }
}

pub(crate) fn service(s: &KService) -> Service {
    Service {
        namespace: namespace(&s.metadata),
        name: name(&s.metadata),
        selector: s.spec.as_ref().and_then(|s| s.selector.clone()).unwrap_or_default().into_iter().collect(),
        annotations: s.metadata.annotations.clone().unwrap_or_default().into_iter().collect(),
    }
}

/// One EndpointSlice, as much as triage reads: its namespace, its service (`kubernetes.io/service-name`)
/// and its addresses, ready and not ready (a nil `ready` means ready, as the EndpointSlice API says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Slice {
    pub namespace: String,
    pub service: Option<String>,
    pub ready: Vec<String>,
    pub not_ready: Vec<String>,
}

pub(crate) fn slice(s: &EndpointSlice) -> Slice {
    let mut out = Slice {
        namespace: namespace(&s.metadata),
        service: s.metadata.labels.as_ref().and_then(|l| l.get("kubernetes.io/service-name")).cloned(),
        ready: Vec::new(),
        not_ready: Vec::new(),
    };
    for ep in &s.endpoints {
        let ready = ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
        if ready {
            out.ready.extend(ep.addresses.iter().cloned())
        } else {
            out.not_ready.extend(ep.addresses.iter().cloned())
        }
    }
    out
}

/// Slices grouped by service (in the order given: a LIST's, or the watch cache's by name), ready and
/// not-ready addresses apart; slices of no service are skipped.
pub(crate) fn group<'a>(slices: impl IntoIterator<Item = &'a Slice>) -> Vec<Endpoints> {
    let mut by: BTreeMap<(String, String), Endpoints> = BTreeMap::new();
    for s in slices {
        let Some(svc) = &s.service else { continue };
        let e = by.entry((s.namespace.clone(), svc.clone())).or_insert_with(|| Endpoints {
            namespace: s.namespace.clone(),
            name: svc.clone(),
            ready: Vec::new(),
            not_ready: Vec::new(),
        });
        e.ready.extend(s.ready.iter().cloned());
        e.not_ready.extend(s.not_ready.iter().cloned());
    }
    by.into_values().collect()
}

/// EndpointSlices grouped by service (`kubernetes.io/service-name`), ready and not-ready addresses apart.
pub(crate) fn endpoints(slices: &[EndpointSlice]) -> Vec<Endpoints> {
    let slices: Vec<Slice> = slices.iter().map(slice).collect();
    group(&slices)
}

pub(crate) fn config_map(c: &KConfigMap) -> ConfigMap {
    ConfigMap {
        namespace: namespace(&c.metadata),
        name: name(&c.metadata),
        data: c.data.clone().unwrap_or_default().into_iter().collect(),
    }
}

pub(crate) fn event(e: wire::Event) -> ClusterEvent {
    let last =
        e.last_timestamp.or(e.event_time).or(e.first_timestamp).or(e.metadata.creation_timestamp).unwrap_or_default();
    let count = e.count.or_else(|| e.series.as_ref().and_then(|s| s.count)).unwrap_or(1);
    ClusterEvent {
        namespace: e.metadata.namespace,
        kind: e.type_.unwrap_or_else(|| "Normal".into()),
        reason: e.reason.unwrap_or_default(),
        object: format!(
            "{}/{}",
            e.involved_object.kind.as_deref().unwrap_or("?"),
            e.involved_object.name.as_deref().unwrap_or("?")
        ),
        message: e.message.unwrap_or_default(),
        last_timestamp: last,
        count: u32::try_from(count).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod_json(v: serde_json::Value) -> Pod {
        pod(serde_json::from_value::<wire::Pod>(v).expect("valid pod"))
    }

    #[test]
    fn crash_loop_shows_the_last_termination() {
        let p = pod_json(serde_json::json!({
            "metadata": {"name": "api-1", "namespace": "ml", "labels": {"pod-template-hash": "abc"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "api", "image": "api:2"}]},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": "api", "image": "api:2", "imageID": "", "ready": false, "restartCount": 7,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}},
                "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}
            }]}
        }));
        assert_eq!(p.reason.as_deref(), Some("CrashLoopBackOff"));
        assert!(p.message.as_deref().is_some_and(|m| m.contains("OOMKilled") && m.contains("137")), "{p:?}");
        assert_eq!(p.restarts, 7);
        assert!(!p.is_healthy());
        assert_eq!(p.template_hash.as_deref(), Some("abc"));
        assert_eq!(p.images, vec!["api=api:2"]);
    }

    #[test]
    fn unschedulable_pod_carries_the_scheduler_message() {
        let p = pod_json(serde_json::json!({
            "metadata": {"name": "w", "namespace": "ml"},
            "spec": {"containers": [{"name": "w", "image": "w:1"}]},
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient memory."}]}
        }));
        assert_eq!(p.display_status(), "Unschedulable");
        assert_eq!(p.message.as_deref(), Some("0/3 nodes are available: 3 Insufficient memory."));
    }

    #[test]
    fn running_ready_pod_is_healthy_and_terminating_is_not() {
        let mut v = serde_json::json!({
            "metadata": {"name": "ok", "namespace": "ml"},
            "spec": {"containers": [{"name": "c", "image": "c:1"}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "c", "image": "c:1", "imageID": "",
                "ready": true, "restartCount": 0, "state": {"running": {}}}]}
        });
        assert!(pod_json(v.clone()).is_healthy());
        v["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z".into();
        assert_eq!(pod_json(v).display_status(), "Terminating");
    }

    #[test]
    fn image_pull_and_init_failures() {
        let p = pod_json(serde_json::json!({
            "metadata": {"name": "i", "namespace": "ml"},
            "spec": {"containers": [{"name": "c", "image": "nope:1"}]},
            "status": {"phase": "Pending", "containerStatuses": [{"name": "c", "image": "nope:1", "imageID": "",
                "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ImagePullBackOff",
                "message": "Back-off pulling image \"nope:1\""}}}]}
        }));
        assert_eq!(p.display_status(), "ImagePullBackOff");
        let p = pod_json(serde_json::json!({
            "metadata": {"name": "j", "namespace": "ml"},
            "spec": {"containers": [{"name": "c", "image": "c:1"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [{"name": "migrate", "image": "m:1",
                "imageID": "", "ready": false, "restartCount": 3,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}
        }));
        assert_eq!(p.display_status(), "Init:CrashLoopBackOff");
    }

    #[test]
    fn node_readiness_and_cordon() {
        let n: wire::Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1"},
            "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady",
                "message": "PLEG is not healthy"}, {"type": "MemoryPressure", "status": "True"}]}
        }))
        .expect("node");
        let n = node(n);
        assert!(!n.ready);
        assert_eq!(n.conditions.len(), 2);
        let n: wire::Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n2"}, "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .expect("node");
        assert!(!node(n).ready, "a cordoned node is reported");
    }

    #[test]
    fn endpoint_slices_group_by_service() {
        let slices: Vec<EndpointSlice> = serde_json::from_value(serde_json::json!([
            {"metadata": {"name": "api-x", "namespace": "ml", "labels": {"kubernetes.io/service-name": "api"}},
             "addressType": "IPv4", "endpoints": [
                {"addresses": ["10.0.0.1"], "conditions": {"ready": true}},
                {"addresses": ["10.0.0.2"], "conditions": {"ready": false}},
                {"addresses": ["10.0.0.3"]}]},
            {"metadata": {"name": "db-x", "namespace": "ml", "labels": {"kubernetes.io/service-name": "db"}},
             "addressType": "IPv4", "endpoints": []}
        ]))
        .expect("slices");
        let e = endpoints(&slices);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].name, "api");
        assert_eq!(e[0].ready, vec!["10.0.0.1", "10.0.0.3"]);
        assert_eq!(e[0].not_ready, vec!["10.0.0.2"]);
        assert!(e[1].ready.is_empty());
    }
}
