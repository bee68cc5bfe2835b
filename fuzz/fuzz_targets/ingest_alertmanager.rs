//! Alertmanager webhook bodies: `Ok` or a one-line `InvalidInput`; what parses re-parses to itself from
//! its own serialization; mapping and classification never panic.
#![no_main]

use std::sync::LazyLock;

use incident_core::ingest::alertmanager;
use incident_core::{ErrorKind, Policy};
use libfuzzer_sys::fuzz_target;

static POLICY: LazyLock<Policy> = LazyLock::new(Policy::default);
/// Re-serialized text may be longer than the input (escapes): re-parse without the size limits.
static ROOMY: LazyLock<Policy> = LazyLock::new(|| {
    let mut p = Policy::default();
    p.limits.max_payload_bytes = u64::MAX;
    p.limits.max_alerts_per_payload = u32::MAX;
    p
});

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
