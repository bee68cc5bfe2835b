//! The runbook as data. [`Policy::default()`] encodes `runbook.md` exactly; files in TOML, YAML or JSON
//! override any part of it (see [`Policy::from_path`] and friends in [`load`]).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{HumanDuration, Severity};

pub mod calendar;
pub mod declaration;
mod evidence;
pub mod guard;
pub mod ingest;
pub mod load;
pub mod matching;
mod post_incident;
pub mod receiver;

pub use calendar::BusinessCalendar;
pub use declaration::DeclarationRule;
pub use evidence::EvidencePolicy;
pub use guard::GuardRails;
pub use ingest::IngestPolicy;
pub use load::PolicyFormat;
pub use matching::MatchingPolicy;
pub use post_incident::PostIncidentPolicy;
pub use receiver::{ReceiverPolicy, ReceiverSnsPolicy};

/// The drill schedule and checklist types live with the rest of runbook "Testing and Validation" in
/// [`crate::drills`]; the policy holds them and re-exports them here.
pub use crate::drills::{ChecklistId, ChecklistItem, ChecklistTargets, DrillKind, DrillPolicy, DrillSlot};

/// Deprecated procedure names still accepted on input (CLI, scenario files, policy `stage_budgets` keys and
/// `guard_rails.scale_to_zero_procedures` entries), and the name each now stands for.
///
/// * `regional-failover` → `region-failure`: the runbook section is "Complete Region Failure", and the
///   scenario, procedure, module and builder are all named for it. The *monthly drill* keeps its runbook
///   name ("Third Friday: Regional failover drill", [`DrillKind::RegionalFailover`]).
pub const DEPRECATED_PROCEDURE_NAMES: [(&str, &str); 1] = [("regional-failover", "region-failure")];

/// The current name of procedure `name`: itself, or what a deprecated alias
/// ([`DEPRECATED_PROCEDURE_NAMES`]) stands for.
#[must_use]
pub fn canonical_procedure_name(name: &str) -> &str {
    DEPRECATED_PROCEDURE_NAMES.iter().find(|(old, _)| *old == name).map_or(name, |(_, new)| new)
}

/// Events a timeline accepts unless told otherwise (the default of `limits.max_events_per_incident`).
pub const DEFAULT_MAX_EVENTS: u32 = 100_000;

/// Values kept per severity (`P0` … `P3` keys in files).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PerSeverity<T> {
    /// Critical.
    #[serde(rename = "P0")]
    pub p0: T,
    /// High.
    #[serde(rename = "P1")]
    pub p1: T,
    /// Medium.
    #[serde(rename = "P2")]
    pub p2: T,
    /// Low.
    #[serde(rename = "P3")]
    pub p3: T,
}

impl<T> PerSeverity<T> {
    /// The value for `severity`.
    pub fn get(&self, severity: Severity) -> &T {
        match severity {
            Severity::P0 => &self.p0,
            Severity::P1 => &self.p1,
            Severity::P2 => &self.p2,
            Severity::P3 => &self.p3,
        }
    }

    /// `(severity, value)` pairs, most severe first.
    pub fn iter(&self) -> impl Iterator<Item = (Severity, &T)> {
        Severity::ALL.into_iter().map(move |s| (s, self.get(s)))
    }
}

