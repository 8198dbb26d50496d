//! The `Projection` trait and `Projected<P>`: a projection plus the position
//! it has reached, the chain hash of that record and the count of skipped
//! (non-domain) records, with one canonical encoding for all of it.

use encore_domain::{codec::DecodeError, Event, EventCodec};
use encore_ledger::{Hash, Record, RecordRef};
use minicbor::{Decode, Encode};

use crate::error::{FoldError, StateDecodeError};

/// The format of [`Projected::encode`]; bumped when the envelope or a
/// projection's state encoding changes (3: varint-delta usage entries).
pub const PROJECTED_FORMAT_VERSION: u32 = 3;

/// Where and when an event sits in the log.
#[derive(Debug, Clone, Copy)]
pub struct EventContext<'a> {
    pub position: u64,
    pub recorded_at: i64,
    pub stream: &'a str,
}

/// A read model folded from domain events in log order.
///
/// `apply` must be a pure function of the state, the context and the event
/// (no clock, no randomness, no iteration over hash maps): replaying the same
/// log must give byte-identical `encode` output.
pub trait Projection: Default + Clone + Send + 'static {
    /// A stable name: the aux key and the snapshot subject.
    const NAME: &'static str;
    /// Whether `apply` can change the state on an event of this type.
    /// Records of other domain types are not decoded at all (for the three
    /// projections, half the log: card insertions, licenses written to
    /// cards, decrements, favorites). Must hold for every type `apply`
    /// reacts to (each projection's test checks it on a sample of every type).
    fn folds(event_type: &str) -> bool;
    fn apply(&mut self, at: &EventContext<'_>, event: &Event);
    /// The canonical encoding: equal states give equal bytes.
    fn encode(&self) -> Vec<u8>;
    fn decode(bytes: &[u8]) -> Result<Self, StateDecodeError>;
    /// Whether `encode` gives exactly `bytes` (override to compare without
    /// building the encoding, as [`encodes_to`] does).
    fn encodes_to(&self, bytes: &[u8]) -> bool {
        self.encode() == bytes
    }
}

/// What a record is to a projection `P`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A domain event of a type `P` folds, decoded.
    Event(Event),
    /// A domain event of a type `P` never folds: its payload is not decoded.
    Ignored,
    /// Not a domain event (other logs may share the store): counted in
    /// [`Projected::skipped`].
    Foreign,
}

/// Decodes a record for `P`. A domain event `P` folds whose payload does not
/// decode is an error, never skipped; the payloads of types `P` does not
/// fold are not read.
pub fn decode_event<P: Projection>(record: &RecordRef<'_>) -> Result<Decoded, FoldError> {
    if !P::folds(record.event_type) {
        return Ok(if Event::is_type_name(record.event_type) { Decoded::Ignored } else { Decoded::Foreign });
    }
    match Event::decode_payload(record.event_type, record.payload) {
        Ok(event) => Ok(Decoded::Event(event)),
        Err(DecodeError::UnknownType { .. }) => Ok(Decoded::Foreign),
        Err(e) => Err(FoldError::Malformed { position: record.position, event_type: record.event_type.to_string(), reason: e.to_string() }),
    }
}

/// Whether the canonical CBOR of `value` is exactly `expected`, compared as it
/// is written: no buffer the size of the state.
pub fn encodes_to<T: Encode<()>>(value: &T, expected: &[u8]) -> bool {
    let mut compare = Compare { expected, at: 0 };
    minicbor::encode(value, &mut compare).is_ok() && compare.at == expected.len()
}

/// A CBOR sink that checks each written piece against the expected bytes and
/// fails at the first difference.
struct Compare<'a> {
    expected: &'a [u8],
    at: usize,
}

#[derive(Debug)]
struct Differs;

impl minicbor::encode::Write for Compare<'_> {
    type Error = Differs;

    fn write_all(&mut self, buf: &[u8]) -> Result<(), Differs> {
        let end = self.at.checked_add(buf.len()).ok_or(Differs)?;
        if self.expected.get(self.at..end) != Some(buf) {
            return Err(Differs);
        }
        self.at = end;
        Ok(())
    }
}

/// Canonical CBOR of a derived value (writing into a `Vec` cannot fail).
pub fn encode_state<T: Encode<()>>(value: &T) -> Vec<u8> {
    encore_domain::codec::to_cbor(value)
}

/// Decodes CBOR written by [`encode_state`], naming the projection on failure.
pub fn decode_state<T: for<'b> Decode<'b, ()>>(name: &'static str, bytes: &[u8]) -> Result<T, StateDecodeError> {
    minicbor::decode(bytes).map_err(|e| StateDecodeError::Cbor { name, reason: e.to_string() })
}

