//! Amazon SNS HTTP(S) deliveries: the JSON envelope of `Notification`, `SubscriptionConfirmation` and
//! `UnsubscribeConfirmation` messages, the exact string SNS signs, and the host rule for the URLs SNS
//! asks a subscriber to fetch (`SigningCertURL`, `SubscribeURL`).
//!
//! Verifying the signature needs the signing certificate, fetched over HTTPS from `SigningCertURL`; that
//! is network I/O, so it happens in the receiver (`incident-receiver`), which calls
//! [`SnsMessage::string_to_sign`] and [`is_sns_host`] from here so the rule lives in one place.
//!
//! String to sign (SNS "Verifying the signatures of Amazon SNS messages"): for a `Notification` the
//! lines `Message`, `MessageId`, `Subject` (only when present), `Timestamp`, `TopicArn`, `Type`; for the
//! two confirmations `Message`, `MessageId`, `SubscribeURL`, `Timestamp`, `Token`, `TopicArn`, `Type` —
//! each name on its own line followed by its value on the next, every line ending in `\n`.
//! `SignatureVersion` `1` signs that string with RSA PKCS #1 v1.5 and SHA1, `2` with SHA256.

use serde::{Deserialize, Serialize};

use super::{check_size, from_json};
use crate::{Error, Policy, Result};

const WHAT: &str = "sns message";

/// The `Type` of an SNS message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum MessageType {
    /// A published message (the CloudWatch alarm is its `Message`).
    Notification,
    /// Sent once when the subscription is created: confirm by fetching `SubscribeURL`.
    SubscriptionConfirmation,
    /// Sent when the subscription is deleted.
    UnsubscribeConfirmation,
}

impl MessageType {
    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Notification => "Notification",
            Self::SubscriptionConfirmation => "SubscriptionConfirmation",
            Self::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }
}

/// `SignatureVersion`: which digest the RSA signature uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum SignatureVersion {
    /// `"1"`: SHA1withRSA.
    #[serde(rename = "1")]
    V1,
    /// `"2"`: SHA256withRSA.
    #[serde(rename = "2")]
    V2,
}

/// An SNS message as POSTed to an HTTP(S) subscriber. Field names are SNS's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SnsMessage {
    /// Message type.
    #[serde(rename = "Type")]
    pub kind: MessageType,
    /// Unique id of the message (SNS retries keep it).
    pub message_id: String,
    /// Confirmation token (confirmations only).
    #[serde(default)]
    pub token: Option<String>,
    /// The topic.
    pub topic_arn: String,
    /// Subject (notifications; optional).
    #[serde(default)]
    pub subject: Option<String>,
    /// The message: for CloudWatch a JSON alarm document.
    pub message: String,
    /// When it was published, exactly as sent (it is part of the signed string).
    pub timestamp: String,
    /// Signature scheme.
    pub signature_version: SignatureVersion,
    /// Base64 RSA signature of [`SnsMessage::string_to_sign`].
    pub signature: String,
    /// Where the signing certificate (PEM) is.
    #[serde(rename = "SigningCertURL", alias = "SigningCertUrl")]
    pub signing_cert_url: String,
    /// Fetch to confirm the subscription (confirmations only).
    #[serde(default, rename = "SubscribeURL", alias = "SubscribeUrl")]
    pub subscribe_url: Option<String>,
    /// Fetch to unsubscribe (notifications only).
    #[serde(default, rename = "UnsubscribeURL", alias = "UnsubscribeUrl")]
    pub unsubscribe_url: Option<String>,
}

impl SnsMessage {
    /// Parse an SNS HTTP delivery body (size limit: `limits.max_payload_bytes`).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the path; a confirmation without
    /// `Token` or `SubscribeURL`.
    pub fn parse(body: &[u8], policy: &Policy) -> Result<Self> {
        check_size(body, policy, WHAT)?;
        let msg: Self = from_json(body, WHAT)?;
        if msg.kind != MessageType::Notification {
            if msg.token.as_deref().is_none_or(str::is_empty) {
                return Err(Error::invalid_input(format!("{WHAT}: Token: required for Type {}", msg.kind.as_str())));
            }
            if msg.subscribe_url.as_deref().is_none_or(str::is_empty) {
                return Err(Error::invalid_input(format!(
                    "{WHAT}: SubscribeURL: required for Type {}",
                    msg.kind.as_str()
                )));
            }
        }
        Ok(msg)
    }

    /// The exact string SNS signed (see the module docs).
    #[must_use]
    pub fn string_to_sign(&self) -> String {
        let mut out = String::with_capacity(self.message.len() + 512);
        let mut line = |name: &str, value: &str| {
            out.push_str(name);
            out.push('\n');
            out.push_str(value);
            out.push('\n');
        };
        line("Message", &self.message);
        line("MessageId", &self.message_id);
        match self.kind {
            MessageType::Notification => {
                if let Some(subject) = &self.subject {
                    line("Subject", subject);
                }
            }
            MessageType::SubscriptionConfirmation | MessageType::UnsubscribeConfirmation => {
                line("SubscribeURL", self.subscribe_url.as_deref().unwrap_or_default());
            }
        }
        line("Timestamp", &self.timestamp);
        if self.kind != MessageType::Notification {
            line("Token", self.token.as_deref().unwrap_or_default());
        }
        line("TopicArn", &self.topic_arn);
        line("Type", self.kind.as_str());
        out
    }

