//! `Detector`: streaming "when to declare" rules over observations, with sustained windows.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use incident_core::Result as CoreResult;
use incident_core::detector::{self as core, DeclarationRule};
use napi::Env;
use napi_derive::napi;

use crate::classify::{Classification, ImpactFacts};
use crate::error::{OrThrow, enum_str, parse_enum};
use crate::policy::Policy;

/// A line of the runbook's "When to Declare an Incident".
#[napi(string_enum, js_name = "DeclarationRule")]
pub enum DeclarationRuleName {
    /// Service unavailable for >5 minutes.
    #[napi(value = "service_unavailable")]
    ServiceUnavailable,
    /// Error rate >5% for >5 minutes.
    #[napi(value = "error_rate")]
    ErrorRate,
    /// Performance degradation >50% for >10 minutes.
    #[napi(value = "performance_degradation")]
    PerformanceDegradation,
    /// Data integrity concerns.
    #[napi(value = "data_integrity")]
    DataIntegrity,
    /// Security incidents.
    #[napi(value = "security")]
    Security,
}

/// The kind of a [`Signal`].
#[napi(string_enum)]
pub enum SignalKind {
    /// Health check result (`up`, `wholeService`).
    #[napi(value = "availability")]
    Availability,
    /// Error rate as a fraction in [0, 1] (`errorRate`).
    #[napi(value = "error_rate")]
    ErrorRate,
    /// Latency against its baseline (`observedMs`, `baselineMs`).
    #[napi(value = "latency")]
    Latency,
    /// A data-integrity check failed (`detail`).
    #[napi(value = "data_integrity")]
    DataIntegrity,
    /// A security incident was reported (`detail`).
    #[napi(value = "security")]
    Security,
    /// The condition behind `rule` is over.
    #[napi(value = "resolved")]
    Resolved,
}

const RULES: &[&str] = &incident_core::policy::DeclarationRule::NAMES;

/// Parse a declaration rule name.
pub(crate) fn rule(s: &str) -> CoreResult<DeclarationRule> {
    parse_enum("declaration rule", s, RULES)
}

/// One measurement or event about a service; `kind` says which of the other fields apply.
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct Signal {
    /// Which signal.
    #[napi(ts_type = "SignalKind")]
    pub kind: String,
    /// `availability`: whether the service answered.
    pub up: Option<bool>,
    /// `availability`: the whole service is down, not just some instances.
    pub whole_service: Option<bool>,
    /// `error_rate`: fraction in [0, 1] (`0.07` = 7 %).
    pub error_rate: Option<f64>,
    /// `latency`: observed latency.
    pub observed_ms: Option<f64>,
    /// `latency`: normal latency (> 0).
    pub baseline_ms: Option<f64>,
    /// `data_integrity` / `security`: what happened.
    pub detail: Option<String>,
    /// `resolved`: which series recovers.
    #[napi(ts_type = "DeclarationRule")]
    pub rule: Option<String>,
}

fn need<T>(v: Option<T>, kind: &str, field: &str) -> CoreResult<T> {
    v.ok_or_else(|| incident_core::Error::invalid_input(format!("signal of kind {kind:?} needs `{field}`")))
}

impl Signal {
    /// To the core type.
    pub(crate) fn to_core(&self) -> CoreResult<core::Signal> {
        let k = self.kind.as_str();
        let signal = match k {
            "availability" => core::Signal::Availability {
                up: need(self.up, k, "up")?,
                whole_service: self.whole_service.unwrap_or(false),
            },
            "error_rate" => core::Signal::ErrorRate(need(self.error_rate, k, "errorRate")?),
            "latency" => core::Signal::Latency {
                observed_ms: need(self.observed_ms, k, "observedMs")?,
                baseline_ms: need(self.baseline_ms, k, "baselineMs")?,
            },
            "data_integrity" => core::Signal::DataIntegrity { detail: self.detail.clone().unwrap_or_default() },
            "security" => core::Signal::Security { detail: self.detail.clone().unwrap_or_default() },
            "resolved" => core::Signal::Resolved { rule: rule(&need(self.rule.clone(), k, "rule")?)? },
            other => {
                return Err(incident_core::Error::invalid_input(format!(
                    "signal kind {other:?} is not one of {}",
                    core::Signal::KINDS.join(", ")
                )));
            }
        };
        // A signal a caller built is checked by core, as Python's `Signal` constructors are (the detector
        // only counts invalid samples of a stream).
        signal.validate()?;
        Ok(signal)
    }

