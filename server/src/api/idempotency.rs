//! The write path every state-changing route takes: an `Idempotency-Key`
//! (required), an optional `If-Match`, then the runtime call inside a
//! request scope (`encore_actors::request`), so the key and the request's
//! digest are recorded in the log with the events, in one atomic append.
//!
//! A retry with the same key and the same body is answered from that
//! receipt: the same status and body, rendered from the same events, with
//! `Idempotent-Replayed: true`; nothing is written again (its command may be
//! decided again, and its append is refused by the receipt already there).
//! The same key with another body is 422. Keys are per credential.

use std::future::Future;

use actix_web::http::header::{HeaderValue, ETAG, IF_MATCH};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use encore_actors::request::{self, RequestScope};
use encore_actors::{Outcome, Recorded, RuntimeError};
use encore_domain::{Event, EventCodec};
use serde::Serialize;

use super::auth::Caller;
use super::problem::ApiError;
use super::types::EventRef;
use super::AppState;

pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
pub const REPLAYED: &str = "Idempotent-Replayed";
const MAX_KEY_BYTES: usize = 255;

/// The request's idempotency key: 1-255 visible ASCII characters.
pub fn idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req
        .headers()
        .get(IDEMPOTENCY_KEY)
        .ok_or_else(|| ApiError::bad_request("idempotency-key-missing", "a state-changing request needs an Idempotency-Key header"))?;
    let key = value.to_str().ok().filter(|k| !k.is_empty() && k.len() <= MAX_KEY_BYTES && k.bytes().all(|b| b.is_ascii_graphic()));
    key.map(str::to_string).ok_or_else(|| ApiError::bad_request("bad-idempotency-key", "an Idempotency-Key is 1-255 visible ASCII characters"))
}

/// `If-Match: "N"` (an entity's version, as its `ETag` gave it), if present.
pub fn if_match(req: &HttpRequest) -> Result<Option<u64>, ApiError> {
    let Some(value) = req.headers().get(IF_MATCH) else { return Ok(None) };
    let text = value.to_str().unwrap_or("");
    parse_etag(text).map(Some).ok_or_else(|| ApiError::bad_request("bad-if-match", "If-Match must be one entity tag such as \"3\"").with_value(text))
}

fn parse_etag(text: &str) -> Option<u64> {
    let inner = text.trim().strip_prefix('"')?.strip_suffix('"')?;
    inner.parse().ok()
}

/// The `ETag` of an entity at `version`.
pub fn etag(version: u64) -> (actix_web::http::header::HeaderName, HeaderValue) {
    (ETAG, HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\"")))
}

/// What a write asked: its route and its body in canonical JSON (sorted
/// keys), so the same request spelled with other spacing or key order is
/// the same request.
fn digest(route: &str, body: &impl Serialize) -> Result<[u8; 32], ApiError> {
    let canonical = serde_json::to_value(body).and_then(|v| serde_json::to_vec(&v)).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut hasher = blake3::Hasher::new();
    hasher.update(route.as_bytes());
    hasher.update(b"\n");
    hasher.update(&canonical);
    Ok(*hasher.finalize().as_bytes())
}

/// A write route's parts: what it asks and how its answer reads.
pub struct Write<'a, B> {
    pub req: &'a HttpRequest,
    pub caller: &'a Caller,
    /// The route template with its path values, e.g. `POST /v1/accounts/a-1/loads`.
    pub route: String,
    pub body: &'a B,
    /// The status of a first answer (a replay answers the same).
    pub status: StatusCode,
}

