//! Procedure matching as policy data: rules mapping impact facts, alert labels and annotations, and
//! triage findings to a runbook procedure and its parameters (`policy.matching`). The defaults are the
//! runbook's scenarios; [`crate::matching`] evaluates them and explains the answer.
//!
//! A policy file replaces the whole rule list (`[[matching.rules]]` in TOML), like every other list in
//! the policy.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::load::field_err;
use crate::{HumanDuration, Result};

/// Procedures a matching rule may propose (deprecated names such as `regional-failover` are accepted
/// too and mean the current one).
pub const MATCHABLE_PROCEDURES: [&str; 5] =
    ["application-rollback", "region-failure", "database-corruption", "database-recovery", "traffic-management"];

/// Impact facts a [`Condition::Fact`] may test: the fields of [`ImpactFacts`](crate::impact::ImpactFacts).
pub const FACT_NAMES: [&str; 15] = [
    "outage",
    "data_loss_or_corruption",
    "security_breach",
    "revenue_impact",
    "performance_degradation_pct",
    "key_feature_unavailable",
    "customer_facing_errors",
    "non_customer_facing_errors",
    "minor_feature_issue",
    "cosmetic",
    "documentation",
    "improvement",
    "service",
    "customer_facing",
    "customers_affected",
];

/// Values a [`ParamSource::Finding`] may read, by the condition that binds them.
pub const FINDING_FIELDS: [&str; 14] = [
    "rollout.deployment",
    "rollout.namespace",
    "rollout.name",
    "rollout.revision",
    "rollout.previous_revision",
    "rollout.commit",
    "crash_loop.deployment",
    "crash_loop.namespace",
    "crash_loop.name",
    "config_change.object",
    "region.name",
    "integrity.datastore",
    "integrity.check",
    "alert.name",
];

/// The procedure-matching rules (`policy.matching`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MatchingPolicy {
    /// Rules, tried by descending `priority`, then in list order; the first that matches wins and every
    /// other is still reported with why it did or did not match.
    pub rules: Vec<MatchRule>,
}

/// One rule: when its conditions hold, propose `procedure` with `params`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchRule {
    /// Stable identifier shown in explanations (`rollback-recent-rollout`).
    pub id: String,
    /// What the rule stands for, in the runbook's words.
    #[serde(default)]
    pub description: String,
    /// The procedure proposed (one of [`MATCHABLE_PROCEDURES`]).
    pub procedure: String,
    /// Higher is tried first; equal priorities keep list order.
    #[serde(default)]
    pub priority: u32,
    /// Conditions that must all hold.
    #[serde(default)]
    pub all: Vec<Condition>,
    /// Conditions of which at least one must hold (ignored when empty).
    #[serde(default)]
    pub any: Vec<Condition>,
    /// Procedure parameters (the names `procedure_from_spec` takes) → where the value comes from: the
    /// sources are tried in order and the first with a value wins; none → the rule does not match.
    #[serde(default)]
    pub params: BTreeMap<String, Vec<ParamSource>>,
}

/// A condition over the match input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// A firing alert carries label `key` (with one of `any_of`, when not empty).
    AlertLabel {
        /// Label name (`alertname`).
        key: String,
        /// Accepted values; empty = any value.
        #[serde(default)]
        any_of: Vec<String>,
    },
    /// A firing alert carries annotation `key` (with one of `any_of`, when not empty).
    AlertAnnotation {
        /// Annotation name.
        key: String,
        /// Accepted values; empty = any value.
        #[serde(default)]
        any_of: Vec<String>,
    },
    /// An impact fact holds: a flag is set, `outage` equals `equals`, or a percentage is `at_least`.
    Fact {
        /// One of [`FACT_NAMES`].
        fact: String,
        /// Required value (`complete`, `partial`, `true`, a service name).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        equals: Option<String>,
        /// Smallest number accepted (`performance_degradation_pct`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_least: Option<f64>,
    },
    /// A deployment rolled out at most `within` before the alert (binds `rollout.*`).
    RecentRollout {
        /// Longest time between the rollout and the alert.
        within: HumanDuration,
    },
    /// Pods of a deployment crash-loop, and its configuration changed at most `within` before the alert
    /// (binds `crash_loop.*` and `config_change.object`).
    CrashLoopAfterConfigChange {
        /// Longest time between the configuration change and the alert.
        within: HumanDuration,
    },
    /// An open AWS Health event in the primary region (binds `region.name`).
    AwsHealthEvent {
        /// Services that count (`EC2`, `RDS`, `EKS`); empty = any.
        #[serde(default)]
        services: Vec<String>,
    },
    /// The primary region does not answer (binds `region.name`).
    RegionUnreachable,
    /// A data-integrity check failed (binds `integrity.*`).
    IntegrityCheckFailed,
}