/// The complete incident-response policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Per-severity response time, escalation and criteria.
    pub severities: PerSeverity<SeverityPolicy>,
    /// The business calendar: when `business_hours` severities page, and how their response time counts
    /// (see [`crate::escalation`]).
    pub business_hours: BusinessHours,
    /// When to declare an incident (runbook "When to Declare an Incident").
    pub declaration: DeclarationPolicy,
    /// Internal update cadence and the status-page deadline.
    pub cadence: CadencePolicy,
    /// Who is notified (runbook "Notify Stakeholders").
    pub stakeholders: Vec<StakeholderRule>,
    /// Role → how to reach them (runbook "Emergency Contacts").
    pub contacts: Vec<Contact>,
    /// Whose contact the incident channel lists, to call rather than page (runbook "Emergency
    /// Contacts": external services, customer communication), and when.
    pub emergency_contacts: Vec<EmergencyContactRule>,
    /// Conference bridge announced in the channel.
    pub bridge: Option<String>,
    /// Dashboards, docs and consoles to link from channel and ticket (runbook "Tools and Resources").
    pub resources: Vec<Resource>,
    /// Monthly drill schedule (runbook "Monthly Drills").
    pub drills: DrillPolicy,
    /// The validation checklist (runbook "Validation Checklist").
    pub validation_checklist: Vec<ChecklistItem>,
    /// Where the checks that prove the validation checklist look (services, datastores, authentication,
    /// workflows, monitoring, backups): `incident drills checklist --run`.
    pub checklist_targets: ChecklistTargets,
    /// How alert payloads map onto observations and impact facts.
    pub ingest: IngestPolicy,
    /// Guard rails the executor enforces.
    pub guard_rails: GuardRails,
    /// Stage budgets per procedure: procedure name → stage name → budget.
    pub stage_budgets: BTreeMap<String, BTreeMap<String, HumanDuration>>,
    /// Retry, backoff and deadlines for procedure steps.
    pub retry: RetryPolicy,
    /// Resource bounds on inputs and stored data.
    pub limits: Limits,
    /// The runbook's "Data Integrity Checks": named read-only SQL returning one number with an expected
    /// range, run by the PostgreSQL probe during triage and after recovery.
    pub integrity_checks: Vec<IntegrityCheck>,
    /// Whose signatures plans and evidence manifests must carry.
    pub signing: SigningPolicy,
    /// The alert receiver's connection timeouts and cap, and its SNS trust rules (`incident serve`).
    pub receiver: ReceiverPolicy,
    /// The runbook's "Post-Incident Activities": their deadline after resolution and the post-mortem
    /// meeting slot (see [`crate::postincident`]).
    pub post_incident: PostIncidentPolicy,
    /// Bounds of the evidence captured for real incidents (see [`crate::evidence`]).
    pub evidence: EvidencePolicy,
    /// Which runbook procedure fits an incident, and with which parameters (see [`crate::matching`]).
    pub matching: MatchingPolicy,
}

/// Signatures required on plans before they run and on evidence manifests before they verify.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SigningPolicy {
    /// Public keys (`ed25519:BASE64`) whose signatures are accepted. Not empty: an unsigned or badly
    /// signed plan is refused, and so is an evidence manifest. Empty: signatures are checked only when a
    /// signing key is given (`--signing-key`).
    pub trusted_keys: Vec<crate::signing::PublicKey>,
}

impl SigningPolicy {
    /// The keys to accept: the policy's, plus `key`'s public half when one is given.
    #[must_use]
    pub fn trust(&self, key: Option<&crate::signing::SigningKey>) -> crate::signing::Trust {
        let trust = crate::signing::Trust::new(self.trusted_keys.iter().copied());
        match key {
            Some(k) => trust.with(k.public_key()),
            None => trust,
        }
    }
}

/// A named data-integrity check: one `SELECT` returning one number, expected within `[min, max]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrityCheck {
    /// Name shown in reports (`recent_transactions`).
    pub name: String,
    /// The query (read-only: the probe runs it in a `READ ONLY` transaction with a statement timeout).
    pub sql: String,
    /// Smallest acceptable value, inclusive.
    #[serde(default)]
    pub min: Option<f64>,
    /// Largest acceptable value, inclusive.
    #[serde(default)]
    pub max: Option<f64>,
}

impl IntegrityCheck {
    /// A check named `name` running `sql`, with no bounds yet.
    pub fn new(name: impl Into<String>, sql: impl Into<String>) -> Self {
        Self { name: name.into(), sql: sql.into(), min: None, max: None }
    }

    /// Require at least `min`.
    #[must_use]
    pub fn min(mut self, min: f64) -> Self {
        self.min = Some(min);
        self
    }

    /// Require at most `max`.
    #[must_use]
    pub fn max(mut self, max: f64) -> Self {
        self.max = Some(max);
        self
    }

