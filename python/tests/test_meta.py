"""Version and stubs: every name the native module exports has a stub."""

from __future__ import annotations

import ast
import inspect
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
    aliases = {"SeverityName", "StatusName", "OutageName", "RuleName", "PathLike", "DurationLike", "ParamValue", "SeverityLike", "StatusLike", "Payload", "RunStatusName", "Platform", "ResponseRoleName", "ReportSourceName", "_Rows", "_RunRecords", "_JournalEntries"}
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


def _stub_signatures() -> dict[str, ast.FunctionDef]:
    """Every stubbed function and method (not properties) by qualified name."""
    tree = ast.parse(STUB.read_text())
    out: dict[str, ast.FunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for b in node.body:
                if isinstance(b, ast.FunctionDef) and not any(isinstance(d, ast.Name) and d.id == "property" for d in b.decorator_list):
                    out[f"{node.name}.{b.name}"] = b
    return out


def _stub_params(fn: ast.FunctionDef) -> list[tuple[str, str]]:
    a = fn.args
    kinds = [(x.arg, "positional") for x in a.posonlyargs + a.args] + [(x.arg, "keyword") for x in a.kwonlyargs]
    return [(n, k) for n, k in kinds if n not in ("self", "cls")]


def test_stub_parameters_match_the_native_signatures() -> None:
    """Parameter names, order and keyword-only-ness of every stub match the native text signature (so a new
    keyword argument such as `Backends.connect(kubeconfig=...)` cannot be missing from the stubs)."""
    checked = 0
    for name, fn in _stub_signatures().items():
        owner, _, member = name.rpartition(".")
        if not owner:
            obj = getattr(_native, member, None)
        elif member == "__init__":  # the class's text signature is its constructor's
            obj = getattr(_native, owner)
        else:
            obj = getattr(getattr(_native, owner), member, None)
        if obj is None:
            continue
        try:
            sig = inspect.signature(obj)
        except (TypeError, ValueError):  # no text signature (e.g. a slot wrapper)
            continue
        native = [
            (p.name, "keyword" if p.kind is inspect.Parameter.KEYWORD_ONLY else "positional")
            for p in sig.parameters.values()
            if p.name not in ("self", "cls", "$self", "$cls", "$type") and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        ]
        assert native == _stub_params(fn), f"{name}: native {native} vs stub {_stub_params(fn)}"
        checked += 1
    assert checked > 100, checked
    kube = {"kube", "kubeconfig", "kube_context"}
    for name in ("Backends.connect", "Backends.connect_async"):
        assert kube <= {p for p, _ in _stub_params(_stub_signatures()[name])}, name
