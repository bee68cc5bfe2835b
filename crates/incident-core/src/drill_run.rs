//! One drill run (`incident drill <scenario>`): a whole incident, end to end, on the same code path as a
//! real one: alert → classify → declare
//! (channel, ticket, stakeholders) → triage → plan → approve → mitigate (with status updates on cadence)
//! → verify → resolve → post-mortem. [`run_drill`] drives it on the simulator ([`crate::sim`]) for the
//! runbook's monthly drills ([`crate::drills`] says which runs when) and the README's first command;
//! [`procedure_from_spec`] (from [`crate::engine::library`]) turns a scenario's `procedure` (name + string
//! params) into a library [`Procedure`](crate::engine::Procedure).
//!
//! This module was `drill`, beside `drills` (the schedule and checklist); the old path
//! `incident_core::drill` still resolves here.
//!
//! Every step lands on the incident's hash-chained timeline in the [`Store`]; the executor's steps
//! land there too, so the post-mortem is reconstructed from one chain.
//!
//! # The same path as a real incident
//!
//! * **Detection and declaration**: the scenario's Alertmanager payload goes through the receiver's
//!   rule for alert groups ([`crate::ingest::group::decide`]) when its alerts start firing; its signals
//!   go through the [`Detector`]; whichever declares first declares, on the one declaration path
//!   ([`crate::declare`]), with the receiver's [`basis`](crate::ingest::group::basis). For the same
//!   alert at the same time, a drill and `incident serve` record the same first timeline events
//!   (`crates/incident-receiver/tests/same_path.rs`). What the scenario's `incident` block says (title,
//!   impact, customer flags) plays the responder who names the incident.
//! * **Updates**: the [`CadenceDriver`] that `incident serve` runs, ticking this incident on the
//!   simulator's clock: the status page when it falls due (customer-facing incidents only), internal
//!   updates on the severity's cadence, failed deliveries retried; a status change is sent at once with
//!   [`CadenceDriver::send_update`]. The `status-page` stage ends when the first status-page update is
//!   delivered.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::backend::{Backends, Clock, Notifier};
use crate::cadence::{CadenceDriver, UpdateAttempt};
use crate::classify::Classification;
use crate::comms::UpdateKind;
use crate::declare::{Basis, Decided};
use crate::detector::{Declaration, Detector, Observation, Signal};
use crate::engine::{Approval, Executor, Plan, RunReport, StepKind};
use crate::incident::Incident;
use crate::ingest::{self, group};
use crate::lifecycle::{Change, Incidents, ResolveRequest};
use crate::postmortem::{PostMortem, PostMortemInput};
use crate::sim::{ExpectationOutcome, Scenario, SimPlatform};
use crate::store::{RunStatus, Store};
use crate::timeline::{EventKind, Timeline};
use crate::triage::{TriageOptions, TriageReport, triage};
use crate::{Error, HumanDuration, Policy, Result, Status};

/// Re-exported from [`crate::engine::library`], where each procedure's params are parsed next to its
/// builder.
pub use crate::engine::library::procedure_from_spec;

// -------------------------------------------------------------------------------------------------------
// Observer and approver
// -------------------------------------------------------------------------------------------------------

/// Progress of a drill, for live rendering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DrillEvent {
    /// A stage began.
    StageStarted {
        /// Stage name.
        stage: String,
        /// Its budget, if the policy sets one.
        budget: Option<HumanDuration>,
        /// Virtual time.
        at: DateTime<Utc>,
    },
    /// A stage ended.
    StageFinished {
        /// Its score.
        result: StageResult,
    },
    /// One line of the live log.
    Log {
        /// Virtual time.
        at: DateTime<Utc>,
        /// Text.
        text: String,
    },
}