/// Where a parameter's value comes from: `{ from = "finding", key = "rollout.name" }`,
/// `{ from = "value", key = "ml-platform-primary" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "from", content = "key", rename_all = "snake_case", deny_unknown_fields)]
pub enum ParamSource {
    /// A literal.
    Value(String),
    /// A value a condition bound (one of [`FINDING_FIELDS`]).
    Finding(String),
    /// A label of the matched alert.
    Label(String),
    /// An annotation of the matched alert.
    Annotation(String),
    /// An impact fact (`service`).
    Fact(String),
    /// A value of the match input's context (`primary_region`, `secondary_region`, `kube_context`).
    Context(String),
}

impl Default for MatchingPolicy {
    fn default() -> Self {
        Self { rules: runbook_rules() }
    }
}

fn src(kind: fn(String) -> ParamSource, v: &str) -> ParamSource {
    kind(v.to_owned())
}

fn label(key: &str, any_of: &[&str]) -> Condition {
    Condition::AlertLabel { key: key.into(), any_of: any_of.iter().map(|s| (*s).to_owned()).collect() }
}

fn flag(fact: &str) -> Condition {
    Condition::Fact { fact: fact.into(), equals: None, at_least: None }
}

fn params(pairs: Vec<(&str, Vec<ParamSource>)>) -> BTreeMap<String, Vec<ParamSource>> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// The runbook's scenarios as rules, most specific first.
fn runbook_rules() -> Vec<MatchRule> {
    let half_hour = HumanDuration::from_mins(30);
    let kube_context =
        || vec![src(ParamSource::Context, "kube_context"), src(ParamSource::Value, "ml-platform-primary")];
    vec![
        MatchRule {
            id: "database-corruption".into(),
            description: "Database Corruption: an integrity alert, a failed integrity check or data corruption".into(),
            procedure: "database-corruption".into(),
            priority: 400,
            all: vec![],
            any: vec![
                label("alertname", &["DataIntegrityCheckFailed"]),
                Condition::IntegrityCheckFailed,
                flag("data_loss_or_corruption"),
            ],
            params: params(vec![
                ("context", kube_context()),
                ("region", vec![src(ParamSource::Context, "primary_region"), src(ParamSource::Value, "us-west-2")]),
            ]),
        },
        MatchRule {
            id: "region-failure".into(),
            description: "Complete Region Failure: AWS Health reports a regional event, or the primary region \
                          does not answer"
                .into(),
            procedure: "region-failure".into(),
            priority: 300,
            all: vec![],
            any: vec![
                Condition::AwsHealthEvent { services: vec!["EC2".into(), "RDS".into(), "EKS".into()] },
                Condition::RegionUnreachable,
            ],
            params: params(vec![
                ("primary_region", vec![src(ParamSource::Finding, "region.name")]),
                (
                    "secondary_region",
                    vec![src(ParamSource::Context, "secondary_region"), src(ParamSource::Value, "us-east-1")],
                ),
            ]),
        },
        MatchRule {
            id: "rollback-recent-rollout".into(),
            description: "Rollback Procedures: errors on a service whose deployment rolled out within 30 minutes"
                .into(),
            procedure: "application-rollback".into(),
            priority: 200,
            all: vec![Condition::RecentRollout { within: half_hour }],
            any: vec![
                label("alertname", &["HighErrorRate", "ServiceDown"]),
                flag("customer_facing_errors"),
                flag("non_customer_facing_errors"),
                flag("outage"),
            ],
            params: params(vec![
                ("context", kube_context()),
                ("namespace", vec![src(ParamSource::Finding, "rollout.namespace")]),
                ("deployment", vec![src(ParamSource::Finding, "rollout.name")]),
            ]),
        },
        MatchRule {
            id: "rollback-crash-loop-after-config-change".into(),
            description: "Rollback Procedures: pods crash-looping after a configuration change".into(),
            procedure: "application-rollback".into(),
            priority: 150,
            all: vec![Condition::CrashLoopAfterConfigChange { within: half_hour }],
            any: vec![],
            params: params(vec![
                ("context", kube_context()),
                ("namespace", vec![src(ParamSource::Finding, "crash_loop.namespace")]),
                ("deployment", vec![src(ParamSource::Finding, "crash_loop.name")]),
            ]),
        },
        MatchRule {
            id: "traffic-management".into(),
            description: "Traffic Management: performance degraded by more than 50 %: scale up the service".into(),
            procedure: "traffic-management".into(),
            priority: 100,
            all: vec![],
            any: vec![
                label("alertname", &["HighLatency"]),
                Condition::Fact { fact: "performance_degradation_pct".into(), equals: None, at_least: Some(50.0) },
            ],
            params: params(vec![
                ("context", kube_context()),
                (
                    "deployment",
                    vec![
                        src(ParamSource::Label, "deployment"),
                        src(ParamSource::Label, "service"),
                        src(ParamSource::Fact, "service"),
                    ],
                ),
            ]),
        },
    ]
}

