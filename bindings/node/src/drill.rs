//! `runDrill`: a whole scenario end to end on the simulator (detection, declaration, triage, plan,
//! approval, run, verification, resolution, post-mortem), scored against the policy's stage budgets.

use std::sync::{Arc, mpsc};

use chrono::{DateTime, Utc};
use incident_backends::{BackendSpec, SimSpec, StoreSpec};
use incident_core::drill_run::{
    self as core, Approver, AutoApprove, DrillEvent, DrillObserver, DrillOptions as CoreOptions,
    DrillReport as CoreDrillReport, Silent,
};
use incident_core::engine::{Approval, Plan as CorePlan};
use incident_core::evidence::DrillBundle;
use incident_core::sim::SimPlatform as CoreSimPlatform;
use incident_core::{Error as CoreError, Result as CoreResult};
use incident_store::SqliteStore;
use napi::bindgen_prelude::{AsyncTask, CallbackContext, Either, Either3, JsValue, PromiseRaw, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status, ValueType};
use napi_derive::napi;
use serde_json::Value;

use crate::classify::Classification;
use crate::detector::Declaration;
use crate::engine::{Plan, RunReport};
use crate::error::{OrThrow, to_json};
use crate::incident::Incident;
use crate::policy::{Policy, or_default};
use crate::postmortem::PostMortem;
use crate::task::{SimTask, Thrown, spawn_with_callbacks};
use crate::timeline::Timeline;
use crate::triage::TriageReport;

/// `approve` as a JS callback: `(plan) => boolean | Promise<boolean>`.
type ApproveFn = ThreadsafeFunction<
    Plan,
    Either3<bool, PromiseRaw<'static, Unknown<'static>>, Unknown<'static>>,
    Plan,
    Status,
    false,
>;
/// `onEvent` as a JS callback: `(event) => void`.
type EventFn = ThreadsafeFunction<Value, Unknown<'static>, Value, Status, false>;

/// Options of `runDrill`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct DrillOptions {
    /// The on-call engineer (incident commander); default `on-call`.
    pub on_call: Option<String>,
    /// Who approves the plan (default: the on-call engineer).
    pub approver: Option<String>,
    /// `true` (default) approves as `approver`, confirming production targets and approval gates like the
    /// CLI's `--yes`; `false` declines (the drill then fails at approval); a function sees the typed `Plan`
    /// and decides (it may return a Promise). A function that throws or rejects rejects the drill with
    /// that same error.
    #[napi(ts_type = "boolean | ((plan: Plan) => boolean | Promise<boolean>)")]
    pub approve: Option<Either<bool, ApproveFn>>,
    /// Incident id (default `DRILL-<scenario>-<YYYYMMDD-HHMM>`).
    pub incident_id: Option<String>,
    /// How long to watch in `monitoring` before resolving, in seconds (default 600).
    pub monitor_for_seconds: Option<f64>,
    /// Journal store: a SQLite file or a `postgres://` URL (in memory when absent).
    pub store: Option<String>,
    /// A directory to write the evidence bundle to, as `incident drill --out DIR` (its `journal.sqlite`
    /// is then the store, so `store` must be absent); check it with `verifyEvidence`.
    pub evidence: Option<String>,
    /// Called with each progress event, in order, before the Promise settles (`stage_started`,
    /// `stage_finished` with the stage's score, `log`). If it throws, it is not called again and the drill
    /// rejects with that error once it ends.
    #[napi(ts_type = "(event: import('../lib/wire').DrillEventJson) => void")]
    pub on_event: Option<EventFn>,
}

/// Asks a JS function on the JS thread and waits for its answer (a running drill has nothing else to do;
/// the paused clock stands still meanwhile).
struct JsApprover {
    f: ApproveFn,
    by: String,
    thrown: Thrown,
}

/// A callback's error: the thrown value is kept for the rejection; the drill stops with this core error.
fn callback_threw(thrown: &Thrown, what: &str, e: napi::Error) -> CoreError {
    let msg = e.reason.clone();
    thrown.keep(e);
    CoreError::invalid_input(format!("{what} callback threw: {msg}"))
}

/// A settled approval: a boolean, or why not (a rejection is kept in `thrown`).
fn decide(v: &Unknown<'_>, thrown: &Thrown) -> CoreResult<bool> {
    match v.get_type() {
        Ok(ValueType::Boolean) => v.coerce_to_bool().map_err(|e| CoreError::internal(e.to_string())),
        Ok(t) => Err(CoreError::invalid_input(format!(
            "approve must return a boolean or a Promise of one, got {}",
            format!("{t:?}").to_lowercase()
        ))),
        Err(e) => Err(callback_threw(thrown, "approve", e)),
    }
}

