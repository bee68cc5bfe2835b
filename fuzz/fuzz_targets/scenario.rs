//! Scenario files (YAML): `Ok` or an `InvalidInput`/`NotFound` error; a loaded scenario re-loads to itself
//! from its own YAML, builds a simulated world, and an hour of its timed events applies without a panic.
#![no_main]

use incident_core::ErrorKind;
use incident_core::sim::{Scenario, SimPlatform};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = incident_fuzz::text(data) else { return };
    match Scenario::from_yaml_str(text) {
        Ok(scenario) => {
            let again = scenario.to_yaml().expect("a loaded scenario serializes");
            let back = Scenario::from_yaml_str(&again).unwrap_or_else(|e| panic!("re-load: {e}\n{again}"));
            assert_eq!(back, scenario, "parse(serialize(x)) == x");
            match SimPlatform::from_scenario(&scenario) {
                Ok(platform) => {
                    let _ = platform.advance(std::time::Duration::from_secs(3600));
                    let _ = platform.verify(&scenario.expect);
                }
                Err(e) => incident_fuzz::expect_input_error(&e, &[ErrorKind::InvalidInput, ErrorKind::NotFound]),
            }
        }
        Err(e) => incident_fuzz::expect_input_error(&e, &[ErrorKind::InvalidInput, ErrorKind::NotFound]),
    }
});
