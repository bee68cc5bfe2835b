//! Plans (dry-run by default: planning never mutates) and approvals.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::action::{Action, check_inverse};
use super::guard::{self, FindingLevel, GuardFinding};
use super::procedure::{Procedure, StepKind};
use crate::backend::Backends;
use crate::canon;
use crate::policy::Policy;
use crate::signing::{Signature, SigningKey, Trust};
use crate::{Error, HumanDuration, Result};

/// One planned step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlannedStep {
    /// Step id.
    pub id: String,
    /// Stage.
    pub stage: String,
    /// Dependencies.
    pub depends_on: Vec<String>,
    /// Effective deadline (the step's or `policy.retry.step_deadline`).
    pub deadline: HumanDuration,
    /// What runs, with "latest"/"previous"/"recorded" values resolved.
    pub kind: StepKind,
    /// One-liner with resolved values.
    pub summary: String,
    /// Live state before (actions only; `null` otherwise).
    pub before: Value,
    /// Intended state after (actions only).
    pub after: Value,
    /// The action that undoes this step, captured from `before`.
    pub inverse: Option<Action>,
    /// SHA-256 of the canonical `before` (mutating actions only): the executor re-reads live state before
    /// the step and refuses with "re-plan" when it differs.
    pub fingerprint: Option<String>,
    /// The step changes platform state.
    pub mutating: bool,
    /// Live state already shows `after`: executing will be a no-op.
    pub noop: bool,
    /// Guard-rail findings for this step.
    pub findings: Vec<GuardFinding>,
}

/// A typed, inspectable plan of a procedure against live state, sealed by its digest (see
/// [`Plan::verify`]): a plan file is approved and run as written, and only as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Run id the plan will execute under.
    pub run_id: String,
    /// The procedure as planned.
    pub procedure: Procedure,
    /// When the plan was made (from the backends' clock).
    pub created_at: DateTime<Utc>,
    /// Steps in a dependency-respecting order.
    pub steps: Vec<PlannedStep>,
    /// All guard-rail findings.
    pub findings: Vec<GuardFinding>,
    /// Some step targets production: the approval must set `confirm_production`.
    pub needs_production_confirmation: bool,
    /// [`Policy::digest`] of the policy the plan was made under.
    pub policy_digest: String,
    /// SHA-256 over the canonical JSON of `field_digests` recomputed from the content: covers every field
    /// above (procedure and its parameters, targets, every step's action, inverse, `before`, checks and
    /// deadline, `created_at`, `policy_digest`). Set by [`Plan::seal`].
    pub digest: String,
    /// The digest of each field (`created_at`, `steps[0].inverse`, ...), so a refusal names the first field
    /// that differs.
    pub field_digests: BTreeMap<String, String>,
    /// Ed25519 signature over the digest, made when planning with a signing key ([`Plan::sign`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

/// Top-level fields covered by the digest, in the order a refusal looks for the first difference
/// (`steps` stands for the step ids in order, then every `steps[i].<field>`).
const PLAN_FIELDS: [&str; 7] =
    ["run_id", "procedure", "created_at", "policy_digest", "needs_production_confirmation", "findings", "steps"];

/// Fields of a planned step covered by the digest.
const STEP_FIELDS: [&str; 13] = [
    "id",
    "stage",
    "depends_on",
    "deadline",
    "kind",
    "before",
    "after",
    "inverse",
    "fingerprint",
    "mutating",
    "noop",
    "summary",
    "findings",
];

/// Fields of a plan outside the digest.
const SEAL_FIELDS: [&str; 3] = ["digest", "field_digests", "signature"];

/// What a plan signature signs: the digest, prefixed so a plan signature is never valid for anything else.
fn signed_message(digest: &str) -> Vec<u8> {
    format!("incident-core plan digest v1:{digest}").into_bytes()
}

/// A human's approval of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Approval {
    /// Who approved.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Production changes explicitly confirmed.
    #[serde(default)]
    pub confirm_production: bool,
    /// Approval-gate step ids approved up front (others pause the run).
    #[serde(default)]
    pub gates: Vec<String>,
}

