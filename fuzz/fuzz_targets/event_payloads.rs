//! Event payloads as they are read back: from the log (a type name and its JSON payload,
//! `Event::from_stored`) and from a Kafka topic (`cairn replay --from kafka://…` reads
//! whatever records the topic holds). The first line is the type name for the log's
//! decoder; the whole input is also given to the record decoder.
//!
//! What must hold: a decoded event written again decodes to the same event, and a decoded
//! record written again as a record decodes to the same envelope.
#![no_main]

use cairn::events::{Event, Fields};
use cairn::kafka::record::{decode, Record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (kind, payload) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok(event) = Event::from_stored(kind, payload) {
        let written = serde_json::to_string(&Fields(&event)).expect("an event serializes");
        let again = Event::from_stored(event.kind(), &written)
            .unwrap_or_else(|e| panic!("{written} does not read back: {e}"));
        assert_eq!(again, event);
    }
    if let Ok(envelope) = decode(data) {
        let record = Record::of(&envelope).expect("an envelope serializes");
        let again = decode(&record.value).unwrap_or_else(|e| panic!("does not read back: {e}"));
        // Instants outside the years 0 to 9999 have no RFC 3339 spelling to round-trip.
        if (-62_167_219_200_000..=253_402_300_799_999).contains(&envelope.at.0) {
            assert_eq!(again, envelope);
        }
    }
});
