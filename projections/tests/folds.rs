//! Each projection's list of the event types it folds (`Projection::folds`)
//! is complete: the replay does not even decode the others, so an event of a
//! type left off the list must never change the state. Checked with one
//! sample of every domain event type, on a state that already holds the
//! samples' accounts, cards, contents and groups.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use encore_domain::{samples, Event, EventCodec};
use encore_projections::workload::{Workload, WorkloadConfig};
use encore_projections::{AllProjections, Balances, CharismaRankings, EventContext, Projection, UsageHistory};

/// A state folded from a short workload, then from every sample it folds.
fn busy_state<P: Projection>() -> P {
    let mut state = P::default();
    let events = Workload::new(WorkloadConfig::default()).take(300).flat_map(|op| op.appends).flat_map(|(_, events)| events);
    for (position, event) in (1..).zip(events.chain(samples::every_event())) {
        if P::folds(event.event_type()) {
            state.apply(&context(position), &event);
        }
    }
    state
}

fn context(position: u64) -> EventContext<'static> {
    EventContext { position, recorded_at: 1_700_000_000_000_000 + position as i64, stream: "sample" }
}

fn check<P: Projection>() {
    let state = busy_state::<P>();
    let before = state.encode();
    let samples = samples::every_event();
    let mut folded = 0;
    for (event, position) in samples.iter().zip(1_000_000..) {
        assert!(Event::is_type_name(event.event_type()));
        let mut after = state.clone();
        after.apply(&context(position), event);
        if P::folds(event.event_type()) {
            folded += 1;
        } else {
            assert!(after.encode() == before, "{}: a {} changed the state but is not on its list of folded types", P::NAME, event.event_type());
        }
    }
    assert!(folded > 0, "{} folds none of the samples", P::NAME);
}

#[test]
fn an_event_of_a_type_a_projection_does_not_fold_never_changes_its_state() {
    check::<Balances>();
    check::<UsageHistory>();
    check::<CharismaRankings>();
    check::<AllProjections>();
}

/// Every name on a list is a domain event type (a misspelt name would
/// silently drop that type from the replay).
#[test]
fn every_folded_type_is_a_domain_event_type() {
    let names = samples::every_event().iter().map(|e| e.event_type()).collect::<Vec<_>>();
    let folded = |folds: fn(&str) -> bool| names.iter().filter(|n| folds(n)).count();
    assert_eq!(folded(Balances::folds), 5);
    assert_eq!(folded(UsageHistory::folds), 6);
    assert_eq!(folded(CharismaRankings::folds), 5);
    assert_eq!(folded(AllProjections::folds), 16);
}
