//! Procedure matching: which runbook procedure fits an incident, with which parameters, and why.
//!
//! [`match_procedure`] evaluates the policy's rules ([`policy.matching`](crate::policy::matching)) over a
//! [`MatchInput`]: the impact facts, the alerts' labels and annotations, and triage findings (recent
//! rollouts, crash-looping pods after a configuration change, AWS Health events, unreachable regions,
//! failed integrity checks). The answer explains itself: the rule that matched, the facts that made it
//! match, each parameter with where its value came from, and every other rule with why it did or did not
//! match. "No rule matched" is an answer too ([`ProcedureMatch::matched`] is `None`), never an error.
//!
//! Rules are tried by descending priority, then in policy order, so the same input always gives the same
//! answer. Matching never plans or runs anything: [`ProcedureMatch::procedure`] builds the procedure value
//! ([`procedure_from_spec`]) for `plan()`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::alert::AlertStatus;
use crate::engine::Procedure;
use crate::engine::library::procedure_from_spec;
use crate::impact::ImpactFacts;
use crate::ingest::IngestedAlert;
use crate::policy::canonical_procedure_name;
use crate::policy::matching::{Condition, MatchRule, ParamSource};
use crate::{HumanDuration, Policy, Result};

mod findings;

pub use findings::{ConfigChange, CrashLoop, Findings, IntegrityFailure, RolloutFinding};

/// What a match is decided on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MatchInput {
    /// When the alert fired: the reference instant of every `within` (the earliest firing alert's start
    /// when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// The impact facts.
    pub facts: ImpactFacts,
    /// The alerts (only firing ones count).
    pub alerts: Vec<MatchAlert>,
    /// What triage and the cloud checks found.
    pub findings: Findings,
    /// Values rules may read (`primary_region`, `secondary_region`, `kube_context`).
    pub context: BTreeMap<String, String>,
}

/// An alert's labels and annotations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchAlert {
    /// Status (firing when absent).
    #[serde(default = "firing")]
    pub status: AlertStatus,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// Labels (`alertname`, `service`, `namespace`, ...).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

const fn firing() -> AlertStatus {
    AlertStatus::Firing
}

impl From<&IngestedAlert> for MatchAlert {
    fn from(a: &IngestedAlert) -> Self {
        Self { status: a.status, starts_at: a.starts_at, labels: a.labels.clone(), annotations: a.annotations.clone() }
    }
}

/// The answer: the procedure proposed (or none) and every rule considered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProcedureMatch {
    /// The reference instant used for `within` conditions.
    pub at: Option<DateTime<Utc>>,
    /// The first rule that matched, in evaluation order; `None` = no rule matched.
    pub matched: Option<MatchedProcedure>,
    /// Every rule, in evaluation order, with its verdict.
    pub rules: Vec<RuleOutcome>,
}

/// The procedure a rule proposes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MatchedProcedure {
    /// The rule's id.
    pub rule: String,
    /// The rule's description.
    pub description: String,
    /// The procedure (current name).
    pub procedure: String,
    /// The facts that made the rule match.
    pub facts: Vec<String>,
    /// The parameters, by name, each with its source.
    pub params: Vec<MatchedParam>,
}

/// One parameter of the proposed procedure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MatchedParam {
    /// Name (as `procedure_from_spec` takes it).
    pub name: String,
    /// Value.
    pub value: String,
    /// Where it came from: `finding rollout.name`, `label namespace`, `the rule's value`, ...
    pub source: String,
}

/// A rule's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Matched, and it is the answer.
    Chosen,
    /// Matched, but a rule tried earlier was chosen.
    AlsoMatched,
    /// Did not match.
    NotMatched,
}

/// One rule as considered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RuleOutcome {
    /// The rule's id.
    pub rule: String,
    /// Its procedure.
    pub procedure: String,
    /// Its priority.
    pub priority: u32,
    /// The verdict.
    pub verdict: Verdict,
    /// Conditions that held.
    pub facts: Vec<String>,
    /// Why it did not match (empty when it did).
    pub reasons: Vec<String>,
}

