//! Verification: recompute the hash chain and check the indexes, and report
//! the first bad position and what is wrong with it.
//!
//! The records are scanned once in order. Each record's own hash, its
//! position, its link to the previous hash and its stream version are
//! checked. The indexes are checked by comparing an order-independent digest
//! of the entries the records imply with a digest of the entries stored;
//! only when they differ is the (slower) search for the culprit run.

use std::collections::HashMap;

use super::append::Cfs;
use super::keys::*;
use super::{Ledger, Store};
use crate::error::VerifyError;
use crate::record::{DecodeError, Record};
use crate::types::{Hash, Head, GENESIS_HASH};

/// What verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub from: u64,
    pub to: u64,
    /// Records read in the range.
    pub records: u64,
    /// The last record of the range as found (position and hash).
    pub head: Head,
    /// Problems in position order (at most [`MAX_PROBLEMS`]).
    pub problems: Vec<Problem>,
}

pub const MAX_PROBLEMS: usize = 100;

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
    pub fn first_problem(&self) -> Option<&Problem> {
        self.problems.first()
    }
}

/// One thing wrong, at one position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub position: u64,
    pub kind: ProblemKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The record's bytes no longer match its hash.
    Changed,
    /// The stored bytes are not a record.
    Undecodable { reason: String },
    /// No record at this position, though later ones exist (or an index names it).
    Missing,
    /// The record stored here says it belongs at another position.
    Reordered { claims: u64 },
    /// The record does not chain to the hash of the one before it.
    ChainBroken,
    /// The stream's versions skip or repeat here.
    VersionGap { stream: String, expected: u64, found: u64 },
    /// An index entry disagrees with the records.
    IndexDisagrees { index: &'static str, detail: String },
    /// Records from here to `acknowledged` were acknowledged (the watermark
    /// says so) but the log recovered without them.
    AcknowledgedButGone { acknowledged: u64 },
    /// The record here is not the one the watermark says was acknowledged here.
    NotTheAcknowledgedRecord,
    /// The acknowledged watermark cannot be read, so losses cannot be ruled out.
    WatermarkUnreadable { reason: String },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "position {}: ", self.position)?;
        match &self.kind {
            ProblemKind::Changed => write!(f, "changed (hash does not match contents)"),
            ProblemKind::Undecodable { reason } => write!(f, "undecodable ({reason})"),
            ProblemKind::Missing => write!(f, "missing"),
            ProblemKind::Reordered { claims } => write!(f, "reordered (the record here belongs at position {claims})"),
            ProblemKind::ChainBroken => write!(f, "chain broken (does not link to the previous record's hash)"),
            ProblemKind::VersionGap { stream, expected, found } => {
                write!(f, "stream {stream} version gap (expected {expected}, found {found})")
            }
            ProblemKind::IndexDisagrees { index, detail } => write!(f, "{index} index disagrees: {detail}"),
            ProblemKind::AcknowledgedButGone { acknowledged } => {
                write!(f, "missing: records {} to {acknowledged} were acknowledged but are gone", self.position)
            }
            ProblemKind::NotTheAcknowledgedRecord => write!(f, "not the record that was acknowledged here (the log was replaced or rewritten)"),
            ProblemKind::WatermarkUnreadable { reason } => write!(f, "the acknowledged watermark cannot be read ({reason})"),
        }
    }
}

impl Ledger {
    /// Verifies the whole log: chain and indexes.
    pub fn verify(&self) -> Result<VerifyReport, VerifyError> {
        let last = self.store().last_stored_position()?;
        self.store().verify(1, last, true)
    }

    /// Verifies positions `from..=to`: the chain from the stored hash of
    /// record `from - 1`, and the index entries of the records in the range.
    pub fn verify_range(&self, from: u64, to: u64) -> Result<VerifyReport, VerifyError> {
        let last = self.store().last_stored_position()?;
        if from == 0 || from > to || to > last {
            return Err(VerifyError::BadRange { from, to, head: last });
        }
        self.store().verify(from, to, from == 1 && to == last)
    }
}

/// Order-independent digest of a set of key/value entries.
#[derive(Default, PartialEq, Eq, Clone, Copy, Debug)]
struct Digest {
    sum: u128,
    count: u64,
}

