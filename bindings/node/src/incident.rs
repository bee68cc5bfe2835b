//! `Incident`: declaration, status transitions, ticket, stakeholders and channel; every change is appended
//! to the incident's own hash-chained timeline.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use incident_core::clock::{Clock, SystemClock};
use incident_core::incident::{self as core, DeclareRequest as CoreRequest, Incident as CoreIncident};
use incident_core::timeline::Timeline as CoreTimeline;
use incident_core::{Error as CoreError, Policy as CorePolicy, Result as CoreResult};
use napi::Env;
use napi_derive::napi;
use serde_json::Value;

use crate::classify::severity;
use crate::error::{OrThrow, enum_str, parse_enum, to_json};
use crate::policy::{Policy, or_default};
use crate::timeline::{Metrics, Timeline, TimelineEvent, event, event_kind};

type Date = DateTime<Utc>;

/// An incident's status.
#[napi(string_enum)]
pub enum IncidentStatus {
    /// Investigating.
    #[napi(value = "investigating")]
    Investigating,
    /// Root cause identified.
    #[napi(value = "identified")]
    Identified,
    /// Fix in place, watching.
    #[napi(value = "monitoring")]
    Monitoring,
    /// Over.
    #[napi(value = "resolved")]
    Resolved,
}

/// Parse a status name.
pub(crate) fn status(s: &str) -> CoreResult<incident_core::Status> {
    parse_enum("status", s, &incident_core::Status::NAMES)
}

/// Everything needed to declare an incident.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct DeclareRequest {
    /// Incident id (e.g. `INC-2024-0042`).
    pub id: String,
    /// One-line title.
    pub title: String,
    /// Severity.
    #[napi(ts_type = "Severity")]
    pub severity: String,
    /// Affected services.
    pub components: Option<Vec<String>>,
    /// Impact statement.
    pub impact: Option<String>,
    /// Customer-facing service.
    pub customer_facing: Option<bool>,
    /// Customers are affected.
    pub customers_affected: Option<bool>,
    /// The on-call engineer (incident commander unless `commander` is set).
    pub on_call: String,
    /// Incident commander.
    pub commander: Option<String>,
    /// When the problem began.
    pub started_at: Option<Date>,
    /// When it was detected (defaults to the declaration time).
    pub detected_at: Option<Date>,
    /// Where the detection came from.
    pub detection_source: Option<String>,
}

impl DeclareRequest {
    fn to_core(&self) -> CoreResult<CoreRequest> {
        Ok(CoreRequest {
            id: self.id.clone(),
            title: self.title.clone(),
            severity: severity(&self.severity)?,
            components: self.components.clone().unwrap_or_default(),
            impact: self.impact.clone().unwrap_or_default(),
            customer_facing: self.customer_facing.unwrap_or(false),
            customers_affected: self.customers_affected.unwrap_or(false),
            on_call: self.on_call.clone(),
            commander: self.commander.clone(),
            started_at: self.started_at,
            detected_at: self.detected_at,
            detection_source: self.detection_source.clone(),
        })
    }
}

/// Someone to notify, why, and how.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct Stakeholder {
    /// Role (`incident_commander`, `engineering_manager`, ...).
    pub role: String,
    /// The role's title.
    pub title: String,
    /// Why they are notified.
    pub reason: String,
    /// How to reach them, one line (`undefined` when the directory has no entry).
    pub contact: Option<String>,
}

/// The real clock, for calls that omit `at`.
pub(crate) fn now_or(at: Option<Date>) -> Date {
    at.unwrap_or_else(|| SystemClock.now())
}

/// An incident and its timeline. Methods that change it append to the timeline and throw `conflict` for
/// an illegal transition, `invalid_input` for blank names.
#[napi]
pub struct Incident {
    pub(crate) state: Mutex<(CoreIncident, CoreTimeline)>,
}

impl Incident {
    /// Wrap a core incident and its timeline.
    pub(crate) fn wrap(incident: CoreIncident, timeline: CoreTimeline) -> Self {
        Self { state: Mutex::new((incident, timeline)) }
    }

