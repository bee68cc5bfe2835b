//! The engine: the simulated platform, procedures (library, scenario spec, files), plans, approval, and
//! durable runs (run / resume / approve a gate) against a journal store.

use chrono::{DateTime, Utc};
use incident_core::engine::{
    Approval, ApprovedPlan as CoreApprovedPlan, Executor, Plan as CorePlan, Procedure as CoreProcedure,
    RunReport as CoreRunReport,
};
use incident_core::sim::{Scenario, SimPlatform as CoreSimPlatform};
use incident_core::{Error as CoreError, Policy as CorePolicy, Result as CoreResult};
use napi::Env;
use napi::bindgen_prelude::{AsyncTask, Either, Object};
use napi_derive::napi;
use serde_json::Value;

use crate::backends::{Backends, Target};
use crate::error::{OrThrow, from_json, to_json};
use crate::incident::now_or;
use crate::policy::{Policy, or_default};
use crate::task::{SimTask, spawn};

type Date = DateTime<Utc>;

/// Names of the built-in simulator scenarios (`bad-deploy`, ...).
#[napi(strict, catch_unwind)]
pub fn scenario_names() -> Vec<String> {
    Scenario::names().into_iter().map(str::to_owned).collect()
}

/// Names of the library procedures.
#[napi(strict, catch_unwind)]
pub fn procedure_names() -> Vec<String> {
    incident_core::engine::library::NAMES.iter().map(|s| (*s).to_owned()).collect()
}

/// The embedded simulated ML platform (two regions of Kubernetes, RDS, Route53, probes) with a virtual
/// clock. In memory (`fromScenario`) or backed by a state file that another process can continue.
#[napi]
pub struct SimPlatform {
    pub(crate) inner: CoreSimPlatform,
}

#[napi]
impl SimPlatform {
    /// An in-memory platform from a built-in scenario name or a scenario YAML path.
    #[napi(factory, strict, catch_unwind)]
    pub fn from_scenario(env: Env, scenario: String) -> napi::Result<Self> {
        let s = Scenario::from_name_or_path(&scenario).or_throw(&env)?;
        Ok(Self { inner: CoreSimPlatform::from_scenario(&s).or_throw(&env)? })
    }

    /// Create a state file at `path` from `scenario` (replacing nothing: throws if it cannot be written).
    #[napi(factory, strict, catch_unwind)]
    pub fn create(env: Env, path: String, scenario: String) -> napi::Result<Self> {
        let s = Scenario::from_name_or_path(&scenario).or_throw(&env)?;
        Ok(Self { inner: CoreSimPlatform::create(&path, &s).or_throw(&env)? })
    }

    /// Open an existing state file.
    #[napi(factory, strict, catch_unwind)]
    pub fn open(env: Env, path: String) -> napi::Result<Self> {
        Ok(Self { inner: CoreSimPlatform::open(&path).or_throw(&env)? })
    }

    /// Open `path`, creating it from `scenario` when missing (the CLI's `--sim FILE --scenario NAME`).
    #[napi(factory, strict, catch_unwind)]
    pub fn open_or_create(env: Env, path: String, scenario: String) -> napi::Result<Self> {
        let s = Scenario::from_name_or_path(&scenario).or_throw(&env)?;
        Ok(Self { inner: CoreSimPlatform::open_or_create(&path, &s).or_throw(&env)? })
    }

    /// The scenario's name.
    #[napi(getter, catch_unwind)]
    pub fn scenario_name(&self) -> String {
        self.inner.scenario_name()
    }

    /// Virtual now.
    #[napi(getter, catch_unwind)]
    pub fn now(&self) -> Date {
        self.inner.now()
    }

    /// When the simulated world started.
    #[napi(getter, catch_unwind)]
    pub fn started_at(&self) -> Date {
        self.inner.started_at()
    }

    /// The state file, if any.
    #[napi(getter, catch_unwind)]
    pub fn path(&self) -> Option<String> {
        self.inner.path().map(|p| p.display().to_string())
    }

