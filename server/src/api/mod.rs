//! The HTTP API: thin actix-web handlers over the actor runtime. Each one
//! authenticates ([`auth`]), parses, and calls one runtime method; writes go
//! through [`idempotency`]; errors are RFC 9457 problems ([`problem`]).
//!
//! | module | routes |
//! |---|---|
//! | [`accounts`] | `/v1/accounts`, `/v1/accounts/{id}`, `/v1/accounts/{id}/loads`, `/v1/accounts/{id}/refunds`, `/v1/accounts/{id}/link`, `/v1/cards`, `/v1/cards/{id}` |
//! | [`catalogue`] | `/v1/contents`, `/v1/contents/{id}`, `/v1/contents/{id}/file` (upload and download) |
//! | [`cards`] | `/v1/kiosks/{id}/challenge`, `/v1/players/{id}/challenge`, `/v1/cards/{id}/image`, `/v1/players/{id}/plays` |
//! | [`stations`] | `/v1/kiosks/{id}/card`, `/v1/kiosks/{id}/pending`, `/v1/kiosks/{id}/purchases`, `/v1/kiosks/{id}/eject`, `/v1/players/{id}/purchases` |
//! | [`groups`] | `/v1/users`, `/v1/groups/{id}`, `/v1/groups/{id}/devices`, `/v1/groups/{id}/devices/{device}/deregister`, `/v1/groups/{id}/certificates`, `/v1/devices`, `/v1/devices/{id}`, `/v1/devices/{id}/certificates`, `/v1/devices/{id}/play`, `/v1/devices/{id}/shareable`, `/v1/devices/{id}/radio`, `/v1/devices/{id}/transmit`, `/v1/devices/{id}/receive`, `/v1/devices/{id}/favorites`, `/v1/devices/{id}/favorites/upload`, `/v1/devices/{id}/favorites/forward`, `/v1/devices/{id}/reputation/sync`, `/v1/distribution`, `/v1/distribution/policy`, `/v1/distribution/rewards` |
//! | [`log`] | `/v1/log`, `/v1/streams/{id}`, `/v1/log/subscribe` (SSE), `/v1/verify`, `/v1/projections/balances`, `/v1/projections/usage/{account}`, `/v1/projections/contents/{content}`, `/v1/projections/charisma` |
//! | [`ops`] | `/healthz`, `/readyz`, `/metrics`, `/openapi.json` |
//! | [`types`] | request and response bodies, shared with the client |
//! | [`openapi`] | the generated OpenAPI document |

pub mod accounts;
pub mod auth;
pub mod cards;
pub mod catalogue;
pub mod groups;
pub mod idempotency;
pub mod limits;
pub mod log;
pub mod openapi;
pub mod ops;
pub mod problem;
pub mod stations;
pub mod types;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::JsonPayloadError;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest};
use encore_actors::Runtime;
use encore_domain::ids::IdError;
use encore_domain::Timestamp;

use crate::deployment::contents::{ContentStore, MAX_CONTENT_FILE_BYTES};
use crate::deployment::CredentialStore;
use problem::ApiError;

/// Request bodies are JSON of at most this many bytes (413 beyond).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler shares.
pub struct AppState {
    pub runtime: Runtime,
    pub credentials: CredentialStore,
    pub contents: ContentStore,
    pub catalogue: catalogue::CatalogueIndex,
    pub limits: limits::Limits,
    pub metrics: Metrics,
}

/// Upper bounds of the latency histogram's buckets, in microseconds.
pub const LATENCY_BOUNDS_MICROS: [u64; 10] = [500, 1_000, 2_000, 5_000, 10_000, 25_000, 50_000, 100_000, 500_000, 2_000_000];

/// Counters the `/metrics` route reports.
#[derive(Default)]
pub struct Metrics {
    pub by_class: [AtomicU64; 4],
    pub latency: [AtomicU64; LATENCY_BOUNDS_MICROS.len() + 1],
    pub latency_sum_micros: AtomicU64,
    pub auth_failures: AtomicU64,
    /// Set when a shutdown signal arrived (readiness fails from then on).
    pub stopping: AtomicBool,
}

impl Metrics {
    fn record(&self, status: StatusCode, micros: u64) {
        let class = usize::from(status.as_u16() / 100).clamp(2, 5) - 2;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        let bucket = LATENCY_BOUNDS_MICROS.iter().position(|&b| micros <= b).unwrap_or(LATENCY_BOUNDS_MICROS.len());
        self.latency[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

/// JSON bodies with the API's limit, and parse failures as problems.
pub type Json<T> = web::Json<T>;

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().limit(MAX_BODY_BYTES).error_handler(|error, _req: &HttpRequest| {
        let api = match &error {
            JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body-too-large", format!("request bodies are at most {limit} bytes"))
            }
            JsonPayloadError::ContentType => ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "not-json", "the body must be application/json"),
            other => ApiError::bad_request("bad-body", other.to_string()),
        };
        api.into()
    })
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _| ApiError::bad_request("bad-query", error.to_string()).into())
}

fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|error, _| ApiError::bad_request("bad-path", error.to_string()).into())
}

/// Registers every route and the shared configuration on an `App`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(json_config())
        .app_data(query_config())
        .app_data(path_config())
        .service(accounts::open_account)
        .service(accounts::get_account)
        .service(accounts::load_money)
        .service(accounts::refund)
        .service(accounts::link_account)
        .service(accounts::issue_card)
        .service(accounts::get_card)
        .service(catalogue::list_content)
        .service(catalogue::get_content)
        .service(catalogue::catalogue)
        .service(catalogue::upload_content)
        .service(catalogue::content_file)
        .service(cards::kiosk_challenge)
        .service(cards::player_challenge)
        .service(cards::card_image)
        .service(cards::report_play)
        .service(stations::insert_card)
        .service(stations::kiosk_purchase)
        .service(stations::pending)
        .service(stations::eject_card)
        .service(stations::player_purchase)
        .service(groups::register_user)
        .service(groups::get_group)
        .service(groups::provision_device)
        .service(groups::get_device)
        .service(groups::register_device)
        .service(groups::deregister_device)
        .service(groups::issue_certificate)
        .service(groups::group_certificates)
        .service(groups::accept_certificate)
        .service(groups::play_on_device)
        .service(groups::mark_shareable)
        .service(groups::transmit)
        .service(groups::set_radio)
        .service(groups::receive)
        .service(groups::press_favorite)
        .service(groups::upload_favorites)
        .service(groups::forward_favorites)
        .service(groups::sync_reputation)
        .service(groups::get_distribution)
        .service(groups::configure_distribution)
        .service(groups::set_reward)
        .service(log::read_log)
        .service(log::read_stream)
        .service(log::subscribe)
        .service(log::verify)
        .service(log::balances)
        .service(log::usage)
        .service(log::content_usage)
        .service(log::charisma)
        .service(ops::healthz)
        .service(ops::readyz)
        .service(ops::metrics)
        .service(ops::openapi)
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(ApiError::new(StatusCode::NOT_FOUND, "no-such-route", "no route here; see /openapi.json"))
        }));
}

/// Counts every answer by status class and latency (the `/metrics` route).
pub async fn measure(req: ServiceRequest, next: Next<impl MessageBody>) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let response = next.call(req).await?;
    if let Some(state) = state {
        state.metrics.record(response.status(), started.elapsed().as_micros() as u64);
    }
    Ok(response)
}

/// Request headers may take this many bytes in all (431 beyond); actix-http
/// itself refuses more than 96 headers.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Refuses, on every route, a body over [`MAX_BODY_BYTES`] (413; also on
/// routes that take no body and so would never read it) and headers over
/// [`MAX_HEADER_BYTES`] (431).
pub async fn limit_request<B: MessageBody>(req: ServiceRequest, next: Next<B>) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let length = req.headers().get(actix_web::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let header_bytes: usize = req.headers().iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    let limit = body_limit(req.method(), req.path());
    let refusal = if length.is_some_and(|n| n > limit as u64) {
        Some(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body-too-large", format!("request bodies here are at most {limit} bytes")))
    } else if header_bytes > MAX_HEADER_BYTES {
        Some(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers-too-large",
            format!("request headers are at most {MAX_HEADER_BYTES} bytes in all"),
        ))
    } else {
        None
    };
    if let Some(refusal) = refusal {
        let response = actix_web::ResponseError::error_response(&refusal);
        return Ok(req.into_response(response).map_into_right_body());
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

/// The body limit of a route: content file uploads take files, all else JSON.
fn body_limit(method: &actix_web::http::Method, path: &str) -> usize {
    let upload = method == actix_web::http::Method::POST
        && path.strip_prefix("/v1/contents/").and_then(|rest| rest.strip_suffix("/file")).is_some_and(|id| !id.is_empty() && !id.contains('/'));
    if upload {
        MAX_CONTENT_FILE_BYTES
    } else {
        MAX_BODY_BYTES
    }
}

/// An id from the path or body, or a 400 naming it.
pub fn parse_id<T>(parsed: Result<T, IdError>, text: &str) -> Result<T, ApiError> {
    parsed.map_err(|e| ApiError::bad_request("bad-id", e.to_string()).with_value(text))
}

/// An RFC 3339 time, or a 400 naming it.
pub fn parse_time(text: &str) -> Result<Timestamp, ApiError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| Timestamp::from_micros(t.timestamp_micros()))
        .map_err(|e| ApiError::bad_request("bad-time", format!("not an RFC 3339 time: {e}")).with_value(text))
}

pub fn render_time(time: Timestamp) -> String {
    chrono::DateTime::from_timestamp_micros(time.micros())
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_else(|| time.micros().to_string())
}
