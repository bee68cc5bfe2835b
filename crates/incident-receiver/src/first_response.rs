//! The first response to a declaration: triage, match a runbook procedure, plan it (a dry run: never
//! executed, never approved), store the plan with its digest on the incident, and post the proposal to
//! the incident channel.
//!
//! It runs in the background on the replica that declared (declaration is unique: the PostgreSQL store
//! keeps one open incident per alert group), after the declaration is committed, so a webhook is
//! acknowledged without waiting for it. The whole response is bounded by `FirstResponse::deadline`;
//! a failure (a cluster that does not answer, a deadline passed, a plan the guard rails refuse) is
//! recorded on the timeline and posted, never propagated.
//!
//! On the timeline, by actor `incident-serve`, each step with its duration:
//!
//! | event | when |
//! |---|---|
//! | `note` `First response: triage of <context> in N ms: ...` | triage finished (or `... failed after N ms: ...`) |
//! | `note` `First response: matched <procedure> (rule <id>) in N ms: ...` | a rule matched (or `no rule matched ...`) |
//! | `action_planned` per step, then `note` `First response: planned ... digest <sha256>` | the dry run |
//! | `evidence_added` `first-response/{triage,match,plan}.json` | the reports, hashed into the chain |
//! | `message_sent` `first_response` | the channel message, as every notification is recorded |
//! | `note` `First response: posted to <channel> in N ms (<outcome>)` | after the post |

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use incident_core::backend::{Backends, Destination, Notification, Notifier};
use incident_core::clock::Clock;
use incident_core::delivery::deliver_and_record;
use incident_core::engine::Plan;
use incident_core::impact::ImpactFacts;
use incident_core::incident::Incident;
use incident_core::matching::{Findings, MatchAlert, MatchInput, ProcedureMatch, match_procedure};
use incident_core::preserve::{EvidenceDraft, preserve};
use incident_core::store::Store;
use incident_core::timeline::EventKind;
use incident_core::triage::{TriageOptions, TriageReport};
use incident_core::{Error, Policy, Result};
use tokio::time::Instant;

/// Actor of the first response's events.
const ACTOR: &str = "incident-serve";
/// Kind of the channel message.
pub(crate) const MESSAGE_KIND: &str = "first_response";
/// Prefix of the evidence items.
pub(crate) const PREFIX: &str = "first-response";
/// The stored triage report, match and plan.
pub(crate) const TRIAGE_ITEM: &str = "first-response/triage.json";
pub(crate) const MATCH_ITEM: &str = "first-response/match.json";
pub(crate) const PLAN_ITEM: &str = "first-response/plan.json";

/// Where each first response gets the platform it triages and plans against: called once per
/// declaration (a real cluster's backends as they are; a fresh copy of a simulator's state).
pub type BackendsSource = dyn Fn() -> Result<Backends> + Send + Sync;

/// What the first response reads and how long it may take.
#[derive(Clone)]
pub struct FirstResponse {
    /// The platform triaged and planned against (a real cluster, or the simulator's backends).
    pub backends: Arc<BackendsSource>,
    /// The kube context triaged (default: the backends' default context).
    pub context: Option<String>,
    /// Triage options (namespace, log tail, per-call deadline, git repository); `since` is set at each run
    /// to `lookback` before the backends' now.
    pub triage: TriageOptions,
    /// How far back recent changes (rollouts, commits) are looked for (default 1 h).
    pub lookback: Duration,
    /// Triage, match and plan together must finish within this (default 20 s); the post is bounded by the
    /// notifier's own retry budget.
    pub deadline: Duration,
    /// The flags the approve command shown in the channel carries after the plan file (`--store ...
    /// --sim ...`): what selects this receiver's store and platform. Never a secret.
    pub cli_flags: String,
}

impl std::fmt::Debug for FirstResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirstResponse")
            .field("context", &self.context)
            .field("namespace", &self.triage.namespace)
            .field("lookback", &self.lookback)
            .field("deadline", &self.deadline)
            .field("cli_flags", &self.cli_flags)
            .finish_non_exhaustive()
    }
}

