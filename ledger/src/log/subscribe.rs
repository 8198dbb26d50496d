//! Catch-up subscriptions: everything after a position, then live appends,
//! with no gap and no duplicate.
//!
//! A subscription holds no queue of live events: it keeps a cursor and reads
//! pages from the store, waking when the head moves. A slow subscriber
//! therefore costs one page of memory, never a backlog.

use std::sync::Arc;
use std::time::Duration;

use super::{Ledger, Store};
use crate::error::ReadError;
use crate::record::Record;

const PAGE: usize = 256;

/// A cursor over the global log that waits for new records.
pub struct Subscription {
    store: Arc<Store>,
    /// The position of the last record handed out.
    cursor: u64,
    page: std::collections::VecDeque<Record>,
}

impl Ledger {
    /// Subscribes to every record after `after` (0 = from the beginning).
    pub fn subscribe(&self, after: u64) -> Subscription {
        Subscription { store: self.store().clone(), cursor: after, page: Default::default() }
    }
}

impl Subscription {
    /// The position of the last record delivered.
    pub fn position(&self) -> u64 {
        self.cursor
    }

    /// The next record, waiting up to `timeout` for one to be appended.
    /// `Ok(None)` means none came in time, or the log was closed.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<Record>, ReadError> {
        if self.page.is_empty() {
            let (head, closed) = self.store.watch.wait_past(self.cursor, timeout);
            if head.position <= self.cursor {
                return if closed { Err(ReadError::Closed) } else { Ok(None) };
            }
            self.page = self.store.read_range(self.cursor + 1, head.position, PAGE)?.into();
        }
        let record = self.page.pop_front();
        if let Some(r) = &record {
            assert_eq!(r.position, self.cursor + 1, "subscriptions deliver without gaps or duplicates");
            self.cursor = r.position;
        }
        Ok(record)
    }

    /// Up to `max` records: whatever is there now, or, if nothing is, the
    /// first records appended within `timeout`.
    pub fn next_batch(&mut self, max: usize, timeout: Duration) -> Result<Vec<Record>, ReadError> {
        let mut out = Vec::new();
        let mut wait = timeout;
        while out.len() < max {
            match self.next_timeout(wait)? {
                Some(record) => out.push(record),
                None => break,
            }
            wait = Duration::ZERO;
        }
        Ok(out)
    }
}

impl Iterator for Subscription {
    type Item = Result<Record, ReadError>;

    /// Blocks until the next record; ends when the log is closed.
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.next_timeout(Duration::from_secs(1)) {
                Ok(Some(record)) => return Some(Ok(record)),
                Ok(None) => continue,
                Err(ReadError::Closed) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
