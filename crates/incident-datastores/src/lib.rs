//! # incident-datastores
//!
//! Datastore probes for `incident-core` (triage):
//!
//! * [`PostgresProbe`]: the runbook's "Database Health Check", "Data Integrity Checks" and "Assess
//!   Corruption Scope" as a read-only [`DatastoreProbe`](incident_core::backend::DatastoreProbe):
//!   `SELECT 1` latency, connections vs `max_connections`, long queries, blocking locks, replication lag,
//!   read-only state, `NOT VALID` constraints, `amcheck`, and user-defined [`IntegrityCheck`]s. The one
//!   writing maintenance action, [`vacuum_verbose_analyze`], needs a [`MaintenanceApproval`].
//! * [`RedisProbe`]: `PING` latency and `INFO` (memory, clients, role, replication).
//! * [`secret`]: [`ConnectionString`], [`RedisUrl`] and [`Redacted`], so passwords never reach an error,
//!   a log line, a report or a journal entry.
//! * [`pg`]: the mapping of `tokio_postgres` errors onto `ErrorKind`s, shared with the PostgreSQL team
//!   store (`incident_store::PgStore`, feature `postgres` of `incident-store`, which moved out of this
//!   crate).
//!
//! # Choices
//!
//! * **tokio-postgres** rather than sqlx: the probe runs catalog queries whose shape is fixed and the
//!   store a dozen statements, so sqlx's compile-time checked macros (which need a database or an offline
//!   cache at build time) and its multi-database layers buy nothing; tokio-postgres is the lean async
//!   driver underneath most of the ecosystem, exposes SQLSTATE codes for precise error kinds, server
//!   notices (`VACUUM VERBOSE` output) and never formats the connection string into its errors.
//!   Probe connections are one-off and driven in the calling task (no spawned task, no pool).
//! * **A small RESP2 client** rather than the `redis` crate: see the [`redis`] module.
//! * **Unreachable datastores are reports, not errors**: `probe()` returns `healthy: false` with a
//!   `connect` finding carrying the (redacted) reason, like the simulator's probes, so triage lists it
//!   next to the healthy ones.
//! * **No TLS yet** (`NoTls`): fine on loopback and inside a cluster network; TLS (rustls) is future work.
//!
//! # Tests
//!
//! `scripts/services start` installs (if missing) and starts PostgreSQL 15 and Redis 7 on loopback and
//! writes `~/.cache/incident-core/services/env`; the integration tests read `INCIDENT_TEST_PG_URL` and
//! `INCIDENT_TEST_REDIS_URL` from the environment and fail with instructions when they are missing
//! (unless `INCIDENT_SKIP_SERVICES=1`).

pub mod pg;
pub mod postgres;
pub mod redis;
pub mod secret;

pub use postgres::{
    IntegrityCheck, MaintenanceApproval, MaintenanceReport, PostgresProbe, PostgresProbeConfig, VacuumTarget,
    vacuum_verbose_analyze,
};
pub use redis::{RedisProbe, RedisProbeConfig};
pub use secret::{ConnectionString, Redacted, RedisUrl};
