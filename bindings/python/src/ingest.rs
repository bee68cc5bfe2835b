//! `parse_alerts(source, ...)` (and its aliases `parse_alertmanager` / `parse_pagerduty`): webhook payloads →
//! alerts with observations and facts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use incident_core::Policy as CorePolicy;
use incident_core::ingest::{self as core, AlertBatch as CoreBatch};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyMapping, PySequence, PyString};

use crate::classify::{PyClassification, PyImpactFacts};
use crate::detector::PyObservation;
use crate::drills::enum_str;
use crate::error::{OrRaise, from_json_str, guard, py_to_json, to_json_string};
use crate::policy::PyPolicy;

/// One alert after mapping.
#[pyclass(name = "IngestedAlert", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyIngestedAlert {
    inner: core::IngestedAlert,
}

#[pymethods]
impl PyIngestedAlert {
    /// The source: `"alertmanager"`, `"pagerduty"`, `"grafana"`, `"cloudwatch"` or `"datadog"`.
    #[getter]
    fn source(&self) -> String {
        enum_str(&self.inner.source)
    }
    /// Fingerprint / dedup key.
    #[getter]
    fn id(&self) -> Option<String> {
        self.inner.id.clone()
    }
    /// Alert name.
    #[getter]
    fn name(&self) -> Option<String> {
        self.inner.name.clone()
    }
    /// Summary.
    #[getter]
    fn summary(&self) -> Option<String> {
        self.inner.summary.clone()
    }
    /// The service it is about.
    #[getter]
    fn service(&self) -> Option<String> {
        self.inner.service.clone()
    }
    /// Component.
    #[getter]
    fn component(&self) -> Option<String> {
        self.inner.component.clone()
    }
    /// Whether the service is customer-facing.
    #[getter]
    fn customer_facing(&self) -> Option<bool> {
        self.inner.customer_facing
    }
    /// `"firing"`, `"acknowledged"` or `"resolved"`.
    #[getter]
    fn status(&self) -> String {
        enum_str(&self.inner.status)
    }
    /// Start.
    #[getter]
    fn starts_at(&self) -> Option<DateTime<Utc>> {
        self.inner.starts_at
    }
    /// End.
    #[getter]
    fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.inner.ends_at
    }
    /// Labels.
    #[getter]
    fn labels(&self) -> BTreeMap<String, String> {
        self.inner.labels.clone()
    }
    /// Annotations.
    #[getter]
    fn annotations(&self) -> BTreeMap<String, String> {
        self.inner.annotations.clone()
    }
    /// Links.
    #[getter]
    fn links(&self) -> Vec<String> {
        self.inner.links.clone()
    }
    /// The ingest rule that mapped it.
    #[getter]
    fn rule(&self) -> Option<String> {
        self.inner.rule.clone()
    }
    /// The observation for the detector.
    #[getter]
    fn observation(&self) -> Option<PyObservation> {
        self.inner.observation.clone().map(|inner| PyObservation { inner })
    }
    /// Impact facts for the classifier.
    #[getter]
    fn facts(&self) -> Option<PyImpactFacts> {
        self.inner.facts.clone().map(PyImpactFacts::wrap)
    }
    /// Mapping warnings.
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.inner.warnings.clone()
    }
    /// The classification of `facts` (insufficient without facts), under `policy` (its degradation
    /// threshold) or the runbook's defaults.
    #[pyo3(signature = (policy = None))]
    fn classification(&self, policy: Option<&PyPolicy>) -> PyResult<PyClassification> {
        guard(|| {
            Ok(PyClassification::wrap(match policy {
                None => self.inner.classification(),
                Some(p) => self.inner.classify_with(&incident_core::classify::Classifier::from_policy(&p.inner)),
            }))
        })
    }
    /// Wire JSON.
    fn to_json(&self) -> PyResult<String> {
        guard(|| to_json_string(&self.inner))
    }
    /// Parse wire JSON.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        guard(|| Ok(Self { inner: from_json_str("ingested alert", text)? }))
    }
    fn __repr__(&self) -> String {
        format!(
            "IngestedAlert(source={:?}, name={:?}, service={:?}, status={:?}, severity={})",
            enum_str(&self.inner.source),
            self.inner.name,
            self.inner.service,
            enum_str(&self.inner.status),
            self.inner.classification()
        )
    }
}