#[async_trait::async_trait]
impl Approver for JsApprover {
    async fn approve(&self, plan: &CorePlan, now: DateTime<Utc>) -> CoreResult<Option<Approval>> {
        let (tx, rx) = mpsc::channel::<CoreResult<bool>>();
        let thrown = self.thrown.clone();
        let status = self.f.call_with_return_value(
            Plan { inner: plan.clone() },
            ThreadsafeFunctionCallMode::Blocking,
            move |r, _env| {
                match r {
                    Ok(Either3::A(b)) => drop(tx.send(Ok(b))),
                    Ok(Either3::C(other)) => drop(tx.send(decide(&other, &thrown))),
                    Ok(Either3::B(promise)) => {
                        let (tx_ok, tx_err, thrown_err) = (tx.clone(), tx, thrown.clone());
                        let chained = promise
                            .then(move |ctx: CallbackContext<Unknown<'_>>| {
                                let _ = tx_ok.send(decide(&ctx.value, &thrown));
                                Ok(())
                            })
                            .and_then(|p| {
                                p.catch(move |ctx: CallbackContext<Unknown<'_>>| {
                                    let e = napi::Error::from(ctx.value);
                                    let _ = tx_err.send(Err(callback_threw(&thrown_err, "approve", e)));
                                    Ok(())
                                })
                            });
                        if let Err(e) = chained {
                            eprintln!("incident-core: cannot await the approve callback's Promise: {e}");
                        }
                    }
                    Err(e) if e.status == Status::PendingException => {
                        drop(tx.send(Err(callback_threw(&thrown, "approve", e))));
                    }
                    Err(e) => drop(tx.send(Err(CoreError::internal(format!("approve callback: {}", e.reason))))),
                }
                Ok(())
            },
        );
        if status != Status::Ok {
            return Err(CoreError::unavailable(format!("cannot call the approve callback: {status}")));
        }
        let approved = rx.recv().map_err(|_| CoreError::internal("the approve callback never answered"))??;
        if approved { AutoApprove { by: self.by.clone() }.approve(plan, now).await } else { Ok(None) }
    }
}

/// Hands each drill event to a JS function and waits until it ran (so every event is delivered, in
/// order, before the Promise settles).
struct JsObserver {
    f: EventFn,
    thrown: Thrown,
}

impl DrillObserver for JsObserver {
    fn on_event(&self, event: &DrillEvent) {
        if self.thrown.is_set() {
            return;
        }
        let Ok(value) = to_json(event) else { return };
        let (tx, rx) = mpsc::channel::<()>();
        let thrown = self.thrown.clone();
        let status = self.f.call_with_return_value(value, ThreadsafeFunctionCallMode::Blocking, move |r, _env| {
            if let Err(e) = r {
                let _ = callback_threw(&thrown, "onEvent", e);
            }
            let _ = tx.send(());
            Ok(())
        });
        if status == Status::Ok {
            let _ = rx.recv();
        }
    }
}

/// Run built-in scenario `scenario` (or a scenario YAML path) end to end on a fresh in-memory simulator.
/// Resolves with the report; a failing (or declined) drill is a report with `passed: false`, not a
/// rejection.
#[napi(strict, ts_return_type = "Promise<DrillReport>")]
pub fn run_drill(
    scenario: String,
    options: Option<DrillOptions>,
    policy: Option<&Policy>,
) -> AsyncTask<SimTask<DrillReport>> {
    let (o, policy) = (options.unwrap_or_default(), or_default(policy));
    let thrown = Thrown::default();
    let callbacks = thrown.clone();
    spawn_with_callbacks(thrown, move |rt| {
        let scenario = incident_core::sim::Scenario::from_name_or_path(&scenario)?;
        let platform = CoreSimPlatform::from_scenario(&scenario)?;
        if o.store.is_some() && o.evidence.is_some() {
            return Err(incident_core::Error::invalid_input(
                "store and evidence are exclusive: an evidence bundle's journal.sqlite is the drill's store",
            ));
        }
        // As `incident drill --out DIR`: the drill writes to the bundle's store, which is then sealed,
        // manifested and verified.
        let bundle = o.evidence.as_deref().map(DrillBundle::<SqliteStore>::create).transpose()?;
        let store = match &bundle {
            Some(b) => StoreSpec::Open(Arc::new(b.store().clone())),
            None => o.store.as_deref().map(StoreSpec::parse).transpose()?.unwrap_or_default(),
        };
        let set = rt.block_on(
            BackendSpec::new().with_sim(SimSpec::platform(platform.clone())).with_store(store).open(&policy),
        )?;
        let on_call = o.on_call.clone().unwrap_or_else(|| "on-call".into());
        incident_core::text::non_blank("on_call", &on_call)?;
        let by = o.approver.clone().unwrap_or_else(|| on_call.clone());
        let approver: Box<dyn Approver> = match o.approve {
            None | Some(Either::A(true)) => Box::new(AutoApprove { by }),
            Some(Either::A(false)) => Box::new(incident_core::drill_run::Decline),
            Some(Either::B(f)) => Box::new(JsApprover { f, by, thrown: callbacks.clone() }),
        };
        let observer: Box<dyn DrillObserver> = match o.on_event {
            Some(f) => Box::new(JsObserver { f, thrown: callbacks }),
            None => Box::new(Silent),
        };
        let mut opts = CoreOptions { on_call, incident_id: o.incident_id.clone(), ..CoreOptions::default() };
        if let Some(s) = o.monitor_for_seconds {
            opts.monitor_for = crate::engine::secs(s)?;
        }
        let report = rt.block_on(core::run_drill(
            &platform,
            Arc::clone(set.store()),
            &policy,
            &scenario,
            &opts,
            approver.as_ref(),
            observer.as_ref(),
        ))?;
        drop(set);
        if let Some(b) = bundle {
            b.finish(&report, None)?;
        }
        Ok(DrillReport { inner: report })
    })
}

