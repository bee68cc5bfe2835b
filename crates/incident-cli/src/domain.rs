//! The pure-domain commands: classify, declare, ingest, comms, postmortem, drills, policy.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use incident_core::classify::{Classification, Classifier, ImpactFacts};
use incident_core::comms::{self, ResolvedInput, UpdateInput};
use incident_core::detector::{Declaration, Detector, Observation};
use incident_core::drills;
use incident_core::incident::{Basis, DeclareRequest, Incident, incident_id};
use incident_core::postmortem::{PostMortem, PostMortemInput};
use incident_core::timeline::Timeline;
use incident_core::{Error, Policy, Result, Severity, Status, text};
use serde::Serialize;

use crate::io::{Ctx, parse_doc, read_input};

/// Wall-clock "now" for commands whose time is not given: the CLI is where the real clock is wired.
#[allow(clippy::disallowed_methods)]
pub(crate) fn wall_now() -> DateTime<Utc> {
    Utc::now()
}

fn parse_time(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).map_err(|e| {
        Error::invalid_input(format!("invalid time {s:?}: {e} (expected RFC 3339, e.g. 2026-11-26T14:05:00Z)"))
    })
}

fn severity_line(policy: &Policy, sev: Severity) -> String {
    let p = policy.severities.get(sev);
    let who: Vec<&str> = p.escalation.iter().map(|r| r.title()).collect();
    format!(
        "{sev} ({label}): respond within {rt}, escalate {window} to {who}",
        label = sev.label(),
        rt = p.response_time,
        window = p.escalation_window.phrase(),
        who = who.join(", "),
    )
}

fn render_classification(policy: &Policy, c: &Classification) -> String {
    let mut out = String::new();
    match c.severity() {
        None => out.push_str(
            "insufficient facts: no runbook severity rule matched (state outage scope, errors, degradation, data \
             loss, security or revenue impact)",
        ),
        Some(sev) => {
            out.push_str(&severity_line(policy, sev));
            for r in c.reasons() {
                let _ = write!(out, "\n  - {} {} [{}]", r.severity, r.text, r.rule);
            }
        }
    }
    out
}

// ----------------------------------------------------------------------------------------------------
// classify
// ----------------------------------------------------------------------------------------------------

/// `incident classify`.
#[derive(Debug, Args)]
pub(crate) struct ClassifyArgs {
    /// Impact facts (JSON or YAML); stdin when absent or `-`.
    file: Option<PathBuf>,
}

pub(crate) fn classify(ctx: &Ctx, a: &ClassifyArgs) -> Result<()> {
    let (name, text) = read_input(a.file.as_deref(), ctx.policy.limits.max_payload_bytes)?;
    let facts: ImpactFacts = parse_doc(&name, &text)?;
    let c = Classifier::from_policy(&ctx.policy).try_classify(&facts).map_err(|e| e.context(&name))?;
    ctx.emit(&c, || render_classification(&ctx.policy, &c))
}

// ----------------------------------------------------------------------------------------------------
// declare
// ----------------------------------------------------------------------------------------------------

/// `incident declare`.
#[derive(Debug, Args)]
pub(crate) struct DeclareArgs {
    /// Observations: a JSON array, JSON lines, or a YAML list; stdin when absent or `-`.
    file: Option<PathBuf>,
    /// The on-call engineer (incident commander by default).
    #[arg(long, default_value = "on-call")]
    on_call: String,
    /// Incident id (default: derived from the declaration time).
    #[arg(long)]
    id: Option<String>,
    /// Incident title (default: the rule that fired).
    #[arg(long)]
    title: Option<String>,
    /// Customers are affected (customer support is notified).
    #[arg(long)]
    customers_affected: bool,
}

