//! The writer's indexes of the newest records: where each event id is and how
//! far each stream has got, kept in the writer's memory and written to the
//! `event_ids` and `stream_heads` column families in sorted batches.
//!
//! Only the writer reads those two indexes (idempotent retries, expected
//! versions), so they need not be current on disk, only recoverable:
//! `meta/indexed` names the position through which both hold every record,
//! and the records after it are in the log itself. The writer adds each
//! group's entries to [`IndexTail`] once the group is written, and every
//! [`TAIL_RECORDS`] records writes the whole tail, sorted, with the new
//! `indexed` position in one batch (unsynced: the next WAL sync covers it,
//! and a batch lost to a crash is redone from the records). An open for
//! writing reads the records after `indexed` again ([`IndexTail::recover`]).
//!
//! Why: an event id is a blake3 output and a stream head is one key among
//! thousands, so each entry written with its record was an insert at a
//! random place in a large skip list, a walk of cache misses. Sorted, a
//! batch's inserts land next to each other. Measured in docs/BENCHMARKS.md
//! ("Session 9").

use foldhash::HashMap;
use rocksdb::WriteBatch;

use super::append::Cfs;
use super::keys::*;
use super::Store;
use crate::error::OpenError;
use crate::record::RecordRef;
use crate::types::{EventId, StreamId};

/// Records the tail holds before it is written out, by default
/// (`LedgerOptions::index_tail_records`). Bounds the writer's memory (about
/// 100 bytes a record) and the records an open reads again.
pub(crate) const TAIL_RECORDS: usize = 1 << 16;

/// Event ids and stream heads of the records after `indexed`.
#[derive(Debug, Default)]
pub(crate) struct IndexTail {
    /// The position through which the column families are complete.
    indexed: u64,
    /// Records held before the tail is due to be written.
    limit: usize,
    ids: HashMap<EventId, u64>,
    heads: HashMap<StreamId, u64>,
}

impl IndexTail {
    /// Reads `meta/indexed` and the records after it, up to `head`. A record
    /// there that does not decode stops the open: its stream and event id
    /// are unknown, so the writer could not check appends against it.
    pub(crate) fn recover(store: &Store, head: u64, limit: usize) -> Result<IndexTail, OpenError> {
        let path = &store.path;
        let indexed = read_indexed(&store.db).map_err(|message| OpenError::Storage { path: path.clone(), message })?;
        let Some(indexed) = indexed else {
            return Err(OpenError::NotAnEncoreLog { path: path.clone(), reason: "no indexed position in the metadata".into() });
        };
        if indexed > head {
            let reason = format!("the indexes claim position {indexed}, past the newest record");
            return Err(OpenError::DamagedTail { path: path.clone(), position: head, reason });
        }
        let mut tail = IndexTail { indexed, limit: limit.max(1), ..IndexTail::default() };
        let mut it = store.db.raw_iterator_cf(Cfs::of(store).records);
        it.seek(position_key(indexed + 1));
        let mut expected = indexed + 1;
        while let (Some(key), Some(value)) = (it.key(), it.value()) {
            let damaged = |reason: String| OpenError::DamagedTail { path: path.clone(), position: expected, reason };
            if parse_u64(key) != Some(expected) {
                return Err(damaged(format!("missing (found key {key:02x?}) while indexing the newest records")));
            }
            let record = RecordRef::decode(value).map_err(|e| damaged(format!("{e}, while indexing the newest records")))?;
            let stream = StreamId::new(record.stream).map_err(|e| damaged(e.to_string()))?;
            if tail.ids.insert(record.event_id, expected).is_some() {
                return Err(damaged(format!("event id {} appears twice", record.event_id)));
            }
            if tail.heads.insert(stream, record.version).is_some_and(|v| v >= record.version) {
                return Err(damaged(format!("stream {} goes back to version {}", record.stream, record.version)));
            }
            expected += 1;
            it.next();
        }
        it.status().map_err(|e| OpenError::Storage { path: path.clone(), message: e.into_string() })?;
        if expected != head + 1 {
            return Err(OpenError::DamagedTail { path: path.clone(), position: expected, reason: "missing while indexing the newest records".into() });
        }
        Ok(tail)
    }

    pub(crate) fn position_of(&self, id: &EventId) -> Option<u64> {
        self.ids.get(id).copied()
    }

    pub(crate) fn version_of(&self, stream: &StreamId) -> Option<u64> {
        self.heads.get(stream).copied()
    }

    /// Records where a written event id is.
    pub(crate) fn add_id(&mut self, id: EventId, position: u64) {
        assert!(position > self.indexed, "record {position} is already indexed (through {})", self.indexed);
        let previous = self.ids.insert(id, position);
        assert!(previous.is_none(), "event id {id} written twice");
    }

    /// Records a stream's version after a written group (versions only grow).
    pub(crate) fn add_head(&mut self, stream: StreamId, version: u64) {
        let previous = self.heads.insert(stream, version);
        assert!(previous.is_none_or(|v| v < version), "a stream's version went backwards");
    }

    pub(crate) fn records(&self) -> usize {
        self.ids.len()
    }

    /// Whether the tail holds enough records to be written out.
    pub(crate) fn due(&self) -> bool {
        self.ids.len() >= self.limit
    }

    /// The batch that writes the tail, sorted by key, and moves `indexed` to
    /// `through` (the last record the tail holds).
    pub(crate) fn batch(&self, cfs: &Cfs<'_>, through: u64) -> WriteBatch {
        let mut batch = WriteBatch::default();
        let mut ids: Vec<(&EventId, &u64)> = self.ids.iter().collect();
        ids.sort_unstable();
        for (id, position) in ids {
            assert!(*position > self.indexed && *position <= through, "a tail entry lies in the tail");
            batch.put_cf(cfs.ids, id.0, position_key(*position));
        }
        let mut heads: Vec<(&StreamId, &u64)> = self.heads.iter().collect();
        heads.sort_unstable_by(|a, b| a.0.as_str().as_bytes().cmp(b.0.as_str().as_bytes()));
        for (stream, version) in heads {
            batch.put_cf(cfs.heads, stream.as_str().as_bytes(), version.to_be_bytes());
        }
        batch.put_cf(cfs.meta, META_INDEXED_KEY, position_key(through));
        batch
    }

    /// The tail's batch was written: the column families now hold it.
    pub(crate) fn written(&mut self, through: u64) {
        self.ids.clear();
        self.heads.clear();
        self.indexed = through;
    }
}

/// `meta/indexed`: `None` in a log of format 1, whose indexes were written
/// with their records (so are complete through the newest record).
pub(crate) fn read_indexed(db: &rocksdb::DB) -> Result<Option<u64>, String> {
    let meta = db.cf_handle(CF_META).ok_or("column family meta missing")?;
    match db.get_cf(meta, META_INDEXED_KEY).map_err(|e| e.into_string())? {
        None => Ok(None),
        Some(bytes) => parse_u64(&bytes).map(Some).ok_or_else(|| format!("meta/indexed is not a position ({} bytes)", bytes.len())),
    }
}
