//! The engine: the simulated platform, procedures (library, spec, documents), plans, approval, and durable
//! runs (run / resume / approve a gate) against a journal store (a SQLite file, or an in-memory store
//! shared by the process). Sync functions release the GIL; `*_async` twins are awaitable (see `runtime`).

use chrono::{DateTime, Utc};
use incident_core::drill_run as drill;
use incident_core::engine::{
    Approval, ApprovedPlan as CoreApprovedPlan, Executor, Plan as CorePlan, Procedure as CoreProcedure,
    RunReport as CoreRunReport,
};
use incident_core::sim::{Scenario, SimPlatform as CoreSimPlatform};
use incident_core::{Policy as CorePolicy, Result as CoreResult};
use pyo3::prelude::*;

use crate::backends::Target;
use crate::convert::{ProcedureParams, Wrap};
use crate::drills::enum_str;
use crate::error::{OrRaise, from_json_str, guard, to_json_string, to_py_obj};
use crate::incident::now_or;
use crate::policy::{PyPolicy, or_default};
use crate::runtime::{awaitable, block};

type Date = DateTime<Utc>;

/// Names of the built-in simulator scenarios (`bad-deploy`, ...).
#[pyfunction]
pub(crate) fn scenario_names() -> PyResult<Vec<String>> {
    guard(|| Ok(Scenario::names().into_iter().map(str::to_owned).collect()))
}

/// Names of the library procedures.
#[pyfunction]
pub(crate) fn procedure_names() -> PyResult<Vec<String>> {
    guard(|| Ok(incident_core::engine::library::NAMES.iter().map(|s| (*s).to_owned()).collect()))
}

/// The embedded simulated ML platform (two regions of Kubernetes, RDS, Route53, probes) with a virtual
/// clock, in memory (`from_scenario`) or backed by a state file another process can continue.
#[pyclass(name = "SimPlatform", module = "incident_core._native", frozen)]
pub(crate) struct PySimPlatform {
    pub(crate) inner: CoreSimPlatform,
}

