//! `Timeline`: the hash-chained event log of an incident, and response metrics (MTTD/MTTA/MTTM/MTTR).

use chrono::{DateTime, Utc};
use incident_core::timeline::{self as core, Timeline as CoreTimeline};
use pyo3::prelude::*;
use serde_json::Value;

use crate::error::{OrRaise, from_json_str, from_value, guard, json_to_py, py_to_json, to_json_string, to_value};

/// One timeline entry.
#[pyclass(name = "TimelineEvent", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyTimelineEvent {
    inner: core::Event,
}

#[pymethods]
impl PyTimelineEvent {
    /// Position, from 1.
    #[getter]
    fn seq(&self) -> u64 {
        self.inner.seq
    }
    /// When (UTC).
    #[getter]
    fn at(&self) -> DateTime<Utc> {
        self.inner.at
    }
    /// Who (person, `system`, procedure name).
    #[getter]
    fn actor(&self) -> String {
        self.inner.actor.clone()
    }
    /// Event type (`detected`, `declared`, `status_changed`, `message_sent`, ...).
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind.type_name()
    }
    /// One line describing it.
    #[getter]
    fn description(&self) -> String {
        self.inner.kind.describe()
    }
    /// The event's fields, e.g. `{"from": "investigating", "to": "identified"}`.
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let mut v = to_value(&self.inner.kind)?;
            if let Value::Object(m) = &mut v {
                m.remove("type");
            }
            json_to_py(py, &v)
        })
    }
    /// Hash of the previous event.
    #[getter]
    fn prev_hash(&self) -> String {
        self.inner.prev_hash.clone()
    }
    /// SHA-256 of this event.
    #[getter]
    fn hash(&self) -> String {
        self.inner.hash.clone()
    }
    /// Wire JSON.
    fn to_json(&self) -> PyResult<String> {
        guard(|| to_json_string(&self.inner))
    }
    fn __repr__(&self) -> String {
        format!(
            "TimelineEvent(seq={}, at={}, kind={:?}, actor={:?})",
            self.inner.seq,
            self.inner.at.to_rfc3339(),
            self.inner.kind.type_name(),
            self.inner.actor
        )
    }
}

/// Response metrics (`None` while a milestone is missing).
#[pyclass(name = "Metrics", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyMetrics {
    inner: core::Metrics,
}

impl PyMetrics {
    /// Wrap a core value.
    pub(crate) fn wrap(inner: core::Metrics) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl PyMetrics {
    /// Time to detect: detected − started.
    #[getter]
    fn mttd(&self) -> Option<chrono::TimeDelta> {
        self.inner.mttd.map(Into::into)
    }
    /// Time to acknowledge: acknowledged − detected.
    #[getter]
    fn mtta(&self) -> Option<chrono::TimeDelta> {
        self.inner.mtta.map(Into::into)
    }
    /// Time to mitigate: mitigated − detected.
    #[getter]
    fn mttm(&self) -> Option<chrono::TimeDelta> {
        self.inner.mttm.map(Into::into)
    }
    /// Time to resolve: resolved − detected.
    #[getter]
    fn mttr(&self) -> Option<chrono::TimeDelta> {
        self.inner.mttr.map(Into::into)
    }
    /// Wire JSON (durations as `"5m"` strings).
    fn to_json(&self) -> PyResult<String> {
        guard(|| to_json_string(&self.inner))
    }
    fn __repr__(&self) -> String {
        let f = |d: Option<incident_core::HumanDuration>| d.map_or_else(|| "None".to_owned(), |d| d.to_string());
        format!(
            "Metrics(mttd={}, mtta={}, mttm={}, mttr={})",
            f(self.inner.mttd),
            f(self.inner.mtta),
            f(self.inner.mttm),
            f(self.inner.mttr)
        )
    }
}

/// Parse an event kind given as a mapping, e.g. `{"type": "note", "text": "..."}`.
pub(crate) fn event_kind(o: &Bound<'_, PyAny>) -> PyResult<core::EventKind> {
    from_value("timeline event", py_to_json("timeline event", o)?)
}

/// The append-only, hash-chained event log of one incident (a snapshot: change it through `Incident`).
#[pyclass(name = "Timeline", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyTimeline {
    pub(crate) inner: CoreTimeline,
}

#[derive(serde::Deserialize)]
struct Repr {
    incident_id: String,
    events: Vec<core::Event>,
}

/// A timeline from its wire JSON value, verifying the chain (`IntegrityError` when broken).
pub(crate) fn timeline_from_value(v: Value) -> PyResult<CoreTimeline> {
    let r: Repr = from_value("timeline", v)?;
    CoreTimeline::from_events(r.incident_id, r.events).or_raise()
}

#[pymethods]
impl PyTimeline {
    /// Rebuild from `to_json()` output, verifying the hash chain: `IntegrityError` when broken.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        guard(|| {
            let v: Value = from_json_str("timeline", text)?;
            Ok(Self { inner: timeline_from_value(v)? })
        })
    }
    /// The incident the events belong to.
    #[getter]
    fn incident_id(&self) -> String {
        self.inner.incident_id().to_owned()
    }
    /// Hash of the last event.
    #[getter]
    fn head_hash(&self) -> String {
        self.inner.head_hash().to_owned()
    }
    fn __len__(&self) -> usize {
        self.inner.len()
    }
    /// Every event, oldest first.
    fn events(&self) -> Vec<PyTimelineEvent> {
        self.inner.events().iter().map(|e| PyTimelineEvent { inner: e.clone() }).collect()
    }
    /// Re-verify the hash chain; `IntegrityError` when broken.
    fn verify(&self) -> PyResult<()> {
        guard(|| self.inner.verify().or_raise())
    }
    /// Metrics from the milestones (`started_at`: when the problem began, if known).
    #[pyo3(signature = (started_at = None))]
    fn metrics(&self, started_at: Option<crate::convert::Wrap<DateTime<Utc>>>) -> PyResult<PyMetrics> {
        guard(|| Ok(PyMetrics::wrap(self.inner.metrics(started_at.map(|w| w.0)))))
    }
    /// Wire JSON (`{"incident_id", "events"}`).
    fn to_json(&self) -> PyResult<String> {
        guard(|| to_json_string(&self.inner))
    }
    fn __repr__(&self) -> String {
        format!("Timeline(incident_id={:?}, events={})", self.inner.incident_id(), self.inner.len())
    }
}

impl From<core::Event> for PyTimelineEvent {
    fn from(inner: core::Event) -> Self {
        Self { inner }
    }
}
