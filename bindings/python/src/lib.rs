//! Python bindings for `incident-core`, built with PyO3 (module `incident_core._native`).
//!
//! Glue only: one file per core module converts Python values to core types and back; every core error
//! becomes one exception class per error kind rooted at `IncidentError` (module `error`); every entry point
//! catches panics and raises `InternalError("panic: ...")`. Simulator-backed work runs on the
//! simulator's paused-clock runtime, sync with the GIL released or awaitable through asyncio
//! (module `runtime`). Real backends (AWS, the PostgreSQL store, datastore probes) are chosen and connected by
//! `incident-backends` (module `backends`). No rule lives here.

mod backends;
mod classify;
mod comms;
mod convert;
mod detector;
mod drill;
mod drills;
mod engine;
mod error;
mod evidence;
mod incident;
mod incidents;
mod ingest;
mod policy;
mod postmortem;
mod runtime;
mod severity;
mod timeline;
mod triage;

use pyo3::prelude::*;

/// The package version (the Cargo workspace version).
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Test hook: panics with `message` inside an entry point; the panic must surface as `InternalError`.
#[pyfunction]
fn _panic_for_tests(message: &str) -> PyResult<()> {
    error::guard(|| panic!("{message}"))
}

/// Test hook: panics with `message` inside an awaitable's worker thread.
#[pyfunction]
fn _panic_for_tests_async<'py>(py: Python<'py>, message: String) -> PyResult<Bound<'py, PyAny>> {
    runtime::awaitable(py, move |_| -> incident_core::Result<()> { panic!("{message}") })
}

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests_async, m)?)?;

    m.add("IncidentError", py.get_type::<error::IncidentError>())?;
    m.add("PolicyError", py.get_type::<error::PolicyError>())?;
    m.add("InvalidInputError", error::invalid_input_type(py)?)?;
    m.add("NotFoundError", py.get_type::<error::NotFoundError>())?;
    m.add("ConflictError", py.get_type::<error::ConflictError>())?;
    m.add("PermissionDeniedError", py.get_type::<error::PermissionDeniedError>())?;
    m.add("IncidentTimeoutError", error::timeout_type(py)?)?;
    m.add("UnavailableError", py.get_type::<error::UnavailableError>())?;
    m.add("PreconditionFailedError", py.get_type::<error::PreconditionFailedError>())?;
    m.add("RefusedError", py.get_type::<error::RefusedError>())?;
    m.add("IntegrityError", py.get_type::<error::IntegrityError>())?;
    m.add("InternalError", py.get_type::<error::InternalError>())?;

    m.add_class::<severity::PySeverity>()?;
    m.add_class::<severity::PyStatus>()?;
    m.add_class::<policy::PyPolicy>()?;
    m.add_class::<classify::PyImpactFacts>()?;
    m.add_class::<classify::PyReason>()?;
    m.add_class::<classify::PyClassification>()?;
    m.add_function(wrap_pyfunction!(evidence::verify_evidence, m)?)?;
    m.add_function(wrap_pyfunction!(evidence::verify_evidence_text, m)?)?;
    m.add_function(wrap_pyfunction!(classify::classify, m)?)?;
    m.add_function(wrap_pyfunction!(classify::classification_rules, m)?)?;
    m.add_class::<detector::PySignal>()?;
    m.add_class::<detector::PyObservation>()?;
    m.add_class::<detector::PyDeclaration>()?;
    m.add_class::<detector::PyDetector>()?;
    m.add_class::<ingest::PyIngestedAlert>()?;
    m.add_class::<ingest::PyAlertBatch>()?;
    m.add_function(wrap_pyfunction!(ingest::parse_alerts, m)?)?;
    m.add_function(wrap_pyfunction!(ingest::parse_alertmanager, m)?)?;
    m.add_function(wrap_pyfunction!(ingest::parse_pagerduty, m)?)?;
    m.add_function(wrap_pyfunction!(ingest::parse_grafana, m)?)?;
    m.add_function(wrap_pyfunction!(ingest::parse_cloudwatch, m)?)?;
    m.add_function(wrap_pyfunction!(ingest::parse_cloudwatch_alarm, m)?)?;
    m.add_function(wrap_pyfunction!(ingest::parse_datadog, m)?)?;
    m.add_class::<incident::PyDeclareRequest>()?;
    m.add_class::<incident::PyStakeholder>()?;
    m.add_class::<incident::PyIncident>()?;
    m.add_class::<incidents::PyIncidents>()?;
    m.add_class::<incidents::PyChange>()?;
    m.add_class::<incidents::PyIncidentView>()?;
    m.add_function(wrap_pyfunction!(incident::channel_name, m)?)?;
    m.add_function(wrap_pyfunction!(incident::transition_allowed, m)?)?;
    m.add_function(wrap_pyfunction!(incident::stakeholders_for, m)?)?;
    m.add_class::<timeline::PyTimelineEvent>()?;
    m.add_class::<timeline::PyMetrics>()?;
    m.add_class::<timeline::PyTimeline>()?;
    m.add_function(wrap_pyfunction!(comms::format_utc, m)?)?;
    m.add_function(wrap_pyfunction!(comms::initial_status_page, m)?)?;
    m.add_function(wrap_pyfunction!(comms::status_update, m)?)?;
    m.add_function(wrap_pyfunction!(comms::status_update_for, m)?)?;
    m.add_function(wrap_pyfunction!(comms::resolved_message, m)?)?;
    m.add_function(wrap_pyfunction!(comms::resolved_message_for, m)?)?;
    m.add_function(wrap_pyfunction!(comms::cadence_status, m)?)?;
    m.add_class::<comms::PyCadenceStatus>()?;
    m.add_class::<comms::PyCadenceTracker>()?;
    m.add_class::<postmortem::PyPostMortem>()?;
    m.add_function(wrap_pyfunction!(postmortem::build_post_mortem, m)?)?;
    m.add_class::<drills::PyScheduledDrill>()?;
    m.add_class::<drills::PyValidationChecklist>()?;
    m.add_function(wrap_pyfunction!(drills::next_drills, m)?)?;
    m.add_function(wrap_pyfunction!(drills::drill_on, m)?)?;
    m.add_class::<triage::PyTriageReport>()?;
    m.add_function(wrap_pyfunction!(triage::triage, m)?)?;
    m.add_function(wrap_pyfunction!(triage::triage_async, m)?)?;
    m.add_function(wrap_pyfunction!(drills::run_validation_checklist, m)?)?;
    m.add_function(wrap_pyfunction!(drills::run_validation_checklist_async, m)?)?;
    m.add_class::<engine::PySimPlatform>()?;
    m.add_class::<backends::PyAwsConfig>()?;
    m.add_class::<backends::PyBackends>()?;
    m.add_class::<engine::PyProcedure>()?;
    m.add_class::<engine::PyPlan>()?;
    m.add_class::<engine::PyApprovedPlan>()?;
    m.add_class::<engine::PyRunReport>()?;
    m.add_function(wrap_pyfunction!(engine::scenario_names, m)?)?;
    m.add_function(wrap_pyfunction!(engine::procedure_names, m)?)?;
    m.add_function(wrap_pyfunction!(engine::procedure, m)?)?;
    m.add_function(wrap_pyfunction!(engine::parse_procedure, m)?)?;
    m.add_function(wrap_pyfunction!(engine::run_plan, m)?)?;
    m.add_function(wrap_pyfunction!(engine::run_plan_async, m)?)?;
    m.add_function(wrap_pyfunction!(engine::resume_run, m)?)?;
    m.add_function(wrap_pyfunction!(engine::resume_run_async, m)?)?;
    m.add_function(wrap_pyfunction!(engine::approve_gate, m)?)?;
    m.add_class::<drill::PyDrillReport>()?;
    m.add_function(wrap_pyfunction!(drill::run_drill, m)?)?;
    m.add_function(wrap_pyfunction!(drill::run_drill_async, m)?)?;
    Ok(())
}
