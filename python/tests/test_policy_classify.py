"""Policy loading/validation with the shared fixtures; classification."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

import incident_core as ic


def test_default_policy_and_files(fixtures: Path) -> None:
    p = ic.Policy()
    p.validate()
    assert p == ic.Policy.from_path(fixtures / "policy" / "default.toml")
    assert p == ic.Policy.from_path(str(fixtures / "policy" / "default.yaml"))
    assert p == ic.Policy.from_json((fixtures / "policy" / "default.json").read_text())
    assert p.response_time(ic.Severity.P0) == timedelta(minutes=15)
    assert p.response_time("P1") > p.response_time("P0")
    assert "Policy(response_time=" in repr(p)


def test_round_trips() -> None:
    p = ic.Policy()
    assert ic.Policy.from_toml(p.to_toml()) == p
    assert ic.Policy.from_yaml(p.to_yaml()) == p
    assert ic.Policy.from_json(p.to_json()) == p
    assert ic.Policy(p.to_dict()) == p


def test_overrides(fixtures: Path) -> None:
    for ext in ("toml", "yaml", "json"):
        o = ic.Policy.from_path(fixtures / "policy" / f"override.{ext}")
        assert o != ic.Policy()
    o = ic.Policy({"declaration": {"error_rate_threshold": 0.1}})
    assert o.to_dict()["declaration"]["error_rate_threshold"] == 0.1


def test_json_schema(fixtures: Path) -> None:
    schema = ic.Policy.json_schema()
    assert schema == json.loads((fixtures / "policy" / "policy.schema.json").read_text())


def test_invalid_policies_name_the_field(fixtures: Path) -> None:
    expected = json.loads((fixtures / "policy" / "invalid.expected.json").read_text())
    assert expected
    for name, msg in expected.items():
        with pytest.raises(ic.PolicyError) as e:
            ic.Policy.from_path(fixtures / "policy" / name)
        assert msg in str(e.value), name
        assert e.value.kind == "policy"
    with pytest.raises(ic.PolicyError, match="unknown field `nope`"):
        ic.Policy({"nope": 1})
    with pytest.raises(ic.IncidentError):
        ic.Policy.from_toml("not = [toml")
    with pytest.raises(ic.IncidentError, match="missing.toml"):
        ic.Policy.from_path("/nonexistent/missing.toml")
    with pytest.raises(ic.InvalidInputError):
        ic.Policy().stage_budget("", "")


def test_classify_rules() -> None:
    c = ic.classify(ic.ImpactFacts(outage="partial", customer_facing_errors=True))
    assert c.severity is ic.Severity.P1 or c.severity == ic.Severity.P1
    assert c.deciding == ["partial_outage", "customer_facing_errors"]
    assert [r.rule for r in c.reasons] == ["partial_outage", "customer_facing_errors"]
    assert c.reasons[0].severity == ic.Severity.P1
    assert str(c).startswith("P1")
    assert ic.classify({"outage": "complete"}).severity == ic.Severity.P0
    assert ic.classify({"performance_degradation_pct": 30}).severity == ic.Severity.P2
    assert ic.classify({"performance_degradation_pct": 60}).severity == ic.Severity.P1
    strict = ic.Policy({"declaration": {}})
    assert ic.classify({"cosmetic": True}, strict).severity == ic.Severity.P3
    empty = ic.classify(ic.ImpactFacts())
    assert empty.insufficient and empty.severity is None
    with pytest.raises(ic.InvalidInputError, match="insufficient facts"):
        empty.require_severity()
    assert len(ic.classification_rules()) == 14


def test_value_semantics() -> None:
    f = ic.ImpactFacts(outage="partial", service="api", customer_facing=True)
    assert f == ic.ImpactFacts.from_json(f.to_json())
    assert f.to_dict() == {"outage": "partial", "service": "api", "customer_facing": True}
    assert f.outage == "partial" and f.service == "api" and f.has_impact()
    assert "ImpactFacts(" in repr(f)
    c1, c2 = ic.classify(f), ic.classify(f.to_dict())
    assert c1 == c2 and hash(c1) == hash(c2)
    assert json.loads(c1.to_json())["severity"] == "P1"
    with pytest.raises(AttributeError):
        f.outage = "none"  # type: ignore[misc]
    with pytest.raises(ic.InvalidInputError, match="unknown field"):
        ic.ImpactFacts.from_json('{"outage": "partial", "x": 1}')
    with pytest.raises(ic.InvalidInputError):
        ic.ImpactFacts.from_json("{not json")


def test_enums() -> None:
    assert str(ic.Severity.P1) == "P1" and ic.Severity.P1.value == "P1"
    assert repr(ic.Status.IDENTIFIED) == "Status.IDENTIFIED"
    assert ic.Status.parse("identified") == ic.Status.IDENTIFIED
    assert ic.Severity.all() == [ic.Severity.P0, ic.Severity.P1, ic.Severity.P2, ic.Severity.P3]
    assert len({ic.Severity.P0, ic.Severity.P0, ic.Severity.P1}) == 2
    assert ic.Severity.P3.level == 3
