//! Streaming evaluation of the runbook's "When to Declare an Incident" rules.
//!
//! | Rule ([`DeclarationRule`]) | Runbook line | Fires |
//! |---|---|---|
//! | `service_unavailable` | Service unavailable for >5 minutes | `Availability { up: false }` sustained > `unavailable_for` |
//! | `error_rate` | Error rate >5% for >5 minutes | `ErrorRate(f)` with `f` exceeding `error_rate_threshold` sustained > `error_rate_for` |
//! | `performance_degradation` | Performance degradation >50% for >10 minutes | `Latency` with `observed/baseline - 1` exceeding `latency_degradation_threshold` sustained > `latency_degradation_for` |
//! | `data_integrity` | Data integrity concerns | at once on `DataIntegrity` (if `declare_on_data_integrity`) |
//! | `security` | Security incidents | at once on `Security` (if `declare_on_security`) |
//!
//! State is kept per *series* = (service, rule) in a `HashMap` keyed by service (a fixed array of the
//! five rules per service), so each sample costs one hash lookup: O(1) amortised, and no allocation
//! except the first time a service is seen.
//!
//! ## Semantics
//!
//! * **Windows are strict.** A series' window starts at its first breaching sample; the rule fires at
//!   the first breaching sample with `at - window_start > window`. With the 5-minute default a sample at
//!   4:59 or at exactly 5:00 after the window start does not fire; one at 5:01 does. A lone breaching
//!   sample never fires a windowed rule: sustained means observed at both ends.
//! * **Recovery.** A non-breaching sample (`up: true`, an error rate at or below the threshold, a
//!   degradation at or below the threshold) or [`Signal::Resolved`] resets the window and clears the
//!   series' *declared* state. Data-integrity and security series recover only through
//!   [`Signal::Resolved`] (their signals are always concerns).
//! * **No re-declaration.** After a series fires it is *declared* and does not fire again until it has
//!   recovered; the next breach then starts a fresh window.
//! * **Gaps.** When a sample is more than `max_sample_gap` after the series' previous sample the window
//!   restarts at the later sample (a gap is not evidence of a sustained breach). A gap does not clear the
//!   declared state (it is not evidence of recovery either).
//! * **Out of order.** A sample older than the series' last sample is ignored and counted in
//!   [`DetectorStats::out_of_order`]. A sample at the *same* instant is accepted.
//! * **Thresholds** are compared with [`threshold::exceeds`](crate::threshold::exceeds) (relative
//!   tolerance `1e-9`), so exactly +50 % is never "> 50 %" whether latency is given as 2.1 s against
//!   1.4 s or as 2100 ms against 1400 ms.
//! * **Invalid samples** (an error rate outside `[0, 1]` or NaN, a negative/NaN observed latency, a
//!   baseline `<= 0`) are ignored and counted in [`DetectorStats::invalid`]; [`Detector::rejected`]
//!   also keeps the first one's position and reason (`error_rate is a ratio 0..1 (0.07 = 7 %), got 6`),
//!   so a caller can tell the user instead of silently reporting "no incident".
//! * **Implied facts.** A [`Declaration`] carries the [`ImpactFacts`] its signal implies, so
//!   [`classify`]`(&decl.facts)` gives its severity: unavailable → a partial
//!   outage (complete when any down sample of the window had `whole_service: true`); error rate →
//!   customer-facing errors (non-customer-facing when the observation says `customer_facing: false`);
//!   latency → `performance_degradation_pct` of the firing sample; integrity → data loss or corruption;
//!   security → security breach.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::classify::{Classification, ImpactFacts, OutageScope, classify};
use crate::policy::DeclarationPolicy;
pub use crate::policy::DeclarationRule;
use crate::threshold::exceeds;
use crate::{Error, Result};

/// One measurement or event about a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Health check / synthetic probe result.
    Availability {
        /// Whether the service answered.
        up: bool,
        /// The whole service is down (not just some instances or regions): implies a complete outage.
        #[serde(default)]
        whole_service: bool,
    },
    /// Error rate as a fraction in `[0, 1]` (`0.07` = 7 %).
    ErrorRate(f64),
    /// Latency against its baseline (any unit, the same for both).
    Latency {
        /// Observed latency.
        observed_ms: f64,
        /// Normal latency (> 0).
        baseline_ms: f64,
    },
    /// A data-integrity check failed.
    DataIntegrity {
        /// What failed.
        #[serde(default)]
        detail: String,
    },
    /// A security incident was reported.
    Security {
        /// What happened.
        #[serde(default)]
        detail: String,
    },
    /// The condition behind `rule` is over (e.g. its alert resolved): the series recovers.
    Resolved {
        /// Which series recovers.
        rule: DeclarationRule,
    },
}

