//! Run the `bad-deploy` drill on the simulator and print its summary.
//!
//! `cargo run -p incident-examples --example drill`

use std::sync::Arc;

use incident_core::drill_run::{self as drill, AutoApprove, DrillOptions, Silent};
use incident_core::sim::{Scenario, SimPlatform};
use incident_core::store::MemoryStore;
use incident_core::{Policy, Result};

fn main() -> Result<()> {
    let scenario = Scenario::builtin("bad-deploy")?;
    let platform = SimPlatform::from_scenario(&scenario)?;
    let report = incident_core::sim::runtime()?.block_on(drill::run_drill(
        &platform,
        Arc::new(MemoryStore::new()),
        &Policy::default(),
        &scenario,
        &DrillOptions::default(),
        &AutoApprove { by: "alice".into() },
        &Silent,
    ))?;
    print!("{}", drill::summary(&report));
    assert!(report.passed, "{:?}", report.failures);
    Ok(())
}
