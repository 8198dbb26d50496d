//! `encore-ledger`: Encore's single source of truth.
//!
//! One append-only log over RocksDB, in the style of EventStoreDB: every event
//! belongs to a stream (one per card, device, group, server shard) and also has
//! a place in one gapless global order. Writers use optimistic concurrency
//! (expected versions), appends to several streams commit atomically, and every
//! record is hash-chained (blake3) to the one before it so that any change,
//! removal or reordering is detected and located by [`Ledger::verify`].
//!
//! This crate is the only code in Encore that touches RocksDB.
//!
//! ```text
//!   callers ──append──▶ bounded queue ──▶ writer thread (group commit:
//!                                          validate, chain, one WriteBatch,
//!                                          one WAL sync) ──▶ RocksDB
//!   callers ◀──read / subscribe / verify── RocksDB (any thread)
//! ```

#[cfg(feature = "baseline")]
pub mod baseline;
mod error;
pub mod export;
pub mod limits;
mod log;
mod record;
mod types;

pub use error::{AppendError, AuxError, OpenError, ReadError, VerifyError};
pub use log::aux::AuxEntry;
pub use log::read::BatchScan;
pub use log::repair::{apply_repair, plan_repair, DroppedRecord, RepairPlan};
pub use log::subscribe::Subscription;
pub use log::verify::{Problem, ProblemKind, VerifyReport};
pub use log::{Ledger, LedgerOptions};
pub use record::{Record, RecordBatch, RecordRef, UncheckedBatch, RECORD_FORMAT_VERSION};
pub use types::{
    Appended, Direction, EventId, ExpectedVersion, ExpectedVersionParseError, Hash, Head, NewEvent, StreamAppend, StreamId, StreamIdError, StreamRange,
};

#[doc(hidden)]
pub mod testing;
