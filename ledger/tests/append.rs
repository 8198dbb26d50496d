//! Appends: expected versions, atomic multi-stream appends, idempotent
//! retries, bad input, the clock, and poisoning after a failed write.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use encore_ledger::{AppendError, Direction, EventId, ExpectedVersion as EV, NewEvent, StreamAppend};

#[test]
fn versions_and_positions_start_at_one_and_are_gapless() {
    let (_d, log) = temp_ledger();
    let a = log.append(one("s", EV::NoStream, vec![event(1, b"a"), event(2, b"b")])).unwrap();
    assert_eq!(a.positions, vec![1, 2]);
    assert_eq!((a.streams[0].first_version, a.streams[0].last_version), (1, 2));
    let b = log.append(one("t", EV::Any, vec![event(3, b"c")])).unwrap();
    assert_eq!(b.positions, vec![3]);
    assert_eq!(log.stream_version(&stream("s")).unwrap(), 2);
    assert_eq!(log.head().position, 3);
}

#[test]
fn every_expected_version_form_is_enforced_and_names_the_stream() {
    let (_d, log) = temp_ledger();
    let wrong = log.append(one("s", EV::StreamExists, vec![event(1, b"")])).unwrap_err();
    assert_eq!(wrong, AppendError::WrongExpectedVersion { stream: stream("s"), expected: EV::StreamExists, actual: 0 });
    log.append(one("s", EV::Exact(0), vec![event(1, b"")])).unwrap();
    let wrong = log.append(one("s", EV::NoStream, vec![event(2, b"")])).unwrap_err();
    assert_eq!(wrong, AppendError::WrongExpectedVersion { stream: stream("s"), expected: EV::NoStream, actual: 1 });
    let wrong = log.append(one("s", EV::Exact(5), vec![event(2, b"")])).unwrap_err();
    assert!(matches!(wrong, AppendError::WrongExpectedVersion { actual: 1, .. }));
    log.append(one("s", EV::Exact(1), vec![event(2, b"")])).unwrap();
    log.append(one("s", EV::StreamExists, vec![event(3, b"")])).unwrap();
    assert_eq!(log.head().position, 3, "refused appends wrote nothing");
}

#[test]
fn a_multi_stream_append_is_all_or_nothing() {
    let (_d, log) = temp_ledger();
    log.append(one("account", EV::Any, vec![event(1, b"")])).unwrap();
    let both = vec![
        StreamAppend { stream: stream("account"), expected: EV::Exact(1), events: vec![event(2, b"charged")] },
        StreamAppend { stream: stream("card"), expected: EV::Exact(7), events: vec![event(3, b"license")] },
    ];
    assert!(matches!(log.append(both.clone()), Err(AppendError::WrongExpectedVersion { .. })));
    assert_eq!(log.head().position, 1);
    assert_eq!(log.stream_version(&stream("account")).unwrap(), 1, "the account was not charged alone");
    let mut fixed = both;
    fixed[1].expected = EV::NoStream;
    let ok = log.append(fixed).unwrap();
    assert_eq!(ok.positions, vec![2, 3]);
}

#[test]
fn a_retry_with_identical_content_returns_the_original_positions() {
    let (_d, log) = temp_ledger();
    let batch = one("s", EV::NoStream, vec![event(1, b"x"), event(2, b"y")]);
    let first = log.append(batch.clone()).unwrap();
    log.append(one("other", EV::Any, vec![event(3, b"")])).unwrap();
    let again = log.append(batch).unwrap();
    assert!(again.deduplicated);
    assert_eq!(again.positions, first.positions);
    assert_eq!(log.head().position, 3, "nothing written by the retry");
}

#[test]
fn a_retry_later_in_time_is_still_a_retry() {
    let (_d, log) = temp_ledger();
    log.append(one("s", EV::Any, vec![event(1, b"x")])).unwrap();
    let mut later = event(1, b"x");
    later.recorded_at += 60_000_000;
    assert!(log.append(one("s", EV::Any, vec![later])).unwrap().deduplicated);
}

#[test]
fn the_same_id_with_other_content_is_a_conflict() {
    let (_d, log) = temp_ledger();
    log.append(one("s", EV::Any, vec![event(1, b"x")])).unwrap();
    let err = log.append(one("s", EV::Any, vec![event(1, b"different")])).unwrap_err();
    assert_eq!(err, AppendError::EventIdConflict { event_id: EventId::from_u128(1), position: 1 });
    let err = log.append(one("elsewhere", EV::Any, vec![event(1, b"x")])).unwrap_err();
    assert!(matches!(err, AppendError::EventIdConflict { .. }), "same payload on another stream is not a retry");
    let err = log.append(one("s", EV::Any, vec![event(1, b"x"), event(2, b"new")])).unwrap_err();
    assert!(matches!(err, AppendError::PartialRetry { position: 1, .. }));
    assert_eq!(log.head().position, 1);
}

