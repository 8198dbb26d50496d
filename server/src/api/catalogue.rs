//! The license server's catalogue (002 claims 1-4): contents with their
//! price and use condition. Listing seals the content key under the license
//! server key inside the runtime; no key leaves it.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use encore_domain::ids::ContentId;
use encore_domain::licensing::UseCondition;
use encore_domain::Money;

use super::auth::Caller;
use super::idempotency::{self, etag, event_refs, Write};
use super::problem::ApiError;
use super::types::*;
use super::{parse_id, AppState, Json};
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
    idempotency::write(&state, write, || state.runtime.list_content(&content, Money(body.price), condition), |_, events| Ok(Written { events: event_refs(events) }))
        .await
}

#[utoipa::path(get, path = "/v1/contents/{content}", tag = "license", params(("content" = String, Path)),
    responses((status = 200, body = ContentView, headers(("ETag" = String))), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/contents/{content}")]
pub async fn get_content(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    caller.allow(&[Role::Auditor, Role::Kiosk, Role::Device])?;
    let content = parse_id(ContentId::new(path.clone()), &path)?;
    let entry = state.runtime.catalogue(&content).await?;
    let Some(listing) = &entry.listing else { return Err(ApiError::not_found("unknown-content", content.as_str())) };
    let view = ContentView {
        content: content.to_string(),
        price: listing.price.0,
        uses: listing.condition.uses,
        valid_days: listing.condition.valid_days,
        version: entry.version,
    };
    Ok(HttpResponse::Ok().insert_header(etag(entry.version)).json(view))
}