#[pymethods]
impl PySimPlatform {
    /// An in-memory platform from a built-in scenario name or a scenario YAML path.
    #[staticmethod]
    fn from_scenario(scenario: &str) -> PyResult<Self> {
        guard(|| {
            let s = Scenario::from_name_or_path(scenario).or_raise()?;
            Ok(Self { inner: CoreSimPlatform::from_scenario(&s).or_raise()? })
        })
    }
    /// Create a state file at `path` from `scenario`.
    #[staticmethod]
    fn create(path: std::path::PathBuf, scenario: &str) -> PyResult<Self> {
        guard(|| {
            let s = Scenario::from_name_or_path(scenario).or_raise()?;
            Ok(Self { inner: CoreSimPlatform::create(&path, &s).or_raise()? })
        })
    }
    /// Open an existing state file.
    #[staticmethod]
    fn open(path: std::path::PathBuf) -> PyResult<Self> {
        guard(|| Ok(Self { inner: CoreSimPlatform::open(&path).or_raise()? }))
    }
    /// Open `path`, creating it from `scenario` when missing (the CLI's `--sim FILE --scenario NAME`).
    #[staticmethod]
    fn open_or_create(path: std::path::PathBuf, scenario: &str) -> PyResult<Self> {
        guard(|| {
            let s = Scenario::from_name_or_path(scenario).or_raise()?;
            Ok(Self { inner: CoreSimPlatform::open_or_create(&path, &s).or_raise()? })
        })
    }
    /// The scenario's name.
    #[getter]
    fn scenario_name(&self) -> String {
        self.inner.scenario_name()
    }
    /// Virtual now.
    #[getter]
    fn now(&self) -> Date {
        self.inner.now()
    }
    /// When the simulated world started.
    #[getter]
    fn started_at(&self) -> Date {
        self.inner.started_at()
    }
    /// The state file, if any.
    #[getter]
    fn path(&self) -> Option<std::path::PathBuf> {
        self.inner.path().map(std::path::Path::to_path_buf)
    }
    /// Advance virtual time by `by` (a `timedelta` or seconds >= 0); timed scenario events fire.
    fn advance(&self, by: Wrap<std::time::Duration>) -> PyResult<()> {
        guard(|| self.inner.advance(by.0).or_raise())
    }
    /// Take a region dark (every call to it fails `UnavailableError`).
    fn region_goes_dark(&self, region: &str) -> PyResult<()> {
        guard(|| self.inner.region_goes_dark(region).or_raise())
    }
    /// Bring a dark region back.
    fn region_recovers(&self, region: &str) -> PyResult<()> {
        guard(|| self.inner.region_recovers(region).or_raise())
    }
    /// Resolve a DNS name as the simulated Route53 answers it.
    fn resolve(&self, name: &str) -> PyResult<Option<String>> {
        guard(|| Ok(self.inner.resolve(name)))
    }
    /// The whole simulated world as a dict.
    fn world<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| to_py_obj(py, &self.inner.world()))
    }
    /// Every mutation so far, as dicts.
    fn operation_log<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| to_py_obj(py, &self.inner.operation_log()))
    }
    /// Notifications sent through the simulated notifier, as dicts.
    fn notifications<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| to_py_obj(py, &self.inner.notifications()))
    }
    /// Virtual time since the simulated world started.
    #[getter]
    fn elapsed(&self) -> chrono::TimeDelta {
        self.inner.elapsed()
    }
    /// Move virtual time to `started_at + offset` (never backwards; a `timedelta` or seconds).
    fn advance_to_offset(&self, offset: Wrap<std::time::Duration>) -> PyResult<()> {
        guard(|| self.inner.advance_to_offset(offset.0).or_raise())
    }
    /// Mutations made through the backends only (`origin == "api"`), as dicts.
    fn api_operations<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| to_py_obj(py, &self.inner.api_operations()))
    }
    /// The active faults as a dict (latency, error rates, dark regions).
    fn faults<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| to_py_obj(py, &self.inner.faults()))
    }
    /// Replace the active faults (a dict in the shape `faults()` returns; missing keys take core's
    /// defaults). `InvalidInputError` naming a bad field or a rate outside 0..=1.
    fn set_faults(&self, faults: &Bound<'_, PyAny>) -> PyResult<()> {
        guard(|| {
            let faults = crate::error::from_value("faults", crate::error::py_to_json("faults", faults)?)?;
            self.inner.set_faults(faults).or_raise()
        })
    }
    /// Roll out `image` to a deployment's container, as a CI deploy would; returns the new revision.
    /// `NotFoundError` for an unknown context or deployment.
    #[pyo3(signature = (context, namespace, deployment, image, change_cause = None))]
    fn deploy_image(
        &self,
        context: &str,
        namespace: &str,
        deployment: &str,
        image: &str,
        change_cause: Option<&str>,
    ) -> PyResult<u64> {
        guard(|| self.inner.deploy_image(context, namespace, deployment, image, change_cause).or_raise())
    }
    fn __repr__(&self) -> String {
        format!("SimPlatform(scenario={:?}, now={})", self.inner.scenario_name(), self.inner.now().to_rfc3339())
    }
}

/// A procedure: a DAG of typed steps (actions, checks, waits, approval gates).
#[pyclass(name = "Procedure", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyProcedure {
    inner: CoreProcedure,
}

/// A library procedure over its runbook defaults, with typed parameters (one `TypedDict` per procedure in
/// `incident_core.procedures`, e.g. `ApplicationRollbackParams(deployment="api", to_revision=3,
/// rollout_timeout=timedelta(minutes=5))`; plain strings as in the CLI's `incident plan --param k=v`
/// work too). Core's `procedure_from_spec` builds and checks it: `NotFoundError` for an unknown
/// procedure, `InvalidInputError` naming the procedure and an unknown or malformed parameter (listing
/// the known ones); a value of the wrong Python type is a `TypeError` naming the key.
#[pyfunction]
#[pyo3(signature = (name, params = None, policy = None))]
pub(crate) fn procedure(
    name: &str,
    params: Option<ProcedureParams>,
    policy: Option<&PyPolicy>,
) -> PyResult<PyProcedure> {
    guard(|| {
        let params = params.unwrap_or_default().0;
        Ok(PyProcedure { inner: drill::procedure_from_spec(name, &params, &or_default(policy)).or_raise()? })
    })
}

/// Parse a procedure document (JSON or YAML), validating the DAG.
#[pyfunction]
pub(crate) fn parse_procedure(text: &str) -> PyResult<PyProcedure> {
    guard(|| Ok(PyProcedure { inner: CoreProcedure::parse(text).or_raise()? }))
}

type PlanWork = Box<dyn FnOnce(&tokio::runtime::Runtime) -> CoreResult<PyPlan> + Send>;

