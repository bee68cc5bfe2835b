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
mod run;

pub use cadence::cadence_status;
pub use classification::{classification, severity_line};
pub use declaration::{Declared, declared, no_declaration};
pub use run::run_report;
