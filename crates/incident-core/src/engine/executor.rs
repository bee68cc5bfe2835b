//! The executor: guard rails, concurrent DAG scheduling, deadlines, retries with jittered backoff, a
//! write-ahead journal per step, crash resume with reconciliation, and compensation.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;

use super::action::check_inverse;
use super::failpoint::{FailpointPoint, Failpoints};
use super::guard::{self, FindingLevel};
use super::plan::{Approval, ApprovedPlan, Plan, PlannedStep};
use super::procedure::{Procedure, Step, StepKind};
use crate::backend::Backends;
use crate::canon;
use crate::policy::{Policy, RetryPolicy};
use crate::signing::Trust;
use crate::store::{JournalDraft, JournalEntry, JournalPhase, RunRecord, RunStatus, Store};
use crate::timeline::{EventKind, Outcome, Timeline};
use crate::{Error, HumanDuration, Result};

/// Default executor identity written to claims and journal entries. Executors sharing an identity are not
/// excluded from each other: give each process its own with [`Executor::with_owner`] (the CLI uses
/// `host:pid`) and resume a crashed run with [`Executor::taking_over`].
pub const DEFAULT_OWNER: &str = "incident-core-executor";

/// Suffix of the journal step id of a step's compensation.
const COMPENSATE_SUFFIX: &str = "#compensate";
/// Journal id under which a step records the Route53 change it submitted (`{"dns_change": id}`), so a
/// run resumed before the change is `INSYNC` still waits for it.
const SUBMITTED_SUFFIX: &str = "#submitted";

/// Journal step id of a run's approval (approver, time, plan digest).
pub const APPROVAL_STEP: &str = "#approval";

/// Status of one step in a [`RunReport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Done.
    Succeeded,
    /// Failed (see `error`).
    Failed,
    /// Not run because an earlier step failed.
    Skipped,
    /// Done, then undone by compensation.
    Compensated,
    /// Not run yet (the run is paused or was interrupted).
    NotStarted,
    /// Found already applied when resuming an interrupted step: recorded without executing.
    Reconciled,
    /// An approval gate waiting for [`Executor::approve_gate`].
    AwaitingApproval,
}

impl StepStatus {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::Compensated => "compensated",
            Self::NotStarted => "not_started",
            Self::Reconciled => "reconciled",
            Self::AwaitingApproval => "awaiting_approval",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            Self::Succeeded,
            Self::Failed,
            Self::Skipped,
            Self::Compensated,
            Self::NotStarted,
            Self::Reconciled,
            Self::AwaitingApproval,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    const fn is_done_ok(self) -> bool {
        matches!(self, Self::Succeeded | Self::Reconciled)
    }

    /// Words for people: `succeeded`, `not started`, `awaiting approval`... (also the `Display` form).
    #[must_use]
    pub const fn words(self) -> &'static str {
        match self {
            Self::NotStarted => "not started",
            Self::AwaitingApproval => "awaiting approval",
            other => other.as_str(),
        }
    }
}

impl std::fmt::Display for StepStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.words())
    }
}

/// One step's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StepReport {
    /// Step id.
    pub id: String,
    /// Stage.
    pub stage: String,
    /// Status.
    pub status: StepStatus,
    /// Attempts made (all lives of the run).
    pub attempts: u32,
    /// The error, when failed (or when compensation failed).
    pub error: Option<String>,
    /// What the backend reported / what the check found.
    pub detail: String,
    /// Whether the step changed platform state (a no-op or a check did not).
    pub changed: bool,
    /// First attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// Outcome recorded.
    pub finished_at: Option<DateTime<Utc>>,
}

/// A stage's elapsed time against its budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StageScore {
    /// Stage.
    pub stage: String,
    /// Budget from `policy.stage_budgets[procedure][stage]`.
    pub budget: Option<HumanDuration>,
    /// From the first step's start to the last step's finish, seconds.
    pub elapsed_secs: Option<f64>,
    /// `elapsed <= budget` (unknown without budget or timing).
    pub within_budget: Option<bool>,
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunReport {
    /// Run id.
    pub run_id: String,
    /// Procedure.
    pub procedure: String,
    /// Incident, if any.
    pub incident_id: Option<String>,
    /// Succeeded, Failed, Compensated, or Running (paused at an approval gate).
    pub status: RunStatus,
    /// Every step in plan order.
    pub steps: Vec<StepReport>,
    /// Exactly what was changed and not undone (one line per change).
    pub left_state: Vec<String>,
    /// Stage scores.
    pub stages: Vec<StageScore>,
    /// Problems that did not stop the run (timeline writes, ...).
    pub warnings: Vec<String>,
}

impl RunReport {
    /// The report of step `id`.
    #[must_use]
    pub fn step(&self, id: &str) -> Option<&StepReport> {
        self.steps.iter().find(|s| s.id == id)
    }
}

/// The upper bound of the `attempt`-th backoff (1-based): `min(max_backoff, initial * 2^(attempt-1))`.
#[must_use]
pub fn backoff_cap(retry: &RetryPolicy, attempt: u32) -> Duration {
    let factor = 2u64.saturating_pow(attempt.saturating_sub(1));
    Duration::from_secs(retry.initial_backoff.as_secs().saturating_mul(factor).min(retry.max_backoff.as_secs()))
}

/// Full jitter: uniform in `[0, backoff_cap(attempt)]`, millisecond resolution.
fn backoff(retry: &RetryPolicy, attempt: u32, rng: &mut SmallRng) -> Duration {
    let cap = u64::try_from(backoff_cap(retry, attempt).as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rng.random_range(0..=cap))
}

fn seed(run_id: &str, step_id: &str) -> u64 {
    let h = Sha256::digest(format!("{run_id}/{step_id}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    u64::from_le_bytes(b)
}

fn to_std(d: TimeDelta) -> Duration {
    d.to_std().unwrap_or(Duration::ZERO)
}

/// Runs approved plans.
#[derive(Clone)]
pub struct Executor {
    backends: Backends,
    store: Arc<dyn Store>,
    policy: Arc<Policy>,
    failpoints: Failpoints,
    owner: String,
    take_over: bool,
    trust: Trust,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("owner", &self.owner)
            .field("failpoints", &self.failpoints)
            .finish_non_exhaustive()
    }
}

/// How a step attempt treats live state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// First attempt of a never-attempted step: live state must match the plan's fingerprint.
    Fresh,
    /// A later attempt of this life (an earlier one may have reached the backend).
    Retry,
    /// Resuming a step with an intent but no outcome: reconcile before executing.
    Reconcile,
}

struct Attempted {
    status: StepStatus,
    detail: String,
    changed: bool,
}