impl Digest {
    fn add(&mut self, key: &[u8], value: &[u8]) {
        let mut h = blake3::Hasher::new();
        h.update(&(key.len() as u64).to_le_bytes());
        h.update(key);
        h.update(value);
        let bytes = h.finalize();
        let mut first = [0u8; 16];
        first.copy_from_slice(&bytes.as_bytes()[..16]);
        self.sum = self.sum.wrapping_add(u128::from_le_bytes(first));
        self.count += 1;
    }
}

struct Scan {
    problems: Vec<Problem>,
    prev: Option<Hash>,
    versions: HashMap<String, u64>,
    /// The position through which `event_ids` and `stream_heads` are
    /// complete (`meta/indexed`; `u64::MAX` in a log of format 1).
    indexed: u64,
    /// Stream versions as of `indexed`: what `stream_heads` must hold.
    heads: Option<HashMap<String, u64>>,
    index: Digest,
    ids: Digest,
    records: u64,
    head: Head,
}

impl Scan {
    fn report(&mut self, position: u64, kind: ProblemKind) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem { position, kind });
        }
    }

    fn check(&mut self, position: u64, value: &[u8], whole: bool) {
        if position > self.indexed && self.heads.is_none() {
            self.heads = Some(self.versions.clone());
        }
        let record = match Record::decode(value) {
            Ok(r) => r,
            Err(DecodeError::HashMismatch) => {
                self.report(position, ProblemKind::Changed);
                self.prev = None;
                return;
            }
            Err(e) => {
                self.report(position, ProblemKind::Undecodable { reason: e.to_string() });
                self.prev = None;
                return;
            }
        };
        if record.position != position {
            self.report(position, ProblemKind::Reordered { claims: record.position });
        } else if self.prev.is_some_and(|p| p != record.prev_hash) {
            self.report(position, ProblemKind::ChainBroken);
        }
        let last = self.versions.insert(record.stream.as_str().to_string(), record.version).unwrap_or(0);
        if whole && record.version != last + 1 {
            self.report(position, ProblemKind::VersionGap { stream: record.stream.to_string(), expected: last + 1, found: record.version });
        }
        self.index.add(&stream_index_key(&record.stream, record.version), &position_key(position));
        if position <= self.indexed {
            self.ids.add(&record.event_id.0, &position_key(position));
        }
        self.prev = Some(record.hash);
        self.head = Head { position, hash: record.hash, recorded_at: record.recorded_at };
    }
}

impl Store {
    pub(crate) fn last_stored_position(&self) -> Result<u64, VerifyError> {
        let mut it = self.db.raw_iterator_cf(Cfs::of(self).records);
        it.seek_to_last();
        let last = it.key().and_then(parse_u64).unwrap_or(0);
        it.status().map_err(|e| VerifyError::Storage(e.into_string()))?;
        Ok(last)
    }

    /// Verifies against one RocksDB snapshot, so appends (and index tails
    /// written) meanwhile are not seen half.
    pub(crate) fn verify(&self, from: u64, to: u64, whole: bool) -> Result<VerifyReport, VerifyError> {
        let view = View { snap: self.db.snapshot(), cfs: Cfs::of(self) };
        let indexed = match view.get(view.cfs.meta, META_INDEXED_KEY)? {
            None => u64::MAX,
            Some(bytes) => parse_u64(&bytes).ok_or_else(|| VerifyError::Storage(format!("meta/indexed is not a position ({} bytes)", bytes.len())))?,
        };
        let mut scan = Scan {
            problems: Vec::new(),
            prev: Some(view.hash_before(from)?),
            versions: HashMap::new(),
            indexed,
            heads: None,
            index: Digest::default(),
            ids: Digest::default(),
            records: 0,
            head: Head::EMPTY,
        };
        view.scan_records(from, to, whole, &mut scan)?;
        if whole {
            view.check_indexes_whole(&mut scan)?;
        } else {
            view.check_indexes_of_range(from, to, &mut scan)?;
        }
        if whole {
            // What the open found against the watermark (read-only opens report it here instead of refusing).
            scan.problems.extend(self.watermark_problem.clone());
        }
        scan.problems.sort_by_key(|p| p.position);
        Ok(VerifyReport { from, to, records: scan.records, head: scan.head, problems: scan.problems })
    }
}

/// The log as one snapshot shows it.
struct View<'a> {
    snap: rocksdb::SnapshotWithThreadMode<'a, rocksdb::DB>,
    cfs: Cfs<'a>,
}

