//! Actors write a verified snapshot each time a stream crosses a multiple of
//! `snapshot_every` events, and a restarted runtime loads from the newest
//! one that checks out (then the tail) to the same state as a full replay.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use encore_actors::{Runtime, RuntimeConfig, Secrets};
use encore_domain::licensing::Account;
use encore_domain::Money;
use encore_ledger::{Ledger, LedgerOptions, StreamId};

#[actix_rt::test]
async fn a_restarted_runtime_recovers_accounts_from_snapshots() {
    let h = harness_with(RuntimeConfig { snapshot_every: 10, ..common::config() });
    let account = acct("a1");
    h.runtime.open_account(&account, None, Money::minor(1)).await.unwrap();
    for _ in 0..23 {
        h.runtime.load_money(&account, Money::minor(5)).await.unwrap();
    }
    // 25 events: AccountOpened, CardLoaded (initial) and 23 loads.
    let live = (*h.runtime.account(&account).await.unwrap()).clone();
    assert_eq!((live.version(), live.balance), (25, Money::minor(116)));
    let path = h.path();
    let Harness { dir, ledger, runtime, .. } = h;
    runtime.shutdown();
    drop(ledger);

    let ledger = Ledger::open(&path, LedgerOptions::default()).unwrap();
    let stream = StreamId::new(encore_domain::licensing::account_stream(&account)).unwrap();
    let recovered = encore_snapshots::load::<Account>(&ledger, &stream).unwrap();
    assert_eq!(recovered.from_snapshot, Some(20), "snapshots at 10 and 20, the newest is used");
    assert_eq!(recovered.replayed, 5);
    assert!(recovered.skipped.is_empty());
    assert_eq!(recovered.state, live, "snapshot + tail equals the live state");

    let runtime = Runtime::open(ledger.clone(), std::sync::Arc::new(encore_actors::ManualClock::new(T0)), Secrets::from_seed(SEED), common::config());
    let reloaded = (*runtime.account(&account).await.unwrap()).clone();
    assert_eq!(reloaded, live, "the runtime loads through the snapshot to the same state");
    runtime.shutdown();
    drop(dir);
}
