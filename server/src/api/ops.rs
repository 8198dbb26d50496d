//! Operations: liveness, readiness (fails once the log is poisoned), metrics
//! in Prometheus text format, and the OpenAPI document. Health and metrics
//! need no token (they carry no data); the document describes every route.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use actix_web::{get, web, HttpResponse};
use utoipa::OpenApi;

use super::types::Health;
use super::AppState;

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let ledger = state.runtime.ledger();
    HttpResponse::Ok().json(Health { status: "alive".into(), head: ledger.head().position, poisoned: ledger.poisoned() })
}

#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = Health, description = "the log is poisoned or the server is stopping")))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ledger = state.runtime.ledger();
    let poisoned = ledger.poisoned();
    let stopping = state.metrics.stopping.load(Ordering::Relaxed);
    let status = match (&poisoned, stopping) {
        (Some(_), _) => "poisoned",
        (None, true) => "stopping",
        (None, false) => "ready",
    };
    let body = Health { status: status.into(), head: ledger.head().position, poisoned };
    if status == "ready" {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format 0.0.4")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let ledger = state.runtime.ledger();
    let m = &state.metrics;
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, kind: &str, value: u64| {
        let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n");
    };
    gauge("encore_log_head_position", "Position of the newest acknowledged record.", "gauge", ledger.head().position);
    gauge("encore_log_syncs_total", "Durable writes (WAL syncs) since the server started.", "counter", ledger.group_commits());
    gauge("encore_log_poisoned", "1 once a durable write failed; every later write is refused.", "gauge", u64::from(ledger.poisoned().is_some()));
    gauge("encore_live_actors", "Stream actors the runtime holds.", "gauge", state.runtime.live_actors() as u64);
    gauge("encore_auth_failures_total", "Requests with an unknown, revoked or malformed token.", "counter", m.auth_failures.load(Ordering::Relaxed));
    let _ = write!(out, "# HELP encore_http_requests_total Requests answered, by status class.\n# TYPE encore_http_requests_total counter\n");
    for (class, counter) in ["2xx", "3xx", "4xx", "5xx"].iter().zip(&m.by_class) {
        let _ = writeln!(out, "encore_http_requests_total{{class=\"{class}\"}} {}", counter.load(Ordering::Relaxed));
    }
    let _ = write!(out, "# HELP encore_http_request_seconds Time to answer a request.\n# TYPE encore_http_request_seconds histogram\n");
    let mut cumulative = 0;
    for (bound, counter) in super::LATENCY_BOUNDS_MICROS.iter().zip(&m.latency) {
        cumulative += counter.load(Ordering::Relaxed);
        let _ = writeln!(out, "encore_http_request_seconds_bucket{{le=\"{}\"}} {cumulative}", *bound as f64 / 1e6);
    }
    cumulative += m.latency[super::LATENCY_BOUNDS_MICROS.len()].load(Ordering::Relaxed);
    let _ = writeln!(out, "encore_http_request_seconds_bucket{{le=\"+Inf\"}} {cumulative}");
    let _ = writeln!(out, "encore_http_request_seconds_sum {}", m.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6);
    let _ = writeln!(out, "encore_http_request_seconds_count {cumulative}");
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(out)
}

#[get("/openapi.json")]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(super::openapi::ApiDoc::openapi())
}