    /// `expected 1..=2`, `expected >= 1`, `expected <= 0` or `no bounds`.
    #[must_use]
    pub fn range_text(&self) -> String {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => format!("expected {lo}..={hi}"),
            (Some(lo), None) => format!("expected >= {lo}"),
            (None, Some(hi)) => format!("expected <= {hi}"),
            (None, None) => "no bounds".to_owned(),
        }
    }
}

/// One severity level's rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeverityPolicy {
    /// How soon responders must engage.
    pub response_time: HumanDuration,
    /// Who is paged first (the runbook's "Escalation" line), all at once.
    pub escalation: Vec<Role>,
    /// When the first pages go out: `immediate` and `any_time` at declaration, `business_hours` at the
    /// next business instant (and the response time then counts in business time).
    pub escalation_window: EscalationWindow,
    /// Who is paged next, one role per level, each time the response time passes unacknowledged
    /// (level 2, 3, ... after the first pages). Empty: nobody after the first pages.
    #[serde(default)]
    pub escalation_chain: Vec<Role>,
    /// The runbook's criteria for the level, for explanations and tickets.
    #[serde(default)]
    pub criteria: Vec<String>,
}

/// The business calendar (`business_hours` in policy files): an IANA time zone, the working weekdays,
/// the local working hours and the holidays. Defaults: UTC, Monday to Friday, 09:00–18:00, no holidays.
///
/// ```toml
/// [business_hours]
/// timezone = "Europe/Berlin"
/// weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday"]
/// start = "09:00"
/// end = "18:00"
/// holidays = ["2026-12-24", "2026-12-25"]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BusinessHours {
    /// IANA time zone name (`Europe/Berlin`, `America/New_York`, `UTC`).
    pub timezone: String,
    /// Working weekdays (not empty).
    pub weekdays: Vec<Weekday>,
    /// Local start of the working day, `HH:MM` (24-hour).
    #[schemars(with = "String")]
    pub start: LocalTime,
    /// Local end of the working day, `HH:MM`, after `start` (the working day never spans midnight).
    #[schemars(with = "String")]
    pub end: LocalTime,
    /// Local dates that are not working days (`2026-12-25`).
    pub holidays: Vec<chrono::NaiveDate>,
}

impl Default for BusinessHours {
    fn default() -> Self {
        Self {
            timezone: "UTC".into(),
            weekdays: vec![Weekday::Monday, Weekday::Tuesday, Weekday::Wednesday, Weekday::Thursday, Weekday::Friday],
            start: LocalTime::hm(9, 0),
            end: LocalTime::hm(18, 0),
            holidays: Vec::new(),
        }
    }
}

impl BusinessHours {
    /// The time zone.
    ///
    /// # Errors
    /// [`ErrorKind::Policy`](crate::ErrorKind::Policy) naming `business_hours.timezone` when it is not an
    /// IANA time zone name.
    pub fn tz(&self) -> crate::Result<chrono_tz::Tz> {
        self.timezone.trim().parse::<chrono_tz::Tz>().map_err(|_| {
            crate::Error::policy(format!(
                "policy field `business_hours.timezone`: {:?} is not an IANA time zone (e.g. Europe/Berlin, \
                 America/New_York, UTC)",
                self.timezone
            ))
        })
    }
}

/// A day of the week, as policy files write it (`monday` … `sunday`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

impl From<Weekday> for chrono::Weekday {
    fn from(d: Weekday) -> Self {
        match d {
            Weekday::Monday => Self::Mon,
            Weekday::Tuesday => Self::Tue,
            Weekday::Wednesday => Self::Wed,
            Weekday::Thursday => Self::Thu,
            Weekday::Friday => Self::Fri,
            Weekday::Saturday => Self::Sat,
            Weekday::Sunday => Self::Sun,
        }
    }
}

/// A local wall-clock time of day, `HH:MM` (24-hour) in policy files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LocalTime(chrono::NaiveTime);

impl LocalTime {
    /// `hour:minute`; out-of-range values clamp to 23:59.
    #[must_use]
    pub fn hm(hour: u32, minute: u32) -> Self {
        Self(chrono::NaiveTime::from_hms_opt(hour.min(23), minute.min(59), 0).unwrap_or(chrono::NaiveTime::MIN))
    }

