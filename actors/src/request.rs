//! Requests from outside the process (the HTTP API): an idempotency key that
//! is recorded in the log together with the command it ran, and an optional
//! precondition on the version of the command's own stream (`If-Match`).
//!
//! A caller runs one runtime call inside [`scoped`]. The command that call
//! executes then
//! - derives its event ids from the request's key (so they are the same on
//!   every retry of that request),
//! - appends, in the same atomic append as its events, a receipt: a record of
//!   type [`RECEIPT_TYPE`] on the request's own stream (`request-…`, expected
//!   to be empty) holding the digest of the request and the (stream, version)
//!   of every event the command appended,
//! - and fails with [`RuntimeError::PreconditionFailed`] if its own stream is
//!   not at the version the request names.
//!
//! A retry finds the receipt first ([`find_receipt`]) and is answered from
//! the events it names: nothing runs twice. Two copies of one request racing
//! each other both decide, but only one receipt can be appended (the stream
//! must be empty): the loser gets [`RuntimeError::AlreadyAnswered`] and reads
//! the winner's receipt. A command that decides to write nothing leaves no
//! receipt; its retry decides again and again writes nothing.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;

use encore_ledger::{Direction, EventId, ExpectedVersion, Ledger, NewEvent, ReadError, Record, StreamAppend, StreamId};

use crate::error::RuntimeError;

/// The record type of a request receipt (not a domain event: projections skip it).
pub const RECEIPT_TYPE: &str = "RequestReceipt";
const RECEIPT_STREAM_CONTEXT: &str = "encore-actors request receipt stream v1";
const RECEIPT_FORMAT: u8 = 1;

/// One request's identity and precondition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestScope {
    /// The stream the receipt goes to: `request-` and 32 hex digits derived
    /// from who sent the request and its idempotency key.
    pub receipt_stream: String,
    /// A digest of what was asked (route and body): a retry must match it.
    pub digest: [u8; 32],
    /// The version the command's own stream must be at, if the caller names one.
    pub if_match: Option<u64>,
}

impl RequestScope {
    /// The scope of a request sent by `principal` with idempotency `key`.
    pub fn new(principal: &str, key: &str, digest: [u8; 32], if_match: Option<u64>) -> RequestScope {
        let mut hasher = blake3::Hasher::new_derive_key(RECEIPT_STREAM_CONTEXT);
        hasher.update(&(principal.len() as u64).to_be_bytes());
        hasher.update(principal.as_bytes());
        hasher.update(key.as_bytes());
        let mut first = [0u8; 16];
        first.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
        // The first 16 bytes in hex, in their order: one formatting, not one a byte.
        RequestScope { receipt_stream: format!("request-{:032x}", u128::from_be_bytes(first)), digest, if_match }
    }
}

/// What a receipt records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub digest: [u8; 32],
    /// The (stream, version) of every event the request's command appended, in order.
    pub events: Vec<(String, u64)>,
    /// Where the receipt itself is in the log.
    pub position: u64,
}

tokio::task_local! {
    static SCOPE: Cell<Option<Arc<RequestScope>>>;
}

/// Runs `call` (one runtime call that executes one command) as the request
/// `scope`. A second command inside the same call is refused with
/// [`RuntimeError::ScopeUsedTwice`]: a receipt covers exactly one append.
pub async fn scoped<F: Future>(scope: RequestScope, call: F) -> F::Output {
    SCOPE.scope(Cell::new(Some(Arc::new(scope))), call).await
}

/// What the current task's scope holds for the next command: `Ok(None)`
/// outside any scope; the scope once; an error on a second take.
pub(crate) fn take_scope() -> Result<Option<Arc<RequestScope>>, RuntimeError> {
    match SCOPE.try_with(|cell| cell.replace(None).ok_or(())) {
        Err(_) => Ok(None),
        Ok(Ok(scope)) => Ok(Some(scope)),
        Ok(Err(())) => Err(RuntimeError::ScopeUsedTwice),
    }
}

/// The event id of a scope's receipt (one per request: a second receipt for
/// the same request is refused by the log as a retry or a conflict).
pub(crate) fn receipt_event_id(scope: &RequestScope) -> EventId {
    EventId::derive("encore-actors request receipt id v1", scope.receipt_stream.as_bytes())
}

/// The receipt stream's one append: the digest and the events it covers.
pub(crate) fn receipt_append(scope: &RequestScope, events: &[(String, u64)], recorded_at: i64, correlation: EventId) -> Result<StreamAppend, RuntimeError> {
    let payload = encode_receipt(&scope.digest, events);
    let event_id = receipt_event_id(scope);
    Ok(StreamAppend {
        stream: StreamId::new(scope.receipt_stream.clone())?,
        expected: ExpectedVersion::NoStream,
        events: vec![NewEvent { event_id, event_type: RECEIPT_TYPE.into(), recorded_at, correlation_id: correlation, causation_id: EventId::NIL, payload }],
    })
}

/// The receipt of an earlier request with this scope, if there is one.
pub fn find_receipt(ledger: &Ledger, scope: &RequestScope) -> Result<Option<Receipt>, ReceiptError> {
    let stream = StreamId::new(scope.receipt_stream.clone()).map_err(|e| ReceiptError::Read(e.to_string()))?;
    let records = ledger.read_stream(&stream, 1, Direction::Forwards, 1).map_err(|e| ReceiptError::Read(e.to_string()))?;
    let Some(record) = records.into_iter().next() else { return Ok(None) };
    decode_receipt(&record).map(Some)
}

