"""Per-call overhead of the native binding vs the same rules in pure Python.

    python python/bench.py            # from the repository root, with the wheel installed

Measures (best of 5 repeats, `timeit`):
  * classify: one sync call with a prebuilt `ImpactFacts`, with a dict, and the pure-Python classifier
    (the runbook's severity matrix, same rule order) on the same facts; target <= 2 us per sync call;
  * batch ingest: one Alertmanager payload of 500 alerts (the policy's per-payload maximum) parsed,
    mapped (context, first matching rule, severity fallback) and classified, native vs pure Python.
The pure-Python versions are checked to agree with the native results before timing.
"""

from __future__ import annotations

import copy
import json
import sys
import timeit
from pathlib import Path
from typing import Any

# Running `python python/bench.py` puts python/ first on sys.path, where the source tree's incident_core
# (without the compiled _native) would shadow the installed wheel.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import incident_core as ic  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# -- pure-Python severity matrix (the same rules and order as incident_core::classify) ------------------
RULES: list[tuple[str, str]] = [
    ("complete_outage", "P0"), ("data_loss_or_corruption", "P0"), ("security_breach", "P0"),
    ("revenue_impact", "P0"), ("partial_outage", "P1"), ("performance_degradation_over50", "P1"),
    ("key_feature_unavailable", "P1"), ("customer_facing_errors", "P1"), ("minor_feature_issues", "P2"),
    ("performance_degradation_under50", "P2"), ("non_customer_facing_errors", "P2"), ("cosmetic", "P3"),
    ("documentation", "P3"), ("improvement", "P3"),
]


def py_classify(f: dict[str, Any], threshold: float = 50.0) -> tuple[str | None, list[str]]:
    p = f.get("performance_degradation_pct")
    if p is not None and (p != p or p < 0 or p == float("inf")):
        raise ValueError("performance_degradation_pct must be a finite percentage >= 0")
    fired = {
        "complete_outage": f.get("outage") == "complete",
        "data_loss_or_corruption": f.get("data_loss_or_corruption", False),
        "security_breach": f.get("security_breach", False),
        "revenue_impact": f.get("revenue_impact", False),
        "partial_outage": f.get("outage") == "partial",
        "performance_degradation_over50": p is not None and p > threshold,
        "key_feature_unavailable": f.get("key_feature_unavailable", False),
        "customer_facing_errors": f.get("customer_facing_errors", False),
        "minor_feature_issues": f.get("minor_feature_issue", False),
        "performance_degradation_under50": p is not None and 0 < p <= threshold,
        "non_customer_facing_errors": f.get("non_customer_facing_errors", False),
        "cosmetic": f.get("cosmetic", False),
        "documentation": f.get("documentation", False),
        "improvement": f.get("improvement", False),
    }
    rules = [r for r, _ in RULES if fired[r]]
    sev = next((s for r, s in RULES if fired[r]), None)
    return sev, rules


# -- pure-Python Alertmanager mapping (default ingest policy: context, rules, severity fallback) ---------
AM_RULES: list[tuple[dict[str, str], str, dict[str, Any]]] = [
    ({"alertname": "ServiceDown", "scope": "complete"}, "service_unavailable", {"outage": "complete"}),
    ({"alertname": "ServiceDown"}, "service_unavailable", {}),
    ({"alertname": "HighErrorRate"}, "error_rate", {}),
    ({"alertname": "HighLatency"}, "performance_degradation", {}),
    ({"alertname": "DataIntegrityCheckFailed"}, "data_integrity", {}),
    ({"alertname": "SecurityIncident"}, "security", {}),
]
SEVERITY_FACTS = {"critical": {"customer_facing_errors": True}, "error": {"non_customer_facing_errors": True},
                  "warning": {"minor_feature_issue": True}, "info": {}}


def _fraction(s: str) -> float | None:
    s = s.strip()
    try:
        return float(s[:-1]) / 100 if s.endswith("%") else float(s)
    except ValueError:
        return None


def _ms(s: str) -> float | None:
    s = s.strip()
    for suffix, k in (("ms", 1.0), ("us", 0.001), ("s", 1000.0)):
        if s.endswith(suffix):
            try:
                return float(s[: -len(suffix)]) * k
            except ValueError:
                return None
    try:
        return float(s)
    except ValueError:
        return None