    /// The time of day.
    #[must_use]
    pub const fn time(self) -> chrono::NaiveTime {
        self.0
    }
}

impl TryFrom<String> for LocalTime {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        chrono::NaiveTime::parse_from_str(s.trim(), "%H:%M")
            .map(Self)
            .map_err(|_| format!("{s:?} is not a time of day HH:MM (24-hour, e.g. 09:00)"))
    }
}

impl From<LocalTime> for String {
    fn from(t: LocalTime) -> Self {
        t.to_string()
    }
}

impl std::fmt::Display for LocalTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.format("%H:%M"))
    }
}

/// When escalation pages people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EscalationWindow {
    /// Immediately, at any hour.
    Immediate,
    /// At any hour, at the response time.
    AnyTime,
    /// During business hours only.
    BusinessHours,
}

impl EscalationWindow {
    /// The runbook's words: `immediately`, `any time`, `business hours` (also the `Display` form).
    #[must_use]
    pub const fn words(self) -> &'static str {
        match self {
            Self::Immediate => "immediately",
            Self::AnyTime => "any time",
            Self::BusinessHours => "business hours",
        }
    }

    /// As an adverbial phrase for a sentence ("escalate *during business hours*"): `immediately`,
    /// `at any time`, `during business hours`.
    #[must_use]
    pub const fn phrase(self) -> &'static str {
        match self {
            Self::Immediate => "immediately",
            Self::AnyTime => "at any time",
            Self::BusinessHours => "during business hours",
        }
    }
}

impl std::fmt::Display for EscalationWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.words())
    }
}

/// A responder role from the runbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// SRE / engineering on-call (incident commander by default).
    OnCallEngineer,
    /// Engineering manager.
    EngineeringManager,
    /// Product manager.
    ProductManager,
    /// Customer support.
    CustomerSupport,
    /// CTO (P0 only).
    Cto,
    /// Support team lead.
    SupportTeamLead,
    /// Customer success.
    CustomerSuccess,
    /// AWS support (enterprise).
    AwsSupport,
    /// PagerDuty support.
    PagerdutySupport,
    /// Slack support.
    SlackSupport,
}

impl Role {
    /// Human name, as in the runbook.
    #[must_use]
    pub const fn title(self) -> &'static str {
        match self {
            Self::OnCallEngineer => "Engineering on-call",
            Self::EngineeringManager => "Engineering manager",
            Self::ProductManager => "Product manager",
            Self::CustomerSupport => "Customer support",
            Self::Cto => "CTO",
            Self::SupportTeamLead => "Support Team Lead",
            Self::CustomerSuccess => "Customer Success",
            Self::AwsSupport => "AWS Support",
            Self::PagerdutySupport => "PagerDuty Support",
            Self::SlackSupport => "Slack Support",
        }
    }
}

impl Role {
    /// The name policy files use (`on_call_engineer`, `cto`), as serialized.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OnCallEngineer => "on_call_engineer",
            Self::EngineeringManager => "engineering_manager",
            Self::ProductManager => "product_manager",
            Self::CustomerSupport => "customer_support",
            Self::Cto => "cto",
            Self::SupportTeamLead => "support_team_lead",
            Self::CustomerSuccess => "customer_success",
            Self::AwsSupport => "aws_support",
            Self::PagerdutySupport => "pagerduty_support",
            Self::SlackSupport => "slack_support",
        }
    }
}

/// The runbook's name ([`Role::title`]), never the Rust name.
impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.title())
    }
}

/// The runbook's declaration thresholds and sustained windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DeclarationPolicy {
    /// Declare when a service is unavailable for longer than this (runbook: > 5 min).
    pub unavailable_for: HumanDuration,
    /// Error-rate threshold as a fraction (runbook: 5 % = 0.05); strictly greater declares.
    pub error_rate_threshold: f64,
    /// How long the error rate must stay above the threshold (runbook: > 5 min).
    pub error_rate_for: HumanDuration,
    /// Latency degradation against baseline as a fraction (runbook: 50 % = 0.5); strictly greater.
    pub latency_degradation_threshold: f64,
    /// How long degradation must last (runbook: > 10 min).
    pub latency_degradation_for: HumanDuration,
    /// Declare at once on a data-integrity signal.
    pub declare_on_data_integrity: bool,
    /// Declare at once on a security signal.
    pub declare_on_security: bool,
    /// Two samples further apart than this break a sustained window (a gap is not evidence).
    pub max_sample_gap: HumanDuration,
}

