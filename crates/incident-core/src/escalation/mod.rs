//! Paging and escalation, as the runbook's severity table says: who is paged first and when (the
//! "Escalation" line), the acknowledgement deadline (the "Response Time" line), and who is paged next
//! each time that deadline passes unacknowledged (the policy's `escalation_chain`).
//!
//! * [`BusinessCalendar`]: business-time arithmetic over the policy's [`business_hours`](crate::policy::BusinessHours)
//!   (time zone, weekdays, hours, holidays), pure functions, correct across DST changes.
//! * [`status`]: the rules, a pure function of the policy, the incident, its timeline and `now`.
//! * [`EscalationDriver`]: sends the pages [`status`] says are due, through the notifier, each recorded on
//!   the timeline; `incident serve` runs it beside the [cadence driver](crate::cadence).
//!
//! # Rules
//!
//! For the incident's severity `S` (policy `severities.S`), the *levels* are: level 1 = `escalation`
//! (every role at once), then one level per `escalation_chain` entry. Defaults: P0 on-call + engineering
//! manager, then the CTO; P1 on-call, then the engineering manager, then the CTO; P2 and P3 on-call
//! (business hours), then the engineering manager.
//!
//! * **When level 1 is paged.** `escalation_window` `immediate` or `any_time`: at declaration (the
//!   declaration's own pages, [`Incident::declaration_notifications`]). `business_hours`: at the next
//!   business instant ([`BusinessCalendar::next_business_instant`]); declared inside business hours, that is
//!   at declaration too; declared Friday 18:00, Monday 09:00, paged by the driver.
//! * **The acknowledgement deadline** of a level is its page time plus `response_time`, counted in business
//!   time for `business_hours` severities ([`BusinessCalendar::add`]: a P2 paged Monday 09:00 is due 11:00;
//!   one declared Friday 17:00 is due Monday 10:00). When it passes unacknowledged, the next level is paged
//!   and gets its own deadline. The schedule is fixed by the policy, not by delivery: a page that fails
//!   does not hold back the next level (the driver keeps retrying it meanwhile).
//! * **After the last level**, nothing more is paged: the incident is reported as `exhausted` (and shown
//!   by `incident escalation`) until someone acknowledges it.
//! * **A severity change** (`severity_changed` event) restarts the clock under the new severity at the
//!   change time. Raised: the new severity's levels are paged afresh from level 1 (people already paged at
//!   the lower severity are paged again: the page now says P0). Lowered: nobody already paged is paged
//!   again for level 1; the chain continues from the new deadline.
//! * **Acknowledgement or resolution stops everything** (an `acknowledged`, `resolved` or
//!   `status_changed → resolved` event, or the incident record saying so).
//!
//! # What the timeline says
//!
//! Pages are `message_sent` events of kind `escalation_page:N` (to `page:<role>`, PagerDuty) and
//! `escalation_mention:N` (to the incident channel, a Slack mention of the roles), where `N` is the level
//! ([`page_kind`], [`mention_kind`]). The declaration's own `page` events count as level 1 when they page a
//! level-1 role before any severity change. A target is *paged* once one of its events succeeded; the
//! driver keeps no state of its own, so a restarted driver neither re-pages nor forgets.
//!
//! ```
//! use chrono::{TimeDelta, TimeZone, Utc};
//! use incident_core::escalation::{self, BusinessCalendar, EscalationState};
//! use incident_core::incident::{DeclareRequest, Incident};
//! use incident_core::policy::Role;
//! use incident_core::{Policy, Severity};
//!
//! let policy = Policy::default(); // business hours Monday–Friday 09:00–18:00 UTC
//! let calendar = BusinessCalendar::new(&policy.business_hours).unwrap();
//! let friday_17 = Utc.with_ymd_and_hms(2026, 12, 4, 17, 0, 0).unwrap();
//! let monday = |h| Utc.with_ymd_and_hms(2026, 12, 7, h, 0, 0).unwrap();
//! assert_eq!(calendar.add(friday_17, TimeDelta::hours(2)), monday(10)); // a P2's response time
//!
//! // A P2 declared Friday 18:00 pages the on-call engineer Monday 09:00, due 11:00.
//! let friday_18 = friday_17 + TimeDelta::hours(1);
//! let req = DeclareRequest {
//!     id: "INC-7".into(), title: "Slow batch scoring".into(), severity: Severity::P2,
//!     components: vec![], impact: String::new(), customer_facing: false, customers_affected: false,
//!     on_call: "alice".into(), commander: None, started_at: None, detected_at: None,
//!     detection_source: None,
//! };
//! let (incident, timeline) = Incident::declare(req, &policy, friday_18).unwrap();
//! let s = escalation::status(&policy, &incident, &timeline, friday_18).unwrap();
//! assert_eq!(s.state, EscalationState::Waiting);
//! let next = s.next.unwrap();
//! assert_eq!((next.level, next.roles, next.at), (1, vec![Role::OnCallEngineer], monday(9)));
//! assert_eq!(s.deadline, monday(11));
//! ```

