//! Loading a state by replaying its stream, and catching it up with events
//! appended since. [`load_state`] is the one function that builds a state
//! from the log: a snapshot-based loader replaces it without touching the
//! actors. Both are blocking (RocksDB reads): actors call them through
//! `spawn_blocking`, never on an arbiter thread.

use encore_domain::{DecodeError, Event, EventCodec};
use encore_ledger::{Direction, Ledger, ReadError, StreamId};

use crate::state::StreamState;

/// Events read per page while replaying.
pub const PAGE: usize = 1024;

/// Why a stream could not be folded into its state.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateLoadError {
    #[error("reading stream {stream}: {source}")]
    Read { stream: String, source: ReadError },
    #[error("stream {stream} version {version}: {source}")]
    Decode { stream: String, version: u64, source: DecodeError },
    #[error("stream {stream} version {version}: a {event_type} event does not belong to a {kind} stream")]
    ForeignEvent { stream: String, version: u64, event_type: String, kind: &'static str },
    #[error("stream {stream}: read version {found} where version {expected} was due")]
    VersionGap { stream: String, expected: u64, found: u64 },
    #[error("stream {stream}: recovering from snapshots failed: {reason}")]
    Snapshot { stream: String, reason: String },
}

/// The state of `stream`: the newest snapshot that checks out against the
/// log (`encore-snapshots` skips, with a warning, any that does not), then
/// the events after it.
pub fn load_state<S: StreamState>(ledger: &Ledger, stream: &StreamId) -> Result<S, StateLoadError> {
    let recovered =
        encore_snapshots::load::<S>(ledger, stream).map_err(|e| StateLoadError::Snapshot { stream: stream.as_str().to_string(), reason: e.to_string() })?;
    let mut state = recovered.state;
    // Postcondition of recovery, checked again: nothing is left to fold.
    catch_up(ledger, stream, &mut state)?;
    Ok(state)
}

/// Stores a snapshot of `state` (at its current version) beside the log.
/// Blocking: called on the blocking pool. A failure only costs recovery time,
/// so it is logged, not returned.
pub fn write_snapshot<S: StreamState>(ledger: &Ledger, stream: &StreamId, state: &S) {
    let version = state.version();
    let written = ledger
        .read_stream(stream, version, Direction::Forwards, 1)
        .map_err(|e| e.to_string())
        .and_then(|records| records.into_iter().next().ok_or_else(|| format!("no record at version {version}")))
        .and_then(|record| encore_snapshots::write_actor_snapshot(ledger, state, &record).map_err(|e| e.to_string()));
    if let Err(reason) = written {
        tracing::warn!(stream = stream.as_str(), version, %reason, "snapshot not written");
    }
}

/// Applies the events of `stream` after `state.version()`; returns how many.
pub fn catch_up<S: StreamState>(ledger: &Ledger, stream: &StreamId, state: &mut S) -> Result<usize, StateLoadError> {
    let name = || stream.as_str().to_string();
    let mut applied = 0;
    loop {
        let from = state.version() + 1;
        let records = ledger.read_stream(stream, from, Direction::Forwards, PAGE).map_err(|source| StateLoadError::Read { stream: name(), source })?;
        let count = records.len();
        for record in records {
            let expected = state.version() + 1;
            if record.version != expected {
                return Err(StateLoadError::VersionGap { stream: name(), expected, found: record.version });
            }
            let event = Event::decode_payload(&record.event_type, &record.payload).map_err(|source| StateLoadError::Decode {
                stream: name(),
                version: record.version,
                source,
            })?;
            state.apply_event(&event).map_err(|_| StateLoadError::ForeignEvent {
                stream: name(),
                version: record.version,
                event_type: record.event_type.clone(),
                kind: <S as StreamState>::KIND,
            })?;
            // Postcondition: every state counts the events it folds.
            if state.version() != record.version {
                return Err(StateLoadError::VersionGap { stream: name(), expected: record.version, found: state.version() });
            }
            applied += 1;
        }
        if count < PAGE {
            return Ok(applied);
        }
    }
}
