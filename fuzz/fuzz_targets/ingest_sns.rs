//! Amazon SNS HTTP deliveries (the envelope, and the CloudWatch alarm a notification carries): `Ok` or a
//! one-line `InvalidInput`; what parses re-parses to itself from its own serialization; the string to sign
//! is the documented one; the URLs SNS asks to fetch split consistently and only what the `url` crate
//! also reads as an SNS host passes the receiver's AWS rule; `cloudwatch::parse` is the envelope, then
//! `parse_alarm` of its `Message` (a confirmation carries no alarm); mapping never panics.
#![no_main]

use incident_core::ErrorKind;
use incident_core::ingest::sns::{MessageType, SnsMessage};
use incident_core::ingest::{AlertSource, cloudwatch};
use incident_fuzz::{POLICY, ROOMY};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let alarm = cloudwatch::parse(data, &POLICY);
    match SnsMessage::parse(data, &POLICY) {
        Ok(msg) => {
            let text = serde_json::to_vec(&msg).expect("a parsed message serializes");
            let back = SnsMessage::parse(&text, &ROOMY).expect("a serialized message parses");
            assert_eq!(back, msg, "parse(serialize(x)) == x");
            assert_eq!(back.string_to_sign(), msg.string_to_sign());
            incident_fuzz::check_string_to_sign(&msg);
            if msg.kind != MessageType::Notification {
                assert!(msg.token.as_deref().is_some_and(|t| !t.is_empty()), "a confirmation has a Token");
                assert!(msg.subscribe_url.as_deref().is_some_and(|u| !u.is_empty()), "and a SubscribeURL");
            }
            if let Some(region) = msg.topic_region() {
                assert!(!region.is_empty() && !region.contains(':'), "region {region:?}");
                assert!(msg.topic_arn.starts_with("arn:") && msg.topic_arn.contains(&format!(":sns:{region}")));
            }
            for url in [Some(&msg.signing_cert_url), msg.subscribe_url.as_ref(), msg.unsubscribe_url.as_ref()]
                .into_iter()
                .flatten()
            {
                incident_fuzz::check_sns_url(url);
            }
            if msg.kind == MessageType::Notification {
                let inner = cloudwatch::parse_alarm(msg.message.as_bytes(), &POLICY);
                assert_eq!(alarm, inner, "cloudwatch::parse = SnsMessage::parse, then parse_alarm(Message)");
            } else {
                let e = alarm.as_ref().expect_err("a confirmation carries no alarm");
                assert!(e.message().starts_with("sns message: Type: "), "{e}");
            }
        }
        Err(e) => {
            incident_fuzz::expect_bounded_one_line_error(&e, &[ErrorKind::InvalidInput]);
            assert_eq!(alarm.as_ref().expect_err("cloudwatch::parse reads the envelope first"), &e);
        }
    }
    match &alarm {
        Ok(batch) => {
            assert!(batch.alerts.len() <= 1, "one alert per alarm");
            incident_fuzz::check_batch(batch, AlertSource::Cloudwatch);
        }
        Err(e) => incident_fuzz::expect_bounded_one_line_error(e, &[ErrorKind::InvalidInput]),
    }
});
