//! Real backends: `AwsConfig`, `Backends.connect(...)` (a real Kubernetes cluster or the simulator, AWS, a
//! SQLite or PostgreSQL store, real PostgreSQL / Redis probes, all chosen by `incident-backends`), and the
//! `SimPlatform | Backends` argument of plan / run / resume / approve_gate / triage.

use std::sync::{Arc, OnceLock};

use incident_backends::{AwsConfig, BackendSet, BackendSpec, ConnectionString, RedisUrl, SimSpec, StoreSpec};
use incident_core::store::{MemoryStore, Store};
use incident_core::{Policy as CorePolicy, Result as CoreResult};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::convert::Wrap;
use crate::engine::PySimPlatform;
use crate::error::{guard, invalid};
use crate::policy::{PyPolicy, or_default};
use crate::runtime::{awaitable, block};

/// Where AWS is: regions, an endpoint override (moto, LocalStack) and a shared-config profile. Anything
/// left `None` comes from the standard configuration chain (`AWS_REGION`, `AWS_PROFILE`, credentials from
/// the environment, the profile, or instance metadata). Checked when connecting.
#[pyclass(name = "AwsConfig", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PyAwsConfig {
    inner: AwsConfig,
}

#[pymethods]
impl PyAwsConfig {
    #[new]
    #[pyo3(signature = (*, region = None, secondary_region = None, endpoint_url = None, profile = None))]
    fn new(
        region: Option<String>,
        secondary_region: Option<String>,
        endpoint_url: Option<String>,
        profile: Option<String>,
    ) -> Self {
        Self {
            inner: AwsConfig {
                primary_region: region,
                secondary_region,
                endpoint_url,
                profile,
                ..AwsConfig::default()
            },
        }
    }
    /// Primary region (`None`: the chain's).
    #[getter]
    fn region(&self) -> Option<String> {
        self.inner.primary_region.clone()
    }
    /// Secondary (failover) region.
    #[getter]
    fn secondary_region(&self) -> Option<String> {
        self.inner.secondary_region.clone()
    }
    /// Endpoint override for every AWS service.
    #[getter]
    fn endpoint_url(&self) -> Option<String> {
        self.inner.endpoint_url.clone()
    }
    /// Shared-config profile.
    #[getter]
    fn profile(&self) -> Option<String> {
        self.inner.profile.clone()
    }
    fn __repr__(&self) -> String {
        let f = |o: &Option<String>| o.as_deref().map_or_else(|| "None".to_owned(), |s| format!("{s:?}"));
        format!(
            "AwsConfig(region={}, secondary_region={}, endpoint_url={}, profile={})",
            f(&self.inner.primary_region),
            f(&self.inner.secondary_region),
            f(&self.inner.endpoint_url.as_deref().map(incident_core::redact::scrub)),
            f(&self.inner.profile)
        )
    }
}

/// Connected backends: a real Kubernetes cluster (kubeconfig) or the simulated platform for the cluster
/// side, AWS (when configured) for databases, DNS and cloud checks, the journal store, and the datastore
/// probes. Pass it wherever a `SimPlatform` is accepted (`Procedure.plan`, `run_plan`, `resume_run`,
/// `approve_gate`, `triage`).
#[pyclass(name = "Backends", module = "incident_core._native", frozen)]
pub(crate) struct PyBackends {
    pub(crate) inner: BackendSet,
    /// The process that connected: the real clients' runtime threads do not survive `fork()`.
    pid: u32,
}

/// The keyword arguments of `Backends.connect`.
struct ConnectArgs {
    sim: Option<SimArg>,
    scenario: Option<String>,
    at: Option<Wrap<std::time::Duration>>,
    kube: KubeArgs,
    aws: Option<AwsConfig>,
    store: Option<String>,
    postgres: Option<String>,
    redis: Option<String>,
}

pub(crate) enum SimArg {
    Platform(incident_core::sim::SimPlatform),
    File(std::path::PathBuf),
}

impl<'py> FromPyObject<'_, 'py> for SimArg {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(p) = obj.cast::<PySimPlatform>() {
            return Ok(Self::Platform(p.get().inner.clone()));
        }
        obj.extract::<std::path::PathBuf>().map(Self::File).map_err(|_| {
            let ty = obj.get_type().name().map(|n| n.to_string()).unwrap_or_default();
            PyTypeError::new_err(format!("sim: expected a SimPlatform or a state file path, not {ty}"))
        })
    }
}

