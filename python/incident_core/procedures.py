"""Typed parameters of the library procedures, one ``TypedDict`` per procedure, for
``procedure(name, params)``. Every key is optional: a key left out keeps the runbook's default, which lives
in the Rust core (``incident_core::engine::library``), as do every check and message. Values are typed:
``int`` for counts, a timezone-aware ``datetime`` for instants, a ``timedelta`` (or a string such as
``"10m"``) for durations; the binding turns them into the strings core's ``procedure_from_spec`` parses,
and core names the procedure and the key of any value it refuses (``InvalidInputError``).

``tests/test_procedures.py`` checks these keys against the ones core accepts, so they cannot drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal, TypedDict, Union

Duration = Union[timedelta, str]
"""A ``timedelta`` in whole seconds, or a duration string (``"90s"``, ``"10m"``, ``"1h30m"``)."""

Instant = Union[datetime, str]
"""A timezone-aware ``datetime``, or an RFC 3339 string."""


class TrafficManagementParams(TypedDict, total=False):
    """``traffic-management`` (runbook "Traffic Management"): scale out, drain the degraded pod."""

    context: str
    namespace: str
    deployment: str
    replicas: int
    service: str
    degraded_pod: str


class ApplicationRollbackParams(TypedDict, total=False):
    """``application-rollback`` (runbook "Rollback Procedures"): roll back, then verify."""

    context: str
    namespace: str
    deployment: str
    to_revision: int
    min_ready: int
    health_url: str
    max_errors: int
    rollout_timeout: Duration


class DatabaseRecoveryParams(TypedDict, total=False):
    """``database-recovery`` (runbook "Database Recovery"): point-in-time restore or replica promotion."""

    mode: Literal["point-in-time", "promote-read-replica"]
    region: str
    source_instance: str
    target_instance: str
    restore_time: Instant
    replica_instance: str
    available_timeout: Duration


class RegionFailureParams(TypedDict, total=False):
    """``region-failure`` (runbook "Complete Region Failure"): fail over to the secondary region."""

    primary_region: str
    primary_context: str
    secondary_region: str
    secondary_context: str
    namespace: str
    deployment: str
    replicas: int
    replica_instance: str
    snapshot: str
    restore_target: str
    snapshot_instance: str
    zone_id: str
    record_name: str
    target: str
    health_url: str


class DatabaseCorruptionParams(TypedDict, total=False):
    """``database-corruption`` (runbook "Database Corruption"): stop writes, restore the last good state."""

    context: str
    namespace: str
    deployment: Union[str, Sequence[str]]
    config_map: str
    region: str
    source_instance: str
    target_instance: str
    restore_time: Instant
    probe: str


PROCEDURE_PARAMS: dict[str, type] = {
    "traffic-management": TrafficManagementParams,
    "application-rollback": ApplicationRollbackParams,
    "database-recovery": DatabaseRecoveryParams,
    "region-failure": RegionFailureParams,
    "database-corruption": DatabaseCorruptionParams,
}
"""The params type of each library procedure (the names of ``procedure_names()``)."""

__all__ = [
    "PROCEDURE_PARAMS",
    "ApplicationRollbackParams",
    "DatabaseCorruptionParams",
    "DatabaseRecoveryParams",
    "Duration",
    "Instant",
    "RegionFailureParams",
    "TrafficManagementParams",
]
