//! [`PostgresProbe`]: the runbook's "Database Health Check", "Data Integrity Checks" and "Assess
//! Corruption Scope" as a read-only probe, plus the one maintenance action the runbook names
//! ([`vacuum_verbose_analyze`]), which needs an explicit [`MaintenanceApproval`].
//!
//! # Read-only by construction
//!
//! Every check runs in its own `BEGIN READ ONLY` transaction with `SET LOCAL statement_timeout` and
//! `SET LOCAL lock_timeout`, and is rolled back at the end: the server refuses any write (including
//! `nextval`) inside it. User-defined checks are wrapped as a scalar subquery, `SELECT ((<sql>))::float8`,
//! so they are one statement returning one number (no `;`-separated second statement, no second column).
//! Functions with side effects outside the transaction (`pg_terminate_backend`, `dblink`) are not stopped by
//! a read-only transaction: run the probe as a role with only `pg_monitor` and `SELECT` for defense in
//! depth. The probe never installs anything: without the `amcheck` extension the `amcheck` finding says so.
//!
//! # Findings
//!
//! | check | fails when |
//! |---|---|
//! | `connect` | the server cannot be reached or refuses the login (the only finding then) |
//! | `select_1` | `SELECT 1` fails (its round trip is the report's `latency_ms`) |
//! | `connections` | client connections ≥ `connections_fail` × `max_connections` (≥ `connections_warn`: `ok` with a `warning:` detail) |
//! | `long_queries` | a query runs, or a transaction idles, longer than `long_query_threshold` |
//! | `locks` | a session waits on a lock longer than `lock_wait_threshold` (names the blocker) |
//! | `replication` | a standby's replay lag exceeds `max_replication_lag` |
//! | `read_only` | `expect_writable` and the server is a standby or `default_transaction_read_only` is on |
//! | `constraints` | a constraint is `NOT VALID` (`pg_constraint WHERE NOT convalidated`) |
//! | `amcheck` | `bt_index_check` reports a corrupt index (or `require_amcheck` and it is not installed) |
//! | `integrity:<name>` | a [`IntegrityCheck`]'s number is outside its range, or its query fails |
//!
//! An unreachable server is **a report** (`healthy: false`, finding `connect` with the reason), not an
//! error, so triage shows it next to the other datastores; `probe()` returns `Err` only for a bug.
//! Warnings stay `ok: true` (with a `warning:` prefix) so `healthy == findings.all(ok)` always holds.

use std::fmt::Write as _;
use std::time::Duration;

use incident_core::backend::{DatastoreProbe, Finding, ProbeReport};
use incident_core::{Error, Result};
use serde::{Deserialize, Serialize};
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use crate::pg::{Notices, map_error, millis, with_client};
use crate::secret::ConnectionString;

/// The `application_name` of probe sessions (visible in `pg_stat_activity`).
pub const PROBE_APPLICATION_NAME: &str = "incident-core probe";

pub use incident_core::policy::IntegrityCheck;

/// The statement actually run for `check`: the query as a scalar subquery cast to `float8`, so it can only
/// be one statement returning one number.
fn wrapped_sql(check: &IntegrityCheck) -> String {
    let sql = check.sql.trim().trim_end_matches(';').trim_end();
    format!("SELECT (({sql}))::float8")
}

