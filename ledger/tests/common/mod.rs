//! Shared test helpers: a log in a temporary directory and event builders.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use encore_ledger::{EventId, ExpectedVersion, Ledger, LedgerOptions, NewEvent, StreamAppend, StreamId};

pub fn temp_ledger() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().expect("temp dir");
    let ledger = Ledger::open(dir.path().join("log"), LedgerOptions::default()).expect("open");
    (dir, ledger)
}

pub fn stream(name: &str) -> StreamId {
    StreamId::new(name).expect("valid stream id")
}

pub fn event(id: u128, payload: &[u8]) -> NewEvent {
    NewEvent::new(EventId::from_u128(id), "Tested", 1_000, payload.to_vec())
}

pub fn one(name: &str, expected: ExpectedVersion, events: Vec<NewEvent>) -> Vec<StreamAppend> {
    vec![StreamAppend { stream: stream(name), expected, events }]
}
