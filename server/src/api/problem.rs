//! Errors as RFC 9457 problems: one [`ApiError`] per refusal, with its HTTP
//! status, its kind (docs/ERRORS.md, section "The HTTP API") and the
//! offending value. A refused request wrote nothing.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use encore_actors::RuntimeError;
use encore_domain::licensing::{IssueCardError, TicketError};
use encore_ledger::AppendError;

use super::types::Problem;

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub detail: String,
    pub value: Option<String>,
    /// Seconds a client should wait before retrying (`Retry-After`), for 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError { status, kind, detail: detail.into(), value: None, retry_after: None }
    }

    pub fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }

    pub fn with_value(mut self, value: impl Into<String>) -> ApiError {
        self.value = Some(value.into());
        self
    }

    pub fn unauthorized(detail: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn bad_request(kind: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, kind, detail)
    }

    pub fn not_found(kind: &'static str, value: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, kind, format!("{value} does not exist")).with_value(value)
    }

    pub fn internal(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }

    pub fn problem(&self) -> Problem {
        Problem {
            type_uri: format!("urn:encore:problem:{}", self.kind),
            title: self.status.canonical_reason().unwrap_or("Error").to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            kind: self.kind.to_string(),
            value: self.value.clone(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.kind, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.content_type("application/problem+json");
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header(("Retry-After", seconds.to_string()));
        } else if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header(("Retry-After", "1"));
        }
        response.json(self.problem())
    }
}

/// How a runtime refusal answers over HTTP. Domain refusals of a malformed
/// command are 422 and name the command's error; a stream that moved under an
/// `If-Match` is 412; a poisoned or failing log is 503.
impl From<RuntimeError> for ApiError {
    fn from(e: RuntimeError) -> ApiError {
        let detail = e.to_string();
        let (status, kind, value) = match &e {
            RuntimeError::UnknownAccount { account } => (StatusCode::NOT_FOUND, "unknown-account", Some(account.to_string())),
            RuntimeError::IssueCard(IssueCardError::AccountNotOpen { account, .. }) => (StatusCode::NOT_FOUND, "unknown-account", Some(account.to_string())),
            RuntimeError::UnknownUser { user } => (StatusCode::NOT_FOUND, "unknown-user", Some(user.to_string())),
            RuntimeError::UnknownPurchase { purchase, .. } => (StatusCode::NOT_FOUND, "unknown-purchase", Some(purchase.to_string())),
            RuntimeError::DeviceNotInGroup { device } => (StatusCode::CONFLICT, "device-not-in-group", Some(device.to_string())),
            RuntimeError::NoCardInserted { station } => (StatusCode::CONFLICT, "no-card-inserted", Some(station.to_string())),
            RuntimeError::BadId(_) | RuntimeError::BadStream(_) => (StatusCode::BAD_REQUEST, "bad-id", None),
            RuntimeError::PreconditionFailed { stream, .. } => (StatusCode::PRECONDITION_FAILED, "precondition-failed", Some(stream.clone())),
            RuntimeError::Contention { stream, .. } => (StatusCode::CONFLICT, "contention", Some(stream.clone())),
            RuntimeError::Append(AppendError::Poisoned { .. } | AppendError::WriteFailed { .. }) => (StatusCode::SERVICE_UNAVAILABLE, "log-poisoned", None),
            RuntimeError::Append(AppendError::Closed) | RuntimeError::ShutDown | RuntimeError::ActorGone { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "shutting-down", None)
            }
            RuntimeError::Ticket(TicketError::Expired { .. }) => (StatusCode::CONFLICT, "challenge-expired", None),
            RuntimeError::Ticket(_) => (StatusCode::UNPROCESSABLE_ENTITY, "challenge-not-issued-here", None),
            RuntimeError::ClockJumped { now, .. } => (StatusCode::SERVICE_UNAVAILABLE, "clock-jumped", Some(now.to_string())),
            RuntimeError::MailboxFull { stream } => (StatusCode::SERVICE_UNAVAILABLE, "overloaded", Some(stream.clone())),
            RuntimeError::Append(_)
            | RuntimeError::StateLoad(_)
            | RuntimeError::BlockingTask { .. }
            | RuntimeError::WrongActorKind { .. }
            | RuntimeError::AlreadyAnswered { .. }
            | RuntimeError::ScopeUsedTwice => (StatusCode::INTERNAL_SERVER_ERROR, "internal", None),
            // Every other variant is the domain's refusal of a malformed command.
            _ => (StatusCode::UNPROCESSABLE_ENTITY, "refused", None),
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %detail, "request failed inside the runtime");
        }
        ApiError { status, kind, detail, value, retry_after: None }
    }
}
