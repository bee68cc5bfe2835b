"""Incident lifecycle, timeline, comms and cadence, post-mortem, drills schedule and checklist."""

from __future__ import annotations

import json
from datetime import date, timedelta, timezone, datetime

import pytest

import incident_core as ic

from conftest import T0


def declare() -> ic.Incident:
    req = ic.DeclareRequest(
        "INC-2024-0042",
        "Inference API errors",
        ic.Severity.P1,
        "alice",
        components=["ml-inference-api"],
        impact="5% of predictions fail",
        customer_facing=True,
        customers_affected=True,
        started_at=T0 - timedelta(minutes=4),
        detected_at=T0,
    )
    assert ic.DeclareRequest.from_json(req.to_json()) == req
    return ic.Incident.declare(req, now=T0 + timedelta(minutes=1))


def test_lifecycle_and_timeline() -> None:
    inc = declare()
    assert inc.status == ic.Status.INVESTIGATING and inc.severity == ic.Severity.P1
    assert inc.commander == "alice"
    assert inc.channel == ic.channel_name(inc.declared_at)
    assert inc.declared_at == T0 + timedelta(minutes=1)
    inc.acknowledge("alice", T0 + timedelta(minutes=2))
    inc.transition("identified", "alice", T0 + timedelta(minutes=5))
    inc.change_severity(ic.Severity.P0, "revenue impact", "alice", T0 + timedelta(minutes=6))
    inc.hand_over("bob", "alice", T0 + timedelta(minutes=7))
    assert inc.commander == "bob"
    ev = inc.record({"type": "note", "text": "rolled back"}, "bob", T0 + timedelta(minutes=8))
    assert ev.kind == "note" and ev.data == {"text": "rolled back"} and ev.actor == "bob"
    inc.mark_mitigated("bob", T0 + timedelta(minutes=10))
    inc.transition(ic.Status.MONITORING, "bob", T0 + timedelta(minutes=11))
    inc.set_root_cause("bad deploy")
    inc.set_resolution("rollback")
    inc.resolve("bob", T0 + timedelta(minutes=30))
    assert inc.status == ic.Status.RESOLVED and inc.resolved_at == T0 + timedelta(minutes=30)
    m = inc.metrics()
    assert m.mttd == timedelta(minutes=4) and m.mtta == timedelta(minutes=2) and m.mttr == timedelta(minutes=30)
    tl = inc.timeline
    tl.verify()
    assert len(tl) >= 8 and tl.incident_id == "INC-2024-0042"
    kinds = [e.kind for e in tl.events()]
    assert kinds[:2] == ["detected", "declared"] and "status_changed" in kinds
    assert all(e.at.tzinfo is not None for e in tl.events())
    assert ic.Timeline.from_json(tl.to_json()) == tl
    again = ic.Incident.from_json(inc.to_json())
    assert again == inc and again is not inc
    assert "Incident(id=" in repr(inc)
    assert inc.ticket().startswith("Title: [P0] Inference API errors")
    assert inc.stakeholders() and inc.stakeholders()[0].role
    assert inc.channel_intro()


def test_illegal_transitions_and_bad_input() -> None:
    inc = declare()
    before = inc.to_json()
    with pytest.raises(ic.ConflictError):
        inc.transition("investigating", "alice")
    with pytest.raises(ic.InvalidInputError, match="actor must not be empty"):
        inc.acknowledge(" ")
    with pytest.raises(ic.InvalidInputError, match='status: "closed" is not one of'):
        inc.transition("closed", "alice")  # type: ignore[arg-type]
    with pytest.raises(ic.InvalidInputError, match="timeline event"):
        inc.record({"type": "dance"}, "alice")
    with pytest.raises(ic.InvalidInputError, match="timeline event: invalid type: integer `42`"):
        inc.record(42, "alice")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cannot convert a object to JSON"):
        inc.record({"type": "note", "text": object()}, "alice")
    assert inc.to_json() == before  # failed changes leave it untouched
    with pytest.raises(ic.InvalidInputError):
        ic.Incident.declare(ic.DeclareRequest("", "t", "P1", "alice"), now=T0)
    with pytest.raises(ic.InvalidInputError, match="naive"):
        ic.Incident.declare(ic.DeclareRequest("I-1", "t", "P1", "a"), now=datetime(2024, 1, 1))
    assert not ic.transition_allowed("resolved", "investigating")
    assert ic.transition_allowed(ic.Status.INVESTIGATING, "identified")


def test_tampered_timeline_is_integrity_error() -> None:
    inc = declare()
    doc = json.loads(inc.timeline.to_json())
    doc["events"][1]["actor"] = "mallory"
    with pytest.raises(ic.IntegrityError):
        ic.Timeline.from_json(json.dumps(doc))
    with pytest.raises(ic.InvalidInputError):
        ic.Timeline.from_json("[]")


def test_non_utc_datetimes_are_converted() -> None:
    cet = timezone(timedelta(hours=2))
    assert ic.format_utc(datetime(2024, 5, 3, 16, 2, tzinfo=cet)) == "2024-05-03 14:02 UTC"


