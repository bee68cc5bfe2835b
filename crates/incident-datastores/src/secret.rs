//! Secrets that never print: [`ConnectionString`] (PostgreSQL) and [`RedisUrl`], parsed once, each with
//! the [`Redactor`] of its password. The rules themselves are `incident_core::redact`'s ([`Redacted`] is
//! re-exported from there).
//!
//! Three layers keep a password out of errors, log lines, reports and journal entries:
//!
//! 1. the password lives only inside a [`Redacted`], whose `Debug` and `Display` print `***`;
//! 2. messages name a datastore by its [`ConnectionString`]'s `Display`, which rebuilds the URL from the
//!    parsed parts with the password replaced by `***` (never from the raw text);
//! 3. every text that comes from outside (a server error message, a query text from `pg_stat_activity`) is
//!    passed through [`ConnectionString::scrub`], which removes the password in plain and percent-encoded
//!    form and applies `incident_core::redact::scrub`'s patterns (which include blanking SQL
//!    `PASSWORD '...'` literals of other sessions).
//!
//! Errors built here never carry the client library's error as text in the message; the library error is
//! only reachable through [`std::error::Error::source`], and its texts (connection refused, password
//! authentication failed for user X) do not contain the password either, which the crate's tests check.

use std::fmt;
use std::str::FromStr;

pub use incident_core::redact::Redacted;
use incident_core::redact::{Redactor, percent_decode, url_password};
use incident_core::{Error, Result};
use tokio_postgres::config::Host;

/// A PostgreSQL connection string (URL `postgres://user:password@host:port/db?...` or key-value
/// `host=... password=...`), parsed once. `Display` and `Debug` show
/// `postgres://user:***@host:port/db`; the password is only handed to the client library.
#[derive(Clone)]
pub struct ConnectionString {
    config: tokio_postgres::Config,
    raw: Redacted<String>,
    /// Every form of the password that may appear in a text (plain, as written in the URL), and the
    /// raw string when there is a password.
    redactor: Redactor,
    display: String,
}

impl ConnectionString {
    /// Parse a connection string.
    ///
    /// # Errors
    /// `InvalidInput` when it is not a valid PostgreSQL connection string; the message never contains
    /// the input (it may hold a password).
    pub fn parse(raw: &str) -> Result<Self> {
        let config = tokio_postgres::Config::from_str(raw).map_err(|_| {
            Error::invalid_input(
                "invalid PostgreSQL connection string (expected postgres://user:password@host:port/db or \
                 key=value pairs; the text is not repeated because it may contain a password)",
            )
        })?;
        let mut secrets = Vec::new();
        if let Some(pw) = config.get_password() {
            secrets.push(String::from_utf8_lossy(pw).into_owned());
        }
        secrets.extend(url_password(raw).map(ToOwned::to_owned));
        if !secrets.is_empty() {
            secrets.push(raw.to_owned());
        }
        let display = display_of(&config);
        Ok(Self {
            config,
            raw: Redacted::new(raw.to_owned()),
            redactor: Redactor::new().with_secrets(secrets),
            display,
        })
    }

    /// The parsed configuration (with the password), for the client library.
    #[must_use]
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// The connection string as given. Handle with care: it may contain the password.
    #[must_use]
    pub fn expose(&self) -> &str {
        self.raw.expose()
    }

    /// The redacted form, `postgres://user:***@host:port/db` (same as `Display`).
    #[must_use]
    pub fn redacted(&self) -> &str {
        &self.display
    }

    /// Whether a password is set.
    #[must_use]
    pub fn has_password(&self) -> bool {
        !self.redactor.is_empty()
    }

    /// Remove the password (plain or as written in the URL) and the whole raw string from `text`, then
    /// apply `incident_core::redact::scrub`'s patterns.
    #[must_use]
    pub fn scrub(&self, text: &str) -> String {
        self.redactor.scrub(text)
    }
}

fn display_of(config: &tokio_postgres::Config) -> String {
    let user = config.get_user().unwrap_or("");
    let pw = if config.get_password().is_some() { ":***" } else { "" };
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            };
            match ports.get(i).or_else(|| ports.first()) {
                Some(p) => format!("{host}:{p}"),
                None => host,
            }
        })
        .collect();
    let at = if user.is_empty() && pw.is_empty() { String::new() } else { format!("{user}{pw}@") };
    let db = config.get_dbname().map(|d| format!("/{d}")).unwrap_or_default();
    format!("postgres://{at}{}{db}", hosts.join(","))
}

impl fmt::Display for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ConnectionString").field(&self.display).finish()
    }
}

impl FromStr for ConnectionString {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// A Redis URL, `redis://[user[:password]@]host[:port][/db]` (or `redis://:password@host`), parsed once.
/// `Display` and `Debug` show `redis://user:***@host:port/db`.
#[derive(Clone)]
pub struct RedisUrl {
    host: String,
    port: u16,
    username: Option<String>,
    password: Option<Redacted<String>>,
    db: u32,
    /// The password (decoded and as written) and the raw URL when there is a password.
    redactor: Redactor,
    display: String,
}

impl RedisUrl {
    /// The default Redis port.
    pub const DEFAULT_PORT: u16 = 6379;

