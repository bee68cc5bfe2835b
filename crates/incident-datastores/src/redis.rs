//! [`RedisProbe`]: the runbook's `redis-cli ping`, plus `INFO` (memory, clients, role, replication).
//!
//! The probe speaks RESP2 itself over a tokio `TcpStream` (about a hundred lines, [`resp`]): it needs four
//! commands (`AUTH`, `SELECT`, `PING`, `INFO`), every step under one deadline, and full control of what goes
//! into messages (the password). The `redis` crate would bring a connection manager, cluster support and
//! its own URL and error texts for no gain here.
//!
//! # Findings
//!
//! | check | fails when |
//! |---|---|
//! | `connect` | the server cannot be reached, refuses `AUTH`, or does not answer in time (the only finding then) |
//! | `ping` | `PING` does not answer `PONG` (its round trip is the report's `latency_ms`) |
//! | `memory` | `used_memory` ≥ `memory_fail` × `maxmemory` (≥ `memory_warn`: `ok` with a `warning:` detail) |
//! | `clients` | `connected_clients` ≥ `clients_fail` × `maxclients` (blocked and rejected counts are reported) |
//! | `replication` | a replica whose `master_link_status` is not `up` |
//!
//! Like the PostgreSQL probe, an unreachable server is an unhealthy **report** with the reason, not an
//! error.

use std::time::Duration;

use incident_core::backend::{DatastoreProbe, Finding, ProbeReport};
use incident_core::{Error, Result};
use tokio::io::BufReader;
use tokio::net::TcpStream;

use crate::secret::RedisUrl;

/// Settings of a [`RedisProbe`]. Start from [`RedisProbeConfig::new`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisProbeConfig {
    /// Probe name (the report's `name`), `redis` by default.
    pub name: String,
    /// Where to connect.
    pub url: RedisUrl,
    /// Deadline of the whole probe: connect, `AUTH`, `PING` and `INFO` (3 s).
    pub timeout: Duration,
    /// Fraction of `maxmemory` reported as a warning (0.80).
    pub memory_warn: f64,
    /// Fraction of `maxmemory` that fails the check (0.95).
    pub memory_fail: f64,
    /// Fraction of `maxclients` that fails the `clients` check (0.95).
    pub clients_fail: f64,
}

impl RedisProbeConfig {
    /// Defaults for `url`.
    #[must_use]
    pub fn new(url: RedisUrl) -> Self {
        Self {
            name: "redis".to_owned(),
            url,
            timeout: Duration::from_secs(3),
            memory_warn: 0.80,
            memory_fail: 0.95,
            clients_fail: 0.95,
        }
    }
}

/// A read-only Redis health probe (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct RedisProbe {
    config: RedisProbeConfig,
}

fn finding(check: &str, ok: bool, detail: impl Into<String>) -> Finding {
    Finding { check: check.to_owned(), ok, detail: detail.into() }
}

/// `INFO` as `key -> value` (section headers and blank lines dropped).
fn parse_info(text: &str) -> std::collections::BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// Bytes in binary units (`180.0MiB`).
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    #[allow(clippy::cast_precision_loss)] // display only
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n}B") } else { format!("{v:.1}{}", UNITS[unit]) }
}

impl RedisProbe {
    /// A probe with `config`.
    #[must_use]
    pub fn new(config: RedisProbeConfig) -> Self {
        Self { config }
    }

