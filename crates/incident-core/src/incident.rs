//! The [`Incident`] record and its lifecycle: declaration (channel, ticket, incident commander),
//! acknowledgement, the status state machine, severity changes, commander handover, mitigation and
//! resolution. Every change is also appended to the incident's [`Timeline`].
//!
//! # Status state machine
//!
//! `investigating → identified → monitoring → resolved`, in the runbook's order:
//!
//! * any **forward** move is allowed, including skips (`investigating → monitoring` when the first fix
//!   works, `investigating → resolved` for a false alarm);
//! * the only **backward** move is `monitoring → identified` (the fix did not hold; the cause is still
//!   known);
//! * **nothing** leaves `resolved`, and a move to the current status is refused.
//!
//! Refusals are [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) errors naming both statuses. Once
//! resolved, acknowledgements, severity changes, handovers and mitigation are refused too.
//!
//! Mitigation ([`Incident::mark_mitigated`]) is a milestone, not a status: it records when user impact
//! stopped and leaves the status alone.
//!
//! Each method validates first and appends to the timeline before touching the incident, so a refused
//! call changes nothing.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::clock::format_utc;
use crate::policy::{Contact, Role};
use crate::timeline::{EventKind, Metrics, Timeline};
use crate::{Error, Policy, Result, Severity, Status, text};

/// What is known when an incident is declared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeclareRequest {
    /// Incident id (e.g. `INC-2026-0042`); must not be blank.
    pub id: String,
    /// Brief description; must not be blank.
    pub title: String,
    /// Initial severity.
    pub severity: Severity,
    /// Affected services.
    #[serde(default)]
    pub components: Vec<String>,
    /// User impact description (may be blank while unknown).
    #[serde(default)]
    pub impact: String,
    /// Whether the issue is visible to customers (product manager is notified).
    #[serde(default)]
    pub customer_facing: bool,
    /// Whether customers are affected (customer support is notified).
    #[serde(default)]
    pub customers_affected: bool,
    /// The on-call engineer, incident commander by default; must not be blank.
    pub on_call: String,
    /// An explicit incident commander instead of the on-call engineer.
    #[serde(default)]
    pub commander: Option<String>,
    /// When the issue began, if known.
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    /// When it was detected; defaults to the declaration time.
    #[serde(default)]
    pub detected_at: Option<DateTime<Utc>>,
    /// What detected it (`prometheus`, `customer report`, ...); defaults to `manual`.
    #[serde(default)]
    pub detection_source: Option<String>,
}

/// An incident id: `INC-YYYYMMDD-HHMM` of the declaration time (UTC), then `-{suffix}` when given (the
/// receiver adds a short digest of the alert group so concurrent declarations never collide).
#[must_use]
pub fn incident_id(declared_at: DateTime<Utc>, suffix: Option<&str>) -> String {
    let base = declared_at.format("INC-%Y%m%d-%H%M").to_string();
    match suffix.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => format!("{base}-{s}"),
        None => base,
    }
}

/// One incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Incident {
    /// Incident id.
    pub id: String,
    /// Brief description.
    pub title: String,
    /// Current severity.
    pub severity: Severity,
    /// Affected services.
    pub components: Vec<String>,
    /// User impact description.
    pub impact: String,
    /// Whether the issue is visible to customers.
    pub customer_facing: bool,
    /// Whether customers are affected.
    pub customers_affected: bool,
    /// Current incident commander.
    pub commander: String,
    /// Current status.
    pub status: Status,
    /// Incident channel, `#incident-YYYY-MM-DD-HHMM` (UTC declaration time).
    pub channel: String,
    /// When the issue began, if known.
    pub started_at: Option<DateTime<Utc>>,
    /// When it was detected.
    pub detected_at: DateTime<Utc>,
    /// When the incident was declared.
    pub declared_at: DateTime<Utc>,
    /// When a responder first acknowledged it.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When user impact stopped.
    pub mitigated_at: Option<DateTime<Utc>>,
    /// When it was resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Root cause, once known.
    pub root_cause: Option<String>,
    /// What was done to fix it.
    pub resolution: Option<String>,
}

/// Someone to notify about an incident (runbook "Notify Stakeholders").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Stakeholder {
    /// The role.
    pub role: Role,
    /// Why they are notified (the rule's reason).
    pub reason: String,
    /// How to reach them; `None` when the directory has no entry valid at this severity.
    pub contact: Option<Contact>,
}

impl Stakeholder {
    /// One label for people: the role named once. The reason alone when it already names the role
    /// (`Engineering on-call`, `Engineering manager (P0/P1 only)`), else `Role (reason)`.
    #[must_use]
    pub fn label(&self) -> String {
        let title = self.role.title();
        let reason = self.reason.trim();
        let names_role = reason.get(..title.len()).is_some_and(|head| head.eq_ignore_ascii_case(title));
        if reason.is_empty() {
            title.to_owned()
        } else if names_role {
            reason.to_owned()
        } else {
            format!("{title} ({reason})")
        }
    }
}

