//! `Incidents`: working a live incident in a store (`incident_core::lifecycle::Incidents`), as the CLI's
//! `incident list | show | ack | assign | severity | status | note | mitigated | resolve | update |
//! postmortem [--record] | declare | evidence collect` do, and the evidence items of an incident (list,
//! read, preserve).
//!
//! Conversion only: every rule and error is core's. The store (a SQLite file or a `postgres://` URL, the
//! CLI's `--store` rule) is opened on a small real-time runtime owned by the object (the store does real
//! I/O and the lifecycle reads the wall clock). Each method is sync with the GIL released, with an
//! `*_async` twin run on the asyncio loop's default executor (module `runtime`). Messages (declaration,
//! update, severity change, resolve) go through the notifiers `notify_config` and the `INCIDENT_*`
//! environment configure, assembled by `incident_notify::Router::for_store` exactly as the CLI's
//! `--notify-config`; without a provider a message is recorded `skipped`.

mod query;
mod support;

use std::sync::Arc;

use incident_core::declare::{Basis, Decided, ReportSource};
use incident_core::lifecycle::{
    Change as CoreChange, ChangeOutcome, IncidentView as CoreIncidentView, Incidents as CoreIncidents, ListFilter,
    ResolveRequest,
};
use incident_core::timeline::ResponseRole;
use incident_core::{Result as CoreResult, Severity as CoreSeverity, Status as CoreStatus};
use pyo3::prelude::*;

use crate::convert::{Span, Wrap};
use crate::error::{guard, to_json_string, to_py_obj};
use crate::incident::PyIncident;
use crate::policy::PyPolicy;
use crate::postmortem::PyPostMortem;
use crate::runtime::{awaitable, block};
use crate::timeline::PyTimeline;
use support::{Item, Json, Open, Work, action_items_input, drafts, open_work, parse, read_signing_key, to_json};

/// Lifecycle operations on the incidents of a store: list, show, acknowledge, assign, re-grade, move,
/// annotate, mitigate, resolve, post updates, build the post-mortem, declare a person's report. Safe while
/// `incident serve` writes the same incidents (core decides each operation on what is stored). Raises
/// core's errors: `NotFoundError` for an unknown incident, `InvalidInputError` for a blank actor,
/// person, reason, message, note or root cause, `ConflictError` for what can no longer be done
/// (resolving twice, changing a resolved incident).
#[pyclass(name = "Incidents", module = "incident_core._native", frozen)]
pub(crate) struct PyIncidents {
    inner: Arc<Open>,
}

impl PyIncidents {
    fn work<T: Send + 'static>(
        &self,
        f: impl AsyncFnOnce(&CoreIncidents) -> CoreResult<T> + Send + 'static,
    ) -> Work<T> {
        let inner = Arc::clone(&self.inner);
        Box::new(move |_| inner.run(f))
    }

    fn change(&self, f: impl AsyncFnOnce(&CoreIncidents) -> CoreResult<CoreChange> + Send + 'static) -> Work<PyChange> {
        let inner = Arc::clone(&self.inner);
        Box::new(move |_| Ok(PyChange { inner: inner.run(f)? }))
    }

    fn list_(&self, open: bool, severity: Option<Wrap<CoreSeverity>>, since: Option<Span>) -> Work<Vec<Json>> {
        let inner = Arc::clone(&self.inner);
        let filter = ListFilter {
            open,
            severity: severity.map(|s| s.0),
            since: since.map(|s| incident_core::HumanDuration::from_secs(s.0.as_secs())),
        };
        Box::new(move |_| inner.run(async |i| i.list(&filter).await)?.iter().map(to_json).collect())
    }

    fn update_(&self, id: String, actor: String, details: Option<String>) -> Work<Vec<Json>> {
        let inner = Arc::clone(&self.inner);
        Box::new(move |_| {
            inner.run(async |i| i.update(&id, details.as_deref(), &actor).await)?.iter().map(to_json).collect()
        })
    }

    fn postmortem_(&self, id: String, action_items: Option<&Bound<'_, PyAny>>) -> PyResult<Work<PyPostMortem>> {
        let input = action_items_input(action_items)?;
        let inner = Arc::clone(&self.inner);
        Ok(Box::new(move |_| Ok(PyPostMortem { inner: inner.run(async |i| i.postmortem(&id, input).await)? })))
    }

    #[allow(clippy::too_many_arguments)]
    fn declare_(
        &self,
        title: String,
        severity: CoreSeverity,
        reporter: String,
        actor: String,
        components: Option<Vec<String>>,
        impact: Option<String>,
        customer_facing: bool,
        customers_affected: bool,
        id: Option<String>,
        on_call: Option<String>,
    ) -> Work<PyChange> {
        self.change(async move |i| {
            let reporter: ReportSource = parse("reporter", &reporter)?;
            let mut basis = Basis::reported(&title, reporter.words())?;
            basis.components = components.unwrap_or_default();
            basis.impact = impact;
            basis.facts.customer_facing = Some(customer_facing);
            basis.facts.customers_affected = Some(customers_affected);
            let on_call = on_call.unwrap_or(actor);
            i.declare(Decided::reported(basis, severity), id.as_deref(), &on_call).await
        })
    }
}

