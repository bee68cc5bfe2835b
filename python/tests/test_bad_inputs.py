"""The shared bad-input table (crates/incident-core/tests/fixtures/bad_inputs.json): the same bad input raises the same error kind
here as in Rust (crates/incident-core/tests/bad_inputs.rs) and Node (node/test/bad-inputs.test.mjs). The
bindings only convert core's error; the kinds are decided in core."""

import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import incident_core as ic

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)

ENTRIES: dict[str, Callable[[dict[str, Any]], object]] = {
    "parse_alerts": lambda i: ic.parse_alerts(i["source"], i["body"]),
    "severity": lambda i: ic.stakeholders_for(i["severity"], True, True),
    "policy": lambda i: ic.Policy(i["overrides"]),
    "checklist_record": lambda i: ic.ValidationChecklist().record(i["id"], i["passed"]),
    "actor": lambda i: _declared().acknowledge(i["actor"]),
    "on_call": lambda i: ic.run_drill("bad-deploy", on_call=i["on_call"]),
    "observation": lambda i: ic.Observation(i["service"], T0, ic.Signal.error_rate(0.1)),
    "stage_budget": lambda i: ic.Policy().stage_budget(i["procedure"], i["stage"]),
    "triage": lambda i: ic.triage(ic.SimPlatform.from_scenario("bad-deploy"), namespace=i["namespace"]),
    "policy_format": lambda i: ic.Policy.parse(i["text"], i["format"]),
    "signal": lambda i: ic.Signal.error_rate(i["value"]) if i["kind"] == "error_rate" else ic.Signal.latency(10, i["value"]),
}


def _declared() -> ic.Incident:
    req = ic.DeclareRequest("INC-9", "x", ic.Severity.P2, "alice", started_at=T0, detected_at=T0)
    return ic.Incident.declare(req, now=T0)

CASES = json.loads((Path(__file__).resolve().parents[2] / "crates" / "incident-core" / "tests" / "fixtures" / "bad_inputs.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[f"{c['entry']}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_gives_its_kind(case: dict[str, Any]) -> None:
    with pytest.raises(ic.IncidentError) as e:
        ENTRIES[case["entry"]](case["input"])
    assert e.value.kind == case["kind"], str(e.value)  # type: ignore[attr-defined]
