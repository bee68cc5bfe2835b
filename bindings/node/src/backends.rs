//! Real backends: `Backends.connect({...})` (a real Kubernetes cluster or the simulator, AWS, a SQLite or
//! PostgreSQL store, real PostgreSQL / Redis probes, all chosen by `incident-backends`), and the
//! `SimPlatform | Backends` argument of plan / runPlan / resumeRun / approveGate / triage.

use std::sync::{Arc, OnceLock};

use incident_backends::{AwsConfig, BackendSet, BackendSpec, ConnectionString, RedisUrl, SimSpec, StoreSpec};
use incident_core::store::{MemoryStore, Store};
use incident_core::{Error as CoreError, Policy as CorePolicy, Result as CoreResult};
use napi::bindgen_prelude::{AsyncTask, ClassInstance, Either};
use napi_derive::napi;
use tokio::runtime::Runtime;

use crate::engine::{SimPlatform, secs};
use crate::policy::{Policy, or_default};
use crate::task::{SimTask, spawn};

/// Where AWS is. Anything absent comes from the standard configuration chain (`AWS_REGION`,
/// `AWS_PROFILE`, credentials from the environment, a profile or instance metadata); `{}` is the chain
/// alone.
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// Primary region (e.g. `us-west-2`).
    pub region: Option<String>,
    /// Secondary (failover) region.
    pub secondary_region: Option<String>,
    /// Endpoint override for every AWS service (moto, LocalStack), `http(s)://host[:port]`.
    pub endpoint_url: Option<String>,
    /// Shared-config profile.
    pub profile: Option<String>,
}

/// What `Backends.connect` assembles.
// `sim` is read synchronously while `connect` is called, on the JS thread: the `'static` of its
// `ClassInstance` never outlives that call.
#[napi(object, object_to_js = false)]
pub struct BackendOptions {
    /// The simulated platform (the cluster side, plus databases, DNS and cloud checks unless `aws`): an
    /// open `SimPlatform`, or a state file path created from `scenario` when missing. Absent: a new
    /// in-memory platform from `scenario`.
    #[napi(ts_type = "SimPlatform | string")]
    pub sim: Option<Either<ClassInstance<'static, SimPlatform>, String>>,
    /// Built-in scenario name or scenario YAML path (default `bad-deploy` for a new state file).
    pub scenario: Option<String>,
    /// Advance the simulated platform to this many seconds after its start first.
    pub at_seconds: Option<f64>,
    /// Use a real Kubernetes cluster from the default kubeconfig (`$KUBECONFIG` or `~/.kube/config`) for
    /// the cluster side; implied by `kubeconfig` or `kubeContext`. Not together with `sim` / `scenario`.
    pub kube: Option<bool>,
    /// Kubeconfig file of a real Kubernetes cluster for the cluster side.
    pub kubeconfig: Option<String>,
    /// Default kubeconfig context of the real cluster (the kubeconfig's current context when absent).
    pub kube_context: Option<String>,
    /// EKS clusters served as kube contexts, each `CONTEXT=REGION/CLUSTER` (needs `aws`; endpoint, CA and a
    /// token refreshed before it expires come from AWS, as `aws eks update-kubeconfig` would).
    pub eks: Option<Vec<String>>,
    /// Use AWS (RDS, Route53, STS, Health) for databases, DNS and cloud checks.
    pub aws: Option<AwsOptions>,
    /// Journal store: a SQLite file path or a `postgres://` URL (in memory when absent).
    pub store: Option<String>,
    /// A real PostgreSQL to probe (replaces the simulator's `postgres` probe; the policy's integrity checks
    /// run against it).
    pub postgres: Option<String>,
    /// A real Redis to probe (replaces the simulator's `redis` probe).
    pub redis: Option<String>,
}

impl BackendOptions {
    /// The spec (pure conversion; `incident-backends` validates and connects).
    fn spec(self) -> CoreResult<BackendSpec> {
        let mut spec = BackendSpec::new();
        let sim = match (self.sim, self.scenario) {
            (Some(Either::A(_)), Some(_)) => {
                return Err(CoreError::invalid_input(
                    "scenario applies to a state file or a new platform, not to an open SimPlatform",
                ));
            }
            (Some(Either::A(p)), None) => Some(SimSpec::platform(p.inner.clone())),
            (Some(Either::B(path)), scenario) => {
                Some(SimSpec::file(path, scenario.unwrap_or_else(|| "bad-deploy".to_owned())))
            }
            (None, Some(scenario)) => Some(SimSpec::scenario(scenario)),
            (None, None) => None,
        };
        let at = self.at_seconds.map(secs).transpose()?;
        spec = spec.with_sim_at(sim, at, "atSeconds")?;
        spec = spec.with_kube_flags(
            self.kube == Some(true),
            self.kubeconfig.map(std::path::PathBuf::from),
            self.kube_context,
        );
        spec = spec.with_eks_specs(self.eks.iter().flatten())?;
        if let Some(aws) = self.aws {
            spec = spec.with_aws(AwsConfig {
                primary_region: aws.region,
                secondary_region: aws.secondary_region,
                endpoint_url: aws.endpoint_url,
                profile: aws.profile,
                ..AwsConfig::default()
            });
        }
        if let Some(store) = self.store {
            spec = spec.with_store(StoreSpec::parse(&store)?);
        }
        if let Some(url) = self.postgres {
            spec = spec.with_postgres(ConnectionString::parse(&url).map_err(|e| e.context("postgres"))?);
        }
        if let Some(url) = self.redis {
            spec = spec.with_redis(RedisUrl::parse(&url).map_err(|e| e.context("redis"))?);
        }
        Ok(spec)
    }
}