    /// Advance virtual time by `seconds` (timed scenario events fire).
    #[napi(strict, catch_unwind)]
    pub fn advance(&self, env: Env, seconds: f64) -> napi::Result<()> {
        self.inner.advance(secs(seconds).or_throw(&env)?).or_throw(&env)
    }

    /// Advance virtual time to `seconds` after the start.
    #[napi(strict, catch_unwind)]
    pub fn advance_to_offset(&self, env: Env, seconds: f64) -> napi::Result<()> {
        self.inner.advance_to_offset(secs(seconds).or_throw(&env)?).or_throw(&env)
    }

    /// Take a region dark (every call to it fails `unavailable`).
    #[napi(strict, catch_unwind)]
    pub fn region_goes_dark(&self, env: Env, region: String) -> napi::Result<()> {
        self.inner.region_goes_dark(&region).or_throw(&env)
    }

    /// Bring a dark region back.
    #[napi(strict, catch_unwind)]
    pub fn region_recovers(&self, env: Env, region: String) -> napi::Result<()> {
        self.inner.region_recovers(&region).or_throw(&env)
    }

    /// Virtual seconds since the start.
    #[napi(getter, catch_unwind)]
    pub fn elapsed_seconds(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)] // milliseconds of a simulation fit an f64 exactly
        let ms = self.inner.elapsed().num_milliseconds() as f64;
        ms / 1000.0
    }

    /// Roll out `image` to a deployment's single container, as a CI deploy would (logged with origin
    /// `scenario`, so it is not an `apiOperations()` change). Returns the new revision number. Throws
    /// `not_found` for an unknown context or deployment.
    #[napi(strict, catch_unwind)]
    pub fn deploy_image(
        &self,
        env: Env,
        context: String,
        namespace: String,
        deployment: String,
        image: String,
        change_cause: Option<String>,
    ) -> napi::Result<f64> {
        let rev = self
            .inner
            .deploy_image(&context, &namespace, &deployment, &image, change_cause.as_deref())
            .or_throw(&env)?;
        #[allow(clippy::cast_precision_loss)] // revision numbers are small
        Ok(rev as f64)
    }

    /// The active faults, in the scenario file's shape (snake_case; `latency_spike` as text such as `2s`).
    #[napi(
        strict,
        catch_unwind,
        ts_return_type = "{ error_rate: number; throttle_rate: number; timeout_rate: number; latency_spike_rate: number; latency_spike: string; seed: number; dark_regions: string[] }"
    )]
    pub fn faults(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner.faults()).or_throw(&env)
    }

    /// Replace the active faults (dark regions included) with `faults`, in the scenario file's shape
    /// (camelCase or snake_case keys; absent fields take core's defaults: no faults). Throws
    /// `invalid_input` naming an unknown field or a rate outside 0..=1.
    #[napi(
        catch_unwind,
        ts_args_type = "faults: { errorRate?: number; throttleRate?: number; timeoutRate?: number; latencySpikeRate?: number; latencySpike?: string | number; seed?: number; darkRegions?: string[] }"
    )]
    pub fn set_faults(&self, env: Env, faults: Value) -> napi::Result<()> {
        let faults = from_json("faults", crate::error::rename_keys(faults, crate::error::snake)).or_throw(&env)?;
        self.inner.set_faults(faults).or_throw(&env)
    }

    /// The mutations made through the backends only (origin `api`: what procedures changed), wire JSON.
    #[napi(strict, catch_unwind, ts_return_type = "Array<import('../lib/wire').SimOpJson>")]
    pub fn api_operations(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner.api_operations()).or_throw(&env)
    }

    /// Resolve a DNS name as the simulated Route53 answers it (in-sync changes only).
    #[napi(strict, catch_unwind)]
    pub fn resolve(&self, name: String) -> Option<String> {
        self.inner.resolve(&name)
    }

    /// The whole simulated world: the simulator's internal state file format (versioned by its `format`
    /// field, not a stable API; use the typed accessors and reports instead).
    #[napi(strict, catch_unwind, ts_return_type = "Record<string, unknown>")]
    pub fn world(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner.world()).or_throw(&env)
    }

    /// Every mutation so far (wire JSON).
    #[napi(strict, catch_unwind, ts_return_type = "Array<import('../lib/wire').SimOpJson>")]
    pub fn operation_log(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner.operation_log()).or_throw(&env)
    }

    /// Notifications sent through the simulated notifier (wire JSON).
    #[napi(strict, catch_unwind, ts_return_type = "Array<import('../lib/wire').NotificationJson>")]
    pub fn notifications(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner.notifications()).or_throw(&env)
    }
}

