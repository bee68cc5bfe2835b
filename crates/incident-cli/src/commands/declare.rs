//! `incident declare`: the declaration rules over observations, and the incident when a rule is
//! sustained; or, with `--severity` and `--reporter`, an incident a person reports (runbook "Manual
//! Reporting"), declared into the store and announced (channel intro, ticket, pages).

use std::path::PathBuf;

use clap::Args;
use incident_core::classify::Classification;
use incident_core::declare::{Basis, Decided, ReportSource};
use incident_core::detector::{Declaration, Detector, Observation};
use incident_core::incident::{Incident, incident_id};
use incident_core::{Error, Policy, Result, Severity, render, text};
use serde::Serialize;

use crate::choices::{ReporterArg, SeverityArg};
use crate::incidents::{ActorArg, NotifyArg, StoreArg, with_incidents};
use crate::input::{parse_doc, read_input};
use crate::output::Ctx;

/// `incident declare`.
#[derive(Debug, Args)]
pub(crate) struct DeclareArgs {
    /// Observations: a JSON array, JSON lines, or a YAML list; stdin when absent or `-`.
    file: Option<PathBuf>,
    /// The on-call engineer (incident commander by default): `on-call` for observations; for a report,
    /// the person declaring (`--as`).
    #[arg(long)]
    on_call: Option<String>,
    /// Incident id (default: derived from the declaration time).
    #[arg(long)]
    id: Option<String>,
    /// Incident title (default: the rule that fired; required for a report).
    #[arg(long)]
    title: Option<String>,
    /// Customers are affected (customer support is notified).
    #[arg(long)]
    customers_affected: bool,
    /// Declare by hand at this severity (a report, with --title and --reporter), into --store.
    #[arg(long, value_enum, ignore_case = true, requires_all = ["title", "reporter"])]
    severity: Option<SeverityArg>,
    /// Who reported it (recorded as the detection source).
    #[arg(long, value_enum, requires = "severity")]
    reporter: Option<ReporterArg>,
    /// An affected service (repeat for more; a report).
    #[arg(long = "component", value_name = "SERVICE", requires = "severity")]
    components: Vec<String>,
    /// User impact in your words (a report; default: the severity and who reported it).
    #[arg(long, requires = "severity")]
    impact: Option<String>,
    /// Not visible to customers (no public status page; a report).
    #[arg(long, requires = "severity")]
    internal_only: bool,
    #[command(flatten)]
    actor: ActorArg,
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    notify: NotifyArg,
}

impl DeclareArgs {
    /// Typed free text is single-line ([`incident_core::text::single_line`]).
    fn check_text(&self) -> Result<()> {
        if let Some(on_call) = &self.on_call {
            text::single_line("--on-call", on_call)?;
        }
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
struct DeclaredIncident {
    incident: Incident,
    classification: Classification,
    channel: String,
    ticket: String,
    stakeholders: Vec<incident_core::incident::Stakeholder>,
    channel_intro: String,
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

pub(crate) fn run(ctx: &Ctx, a: &DeclareArgs) -> Result<()> {
    a.check_text()?;
    if let (Some(severity), Some(reporter)) = (a.severity, a.reporter) {
        return report(ctx, a, severity.0, reporter.0);
    }
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
        None => render::no_declaration(observations.len(), detector.stats().out_of_order, detector.stats().invalid),
        Some(d) => render::declared(
            &ctx.policy,
            &render::Declared {
                declarations: &out.declarations,
                classification: &d.classification,
                channel: &d.channel,
                ticket: &d.ticket,
                stakeholders: &d.stakeholders,
            },
        ),
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
    let declared = basis.decide(policy)?.declare(policy, id, a.on_call.as_deref().unwrap_or("on-call"), declared_at)?;
    let (incident, classification) =
        (declared.incident, declared.classification.ok_or_else(|| Error::internal("declared unclassified"))?);
    Ok(DeclaredIncident {
        channel: incident_core::incident::channel_name(incident.declared_at),
        ticket: incident.ticket(),
        stakeholders: incident.stakeholders(policy),
        channel_intro: incident.channel_intro(policy),
        incident,
        classification,
    })
}

/// A person's report: declared now into the store, announced, printed as the change it made.
fn report(ctx: &Ctx, a: &DeclareArgs, severity: Severity, reporter: ReportSource) -> Result<()> {
    if a.file.is_some() {
        return Err(Error::invalid_input("a report (--severity) takes no observations file"));
    }
    let actor = a.actor.actor()?;
    let title = a.title.as_deref().unwrap_or_default();
    let mut basis = Basis::reported(title, reporter.words())?;
    basis.components.clone_from(&a.components);
    basis.impact.clone_from(&a.impact);
    basis.facts.customer_facing = Some(!a.internal_only);
    basis.facts.customers_affected = Some(a.customers_affected);
    let decided = Decided::reported(basis, severity);
    let on_call = a.on_call.clone().unwrap_or(actor);
    let change = with_incidents(ctx, &a.store, a.notify.notify_config.as_deref(), async |i| {
        i.declare(decided, a.id.as_deref(), &on_call).await
    })?;
    ctx.emit(&change, || render::change(&change))
}