/// Settings of a [`PostgresProbe`]. Start from [`PostgresProbeConfig::new`] and change fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PostgresProbeConfig {
    /// Probe name (the report's `name`), `postgres` by default.
    pub name: String,
    /// Where to connect.
    pub url: ConnectionString,
    /// Connection deadline (TCP, TLS-less startup and authentication).
    pub connect_timeout: Duration,
    /// `statement_timeout` of every check query.
    pub statement_timeout: Duration,
    /// `lock_timeout` of every check query (amcheck waits for table locks).
    pub lock_timeout: Duration,
    /// Fraction of `max_connections` in use that is reported as a warning (0.80).
    pub connections_warn: f64,
    /// Fraction of `max_connections` in use that fails the check (0.95).
    pub connections_fail: f64,
    /// A query running (or a transaction idling) longer than this is reported (60 s).
    pub long_query_threshold: Duration,
    /// A session waiting for a lock longer than this is reported (5 s).
    pub lock_wait_threshold: Duration,
    /// Largest acceptable replay lag of a standby (30 s).
    pub max_replication_lag: Duration,
    /// A read-only server (standby, `default_transaction_read_only`) fails the `read_only` check (true;
    /// set false when probing a replica).
    pub expect_writable: bool,
    /// Fail the `amcheck` check when the extension is not installed (false: reported, not failed).
    pub require_amcheck: bool,
    /// At most this many B-tree indexes are checked with `bt_index_check`, smallest first (50).
    pub amcheck_max_indexes: u32,
    /// User-defined integrity checks.
    pub integrity_checks: Vec<IntegrityCheck>,
}

impl PostgresProbeConfig {
    /// Defaults for `url` (see each field).
    #[must_use]
    pub fn new(url: ConnectionString) -> Self {
        Self {
            name: "postgres".to_owned(),
            url,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            lock_timeout: Duration::from_secs(1),
            connections_warn: 0.80,
            connections_fail: 0.95,
            long_query_threshold: Duration::from_secs(60),
            lock_wait_threshold: Duration::from_secs(5),
            max_replication_lag: Duration::from_secs(30),
            expect_writable: true,
            require_amcheck: false,
            amcheck_max_indexes: 50,
            integrity_checks: Vec::new(),
        }
    }
}

/// A read-only PostgreSQL health and integrity probe (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct PostgresProbe {
    config: PostgresProbeConfig,
}

fn finding(check: impl Into<String>, ok: bool, detail: impl Into<String>) -> Finding {
    Finding { check: check.into(), ok, detail: detail.into() }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Typed column read that reports a type mismatch as an error instead of panicking.
fn col<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a tokio_postgres::Row, i: usize) -> Result<T> {
    row.try_get(i).map_err(|e| Error::internal(format!("unexpected column {i} in a probe query")).with_source(e))
}

impl PostgresProbe {
    /// A probe with `config`.
    #[must_use]
    pub fn new(config: PostgresProbeConfig) -> Self {
        Self { config }
    }

