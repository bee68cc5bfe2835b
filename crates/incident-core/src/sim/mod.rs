//! The embedded simulated ML platform: two regions of Kubernetes, RDS, Route53, HTTP and datastore probes
//! and a notifier behind the [`crate::backend`] ports, with a virtual clock, a latency model,
//! deterministic fault injection, an operation log and file persistence.
//!
//! ```
//! use incident_core::sim::{Scenario, SimPlatform};
//!
//! # fn main() -> incident_core::Result<()> {
//! let platform = SimPlatform::from_scenario(&Scenario::builtin("bad-deploy")?)?;
//! let backends = platform.backends();
//! incident_core::sim::runtime()?.block_on(async {
//!     let cluster = backends.clusters.cluster("ml-platform-primary").await?;
//!     let before = cluster.deployment("ml-platform", "ml-inference-api").await?;
//!     assert_eq!(before.map(|d| d.revision), Some(2));
//!     platform.advance(std::time::Duration::from_secs(180))?; // the bad rollout happens at 2m
//!     let reverted = cluster.rollback("ml-platform", "ml-inference-api", None).await?;
//!     assert_eq!(reverted.revision, 4); // revision 2's ReplicaSet becomes revision 4
//!     Ok::<_, incident_core::Error>(())
//! })?;
//! # Ok(()) }
//! ```
//!
//! # The world
//! Regions `us-west-2` (primary, kube context `ml-platform-primary`, RDS `ml-platform-prod`) and
//! `us-east-1` (secondary, context `ml-platform-secondary`, RDS read replica `ml-platform-secondary`).
//! Each cluster has 3 nodes, namespaces `ml-platform` (`ml-inference-api`, `postgres`, `redis`, config map
//! `app-config`) and `kube-system` (`coredns`, service `kube-dns`). Deployments keep a real revision history
//! (ReplicaSets `<deployment>-<hash>`); [`Cluster::rollback`](crate::backend::Cluster::rollback) behaves like
//! `kubectl rollout undo`. Pods come from the current ReplicaSet; their status follows the image's
//! behaviour (`world.images`) and node capacity. Route53 zone `Z123456789` (`ml-platform.com.`) holds
//! `api.ml-platform.com.` (simple CNAME to the primary region's load balancer),
//! `api-failover.ml-platform.com.` (failover PRIMARY/SECONDARY) and `models.ml-platform.com.` (weighted).
//! `https://api.ml-platform.com/health` and `/models` answer 200 when the region DNS points at (in-sync
//! changes only) is not dark, has a ready `ml-inference-api` pod and an available database; 503 otherwise.
//!
//! # Time
//! Virtual time lives in the world and moves only when something sleeps on the [`SimClock`] (every
//! backend call sleeps its modeled latency, see [`LatencyModel`]) or [`SimPlatform::advance`] is called.
//! Run callers on [`runtime()`] (or `#[tokio::test(start_paused = true)]`): sleeps then overlap, so two
//! concurrent 5-minute waits take 5 virtual minutes. On other runtimes use [`TimeMode::Jump`].
//! Convergence (pods Ready, instance `available`, change `INSYNC`) is computed from timestamps on every
//! read, so it also holds across processes. Use `backends.clock` for every wait in code under test.
//!
//! # Operation log and persistence
//! Every mutation appends a [`SimOp`] ([`SimPlatform::operation_log`]); reads are not logged. A
//! file-backed platform rewrites its state file atomically (temp file + rename) after every mutation and
//! every clock advance, so a process killed with SIGKILL leaves exactly the mutated world for
//! [`SimPlatform::open`]. One process at a time should use a state file.
//!
//! # Faults
//! [`Faults`] (from `world.faults`, a timed `faults` event, or [`SimPlatform::set_faults`]) inject
//! `Unavailable` errors, throttling, timeouts (for mutations: before or after applying, the latter marked
//! [`Error::request_may_have_been_sent`](crate::Error::request_may_have_been_sent)) and latency spikes,
//! deterministically from the seed and the call number. Calls to a dark region fail with `Unavailable`.
//!
//! # Scenario files
//! `crates/incident-core/scenarios/<name>.yaml`, embedded ([`Scenario::builtin`], [`Scenario::names`]),
//! or any file through [`Scenario::from_yaml_str`]. Unknown fields are errors naming the field path.
//! Durations are written `90s`, `2m`, `1h30m` (latencies also `250ms`). Top-level fields:
//!
//! | field | meaning |
//! |---|---|
//! | `name` | stable kebab-case name (built-in names: [`Scenario::names`]; deprecated ones still accepted: [`DEPRECATED_NAMES`]) |
//! | `description` | what goes wrong |
//! | `drill` | optional monthly drill kind ([`DrillKind`](crate::drills::DrillKind)): `database-failover`, `application-rollback`, `regional-failover`, `full-disaster-recovery` |
//! | `world` | overrides of the standard world ([`WorldSpec`]): `start`, `regions` (list of `name`, `context`, `role`, `lb_hostname`, `nodes`, `node_memory_mi`, `database`, `replica_of`), `deployments` (merged by namespace/name: `name`, `namespace`, `container`, `replicas`, `replicas_by_context`, `contexts`, `history: [{image, change_cause}]`, `memory_mi`), `images` (image → `status` Running/CrashLoopBackOff/ImagePullBackOff/OOMKilled, `latency_ms`, `error_rate`, `memory_mi`, `log`), `app_config`, `latency`, `faults`, `retention_days` |
//! | `events` | list of `{at: <offset>, <one action>}`; actions: `deploy: {context?, namespace?, deployment, image, change_cause?}`, `scale: {context?, namespace?, deployment, replicas}`, `region_dark: <region>`, `corrupt: {datastore, unvalidated_constraints, findings}`, `datastore_down: <name>`, `database_fails: <instance id>`, `faults: {...}` |
//! | `signals` | `alertmanager` (Alertmanager v4 webhook payload, object or JSON string), `observations: [{at, metric, value, service?}]`, `generators: ["error_rate 0.3 every 30s from 2m to 12m"]` |
//! | `incident` | `title`, `components`, `impact`, `customer_facing`, `customers_affected` |
//! | `procedure` | `name` (one of [`PROCEDURES`], or a deprecated alias such as `regional-failover`) and `params` (string map, see [`procedure_from_spec`](crate::engine::library::procedure_from_spec)) |
//! | `expect` | end state: `deployments: [{context?, namespace?, name, image?, revision?, replicas?, min_replicas?, all_pods_running?}]`, `dns: [{name, region}]`, `databases: [{region, id, status?, standalone?}]`, `http: [{url, status}]`, `probes: [{name, healthy}]`; checked by [`SimPlatform::verify`] |

mod clock;
mod cluster;
mod dns;
mod faults;
mod platform;
mod probes;
mod rds;
mod scenario;
mod state;
mod verify;

pub use clock::SimClock;
pub use faults::Faults;
pub use platform::{ExpectationOutcome, SimPlatform, TimeMode};
pub use scenario::{
    CorruptEvent, DEPRECATED_NAMES, DeployEvent, DeploymentSpec, ExpectDatabase, ExpectDeployment, ExpectDns,
    ExpectHttp, ExpectProbe, Expectations, ImageBehavior, IncidentSpec, LatencyModel, ObservationSpec, PROCEDURES,
    PodBehavior, ProcedureSpec, RegionRole, RegionSpec, RevisionSpec, ScaleEvent, Scenario, Signals, TimedEvent,
    WorldSpec,
};
pub use state::{SimOp, World};

/// A current-thread tokio runtime with paused time (timers enabled): the runtime simulator callers should
/// use so concurrent sleeps overlap in virtual time.
///
/// # Errors
/// `Internal` if the runtime cannot be built.
pub fn runtime() -> crate::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|e| crate::Error::internal("cannot build the simulator runtime").with_source(e))
}