impl Signal {
    /// The wire names of the kinds of signal, in declaration order (the key of each variant's JSON,
    /// `{"error_rate": 0.07}`; the bindings' allowed values).
    pub const KINDS: [&'static str; 6] =
        ["availability", "error_rate", "latency", "data_integrity", "security", "resolved"];

    /// The declaration rule (series) this signal feeds.
    #[must_use]
    pub const fn rule(&self) -> DeclarationRule {
        match self {
            Self::Availability { .. } => DeclarationRule::ServiceUnavailable,
            Self::ErrorRate(_) => DeclarationRule::ErrorRate,
            Self::Latency { .. } => DeclarationRule::PerformanceDegradation,
            Self::DataIntegrity { .. } => DeclarationRule::DataIntegrity,
            Self::Security { .. } => DeclarationRule::Security,
            Self::Resolved { rule } => *rule,
        }
    }

    /// Latency degradation as a fraction (`0.6` = 60 % slower than baseline); `None` for other signals.
    #[must_use]
    pub fn degradation(&self) -> Option<f64> {
        match self {
            Self::Latency { observed_ms, baseline_ms } => Some(observed_ms / baseline_ms - 1.0),
            _ => None,
        }
    }

    /// Reject values the detector cannot interpret.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the field, its range and the
    /// value (`error_rate is a ratio 0..1 (0.07 = 7 %), got 6`).
    pub fn validate(&self) -> Result<()> {
        match *self {
            Self::ErrorRate(f) if !(0.0..=1.0).contains(&f) => {
                Err(Error::invalid_input(format!("error_rate is a ratio 0..1 (0.07 = 7 %), got {f}")))
            }
            Self::Latency { observed_ms, .. } if !(observed_ms.is_finite() && observed_ms >= 0.0) => {
                Err(Error::invalid_input(format!("latency observed_ms must be finite and >= 0, got {observed_ms}")))
            }
            Self::Latency { baseline_ms, .. } if !(baseline_ms.is_finite() && baseline_ms > 0.0) => {
                Err(Error::invalid_input(format!("latency baseline_ms must be finite and > 0, got {baseline_ms}")))
            }
            _ => Ok(()),
        }
    }

    /// The impact facts this signal implies when it breaches (see the module docs). `customer_facing`
    /// picks customer-facing vs non-customer-facing errors (`None` counts as customer-facing).
    #[must_use]
    pub fn implied_facts(&self, customer_facing: Option<bool>) -> ImpactFacts {
        let mut f = ImpactFacts { customer_facing, ..ImpactFacts::default() };
        match self {
            Self::Availability { up: false, whole_service } => {
                f.outage = if *whole_service { OutageScope::Complete } else { OutageScope::Partial };
            }
            Self::ErrorRate(rate) if *rate > 0.0 => {
                if customer_facing == Some(false) {
                    f.non_customer_facing_errors = true;
                } else {
                    f.customer_facing_errors = true;
                }
            }
            Self::Latency { .. } => {
                f.performance_degradation_pct =
                    self.degradation().filter(|d| d.is_finite() && *d > 0.0).map(|d| d * 100.0);
            }
            Self::DataIntegrity { .. } => f.data_loss_or_corruption = true,
            Self::Security { .. } => f.security_breach = true,
            _ => {}
        }
        f
    }
}

/// A timestamped [`Signal`] about a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Observation {
    /// The service observed.
    pub service: String,
    /// When the sample was taken.
    pub at: DateTime<Utc>,
    /// What was observed.
    pub signal: Signal,
    /// Whether the service is customer-facing (`None`: unknown, treated as customer-facing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_facing: Option<bool>,
}

impl Observation {
    /// An observation of `signal` on `service` at `at`.
    pub fn new(service: impl Into<String>, at: DateTime<Utc>, signal: Signal) -> Self {
        Self { service: service.into(), at, signal, customer_facing: None }
    }

