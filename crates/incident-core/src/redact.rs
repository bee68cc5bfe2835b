//! Secrets out of text: the one set of redaction rules every crate and both bindings use.
//!
//! A secret can reach a message two ways, and each has its rule here:
//!
//! * **A value we know** (the password of a connection string we parsed, an AWS secret key, a Slack
//!   token from the notify config): a [`Redactor`] holds it (as given and percent-decoded) and replaces
//!   every occurrence, longest first, with [`MARK`].
//! * **A value we were never told** (a server echoing a connection string, a URL in an SDK error, a header
//!   in a provider's reply): [`scrub`] recognises the shapes secrets come in and blanks the secret part:
//!   - URL user-info, `scheme://user:password@host` → `scheme://***@host` ([`scrub_url_userinfo`]; an
//!     already redacted `user:***@` is kept);
//!   - `key=value` and JSON `"key": "value"` for credential keys (`password`, `token`, `api_key`,
//!     `secret`, `routing_key`, `X-Amz-Signature`, `X-Amz-Security-Token`, ... see [`SECRET_KEYS`]);
//!   - SQL `PASSWORD '...'` literals ([`scrub_sql_passwords`]);
//!   - `Authorization:` header values and `Bearer` tokens;
//!   - AWS access key ids, `AKIA`/`ASIA` + 16 characters → `AKIA***` ([`scrub_aws_key_ids`]);
//!   - Slack tokens (`xoxb-...`, `xapp-...`), Slack webhook paths (`hooks.slack.com/***`) and PagerDuty
//!     integration URLs (`events.pagerduty.com/integration/***`).
//!
//! [`Redactor::scrub`] applies both. [`Redacted`] is the wrapper whose `Debug` and `Display` print
//! [`MARK`], for values held in configurations. The language bindings pass every error message through
//! [`scrub`] at the boundary, so Python and Node callers see the same scrubbed text.
//!
//! ```
//! use incident_core::redact::{scrub, Redactor};
//!
//! assert_eq!(scrub("connect postgres://app:hunter2@db/prod failed"), "connect postgres://***@db/prod failed");
//! assert_eq!(scrub("host=db password=hunter2 user=app"), "host=db password=*** user=app");
//! let r = Redactor::new().with_secret("s3cr%2Ft");
//! assert_eq!(r.scrub("auth s3cr/t failed (s3cr%2Ft)"), "auth *** failed (***)");
//! ```

use std::fmt;
use std::sync::Arc;

/// What a secret is replaced with.
pub const MARK: &str = "***";

/// Keys whose value is a secret in `key=value` and JSON `"key": "value"` text (compared ignoring case).
pub const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "session_token",
    "api_key",
    "apikey",
    "api-key",
    "secret",
    "client_secret",
    "secret_access_key",
    "aws_secret_access_key",
    "aws_session_token",
    "routing_key",
    "integration_key",
    "signing_secret",
    "hmac_key",
    "authorization",
    "signature",
    "x-amz-signature",
    "x-amz-security-token",
];

/// A value whose `Debug` and `Display` print [`MARK`]. Read it with [`Redacted::expose`].
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
        f.write_str(MARK)
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MARK)
    }
}

/// Known secrets, replaced wherever they occur, plus the [`scrub`] patterns. Cheap to clone; `Debug`
/// prints only how many secrets it holds.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Longest first, no blanks, no duplicates.
    secrets: Arc<Vec<String>>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secret(s))", self.secrets.len())
    }
}

impl Redactor {
    /// A redactor that knows no secret (it still applies the [`scrub`] patterns).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Also replace `secret`, as given and percent-decoded (a URL's password is written encoded but a
    /// server may echo it decoded). A blank value is ignored.
    #[must_use]
    pub fn with_secret(self, secret: impl AsRef<str>) -> Self {
        self.with_secrets([secret])
    }

    /// [`Redactor::with_secret`] for each of `secrets`.
    #[must_use]
    pub fn with_secrets<S: AsRef<str>>(self, secrets: impl IntoIterator<Item = S>) -> Self {
        let mut all: Vec<String> = self.secrets.as_ref().clone();
        for s in secrets {
            let s = s.as_ref();
            if s.trim().is_empty() {
                continue;
            }
            all.push(s.to_owned());
            let decoded = percent_decode(s);
            if decoded != s && !decoded.trim().is_empty() {
                all.push(decoded);
            }
        }
        // Longest first, so a secret that contains another is removed whole.
        all.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        all.dedup();
        Self { secrets: Arc::new(all) }
    }

