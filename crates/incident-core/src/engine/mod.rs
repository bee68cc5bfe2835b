//! The engine: typed actions and checks, procedures as DAG values, plans with approval, and a durable,
//! concurrent executor.
//!
//! ```text
//! Procedure (value: print, serialize, diff)
//!   --plan(&Backends, &Policy)-->  Plan (read-only: before -> after, inverse, fingerprint, findings)
//!   --approve(Approval)-->         ApprovedPlan
//!   --Executor::run-->             RunReport (journal: claim -> intent -> call -> outcome; resume)
//! ```
//!
//! * [`Action`]: every mitigation and disaster-recovery command of the runbook; each plans against live
//!   state, executes, verifies and captures its inverse.
//! * [`Check`]: the runbook's verification commands; [`StepKind::WaitUntil`] follows one until it passes
//!   (a watch where the backend has one, else polls from [`FIRST_POLL`] with backoff).
//! * [`library`]: the runbook's procedures as builders.
//! * [`Executor`]: guard rails, concurrency, deadlines, retries with full-jitter backoff, write-ahead
//!   journal, crash resume with reconciliation, compensation, stage scores.
//! * [`Failpoints`]: crash-test hooks (`INCIDENT_FAILPOINT=<step>:<point>`).

mod action;
mod check;
mod executor;
mod failpoint;
mod guard;
pub mod library;
mod plan;
mod procedure;
mod wait;

pub use action::{Action, ExpectedInverse, FIELD_MANAGER, ObjectRef, StepPlan};
pub use check::{Check, CheckOutcome, ChecklistBinding, ItemResult};
pub use executor::{
    APPROVAL_STEP, DEFAULT_OWNER, Executor, RunReport, StageScore, StepReport, StepStatus, backoff_cap,
};
pub use failpoint::{FAILPOINT_ENV, FailpointMode, FailpointPoint, Failpoints};
pub use guard::{FindingLevel, GuardFinding};
pub use plan::{Approval, ApprovedPlan, Plan, PlannedStep};
pub use procedure::{Procedure, Step, StepKind};
pub use wait::{DNS_POLL_CAP, FIRST_POLL, poll_pause};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;
