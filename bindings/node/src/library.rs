//! The library procedures with typed parameters: `trafficManagement(params)`, `applicationRollback`,
//! `databaseRecovery`, `regionFailure`, `databaseCorruption` (the builders of
//! `incident_core::engine::library`). Each takes an object of typed, optional fields (camelCase) over the
//! runbook defaults; the values are written as the string parameters of
//! `incident_core::engine::library::procedure_from_spec` (the CLI's `incident plan --param k=v`), which
//! decides every default and rule and names the parameter it rejects. Nothing is decided here.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use incident_core::drill_run as drill;
use incident_core::{Error as CoreError, Result as CoreResult};
use napi::bindgen_prelude::{Either, Either4, Object, Unknown};
use napi::{Env, ValueType};
use napi_derive::napi;

use crate::engine::Procedure;
use crate::error::{OrThrow, snake};
use crate::policy::{Policy, or_default};

/// One parameter value as JS gives it.
type ParamValue = Either4<String, f64, DateTime<Utc>, Vec<String>>;

/// The string parameters of `procedure_from_spec` from a typed parameter object: every own key (camelCase
/// → snake_case) with its value written as the CLI's `--param` would: a string as given, an integer as its
/// digits (any other number as JS prints it, which core rejects naming the parameter), a `Date` as RFC
/// 3339, an array of names comma-separated. `null` and `undefined` are absent. Unknown keys go through:
/// core rejects them, listing the known ones.
fn string_params(procedure: &str, params: Option<Object<'_>>) -> CoreResult<BTreeMap<String, String>> {
    let Some(obj) = params else { return Ok(BTreeMap::new()) };
    let keys = Object::keys(&obj).map_err(|e| CoreError::invalid_input(format!("procedure {procedure}: {e}")))?;
    let mut out = BTreeMap::new();
    for key in keys {
        let name = snake(&key);
        let bad = |_| {
            CoreError::invalid_input(format!(
                "procedure {procedure} param `{name}`: expected a string, a number, a Date or an array of strings"
            ))
        };
        let kind = obj.get::<Unknown<'_>>(&key).map_err(bad)?.map(|v| v.get_type()).transpose().map_err(bad)?;
        if matches!(kind, None | Some(ValueType::Null | ValueType::Undefined)) {
            continue;
        }
        let Some(value) = obj.get::<ParamValue>(&key).map_err(bad)? else { continue };
        let text = match value {
            Either4::A(s) => s,
            Either4::B(n) => number(n),
            Either4::C(at) => at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            Either4::D(names) => names.join(","),
        };
        out.insert(name, text);
    }
    Ok(out)
}

pub(crate) fn build(
    env: &Env,
    name: &str,
    params: Option<Object<'_>>,
    policy: Option<&Policy>,
) -> napi::Result<Procedure> {
    let built = string_params(name, params)
        .and_then(|params| drill::procedure_from_spec(name, &params, &or_default(policy)))
        .or_throw(env)?;
    Ok(Procedure { inner: built })
}

fn number(n: f64) -> String {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: integers below it are exact in an f64
    if n.is_finite() && n.fract() == 0.0 && n.abs() < EXACT {
        #[allow(clippy::cast_possible_truncation)] // checked: an integer of magnitude below 2^53
        let i = n as i64;
        i.to_string()
    } else {
        n.to_string()
    }
}

/// Parameters of `trafficManagement` (runbook "Traffic Management"); every field defaults to the runbook.
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct TrafficManagementParams {
    /// Kubeconfig context (`ml-platform-primary`).
    pub context: Option<String>,
    /// Namespace (`ml-platform`).
    pub namespace: Option<String>,
    /// Deployment to scale (`ml-inference-api`).
    pub deployment: Option<String>,
    /// Replicas to scale to (runbook `--replicas=10`): an integer >= 0.
    pub replicas: Option<f64>,
    /// Service whose endpoints must be ready.
    pub service: Option<String>,
    /// A degraded pod to delete, if any.
    pub degraded_pod: Option<String>,
}

/// Runbook "Traffic Management" with typed parameters (as `procedure('traffic-management', params)`).
/// Throws `invalid_input` naming a malformed parameter.
#[napi(
    catch_unwind,
    ts_args_type = "params?: TrafficManagementParams | undefined | null, policy?: Policy | undefined | null"
)]
pub fn traffic_management(env: Env, params: Option<Object<'_>>, policy: Option<&Policy>) -> napi::Result<Procedure> {
    build(&env, "traffic-management", params, policy)
}

/// Parameters of `applicationRollback` (runbook "Rollback Procedures").
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct ApplicationRollbackParams {
    /// Kubeconfig context.
    pub context: Option<String>,
    /// Namespace.
    pub namespace: Option<String>,
    /// Deployment to roll back (its pods, `app=<deployment>`, are checked afterwards).
    pub deployment: Option<String>,
    /// Revision to return to (the previous one when absent): an integer >= 0.
    pub to_revision: Option<f64>,
    /// Fewest healthy pods accepted afterwards (default 1).
    pub min_ready: Option<f64>,
    /// `curl -f` health URL.
    pub health_url: Option<String>,
    /// Most log lines matching "error" tolerated after the rollback (default 0).
    pub max_errors: Option<f64>,
    /// How long to wait for the rollout, a duration such as `'10m'` (the default) or `'1h30m'`.
    pub rollout_timeout: Option<String>,
}

