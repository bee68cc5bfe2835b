//! Serialized plans (`incident run plan.json`; JSON or YAML, read like the CLI does): an error or a plan
//! that re-parses to itself from its JSON, whose digest, integrity check, printing and approval never
//! panic.
#![no_main]

use incident_core::ErrorKind;
use incident_core::engine::{Approval, Plan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = incident_fuzz::text(data) else { return };
    let Ok(plan) = incident_fuzz::parse_doc::<Plan>(text) else { return };
    let again = serde_json::to_string(&plan).expect("a parsed plan serializes");
    let back: Plan = serde_json::from_str(&again).unwrap_or_else(|e| panic!("re-parse: {e}\n{again}"));
    assert_eq!(back, plan, "parse(serialize(x)) == x");
    assert_eq!(back.content_digest(), plan.content_digest(), "the digest survives a round trip");
    assert_eq!(back.verify_integrity().is_ok(), plan.verify_integrity().is_ok());
    let _ = plan.to_string();
    let _ = plan.procedure.validate();
    if let Err(e) = plan.clone().approve(Approval::new("fuzz", plan.created_at).confirm_production()) {
        // Refused by a guard rail, or (PreconditionFailed) not the plan that was sealed.
        incident_fuzz::expect_input_error(&e, &[ErrorKind::Refused, ErrorKind::PreconditionFailed]);
    }
});
