//! Tampering through RocksDB directly: `verify` names each kind of damage at
//! the right position.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::*;
use encore_ledger::{testing, Direction, ExpectedVersion as EV, Ledger, LedgerOptions, ProblemKind, ReadError};

/// A closed log of 20 records over 3 streams.
fn sample_log() -> (tempfile::TempDir, std::path::PathBuf) {
    let (dir, log) = temp_ledger();
    for i in 1..=20u128 {
        let name = ["card-1", "account-1", "device-1"][(i % 3) as usize];
        log.append(one(name, EV::Any, vec![event(i, format!("payload {i}").as_bytes())])).unwrap();
    }
    assert!(log.verify().unwrap().is_intact());
    drop(log);
    let path = dir.path().join("log");
    (dir, path)
}

fn first_problem(path: &Path) -> (u64, ProblemKind) {
    let log = Ledger::open(path, LedgerOptions::read_only()).unwrap();
    let report = log.verify().unwrap();
    let p = report.first_problem().expect("damage must be found").clone();
    (p.position, p.kind)
}

#[test]
fn one_changed_byte_is_located() {
    let (_d, path) = sample_log();
    testing::flip_byte(&path, 7, 40).unwrap();
    assert_eq!(first_problem(&path), (7, ProblemKind::Changed));
}

#[test]
fn a_changed_length_field_is_undecodable_at_its_position() {
    let (_d, path) = sample_log();
    // Byte 9 is the low byte of the stream id length.
    let log = Ledger::open(&path, LedgerOptions::read_only()).unwrap();
    let len = log.read_record(12).unwrap().unwrap().encode().len();
    drop(log);
    testing::flip_byte(&path, 12, len - 10).unwrap();
    let (position, kind) = first_problem(&path);
    assert_eq!(position, 12);
    assert!(matches!(kind, ProblemKind::Undecodable { .. } | ProblemKind::Changed), "{kind:?}");
}

#[test]
fn a_deleted_record_is_missing_at_its_position() {
    let (_d, path) = sample_log();
    testing::delete_record(&path, 5).unwrap();
    assert_eq!(first_problem(&path), (5, ProblemKind::Missing));
}

#[test]
fn a_deleted_last_record_is_caught_by_the_indexes() {
    let (_d, path) = sample_log();
    testing::delete_record(&path, 20).unwrap();
    let (position, kind) = first_problem(&path);
    assert_eq!(position, 20);
    assert!(matches!(kind, ProblemKind::IndexDisagrees { .. }), "{kind:?}");
}

#[test]
fn two_swapped_records_are_reported_as_reordered_at_the_first() {
    let (_d, path) = sample_log();
    testing::swap_records(&path, 9, 14).unwrap();
    assert_eq!(first_problem(&path), (9, ProblemKind::Reordered { claims: 14 }));
    let log = Ledger::open(&path, LedgerOptions::read_only()).unwrap();
    let report = log.verify().unwrap();
    assert!(report.problems.iter().any(|p| p.position == 14 && p.kind == ProblemKind::Reordered { claims: 9 }));
}

#[test]
fn an_intact_log_reports_its_count_and_head() {
    let (_d, path) = sample_log();
    let log = Ledger::open(&path, LedgerOptions::read_only()).unwrap();
    let report = log.verify().unwrap();
    assert!(report.is_intact());
    assert_eq!(report.records, 20);
    assert_eq!(report.head, log.head());
    assert!(log.verify_range(5, 9).unwrap().is_intact());
    assert!(log.verify_range(0, 9).is_err());
}

#[test]
fn a_range_verification_finds_damage_inside_it_only() {
    let (_d, path) = sample_log();
    testing::flip_byte(&path, 15, 40).unwrap();
    let log = Ledger::open(&path, LedgerOptions::read_only()).unwrap();
    assert!(log.verify_range(1, 14).unwrap().is_intact());
    assert_eq!(log.verify_range(10, 20).unwrap().first_problem().map(|p| p.position), Some(15));
}

