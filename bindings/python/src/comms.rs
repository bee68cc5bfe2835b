//! Comms: status-page and internal update templates, the resolved message, and update cadence.

use chrono::{DateTime, Utc};
use incident_core::Status;
use incident_core::comms::{self as core, ResolvedInput, UpdateInput, UpdateKind};
use pyo3::prelude::*;

use crate::convert::{StrEnum, Wrap};
use crate::drills::enum_str;
use crate::error::{OrRaise, guard, to_json_string};
use crate::incident::{PyIncident, now_or};
use crate::policy::{PyPolicy, or_default};

type Date = DateTime<Utc>;
type At = Option<Wrap<Date>>;

impl StrEnum for UpdateKind {
    const WHAT: &'static str = "update kind";
    const ALLOWED: &'static [&'static str] = &UpdateKind::NAMES;
}

/// Format an instant as the runbook's templates do (`2024-05-03 14:02 UTC`).
#[pyfunction]
pub(crate) fn format_utc(at: Wrap<Date>) -> PyResult<String> {
    guard(|| Ok(core::format_utc(at.0)))
}

/// The initial status-page post for `service`.
#[pyfunction]
pub(crate) fn initial_status_page(service: &str) -> PyResult<String> {
    guard(|| core::initial_status_page(service).or_raise())
}

/// A status update from explicit fields.
#[pyfunction]
#[pyo3(signature = (time, status, impact, *, next_update = None, details = String::new()))]
pub(crate) fn status_update(
    time: Wrap<Date>,
    status: Wrap<Status>,
    impact: String,
    next_update: At,
    details: String,
) -> PyResult<String> {
    guard(|| {
        let inp =
            UpdateInput { time: time.0, status: status.0, impact, next_update: next_update.map(|w| w.0), details };
        core::status_update(&inp).or_raise()
    })
}

/// The status update for `incident` now (next update from the policy's cadence).
#[pyfunction]
#[pyo3(signature = (incident, *, details = String::new(), now = None, policy = None))]
pub(crate) fn status_update_for(
    incident: &PyIncident,
    details: String,
    now: At,
    policy: Option<&PyPolicy>,
) -> PyResult<String> {
    guard(|| {
        let inp = UpdateInput::for_incident(&incident.incident, &or_default(policy), now_or(now), &details);
        core::status_update(&inp).or_raise()
    })
}

/// The resolved message from explicit fields.
#[pyfunction]
#[pyo3(signature = (*, time, service, started_at, root_cause, resolution, impact))]
pub(crate) fn resolved_message(
    time: Wrap<Date>,
    service: String,
    started_at: Wrap<Date>,
    root_cause: String,
    resolution: String,
    impact: String,
) -> PyResult<String> {
    guard(|| {
        let inp = ResolvedInput { time: time.0, service, started_at: started_at.0, root_cause, resolution, impact };
        core::resolved_message(&inp).or_raise()
    })
}

/// The resolved message for a resolved `incident` (`PreconditionFailedError`/`InvalidInputError` when it
/// lacks a root cause, resolution or resolution time).
#[pyfunction]
pub(crate) fn resolved_message_for(incident: &PyIncident) -> PyResult<String> {
    guard(|| {
        let inp = ResolvedInput::from_incident(&incident.incident).or_raise()?;
        core::resolved_message(&inp).or_raise()
    })
}

/// Which updates are due and which are late.
#[pyclass(name = "CadenceStatus", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyCadenceStatus {
    inner: core::CadenceStatus,
}

#[pymethods]
impl PyCadenceStatus {
    /// Next internal update due.
    #[getter]
    fn next_internal_due(&self) -> Option<Date> {
        self.inner.next_internal_due
    }
    /// Next status-page update due.
    #[getter]
    fn next_status_page_due(&self) -> Option<Date> {
        self.inner.next_status_page_due
    }
    /// Late updates as `(kind, due_at, late_by)` tuples, internal first.
    #[getter]
    fn overdue(&self) -> Vec<(String, Date, chrono::TimeDelta)> {
        self.inner.overdue.iter().map(|o| (enum_str(&o.kind), o.due_at, o.late_by.into())).collect()
    }
    /// Wire JSON.
    fn to_json(&self) -> PyResult<String> {
        guard(|| to_json_string(&self.inner))
    }
    fn __repr__(&self) -> String {
        format!(
            "CadenceStatus(next_internal_due={:?}, next_status_page_due={:?}, overdue={})",
            self.inner.next_internal_due.map(|d| d.to_rfc3339()),
            self.inner.next_status_page_due.map(|d| d.to_rfc3339()),
            self.inner.overdue.len()
        )
    }
}

/// Which updates of `incident` are due and late under `policy`'s cadence (raises `InvalidInputError` for
/// `now` or a last update earlier than the declaration, or a last update later than `now`).
#[pyfunction]
#[pyo3(signature = (incident, *, last_internal_update = None, last_status_page_update = None, now = None, policy = None))]
pub(crate) fn cadence_status(
    incident: &PyIncident,
    last_internal_update: At,
    last_status_page_update: At,
    now: At,
    policy: Option<&PyPolicy>,
) -> PyResult<PyCadenceStatus> {
    guard(|| {
        let s = core::try_cadence_status(
            &or_default(policy),
            &incident.incident,
            last_internal_update.map(|w| w.0),
            last_status_page_update.map(|w| w.0),
            now_or(now),
        )
        .or_raise()?;
        Ok(PyCadenceStatus { inner: s })
    })
}

/// Remembers the last internal and status-page updates and answers cadence questions.
#[pyclass(name = "CadenceTracker", module = "incident_core._native", eq)]
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct PyCadenceTracker {
    inner: core::CadenceTracker,
}

#[pymethods]
impl PyCadenceTracker {
    /// Nothing sent yet.
    #[new]
    fn new() -> Self {
        Self::default()
    }
    /// From an incident's timeline (its succeeded `message_sent` events).
    #[staticmethod]
    fn from_incident(incident: &PyIncident) -> PyResult<Self> {
        guard(|| Ok(Self { inner: core::CadenceTracker::from_timeline(&incident.timeline) }))
    }
    /// Note that an update of `kind` (`"internal"` or `"status_page"`) went out at `at`.
    fn record(&mut self, kind: Wrap<UpdateKind>, at: Wrap<Date>) -> PyResult<()> {
        guard(|| {
            self.inner.record(kind.0, at.0);
            Ok(())
        })
    }
    /// Last internal update.
    #[getter]
    fn last_internal_update(&self) -> Option<Date> {
        self.inner.last_internal_update
    }
    /// Last status-page update.
    #[getter]
    fn last_status_page_update(&self) -> Option<Date> {
        self.inner.last_status_page_update
    }
    /// The cadence status of `incident` at `now` with the recorded times (`InvalidInputError` for a time
    /// earlier than the declaration, or a recorded update later than `now`).
    #[pyo3(signature = (incident, *, now = None, policy = None))]
    fn status(&self, incident: &PyIncident, now: At, policy: Option<&PyPolicy>) -> PyResult<PyCadenceStatus> {
        guard(|| {
            let inner = self.inner.try_status(&or_default(policy), &incident.incident, now_or(now)).or_raise()?;
            Ok(PyCadenceStatus { inner })
        })
    }
    fn __repr__(&self) -> String {
        format!(
            "CadenceTracker(last_internal_update={:?}, last_status_page_update={:?})",
            self.inner.last_internal_update.map(|d| d.to_rfc3339()),
            self.inner.last_status_page_update.map(|d| d.to_rfc3339())
        )
    }
}