impl ProcedureMatch {
    /// The proposed procedure's parameters as `procedure_from_spec` takes them.
    #[must_use]
    pub fn params(&self) -> BTreeMap<String, String> {
        self.matched.iter().flat_map(|m| &m.params).map(|p| (p.name.clone(), p.value.clone())).collect()
    }

    /// The proposed procedure as a value, ready for `plan()`; `None` when no rule matched.
    ///
    /// # Errors
    /// As [`procedure_from_spec`] (the match already checked the parameters, so only a policy changed in
    /// between fails).
    pub fn procedure(&self, policy: &Policy) -> Result<Option<Procedure>> {
        self.matched.as_ref().map(|m| procedure_from_spec(&m.procedure, &self.params(), policy)).transpose()
    }

    /// A readable rendering: the answer, its facts and parameters, then every rule considered.
    #[must_use]
    pub fn render(&self) -> String {
        let mut s = String::new();
        match &self.matched {
            Some(m) => {
                let _ = writeln!(s, "Procedure: {} (rule {})", m.procedure, m.rule);
                if !m.description.is_empty() {
                    let _ = writeln!(s, "  {}", m.description);
                }
                let _ = writeln!(s, "Because:");
                for f in &m.facts {
                    let _ = writeln!(s, "  - {f}");
                }
                let _ = writeln!(s, "Parameters:");
                for p in &m.params {
                    let _ = writeln!(s, "  {} = {} (from {})", p.name, p.value, p.source);
                }
                let mut cmd = format!("incident plan {}", m.procedure);
                for p in &m.params {
                    let _ = write!(cmd, " --param {}={}", p.name, p.value);
                }
                let _ = writeln!(s, "Plan it (dry run): {cmd}");
            }
            None => {
                let _ =
                    writeln!(s, "No rule matched: no procedure is proposed ({} rules considered).", self.rules.len());
            }
        }
        let _ = writeln!(s, "Rules considered, in order:");
        for r in &self.rules {
            let verdict = match r.verdict {
                Verdict::Chosen => "chosen",
                Verdict::AlsoMatched => "also matched",
                Verdict::NotMatched => "no match",
            };
            let _ = write!(s, "  {} → {} (priority {}): {verdict}", r.rule, r.procedure, r.priority);
            if !r.reasons.is_empty() {
                let _ = write!(s, ": {}", r.reasons.join("; "));
            }
            s.push('\n');
        }
        s
    }
}

/// Evaluate `policy.matching` over `input`.
///
/// # Errors
/// [`ErrorKind::Policy`](crate::ErrorKind::Policy) for invalid rules (naming the field);
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for invalid facts.
pub fn match_procedure(policy: &Policy, input: &MatchInput) -> Result<ProcedureMatch> {
    policy.matching.validate()?;
    input.facts.validate()?;
    let at = input
        .at
        .or_else(|| input.alerts.iter().filter(|a| a.status == AlertStatus::Firing).filter_map(|a| a.starts_at).min());
    let mut out = ProcedureMatch { at, matched: None, rules: Vec::new() };
    for rule in policy.matching.ordered() {
        let eval = Eval { input, at };
        let procedure = canonical_procedure_name(&rule.procedure).to_owned();
        let (facts, reasons, params) = eval.rule(rule, policy, &procedure);
        let verdict = match (reasons.is_empty(), out.matched.is_some()) {
            (false, _) => Verdict::NotMatched,
            (true, true) => Verdict::AlsoMatched,
            (true, false) => {
                out.matched = Some(MatchedProcedure {
                    rule: rule.id.clone(),
                    description: rule.description.clone(),
                    procedure: procedure.clone(),
                    facts: facts.clone(),
                    params,
                });
                Verdict::Chosen
            }
        };
        out.rules.push(RuleOutcome {
            rule: rule.id.clone(),
            procedure,
            priority: rule.priority,
            verdict,
            facts,
            reasons,
        });
    }
    Ok(out)
}