    /// The AWS region of the topic (`arn:aws:sns:REGION:ACCOUNT:NAME`), if the ARN has one.
    #[must_use]
    pub fn topic_region(&self) -> Option<&str> {
        let mut parts = self.topic_arn.split(':');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("arn"), Some(_), Some("sns"), Some(region)) if !region.is_empty() => Some(region),
            _ => None,
        }
    }
}

/// Whether `host` (no port) is an SNS endpoint: `sns.<region>.amazonaws.com` (or `.amazonaws.com.cn`),
/// `<region>` being lower-case letters, digits and dashes. The only hosts a receiver may fetch
/// `SigningCertURL` and `SubscribeURL` from (over HTTPS), besides explicitly configured test hosts.
#[must_use]
pub fn is_sns_host(host: &str) -> bool {
    let rest = host.strip_suffix(".amazonaws.com").or_else(|| host.strip_suffix(".amazonaws.com.cn"));
    let Some(region) = rest.and_then(|r| r.strip_prefix("sns.")) else {
        return false;
    };
    !region.is_empty()
        && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-')
}

/// Split an absolute `http(s)://host[:port]/path` URL into `(scheme, host, port, path)` (lower-case
/// scheme and host). `None` for anything else: user info, missing host, another scheme, whitespace.
#[must_use]
pub fn split_url(url: &str) -> Option<(String, String, Option<u16>, String)> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.contains('@') || authority.is_empty() {
        return None;
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.contains(']') || h.ends_with(']') => (h, Some(p.parse::<u16>().ok()?)),
        _ => (authority, None),
    };
    if host.is_empty() {
        return None;
    }
    Some((scheme, host.to_ascii_lowercase(), port, if path.is_empty() { "/".into() } else { path.to_owned() }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn msg(kind: &str) -> String {
        let extra = if kind == "Notification" {
            r#""Subject":"ALARM: \"api-errors\"","UnsubscribeURL":"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe""#
        } else {
            r#""Token":"tok","SubscribeURL":"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=tok""#
        };
        format!(
            r#"{{"Type":"{kind}","MessageId":"m-1","TopicArn":"arn:aws:sns:us-east-1:123456789012:alarms","Message":"hello","Timestamp":"2024-05-03T14:00:00.000Z","SignatureVersion":"2","Signature":"c2ln","SigningCertURL":"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",{extra}}}"#
        )
    }

    #[test]
    fn strings_to_sign_follow_the_documented_order() {
        let n = SnsMessage::parse(msg("Notification").as_bytes(), &Policy::default()).expect("parse");
        assert_eq!(
            n.string_to_sign(),
            "Message\nhello\nMessageId\nm-1\nSubject\nALARM: \"api-errors\"\nTimestamp\n2024-05-03T14:00:00.000Z\n\
             TopicArn\narn:aws:sns:us-east-1:123456789012:alarms\nType\nNotification\n"
        );
        assert_eq!(n.topic_region(), Some("us-east-1"));
        let c = SnsMessage::parse(msg("SubscriptionConfirmation").as_bytes(), &Policy::default()).expect("parse");
        assert_eq!(
            c.string_to_sign(),
            "Message\nhello\nMessageId\nm-1\nSubscribeURL\nhttps://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=tok\n\
             Timestamp\n2024-05-03T14:00:00.000Z\nToken\ntok\nTopicArn\narn:aws:sns:us-east-1:123456789012:alarms\n\
             Type\nSubscriptionConfirmation\n"
        );
    }

    #[test]
    fn confirmations_need_token_and_url() {
        let body = msg("SubscriptionConfirmation").replace(r#""Token":"tok","#, "");
        let e = SnsMessage::parse(body.as_bytes(), &Policy::default()).expect_err("no token");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(e.to_string(), "sns message: Token: required for Type SubscriptionConfirmation");
        let e = SnsMessage::parse(br#"{"Type":"Nope"}"#, &Policy::default()).expect_err("type");
        assert!(e.to_string().starts_with("sns message: Type: unknown variant `Nope`"), "{e}");
    }

    #[test]
    fn only_sns_hosts() {
        assert!(is_sns_host("sns.us-east-1.amazonaws.com"));
        assert!(is_sns_host("sns.cn-north-1.amazonaws.com.cn"));
        for bad in [
            "sns.amazonaws.com",
            "evil.com",
            "sns.us-east-1.amazonaws.com.evil.com",
            "sns.us_east.amazonaws.com",
            "x.sns.us-east-1.amazonaws.com",
            "sns.-x.amazonaws.com",
            "s3.us-east-1.amazonaws.com",
        ] {
            assert!(!is_sns_host(bad), "{bad}");
        }
        assert_eq!(
            split_url("https://SNS.us-east-1.amazonaws.com/a.pem"),
            Some(("https".into(), "sns.us-east-1.amazonaws.com".into(), None, "/a.pem".into()))
        );
        assert_eq!(
            split_url("http://127.0.0.1:8080/x?y"),
            Some(("http".into(), "127.0.0.1".into(), Some(8080), "/x?y".into()))
        );
        assert_eq!(split_url("https://user@sns.us-east-1.amazonaws.com/"), None);
        assert_eq!(split_url("ftp://sns.us-east-1.amazonaws.com/"), None);
        assert_eq!(split_url("https://sns.us-east-1.amazonaws.com:bad/"), None);
    }
}
