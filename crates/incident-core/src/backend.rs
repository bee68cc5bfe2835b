//! The ports procedures act through. Each is a small async, object-safe trait returning this crate's own
//! types; implementations live in adapter crates (`incident-k8s`, `incident-aws`, ...) and in [`crate::sim`].
//!
//! Conventions:
//! * "not found" is normal for reads and returns `Ok(None)`; for mutations it is `ErrorKind::NotFound`.
//! * Mutations return once the backend accepted the change; convergence is observed with reads.
//! * Errors use [`crate::ErrorKind`]: `Unavailable`/`Timeout` are retryable, `PermissionDenied` is not.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Result;

pub use crate::clock::Clock;

// ---------------------------------------------------------------------------------------------------------
// Cluster (Kubernetes)
// ---------------------------------------------------------------------------------------------------------

/// A Deployment's state as procedures need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Deployment {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.replicas`.
    pub replicas: u32,
    /// `status.readyReplicas`.
    pub ready_replicas: u32,
    /// `status.updatedReplicas`.
    pub updated_replicas: u32,
    /// `status.availableReplicas`.
    pub available_replicas: u32,
    /// `metadata.generation`.
    pub generation: u64,
    /// `status.observedGeneration`.
    pub observed_generation: u64,
    /// Current revision (`deployment.kubernetes.io/revision`).
    pub revision: u64,
    /// Container images of the pod template, `container=image`.
    pub images: Vec<String>,
    /// Pod selector labels (`matchLabels`).
    pub selector: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
}

/// One entry of `kubectl rollout history`: a ReplicaSet revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Revision {
    /// Revision number.
    pub revision: u64,
    /// The ReplicaSet's name.
    pub replica_set: String,
    /// `kubernetes.io/change-cause`, if set.
    pub change_cause: Option<String>,
    /// Container images, `container=image`.
    pub images: Vec<String>,
    /// When the ReplicaSet was created.
    pub created_at: Option<DateTime<Utc>>,
}

/// Result of `kubectl rollout status` at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RolloutStatus {
    /// The rollout is complete (all replicas updated, available, observed generation current).
    pub complete: bool,
    /// The deployment exceeded its progress deadline.
    pub failed: bool,
    /// kubectl-style message ("Waiting for deployment ... rollout to finish: 1 of 3 updated replicas are available...").
    pub message: String,
}

/// Pod phase plus the reason a human cares about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Pod {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `status.phase` (Pending, Running, Succeeded, Failed, Unknown).
    pub phase: String,
    /// `true` when all containers are ready.
    pub ready: bool,
    /// The most telling reason: CrashLoopBackOff, ImagePullBackOff, OOMKilled, Unschedulable, ...
    pub reason: Option<String>,
    /// Human message (e.g. the scheduler's).
    pub message: Option<String>,
    /// Sum of container restarts.
    pub restarts: u32,
    /// Node the pod runs on.
    pub node: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Owning ReplicaSet's pod-template-hash, if any.
    pub template_hash: Option<String>,
    /// Container images, `container=image`.
    pub images: Vec<String>,
    /// Memory usage in bytes, when metrics are known.
    pub memory_bytes: Option<u64>,
}

impl Pod {
    /// What `kubectl get pods` prints in STATUS: the reason if there is one, else the phase.
    #[must_use]
    pub fn display_status(&self) -> &str {
        self.reason.as_deref().unwrap_or(&self.phase)
    }

    /// Running and ready.
    #[must_use]
    pub fn is_healthy(&self) -> bool {
        self.phase == "Running" && self.ready && self.reason.is_none()
    }
}

/// A node condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NodeCondition {
    /// Type (Ready, MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable).
    pub kind: String,
    /// "True", "False" or "Unknown".
    pub status: String,
    /// Reason.
    pub reason: Option<String>,
    /// Message.
    pub message: Option<String>,
}