/// Runbook "Rollback Procedures" with typed parameters (as `procedure('application-rollback', params)`).
/// Throws `invalid_input` naming a malformed parameter.
#[napi(
    catch_unwind,
    ts_args_type = "params?: ApplicationRollbackParams | undefined | null, policy?: Policy | undefined | null"
)]
pub fn application_rollback(env: Env, params: Option<Object<'_>>, policy: Option<&Policy>) -> napi::Result<Procedure> {
    build(&env, "application-rollback", params, policy)
}

/// Parameters of `databaseRecovery` (runbook "Database Recovery").
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct DatabaseRecoveryParams {
    /// `point-in-time` (default: restore `sourceInstance` to `targetInstance`) or `promote-read-replica`
    /// (promote `replicaInstance`).
    #[napi(ts_type = "'point-in-time' | 'promote-read-replica'")]
    pub mode: Option<String>,
    /// AWS region (`us-west-2`).
    pub region: Option<String>,
    /// Point in time: the instance restored from.
    pub source_instance: Option<String>,
    /// Point in time: the new instance.
    pub target_instance: Option<String>,
    /// Point in time: the instant restored to (latest restorable when absent): a `Date` or RFC 3339.
    #[napi(ts_type = "Date | string")]
    pub restore_time: Option<Either<DateTime<Utc>, String>>,
    /// Promotion: the read replica promoted.
    pub replica_instance: Option<String>,
    /// How long to wait for the instance to be available, a duration such as `'60m'` (the default).
    pub available_timeout: Option<String>,
}

/// Runbook "Database Recovery" with typed parameters (as `procedure('database-recovery', params)`).
/// Throws `invalid_input` naming a malformed parameter.
#[napi(
    catch_unwind,
    ts_args_type = "params?: DatabaseRecoveryParams | undefined | null, policy?: Policy | undefined | null"
)]
pub fn database_recovery(env: Env, params: Option<Object<'_>>, policy: Option<&Policy>) -> napi::Result<Procedure> {
    build(&env, "database-recovery", params, policy)
}

/// Parameters of `regionFailure` (runbook "Complete Region Failure").
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct RegionFailureParams {
    /// The failed region (informational).
    pub primary_region: Option<String>,
    /// The failed side's kube context (informational).
    pub primary_context: Option<String>,
    /// The region failed over to.
    pub secondary_region: Option<String>,
    /// The kube context of the secondary region.
    pub secondary_context: Option<String>,
    /// Namespace.
    pub namespace: Option<String>,
    /// Deployment scaled up in the secondary region.
    pub deployment: Option<String>,
    /// Replicas in the secondary region (runbook `--replicas=20`): an integer >= 0.
    pub replicas: Option<f64>,
    /// The read replica promoted.
    pub replica_instance: Option<String>,
    /// Restore this snapshot too (with `restoreTarget`).
    pub snapshot: Option<String>,
    /// The instance the snapshot is restored to.
    pub restore_target: Option<String>,
    /// The instance whose snapshot is restored.
    pub snapshot_instance: Option<String>,
    /// Route53 hosted zone (`Z123456789`).
    pub zone_id: Option<String>,
    /// The DNS record switched.
    pub record_name: Option<String>,
    /// The DNS record's new value.
    pub target: Option<String>,
    /// `curl -f` health URL.
    pub health_url: Option<String>,
}

/// Runbook "Complete Region Failure" with typed parameters (as `procedure('region-failure', params)`).
/// Throws `invalid_input` naming a malformed parameter.
#[napi(
    catch_unwind,
    ts_args_type = "params?: RegionFailureParams | undefined | null, policy?: Policy | undefined | null"
)]
pub fn region_failure(env: Env, params: Option<Object<'_>>, policy: Option<&Policy>) -> napi::Result<Procedure> {
    build(&env, "region-failure", params, policy)
}

/// Parameters of `databaseCorruption` (runbook "Database Corruption").
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct DatabaseCorruptionParams {
    /// Kubeconfig context.
    pub context: Option<String>,
    /// Namespace.
    pub namespace: Option<String>,
    /// The write services stopped during the restore: names, or one comma-separated string.
    pub deployment: Option<Either<String, Vec<String>>>,
    /// The config map switched to the restored instance.
    pub config_map: Option<String>,
    /// AWS region.
    pub region: Option<String>,
    /// The corrupted instance restored from.
    pub source_instance: Option<String>,
    /// The new instance.
    pub target_instance: Option<String>,
    /// The last known good instant restored to: a `Date` or RFC 3339.
    #[napi(ts_type = "Date | string")]
    pub restore_time: Option<Either<DateTime<Utc>, String>>,
    /// Datastore probe that must report healthy afterwards.
    pub probe: Option<String>,
}

/// Runbook "Database Corruption" with typed parameters (as `procedure('database-corruption', params)`).
/// Throws `invalid_input` naming a malformed parameter.
#[napi(
    catch_unwind,
    ts_args_type = "params?: DatabaseCorruptionParams | undefined | null, policy?: Policy | undefined | null"
)]
pub fn database_corruption(env: Env, params: Option<Object<'_>>, policy: Option<&Policy>) -> napi::Result<Procedure> {
    build(&env, "database-corruption", params, policy)
}
