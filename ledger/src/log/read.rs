//! Reads: single records, a stream forwards or backwards, the global log from
//! a position, a stream's version, and the position of a moment in time.
//! Reads never go past the published head, so they only see acknowledged
//! records.
//!
//! Two kinds of read, two checks. A replay ([`Ledger::scan`],
//! [`Ledger::scan_batches`], and `verify`) rebuilds or audits from the
//! records, so it checks every record's own hash. A read that serves a request
//! (a record, a stream, a page of the log, a subscription) checks the
//! record's structure by the append's rules, its position and its stream, and
//! leaves its bytes to RocksDB's checksums (every block read from disk, and
//! per key in the memtable: `open.rs`): the hash cost two thirds of a stream
//! read, and guards only against a change written through RocksDB by someone
//! who did not recompute it, which a replay and `verify` still find.

use super::append::Cfs;
use super::keys::*;
use super::{Ledger, Store};
use crate::error::{storage, ReadError};
use crate::record::{Record, RecordBatch, RecordRef, UncheckedBatch};
use crate::types::{Direction, StreamId};

impl Store {
    pub(crate) fn read_record(&self, position: u64) -> Result<Option<Record>, ReadError> {
        let cf = Cfs::of(self).records;
        match self.db.get_pinned_cf(cf, position_key(position)).map_err(storage)? {
            None => Ok(None),
            Some(bytes) => decode_at(position, &bytes, None).map(Some),
        }
    }

    /// The records at `positions` of `stream`, in that order, each checked as
    /// [`Store::read_record`] does and to belong to `stream`; all of them must
    /// exist. A dense run is
    /// read with one iterator ([`Store::read_run`]); other positions in one
    /// batched lookup: a stream's records sit in few blocks, which RocksDB
    /// then reads once each instead of once per record.
    pub(crate) fn read_records(&self, stream: &StreamId, positions: &[u64]) -> Result<Vec<Record>, ReadError> {
        let ascending = positions.windows(2).all(|w| w[0] < w[1]);
        if ascending && is_dense(positions) {
            return self.read_run(stream, positions);
        }
        let cf = Cfs::of(self).records;
        let keys: Vec<[u8; 8]> = positions.iter().map(|&p| position_key(p)).collect();
        let values = self.db.batched_multi_get_cf(cf, &keys, ascending);
        assert_eq!(values.len(), positions.len(), "one value per key from a batched read");
        positions
            .iter()
            .zip(values)
            .map(|(&position, value)| match value.map_err(storage)? {
                Some(bytes) => decode_at(position, &bytes, Some(stream)),
                None => Err(ReadError::Missing { position }),
            })
            .collect()
    }

    /// The records at `positions` (ascending, a dense run: see
    /// [`is_dense`]) read with one iterator from the first to the last,
    /// stepping over the records of other streams between them: a stream
    /// appended in batches sits in runs, which cost a step each instead of
    /// a lookup each. Checked as [`Store::read_record`] does.
    fn read_run(&self, stream: &StreamId, positions: &[u64]) -> Result<Vec<Record>, ReadError> {
        let (Some(&first), Some(&last)) = (positions.first(), positions.last()) else { return Ok(Vec::new()) };
        let mut options = rocksdb::ReadOptions::default();
        options.set_iterate_upper_bound(position_key(last.saturating_add(1)).to_vec());
        let mut it = self.db.raw_iterator_cf_opt(Cfs::of(self).records, options);
        it.seek(position_key(first));
        let mut out = Vec::with_capacity(positions.len());
        for &position in positions {
            while it.key().and_then(parse_u64).is_some_and(|at| at < position) {
                it.next();
            }
            match (it.key().and_then(parse_u64), it.value()) {
                (Some(at), Some(bytes)) if at == position => out.push(decode_at(position, bytes, Some(stream))?),
                _ => {
                    it.status().map_err(storage)?;
                    return Err(ReadError::Missing { position });
                }
            }
        }
        Ok(out)
    }

    /// The newest version of a stream whose record is at or before `head`:
    /// records past the published head may be written but not yet durable.
    pub(crate) fn stream_version(&self, stream: &StreamId, head: u64) -> Result<u64, ReadError> {
        let prefix = stream_prefix(stream);
        let mut it = self.db.raw_iterator_cf(Cfs::of(self).index);
        it.seek_for_prev(stream_index_key(stream, u64::MAX));
        while let (Some(key), Some(value)) = (it.key(), it.value()) {
            if !key.starts_with(&prefix) {
                break;
            }
            let version = parse_stream_index_key(key).map(|(_, v)| v);
            let position = parse_u64(value);
            match (version, position) {
                (Some(version), Some(position)) if position <= head => return Ok(version),
                (Some(_), Some(_)) => it.prev(),
                _ => return Err(ReadError::Storage(format!("stream index entry of {stream} is not a version and a position"))),
            }
        }
        it.status().map_err(storage)?;
        Ok(0)
    }

