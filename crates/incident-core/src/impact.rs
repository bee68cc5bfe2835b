//! What is known about an issue's impact: [`ImpactFacts`] and the [`OutageScope`].
//!
//! These are the inputs of [`classify`](crate::classify::classify) and what alert rules in the policy
//! attach to an alert, so they sit below both: `policy` and `classify` depend on this module, never the
//! other way round. Re-exported from [`classify`](crate::classify).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How much of a service is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutageScope {
    /// No outage.
    #[default]
    None,
    /// Part of the service is down (P1: "Partial service outage").
    Partial,
    /// The whole service is down (P0: "Complete service outage").
    Complete,
}

impl OutageScope {
    /// Every scope, least first.
    pub const ALL: [Self; 3] = [Self::None, Self::Partial, Self::Complete];

    /// Every scope's wire name (`none`, `partial`, `complete`): the allowed values the bindings list.
    pub const NAMES: [&'static str; 3] = ["none", "partial", "complete"];

    /// `true` for [`OutageScope::None`].
    #[must_use]
    pub const fn is_none(&self) -> bool {
        matches!(self, Self::None)
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
const fn is_false(b: &bool) -> bool {
    !*b
}

/// What is known about an issue's impact. Every field is optional (`false`/absent = not known to
/// hold); fields at their default are omitted when serialized.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ImpactFacts {
    /// Outage scope (P0 complete, P1 partial).
    #[serde(skip_serializing_if = "OutageScope::is_none")]
    pub outage: OutageScope,
    /// Data loss or corruption (P0).
    #[serde(skip_serializing_if = "is_false")]
    pub data_loss_or_corruption: bool,
    /// A security breach (P0).
    #[serde(skip_serializing_if = "is_false")]
    pub security_breach: bool,
    /// Revenue is impacted (P0).
    #[serde(skip_serializing_if = "is_false")]
    pub revenue_impact: bool,
    /// Performance degradation against baseline, in percent (`75.0` = 75 % worse); > 50 is P1, (0, 50]
    /// is P2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub performance_degradation_pct: Option<f64>,
    /// A key feature is unavailable (P1).
    #[serde(skip_serializing_if = "is_false")]
    pub key_feature_unavailable: bool,
    /// Customers see errors (P1).
    #[serde(skip_serializing_if = "is_false")]
    pub customer_facing_errors: bool,
    /// Errors not visible to customers (P2).
    #[serde(skip_serializing_if = "is_false")]
    pub non_customer_facing_errors: bool,
    /// A minor feature misbehaves (P2).
    #[serde(skip_serializing_if = "is_false")]
    pub minor_feature_issue: bool,
    /// Cosmetic issue (P3).
    #[serde(skip_serializing_if = "is_false")]
    pub cosmetic: bool,
    /// Documentation problem (P3).
    #[serde(skip_serializing_if = "is_false")]
    pub documentation: bool,
    /// Non-urgent improvement (P3).
    #[serde(skip_serializing_if = "is_false")]
    pub improvement: bool,
    /// Context: the affected service (does not affect severity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Context: whether the service is customer-facing (drives stakeholder notification, not severity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_facing: Option<bool>,
    /// Context: whether customers are affected (drives stakeholder notification, not severity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customers_affected: Option<bool>,
}

impl ImpactFacts {
    /// Reject values no rule can interpret (negative, infinite or NaN percentages).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the field.
    pub fn validate(&self) -> Result<()> {
        if let Some(p) = self.performance_degradation_pct {
            if !p.is_finite() || p < 0.0 {
                return Err(Error::invalid_input(format!(
                    "performance_degradation_pct must be a finite percentage >= 0 (got {p})"
                )));
            }
        }
        Ok(())
    }

    /// Whether any impact fact (not just context) is set.
    #[must_use]
    pub fn has_impact(&self) -> bool {
        !self.outage.is_none()
            || self.data_loss_or_corruption
            || self.security_breach
            || self.revenue_impact
            || self.performance_degradation_pct.is_some_and(|p| p > 0.0)
            || self.key_feature_unavailable
            || self.customer_facing_errors
            || self.non_customer_facing_errors
            || self.minor_feature_issue
            || self.cosmetic
            || self.documentation
            || self.improvement
    }

    /// Merge `other` into `self`, worst wins: the wider outage, the larger valid degradation, any set
    /// flag; context fields keep `self`'s value when set.
    pub fn merge(&mut self, other: &Self) {
        self.outage = self.outage.max(other.outage);
        self.data_loss_or_corruption |= other.data_loss_or_corruption;
        self.security_breach |= other.security_breach;
        self.revenue_impact |= other.revenue_impact;
        self.performance_degradation_pct = match (self.performance_degradation_pct, other.performance_degradation_pct) {
            (Some(a), Some(b)) if b.is_finite() && (!a.is_finite() || b > a) => Some(b),
            (None, b) => b,
            (a, _) => a,
        };
        self.key_feature_unavailable |= other.key_feature_unavailable;
        self.customer_facing_errors |= other.customer_facing_errors;
        self.non_customer_facing_errors |= other.non_customer_facing_errors;
        self.minor_feature_issue |= other.minor_feature_issue;
        self.cosmetic |= other.cosmetic;
        self.documentation |= other.documentation;
        self.improvement |= other.improvement;
        if self.service.is_none() {
            self.service.clone_from(&other.service);
        }
        self.customer_facing = self.customer_facing.or(other.customer_facing);
        self.customers_affected = self.customers_affected.or(other.customers_affected);
    }
}