    /// [`Observation::new`] for a caller's input (what the bindings call).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when `service` is blank.
    pub fn try_new(service: impl Into<String>, at: DateTime<Utc>, signal: Signal) -> Result<Self> {
        let service = service.into();
        crate::text::non_blank("observation service", &service)?;
        Ok(Self::new(service, at, signal))
    }

    /// Set whether the service is customer-facing.
    #[must_use]
    pub fn customer_facing(mut self, yes: bool) -> Self {
        self.customer_facing = Some(yes);
        self
    }
}

/// A fired declaration rule: "declare an incident".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Declaration {
    /// Which runbook line fired.
    pub rule: DeclarationRule,
    /// The service.
    pub service: String,
    /// When the sustained breach began (the firing time for instant rules).
    pub window_start: DateTime<Utc>,
    /// The sample time at which the rule fired.
    pub declared_at: DateTime<Utc>,
    /// The impact the breach implies; classify it for the severity.
    pub facts: ImpactFacts,
    /// Free-text detail (data-integrity and security signals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Declaration {
    /// How long the breach had lasted when the rule fired.
    #[must_use]
    pub fn sustained_for(&self) -> TimeDelta {
        self.declared_at - self.window_start
    }

    /// Classify [`Declaration::facts`] with the runbook's rules.
    #[must_use]
    pub fn classify(&self) -> Classification {
        classify(&self.facts)
    }
}

/// Counters over everything a [`Detector`] has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DetectorStats {
    /// Samples accepted (applied to a series).
    pub samples: u64,
    /// Samples ignored for being older than their series' last sample.
    pub out_of_order: u64,
    /// Samples ignored for invalid values.
    pub invalid: u64,
    /// Windows restarted because of a gap larger than `max_sample_gap`.
    pub gaps: u64,
    /// Declarations fired.
    pub declarations: u64,
}

/// The samples a [`Detector`] refused as invalid: how many, and the first with its reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Rejected {
    /// Samples refused for invalid values (the same count as [`DetectorStats::invalid`]).
    pub count: u64,
    /// The first one refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<RejectedSample>,
}

impl Rejected {
    /// Whether nothing was refused.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// One refused sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RejectedSample {
    /// Its position among every sample fed to the detector (1-based), so a caller that knows where
    /// each sample came from can name the line.
    pub sample: u64,
    /// Its service.
    pub service: String,
    /// Why it was refused, naming the field, its range and the value.
    pub reason: String,
}

#[derive(Debug, Clone, Copy, Default)]
struct Series {
    last_at: Option<DateTime<Utc>>,
    window_start: Option<DateTime<Utc>>,
    declared: bool,
    whole_service: bool,
}

/// The streaming evaluator (see the module docs for the exact semantics).
#[derive(Debug, Clone)]
pub struct Detector {
    policy: DeclarationPolicy,
    windows: [TimeDelta; 3],
    max_gap: TimeDelta,
    /// service → index into `states`.
    index: HashMap<String, usize>,
    /// (service, per-rule series), in `DeclarationRule` order.
    states: Vec<(String, [Series; 5])>,
    stats: DetectorStats,
    /// Samples fed so far (valid or not).
    fed: u64,
    rejected: Rejected,
}

impl Detector {
    /// A detector for `policy` (validate the policy first; see [`Detector::try_new`]).
    #[must_use]
    pub fn new(policy: DeclarationPolicy) -> Self {
        Self {
            windows: [
                policy.unavailable_for.as_delta(),
                policy.error_rate_for.as_delta(),
                policy.latency_degradation_for.as_delta(),
            ],
            max_gap: policy.max_sample_gap.as_delta(),
            policy,
            index: HashMap::new(),
            states: Vec::new(),
            stats: DetectorStats::default(),
            fed: 0,
            rejected: Rejected::default(),
        }
    }

    /// Validate `policy` ([`DeclarationPolicy::validate`]), then [`Detector::new`].
    ///
    /// # Errors
    /// [`ErrorKind::Policy`](crate::ErrorKind::Policy) naming the offending field.
    pub fn try_new(policy: DeclarationPolicy) -> Result<Self> {
        policy.validate()?;
        Ok(Self::new(policy))
    }

    /// The policy in force.
    #[must_use]
    pub fn policy(&self) -> &DeclarationPolicy {
        &self.policy
    }

    /// Counters so far.
    #[must_use]
    pub fn stats(&self) -> DetectorStats {
        self.stats
    }