/// What a condition found: a description and the values it binds, or why it does not hold.
struct Held {
    fact: String,
    bindings: Vec<(&'static str, String)>,
    alert: Option<usize>,
}

struct Eval<'a> {
    input: &'a MatchInput,
    at: Option<DateTime<Utc>>,
}

fn ago(at: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let secs = (at - then).num_seconds();
    if secs >= 0 {
        format!("{} before the alert", HumanDuration::from_secs(secs.unsigned_abs()))
    } else {
        format!("{} after the alert", HumanDuration::from_secs(secs.unsigned_abs()))
    }
}

impl Eval<'_> {
    fn firing(&self) -> impl Iterator<Item = (usize, &MatchAlert)> {
        self.input.alerts.iter().enumerate().filter(|(_, a)| a.status == AlertStatus::Firing)
    }

    /// Names the alerts point at (`deployment`, `service` labels, the `service` fact): preferred suspects.
    fn named(&self, name: &str) -> bool {
        self.firing()
            .any(|(_, a)| ["deployment", "service"].iter().any(|k| a.labels.get(*k).is_some_and(|v| v == name)))
            || self.input.facts.service.as_deref() == Some(name)
    }

    fn window(&self, within: HumanDuration, when: DateTime<Utc>) -> std::result::Result<(), String> {
        let Some(at) = self.at else {
            return Err("no alert time (`at` or a firing alert's start) to measure from".into());
        };
        let age = at - when;
        if age < TimeDelta::zero() {
            return Err(format!("{} is after the alert", crate::clock::format_utc(when)));
        }
        if age > TimeDelta::from(within) {
            return Err(format!("{}, more than {within}", ago(at, when)));
        }
        Ok(())
    }

    fn rule(
        &self,
        rule: &MatchRule,
        policy: &Policy,
        procedure: &str,
    ) -> (Vec<String>, Vec<String>, Vec<MatchedParam>) {
        let mut facts = Vec::new();
        let mut reasons = Vec::new();
        let mut bindings: BTreeMap<&'static str, String> = BTreeMap::new();
        let mut alert = None;
        let mut keep = |h: Held, facts: &mut Vec<String>| {
            facts.push(h.fact);
            for (k, v) in h.bindings {
                bindings.entry(k).or_insert(v);
            }
            alert = alert.or(h.alert);
        };
        for c in &rule.all {
            match self.condition(c) {
                Ok(h) => keep(h, &mut facts),
                Err(why) => reasons.push(why),
            }
        }
        if !rule.any.is_empty() {
            let mut whys = Vec::new();
            let mut any = false;
            for c in &rule.any {
                match self.condition(c) {
                    Ok(h) => {
                        any = true;
                        keep(h, &mut facts);
                    }
                    Err(why) => whys.push(why),
                }
            }
            if !any {
                reasons.push(format!("none of: {}", whys.join(", ")));
            }
        }
        if !reasons.is_empty() {
            return (facts, reasons, Vec::new());
        }
        let alert = alert.or_else(|| self.firing().next().map(|(i, _)| i)).map(|i| &self.input.alerts[i]);
        let mut params = Vec::new();
        for (name, sources) in &rule.params {
            let found = sources.iter().find_map(|s| self.source(s, &bindings, alert));
            match found {
                Some((value, source)) => params.push(MatchedParam { name: name.clone(), value, source }),
                None => reasons.push(format!(
                    "parameter `{name}` has no value ({})",
                    sources.iter().map(describe_source).collect::<Vec<_>>().join(", ")
                )),
            }
        }
        if reasons.is_empty() {
            let map = params.iter().map(|p| (p.name.clone(), p.value.clone())).collect();
            if let Err(e) = procedure_from_spec(procedure, &map, policy) {
                reasons.push(format!("the procedure rejects the parameters: {}", e.message()));
            }
        }
        (facts, reasons, params)
    }

    fn source(
        &self,
        s: &ParamSource,
        bindings: &BTreeMap<&'static str, String>,
        alert: Option<&MatchAlert>,
    ) -> Option<(String, String)> {
        let value = match s {
            ParamSource::Value(v) => Some(v.clone()),
            ParamSource::Finding(f) => bindings.get(f.as_str()).cloned(),
            ParamSource::Label(k) => alert.and_then(|a| a.labels.get(k)).cloned(),
            ParamSource::Annotation(k) => alert.and_then(|a| a.annotations.get(k)).cloned(),
            ParamSource::Fact(f) => fact_value(&self.input.facts, f),
            ParamSource::Context(k) => self.input.context.get(k).cloned(),
        };
        value.filter(|v| !v.trim().is_empty()).map(|v| (v, describe_source(s)))
    }

    #[allow(clippy::too_many_lines)] // one arm per condition kind reads best side by side
    fn condition(&self, c: &Condition) -> std::result::Result<Held, String> {
        let held = |fact: String| Held { fact, bindings: Vec::new(), alert: None };
        match c {
            Condition::AlertLabel { key, any_of } | Condition::AlertAnnotation { key, any_of } => {
                let (what, label) = match c {
                    Condition::AlertLabel { .. } => ("label", true),
                    _ => ("annotation", false),
                };
                let hit = self.firing().find(|(_, a)| {
                    let map = if label { &a.labels } else { &a.annotations };
                    map.get(key).is_some_and(|v| any_of.is_empty() || any_of.contains(v))
                });
                let wanted =
                    if any_of.is_empty() { format!("{what} {key}") } else { format!("{key}={}", any_of.join("|")) };
                match hit {
                    Some((i, a)) => {
                        let v = if label { &a.labels[key] } else { &a.annotations[key] };
                        let name = a.labels.get("alertname").cloned().unwrap_or_default();
                        Ok(Held {
                            fact: format!("firing alert with {key}={v}"),
                            bindings: vec![("alert.name", name)],
                            alert: Some(i),
                        })
                    }
                    None => Err(format!("no firing alert with {wanted}")),
                }
            }
            Condition::Fact { fact, equals, at_least } => {
                let value = fact_value(&self.input.facts, fact);
                let ok = match (&value, equals, at_least) {
                    (None, ..) => false,
                    (Some(v), Some(want), _) => v == want,
                    (Some(v), None, Some(min)) => v.parse::<f64>().is_ok_and(|n| n >= *min),
                    (Some(v), None, None) => v != "false",
                };
                let wanted = match (equals, at_least) {
                    (Some(w), _) => format!("{fact} = {w}"),
                    (None, Some(m)) => format!("{fact} >= {m}"),
                    (None, None) => fact.clone(),
                };
                match value {
                    Some(v) if ok => Ok(held(format!("fact {fact} = {v}"))),
                    Some(v) => Err(format!("fact {fact} is {v}, not {wanted}")),
                    None => Err(format!("fact {wanted} not set")),
                }
            }
            Condition::RecentRollout { within } => {
                let mut candidates: Vec<&RolloutFinding> = Vec::new();
                let mut too_old = Vec::new();
                for r in &self.input.findings.rollouts {
                    match self.window(*within, r.at) {
                        Ok(()) => candidates.push(r),
                        Err(why) => too_old.push(format!("{}/{} revision {}: {why}", r.namespace, r.name, r.revision)),
                    }
                }
                // Prefer the deployment the alerts name, then the newest rollout, then by name.
                candidates.sort_by(|a, b| {
                    (self.named(&b.name), b.at, &a.namespace, &a.name).cmp(&(
                        self.named(&a.name),
                        a.at,
                        &b.namespace,
                        &b.name,
                    ))
                });
                let Some(r) = candidates.first() else {
                    return Err(if too_old.is_empty() {
                        "no rollout found".to_owned()
                    } else {
                        format!("no rollout within {within} before the alert ({})", too_old.join(", "))
                    });
                };
                let at = self.at.unwrap_or(r.at);
                let mut fact = format!(
                    "{}/{} rolled out revision {} at {}, {}",
                    r.namespace,
                    r.name,
                    r.revision,
                    crate::clock::format_utc(r.at),
                    ago(at, r.at)
                );
                let mut bindings = vec![
                    ("rollout.deployment", format!("{}/{}", r.namespace, r.name)),
                    ("rollout.namespace", r.namespace.clone()),
                    ("rollout.name", r.name.clone()),
                    ("rollout.revision", r.revision.to_string()),
                ];
                let mut extra = Vec::new();
                if let Some(p) = r.previous_revision {
                    extra.push(format!("previous revision {p}"));
                    bindings.push(("rollout.previous_revision", p.to_string()));
                }
                if let Some(c) = &r.commit {
                    extra.push(format!("commit {c}"));
                    bindings.push(("rollout.commit", c.clone()));
                }
                if !extra.is_empty() {
                    let _ = write!(fact, " ({})", extra.join(", "));
                }
                if let Some(cause) = &r.change_cause {
                    let _ = write!(fact, ": {cause}");
                }
                Ok(Held { fact, bindings, alert: None })
            }
            Condition::CrashLoopAfterConfigChange { within } => {
                let f = &self.input.findings;
                if f.crash_looping.is_empty() {
                    return Err("no crash-looping pods".into());
                }
                let mut loops: Vec<&CrashLoop> = f.crash_looping.iter().collect();
                loops.sort_by(|a, b| {
                    (self.named(&b.deployment), &a.namespace, &a.deployment).cmp(&(
                        self.named(&a.deployment),
                        &b.namespace,
                        &b.deployment,
                    ))
                });
                let mut whys = Vec::new();
                for l in loops {
                    let mut changes: Vec<&ConfigChange> = f
                        .config_changes
                        .iter()
                        .filter(|c| {
                            c.namespace == l.namespace && c.deployment.as_ref().is_none_or(|d| *d == l.deployment)
                        })
                        .collect();
                    changes.sort_by(|a, b| (b.at, &a.object).cmp(&(a.at, &b.object)));
                    let mut recent = changes.iter().filter(|c| self.window(*within, c.at).is_ok());
                    if let Some(c) = recent.next() {
                        let at = self.at.unwrap_or(c.at);
                        return Ok(Held {
                            fact: format!(
                                "{} pod(s) of {}/{} crash-loop after {} changed at {}, {}",
                                l.pods,
                                l.namespace,
                                l.deployment,
                                c.object,
                                crate::clock::format_utc(c.at),
                                ago(at, c.at)
                            ),
                            bindings: vec![
                                ("crash_loop.deployment", format!("{}/{}", l.namespace, l.deployment)),
                                ("crash_loop.namespace", l.namespace.clone()),
                                ("crash_loop.name", l.deployment.clone()),
                                ("config_change.object", c.object.clone()),
                            ],
                            alert: None,
                        });
                    }
                    whys.push(format!(
                        "{}/{} crash-loops but {}",
                        l.namespace,
                        l.deployment,
                        changes.first().map_or_else(
                            || "no configuration change is known".to_owned(),
                            |c| format!(
                                "its last configuration change ({}) is not within {within} before the alert: {}",
                                c.object,
                                self.window(*within, c.at).err().unwrap_or_default()
                            )
                        )
                    ));
                }
                Err(whys.join(", "))
            }
            Condition::AwsHealthEvent { services } => {
                let primary = self.input.context.get("primary_region");
                let secondary = self.input.context.get("secondary_region");
                let events = &self.input.findings.health_events;
                let hit = events.iter().find(|e| {
                    e.status.eq_ignore_ascii_case("open")
                        && (services.is_empty() || services.iter().any(|s| s.eq_ignore_ascii_case(&e.service)))
                        && primary.is_none_or(|p| *p == e.region)
                        && secondary != Some(&e.region)
                });
                match hit {
                    Some(e) => Ok(Held {
                        fact: format!("AWS Health: open {} event {} in {}", e.service, e.code, e.region),
                        bindings: vec![("region.name", e.region.clone())],
                        alert: None,
                    }),
                    None => Err(format!(
                        "no open AWS Health event{}{} ({} event(s) seen)",
                        if services.is_empty() { String::new() } else { format!(" for {}", services.join("/")) },
                        primary.map(|p| format!(" in {p}")).unwrap_or_default(),
                        events.len()
                    )),
                }
            }
            Condition::RegionUnreachable => {
                let primary = self.input.context.get("primary_region");
                let secondary = self.input.context.get("secondary_region");
                let hit = self
                    .input
                    .findings
                    .unreachable_regions
                    .iter()
                    .find(|r| primary.is_none_or(|p| p == *r) && secondary != Some(*r));
                match hit {
                    Some(r) => Ok(Held {
                        fact: format!("region {r} does not answer"),
                        bindings: vec![("region.name", r.clone())],
                        alert: None,
                    }),
                    None => Err(format!(
                        "the primary region{} answers",
                        primary.map(|p| format!(" {p}")).unwrap_or_default()
                    )),
                }
            }
            Condition::IntegrityCheckFailed => match self.input.findings.failed_integrity_checks.first() {
                Some(f) => Ok(Held {
                    fact: format!("integrity check {} failed on {}: {}", f.check, f.datastore, f.detail),
                    bindings: vec![("integrity.datastore", f.datastore.clone()), ("integrity.check", f.check.clone())],
                    alert: None,
                }),
                None => Err("no failed integrity check".into()),
            },
        }
    }
}

