//! `Incident`: declaration, status transitions, ticket, stakeholders and channel; every change is appended
//! to the incident's own hash-chained timeline.

use chrono::{DateTime, Utc};
use incident_core::clock::{Clock, SystemClock};
use incident_core::incident::{self as core, DeclareRequest as CoreRequest, Incident as CoreIncident};
use incident_core::timeline::Timeline as CoreTimeline;
use incident_core::{Result as CoreResult, Severity, Status};
use pyo3::prelude::*;
use serde_json::Value;

use crate::convert::Wrap;
use crate::drills::enum_str;
use crate::error::{OrRaise, from_json_str, from_value, guard, to_json_string, to_value};
use crate::policy::{PyPolicy, or_default};
use crate::severity::{PySeverity, PyStatus};
use crate::timeline::{PyMetrics, PyTimeline, PyTimelineEvent, event_kind, timeline_from_value};

type Date = DateTime<Utc>;
type At = Option<Wrap<Date>>;

/// `at`, or the system clock.
pub(crate) fn now_or(at: At) -> Date {
    at.map_or_else(|| SystemClock.now(), |w| w.0)
}

/// Everything needed to declare an incident.
#[pyclass(name = "DeclareRequest", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyDeclareRequest {
    inner: CoreRequest,
}

#[pymethods]
impl PyDeclareRequest {
    /// Build a request (`severity` a `Severity` or `"P0"`..`"P3"`; datetimes timezone-aware).
    #[new]
    #[pyo3(signature = (id, title, severity, on_call, *, components = Vec::new(), impact = String::new(),
        customer_facing = false, customers_affected = false, commander = None, started_at = None,
        detected_at = None, detection_source = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        id: String,
        title: String,
        severity: Wrap<Severity>,
        on_call: String,
        components: Vec<String>,
        impact: String,
        customer_facing: bool,
        customers_affected: bool,
        commander: Option<String>,
        started_at: At,
        detected_at: At,
        detection_source: Option<String>,
    ) -> Self {
        Self {
            inner: CoreRequest {
                id,
                title,
                severity: severity.0,
                components,
                impact,
                customer_facing,
                customers_affected,
                on_call,
                commander,
                started_at: started_at.map(|w| w.0),
                detected_at: detected_at.map(|w| w.0),
                detection_source,
            },
        }
    }
    /// Incident id.
    #[getter]
    fn id(&self) -> String {
        self.inner.id.clone()
    }
    /// Severity.
    #[getter]
    fn severity(&self) -> PySeverity {
        self.inner.severity.into()
    }
    /// Wire JSON.
    fn to_json(&self) -> PyResult<String> {
        guard(|| to_json_string(&self.inner))
    }
    /// Parse wire JSON.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        guard(|| Ok(Self { inner: from_json_str("declare request", text)? }))
    }
    fn __repr__(&self) -> String {
        format!(
            "DeclareRequest(id={:?}, title={:?}, severity={})",
            self.inner.id, self.inner.title, self.inner.severity
        )
    }
}

/// Someone to notify, why, and how.
#[pyclass(name = "Stakeholder", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyStakeholder {
    inner: core::Stakeholder,
}

#[pymethods]
impl PyStakeholder {
    /// Role (`incident_commander`, `engineering_manager`, ...).
    #[getter]
    fn role(&self) -> String {
        enum_str(&self.inner.role)
    }
    /// The role's title.
    #[getter]
    fn title(&self) -> &'static str {
        self.inner.role.title()
    }
    /// One label for people: the role named once (`"Engineering manager (P0/P1 only)"`).
    #[getter]
    fn label(&self) -> String {
        self.inner.label()
    }
    /// Why they are notified.
    #[getter]
    fn reason(&self) -> String {
        self.inner.reason.clone()
    }
    /// How to reach them, one line (`None` when the directory has no entry).
    #[getter]
    fn contact(&self) -> Option<String> {
        self.inner.contact.as_ref().map(core::describe_contact)
    }
    fn __repr__(&self) -> String {
        format!("Stakeholder(role={:?}, reason={:?})", enum_str(&self.inner.role), self.inner.reason)
    }
}

fn stakeholders(v: Vec<core::Stakeholder>) -> Vec<PyStakeholder> {
    v.into_iter().map(|inner| PyStakeholder { inner }).collect()
}

/// An incident and its timeline. Methods that change it append to the timeline; an illegal transition
/// raises `ConflictError`, a blank name `InvalidInputError`. A failed change leaves it untouched.
#[pyclass(name = "Incident", module = "incident_core._native", eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyIncident {
    pub(crate) incident: CoreIncident,
    pub(crate) timeline: CoreTimeline,
}

impl PyIncident {
    /// Wrap a core incident and its timeline.
    pub(crate) fn wrap(incident: CoreIncident, timeline: CoreTimeline) -> Self {
        Self { incident, timeline }
    }

    fn change(&mut self, f: impl FnOnce(&mut CoreIncident, &mut CoreTimeline) -> CoreResult<()>) -> PyResult<()> {
        guard(|| {
            let (mut i, mut t) = (self.incident.clone(), self.timeline.clone());
            f(&mut i, &mut t).or_raise()?;
            self.incident = i;
            self.timeline = t;
            Ok(())
        })
    }
}