    /// Run `f` on the state.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut CoreIncident, &mut CoreTimeline) -> T) -> T {
        let mut g = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (i, t) = &mut *g;
        f(i, t)
    }

    fn get<T>(&self, f: impl FnOnce(&CoreIncident) -> T) -> T {
        self.with(|i, _| f(i))
    }

    /// Apply a mutation to a copy and commit it only when it succeeds.
    fn change(
        &self,
        env: &Env,
        f: impl FnOnce(&mut CoreIncident, &mut CoreTimeline) -> CoreResult<()>,
    ) -> napi::Result<()> {
        self.with(|i, t| {
            let (mut i2, mut t2) = (i.clone(), t.clone());
            f(&mut i2, &mut t2)?;
            *i = i2;
            *t = t2;
            Ok(())
        })
        .or_throw(env)
    }
}

#[napi]
impl Incident {
    /// Declare an incident: assigns the commander, names the channel, opens the timeline
    /// (`detected` + `declared` events). `now` defaults to the system clock.
    #[napi(factory, strict, catch_unwind)]
    pub fn declare(
        env: Env,
        request: DeclareRequest,
        policy: Option<&Policy>,
        now: Option<Date>,
    ) -> napi::Result<Self> {
        let req = request.to_core().or_throw(&env)?;
        let (i, t) = CoreIncident::declare(req, &or_default(policy), now_or(now)).or_throw(&env)?;
        Ok(Self::wrap(i, t))
    }