/// The Slack channel name for an incident declared at `declared_at`: `#incident-YYYY-MM-DD-HHMM` in UTC.
#[must_use]
pub fn channel_name(declared_at: DateTime<Utc>) -> String {
    declared_at.format("#incident-%Y-%m-%d-%H%M").to_string()
}

/// Whether the state machine allows `from → to` (see the [module docs](self)).
#[must_use]
pub fn transition_allowed(from: Status, to: Status) -> bool {
    match (from, to) {
        (Status::Resolved, _) => false,
        (Status::Monitoring, Status::Identified) => true,
        _ => to > from,
    }
}

/// The stakeholders `policy` routes an incident with these facts to, with contacts, in rule order
/// (each role once, first matching rule wins).
///
/// A rule holds when every condition it sets holds: `min_severity` (this severity or worse),
/// `customer_facing`, `customers_affected`. A contact is used only when its `only_for` is empty or
/// lists `severity`.
#[must_use]
pub fn stakeholders_for(
    policy: &Policy,
    severity: Severity,
    customer_facing: bool,
    customers_affected: bool,
) -> Vec<Stakeholder> {
    let mut out: Vec<Stakeholder> = Vec::new();
    for rule in &policy.stakeholders {
        let w = &rule.when;
        let holds = w.min_severity.is_none_or(|min| severity >= min)
            && w.customer_facing.is_none_or(|v| v == customer_facing)
            && w.customers_affected.is_none_or(|v| v == customers_affected);
        if !holds || out.iter().any(|s| s.role == rule.role) {
            continue;
        }
        let contact = contact_for(policy, rule.role, severity);
        let reason = if rule.reason.trim().is_empty() { rule.role.title().to_owned() } else { rule.reason.clone() };
        out.push(Stakeholder { role: rule.role, reason, contact });
    }
    out
}

/// The first of `policy`'s contacts for `role` valid at `severity` (its `only_for` empty or listing it).
fn contact_for(policy: &Policy, role: Role, severity: Severity) -> Option<Contact> {
    policy
        .contacts
        .iter()
        .find(|c| c.role == role && (c.only_for.is_empty() || c.only_for.contains(&severity)))
        .cloned()
}

/// One line describing how to reach `contact` (`+1-XXX-XXX-XXXX (PagerDuty)`, `support@slack.com`).
#[must_use]
pub fn describe_contact(contact: &Contact) -> String {
    let mut parts = Vec::new();
    if let Some(phone) = &contact.phone {
        match &contact.via {
            Some(via) => parts.push(format!("{phone} ({via})")),
            None => parts.push(phone.clone()),
        }
    } else if let Some(via) = &contact.via {
        parts.push(format!("via {via}"));
    }
    parts.extend(contact.email.iter().cloned());
    parts.extend(contact.slack.iter().cloned());
    if parts.is_empty() { "(no contact details)".to_owned() } else { parts.join(", ") }
}

fn non_blank(field: &str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() { Err(Error::invalid_input(format!("{field} must not be empty"))) } else { Ok(v.to_owned()) }
}

impl Incident {
    /// Declare an incident at `now`: validates the request, names the channel, makes the on-call
    /// engineer (or the explicit `commander`) incident commander, and starts the timeline with
    /// `detected` (at `detected_at`), `declared` and `commander_assigned` (at `now`) events.
    ///
    /// The timeline accepts at most `policy.limits.max_events_per_incident` events.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for a blank id, title, on-call,
    /// commander or component, or times out of order (`started_at` ≤ `detected_at` ≤ `now`).
    pub fn declare(req: DeclareRequest, policy: &Policy, now: DateTime<Utc>) -> Result<(Self, Timeline)> {
        let id = non_blank("incident id", &req.id)?;
        let title = non_blank("title", &req.title)?;
        let on_call = non_blank("on_call", &req.on_call)?;
        let commander = match &req.commander {
            Some(c) => non_blank("commander", c)?,
            None => on_call,
        };
        let components = req.components.iter().map(|c| non_blank("component name", c)).collect::<Result<Vec<_>>>()?;
        let detected_at = req.detected_at.unwrap_or(now);
        if detected_at > now {
            return Err(Error::invalid_input(format!(
                "detected_at {} is after the declaration time {}",
                detected_at.to_rfc3339(),
                now.to_rfc3339()
            )));
        }
        if let Some(started) = req.started_at.filter(|s| *s > detected_at) {
            return Err(Error::invalid_input(format!(
                "started_at {} is after detected_at {}",
                started.to_rfc3339(),
                detected_at.to_rfc3339()
            )));
        }
        let source = req.detection_source.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or("manual");
        let incident = Self {
            id,
            title,
            severity: req.severity,
            components,
            impact: req.impact.trim().to_owned(),
            customer_facing: req.customer_facing,
            customers_affected: req.customers_affected,
            commander,
            status: Status::Investigating,
            channel: channel_name(now),
            started_at: req.started_at,
            detected_at,
            declared_at: now,
            acknowledged_at: None,
            mitigated_at: None,
            resolved_at: None,
            root_cause: None,
            resolution: None,
        };
        let mut timeline = Timeline::new(incident.id.clone()).with_max_events(policy.limits.max_events_per_incident);
        let actor = incident.commander.clone();
        timeline.append(
            detected_at,
            source,
            EventKind::Detected { source: source.to_owned(), summary: incident.title.clone() },
        )?;
        timeline.append(
            now,
            actor.clone(),
            EventKind::Declared {
                severity: incident.severity,
                title: incident.title.clone(),
                channel: incident.channel.clone(),
                ticket: incident.ticket(),
            },
        )?;
        timeline.append(
            now,
            actor,
            EventKind::CommanderAssigned { commander: incident.commander.clone(), previous: None },
        )?;
        Ok((incident, timeline))
    }

