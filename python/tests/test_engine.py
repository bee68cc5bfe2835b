"""Simulator drills, triage, and procedures: plan / approve / run / resume on a sim state file + SQLite."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

import incident_core as ic

PARAMS = {"context": "ml-platform-primary", "namespace": "ml-platform", "deployment": "ml-inference-api"}


def check_bad_deploy(r: ic.DrillReport) -> None:
    assert r.passed, r.failures
    assert r.scenario == "bad-deploy" and r.failures == []
    assert r.classification.severity is not None
    # Its Alertmanager alert declares (through the receiver's rule) before the detector's window fills.
    assert r.declarations == []
    assert "Detected via alertmanager" in r.postmortem.to_markdown()
    assert not r.triage.healthy
    assert r.plan.procedure_name == "application-rollback"
    assert r.run is not None and r.run.status == "succeeded"
    assert r.incident.status == ic.Status.RESOLVED
    r.timeline.verify()
    assert r.postmortem.to_markdown()
    stages = r.stages()
    assert stages and all(s["ok"] for s in stages)
    assert all(e["ok"] for e in r.expectations())
    assert "bad-deploy" in r.summary()
    assert json.loads(r.to_json())["passed"] is True


def test_full_drill_bad_deploy(tmp_path: Path) -> None:
    r = ic.run_drill("bad-deploy", on_call="alice", store=str(tmp_path / "journal.sqlite"))
    check_bad_deploy(r)
    assert r.incident.commander == "alice"
    assert (tmp_path / "journal.sqlite").stat().st_size > 0


def test_declined_drill_fails_without_raising() -> None:
    r = ic.run_drill("bad-deploy", approve=False, monitor_for=timedelta(minutes=1))
    assert not r.passed and r.run is None and r.failures


async def test_async_drill_and_triage_run_concurrently() -> None:
    p = ic.SimPlatform.from_scenario("bad-deploy")
    p.advance(180)
    r, t1, t2 = await asyncio.gather(
        ic.run_drill_async("bad-deploy"), ic.triage_async(p), ic.triage_async(p, namespace="ml-platform")
    )
    check_bad_deploy(r)
    assert not t1.healthy and "ml-inference-api" in t1.degraded_deployments
    assert t1.context == t2.context


def test_names() -> None:
    assert "bad-deploy" in ic.scenario_names()
    assert "application-rollback" in ic.procedure_names()


def test_plan_run_resume_state_file_and_sqlite(tmp_path: Path) -> None:
    state, store = tmp_path / "sim.json", str(tmp_path / "journal.sqlite")
    platform = ic.SimPlatform.create(state, "bad-deploy")
    assert platform.scenario_name == "bad-deploy" and str(platform.path) == str(state)
    start = platform.now
    platform.advance(timedelta(minutes=3))  # the bad rollout happens at 2m
    assert platform.now - start == timedelta(minutes=3)

    report = ic.triage(platform)
    assert not report.healthy and "ml-inference-api" in report.degraded_deployments
    assert "ml-inference-api" in report.render()
    assert ic.TriageReport.from_json(report.to_json()) == report

    proc = ic.procedure("application-rollback", PARAMS)
    proc.validate()
    assert proc.stages() and proc.step_ids()
    assert ic.parse_procedure(proc.to_json()) == proc
    assert ic.parse_procedure(proc.to_yaml()) == proc
    assert proc.diff(proc) == []

    plan = proc.plan(platform)
    assert plan.procedure_name == "application-rollback" and plan.refusals() == []
    assert plan.created_at.tzinfo is not None
    assert ic.Plan.from_json(plan.to_json()).digest() == plan.digest()
    assert "application-rollback" in str(plan)

    approved = plan.approve("alice", at=platform.now, confirm_production=plan.needs_production_confirmation)
    assert approved.approved_by == "alice" and approved.run_id == plan.run_id
    assert ic.ApprovedPlan.from_json(approved.to_json()) == approved
    run = ic.run_plan(approved, platform, store=store, owner="test:1")
    assert run.status == "succeeded", run.to_json()
    assert run.run_id == plan.run_id
    assert all(s[1] != "failed" for s in run.steps())
    assert ic.RunReport.from_json(run.to_json()) == run
    mutations = len(platform.operation_log())
    assert mutations > 0

    # another process's view: reopen the state file and the journal; resuming repeats nothing
    reopened = ic.SimPlatform.open(state)
    resumed = ic.resume_run(run.run_id, reopened, store=store, owner="test:1")
    assert resumed.status == "succeeded"
    assert len(reopened.operation_log()) == mutations
    assert isinstance(reopened.world(), dict)
    assert ic.SimPlatform.open_or_create(state, "bad-deploy").scenario_name == "bad-deploy"


async def test_async_plan_run_resume(tmp_path: Path) -> None:
    p = ic.SimPlatform.from_scenario("bad-deploy")
    p.advance(180)
    plans = await asyncio.gather(*[ic.procedure("application-rollback", PARAMS).plan_async(p) for _ in range(3)])
    assert all(x.procedure_name == "application-rollback" for x in plans)
    plan = plans[0]
    approved = plan.approve("bob", at=p.now, confirm_production=plan.needs_production_confirmation)
    store = str(tmp_path / "j.sqlite")
    run = await ic.run_plan_async(approved, p, store=store)
    assert run.status == "succeeded"
    again = await ic.resume_run_async(run.run_id, p, store=store, take_over=True)
    assert again.status == "succeeded"


def test_engine_bad_input(tmp_path: Path) -> None:
    p = ic.SimPlatform.from_scenario("bad-deploy")
    with pytest.raises(ic.NotFoundError, match="no scenario named `no-such-scenario`"):
        ic.SimPlatform.from_scenario("no-such-scenario")
    with pytest.raises(ic.NotFoundError, match="missing.json"):
        ic.SimPlatform.open(tmp_path / "missing.json")
    ic.SimPlatform.create(tmp_path / "exists.json", "bad-deploy")
    with pytest.raises(ic.ConflictError, match="already exists"):
        ic.SimPlatform.create(tmp_path / "exists.json", "bad-deploy")
    with pytest.raises(ic.InvalidInputError, match="duration must be finite and >= 0, got -1 seconds"):
        p.advance(-1)
    with pytest.raises(TypeError, match="expected a timedelta or seconds, not str"):
        p.advance("1m")  # type: ignore[arg-type]
    with pytest.raises(ic.NotFoundError, match="make-coffee"):
        ic.procedure("make-coffee")
    with pytest.raises(ic.InvalidInputError, match="colour"):
        ic.procedure("application-rollback", {"colour": "blue"})
    with pytest.raises(ic.InvalidInputError):
        ic.parse_procedure("{")
    with pytest.raises(TypeError):
        ic.procedure("application-rollback", PARAMS).plan("not a platform")  # type: ignore[arg-type]
    with pytest.raises(ic.NotFoundError, match="run-that-does-not-exist"):
        ic.resume_run("run-that-does-not-exist", p)
    with pytest.raises(ic.NotFoundError, match="nowhere"):
        ic.triage(p, context="nowhere")
    with pytest.raises(ic.InvalidInputError, match="plan"):
        ic.Plan.from_json('{"run_id": 1}')
    plan = ic.procedure("application-rollback", PARAMS).plan(p)
    with pytest.raises(ic.RefusedError, match="an approval must name who approved"):
        plan.approve("")
    if plan.needs_production_confirmation:
        with pytest.raises(ic.RefusedError):
            plan.approve("alice", at=p.now)
    with pytest.raises(TypeError):
        ic.run_plan({}, p)  # type: ignore[arg-type]
    with pytest.raises(ic.InvalidInputError, match="on_call must not be empty"):
        ic.run_drill("bad-deploy", on_call="")
    with pytest.raises(ic.NotFoundError):
        ic.run_drill("no-such-scenario")


async def test_async_errors_are_raised_on_await() -> None:
    p = ic.SimPlatform.from_scenario("bad-deploy")
    with pytest.raises(ic.NotFoundError, match="nowhere"):
        await ic.triage_async(p, context="nowhere")
    with pytest.raises(ic.NotFoundError):
        await ic.run_drill_async("no-such-scenario")


def test_evidence_write_verify_and_tamper(tmp_path: Path) -> None:
    """`run_drill(evidence=DIR)` writes the bundle `incident drill --out DIR` writes; `verify_evidence` is
    `incident evidence verify DIR`; one edited file fails it with IntegrityError, the CLI's error kind."""
    out = tmp_path / "bundle"
    report = ic.run_drill("bad-deploy", evidence=out)
    assert report.passed, report.failures
    proof = ic.verify_evidence(out)
    assert proof["dir"] == str(out) and "postmortem.md" in proof["files"], proof
    assert proof["signature"] == {"status": "unsigned"}, proof
    assert "evidence bundle verified" in ic.verify_evidence_text(out)
    with pytest.raises(ic.InvalidInputError, match="exclusive"):
        ic.run_drill("bad-deploy", evidence=tmp_path / "other", store=str(tmp_path / "j.sqlite"))
    (out / "postmortem.md").write_text((out / "postmortem.md").read_text() + "\nedited afterwards\n")
    with pytest.raises(ic.IntegrityError) as e:
        ic.verify_evidence(out)
    assert e.value.kind == "integrity"  # type: ignore[attr-defined]
    assert "postmortem.md: SHA-256 mismatch" in str(e.value)
