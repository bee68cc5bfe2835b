//! What triage and the cloud checks found, as the facts matching rules test: [`Findings`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::backend::{Cloud, HealthEvent};
use crate::triage::TriageReport;

/// Triage and cloud findings a rule can test.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Findings {
    /// Deployment rollouts.
    pub rollouts: Vec<RolloutFinding>,
    /// Deployments whose pods crash-loop.
    pub crash_looping: Vec<CrashLoop>,
    /// Configuration changes (ConfigMaps, Secrets, pod templates that kept their images).
    pub config_changes: Vec<ConfigChange>,
    /// AWS Health events.
    pub health_events: Vec<HealthEvent>,
    /// Regions that did not answer (`aws sts get-caller-identity --region R` failed).
    pub unreachable_regions: Vec<String>,
    /// Failed data-integrity checks.
    pub failed_integrity_checks: Vec<IntegrityFailure>,
}

/// A deployment revision rolled out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutFinding {
    /// Namespace.
    pub namespace: String,
    /// Deployment name.
    pub name: String,
    /// The new revision.
    pub revision: u64,
    /// The revision before it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_revision: Option<u64>,
    /// When the revision's ReplicaSet was created.
    pub at: DateTime<Utc>,
    /// `kubernetes.io/change-cause`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_cause: Option<String>,
    /// The suspected commit: one named in the change cause, else the newest commit before the rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// Pods of one deployment in CrashLoopBackOff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CrashLoop {
    /// Namespace.
    pub namespace: String,
    /// Deployment name.
    pub deployment: String,
    /// Pods crash-looping.
    pub pods: usize,
}

/// A configuration change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigChange {
    /// Namespace.
    pub namespace: String,
    /// What changed: `ConfigMap/app-config`, `Deployment/api revision 4 (same images)`.
    pub object: String,
    /// The deployment it belongs to, when known (any deployment of the namespace when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A failed data-integrity check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrityFailure {
    /// Datastore (`postgres`).
    pub datastore: String,
    /// Check name (`recent_transactions`).
    pub check: String,
    /// Detail.
    #[serde(default)]
    pub detail: String,
}

