//! Runbook "Testing and Validation → Validation Checklist" as one check: each item of the policy's
//! checklist (ids and wording in [`crate::drills::checklist`]) bound to the concrete checks that prove it.

use super::{API, HEALTH_URL, MODELS_URL, NS, s};
use crate::HumanDuration;
use crate::drills::checklist::ChecklistId;
use crate::engine::check::{Check, ChecklistBinding};
use crate::policy::Policy;

/// Where the validation checklist's concrete checks look.
#[derive(Debug, Clone, PartialEq)]
pub struct ChecklistTargets {
    /// Kubeconfig context.
    pub context: String,
    /// Namespace.
    pub namespace: String,
    /// Critical service (endpoints) and deployment (logs).
    pub service: String,
    /// `curl -f` health URL.
    pub health_url: String,
    /// Authentication endpoint (not automated when `None`).
    pub auth_url: Option<String>,
    /// Key user workflow URL and its latency budget.
    pub workflow_url: String,
    /// Slowest acceptable workflow response, ms.
    pub workflow_max_ms: u64,
    /// Monitoring endpoint (not automated when `None`).
    pub monitoring_url: Option<String>,
    /// Datastore probe for "database connections healthy".
    pub database_probe: String,
    /// Region and instance whose snapshots prove backups run.
    pub backup_region: String,
    /// Instance whose snapshots prove backups run.
    pub backup_instance: String,
    /// Oldest acceptable snapshot.
    pub backup_max_age: HumanDuration,
}

impl Default for ChecklistTargets {
    fn default() -> Self {
        Self {
            context: s("ml-platform-primary"),
            namespace: s(NS),
            service: s(API),
            health_url: s(HEALTH_URL),
            auth_url: None,
            workflow_url: s(MODELS_URL),
            workflow_max_ms: 2000,
            monitoring_url: None,
            database_probe: s("postgres"),
            backup_region: s("us-west-2"),
            backup_instance: s("ml-platform-prod"),
            backup_max_age: HumanDuration::from_hours(24),
        }
    }
}

/// The policy's validation checklist mapped onto concrete checks.
#[must_use]
pub fn validation_checklist(policy: &Policy, t: &ChecklistTargets) -> Check {
    let items = policy
        .validation_checklist
        .iter()
        .map(|item| {
            let checks = match item.id {
                ChecklistId::CriticalServicesResponding => vec![
                    Check::HttpHealth { url: t.health_url.clone() },
                    Check::EndpointsReady {
                        context: t.context.clone(),
                        namespace: t.namespace.clone(),
                        service: t.service.clone(),
                    },
                ],
                ChecklistId::DatabaseConnectionsHealthy => {
                    vec![Check::DatastoreHealthy { probe: t.database_probe.clone() }]
                }
                ChecklistId::AuthenticationWorking => {
                    t.auth_url.iter().map(|u| Check::HttpHealth { url: u.clone() }).collect()
                }
                ChecklistId::KeyUserWorkflowsFunctional => {
                    vec![Check::ResponseTime { url: t.workflow_url.clone(), max_ms: t.workflow_max_ms }]
                }
                ChecklistId::MonitoringAndAlertingOperational => {
                    t.monitoring_url.iter().map(|u| Check::HttpHealth { url: u.clone() }).collect()
                }
                ChecklistId::LogsBeingCollected => vec![Check::LogsCollected {
                    context: t.context.clone(),
                    namespace: t.namespace.clone(),
                    deployment: t.service.clone(),
                }],
                ChecklistId::BackupsRunningSuccessfully => vec![Check::RecentSnapshot {
                    region: t.backup_region.clone(),
                    instance: t.backup_instance.clone(),
                    max_age: t.backup_max_age,
                }],
            };
            ChecklistBinding { id: item.id, description: item.description.clone(), checks }
        })
        .collect();
    Check::ValidationChecklist { items }
}
