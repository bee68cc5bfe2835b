//! Alertmanager webhook bodies: `Ok` or a one-line `InvalidInput`; what parses re-parses to itself from
//! its own serialization; mapping and classification never panic.
#![no_main]

use incident_core::ErrorKind;
use incident_core::ingest::alertmanager;
use incident_fuzz::{POLICY, ROOMY};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match alertmanager::parse_payload(data, &POLICY) {
        Ok(payload) => {
            let text = serde_json::to_vec(&payload).expect("a parsed payload serializes");
            let back = alertmanager::parse_payload(&text, &ROOMY).expect("a serialized payload parses");
            assert_eq!(back, payload, "parse(serialize(x)) == x");
            let batch = alertmanager::map_payload(payload, &POLICY);
            for alert in &batch.alerts {
                let _ = alert.classification();
            }
            assert_eq!(alertmanager::parse(data, &POLICY).expect("parse agrees with parse_payload"), batch);
        }
        Err(e) => incident_fuzz::expect_one_line_error(&e, &[ErrorKind::InvalidInput]),
    }
});