    /// Rebuild from `toJSON()` output (`{ incident, timeline }`), verifying the timeline.
    #[napi(
        factory,
        js_name = "fromJSON",
        catch_unwind,
        ts_args_type = "json: { incident: import('../lib/wire').IncidentJson; timeline: import('../lib/wire').TimelineJson } | Record<string, unknown>"
    )]
    pub fn from_json(env: Env, json: Value) -> napi::Result<Self> {
        #[derive(serde::Deserialize)]
        struct Both {
            incident: CoreIncident,
            timeline: CoreTimeline,
        }
        let b: Both = crate::error::from_json("incident", json).or_throw(&env)?;
        Ok(Self::wrap(b.incident, b.timeline))
    }

    /// Incident id.
    #[napi(getter, catch_unwind)]
    pub fn id(&self) -> String {
        self.get(|i| i.id.clone())
    }

    /// Title.
    #[napi(getter, catch_unwind)]
    pub fn title(&self) -> String {
        self.get(|i| i.title.clone())
    }

    /// Current severity.
    #[napi(getter, catch_unwind, ts_return_type = "Severity")]
    pub fn severity(&self) -> String {
        self.get(|i| i.severity.as_str().to_owned())
    }

    /// Current status.
    #[napi(getter, catch_unwind, ts_return_type = "IncidentStatus")]
    pub fn status(&self) -> String {
        self.get(|i| i.status.as_str().to_owned())
    }

    /// Incident commander.
    #[napi(getter, catch_unwind)]
    pub fn commander(&self) -> String {
        self.get(|i| i.commander.clone())
    }

    /// Incident channel (`#incident-YYYYMMDD-HHMM`).
    #[napi(getter, catch_unwind)]
    pub fn channel(&self) -> String {
        self.get(|i| i.channel.clone())
    }

    /// Affected services.
    #[napi(getter, catch_unwind)]
    pub fn components(&self) -> Vec<String> {
        self.get(|i| i.components.clone())
    }

    /// Impact statement.
    #[napi(getter, catch_unwind)]
    pub fn impact(&self) -> String {
        self.get(|i| i.impact.clone())
    }

    /// When the problem began, if known.
    #[napi(getter, catch_unwind)]
    pub fn started_at(&self) -> Option<Date> {
        self.get(|i| i.started_at)
    }

    /// When it was detected.
    #[napi(getter, catch_unwind)]
    pub fn detected_at(&self) -> Date {
        self.get(|i| i.detected_at)
    }

    /// When it was declared.
    #[napi(getter, catch_unwind)]
    pub fn declared_at(&self) -> Date {
        self.get(|i| i.declared_at)
    }

    /// When the commander acknowledged.
    #[napi(getter, catch_unwind)]
    pub fn acknowledged_at(&self) -> Option<Date> {
        self.get(|i| i.acknowledged_at)
    }

    /// When impact was mitigated.
    #[napi(getter, catch_unwind)]
    pub fn mitigated_at(&self) -> Option<Date> {
        self.get(|i| i.mitigated_at)
    }

    /// When it was resolved.
    #[napi(getter, catch_unwind)]
    pub fn resolved_at(&self) -> Option<Date> {
        self.get(|i| i.resolved_at)
    }

    /// Root cause, once set.
    #[napi(getter, catch_unwind)]
    pub fn root_cause(&self) -> Option<String> {
        self.get(|i| i.root_cause.clone())
    }

    /// Resolution, once set.
    #[napi(getter, catch_unwind)]
    pub fn resolution(&self) -> Option<String> {
        self.get(|i| i.resolution.clone())
    }

    /// The commander acknowledges (sets MTTA).
    #[napi(strict, catch_unwind)]
    pub fn acknowledge(&self, env: Env, actor: String, at: Option<Date>) -> napi::Result<()> {
        self.change(&env, |i, t| i.acknowledge(now_or(at), &actor, t))
    }

    /// Move to status `to` (the runbook's order; `resolved` needs root cause and resolution), with what
    /// the responder said when `message` is given (kept in the `status_changed` event; a blank message
    /// throws `invalid_input`).
    #[napi(
        strict,
        catch_unwind,
        ts_args_type = "to: IncidentStatus, actor: string, at?: Date | null, message?: string | null"
    )]
    pub fn transition(
        &self,
        env: Env,
        to: String,
        actor: String,
        at: Option<Date>,
        message: Option<String>,
    ) -> napi::Result<()> {
        let to = status(&to).or_throw(&env)?;
        self.change(&env, |i, t| i.transition_with_message(to, message.as_deref(), now_or(at), &actor, t))
    }

    /// Record that impact is mitigated (sets MTTM).
    #[napi(strict, catch_unwind)]
    pub fn mark_mitigated(&self, env: Env, actor: String, at: Option<Date>) -> napi::Result<()> {
        self.change(&env, |i, t| i.mark_mitigated(now_or(at), &actor, t))
    }

    /// Resolve (sets MTTR).
    #[napi(strict, catch_unwind)]
    pub fn resolve(&self, env: Env, actor: String, at: Option<Date>) -> napi::Result<()> {
        self.change(&env, |i, t| i.resolve(now_or(at), &actor, t))
    }

    /// Change the severity, with a reason.
    #[napi(strict, catch_unwind, ts_args_type = "to: Severity, reason: string, actor: string, at?: Date")]
    pub fn change_severity(
        &self,
        env: Env,
        to: String,
        reason: String,
        actor: String,
        at: Option<Date>,
    ) -> napi::Result<()> {
        let to = severity(&to).or_throw(&env)?;
        self.change(&env, |i, t| i.change_severity(to, &reason, now_or(at), &actor, t))
    }

    /// Hand the commander role to `to`.
    #[napi(strict, catch_unwind)]
    pub fn hand_over(&self, env: Env, to: String, actor: String, at: Option<Date>) -> napi::Result<()> {
        self.change(&env, |i, t| i.hand_over(&to, now_or(at), &actor, t))
    }

    /// Set the root cause.
    #[napi(strict, catch_unwind)]
    pub fn set_root_cause(&self, env: Env, text: String) -> napi::Result<()> {
        self.change(&env, |i, _| i.set_root_cause(&text))
    }

    /// Set the resolution.
    #[napi(strict, catch_unwind)]
    pub fn set_resolution(&self, env: Env, text: String) -> napi::Result<()> {
        self.change(&env, |i, _| i.set_resolution(&text))
    }

    /// Append any other event, e.g. `{ type: 'note', text: '...' }` or
    /// `{ type: 'message_sent', channel: 'status_page', ... }`; returns it.
    #[napi(catch_unwind, ts_args_type = "kind: { type: string } & Record<string, unknown>, actor: string, at?: Date")]
    pub fn record(&self, env: Env, kind: Value, actor: String, at: Option<Date>) -> napi::Result<TimelineEvent> {
        let kind = event_kind(kind).or_throw(&env)?;
        let mut out = None;
        self.change(&env, |_, t| {
            out = Some(event(t.append(now_or(at), actor.as_str(), kind)?));
            Ok(())
        })?;
        out.ok_or_else(|| crate::error::js_error(&env, &CoreError::internal("append returned nothing")))
    }

    /// The ticket text (markdown) for the incident tracker.
    #[napi(strict, catch_unwind)]
    pub fn ticket(&self) -> String {
        self.get(CoreIncident::ticket)
    }

    /// Who to notify under `policy`, with contacts.
    #[napi(strict, catch_unwind)]
    pub fn stakeholders(&self, policy: Option<&Policy>) -> Vec<Stakeholder> {
        let p = or_default(policy);
        self.get(|i| i.stakeholders(&p)).iter().map(stakeholder).collect()
    }

    /// The emergency contacts to call rather than page for this incident (the policy's
    /// `emergency_contacts` whose conditions hold: severity, customer impact, words of the title or
    /// components), each role once.
    #[napi(strict, catch_unwind)]
    pub fn emergency_contacts(&self, policy: Option<&Policy>) -> Vec<Stakeholder> {
        let p = or_default(policy);
        self.get(|i| i.emergency_contacts(&p)).iter().map(stakeholder).collect()
    }

    /// The notifications declaring it sends under `policy` (wire JSON: `to`, `kind`, `text`), as the
    /// receiver sends them; the escalation roles of a business-hours severity declared out of hours are
    /// left to the escalation driver.
    #[napi(catch_unwind, ts_return_type = "Array<import('../lib/wire').NotificationJson>")]
    pub fn declaration_notifications(&self, env: Env, policy: Option<&Policy>) -> napi::Result<serde_json::Value> {
        let p = or_default(policy);
        crate::error::to_json(&self.get(|i| i.declaration_notifications(&p))).or_throw(&env)
    }

    /// The first message of the incident channel.
    #[napi(strict, catch_unwind)]
    pub fn channel_intro(&self, policy: Option<&Policy>) -> String {
        let p = or_default(policy);
        self.get(|i| i.channel_intro(&p))
    }

    /// MTTD/MTTA/MTTM/MTTR so far.
    #[napi(strict, catch_unwind)]
    pub fn metrics(&self) -> Metrics {
        Metrics::from_core(&self.get(CoreIncident::metrics))
    }

    /// A snapshot of the timeline.
    #[napi(getter, catch_unwind)]
    pub fn timeline(&self) -> Timeline {
        Timeline { inner: self.with(|_, t| t.clone()) }
    }

    /// `{ incident, timeline }` in the wire JSON (snake_case, RFC 3339 strings).
    #[napi(
        js_name = "toJSON",
        catch_unwind,
        ts_return_type = "{ incident: import('../lib/wire').IncidentJson; timeline: import('../lib/wire').TimelineJson }"
    )]
    pub fn to_json(&self, env: Env) -> napi::Result<Value> {
        self.with(|i, t| Ok(serde_json::json!({ "incident": to_json(i)?, "timeline": to_json(t)? }))).or_throw(&env)
    }
}