impl Default for DeclarationPolicy {
    fn default() -> Self {
        Self {
            unavailable_for: HumanDuration::from_mins(5),
            error_rate_threshold: 0.05,
            error_rate_for: HumanDuration::from_mins(5),
            latency_degradation_threshold: 0.5,
            latency_degradation_for: HumanDuration::from_mins(10),
            declare_on_data_integrity: true,
            declare_on_security: true,
            max_sample_gap: HumanDuration::from_mins(2),
        }
    }
}

/// Communication cadence (runbook "Communication During Incident").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CadencePolicy {
    /// Internal update interval per severity; `null` means no fixed cadence (P3).
    pub internal_update: PerSeverity<Option<HumanDuration>>,
    /// The first status-page update is due this long after declaration (runbook: within 15 minutes).
    pub status_page_within: HumanDuration,
    /// Severities that get status-page updates at all.
    pub status_page_for: Vec<Severity>,
}

impl Default for CadencePolicy {
    fn default() -> Self {
        Self {
            internal_update: PerSeverity {
                p0: Some(HumanDuration::from_mins(15)),
                p1: Some(HumanDuration::from_mins(30)),
                p2: Some(HumanDuration::from_mins(60)),
                p3: None,
            },
            status_page_within: HumanDuration::from_mins(15),
            status_page_for: vec![Severity::P0, Severity::P1, Severity::P2],
        }
    }
}

/// "Notify `role` when `when` holds."
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StakeholderRule {
    /// Who.
    pub role: Role,
    /// When (all set conditions must hold; an empty condition always holds).
    #[serde(default)]
    pub when: StakeholderCondition,
    /// Why, in the runbook's words.
    #[serde(default)]
    pub reason: String,
}

/// "List `role`'s contact in the incident channel when `when` holds and the incident mentions one of
/// `mentions`" (runbook "Emergency Contacts": the external services and customer communication are
/// called when they apply, not paged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmergencyContactRule {
    /// Who.
    pub role: Role,
    /// When (all set conditions must hold; an empty condition always holds).
    #[serde(default)]
    pub when: StakeholderCondition,
    /// Words of which at least one must start a word (any case) of the incident's title or components
    /// (`region` matches "regional"); empty: no such condition.
    #[serde(default)]
    pub mentions: Vec<String>,
    /// Why, in the runbook's words.
    #[serde(default)]
    pub reason: String,
}

/// Conditions of a [`StakeholderRule`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct StakeholderCondition {
    /// Only at this severity or worse.
    pub min_severity: Option<Severity>,
    /// Only when the issue is customer-facing.
    pub customer_facing: Option<bool>,
    /// Only when customers are affected.
    pub customers_affected: Option<bool>,
}

/// How to reach a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// The role.
    pub role: Role,
    /// Phone number (placeholder in the runbook).
    #[serde(default)]
    pub phone: Option<String>,
    /// Through which service (e.g. "PagerDuty", "Enterprise").
    #[serde(default)]
    pub via: Option<String>,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Slack handle or group.
    #[serde(default)]
    pub slack: Option<String>,
    /// Only for these severities (empty = all), e.g. the CTO for P0 only.
    #[serde(default)]
    pub only_for: Vec<Severity>,
}

/// A named link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// Display name.
    pub name: String,
    /// URL.
    pub url: String,
    /// Grouping from the runbook ("monitoring", "documentation", "emergency").
    #[serde(default)]
    pub category: String,
}

impl crate::drills::ValidationChecklist {
    /// All of `policy.validation_checklist`, unchecked. (Defined here, with the policy, because
    /// [`crate::drills`] sits below `policy` in the crate's layers.)
    #[must_use]
    pub fn from_policy(policy: &Policy) -> Self {
        Self::new(&policy.validation_checklist)
    }
}

