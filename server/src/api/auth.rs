//! Who is calling: the `Authorization: Bearer` token checked against the
//! credential store, then the route's roles and, for station credentials,
//! the station id the request names. No token (or an unknown or revoked
//! one) is 401; a wrong role or another station's id is 403.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, FromRequest, HttpRequest};

use super::problem::ApiError;
use super::AppState;
use crate::deployment::{Principal, Role};

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = req.app_data::<web::Data<AppState>>().ok_or_else(|| ApiError::internal("application state missing"))?;
    let header = req.headers().get(AUTHORIZATION).ok_or_else(|| ApiError::unauthorized("no bearer token (Authorization: Bearer <token>)"))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <token>`"))?;
    match state.credentials.authenticate(token.trim()) {
        Some(principal) => Ok(Caller(principal)),
        None => {
            // A peer that keeps presenting unknown tokens gets 429 instead of
            // 401 past its budget; a valid token from the same address is never held back.
            state.metrics.auth_failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let peer = req.peer_addr().map_or_else(|| "unknown peer".to_string(), |a| a.ip().to_string());
            state.limits.auth_failures.check(&peer)?;
            state.limits.auth_failures.record(&peer);
            Err(ApiError::unauthorized("unknown or revoked token"))
        }
    }
}

impl Caller {
    /// The caller's role must be one of `roles` (the operator may do everything).
    pub fn allow(&self, roles: &[Role]) -> Result<(), ApiError> {
        if self.0.role == Role::Operator || roles.contains(&self.0.role) {
            return Ok(());
        }
        Err(ApiError::forbidden(format!("credential {} has role {}, which may not do this", self.0.id, self.0.role.name())).with_value(self.0.role.name()))
    }

    /// The caller may act as station `station` with role `role`: an operator
    /// always, a station credential only as its own station.
    pub fn as_station(&self, role: Role, station: &str) -> Result<(), ApiError> {
        if self.0.role == Role::Operator {
            return Ok(());
        }
        self.allow(&[role])?;
        if self.0.station.as_deref() == Some(station) {
            return Ok(());
        }
        Err(ApiError::forbidden(format!("credential {} acts as {}, not as {station}", self.0.id, self.0.station.as_deref().unwrap_or("no station")))
            .with_value(station))
    }
}
