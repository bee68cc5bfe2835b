//! `classify`: impact facts → severity with the runbook rules that fired.

use incident_core::classify::{self as core, Classifier, OutageScope, RuleId};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyMapping;

use crate::convert::{StrEnum, Wrap};
use crate::error::{OrRaise, from_json_str, from_value, guard, py_to_json, to_json_string, to_py_obj};
use crate::policy::PyPolicy;
use crate::severity::PySeverity;

impl StrEnum for OutageScope {
    const WHAT: &'static str = "outage";
    const ALLOWED: &'static [&'static str] = &OutageScope::NAMES;
}

/// What is known about an incident's impact. Every field is keyword-only and optional (booleans default
/// to `False`); `performance_degradation_pct` must be finite and >= 0.
#[pyclass(name = "ImpactFacts", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct PyImpactFacts {
    pub(crate) inner: core::ImpactFacts,
}

impl PyImpactFacts {
    /// Wrap a core value.
    pub(crate) fn wrap(inner: core::ImpactFacts) -> Self {
        Self { inner }
    }
}

/// Facts from an `ImpactFacts` or a mapping in the wire form (unknown keys are `InvalidInputError`).
pub(crate) fn facts_arg(o: &Bound<'_, PyAny>) -> PyResult<core::ImpactFacts> {
    if let Ok(f) = o.cast::<PyImpactFacts>() {
        return Ok(f.get().inner.clone());
    }
    if o.cast::<PyMapping>().is_ok() {
        let f: core::ImpactFacts = from_value("impact facts", py_to_json("impact facts", o)?)?;
        f.validate().or_raise()?;
        return Ok(f);
    }
    Err(PyTypeError::new_err(format!("facts must be ImpactFacts or a mapping, not {}", o.get_type().name()?)))
}

#[pymethods]
impl PyImpactFacts {
    /// Build facts; raises `InvalidInputError` for an unknown `outage` or an out-of-range percentage.
    #[new]
    #[pyo3(signature = (*, outage = None, data_loss_or_corruption = false, security_breach = false,
        revenue_impact = false, performance_degradation_pct = None, key_feature_unavailable = false,
        customer_facing_errors = false, non_customer_facing_errors = false, minor_feature_issue = false,
        cosmetic = false, documentation = false, improvement = false, service = None, customer_facing = None,
        customers_affected = None))]
    #[allow(clippy::too_many_arguments, clippy::fn_params_excessive_bools)]
    fn new(
        outage: Option<Wrap<OutageScope>>,
        data_loss_or_corruption: bool,
        security_breach: bool,
        revenue_impact: bool,
        performance_degradation_pct: Option<f64>,
        key_feature_unavailable: bool,
        customer_facing_errors: bool,
        non_customer_facing_errors: bool,
        minor_feature_issue: bool,
        cosmetic: bool,
        documentation: bool,
        improvement: bool,
        service: Option<String>,
        customer_facing: Option<bool>,
        customers_affected: Option<bool>,
    ) -> PyResult<Self> {
        guard(|| {
            let inner = core::ImpactFacts {
                outage: outage.map_or(OutageScope::None, |o| o.0),
                data_loss_or_corruption,
                security_breach,
                revenue_impact,
                performance_degradation_pct,
                key_feature_unavailable,
                customer_facing_errors,
                non_customer_facing_errors,
                minor_feature_issue,
                cosmetic,
                documentation,
                improvement,
                service,
                customer_facing,
                customers_affected,
            };
            inner.validate().or_raise()?;
            Ok(Self { inner })
        })
    }

    /// `"none"`, `"partial"` or `"complete"`.
    #[getter]
    fn outage(&self) -> String {
        crate::drills::enum_str(&self.inner.outage)
    }
    /// Data was lost or corrupted.
    #[getter]
    fn data_loss_or_corruption(&self) -> bool {
        self.inner.data_loss_or_corruption
    }
    /// A security breach happened.
    #[getter]
    fn security_breach(&self) -> bool {
        self.inner.security_breach
    }
    /// Revenue is affected.
    #[getter]
    fn revenue_impact(&self) -> bool {
        self.inner.revenue_impact
    }
    /// Performance degradation in percent.
    #[getter]
    fn performance_degradation_pct(&self) -> Option<f64> {
        self.inner.performance_degradation_pct
    }
    /// A key feature is unavailable.
    #[getter]
    fn key_feature_unavailable(&self) -> bool {
        self.inner.key_feature_unavailable
    }
    /// Customers see errors.
    #[getter]
    fn customer_facing_errors(&self) -> bool {
        self.inner.customer_facing_errors
    }
    /// Errors customers do not see.
    #[getter]
    fn non_customer_facing_errors(&self) -> bool {
        self.inner.non_customer_facing_errors
    }
    /// A minor feature misbehaves.
    #[getter]
    fn minor_feature_issue(&self) -> bool {
        self.inner.minor_feature_issue
    }
    /// Cosmetic issue.
    #[getter]
    fn cosmetic(&self) -> bool {
        self.inner.cosmetic
    }
    /// Documentation problem.
    #[getter]
    fn documentation(&self) -> bool {
        self.inner.documentation
    }
    /// Non-urgent improvement.
    #[getter]
    fn improvement(&self) -> bool {
        self.inner.improvement
    }
    /// Affected service.
    #[getter]
    fn service(&self) -> Option<String> {
        self.inner.service.clone()
    }
    /// Whether the service is customer-facing.
    #[getter]
    fn customer_facing(&self) -> Option<bool> {
        self.inner.customer_facing
    }
    /// Whether customers are affected.
    #[getter]
    fn customers_affected(&self) -> Option<bool> {
        self.inner.customers_affected
    }

    /// Whether any impact fact (not just context) is set.
    fn has_impact(&self) -> bool {
        self.inner.has_impact()
    }

    /// Wire JSON (fields at their default omitted).
    fn to_json(&self) -> PyResult<String> {
        guard(|| to_json_string(&self.inner))
    }

    /// The wire form as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| to_py_obj(py, &self.inner))
    }

    /// Parse wire JSON (unknown keys and out-of-range values are `InvalidInputError`).
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        guard(|| {
            let inner: core::ImpactFacts = from_json_str("impact facts", text)?;
            inner.validate().or_raise()?;
            Ok(Self { inner })
        })
    }

    fn __repr__(&self) -> String {
        format!("ImpactFacts({})", serde_json::to_string(&self.inner).unwrap_or_default())
    }
}

