//! Impact facts → [`Severity`], by the runbook's "Incident Severity Classification".
//!
//! Every bullet of the runbook is a [`RuleId`] with its severity and exact text. [`classify`] evaluates
//! all of them on typed [`ImpactFacts`]; the most severe matching rule decides, and every matching rule is
//! reported as a [`Reason`]. When no rule matches the outcome is *insufficient facts*
//! ([`Classification::severity`] is `None`, [`Classification::is_insufficient`] is `true`) — never a
//! silent P3.
//!
//! ## Performance degradation and the 50 % line
//!
//! The runbook says "Performance degradation >50%" is P1 and "<50%" is P2 and is silent about exactly
//! 50 %. This module reads the P1 bullet literally: only *strictly more* than the threshold is P1, so
//! exactly 50 % is P2 (the same strictness the detector uses for "> 50 % for > 10 minutes"), and "more"
//! is [`threshold::exceeds`](crate::threshold::exceeds): 50.00000000000002 % (float noise of 2.1 s
//! against 1.4 s) is exactly 50 %. A value of
//! 0 % (or absent) is no degradation and matches neither rule.
//!
//! The threshold is the runbook's 50 % in [`classify`]; [`Classifier::from_policy`] ties it to
//! `declaration.latency_degradation_threshold` so that a policy moving the declaration line moves the
//! P1/P2 line with it. The rule texts stay the runbook's.
//!
//! Negative, infinite or NaN percentages are invalid input: [`try_classify`] rejects them with
//! [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput); [`classify`] (the infallible hot path)
//! ignores them as if absent.
//!
//! ## Cost
//!
//! A [`Classification`] is `Copy`: the matched rules are a bit set ([`RuleSet`]) and reason texts are
//! `&'static str`, so classifying pre-parsed facts allocates nothing.

use std::fmt;

use schemars::JsonSchema;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize};

pub use crate::impact::{ImpactFacts, OutageScope};
use crate::threshold::exceeds;
use crate::{Error, Policy, Result, Severity};

/// One bullet of the runbook's severity classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum RuleId {
    /// P0 "Complete service outage".
    CompleteOutage,
    /// P0 "Data loss or corruption".
    DataLossOrCorruption,
    /// P0 "Security breach".
    SecurityBreach,
    /// P0 "Revenue-impacting issues".
    RevenueImpact,
    /// P1 "Partial service outage".
    PartialOutage,
    /// P1 "Performance degradation >50%".
    PerformanceDegradationOver50,
    /// P1 "Key feature unavailable".
    KeyFeatureUnavailable,
    /// P1 "Customer-facing errors".
    CustomerFacingErrors,
    /// P2 "Minor feature issues".
    MinorFeatureIssues,
    /// P2 "Performance degradation <50%" (here: more than 0 % up to and including the threshold).
    PerformanceDegradationUnder50,
    /// P2 "Non-customer-facing errors".
    NonCustomerFacingErrors,
    /// P3 "Cosmetic issues".
    Cosmetic,
    /// P3 "Documentation problems".
    Documentation,
    /// P3 "Non-urgent improvements".
    Improvement,
}

impl RuleId {
    /// All rules in runbook order (most severe first).
    pub const ALL: [Self; 14] = [
        Self::CompleteOutage,
        Self::DataLossOrCorruption,
        Self::SecurityBreach,
        Self::RevenueImpact,
        Self::PartialOutage,
        Self::PerformanceDegradationOver50,
        Self::KeyFeatureUnavailable,
        Self::CustomerFacingErrors,
        Self::MinorFeatureIssues,
        Self::PerformanceDegradationUnder50,
        Self::NonCustomerFacingErrors,
        Self::Cosmetic,
        Self::Documentation,
        Self::Improvement,
    ];