    /// A probe of `url` with default settings.
    #[must_use]
    pub fn with_defaults(url: RedisUrl) -> Self {
        Self::new(RedisProbeConfig::new(url))
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &RedisProbeConfig {
        &self.config
    }

    /// Run the probe once.
    ///
    /// # Errors
    /// None in practice: connection failures become an unhealthy report.
    pub async fn run(&self) -> Result<ProbeReport> {
        let cfg = &self.config;
        let outcome = match tokio::time::timeout(cfg.timeout, self.session()).await {
            Ok(r) => r,
            Err(_) => {
                Err(Error::timeout(format!("redis {}: no answer within {} ms", cfg.url, cfg.timeout.as_millis())))
            }
        };
        let (latency_ms, findings) = match outcome {
            Ok((latency, info)) => (Some(latency), self.judge(latency, &info)),
            Err(e) => (None, vec![finding("connect", false, cfg.url.scrub(e.message()))]),
        };
        let healthy = findings.iter().all(|f| f.ok);
        Ok(ProbeReport { name: cfg.name.clone(), healthy, latency_ms, findings })
    }

    /// Connect, authenticate, `PING` (timed) and `INFO`.
    async fn session(&self) -> Result<(f64, String)> {
        let url = &self.config.url;
        let io = |what: &str, e: std::io::Error| {
            let reason = match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                std::io::ErrorKind::TimedOut => "connection timed out".to_owned(),
                k => format!("network error ({k})"),
            };
            Error::unavailable(format!("redis {url}: {what}: {reason}")).with_source(e)
        };
        let stream = TcpStream::connect((url.host(), url.port())).await.map_err(|e| io("connect", e))?;
        stream.set_nodelay(true).map_err(|e| io("connect", e))?;
        let mut conn = BufReader::new(stream);
        if let Some(pw) = url.password() {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = url.username() {
                args.push(user.as_bytes());
            }
            args.push(pw.expose().as_bytes());
            if let resp::Reply::Error(e) = resp::call(&mut conn, &args).await.map_err(|e| io("AUTH", e))? {
                // The server's text (WRONGPASS ...) does not echo the password; scrub anyway.
                return Err(auth_denied(url, &url.scrub(&e)));
            }
        }
        if url.db() != 0 {
            let db = url.db().to_string();
            if let resp::Reply::Error(e) =
                resp::call(&mut conn, &[b"SELECT", db.as_bytes()]).await.map_err(|e| io("SELECT", e))?
            {
                return Err(Error::invalid_input(format!("redis {url}: SELECT {db}: {}", url.scrub(&e))));
            }
        }
        let started = tokio::time::Instant::now();
        let pong = resp::call(&mut conn, &[b"PING"]).await.map_err(|e| io("PING", e))?;
        let latency = started.elapsed().as_secs_f64() * 1000.0;
        match pong {
            resp::Reply::Simple(s) if s == "PONG" => {}
            resp::Reply::Error(e) if e.starts_with("NOAUTH") => {
                return Err(auth_denied(url, "authentication required (NOAUTH): set a password in the URL"));
            }
            other => {
                return Err(Error::unavailable(format!("redis {url}: PING answered {}", url.scrub(&other.summary()))));
            }
        }
        let info = match resp::call(&mut conn, &[b"INFO"]).await.map_err(|e| io("INFO", e))? {
            resp::Reply::Bulk(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
            other => {
                return Err(Error::unavailable(format!("redis {url}: INFO answered {}", url.scrub(&other.summary()))));
            }
        };
        Ok((latency, info))
    }

    fn judge(&self, latency: f64, info_text: &str) -> Vec<Finding> {
        let cfg = &self.config;
        let info = parse_info(info_text);
        let num = |k: &str| info.get(k).and_then(|v| v.parse::<u64>().ok());
        let mut out = vec![finding("ping", true, format!("PONG in {latency:.1} ms"))];

        let used = num("used_memory").unwrap_or(0);
        match num("maxmemory") {
            Some(max) if max > 0 => {
                #[allow(clippy::cast_precision_loss)] // ratio for display and thresholds
                let ratio = used as f64 / max as f64;
                let text = format!(
                    "used_memory {} / maxmemory {} ({:.0}%; warn at {:.0}%, fail at {:.0}%)",
                    human_bytes(used),
                    human_bytes(max),
                    ratio * 100.0,
                    cfg.memory_warn * 100.0,
                    cfg.memory_fail * 100.0
                );
                out.push(if ratio >= cfg.memory_fail {
                    finding("memory", false, text)
                } else if ratio >= cfg.memory_warn {
                    finding("memory", true, format!("warning: {text}"))
                } else {
                    finding("memory", true, text)
                });
            }
            _ => out.push(finding("memory", true, format!("used_memory {} (no maxmemory limit)", human_bytes(used)))),
        }

        let clients = num("connected_clients").unwrap_or(0);
        let blocked = num("blocked_clients").unwrap_or(0);
        let rejected = num("rejected_connections").unwrap_or(0);
        match num("maxclients") {
            Some(max) if max > 0 => {
                #[allow(clippy::cast_precision_loss)]
                let ratio = clients as f64 / max as f64;
                out.push(finding(
                    "clients",
                    ratio < cfg.clients_fail,
                    format!("{clients}/{max} clients, {blocked} blocked, {rejected} connections rejected since start"),
                ));
            }
            _ => out.push(finding("clients", true, format!("{clients} clients, {blocked} blocked"))),
        }

        let role = info.get("role").map_or("unknown", String::as_str);
        let offset = num("master_repl_offset").unwrap_or(0);
        if role == "slave" {
            let link = info.get("master_link_status").map_or("unknown", String::as_str);
            let replica_offset = num("slave_repl_offset").unwrap_or(0);
            let behind = offset.saturating_sub(replica_offset);
            let master = match (info.get("master_host"), info.get("master_port")) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                _ => "?".to_owned(),
            };
            out.push(finding(
                "replication",
                link == "up",
                format!("replica of {master}: master_link_status {link}, offset {replica_offset} ({behind} behind)"),
            ));
        } else {
            let replicas = num("connected_slaves").unwrap_or(0);
            out.push(finding("replication", true, format!("role {role}, {replicas} replica(s), offset {offset}")));
        }
        out
    }
}

