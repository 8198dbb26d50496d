//! The accounting server's resources: accounts, loads and cards (002 claims
//! 1-2, 7). Handlers authenticate, parse and call the runtime; every rule
//! (a load of 0, an account opened twice) is the domain's.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use encore_actors::Recorded;
use encore_domain::ids::{AccountId, CardId, PurchaseId, UserId};
use encore_domain::licensing::LicensingEvent;
use encore_domain::{Event, Money};

use super::auth::Caller;
use super::idempotency::{self, etag, event_refs, Write};
use super::problem::ApiError;
use super::types::*;
use super::{parse_id, parse_time, render_time, AppState, Json};
use crate::deployment::Role;

/// The balance a write left, from its own events (so a replay reads the same).
fn balance_after(events: &[Recorded]) -> Option<u64> {
    events.iter().rev().find_map(|r| match &r.event {
        Event::Licensing(LicensingEvent::CardLoaded(e)) => Some(e.balance_after.0),
        Event::Licensing(LicensingEvent::Refunded(e)) => Some(e.balance_after.0),
        Event::Licensing(LicensingEvent::AccountOpened(_)) => Some(0),
        _ => None,
    })
}

#[utoipa::path(post, path = "/v1/accounts", tag = "accounting", request_body = OpenAccount,
    params(("Idempotency-Key" = String, Header, description = "1-255 visible ASCII characters")),
    responses((status = 201, body = AccountWritten), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/accounts")]
pub async fn open_account(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: Json<OpenAccount>) -> Result<HttpResponse, ApiError> {
    caller.allow(&[])?;
    let account = parse_id(AccountId::new(body.account.clone()), &body.account)?;
    let expires = body.expires_at.as_deref().map(parse_time).transpose()?;
    let write = Write { req: &req, caller: &caller, route: "POST /v1/accounts".into(), body: &body.0, status: StatusCode::CREATED };
    let name = account.to_string();
    idempotency::write(
        &state,
        write,
        || state.runtime.open_account(&account, expires, Money(body.initial)),
        |_, events| Ok(AccountWritten { account: name.clone(), balance: balance_after(events).unwrap_or(0), events: event_refs(events) }),
    )
    .await
}

#[utoipa::path(get, path = "/v1/accounts/{account}", tag = "accounting",
    params(("account" = String, Path)),
    responses((status = 200, body = AccountView, headers(("ETag" = String, description = "the account's version"))),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/accounts/{account}")]
pub async fn get_account(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    caller.allow(&[Role::Auditor])?;
    let account = parse_id(AccountId::new(path.clone()), &path)?;
    let found = state.runtime.account(&account).await?;
    if !found.is_open() {
        return Err(ApiError::not_found("unknown-account", account.as_str()));
    }
    let view = AccountView {
        account: account.to_string(),
        balance: found.balance.0,
        loaded: found.loaded.0,
        charged: found.charged.0,
        expires_at: found.expires_at.map(render_time),
        version: found.version(),
    };
    Ok(HttpResponse::Ok().insert_header(etag(found.version())).json(view))
}

#[utoipa::path(post, path = "/v1/accounts/{account}/loads", tag = "accounting", request_body = LoadMoney,
    params(("account" = String, Path), ("Idempotency-Key" = String, Header), ("If-Match" = Option<String>, Header, description = "the account's ETag")),
    responses((status = 200, body = AccountWritten), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 412, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/accounts/{account}/loads")]
pub async fn load_money(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<LoadMoney>,
) -> Result<HttpResponse, ApiError> {
    caller.allow(&[])?;
    let account = parse_id(AccountId::new(path.clone()), &path)?;
    let write = Write { req: &req, caller: &caller, route: format!("POST /v1/accounts/{account}/loads"), body: &body.0, status: StatusCode::OK };
    let name = account.to_string();
    idempotency::write(
        &state,
        write,
        || state.runtime.load_money(&account, Money(body.amount)),
        |value, events| {
            let balance = balance_after(events).or(value.map(|m| m.0)).unwrap_or(0);
            Ok(AccountWritten { account: name.clone(), balance, events: event_refs(events) })
        },
    )
    .await
}

#[utoipa::path(post, path = "/v1/accounts/{account}/link", tag = "accounting", request_body = LinkAccount,
    params(("account" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = LinkedView, description = "AccountLinked, or nothing when it was linked to that group before"), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 413, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/accounts/{account}/link")]
pub async fn link_account(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<LinkAccount>,
) -> Result<HttpResponse, ApiError> {
    caller.allow(&[])?;
    let account = parse_id(AccountId::new(path.clone()), &path)?;
    let user = parse_id(UserId::new(body.user.clone()), &body.user)?;
    let write = Write { req: &req, caller: &caller, route: format!("POST /v1/accounts/{account}/link"), body: &body.0, status: StatusCode::OK };
    let name = account.to_string();
    idempotency::write(
        &state,
        write,
        || state.runtime.link_account(&account, &user),
        |value, events| {
            let linked = events.iter().find_map(|r| match &r.event {
                Event::Licensing(LicensingEvent::AccountLinked(e)) => Some(e.group.to_string()),
                _ => None,
            });
            let group = linked.or(value.map(ToString::to_string)).unwrap_or_default();
            Ok(LinkedView { account: name.clone(), group, events: event_refs(events) })
        },
    )
    .await
}

#[utoipa::path(post, path = "/v1/accounts/{account}/refunds", tag = "accounting", request_body = Refund,
    params(("account" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = Written, description = "the Refunded event (and LicenseRevoked if the license was still on the card); none if refunded before"), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 413, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/accounts/{account}/refunds")]
pub async fn refund(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<Refund>,
) -> Result<HttpResponse, ApiError> {
    caller.allow(&[])?;
    let account = parse_id(AccountId::new(path.clone()), &path)?;
    let purchase = parse_id(PurchaseId::new(body.purchase.clone()), &body.purchase)?;
    let write = Write { req: &req, caller: &caller, route: format!("POST /v1/accounts/{account}/refunds"), body: &body.0, status: StatusCode::OK };
    idempotency::write(&state, write, || state.runtime.refund(&account, &purchase), |_, events| Ok(Written { events: event_refs(events) })).await
}

#[utoipa::path(post, path = "/v1/cards", tag = "accounting", request_body = IssueCard,
    params(("Idempotency-Key" = String, Header)),
    responses((status = 201, body = Written), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/cards")]
pub async fn issue_card(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: Json<IssueCard>) -> Result<HttpResponse, ApiError> {
    caller.allow(&[])?;
    let card = parse_id(CardId::new(body.card.clone()), &body.card)?;
    let account = parse_id(AccountId::new(body.account.clone()), &body.account)?;
    let expires = body.expires_at.as_deref().map(parse_time).transpose()?;
    let write = Write { req: &req, caller: &caller, route: "POST /v1/cards".into(), body: &body.0, status: StatusCode::CREATED };
    idempotency::write(&state, write, || state.runtime.issue_card(&card, &account, expires), |_, events| Ok(Written { events: event_refs(events) })).await
}

#[utoipa::path(get, path = "/v1/cards/{card}", tag = "accounting", params(("card" = String, Path)),
    responses((status = 200, body = CardView, headers(("ETag" = String))), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/cards/{card}")]
pub async fn get_card(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    caller.allow(&[Role::Auditor, Role::Kiosk])?;
    let card = parse_id(CardId::new(path.clone()), &path)?;
    let found = state.runtime.card(&card).await?;
    let Some(issued) = &found.issued else { return Err(ApiError::not_found("unknown-card", card.as_str())) };
    let view = CardView {
        card: card.to_string(),
        account: Some(issued.account.to_string()),
        licenses: found.licenses.keys().map(|c| c.to_string()).collect(),
        version: found.version(),
    };
    Ok(HttpResponse::Ok().insert_header(etag(found.version())).json(view))
}
