//! The runbook's procedures as builders, one file per procedure. Each builder's `Default` carries the
//! runbook's values (the ML platform's names, `--replicas=10`, `--replicas=20`, zone `Z123456789`, ...);
//! change fields and call `build(&policy)` to get a [`Procedure`] value you can print, diff, edit, plan
//! and run.
//!
//! | Runbook section | Procedure name | Builder |
//! |---|---|---|
//! | Mitigation Strategies → Traffic Management | `traffic-management` | [`TrafficManagement`] |
//! | Mitigation Strategies → Rollback Procedures | `application-rollback` | [`ApplicationRollback`] |
//! | Mitigation Strategies → Database Recovery | `database-recovery` | [`DatabaseRecovery`] |
//! | Disaster Recovery Scenarios → Complete Region Failure | `region-failure` | [`RegionFailure`] |
//! | Disaster Recovery Scenarios → Database Corruption | `database-corruption` | [`DatabaseCorruption`] |
//! | Testing and Validation → Validation Checklist | (a check) | [`validation_checklist`] |
//!
//! Deprecated names are still accepted on input ([`by_name`], [`procedure_from_spec`], scenario files,
//! policy `stage_budgets` keys) and mean the current one: see [`DEPRECATED_NAMES`].
//!
//! Stage deadlines come from `policy.stage_budgets[procedure][stage]` where the runbook sets one.
//! Independent steps are independent in the DAG (e.g. in a region failure the DNS change and the
//! replica promotion both follow the assessment and run concurrently), so the critical path is short.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::check::Check;
use super::procedure::{Procedure, Step, StepKind};
use crate::policy::Policy;
use crate::{Error, HumanDuration, Result};

mod application_rollback;
mod database_corruption;
mod database_recovery;
mod region_failure;
mod traffic_management;
mod validation_checklist;

pub use crate::drills::ChecklistTargets;
pub use application_rollback::ApplicationRollback;
pub use database_corruption::DatabaseCorruption;
pub use database_recovery::{DatabaseRecovery, RecoveryMode};
pub use region_failure::{RegionFailure, SnapshotRestore};
pub use traffic_management::TrafficManagement;
pub use validation_checklist::{run_validation_checklist, validation_checklist};

/// Procedure names of the library.
pub const NAMES: [&str; 5] =
    ["traffic-management", "application-rollback", "database-recovery", "region-failure", "database-corruption"];

/// Deprecated procedure names still accepted on input, and the name each now stands for (kept with the
/// policy, whose `stage_budgets` are keyed by procedure name).
pub use crate::policy::{DEPRECATED_PROCEDURE_NAMES as DEPRECATED_NAMES, canonical_procedure_name as canonical_name};

const NS: &str = "ml-platform";
const API: &str = "ml-inference-api";
const HEALTH_URL: &str = "https://api.ml-platform.com/health";

fn s(v: &str) -> String {
    v.to_owned()
}

fn app_selector(app: &str) -> BTreeMap<String, String> {
    [(s("app"), s(app))].into()
}

fn budget(policy: &Policy, procedure: &str, stage: &str) -> Option<HumanDuration> {
    policy.stage_budget(procedure, stage)
}

fn wait(check: Check, timeout: HumanDuration) -> StepKind {
    StepKind::WaitUntil { check, timeout, interval: HumanDuration::from_secs(10) }
}

/// Step `id` of stage `stage`: wait up to `timeout` for the rollout of `deployment` to complete
/// (`kubectl rollout status`).
fn wait_rollout(
    id: &str,
    stage: &str,
    context: &str,
    namespace: &str,
    deployment: &str,
    timeout: HumanDuration,
) -> Step {
    let check = Check::RolloutComplete { context: s(context), namespace: s(namespace), name: s(deployment) };
    Step::new(id, stage, wait(check, timeout))
}

/// The verification every service procedure ends with: at least `min_ready` pods matching `selector`
/// are ready (`pods-healthy`), and the public health endpoint answers (`http-health`).
fn verify_service(
    context: &str,
    namespace: &str,
    selector: &BTreeMap<String, String>,
    min_ready: u32,
    health_url: &str,
) -> (Step, Step) {
    let pods =
        Check::PodsHealthy { context: s(context), namespace: s(namespace), selector: selector.clone(), min_ready };
    (
        Step::new("pods-healthy", "verification", StepKind::check(pods)),
        Step::new("http-health", "verification", StepKind::check(Check::HttpHealth { url: s(health_url) })),
    )
}

/// A library procedure by name (or deprecated alias) with its runbook defaults.
///
/// # Errors
/// `NotFound` listing the known names.
pub fn by_name(name: &str, policy: &Policy) -> Result<Procedure> {
    Ok(match canonical_name(name) {
        "traffic-management" => TrafficManagement::default().build(policy),
        "application-rollback" => ApplicationRollback::default().build(policy),
        "database-recovery" => DatabaseRecovery::default().build(policy),
        "region-failure" => RegionFailure::default().build(policy),
        "database-corruption" => DatabaseCorruption::default().build(policy),
        _ => {
            return Err(Error::not_found(format!("no library procedure {name:?}; known: {}", NAMES.join(", "))));
        }
    })
}

