//! The deciders of every flow: each gathers the states a decision needs
//! (its own actor's, plus lower-ranked actors' snapshots), calls the pure
//! domain function and returns a [`Plan`](crate::shell::Plan). No domain
//! rule lives here: only which states to read and which key ids derive from.

pub mod groups;
pub mod licensing;

use encore_domain::aggregate::{Decision, StreamEvents};
use encore_domain::Event;

/// A decision of one half of the domain as a decision over [`Event`].
pub fn widen<E: Into<Event>>(decision: Decision<E>) -> Decision<Event> {
    Decision {
        appends: decision
            .appends
            .into_iter()
            .map(|a| StreamEvents { stream: a.stream, expected_version: a.expected_version, events: a.events.into_iter().map(Into::into).collect() })
            .collect(),
    }
}

/// Events for one stream at the version they were decided on.
pub fn single<E: Into<Event>>(stream: String, expected_version: u64, events: Vec<E>) -> Decision<Event> {
    Decision { appends: vec![StreamEvents { stream, expected_version, events: events.into_iter().map(Into::into).collect() }] }
}
