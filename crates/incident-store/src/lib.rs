//! # incident-store
//!
//! Durable implementations of `incident_core::store::Store` (the port, its rules, the
//! [`MemoryStore`](incident_core::store::MemoryStore) and the conformance suite stay in `incident-core`):
//!
//! | feature | type | what |
//! |---|---|---|
//! | `sqlite` | [`SqliteStore`] | one SQLite file (bundled SQLite), the CLI's default store; WAL mode, `BEGIN IMMEDIATE` appends, safe across processes. Also an [`ArchiveStore`](incident_core::store::ArchiveStore): sealed, opened read-only and audited, it is an evidence bundle's `journal.sqlite` |
//! | `postgres` | [`PgStore`], [`PgStoreOptions`] | the team store in PostgreSQL (tokio-postgres, deadpool pool), shared by every process of a team; connection strings and error classification from `incident-datastores` |
//!
//! No feature is on by default: enable the stores you use (`incident-store = { features = ["sqlite"] }`).
//!
//! Both stores share one row codec (how incidents, events, runs, journal entries, recorded heads and
//! evidence items become columns and come back, with the same messages when a stored row does not
//! decode) and pass the
//! one conformance suite, `incident_core::store::conformance`, like the memory store:
//! `cargo test -p incident-store --all-features` runs it against memory, SQLite and PostgreSQL (the
//! PostgreSQL tests read `INCIDENT_TEST_PG_URL` from `scripts/services start`'s env file, and fail with
//! instructions when it is missing unless `INCIDENT_SKIP_SERVICES=1`).
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # fn main() -> incident_core::Result<()> {
//! use incident_store::SqliteStore;
//!
//! let store = SqliteStore::open_in_memory()?;
//! assert_eq!(store.path(), ":memory:");
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "sqlite"))]
//! # fn main() {}
//! ```

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod codec;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::{PgStore, PgStoreOptions};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