/// Seconds from JS (a number) as a `Duration`; negative, NaN and infinite values are `invalid_input`.
pub(crate) fn secs(s: f64) -> CoreResult<std::time::Duration> {
    std::time::Duration::try_from_secs_f64(s)
        .map_err(|_| CoreError::invalid_input(format!("seconds must be a finite number >= 0, got {s}")))
}

/// A procedure: a DAG of typed steps (actions, checks, waits, approval gates).
#[napi]
pub struct Procedure {
    pub(crate) inner: CoreProcedure,
}

/// A library procedure by name (or deprecated alias) with parameters over its runbook defaults (`context`,
/// `namespace`, `deployment`, `replicas`, ...; the CLI's `incident plan --param k=v`, see the typed
/// `trafficManagement`, `applicationRollback`, ... for each procedure's). Values are strings as the CLI
/// takes them, or numbers, `Date`s and arrays of names; keys snake_case or camelCase. Throws `not_found`
/// for an unknown procedure and `invalid_input` naming an unknown or malformed parameter.
#[napi(
    catch_unwind,
    ts_args_type = "name: string, params?: Record<string, string | number | Date | string[] | null | undefined> | null, policy?: Policy | undefined | null"
)]
pub fn procedure(
    env: Env,
    name: String,
    params: Option<Object<'_>>,
    policy: Option<&Policy>,
) -> napi::Result<Procedure> {
    crate::library::build(&env, &name, params, policy)
}

/// Parse a procedure document (JSON or YAML), validating the DAG.
#[napi(strict, catch_unwind)]
pub fn parse_procedure(env: Env, text: String) -> napi::Result<Procedure> {
    Ok(Procedure { inner: CoreProcedure::parse(&text).or_throw(&env)? })
}

#[napi]
impl Procedure {
    /// Name.
    #[napi(getter, catch_unwind)]
    pub fn name(&self) -> String {
        self.inner.name.clone()
    }

    /// Description.
    #[napi(getter, catch_unwind)]
    pub fn description(&self) -> String {
        self.inner.description.clone()
    }

    /// Stage names in order.
    #[napi(strict, catch_unwind)]
    pub fn stages(&self) -> Vec<String> {
        self.inner.stages()
    }

    /// Step ids in a dependency-respecting order.
    #[napi(strict, catch_unwind)]
    pub fn step_ids(&self, env: Env) -> napi::Result<Vec<String>> {
        let order = self.inner.topo_order().or_throw(&env)?;
        Ok(order.into_iter().filter_map(|i| self.inner.steps.get(i).map(|s| s.id.clone())).collect())
    }

    /// Validate the DAG (ids, dependencies, cycles).
    #[napi(strict, catch_unwind)]
    pub fn validate(&self, env: Env) -> napi::Result<()> {
        self.inner.validate().or_throw(&env)
    }

    /// Human-readable differences from `other`.
    #[napi(strict, catch_unwind)]
    pub fn diff(&self, other: &Procedure) -> Vec<String> {
        self.inner.diff(&other.inner)
    }

    /// YAML document.
    #[napi(strict, catch_unwind)]
    pub fn to_yaml(&self, env: Env) -> napi::Result<String> {
        self.inner.to_yaml().or_throw(&env)
    }

    /// The procedure printed as text.
    #[napi(js_name = "toString", catch_unwind)]
    pub fn to_text(&self) -> String {
        self.inner.to_string()
    }