/// Retry, backoff and deadlines for procedure steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Attempts per step including the first (>= 1).
    pub max_attempts: u32,
    /// First backoff.
    pub initial_backoff: HumanDuration,
    /// Backoff cap.
    pub max_backoff: HumanDuration,
    /// Default deadline of one step.
    pub step_deadline: HumanDuration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: HumanDuration::from_secs(1),
            max_backoff: HumanDuration::from_secs(30),
            step_deadline: HumanDuration::from_mins(10),
        }
    }
}

/// Resource bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest accepted alert payload, bytes.
    pub max_payload_bytes: u64,
    /// Largest number of alerts in one payload.
    pub max_alerts_per_payload: u32,
    /// Largest number of timeline events per incident.
    pub max_events_per_incident: u32,
    /// Concurrent backend calls during triage and log scans.
    pub max_concurrency: u32,
    /// Log lines read per pod in a scan.
    pub max_log_lines: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_payload_bytes: 1024 * 1024,
            max_alerts_per_payload: 10_000,
            max_events_per_incident: DEFAULT_MAX_EVENTS,
            max_concurrency: 16,
            max_log_lines: 500,
        }
    }
}

fn mins(m: u64) -> HumanDuration {
    HumanDuration::from_mins(m)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn contact(role: Role, phone: Option<&str>, via: Option<&str>, email: Option<&str>, only_for: &[Severity]) -> Contact {
    Contact {
        role,
        phone: phone.map(str::to_owned),
        via: via.map(str::to_owned),
        email: email.map(str::to_owned),
        slack: None,
        only_for: only_for.to_vec(),
    }
}

fn resource(category: &str, name: &str, url: &str) -> Resource {
    Resource { name: name.into(), url: url.into(), category: category.into() }
}

const PHONE: &str = "+1-XXX-XXX-XXXX";

impl Default for Policy {
    fn default() -> Self {
        let severities = PerSeverity {
            p0: SeverityPolicy {
                response_time: mins(15),
                escalation: vec![Role::OnCallEngineer, Role::EngineeringManager],
                escalation_window: EscalationWindow::Immediate,
                escalation_chain: vec![Role::Cto],
                criteria: strings(&[
                    "Complete service outage",
                    "Data loss or corruption",
                    "Security breach",
                    "Revenue-impacting issues",
                ]),
            },
            p1: SeverityPolicy {
                response_time: mins(30),
                escalation: vec![Role::OnCallEngineer],
                escalation_window: EscalationWindow::AnyTime,
                escalation_chain: vec![Role::EngineeringManager, Role::Cto],
                criteria: strings(&[
                    "Partial service outage",
                    "Performance degradation >50%",
                    "Key feature unavailable",
                    "Customer-facing errors",
                ]),
            },
            p2: SeverityPolicy {
                response_time: HumanDuration::from_hours(2),
                escalation: vec![Role::OnCallEngineer],
                escalation_window: EscalationWindow::BusinessHours,
                escalation_chain: vec![Role::EngineeringManager],
                criteria: strings(&[
                    "Minor feature issues",
                    "Performance degradation <50%",
                    "Non-customer-facing errors",
                ]),
            },
            p3: SeverityPolicy {
                response_time: HumanDuration::from_hours(24),
                escalation: vec![Role::OnCallEngineer],
                escalation_window: EscalationWindow::BusinessHours,
                escalation_chain: vec![Role::EngineeringManager],
                criteria: strings(&["Cosmetic issues", "Documentation problems", "Non-urgent improvements"]),
            },
        };
        let stakeholders = vec![
            StakeholderRule {
                role: Role::OnCallEngineer,
                when: StakeholderCondition::default(),
                reason: "Engineering on-call".into(),
            },
            StakeholderRule {
                role: Role::EngineeringManager,
                when: StakeholderCondition { min_severity: Some(Severity::P1), ..Default::default() },
                reason: "Engineering manager (P0/P1 only)".into(),
            },
            StakeholderRule {
                role: Role::ProductManager,
                when: StakeholderCondition { customer_facing: Some(true), ..Default::default() },
                reason: "Product manager (customer-facing issues)".into(),
            },
            StakeholderRule {
                role: Role::CustomerSupport,
                when: StakeholderCondition { customers_affected: Some(true), ..Default::default() },
                reason: "Customer support (if customers affected)".into(),
            },
            StakeholderRule {
                role: Role::Cto,
                when: StakeholderCondition { min_severity: Some(Severity::P0), ..Default::default() },
                reason: "CTO (P0 only)".into(),
            },
            StakeholderRule {
                role: Role::CustomerSuccess,
                when: StakeholderCondition { customer_facing: Some(true), ..Default::default() },
                reason: "Customer Success (customer-facing issues)".into(),
            },
        ];
        let cloud = ["region", "aws", "rds", "route53", "eks", "ec2", "database", "failover"];
        let emergency_contacts = vec![
            EmergencyContactRule {
                role: Role::AwsSupport,
                when: StakeholderCondition { min_severity: Some(Severity::P1), ..Default::default() },
                mentions: strings(&cloud),
                reason: "AWS Support (Enterprise): cloud infrastructure at P0/P1".into(),
            },
            EmergencyContactRule {
                role: Role::PagerdutySupport,
                when: StakeholderCondition::default(),
                mentions: strings(&["pagerduty", "paging", "alerting"]),
                reason: "PagerDuty Support: paging itself is affected".into(),
            },
            EmergencyContactRule {
                role: Role::SlackSupport,
                when: StakeholderCondition::default(),
                mentions: strings(&["slack"]),
                reason: "Slack Support: the incident channel itself is affected".into(),
            },
        ];
        let contacts = vec![
            contact(Role::OnCallEngineer, Some(PHONE), Some("PagerDuty"), None, &[]),
            contact(Role::EngineeringManager, Some(PHONE), None, None, &[]),
            contact(Role::Cto, Some(PHONE), None, None, &[Severity::P0]),
            contact(Role::AwsSupport, Some(PHONE), Some("Enterprise"), None, &[]),
            contact(Role::PagerdutySupport, Some(PHONE), None, None, &[]),
            contact(Role::SlackSupport, None, None, Some("support@slack.com"), &[]),
            // "Customer support (if customers affected)" is reached through the runbook's Customer
            // Communication contacts.
            contact(Role::CustomerSupport, Some(PHONE), Some("Support Team Lead"), None, &[]),
            contact(Role::SupportTeamLead, Some(PHONE), None, None, &[]),
            contact(Role::CustomerSuccess, Some(PHONE), None, None, &[]),
        ];
        let resources = vec![
            resource("monitoring", "Grafana", "https://grafana.ml-platform.com"),
            resource("monitoring", "Prometheus", "https://prometheus.ml-platform.com"),
            resource("monitoring", "Jaeger", "https://jaeger.ml-platform.com"),
            resource("monitoring", "Status Page", "https://status.ml-platform.com"),
            resource("documentation", "Runbooks", "https://runbooks.ml-platform.com"),
            resource("documentation", "Architecture Docs", "https://docs.ml-platform.com"),
            resource("documentation", "API Docs", "https://api.ml-platform.com/docs"),
            resource("emergency", "AWS Console", "https://console.aws.amazon.com"),
            resource("emergency", "kubectl Cheat Sheet", "https://kubernetes.io/docs/reference/kubectl/cheatsheet/"),
            resource("emergency", "Disaster Recovery Plan", "https://docs.ml-platform.com/dr"),
        ];
        let validation_checklist = crate::drills::checklist::runbook_items();
        let mut stage_budgets = BTreeMap::new();
        let budget = |pairs: &[(&str, u64)]| -> BTreeMap<String, HumanDuration> {
            pairs.iter().map(|(k, m)| ((*k).to_owned(), mins(*m))).collect()
        };
        stage_budgets.insert("immediate-actions".into(), budget(&[("first-response", 15)]));
        stage_budgets.insert(
            "region-failure".into(),
            budget(&[("assessment", 5), ("activate-secondary", 15), ("data-recovery", 30)]),
        );
        stage_budgets.insert(
            "database-corruption".into(),
            budget(&[("stop-writes", 5), ("assess-scope", 15), ("restore", 60), ("restore-writes", 15)]),
        );
        Self {
            severities,
            business_hours: BusinessHours::default(),
            declaration: DeclarationPolicy::default(),
            cadence: CadencePolicy::default(),
            stakeholders,
            contacts,
            emergency_contacts,
            bridge: Some(PHONE.into()),
            resources,
            drills: DrillPolicy::default(),
            validation_checklist,
            checklist_targets: ChecklistTargets::default(),
            ingest: IngestPolicy::default(),
            guard_rails: GuardRails::default(),
            stage_budgets,
            retry: RetryPolicy::default(),
            limits: Limits::default(),
            integrity_checks: vec![
                IntegrityCheck::new(
                    "recent_transactions",
                    "SELECT COUNT(*) FROM transactions WHERE created_at > NOW() - INTERVAL '1 hour'",
                )
                .min(1.0),
                IntegrityCheck::new("active_models", "SELECT COUNT(*) FROM models WHERE status = 'active'").min(1.0),
            ],
            signing: SigningPolicy::default(),
            receiver: ReceiverPolicy::default(),
            post_incident: PostIncidentPolicy::default(),
            evidence: EvidencePolicy::default(),
            matching: MatchingPolicy::default(),
        }
    }
}

impl Policy {
    /// SHA-256 (lower-case hex) of the policy's canonical JSON: recorded in every plan, so a plan names the
    /// policy it was planned under.
    #[must_use]
    pub fn digest(&self) -> String {
        serde_json::to_value(self).map_or_else(|_| String::new(), |v| crate::canon::fingerprint(&v))
    }

    /// The escalation levels of `severity`: level 1 is `escalation` (all at once), then one level per
    /// `escalation_chain` entry.
    #[must_use]
    pub fn escalation_levels(&self, severity: Severity) -> Vec<Vec<Role>> {
        let p = self.severities.get(severity);
        std::iter::once(p.escalation.clone()).chain(p.escalation_chain.iter().map(|r| vec![*r])).collect()
    }

    /// Whether the declaration itself pages the level-1 roles (`escalation`) of `severity` when declared
    /// at `declared_at`: always for `immediate` / `any_time`, inside business hours for `business_hours`
    /// (else the escalation driver pages them at the next business instant, see [`crate::escalation`]).
    /// An invalid calendar pages at once (the safe side).
    #[must_use]
    pub fn pages_at_declaration(&self, severity: Severity, declared_at: chrono::DateTime<chrono::Utc>) -> bool {
        match self.severities.get(severity).escalation_window {
            EscalationWindow::Immediate | EscalationWindow::AnyTime => true,
            EscalationWindow::BusinessHours => {
                BusinessCalendar::new(&self.business_hours).map_or(true, |c| c.is_business_time(declared_at))
            }
        }
    }

    /// Response time for `severity`.
    #[must_use]
    pub fn response_time(&self, severity: Severity) -> HumanDuration {
        self.severities.get(severity).response_time
    }

    /// Contact entry for `role`, if the directory has one.
    #[must_use]
    pub fn contact(&self, role: Role) -> Option<&Contact> {
        self.contacts.iter().find(|c| c.role == role)
    }

    /// The budget of `stage` in `procedure` (a deprecated procedure name means the current one), if the
    /// policy sets one.
    #[must_use]
    pub fn stage_budget(&self, procedure: &str, stage: &str) -> Option<HumanDuration> {
        let procedure = canonical_procedure_name(procedure);
        let under = |name: &str| self.stage_budgets.get(name).and_then(|m| m.get(stage)).copied();
        under(procedure).or_else(|| {
            // A policy built in code may still key the budget by a deprecated name.
            DEPRECATED_PROCEDURE_NAMES.iter().filter(|(_, new)| *new == procedure).find_map(|(old, _)| under(old))
        })
    }

    /// [`Policy::stage_budget`] for a caller's input (what the bindings call).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when `procedure` or `stage` is blank.
    pub fn try_stage_budget(&self, procedure: &str, stage: &str) -> crate::Result<Option<HumanDuration>> {
        crate::text::non_blank("procedure", procedure)?;
        crate::text::non_blank("stage", stage)?;
        Ok(self.stage_budget(procedure, stage))
    }
}
