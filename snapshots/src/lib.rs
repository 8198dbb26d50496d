//! `encore-snapshots`: verified snapshots of actor states and projections.
//!
//! A snapshot is stored beside the log (through `Ledger::put_aux`) with the
//! stream version or global position it was taken at, the global position and
//! chain hash of that record, the blake3 hash of the state bytes and a format
//! version ([`Snapshot`]). Recovery ([`load`], [`load_projection`]) takes the
//! newest snapshot that checks out against itself AND the log, and replays the
//! tail; any snapshot that does not check out is skipped with a warning and
//! reported ([`Skipped`]), never trusted. [`audit`] replays from zero and
//! confirms every stored snapshot's state hash, which catches handlers that
//! are not deterministic (and forged snapshots whose own hash is consistent).
//!
//! Snapshots hold only what the states hold: ids, counters, sealed bytes and
//! public integrity values. No state type carries key material (device keys,
//! content keys and device secrets live in commands only); the test
//! `no_key_material_in_snapshots` checks the stored bytes.

mod actors;
mod audit;
mod envelope;
mod error;
mod recover;
mod write;

pub use actors::{ActorState, Snapshottable};
pub use audit::{audit, AuditMismatch, AuditReport, MismatchKind};
pub use envelope::{actor_key, actor_prefix, projection_key, projection_prefix, Snapshot, SnapshotView, SNAPSHOT_FORMAT_VERSION};
pub use error::{ActorFoldError, AuditError, LoadError, SnapshotError};
pub use recover::{load, load_projection, Recovered, RecoveredProjection, SkipReason, Skipped};
pub use write::{snapshot_projection, snapshot_streams, write_actor_snapshot, SnapshotPolicy, SnapshotStats, PROJECTION_SNAPSHOTS_KEPT};
