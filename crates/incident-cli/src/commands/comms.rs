//! `incident comms`: the runbook's communication templates, and the update cadence.

use clap::{Args, Subcommand};
use incident_core::comms::{self, ResolvedInput, UpdateInput};
use incident_core::incident::{DeclareRequest, Incident};
use incident_core::{Result, Status, render, text};
use serde::Serialize;

use crate::choices::{SeverityArg, StatusArg};
use crate::clock::{parse_time, time_or_now};
use crate::output::Ctx;

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
        #[arg(long, value_enum, ignore_case = true)]
        severity: SeverityArg,
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
        #[arg(long, value_enum, ignore_case = true)]
        status: StatusArg,
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
        #[arg(long, value_enum, ignore_case = true)]
        severity: Option<SeverityArg>,
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

pub(crate) fn run(ctx: &Ctx, a: &CommsArgs) -> Result<()> {
    match &a.command {
        CommsCommand::Render { template } => {
            let (name, text) = match template {
                Template::Initial { service } => {
                    text::single_line("--service", service)?;
                    ("initial", comms::initial_status_page(service)?)
                }
                Template::Update { status, impact, details, time, next_update, severity } => {
                    let status = status.0;
                    text::single_line("--impact", impact)?;
                    text::multi_line("--details", details)?;
                    let time = time_or_now(time.as_ref())?;
                    let next_update = match (next_update, severity) {
                        (Some(t), _) => Some(parse_time(t)?),
                        (None, Some(sev)) if status != Status::Resolved => {
                            ctx.policy.cadence.internal_update.get(sev.0).map(|d| time + d.as_delta())
                        }
                        _ => None,
                    };
                    let input =
                        UpdateInput { time, status, impact: impact.clone(), next_update, details: details.clone() };
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
                severity: severity.0,
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
            ctx.emit(&status, || render::cadence_status(&status))
        }
    }
}