fn describe_source(s: &ParamSource) -> String {
    match s {
        ParamSource::Value(_) => "the rule's value".into(),
        ParamSource::Finding(f) => format!("finding {f}"),
        ParamSource::Label(k) => format!("label {k}"),
        ParamSource::Annotation(k) => format!("annotation {k}"),
        ParamSource::Fact(f) => format!("fact {f}"),
        ParamSource::Context(k) => format!("context {k}"),
    }
}

/// A fact's value as text, `None` when it is at its default (not known to hold).
fn fact_value(facts: &ImpactFacts, name: &str) -> Option<String> {
    let v = serde_json::to_value(facts).ok()?;
    match v.get(name)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fact_names_are_the_fields_of_impact_facts() {
        let all = ImpactFacts {
            outage: crate::impact::OutageScope::Complete,
            data_loss_or_corruption: true,
            security_breach: true,
            revenue_impact: true,
            performance_degradation_pct: Some(1.0),
            key_feature_unavailable: true,
            customer_facing_errors: true,
            non_customer_facing_errors: true,
            minor_feature_issue: true,
            cosmetic: true,
            documentation: true,
            improvement: true,
            service: Some("api".into()),
            customer_facing: Some(true),
            customers_affected: Some(true),
        };
        let v = serde_json::to_value(&all).expect("facts serialize");
        let mut keys: Vec<&str> = v.as_object().expect("an object").keys().map(String::as_str).collect();
        let mut names = crate::policy::matching::FACT_NAMES.to_vec();
        keys.sort_unstable();
        names.sort_unstable();
        assert_eq!(keys, names);
    }

    #[test]
    fn every_matchable_procedure_builds_from_its_name() {
        for name in crate::policy::matching::MATCHABLE_PROCEDURES {
            procedure_from_spec(name, &BTreeMap::new(), &Policy::default()).expect(name);
        }
    }
}