#[test]
fn a_scan_stops_at_a_missing_record_and_names_it() {
    let (_d, path) = sample_log();
    testing::delete_record(&path, 5).unwrap();
    let log = Ledger::open(&path, LedgerOptions::read_only()).unwrap();
    let items: Vec<_> = log.scan(2).collect();
    assert_eq!(items.len(), 4, "records 2, 3, 4, then the error, then nothing");
    assert!(items[..3].iter().all(Result::is_ok));
    assert_eq!(items[3], Err(encore_ledger::ReadError::Missing { position: 5 }));
    assert_eq!(log.scan(6).count(), 15, "a scan past the hole reads to the head");
}

#[test]
fn batched_scans_equal_the_record_scan_and_stop_at_damage_with_its_position() {
    let (_d, path) = sample_log();
    {
        let log = Ledger::open(&path, LedgerOptions::read_only()).unwrap();
        let one_by_one: Vec<_> = log.scan(3).map(Result::unwrap).take(15).collect();
        let batches: Vec<_> = log.scan_batches(3, 17, 4).map(Result::unwrap).collect();
        assert_eq!(batches.iter().map(|b| b.len()).collect::<Vec<_>>(), vec![4, 4, 4, 3]);
        let batched: Vec<_> = batches.iter().flat_map(|b| b.iter()).map(|r| r.to_owned().unwrap()).collect();
        assert_eq!(batched, one_by_one);
        assert!(batches.iter().flat_map(|b| b.iter()).zip(&one_by_one).all(|(r, o)| r == o.as_ref()));
        assert_eq!(log.scan_batches(15, u64::MAX, 100).map(|b| b.unwrap().len()).sum::<usize>(), 6, "up to the head");
        assert_eq!(log.scan_batches(21, u64::MAX, 100).count(), 0);

        // Unchecked batches, checked afterwards, hold the same records.
        let mut scan = log.scan_batches(3, 17, 4);
        let unchecked: Vec<_> = std::iter::from_fn(|| scan.next_unchecked()).map(Result::unwrap).collect();
        assert_eq!(unchecked.iter().map(|b| b.len()).collect::<Vec<_>>(), vec![4, 4, 4, 3]);
        let checked: Vec<_> = unchecked.into_iter().map(|b| b.check().unwrap()).collect();
        assert!(checked.iter().flat_map(|b| b.iter()).eq(batches.iter().flat_map(|b| b.iter())));
        // The two kinds mix in one scan without losing or repeating a record.
        let mut scan = log.scan_batches(1, 20, 3);
        let mut positions = Vec::new();
        for round in 0.. {
            let batch = match round % 2 {
                0 => scan.next_unchecked().map(|b| b.and_then(|b| b.check())),
                _ => scan.next(),
            };
            let Some(batch) = batch else { break };
            positions.extend(batch.unwrap().iter().map(|r| r.position));
        }
        assert_eq!(positions, (1..=20).collect::<Vec<_>>());
    }
    testing::flip_byte(&path, 9, 40).unwrap();
    testing::delete_record(&path, 14).unwrap();
    let log = Ledger::open(&path, LedgerOptions::read_only()).unwrap();
    let items: Vec<_> = log.scan_batches(1, 20, 4).collect();
    assert_eq!(items.len(), 3, "two whole batches, then the error, then nothing");
    assert!(matches!(items[2], Err(encore_ledger::ReadError::Damaged { position: 9, .. })), "{:?}", items[2]);
    let items: Vec<_> = log.scan_batches(10, 20, 100).map(|b| b.map(|b| b.len())).collect();
    assert_eq!(items, vec![Err(encore_ledger::ReadError::Missing { position: 14 })]);

    // Unchecked, the changed record is found when its batch is checked; the
    // hole, as it is read.
    let mut scan = log.scan_batches(1, 20, 4);
    let unchecked: Vec<_> = std::iter::from_fn(|| scan.next_unchecked()).collect();
    assert_eq!(unchecked.len(), 4, "three whole batches read, then the hole, then nothing");
    assert_eq!(unchecked[3].as_ref().err(), Some(&encore_ledger::ReadError::Missing { position: 14 }));
    let checked: Vec<_> = unchecked.into_iter().take(3).map(|b| b.unwrap().check().map(|b| b.len())).collect();
    assert_eq!(checked[..2], [Ok(4), Ok(4)]);
    assert!(matches!(checked[2], Err(encore_ledger::ReadError::Damaged { position: 9, .. })), "{:?}", checked[2]);
}

