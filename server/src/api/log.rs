//! The log itself, for auditors and operators: pages of the global log, a
//! stream, a server-sent-events catch-up subscription from any position,
//! verification, and the balances projection as of a position or a time.
//! Every read runs on the blocking pool, never on a worker's event loop.

use std::time::Duration;

use actix_web::http::header::HeaderValue;
use actix_web::{get, web, HttpRequest, HttpResponse};
use encore_ledger::{Direction, Record, StreamId};
use encore_projections::{Balances, CharismaRankings, UsageHistory, UsageKind};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::Caller;
use super::problem::ApiError;
use super::types::*;
use super::{parse_time, render_time, AppState};
use crate::deployment::credentials::hex;
use crate::deployment::Role;

const MAX_PAGE: usize = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// The first position (or stream version) to return; default 1.
    pub from: Option<u64>,
    /// At most this many records (1-1000; default 100).
    pub limit: Option<usize>,
}

fn page_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit.unwrap_or(100) {
        n @ 1..=MAX_PAGE => Ok(n),
        n => Err(ApiError::bad_request("bad-limit", format!("limit must be 1-{MAX_PAGE}")).with_value(n.to_string())),
    }
}

pub fn record_view(record: &Record) -> RecordView {
    RecordView {
        position: record.position,
        stream: record.stream.as_str().to_string(),
        version: record.version,
        event_type: record.event_type.clone(),
        event_id: record.event_id.to_string(),
        recorded_at: render_time(encore_domain::Timestamp::from_micros(record.recorded_at)),
        payload_hex: hex(&record.payload),
        hash: hex(&record.hash),
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    web::block(f).await.map_err(|e| ApiError::internal(e.to_string()))?
}

fn read_error(e: encore_ledger::ReadError) -> ApiError {
    ApiError::internal(e.to_string())
}

#[utoipa::path(get, path = "/v1/log", tag = "log", params(PageQuery),
    responses((status = 200, body = RecordPage), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/log")]
pub async fn read_log(state: web::Data<AppState>, caller: Caller, query: web::Query<PageQuery>) -> Result<HttpResponse, ApiError> {
    caller.allow(&[Role::Auditor])?;
    let limit = page_limit(query.limit)?;
    let from = query.from.unwrap_or(1).max(1);
    let ledger = state.runtime.ledger().clone();
    let page = blocking(move || {
        let records = ledger.read_all(from, limit).map_err(read_error)?;
        let next = (records.len() == limit).then(|| records.last().map_or(from, |r| r.position + 1));
        Ok(RecordPage { records: records.iter().map(record_view).collect(), next, head: ledger.head().position })
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

#[utoipa::path(get, path = "/v1/streams/{stream}", tag = "log", params(("stream" = String, Path), PageQuery),
    responses((status = 200, body = RecordPage, headers(("ETag" = String, description = "the stream's version"))), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/streams/{stream}")]
pub async fn read_stream(state: web::Data<AppState>, caller: Caller, path: web::Path<String>, query: web::Query<PageQuery>) -> Result<HttpResponse, ApiError> {
    caller.allow(&[Role::Auditor])?;
    let stream = StreamId::new(path.clone()).map_err(|e| ApiError::bad_request("bad-id", e.to_string()).with_value(path.as_str()))?;
    let limit = page_limit(query.limit)?;
    let from = query.from.unwrap_or(1).max(1);
    let ledger = state.runtime.ledger().clone();
    let (page, version) = blocking(move || {
        let version = ledger.stream_version(&stream).map_err(read_error)?;
        let records = ledger.read_stream(&stream, from, Direction::Forwards, limit).map_err(read_error)?;
        let next = (records.len() == limit).then(|| records.last().map_or(from, |r| r.version + 1));
        Ok((RecordPage { records: records.iter().map(record_view).collect(), next, head: ledger.head().position }, version))
    })
    .await?;
    Ok(HttpResponse::Ok().insert_header(super::idempotency::etag(version)).json(page))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SubscribeQuery {
    /// Deliver every record after this position (default 0: from the start).
    /// A reconnecting client's `Last-Event-ID` header takes precedence.
    pub after: Option<u64>,
}

/// How long one wait for new records lasts before a keep-alive comment.
const SUBSCRIPTION_WAIT: Duration = Duration::from_secs(1);

#[utoipa::path(get, path = "/v1/log/subscribe", tag = "log", params(SubscribeQuery, ("Last-Event-ID" = Option<u64>, Header)),
    responses((status = 200, description = "text/event-stream: one `record` event per record (`id` = its position, `data` = a RecordView)"),
        (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/log/subscribe")]
pub async fn subscribe(state: web::Data<AppState>, caller: Caller, req: HttpRequest, query: web::Query<SubscribeQuery>) -> Result<HttpResponse, ApiError> {
    caller.allow(&[Role::Auditor])?;
    let resumed = req.headers().get("Last-Event-ID").and_then(|v| v.to_str().ok()).map(|v| v.trim().parse::<u64>());
    let after = match resumed {
        Some(Ok(position)) => position,
        Some(Err(_)) => return Err(ApiError::bad_request("bad-last-event-id", "Last-Event-ID must be a log position")),
        None => query.after.unwrap_or(0),
    };
    let subscription = state.runtime.ledger().subscribe(after);
    let stream = futures_util::stream::unfold(Some(subscription), |subscription| async move {
        let mut subscription = subscription?;
        let waited = web::block(move || {
            let batch = subscription.next_batch(256, SUBSCRIPTION_WAIT);
            (subscription, batch)
        })
        .await;
        let (subscription, batch) = match waited {
            Ok(done) => done,
            Err(e) => return Some((Err(std::io::Error::other(e.to_string())), None)),
        };
        match batch {
            Ok(records) if records.is_empty() => Some((Ok(web::Bytes::from_static(b": keep-alive\n\n")), Some(subscription))),
            Ok(records) => {
                let mut out = String::new();
                for record in &records {
                    let data = serde_json::to_string(&record_view(record)).unwrap_or_default();
                    out.push_str(&format!("id: {}\nevent: record\ndata: {data}\n\n", record.position));
                }
                Some((Ok(web::Bytes::from(out)), Some(subscription)))
            }
            // The log closed (shutdown): end the stream; the client resumes with Last-Event-ID.
            Err(_) => None,
        }
    });
    Ok(HttpResponse::Ok().content_type("text/event-stream").insert_header(("Cache-Control", HeaderValue::from_static("no-store"))).streaming(stream))
}

#[utoipa::path(get, path = "/v1/verify", tag = "log",
    responses((status = 200, body = VerifyView, description = "also when damage is found: `intact` says"), (status = 401, body = Problem),
        (status = 403, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/verify")]
pub async fn verify(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.allow(&[Role::Auditor])?;
    let ledger = state.runtime.ledger().clone();
    let view = blocking(move || {
        let report = ledger.verify().map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(VerifyView {
            intact: report.is_intact(),
            records: report.records,
            head: report.head.position,
            head_hash: hex(&report.head.hash),
            problems: report.problems.iter().map(ToString::to_string).collect(),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AsOfQuery {
    /// Right after the record at this position (0 = the empty log).
    pub position: Option<u64>,
    /// At this moment (RFC 3339): every record recorded at or before it.
    pub time: Option<String>,
}

/// Which moment an as-of query names: right after a position (the head when
/// neither is given), or a time.
fn moment(query: &AsOfQuery) -> Result<Result<u64, encore_domain::Timestamp>, ApiError> {
    match (&query.position, &query.time) {
        (Some(_), Some(_)) => Err(ApiError::bad_request("bad-moment", "give position or time, not both")),
        (_, Some(time)) => Ok(Err(parse_time(time)?)),
        (position, None) => Ok(Ok(position.unwrap_or(u64::MAX))),
    }
}

/// A projection replayed from zero to the moment (on the blocking pool).
async fn project<P: encore_projections::Projection + Send + 'static>(
    state: &AppState,
    query: &AsOfQuery,
) -> Result<encore_projections::Projected<P>, ApiError> {
    let moment = moment(query)?;
    let ledger = state.runtime.ledger().clone();
    blocking(move || {
        let head = ledger.head().position;
        match moment {
            Ok(position) if position > head && position != u64::MAX => {
                Err(ApiError::bad_request("bad-position", format!("the log ends at position {head}")).with_value(position.to_string()))
            }
            Ok(position) => encore_projections::as_of_position::<P>(&ledger, position.min(head)).map_err(|e| ApiError::internal(e.to_string())),
            Err(time) => encore_projections::as_of_time::<P>(&ledger, time.micros()).map_err(|e| ApiError::internal(e.to_string())),
        }
    })
    .await
}

#[utoipa::path(get, path = "/v1/projections/balances", tag = "log", params(AsOfQuery),
    responses((status = 200, body = BalancesView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/projections/balances")]
pub async fn balances(state: web::Data<AppState>, caller: Caller, query: web::Query<AsOfQuery>) -> Result<HttpResponse, ApiError> {
    caller.allow(&[Role::Auditor])?;
    let projected = project::<Balances>(&state, &query).await?;
    let accounts = projected
        .state
        .accounts()
        .map(|(id, b)| BalanceRow { account: id.to_string(), balance: b.balance.0, loaded: b.loaded.0, charged: b.charged.0, declines: b.declines })
        .collect();
    Ok(HttpResponse::Ok().json(BalancesView { position: projected.position, accounts }))
}

#[utoipa::path(get, path = "/v1/projections/usage/{account}", tag = "log", params(("account" = String, Path), AsOfQuery),
    responses((status = 200, body = UsageView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/projections/usage/{account}")]
pub async fn usage(state: web::Data<AppState>, caller: Caller, path: web::Path<String>, query: web::Query<AsOfQuery>) -> Result<HttpResponse, ApiError> {
    caller.allow(&[Role::Auditor])?;
    let account = super::parse_id(encore_domain::ids::AccountId::new(path.clone()), &path)?;
    let projected = project::<UsageHistory>(&state, &query).await?;
    let uses = projected
        .state
        .history(&account)
        .map(|u| UseRow {
            position: u.position,
            at: render_time(u.at),
            kind: match u.kind {
                UsageKind::Bought => "bought",
                UsageKind::Played => "played",
            }
            .into(),
            content: u.content.to_string(),
            station: u.station.to_string(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(UsageView { account: account.to_string(), position: projected.position, uses }))
}

#[utoipa::path(get, path = "/v1/projections/contents/{content}", tag = "log", params(("content" = String, Path), AsOfQuery),
    responses((status = 200, body = ContentUsageView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/projections/contents/{content}")]
pub async fn content_usage(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<AsOfQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.allow(&[Role::Auditor])?;
    let content = super::parse_id(encore_domain::ids::ContentId::new(path.clone()), &path)?;
    let projected = project::<UsageHistory>(&state, &query).await?;
    let used = projected.state.content(&content);
    let view = ContentUsageView {
        content: content.to_string(),
        position: projected.position,
        purchases: used.purchases,
        plays: used.plays,
        device_plays: used.device_plays,
        shares: used.shares,
    };
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(get, path = "/v1/projections/charisma", tag = "log", params(AsOfQuery),
    responses((status = 200, body = CharismaView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/projections/charisma")]
pub async fn charisma(state: web::Data<AppState>, caller: Caller, query: web::Query<AsOfQuery>) -> Result<HttpResponse, ApiError> {
    caller.allow(&[Role::Auditor])?;
    let projected = project::<CharismaRankings>(&state, &query).await?;
    let list = projected.state.charisma_list();
    let standings = projected
        .state
        .standings()
        .into_iter()
        .map(|s| StandingRow { charisma: list.contains(&s.group), group: s.group.to_string(), reliability: s.reliability, rank: s.rank })
        .collect();
    let view = CharismaView { position: projected.position, standings, charisma: list.iter().map(ToString::to_string).collect() };
    Ok(HttpResponse::Ok().json(view))
}