impl MatchingPolicy {
    /// The rules in evaluation order: descending priority, then list order.
    #[must_use]
    pub fn ordered(&self) -> Vec<&MatchRule> {
        let mut rules: Vec<&MatchRule> = self.rules.iter().collect();
        rules.sort_by_key(|r| std::cmp::Reverse(r.priority));
        rules
    }

    /// Check every rule; errors name the field (`matching.rules[2].params.deployment[0].key: ...`).
    ///
    /// # Errors
    /// [`ErrorKind::Policy`](crate::ErrorKind::Policy) for a blank or duplicate id, an unknown procedure,
    /// a rule without conditions, a zero `within`, an unknown fact or finding field, or a parameter
    /// without a source.
    pub fn validate(&self) -> Result<()> {
        let mut ids = BTreeSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let at = format!("matching.rules[{i}]");
            if rule.id.trim().is_empty() {
                return Err(field_err(&format!("{at}.id"), "must not be empty"));
            }
            if !ids.insert(rule.id.as_str()) {
                return Err(field_err(&format!("{at}.id"), format!("{:?} is used by an earlier rule", rule.id)));
            }
            let procedure = super::canonical_procedure_name(&rule.procedure);
            if !MATCHABLE_PROCEDURES.contains(&procedure) {
                return Err(field_err(
                    &format!("{at}.procedure"),
                    format!("{:?} is not one of {}", rule.procedure, MATCHABLE_PROCEDURES.join(", ")),
                ));
            }
            if rule.all.is_empty() && rule.any.is_empty() {
                return Err(field_err(&format!("{at}.all"), "a rule needs at least one condition in `all` or `any`"));
            }
            for (list, conditions) in [("all", &rule.all), ("any", &rule.any)] {
                for (j, c) in conditions.iter().enumerate() {
                    validate_condition(&format!("{at}.{list}[{j}]"), c)?;
                }
            }
            for (name, sources) in &rule.params {
                if name.trim().is_empty() {
                    return Err(field_err(&format!("{at}.params"), "empty parameter name"));
                }
                if sources.is_empty() {
                    return Err(field_err(&format!("{at}.params.{name}"), "needs at least one source"));
                }
                for (j, s) in sources.iter().enumerate() {
                    validate_source(&format!("{at}.params.{name}[{j}]"), s)?;
                }
            }
        }
        Ok(())
    }
}

fn validate_condition(at: &str, c: &Condition) -> Result<()> {
    match c {
        Condition::AlertLabel { key, .. } | Condition::AlertAnnotation { key, .. } if key.trim().is_empty() => {
            Err(field_err(&format!("{at}.key"), "must not be empty"))
        }
        Condition::Fact { fact, at_least, .. } => {
            if !FACT_NAMES.contains(&fact.as_str()) {
                return Err(field_err(
                    &format!("{at}.fact"),
                    format!("{fact:?} is not one of {}", FACT_NAMES.join(", ")),
                ));
            }
            if at_least.is_some_and(|n| !n.is_finite()) {
                return Err(field_err(&format!("{at}.at_least"), "must be a finite number"));
            }
            Ok(())
        }
        Condition::RecentRollout { within } | Condition::CrashLoopAfterConfigChange { within }
            if *within == HumanDuration::ZERO =>
        {
            Err(field_err(&format!("{at}.within"), "must be > 0"))
        }
        _ => Ok(()),
    }
}

fn validate_source(at: &str, s: &ParamSource) -> Result<()> {
    match s {
        ParamSource::Finding(f) if !FINDING_FIELDS.contains(&f.as_str()) => {
            Err(field_err(&format!("{at}.key"), format!("{f:?} is not one of {}", FINDING_FIELDS.join(", "))))
        }
        ParamSource::Fact(f) if !FACT_NAMES.contains(&f.as_str()) => {
            Err(field_err(&format!("{at}.key"), format!("{f:?} is not one of {}", FACT_NAMES.join(", "))))
        }
        ParamSource::Label(k) | ParamSource::Annotation(k) | ParamSource::Context(k) if k.trim().is_empty() => {
            Err(field_err(&format!("{at}.key"), "must not be empty"))
        }
        _ => Ok(()),
    }
}
