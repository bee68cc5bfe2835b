//! Procedure files (`incident procedure validate FILE`, `incident plan FILE`; JSON or YAML): `Ok` or an
//! `InvalidInput` error; a valid procedure re-parses to itself from its JSON and its YAML, and printing,
//! ordering and the critical path never panic.
#![no_main]

use std::collections::BTreeMap;

use incident_core::ErrorKind;
use incident_core::engine::Procedure;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = incident_fuzz::text(data) else { return };
    match Procedure::parse(text) {
        Ok(p) => {
            for again in [p.to_json().expect("json"), p.to_yaml().expect("yaml")] {
                let back = Procedure::parse(&again).unwrap_or_else(|e| panic!("re-parse: {e}\n{again}"));
                assert_eq!(back, p, "parse(serialize(x)) == x");
            }
            let _ = p.to_string();
            let order = p.topo_order().expect("a valid procedure has a topological order");
            assert_eq!(order.len(), p.steps.len());
            let _ = p.stages();
            let durations: BTreeMap<String, std::time::Duration> = p
                .steps
                .iter()
                .map(|s| (s.id.clone(), s.deadline.map_or(std::time::Duration::from_secs(60), |d| d.as_std())))
                .collect();
            let _ = p.critical_path(&durations);
            let _ = p.diff(&p);
        }
        Err(e) => incident_fuzz::expect_input_error(&e, &[ErrorKind::InvalidInput]),
    }
});