/// Per-run shared state for step tasks.
struct RunCtx {
    backends: Backends,
    store: Arc<dyn Store>,
    policy: Arc<Policy>,
    failpoints: Failpoints,
    owner: String,
    run_id: String,
    procedure: String,
    incident_id: Option<String>,
    approval: Approval,
    plan_digest: String,
    timeline: tokio::sync::Mutex<Option<Timeline>>,
    warnings: StdMutex<Vec<String>>,
}

impl RunCtx {
    fn now(&self) -> DateTime<Utc> {
        self.backends.clock.now()
    }

    fn warn(&self, w: String) {
        self.warnings.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(w);
    }

    async fn journal(&self, step_id: &str, phase: JournalPhase, attempt: u32, detail: Value) -> Result<JournalEntry> {
        self.store
            .append_journal(JournalDraft {
                run_id: self.run_id.clone(),
                step_id: step_id.to_owned(),
                phase,
                attempt,
                owner: self.owner.clone(),
                at: self.now(),
                detail,
            })
            .await
            .map_err(|e| e.context(format!("journal of {}/{step_id}", self.run_id)))
    }

    async fn claim(&self, step_id: &str, deadline: HumanDuration) -> Result<()> {
        let now = self.now();
        let lease = now + deadline.as_delta() + TimeDelta::minutes(1);
        if self.store.claim_step(&self.run_id, step_id, &self.owner, now, lease).await? {
            Ok(())
        } else {
            Err(Error::conflict(format!(
                "step {step_id} of run {} is claimed by another executor; retry after its lease expires, or, if \
                 that executor is dead, resume taking over its claims (`incident resume --take-over`)",
                self.run_id
            )))
        }
    }

    /// Append one event to the incident timeline (best effort: failures become warnings).
    async fn event(&self, actor: &str, kind: EventKind) {
        let Some(incident) = &self.incident_id else {
            return;
        };
        let mut guard = self.timeline.lock().await;
        for _ in 0..3 {
            if guard.is_none() {
                match self.store.timeline(incident).await {
                    Ok(t) => *guard = Some(t.with_max_events(self.policy.limits.max_events_per_incident)),
                    Err(e) => {
                        self.warn(format!("timeline of {incident}: {e}"));
                        return;
                    }
                }
            }
            let Some(t) = guard.as_mut() else { return };
            // Never before the newest event (as `delivery::append_event`): a run on the simulator's clock
            // for an incident declared on the wall clock (`incident serve --sim`) is still recorded.
            let at = t.last().map_or_else(|| self.now(), |last| self.now().max(last.at));
            let event = match t.append(at, actor, kind.clone()) {
                Ok(ev) => ev.clone(),
                // The error already names the timeline (`timeline of INC-1: ...`).
                Err(e) => {
                    self.warn(e.to_string());
                    return;
                }
            };
            match self.store.append_events(incident, std::slice::from_ref(&event)).await {
                Ok(()) => return,
                Err(e) if e.kind() == crate::ErrorKind::Conflict => *guard = None,
                Err(e) => {
                    *guard = None;
                    self.warn(format!("timeline of {incident}: {e}"));
                    return;
                }
            }
        }
        self.warn(format!("timeline of {incident}: gave up after concurrent appends"));
    }

    fn actor(&self) -> String {
        format!("procedure:{}", self.procedure)
    }
}

/// State of one step while driving a run.
#[derive(Debug, Clone)]
struct StepState {
    report: StepReport,
    /// Intent written in an earlier life without an outcome.
    in_flight: bool,
    /// Journal sequence of the outcome (completion order).
    done_seq: Option<u64>,
    compensated: bool,
    compensation_error: Option<String>,
    /// Highest attempt of this step's compensation journaled so far (a resumed compensation continues
    /// after it instead of re-journaling the same attempt).
    compensation_attempt: u32,
    /// The Route53 change an earlier life submitted for this step (its `#submitted` journal entry).
    dns_change: Option<String>,
}

impl Executor {
    /// An executor over `backends`, journaling to `store`, enforcing `policy`.
    pub fn new(backends: Backends, store: Arc<dyn Store>, policy: Policy) -> Self {
        Self {
            backends,
            store,
            policy: Arc::new(policy),
            failpoints: Failpoints::none(),
            owner: DEFAULT_OWNER.into(),
            take_over: false,
            trust: Trust::default(),
        }
    }

    /// Require plans signed by one of `trust`'s keys ([`Plan::sign`]): [`Executor::run`] and
    /// [`Executor::resume`] refuse an unsigned or badly signed plan before anything changes. Without
    /// (or with an empty [`Trust`]) signatures are not required; the plan's digest always is.
    #[must_use]
    pub fn trusting(mut self, trust: Trust) -> Self {
        self.trust = trust;
        self
    }

    /// Install a failpoint hook (see [`Failpoints::from_env`]).
    #[must_use]
    pub fn with_failpoints(mut self, failpoints: Failpoints) -> Self {
        self.failpoints = failpoints;
        self
    }