mod driver;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::policy::calendar::{self, BusinessCalendar};
pub use driver::{EscalationDriver, EscalationOptions, EscalationReport, ExhaustedEscalation, PageAttempt};

use crate::backend::Destination;
use crate::delivery::destination_label;
use crate::incident::Incident;
use crate::policy::{EscalationWindow, Role};
use crate::timeline::{EventKind, Outcome, Timeline};
use crate::{HumanDuration, Policy, Result, Severity, Status, text};

/// The `kind` of a page of level `level` (`escalation_page:2`).
#[must_use]
pub fn page_kind(level: u32) -> String {
    format!("escalation_page:{level}")
}

/// The `kind` of the incident-channel mention of level `level` (`escalation_mention:2`).
#[must_use]
pub fn mention_kind(level: u32) -> String {
    format!("escalation_mention:{level}")
}

/// `(is_page, level)` of an escalation message kind; `None` for other kinds.
#[must_use]
pub fn parse_kind(kind: &str) -> Option<(bool, u32)> {
    let (prefix, level) = kind.split_once(':')?;
    let level = level.parse().ok().filter(|l| *l >= 1)?;
    match prefix {
        "escalation_page" => Some((true, level)),
        "escalation_mention" => Some((false, level)),
        _ => None,
    }
}

/// Whether a message `kind` pages (`page`, the declaration's stakeholder page, or `escalation_page:N`),
/// as opposed to the acknowledgement or resolution of a page sent before.
#[must_use]
pub fn is_page_kind(kind: &str) -> bool {
    kind == "page" || matches!(parse_kind(kind), Some((true, _)))
}

/// The roles this incident has paged successfully (any severity, any level), in role order: who must
/// hear that the incident was acknowledged or resolved, so their pager stops.
#[must_use]
pub fn paged_roles(timeline: &Timeline) -> Vec<Role> {
    let mut roles = BTreeSet::new();
    for ev in timeline.events() {
        if let EventKind::MessageSent { channel, kind, outcome: Outcome::Succeeded, .. } = &ev.kind {
            if is_page_kind(kind) {
                roles.extend(
                    ALL_ROLES.into_iter().find(|r| destination_label(&Destination::Page { role: *r }) == *channel),
                );
            }
        }
    }
    roles.into_iter().collect()
}

/// Where one escalation message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Target {
    /// A PagerDuty page of a role.
    Page {
        /// The role.
        role: Role,
    },
    /// A Slack mention of the level's roles in the incident channel.
    Mention,
}

/// An attempt read back from the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Attempt {
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// How it went.
    pub outcome: Outcome,
}

/// One target of one level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TargetStatus {
    /// Where it goes.
    pub target: Target,
    /// When it was first delivered.
    pub sent_at: Option<DateTime<Utc>>,
    /// The newest unsuccessful attempt, if not delivered yet.
    pub last_attempt: Option<Attempt>,
    /// The declaration sends this one ([`Incident::declaration_notifications`]); the driver only steps in
    /// when it failed or was never recorded.
    pub by_declaration: bool,
}

/// One escalation level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LevelStatus {
    /// 1 = the first pages.
    pub level: u32,
    /// Who is paged.
    pub roles: Vec<Role>,
    /// When it is (was) paged.
    pub due_at: DateTime<Utc>,
    /// When its response time ends: the next level is paged then if nobody acknowledged.
    pub acknowledge_by: DateTime<Utc>,
    /// Its pages and mention.
    pub targets: Vec<TargetStatus>,
}

impl LevelStatus {
    /// Every target delivered.
    #[must_use]
    pub fn is_sent(&self) -> bool {
        self.targets.iter().all(|t| t.sent_at.is_some())
    }
}

/// Where the escalation of an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EscalationState {
    /// The first pages wait for business hours.
    Waiting,
    /// Paged; waiting for an acknowledgement.
    Paging,
    /// Every level paged and the last one's response time passed: nobody left to page.
    Exhausted,
    /// Acknowledged: escalation stopped.
    Acknowledged,
    /// Resolved: escalation stopped.
    Resolved,
}

