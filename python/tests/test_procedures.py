"""Typed procedure parameters: one TypedDict per library procedure (incident_core.procedures), values typed
(int, datetime, timedelta, list of str), every check and message core's `procedure_from_spec`."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import incident_core as ic
from incident_core.procedures import PROCEDURE_PARAMS


def _core_keys(name: str) -> set[str]:
    """The keys core's `procedure_from_spec` accepts for `name`, from its own message for an unknown key."""
    with pytest.raises(ic.InvalidInputError) as e:
        ic.procedure(name, {"zz_not_a_param": "x"})
    m = re.search(r"\(known: ([^)]*)\)", str(e.value))
    assert m, str(e.value)
    return {k.strip() for k in m.group(1).split(",")}


def test_every_library_procedure_has_a_params_type() -> None:
    assert sorted(PROCEDURE_PARAMS) == sorted(ic.procedure_names())


@pytest.mark.parametrize("name", sorted(PROCEDURE_PARAMS))
def test_typed_keys_are_exactly_the_keys_core_accepts(name: str) -> None:
    typed = set(PROCEDURE_PARAMS[name].__annotations__)
    assert typed == _core_keys(name), name


def test_typed_values_mean_what_the_strings_mean() -> None:
    typed = ic.procedure(
        "application-rollback",
        ic.ApplicationRollbackParams(deployment="api", to_revision=3, min_ready=2, rollout_timeout=timedelta(minutes=5)),
    )
    strings = ic.procedure(
        "application-rollback", {"deployment": "api", "to_revision": "3", "min_ready": "2", "rollout_timeout": "5m"}
    )
    assert typed == strings
    assert typed != ic.procedure("application-rollback")
    at = datetime(2024, 5, 3, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    dr = ic.procedure(
        "database-recovery",
        ic.DatabaseRecoveryParams(mode="point-in-time", restore_time=at, available_timeout=timedelta(seconds=900)),
    )
    assert dr == ic.procedure(
        "database-recovery", {"mode": "point-in-time", "restore_time": "2024-05-03T12:00:00Z", "available_timeout": "15m"}
    )
    dc = ic.procedure("database-corruption", ic.DatabaseCorruptionParams(deployment=["api", "worker"]))
    assert dc == ic.procedure("database-corruption", {"deployment": "api,worker"})
    assert "worker" in dc.to_json()


def test_core_names_the_procedure_and_key_of_a_bad_value() -> None:
    with pytest.raises(ic.InvalidInputError, match=r"procedure application-rollback param `to_revision`: \"three\" is not a number"):
        ic.procedure("application-rollback", {"to_revision": "three"})
    with pytest.raises(ic.InvalidInputError, match=r"param `rollout_timeout`"):
        ic.procedure("application-rollback", {"rollout_timeout": timedelta(seconds=1.5)})
    with pytest.raises(ic.InvalidInputError, match=r"param `to_revision`"):
        ic.procedure("application-rollback", {"to_revision": -1})
    with pytest.raises(ic.InvalidInputError, match=r"unknown param\(s\) replica"):
        ic.procedure("traffic-management", {"replica": 20})
    with pytest.raises(ic.NotFoundError, match="no library procedure"):
        ic.procedure("no-such-procedure", {})


@pytest.mark.parametrize(
    "params, match",
    [
        ({"replicas": True}, "`replicas`: expected str, int, datetime or timedelta, not bool"),
        ({"replicas": 2.0}, "`replicas`: expected str, int, datetime, timedelta or a list of str, not float"),
        ({"deployment": ["a", 1]}, "`deployment`: a list must hold str values"),
        ({1: "x"}, "params keys must be str"),
    ],
)
def test_wrong_python_types_are_type_errors(params: dict[Any, Any], match: str) -> None:
    with pytest.raises(TypeError, match=match):
        ic.procedure("traffic-management", params)


def test_params_must_be_a_mapping() -> None:
    with pytest.raises(TypeError, match="params must be a mapping"):
        ic.procedure("traffic-management", [("replicas", 2)])  # type: ignore[call-overload]
    with pytest.raises(ic.InvalidInputError, match="naive"):
        ic.procedure("database-recovery", {"restore_time": datetime(2024, 1, 1)})
