//! Kiosks and players buying licenses onto cards (002 claims 1-5, 10-11;
//! 000 rule 1). A kiosk visit is three requests, each idempotent: insert the
//! card (it is verified), buy (once per content), eject. A player buys
//! without a slot. A station credential acts only as its own station.
//!
//! The card is carried: the station first asks for a challenge ticket
//! (`cards.rs`), has the card answer it, and sends the answer with the
//! insert or the purchase. What a retry must repeat (and what its key is
//! checked against) is the card and the content, not the answer: a retry
//! after the ticket expired may carry a fresh one.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use encore_actors::Recorded;
use encore_domain::ids::{CardId, ContentId, DeviceId, PurchaseId};
use encore_domain::licensing::{CardRejection, DeclineReason, LicensingEvent, PurchaseOutcome, Station, StationKind};
use encore_domain::Event;

use super::auth::Caller;
use super::cards::parse_answer;
use super::idempotency::{self, event_refs, Write};
use super::problem::ApiError;
use super::types::*;
use super::{parse_id, render_time, AppState, Json};
use crate::deployment::Role;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InsertCard {
    pub card: String,
    pub answer: CardAnswer,
}

/// What a station's request asks, for its idempotency key: the card and the
/// content, not the card's answer (which a retry may renew).
#[derive(serde::Serialize)]
struct Intent<'a> {
    card: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
}

/// The purchase id of a request: derived from who asked and the
/// idempotency key, so a retry names the same purchase.
fn purchase_id(caller: &Caller, req: &HttpRequest) -> Result<PurchaseId, ApiError> {
    let key = idempotency::idempotency_key(req)?;
    let mut hasher = blake3::Hasher::new_derive_key("encore-server purchase id v1");
    hasher.update(caller.0.id.as_bytes());
    hasher.update(b"\0");
    hasher.update(key.as_bytes());
    let hex = crate::deployment::credentials::hex(&hasher.finalize().as_bytes()[..12]);
    PurchaseId::new(format!("p-{hex}")).map_err(|e| ApiError::internal(e.to_string()))
}

/// What a purchase came to, from its events (a replay reads the same).
fn purchase_view(value: Option<&PurchaseOutcome>, events: &[Recorded]) -> PurchaseView {
    let mut view = PurchaseView { outcome: String::new(), reason: None, price: None, balance: None, purchase: None, license: None, events: event_refs(events) };
    for recorded in events {
        match &recorded.event {
            Event::Licensing(LicensingEvent::LicenseWrittenToCard(e)) => {
                view.license = Some(LicenseView {
                    content: e.content.to_string(),
                    purchase: e.purchase.to_string(),
                    uses_left: e.terms.uses_left,
                    valid_until: e.terms.valid_until.map(render_time),
                    sealed: crate::deployment::credentials::hex(&e.sealed.0),
                });
            }
            Event::Licensing(LicensingEvent::Charged(e)) => {
                view.outcome = "licensed".into();
                view.price = Some(e.amount.0);
                view.balance = Some(e.balance_after.0);
                view.purchase = Some(e.purchase.to_string());
            }
            Event::Licensing(LicensingEvent::ChargeDeclined(e)) => {
                view.outcome = "declined".into();
                view.reason = Some(decline_name(e.reason).into());
                view.purchase = Some(e.purchase.to_string());
            }
            Event::Licensing(LicensingEvent::CardRejected(e)) => {
                view.outcome = "card-rejected".into();
                view.reason = Some(rejection_name(e.reason).into());
            }
            _ => {}
        }
    }
    if view.outcome.is_empty() {
        view.outcome = match value {
            Some(PurchaseOutcome::AlreadyOnCard) => "already-on-card",
            Some(PurchaseOutcome::AlreadyDone) | None => "already-done",
            Some(_) => "recorded",
        }
        .into();
    }
    view
}

fn decline_name(reason: DeclineReason) -> &'static str {
    match reason {
        DeclineReason::InsufficientFunds => "insufficient-funds",
        DeclineReason::AccountExpired => "account-expired",
    }
}

fn rejection_name(reason: CardRejection) -> &'static str {
    match reason {
        CardRejection::NotGenuine => "not-genuine",
        CardRejection::NotIssued => "not-issued",
        CardRejection::CardExpired => "card-expired",
    }
}