/// A node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Node {
    /// Name.
    pub name: String,
    /// Ready condition is True.
    pub ready: bool,
    /// All conditions.
    pub conditions: Vec<NodeCondition>,
    /// Memory in use, bytes (metrics), when known.
    pub memory_bytes: Option<u64>,
    /// CPU in use, millicores (metrics), when known.
    pub cpu_millis: Option<u64>,
}

/// A Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Service {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Selector.
    pub selector: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
}

/// Endpoints of a Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Endpoints {
    /// Namespace.
    pub namespace: String,
    /// Service name.
    pub name: String,
    /// Ready addresses.
    pub ready: Vec<String>,
    /// Not-ready addresses.
    pub not_ready: Vec<String>,
}

/// A ConfigMap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigMap {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Data.
    pub data: BTreeMap<String, String>,
}

/// A Kubernetes event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClusterEvent {
    /// Namespace.
    pub namespace: String,
    /// `Normal` or `Warning`.
    pub kind: String,
    /// Reason (BackOff, FailedScheduling, ScalingReplicaSet, ...).
    pub reason: String,
    /// `Kind/name` of the involved object.
    pub object: String,
    /// Message.
    pub message: String,
    /// Last time seen.
    pub last_timestamp: DateTime<Utc>,
    /// Occurrences.
    pub count: u32,
}

/// A manifest to apply (pre-rendered YAML or JSON of one object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Manifest {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace (if namespaced).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// The full object as JSON.
    pub body: serde_json::Value,
}

/// What applying one manifest did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Applied {
    /// `Kind/namespace/name`.
    pub object: String,
    /// The object before (None when created).
    pub before: Option<serde_json::Value>,
    /// Created, configured or unchanged.
    pub outcome: String,
}

/// API server health: the `/livez` and `/readyz` endpoints and `/version` (componentstatuses is deprecated).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ServerHealth {
    /// `/livez` answered ok.
    pub live: bool,
    /// `/readyz` answered ok.
    pub ready: bool,
    /// `gitVersion` from `/version`, when it answered.
    pub version: Option<String>,
    /// The checks `/readyz?verbose` or `/livez?verbose` reported failed (`etcd`, `poststarthook/...`).
    pub failed_checks: Vec<String>,
}

/// One node's resource usage (metrics.k8s.io, `kubectl top nodes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NodeUsage {
    /// Node name.
    pub name: String,
    /// CPU in use, millicores.
    pub cpu_millis: u64,
    /// Memory in use (working set), bytes.
    pub memory_bytes: u64,
}

/// One pod's resource usage, summed over its containers (`kubectl top pods`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PodUsage {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// CPU in use, millicores.
    pub cpu_millis: u64,
    /// Memory in use (working set), bytes.
    pub memory_bytes: u64,
}

/// Resource usage of a cluster's nodes and pods.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Usage {
    /// Nodes.
    pub nodes: Vec<NodeUsage>,
    /// Pods, all namespaces.
    pub pods: Vec<PodUsage>,
}

/// Where a cluster's reads (pods, nodes, events, deployments, services, endpoints, rollout history) come
/// from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DataSource {
    /// Read from the backend at the time of the call (a LIST on a real cluster).
    #[default]
    List,
    /// Read from a watch cache the apiserver's watch streams keep current.
    Cache,
}

/// Where a cluster's reads come from right now and, for a cache, how long ago the apiserver last confirmed
/// it current ([`Cluster::freshness`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Freshness {
    /// The source of reads.
    pub source: DataSource,
    /// For [`DataSource::Cache`]: the time since the apiserver last sent the cache anything (an object, a
    /// bookmark, a LIST page) for the kind heard from least recently; `None` for reads made at call time.
    pub age: Option<Duration>,
}