/// A projection and how far into the log it has read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Projected<P> {
    /// The position of the last record folded (0 = none).
    pub position: u64,
    /// That record's hash (the chain head the state corresponds to).
    pub last_hash: Hash,
    /// Records whose type is not a domain event (other logs share the store).
    pub skipped: u64,
    pub state: P,
}

/// The stored form; `state` is borrowed both ways (encoded from the
/// projection's bytes, decoded in place from the stored ones).
#[derive(Encode, Decode)]
struct Envelope<'a> {
    #[n(0)]
    format: u32,
    #[n(1)]
    position: u64,
    #[cbor(n(2), with = "minicbor::bytes")]
    last_hash: Hash,
    #[n(3)]
    skipped: u64,
    #[cbor(b(4), with = "minicbor::bytes")]
    state: &'a [u8],
}

impl<P: Projection> Projected<P> {
    pub fn new() -> Self {
        Projected { position: 0, last_hash: [0; 32], skipped: 0, state: P::default() }
    }

    /// Folds the next record of the global log. Records must come gapless and
    /// chained; a record that is not a domain event is counted and skipped;
    /// a domain event `P` folds whose payload does not decode is an error
    /// (never skipped).
    pub fn apply_record(&mut self, record: &Record) -> Result<(), FoldError> {
        let record = record.as_ref();
        let decoded = decode_event::<P>(&record)?;
        self.apply_decoded(&record, &decoded)
    }

    /// [`Projected::apply_record`] with the payload already decoded by
    /// [`decode_event`] (possibly on another thread): the order checks and
    /// the fold.
    pub fn apply_decoded(&mut self, record: &RecordRef<'_>, decoded: &Decoded) -> Result<(), FoldError> {
        if record.position != self.position + 1 {
            return Err(FoldError::Gap { expected: self.position + 1, found: record.position });
        }
        if record.prev_hash != self.last_hash {
            return Err(FoldError::ChainBroken { position: record.position });
        }
        match decoded {
            Decoded::Event(event) => {
                let at = EventContext { position: record.position, recorded_at: record.recorded_at, stream: record.stream };
                self.state.apply(&at, event);
            }
            Decoded::Ignored => {}
            Decoded::Foreign => self.skipped += 1,
        }
        self.position = record.position;
        self.last_hash = record.hash;
        Ok(())
    }

    /// The canonical bytes of position, chain hash, skipped count and state.
    pub fn encode(&self) -> Vec<u8> {
        encode_state(&self.envelope(&self.state.encode()))
    }

    fn envelope<'a>(&self, state: &'a [u8]) -> Envelope<'a> {
        Envelope { format: PROJECTED_FORMAT_VERSION, position: self.position, last_hash: self.last_hash, skipped: self.skipped, state }
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, StateDecodeError> {
        let envelope: Envelope = minicbor::decode(bytes).map_err(|e| StateDecodeError::Cbor { name: P::NAME, reason: e.to_string() })?;
        if envelope.format != PROJECTED_FORMAT_VERSION {
            return Err(StateDecodeError::UnsupportedFormat { found: envelope.format, supported: PROJECTED_FORMAT_VERSION });
        }
        let state = P::decode(envelope.state)?;
        let decoded = Projected { position: envelope.position, last_hash: envelope.last_hash, skipped: envelope.skipped, state };
        // Paired check: only canonical bytes are accepted, so equal states
        // always have equal bytes, stored or recomputed. Compared as they
        // are encoded, without building a second copy.
        let canonical = encodes_to(&decoded.envelope(envelope.state), bytes) && decoded.state.encodes_to(envelope.state);
        if !canonical {
            return Err(StateDecodeError::NotCanonical { name: P::NAME });
        }
        Ok(decoded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_to_accepts_exactly_the_canonical_bytes() {
        let value = (7u64, "content-1".to_string(), vec![1u32, 2, 3]);
        let bytes = encode_state(&value);
        assert!(encodes_to(&value, &bytes));
        assert!(!encodes_to(&value, &bytes[..bytes.len() - 1]), "a prefix");
        assert!(!encodes_to(&value, &[bytes.as_slice(), &[0]].concat()), "trailing bytes");
        let mut changed = bytes.clone();
        changed[3] ^= 1;
        assert!(!encodes_to(&value, &changed), "a changed byte");
        assert!(!encodes_to(&value, &[]));
    }
}
