//! `kubectl rollout history | undo | status` for Deployments, as pure functions over API objects.
//!
//! `undo` follows kubectl's `DeploymentRollbacker` exactly: the ReplicaSets the deployment controls
//! (controller owner reference), the target is the given revision or else the second-highest revision, a
//! paused deployment is refused, a target whose template already matches is a no-op ("skipped rollback"),
//! and the change is one JSON patch replacing `spec.template` (without `pod-template-hash`) and
//! `metadata.annotations` (the ReplicaSet's, minus the controller-owned ones, which keep the deployment's
//! values).

use incident_core::backend::{Revision, RolloutStatus};
use incident_core::{Error, Result};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use serde_json::{Value, json};

use crate::convert::{POD_TEMPLATE_HASH, revision, revision_of};

/// Annotations kept from the deployment, never copied from the ReplicaSet (kubectl's `annotationsToSkip`).
const ANNOTATIONS_TO_SKIP: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

/// ReplicaSets whose controller is `dep` (by UID), any order.
pub(crate) fn owned<'a>(dep: &Deployment, sets: &'a [ReplicaSet]) -> Vec<&'a ReplicaSet> {
    let Some(uid) = dep.metadata.uid.as_deref() else { return Vec::new() };
    sets.iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .as_deref()
                .unwrap_or_default()
                .iter()
                .any(|o| o.controller == Some(true) && o.uid == uid)
        })
        .collect()
}

/// `kubectl rollout history`: revisions oldest first.
pub(crate) fn history(dep: &Deployment, sets: &[ReplicaSet]) -> Vec<Revision> {
    let mut h: Vec<Revision> = owned(dep, sets).into_iter().map(revision).filter(|r| r.revision > 0).collect();
    h.sort_by_key(|r| r.revision);
    h
}

/// What `undo` will do.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Undo {
    /// The revision whose template becomes current.
    pub target: Revision,
    /// The JSON patch to send; `None` when the template already matches ("skipped rollback").
    pub patch: Option<Value>,
}

fn template_without_hash(v: Option<&Value>) -> Value {
    let mut t = v.cloned().unwrap_or(Value::Null);
    if let Some(labels) = t.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.remove(POD_TEMPLATE_HASH);
        if labels.is_empty()
            && let Some(m) = t.pointer_mut("/metadata").and_then(Value::as_object_mut)
        {
            m.remove("labels");
        }
    }
    t
}

/// Plan `kubectl rollout undo deployment/NAME [--to-revision=N]`.
pub(crate) fn undo(dep: &Deployment, sets: &[ReplicaSet], to_revision: Option<u64>) -> Result<Undo> {
    let name = dep.metadata.name.as_deref().unwrap_or_default();
    let all = owned(dep, sets);
    let rs = match to_revision {
        Some(0) | None => {
            let mut by_rev: Vec<&&ReplicaSet> = all.iter().filter(|rs| revision_of(&rs.metadata) > 0).collect();
            by_rev.sort_by_key(|rs| std::cmp::Reverse(revision_of(&rs.metadata)));
            *by_rev
                .get(1)
                .ok_or_else(|| Error::invalid_input(format!("no rollout history found for deployment {name:?}")))?
        }
        Some(n) => all.iter().find(|rs| revision_of(&rs.metadata) == n).ok_or_else(|| {
            Error::not_found(format!("unable to find specified revision {n} in history of deployment {name:?}"))
        })?,
    };
    if dep.spec.as_ref().is_some_and(|s| s.paused == Some(true)) {
        return Err(Error::refused(format!(
            "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume deployment/{name}' and try again"
        )));
    }
    let target = revision(rs);
    let rs_json = serde_json::to_value(rs).map_err(|e| Error::internal(format!("encode replicaset: {e}")))?;
    let dep_json = serde_json::to_value(dep).map_err(|e| Error::internal(format!("encode deployment: {e}")))?;
    let wanted = template_without_hash(rs_json.pointer("/spec/template"));
    let current = template_without_hash(dep_json.pointer("/spec/template"));
    if wanted == current {
        return Ok(Undo { target, patch: None });
    }
    let mut annotations = serde_json::Map::new();
    let dep_ann = dep.metadata.annotations.clone().unwrap_or_default();
    for k in ANNOTATIONS_TO_SKIP {
        if let Some(v) = dep_ann.get(k) {
            annotations.insert(k.to_owned(), json!(v));
        }
    }
    for (k, v) in rs.metadata.annotations.clone().unwrap_or_default() {
        if !ANNOTATIONS_TO_SKIP.contains(&k.as_str()) {
            annotations.insert(k, json!(v));
        }
    }
    let patch = json!([
        {"op": "replace", "path": "/spec/template", "value": wanted},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]);
    Ok(Undo { target, patch: Some(patch) })
}