/// A Kubernetes cluster (one kubeconfig context).
#[cfg_attr(test, mockall::automock)]
#[async_trait::async_trait]
pub trait Cluster: Send + Sync {
    /// The context name this client talks to.
    fn context(&self) -> &str;
    /// Where reads come from right now: at call time ([`DataSource::List`], the default) or a watch cache
    /// and how fresh it is. Triage reports it.
    fn freshness(&self) -> Freshness {
        Freshness::default()
    }
    /// API server health (`/livez`, `/readyz`, `/version`).
    async fn server_health(&self) -> Result<ServerHealth>;
    /// Who this client is to the cluster (`kubectl auth whoami`: a `SelfSubjectReview`): the user name
    /// the apiserver authenticated. `PermissionDenied` when it refuses the
    /// credentials; the default is `Unavailable` (a backend that cannot tell).
    async fn whoami(&self) -> Result<String> {
        Err(crate::Error::unavailable(format!(
            "context {}: this cluster backend cannot tell who it is",
            self.context()
        )))
    }
    /// Resource usage from the metrics API (`kubectl top`); `ErrorKind::Unavailable` with a clear message
    /// when the cluster serves no metrics API (no metrics-server).
    async fn usage(&self) -> Result<Usage>;
    /// Read a deployment.
    async fn deployment(&self, namespace: &str, name: &str) -> Result<Option<Deployment>>;
    /// List deployments in a namespace.
    async fn deployments(&self, namespace: &str) -> Result<Vec<Deployment>>;
    /// Set `spec.replicas` through the scale subresource.
    async fn scale(&self, namespace: &str, name: &str, replicas: u32) -> Result<()>;
    /// Rollout history, oldest first.
    async fn rollout_history(&self, namespace: &str, name: &str) -> Result<Vec<Revision>>;
    /// `kubectl rollout undo [--to-revision]`: roll the pod template back to `to_revision` (the previous
    /// revision when `None`). Returns the revision whose template is now current.
    async fn rollback(&self, namespace: &str, name: &str, to_revision: Option<u64>) -> Result<Revision>;
    /// One reading of rollout status.
    async fn rollout_status(&self, namespace: &str, name: &str) -> Result<RolloutStatus>;
    /// `kubectl rollout status --timeout`: follow the deployment (a watch on that one object) until its
    /// rollout completes or fails, or `timeout` passes, and return the status it ended on. `Ok(None)`
    /// when this cluster cannot follow objects (the default); the caller then polls
    /// [`Cluster::rollout_status`] with backoff.
    async fn follow_rollout(&self, namespace: &str, name: &str, timeout: Duration) -> Result<Option<RolloutStatus>> {
        let _ = (namespace, name, timeout);
        Ok(None)
    }
    /// Pods in `namespace` (all namespaces when `None`) matching `selector` (all when empty).
    async fn pods<'a>(&self, namespace: Option<&'a str>, selector: &BTreeMap<String, String>) -> Result<Vec<Pod>>;
    /// Nodes.
    async fn nodes(&self) -> Result<Vec<Node>>;
    /// Read a service.
    async fn service(&self, namespace: &str, name: &str) -> Result<Option<Service>>;
    /// Services in a namespace.
    async fn services(&self, namespace: &str) -> Result<Vec<Service>>;
    /// Endpoints in a namespace.
    async fn endpoints(&self, namespace: &str) -> Result<Vec<Endpoints>>;
    /// Set (`Some`) or remove (`None`) an annotation on a service.
    async fn annotate_service<'a>(&self, namespace: &str, name: &str, key: &str, value: Option<&'a str>) -> Result<()>;
    /// Set (`Some`) or remove (`None`) a label on a pod.
    async fn label_pod<'a>(&self, namespace: &str, name: &str, key: &str, value: Option<&'a str>) -> Result<()>;
    /// Read a config map.
    async fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>>;
    /// Merge-patch a config map's data: `Some` sets a key, `None` removes it.
    async fn patch_config_map(
        &self,
        namespace: &str,
        name: &str,
        data: &BTreeMap<String, Option<String>>,
    ) -> Result<()>;
    /// Events in `namespace` (all when `None`), any order.
    async fn events<'a>(&self, namespace: Option<&'a str>) -> Result<Vec<ClusterEvent>>;
    /// The last `tail` log lines of a pod (all containers).
    async fn logs(&self, namespace: &str, pod: &str, tail: u32) -> Result<Vec<String>>;
    /// Server-side apply.
    async fn apply(&self, manifests: &[Manifest], field_manager: &str) -> Result<Vec<Applied>>;
    /// Read an object by `apiVersion`, kind, namespace and name (for apply plans and their inverse).
    async fn object<'a>(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&'a str>,
        name: &str,
    ) -> Result<Option<serde_json::Value>>;
    /// Delete an object (used only to compensate an apply that created it).
    async fn delete_object<'a>(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&'a str>,
        name: &str,
    ) -> Result<()>;
}

