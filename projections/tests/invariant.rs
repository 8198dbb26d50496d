//! The balance invariant at every position: for every account,
//! loaded - charged + refunded = balance (DOMAIN.md Invariants), over random
//! workloads of several seeds, checked against a simple model that sums the
//! amounts independently of the projection.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use encore_domain::licensing::LicensingEvent;
use encore_domain::{Event, EventCodec};
use encore_projections::workload::WorkloadConfig;
use encore_projections::{Balances, Projected};
use proptest::prelude::*;

/// The model: net money per account from amounts alone.
fn model_step(model: &mut BTreeMap<String, i128>, event: &Event) {
    if let Event::Licensing(e) = event {
        match e {
            LicensingEvent::CardLoaded(e) => *model.entry(e.account.to_string()).or_default() += i128::from(e.amount.0),
            LicensingEvent::Charged(e) => *model.entry(e.account.to_string()).or_default() -= i128::from(e.amount.0),
            LicensingEvent::Refunded(e) => *model.entry(e.account.to_string()).or_default() += i128::from(e.amount.0),
            _ => {}
        }
    }
}

fn check_every_position(seed: u64, ops: usize) {
    let (_dir, ledger) = common::temp_log();
    common::write_workload(&ledger, WorkloadConfig { seed, cards: 30, ..Default::default() }, ops);
    let mut projected = Projected::<Balances>::new();
    let mut model = BTreeMap::new();
    for record in ledger.scan(1) {
        let record = record.unwrap();
        projected.apply_record(&record).unwrap();
        model_step(&mut model, &Event::decode_payload(&record.event_type, &record.payload).unwrap());
        projected.state.check_invariant().unwrap_or_else(|e| panic!("seed {seed}, position {}: {e}", record.position));
        for (account, balance) in projected.state.accounts() {
            assert_eq!(
                i128::from(balance.balance.0),
                model.get(account.as_str()).copied().unwrap_or(0),
                "seed {seed}, position {}, account {account}",
                record.position
            );
        }
    }
    let accounts: Vec<_> = projected.state.accounts().map(|(_, a)| a).collect();
    assert!(accounts.iter().any(|a| a.refunds > 0) && accounts.iter().any(|a| a.declines > 0), "seed {seed}: the workload exercises refunds and declines");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]
    #[test]
    fn loaded_minus_charged_plus_refunded_is_the_balance_at_every_position(seed in any::<u64>()) {
        check_every_position(seed, 1_500);
    }
}
