use proptest::prelude::*;

use super::*;

/// (input, scrubbed): every pattern rule, and texts that must come through unchanged.
const PATTERNS: &[(&str, &str)] = &[
    // URL user-info (was incident-backends' `redact_userinfo` and the Python binding's `scrub`).
    ("redis://:pw@h:1/0", "redis://***@h:1/0"),
    ("x://h/a@b", "x://h/a@b"),
    ("plain", "plain"),
    ("store mysql://root:hunter2@db/x: unsupported", "store mysql://***@db/x: unsupported"),
    ("a postgres://u:p@h/db and redis://:q@r:6379 b", "a postgres://***@h/db and redis://***@r:6379 b"),
    ("\"postgres://u:p@h\"", "\"postgres://***@h\""),
    ("https://TOKEN@github.com/x", "https://***@github.com/x"),
    ("postgres://app:***@db.internal:6432/prod", "postgres://app:***@db.internal:6432/prod"),
    // key=value and JSON.
    ("host=localhost user=bob password=hunter2 dbname=x", "host=localhost user=bob password=*** dbname=x"),
    ("password='it is' x", "password='***' x"),
    ("PASSWORD=a&token=b&ok=c", "PASSWORD=***&token=***&ok=c"),
    ("{\"routing_key\": \"R0ut1ngKey\", \"x\": 1}", "{\"routing_key\": \"***\", \"x\": 1}"),
    ("{\"token\":\"xyz\"}", "{\"token\":\"***\"}"),
    (
        "?X-Amz-Signature=abcdef0123&X-Amz-Security-Token=FQoG%2Fz&X-Amz-Date=1",
        "?X-Amz-Signature=***&X-Amz-Security-Token=***&X-Amz-Date=1",
    ),
    ("NextToken=abc next_token=def cwd=/tmp", "NextToken=abc next_token=def cwd=/tmp"),
    ("password authentication failed for user \"app\"", "password authentication failed for user \"app\""),
    ("SELECT password_hash FROM t", "SELECT password_hash FROM t"),
    // SQL literals (was incident-datastores' `scrub_sql_passwords`).
    ("ALTER ROLE x WITH PASSWORD 'it''s secret' VALID UNTIL 'x'", "ALTER ROLE x WITH PASSWORD '***' VALID UNTIL 'x'"),
    ("create user u encrypted password E'abc", "create user u encrypted password E'***"),
    // Headers and bearer tokens.
    ("Authorization: Bearer abc.def.ghi", "Authorization: Bearer ***"),
    ("authorization: Basic dXNlcjpwdw==, next", "authorization: Basic ***, next"),
    ("Authorization: Token t0k3n", "Authorization: Token ***"),
    ("Authorization:s3cr3t", "Authorization:***"),
    ("sent bearer abc.def.ghi", "sent bearer ***"),
    ("a bearer token is required", "a bearer token is required"),
    (
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261206/us-east-1/rds/aws4_request, SignedHeaders=host, Signature=fe5f80f77d5fa3beca038a248ff027",
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIA***/20261206/us-east-1/rds/aws4_request, SignedHeaders=host, Signature=***",
    ),
    // AWS key ids (was incident-aws' `scrub_key_ids`).
    ("key AKIAIOSFODNN7EXAMPLE end é", "key AKIA*** end é"),
    ("ASIAY34FZKBOKMUTVV7A", "ASIA***"),
    ("AKIAshort", "AKIAshort"),
    // Slack and PagerDuty.
    ("auth failed for xoxb-123-456", "auth failed for ***"),
    ("xapp-1-A0-99 ok", "*** ok"),
    ("https://hooks.slack.com/services/T000/B000/XXXXXXXX failed", "https://hooks.slack.com/*** failed"),
    ("https://events.pagerduty.com/integration/abc123/enqueue", "https://events.pagerduty.com/integration/***"),
    ("unicode é ü 日本 password=日本語 ok", "unicode é ü 日本 password=*** ok"),
];

#[test]
fn pattern_table() {
    for (input, want) in PATTERNS {
        assert_eq!(scrub(input), *want, "scrub({input:?})");
        assert_eq!(scrub(want), *want, "scrub is idempotent on {want:?}");
    }
}

#[test]
fn known_secrets() {
    // incident-notify's Secret::redact / redact_all.
    let r = Redactor::new().with_secrets(["xoxb-very-secret", ""]);
    assert_eq!(r.scrub("a xoxb-very-secret b"), "a *** b");
    assert_eq!(Redactor::new().with_secret("  ").len(), 0);
    // incident-datastores' scrub: longest first.
    assert_eq!(scrub_secrets("a secret and secret2", &["secret", "secret2", ""]), "a *** and ***");
    // incident-datastores' ConnectionString::scrub: plain and percent-encoded.
    let r = Redactor::new().with_secret("p%40ss-w0rd");
    assert_eq!(r.scrub("auth p@ss-w0rd failed, p%40ss-w0rd"), "auth *** failed, ***");
    // incident-aws' Redactor: secret keys and key ids; Debug shows no value.
    let r = Redactor::new().with_secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    let s = r.scrub("key AKIAIOSFODNN7EXAMPLE secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY end é");
    assert_eq!(s, "key AKIA*** secret *** end é");
    assert!(!format!("{r:?}").contains("wJalr"));
    assert_eq!(format!("{r:?}"), "Redactor(1 secret(s))");
}

#[test]
fn redacted_never_prints() {
    let r = Redacted::new("pw".to_owned());
    assert_eq!(format!("{r} {r:?}"), "*** ***");
    assert_eq!(r.expose(), "pw");
}

#[test]
fn url_parts() {
    assert_eq!(url_password("postgres://app:p%40ss@h/db"), Some("p%40ss"));
    assert_eq!(url_password("postgres://app@h/db"), None);
    assert_eq!(url_password("plain"), None);
    assert_eq!(percent_decode("s%3Acret%zz%4"), "s:cret%zz%4");
    assert_eq!(
        blank_quoted("invalid type: string \"hunter2\", expected u64"),
        "invalid type: string \"***\", expected u64"
    );
}

proptest! {
    /// A password in a connection string never survives, in any surrounding text.
    #[test]
    fn url_passwords_never_survive(
        pw in "[A-Za-z0-9!$%^*_+~-]{6,24}",
        user in "[a-z]{1,8}",
        before in "[ -~]{0,20}",
        after in "[ -~&&[^@]]{0,20}",
    ) {
        let before = before.replace(pw.as_str(), "");
        let after = after.replace(pw.as_str(), "");
        let text = format!("{before} postgres://{user}:{pw}@db.internal:5432/prod {after}");
        let out = scrub(&text);
        prop_assert!(!out.contains(&format!(":{pw}@")), "{out}");
        let kv = scrub(&format!("{before} host=h password={pw} {after}"));
        prop_assert!(!kv.contains(&format!("password={pw}")), "{kv}");
    }

    /// Scrubbing twice changes nothing, and never panics on any text.
    #[test]
    fn idempotent(text in "\\PC{0,80}") {
        let once = scrub(&text);
        prop_assert_eq!(scrub(&once), once.clone());
        let r = Redactor::new().with_secret("hunter2");
        let out = r.scrub(&format!("{text}hunter2{text}"));
        prop_assert!(!out.contains("hunter2"), "{}", out);
    }
}