/// A procedure's string parameters (from a scenario file, `--param k=v` or a binding), consumed by the
/// builders' `from_params`; every key given must be consumed.
pub(super) struct Params<'a> {
    procedure: &'a str,
    map: &'a BTreeMap<String, String>,
    used: std::cell::RefCell<Vec<&'static str>>,
}

impl<'a> Params<'a> {
    pub(super) fn str(&self, key: &'static str, target: &mut String) {
        self.used.borrow_mut().push(key);
        if let Some(v) = self.map.get(key) {
            v.clone_into(target);
        }
    }

    pub(super) fn opt(&self, key: &'static str) -> Option<String> {
        self.used.borrow_mut().push(key);
        self.map.get(key).cloned()
    }

    pub(super) fn num<T: std::str::FromStr>(&self, key: &'static str) -> Result<Option<T>> {
        self.used.borrow_mut().push(key);
        self.map
            .get(key)
            .map(|v| {
                v.trim().parse::<T>().map_err(|_| {
                    Error::invalid_input(format!("procedure {} param `{key}`: {v:?} is not a number", self.procedure))
                })
            })
            .transpose()
    }

    pub(super) fn time(&self, key: &'static str) -> Result<Option<DateTime<Utc>>> {
        self.used.borrow_mut().push(key);
        self.map
            .get(key)
            .map(|v| {
                DateTime::parse_from_rfc3339(v).map(|t| t.with_timezone(&Utc)).map_err(|e| {
                    Error::invalid_input(format!("procedure {} param `{key}`: {v:?}: {e}", self.procedure))
                })
            })
            .transpose()
    }

    pub(super) fn duration(&self, key: &'static str, target: &mut HumanDuration) -> Result<()> {
        self.used.borrow_mut().push(key);
        if let Some(v) = self.map.get(key) {
            *target = v
                .parse()
                .map_err(|e| Error::invalid_input(format!("procedure {} param `{key}`: {e}", self.procedure)))?;
        }
        Ok(())
    }

    /// Every given key must have been consumed.
    pub(super) fn finish(&self) -> Result<()> {
        let used = self.used.borrow();
        let unknown: Vec<&str> = self.map.keys().map(String::as_str).filter(|k| !used.contains(k)).collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let mut known: Vec<&str> = used.clone();
        known.sort_unstable();
        known.dedup();
        Err(Error::invalid_input(format!(
            "procedure {}: unknown param(s) {} (known: {})",
            self.procedure,
            unknown.join(", "),
            known.join(", ")
        )))
    }
}

/// Build library procedure `name` (or a deprecated alias) with string `params` over its runbook defaults.
///
/// Accepted params per procedure (all optional):
/// * `traffic-management`: `context`, `namespace`, `deployment`, `replicas`, `service`, `degraded_pod`.
/// * `application-rollback`: `context`, `namespace`, `deployment`, `to_revision`, `min_ready`,
///   `health_url`, `max_errors`, `rollout_timeout`.
/// * `database-recovery`: `mode` (`point-in-time` | `promote-read-replica`), `region`, `source_instance`,
///   `target_instance`, `restore_time`, `replica_instance`, `available_timeout`.
/// * `region-failure`: `primary_region`, `primary_context` (informational: the failed side),
///   `secondary_region`, `secondary_context`, `namespace`, `deployment`, `replicas`, `replica_instance`,
///   `snapshot` + `restore_target` (+ `snapshot_instance`), `zone_id`, `record_name`, `target`,
///   `health_url`.
/// * `database-corruption`: `context`, `namespace`, `deployment` (comma-separated write services),
///   `config_map`, `region`, `source_instance`, `target_instance`, `restore_time` (last known good),
///   `probe`.
///
/// # Errors
/// `NotFound` for an unknown procedure; `InvalidInput` naming an unknown or malformed param.
pub fn procedure_from_spec(name: &str, params: &BTreeMap<String, String>, policy: &Policy) -> Result<Procedure> {
    let name = canonical_name(name);
    let p = Params { procedure: name, map: params, used: std::cell::RefCell::new(Vec::new()) };
    let procedure = match name {
        "traffic-management" => TrafficManagement::from_params(&p)?.build(policy),
        "application-rollback" => ApplicationRollback::from_params(&p)?.build(policy),
        "database-recovery" => DatabaseRecovery::from_params(&p)?.build(policy),
        "region-failure" => RegionFailure::from_params(&p)?.build(policy),
        "database-corruption" => DatabaseCorruption::from_params(&p)?.build(policy),
        other => return by_name(other, policy),
    };
    p.finish()?;
    procedure.validate()?;
    Ok(procedure)
}
