//! The export file: a range of the log that can be verified anywhere, without
//! the store (`encore audit export` writes it, `audit verify-export` checks it).
//!
//! Format, version 1 (all integers little-endian):
//!
//! ```text
//! [8]  magic "ENCOREXP"
//! u32  format version (1)
//! u64  from: the first position exported
//! u64  to: the last position exported
//! u64  count = to - from + 1
//! [32] prev hash: the chain hash of record from-1 (zeros when from = 1)
//! [32] range head hash: the hash of record `to`
//! u64  the log's head position when exported
//! [32] the log's head hash when exported
//! count times:
//!   u32  length
//!   [..] the record, as `Record::encode` writes it (its own hash included)
//! [32] blake3 of every byte above (transport damage, truncation)
//! ```
//!
//! [`check_export`] decodes every record (which checks its own hash), checks
//! positions are `from..=to` without gaps, recomputes the chain from the prev
//! hash, and checks that it ends at the range head hash. Someone holding the
//! log (or a published head) compares the two header hashes with it.
// A decoder takes bytes from a file of unknown origin: no index may panic.
#![deny(clippy::indexing_slicing)]

use crate::record::Record;
use crate::types::Hash;

const MAGIC: &[u8; 8] = b"ENCOREXP";
/// The export format this build writes and the newest it reads.
pub const EXPORT_FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 8 + 8 + 8 + 32 + 32 + 8 + 32;

/// What an export's header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportHeader {
    pub from: u64,
    pub to: u64,
    pub count: u64,
    pub prev_hash: Hash,
    pub range_hash: Hash,
    pub log_head: u64,
    pub log_head_hash: Hash,
}

/// Why bytes are not an intact export: the first problem found, naming where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    #[error("the file ends inside {what}")]
    Truncated { what: String },
    #[error("not an encore export (bad magic)")]
    BadMagic,
    #[error("export format version {version}; this build reads {EXPORT_FORMAT_VERSION}")]
    UnknownVersion { version: u32 },
    #[error("header range {from}..{to} with {count} records is inconsistent")]
    InconsistentRange { from: u64, to: u64, count: u64 },
    #[error("position {position}: {reason}")]
    BadRecord { position: u64, reason: String },
    #[error("position {position}: the record here says it is position {found}")]
    WrongPosition { position: u64, found: u64 },
    #[error("position {position}: chain broken (does not link to the previous record's hash)")]
    ChainBroken { position: u64 },
    #[error("position {position}: the chain ends at {}, not the range head hash {}", hex(.found), hex(.expected))]
    WrongRangeHead { position: u64, found: Hash, expected: Hash },
    #[error("{extra} bytes after the checksum")]
    TrailingBytes { extra: usize },
    #[error("the file checksum does not match (header damaged?)")]
    BadChecksum,
}

/// Why a range of records cannot be exported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExportWriteError {
    #[error("position {found}: expected position {expected} next")]
    OutOfOrder { expected: u64, found: u64 },
    #[error("position {position}: the log's chain is broken here; run `encore audit verify`")]
    ChainBroken { position: u64 },
    #[error("position {position}: a record of {len} bytes does not fit an export")]
    TooLong { position: u64, len: usize },
    #[error("nothing to export: no record was added")]
    Empty,
}

fn hex(hash: &Hash) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Builds an export file from consecutive records, checking the chain as it goes.
#[derive(Debug)]
pub struct ExportWriter {
    from: u64,
    next: u64,
    prev_hash: Hash,
    running: Hash,
    body: Vec<u8>,
}

impl ExportWriter {
    /// Starts at position `from`; `prev_hash` is record `from - 1`'s hash (zeros for 1).
    pub fn new(from: u64, prev_hash: Hash) -> Self {
        Self { from, next: from, prev_hash, running: prev_hash, body: Vec::new() }
    }

    /// Adds the next record.
    pub fn push(&mut self, record: &Record) -> Result<(), ExportWriteError> {
        if record.position != self.next {
            return Err(ExportWriteError::OutOfOrder { expected: self.next, found: record.position });
        }
        if record.prev_hash != self.running {
            return Err(ExportWriteError::ChainBroken { position: record.position });
        }
        let bytes = record.encode();
        assert_eq!(Record::decode(&bytes).as_ref(), Ok(record), "an encoded record decodes to itself");
        let len = u32::try_from(bytes.len()).map_err(|_| ExportWriteError::TooLong { position: record.position, len: bytes.len() })?;
        self.body.extend_from_slice(&len.to_le_bytes());
        self.body.extend_from_slice(&bytes);
        self.running = record.hash;
        self.next += 1;
        Ok(())
    }

