//! Scenarios as data: the YAML files under `crates/incident-core/scenarios/` (embedded in the binary).
//! The file format is documented on the [`crate::sim`] module.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::faults::{Faults, duration_text};
use crate::drills::DrillKind;
use crate::{Error, HumanDuration, Result};

/// The embedded scenario files, by name.
const BUILTIN: &[(&str, &str)] = &[
    ("bad-deploy", include_str!("../../scenarios/bad-deploy.yaml")),
    ("region-failure", include_str!("../../scenarios/region-failure.yaml")),
    ("database-corruption", include_str!("../../scenarios/database-corruption.yaml")),
    ("database-failover", include_str!("../../scenarios/database-failover.yaml")),
    ("application-rollback", include_str!("../../scenarios/application-rollback.yaml")),
    ("regional-failover", include_str!("../../scenarios/regional-failover.yaml")),
    ("full-disaster-recovery", include_str!("../../scenarios/full-disaster-recovery.yaml")),
];

/// Deprecated built-in scenario names still accepted on input, and the name each now stands for.
///
/// * `db-corruption` → `database-corruption` (runbook "Database Corruption"; the procedure has the same
///   name).
pub const DEPRECATED_NAMES: [(&str, &str); 1] = [("db-corruption", "database-corruption")];

/// Procedure names a scenario may ask for (deprecated procedure names, listed in
/// [`DEPRECATED_PROCEDURE_NAMES`](crate::policy::DEPRECATED_PROCEDURE_NAMES), are accepted too).
pub const PROCEDURES: [&str; 5] =
    ["application-rollback", "region-failure", "database-corruption", "database-recovery", "traffic-management"];

/// One scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Stable kebab-case name (the file name without `.yaml`).
    pub name: String,
    /// One paragraph describing what goes wrong.
    pub description: String,
    /// The monthly drill this scenario exercises, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<DrillKind>,
    /// Overrides of the standard world.
    #[serde(default)]
    pub world: WorldSpec,
    /// Things that happen at a virtual offset from the start.
    #[serde(default)]
    pub events: Vec<TimedEvent>,
    /// Signals to feed the detector and classifier.
    #[serde(default)]
    pub signals: Signals,
    /// The incident's facts.
    pub incident: IncidentSpec,
    /// The procedure to run and its parameters.
    pub procedure: ProcedureSpec,
    /// End-state assertions after the procedure ran.
    #[serde(default)]
    pub expect: Expectations,
}

/// The initial world; every field has the standard ML platform as default.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorldSpec {
    /// Virtual start time (default `2026-11-06T15:00:00Z`, a first-Friday drill slot).
    pub start: Option<DateTime<Utc>>,
    /// Regions, replacing the default pair `us-west-2` (primary) / `us-east-1` (secondary).
    pub regions: Option<Vec<RegionSpec>>,
    /// Deployments, merged over the defaults by (namespace, name): `ml-inference-api`, `postgres`,
    /// `redis` in `ml-platform`, `coredns` in `kube-system`.
    pub deployments: Vec<DeploymentSpec>,
    /// Per-image pod behaviour, merged over the defaults (`ml-inference-api:v2.1.0` crash-loops).
    pub images: BTreeMap<String, ImageBehavior>,
    /// Data of the `app-config` config map in `ml-platform`, merged over `{read_only: "false", ...}`.
    pub app_config: BTreeMap<String, String>,
    /// Latency model (each field optional).
    pub latency: Option<LatencyModel>,
    /// Faults active from the start.
    pub faults: Option<Faults>,
    /// Backup retention of every RDS instance, days (default 7).
    pub retention_days: Option<u32>,
}

/// A region and its cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionSpec {
    /// AWS region name.
    pub name: String,
    /// kubeconfig context of its cluster.
    pub context: String,
    /// `primary` or `secondary`.
    pub role: RegionRole,
    /// Load balancer hostname DNS points at (default `<context>.<region>.elb.amazonaws.com`).
    #[serde(default)]
    pub lb_hostname: Option<String>,
    /// Worker nodes (default 3).
    #[serde(default = "default_nodes")]
    pub nodes: u32,
    /// Allocatable memory per node, MiB (default 16384).
    #[serde(default = "default_node_memory")]
    pub node_memory_mi: u64,
    /// The RDS instance the region's services use.
    pub database: String,
    /// When set, `database` is a read replica of this instance.
    #[serde(default)]
    pub replica_of: Option<String>,
}

fn default_nodes() -> u32 {
    3
}
fn default_node_memory() -> u64 {
    16_384
}