impl ConnectArgs {
    /// The spec (pure conversion; `incident-backends` validates and connects).
    fn spec(self) -> PyResult<BackendSpec> {
        let mut spec = BackendSpec::new();
        let sim = match (self.sim, self.scenario) {
            (Some(SimArg::Platform(_)), Some(_)) => {
                return Err(invalid("scenario applies to a state file or a new platform, not to an open SimPlatform"));
            }
            (Some(SimArg::Platform(p)), None) => Some(SimSpec::platform(p)),
            (Some(SimArg::File(path)), scenario) => {
                Some(SimSpec::file(path, scenario.unwrap_or_else(|| "bad-deploy".to_owned())))
            }
            (None, Some(scenario)) => Some(SimSpec::scenario(scenario)),
            (None, None) => None,
        };
        spec = spec.with_sim_at(sim, self.at.map(|a| a.0), "at").map_err(|e| crate::error::to_py(&e))?;
        let KubeArgs { kube, kubeconfig, kube_context, eks } = self.kube;
        spec = spec.with_kube_flags(kube, kubeconfig, kube_context);
        spec = spec.with_eks_specs(&eks).map_err(|e| crate::error::to_py(&e))?;
        if let Some(aws) = self.aws {
            spec = spec.with_aws(aws);
        }
        if let Some(store) = self.store {
            spec = spec.with_store(StoreSpec::parse(&store).map_err(|e| crate::error::to_py(&e))?);
        }
        if let Some(url) = self.postgres {
            spec = spec
                .with_postgres(ConnectionString::parse(&url).map_err(|e| crate::error::to_py(&e.context("postgres")))?);
        }
        if let Some(url) = self.redis {
            spec = spec.with_redis(RedisUrl::parse(&url).map_err(|e| crate::error::to_py(&e.context("redis")))?);
        }
        Ok(spec)
    }
}

type ConnectWork = Box<dyn FnOnce(&Runtime) -> CoreResult<PyBackends> + Send>;

fn connect_work(args: ConnectArgs, policy: Option<&PyPolicy>) -> PyResult<ConnectWork> {
    let (spec, policy) = (args.spec()?, or_default(policy));
    Ok(Box::new(move |rt| Ok(PyBackends { inner: rt.block_on(spec.open(&policy))?, pid: std::process::id() })))
}

#[pymethods]
impl PyBackends {
    /// Connect (GIL released). The cluster side is either a real Kubernetes cluster or the simulator, not
    /// both. `kubeconfig`: a kubeconfig file for a real cluster; `kube_context`: its default context (the
    /// kubeconfig's current context when `None`); `kube=True`: a real cluster from the default kubeconfig
    /// (`$KUBECONFIG` or `~/.kube/config`), implied by either of the other two. `eks`: EKS clusters served
    /// as kube contexts, each `"CONTEXT=REGION/CLUSTER"` (needs `aws`; endpoint, CA and a token that is
    /// refreshed before it expires come from AWS, as `aws eks update-kubeconfig` would). `sim`: an open
    /// `SimPlatform`, or a state file path created from `scenario` (default `bad-deploy`) when missing;
    /// without `sim`, a new in-memory platform from `scenario`. `at`: advance the simulated platform to
    /// this offset from its start. `aws`: use AWS for databases, DNS and cloud checks. `store`: a SQLite
    /// path or a `postgres://` URL (in memory when `None`). `postgres` / `redis`: real datastores whose
    /// probes replace the simulator's (the policy's integrity checks run against PostgreSQL). Raises
    /// `InvalidInputError` for a bad spec, URL or kubeconfig (never repeating a password), both a real
    /// cluster and a simulator, or none; `NotFoundError` for a context not in the kubeconfig;
    /// `PermissionDeniedError` without AWS credentials; `UnavailableError` when the store is unreachable.
    #[staticmethod]
    #[pyo3(signature = (*, sim = None, scenario = None, at = None, kube = false, kubeconfig = None,
        kube_context = None, eks = None, aws = None, store = None, postgres = None, redis = None,
        policy = None))]
    #[allow(clippy::too_many_arguments)]
    fn connect(
        py: Python<'_>,
        sim: Option<SimArg>,
        scenario: Option<String>,
        at: Option<Wrap<std::time::Duration>>,
        kube: bool,
        kubeconfig: Option<std::path::PathBuf>,
        kube_context: Option<String>,
        eks: Option<Vec<String>>,
        aws: Option<PyRef<'_, PyAwsConfig>>,
        store: Option<std::path::PathBuf>,
        postgres: Option<String>,
        redis: Option<String>,
        policy: Option<&PyPolicy>,
    ) -> PyResult<Self> {
        guard(|| {
            let kube = KubeArgs { kube, kubeconfig, kube_context, eks: eks.unwrap_or_default() };
            let args = connect_args(sim, scenario, at, kube, aws, store, postgres, redis);
            block(py, connect_work(args, policy)?)
        })
    }

    /// `await Backends.connect_async(...)`.
    #[staticmethod]
    #[pyo3(signature = (*, sim = None, scenario = None, at = None, kube = false, kubeconfig = None,
        kube_context = None, eks = None, aws = None, store = None, postgres = None, redis = None,
        policy = None))]
    #[allow(clippy::too_many_arguments)]
    fn connect_async<'py>(
        py: Python<'py>,
        sim: Option<SimArg>,
        scenario: Option<String>,
        at: Option<Wrap<std::time::Duration>>,
        kube: bool,
        kubeconfig: Option<std::path::PathBuf>,
        kube_context: Option<String>,
        eks: Option<Vec<String>>,
        aws: Option<PyRef<'_, PyAwsConfig>>,
        store: Option<std::path::PathBuf>,
        postgres: Option<String>,
        redis: Option<String>,
        policy: Option<&PyPolicy>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let kube = KubeArgs { kube, kubeconfig, kube_context, eks: eks.unwrap_or_default() };
            let args = connect_args(sim, scenario, at, kube, aws, store, postgres, redis);
            awaitable(py, connect_work(args, policy)?)
        })
    }

    /// The simulated platform behind the cluster side (`None` on a real cluster).
    #[getter]
    fn sim(&self) -> Option<PySimPlatform> {
        self.inner.sim().map(|p| PySimPlatform { inner: p.clone() })
    }
    /// AWS serves databases, DNS and cloud checks.
    #[getter]
    fn uses_aws(&self) -> bool {
        self.inner.uses_aws()
    }
    /// Names of the probes that reach real datastores.
    #[getter]
    fn real_probes(&self) -> Vec<String> {
        self.inner.real_probes().to_vec()
    }
    /// One line naming each part (never a password).
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn __repr__(&self) -> String {
        format!("Backends({})", self.inner.describe())
    }
}