/// Resolves kubeconfig contexts to clusters (the runbook's `aws eks update-kubeconfig` + context switch).
#[cfg_attr(test, mockall::automock)]
#[async_trait::async_trait]
pub trait Clusters: Send + Sync {
    /// The client for `context`; `ErrorKind::NotFound` when no such context exists.
    async fn cluster(&self, context: &str) -> Result<Arc<dyn Cluster>>;
    /// The default context.
    fn default_context(&self) -> String;
}

// ---------------------------------------------------------------------------------------------------------
// Databases (RDS)
// ---------------------------------------------------------------------------------------------------------

/// An RDS instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DbInstance {
    /// `DBInstanceIdentifier`.
    pub id: String,
    /// Region.
    pub region: String,
    /// `DBInstanceStatus` (available, creating, modifying, backing-up, ...).
    pub status: String,
    /// Engine.
    pub engine: String,
    /// Endpoint address, once known.
    pub endpoint: Option<String>,
    /// Source instance when this is a read replica.
    pub replica_source: Option<String>,
    /// Read replicas of this instance.
    pub replicas: Vec<String>,
    /// Latest restorable time (PITR window end).
    pub latest_restorable_time: Option<DateTime<Utc>>,
    /// Earliest restorable time (PITR window start), derived from retention.
    pub earliest_restorable_time: Option<DateTime<Utc>>,
}

impl DbInstance {
    /// Status is `available`.
    #[must_use]
    pub fn is_available(&self) -> bool {
        self.status == "available"
    }
}

/// A DB snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DbSnapshot {
    /// Snapshot identifier.
    pub id: String,
    /// Instance it was taken from.
    pub instance_id: String,
    /// Region.
    pub region: String,
    /// Status (available, creating, ...).
    pub status: String,
    /// When it was taken.
    pub created_at: Option<DateTime<Utc>>,
}

/// Relational databases (RDS), per region.
#[cfg_attr(test, mockall::automock)]
#[async_trait::async_trait]
pub trait Databases: Send + Sync {
    /// Describe one instance.
    async fn instance(&self, region: &str, id: &str) -> Result<Option<DbInstance>>;
    /// All instances in a region.
    async fn instances(&self, region: &str) -> Result<Vec<DbInstance>>;
    /// Snapshots in a region, optionally of one instance, newest first.
    async fn snapshots<'a>(&self, region: &str, instance_id: Option<&'a str>) -> Result<Vec<DbSnapshot>>;
    /// Point-in-time restore of `source` into the new instance `target` at `restore_time`
    /// (latest restorable time when `None`).
    async fn restore_to_point_in_time(
        &self,
        region: &str,
        source: &str,
        target: &str,
        restore_time: Option<DateTime<Utc>>,
    ) -> Result<DbInstance>;
    /// Restore `snapshot` into the new instance `target`.
    async fn restore_from_snapshot(&self, region: &str, snapshot: &str, target: &str) -> Result<DbInstance>;
    /// Promote a read replica to a standalone instance.
    async fn promote_read_replica(&self, region: &str, id: &str) -> Result<DbInstance>;
    /// Delete an instance (compensation of a restore; keeps a final snapshot).
    async fn delete_instance(&self, region: &str, id: &str) -> Result<()>;
}

