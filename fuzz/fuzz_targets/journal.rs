//! Stored procedure journals: `verify_journal` accepts a chain or names a typed `Integrity` problem; a
//! verified journal re-loads to itself.
#![no_main]

use incident_core::ErrorKind;
use incident_core::store::{JournalEntry, verify_journal};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(entries) = serde_json::from_slice::<Vec<JournalEntry>>(data) else { return };
    let run_id = entries.first().map_or_else(|| "run".to_owned(), |e| e.draft.run_id.clone());
    match verify_journal(&run_id, &entries) {
        Ok(()) => {
            let again = serde_json::to_vec(&entries).expect("entries serialize");
            let back: Vec<JournalEntry> = serde_json::from_slice(&again).expect("serialized entries load");
            assert_eq!(back, entries, "parse(serialize(x)) == x");
            verify_journal(&run_id, &back).expect("a verified journal verifies again");
        }
        Err(e) => incident_fuzz::expect_input_error(&e, &[ErrorKind::Integrity]),
    }
});
