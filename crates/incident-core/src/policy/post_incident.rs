//! The `[post_incident]` policy section: the deadline of the runbook's post-incident activities and the
//! post-mortem meeting slot (used by [`crate::postincident`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::LocalTime;
use crate::HumanDuration;

/// The `[post_incident]` policy section (see [`crate::postincident`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PostIncidentPolicy {
    /// How long after resolution every post-incident task is due (the runbook: 24 hours).
    pub within: HumanDuration,
    /// Local start of the post-mortem meeting (`business_hours.timezone`), `HH:MM`.
    #[schemars(with = "String")]
    pub meeting_at: LocalTime,
    /// Length of the post-mortem meeting.
    pub meeting_length: HumanDuration,
    /// Link to the incident's timeline for the invite and the ticket; `{id}` is replaced by the incident
    /// id. None: the invite names the `incident show ID` command.
    pub timeline_url: Option<String>,
}

impl Default for PostIncidentPolicy {
    fn default() -> Self {
        Self {
            within: HumanDuration::from_hours(24),
            meeting_at: LocalTime::hm(10, 0),
            meeting_length: HumanDuration::from_hours(1),
            timeline_url: None,
        }
    }
}

impl PostIncidentPolicy {
    /// Where the timeline of incident `id` is: the policy's URL, else the CLI command that shows it.
    #[must_use]
    pub fn timeline_link(&self, id: &str) -> String {
        self.timeline_url.as_ref().map_or_else(|| format!("incident show {id}"), |u| u.replace("{id}", id))
    }
}