impl View<'_> {
    fn iter(&self, cf: &rocksdb::ColumnFamily) -> rocksdb::DBRawIteratorWithThreadMode<'_, rocksdb::DB> {
        self.snap.raw_iterator_cf(cf)
    }

    fn get(&self, cf: &rocksdb::ColumnFamily, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, VerifyError> {
        self.snap.get_cf(cf, key).map_err(|e| VerifyError::Storage(e.into_string()))
    }

    fn hash_before(&self, from: u64) -> Result<Hash, VerifyError> {
        if from <= 1 {
            return Ok(GENESIS_HASH);
        }
        let bytes = self.get(self.cfs.records, position_key(from - 1))?;
        // The stored hash is the last 32 bytes; record `from - 1` itself is outside the range.
        Ok(bytes
            .filter(|b| b.len() >= 32)
            .map(|b| {
                let mut h = [0u8; 32];
                h.copy_from_slice(&b[b.len() - 32..]);
                h
            })
            .unwrap_or(GENESIS_HASH))
    }

    fn scan_records(&self, from: u64, to: u64, whole: bool, scan: &mut Scan) -> Result<(), VerifyError> {
        let mut it = self.iter(self.cfs.records);
        it.seek(position_key(from));
        let mut expected = from;
        while let (Some(key), Some(value)) = (it.key(), it.value()) {
            let Some(position) = parse_u64(key) else {
                scan.report(expected, ProblemKind::Undecodable { reason: "record key is not a position".into() });
                it.next();
                continue;
            };
            if position > to {
                break;
            }
            if position > expected {
                scan.report(expected, ProblemKind::Missing);
                scan.prev = None;
            }
            scan.check(position, value, whole);
            scan.records += 1;
            expected = position + 1;
            it.next();
        }
        it.status().map_err(|e| VerifyError::Storage(e.into_string()))
    }

    /// Compares digests of the implied and stored index entries; locates the
    /// culprits only when they differ.
    fn check_indexes_whole(&self, scan: &mut Scan) -> Result<(), VerifyError> {
        let cfs = &self.cfs;
        if scan.indexed != u64::MAX && scan.indexed > scan.head.position {
            let detail = format!("meta/indexed says the indexes reach position {}, past the newest record", scan.indexed);
            scan.report(scan.head.position + 1, ProblemKind::IndexDisagrees { index: CF_META, detail });
        }
        let stored_index = self.digest_cf(cfs.index)?;
        let stored_ids = self.digest_cf(cfs.ids)?;
        // No record after `indexed`: the heads are the versions at the end.
        let heads = scan.heads.take().unwrap_or_else(|| std::mem::take(&mut scan.versions));
        let mut implied_heads = Digest::default();
        for (stream, version) in &heads {
            implied_heads.add(stream.as_bytes(), &version.to_be_bytes());
        }
        let stored_heads = self.digest_cf(cfs.heads)?;
        if stored_index != scan.index {
            self.locate_index_problems(scan, cfs.index, CF_STREAM_INDEX)?;
        }
        if stored_ids != scan.ids {
            self.locate_index_problems(scan, cfs.ids, CF_EVENT_IDS)?;
        }
        if stored_heads != implied_heads {
            self.locate_head_problems(scan, &heads)?;
        }
        Ok(())
    }

    fn digest_cf(&self, cf: &rocksdb::ColumnFamily) -> Result<Digest, VerifyError> {
        let mut digest = Digest::default();
        let mut it = self.iter(cf);
        it.seek_to_first();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            digest.add(k, v);
            it.next();
        }
        it.status().map_err(|e| VerifyError::Storage(e.into_string()))?;
        Ok(digest)
    }

    /// Every stored entry must name a record that carries it, and every
    /// record must be named by its entry (event ids: every record through
    /// `indexed`).
    fn locate_index_problems(&self, scan: &mut Scan, cf: &rocksdb::ColumnFamily, name: &'static str) -> Result<(), VerifyError> {
        let mut it = self.iter(cf);
        it.seek_to_first();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if let Some(problem) = self.check_entry(name, k, v, scan.indexed) {
                scan.report(problem.position, problem.kind);
            }
            it.next();
        }
        it.status().map_err(|e| VerifyError::Storage(e.into_string()))?;
        self.check_records_are_indexed(scan, cf, name)
    }

    fn check_entry(&self, name: &'static str, key: &[u8], value: &[u8], indexed: u64) -> Option<Problem> {
        let disagree = |position, detail: String| Some(Problem { position, kind: ProblemKind::IndexDisagrees { index: name, detail } });
        let Some(position) = parse_u64(value) else {
            return disagree(0, format!("entry {key:02x?} holds no position"));
        };
        if name == CF_EVENT_IDS && position > indexed {
            return disagree(position, format!("entry names position {position}, past the indexed position {indexed}"));
        }
        let record = match self.get(self.cfs.records, position_key(position)).map(|bytes| bytes.map(|b| Record::decode(&b))) {
            Ok(Some(Ok(r))) => r,
            Ok(None) => return disagree(position, "entry names a position with no record".into()),
            Ok(Some(Err(_))) | Err(_) => return None, // the record scan reports the damaged record itself
        };
        let matches =
            if name == CF_EVENT_IDS { key == record.event_id.0 } else { parse_stream_index_key(key) == Some((record.stream.as_str(), record.version)) };
        if matches {
            None
        } else {
            disagree(position, format!("entry names position {position}, whose record is {} v{}", record.stream, record.version))
        }
    }

    fn check_records_are_indexed(&self, scan: &mut Scan, cf: &rocksdb::ColumnFamily, name: &'static str) -> Result<(), VerifyError> {
        let mut it = self.iter(self.cfs.records);
        it.seek_to_first();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let position = parse_u64(k);
            if name == CF_EVENT_IDS && position.is_some_and(|p| p > scan.indexed) {
                break;
            }
            if let (Some(position), Ok(record)) = (position, Record::decode(v)) {
                let key = if name == CF_EVENT_IDS { record.event_id.0.to_vec() } else { stream_index_key(&record.stream, record.version) };
                if self.get(cf, &key)?.as_deref().and_then(parse_u64) != Some(position) {
                    scan.report(position, ProblemKind::IndexDisagrees { index: name, detail: "record has no matching entry".into() });
                }
            }
            it.next();
        }
        it.status().map_err(|e| VerifyError::Storage(e.into_string()))
    }

    /// Every stored head must be the stream's version as of `indexed`.
    fn locate_head_problems(&self, scan: &mut Scan, implied_heads: &HashMap<String, u64>) -> Result<(), VerifyError> {
        let mut it = self.iter(self.cfs.heads);
        it.seek_to_first();
        let mut seen = 0usize;
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let stream = String::from_utf8_lossy(k).to_string();
            let stored = parse_u64(v);
            let implied = implied_heads.get(&stream).copied();
            if stored != implied {
                let position = self.indexed_position(&stream, stored.unwrap_or(0)).unwrap_or(scan.head.position + 1);
                let detail = format!("stream {stream} head says version {stored:?}, records say {implied:?}");
                scan.report(position, ProblemKind::IndexDisagrees { index: CF_STREAM_HEADS, detail });
            }
            seen += 1;
            it.next();
        }
        it.status().map_err(|e| VerifyError::Storage(e.into_string()))?;
        if seen != implied_heads.len() {
            let detail = format!("{seen} stream heads stored, records have {} streams", implied_heads.len());
            scan.report(scan.head.position.max(1), ProblemKind::IndexDisagrees { index: CF_STREAM_HEADS, detail });
        }
        Ok(())
    }

    /// Where the stream index puts `stream` at `version`, if anywhere.
    fn indexed_position(&self, stream: &str, version: u64) -> Option<u64> {
        let stream = crate::types::StreamId::new(stream).ok()?;
        let value = self.get(self.cfs.index, stream_index_key(&stream, version)).ok()??;
        parse_u64(&value)
    }

    /// For a partial range: point-check each record's index entries (event
    /// ids: records through `indexed`).
    fn check_indexes_of_range(&self, from: u64, to: u64, scan: &mut Scan) -> Result<(), VerifyError> {
        let cfs = &self.cfs;
        let mut it = self.iter(cfs.records);
        it.seek(position_key(from));
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let Some(position) = parse_u64(k).filter(|p| *p <= to) else { break };
            if let Ok(record) = Record::decode(v) {
                let mut entries = vec![(cfs.index, CF_STREAM_INDEX, stream_index_key(&record.stream, record.version))];
                if position <= scan.indexed {
                    entries.push((cfs.ids, CF_EVENT_IDS, record.event_id.0.to_vec()));
                }
                for (cf, name, key) in entries {
                    if self.get(cf, &key)?.as_deref().and_then(parse_u64) != Some(position) {
                        scan.report(position, ProblemKind::IndexDisagrees { index: name, detail: "record has no matching entry".into() });
                    }
                }
            }
            it.next();
        }
        it.status().map_err(|e| VerifyError::Storage(e.into_string()))
    }
}
