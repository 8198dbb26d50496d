//! The on-disk record: its versioned binary format and its hash chain.
//!
//! ```text
//! u8   format version (1)
//! u64  global position            (all integers little-endian)
//! u16  stream id length, bytes
//! u64  stream version (1-based)
//! [16] event id
//! u8   event type length, bytes
//! i64  recorded-at (µs since the Unix epoch)
//! [16] correlation id
//! [16] causation id
//! u32  payload length, bytes
//! [32] previous record's hash
//! [32] hash = blake3(every byte above)
//! ```
//!
//! The hash covers the position and the previous hash, so changing, removing
//! or reordering any record breaks the chain at that record.
// A decoder takes bytes from disk or the network: no index may panic.
#![deny(clippy::indexing_slicing)]

use crate::error::ReadError;
use crate::limits::MAX_PAYLOAD_BYTES;
use crate::types::{validate_event_type, EventId, Hash, StreamId};

/// The record format this build writes and the newest it reads.
pub const RECORD_FORMAT_VERSION: u8 = 1;

const FIXED_LEN: usize = 1 + 8 + 2 + 8 + 16 + 1 + 8 + 16 + 16 + 4 + 32 + 32;

/// One event as stored in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub position: u64,
    pub stream: StreamId,
    pub version: u64,
    pub event_id: EventId,
    pub event_type: String,
    pub recorded_at: i64,
    pub correlation_id: EventId,
    pub causation_id: EventId,
    pub payload: Vec<u8>,
    pub prev_hash: Hash,
    pub hash: Hash,
}

/// A record read in place: the same fields as [`Record`], borrowed from the
/// stored bytes (no allocation per record on long scans). Every one the ledger
/// hands out had its own hash checked ([`RecordRef::decode`], [`RecordBatch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub position: u64,
    pub stream: &'a str,
    pub version: u64,
    pub event_id: EventId,
    pub event_type: &'a str,
    pub recorded_at: i64,
    pub correlation_id: EventId,
    pub causation_id: EventId,
    pub payload: &'a [u8],
    pub prev_hash: Hash,
    pub hash: Hash,
}

