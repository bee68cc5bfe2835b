//! `build_post_mortem`: the post-mortem document from an incident and its timeline.

use incident_core::postmortem::{PostMortem as CorePostMortem, PostMortemInput};
use pyo3::prelude::*;

use crate::error::{from_json_str, from_value, guard, py_to_json, to_json_string, to_py_obj};
use crate::incident::PyIncident;
use crate::severity::PySeverity;
use crate::timeline::PyMetrics;

/// A post-mortem document.
#[pyclass(name = "PostMortem", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyPostMortem {
    pub(crate) inner: CorePostMortem,
}

#[pymethods]
impl PyPostMortem {
    /// Incident id.
    #[getter]
    fn incident_id(&self) -> String {
        self.inner.incident_id.clone()
    }
    /// Incident title.
    #[getter]
    fn title(&self) -> String {
        self.inner.title.clone()
    }
    /// Final severity.
    #[getter]
    fn severity(&self) -> PySeverity {
        self.inner.severity.into()
    }
    /// Response metrics.
    #[getter]
    fn metrics(&self) -> PyMetrics {
        PyMetrics::wrap(self.inner.metrics)
    }
    /// The document as Markdown (the runbook's template; missing human input renders `_TBD_`).
    fn to_markdown(&self) -> PyResult<String> {
        guard(|| Ok(self.inner.to_markdown()))
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
        guard(|| Ok(Self { inner: from_json_str("post-mortem", text)? }))
    }
    fn __repr__(&self) -> String {
        format!("PostMortem(incident_id={:?}, severity={})", self.inner.incident_id, self.inner.severity)
    }
}

/// Build the post-mortem of `incident` from its timeline and the meeting's input (`action_items`: a list
/// of `{"description", "owner"?, "due"?: "YYYY-MM-DD"}`). Raises `InvalidInputError` naming the field.
#[pyfunction]
#[pyo3(signature = (incident, *, root_cause = None, impact = None, contributing_factors = None,
    action_items = None, process_improvements = None))]
pub(crate) fn build_post_mortem(
    incident: &PyIncident,
    root_cause: Option<String>,
    impact: Option<String>,
    contributing_factors: Option<Vec<String>>,
    action_items: Option<&Bound<'_, PyAny>>,
    process_improvements: Option<Vec<String>>,
) -> PyResult<PyPostMortem> {
    guard(|| {
        let mut v = serde_json::json!({});
        if let Some(m) = v.as_object_mut() {
            if let Some(r) = root_cause {
                m.insert("root_cause".into(), r.into());
            }
            if let Some(r) = impact {
                m.insert("impact".into(), r.into());
            }
            if let Some(r) = contributing_factors {
                m.insert("contributing_factors".into(), r.into());
            }
            if let Some(a) = action_items {
                m.insert("action_items".into(), py_to_json("action_items", a)?);
            }
            if let Some(r) = process_improvements {
                m.insert("process_improvements".into(), r.into());
            }
        }
        let input: PostMortemInput = from_value("post-mortem input", v)?;
        Ok(PyPostMortem { inner: CorePostMortem::build(&incident.incident, &incident.timeline, input) })
    })
}
