//! PagerDuty Events API v2 bodies (one event or an array): `Ok` or a one-line `InvalidInput`; what parses
//! re-parses to itself from its own serialization; mapping and classification never panic.
#![no_main]

use incident_core::ErrorKind;
use incident_core::ingest::pagerduty;
use incident_fuzz::{POLICY, ROOMY};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match pagerduty::parse_events(data, &POLICY) {
        Ok(events) => {
            let text = serde_json::to_vec(&events).expect("parsed events serialize");
            let back = pagerduty::parse_events(&text, &ROOMY).expect("serialized events parse");
            assert_eq!(back, events, "parse(serialize(x)) == x");
            let batch = pagerduty::map_events(events, &POLICY);
            for alert in &batch.alerts {
                let _ = alert.classification();
            }
            assert_eq!(pagerduty::parse(data, &POLICY).expect("parse agrees with parse_events"), batch);
        }
        Err(e) => incident_fuzz::expect_one_line_error(&e, &[ErrorKind::InvalidInput]),
    }
});