impl<'a> RecordRef<'a> {
    /// Decodes stored bytes in place and checks the record's own hash.
    pub fn decode(bytes: &'a [u8]) -> Result<RecordRef<'a>, DecodeError> {
        let (record, body_end) = Self::parse(bytes)?;
        let body = bytes.get(..body_end).ok_or(DecodeError::BadLength(bytes.len()))?;
        if *blake3::hash(body).as_bytes() != record.hash {
            return Err(DecodeError::HashMismatch);
        }
        Ok(record)
    }

    /// Decodes stored bytes in place, checking everything [`RecordRef::decode`]
    /// checks but the record's own hash: for reads that serve a request, whose
    /// bytes RocksDB's checksums already guard (see `log/read.rs`).
    pub(crate) fn decode_unhashed(bytes: &'a [u8]) -> Result<RecordRef<'a>, DecodeError> {
        Self::parse(bytes).map(|(record, _)| record)
    }

    /// The fields, and where the hashed part ends; the hash is not checked.
    fn parse(bytes: &'a [u8]) -> Result<(RecordRef<'a>, usize), DecodeError> {
        let version = match bytes.first() {
            Some(&v) if bytes.len() >= FIXED_LEN => v,
            _ => return Err(DecodeError::TooShort(bytes.len())),
        };
        match version {
            RECORD_FORMAT_VERSION => {}
            v if v > RECORD_FORMAT_VERSION => return Err(DecodeError::NewerFormat { found: v, supported: RECORD_FORMAT_VERSION }),
            v => return Err(DecodeError::UnknownFormat(v)),
        }
        let mut r = Reader { bytes, at: 1 };
        let position = r.u64()?;
        let stream_len = usize::from(r.u16()?);
        let stream = r.str(stream_len, "stream id")?;
        // Paired with the checks at the API edge: a stored record holds only
        // what an append could have written (found by fuzzing: the borrowed
        // decoder used to accept a stream id the owned one refused).
        StreamId::check(stream).map_err(|_| DecodeError::BadField("stream id"))?;
        let version = r.u64()?;
        let event_id = EventId(r.array()?);
        let type_len = usize::from(r.u8()?);
        let event_type = r.str(type_len, "event type")?;
        if !validate_event_type(event_type) {
            return Err(DecodeError::BadField("event type"));
        }
        let recorded_at = r.u64()? as i64;
        let correlation_id = EventId(r.array()?);
        let causation_id = EventId(r.array()?);
        let payload_len = r.u32()? as usize;
        if payload_len > MAX_PAYLOAD_BYTES {
            return Err(DecodeError::BadField("payload length"));
        }
        let payload = r.take(payload_len)?;
        let prev_hash: Hash = r.array()?;
        let body_end = r.at;
        let hash: Hash = r.array()?;
        if r.at != bytes.len() {
            return Err(DecodeError::BadLength(bytes.len()));
        }
        let record = RecordRef { position, stream, version, event_id, event_type, recorded_at, correlation_id, causation_id, payload, prev_hash, hash };
        Ok((record, body_end))
    }

    /// Appends this record's encoding to `out`, with its hash computed over
    /// the body (the `hash` field is set to it): the writer encodes every
    /// record of a group into one buffer, straight from the caller's event.
    pub(crate) fn seal_into(&mut self, out: &mut Vec<u8>) {
        let start = out.len();
        self.encode_body(out);
        self.hash = *blake3::hash(out.get(start..).unwrap_or_default()).as_bytes();
        out.extend_from_slice(&self.hash);
        debug_assert_eq!(out.len() - start, self.encoded_len());
    }

    pub fn encoded_len(&self) -> usize {
        FIXED_LEN + self.stream.len() + self.event_type.len() + self.payload.len()
    }

    fn encode_body(&self, buf: &mut Vec<u8>) {
        let stream = self.stream.as_bytes();
        // Lengths were validated at the API edge; these are invariants here.
        assert!(stream.len() <= usize::from(u16::MAX), "stream id length checked at the edge");
        assert!(self.event_type.len() <= usize::from(u8::MAX), "event type length checked at the edge");
        assert!(u32::try_from(self.payload.len()).is_ok(), "payload length checked at the edge");
        buf.reserve(self.encoded_len());
        buf.push(RECORD_FORMAT_VERSION);
        buf.extend_from_slice(&self.position.to_le_bytes());
        buf.extend_from_slice(&(stream.len() as u16).to_le_bytes());
        buf.extend_from_slice(stream);
        buf.extend_from_slice(&self.version.to_le_bytes());
        buf.extend_from_slice(&self.event_id.0);
        buf.push(self.event_type.len() as u8);
        buf.extend_from_slice(self.event_type.as_bytes());
        buf.extend_from_slice(&self.recorded_at.to_le_bytes());
        buf.extend_from_slice(&self.correlation_id.0);
        buf.extend_from_slice(&self.causation_id.0);
        buf.extend_from_slice(&(self.payload.len() as u32).to_le_bytes());
        buf.extend_from_slice(self.payload);
        buf.extend_from_slice(&self.prev_hash);
    }

    /// Whether this record carries the same event as far as idempotent
    /// retries are concerned: same stream, type, ids and payload. The time
    /// may differ (a retry reads the clock again).
    pub(crate) fn same_event(&self, stream: &StreamId, e: &crate::types::NewEvent) -> bool {
        self.stream == stream.as_str()
            && self.event_type == e.event_type
            && self.correlation_id == e.correlation_id
            && self.causation_id == e.causation_id
            && self.payload == e.payload.as_slice()
    }

    /// An owned copy under `stream`, which must be this record's (a decoded
    /// record's stream id was checked by the decoder).
    pub(crate) fn into_record(self, stream: StreamId) -> Record {
        assert_eq!(stream.as_str(), self.stream, "a record is owned under its own stream");
        Record {
            position: self.position,
            stream,
            version: self.version,
            event_id: self.event_id,
            event_type: self.event_type.to_string(),
            recorded_at: self.recorded_at,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            payload: self.payload.to_vec(),
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }

    /// An owned copy; fails if the stream id is not one the log accepts.
    pub fn to_owned(&self) -> Result<Record, DecodeError> {
        let stream = StreamId::new(self.stream).map_err(|_| DecodeError::BadField("stream id"))?;
        Ok(self.into_record(stream))
    }
}

/// Consecutive records, every one decoded and hash-checked once when the
/// batch was filled ([`crate::Ledger::scan_batches`]): the fixed fields are
/// kept parsed, the stream ids and event types in one checked `String`, the
/// payloads in one buffer. A long scan costs a few allocations per batch
/// instead of three per record, reading a batch never parses or validates
/// again, and a batch can be handed to another thread to be folded.
#[derive(Debug, Default)]
pub struct RecordBatch {
    records: Vec<Fixed>,
    /// Stream ids and event types, back to back (UTF-8 checked once, on push).
    text: String,
    payloads: Vec<u8>,
}

/// A record's fields without their borrowed parts, which are ranges into
/// the batch's `text` and `payloads`.
#[derive(Debug, Clone, Copy)]
struct Fixed {
    position: u64,
    version: u64,
    event_id: EventId,
    recorded_at: i64,
    correlation_id: EventId,
    causation_id: EventId,
    prev_hash: Hash,
    hash: Hash,
    /// `text[text_start..stream_end]` is the stream id, `text[stream_end..type_end]` the event type.
    text_start: usize,
    stream_end: usize,
    type_end: usize,
    payload_start: usize,
    payload_end: usize,
}

impl RecordBatch {
    pub(crate) fn with_capacity(records: usize) -> Self {
        RecordBatch { records: Vec::with_capacity(records), text: String::with_capacity(records * 32), payloads: Vec::with_capacity(records * 256) }
    }

    /// Decodes and checks the record stored at `position`, and keeps its
    /// fields: it must decode, check out and claim that position. Nothing is
    /// kept otherwise.
    pub(crate) fn push_at(&mut self, position: u64, bytes: &[u8]) -> Result<RecordRef<'_>, ReadError> {
        let record = RecordRef::decode(bytes).map_err(|e| ReadError::Damaged { position, reason: e.to_string() })?;
        if record.position != position {
            return Err(ReadError::Damaged { position, reason: format!("record claims position {}", record.position) });
        }
        Ok(self.keep(record))
    }

    fn keep(&mut self, record: RecordRef<'_>) -> RecordRef<'_> {
        let text_start = self.text.len();
        self.text.push_str(record.stream);
        let stream_end = self.text.len();
        self.text.push_str(record.event_type);
        let payload_start = self.payloads.len();
        self.payloads.extend_from_slice(record.payload);
        let fixed = Fixed {
            position: record.position,
            version: record.version,
            event_id: record.event_id,
            recorded_at: record.recorded_at,
            correlation_id: record.correlation_id,
            causation_id: record.causation_id,
            prev_hash: record.prev_hash,
            hash: record.hash,
            text_start,
            stream_end,
            type_end: self.text.len(),
            payload_start,
            payload_end: self.payloads.len(),
        };
        self.records.push(fixed);
        let kept = self.get(&fixed);
        debug_assert!(kept == record, "a record reads back from its batch as it was pushed");
        kept
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records, in log order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = RecordRef<'_>> + '_ {
        self.records.iter().map(|fixed| self.get(fixed))
    }

    // The offsets were computed by `push_at` from records it decoded and checked.
    #[allow(clippy::indexing_slicing)]
    fn get(&self, f: &Fixed) -> RecordRef<'_> {
        RecordRef {
            position: f.position,
            stream: &self.text[f.text_start..f.stream_end],
            version: f.version,
            event_id: f.event_id,
            event_type: &self.text[f.stream_end..f.type_end],
            recorded_at: f.recorded_at,
            correlation_id: f.correlation_id,
            causation_id: f.causation_id,
            payload: &self.payloads[f.payload_start..f.payload_end],
            prev_hash: f.prev_hash,
            hash: f.hash,
        }
    }
}

/// Consecutive stored records read but not yet decoded or hash-checked:
/// nothing can be read from it until [`UncheckedBatch::check`] turns it into
/// a [`RecordBatch`]. A long replay reads on one thread and lets whichever
/// thread has time do the checking ([`crate::Ledger::scan_batches`]).
#[derive(Debug, Default)]
pub struct UncheckedBatch {
    /// The position of the first record; the others follow without a gap.
    first: u64,
    /// The stored bytes of every record, back to back.
    bytes: Vec<u8>,
    /// Where each record's bytes end in `bytes`.
    ends: Vec<usize>,
}

impl UncheckedBatch {
    pub(crate) fn with_capacity(first: u64, records: usize) -> Self {
        UncheckedBatch { first, bytes: Vec::with_capacity(records * 256), ends: Vec::with_capacity(records) }
    }

    /// Keeps the stored bytes of the record at the next position.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
        self.ends.push(self.bytes.len());
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Decodes every record and checks its hash and its position, as a
    /// checked read does; the first bad record fails the whole batch.
    pub fn check(&self) -> Result<RecordBatch, ReadError> {
        let mut batch = RecordBatch::with_capacity(self.len());
        let mut start = 0;
        for (position, &end) in (self.first..).zip(&self.ends) {
            let bytes =
                self.bytes.get(start..end).ok_or_else(|| ReadError::Damaged { position, reason: format!("batch offsets {start}..{end} outside its bytes") })?;
            batch.push_at(position, bytes)?;
            start = end;
        }
        debug_assert_eq!(batch.len(), self.len());
        Ok(batch)
    }
}

/// Why stored bytes are not a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record is {0} bytes, shorter than any record")]
    TooShort(usize),
    #[error("record format version {found} is newer than this build reads ({supported})")]
    NewerFormat { found: u8, supported: u8 },
    #[error("record format version {0} is unknown")]
    UnknownFormat(u8),
    #[error("record length fields disagree with its size ({0} bytes)")]
    BadLength(usize),
    #[error("record field {0} is not valid")]
    BadField(&'static str),
    #[error("record hash does not match its contents")]
    HashMismatch,
}

impl Record {
    /// The hash a record with these fields has (over everything but the hash).
    pub fn compute_hash(&self) -> Hash {
        let mut buf = Vec::with_capacity(self.encoded_len());
        self.encode_body(&mut buf);
        *blake3::hash(&buf).as_bytes()
    }

    /// Encodes the record; `self.hash` is written as is (see [`Record::seal`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.encoded_len());
        self.encode_body(&mut buf);
        buf.extend_from_slice(&self.hash);
        debug_assert_eq!(buf.len(), self.encoded_len());
        buf
    }

    /// Computes the hash over the fields and encodes in one pass.
    pub fn seal(&mut self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.encoded_len());
        self.encode_body(&mut buf);
        self.hash = *blake3::hash(&buf).as_bytes();
        buf.extend_from_slice(&self.hash);
        buf
    }

    pub fn encoded_len(&self) -> usize {
        self.as_ref().encoded_len()
    }

    fn encode_body(&self, buf: &mut Vec<u8>) {
        self.as_ref().encode_body(buf)
    }

    /// Decodes stored bytes and checks the record's own hash.
    pub fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
        RecordRef::decode(bytes)?.to_owned()
    }

