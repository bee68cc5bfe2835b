"""Typed shapes of the plain dicts that drills hand to Python: progress events (``run_drill(on_event=...)``)
and stage scores (``DrillReport.stages()``). They are the wire JSON of the Rust core: timestamps are
RFC 3339 strings, budgets human durations such as ``"15m"``."""

from __future__ import annotations

from typing import Literal, TypedDict, Union


class StageResult(TypedDict):
    """A stage's score."""

    stage: str
    started_at: str
    finished_at: str
    elapsed_secs: int
    budget: str | None
    within_budget: bool | None
    ok: bool


class StageStartedEvent(TypedDict):
    """A drill stage began (``at``: virtual time)."""

    event: Literal["stage_started"]
    stage: str
    budget: str | None
    at: str


class StageFinishedEvent(TypedDict):
    """A drill stage ended, with its score."""

    event: Literal["stage_finished"]
    result: StageResult


class LogEvent(TypedDict):
    """One line of the drill's live log."""

    event: Literal["log"]
    at: str
    text: str


DrillEvent = Union[StageStartedEvent, StageFinishedEvent, LogEvent]
"""One progress event of a drill; ``event`` says which."""

__all__ = ["DrillEvent", "LogEvent", "StageFinishedEvent", "StageResult", "StageStartedEvent"]
