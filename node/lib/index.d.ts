// Public types of `incident-core`: the declarations napi-rs generates from the Rust doc comments
// (../native/index.d.ts), the wire JSON shapes generated from the Rust types' JSON Schemas (./wire.d.ts,
// `PlanJson`, `TriageReportJson`, ...), plus the error classes of the thin JS layer (lib/index.cjs).

export * from '../native/index'
export * from './wire'
import type { ErrorKindJson } from './wire'

/**
 * The stable error codes, one per `incident_core::ErrorKind`: generated from core (`ErrorKindJson` in
 * lib/wire.d.ts, from the Rust type's JSON Schema), not written here.
 */
export type ErrorCode = ErrorKindJson

/** Every error this package throws or rejects with. `message` is the Rust message. */
export declare class IncidentError extends Error {
  constructor(message: string, code: ErrorCode, options?: { cause?: unknown })
  /** The stable kind. */
  readonly code: ErrorCode
  /** Retrying the same call may succeed (`unavailable`, `timeout`). */
  readonly retryable: boolean
  /** The lower-level cause's text, when the Rust error had one. */
  readonly detail?: string
}
/** A policy file or value is invalid (`code: 'policy'`). */
export declare class PolicyError extends IncidentError {
  constructor(message: string, options?: { cause?: unknown })
  readonly code: 'policy'
}
/** Malformed input: bad argument types, payloads, out-of-range values (`code: 'invalid_input'`). */
export declare class InvalidInputError extends IncidentError {
  constructor(message: string, options?: { cause?: unknown })
  readonly code: 'invalid_input'
}
/** The named object does not exist (`code: 'not_found'`). */
export declare class NotFoundError extends IncidentError {
  constructor(message: string, options?: { cause?: unknown })
  readonly code: 'not_found'
}
/** The object's state conflicts with the request, e.g. an illegal transition (`code: 'conflict'`). */
export declare class ConflictError extends IncidentError {
  constructor(message: string, options?: { cause?: unknown })
  readonly code: 'conflict'
}
/** A backend refused for lack of permission (`code: 'permission_denied'`). */
export declare class PermissionDeniedError extends IncidentError {
  constructor(message: string, options?: { cause?: unknown })
  readonly code: 'permission_denied'
}
/** A deadline passed (`code: 'timeout'`). */
export declare class TimeoutError extends IncidentError {
  constructor(message: string, options?: { cause?: unknown })
  readonly code: 'timeout'
}
/** A backend is unreachable or throttling (`code: 'unavailable'`). */
export declare class UnavailableError extends IncidentError {
  constructor(message: string, options?: { cause?: unknown })
  readonly code: 'unavailable'
}
/** Live state no longer matches what a plan expected (`code: 'precondition_failed'`). */
export declare class PreconditionFailedError extends IncidentError {
  constructor(message: string, options?: { cause?: unknown })
  readonly code: 'precondition_failed'
}
/** A guard rail refused the request (`code: 'refused'`). */
export declare class RefusedError extends IncidentError {
  constructor(message: string, options?: { cause?: unknown })
  readonly code: 'refused'
}
/** A timeline or journal failed its integrity check (`code: 'integrity'`). */
export declare class IntegrityError extends IncidentError {
  constructor(message: string, options?: { cause?: unknown })
  readonly code: 'integrity'
}
/** A bug, including a caught Rust panic (`code: 'internal'`). */
export declare class InternalError extends IncidentError {
  constructor(message: string, options?: { cause?: unknown })
  readonly code: 'internal'
}

/** Map an error from the native side onto its `IncidentError` subclass (already applied to every export). */
export declare function toIncidentError(e: unknown): unknown
/** Every error code. */
export declare const errorCodes: ErrorCode[]
