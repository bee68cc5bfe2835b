//! Grafana alerting webhook bodies: `Ok` or a one-line `InvalidInput`; what parses re-parses to itself from
//! its own serialization; mapping and classification never panic; one alert per payload alert, a lone
//! expression value becomes the value annotation (exactly), dashboard and panel URLs join the links.
#![no_main]

use incident_core::ErrorKind;
use incident_core::ingest::{AlertSource, grafana};
use incident_fuzz::{POLICY, ROOMY};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match grafana::parse_payload(data, &POLICY) {
        Ok(payload) => {
            let text = serde_json::to_vec(&payload).expect("a parsed payload serializes");
            let back = grafana::parse_payload(&text, &ROOMY).expect("a serialized payload parses");
            assert_eq!(back, payload, "parse(serialize(x)) == x");
            let value = &POLICY.ingest.value_annotation;
            let batch = grafana::map_payload(payload.clone(), &POLICY);
            assert_eq!(batch.alerts.len(), payload.alerts.len(), "one alert per payload alert");
            for (g, alert) in payload.alerts.iter().zip(&batch.alerts) {
                let urls = [&g.generator_url, &g.dashboard_url, &g.panel_url];
                let want: Vec<&String> = urls.into_iter().filter(|u| !u.is_empty()).collect();
                assert_eq!(alert.links.iter().collect::<Vec<_>>(), want, "links");
                let numbers: Vec<f64> = g.values.iter().flatten().filter_map(|(_, v)| *v).collect();
                if let (None, None, [only]) = (g.annotations.get(value), g.labels.get(value), numbers.as_slice()) {
                    let got = alert.annotations.get(value).expect("a lone value becomes the value annotation");
                    assert_eq!(got.parse::<f64>().ok(), Some(*only), "value annotation {got:?}");
                }
            }
            incident_fuzz::check_batch(&batch, AlertSource::Grafana);
            assert_eq!(grafana::parse(data, &POLICY).expect("parse agrees with parse_payload"), batch);
        }
        Err(e) => incident_fuzz::expect_bounded_one_line_error(&e, &[ErrorKind::InvalidInput]),
    }
});
