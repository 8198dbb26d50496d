//! Durable append throughput and latency with 1, 8 and 64 concurrent writers
//! (256-byte payloads, one event per append), read-all throughput, and the
//! time a writable open takes after a clean close and after a crash that
//! left a whole index tail to redo (`log/tail.rs`: 65,536 records).
//!
//! `cargo bench -p encore-ledger --bench log` (or `./x bench`). Prints a
//! table; the figures go to docs/BENCHMARKS.md by hand with the machine.
//! `ENCORE_BENCH_SECONDS` sets the time per writer count (default 5).
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use encore_ledger::{EventId, ExpectedVersion, Ledger, LedgerOptions, NewEvent, StreamAppend, StreamId};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and `cargo test --benches` probe the harness.
    }
    let seconds: u64 = std::env::var("ENCORE_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    println!("{:<10} {:>12} {:>12} {:>10} {:>10} {:>10}", "writers", "events", "events/s", "p50 us", "p99 us", "events/sync");
    let mut last_dir = None;
    for writers in [1usize, 8, 64] {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = Ledger::open(dir.path().join("log"), LedgerOptions::default()).expect("open");
        let result = run_appends(&log, writers, Duration::from_secs(seconds));
        println!(
            "{:<10} {:>12} {:>12.0} {:>10.1} {:>10.1} {:>10.1}",
            writers,
            result.events,
            result.events as f64 / result.elapsed.as_secs_f64(),
            result.p50,
            result.p99,
            result.events_per_group
        );
        last_dir = Some((dir, log));
    }
    if let Some((dir, log)) = last_dir {
        let start = Instant::now();
        let mut n = 0u64;
        for record in log.scan(1) {
            record.expect("readable");
            n += 1;
        }
        let elapsed = start.elapsed();
        println!("read-all: {n} records in {:.2} s = {:.0} records/s", elapsed.as_secs_f64(), n as f64 / elapsed.as_secs_f64());
        drop(log);
        reopen(&dir.path().join("log"), n);
    }
}

/// A clean open, then an open whose writer must index the newest 65,536
/// records again (what a crash just before the tail was due leaves).
fn reopen(path: &std::path::Path, records: u64) {
    const TAIL: u64 = 1 << 16;
    let timed = || {
        let start = Instant::now();
        let log = Ledger::open(path, LedgerOptions::default()).expect("reopen");
        let elapsed = start.elapsed();
        drop(log);
        elapsed
    };
    let clean = timed();
    encore_ledger::testing::set_indexed_position(path, records.saturating_sub(TAIL)).expect("rewind meta/indexed");
    let crashed = timed();
    let redone = records.min(TAIL);
    println!("reopen of {records} records: clean {:.1} ms, {redone} records to index again {:.1} ms", clean.as_secs_f64() * 1e3, crashed.as_secs_f64() * 1e3);
}

struct Outcome {
    events: u64,
    elapsed: Duration,
    p50: f64,
    p99: f64,
    events_per_group: f64,
}

fn run_appends(log: &Ledger, writers: usize, duration: Duration) -> Outcome {
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let payload = vec![0xA5u8; 256];
    let start = Instant::now();
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let (log, stop, total, payload) = (log.clone(), stop.clone(), total.clone(), payload.clone());
            std::thread::spawn(move || {
                let stream = StreamId::new(format!("bench-{w}")).expect("stream id");
                let mut latencies = Vec::with_capacity(1 << 16);
                let mut seq = 0u128;
                while !stop.load(Ordering::Relaxed) {
                    let event = NewEvent::new(EventId::from_u128((w as u128) << 64 | seq), "Bench", 0, payload.clone());
                    let t = Instant::now();
                    log.append(vec![StreamAppend { stream: stream.clone(), expected: ExpectedVersion::Any, events: vec![event] }]).expect("append");
                    latencies.push(t.elapsed().as_nanos() as u64);
                    seq += 1;
                }
                total.fetch_add(seq as u64, Ordering::Relaxed);
                latencies
            })
        })
        .collect();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    let mut latencies: Vec<u64> = threads.into_iter().flat_map(|t| t.join().expect("writer")).collect();
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    let pct = |p: f64| latencies.get(((latencies.len() as f64 - 1.0) * p) as usize).copied().unwrap_or(0) as f64 / 1e3;
    let events = total.load(Ordering::Relaxed);
    let groups = log.group_commits();
    Outcome { events, elapsed, p50: pct(0.50), p99: pct(0.99), events_per_group: events as f64 / groups.max(1) as f64 }
}