    /// An iterator over the records from `from`, set up for a long
    /// sequential read: read ahead, and keep the block cache for point reads.
    fn sequential_records(&self, from: u64) -> rocksdb::DBRawIteratorWithThreadMode<'_, rocksdb::DB> {
        let mut options = rocksdb::ReadOptions::default();
        options.set_readahead_size(4 << 20);
        options.fill_cache(false);
        let mut it = self.db.raw_iterator_cf_opt(Cfs::of(self).records, options);
        it.seek(position_key(from));
        it
    }

    /// Up to `max` records from `from` (inclusive), never past `to`.
    pub(crate) fn read_range(&self, from: u64, to: u64, max: usize) -> Result<Vec<Record>, ReadError> {
        let mut out = Vec::new();
        if from > to || max == 0 {
            return Ok(out);
        }
        let mut it = self.db.raw_iterator_cf(Cfs::of(self).records);
        it.seek(position_key(from));
        let mut expected = from;
        while let (Some(key), Some(value)) = (it.key(), it.value()) {
            let position = parse_u64(key).unwrap_or(0);
            if position > to || out.len() >= max {
                break;
            }
            if position != expected {
                return Err(ReadError::Missing { position: expected });
            }
            out.push(decode_at(position, value, None)?);
            expected += 1;
            it.next();
        }
        it.status().map_err(storage)?;
        if out.len() < max && expected <= to {
            return Err(ReadError::Missing { position: expected });
        }
        Ok(out)
    }

    fn stream_positions(&self, stream: &StreamId, from_version: u64, direction: Direction, max: usize) -> Result<Vec<u64>, ReadError> {
        let prefix = stream_prefix(stream);
        let mut it = self.db.raw_iterator_cf(Cfs::of(self).index);
        match direction {
            Direction::Forwards => it.seek(stream_index_key(stream, from_version)),
            Direction::Backwards => it.seek_for_prev(stream_index_key(stream, from_version)),
        }
        let mut positions = Vec::new();
        while let (Some(key), Some(value)) = (it.key(), it.value()) {
            if !key.starts_with(&prefix) || positions.len() >= max {
                break;
            }
            positions.push(parse_u64(value).ok_or_else(|| ReadError::Storage("stream index value is not a position".into()))?);
            match direction {
                Direction::Forwards => it.next(),
                Direction::Backwards => it.prev(),
            }
        }
        it.status().map_err(storage)?;
        Ok(positions)
    }
}

/// Ascending positions worth one iterator rather than a batched lookup: at
/// least half of the records from the first to the last are among them (so
/// the steps over other streams' records cost at most one per record read).
fn is_dense(ascending: &[u64]) -> bool {
    let (Some(&first), Some(&last)) = (ascending.first(), ascending.last()) else { return false };
    last.saturating_sub(first) / 2 < ascending.len() as u64
}

/// The record stored at `position`, its structure checked (not its hash): for
/// reads that serve a request (see the module header). A stream read names
/// its stream: the record must belong to it, and shares the caller's id.
fn decode_at(position: u64, bytes: &[u8], stream: Option<&StreamId>) -> Result<Record, ReadError> {
    let record = RecordRef::decode_unhashed(bytes).map_err(|e| ReadError::Damaged { position, reason: e.to_string() })?;
    owned_at(position, record, stream)
}

/// The record stored at `position`, its hash checked too: for replays.
fn decode_checked_at(position: u64, bytes: &[u8]) -> Result<Record, ReadError> {
    let record = RecordRef::decode(bytes).map_err(|e| ReadError::Damaged { position, reason: e.to_string() })?;
    owned_at(position, record, None)
}

/// A decoded record as read at `position` (and, for a stream read, from
/// `stream`): it must claim both.
fn owned_at(position: u64, record: RecordRef<'_>, stream: Option<&StreamId>) -> Result<Record, ReadError> {
    if record.position != position {
        return Err(ReadError::Damaged { position, reason: format!("record claims position {}", record.position) });
    }
    let id = match stream {
        Some(stream) if stream.as_str() == record.stream => stream.clone(),
        Some(stream) => return Err(ReadError::Damaged { position, reason: format!("indexed under {stream} but belongs to {}", record.stream) }),
        None => StreamId::from_checked(record.stream),
    };
    Ok(record.into_record(id))
}

impl Ledger {
    /// The record at a global position, if it has been acknowledged.
    pub fn read_record(&self, position: u64) -> Result<Option<Record>, ReadError> {
        if position == 0 || position > self.head().position {
            return Ok(None);
        }
        self.store().read_record(position)
    }

    /// A stream's current version: its number of events (0 if it has none).
    pub fn stream_version(&self, stream: &StreamId) -> Result<u64, ReadError> {
        self.store().stream_version(stream, self.head().position)
    }

    /// Up to `max` events of a stream starting at `from_version` (inclusive;
    /// versions start at 1), in the given direction. Backwards from
    /// `u64::MAX` reads the newest events first.
    pub fn read_stream(&self, stream: &StreamId, from_version: u64, direction: Direction, max: usize) -> Result<Vec<Record>, ReadError> {
        let store = self.store();
        let head = self.head().position;
        let mut positions = store.stream_positions(stream, from_version, direction, max)?;
        positions.retain(|&position| position <= head);
        store.read_records(stream, &positions)
    }