/// Receives [`DrillEvent`]s.
pub trait DrillObserver: Send + Sync {
    /// Called for each event, in order.
    fn on_event(&self, event: &DrillEvent);
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl DrillObserver for Silent {
    fn on_event(&self, _event: &DrillEvent) {}
}

/// Decides whether a plan may run. The engine still enforces every guard rail.
#[async_trait::async_trait]
pub trait Approver: Send + Sync {
    /// An approval, or `None` to decline.
    async fn approve(&self, plan: &Plan, now: DateTime<Utc>) -> Result<Option<Approval>>;
}

/// Approves every plan as `by`, confirming production targets and approval gates (`--yes`).
#[derive(Debug, Clone)]
pub struct AutoApprove {
    /// Who approves.
    pub by: String,
}

#[async_trait::async_trait]
impl Approver for AutoApprove {
    async fn approve(&self, plan: &Plan, now: DateTime<Utc>) -> Result<Option<Approval>> {
        let gates = plan.steps.iter().filter(|s| matches!(s.kind, StepKind::Approval { .. })).map(|s| s.id.clone());
        let mut approval = Approval::new(self.by.clone(), now).with_gates(gates);
        if plan.needs_production_confirmation {
            approval = approval.confirm_production();
        }
        Ok(Some(approval))
    }
}

/// Declines every plan (a dry run of the whole flow: the drill stops after planning and fails).
#[derive(Debug, Clone, Copy, Default)]
pub struct Decline;

#[async_trait::async_trait]
impl Approver for Decline {
    async fn approve(&self, _plan: &Plan, _now: DateTime<Utc>) -> Result<Option<Approval>> {
        Ok(None)
    }
}

// -------------------------------------------------------------------------------------------------------
// Report
// -------------------------------------------------------------------------------------------------------

/// A stage's elapsed (virtual) time against its budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StageResult {
    /// Stage name.
    pub stage: String,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    pub finished_at: DateTime<Utc>,
    /// Elapsed seconds.
    pub elapsed_secs: i64,
    /// Budget.
    pub budget: Option<HumanDuration>,
    /// Within budget (`None` without one).
    pub within_budget: Option<bool>,
    /// The stage did its job.
    pub ok: bool,
}

/// Everything a drill produced.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DrillReport {
    /// Scenario name.
    pub scenario: String,
    /// The incident (final state).
    pub incident: Incident,
    /// The classification that set its severity.
    pub classification: Classification,
    /// Detector declarations.
    pub declarations: Vec<Declaration>,
    /// Triage.
    pub triage: TriageReport,
    /// The approved plan.
    pub plan: Plan,
    /// The run (absent when the plan was declined).
    pub run: Option<RunReport>,
    /// End-state expectations of the scenario.
    pub expectations: Vec<ExpectationOutcome>,
    /// Stage scores.
    pub stages: Vec<StageResult>,
    /// The verified timeline.
    pub timeline: Timeline,
    /// The post-mortem.
    pub postmortem: PostMortem,
    /// Whether every stage did its job and every expectation held.
    pub passed: bool,
    /// Why not.
    pub failures: Vec<String>,
}

/// Options of [`run_drill`].
#[derive(Debug, Clone)]
pub struct DrillOptions {
    /// The on-call engineer (incident commander).
    pub on_call: String,
    /// Incident id (default `DRILL-<scenario>-<YYYYMMDD-HHMM>`).
    pub incident_id: Option<String>,
    /// How long to watch in `monitoring` before resolving.
    pub monitor_for: Duration,
}

impl Default for DrillOptions {
    fn default() -> Self {
        Self { on_call: "on-call".into(), incident_id: None, monitor_for: Duration::from_secs(600) }
    }
}

// -------------------------------------------------------------------------------------------------------
// The run
// -------------------------------------------------------------------------------------------------------

/// The drill's responder: works the incident through [`Incidents`] as a person does with `incident ack`,
/// `status`, `mitigated` and `resolve`, while the executor and the cadence driver append to the same
/// timeline.
struct Responder {
    incidents: Incidents,
    id: String,
    /// Who acts (the on-call engineer).
    actor: String,
}

impl Responder {
    /// Record a check's result on the timeline.
    async fn check(&self, at: DateTime<Utc>, actor: &str, name: &str, passed: bool, detail: String) -> Result<()> {
        let (actor, name) = (actor.to_owned(), name.to_owned());
        let kind = EventKind::CheckResult { name, passed, detail };
        self.incidents
            .store()
            .update_incident(&self.id, Box::new(move |_, tl| tl.append(at, actor.as_str(), kind.clone()).map(|_| true)))
            .await
            .map(|_| ())
    }

    /// Log what an operation sent.
    fn log_messages(run: &Run<'_>, change: &Change) {
        for m in &change.messages {
            run.log(format!("{} → {}: {}", m.kind, m.channel, m.outcome));
        }
    }
}

