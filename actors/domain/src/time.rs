//! Time as the domain sees it: a value passed in, never read from a clock.

use minicbor::{Decode, Encode};

/// Microseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Encode, Decode)]
#[cbor(transparent)]
pub struct Timestamp(#[n(0)] pub i64);

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

impl Timestamp {
    pub const fn from_micros(micros: i64) -> Self {
        Timestamp(micros)
    }
    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs * MICROS_PER_SECOND)
    }
    pub const fn micros(self) -> i64 {
        self.0
    }
    /// `self + days`, saturating (a validity term never wraps around).
    pub fn plus_days(self, days: u32) -> Self {
        Timestamp(self.0.saturating_add(i64::from(days).saturating_mul(MICROS_PER_DAY)))
    }
    pub fn plus_secs(self, secs: i64) -> Self {
        Timestamp(self.0.saturating_add(secs.saturating_mul(MICROS_PER_SECOND)))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "t+{}us", self.0)
    }
}