    /// Up to `max` records of the global log from `from_position` (inclusive).
    pub fn read_all(&self, from_position: u64, max: usize) -> Result<Vec<Record>, ReadError> {
        self.store().read_range(from_position.max(1), self.head().position, max)
    }

    /// Every acknowledged record from `from_position`, read in pages so
    /// memory stays bounded however long the log is.
    pub fn scan(&self, from_position: u64) -> impl Iterator<Item = Result<Record, ReadError>> + '_ {
        let to = self.head().position;
        let from = from_position.max(1);
        Scan { it: self.store().sequential_records(from), next: from, to, done: from > to }
    }

    /// The acknowledged records from `from_position` up to `to` (inclusive;
    /// the head at most), in batches of up to `batch` records, each record
    /// decoded and hash-checked as [`Ledger::scan`] does. For long replays:
    /// a batch costs a few allocations, and can be handed to another thread
    /// ([`BatchScan::next_unchecked`] leaves the checking to that thread).
    /// A missing or damaged record ends the iteration with its error (the
    /// records before it in the same batch are not returned).
    pub fn scan_batches(&self, from_position: u64, to: u64, batch: usize) -> BatchScan<'_> {
        let to = to.min(self.head().position);
        let from = from_position.max(1);
        BatchScan { it: self.store().sequential_records(from), next: from, to, batch: batch.max(1) }
    }

    /// The last position whose record was recorded at or before `time`
    /// (µs since the epoch); 0 if none. Relies on recorded-at never going
    /// backwards in global order, which appends enforce.
    pub fn position_at_time(&self, time: i64) -> Result<u64, ReadError> {
        let (mut low, mut high) = (0u64, self.head().position);
        // Invariant: record `low` (or the start) is at or before `time`; everything after `high` is after it.
        while low < high {
            let mid = low + (high - low).div_ceil(2);
            let record = self.store().read_record(mid)?.ok_or(ReadError::Missing { position: mid })?;
            if record.recorded_at <= time {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        Ok(low)
    }
}

/// The iterator of [`Ledger::scan_batches`]: checked batches, or with
/// [`BatchScan::next_unchecked`] the stored bytes of the next batch, for the
/// caller to check where it likes. Either way positions are checked to follow
/// each other with no gap as they are read.
pub struct BatchScan<'a> {
    it: rocksdb::DBRawIteratorWithThreadMode<'a, rocksdb::DB>,
    next: u64,
    to: u64,
    batch: usize,
}

impl BatchScan<'_> {
    /// The next batch as stored, not yet decoded or hash-checked: reading it
    /// is a copy, and [`UncheckedBatch::check`] does the rest.
    pub fn next_unchecked(&mut self) -> Option<Result<UncheckedBatch, ReadError>> {
        if self.next > self.to {
            return None;
        }
        let mut records = UncheckedBatch::with_capacity(self.next, self.batch);
        while self.next <= self.to && records.len() < self.batch {
            match self.at_next() {
                Ok(value) => records.push(value),
                Err(e) => return Some(Err(self.end(e))),
            }
            self.advance();
        }
        Some(Ok(records))
    }

    /// The stored bytes of the record at `self.next`, where the iterator is.
    fn at_next(&self) -> Result<&[u8], ReadError> {
        match (self.it.key(), self.it.value()) {
            (Some(key), Some(value)) if parse_u64(key) == Some(self.next) => Ok(value),
            _ => {
                self.it.status().map_err(storage)?;
                Err(ReadError::Missing { position: self.next })
            }
        }
    }

    fn advance(&mut self) {
        self.next += 1;
        self.it.next();
    }

    /// Nothing is read after an error.
    fn end(&mut self, e: ReadError) -> ReadError {
        self.next = u64::MAX;
        e
    }
}

impl Iterator for BatchScan<'_> {
    type Item = Result<RecordBatch, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next > self.to {
            return None;
        }
        let mut records = RecordBatch::with_capacity(self.batch);
        while self.next <= self.to && records.len() < self.batch {
            let pushed = self.at_next().and_then(|value| records.push_at(self.next, value).map(drop));
            if let Err(e) = pushed {
                return Some(Err(self.end(e)));
            }
            self.advance();
        }
        Some(Ok(records))
    }
}

/// A sequential scan over one RocksDB iterator, checking that positions
/// follow each other with no gap, up to the head at the time it started.
struct Scan<'a> {
    it: rocksdb::DBRawIteratorWithThreadMode<'a, rocksdb::DB>,
    next: u64,
    to: u64,
    done: bool,
}

impl Iterator for Scan<'_> {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let result = match (self.it.key(), self.it.value()) {
            (Some(key), Some(value)) if parse_u64(key) == Some(self.next) => decode_checked_at(self.next, value),
            (Some(_), Some(_)) | (None, None) => match self.it.status() {
                Err(e) => Err(storage(e)),
                Ok(()) => Err(ReadError::Missing { position: self.next }),
            },
            _ => Err(ReadError::Missing { position: self.next }),
        };
        self.done = result.is_err() || self.next >= self.to;
        self.next += 1;
        self.it.next();
        Some(result)
    }
}
