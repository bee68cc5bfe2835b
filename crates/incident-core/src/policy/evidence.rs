//! The `[evidence]` policy section: bounds of the evidence captured for real incidents (used by
//! [`crate::lifecycle::Incidents::preserve`] and [`crate::evidence::capture`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The `[evidence]` policy section.
///
/// ```toml
/// [evidence]
/// max_item_bytes = 1048576
/// log_lines = 200
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EvidencePolicy {
    /// Largest evidence item stored, bytes, after redaction (default 1 MiB): a larger one is refused
    /// (`InvalidInput`); the capture cuts logs to fit.
    pub max_item_bytes: u64,
    /// Log lines kept per deployment of an incident's components in a capture's `logs.txt` (default 200,
    /// the newest).
    pub log_lines: u32,
}

impl Default for EvidencePolicy {
    fn default() -> Self {
        Self { max_item_bytes: 1024 * 1024, log_lines: 200 }
    }
}