impl FirstResponse {
    /// A first response on `backends`: the default context, namespace `ml-platform`, 1 h of recent
    /// changes, a 20 s deadline.
    #[must_use]
    pub fn new(backends: Backends) -> Self {
        Self::from_source(Arc::new(move || Ok(backends.clone())))
    }

    /// A first response on the backends `source` gives for each declaration (as [`FirstResponse::new`]
    /// otherwise).
    #[must_use]
    pub fn from_source(source: Arc<BackendsSource>) -> Self {
        Self {
            backends: source,
            context: None,
            triage: TriageOptions::default(),
            lookback: Duration::from_secs(3600),
            deadline: Duration::from_secs(20),
            cli_flags: String::new(),
        }
    }

    /// Use `deadline` for triage, match and plan together.
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Show `flags` in the approve command.
    #[must_use]
    pub fn cli_flags(mut self, flags: impl Into<String>) -> Self {
        self.cli_flags = flags.into();
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        self.triage.validate()?;
        if self.deadline < Duration::from_millis(100) {
            return Err(Error::invalid_input("receiver: first_response.deadline must be at least 100ms"));
        }
        if self.cli_flags.contains('\n') {
            return Err(Error::invalid_input("receiver: first_response.cli_flags must be one line"));
        }
        Ok(())
    }
}

/// A committed declaration and what it was declared from.
pub(crate) struct Declared {
    pub(crate) incident: Incident,
    pub(crate) alerts: Vec<MatchAlert>,
    pub(crate) facts: ImpactFacts,
}

/// What the first response found (for the message and the tests).
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) triage: Option<TriageReport>,
    pub(crate) matched: Option<ProcedureMatch>,
    pub(crate) plan: Option<Plan>,
    /// Why it stopped early, if it did.
    pub(crate) failure: Option<String>,
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// Everything the first response needs besides its configuration.
pub(crate) struct Deps {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) notifier: Option<Arc<dyn Notifier>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) policy: Arc<Policy>,
    pub(crate) metrics: Option<Arc<crate::Metrics>>,
}

