//! `triage`: the runbook's first-five-minutes checks (pods, nodes, deployments, endpoints, events, logs,
//! datastores) on a platform's cluster.

use incident_core::triage::{TriageOptions as CoreOptions, TriageReport as CoreTriageReport, triage as core_triage};
use napi::Env;
use napi::bindgen_prelude::AsyncTask;
use napi_derive::napi;
use serde_json::Value;

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
    /// Log lines read per pod (default 100).
    pub log_tail: Option<u32>,
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
    #[napi(js_name = "toJSON", catch_unwind, ts_return_type = "Record<string, unknown>")]
    pub fn to_json(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner).or_throw(&env)
    }
}

/// Triage `platform`'s cluster. Never rejects for a partly unavailable cluster: missing sections are in
/// the report; rejects `not_found` for an unknown context.
#[napi(strict, ts_return_type = "Promise<TriageReport>")]
pub fn triage(platform: &SimPlatform, options: Option<TriageOptions>) -> AsyncTask<SimTask<TriageReport>> {
    let (platform, o) = (platform.inner.clone(), options.unwrap_or_default());
    spawn(move |rt| {
        let backends = platform.backends();
        let mut opts = CoreOptions::default();
        if let Some(ns) = o.namespace {
            opts.namespace = ns;
        }
        if let Some(t) = o.log_tail {
            opts.log_tail = t;
        }
        if let Some(d) = o.log_deployments {
            opts.log_deployments = d;
        }
        let context = o.context.unwrap_or_else(|| backends.clusters.default_context());
        let report = rt.block_on(async {
            let cluster = backends.clusters.cluster(&context).await?;
            let probes: Vec<_> = backends.probes.values().cloned().collect();
            Ok::<_, incident_core::Error>(core_triage(&*cluster, &probes, &opts, backends.clock.now()).await)
        })?;
        Ok(TriageReport { inner: report })
    })
}
