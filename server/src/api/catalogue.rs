//! The license server's catalogue (002 claims 1-4): contents with their
//! price and use condition. Listing seals the content key under the license
//! server key inside the runtime; no key leaves it.
//!
//! A content with a real file (000 claims 9-11) is listed by uploading the
//! plain file: the handler draws a fresh content key from the OS, encrypts
//! the file under it, stores the ciphertext in the content store, and lists
//! the content with the key sealed. Players fetch the ciphertext
//! (`GET /v1/contents/{id}/file`) and decrypt it with the key from their license.

use actix_web::http::header::CACHE_CONTROL;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use encore_domain::ids::ContentId;
use encore_domain::licensing::{ContentKey, ListingDetails, UseCondition};
use encore_domain::Money;
use futures_util::StreamExt;

use super::auth::Caller;
use super::idempotency::{self, etag, event_refs, Write};
use super::problem::ApiError;
use super::types::*;
use super::{parse_id, AppState, Json};
use crate::deployment::contents::MAX_CONTENT_FILE_BYTES;
use crate::deployment::credentials::hex;
use crate::deployment::Role;

#[utoipa::path(post, path = "/v1/contents", tag = "license", request_body = ListContent,
    params(("Idempotency-Key" = String, Header)),
    responses((status = 201, body = Written), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/contents")]
pub async fn list_content(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: Json<ListContent>) -> Result<HttpResponse, ApiError> {
    caller.allow(&[])?;
    let content = parse_id(ContentId::new(body.content.clone()), &body.content)?;
    let condition = UseCondition { uses: body.uses, valid_days: body.valid_days };
    let write = Write { req: &req, caller: &caller, route: "POST /v1/contents".into(), body: &body.0, status: StatusCode::CREATED };
    idempotency::write(
        &state,
        write,
        || state.runtime.list_content(&content, Money(body.price), condition),
        |_, events| Ok(Written { events: event_refs(events) }),
    )
    .await
}

/// The content ids the log has listed, caught up on each read from where
/// the last one stopped (so every writer's listings are seen, and a read
/// scans only what is new).
#[derive(Default)]
pub struct CatalogueIndex {
    inner: std::sync::Mutex<(u64, std::collections::BTreeSet<String>)>,
}

impl CatalogueIndex {
    /// Every listed content id, after scanning the log's new records.
    fn catch_up(&self, ledger: &encore_ledger::Ledger) -> Result<Vec<String>, ApiError> {
        let mut guard = self.inner.lock().map_err(|_| ApiError::internal("the catalogue index lock is poisoned"))?;
        let (seen, ids) = &mut *guard;
        for record in ledger.scan(*seen + 1) {
            let record = record.map_err(|e| ApiError::internal(e.to_string()))?;
            if record.event_type == "ContentListed" {
                if let Some(id) = record.stream.as_str().strip_prefix("content-") {
                    ids.insert(id.to_string());
                }
            }
            *seen = record.position;
        }
        Ok(ids.iter().cloned().collect())
    }
}

fn content_view(content: &ContentId, entry: &encore_domain::licensing::CatalogueEntry) -> Option<ContentView> {
    let listing = entry.listing.as_ref()?;
    Some(ContentView {
        content: content.to_string(),
        price: listing.price.0,
        uses: listing.condition.uses,
        valid_days: listing.condition.valid_days,
        version: entry.version(),
        title: listing.title.clone(),
        file: listing.file.map(|f| ContentFileView { hash: hex(&f.hash), bytes: f.len }),
    })
}

#[utoipa::path(get, path = "/v1/contents", tag = "license",
    responses((status = 200, body = CatalogueView), (status = 401, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/contents")]
pub async fn catalogue(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.allow(&[Role::Auditor, Role::Kiosk, Role::Device])?;
    let shared = state.clone();
    let ids = web::block(move || shared.catalogue.catch_up(shared.runtime.ledger())).await.map_err(|e| ApiError::internal(e.to_string()))??;
    let mut contents = Vec::with_capacity(ids.len());
    for id in ids {
        let content = parse_id(ContentId::new(id.clone()), &id)?;
        let entry = state.runtime.catalogue(&content).await?;
        contents.extend(content_view(&content, &entry));
    }
    Ok(HttpResponse::Ok().json(CatalogueView { contents }))
}

#[utoipa::path(get, path = "/v1/contents/{content}", tag = "license", params(("content" = String, Path)),
    responses((status = 200, body = ContentView, headers(("ETag" = String))), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/contents/{content}")]
pub async fn get_content(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    caller.allow(&[Role::Auditor, Role::Kiosk, Role::Device])?;
    let content = parse_id(ContentId::new(path.clone()), &path)?;
    let entry = state.runtime.catalogue(&content).await?;
    let view = content_view(&content, &entry).ok_or_else(|| ApiError::not_found("unknown-content", content.as_str()))?;
    Ok(HttpResponse::Ok().insert_header(etag(entry.version())).json(view))
}

/// What an upload asks, for its idempotency key: the terms and the plain file's hash.
#[derive(serde::Serialize)]
struct Upload<'a> {
    terms: &'a ContentFileTerms,
    plain_blake3: String,
}

/// The body of an upload, at most [`MAX_CONTENT_FILE_BYTES`] (413 beyond).
async fn read_file(mut payload: web::Payload) -> Result<Vec<u8>, ApiError> {
    let too_large = || ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body-too-large", format!("content files are at most {MAX_CONTENT_FILE_BYTES} bytes"));
    let mut bytes = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request("bad-body", e.to_string()))?;
        if bytes.len() + chunk.len() > MAX_CONTENT_FILE_BYTES {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

#[utoipa::path(post, path = "/v1/contents/{content}/file", tag = "license", params(("content" = String, Path), ContentFileTerms, ("Idempotency-Key" = String, Header)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the plain content file"),
    responses((status = 201, body = Written), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/contents/{content}/file")]
pub async fn upload_content(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    terms: web::Query<ContentFileTerms>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.allow(&[])?;
    let content = parse_id(ContentId::new(path.clone()), &path)?;
    let plain = read_file(payload).await?;
    let upload = Upload { terms: &terms, plain_blake3: blake3::hash(&plain).to_hex().to_string() };
    let condition = UseCondition { uses: terms.uses, valid_days: terms.valid_days };
    let write = Write { req: &req, caller: &caller, route: format!("POST /v1/contents/{content}/file"), body: &upload, status: StatusCode::CREATED };
    let call = || async {
        // A listing the catalogue will refuse (already listed, a bad title, no
        // uses ...) is refused before anything is encrypted or stored; a retry
        // of one that was listed is answered from this key's receipt.
        let mut details = ListingDetails { title: terms.title.clone(), file: None };
        state.runtime.catalogue(&content).await?.check_listing(&content, Money(terms.price), condition, &details)?;
        let (key, file) = encrypt_and_store(&state, &content, plain).await.map_err(encore_actors::RuntimeError::from)?;
        details.file = Some(file);
        state.runtime.list_content_file(&content, Money(terms.price), condition, details, key).await
    };
    idempotency::write(&state, write, call, |_, events| Ok(Written { events: event_refs(events) })).await
}

/// A fresh key from the OS, the file encrypted under it and stored: off the
/// arbiter, since a large file takes a while.
async fn encrypt_and_store(
    state: &AppState,
    content: &ContentId,
    plain: Vec<u8>,
) -> Result<(ContentKey, encore_domain::licensing::ContentFile), encore_domain::licensing::CryptoError> {
    let mut raw = [0u8; 32];
    let failed = || encore_domain::licensing::CryptoError::SealFailed { what: "content file" };
    getrandom::fill(&mut raw).map_err(|_| failed())?;
    let key = ContentKey::from_bytes(raw);
    raw.iter_mut().for_each(|b| *b = 0);
    let (store, content) = (state.contents.clone(), content.clone());
    let cipher_key = ContentKey::from_bytes(*key.expose_secret());
    let stored = web::block(move || {
        let ciphertext = cipher_key.encrypt_content(&content, &plain)?;
        store.put(&ciphertext).map_err(|e| {
            tracing::error!(error = %e, "content store write failed");
            failed()
        })
    })
    .await
    .map_err(|_| failed())??;
    Ok((key, stored))
}

#[utoipa::path(get, path = "/v1/contents/{content}/file", tag = "license", params(("content" = String, Path)),
    responses((status = 200, description = "the encrypted content file", content_type = "application/octet-stream"),
        (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/contents/{content}/file")]
pub async fn content_file(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    caller.allow(&[Role::Auditor, Role::Kiosk, Role::Device])?;
    let content = parse_id(ContentId::new(path.clone()), &path)?;
    let entry = state.runtime.catalogue(&content).await?;
    let file = entry.listing.as_ref().and_then(|l| l.file).ok_or_else(|| ApiError::not_found("no-content-file", content.as_str()))?;
    let store = state.contents.clone();
    let bytes = web::block(move || store.get(&file)).await.map_err(|e| ApiError::internal(e.to_string()))?.map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(HttpResponse::Ok().content_type("application/octet-stream").insert_header((CACHE_CONTROL, "private, max-age=31536000, immutable")).body(bytes))
}