    /// The incident ticket, exactly in the runbook's shape:
    ///
    /// ```text
    /// Title: [P1] Brief description
    /// Priority: P1
    /// Components: api, db
    /// Impact: ...
    /// ```
    ///
    /// No components render as `Components: (none)`, a blank impact as `Impact: (not yet assessed)`.
    #[must_use]
    pub fn ticket(&self) -> String {
        let components = if self.components.is_empty() { "(none)".to_owned() } else { self.components.join(", ") };
        let impact = if self.impact.is_empty() { "(not yet assessed)" } else { self.impact.as_str() };
        // Values never add a line (a title from an alert's summary may hold one): see crate::text.
        format!(
            "Title: [{sev}] {title}\nPriority: {sev}\nComponents: {components}\nImpact: {impact}",
            sev = self.severity,
            title = text::neutralise(&self.title),
            components = text::neutralise(&components),
            impact = text::neutralise(impact),
        )
    }

    /// What goes out when the incident is declared, in order (the runbook's "Incident Declaration" steps):
    /// the channel's first message (`channel_intro`), the ticket (`ticket`), then one `page` per
    /// stakeholder of [`Incident::stakeholders`], then a `page` for each level-1 escalation role
    /// (`severities.*.escalation`) that is not a stakeholder. The first status-page update is the cadence
    /// driver's (due within `cadence.status_page_within` of declaration).
    ///
    /// Paging follows the severity table ([`crate::escalation`]): for a `business_hours` severity declared
    /// outside business hours ([`Policy::pages_at_declaration`]), the escalation roles (every level of its
    /// chain) are left out: the escalation driver pages them at the next business instant (a P2 declared
    /// Friday 18:00 pages Monday 09:00). The other stakeholders are still notified at once.
    #[must_use]
    pub fn declaration_notifications(&self, policy: &Policy) -> Vec<crate::backend::Notification> {
        use crate::backend::{Destination, Notification};
        let channel = || Destination::Channel { name: self.channel.clone() };
        let note = |to, kind: &str, text| Notification { incident_id: self.id.clone(), to, kind: kind.into(), text };
        let mut out = vec![
            note(channel(), "channel_intro", self.channel_intro(policy)),
            note(channel(), "ticket", self.ticket()),
        ];
        let levels = policy.escalation_levels(self.severity);
        let page_now = policy.pages_at_declaration(self.severity, self.declared_at);
        let held = |role: Role| !page_now && levels.iter().flatten().any(|r| *r == role);
        let stakeholders = self.stakeholders(policy);
        for s in stakeholders.iter().filter(|s| !held(s.role)) {
            let text = format!("[{}] {} — {}", self.severity, text::neutralise(&self.title), s.reason);
            out.push(note(Destination::Page { role: s.role }, "page", text));
        }
        if page_now {
            let sp = policy.severities.get(self.severity);
            for role in sp.escalation.iter().filter(|r| !stakeholders.iter().any(|s| s.role == **r)) {
                let text = format!(
                    "[{}] {} — escalation ({} {})",
                    self.severity,
                    text::neutralise(&self.title),
                    self.severity,
                    sp.escalation_window.phrase()
                );
                out.push(note(Destination::Page { role: *role }, "page", text));
            }
        }
        out
    }

    /// Who to notify (see [`stakeholders_for`]).
    #[must_use]
    pub fn stakeholders(&self, policy: &Policy) -> Vec<Stakeholder> {
        stakeholders_for(policy, self.severity, self.customer_facing, self.customers_affected)
    }

    /// The emergency contacts that apply to this incident, to call rather than page
    /// (`policy.emergency_contacts`: conditions as for stakeholders, plus words that must start a word of its
    /// title or components), each role once, with the contact valid at this severity.
    #[must_use]
    pub fn emergency_contacts(&self, policy: &Policy) -> Vec<Stakeholder> {
        // Words of the title and components; a mention matches the start of a word (`region` matches
        // "regional", `aws` does not match "flaws").
        let text = format!("{} {}", self.title, self.components.join(" ")).to_lowercase();
        let words: Vec<&str> = text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
        let mut out: Vec<Stakeholder> = Vec::new();
        for rule in &policy.emergency_contacts {
            let w = &rule.when;
            let holds = w.min_severity.is_none_or(|min| self.severity >= min)
                && w.customer_facing.is_none_or(|v| v == self.customer_facing)
                && w.customers_affected.is_none_or(|v| v == self.customers_affected)
                && (rule.mentions.is_empty()
                    || rule.mentions.iter().any(|m| {
                        let m = m.to_lowercase();
                        words.iter().any(|w| w.starts_with(m.as_str()))
                    }));
            if !holds || out.iter().any(|s| s.role == rule.role) {
                continue;
            }
            let contact = contact_for(policy, rule.role, self.severity);
            let reason = if rule.reason.trim().is_empty() { rule.role.title().to_owned() } else { rule.reason.clone() };
            out.push(Stakeholder { role: rule.role, reason, contact });
        }
        out
    }