/// A stream read reports a hole, or stored bytes that are not a record, at
/// their position, whether the stream's records are read with one iterator (a
/// dense run: appended in one batch, read forwards) or with a batched lookup
/// (scattered among other streams, or read backwards). A changed byte that
/// leaves a well-formed record is not a stream read's to find (it leaves the
/// record hash to replays, `log/read.rs`): a scan and `verify` find it.
#[test]
fn stream_reads_find_damage_read_either_way() {
    let (dir, log) = temp_ledger();
    log.append(one("dense", EV::NoStream, (1..=10u128).map(|i| event(i, b"in one batch")).collect())).unwrap();
    for i in 11..=40u128 {
        let name = ["sparse", "other-1", "other-2"][(i % 3) as usize];
        log.append(one(name, EV::Any, vec![event(i, b"one at a time")])).unwrap();
    }
    let from = |direction| if direction == Direction::Forwards { 1 } else { u64::MAX };
    let read = |log: &Ledger, name: &str, direction| log.read_stream(&stream(name), from(direction), direction, 100);
    for direction in [Direction::Forwards, Direction::Backwards] {
        assert_eq!(read(&log, "dense", direction).unwrap().len(), 10);
        assert_eq!(read(&log, "sparse", direction).unwrap().len(), 10);
    }
    let before = log.read_stream(&stream("sparse"), 4, Direction::Forwards, 100).unwrap();
    drop(log);
    let path = dir.path().join("log");
    // Positions 1-10 are `dense`; `sparse` is every third from 12.
    testing::truncate_record(&path, 4, 1).unwrap();
    testing::delete_record(&path, 7).unwrap();
    testing::truncate_record(&path, 18, 40).unwrap();
    testing::flip_byte(&path, 27, 40).unwrap(); // in its link to the record before
    let log = Ledger::open(&path, LedgerOptions::read_only()).unwrap();
    for direction in [Direction::Forwards, Direction::Backwards] {
        let dense = read(&log, "dense", direction).unwrap_err();
        let sparse = read(&log, "sparse", direction).unwrap_err();
        match direction {
            Direction::Forwards => assert!(matches!(dense, ReadError::Damaged { position: 4, .. }), "{dense:?}"),
            Direction::Backwards => assert_eq!(dense, ReadError::Missing { position: 7 }),
        }
        assert!(matches!(sparse, ReadError::Damaged { position: 18, .. }), "{sparse:?}");
    }
    // Past the damage, both ways read whole.
    assert_eq!(log.read_stream(&stream("dense"), 8, Direction::Forwards, 100).unwrap().len(), 3);
    assert_eq!(log.read_stream(&stream("sparse"), 2, Direction::Backwards, 100).unwrap().len(), 2);
    // The well-formed change is handed out by a stream read, and found by a
    // scan and by verify.
    let after = log.read_stream(&stream("sparse"), 4, Direction::Forwards, 100).unwrap();
    let changed: Vec<_> = before.iter().zip(&after).filter(|(b, a)| b != a).map(|(_, a)| a.position).collect();
    assert_eq!(changed, vec![27]);
    assert!(matches!(log.scan(19).find_map(Result::err), Some(ReadError::Damaged { position: 27, .. })));
    let problems = log.verify().unwrap().problems;
    assert!(problems.iter().any(|p| p.position == 27 && p.kind == ProblemKind::Changed), "{problems:?}");
}