    /// Set the executor identity used for step claims.
    #[must_use]
    pub fn with_owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = owner.into();
        self
    }

    /// On [`Executor::resume`], first take over every claim of the run ([`Store::take_over_claims`]), so
    /// steps left in flight by a crashed executor can be reconciled at once instead of after their lease
    /// expires. Only when the previous executors are known to be dead: a live one would no longer be
    /// excluded.
    #[must_use]
    pub fn taking_over(mut self) -> Self {
        self.take_over = true;
        self
    }

    /// Enforce the guard rails on an approved plan (independent of what the planner found).
    fn enforce(&self, plan: &Plan, approval: &Approval) -> Result<()> {
        if approval.by.trim().is_empty() {
            return Err(Error::refused(format!("run {} has no approval: approve the plan first", plan.run_id)));
        }
        plan.procedure.validate()?;
        // What executes is the plan's steps: they must be the procedure's steps, and a valid DAG themselves.
        let planned: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
        let mut declared: Vec<&str> = plan.procedure.steps.iter().map(|s| s.id.as_str()).collect();
        let mut sorted = planned.clone();
        sorted.sort_unstable();
        declared.sort_unstable();
        if sorted != declared {
            return Err(Error::refused(format!(
                "plan {}: its steps {planned:?} are not the steps of procedure {}",
                plan.run_id, plan.procedure.name
            )));
        }
        Procedure {
            name: plan.procedure.name.clone(),
            description: String::new(),
            steps: plan
                .steps
                .iter()
                .map(|s| Step {
                    id: s.id.clone(),
                    stage: s.stage.clone(),
                    kind: s.kind.clone(),
                    depends_on: s.depends_on.clone(),
                    deadline: Some(s.deadline),
                })
                .collect(),
            compensate_on_failure: plan.procedure.compensate_on_failure,
        }
        .validate()
        .map_err(|e| e.context(format!("plan {}", plan.run_id)))?;
        let rails = &self.policy.guard_rails;
        for s in &plan.steps {
            // The executor trusts nothing it can derive: whether a step mutates (a "non-mutating" scale
            // would skip the live-state check and compensation) and the fingerprint of its `before`.
            if s.mutating != s.kind.is_mutating() {
                return Err(Error::refused(format!(
                    "step {}: marked mutating = {}, but its action {} (mutating)",
                    s.id,
                    s.mutating,
                    if s.kind.is_mutating() { "changes platform state" } else { "does not" }
                )));
            }
            if s.mutating && s.fingerprint.as_deref() != Some(canon::fingerprint(&s.before).as_str()) {
                return Err(Error::refused(format!(
                    "step {}: its fingerprint is not the fingerprint of its recorded before (fingerprint)",
                    s.id
                )));
            }
            if let StepKind::Action(a) = &s.kind {
                let inverse = check_inverse(&s.id, a, &s.before, s.inverse.as_ref(), &plan.procedure.name, rails);
                for f in guard::evaluate(&s.id, a, &plan.procedure.name, rails).into_iter().chain(inverse) {
                    match f.level {
                        FindingLevel::Refused => {
                            return Err(Error::refused(format!("step {}: {} ({})", s.id, f.message, f.rule)));
                        }
                        FindingLevel::NeedsConfirmation if rails.confirm_production && !approval.confirm_production => {
                            return Err(Error::refused(format!(
                                "step {}: {}; the approval must confirm production",
                                s.id, f.message
                            )));
                        }
                        FindingLevel::NeedsConfirmation => {}
                    }
                }
            }
        }
        Ok(())
    }

    /// Execute an approved plan. Refuses (nothing is touched) when the approval is missing or does not
    /// match the plan, a guard rail says no, or the plan is older than `guard_rails.max_plan_age`.
    ///
    /// # Errors
    /// `Refused`, `PreconditionFailed` ("re-plan"), `Conflict` (run id exists: use `resume`), store errors,
    /// and a failpoint's error. Step failures are reported in the [`RunReport`], not as `Err`.
    pub async fn run(&self, approved: ApprovedPlan, incident_id: Option<String>) -> Result<RunReport> {
        let ApprovedPlan { plan, approval, plan_digest } = approved;
        plan.verify(&self.trust)?;
        if plan.digest != plan_digest {
            return Err(Error::precondition(format!(
                "plan {} was changed after approval (approved digest {plan_digest}, plan digest {}): approve it again",
                plan.run_id, plan.digest
            )));
        }
        self.enforce(&plan, &approval)?;
        let now = self.backends.clock.now();
        let rails = &self.policy.guard_rails;
        let age = now - plan.created_at;
        let (max_age, skew) = (rails.max_plan_age, rails.max_clock_skew);
        if age > max_age.as_delta() {
            return Err(Error::precondition(format!(
                "plan {} is {}s old (max {max_age}): re-plan",
                plan.run_id,
                age.num_seconds()
            )));
        }
        if -age > skew.as_delta() {
            return Err(Error::precondition(format!(
                "plan {} is dated {}, {}s in the future (guard_rails.max_clock_skew is {skew}): refused; re-plan",
                plan.run_id,
                plan.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                (-age).num_seconds()
            )));
        }
        let record = RunRecord {
            run_id: plan.run_id.clone(),
            incident_id: incident_id.clone(),
            procedure: plan.procedure.name.clone(),
            plan: serde_json::to_value(&plan).map_err(|e| Error::internal(format!("plan to JSON: {e}")))?,
            approval: Some(json!({ "approval": approval, "plan_digest": plan_digest })),
            status: RunStatus::Running,
            created_at: now,
            updated_at: now,
        };
        self.store.create_run(&record).await?;
        let ctx = self.ctx(&plan, approval.clone(), incident_id);
        let policy_digest = self.policy.digest();
        if plan.policy_digest != policy_digest {
            ctx.warn(format!(
                "plan {} was made under policy {} and runs under policy {policy_digest}: the running policy's guard \
                 rails, retries and budgets apply",
                plan.run_id, plan.policy_digest
            ));
        }
        // The approval, as recorded: who, when, and the digest of exactly what was approved.
        ctx.journal(
            APPROVAL_STEP,
            JournalPhase::Outcome,
            1,
            json!({
                "status": "approved", "by": approval.by, "at": approval.at, "plan_digest": plan.digest,
                "confirm_production": approval.confirm_production, "gates": approval.gates,
                "signed_by": plan.signature.as_ref().map(|s| s.key.to_string()),
            }),
        )
        .await?;
        for s in plan.steps.iter().filter(|s| s.mutating) {
            ctx.event(
                &ctx.actor(),
                EventKind::ActionPlanned {
                    run_id: plan.run_id.clone(),
                    step_id: s.id.clone(),
                    summary: s.summary.clone(),
                },
            )
            .await;
        }
        ctx.event(
            &approval.by,
            EventKind::ApprovalGranted {
                run_id: plan.run_id.clone(),
                by: approval.by.clone(),
                confirm_production: approval.confirm_production,
                at: Some(approval.at),
                plan_digest: Some(plan.digest.clone()),
            },
        )
        .await;
        let states = plan.steps.iter().map(fresh_state).collect();
        self.drive(ctx, plan, states, record).await
    }

    /// Continue an interrupted (or paused) run: steps with an outcome are never re-run; a step with an
    /// intent but no outcome is reconciled against live state first (already applied → recorded as
    /// `reconciled` without executing). A failed run whose compensation stopped at a failed inverse retries
    /// compensation from that inverse, in order. Any other finished run returns its report unchanged.
    ///
    /// # Errors
    /// `NotFound` (no such run), `Refused` (no approval, or the stored plan changed), `Conflict` (another
    /// executor holds a step), store errors.
    pub async fn resume(&self, run_id: &str) -> Result<RunReport> {
        let (record, plan, approval) = self.load(run_id).await?;
        self.enforce(&plan, &approval)?;
        let journal = self.store.journal(run_id).await?;
        let mut states = states_from_journal(&plan, &journal);
        let taken = if self.take_over { self.store.take_over_claims(run_id, &self.owner).await? } else { 0 };
        let ctx = self.ctx(&plan, approval, record.incident_id.clone());
        if taken > 0 {
            ctx.warn(format!("took over {taken} claim(s) of run {run_id} as {}", self.owner));
        }
        if record.status == RunStatus::Failed
            && plan.procedure.compensate_on_failure
            && states.iter().any(|s| s.compensation_error.is_some() && !s.compensated)
        {
            // Compensation stopped at a failed inverse: retry from it, in order.
            skip_unstarted(&mut states);
            let mut record = record;
            if self.compensate(&ctx, &plan, &mut states).await? {
                record.status = RunStatus::Compensated;
            }
            record.updated_at = ctx.now();
            self.store.update_run(&record).await?;
            return Ok(self.report(&ctx, &plan, &states, record.status));
        }
        if matches!(record.status, RunStatus::Succeeded | RunStatus::Failed | RunStatus::Compensated) {
            // As the run reported when it stopped: steps it never started were skipped.
            skip_unstarted(&mut states);
            return Ok(self.report(&ctx, &plan, &states, record.status));
        }
        self.drive(ctx, plan, states, record).await
    }

    /// The report of a run as its journal stands, without executing anything (a run in progress shows the
    /// steps done so far; steps not started show `not_started`).
    ///
    /// # Errors
    /// `NotFound` (no such run), `Refused` (no readable approval, or the stored plan changed), store errors.
    pub async fn run_report(&self, run_id: &str) -> Result<RunReport> {
        let (record, plan, approval) = self.load(run_id).await?;
        let journal = self.store.journal(run_id).await?;
        let mut states = states_from_journal(&plan, &journal);
        if matches!(record.status, RunStatus::Succeeded | RunStatus::Failed | RunStatus::Compensated) {
            skip_unstarted(&mut states);
        }
        let ctx = self.ctx(&plan, approval, record.incident_id.clone());
        Ok(self.report(&ctx, &plan, &states, record.status))
    }

    /// A stored run: its record, plan and approval (checked against the plan's digest).
    async fn load(&self, run_id: &str) -> Result<(RunRecord, Plan, Approval)> {
        let record = self.store.run(run_id).await?.ok_or_else(|| Error::not_found(format!("no run {run_id}")))?;
        let plan: Plan = serde_json::from_value(record.plan.clone())
            .map_err(|e| Error::integrity(format!("stored plan of {run_id} is unreadable: {e}")))?;
        let stored =
            record.approval.clone().ok_or_else(|| Error::refused(format!("run {run_id} was never approved")))?;
        let approval: Approval = serde_json::from_value(stored.get("approval").cloned().unwrap_or(Value::Null))
            .map_err(|e| Error::refused(format!("run {run_id} has no readable approval: {e}")))?;
        plan.verify(&self.trust).map_err(|e| e.context(format!("stored plan of {run_id}")))?;
        let digest = stored.get("plan_digest").and_then(Value::as_str).unwrap_or_default();
        if digest != plan.digest {
            return Err(Error::precondition(format!(
                "stored plan of {run_id} does not match its approval (approved digest {digest}, plan digest {})",
                plan.digest
            )));
        }
        // The approval as journaled (hash-chained with every step) binds the plan too: a stored plan and
        // approval both rewritten still disagree with the journal.
        let journal = self.store.journal(run_id).await?;
        if let Some(journaled) = journal
            .iter()
            .find(|e| e.draft.step_id == APPROVAL_STEP)
            .and_then(|e| e.draft.detail.get("plan_digest").and_then(Value::as_str))
        {
            if journaled != plan.digest {
                return Err(Error::precondition(format!(
                    "stored plan of {run_id} is not the plan whose approval was journaled (journaled digest \
                     {journaled}, plan digest {})",
                    plan.digest
                )));
            }
        }
        Ok((record, plan, approval))
    }

    /// Approve a paused approval gate of a run (then call [`Executor::resume`]).
    ///
    /// # Errors
    /// `NotFound` (run or step), `InvalidInput` (not an approval step), `Refused` (empty `by`),
    /// `Conflict` (already decided), store errors.
    pub async fn approve_gate(&self, run_id: &str, step_id: &str, by: &str) -> Result<()> {
        if by.trim().is_empty() {
            return Err(Error::refused("a gate approval must name who approved"));
        }
        let record = self.store.run(run_id).await?.ok_or_else(|| Error::not_found(format!("no run {run_id}")))?;
        let plan: Plan = serde_json::from_value(record.plan)
            .map_err(|e| Error::integrity(format!("stored plan of {run_id} is unreadable: {e}")))?;
        plan.verify(&self.trust).map_err(|e| e.context(format!("stored plan of {run_id}")))?;
        let step = plan.step(step_id).ok_or_else(|| Error::not_found(format!("run {run_id} has no step {step_id}")))?;
        if !matches!(step.kind, StepKind::Approval { .. }) {
            return Err(Error::invalid_input(format!("step {step_id} is not an approval gate")));
        }
        let journal = self.store.journal(run_id).await?;
        if journal.iter().any(|e| e.draft.step_id == step_id && e.draft.phase == JournalPhase::Outcome) {
            return Err(Error::conflict(format!("gate {step_id} of {run_id} was already decided")));
        }
        let ctx = self.ctx(&plan, Approval::new(by, self.backends.clock.now()), record.incident_id);
        ctx.claim(step_id, step.deadline).await?;
        let now = ctx.now();
        ctx.journal(step_id, JournalPhase::Intent, 1, json!({ "summary": step.summary, "kind": "gate" })).await?;
        ctx.journal(
            step_id,
            JournalPhase::Outcome,
            1,
            json!({ "status": "succeeded", "detail": format!("approved by {by}"), "attempts": 1,
                    "started_at": now, "finished_at": now, "changed": false }),
        )
        .await?;
        ctx.event(
            by,
            EventKind::ApprovalGranted {
                run_id: run_id.to_owned(),
                by: by.to_owned(),
                confirm_production: false,
                at: Some(now),
                plan_digest: Some(plan.digest.clone()),
            },
        )
        .await;
        Ok(())
    }

    fn ctx(&self, plan: &Plan, approval: Approval, incident_id: Option<String>) -> Arc<RunCtx> {
        Arc::new(RunCtx {
            backends: self.backends.clone(),
            store: Arc::clone(&self.store),
            policy: Arc::clone(&self.policy),
            failpoints: self.failpoints.clone(),
            owner: self.owner.clone(),
            run_id: plan.run_id.clone(),
            procedure: plan.procedure.name.clone(),
            incident_id,
            approval,
            plan_digest: plan.digest.clone(),
            timeline: tokio::sync::Mutex::new(None),
            warnings: StdMutex::new(Vec::new()),
        })
    }

    async fn drive(
        &self,
        ctx: Arc<RunCtx>,
        plan: Plan,
        mut states: Vec<StepState>,
        mut record: RunRecord,
    ) -> Result<RunReport> {
        let index: BTreeMap<&str, usize> = plan.steps.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
        let max_conc = usize::try_from(self.policy.limits.max_concurrency.max(1)).unwrap_or(1);
        let mut failed = states.iter().any(|s| s.report.status == StepStatus::Failed);
        let mut running: BTreeMap<tokio::task::Id, usize> = BTreeMap::new();
        let mut set: JoinSet<Result<(StepReport, Option<u64>)>> = JoinSet::new();
        let mut seq_counter: u64 = states.iter().filter_map(|s| s.done_seq).max().unwrap_or(0);
        loop {
            if !failed {
                for (i, step) in plan.steps.iter().enumerate() {
                    if set.len() >= max_conc {
                        break;
                    }
                    if states[i].report.status != StepStatus::NotStarted || running.values().any(|&r| r == i) {
                        continue;
                    }
                    let deps_ok = step
                        .depends_on
                        .iter()
                        .all(|d| index.get(d.as_str()).is_some_and(|&j| states[j].report.status.is_done_ok()));
                    if !deps_ok {
                        continue;
                    }
                    let task_ctx = Arc::clone(&ctx);
                    let step = step.clone();
                    let prior = states[i].report.attempts;
                    let mode = if states[i].in_flight { Mode::Reconcile } else { Mode::Fresh };
                    let started = states[i].report.started_at;
                    let dns_change = states[i].dns_change.clone();
                    let handle =
                        set.spawn(async move { run_step(task_ctx, step, prior, mode, started, dns_change).await });
                    running.insert(handle.id(), i);
                }
            }
            let Some(joined) = set.join_next_with_id().await else {
                break;
            };
            match joined {
                Ok((id, Ok((report, seq)))) => {
                    let Some(i) = running.remove(&id) else {
                        continue;
                    };
                    if report.status == StepStatus::Failed {
                        failed = true;
                    }
                    seq_counter += 1;
                    states[i].done_seq = Some(seq.unwrap_or(seq_counter));
                    states[i].in_flight = false;
                    states[i].report = report;
                }
                Ok((_, Err(fatal))) => {
                    set.abort_all();
                    return Err(fatal);
                }
                Err(join_err) => {
                    let Some(i) = running.remove(&join_err.id()) else {
                        continue;
                    };
                    failed = true;
                    states[i].report.status = StepStatus::Failed;
                    states[i].report.error = Some(format!("step task ended abnormally: {join_err}"));
                }
            }
        }
        let mut status = RunStatus::Succeeded;
        if failed {
            status = RunStatus::Failed;
            // Steps an earlier (crashed) life left in flight are not run again, but what they did is
            // recorded, so compensation undoes it and the report does not call them skipped.
            for (i, st) in states.iter_mut().enumerate() {
                if st.in_flight {
                    close_in_flight(&ctx, &plan.steps[i], st).await?;
                }
            }
            skip_unstarted(&mut states);
            if plan.procedure.compensate_on_failure && self.compensate(&ctx, &plan, &mut states).await? {
                status = RunStatus::Compensated;
            }
        } else if states.iter().any(|s| !s.report.status.is_done_ok()) {
            status = RunStatus::Running;
        }
        record.status = status;
        record.updated_at = ctx.now();
        self.store.update_run(&record).await?;
        Ok(self.report(&ctx, &plan, &states, status))
    }

    /// Undo completed (or partially applied) mutating steps in reverse completion order, stopping at the
    /// first compensation that fails (after its retries). `true` when nothing is left applied.
    async fn compensate(&self, ctx: &Arc<RunCtx>, plan: &Plan, states: &mut [StepState]) -> Result<bool> {
        let mut order: Vec<usize> = (0..states.len())
            .filter(|&i| {
                let s = &states[i];
                plan.steps[i].mutating
                    && s.report.changed
                    && !s.compensated
                    && matches!(s.report.status, StepStatus::Succeeded | StepStatus::Reconciled | StepStatus::Failed)
            })
            .collect();
        order.sort_by_key(|&i| std::cmp::Reverse(states[i].done_seq.unwrap_or(0)));
        for i in order {
            let step = &plan.steps[i];
            let Some(inverse) = step.inverse.clone() else {
                continue;
            };
            let jid = format!("{}{COMPENSATE_SUFFIX}", step.id);
            ctx.claim(&jid, step.deadline).await?;
            ctx.failpoints.hit(&jid, FailpointPoint::BeforeIntent).await?;
            // A compensation interrupted by a crash continues with the next attempt number; planning the
            // inverse against live state below reconciles it (already undone → nothing is executed).
            let attempt = states[i].report.attempts.max(1).max(states[i].compensation_attempt.saturating_add(1));
            ctx.journal(
                &jid,
                JournalPhase::Intent,
                attempt,
                json!({ "summary": inverse.describe(), "kind": "compensate" }),
            )
            .await?;
            ctx.failpoints.hit(&jid, FailpointPoint::AfterIntent).await?;
            let mut rng = SmallRng::seed_from_u64(seed(&ctx.run_id, &jid));
            let mut result = Err(Error::internal("not attempted"));
            // The guard rails again, on exactly what is about to run (the plan was checked when the run
            // started; this is what the executor itself enforces before each mutation).
            let refusal = match &step.kind {
                StepKind::Action(a) => check_inverse(
                    &step.id,
                    a,
                    &step.before,
                    Some(&inverse),
                    &plan.procedure.name,
                    &ctx.policy.guard_rails,
                )
                .into_iter()
                .find(|f| f.level == FindingLevel::Refused)
                .map(|f| Error::refused(format!("step {}: {} ({})", step.id, f.message, f.rule))),
                _ => Some(Error::refused(format!("step {}: only an action has an inverse", step.id))),
            };
            let attempts = if refusal.is_some() { 0 } else { ctx.policy.retry.max_attempts.max(1) };
            if let Some(e) = refusal {
                result = Err(e);
            }
            // Whether an earlier attempt may have reached the backend (then "already undone" was its doing).
            let mut sent = false;
            for n in 1..=attempts {
                let sp = super::action::StepPlan {
                    summary: step.summary.clone(),
                    before: step.before.clone(),
                    after: step.after.clone(),
                    inverse: Some(inverse.clone()),
                    action: inverse.clone(),
                };
                result = match sp.compensate_by(&ctx.backends, ctx.now() + step.deadline.as_delta()).await {
                    Ok(d) if sent && d.starts_with("already undone") => Ok(format!(
                        "undone by an earlier attempt (verified against live state): {}",
                        inverse.describe()
                    )),
                    r => r,
                };
                sent |= result.as_ref().is_err_and(Error::request_may_have_been_sent);
                match &result {
                    Err(e) if e.is_retryable() && n < ctx.policy.retry.max_attempts => {
                        ctx.backends.clock.sleep(backoff(&ctx.policy.retry, n, &mut rng)).await;
                    }
                    _ => break,
                }
            }
            ctx.failpoints.hit(&jid, FailpointPoint::AfterExecute).await?;
            let (status, detail) = match &result {
                Ok(d) => ("compensated", d.clone()),
                Err(e) => ("failed", e.to_string()),
            };
            ctx.journal(&jid, JournalPhase::Outcome, attempt, json!({ "status": status, "detail": detail })).await?;
            ctx.failpoints.hit(&jid, FailpointPoint::AfterOutcome).await?;
            let outcome = if result.is_ok() { Outcome::Succeeded } else { Outcome::Failed };
            ctx.event(
                &ctx.actor(),
                EventKind::ActionExecuted {
                    run_id: ctx.run_id.clone(),
                    step_id: jid.clone(),
                    summary: inverse.describe(),
                    outcome,
                    detail: detail.clone(),
                },
            )
            .await;
            match result {
                Ok(_) => {
                    states[i].compensated = true;
                    states[i].compensation_error = None;
                    if states[i].report.status != StepStatus::Failed {
                        states[i].report.status = StepStatus::Compensated;
                    }
                }
                Err(e) => {
                    // Stop here: the remaining inverses restore states from before this step, so running them
                    // now (or retrying this one after them) would leave a mix no plan describes. They stay
                    // applied and listed in the report's left state; `resume` retries from this one, in order.
                    states[i].compensation_error = Some(e.to_string());
                    break;
                }
            }
        }
        Ok(left_state(plan, states).is_empty())
    }

    fn report(&self, ctx: &RunCtx, plan: &Plan, states: &[StepState], status: RunStatus) -> RunReport {
        let steps: Vec<StepReport> = states
            .iter()
            .map(|s| {
                let mut r = s.report.clone();
                if let Some(e) = &s.compensation_error {
                    r.error = Some(match r.error {
                        Some(prev) => format!("{prev}; compensation failed: {e}"),
                        None => format!("compensation failed: {e}"),
                    });
                }
                r
            })
            .collect();
        let mut stages = Vec::new();
        for stage in plan.procedure.stages() {
            let in_stage: Vec<&StepReport> = steps.iter().filter(|s| s.stage == stage).collect();
            let start = in_stage.iter().filter_map(|s| s.started_at).min();
            let end = in_stage.iter().filter_map(|s| s.finished_at).max();
            let elapsed = match (start, end) {
                (Some(a), Some(b)) if in_stage.iter().all(|s| s.finished_at.is_some()) => {
                    Some((b - a).num_milliseconds() as f64 / 1000.0)
                }
                _ => None,
            };
            let budget = self.policy.stage_budget(&plan.procedure.name, &stage);
            let within_budget = match (elapsed, budget) {
                (Some(e), Some(b)) => Some(e <= b.as_secs() as f64),
                _ => None,
            };
            stages.push(StageScore { stage, budget, elapsed_secs: elapsed, within_budget });
        }
        RunReport {
            run_id: plan.run_id.clone(),
            procedure: plan.procedure.name.clone(),
            incident_id: ctx.incident_id.clone(),
            status,
            steps,
            left_state: left_state(plan, states),
            stages,
            warnings: ctx.warnings.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone(),
        }
    }
}

