//! What every runtime call returns: a typed value and the events it appended
//! (with their global positions), so transcripts can print them.

use encore_domain::Event;

/// One event as appended by a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Global position in the log.
    pub position: u64,
    pub stream: String,
    /// Version of the event in its stream (the first event is 1).
    pub version: u64,
    pub event: Event,
}

/// A command's result: `value` says what happened, `events` what was written
/// (empty when nothing had to be, for example a retried purchase).
#[derive(Debug)]
pub struct Outcome<T> {
    pub value: T,
    pub events: Vec<Recorded>,
}

impl<T> Outcome<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        Outcome { value: f(self.value), events: self.events }
    }

    /// The names of the events appended, in order (handy for transcripts and tests).
    pub fn event_types(&self) -> Vec<&'static str> {
        use encore_domain::EventCodec;
        self.events.iter().map(|r| r.event.event_type()).collect()
    }
}
