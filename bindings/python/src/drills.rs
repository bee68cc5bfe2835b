//! Drills: the monthly drill schedule and the post-incident validation checklist.

use chrono::{DateTime, NaiveDate, Utc};
use incident_core::drills::{self as core, CheckOutcome, ValidationChecklist as CoreChecklist};
use incident_core::policy::ChecklistId;
use pyo3::prelude::*;
use serde::Serialize;
use serde_json::Value;

use incident_core::Result as CoreResult;
use tokio::runtime::Runtime;

use crate::backends::Target;
use crate::convert::{StrEnum, Wrap};
use crate::error::{OrRaise, from_json_str, guard, invalid, to_json_string, to_py_obj};
use crate::policy::{PyPolicy, or_default};
use crate::runtime::{awaitable, block};

/// The wire string of a unit enum variant (`Status::Identified` → `"identified"`).
pub(crate) fn enum_str<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(e) => format!("<{e}>"),
    }
}

impl StrEnum for ChecklistId {
    const WHAT: &'static str = "checklist item";
    const ALLOWED: &'static [&'static str] = &ChecklistId::NAMES;
}

/// One upcoming drill.
#[pyclass(name = "ScheduledDrill", module = "incident_core._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyScheduledDrill {
    inner: core::ScheduledDrill,
}

#[pymethods]
impl PyScheduledDrill {
    /// Which drill (`database-failover`, `application-rollback`, `regional-failover`, `full-disaster-recovery`).
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind.as_str()
    }
    /// The Friday it runs on.
    #[getter]
    fn date(&self) -> NaiveDate {
        self.inner.date
    }
    /// Start instant (UTC).
    #[getter]
    fn starts_at(&self) -> DateTime<Utc> {
        self.inner.starts_at
    }
    /// Which Friday of the month (1–4).
    #[getter]
    fn nth_friday(&self) -> u8 {
        self.inner.nth_friday
    }
    /// Wire JSON.
    fn to_json(&self) -> PyResult<String> {
        guard(|| to_json_string(&self.inner))
    }
    /// Parse wire JSON.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        guard(|| Ok(Self { inner: from_json_str("scheduled drill", text)? }))
    }
    fn __repr__(&self) -> String {
        format!(
            "ScheduledDrill(kind={:?}, date={}, nth_friday={})",
            self.inner.kind.as_str(),
            self.inner.date,
            self.inner.nth_friday
        )
    }
}

/// The next `count` scheduled drills from `start` (`count` in 0..=1200, else `InvalidInputError`).
#[pyfunction]
#[pyo3(signature = (start, count, policy = None))]
pub(crate) fn next_drills(
    start: Wrap<DateTime<Utc>>,
    count: i64,
    policy: Option<&PyPolicy>,
) -> PyResult<Vec<PyScheduledDrill>> {
    guard(|| {
        let n = usize::try_from(count).map_err(|_| invalid(format!("count must be >= 0, got {count}")))?;
        let v = core::next_drills(&or_default(policy).drills, start.0, n).or_raise()?;
        Ok(v.into_iter().map(|inner| PyScheduledDrill { inner }).collect())
    })
}

/// The drill scheduled on `day` (a `date`), or `None`.
#[pyfunction]
#[pyo3(signature = (day, policy = None))]
pub(crate) fn drill_on(day: NaiveDate, policy: Option<&PyPolicy>) -> PyResult<Option<&'static str>> {
    guard(|| Ok(core::drill_on(&or_default(policy).drills, day).or_raise()?.map(|k| k.as_str())))
}

/// The runbook's post-incident validation checklist.
#[pyclass(name = "ValidationChecklist", module = "incident_core._native", eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyValidationChecklist {
    inner: CoreChecklist,
}

