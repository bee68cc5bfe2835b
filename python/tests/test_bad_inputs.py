"""The shared bad-input table (tests/fixtures/bad_inputs.json): the same bad input raises the same error kind
here as in Rust (crates/incident-core/tests/bad_inputs.rs) and Node (node/test/bad-inputs.test.mjs). The
bindings only convert core's error; the kinds are decided in core."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import incident_core as ic

ENTRIES: dict[str, Callable[[dict[str, Any]], object]] = {
    "parse_alerts": lambda i: ic.parse_alerts(i["source"], i["body"]),
    "severity": lambda i: ic.stakeholders_for(i["severity"], True, True),
    "policy": lambda i: ic.Policy(i["overrides"]),
    "checklist_record": lambda i: ic.ValidationChecklist().record(i["id"], i["passed"]),
}

CASES = json.loads((Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "bad_inputs.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[f"{c['entry']}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_gives_its_kind(case: dict[str, Any]) -> None:
    with pytest.raises(ic.IncidentError) as e:
        ENTRIES[case["entry"]](case["input"])
    assert e.value.kind == case["kind"], str(e.value)  # type: ignore[attr-defined]