impl PyProcedure {
    fn plan_work(&self, target: Target, policy: Option<&PyPolicy>) -> PlanWork {
        let (procedure, policy) = (self.inner.clone(), or_default(policy));
        Box::new(move |rt| {
            let set = target.open(None, &policy, rt)?;
            Ok(PyPlan { inner: rt.block_on(procedure.plan(set.backends(), &policy))? })
        })
    }
}

#[pymethods]
impl PyProcedure {
    /// Name.
    #[getter]
    fn name(&self) -> String {
        self.inner.name.clone()
    }
    /// Description.
    #[getter]
    fn description(&self) -> String {
        self.inner.description.clone()
    }
    /// Stage names in order.
    fn stages(&self) -> PyResult<Vec<String>> {
        guard(|| Ok(self.inner.stages()))
    }
    /// Step ids in a dependency-respecting order.
    fn step_ids(&self) -> PyResult<Vec<String>> {
        guard(|| {
            let order = self.inner.topo_order().or_raise()?;
            Ok(order.into_iter().filter_map(|i| self.inner.steps.get(i).map(|s| s.id.clone())).collect())
        })
    }
    /// Validate the DAG (ids, dependencies, cycles).
    fn validate(&self) -> PyResult<()> {
        guard(|| self.inner.validate().or_raise())
    }
    /// Human-readable differences from `other`.
    fn diff(&self, other: &Self) -> PyResult<Vec<String>> {
        guard(|| Ok(self.inner.diff(&other.inner)))
    }
    /// YAML document.
    fn to_yaml(&self) -> PyResult<String> {
        guard(|| self.inner.to_yaml().or_raise())
    }
    /// JSON document.
    fn to_json(&self) -> PyResult<String> {
        guard(|| self.inner.to_json().or_raise())
    }
    /// Parse a JSON or YAML document (same as `parse_procedure`).
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        parse_procedure(text)
    }
    /// Read live state from `platform` (a `SimPlatform`, or `Backends` for real AWS) and produce the typed
    /// plan (nothing is mutated).
    #[pyo3(signature = (platform, policy = None))]
    fn plan(&self, py: Python<'_>, platform: Target, policy: Option<&PyPolicy>) -> PyResult<PyPlan> {
        guard(|| block(py, self.plan_work(platform, policy)))
    }
    /// `await procedure.plan_async(platform)`.
    #[pyo3(signature = (platform, policy = None))]
    fn plan_async<'py>(
        &self,
        py: Python<'py>,
        platform: Target,
        policy: Option<&PyPolicy>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| awaitable(py, self.plan_work(platform, policy)))
    }
    fn __str__(&self) -> String {
        self.inner.to_string()
    }
    fn __repr__(&self) -> String {
        format!("Procedure(name={:?}, steps={})", self.inner.name, self.inner.steps.len())
    }
}

/// A typed, inspectable plan of a procedure against live state.
#[pyclass(name = "Plan", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyPlan {
    pub(crate) inner: CorePlan,
}

#[pymethods]
impl PyPlan {
    /// Rebuild from wire JSON (e.g. a file written by `incident plan --out`).
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        guard(|| Ok(Self { inner: from_json_str("plan", text)? }))
    }
    /// The run id the plan will execute under.
    #[getter]
    fn run_id(&self) -> String {
        self.inner.run_id.clone()
    }
    /// The procedure's name.
    #[getter]
    fn procedure_name(&self) -> String {
        self.inner.procedure.name.clone()
    }
    /// When the plan was made (backend clock).
    #[getter]
    fn created_at(&self) -> Date {
        self.inner.created_at
    }
    /// Some step targets production: approval must confirm it.
    #[getter]
    fn needs_production_confirmation(&self) -> bool {
        self.inner.needs_production_confirmation
    }
    /// Step ids in order.
    fn step_ids(&self) -> Vec<String> {
        self.inner.steps.iter().map(|s| s.id.clone()).collect()
    }
    /// Guard-rail refusals (the plan cannot be approved while any exist).
    fn refusals(&self) -> Vec<String> {
        self.inner.refusals().map(|f| format!("{}: {}", f.rule, f.message)).collect()
    }
    /// SHA-256 digest binding an approval to this exact plan.
    fn digest(&self) -> String {
        self.inner.digest.clone()
    }
    /// Wire JSON.
    fn to_json(&self) -> PyResult<String> {
        guard(|| to_json_string(&self.inner))
    }
    /// Approve the plan. `RefusedError` when a guard rail refuses or production is not confirmed.
    #[pyo3(signature = (by, *, at = None, confirm_production = false, gates = Vec::new()))]
    fn approve(
        &self,
        by: String,
        at: Option<Wrap<Date>>,
        confirm_production: bool,
        gates: Vec<String>,
    ) -> PyResult<PyApprovedPlan> {
        guard(|| {
            // A blank `by` is core's `Refused` (Plan::approve), as in Node and the CLI.
            let mut a = Approval::new(by, now_or(at)).with_gates(gates);
            if confirm_production {
                a = a.confirm_production();
            }
            Ok(PyApprovedPlan { inner: self.inner.clone().approve(a).or_raise()? })
        })
    }
    fn __str__(&self) -> String {
        self.inner.to_string()
    }
    fn __repr__(&self) -> String {
        format!(
            "Plan(run_id={:?}, procedure={:?}, steps={})",
            self.inner.run_id,
            self.inner.procedure.name,
            self.inner.steps.len()
        )
    }
}

