"""Ingest a Grafana alert, triage with the CLI's options, run a typed rollback into a SQLite store, then read
the store back: the incident's timeline, its runs and a run's journal."""

import tempfile
from datetime import timedelta
from pathlib import Path

import incident_core as ic

FIXTURES = Path(__file__).parents[2] / "crates/incident-core/tests/fixtures"

batch = ic.parse_grafana((FIXTURES / "grafana/firing.json").read_bytes())
for alert in batch.alerts:
    print(alert.source, alert.name, alert.classification().severity)

platform = ic.SimPlatform.from_scenario("bad-deploy")
platform.advance(180)
report = ic.triage(platform, since="10m", log_selectors=["app=ml-inference-api"], error_patterns=["error"], top=3, call_deadline=timedelta(seconds=5))
changes = report.to_dict()["changes"]
print("rolled out since 10m ago:", [r["deployment"] for r in changes["rollouts"]] if changes else [])

params = ic.ApplicationRollbackParams(deployment="ml-inference-api", rollout_timeout=timedelta(minutes=5))
plan = ic.procedure("application-rollback", params).plan(platform)
approved = plan.approve("alice", at=platform.now, confirm_production=plan.needs_production_confirmation)

with tempfile.TemporaryDirectory() as tmp:
    store = Path(tmp) / "incidents.sqlite"
    incidents = ic.Incidents.open(store, create=True)
    incidents.declare("Inference API errors", "P1", "internal", actor="alice", id="INC-EXAMPLE-1")
    run = ic.run_plan(approved, platform, store=str(store), incident_id="INC-EXAMPLE-1")
    print("run", run.run_id, run.status)
    print("timeline:", [e.kind for e in incidents.timeline("INC-EXAMPLE-1").events()])
    for record in incidents.runs():
        entries: list[ic.JournalEntry] = incidents.journal(record["run_id"])
        print(record["procedure"], record["status"], len(entries), "journal entries, head", entries[-1]["hash"][:12])
