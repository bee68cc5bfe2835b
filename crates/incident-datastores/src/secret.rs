//! Secrets that never print: [`Redacted`], [`ConnectionString`] (PostgreSQL), [`RedisUrl`], and the
//! scrubbers every message of this crate goes through.
//!
//! Three layers keep a password out of errors, log lines, reports and journal entries:
//!
//! 1. the password lives only inside a [`Redacted`], whose `Debug` and `Display` print `***`;
//! 2. messages name a datastore by its [`ConnectionString`]'s `Display`, which rebuilds the URL from the
//!    parsed parts with the password replaced by `***` (never from the raw text);
//! 3. every text that comes from outside (a server error message, a query text from `pg_stat_activity`) is
//!    passed through [`ConnectionString::scrub`], which removes the password in plain and percent-encoded
//!    form, and through [`scrub_sql_passwords`], which blanks `PASSWORD '...'` literals of other sessions.
//!
//! Errors built here never carry the client library's error as text in the message; the library error is
//! only reachable through [`std::error::Error::source`], and its texts (connection refused, password
//! authentication failed for user X) do not contain the password either, which the crate's tests check.

use std::fmt;
use std::str::FromStr;

use incident_core::{Error, Result};
use tokio_postgres::config::Host;

/// A value whose `Debug` and `Display` print `***`. Read it with [`Redacted::expose`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Wrap a secret.
    pub const fn new(secret: T) -> Self {
        Self(secret)
    }

    /// The secret itself: use it only to hand it to the client library.
    pub const fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Replace every occurrence of each secret in `text` with `***` (empty secrets are ignored).
#[must_use]
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    // Longest first, so a secret that contains another is removed whole.
    let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in secrets {
        if out.contains(s) {
            out = out.replace(s, "***");
        }
    }
    out
}

/// Blank the string literal after every `PASSWORD` keyword (any case) in SQL text, as in
/// `ALTER ROLE x PASSWORD '...'` or `CREATE USER x WITH ENCRYPTED PASSWORD E'...'`. Used on query texts
/// of other sessions before they go into a report.
#[must_use]
pub fn scrub_sql_passwords(sql: &str) -> String {
    let lower = sql.to_ascii_lowercase();
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = lower[search..].find("password") {
        let kw_end = search + found + "password".len();
        search = kw_end;
        // Skip whitespace, an optional E/e prefix, then expect a quote.
        let mut i = kw_end;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < bytes.len() && (bytes[i] == b'E' || bytes[i] == b'e') && bytes.get(i + 1) == Some(&b'\'') {
            i += 1;
        }
        if bytes.get(i) != Some(&b'\'') {
            continue;
        }
        // Find the closing quote ('' is an escaped quote); an unterminated literal runs to the end.
        let mut j = i + 1;
        while j < bytes.len() {
            if bytes[j] == b'\'' {
                if bytes.get(j + 1) == Some(&b'\'') {
                    j += 2;
                    continue;
                }
                break;
            }
            j += 1;
        }
        out.push_str(&sql[copied..=i]);
        out.push_str("***");
        copied = j.min(sql.len());
        search = copied.max(search);
    }
    out.push_str(&sql[copied..]);
    out
}

/// Percent-decode `s` (invalid escapes are kept as they are).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| char::from(b).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                // Two hex digits are at most 0xFF.
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The raw password part of `scheme://user:password@host...` (as written, possibly percent-encoded).
fn url_password(raw: &str) -> Option<&str> {
    let rest = raw.split_once("://")?.1;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let userinfo = &authority[..authority.rfind('@')?];
    Some(userinfo.split_once(':')?.1)
}

/// A PostgreSQL connection string (URL `postgres://user:password@host:port/db?...` or key-value
/// `host=... password=...`), parsed once. `Display` and `Debug` show
/// `postgres://user:***@host:port/db`; the password is only handed to the client library.
#[derive(Clone)]
pub struct ConnectionString {
    config: tokio_postgres::Config,
    raw: Redacted<String>,
    /// Every form of the password that may appear in a text (plain, as written in the URL).
    secrets: Vec<Redacted<String>>,
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
            secrets.push(Redacted::new(String::from_utf8_lossy(pw).into_owned()));
        }
        if let Some(pw) = url_password(raw) {
            secrets.push(Redacted::new(pw.to_owned()));
            secrets.push(Redacted::new(percent_decode(pw)));
        }
        let display = display_of(&config);
        Ok(Self { config, raw: Redacted::new(raw.to_owned()), secrets, display })
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
        !self.secrets.is_empty()
    }

    /// Remove the password (plain or as written in the URL) and the whole raw string from `text`.
    #[must_use]
    pub fn scrub(&self, text: &str) -> String {
        let mut secrets: Vec<&str> = self.secrets.iter().map(|s| s.expose().as_str()).collect();
        if !secrets.is_empty() {
            secrets.push(self.raw.expose());
        }
        scrub(text, &secrets)
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
    raw: Redacted<String>,
    raw_password: Option<Redacted<String>>,
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
        Ok(Self {
            host,
            port,
            username,
            password,
            db,
            raw: Redacted::new(raw.to_owned()),
            raw_password: raw_password.map(Redacted::new),
            display,
        })
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

    /// Remove the password (plain or as written) and the raw URL from `text`.
    #[must_use]
    pub fn scrub(&self, text: &str) -> String {
        let mut secrets: Vec<&str> = self.password.iter().map(|p| p.expose().as_str()).collect();
        secrets.extend(self.raw_password.iter().map(|p| p.expose().as_str()));
        if !secrets.is_empty() {
            secrets.push(self.raw.expose());
        }
        scrub(text, &secrets)
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

    #[test]
    fn redacted_and_sql_scrubbing() {
        let r = Redacted::new("pw".to_owned());
        assert_eq!(format!("{r} {r:?}"), "*** ***");
        assert_eq!(
            scrub_sql_passwords("ALTER ROLE x WITH PASSWORD 'it''s secret' VALID UNTIL 'x'"),
            "ALTER ROLE x WITH PASSWORD '***' VALID UNTIL 'x'"
        );
        assert_eq!(
            scrub_sql_passwords("create user u encrypted password E'abc"),
            "create user u encrypted password E'***"
        );
        assert_eq!(scrub_sql_passwords("SELECT password_hash FROM t"), "SELECT password_hash FROM t");
        assert_eq!(scrub("a secret and secret2", &["secret", "secret2", ""]), "a *** and ***");
    }
}
