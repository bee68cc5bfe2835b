"""The exception hierarchy, panics, and wrong Python types."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

import incident_core as ic
from incident_core import _native, exceptions


def test_hierarchy() -> None:
    kinds = [
        exceptions.PolicyError,
        exceptions.InvalidInputError,
        exceptions.NotFoundError,
        exceptions.ConflictError,
        exceptions.PermissionDeniedError,
        exceptions.IncidentTimeoutError,
        exceptions.UnavailableError,
        exceptions.PreconditionFailedError,
        exceptions.RefusedError,
        exceptions.IntegrityError,
        exceptions.InternalError,
    ]
    for k in kinds:
        assert issubclass(k, ic.IncidentError), k
        assert issubclass(k, Exception)
        assert k.__module__ == "incident_core._native"
    assert issubclass(ic.IncidentError, Exception)
    assert issubclass(ic.InvalidInputError, ValueError)
    assert issubclass(ic.IncidentTimeoutError, TimeoutError)
    assert ic.InvalidInputError is _native.InvalidInputError


def test_error_attributes() -> None:
    with pytest.raises(ic.InvalidInputError) as e:
        ic.Severity.parse("P9")
    assert e.value.kind == "invalid_input"
    assert e.value.retryable is False
    assert str(e.value) == 'severity: "P9" is not one of P0, P1, P2, P3'


def test_sync_panic_is_internal_error_and_interpreter_survives() -> None:
    with pytest.raises(ic.InternalError) as e:
        _native._panic_for_tests("kaboom 42")
    assert str(e.value) == "panic: kaboom 42"
    assert isinstance(e.value, ic.IncidentError)
    assert e.value.kind == "internal"
    # still alive and working
    assert ic.classify({"outage": "complete"}).severity == ic.Severity.P0


async def test_async_panic_is_internal_error() -> None:
    with pytest.raises(ic.InternalError, match="^panic: async kaboom$"):
        await _native._panic_for_tests_async("async kaboom")
    await asyncio.sleep(0)


def test_panic_in_subprocess_exits_cleanly() -> None:
    code = (
        "import incident_core as ic\n"
        "from incident_core import _native\n"
        "try:\n    _native._panic_for_tests('x')\nexcept ic.InternalError as e:\n    print('caught', e)\n"
        "print('alive')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "caught panic: x" in out.stdout and "alive" in out.stdout


@pytest.mark.parametrize(
    "call, exc, msg",
    [
        (lambda: ic.classify(42), TypeError, "facts must be ImpactFacts or a mapping, not int"),
        (lambda: ic.classify({"outage": "sideways"}), ic.InvalidInputError, "unknown variant `sideways`"),
        (lambda: ic.classify({"colour": "red"}), ic.InvalidInputError, "unknown field `colour`"),
        (lambda: ic.classify({"performance_degradation_pct": -5}), ic.InvalidInputError, "performance_degradation_pct must be a finite percentage >= 0 (got -5)"),
        (lambda: ic.ImpactFacts(outage="sideways"), ic.InvalidInputError, 'outage: "sideways" is not one of none, partial, complete'),
        (lambda: ic.ImpactFacts(outage=3), TypeError, "outage must be a str"),  # type: ignore[arg-type]
        (lambda: ic.ImpactFacts(performance_degradation_pct=float("nan")), ic.InvalidInputError, "finite percentage"),
        (lambda: ic.ImpactFacts(cosmetic="yes"), TypeError, "'str' object is not an instance of 'bool'"),  # type: ignore[arg-type]
        (lambda: ic.Severity.parse(1), TypeError, "severity must be a str"),  # type: ignore[arg-type]
        (lambda: ic.Status.parse("done"), ic.InvalidInputError, 'status: "done" is not one of investigating, identified, monitoring, resolved'),
        (lambda: ic.channel_name("2024-05-03"), TypeError, "expected a timezone-aware datetime, not str"),  # type: ignore[arg-type]
        (lambda: ic.parse_alertmanager(12), TypeError, "payload must be str, bytes, a mapping or a list, not int"),  # type: ignore[arg-type]
        (lambda: ic.Policy(["x"]), TypeError, "policy overrides must be a mapping, not list"),  # type: ignore[arg-type]
        (lambda: ic.Signal.error_rate(1.5), ic.InvalidInputError, "error_rate is a ratio 0..1 (0.07 = 7 %), got 1.5"),
        (lambda: ic.Signal.latency(10, 0), ic.InvalidInputError, "baseline_ms must be finite and > 0, got 0"),
        (lambda: ic.Signal.resolved("bogus"), ic.InvalidInputError, "declaration rule: \"bogus\" is not one of"),  # type: ignore[arg-type]
        (lambda: ic.next_drills(ic.SimPlatform.from_scenario("bad-deploy").now, -1), ic.InvalidInputError, "count must be >= 0, got -1"),
        (lambda: ic.Detector().observe("obs"), TypeError, "'str' object is not an instance of 'Observation'"),  # type: ignore[arg-type]
    ],
)
def test_wrong_types_and_values(call, exc, msg) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(exc) as e:
        call()
    assert msg in str(e.value)


# (value echoed by the error, secret that must not appear, what must appear instead); the same cases as
# node/test/errors.test.mjs.
SECRET_CASES = [
    ("postgres://app:Hunter2-Py-Secret@db.internal:5432/prod", "Hunter2-Py-Secret", "postgres://***@db.internal"),
    ("host=db user=app password=Hunter2-Py-Secret", "Hunter2-Py-Secret", "password=***"),
    ("xoxb-1234-Py-Slack-Token", "Py-Slack-Token", "***"),
    ("AKIAIOSFODNN7EXAMPLE", "IOSFODNN7EXAMPLE", "AKIA***"),
]


@pytest.mark.parametrize(("value", "secret", "shown"), SECRET_CASES)
def test_secrets_in_messages_are_scrubbed(value: str, secret: str, shown: str) -> None:
    """A DSN password (or token) in an error message never reaches the caller: every message goes through
    core's redaction rules (incident_core::redact::scrub) at the boundary, as Node's errors do."""
    # An unknown severity is echoed in the message: a secret pasted in the wrong place.
    with pytest.raises(ic.InvalidInputError) as e:
        ic.stakeholders_for(value, True, True)
    text = str(e.value) + repr(e.value)
    assert secret not in text, text
    assert shown in str(e.value), str(e.value)
