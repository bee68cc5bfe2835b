"""API parity: every public Rust entry point of incident-core and incident-backends (bindings/api-surface.txt,
generated from the sources by a Rust test) is either bound in Python (python/api-parity.toml [map], and the
name resolves on the installed package) or excluded with a reason ([exclude])."""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import incident_core as ic

ROOT = Path(__file__).resolve().parents[2]
SURFACE = ROOT / "bindings" / "api-surface.txt"
TABLE = ROOT / "python" / "api-parity.toml"


def read_surface(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _matches(key: str, line: str) -> bool:
    return line.startswith(key[:-1]) if key.endswith("*") else line == key


def resolve(module: ModuleType, dotted: str) -> Any:
    """`module.<dotted>`, or None when a part is missing. A class member is looked up on the class itself, so a
    property resolves to its descriptor."""
    obj: Any = module
    for part in dotted.split("."):
        try:
            obj = inspect.getattr_static(obj, part) if isinstance(obj, type) else getattr(obj, part)
        except AttributeError:
            return None
    return obj


def _usable(obj: Any) -> bool:
    return isinstance(obj, type) or callable(obj) or inspect.isdatadescriptor(obj) or isinstance(obj, (staticmethod, classmethod))


def problems(surface: list[str], table: dict[str, dict[str, str]], module: ModuleType) -> list[str]:
    """Every way `table` fails to cover `surface` on `module`, one line each (empty: parity holds)."""
    out: list[str] = []
    mapped, excluded = table.get("map", {}), table.get("exclude", {})
    if set(table) - {"map", "exclude"}:
        out.append(f"unknown tables: {sorted(set(table) - {'map', 'exclude'})}")
    if len(set(surface)) != len(surface):
        out.append("the surface lists a line twice")
    lines = set(surface)
    for key in sorted(set(mapped) & set(excluded)):
        out.append(f"{key}: both mapped and excluded")
    for line in surface:
        if line not in mapped and not any(_matches(k, line) for k in excluded):
            out.append(f"{line}: neither mapped nor excluded")
    for key in mapped:
        if key.endswith("*"):
            out.append(f"map {key}: a map key is one exact surface line, not a glob")
        elif key not in lines:
            out.append(f"map {key}: stale (no such surface line)")
    for key, reason in excluded.items():
        hits = [line for line in surface if _matches(key, line)]
        if not hits:
            out.append(f"exclude {key}: stale (matches no surface line)")
        elif all(h in mapped for h in hits):
            out.append(f"exclude {key}: every line it matches is mapped")
        if not reason.strip() or "\n" in reason:
            out.append(f"exclude {key}: the reason must be one non-blank line")
    for key, name in mapped.items():
        obj = resolve(module, name)
        if obj is None:
            out.append(f"map {key}: {name} does not resolve on {module.__name__}")
        elif not _usable(obj):
            out.append(f"map {key}: {name} is not a function, class, method or property")
    return out


def test_every_rust_entry_point_is_bound_or_excluded() -> None:
    surface = read_surface(SURFACE.read_text())
    assert len(surface) > 500
    table = tomllib.loads(TABLE.read_text())
    assert problems(surface, table, ic) == []
    # what the issue names is bound, not excluded
    for key in (
        "incident_core::ingest::grafana::parse",
        "incident_core::ingest::cloudwatch::parse",
        "incident_core::ingest::datadog::parse",
        "incident_core::lifecycle::Incidents::list",
        "incident_core::store::Store::timeline",
        "incident_core::store::Store::runs",
        "incident_core::store::Store::journal",
        "incident_core::evidence::verify",
        "incident_core::triage::triage",
        "incident_core::engine::library::procedure_from_spec",
    ):
        assert key in table["map"], key


class _Fake(ModuleType):
    class Thing:
        @property
        def prop(self) -> int:
            return 1

        def method(self) -> None: ...

    def func(self) -> None: ...

    value = 3


@pytest.mark.parametrize(
    "table, expected",
    [
        ({"map": {"a::f": "func", "a::T::m": "Thing.method", "a::T::p": "Thing.prop"}, "exclude": {"a::x::*": "internal"}}, []),
        ({"map": {"a::f": "func", "a::T::m": "Thing.method"}, "exclude": {"a::x::*": "internal"}}, ["a::T::p: neither mapped nor excluded"]),
        (
            {"map": {"a::f": "func", "a::T::m": "Thing.method", "a::T::p": "Thing.prop", "a::gone": "func"}, "exclude": {"a::x::*": "r"}},
            ["map a::gone: stale (no such surface line)"],
        ),
        (
            {"map": {"a::f": "func", "a::T::m": "Thing.method", "a::T::p": "Thing.prop"}, "exclude": {"a::x::*": "r", "b::*": "r"}},
            ["exclude b::*: stale (matches no surface line)"],
        ),
        (
            {"map": {"a::f": "nope", "a::T::m": "Thing.missing", "a::T::p": "value"}, "exclude": {"a::x::*": "r"}},
            [
                "map a::f: nope does not resolve on fake",
                "map a::T::m: Thing.missing does not resolve on fake",
                "map a::T::p: value is not a function, class, method or property",
            ],
        ),
        (
            {"map": {"a::f": "func", "a::T::m": "Thing.method", "a::T::p": "Thing.prop", "a::x::y": "func"}, "exclude": {"a::x::*": " "}},
            ["exclude a::x::*: every line it matches is mapped", "exclude a::x::*: the reason must be one non-blank line"],
        ),
    ],
)
def test_the_check_catches_each_kind_of_gap(table: dict[str, dict[str, str]], expected: list[str]) -> None:
    surface = ["a::f", "a::T::m", "a::T::p", "a::x::y"]
    assert problems(surface, table, _Fake("fake")) == expected