// ---------------------------------------------------------------------------------------------------------
// DNS (Route53)
// ---------------------------------------------------------------------------------------------------------

/// Failover role of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum FailoverRole {
    /// PRIMARY.
    Primary,
    /// SECONDARY.
    Secondary,
}

/// A resource record set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordSet {
    /// Fully qualified name with trailing dot.
    pub name: String,
    /// Type (A, AAAA, CNAME, ...).
    #[serde(rename = "type")]
    pub rtype: String,
    /// TTL seconds (absent for alias records).
    pub ttl: Option<u32>,
    /// Values.
    pub values: Vec<String>,
    /// `SetIdentifier` for weighted/failover records.
    pub set_identifier: Option<String>,
    /// Weight for weighted records.
    pub weight: Option<u32>,
    /// Failover role.
    pub failover: Option<FailoverRole>,
    /// Health check id.
    pub health_check_id: Option<String>,
}

/// Route53 change action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChangeAction {
    /// Create or replace.
    Upsert,
    /// Delete (must match exactly).
    Delete,
    /// Create (fails if it exists).
    Create,
}

/// Route53's own words, as serialized: `UPSERT`, `DELETE`, `CREATE`.
impl std::fmt::Display for ChangeAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Upsert => "UPSERT",
            Self::Delete => "DELETE",
            Self::Create => "CREATE",
        })
    }
}

/// One change of a change batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordChange {
    /// Action.
    pub action: ChangeAction,
    /// Record.
    pub record: RecordSet,
}

/// Propagation status of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChangeStatus {
    /// Not yet on all authoritative servers.
    Pending,
    /// Propagated.
    Insync,
}

/// Route53's own words, as serialized: `PENDING`, `INSYNC`.
impl std::fmt::Display for ChangeStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pending => "PENDING",
            Self::Insync => "INSYNC",
        })
    }
}

/// A submitted change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChangeInfo {
    /// Change id.
    pub id: String,
    /// Status.
    pub status: ChangeStatus,
    /// Submission time.
    pub submitted_at: DateTime<Utc>,
}

/// DNS (Route53).
#[cfg_attr(test, mockall::automock)]
#[async_trait::async_trait]
pub trait Dns: Send + Sync {
    /// Record sets of a zone, optionally only those named `name`.
    async fn record_sets<'a>(&self, zone_id: &str, name: Option<&'a str>) -> Result<Vec<RecordSet>>;
    /// Submit a change batch (atomic).
    async fn change(&self, zone_id: &str, changes: &[RecordChange], comment: &str) -> Result<ChangeInfo>;
    /// Status of a change.
    async fn change_status(&self, change_id: &str) -> Result<ChangeInfo>;
}

// ---------------------------------------------------------------------------------------------------------
// Cloud region checks (STS, AWS Health)
// ---------------------------------------------------------------------------------------------------------

/// An AWS Health event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HealthEvent {
    /// Service (EC2, RDS, EKS).
    pub service: String,
    /// Region.
    pub region: String,
    /// Event type code.
    pub code: String,
    /// open, closed, upcoming.
    pub status: String,
    /// Start time.
    pub start_time: Option<DateTime<Utc>>,
}

/// Region-level checks of the runbook's "Immediate Assessment".
#[cfg_attr(test, mockall::automock)]
#[async_trait::async_trait]
pub trait Cloud: Send + Sync {
    /// `aws sts get-caller-identity --region R`: the account id when credentials and connectivity work.
    async fn caller_identity(&self, region: &str) -> Result<String>;
    /// `aws health describe-events --filter services=...` in `region`.
    async fn health_events(&self, region: &str, services: &[String]) -> Result<Vec<HealthEvent>>;
}