    /// A probe of `url` with default settings.
    #[must_use]
    pub fn with_defaults(url: ConnectionString) -> Self {
        Self::new(PostgresProbeConfig::new(url))
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &PostgresProbeConfig {
        &self.config
    }

    /// Run every check once (see the [module docs](self)).
    ///
    /// # Errors
    /// None in practice: connection failures become an unhealthy report.
    pub async fn run(&self) -> Result<ProbeReport> {
        let cfg = &self.config;
        let outcome = with_client(&cfg.url, PROBE_APPLICATION_NAME, cfg.connect_timeout, None, |client| async move {
            self.checks(&client).await
        })
        .await;
        let (latency_ms, findings) = match outcome {
            Ok(r) => r?,
            Err(e) => {
                (None, vec![finding("connect", false, format!("could not connect: {}", cfg.url.scrub(e.message())))])
            }
        };
        let healthy = findings.iter().all(|f| f.ok);
        Ok(ProbeReport { name: cfg.name.clone(), healthy, latency_ms, findings })
    }

    async fn checks(&self, client: &Client) -> Result<(Option<f64>, Vec<Finding>)> {
        let mut findings = Vec::new();
        // Latency of the `SELECT 1` round trip alone (tokio's monotonic clock; not a wall-clock read).
        let timed = async {
            let started = tokio::time::Instant::now();
            client.query_one("SELECT 1::int4", &[]).await.map(|row| (row, started.elapsed()))
        };
        let one = self.in_read_only(client, "select_1", timed).await;
        let latency_ms = match one {
            Ok((row, elapsed)) if col::<i32>(&row, 0)? == 1 => {
                let ms = elapsed.as_secs_f64() * 1000.0;
                findings.push(finding("select_1", true, format!("SELECT 1 in {ms:.1} ms")));
                Some(ms)
            }
            Ok(_) => {
                findings.push(finding("select_1", false, "SELECT 1 returned something else"));
                None
            }
            Err(e) => {
                findings.push(finding("select_1", false, e.message().to_owned()));
                None
            }
        };
        findings.push(self.checked("connections", self.connections(client)).await);
        findings.push(self.checked("long_queries", self.long_queries(client)).await);
        findings.push(self.checked("locks", self.locks(client)).await);
        findings.push(self.checked("replication", self.replication(client)).await);
        findings.push(self.checked("read_only", self.read_only(client)).await);
        findings.push(self.checked("constraints", self.constraints(client)).await);
        findings.push(self.checked("amcheck", self.amcheck(client)).await);
        for check in &self.config.integrity_checks {
            let name = format!("integrity:{}", check.name);
            findings.push(self.checked(&name, self.integrity(client, check)).await);
        }
        Ok((latency_ms, findings))
    }

    /// Run `fut` (a check that has not started yet) inside its own read-only transaction; an error becomes
    /// a failed finding named `check`.
    async fn checked(&self, check: &str, fut: impl Future<Output = Result<Finding>>) -> Finding {
        match fut.await {
            Ok(f) => f,
            Err(e) => finding(check, false, format!("check failed: {}", self.config.url.scrub(e.message()))),
        }
    }

    /// `BEGIN READ ONLY` + timeouts, `fut`, `ROLLBACK`. Query errors map to redacted errors.
    async fn in_read_only<T>(
        &self,
        client: &Client,
        op: &str,
        fut: impl Future<Output = std::result::Result<T, tokio_postgres::Error>>,
    ) -> Result<T> {
        let cfg = &self.config;
        let begin = format!(
            "BEGIN READ ONLY; SET LOCAL statement_timeout = {}; SET LOCAL lock_timeout = {}",
            millis(cfg.statement_timeout),
            millis(cfg.lock_timeout)
        );
        client.batch_execute(&begin).await.map_err(|e| map_error(&cfg.url, op, &e).with_source(e))?;
        let out = fut.await.map_err(|e| map_error(&cfg.url, op, &e).with_source(e));
        // Nothing to keep: always roll back (also clears an aborted transaction).
        client.batch_execute("ROLLBACK").await.map_err(|e| map_error(&cfg.url, op, &e).with_source(e))?;
        out
    }

    async fn query(
        &self,
        client: &Client,
        op: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>> {
        self.in_read_only(client, op, client.query(sql, params)).await
    }

    /// Query text of another session, safe for a report: passwords blanked, one line, at most 120 chars.
    fn query_text(&self, q: &str) -> String {
        let one_line: String = q.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut s = self.config.url.scrub(&one_line);
        if s.chars().count() > 120 {
            s = s.chars().take(117).collect::<String>() + "...";
        }
        s
    }

    async fn connections(&self, client: &Client) -> Result<Finding> {
        let cfg = &self.config;
        let rows = self
            .query(
                client,
                "connections",
                "SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int8, \
                        current_setting('max_connections')::int8, \
                        (SELECT coalesce(string_agg(u || '=' || n, ', ' ORDER BY n DESC, u), '') FROM \
                           (SELECT coalesce(usename::text, '?') AS u, count(*) AS n FROM pg_stat_activity \
                             WHERE backend_type = 'client backend' GROUP BY 1 ORDER BY 2 DESC LIMIT 3) top)",
                &[],
            )
            .await?;
        let row = rows.first().ok_or_else(|| Error::internal("connections query returned no row"))?;
        let (used, max, top): (i64, i64, String) = (col(row, 0)?, col(row, 1)?, col(row, 2)?);
        #[allow(clippy::cast_precision_loss)] // connection counts are small
        let ratio = if max > 0 { used as f64 / max as f64 } else { 1.0 };
        let pct = |r: f64| r * 100.0;
        let text = format!(
            "{used}/{max} connections in use ({:.0}%; warn at {:.0}%, fail at {:.0}%); top users: {top}",
            pct(ratio),
            pct(cfg.connections_warn),
            pct(cfg.connections_fail)
        );
        Ok(if ratio >= cfg.connections_fail {
            finding("connections", false, format!("exhausted: {text}"))
        } else if ratio >= cfg.connections_warn {
            finding("connections", true, format!("warning: {text}"))
        } else {
            finding("connections", true, text)
        })
    }

    async fn long_queries(&self, client: &Client) -> Result<Finding> {
        let threshold = secs(self.config.long_query_threshold);
        let rows = self
            .query(
                client,
                "long_queries",
                "SELECT pid, coalesce(usename::text, ''), coalesce(state, ''), \
                        extract(epoch FROM now() - CASE WHEN state = 'active' THEN query_start ELSE xact_start END)::float8, \
                        coalesce(query, '') \
                   FROM pg_stat_activity \
                  WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() \
                    AND ((state = 'active' AND now() - query_start > make_interval(secs => $1)) \
                      OR (state LIKE 'idle in transaction%' AND now() - xact_start > make_interval(secs => $1))) \
                  ORDER BY 4 DESC LIMIT 10",
                &[&threshold],
            )
            .await?;
        if rows.is_empty() {
            return Ok(finding("long_queries", true, format!("no query or open transaction older than {threshold}s")));
        }
        let mut detail = format!("{} session(s) over {threshold}s:", rows.len());
        for r in &rows {
            let (pid, user, state, age, q): (i32, String, String, f64, String) =
                (col(r, 0)?, col(r, 1)?, col(r, 2)?, col(r, 3)?, col(r, 4)?);
            let _ = write!(detail, " [pid {pid} {user} {state} {age:.1}s: {}]", self.query_text(&q));
        }
        Ok(finding("long_queries", false, detail))
    }

    async fn locks(&self, client: &Client) -> Result<Finding> {
        let threshold = secs(self.config.lock_wait_threshold);
        let rows = self
            .query(
                client,
                "locks",
                "SELECT a.pid, extract(epoch FROM now() - coalesce(a.query_start, a.state_change))::float8, \
                        coalesce(a.query, ''), \
                        coalesce((SELECT string_agg(b.pid || ' (' || coalesce(b.state, '?') || ': ' || \
                                   coalesce(b.query, '') || ')', '; ' ORDER BY b.pid) \
                                    FROM pg_stat_activity b WHERE b.pid = ANY (pg_blocking_pids(a.pid))), '') \
                   FROM pg_stat_activity a \
                  WHERE cardinality(pg_blocking_pids(a.pid)) > 0 \
                    AND now() - coalesce(a.query_start, a.state_change) > make_interval(secs => $1) \
                  ORDER BY 2 DESC LIMIT 10",
                &[&threshold],
            )
            .await?;
        if rows.is_empty() {
            return Ok(finding("locks", true, format!("no session waiting on a lock longer than {threshold}s")));
        }
        let mut detail = format!("{} blocked session(s):", rows.len());
        for r in &rows {
            let (pid, age, q, blockers): (i32, f64, String, String) = (col(r, 0)?, col(r, 1)?, col(r, 2)?, col(r, 3)?);
            let _ = write!(
                detail,
                " [pid {pid} waiting {age:.1}s: {} — blocked by {}]",
                self.query_text(&q),
                self.query_text(&blockers)
            );
        }
        Ok(finding("locks", false, detail))
    }

    async fn replication(&self, client: &Client) -> Result<Finding> {
        let max = secs(self.config.max_replication_lag);
        let rows = self
            .query(
                client,
                "replication",
                "SELECT pg_is_in_recovery(), \
                        extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8, \
                        pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn(), \
                        (SELECT count(*) FROM pg_stat_replication)::int8, \
                        (SELECT max(extract(epoch FROM replay_lag))::float8 FROM pg_stat_replication)",
                &[],
            )
            .await?;
        let row = rows.first().ok_or_else(|| Error::internal("replication query returned no row"))?;
        let (standby, lag, caught_up, replicas, replica_lag): (bool, Option<f64>, bool, i64, Option<f64>) =
            (col(row, 0)?, col(row, 1)?, col(row, 2)?, col(row, 3)?, col(row, 4)?);
        if !standby {
            let lag_text = replica_lag.map(|l| format!(", max replay lag {l:.1}s")).unwrap_or_default();
            return Ok(finding("replication", true, format!("primary; {replicas} standby(s) streaming{lag_text}")));
        }
        Ok(match lag {
            None => finding("replication", false, "standby has not replayed any transaction yet"),
            Some(_) if caught_up => {
                finding("replication", true, "standby caught up (all received WAL replayed)".to_owned())
            }
            Some(l) if l > max => finding("replication", false, format!("standby replay lag {l:.1}s exceeds {max}s")),
            Some(l) => finding("replication", true, format!("standby replay lag {l:.1}s (max {max}s)")),
        })
    }

    async fn read_only(&self, client: &Client) -> Result<Finding> {
        let rows = self
            .query(
                client,
                "read_only",
                "SELECT current_setting('default_transaction_read_only'), pg_is_in_recovery()",
                &[],
            )
            .await?;
        let row = rows.first().ok_or_else(|| Error::internal("read_only query returned no row"))?;
        let (default_ro, standby): (String, bool) = (col(row, 0)?, col(row, 1)?);
        let read_only = standby || default_ro == "on";
        let state = format!(
            "{} (default_transaction_read_only={default_ro}, in recovery: {standby})",
            if read_only { "read-only" } else { "read-write" }
        );
        Ok(finding("read_only", !(read_only && self.config.expect_writable), state))
    }

    async fn constraints(&self, client: &Client) -> Result<Finding> {
        let rows = self
            .query(
                client,
                "constraints",
                "SELECT conname::text, conrelid::regclass::text FROM pg_constraint WHERE NOT convalidated \
                  ORDER BY 2, 1",
                &[],
            )
            .await?;
        if rows.is_empty() {
            return Ok(finding("constraints", true, "all constraints validated"));
        }
        let names: Vec<String> = rows
            .iter()
            .take(20)
            .map(|r| Ok(format!("{} on {}", col::<String>(r, 0)?, col::<String>(r, 1)?)))
            .collect::<Result<_>>()?;
        let more =
            if rows.len() > names.len() { format!(" and {} more", rows.len() - names.len()) } else { String::new() };
        Ok(finding(
            "constraints",
            false,
            format!("{} constraint(s) not validated: {}{more}", rows.len(), names.join(", ")),
        ))
    }

    async fn amcheck(&self, client: &Client) -> Result<Finding> {
        let cfg = &self.config;
        let ext = self
            .query(
                client,
                "amcheck",
                "SELECT quote_ident(n.nspname), e.extversion FROM pg_extension e \
                   JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'amcheck'",
                &[],
            )
            .await?;
        let Some(ext) = ext.first() else {
            return Ok(finding(
                "amcheck",
                !cfg.require_amcheck,
                "amcheck not installed: index integrity not checked (CREATE EXTENSION amcheck to enable; the \
                 probe never installs it)",
            ));
        };
        let (schema, version): (String, String) = (col(ext, 0)?, col(ext, 1)?);
        let limit = i64::from(cfg.amcheck_max_indexes);
        let check_sql = format!("SELECT {schema}.bt_index_check($1::text::regclass)::text");
        let url = &cfg.url;
        let (checked, corrupt) = self
            .in_read_only(client, "amcheck", async {
                let indexes = client
                    .query(
                        "SELECT c.oid::regclass::text FROM pg_index i \
                           JOIN pg_class c ON c.oid = i.indexrelid \
                           JOIN pg_am am ON am.oid = c.relam \
                           JOIN pg_namespace n ON n.oid = c.relnamespace \
                          WHERE am.amname = 'btree' AND i.indisvalid AND i.indisready AND c.relpersistence <> 't' \
                            AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
                            AND n.nspname NOT LIKE 'pg_toast%' \
                          ORDER BY c.relpages, 1 LIMIT $1",
                        &[&limit],
                    )
                    .await?;
                let mut corrupt = Vec::new();
                let mut checked = 0usize;
                for row in &indexes {
                    let Ok(name) = row.try_get::<_, String>(0) else { continue };
                    client.batch_execute("SAVEPOINT amcheck_index").await?;
                    match client.query(&check_sql, &[&name]).await {
                        Ok(_) => {
                            checked += 1;
                            client.batch_execute("RELEASE SAVEPOINT amcheck_index").await?;
                        }
                        Err(e) => {
                            let why =
                                e.as_db_error().map_or_else(|| "check failed".to_owned(), |d| url.scrub(d.message()));
                            corrupt.push(format!("{name}: {why}"));
                            client.batch_execute("ROLLBACK TO SAVEPOINT amcheck_index").await?;
                        }
                    }
                }
                Ok((checked, corrupt))
            })
            .await?;
        Ok(if corrupt.is_empty() {
            finding("amcheck", true, format!("bt_index_check passed on {checked} index(es) (amcheck {version})"))
        } else {
            finding(
                "amcheck",
                false,
                format!("{} index(es) failed bt_index_check: {}", corrupt.len(), corrupt.join("; ")),
            )
        })
    }

    async fn integrity(&self, client: &Client, check: &IntegrityCheck) -> Result<Finding> {
        let name = format!("integrity:{}", check.name);
        let rows = self.query(client, &name, &wrapped_sql(check), &[]).await?;
        let value: Option<f64> = match rows.first() {
            Some(r) => col(r, 0)?,
            None => None,
        };
        let range = check.range_text();
        let Some(v) = value else {
            return Ok(finding(name, false, format!("returned no value ({range})")));
        };
        let ok = check.min.is_none_or(|lo| v >= lo) && check.max.is_none_or(|hi| v <= hi);
        let verdict = if ok { "in range" } else { "OUT OF RANGE" };
        Ok(finding(name, ok, format!("{v} {verdict} ({range})")))
    }
}

#[async_trait::async_trait]
impl DatastoreProbe for PostgresProbe {
    fn name(&self) -> &str {
        &self.config.name
    }

    async fn probe(&self) -> Result<ProbeReport> {
        self.run().await
    }
}

/// An explicit approval of a maintenance action: who approved it and why. Required by
/// [`vacuum_verbose_analyze`], so the action can never run as a side effect of a probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceApproval {
    approved_by: String,
    reason: String,
}

impl MaintenanceApproval {
    /// An approval by `approved_by` for `reason` (both must be non-blank).
    ///
    /// # Errors
    /// `InvalidInput` when either is blank.
    pub fn new(approved_by: impl Into<String>, reason: impl Into<String>) -> Result<Self> {
        let (approved_by, reason) = (approved_by.into(), reason.into());
        if approved_by.trim().is_empty() || reason.trim().is_empty() {
            return Err(Error::invalid_input("a maintenance approval needs who approved it and why"));
        }
        Ok(Self { approved_by, reason })
    }