/// Role of a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegionRole {
    /// Serves traffic at the start.
    Primary,
    /// Warm standby.
    Secondary,
}

/// A deployment of the initial world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentSpec {
    /// Name (also the `app` label and the container name unless `container` is set).
    pub name: String,
    /// Namespace (default `ml-platform`).
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Container name (default: the deployment name).
    #[serde(default)]
    pub container: Option<String>,
    /// Replicas in every region unless overridden by `replicas_by_context`.
    pub replicas: u32,
    /// Per-context replica counts.
    #[serde(default)]
    pub replicas_by_context: BTreeMap<String, u32>,
    /// Contexts the deployment exists in (empty: all).
    #[serde(default)]
    pub contexts: Vec<String>,
    /// Revisions, oldest first; the last is current. At least one.
    pub history: Vec<RevisionSpec>,
    /// Memory request per pod, MiB (default 512).
    #[serde(default = "default_pod_memory")]
    pub memory_mi: u64,
}

fn default_namespace() -> String {
    "ml-platform".into()
}
fn default_pod_memory() -> u64 {
    512
}

/// One revision of a deployment's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevisionSpec {
    /// Container image.
    pub image: String,
    /// `kubernetes.io/change-cause`.
    #[serde(default)]
    pub change_cause: Option<String>,
}

/// Pod status an image produces once its container started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PodBehavior {
    /// Running and ready.
    #[default]
    Running,
    /// The container exits at start; kubelet backs off.
    CrashLoopBackOff,
    /// The image cannot be pulled.
    ImagePullBackOff,
    /// The container exceeds its memory limit.
    #[serde(rename = "OOMKilled")]
    OomKilled,
}

/// How pods of an image behave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImageBehavior {
    /// Status once started.
    pub status: PodBehavior,
    /// HTTP latency served by healthy pods, ms.
    pub latency_ms: u64,
    /// Fraction of HTTP probes answered 500 even when ready.
    pub error_rate: f64,
    /// Memory used per pod, MiB.
    pub memory_mi: u64,
    /// Log lines a pod of this image prints (repeated to fill `tail`); defaults by status.
    pub log: Vec<String>,
}

impl Default for ImageBehavior {
    fn default() -> Self {
        Self { status: PodBehavior::Running, latency_ms: 45, error_rate: 0.0, memory_mi: 380, log: Vec::new() }
    }
}

/// Latency model: per-call latencies (ms) and convergence delays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LatencyModel {
    /// Any read.
    #[serde(with = "duration_text")]
    pub read: Duration,
    /// Small writes (scale, annotate, label, patch, DNS change, notify).
    #[serde(with = "duration_text")]
    pub write: Duration,
    /// Rollback / apply / RDS API calls.
    #[serde(with = "duration_text")]
    pub heavy_write: Duration,
    /// New pods become Ready this long after they are created.
    #[serde(with = "duration_text")]
    pub pod_ready: Duration,
    /// A promoted read replica is `modifying` this long.
    #[serde(with = "duration_text")]
    pub promote: Duration,
    /// A point-in-time restore is `creating` this long.
    #[serde(with = "duration_text")]
    pub pitr: Duration,
    /// A snapshot restore is `creating` this long.
    #[serde(with = "duration_text")]
    pub snapshot_restore: Duration,
    /// A Route53 change is `PENDING` this long.
    #[serde(with = "duration_text")]
    pub dns_insync: Duration,
    /// Progress deadline of deployments.
    #[serde(with = "duration_text")]
    pub progress_deadline: Duration,
}

impl Default for LatencyModel {
    fn default() -> Self {
        Self {
            read: Duration::from_millis(50),
            write: Duration::from_millis(200),
            heavy_write: Duration::from_millis(500),
            pod_ready: Duration::from_secs(30),
            promote: Duration::from_secs(300),
            pitr: Duration::from_secs(1200),
            snapshot_restore: Duration::from_secs(1500),
            dns_insync: Duration::from_secs(60),
            progress_deadline: Duration::from_secs(600),
        }
    }
}

/// Something that happens `at` a virtual offset from the start. Exactly one action field is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimedEvent {
    /// Offset from the start (`2m`, `90s`).
    pub at: HumanDuration,
    /// Roll out a new image (creates a revision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<DeployEvent>,
    /// Scale a deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<ScaleEvent>,
    /// The region goes dark (every call to it fails; health events open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_dark: Option<String>,
    /// A datastore gets corrupted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrupt: Option<CorruptEvent>,
    /// A datastore goes down (`postgres`, `redis`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datastore_down: Option<String>,
    /// An RDS instance fails (status `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_fails: Option<String>,
    /// Replace the active faults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<Faults>,
}

