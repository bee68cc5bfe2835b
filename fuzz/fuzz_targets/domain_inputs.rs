//! `incident classify` impact facts and `incident declare` observations (JSON, JSON lines or YAML):
//! classification answers or refuses with `InvalidInput`; the detector consumes any observation stream
//! without a panic; both round-trip through JSON.
#![no_main]

use incident_core::ErrorKind;
use incident_core::Policy;
use incident_core::classify::{Classifier, ImpactFacts};
use incident_core::detector::{Detector, Observation};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = incident_fuzz::text(data) else { return };
    if let Ok(facts) = incident_fuzz::parse_doc::<ImpactFacts>(text) {
        let back: ImpactFacts = serde_json::from_str(&serde_json::to_string(&facts).expect("facts serialize"))
            .expect("serialized facts parse");
        assert_eq!(back, facts, "parse(serialize(x)) == x");
        if let Err(e) = Classifier::RUNBOOK.try_classify(&facts) {
            incident_fuzz::expect_input_error(&e, &[ErrorKind::InvalidInput]);
        }
    }
    let observations: Option<Vec<Observation>> = if text.trim_start().starts_with('{') {
        text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).ok()).collect()
    } else {
        incident_fuzz::parse_doc(text).ok()
    };
    if let Some(obs) = observations {
        let json = serde_json::to_string(&obs).expect("observations serialize");
        let back: Vec<Observation> = serde_json::from_str(&json).expect("serialized observations parse");
        assert_eq!(back, obs, "parse(serialize(x)) == x");
        let mut detector = Detector::try_new(Policy::default().declaration).expect("runbook detector");
        for d in detector.observe_all(&obs) {
            let _ = serde_json::to_string(&d);
        }
    }
});