    /// Who approved.
    #[must_use]
    pub fn approved_by(&self) -> &str {
        &self.approved_by
    }

    /// Why.
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// What [`vacuum_verbose_analyze`] vacuums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VacuumTarget {
    /// Every table of the database (the runbook's bare `VACUUM VERBOSE ANALYZE;`).
    Database,
    /// One table (`schema.table` or `table`, resolved with the connection's `search_path`).
    Table(String),
}

/// The outcome of an approved maintenance action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceReport {
    /// The statement run.
    pub statement: String,
    /// The approval it ran under.
    pub approval: MaintenanceApproval,
    /// The server's `VERBOSE` output (notices), at most [`MAX_OUTPUT_LINES`] lines, passwords scrubbed.
    pub output: Vec<String>,
    /// How long it took.
    pub elapsed_ms: f64,
}

/// Cap on [`MaintenanceReport::output`].
pub const MAX_OUTPUT_LINES: usize = 2000;

/// The runbook's "Check table integrity" step, `VACUUM (VERBOSE, ANALYZE)`: **writes** (it reclaims space and
/// updates statistics), so it runs only with an explicit approval and never from a probe. Runs outside a
/// transaction (VACUUM cannot run inside one) with `statement_timeout` = `timeout`.
///
/// # Errors
/// `NotFound` for an unknown table, `Timeout` past `timeout`, `Unavailable` when the server cannot be
/// reached, `PermissionDenied` without the privilege. Messages are redacted.
pub async fn vacuum_verbose_analyze(
    url: &ConnectionString,
    target: &VacuumTarget,
    approval: &MaintenanceApproval,
    timeout: Duration,
) -> Result<MaintenanceReport> {
    let notices = Notices::default();
    let app = "incident-core maintenance";
    let connect_timeout = timeout.min(Duration::from_secs(10));
    let (statement, elapsed_ms) = with_client(url, app, connect_timeout, Some(notices.clone()), |client| async move {
        let fail = |e: tokio_postgres::Error| map_error(url, "vacuum", &e).with_source(e);
        client.batch_execute(&format!("SET statement_timeout = {}", millis(timeout))).await.map_err(fail)?;
        let statement = match target {
            VacuumTarget::Database => "VACUUM (VERBOSE, ANALYZE)".to_owned(),
            VacuumTarget::Table(name) => {
                let row = client.query_opt("SELECT to_regclass($1::text)::text", &[name]).await.map_err(fail)?;
                let resolved: Option<String> = row.map(|r| col(&r, 0)).transpose()?.flatten();
                let resolved =
                    resolved.ok_or_else(|| Error::not_found(format!("postgres {url}: vacuum: no table {name:?}")))?;
                format!("VACUUM (VERBOSE, ANALYZE) {resolved}")
            }
        };
        let started = tokio::time::Instant::now();
        client.batch_execute(&statement).await.map_err(fail)?;
        Ok::<_, Error>((statement, started.elapsed().as_secs_f64() * 1000.0))
    })
    .await??;
    let output: Vec<String> = {
        let lines = notices.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        lines.iter().take(MAX_OUTPUT_LINES).map(|l| url.scrub(l)).collect()
    };
    Ok(MaintenanceReport { statement, approval: approval.clone(), output, elapsed_ms })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrity_sql_is_wrapped_as_one_scalar() {
        let c = IntegrityCheck::new("n", "  SELECT count(*) FROM t;  \n");
        assert_eq!(wrapped_sql(&c), "SELECT ((SELECT count(*) FROM t))::float8");
        assert_eq!(IntegrityCheck::new("a", "x").min(1.0).max(2.0).range_text(), "expected 1..=2");
        let runbook = incident_core::Policy::default().integrity_checks;
        assert_eq!(runbook.len(), 2);
        assert!(runbook.iter().all(|c| c.min == Some(1.0)));
    }

    #[test]
    fn approvals_need_a_name_and_a_reason() {
        assert!(MaintenanceApproval::new(" ", "why").is_err());
        assert!(MaintenanceApproval::new("carol", "").is_err());
        let a = MaintenanceApproval::new("carol", "corruption scope").expect("valid");
        assert_eq!((a.approved_by(), a.reason()), ("carol", "corruption scope"));
    }
}
