//! Guard rails the executor enforces (not the caller's good manners).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::HumanDuration;

/// Limits on what procedures may touch. Empty allow-lists mean "any".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct GuardRails {
    /// Kubernetes contexts procedures may act on (empty = any).
    pub allowed_contexts: Vec<String>,
    /// Namespaces procedures may act on (empty = any).
    pub allowed_namespaces: Vec<String>,
    /// AWS regions procedures may act on (empty = any).
    pub allowed_regions: Vec<String>,
    /// Largest replica count a scale step may set.
    pub max_replicas: u32,
    /// Procedures in which scaling a deployment to zero is allowed.
    pub scale_to_zero_procedures: Vec<String>,
    /// Substrings marking a context, namespace or DB identifier as production.
    pub production_markers: Vec<String>,
    /// Production targets need an explicit confirmation on the approval.
    pub confirm_production: bool,
    /// A plan older than this must be re-planned before execution.
    pub max_plan_age: HumanDuration,
    /// How far in the future a plan's `created_at` may be (clock skew between the planning and the
    /// running machine); a plan dated later is refused.
    pub max_clock_skew: HumanDuration,
}

impl Default for GuardRails {
    fn default() -> Self {
        Self {
            allowed_contexts: Vec::new(),
            allowed_namespaces: Vec::new(),
            allowed_regions: Vec::new(),
            max_replicas: 50,
            scale_to_zero_procedures: vec!["database-corruption".into()],
            production_markers: vec!["prod".into()],
            confirm_production: true,
            max_plan_age: HumanDuration::from_mins(15),
            max_clock_skew: HumanDuration::from_mins(2),
        }
    }
}
