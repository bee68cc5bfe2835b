//! `triage`: the runbook's first-five-minutes checks (pods, nodes, deployments, endpoints, events, logs,
//! datastores) on a platform's cluster; sync and awaitable.

use incident_core::Result as CoreResult;
use incident_core::triage::{TriageOptions as CoreOptions, TriageReport as CoreTriageReport};
use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::backends::Target;
use crate::error::{from_json_str, guard, to_json_string, to_py_obj};
use crate::runtime::{awaitable, block};

/// A triage report.
#[pyclass(name = "TriageReport", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyTriageReport {
    pub(crate) inner: CoreTriageReport,
}

#[pymethods]
impl PyTriageReport {
    /// Kube context triaged.
    #[getter]
    fn context(&self) -> String {
        self.inner.context.clone()
    }
    /// When (backend clock).
    #[getter]
    fn at(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.at
    }
    /// Nothing wrong found.
    #[getter]
    fn healthy(&self) -> bool {
        self.inner.is_healthy()
    }
    /// Some sections could not be produced.
    #[getter]
    fn partial(&self) -> bool {
        self.inner.is_partial()
    }
    /// Deployments with unavailable replicas.
    #[getter]
    fn degraded_deployments(&self) -> Vec<String> {
        self.inner.degraded_deployments.iter().map(|d| d.deployment.name.clone()).collect()
    }
    /// The report as text (the CLI's `incident triage`).
    fn render(&self) -> PyResult<String> {
        guard(|| Ok(self.inner.render()))
    }
    /// The wire form as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| to_py_obj(py, &self.inner))
    }
    /// Wire JSON.
    fn to_json(&self) -> PyResult<String> {
        guard(|| to_json_string(&self.inner))
    }
    /// Parse wire JSON.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        guard(|| Ok(Self { inner: from_json_str("triage report", text)? }))
    }
    fn __repr__(&self) -> String {
        format!(
            "TriageReport(context={:?}, healthy={}, degraded={:?})",
            self.inner.context,
            if self.inner.is_healthy() { "True" } else { "False" },
            self.degraded_deployments()
        )
    }
}

type Work = Box<dyn FnOnce(&Runtime) -> CoreResult<PyTriageReport> + Send>;

fn work(
    target: Target,
    namespace: Option<String>,
    context: Option<String>,
    log_tail: Option<u32>,
    log_deployments: Option<Vec<String>>,
) -> PyResult<Work> {
    Ok(Box::new(move |rt: &Runtime| {
        let set = target.open(None, &incident_core::Policy::default(), rt)?;
        let mut opts = CoreOptions::default();
        if let Some(ns) = namespace {
            opts.namespace = ns;
        }
        if let Some(t) = log_tail {
            opts.log_tail = t;
        }
        if let Some(d) = log_deployments {
            opts.log_deployments = d;
        }
        Ok(PyTriageReport { inner: rt.block_on(set.triage(&opts, context.as_deref()))? })
    }))
}

/// Triage `platform`'s cluster (GIL released): a `SimPlatform`, or `Backends` (real PostgreSQL / Redis
/// probes replace the simulator's). A partly unavailable cluster or an unreachable datastore is a report
/// with findings, not an error; an unknown context raises `NotFoundError`.
#[pyfunction]
#[pyo3(signature = (platform, *, namespace = None, context = None, log_tail = None, log_deployments = None))]
pub(crate) fn triage(
    py: Python<'_>,
    platform: Target,
    namespace: Option<String>,
    context: Option<String>,
    log_tail: Option<u32>,
    log_deployments: Option<Vec<String>>,
) -> PyResult<PyTriageReport> {
    guard(|| {
        let w = work(platform, namespace, context, log_tail, log_deployments)?;
        block(py, w)
    })
}

/// `await triage_async(platform, ...)`: `triage` on a worker thread.
#[pyfunction]
#[pyo3(signature = (platform, *, namespace = None, context = None, log_tail = None, log_deployments = None))]
pub(crate) fn triage_async<'py>(
    py: Python<'py>,
    platform: Target,
    namespace: Option<String>,
    context: Option<String>,
    log_tail: Option<u32>,
    log_deployments: Option<Vec<String>>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(|| {
        let w = work(platform, namespace, context, log_tail, log_deployments)?;
        awaitable(py, w)
    })
}