impl EscalationState {
    /// `waiting`, `paging`, `exhausted`, `acknowledged`, `resolved`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Paging => "paging",
            Self::Exhausted => "exhausted",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }

    /// Escalation still runs (waiting, paging or exhausted).
    #[must_use]
    pub const fn is_active(self) -> bool {
        matches!(self, Self::Waiting | Self::Paging | Self::Exhausted)
    }
}

/// The next level to be paged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NextPage {
    /// Its level.
    pub level: u32,
    /// Who.
    pub roles: Vec<Role>,
    /// When (if still unacknowledged).
    pub at: DateTime<Utc>,
}

/// What [`status`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EscalationStatus {
    /// Incident id.
    pub incident_id: String,
    /// The severity the schedule follows.
    pub severity: Severity,
    /// Its escalation window.
    pub window: EscalationWindow,
    /// Its response time (business time when `business_time`).
    pub response_time: HumanDuration,
    /// Whether the response time counts in business time.
    pub business_time: bool,
    /// When the schedule started: declaration or the last severity change.
    pub since: DateTime<Utc>,
    /// Where it stands.
    pub state: EscalationState,
    /// Levels due so far (0: none yet).
    pub level: u32,
    /// Acknowledge by: when the current level's response time ends (for `waiting`, level 1's).
    pub deadline: DateTime<Utc>,
    /// The next level, while there is one.
    pub next: Option<NextPage>,
    /// When it was acknowledged.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Every level with its schedule and what the timeline says was sent.
    pub levels: Vec<LevelStatus>,
}

impl EscalationStatus {
    /// Targets due at `now` and not delivered yet: `(level, target)`.
    #[must_use]
    pub fn undelivered(&self, now: DateTime<Utc>) -> Vec<(&LevelStatus, &TargetStatus)> {
        if !matches!(self.state, EscalationState::Paging | EscalationState::Exhausted) {
            return Vec::new();
        }
        self.levels
            .iter()
            .filter(|l| l.due_at <= now)
            .flat_map(|l| l.targets.iter().filter(|t| t.sent_at.is_none()).map(move |t| (l, t)))
            .collect()
    }
}

/// Per `(level, target)`: when first delivered, and the newest unsuccessful attempt.
type Records = BTreeMap<(u32, Target), (Option<DateTime<Utc>>, Option<Attempt>)>;

/// The current schedule's start, severity, and whether it began at declaration.
struct Epoch {
    since: DateTime<Utc>,
    severity: Severity,
    declaration: bool,
    /// Roles counted as already paged for level 1 (a lowered severity does not re-page them).
    carried: BTreeSet<Role>,
}

/// Where the escalation of `incident` stands at `now` (see the [module docs](self) for the rules).
///
/// # Errors
/// [`ErrorKind::Policy`](crate::ErrorKind::Policy) when the policy's business calendar is invalid.
pub fn status(
    policy: &Policy,
    incident: &Incident,
    timeline: &Timeline,
    now: DateTime<Utc>,
) -> Result<EscalationStatus> {
    let calendar = BusinessCalendar::new(&policy.business_hours)?;
    Ok(status_with(policy, &calendar, incident, timeline, now))
}