    /// Wire JSON.
    #[napi(js_name = "toJSON", catch_unwind, ts_return_type = "import('../lib/wire').ProcedureJson")]
    pub fn to_json(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner).or_throw(&env)
    }

    /// Read live state from `platform` (a `SimPlatform`, or `Backends` for real AWS) and produce the typed
    /// plan (before → after per step, inverses, guard-rail findings). Nothing is mutated.
    #[napi(strict, ts_return_type = "Promise<Plan>")]
    pub fn plan(&self, platform: Either<&SimPlatform, &Backends>, policy: Option<&Policy>) -> AsyncTask<SimTask<Plan>> {
        let (procedure, target, policy) = (self.inner.clone(), Target::of(&platform, None), or_default(policy));
        spawn(move |rt| {
            let set = target?.open(None, &policy, rt)?;
            Ok(Plan { inner: rt.block_on(procedure.plan(set.backends(), &policy))? })
        })
    }
}

/// Options of `Plan.approve`.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct ApproveOptions {
    /// Who approves.
    pub by: String,
    /// When (defaults to the system clock; pass `platform.now` for simulated runs).
    pub at: Option<Date>,
    /// Confirm production targets (required when `needsProductionConfirmation`).
    pub confirm_production: Option<bool>,
    /// Approval-gate step ids approved up front (others pause the run).
    pub gates: Option<Vec<String>>,
}

/// A typed, inspectable plan of a procedure against live state.
#[napi]
pub struct Plan {
    pub(crate) inner: CorePlan,
}

#[napi]
impl Plan {
    /// Rebuild a plan from its wire JSON (e.g. a file written by `incident plan --out`).
    #[napi(
        factory,
        js_name = "fromJSON",
        catch_unwind,
        ts_args_type = "json: import('../lib/wire').PlanJson | Record<string, unknown>"
    )]
    pub fn from_json(env: Env, json: Value) -> napi::Result<Self> {
        Ok(Self { inner: from_json("plan", json).or_throw(&env)? })
    }

    /// The run id the plan will execute under.
    #[napi(getter, catch_unwind)]
    pub fn run_id(&self) -> String {
        self.inner.run_id.clone()
    }

    /// The procedure's name.
    #[napi(getter, catch_unwind)]
    pub fn procedure_name(&self) -> String {
        self.inner.procedure.name.clone()
    }

    /// When the plan was made (backend clock).
    #[napi(getter, catch_unwind)]
    pub fn created_at(&self) -> Date {
        self.inner.created_at
    }

    /// Some step targets production: approval must confirm production.
    #[napi(getter, catch_unwind)]
    pub fn needs_production_confirmation(&self) -> bool {
        self.inner.needs_production_confirmation
    }

    /// Step ids in order.
    #[napi(strict, catch_unwind)]
    pub fn step_ids(&self) -> Vec<String> {
        self.inner.steps.iter().map(|s| s.id.clone()).collect()
    }

    /// Guard-rail refusals (the plan cannot be approved while any exist), as text.
    #[napi(strict, catch_unwind)]
    pub fn refusals(&self) -> Vec<String> {
        self.inner.refusals().map(|f| format!("{}: {}", f.rule, f.message)).collect()
    }

    /// SHA-256 digest binding an approval to this exact plan.
    #[napi(strict, catch_unwind)]
    pub fn digest(&self) -> String {
        self.inner.digest.clone()
    }

    /// The plan printed as text.
    #[napi(js_name = "toString", catch_unwind)]
    pub fn to_text(&self) -> String {
        self.inner.to_string()
    }

    /// Wire JSON (steps with `before`/`after`/`inverse`, findings).
    #[napi(js_name = "toJSON", catch_unwind, ts_return_type = "import('../lib/wire').PlanJson")]
    pub fn to_json(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner).or_throw(&env)
    }

    /// Sign the plan's digest with the Ed25519 private key in the file `signingKey` (PKCS#8 PEM or DER,
    /// from `incident keygen`), as `incident plan --signing-key`: a machine whose policy trusts the key
    /// runs it. Throws `invalid_input` for an unreadable or non-Ed25519 key (never showing it).
    #[napi(strict, catch_unwind)]
    pub fn sign(&mut self, env: Env, signing_key: String) -> napi::Result<()> {
        let key = crate::incidents::read_signing_key(Some(signing_key)).or_throw(&env)?;
        if let Some(key) = key {
            self.inner.sign(&key);
        }
        Ok(())
    }

    /// Check the plan as `incident run` does before anything else: its content matches its digest, and it
    /// is signed by a trusted key when the policy's `signing.trusted_keys` (or the key file
    /// `signingKey`'s public half) names any. Throws `precondition_failed` otherwise.
    #[napi(strict, catch_unwind)]
    pub fn verify(&self, env: Env, policy: Option<&Policy>, signing_key: Option<String>) -> napi::Result<()> {
        let key = crate::incidents::read_signing_key(signing_key).or_throw(&env)?;
        self.inner.verify(&or_default(policy).signing.trust(key.as_ref())).or_throw(&env)
    }

    /// Approve the plan. Throws `refused` when a guard rail refuses it or production is not confirmed.
    #[napi(strict, catch_unwind)]
    pub fn approve(&self, env: Env, options: ApproveOptions) -> napi::Result<ApprovedPlan> {
        let mut a = Approval::new(options.by, now_or(options.at)).with_gates(options.gates.unwrap_or_default());
        if options.confirm_production.unwrap_or(false) {
            a = a.confirm_production();
        }
        Ok(ApprovedPlan { inner: self.inner.clone().approve(a).or_throw(&env)? })
    }
}

