//! `runDrill`: a whole scenario end to end on the simulator (detection, declaration, triage, plan,
//! approval, run, verification, resolution, post-mortem), scored against the policy's stage budgets.

use incident_core::drill::{
    self as core, Approver, AutoApprove, DrillOptions as CoreOptions, DrillReport as CoreDrillReport, Silent,
};
use incident_core::sim::SimPlatform as CoreSimPlatform;
use napi::Env;
use napi::bindgen_prelude::AsyncTask;
use napi_derive::napi;
use serde_json::Value;

use crate::classify::Classification;
use crate::detector::Declaration;
use crate::engine::{Plan, RunReport, open_store};
use crate::error::{OrThrow, to_json};
use crate::incident::Incident;
use crate::policy::{Policy, or_default};
use crate::postmortem::PostMortem;
use crate::task::{SimTask, spawn};
use crate::timeline::Timeline;
use crate::triage::TriageReport;

/// Options of `runDrill`.
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct DrillOptions {
    /// The on-call engineer (incident commander); default `on-call`.
    pub on_call: Option<String>,
    /// Who approves the plan (default: the on-call engineer).
    pub approver: Option<String>,
    /// `false` declines the plan (the drill then fails at approval); default `true`. Drills are
    /// non-interactive: approval confirms production targets and gates, like the CLI's `--yes`.
    pub approve: Option<bool>,
    /// Incident id (default `DRILL-<scenario>-<YYYYMMDD-HHMM>`).
    pub incident_id: Option<String>,
    /// How long to watch in `monitoring` before resolving, in seconds (default 600).
    pub monitor_for_seconds: Option<f64>,
    /// SQLite journal file (in memory when absent).
    pub store: Option<String>,
}

/// Run built-in scenario `scenario` (or a scenario YAML path) end to end on a fresh in-memory simulator.
/// Resolves with the report; a failing drill is a report with `passed: false`, not a rejection.
#[napi(strict, ts_return_type = "Promise<DrillReport>")]
pub fn run_drill(
    scenario: String,
    options: Option<DrillOptions>,
    policy: Option<&Policy>,
) -> AsyncTask<SimTask<DrillReport>> {
    let (o, policy) = (options.unwrap_or_default(), or_default(policy));
    spawn(move |rt| {
        let scenario = incident_core::sim::Scenario::from_name_or_path(&scenario)?;
        let platform = CoreSimPlatform::from_scenario(&scenario)?;
        let store = open_store(o.store.as_deref())?;
        let on_call = o.on_call.clone().unwrap_or_else(|| "on-call".into());
        let approver: Box<dyn Approver> = if o.approve.unwrap_or(true) {
            Box::new(AutoApprove { by: o.approver.clone().unwrap_or_else(|| on_call.clone()) })
        } else {
            Box::new(incident_core::drill::Decline)
        };
        let mut opts = CoreOptions { on_call, incident_id: o.incident_id.clone(), ..CoreOptions::default() };
        if let Some(s) = o.monitor_for_seconds {
            opts.monitor_for = crate::engine::secs(s)?;
        }
        let report =
            rt.block_on(core::run_drill(&platform, store, &policy, &scenario, &opts, approver.as_ref(), &Silent))?;
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
    #[napi(strict, catch_unwind, ts_return_type = "Array<Record<string, unknown>>")]
    pub fn stages(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner.stages).or_throw(&env)
    }

    /// End-state expectations (`check`, `ok`, `detail`).
    #[napi(strict, catch_unwind, ts_return_type = "Array<{ check: string; ok: boolean; detail: string }>")]
    pub fn expectations(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner.expectations).or_throw(&env)
    }

    /// A one-screen summary (the CLI's).
    #[napi(strict, catch_unwind)]
    pub fn summary(&self) -> String {
        core::summary(&self.inner)
    }

    /// Wire JSON (the CLI's `report.json`).
    #[napi(js_name = "toJSON", catch_unwind, ts_return_type = "Record<string, unknown>")]
    pub fn to_json(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner).or_throw(&env)
    }
}