/// `kubectl rollout status` at one instant (kubectl's `DeploymentStatusViewer` messages).
pub(crate) fn status(dep: &Deployment) -> RolloutStatus {
    let name = dep.metadata.name.as_deref().unwrap_or_default();
    let generation = dep.metadata.generation.unwrap_or(0);
    let st = dep.status.clone().unwrap_or_default();
    let waiting = |message: String| RolloutStatus { complete: false, failed: false, message };
    if generation > st.observed_generation.unwrap_or(0) {
        return waiting("Waiting for deployment spec update to be observed...".into());
    }
    let progressing = st.conditions.as_deref().unwrap_or_default().iter().find(|c| c.type_ == "Progressing");
    if progressing.is_some_and(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded")) {
        return RolloutStatus {
            complete: false,
            failed: true,
            message: format!("deployment {name:?} exceeded its progress deadline"),
        };
    }
    let desired = dep.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let updated = st.updated_replicas.unwrap_or(0);
    let replicas = st.replicas.unwrap_or(0);
    let available = st.available_replicas.unwrap_or(0);
    if updated < desired {
        return waiting(format!(
            "Waiting for deployment {name:?} rollout to finish: {updated} out of {desired} new replicas have been updated..."
        ));
    }
    if replicas > updated {
        return waiting(format!(
            "Waiting for deployment {name:?} rollout to finish: {} old replicas are pending termination...",
            replicas - updated
        ));
    }
    if available < updated {
        return waiting(format!(
            "Waiting for deployment {name:?} rollout to finish: {available} of {updated} updated replicas are available..."
        ));
    }
    RolloutStatus { complete: true, failed: false, message: format!("deployment {name:?} successfully rolled out") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(template_image: &str, revision: u64, paused: bool) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "api", "namespace": "ml", "uid": "d-1", "generation": 3,
                "annotations": {"deployment.kubernetes.io/revision": revision.to_string(), "team": "ml"}},
            "spec": {"replicas": 3, "paused": paused, "selector": {"matchLabels": {"app": "api"}},
                "template": {"metadata": {"labels": {"app": "api"}},
                    "spec": {"containers": [{"name": "api", "image": template_image}]}}},
            "status": {"observedGeneration": 3, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}
        }))
        .expect("deployment")
    }

    fn rs(name: &str, image: &str, revision: u64, owner: &str) -> ReplicaSet {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ml", "uid": format!("rs-{name}"),
                "annotations": {"deployment.kubernetes.io/revision": revision.to_string(),
                    "kubernetes.io/change-cause": format!("deploy {image}")},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "api", "uid": owner,
                    "controller": true}]},
            "spec": {"selector": {"matchLabels": {"app": "api"}},
                "template": {"metadata": {"labels": {"app": "api", "pod-template-hash": name}},
                    "spec": {"containers": [{"name": "api", "image": image}]}}}
        }))
        .expect("replicaset")
    }

    #[test]
    fn history_is_owned_and_sorted() {
        let d = dep("api:3", 3, false);
        let sets = vec![rs("c", "api:3", 3, "d-1"), rs("a", "api:1", 1, "d-1"), rs("x", "x:1", 9, "other")];
        let h = history(&d, &sets);
        assert_eq!(h.iter().map(|r| r.revision).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(h[0].change_cause.as_deref(), Some("deploy api:1"));
        assert_eq!(h[0].images, vec!["api=api:1"]);
    }

    #[test]
    fn undo_targets_the_previous_revision_and_strips_the_hash() {
        let d = dep("api:3", 3, false);
        let sets = vec![rs("a", "api:1", 1, "d-1"), rs("b", "api:2", 2, "d-1"), rs("c", "api:3", 3, "d-1")];
        let u = undo(&d, &sets, None).expect("undo");
        assert_eq!(u.target.revision, 2);
        let p = u.patch.expect("a patch");
        assert_eq!(p[0]["path"], "/spec/template");
        assert_eq!(p[0]["value"]["spec"]["containers"][0]["image"], "api:2");
        assert!(p[0]["value"]["metadata"]["labels"].get("pod-template-hash").is_none());
        // Controller-owned annotations keep the deployment's values; the rest come from the ReplicaSet.
        assert_eq!(p[1]["value"]["deployment.kubernetes.io/revision"], "3");
        assert_eq!(p[1]["value"]["kubernetes.io/change-cause"], "deploy api:2");
        assert!(p[1]["value"].get("team").is_none(), "kubectl replaces annotations wholesale");
        let u = undo(&d, &sets, Some(1)).expect("undo to 1");
        assert_eq!(u.target.revision, 1);
    }

    #[test]
    fn undo_refusals_and_noop() {
        let d = dep("api:1", 1, false);
        let only = vec![rs("a", "api:1", 1, "d-1")];
        assert_eq!(undo(&d, &only, None).unwrap_err().kind(), incident_core::ErrorKind::InvalidInput);
        assert_eq!(undo(&d, &only, Some(7)).unwrap_err().kind(), incident_core::ErrorKind::NotFound);
        let u = undo(&d, &only, Some(1)).expect("same template");
        assert!(u.patch.is_none(), "skipped rollback (current template already matches revision 1)");
        let paused = dep("api:2", 2, true);
        let sets = vec![rs("a", "api:1", 1, "d-1"), rs("b", "api:2", 2, "d-1")];
        assert_eq!(undo(&paused, &sets, None).unwrap_err().kind(), incident_core::ErrorKind::Refused);
    }

    #[test]
    fn status_messages_match_kubectl() {
        let mut d = dep("api:1", 1, false);
        assert!(status(&d).complete);
        assert_eq!(status(&d).message, "deployment \"api\" successfully rolled out");
        d.status.as_mut().expect("status").available_replicas = Some(1);
        assert_eq!(
            status(&d).message,
            "Waiting for deployment \"api\" rollout to finish: 1 of 3 updated replicas are available..."
        );
        d.status.as_mut().expect("status").updated_replicas = Some(1);
        assert!(status(&d).message.contains("1 out of 3 new replicas have been updated"));
        d.metadata.generation = Some(4);
        assert_eq!(status(&d).message, "Waiting for deployment spec update to be observed...");
        d.metadata.generation = Some(3);
        d.status.as_mut().expect("status").conditions = Some(vec![
            serde_json::from_value(json!({"type": "Progressing", "status": "False",
                "reason": "ProgressDeadlineExceeded"}))
            .expect("condition"),
        ]);
        let s = status(&d);
        assert!(s.failed && !s.complete);
    }
}