/// Connected backends: a real Kubernetes cluster (kubeconfig) or the simulated platform for the cluster
/// side, AWS (when configured) for databases, DNS and cloud checks, the journal store, and the datastore
/// probes (real ones where configured). Pass it wherever a `SimPlatform` is accepted (`Procedure.plan`,
/// `runPlan`, `resumeRun`, `approveGate`, `triage`). Real clients run on a small real-time runtime owned
/// by this object.
#[napi]
pub struct Backends {
    pub(crate) inner: BackendSet,
}

#[napi]
impl Backends {
    /// Connect everything `options` names: read the kubeconfig or open or create the simulated platform,
    /// load the AWS chain and resolve credentials, open the store (running the PostgreSQL store's
    /// migrations). Rejects `invalid_input` for a bad spec, URL, region or kubeconfig (never repeating a
    /// password), for both a real cluster and a simulator or neither, `not_found` for a context not in the
    /// kubeconfig, `permission_denied` without AWS credentials, `unavailable` when the store is unreachable.
    #[napi(strict, ts_return_type = "Promise<Backends>")]
    pub fn connect(options: BackendOptions, policy: Option<&Policy>) -> AsyncTask<SimTask<Backends>> {
        let (spec, policy) = (options.spec(), or_default(policy));
        spawn(move |rt| Ok(Backends { inner: rt.block_on(spec?.open(&policy))? }))
    }

    /// The simulated platform behind the cluster side (`null` on a real cluster).
    #[napi(getter, catch_unwind)]
    pub fn sim(&self) -> Option<SimPlatform> {
        self.inner.sim().map(|p| SimPlatform { inner: p.clone() })
    }

    /// AWS serves databases, DNS and cloud checks.
    #[napi(getter, catch_unwind)]
    pub fn uses_aws(&self) -> bool {
        self.inner.uses_aws()
    }

    /// Names of the probes that reach real datastores.
    #[napi(getter, catch_unwind)]
    pub fn real_probes(&self) -> Vec<String> {
        self.inner.real_probes().to_vec()
    }

    /// One line naming each part (never a password).
    #[napi(strict, catch_unwind)]
    pub fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// What a procedure, run or triage acts on, moved into the work of an async call.
#[derive(Clone)]
pub(crate) enum Target {
    /// An open simulated platform; the store comes with the call.
    Sim(incident_core::sim::SimPlatform),
    /// Connected backends, with their own store.
    Set(BackendSet),
}

/// The process's in-memory store: runs without a `store` on a `SimPlatform` can be resumed in the same
/// process.
fn process_memory_store() -> Arc<dyn Store> {
    static MEMORY: OnceLock<Arc<dyn Store>> = OnceLock::new();
    Arc::clone(MEMORY.get_or_init(|| Arc::new(MemoryStore::new())))
}

impl Target {
    /// The target of `platform`, checking the per-call `store` option against it.
    /// `platform` is the JS argument `SimPlatform | Backends`.
    pub(crate) fn of(platform: &Either<&SimPlatform, &Backends>, store: Option<&str>) -> CoreResult<Self> {
        match platform {
            Either::A(p) => Ok(Self::Sim(p.inner.clone())),
            Either::B(_) if store.is_some() => Err(CoreError::invalid_input(
                "store: Backends carry their own store (Backends.connect({ store })); pass store only with a SimPlatform",
            )),
            Either::B(b) => Ok(Self::Set(b.inner.clone())),
        }
    }

    /// The backend set to act on: the connected one, or the simulator with `store` (a SQLite path or a
    /// `postgres://` URL; the process's in-memory store when absent).
    pub(crate) fn open(self, store: Option<&str>, policy: &CorePolicy, rt: &Runtime) -> CoreResult<BackendSet> {
        match self {
            Self::Set(set) => Ok(set),
            Self::Sim(p) => {
                let store = match store {
                    Some(s) => StoreSpec::parse(s)?,
                    None => StoreSpec::Open(process_memory_store()),
                };
                rt.block_on(BackendSpec::new().with_sim(SimSpec::platform(p)).with_store(store).open(policy))
            }
        }
    }
}