/// A parsed payload.
#[pyclass(name = "AlertBatch", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyAlertBatch {
    inner: CoreBatch,
}

#[pymethods]
impl PyAlertBatch {
    /// The source: `"alertmanager"`, `"pagerduty"`, `"grafana"`, `"cloudwatch"` or `"datadog"`.
    #[getter]
    fn source(&self) -> String {
        enum_str(&self.inner.source)
    }
    /// Alertmanager group key.
    #[getter]
    fn group_key(&self) -> Option<String> {
        self.inner.group_key.clone()
    }
    /// Alertmanager receiver.
    #[getter]
    fn receiver(&self) -> Option<String> {
        self.inner.receiver.clone()
    }
    /// Alertmanager external URL.
    #[getter]
    fn external_url(&self) -> Option<String> {
        self.inner.external_url.clone()
    }
    /// Alerts Alertmanager dropped from the payload.
    #[getter]
    fn truncated_alerts(&self) -> u64 {
        self.inner.truncated_alerts
    }
    /// The alerts.
    #[getter]
    fn alerts(&self) -> Vec<PyIngestedAlert> {
        self.inner.alerts.iter().map(|a| PyIngestedAlert { inner: a.clone() }).collect()
    }
    fn __len__(&self) -> usize {
        self.inner.alerts.len()
    }
    /// The alerts still firing.
    fn firing(&self) -> Vec<PyIngestedAlert> {
        self.inner.firing().map(|a| PyIngestedAlert { inner: a.clone() }).collect()
    }
    /// The impact facts of the firing alerts merged (what a declaration from this batch classifies).
    fn firing_facts(&self) -> PyResult<PyImpactFacts> {
        guard(|| Ok(PyImpactFacts::wrap(self.inner.firing_facts())))
    }
    /// The detector observations the alerts carry, in order.
    fn observations(&self) -> Vec<PyObservation> {
        self.inner.observations().map(|o| PyObservation { inner: o.clone() }).collect()
    }
    /// Wire JSON.
    fn to_json(&self) -> PyResult<String> {
        guard(|| to_json_string(&self.inner))
    }
    /// Parse wire JSON.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        guard(|| Ok(Self { inner: from_json_str("alert batch", text)? }))
    }
    fn __repr__(&self) -> String {
        format!("AlertBatch(source={:?}, alerts={})", enum_str(&self.inner.source), self.inner.alerts.len())
    }
}

/// The request body as bytes: `str`/`bytes`/`bytearray` as-is, a mapping or list as its JSON.
fn body(payload: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(s) = payload.cast::<PyString>() {
        return Ok(s.to_str()?.as_bytes().to_vec());
    }
    if let Ok(b) = payload.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Ok(b) = payload.cast::<PyByteArray>() {
        return Ok(b.to_vec());
    }
    if payload.cast::<PyMapping>().is_ok() || payload.cast::<PySequence>().is_ok() {
        return Ok(py_to_json("payload", payload)?.to_string().into_bytes());
    }
    Err(PyTypeError::new_err(format!(
        "payload must be str, bytes, a mapping or a list, not {}",
        payload.get_type().name()?
    )))
}

fn parse(
    py: Python<'_>,
    payload: &Bound<'_, PyAny>,
    policy: Option<&PyPolicy>,
    f: impl Fn(&[u8], &CorePolicy) -> incident_core::Result<CoreBatch> + Send + Sync,
) -> PyResult<PyAlertBatch> {
    guard(|| {
        let bytes = body(payload)?;
        let b = match policy {
            Some(p) => py.detach(|| f(&bytes, &p.inner)),
            None => py.detach(|| f(&bytes, &CorePolicy::default())),
        };
        Ok(PyAlertBatch { inner: b.or_raise()? })
    })
}

