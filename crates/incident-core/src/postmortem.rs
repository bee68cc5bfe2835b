//! The post-mortem document (runbook section 6 "Post-Mortem Process"): timeline reconstruction, metrics,
//! root cause analysis, impact assessment, action items and process improvements.
//!
//! [`PostMortem::build`] assembles the facts from the [`Incident`] and its [`Timeline`] plus what humans
//! supply in [`PostMortemInput`]; [`PostMortem::to_markdown`] renders it. Every human field that is
//! still missing renders as an explicit `_TBD_` placeholder so gaps are visible in review. The document
//! names the timeline's event count and head hash, binding it to the exact chain it was built from.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::comms::format_utc;
use crate::incident::Incident;
use crate::timeline::{Metrics, Timeline};
use crate::{HumanDuration, Severity, Status};

/// The placeholder for a missing human-supplied field.
pub const TBD: &str = "_TBD_";

/// One follow-up task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ActionItem {
    /// What to do.
    pub description: String,
    /// Who owns it (blank: `_TBD_`).
    #[serde(default)]
    pub owner: String,
    /// By when.
    #[serde(default)]
    pub due: Option<NaiveDate>,
}

/// What the post-mortem meeting contributes. Anything left `None`/blank/empty renders `_TBD_`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct PostMortemInput {
    /// Root cause analysis; falls back to the incident's `root_cause`.
    pub root_cause: Option<String>,
    /// Impact assessment; falls back to the incident's `impact`.
    pub impact: Option<String>,
    /// Contributing factors.
    pub contributing_factors: Vec<String>,
    /// Action items.
    pub action_items: Vec<ActionItem>,
    /// Process improvements.
    pub process_improvements: Vec<String>,
}

/// One reconstructed timeline line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TimelineEntry {
    /// Event number.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// What, in one line.
    pub text: String,
}

/// A post-mortem document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PostMortem {
    /// Incident id.
    pub incident_id: String,
    /// Incident title.
    pub title: String,
    /// Final severity.
    pub severity: Severity,
    /// Status when the document was built.
    pub status: Status,
    /// Incident commander (last one).
    pub commander: String,
    /// Affected services.
    pub components: Vec<String>,
    /// Incident channel.
    pub channel: String,
    /// When the issue began.
    pub started_at: Option<DateTime<Utc>>,
    /// When it was detected.
    pub detected_at: DateTime<Utc>,
    /// When it was declared.
    pub declared_at: DateTime<Utc>,
    /// When it was acknowledged.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When impact stopped.
    pub mitigated_at: Option<DateTime<Utc>>,
    /// When it was resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Impact assessment.
    pub impact: Option<String>,
    /// Root cause analysis.
    pub root_cause: Option<String>,
    /// What fixed it.
    pub resolution: Option<String>,
    /// Contributing factors.
    pub contributing_factors: Vec<String>,
    /// Reconstructed timeline, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// MTTD/MTTA/MTTM/MTTR.
    pub metrics: Metrics,
    /// Action items.
    pub action_items: Vec<ActionItem>,
    /// Process improvements.
    pub process_improvements: Vec<String>,
    /// Number of timeline events the document was built from.
    pub timeline_events: usize,
    /// Head hash of that timeline.
    pub timeline_head_hash: String,
}

fn present(text: Option<&str>) -> Option<String> {
    text.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn or_tbd(text: Option<&str>) -> &str {
    text.unwrap_or(TBD)
}

fn when(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| TBD.to_owned(), format_utc)
}

fn metric(d: Option<HumanDuration>) -> String {
    d.map_or_else(|| TBD.to_owned(), |d| d.to_string())
}

