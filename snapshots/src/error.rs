//! Errors of writing, loading and auditing snapshots. A snapshot that does
//! not check out is not an error (it is skipped and reported); these are the
//! failures that stop the operation.

use encore_ledger::{AuxError, ReadError};
use encore_projections::{FoldError, ReplayError};

/// Why a snapshot could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    #[error("state of {stream} is at version {state_version} but the record given is version {record_version}")]
    VersionMismatch { stream: String, state_version: u64, record_version: u64 },
    #[error("record at position {position} belongs to {found}, not {stream}")]
    WrongStream { stream: String, found: String, position: u64 },
    #[error(transparent)]
    Store(#[from] AuxError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error("stream {stream}: {source}")]
    Fold { stream: String, source: ActorFoldError },
}

/// Why a record could not be folded into an actor state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActorFoldError {
    #[error("record at position {position} ({event_type}) is not a domain event: {reason}")]
    NotADomainEvent { position: u64, event_type: String, reason: String },
    #[error("record at position {position} is a {event_type}, which a {kind} state does not take")]
    WrongModel { position: u64, event_type: String, kind: &'static str },
    #[error("record at position {position} is version {found} of its stream; the state expected {expected}")]
    OutOfOrder { position: u64, expected: u64, found: u64 },
}

/// Why recovery failed (a bad snapshot is skipped, not an error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error(transparent)]
    Aux(#[from] AuxError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error(transparent)]
    Fold(#[from] FoldError),
    #[error("stream {stream}: {source}")]
    ActorFold { stream: String, source: ActorFoldError },
}

/// Why an audit could not run (what it finds is in the report).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    #[error(transparent)]
    Aux(#[from] AuxError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error(transparent)]
    Fold(#[from] FoldError),
    #[error("stream {stream}: {source}")]
    ActorFold { stream: String, source: ActorFoldError },
}