impl Approval {
    /// An approval by `by` at `at`, without production confirmation.
    pub fn new(by: impl Into<String>, at: DateTime<Utc>) -> Self {
        Self { by: by.into(), at, confirm_production: false, gates: Vec::new() }
    }

    /// Confirm production changes.
    #[must_use]
    pub fn confirm_production(mut self) -> Self {
        self.confirm_production = true;
        self
    }

    /// Approve gate steps up front.
    #[must_use]
    pub fn with_gates<I: IntoIterator<Item = S>, S: Into<String>>(mut self, gates: I) -> Self {
        self.gates.extend(gates.into_iter().map(Into::into));
        self
    }
}

/// A plan plus its approval, bound by the plan's digest (the executor refuses a plan edited after
/// approval).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ApprovedPlan {
    /// The plan.
    pub plan: Plan,
    /// The approval.
    pub approval: Approval,
    /// [`Plan::digest`] at approval time.
    pub plan_digest: String,
}

impl Plan {
    /// Every field the digest covers with its canonical-JSON SHA-256, in refusal order.
    fn fields(&self) -> Vec<(String, String)> {
        let v = serde_json::to_value(self).unwrap_or(Value::Null);
        let empty = serde_json::Map::new();
        let obj = v.as_object().unwrap_or(&empty);
        let mut out = Vec::new();
        let mut push = |k: String, v: &Value| out.push((k, canon::fingerprint(v)));
        for key in PLAN_FIELDS {
            if key == "steps" {
                let ids: Vec<&str> = self.steps.iter().map(|s| s.id.as_str()).collect();
                push("steps".into(), &serde_json::json!(ids));
                let steps = obj.get("steps").and_then(Value::as_array).cloned().unwrap_or_default();
                for (i, step) in steps.iter().enumerate() {
                    let sobj = step.as_object().unwrap_or(&empty);
                    for f in STEP_FIELDS {
                        push(format!("steps[{i}].{f}"), sobj.get(f).unwrap_or(&Value::Null));
                    }
                    // A field added to `PlannedStep` without being listed is still covered.
                    for (f, fv) in sobj.iter().filter(|(f, _)| !STEP_FIELDS.contains(&f.as_str())) {
                        push(format!("steps[{i}].{f}"), fv);
                    }
                }
            } else {
                push(key.into(), obj.get(key).unwrap_or(&Value::Null));
            }
        }
        for (k, fv) in
            obj.iter().filter(|(k, _)| !PLAN_FIELDS.contains(&k.as_str()) && !SEAL_FIELDS.contains(&k.as_str()))
        {
            push(k.clone(), fv);
        }
        out
    }

    fn digest_of(fields: &BTreeMap<String, String>) -> String {
        canon::fingerprint(&serde_json::to_value(fields).unwrap_or(Value::Null))
    }

    /// The digest of the plan's content as it is now (equal to [`Plan::digest`] unless the plan was
    /// changed after [`Plan::seal`]).
    #[must_use]
    pub fn content_digest(&self) -> String {
        Self::digest_of(&self.fields().into_iter().collect())
    }

    /// Record the digest of the current content (and drop a signature made over another content).
    /// [`Procedure::plan`] seals the plans it makes; call it after building or changing one by hand.
    pub fn seal(&mut self) {
        let fields: BTreeMap<String, String> = self.fields().into_iter().collect();
        let digest = Self::digest_of(&fields);
        if digest != self.digest {
            self.signature = None;
        }
        self.digest = digest;
        self.field_digests = fields;
    }

    /// Sign the (sealed) plan's digest.
    pub fn sign(&mut self, key: &SigningKey) {
        self.signature = Some(key.sign(&signed_message(&self.digest)));
    }