/// A rule that fired, with the severity it implies and the runbook's wording.
#[pyclass(name = "Reason", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyReason {
    inner: core::Reason,
}

#[pymethods]
impl PyReason {
    /// Rule id (`"partial_outage"`, ...).
    #[getter]
    fn rule(&self) -> &'static str {
        self.inner.rule.as_str()
    }
    /// The severity this rule implies.
    #[getter]
    fn severity(&self) -> PySeverity {
        self.inner.severity.into()
    }
    /// The runbook's bullet text.
    #[getter]
    fn text(&self) -> &'static str {
        self.inner.text
    }
    fn __repr__(&self) -> String {
        format!(
            "Reason(rule={:?}, severity={}, text={:?})",
            self.inner.rule.as_str(),
            self.inner.severity,
            self.inner.text
        )
    }
}

/// The decision and why.
#[pyclass(name = "Classification", module = "incident_core._native", frozen, eq, hash)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PyClassification {
    pub(crate) inner: core::Classification,
}

impl PyClassification {
    /// Wrap a core value.
    pub(crate) fn wrap(inner: core::Classification) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl PyClassification {
    /// The severity, or `None` when the facts show no impact.
    #[getter]
    fn severity(&self) -> Option<PySeverity> {
        self.inner.severity().map(Into::into)
    }
    /// No rule fired: the facts are not enough to classify.
    #[getter]
    fn insufficient(&self) -> bool {
        self.inner.is_insufficient()
    }
    /// Every rule that fired, most severe first.
    #[getter]
    fn reasons(&self) -> Vec<PyReason> {
        self.inner.reasons().map(|inner| PyReason { inner }).collect()
    }
    /// The rule ids that decided the severity.
    #[getter]
    fn deciding(&self) -> Vec<&'static str> {
        self.inner.deciding_reasons().map(|r| r.rule.as_str()).collect()
    }
    /// The severity, or `InvalidInputError` when the facts were insufficient.
    fn require_severity(&self) -> PyResult<PySeverity> {
        guard(|| self.inner.require_severity().map(Into::into).or_raise())
    }
    /// Wire JSON (`{"severity", "insufficient", "reasons"}`).
    fn to_json(&self) -> PyResult<String> {
        guard(|| to_json_string(&self.inner))
    }
    /// The wire form as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| to_py_obj(py, &self.inner))
    }
    fn __str__(&self) -> String {
        self.inner.to_string()
    }
    fn __repr__(&self) -> String {
        format!("Classification({})", self.inner)
    }
}

/// Classify `facts` (an `ImpactFacts` or a mapping) by the runbook's severity matrix (the policy's
/// degradation threshold when `policy` is given). Raises `InvalidInputError` for out-of-range facts.
#[pyfunction]
#[pyo3(signature = (facts, policy = None))]
pub(crate) fn classify(facts: &Bound<'_, PyAny>, policy: Option<&PyPolicy>) -> PyResult<PyClassification> {
    guard(|| {
        let classifier = policy.map_or(Classifier::RUNBOOK, |p| Classifier::from_policy(&p.inner));
        if let Ok(f) = facts.cast::<PyImpactFacts>() {
            return Ok(PyClassification { inner: classifier.try_classify(&f.get().inner).or_raise()? });
        }
        Ok(PyClassification { inner: classifier.try_classify(&facts_arg(facts)?).or_raise()? })
    })
}

/// Every classification rule with its severity and runbook text, P0 first.
#[pyfunction]
pub(crate) fn classification_rules() -> PyResult<Vec<PyReason>> {
    guard(|| Ok(RuleId::ALL.iter().map(|r| PyReason { inner: core::Reason::from(*r) }).collect()))
}
