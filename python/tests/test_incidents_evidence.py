"""`Incidents` evidence: preserve items (redacted, hashed into the timeline), read them back, record the
post-mortem as evidence (the post-incident task is then done), collect the bundle and verify it, as the
CLI's `incident postmortem ID --record` and `incident evidence collect ID --out DIR` do, with core's
errors."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import incident_core as ic

TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def post_mortem_task(incidents: ic.Incidents, iid: str) -> dict[str, object]:
    view = incidents.show(iid).to_dict()
    tasks = view["post_incident"]["tasks"]
    return next(t for t in tasks if t["task"] == "post_mortem")


def test_evidence_from_declaration_to_a_verified_bundle(tmp_path: Path) -> None:
    incidents = ic.Incidents.open(tmp_path / "incident.sqlite", create=True)
    iid = f"INC-PY-EV-{uuid.uuid4().hex[:6]}"
    incidents.declare("Checkout errors", "P1", "customer", actor="alice", components=["checkout"], id=iid)
    assert incidents.evidence(iid) == []

    done = incidents.preserve(
        iid,
        [
            {"name": "manual/logs.txt", "media_type": "text/plain", "content": f"auth failed token={TOKEN}\n"},
            {"name": "manual/notes.md", "media_type": "text/markdown", "content": b"# what we saw\n"},
        ],
        actor="bob",
    )
    assert [a["name"] for a in done["added"]] == ["manual/logs.txt", "manual/notes.md"]
    assert done["already_stored"] == [] and len(done["events"]) == 2
    assert done["events"][0]["kind"]["type"] == "evidence_added" and done["events"][0]["actor"] == "bob"

    listed = incidents.evidence(iid)
    assert [i["name"] for i in listed] == ["manual/logs.txt", "manual/notes.md"]
    assert set(listed[0]) == {"name", "media_type", "sha256", "size", "captured_at"}
    item = incidents.evidence_item(iid, "manual/logs.txt")
    assert isinstance(item["content"], bytes)
    assert TOKEN not in item["content"].decode() and b"auth failed" in item["content"]
    assert item["size"] == len(item["content"]) and item["sha256"] == listed[0]["sha256"]
    # Preserved once: the second time it is reported, not written.
    again = incidents.preserve(
        iid, [{"name": "manual/logs.txt", "media_type": "text/plain", "content": "other"}], actor="carol"
    )
    assert again["added"] == [] and again["already_stored"] == ["manual/logs.txt"]

    incidents.set_status(iid, "identified", message="bad deploy of checkout v2.3", actor="bob")
    incidents.resolve(iid, root_cause="bad deploy v2.3", actor="bob")
    assert post_mortem_task(incidents, iid)["done_at"] is None
    pm, preserved = incidents.record_postmortem(
        iid, actor="bob", action_items=[{"description": "canary checkout deploys", "owner": "bob"}]
    )
    assert isinstance(pm, ic.PostMortem) and "canary checkout deploys" in pm.to_markdown()
    assert [a["name"] for a in preserved["added"]] == ["postmortem.md"]
    assert post_mortem_task(incidents, iid)["done_at"] is not None
    stored = incidents.evidence_item(iid, "postmortem.md")["content"].decode()
    assert "bad deploy v2.3" in stored
    _, kept = incidents.record_postmortem(iid, actor="carol")
    assert kept["added"] == [] and kept["already_stored"] == ["postmortem.md"]

    out = tmp_path / "bundle"
    proof = incidents.collect_evidence(iid, out)
    assert proof["format"]
    assert (out / "evidence" / "manual" / "logs.txt").read_bytes() == item["content"]
    assert ic.verify_evidence(out)["files"] == proof["files"]
    (out / "evidence" / "manual" / "notes.md").write_text("# edited\n")
    with pytest.raises(ic.IntegrityError, match="evidence/manual/notes.md"):
        ic.verify_evidence(out)
    # Collecting again replaces the bundle, which verifies again.
    incidents.collect_evidence(iid, out)
    ic.verify_evidence(out)


def test_evidence_bad_input_is_typed(tmp_path: Path) -> None:
    incidents = ic.Incidents.open(tmp_path / "incident.sqlite", create=True)
    incidents.declare("Search down", "P2", "internal", actor="alice", id="INC-EV-BAD")
    ok = {"name": "a.txt", "media_type": "text/plain", "content": "x"}
    with pytest.raises(ic.InvalidInputError):
        incidents.preserve("INC-EV-BAD", [{**ok, "name": "  "}], actor="bob")
    with pytest.raises(ic.InvalidInputError):
        incidents.preserve("INC-EV-BAD", [{**ok, "name": "../escape"}], actor="bob")
    with pytest.raises(ic.InvalidInputError, match="given twice"):
        incidents.preserve("INC-EV-BAD", [ok, {**ok, "content": "y"}], actor="bob")
    with pytest.raises(ic.InvalidInputError, match="actor must not be empty"):
        incidents.preserve("INC-EV-BAD", [ok], actor=" ")
    with pytest.raises(ic.InvalidInputError, match="UTF-8"):
        incidents.preserve("INC-EV-BAD", [{**ok, "content": b"\xff\xfe"}], actor="bob")
    with pytest.raises(ic.InvalidInputError, match="content"):
        incidents.preserve("INC-EV-BAD", [{"name": "a.txt", "media_type": "text/plain"}], actor="bob")
    with pytest.raises(ic.InvalidInputError, match="str or bytes"):
        incidents.preserve("INC-EV-BAD", [{**ok, "content": 42}], actor="bob")
    with pytest.raises(ic.NotFoundError):
        incidents.preserve("INC-404", [ok], actor="bob")
    with pytest.raises(ic.NotFoundError):
        incidents.evidence("INC-404")
    with pytest.raises(ic.NotFoundError):
        incidents.evidence_item("INC-EV-BAD", "nothing.txt")
    with pytest.raises(ic.NotFoundError):
        incidents.record_postmortem("INC-404", actor="bob")
    with pytest.raises(ic.InvalidInputError, match="actor must not be empty"):
        incidents.record_postmortem("INC-EV-BAD", actor="")
    with pytest.raises(ic.NotFoundError):
        incidents.collect_evidence("INC-404", tmp_path / "b")
    with pytest.raises(ic.InvalidInputError):
        incidents.collect_evidence("INC-EV-BAD", tmp_path / "b", signing_key=tmp_path / "no-such-key.pem")
    assert incidents.evidence("INC-EV-BAD") == []


async def test_evidence_async_twins(tmp_path: Path) -> None:
    incidents = await ic.Incidents.open_async(tmp_path / "a.sqlite", create=True)
    await incidents.declare_async("Partner says search is down", "P2", "partner", actor="alice", id="INC-EV-A")
    item = {"name": "a.txt", "media_type": "text/plain", "content": "seen"}
    assert len((await incidents.preserve_async("INC-EV-A", [item], actor="bob"))["added"]) == 1
    assert [i["name"] for i in await incidents.evidence_async("INC-EV-A")] == ["a.txt"]
    assert (await incidents.evidence_item_async("INC-EV-A", "a.txt"))["content"] == b"seen"
    await incidents.resolve_async("INC-EV-A", root_cause="index rebuild", actor="bob")
    pm, preserved = await incidents.record_postmortem_async("INC-EV-A", actor="bob")
    assert pm.to_markdown() and preserved["added"][0]["name"] == "postmortem.md"
    proof = await incidents.collect_evidence_async("INC-EV-A", tmp_path / "out")
    assert proof == ic.verify_evidence(tmp_path / "out")
    with pytest.raises(ic.NotFoundError):
        await incidents.evidence_item_async("INC-EV-A", "nope.txt")