    /// From the core type.
    pub(crate) fn from_core(s: &core::Signal) -> Self {
        match s {
            core::Signal::Availability { up, whole_service } => Self {
                kind: "availability".into(),
                up: Some(*up),
                whole_service: Some(*whole_service),
                ..Self::default()
            },
            core::Signal::ErrorRate(r) => Self { kind: "error_rate".into(), error_rate: Some(*r), ..Self::default() },
            core::Signal::Latency { observed_ms, baseline_ms } => Self {
                kind: "latency".into(),
                observed_ms: Some(*observed_ms),
                baseline_ms: Some(*baseline_ms),
                ..Self::default()
            },
            core::Signal::DataIntegrity { detail } => {
                Self { kind: "data_integrity".into(), detail: Some(detail.clone()), ..Self::default() }
            }
            core::Signal::Security { detail } => {
                Self { kind: "security".into(), detail: Some(detail.clone()), ..Self::default() }
            }
            core::Signal::Resolved { rule } => {
                Self { kind: "resolved".into(), rule: Some(rule.as_str().to_owned()), ..Self::default() }
            }
            // `Signal` may grow: keep its wire name.
            #[allow(unreachable_patterns)]
            other => Self { kind: enum_str(other), ..Self::default() },
        }
    }
}

/// One observation of a service at an instant.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct Observation {
    /// The service.
    pub service: String,
    /// When (UTC).
    pub at: DateTime<Utc>,
    /// What was measured.
    pub signal: Signal,
    /// Whether the service is customer-facing (feeds the implied facts).
    pub customer_facing: Option<bool>,
}

impl Observation {
    /// To the core type.
    pub(crate) fn to_core(&self) -> CoreResult<core::Observation> {
        let mut o = core::Observation::try_new(self.service.clone(), self.at, self.signal.to_core()?)?;
        o.customer_facing = self.customer_facing;
        Ok(o)
    }

    /// From the core type.
    pub(crate) fn from_core(o: &core::Observation) -> Self {
        Self {
            service: o.service.clone(),
            at: o.at,
            signal: Signal::from_core(&o.signal),
            customer_facing: o.customer_facing,
        }
    }
}

/// A rule held long enough: declare an incident.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct Declaration {
    /// The rule that fired.
    #[napi(ts_type = "DeclarationRule")]
    pub rule: String,
    /// The service.
    pub service: String,
    /// When the condition started.
    pub window_start: DateTime<Utc>,
    /// When it had held long enough.
    pub declared_at: DateTime<Utc>,
    /// How long it held, in seconds.
    pub sustained_for_seconds: f64,
    /// The impact facts the rule implies.
    pub facts: ImpactFacts,
    /// The severity those facts classify to.
    pub classification: Classification,
    /// Extra detail (e.g. the data-integrity finding).
    pub detail: Option<String>,
}

impl Declaration {
    /// From the core type.
    pub(crate) fn from_core(d: &core::Declaration) -> Self {
        #[allow(clippy::cast_precision_loss)] // seconds of an incident window fit an f64 exactly
        let secs = d.sustained_for().num_seconds() as f64;
        Self {
            rule: d.rule.as_str().to_owned(),
            service: d.service.clone(),
            window_start: d.window_start,
            declared_at: d.declared_at,
            sustained_for_seconds: secs,
            facts: ImpactFacts::from_core(&d.facts),
            classification: Classification::from_core(&d.classify()),
            detail: d.detail.clone(),
        }
    }
}

