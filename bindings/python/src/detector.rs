//! `Detector`: streaming "when to declare" rules over observations, with sustained windows.

use chrono::{DateTime, Utc};
use incident_core::detector::{self as core, DeclarationRule};
use pyo3::prelude::*;

use crate::classify::{PyClassification, PyImpactFacts};
use crate::convert::{StrEnum, Wrap};
use crate::error::{OrRaise, from_json_str, guard, to_json_string, to_py_obj};
use crate::policy::PyPolicy;

impl StrEnum for DeclarationRule {
    const WHAT: &'static str = "declaration rule";
    const ALLOWED: &'static [&'static str] = &DeclarationRule::NAMES;
}

/// One measurement or event about a service. Build one with the static constructors
/// (`Signal.availability(up=False)`, `Signal.error_rate(0.07)`, ...).
#[pyclass(name = "Signal", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PySignal {
    pub(crate) inner: core::Signal,
}

/// A signal a caller built, checked by core ([`core::Signal::validate`]).
fn checked(inner: core::Signal) -> PyResult<PySignal> {
    inner.validate().or_raise()?;
    Ok(PySignal { inner })
}

#[pymethods]
impl PySignal {
    /// Health check result; `whole_service` means the whole service is down, not some instances.
    #[staticmethod]
    #[pyo3(signature = (up, whole_service = false))]
    fn availability(up: bool, whole_service: bool) -> Self {
        Self { inner: core::Signal::Availability { up, whole_service } }
    }
    /// Error rate as a fraction in [0, 1] (`0.07` = 7 %).
    #[staticmethod]
    fn error_rate(rate: f64) -> PyResult<Self> {
        guard(|| checked(core::Signal::ErrorRate(rate)))
    }
    /// Latency against its baseline (same unit for both; `baseline_ms` > 0).
    #[staticmethod]
    fn latency(observed_ms: f64, baseline_ms: f64) -> PyResult<Self> {
        guard(|| checked(core::Signal::Latency { observed_ms, baseline_ms }))
    }
    /// A data-integrity check failed.
    #[staticmethod]
    #[pyo3(signature = (detail = String::new()))]
    fn data_integrity(detail: String) -> Self {
        Self { inner: core::Signal::DataIntegrity { detail } }
    }
    /// A security incident was reported.
    #[staticmethod]
    #[pyo3(signature = (detail = String::new()))]
    fn security(detail: String) -> Self {
        Self { inner: core::Signal::Security { detail } }
    }
    /// The condition behind `rule` is over.
    #[staticmethod]
    fn resolved(rule: Wrap<DeclarationRule>) -> Self {
        Self { inner: core::Signal::Resolved { rule: rule.0 } }
    }
    /// `"availability"`, `"error_rate"`, `"latency"`, `"data_integrity"`, `"security"` or `"resolved"`.
    #[getter]
    fn kind(&self) -> String {
        match serde_json::to_value(&self.inner) {
            Ok(serde_json::Value::Object(m)) => m.keys().next().cloned().unwrap_or_default(),
            Ok(serde_json::Value::String(s)) => s,
            _ => String::new(),
        }
    }
    /// The wire form as a dict (`{"error_rate": 0.07}`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| to_py_obj(py, &self.inner))
    }
    fn __repr__(&self) -> String {
        format!("Signal({})", serde_json::to_string(&self.inner).unwrap_or_default())
    }
}

/// One observation of a service at an instant (timezone-aware `at`).
#[pyclass(name = "Observation", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyObservation {
    pub(crate) inner: core::Observation,
}

#[pymethods]
impl PyObservation {
    /// Build an observation.
    #[new]
    #[pyo3(signature = (service, at, signal, *, customer_facing = None))]
    fn new(
        service: String,
        at: Wrap<DateTime<Utc>>,
        signal: &PySignal,
        customer_facing: Option<bool>,
    ) -> PyResult<Self> {
        guard(|| {
            let mut o = core::Observation::try_new(service, at.0, signal.inner.clone()).or_raise()?;
            o.customer_facing = customer_facing;
            Ok(Self { inner: o })
        })
    }
    /// The service.
    #[getter]
    fn service(&self) -> String {
        self.inner.service.clone()
    }
    /// When (UTC).
    #[getter]
    fn at(&self) -> DateTime<Utc> {
        self.inner.at
    }
    /// What was measured.
    #[getter]
    fn signal(&self) -> PySignal {
        PySignal { inner: self.inner.signal.clone() }
    }
    /// Whether the service is customer-facing.
    #[getter]
    fn customer_facing(&self) -> Option<bool> {
        self.inner.customer_facing
    }
    /// Wire JSON.
    fn to_json(&self) -> PyResult<String> {
        guard(|| to_json_string(&self.inner))
    }
    /// Parse wire JSON.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        guard(|| Ok(Self { inner: from_json_str("observation", text)? }))
    }
    fn __repr__(&self) -> String {
        format!(
            "Observation(service={:?}, at={}, signal={})",
            self.inner.service,
            self.inner.at.to_rfc3339(),
            serde_json::to_string(&self.inner.signal).unwrap_or_default()
        )
    }
}