    /// Parse a `redis://` URL (TLS `rediss://` is not supported).
    ///
    /// # Errors
    /// `InvalidInput` naming what is wrong; the message never contains the input.
    pub fn parse(raw: &str) -> Result<Self> {
        let bad = |what: &str| {
            Error::invalid_input(format!(
                "invalid Redis URL: {what} (expected redis://[user:password@]host[:port][/db]; the text is not \
                 repeated because it may contain a password)"
            ))
        };
        let rest = raw.strip_prefix("redis://").ok_or_else(|| bad("the scheme must be redis://"))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let (username, raw_password) = match userinfo {
            None => (None, None),
            Some(ui) => match ui.split_once(':') {
                Some((u, p)) => ((!u.is_empty()).then(|| percent_decode(u)), Some(p.to_owned())),
                None => ((!ui.is_empty()).then(|| percent_decode(ui)), None),
            },
        };
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h, after) = h.split_once(']').ok_or_else(|| bad("unterminated IPv6 address"))?;
            let port = after.strip_prefix(':').map(str::parse::<u16>).transpose().map_err(|_| bad("bad port"))?;
            (h.to_owned(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p.parse::<u16>().map_err(|_| bad("bad port"))?)),
                None => (hostport.to_owned(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        let db_text = path.split('?').next().unwrap_or("");
        let db = if db_text.is_empty() { 0 } else { db_text.parse::<u32>().map_err(|_| bad("bad database number"))? };
        let port = port.unwrap_or(Self::DEFAULT_PORT);
        let password = raw_password.as_deref().map(|p| Redacted::new(percent_decode(p)));
        let user = username.clone().unwrap_or_default();
        let at = match (&username, &password) {
            (_, Some(_)) => format!("{user}:***@"),
            (Some(u), None) => format!("{u}@"),
            (None, None) => String::new(),
        };
        let host_display = if host.contains(':') { format!("[{host}]") } else { host.clone() };
        let db_display = if db == 0 { String::new() } else { format!("/{db}") };
        let display = format!("redis://{at}{host_display}:{port}{db_display}");
        let redactor = match &raw_password {
            Some(p) => Redactor::new().with_secrets([p.as_str(), raw]),
            None => Redactor::new(),
        };
        Ok(Self { host, port, username, password, db, redactor, display })
    }

    /// Host name or address.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// ACL user name, if any.
    #[must_use]
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The password, if any.
    #[must_use]
    pub fn password(&self) -> Option<&Redacted<String>> {
        self.password.as_ref()
    }

    /// Database number (`SELECT`), 0 by default.
    #[must_use]
    pub fn db(&self) -> u32 {
        self.db
    }

    /// The redacted form (same as `Display`).
    #[must_use]
    pub fn redacted(&self) -> &str {
        &self.display
    }

    /// Remove the password (plain or as written) and the raw URL from `text`, then apply
    /// `incident_core::redact::scrub`'s patterns.
    #[must_use]
    pub fn scrub(&self, text: &str) -> String {
        self.redactor.scrub(text)
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RedisUrl").field(&self.display).finish()
    }
}

impl FromStr for RedisUrl {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_url_is_redacted() {
        let cs =
            ConnectionString::parse("postgres://app:p%40ss-w0rd@db.internal:6432/prod?sslmode=disable").expect("parse");
        assert_eq!(cs.to_string(), "postgres://app:***@db.internal:6432/prod");
        assert_eq!(format!("{cs:?}"), "ConnectionString(\"postgres://app:***@db.internal:6432/prod\")");
        assert!(cs.has_password());
        assert_eq!(cs.scrub("auth p@ss-w0rd failed, p%40ss-w0rd"), "auth *** failed, ***");
        assert_eq!(cs.config().get_password(), Some(&b"p@ss-w0rd"[..]));
    }

    #[test]
    fn key_value_strings_are_redacted_too() {
        let cs = ConnectionString::parse("host=localhost port=5433 user=bob password=hunter2 dbname=x").expect("kv");
        assert_eq!(cs.to_string(), "postgres://bob:***@localhost:5433/x");
        assert_eq!(cs.scrub("hunter2!"), "***!");
        let none = ConnectionString::parse("postgres://localhost/db").expect("no password");
        assert_eq!(none.to_string(), "postgres://localhost:5432/db");
        assert!(!none.has_password());
    }

    #[test]
    fn invalid_strings_are_not_echoed() {
        let err = ConnectionString::parse("postgres://u:topsecret@host:notaport/db").expect_err("bad port");
        assert!(!err.to_string().contains("topsecret"), "{err}");
        let err = RedisUrl::parse("redis://:topsecret@host:port").expect_err("bad port");
        assert!(!err.to_string().contains("topsecret"), "{err}");
    }

    #[test]
    fn redis_urls() {
        let u = RedisUrl::parse("redis://:s%3Acret@127.0.0.1:7000/2").expect("parse");
        assert_eq!((u.host(), u.port(), u.db(), u.username()), ("127.0.0.1", 7000, 2, None));
        assert_eq!(u.password().map(|p| p.expose().as_str()), Some("s:cret"));
        assert_eq!(u.to_string(), "redis://:***@127.0.0.1:7000/2");
        assert_eq!(u.scrub("x s:cret s%3Acret"), "x *** ***");
        let u = RedisUrl::parse("redis://default:pw@cache").expect("user");
        assert_eq!(u.to_string(), "redis://default:***@cache:6379");
        let u = RedisUrl::parse("redis://[::1]:6380").expect("ipv6");
        assert_eq!(u.to_string(), "redis://[::1]:6380");
        assert!(RedisUrl::parse("http://x").is_err());
    }
}