fn fresh_state(s: &PlannedStep) -> StepState {
    StepState {
        report: StepReport {
            id: s.id.clone(),
            stage: s.stage.clone(),
            status: StepStatus::NotStarted,
            attempts: 0,
            error: None,
            detail: String::new(),
            changed: false,
            started_at: None,
            finished_at: None,
        },
        in_flight: false,
        done_seq: None,
        compensated: false,
        compensation_error: None,
        compensation_attempt: 0,
        dns_change: None,
    }
}

fn parse_time(v: Option<&Value>) -> Option<DateTime<Utc>> {
    v.and_then(|v| serde_json::from_value(v.clone()).ok())
}

fn states_from_journal(plan: &Plan, journal: &[JournalEntry]) -> Vec<StepState> {
    plan.steps
        .iter()
        .map(|s| {
            let mut st = fresh_state(s);
            let comp = format!("{}{COMPENSATE_SUFFIX}", s.id);
            let submitted = format!("{}{SUBMITTED_SUFFIX}", s.id);
            for e in journal {
                let d = &e.draft;
                if d.step_id == submitted {
                    st.dns_change = d.detail.get("dns_change").and_then(Value::as_str).map(str::to_owned);
                    continue;
                }
                if d.step_id == s.id {
                    st.report.attempts = st.report.attempts.max(d.attempt);
                    match d.phase {
                        JournalPhase::Intent => {
                            st.in_flight = true;
                            if st.report.started_at.is_none() {
                                st.report.started_at = Some(d.at);
                            }
                        }
                        JournalPhase::Outcome => {
                            let x = &d.detail;
                            st.in_flight = false;
                            st.done_seq = Some(e.seq);
                            st.report.status = x
                                .get("status")
                                .and_then(Value::as_str)
                                .and_then(StepStatus::parse)
                                .unwrap_or(StepStatus::Failed);
                            st.report.detail = x.get("detail").and_then(Value::as_str).unwrap_or_default().to_owned();
                            st.report.error = x.get("error").and_then(Value::as_str).map(str::to_owned);
                            st.report.changed = x.get("changed").and_then(Value::as_bool).unwrap_or(false);
                            st.report.started_at = parse_time(x.get("started_at")).or(st.report.started_at);
                            st.report.finished_at = parse_time(x.get("finished_at")).or(Some(d.at));
                        }
                    }
                } else if d.step_id == comp {
                    st.compensation_attempt = st.compensation_attempt.max(d.attempt);
                }
                if d.step_id == comp && d.phase == JournalPhase::Outcome {
                    match d.detail.get("status").and_then(Value::as_str) {
                        Some("compensated") => {
                            st.compensated = true;
                            st.compensation_error = None;
                            if st.report.status != StepStatus::Failed {
                                st.report.status = StepStatus::Compensated;
                            }
                        }
                        _ => {
                            st.compensation_error =
                                Some(d.detail.get("detail").and_then(Value::as_str).unwrap_or("failed").to_owned());
                        }
                    }
                }
            }
            st
        })
        .collect()
}