impl TimedEvent {
    fn validate(&self, i: usize) -> Result<()> {
        let set = [
            self.deploy.is_some(),
            self.scale.is_some(),
            self.region_dark.is_some(),
            self.corrupt.is_some(),
            self.datastore_down.is_some(),
            self.database_fails.is_some(),
            self.faults.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if set != 1 {
            return Err(Error::invalid_input(format!(
                "events[{i}]: exactly one of deploy, scale, region_dark, corrupt, datastore_down, database_fails, faults must be set ({set} are)"
            )));
        }
        if let Some(f) = &self.faults {
            f.validate().map_err(|e| e.context(format!("events[{i}]")))?;
        }
        Ok(())
    }
}

/// Roll out `image` to a deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployEvent {
    /// Context (default: the primary region's).
    #[serde(default)]
    pub context: Option<String>,
    /// Namespace (default `ml-platform`).
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Deployment.
    pub deployment: String,
    /// New image.
    pub image: String,
    /// `kubernetes.io/change-cause`.
    #[serde(default)]
    pub change_cause: Option<String>,
}

/// Scale a deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleEvent {
    /// Context (default: the primary region's).
    #[serde(default)]
    pub context: Option<String>,
    /// Namespace (default `ml-platform`).
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Deployment.
    pub deployment: String,
    /// Replicas.
    pub replicas: u32,
}

/// Corrupt a datastore.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorruptEvent {
    /// Datastore (`postgres`).
    pub datastore: String,
    /// Constraints reported as not validated (`conname on table`).
    #[serde(default)]
    pub unvalidated_constraints: Vec<String>,
    /// Free-text integrity findings.
    #[serde(default)]
    pub findings: Vec<String>,
}

/// What to feed the detector and classifier.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Signals {
    /// An Alertmanager v4 webhook payload: a YAML object, or a string holding JSON.
    pub alertmanager: Option<serde_json::Value>,
    /// Explicit observations.
    pub observations: Vec<ObservationSpec>,
    /// Generators, `"<metric> <value> every <d> from <d> to <d> [service <name>]"`, e.g.
    /// `"error_rate 0.3 every 30s from 2m to 12m"` (both ends included).
    pub generators: Vec<String>,
}

/// One observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservationSpec {
    /// Offset from the start.
    pub at: HumanDuration,
    /// Metric: `error_rate` (fraction), `latency_ms`, `latency_baseline_ms`, `available` (1/0; some
    /// instances or regions), `available_whole_service` (1/0; the whole service: a complete outage),
    /// `data_integrity` (1 ok / 0 failing), or anything the detector understands.
    pub metric: String,
    /// Value.
    pub value: f64,
    /// Service (default `ml-inference-api`).
    #[serde(default = "default_service")]
    pub service: String,
}

fn default_service() -> String {
    "ml-inference-api".into()
}

impl Signals {
    /// The Alertmanager payload as a JSON string, if any.
    ///
    /// # Errors
    /// `InvalidInput` when a string payload is not JSON.
    pub fn alertmanager_json(&self) -> Result<Option<String>> {
        match &self.alertmanager {
            None => Ok(None),
            Some(serde_json::Value::String(s)) => {
                serde_json::from_str::<serde_json::Value>(s)
                    .map_err(|e| Error::invalid_input(format!("signals.alertmanager is not JSON: {e}")))?;
                Ok(Some(s.clone()))
            }
            Some(v) => Ok(Some(v.to_string())),
        }
    }

    /// Explicit observations plus generated ones, ordered by offset.
    ///
    /// # Errors
    /// `InvalidInput` naming a malformed generator.
    pub fn expand_observations(&self) -> Result<Vec<ObservationSpec>> {
        let mut out = self.observations.clone();
        for (i, g) in self.generators.iter().enumerate() {
            out.extend(parse_generator(g).map_err(|e| e.context(format!("signals.generators[{i}]")))?);
        }
        out.sort_by_key(|o| o.at);
        Ok(out)
    }
}

