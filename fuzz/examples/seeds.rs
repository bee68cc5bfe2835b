//! Writes seed corpora that have no fixture file: serialized procedures and plans, stored timelines and
//! journals, impact facts and observations. `cargo run --example seeds -- OUT_DIR` writes
//! `OUT_DIR/<target>/<name>`; `scripts/fuzz` runs it before fuzzing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use incident_core::engine::{Approval, Executor, library};
use incident_core::incident::{DeclareRequest, Incident};
use incident_core::sim::{Faults, Scenario, SimPlatform};
use incident_core::store::{MemoryStore, Store};
use incident_core::timeline::{EventKind, Outcome};
use incident_core::{Policy, Severity, Status};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn write(dir: &Path, target: &str, name: &str, text: &str) -> Res<()> {
    let d = dir.join(target);
    std::fs::create_dir_all(&d)?;
    std::fs::write(d.join(name), text)?;
    Ok(())
}

fn main() -> Res<()> {
    let out = PathBuf::from(std::env::args().nth(1).ok_or("usage: seeds OUT_DIR")?);
    let policy = Policy::default();
    for name in library::NAMES {
        let p = library::by_name(name, &policy)?;
        write(&out, "procedure", &format!("{name}.json"), &p.to_json()?)?;
        write(&out, "procedure", &format!("{name}.yaml"), &p.to_yaml()?)?;
    }
    let rt = incident_core::sim::runtime()?;
    // (procedure, scenario): a plan, and the journal of running it (under light faults) with a timeline.
    for (i, (name, scenario)) in [
        ("traffic-management", "bad-deploy"),
        ("regional-failover", "regional-failover"),
        ("database-recovery", "bad-deploy"),
    ]
    .into_iter()
    .enumerate()
    {
        let platform = SimPlatform::from_scenario(&Scenario::builtin(scenario)?)?;
        let b = platform.backends();
        let plan = rt.block_on(library::by_name(name, &policy)?.plan(&b, &policy))?;
        write(&out, "plan", &format!("{name}.json"), &serde_json::to_string_pretty(&plan)?)?;
        write(&out, "plan", &format!("{name}.yaml"), &serde_yaml_ng::to_string(&plan)?)?;
        let store = Arc::new(MemoryStore::new());
        let (incident, timeline) = Incident::declare(
            DeclareRequest {
                id: format!("INC-{i}"),
                title: format!("{scenario} seed"),
                severity: Severity::P1,
                components: vec!["ml-inference-api".into()],
                impact: "errors".into(),
                customer_facing: true,
                customers_affected: true,
                on_call: "alice".into(),
                commander: None,
                started_at: None,
                detected_at: None,
                detection_source: Some("prometheus".into()),
            },
            &policy,
            b.clock.now(),
        )?;
        let run_id = plan.run_id.clone();
        let approved = plan.approve(Approval::new("seed", b.clock.now()).confirm_production())?;
        platform.set_faults(Faults { error_rate: 0.1, timeout_rate: 0.1, seed: 7, ..Faults::default() })?;
        let journal = rt.block_on(async {
            store.save_incident(&incident).await?;
            store.append_events(&incident.id, timeline.events()).await?;
            let ex = Executor::new(b.clone(), Arc::clone(&store) as Arc<dyn Store>, policy.clone());
            ex.run(approved, Some(incident.id.clone())).await?;
            store.journal(&run_id).await
        })?;
        write(&out, "journal", &format!("{name}.json"), &serde_json::to_string_pretty(&journal)?)?;
        let mut tl = rt.block_on(store.timeline(&incident.id))?;
        let mut inc = incident.clone();
        let at = tl.last().map_or_else(|| b.clock.now(), |e| e.at);
        inc.acknowledge(at, "alice", &mut tl)?;
        inc.transition(Status::Identified, at, "alice", &mut tl)?;
        tl.append(
            at,
            "bot",
            EventKind::MessageSent {
                channel: "status-page".into(),
                kind: "status_update".into(),
                outcome: Outcome::Succeeded,
                detail: String::new(),
            },
        )?;
        tl.append(at, "alice", EventKind::EvidenceAdded { name: "logs.txt".into(), sha256: "0".repeat(64) })?;
        inc.mark_mitigated(at, "alice", &mut tl)?;
        inc.resolve(at, "alice", &mut tl)?;
        write(&out, "timeline", &format!("{name}.json"), &serde_json::to_string_pretty(&tl)?)?;
        write(&out, "timeline", &format!("{name}-events.json"), &serde_json::to_string(tl.events())?)?;
    }
    for (name, text) in [
        ("partial.json", r#"{"outage":"partial","customer_facing_errors":true}"#),
        ("complete.yaml", "outage: complete\ndata_loss_or_corruption: true\n"),
        ("latency.json", r#"{"performance_degradation_pct":75.5,"service":"api","customer_facing":true}"#),
        (
            "observations.jsonl",
            "{\"service\":\"api\",\"at\":\"2026-11-26T14:00:00Z\",\"signal\":{\"error_rate\":0.3}}\n\
             {\"service\":\"api\",\"at\":\"2026-11-26T14:06:00Z\",\"signal\":{\"error_rate\":0.3}}\n",
        ),
        (
            "observations.yaml",
            "- service: api\n  at: 2026-11-26T14:00:00Z\n  signal: {availability: {up: false, whole_service: true}}\n",
        ),
    ] {
        write(&out, "domain_inputs", name, text)?;
    }
    Ok(())
}
