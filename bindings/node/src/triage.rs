//! `triage`: the runbook's first-five-minutes checks (pods, nodes, deployments, endpoints, events, logs,
//! datastores) on a platform's cluster.

use chrono::{DateTime, Utc};
use incident_core::triage::{TriageOptions as CoreOptions, TriageReport as CoreTriageReport};
use incident_core::{Error as CoreError, HumanDuration, Result as CoreResult};
use napi::Env;
use napi::bindgen_prelude::{AsyncTask, Either};
use napi_derive::napi;
use serde_json::Value;

use crate::backends::{Backends, Target};
use crate::engine::{SimPlatform, secs};
use crate::error::{OrThrow, to_json, to_u32};
use crate::policy::{Policy, or_default};
use crate::task::{SimTask, spawn};

/// What to triage: every field of `incident_core::triage::TriageOptions` (camelCase), filled as the
/// CLI's `incident triage` fills it. Absent fields keep core's defaults.
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct TriageOptions {
    /// Namespace of the critical services (default `ml-platform`; `-n`).
    pub namespace: Option<String>,
    /// Kube context (default: the platform's default; `--context`).
    pub context: Option<String>,
    /// Log lines read per pod (default 100; `--tail`): an integer in 0..=4294967295.
    pub log_tail: Option<f64>,
    /// Deployments whose logs are scanned, each `NAME` (in `namespace`) or `NAMESPACE/NAME` (all of the
    /// namespace when neither this nor `logSelectors` is given; `--logs-deployment`).
    pub log_deployments: Option<Vec<String>>,
    /// Pods whose logs are scanned, by label selector: `app=api[,tier=web]` (in `namespace`) or
    /// `NAMESPACE/app=api` (`--logs-selector`).
    pub log_selectors: Option<Vec<String>>,
    /// Case-insensitive substrings counted as errors in the logs (default `['error']`;
    /// `--error-pattern`). An empty array keeps the default, as the CLI does.
    pub error_patterns: Option<Vec<String>>,
    /// Report recent changes (rollouts, warning events, commits of `gitRepo`) since this instant: a
    /// `Date`, or a duration before the platform's now such as `'2h'` (`--since 2h`).
    #[napi(ts_type = "Date | string")]
    pub since: Option<Either<DateTime<Utc>, String>>,
    /// A local git repository whose commits since `since` are listed (`--git-repo`; core reads it only
    /// with `since`).
    pub git_repo: Option<String>,
    /// How many recent events to keep (default 20): an integer >= 0.
    pub recent_events: Option<f64>,
    /// How many top pods and nodes by memory to keep (default 10): an integer >= 0.
    pub top: Option<f64>,
    /// Deadline of each backend call: a duration such as `'10s'` (`--call-deadline`), or a number of
    /// seconds (default 10 s).
    #[napi(ts_type = "string | number")]
    pub call_deadline: Option<Either<String, f64>>,
    /// Pods whose logs are read concurrently at most (default: the policy's `limits.max_concurrency`, as
    /// the CLI): an integer >= 0 (core reads 0 as 1).
    pub max_concurrency: Option<f64>,
}

impl TriageOptions {
    /// Core's options (conversion only; `TriageOptions::validate` and the triage decide the rest).
    /// `now` is the platform's clock (for a relative `since`), `policy` the CLI's default concurrency.
    fn to_core(&self, now: DateTime<Utc>, policy: &incident_core::Policy) -> CoreResult<CoreOptions> {
        let mut opts = CoreOptions {
            max_concurrency: usize::try_from(policy.limits.max_concurrency).unwrap_or(usize::MAX),
            ..CoreOptions::default()
        };
        if let Some(ns) = &self.namespace {
            opts.namespace.clone_from(ns);
        }
        if let Some(t) = self.log_tail {
            opts.log_tail = to_u32("logTail", t)?;
        }
        if let Some(d) = &self.log_deployments {
            opts.log_deployments.clone_from(d);
        }
        if let Some(s) = &self.log_selectors {
            opts.log_selectors.clone_from(s);
        }
        if let Some(p) = self.error_patterns.as_ref().filter(|p| !p.is_empty()) {
            opts.error_patterns.clone_from(p);
        }
        opts.since = match &self.since {
            None => None,
            Some(Either::A(at)) => Some(*at),
            Some(Either::B(ago)) => Some(now - human("since", ago)?.as_delta()),
        };
        opts.git_repo = self.git_repo.as_ref().map(std::path::PathBuf::from);
        if let Some(n) = self.recent_events {
            opts.recent_events = count("recentEvents", n)?;
        }
        if let Some(n) = self.top {
            opts.top = count("top", n)?;
        }
        match &self.call_deadline {
            None => {}
            Some(Either::A(s)) => opts.call_deadline = human("callDeadline", s)?.as_std(),
            Some(Either::B(s)) => opts.call_deadline = secs(*s).map_err(|e| e.context("callDeadline"))?,
        }
        if let Some(n) = self.max_concurrency {
            opts.max_concurrency = count("maxConcurrency", n)?;
        }
        Ok(opts)
    }
}

/// A duration string (`'2h'`, `'10s'`) through core's `HumanDuration`, naming the option.
fn human(what: &str, s: &str) -> CoreResult<HumanDuration> {
    s.parse::<HumanDuration>().map_err(|e| CoreError::invalid_input(format!("{what}: {e}")))
}

/// A count option (`top`, `recentEvents`, `maxConcurrency`): an integer in 0..=4294967295.
fn count(what: &str, n: f64) -> CoreResult<usize> {
    Ok(to_u32(what, n)? as usize)
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
/// the report; rejects `not_found` for an unknown context, `invalid_input` for a bad option (naming it).
#[napi(strict, ts_return_type = "Promise<TriageReport>")]
pub fn triage(
    platform: Either<&SimPlatform, &Backends>,
    options: Option<TriageOptions>,
    policy: Option<&Policy>,
) -> AsyncTask<SimTask<TriageReport>> {
    let (target, o, policy) = (Target::of(&platform, None), options.unwrap_or_default(), or_default(policy));
    spawn(move |rt| {
        let set = target?.open(None, &policy, rt)?;
        let opts = o.to_core(set.now(), &policy)?;
        Ok(TriageReport { inner: rt.block_on(set.triage(&opts, o.context.as_deref()))? })
    })
}