/// The records a receipt names, in its order.
pub fn receipt_records(ledger: &Ledger, receipt: &Receipt) -> Result<Vec<Record>, ReceiptError> {
    let mut out = Vec::with_capacity(receipt.events.len());
    for (stream, version) in &receipt.events {
        let id = StreamId::new(stream.clone()).map_err(|e| ReceiptError::Read(e.to_string()))?;
        let found = ledger.read_stream(&id, *version, Direction::Forwards, 1).map_err(|e: ReadError| ReceiptError::Read(e.to_string()))?;
        match found.into_iter().next().filter(|r| r.version == *version) {
            Some(record) => out.push(record),
            None => return Err(ReceiptError::Damaged { position: receipt.position, reason: format!("names {stream}@{version}, which is not in the log") }),
        }
    }
    Ok(out)
}

/// Why a receipt could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    #[error("reading the request receipt failed: {0}")]
    Read(String),
    #[error("the request receipt at position {position} is damaged: {reason}")]
    Damaged { position: u64, reason: String },
}

/// Format byte, digest, count (u32 BE), then per event: stream length (u16
/// BE), stream, version (u64 BE).
fn encode_receipt(digest: &[u8; 32], events: &[(String, u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(37 + events.iter().map(|(s, _)| s.len() + 10).sum::<usize>());
    out.push(RECEIPT_FORMAT);
    out.extend_from_slice(digest);
    out.extend_from_slice(&(events.len() as u32).to_be_bytes());
    for (stream, version) in events {
        // Stream ids are at most 255 bytes (the ledger refuses longer ones).
        out.extend_from_slice(&(stream.len() as u16).to_be_bytes());
        out.extend_from_slice(stream.as_bytes());
        out.extend_from_slice(&version.to_be_bytes());
    }
    out
}

fn decode_receipt(record: &Record) -> Result<Receipt, ReceiptError> {
    let damaged = |reason: &str| ReceiptError::Damaged { position: record.position, reason: reason.to_string() };
    if record.event_type != RECEIPT_TYPE {
        return Err(damaged("not a receipt record"));
    }
    let mut input = record.payload.as_slice();
    let mut take = |n: usize| -> Result<&[u8], ReceiptError> {
        let (head, rest) = input.split_at_checked(n).ok_or_else(|| damaged("truncated"))?;
        input = rest;
        Ok(head)
    };
    if take(1)? != [RECEIPT_FORMAT] {
        return Err(damaged("unknown receipt format"));
    }
    let mut digest = [0u8; 32];
    digest.copy_from_slice(take(32)?);
    let count = u32::from_be_bytes(take(4)?.try_into().map_err(|_| damaged("truncated"))?);
    let mut events = Vec::new();
    for _ in 0..count {
        let len = u16::from_be_bytes(take(2)?.try_into().map_err(|_| damaged("truncated"))?);
        let stream = std::str::from_utf8(take(usize::from(len))?).map_err(|_| damaged("stream id is not UTF-8"))?.to_string();
        let version = u64::from_be_bytes(take(8)?.try_into().map_err(|_| damaged("truncated"))?);
        events.push((stream, version));
    }
    if !input.is_empty() {
        return Err(damaged("trailing bytes"));
    }
    Ok(Receipt { digest, events, position: record.position })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_differ_by_principal_and_key_and_name_a_valid_stream() {
        let a = RequestScope::new("kiosk-1", "k1", [0; 32], None);
        assert_ne!(a.receipt_stream, RequestScope::new("kiosk-2", "k1", [0; 32], None).receipt_stream);
        assert_ne!(a.receipt_stream, RequestScope::new("kiosk-1", "k2", [0; 32], None).receipt_stream);
        assert!(StreamId::new(a.receipt_stream.clone()).is_ok());
        assert_eq!(a.receipt_stream.len(), "request-".len() + 32);
    }

    #[test]
    fn receipt_streams_keep_the_names_earlier_logs_hold() {
        // A retry after an upgrade must find the receipt its first run left:
        // the name is the hash's first 16 bytes, each as two hex digits.
        let mut hasher = blake3::Hasher::new_derive_key(RECEIPT_STREAM_CONTEXT);
        hasher.update(&7u64.to_be_bytes());
        hasher.update(b"kiosk-1");
        hasher.update(b"key-1");
        let per_byte: String = hasher.finalize().as_bytes()[..16].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(RequestScope::new("kiosk-1", "key-1", [0; 32], None).receipt_stream, format!("request-{per_byte}"));
    }

    #[test]
    fn a_receipt_round_trips_and_a_damaged_one_is_named() {
        let events = vec![("account-a".to_string(), 3), ("card-c".to_string(), 9)];
        let payload = encode_receipt(&[7; 32], &events);
        let record = |payload: Vec<u8>| Record {
            position: 12,
            stream: StreamId::new("request-x").unwrap(),
            version: 1,
            event_id: EventId::NIL,
            event_type: RECEIPT_TYPE.into(),
            recorded_at: 0,
            correlation_id: EventId::NIL,
            causation_id: EventId::NIL,
            payload,
            prev_hash: [0; 32],
            hash: [0; 32],
        };
        let decoded = decode_receipt(&record(payload.clone())).unwrap();
        assert_eq!(decoded, Receipt { digest: [7; 32], events, position: 12 });
        for cut in [0, 1, 33, payload.len() - 1] {
            assert!(matches!(decode_receipt(&record(payload[..cut].to_vec())), Err(ReceiptError::Damaged { position: 12, .. })), "cut at {cut}");
        }
        let mut longer = payload;
        longer.push(0);
        assert!(decode_receipt(&record(longer)).is_err());
    }
}