#[pymethods]
impl PyIncident {
    /// Declare an incident: assigns the commander, names the channel, opens the timeline. `now` defaults
    /// to the system clock.
    #[staticmethod]
    #[pyo3(signature = (request, *, policy = None, now = None))]
    fn declare(request: &PyDeclareRequest, policy: Option<&PyPolicy>, now: At) -> PyResult<Self> {
        guard(|| {
            let (i, t) = CoreIncident::declare(request.inner.clone(), &or_default(policy), now_or(now)).or_raise()?;
            Ok(Self::wrap(i, t))
        })
    }
    /// Rebuild from `to_json()` output (`{"incident", "timeline"}`), verifying the timeline.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        guard(|| {
            let mut v: Value = from_json_str("incident", text)?;
            let t = timeline_from_value(v.get_mut("timeline").map(Value::take).unwrap_or(Value::Null))?;
            let i: CoreIncident =
                from_value("incident", v.get_mut("incident").map(Value::take).unwrap_or(Value::Null))?;
            Ok(Self::wrap(i, t))
        })
    }
    /// Incident id.
    #[getter]
    fn id(&self) -> String {
        self.incident.id.clone()
    }
    /// Title.
    #[getter]
    fn title(&self) -> String {
        self.incident.title.clone()
    }
    /// Current severity.
    #[getter]
    fn severity(&self) -> PySeverity {
        self.incident.severity.into()
    }
    /// Current status.
    #[getter]
    fn status(&self) -> PyStatus {
        self.incident.status.into()
    }
    /// Incident commander.
    #[getter]
    fn commander(&self) -> String {
        self.incident.commander.clone()
    }
    /// Incident channel.
    #[getter]
    fn channel(&self) -> String {
        self.incident.channel.clone()
    }
    /// Affected services.
    #[getter]
    fn components(&self) -> Vec<String> {
        self.incident.components.clone()
    }
    /// Impact statement.
    #[getter]
    fn impact(&self) -> String {
        self.incident.impact.clone()
    }
    /// When the problem began, if known.
    #[getter]
    fn started_at(&self) -> Option<Date> {
        self.incident.started_at
    }
    /// When it was detected.
    #[getter]
    fn detected_at(&self) -> Date {
        self.incident.detected_at
    }
    /// When it was declared.
    #[getter]
    fn declared_at(&self) -> Date {
        self.incident.declared_at
    }
    /// When the commander acknowledged.
    #[getter]
    fn acknowledged_at(&self) -> Option<Date> {
        self.incident.acknowledged_at
    }
    /// When impact was mitigated.
    #[getter]
    fn mitigated_at(&self) -> Option<Date> {
        self.incident.mitigated_at
    }
    /// When it was resolved.
    #[getter]
    fn resolved_at(&self) -> Option<Date> {
        self.incident.resolved_at
    }
    /// Root cause, once set.
    #[getter]
    fn root_cause(&self) -> Option<String> {
        self.incident.root_cause.clone()
    }
    /// Resolution, once set.
    #[getter]
    fn resolution(&self) -> Option<String> {
        self.incident.resolution.clone()
    }
    /// A snapshot of the timeline.
    #[getter]
    fn timeline(&self) -> PyTimeline {
        PyTimeline { inner: self.timeline.clone() }
    }

    /// The commander acknowledges (sets MTTA).
    #[pyo3(signature = (actor, at = None))]
    fn acknowledge(&mut self, actor: &str, at: At) -> PyResult<()> {
        let a = actor.to_owned();
        self.change(|i, t| i.acknowledge(now_or(at), &a, t))
    }
    /// Move to status `to` (the runbook's order; `resolved` needs root cause and resolution), with what
    /// the responder said (`message`, kept in the `status_changed` event; blank is `InvalidInputError`).
    #[pyo3(signature = (to, actor, at = None, message = None))]
    fn transition(&mut self, to: Wrap<Status>, actor: &str, at: At, message: Option<String>) -> PyResult<()> {
        let a = actor.to_owned();
        match message {
            None => self.change(|i, t| i.transition(to.0, now_or(at), &a, t)),
            Some(m) => self.change(|i, t| i.transition_with_message(to.0, Some(m.as_str()), now_or(at), &a, t)),
        }
    }
    /// Record that impact is mitigated (sets MTTM).
    #[pyo3(signature = (actor, at = None))]
    fn mark_mitigated(&mut self, actor: &str, at: At) -> PyResult<()> {
        let a = actor.to_owned();
        self.change(|i, t| i.mark_mitigated(now_or(at), &a, t))
    }
    /// Resolve (sets MTTR).
    #[pyo3(signature = (actor, at = None))]
    fn resolve(&mut self, actor: &str, at: At) -> PyResult<()> {
        let a = actor.to_owned();
        self.change(|i, t| i.resolve(now_or(at), &a, t))
    }
    /// Change the severity, with a reason.
    #[pyo3(signature = (to, reason, actor, at = None))]
    fn change_severity(&mut self, to: Wrap<Severity>, reason: &str, actor: &str, at: At) -> PyResult<()> {
        let a = actor.to_owned();
        self.change(|i, t| i.change_severity(to.0, reason, now_or(at), &a, t))
    }
    /// Hand the commander role to `to`.
    #[pyo3(signature = (to, actor, at = None))]
    fn hand_over(&mut self, to: &str, actor: &str, at: At) -> PyResult<()> {
        let a = actor.to_owned();
        self.change(|i, t| i.hand_over(to, now_or(at), &a, t))
    }
    /// Set the root cause.
    fn set_root_cause(&mut self, text: &str) -> PyResult<()> {
        self.change(|i, _| i.set_root_cause(text))
    }
    /// Set the resolution.
    fn set_resolution(&mut self, text: &str) -> PyResult<()> {
        self.change(|i, _| i.set_resolution(text))
    }
    /// Append any other event, e.g. `{"type": "note", "text": "..."}`; returns it.
    #[pyo3(signature = (kind, actor, at = None))]
    fn record(&mut self, kind: &Bound<'_, PyAny>, actor: &str, at: At) -> PyResult<PyTimelineEvent> {
        let kind = event_kind(kind)?;
        let a = actor.to_owned();
        self.change(|_, t| t.append(now_or(at), a.as_str(), kind).map(|_| ()))?;
        let last = self.timeline.events().last().cloned();
        last.map(PyTimelineEvent::from)
            .ok_or_else(|| crate::error::to_py(&incident_core::Error::internal("append returned nothing")))
    }
    /// The ticket text (markdown) for the incident tracker.
    fn ticket(&self) -> PyResult<String> {
        guard(|| Ok(self.incident.ticket()))
    }
    /// Who to notify under `policy`, with contacts.
    #[pyo3(signature = (policy = None))]
    fn stakeholders(&self, policy: Option<&PyPolicy>) -> PyResult<Vec<PyStakeholder>> {
        guard(|| Ok(stakeholders(self.incident.stakeholders(&or_default(policy)))))
    }
    /// The emergency contacts that apply under `policy`, to call rather than page.
    #[pyo3(signature = (policy = None))]
    fn emergency_contacts(&self, policy: Option<&PyPolicy>) -> PyResult<Vec<PyStakeholder>> {
        guard(|| Ok(stakeholders(self.incident.emergency_contacts(&or_default(policy)))))
    }
    /// The notifications declaring it sends under `policy` (dicts: destination, subject, body, ...);
    /// escalation roles of a business-hours severity declared out of hours are left to the escalation
    /// driver.
    #[pyo3(signature = (policy = None))]
    fn declaration_notifications<'py>(
        &self,
        py: Python<'py>,
        policy: Option<&PyPolicy>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| crate::error::to_py_obj(py, &self.incident.declaration_notifications(&or_default(policy))))
    }
    /// The first message of the incident channel.
    #[pyo3(signature = (policy = None))]
    fn channel_intro(&self, policy: Option<&PyPolicy>) -> PyResult<String> {
        guard(|| Ok(self.incident.channel_intro(&or_default(policy))))
    }
    /// MTTD/MTTA/MTTM/MTTR so far.
    fn metrics(&self) -> PyResult<PyMetrics> {
        guard(|| Ok(PyMetrics::wrap(self.incident.metrics())))
    }
    /// `{"incident", "timeline"}` wire JSON.
    fn to_json(&self) -> PyResult<String> {
        guard(|| {
            let v = serde_json::json!({ "incident": to_value(&self.incident)?, "timeline": to_value(&self.timeline)? });
            Ok(v.to_string())
        })
    }
    fn __repr__(&self) -> String {
        format!(
            "Incident(id={:?}, severity={}, status={}, commander={:?}, events={})",
            self.incident.id,
            self.incident.severity,
            self.incident.status,
            self.incident.commander,
            self.timeline.len()
        )
    }
}

/// The incident channel name for a declaration instant.
#[pyfunction]
pub(crate) fn channel_name(declared_at: Wrap<Date>) -> PyResult<String> {
    guard(|| Ok(core::channel_name(declared_at.0)))
}

/// Whether the runbook allows moving from status `from_` to `to`.
#[pyfunction]
pub(crate) fn transition_allowed(from_: Wrap<Status>, to: Wrap<Status>) -> PyResult<bool> {
    guard(|| Ok(core::transition_allowed(from_.0, to.0)))
}

/// Stakeholders for hypothetical facts (before declaring).
#[pyfunction]
#[pyo3(signature = (severity, customer_facing, customers_affected, policy = None))]
pub(crate) fn stakeholders_for(
    severity: Wrap<Severity>,
    customer_facing: bool,
    customers_affected: bool,
    policy: Option<&PyPolicy>,
) -> PyResult<Vec<PyStakeholder>> {
    guard(|| {
        Ok(stakeholders(core::stakeholders_for(&or_default(policy), severity.0, customer_facing, customers_affected)))
    })
}