/// A plan bound to its approval.
#[napi]
pub struct ApprovedPlan {
    pub(crate) inner: CoreApprovedPlan,
}

#[napi]
impl ApprovedPlan {
    /// The run id.
    #[napi(getter, catch_unwind)]
    pub fn run_id(&self) -> String {
        self.inner.plan.run_id.clone()
    }

    /// Who approved.
    #[napi(getter, catch_unwind)]
    pub fn approved_by(&self) -> String {
        self.inner.approval.by.clone()
    }

    /// Wire JSON.
    #[napi(js_name = "toJSON", catch_unwind, ts_return_type = "import('../lib/wire').ApprovedPlanJson")]
    pub fn to_json(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner).or_throw(&env)
    }
}

/// Where a run journals and who runs it.
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// With a `SimPlatform`: the journal store, a SQLite file or a `postgres://` URL (default: one
    /// in-memory store per process, so no resume across processes). `Backends` carry their own store.
    pub store: Option<String>,
    /// Incident the run belongs to (its timeline records every step).
    pub incident_id: Option<String>,
    /// Executor identity (default `node:<pid>`).
    pub owner: Option<String>,
    /// Resume only: the executor that left steps in flight is dead; take over its claims.
    pub take_over: Option<bool>,
    /// An Ed25519 private key file (PKCS#8 PEM or DER) whose public half is trusted besides the policy's
    /// `signing.trusted_keys`, as `incident run --signing-key`: with any trusted key, only plans signed by
    /// one run (`precondition_failed` otherwise).
    pub signing_key: Option<String>,
}

impl RunOptions {
    /// The executor of `incident run` / `incident resume`: the owner, and plans checked against the
    /// policy's trusted keys (and `signingKey`'s).
    fn executor(&self, set: &incident_backends::BackendSet, policy: CorePolicy) -> CoreResult<Executor> {
        let key = crate::incidents::read_signing_key(self.signing_key.clone())?;
        let trust = policy.signing.trust(key.as_ref());
        let owner = self.owner.clone().unwrap_or_else(|| format!("node:{}", std::process::id()));
        let exec = set.executor(policy, owner).trusting(trust);
        Ok(if self.take_over.unwrap_or(false) { exec.taking_over() } else { exec })
    }
}

/// Execute an approved plan on `platform` (a `SimPlatform`, or `Backends`), journaling intent and outcome
/// of every step. Resolves with the report (a failed or compensated run is a report, not a rejection).
#[napi(strict, ts_return_type = "Promise<RunReport>")]
pub fn run_plan(
    approved: &ApprovedPlan,
    platform: Either<&SimPlatform, &Backends>,
    options: Option<RunOptions>,
    policy: Option<&Policy>,
) -> AsyncTask<SimTask<RunReport>> {
    let (approved, o, policy) = (approved.inner.clone(), options.unwrap_or_default(), or_default(policy));
    let target = Target::of(&platform, o.store.as_deref());
    spawn(move |rt| {
        let set = target?.open(o.store.as_deref(), &policy, rt)?;
        let exec = o.executor(&set, policy)?;
        Ok(RunReport { inner: rt.block_on(exec.run(approved, o.incident_id.clone()))? })
    })
}

