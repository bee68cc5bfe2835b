//! Runbook "Testing and Validation": the monthly drill schedule ([`schedule`]) and the validation
//! checklist ([`checklist`]).
//!
//! Both are runbook data the [`Policy`](crate::Policy) holds (`policy.drills`,
//! `policy.validation_checklist`), so this module sits below `policy` in the crate's layers and the policy
//! re-exports its types. Running a drill end to end on the simulator is `drill_run` (feature `sim`); the
//! checks that prove each checklist item are
//! [`engine::library::validation_checklist`](crate::engine::library::validation_checklist).

pub mod checklist;
pub mod schedule;

pub use checklist::{
    AuthTargets, BackupTarget, CheckOutcome, ChecklistId, ChecklistItem, ChecklistTargets, ServiceTarget,
    ValidationChecklist, ValidationItem, ValidationReport, WorkflowTarget, runbook_items,
};
pub use schedule::{
    DrillKind, DrillPolicy, DrillSchedule, DrillSlot, MAX_DRILLS, ScheduledDrill, drill_on, next_drills, nth_friday,
};
