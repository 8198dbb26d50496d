//! Rebuild equals live: three runners follow the log while a long random
//! workload is appended (with a few non-domain records mixed in); at the end
//! each live state, each state resumed from its checkpoint and each rebuild
//! from position 0 encode to the same bytes.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use encore_ledger::Ledger;
use encore_projections::workload::{Workload, WorkloadConfig, Writer};
use encore_projections::{rebuild, AllProjections, Balances, CharismaRankings, Projection, ProjectionRunner, RunnerOptions, StartedFrom, UsageHistory};

const OPS: usize = 4_000;

fn follow<P: Projection>(ledger: &Ledger, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<u8>> {
    let ledger = ledger.clone();
    std::thread::spawn(move || {
        let options = RunnerOptions { checkpoint_every: 97, batch: 64, idle: Duration::from_millis(5) };
        let mut runner = ProjectionRunner::<P>::open(&ledger, options).expect("open runner");
        runner.run(&stop).expect("run");
        runner.catch_up().expect("catch up");
        runner.projected().encode()
    })
}

fn resumed<P: Projection>(ledger: &Ledger) -> Vec<u8> {
    let mut runner = ProjectionRunner::<P>::open(ledger, RunnerOptions::default()).expect("reopen runner");
    assert_eq!(runner.started_from(), &StartedFrom::Checkpoint { position: ledger.head().position }, "{}", P::NAME);
    runner.catch_up().expect("nothing to catch up");
    runner.projected().encode()
}

fn check<P: Projection>(ledger: &Ledger, live: Vec<u8>) -> encore_projections::Projected<P> {
    let rebuilt = rebuild::<P>(ledger).expect("rebuild");
    assert_eq!(rebuilt.position, ledger.head().position);
    assert!(live == rebuilt.encode(), "{}: live state differs from the rebuild", P::NAME);
    assert!(resumed::<P>(ledger) == live, "{}: resumed state differs from the live one", P::NAME);
    rebuilt
}

#[test]
fn rebuild_from_zero_equals_live_for_every_projection() {
    let (_dir, ledger) = common::temp_log();
    let stop = Arc::new(AtomicBool::new(false));
    let balances = follow::<Balances>(&ledger, stop.clone());
    let usage = follow::<UsageHistory>(&ledger, stop.clone());
    let charisma = follow::<CharismaRankings>(&ledger, stop.clone());

    let config = WorkloadConfig { seed: 0xA11CE, cards: 120, ..WorkloadConfig::default() };
    let mut writer = Writer::new(config.seed);
    let mut last_at = 0;
    for (i, op) in Workload::new(config).take(OPS).enumerate() {
        writer.append(&ledger, &op).expect("append");
        last_at = op.at;
        if i % 1000 == 500 {
            common::append_foreign(&ledger, i as u128, op.at);
        }
    }
    common::append_foreign(&ledger, 1, last_at);
    stop.store(true, Ordering::Relaxed);
    // Long enough that the rebuilds take the two-thread replay (4 096 records
    // and up) while the runners fold one record at a time.
    assert!(ledger.head().position > 8_192, "{}", ledger.head().position);

    let balances = check::<Balances>(&ledger, balances.join().unwrap());
    let usage = check::<UsageHistory>(&ledger, usage.join().unwrap());
    let charisma = check::<CharismaRankings>(&ledger, charisma.join().unwrap());

    // The workload is not trivial, and every projection saw the foreign records.
    for skipped in [balances.skipped, usage.skipped, charisma.skipped] {
        assert_eq!(skipped, 5);
    }
    assert!(balances.state.len() > 50);
    assert!(usage.state.len() > 500);
    assert!(charisma.state.bumps() > 20 && !charisma.state.granted().is_empty());
    // The server's granted list is the one its policy gives for the projected reliabilities.
    assert_eq!(charisma.state.granted(), &charisma.state.charisma_list());
    balances.state.check_invariant().expect("balance invariant");

    // The bundle folds the same three in one pass.
    let all = rebuild::<AllProjections>(&ledger).unwrap();
    assert!(all.state.balances == balances.state && all.state.usage == usage.state && all.state.charisma == charisma.state);
}

#[test]
fn a_checkpoint_that_disagrees_with_the_log_is_discarded() {
    let (_dir, ledger) = common::temp_log();
    common::write_workload(&ledger, WorkloadConfig::default(), 200);
    let mut runner = ProjectionRunner::<Balances>::open(&ledger, RunnerOptions::default()).unwrap();
    runner.catch_up().unwrap();
    let good = runner.projected().encode();
    drop(runner);

    // Flip a byte of the stored value: its hash no longer matches, so it is refused.
    let key = encore_projections::checkpoint_key(Balances::NAME);
    let mut bad = ledger.get_aux(&key).unwrap().unwrap();
    let at = bad.len() / 2;
    bad[at] ^= 0x40;
    ledger.put_aux(&[(key.as_slice(), bad.as_slice())]).unwrap();
    let mut runner = ProjectionRunner::<Balances>::open(&ledger, RunnerOptions::default()).unwrap();
    runner.catch_up().unwrap();
    assert!(matches!(runner.started_from(), StartedFrom::Discarded { .. }), "damaged checkpoint trusted: {:?}", runner.started_from());
    assert!(runner.projected().encode() == good);
}

#[test]
fn a_long_replay_stops_at_a_malformed_event_with_its_position_and_equals_the_one_thread_fold_before_it() {
    let (_dir, ledger) = common::temp_log();
    let before = common::write_workload(&ledger, WorkloadConfig::default(), 3_000);
    assert!(before > 5_000, "past the two-thread threshold: {before}");
    let at = ledger.head().recorded_at;
    let bad = encore_ledger::NewEvent::new(encore_ledger::EventId::from_u128(0xBAD), "Charged", at, b"not cbor".to_vec());
    let bad_at = ledger.append_to(encore_ledger::StreamId::new("account-x").unwrap(), encore_ledger::ExpectedVersion::Any, vec![bad]).unwrap().positions[0];
    common::append_foreign(&ledger, 2, at);

    let err = rebuild::<AllProjections>(&ledger).unwrap_err();
    assert!(matches!(&err, encore_projections::ReplayError::Fold(encore_projections::FoldError::Malformed { position, .. }) if *position == bad_at), "{err}");
    // Up to the record before it, the two-thread replay equals the one-thread fold.
    let upto = encore_projections::as_of_position::<AllProjections>(&ledger, bad_at - 1).unwrap();
    let mut one_thread = encore_projections::Projected::<AllProjections>::new();
    for record in ledger.scan(1).take((bad_at - 1) as usize) {
        one_thread.apply_record(&record.unwrap()).unwrap();
    }
    assert!(upto.encode() == one_thread.encode());
}
