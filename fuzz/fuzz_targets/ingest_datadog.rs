//! Datadog webhook bodies: `Ok` or a one-line `InvalidInput`; what parses re-parses to itself from its
//! own serialization; mapping gives at most one alert (none for no-data transitions) or a one-line
//! `InvalidInput` (an unreadable `date`); classification never panics.
#![no_main]

use incident_core::ErrorKind;
use incident_core::ingest::{AlertSource, datadog};
use incident_fuzz::{POLICY, ROOMY};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match datadog::parse_payload(data, &POLICY) {
        Ok(payload) => {
            let text = serde_json::to_vec(&payload).expect("a parsed payload serializes");
            let back = datadog::parse_payload(&text, &ROOMY).expect("a serialized payload parses");
            assert_eq!(back, payload, "parse(serialize(x)) == x");
            let no_data = payload.alert_transition.to_ascii_lowercase().contains("data");
            let mapped = datadog::map_payload(payload, &POLICY);
            match &mapped {
                Ok(batch) => {
                    assert!(batch.alerts.len() <= 1, "one alert per payload");
                    assert_eq!(batch.alerts.is_empty(), no_data, "no alert exactly for no-data transitions");
                    incident_fuzz::check_batch(batch, AlertSource::Datadog);
                }
                Err(e) => incident_fuzz::expect_bounded_one_line_error(e, &[ErrorKind::InvalidInput]),
            }
            assert_eq!(datadog::parse(data, &POLICY), mapped, "parse agrees with parse_payload + map_payload");
        }
        Err(e) => {
            incident_fuzz::expect_bounded_one_line_error(&e, &[ErrorKind::InvalidInput]);
            assert_eq!(datadog::parse(data, &POLICY).expect_err("parse agrees with parse_payload"), e);
        }
    }
});
