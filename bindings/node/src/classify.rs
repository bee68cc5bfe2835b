//! `classify`: impact facts → severity with the runbook rules that fired.

use incident_core::classify::{self as core, Classifier, OutageScope, RuleId};
use incident_core::{Result as CoreResult, Severity};
use napi::Env;
use napi_derive::napi;

use crate::error::{OrThrow, enum_str, parse_enum};
use crate::policy::Policy;

/// Incident severity, P0 (critical) to P3 (low).
#[napi(string_enum, js_name = "Severity")]
pub enum SeverityName {
    /// Critical.
    P0,
    /// High.
    P1,
    /// Medium.
    P2,
    /// Low.
    P3,
}

/// How much of a service is down.
#[napi(string_enum, js_name = "OutageScope")]
pub enum Outage {
    /// No outage.
    #[napi(value = "none")]
    None,
    /// Part of the service is down (P1).
    #[napi(value = "partial")]
    Partial,
    /// The whole service is down (P0).
    #[napi(value = "complete")]
    Complete,
}

/// One bullet of the runbook's severity classification.
#[napi(string_enum, js_name = "ClassificationRule")]
pub enum Rule {
    /// P0 "Complete service outage".
    #[napi(value = "complete_outage")]
    CompleteOutage,
    /// P0 "Data loss or corruption".
    #[napi(value = "data_loss_or_corruption")]
    DataLossOrCorruption,
    /// P0 "Security breach".
    #[napi(value = "security_breach")]
    SecurityBreach,
    /// P0 "Revenue-impacting issues".
    #[napi(value = "revenue_impact")]
    RevenueImpact,
    /// P1 "Partial service outage".
    #[napi(value = "partial_outage")]
    PartialOutage,
    /// P1 "Performance degradation >50%".
    #[napi(value = "performance_degradation_over50")]
    PerformanceDegradationOver50,
    /// P1 "Key feature unavailable".
    #[napi(value = "key_feature_unavailable")]
    KeyFeatureUnavailable,
    /// P1 "Customer-facing errors".
    #[napi(value = "customer_facing_errors")]
    CustomerFacingErrors,
    /// P2 "Minor feature issues".
    #[napi(value = "minor_feature_issues")]
    MinorFeatureIssues,
    /// P2 "Performance degradation <50%".
    #[napi(value = "performance_degradation_under50")]
    PerformanceDegradationUnder50,
    /// P2 "Non-customer-facing errors".
    #[napi(value = "non_customer_facing_errors")]
    NonCustomerFacingErrors,
    /// P3 "Cosmetic issues".
    #[napi(value = "cosmetic")]
    Cosmetic,
    /// P3 "Documentation problems".
    #[napi(value = "documentation")]
    Documentation,
    /// P3 "Non-urgent improvements".
    #[napi(value = "improvement")]
    Improvement,
}

/// Parse a severity name (`'P0'`..`'P3'`).
pub(crate) fn severity(s: &str) -> CoreResult<Severity> {
    parse_enum("severity", s, &incident_core::Severity::NAMES)
}

/// What is known about an incident's impact. Every field is optional; absent booleans are `false`.
#[napi(object)]
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImpactFacts {
    /// How much of the service is down.
    #[napi(ts_type = "OutageScope")]
    pub outage: Option<String>,
    /// Data was lost or corrupted.
    pub data_loss_or_corruption: Option<bool>,
    /// A security breach happened.
    pub security_breach: Option<bool>,
    /// Revenue is affected.
    pub revenue_impact: Option<bool>,
    /// Performance degradation in percent (`60` = 60 % slower).
    pub performance_degradation_pct: Option<f64>,
    /// A key feature is unavailable.
    pub key_feature_unavailable: Option<bool>,
    /// Customers see errors.
    pub customer_facing_errors: Option<bool>,
    /// Errors that customers do not see.
    pub non_customer_facing_errors: Option<bool>,
    /// A minor feature misbehaves.
    pub minor_feature_issue: Option<bool>,
    /// Cosmetic issue.
    pub cosmetic: Option<bool>,
    /// Documentation problem.
    pub documentation: Option<bool>,
    /// Non-urgent improvement.
    pub improvement: Option<bool>,
    /// Affected service.
    pub service: Option<String>,
    /// Whether the service is customer-facing.
    pub customer_facing: Option<bool>,
    /// Whether customers are affected.
    pub customers_affected: Option<bool>,
}

impl ImpactFacts {
    /// To the core type.
    pub(crate) fn to_core(&self) -> CoreResult<core::ImpactFacts> {
        let outage = match self.outage.as_deref() {
            None => OutageScope::None,
            Some(s) => parse_enum("facts.outage", s, &OutageScope::NAMES)?,
        };
        let b = |v: Option<bool>| v.unwrap_or(false);
        Ok(core::ImpactFacts {
            outage,
            data_loss_or_corruption: b(self.data_loss_or_corruption),
            security_breach: b(self.security_breach),
            revenue_impact: b(self.revenue_impact),
            performance_degradation_pct: self.performance_degradation_pct,
            key_feature_unavailable: b(self.key_feature_unavailable),
            customer_facing_errors: b(self.customer_facing_errors),
            non_customer_facing_errors: b(self.non_customer_facing_errors),
            minor_feature_issue: b(self.minor_feature_issue),
            cosmetic: b(self.cosmetic),
            documentation: b(self.documentation),
            improvement: b(self.improvement),
            service: self.service.clone(),
            customer_facing: self.customer_facing,
            customers_affected: self.customers_affected,
        })
    }