/// A stage begun: its name, start and budget.
type Started = (String, DateTime<Utc>, Option<HumanDuration>);

struct Run<'a> {
    backends: Backends,
    policy: &'a Policy,
    observer: &'a dyn DrillObserver,
    stages: Vec<StageResult>,
    /// The status-page stage, open until the cadence driver delivers the first status-page update.
    status_page: Option<Started>,
}

impl Run<'_> {
    fn now(&self) -> DateTime<Utc> {
        self.backends.clock.now()
    }

    fn log(&self, text: impl Into<String>) {
        self.observer.on_event(&DrillEvent::Log { at: self.now(), text: text.into() });
    }

    fn start(&self, stage: &str, budget: Option<HumanDuration>) -> Started {
        let at = self.now();
        self.observer.on_event(&DrillEvent::StageStarted { stage: stage.into(), budget, at });
        (stage.into(), at, budget)
    }

    fn finish(&mut self, started: Started, ok: bool) {
        let (stage, started_at, budget) = started;
        let finished_at = self.now();
        let elapsed_secs = (finished_at - started_at).num_seconds();
        let within_budget = budget.map(|b| elapsed_secs <= i64::try_from(b.as_secs()).unwrap_or(i64::MAX));
        let result = StageResult { stage, started_at, finished_at, elapsed_secs, budget, within_budget, ok };
        self.observer.on_event(&DrillEvent::StageFinished { result: result.clone() });
        self.stages.push(result);
    }
}

fn signal_of(spec: &crate::sim::ObservationSpec, baselines: &mut BTreeMap<String, f64>) -> Result<Option<Signal>> {
    Ok(Some(match spec.metric.as_str() {
        "error_rate" => Signal::ErrorRate(spec.value),
        "available" => Signal::Availability { up: spec.value >= 0.5, whole_service: false },
        "available_whole_service" => Signal::Availability { up: spec.value >= 0.5, whole_service: true },
        "latency_baseline_ms" => {
            baselines.insert(spec.service.clone(), spec.value);
            return Ok(None);
        }
        "latency_ms" => {
            let baseline = baselines.get(&spec.service).copied().ok_or_else(|| {
                Error::invalid_input(format!(
                    "observation latency_ms for {} before any latency_baseline_ms",
                    spec.service
                ))
            })?;
            Signal::Latency { observed_ms: spec.value, baseline_ms: baseline }
        }
        "data_integrity" => {
            if spec.value >= 0.5 {
                return Ok(None);
            }
            Signal::DataIntegrity { detail: format!("{} integrity check failing", spec.service) }
        }
        "security" => {
            if spec.value < 0.5 {
                return Ok(None);
            }
            Signal::Security { detail: format!("{} security signal", spec.service) }
        }
        other => {
            return Err(Error::invalid_input(format!(
                "unknown observation metric {other:?} (error_rate, available, available_whole_service, latency_ms, \
                 latency_baseline_ms, data_integrity, security)"
            )));
        }
    }))
}