#[pymethods]
impl PyIncidents {
    /// Open `store` (a SQLite file or a `postgres://` URL: the CLI's `--store` rule) under `policy`
    /// (default policy when `None`), at the wall clock (GIL released), sending messages through the
    /// notifiers of `notify_config`: the secrets file's path (TOML, or JSON when `.json`: `incident
    /// serve --notify-config`) or a dict of the same shape; the `INCIDENT_*` environment variables
    /// override either (and alone configure the providers when `None`). A missing SQLite file raises
    /// `NotFoundError` unless `create` (as `incident serve` creates it). Raises `InvalidInputError` for a
    /// bad spec or a bad notify config (naming the field, never a secret), `UnavailableError` when the
    /// store is unreachable (never repeating a password).
    #[staticmethod]
    #[pyo3(signature = (store, *, policy = None, create = false, notify_config = None))]
    fn open(
        py: Python<'_>,
        store: std::path::PathBuf,
        policy: Option<&PyPolicy>,
        create: bool,
        notify_config: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        guard(|| block(py, open_work(store.to_string_lossy().into_owned(), policy, create, notify_config)?))
    }

    /// `await Incidents.open_async(...)`.
    #[staticmethod]
    #[pyo3(signature = (store, *, policy = None, create = false, notify_config = None))]
    fn open_async<'py>(
        py: Python<'py>,
        store: std::path::PathBuf,
        policy: Option<&PyPolicy>,
        create: bool,
        notify_config: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| awaitable(py, open_work(store.to_string_lossy().into_owned(), policy, create, notify_config)?))
    }

    /// The notification providers messages go through (`"slack"`, `"pagerduty"`, `"statuspage"`,
    /// `"webhook:<name>"`; the tracker is `"webhook:tracker"`); empty: every message is recorded
    /// `skipped`.
    #[getter]
    fn notifiers(&self) -> Vec<String> {
        self.inner.providers.clone()
    }

    /// Incidents (wire dicts), newest declaration first: only open ones with `open`, only `severity`,
    /// only those declared at most `since` ago (`"24h"`, `"30m"`, a `timedelta` or seconds; whole seconds
    /// count).
    #[pyo3(signature = (*, open = false, severity = None, since = None))]
    fn list<'py>(
        &self,
        py: Python<'py>,
        open: bool,
        severity: Option<Wrap<CoreSeverity>>,
        since: Option<Span>,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        guard(|| block(py, self.list_(open, severity, since))?.into_iter().map(|j| j.into_pyobject(py)).collect())
    }

    /// `await incidents.list_async(...)`.
    #[pyo3(signature = (*, open = false, severity = None, since = None))]
    fn list_async<'py>(
        &self,
        py: Python<'py>,
        open: bool,
        severity: Option<Wrap<CoreSeverity>>,
        since: Option<Span>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| awaitable(py, self.list_(open, severity, since)))
    }

    /// The incident and its verified timeline, as an `Incident`.
    fn load(&self, py: Python<'_>, id: String) -> PyResult<PyIncident> {
        guard(|| block(py, self.load_(id)))
    }

    /// `await incidents.load_async(id)`.
    fn load_async<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        guard(|| awaitable(py, self.load_(id)))
    }

    /// Everything `incident show` prints: summary, roles, stakeholders, cadence, escalation, metrics,
    /// runs and the timeline.
    fn show(&self, py: Python<'_>, id: String) -> PyResult<PyIncidentView> {
        guard(|| block(py, self.show_(id)))
    }

    /// `await incidents.show_async(id)`.
    fn show_async<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        guard(|| awaitable(py, self.show_(id)))
    }

    /// The verified timeline of incident `id` (as `load(id).timeline`). Raises `NotFoundError` for an
    /// unknown incident, `IntegrityError` for a tampered timeline.
    fn timeline(&self, py: Python<'_>, id: String) -> PyResult<PyTimeline> {
        guard(|| block(py, query::timeline(&self.inner, id)))
    }

    /// `await incidents.timeline_async(id)`.
    fn timeline_async<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        guard(|| awaitable(py, query::timeline(&self.inner, id)))
    }

    /// The procedure runs the store holds, newest first, as wire dicts (`run_id`, `incident_id`,
    /// `procedure`, `plan`, `approval`, `status`, `created_at`, `updated_at`); with `incident_id`, only
    /// that incident's runs (those `show(id)` lists).
    #[pyo3(signature = (*, incident_id = None))]
    fn runs<'py>(&self, py: Python<'py>, incident_id: Option<String>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        guard(|| block(py, query::runs(&self.inner, incident_id))?.into_iter().map(|j| j.into_pyobject(py)).collect())
    }

    /// `await incidents.runs_async(...)`.
    #[pyo3(signature = (*, incident_id = None))]
    fn runs_async<'py>(&self, py: Python<'py>, incident_id: Option<String>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| awaitable(py, query::runs(&self.inner, incident_id)))
    }

    /// One run as a wire dict (as in `runs()`). Raises `NotFoundError` for an unknown run id.
    fn run<'py>(&self, py: Python<'py>, run_id: String) -> PyResult<Bound<'py, PyAny>> {
        guard(|| block(py, query::run(&self.inner, run_id))?.into_pyobject(py))
    }

    /// `await incidents.run_async(run_id)`.
    fn run_async<'py>(&self, py: Python<'py>, run_id: String) -> PyResult<Bound<'py, PyAny>> {
        guard(|| awaitable(py, query::run(&self.inner, run_id)))
    }

    /// The write-ahead journal of a run, oldest first: wire dicts (`seq`, `run_id`, `step_id`, `phase`
    /// `"intent"`/`"outcome"`, `attempt`, `owner`, `at`, `detail`, `prev_hash`, `hash`), the hash chain
    /// verified by the store. Raises `NotFoundError` for an unknown run, `IntegrityError` for a broken
    /// chain.
    fn journal<'py>(&self, py: Python<'py>, run_id: String) -> PyResult<Vec<Bound<'py, PyAny>>> {
        guard(|| block(py, query::journal(&self.inner, run_id))?.into_iter().map(|j| j.into_pyobject(py)).collect())
    }

    /// `await incidents.journal_async(run_id)`.
    fn journal_async<'py>(&self, py: Python<'py>, run_id: String) -> PyResult<Bound<'py, PyAny>> {
        guard(|| awaitable(py, query::journal(&self.inner, run_id)))
    }

    /// Acknowledge as `actor` (a second acknowledgement is `unchanged`, naming who and when).
    #[pyo3(signature = (id, *, actor))]
    fn ack(&self, py: Python<'_>, id: String, actor: String) -> PyResult<PyChange> {
        guard(|| block(py, self.change(async move |i| i.ack(&id, &actor).await)))
    }

    /// `await incidents.ack_async(id, actor=...)`.
    #[pyo3(signature = (id, *, actor))]
    fn ack_async<'py>(&self, py: Python<'py>, id: String, actor: String) -> PyResult<Bound<'py, PyAny>> {
        guard(|| awaitable(py, self.change(async move |i| i.ack(&id, &actor).await)))
    }

    /// Give `role` (`"commander"`, `"communications"`, `"scribe"`) to `person`.
    #[pyo3(signature = (id, role, person, *, actor))]
    fn assign(&self, py: Python<'_>, id: String, role: String, person: String, actor: String) -> PyResult<PyChange> {
        guard(|| block(py, self.assign_(id, role, person, actor)))
    }

    /// `await incidents.assign_async(...)`.
    #[pyo3(signature = (id, role, person, *, actor))]
    fn assign_async<'py>(
        &self,
        py: Python<'py>,
        id: String,
        role: String,
        person: String,
        actor: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| awaitable(py, self.assign_(id, role, person, actor)))
    }

    /// Raise or lower the severity, with a reason.
    #[pyo3(signature = (id, severity, *, reason, actor))]
    fn change_severity(
        &self,
        py: Python<'_>,
        id: String,
        severity: Wrap<CoreSeverity>,
        reason: String,
        actor: String,
    ) -> PyResult<PyChange> {
        let to = severity.0;
        guard(|| block(py, self.change(async move |i| i.change_severity(&id, to, &reason, &actor).await)))
    }

    /// `await incidents.change_severity_async(...)`.
    #[pyo3(signature = (id, severity, *, reason, actor))]
    fn change_severity_async<'py>(
        &self,
        py: Python<'py>,
        id: String,
        severity: Wrap<CoreSeverity>,
        reason: String,
        actor: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let to = severity.0;
        guard(|| awaitable(py, self.change(async move |i| i.change_severity(&id, to, &reason, &actor).await)))
    }

    /// Move to `identified` or `monitoring` with a message (resolve with `resolve`).
    #[pyo3(signature = (id, status, *, message, actor))]
    fn set_status(
        &self,
        py: Python<'_>,
        id: String,
        status: Wrap<CoreStatus>,
        message: String,
        actor: String,
    ) -> PyResult<PyChange> {
        let to = status.0;
        guard(|| block(py, self.change(async move |i| i.set_status(&id, to, &message, &actor).await)))
    }

    /// `await incidents.set_status_async(...)`.
    #[pyo3(signature = (id, status, *, message, actor))]
    fn set_status_async<'py>(
        &self,
        py: Python<'py>,
        id: String,
        status: Wrap<CoreStatus>,
        message: String,
        actor: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let to = status.0;
        guard(|| awaitable(py, self.change(async move |i| i.set_status(&id, to, &message, &actor).await)))
    }

    /// Add a note to the timeline (also once resolved).
    #[pyo3(signature = (id, text, *, actor))]
    fn note(&self, py: Python<'_>, id: String, text: String, actor: String) -> PyResult<PyChange> {
        guard(|| block(py, self.change(async move |i| i.note(&id, &text, &actor).await)))
    }

    /// `await incidents.note_async(...)`.
    #[pyo3(signature = (id, text, *, actor))]
    fn note_async<'py>(&self, py: Python<'py>, id: String, text: String, actor: String) -> PyResult<Bound<'py, PyAny>> {
        guard(|| awaitable(py, self.change(async move |i| i.note(&id, &text, &actor).await)))
    }

    /// Record that user impact stopped.
    #[pyo3(signature = (id, *, actor))]
    fn mitigated(&self, py: Python<'_>, id: String, actor: String) -> PyResult<PyChange> {
        guard(|| block(py, self.change(async move |i| i.mitigated(&id, &actor).await)))
    }

    /// `await incidents.mitigated_async(...)`.
    #[pyo3(signature = (id, *, actor))]
    fn mitigated_async<'py>(&self, py: Python<'py>, id: String, actor: String) -> PyResult<Bound<'py, PyAny>> {
        guard(|| awaitable(py, self.change(async move |i| i.mitigated(&id, &actor).await)))
    }

    /// Resolve with a root cause (and a resolution; default: the last `monitoring` message), then send
    /// the final `Status: RESOLVED` message. Raises `ConflictError` when already resolved.
    #[pyo3(signature = (id, *, root_cause, actor, resolution = None))]
    fn resolve(
        &self,
        py: Python<'_>,
        id: String,
        root_cause: String,
        actor: String,
        resolution: Option<String>,
    ) -> PyResult<PyChange> {
        let req = ResolveRequest { root_cause, resolution };
        guard(|| block(py, self.change(async move |i| i.resolve(&id, &req, &actor).await)))
    }

    /// `await incidents.resolve_async(...)`.
    #[pyo3(signature = (id, *, root_cause, actor, resolution = None))]
    fn resolve_async<'py>(
        &self,
        py: Python<'py>,
        id: String,
        root_cause: String,
        actor: String,
        resolution: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let req = ResolveRequest { root_cause, resolution };
        guard(|| awaitable(py, self.change(async move |i| i.resolve(&id, &req, &actor).await)))
    }

    /// Post the runbook's status update now (it counts for the cadence); the attempts as wire dicts.
    #[pyo3(signature = (id, *, actor, details = None))]
    fn update<'py>(
        &self,
        py: Python<'py>,
        id: String,
        actor: String,
        details: Option<String>,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        guard(|| block(py, self.update_(id, actor, details))?.into_iter().map(|j| j.into_pyobject(py)).collect())
    }

    /// `await incidents.update_async(...)`.
    #[pyo3(signature = (id, *, actor, details = None))]
    fn update_async<'py>(
        &self,
        py: Python<'py>,
        id: String,
        actor: String,
        details: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| awaitable(py, self.update_(id, actor, details)))
    }

    /// The post-mortem from the store (failed or compensated runs become action items before
    /// `action_items`: `{"description", "owner"?, "due"?: "YYYY-MM-DD"}` dicts).
    #[pyo3(signature = (id, *, action_items = None))]
    fn postmortem(
        &self,
        py: Python<'_>,
        id: String,
        action_items: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyPostMortem> {
        guard(|| block(py, self.postmortem_(id, action_items)?))
    }

    /// `await incidents.postmortem_async(...)`.
    #[pyo3(signature = (id, *, action_items = None))]
    fn postmortem_async<'py>(
        &self,
        py: Python<'py>,
        id: String,
        action_items: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| awaitable(py, self.postmortem_(id, action_items)?))
    }

    /// Build the post-mortem from the store (as `postmortem`) and record its markdown as the evidence item
    /// `postmortem.md` as `actor`, hashed into the timeline: the post-incident task "Write the post-mortem"
    /// is then done (`show`). Returns `(PostMortem, preserved)`: `preserved` is the wire dict of what was
    /// stored (`added`: one item; or `already_stored: ["postmortem.md"]` when one was recorded before: it
    /// is kept, not replaced), as `incident postmortem ID --record`.
    #[pyo3(signature = (id, *, actor, action_items = None))]
    fn record_postmortem<'py>(
        &self,
        py: Python<'py>,
        id: String,
        actor: String,
        action_items: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(PyPostMortem, Bound<'py, PyAny>)> {
        guard(|| {
            let (pm, preserved) = block(py, self.record_postmortem_(id, actor, action_items)?)?;
            Ok((pm, preserved.into_pyobject(py)?))
        })
    }

    /// `await incidents.record_postmortem_async(...)`.
    #[pyo3(signature = (id, *, actor, action_items = None))]
    fn record_postmortem_async<'py>(
        &self,
        py: Python<'py>,
        id: String,
        actor: String,
        action_items: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| awaitable(py, self.record_postmortem_(id, actor, action_items)?))
    }

    /// The evidence items of the incident, without content: wire dicts (`name`, `media_type`, `sha256`,
    /// `size`, `captured_at`), by name.
    fn evidence<'py>(&self, py: Python<'py>, id: String) -> PyResult<Vec<Bound<'py, PyAny>>> {
        guard(|| block(py, self.evidence_(id))?.into_iter().map(|j| j.into_pyobject(py)).collect())
    }

    /// `await incidents.evidence_async(id)`.
    fn evidence_async<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        guard(|| awaitable(py, self.evidence_(id)))
    }

    /// One evidence item with its content: the wire dict of `evidence` plus `content` (`bytes`, as
    /// stored: redacted). Raises `NotFoundError` for an unknown incident or item, `IntegrityError` when
    /// the stored content does not match its hash.
    fn evidence_item<'py>(&self, py: Python<'py>, id: String, name: String) -> PyResult<Bound<'py, PyAny>> {
        guard(|| block(py, self.evidence_item_(id, name))?.into_pyobject(py))
    }

    /// `await incidents.evidence_item_async(id, name)`.
    fn evidence_item_async<'py>(&self, py: Python<'py>, id: String, name: String) -> PyResult<Bound<'py, PyAny>> {
        guard(|| awaitable(py, self.evidence_item_(id, name)))
    }

    /// Preserve evidence items as `actor`: `items` are mappings `{"name", "media_type", "content"}`
    /// (`content` text, `str` or UTF-8 `bytes`), each redacted, bounded by `evidence.max_item_bytes`,
    /// hashed and stored with its `evidence_added` event. Returns the wire dict of what was done (`added`,
    /// `already_stored`: names preserved before, not written again, `events`, `attempts`). Raises
    /// `InvalidInputError` for a blank actor, a bad or repeated name, content that is not text or too
    /// large, `NotFoundError` for an unknown incident.
    #[pyo3(signature = (id, items, *, actor))]
    fn preserve<'py>(
        &self,
        py: Python<'py>,
        id: String,
        items: &Bound<'_, PyAny>,
        actor: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| block(py, self.preserve_(id, items, actor)?)?.into_pyobject(py))
    }

    /// `await incidents.preserve_async(...)`.
    #[pyo3(signature = (id, items, *, actor))]
    fn preserve_async<'py>(
        &self,
        py: Python<'py>,
        id: String,
        items: &Bound<'_, PyAny>,
        actor: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| awaitable(py, self.preserve_(id, items, actor)?))
    }

    /// Write the evidence bundle of the incident to `out` (`incident evidence collect ID --out DIR`: the
    /// drill bundle's format, every evidence item under `evidence/`; a previous bundle there is replaced,
    /// anything else refused), the manifest signed with the key at `signing_key` when given, and verify
    /// it. Returns what was proved (the dict `verify_evidence` returns).
    #[pyo3(signature = (id, out, *, signing_key = None))]
    fn collect_evidence<'py>(
        &self,
        py: Python<'py>,
        id: String,
        out: std::path::PathBuf,
        signing_key: Option<std::path::PathBuf>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| block(py, self.collect_(id, out, signing_key)?)?.into_pyobject(py))
    }

    /// `await incidents.collect_evidence_async(...)`.
    #[pyo3(signature = (id, out, *, signing_key = None))]
    fn collect_evidence_async<'py>(
        &self,
        py: Python<'py>,
        id: String,
        out: std::path::PathBuf,
        signing_key: Option<std::path::PathBuf>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| awaitable(py, self.collect_(id, out, signing_key)?))
    }

    /// Declare a person's report now (runbook "Manual Reporting"), as `incident declare --severity`:
    /// `reporter` is `"customer"`, `"internal"` or `"partner"`; the id defaults to
    /// `INC-YYYYMMDD-HHMM`, the on-call commander to `actor`.
    #[pyo3(signature = (title, severity, reporter, *, actor, components = None, impact = None,
        customer_facing = true, customers_affected = false, id = None, on_call = None))]
    #[allow(clippy::too_many_arguments)]
    fn declare(
        &self,
        py: Python<'_>,
        title: String,
        severity: Wrap<CoreSeverity>,
        reporter: String,
        actor: String,
        components: Option<Vec<String>>,
        impact: Option<String>,
        customer_facing: bool,
        customers_affected: bool,
        id: Option<String>,
        on_call: Option<String>,
    ) -> PyResult<PyChange> {
        let w = self.declare_(
            title,
            severity.0,
            reporter,
            actor,
            components,
            impact,
            customer_facing,
            customers_affected,
            id,
            on_call,
        );
        guard(|| block(py, w))
    }

    /// `await incidents.declare_async(...)`.
    #[pyo3(signature = (title, severity, reporter, *, actor, components = None, impact = None,
        customer_facing = true, customers_affected = false, id = None, on_call = None))]
    #[allow(clippy::too_many_arguments)]
    fn declare_async<'py>(
        &self,
        py: Python<'py>,
        title: String,
        severity: Wrap<CoreSeverity>,
        reporter: String,
        actor: String,
        components: Option<Vec<String>>,
        impact: Option<String>,
        customer_facing: bool,
        customers_affected: bool,
        id: Option<String>,
        on_call: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let w = self.declare_(
            title,
            severity.0,
            reporter,
            actor,
            components,
            impact,
            customer_facing,
            customers_affected,
            id,
            on_call,
        );
        guard(|| awaitable(py, w))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let names = pyo3::types::PyList::new(py, &self.inner.providers)?;
        Ok(format!("Incidents(notifiers={})", names.repr()?))
    }
}

