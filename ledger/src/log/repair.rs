//! Repairing a damaged log: the documented way out when an open is refused.
//!
//! [`plan_repair`] reads the log as far as it still reads (RocksDB's
//! point-in-time recovery, read-only: nothing is changed) and walks the
//! chain from position 1 to the first record that fails its hash, its
//! position or its link. Everything from there on is listed: the records
//! that still decode (position, stream, version, type) and the positions
//! that no longer read at all, up to the acknowledged watermark.
//!
//! [`apply_repair`] writes a new log from the verified records alone (the
//! records byte for byte, the indexes derived again, a fresh watermark) in a
//! staging directory, then moves the damaged log aside to `DIR.damaged-N`
//! and the new one into its place. Derived state (`aux`: checkpoints,
//! snapshots) is not carried over: it is rebuilt by replay.

use std::path::{Path, PathBuf};

use rocksdb::{DBRecoveryMode, IteratorMode, WriteBatch, WriteOptions, DB};

use super::keys::*;
use super::open::{cf, mark_watermark, open_db, sync_parent, write_identity};
use super::watermark::{self, Watermark};
use super::LedgerOptions;
use crate::error::OpenError;
use crate::record::Record;
use crate::types::{Head, GENESIS_HASH};

/// What a repair would keep and drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairPlan {
    pub path: PathBuf,
    /// The last position whose record, and every one before it, verifies.
    pub keep: Head,
    /// Records after `keep` that still decode: dropped with their chain.
    pub dropped: Vec<DroppedRecord>,
    /// Positions after `keep` that no longer read at all (including those
    /// only the watermark remembers).
    pub unreadable: Vec<u64>,
    /// How far the log had acknowledged, if its watermark still reads.
    pub acknowledged: Option<u64>,
    /// Why the walk stopped at `keep` (None: it reached the end intact).
    pub stopped_by: Option<String>,
}

impl RepairPlan {
    /// Whether the repair would change anything.
    pub fn drops_anything(&self) -> bool {
        !self.dropped.is_empty() || !self.unreadable.is_empty()
    }
}

/// A record a repair drops, as far as it can still be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedRecord {
    pub position: u64,
    pub stream: String,
    pub version: u64,
    pub event_type: String,
    /// Why it is dropped: its own damage, or a damaged record before it.
    pub reason: String,
}

/// Unreadable positions listed one by one up to this many; a repair plan
/// names the rest as a range count.
const MAX_LISTED: u64 = 100_000;

/// Reads the log at `path` as far as it reads and says what a repair would
/// keep and drop. Changes nothing.
pub fn plan_repair(path: &Path) -> Result<RepairPlan, OpenError> {
    let db = open_db(path, &LedgerOptions::read_only(), DBRecoveryMode::PointInTime)?;
    let acknowledged = watermark::read(path).ok().map(|a| a.position);
    let records = cf(&db, CF_RECORDS, path)?;
    let (keep, stopped_by) = walk_chain(&db, records);
    let last_stored = last_stored_position(&db, records);
    let end = last_stored.max(acknowledged.unwrap_or(0)).min(keep.position.saturating_add(MAX_LISTED));
    let mut dropped = Vec::new();
    let mut unreadable = Vec::new();
    for position in keep.position + 1..=end {
        match db.get_cf(records, position_key(position)).ok().flatten().and_then(|bytes| Record::decode(&bytes).ok()) {
            Some(r) => dropped.push(DroppedRecord {
                position,
                stream: r.stream.as_str().to_string(),
                version: r.version,
                event_type: r.event_type.clone(),
                reason: if position == keep.position + 1 { stopped_by.clone().unwrap_or_default() } else { "after the damage".into() },
            }),
            None => unreadable.push(position),
        }
    }
    Ok(RepairPlan { path: path.to_path_buf(), keep, dropped, unreadable, acknowledged, stopped_by })
}

/// Walks the chain from position 1 and returns the last record that
/// verifies, and why the walk stopped before the end (if it did).
fn walk_chain(db: &DB, records: &rocksdb::ColumnFamily) -> (Head, Option<String>) {
    let mut head = Head::EMPTY;
    let mut prev = GENESIS_HASH;
    for item in db.iterator_cf(records, IteratorMode::Start) {
        let expected = head.position + 1;
        let (key, value) = match item {
            Ok(kv) => kv,
            Err(e) => return (head, Some(format!("position {expected}: unreadable: {e}"))),
        };
        if parse_u64(&key) != Some(expected) {
            return (head, Some(format!("position {expected}: missing")));
        }
        let record = match Record::decode(&value) {
            Ok(record) => record,
            Err(e) => return (head, Some(format!("position {expected}: {e}"))),
        };
        if record.position != expected || record.prev_hash != prev {
            return (head, Some(format!("position {expected}: does not chain to the record before it")));
        }
        prev = record.hash;
        head = Head { position: expected, hash: record.hash, recorded_at: record.recorded_at };
    }
    (head, None)
}

