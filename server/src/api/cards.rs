//! Carried cards (000 rule 1 and claims 7-13; 002 claims 3-5): challenge
//! tickets a kiosk or player has its card answer, the card image an
//! operator personalises a card file with, and plays players report from
//! carried cards (made offline or online), each counted once.

use actix_web::http::header::CACHE_CONTROL;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use encore_actors::Recorded;
use encore_card::{CardFile, CardLicense};
use encore_domain::ids::{CardId, ContentId, DeviceId};
use encore_domain::licensing::{ChallengeTicket, ChipResponse, LicensingEvent, PlayRefusal, PlayReport, SealedLicense, Station, TicketAnswer};
use encore_domain::Event;

use super::auth::Caller;
use super::idempotency::{self, event_refs, Write};
use super::problem::ApiError;
use super::types::*;
use super::{parse_id, parse_time, render_time, AppState, Json};
use crate::deployment::credentials::hex;
use crate::deployment::Role;

/// Bytes from hex of exactly `N` bytes, or a 400 naming the field.
fn unhex<const N: usize>(text: &str, field: &'static str) -> Result<[u8; N], ApiError> {
    let bytes = unhex_vec(text, field)?;
    bytes.try_into().map_err(|_| ApiError::bad_request("bad-hex", format!("{field} must be {N} bytes of hex")).with_value(text))
}

fn unhex_vec(text: &str, field: &'static str) -> Result<Vec<u8>, ApiError> {
    crate::deployment::credentials::unhex(text).ok_or_else(|| ApiError::bad_request("bad-hex", format!("{field} must be hex")).with_value(text))
}

/// A card's answer as the runtime takes it.
pub fn parse_answer(answer: &CardAnswer) -> Result<TicketAnswer, ApiError> {
    let ticket = ChallengeTicket::from_bytes(unhex::<24>(&answer.ticket, "ticket")?);
    let response = ChipResponse(unhex::<32>(&answer.response, "response")?);
    Ok(TicketAnswer { ticket, response })
}

/// A fresh ticket for `card` at `station`: random nonce from the OS, the runtime's clock.
fn ticket_for(state: &AppState, station: &Station, card: &CardId) -> Result<HttpResponse, ApiError> {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(|e| ApiError::internal(format!("no randomness for a challenge: {e}")))?;
    let ticket = ChallengeTicket::issue(nonce, state.runtime.now());
    let challenge = state.runtime.challenge_key().challenge(&ticket, card, station);
    let view = TicketView { ticket: hex(&ticket.to_bytes()), challenge: hex(&challenge.0), expires_at: render_time(ticket.expires_at) };
    Ok(HttpResponse::Ok().insert_header((CACHE_CONTROL, "no-store")).json(view))
}

#[utoipa::path(get, path = "/v1/kiosks/{kiosk}/challenge", tag = "license", params(("kiosk" = String, Path), ChallengeFor),
    responses((status = 200, body = TicketView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/kiosks/{kiosk}/challenge")]
pub async fn kiosk_challenge(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<ChallengeFor>,
) -> Result<HttpResponse, ApiError> {
    caller.as_station(Role::Kiosk, &path)?;
    let kiosk = parse_id(DeviceId::new(path.clone()), &path)?;
    let card = parse_id(CardId::new(query.card.clone()), &query.card)?;
    ticket_for(&state, &Station::kiosk(kiosk), &card)
}

#[utoipa::path(get, path = "/v1/players/{player}/challenge", tag = "license", params(("player" = String, Path), ChallengeFor),
    responses((status = 200, body = TicketView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/players/{player}/challenge")]
pub async fn player_challenge(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<ChallengeFor>,
) -> Result<HttpResponse, ApiError> {
    caller.as_station(Role::Device, &path)?;
    let player = parse_id(DeviceId::new(path.clone()), &path)?;
    let card = parse_id(CardId::new(query.card.clone()), &query.card)?;
    ticket_for(&state, &Station::player(player), &card)
}

#[utoipa::path(get, path = "/v1/cards/{card}/image", tag = "accounting", params(("card" = String, Path)),
    responses((status = 200, description = "the card file (application/octet-stream): the card's chip, device key included", content_type = "application/octet-stream"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/cards/{card}/image")]
pub async fn card_image(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    caller.allow(&[])?;
    let card_id = parse_id(CardId::new(path.clone()), &path)?;
    let card = state.runtime.card(&card_id).await?;
    let info = card.info().ok_or_else(|| ApiError::not_found("unknown-card", card_id.as_str()))?;
    let key = state.runtime.secrets().issuer().device_key(&card_id);
    let mut file = CardFile::personalise(card_id, info.account.clone(), info.expires_at, key);
    for (content, license) in &card.licenses {
        file.write_license(CardLicense { content: content.clone(), purchase: license.purchase.clone(), terms: license.terms, sealed: license.sealed.clone() });
    }
    let bytes = file.to_bytes().map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(HttpResponse::Ok().content_type("application/octet-stream").insert_header((CACHE_CONTROL, "no-store")).body(bytes))
}

fn refusal_name(reason: PlayRefusal) -> &'static str {
    match reason {
        PlayRefusal::NoUsesLeft => "no-uses-left",
        PlayRefusal::LicenseExpired => "license-expired",
        PlayRefusal::NotOnCard => "not-on-card",
        PlayRefusal::LicenseUnreadable => "license-unreadable",
        PlayRefusal::OutOfSequence => "out-of-sequence",
    }
}

/// What a reported play came to, from its events (a replay reads the same).
fn report_view(events: &[Recorded]) -> PlayReportView {
    let mut view = PlayReportView { outcome: "already-done".into(), reason: None, uses_left: None, events: event_refs(events) };
    for recorded in events {
        match &recorded.event {
            Event::Licensing(LicensingEvent::UseDecremented(e)) => {
                view.outcome = "recorded".into();
                view.uses_left = Some(e.terms.uses_left);
            }
            Event::Licensing(LicensingEvent::PlayRefused(e)) => {
                view.outcome = "refused".into();
                view.reason = Some(refusal_name(e.reason).into());
            }
            _ => {}
        }
    }
    view
}

#[utoipa::path(post, path = "/v1/players/{player}/plays", tag = "license", request_body = PlayReportBody,
    params(("player" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = PlayReportView, description = "recorded, or refused with its reason"), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/players/{player}/plays")]
pub async fn report_play(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<PlayReportBody>,
) -> Result<HttpResponse, ApiError> {
    caller.as_station(Role::Device, &path)?;
    let player = parse_id(DeviceId::new(path.clone()), &path)?;
    let report = PlayReport {
        card: parse_id(CardId::new(body.card.clone()), &body.card)?,
        content: parse_id(ContentId::new(body.content.clone()), &body.content)?,
        station: Station::player(player.clone()),
        played_at: parse_time(&body.played_at)?,
        sealed_after: SealedLicense(unhex_vec(&body.sealed, "sealed")?),
    };
    let write = Write { req: &req, caller: &caller, route: format!("POST /v1/players/{player}/plays"), body: &body.0, status: StatusCode::OK };
    idempotency::write(&state, write, || state.runtime.report_play(report), |_, events| Ok(report_view(events))).await
}