    /// The severity the runbook assigns.
    #[must_use]
    pub const fn severity(self) -> Severity {
        match self {
            Self::CompleteOutage | Self::DataLossOrCorruption | Self::SecurityBreach | Self::RevenueImpact => {
                Severity::P0
            }
            Self::PartialOutage
            | Self::PerformanceDegradationOver50
            | Self::KeyFeatureUnavailable
            | Self::CustomerFacingErrors => Severity::P1,
            Self::MinorFeatureIssues | Self::PerformanceDegradationUnder50 | Self::NonCustomerFacingErrors => {
                Severity::P2
            }
            Self::Cosmetic | Self::Documentation | Self::Improvement => Severity::P3,
        }
    }

    /// The runbook's exact bullet text.
    #[must_use]
    pub const fn text(self) -> &'static str {
        match self {
            Self::CompleteOutage => "Complete service outage",
            Self::DataLossOrCorruption => "Data loss or corruption",
            Self::SecurityBreach => "Security breach",
            Self::RevenueImpact => "Revenue-impacting issues",
            Self::PartialOutage => "Partial service outage",
            Self::PerformanceDegradationOver50 => "Performance degradation >50%",
            Self::KeyFeatureUnavailable => "Key feature unavailable",
            Self::CustomerFacingErrors => "Customer-facing errors",
            Self::MinorFeatureIssues => "Minor feature issues",
            Self::PerformanceDegradationUnder50 => "Performance degradation <50%",
            Self::NonCustomerFacingErrors => "Non-customer-facing errors",
            Self::Cosmetic => "Cosmetic issues",
            Self::Documentation => "Documentation problems",
            Self::Improvement => "Non-urgent improvements",
        }
    }

    /// The stable snake_case name (as serialized).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CompleteOutage => "complete_outage",
            Self::DataLossOrCorruption => "data_loss_or_corruption",
            Self::SecurityBreach => "security_breach",
            Self::RevenueImpact => "revenue_impact",
            Self::PartialOutage => "partial_outage",
            Self::PerformanceDegradationOver50 => "performance_degradation_over50",
            Self::KeyFeatureUnavailable => "key_feature_unavailable",
            Self::CustomerFacingErrors => "customer_facing_errors",
            Self::MinorFeatureIssues => "minor_feature_issues",
            Self::PerformanceDegradationUnder50 => "performance_degradation_under50",
            Self::NonCustomerFacingErrors => "non_customer_facing_errors",
            Self::Cosmetic => "cosmetic",
            Self::Documentation => "documentation",
            Self::Improvement => "improvement",
        }
    }

    const fn bit(self) -> u16 {
        1 << (self as u8)
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of [`RuleId`]s (a bit set; iterates in runbook order, most severe first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RuleSet(u16);

impl RuleSet {
    /// The empty set.
    pub const EMPTY: Self = Self(0);

    /// Add `rule`.
    pub fn insert(&mut self, rule: RuleId) {
        self.0 |= rule.bit();
    }

    /// Whether `rule` is in the set.
    #[must_use]
    pub const fn contains(self, rule: RuleId) -> bool {
        self.0 & rule.bit() != 0
    }

    /// Number of rules.
    #[must_use]
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether no rule is in the set.
    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The rules, most severe first.
    pub fn iter(self) -> impl Iterator<Item = RuleId> {
        RuleId::ALL.into_iter().filter(move |r| self.contains(*r))
    }
}

impl Serialize for RuleSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// Why a classification came out as it did: one matched runbook rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Reason {
    /// The rule.
    pub rule: RuleId,
    /// The rule's severity.
    pub severity: Severity,
    /// The runbook's bullet text.
    pub text: &'static str,
}

impl From<RuleId> for Reason {
    fn from(rule: RuleId) -> Self {
        Self { rule, severity: rule.severity(), text: rule.text() }
    }
}

/// The outcome of classifying [`ImpactFacts`].
///
/// Serializes as `{"severity": "P1" | null, "insufficient": bool, "reasons": [{"rule", "severity",
/// "text"}, ...]}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Classification {
    severity: Option<Severity>,
    rules: RuleSet,
}

