//! The simulated world: serde-serialisable state plus the pure functions that derive what a reader sees at
//! a given virtual instant (pods, rollout status, instance status, DNS resolution).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::faults::Faults;
use super::scenario::{
    DeploymentSpec, ImageBehavior, LatencyModel, PodBehavior, RegionRole, RegionSpec, RevisionSpec, Scenario,
    TimedEvent,
};
use crate::backend::{
    ChangeAction, ClusterEvent, Deployment, FailoverRole, Notification, Pod, RecordChange, RecordSet, Revision,
    RolloutStatus,
};
use crate::{Error, Result};

/// Version of the persisted format.
pub(crate) const FORMAT: u32 = 1;
/// Deployments keep this many old ReplicaSets (`revisionHistoryLimit`).
const REVISION_HISTORY_LIMIT: usize = 10;
/// The account id STS reports.
pub(crate) const ACCOUNT_ID: &str = "123456789012";
/// The hosted zone.
pub(crate) const ZONE_ID: &str = "Z123456789";
/// The zone's apex.
pub(crate) const ZONE_NAME: &str = "ml-platform.com.";

/// One mutation applied to the world, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SimOp {
    /// 1-based sequence number.
    pub seq: u64,
    /// Virtual time it was applied.
    pub at: DateTime<Utc>,
    /// Where: a kube context, an AWS region, `route53` or `notifier`.
    pub scope: String,
    /// What, human-readable and stable (`scale ml-platform/ml-inference-api 3->10`).
    pub op: String,
    /// The object acted on (`Deployment/ml-platform/ml-inference-api`, `DBInstance/ml-platform-secondary`).
    pub target: String,
    /// `api` for calls through the backends, `scenario` for timed scenario events and test helpers.
    pub origin: String,
}

