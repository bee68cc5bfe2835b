//! `run_drill`: a whole scenario end to end on the simulator (detection, declaration, triage, plan,
//! approval, run, verification, resolution, post-mortem), scored against the policy's stage budgets.

use std::sync::{Arc, Mutex};

use incident_backends::{BackendSpec, SimSpec, StoreSpec};
use incident_core::Result as CoreResult;
use incident_core::drill_run::{
    self as core, Approver, AutoApprove, DrillEvent, DrillObserver, DrillOptions as CoreOptions,
    DrillReport as CoreDrillReport, Silent,
};
use incident_core::evidence::DrillBundle;
use incident_core::sim::SimPlatform as CoreSimPlatform;
use incident_store::SqliteStore;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyBool;

use crate::classify::PyClassification;
use crate::convert::Wrap;
use crate::detector::PyDeclaration;
use crate::engine::{PyPlan, PyRunReport};
use crate::error::{guard, to_json_string, to_py, to_py_obj};
use crate::incident::PyIncident;
use crate::policy::{PyPolicy, or_default};
use crate::postmortem::PyPostMortem;
use crate::runtime::{awaitable_then, block};
use crate::timeline::PyTimeline;
use crate::triage::PyTriageReport;

/// Everything a drill produced.
#[pyclass(name = "DrillReport", module = "incident_core._native", frozen)]
pub(crate) struct PyDrillReport {
    inner: CoreDrillReport,
}

#[pymethods]
impl PyDrillReport {
    /// Scenario name.
    #[getter]
    fn scenario(&self) -> String {
        self.inner.scenario.clone()
    }
    /// Every stage did its job and every expectation held.
    #[getter]
    fn passed(&self) -> bool {
        self.inner.passed
    }
    /// Why not.
    #[getter]
    fn failures(&self) -> Vec<String> {
        self.inner.failures.clone()
    }
    /// The incident (final state) with its verified timeline.
    #[getter]
    fn incident(&self) -> PyIncident {
        PyIncident::wrap(self.inner.incident.clone(), self.inner.timeline.clone())
    }
    /// The classification that set the severity.
    #[getter]
    fn classification(&self) -> PyClassification {
        PyClassification::wrap(self.inner.classification)
    }
    /// Detector declarations.
    #[getter]
    fn declarations(&self) -> Vec<PyDeclaration> {
        self.inner.declarations.iter().map(|d| PyDeclaration { inner: d.clone() }).collect()
    }
    /// Triage.
    #[getter]
    fn triage(&self) -> PyTriageReport {
        PyTriageReport { inner: self.inner.triage.clone() }
    }
    /// The approved plan.
    #[getter]
    fn plan(&self) -> PyPlan {
        PyPlan { inner: self.inner.plan.clone() }
    }
    /// The run (`None` when the plan was declined).
    #[getter]
    fn run(&self) -> Option<PyRunReport> {
        self.inner.run.clone().map(|inner| PyRunReport { inner })
    }
    /// The timeline.
    #[getter]
    fn timeline(&self) -> PyTimeline {
        PyTimeline { inner: self.inner.timeline.clone() }
    }
    /// The post-mortem.
    #[getter]
    fn postmortem(&self) -> PyPostMortem {
        PyPostMortem { inner: self.inner.postmortem.clone() }
    }
    /// Stage scores as dicts (`stage`, `started_at`, `finished_at`, `elapsed_secs`, `budget`, `within_budget`, `ok`).
    fn stages<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| to_py_obj(py, &self.inner.stages))
    }
    /// End-state expectations as dicts (`check`, `ok`, `detail`).
    fn expectations<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| to_py_obj(py, &self.inner.expectations))
    }
    /// A one-screen summary (the CLI's).
    fn summary(&self) -> PyResult<String> {
        guard(|| Ok(core::summary(&self.inner)))
    }
    /// Wire JSON (the CLI's `report.json`).
    fn to_json(&self) -> PyResult<String> {
        guard(|| to_json_string(&self.inner))
    }
    fn __repr__(&self) -> String {
        format!(
            "DrillReport(scenario={:?}, passed={})",
            self.inner.scenario,
            if self.inner.passed { "True" } else { "False" }
        )
    }
}

type Work = Box<dyn FnOnce(&tokio::runtime::Runtime) -> CoreResult<PyDrillReport> + Send>;

/// The first exception a Python callback raised: re-raised in place of the core error it caused (or,
/// for an `on_event` callback, after the drill), so the caller sees their own exception.
#[derive(Clone, Default)]
struct Raised(Arc<Mutex<Option<PyErr>>>);

