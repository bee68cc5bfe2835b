"""Entry points bound for API parity beyond the issue's list: policy queries (digest, escalation levels, paging at
declaration, contacts), Incident.transition(message=), emergency contacts and declaration notifications,
and the simulator's elapsed time, offsets, faults, API operations and image deploys."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import incident_core as ic

from conftest import T0


def test_policy_queries() -> None:
    p = ic.Policy()
    assert len(p.digest()) == 64 and p.digest() == ic.Policy().digest()
    other = ic.Policy({"severities": {"P0": {"response_time": "5m"}}})
    assert other.digest() != p.digest()
    levels = p.escalation_levels("P0")
    assert levels == [["on_call_engineer", "engineering_manager"], ["cto"]]
    assert p.escalation_levels(ic.Severity.P0) == levels
    # P0 pages at once at any hour; P3 (business hours) does not page on a Sunday night
    sunday_night = datetime(2024, 5, 5, 23, 0, tzinfo=timezone.utc)
    assert p.pages_at_declaration("P0", sunday_night) is True
    assert p.pages_at_declaration("P3", sunday_night) is False
    assert p.pages_at_declaration("P3", datetime(2024, 5, 7, 15, 0, tzinfo=timezone.utc)) is True  # a Tuesday
    with pytest.raises(ic.InvalidInputError, match="naive"):
        p.pages_at_declaration("P0", datetime(2024, 5, 5, 23, 0))
    with pytest.raises(ic.InvalidInputError, match="role"):
        p.contact("astronaut")
    cto = p.contact("cto")
    assert cto is not None and cto["only_for"] == ["P0"] and cto["phone"]
    assert ic.Policy({"contacts": []}).contact("cto") is None


def _incident() -> ic.Incident:
    req = ic.DeclareRequest("INC-X-1", "Checkout down", "P0", "alice", components=["checkout"], detected_at=T0)
    return ic.Incident.declare(req, now=T0)


def test_transition_with_message_is_kept_in_the_event() -> None:
    i = _incident()
    i.transition("identified", "alice", T0 + timedelta(minutes=5), message="bad deploy of checkout v2.3")
    ev = i.timeline.events()[-1]
    assert ev.kind == "status_changed"
    assert "bad deploy of checkout v2.3" in ev.to_json()
    with pytest.raises(ic.InvalidInputError, match="status message"):
        i.transition("monitoring", "alice", T0 + timedelta(minutes=6), message="  ")
    assert i.status == ic.Status.IDENTIFIED  # a refused change leaves it untouched


def test_emergency_contacts_and_declaration_notifications() -> None:
    i = _incident()
    assert i.emergency_contacts() == []  # "Checkout down" mentions no cloud infrastructure
    req = ic.DeclareRequest("INC-X-2", "RDS failover in us-east-1", "P0", "alice", components=["database"], detected_at=T0)
    aws = ic.Incident.declare(req, now=T0).emergency_contacts()
    assert [s.role for s in aws] == ["aws_support"]
    notes = i.declaration_notifications()
    assert notes and all(isinstance(n, dict) for n in notes)
    assert any("INC-X-1" in str(n) for n in notes)


def test_simulator_extras() -> None:
    p = ic.SimPlatform.from_scenario("bad-deploy")
    assert p.elapsed == timedelta(0)
    p.advance_to_offset(timedelta(minutes=3))
    assert p.elapsed == timedelta(minutes=3)
    p.advance_to_offset(60)  # never backwards
    assert p.elapsed == timedelta(minutes=3)

    faults = p.faults()
    assert faults["dark_regions"] == []
    p.set_faults({**faults, "dark_regions": ["us-east-1"]})
    assert p.faults()["dark_regions"] == ["us-east-1"]
    with pytest.raises(ic.InvalidInputError, match="faults"):
        p.set_faults({"no_such_fault": 1})
    p.set_faults(faults)

    assert p.api_operations() == []
    rev = p.deploy_image("ml-platform-primary", "ml-platform", "ml-inference-api", "registry/api:v9", "hotfix")
    assert isinstance(rev, int) and rev >= 2
    assert p.api_operations() == []  # a CI deploy is the scenario's, not the API's
    assert any("registry/api:v9" in str(op) for op in p.operation_log())
    with pytest.raises(ic.NotFoundError):
        p.deploy_image("ml-platform-primary", "ml-platform", "nope", "x")


def test_labels_and_alert_batch_views(fixtures: Path) -> None:
    assert [s.label for s in ic.Severity.all()] == ["Critical", "High", "Medium", "Low"]
    labels = [s.label for s in ic.stakeholders_for("P0", True, True)]
    assert labels and all(labels)
    batch = ic.parse_alertmanager((fixtures / "alertmanager" / "firing-mixed.json").read_bytes())
    assert batch.firing() == batch.alerts  # every alert of this payload fires
    resolved = ic.parse_alertmanager((fixtures / "alertmanager" / "resolved.json").read_bytes())
    assert len(resolved) > 0 and resolved.firing() == []
    assert [o.to_json() for o in batch.observations()] == [a.observation.to_json() for a in batch.alerts if a.observation]
    facts = batch.firing_facts()
    assert isinstance(facts, ic.ImpactFacts)
    assert ic.classify(facts).severity is not None


def test_ingested_alert_classification_under_a_policy(fixtures: Path) -> None:
    batch = ic.parse_alertmanager((fixtures / "alertmanager" / "firing-mixed.json").read_bytes())
    for a in batch.alerts:
        assert a.classification(ic.Policy()) == a.classification()
    # 850 ms -> 1.1 s is +29 %: under the default 50 % threshold, over a 20 % one
    payload = json.loads((fixtures / "alertmanager" / "firing-mixed.json").read_text())
    alert = next(a for a in payload["alerts"] if a["labels"]["alertname"] == "HighLatency")
    alert["annotations"]["value"] = "1.1s"
    latency = next(a for a in ic.parse_alertmanager(payload).alerts if a.name == "HighLatency")
    default_rules = [r.rule for r in latency.classification().reasons]
    strict_rules = [r.rule for r in latency.classification(ic.Policy({"declaration": {"latency_degradation_threshold": 0.2}})).reasons]
    assert default_rules != strict_rules
    assert strict_rules == ["performance_degradation_over50"]
