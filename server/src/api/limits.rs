//! Refusal floods (issue: faults and hostile input): a station presenting
//! forged cards, or a peer guessing tokens, is slowed down before it costs
//! the log or the server anything. Each key (a station id, a peer address)
//! has a budget of refusals per minute; past it, requests are answered 429
//! with `Retry-After` and nothing is written or checked. Memory is bounded:
//! at most [`MAX_KEYS`] keys are tracked, expired windows are dropped first.
//!
//! A limit, not a rule of the domain: the domain records every rejection it
//! is asked to decide; this keeps it from being asked without end.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;

use super::problem::ApiError;

/// Card rejections (forged, unknown or expired cards) a station may cause per minute.
pub const CARD_REJECTIONS_PER_MINUTE: u32 = 30;
/// Unknown or revoked tokens one peer address may present per minute.
pub const AUTH_FAILURES_PER_MINUTE: u32 = 120;
/// Keys tracked at most per limiter.
pub const MAX_KEYS: usize = 10_000;
const WINDOW: Duration = Duration::from_secs(60);

/// A fixed one-minute window per key.
pub struct Limiter {
    what: &'static str,
    per_minute: u32,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Limiter {
    pub fn new(what: &'static str, per_minute: u32) -> Self {
        Limiter { what, per_minute, windows: Mutex::new(HashMap::new()) }
    }

    /// 429 if `key` spent its budget in the current window.
    pub fn check(&self, key: &str) -> Result<(), ApiError> {
        let windows = self.windows.lock().map_err(|_| ApiError::internal("a limiter lock is poisoned"))?;
        match windows.get(key) {
            Some((started, count)) if started.elapsed() < WINDOW && *count >= self.per_minute => {
                let wait = WINDOW.saturating_sub(started.elapsed()).as_secs().max(1);
                Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too-many-refusals",
                    format!("{} {key}: more than {} {} in a minute; retry in {wait} s", self.what, self.per_minute, self.what),
                )
                .with_value(key)
                .retry_after(wait))
            }
            _ => Ok(()),
        }
    }

    /// Counts one refusal against `key`.
    pub fn record(&self, key: &str) {
        let Ok(mut windows) = self.windows.lock() else { return };
        if windows.len() >= MAX_KEYS && !windows.contains_key(key) {
            windows.retain(|_, (started, _)| started.elapsed() < WINDOW);
            if windows.len() >= MAX_KEYS {
                return; // full of live keys: count nothing new rather than grow
            }
        }
        let entry = windows.entry(key.to_string()).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

/// The server's limiters.
pub struct Limits {
    pub card_rejections: Limiter,
    pub auth_failures: Limiter,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            card_rejections: Limiter::new("card rejections at station", CARD_REJECTIONS_PER_MINUTE),
            auth_failures: Limiter::new("unknown tokens from", AUTH_FAILURES_PER_MINUTE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_over_its_budget_is_refused_and_others_are_not() {
        let limiter = Limiter::new("refusals of", 3);
        for _ in 0..3 {
            limiter.check("k1").unwrap();
            limiter.record("k1");
        }
        let refused = limiter.check("k1").unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        limiter.check("k2").unwrap();
    }
}
