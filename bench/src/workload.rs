//! The workloads, their sizes and bounds, and one measured result row.
//!
//! Every system runs the same list; the PostgreSQL half (pgbench scripts in
//! `bench/compare.sh`) uses the same names, writer counts and sizes.

use std::time::Duration;

/// Payload bytes of every event.
pub const PAYLOAD_BYTES: usize = 256;
/// Events in the stream the stream-read workload reads.
pub const READ_STREAM_EVENTS: usize = 1000;
/// Events per page when reading the whole log.
pub const READ_ALL_PAGE: usize = 1000;
/// Stream of the stream-read workload.
pub const READ_STREAM: &str = "read-stream";

/// What one measurement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Durable appends of `n` events to the writer's own stream.
    Append { events: usize },
    /// One purchase: a new `purchase-W-K` stream (expected: no stream) and the
    /// writer's `wallet-W` stream (expected: exactly K-1), one event each,
    /// appended atomically.
    Purchase,
    /// Reading a stream of 1,000 events from version 1.
    ReadStream,
    /// Reading the whole log from the start in pages of 1,000.
    ReadAll,
}

impl Workload {
    /// The name used in result rows and by the pgbench scripts.
    pub fn name(self) -> String {
        match self {
            Workload::Append { events } => format!("append-{events}"),
            Workload::Purchase => "purchase".into(),
            Workload::ReadStream => "read-stream".into(),
            Workload::ReadAll => "read-all".into(),
        }
    }

    /// Events written or read by one operation.
    pub fn events_per_op(self) -> usize {
        match self {
            Workload::Append { events } => events,
            Workload::Purchase => 2,
            Workload::ReadStream => READ_STREAM_EVENTS,
            Workload::ReadAll => READ_ALL_PAGE,
        }
    }
}

/// How big and how long a run is.
#[derive(Debug, Clone)]
pub struct Config {
    /// Time bound of each write and stream-read measurement.
    pub duration: Duration,
    /// Count bound: most operations per writer in one measurement.
    pub max_ops_per_writer: u64,
    /// Concurrent writers for the write workloads.
    pub writers: Vec<usize>,
    /// Events in the log the read workloads read (a multiple of 1,000, at
    /// least 1,000: the 1,000-event stream is part of it).
    pub read_log_events: usize,
    /// When set, only the measurements named here (`WORKLOAD@WRITERS`).
    pub only: Option<Vec<String>>,
}

impl Config {
    /// The full run: 5 s per measurement, 1/8/64 writers, a 100,000-event log.
    pub fn full() -> Self {
        Config { duration: Duration::from_secs(5), max_ops_per_writer: 5_000_000, writers: vec![1, 8, 64], read_log_events: 100_000, only: None }
    }

    /// Tiny sizes for the smoke test: the harness runs end to end in seconds.
    /// Bounded by count (5 operations per writer); the generous time bound
    /// only stops a hung run, so the counts are exact.
    pub fn smoke() -> Self {
        Config { duration: Duration::from_secs(60), max_ops_per_writer: 5, writers: vec![1, 8, 64], read_log_events: 3_000, only: None }
    }

    /// Every measurement of a run, in order.
    pub fn plan(&self) -> Vec<(Workload, usize)> {
        let mut plan = Vec::new();
        for workload in [Workload::Append { events: 1 }, Workload::Append { events: 10 }, Workload::Purchase] {
            plan.extend(self.writers.iter().map(|&w| (workload, w)));
        }
        plan.push((Workload::ReadStream, 1));
        plan.push((Workload::ReadAll, 1));
        if let Some(only) = &self.only {
            plan.retain(|(workload, writers)| only.contains(&format!("{}@{writers}", workload.name())));
        }
        plan
    }
}

/// One measured cell: a system running a workload with some writers.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub system: String,
    pub workload: String,
    pub writers: usize,
    /// Operations done (appends, purchases, stream reads, pages).
    pub ops: u64,
    /// Events written or read.
    pub events: u64,
    pub seconds: f64,
    /// Per-operation latency percentiles, microseconds.
    pub p50_us: f64,
    pub p99_us: f64,
    /// Events per durable write (group-commit factor), where known.
    pub events_per_sync: Option<f64>,
}

impl Row {
    pub fn events_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.events as f64 / self.seconds
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_keeps_the_named_measurements_in_plan_order() {
        let mut config = Config::smoke();
        assert_eq!(config.plan().len(), 11);
        config.only = Some(vec!["purchase@8".into(), "append-10@64".into(), "read-all@7".into()]);
        assert_eq!(config.plan(), [(Workload::Append { events: 10 }, 64), (Workload::Purchase, 8)]);
    }
}
