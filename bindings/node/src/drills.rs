//! Drills: the monthly drill schedule and the post-incident validation checklist.

use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};
use incident_core::drills::{self as core, CheckOutcome, ValidationChecklist as CoreValidationChecklist};
use incident_core::policy::ChecklistId;
use napi::Env;
use napi::bindgen_prelude::{AsyncTask, Either};
use napi_derive::napi;
use serde_json::Value;

use crate::backends::{Backends, Target};
use crate::engine::SimPlatform;
use crate::error::{OrThrow, enum_str, parse_enum, to_json};
use crate::policy::{Policy, or_default};
use crate::task::{SimTask, spawn};

type Date = DateTime<Utc>;

/// One upcoming drill.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct ScheduledDrill {
    /// Which drill (`database-failover`, `application-rollback`, `regional-failover`,
    /// `full-disaster-recovery`).
    #[napi(ts_type = "'database-failover' | 'application-rollback' | 'regional-failover' | 'full-disaster-recovery'")]
    pub kind: String,
    /// The Friday it runs on (`YYYY-MM-DD`).
    pub date: String,
    /// Start instant.
    pub starts_at: Date,
    /// Which Friday of the month (1–4).
    pub nth_friday: u32,
}

/// The next `count` scheduled drills from `from` (`count`: an integer, at most 1200).
#[napi(strict, catch_unwind)]
pub fn next_drills(env: Env, from: Date, count: f64, policy: Option<&Policy>) -> napi::Result<Vec<ScheduledDrill>> {
    let p = or_default(policy);
    let n = usize::try_from(crate::error::to_u32("count", count).or_throw(&env)?).unwrap_or(usize::MAX);
    Ok(core::next_drills(&p.drills, from, n)
        .or_throw(&env)?
        .iter()
        .map(|d| ScheduledDrill {
            kind: d.kind.as_str().to_owned(),
            date: d.date.to_string(),
            starts_at: d.starts_at,
            nth_friday: u32::from(d.nth_friday),
        })
        .collect())
}

/// The drill scheduled on `date` (`YYYY-MM-DD`), or `null`.
#[napi(strict, catch_unwind)]
pub fn drill_on(env: Env, date: String, policy: Option<&Policy>) -> napi::Result<Option<String>> {
    let d = NaiveDate::parse_from_str(&date, "%Y-%m-%d")
        .map_err(|e| incident_core::Error::invalid_input(format!("date {date:?}: {e} (expected YYYY-MM-DD)")))
        .or_throw(&env)?;
    Ok(core::drill_on(&or_default(policy).drills, d).or_throw(&env)?.map(|k| k.as_str().to_owned()))
}

/// One checklist line with its outcome.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct ValidationItem {
    /// Item id (`critical_services_responding`, ...).
    pub id: String,
    /// The runbook's wording.
    pub description: String,
    /// `'pass'`, `'fail'` or `'not_checked'`.
    #[napi(ts_type = "'pass' | 'fail' | 'not_checked'")]
    pub outcome: String,
    /// Why it failed.
    pub reason: Option<String>,
}

/// The runbook's post-incident validation checklist.
#[napi]
pub struct ValidationChecklist {
    inner: Mutex<CoreValidationChecklist>,
}

#[napi]
impl ValidationChecklist {
    /// The policy's checklist, nothing checked yet.
    #[napi(constructor, strict, catch_unwind)]
    pub fn new(policy: Option<&Policy>) -> Self {
        Self { inner: Mutex::new(CoreValidationChecklist::from_policy(&or_default(policy))) }
    }

    /// Record item `id` as passed, or failed with `failureReason`. Throws `not_found` for an item the
    /// checklist lacks, `invalid_input` for an unknown id.
    #[napi(strict, catch_unwind)]
    pub fn record(&self, env: Env, id: String, passed: bool, failure_reason: Option<String>) -> napi::Result<()> {
        let id: ChecklistId = parse_enum("checklist item", &id, &ChecklistId::NAMES).or_throw(&env)?;
        let outcome = CheckOutcome::from_check(passed, failure_reason);
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner).record(id, outcome).or_throw(&env)
    }

    /// Items and outcomes.
    #[napi(strict, catch_unwind)]
    pub fn items(&self) -> Vec<ValidationItem> {
        let g = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        g.items()
            .iter()
            .map(|i| {
                let (outcome, reason) = match &i.outcome {
                    CheckOutcome::Pass => ("pass", None),
                    CheckOutcome::Fail { reason } => ("fail", Some(reason.clone())),
                    CheckOutcome::NotChecked => ("not_checked", None),
                };
                ValidationItem {
                    id: enum_str(&i.id),
                    description: i.description.clone(),
                    outcome: outcome.into(),
                    reason,
                }
            })
            .collect()
    }

    /// Every item passed.
    #[napi(getter, catch_unwind)]
    pub fn all_passed(&self) -> bool {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner).report().all_passed
    }

    /// The checklist as Markdown task-list lines plus a summary line.
    #[napi(strict, catch_unwind)]
    pub fn to_text(&self) -> String {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner).report().to_text()
    }

    /// The report in wire JSON (`{ items, all_passed, failed, unchecked }`).
    #[napi(js_name = "toJSON", catch_unwind, ts_return_type = "import('../lib/wire').ValidationReportJson")]
    pub fn to_json(&self, env: Env) -> napi::Result<Value> {
        to_json(&self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner).report()).or_throw(&env)
    }
}

/// Check every item of the validation checklist on `platform` (a `SimPlatform` or `Backends`), where
/// `policy.checklist_targets` says to look (`policy`: the runbook's defaults when absent). Resolves to the
/// checklist with each item passed, failed or not checked (no targets), its evidence in
/// `toJSON().items[i].evidence`; `allPassed` is what `incident drills checklist --run` exits on. An
/// unreachable system fails the items that need it; it does not reject.
#[napi(strict, ts_return_type = "Promise<ValidationChecklist>")]
pub fn run_validation_checklist(
    platform: Either<&SimPlatform, &Backends>,
    policy: Option<&Policy>,
) -> AsyncTask<SimTask<ValidationChecklist>> {
    let (target, policy) = (Target::of(&platform, None), or_default(policy));
    spawn(move |rt| {
        let set = target?.open(None, &policy, rt)?;
        let list = rt.block_on(incident_core::engine::library::run_validation_checklist(set.backends(), &policy));
        Ok(ValidationChecklist { inner: Mutex::new(list) })
    })
}
