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

use encore_faults::power::{cut_budget, require_fuse, PowerLossFs};
use encore_ledger::testing::crash::{Child, Rng};
use encore_ledger::{EventId, ExpectedVersion, Ledger, LedgerOptions, NewEvent, StreamAppend, StreamId};

const CHILD_ENV: &str = "ENCORE_POWER_CHILD_DIR";
/// Several writers, so groups of appends share a sync.
const WRITERS: u64 = 8;

/// The child: writers append a pair of events to two streams atomically and
/// print `ack <event id> <position of the first> <position of the second>`
/// once `append` returned Ok (the pair's ids differ in the lowest bit).
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
                    let id = (run << 96) | (u128::from(w) << 64) | (u128::from(seq) << 1);
                    let event = |part: u128| NewEvent::new(EventId::from_u128(id | part), "Pair", 1_000, format!("{run}/{w}/{seq}/{part}").into_bytes());
                    let stream = |name: String| StreamId::new(name).unwrap();
                    let appends = vec![
                        StreamAppend { stream: stream(format!("left-{}", seq % 3)), expected: ExpectedVersion::Any, events: vec![event(0)] },
                        StreamAppend { stream: stream(format!("right-{w}")), expected: ExpectedVersion::Any, events: vec![event(1)] },
                    ];
                    let a = log.append(appends).expect("append");
                    println!("ack {id} {} {}", a.positions[0], a.positions[1]);
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

/// Which files (relative to the backing root) a lying disk does not sync.
type Lies = fn(&Path) -> bool;

/// What a run of power cuts saw.
#[derive(Debug, Default)]
struct Summary {
    cuts: u64,
    acknowledged: usize,
    fsyncs: u64,
    dropped: u64,
    torn: u64,
    head: u64,
}

/// Mounts, runs the child, kills it, cuts the power and checks the reopened
/// ledger, `cuts` times or until `budget` is spent; the first failure is the error.
fn power_cuts(lying: Option<Lies>, tearing: bool, cuts: u64, budget: Duration, seed: u64) -> Result<Summary, String> {
    let dir = tempfile::tempdir().unwrap();
    let (backing, mnt) = (dir.path().join("backing"), dir.path().join("mnt"));
    std::fs::create_dir_all(&backing).unwrap();
    std::fs::create_dir_all(&mnt).unwrap();
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut summary = Summary::default();
    for round in 0..cuts {
        if started.elapsed() > budget {
            break;
        }
        let mounted = match lying {
            Some(lies) => PowerLossFs::mount_lying(&backing, &mnt, lies),
            None => PowerLossFs::mount(&backing, &mnt),
        };
        let mounted = mounted.unwrap_or_else(|e| panic!("round {round}: {e}"));
        let stats = mounted.stats();
        let log_dir = mnt.join("log");
        let child = Child { test: "power_cut_child", envs: &[(CHILD_ENV, log_dir.as_os_str())] };
        // Cut after the first ack plus a random 0-50 ms, so most cuts land mid-append.
        let delay = Duration::from_micros(rng.next_u64() % 50_000);
        let killed = child.run_and_kill(|l| l.starts_with("ack "), Duration::from_secs(60), delay);
        if tearing {
            mounted.cut_tearing(rng.next_u64());
        } else {
            mounted.cut();
        }
        if killed.ended_before_ready {
            return Err(format!("round {round}: the child exited before acknowledging anything: {:?}", killed.lines));
        }
        let acks: Vec<(u128, u64, u64)> = killed
            .lines
            .iter()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 4 && f[0] == "ack").then(|| (f[1].parse().unwrap(), f[2].parse().unwrap(), f[3].parse().unwrap()))
            })
            .collect();
        let last = acks.iter().map(|&(_, _, p)| p).max().unwrap_or(0);
        let log = Ledger::open(backing.join("log"), LedgerOptions::default())
            .map_err(|e| format!("round {round}: the ledger does not reopen after the power cut ({} acks, last {last}): {e:?}", acks.len()))?;
        let head = log.head().position;
        if head < last {
            return Err(format!("round {round}: head {head} is behind the last acknowledged position {last}"));
        }
        for &(id, left, right) in &acks {
            for (pos, id) in [(left, id), (right, id | 1)] {
                match log.read_record(pos) {
                    Ok(Some(record)) if record.event_id.as_u128() == id => {}
                    Ok(Some(_)) => return Err(format!("round {round}: position {pos} holds another event")),
                    Ok(None) => return Err(format!("round {round}: acknowledged position {pos} lost")),
                    Err(e) => return Err(format!("round {round}: reading acknowledged position {pos}: {e:?}")),
                }
            }
        }
        // Whole appends only: what this round added is pairs, each left event followed by its right one.
        let mut added = Vec::new();
        for record in log.scan(summary.head + 1) {
            added.push(record.map_err(|e| format!("round {round}: scanning the log: {e:?}"))?.event_id.as_u128());
        }
        for pair in added.chunks(2) {
            if pair.len() != 2 || pair[0] & 1 != 0 || pair[0] | 1 != pair[1] {
                return Err(format!("round {round}: a torn append at the end of the log: {pair:x?}"));
            }
        }
        let report = log.verify().map_err(|e| format!("round {round}: verify: {e:?}"))?;
        if !report.is_intact() {
            return Err(format!("round {round}: the chain does not verify: {:?}", report.first_problem()));
        }
        summary.cuts += 1;
        summary.acknowledged += acks.len();
        summary.fsyncs += stats.fsyncs.load(Ordering::Relaxed);
        summary.dropped += stats.dropped_bytes.load(Ordering::Relaxed);
        summary.torn += stats.torn_pages.load(Ordering::Relaxed);
        summary.head = head;
    }
    eprintln!(
        "power-cut test{}{}: {} cuts in {:.1} s, {} acknowledged appends all present, head {}, {} fsyncs seen, {} unsynced bytes dropped, {} unsynced pages kept",
        if lying.is_some() { " (lying disk)" } else { "" },
        if tearing { " (tearing)" } else { "" },
        summary.cuts,
        started.elapsed().as_secs_f64(),
        summary.acknowledged,
        summary.head,
        summary.fsyncs,
        summary.dropped,
        summary.torn
    );
    Ok(summary)
}