    /// From the core type (only the set fields).
    pub(crate) fn from_core(f: &core::ImpactFacts) -> Self {
        let b = |v: bool| v.then_some(true);
        Self {
            outage: (!f.outage.is_none()).then(|| enum_str(&f.outage)),
            data_loss_or_corruption: b(f.data_loss_or_corruption),
            security_breach: b(f.security_breach),
            revenue_impact: b(f.revenue_impact),
            performance_degradation_pct: f.performance_degradation_pct,
            key_feature_unavailable: b(f.key_feature_unavailable),
            customer_facing_errors: b(f.customer_facing_errors),
            non_customer_facing_errors: b(f.non_customer_facing_errors),
            minor_feature_issue: b(f.minor_feature_issue),
            cosmetic: b(f.cosmetic),
            documentation: b(f.documentation),
            improvement: b(f.improvement),
            service: f.service.clone(),
            customer_facing: f.customer_facing,
            customers_affected: f.customers_affected,
        }
    }
}

/// A rule that fired, with the severity it implies and the runbook's wording.
#[napi(object)]
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reason {
    /// Rule id.
    #[napi(ts_type = "ClassificationRule")]
    pub rule: String,
    /// The severity this rule implies.
    #[napi(ts_type = "Severity")]
    pub severity: String,
    /// The runbook's bullet text.
    pub text: String,
}

/// The decision and why.
#[napi(object)]
#[derive(Debug, Clone, serde::Serialize)]
pub struct Classification {
    /// The severity, or `undefined` when the facts show no impact (`insufficient`).
    #[napi(ts_type = "Severity")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// No rule fired: the facts are not enough to classify.
    pub insufficient: bool,
    /// Every rule that fired, most severe first.
    pub reasons: Vec<Reason>,
    /// The rules that decided the severity (those of the highest severity; their texts are in `reasons`).
    #[napi(ts_type = "ClassificationRule[]")]
    pub deciding: Vec<String>,
    /// One-line summary, e.g. `P1 (partial_outage, customer_facing_errors)`.
    pub summary: String,
}

fn reason(r: core::Reason) -> Reason {
    Reason { rule: r.rule.as_str().to_owned(), severity: r.severity.as_str().to_owned(), text: r.text.to_owned() }
}

impl Classification {
    /// From the core type.
    pub(crate) fn from_core(c: &core::Classification) -> Self {
        Self {
            severity: c.severity().map(|s| s.as_str().to_owned()),
            insufficient: c.is_insufficient(),
            reasons: c.reasons().map(reason).collect(),
            deciding: c.deciding_reasons().map(|r| r.rule.as_str().to_owned()).collect(),
            summary: c.to_string(),
        }
    }
}

/// Classify `facts` by the runbook's severity matrix (the policy's degradation threshold when `policy`
/// is given). Throws `invalid_input` for out-of-range facts (e.g. a negative degradation).
#[napi(strict, catch_unwind)]
pub fn classify(env: Env, facts: ImpactFacts, policy: Option<&Policy>) -> napi::Result<Classification> {
    let classifier = policy.map_or(Classifier::RUNBOOK, |p| Classifier::from_policy(&p.inner));
    let facts = facts.to_core().or_throw(&env)?;
    Ok(Classification::from_core(&classifier.try_classify(&facts).or_throw(&env)?))
}

/// `classify` over JSON text: the package's `classify` (lib/index.cjs) sends `JSON.stringify(facts)` and
/// `JSON.parse`s the answer. Same facts, same classification, same errors as [`classify`] (plus
/// `invalid_input` for unknown keys); JSON crosses the boundary in two calls where an object costs one
/// N-API call per property read or written (see bench.mjs).
#[napi(js_name = "_classifyJson", strict, catch_unwind)]
pub fn classify_json(env: Env, facts: String, policy: Option<&Policy>) -> napi::Result<String> {
    let classifier = policy.map_or(Classifier::RUNBOOK, |p| Classifier::from_policy(&p.inner));
    let facts: ImpactFacts = serde_json::from_str(&facts)
        .map_err(|e| incident_core::Error::invalid_input(format!("impact facts: {e}")))
        .or_throw(&env)?;
    let c = classifier.try_classify(&facts.to_core().or_throw(&env)?).or_throw(&env)?;
    crate::error::to_json_string(&Classification::from_core(&c)).or_throw(&env)
}

/// The fast path of the package's `classify`: the rules that fire for `facts` (JSON text) as a bit set
/// (bit `n` = the `n`-th entry of [`classification_rules`]). The classification is a function of that set
/// alone, so lib/index.cjs keeps one frozen `Classification` per set (filled by `_classifyJson`) and the
/// hot path returns a number instead of building objects. Errors as [`classify_json`].
#[napi(js_name = "_classifyRules", strict, catch_unwind)]
pub fn classify_rules(env: Env, facts: String, policy: Option<&Policy>) -> napi::Result<u32> {
    let classifier = policy.map_or(Classifier::RUNBOOK, |p| Classifier::from_policy(&p.inner));
    let facts: ImpactFacts = serde_json::from_str(&facts)
        .map_err(|e| incident_core::Error::invalid_input(format!("impact facts: {e}")))
        .or_throw(&env)?;
    let c = classifier.try_classify(&facts.to_core().or_throw(&env)?).or_throw(&env)?;
    Ok(c.rules().iter().fold(0u32, |m, r| m | (1u32 << (r as u8))))
}

/// Every classification rule with its severity and runbook text, P0 first.
#[napi(strict, catch_unwind)]
pub fn classification_rules() -> Vec<Reason> {
    RuleId::ALL.iter().map(|r| reason(core::Reason::from(*r))).collect()
}
