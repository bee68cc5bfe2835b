//! Runbook "Testing and Validation → Validation Checklist" as one check: each item of the policy's
//! checklist (ids and wording in [`crate::drills::checklist`]) bound to the concrete checks that prove it,
//! where `policy.checklist_targets` says to look; and [`run_validation_checklist`], which works the
//! checklist through on live backends (`incident drills checklist --run`).

use crate::backend::Backends;
use crate::drills::CheckOutcome as ItemOutcome;
use crate::drills::checklist::{ChecklistId, ChecklistTargets, ValidationChecklist};
use crate::engine::check::FAILED;
use crate::engine::check::{Check, ChecklistBinding};
use crate::policy::Policy;

/// The policy's validation checklist mapped onto concrete checks, looking where `t` says (an empty
/// `t.context` is kept as is: [`run_validation_checklist`] fills in the backend's default context).
///
/// | Item | Checks |
/// |---|---|
/// | All critical services responding | `curl -f` each service's health URL; its endpoints have a ready address |
/// | Database connections healthy | each datastore probe reports healthy |
/// | Authentication working | STS `GetCallerIdentity`; `kubectl auth whoami`; each auth URL |
/// | Key user workflows functional | each workflow URL within its latency budget |
/// | Monitoring and alerting operational | each monitoring URL (Prometheus, Alertmanager `/-/ready`) |
/// | Logs being collected | each service's deployment returned a recent log line |
/// | Backups running successfully | newest available snapshot within its age; latest restorable time within its lag |
#[must_use]
pub fn validation_checklist(policy: &Policy, t: &ChecklistTargets) -> Check {
    Check::ValidationChecklist { items: bindings(policy, t) }
}

fn bindings(policy: &Policy, t: &ChecklistTargets) -> Vec<ChecklistBinding> {
    policy
        .validation_checklist
        .iter()
        .map(|item| ChecklistBinding {
            id: item.id,
            description: item.description.clone(),
            checks: checks_for(item.id, t),
        })
        .collect()
}

fn checks_for(id: ChecklistId, t: &ChecklistTargets) -> Vec<Check> {
    let context = || t.context.clone();
    let http = |urls: &[String]| urls.iter().map(|u| Check::HttpHealth { url: u.clone() }).collect::<Vec<_>>();
    match id {
        ChecklistId::CriticalServicesResponding => t
            .services
            .iter()
            .flat_map(|s| {
                let health = s.health_url.iter().map(|u| Check::HttpHealth { url: u.clone() });
                health.chain([Check::EndpointsReady {
                    context: context(),
                    namespace: s.namespace.clone(),
                    service: s.name.clone(),
                }])
            })
            .collect(),
        ChecklistId::DatabaseConnectionsHealthy => {
            t.datastores.iter().map(|p| Check::DatastoreHealthy { probe: p.clone() }).collect()
        }
        ChecklistId::AuthenticationWorking => {
            let a = &t.authentication;
            let mut checks: Vec<Check> =
                a.aws_region.iter().map(|r| Check::CallerIdentity { region: r.clone() }).collect();
            if a.kubernetes {
                checks.push(Check::KubeAccess { context: context() });
            }
            checks.extend(http(&a.urls));
            checks
        }
        ChecklistId::KeyUserWorkflowsFunctional => {
            t.workflows.iter().map(|w| Check::ResponseTime { url: w.url.clone(), max_ms: w.max_ms }).collect()
        }
        ChecklistId::MonitoringAndAlertingOperational => http(&t.monitoring),
        ChecklistId::LogsBeingCollected => t
            .services
            .iter()
            .map(|s| Check::LogsCollected {
                context: context(),
                namespace: s.namespace.clone(),
                deployment: s.name.clone(),
            })
            .collect(),
        ChecklistId::BackupsRunningSuccessfully => t
            .backups
            .iter()
            .flat_map(|b| {
                let snapshot = Check::RecentSnapshot {
                    region: b.region.clone(),
                    instance: b.instance.clone(),
                    max_age: b.max_snapshot_age,
                };
                let window = b.max_restore_lag.map(|max_lag| Check::RestoreWindow {
                    region: b.region.clone(),
                    instance: b.instance.clone(),
                    max_lag,
                });
                std::iter::once(snapshot).chain(window)
            })
            .collect(),
    }
}

/// Work the policy's validation checklist through on `b`: every item's checks from
/// `policy.checklist_targets` (an empty context means `b`'s default context), run at once, each item
/// recorded with its evidence ([`ValidationChecklist::report`] summarizes). An item with no targets stays
/// not checked, and the report has not passed ([`ValidationReport::all_passed`](crate::drills::ValidationReport::all_passed)); a backend that cannot
/// be read fails the items that needed it, naming the error, and the others are still checked.
pub async fn run_validation_checklist(b: &Backends, policy: &Policy) -> ValidationChecklist {
    let mut targets = policy.checklist_targets.clone();
    if targets.context.trim().is_empty() {
        targets.context = b.clusters.default_context();
    }
    let items = bindings(policy, &targets);
    let outcomes = futures::future::join_all(items.iter().map(|i| i.evaluate(b, policy))).await;
    let mut list = ValidationChecklist::from_policy(policy);
    for (item, o) in items.iter().zip(outcomes) {
        let outcome = match o.passed {
            Some(true) => ItemOutcome::Pass,
            Some(false) => ItemOutcome::Fail {
                reason: o.evidence.iter().filter_map(|e| e.strip_prefix(FAILED)).collect::<Vec<_>>().join("; "),
            },
            None => ItemOutcome::NotChecked,
        };
        list.record_with_evidence(item.id, outcome, o.evidence);
    }
    list
}
