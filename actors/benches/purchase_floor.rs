//! The floor under `purchases`: the same durable writes a purchase makes,
//! with no actors, no decisions and no crypto, from plain threads.
//!
//! A purchase through the actors is one atomic append of three events over
//! two streams: `Charged` on the account's stream, `LicenseIssued` and
//! `LicenseWrittenToCard` on the card's, each stream at its exact expected
//! version, with event ids derived by blake3 (as the actors derive theirs).
//! This measures that append alone, from N threads (client k owns cards
//! k, k + N, ... as in `purchases`):
//!
//! * `ledger`: `Ledger::append`, the log as the actors use it;
//! * `raw`: raw RocksDB with group commit (`encore_ledger::baseline::RawLog`):
//!   the three payloads under `stream \0 version`, nothing else.
//!
//! `cargo bench -p encore-actors --bench purchase_floor`. Environment:
//! `ENCORE_BENCH_SECONDS` (default 5), `ENCORE_BENCH_CARDS` (default 2000),
//! `ENCORE_BENCH_CLIENTS` (default `1,16,64,256`), `ENCORE_BENCH_SYSTEMS` (default
//! `ledger,raw`).
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use encore_ledger::baseline::RawLog;
use encore_ledger::{EventId, ExpectedVersion, Ledger, LedgerOptions, NewEvent, StreamAppend, StreamId};

/// Payload sizes of `Charged`, `LicenseIssued` and `LicenseWrittenToCard`
/// as the benchmark log stores them (docs/BENCHMARKS.md).
const PAYLOADS: [(&str, usize); 3] = [("Charged", 61), ("LicenseIssued", 60), ("LicenseWrittenToCard", 82)];

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let seconds = Duration::from_secs(env("ENCORE_BENCH_SECONDS", 5));
    let cards = env("ENCORE_BENCH_CARDS", 2000) as usize;
    let clients = std::env::var("ENCORE_BENCH_CLIENTS").unwrap_or_else(|_| "1,16,64,256".into());
    let systems = std::env::var("ENCORE_BENCH_SYSTEMS").unwrap_or_else(|_| "ledger,raw".into());
    println!("{:<8} {:<8} {:>12} {:>12} {:>10} {:>10}", "system", "clients", "purchases", "purchases/s", "p50 us", "p99 us");
    for clients in clients.split(',').map(|c| c.trim().parse::<usize>().expect("ENCORE_BENCH_CLIENTS: counts separated by commas")) {
        for system in systems.split(',').map(str::trim) {
            run(system, clients, cards, seconds);
        }
    }
}

/// Writes one purchase; `round` is how many purchases the card had before.
type Write = dyn Fn(usize, u64) + Send + Sync;

fn run(system: &str, clients: usize, cards: usize, duration: Duration) {
    let dir = tempfile::tempdir().expect("temp dir");
    let write: Arc<Write> = match system {
        "ledger" => ledger_writer(Ledger::open(dir.path().join("log"), LedgerOptions::default()).expect("open log")),
        _ => raw_writer(RawLog::open(dir.path().join("raw")).expect("open raw log")),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|client| {
            let (write, stop) = (write.clone(), stop.clone());
            std::thread::spawn(move || {
                let own: Vec<usize> = (client..cards).step_by(clients).collect();
                let mut latencies = Vec::new();
                let mut seq = 0usize;
                while !stop.load(Ordering::Relaxed) && !own.is_empty() {
                    let t = Instant::now();
                    write(own[seq % own.len()], (seq / own.len()) as u64);
                    latencies.push(t.elapsed().as_micros() as u64);
                    seq += 1;
                }
                latencies
            })
        })
        .collect();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    let mut latencies: Vec<u64> = threads.into_iter().flat_map(|t| t.join().expect("client thread")).collect();
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    let pct = |p: f64| latencies.get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1))).copied().unwrap_or(0);
    let n = latencies.len();
    println!("{:<8} {:<8} {:>12} {:>12.0} {:>10} {:>10}", system, clients, n, n as f64 / elapsed.as_secs_f64(), pct(0.50), pct(0.99));
}

fn ledger_writer(ledger: Ledger) -> Arc<Write> {
    Arc::new(move |card, round| {
        let key = format!("purchase:c{card}-{round}");
        let (account_stream, card_stream) = (format!("account-a{card}"), format!("card-c{card}"));
        let event = |stream: &str, version: u64, (event_type, len): (&str, usize)| {
            let id = EventId::derive("purchase floor", format!("{key}/{stream}/{version}").as_bytes());
            NewEvent::new(id, event_type, 0, vec![0xA5; len])
        };
        let appends = vec![
            StreamAppend {
                stream: StreamId::new(account_stream.clone()).expect("stream id"),
                expected: ExpectedVersion::Exact(round),
                events: vec![event(&account_stream, round + 1, PAYLOADS[0])],
            },
            StreamAppend {
                stream: StreamId::new(card_stream.clone()).expect("stream id"),
                expected: ExpectedVersion::Exact(2 * round),
                events: vec![event(&card_stream, 2 * round + 1, PAYLOADS[1]), event(&card_stream, 2 * round + 2, PAYLOADS[2])],
            },
        ];
        ledger.append(appends).expect("append");
    })
}

fn raw_writer(log: RawLog) -> Arc<Write> {
    Arc::new(move |card, round| {
        let put = |stream: String, version: u64, len: usize| {
            let mut key = stream.into_bytes();
            key.push(0);
            key.extend_from_slice(&version.to_be_bytes());
            (key, vec![0xA5; len])
        };
        let puts = vec![
            put(format!("account-a{card}"), round + 1, PAYLOADS[0].1),
            put(format!("card-c{card}"), 2 * round + 1, PAYLOADS[1].1),
            put(format!("card-c{card}"), 2 * round + 2, PAYLOADS[2].1),
        ];
        log.append(puts).expect("raw append");
    })
}
