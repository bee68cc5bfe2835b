//! Kubernetes manifests (`incident_k8s::parse_manifests`, multi-document YAML, `List` kinds): `Ok` or an
//! `InvalidInput` error naming the document, never a panic.
#![no_main]

use incident_core::ErrorKind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = incident_fuzz::text(data) else { return };
    match incident_k8s::parse_manifests(text, "fuzz.yaml") {
        Ok(manifests) => {
            for m in manifests {
                assert!(!m.name.is_empty() || m.body.pointer("/metadata/name").is_some());
            }
        }
        Err(e) => incident_fuzz::expect_input_error(&e, &[ErrorKind::InvalidInput]),
    }
});