/// Everything a drill produced.
#[napi]
pub struct DrillReport {
    inner: CoreDrillReport,
}

#[napi]
impl DrillReport {
    /// Scenario name.
    #[napi(getter, catch_unwind)]
    pub fn scenario(&self) -> String {
        self.inner.scenario.clone()
    }

    /// Every stage did its job and every expectation held.
    #[napi(getter, catch_unwind)]
    pub fn passed(&self) -> bool {
        self.inner.passed
    }

    /// Why not.
    #[napi(getter, catch_unwind)]
    pub fn failures(&self) -> Vec<String> {
        self.inner.failures.clone()
    }

    /// The incident (final state) with its verified timeline.
    #[napi(getter, catch_unwind)]
    pub fn incident(&self) -> Incident {
        Incident::wrap(self.inner.incident.clone(), self.inner.timeline.clone())
    }

    /// The classification that set the severity.
    #[napi(getter, catch_unwind)]
    pub fn classification(&self) -> Classification {
        Classification::from_core(&self.inner.classification)
    }

    /// Detector declarations.
    #[napi(getter, catch_unwind)]
    pub fn declarations(&self) -> Vec<Declaration> {
        self.inner.declarations.iter().map(Declaration::from_core).collect()
    }

    /// Triage.
    #[napi(getter, catch_unwind)]
    pub fn triage(&self) -> TriageReport {
        TriageReport { inner: self.inner.triage.clone() }
    }

    /// The approved plan.
    #[napi(getter, catch_unwind)]
    pub fn plan(&self) -> Plan {
        Plan { inner: self.inner.plan.clone() }
    }

    /// The run (`null` when the plan was declined).
    #[napi(getter, catch_unwind)]
    pub fn run(&self) -> Option<RunReport> {
        self.inner.run.clone().map(|inner| RunReport { inner })
    }

    /// The timeline.
    #[napi(getter, catch_unwind)]
    pub fn timeline(&self) -> Timeline {
        Timeline { inner: self.inner.timeline.clone() }
    }

    /// The post-mortem.
    #[napi(getter, catch_unwind)]
    pub fn postmortem(&self) -> PostMortem {
        PostMortem { inner: self.inner.postmortem.clone() }
    }

    /// Stage scores (wire JSON: `stage`, `started_at`, `finished_at`, `elapsed_secs`, `budget`,
    /// `within_budget`, `ok`).
    #[napi(strict, catch_unwind, ts_return_type = "Array<import('../lib/wire').StageResultJson>")]
    pub fn stages(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner.stages).or_throw(&env)
    }

    /// End-state expectations (`check`, `ok`, `detail`).
    #[napi(strict, catch_unwind, ts_return_type = "Array<import('../lib/wire').ExpectationOutcomeJson>")]
    pub fn expectations(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner.expectations).or_throw(&env)
    }

    /// A one-screen summary (the CLI's).
    #[napi(strict, catch_unwind)]
    pub fn summary(&self) -> String {
        core::summary(&self.inner)
    }

    /// Wire JSON (the CLI's `report.json`).
    #[napi(js_name = "toJSON", catch_unwind, ts_return_type = "import('../lib/wire').DrillReportJson")]
    pub fn to_json(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner).or_throw(&env)
    }
}