fn parse_generator(text: &str) -> Result<Vec<ObservationSpec>> {
    let bad = |why: &str| {
        Error::invalid_input(format!(
            "`{text}`: {why}; expected `<metric> <value> every <d> from <d> to <d> [service <name>]`"
        ))
    };
    let w: Vec<&str> = text.split_whitespace().collect();
    if !(w.len() == 8 || w.len() == 10) || w[2] != "every" || w[4] != "from" || w[6] != "to" {
        return Err(bad("malformed"));
    }
    let value: f64 = w[1].parse().map_err(|_| bad("value is not a number"))?;
    let dur = |s: &str| s.parse::<HumanDuration>().map_err(|e| bad(&e.to_string()));
    let (every, from, to) = (dur(w[3])?, dur(w[5])?, dur(w[7])?);
    if every.as_secs() == 0 {
        return Err(bad("`every` must be positive"));
    }
    if to < from {
        return Err(bad("`to` is before `from`"));
    }
    let service = if w.len() == 10 {
        if w[8] != "service" {
            return Err(bad("malformed"));
        }
        w[9].to_string()
    } else {
        default_service()
    };
    let mut out = Vec::new();
    let mut t = from.as_secs();
    while t <= to.as_secs() {
        out.push(ObservationSpec {
            at: HumanDuration::from_secs(t),
            metric: w[0].to_string(),
            value,
            service: service.clone(),
        });
        t += every.as_secs();
        if out.len() > 100_000 {
            return Err(bad("more than 100000 observations"));
        }
    }
    Ok(out)
}

/// The incident's facts (ticket fields and classification inputs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentSpec {
    /// Ticket title without the `[PX]` prefix, as the responder names it; absent: the title the alerts
    /// or the detector give (`HighErrorRate on ml-inference-api`), as for a real incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Affected components, beyond the alerts' services.
    #[serde(default)]
    pub components: Vec<String>,
    /// User impact in the responder's words; absent: the classification's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<String>,
    /// Customer-facing (a fact for the classifier); absent: as the alerts say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_facing: Option<bool>,
    /// Customers affected (a fact for the classifier); absent: as the alerts say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customers_affected: Option<bool>,
}

/// The procedure to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcedureSpec {
    /// One of [`PROCEDURES`].
    pub name: String,
    /// Parameters as strings.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
}

/// End-state assertions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Expectations {
    /// Deployment assertions.
    pub deployments: Vec<ExpectDeployment>,
    /// DNS assertions.
    pub dns: Vec<ExpectDns>,
    /// RDS assertions.
    pub databases: Vec<ExpectDatabase>,
    /// HTTP assertions.
    pub http: Vec<ExpectHttp>,
    /// Datastore probe assertions.
    pub probes: Vec<ExpectProbe>,
}

/// A deployment's end state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectDeployment {
    /// Context (default: the primary region's).
    #[serde(default)]
    pub context: Option<String>,
    /// Namespace (default `ml-platform`).
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Current image (`image` of the single container).
    #[serde(default)]
    pub image: Option<String>,
    /// Current revision number.
    #[serde(default)]
    pub revision: Option<u64>,
    /// Minimum `spec.replicas`.
    #[serde(default)]
    pub min_replicas: Option<u32>,
    /// Exact `spec.replicas`.
    #[serde(default)]
    pub replicas: Option<u32>,
    /// Every pod Running and ready.
    #[serde(default)]
    pub all_pods_running: bool,
}

/// Where a DNS name resolves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectDns {
    /// Name (`api.ml-platform.com`).
    pub name: String,
    /// Region it resolves to.
    pub region: String,
}

/// An RDS instance's end state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectDatabase {
    /// Region.
    pub region: String,
    /// Instance id.
    pub id: String,
    /// Status (default `available`).
    #[serde(default = "default_available")]
    pub status: String,
    /// Not a read replica any more.
    #[serde(default)]
    pub standalone: Option<bool>,
}

fn default_available() -> String {
    "available".into()
}

/// An HTTP probe's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectHttp {
    /// URL.
    pub url: String,
    /// Status code.
    pub status: u16,
}

/// A datastore probe's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectProbe {
    /// Datastore name.
    pub name: String,
    /// Healthy.
    pub healthy: bool,
}

