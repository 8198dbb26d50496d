//! The shape every actor's model has: a state that decides and applies, and
//! what a decision comes to.
//!
//! [`Aggregate::decide`] is the primitive: the events one command makes on
//! its own state. What the runtime calls is one function per decision that
//! returns a [`Decided`]: the decision's outcome (the value the caller gets)
//! and a [`Decision`] naming every stream it appends to with the version it
//! was decided on. The shell never picks a stream name or a version.

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

impl<E> StreamEvents<E> {
    /// The same append with its events turned into a wider event type.
    pub fn widen<F: From<E>>(self) -> StreamEvents<F> {
        StreamEvents { stream: self.stream, expected_version: self.expected_version, events: self.events.into_iter().map(F::from).collect() }
    }
}

impl<E> Decision<E> {
    /// Events for one stream, at the version they were decided on.
    pub fn single(stream: StreamName, expected_version: u64, events: Vec<E>) -> Self {
        Decision { appends: vec![StreamEvents { stream, expected_version, events }] }
    }

    pub fn is_empty(&self) -> bool {
        self.appends.iter().all(|a| a.events.is_empty())
    }

    /// The same decision with its events turned into a wider event type
    /// (one half's events as [`Event`](crate::Event)s).
    pub fn widen<F: From<E>>(self) -> Decision<F> {
        Decision { appends: self.appends.into_iter().map(StreamEvents::widen).collect() }
    }
}

/// What one decision comes to: its outcome and the events to append (every
/// stream with its expected version). Every decision the runtime makes
/// returns one; some under a name of their own (`PurchaseDecision`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided<O, E> {
    pub outcome: O,
    pub decision: Decision<E>,
}

impl<O, E> Decided<O, E> {
    /// An outcome and the events of one stream, at the version they were decided on.
    pub fn single(stream: StreamName, expected_version: u64, events: Vec<E>, outcome: O) -> Self {
        Decided { outcome, decision: Decision::single(stream, expected_version, events) }
    }

    /// An outcome that writes nothing.
    pub fn nothing(outcome: O) -> Self {
        Decided { outcome, decision: Decision { appends: Vec::new() } }
    }
}

impl<O, E> From<Decided<O, E>> for Decision<E> {
    fn from(decided: Decided<O, E>) -> Self {
        decided.decision
    }
}
