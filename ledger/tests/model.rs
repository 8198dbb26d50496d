//! Property test: random appends, retries, reads and reopens against a model
//! that is just a `Vec` of events. The writer's index tail (event ids and
//! stream heads held in memory, `log/tail.rs`) is a few records long, so
//! retries and expected versions are answered from it, from its column
//! families and across its writes and reopens.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use encore_ledger::{AppendError, Direction, EventId, ExpectedVersion, Ledger, LedgerOptions, NewEvent};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Append { stream: usize, expected: ExpectedVersion, count: usize },
    Retry { index: usize },
    ReadStream { stream: usize, from: u64, backwards: bool },
    ReadAll { from: u64 },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let expected = prop_oneof![
        Just(ExpectedVersion::Any),
        Just(ExpectedVersion::NoStream),
        Just(ExpectedVersion::StreamExists),
        (0u64..6).prop_map(ExpectedVersion::Exact),
    ];
    prop_oneof![
        4 => (0usize..4, expected, 1usize..4).prop_map(|(stream, expected, count)| Op::Append { stream, expected, count }),
        1 => (0usize..64).prop_map(|index| Op::Retry { index }),
        1 => (0usize..4, 0u64..8, any::<bool>()).prop_map(|(stream, from, backwards)| Op::ReadStream { stream, from, backwards }),
        1 => (0u64..40).prop_map(|from| Op::ReadAll { from }),
        1 => Just(Op::Reopen),
    ]
}

/// The model: the log is a Vec of (stream, event id, payload); versions are counts.
#[derive(Default)]
struct Model {
    log: Vec<(usize, u128, Vec<u8>)>,
    appends: Vec<(usize, Vec<u128>, Vec<u64>)>,
    next_id: u128,
}

impl Model {
    fn version(&self, stream: usize) -> u64 {
        self.log.iter().filter(|e| e.0 == stream).count() as u64
    }
}

fn name(stream: usize) -> String {
    format!("stream-{stream}")
}

fn new_event(id: u128) -> NewEvent {
    NewEvent::new(EventId::from_u128(id), "Modelled", 0, id.to_le_bytes().to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn the_log_behaves_like_a_vec(ops in proptest::collection::vec(op(), 1..40), tail in 1usize..6) {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = LedgerOptions { index_tail_records: tail, ..LedgerOptions::default() };
        let mut log = Ledger::open(dir.path().join("log"), options.clone()).expect("open");
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Append { stream, expected, count } => {
                    let ids: Vec<u128> = (0..count as u128).map(|i| model.next_id + i).collect();
                    model.next_id += count as u128;
                    let result = log.append(one(&name(stream), expected, ids.iter().map(|&i| new_event(i)).collect()));
                    let current = model.version(stream);
                    if expected.admits(current) {
                        let appended = result.expect("model admits the append");
                        let first = model.log.len() as u64 + 1;
                        prop_assert_eq!(&appended.positions, &(first..first + count as u64).collect::<Vec<_>>());
                        prop_assert_eq!(appended.streams[0].first_version, current + 1);
                        for &id in &ids {
                            model.log.push((stream, id, id.to_le_bytes().to_vec()));
                        }
                        model.appends.push((stream, ids, appended.positions));
                    } else {
                        prop_assert_eq!(result, Err(AppendError::WrongExpectedVersion { stream: common::stream(&name(stream)), expected, actual: current }));
                    }
                }
                Op::Retry { index } => {
                    if model.appends.is_empty() { continue; }
                    let (stream, ids, positions) = model.appends[index % model.appends.len()].clone();
                    let again = log.append(one(&name(stream), ExpectedVersion::Any, ids.iter().map(|&i| new_event(i)).collect())).unwrap();
                    prop_assert!(again.deduplicated);
                    prop_assert_eq!(again.positions, positions);
                }
                Op::ReadStream { stream, from, backwards } => {
                    let direction = if backwards { Direction::Backwards } else { Direction::Forwards };
                    let got: Vec<u128> = log.read_stream(&common::stream(&name(stream)), from, direction, 100).unwrap()
                        .iter().map(|r| r.event_id.as_u128()).collect();
                    let all: Vec<u128> = model.log.iter().filter(|e| e.0 == stream).map(|e| e.1).collect();
                    let expected: Vec<u128> = if backwards {
                        all.iter().take(from as usize).rev().copied().collect()
                    } else {
                        all.iter().skip((from.max(1) - 1) as usize).copied().collect()
                    };
                    prop_assert_eq!(got, expected);
                }
                Op::Reopen => {
                    drop(log);
                    log = Ledger::open(dir.path().join("log"), options.clone()).expect("reopen");
                    prop_assert!(log.verify().unwrap().is_intact());
                }
                Op::ReadAll { from } => {
                    let got: Vec<u128> = log.read_all(from, 1000).unwrap().iter().map(|r| r.event_id.as_u128()).collect();
                    let expected: Vec<u128> = model.log.iter().skip((from.max(1) - 1) as usize).map(|e| e.1).collect();
                    prop_assert_eq!(got, expected);
                }
            }
        }
        prop_assert_eq!(log.head().position, model.log.len() as u64);
        prop_assert!(log.verify().unwrap().is_intact());
    }
}