/// Run the first response to `declared`, recording every step; never fails (failures are recorded and
/// logged). The channel message waits for `ready` (the declaration's own messages go first).
pub(crate) async fn respond(
    config: &FirstResponse,
    deps: &Deps,
    declared: Declared,
    ready: tokio::sync::oneshot::Receiver<()>,
) -> Outcome {
    let id = declared.incident.id.clone();
    let started = Instant::now();
    let deadline = started + config.deadline;
    let mut out = Outcome { triage: None, matched: None, plan: None, failure: None };

    // Triage.
    let backends = match (config.backends)() {
        Ok(b) => b,
        Err(e) => {
            let why = format!("the platform cannot be read: {}: {}", e.kind(), e.message());
            return fail(config, deps, &declared, out, why, ready, started).await;
        }
    };
    let context = config.context.clone().unwrap_or_else(|| backends.clusters.default_context());
    let t0 = Instant::now();
    let triaged = tokio::time::timeout_at(deadline, triage(config, &backends, &context)).await;
    let took = t0.elapsed();
    let report = match triaged {
        Ok(Ok(report)) => {
            note(
                deps,
                &id,
                format!("First response: triage of {context} in {} ms: {}", ms(took), triage_summary(&report)),
            )
            .await;
            report
        }
        Ok(Err(e)) => {
            let why = format!("triage of {context} failed after {} ms: {}: {}", ms(took), e.kind(), e.message());
            return fail(config, deps, &declared, out, why, ready, started).await;
        }
        Err(_) => {
            let why = format!("triage of {context} did not finish within the deadline ({:?})", config.deadline);
            return fail(config, deps, &declared, out, why, ready, started).await;
        }
    };

    // Match.
    let t0 = Instant::now();
    let mut input = MatchInput {
        at: None,
        facts: declared.facts.clone(),
        alerts: declared.alerts.clone(),
        findings: Findings::from_triage(&report),
        context: BTreeMap::from([("kube_context".to_owned(), context.clone())]),
    };
    let firing_start =
        input.alerts.iter().any(|a| a.starts_at.is_some() && a.status == incident_core::alert::AlertStatus::Firing);
    if !firing_start {
        input.at = Some(backends.clock.now());
    }
    out.triage = Some(report);
    let matched = match match_procedure(&deps.policy, &input) {
        Ok(m) => m,
        Err(e) => {
            let why = format!("matching failed: {}: {}", e.kind(), e.message());
            return fail(config, deps, &declared, out, why, ready, started).await;
        }
    };
    let took = t0.elapsed();
    match &matched.matched {
        Some(m) => {
            note(
                deps,
                &id,
                format!(
                    "First response: matched {} (rule {}) in {} ms: {}",
                    m.procedure,
                    m.rule,
                    ms(took),
                    m.facts.join("; ")
                ),
            )
            .await;
        }
        None => {
            note(
                deps,
                &id,
                format!(
                    "First response: no rule matched in {} ms ({} rule(s) considered): no procedure proposed",
                    ms(took),
                    matched.rules.len()
                ),
            )
            .await;
        }
    }
    let procedure = matched.procedure(&deps.policy);
    out.matched = Some(matched);

    // Plan (dry run).
    let procedure = match procedure {
        Ok(Some(p)) => Some(p),
        Ok(None) => None,
        Err(e) => {
            let why = format!("the matched procedure cannot be built: {}: {}", e.kind(), e.message());
            return fail(config, deps, &declared, out, why, ready, started).await;
        }
    };
    if let Some(procedure) = procedure {
        let t0 = Instant::now();
        let planned = tokio::time::timeout_at(deadline, procedure.plan(&backends, &deps.policy)).await;
        let took = t0.elapsed();
        match planned {
            Ok(Ok(plan)) => {
                let mut kinds: Vec<EventKind> = plan
                    .steps
                    .iter()
                    .map(|s| EventKind::ActionPlanned {
                        run_id: plan.run_id.clone(),
                        step_id: s.id.clone(),
                        summary: s.summary.clone(),
                    })
                    .collect();
                kinds.push(EventKind::Note {
                    text: format!(
                        "First response: planned {} as run {} in {} ms ({} step(s); dry run: not executed, not \
                         approved): digest {}",
                        plan.procedure.name,
                        plan.run_id,
                        ms(took),
                        plan.steps.len(),
                        plan.digest
                    ),
                });
                if let Err(e) = append(&*deps.store, &*deps.clock, &id, kinds).await {
                    tracing::warn!(incident = %id, error = %e, "receiver: first response: plan events not recorded");
                }
                out.plan = Some(plan);
            }
            Ok(Err(e)) => {
                let why = format!("planning failed after {} ms: {}: {}", ms(took), e.kind(), e.message());
                return fail(config, deps, &declared, out, why, ready, started).await;
            }
            Err(_) => {
                let why = format!("planning did not finish within the deadline ({:?})", config.deadline);
                return fail(config, deps, &declared, out, why, ready, started).await;
            }
        }
    }
    store_items(deps, &id, &out).await;
    post(config, deps, &declared, &out, ready, started).await;
    tracing::info!(
        incident = %id,
        procedure = out.plan.as_ref().map_or("none", |p| p.procedure.name.as_str()),
        digest = out.plan.as_ref().map_or("", |p| p.digest.as_str()),
        ms = ms(started.elapsed()),
        "receiver: first response"
    );
    out
}

async fn triage(config: &FirstResponse, backends: &Backends, context: &str) -> Result<TriageReport> {
    let cluster = backends.clusters.cluster(context).await?;
    let now = backends.clock.now();
    let mut opts = config.triage.clone();
    opts.since = Some(now - chrono::TimeDelta::from_std(config.lookback).unwrap_or(chrono::TimeDelta::hours(1)));
    let probes: Vec<_> = backends.probes.values().cloned().collect();
    Ok(incident_core::triage::triage(&*cluster, &probes, &opts, now).await)
}