#[allow(clippy::too_many_arguments)]
fn connect_args(
    sim: Option<SimArg>,
    scenario: Option<String>,
    at: Option<Wrap<std::time::Duration>>,
    kube: KubeArgs,
    aws: Option<PyRef<'_, PyAwsConfig>>,
    store: Option<std::path::PathBuf>,
    postgres: Option<String>,
    redis: Option<String>,
) -> ConnectArgs {
    ConnectArgs {
        sim,
        scenario,
        at,
        kube,
        aws: aws.map(|a| a.inner.clone()),
        store: store.map(|p| p.to_string_lossy().into_owned()),
        postgres,
        redis,
    }
}

/// The `kube`, `kubeconfig`, `kube_context` and `eks` arguments of `Backends.connect`.
struct KubeArgs {
    kube: bool,
    kubeconfig: Option<std::path::PathBuf>,
    kube_context: Option<String>,
    eks: Vec<String>,
}

/// What a procedure, run or triage acts on: a `SimPlatform` (with a per-call store) or `Backends`.
#[derive(Clone)]
pub(crate) enum Target {
    /// An open simulated platform; the store comes with the call.
    Sim(incident_core::sim::SimPlatform),
    /// Connected backends, with their own store.
    Set(BackendSet),
}

impl<'py> FromPyObject<'_, 'py> for Target {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(p) = obj.cast::<PySimPlatform>() {
            return Ok(Self::Sim(p.get().inner.clone()));
        }
        if let Ok(b) = obj.cast::<PyBackends>() {
            let b = b.get();
            if b.pid != std::process::id() {
                return Err(crate::error::to_py(&incident_core::Error::precondition(format!(
                    "these Backends were connected in process {} and cannot be used after fork(): call \
                     Backends.connect again in this process",
                    b.pid
                ))));
            }
            return Ok(Self::Set(b.inner.clone()));
        }
        let ty = obj.get_type().name().map(|n| n.to_string()).unwrap_or_default();
        Err(PyTypeError::new_err(format!("expected a SimPlatform or Backends, not {ty}")))
    }
}

/// The process's in-memory store: runs without a `store` on a `SimPlatform` can be resumed in the same
/// process.
fn process_memory_store() -> Arc<dyn Store> {
    static MEMORY: OnceLock<Arc<dyn Store>> = OnceLock::new();
    Arc::clone(MEMORY.get_or_init(|| Arc::new(MemoryStore::new())))
}

impl Target {
    /// Check the per-call `store` argument against the target (before any work is queued).
    pub(crate) fn check_store(&self, store: Option<&str>) -> PyResult<()> {
        if matches!(self, Self::Set(_)) && store.is_some() {
            return Err(invalid(
                "store: Backends carry their own store (Backends.connect(store=...)); pass store only with a SimPlatform",
            ));
        }
        Ok(())
    }

    /// The backend set to act on: the connected one, or the simulator with `store` (a SQLite path or a
    /// `postgres://` URL; the process's in-memory store when `None`).
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