impl Findings {
    /// The findings of a triage report: its recent rollouts (with the previous revision from the rollout
    /// history and the suspected commit), deployments whose pods crash-loop, configuration changes
    /// (ConfigMap/Secret events, rollouts that kept their images) and failed `integrity:` probe findings.
    /// AWS Health events and unreachable regions come from the cloud checks, not from triage.
    #[must_use]
    pub fn from_triage(report: &TriageReport) -> Self {
        let mut out = Self::default();
        let mut history: BTreeMap<(String, String), Vec<crate::backend::Revision>> = BTreeMap::new();
        for d in &report.degraded_deployments {
            let key = (d.deployment.namespace.clone(), d.deployment.name.clone());
            history.entry(key).or_default().extend(d.history.iter().cloned());
        }
        let changes = report.changes.as_ref();
        for r in changes.map(|c| c.rollouts.as_slice()).unwrap_or_default() {
            let (ns, name) = r.deployment.split_once('/').unwrap_or(("", r.deployment.as_str()));
            history.entry((ns.to_owned(), name.to_owned())).or_default().push(r.revision.clone());
        }
        for r in changes.map(|c| c.rollouts.as_slice()).unwrap_or_default() {
            let Some(at) = r.revision.created_at else { continue };
            let (ns, name) = r.deployment.split_once('/').unwrap_or(("", r.deployment.as_str()));
            let known = history.get(&(ns.to_owned(), name.to_owned()));
            let previous =
                known.into_iter().flatten().filter(|h| h.revision < r.revision.revision).max_by_key(|h| h.revision);
            let commits = changes.map(|c| c.commits.as_slice()).unwrap_or_default();
            let cause = r.revision.change_cause.as_deref().unwrap_or_default();
            let commit = commits
                .iter()
                .find(|c| !c.id.is_empty() && cause.contains(&c.id))
                .or_else(|| commits.iter().filter(|c| c.at <= at).max_by_key(|c| c.at))
                .map(|c| c.id.clone());
            out.rollouts.push(RolloutFinding {
                namespace: ns.to_owned(),
                name: name.to_owned(),
                revision: r.revision.revision,
                previous_revision: previous.map(|p| p.revision),
                at,
                change_cause: r.revision.change_cause.clone(),
                commit,
            });
            if previous.is_some_and(|p| !p.images.is_empty() && p.images == r.revision.images) {
                out.config_changes.push(ConfigChange {
                    namespace: ns.to_owned(),
                    object: format!("Deployment/{name} revision {} (same images)", r.revision.revision),
                    deployment: Some(name.to_owned()),
                    at,
                });
            }
        }
        for e in report.recent_events.iter().chain(&report.warning_events) {
            if (e.object.starts_with("ConfigMap/") || e.object.starts_with("Secret/"))
                && !out.config_changes.iter().any(|c| c.object == e.object && c.namespace == e.namespace)
            {
                out.config_changes.push(ConfigChange {
                    namespace: e.namespace.clone(),
                    object: e.object.clone(),
                    deployment: None,
                    at: e.last_timestamp,
                });
            }
        }
        let mut loops: BTreeMap<(String, String), usize> = BTreeMap::new();
        for p in report.unhealthy_pods.iter().filter(|p| p.reason.as_deref() == Some("CrashLoopBackOff")) {
            let owner = report
                .degraded_deployments
                .iter()
                .map(|d| &d.deployment)
                .find(|d| {
                    d.namespace == p.namespace
                        && !d.selector.is_empty()
                        && d.selector.iter().all(|(k, v)| p.labels.get(k) == Some(v))
                })
                .map(|d| d.name.clone())
                .or_else(|| deployment_of_pod(&p.name, p.template_hash.as_deref()));
            if let Some(owner) = owner {
                *loops.entry((p.namespace.clone(), owner)).or_default() += 1;
            }
        }
        out.crash_looping = loops
            .into_iter()
            .map(|((namespace, deployment), pods)| CrashLoop { namespace, deployment, pods })
            .collect();
        for d in &report.datastores {
            for f in d.findings.iter().filter(|f| !f.ok) {
                if let Some(check) = f.check.strip_prefix("integrity:") {
                    out.failed_integrity_checks.push(IntegrityFailure {
                        datastore: d.name.clone(),
                        check: check.to_owned(),
                        detail: f.detail.clone(),
                    });
                }
            }
        }
        out
    }
}

impl Findings {
    /// The runbook's "Immediate Assessment" of `regions` (the primary first): a region whose
    /// `sts get-caller-identity` fails as unavailable or timed out is unreachable; open AWS Health events
    /// for `services` are kept. A failing Health call adds nothing (it cannot tell either way).
    pub async fn from_cloud(cloud: &dyn Cloud, regions: &[String], services: &[String]) -> Self {
        let mut out = Self::default();
        for region in regions {
            if let Err(e) = cloud.caller_identity(region).await {
                if matches!(e.kind(), crate::ErrorKind::Unavailable | crate::ErrorKind::Timeout) {
                    out.unreachable_regions.push(region.clone());
                }
            }
            if let Ok(events) = cloud.health_events(region, services).await {
                out.health_events.extend(events);
            }
        }
        out
    }

    /// Add `other`'s findings to these.
    pub fn extend(&mut self, other: Self) {
        self.rollouts.extend(other.rollouts);
        self.crash_looping.extend(other.crash_looping);
        self.config_changes.extend(other.config_changes);
        self.health_events.extend(other.health_events);
        self.unreachable_regions.extend(other.unreachable_regions);
        self.failed_integrity_checks.extend(other.failed_integrity_checks);
    }
}

/// `api-7d9f8-x2x4q` with template hash `7d9f8` → `api`.
fn deployment_of_pod(pod: &str, hash: Option<&str>) -> Option<String> {
    let hash = hash?;
    let (rest, _) = pod.rsplit_once('-')?;
    rest.strip_suffix(hash).and_then(|r| r.strip_suffix('-')).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_names_lead_to_their_deployment() {
        assert_eq!(deployment_of_pod("ml-api-7d9f8-x2x4q", Some("7d9f8")).as_deref(), Some("ml-api"));
        assert_eq!(deployment_of_pod("ml-api-x2x4q", Some("7d9f8")), None);
        assert_eq!(deployment_of_pod("ml-api-7d9f8-x2x4q", None), None);
    }
}
