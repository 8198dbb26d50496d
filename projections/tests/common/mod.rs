//! Shared helpers: a log in a temporary directory and a generated workload.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use encore_ledger::{EventId, Ledger, LedgerOptions, NewEvent, StreamId};
use encore_projections::workload::{Workload, WorkloadConfig, Writer};

pub fn temp_log() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().expect("temp dir");
    let ledger = Ledger::open(dir.path().join("log"), LedgerOptions::default()).expect("open log");
    (dir, ledger)
}

/// Appends `ops` generated operations, one atomic append each; returns the
/// number of events written.
pub fn write_workload(ledger: &Ledger, config: WorkloadConfig, ops: usize) -> u64 {
    let mut writer = Writer::new(config.seed);
    for op in Workload::new(config).take(ops) {
        writer.append(ledger, &op).expect("append generated op");
    }
    writer.events()
}

/// Appends a record whose type is not a domain event (as the demo log holds).
pub fn append_foreign(ledger: &Ledger, n: u128, at: i64) -> u64 {
    let event = NewEvent::new(EventId::from_u128(0xF0_0000 + n), "DemoNote", at, b"not a domain event".to_vec());
    ledger.append_to(StreamId::new("demo").unwrap(), encore_ledger::ExpectedVersion::Any, vec![event]).unwrap().positions[0]
}
