//! Regional failover on the simulated platform (virtual clock): virtual wall time of the run against the
//! critical path of its DAG (sum of measured step durations along the longest dependency path), and the
//! runbook's sequential sum of stage budgets beside it.
//!
//! `cargo bench -p incident-core --bench engine`

#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use incident_core::Policy;
use incident_core::engine::{Approval, Executor, library};
use incident_core::sim::{Scenario, SimPlatform};
use incident_core::store::{MemoryStore, Store};

fn run(scenario: &str) -> incident_core::Result<()> {
    let policy = Policy::default();
    let platform = SimPlatform::from_scenario(&Scenario::builtin(scenario)?)?;
    let procedure = library::RegionFailure::default().build(&policy);
    let rt = incident_core::sim::runtime()?;
    let report = rt.block_on(async {
        let b = platform.backends();
        let plan = procedure.plan(&b, &policy).await?;
        let approved = plan.approve(Approval::new("bench", b.clock.now()).confirm_production())?;
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        Executor::new(b, store, policy.clone()).run(approved, None).await
    })?;
    let start = report.steps.iter().filter_map(|s| s.started_at).min();
    let end = report.steps.iter().filter_map(|s| s.finished_at).max();
    let wall = match (start, end) {
        (Some(a), Some(b)) => (b - a).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    };
    let durations: BTreeMap<String, Duration> = report
        .steps
        .iter()
        .filter_map(|s| Some((s.id.clone(), (s.finished_at? - s.started_at?).to_std().ok()?)))
        .collect();
    let (critical, path) = procedure.critical_path(&durations);
    let serial: Duration = durations.values().sum();
    let budgets: u64 = policy.stage_budgets.get("region-failure").map_or(0, |m| m.values().map(|d| d.as_secs()).sum());
    println!("region-failure on scenario {scenario}: status {:?}", report.status);
    println!("  virtual wall time          {:>9.1} s", wall.as_secs_f64());
    println!("  critical path (measured)   {:>9.1} s  [{}]", critical.as_secs_f64(), path.join(" -> "));
    println!(
        "  ratio wall / critical path {:>9.3}  (target <= 1.05)",
        wall.as_secs_f64() / critical.as_secs_f64().max(f64::EPSILON)
    );
    println!("  sum of step durations      {:>9.1} s  (if run one by one)", serial.as_secs_f64());
    println!("  runbook stage budgets, sum {:>9.1} s  (5m + 15m + 30m, sequential)", budgets as f64);
    for s in &report.stages {
        println!(
            "  stage {:<20} elapsed {:>8.1} s  budget {:>6}  within {:?}",
            s.stage,
            s.elapsed_secs.unwrap_or(0.0),
            s.budget.map(|b| b.to_string()).unwrap_or_else(|| "-".into()),
            s.within_budget
        );
    }
    Ok(())
}

fn main() {
    for scenario in ["regional-failover", "bad-deploy"] {
        if let Err(e) = run(scenario) {
            eprintln!("{scenario}: {e}");
            std::process::exit(1);
        }
    }
}
