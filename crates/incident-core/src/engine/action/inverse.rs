//! Guard rails for inverses: the action compensation runs must restore exactly the state recorded as the
//! step's `before`, and passes the same rules as a forward action (`max_replicas`, scale-to-zero only in
//! the procedures that allow it, allow-lists, production confirmation).
//!
//! A plan carries each step's inverse, captured while planning. Nothing else checks it before
//! compensation executes it, so an inverse is checked here against the inverse derived again from the
//! step's resolved action and its `before` ([`Action::inverse_for`]), then through the guard rails.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Action, ObjectRef, apply_changes, inverse_changes};
use crate::backend::{Manifest, RecordSet};
use crate::engine::guard::{self, FindingLevel, GuardFinding};
use crate::policy::GuardRails;

/// What [`Action::inverse_for`] can say about the inverse of an action.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpectedInverse {
    /// The inverse is exactly this (`None`: the action has no inverse).
    Exactly(Option<Action>),
    /// The inverse cannot be derived from `before` alone (a rollback returns to the revision live while
    /// planning, which `before` does not record): it must be a [`Action::RollbackDeployment`] of the same
    /// deployment.
    RollbackOfSameDeployment,
}

impl Action {
    /// The inverse that restores exactly `before` (the live state the step manages, as planned), derived
    /// from the resolved action alone (no live state).
    #[must_use]
    pub fn inverse_for(&self, before: &Value) -> ExpectedInverse {
        let exactly = |a: Option<Self>| ExpectedInverse::Exactly(a);
        match self {
            Self::ScaleDeployment { context, namespace, name, .. }
            | Self::RestoreReplicas { context, namespace, name, .. } => {
                exactly(before.get("replicas").and_then(Value::as_u64).and_then(|v| u32::try_from(v).ok()).map(
                    |replicas| Self::ScaleDeployment {
                        context: context.clone(),
                        namespace: namespace.clone(),
                        name: name.clone(),
                        replicas,
                    },
                ))
            }
            Self::RollbackDeployment { .. } => ExpectedInverse::RollbackOfSameDeployment,
            Self::AnnotateService { context, namespace, name, key, .. } => exactly(Some(Self::AnnotateService {
                context: context.clone(),
                namespace: namespace.clone(),
                name: name.clone(),
                key: key.clone(),
                value: before.get("value").and_then(Value::as_str).map(str::to_owned),
            })),
            Self::LabelPod { context, namespace, pod, key, .. } => exactly(Some(Self::LabelPod {
                context: context.clone(),
                namespace: namespace.clone(),
                pod: pod.clone(),
                key: key.clone(),
                value: before.get("value").and_then(Value::as_str).map(str::to_owned),
            })),
            Self::PatchConfigMap { context, namespace, name, data } => {
                let prev: BTreeMap<String, Option<String>> = data
                    .keys()
                    .map(|k| {
                        (k.clone(), before.pointer(&format!("/data/{k}")).and_then(Value::as_str).map(str::to_owned))
                    })
                    .collect();
                exactly(Some(Self::PatchConfigMap {
                    context: context.clone(),
                    namespace: namespace.clone(),
                    name: name.clone(),
                    data: prev,
                }))
            }
            Self::ApplyManifests { context, manifests } => {
                let objects = before.get("objects").and_then(Value::as_array).cloned().unwrap_or_default();
                let mut restore = Vec::new();
                let mut delete = Vec::new();
                for (m, live) in manifests.iter().zip(objects.iter().chain(std::iter::repeat(&Value::Null))) {
                    if live.is_null() {
                        delete.push(ObjectRef::of(m));
                    } else {
                        restore.push(Manifest { body: live.clone(), ..m.clone() });
                    }
                }
                exactly(Some(Self::RevertManifests { context: context.clone(), restore, delete }))
            }
            Self::RevertManifests { .. }
            | Self::SwitchContext { .. }
            | Self::PromoteReadReplica { .. }
            | Self::DeleteDbInstance { .. } => exactly(None),
            Self::RdsPointInTimeRestore { region, target, .. }
            | Self::RdsRestoreFromSnapshot { region, target, .. } => {
                exactly(Some(Self::DeleteDbInstance { region: region.clone(), id: target.clone() }))
            }
            Self::Route53Change { zone_id, changes } => {
                let current: Vec<RecordSet> =
                    serde_json::from_value(before.get("records").cloned().unwrap_or(Value::Null)).unwrap_or_default();
                match apply_changes(&current, changes) {
                    Ok(after) => {
                        let inverse = inverse_changes(&current, &after);
                        exactly(
                            (!inverse.is_empty())
                                .then(|| Self::Route53Change { zone_id: zone_id.clone(), changes: inverse }),
                        )
                    }
                    // The forward change does not apply to `before`: no inverse restores it.
                    Err(_) => exactly(None),
                }
            }
        }
    }
}

fn describe(a: Option<&Action>) -> String {
    a.map_or_else(|| "none".to_owned(), Action::describe)
}

/// Check the inverse of step `step_id` (forward `action`, recorded `before`) of `procedure`: it restores
/// exactly `before`, and passes the guard rails. Findings are prefixed `inverse:`; rule `inverse` when it
/// does not restore `before`.
pub(crate) fn check_inverse(
    step_id: &str,
    action: &Action,
    before: &Value,
    inverse: Option<&Action>,
    procedure: &str,
    rails: &GuardRails,
) -> Vec<GuardFinding> {
    let mut out = Vec::new();
    let mismatch = match action.inverse_for(before) {
        ExpectedInverse::Exactly(expected) => (expected.as_ref() != inverse).then(|| describe(expected.as_ref())),
        ExpectedInverse::RollbackOfSameDeployment => match (action, inverse) {
            (
                Action::RollbackDeployment { context, namespace, name, .. },
                Some(Action::RollbackDeployment { context: c, namespace: n, name: m, to_revision: Some(_) }),
            ) if c == context && n == namespace && m == name => None,
            (Action::RollbackDeployment { context, namespace, name, .. }, _) => {
                Some(format!("a rollback of deployment {namespace}/{name} in context {context}"))
            }
            _ => Some("none".to_owned()),
        },
    };
    if let Some(expected) = mismatch {
        out.push(GuardFinding {
            step_id: step_id.into(),
            level: FindingLevel::Refused,
            rule: "inverse".into(),
            message: format!(
                "inverse: {} does not restore the recorded before {} (expected: {expected})",
                describe(inverse),
                crate::canon::canonical(before)
            ),
        });
    }
    if let Some(inv) = inverse {
        for mut f in guard::evaluate(step_id, inv, procedure, rails) {
            f.message = format!("inverse: {}", f.message);
            out.push(f);
        }
    }
    out
}