/// [`status`] with a calendar already built.
#[must_use]
pub fn status_with(
    policy: &Policy,
    calendar: &BusinessCalendar,
    incident: &Incident,
    timeline: &Timeline,
    now: DateTime<Utc>,
) -> EscalationStatus {
    let role_of =
        |channel: &str| ALL_ROLES.into_iter().find(|r| destination_label(&Destination::Page { role: *r }) == channel);
    let mut epoch =
        Epoch { since: incident.declared_at, severity: incident.severity, declaration: true, carried: BTreeSet::new() };
    let mut records: Records = BTreeMap::new();
    let mut paged_ever: BTreeSet<Role> = BTreeSet::new();
    let mut acknowledged_at = incident.acknowledged_at;
    let mut resolved = incident.status == Status::Resolved;
    for ev in timeline.events() {
        match &ev.kind {
            EventKind::Declared { severity, .. } => {
                epoch = Epoch { since: ev.at, severity: *severity, declaration: true, carried: BTreeSet::new() };
                records.clear();
            }
            EventKind::SeverityChanged { from, to, .. } => {
                let carried = if to > from { BTreeSet::new() } else { paged_ever.clone() };
                epoch = Epoch { since: ev.at, severity: *to, declaration: false, carried };
                records.clear();
            }
            EventKind::Acknowledged => {
                acknowledged_at.get_or_insert(ev.at);
            }
            EventKind::Resolved | EventKind::StatusChanged { to: Status::Resolved, .. } => resolved = true,
            EventKind::MessageSent { channel, kind, outcome, .. } => {
                let key = match parse_kind(kind) {
                    Some((true, level)) => role_of(channel).map(|role| (level, Target::Page { role })),
                    Some((false, level)) => Some((level, Target::Mention)),
                    None if kind == "page" && epoch.declaration => role_of(channel)
                        .filter(|r| policy.severities.get(epoch.severity).escalation.contains(r))
                        .map(|role| (1, Target::Page { role })),
                    None => None,
                };
                if *outcome == Outcome::Succeeded && is_page_kind(kind) {
                    if let Some(role) = role_of(channel) {
                        paged_ever.insert(role);
                    }
                }
                let Some(key) = key else { continue };
                let entry = records.entry(key).or_default();
                match outcome {
                    Outcome::Succeeded => {
                        entry.0.get_or_insert(ev.at);
                    }
                    _ if entry.0.is_none() => entry.1 = Some(Attempt { at: ev.at, outcome: *outcome }),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    // The incident record is the truth for the current severity (a change recorded elsewhere).
    if epoch.severity != incident.severity {
        epoch.severity = incident.severity;
    }
    schedule(policy, calendar, incident, &epoch, &records, acknowledged_at, resolved, now)
}

#[allow(clippy::too_many_arguments)]
fn schedule(
    policy: &Policy,
    calendar: &BusinessCalendar,
    incident: &Incident,
    epoch: &Epoch,
    records: &Records,
    acknowledged_at: Option<DateTime<Utc>>,
    resolved: bool,
    now: DateTime<Utc>,
) -> EscalationStatus {
    let sp = policy.severities.get(epoch.severity);
    let business_time = sp.escalation_window == EscalationWindow::BusinessHours;
    let response = sp.response_time.as_delta();
    let step = |t: DateTime<Utc>| if business_time { calendar.add(t, response) } else { t + response };
    let first = if business_time { calendar.next_business_instant(epoch.since) } else { epoch.since };
    let levels_roles = policy.escalation_levels(epoch.severity);
    let mut times = vec![first];
    for _ in 1..=levels_roles.len() {
        let last = times[times.len() - 1];
        times.push(step(last));
    }
    let declaration_pages = epoch.declaration && policy.pages_at_declaration(epoch.severity, incident.declared_at);
    let mut levels = Vec::with_capacity(levels_roles.len());
    for (i, roles) in levels_roles.iter().enumerate() {
        let level = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let by_declaration = level == 1 && declaration_pages;
        let mut targets: Vec<TargetStatus> = roles
            .iter()
            .map(|role| {
                let target = Target::Page { role: *role };
                let (sent_at, last_attempt) = records.get(&(level, target)).copied().unwrap_or_default();
                let sent_at = sent_at.or_else(|| (level == 1 && epoch.carried.contains(role)).then_some(epoch.since));
                TargetStatus {
                    target,
                    sent_at,
                    last_attempt: last_attempt.filter(|_| sent_at.is_none()),
                    by_declaration,
                }
            })
            .collect();
        // The declaration's own pages come with the channel intro, which names everyone: no mention.
        let carried_all = level == 1 && roles.iter().all(|r| epoch.carried.contains(r));
        if !by_declaration && !carried_all {
            let (sent_at, last_attempt) = records.get(&(level, Target::Mention)).copied().unwrap_or_default();
            targets.push(TargetStatus {
                target: Target::Mention,
                sent_at,
                last_attempt: last_attempt.filter(|_| sent_at.is_none()),
                by_declaration: false,
            });
        }
        levels.push(LevelStatus {
            level,
            roles: roles.clone(),
            due_at: times[i],
            acknowledge_by: times[i + 1],
            targets,
        });
    }
    let due = times[..levels.len()].iter().filter(|t| **t <= now).count();
    let level = u32::try_from(due).unwrap_or(u32::MAX);
    let after_last = times[times.len() - 1];
    let state = if resolved {
        EscalationState::Resolved
    } else if acknowledged_at.is_some() {
        EscalationState::Acknowledged
    } else if now < first {
        EscalationState::Waiting
    } else if now >= after_last {
        EscalationState::Exhausted
    } else {
        EscalationState::Paging
    };
    let next = levels.get(due).map(|l| NextPage { level: l.level, roles: l.roles.clone(), at: l.due_at });
    EscalationStatus {
        incident_id: incident.id.clone(),
        severity: epoch.severity,
        window: sp.escalation_window,
        response_time: sp.response_time,
        business_time,
        since: epoch.since,
        state,
        level,
        deadline: times[due.clamp(1, times.len() - 1)],
        next,
        acknowledged_at,
        levels,
    }
}

/// Every role, for reading `page:<role>` channels back.
const ALL_ROLES: [Role; 10] = [
    Role::OnCallEngineer,
    Role::EngineeringManager,
    Role::ProductManager,
    Role::CustomerSupport,
    Role::Cto,
    Role::SupportTeamLead,
    Role::CustomerSuccess,
    Role::AwsSupport,
    Role::PagerdutySupport,
    Role::SlackSupport,
];

impl EscalationStatus {
    /// The status as people read it (what `incident escalation ID` prints), at `now`.
    #[must_use]
    pub fn to_text(&self, policy: &Policy, now: DateTime<Utc>) -> String {
        use std::fmt::Write as _;
        let when = |t: DateTime<Utc>| {
            let d = t - now;
            let rel = if d > TimeDelta::zero() {
                format!("in {}", HumanDuration::from_secs(d.num_seconds().unsigned_abs()))
            } else if d < TimeDelta::zero() {
                format!("{} ago", HumanDuration::from_secs(d.num_seconds().unsigned_abs()))
            } else {
                "now".to_owned()
            };
            format!("{} ({rel})", crate::clock::format_utc(t))
        };
        let roles = |r: &[Role]| r.iter().map(|r| r.title()).collect::<Vec<_>>().join(" + ");
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}: [{}] escalation {} — response time {}, first pages {}",
            text::neutralise(&self.incident_id),
            self.severity,
            self.state.as_str(),
            describe_response(self),
            self.window.phrase()
        );
        if self.business_time {
            let b = &policy.business_hours;
            let _ = writeln!(s, "Business hours: {}–{} {}", b.start, b.end, b.timezone);
        }
        let _ = writeln!(s, "Since: {}", crate::clock::format_utc(self.since));
        match self.state {
            EscalationState::Acknowledged => {
                let at = self.acknowledged_at.map_or_else(|| "(time unknown)".to_owned(), crate::clock::format_utc);
                let _ = writeln!(s, "Acknowledged: {at}; nobody else will be paged");
            }
            EscalationState::Resolved => {
                let _ = writeln!(s, "Resolved: nobody else will be paged");
            }
            EscalationState::Exhausted => {
                let _ = writeln!(
                    s,
                    "Unacknowledged past the last level (deadline {}): nobody left to page",
                    when(self.deadline)
                );
            }
            EscalationState::Waiting | EscalationState::Paging => {
                let _ = writeln!(s, "Acknowledge by: {}", when(self.deadline));
                if let Some(n) = &self.next {
                    let _ = writeln!(s, "Next page: level {} ({}) at {}", n.level, roles(&n.roles), when(n.at));
                }
            }
        }
        let _ = writeln!(s, "Levels:");
        for l in &self.levels {
            let paged = if l.due_at > now {
                "not yet due".to_owned()
            } else {
                l.targets
                    .iter()
                    .map(|t| {
                        let what = match t.target {
                            Target::Page { role } => role.title().to_owned(),
                            Target::Mention => "channel mention".to_owned(),
                        };
                        match (t.sent_at, t.last_attempt) {
                            (Some(at), _) => format!("{what} sent {}", crate::clock::format_utc(at)),
                            (None, Some(a)) => format!("{what} {} {}", a.outcome, crate::clock::format_utc(a.at)),
                            (None, None) if t.by_declaration => format!("{what} with the declaration"),
                            (None, None) => format!("{what} pending"),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let _ = writeln!(
                s,
                "- {}. {} — due {}, acknowledge by {}: {paged}",
                l.level,
                roles(&l.roles),
                crate::clock::format_utc(l.due_at),
                crate::clock::format_utc(l.acknowledge_by)
            );
        }
        s
    }
}

/// The response time as people read it, with `business time` when it counts so.
#[must_use]
pub fn describe_response(status: &EscalationStatus) -> String {
    if status.business_time {
        format!("{} of business time", status.response_time)
    } else {
        status.response_time.to_string()
    }
}

/// How late `status`'s deadline is at `now` (zero when not yet due).
#[must_use]
pub fn late_by(status: &EscalationStatus, now: DateTime<Utc>) -> TimeDelta {
    (now - status.deadline).max(TimeDelta::zero())
}

#[cfg(test)]
mod tests;