/// Steps a stopped run never started were skipped.
fn skip_unstarted(states: &mut [StepState]) {
    for s in states.iter_mut().filter(|s| s.report.status == StepStatus::NotStarted) {
        s.report.status = StepStatus::Skipped;
    }
}

fn left_state(plan: &Plan, states: &[StepState]) -> Vec<String> {
    let mut out = Vec::new();
    let mut order: Vec<usize> = (0..states.len()).collect();
    order.sort_by_key(|&i| states[i].done_seq.unwrap_or(u64::MAX));
    for i in order {
        let (p, s) = (&plan.steps[i], &states[i]);
        if !p.mutating || !s.report.changed || s.compensated {
            continue;
        }
        let change = format!("{} -> {}", canon::canonical(&p.before), canon::canonical(&p.after));
        let line = match s.report.status {
            StepStatus::Failed => format!("{}: failed but changed live state ({}): {change}", p.id, p.summary),
            _ if p.inverse.is_none() => format!("{}: {} (irreversible): {change}", p.id, p.summary),
            _ => format!("{}: {}: {change}", p.id, p.summary),
        };
        out.push(match &s.compensation_error {
            Some(e) => format!("{line} [compensation failed: {e}]"),
            None => line,
        });
    }
    out
}

/// Close a step that a crashed life left in flight (intent, no outcome) in a run that has since failed:
/// record what live state shows without executing it: applied → `reconciled` (compensation undoes it),
/// untouched → `skipped`, anything else (or unreadable) → `failed` and changed.
async fn close_in_flight(ctx: &RunCtx, step: &PlannedStep, st: &mut StepState) -> Result<()> {
    let (status, changed, detail) = match &step.kind {
        StepKind::Action(action) if step.mutating => match action.observe(&ctx.backends).await {
            Ok(live) if live == step.after && live != step.before => (
                StepStatus::Reconciled,
                true,
                "reconciled: applied before the interruption; not executed again (the run failed)".to_owned(),
            ),
            Ok(live) if live == step.before => (
                StepStatus::Skipped,
                false,
                "interrupted before changing anything; not run (the run failed)".to_owned(),
            ),
            Ok(live) => {
                (StepStatus::Failed, true, format!("interrupted; live state after: {}", canon::canonical(&live)))
            }
            Err(e) => (StepStatus::Failed, true, format!("interrupted; live state unknown ({e}): treated as changed")),
        },
        _ => (StepStatus::Skipped, false, "interrupted; not run again (the run failed)".to_owned()),
    };
    let attempt = st.report.attempts.max(1);
    let finished = ctx.now();
    let entry = ctx
        .journal(
            &step.id,
            JournalPhase::Outcome,
            attempt,
            json!({
                "status": status.as_str(), "detail": detail, "error": null, "attempts": attempt,
                "started_at": st.report.started_at, "finished_at": finished, "changed": changed,
            }),
        )
        .await?;
    st.in_flight = false;
    st.done_seq = Some(entry.seq);
    st.report.status = status;
    st.report.changed = changed;
    st.report.detail = detail;
    st.report.finished_at = Some(finished);
    Ok(())
}

