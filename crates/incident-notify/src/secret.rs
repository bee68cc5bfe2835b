//! [`Secret`]: a token that prints as `***`.

use std::fmt;

use incident_core::redact::Redactor;
use serde::{Deserialize, Deserializer};

/// A credential (Slack bot token, PagerDuty routing key, Statuspage API key, webhook signing secret).
///
/// `Debug` and `Display` print `***`; the value is reachable only through [`Secret::expose`], which the
/// provider clients call when building a request. There is deliberately no `Serialize`.
///
/// ```
/// use incident_notify::Secret;
/// let token = Secret::new("xoxb-123-456");
/// assert_eq!(format!("{token} {token:?}"), "*** ***");
/// assert_eq!(token.redact("auth failed for xoxb-123-456"), "auth failed for ***");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for building a request. Never format it into a message.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty (or only whitespace).
    #[must_use]
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// `text` with every occurrence of the value replaced by `***`, then scrubbed by
    /// `incident_core::redact::scrub`.
    #[must_use]
    pub fn redact(&self, text: &str) -> String {
        Redactor::new().with_secret(&self.0).scrub(text)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl<'de> Deserialize<'de> for Secret {
    /// From a string. A value of another type is refused without echoing it.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Secret, E> {
                Ok(Secret::new(v))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Secret, E> {
                Ok(Secret(v))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Secret, E> {
                Err(E::custom("a secret must be a string (value not shown)"))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Secret, E> {
                Err(E::custom("a secret must be a string (value not shown)"))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Secret, E> {
                Err(E::custom("a secret must be a string (value not shown)"))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Secret, E> {
                Err(E::custom("a secret must be a string (value not shown)"))
            }
        }
        d.deserialize_any(V)
    }
}

/// The [`Redactor`] of `secrets` (every message of a request goes through it).
pub(crate) fn redactor<'a>(secrets: impl IntoIterator<Item = &'a Secret>) -> Redactor {
    Redactor::new().with_secrets(secrets.into_iter().map(Secret::expose))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let s = Secret::new("xoxb-very-secret");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{:?}", Some(vec![s.clone()])), "Some([***])");
        assert_eq!(s.expose(), "xoxb-very-secret");
    }

    #[test]
    fn deserialize_does_not_echo() {
        let err = serde_json::from_str::<Secret>("123456789").expect_err("number");
        assert!(!err.to_string().contains("123456789"), "{err}");
        let s: Secret = serde_json::from_str("\"abc\"").expect("string");
        assert_eq!(s.expose(), "abc");
    }
}