    /// How many secret forms it replaces.
    #[must_use]
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// Whether it knows no secret.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every known secret replaced by [`MARK`], then [`scrub`]bed.
    #[must_use]
    pub fn scrub(&self, text: &str) -> String {
        scrub(&self.scrub_known(text))
    }

    /// `text` with every known secret replaced by [`MARK`] (no pattern scrub).
    #[must_use]
    pub fn scrub_known(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in self.secrets.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MARK);
            }
        }
        out
    }
}

/// Replace every occurrence of each of `secrets` in `text` by [`MARK`], longest first (blank secrets are
/// ignored; no pattern scrub).
#[must_use]
pub fn scrub_secrets(text: &str, secrets: &[&str]) -> String {
    let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.trim().is_empty()).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_owned();
    for s in secrets {
        if out.contains(s) {
            out = out.replace(s, MARK);
        }
    }
    out
}

/// Every pattern rule of the module docs, applied to `text`.
#[must_use]
pub fn scrub(text: &str) -> String {
    let t = scrub_url_userinfo(text);
    let t = scrub_key_values(&t);
    let t = scrub_sql_passwords(&t);
    let t = scrub_auth_headers(&t);
    let t = scrub_aws_key_ids(&t);
    scrub_provider_tokens(&t)
}

/// Whether byte `b` ends a bare value (a URL authority, a `key=value` value, a token).
fn ends_value(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'`' | b'<' | b'>' | b'(' | b')' | b'[' | b']' | b'{' | b'}')
}

/// Whether `text[..i]` ends a word (so a key starting at `i` is a whole word).
fn word_start(bytes: &[u8], i: usize) -> bool {
    i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')
}

/// Whether `bytes[i..]` starts with `pat`, ignoring ASCII case.
fn starts_with_ci(bytes: &[u8], i: usize, pat: &str) -> bool {
    bytes.len() >= i + pat.len() && bytes[i..i + pat.len()].eq_ignore_ascii_case(pat.as_bytes())
}

/// The user-info of every `scheme://user:password@host` in `text` replaced by `***`
/// (`scheme://***@host`). A user-info already redacted (`***` or `user:***`) is kept as it is.
#[must_use]
pub fn scrub_url_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail.bytes().position(|b| ends_value(b) || matches!(b, b'/' | b'?' | b'#')).unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(at) if tail[..at] != *MARK && !tail[..at].ends_with(":***") => {
                out.push_str(MARK);
                rest = &tail[at..];
            }
            _ => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// The end of a value starting at `i`: a quoted value runs to its closing quote (exclusive, the quote