/// A rule held long enough: declare an incident.
#[pyclass(name = "Declaration", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyDeclaration {
    pub(crate) inner: core::Declaration,
}

#[pymethods]
impl PyDeclaration {
    /// The rule that fired.
    #[getter]
    fn rule(&self) -> &'static str {
        self.inner.rule.as_str()
    }
    /// The service.
    #[getter]
    fn service(&self) -> String {
        self.inner.service.clone()
    }
    /// When the condition started.
    #[getter]
    fn window_start(&self) -> DateTime<Utc> {
        self.inner.window_start
    }
    /// When it had held long enough.
    #[getter]
    fn declared_at(&self) -> DateTime<Utc> {
        self.inner.declared_at
    }
    /// How long it held.
    #[getter]
    fn sustained_for(&self) -> chrono::TimeDelta {
        self.inner.sustained_for()
    }
    /// The impact facts the rule implies.
    #[getter]
    fn facts(&self) -> PyImpactFacts {
        PyImpactFacts::wrap(self.inner.facts.clone())
    }
    /// Extra detail.
    #[getter]
    fn detail(&self) -> Option<String> {
        self.inner.detail.clone()
    }
    /// The classification of the implied facts.
    fn classify(&self) -> PyResult<PyClassification> {
        guard(|| Ok(PyClassification::wrap(self.inner.classify())))
    }
    /// Wire JSON.
    fn to_json(&self) -> PyResult<String> {
        guard(|| to_json_string(&self.inner))
    }
    /// Parse wire JSON.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        guard(|| Ok(Self { inner: from_json_str("declaration", text)? }))
    }
    fn __repr__(&self) -> String {
        format!(
            "Declaration(rule={:?}, service={:?}, declared_at={}, severity={})",
            self.inner.rule.as_str(),
            self.inner.service,
            self.inner.declared_at.to_rfc3339(),
            self.inner.classify()
        )
    }
}

/// The streaming detector: feed observations in time order per service; it returns a declaration the
/// moment a rule has held for its window (each rule fires once per episode).
#[pyclass(name = "Detector", module = "incident_core._native")]
pub(crate) struct PyDetector {
    inner: core::Detector,
}

#[pymethods]
impl PyDetector {
    /// A detector with the policy's declaration thresholds (the runbook's when `None`).
    #[new]
    #[pyo3(signature = (policy = None))]
    fn new(policy: Option<&PyPolicy>) -> PyResult<Self> {
        guard(|| {
            let p = policy.map_or_else(Default::default, |p| p.inner.declaration.clone());
            Ok(Self { inner: core::Detector::try_new(p).or_raise()? })
        })
    }
    /// Feed one observation; a declaration when a rule fires now.
    fn observe(&mut self, observation: &PyObservation) -> PyResult<Option<PyDeclaration>> {
        guard(|| Ok(self.inner.observe(&observation.inner).map(|inner| PyDeclaration { inner })))
    }
    /// Feed many observations in order; every declaration that fired.
    fn observe_all(&mut self, observations: Vec<PyRef<'_, PyObservation>>) -> PyResult<Vec<PyDeclaration>> {
        guard(|| {
            let obs: Vec<core::Observation> = observations.iter().map(|o| o.inner.clone()).collect();
            Ok(self.inner.observe_all(&obs).into_iter().map(|inner| PyDeclaration { inner }).collect())
        })
    }
    /// Counters: `samples`, `out_of_order`, `invalid`, `gaps`, `declarations`.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| to_py_obj(py, &self.inner.stats()))
    }
    /// Whether `rule` has fired for `service` in its current episode.
    fn is_declared(&self, service: &str, rule: Wrap<DeclarationRule>) -> PyResult<bool> {
        guard(|| Ok(self.inner.is_declared(service, rule.0)))
    }
    /// When `rule`'s current window for `service` started, if open.
    fn window_start(&self, service: &str, rule: Wrap<DeclarationRule>) -> PyResult<Option<DateTime<Utc>>> {
        guard(|| Ok(self.inner.window_start(service, rule.0)))
    }
    /// Forget everything about `service`.
    fn forget(&mut self, service: &str) -> PyResult<()> {
        guard(|| {
            self.inner.forget(service);
            Ok(())
        })
    }
    fn __repr__(&self) -> String {
        format!("Detector(services={})", self.inner.service_count())
    }
}
