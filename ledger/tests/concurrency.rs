//! 64 concurrent writers on overlapping streams, with optimistic concurrency:
//! versions and positions gapless, no lost update, every acknowledged event
//! readable, and the chain intact.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use common::*;
use encore_ledger::{AppendError, Direction, EventId, ExpectedVersion as EV, NewEvent};

const WRITERS: u128 = 64;
const ROUNDS: u128 = 40;
const STREAMS: u128 = 8;

#[test]
fn sixty_four_writers_on_overlapping_streams_lose_nothing() {
    let (_d, log) = temp_ledger();
    let acked: Arc<Mutex<Vec<(u64, EventId, String)>>> = Arc::default();
    let threads: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (log, acked) = (log.clone(), acked.clone());
            std::thread::spawn(move || {
                for round in 0..ROUNDS {
                    let name = format!("counter-{}", (w + round) % STREAMS);
                    let id = EventId::from_u128(w << 64 | round);
                    // Read the version, then append expecting it: retry on conflict.
                    loop {
                        let version = log.stream_version(&stream(&name)).unwrap();
                        let e = NewEvent::new(id, "Incremented", 0, (version + 1).to_le_bytes().to_vec());
                        match log.append(one(&name, EV::Exact(version), vec![e])) {
                            Ok(a) => {
                                acked.lock().unwrap().push((a.positions[0], id, name.clone()));
                                break;
                            }
                            Err(AppendError::WrongExpectedVersion { .. }) => continue,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let acked = acked.lock().unwrap();
    let total = (WRITERS * ROUNDS) as u64;
    assert_eq!(acked.len() as u64, total);
    assert_eq!(log.head().position, total, "positions gapless: exactly one per acknowledged event");
    let mut positions: Vec<u64> = acked.iter().map(|a| a.0).collect();
    positions.sort_unstable();
    assert_eq!(positions, (1..=total).collect::<Vec<_>>());
    for (position, id, name) in acked.iter() {
        let record = log.read_record(*position).unwrap().expect("acknowledged event readable");
        assert_eq!((&record.event_id, record.stream.as_str()), (id, name.as_str()));
    }
    let mut per_stream: HashMap<String, u64> = HashMap::new();
    for (_, _, name) in acked.iter() {
        *per_stream.entry(name.clone()).or_default() += 1;
    }
    for (name, count) in per_stream {
        let records = log.read_stream(&stream(&name), 1, Direction::Forwards, usize::MAX).unwrap();
        let versions: Vec<u64> = records.iter().map(|r| r.version).collect();
        assert_eq!(versions, (1..=count).collect::<Vec<_>>(), "{name}: versions gapless");
        // No lost update: each event saw the version before it.
        for r in &records {
            assert_eq!(r.payload, r.version.to_le_bytes());
        }
    }
    assert!(log.verify().unwrap().is_intact());
}

/// Concurrent retries of one event id: many land in the same group, where
/// the first is only staged when the others are checked against it. The
/// event is written once and every caller with the same content gets its
/// position; a caller with other content under that id is refused.
#[test]
fn concurrent_retries_of_one_event_write_it_once() {
    const CALLERS: usize = 16;
    let (_d, log) = temp_ledger();
    for round in 0..20u128 {
        let barrier = Arc::new(std::sync::Barrier::new(CALLERS));
        let id = EventId::from_u128(0xFEED << 64 | round);
        let threads: Vec<_> = (0..CALLERS)
            .map(|caller| {
                let (log, barrier) = (log.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let payload = if caller == 0 { b"other".to_vec() } else { b"same".to_vec() };
                    let event = NewEvent::new(id, "Retried", 0, payload.clone());
                    barrier.wait();
                    (payload, log.append(one("retried", EV::Any, vec![event])))
                })
            })
            .collect();
        let outcomes: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(log.head().position as u128, round + 1, "round {round}: one record per event id");
        let stored = log.read_record(log.head().position).unwrap().unwrap();
        assert_eq!(stored.event_id, id);
        for (payload, outcome) in outcomes {
            match outcome {
                Ok(appended) => {
                    assert_eq!(payload, stored.payload, "round {round}: only the stored content is accepted");
                    assert_eq!(appended.positions, [stored.position]);
                }
                Err(AppendError::EventIdConflict { event_id, position }) => {
                    assert_ne!(payload, stored.payload, "round {round}: the stored content is never refused");
                    assert_eq!((event_id, position), (id, stored.position));
                }
                Err(e) => panic!("round {round}: {e}"),
            }
        }
    }
}