/// kept), a bare one to the first delimiter. Returns `(value_start, value_end)`.
fn value_span(bytes: &[u8], i: usize, bare_delims: &[u8]) -> (usize, usize) {
    match bytes.get(i) {
        Some(&q @ (b'"' | b'\'')) => {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != q {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            (i + 1, j.min(bytes.len()))
        }
        _ => {
            let mut j = i;
            while j < bytes.len() && !ends_value(bytes[j]) && !bare_delims.contains(&bytes[j]) {
                j += 1;
            }
            (i, j)
        }
    }
}

/// `key=value` and JSON `"key": "value"` for every key of [`SECRET_KEYS`]: the value becomes `***`.
fn scrub_key_values(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let quoted = bytes[i] == b'"';
        let k = if quoted { i + 1 } else { i };
        if !(quoted || word_start(bytes, i)) {
            i += 1;
            continue;
        }
        let key = SECRET_KEYS
            .iter()
            .filter(|key| starts_with_ci(bytes, k, key))
            .max_by_key(|key| key.len())
            .map(|key| key.len());
        let Some(key_len) = key else {
            i += 1;
            continue;
        };
        let mut j = k + key_len;
        if quoted {
            // JSON: "key" : "value"
            if bytes.get(j) != Some(&b'"') {
                i += 1;
                continue;
            }
            j += 1;
            while j < bytes.len() && bytes[j] == b' ' {
                j += 1;
            }
            if bytes.get(j) != Some(&b':') {
                i += 1;
                continue;
            }
            j += 1;
            while j < bytes.len() && bytes[j] == b' ' {
                j += 1;
            }
            if bytes.get(j) != Some(&b'"') {
                i += 1;
                continue;
            }
        } else {
            if bytes.get(j) != Some(&b'=') {
                i += 1;
                continue;
            }
            j += 1;
        }
        let (start, end) = value_span(bytes, j, b"&;,");
        if start == end || &text[start..end] == MARK {
            i = end.max(i + 1);
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str(MARK);
        copied = end;
        i = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// Blank the string literal after every `PASSWORD` keyword (any case) in SQL text, as in
/// `ALTER ROLE x PASSWORD '...'` or `CREATE USER x WITH ENCRYPTED PASSWORD E'...'`.
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
        out.push_str(MARK);
        copied = j.min(sql.len());
        search = copied.max(search);
    }
    out.push_str(&sql[copied..]);
    out
}

/// `Authorization: <scheme> <credentials>` and `Bearer <token>` (8+ characters): the credentials become `***` (the
/// scheme is kept; AWS SigV4's `Credential=`/`Signature=` parts are handled by the key and key-id rules).
fn scrub_auth_headers(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !word_start(bytes, i) {
            i += 1;
            continue;
        }
        // After a bare `Bearer ` only a token-like value (8+ characters) is blanked, so prose such as
        // "a bearer token is required" is left alone.
        let mut min_len = 1;
        let value_at = if starts_with_ci(bytes, i, "authorization") {
            let mut j = i + "authorization".len();
            while j < bytes.len() && bytes[j] == b' ' {
                j += 1;
            }
            if !matches!(bytes.get(j), Some(b':')) {
                i += 1;
                continue;
            }
            j += 1;
            while j < bytes.len() && bytes[j] == b' ' {
                j += 1;
            }
            // A scheme word followed by a space: keep it, blank what follows.
            let word_end = j + bytes[j..].iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'-').count();
            if starts_with_ci(bytes, j, "AWS4-") {
                i = word_end.max(i + 1);
                continue;
            }
            if word_end > j && bytes.get(word_end) == Some(&b' ') { word_end + 1 } else { j }
        } else if starts_with_ci(bytes, i, "bearer ") {
            min_len = 8;
            i + "bearer ".len()
        } else {
            i += 1;
            continue;
        };
        let (start, end) = value_span(bytes, value_at, b",;");
        if end - start < min_len || &text[start..end] == MARK {
            i = end.max(i + 1);
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str(MARK);
        copied = end;
        i = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// AWS access key ids (`AKIA`/`ASIA` + 16 upper-case alphanumerics) become `AKIA***` / `ASIA***`.
#[must_use]
pub fn scrub_aws_key_ids(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i + 20 <= bytes.len() {
        if (bytes[i..].starts_with(b"AKIA") || bytes[i..].starts_with(b"ASIA"))
            && bytes[i + 4..i + 20].iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            out.push_str(&text[copied..i + 4]);
            out.push_str(MARK);
            copied = i + 20;
            i += 20;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Slack tokens (`xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xoxs-`, `xoxe-`, `xoxo-`, `xapp-`) become `***`;
/// the path of a Slack webhook URL and the key of a PagerDuty integration URL become `***`.
fn scrub_provider_tokens(text: &str) -> String {
    const PATH_PREFIXES: [&str; 2] = ["hooks.slack.com/", "events.pagerduty.com/integration/"];
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let token = word_start(bytes, i)
            && (starts_with_ci(bytes, i, "xapp-")
                || (starts_with_ci(bytes, i, "xox")
                    && bytes.get(i + 4) == Some(&b'-')
                    && bytes.get(i + 3).is_some_and(u8::is_ascii_alphabetic)));
        let (start, end) = if token {
            let end = i + bytes[i..].iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'-').count();
            (i, end)
        } else if let Some(p) = PATH_PREFIXES.iter().find(|p| starts_with_ci(bytes, i, p)) {
            let start = i + p.len();
            let end = start + bytes[start..].iter().take_while(|b| !ends_value(**b) && **b != b'?').count();
            (start, end)
        } else {
            i += 1;
            continue;
        };
        if start == end || &text[start..end] == MARK {
            i = end.max(i + 1);
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str(MARK);
        copied = end;
        i = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// Percent-decode `s` (invalid escapes are kept as they are; invalid UTF-8 is replaced).
#[must_use]
pub fn percent_decode(s: &str) -> String {
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
#[must_use]
pub fn url_password(raw: &str) -> Option<&str> {
    let rest = raw.split_once("://")?.1;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let userinfo = &authority[..authority.rfind('@')?];
    Some(userinfo.split_once(':')?.1)
}

/// Every double-quoted part of `text` replaced by `"***"`: for parser messages that quote the value they
/// choke on (a configuration file's values may be secrets).
#[must_use]
pub fn blank_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_quote = false;
    for c in text.chars() {
        match (c, in_quote) {
            ('"', false) => {
                in_quote = true;
                out.push_str("\"***");
            }
            ('"', true) => {
                in_quote = false;
                out.push('"');
            }
            (_, true) => {}
            (c, false) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