impl Classification {
    /// The insufficient-facts outcome.
    pub const INSUFFICIENT: Self = Self { severity: None, rules: RuleSet::EMPTY };

    /// The severity, or `None` when the facts are insufficient (no rule matched).
    #[must_use]
    pub const fn severity(&self) -> Option<Severity> {
        self.severity
    }

    /// Whether no rule matched.
    #[must_use]
    pub const fn is_insufficient(&self) -> bool {
        self.severity.is_none()
    }

    /// The severity, or an [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) error when the facts
    /// were insufficient.
    ///
    /// # Errors
    /// When no rule matched.
    pub fn require_severity(&self) -> Result<Severity> {
        self.severity.ok_or_else(|| {
            Error::invalid_input(
                "insufficient facts to classify: no runbook severity rule matched (state the outage scope, \
                 errors, degradation, data loss, security or revenue impact)",
            )
        })
    }

    /// Every matched rule.
    #[must_use]
    pub const fn rules(&self) -> RuleSet {
        self.rules
    }

    /// Every matched rule as a [`Reason`], most severe first.
    pub fn reasons(&self) -> impl Iterator<Item = Reason> {
        self.rules.iter().map(Reason::from)
    }

    /// The reasons at the decided severity (the ones that decided it).
    pub fn deciding_reasons(&self) -> impl Iterator<Item = Reason> {
        let sev = self.severity;
        self.reasons().filter(move |r| Some(r.severity) == sev)
    }
}

impl fmt::Display for Classification {
    /// `P1 (Partial service outage; Customer-facing errors)` or `insufficient facts`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(sev) = self.severity else {
            return f.write_str("insufficient facts");
        };
        write!(f, "{sev} (")?;
        for (i, r) in self.deciding_reasons().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            f.write_str(r.text)?;
        }
        f.write_str(")")
    }
}

impl Serialize for Classification {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        struct Reasons(RuleSet);
        impl Serialize for Reasons {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.collect_seq(self.0.iter().map(Reason::from))
            }
        }
        let mut st = s.serialize_struct("Classification", 3)?;
        st.serialize_field("severity", &self.severity)?;
        st.serialize_field("insufficient", &self.is_insufficient())?;
        st.serialize_field("reasons", &Reasons(self.rules))?;
        st.end()
    }
}

/// The JSON Schema of [`Classification`]'s serialized form (its `Serialize` is hand-written).
impl JsonSchema for Classification {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Classification".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        /// One matched rule (as serialized).
        #[derive(JsonSchema)]
        #[allow(dead_code)]
        struct Reason {
            /// The rule.
            rule: RuleId,
            /// The rule's severity.
            severity: Severity,
            /// The runbook's bullet text.
            text: String,
        }
        /// The outcome of classifying impact facts.
        #[derive(JsonSchema)]
        #[allow(dead_code)]
        struct Classification {
            /// The severity; `null` when the facts are insufficient.
            severity: Option<Severity>,
            /// No rule matched.
            insufficient: bool,
            /// Every matched rule, most severe first.
            reasons: Vec<Reason>,
        }
        Classification::json_schema(generator)
    }
}

/// The classifier with its one tunable: the P1/P2 performance-degradation line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Classifier {
    degradation_threshold_pct: f64,
}

impl Default for Classifier {
    fn default() -> Self {
        Self::RUNBOOK
    }
}

impl Classifier {
    /// The runbook's classifier (the P1/P2 line at 50 %).
    pub const RUNBOOK: Self = Self { degradation_threshold_pct: 50.0 };

    /// A classifier with the P1/P2 line at `pct` percent (non-finite or negative values fall back to 50).
    #[must_use]
    pub fn with_degradation_threshold_pct(pct: f64) -> Self {
        if pct.is_finite() && pct >= 0.0 { Self { degradation_threshold_pct: pct } } else { Self::RUNBOOK }
    }