/// Continue run `runId` from its journal (after a crash or an approval gate) without repeating a completed
/// mutation. Rejects `not_found` for an unknown run, `conflict` while another live executor holds a step.
#[napi(strict, ts_return_type = "Promise<RunReport>")]
pub fn resume_run(
    run_id: String,
    platform: Either<&SimPlatform, &Backends>,
    options: Option<RunOptions>,
    policy: Option<&Policy>,
) -> AsyncTask<SimTask<RunReport>> {
    let (o, policy) = (options.unwrap_or_default(), or_default(policy));
    let target = Target::of(&platform, o.store.as_deref());
    spawn(move |rt| {
        let set = target?.open(o.store.as_deref(), &policy, rt)?;
        let exec = o.executor(&set, policy)?;
        Ok(RunReport { inner: rt.block_on(exec.resume(&run_id))? })
    })
}

/// Approve approval-gate `stepId` of a paused run (then `resumeRun`).
#[napi(strict, ts_return_type = "Promise<void>")]
pub fn approve_gate(
    run_id: String,
    step_id: String,
    by: String,
    platform: Either<&SimPlatform, &Backends>,
    options: Option<RunOptions>,
) -> AsyncTask<SimTask<()>> {
    let o = options.unwrap_or_default();
    let target = Target::of(&platform, o.store.as_deref());
    spawn(move |rt| {
        let policy = CorePolicy::default();
        let set = target?.open(o.store.as_deref(), &policy, rt)?;
        rt.block_on(o.executor(&set, policy)?.approve_gate(&run_id, &step_id, &by))
    })
}

/// The outcome of a run.
#[napi]
pub struct RunReport {
    pub(crate) inner: CoreRunReport,
}

#[napi]
impl RunReport {
    /// Run id.
    #[napi(getter, catch_unwind)]
    pub fn run_id(&self) -> String {
        self.inner.run_id.clone()
    }

    /// Procedure name.
    #[napi(getter, catch_unwind)]
    pub fn procedure(&self) -> String {
        self.inner.procedure.clone()
    }

    /// `'succeeded'`, `'failed'`, `'compensated'`, or `'running'` (paused at an approval gate).
    #[napi(getter, catch_unwind, ts_return_type = "'planned' | 'running' | 'succeeded' | 'failed' | 'compensated'")]
    pub fn status(&self) -> String {
        self.inner.status.as_str().to_owned()
    }

    /// Exactly what was changed and not undone, one line per change.
    #[napi(getter, catch_unwind)]
    pub fn left_state(&self) -> Vec<String> {
        self.inner.left_state.clone()
    }

    /// Problems that did not stop the run.
    #[napi(getter, catch_unwind)]
    pub fn warnings(&self) -> Vec<String> {
        self.inner.warnings.clone()
    }

    /// `[stepId, status]` pairs in plan order.
    #[napi(
        strict,
        catch_unwind,
        ts_return_type = "Array<{ id: string; status: import('../lib/wire').StepStatusJson; error?: string }>"
    )]
    pub fn steps(&self) -> Value {
        Value::Array(
            self.inner
                .steps
                .iter()
                .map(|s| {
                    let mut o = serde_json::json!({ "id": s.id, "status": crate::error::enum_str(&s.status) });
                    if let (Some(e), Some(m)) = (&s.error, o.as_object_mut()) {
                        m.insert("error".into(), Value::String(e.clone()));
                    }
                    o
                })
                .collect(),
        )
    }

    /// Wire JSON.
    #[napi(js_name = "toJSON", catch_unwind, ts_return_type = "import('../lib/wire').RunReportJson")]
    pub fn to_json(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner).or_throw(&env)
    }
}