    /// The whole file, stamped with the log's head when exported.
    pub fn finish(self, log_head: u64, log_head_hash: Hash) -> Result<(ExportHeader, Vec<u8>), ExportWriteError> {
        if self.next == self.from {
            return Err(ExportWriteError::Empty);
        }
        let to = self.next - 1;
        let header =
            ExportHeader { from: self.from, to, count: to - self.from + 1, prev_hash: self.prev_hash, range_hash: self.running, log_head, log_head_hash };
        let mut file = encode_header(&header);
        file.extend_from_slice(&self.body);
        let checksum = *blake3::hash(&file).as_bytes();
        file.extend_from_slice(&checksum);
        debug_assert_eq!(check_export(&file, &mut |_| {}).as_ref(), Ok(&header), "a written export checks");
        Ok((header, file))
    }
}

fn encode_header(h: &ExportHeader) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&EXPORT_FORMAT_VERSION.to_le_bytes());
    for n in [h.from, h.to, h.count] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.extend_from_slice(&h.prev_hash);
    out.extend_from_slice(&h.range_hash);
    out.extend_from_slice(&h.log_head.to_le_bytes());
    out.extend_from_slice(&h.log_head_hash);
    debug_assert_eq!(out.len(), HEADER_LEN);
    out
}

/// Bytes read in order, failing with what was being read.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: impl FnOnce() -> String) -> Result<&'a [u8], ExportError> {
        let out = self.at.checked_add(n).and_then(|end| self.bytes.get(self.at..end)).ok_or_else(|| ExportError::Truncated { what: what() })?;
        self.at += n;
        Ok(out)
    }
    fn array<const N: usize>(&mut self, what: impl FnOnce() -> String) -> Result<[u8; N], ExportError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }
    fn u32(&mut self, what: impl FnOnce() -> String) -> Result<u32, ExportError> {
        self.array(what).map(u32::from_le_bytes)
    }
    fn u64(&mut self, what: &str) -> Result<u64, ExportError> {
        self.array(|| what.to_string()).map(u64::from_le_bytes)
    }
    fn hash(&mut self, what: &str) -> Result<Hash, ExportError> {
        self.array(|| what.to_string())
    }
}

fn decode_header(c: &mut Cursor<'_>) -> Result<ExportHeader, ExportError> {
    if c.take(8, || "the magic".into())? != MAGIC {
        return Err(ExportError::BadMagic);
    }
    let version = c.u32(|| "the format version".into())?;
    if version != EXPORT_FORMAT_VERSION {
        return Err(ExportError::UnknownVersion { version });
    }
    let header = ExportHeader {
        from: c.u64("the header")?,
        to: c.u64("the header")?,
        count: c.u64("the header")?,
        prev_hash: c.hash("the header")?,
        range_hash: c.hash("the header")?,
        log_head: c.u64("the header")?,
        log_head_hash: c.hash("the header")?,
    };
    if header.from == 0 || header.to < header.from || header.count != header.to - header.from + 1 {
        return Err(ExportError::InconsistentRange { from: header.from, to: header.to, count: header.count });
    }
    Ok(header)
}

/// Reads only the header (for a progress bar's length, say); nothing past it is checked.
pub fn read_export_header(bytes: &[u8]) -> Result<ExportHeader, ExportError> {
    decode_header(&mut Cursor { bytes, at: 0 })
}