/// Run `scenario` end to end on `platform`, recording into `store`.
///
/// Call it on [`crate::sim::runtime()`] (paused time) so virtual time passes instantly.
///
/// # Errors
/// Bad scenario data (`InvalidInput`), store failures. A failing procedure is not an error: it is in the
/// report (`passed: false`, `failures`).
#[allow(clippy::too_many_lines)] // one linear story, told in order
pub async fn run_drill(
    platform: &SimPlatform,
    store: Arc<dyn Store>,
    policy: &Policy,
    scenario: &Scenario,
    opts: &DrillOptions,
    approver: &dyn Approver,
    observer: &dyn DrillObserver,
) -> Result<DrillReport> {
    let backends = platform.backends();
    let mut run = Run { backends: backends.clone(), policy, observer, stages: Vec::new(), status_page: None };
    let mut failures = Vec::new();

    // 1. Detection. The scenario's alerts meet the receiver's rule for alert groups, as in production,
    // when they start firing; the detector watches the scenario's signals in virtual time until it
    // fires or an alert group declares, whichever comes first.
    let stage = run.start("detection", None);
    let mut alerting: Option<(DateTime<Utc>, group::AlertGroup, group::Assessment)> = None;
    if let Some(payload) = scenario.signals.alertmanager_json()? {
        let batch = ingest::parse_alertmanager(payload.as_bytes(), policy)?;
        for g in batch.groups() {
            match group::decide(&g, None, policy) {
                group::Decision::Declare { assessment } if alerting.is_none() => {
                    let firing = g.alerts.iter().filter(|a| a.status == ingest::AlertStatus::Firing);
                    let arrives = firing.filter_map(|a| a.starts_at).min().unwrap_or_else(|| run.now());
                    alerting = Some((arrives, g, assessment));
                }
                group::Decision::Ignore { reason } => run.log(format!("receiver: no incident for {}: {reason}", g.key)),
                _ => {}
            }
        }
    }
    let mut detector = Detector::try_new(policy.declaration.clone())?;
    let mut baselines = BTreeMap::new();
    let mut declarations = Vec::new();
    for spec in scenario.signals.expand_observations()? {
        if alerting.as_ref().is_some_and(|(arrives, ..)| platform.started_at() + spec.at.as_delta() > *arrives) {
            break;
        }
        platform.advance_to_offset(spec.at.as_std())?;
        let Some(signal) = signal_of(&spec, &mut baselines)? else { continue };
        let obs = Observation::new(spec.service.clone(), run.now(), signal);
        if let Some(d) = detector.observe(&obs) {
            run.log(format!(
                "detector: {} on {} sustained {}s",
                d.rule.words(),
                d.service,
                d.sustained_for().num_seconds()
            ));
            declarations.push(d);
            break;
        }
    }
    let mut from_alerts: Option<(Basis, Classification)> = None;
    if let Some((arrives, g, assessment)) = alerting {
        if declarations.is_empty() && arrives > run.now() {
            platform.advance_to_offset((arrives - platform.started_at()).to_std().unwrap_or_default())?;
        }
        for a in g.alerts.iter().filter(|a| a.status == ingest::AlertStatus::Firing) {
            run.log(format!(
                "alertmanager: {} firing on {}",
                a.name.as_deref().unwrap_or("alert"),
                a.service.as_deref().unwrap_or("?")
            ));
        }
        run.log(format!("receiver: {}", assessment.reason));
        from_alerts = Some((group::basis(&g, &assessment, policy, run.now()), assessment.classification));
    }
    let detected = !declarations.is_empty() || from_alerts.is_some();
    run.finish(stage, detected);
    let decided = decide(scenario, from_alerts, &declarations, policy)?;
    run.log(format!("classified {}", decided.classification.map_or_else(String::new, |c| c.to_string())));

    // 2. Declaration (the runbook's first 15 minutes start here), on the one declaration path.
    let declared_at = run.now();
    let first_response = run.start("first-response", policy.stage_budget("immediate-actions", "first-response"));
    let id = opts
        .incident_id
        .clone()
        .unwrap_or_else(|| format!("DRILL-{}-{}", scenario.name, declared_at.format("%Y%m%d-%H%M")));
    let classification = decided.classification.ok_or_else(|| Error::internal("a drill's severity is classified"))?;
    let incidents = Incidents::new(Arc::clone(&store), Arc::clone(&backends.clock), policy.clone())
        .with_notifier(Arc::clone(&backends.notifier));
    let declared = incidents.declare(decided, Some(&id), &opts.on_call).await?;
    let incident = declared.incident.clone();
    run.log(format!("declared {} {} — channel {}", incident.severity, incident.title, incident.channel));
    Responder::log_messages(&run, &declared);
    let responder = Responder { incidents, id: id.clone(), actor: opts.on_call.clone() };
    responder.incidents.ack(&id, &responder.actor).await?;
    // Updates go out on the runbook's cadence through the cadence driver `incident serve` runs, ticking
    // this incident only, on the simulator's clock.
    let cadence = Cadence {
        driver: CadenceDriver::new(
            Arc::clone(&store),
            Arc::clone(&backends.clock),
            Arc::clone(&backends.notifier),
            policy.clone(),
        ),
        incident_id: id.clone(),
    };
    if incident.customer_facing {
        run.status_page = Some(run.start("status-page", Some(policy.cadence.status_page_within)));
        cadence.send_now(&mut run, UpdateKind::StatusPage, None).await?;
    } else {
        run.log("status page: none (the incident is not customer-facing)");
    }

    // 3. Triage.
    let cluster = backends.clusters.cluster(&backends.clusters.default_context()).await?;
    let probes: Vec<_> = backends.probes.values().cloned().collect();
    let triage_opts =
        TriageOptions { max_concurrency: policy.limits.max_concurrency as usize, ..TriageOptions::default() };
    let report = triage(&*cluster, &probes, &triage_opts, run.now()).await;
    run.log(format!(
        "triage: {} unhealthy pod(s), {} degraded deployment(s), {} section(s) missing",
        report.unhealthy_pods.len(),
        report.degraded_deployments.len(),
        report.missing.len()
    ));
    let summary = format!(
        "{} unhealthy pods, {} degraded deployments, {} warnings, partial={}",
        report.unhealthy_pods.len(),
        report.degraded_deployments.len(),
        report.warning_events.len(),
        report.is_partial()
    );
    responder.check(run.now(), &opts.on_call, "triage", report.is_healthy(), summary.clone()).await?;
    responder.incidents.set_status(&id, Status::Identified, &format!("triage: {summary}"), &responder.actor).await?;
    run.finish(first_response, true);

    // 4. Plan and approval.
    let procedure = procedure_from_spec(&scenario.procedure.name, &scenario.procedure.params, policy)?;
    let stage = run.start("plan", None);
    let plan = procedure.plan(&backends, policy).await?;
    for s in &plan.steps {
        run.log(format!("plan {}: {}", s.id, s.summary));
    }
    run.finish(stage, true);
    let approval = approver.approve(&plan, run.now()).await?;
    let mut expectations = Vec::new();
    let run_report = match approval {
        None => {
            failures.push("plan declined".into());
            None
        }
        Some(approval) => {
            run.log(format!("approved by {}", approval.by));
            let approved = plan.clone().approve(approval)?;
            let run_report = mitigate(&mut run, &cadence, approved, &store, &id).await?;
            for s in run_report.stages.iter().filter(|s| s.within_budget == Some(false)) {
                failures.push(format!("stage {} over budget", s.stage));
            }
            if run_report.status == RunStatus::Succeeded {
                expectations =
                    monitor_verify_resolve(&mut run, &responder, &cadence, platform, scenario, opts, &run_report)
                        .await?;
                failures.extend(
                    expectations
                        .iter()
                        .filter(|e| !e.ok)
                        .map(|e| format!("expectation failed: {} ({})", e.check, e.detail)),
                );
            } else {
                failures.push(format!(
                    "procedure {} ended {}; left: {}",
                    run_report.procedure,
                    run_report.status,
                    if run_report.left_state.is_empty() { "nothing".into() } else { run_report.left_state.join("; ") }
                ));
            }
            Some(run_report)
        }
    };
    let outcome =
        FlowResult { classification, declarations, triage: report, plan, run: run_report, expectations, failures };
    if let Some(stage) = run.status_page.take() {
        run.log("status page: no update was delivered");
        run.finish(stage, false);
    }
    finish_report(&responder, scenario, run.stages, outcome).await
}