/// A plan bound to its approval.
#[pyclass(name = "ApprovedPlan", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyApprovedPlan {
    inner: CoreApprovedPlan,
}

#[pymethods]
impl PyApprovedPlan {
    /// The run id.
    #[getter]
    fn run_id(&self) -> String {
        self.inner.plan.run_id.clone()
    }
    /// Who approved.
    #[getter]
    fn approved_by(&self) -> String {
        self.inner.approval.by.clone()
    }
    /// Wire JSON.
    fn to_json(&self) -> PyResult<String> {
        guard(|| to_json_string(&self.inner))
    }
    /// Parse wire JSON.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        guard(|| Ok(Self { inner: from_json_str("approved plan", text)? }))
    }
    fn __repr__(&self) -> String {
        format!("ApprovedPlan(run_id={:?}, approved_by={:?})", self.inner.plan.run_id, self.inner.approval.by)
    }
}

/// The outcome of a run.
#[pyclass(name = "RunReport", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyRunReport {
    pub(crate) inner: CoreRunReport,
}

#[pymethods]
impl PyRunReport {
    /// Run id.
    #[getter]
    fn run_id(&self) -> String {
        self.inner.run_id.clone()
    }
    /// Procedure name.
    #[getter]
    fn procedure(&self) -> String {
        self.inner.procedure.clone()
    }
    /// `"succeeded"`, `"failed"`, `"compensated"`, or `"running"` (paused at an approval gate).
    #[getter]
    fn status(&self) -> &'static str {
        self.inner.status.as_str()
    }
    /// What was changed and not undone, one line per change.
    #[getter]
    fn left_state(&self) -> Vec<String> {
        self.inner.left_state.clone()
    }
    /// Problems that did not stop the run.
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.inner.warnings.clone()
    }
    /// `(step_id, status, error)` in plan order.
    fn steps(&self) -> Vec<(String, String, Option<String>)> {
        self.inner.steps.iter().map(|s| (s.id.clone(), enum_str(&s.status), s.error.clone())).collect()
    }
    /// Wire JSON.
    fn to_json(&self) -> PyResult<String> {
        guard(|| to_json_string(&self.inner))
    }
    /// Parse wire JSON.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        guard(|| Ok(Self { inner: from_json_str("run report", text)? }))
    }
    fn __repr__(&self) -> String {
        format!(
            "RunReport(run_id={:?}, procedure={:?}, status={:?})",
            self.inner.run_id,
            self.inner.procedure,
            self.inner.status.as_str()
        )
    }
}

/// Where a run journals and who runs it.
struct RunOpts {
    store: Option<String>,
    incident_id: Option<String>,
    owner: Option<String>,
    take_over: bool,
}

impl RunOpts {
    fn executor(&self, set: &incident_backends::BackendSet, policy: CorePolicy) -> Executor {
        let owner = self.owner.clone().unwrap_or_else(|| format!("python:{}", std::process::id()));
        let exec = set.executor(policy, owner);
        if self.take_over { exec.taking_over() } else { exec }
    }
}

type RunWork = Box<dyn FnOnce(&tokio::runtime::Runtime) -> CoreResult<PyRunReport> + Send>;

