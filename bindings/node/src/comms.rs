//! Comms: status-page and internal update templates, the resolved message, and update cadence.

use chrono::{DateTime, Utc};
use incident_core::comms::{self as core, ResolvedInput, UpdateInput};
use napi::Env;
use napi_derive::napi;

use crate::error::{OrThrow, enum_str};
use crate::incident::{Incident, now_or, status};
use crate::policy::{Policy, or_default};

type Date = DateTime<Utc>;

/// Fields of a status update.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct StatusUpdateInput {
    /// Time of the update.
    pub time: Date,
    /// Incident status.
    #[napi(ts_type = "IncidentStatus")]
    pub status: String,
    /// Impact statement.
    pub impact: String,
    /// When the next update comes.
    pub next_update: Option<Date>,
    /// Details.
    pub details: Option<String>,
}

/// Fields of the resolved message.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct ResolvedMessageInput {
    /// Time of the message.
    pub time: Date,
    /// The service.
    pub service: String,
    /// When the incident started.
    pub started_at: Date,
    /// Root cause.
    pub root_cause: String,
    /// What fixed it.
    pub resolution: String,
    /// Impact.
    pub impact: String,
}

/// Options of `cadenceStatus`.
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct CadenceOptions {
    /// Last internal update.
    pub last_internal_update: Option<Date>,
    /// Last status-page update.
    pub last_status_page_update: Option<Date>,
    /// Now (defaults to the system clock).
    pub now: Option<Date>,
}

/// An update that is late.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct Overdue {
    /// Which update.
    #[napi(ts_type = "'internal' | 'status_page'")]
    pub kind: String,
    /// When it was due.
    pub due_at: Date,
    /// How late, in seconds.
    pub late_by_seconds: f64,
}

/// Which updates are due and late.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct CadenceStatus {
    /// Next internal update due.
    pub next_internal_due: Option<Date>,
    /// Next status-page update due.
    pub next_status_page_due: Option<Date>,
    /// Updates already late, internal first.
    pub overdue: Vec<Overdue>,
}

/// Format an instant as the runbook's templates do (`2024-05-03 14:02 UTC`).
#[napi(strict, catch_unwind)]
pub fn format_utc(at: Date) -> String {
    core::format_utc(at)
}

/// The initial status-page post for `service`.
#[napi(strict, catch_unwind)]
pub fn initial_status_page(env: Env, service: String) -> napi::Result<String> {
    core::initial_status_page(&service).or_throw(&env)
}

/// A status update from explicit fields.
#[napi(strict, catch_unwind)]
pub fn status_update(env: Env, input: StatusUpdateInput) -> napi::Result<String> {
    let inp = UpdateInput {
        time: input.time,
        status: status(&input.status).or_throw(&env)?,
        impact: input.impact,
        next_update: input.next_update,
        details: input.details.unwrap_or_default(),
    };
    core::status_update(&inp).or_throw(&env)
}

/// The status update for `incident` now (next update from the policy's cadence).
#[napi(strict, catch_unwind)]
pub fn status_update_for(
    env: Env,
    incident: &Incident,
    details: Option<String>,
    now: Option<Date>,
    policy: Option<&Policy>,
) -> napi::Result<String> {
    let p = or_default(policy);
    let inp = incident.with(|i, _| UpdateInput::for_incident(i, &p, now_or(now), details.as_deref().unwrap_or("")));
    core::status_update(&inp).or_throw(&env)
}

/// The resolved message from explicit fields.
#[napi(strict, catch_unwind)]
pub fn resolved_message(env: Env, input: ResolvedMessageInput) -> napi::Result<String> {
    let inp = ResolvedInput {
        time: input.time,
        service: input.service,
        started_at: input.started_at,
        root_cause: input.root_cause,
        resolution: input.resolution,
        impact: input.impact,
    };
    core::resolved_message(&inp).or_throw(&env)
}

/// The resolved message for a resolved `incident` (throws `precondition_failed`/`invalid_input` when it
/// lacks a root cause, resolution or resolution time).
#[napi(strict, catch_unwind)]
pub fn resolved_message_for(env: Env, incident: &Incident) -> napi::Result<String> {
    let inp = incident.with(|i, _| ResolvedInput::from_incident(i)).or_throw(&env)?;
    core::resolved_message(&inp).or_throw(&env)
}

/// Which updates of `incident` are due and late under `policy`'s cadence (throws `invalid_input` for `now`
/// or a last update earlier than the declaration, or a last update later than `now`).
#[napi(strict, catch_unwind)]
pub fn cadence_status(
    env: Env,
    incident: &Incident,
    options: Option<CadenceOptions>,
    policy: Option<&Policy>,
) -> napi::Result<CadenceStatus> {
    let o = options.unwrap_or_default();
    let p = or_default(policy);
    let s = incident
        .with(|i, _| core::try_cadence_status(&p, i, o.last_internal_update, o.last_status_page_update, now_or(o.now)))
        .or_throw(&env)?;
    #[allow(clippy::cast_precision_loss)] // lateness in seconds fits an f64 exactly
    Ok(CadenceStatus {
        next_internal_due: s.next_internal_due,
        next_status_page_due: s.next_status_page_due,
        overdue: s
            .overdue
            .iter()
            .map(|o| Overdue { kind: enum_str(&o.kind), due_at: o.due_at, late_by_seconds: o.late_by.as_secs() as f64 })
            .collect(),
    })
}