impl Scenario {
    /// Names of the built-in scenarios.
    #[must_use]
    pub fn names() -> Vec<&'static str> {
        BUILTIN.iter().map(|(n, _)| *n).collect()
    }

    /// A built-in scenario by name, or by a deprecated name ([`DEPRECATED_NAMES`]).
    ///
    /// # Errors
    /// `NotFound` listing the known names; a parse error of the embedded file (a bug).
    pub fn builtin(name: &str) -> Result<Self> {
        let current = DEPRECATED_NAMES.iter().find(|(old, _)| *old == name).map_or(name, |(_, new)| new);
        let (_, text) = BUILTIN.iter().find(|(n, _)| *n == current).ok_or_else(|| {
            Error::not_found(format!("no scenario named `{name}`; known: {}", Self::names().join(", ")))
        })?;
        Self::from_yaml_str(text).map_err(|e| e.context(format!("built-in scenario `{name}`")))
    }

    /// All built-in scenarios.
    ///
    /// # Errors
    /// A parse error of an embedded file (a bug).
    pub fn all_builtin() -> Result<Vec<Self>> {
        Self::names().into_iter().map(Self::builtin).collect()
    }

    /// A built-in scenario by name, or a scenario file when `arg` ends in `.yaml`/`.yml`.
    ///
    /// # Errors
    /// `NotFound` for an unknown built-in name; `InvalidInput` for an unreadable or invalid file (naming
    /// the file and the field).
    pub fn from_name_or_path(arg: &str) -> Result<Self> {
        let p = std::path::Path::new(arg);
        if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Error::invalid_input(format!("cannot read scenario {}: {e}", p.display())))?;
            Self::from_yaml_str(&text).map_err(|e| e.context(p.display()))
        } else {
            Self::builtin(arg)
        }
    }

    /// Parse and validate a scenario from YAML (JSON is YAML too).
    ///
    /// # Errors
    /// `InvalidInput` naming the offending field path (unknown fields included).
    pub fn from_yaml_str(text: &str) -> Result<Self> {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let s: Self = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            Error::invalid_input(format!("scenario: {}: {}", if path.is_empty() { "." } else { &path }, e.inner()))
        })?;
        s.validate()?;
        Ok(s)
    }

    /// Serialize to YAML.
    ///
    /// # Errors
    /// `Internal` if serialization fails.
    pub fn to_yaml(&self) -> Result<String> {
        serde_yaml_ng::to_string(self).map_err(|e| Error::internal(format!("scenario to YAML: {e}")))
    }

    /// Check cross-field rules (exactly one action per event, known procedure, valid generators, ...).
    ///
    /// # Errors
    /// `InvalidInput` naming the problem.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(Error::invalid_input("scenario: name is empty"));
        }
        if !PROCEDURES.contains(&crate::policy::canonical_procedure_name(&self.procedure.name)) {
            return Err(Error::invalid_input(format!(
                "scenario `{}`: procedure.name `{}` is not one of {}",
                self.name,
                self.procedure.name,
                PROCEDURES.join(", ")
            )));
        }
        for (i, e) in self.events.iter().enumerate() {
            e.validate(i).map_err(|e| e.context(format!("scenario `{}`", self.name)))?;
        }
        if let Some(f) = &self.world.faults {
            f.validate()?;
        }
        for (i, d) in self.world.deployments.iter().enumerate() {
            if d.history.is_empty() {
                return Err(Error::invalid_input(format!("world.deployments[{i}] ({}): history is empty", d.name)));
            }
        }
        for (img, b) in &self.world.images {
            if !(0.0..=1.0).contains(&b.error_rate) {
                return Err(Error::invalid_input(format!("world.images.{img}.error_rate must be within 0..=1")));
            }
        }
        self.signals.alertmanager_json()?;
        self.signals.expand_observations()?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses() {
        for name in Scenario::names() {
            let s = Scenario::builtin(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(s.name, name);
            let back = Scenario::from_yaml_str(&s.to_yaml().unwrap()).unwrap();
            assert_eq!(back, s, "{name} round-trips");
        }
    }

    #[test]
    fn unknown_field_is_named() {
        let mut text = include_str!("../../scenarios/bad-deploy.yaml").to_string();
        text = text.replace("incident:\n", "incident:\n  severity_guess: P0\n");
        let err = Scenario::from_yaml_str(&text).unwrap_err();
        assert!(err.message().contains("incident"), "{err}");
        assert!(err.message().contains("severity_guess"), "{err}");
    }

    #[test]
    fn generator_expands() {
        let obs = parse_generator("error_rate 0.3 every 30s from 2m to 12m").unwrap();
        assert_eq!(obs.len(), 21);
        assert_eq!(obs[0].at, HumanDuration::from_mins(2));
        assert_eq!(obs[20].at, HumanDuration::from_mins(12));
        assert!(parse_generator("error_rate x every 30s from 2m to 12m").is_err());
        assert!(parse_generator("error_rate 0.3 every 0s from 2m to 12m").is_err());
        let svc = parse_generator("latency_ms 900 every 1m from 0s to 1m service checkout").unwrap();
        assert_eq!(svc[1].service, "checkout");
    }

    #[test]
    fn unknown_builtin_lists_names() {
        let e = Scenario::builtin("nope").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::NotFound);
        assert!(e.message().contains("bad-deploy"));
    }
}