    /// The first message of the incident channel: what, where (channel and bridge), who (IC and
    /// stakeholders with contacts), the emergency contacts that apply and the policy's resource links.
    #[must_use]
    pub fn channel_intro(&self, policy: &Policy) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Incident {}: [{}] {}",
            text::neutralise(&self.id),
            self.severity,
            text::neutralise(&self.title)
        );
        let _ = writeln!(s, "Status: {}", self.status);
        let _ = writeln!(s, "Declared: {}", format_utc(self.declared_at));
        let _ = writeln!(s);
        let _ = writeln!(s, "Slack: {}", self.channel);
        let _ = writeln!(s, "Bridge: {}", policy.bridge.as_deref().unwrap_or("(none)"));
        let _ = writeln!(s, "Incident Commander: {}", text::neutralise(&self.commander));
        let _ = writeln!(s);
        let _ = writeln!(s, "{}", self.ticket());
        let _ = writeln!(s);
        let _ = writeln!(s, "Stakeholders:");
        for st in self.stakeholders(policy) {
            let how = st.contact.as_ref().map_or_else(|| "(no contact on file)".to_owned(), describe_contact);
            let _ = writeln!(s, "- {}: {how}", st.reason);
        }
        let emergency = self.emergency_contacts(policy);
        if !emergency.is_empty() {
            let _ = writeln!(s);
            let _ = writeln!(s, "Emergency contacts:");
            for st in emergency {
                let how = st.contact.as_ref().map_or_else(|| "(no contact on file)".to_owned(), describe_contact);
                let _ = writeln!(s, "- {}: {how}", st.reason);
            }
        }
        if !policy.resources.is_empty() {
            let _ = writeln!(s);
            let _ = writeln!(s, "Resources:");
            for r in &policy.resources {
                let _ = writeln!(s, "- {}: {}", r.name, r.url);
            }
        }
        s
    }

    /// Response metrics from the incident's milestones (definitions in [`crate::timeline`]).
    #[must_use]
    pub fn metrics(&self) -> Metrics {
        Metrics::compute(
            self.started_at,
            Some(self.detected_at),
            self.acknowledged_at,
            self.mitigated_at,
            self.resolved_at,
        )
    }

    fn check_timeline(&self, timeline: &Timeline) -> Result<()> {
        if timeline.incident_id() == self.id {
            Ok(())
        } else {
            Err(Error::invalid_input(format!("timeline of {} passed for incident {}", timeline.incident_id(), self.id)))
        }
    }

    fn check_open(&self, what: &str) -> Result<()> {
        if self.status == Status::Resolved {
            Err(Error::conflict(format!("incident {} is resolved; cannot {what}", self.id)))
        } else {
            Ok(())
        }
    }

    /// Move to status `to` at `at`, recording `status_changed` (and `resolved` when `to` is resolved,
    /// which also sets `resolved_at`).
    ///
    /// # Errors
    /// [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) naming `from` and `to` when the state machine
    /// forbids the move; [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when `at` precedes
    /// the last event or the timeline belongs to another incident.
    pub fn transition(&mut self, to: Status, at: DateTime<Utc>, actor: &str, timeline: &mut Timeline) -> Result<()> {
        self.transition_with_message(to, None, at, actor, timeline)
    }

    /// [`Incident::transition`] with what the responder said (kept in the `status_changed` event).
    ///
    /// # Errors
    /// As [`Incident::transition`]; [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for a
    /// message that is given but blank.
    pub fn transition_with_message(
        &mut self,
        to: Status,
        message: Option<&str>,
        at: DateTime<Utc>,
        actor: &str,
        timeline: &mut Timeline,
    ) -> Result<()> {
        self.check_timeline(timeline)?;
        let message = message.map(|m| non_blank("status message", m)).transpose()?;
        let from = self.status;
        if !transition_allowed(from, to) {
            let why = if from == to {
                "already there"
            } else if from == Status::Resolved {
                "resolved is final"
            } else {
                "only forward moves and monitoring -> identified are allowed"
            };
            return Err(Error::conflict(format!(
                "incident {}: illegal status transition {from} -> {to} ({why})",
                self.id
            )));
        }
        timeline.append(at, actor, EventKind::StatusChanged { from, to, message })?;
        if to == Status::Resolved {
            timeline.append(at, actor, EventKind::Resolved)?;
            self.resolved_at = Some(at);
        }
        self.status = to;
        Ok(())
    }

    /// Resolve the incident (status `resolved`, `resolved_at = at`).
    ///
    /// # Errors
    /// As [`Incident::transition`]; resolving twice is a conflict.
    pub fn resolve(&mut self, at: DateTime<Utc>, actor: &str, timeline: &mut Timeline) -> Result<()> {
        self.transition(Status::Resolved, at, actor, timeline)
    }

    /// Record the first acknowledgement by `actor`.
    ///
    /// # Errors
    /// [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) when already acknowledged or resolved.
    pub fn acknowledge(&mut self, at: DateTime<Utc>, actor: &str, timeline: &mut Timeline) -> Result<()> {
        self.check_timeline(timeline)?;
        self.check_open("acknowledge")?;
        if let Some(prev) = self.acknowledged_at {
            return Err(Error::conflict(format!(
                "incident {} was already acknowledged at {}",
                self.id,
                format_utc(prev)
            )));
        }
        timeline.append(at, actor, EventKind::Acknowledged)?;
        self.acknowledged_at = Some(at);
        Ok(())
    }

    /// Record that user impact stopped at `at` (the status is unchanged).
    ///
    /// # Errors
    /// [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) when already mitigated or resolved.
    pub fn mark_mitigated(&mut self, at: DateTime<Utc>, actor: &str, timeline: &mut Timeline) -> Result<()> {
        self.check_timeline(timeline)?;
        self.check_open("mark it mitigated")?;
        if let Some(prev) = self.mitigated_at {
            return Err(Error::conflict(format!("incident {} was already mitigated at {}", self.id, format_utc(prev))));
        }
        timeline.append(at, actor, EventKind::Mitigated)?;
        self.mitigated_at = Some(at);
        Ok(())
    }

    /// Raise or lower the severity, with a mandatory reason (recorded in the timeline).
    ///
    /// An impact text that states the severity (`P2 (Customer-facing errors)`, as declared from a
    /// classification) is restated for the new one with the reason, keeping what was declared:
    /// `P0 (all regions down; declared P2: Customer-facing errors)`, so updates never print a stale
    /// severity. An impact written by a person is left as written.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for a blank reason;
    /// [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) when `to` is the current severity or the
    /// incident is resolved.
    pub fn change_severity(
        &mut self,
        to: Severity,
        reason: &str,
        at: DateTime<Utc>,
        actor: &str,
        timeline: &mut Timeline,
    ) -> Result<()> {
        self.check_timeline(timeline)?;
        let reason = non_blank("severity change reason", reason)?;
        self.check_open("change its severity")?;
        let from = self.severity;
        if from == to {
            return Err(Error::conflict(format!("incident {} is already {to}", self.id)));
        }
        let impact = self.impact.strip_prefix(&format!("{from} (")).and_then(|r| r.strip_suffix(')')).map(|was| {
            // Restated once: a second change keeps the declared text, not the first restatement.
            let declared =
                was.rsplit_once("; declared ").map_or_else(|| format!("{from}: {was}"), |(_, d)| d.to_owned());
            format!("{to} ({reason}; declared {declared})")
        });
        timeline.append(at, actor, EventKind::SeverityChanged { from, to, reason })?;
        self.severity = to;
        if let Some(impact) = impact {
            self.impact = impact;
        }
        Ok(())
    }

    /// Hand the incident-commander role to `to`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for a blank name;
    /// [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) when `to` already is the commander or the
    /// incident is resolved.
    pub fn hand_over(&mut self, to: &str, at: DateTime<Utc>, actor: &str, timeline: &mut Timeline) -> Result<()> {
        self.check_timeline(timeline)?;
        let to = non_blank("new commander", to)?;
        self.check_open("hand over command")?;
        if to == self.commander {
            return Err(Error::conflict(format!("{to} already is the incident commander of {}", self.id)));
        }
        timeline.append(
            at,
            actor,
            EventKind::CommanderAssigned { commander: to.clone(), previous: Some(self.commander.clone()) },
        )?;
        self.commander = to;
        Ok(())
    }

    /// Record the root cause (kept on the incident; used by the resolved message and post-mortem).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for blank text.
    pub fn set_root_cause(&mut self, text: &str) -> Result<()> {
        self.root_cause = Some(non_blank("root cause", text)?);
        Ok(())
    }

    /// Record what was done to fix it.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for blank text.
    pub fn set_resolution(&mut self, text: &str) -> Result<()> {
        self.resolution = Some(non_blank("resolution", text)?);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::{FixedOffset, TimeZone};

    use super::*;
    use crate::ErrorKind;

    pub(crate) fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, h, m, 0).single().expect("valid time")
    }

    pub(crate) fn request(severity: Severity) -> DeclareRequest {
        DeclareRequest {
            id: "INC-1".into(),
            title: "Inference API errors".into(),
            severity,
            components: vec!["api".into(), "db".into()],
            impact: "30% of prediction requests fail".into(),
            customer_facing: true,
            customers_affected: true,
            on_call: "alice".into(),
            commander: None,
            started_at: Some(at(13, 50)),
            detected_at: Some(at(13, 58)),
            detection_source: Some("prometheus".into()),
        }
    }

    pub(crate) fn declared(severity: Severity) -> (Incident, Timeline) {
        Incident::declare(request(severity), &Policy::default(), at(14, 5)).expect("declare")
    }

    #[test]
    fn a_severity_change_restates_a_classified_impact_and_keeps_a_written_one() {
        let (mut inc, mut tl) = declared(Severity::P2);
        inc.impact = "P2 (Customer-facing errors)".into();
        inc.change_severity(Severity::P0, "all regions down", at(14, 40), "bob", &mut tl).expect("raise");
        assert_eq!(inc.impact, "P0 (all regions down; declared P2: Customer-facing errors)");
        assert!(inc.ticket().contains("Impact: P0 (all regions down; declared P2"), "{}", inc.ticket());
        inc.change_severity(Severity::P1, "one region back", at(14, 50), "bob", &mut tl).expect("lower");
        assert_eq!(inc.impact, "P1 (one region back; declared P2: Customer-facing errors)");
        inc.change_severity(Severity::P0, "x; declared y", at(14, 55), "bob", &mut tl).expect("reason with the marker");
        inc.change_severity(Severity::P1, "calmer", at(14, 58), "bob", &mut tl).expect("lower again");
        assert_eq!(inc.impact, "P1 (calmer; declared P2: Customer-facing errors)");

        let (mut inc, mut tl) = declared(Severity::P2);
        inc.impact = "30% of prediction requests fail".into();
        inc.change_severity(Severity::P0, "revenue", at(14, 40), "bob", &mut tl).expect("raise");
        assert_eq!(inc.impact, "30% of prediction requests fail");
    }

    #[test]
    fn emergency_contacts_appear_where_they_apply() {
        let policy = Policy::default();
        let (mut inc, _) = declared(Severity::P0);
        inc.title = "Complete Region Failure: us-west-2 unreachable".into();
        let roles: Vec<Role> = inc.emergency_contacts(&policy).iter().map(|s| s.role).collect();
        assert_eq!(roles, [Role::AwsSupport]);
        let intro = inc.channel_intro(&policy);
        assert!(intro.contains("Emergency contacts:\n- AWS Support (Enterprise): cloud infrastructure at P0/P1: +1-XXX-XXX-XXXX (Enterprise)"), "{intro}");
        // Customer-facing: customer success is a stakeholder, so it is paged.
        let paged: Vec<String> =
            inc.declaration_notifications(&policy).into_iter().map(|n| format!("{:?}", n.to)).collect();
        assert!(paged.iter().any(|p| p.contains("CustomerSuccess")), "{paged:?}");

        // A P2 about a dashboard, internal, nobody affected: no emergency contact, no section.
        let (mut inc, _) = declared(Severity::P2);
        inc.title = "Grafana dashboard slow".into();
        inc.components = vec!["grafana".into()];
        inc.customer_facing = false;
        inc.customers_affected = false;
        assert!(inc.emergency_contacts(&policy).is_empty());
        assert!(!inc.channel_intro(&policy).contains("Emergency contacts"));
        // A mention starts a word: "flaws" is not AWS.
        inc.title = "Flaws in the dashboard legend".into();
        assert!(inc.emergency_contacts(&policy).is_empty());
        // Slack itself failing brings Slack support whatever the severity; AWS needs P0/P1.
        inc.title = "Slack webhooks failing, EKS nodes fine".into();
        let roles: Vec<Role> = inc.emergency_contacts(&policy).iter().map(|s| s.role).collect();
        assert_eq!(roles, [Role::SlackSupport]);
    }

    #[test]
    fn declare_sets_defaults_and_timeline() {
        let (inc, tl) = declared(Severity::P1);
        assert_eq!(inc.commander, "alice");
        assert_eq!(inc.status, Status::Investigating);
        assert_eq!(inc.channel, "#incident-2026-11-26-1405");
        assert_eq!(inc.detected_at, at(13, 58));
        let types: Vec<_> = tl.events().iter().map(|e| e.kind.type_name()).collect();
        assert_eq!(types, ["detected", "declared", "commander_assigned"]);
        assert_eq!(tl.events()[0].at, at(13, 58));
        assert_eq!(tl.events()[0].actor, "prometheus");
        tl.verify().expect("valid chain");

        let mut req = request(Severity::P2);
        req.commander = Some("bob".into());
        req.detected_at = None;
        let (inc, tl) = Incident::declare(req, &Policy::default(), at(14, 5)).expect("declare");
        assert_eq!(inc.commander, "bob");
        assert_eq!(inc.detected_at, at(14, 5));
        assert_eq!(tl.events()[0].at, at(14, 5));
    }

    type Mutation = fn(&mut DeclareRequest);

    #[test]
    fn declare_rejects_bad_input() {
        let policy = Policy::default();
        let cases: Vec<(Mutation, &str)> = vec![
            (|r| r.id = " ".into(), "incident id must not be empty"),
            (|r| r.title = String::new(), "title must not be empty"),
            (|r| r.on_call = String::new(), "on_call must not be empty"),
            (|r| r.commander = Some(String::new()), "commander must not be empty"),
            (|r| r.components.push(" ".into()), "component name must not be empty"),
            (|r| r.detected_at = Some(at(14, 6)), "is after the declaration time"),
            (|r| r.started_at = Some(at(13, 59)), "started_at"),
        ];
        for (mutate, msg) in cases {
            let mut req = request(Severity::P1);
            mutate(&mut req);
            let err = Incident::declare(req, &policy, at(14, 5)).expect_err(msg);
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(err.message().contains(msg), "{err} !~ {msg}");
        }
    }

    #[test]
    fn channel_name_is_utc_and_crosses_midnight() {
        let before = Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).single().expect("t");
        assert_eq!(channel_name(before), "#incident-2026-12-31-2359");
        let after = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).single().expect("t");
        assert_eq!(channel_name(after), "#incident-2027-01-01-0000");
        // 20:30 on Jan 1 in New York (UTC-5) is 01:30 UTC on Jan 2.
        let ny = FixedOffset::west_opt(5 * 3600)
            .and_then(|o| o.with_ymd_and_hms(2027, 1, 1, 20, 30, 0).single())
            .expect("t");
        assert_eq!(channel_name(ny.with_timezone(&Utc)), "#incident-2027-01-02-0130");
        // 08:15 on Jan 2 in Tokyo (UTC+9) is 23:15 UTC on Jan 1.
        let tokyo = FixedOffset::east_opt(9 * 3600)
            .and_then(|o| o.with_ymd_and_hms(2027, 1, 2, 8, 15, 42).single())
            .expect("t");
        assert_eq!(channel_name(tokyo.with_timezone(&Utc)), "#incident-2027-01-01-2315");
    }

    #[test]
    fn ticket_exact() {
        let (mut inc, _) = declared(Severity::P1);
        assert_eq!(
            inc.ticket(),
            "Title: [P1] Inference API errors\nPriority: P1\nComponents: api, db\nImpact: 30% of prediction requests fail"
        );
        inc.components.clear();
        inc.impact.clear();
        assert_eq!(
            inc.ticket(),
            "Title: [P1] Inference API errors\nPriority: P1\nComponents: (none)\nImpact: (not yet assessed)"
        );
    }

    #[test]
    fn transition_table() {
        for from in Status::ALL {
            for to in Status::ALL {
                let (mut inc, mut tl) = declared(Severity::P1);
                inc.status = from;
                let before = tl.len();
                let res = inc.transition(to, at(14, 30), "alice", &mut tl);
                let legal = matches!(
                    (from, to),
                    (Status::Investigating, Status::Identified | Status::Monitoring | Status::Resolved)
                        | (Status::Identified, Status::Monitoring | Status::Resolved)
                        | (Status::Monitoring, Status::Identified | Status::Resolved)
                );
                assert_eq!(transition_allowed(from, to), legal, "{from} -> {to}");
                if legal {
                    res.expect("legal transition");
                    assert_eq!(inc.status, to);
                    assert!(tl.len() > before);
                } else {
                    let err = res.expect_err("illegal transition");
                    assert_eq!(err.kind(), ErrorKind::Conflict, "{from} -> {to}");
                    assert!(err.message().contains(&format!("{from} -> {to}")), "{err}");
                    assert_eq!(inc.status, from, "refused transition changed state");
                    assert_eq!(tl.len(), before, "refused transition wrote to the timeline");
                }
            }
        }
    }

    #[test]
    fn lifecycle_records_everything() {
        let (mut inc, mut tl) = declared(Severity::P1);
        inc.acknowledge(at(14, 7), "alice", &mut tl).expect("ack");
        assert_eq!(inc.acknowledge(at(14, 8), "bob", &mut tl).expect_err("twice").kind(), ErrorKind::Conflict);
        inc.transition(Status::Identified, at(14, 20), "alice", &mut tl).expect("identified");
        inc.change_severity(Severity::P0, "all regions down", at(14, 21), "alice", &mut tl).expect("raise");
        let err = inc.change_severity(Severity::P2, "  ", at(14, 22), "alice", &mut tl).expect_err("blank");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let err = inc.change_severity(Severity::P0, "again", at(14, 22), "alice", &mut tl).expect_err("same");
        assert_eq!(err.kind(), ErrorKind::Conflict);
        inc.hand_over("bob", at(14, 25), "alice", &mut tl).expect("handover");
        assert_eq!(inc.hand_over("bob", at(14, 26), "bob", &mut tl).expect_err("same").kind(), ErrorKind::Conflict);
        inc.transition(Status::Monitoring, at(14, 40), "bob", &mut tl).expect("monitoring");
        inc.transition(Status::Identified, at(14, 45), "bob", &mut tl).expect("fix failed");
        inc.transition(Status::Monitoring, at(14, 50), "bob", &mut tl).expect("monitoring again");
        inc.mark_mitigated(at(14, 50), "bob", &mut tl).expect("mitigated");
        assert_eq!(inc.mark_mitigated(at(14, 51), "bob", &mut tl).expect_err("twice").kind(), ErrorKind::Conflict);
        inc.resolve(at(15, 5), "bob", &mut tl).expect("resolve");
        assert_eq!(inc.resolved_at, Some(at(15, 5)));
        assert_eq!(inc.severity, Severity::P0);
        assert_eq!(inc.commander, "bob");

        for err in [
            inc.resolve(at(15, 6), "bob", &mut tl).expect_err("resolve twice"),
            inc.hand_over("carol", at(15, 6), "bob", &mut tl).expect_err("after resolve"),
            inc.change_severity(Severity::P1, "calmer", at(15, 6), "bob", &mut tl).expect_err("after resolve"),
        ] {
            assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
        }

        let kinds: Vec<_> = tl.events().iter().map(|e| e.kind.clone()).collect();
        assert!(kinds.contains(&EventKind::SeverityChanged {
            from: Severity::P1,
            to: Severity::P0,
            reason: "all regions down".into()
        }));
        assert!(
            kinds.contains(&EventKind::CommanderAssigned { commander: "bob".into(), previous: Some("alice".into()) })
        );
        assert_eq!(tl.last().map(|e| e.kind.clone()), Some(EventKind::Resolved));
        tl.verify().expect("valid chain");

        let m = inc.metrics();
        assert_eq!(m, tl.metrics(inc.started_at));
        assert_eq!(m.mttd.map(crate::HumanDuration::as_secs), Some(8 * 60));
        assert_eq!(m.mtta.map(crate::HumanDuration::as_secs), Some(9 * 60));
        assert_eq!(m.mttm.map(crate::HumanDuration::as_secs), Some(52 * 60));
        assert_eq!(m.mttr.map(crate::HumanDuration::as_secs), Some(67 * 60));
    }

    #[test]
    fn refuses_foreign_timeline_and_time_travel() {
        let (mut inc, _) = declared(Severity::P1);
        let mut other = Timeline::new("INC-2");
        let err = inc.acknowledge(at(14, 7), "alice", &mut other).expect_err("foreign");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let (mut inc, mut tl) = declared(Severity::P1);
        let err = inc.acknowledge(at(14, 0), "alice", &mut tl).expect_err("before declaration");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(inc.acknowledged_at, None);
    }

    #[test]
    fn stakeholder_routing_matrix() {
        let policy = Policy::default();
        for sev in Severity::ALL {
            for facing in [false, true] {
                for affected in [false, true] {
                    let got: Vec<Role> =
                        stakeholders_for(&policy, sev, facing, affected).iter().map(|s| s.role).collect();
                    let mut want = vec![Role::OnCallEngineer];
                    if sev >= Severity::P1 {
                        want.push(Role::EngineeringManager);
                    }
                    if facing {
                        want.push(Role::ProductManager);
                    }
                    if affected {
                        want.push(Role::CustomerSupport);
                    }
                    if sev == Severity::P0 {
                        want.push(Role::Cto);
                    }
                    if facing {
                        want.push(Role::CustomerSuccess);
                    }
                    assert_eq!(got, want, "{sev} facing={facing} affected={affected}");
                }
            }
        }
        let p0 = stakeholders_for(&policy, Severity::P0, true, true);
        let cto = p0.iter().find(|s| s.role == Role::Cto).expect("cto");
        assert_eq!(cto.contact.as_ref().map(|c| c.only_for.clone()), Some(vec![Severity::P0]));
        let pm = p0.iter().find(|s| s.role == Role::ProductManager).expect("pm");
        assert_eq!(pm.contact, None, "the runbook lists no product-manager contact");
    }

    #[test]
    fn contact_only_for_is_respected() {
        let mut policy = Policy::default();
        // A CTO rule for every severity still only finds the P0-only contact at P0.
        if let Some(rule) = policy.stakeholders.iter_mut().find(|r| r.role == Role::Cto) {
            rule.when.min_severity = None;
        }
        let p1 = stakeholders_for(&policy, Severity::P1, false, false);
        let cto = p1.iter().find(|s| s.role == Role::Cto).expect("cto rule holds");
        assert_eq!(cto.contact, None);
        let p0 = stakeholders_for(&policy, Severity::P0, false, false);
        assert!(p0.iter().any(|s| s.role == Role::Cto && s.contact.is_some()));
    }

    #[test]
    fn ticket_and_intro_values_cannot_add_lines() {
        let (mut inc, _) = declared(Severity::P3);
        inc.title = "disk full\nPriority: P0".into();
        inc.impact = "none\r\nImpact: everything".into();
        let ticket = inc.ticket();
        assert_eq!(ticket.lines().count(), 4, "{ticket}");
        assert_eq!(ticket.lines().filter(|l| l.starts_with("Priority:")).count(), 1, "{ticket}");
        let intro = inc.channel_intro(&Policy::default());
        assert_eq!(intro.lines().filter(|l| l.starts_with("Priority:")).count(), 1, "{intro}");
        for n in inc.declaration_notifications(&Policy::default()) {
            if n.kind == "page" {
                assert_eq!(n.text.lines().count(), 1, "{}", n.text);
            }
        }
    }

    #[test]
    fn channel_intro_snapshot() {
        let (inc, _) = declared(Severity::P0);
        insta::assert_snapshot!(inc.channel_intro(&Policy::default()));
    }

    #[test]
    fn serde_round_trip() {
        let (inc, _) = declared(Severity::P1);
        let json = serde_json::to_string(&inc).expect("serialize");
        assert_eq!(serde_json::from_str::<Incident>(&json).expect("deserialize"), inc);
        let req: DeclareRequest =
            serde_json::from_str(r#"{"id":"INC-9","title":"x","severity":"P2","on_call":"alice"}"#)
                .expect("minimal request");
        assert!(req.components.is_empty() && req.commander.is_none());
    }
}