// ---------------------------------------------------------------------------------------------------------
// HTTP probes, datastore probes, notifier
// ---------------------------------------------------------------------------------------------------------

/// Result of one HTTP probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HttpProbeResult {
    /// Status code.
    pub status: u16,
    /// Time to the full response.
    pub elapsed_ms: u64,
}

/// `curl -f URL` and `curl -w time_total`: HTTP GET with a timeout.
#[cfg_attr(test, mockall::automock)]
#[async_trait::async_trait]
pub trait HttpProbe: Send + Sync {
    /// GET `url`; transport errors are `Unavailable`/`Timeout`, any HTTP status is `Ok`.
    async fn get(&self, url: &str, timeout: Duration) -> Result<HttpProbeResult>;
}

/// Health of one datastore.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProbeReport {
    /// Datastore name (e.g. `postgres`, `redis`).
    pub name: String,
    /// Overall verdict.
    pub healthy: bool,
    /// Round-trip latency of the liveness query.
    pub latency_ms: Option<f64>,
    /// Named findings (`connections: 12/100`, ...).
    pub findings: Vec<Finding>,
}

/// One finding of a probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// Check name.
    pub check: String,
    /// Passed.
    pub ok: bool,
    /// Detail.
    pub detail: String,
}

/// A datastore health/integrity probe (read-only by construction).
#[cfg_attr(test, mockall::automock)]
#[async_trait::async_trait]
pub trait DatastoreProbe: Send + Sync {
    /// Name.
    fn name(&self) -> &str;
    /// Run the probe.
    async fn probe(&self) -> Result<ProbeReport>;
}

/// Where a notification goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Destination {
    /// A chat channel (`#incident-...`).
    Channel {
        /// Channel name.
        name: String,
    },
    /// The public status page.
    StatusPage,
    /// Page a role (PagerDuty).
    Page {
        /// Role to page.
        role: crate::policy::Role,
    },
    /// Anything else (webhook name).
    Webhook {
        /// Name.
        name: String,
    },
}

/// A message to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Notification {
    /// Incident id.
    pub incident_id: String,
    /// Destination.
    pub to: Destination,
    /// Kind (`declared`, `status_update`, `resolved`, `page`, ...).
    pub kind: String,
    /// Rendered text.
    pub text: String,
}

/// Outcome of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Delivery {
    /// Delivered; provider reference (message ts, incident id, ...).
    Delivered {
        /// Provider reference.
        reference: Option<String>,
    },
    /// Not sent on purpose (no provider configured for the destination).
    Skipped {
        /// Why.
        reason: String,
    },
}

/// Sends notifications (Slack, PagerDuty, status page, webhooks).
#[cfg_attr(test, mockall::automock)]
#[async_trait::async_trait]
pub trait Notifier: Send + Sync {
    /// Deliver one notification. A failure is an `Err`; a deliberate non-delivery is `Delivery::Skipped`.
    async fn notify(&self, notification: &Notification) -> Result<Delivery>;
}

/// Every backend a procedure may touch, wired explicitly.
#[derive(Clone)]
pub struct Backends {
    /// Kubernetes contexts.
    pub clusters: Arc<dyn Clusters>,
    /// RDS.
    pub databases: Arc<dyn Databases>,
    /// Route53.
    pub dns: Arc<dyn Dns>,
    /// STS / Health.
    pub cloud: Arc<dyn Cloud>,
    /// HTTP probes.
    pub http: Arc<dyn HttpProbe>,
    /// Datastore probes by name.
    pub probes: BTreeMap<String, Arc<dyn DatastoreProbe>>,
    /// Notifications.
    pub notifier: Arc<dyn Notifier>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("default_context", &self.clusters.default_context())
            .field("probes", &self.probes.keys().collect::<Vec<_>>())
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}