impl Raised {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<PyErr>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    fn set(&self, e: PyErr) {
        let mut slot = self.lock();
        if slot.is_none() {
            *slot = Some(e);
        }
    }
    fn is_set(&self) -> bool {
        self.lock().is_some()
    }
    /// The result of the drill as the caller should see it.
    fn finish<T>(&self, r: PyResult<T>) -> PyResult<T> {
        match self.lock().take() {
            Some(e) => Err(e),
            None => r,
        }
    }
}

/// Asks a Python callable `approve(plan) -> bool` (or, under `run_drill_async`, `async def`).
struct PyApprover {
    f: Py<PyAny>,
    by: String,
    raised: Raised,
    /// The running loop of `run_drill_async`, where a coroutine approver is awaited.
    event_loop: Option<Py<PyAny>>,
}

impl PyApprover {
    fn decide(&self, py: Python<'_>, plan: &incident_core::engine::Plan) -> PyResult<bool> {
        let mut r = self.f.bind(py).call1((PyPlan { inner: plan.clone() },))?;
        let asyncio = py.import("asyncio")?;
        if asyncio.call_method1("iscoroutine", (&r,))?.is_truthy()? {
            let Some(event_loop) = &self.event_loop else {
                let _ = r.call_method0("close");
                return Err(PyTypeError::new_err(
                    "approve returned a coroutine: use run_drill_async for an async approver",
                ));
            };
            r = asyncio.call_method1("run_coroutine_threadsafe", (r, event_loop.bind(py)))?.call_method0("result")?;
        }
        if !r.is_instance_of::<PyBool>() {
            return Err(PyTypeError::new_err(format!("approve must return a bool, got {}", r.get_type().name()?)));
        }
        r.extract()
    }
}

#[async_trait::async_trait]
impl Approver for PyApprover {
    async fn approve(
        &self,
        plan: &incident_core::engine::Plan,
        now: chrono::DateTime<chrono::Utc>,
    ) -> CoreResult<Option<incident_core::engine::Approval>> {
        match Python::attach(|py| self.decide(py, plan)) {
            Ok(true) => AutoApprove { by: self.by.clone() }.approve(plan, now).await,
            Ok(false) => Ok(None),
            Err(e) => {
                let msg = e.to_string();
                self.raised.set(e);
                Err(incident_core::Error::invalid_input(format!("approve callback raised {msg}")))
            }
        }
    }
}

/// Calls a Python callable with each drill event as a dict (`event`: `stage_started`, `stage_finished`
/// or `log`). After the first exception it is not called again; that exception is raised when the drill
/// ends.
struct PyObserver {
    f: Py<PyAny>,
    raised: Raised,
}

impl DrillObserver for PyObserver {
    fn on_event(&self, event: &DrillEvent) {
        if self.raised.is_set() {
            return;
        }
        Python::attach(|py| {
            if let Err(e) = to_py_obj(py, event).and_then(|d| self.f.bind(py).call1((d,))) {
                self.raised.set(e);
            }
        });
    }
}

/// `approve=`: a bool, or a callable deciding per plan.
pub(crate) enum Approve {
    Always(bool),
    Ask(Py<PyAny>),
}

impl<'py> FromPyObject<'_, 'py> for Approve {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        if obj.is_instance_of::<PyBool>() {
            return Ok(Self::Always(obj.extract()?));
        }
        if obj.is_callable() {
            return Ok(Self::Ask(obj.to_owned().unbind()));
        }
        Err(PyTypeError::new_err(format!(
            "approve: expected a bool or a callable taking a Plan, not {}",
            obj.get_type().name()?
        )))
    }
}

/// Everything `run_drill` and `run_drill_async` take.
struct DrillArgs {
    scenario: String,
    on_call: String,
    approver: Option<String>,
    approve: Approve,
    incident_id: Option<String>,
    monitor_for: Option<Wrap<std::time::Duration>>,
    store: Option<String>,
    evidence: Option<std::path::PathBuf>,
    on_event: Option<Py<PyAny>>,
}

