//! `triage`: the runbook's first-five-minutes checks (pods, nodes, deployments, endpoints, events, logs,
//! datastores) on a platform's cluster.

use incident_core::triage::{TriageOptions as CoreOptions, TriageReport as CoreTriageReport};
use napi::Env;
use napi::bindgen_prelude::{AsyncTask, Either};
use napi_derive::napi;
use serde_json::Value;

use crate::backends::{Backends, Target};
use crate::engine::SimPlatform;
use crate::error::{OrThrow, to_json};
use crate::task::{SimTask, spawn};

/// What to triage.
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct TriageOptions {
    /// Namespace of the critical services (default `ml-platform`).
    pub namespace: Option<String>,
    /// Kube context (default: the platform's default).
    pub context: Option<String>,
    /// Log lines read per pod (default 100): an integer in 0..=4294967295.
    pub log_tail: Option<f64>,
    /// Deployments whose logs are scanned (all of the namespace when absent).
    pub log_deployments: Option<Vec<String>>,
}

/// A triage report.
#[napi]
pub struct TriageReport {
    pub(crate) inner: CoreTriageReport,
}

#[napi]
impl TriageReport {
    /// Kube context triaged.
    #[napi(getter, catch_unwind)]
    pub fn context(&self) -> String {
        self.inner.context.clone()
    }

    /// Nothing wrong found.
    #[napi(getter, catch_unwind)]
    pub fn healthy(&self) -> bool {
        self.inner.is_healthy()
    }

    /// Some sections could not be produced.
    #[napi(getter, catch_unwind)]
    pub fn partial(&self) -> bool {
        self.inner.is_partial()
    }

    /// Deployments with unavailable replicas.
    #[napi(getter, catch_unwind)]
    pub fn degraded_deployments(&self) -> Vec<String> {
        self.inner.degraded_deployments.iter().map(|d| d.deployment.name.clone()).collect()
    }

    /// The report as text (the CLI's `incident triage`).
    #[napi(strict, catch_unwind)]
    pub fn render(&self) -> String {
        self.inner.render()
    }

    /// Wire JSON.
    #[napi(js_name = "toJSON", catch_unwind, ts_return_type = "import('../lib/wire').TriageReportJson")]
    pub fn to_json(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner).or_throw(&env)
    }
}

/// Triage `platform`'s cluster: a `SimPlatform`, or `Backends` (real PostgreSQL / Redis probes replace the
/// simulator's). Never rejects for a partly unavailable cluster or an unreachable datastore: those are in
/// the report; rejects `not_found` for an unknown context, `invalid_input` for a bad option.
#[napi(strict, ts_return_type = "Promise<TriageReport>")]
pub fn triage(
    platform: Either<&SimPlatform, &Backends>,
    options: Option<TriageOptions>,
) -> AsyncTask<SimTask<TriageReport>> {
    let (target, o) = (Target::of(&platform, None), options.unwrap_or_default());
    spawn(move |rt| {
        let set = target?.open(None, &incident_core::Policy::default(), rt)?;
        let mut opts = CoreOptions::default();
        if let Some(ns) = o.namespace {
            opts.namespace = ns;
        }
        if let Some(t) = o.log_tail {
            opts.log_tail = crate::error::to_u32("logTail", t)?;
        }
        if let Some(d) = o.log_deployments {
            opts.log_deployments = d;
        }
        Ok(TriageReport { inner: rt.block_on(set.triage(&opts, o.context.as_deref()))? })
    })
}