/// What the attempts of one step in one life of the executor share.
struct Life {
    /// An attempt reached the backend's mutating call.
    called: bool,
    /// The Route53 change submitted for the step (by this life or, journaled, an earlier one).
    dns_change: Option<String>,
    /// A fatal problem inside an attempt (journal unavailable, failpoint): the run stops with it.
    fatal: Option<Error>,
}

/// Run one step with claim, write-ahead journal, deadline and retries. `Err` only for fatal problems
/// (journal unavailable, claim conflict, failpoint); step failures are in the report.
async fn run_step(
    ctx: Arc<RunCtx>,
    step: PlannedStep,
    prior_attempts: u32,
    mode: Mode,
    started_before: Option<DateTime<Utc>>,
    dns_change: Option<String>,
) -> Result<(StepReport, Option<u64>)> {
    let started = started_before.unwrap_or_else(|| ctx.now());
    let mut report = StepReport {
        id: step.id.clone(),
        stage: step.stage.clone(),
        status: StepStatus::NotStarted,
        attempts: prior_attempts,
        error: None,
        detail: String::new(),
        changed: false,
        started_at: Some(started),
        finished_at: None,
    };
    if let StepKind::Approval { reason } = &step.kind {
        if !ctx.approval.gates.iter().any(|g| g == &step.id) {
            report.status = StepStatus::AwaitingApproval;
            report.started_at = None;
            report.detail = format!("waiting for approval: {reason}");
            return Ok((report, None));
        }
    }
    ctx.claim(&step.id, step.deadline).await?;
    ctx.failpoints.hit(&step.id, FailpointPoint::BeforeIntent).await?;
    let deadline_at = ctx.now() + step.deadline.as_delta();
    let mut rng = SmallRng::seed_from_u64(seed(&ctx.run_id, &step.id));
    let max_attempts = ctx.policy.retry.max_attempts.max(1);
    let mut attempt = prior_attempts;
    let mut this_life = 0u32;
    let mut life = Life { called: false, dns_change, fatal: None };
    let result = loop {
        attempt += 1;
        this_life += 1;
        ctx.journal(&step.id, JournalPhase::Intent, attempt, json!({ "summary": step.summary })).await?;
        ctx.failpoints.hit(&step.id, FailpointPoint::AfterIntent).await?;
        let m = match (mode, this_life) {
            (Mode::Fresh, 1) => Mode::Fresh,
            (Mode::Reconcile, _) if !life.called => Mode::Reconcile,
            _ => Mode::Retry,
        };
        let r = attempt_once(&ctx, &step, (m, attempt), deadline_at, &mut life).await;
        if let Some(fatal) = life.fatal.take() {
            return Err(fatal);
        }
        let retry = match &r {
            Err(e) => {
                e.is_retryable()
                    && !matches!(step.kind, StepKind::WaitUntil { .. })
                    && this_life < max_attempts
                    && ctx.now() < deadline_at
            }
            Ok(_) => false,
        };
        if !retry {
            break r;
        }
        let remaining = to_std(deadline_at - ctx.now());
        ctx.backends.clock.sleep(backoff(&ctx.policy.retry, this_life, &mut rng).min(remaining)).await;
    };
    report.attempts = attempt;
    let mut changed = false;
    match result {
        Ok(a) => {
            ctx.failpoints.hit(&step.id, FailpointPoint::AfterExecute).await?;
            report.status = a.status;
            report.detail = a.detail;
            changed = a.changed;
        }
        Err(e) => {
            report.status = StepStatus::Failed;
            // Name the budget that ran out when a retryable error was given up on.
            let budget = if !e.is_retryable() || matches!(step.kind, StepKind::WaitUntil { .. }) {
                String::new()
            } else if this_life >= max_attempts {
                format!(" (gave up after {this_life} attempt(s): retry.max_attempts is {max_attempts})")
            } else {
                format!(" (gave up: the step deadline of {} passed)", step.deadline)
            };
            report.error = Some(format!("{e}{budget}"));
            if let StepKind::Action(action) = &step.kind {
                if step.mutating && (life.called || mode == Mode::Reconcile) {
                    // Did the failed step leave anything behind (a timeout after sending)?
                    match action.observe(&ctx.backends).await {
                        Ok(live) if live == step.before => {}
                        Ok(live) => {
                            changed = true;
                            report.detail = format!("live state after failure: {}", canon::canonical(&live));
                        }
                        // An attempt reached the backend and live state cannot be read now: it may have
                        // applied (whatever the last attempt's error says), so compensation must check.
                        Err(oe) => {
                            changed = true;
                            report.detail = format!("live state after failure unknown ({oe}): treated as changed");
                        }
                    }
                }
            }
        }
    }
    report.changed = changed;
    let finished = ctx.now();
    report.finished_at = Some(finished);
    let entry = ctx
        .journal(
            &step.id,
            JournalPhase::Outcome,
            attempt,
            json!({
                "status": report.status.as_str(), "detail": report.detail, "error": report.error,
                "attempts": attempt, "started_at": started, "finished_at": finished, "changed": changed,
            }),
        )
        .await?;
    ctx.failpoints.hit(&step.id, FailpointPoint::AfterOutcome).await?;
    record_event(&ctx, &step, &report).await;
    Ok((report, Some(entry.seq)))
}