/// Parse a webhook body of `source` (`"alertmanager"`, `"pagerduty"`, `"grafana"`, `"cloudwatch"` (the SNS
/// notification) or `"datadog"`) as `str`, `bytes` or the parsed dict / list. Raises
/// `InvalidInputError` for an unknown source, or naming the field for a malformed payload, or when it
/// exceeds the policy's ingest limits. `incident_core::ingest::parse` decides the dispatch.
#[pyfunction]
#[pyo3(signature = (source, payload, policy = None))]
pub(crate) fn parse_alerts(
    py: Python<'_>,
    source: &str,
    payload: &Bound<'_, PyAny>,
    policy: Option<&PyPolicy>,
) -> PyResult<PyAlertBatch> {
    parse(py, payload, policy, |body, policy| core::parse(source, body, policy))
}

/// `parse_alerts("alertmanager", ...)`: parse an Alertmanager v4 webhook body (`str`, `bytes` or the parsed dict). Raises `InvalidInputError`
/// naming the field for a malformed payload, or when it exceeds the policy's ingest limits.
#[pyfunction]
#[pyo3(signature = (payload, policy = None))]
pub(crate) fn parse_alertmanager(
    py: Python<'_>,
    payload: &Bound<'_, PyAny>,
    policy: Option<&PyPolicy>,
) -> PyResult<PyAlertBatch> {
    parse(py, payload, policy, |body, policy| core::AlertSource::Alertmanager.parse(body, policy))
}

/// `parse_alerts("pagerduty", ...)`: parse a PagerDuty Events API v2 body (one event or a list; `str`, `bytes` or parsed).
#[pyfunction]
#[pyo3(signature = (payload, policy = None))]
pub(crate) fn parse_pagerduty(
    py: Python<'_>,
    payload: &Bound<'_, PyAny>,
    policy: Option<&PyPolicy>,
) -> PyResult<PyAlertBatch> {
    parse(py, payload, policy, |body, policy| core::AlertSource::Pagerduty.parse(body, policy))
}

/// `parse_alerts("grafana", ...)`: parse a Grafana alerting webhook body (`str`, `bytes` or the parsed dict).
#[pyfunction]
#[pyo3(signature = (payload, policy = None))]
pub(crate) fn parse_grafana(
    py: Python<'_>,
    payload: &Bound<'_, PyAny>,
    policy: Option<&PyPolicy>,
) -> PyResult<PyAlertBatch> {
    parse(py, payload, policy, |body, policy| core::AlertSource::Grafana.parse(body, policy))
}

/// `parse_alerts("cloudwatch", ...)`: parse an Amazon SNS notification whose `Message` is a CloudWatch alarm
/// (the SNS signature is not checked here; a subscription confirmation raises `InvalidInputError`).
#[pyfunction]
#[pyo3(signature = (payload, policy = None))]
pub(crate) fn parse_cloudwatch(
    py: Python<'_>,
    payload: &Bound<'_, PyAny>,
    policy: Option<&PyPolicy>,
) -> PyResult<PyAlertBatch> {
    parse(py, payload, policy, |body, policy| core::AlertSource::Cloudwatch.parse(body, policy))
}

/// Parse a bare CloudWatch alarm document (the SNS `Message`, e.g. from an EventBridge or SQS consumer that
/// already unwrapped it): `incident_core::ingest::cloudwatch::parse_alarm`.
#[pyfunction]
#[pyo3(signature = (payload, policy = None))]
pub(crate) fn parse_cloudwatch_alarm(
    py: Python<'_>,
    payload: &Bound<'_, PyAny>,
    policy: Option<&PyPolicy>,
) -> PyResult<PyAlertBatch> {
    parse(py, payload, policy, core::cloudwatch::parse_alarm)
}

/// `parse_alerts("datadog", ...)`: parse a Datadog webhook body (`str`, `bytes` or the parsed dict).
#[pyfunction]
#[pyo3(signature = (payload, policy = None))]
pub(crate) fn parse_datadog(
    py: Python<'_>,
    payload: &Bound<'_, PyAny>,
    policy: Option<&PyPolicy>,
) -> PyResult<PyAlertBatch> {
    parse(py, payload, policy, |body, policy| core::AlertSource::Datadog.parse(body, policy))
}