/// The whole simulated world. Opaque; compare, clone or serialize it, or read it through the backends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct World {
    pub(crate) format: u32,
    pub(crate) scenario: String,
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) now: DateTime<Utc>,
    pub(crate) regions: Vec<RegionState>,
    pub(crate) clusters: BTreeMap<String, ClusterState>,
    pub(crate) databases: Vec<DbState>,
    pub(crate) snapshots: Vec<SnapState>,
    pub(crate) zones: Vec<ZoneState>,
    pub(crate) changes: Vec<ChangeState>,
    pub(crate) datastores: BTreeMap<String, DatastoreState>,
    pub(crate) images: BTreeMap<String, ImageBehavior>,
    pub(crate) latency: LatencyModel,
    pub(crate) faults: Faults,
    pub(crate) events: Vec<TimedEvent>,
    pub(crate) next_event: usize,
    pub(crate) notifications: Vec<Notification>,
    pub(crate) ops: Vec<SimOp>,
    pub(crate) calls: u64,
    pub(crate) serial: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RegionState {
    pub(crate) name: String,
    pub(crate) context: String,
    pub(crate) role: RegionRole,
    pub(crate) lb_hostname: String,
    pub(crate) database: String,
    pub(crate) dark_since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ClusterState {
    pub(crate) context: String,
    pub(crate) region: String,
    pub(crate) ip_prefix: u8,
    pub(crate) nodes: Vec<NodeState>,
    pub(crate) deployments: BTreeMap<String, DeploymentState>,
    pub(crate) services: BTreeMap<String, ServiceState>,
    pub(crate) config_maps: BTreeMap<String, ConfigMapState>,
    pub(crate) events: Vec<ClusterEvent>,
    pub(crate) objects: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct NodeState {
    pub(crate) name: String,
    pub(crate) ready: bool,
    pub(crate) memory_mi: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DeploymentState {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) replicas: u32,
    pub(crate) memory_mi: u64,
    pub(crate) generation: u64,
    pub(crate) annotations: BTreeMap<String, String>,
    pub(crate) replica_sets: Vec<RsState>,
    pub(crate) current: String,
    pub(crate) pods: Vec<PodSlot>,
    pub(crate) rollout_started: DateTime<Utc>,
    pub(crate) pod_serial: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RsState {
    pub(crate) name: String,
    pub(crate) hash: String,
    pub(crate) revision: u64,
    /// container name → image.
    pub(crate) template: BTreeMap<String, String>,
    pub(crate) change_cause: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PodSlot {
    pub(crate) name: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) ready_at: DateTime<Utc>,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) ip: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ServiceState {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) selector: BTreeMap<String, String>,
    pub(crate) annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ConfigMapState {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Transition {
    pub(crate) status: String,
    pub(crate) until: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DbState {
    pub(crate) id: String,
    pub(crate) region: String,
    pub(crate) engine: String,
    pub(crate) status: String,
    pub(crate) transition: Option<Transition>,
    pub(crate) replica_source: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) retention_days: u32,
    pub(crate) restored_from: Option<String>,
    pub(crate) restore_time: Option<DateTime<Utc>>,
    /// Set on a promoted read replica: the instance it replicated.
    #[serde(default)]
    pub(crate) promoted_from: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SnapState {
    pub(crate) id: String,
    pub(crate) instance_id: String,
    pub(crate) region: String,
    pub(crate) created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ZoneState {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) records: Vec<RecordSet>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ChangeState {
    pub(crate) id: String,
    pub(crate) zone_id: String,
    pub(crate) submitted_at: DateTime<Utc>,
    pub(crate) insync_at: DateTime<Utc>,
    pub(crate) changes: Vec<RecordChange>,
    pub(crate) comment: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DatastoreState {
    pub(crate) down: bool,
    pub(crate) corruption: Option<Corruption>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Corruption {
    pub(crate) since: DateTime<Utc>,
    pub(crate) instance: String,
    pub(crate) unvalidated_constraints: Vec<String>,
    pub(crate) findings: Vec<String>,
}

// ---------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------

pub(crate) fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Kubernetes-style safe-alphabet hash of `input`, `len` characters.
pub(crate) fn safe_hash(input: &str, len: usize) -> String {
    let digest = Sha256::digest(input.as_bytes());
    digest.iter().take(len).map(|b| char::from(SAFE[usize::from(*b) % SAFE.len()])).collect()
}

fn template_hash(template: &BTreeMap<String, String>) -> String {
    let text: Vec<String> = template.iter().map(|(c, i)| format!("{c}={i}")).collect();
    safe_hash(&text.join(","), 10)
}

fn images_of(template: &BTreeMap<String, String>) -> Vec<String> {
    template.iter().map(|(c, i)| format!("{c}={i}")).collect()
}

pub(crate) fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// Normalise a DNS name: lower case with a trailing dot.
pub(crate) fn fqdn(name: &str) -> String {
    let n = name.trim().to_ascii_lowercase();
    if n.ends_with('.') { n } else { format!("{n}.") }
}

fn default_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 6, 15, 0, 0).single().unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

fn default_regions() -> Vec<RegionSpec> {
    vec![
        RegionSpec {
            name: "us-west-2".into(),
            context: "ml-platform-primary".into(),
            role: RegionRole::Primary,
            lb_hostname: None,
            nodes: 3,
            node_memory_mi: 16_384,
            database: "ml-platform-prod".into(),
            replica_of: None,
        },
        RegionSpec {
            name: "us-east-1".into(),
            context: "ml-platform-secondary".into(),
            role: RegionRole::Secondary,
            lb_hostname: None,
            nodes: 3,
            node_memory_mi: 16_384,
            database: "ml-platform-secondary".into(),
            replica_of: Some("ml-platform-prod".into()),
        },
    ]
}

fn rev(image: &str, cause: &str) -> RevisionSpec {
    RevisionSpec { image: image.into(), change_cause: Some(cause.into()) }
}

fn default_deployments() -> Vec<DeploymentSpec> {
    let d = |name: &str, ns: &str, replicas: u32, memory_mi: u64, history: Vec<RevisionSpec>| DeploymentSpec {
        name: name.into(),
        namespace: ns.into(),
        container: None,
        replicas,
        replicas_by_context: BTreeMap::new(),
        contexts: Vec::new(),
        history,
        memory_mi,
    };
    let mut api = d(
        "ml-inference-api",
        "ml-platform",
        3,
        1024,
        vec![
            rev("ml-inference-api:v2.0.2", "deploy ml-inference-api v2.0.2"),
            rev("ml-inference-api:v2.0.3", "deploy ml-inference-api v2.0.3"),
        ],
    );
    api.replicas_by_context.insert("ml-platform-secondary".into(), 2);
    api.container = Some("api".into());
    vec![
        api,
        d("postgres", "ml-platform", 1, 2048, vec![rev("postgres:15.4", "initial")]),
        d("redis", "ml-platform", 1, 512, vec![rev("redis:7.2", "initial")]),
        d("coredns", "kube-system", 2, 170, vec![rev("registry.k8s.io/coredns/coredns:v1.11.1", "initial")]),
    ]
}

fn default_images() -> BTreeMap<String, ImageBehavior> {
    let mut m = BTreeMap::new();
    m.insert(
        "ml-inference-api:v2.1.0".to_string(),
        ImageBehavior {
            status: PodBehavior::CrashLoopBackOff,
            memory_mi: 210,
            log: vec![
                "ERROR ml_inference.server: failed to load model registry schema: column \"feature_set_v3\" does not exist".into(),
                "ERROR ml_inference.server: startup failed, exiting with code 1".into(),
            ],
            ..ImageBehavior::default()
        },
    );
    m.insert("postgres:15.4".into(), ImageBehavior { memory_mi: 1400, latency_ms: 3, ..ImageBehavior::default() });
    m.insert("redis:7.2".into(), ImageBehavior { memory_mi: 180, latency_ms: 1, ..ImageBehavior::default() });
    m
}

// ---------------------------------------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------------------------------------

impl World {
    /// Build the initial world of a scenario.
    pub(crate) fn build(scenario: &Scenario) -> Result<Self> {
        scenario.validate()?;
        let spec = &scenario.world;
        let start = spec.start.unwrap_or_else(default_start);
        let retention_days = spec.retention_days.unwrap_or(7);
        let region_specs = spec.regions.clone().unwrap_or_else(default_regions);
        if region_specs.is_empty() {
            return Err(Error::invalid_input("world.regions is empty"));
        }
        if !region_specs.iter().any(|r| r.role == RegionRole::Primary) {
            return Err(Error::invalid_input("world.regions has no primary region"));
        }
        let mut images = default_images();
        images.extend(spec.images.clone());
        let mut deployments = default_deployments();
        for d in &spec.deployments {
            if let Some(existing) = deployments.iter_mut().find(|x| x.name == d.name && x.namespace == d.namespace) {
                *existing = d.clone();
            } else {
                deployments.push(d.clone());
            }
        }
        let mut world = Self {
            format: FORMAT,
            scenario: scenario.name.clone(),
            started_at: start,
            now: start,
            regions: Vec::new(),
            clusters: BTreeMap::new(),
            databases: Vec::new(),
            snapshots: Vec::new(),
            zones: Vec::new(),
            changes: Vec::new(),
            datastores: BTreeMap::new(),
            images,
            latency: spec.latency.clone().unwrap_or_default(),
            faults: spec.faults.clone().unwrap_or_default(),
            events: scenario.events.clone(),
            next_event: 0,
            notifications: Vec::new(),
            ops: Vec::new(),
            calls: 0,
            serial: 0,
        };
        for (idx, r) in region_specs.iter().enumerate() {
            if world.regions.iter().any(|x| x.name == r.name || x.context == r.context) {
                return Err(Error::invalid_input(format!("world.regions: duplicate region or context `{}`", r.name)));
            }
            let lb = r.lb_hostname.clone().unwrap_or_else(|| format!("{}.{}.elb.amazonaws.com", r.context, r.name));
            world.regions.push(RegionState {
                name: r.name.clone(),
                context: r.context.clone(),
                role: r.role,
                lb_hostname: lb,
                database: r.database.clone(),
                dark_since: None,
            });
            let mut cluster = ClusterState {
                context: r.context.clone(),
                region: r.name.clone(),
                ip_prefix: u8::try_from(idx + 1).unwrap_or(250).min(250),
                nodes: (0..r.nodes)
                    .map(|i| NodeState {
                        name: format!("ip-10-{}-{}-{}.{}.compute.internal", idx + 1, i / 250, 10 + i % 240, r.name),
                        ready: true,
                        memory_mi: r.node_memory_mi,
                    })
                    .collect(),
                deployments: BTreeMap::new(),
                services: BTreeMap::new(),
                config_maps: BTreeMap::new(),
                events: Vec::new(),
                objects: BTreeMap::new(),
            };
            for d in &deployments {
                if !d.contexts.is_empty() && !d.contexts.contains(&r.context) {
                    continue;
                }
                let replicas = d.replicas_by_context.get(&r.context).copied().unwrap_or(d.replicas);
                let dep = build_deployment(d, replicas, start, &mut world.serial, cluster.ip_prefix)?;
                let sel: BTreeMap<String, String> = [("app".to_string(), d.name.clone())].into();
                let svc_name = if d.name == "coredns" { "kube-dns".to_string() } else { d.name.clone() };
                cluster.services.insert(
                    key(&d.namespace, &svc_name),
                    ServiceState {
                        namespace: d.namespace.clone(),
                        name: svc_name,
                        selector: sel,
                        annotations: BTreeMap::new(),
                    },
                );
                cluster.deployments.insert(key(&d.namespace, &d.name), dep);
            }
            let mut data: BTreeMap<String, String> = [
                ("read_only".to_string(), "false".to_string()),
                ("region".to_string(), r.name.clone()),
                ("database_instance".to_string(), r.database.clone()),
            ]
            .into();
            data.extend(spec.app_config.clone());
            cluster.config_maps.insert(
                key("ml-platform", "app-config"),
                ConfigMapState { namespace: "ml-platform".into(), name: "app-config".into(), data },
            );
            world.clusters.insert(r.context.clone(), cluster);
        }
        for r in &region_specs {
            world.databases.push(DbState {
                id: r.database.clone(),
                region: r.name.clone(),
                engine: "postgres".into(),
                status: "available".into(),
                transition: None,
                replica_source: r.replica_of.clone(),
                created_at: start - TimeDelta::days(400),
                retention_days,
                restored_from: None,
                restore_time: None,
                promoted_from: None,
            });
        }
        let primary_db = world.primary_region().map(|r| r.database.clone()).unwrap_or_default();
        for r in &region_specs {
            world.snapshots.push(SnapState {
                id: "ml-platform-latest-snapshot".into(),
                instance_id: primary_db.clone(),
                region: r.name.clone(),
                created_at: start - TimeDelta::hours(1),
            });
        }
        world.zones.push(default_zone(&world.regions));
        world.datastores.insert("postgres".into(), DatastoreState { down: false, corruption: None });
        world.datastores.insert("redis".into(), DatastoreState { down: false, corruption: None });
        Ok(world)
    }
}

fn build_deployment(
    d: &DeploymentSpec,
    replicas: u32,
    start: DateTime<Utc>,
    serial: &mut u64,
    ip_prefix: u8,
) -> Result<DeploymentState> {
    let container = d.container.clone().unwrap_or_else(|| d.name.clone());
    let mut dep = DeploymentState {
        namespace: d.namespace.clone(),
        name: d.name.clone(),
        replicas,
        memory_mi: d.memory_mi,
        generation: 0,
        annotations: BTreeMap::new(),
        replica_sets: Vec::new(),
        current: String::new(),
        pods: Vec::new(),
        rollout_started: start,
        pod_serial: 0,
    };
    let n = d.history.len();
    if n == 0 {
        return Err(Error::invalid_input(format!("deployment {}: history is empty", d.name)));
    }
    for (i, r) in d.history.iter().enumerate() {
        let age = i64::try_from(n - i).unwrap_or(1);
        let at = start - TimeDelta::days(age);
        let template: BTreeMap<String, String> = [(container.clone(), r.image.clone())].into();
        dep.set_template(template, r.change_cause.clone(), at, TimeDelta::zero(), serial, ip_prefix);
    }
    Ok(dep)
}

fn default_zone(regions: &[RegionState]) -> ZoneState {
    let primary = regions.iter().find(|r| r.role == RegionRole::Primary).or_else(|| regions.first());
    let secondary = regions.iter().find(|r| r.role == RegionRole::Secondary);
    let mut records = Vec::new();
    let rec = |name: &str, value: &str| RecordSet {
        name: name.into(),
        rtype: "CNAME".into(),
        ttl: Some(60),
        values: vec![value.into()],
        set_identifier: None,
        weight: None,
        failover: None,
        health_check_id: None,
    };
    if let Some(p) = primary {
        records.push(rec("api.ml-platform.com.", &p.lb_hostname));
        records.push(RecordSet {
            set_identifier: Some("primary".into()),
            failover: Some(FailoverRole::Primary),
            health_check_id: Some(format!("hc-{}", p.name)),
            ..rec("api-failover.ml-platform.com.", &p.lb_hostname)
        });
        records.push(RecordSet {
            set_identifier: Some(p.name.clone()),
            weight: Some(100),
            ..rec("models.ml-platform.com.", &p.lb_hostname)
        });
    }
    if let Some(s) = secondary {
        records.push(RecordSet {
            set_identifier: Some("secondary".into()),
            failover: Some(FailoverRole::Secondary),
            health_check_id: Some(format!("hc-{}", s.name)),
            ..rec("api-failover.ml-platform.com.", &s.lb_hostname)
        });
        records.push(RecordSet {
            set_identifier: Some(s.name.clone()),
            weight: Some(0),
            ..rec("models.ml-platform.com.", &s.lb_hostname)
        });
    }
    ZoneState { id: ZONE_ID.into(), name: ZONE_NAME.into(), records }
}

// ---------------------------------------------------------------------------------------------------------
// Deployments
// ---------------------------------------------------------------------------------------------------------

impl DeploymentState {
    pub(crate) fn current_rs(&self) -> Option<&RsState> {
        self.replica_sets.iter().find(|r| r.name == self.current)
    }

    pub(crate) fn template(&self) -> BTreeMap<String, String> {
        self.current_rs().map(|r| r.template.clone()).unwrap_or_default()
    }

    pub(crate) fn revision(&self) -> u64 {
        self.current_rs().map_or(0, |r| r.revision)
    }

    fn new_slot(
        &mut self,
        rs_name: &str,
        now: DateTime<Utc>,
        ready_after: TimeDelta,
        serial: &mut u64,
        ip_prefix: u8,
    ) -> PodSlot {
        self.pod_serial += 1;
        *serial += 1;
        let hash = self.current_rs().map(|r| r.hash.clone()).unwrap_or_default();
        let labels: BTreeMap<String, String> =
            [("app".to_string(), self.name.clone()), ("pod-template-hash".to_string(), hash)].into();
        let s = *serial;
        PodSlot {
            name: format!("{rs_name}-{}", safe_hash(&format!("{rs_name}/{}", self.pod_serial), 5)),
            created_at: now,
            ready_at: now + ready_after,
            labels,
            ip: format!("10.{ip_prefix}.{}.{}", (s / 250) % 250, s % 250 + 2),
        }
    }

    /// Make `template` current (a rollout). Returns `false` when it already is.
    pub(crate) fn set_template(
        &mut self,
        template: BTreeMap<String, String>,
        change_cause: Option<String>,
        now: DateTime<Utc>,
        ready_after: TimeDelta,
        serial: &mut u64,
        ip_prefix: u8,
    ) -> bool {
        let hash = template_hash(&template);
        if self.current_rs().is_some_and(|r| r.hash == hash) {
            return false;
        }
        let max = self.replica_sets.iter().map(|r| r.revision).max().unwrap_or(0);
        let name = format!("{}-{hash}", self.name);
        if let Some(rs) = self.replica_sets.iter_mut().find(|r| r.hash == hash) {
            rs.revision = max + 1;
            if change_cause.is_some() {
                rs.change_cause = change_cause;
            }
        } else {
            self.replica_sets.push(RsState {
                name: name.clone(),
                hash,
                revision: max + 1,
                template,
                change_cause,
                created_at: now,
            });
        }
        self.current = name.clone();
        self.generation += 1;
        self.rollout_started = now;
        let cause = self.current_rs().and_then(|r| r.change_cause.clone());
        match cause {
            Some(c) => self.annotations.insert("kubernetes.io/change-cause".into(), c),
            None => self.annotations.remove("kubernetes.io/change-cause"),
        };
        self.annotations.insert("deployment.kubernetes.io/revision".into(), (max + 1).to_string());
        self.pods.clear();
        for _ in 0..self.replicas {
            let slot = self.new_slot(&name, now, ready_after, serial, ip_prefix);
            self.pods.push(slot);
        }
        // revisionHistoryLimit: drop the oldest non-current ReplicaSets.
        let mut old: Vec<(u64, String)> =
            self.replica_sets.iter().filter(|r| r.name != self.current).map(|r| (r.revision, r.name.clone())).collect();
        old.sort();
        while old.len() > REVISION_HISTORY_LIMIT {
            let (_, n) = old.remove(0);
            self.replica_sets.retain(|r| r.name != n);
        }
        true
    }

    /// Set replicas; new pods become ready after `ready_after`.
    pub(crate) fn scale(
        &mut self,
        replicas: u32,
        now: DateTime<Utc>,
        ready_after: TimeDelta,
        serial: &mut u64,
        ip_prefix: u8,
    ) {
        if replicas != self.replicas {
            self.generation += 1;
            self.rollout_started = now;
        }
        self.replicas = replicas;
        let want = usize::try_from(replicas).unwrap_or(usize::MAX);
        self.pods.truncate(want);
        let rs = self.current.clone();
        while self.pods.len() < want {
            let slot = self.new_slot(&rs, now, ready_after, serial, ip_prefix);
            self.pods.push(slot);
        }
    }

    pub(crate) fn history(&self) -> Vec<Revision> {
        let mut v: Vec<Revision> = self
            .replica_sets
            .iter()
            .map(|r| Revision {
                revision: r.revision,
                replica_set: r.name.clone(),
                change_cause: r.change_cause.clone(),
                images: images_of(&r.template),
                created_at: Some(r.created_at),
            })
            .collect();
        v.sort_by_key(|r| r.revision);
        v
    }

    /// The ReplicaSet `kubectl rollout undo [--to-revision]` would restore.
    pub(crate) fn rollback_target(&self, to_revision: Option<u64>) -> Result<RsState> {
        match to_revision.filter(|r| *r != 0) {
            Some(r) => self.replica_sets.iter().find(|x| x.revision == r).cloned().ok_or_else(|| {
                Error::not_found(format!(
                    "unable to find specified revision {r} in history of deployment \"{}\"",
                    self.name
                ))
            }),
            None => {
                let mut revs: Vec<&RsState> = self.replica_sets.iter().collect();
                revs.sort_by_key(|x| x.revision);
                if revs.len() < 2 {
                    return Err(Error::precondition(format!(
                        "no rollout history found for deployment \"{}\": no previous revision to roll back to",
                        self.name
                    )));
                }
                Ok(revs[revs.len() - 2].clone())
            }
        }
    }
}

/// A pod as derived at one instant, with the bits the simulator needs.
#[derive(Debug, Clone)]
pub(crate) struct DerivedPod {
    pub(crate) deployment: String,
    pub(crate) pod: Pod,
    pub(crate) behavior: Option<PodBehavior>,
    pub(crate) ip: String,
    pub(crate) started_at: DateTime<Utc>,
}

fn crash_restarts(since: TimeDelta) -> u32 {
    // kubelet back-off: 10s, 20s, 40s, ... capped at 5 minutes.
    let mut t = 0i64;
    let mut backoff = 10i64;
    let mut n = 0u32;
    let total = since.num_seconds();
    while t + backoff <= total && n < 10_000 {
        t += backoff;
        n += 1;
        backoff = (backoff * 2).min(300);
    }
    n
}

impl World {
    pub(crate) fn behavior(&self, image: &str) -> ImageBehavior {
        self.images.get(image).cloned().unwrap_or_default()
    }

    pub(crate) fn region(&self, name: &str) -> Option<&RegionState> {
        self.regions.iter().find(|r| r.name == name)
    }

    pub(crate) fn region_of_context(&self, context: &str) -> Option<&RegionState> {
        self.regions.iter().find(|r| r.context == context)
    }

    pub(crate) fn primary_region(&self) -> Option<&RegionState> {
        self.regions.iter().find(|r| r.role == RegionRole::Primary)
    }

    pub(crate) fn cluster(&self, context: &str) -> Result<&ClusterState> {
        self.clusters.get(context).ok_or_else(|| Error::not_found(format!("no kube context `{context}`")))
    }

    pub(crate) fn cluster_mut(&mut self, context: &str) -> Result<&mut ClusterState> {
        self.clusters.get_mut(context).ok_or_else(|| Error::not_found(format!("no kube context `{context}`")))
    }

    /// Every pod of a cluster with its derived status (scheduling included).
    pub(crate) fn derive_pods(&self, context: &str) -> Vec<DerivedPod> {
        let Ok(cluster) = self.cluster(context) else {
            return Vec::new();
        };
        let now = self.now;
        let mut free: Vec<(String, i64)> = cluster
            .nodes
            .iter()
            .filter(|n| n.ready)
            .map(|n| (n.name.clone(), i64::try_from(n.memory_mi).unwrap_or(i64::MAX) - 512))
            .collect();
        let total_nodes = cluster.nodes.len();
        let not_ready = cluster.nodes.iter().filter(|n| !n.ready).count();
        let mut out = Vec::new();
        for dep in cluster.deployments.values() {
            let Some(rs) = dep.current_rs() else { continue };
            let images = images_of(&rs.template);
            let behavior = rs
                .template
                .values()
                .map(|i| self.behavior(i))
                .max_by_key(|b| match b.status {
                    PodBehavior::Running => 0,
                    PodBehavior::OomKilled => 1,
                    PodBehavior::CrashLoopBackOff => 2,
                    PodBehavior::ImagePullBackOff => 3,
                })
                .unwrap_or_default();
            let req = i64::try_from(dep.memory_mi).unwrap_or(i64::MAX);
            for slot in &dep.pods {
                // first-fit on the node with the most free memory (ties: name order).
                let mut best: Option<usize> = None;
                for (i, (_, f)) in free.iter().enumerate() {
                    if *f >= req && best.is_none_or(|b| free[b].1 < *f) {
                        best = Some(i);
                    }
                }
                let mut pod = Pod {
                    namespace: dep.namespace.clone(),
                    name: slot.name.clone(),
                    phase: "Pending".into(),
                    ready: false,
                    reason: None,
                    message: None,
                    restarts: 0,
                    node: None,
                    labels: slot.labels.clone(),
                    template_hash: Some(rs.hash.clone()),
                    images: images.clone(),
                    memory_bytes: None,
                };
                let mut derived_behavior = None;
                if let Some(b) = best {
                    free[b].1 -= req;
                    pod.node = Some(free[b].0.clone());
                    if now < slot.ready_at {
                        pod.reason = Some("ContainerCreating".into());
                    } else {
                        derived_behavior = Some(behavior.status);
                        let since = now - slot.ready_at;
                        let mem = Some(behavior.memory_mi * 1024 * 1024);
                        match behavior.status {
                            PodBehavior::Running => {
                                pod.phase = "Running".into();
                                pod.ready = true;
                                pod.memory_bytes = mem;
                            }
                            PodBehavior::CrashLoopBackOff | PodBehavior::OomKilled => {
                                pod.phase = "Running".into();
                                pod.restarts = crash_restarts(since) + 1;
                                pod.reason = Some(
                                    if behavior.status == PodBehavior::OomKilled {
                                        "OOMKilled"
                                    } else {
                                        "CrashLoopBackOff"
                                    }
                                    .into(),
                                );
                                pod.message = Some(format!(
                                    "back-off restarting failed container {}",
                                    rs.template.keys().next().cloned().unwrap_or_default()
                                ));
                                pod.memory_bytes = mem;
                            }
                            PodBehavior::ImagePullBackOff => {
                                pod.reason = Some("ImagePullBackOff".into());
                                pod.message = Some(format!(
                                    "Back-off pulling image \"{}\"",
                                    rs.template.values().next().cloned().unwrap_or_default()
                                ));
                            }
                        }
                    }
                } else {
                    let insufficient = total_nodes - not_ready;
                    let mut msg = format!("0/{total_nodes} nodes are available: ");
                    let mut parts = Vec::new();
                    if insufficient > 0 {
                        parts.push(format!("{insufficient} Insufficient memory"));
                    }
                    if not_ready > 0 {
                        parts.push(format!(
                            "{not_ready} node(s) had untolerated taint {{node.kubernetes.io/not-ready: }}"
                        ));
                    }
                    msg.push_str(&parts.join(", "));
                    msg.push_str(&format!(". preemption: 0/{total_nodes} nodes are available: {total_nodes} No preemption victims found for incoming pod."));
                    pod.reason = Some("Unschedulable".into());
                    pod.message = Some(msg);
                }
                out.push(DerivedPod {
                    deployment: key(&dep.namespace, &dep.name),
                    pod,
                    behavior: derived_behavior,
                    ip: slot.ip.clone(),
                    started_at: slot.created_at,
                });
            }
        }
        out
    }

    pub(crate) fn deployment_view(&self, context: &str, dep: &DeploymentState) -> Deployment {
        let k = key(&dep.namespace, &dep.name);
        let pods: Vec<DerivedPod> = self.derive_pods(context).into_iter().filter(|p| p.deployment == k).collect();
        let ready = u32::try_from(pods.iter().filter(|p| p.pod.ready).count()).unwrap_or(u32::MAX);
        Deployment {
            namespace: dep.namespace.clone(),
            name: dep.name.clone(),
            replicas: dep.replicas,
            ready_replicas: ready,
            updated_replicas: u32::try_from(pods.len()).unwrap_or(u32::MAX),
            available_replicas: ready,
            generation: dep.generation,
            observed_generation: dep.generation,
            revision: dep.revision(),
            images: images_of(&dep.template()),
            selector: [("app".to_string(), dep.name.clone())].into(),
            annotations: dep.annotations.clone(),
        }
    }

    pub(crate) fn rollout_status(&self, context: &str, dep: &DeploymentState) -> RolloutStatus {
        let v = self.deployment_view(context, dep);
        if v.ready_replicas >= v.replicas {
            return RolloutStatus {
                complete: true,
                failed: false,
                message: format!("deployment \"{}\" successfully rolled out", v.name),
            };
        }
        if self.now - dep.rollout_started > delta(self.latency.progress_deadline) {
            return RolloutStatus {
                complete: false,
                failed: true,
                message: format!("error: deployment \"{}\" exceeded its progress deadline", v.name),
            };
        }
        RolloutStatus {
            complete: false,
            failed: false,
            message: format!(
                "Waiting for deployment \"{}\" rollout to finish: {} of {} updated replicas are available...",
                v.name, v.available_replicas, v.replicas
            ),
        }
    }

    /// Stored events plus those derived from pod states now.
    pub(crate) fn cluster_events(&self, context: &str, namespace: Option<&str>) -> Vec<ClusterEvent> {
        let Ok(cluster) = self.cluster(context) else {
            return Vec::new();
        };
        let mut out: Vec<ClusterEvent> =
            cluster.events.iter().filter(|e| namespace.is_none_or(|n| e.namespace == n)).cloned().collect();
        for p in self.derive_pods(context) {
            if namespace.is_some_and(|n| p.pod.namespace != n) {
                continue;
            }
            let ev = |reason: &str, message: String, count: u32| ClusterEvent {
                namespace: p.pod.namespace.clone(),
                kind: "Warning".into(),
                reason: reason.into(),
                object: format!("Pod/{}", p.pod.name),
                message,
                last_timestamp: self.now,
                count: count.max(1),
            };
            match p.pod.reason.as_deref() {
                Some("CrashLoopBackOff" | "OOMKilled") => {
                    let c = p.pod.images.first().and_then(|i| i.split('=').next()).unwrap_or("app").to_string();
                    out.push(ev(
                        "BackOff",
                        format!("Back-off restarting failed container {c} in pod {}_{}", p.pod.name, p.pod.namespace),
                        p.pod.restarts,
                    ));
                }
                Some("ImagePullBackOff") => {
                    out.push(ev("Failed", "Error: ImagePullBackOff".into(), 1));
                    out.push(ev("BackOff", p.pod.message.clone().unwrap_or_default(), 1));
                }
                Some("Unschedulable") => out.push(ev("FailedScheduling", p.pod.message.clone().unwrap_or_default(), 1)),
                _ => {}
            }
        }
        out
    }

    pub(crate) fn push_event(&mut self, context: &str, namespace: &str, reason: &str, object: String, message: String) {
        let now = self.now;
        if let Some(c) = self.clusters.get_mut(context) {
            c.events.push(ClusterEvent {
                namespace: namespace.into(),
                kind: "Normal".into(),
                reason: reason.into(),
                object,
                message,
                last_timestamp: now,
                count: 1,
            });
            if c.events.len() > 1000 {
                c.events.remove(0);
            }
        }
    }

    /// Roll out a template (deploy, apply, rollback). Returns whether anything changed.
    pub(crate) fn rollout(
        &mut self,
        context: &str,
        namespace: &str,
        name: &str,
        template: BTreeMap<String, String>,
        change_cause: Option<String>,
    ) -> Result<bool> {
        let now = self.now;
        let ready_after = delta(self.latency.pod_ready);
        let mut serial = self.serial;
        let cluster = self.cluster_mut(context)?;
        let ip = cluster.ip_prefix;
        let dep = cluster.deployments.get_mut(&key(namespace, name)).ok_or_else(|| {
            Error::not_found(format!("deployments.apps \"{name}\" not found in namespace {namespace}"))
        })?;
        let old = dep.current.clone();
        let replicas = dep.replicas;
        let changed = dep.set_template(template, change_cause, now, ready_after, &mut serial, ip);
        let new = dep.current.clone();
        self.serial = serial;
        if changed {
            let obj = format!("Deployment/{name}");
            self.push_event(
                context,
                namespace,
                "ScalingReplicaSet",
                obj.clone(),
                format!("Scaled up replica set {new} to {replicas}"),
            );
            self.push_event(
                context,
                namespace,
                "ScalingReplicaSet",
                obj,
                format!("Scaled down replica set {old} to 0"),
            );
        }
        Ok(changed)
    }

    pub(crate) fn log_op(&mut self, scope: &str, op: String, target: String, origin: &str) {
        let seq = self.ops.len() as u64 + 1;
        self.ops.push(SimOp { seq, at: self.now, scope: scope.into(), op, target, origin: origin.into() });
    }

    // -----------------------------------------------------------------------------------------------------
    // RDS
    // -----------------------------------------------------------------------------------------------------

    pub(crate) fn db_status(&self, db: &DbState) -> String {
        match &db.transition {
            Some(t) if self.now < t.until => t.status.clone(),
            _ => db.status.clone(),
        }
    }

    pub(crate) fn db_view(&self, db: &DbState) -> crate::backend::DbInstance {
        let status = self.db_status(db);
        let restorable = db.replica_source.is_none() && status == "available";
        crate::backend::DbInstance {
            id: db.id.clone(),
            region: db.region.clone(),
            status: status.clone(),
            engine: db.engine.clone(),
            endpoint: (status != "creating").then(|| format!("{}.c9akciq32.{}.rds.amazonaws.com", db.id, db.region)),
            replica_source: db.replica_source.clone(),
            replicas: self
                .databases
                .iter()
                .filter(|d| d.replica_source.as_deref() == Some(&db.id))
                .map(|d| d.id.clone())
                .collect(),
            latest_restorable_time: restorable.then(|| self.now - TimeDelta::minutes(5)),
            earliest_restorable_time: restorable
                .then(|| (self.now - TimeDelta::days(i64::from(db.retention_days))).max(db.created_at)),
        }
    }

    pub(crate) fn db(&self, region: &str, id: &str) -> Option<&DbState> {
        self.databases.iter().find(|d| d.region == region && d.id == id)
    }

    // -----------------------------------------------------------------------------------------------------
    // DNS
    // -----------------------------------------------------------------------------------------------------

    /// Records of a zone after applying changes (all, or only those in sync at `now` when `served`).
    pub(crate) fn zone_records(&self, zone_id: &str, served: bool) -> Result<Vec<RecordSet>> {
        let zone = self
            .zones
            .iter()
            .find(|z| z.id == zone_id || z.id == zone_id.trim_start_matches("/hostedzone/"))
            .ok_or_else(|| Error::not_found(format!("NoSuchHostedZone: no hosted zone found with ID: {zone_id}")))?;
        let mut records = zone.records.clone();
        for c in self.changes.iter().filter(|c| c.zone_id == zone.id) {
            if served && c.insync_at > self.now {
                continue;
            }
            // validated at submission; re-applying cannot fail
            let _ = apply_changes(&mut records, &c.changes);
        }
        Ok(records)
    }

    /// Which region a name resolves to for clients now (in-sync records only).
    pub(crate) fn resolve(&self, name: &str) -> Option<String> {
        let n = fqdn(name);
        let zone = self.zones.iter().find(|z| n.ends_with(&z.name))?;
        let records = self.zone_records(&zone.id, true).ok()?;
        let cands: Vec<&RecordSet> =
            records.iter().filter(|r| r.name == n && (r.rtype == "CNAME" || r.rtype == "A")).collect();
        let pick = if let Some(simple) = cands.iter().find(|r| r.set_identifier.is_none()) {
            Some(*simple)
        } else if cands.iter().any(|r| r.failover.is_some()) {
            let healthy = |r: &RecordSet| {
                r.health_check_id.as_ref().is_none_or(|_| {
                    r.values.first().and_then(|v| self.region_for_target(v)).is_none_or(|reg| {
                        self.region(&reg).is_some_and(|x| x.dark_since.is_none()) && self.serving_ok(&reg)
                    })
                })
            };
            let primary = cands.iter().find(|r| r.failover == Some(FailoverRole::Primary));
            let secondary = cands.iter().find(|r| r.failover == Some(FailoverRole::Secondary));
            match (primary, secondary) {
                (Some(p), Some(s)) => Some(if healthy(p) { *p } else { *s }),
                (Some(p), None) => Some(*p),
                (None, s) => s.copied(),
            }
        } else {
            cands
                .iter()
                .filter(|r| r.weight.unwrap_or(0) > 0)
                .max_by_key(|r| (r.weight.unwrap_or(0), r.set_identifier.clone()))
                .copied()
        }?;
        pick.values.first().and_then(|v| self.region_for_target(v))
    }

    pub(crate) fn region_for_target(&self, value: &str) -> Option<String> {
        let v = value.trim_end_matches('.').to_ascii_lowercase();
        self.regions
            .iter()
            .find(|r| r.lb_hostname.trim_end_matches('.').eq_ignore_ascii_case(&v))
            .or_else(|| self.regions.iter().find(|r| v.contains(&r.name)))
            .map(|r| r.name.clone())
    }

    /// A region's API deployment has a ready pod and its database is available.
    pub(crate) fn serving_ok(&self, region: &str) -> bool {
        self.ready_api_pods(region) > 0 && self.region_db_available(region)
    }

    pub(crate) fn ready_api_pods(&self, region: &str) -> usize {
        let Some(r) = self.region(region) else {
            return 0;
        };
        self.derive_pods(&r.context)
            .iter()
            .filter(|p| p.deployment == key("ml-platform", "ml-inference-api") && p.pod.ready)
            .count()
    }

    pub(crate) fn region_db_available(&self, region: &str) -> bool {
        self.writer_db(region).is_some()
    }

    /// The instance a region's services write to: its configured database when available, else an
    /// available promoted former replica of it (the failover target; the app's endpoint follows it).
    pub(crate) fn writer_db(&self, region: &str) -> Option<&DbState> {
        let r = self.region(region)?;
        let available = |d: &&DbState| {
            self.db_status(d) == "available"
                && !self.faults.is_dark(&d.region)
                && self.region(&d.region).is_none_or(|x| x.dark_since.is_none())
        };
        self.db(region, &r.database).filter(available).or_else(|| {
            self.databases.iter().filter(|d| d.promoted_from.as_deref() == Some(r.database.as_str())).find(available)
        })
    }

    /// HTTP answer for `url` now: `Ok((status, latency_ms))`, `Err` for transport errors.
    pub(crate) fn http(&self, url: &str, draw: f64) -> Result<(u16, u64)> {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| Error::invalid_input(format!("unsupported URL `{url}`")))?;
        let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
        let host = host.split(':').next().unwrap_or(host);
        let region = self
            .resolve(host)
            .ok_or_else(|| Error::unavailable(format!("curl: (6) Could not resolve host: {host}")))?;
        let Some(r) = self.region(&region) else {
            return Err(Error::unavailable(format!("curl: (6) Could not resolve host: {host}")));
        };
        if r.dark_since.is_some() || self.faults.is_dark(&region) {
            return Ok((503, 30));
        }
        let path = path.split('?').next().unwrap_or("/").to_string();
        if !(path == "/health" || path == "/models" || path.starts_with("/models/") || path == "/") {
            return Ok((404, 12));
        }
        let pods = self.derive_pods(&r.context);
        let api: Vec<&DerivedPod> =
            pods.iter().filter(|p| p.deployment == key("ml-platform", "ml-inference-api")).collect();
        let ready: Vec<&&DerivedPod> = api.iter().filter(|p| p.pod.ready).collect();
        if ready.is_empty() || !self.region_db_available(&region) {
            return Ok((503, 25));
        }
        let behavior = ready
            .first()
            .and_then(|p| p.pod.images.first())
            .and_then(|i| i.split_once('='))
            .map(|(_, img)| self.behavior(img))
            .unwrap_or_default();
        let unhealthy = api.len() - ready.len();
        let mut latency = behavior.latency_ms.max(1);
        // fewer ready pods than wanted: queueing.
        latency += latency * u64::try_from(unhealthy).unwrap_or(0) / u64::try_from(ready.len()).unwrap_or(1).max(1);
        if path.starts_with("/models") {
            latency += 35;
        }
        let crashing =
            api.iter().any(|p| matches!(p.behavior, Some(PodBehavior::CrashLoopBackOff | PodBehavior::OomKilled)));
        let error_rate = if crashing { behavior.error_rate.max(0.2) } else { behavior.error_rate };
        if draw < error_rate {
            return Ok((500, latency));
        }
        Ok((200, latency))
    }
}

/// Apply one change batch to `records` atomically (on a copy); Route53's validation rules.
pub(crate) fn apply_changes(records: &mut Vec<RecordSet>, changes: &[RecordChange]) -> Result<()> {
    let mut next = records.clone();
    for c in changes {
        let mut r = c.record.clone();
        r.name = fqdn(&r.name);
        let same = |x: &RecordSet| x.name == r.name && x.rtype == r.rtype && x.set_identifier == r.set_identifier;
        let pos = next.iter().position(same);
        match (c.action, pos) {
            (ChangeAction::Create, Some(_)) => {
                return Err(Error::invalid_input(format!(
                    "InvalidChangeBatch: Tried to create resource record set [name='{}', type='{}'] but it already exists",
                    r.name, r.rtype
                )));
            }
            (ChangeAction::Create | ChangeAction::Upsert, None) => next.push(r),
            (ChangeAction::Upsert, Some(i)) => next[i] = r,
            (ChangeAction::Delete, Some(i)) if next[i] == r => {
                next.remove(i);
            }
            (ChangeAction::Delete, Some(_)) => {
                return Err(Error::invalid_input(format!(
                    "InvalidChangeBatch: Tried to delete resource record set [name='{}', type='{}'] but the values provided do not match the current values",
                    r.name, r.rtype
                )));
            }
            (ChangeAction::Delete, None) => {
                return Err(Error::invalid_input(format!(
                    "InvalidChangeBatch: Tried to delete resource record set [name='{}', type='{}'] but it was not found",
                    r.name, r.rtype
                )));
            }
        }
    }
    *records = next;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn restarts_follow_backoff() {
        assert_eq!(crash_restarts(TimeDelta::seconds(5)), 0);
        assert_eq!(crash_restarts(TimeDelta::seconds(10)), 1);
        assert_eq!(crash_restarts(TimeDelta::seconds(30)), 2);
        assert_eq!(crash_restarts(TimeDelta::seconds(70)), 3);
    }

    #[test]
    fn hash_is_stable_and_safe() {
        let h = safe_hash("x", 10);
        assert_eq!(h, safe_hash("x", 10));
        assert!(h.bytes().all(|b| SAFE.contains(&b)));
    }
}