fn work(a: DrillArgs, policy: Option<&PyPolicy>, event_loop: Option<Py<PyAny>>, raised: &Raised) -> PyResult<Work> {
    incident_core::text::non_blank("on_call", &a.on_call).map_err(|e| to_py(&e))?;
    if a.on_event.as_ref().is_some_and(|f| !Python::attach(|py| f.bind(py).is_callable())) {
        return Err(PyTypeError::new_err("on_event: expected a callable taking an event dict"));
    }
    if a.store.is_some() && a.evidence.is_some() {
        return Err(to_py(&incident_core::Error::invalid_input(
            "store and evidence are exclusive: an evidence bundle's journal.sqlite is the drill's store",
        )));
    }
    let store = a.store.as_deref().map(StoreSpec::parse).transpose().map_err(|e| to_py(&e))?;
    let policy = or_default(policy);
    let raised = raised.clone();
    Ok(Box::new(move |rt| {
        let scenario = incident_core::sim::Scenario::from_name_or_path(&a.scenario)?;
        let platform = CoreSimPlatform::from_scenario(&scenario)?;
        // As `incident drill --out DIR`: the drill writes to the bundle's store, which is then sealed,
        // manifested and verified.
        let bundle = a.evidence.as_deref().map(DrillBundle::<SqliteStore>::create).transpose()?;
        let store = match &bundle {
            Some(b) => Some(StoreSpec::Open(Arc::new(b.store().clone()))),
            None => store,
        };
        let set = rt.block_on(
            BackendSpec::new()
                .with_sim(SimSpec::platform(platform.clone()))
                .with_store(store.unwrap_or_default())
                .open(&policy),
        )?;
        let by = a.approver.unwrap_or_else(|| a.on_call.clone());
        let approver: Box<dyn Approver> = match a.approve {
            Approve::Always(true) => Box::new(AutoApprove { by }),
            Approve::Always(false) => Box::new(incident_core::drill_run::Decline),
            Approve::Ask(f) => Box::new(PyApprover { f, by, raised: raised.clone(), event_loop }),
        };
        let observer: Box<dyn DrillObserver> = match a.on_event {
            Some(f) => Box::new(PyObserver { f, raised }),
            None => Box::new(Silent),
        };
        let mut opts = CoreOptions { on_call: a.on_call, incident_id: a.incident_id, ..CoreOptions::default() };
        if let Some(m) = a.monitor_for {
            opts.monitor_for = m.0;
        }
        let report = rt.block_on(core::run_drill(
            &platform,
            Arc::clone(set.store()),
            &policy,
            &scenario,
            &opts,
            approver.as_ref(),
            observer.as_ref(),
        ))?;
        drop(set);
        if let Some(b) = bundle {
            b.finish(&report, None)?;
        }
        Ok(PyDrillReport { inner: report })
    }))
}

/// Run built-in scenario `scenario` (or a scenario YAML path) end to end on a fresh in-memory simulator
/// (GIL released; virtual time, so a 10-minute scenario takes milliseconds). A failing drill is a report
/// with `passed=False`. `approve`: `True` approves as `approver` (confirming production targets and
/// gates), `False` declines, a callable `approve(plan) -> bool` decides (its exception propagates).
/// `on_event`: called with each progress event (a dict; see `DrillEvent`); its first exception is raised
/// when the drill ends. `store`: a SQLite path or a `postgres://` URL (in memory when `None`).
/// `evidence`: a directory to write the evidence bundle to, as `incident drill --out DIR` (its
/// `journal.sqlite` is then the store; check it with `verify_evidence`).
#[pyfunction]
#[pyo3(signature = (scenario, *, on_call = "on-call".to_owned(), approver = None, approve = Approve::Always(true),
    incident_id = None, monitor_for = None, store = None, evidence = None, on_event = None, policy = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_drill(
    py: Python<'_>,
    scenario: String,
    on_call: String,
    approver: Option<String>,
    approve: Approve,
    incident_id: Option<String>,
    monitor_for: Option<Wrap<std::time::Duration>>,
    store: Option<String>,
    evidence: Option<std::path::PathBuf>,
    on_event: Option<Py<PyAny>>,
    policy: Option<&PyPolicy>,
) -> PyResult<PyDrillReport> {
    guard(|| {
        let args =
            DrillArgs { scenario, on_call, approver, approve, incident_id, monitor_for, store, evidence, on_event };
        let raised = Raised::default();
        let w = work(args, policy, None, &raised)?;
        raised.finish(block(py, w))
    })
}

/// `await run_drill_async(...)`: `run_drill` on a worker thread; `approve` may be `async def`.
#[pyfunction]
#[pyo3(signature = (scenario, *, on_call = "on-call".to_owned(), approver = None, approve = Approve::Always(true),
    incident_id = None, monitor_for = None, store = None, evidence = None, on_event = None, policy = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_drill_async<'py>(
    py: Python<'py>,
    scenario: String,
    on_call: String,
    approver: Option<String>,
    approve: Approve,
    incident_id: Option<String>,
    monitor_for: Option<Wrap<std::time::Duration>>,
    store: Option<String>,
    evidence: Option<std::path::PathBuf>,
    on_event: Option<Py<PyAny>>,
    policy: Option<&PyPolicy>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(|| {
        let args =
            DrillArgs { scenario, on_call, approver, approve, incident_id, monitor_for, store, evidence, on_event };
        let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?.unbind();
        let raised = Raised::default();
        let w = work(args, policy, Some(event_loop), &raised)?;
        awaitable_then(py, w, move |r| raised.finish(r))
    })
}
