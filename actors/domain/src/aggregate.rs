//! The shape every actor's model has: a state that decides and applies.

use crate::time::Timestamp;

/// A consistency boundary: one stream in the log, one writer.
///
/// `decide` never mutates and never fails silently: it either returns the
/// events that happen (refusals the business must see are events too) or a
/// typed error for a malformed command, in which case nothing is written.
/// `apply` is total: every event the aggregate ever emitted must apply.
pub trait Aggregate: Default + Clone {
    type Command;
    type Event;
    type Error;

    fn decide(&self, command: &Self::Command, now: Timestamp) -> Result<Vec<Self::Event>, Self::Error>;

    fn apply(&mut self, event: &Self::Event);

    /// Folds a sequence of events into a fresh state (replay).
    fn replay<'a, I>(events: I) -> Self
    where
        I: IntoIterator<Item = &'a Self::Event>,
        Self::Event: 'a,
    {
        let mut state = Self::default();
        for event in events {
            state.apply(event);
        }
        state
    }
}

/// The name of a stream in the log (`card-c1`, `account-a1`, ...).
pub type StreamName = String;

/// Events bound for one stream, part of a decision that may span several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEvents<E> {
    pub stream: StreamName,
    /// The number of events the decider saw in that stream (0 = no stream);
    /// the runtime appends with this as the expected version.
    pub expected_version: u64,
    pub events: Vec<E>,
}

/// Events for several streams that must be appended atomically, all or nothing
/// (one multi-stream append in the log).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision<E> {
    pub appends: Vec<StreamEvents<E>>,
}

impl<E> Decision<E> {
    pub fn is_empty(&self) -> bool {
        self.appends.iter().all(|a| a.events.is_empty())
    }
}
