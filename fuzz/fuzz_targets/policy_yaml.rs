//! Policy files in YAML: `Ok` or a one-line `Policy` error; a loaded policy re-loads to itself from its
//! own YAML and is safe to use (see `incident_fuzz::use_policy`).
#![no_main]

use incident_core::{ErrorKind, Policy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = incident_fuzz::text(data) else { return };
    match Policy::from_yaml_str(text) {
        Ok(policy) => {
            let again = policy.to_yaml_string().expect("a loaded policy serializes");
            let back = Policy::from_yaml_str(&again).unwrap_or_else(|e| panic!("re-load: {e}\n{again}"));
            assert_eq!(back, policy, "parse(serialize(x)) == x");
            incident_fuzz::use_policy(&policy);
        }
        Err(e) => incident_fuzz::expect_one_line_error(&e, &[ErrorKind::Policy]),
    }
});