async fn record_event(ctx: &RunCtx, step: &PlannedStep, report: &StepReport) {
    let ok = report.status.is_done_ok();
    let detail = report.error.clone().unwrap_or_else(|| report.detail.clone());
    let kind = match &step.kind {
        StepKind::Action(_) => EventKind::ActionExecuted {
            run_id: ctx.run_id.clone(),
            step_id: step.id.clone(),
            summary: step.summary.clone(),
            outcome: match (ok, report.changed) {
                (true, true) => Outcome::Succeeded,
                (true, false) if step.mutating => Outcome::Skipped,
                (true, false) => Outcome::Succeeded,
                (false, true) => Outcome::Unknown,
                (false, false) => Outcome::Failed,
            },
            detail,
        },
        StepKind::Check { check, .. } | StepKind::WaitUntil { check, .. } => EventKind::CheckResult {
            name: format!("{}: {}", step.id, check.describe()),
            passed: ok && !report.detail.starts_with("advisory: FAILED"),
            detail,
        },
        StepKind::Approval { .. } => EventKind::ApprovalGranted {
            run_id: ctx.run_id.clone(),
            by: ctx.approval.by.clone(),
            confirm_production: ctx.approval.confirm_production,
            at: Some(ctx.approval.at),
            plan_digest: Some(ctx.plan_digest.clone()),
        },
    };
    ctx.event(&ctx.actor(), kind).await;
}

