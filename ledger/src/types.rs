//! The vocabulary of the log API: stream ids, event ids, expected versions,
//! the events a caller appends and what an append returns.

use crate::limits::{MAX_EVENT_TYPE_BYTES, MAX_STREAM_ID_BYTES};

/// A 32-byte blake3 hash.
pub type Hash = [u8; 32];

/// The hash a log's first record chains to.
pub const GENESIS_HASH: Hash = [0u8; 32];

/// A stream's name: non-empty UTF-8, at most 255 bytes, no control characters.
/// Shared, so a clone costs no copy: a stream read hands each of its records
/// the caller's id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(std::sync::Arc<str>);

/// Why a stream id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamIdError {
    #[error("stream id is empty")]
    Empty,
    #[error("stream id {prefix:?}... is {len} bytes, more than {max}", max = MAX_STREAM_ID_BYTES)]
    TooLong { prefix: String, len: usize },
    #[error("stream id {0:?} contains a control character")]
    ControlCharacter(String),
}

impl StreamId {
    pub fn new(id: impl Into<String>) -> Result<Self, StreamIdError> {
        let id = id.into();
        Self::check(&id)?;
        Ok(StreamId(id.into()))
    }

    /// A stream id the record decoder has just checked (paired with `new`).
    pub(crate) fn from_checked(id: &str) -> Self {
        debug_assert!(Self::check(id).is_ok(), "the decoder checked {id:?}");
        StreamId(id.into())
    }

    /// Whether `id` is a stream id the log accepts (what `new` checks; the
    /// record decoder checks it again on every stored record).
    pub fn check(id: &str) -> Result<(), StreamIdError> {
        if id.is_empty() {
            return Err(StreamIdError::Empty);
        }
        if id.len() > MAX_STREAM_ID_BYTES {
            return Err(StreamIdError::TooLong { prefix: id.chars().take(32).collect(), len: id.len() });
        }
        if id.chars().any(char::is_control) {
            return Err(StreamIdError::ControlCharacter(id.to_string()));
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.0)
    }
}

/// A 128-bit id chosen by the caller: event ids, correlation and causation ids.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventId(pub [u8; 16]);

impl EventId {
    pub const NIL: EventId = EventId([0; 16]);

    pub const fn from_u128(v: u128) -> Self {
        EventId(v.to_be_bytes())
    }

    /// A deterministic id derived from arbitrary bytes (for example a purchase
    /// id and an index): the first 16 bytes of their blake3 hash.
    pub fn derive(context: &str, material: &[u8]) -> Self {
        let mut hasher = blake3::Hasher::new_derive_key(context);
        hasher.update(material);
        let mut out = [0u8; 16];
        out.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
        EventId(out)
    }

    pub fn as_u128(&self) -> u128 {
        u128::from_be_bytes(self.0)
    }
}

impl std::fmt::Debug for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EventId({self})")
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.as_u128())
    }
}

/// What the writer expects a stream's version (its number of events) to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must have no events.
    NoStream,
    /// The stream must have at least one event.
    StreamExists,
    /// The stream must have exactly this many events (0 is the same as `NoStream`).
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream whose current version is `current` satisfies this.
    pub fn admits(self, current: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => current == 0,
            ExpectedVersion::StreamExists => current > 0,
            ExpectedVersion::Exact(n) => current == n,
        }
    }
}

impl std::fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no-stream"),
            ExpectedVersion::StreamExists => f.write_str("stream-exists"),
            ExpectedVersion::Exact(n) => write!(f, "{n}"),
        }
    }
}

/// An expected-version form that is not one of `any`, `no-stream`,
/// `stream-exists` or a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown expected version {0:?}: use any, no-stream, stream-exists or a number")]
pub struct ExpectedVersionParseError(pub String);

impl std::str::FromStr for ExpectedVersion {
    type Err = ExpectedVersionParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "any" => Ok(ExpectedVersion::Any),
            "no-stream" => Ok(ExpectedVersion::NoStream),
            "stream-exists" => Ok(ExpectedVersion::StreamExists),
            n => n.parse::<u64>().map(ExpectedVersion::Exact).map_err(|_| ExpectedVersionParseError(s.to_string())),
        }
    }
}

/// One event as the caller hands it to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub event_id: EventId,
    pub event_type: String,
    /// Microseconds since the Unix epoch, from the caller's clock. Must not go
    /// backwards in global order (as-of-time queries rely on it).
    pub recorded_at: i64,
    pub correlation_id: EventId,
    pub causation_id: EventId,
    pub payload: Vec<u8>,
}

impl NewEvent {
    /// An event with nil correlation and causation ids.
    pub fn new(event_id: EventId, event_type: impl Into<String>, recorded_at: i64, payload: Vec<u8>) -> Self {
        NewEvent { event_id, event_type: event_type.into(), recorded_at, correlation_id: EventId::NIL, causation_id: EventId::NIL, payload }
    }
}

/// Events for one stream inside an append, with the version the caller expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamAppend {
    pub stream: StreamId,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
}

/// The versions an append gave one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRange {
    pub stream: StreamId,
    pub first_version: u64,
    pub last_version: u64,
}

/// What an acknowledged append returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The global position of every event, in the order they were given.
    pub positions: Vec<u64>,
    /// The versions per stream, in the order the streams were given.
    pub streams: Vec<StreamRange>,
    /// True when every event had been appended before with identical content:
    /// the original positions are returned and nothing was written.
    pub deduplicated: bool,
}

/// The newest record of the log: where the next append chains from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Position of the newest record (0 for an empty log; the first record is 1).
    pub position: u64,
    /// Its hash (all zeros for an empty log).
    pub hash: Hash,
    /// Its recorded-at time (i64::MIN for an empty log).
    pub recorded_at: i64,
}

impl Head {
    pub const EMPTY: Head = Head { position: 0, hash: GENESIS_HASH, recorded_at: i64::MIN };
}

/// Which way a stream is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forwards,
    Backwards,
}

pub(crate) fn validate_event_type(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_EVENT_TYPE_BYTES && name.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_version_parses_every_form_and_names_bad_ones() {
        assert_eq!("any".parse(), Ok(ExpectedVersion::Any));
        assert_eq!("no-stream".parse(), Ok(ExpectedVersion::NoStream));
        assert_eq!("stream-exists".parse(), Ok(ExpectedVersion::StreamExists));
        assert_eq!("7".parse(), Ok(ExpectedVersion::Exact(7)));
        assert_eq!("latest".parse::<ExpectedVersion>(), Err(ExpectedVersionParseError("latest".into())));
    }

    #[test]
    fn expected_version_admits() {
        assert!(ExpectedVersion::NoStream.admits(0) && !ExpectedVersion::NoStream.admits(1));
        assert!(ExpectedVersion::StreamExists.admits(3) && !ExpectedVersion::StreamExists.admits(0));
        assert!(ExpectedVersion::Exact(2).admits(2) && !ExpectedVersion::Exact(2).admits(3));
        assert!(ExpectedVersion::Any.admits(0));
    }

    #[test]
    fn stream_ids_are_validated() {
        assert_eq!(StreamId::new(""), Err(StreamIdError::Empty));
        assert!(matches!(StreamId::new("x".repeat(256)), Err(StreamIdError::TooLong { len: 256, .. })));
        assert!(matches!(StreamId::new("a\nb"), Err(StreamIdError::ControlCharacter(_))));
        assert_eq!(StreamId::new("card-1").map(|s| s.to_string()), Ok("card-1".to_string()));
    }
}
