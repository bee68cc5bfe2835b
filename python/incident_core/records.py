"""Typed shapes of the plain dicts the store queries and evidence verification return: the wire JSON of the
Rust core (``incident_core::store::RunRecord`` / ``JournalEntry``, ``incident_core::evidence::Verification``).
Timestamps are RFC 3339 strings; hashes are lowercase hex SHA-256."""

from __future__ import annotations

from typing import Any, Literal, TypedDict, Union

RunStatusName = Literal["planned", "running", "succeeded", "failed", "compensated"]


class RunRecord(TypedDict):
    """A procedure run as stored (``Incidents.runs()`` / ``Incidents.run(run_id)``)."""

    run_id: str
    incident_id: str | None
    procedure: str
    plan: dict[str, Any]
    """The plan (the wire form of ``Plan``)."""
    approval: dict[str, Any] | None
    """The approval, once approved."""
    status: RunStatusName
    created_at: str
    updated_at: str


class JournalEntry(TypedDict):
    """One hash-chained entry of a run's write-ahead journal (``Incidents.journal(run_id)``)."""

    seq: int
    run_id: str
    step_id: str
    phase: Literal["intent", "outcome"]
    attempt: int
    owner: str
    at: str
    detail: Any
    prev_hash: str
    hash: str


class TimelineHead(TypedDict):
    """The newest event of a bundle's timeline."""

    incident_id: str
    events: int
    head: str


class JournalHead(TypedDict):
    """The newest entry of a bundle's run journal."""

    run_id: str
    entries: int
    head: str


class UnsignedCheck(TypedDict):
    status: Literal["unsigned"]


class SignedCheck(TypedDict):
    status: Literal["trusted", "valid"]
    key: str
    """The signer's public key (``ed25519:...``)."""


SignatureCheck = Union[UnsignedCheck, SignedCheck]
"""What verification found about the manifest's signature (``trusted``: by a key the policy trusts)."""


class EvidenceVerification(TypedDict):
    """What ``verify_evidence`` (``incident evidence verify DIR``) proved about a bundle: every check passed
    (a failed one raises ``IntegrityError`` instead)."""

    dir: str
    format: str
    files: list[str]
    timeline: TimelineHead
    journals: list[JournalHead]
    signature: SignatureCheck
    kind: Literal["drill", "incident"]
    evidence: list[str]


__all__ = [
    "EvidenceVerification",
    "JournalEntry",
    "JournalHead",
    "RunRecord",
    "RunStatusName",
    "SignatureCheck",
    "SignedCheck",
    "TimelineHead",
    "UnsignedCheck",
]