/// Step 5: execute the approved plan, with updates on cadence while it runs.
async fn mitigate(
    run: &mut Run<'_>,
    cadence: &Cadence,
    approved: crate::engine::ApprovedPlan,
    store: &Arc<dyn Store>,
    incident_id: &str,
) -> Result<RunReport> {
    let stage = run.start("mitigation", None);
    let executor = Executor::new(run.backends.clone(), Arc::clone(store), run.policy.clone());
    let run_fut = executor.run(approved, Some(incident_id.to_owned()));
    tokio::pin!(run_fut);
    let mut next_due = cadence.tick(&mut *run).await?;
    let run_report = loop {
        let wait = next_due.map(|t| (t - run.now()).to_std().unwrap_or(Duration::ZERO));
        let clock = Arc::clone(&run.backends.clock);
        let sleep = async move {
            match wait {
                Some(w) => clock.sleep(w).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = &mut run_fut => break r?,
            () = sleep => next_due = cadence.tick(&mut *run).await?,
        }
    };
    run.log(format!("run {}: {}", run_report.run_id, run_report.status));
    let ok = run_report.status == RunStatus::Succeeded;
    run.finish(stage, ok);
    Ok(run_report)
}

/// Steps 6 and 7: monitoring with updates on cadence, the scenario's end-state checks, and resolution
/// when they hold.
async fn monitor_verify_resolve(
    run: &mut Run<'_>,
    responder: &Responder,
    cadence: &Cadence,
    platform: &SimPlatform,
    scenario: &Scenario,
    opts: &DrillOptions,
    run_report: &RunReport,
) -> Result<Vec<ExpectationOutcome>> {
    let (id, actor) = (&responder.id, &responder.actor);
    let fixed = format!("{} run {} succeeded", run_report.procedure, run_report.run_id);
    responder.incidents.set_status(id, Status::Monitoring, &format!("fix in place: {fixed}"), actor).await?;
    responder.incidents.mitigated(id, actor).await?;
    cadence.send_now(&mut *run, UpdateKind::Internal, Some("fix in place, monitoring")).await?;
    let stage = run.start("verification", None);
    let end = run.now() + TimeDelta::from_std(opts.monitor_for).unwrap_or(TimeDelta::zero());
    let mut next_due = cadence.tick(&mut *run).await?;
    while run.now() < end {
        let until = next_due.unwrap_or(end).min(end);
        run.backends.clock.sleep((until - run.now()).to_std().unwrap_or(Duration::from_secs(1))).await;
        if run.now() < end {
            next_due = cadence.tick(&mut *run).await?;
        }
    }
    let expectations = platform.verify(&scenario.expect);
    for e in &expectations {
        responder.check(run.now(), "incident-core", &e.check, e.ok, e.detail.clone()).await?;
    }
    let all_ok = expectations.iter().all(|e| e.ok);
    run.finish(stage, all_ok);
    if all_ok {
        let req = ResolveRequest::new(scenario.description.clone())
            .resolution(format!("{} (run {})", run_report.procedure, run_report.run_id));
        let resolved = responder.incidents.resolve(id, &req, actor).await?;
        Responder::log_messages(run, &resolved);
    }
    Ok(expectations)
}

/// The cadence driver of `incident serve`, for the drill's incident only.
struct Cadence {
    driver: CadenceDriver<dyn Store, dyn Clock, dyn Notifier>,
    incident_id: String,
}

impl Cadence {
    /// Send what is due now; the time the next update falls due (less the driver's lead).
    async fn tick(&self, run: &mut Run<'_>) -> Result<Option<DateTime<Utc>>> {
        let report = self.driver.tick_one(&self.incident_id, run.now()).await?;
        for a in report.sent.iter().chain(&report.skipped).chain(&report.failed) {
            Self::attempted(run, a);
        }
        Ok(report.next_due)
    }

    /// Send an update now (a status change is news).
    async fn send_now(&self, run: &mut Run<'_>, kind: UpdateKind, details: Option<&str>) -> Result<()> {
        let a = self.driver.send_update(&self.incident_id, kind, run.now(), details).await?;
        Self::attempted(run, &a);
        Ok(())
    }

    /// Log an attempt; the first delivered status-page update ends the status-page stage.
    fn attempted(run: &mut Run<'_>, a: &UpdateAttempt) {
        run.log(format!("{} → {}: {}", a.kind.as_str(), a.channel, a.outcome));
        if a.kind == UpdateKind::StatusPage && a.outcome == crate::timeline::Outcome::Succeeded {
            if let Some(stage) = run.status_page.take() {
                run.finish(stage, true);
            }
        }
    }
}

/// The severity of the drill's incident, decided once: the alert group's basis as the receiver would
/// build it (else the detector's), with what the scenario says of the incident, classified unless the
/// receiver's assessment already classified the same facts.
fn decide(
    scenario: &Scenario,
    from_alerts: Option<(Basis, Classification)>,
    declarations: &[Declaration],
    policy: &Policy,
) -> Result<Decided> {
    let (mut basis, assessed) = match from_alerts {
        Some((mut basis, classification)) => {
            basis.add_declarations(declarations);
            (basis, Some(classification))
        }
        None => match Basis::from_declarations(declarations) {
            Some((basis, _)) => (basis, None),
            None => {
                return Err(Error::invalid_input(format!(
                    "scenario {}: no declaration rule fired and no alert group warrants an incident",
                    scenario.name
                )));
            }
        },
    };
    let facts_before = basis.facts.clone();
    let spec = &scenario.incident;
    if let Some(title) = spec.title.as_deref().filter(|t| !t.trim().is_empty()) {
        basis.title = title.to_owned();
    }
    basis.impact.clone_from(&spec.impact);
    basis.components.extend(spec.components.iter().cloned());
    if spec.customer_facing.is_some() {
        basis.facts.customer_facing = spec.customer_facing;
    }
    if spec.customers_affected.is_some() {
        basis.facts.customers_affected = spec.customers_affected;
    }
    match assessed {
        Some(c) if basis.facts == facts_before && declarations.is_empty() => Decided::classified(basis, c),
        _ => basis.decide(policy),
    }
}

/// What the flow produced, for the report.
struct FlowResult {
    classification: Classification,
    declarations: Vec<Declaration>,
    triage: TriageReport,
    plan: Plan,
    run: Option<RunReport>,
    expectations: Vec<ExpectationOutcome>,
    failures: Vec<String>,
}

async fn finish_report(
    responder: &Responder,
    scenario: &Scenario,
    stages: Vec<StageResult>,
    o: FlowResult,
) -> Result<DrillReport> {
    let FlowResult { classification, declarations, triage, plan, run, expectations, mut failures } = o;
    let (incident, timeline) = responder.incidents.load(&responder.id).await?;
    for s in &stages {
        if !s.ok {
            failures.push(format!("stage {} did not complete", s.stage));
        } else if s.within_budget == Some(false) {
            failures.push(format!(
                "stage {} took {}s, over its budget {}",
                s.stage,
                s.elapsed_secs,
                s.budget.unwrap_or_default()
            ));
        }
    }
    let action_items = failures
        .iter()
        .map(|f| crate::postmortem::ActionItem { description: f.clone(), owner: "on-call".into(), due: None })
        .collect();
    let input = PostMortemInput {
        root_cause: Some(scenario.description.clone()),
        impact: Some(incident.impact.clone()),
        action_items,
        ..PostMortemInput::default()
    };
    let postmortem = PostMortem::build(&incident, &timeline, input);
    let passed = failures.is_empty();
    Ok(DrillReport {
        scenario: scenario.name.clone(),
        incident,
        classification,
        declarations,
        triage,
        plan,
        run,
        expectations,
        stages,
        timeline,
        postmortem,
        passed,
        failures,
    })
}

/// A one-screen summary of a drill report.
#[must_use]
pub fn summary(report: &DrillReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Drill {}: {} — incident {} [{}] {} ({})",
        report.scenario,
        if report.passed { "PASSED" } else { "FAILED" },
        report.incident.id,
        report.incident.severity,
        report.incident.title,
        report.incident.status
    );
    for st in &report.stages {
        let budget = st.budget.map(|b| format!(" / budget {b}")).unwrap_or_default();
        let verdict = match (st.ok, st.within_budget) {
            (false, _) => "FAILED",
            (true, Some(false)) => "OVER BUDGET",
            _ => "ok",
        };
        let _ = writeln!(s, "  {:<20} {:>6}s{budget:<16} {verdict}", st.stage, st.elapsed_secs);
    }
    if let Some(run) = &report.run {
        for st in &run.stages {
            let _ = writeln!(
                s,
                "  {:<20} {:>6}s{:<16} {}",
                format!("└ {}", st.stage),
                st.elapsed_secs.map_or(0, |e| e.round() as i64),
                st.budget.map(|b| format!(" / budget {b}")).unwrap_or_default(),
                match st.within_budget {
                    Some(false) => "OVER BUDGET",
                    _ => "ok",
                }
            );
        }
    }
    let m = report.incident.metrics();
    let fmt = |d: Option<HumanDuration>| d.map_or_else(|| "n/a".to_owned(), |d| d.to_string());
    let _ = writeln!(s, "  MTTD {}  MTTA {}  MTTM {}  MTTR {}", fmt(m.mttd), fmt(m.mtta), fmt(m.mttm), fmt(m.mttr));
    for f in &report.failures {
        let _ = writeln!(s, "  ! {f}");
    }
    s
}