fn stakeholder(s: &core::Stakeholder) -> Stakeholder {
    Stakeholder {
        role: enum_str(&s.role),
        title: s.role.title().to_owned(),
        reason: s.reason.clone(),
        contact: s.contact.as_ref().map(core::describe_contact),
    }
}

/// The incident channel name for a declaration instant (`#incident-YYYYMMDD-HHMM`).
#[napi(strict, catch_unwind)]
pub fn channel_name(declared_at: Date) -> String {
    core::channel_name(declared_at)
}

/// Whether the runbook allows moving from status `from` to `to`.
#[napi(strict, catch_unwind, ts_args_type = "from: IncidentStatus, to: IncidentStatus")]
pub fn transition_allowed(env: Env, from: String, to: String) -> napi::Result<bool> {
    Ok(core::transition_allowed(status(&from).or_throw(&env)?, status(&to).or_throw(&env)?))
}

/// Stakeholders for hypothetical facts (before declaring).
#[napi(
    strict,
    catch_unwind,
    ts_args_type = "severity: Severity, customerFacing: boolean, customersAffected: boolean, policy?: Policy"
)]
pub fn stakeholders_for(
    env: Env,
    severity_name: String,
    customer_facing: bool,
    customers_affected: bool,
    policy: Option<&Policy>,
) -> napi::Result<Vec<Stakeholder>> {
    let sev = severity(&severity_name).or_throw(&env)?;
    let p: CorePolicy = or_default(policy);
    Ok(core::stakeholders_for(&p, sev, customer_facing, customers_affected).iter().map(stakeholder).collect())
}
