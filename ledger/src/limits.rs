//! The hard limits of the log. Input beyond them is refused with a typed
//! error before anything is written; they are documented in docs/ERRORS.md.

/// Largest payload of one event: 1 MiB.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;
/// Longest stream id, in bytes.
pub const MAX_STREAM_ID_BYTES: usize = 255;
/// Longest event type name, in bytes.
pub const MAX_EVENT_TYPE_BYTES: usize = 128;
/// Most events in one append (all streams together).
pub const MAX_EVENTS_PER_APPEND: usize = 10_000;
/// Most payload bytes in one append (all events together): 16 MiB.
pub const MAX_APPEND_BYTES: usize = 16 << 20;
/// Most appends the writer folds into one group commit.
pub const MAX_GROUP_APPENDS: usize = 1024;
