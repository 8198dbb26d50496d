//! Durable purchases per second through the actors (charge + license in one
//! atomic append), with many cards and accounts and concurrent clients, and
//! p50/p99 latency per purchase.
//!
//! `cargo bench -p encore-actors --bench purchases`. Prints a table; the
//! figures go to docs/BENCHMARKS.md by hand with the machine.
//! `ENCORE_BENCH_SECONDS` sets the time per client count (default 5),
//! `ENCORE_BENCH_CARDS` the number of cards (default 2000),
//! `ENCORE_BENCH_CLIENTS` the client counts (default `1,16,64,256`),
//! `ENCORE_BENCH_ARBITERS` the runtime's arbiter threads (default: the
//! runtime's default).
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use encore_actors::{Runtime, RuntimeConfig, Secrets, SystemClock};
use encore_domain::ids::{AccountId, CardId, ContentId, DeviceId, PurchaseId};
use encore_domain::licensing::{PurchaseOutcome, UseCondition};
use encore_domain::Money;
use encore_ledger::{Ledger, LedgerOptions};

const CONTENTS: usize = 400;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// The allocator the `encore` binary ships with (bin/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let seconds = env("ENCORE_BENCH_SECONDS", 5);
    let cards = env("ENCORE_BENCH_CARDS", 2000) as usize;
    println!("{:<8} {:>8} {:>12} {:>12} {:>10} {:>10}", "clients", "cards", "purchases", "purchases/s", "p50 us", "p99 us");
    let clients_list = std::env::var("ENCORE_BENCH_CLIENTS").unwrap_or_else(|_| "1,16,64,256".into());
    for clients in clients_list.split(',').map(|c| c.trim().parse::<usize>().expect("ENCORE_BENCH_CLIENTS: client counts separated by commas")) {
        actix_rt::System::new().block_on(run(clients, cards, Duration::from_secs(seconds)));
    }
}

async fn run(clients: usize, cards: usize, duration: Duration) {
    let dir = tempfile::tempdir().expect("temp dir");
    let ledger = Ledger::open(dir.path().join("log"), LedgerOptions::default()).expect("open log");
    let defaults = RuntimeConfig::default();
    let config = RuntimeConfig { arbiters: env("ENCORE_BENCH_ARBITERS", defaults.arbiters as u64) as usize, ..defaults };
    let rt = Arc::new(Runtime::open(ledger.clone(), Arc::new(SystemClock), Secrets::from_seed(b"bench"), config));
    setup(&rt, cards).await;
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let (rt, stop, total) = (rt.clone(), stop.clone(), total.clone());
            actix_rt::spawn(async move {
                let mut latencies = Vec::new();
                let player = DeviceId::new("player1").expect("id");
                // Client k owns cards k, k + clients, ...: no two clients share a card.
                let own: Vec<usize> = (client..cards).step_by(clients).collect();
                let mut seq = 0usize;
                while !stop.load(Ordering::Relaxed) && !own.is_empty() {
                    let c = own[seq % own.len()];
                    let m = (seq / own.len()) % CONTENTS;
                    let chip = rt.secrets().genuine_chip(CardId::new(format!("c{c}")).expect("id"));
                    let purchase = PurchaseId::new(format!("p{client}-{seq}")).expect("id");
                    let content = ContentId::new(format!("m{m}")).expect("id");
                    let t = Instant::now();
                    let bought = rt.buy_from_player(&player, &chip, &purchase, &content).await.expect("purchase");
                    latencies.push(t.elapsed().as_micros() as u64);
                    assert!(matches!(bought.value.outcome, PurchaseOutcome::Bought { .. }), "{:?}", bought.value.outcome);
                    total.fetch_add(1, Ordering::Relaxed);
                    seq += 1;
                }
                latencies
            })
        })
        .collect();
    actix_rt::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("client"));
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    let pct = |p: f64| latencies.get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1))).copied().unwrap_or(0);
    let n = total.load(Ordering::Relaxed);
    println!("{:<8} {:>8} {:>12} {:>12.0} {:>10} {:>10}", clients, cards, n, n as f64 / elapsed.as_secs_f64(), pct(0.50), pct(0.99));
    match Arc::try_unwrap(rt) {
        Ok(rt) => rt.shutdown(),
        Err(_) => eprintln!("runtime still shared at shutdown"),
    }
}

async fn setup(rt: &Arc<Runtime>, cards: usize) {
    for m in 0..CONTENTS {
        rt.list_content(&ContentId::new(format!("m{m}")).expect("id"), Money(1), UseCondition { uses: 1, valid_days: None }).await.expect("list");
    }
    for chunk in (0..cards).collect::<Vec<_>>().chunks(256) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|&c| {
                let rt = rt.clone();
                actix_rt::spawn(async move {
                    let account = AccountId::new(format!("a{c}")).expect("id");
                    rt.open_account(&account, None, Money(1_000_000_000)).await.expect("open");
                    rt.issue_card(&CardId::new(format!("c{c}")).expect("id"), &account, None).await.expect("issue");
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("setup task");
        }
    }
}