impl PyIncidents {
    fn load_(&self, id: String) -> Work<PyIncident> {
        let inner = Arc::clone(&self.inner);
        Box::new(move |_| {
            let (incident, timeline) = inner.run(async |i| i.load(&id).await)?;
            Ok(PyIncident::wrap(incident, timeline))
        })
    }

    fn show_(&self, id: String) -> Work<PyIncidentView> {
        let w = self.work(async move |i| i.show(&id).await);
        Box::new(move |rt| Ok(PyIncidentView { inner: w(rt)? }))
    }

    fn record_postmortem_(
        &self,
        id: String,
        actor: String,
        action_items: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Work<(PyPostMortem, Json)>> {
        let input = action_items_input(action_items)?;
        let w = self.work(async move |i| i.record_postmortem(&id, input, &actor).await);
        Ok(Box::new(move |rt| {
            let done = w(rt)?;
            Ok((PyPostMortem { inner: done.postmortem }, to_json(&done.preserved)?))
        }))
    }

    fn evidence_(&self, id: String) -> Work<Vec<Json>> {
        let w = self.work(async move |i| i.evidence(&id).await);
        Box::new(move |rt| w(rt)?.iter().map(to_json).collect())
    }

    fn evidence_item_(&self, id: String, name: String) -> Work<Item> {
        let w = self.work(async move |i| i.evidence_item(&id, &name).await);
        Box::new(move |rt| Ok(Item(w(rt)?)))
    }

    fn preserve_(&self, id: String, items: &Bound<'_, PyAny>, actor: String) -> PyResult<Work<Json>> {
        let items = drafts(items)?;
        let w = self.work(async move |i| i.preserve(&id, items, &actor).await);
        Ok(Box::new(move |rt| to_json(&w(rt)?)))
    }

    fn collect_(
        &self,
        id: String,
        out: std::path::PathBuf,
        signing_key: Option<std::path::PathBuf>,
    ) -> PyResult<Work<Json>> {
        let key = read_signing_key(signing_key)?;
        let w = self.work(async move |i| {
            incident_core::evidence::collect::<incident_store::SqliteStore>(i, &id, &out, key.as_ref()).await
        });
        Ok(Box::new(move |rt| to_json(&w(rt)?)))
    }

    fn assign_(&self, id: String, role: String, person: String, actor: String) -> Work<PyChange> {
        self.change(async move |i| {
            let role: ResponseRole = parse("role", &role)?;
            i.assign(&id, role, &person, &actor).await
        })
    }
}

/// What an `Incidents` operation did: applied (with the events it appended) or unchanged (with why).
#[pyclass(name = "Change", module = "incident_core._native", frozen)]
pub(crate) struct PyChange {
    inner: CoreChange,
}

#[pymethods]
impl PyChange {
    /// `"applied"` or `"unchanged"`.
    #[getter]
    fn outcome(&self) -> &'static str {
        match &self.inner.outcome {
            ChangeOutcome::Unchanged { .. } => "unchanged",
            ChangeOutcome::Applied => "applied",
        }
    }
    /// Why nothing was recorded (unchanged only).
    #[getter]
    fn why(&self) -> Option<String> {
        match &self.inner.outcome {
            ChangeOutcome::Unchanged { why } => Some(why.clone()),
            ChangeOutcome::Applied => None,
        }
    }
    /// The incident's id.
    #[getter]
    fn incident_id(&self) -> String {
        self.inner.incident.id.clone()
    }
    /// The text the CLI prints for the operation.
    fn render(&self) -> PyResult<String> {
        guard(|| Ok(incident_core::render::change(&self.inner)))
    }
    /// The wire form as a dict (`incident ... -o json`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| to_py_obj(py, &self.inner))
    }
    /// Wire JSON.
    fn to_json(&self) -> PyResult<String> {
        guard(|| to_json_string(&self.inner))
    }
    fn __repr__(&self) -> String {
        format!(
            "Change(operation={:?}, incident_id={:?}, outcome={:?})",
            self.inner.operation.as_str(),
            self.inner.incident.id,
            self.outcome()
        )
    }
}

/// Everything `incident show` prints about one incident.
#[pyclass(name = "IncidentView", module = "incident_core._native", frozen)]
pub(crate) struct PyIncidentView {
    inner: CoreIncidentView,
}

#[pymethods]
impl PyIncidentView {
    /// The incident's id.
    #[getter]
    fn incident_id(&self) -> String {
        self.inner.incident.id.clone()
    }
    /// The text `incident show ID` prints.
    fn render(&self) -> PyResult<String> {
        guard(|| Ok(incident_core::render::incident_view(&self.inner)))
    }
    /// The wire form as a dict (`incident show ID -o json`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| to_py_obj(py, &self.inner))
    }
    /// Wire JSON.
    fn to_json(&self) -> PyResult<String> {
        guard(|| to_json_string(&self.inner))
    }
    fn __repr__(&self) -> String {
        format!("IncidentView(incident_id={:?})", self.inner.incident.id)
    }
}
