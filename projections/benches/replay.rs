//! Replay and cold-start benchmark for the projections and snapshots.
//!
//! `cargo bench -p encore-projections --bench replay`. Generates a realistic
//! log (cards opened and loaded, kiosk purchases and declines, plays,
//! refunds, radio shares, device plays, favorites and purchases through them)
//! with the workload generator, seed `SEED` below, then measures in separate
//! child processes (so each peak RSS is its own):
//!
//! * `warm-up`: a first `scan` right after generation (RocksDB settling);
//! * `scan`: reading every record (RocksDB + record decode with its blake3 check);
//! * `decode`: the same plus decoding every payload into a domain event;
//! * `replay`: folding the log into all three projections (one pass);
//! * `checkpoint`: encoding and storing the result once;
//! * `actor-snapshot`: snapshotting the actor of the kiosk `kiosk0` (replayed
//!   from its stream), as the runtime does as it goes;
//! * `cold`: a kiosk's cold start: opening the store, recovering its actor and
//!   the projections from their snapshots (decode + verify against the log +
//!   empty tail), ready to sell.
//!
//! Environment: `ENCORE_BENCH_EVENTS` (default 10 000 000), `ENCORE_BENCH_DIR`
//! (keep the generated log there and reuse it on the next run).
//! Figures go to docs/BENCHMARKS.md by hand, with the machine.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Instant;

use encore_domain::ids::DeviceId;
use encore_domain::licensing::{station_stream, Station, StationLog};
use encore_domain::{Event, EventCodec};
use encore_ledger::{Direction, Ledger, LedgerOptions, StreamId};
use encore_projections::workload::{Workload, WorkloadConfig, Writer};
use encore_projections::{rebuild, AllProjections, Projected};

/// The documented seed of the benchmark log.
const SEED: u64 = 0x00E4_C0BE_4C11_2025;

fn config() -> WorkloadConfig {
    WorkloadConfig { seed: SEED, cards: 100_000, contents: 5_000, kiosks: 50, players: 500, groups: 2_000, pds_per_group: 3, ..WorkloadConfig::default() }
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    kb / 1024.0
}

fn open(path: &str) -> Ledger {
    Ledger::open(path, LedgerOptions::default()).expect("open benchmark log")
}

fn phase(name: &str, path: &str) {
    let start = Instant::now();
    match name {
        "scan" | "warm-up" => {
            let ledger = open(path);
            let mut n = 0u64;
            for record in ledger.scan(1) {
                std::hint::black_box(record.expect("record"));
                n += 1;
            }
            report(name, n, start);
        }
        "decode" => {
            let ledger = open(path);
            let mut n = 0u64;
            for record in ledger.scan(1) {
                let record = record.expect("record");
                let _ = std::hint::black_box(Event::decode_payload(&record.event_type, &record.payload));
                n += 1;
            }
            report(name, n, start);
        }
        "replay" => {
            let ledger = open(path);
            let projected = rebuild::<AllProjections>(&ledger).expect("replay");
            report(name, projected.position, start);
            println!(
                "    accounts {}, usage entries {}, groups ranked {}",
                projected.state.balances.len(),
                projected.state.usage.len(),
                projected.state.charisma.reliabilities().len()
            );
        }
        "checkpoint" => {
            let ledger = open(path);
            let projected: Projected<AllProjections> = rebuild(&ledger).expect("replay");
            let t = Instant::now();
            let bytes = projected.encode();
            let encoded = t.elapsed();
            encore_snapshots::snapshot_projection(&ledger, &projected).expect("snapshot");
            println!(
                "{name:<12} state {:.1} MiB, encode {:.0} ms, encode + hash + durable put_aux {:.0} ms",
                bytes.len() as f64 / 1048576.0,
                encoded.as_secs_f64() * 1e3,
                t.elapsed().as_secs_f64() * 1e3
            );
        }
        "actor-snapshot" => {
            // The kiosk's own actor, snapshotted at its newest event as the
            // runtime does every `snapshot_every` events.
            let ledger = open(path);
            let kiosk = kiosk_stream();
            let t = Instant::now();
            let replayed = encore_snapshots::load::<StationLog>(&ledger, &kiosk).expect("kiosk state");
            let last = ledger.read_stream(&kiosk, u64::MAX, Direction::Backwards, 1).expect("kiosk stream").pop().expect("kiosk has events");
            encore_snapshots::write_actor_snapshot(&ledger, &replayed.state, &last).expect("kiosk snapshot");
            println!("{name:<12} {kiosk}: {} events replayed and snapshotted in {:.0} ms", replayed.replayed, t.elapsed().as_secs_f64() * 1e3);
        }
        "cold" => {
            let ledger = open(path);
            let opened = start.elapsed();
            let kiosk = encore_snapshots::load::<StationLog>(&ledger, &kiosk_stream()).expect("recover the kiosk");
            assert!(kiosk.from_snapshot.is_some() && kiosk.skipped.is_empty(), "the kiosk came from its snapshot");
            let actors = start.elapsed();
            let recovered = encore_snapshots::load_projection::<AllProjections>(&ledger).expect("recover");
            assert!(recovered.from_snapshot.is_some() && recovered.skipped.is_empty(), "cold start used the snapshot");
            println!(
                "{name:<12} ready in {:.0} ms (open {:.0} ms, kiosk actor {:.0} ms, projections {:.0} ms), tail {} + {} events, peak RSS {:.0} MiB",
                start.elapsed().as_secs_f64() * 1e3,
                opened.as_secs_f64() * 1e3,
                (actors - opened).as_secs_f64() * 1e3,
                (start.elapsed() - actors).as_secs_f64() * 1e3,
                kiosk.replayed,
                recovered.replayed,
                peak_rss_mib()
            );
        }
        _ => panic!("unknown phase {name}"),
    }
}

/// The stream of the kiosk whose cold start is measured.
fn kiosk_stream() -> StreamId {
    let device = DeviceId::new("kiosk0").expect("kiosk id");
    StreamId::new(station_stream(&Station::kiosk(device))).expect("kiosk stream id")
}

fn report(name: &str, events: u64, start: Instant) {
    let s = start.elapsed().as_secs_f64();
    println!("{name:<12} {events} events in {s:.2} s = {:.2} M events/s, peak RSS {:.0} MiB", events as f64 / s / 1e6, peak_rss_mib());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--phase") {
        phase(&args[i + 1], &args[i + 2]);
        return;
    }
    let events: u64 = std::env::var("ENCORE_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = std::env::var("ENCORE_BENCH_DIR").map(std::path::PathBuf::from).unwrap_or_else(|_| temp.path().join("log"));
    let path = dir.to_str().expect("utf-8 path").to_string();
    {
        let ledger = open(&path);
        if ledger.head().position < events {
            let start = Instant::now();
            let mut writer = Writer::new(SEED);
            writer.append_batched(&ledger, Workload::new(config()), events - ledger.head().position, 8192).expect("generate");
            println!("generate     {} events in {:.1} s (seed {SEED:#x})", ledger.head().position, start.elapsed().as_secs_f64());
        }
    }
    let exe = std::env::current_exe().expect("own path");
    // The first pass after a bulk load pays for RocksDB warming up; "warm-up" is that pass.
    for name in ["warm-up", "scan", "decode", "replay", "checkpoint", "actor-snapshot", "cold"] {
        let status = Command::new(&exe).args(["--phase", name, &path]).status().expect("run phase");
        assert!(status.success(), "phase {name} failed");
    }
}