#[test]
fn bad_input_is_refused_with_the_value_and_writes_nothing() {
    let (_d, log) = temp_ledger();
    assert_eq!(log.append(vec![]).unwrap_err(), AppendError::EmptyAppend);
    assert_eq!(log.append(one("s", EV::Any, vec![])).unwrap_err(), AppendError::EmptyAppend);
    let two = vec![
        StreamAppend { stream: stream("s"), expected: EV::Any, events: vec![event(1, b"")] },
        StreamAppend { stream: stream("t"), expected: EV::Any, events: vec![] },
    ];
    assert_eq!(log.append(two).unwrap_err(), AppendError::EmptyStream { stream: stream("t") });
    let dup = vec![
        StreamAppend { stream: stream("s"), expected: EV::Any, events: vec![event(1, b"")] },
        StreamAppend { stream: stream("s"), expected: EV::Any, events: vec![event(2, b"")] },
    ];
    assert_eq!(log.append(dup).unwrap_err(), AppendError::DuplicateStream { stream: stream("s") });
    let big = vec![0u8; encore_ledger::limits::MAX_PAYLOAD_BYTES + 1];
    assert!(matches!(log.append(one("s", EV::Any, vec![event(9, &big)])), Err(AppendError::PayloadTooLarge { size, .. }) if size == big.len()));
    let mut bad_type = event(1, b"");
    bad_type.event_type = "has space".into();
    assert!(matches!(log.append(one("s", EV::Any, vec![bad_type])), Err(AppendError::BadEventType { .. })));
    assert_eq!(
        log.append(one("s", EV::Any, vec![event(1, b""), event(1, b"")])).unwrap_err(),
        AppendError::DuplicateEventId { event_id: EventId::from_u128(1) }
    );
    assert_eq!(log.head().position, 0);
}

#[test]
fn recorded_at_never_goes_backwards_in_global_order() {
    let (_d, log) = temp_ledger();
    let at = |id, t| NewEvent::new(EventId::from_u128(id), "T", t, vec![]);
    let err = log.append(one("s", EV::Any, vec![at(1, 50), at(2, 40)])).unwrap_err();
    assert!(matches!(err, AppendError::ClockWentBackwards { recorded_at: 40, previous: 50, .. }));
    log.append(one("s", EV::Any, vec![at(1, 50)])).unwrap();
    log.append(one("t", EV::Any, vec![at(2, 50)])).unwrap();
    let err = log.append(one("u", EV::Any, vec![at(3, 49)])).unwrap_err();
    assert!(matches!(err, AppendError::ClockWentBackwards { recorded_at: 49, previous: 50, .. }));
    assert_eq!(log.position_at_time(49).unwrap(), 0);
    assert_eq!(log.position_at_time(50).unwrap(), 2);
}

#[test]
fn a_failed_write_poisons_the_log_until_it_is_reopened() {
    let (dir, log) = temp_ledger();
    log.append(one("s", EV::Any, vec![event(1, b"")])).unwrap();
    log.inject_write_failure_for_tests();
    assert!(matches!(log.append(one("s", EV::Any, vec![event(2, b"")])), Err(AppendError::WriteFailed { .. })));
    assert!(matches!(log.append(one("s", EV::Any, vec![event(3, b"")])), Err(AppendError::Poisoned { .. })));
    assert!(log.poisoned().is_some());
    assert_eq!(log.head().position, 1);
    // The failed sync came after the write: the record is in RocksDB but was
    // never acknowledged, so no read may show it.
    assert_eq!(log.stream_version(&stream("s")).unwrap(), 1);
    assert_eq!(log.read_stream(&stream("s"), 1, Direction::Forwards, 10).unwrap().len(), 1);
    assert_eq!(log.read_stream(&stream("s"), u64::MAX, Direction::Backwards, 10).unwrap().len(), 1);
    assert!(log.read_record(2).unwrap().is_none());
    assert_eq!(log.read_all(1, 10).unwrap().len(), 1);
    assert_eq!(log.scan(1).count(), 1);
    drop(log);
    let log = encore_ledger::Ledger::open(dir.path().join("log"), Default::default()).unwrap();
    assert_eq!(log.append(one("s", EV::Any, vec![event(2, b"")])).unwrap().positions, vec![2]);
}

#[test]
fn streams_read_forwards_and_backwards_from_a_version() {
    let (_d, log) = temp_ledger();
    for i in 1..=5u128 {
        log.append(one("s", EV::Any, vec![event(i, &[i as u8])])).unwrap();
        log.append(one("noise", EV::Any, vec![event(100 + i, b"")])).unwrap();
    }
    let s = stream("s");
    let versions = |rs: Vec<encore_ledger::Record>| rs.iter().map(|r| r.version).collect::<Vec<_>>();
    assert_eq!(versions(log.read_stream(&s, 2, Direction::Forwards, 2).unwrap()), vec![2, 3]);
    assert_eq!(versions(log.read_stream(&s, u64::MAX, Direction::Backwards, 3).unwrap()), vec![5, 4, 3]);
    assert_eq!(versions(log.read_stream(&s, 2, Direction::Backwards, 10).unwrap()), vec![2, 1]);
    assert!(log.read_stream(&stream("none"), 1, Direction::Forwards, 10).unwrap().is_empty());
    let all = log.read_all(4, 3).unwrap();
    assert_eq!(all.iter().map(|r| r.position).collect::<Vec<_>>(), vec![4, 5, 6]);
    assert_eq!(log.scan(1).count(), 10);
}
