//! Guard rails evaluated while planning (as findings) and enforced again by the executor.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::action::Action;
use crate::policy::GuardRails;

/// How serious a guard-rail finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingLevel {
    /// The executor will refuse the step.
    Refused,
    /// The step targets production: the approval must confirm it.
    NeedsConfirmation,
}

/// `refused`, `needs confirmation`.
impl std::fmt::Display for FindingLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Refused => "refused",
            Self::NeedsConfirmation => "needs confirmation",
        })
    }
}

/// One guard-rail finding on a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GuardFinding {
    /// Step id.
    pub step_id: String,
    /// Level.
    pub level: FindingLevel,
    /// Rule (`allowed_contexts`, `allowed_namespaces`, `allowed_regions`, `max_replicas`,
    /// `scale_to_zero_procedures`, `production`).
    pub rule: String,
    /// Human explanation.
    pub message: String,
}

/// Evaluate the guard rails for one (resolved) action of `procedure`.
pub(crate) fn evaluate(step_id: &str, action: &Action, procedure: &str, rails: &GuardRails) -> Vec<GuardFinding> {
    let scope = action.scope();
    let mut out = Vec::new();
    let mut refuse = |rule: &str, message: String| {
        out.push(GuardFinding { step_id: step_id.into(), level: FindingLevel::Refused, rule: rule.into(), message });
    };
    if let Some(ctx) = &scope.context {
        if !rails.allowed_contexts.is_empty() && !rails.allowed_contexts.contains(ctx) {
            refuse("allowed_contexts", format!("context {ctx} is not in guard_rails.allowed_contexts"));
        }
    }
    for ns in &scope.namespaces {
        if !rails.allowed_namespaces.is_empty() && !rails.allowed_namespaces.contains(ns) {
            refuse("allowed_namespaces", format!("namespace {ns} is not in guard_rails.allowed_namespaces"));
        }
    }
    if let Some(region) = &scope.region {
        if !rails.allowed_regions.is_empty() && !rails.allowed_regions.contains(region) {
            refuse("allowed_regions", format!("region {region} is not in guard_rails.allowed_regions"));
        }
    }
    for &r in &scope.replicas {
        if r > rails.max_replicas {
            refuse("max_replicas", format!("{r} replicas exceeds guard_rails.max_replicas = {}", rails.max_replicas));
        }
    }
    if matches!(action, Action::ScaleDeployment { replicas: 0, .. })
        && !rails.scale_to_zero_procedures.iter().any(|p| p == procedure)
    {
        refuse(
            "scale_to_zero_procedures",
            format!(
                "scaling to 0 is only allowed in {}, not in {procedure}",
                rails.scale_to_zero_procedures.join(", ")
            ),
        );
    }
    if action.is_mutating() {
        let mut targets: Vec<&String> = scope.context.iter().chain(scope.namespaces.iter()).collect();
        if scope.region.is_some() {
            targets.extend(scope.names.iter());
        }
        let prod: Vec<&String> = targets
            .into_iter()
            .filter(|t| rails.production_markers.iter().any(|m| !m.is_empty() && t.contains(m.as_str())))
            .collect();
        if let Some(t) = prod.first() {
            out.push(GuardFinding {
                step_id: step_id.into(),
                level: FindingLevel::NeedsConfirmation,
                rule: "production".into(),
                message: format!("{t} is a production target"),
            });
        }
    }
    out
}