/// Runs a write: answered from its receipt if this key was seen, else run
/// once in its request scope. `render` turns the command's events (and, on
/// the first run, its typed value) into the response body; it must depend on
/// nothing else, so that a replay answers byte for byte the same.
pub async fn write<B, T, R, Fut>(
    state: &AppState,
    write: Write<'_, B>,
    call: impl FnOnce() -> Fut,
    render: impl Fn(Option<&T>, &[Recorded]) -> Result<R, ApiError>,
) -> Result<HttpResponse, ApiError>
where
    B: Serialize,
    R: Serialize,
    Fut: Future<Output = Result<Outcome<T>, RuntimeError>>,
{
    let key = idempotency_key(write.req)?;
    let scope = RequestScope::new(&write.caller.0.id, &key, digest(&write.route, write.body)?, if_match(write.req)?);
    // No look-up first: a retry's command meets its own receipt when it
    // appends (the receipt stream must be empty) and is refused there, so a
    // first request pays nothing for idempotency. Whenever a command wrote
    // nothing or failed (a retry decided against a state that has moved: a
    // precondition, an account already open), the receipt is the answer if
    // there is one.
    match request::scoped(scope.clone(), call()).await {
        Ok(outcome) if !outcome.events.is_empty() => Ok(respond(write.status, &render(Some(&outcome.value), &outcome.events)?, false)),
        Ok(outcome) => match replay(state, &scope, write.status, &render).await? {
            Some(answer) => Ok(answer),
            None => Ok(respond(write.status, &render(Some(&outcome.value), &outcome.events)?, false)),
        },
        Err(e) => match replay(state, &scope, write.status, &render).await? {
            Some(answer) => Ok(answer),
            None if matches!(e, RuntimeError::AlreadyAnswered { .. }) => Err(ApiError::internal("a concurrent copy of this request left no receipt")),
            None => Err(e.into()),
        },
    }
}

/// The answer to an earlier request with this scope's key, if there was one.
async fn replay<T, R: Serialize>(
    state: &AppState,
    scope: &RequestScope,
    status: StatusCode,
    render: &impl Fn(Option<&T>, &[Recorded]) -> Result<R, ApiError>,
) -> Result<Option<HttpResponse>, ApiError> {
    let ledger = state.runtime.ledger().clone();
    let wanted = scope.clone();
    let found = actix_web::web::block(move || -> Result<_, request::ReceiptError> {
        let Some(receipt) = request::find_receipt(&ledger, &wanted)? else { return Ok(None) };
        let records = request::receipt_records(&ledger, &receipt)?;
        Ok(Some((receipt, records)))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let Some((receipt, records)) = found else { return Ok(None) };
    if receipt.digest != scope.digest {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused", "this Idempotency-Key was used for a different request"));
    }
    let mut events = Vec::with_capacity(records.len());
    for record in records {
        let event = Event::decode_payload(&record.event_type, &record.payload).map_err(|e| ApiError::internal(e.to_string()))?;
        events.push(Recorded { position: record.position, stream: record.stream.as_str().to_string(), version: record.version, event });
    }
    Ok(Some(respond(status, &render(None, &events)?, true)))
}

fn respond(status: StatusCode, body: &impl Serialize, replayed: bool) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    if replayed {
        response.insert_header((REPLAYED, "true"));
    }
    response.json(body)
}

/// The events of a write as the API lists them.
pub fn event_refs(events: &[Recorded]) -> Vec<EventRef> {
    events
        .iter()
        .map(|r| EventRef { position: r.position, stream: r.stream.clone(), version: r.version, event_type: r.event.event_type().to_string() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_parse_only_as_one_quoted_version() {
        assert_eq!(parse_etag("\"3\""), Some(3));
        assert_eq!(parse_etag(" \"0\" "), Some(0));
        for bad in ["3", "\"x\"", "W/\"3\"", "\"3\", \"4\"", "*", "\"-1\""] {
            assert_eq!(parse_etag(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_digest_ignores_spelling_but_not_content() {
        let a: serde_json::Value = serde_json::from_str(r#"{"b": 1, "a": 2}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"a":2,"b":1}"#).unwrap();
        let c: serde_json::Value = serde_json::from_str(r#"{"a":2,"b":3}"#).unwrap();
        assert_eq!(digest("r", &a).unwrap(), digest("r", &b).unwrap());
        assert_ne!(digest("r", &a).unwrap(), digest("r", &c).unwrap());
        assert_ne!(digest("r", &a).unwrap(), digest("s", &a).unwrap());
    }
}
