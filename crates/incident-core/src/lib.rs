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
//! * [`incident`], [`comms`], [`timeline`], [`postmortem`], [`drills`]: the lifecycle.
//! * [`backend`]: the ports procedures act through (cluster, databases, DNS, probes, notifier, clock).
//! * [`delivery`], [`cadence`]: notifications recorded on the timeline, and the driver that keeps
//!   updates on the runbook's cadence (providers live in `incident-notify`).
//! * [`engine`]: typed actions, procedures, plans, the executor and its durable journal.
//! * [`signing`]: Ed25519 signatures for plans and evidence manifests.
//! * [`evidence`]: evidence bundles (a drill's output directory) and what verifying one proves; the
//!   bundle's store is read through [`store::ArchiveStore`] (`incident_store::SqliteStore`).
//! * [`sim`] (feature `sim`): an in-memory ML platform with a virtual clock and fault injection.
//!
//! ## Layers
//!
//! The modules form a directed acyclic graph (`tests/layering.rs` fails on any cycle), so the crate reads
//! bottom-up: `severity`, `duration`, `clock`, `error` → [`impact`] (the facts) and [`alert`] (alerts as
//! recorded) → [`policy`] → [`classify`] → [`detector`] → [`timeline`] → [`incident`] → [`comms`],
//! [`ingest`], [`cadence`] → [`engine`], [`drill`], [`evidence`]. Types that two layers share live in the
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
pub mod delivery;
pub mod detector;
#[cfg(feature = "sim")]
pub mod drill;
pub mod drills;
mod duration;
pub mod engine;
mod error;
pub mod evidence;
pub mod impact;
pub mod incident;
pub mod ingest;
pub mod policy;
pub mod postmortem;
mod severity;
pub mod signing;
#[cfg(feature = "sim")]
pub mod sim;
pub mod store;
pub mod text;
pub mod threshold;
pub mod timeline;
pub mod triage;

pub use duration::{HumanDuration, ParseDurationError};
pub use error::{Error, ErrorKind, Result};
pub use policy::Policy;
pub use severity::{Severity, Status};