    /// The samples refused as invalid so far: how many, and the first with its reason and position.
    #[must_use]
    pub fn rejected(&self) -> &Rejected {
        &self.rejected
    }

    /// Number of services with state.
    #[must_use]
    pub fn service_count(&self) -> usize {
        self.states.len()
    }

    /// Drop all state of `service` (e.g. when it is decommissioned).
    pub fn forget(&mut self, service: &str) {
        if let Some(i) = self.index.remove(service) {
            self.states.swap_remove(i);
            if let Some((moved, _)) = self.states.get(i) {
                if let Some(slot) = self.index.get_mut(moved.as_str()) {
                    *slot = i;
                }
            }
        }
    }

    fn series(&self, service: &str, rule: DeclarationRule) -> Option<&Series> {
        self.index.get(service).and_then(|i| self.states.get(*i)).map(|(_, s)| &s[rule.index()])
    }

    /// Whether the (service, rule) series has fired and not yet recovered.
    #[must_use]
    pub fn is_declared(&self, service: &str, rule: DeclarationRule) -> bool {
        self.series(service, rule).is_some_and(|s| s.declared)
    }

    /// Start of the current breach window of the (service, rule) series, if it is breaching.
    #[must_use]
    pub fn window_start(&self, service: &str, rule: DeclarationRule) -> Option<DateTime<Utc>> {
        self.series(service, rule).and_then(|s| s.window_start)
    }

    /// Feed every observation in order; the declarations fired.
    pub fn observe_all<'a>(&mut self, observations: impl IntoIterator<Item = &'a Observation>) -> Vec<Declaration> {
        observations.into_iter().filter_map(|o| self.observe(o)).collect()
    }

    /// Feed one observation; `Some` when it fires a declaration.
    pub fn observe(&mut self, obs: &Observation) -> Option<Declaration> {
        self.fed += 1;
        if let Err(e) = obs.signal.validate() {
            self.stats.invalid += 1;
            self.rejected.count += 1;
            if self.rejected.first.is_none() {
                self.rejected.first = Some(RejectedSample {
                    sample: self.fed,
                    service: obs.service.clone(),
                    reason: e.message().to_owned(),
                });
            }
            return None;
        }
        let rule = obs.signal.rule();
        let breaching = breaches(&self.policy, &obs.signal);
        let idx = match self.index.get(obs.service.as_str()) {
            Some(i) => *i,
            None => {
                self.states.push((obs.service.clone(), [Series::default(); 5]));
                self.index.insert(obs.service.clone(), self.states.len() - 1);
                self.states.len() - 1
            }
        };
        let (_, all) = self.states.get_mut(idx)?;
        let s = &mut all[rule.index()];
        let at = obs.at;
        if let Some(last) = s.last_at {
            if at < last {
                self.stats.out_of_order += 1;
                return None;
            }
            if at - last > self.max_gap && s.window_start.is_some() {
                self.stats.gaps += 1;
                s.window_start = None;
                s.whole_service = false;
            }
        }
        s.last_at = Some(at);
        self.stats.samples += 1;

        let recovers = match &obs.signal {
            Signal::Resolved { .. } => true,
            Signal::DataIntegrity { .. } | Signal::Security { .. } => false,
            _ => !breaching,
        };
        if recovers {
            s.window_start = None;
            s.whole_service = false;
            s.declared = false;
            return None;
        }
        if !breaching || s.declared {
            return None;
        }
        let start = *s.window_start.get_or_insert(at);
        if let Signal::Availability { whole_service, .. } = obs.signal {
            s.whole_service |= whole_service;
        }
        let fires = match rule {
            DeclarationRule::ServiceUnavailable => at - start > self.windows[0],
            DeclarationRule::ErrorRate => at - start > self.windows[1],
            DeclarationRule::PerformanceDegradation => at - start > self.windows[2],
            DeclarationRule::DataIntegrity | DeclarationRule::Security => true,
        };
        if !fires {
            return None;
        }
        s.declared = true;
        let whole_service = s.whole_service;
        self.stats.declarations += 1;
        Some(declaration(obs, start, whole_service))
    }
}

