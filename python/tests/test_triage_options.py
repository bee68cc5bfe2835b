"""Every option of `incident triage` from Python (`incident_core::triage::TriageOptions`): since, git_repo,
log_selectors, error_patterns, top, recent_events, call_deadline, max_concurrency, on the simulator."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import incident_core as ic


def _platform() -> ic.SimPlatform:
    p = ic.SimPlatform.from_scenario("bad-deploy")
    p.advance(180)  # the bad rollout lands at 2m
    return p


def _report(**options: Any) -> dict[str, Any]:
    return ic.triage(_platform(), **options).to_dict()


def test_defaults_are_the_cli_defaults() -> None:
    d = _report()
    assert d["changes"] is None  # no `since`: no recent-changes section
    assert len(d["recent_events"]) > 2 and len(d["top_pods"]) > 1
    scans = {s["deployment"] for s in d["logs"]}
    assert "ml-platform/ml-inference-api" in scans  # every deployment of the namespace
    assert any(s["error_lines"] > 0 for s in d["logs"])  # the default pattern is "error"


def test_top_and_recent_events_bound_the_lists() -> None:
    d = _report(top=1, recent_events=2)
    assert len(d["top_pods"]) == 1 and len(d["top_nodes"]) <= 1
    assert len(d["recent_events"]) == 2


def test_error_patterns_replace_the_default() -> None:
    assert all(s["error_lines"] == 0 for s in _report(error_patterns=["no-such-text-in-any-log"])["logs"])
    assert any(s["error_lines"] > 0 for s in _report(error_patterns=["ERROR"])["logs"])  # case-insensitive
    assert _report(error_patterns=[]) == _report()  # empty keeps the default, as the CLI


def test_log_selectors_and_deployments() -> None:
    d = _report(log_selectors=["app=ml-inference-api"], log_deployments=["ml-inference-api"])
    scans = [s["deployment"] for s in d["logs"]]
    assert "ml-platform/app=ml-inference-api" in scans
    assert "ml-platform/ml-inference-api" in scans
    assert len(scans) == 2  # only what was asked for


def test_since_as_duration_string_timedelta_seconds_or_datetime() -> None:
    p = _platform()
    expected = p.now - timedelta(minutes=10)
    for since in ("10m", timedelta(minutes=10), 600, expected):
        changes = ic.triage(p, since=since).to_dict()["changes"]
        assert changes is not None, since
        # relative to the backend's clock when triage reads it (a few virtual milliseconds after `p.now`)
        since_at = datetime.fromisoformat(changes["since"].replace("Z", "+00:00"))
        assert timedelta(0) <= since_at - expected < timedelta(seconds=1), since
        assert [r["deployment"] for r in changes["rollouts"]] == ["ml-platform/ml-inference-api"], since
    # a window before the bad rollout (at 2m) lists no rollout
    assert ic.triage(p, since="30s").to_dict()["changes"]["rollouts"] == []


def test_git_repo_lists_commits_since(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@x"}
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "deploy checkout v2.3"], check=True, env=env)
    changes = ic.triage(_platform(), since="1h", git_repo=repo).to_dict()["changes"]
    assert [c["subject"] for c in changes["commits"]] == ["deploy checkout v2.3"]
    # not a repository: a finding in `missing`, not an exception (as the CLI)
    r = ic.triage(_platform(), since="1h", git_repo=tmp_path / "nope").to_dict()
    assert r["changes"]["commits"] == [] and any("git" in m["section"] for m in r["missing"])


def test_call_deadline_bounds_each_backend_call() -> None:
    assert not ic.triage(_platform()).partial
    for deadline in ("1s", timedelta(seconds=1), 1, 2.5):
        assert not ic.triage(_platform(), call_deadline=deadline).partial, deadline
    # a simulated call takes 50 ms of virtual time: 10 ms is too short for every section
    for deadline in (0.01, timedelta(milliseconds=10), 0):
        r = ic.triage(_platform(), call_deadline=deadline)
        assert r.partial, deadline
        assert {m["kind"] for m in r.to_dict()["missing"]} == {"timeout"}


def _sample_times(d: dict[str, Any]) -> list[str]:
    scan = next(s for s in d["logs"] if s["deployment"] == "ml-platform/ml-inference-api")
    return sorted({line.split(": ", 1)[1].split(" ", 1)[0] for line in scan["samples"]})


def test_max_concurrency_bounds_the_log_reads() -> None:
    # three pods' logs read at once (default 16) all answer at the same virtual instant; one at a time, each
    # read starts after the previous one (50 ms apart)
    assert len(_sample_times(_report())) == 1
    assert len(_sample_times(_report(max_concurrency=1))) == 3
    assert len(_sample_times(_report(max_concurrency=3))) == 1
    # the default is the policy's limits.max_concurrency, as in `incident triage`
    assert len(_sample_times(_report(policy=ic.Policy({"limits": {"max_concurrency": 1}})))) == 3
    assert len(_sample_times(_report(policy=ic.Policy({"limits": {"max_concurrency": 1}}), max_concurrency=8))) == 1


async def test_async_twin_takes_the_same_options() -> None:
    r = await ic.triage_async(_platform(), since="10m", top=1, recent_events=1, error_patterns=["x"], log_selectors=["app=ml-inference-api"])
    d = r.to_dict()
    assert d["changes"] is not None and len(d["recent_events"]) == 1 and len(d["top_pods"]) == 1
    assert [s["deployment"] for s in d["logs"]] == ["ml-platform/app=ml-inference-api"]


def test_bad_options_are_typed_errors() -> None:
    p = _platform()
    with pytest.raises(ic.InvalidInputError, match="duration \"5x\""):
        ic.triage(p, call_deadline="5x")
    with pytest.raises(ic.InvalidInputError, match="duration must be finite and >= 0"):
        ic.triage(p, since=-60)
    with pytest.raises(ic.InvalidInputError, match="naive"):
        ic.triage(p, since=datetime(2024, 1, 1))
    with pytest.raises(TypeError, match="timedelta, seconds or a duration string"):
        ic.triage(p, call_deadline=[5])  # type: ignore[arg-type]
    with pytest.raises(ic.InvalidInputError, match="namespace"):
        ic.triage(p, namespace=" ")
    with pytest.raises(OverflowError):
        ic.triage(p, top=-1)
