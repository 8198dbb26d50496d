//! Catch-up subscriptions: history, then live appends, no gap, no duplicate.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use encore_ledger::ExpectedVersion as EV;

#[test]
fn catch_up_then_live_without_gap_or_duplicate() {
    let (_d, log) = temp_ledger();
    for i in 1..=600u128 {
        log.append(one("s", EV::Any, vec![event(i, b"")])).unwrap();
    }
    let mut sub = log.subscribe(100);
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            for i in 601..=1200u128 {
                log.append(one(if i % 2 == 0 { "a" } else { "b" }, EV::Any, vec![event(i, b"")])).unwrap();
            }
        })
    };
    let mut expected = 101;
    while expected <= 1200 {
        let record = sub.next_timeout(Duration::from_secs(10)).unwrap().expect("record within 10s");
        assert_eq!(record.position, expected);
        expected += 1;
    }
    writer.join().unwrap();
    assert_eq!(sub.next_timeout(Duration::from_millis(20)).unwrap(), None);
    assert_eq!(sub.position(), 1200);
}

#[test]
fn a_subscription_ends_when_the_log_closes() {
    let (_d, log) = temp_ledger();
    log.append(one("s", EV::Any, vec![event(1, b"")])).unwrap();
    let sub = log.subscribe(0);
    drop(log);
    let positions: Vec<u64> = sub.map(|r| r.unwrap().position).collect();
    assert_eq!(positions, vec![1]);
}

#[test]
fn batches_take_what_is_there() {
    let (_d, log) = temp_ledger();
    for i in 1..=10u128 {
        log.append(one("s", EV::Any, vec![event(i, b"")])).unwrap();
    }
    let mut sub = log.subscribe(0);
    assert_eq!(sub.next_batch(4, Duration::ZERO).unwrap().len(), 4);
    assert_eq!(sub.next_batch(100, Duration::ZERO).unwrap().len(), 6);
    assert!(sub.next_batch(100, Duration::from_millis(5)).unwrap().is_empty());
}
