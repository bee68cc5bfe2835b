//! Stored timelines (`timeline.json` of an evidence bundle; what stores read back): loading verifies the
//! hash chain and fails with a typed error, or yields a timeline that re-loads to itself and whose metrics
//! and rendering never panic.
#![no_main]

use incident_core::timeline::{Event, Timeline};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tl) = serde_json::from_slice::<Timeline>(data) {
        let again = serde_json::to_vec(&tl).expect("a timeline serializes");
        let back: Timeline = serde_json::from_slice(&again).expect("a serialized timeline loads");
        assert_eq!(back, tl, "parse(serialize(x)) == x");
        back.verify_head(tl.head_hash()).expect("head hash");
        let _ = tl.metrics(tl.events().first().map(|e| e.at));
        for e in tl.events() {
            let _ = e.kind.describe();
        }
    }
    // The events alone, as a store hands them to `Timeline::from_events`.
    if let Ok(events) = serde_json::from_slice::<Vec<Event>>(data) {
        let id = events.first().map_or_else(String::new, |e| e.actor.clone());
        match Timeline::from_events(id, events.clone()) {
            Ok(tl) => assert_eq!(tl.events(), events.as_slice()),
            Err(e) => incident_fuzz::expect_input_error(&e, &[incident_core::ErrorKind::Integrity]),
        }
    }
});