def test_comms_and_cadence() -> None:
    inc = declare()
    assert "ml-inference-api" in ic.initial_status_page("ml-inference-api")
    text = ic.status_update(T0, "investigating", "slow predictions", next_update=T0 + timedelta(minutes=30), details="looking")
    assert "Investigating" in text or "investigating" in text
    assert ic.status_update_for(inc, now=T0 + timedelta(minutes=3))
    with pytest.raises(ic.IncidentError):
        ic.resolved_message_for(inc)
    msg = ic.resolved_message(time=T0, service="api", started_at=T0 - timedelta(hours=1), root_cause="x", resolution="y", impact="z")
    assert "api" in msg
    late = ic.cadence_status(inc, now=T0 + timedelta(hours=3))
    assert late.overdue and late.overdue[0][0] in ("internal", "status_page")
    assert isinstance(late.overdue[0][2], timedelta)
    tr = ic.CadenceTracker()
    tr.record("internal", T0 + timedelta(hours=2, minutes=59))
    tr.record("status_page", T0 + timedelta(hours=2, minutes=59))
    ok = tr.status(inc, now=T0 + timedelta(hours=3))
    assert ok.overdue == [] and ok.next_internal_due is not None
    assert tr.last_internal_update == T0 + timedelta(hours=2, minutes=59)


def test_cadence_refuses_times_before_the_declaration() -> None:
    inc = declare()
    with pytest.raises(ic.InvalidInputError, match="earlier than the declaration"):
        ic.cadence_status(inc, now=T0 - timedelta(minutes=1))
    with pytest.raises(ic.InvalidInputError, match="last internal update .* earlier than the declaration"):
        ic.cadence_status(inc, last_internal_update=T0 - timedelta(hours=1), now=T0 + timedelta(hours=1))
    with pytest.raises(ic.InvalidInputError, match="later than now"):
        ic.cadence_status(inc, last_status_page_update=T0 + timedelta(hours=2), now=T0 + timedelta(hours=1))
    tr = ic.CadenceTracker()
    tr.record("internal", T0 - timedelta(minutes=5))
    with pytest.raises(ic.InvalidInputError, match="earlier than the declaration"):
        tr.status(inc, now=T0 + timedelta(hours=1))
    assert ic.CadenceTracker.from_incident(inc) == ic.CadenceTracker()
    with pytest.raises(ic.InvalidInputError, match="update kind"):
        tr.record("email", T0)  # type: ignore[arg-type]


def test_post_mortem() -> None:
    inc = declare()
    pm = ic.build_post_mortem(
        inc,
        root_cause="bad deploy",
        contributing_factors=["no canary"],
        action_items=[{"description": "add canary", "owner": "bob", "due": "2024-06-01"}],
    )
    assert pm.incident_id == "INC-2024-0042" and pm.severity == ic.Severity.P1
    md = pm.to_markdown()
    assert "bad deploy" in md and "add canary" in md
    assert ic.PostMortem.from_json(pm.to_json()) == pm
    with pytest.raises(ic.InvalidInputError, match="action_items"):
        ic.build_post_mortem(inc, action_items=[{"owner": "bob"}])
    with pytest.raises(ic.InvalidInputError, match="due"):
        ic.build_post_mortem(inc, action_items=[{"description": "x", "due": "next week"}])


def test_drills_schedule_and_checklist() -> None:
    ds = ic.next_drills(T0, 4)
    assert len(ds) == 4 and all(d.starts_at > T0 for d in ds)
    assert {d.nth_friday for d in ds} <= {1, 2, 3, 4}
    assert ic.drill_on(ds[0].date) == ds[0].kind
    assert ic.drill_on(date(2024, 5, 4)) is None  # a Saturday
    assert ic.ScheduledDrill.from_json(ds[0].to_json()) == ds[0]
    cl = ic.ValidationChecklist()
    assert not cl.all_passed
    for item_id, _desc, outcome, _r in cl.items():
        assert outcome == "not_checked"
        cl.record(item_id, True)
    assert cl.all_passed
    cl.record("backups_running_successfully", False, "last backup 3 days old")
    assert not cl.all_passed and "3 days" in cl.to_text()
    assert cl.report()["all_passed"] is False
    assert ic.ValidationChecklist.from_json(cl.to_json()) == cl
    with pytest.raises(ic.InvalidInputError, match="checklist item"):
        cl.record("coffee_machine_working", True)


def test_run_validation_checklist_on_the_simulator() -> None:
    cl = ic.run_validation_checklist(ic.SimPlatform.from_scenario("bad-deploy"))
    assert isinstance(cl, ic.ValidationChecklist)
    # The runbook's targets name no monitoring endpoint: not checked, so not all passed; nothing failed.
    report = cl.report()
    assert report["failed"] == []
    assert report["unchecked"] == ["monitoring_and_alerting_operational"]
    assert not cl.all_passed
    services = next(i for i in report["items"] if i["id"] == "critical_services_responding")
    assert services["evidence"][0].startswith("ok: https://api.ml-platform.com/health: HTTP 200")
    # With a monitoring target the simulator answers, every item passes.
    policy = ic.Policy.parse('[checklist_targets]\nmonitoring = ["https://api.ml-platform.com/"]\n', "toml")
    assert ic.run_validation_checklist(ic.SimPlatform.from_scenario("bad-deploy"), policy=policy).all_passed
