//! Text renderers: the text the `incident` command prints for core values, here so that every front end
//! (the CLI, the Python and Node bindings) prints the same words for the same value.
//!
//! Each function turns values the library computed into the lines a person reads, with the runbook's
//! words, never Rust names (`crates/incident-cli/tests/text_output.rs` snapshots them). Renderers of a
//! single value whose text is the value's own (a [`Plan`](crate::engine::Plan)'s `Display`, a triage
//! report's `render`, a post-mortem's `to_markdown`) live next to their type; the ones here combine values
//! with the policy or with each other.
//!
//! This module sits on top of the layers (`tests/layering.rs`): it reads the modules it renders, and no
//! module imports it.

mod cadence;
mod classification;
mod declaration;
#[cfg(feature = "sim")]
mod drill;
mod ingest;
mod lifecycle;
mod procedures;
mod run;
mod schedule;

pub use cadence::cadence_status;
pub use classification::{classification, severity_line};
pub use declaration::{Declared, declared, no_declaration};
#[cfg(feature = "sim")]
pub use drill::{drill_event, drill_offset};
pub use ingest::{alert_batch, group_decision};
pub use lifecycle::{change, incident_list, incident_view, update_attempts};
pub use procedures::procedure_list;
pub use run::run_report;
pub use schedule::drill_schedule;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;
    use crate::classify::{Classifier, ImpactFacts};
    use crate::comms::CadenceStatus;

    #[test]
    fn insufficient_facts_say_what_to_state() {
        let policy = Policy::default();
        let c = Classifier::from_policy(&policy).try_classify(&ImpactFacts::default()).expect("classify");
        assert!(classification(&policy, &c).starts_with("insufficient facts: no runbook severity rule matched"));
    }

    #[test]
    fn no_cadence_is_none() {
        let s = CadenceStatus { next_internal_due: None, next_status_page_due: None, overdue: vec![] };
        assert_eq!(cadence_status(&s), "next internal update: none\nnext status-page update: none");
    }

    #[test]
    #[cfg(feature = "sim")]
    fn drill_offsets_are_hours_minutes_seconds_from_zero() {
        assert_eq!(drill_offset(3723), "+01:02:03");
        assert_eq!(drill_offset(-5), "+00:00:00");
    }
}
