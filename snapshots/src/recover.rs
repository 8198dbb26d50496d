//! Recovery: the newest snapshot that checks out, then the tail of the log.
//!
//! A snapshot checks out when its envelope decodes, its format is this
//! build's, it names the subject and version its key says, its state hashes
//! to its state hash, the log holds at its position the record of that
//! stream and version with its chain hash, and its state decodes. Anything
//! else is skipped with a warning, reported in the result, and an older
//! snapshot (or position 0) is used instead.

use encore_ledger::{Direction, Ledger, StreamId};
use encore_projections::{replay_into, Projected, Projection};

use crate::actors::Snapshottable;
use crate::envelope::{actor_prefix, key_number, projection_prefix, SnapshotView, SNAPSHOT_FORMAT_VERSION};
use crate::error::LoadError;

/// Why a stored snapshot was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// The envelope is not valid CBOR.
    Undecodable(String),
    UnsupportedFormat {
        found: u32,
    },
    /// The envelope names another subject, kind or version than its key.
    WrongSubject {
        subject: String,
        kind: String,
        version: u64,
    },
    /// The state bytes do not hash to the stored state hash.
    StateHashMismatch,
    /// The log has no record at that position, or it belongs elsewhere.
    PositionMismatch {
        position: u64,
    },
    /// The record at that position has another hash: the log is not the one snapshotted.
    ChainMismatch {
        position: u64,
    },
    /// The state bytes hash correctly but do not decode as the state.
    StateUndecodable(String),
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::Undecodable(e) => write!(f, "envelope does not decode: {e}"),
            SkipReason::UnsupportedFormat { found } => write!(f, "format {found}, this build reads {SNAPSHOT_FORMAT_VERSION}"),
            SkipReason::WrongSubject { subject, kind, version } => write!(f, "envelope names {kind} {subject} at {version}"),
            SkipReason::StateHashMismatch => f.write_str("state does not match its hash"),
            SkipReason::PositionMismatch { position } => write!(f, "the log has no matching record at position {position}"),
            SkipReason::ChainMismatch { position } => write!(f, "chain hash differs from the log's at position {position}"),
            SkipReason::StateUndecodable(e) => write!(f, "state does not decode: {e}"),
        }
    }
}

/// A snapshot that was not used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The subject (stream or projection name).
    pub subject: String,
    /// The version (or position) its key names.
    pub version: u64,
    pub reason: SkipReason,
}

/// An actor state recovered from a snapshot and the tail of its stream.
#[derive(Debug, Clone)]
pub struct Recovered<S> {
    pub state: S,
    /// The snapshot version used; `None` = replayed from the start.
    pub from_snapshot: Option<u64>,
    /// Records replayed after it.
    pub replayed: u64,
    /// Newer snapshots that did not check out, newest first.
    pub skipped: Vec<Skipped>,
}

/// A projection recovered from a snapshot and the tail of the log.
#[derive(Debug, Clone)]
pub struct RecoveredProjection<P> {
    pub projected: Projected<P>,
    pub from_snapshot: Option<u64>,
    pub replayed: u64,
    pub skipped: Vec<Skipped>,
}

/// Checks the envelope of a snapshot stored under (subject, version).
fn open_envelope<'a>(bytes: &'a [u8], kind: &str, subject: &str, version: u64) -> Result<SnapshotView<'a>, SkipReason> {
    let snapshot = SnapshotView::decode(bytes).map_err(SkipReason::Undecodable)?;
    if snapshot.format != SNAPSHOT_FORMAT_VERSION {
        return Err(SkipReason::UnsupportedFormat { found: snapshot.format });
    }
    if snapshot.subject != subject || snapshot.kind != kind || snapshot.version != version {
        return Err(SkipReason::WrongSubject { subject: snapshot.subject.into(), kind: snapshot.kind.into(), version: snapshot.version });
    }
    if !snapshot.state_is_intact() {
        return Err(SkipReason::StateHashMismatch);
    }
    Ok(snapshot)
}