#[pymethods]
impl PyValidationChecklist {
    /// The policy's checklist, nothing checked yet.
    #[new]
    #[pyo3(signature = (policy = None))]
    fn new(policy: Option<&PyPolicy>) -> PyResult<Self> {
        guard(|| Ok(Self { inner: CoreChecklist::from_policy(&or_default(policy)) }))
    }
    /// Record item `id` as passed, or failed with `reason`. `InvalidInputError` for an unknown id,
    /// `NotFoundError` for an item this checklist lacks.
    #[pyo3(signature = (id, passed, reason = None))]
    fn record(&mut self, id: Wrap<ChecklistId>, passed: bool, reason: Option<String>) -> PyResult<()> {
        guard(|| {
            let outcome = CheckOutcome::from_check(passed, reason);
            self.inner.record(id.0, outcome).or_raise()
        })
    }
    /// Items as `(id, description, outcome, reason)`; outcome is `"pass"`, `"fail"` or `"not_checked"`.
    fn items(&self) -> Vec<(String, String, &'static str, Option<String>)> {
        self.inner
            .items()
            .iter()
            .map(|i| {
                let (o, r) = match &i.outcome {
                    CheckOutcome::Pass => ("pass", None),
                    CheckOutcome::Fail { reason } => ("fail", Some(reason.clone())),
                    _ => ("not_checked", None),
                };
                (enum_str(&i.id), i.description.clone(), o, r)
            })
            .collect()
    }
    /// Every item passed.
    #[getter]
    fn all_passed(&self) -> bool {
        self.inner.report().all_passed
    }
    /// Markdown task-list lines plus a summary line.
    fn to_text(&self) -> PyResult<String> {
        guard(|| Ok(self.inner.report().to_text()))
    }
    /// The report as a dict (`items`, `all_passed`, `failed`, `unchecked`).
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| to_py_obj(py, &self.inner.report()))
    }
    /// Wire JSON of the checklist.
    fn to_json(&self) -> PyResult<String> {
        guard(|| to_json_string(&self.inner))
    }
    /// Parse wire JSON.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        guard(|| Ok(Self { inner: from_json_str("validation checklist", text)? }))
    }
    fn __repr__(&self) -> String {
        let r = self.inner.report();
        format!(
            "ValidationChecklist(all_passed={}, items={})",
            if r.all_passed { "True" } else { "False" },
            self.inner.items().len()
        )
    }
}

fn run_work(
    platform: Target,
    policy: incident_core::Policy,
) -> impl FnOnce(&Runtime) -> CoreResult<PyValidationChecklist> {
    move |rt: &Runtime| {
        let set = platform.open(None, &policy, rt)?;
        let inner = rt.block_on(incident_core::engine::library::run_validation_checklist(set.backends(), &policy));
        Ok(PyValidationChecklist { inner })
    }
}

/// Check every item of the validation checklist on `platform` (a `SimPlatform` or `Backends`; GIL
/// released), where `policy.checklist_targets` says to look (`policy`: the runbook's defaults when
/// `None`). The checklist that comes back has each item passed, failed or not checked (no targets), with
/// its evidence in `report()["items"][i]["evidence"]`; `all_passed` is what `incident drills checklist
/// --run` exits on. An unreachable system fails the items that need it; it does not raise.
#[pyfunction]
#[pyo3(signature = (platform, *, policy = None))]
pub(crate) fn run_validation_checklist(
    py: Python<'_>,
    platform: Target,
    policy: Option<&PyPolicy>,
) -> PyResult<PyValidationChecklist> {
    guard(|| block(py, run_work(platform, or_default(policy))))
}

/// `await run_validation_checklist_async(platform, policy=...)`: `run_validation_checklist` on a worker
/// thread.
#[pyfunction]
#[pyo3(signature = (platform, *, policy = None))]
pub(crate) fn run_validation_checklist_async<'py>(
    py: Python<'py>,
    platform: Target,
    policy: Option<&PyPolicy>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(|| awaitable(py, run_work(platform, or_default(policy))))
}
