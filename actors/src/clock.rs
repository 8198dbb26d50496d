//! Time for the runtime: a [`Clock`] passed in (the system clock, or a manual
//! one for tests and scenarios), seen through [`RuntimeClock`], which never
//! goes backwards and never goes behind the newest record of the log.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

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
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
            .unwrap_or(0);
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

/// The runtime's view of time: the source clock, but never earlier than any
/// time handed out before or observed in the log (so appends do not go
/// backwards in global order because a clock was set back).
pub struct RuntimeClock {
    source: Arc<dyn Clock>,
    floor: AtomicI64,
}

impl RuntimeClock {
    pub fn new(source: Arc<dyn Clock>, floor: i64) -> Self {
        RuntimeClock { source, floor: AtomicI64::new(floor) }
    }

    /// Now, non-decreasing across calls from every thread.
    pub fn now(&self) -> Timestamp {
        let t = self.source.now().micros();
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