/// Checks a whole export file; `progress` is called with each position checked.
pub fn check_export(bytes: &[u8], progress: &mut dyn FnMut(u64)) -> Result<ExportHeader, ExportError> {
    let mut c = Cursor { bytes, at: 0 };
    let header = decode_header(&mut c)?;
    let mut running = header.prev_hash;
    for position in header.from..=header.to {
        let len = c.u32(|| format!("the length of record {position}"))? as usize;
        let bytes = c.take(len, || format!("record {position}"))?;
        let record = Record::decode(bytes).map_err(|e| ExportError::BadRecord { position, reason: e.to_string() })?;
        if record.position != position {
            return Err(ExportError::WrongPosition { position, found: record.position });
        }
        if record.prev_hash != running {
            return Err(ExportError::ChainBroken { position });
        }
        running = record.hash;
        progress(position);
    }
    if running != header.range_hash {
        return Err(ExportError::WrongRangeHead { position: header.to, found: running, expected: header.range_hash });
    }
    let body_end = c.at;
    let checksum = c.hash("the checksum")?;
    if c.at != bytes.len() {
        return Err(ExportError::TrailingBytes { extra: bytes.len() - c.at });
    }
    let body = bytes.get(..body_end).ok_or(ExportError::BadChecksum)?;
    if blake3::hash(body).as_bytes() != &checksum {
        return Err(ExportError::BadChecksum);
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> ExportHeader {
        ExportHeader { from: 1, to: 1, count: 1, prev_hash: [0; 32], range_hash: [1; 32], log_head: 1, log_head_hash: [1; 32] }
    }

    fn check(bytes: &[u8]) -> Result<ExportHeader, String> {
        check_export(bytes, &mut |_| {}).map_err(|e| e.to_string())
    }

    #[test]
    fn a_header_round_trips() {
        let bytes = encode_header(&header());
        assert_eq!(bytes.len(), HEADER_LEN);
        assert_eq!(decode_header(&mut Cursor { bytes: &bytes, at: 0 }), Ok(header()));
    }

    #[test]
    fn files_that_are_not_exports_are_refused_with_the_reason() {
        assert_eq!(check(b"").unwrap_err(), "the file ends inside the magic");
        assert_eq!(check(b"NOTANEXPORT.....").unwrap_err(), "not an encore export (bad magic)");
        let mut newer = encode_header(&header());
        newer[8..12].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(check(&newer).unwrap_err(), "export format version 2; this build reads 1");
        let truncated = encode_header(&header());
        assert_eq!(check(&truncated).unwrap_err(), "the file ends inside the length of record 1");
        let mut inconsistent = encode_header(&header());
        inconsistent[28..36].copy_from_slice(&5u64.to_le_bytes());
        assert!(check(&inconsistent).unwrap_err().contains("inconsistent"));
    }

    fn chain(n: u64) -> Vec<Record> {
        let mut prev = [0; 32];
        (1..=n)
            .map(|position| {
                let mut r = Record {
                    position,
                    stream: crate::StreamId::new("card-1").unwrap(),
                    version: position,
                    event_id: crate::EventId::from_u128(position.into()),
                    event_type: "Charged".into(),
                    recorded_at: 1_700_000_000_000_000,
                    correlation_id: crate::EventId::from_u128(1),
                    causation_id: crate::EventId::from_u128(2),
                    payload: vec![position as u8; 3],
                    prev_hash: prev,
                    hash: [0; 32],
                };
                r.seal();
                prev = r.hash;
                r
            })
            .collect()
    }

    #[test]
    fn a_written_export_checks_and_every_damage_is_found() {
        let records = chain(3);
        let mut w = ExportWriter::new(2, records[0].hash);
        w.push(&records[1]).unwrap();
        w.push(&records[2]).unwrap();
        let (header, file) = w.finish(9, [7; 32]).unwrap();
        assert_eq!((header.from, header.to, header.count, header.log_head), (2, 3, 2, 9));
        let mut seen = Vec::new();
        assert_eq!(check_export(&file, &mut |p| seen.push(p)), Ok(header));
        assert_eq!(seen, [2, 3]);
        for at in 0..file.len() {
            let mut damaged = file.clone();
            damaged[at] ^= 0x20;
            assert!(check_export(&damaged, &mut |_| {}).is_err(), "a flipped byte at {at} is found");
        }
        for len in 0..file.len() {
            assert!(check_export(&file[..len], &mut |_| {}).is_err(), "a cut at {len} is found");
        }
    }

    #[test]
    fn a_writer_refuses_gaps_and_broken_chains() {
        let records = chain(3);
        let mut w = ExportWriter::new(1, [0; 32]);
        assert_eq!(w.push(&records[1]), Err(ExportWriteError::OutOfOrder { expected: 1, found: 2 }));
        let mut w = ExportWriter::new(2, [5; 32]);
        assert_eq!(w.push(&records[1]), Err(ExportWriteError::ChainBroken { position: 2 }));
    }

    #[test]
    fn nothing_is_an_empty_export() {
        assert_eq!(ExportWriter::new(1, [0; 32]).finish(0, [0; 32]).unwrap_err(), ExportWriteError::Empty);
    }
}