/// Counters over everything a detector has seen.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct DetectorStats {
    /// Samples accepted.
    pub samples: i64,
    /// Samples ignored for being older than their series' last sample.
    pub out_of_order: i64,
    /// Samples ignored for invalid values.
    pub invalid: i64,
    /// Windows restarted because of a gap larger than `maxSampleGap`.
    pub gaps: i64,
    /// Declarations fired.
    pub declarations: i64,
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The streaming detector: feed observations in time order per service; it returns a declaration the
/// moment a rule has held for its window (each rule fires once per episode).
#[napi]
pub struct Detector {
    inner: Mutex<core::Detector>,
}

#[napi]
impl Detector {
    /// A detector with the policy's declaration thresholds (the runbook's when absent).
    #[napi(constructor, strict, catch_unwind)]
    pub fn new(env: Env, policy: Option<&Policy>) -> napi::Result<Self> {
        let p = policy.map_or_else(Default::default, |p| p.inner.declaration.clone());
        Ok(Self { inner: Mutex::new(core::Detector::try_new(p).or_throw(&env)?) })
    }

    fn with<T>(&self, f: impl FnOnce(&mut core::Detector) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Feed one observation; a declaration when a rule fires now. Throws `invalid_input` for a malformed
    /// signal.
    #[napi(strict, catch_unwind)]
    pub fn observe(&self, env: Env, observation: Observation) -> napi::Result<Option<Declaration>> {
        let obs = observation.to_core().or_throw(&env)?;
        Ok(self.with(|d| d.observe(&obs)).as_ref().map(Declaration::from_core))
    }

    /// Feed many observations in order; every declaration that fired.
    #[napi(strict, catch_unwind)]
    pub fn observe_all(&self, env: Env, observations: Vec<Observation>) -> napi::Result<Vec<Declaration>> {
        let obs = observations.iter().map(Observation::to_core).collect::<CoreResult<Vec<_>>>().or_throw(&env)?;
        Ok(self.with(|d| d.observe_all(&obs)).iter().map(Declaration::from_core).collect())
    }

    /// Counters.
    #[napi(strict, catch_unwind)]
    pub fn stats(&self) -> DetectorStats {
        let s = self.with(|d| d.stats());
        DetectorStats {
            samples: i(s.samples),
            out_of_order: i(s.out_of_order),
            invalid: i(s.invalid),
            gaps: i(s.gaps),
            declarations: i(s.declarations),
        }
    }

    /// Number of services the detector holds state for.
    #[napi(getter, catch_unwind)]
    pub fn service_count(&self) -> u32 {
        u32::try_from(self.with(|d| d.service_count())).unwrap_or(u32::MAX)
    }

    /// Whether `rule` has fired for `service` in its current episode.
    #[napi(strict, catch_unwind, ts_args_type = "service: string, rule: DeclarationRule")]
    pub fn is_declared(&self, env: Env, service: String, rule_name: String) -> napi::Result<bool> {
        let r = rule(&rule_name).or_throw(&env)?;
        Ok(self.with(|d| d.is_declared(&service, r)))
    }

    /// When `rule`'s current window for `service` started, if it is open.
    #[napi(strict, catch_unwind, ts_args_type = "service: string, rule: DeclarationRule")]
    pub fn window_start(&self, env: Env, service: String, rule_name: String) -> napi::Result<Option<DateTime<Utc>>> {
        let r = rule(&rule_name).or_throw(&env)?;
        Ok(self.with(|d| d.window_start(&service, r)))
    }

    /// Forget everything about `service`.
    #[napi(strict, catch_unwind)]
    pub fn forget(&self, service: String) {
        self.with(|d| d.forget(&service));
    }
}
