"""Classify an Alertmanager payload and run a simulator drill (the README's 10-line script)."""

# START quickstart
import json
from pathlib import Path

import incident_core as ic

payload = json.loads((Path(__file__).parents[2] / "crates/incident-core/tests/fixtures/alertmanager/firing-mixed.json").read_text())
for alert in ic.parse_alertmanager(payload).alerts:
    print(alert.name, alert.classification())
print(ic.classify(ic.ImpactFacts(outage="partial", customer_facing_errors=True)).severity)  # Severity.P1
report = ic.run_drill("bad-deploy", on_call="alice")
print(report.summary())
assert report.passed, report.failures
# END quickstart
