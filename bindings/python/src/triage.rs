//! `triage`: the runbook's first-five-minutes checks (pods, nodes, deployments, endpoints, events, logs,
//! datastores) on a platform's cluster; sync and awaitable.

use std::path::PathBuf;

use incident_core::Result as CoreResult;
use incident_core::triage::{TriageOptions as CoreOptions, TriageReport as CoreTriageReport};
use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::backends::Target;
use crate::convert::{Since, Span};
use crate::error::{from_json_str, guard, to_json_string, to_py_obj};
use crate::policy::{PyPolicy, or_default};
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

/// Every field of `incident_core::triage::TriageOptions`, as Python gives them (`None`: core's default).
#[derive(Debug, Clone, Default)]
struct Options {
    namespace: Option<String>,
    context: Option<String>,
    log_tail: Option<u32>,
    log_deployments: Option<Vec<String>>,
    log_selectors: Option<Vec<String>>,
    since: Option<Since>,
    git_repo: Option<PathBuf>,
    error_patterns: Option<Vec<String>>,
    top: Option<usize>,
    recent_events: Option<usize>,
    call_deadline: Option<Span>,
    max_concurrency: Option<usize>,
}

fn work(target: Target, o: Options, policy: incident_core::Policy) -> Work {
    Box::new(move |rt: &Runtime| {
        let set = target.open(None, &policy, rt)?;
        // As the CLI's `incident triage`: the policy's concurrency limit, and an empty pattern list keeps
        // core's default.
        let d = CoreOptions {
            max_concurrency: usize::try_from(policy.limits.max_concurrency).unwrap_or(usize::MAX),
            ..CoreOptions::default()
        };
        let opts = CoreOptions {
            namespace: o.namespace.unwrap_or(d.namespace),
            log_deployments: o.log_deployments.unwrap_or(d.log_deployments),
            log_selectors: o.log_selectors.unwrap_or(d.log_selectors),
            since: o.since.map(|s| s.at(set.now())).transpose()?,
            git_repo: o.git_repo,
            log_tail: o.log_tail.unwrap_or(d.log_tail),
            error_patterns: o.error_patterns.filter(|p| !p.is_empty()).unwrap_or(d.error_patterns),
            recent_events: o.recent_events.unwrap_or(d.recent_events),
            top: o.top.unwrap_or(d.top),
            call_deadline: o.call_deadline.map_or(d.call_deadline, |s| s.0),
            max_concurrency: o.max_concurrency.unwrap_or(d.max_concurrency),
        };
        Ok(PyTriageReport { inner: rt.block_on(set.triage(&opts, o.context.as_deref()))? })
    })
}

/// Triage `platform`'s cluster (GIL released): a `SimPlatform`, or `Backends` (real PostgreSQL / Redis
/// probes replace the simulator's). Every option of `incident triage` (`None`: its default):
/// `namespace` (`ml-platform`), `context` (the backend's default), `log_tail` (100 lines per pod),
/// `log_deployments` (`NAME` or `NAMESPACE/NAME`; every deployment of `namespace` when empty),
/// `log_selectors` (`app=api` or `NAMESPACE/app=api,tier=web`), `since` (a `datetime`, or how long ago
/// as a `timedelta`, seconds or `"2h"`: rollouts, warning events and commits since then), `git_repo` (a
/// local repository whose commits since `since` are listed), `error_patterns` (case-insensitive; default
/// and when empty `["error"]`), `top` (10 pods/nodes by memory), `recent_events` (20), `call_deadline` (per
/// backend call, 10 s; `timedelta`, seconds or `"10s"`), `max_concurrency` (pods' logs read at once:
/// `policy.limits.max_concurrency`, as the CLI), `policy` (the runbook's defaults when `None`; a
/// `SimPlatform` is opened under it, `Backends` keep the policy they were connected with). A partly
/// unavailable cluster or an unreachable datastore is a report with findings, not an error; an unknown
/// context raises `NotFoundError`, a blank namespace or a malformed duration `InvalidInputError`.
#[pyfunction]
#[pyo3(signature = (platform, *, namespace = None, context = None, log_tail = None, log_deployments = None,
    log_selectors = None, since = None, git_repo = None, error_patterns = None, top = None, recent_events = None,
    call_deadline = None, max_concurrency = None, policy = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn triage(
    py: Python<'_>,
    platform: Target,
    namespace: Option<String>,
    context: Option<String>,
    log_tail: Option<u32>,
    log_deployments: Option<Vec<String>>,
    log_selectors: Option<Vec<String>>,
    since: Option<Since>,
    git_repo: Option<PathBuf>,
    error_patterns: Option<Vec<String>>,
    top: Option<usize>,
    recent_events: Option<usize>,
    call_deadline: Option<Span>,
    max_concurrency: Option<usize>,
    policy: Option<&PyPolicy>,
) -> PyResult<PyTriageReport> {
    let o = Options {
        namespace,
        context,
        log_tail,
        log_deployments,
        log_selectors,
        since,
        git_repo,
        error_patterns,
        top,
        recent_events,
        call_deadline,
        max_concurrency,
    };
    guard(|| block(py, work(platform, o, or_default(policy))))
}

/// `await triage_async(platform, ...)`: `triage` on a worker thread (the same options).
#[pyfunction]
#[pyo3(signature = (platform, *, namespace = None, context = None, log_tail = None, log_deployments = None,
    log_selectors = None, since = None, git_repo = None, error_patterns = None, top = None, recent_events = None,
    call_deadline = None, max_concurrency = None, policy = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn triage_async<'py>(
    py: Python<'py>,
    platform: Target,
    namespace: Option<String>,
    context: Option<String>,
    log_tail: Option<u32>,
    log_deployments: Option<Vec<String>>,
    log_selectors: Option<Vec<String>>,
    since: Option<Since>,
    git_repo: Option<PathBuf>,
    error_patterns: Option<Vec<String>>,
    top: Option<usize>,
    recent_events: Option<usize>,
    call_deadline: Option<Span>,
    max_concurrency: Option<usize>,
    policy: Option<&PyPolicy>,
) -> PyResult<Bound<'py, PyAny>> {
    let o = Options {
        namespace,
        context,
        log_tail,
        log_deployments,
        log_selectors,
        since,
        git_repo,
        error_patterns,
        top,
        recent_events,
        call_deadline,
        max_concurrency,
    };
    guard(|| awaitable(py, work(platform, o, or_default(policy))))
}