fn seed() -> u64 {
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("power-cut test seed {seed}");
    seed
}

/// Runs the cut loop on an honest disk; `tearing` lets half the unsynced pages through.
fn cuts_lose_nothing_acknowledged(tearing: bool) {
    require_fuse();
    let (cuts, budget) = cut_budget(20);
    let summary = power_cuts(None, tearing, cuts, budget, seed()).unwrap_or_else(|e| panic!("{e}"));
    assert!(summary.cuts > 0 && summary.acknowledged > 0, "at least one power cut after an acknowledged append ran: {summary:?}");
}

#[test]
fn power_cut_loses_nothing_acknowledged() {
    cuts_lose_nothing_acknowledged(false);
}

/// The same with torn cuts: a random half of each file's unsynced pages
/// reaches the disk anyway, so the log's tail holds partly written records.
#[test]
fn a_tearing_power_cut_loses_nothing_acknowledged() {
    cuts_lose_nothing_acknowledged(true);
}

/// The negative controls: on a disk whose fsync lies, the same check fails,
/// so the test above can see a lost acknowledged append. Lying about every
/// file loses RocksDB's CURRENT; lying about the write-ahead log only (`*.log`)
/// loses acknowledged appends from a log that still opens.
#[test]
fn a_lying_disk_is_caught() {
    require_fuse();
    let controls: [(&str, Lies); 2] = [("every file", |_| true), ("the write-ahead log", |p| p.extension().is_some_and(|e| e == "log"))];
    for (what, lies) in controls {
        match power_cuts(Some(lies), false, 5, Duration::from_secs(60), seed()) {
            Ok(summary) => panic!("five power cuts on a disk that ignores fsync of {what} lost nothing acknowledged: {summary:?}"),
            Err(e) => eprintln!("a disk lying about {what} is caught, as it must be: {e}"),
        }
    }
}