    /// Check that the content is the content that was planned: recompute every field's digest and the
    /// plan's digest.
    ///
    /// # Errors
    /// `PreconditionFailed` naming the first field that differs, e.g.
    /// `plan field steps[0].inverse changed after planning (digest mismatch)`; or saying the digest does
    /// not match.
    pub fn verify_integrity(&self) -> Result<()> {
        let fields = self.fields();
        let map: BTreeMap<String, String> = fields.iter().cloned().collect();
        if Self::digest_of(&map) == self.digest && map == self.field_digests {
            return Ok(());
        }
        let changed = fields
            .iter()
            .find(|(k, d)| self.field_digests.get(k) != Some(d))
            .map(|(k, _)| k.clone())
            .or_else(|| self.field_digests.keys().find(|k| !map.contains_key(*k)).cloned());
        Err(Error::precondition(match changed {
            Some(field) => format!(
                "plan {}: plan field {field} changed after planning (digest mismatch): refused; re-plan and approve the new plan",
                self.run_id
            ),
            None => format!(
                "plan {}: the recorded digest {} does not match the plan's content: refused; re-plan",
                self.run_id, self.digest
            ),
        }))
    }

    /// [`Plan::verify_integrity`], then the signature: required (and checked) when `trust` names any key.
    ///
    /// # Errors
    /// `PreconditionFailed`: content changed, unsigned while signatures are required, signed by an
    /// untrusted key, or a bad signature.
    pub fn verify(&self, trust: &Trust) -> Result<()> {
        self.verify_integrity()?;
        trust
            .verify(&format!("plan {}", self.run_id), &signed_message(&self.digest), self.signature.as_ref())
            .map_err(|e| Error::precondition(format!("{}: refused", e.message())))
    }

    /// The planned step `id`.
    #[must_use]
    pub fn step(&self, id: &str) -> Option<&PlannedStep> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// Findings that make the executor refuse.
    pub fn refusals(&self) -> impl Iterator<Item = &GuardFinding> {
        self.findings.iter().filter(|f| f.level == FindingLevel::Refused)
    }

    /// Approve the plan.
    ///
    /// # Errors
    /// `Refused` when `by` is empty, a guard rail refuses a step, or production is targeted without
    /// `confirm_production` (when the policy that planned requires it).
    pub fn approve(self, approval: Approval) -> Result<ApprovedPlan> {
        if approval.by.trim().is_empty() {
            return Err(Error::refused("an approval must name who approved"));
        }
        self.verify_integrity()?;
        if let Some(f) = self.refusals().next() {
            return Err(Error::refused(format!("step {}: {} ({})", f.step_id, f.message, f.rule)));
        }
        if self.needs_production_confirmation && !approval.confirm_production {
            let what = self
                .findings
                .iter()
                .find(|f| f.level == FindingLevel::NeedsConfirmation)
                .map(|f| format!("step {}: {}", f.step_id, f.message))
                .unwrap_or_default();
            return Err(Error::refused(format!("{what}; approve with confirm_production")));
        }
        let plan_digest = self.digest.clone();
        Ok(ApprovedPlan { plan: self, approval, plan_digest })
    }
}

