#![doc = include_str!("../README.md")]
//!
//! # incident-core
//!
//! The ML platform's incident-response runbook as a typed, executable library.
//!
//! * [`policy`]: the runbook as data ([`Policy::default()`] *is* the runbook; files override it).
//! * [`classify`]: impact facts → [`Severity`] with the rules that fired.
//! * [`detector`]: streaming declaration rules with sustained windows.
//! * [`ingest`]: Alertmanager v4 and PagerDuty Events v2 payloads → observations and facts.
//! * [`declare`]: the one declaration path every incident takes (CLI, receiver, drills).
//! * [`incident`], [`comms`], [`timeline`], [`postmortem`]: the lifecycle.
//! * [`lifecycle`]: working a live incident from the store (list, show, ack, assign, severity, status,
//!   note, mitigated, resolve, post-mortem), safe beside the receiver's writes.
//! * [`drills`]: runbook "Testing and Validation": the monthly drill [`schedule`](drills::schedule) and the
//!   validation [`checklist`](drills::checklist).
//! * [`backend`]: the ports procedures act through (cluster, databases, DNS, probes, notifier, clock).
//! * [`delivery`], [`cadence`]: notifications recorded on the timeline, and the driver that keeps
//!   updates on the runbook's cadence (providers live in `incident-notify`).
//! * [`engine`]: typed actions, procedures, plans, the executor and its durable journal.
//! * [`matching`]: which runbook procedure fits an incident (rules in `policy.matching`), with its
//!   parameters and an explanation; "no rule matched" is an answer.
//! * [`redact`]: the one set of rules that keep secrets out of messages (every crate and both bindings).
//! * [`signing`]: Ed25519 signatures for plans and evidence manifests.
//! * [`preserve`]: evidence items into the store (redacted, bounded, hashed into the timeline).
//! * [`evidence`]: evidence bundles (a drill's output directory, or a real incident's collected from the
//!   store), the evidence capture and driver of real incidents, and what verifying a bundle proves; the
//!   bundle's store is read through [`store::ArchiveStore`] (`incident_store::SqliteStore`).
//! * [`render`]: the text the `incident` command prints (classification, declaration, cadence, runs), for
//!   every front end.
//! * [`sim`] (feature `sim`): an in-memory ML platform with a virtual clock and fault injection.
//! * [`drill_run`] (feature `sim`): one drill run, a whole incident end to end on the simulator (what
//!   `incident drill` runs). It was `drill`, beside `drills`; `incident_core::drill` still resolves to it.
//!
//! ## The runbook, section by section
//!
//! Every section of the runbook (`runbook.md`) has one name, used for its module, procedure, scenario and
//! CLI command alike.
//!
//! | Runbook section | Module | CLI command |
//! |---|---|---|
//! | Incident Severity Classification | [`classify`] (the P0–P3 criteria), [`Severity`], `policy.severities` (response time, escalation); the Escalation and Response Time lines enforced: [`escalation`] (paging, deadlines, the escalation chain; business hours in [`policy::calendar`]) | `incident classify`, `incident escalation`, `incident serve` |
//! | 1. Incident Detection and Alerting | [`ingest`] (Alertmanager, PagerDuty, Grafana, CloudWatch via SNS, Datadog), [`alert`]; "Initial Assessment": [`triage`] | `incident ingest`, `incident serve`, `incident triage` |
//! | 2. Incident Declaration | [`detector`] (when to declare), [`declare`] (the one declaration path: detector, alert group, report or drill → severity decided once → incident), [`incident`] (channel, stakeholders, ticket) | `incident declare`, `incident serve`, `incident drill` |
//! | 3. Incident Response | [`triage`] (investigation); [`engine`] and its [`library`](engine::library): `traffic-management`, `application-rollback`, `database-recovery`; [`lifecycle`] (working the stored incident: acknowledge, roles, severity, status, notes); which procedure fits: [`matching`] (`policy.matching`) | `incident triage`, `incident match`, `incident procedure`, `incident plan`, `incident run`, `incident resume`, `incident list`, `incident show`, `incident ack`, `incident assign`, `incident severity`, `incident status`, `incident note` |
//! | 4. Communication During Incident | [`comms`] (templates, cadence), [`cadence`], [`delivery`] | `incident comms render initial\|update`, `incident comms cadence`, `incident update` |
//! | 5. Resolution and Recovery | [`incident`] (resolve), [`lifecycle`] (mitigated, resolve and the final message), [`comms::resolved_message`], verification [`engine::Check`]s | `incident comms render resolved`, `incident mitigated`, `incident resolve` |
//! | 6. Post-Incident Activities | [`postincident`] (the ticket, the post-mortem invite, tasks due within 24 h), [`postmortem`] (from the store: [`lifecycle::Incidents::postmortem`]), [`timeline`], [`evidence`], [`preserve`] | `incident postmortem ID\|DIR [--record]`, `incident evidence capture\|collect\|verify` |
//! | Complete Region Failure | [`engine::library::RegionFailure`] (`engine/library/region_failure.rs`), procedure and scenario `region-failure` | `incident procedure show region-failure`, `incident plan region-failure`, `incident drill region-failure` |
//! | Database Corruption | [`engine::library::DatabaseCorruption`] (`engine/library/database_corruption.rs`), procedure and scenario `database-corruption` | `incident procedure show database-corruption`, `incident plan database-corruption`, `incident drill database-corruption` |
//! | Emergency Contacts | [`policy`] (`contacts`, [`policy::Role`]), used by [`incident`] for who is told | `incident policy show` |
//! | Monthly Drills | [`drills::schedule`]; each drill kind is a [`sim`] scenario run by [`drill_run`] | `incident drills next`, `incident drill <kind>` |
//! | Validation Checklist | [`drills::checklist`] (ids, wording, where to look: `policy.checklist_targets`); the checks that prove each item: [`engine::library::validation_checklist`], run on a platform by [`engine::library::run_validation_checklist`] | `incident drills checklist [--run]` |
//!
//! Deprecated names are still accepted on input (CLI arguments, scenario files, policy files) and mean
//! the current one, with nothing new printed: procedure `regional-failover` is `region-failure`
//! ([`policy::DEPRECATED_PROCEDURE_NAMES`], including `stage_budgets` keys), scenario `db-corruption` is
//! `database-corruption` ([`sim::DEPRECATED_NAMES`]). The third-Friday *drill* keeps its runbook name,
//! `regional-failover` ("Regional failover drill", [`drills::DrillKind`]); its scenario runs the
//! `region-failure` procedure under flaky cloud APIs.
//!
//! ## Layers
//!
//! The modules form a directed acyclic graph (`tests/layering.rs` fails on any cycle), so the crate reads
//! bottom-up: `severity`, `duration`, `clock`, `error` → [`impact`] (the facts) and [`alert`] (alerts as
//! recorded) → [`policy`] → [`classify`] → [`detector`] → [`timeline`] → [`incident`] → [`declare`] → [`comms`],
//! [`ingest`], [`cadence`], [`escalation`] → [`engine`] → [`matching`], [`drill_run`], [`evidence`]. [`drills`] (schedule and checklist data)
//! sits just below [`policy`], which holds and re-exports its types. Types that two layers share live in the
//! lower one and are re-exported where readers expect them (`classify::ImpactFacts`,
//! `detector::DeclarationRule`, `ingest::AlertStatus`, `comms::format_utc`).
//!
//! No network I/O happens in this crate; adapters (`incident-k8s`, `incident-aws`, ...) implement the
//! [`backend`] traits.

pub mod alert;
pub mod backend;
pub mod cadence;
mod canon;
pub mod classify;
pub mod clock;
pub mod comms;
pub mod declare;
pub mod delivery;
pub mod detector;
#[cfg(feature = "sim")]
pub mod drill_run;
pub mod drills;
mod duration;
pub mod engine;
mod error;
pub mod escalation;
pub mod evidence;
pub mod impact;
pub mod incident;
pub mod ingest;
pub mod lifecycle;
pub mod matching;
pub mod policy;
pub mod postincident;
pub mod postmortem;
pub mod preserve;
pub mod redact;
pub mod render;
mod severity;
pub mod signing;
#[cfg(feature = "sim")]
pub mod sim;
pub mod store;
pub mod text;
pub mod threshold;
pub mod timeline;
pub mod triage;

/// The old name of [`drill_run`], kept so existing `incident_core::drill::...` paths still compile.
#[cfg(feature = "sim")]
#[doc(hidden)]
pub use drill_run as drill;
pub use duration::{HumanDuration, ParseDurationError};
pub use error::{Error, ErrorKind, Result};
pub use policy::Policy;
pub use severity::{Severity, Status};