impl PostMortem {
    /// Assemble the document. Metrics come from the incident's milestones (see
    /// [`Incident::metrics`]); the timeline section lists every event.
    #[must_use]
    pub fn build(incident: &Incident, timeline: &Timeline, input: PostMortemInput) -> Self {
        let nonblank = |v: Vec<String>| -> Vec<String> {
            v.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
        };
        Self {
            incident_id: incident.id.clone(),
            title: incident.title.clone(),
            severity: incident.severity,
            status: incident.status,
            commander: incident.commander.clone(),
            components: incident.components.clone(),
            channel: incident.channel.clone(),
            started_at: incident.started_at,
            detected_at: incident.detected_at,
            declared_at: incident.declared_at,
            acknowledged_at: incident.acknowledged_at,
            mitigated_at: incident.mitigated_at,
            resolved_at: incident.resolved_at,
            impact: present(input.impact.as_deref()).or_else(|| present(Some(&incident.impact))),
            root_cause: present(input.root_cause.as_deref()).or_else(|| present(incident.root_cause.as_deref())),
            resolution: present(incident.resolution.as_deref()),
            contributing_factors: nonblank(input.contributing_factors),
            timeline: timeline
                .events()
                .iter()
                .map(|e| TimelineEntry { seq: e.seq, at: e.at, actor: e.actor.clone(), text: e.kind.describe() })
                .collect(),
            metrics: incident.metrics(),
            action_items: input.action_items.into_iter().filter(|a| !a.description.trim().is_empty()).collect(),
            process_improvements: nonblank(input.process_improvements),
            timeline_events: timeline.len(),
            timeline_head_hash: timeline.head_hash().to_owned(),
        }
    }

    /// Render as Markdown: Summary, Impact, Timeline, Metrics, Root Cause Analysis, Action Items,
    /// Process Improvements, and the timeline integrity footer.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# Post-Mortem: {} [{}] {}", self.incident_id, self.severity, self.title);
        let _ = writeln!(s);
        let _ = writeln!(s, "## Summary");
        let _ = writeln!(s);
        let components = if self.components.is_empty() { "(none)".to_owned() } else { self.components.join(", ") };
        for (k, v) in [
            ("Incident", self.incident_id.clone()),
            ("Severity", format!("{} ({})", self.severity, self.severity.label())),
            ("Status", self.status.to_string()),
            ("Incident Commander", self.commander.clone()),
            ("Components", components),
            ("Channel", self.channel.clone()),
            ("Started", when(self.started_at)),
            ("Detected", format_utc(self.detected_at)),
            ("Declared", format_utc(self.declared_at)),
            ("Acknowledged", when(self.acknowledged_at)),
            ("Mitigated", when(self.mitigated_at)),
            ("Resolved", when(self.resolved_at)),
            ("Resolution", or_tbd(self.resolution.as_deref()).to_owned()),
        ] {
            let _ = writeln!(s, "- **{k}:** {v}");
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "## Impact");
        let _ = writeln!(s);
        let _ = writeln!(s, "{}", or_tbd(self.impact.as_deref()));
        let _ = writeln!(s);
        let _ = writeln!(s, "## Timeline");
        let _ = writeln!(s);
        if self.timeline.is_empty() {
            let _ = writeln!(s, "{TBD}");
        }
        for e in &self.timeline {
            let _ = writeln!(s, "- {} ({}) {}", format_utc(e.at), e.actor, e.text);
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "## Metrics");
        let _ = writeln!(s);
        let _ = writeln!(s, "| Metric | Definition | Value |");
        let _ = writeln!(s, "|---|---|---|");
        for (name, def, v) in [
            ("MTTD", "detected - started", self.metrics.mttd),
            ("MTTA", "acknowledged - detected", self.metrics.mtta),
            ("MTTM", "mitigated - detected", self.metrics.mttm),
            ("MTTR", "resolved - detected", self.metrics.mttr),
        ] {
            let _ = writeln!(s, "| {name} | {def} | {} |", metric(v));
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "## Root Cause Analysis");
        let _ = writeln!(s);
        let _ = writeln!(s, "{}", or_tbd(self.root_cause.as_deref()));
        let _ = writeln!(s);
        let _ = writeln!(s, "### Contributing Factors");
        let _ = writeln!(s);
        bullets(&mut s, &self.contributing_factors);
        let _ = writeln!(s);
        let _ = writeln!(s, "## Action Items");
        let _ = writeln!(s);
        if self.action_items.is_empty() {
            let _ = writeln!(s, "{TBD}");
        } else {
            let _ = writeln!(s, "| # | Action | Owner | Due |");
            let _ = writeln!(s, "|---|---|---|---|");
            for (i, a) in self.action_items.iter().enumerate() {
                let owner = if a.owner.trim().is_empty() { TBD } else { a.owner.trim() };
                let due = a.due.map_or_else(|| TBD.to_owned(), |d| d.format("%Y-%m-%d").to_string());
                let _ = writeln!(s, "| {} | {} | {owner} | {due} |", i + 1, cell(a.description.trim()));
            }
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "## Process Improvements");
        let _ = writeln!(s);
        bullets(&mut s, &self.process_improvements);
        let _ = writeln!(s);
        let _ = writeln!(s, "---");
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "Timeline integrity: {} events, head hash `{}`.",
            self.timeline_events, self.timeline_head_hash
        );
        s
    }
}

