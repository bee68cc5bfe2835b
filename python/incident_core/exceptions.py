"""The exception hierarchy of incident_core.

Every error raised by the library is an :class:`IncidentError`; each stable error kind of the Rust core
(``incident_core::ErrorKind``) has its own subclass. Instances carry ``kind`` (the stable string, e.g.
``"invalid_input"``) and ``retryable`` attributes. ``InvalidInputError`` is also a ``ValueError`` and
``IncidentTimeoutError`` also a builtin ``TimeoutError``. A Rust panic surfaces as ``InternalError``
with the panic message, never as a crash.
"""

from incident_core._native import (
    ConflictError,
    IncidentError,
    IncidentTimeoutError,
    IntegrityError,
    InternalError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    PolicyError,
    PreconditionFailedError,
    RefusedError,
    UnavailableError,
)

__all__ = [
    "ConflictError",
    "IncidentError",
    "IncidentTimeoutError",
    "IntegrityError",
    "InternalError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "PolicyError",
    "PreconditionFailedError",
    "RefusedError",
    "UnavailableError",
]