#[async_trait::async_trait]
impl DatastoreProbe for RedisProbe {
    fn name(&self) -> &str {
        &self.config.name
    }

    async fn probe(&self) -> Result<ProbeReport> {
        self.run().await
    }
}

/// `PermissionDenied` for a refused login.
fn auth_denied(url: &RedisUrl, why: &str) -> Error {
    Error::new(incident_core::ErrorKind::PermissionDenied, format!("redis {url}: authentication failed: {why}"))
}

/// A minimal RESP2 client: send a command as an array of bulk strings, read one reply.
pub mod resp {
    use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

    /// Largest bulk string accepted (`INFO` is a few KiB).
    const MAX_BULK: usize = 16 * 1024 * 1024;
    /// Largest array accepted.
    const MAX_ARRAY: usize = 1024;

    /// One RESP2 reply.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Reply {
        /// `+OK`.
        Simple(String),
        /// `-ERR ...`.
        Error(String),
        /// `:42`.
        Integer(i64),
        /// `$n` bulk string (`None` for the null bulk string).
        Bulk(Option<Vec<u8>>),
        /// `*n` array (`None` for the null array).
        Array(Option<Vec<Reply>>),
    }

    impl Reply {
        /// A short description for messages (bulk contents are not included).
        #[must_use]
        pub fn summary(&self) -> String {
            match self {
                Self::Simple(s) => format!("+{s}"),
                Self::Error(e) => format!("-{e}"),
                Self::Integer(i) => format!(":{i}"),
                Self::Bulk(b) => {
                    format!("a bulk string of {} bytes", b.as_ref().map_or(0, Vec::len))
                }
                Self::Array(a) => format!("an array of {} items", a.as_ref().map_or(0, Vec::len)),
            }
        }
    }

    fn invalid(what: &str) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad RESP reply: {what}"))
    }

    /// Send `args` as one command and read its reply.
    ///
    /// # Errors
    /// I/O errors, and `InvalidData` for a malformed or oversized reply.
    pub async fn call<S: AsyncRead + AsyncWrite + Unpin>(
        conn: &mut BufReader<S>,
        args: &[&[u8]],
    ) -> std::io::Result<Reply> {
        let mut buf = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
        conn.get_mut().write_all(&buf).await?;
        conn.get_mut().flush().await?;
        read(conn).await
    }

    async fn line<R: AsyncRead + Unpin>(conn: &mut BufReader<R>) -> std::io::Result<String> {
        let mut raw = Vec::new();
        let n = (&mut *conn).take(64 * 1024).read_until(b'\n', &mut raw).await?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed by the server"));
        }
        if !raw.ends_with(b"\r\n") {
            return Err(invalid("line without CRLF"));
        }
        raw.truncate(raw.len() - 2);
        String::from_utf8(raw).map_err(|_| invalid("non-UTF-8 line"))
    }

    /// Read one reply.
    ///
    /// # Errors
    /// As [`call`].
    pub async fn read<R: AsyncRead + Unpin>(conn: &mut BufReader<R>) -> std::io::Result<Reply> {
        // Arrays nest; iterate with an explicit stack instead of recursing in an async fn.
        let mut stack: Vec<(usize, Vec<Reply>)> = Vec::new();
        loop {
            let l = line(conn).await?;
            let (tag, rest) = l.split_at_checked(1).ok_or_else(|| invalid("empty line"))?;
            let len = || rest.parse::<i64>().map_err(|_| invalid("bad length"));
            let mut reply = match tag {
                "+" => Reply::Simple(rest.to_owned()),
                "-" => Reply::Error(rest.to_owned()),
                ":" => Reply::Integer(len()?),
                "$" => {
                    let n = len()?;
                    if n < 0 {
                        Reply::Bulk(None)
                    } else {
                        let n = usize::try_from(n).map_err(|_| invalid("bad length"))?;
                        if n > MAX_BULK {
                            return Err(invalid("bulk string too large"));
                        }
                        let mut data = vec![0; n + 2];
                        conn.read_exact(&mut data).await?;
                        if !data.ends_with(b"\r\n") {
                            return Err(invalid("bulk string without CRLF"));
                        }
                        data.truncate(n);
                        Reply::Bulk(Some(data))
                    }
                }
                "*" => {
                    let n = len()?;
                    if n < 0 {
                        Reply::Array(None)
                    } else {
                        let n = usize::try_from(n).map_err(|_| invalid("bad length"))?;
                        if n > MAX_ARRAY || stack.len() > 8 {
                            return Err(invalid("array too large or too deep"));
                        }
                        if n > 0 {
                            stack.push((n, Vec::with_capacity(n)));
                            continue;
                        }
                        Reply::Array(Some(Vec::new()))
                    }
                }
                _ => return Err(invalid("unknown type byte")),
            };
            // Attach the finished reply to the arrays it completes.
            loop {
                let Some((want, items)) = stack.last_mut() else {
                    return Ok(reply);
                };
                items.push(reply);
                if items.len() < *want {
                    break;
                }
                let (_, done) = stack.pop().ok_or_else(|| invalid("array stack"))?;
                reply = Reply::Array(Some(done));
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        async fn parse(bytes: &[u8]) -> std::io::Result<Reply> {
            read(&mut BufReader::new(bytes)).await
        }

        #[tokio::test]
        async fn replies() {
            assert_eq!(parse(b"+PONG\r\n").await.expect("simple"), Reply::Simple("PONG".into()));
            assert_eq!(parse(b"-ERR x\r\n").await.expect("error"), Reply::Error("ERR x".into()));
            assert_eq!(parse(b":-3\r\n").await.expect("int"), Reply::Integer(-3));
            assert_eq!(parse(b"$3\r\na\r\n\r\n").await.expect("bulk"), Reply::Bulk(Some(b"a\r\n".to_vec())));
            assert_eq!(parse(b"$-1\r\n").await.expect("null"), Reply::Bulk(None));
            assert_eq!(
                parse(b"*2\r\n*1\r\n:1\r\n$1\r\nx\r\n").await.expect("nested"),
                Reply::Array(Some(vec![Reply::Array(Some(vec![Reply::Integer(1)])), Reply::Bulk(Some(b"x".to_vec()))]))
            );
            assert_eq!(parse(b"*0\r\n").await.expect("empty"), Reply::Array(Some(vec![])));
            assert!(parse(b"?x\r\n").await.is_err());
            assert!(parse(b"+no crlf").await.is_err());
            assert!(parse(b"").await.is_err());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe() -> RedisProbe {
        RedisProbe::with_defaults(RedisUrl::parse("redis://127.0.0.1:1").expect("url"))
    }

    #[test]
    fn judges_info() {
        let info = "# Memory\r\nused_memory:1048576\r\nmaxmemory:1073741824\r\n# Clients\r\nconnected_clients:3\r\n\
                    maxclients:10000\r\nblocked_clients:0\r\n# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\
                    master_repl_offset:42\r\n";
        let f = probe().judge(0.5, info);
        assert!(f.iter().all(|f| f.ok), "{f:?}");
        assert_eq!(f[1].detail, "used_memory 1.0MiB / maxmemory 1.0GiB (0%; warn at 80%, fail at 95%)");

        let full = "used_memory:990\r\nmaxmemory:1000\r\nrole:slave\r\nmaster_host:10.0.0.1\r\nmaster_port:6379\r\n\
                    master_link_status:down\r\nmaster_repl_offset:100\r\nslave_repl_offset:40\r\n";
        let f = probe().judge(0.5, full);
        let by = |c: &str| f.iter().find(|x| x.check == c).cloned().expect("finding");
        assert!(!by("memory").ok);
        assert!(!by("replication").ok);
        assert_eq!(
            by("replication").detail,
            "replica of 10.0.0.1:6379: master_link_status down, offset 40 (60 behind)"
        );
        let warn = probe().judge(0.5, "used_memory:850\r\nmaxmemory:1000\r\n");
        assert!(warn[1].ok && warn[1].detail.starts_with("warning:"), "{warn:?}");
    }

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(512), "512B");
        assert_eq!(human_bytes(180 * 1024 * 1024), "180.0MiB");
    }
}
