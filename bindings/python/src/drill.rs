//! `run_drill`: a whole scenario end to end on the simulator (detection, declaration, triage, plan,
//! approval, run, verification, resolution, post-mortem), scored against the policy's stage budgets.

use incident_core::Result as CoreResult;
use incident_core::drill::{
    self as core, Approver, AutoApprove, DrillOptions as CoreOptions, DrillReport as CoreDrillReport, Silent,
};
use incident_core::sim::SimPlatform as CoreSimPlatform;
use pyo3::prelude::*;

use crate::classify::PyClassification;
use crate::convert::Wrap;
use crate::detector::PyDeclaration;
use crate::engine::{PyPlan, PyRunReport, open_store};
use crate::error::{guard, invalid, to_json_string, to_py_obj};
use crate::incident::PyIncident;
use crate::policy::{PyPolicy, or_default};
use crate::postmortem::PyPostMortem;
use crate::runtime::{awaitable, block};
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

#[allow(clippy::too_many_arguments)]
fn work(
    scenario: String,
    on_call: String,
    approver: Option<String>,
    approve: bool,
    incident_id: Option<String>,
    monitor_for: Option<Wrap<std::time::Duration>>,
    store: Option<String>,
    policy: Option<&PyPolicy>,
) -> PyResult<Work> {
    if on_call.trim().is_empty() {
        return Err(invalid("on_call must be non-empty"));
    }
    let policy = or_default(policy);
    Ok(Box::new(move |rt| {
        let scenario = incident_core::sim::Scenario::from_name_or_path(&scenario)?;
        let platform = CoreSimPlatform::from_scenario(&scenario)?;
        let store = open_store(store.as_deref())?;
        let approver: Box<dyn Approver> = if approve {
            Box::new(AutoApprove { by: approver.unwrap_or_else(|| on_call.clone()) })
        } else {
            Box::new(incident_core::drill::Decline)
        };
        let mut opts = CoreOptions { on_call, incident_id, ..CoreOptions::default() };
        if let Some(m) = monitor_for {
            opts.monitor_for = m.0;
        }
        let report =
            rt.block_on(core::run_drill(&platform, store, &policy, &scenario, &opts, approver.as_ref(), &Silent))?;
        Ok(PyDrillReport { inner: report })
    }))
}

/// Run built-in scenario `scenario` (or a scenario YAML path) end to end on a fresh in-memory simulator
/// (GIL released; virtual time, so a 10-minute scenario takes milliseconds). A failing drill is a report
/// with `passed=False`; `approve=False` declines the plan. `store`: a SQLite journal path.
#[pyfunction]
#[pyo3(signature = (scenario, *, on_call = "on-call".to_owned(), approver = None, approve = true, incident_id = None,
    monitor_for = None, store = None, policy = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_drill(
    py: Python<'_>,
    scenario: String,
    on_call: String,
    approver: Option<String>,
    approve: bool,
    incident_id: Option<String>,
    monitor_for: Option<Wrap<std::time::Duration>>,
    store: Option<String>,
    policy: Option<&PyPolicy>,
) -> PyResult<PyDrillReport> {
    guard(|| block(py, work(scenario, on_call, approver, approve, incident_id, monitor_for, store, policy)?))
}

/// `await run_drill_async(...)`: `run_drill` on a worker thread.
#[pyfunction]
#[pyo3(signature = (scenario, *, on_call = "on-call".to_owned(), approver = None, approve = true, incident_id = None,
    monitor_for = None, store = None, policy = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_drill_async<'py>(
    py: Python<'py>,
    scenario: String,
    on_call: String,
    approver: Option<String>,
    approve: bool,
    incident_id: Option<String>,
    monitor_for: Option<Wrap<std::time::Duration>>,
    store: Option<String>,
    policy: Option<&PyPolicy>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(|| awaitable(py, work(scenario, on_call, approver, approve, incident_id, monitor_for, store, policy)?))
}