/// Checks that the log holds, at the snapshot's position, the record it was
/// taken at (`stream` = `None` for projections, whose version is the position).
fn check_against_log(ledger: &Ledger, snapshot: &SnapshotView<'_>, stream: Option<&StreamId>) -> Result<(), SkipReason> {
    let position = snapshot.position;
    let record = match ledger.read_record(position) {
        Ok(Some(record)) => record,
        _ => return Err(SkipReason::PositionMismatch { position }),
    };
    let place_ok = match stream {
        Some(stream) => record.stream == *stream && record.version == snapshot.version,
        None => snapshot.version == position,
    };
    if !place_ok {
        return Err(SkipReason::PositionMismatch { position });
    }
    if record.hash != snapshot.chain_hash {
        return Err(SkipReason::ChainMismatch { position });
    }
    Ok(())
}

fn skip(subject: &str, version: u64, reason: SkipReason, skipped: &mut Vec<Skipped>) {
    tracing::warn!(subject, version, %reason, "snapshot skipped");
    skipped.push(Skipped { subject: subject.to_string(), version, reason });
}

/// Offers the snapshots stored under `prefix` to `take`, newest first, with
/// the number of their key (key order is version order, see `envelope`),
/// until it takes one: recovery reads no snapshot older than the first one
/// that checks out, and reads that one in place.
fn newest_first<T>(ledger: &Ledger, prefix: &[u8], mut take: impl FnMut(u64, &[u8]) -> Option<T>) -> Result<Option<T>, LoadError> {
    Ok(ledger.find_aux_rev(prefix, |key, value| key_number(prefix, key).and_then(|n| take(n, value)))?)
}

/// Recovers the state of the actor on `stream`.
pub fn load<S: Snapshottable>(ledger: &Ledger, stream: &StreamId) -> Result<Recovered<S>, LoadError> {
    let subject = stream.as_str();
    let mut skipped = Vec::new();
    let start: Option<(S, u64)> = newest_first(ledger, &actor_prefix(subject), |version, bytes| {
        let checked = open_envelope(bytes, S::KIND, subject, version)
            .and_then(|s| check_against_log(ledger, &s, Some(stream)).map(|()| s))
            .and_then(|s| S::decode_state(s.state).map_err(SkipReason::StateUndecodable));
        match checked {
            Ok(state) if state.version() == version => return Some((state, version)),
            Ok(_) => skip(subject, version, SkipReason::WrongSubject { subject: subject.into(), kind: S::KIND.into(), version }, &mut skipped),
            Err(reason) => skip(subject, version, reason, &mut skipped),
        }
        None
    })?;
    let from_snapshot = start.as_ref().map(|(_, v)| *v);
    let mut state = start.map(|(s, _)| s).unwrap_or_default();
    let mut replayed = 0;
    loop {
        let page = ledger.read_stream(stream, state.version() + 1, Direction::Forwards, 512)?;
        if page.is_empty() {
            break;
        }
        for record in &page {
            state.fold(record).map_err(|source| LoadError::ActorFold { stream: subject.to_string(), source })?;
            replayed += 1;
        }
    }
    Ok(Recovered { state, from_snapshot, replayed, skipped })
}

/// Recovers projection `P` up to the current head of the log.
pub fn load_projection<P: Projection>(ledger: &Ledger) -> Result<RecoveredProjection<P>, LoadError> {
    let mut skipped = Vec::new();
    let start = newest_first(ledger, &projection_prefix(P::NAME), |position, bytes| {
        let checked = open_envelope(bytes, "projection", P::NAME, position)
            .and_then(|s| check_against_log(ledger, &s, None).map(|()| s))
            .and_then(|s| Projected::<P>::decode(s.state).map_err(|e| SkipReason::StateUndecodable(e.to_string())).map(|p| (s, p)));
        match checked {
            Ok((s, p)) if p.position == position && p.last_hash == s.chain_hash => return Some(p),
            Ok(_) => skip(P::NAME, position, SkipReason::PositionMismatch { position }, &mut skipped),
            Err(reason) => skip(P::NAME, position, reason, &mut skipped),
        }
        None
    })?;
    let from_snapshot = start.as_ref().map(|p| p.position);
    let mut projected = start.unwrap_or_else(Projected::new);
    let before = projected.position;
    replay_into(ledger, &mut projected, ledger.head().position)?;
    Ok(RecoveredProjection { replayed: projected.position - before, projected, from_snapshot, skipped })
}
