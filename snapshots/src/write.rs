//! Taking snapshots: one actor state at a record of its stream, every actor
//! stream every N events of that stream (one scan of the log), and a
//! projection at its position.

use std::collections::HashMap;

use encore_ledger::{Ledger, Record};
use encore_projections::{Projected, Projection};

use crate::actors::{ActorState, Snapshottable};
use crate::envelope::{actor_key, key_number, projection_key, projection_prefix, Snapshot};
use crate::error::SnapshotError;

/// How often actor states are snapshotted: every `every` events of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotPolicy {
    pub every: u64,
}

impl Default for SnapshotPolicy {
    fn default() -> Self {
        SnapshotPolicy { every: 100 }
    }
}

impl SnapshotPolicy {
    pub fn is_due(&self, version: u64) -> bool {
        version > 0 && version % self.every.max(1) == 0
    }
}

/// What [`snapshot_streams`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotStats {
    pub records: u64,
    pub streams: u64,
    pub snapshots: u64,
    /// Records of streams no actor owns.
    pub foreign: u64,
}

fn actor_snapshot(kind: &str, stream: &str, state_version: u64, state: Vec<u8>, record: &Record) -> Result<(Vec<u8>, Vec<u8>), SnapshotError> {
    if record.stream.as_str() != stream {
        return Err(SnapshotError::WrongStream { stream: stream.to_string(), found: record.stream.to_string(), position: record.position });
    }
    if state_version != record.version {
        return Err(SnapshotError::VersionMismatch { stream: stream.to_string(), state_version, record_version: record.version });
    }
    let snapshot = Snapshot::new(kind, stream, record.version, record.position, record.hash, state);
    Ok((actor_key(stream, record.version), snapshot.encode()))
}

/// Stores `state`, which has been folded up to and including `record`.
pub fn write_actor_snapshot<S: Snapshottable>(ledger: &Ledger, state: &S, record: &Record) -> Result<(), SnapshotError> {
    let (key, value) = actor_snapshot(S::KIND, record.stream.as_str(), state.version(), state.encode_state(), record)?;
    ledger.put_aux(&[(key.as_slice(), value.as_slice())])?;
    Ok(())
}

/// Projection snapshots kept per projection: the newest, and one to fall back
/// on if the newest does not check out. (Each holds the whole state, tens of
/// MiB for a large log; actor snapshots are small and all kept.)
pub const PROJECTION_SNAPSHOTS_KEPT: usize = 2;

/// Stores a projection at the position it has reached, then deletes its
/// snapshots older than the newest [`PROJECTION_SNAPSHOTS_KEPT`].
pub fn snapshot_projection<P: Projection>(ledger: &Ledger, projected: &Projected<P>) -> Result<(), SnapshotError> {
    let snapshot = Snapshot::new("projection", P::NAME, projected.position, projected.position, projected.last_hash, projected.encode());
    let (key, value) = (projection_key(P::NAME, projected.position), snapshot.encode());
    ledger.put_aux(&[(key.as_slice(), value.as_slice())])?;
    let prefix = projection_prefix(P::NAME);
    let mut seen = 0;
    let oldest_kept = ledger.find_aux_rev(&prefix, |key, _| {
        seen += usize::from(key_number(&prefix, key).is_some());
        (seen == PROJECTION_SNAPSHOTS_KEPT).then(|| key.to_vec())
    })?;
    if let Some(oldest_kept) = oldest_kept {
        ledger.delete_aux_range(&prefix, &oldest_kept)?;
    }
    Ok(())
}

/// Snapshots written per durable aux write.
const WRITE_BATCH: usize = 256;

/// Scans the whole log, folding every actor stream, and snapshots each
/// stream whenever its version is due under `policy`.
pub fn snapshot_streams(ledger: &Ledger, policy: SnapshotPolicy) -> Result<SnapshotStats, SnapshotError> {
    let mut states: HashMap<String, ActorState> = HashMap::new();
    let mut stats = SnapshotStats::default();
    let mut pending: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for record in ledger.scan(1) {
        let record = record?;
        stats.records += 1;
        let stream = record.stream.as_str();
        if !states.contains_key(stream) {
            match ActorState::for_stream(stream) {
                Some(fresh) => {
                    stats.streams += 1;
                    states.insert(stream.to_string(), fresh);
                }
                None => {
                    stats.foreign += 1;
                    continue;
                }
            }
        }
        let Some(state) = states.get_mut(stream) else { continue };
        state.fold(&record).map_err(|source| SnapshotError::Fold { stream: stream.to_string(), source })?;
        if policy.is_due(state.version()) {
            pending.push(actor_snapshot(state.kind(), stream, state.version(), state.encode_state(), &record)?);
            if pending.len() >= WRITE_BATCH {
                flush(ledger, &mut pending, &mut stats)?;
            }
        }
    }
    flush(ledger, &mut pending, &mut stats)?;
    Ok(stats)
}

fn flush(ledger: &Ledger, pending: &mut Vec<(Vec<u8>, Vec<u8>)>, stats: &mut SnapshotStats) -> Result<(), SnapshotError> {
    if pending.is_empty() {
        return Ok(());
    }
    let entries: Vec<(&[u8], &[u8])> = pending.iter().map(|(k, v)| (k.as_slice(), v.as_slice())).collect();
    ledger.put_aux(&entries)?;
    stats.snapshots += pending.len() as u64;
    pending.clear();
    Ok(())
}