/// Record `why`, store what was found so far, post the failure; the outcome says why.
async fn fail(
    config: &FirstResponse,
    deps: &Deps,
    declared: &Declared,
    mut out: Outcome,
    why: String,
    ready: tokio::sync::oneshot::Receiver<()>,
    started: Instant,
) -> Outcome {
    let id = &declared.incident.id;
    tracing::warn!(incident = %id, reason = %why, "receiver: first response failed");
    note(deps, id, format!("First response failed: {why}; no plan proposed")).await;
    out.failure = Some(why);
    store_items(deps, id, &out).await;
    post(config, deps, declared, &out, ready, started).await;
    out
}

/// Record `text` as a note on the timeline of `id` (a failure is logged).
async fn note(deps: &Deps, id: &str, text: String) {
    if let Err(e) = append(&*deps.store, &*deps.clock, id, vec![EventKind::Note { text }]).await {
        tracing::warn!(incident = %id, error = %e, "receiver: first response: note not recorded");
    }
}

/// Append `kinds` to the stored timeline of `id` in one write.
async fn append(store: &dyn Store, clock: &dyn Clock, id: &str, kinds: Vec<EventKind>) -> Result<()> {
    let at = clock.now();
    let update: Box<incident_core::store::IncidentUpdate> = Box::new(move |_incident, timeline| {
        let at = timeline.last().map_or(at, |last| at.max(last.at));
        for k in &kinds {
            timeline.append(at, ACTOR, k.clone())?;
        }
        Ok(true)
    });
    store.update_incident(id, update).await.map(|_| ())
}

/// Store the triage report, the match and the plan as evidence items (hashed into the timeline).
async fn store_items(deps: &Deps, id: &str, out: &Outcome) {
    let mut drafts = Vec::new();
    let mut add = |name: &str, value: Result<EvidenceDraft>| match value {
        Ok(d) => drafts.push(d),
        Err(e) => {
            tracing::warn!(incident = %id, item = name, error = %e, "receiver: first response: item not serialized")
        }
    };
    if let Some(t) = &out.triage {
        add(TRIAGE_ITEM, EvidenceDraft::json(TRIAGE_ITEM, t));
    }
    if let Some(m) = &out.matched {
        add(MATCH_ITEM, EvidenceDraft::json(MATCH_ITEM, m));
    }
    if let Some(p) = &out.plan {
        add(PLAN_ITEM, EvidenceDraft::json(PLAN_ITEM, p));
    }
    if drafts.is_empty() {
        return;
    }
    if let Err(e) = preserve(&*deps.store, &*deps.clock, &deps.policy, id, drafts, ACTOR).await {
        tracing::warn!(incident = %id, error = %e, "receiver: first response: reports not stored");
    }
}

/// Post the proposal (or the failure) to the incident channel, recorded as every notification is.
async fn post(
    config: &FirstResponse,
    deps: &Deps,
    declared: &Declared,
    out: &Outcome,
    ready: tokio::sync::oneshot::Receiver<()>,
    started: Instant,
) {
    // Counted before the last note, so a reader who saw that note sees the count too.
    let count = || {
        if let Some(m) = &deps.metrics {
            let outcome = match (&out.plan, &out.failure) {
                (_, Some(_)) => "failed",
                (Some(_), None) => "proposed",
                (None, None) => "no_match",
            };
            m.first_response(outcome, started.elapsed());
        }
    };
    let Some(notifier) = &deps.notifier else {
        count();
        return;
    };
    // Sent or dropped: either way the declaration's messages are done.
    let _ = ready.await;
    let incident = &declared.incident;
    let text = render_message(incident, out, &config.cli_flags);
    let message = Notification {
        incident_id: incident.id.clone(),
        to: Destination::Channel { name: incident.channel.clone() },
        kind: MESSAGE_KIND.to_owned(),
        text,
    };
    let t0 = Instant::now();
    match deliver_and_record(&*deps.store, &**notifier, &*deps.clock, ACTOR, message).await {
        Ok(r) => {
            count();
            note(
                deps,
                &incident.id,
                format!("First response: posted to {} in {} ms ({})", r.channel, ms(t0.elapsed()), r.outcome),
            )
            .await;
        }
        Err(e) => {
            count();
            tracing::warn!(incident = %incident.id, error = %e, "receiver: first response: message not recorded");
        }
    }
}

