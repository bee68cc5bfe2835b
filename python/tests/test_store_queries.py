"""Store queries on `Incidents`: list with filters, an incident's verified timeline, the runs a store holds and
a run's hash-chained journal, on the same SQLite store `run_plan` journals to."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

import incident_core as ic


def _run(store: Path, incident_id: str) -> ic.RunReport:
    p = ic.SimPlatform.from_scenario("bad-deploy")
    p.advance(180)
    plan = ic.procedure("application-rollback", ic.ApplicationRollbackParams(deployment="ml-inference-api")).plan(p)
    approved = plan.approve("alice", at=p.now, confirm_production=plan.needs_production_confirmation)
    return ic.run_plan(approved, p, store=str(store), incident_id=incident_id, owner="py:1")


def test_timeline_runs_run_and_journal(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    incidents = ic.Incidents.open(store, create=True)
    iid = f"INC-PY-{uuid.uuid4().hex[:8]}"
    incidents.declare("Checkout errors", "P1", "customer", actor="alice", id=iid)
    incidents.note(iid, "rolling back", actor="alice")

    tl = incidents.timeline(iid)
    assert isinstance(tl, ic.Timeline)
    assert tl == incidents.load(iid).timeline
    assert [e.kind for e in tl.events()][-1] == "note"
    tl.verify()

    assert incidents.runs() == []
    report = _run(store, iid)
    assert report.status == "succeeded"

    runs = incidents.runs()
    assert [r["run_id"] for r in runs] == [report.run_id]
    assert incidents.runs(incident_id=iid) == runs
    assert incidents.runs(incident_id="INC-OTHER") == []
    run = incidents.run(report.run_id)
    assert run == runs[0]
    assert (run["incident_id"], run["procedure"], run["status"]) == (iid, "application-rollback", "succeeded")
    assert run["approval"] is not None and run["plan"]["run_id"] == report.run_id
    # the incident's own view lists the same run
    assert [r["run_id"] for r in incidents.show(iid).to_dict()["runs"]] == [report.run_id]

    journal = incidents.journal(report.run_id)
    assert [e["seq"] for e in journal] == list(range(len(journal)))
    assert {e["phase"] for e in journal} == {"intent", "outcome"}
    assert {s[0] for s in report.steps()} <= {e["step_id"] for e in journal}
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(journal, journal[1:]))
    assert journal[0]["prev_hash"] == "0" * 64

    with pytest.raises(ic.NotFoundError, match="no-such-run"):
        incidents.run("no-such-run")
    with pytest.raises(ic.NotFoundError, match="no-such-run"):
        incidents.journal("no-such-run")
    with pytest.raises(ic.NotFoundError, match="INC-404"):
        incidents.timeline("INC-404")


def test_tampered_journal_is_an_integrity_error(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    incidents = ic.Incidents.open(store, create=True)
    iid = f"INC-PY-{uuid.uuid4().hex[:8]}"
    incidents.declare("Checkout errors", "P1", "customer", actor="alice", id=iid)
    run_id = _run(store, iid).run_id
    db = sqlite3.connect(store)
    changed = db.execute("update journal set owner = 'mallory' where run_id = ? and seq = 1", (run_id,)).rowcount
    assert changed == 1
    db.commit()
    db.close()
    with pytest.raises(ic.IntegrityError):
        ic.Incidents.open(store).journal(run_id)


def test_list_filters(tmp_path: Path) -> None:
    incidents = ic.Incidents.open(tmp_path / "s.sqlite", create=True)
    incidents.declare("A", "P1", "customer", actor="alice", id="INC-A")
    incidents.declare("B", "P3", "internal", actor="alice", id="INC-B")
    incidents.resolve("INC-B", root_cause="noise", actor="alice")
    ids = lambda rows: sorted(r["id"] for r in rows)  # noqa: E731
    assert ids(incidents.list()) == ["INC-A", "INC-B"]
    assert ids(incidents.list(open=True)) == ["INC-A"]
    assert ids(incidents.list(severity="P3")) == ["INC-B"]
    for since in ("1h", timedelta(hours=1), 3600):
        assert ids(incidents.list(since=since)) == ["INC-A", "INC-B"]
    with pytest.raises(ic.InvalidInputError, match="duration"):
        incidents.list(since="yesterday")


async def test_async_twins(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    incidents = await ic.Incidents.open_async(store, create=True)
    await incidents.declare_async("A", "P2", "internal", actor="alice", id="INC-A")
    run_id = _run(store, "INC-A").run_id
    assert (await incidents.timeline_async("INC-A")) == incidents.timeline("INC-A")
    assert (await incidents.runs_async()) == incidents.runs()
    assert (await incidents.runs_async(incident_id="INC-A")) == incidents.runs()
    assert (await incidents.run_async(run_id))["run_id"] == run_id
    assert (await incidents.journal_async(run_id)) == incidents.journal(run_id)
