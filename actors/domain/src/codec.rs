//! Event payload encoding: every event is stored as (type name, CBOR bytes).
//!
//! CBOR is produced by `minicbor` with explicit field indices, so the encoding
//! is canonical (the same value always gives the same bytes) and fields can be
//! added without breaking old records.

/// An event type that can be written to and read back from the log.
pub trait EventCodec: Sized {
    /// The event type name stored in the record (`Charged`, `LicenseIssued`, ...).
    fn event_type(&self) -> &'static str;
    /// The canonical CBOR payload.
    fn encode_payload(&self) -> Vec<u8>;
    /// Decodes a payload of the given type name.
    fn decode_payload(event_type: &str, payload: &[u8]) -> Result<Self, DecodeError>;
}

/// Why a stored payload could not be turned back into an event.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("unknown event type {event_type:?}")]
    UnknownType { event_type: String },
    #[error("payload of {event_type} is not valid CBOR for that type: {reason}")]
    Malformed { event_type: String, reason: String },
}

/// Encodes any minicbor value; encoding into a `Vec` cannot fail.
pub fn to_cbor<T: minicbor::Encode<()>>(value: &T) -> Vec<u8> {
    match minicbor::to_vec(value) {
        Ok(bytes) => bytes,
        // Derived encoders writing into a Vec<u8> have no failure path: an
        // error here is a programming bug, and panics are fatal by design.
        Err(e) => panic!("encoding a derived CBOR value into a Vec failed: {e}"),
    }
}

/// Decodes a minicbor value, naming the event type on failure.
pub fn from_cbor<'b, T: minicbor::Decode<'b, ()>>(event_type: &str, payload: &'b [u8]) -> Result<T, DecodeError> {
    minicbor::decode(payload).map_err(|e| DecodeError::Malformed { event_type: event_type.to_string(), reason: e.to_string() })
}
