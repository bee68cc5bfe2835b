"""`Incidents`: working a live incident in a store (SQLite, and PostgreSQL when the services run), the same
lifecycle as the CLI's `incident declare | list | show | ack | severity | note | mitigated | resolve |
postmortem`, with core's errors."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import incident_core as ic

from conftest import service_url


def walk(incidents: ic.Incidents) -> str:
    iid = f"INC-PY-{uuid.uuid4().hex[:8]}"
    declared = incidents.declare(
        "Checkout errors reported by a customer", "P1", "customer", actor="alice", components=["checkout"], id=iid
    )
    assert isinstance(declared, ic.Change)
    assert (declared.outcome, declared.incident_id) == ("applied", iid)
    d = declared.to_dict()
    assert d["operation"] == "declare"
    assert d["incident"]["severity"] == "P1"
    assert d["incident"]["impact"] == "P1 (reported by customer report)"
    assert d["incident"]["commander"] == "alice"

    assert any(i["id"] == iid for i in incidents.list(open=True, severity=ic.Severity.P1, since="1h"))
    assert any(i["id"] == iid for i in incidents.list())

    view = incidents.show(iid)
    assert isinstance(view, ic.IncidentView)
    assert view.to_dict()["roles"]["commander"] == "alice"
    assert iid in view.render()

    ack = incidents.ack(iid, actor="bob")
    assert ack.outcome == "applied" and ack.why is None
    assert len(ack.to_dict()["events"]) == 1
    again = incidents.ack(iid, actor="carol")
    assert again.outcome == "unchanged"
    assert again.why is not None and "already acknowledged by bob" in again.why
    assert again.to_dict()["events"] == []
    assert "unchanged" in again.render()

    p0 = incidents.change_severity(iid, "P0", reason="all regions affected", actor="bob")
    assert p0.to_dict()["incident"]["severity"] == "P0"
    incidents.assign(iid, "scribe", "dave", actor="bob")
    assert incidents.show(iid).to_dict()["roles"]["scribe"] == "dave"
    st = incidents.set_status(iid, "identified", message="bad deploy of checkout v2.3", actor="bob")
    assert st.to_dict()["incident"]["status"] == "identified"
    assert len(incidents.note(iid, "rolled back checkout to v2.2", actor="bob").to_dict()["events"]) == 1
    assert len(incidents.update(iid, actor="bob")) >= 1
    assert incidents.mitigated(iid, actor="bob").to_dict()["incident"]["mitigated_at"]
    resolved = incidents.resolve(iid, root_cause="bad deploy v2.3", actor="bob")
    r = resolved.to_dict()
    assert r["incident"]["status"] == "resolved"
    assert r["incident"]["root_cause"] == "bad deploy v2.3"
    assert r["messages"] and r["messages"][0]["outcome"] == "skipped"

    loaded = incidents.load(iid)
    assert isinstance(loaded, ic.Incident)
    pm = incidents.postmortem(iid, action_items=[{"description": "canary checkout deploys", "owner": "bob"}])
    assert isinstance(pm, ic.PostMortem)
    assert str(pm.severity) == "P0"
    assert "bad deploy v2.3" in pm.to_markdown() and "canary checkout deploys" in pm.to_markdown()
    assert not any(i["id"] == iid for i in incidents.list(open=True))

    # Bad input: core's errors.
    with pytest.raises(ic.NotFoundError):
        incidents.ack("INC-NOPE-404", actor="bob")
    with pytest.raises(ic.NotFoundError):
        incidents.show("INC-NOPE-404")
    with pytest.raises(ic.InvalidInputError, match="person must not be empty"):
        incidents.assign(iid, "scribe", "  ", actor="bob")
    with pytest.raises(ic.InvalidInputError, match="actor must not be empty"):
        incidents.ack(iid, actor="")
    with pytest.raises(ic.ConflictError):
        incidents.resolve(iid, root_cause="again", actor="bob")
    with pytest.raises(ic.InvalidInputError):
        incidents.set_status(iid, "resolved", message="x", actor="bob")
    with pytest.raises(ic.InvalidInputError):
        incidents.assign(iid, "janitor", "eve", actor="bob")
    with pytest.raises(ic.InvalidInputError):
        incidents.change_severity(iid, "P9", reason="x", actor="bob")
    with pytest.raises(ic.InvalidInputError):
        incidents.declare(" ", "P2", "internal", actor="bob")
    with pytest.raises(ic.InvalidInputError):
        incidents.declare("x", "P2", "twitter", actor="bob")
    return iid


def test_incidents_walk_a_live_incident_on_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "incident.sqlite"
    with pytest.raises(ic.NotFoundError):
        ic.Incidents.open(path)
    walk(ic.Incidents.open(path, create=True))
    assert len(ic.Incidents.open(str(path)).list()) == 1


def test_incidents_walk_a_live_incident_on_postgres() -> None:
    walk(ic.Incidents.open(service_url("INCIDENT_TEST_PG_URL")))


async def test_incidents_async_twins(tmp_path: Path) -> None:
    incidents = await ic.Incidents.open_async(tmp_path / "a.sqlite", create=True)
    c = await incidents.declare_async("Partner says search is down", "P2", "partner", actor="alice", id="INC-ASYNC-1")
    assert c.to_dict()["incident"]["impact"] == "P2 (reported by partner notification)"
    assert (await incidents.ack_async("INC-ASYNC-1", actor="bob")).outcome == "applied"
    assert (await incidents.ack_async("INC-ASYNC-1", actor="bob")).outcome == "unchanged"
    assert [i["id"] for i in await incidents.list_async()] == ["INC-ASYNC-1"]
    assert (await incidents.show_async("INC-ASYNC-1")).incident_id == "INC-ASYNC-1"
    await incidents.resolve_async("INC-ASYNC-1", root_cause="index rebuild", actor="bob")
    with pytest.raises(ic.ConflictError):
        await incidents.resolve_async("INC-ASYNC-1", root_cause="again", actor="bob")
    with pytest.raises(ic.NotFoundError):
        await incidents.load_async("INC-404")


def test_incidents_open_rejects_bad_stores() -> None:
    with pytest.raises(ic.InvalidInputError):
        ic.Incidents.open("mysql://u:hunter2@db/x")
    with pytest.raises(ic.UnavailableError) as e:
        ic.Incidents.open("postgres://u:Unreach4ble@127.0.0.1:1/db")
    assert "Unreach4ble" not in str(e.value)
