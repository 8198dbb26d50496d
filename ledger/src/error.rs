//! One error enum per operation at the API edge. Every variant names the
//! offending value; none carries payload bytes (they may hold sealed data).

use std::path::PathBuf;

use crate::types::{EventId, ExpectedVersion, StreamId, StreamIdError};

/// Why a log directory could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    #[error("{path}: not a directory")]
    NotADirectory { path: PathBuf },
    #[error("{path}: not an Encore log ({reason})")]
    NotAnEncoreLog { path: PathBuf, reason: String },
    #[error("{path}: log format version {found} is newer than this build supports ({supported}); upgrade encore")]
    NewerFormat { path: PathBuf, found: u32, supported: u32 },
    #[error("{path}: the newest record (position {position}) cannot be read: {reason}; run `encore verify`")]
    DamagedTail { path: PathBuf, position: u64, reason: String },
    #[error("{path}: the log's files are damaged, so recovery stopped instead of dropping what follows the damage: {message}; nothing was changed; see `encore audit repair`")]
    Corrupted { path: PathBuf, message: String },
    #[error("{path}: records {} to {acknowledged} were acknowledged but are gone (the log recovered only to position {recovered}); nothing was changed; see `encore audit repair`", recovered + 1)]
    AcknowledgedRecordsLost { path: PathBuf, acknowledged: u64, recovered: u64 },
    #[error("{path}: the record at position {position} is not the one that was acknowledged there; nothing was changed; see `encore audit repair`")]
    WatermarkMismatch { path: PathBuf, position: u64 },
    #[error("{path}: the acknowledged watermark cannot be read ({reason}); nothing was changed; see `encore audit repair`")]
    WatermarkUnreadable { path: PathBuf, reason: String },
    #[error("{path}: storage error: {message}")]
    Storage { path: PathBuf, message: String },
}

/// Why an append was refused. Nothing was written unless the variant says so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    #[error("append has no events")]
    EmptyAppend,
    #[error("stream {stream} has no events in this append")]
    EmptyStream { stream: StreamId },
    #[error("stream {stream} appears twice in one append")]
    DuplicateStream { stream: StreamId },
    #[error(transparent)]
    BadStreamId(#[from] StreamIdError),
    #[error("event {event_id}: event type {event_type:?} must be 1..=128 printable ASCII bytes")]
    BadEventType { event_id: EventId, event_type: String },
    #[error("event {event_id}: payload of {size} bytes exceeds the limit of {limit}")]
    PayloadTooLarge { event_id: EventId, size: usize, limit: usize },
    #[error("append of {count} events exceeds the limit of {limit}")]
    TooManyEvents { count: usize, limit: usize },
    #[error("append of {size} payload bytes exceeds the limit of {limit}")]
    AppendTooLarge { size: usize, limit: usize },
    #[error("event id {event_id} appears twice in one append")]
    DuplicateEventId { event_id: EventId },
    #[error("stream {stream}: expected version {expected}, actual {actual}")]
    WrongExpectedVersion { stream: StreamId, expected: ExpectedVersion, actual: u64 },
    #[error("event id {event_id} was already appended at position {position} with different content")]
    EventIdConflict { event_id: EventId, position: u64 },
    #[error("event {appended} was already appended at position {position} but event {new} of the same append was not: not a retry")]
    PartialRetry { appended: EventId, position: u64, new: EventId },
    #[error("event {event_id}: recorded-at {recorded_at} is earlier than {previous}, the time of the record before it")]
    ClockWentBackwards { event_id: EventId, recorded_at: i64, previous: i64 },
    #[error("the log is poisoned by an earlier failed write ({cause}); reopen it to recover")]
    Poisoned { cause: String },
    #[error("write failed, the log is now poisoned: {cause}")]
    WriteFailed { cause: String },
    #[error("storage error while checking the append: {cause}")]
    Storage { cause: String },
    #[error("the log was opened read-only")]
    ReadOnly,
    #[error("the log is closed")]
    Closed,
}

/// Why a read failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    #[error(transparent)]
    BadStreamId(#[from] StreamIdError),
    #[error("record at position {position} is damaged: {reason}; run `encore verify`")]
    Damaged { position: u64, reason: String },
    #[error("index names position {position} but no record is there; run `encore verify`")]
    Missing { position: u64 },
    #[error("storage error: {0}")]
    Storage(String),
    #[error("the log is closed")]
    Closed,
}

/// Why verification could not run at all (damage it finds is in the report).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error("range {from}..={to} is empty or outside the log (head {head})")]
    BadRange { from: u64, to: u64, head: u64 },
    #[error("storage error: {0}")]
    Storage(String),
}

/// Why a read or write of auxiliary (derived) state failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuxError {
    #[error("auxiliary key is empty")]
    EmptyKey,
    #[error("storage error: {0}")]
    Storage(String),
    #[error("the log is poisoned by an earlier failed write ({cause})")]
    Poisoned { cause: String },
    #[error("the log was opened read-only")]
    ReadOnly,
}

pub(crate) fn storage(e: rocksdb::Error) -> ReadError {
    ReadError::Storage(e.into_string())
}