impl DeclareArgs {
    /// Typed free text is single-line ([`incident_core::text::single_line`]).
    fn check_text(&self) -> Result<()> {
        text::single_line("--on-call", &self.on_call)?;
        if let Some(id) = &self.id {
            text::single_line("--id", id)?;
        }
        if let Some(title) = &self.title {
            text::single_line("--title", title)?;
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct DeclareOutput {
    declarations: Vec<Declaration>,
    incident: Option<DeclaredIncident>,
    /// Samples refused as invalid (absent when none were).
    #[serde(skip_serializing_if = "Option::is_none")]
    rejected: Option<RejectedOutput>,
}

/// What `declare` says about refused samples: how many, and the first with where it was.
#[derive(Serialize)]
struct RejectedOutput {
    count: u64,
    of: usize,
    first: Option<RejectedFirst>,
}

#[derive(Serialize)]
struct RejectedFirst {
    /// Line in the input (JSON lines only).
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    /// Position in the list of observations (1-based).
    sample: u64,
    service: String,
    reason: String,
}

impl RejectedOutput {
    /// `"error_rate is a ratio 0..1 (0.07 = 7 %), got 6 on line 1"`.
    fn first_text(&self) -> String {
        self.first.as_ref().map_or_else(String::new, |f| match f.line {
            Some(l) => format!("{} on line {l}", f.reason),
            None => format!("{} in observation {}", f.reason, f.sample),
        })
    }
}

#[derive(Serialize)]
pub(crate) struct DeclaredIncident {
    pub(crate) incident: Incident,
    pub(crate) classification: Classification,
    pub(crate) channel: String,
    pub(crate) ticket: String,
    pub(crate) stakeholders: Vec<incident_core::incident::Stakeholder>,
    pub(crate) channel_intro: String,
}

/// The observations, and for JSON lines the input line each came from.
fn parse_observations(name: &str, text: &str) -> Result<(Vec<Observation>, Option<Vec<usize>>)> {
    let t = text.trim_start();
    if t.starts_with('{') {
        // JSON lines.
        let mut lines = Vec::new();
        let obs = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                lines.push(i + 1);
                parse_doc::<Observation>(&format!("{name} line {}", i + 1), l)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((obs, Some(lines)))
    } else {
        Ok((parse_doc(name, text)?, None))
    }
}

pub(crate) fn declare(ctx: &Ctx, a: &DeclareArgs) -> Result<()> {
    a.check_text()?;
    let (name, text) = read_input(a.file.as_deref(), ctx.policy.limits.max_payload_bytes)?;
    let (observations, lines) = parse_observations(&name, &text)?;
    let mut detector = Detector::try_new(ctx.policy.declaration.clone())?;
    let declarations = detector.observe_all(&observations);
    let rejected = detector.rejected();
    let rejected = (!rejected.is_empty()).then(|| RejectedOutput {
        count: rejected.count,
        of: observations.len(),
        first: rejected.first.as_ref().map(|f| RejectedFirst {
            line: lines.as_ref().and_then(|l| l.get(usize::try_from(f.sample).ok()?.checked_sub(1)?).copied()),
            sample: f.sample,
            service: f.service.clone(),
            reason: f.reason.clone(),
        }),
    });
    if let Some(r) = &rejected {
        if r.count == observations.len() as u64 {
            return Err(Error::invalid_input(format!(
                "{name}: no valid observation ({} of {} rejected): {}",
                r.count,
                r.of,
                r.first_text()
            )));
        }
        eprintln!(
            "warning: {name}: {} of {} observation(s) rejected as invalid; first: {}",
            r.count,
            r.of,
            r.first_text()
        );
    }
    let incident = match declarations.first() {
        None => None,
        Some(_) => Some(declare_incident(&ctx.policy, &declarations, a)?),
    };
    let out = DeclareOutput { declarations, incident, rejected };
    ctx.emit(&out, || match &out.incident {
        None => format!(
            "no incident: no declaration rule was sustained over {} observation(s) ({} out of order ignored, {} \
             invalid rejected)",
            observations.len(),
            detector.stats().out_of_order,
            detector.stats().invalid
        ),
        Some(d) => render_declared(&ctx.policy, &out.declarations, d),
    })
}

fn declare_incident(policy: &Policy, declarations: &[Declaration], a: &DeclareArgs) -> Result<DeclaredIncident> {
    let (mut basis, declared_at) =
        Basis::from_declarations(declarations).ok_or_else(|| Error::internal("no declaration"))?;
    if let Some(title) = &a.title {
        basis.title.clone_from(title);
    }
    if a.customers_affected {
        basis.facts.customers_affected = Some(true);
    }
    let id = a.id.clone().unwrap_or_else(|| incident_id(declared_at, None));
    let (req, classification) = basis.request(policy, id, a.on_call.clone())?;
    let (incident, _timeline) = Incident::declare(req, policy, declared_at)?;
    Ok(DeclaredIncident {
        channel: incident_core::incident::channel_name(incident.declared_at),
        ticket: incident.ticket(),
        stakeholders: incident.stakeholders(policy),
        channel_intro: incident.channel_intro(policy),
        incident,
        classification,
    })
}

fn render_declared(policy: &Policy, declarations: &[Declaration], d: &DeclaredIncident) -> String {
    let mut out = String::new();
    for decl in declarations {
        let _ = writeln!(
            out,
            "DECLARE {}: {} (sustained {}s since {})",
            decl.service,
            decl.rule.words(),
            decl.sustained_for().num_seconds(),
            comms::format_utc(decl.window_start)
        );
    }
    let _ = writeln!(out, "\n{}", render_classification(policy, &d.classification));
    let _ = writeln!(out, "\nChannel: {}\n\n{}\n", d.channel, d.ticket);
    out.push_str("Notify:\n");
    for s in &d.stakeholders {
        let _ = writeln!(out, "  - {}", s.label());
    }
    out
}

// ----------------------------------------------------------------------------------------------------
// ingest
// ----------------------------------------------------------------------------------------------------

/// Alert payload sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Source {
    /// Prometheus Alertmanager webhook (version 4).
    Alertmanager,
    /// PagerDuty Events API v2.
    Pagerduty,
    /// Grafana alerting webhook (version 1).
    Grafana,
    /// CloudWatch alarm in an Amazon SNS notification (the signature is not checked here).
    Cloudwatch,
    /// Datadog webhook (the template documented in incident_core::ingest::datadog).
    Datadog,
}

impl Source {
    pub(crate) fn core(self) -> incident_core::ingest::AlertSource {
        use incident_core::ingest::AlertSource as S;
        match self {
            Self::Alertmanager => S::Alertmanager,
            Self::Pagerduty => S::Pagerduty,
            Self::Grafana => S::Grafana,
            Self::Cloudwatch => S::Cloudwatch,
            Self::Datadog => S::Datadog,
        }
    }
}

/// `incident ingest`.
#[derive(Debug, Args)]
pub(crate) struct IngestArgs {
    /// Payload format.
    #[arg(value_enum)]
    source: Source,
    /// Payload file; stdin when absent or `-`.
    file: Option<PathBuf>,
}

pub(crate) fn ingest(ctx: &Ctx, a: &IngestArgs) -> Result<()> {
    let (name, text) = read_input(a.file.as_deref(), ctx.policy.limits.max_payload_bytes)?;
    crate::ingest_cmd::run(ctx, a.source, &name, text.as_bytes())
}

// ----------------------------------------------------------------------------------------------------
// comms
// ----------------------------------------------------------------------------------------------------

/// `incident comms`.
#[derive(Debug, Args)]
pub(crate) struct CommsArgs {
    #[command(subcommand)]
    command: CommsCommand,
}

#[derive(Debug, Subcommand)]
enum CommsCommand {
    /// Render a template.
    Render {
        #[command(subcommand)]
        template: Template,
    },
    /// When the next updates are due and which are overdue.
    Cadence {
        /// Severity.
        #[arg(long)]
        severity: Severity,
        /// Declaration time (RFC 3339).
        #[arg(long)]
        declared_at: String,
        /// Last internal update (RFC 3339).
        #[arg(long)]
        last_update: Option<String>,
        /// Last status-page update (RFC 3339).
        #[arg(long)]
        last_status_page: Option<String>,
        /// "Now" (RFC 3339; default: the wall clock).
        #[arg(long)]
        now: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum Template {
    /// The initial status-page message.
    Initial {
        /// Affected service.
        #[arg(long)]
        service: String,
    },
    /// The periodic update (Time / Status / Impact / Next Update / Details).
    Update {
        /// Status.
        #[arg(long)]
        status: Status,
        /// User impact.
        #[arg(long)]
        impact: String,
        /// Technical details (the last section of the template; may span lines).
        #[arg(long, default_value = "")]
        details: String,
        /// Time of the update (RFC 3339; default: now).
        #[arg(long)]
        time: Option<String>,
        /// Next update time (RFC 3339); default: from the severity's cadence when --severity is given.
        #[arg(long)]
        next_update: Option<String>,
        /// Severity, to compute the next update from the cadence.
        #[arg(long)]
        severity: Option<Severity>,
    },
    /// The final RESOLVED message.
    Resolved {
        /// Affected service.
        #[arg(long)]
        service: String,
        /// When the issue started (RFC 3339).
        #[arg(long)]
        started_at: String,
        /// Root cause.
        #[arg(long)]
        root_cause: String,
        /// What was done to fix it.
        #[arg(long)]
        resolution: String,
        /// User impact summary.
        #[arg(long)]
        impact: String,
        /// Resolution time (RFC 3339; default: now).
        #[arg(long)]
        time: Option<String>,
    },
}

#[derive(Serialize)]
struct Rendered {
    template: &'static str,
    text: String,
}

fn time_or_now(t: Option<&String>) -> Result<DateTime<Utc>> {
    t.map_or_else(|| Ok(wall_now()), |s| parse_time(s))
}

pub(crate) fn comms(ctx: &Ctx, a: &CommsArgs) -> Result<()> {
    match &a.command {
        CommsCommand::Render { template } => {
            let (name, text) = match template {
                Template::Initial { service } => {
                    text::single_line("--service", service)?;
                    ("initial", comms::initial_status_page(service)?)
                }
                Template::Update { status, impact, details, time, next_update, severity } => {
                    text::single_line("--impact", impact)?;
                    text::multi_line("--details", details)?;
                    let time = time_or_now(time.as_ref())?;
                    let next_update = match (next_update, severity) {
                        (Some(t), _) => Some(parse_time(t)?),
                        (None, Some(sev)) if *status != Status::Resolved => {
                            ctx.policy.cadence.internal_update.get(*sev).map(|d| time + d.as_delta())
                        }
                        _ => None,
                    };
                    let input = UpdateInput {
                        time,
                        status: *status,
                        impact: impact.clone(),
                        next_update,
                        details: details.clone(),
                    };
                    ("update", comms::status_update(&input)?)
                }
                Template::Resolved { service, started_at, root_cause, resolution, impact, time } => {
                    for (flag, value) in [
                        ("--service", service),
                        ("--root-cause", root_cause),
                        ("--resolution", resolution),
                        ("--impact", impact),
                    ] {
                        text::single_line(flag, value)?;
                    }
                    let input = ResolvedInput {
                        time: time_or_now(time.as_ref())?,
                        service: service.clone(),
                        started_at: parse_time(started_at)?,
                        root_cause: root_cause.clone(),
                        resolution: resolution.clone(),
                        impact: impact.clone(),
                    };
                    ("resolved", comms::resolved_message(&input)?)
                }
            };
            let r = Rendered { template: name, text };
            ctx.emit(&r, || r.text.clone())
        }
        CommsCommand::Cadence { severity, declared_at, last_update, last_status_page, now } => {
            let declared_at = parse_time(declared_at)?;
            let req = DeclareRequest {
                id: "cadence".into(),
                title: "cadence".into(),
                severity: *severity,
                components: vec![],
                impact: String::new(),
                customer_facing: true,
                customers_affected: false,
                on_call: "on-call".into(),
                commander: None,
                started_at: None,
                detected_at: None,
                detection_source: None,
            };
            let (incident, _) = Incident::declare(req, &ctx.policy, declared_at)?;
            let last_update = last_update.as_deref().map(parse_time).transpose()?;
            let last_status_page = last_status_page.as_deref().map(parse_time).transpose()?;
            let now = time_or_now(now.as_ref())?;
            let status = comms::try_cadence_status(&ctx.policy, &incident, last_update, last_status_page, now)
                .map_err(|e| e.context("comms cadence"))?;
            ctx.emit(&status, || {
                let fmt = |t: Option<DateTime<Utc>>| t.map_or_else(|| "none".to_owned(), comms::format_utc);
                let mut s = format!(
                    "next internal update: {}\nnext status-page update: {}",
                    fmt(status.next_internal_due),
                    fmt(status.next_status_page_due)
                );
                for o in &status.overdue {
                    let _ = write!(
                        s,
                        "\nOVERDUE {} update: due {} ({}s late)",
                        o.kind,
                        comms::format_utc(o.due_at),
                        o.late_by.as_secs()
                    );
                }
                s
            })
        }
    }
}

// ----------------------------------------------------------------------------------------------------
// postmortem
// ----------------------------------------------------------------------------------------------------

/// `incident postmortem`.
#[derive(Debug, Args)]
pub(crate) struct PostmortemArgs {
    /// Directory holding `incident.json` and `timeline.json` (e.g. a drill's `--out`).
    dir: PathBuf,
    /// What the post-mortem meeting adds (root cause, action items, ...), JSON or YAML.
    #[arg(long)]
    input: Option<PathBuf>,
}

pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::invalid_input(format!("cannot read {}: {e}", path.display())))?;
    parse_doc(&path.display().to_string(), &text)
}

pub(crate) fn postmortem(ctx: &Ctx, a: &PostmortemArgs) -> Result<()> {
    let incident: Incident = read_json(&a.dir.join("incident.json"))?;
    let timeline: Timeline = read_json(&a.dir.join("timeline.json"))?;
    let input: PostMortemInput = match &a.input {
        Some(p) => read_json(p)?,
        None => PostMortemInput::default(),
    };
    let pm = PostMortem::build(&incident, &timeline, input);
    ctx.emit(&pm, || pm.to_markdown())
}

// ----------------------------------------------------------------------------------------------------
// drills
// ----------------------------------------------------------------------------------------------------

/// `incident drills`.
#[derive(Debug, Args)]
pub(crate) struct DrillsArgs {
    #[command(subcommand)]
    command: DrillsCommand,
}

#[derive(Debug, Subcommand)]
enum DrillsCommand {
    /// The next scheduled drills.
    Next {
        /// How many.
        #[arg(short = 'n', long, default_value_t = 4)]
        count: usize,
        /// From this time (RFC 3339; default: now).
        #[arg(long)]
        from: Option<String>,
    },
    /// The validation checklist.
    Checklist,
}

pub(crate) fn drills(ctx: &Ctx, a: &DrillsArgs) -> Result<()> {
    match &a.command {
        DrillsCommand::Next { count, from } => {
            if *count == 0 || *count > 1000 {
                return Err(Error::invalid_input(format!("--count {count}: must be between 1 and 1000")));
            }
            let from = time_or_now(from.as_ref())?;
            let list = drills::next_drills(&ctx.policy.drills, from, *count)?;
            ctx.emit(&list, || {
                list.iter()
                    .map(|d| {
                        format!("{}  {} (Friday #{})", comms::format_utc(d.starts_at), d.kind.as_str(), d.nth_friday)
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        DrillsCommand::Checklist => {
            let list = drills::ValidationChecklist::from_policy(&ctx.policy);
            let report = list.report();
            ctx.emit(&report, || report.to_text())
        }
    }
}

// ----------------------------------------------------------------------------------------------------
// policy
// ----------------------------------------------------------------------------------------------------

/// `incident policy`.
#[derive(Debug, Args)]
pub(crate) struct PolicyArgs {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Print the effective policy (defaults + `--policy` overrides). Text output is TOML.
    Show,
    /// Print the policy file's JSON Schema.
    Schema,
    /// Validate a policy file and report the first problem with its field.
    Validate {
        /// The file (TOML, YAML or JSON).
        file: PathBuf,
    },
}

pub(crate) fn policy(ctx: &Ctx, a: &PolicyArgs) -> Result<()> {
    match &a.command {
        PolicyCommand::Show => ctx.emit(&ctx.policy, || ctx.policy.to_toml_string().unwrap_or_else(|e| e.to_string())),
        PolicyCommand::Schema => {
            let schema = Policy::json_schema();
            crate::io::out(&serde_json::to_string_pretty(&schema).map_err(|e| Error::internal(e.to_string()))?);
            Ok(())
        }
        PolicyCommand::Validate { file } => {
            Policy::from_path(file)?;
            ctx.emit(&serde_json::json!({"valid": true, "file": file}), || format!("{}: valid", file.display()))
        }
    }
}