fn run_work(approved: &PyApprovedPlan, target: Target, o: RunOpts, policy: Option<&PyPolicy>) -> PyResult<RunWork> {
    target.check_store(o.store.as_deref())?;
    let (approved, policy) = (approved.inner.clone(), or_default(policy));
    Ok(Box::new(move |rt| {
        let set = target.open(o.store.as_deref(), &policy, rt)?;
        let exec = o.executor(&set, policy);
        Ok(PyRunReport { inner: rt.block_on(exec.run(approved, o.incident_id.clone()))? })
    }))
}

fn resume_work(run_id: String, target: Target, o: RunOpts, policy: Option<&PyPolicy>) -> PyResult<RunWork> {
    target.check_store(o.store.as_deref())?;
    let policy = or_default(policy);
    Ok(Box::new(move |rt| {
        let set = target.open(o.store.as_deref(), &policy, rt)?;
        let exec = o.executor(&set, policy);
        Ok(PyRunReport { inner: rt.block_on(exec.resume(&run_id))? })
    }))
}

/// Execute an approved plan on `platform` (a `SimPlatform`, or `Backends`), journaling intent and outcome of
/// every step in `store` (with a `SimPlatform`: a SQLite path or a `postgres://` URL; the process's
/// in-memory store when `None`; `Backends` carry their own). A failed or compensated run is a report.
#[pyfunction]
#[pyo3(signature = (approved, platform, *, store = None, incident_id = None, owner = None, policy = None))]
pub(crate) fn run_plan(
    py: Python<'_>,
    approved: &PyApprovedPlan,
    platform: Target,
    store: Option<String>,
    incident_id: Option<String>,
    owner: Option<String>,
    policy: Option<&PyPolicy>,
) -> PyResult<PyRunReport> {
    guard(|| block(py, run_work(approved, platform, RunOpts { store, incident_id, owner, take_over: false }, policy)?))
}

/// `await run_plan_async(...)`.
#[pyfunction]
#[pyo3(signature = (approved, platform, *, store = None, incident_id = None, owner = None, policy = None))]
pub(crate) fn run_plan_async<'py>(
    py: Python<'py>,
    approved: &PyApprovedPlan,
    platform: Target,
    store: Option<String>,
    incident_id: Option<String>,
    owner: Option<String>,
    policy: Option<&PyPolicy>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(|| {
        awaitable(py, run_work(approved, platform, RunOpts { store, incident_id, owner, take_over: false }, policy)?)
    })
}

/// Continue run `run_id` from its journal without repeating a completed mutation. `NotFoundError` for an
/// unknown run, `ConflictError` while another live executor holds a step (`take_over=True` adopts it).
#[pyfunction]
#[pyo3(signature = (run_id, platform, *, store = None, owner = None, take_over = false, policy = None))]
pub(crate) fn resume_run(
    py: Python<'_>,
    run_id: String,
    platform: Target,
    store: Option<String>,
    owner: Option<String>,
    take_over: bool,
    policy: Option<&PyPolicy>,
) -> PyResult<PyRunReport> {
    guard(|| block(py, resume_work(run_id, platform, RunOpts { store, incident_id: None, owner, take_over }, policy)?))
}

/// `await resume_run_async(...)`.
#[pyfunction]
#[pyo3(signature = (run_id, platform, *, store = None, owner = None, take_over = false, policy = None))]
pub(crate) fn resume_run_async<'py>(
    py: Python<'py>,
    run_id: String,
    platform: Target,
    store: Option<String>,
    owner: Option<String>,
    take_over: bool,
    policy: Option<&PyPolicy>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(|| {
        awaitable(py, resume_work(run_id, platform, RunOpts { store, incident_id: None, owner, take_over }, policy)?)
    })
}

/// Approve approval-gate `step_id` of a paused run (then `resume_run`).
#[pyfunction]
#[pyo3(signature = (run_id, step_id, by, platform, *, store = None))]
pub(crate) fn approve_gate(
    py: Python<'_>,
    run_id: String,
    step_id: String,
    by: String,
    platform: Target,
    store: Option<String>,
) -> PyResult<()> {
    guard(|| {
        platform.check_store(store.as_deref())?;
        let o = RunOpts { store, incident_id: None, owner: None, take_over: false };
        block(py, move |rt| {
            let policy = CorePolicy::default();
            let set = platform.open(o.store.as_deref(), &policy, rt)?;
            rt.block_on(o.executor(&set, policy).approve_gate(&run_id, &step_id, &by))
        })
    })
}