/// One line: what triage found.
pub(crate) fn triage_summary(r: &TriageReport) -> String {
    let mut parts = Vec::new();
    parts.push(format!("{} unhealthy pod(s)", r.unhealthy_pods.len()));
    parts.push(format!("{} node(s) not ready", r.not_ready_nodes.len()));
    if r.degraded_deployments.is_empty() {
        parts.push("no degraded deployment".to_owned());
    } else {
        let names: Vec<String> = r
            .degraded_deployments
            .iter()
            .map(|d| format!("{}/{} ({} unavailable)", d.deployment.namespace, d.deployment.name, d.unavailable))
            .collect();
        parts.push(format!("degraded: {}", names.join(", ")));
    }
    if !r.services_without_endpoints.is_empty() {
        parts.push(format!("without endpoints: {}", r.services_without_endpoints.join(", ")));
    }
    parts.push(format!("{} warning event(s)", r.warning_events.len()));
    if let Some(c) = &r.changes {
        parts.push(format!(
            "{} rollout(s) and {} commit(s) since {}",
            c.rollouts.len(),
            c.commits.len(),
            incident_core::clock::format_utc(c.since)
        ));
    }
    if !r.missing.is_empty() {
        let missing: Vec<&str> = r.missing.iter().map(|m| m.section.as_str()).collect();
        parts.push(format!("missing: {}", missing.join(", ")));
    }
    parts.join("; ")
}

/// The channel message: the triage summary, the suspected change, the plan (before → after, undo), its
/// digest and how to approve it; or why nothing is proposed.
pub(crate) fn render_message(incident: &Incident, out: &Outcome, cli_flags: &str) -> String {
    let mut s = String::new();
    let id = &incident.id;
    match (&out.plan, &out.failure) {
        (Some(p), _) => {
            let _ =
                writeln!(s, "First response for {id}: proposed {} (dry run: nothing was changed)", p.procedure.name);
        }
        (None, Some(_)) => {
            let _ = writeln!(s, "First response for {id}: no plan proposed");
        }
        (None, None) => {
            let _ = writeln!(s, "First response for {id}: no runbook procedure matched; no plan proposed");
        }
    }
    if let Some(t) = &out.triage {
        let _ = writeln!(s, "Triage ({}): {}", t.context, triage_summary(t));
    }
    if let Some(why) = &out.failure {
        let _ = writeln!(s, "Failed: {why}. Triage by hand: incident triage{}", without_store(cli_flags));
    }
    let Some(m) = &out.matched else { return s };
    let chosen = m.matched.as_ref();
    // The suspected change: the rollout of the deployment the plan acts on, else the newest one.
    let findings = out.triage.as_ref().map(Findings::from_triage).unwrap_or_default();
    let target = m.params().get("deployment").cloned();
    let suspect = findings
        .rollouts
        .iter()
        .filter(|r| target.as_ref().is_none_or(|t| *t == r.name))
        .max_by_key(|r| r.at)
        .or_else(|| findings.rollouts.iter().max_by_key(|r| r.at));
    if let Some(r) = suspect {
        let _ = write!(s, "Suspected change: {}/{} revision {}", r.namespace, r.name, r.revision);
        if let Some(prev) = r.previous_revision {
            let _ = write!(s, " (previous {prev})");
        }
        let _ = write!(s, " rolled out {}", incident_core::clock::format_utc(r.at));
        if let Some(cause) = &r.change_cause {
            let _ = write!(s, ": {cause}");
        }
        match &r.commit {
            Some(c) => {
                let _ = writeln!(s, "; commit {c}");
            }
            None => s.push_str("; commit unknown\n"),
        }
    }
    match chosen {
        Some(c) => {
            let _ = writeln!(s, "Why {} (rule {}): {}", c.procedure, c.rule, c.facts.join("; "));
        }
        None => {
            let _ = writeln!(s, "No rule matched ({} considered); see incident match.", m.rules.len());
        }
    }
    if let Some(p) = &out.plan {
        let _ = write!(s, "{p}");
        let dir = format!("first-response-{id}");
        let production = if p.needs_production_confirmation { " --confirm-production" } else { "" };
        let flags = if cli_flags.is_empty() { String::new() } else { format!(" {cli_flags}") };
        let store = store_flag(cli_flags);
        let _ = writeln!(s, "Approve (after review; the digest must match):");
        let _ = writeln!(s, "  incident evidence collect {id} --out {dir}{store}");
        let _ = writeln!(
            s,
            "  incident run {dir}/evidence/{PLAN_ITEM} --expect-digest {} --approve-by YOUR_NAME --incident {id}{production}{flags}",
            p.digest
        );
        let params: String = m.params().iter().map(|(k, v)| format!(" --param {k}={v}")).collect();
        let _ = writeln!(
            s,
            "Older than guard_rails.max_plan_age? Re-plan: incident plan {}{params}{} --out plan.json",
            p.procedure.name,
            without_store(cli_flags)
        );
    }
    s
}