    /// The line at `policy.declaration.latency_degradation_threshold` (a fraction) × 100.
    #[must_use]
    pub fn from_policy(policy: &Policy) -> Self {
        Self::with_degradation_threshold_pct(policy.declaration.latency_degradation_threshold * 100.0)
    }

    /// The P1/P2 line in percent.
    #[must_use]
    pub const fn degradation_threshold_pct(&self) -> f64 {
        self.degradation_threshold_pct
    }

    /// Classify; invalid percentages are ignored (see the module docs). Allocation-free.
    #[must_use]
    pub fn classify(&self, facts: &ImpactFacts) -> Classification {
        let mut rules = RuleSet::EMPTY;
        let mut set = |cond: bool, rule: RuleId| {
            if cond {
                rules.insert(rule);
            }
        };
        set(facts.outage == OutageScope::Complete, RuleId::CompleteOutage);
        set(facts.data_loss_or_corruption, RuleId::DataLossOrCorruption);
        set(facts.security_breach, RuleId::SecurityBreach);
        set(facts.revenue_impact, RuleId::RevenueImpact);
        set(facts.outage == OutageScope::Partial, RuleId::PartialOutage);
        if let Some(p) = facts.performance_degradation_pct.filter(|p| p.is_finite()) {
            let over = exceeds(p, self.degradation_threshold_pct);
            set(over, RuleId::PerformanceDegradationOver50);
            set(p > 0.0 && !over, RuleId::PerformanceDegradationUnder50);
        }
        set(facts.key_feature_unavailable, RuleId::KeyFeatureUnavailable);
        set(facts.customer_facing_errors, RuleId::CustomerFacingErrors);
        set(facts.minor_feature_issue, RuleId::MinorFeatureIssues);
        set(facts.non_customer_facing_errors, RuleId::NonCustomerFacingErrors);
        set(facts.cosmetic, RuleId::Cosmetic);
        set(facts.documentation, RuleId::Documentation);
        set(facts.improvement, RuleId::Improvement);
        // RuleId::ALL is ordered most severe first, so the first matched rule decides.
        let severity = rules.iter().next().map(RuleId::severity);
        Classification { severity, rules }
    }

    /// Validate, then classify.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for a negative, infinite or NaN
    /// percentage.
    pub fn try_classify(&self, facts: &ImpactFacts) -> Result<Classification> {
        facts.validate().map_err(|e| e.context("impact facts"))?;
        Ok(self.classify(facts))
    }
}

/// Classify with the runbook's rules (P1/P2 degradation line at 50 %). See [`Classifier::classify`].
#[must_use]
pub fn classify(facts: &ImpactFacts) -> Classification {
    Classifier::RUNBOOK.classify(facts)
}

