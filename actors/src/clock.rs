//! Time for the runtime: a [`Clock`] passed in (the system clock, or a manual
//! one for tests and scenarios), seen through [`RuntimeClock`], which never
//! goes backwards and never goes behind the newest record of the log.
//!
//! A deployment on the system clock also guards against clock jumps
//! ([`ClockGuard`]): at start, a clock further ahead of the newest record
//! than `max_gap` is refused (a clock set a year ahead would expire every
//! account and card, and every record after it would carry that year); while
//! running, the system clock is compared with the time measured since the
//! start by the monotonic clock, and a jump of more than `max_skew` either
//! way is refused. Refused means commands fail with
//! [`RuntimeError::ClockJumped`](crate::RuntimeError::ClockJumped) and write
//! nothing; reads go on. Fixing the clock ends a running jump; an operator who
//! knows the new time is right restarts with the guard off for that start
//! (`encore serve --accept-clock`).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use encore_domain::Timestamp;

/// A source of time.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The wall clock (microseconds since the Unix epoch).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let micros = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX)).unwrap_or(0);
        Timestamp::from_micros(micros)
    }
}

/// A clock that only moves when told to (tests, scenarios, demos).
#[derive(Debug, Default)]
pub struct ManualClock {
    micros: AtomicI64,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        ManualClock { micros: AtomicI64::new(start.micros()) }
    }
    pub fn set(&self, at: Timestamp) {
        self.micros.store(at.micros(), Ordering::SeqCst);
    }
    pub fn advance_secs(&self, secs: i64) {
        self.micros.fetch_add(secs.saturating_mul(1_000_000), Ordering::SeqCst);
    }
    pub fn advance_days(&self, days: i64) {
        self.advance_secs(days.saturating_mul(86_400));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.micros.load(Ordering::SeqCst))
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

/// How far the clock may move on its own before commands are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockGuard {
    /// At start: how far ahead of the newest record the clock may be.
    pub max_gap: Duration,
    /// While running: how far the clock may drift from the monotonic clock's measure.
    pub max_skew: Duration,
}

impl Default for ClockGuard {
    fn default() -> Self {
        ClockGuard { max_gap: Duration::from_secs(30 * 86_400), max_skew: Duration::from_secs(300) }
    }
}

/// A clock jump the guard refused: what the clock said, and what the runtime expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockJump {
    pub now: Timestamp,
    pub expected: Timestamp,
}

struct Anchor {
    guard: ClockGuard,
    /// The source's time at start, and the monotonic instant it was read.
    system: i64,
    instant: Instant,
    /// The newest record's time at start, if the clock was too far ahead of it.
    too_far_ahead_of: Option<i64>,
}

/// The runtime's view of time: the source clock, but never earlier than any
/// time handed out before or observed in the log (so appends do not go
/// backwards in global order because a clock was set back).
pub struct RuntimeClock {
    source: Arc<dyn Clock>,
    floor: AtomicI64,
    anchor: Option<Anchor>,
}

impl RuntimeClock {
    pub fn new(source: Arc<dyn Clock>, floor: i64) -> Self {
        RuntimeClock { source, floor: AtomicI64::new(floor), anchor: None }
    }

    /// A clock guarded against jumps (see the module docs); `floor` is the newest record's time.
    pub fn guarded(source: Arc<dyn Clock>, floor: i64, guard: ClockGuard) -> Self {
        let system = source.now().micros();
        let gap = i64::try_from(guard.max_gap.as_micros()).unwrap_or(i64::MAX);
        let too_far_ahead_of = (floor > 0 && system > floor.saturating_add(gap)).then_some(floor);
        if system < floor {
            tracing::warn!(
                clock = system,
                newest_record = floor,
                "the system clock is behind the newest record; the runtime's time holds at the record's until it catches up"
            );
        }
        RuntimeClock { source, floor: AtomicI64::new(floor), anchor: Some(Anchor { guard, system, instant: Instant::now(), too_far_ahead_of }) }
    }

    /// Now, for a command that will decide and write: refused on a clock jump.
    pub fn checked_now(&self) -> Result<Timestamp, ClockJump> {
        let Some(anchor) = &self.anchor else { return Ok(self.now()) };
        let now = self.source.now().micros();
        if let Some(newest) = anchor.too_far_ahead_of {
            return Err(ClockJump { now: Timestamp::from_micros(now), expected: Timestamp::from_micros(newest) });
        }
        let elapsed = i64::try_from(anchor.instant.elapsed().as_micros()).unwrap_or(i64::MAX);
        let expected = anchor.system.saturating_add(elapsed);
        let skew = i64::try_from(anchor.guard.max_skew.as_micros()).unwrap_or(i64::MAX);
        if now.abs_diff(expected) > skew.unsigned_abs() {
            return Err(ClockJump { now: Timestamp::from_micros(now), expected: Timestamp::from_micros(expected) });
        }
        Ok(self.floored(now))
    }

    /// Now, non-decreasing across calls from every thread.
    pub fn now(&self) -> Timestamp {
        self.floored(self.source.now().micros())
    }

    /// `t`, raised to the floor, and the floor raised to it (one clock read per call).
    fn floored(&self, t: i64) -> Timestamp {
        let previous = self.floor.fetch_max(t, Ordering::SeqCst);
        Timestamp::from_micros(previous.max(t))
    }

    /// Raises the floor to a time seen in the log (after `ClockWentBackwards`).
    pub fn observe(&self, micros: i64) {
        self.floor.fetch_max(micros, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for RuntimeClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RuntimeClock(floor {})", self.floor.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guarded_clock_refuses_a_jump_either_way_and_a_start_far_ahead_of_the_log() {
        let day = 86_400_000_000;
        let manual = Arc::new(ManualClock::new(Timestamp::from_micros(100 * day)));
        let clock = RuntimeClock::guarded(manual.clone(), 99 * day, ClockGuard::default());
        assert!(clock.checked_now().is_ok());
        manual.set(Timestamp::from_micros(101 * day));
        assert_eq!(clock.checked_now().map_err(|j| j.now), Err(Timestamp::from_micros(101 * day)), "a day forward is a jump");
        manual.set(Timestamp::from_micros(99 * day));
        assert!(clock.checked_now().is_err(), "a day back is a jump too");
        manual.set(Timestamp::from_micros(100 * day));
        assert!(clock.checked_now().is_ok(), "a fixed clock is accepted again");
        let far = RuntimeClock::guarded(manual.clone(), 10 * day, ClockGuard::default());
        assert_eq!(far.checked_now().map_err(|j| j.expected), Err(Timestamp::from_micros(10 * day)), "90 days past the newest record at start");
        let empty = RuntimeClock::guarded(manual, 0, ClockGuard::default());
        assert!(empty.checked_now().is_ok(), "an empty log has no newest record to be ahead of");
    }

    #[test]
    fn the_runtime_clock_never_goes_backwards_or_behind_the_log() {
        let manual = Arc::new(ManualClock::new(Timestamp::from_micros(100)));
        let clock = RuntimeClock::new(manual.clone(), 50);
        assert_eq!(clock.now(), Timestamp::from_micros(100));
        manual.set(Timestamp::from_micros(10));
        assert_eq!(clock.now(), Timestamp::from_micros(100));
        clock.observe(500);
        assert_eq!(clock.now(), Timestamp::from_micros(500));
        manual.set(Timestamp::from_micros(900));
        assert_eq!(clock.now(), Timestamp::from_micros(900));
    }
}
