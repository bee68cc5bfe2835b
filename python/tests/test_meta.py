"""Version and stubs: every name the native module exports has a stub."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import incident_core as ic
from incident_core import _native

ROOT = Path(__file__).resolve().parents[2]
STUB = Path(ic.__file__).with_name("_native.pyi")


def test_version_matches_cargo_and_pyproject() -> None:
    cargo = (ROOT / "Cargo.toml").read_text()
    m = re.search(r'\[workspace\.package\][^\[]*?version = "([^"]+)"', cargo, re.S)
    assert m
    assert ic.__version__ == m.group(1) == _native.version()
    py = (ROOT / "python" / "pyproject.toml").read_text()
    assert f'version = "{m.group(1)}"' in py


def _stub_names() -> tuple[set[str], dict[str, set[str]]]:
    tree = ast.parse(STUB.read_text())
    top: set[str] = set()
    members: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            top.add(node.name)
        elif isinstance(node, ast.ClassDef):
            top.add(node.name)
            names = set()
            for b in node.body:
                if isinstance(b, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(b.name)
                elif isinstance(b, ast.AnnAssign) and isinstance(b.target, ast.Name):
                    names.add(b.target.id)
            members[node.name] = names
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            top.add(node.target.id)
        elif isinstance(node, ast.Assign):
            top.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return top, members


def test_every_native_name_has_a_stub() -> None:
    top, members = _stub_names()
    exported = {n for n in dir(_native) if not (n.startswith("__") and n != "__version__")}
    exported -= {"_native"}
    missing = sorted(exported - top)
    assert not missing, f"names without a stub in _native.pyi: {missing}"
    for name in exported:
        obj = getattr(_native, name)
        if isinstance(obj, type) and not issubclass(obj, BaseException):
            public = {m for m in vars(obj) if not m.startswith("_") or m in {"__init__"}}
            public.discard("__init__") if "__init__" not in vars(obj) else None
            lacking = sorted(m for m in public if m not in members.get(name, set()) and m != "__init__")
            assert not lacking, f"{name}: members without a stub: {lacking}"


def test_stubbed_names_exist() -> None:
    top, _ = _stub_names()
    # Type aliases of the stub itself (no runtime object in the native module).
    aliases = {"SeverityName", "StatusName", "OutageName", "RuleName", "PathLike", "SeverityLike", "StatusLike", "Payload", "RunStatusName", "Platform"}
    assert sorted(n for n in top - aliases if not hasattr(_native, n)) == []


def test_package_reexports_native() -> None:
    for name in ic.__all__:
        assert hasattr(ic, name), name


def test_readme_snippets_are_the_tested_examples() -> None:
    readme = (ROOT / "python" / "README.md").read_text()
    for name, marker in (("quickstart.py", "quickstart"), ("async_triage.py", "async_triage"), ("real_backends.py", "real_backends")):
        src = (ROOT / "python" / "examples" / name).read_text()
        m = re.search(rf"# START {marker}\n(.*?)# END {marker}\n", src, re.S)
        assert m, name
        assert m.group(1).strip() in readme, f"README snippet of {name} is stale"
