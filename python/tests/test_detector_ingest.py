"""Detector, and Alertmanager / PagerDuty ingest against the shared fixtures."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

import incident_core as ic

from conftest import T0


def test_detector_sustained_error_rate() -> None:
    d = ic.Detector()
    fired = []
    for minute in range(0, 8):
        obs = ic.Observation("api", T0 + timedelta(minutes=minute), ic.Signal.error_rate(0.07), customer_facing=True)
        got = d.observe(obs)
        if got:
            fired.append(got)
    assert len(fired) == 1
    dec = fired[0]
    assert dec.rule == "error_rate" and dec.service == "api"
    assert dec.sustained_for >= timedelta(minutes=5)
    assert dec.window_start == T0 and dec.declared_at.tzinfo is not None
    assert dec.classify().severity == ic.Severity.P1
    assert ic.Declaration.from_json(dec.to_json()) == dec
    assert d.is_declared("api", "error_rate")
    assert d.window_start("api", "error_rate") == T0
    assert d.stats()["declarations"] == 1
    d.forget("api")
    assert not d.is_declared("api", "error_rate")


def test_detector_observe_all_and_signals() -> None:
    d = ic.Detector(ic.Policy())
    obs = [ic.Observation("db", T0 + timedelta(minutes=m), ic.Signal.availability(False, whole_service=True)) for m in range(7)]
    decs = d.observe_all(obs)
    assert [x.rule for x in decs] == ["service_unavailable"]
    assert decs[0].facts.outage == "complete"
    assert ic.Observation.from_json(obs[0].to_json()) == obs[0]
    assert ic.Signal.latency(900, 300).kind == "latency"
    assert ic.Signal.security("leak").to_dict() == {"security": {"detail": "leak"}}
    assert ic.Signal.resolved("error_rate").kind == "resolved"
    assert ic.Signal.data_integrity("checksum").kind == "data_integrity"
    with pytest.raises(ic.InvalidInputError, match="naive"):
        ic.Observation("db", T0.replace(tzinfo=None), ic.Signal.error_rate(0.1))
    with pytest.raises(ic.InvalidInputError, match="observation service must not be empty"):
        ic.Observation(" ", T0, ic.Signal.error_rate(0.1))


def _expected(batch: ic.AlertBatch) -> list[dict[str, object]]:
    out = []
    for a in batch.alerts:
        c = a.classification()
        out.append(
            {
                "id": a.id,
                "name": a.name,
                "service": a.service,
                "status": a.status,
                "severity": c.severity.value if c.severity else None,
                "rules": [r.rule for r in c.reasons],
                "observation": json.loads(a.observation.to_json()) if a.observation else None,
            }
        )
    return out


@pytest.mark.parametrize(
    "source, parse",
    [
        ("alertmanager", ic.parse_alertmanager),
        ("pagerduty", ic.parse_pagerduty),
        ("grafana", ic.parse_grafana),
        ("cloudwatch", ic.parse_cloudwatch),
        ("datadog", ic.parse_datadog),
    ],
)
def test_fixtures_match_expected(fixtures: Path, source: str, parse) -> None:  # type: ignore[no-untyped-def]
    checked = 0
    for exp_file in sorted((fixtures / source).glob("*.expected.json")):
        stem = exp_file.name.removesuffix(".expected.json")
        expected = json.loads(exp_file.read_text())
        raw = (fixtures / source / f"{stem}.json").read_bytes()
        for payload in (raw, raw.decode(), json.loads(raw)):
            batch = parse(payload)
            assert batch.source == source
            assert _expected(batch) == expected["alerts"], stem
            assert batch.truncated_alerts == expected.get("truncated_alerts", 0)
            assert len(batch) == len(expected["alerts"])
        assert ic.AlertBatch.from_json(batch.to_json()) == batch
        a = batch.alerts[0]
        assert ic.IngestedAlert.from_json(a.to_json()) == a
        assert "IngestedAlert(" in repr(a)
        checked += 1
    assert checked >= 1


ALERT_SOURCES = ("alertmanager", "pagerduty", "grafana", "cloudwatch", "datadog")


@pytest.mark.parametrize("source", ALERT_SOURCES)
def test_parse_alerts_every_source_matches_expected(fixtures: Path, source: str) -> None:
    """The one dispatcher (core's `ingest::parse`) on every source's shared fixtures."""
    stems = [f.name.removesuffix(".expected.json") for f in sorted((fixtures / source).glob("*.expected.json"))]
    assert stems
    for stem in stems:
        expected = json.loads((fixtures / source / f"{stem}.expected.json").read_text())
        raw = (fixtures / source / f"{stem}.json").read_bytes()
        for payload in (raw, raw.decode(), json.loads(raw)):
            batch = ic.parse_alerts(source, payload)
            assert batch.source == source
            assert _expected(batch) == expected["alerts"], stem
            assert batch.truncated_alerts == expected.get("truncated_alerts", 0)
        assert ic.parse_alerts(source, raw, ic.Policy()) == batch


def test_parse_alerts_aliases_and_unknown_source(fixtures: Path) -> None:
    raw = (fixtures / "alertmanager" / "firing-mixed.json").read_bytes()
    assert ic.parse_alertmanager(raw) == ic.parse_alerts("alertmanager", raw)
    raw = (fixtures / "pagerduty" / "batch-lifecycle.json").read_bytes()
    assert ic.parse_pagerduty(raw) == ic.parse_alerts("pagerduty", raw)
    with pytest.raises(ic.InvalidInputError, match="unknown alert source \"nagios\" .*alertmanager, pagerduty"):
        ic.parse_alerts("nagios", raw)
    with pytest.raises(ic.InvalidInputError, match="grafana payload"):
        ic.parse_alerts("grafana", "{not json")


def test_named_parsers_are_the_dispatcher(fixtures: Path) -> None:
    """parse_grafana / parse_cloudwatch / parse_datadog: the same batches as `parse_alerts(source, ...)`, with
    core's errors naming the format."""
    for source, parse in (("grafana", ic.parse_grafana), ("cloudwatch", ic.parse_cloudwatch), ("datadog", ic.parse_datadog)):
        for f in sorted((fixtures / source).glob("*.json")):
            if f.name.endswith(".expected.json"):
                continue
            raw = f.read_bytes()
            assert parse(raw) == ic.parse_alerts(source, raw) == parse(raw, ic.Policy()), f
    with pytest.raises(ic.InvalidInputError, match="datadog"):
        ic.parse_datadog("{not json")
    with pytest.raises(ic.InvalidInputError, match="sns message"):
        ic.parse_cloudwatch({"Type": "Notification"})
    with pytest.raises(TypeError, match="payload must be"):
        ic.parse_grafana(42)  # type: ignore[arg-type]


def test_cloudwatch_alarm_without_the_sns_envelope(fixtures: Path) -> None:
    """parse_cloudwatch_alarm: the bare alarm (the SNS `Message`) maps to the same alerts as its envelope."""
    envelope = json.loads((fixtures / "cloudwatch" / "alarm.json").read_text())
    bare = ic.parse_cloudwatch_alarm(envelope["Message"])
    assert bare == ic.parse_cloudwatch(envelope)
    assert bare.source == "cloudwatch" and len(bare) == 1
    with pytest.raises(ic.InvalidInputError, match="cloudwatch alarm"):
        ic.parse_cloudwatch_alarm({"AlarmName": "x"})


def test_ingest_feeds_detector_and_classifier(fixtures: Path) -> None:
    batch = ic.parse_alertmanager((fixtures / "alertmanager" / "complete-outage.json").read_text())
    facts = [a.facts for a in batch.alerts if a.facts]
    assert facts and ic.classify(facts[0]).severity is not None
    d = ic.Detector()
    d.observe_all([a.observation for a in batch.alerts if a.observation])
    assert d.stats()["samples"] >= 1


def test_malformed_payloads(fixtures: Path) -> None:
    with pytest.raises(ic.InvalidInputError) as e:
        ic.parse_alertmanager((fixtures / "alertmanager" / "invalid-starts-at.json").read_bytes())
    assert "alertmanager payload" in str(e.value) and "startsAt" in str(e.value)
    with pytest.raises(ic.InvalidInputError) as e:
        ic.parse_pagerduty((fixtures / "pagerduty" / "invalid-timestamp.json").read_bytes())
    assert "timestamp" in str(e.value)
    with pytest.raises(ic.InvalidInputError, match="alertmanager payload"):
        ic.parse_alertmanager("{not json")
    with pytest.raises(ic.InvalidInputError):
        ic.parse_pagerduty(b"[1, 2]")
    with pytest.raises(ic.InvalidInputError):
        ic.parse_alertmanager({"version": "4", "status": "on fire", "alerts": []})
