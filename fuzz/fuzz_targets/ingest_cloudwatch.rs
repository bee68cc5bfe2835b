//! CloudWatch alarm documents (the `Message` of an SNS notification): `Ok` or a one-line `InvalidInput`;
//! what parses re-parses to itself from its own serialization and maps the same; one alert (none for
//! `INSUFFICIENT_DATA`) identified by the group key; the same document delivered in an SNS notification
//! gives the same result; classification never panics.
#![no_main]

use incident_core::ErrorKind;
use incident_core::ingest::AlertSource;
use incident_core::ingest::cloudwatch::{self, Alarm, AlarmState};
use incident_fuzz::{POLICY, ROOMY};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let result = cloudwatch::parse_alarm(data, &POLICY);
    match &result {
        Ok(batch) => {
            let alarm: Alarm = serde_json::from_slice(data).expect("an accepted document is an alarm");
            let text = serde_json::to_vec(&alarm).expect("a parsed alarm serializes");
            let back: Alarm = serde_json::from_slice(&text).expect("a serialized alarm parses");
            assert_eq!(back, alarm, "parse(serialize(x)) == x");
            assert_eq!(&cloudwatch::parse_alarm(&text, &ROOMY).expect("a serialized alarm maps"), batch);
            let insufficient = alarm.new_state_value == AlarmState::InsufficientData;
            assert_eq!(&cloudwatch::map_alarm(alarm, &POLICY), batch, "parse_alarm = deserialize, then map_alarm");
            assert_eq!(batch.alerts.len(), usize::from(!insufficient), "one alert unless INSUFFICIENT_DATA");
            assert!(batch.group_key.as_deref().is_some_and(|k| !k.is_empty()), "a group key");
            for a in &batch.alerts {
                assert_eq!(a.id, batch.group_key, "the alert is identified by its group key");
            }
            incident_fuzz::check_batch(batch, AlertSource::Cloudwatch);
        }
        Err(e) => incident_fuzz::expect_bounded_one_line_error(e, &[ErrorKind::InvalidInput]),
    }
    // The same document as SNS delivers it.
    let Ok(message) = std::str::from_utf8(data) else { return };
    let envelope = serde_json::json!({
        "Type": "Notification",
        "MessageId": "6b1e7c3a-4d2f-5e8a-9b0c-1d2e3f4a5b6c",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:incident-alarms",
        "Subject": "ALARM",
        "Message": message,
        "Timestamp": "2024-05-03T14:05:01.456Z",
        "SignatureVersion": "2",
        "Signature": "c2ln",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
    });
    let body = serde_json::to_vec(&envelope).expect("envelope");
    if u64::try_from(body.len()).unwrap_or(u64::MAX) <= POLICY.limits.max_payload_bytes {
        assert_eq!(cloudwatch::parse(&body, &POLICY), result, "delivered through SNS: the same result");
    }
});