/// Whether `signal` breaches its declaration rule under `policy` (the thresholds of the module docs; the
/// sustained window is not part of it). Data-integrity and security signals breach when the policy
/// declares on them; [`Signal::Resolved`] never does.
#[must_use]
pub fn breaches(policy: &DeclarationPolicy, signal: &Signal) -> bool {
    match signal {
        Signal::Availability { up, .. } => !up,
        Signal::ErrorRate(rate) => exceeds(*rate, policy.error_rate_threshold),
        Signal::Latency { .. } => {
            signal.degradation().is_some_and(|d| exceeds(d, policy.latency_degradation_threshold))
        }
        Signal::DataIntegrity { .. } => policy.declare_on_data_integrity,
        Signal::Security { .. } => policy.declare_on_security,
        Signal::Resolved { .. } => false,
    }
}

/// The declaration a source reports as already sustained: `obs` breaching since `window_start`, where the
/// source itself applied the sustained window (an Alertmanager alert whose Prometheus rule has `for: 5m`,
/// a CloudWatch alarm's evaluation periods, a Datadog monitor's window). `None` when the sample is
/// invalid or does not breach its rule under `policy` (e.g. an error-rate alert whose value is 3 % against
/// the 5 % threshold).
///
/// Same facts, detail and threshold as [`Detector::observe`]; only the window length is the source's.
#[must_use]
pub fn sustained(policy: &DeclarationPolicy, obs: &Observation, window_start: DateTime<Utc>) -> Option<Declaration> {
    if obs.signal.validate().is_err() || !breaches(policy, &obs.signal) {
        return None;
    }
    let whole_service = matches!(obs.signal, Signal::Availability { whole_service: true, .. });
    Some(declaration(obs, window_start.min(obs.at), whole_service))
}