async fn attempt_once(
    ctx: &RunCtx,
    step: &PlannedStep,
    (mode, attempt): (Mode, u32),
    deadline_at: DateTime<Utc>,
    life: &mut Life,
) -> Result<Attempted> {
    let b = &ctx.backends;
    match &step.kind {
        StepKind::Action(action) if !step.mutating => {
            let detail = action.execute(b).await?;
            Ok(Attempted { status: StepStatus::Succeeded, detail, changed: false })
        }
        StepKind::Action(action) => {
            let live = action.observe(b).await?;
            if live == step.after {
                // Applied by an earlier attempt or life: its Route53 change may still be propagating.
                let synced = match life.dns_change.as_deref() {
                    Some(id) if mode != Mode::Fresh => {
                        format!("; {}", super::wait::dns_insync(b, id, deadline_at).await?)
                    }
                    _ => String::new(),
                };
                let mut done = match mode {
                    Mode::Fresh => Attempted {
                        status: StepStatus::Succeeded,
                        detail: "no-op: live state already as intended".into(),
                        changed: false,
                    },
                    Mode::Retry => Attempted {
                        status: StepStatus::Succeeded,
                        detail: "applied by an earlier attempt (verified against live state)".into(),
                        changed: true,
                    },
                    Mode::Reconcile => Attempted {
                        status: StepStatus::Reconciled,
                        detail: "reconciled: live state already as intended; not executed again".into(),
                        changed: true,
                    },
                };
                done.detail.push_str(&synced);
                return Ok(done);
            }
            if mode == Mode::Fresh && step.fingerprint.as_deref() != Some(canon::fingerprint(&live).as_str()) {
                return Err(Error::precondition(format!(
                    "step {}: live state changed since planning (planned {}, now {}): re-plan",
                    step.id,
                    canon::canonical(&step.before),
                    canon::canonical(&live)
                )));
            }
            life.called = true;
            let (mut detail, pending_dns) = action.submit(b).await?;
            if let Some(id) = pending_dns {
                // Journaled first, so a run resumed after a crash during the wait still waits for it. A
                // journal that cannot be written (or a failpoint) stops the run, as before the call.
                let jid = format!("{}{SUBMITTED_SUFFIX}", step.id);
                let recorded = async {
                    ctx.journal(&jid, JournalPhase::Intent, attempt, json!({ "dns_change": id })).await?;
                    ctx.failpoints.hit(&step.id, FailpointPoint::AfterSubmit).await
                };
                if let Err(fatal) = recorded.await {
                    let stopped = Error::internal(format!("step {}: stopped: {fatal}", step.id));
                    life.fatal = Some(fatal);
                    return Err(stopped);
                }
                life.dns_change = Some(id.clone());
                // The change is applied when Route53 has it on every authoritative server.
                detail = format!("{detail}; {}", super::wait::dns_insync(b, &id, deadline_at).await?);
            }
            let verified = matches!(action.verify(b, &step.after).await, Ok(true));
            let detail = if verified { detail } else { format!("{detail} (not yet visible in live state)") };
            Ok(Attempted { status: StepStatus::Succeeded, detail, changed: true })
        }
        StepKind::Check { check, advisory } => {
            let o = check.evaluate(b, &ctx.policy).await?;
            let items: Vec<String> = o
                .items
                .iter()
                .map(|i| format!("[{}] {}: {}", if i.passed { "ok" } else { "FAIL" }, i.name, i.detail))
                .collect();
            let detail =
                if items.is_empty() { o.detail.clone() } else { format!("{}; {}", o.detail, items.join("; ")) };
            if o.passed {
                Ok(Attempted { status: StepStatus::Succeeded, detail, changed: false })
            } else if *advisory {
                Ok(Attempted {
                    status: StepStatus::Succeeded,
                    detail: format!("advisory: FAILED {detail}"),
                    changed: false,
                })
            } else {
                Err(Error::precondition(format!("check failed: {detail}")))
            }
        }
        StepKind::WaitUntil { check, timeout, interval } => {
            let detail = super::wait::wait_until(b, &ctx.policy, check, *timeout, *interval, deadline_at).await?;
            Ok(Attempted { status: StepStatus::Succeeded, detail, changed: false })
        }
        StepKind::Approval { .. } => Ok(Attempted {
            status: StepStatus::Succeeded,
            detail: format!("approved up front by {}", ctx.approval.by),
            changed: false,
        }),
    }
}
