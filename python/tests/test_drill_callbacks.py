"""Drill progress events (``on_event``) and interactive approvers (``approve=callable``)."""

from __future__ import annotations

import asyncio

import pytest

import incident_core as ic


def test_progress_events_arrive_in_order_before_the_report() -> None:
    events: list[ic.DrillEvent] = []
    r = ic.run_drill("bad-deploy", on_event=events.append)
    assert r.passed, r.failures
    kinds = [e["event"] for e in events]
    assert kinds[0] == "stage_started" and "log" in kinds and "stage_finished" in kinds
    started = [e["stage"] for e in events if e["event"] == "stage_started"]
    finished = [e["result"]["stage"] for e in events if e["event"] == "stage_finished"]
    # Stages may overlap (the status page is posted during first response): each starts once and finishes
    # once, and the finish order is the report's.
    assert sorted(started) == sorted(finished) and finished == [s["stage"] for s in r.stages()]
    first = events[0]
    assert first["event"] == "stage_started" and first["stage"] == "detection" and first["at"].endswith("Z")
    assert all(isinstance(e["text"], str) for e in events if e["event"] == "log")


def test_a_callable_approver_sees_the_plan_and_decides() -> None:
    seen: list[ic.Plan] = []

    def approve(plan: ic.Plan) -> bool:
        seen.append(plan)
        return True

    r = ic.run_drill("bad-deploy", approve=approve, approver="bob")
    assert r.passed and r.run is not None and r.run.status == "succeeded"
    assert len(seen) == 1 and seen[0] == r.plan and seen[0].procedure_name == "application-rollback"

    declined = ic.run_drill("bad-deploy", approve=lambda plan: False, monitor_for=60)
    assert not declined.passed and declined.run is None


def test_approver_and_observer_exceptions_propagate_unchanged() -> None:
    class Nope(Exception):
        pass

    def refuse(plan: ic.Plan) -> bool:
        raise Nope(f"not approving {plan.procedure_name}")

    with pytest.raises(Nope, match="not approving application-rollback"):
        ic.run_drill("bad-deploy", approve=refuse)
    with pytest.raises(TypeError, match="approve must return a bool, got str"):
        ic.run_drill("bad-deploy", approve=lambda plan: "yes")  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="approve: expected a bool or a callable taking a Plan, not int"):
        ic.run_drill("bad-deploy", approve=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="on_event: expected a callable"):
        ic.run_drill("bad-deploy", on_event="print")  # type: ignore[arg-type]

    calls: list[str] = []

    def observer(e: ic.DrillEvent) -> None:
        calls.append(e["event"])
        raise KeyError("observer broke")

    with pytest.raises(KeyError, match="observer broke"):
        ic.run_drill("bad-deploy", on_event=observer)
    assert calls == ["stage_started"], "not called again after raising"

    async def later(plan: ic.Plan) -> bool:
        return True

    with pytest.raises(TypeError, match="use run_drill_async for an async approver"):
        ic.run_drill("bad-deploy", approve=later)  # type: ignore[arg-type]


async def test_async_approver_and_events_under_asyncio() -> None:
    events: list[ic.DrillEvent] = []

    async def approve(plan: ic.Plan) -> bool:
        await asyncio.sleep(0.01)  # runs on the caller's event loop
        return plan.procedure_name == "application-rollback"

    r = await ic.run_drill_async("bad-deploy", approve=approve, on_event=events.append)
    assert r.passed, r.failures
    assert sum(e["event"] == "stage_finished" for e in events) == len(r.stages())

    async def boom(plan: ic.Plan) -> bool:
        raise RuntimeError("async approver failed")

    with pytest.raises(RuntimeError, match="async approver failed"):
        await ic.run_drill_async("bad-deploy", approve=boom)