fn bullets(s: &mut String, items: &[String]) {
    if items.is_empty() {
        let _ = writeln!(s, "{TBD}");
    }
    for item in items {
        let _ = writeln!(s, "- {item}");
    }
}

/// Keep a table cell on one line and its pipes literal.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::tests::{at, declared};
    use crate::timeline::{EventKind, Outcome};

    fn resolved_incident() -> (Incident, Timeline) {
        let (mut inc, mut tl) = declared(Severity::P1);
        inc.acknowledge(at(14, 7), "alice", &mut tl).expect("ack");
        tl.append(
            at(14, 12),
            "incident-bot",
            EventKind::MessageSent {
                channel: "status-page".into(),
                kind: "status_page_update".into(),
                outcome: Outcome::Succeeded,
                detail: String::new(),
            },
        )
        .expect("append");
        inc.transition(Status::Identified, at(14, 20), "alice", &mut tl).expect("identified");
        tl.append(
            at(14, 25),
            "alice",
            EventKind::ActionExecuted {
                run_id: "run-1".into(),
                step_id: "rollback".into(),
                summary: "kubectl rollout undo deployment/ml-inference-api".into(),
                outcome: Outcome::Succeeded,
                detail: String::new(),
            },
        )
        .expect("append");
        inc.mark_mitigated(at(14, 30), "alice", &mut tl).expect("mitigated");
        inc.transition(Status::Monitoring, at(14, 30), "alice", &mut tl).expect("monitoring");
        inc.set_resolution("Rolled back ml-inference-api to v2.3.0").expect("resolution");
        inc.resolve(at(15, 0), "alice", &mut tl).expect("resolve");
        (inc, tl)
    }

    #[test]
    fn full_post_mortem_snapshot() {
        let (mut inc, tl) = resolved_incident();
        inc.set_root_cause("v2.3.1 halved the DB connection pool size").expect("rc");
        let input = PostMortemInput {
            root_cause: None,
            impact: Some("30% of prediction requests failed for 40 minutes".into()),
            contributing_factors: vec!["No canary for config changes".into(), " ".into()],
            action_items: vec![
                ActionItem {
                    description: "Alert on pool saturation".into(),
                    owner: "bob".into(),
                    due: NaiveDate::from_ymd_opt(2026, 12, 10),
                },
                ActionItem { description: "Canary | config changes".into(), owner: String::new(), due: None },
            ],
            process_improvements: vec!["Post the status page update from the bot".into()],
        };
        let pm = PostMortem::build(&inc, &tl, input);
        assert_eq!(pm.root_cause.as_deref(), Some("v2.3.1 halved the DB connection pool size"));
        assert_eq!(pm.contributing_factors.len(), 1);
        assert_eq!(pm.timeline.len(), tl.len());
        assert_eq!(pm.timeline_head_hash, tl.head_hash());
        insta::assert_snapshot!(pm.to_markdown());
        let json = serde_json::to_string(&pm).expect("serialize");
        assert_eq!(serde_json::from_str::<PostMortem>(&json).expect("deserialize"), pm);
    }

    #[test]
    fn missing_fields_render_tbd() {
        let (mut inc, tl) = declared(Severity::P2);
        inc.started_at = None;
        inc.impact.clear();
        let pm = PostMortem::build(&inc, &tl, PostMortemInput::default());
        let md = pm.to_markdown();
        for section in [
            "## Impact\n\n_TBD_\n",
            "## Root Cause Analysis\n\n_TBD_\n",
            "### Contributing Factors\n\n_TBD_\n",
            "## Action Items\n\n_TBD_\n",
            "## Process Improvements\n\n_TBD_\n",
            "- **Started:** _TBD_\n",
            "- **Resolution:** _TBD_\n",
            "| MTTD | detected - started | _TBD_ |",
            "| MTTR | resolved - detected | _TBD_ |",
        ] {
            assert!(md.contains(section), "missing {section:?} in\n{md}");
        }
        insta::assert_snapshot!(md);
    }
}
