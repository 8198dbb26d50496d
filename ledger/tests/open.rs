//! Opening: recovery of the head, refusal of foreign or newer directories.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use encore_ledger::{ExpectedVersion as EV, Ledger, LedgerOptions, OpenError};

#[test]
fn reopening_restores_the_head_and_continues_the_chain() {
    let (dir, log) = temp_ledger();
    log.append(one("s", EV::Any, vec![event(1, b"a"), event(2, b"b")])).unwrap();
    let head = log.head();
    drop(log);
    let log = Ledger::open(dir.path().join("log"), LedgerOptions::default()).unwrap();
    assert_eq!(log.head(), head);
    let next = log.append(one("s", EV::Exact(2), vec![event(3, b"c")])).unwrap();
    assert_eq!(next.positions, vec![3]);
    assert_eq!(log.read_record(3).unwrap().unwrap().prev_hash, head.hash);
    assert!(log.verify().unwrap().is_intact());
}

fn wal_bytes(dir: &std::path::Path) -> u64 {
    let logs = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap()).filter(|e| e.file_name().to_string_lossy().ends_with(".log"));
    logs.map(|e| e.metadata().unwrap().len()).sum()
}

#[test]
fn a_clean_close_leaves_no_wal_to_replay() {
    let (dir, log) = temp_ledger();
    log.append(one("s", EV::Any, vec![event(1, &[7; 300]), event(2, b"b")])).unwrap();
    assert!(wal_bytes(&dir.path().join("log")) > 300, "the append went through the WAL");
    let head = log.head();
    drop(log);
    assert_eq!(wal_bytes(&dir.path().join("log")), 0, "the memtables were flushed on close");
    let log = Ledger::open(dir.path().join("log"), LedgerOptions::default()).unwrap();
    assert_eq!(log.head(), head);
    assert!(log.verify().unwrap().is_intact());
}

#[test]
fn a_directory_with_other_files_is_not_an_encore_log() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    let err = Ledger::open(dir.path(), LedgerOptions::default()).err().unwrap();
    assert!(matches!(err, OpenError::NotAnEncoreLog { .. }), "{err}");
    assert!(err.to_string().contains("not an Encore log"));
}

#[test]
fn a_file_is_not_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, "x").unwrap();
    assert!(matches!(Ledger::open(&file, LedgerOptions::default()), Err(OpenError::NotADirectory { .. })));
}

#[test]
fn a_newer_format_is_refused_with_both_versions() {
    let (dir, log) = temp_ledger();
    log.append(one("s", EV::Any, vec![event(1, b"a")])).unwrap();
    drop(log);
    encore_ledger::testing::set_format_version(&dir.path().join("log"), 99).unwrap();
    let err = Ledger::open(dir.path().join("log"), LedgerOptions::default()).err().unwrap();
    assert!(matches!(err, OpenError::NewerFormat { found: 99, supported: 2, .. }), "{err}");
}

#[test]
fn read_only_opening_needs_an_existing_log_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    assert!(Ledger::open(dir.path().join("nothing"), LedgerOptions::read_only()).is_err());
    let log = Ledger::open(dir.path().join("log"), LedgerOptions::default()).unwrap();
    log.append(one("s", EV::Any, vec![event(1, b"a")])).unwrap();
    drop(log);
    let ro = Ledger::open(dir.path().join("log"), LedgerOptions::read_only()).unwrap();
    assert_eq!(ro.head().position, 1);
    assert_eq!(ro.append(one("s", EV::Any, vec![event(2, b"")])).unwrap_err(), encore_ledger::AppendError::ReadOnly);
}

/// Format 1 wrote event ids and stream heads with every record (no
/// `meta/indexed`). Read-only, such a log verifies as it is; opened for
/// writing, it moves to format 2 with its indexes complete through the head,
/// and answers retries and expected versions from them as before.
#[test]
fn a_format_1_log_verifies_read_only_and_moves_to_format_2_when_written() {
    let (dir, log) = temp_ledger();
    let path = dir.path().join("log");
    let first = log.append(one("s", EV::NoStream, vec![event(1, b"a"), event(2, b"b")])).unwrap();
    log.append(one("t", EV::Any, vec![event(3, b"c")])).unwrap();
    drop(log);
    assert_eq!(encore_ledger::testing::indexed_position(&path).unwrap(), Some(3), "a clean close writes the index tail");
    encore_ledger::testing::downgrade_to_format_1(&path).unwrap();

    let read_only = Ledger::open(&path, LedgerOptions::read_only()).unwrap();
    assert!(read_only.verify().unwrap().is_intact());
    drop(read_only);
    assert_eq!(encore_ledger::testing::indexed_position(&path).unwrap(), None, "a read-only open changes nothing");

    let log = Ledger::open(&path, LedgerOptions::default()).unwrap();
    let again = log.append(one("s", EV::NoStream, vec![event(1, b"a"), event(2, b"b")])).unwrap();
    assert!(again.deduplicated);
    assert_eq!(again.positions, first.positions);
    let refused = log.append(one("s", EV::Exact(1), vec![event(4, b"d")])).unwrap_err();
    assert!(matches!(refused, encore_ledger::AppendError::WrongExpectedVersion { actual: 2, .. }), "{refused}");
    log.append(one("s", EV::Exact(2), vec![event(4, b"d")])).unwrap();
    assert!(log.verify().unwrap().is_intact());
    drop(log);
    assert_eq!(encore_ledger::testing::indexed_position(&path).unwrap(), Some(4));
    encore_ledger::testing::set_format_version(&path, 2).unwrap();
    assert!(Ledger::open(&path, LedgerOptions::read_only()).unwrap().verify().unwrap().is_intact());
}

/// An index entry the records do not imply, and a `meta/indexed` past the
/// records, are both found by verify.
#[test]
fn verify_reports_a_stream_head_ahead_of_its_indexed_position() {
    let (dir, log) = temp_ledger();
    let path = dir.path().join("log");
    let options = LedgerOptions { index_tail_records: 2, ..LedgerOptions::default() };
    drop(log);
    let log = Ledger::open(&path, options).unwrap();
    for i in 0..5u128 {
        log.append(one("s", EV::Any, vec![event(10 + i, b"x")])).unwrap();
    }
    assert!(log.verify().unwrap().is_intact(), "indexed through 4, record 5 only in the writer's tail");
    drop(log);
    encore_ledger::testing::set_indexed_position(&path, 3).unwrap();
    let report = Ledger::open(&path, LedgerOptions::read_only()).unwrap().verify().unwrap();
    assert!(!report.is_intact(), "heads and ids hold records after the indexed position");
    encore_ledger::testing::set_indexed_position(&path, 9).unwrap();
    let report = Ledger::open(&path, LedgerOptions::read_only()).unwrap().verify().unwrap();
    let problem = report.first_problem().expect("indexed past the records");
    assert!(problem.to_string().contains("past the newest record"), "{problem}");
    assert!(matches!(Ledger::open(&path, LedgerOptions::default()), Err(OpenError::DamagedTail { .. })));
}