def py_parse_alertmanager(body: bytes) -> list[tuple[str | None, list[str]]]:
    doc = json.loads(body)
    if doc.get("version") != "4" or not isinstance(doc.get("alerts"), list):
        raise ValueError("alertmanager payload")
    out = []
    for a in doc["alerts"]:
        labels: dict[str, str] = a.get("labels", {})
        ann: dict[str, str] = a.get("annotations", {})
        service = labels.get("service") or next((labels[k] for k in ("app", "job", "group") if k in labels), None)
        cf = labels.get("customer_facing", "").lower()
        customer_facing = True if cf in ("true", "yes", "1") else False if cf in ("false", "no", "0") else None
        facts: dict[str, Any] = {}
        for match, signal, extra in AM_RULES:
            if all(labels.get(k) == v for k, v in match.items()):
                if signal == "service_unavailable":
                    facts["outage"] = "partial"
                    if customer_facing:
                        facts["customer_facing_errors"] = True
                elif signal == "error_rate":
                    facts["customer_facing_errors" if customer_facing else "non_customer_facing_errors"] = True
                elif signal == "performance_degradation":
                    v, b = _ms(ann.get("value", "")), _ms(ann.get("baseline", ""))
                    if v is not None and b:
                        facts["performance_degradation_pct"] = (v - b) / b * 100
                elif signal == "data_integrity":
                    facts["data_loss_or_corruption"] = True
                elif signal == "security":
                    facts["security_breach"] = True
                facts.update(extra)
                break
        if not any(k != "service" for k in facts):
            facts = dict(SEVERITY_FACTS.get(labels.get("severity", "").strip().lower(), {}))
        out.append(py_classify(facts) if facts else (None, []))
    return out


def best(stmt: Any, number: int) -> float:
    return min(timeit.repeat(stmt, number=number, repeat=5)) / number


def main() -> None:
    facts = ic.ImpactFacts(outage="partial", customer_facing_errors=True, performance_degradation_pct=60.0)
    as_dict = facts.to_dict()
    assert ic.classify(facts).severity == ic.Severity.P1 and py_classify(as_dict)[0] == "P1"
    assert [r.rule for r in ic.classify(facts).reasons] == py_classify(as_dict)[1]
    n = 200_000
    t_obj = best(lambda: ic.classify(facts), n)
    t_dict = best(lambda: ic.classify(as_dict), n // 4)
    t_py = best(lambda: py_classify(as_dict), n)
    t_empty = best(lambda: ic._native.version(), n)
    print(f"classify (native, ImpactFacts)    {t_obj * 1e6:7.3f} us/call   target <= 2 us: {'OK' if t_obj <= 2e-6 else 'MISSED'}")
    print(f"classify (native, dict)           {t_dict * 1e6:7.3f} us/call")
    print(f"classify (pure Python, dict)      {t_py * 1e6:7.3f} us/call")
    print(f"empty native call (version())     {t_empty * 1e6:7.3f} us/call   (binding floor)")

    src = json.loads((ROOT / "crates/incident-core/tests/fixtures/alertmanager/firing-mixed.json").read_text())
    alerts = src["alerts"]
    big = copy.deepcopy(src)
    big["alerts"] = [copy.deepcopy(alerts[i % len(alerts)]) for i in range(500)]
    body = json.dumps(big).encode()
    native = [(a.classification().severity, a.classification()) for a in ic.parse_alertmanager(body).alerts]
    pure = py_parse_alertmanager(body)
    assert [s.value if s else None for s, _ in native] == [s for s, _ in pure], "pure-Python mapping disagrees"
    m = 50
    t_nat = best(lambda: ic.parse_alertmanager(body), m)
    t_nat_cls = best(lambda: [a.classification() for a in ic.parse_alertmanager(body).alerts], m)
    t_pure = best(lambda: py_parse_alertmanager(body), m)
    kib = len(body) / 1024
    print(f"batch ingest 500 alerts ({kib:.0f} KiB), native parse        {t_nat * 1e3:7.3f} ms  ({t_nat / 500 * 1e6:.2f} us/alert)")
    print(f"batch ingest 500 alerts, native parse + classify each   {t_nat_cls * 1e3:7.3f} ms  ({t_nat_cls / 500 * 1e6:.2f} us/alert)")
    print(f"batch ingest 500 alerts, pure Python (json + rules)     {t_pure * 1e3:7.3f} ms  ({t_pure / 500 * 1e6:.2f} us/alert)")


if __name__ == "__main__":
    main()
