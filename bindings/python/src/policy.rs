//! `Policy`: the runbook as data (load, validate, show, JSON Schema).

use incident_core::Policy as CorePolicy;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::Wrap;
use crate::error::{OrRaise, guard, json_to_py, py_to_json, to_py_obj};

/// The incident-response policy: severities, declaration thresholds, comms cadence, routing, drills and
/// guard rails. `Policy()` is the runbook's defaults; `Policy({...})`, files and documents override any
/// field and are validated, naming the exact field on error (`PolicyError`).
#[pyclass(name = "Policy", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyPolicy {
    pub(crate) inner: CorePolicy,
}

/// The runbook defaults when `policy` is `None`.
pub(crate) fn or_default(policy: Option<&PyPolicy>) -> CorePolicy {
    policy.map_or_else(CorePolicy::default, |p| p.inner.clone())
}

#[pymethods]
impl PyPolicy {
    /// The runbook's defaults with `overrides` (a partial policy mapping in the file format) applied.
    #[new]
    #[pyo3(signature = (overrides = None))]
    fn new(overrides: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        guard(|| {
            let inner = match overrides {
                None => CorePolicy::default(),
                Some(o) if o.is_instance_of::<PyDict>() || o.cast::<pyo3::types::PyMapping>().is_ok() => {
                    CorePolicy::from_value(py_to_json("policy overrides", o)?).or_raise()?
                }
                Some(o) => {
                    return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                        "policy overrides must be a mapping, not {}",
                        o.get_type().name()?
                    )));
                }
            };
            Ok(Self { inner })
        })
    }

    /// Load a policy file (`.toml`, `.yaml`/`.yml` or `.json`) over the defaults.
    #[staticmethod]
    fn from_path(path: std::path::PathBuf) -> PyResult<Self> {
        guard(|| Ok(Self { inner: CorePolicy::from_path(&path).or_raise()? }))
    }

    /// Parse a TOML policy document over the defaults.
    #[staticmethod]
    fn from_toml(text: &str) -> PyResult<Self> {
        guard(|| Ok(Self { inner: CorePolicy::from_toml_str(text).or_raise()? }))
    }

    /// Parse a YAML policy document over the defaults.
    #[staticmethod]
    fn from_yaml(text: &str) -> PyResult<Self> {
        guard(|| Ok(Self { inner: CorePolicy::from_yaml_str(text).or_raise()? }))
    }

    /// Parse a JSON policy document over the defaults (the inverse of `to_json`).
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        guard(|| Ok(Self { inner: CorePolicy::from_json_str(text).or_raise()? }))
    }

    /// Parse a policy document in `format` (`"toml"`, `"yaml"` or `"json"`) over the defaults; an unknown
    /// format is `InvalidInputError` listing the formats (core's `PolicyFormat`), as in Node's
    /// `Policy.parse`.
    #[staticmethod]
    fn parse(text: &str, format: &str) -> PyResult<Self> {
        guard(|| Ok(Self { inner: CorePolicy::parse_as(text, format).or_raise()? }))
    }

    /// Re-validate (policies built here are always valid; kept for symmetry with the CLI).
    fn validate(&self) -> PyResult<()> {
        guard(|| self.inner.validate().or_raise())
    }

    /// The policy as a TOML document.
    fn to_toml(&self) -> PyResult<String> {
        guard(|| self.inner.to_toml_string().or_raise())
    }

    /// The policy as a YAML document.
    fn to_yaml(&self) -> PyResult<String> {
        guard(|| self.inner.to_yaml_string().or_raise())
    }

    /// The policy as a JSON document.
    fn to_json(&self) -> PyResult<String> {
        guard(|| self.inner.to_json_string().or_raise())
    }

    /// The policy as a dict in the file format.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| to_py_obj(py, &self.inner))
    }

    /// The JSON Schema (draft 2020-12) of policy files, as a dict.
    #[staticmethod]
    fn json_schema(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        guard(|| json_to_py(py, &CorePolicy::json_schema()))
    }

    /// The response-time target of `severity`.
    fn response_time(&self, severity: Wrap<incident_core::Severity>) -> PyResult<chrono::TimeDelta> {
        guard(|| Ok(self.inner.response_time(severity.0).into()))
    }

    /// The stage budget of `procedure`'s `stage`, if the policy sets one.
    fn stage_budget(&self, procedure: &str, stage: &str) -> PyResult<Option<chrono::TimeDelta>> {
        guard(|| Ok(self.inner.try_stage_budget(procedure, stage).or_raise()?.map(Into::into)))
    }

    /// SHA-256 (hex) of the policy's canonical JSON: what every plan records as the policy it was planned
    /// under.
    fn digest(&self) -> PyResult<String> {
        guard(|| Ok(self.inner.digest()))
    }

    /// The escalation levels of `severity`: level 1 pages `escalation` at once, then one level per
    /// `escalation_chain` entry; each level is a list of role names (`"engineering_manager"`, ...).
    fn escalation_levels(&self, severity: Wrap<incident_core::Severity>) -> PyResult<Vec<Vec<String>>> {
        guard(|| {
            Ok(self
                .inner
                .escalation_levels(severity.0)
                .into_iter()
                .map(|level| level.into_iter().map(|r| r.as_str().to_owned()).collect())
                .collect())
        })
    }

    /// Whether declaring an incident of `severity` at `declared_at` (a timezone-aware `datetime`) pages the
    /// level-1 roles at once (else the escalation driver pages them at the next business instant).
    fn pages_at_declaration(
        &self,
        severity: Wrap<incident_core::Severity>,
        declared_at: Wrap<chrono::DateTime<chrono::Utc>>,
    ) -> PyResult<bool> {
        guard(|| Ok(self.inner.pages_at_declaration(severity.0, declared_at.0)))
    }

    /// The directory's contact entry for `role` (a dict), or `None`. `InvalidInputError` for an unknown
    /// role name.
    fn contact<'py>(&self, py: Python<'py>, role: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        guard(|| {
            let role: incident_core::policy::Role =
                crate::error::from_value("role", serde_json::Value::String(role.to_owned()))?;
            self.inner.contact(role).map(|c| to_py_obj(py, c)).transpose()
        })
    }

    fn __repr__(&self) -> String {
        use incident_core::Severity as S;
        let r = |s| self.inner.response_time(s).to_string();
        format!("Policy(response_time={{P0: {}, P1: {}, P2: {}, P3: {}}})", r(S::P0), r(S::P1), r(S::P2), r(S::P3))
    }
}