    /// A borrowed view of this record.
    pub fn as_ref(&self) -> RecordRef<'_> {
        RecordRef {
            position: self.position,
            stream: self.stream.as_str(),
            version: self.version,
            event_id: self.event_id,
            event_type: &self.event_type,
            recorded_at: self.recorded_at,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            payload: &self.payload,
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or(DecodeError::BadLength(self.bytes.len()))?;
        let out = self.bytes.get(self.at..end).ok_or(DecodeError::BadLength(self.bytes.len()))?;
        self.at = end;
        Ok(out)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn str(&mut self, n: usize, field: &'static str) -> Result<&'a str, DecodeError> {
        let raw = self.take(n)?;
        std::str::from_utf8(raw).map_err(|_| DecodeError::BadField(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(payload: Vec<u8>) -> Record {
        Record {
            position: 7,
            stream: StreamId::new("card-1").unwrap(),
            version: 3,
            event_id: EventId::from_u128(42),
            event_type: "Charged".into(),
            recorded_at: 1_700_000_000_000_000,
            correlation_id: EventId::from_u128(1),
            causation_id: EventId::from_u128(2),
            payload,
            prev_hash: [9; 32],
            hash: [0; 32],
        }
    }

    /// A record with a valid hash but a field no append could have written
    /// is refused by both decoders (the fuzzer found the borrowed one
    /// accepting a stream id with a control character).
    #[test]
    fn hash_valid_records_with_fields_no_append_writes_are_refused() {
        let owned = sample(b"p".to_vec());
        let big = vec![0; MAX_PAYLOAD_BYTES + 1];
        for (stream, event_type, payload, field) in [
            ("card\n1", "Charged", &b"p"[..], "stream id"),
            ("", "Charged", &b"p"[..], "stream id"),
            ("card-1", "", &b"p"[..], "event type"),
            ("card-1", "Char ged", &b"p"[..], "event type"),
            ("card-1", "Charged", &big[..], "payload length"),
        ] {
            let mut r = RecordRef { stream, event_type, payload, ..owned.as_ref() };
            let mut bytes = Vec::new();
            r.seal_into(&mut bytes);
            assert_eq!(RecordRef::decode(&bytes), Err(DecodeError::BadField(field)), "{stream:?} {event_type:?}");
            assert_eq!(Record::decode(&bytes), Err(DecodeError::BadField(field)));
        }
    }

    #[test]
    fn seal_then_decode_round_trips() {
        let mut r = sample(b"hello".to_vec());
        let bytes = r.seal();
        assert_eq!(Record::decode(&bytes), Ok(r.clone()));
        assert_eq!(r.compute_hash(), r.hash);
        assert_eq!(r.encode(), bytes);
    }

    /// The writer's encoding (borrowed, into a shared buffer) is the
    /// owned record's, byte for byte, hash included.
    #[test]
    fn sealing_a_borrowed_record_into_a_buffer_equals_sealing_the_record() {
        let mut owned = sample(b"payload".to_vec());
        let expected = owned.seal();
        let source = sample(b"payload".to_vec());
        let mut view = source.as_ref();
        view.hash = [0xEE; 32];
        let mut buffer = vec![1, 2, 3];
        view.seal_into(&mut buffer);
        assert_eq!(buffer[..3], [1, 2, 3], "what the buffer held is kept");
        assert_eq!(buffer[3..], expected[..]);
        assert_eq!(view.hash, owned.hash);
        assert_eq!(RecordRef::decode(&buffer[3..]), Ok(view));
    }

    #[test]
    fn every_single_byte_change_is_detected() {
        let mut r = sample(vec![1, 2, 3, 4]);
        let bytes = r.seal();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert!(Record::decode(&bad).is_err(), "flip at byte {i} went unnoticed");
        }
    }

    #[test]
    fn newer_format_is_named() {
        let mut bytes = sample(vec![]).seal();
        bytes[0] = 2;
        assert_eq!(Record::decode(&bytes), Err(DecodeError::NewerFormat { found: 2, supported: 1 }));
        assert_eq!(Record::decode(&bytes[..10]), Err(DecodeError::TooShort(10)));
    }

    proptest! {
        #[test]
        fn any_record_round_trips(payload in proptest::collection::vec(any::<u8>(), 0..512), pos in any::<u64>(), at in any::<i64>()) {
            let mut r = sample(payload);
            r.position = pos;
            r.recorded_at = at;
            let bytes = r.seal();
            prop_assert_eq!(Record::decode(&bytes), Ok(r));
        }

        /// A batch hands back every record exactly as decoding its bytes
        /// does, and refuses a damaged one without keeping any of it.
        #[test]
        fn a_batch_reads_back_what_was_pushed(records in proptest::collection::vec(("[a-z0-9-]{1,40}", "[A-Za-z]{1,30}", proptest::collection::vec(any::<u8>(), 0..300)), 1..20), flip in any::<prop::sample::Index>()) {
            let mut batch = RecordBatch::with_capacity(2);
            let mut stored = Vec::new();
            for (i, (stream, event_type, payload)) in records.into_iter().enumerate() {
                let mut r = sample(payload);
                r.position = i as u64 + 1;
                r.stream = StreamId::new(stream).unwrap();
                r.event_type = event_type;
                let bytes = r.seal();
                prop_assert_eq!(batch.push_at(r.position, &bytes).map(|kept| kept.to_owned()), Ok(Ok(r)));
                stored.push(bytes);
            }
            prop_assert_eq!(batch.len(), stored.len());
            for (kept, bytes) in batch.iter().zip(&stored) {
                prop_assert_eq!(kept, RecordRef::decode(bytes).unwrap());
            }
            let mut bad = stored[0].clone();
            let at = flip.index(bad.len());
            bad[at] ^= 0x40;
            prop_assert!(batch.push_at(1, &bad).is_err());
            prop_assert!(batch.push_at(2, &stored[0]).is_err(), "a record at another position than it claims");
            prop_assert_eq!(batch.len(), stored.len());
        }
    }
}
