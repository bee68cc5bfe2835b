//! How alert payloads map onto observations and impact facts.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Label mapping for alert ingestion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct IngestPolicy {
    /// Label naming the affected service/component.
    pub service_label: String,
}

impl Default for IngestPolicy {
    fn default() -> Self {
        Self { service_label: "service".into() }
    }
}
