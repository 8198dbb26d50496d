//! The deciders of every flow: each gathers the states a decision needs (its
//! own actor's, plus lower-ranked actors' snapshots), calls the one pure
//! domain function of that decision and turns what it decided (an
//! `encore_domain::aggregate::Decided`: the outcome, and the events of every
//! stream with the version it was decided on) into a [`Plan`]. No domain
//! rule lives here, and no stream name or expected version is picked here:
//! only which states to read (for a purchase the domain says which,
//! `purchase_peers`), which secrets to pass, and which key event ids derive
//! from.

pub mod groups;
pub mod licensing;

use encore_domain::aggregate::Decided;
use encore_domain::Event;

use crate::error::RuntimeError;
use crate::shell::{DecideFuture, Plan};

/// The plan of a decision: its outcome, its events as [`Event`]s, event ids derived from `key`.
pub fn plan<O, E>(decided: Decided<O, E>, key: &str) -> Plan<O>
where
    Event: From<E>,
{
    plan_keyed(decided, key.as_bytes().to_vec())
}

/// [`plan`] with a key of its own (a purchase's or a refund's, naming its id).
pub fn plan_keyed<O, E>(decided: Decided<O, E>, key: Vec<u8>) -> Plan<O>
where
    Event: From<E>,
{
    Plan { outcome: decided.outcome, decision: decided.decision.widen(), key }
}

/// A decider's future for a plan decided without waiting on any peer.
pub fn ready<T: 'static>(result: Result<Plan<T>, RuntimeError>) -> DecideFuture<T> {
    Box::pin(async move { result })
}