/// The [`Declaration`] a breaching `obs` fires, its window having started at `start`.
fn declaration(obs: &Observation, start: DateTime<Utc>, whole_service: bool) -> Declaration {
    let signal = match obs.signal {
        Signal::Availability { up, .. } => Signal::Availability { up, whole_service },
        ref other => other.clone(),
    };
    let mut facts = signal.implied_facts(obs.customer_facing);
    facts.service = Some(obs.service.clone());
    let detail = match &obs.signal {
        Signal::DataIntegrity { detail } | Signal::Security { detail } if !detail.is_empty() => Some(detail.clone()),
        _ => None,
    };
    Declaration {
        rule: obs.signal.rule(),
        service: obs.service.clone(),
        window_start: start,
        declared_at: obs.at,
        facts,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;
    use crate::Severity;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 3, 14, 0, 0).single().expect("valid time")
    }

    fn at(secs: i64) -> DateTime<Utc> {
        t0() + TimeDelta::seconds(secs)
    }

    fn down(secs: i64) -> Observation {
        Observation::new("api", at(secs), Signal::Availability { up: false, whole_service: false })
    }

    fn up(secs: i64) -> Observation {
        Observation::new("api", at(secs), Signal::Availability { up: true, whole_service: false })
    }

    fn err(secs: i64, rate: f64) -> Observation {
        Observation::new("api", at(secs), Signal::ErrorRate(rate))
    }

    fn lat(secs: i64, observed: f64) -> Observation {
        Observation::new("api", at(secs), Signal::Latency { observed_ms: observed, baseline_ms: 100.0 })
    }

    /// Samples every minute from 0 to `last_min` minutes, then one at `final_secs`.
    fn run(mk: impl Fn(i64) -> Observation, last_min: i64, final_secs: i64) -> Vec<Declaration> {
        let mut d = Detector::new(DeclarationPolicy::default());
        let mut obs: Vec<Observation> = (0..=last_min).map(|m| mk(m * 60)).collect();
        obs.push(mk(final_secs));
        d.observe_all(&obs)
    }

    #[test]
    fn unavailable_boundaries_4_59_5_00_5_01() {
        assert!(run(down, 4, 299).is_empty(), "4:59 must not declare");
        assert!(run(down, 4, 300).is_empty(), "5:00 must not declare (strictly more than 5 min)");
        let decls = run(down, 4, 301);
        assert_eq!(decls.len(), 1, "5:01 declares");
        let d = &decls[0];
        assert_eq!(d.rule, DeclarationRule::ServiceUnavailable);
        assert_eq!((d.window_start, d.declared_at), (at(0), at(301)));
        assert_eq!(d.facts.outage, OutageScope::Partial);
        assert_eq!(d.classify().severity(), Some(Severity::P1));
        assert_eq!(d.service, "api");
        assert_eq!(d.facts.service.as_deref(), Some("api"));
    }

    #[test]
    fn error_rate_boundaries_and_threshold_is_strict() {
        assert!(run(|s| err(s, 0.08), 4, 299).is_empty());
        assert!(run(|s| err(s, 0.08), 4, 300).is_empty());
        let decls = run(|s| err(s, 0.08), 4, 301);
        assert_eq!(decls.len(), 1);
        assert!(decls[0].facts.customer_facing_errors);
        assert_eq!(decls[0].classify().severity(), Some(Severity::P1));
        assert!(run(|s| err(s, 0.05), 10, 900).is_empty(), "exactly 5 % is not > 5 %");
    }

    #[test]
    fn latency_boundaries_9_59_10_01() {
        assert!(run(|s| lat(s, 180.0), 9, 599).is_empty());
        assert!(run(|s| lat(s, 180.0), 9, 600).is_empty());
        let decls = run(|s| lat(s, 180.0), 9, 601);
        assert_eq!(decls.len(), 1);
        assert_eq!(decls[0].rule, DeclarationRule::PerformanceDegradation);
        let pct = decls[0].facts.performance_degradation_pct.expect("pct");
        assert!((pct - 80.0).abs() < 1e-9, "{pct}");
        assert_eq!(decls[0].classify().severity(), Some(Severity::P1));
        assert!(run(|s| lat(s, 150.0), 20, 1300).is_empty(), "exactly 50 % is not > 50 %");
    }

    #[test]
    fn exactly_fifty_percent_is_not_more_whatever_the_units() {
        let run_at = |observed: f64, baseline: f64| {
            let mut d = Detector::new(DeclarationPolicy::default());
            let obs: Vec<Observation> = (0..=20)
                .map(|m| {
                    Observation::new(
                        "api",
                        at(m * 60),
                        Signal::Latency { observed_ms: observed, baseline_ms: baseline },
                    )
                })
                .collect();
            d.observe_all(&obs)
        };
        assert!(run_at(2.1, 1.4).is_empty(), "2.1 vs 1.4 is exactly +50 %");
        assert!(run_at(2100.0, 1400.0).is_empty(), "2100 vs 1400 is exactly +50 %");
        let decls = run_at(2.2, 1.4);
        assert_eq!(decls.len(), 1, "2.2 vs 1.4 is +57 %");
        assert_eq!(decls[0].classify().severity(), Some(Severity::P1));
        // The implied percentage of an exactly-50 % sample classifies as P2, not P1.
        let facts = Signal::Latency { observed_ms: 2.1, baseline_ms: 1.4 }.implied_facts(None);
        assert_eq!(classify(&facts).severity(), Some(Severity::P2));
    }

    #[test]
    fn whole_service_outage_is_complete_and_p0() {
        let mut d = Detector::new(DeclarationPolicy::default());
        let mk = |s, whole| Observation::new("api", at(s), Signal::Availability { up: false, whole_service: whole });
        assert!(d.observe(&mk(0, false)).is_none());
        assert!(d.observe(&mk(120, true)).is_none());
        assert!(d.observe(&mk(240, false)).is_none());
        let decl = d.observe(&mk(360, false)).expect("declares");
        assert_eq!(decl.facts.outage, OutageScope::Complete);
        assert_eq!(decl.classify().severity(), Some(Severity::P0));
    }

    #[test]
    fn non_customer_facing_errors_are_p2() {
        let mut d = Detector::new(DeclarationPolicy::default());
        let obs: Vec<Observation> = (0..=6).map(|m| err(m * 60, 0.2).customer_facing(false)).collect();
        let decls = d.observe_all(&obs);
        assert_eq!(decls.len(), 1);
        assert!(decls[0].facts.non_customer_facing_errors);
        assert_eq!(decls[0].classify().severity(), Some(Severity::P2));
    }

    #[test]
    fn gap_restarts_the_window_at_the_later_sample() {
        let mut d = Detector::new(DeclarationPolicy::default());
        // 0..4 min every minute, then a 3-minute gap (> max_sample_gap 2m) to 7 min.
        let mut obs: Vec<Observation> = (0..=4).map(|m| down(m * 60)).collect();
        obs.push(down(7 * 60));
        assert!(d.observe_all(&obs).is_empty());
        assert_eq!(d.window_start("api", DeclarationRule::ServiceUnavailable), Some(at(420)));
        assert_eq!(d.stats().gaps, 1);
        // 7:00 + 5:00 is not enough, 7:00 + 5:01 is.
        let obs: Vec<Observation> = (8..=12).map(|m| down(m * 60)).collect();
        assert!(d.observe_all(&obs).is_empty());
        let decl = d.observe(&down(12 * 60 + 1)).expect("declares");
        assert_eq!(decl.window_start, at(420));
        // Exactly max_sample_gap apart is not a gap.
        let mut d = Detector::new(DeclarationPolicy::default());
        let obs: Vec<Observation> = [0, 120, 240, 301].into_iter().map(down).collect();
        assert_eq!(d.observe_all(&obs).len(), 1);
    }

    #[test]
    fn out_of_order_samples_are_ignored_and_counted() {
        let mut d = Detector::new(DeclarationPolicy::default());
        assert!(d.observe(&down(0)).is_none());
        assert!(d.observe(&down(120)).is_none());
        // An older "up" must not reset the window.
        assert!(d.observe(&up(60)).is_none());
        assert_eq!(d.stats().out_of_order, 1);
        assert!(d.observe(&down(240)).is_none());
        assert!(d.observe(&down(240)).is_none(), "same instant is accepted");
        assert!(d.observe(&down(301)).is_some());
        assert_eq!(d.stats().samples, 5);
        // Series are independent: an error-rate sample earlier than the availability series is fine.
        assert!(d.observe(&err(10, 0.01)).is_none());
        assert_eq!(d.stats().out_of_order, 1);
    }

    #[test]
    fn recovery_resets_the_window() {
        let mut d = Detector::new(DeclarationPolicy::default());
        let obs = [down(0), down(60), down(120), down(180), down(240), up(270), down(300), down(360)];
        assert!(d.observe_all(&obs).is_empty());
        assert_eq!(d.window_start("api", DeclarationRule::ServiceUnavailable), Some(at(300)));
        // Error rate at the threshold is a recovery too.
        let obs = [err(0, 0.5), err(120, 0.5), err(240, 0.05), err(300, 0.5), err(420, 0.5)];
        assert!(d.observe_all(&obs).is_empty());
        assert_eq!(d.window_start("api", DeclarationRule::ErrorRate), Some(at(300)));
    }

    #[test]
    fn declared_series_does_not_redeclare_until_recovered() {
        let mut d = Detector::new(DeclarationPolicy::default());
        let obs: Vec<Observation> = (0..=20).map(|m| down(m * 60)).collect();
        assert_eq!(d.observe_all(&obs).len(), 1);
        assert!(d.is_declared("api", DeclarationRule::ServiceUnavailable));
        // A gap does not clear the declared state.
        assert!(d.observe(&down(3600)).is_none());
        assert!(d.observe_all(&(61..=70).map(|m| down(m * 60)).collect::<Vec<_>>()).is_empty());
        // Recover, then a new sustained outage declares again with a fresh window.
        assert!(d.observe(&up(71 * 60)).is_none());
        assert!(!d.is_declared("api", DeclarationRule::ServiceUnavailable));
        let obs: Vec<Observation> = (72..=78).map(|m| down(m * 60)).collect();
        let decls = d.observe_all(&obs);
        assert_eq!(decls.len(), 1);
        assert_eq!(decls[0].window_start, at(72 * 60));
        assert_eq!(d.stats().declarations, 2);
    }

    #[test]
    fn integrity_and_security_declare_at_once_once() {
        let mut d = Detector::new(DeclarationPolicy::default());
        let integ = |s| Observation::new("db", at(s), Signal::DataIntegrity { detail: "checksum mismatch".into() });
        let decl = d.observe(&integ(0)).expect("declares at once");
        assert_eq!(decl.window_start, decl.declared_at);
        assert_eq!(decl.detail.as_deref(), Some("checksum mismatch"));
        assert_eq!(decl.classify().severity(), Some(Severity::P0));
        assert!(d.observe(&integ(60)).is_none(), "no re-declare while declared");
        let resolved = Observation::new("db", at(120), Signal::Resolved { rule: DeclarationRule::DataIntegrity });
        assert!(d.observe(&resolved).is_none());
        assert!(d.observe(&integ(180)).is_some(), "declares again after recovery");

        let sec = Observation::new("auth", at(0), Signal::Security { detail: String::new() });
        let decl = d.observe(&sec).expect("security");
        assert!(decl.facts.security_breach);
        assert_eq!(decl.detail, None);

        let off = DeclarationPolicy { declare_on_security: false, ..DeclarationPolicy::default() };
        assert!(Detector::new(off).observe(&sec).is_none());
    }

    #[test]
    fn invalid_samples_are_counted_not_applied() {
        let mut d = Detector::new(DeclarationPolicy::default());
        for s in [
            Signal::ErrorRate(f64::NAN),
            Signal::ErrorRate(1.5),
            Signal::ErrorRate(-0.1),
            Signal::Latency { observed_ms: 10.0, baseline_ms: 0.0 },
            Signal::Latency { observed_ms: f64::INFINITY, baseline_ms: 10.0 },
        ] {
            assert!(d.observe(&Observation::new("api", at(0), s)).is_none());
        }
        assert_eq!(d.stats().invalid, 5);
        assert_eq!(d.stats().samples, 0);
        let r = d.rejected();
        assert_eq!(r.count, 5);
        let first = r.first.as_ref().expect("first");
        assert_eq!((first.sample, first.service.as_str()), (1, "api"));
        assert_eq!(first.reason, "error_rate is a ratio 0..1 (0.07 = 7 %), got NaN");
        assert!(d.observe(&err(0, 0.01)).is_none());
        assert!(d.observe(&err(60, 6.0)).is_none());
        assert_eq!(d.rejected().count, 6);
        assert_eq!(d.rejected().first.as_ref().map(|f| f.sample), Some(1), "the first stays the first");
        let mut fresh = Detector::new(DeclarationPolicy::default());
        assert!(fresh.observe(&err(0, 0.01)).is_none());
        assert!(fresh.observe(&err(60, 6.0)).is_none());
        let f = fresh.rejected().first.clone().expect("first");
        assert_eq!((f.sample, f.reason.as_str()), (2, "error_rate is a ratio 0..1 (0.07 = 7 %), got 6"));
    }

    #[test]
    fn forget_drops_one_service_only() {
        let mut d = Detector::new(DeclarationPolicy::default());
        for svc in ["a", "b", "c"] {
            assert!(d.observe(&Observation::new(svc, at(0), Signal::ErrorRate(0.5))).is_none());
        }
        d.forget("a");
        assert_eq!(d.service_count(), 2);
        assert_eq!(d.window_start("a", DeclarationRule::ErrorRate), None);
        assert_eq!(d.window_start("c", DeclarationRule::ErrorRate), Some(at(0)));
        for t in [120, 240] {
            assert!(d.observe(&Observation::new("c", at(t), Signal::ErrorRate(0.5))).is_none());
        }
        let decl = d.observe(&Observation::new("c", at(301), Signal::ErrorRate(0.5))).expect("c still tracked");
        assert_eq!(decl.window_start, at(0));
    }

    #[test]
    fn observation_serde_shape() {
        let o = Observation::new("api", at(0), Signal::ErrorRate(0.07));
        let json = serde_json::to_value(&o).expect("serialize");
        assert_eq!(
            json,
            serde_json::json!({"service": "api", "at": "2024-05-03T14:00:00Z", "signal": {"error_rate": 0.07}})
        );
        let back: Observation = serde_json::from_value(json).expect("parse");
        assert_eq!(back, o);
    }

    proptest! {
        /// A continuous outage sampled at most `max_sample_gap` apart declares exactly once, at the
        /// first sample strictly more than 5 minutes after the first one.
        #[test]
        fn sustained_outage_declares_once_at_the_first_sample_past_the_window(
            steps in proptest::collection::vec(1i64..=120, 1..40)
        ) {
            let mut d = Detector::new(DeclarationPolicy::default());
            let mut t = 0;
            let mut times = vec![0];
            for s in steps { t += s; times.push(t); }
            let obs: Vec<Observation> = times.iter().map(|s| down(*s)).collect();
            let decls = d.observe_all(&obs);
            let expected = times.iter().find(|s| **s > 300).copied();
            prop_assert_eq!(decls.len(), usize::from(expected.is_some()));
            if let Some(e) = expected {
                prop_assert_eq!(decls[0].declared_at, at(e));
            }
        }
    }
}
