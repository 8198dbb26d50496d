//! Power loss, not only kill -9 (issue 16 item 1): a child appends to a ledger
//! on the power-loss pass-through and prints each acknowledged position; the
//! parent kills it at a random moment, cuts the power (every write not yet
//! fsynced is thrown away), reopens the ledger on the backing directory and
//! checks that every acknowledged append is there, whole, and that the chain
//! verifies.
//!
//! `ENCORE_POWER_CUTS` sets the number of cuts (default 20); the run also
//! stops after `ENCORE_POWER_SECONDS` (default 120).
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use encore_faults::power::PowerLossFs;
use encore_ledger::testing::crash::{Child, Rng};
use encore_ledger::{EventId, ExpectedVersion, Ledger, LedgerOptions, NewEvent, StreamAppend, StreamId};

const CHILD_ENV: &str = "ENCORE_POWER_CHILD_DIR";
/// Several writers, so groups of appends share a sync.
const WRITERS: u64 = 8;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The child: writers append one event each to their own stream and print
/// `ack <event id> <position>` once `append` returned Ok.
#[test]
fn power_cut_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let log = Ledger::open(&dir, LedgerOptions::default()).expect("child opens log");
    println!("ready");
    let run = u128::from(std::process::id());
    let threads: Vec<_> = (0..WRITERS)
        .map(|w| {
            let log = log.clone();
            std::thread::spawn(move || {
                for seq in 0u64.. {
                    let id = (run << 96) | (u128::from(w) << 64) | u128::from(seq);
                    let event = NewEvent::new(EventId::from_u128(id), "Written", 1_000, format!("{run}/{w}/{seq}").into_bytes());
                    let append =
                        vec![StreamAppend { stream: StreamId::new(format!("writer-{w}")).unwrap(), expected: ExpectedVersion::Any, events: vec![event] }];
                    let a = log.append(append).expect("append");
                    println!("ack {id} {}", a.positions[0]);
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

#[test]
fn power_cut_loses_nothing_acknowledged() {
    if !Path::new("/dev/fuse").exists() {
        eprintln!("power-cut test skipped: no /dev/fuse on this machine");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (backing, mnt) = (dir.path().join("backing"), dir.path().join("mnt"));
    std::fs::create_dir_all(&backing).unwrap();
    std::fs::create_dir_all(&mnt).unwrap();
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("power-cut test seed {seed}");
    let mut rng = Rng(seed);
    let (cuts, budget) = (env_or("ENCORE_POWER_CUTS", 20), Duration::from_secs(env_or("ENCORE_POWER_SECONDS", 120)));
    let started = Instant::now();
    let (mut acknowledged, mut fsyncs, mut dropped, mut done) = (0usize, 0u64, 0u64, 0u64);
    let mut head = 0u64;
    for round in 0..cuts {
        if started.elapsed() > budget {
            break;
        }
        let mounted = PowerLossFs::mount(&backing, &mnt).unwrap_or_else(|e| panic!("round {round}: {e}"));
        let stats = mounted.stats();
        let log_dir = mnt.join("log");
        let child = Child { test: "power_cut_child", envs: &[(CHILD_ENV, log_dir.as_os_str())] };
        // Cut after the first ack plus a random 0-50 ms, so most cuts land mid-append.
        let delay = Duration::from_micros(rng.next_u64() % 50_000);
        let killed = child.run_and_kill(|l| l.starts_with("ack "), Duration::from_secs(60), delay);
        mounted.cut();
        assert!(!killed.ended_before_ready, "round {round}: the child exited before acknowledging anything: {:?}", killed.lines);
        let acks: Vec<(u128, u64)> = killed
            .lines
            .iter()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 3 && f[0] == "ack").then(|| (f[1].parse().unwrap(), f[2].parse().unwrap()))
            })
            .collect();
        let last = acks.iter().map(|&(_, p)| p).max().unwrap_or(0);
        let log = Ledger::open(backing.join("log"), LedgerOptions::default())
            .unwrap_or_else(|e| panic!("round {round}: the ledger does not reopen after the power cut ({} acks, last {last}): {e:?}", acks.len()));
        let new_head = log.head().position;
        assert!(new_head >= last, "round {round}: head {new_head} is behind the last acknowledged position {last}");
        for &(id, pos) in &acks {
            let record = log.read_record(pos).unwrap().unwrap_or_else(|| panic!("round {round}: acknowledged position {pos} lost"));
            assert_eq!(record.event_id.as_u128(), id, "round {round}: position {pos} holds another event");
        }
        let report = log.verify().unwrap();
        assert!(report.is_intact(), "round {round}: the chain does not verify: {:?}", report.first_problem());
        drop(log);
        acknowledged += acks.len();
        fsyncs += stats.fsyncs.load(Ordering::Relaxed);
        dropped += stats.dropped_bytes.load(Ordering::Relaxed);
        head = new_head;
        done += 1;
    }
    eprintln!(
        "power-cut test: {done} cuts in {:.1} s, {acknowledged} acknowledged appends all present, head {head}, {fsyncs} fsyncs seen, {dropped} unsynced bytes dropped",
        started.elapsed().as_secs_f64()
    );
    assert!(done > 0, "at least one power cut ran");
}