fn last_stored_position(db: &DB, records: &rocksdb::ColumnFamily) -> u64 {
    let mut it = db.raw_iterator_cf(records);
    it.seek_to_last();
    it.key().and_then(parse_u64).unwrap_or(0)
}

/// Carries out `plan`: a new log of the kept records replaces the damaged
/// one, which is moved aside. Returns where the damaged log now is.
pub fn apply_repair(plan: &RepairPlan) -> Result<PathBuf, OpenError> {
    let path = &plan.path;
    let staging = sibling(path, "repairing");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| io(&staging, e))?;
    }
    {
        let old = open_db(path, &LedgerOptions::read_only(), DBRecoveryMode::PointInTime)?;
        let new = open_db(&staging, &LedgerOptions::default(), DBRecoveryMode::TolerateCorruptedTailRecords)?;
        copy_kept(&old, &new, &staging, plan.keep)?;
        Watermark::create(&staging, plan.keep).map_err(|e| OpenError::WatermarkUnreadable { path: staging.clone(), reason: e.to_string() })?;
    }
    let aside = (1..).map(|n| sibling(path, &format!("damaged-{n}"))).find(|p| !p.exists()).unwrap_or_else(|| sibling(path, "damaged"));
    std::fs::rename(path, &aside).map_err(|e| io(path, e))?;
    std::fs::rename(&staging, path).map_err(|e| io(path, e))?;
    sync_parent(path)?;
    tracing::warn!(path = %path.display(), kept = plan.keep.position, aside = %aside.display(), "log repaired");
    Ok(aside)
}

/// Copies records 1..=keep byte for byte, with their index entries derived
/// again, and the log's identity; every batch synced.
fn copy_kept(old: &DB, new: &DB, staging: &Path, keep: Head) -> Result<(), OpenError> {
    write_identity(new, staging)?;
    mark_watermark(new, staging)?;
    let (records, index, heads, ids) =
        (cf(new, CF_RECORDS, staging)?, cf(new, CF_STREAM_INDEX, staging)?, cf(new, CF_STREAM_HEADS, staging)?, cf(new, CF_EVENT_IDS, staging)?);
    let mut options = WriteOptions::default();
    options.set_sync(true);
    let mut batch = WriteBatch::default();
    let mut heads_seen: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for item in old.iterator_cf(cf(old, CF_RECORDS, staging)?, IteratorMode::Start) {
        let (key, value) = item.map_err(|e| storage(staging, e))?;
        let Some(position) = parse_u64(&key).filter(|&p| p <= keep.position) else { break };
        // The plan verified these records; reading them again must agree.
        let record = Record::decode(&value).map_err(|e| OpenError::DamagedTail { path: staging.to_path_buf(), position, reason: e.to_string() })?;
        assert_eq!(record.position, position, "a kept record is where the plan found it");
        batch.put_cf(records, key, &value);
        batch.put_cf(index, stream_index_key(&record.stream, record.version), position_key(position));
        batch.put_cf(ids, record.event_id.0, position_key(position));
        heads_seen.insert(record.stream.as_str().to_string(), record.version);
        if batch.len() >= 30_000 {
            new.write_opt(std::mem::take(&mut batch), &options).map_err(|e| storage(staging, e))?;
        }
    }
    for (stream, version) in heads_seen {
        batch.put_cf(heads, stream.as_bytes(), version.to_be_bytes());
    }
    batch.put_cf(cf(new, CF_META, staging)?, META_INDEXED_KEY, position_key(keep.position));
    new.write_opt(batch, &options).map_err(|e| storage(staging, e))
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".{suffix}"));
    path.with_file_name(name)
}

fn io(path: &Path, e: std::io::Error) -> OpenError {
    OpenError::Storage { path: path.to_path_buf(), message: e.to_string() }
}

fn storage(path: &Path, e: rocksdb::Error) -> OpenError {
    OpenError::Storage { path: path.to_path_buf(), message: e.into_string() }
}