impl Procedure {
    /// Plan against live state (read-only). Steps that change a resource an earlier step changes are
    /// planned from that step's `after`.
    ///
    /// # Errors
    /// `InvalidInput` for an invalid DAG or an action that cannot apply (naming the step), `NotFound`,
    /// backend errors.
    pub async fn plan(&self, backends: &Backends, policy: &Policy) -> Result<Plan> {
        self.validate()?;
        let created_at = backends.clock.now();
        let mut projected: BTreeMap<String, Value> = BTreeMap::new();
        let mut befores: BTreeMap<String, Value> = BTreeMap::new();
        let mut steps = Vec::with_capacity(self.steps.len());
        for i in self.topo_order()? {
            let s = &self.steps[i];
            let deadline = s.deadline.unwrap_or(policy.retry.step_deadline);
            let mut p = PlannedStep {
                id: s.id.clone(),
                stage: s.stage.clone(),
                depends_on: s.depends_on.clone(),
                deadline,
                kind: s.kind.clone(),
                summary: s.kind.describe(),
                before: Value::Null,
                after: Value::Null,
                inverse: None,
                fingerprint: None,
                mutating: s.kind.is_mutating(),
                noop: false,
                findings: Vec::new(),
            };
            if let StepKind::Action(action) = &s.kind {
                let ctx = |e: Error| e.context(format!("step {}", s.id));
                let resources = action.resources();
                let key = resources.join("|");
                let before = match projected.get(&key) {
                    Some(v) if !key.is_empty() => v.clone(),
                    _ => action.observe(backends).await.map_err(ctx)?,
                };
                let recorded = |id: &str| befores.get(id).cloned();
                let sp = action.plan_from(backends, before, &recorded).await.map_err(ctx)?;
                p.noop = sp.is_noop();
                p.summary = sp.summary;
                if p.mutating {
                    p.fingerprint = Some(canon::fingerprint(&sp.before));
                    if !key.is_empty() {
                        projected.insert(key, sp.after.clone());
                    }
                }
                befores.insert(s.id.clone(), sp.before.clone());
                p.before = sp.before;
                p.after = sp.after;
                p.inverse = sp.inverse;
                p.findings = guard::evaluate(&s.id, &sp.action, &self.name, &policy.guard_rails);
                // The inverse compensation would run: only its refusals (a production target is already
                // found on the forward action).
                p.findings.extend(
                    check_inverse(&s.id, &sp.action, &p.before, p.inverse.as_ref(), &self.name, &policy.guard_rails)
                        .into_iter()
                        .filter(|f| f.level == FindingLevel::Refused),
                );
                p.kind = StepKind::Action(sp.action);
            }
            steps.push(p);
        }
        let findings: Vec<GuardFinding> = steps.iter().flat_map(|s| s.findings.iter().cloned()).collect();
        let needs_production_confirmation = policy.guard_rails.confirm_production
            && findings.iter().any(|f| f.level == FindingLevel::NeedsConfirmation);
        let mut plan = Plan {
            run_id: String::new(),
            procedure: self.clone(),
            created_at,
            steps,
            findings,
            needs_production_confirmation,
            policy_digest: policy.digest(),
            digest: String::new(),
            field_digests: BTreeMap::new(),
            signature: None,
        };
        let digest = plan.content_digest();
        plan.run_id = format!(
            "run-{}-{}-{}",
            self.name,
            created_at.format("%Y%m%dT%H%M%SZ"),
            digest.get(..8).unwrap_or("00000000")
        );
        plan.seal();
        Ok(plan)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "plan {} of {} (dry run, made {})",
            self.run_id,
            self.procedure.name,
            self.created_at.to_rfc3339_opts(SecondsFormat::Secs, true)
        )?;
        for s in &self.steps {
            let after =
                if s.depends_on.is_empty() { String::new() } else { format!(" [after {}]", s.depends_on.join(", ")) };
            writeln!(f, "  [{}] {}: {}{after}", s.stage, s.id, s.summary)?;
            if s.mutating {
                let noop = if s.noop { " (already so: no-op)" } else { "" };
                writeln!(f, "      {} -> {}{noop}", canon::canonical(&s.before), canon::canonical(&s.after))?;
                match &s.inverse {
                    Some(inv) => writeln!(f, "      undo: {}", inv.describe())?,
                    None => writeln!(f, "      undo: none (irreversible)")?,
                }
            }
            for g in &s.findings {
                writeln!(f, "      {}: {} ({})", g.level, g.message, g.rule)?;
            }
        }
        if self.needs_production_confirmation {
            writeln!(f, "  production targets: approval must confirm production")?;
        }
        writeln!(f, "  digest: {}", self.digest)?;
        match &self.signature {
            Some(sig) => writeln!(f, "  signed by {}", sig.key)?,
            None => writeln!(f, "  unsigned")?,
        }
        Ok(())
    }
}