#[utoipa::path(post, path = "/v1/kiosks/{kiosk}/card", tag = "license", request_body = InsertCard,
    params(("kiosk" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = Written), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/kiosks/{kiosk}/card")]
pub async fn insert_card(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<InsertCard>,
) -> Result<HttpResponse, ApiError> {
    caller.as_station(Role::Kiosk, &path)?;
    let kiosk = parse_id(DeviceId::new(path.clone()), &path)?;
    let card = parse_id(CardId::new(body.card.clone()), &body.card)?;
    let answer = parse_answer(&body.answer)?;
    let intent = Intent { card: &body.card, content: None };
    let write = Write { req: &req, caller: &caller, route: format!("POST /v1/kiosks/{kiosk}/card"), body: &intent, status: StatusCode::OK };
    let station = Station::kiosk(kiosk.clone()).to_string();
    state.limits.card_rejections.check(&station)?;
    let written = idempotency::write(
        &state,
        write,
        || state.runtime.kiosk_insert_answered(&kiosk, &card, &answer),
        |_, events| {
            if events.iter().any(|r| matches!(r.event, Event::Licensing(LicensingEvent::CardRejected(_)))) {
                state.limits.card_rejections.record(&station);
            }
            Ok(Written { events: event_refs(events) })
        },
    );
    written.await
}

#[utoipa::path(post, path = "/v1/kiosks/{kiosk}/purchases", tag = "license", request_body = Purchase,
    params(("kiosk" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = PurchaseView, description = "bought, or declined with its reason"), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/kiosks/{kiosk}/purchases")]
pub async fn kiosk_purchase(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<Purchase>,
) -> Result<HttpResponse, ApiError> {
    caller.as_station(Role::Kiosk, &path)?;
    let kiosk = parse_id(DeviceId::new(path.clone()), &path)?;
    buy(&state, &caller, &req, Station::kiosk(kiosk), &body.0).await
}

#[utoipa::path(get, path = "/v1/kiosks/{kiosk}/pending", tag = "license", params(("kiosk" = String, Path)),
    responses((status = 200, body = PendingView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/kiosks/{kiosk}/pending")]
pub async fn pending(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    caller.as_station(Role::Kiosk, &path)?;
    let kiosk = parse_id(DeviceId::new(path.clone()), &path)?;
    let station = Station::kiosk(kiosk.clone());
    let card = state.runtime.station(&station).await?.inserted.clone().ok_or(encore_actors::RuntimeError::NoCardInserted { station })?;
    let contents = state.runtime.kiosk_pending(&kiosk).await?;
    Ok(HttpResponse::Ok().json(PendingView { card: card.to_string(), contents: contents.iter().map(ToString::to_string).collect() }))
}

#[utoipa::path(post, path = "/v1/kiosks/{kiosk}/eject", tag = "license",
    params(("kiosk" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = Written), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/kiosks/{kiosk}/eject")]
pub async fn eject_card(state: web::Data<AppState>, caller: Caller, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    caller.as_station(Role::Kiosk, &path)?;
    let kiosk = parse_id(DeviceId::new(path.clone()), &path)?;
    let write = Write { req: &req, caller: &caller, route: format!("POST /v1/kiosks/{kiosk}/eject"), body: &(), status: StatusCode::OK };
    idempotency::write(&state, write, || state.runtime.kiosk_eject(&kiosk), |_, events| Ok(Written { events: event_refs(events) })).await
}

#[utoipa::path(post, path = "/v1/players/{player}/purchases", tag = "license", request_body = Purchase,
    params(("player" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = PurchaseView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/players/{player}/purchases")]
pub async fn player_purchase(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<Purchase>,
) -> Result<HttpResponse, ApiError> {
    caller.as_station(Role::Device, &path)?;
    let player = parse_id(DeviceId::new(path.clone()), &path)?;
    buy(&state, &caller, &req, Station::player(player), &body.0).await
}

/// A purchase at a kiosk's slot or by a player: the same write, its route
/// named after the station.
async fn buy(state: &AppState, caller: &Caller, req: &HttpRequest, station: Station, body: &Purchase) -> Result<HttpResponse, ApiError> {
    let card = parse_id(CardId::new(body.card.clone()), &body.card)?;
    let content = parse_id(ContentId::new(body.content.clone()), &body.content)?;
    let purchase = purchase_id(caller, req)?;
    let answer = parse_answer(&body.answer)?;
    let route = match station.kind {
        StationKind::Kiosk => format!("POST /v1/kiosks/{}/purchases", station.device),
        StationKind::Player => format!("POST /v1/players/{}/purchases", station.device),
    };
    let intent = Intent { card: &body.card, content: Some(&body.content) };
    let write = Write { req, caller, route, body: &intent, status: StatusCode::OK };
    let limited = station.to_string();
    state.limits.card_rejections.check(&limited)?;
    let call = || state.runtime.purchase_answered(station.clone(), &card, &answer, &purchase, &content);
    idempotency::write(state, write, call, |value, events| {
        let view = purchase_view(value.map(|v| &v.outcome), events);
        if view.outcome == "card-rejected" {
            state.limits.card_rejections.record(&limited);
        }
        Ok(view)
    })
    .await
}