/// Validate, then classify with the runbook's rules. See [`Classifier::try_classify`].
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for a negative, infinite or NaN percentage.
pub fn try_classify(facts: &ImpactFacts) -> Result<Classification> {
    Classifier::RUNBOOK.try_classify(facts)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::ErrorKind;

    fn facts() -> ImpactFacts {
        ImpactFacts::default()
    }

    fn only(rule: RuleId) -> ImpactFacts {
        let mut f = facts();
        match rule {
            RuleId::CompleteOutage => f.outage = OutageScope::Complete,
            RuleId::DataLossOrCorruption => f.data_loss_or_corruption = true,
            RuleId::SecurityBreach => f.security_breach = true,
            RuleId::RevenueImpact => f.revenue_impact = true,
            RuleId::PartialOutage => f.outage = OutageScope::Partial,
            RuleId::PerformanceDegradationOver50 => f.performance_degradation_pct = Some(75.0),
            RuleId::KeyFeatureUnavailable => f.key_feature_unavailable = true,
            RuleId::CustomerFacingErrors => f.customer_facing_errors = true,
            RuleId::MinorFeatureIssues => f.minor_feature_issue = true,
            RuleId::PerformanceDegradationUnder50 => f.performance_degradation_pct = Some(20.0),
            RuleId::NonCustomerFacingErrors => f.non_customer_facing_errors = true,
            RuleId::Cosmetic => f.cosmetic = true,
            RuleId::Documentation => f.documentation = true,
            RuleId::Improvement => f.improvement = true,
        }
        f
    }

    #[test]
    fn every_rule_alone_gives_its_severity_and_text() {
        for rule in RuleId::ALL {
            let c = classify(&only(rule));
            assert_eq!(c.severity(), Some(rule.severity()), "{rule}");
            let reasons: Vec<Reason> = c.reasons().collect();
            assert_eq!(reasons, vec![Reason::from(rule)], "{rule}");
            assert!(!c.is_insufficient());
        }
        assert_eq!(RuleId::PerformanceDegradationOver50.text(), "Performance degradation >50%");
        assert_eq!(RuleId::RevenueImpact.text(), "Revenue-impacting issues");
    }

    #[test]
    fn rule_texts_match_the_default_policy_criteria() {
        let policy = Policy::default();
        for sev in Severity::ALL {
            let texts: Vec<&str> = RuleId::ALL.iter().filter(|r| r.severity() == sev).map(|r| r.text()).collect();
            let criteria: Vec<&str> = policy.severities.get(sev).criteria.iter().map(String::as_str).collect();
            assert_eq!(texts, criteria, "{sev}");
        }
    }

    #[test]
    fn highest_severity_wins_and_all_reasons_are_reported() {
        let f = ImpactFacts { cosmetic: true, customer_facing_errors: true, outage: OutageScope::Partial, ..facts() };
        let c = classify(&f);
        assert_eq!(c.severity(), Some(Severity::P1));
        let rules: Vec<RuleId> = c.rules().iter().collect();
        assert_eq!(rules, vec![RuleId::PartialOutage, RuleId::CustomerFacingErrors, RuleId::Cosmetic]);
        assert_eq!(c.deciding_reasons().count(), 2);
        assert_eq!(c.to_string(), "P1 (Partial service outage; Customer-facing errors)");
    }

    #[test]
    fn insufficient_facts_is_explicit() {
        let c = classify(&ImpactFacts { service: Some("api".into()), customer_facing: Some(true), ..facts() });
        assert!(c.is_insufficient());
        assert_eq!(c.severity(), None);
        assert_eq!(c.to_string(), "insufficient facts");
        assert_eq!(c.require_severity().expect_err("insufficient").kind(), ErrorKind::InvalidInput);
        let json = serde_json::to_value(c).expect("serialize");
        assert_eq!(json, serde_json::json!({"severity": null, "insufficient": true, "reasons": []}));
        // 0 % degradation is no degradation.
        assert!(classify(&ImpactFacts { performance_degradation_pct: Some(0.0), ..facts() }).is_insufficient());
    }

    #[test]
    fn degradation_boundaries() {
        let at = |p: f64| classify(&ImpactFacts { performance_degradation_pct: Some(p), ..facts() }).severity();
        assert_eq!(at(50.0), Some(Severity::P2), "exactly 50 % is not >50 %");
        assert_eq!(at(50.000_001), Some(Severity::P1));
        assert_eq!(at(49.9), Some(Severity::P2));
        assert_eq!(at(0.1), Some(Severity::P2));
        assert_eq!(at(400.0), Some(Severity::P1));
        let mut p = Policy::default();
        p.declaration.latency_degradation_threshold = 0.3;
        let c = Classifier::from_policy(&p);
        assert_eq!(
            c.classify(&ImpactFacts { performance_degradation_pct: Some(40.0), ..facts() }).severity(),
            Some(Severity::P1)
        );
    }

    #[test]
    fn invalid_percentages_are_rejected_by_try_classify_and_ignored_by_classify() {
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let f = ImpactFacts { performance_degradation_pct: Some(bad), ..facts() };
            let e = try_classify(&f).expect_err("invalid");
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            assert!(e.to_string().starts_with("impact facts: performance_degradation_pct"), "{e}");
            assert!(classify(&f).is_insufficient());
        }
    }

    #[test]
    fn serializes_reasons() {
        let c = classify(&only(RuleId::SecurityBreach));
        let json = serde_json::to_value(c).expect("serialize");
        assert_eq!(
            json,
            serde_json::json!({"severity": "P0", "insufficient": false,
                "reasons": [{"rule": "security_breach", "severity": "P0", "text": "Security breach"}]})
        );
    }

    #[test]
    fn facts_round_trip_and_reject_unknown_fields() {
        let f = ImpactFacts { outage: OutageScope::Partial, performance_degradation_pct: Some(12.5), ..facts() };
        let json = serde_json::to_string(&f).expect("serialize");
        assert_eq!(json, r#"{"outage":"partial","performance_degradation_pct":12.5}"#);
        assert_eq!(serde_json::from_str::<ImpactFacts>(&json).expect("parse"), f);
        assert!(serde_json::from_str::<ImpactFacts>(r#"{"outages":"partial"}"#).is_err());
    }

    #[test]
    fn merge_takes_the_worst() {
        let mut a = ImpactFacts { outage: OutageScope::Partial, performance_degradation_pct: Some(10.0), ..facts() };
        a.merge(&ImpactFacts {
            outage: OutageScope::None,
            performance_degradation_pct: Some(60.0),
            cosmetic: true,
            service: Some("api".into()),
            ..facts()
        });
        assert_eq!(a.outage, OutageScope::Partial);
        assert_eq!(a.performance_degradation_pct, Some(60.0));
        assert!(a.cosmetic);
        assert_eq!(a.service.as_deref(), Some("api"));
    }

    fn arb_facts() -> impl Strategy<Value = ImpactFacts> {
        (
            prop_oneof![Just(OutageScope::None), Just(OutageScope::Partial), Just(OutageScope::Complete)],
            proptest::option::of(0.0f64..500.0),
            proptest::collection::vec(any::<bool>(), 11),
        )
            .prop_map(|(outage, pct, b)| ImpactFacts {
                outage,
                performance_degradation_pct: pct,
                data_loss_or_corruption: b[0],
                security_breach: b[1],
                revenue_impact: b[2],
                key_feature_unavailable: b[3],
                customer_facing_errors: b[4],
                non_customer_facing_errors: b[5],
                minor_feature_issue: b[6],
                cosmetic: b[7],
                documentation: b[8],
                improvement: b[9],
                customer_facing: Some(b[10]),
                ..ImpactFacts::default()
            })
    }

    proptest! {
        #[test]
        fn adding_facts_never_lowers_severity(base in arb_facts(), extra in arb_facts()) {
            let before = classify(&base).severity();
            let mut worse = base.clone();
            worse.merge(&extra);
            prop_assert!(classify(&worse).severity() >= before);
        }

        #[test]
        fn severity_is_the_max_of_matched_rules(f in arb_facts()) {
            let c = classify(&f);
            prop_assert_eq!(c.severity(), c.rules().iter().map(RuleId::severity).max());
            prop_assert_eq!(c.is_insufficient(), !f.has_impact());
        }

        #[test]
        fn raising_degradation_never_lowers_severity(f in arb_facts(), a in 0.0f64..500.0, b in 0.0f64..500.0) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let low = classify(&ImpactFacts { performance_degradation_pct: Some(lo), ..f.clone() }).severity();
            let high = classify(&ImpactFacts { performance_degradation_pct: Some(hi), ..f }).severity();
            prop_assert!(high >= low);
        }
    }
}
