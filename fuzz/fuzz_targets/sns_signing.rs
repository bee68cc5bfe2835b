//! The pure parts of SNS signature verification, on fields the fuzzer controls directly (no JSON
//! escaping in the way): the input's lines are `Type` selector, `Message`, `MessageId`, `Subject`,
//! `Timestamp`, `Token`, `TopicArn`, `SubscribeURL`, `SigningCertURL` (a line's `\u{1}` stands for a line
//! break inside the value). Checks: the string to sign is the documented one and ignores the unsigned
//! fields; the envelope serializes and parses back to itself with the same string to sign; `split_url` /
//! `is_sns_host` (the receiver's rule for fetching the certificate and confirming subscriptions) split
//! consistently and accept only what the `url` crate (what reqwest connects to) also reads as an SNS
//! host over https:443 — checked on every field and on the whole input as one URL.
#![no_main]

use incident_core::ErrorKind;
use incident_core::ingest::sns::{MessageType, SignatureVersion, SnsMessage};
use incident_fuzz::ROOMY;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = incident_fuzz::text(data) else { return };
    incident_fuzz::check_sns_url(text);
    let mut fields = text.split('\n').map(|l| l.replace('\u{1}', "\n"));
    let mut next = || fields.next().unwrap_or_default();
    let selector = next();
    let kind = match selector.bytes().next().unwrap_or(0) % 3 {
        0 => MessageType::Notification,
        1 => MessageType::SubscriptionConfirmation,
        _ => MessageType::UnsubscribeConfirmation,
    };
    let signature_version = if selector.len() % 2 == 0 { SignatureVersion::V1 } else { SignatureVersion::V2 };
    let message = next();
    let message_id = next();
    let subject = Some(next()).filter(|s| !s.is_empty());
    let timestamp = next();
    let token = Some(next()).filter(|s| !s.is_empty());
    let topic_arn = next();
    let subscribe_url = Some(next()).filter(|s| !s.is_empty());
    let signing_cert_url = next();
    let msg = SnsMessage {
        kind,
        message_id,
        token,
        topic_arn,
        subject,
        message,
        timestamp,
        signature_version,
        signature: "c2ln".into(),
        signing_cert_url,
        subscribe_url,
        unsubscribe_url: None,
    };
    incident_fuzz::check_string_to_sign(&msg);
    for url in [Some(&msg.signing_cert_url), msg.subscribe_url.as_ref(), msg.token.as_ref(), msg.subject.as_ref()]
        .into_iter()
        .flatten()
    {
        incident_fuzz::check_sns_url(url);
    }
    let _ = msg.topic_region();
    let body = serde_json::to_vec(&msg).expect("a message serializes");
    match SnsMessage::parse(&body, &ROOMY) {
        Ok(back) => {
            assert_eq!(back, msg, "parse(serialize(x)) == x");
            assert_eq!(back.string_to_sign(), msg.string_to_sign());
        }
        Err(e) => {
            // Only a confirmation without its token or URL is refused.
            incident_fuzz::expect_bounded_one_line_error(&e, &[ErrorKind::InvalidInput]);
            assert!(kind != MessageType::Notification && (msg.token.is_none() || msg.subscribe_url.is_none()), "{e}");
        }
    }
});