/// `flags` without `--store X` (`incident triage` reads no store), with a leading space when not empty.
fn without_store(flags: &str) -> String {
    let mut out = String::new();
    let mut words = flags.split_whitespace();
    while let Some(w) = words.next() {
        if w == "--store" {
            words.next();
            continue;
        }
        out.push(' ');
        out.push_str(w);
    }
    out
}

/// The `--store X` part of `flags` (for `incident evidence collect`), with its leading space.
fn store_flag(flags: &str) -> String {
    let mut words = flags.split_whitespace();
    while let Some(w) = words.next() {
        if w == "--store" {
            return words.next().map(|v| format!(" --store {v}")).unwrap_or_default();
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use incident_core::backend::{Cluster, Clusters};
    use incident_core::clock::ManualClock;
    use incident_core::incident::DeclareRequest;
    use incident_core::sim::{Scenario, SimPlatform, TimeMode};
    use incident_core::store::MemoryStore;
    use incident_core::timeline::Timeline;

    /// A cluster side that refuses, or never answers.
    struct BadClusters {
        hang: bool,
    }

    #[async_trait::async_trait]
    impl Clusters for BadClusters {
        async fn cluster(&self, context: &str) -> Result<Arc<dyn Cluster>> {
            if self.hang {
                std::future::pending::<()>().await;
            }
            Err(Error::unavailable(format!("context {context}: connection refused")))
        }
        fn default_context(&self) -> String {
            "ml-platform-primary".into()
        }
    }

    /// A notifier that keeps what it is given.
    #[derive(Default)]
    struct Keep(std::sync::Mutex<Vec<Notification>>);

    #[async_trait::async_trait]
    impl Notifier for Keep {
        async fn notify(&self, n: &Notification) -> Result<incident_core::backend::Delivery> {
            self.0.lock().expect("lock").push(n.clone());
            Ok(incident_core::backend::Delivery::Delivered { reference: Some("ts-1".into()) })
        }
    }

    /// A memory store, a manual clock at `now`, a notifier that keeps what it is given, and the
    /// [`Deps`] of a first response over them with `policy`.
    fn fixture(
        now: chrono::DateTime<chrono::Utc>,
        policy: Policy,
    ) -> (Arc<MemoryStore>, Arc<ManualClock>, Arc<Keep>, Deps) {
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(now));
        let notifier = Arc::new(Keep::default());
        let deps = Deps {
            store: Arc::clone(&store) as Arc<dyn Store>,
            notifier: Some(Arc::clone(&notifier) as Arc<dyn Notifier>),
            clock: Arc::clone(&clock) as Arc<dyn Clock>,
            policy: Arc::new(policy),
            metrics: None,
        };
        (store, clock, notifier, deps)
    }

    async fn declared(store: &MemoryStore, clock: &ManualClock) -> Declared {
        let req = DeclareRequest {
            id: "INC-FR".into(),
            title: "Inference API errors".into(),
            severity: incident_core::Severity::P1,
            components: vec!["ml-inference-api".into()],
            impact: String::new(),
            customer_facing: true,
            customers_affected: true,
            on_call: "alice".into(),
            commander: None,
            started_at: None,
            detected_at: None,
            detection_source: None,
        };
        let (incident, tl) = Incident::declare(req, &Policy::default(), clock.now()).expect("declare");
        store.save_incident(&incident).await.expect("save");
        store.append_events(&incident.id, tl.events()).await.expect("events");
        Declared { incident, alerts: Vec::new(), facts: ImpactFacts::default() }
    }

    fn notes(tl: &Timeline) -> Vec<String> {
        tl.events()
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Note { text } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    fn ready() -> tokio::sync::oneshot::Receiver<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = tx.send(());
        rx
    }

    async fn run_with(clusters: BadClusters, deadline: Duration) -> (Outcome, Timeline, Vec<Notification>) {
        let platform = SimPlatform::from_scenario(&Scenario::builtin("bad-deploy").expect("scenario")).expect("sim");
        platform.set_time_mode(TimeMode::Jump);
        let mut backends = platform.backends();
        backends.clusters = Arc::new(clusters);
        let (store, clock, notifier, deps) = fixture(platform.now(), Policy::default());
        let d = declared(&store, &clock).await;
        let config = FirstResponse::new(backends).deadline(deadline).cli_flags("--store s.sqlite --sim state.json");
        let out = respond(&config, &deps, d, ready()).await;
        let tl = store.timeline("INC-FR").await.expect("timeline");
        let sent = notifier.0.lock().expect("lock").clone();
        (out, tl, sent)
    }

    #[tokio::test]
    async fn a_triage_error_is_recorded_and_posted_and_nothing_is_planned() {
        let (out, tl, sent) = run_with(BadClusters { hang: false }, Duration::from_secs(5)).await;
        assert!(out.plan.is_none() && out.matched.is_none());
        let why = out.failure.expect("failure");
        assert!(why.contains("triage of ml-platform-primary failed after"), "{why}");
        assert!(why.contains("unavailable: context ml-platform-primary: connection refused"), "{why}");
        let notes = notes(&tl);
        assert!(notes.iter().any(|n| n.starts_with("First response failed: triage of")), "{notes:?}");
        assert!(notes.iter().any(|n| n.starts_with("First response: posted to #incident-")), "{notes:?}");
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].kind, MESSAGE_KIND);
        assert!(sent[0].text.contains("no plan proposed") && sent[0].text.contains("connection refused"));
        assert!(sent[0].text.contains("Triage by hand: incident triage --sim state.json\n"), "{}", sent[0].text);
        assert!(
            tl.events().iter().any(|e| matches!(&e.kind, EventKind::MessageSent { kind, .. } if kind == MESSAGE_KIND))
        );
        assert!(!tl.events().iter().any(|e| matches!(e.kind, EventKind::ActionPlanned { .. })));
    }

    #[tokio::test]
    async fn a_triage_past_the_deadline_is_recorded_as_such() {
        let (out, tl, sent) = run_with(BadClusters { hang: true }, Duration::from_millis(200)).await;
        let why = out.failure.expect("failure");
        assert!(why.contains("did not finish within the deadline (200ms)"), "{why}");
        assert!(notes(&tl).iter().any(|n| n.contains("did not finish within the deadline")), "{:?}", notes(&tl));
        assert_eq!(sent.len(), 1);
    }

    #[tokio::test]
    async fn a_plan_that_fails_is_recorded_with_the_match_and_posted() {
        let platform = SimPlatform::from_scenario(&Scenario::builtin("bad-deploy").expect("scenario")).expect("sim");
        platform.set_time_mode(TimeMode::Jump);
        let policy = Policy::from_toml_str(
            "[[matching.rules]]\nid = \"roll-back-a-ghost\"\nprocedure = \"application-rollback\"\n\
             all = [{ kind = \"fact\", fact = \"customer_facing_errors\" }]\n\
             params.deployment = [{ from = \"value\", key = \"no-such-deployment\" }]\n",
        )
        .expect("policy");
        let (store, clock, notifier, deps) = fixture(platform.now(), policy);
        let mut d = declared(&store, &clock).await;
        d.facts.customer_facing_errors = true;
        let out = respond(&FirstResponse::new(platform.backends()), &deps, d, ready()).await;
        let why = out.failure.expect("failure");
        assert!(why.starts_with("planning failed after "), "{why}");
        assert!(out.plan.is_none() && out.matched.is_some() && out.triage.is_some());
        let tl = store.timeline("INC-FR").await.expect("timeline");
        let notes = notes(&tl);
        assert!(
            notes
                .iter()
                .any(|n| n.starts_with("First response: matched application-rollback (rule roll-back-a-ghost)")),
            "{notes:?}"
        );
        assert!(notes.iter().any(|n| n.starts_with("First response failed: planning failed after ")), "{notes:?}");
        // What was found is kept; no plan.
        let evidence: Vec<String> =
            store.evidence("INC-FR").await.expect("evidence").into_iter().map(|i| i.name).collect();
        assert_eq!(evidence, [MATCH_ITEM, TRIAGE_ITEM]);
        let sent = notifier.0.lock().expect("lock").clone();
        assert!(
            sent[0].text.contains("no plan proposed") && sent[0].text.contains("planning failed"),
            "{}",
            sent[0].text
        );
    }

    #[tokio::test]
    async fn the_bad_deploy_on_the_simulator_gets_a_rollback_plan_that_is_not_executed() {
        let platform = SimPlatform::from_scenario(&Scenario::builtin("bad-deploy").expect("scenario")).expect("sim");
        platform.set_time_mode(TimeMode::Jump);
        platform.advance(Duration::from_secs(300)).expect("advance");
        let ops = platform.operation_log().len();
        let (store, clock, notifier, deps) = fixture(platform.now(), Policy::default());
        let mut d = declared(&store, &clock).await;
        d.alerts = vec![MatchAlert {
            status: incident_core::alert::AlertStatus::Firing,
            starts_at: Some(platform.now()),
            labels: [("alertname", "HighErrorRate"), ("service", "ml-inference-api")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            annotations: BTreeMap::new(),
        }];
        let config = FirstResponse::new(platform.backends()).cli_flags("--store s.sqlite --sim state.json");
        let out = respond(&config, &deps, d, ready()).await;
        assert!(out.failure.is_none(), "{:?}", out.failure);
        let plan = out.plan.expect("plan");
        assert_eq!(plan.procedure.name, "application-rollback");
        assert_eq!(platform.operation_log().len(), ops, "planning mutates nothing");
        let tl = store.timeline("INC-FR").await.expect("timeline");
        let planned = tl.events().iter().filter(|e| matches!(e.kind, EventKind::ActionPlanned { .. })).count();
        assert_eq!(planned, plan.steps.len());
        let evidence: Vec<String> =
            store.evidence("INC-FR").await.expect("evidence").into_iter().map(|i| i.name).collect();
        assert_eq!(evidence, [MATCH_ITEM, PLAN_ITEM, TRIAGE_ITEM]);
        let sent = notifier.0.lock().expect("lock").clone();
        let text = &sent[0].text;
        assert!(text.contains(&plan.digest), "{text}");
        assert!(
            text.contains(
                "Re-plan: incident plan application-rollback --param context=ml-platform-primary --param \
                 deployment=ml-inference-api --param namespace=ml-platform --sim state.json --out plan.json\n"
            ),
            "{text}"
        );
        assert!(text.contains("Suspected change: ml-platform/ml-inference-api revision 3 (previous 2)"), "{text}");
        assert!(
            text.contains("incident evidence collect INC-FR --out first-response-INC-FR --store s.sqlite"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "incident run first-response-INC-FR/evidence/first-response/plan.json --expect-digest {} --approve-by YOUR_NAME --incident INC-FR",
                plan.digest
            )),
            "{text}"
        );
    }
}
